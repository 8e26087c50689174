//! The thread that runs one line: opens the port (again, with backoff,
//! when it goes away), drives the [`Bus`] over it, and turns its events
//! into hub events, door feedback and answers to encoder requests.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use firmware_protocol::codes::{CardRead, Command};
use firmware_protocol::packet::find_frame;
use firmware_protocol::payloads::{Buzzer, Color, Led};
use serialport::{SerialPort, TTYPort};

use super::cp::{Bus, Event, Outgoing};
use super::{Doors, LineConfig, RequestError, Role, interpret};
use crate::domain::Timestamp;
use crate::readers::{CardType, Hub, ReaderEvent, ReaderEventKind, ReaderInfo, ReaderKind, ReaderStatus};

/// Where a request's reply (code, data) goes.
pub type ReplyTx = tokio::sync::oneshot::Sender<Result<(u8, Vec<u8>), RequestError>>;

/// A request to the line's thread.
#[derive(Debug)]
pub enum Control {
    /// Send a command to a device and hand back its reply.
    Request {
        /// The device.
        address: u8,
        /// The command.
        cmd: Outgoing,
        /// Where the reply goes.
        reply: ReplyTx,
    },
}

const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// The longest wait between attempts to open a missing port: a port that
/// reappears is open again within this long.
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// The longest the thread blocks in a read: bounds how late it sees a stop or a request.
const TICK: Duration = Duration::from_millis(50);

pub(super) fn spawn(
    config: LineConfig,
    hub: Arc<Hub>,
    doors: Arc<dyn Doors>,
) -> std::io::Result<(Sender<Control>, std::thread::JoinHandle<()>)> {
    let (tx, rx) = std::sync::mpsc::channel();
    let name = format!("osdp-{}", config.port.file_name().map_or_else(String::new, |n| n.to_string_lossy().into()));
    let handle = std::thread::Builder::new().name(name).spawn(move || Line::new(config, hub, doors, rx).run())?;
    Ok((tx, handle))
}

/// A port with its receive buffer: sends what the bus wants sent, reads
/// until the bus's next deadline, and hands it the frames that arrive.
#[derive(Debug)]
pub struct Wire {
    port: TTYPort,
    out: Vec<u8>,
    rx: Vec<u8>,
    buf: Box<[u8; 1024]>,
}

impl Wire {
    /// Opens `port` raw at `baud`.
    pub fn open(port: &std::path::Path, baud: u32) -> Result<Self, serialport::Error> {
        let port = serialport::new(port.to_string_lossy(), baud).timeout(TICK).open_native()?;
        let _ = port.clear(serialport::ClearBuffer::All);
        Ok(Self { port, out: Vec::with_capacity(256), rx: Vec::with_capacity(2048), buf: Box::new([0; 1024]) })
    }

    /// One turn: send a retry or the next command if one is due, then wait
    /// for bytes (at most until the bus's deadline, and at most 50 ms) and
    /// feed every whole frame to the bus. An error means the port is gone.
    pub fn step(&mut self, bus: &mut Bus, events: &mut Vec<Event>) -> std::io::Result<()> {
        let now = Instant::now();
        bus.on_timeout(now, events);
        if bus.next_frame(now, &mut self.out) {
            self.port.write_all(&self.out)?;
        }
        let deadline = bus.deadline().map_or(now + TICK, |d| d.min(now + TICK));
        let wait = deadline.saturating_duration_since(Instant::now());
        if wait.is_zero() {
            return Ok(());
        }
        self.port.set_timeout(wait).map_err(std::io::Error::other)?;
        match self.port.read(&mut self.buf[..]) {
            Ok(0) => return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "port closed")),
            Ok(n) => self.rx.extend_from_slice(&self.buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return Ok(()),
            Err(e) => return Err(e),
        }
        let now = Instant::now();
        loop {
            match find_frame(&self.rx) {
                Ok((drop, Some(len))) => {
                    bus.on_frame(now, &self.rx[drop..drop + len], events);
                    self.rx.drain(..drop + len);
                }
                Ok((drop, None)) => {
                    self.rx.drain(..drop);
                    return Ok(());
                }
                // A corrupted frame: dropped; the command is retried on its timeout.
                Err((drop, _)) => {
                    self.rx.drain(..drop);
                }
            }
        }
    }
}

struct Line {
    config: LineConfig,
    hub: Arc<Hub>,
    doors: Arc<dyn Doors>,
    control: Receiver<Control>,
    bus: Bus,
    pending: HashMap<u64, ReplyTx>,
    next_tag: u64,
    events: Vec<Event>,
}

fn now_ts() -> Timestamp {
    crate::clock::Clock::now(&crate::clock::SystemClock)
}

impl Line {
    fn new(config: LineConfig, hub: Arc<Hub>, doors: Arc<dyn Doors>, control: Receiver<Control>) -> Self {
        let addresses: Vec<u8> = config.devices.iter().map(|d| d.address).collect();
        let bus = Bus::new(&addresses, Duration::from_millis(config.poll_ms), Instant::now());
        for d in &config.devices {
            let id = config.reader_id(d);
            hub.register(ReaderInfo {
                id: id.clone(),
                name: id,
                kind: ReaderKind::Osdp,
                status: ReaderStatus::Unavailable,
            });
        }
        Self { config, hub, doors, control, bus, pending: HashMap::new(), next_tag: 1, events: Vec::new() }
    }

