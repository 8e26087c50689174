//! The control panel of one OSDP line, without I/O: it says which frame to
//! send next, takes the frames that come back, and notices timeouts. The
//! driver thread (`super::line`), `idms osdp` and the benchmarks all run
//! this one state machine over a real port.
//!
//! Per PD: `ID`, then `CAP`, then online — queued commands first (door
//! feedback, encoder requests), else `POLL`, at most once per poll
//! interval. A command without a valid reply in [`REPLY_TIMEOUT`] is sent
//! again with the same sequence number (the PD replays its answer if it had
//! sent one); a PD with no valid reply for [`OFFLINE_AFTER`] is offline,
//! its queue fails, and it is asked for its `ID` again, with sequence 0,
//! once every [`RETRY_OFFLINE`]. Only a reply from the addressed PD with the
//! command's sequence number counts: a late or replayed answer to an
//! earlier command is dropped, so a card read is reported once.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use firmware_protocol::codes::{CardRead, Command, CpSequence, NakCode, Reply};
use firmware_protocol::packet::{MARK, Packet, Repr};
use firmware_protocol::payloads::{Capability, PdId, capabilities};

/// How long the CP waits for a reply (OSDP: 200 ms).
pub const REPLY_TIMEOUT: Duration = Duration::from_millis(200);
/// A PD with no valid reply for this long is offline (OSDP: 8 s).
pub const OFFLINE_AFTER: Duration = Duration::from_secs(8);
/// How often an offline PD is asked again.
pub const RETRY_OFFLINE: Duration = Duration::from_secs(1);
/// The most command data this CP sends in one frame.
pub const MAX_DATA: usize = 1024;
/// Commands sent to one PD in a row before the next PD's turn.
const BURST: u32 = 4;

/// A command waiting for its turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Command code.
    pub code: u8,
    /// Its data.
    pub data: Vec<u8>,
    /// Set when the sender waits for the reply ([`Event::Reply`] /
    /// [`Event::Failed`] carry it back).
    pub tag: Option<u64>,
}

impl Outgoing {
    /// A command nobody waits for.
    #[must_use]
    pub fn new(code: Command, data: &[u8]) -> Self {
        Self { code: code.into(), data: data.to_vec(), tag: None }
    }
}

/// What the line reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The PD answered `ID` and `CAP`.
    Online {
        /// Its address.
        address: u8,
        /// Who it is.
        id: PdId,
        /// What it can do.
        capabilities: Vec<Capability>,
    },
    /// No valid reply for [`OFFLINE_AFTER`].
    Offline {
        /// Its address.
        address: u8,
    },
    /// A card was read (`RAW`).
    CardRead {
        /// Its address.
        address: u8,
        /// The reader on the PD.
        reader: u8,
        /// 0 raw, 1 Wiegand.
        format: u8,
        /// Bit count.
        bits: u16,
        /// The bits, MSB first.
        data: Vec<u8>,
    },
    /// The reply to a tagged command.
    Reply {
        /// Its address.
        address: u8,
        /// The command's tag.
        tag: u64,
        /// Reply code.
        code: u8,
        /// Reply data.
        data: Vec<u8>,
    },
    /// A tagged command will not be answered (the PD went offline).
    Failed {
        /// The command's tag.
        tag: u64,
    },
    /// The PD refused an untagged command.
    Nak {
        /// Its address.
        address: u8,
        /// The command.
        command: u8,
        /// The NAK code.
        code: u8,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Identify,
    Capabilities,
    Online,
}

#[derive(Debug)]
struct Pd {
    address: u8,
    seq: CpSequence,
    phase: Phase,
    /// The last valid reply, or when we started asking.
    heard: Instant,
    /// When this PD may be sent its next command.
    due: Instant,
    id: Option<PdId>,
    queue: VecDeque<Outgoing>,
    /// A command that timed out, to send again (same sequence number).
    retry: Option<Inflight>,
}

impl Pd {
    fn online(&self) -> bool {
        self.phase == Phase::Online
    }
}

#[derive(Debug)]
struct Inflight {
    pd: usize,
    code: u8,
    data: Vec<u8>,
    tag: Option<u64>,
    sequence: u8,
    frame: Vec<u8>,
    sent: Instant,
}

/// Counters for status pages and benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Commands sent (retries included).
    pub sent: u64,
    /// Valid replies taken.
    pub replies: u64,
    /// Commands sent again after a timeout or a NAK for a bad check.
    pub retries: u64,
    /// Frames dropped: corrupted, stale, or another PD's.
    pub dropped: u64,
    /// Polls completed.
    pub polls: u64,
}

