//! The PC/SC driver: one thread that watches every desk reader pcscd
//! knows, reads the UID of each card put on one, and publishes
//! [`ReaderEvent`]s to the [`Hub`].
//!
//! The loop waits in `SCardGetStatusChange` on every reader plus the PnP
//! pseudo-reader (`\\?PnP?\Notification`), so a card arriving, a card
//! leaving and a reader plugged in or out all wake it at once. On a card's
//! arrival it connects (shared), sends GET DATA (`FF CA 00 00 00`; once
//! more with the length a `6C xx` names), names the card from its ATR and
//! disconnects leaving the card as it was.
//!
//! Failures it survives without a restart of the service:
//! - a reader that vanished between listing and waiting (`UnknownReader`):
//!   re-list;
//! - pcscd stopping or restarting: the old context never recovers
//!   (`NoService`), so it reports the readers unavailable and establishes a
//!   new context with backoff (50 ms doubling to 1 s), then re-lists;
//! - a card leaving mid-read: a `card_removed` event, and on with the loop.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pcsc::{Context, Disposition, Error, PNP_NOTIFICATION, Protocols, ReaderState, Scope, ShareMode, State};

use super::atr::card_type;
use super::debounce::Debouncer;
use super::{CardType, Hub, ReaderEvent, ReaderEventKind, UidRead, get_data};
use crate::clock::Clock;

/// How the driver is set up.
#[derive(Debug, Clone)]
pub struct PcscConfig {
    /// Watch only readers whose name starts with one of these (all when empty).
    pub include: Vec<String>,
    /// A re-read of the same card within this long of its removal is not a new tap.
    pub debounce: Duration,
}

impl Default for PcscConfig {
    fn default() -> Self {
        Self { include: Vec::new(), debounce: Duration::from_millis(300) }
    }
}

impl PcscConfig {
    fn wants(&self, name: &str) -> bool {
        self.include.is_empty() || self.include.iter().any(|p| name.starts_with(p.as_str()))
    }
}

/// Starts the driver thread. It runs until [`Hub::stop`].
pub fn spawn(config: PcscConfig, hub: Arc<Hub>, clock: Arc<dyn Clock>) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("pcsc".into()).spawn(move || Driver::new(config, hub, clock).run())
}

/// The longest wait in `SCardGetStatusChange`; bounds how late a stop is seen.
const WAIT: Duration = Duration::from_secs(1);
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

struct Driver {
    config: PcscConfig,
    hub: Arc<Hub>,
    clock: Arc<dyn Clock>,
    debounce: Debouncer,
    /// Readers watched, with the state last seen.
    known: BTreeMap<CString, State>,
    /// Whether the readers are marked unavailable (pcscd down).
    down: bool,
}

/// What the loop should do after a wait.
enum Next {
    Continue,
    Reconnect,
}

impl Driver {
    fn new(config: PcscConfig, hub: Arc<Hub>, clock: Arc<dyn Clock>) -> Self {
        let debounce = Debouncer::new(config.debounce);
        Self { config, hub, clock, debounce, known: BTreeMap::new(), down: false }
    }

    fn emit(&self, reader: &CStr, kind: ReaderEventKind, detected: Option<Instant>) {
        self.hub.publish(ReaderEvent::new(reader.to_string_lossy(), self.clock.now(), kind, detected));
    }

    fn run(mut self) {
        let mut backoff = BACKOFF_MIN;
        let mut logged = false;
        while !self.hub.stopping() {
            let ctx = match Context::establish(Scope::User) {
                Ok(c) => c,
                Err(e) => {
                    if !logged {
                        tracing::warn!(error = %e, "pcscd is not available; retrying");
                        logged = true;
                    }
                    self.mark_down();
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    continue;
                }
            };
            if logged || self.down {
                tracing::info!("connected to pcscd again");
            }
            logged = false;
            backoff = BACKOFF_MIN;
            self.session(&ctx);
        }
    }

    /// Readers are unreachable until pcscd comes back.
    fn mark_down(&mut self) {
        if !self.down {
            self.down = true;
            let names: Vec<String> = self.known.keys().map(|n| n.to_string_lossy().into_owned()).collect();
            self.hub.source_down(&names, self.clock.now());
            // What was on the readers is unknown now: a card still there when
            // pcscd returns is read again.
            for s in self.known.values_mut() {
                *s = State::UNAWARE;
            }
        }
    }

    /// Serves one pcscd context until it fails.
    fn session(&mut self, ctx: &Context) {
        let mut pnp = ReaderState::new(PNP_NOTIFICATION(), State::UNAWARE);
        let mut relist = true;
        while !self.hub.stopping() {
            if relist {
                match self.relist(ctx) {
                    Ok(()) => relist = false,
                    Err(e) if is_service_gone(e) => return self.mark_down(),
                    Err(e) => {
                        tracing::warn!(error = %e, "listing readers failed");
                        std::thread::sleep(BACKOFF_MIN);
                        continue;
                    }
                }
            }
            let mut states: Vec<ReaderState> =
                self.known.iter().map(|(n, s)| ReaderState::new(n.clone(), *s)).collect();
            states.push(ReaderState::new(PNP_NOTIFICATION(), pnp.event_state() - State::CHANGED));
            match ctx.get_status_change(WAIT, &mut states) {
                Ok(()) => {}
                Err(Error::Timeout) => continue,
                Err(Error::UnknownReader) => {
                    relist = true;
                    continue;
                }
                Err(e) if is_service_gone(e) => return self.mark_down(),
                Err(e) => {
                    tracing::warn!(error = %e, "waiting for reader events failed; reconnecting");
                    return self.mark_down();
                }
            }
            let detected = Instant::now();
            if let Some(p) = states.pop() {
                if p.event_state().contains(State::CHANGED) {
                    relist = true;
                }
                pnp = p;
            }
            for st in &states {
                if let Next::Reconnect = self.changed(ctx, st, detected) {
                    return self.mark_down();
                }
                if st.event_state().intersects(State::UNKNOWN | State::IGNORE) {
                    relist = true;
                }
            }
        }
    }

