//! Tap latency through the real stack (`make bench-tap`): from the moment
//! pcscd reports a card present (the driver's `SCardGetStatusChange`
//! returns) to the tap arriving at an SSE client of `GET
//! /api/v1/readers/events`, over TAPS taps (default 200) of hw-sim cards.
//! pcscd's own detection (card connected → pcscd reports it, dominated by
//! its 400 ms presence poll) is measured and reported separately.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hw_sim::card::{CardModel, VirtualCard};
use hw_sim::client::InsertedCard;
use hw_sim::pcscd;
use idms::api::{AppState, router};
use idms::clock::SystemClock;
use idms::readers::ReaderEventKind;
use idms::readers::pcsc::{self, PcscConfig};
use idms::store::{Actor, Role, Store};

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let taps: usize = std::env::var("TAPS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let lease = pcscd::lease().expect("pcscd with the virtual readers (make deps installs pcscd and vsmartcard-vpcd)");
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::create(&dir.path().join("idms.db"), Arc::new(SystemClock)).unwrap());
    let (_, token) = store.create_token(&Actor::staff("bench"), "bench", Role::Enroller, None).unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let (addr, state) = rt.block_on(async {
        let state = AppState::open(store.clone(), dir.path(), 1024, Duration::ZERO).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = router(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (addr, state)
    });
    let hub = state.readers.clone();
    // When the driver learned of each event, by sequence number.
    // When the driver learned of each event, and when it was published, by sequence number.
    let detected: Arc<Mutex<HashMap<u64, (Instant, Instant)>>> = Arc::default();
    let mut rx = hub.subscribe();
    {
        let detected = detected.clone();
        std::thread::spawn(move || {
            while let Ok(p) = rx.blocking_recv() {
                if let Some(d) = p.event.detected {
                    detected.lock().unwrap().insert(p.seq, (d, Instant::now()));
                }
            }
        });
    }
    let config = PcscConfig { include: vec![lease.name()], ..PcscConfig::default() };
    let _driver = pcsc::spawn(config, hub.clone(), Arc::new(SystemClock)).unwrap();
    while !hub.has_reader(&lease.name()) {
        std::thread::sleep(Duration::from_millis(10));
    }

    // The SSE client: a plain HTTP/1.1 connection, each tap's arrival time.
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    sock.set_nodelay(true).unwrap();
    write!(sock, "GET /api/v1/readers/events HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n")
        .unwrap();
    let (tx, arrivals) = std::sync::mpsc::channel::<(Instant, u64)>();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(sock);
        let mut line = String::new();
        let mut is_tap = false;
        loop {
            line.clear();
            if lines.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let now = Instant::now();
            if line.starts_with("event: ") {
                is_tap = line.trim_end() == "event: tap";
            } else if let Some(id) = line.strip_prefix("id: ")
                && is_tap
            {
                let _ = tx.send((now, id.trim().parse().unwrap()));
            }
        }
    });

    let (mut to_sse, mut pcscd_poll, mut reading) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..taps {
        let uid = [0x04, 0xB0, (i >> 8) as u8, i as u8];
        let inserted_at = Instant::now();
        let card = InsertedCard::insert(lease.addr(), VirtualCard::new(CardModel::MifareClassic1k, &uid)).unwrap();
        let (arrived, seq) = arrivals.recv_timeout(Duration::from_secs(10)).expect("the tap on the SSE stream");
        let (d, published) = *detected.lock().unwrap().get(&seq).expect("the driver's detection time");
        to_sse.push(arrived.duration_since(d));
        reading.push(published.duration_since(d));
        pcscd_poll.push(d.duration_since(inserted_at));
        // Wait until pcscd has seen the card go before the next tap.
        let mut removed = hub.subscribe();
        card.remove().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match removed.try_recv() {
                Ok(p) if matches!(p.event.kind, ReaderEventKind::CardRemoved) => break,
                Ok(_) => {}
                Err(_) => {
                    assert!(Instant::now() < deadline, "the removal was not seen");
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        }
    }
    to_sse.sort();
    pcscd_poll.sort();
    reading.sort();
    println!("tap latency over {taps} taps (hw-sim card → vpcd → pcscd → idms driver → SSE client):");
    println!(
        "  pcscd reports present → SSE client has the tap: median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(pct(&to_sse, 0.5)),
        ms(pct(&to_sse, 0.99)),
        ms(*to_sse.last().unwrap())
    );
    println!(
        "    of which reading the UID (connect, GET DATA, disconnect through pcscd): median {:.2} ms, p99 {:.2} ms",
        ms(pct(&reading, 0.5)),
        ms(pct(&reading, 0.99))
    );
    println!(
        "  card connected → pcscd reports present (pcscd's poll, not ours): median {:.0} ms, p99 {:.0} ms",
        ms(pct(&pcscd_poll, 0.5)),
        ms(pct(&pcscd_poll, 0.99))
    );
    hub.stop();
    drop(state);
    rt.shutdown_timeout(Duration::from_secs(1));
}