/// The control panel of one line.
#[derive(Debug)]
pub struct Bus {
    pds: Vec<Pd>,
    turn: usize,
    burst: u32,
    inflight: Option<Inflight>,
    poll_interval: Duration,
    crc: bool,
    stats: Stats,
}

impl Bus {
    /// A CP for PDs at `addresses`, polling each at most every `poll_interval`.
    #[must_use]
    pub fn new(addresses: &[u8], poll_interval: Duration, now: Instant) -> Self {
        let pds = addresses
            .iter()
            .map(|&address| Pd {
                address,
                seq: CpSequence::default(),
                phase: Phase::Identify,
                heard: now,
                due: now,
                id: None,
                queue: VecDeque::new(),
                retry: None,
            })
            .collect();
        Self { pds, turn: 0, burst: 0, inflight: None, poll_interval, crc: true, stats: Stats::default() }
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Whether the PD at `address` is online.
    #[must_use]
    pub fn is_online(&self, address: u8) -> bool {
        self.pds.iter().any(|p| p.address == address && p.online())
    }

    /// Queues a command for a PD: `front` puts it before everything else
    /// (door feedback). Returns it back if the PD is unknown or offline.
    pub fn enqueue(&mut self, address: u8, cmd: Outgoing, front: bool) -> Result<(), Outgoing> {
        let fits = cmd.data.len() <= MAX_DATA;
        let Some(pd) = self.pds.iter_mut().find(|p| p.address == address && p.online() && fits) else {
            return Err(cmd);
        };
        if front {
            pd.queue.push_front(cmd);
        } else {
            pd.queue.push_back(cmd);
        }
        Ok(())
    }

    /// The port was lost or reopened: every PD starts again from `ID`.
    pub fn restart(&mut self, now: Instant, events: &mut Vec<Event>) {
        self.inflight = None;
        for i in 0..self.pds.len() {
            self.go_offline(i, now, events);
            self.pds[i].due = now;
        }
    }

    /// When something is due next: the reply deadline, or the next PD's turn.
    #[must_use]
    pub fn deadline(&self) -> Option<Instant> {
        match &self.inflight {
            Some(f) => Some(f.sent + REPLY_TIMEOUT),
            None => self.pds.iter().map(|p| p.due).min(),
        }
    }

    /// The next frame to send, written into `out` (cleared first). `None`
    /// while a reply is awaited or no PD is due.
    pub fn next_frame(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        if self.inflight.is_some() || self.pds.is_empty() {
            return false;
        }
        // The PD whose turn it is keeps it for a short burst of queued commands.
        let stay = self.burst > 0 && self.burst < BURST && !self.pds[self.turn].queue.is_empty();
        let n = self.pds.len();
        let pick =
            if stay { Some(self.turn) } else { (1..=n).map(|k| (self.turn + k) % n).find(|&i| self.pds[i].due <= now) };
        let Some(i) = pick else { return false };
        if !stay {
            self.burst = 0;
        }
        self.turn = i;
        self.burst += 1;
        let pd = &mut self.pds[i];
        if let Some(mut f) = pd.retry.take() {
            out.clone_from(&f.frame);
            f.sent = now;
            self.inflight = Some(f);
            self.stats.retries += 1;
            self.stats.sent += 1;
            return true;
        }
        let (code, data, tag) = match pd.phase {
            Phase::Identify => (Command::Id.into(), vec![0u8], None),
            Phase::Capabilities => (Command::Cap.into(), vec![0u8], None),
            Phase::Online => match pd.queue.pop_front() {
                Some(c) => (c.code, c.data, c.tag),
                None => (Command::Poll.into(), Vec::new(), None),
            },
        };
        let sequence = pd.seq.current();
        out.clear();
        out.push(MARK);
        let repr = Repr {
            address: pd.address,
            reply: false,
            sequence,
            crc: self.crc,
            security_block: None,
            code,
            data: &data,
            mac: None,
        };
        out.resize(1 + repr.frame_len(), 0);
        if repr.emit(&mut out[1..]).is_err() {
            // Unreachable: `enqueue` refuses data that cannot be framed.
            out.clear();
            return false;
        }
        self.inflight = Some(Inflight { pd: i, code, data, tag, sequence, frame: out.clone(), sent: now });
        self.stats.sent += 1;
        true
    }

    /// A frame from the line (starting at SOM, already checked or not).
    pub fn on_frame(&mut self, now: Instant, frame: &[u8], events: &mut Vec<Event>) {
        let Ok(packet) = Packet::new_checked(frame) else {
            self.stats.dropped += 1;
            return;
        };
        let Some(f) = &self.inflight else {
            self.stats.dropped += 1;
            return;
        };
        let pd = &self.pds[f.pd];
        if !packet.is_reply() || packet.address() != pd.address || packet.sequence() != f.sequence {
            self.stats.dropped += 1;
            return;
        }
        let Some(f) = self.inflight.take() else { return };
        let (code, data) = (packet.code(), packet.data());
        // A NAK for a bad check or a sequence error: the command was not
        // taken. Retry it, or start the PD over.
        if code == u8::from(Reply::Nak) {
            match data.first().copied().map(NakCode::try_from) {
                Some(Ok(NakCode::BadCheck)) => {
                    // Not taken: sent again on the PD's next turn, as after a timeout.
                    let pd = &mut self.pds[f.pd];
                    pd.due = now;
                    pd.retry = Some(f);
                    self.burst = 0;
                    return;
                }
                Some(Ok(NakCode::Sequence)) => {
                    // Out of step (the PD restarted): start again at 0 with the same command.
                    let pd = &mut self.pds[f.pd];
                    pd.heard = now;
                    pd.seq.reset();
                    if pd.phase == Phase::Online && f.code != u8::from(Command::Poll) {
                        pd.queue.push_front(Outgoing { code: f.code, data: f.data, tag: f.tag });
                    }
                    return;
                }
                _ => {}
            }
        }
        self.stats.replies += 1;
        let poll_interval = self.poll_interval;
        let pd = &mut self.pds[f.pd];
        pd.seq.advance();
        pd.heard = now;
        match pd.phase {
            Phase::Identify => {
                if let (true, Ok(id)) = (code == u8::from(Reply::PdId), PdId::parse(data)) {
                    pd.id = Some(id);
                    pd.phase = Phase::Capabilities;
                }
            }
            Phase::Capabilities => {
                let caps: Vec<Capability> = if code == u8::from(Reply::PdCap) {
                    capabilities(data).map(Iterator::collect).unwrap_or_default()
                } else {
                    Vec::new()
                };
                if let Some(id) = pd.id {
                    pd.phase = Phase::Online;
                    events.push(Event::Online { address: pd.address, id, capabilities: caps });
                } else {
                    pd.phase = Phase::Identify;
                }
            }
            Phase::Online => {
                if f.code == u8::from(Command::Poll) {
                    self.stats.polls += 1;
                    pd.due = now + poll_interval;
                }
                if let Some(tag) = f.tag {
                    events.push(Event::Reply { address: pd.address, tag, code, data: data.to_vec() });
                } else if code == u8::from(Reply::Nak) {
                    let nak = data.first().copied().unwrap_or(0);
                    events.push(Event::Nak { address: pd.address, command: f.code, code: nak });
                }
                if code == u8::from(Reply::Raw)
                    && let Ok(read) = CardRead::parse(data)
                {
                    events.push(Event::CardRead {
                        address: pd.address,
                        reader: read.reader,
                        format: read.format,
                        bits: read.bits,
                        data: read.data.to_vec(),
                    });
                }
            }
        }
    }

    /// Call when [`Bus::deadline`] may have passed: a command without a
    /// reply is sent again on its PD's next turn (with the same sequence
    /// number), and a PD silent for too long goes offline.
    pub fn on_timeout(&mut self, now: Instant, events: &mut Vec<Event>) {
        let Some(f) = &self.inflight else { return };
        if now < f.sent + REPLY_TIMEOUT {
            return;
        }
        let i = f.pd;
        self.burst = 0;
        if self.pds[i].online() && now.duration_since(self.pds[i].heard) < OFFLINE_AFTER {
            // Sent again on this PD's next turn: the other PDs on the line
            // keep their turns while one is silent.
            self.pds[i].retry = self.inflight.take();
            self.pds[i].due = now;
            return;
        }
        self.inflight = None;
        // Not online (still identifying) or silent too long: try again later.
        if self.pds[i].online() {
            self.go_offline(i, now, events);
        } else {
            self.pds[i].seq.reset();
            self.pds[i].phase = Phase::Identify;
        }
        self.pds[i].due = now + RETRY_OFFLINE;
    }

    fn go_offline(&mut self, i: usize, now: Instant, events: &mut Vec<Event>) {
        let pd = &mut self.pds[i];
        if pd.online() {
            events.push(Event::Offline { address: pd.address });
        }
        pd.phase = Phase::Identify;
        pd.seq.reset();
        pd.heard = now;
        for c in pd.queue.drain(..) {
            if let Some(tag) = c.tag {
                events.push(Event::Failed { tag });
            }
        }
        if let Some(tag) = pd.retry.take().and_then(|f| f.tag) {
            events.push(Event::Failed { tag });
        }
        if let Some(tag) = self.inflight.as_ref().filter(|f| f.pd == i).and_then(|f| f.tag) {
            events.push(Event::Failed { tag });
        }
    }
}

#[cfg(test)]
mod tests {
    use firmware_protocol::codes::H10301;
    use firmware_protocol::pd::{Link, Step};

