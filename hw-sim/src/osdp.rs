//! Simulated OSDP devices on a pseudo-terminal: door readers and a badge
//! encoder sharing one line (multi-drop), answering through
//! `firmware_protocol::pd::Link` exactly as their firmware would, with
//! faults injected between the devices and the wire.
//!
//! A [`Line`] owns the pty's master side and publishes the slave's path as
//! a symlink (as `/dev/serial/by-id/…` names a USB adapter), so that
//! [`Line::unplug`] and [`Line::plug`] can make the port vanish and come
//! back under the same name. With a baud rate set, each reply waits for the
//! time the command and the reply would take on a real line.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use firmware_protocol::codes::{CardRead, Command, H10301, NakCode, Reply};
use firmware_protocol::mfg::{EncoderCommand, EncoderReply, Outcome};
use firmware_protocol::packet::find_frame;
use firmware_protocol::payloads::{Buzzer, Led, PdId};
use firmware_protocol::pd::{CommandFrame, Link, Step};
use serialport::{SerialPort, TTYPort};

/// What a simulated device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A door reader: reports card reads, shows LED and buzzer feedback.
    Reader,
    /// A badge encoder: reports the card placed in its field, encodes it.
    Encoder,
}

/// A command a device received and acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// When it was handled.
    pub at: Instant,
    /// The command code.
    pub code: u8,
    /// Its data.
    pub data: Vec<u8>,
    /// How many POLLs the device had answered before it.
    pub polls: u64,
}

/// A card on an encoder.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldCard {
    uid: Vec<u8>,
    number: u32,
}

/// One simulated PD.
#[derive(Debug)]
struct Device {
    kind: Kind,
    link: Link,
    id: PdId,
    reads: VecDeque<(u8, u16, Vec<u8>)>,
    seen: Vec<Seen>,
    polls: u64,
    /// The poll count (that poll included) at each card read reported.
    reported: Vec<u64>,
    silent: bool,
    field: Option<FieldCard>,
    last_outcome: Outcome,
}

impl Device {
    fn new(address: u8, kind: Kind) -> Self {
        let id = PdId {
            vendor: firmware_protocol::mfg::OUI,
            model: match kind {
                Kind::Reader => 1,
                Kind::Encoder => 2,
            },
            version: 1,
            serial: 0x0051_0000 + u32::from(address),
            firmware: [1, 4, 2],
        };
        Self {
            kind,
            link: Link::new(address),
            id,
            reads: VecDeque::new(),
            seen: Vec::new(),
            polls: 0,
            reported: Vec::new(),
            silent: false,
            field: None,
            last_outcome: Outcome::Ok,
        }
    }

    /// The application's answer to a fresh command: reply code and data.
    fn answer(&mut self, cmd: &CommandFrame<'_>) -> (u8, Vec<u8>) {
        let nak = |c: NakCode| (u8::from(Reply::Nak), vec![u8::from(c)]);
        let ack = (u8::from(Reply::Ack), Vec::new());
        let Ok(command) = Command::try_from(cmd.code) else { return nak(NakCode::UnknownCommand) };
        if command != Command::Poll {
            self.seen.push(Seen { at: Instant::now(), code: cmd.code, data: cmd.data.to_vec(), polls: self.polls });
        }
        match command {
            Command::Poll => {
                self.polls += 1;
                match self.reads.pop_front() {
                    Some((format, bits, data)) => {
                        self.reported.push(self.polls);
                        let read = CardRead { reader: 0, format, bits, data: &data };
                        let mut buf = vec![0u8; 4 + data.len()];
                        let n = read.emit(&mut buf).unwrap_or(0);
                        buf.truncate(n);
                        (u8::from(Reply::Raw), buf)
                    }
                    None => ack,
                }
            }
            Command::Id => (u8::from(Reply::PdId), self.id.emit().to_vec()),
            Command::Cap => {
                // Card data format, 1 LED, 1 buzzer, CRC, receive buffer 1440, no secure channel.
                (u8::from(Reply::PdCap), vec![3, 1, 0, 4, 1, 1, 5, 1, 1, 8, 1, 0, 9, 0, 0, 10, 0xA0, 0x05])
            }
            Command::LStat => (u8::from(Reply::LStatR), vec![0, 0]),
            Command::Led => match Led::parse(cmd.data) {
                Ok(_) => ack,
                Err(_) => nak(NakCode::BadLength),
            },
            Command::Buz => match Buzzer::parse(cmd.data) {
                Ok(_) => ack,
                Err(_) => nak(NakCode::BadLength),
            },
            Command::ComSet => (u8::from(Reply::Com), cmd.data.to_vec()),
            Command::Chlng | Command::SCrypt | Command::KeySet => nak(NakCode::ScUnsupported),
            Command::Mfg if self.kind == Kind::Encoder => self.encoder(cmd.data),
            _ => nak(NakCode::UnknownCommand),
        }
    }

