//! OSDP door readers, enrolment stations and badge encoders on serial lines
//! (RS-485 or USB-serial). One thread per line runs the control panel
//! ([`cp::Bus`]) over the port and publishes what its devices report to the
//! [`Hub`]; door readers get a decision and LED/buzzer feedback on the spot.
//!
//! Card reads become taps: a 26-bit Wiegand read (H10301) is the
//! credential `other` whose UID is the facility code and card number
//! (3 bytes, `FF CCCC`); a read of whole bytes (a reader sending the card's
//! serial number) is that UID. Anything else is `unreadable` with code
//! `unknown_format`, and a Wiegand read with a wrong parity bit is
//! `bad_parity`.

pub mod cp;
mod line;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use firmware_protocol::codes::{CardRead, H10301, PayloadError};

use super::Hub;
use crate::domain::{Technology, Uid};

pub use cp::{Bus, Event, Outgoing};
pub use line::{Control, Wire};

/// One serial line and the devices on it (`[[osdp]]` in the config file).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineConfig {
    /// The port (`/dev/ttyUSB0`, `/dev/serial/by-id/…`).
    pub port: PathBuf,
    /// Baud rate (default 9600, OSDP's default).
    #[serde(default = "default_baud")]
    pub baud: u32,
    /// Each device is polled at most this often, in ms (default 50).
    #[serde(default = "default_poll_ms")]
    pub poll_ms: u64,
    /// The devices, by address.
    pub devices: Vec<DeviceConfig>,
}

fn default_baud() -> u32 {
    9600
}

fn default_poll_ms() -> u64 {
    50
}

/// One device on a line.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// Its OSDP address (0–126).
    pub address: u8,
    /// What it is for.
    pub role: Role,
    /// Its reader ID in the API (default `osdp:PORT-NAME:ADDRESS`).
    pub id: Option<String>,
    /// For a door reader: the door it guards (as in access events).
    pub door: Option<String>,
}

/// What a device is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A door reader: each card read is decided and answered with LED and buzzer.
    Door,
    /// A desk reader for tap-to-enrol.
    Enrolment,
    /// A badge encoder (reports the card in its field; encodes it).
    Encoder,
}

impl LineConfig {
    /// Checks addresses, roles and doors before anything is opened.
    pub fn validate(&self) -> Result<(), String> {
        let port = self.port.display();
        if self.devices.is_empty() {
            return Err(format!("osdp line {port}: no devices"));
        }
        if self.baud == 0 {
            return Err(format!("osdp line {port}: baud must be positive"));
        }
        let mut seen = std::collections::HashSet::new();
        for d in &self.devices {
            if d.address > 126 {
                return Err(format!("osdp line {port}: address {} is not 0–126", d.address));
            }
            if !seen.insert(d.address) {
                return Err(format!("osdp line {port}: address {} used twice", d.address));
            }
            match (d.role, &d.door) {
                (Role::Door, None) => return Err(format!("osdp line {port}: door reader {} needs `door`", d.address)),
                (Role::Door, Some(_)) | (_, None) => {}
                (_, Some(_)) => {
                    return Err(format!("osdp line {port}: `door` is only for door readers (address {})", d.address));
                }
            }
        }
        Ok(())
    }

    /// The reader ID of a device on this line.
    #[must_use]
    pub fn reader_id(&self, d: &DeviceConfig) -> String {
        d.id.clone().unwrap_or_else(|| {
            let name =
                self.port.file_name().map_or_else(|| self.port.display().to_string(), |n| n.to_string_lossy().into());
            format!("osdp:{name}:{}", d.address)
        })
    }
}

/// What a card read means, for taps and doors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRead {
    /// `wiegand` or `raw`.
    pub format: &'static str,
    /// Bit count.
    pub bits: u16,
    /// The bits as read, hex, MSB first.
    pub data: String,
    /// H10301 facility code.
    pub facility: Option<u8>,
    /// H10301 card number.
    pub card: Option<u16>,
}

impl RawRead {
    /// The technology to look the UID up under: `other` for a Wiegand
    /// number, ISO 14443-A for a card serial number.
    #[must_use]
    pub fn technology(&self) -> Technology {
        if self.facility.is_some() { Technology::Other } else { Technology::Iso14443a }
    }
}

/// The name of a `RAW` format byte.
#[must_use]
pub fn format_name(format: u8) -> &'static str {
    if format == 1 { "wiegand" } else { "raw" }
}

/// Turns a card read into the UID it names, or an `unreadable` code.
pub fn interpret(read: &CardRead<'_>) -> Result<(Uid, RawRead), &'static str> {
    let mut raw = RawRead {
        format: format_name(read.format),
        bits: read.bits,
        data: hex::encode_upper(read.data),
        facility: None,
        card: None,
    };
    if read.bits == 26 {
        return match H10301::decode(read) {
            Ok(h) => {
                raw.facility = Some(h.facility);
                raw.card = Some(h.card);
                let [hi, lo] = h.card.to_be_bytes();
                let uid = Uid::from_bytes(&[h.facility, hi, lo]).map_err(|_| "unknown_format")?;
                Ok((uid, raw))
            }
            Err(PayloadError::Parity) => Err("bad_parity"),
            Err(_) => Err("unknown_format"),
        };
    }
    if read.bits.is_multiple_of(8) {
        let uid = Uid::from_bytes(read.data).map_err(|_| "unknown_format")?;
        return Ok((uid, raw));
    }
    Err("unknown_format")
}

/// The door decision for OSDP door readers, made above `readers/` (which
/// knows nothing of people): grant or not, and the access event logged.
pub trait Doors: Send + Sync + std::fmt::Debug {
    /// A card with `uid` was read at `door`; `technology` is known for a
    /// Wiegand number (`other`), not for a card serial number.
    fn decide(&self, door: &str, technology: Option<Technology>, uid: &Uid) -> bool;
}

/// Why an encoder request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// No device with that ID, or not an encoder.
    #[error("no such encoder")]
    Unknown,
    /// The device is offline (or went offline before answering).
    #[error("the device is offline")]
    Offline,
    /// No answer in time.
    #[error("the device did not answer in time")]
    Timeout,
}