    use super::*;

    /// A PD answering through the firmware's link: ID, CAP, ACK or a queued card.
    struct Pd {
        link: Link,
        card: Option<Vec<u8>>,
    }

    impl Pd {
        fn new(address: u8) -> Self {
            Self { link: Link::new(address), card: None }
        }

        fn answer(&mut self, frame: &[u8]) -> Option<Vec<u8>> {
            let mut out = [0u8; 256];
            let frame = &frame[1..]; // the mark byte
            match self.link.receive(frame, &mut out).unwrap() {
                Step::Ignore => None,
                Step::Send(n) => Some(out[..n].to_vec()),
                Step::Command(cmd) => {
                    let (code, data): (u8, Vec<u8>) = match cmd.code {
                        0x61 => (
                            0x45,
                            PdId { vendor: [1, 2, 3], model: 1, version: 1, serial: 7, firmware: [1, 0, 0] }
                                .emit()
                                .to_vec(),
                        ),
                        0x62 => (0x46, vec![4, 1, 1]),
                        0x60 => match self.card.take() {
                            Some(bits) => {
                                let mut d = vec![0, 1, 26, 0];
                                d.extend(bits);
                                (0x50, d)
                            }
                            None => (0x40, vec![]),
                        },
                        _ => (0x40, vec![]),
                    };
                    let n = self.link.reply(&cmd, code, &data, &mut out).unwrap();
                    Some(out[..n].to_vec())
                }
            }
        }
    }