    fn encoder(&mut self, data: &[u8]) -> (u8, Vec<u8>) {
        let Ok(command) = EncoderCommand::parse(data) else {
            return (u8::from(Reply::Nak), vec![u8::from(NakCode::Record)]);
        };
        let mut buf = [0u8; 64];
        let reply = match command {
            EncoderCommand::Encode { request, uid, number } => {
                let outcome = match &mut self.field {
                    None => Outcome::NoCard,
                    Some(card) if card.uid != uid => Outcome::WrongCard,
                    Some(card) => {
                        card.number = number;
                        Outcome::Ok
                    }
                };
                self.last_outcome = outcome;
                EncoderReply::Encoded { request, outcome }.emit(&mut buf)
            }
            EncoderCommand::ReadBack { request } => match &self.field {
                Some(card) => EncoderReply::Card { request, outcome: Outcome::Ok, uid: &card.uid, number: card.number }
                    .emit(&mut buf),
                None => EncoderReply::Card { request, outcome: Outcome::NoCard, uid: &[], number: 0 }.emit(&mut buf),
            },
            EncoderCommand::Status { request } => {
                EncoderReply::Status { request, card_present: self.field.is_some(), last: self.last_outcome }
                    .emit(&mut buf)
            }
        };
        (u8::from(Reply::MfgRep), buf[..reply.unwrap_or(0)].to_vec())
    }
}

/// Faults between the devices and the wire, each for the next N replies.
#[derive(Debug, Default, Clone, Copy)]
struct Faults {
    corrupt_commands: u32,
    corrupt: u32,
    drop_byte: u32,
    late: u32,
}

#[derive(Debug)]
struct State {
    devices: Vec<Device>,
    faults: Faults,
    baud: Option<u32>,
    garbage: Vec<u8>,
}

/// A simulated serial line with its devices.
#[derive(Debug)]
pub struct Line {
    link: PathBuf,
    state: Arc<Mutex<State>>,
    run: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How long `bytes` take on a line at `baud` (10 bits a byte: start, 8, stop).
#[must_use]
pub fn wire_time(bytes: usize, baud: u32) -> Duration {
    Duration::from_micros(bytes as u64 * 10_000_000 / u64::from(baud.max(1)))
}

/// How late a late reply is: past the CP's 200 ms reply timeout.
pub const LATE: Duration = Duration::from_millis(300);

impl Line {
    /// Starts a line whose port appears at `link` (a symlink to the pty),
    /// with devices at the given addresses. `baud`: pace replies as a real
    /// line would; `None`: as fast as the pty goes.
    pub fn start(link: &Path, devices: &[(u8, Kind)], baud: Option<u32>) -> std::io::Result<Self> {
        let devices = devices.iter().map(|&(a, k)| Device::new(a, k)).collect();
        let state = Arc::new(Mutex::new(State { devices, faults: Faults::default(), baud, garbage: Vec::new() }));
        let mut line = Self { link: link.to_path_buf(), state, run: None };
        line.plug()?;
        Ok(line)
    }

    /// The path a control panel opens.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.link
    }