/// The running lines: where to send requests for a device.
#[derive(Debug, Default)]
pub struct Osdp {
    devices: HashMap<String, (std::sync::mpsc::Sender<Control>, u8, Role)>,
    threads: std::sync::Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl Osdp {
    /// Starts one thread per line. Lines are validated first; a port that is
    /// missing is opened when it appears.
    pub fn start(lines: &[LineConfig], hub: &Arc<Hub>, doors: Arc<dyn Doors>) -> Result<Self, String> {
        let mut osdp = Self::default();
        let mut threads = Vec::new();
        for l in lines {
            l.validate()?;
            for d in l.devices.iter().filter(|d| d.role == Role::Door) {
                hub.mark_door(&l.reader_id(d));
            }
            let (tx, handle) =
                line::spawn(l.clone(), hub.clone(), doors.clone()).map_err(|e| format!("osdp thread: {e}"))?;
            for d in &l.devices {
                let id = l.reader_id(d);
                if osdp.devices.insert(id.clone(), (tx.clone(), d.address, d.role)).is_some() {
                    return Err(format!("osdp: reader ID {id} used twice"));
                }
            }
            threads.push(handle);
        }
        osdp.threads = std::sync::Mutex::new(threads);
        Ok(osdp)
    }

    /// Sends a command to an encoder and waits for its reply (code, data).
    pub async fn request(&self, id: &str, cmd: Outgoing, wait: Duration) -> Result<(u8, Vec<u8>), RequestError> {
        let Some((tx, address, Role::Encoder)) = self.devices.get(id) else { return Err(RequestError::Unknown) };
        let (reply, rx) = tokio::sync::oneshot::channel();
        tx.send(Control::Request { address: *address, cmd, reply }).map_err(|_| RequestError::Offline)?;
        match tokio::time::timeout(wait, rx).await {
            Err(_) => Err(RequestError::Timeout),
            Ok(Err(_)) => Err(RequestError::Offline),
            Ok(Ok(r)) => r,
        }
    }

    /// Waits for the line threads to end (after [`Hub::stop`]).
    pub fn join(&self) {
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        for t in threads {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_reads_name_uids_or_say_why_not() {
        let bits = H10301 { facility: 42, card: 1234 }.encode();
        let read = CardRead { reader: 0, format: 1, bits: 26, data: &bits };
        let (uid, raw) = interpret(&read).unwrap();
        assert_eq!(uid.to_string(), "2A04D2");
        assert_eq!((raw.facility, raw.card, raw.format), (Some(42), Some(1234), "wiegand"));
        assert_eq!(raw.technology(), Technology::Other);
        let mut bad = bits;
        bad[1] ^= 0x10;
        assert_eq!(interpret(&CardRead { data: &bad, ..read }), Err("bad_parity"));

        let csn = [0x04, 0xA1, 0xB2, 0xC3];
        let (uid, raw) = interpret(&CardRead { reader: 0, format: 0, bits: 32, data: &csn }).unwrap();
        assert_eq!(uid.to_string(), "04A1B2C3");
        assert_eq!(raw.technology(), Technology::Iso14443a);
        assert_eq!(raw.data, "04A1B2C3");
        assert_eq!(interpret(&CardRead { reader: 0, format: 1, bits: 35, data: &[0; 5] }), Err("unknown_format"));
    }

    #[test]
    fn line_configs_are_checked() {
        let line = |devices: &str| -> Result<(), String> {
            let l: LineConfig =
                toml::from_str(&format!("port = \"/dev/ttyUSB0\"\n{devices}")).map_err(|e| e.to_string())?;
            l.validate()
        };
        assert!(line("devices = [{address = 1, role = \"door\", door = \"D1\"}]").is_ok());
        assert!(line("devices = [{address = 1, role = \"door\"}]").unwrap_err().contains("needs `door`"));
        assert!(line("devices = [{address = 127, role = \"enrolment\"}]").unwrap_err().contains("0–126"));
        let twice = "devices = [{address = 1, role = \"encoder\"}, {address = 1, role = \"enrolment\"}]";
        assert!(line(twice).unwrap_err().contains("twice"));
        assert!(line("devices = [{address = 1, role = \"turnstile\"}]").is_err());
        let l: LineConfig =
            toml::from_str("port = \"/dev/ttyUSB0\"\ndevices = [{address = 3, role = \"encoder\"}]").unwrap();
        assert_eq!(l.reader_id(&l.devices[0]), "osdp:ttyUSB0:3");
        assert_eq!((l.baud, l.poll_ms), (9600, 50));
    }
}