    /// Sends the bus's next frame to the PDs and gives it the answer.
    fn exchange(bus: &mut Bus, pds: &mut [Pd], now: Instant, events: &mut Vec<Event>) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        if !bus.next_frame(now, &mut out) {
            return None;
        }
        let reply = pds.iter_mut().find_map(|p| p.answer(&out));
        if let Some(r) = &reply {
            bus.on_frame(now, r, events);
        }
        reply
    }

    #[test]
    fn identify_poll_and_a_card_read_reported_once_despite_a_lost_reply() {
        let t0 = Instant::now();
        let mut bus = Bus::new(&[1], Duration::ZERO, t0);
        let mut pds = [Pd::new(1)];
        let mut ev = Vec::new();
        exchange(&mut bus, &mut pds, t0, &mut ev);
        exchange(&mut bus, &mut pds, t0, &mut ev);
        assert!(matches!(&ev[..], [Event::Online { address: 1, capabilities, .. }] if capabilities.len() == 1));
        ev.clear();

        // The card's RAW reply is lost on the wire: the CP times out and
        // sends the same POLL again; the PD replays the same RAW; one read.
        pds[0].card = Some(H10301 { facility: 1, card: 2 }.encode().to_vec());
        let mut out = Vec::new();
        assert!(bus.next_frame(t0, &mut out));
        let first = pds[0].answer(&out).unwrap();
        assert_eq!(first[5], 0x50);
        bus.on_timeout(t0 + REPLY_TIMEOUT, &mut ev);
        let mut again = Vec::new();
        assert!(bus.next_frame(t0 + REPLY_TIMEOUT, &mut again));
        assert_eq!(again, out, "the retry is the same frame, same sequence number");
        let replay = pds[0].answer(&again).unwrap();
        assert_eq!(replay, first, "replayed byte for byte");
        bus.on_frame(t0 + REPLY_TIMEOUT, &replay, &mut ev);
        // The lost first copy turns up late: stale, dropped.
        exchange(&mut bus, &mut pds, t0 + REPLY_TIMEOUT, &mut ev);
        bus.on_frame(t0 + REPLY_TIMEOUT, &first, &mut ev);
        let reads = ev.iter().filter(|e| matches!(e, Event::CardRead { .. })).count();
        assert_eq!(reads, 1, "{ev:?}");
        assert_eq!(bus.stats().retries, 1);
        assert!(bus.stats().dropped >= 1);
    }