    /// Plugs the line in: a new pty, the symlink pointing at it.
    pub fn plug(&mut self) -> std::io::Result<()> {
        if self.run.is_some() {
            return Ok(());
        }
        let (master, slave) = TTYPort::pair().map_err(std::io::Error::other)?;
        let name = slave.name().ok_or_else(|| std::io::Error::other("pty without a name"))?;
        // Nobody holds the slave but the control panel: when it closes its
        // end, reads here fail until it opens again.
        drop(slave);
        let _ = std::fs::remove_file(&self.link);
        std::os::unix::fs::symlink(&name, &self.link)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (stop.clone(), self.state.clone());
        let handle = std::thread::Builder::new().name("hw-sim-osdp".into()).spawn(move || serve(master, &st, &s))?;
        self.run = Some((stop, handle));
        Ok(())
    }

    /// Unplugs the line: the port's path disappears and the open port fails.
    pub fn unplug(&mut self) {
        let _ = std::fs::remove_file(&self.link);
        if let Some((stop, handle)) = self.run.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = handle.join();
        }
    }

    fn with<R>(&self, address: u8, f: impl FnOnce(&mut Device) -> R) -> Option<R> {
        let mut s = lock(&self.state);
        s.devices.iter_mut().find(|d| d.link.address() == address).map(f)
    }

    /// A card read at the device: `bits` bits of `data` (MSB first), format
    /// 1 (Wiegand) or 0 (raw). Reported on the device's next poll.
    pub fn card(&self, address: u8, format: u8, bits: u16, data: &[u8]) {
        self.with(address, |d| d.reads.push_back((format, bits, data.to_vec())));
    }

    /// An H10301 (26-bit Wiegand) card read.
    pub fn h10301(&self, address: u8, facility: u8, card: u16) {
        self.card(address, 1, 26, &H10301 { facility, card }.encode());
    }

    /// Puts a card (by UID) in an encoder's field; it is also reported as
    /// a raw read of the UID, as an enrolment station does. `None` takes it away.
    pub fn place(&self, address: u8, uid: Option<&[u8]>) {
        self.with(address, |d| {
            d.field = uid.map(|u| FieldCard { uid: u.to_vec(), number: 0 });
            if let Some(u) = uid {
                d.reads.push_back((0, (u.len() * 8) as u16, u.to_vec()));
            }
        });
    }

    /// The credential number written to the card in an encoder's field.
    #[must_use]
    pub fn encoded(&self, address: u8) -> Option<u32> {
        self.with(address, |d| d.field.as_ref().map(|c| c.number)).flatten()
    }

    /// The device stops (or resumes) answering, as when it loses power.
    pub fn set_silent(&self, address: u8, silent: bool) {
        self.with(address, |d| d.silent = silent);
    }

    /// Corrupts a check byte of each of the next `n` replies.
    pub fn corrupt_replies(&self, n: u32) {
        lock(&self.state).faults.corrupt = n;
    }

    /// Corrupts each of the next `n` commands on their way to the devices
    /// (the addressed device answers `NAK` for a bad check).
    pub fn corrupt_commands(&self, n: u32) {
        lock(&self.state).faults.corrupt_commands = n;
    }

    /// The poll count at which each card read was reported, in order.
    #[must_use]
    pub fn reported(&self, address: u8) -> Vec<u64> {
        self.with(address, |d| d.reported.clone()).unwrap_or_default()
    }

    /// Drops one byte from each of the next `n` replies.
    pub fn drop_bytes(&self, n: u32) {
        lock(&self.state).faults.drop_byte = n;
    }

    /// Sends each of the next `n` replies [`LATE`].
    pub fn late_replies(&self, n: u32) {
        lock(&self.state).faults.late = n;
    }

    /// Faults injected but not yet applied (replies, commands and noise still to hit).
    #[must_use]
    pub fn faults_left(&self) -> u32 {
        let s = lock(&self.state);
        let f = s.faults;
        f.corrupt_commands + f.corrupt + f.drop_byte + f.late + u32::from(!s.garbage.is_empty())
    }

    /// Line noise written before the next reply.
    pub fn noise(&self, bytes: &[u8]) {
        lock(&self.state).garbage.extend_from_slice(bytes);
    }

    /// Commands (other than POLL) the device handled, in order.
    #[must_use]
    pub fn seen(&self, address: u8) -> Vec<Seen> {
        self.with(address, |d| d.seen.clone()).unwrap_or_default()
    }

    /// How many POLLs the device answered.
    #[must_use]
    pub fn polls(&self, address: u8) -> u64 {
        self.with(address, |d| d.polls).unwrap_or(0)
    }

    /// Card reads not yet collected by a poll.
    #[must_use]
    pub fn pending_reads(&self, address: u8) -> usize {
        self.with(address, |d| d.reads.len()).unwrap_or(0)
    }

    /// The addresses on the line.
    #[must_use]
    pub fn addresses(&self) -> Vec<u8> {
        lock(&self.state).devices.iter().map(|d| d.link.address()).collect()
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        self.unplug();
    }
}

