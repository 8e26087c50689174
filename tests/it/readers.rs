//! The PC/SC driver through the real stack: `pcsc` crate → libpcsclite →
//! pcscd → the vsmartcard vpcd driver → a hw-sim virtual card.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hw_sim::card::{CardModel, VirtualCard};
use hw_sim::client::InsertedCard;
use hw_sim::pcscd;
use idms::clock::SystemClock;
use idms::readers::pcsc::{self, PcscConfig};
use idms::readers::{CardType, Hub, Published, ReaderEventKind};

/// The driver watching only `reader`, and a receiver of its events.
pub struct Watch {
    pub hub: Arc<Hub>,
    pub rx: tokio::sync::broadcast::Receiver<Arc<Published>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watch {
    pub fn start(reader: &str) -> Self {
        Self::start_many(&[reader.to_owned()])
    }

    /// The driver watching these readers, each listed.
    pub fn start_many(readers: &[String]) -> Self {
        let hub = Arc::new(Hub::default());
        let rx = hub.subscribe();
        let config = PcscConfig { include: readers.to_vec(), ..PcscConfig::default() };
        let thread = pcsc::spawn(config, hub.clone(), Arc::new(SystemClock)).unwrap();
        let mut w = Self { hub, rx, thread: Some(thread) };
        for _ in readers {
            w.next(|k| matches!(k, ReaderEventKind::ReaderAdded), "the readers to be listed");
        }
        w
    }

    /// Waits (up to 10 s) for the next event matching `want`, skipping others.
    pub fn next(&mut self, want: impl Fn(&ReaderEventKind) -> bool, what: &str) -> Arc<Published> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut skipped = Vec::new();
        loop {
            match self.rx.try_recv() {
                Ok(p) if want(&p.event.kind) => return p,
                Ok(p) => skipped.push(p.event.kind.clone()),
                Err(tokio::sync::broadcast::error::TryRecvError::Empty) => {
                    assert!(Instant::now() < deadline, "no event within 10 s: waited for {what}; saw {skipped:?}");
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) => panic!("event stream broke: {e}"),
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.hub.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn tap_kind(k: &ReaderEventKind) -> bool {
    matches!(k, ReaderEventKind::Tap { .. } | ReaderEventKind::Unreadable { .. })
}

#[test]
fn taps_of_every_card_model_are_read_through_pcscd() {
    let lease = pcscd::lease().unwrap();
    let mut w = Watch::start(&lease.name());
    let cases = [
        (CardModel::MifareClassic1k, &[0x04, 0xA1, 0xB2, 0xC3][..], CardType::MifareClassic1k),
        (CardModel::Ultralight, &[0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66][..], CardType::MifareUltralight),
        (CardModel::Desfire, &[0x04, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76][..], CardType::Desfire),
    ];
    for (model, uid, ty) in cases {
        let card = InsertedCard::insert(lease.addr(), VirtualCard::new(model, uid)).unwrap();
        let p = w.next(tap_kind, "a tap");
        assert_eq!(p.event.reader, lease.name());
        match &p.event.kind {
            ReaderEventKind::Tap { uid: got, card_type, .. } => {
                assert_eq!(got.as_bytes(), uid, "{model:?}");
                assert_eq!(*card_type, ty, "{model:?}");
            }
            other => panic!("{model:?}: expected a tap, got {other:?}"),
        }
        card.remove().unwrap();
        w.next(|k| matches!(k, ReaderEventKind::CardRemoved), "the removal");
    }
}

#[test]
fn random_uid_and_no_get_data_cards_are_reported_not_read() {
    let lease = pcscd::lease().unwrap();
    let mut w = Watch::start(&lease.name());
    for (model, uid, code) in [
        (CardModel::RandomUid, &[0x08, 0x12, 0x34, 0x56][..], "random_uid"),
        (CardModel::NoGetData, &[0x04, 0x01, 0x02, 0x03][..], "uid_unavailable"),
        (CardModel::VanishMidApdu, &[0x04, 0x05, 0x06, 0x07][..], "card_removed"),
    ] {
        let card = InsertedCard::insert(lease.addr(), VirtualCard::new(model, uid)).unwrap();
        let p = w.next(tap_kind, &format!("a read of {model:?}"));
        assert!(
            matches!(&p.event.kind, ReaderEventKind::Unreadable { code: c, .. } if *c == code),
            "{model:?}: {:?}",
            p.event.kind
        );
        drop(card);
        w.next(|k| matches!(k, ReaderEventKind::CardRemoved), "the removal");
    }
    // The driver goes on serving the reader: a good card is read next.
    let _card =
        InsertedCard::insert(lease.addr(), VirtualCard::new(CardModel::MifareClassic1k, &[4, 9, 8, 7])).unwrap();
    let p = w.next(tap_kind, "a tap after the faults");
    assert!(matches!(p.event.kind, ReaderEventKind::Tap { .. }), "{:?}", p.event.kind);
}

#[test]
fn a_card_yanked_mid_apdu_on_one_reader_does_not_disturb_another() {
    let (a, b) = (pcscd::lease().unwrap(), pcscd::lease().unwrap());
    let mut w = Watch::start_many(&[a.name(), b.name()]);
    // A card sits on B while A's card vanishes in the middle of the read.
    let on_b =
        InsertedCard::insert(b.addr(), VirtualCard::new(CardModel::Desfire, &[0x04, 0xB, 0xB, 0xB, 0xB, 0xB, 0xB]))
            .unwrap();
    let p = w.next(tap_kind, "B's tap");
    assert_eq!(p.event.reader, b.name());
    let yanked =
        InsertedCard::insert(a.addr(), VirtualCard::new(CardModel::VanishMidApdu, &[0x04, 0xA, 0xA, 0xA])).unwrap();
    let p = w.next(tap_kind, "A's failed read");
    assert_eq!(p.event.reader, a.name());
    assert!(matches!(p.event.kind, ReaderEventKind::Unreadable { code: "card_removed", .. }), "{:?}", p.event.kind);
    assert!(!yanked.in_field(), "the card left the field");
    drop(yanked);
    let p = w.next(|k| matches!(k, ReaderEventKind::CardRemoved), "A's removal");
    assert_eq!(p.event.reader, a.name());
    // B is read again after its card is swapped (pcscd must see the old one
    // go first: a swap within one 400 ms poll is no change to it), and A
    // reads a good card.
    drop(on_b);
    let p = w.next(|k| matches!(k, ReaderEventKind::CardRemoved), "B's removal");
    assert_eq!(p.event.reader, b.name());
    let _b2 =
        InsertedCard::insert(b.addr(), VirtualCard::new(CardModel::MifareClassic1k, &[0x04, 0xB, 0xB, 0x2])).unwrap();
    let _a2 =
        InsertedCard::insert(a.addr(), VirtualCard::new(CardModel::MifareClassic1k, &[0x04, 0xA, 0xA, 0x2])).unwrap();
    let mut readers = Vec::new();
    while readers.len() < 2 {
        let p = w.next(tap_kind, "the next taps");
        assert!(matches!(p.event.kind, ReaderEventKind::Tap { .. }), "{:?}", p.event.kind);
        readers.push(p.event.reader.clone());
    }
    readers.sort();
    let mut want = vec![a.name(), b.name()];
    want.sort();
    assert_eq!(readers, want);
}