    #[test]
    fn a_silent_pd_goes_offline_after_8_s_while_the_others_keep_their_turns() {
        let t0 = Instant::now();
        let mut bus = Bus::new(&[1, 2], Duration::ZERO, t0);
        let mut pds = [Pd::new(1), Pd::new(2)];
        let mut ev = Vec::new();
        for _ in 0..4 {
            exchange(&mut bus, &mut pds, t0, &mut ev);
        }
        assert_eq!(ev.iter().filter(|e| matches!(e, Event::Online { .. })).count(), 2);
        ev.clear();
        // PD 1 falls silent; every exchange takes a 200 ms timeout for 1 and a poll for 2.
        let mut now = t0;
        let mut polled_2 = 0;
        let mut out = Vec::new();
        while now < t0 + Duration::from_secs(9) {
            if bus.next_frame(now, &mut out) {
                if out[2] == 2 {
                    let r = pds[1].answer(&out).unwrap();
                    bus.on_frame(now, &r, &mut ev);
                    polled_2 += 1;
                } else {
                    now += REPLY_TIMEOUT;
                    bus.on_timeout(now, &mut ev);
                }
            } else {
                now += Duration::from_millis(10);
            }
            if ev.iter().any(|e| matches!(e, Event::Offline { .. })) {
                break;
            }
        }
        assert_eq!(ev, [Event::Offline { address: 1 }]);
        let after = now - t0;
        assert!(after >= OFFLINE_AFTER && after < OFFLINE_AFTER + 2 * REPLY_TIMEOUT, "{after:?}");
        assert!(polled_2 >= 35, "PD 2 kept its turns: {polled_2} polls");
        assert!(!bus.is_online(1) && bus.is_online(2));
        // Asked again a second later, with sequence 0.
        assert!(bus.next_frame(now, &mut out));
        assert_eq!(out[2], 2, "1 waits for its retry time");
        bus.on_frame(now, &pds[1].answer(&out).unwrap(), &mut ev);
        now += RETRY_OFFLINE;
        let mut seen_1 = false;
        for _ in 0..3 {
            if bus.next_frame(now, &mut out) && out[2] == 1 {
                assert_eq!((out[5] & 0x03, out[6]), (0, 0x61), "ID with sequence 0");
                seen_1 = true;
                break;
            }
            bus.on_frame(now, &pds[1].answer(&out).unwrap(), &mut ev);
        }
        assert!(seen_1);
    }

    #[test]
    fn queued_feedback_goes_first_and_offline_pds_refuse_commands() {
        let t0 = Instant::now();
        let mut bus = Bus::new(&[1], Duration::from_millis(50), t0);
        let mut pds = [Pd::new(1)];
        let mut ev = Vec::new();
        let led = Outgoing::new(Command::Led, &[0; 14]);
        assert_eq!(bus.enqueue(1, led.clone(), true), Err(led.clone()), "not online yet");
        exchange(&mut bus, &mut pds, t0, &mut ev);
        exchange(&mut bus, &mut pds, t0, &mut ev);
        exchange(&mut bus, &mut pds, t0, &mut ev); // POLL; the next is due in 50 ms
        let mut out = Vec::new();
        assert!(!bus.next_frame(t0, &mut out), "poll interval respected");
        bus.enqueue(1, Outgoing::new(Command::Buz, &[0; 5]), true).unwrap();
        bus.enqueue(1, led, true).unwrap();
        let later = t0 + Duration::from_millis(50);
        assert!(bus.next_frame(later, &mut out));
        assert_eq!(out[6], 0x69, "LED first");
        bus.on_frame(later, &pds[0].answer(&out).unwrap(), &mut ev);
        assert!(bus.next_frame(later, &mut out), "then the buzzer in the same turn");
        assert_eq!(out[6], 0x6A);
        let too_long = Outgoing::new(Command::Text, &[0; MAX_DATA + 1]);
        bus.on_frame(later, &pds[0].answer(&out).unwrap(), &mut ev);
        assert!(bus.enqueue(1, too_long, false).is_err());
    }
}