    fn run(mut self) {
        let mut backoff = BACKOFF_MIN;
        let mut reported = false;
        while !self.hub.stopping() {
            let wire = match Wire::open(&self.config.port, self.config.baud) {
                Ok(w) => w,
                Err(e) => {
                    if !reported {
                        tracing::warn!(port = %self.config.port.display(), error = %e, "cannot open the OSDP port; retrying");
                        reported = true;
                    }
                    self.refuse_requests();
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    continue;
                }
            };
            tracing::info!(port = %self.config.port.display(), baud = self.config.baud, "OSDP port open");
            backoff = BACKOFF_MIN;
            reported = false;
            let error = self.session(wire);
            self.bus.restart(Instant::now(), &mut self.events);
            self.dispatch();
            if let Err(e) = error {
                tracing::warn!(port = %self.config.port.display(), error = %e, "OSDP port lost; reopening");
            }
        }
        self.refuse_requests();
        for tx in self.pending.drain().map(|(_, tx)| tx) {
            let _ = tx.send(Err(RequestError::Offline));
        }
    }

    /// Requests while the port is closed fail at once.
    fn refuse_requests(&mut self) {
        while let Ok(Control::Request { reply, .. }) = self.control.try_recv() {
            let _ = reply.send(Err(RequestError::Offline));
        }
    }

    fn take_requests(&mut self) {
        loop {
            match self.control.try_recv() {
                Ok(Control::Request { address, mut cmd, reply }) => {
                    let tag = self.next_tag;
                    self.next_tag += 1;
                    cmd.tag = Some(tag);
                    match self.bus.enqueue(address, cmd, false) {
                        Ok(()) => {
                            self.pending.insert(tag, reply);
                        }
                        Err(_) => {
                            let _ = reply.send(Err(RequestError::Offline));
                        }
                    }
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return,
            }
        }
    }

    /// Runs the bus over an open port until it fails or the hub stops.
    /// Every PD starts from `ID` (the bus is new, or was restarted when the
    /// last session ended).
    fn session(&mut self, mut wire: Wire) -> std::io::Result<()> {
        while !self.hub.stopping() {
            self.take_requests();
            wire.step(&mut self.bus, &mut self.events)?;
            self.dispatch();
        }
        Ok(())
    }

    fn device(&self, address: u8) -> Option<(String, Role, Option<String>)> {
        let d = self.config.devices.iter().find(|d| d.address == address)?;
        Some((self.config.reader_id(d), d.role, d.door.clone()))
    }

    fn publish(&self, reader: String, kind: ReaderEventKind) {
        self.hub.publish(ReaderEvent::new(reader, now_ts(), kind, Some(Instant::now())));
    }

    fn dispatch(&mut self) {
        let events = std::mem::take(&mut self.events);
        for e in &events {
            match e {
                Event::Online { address, id, capabilities } => {
                    let Some((reader, ..)) = self.device(*address) else { continue };
                    tracing::info!(
                        reader = %reader,
                        vendor = %hex::encode_upper(id.vendor),
                        model = id.model,
                        serial = id.serial,
                        capabilities = capabilities.len(),
                        "OSDP device online"
                    );
                    self.publish(reader, ReaderEventKind::ReaderAdded);
                }
                Event::Offline { address } => {
                    let Some((reader, ..)) = self.device(*address) else { continue };
                    tracing::warn!(reader = %reader, "OSDP device offline");
                    self.publish(reader, ReaderEventKind::SourceDown);
                }
                Event::CardRead { address, reader: r, format, bits, data } => {
                    self.card_read(*address, &CardRead { reader: *r, format: *format, bits: *bits, data });
                }
                Event::Reply { tag, code, data, .. } => {
                    if let Some(tx) = self.pending.remove(tag) {
                        let _ = tx.send(Ok((*code, data.clone())));
                    }
                }
                Event::Failed { tag } => {
                    if let Some(tx) = self.pending.remove(tag) {
                        let _ = tx.send(Err(RequestError::Offline));
                    }
                }
                Event::Nak { address, command, code } => {
                    tracing::warn!(address, command, code, "OSDP device refused a command");
                }
            }
        }
        self.events = events;
        self.events.clear();
    }

    fn card_read(&mut self, address: u8, read: &CardRead<'_>) {
        let Some((reader, role, door)) = self.device(address) else { return };
        let (uid, raw) = match interpret(read) {
            Ok(x) => x,
            Err(code) => {
                self.publish(reader, ReaderEventKind::Unreadable { code, card_type: None });
                if role == Role::Door {
                    self.feedback(address, read.reader, false);
                }
                return;
            }
        };
        let technology = raw.facility.map(|_| crate::domain::Technology::Other);
        self.publish(reader, ReaderEventKind::Tap { uid, card_type: CardType::Other, raw: Some(Box::new(raw)) });
        if let (Role::Door, Some(door)) = (role, door) {
            let granted = self.doors.decide(&door, technology, &uid);
            self.feedback(address, read.reader, granted);
        }
    }

    /// Green and a short beep on grant, red on deny: sent before the next poll.
    fn feedback(&mut self, address: u8, reader: u8, granted: bool) {
        if granted {
            let beep = Buzzer { reader, tone: 2, on: 1, off: 0, count: 1 };
            let _ = self.bus.enqueue(address, Outgoing::new(Command::Buz, &beep.emit()), true);
        }
        let color = if granted { Color::Green } else { Color::Red };
        let led = Led::flash(reader, color, 20);
        let _ = self.bus.enqueue(address, Outgoing::new(Command::Led, &led.emit()), true);
    }
}