    /// Re-lists the readers, reporting the ones that appeared and vanished.
    fn relist(&mut self, ctx: &Context) -> Result<(), Error> {
        let now: Vec<CString> = match ctx.list_readers_owned() {
            Ok(v) => v,
            Err(Error::NoReadersAvailable) => Vec::new(),
            Err(e) => return Err(e),
        };
        let now: Vec<CString> = now.into_iter().filter(|n| self.config.wants(&n.to_string_lossy())).collect();
        let gone: Vec<CString> = self.known.keys().filter(|k| !now.contains(k)).cloned().collect();
        for g in gone {
            self.known.remove(&g);
            self.debounce.forget(&g.to_string_lossy());
            self.emit(&g, ReaderEventKind::ReaderRemoved, None);
        }
        for n in now {
            if !self.known.contains_key(&n) || self.down {
                self.emit(&n, ReaderEventKind::ReaderAdded, None);
            }
            self.known.entry(n).or_insert(State::UNAWARE);
        }
        self.down = false;
        Ok(())
    }

    /// Handles one reader's wake-up.
    fn changed(&mut self, ctx: &Context, st: &ReaderState, detected: Instant) -> Next {
        let name = st.name();
        let before = self.known.get(name).copied().unwrap_or(State::UNAWARE);
        let after = st.event_state();
        if !after.contains(State::CHANGED) && before != State::UNAWARE {
            return Next::Continue;
        }
        self.known.insert(name.to_owned(), after - State::CHANGED);
        let was_present = before.contains(State::PRESENT);
        let is_present = after.contains(State::PRESENT);
        // The upper 16 bits count card events: a card swapped between two
        // polls shows as a new count with PRESENT still set.
        let new_card = is_present && (!was_present || event_count(before) != event_count(after));
        if was_present && (!is_present || new_card) {
            self.debounce.removed(&name.to_string_lossy(), detected);
            if !is_present {
                self.emit(name, ReaderEventKind::CardRemoved, Some(detected));
            }
        }
        if new_card {
            let ty = card_type(st.atr());
            if after.contains(State::MUTE) {
                self.emit(name, unreadable("card_mute", Some(ty)), Some(detected));
                return Next::Continue;
            }
            return match read_uid(ctx, name) {
                Ok(UidRead::Uid(uid)) => {
                    if self.debounce.tap(&name.to_string_lossy(), uid, detected) {
                        self.emit(name, ReaderEventKind::Tap { uid, card_type: ty, raw: None }, Some(detected));
                    }
                    Next::Continue
                }
                Ok(UidRead::Random(_)) => {
                    self.emit(name, unreadable("random_uid", Some(ty)), Some(detected));
                    Next::Continue
                }
                Ok(UidRead::Unavailable | UidRead::RetryWithLe(_)) => {
                    self.emit(name, unreadable("uid_unavailable", Some(ty)), Some(detected));
                    Next::Continue
                }
                Ok(UidRead::NoAnswer) => {
                    self.emit(name, unreadable("card_removed", Some(ty)), Some(detected));
                    Next::Continue
                }
                Ok(UidRead::Broken) => {
                    self.emit(name, unreadable("reader_error", Some(ty)), Some(detected));
                    Next::Continue
                }
                Err(e) if is_service_gone(e) => Next::Reconnect,
                Err(e) => {
                    let code = if is_card_gone(e) { "card_removed" } else { "reader_error" };
                    tracing::info!(error = %e, code, "a card could not be read");
                    self.emit(name, unreadable(code, Some(ty)), Some(detected));
                    Next::Continue
                }
            };
        }
        Next::Continue
    }
}

fn unreadable(code: &'static str, card_type: Option<CardType>) -> ReaderEventKind {
    ReaderEventKind::Unreadable { code, card_type }
}

fn event_count(s: State) -> u64 {
    (s.bits() >> 16) & 0xFFFF
}

fn is_service_gone(e: Error) -> bool {
    matches!(e, Error::NoService | Error::ServiceStopped | Error::InvalidHandle | Error::CommError)
}

fn is_card_gone(e: Error) -> bool {
    matches!(
        e,
        Error::RemovedCard
            | Error::ResetCard
            | Error::NoSmartcard
            | Error::NotTransacted
            | Error::UnpoweredCard
            | Error::UnresponsiveCard
    )
}

/// Connects to the card on `reader` and reads its UID with GET DATA.
fn read_uid(ctx: &Context, reader: &CStr) -> Result<UidRead, Error> {
    let card = ctx.connect(reader, ShareMode::Shared, Protocols::ANY)?;
    let mut buf = [0u8; 258];
    let mut read = get_data::interpret_get_data(card.transmit(&get_data::GET_UID, &mut buf)?);
    if let UidRead::RetryWithLe(le) = read {
        let mut apdu = get_data::GET_UID;
        apdu[4] = le;
        read = get_data::interpret_get_data(card.transmit(&apdu, &mut buf)?);
    }
    // Leave the card as it was; a failed disconnect (card gone) is harmless.
    let _ = card.disconnect(Disposition::LeaveCard);
    Ok(read)
}