/// The line's thread: read commands, let every device see each frame,
/// write the one answer (after faults and pacing).
fn serve(mut port: TTYPort, state: &Mutex<State>, stop: &AtomicBool) {
    let _ = port.set_timeout(Duration::from_millis(20));
    let mut rx: Vec<u8> = Vec::with_capacity(2048);
    let mut buf = [0u8; 1024];
    let mut out = [0u8; 1500];
    while !stop.load(Ordering::Relaxed) {
        match port.read(&mut buf) {
            Ok(0) => continue,
            Ok(n) => rx.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
            Err(_) => {
                // Nobody has the port open: wait for a control panel.
                rx.clear();
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
        }
        loop {
            let (drop, frame) = match find_frame(&rx) {
                Ok((drop, Some(len))) => (drop, Some(len)),
                Ok((drop, None)) => {
                    rx.drain(..drop);
                    break;
                }
                // A frame failing its check: let the devices NAK it if it is theirs.
                Err((drop, _)) => {
                    let reply = answer(state, &rx[drop - 1..], &mut out);
                    rx.drain(..drop);
                    if let Some(reply) = reply {
                        send(&mut port, state, &reply, 0);
                    }
                    continue;
                }
            };
            let Some(len) = frame else { break };
            {
                let mut s = lock(state);
                if s.faults.corrupt_commands > 0 {
                    s.faults.corrupt_commands -= 1;
                    rx[drop + len - 1] ^= 0x5A;
                }
            }
            let reply = answer(state, &rx[drop..drop + len], &mut out);
            rx.drain(..drop + len);
            if let Some(reply) = reply {
                send(&mut port, state, &reply, len);
            }
        }
    }
}

/// Every device sees the frame; at most one answers.
fn answer(state: &Mutex<State>, frame: &[u8], out: &mut [u8]) -> Option<Vec<u8>> {
    let mut s = lock(state);
    // A silent device hears nothing (powered off, or its cable cut).
    for d in s.devices.iter_mut().filter(|d| !d.silent) {
        match d.link.receive(frame, out).ok()? {
            Step::Ignore => {}
            Step::Send(n) => return Some(out[..n].to_vec()),
            Step::Command(cmd) => {
                let (code, data) = d.answer(&cmd);
                let mut reply = [0u8; 1500];
                let n = d.link.reply(&cmd, code, &data, &mut reply).ok()?;
                return Some(reply[..n].to_vec());
            }
        }
    }
    None
}

fn send(port: &mut TTYPort, state: &Mutex<State>, reply: &[u8], command_len: usize) {
    let (bytes, pause) = {
        let mut s = lock(state);
        let mut bytes = std::mem::take(&mut s.garbage);
        bytes.push(firmware_protocol::packet::MARK);
        let at = bytes.len();
        bytes.extend_from_slice(reply);
        let mut pause = s.baud.map_or(Duration::ZERO, |b| wire_time(command_len + bytes.len(), b));
        if s.faults.corrupt > 0 {
            s.faults.corrupt -= 1;
            if let Some(last) = bytes.last_mut() {
                *last ^= 0x5A;
            }
        }
        if s.faults.drop_byte > 0 {
            s.faults.drop_byte -= 1;
            bytes.remove(at + reply.len() / 2);
        }
        if s.faults.late > 0 {
            s.faults.late -= 1;
            pause += LATE;
        }
        (bytes, pause)
    };
    if !pause.is_zero() {
        std::thread::sleep(pause);
    }
    let _ = port.write_all(&bytes);
    let _ = port.flush();
}
