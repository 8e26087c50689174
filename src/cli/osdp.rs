//! `idms osdp probe|watch`: an integrator's tools for a serial line, like
//! libosdp's `osdpctl` — what device answers at an address, and what it
//! reports. They run the service's own control panel on the port, so a
//! device that works here works in `idms serve`.

use std::path::Path;
use std::time::{Duration, Instant};

use firmware_protocol::codes::CardRead;
use idms::readers::osdp::{Bus, Event, Wire, format_name, interpret};
use idms::store::StoreError;
use serde::Serialize;

use super::output;

/// How long `probe` waits for `ID` and `CAP` answers.
const PROBE_WAIT: Duration = Duration::from_secs(3);

/// A device's identity and capabilities (`probe --json`).
#[derive(Debug, Serialize)]
struct Identity {
    address: u8,
    /// IEEE OUI, hex.
    vendor: String,
    model: u8,
    version: u8,
    serial: u32,
    /// major.minor.build
    firmware: String,
    capabilities: Vec<Capability>,
}

#[derive(Debug, Serialize)]
struct Capability {
    function: u8,
    name: &'static str,
    compliance: u8,
    count: u8,
}

/// Names of the `PDCAP` function codes (OSDP 2.2 table 5.12).
fn capability_name(function: u8) -> &'static str {
    match function {
        1 => "contact_status_monitoring",
        2 => "output_control",
        3 => "card_data_format",
        4 => "reader_led_control",
        5 => "reader_audible_output",
        6 => "reader_text_output",
        7 => "time_keeping",
        8 => "check_character",
        9 => "communication_security",
        10 => "receive_buffer_size",
        11 => "largest_combined_message",
        12 => "smart_card_support",
        13 => "readers",
        14 => "biometrics",
        15 => "secure_pin_entry",
        16 => "osdp_version",
        _ => "unknown",
    }
}

fn open(port: &Path, baud: u32) -> Result<Wire, StoreError> {
    Wire::open(port, baud).map_err(|e| StoreError::Device {
        code: "port_unavailable",
        message: format!("cannot open {}: {e}", port.display()),
    })
}

fn lost(port: &Path, e: &std::io::Error) -> StoreError {
    StoreError::Device { code: "port_lost", message: format!("{}: {e}", port.display()) }
}

/// `idms osdp probe`: ID and CAP at one address.
pub fn probe(json: bool, port: &Path, baud: u32, address: u8) -> Result<(), StoreError> {
    let mut wire = open(port, baud)?;
    let mut bus = Bus::new(&[address], Duration::from_millis(50), Instant::now());
    let mut events = Vec::new();
    let deadline = Instant::now() + PROBE_WAIT;
    while Instant::now() < deadline {
        wire.step(&mut bus, &mut events).map_err(|e| lost(port, &e))?;
        for e in events.drain(..) {
            if let Event::Online { address, id, capabilities } = e {
                let who = Identity {
                    address,
                    vendor: hex::encode_upper(id.vendor),
                    model: id.model,
                    version: id.version,
                    serial: id.serial,
                    firmware: format!("{}.{}.{}", id.firmware[0], id.firmware[1], id.firmware[2]),
                    capabilities: capabilities
                        .iter()
                        .map(|c| Capability {
                            function: c.function,
                            name: capability_name(c.function),
                            compliance: c.compliance,
                            count: c.count,
                        })
                        .collect(),
                };
                print_identity(json, &who);
                return Ok(());
            }
        }
    }
    Err(StoreError::Device {
        code: "no_answer",
        message: format!(
            "no OSDP device answered at address {address} on {} ({baud} baud) within {} s; check the address, baud rate and wiring (A/B swapped?)",
            port.display(),
            PROBE_WAIT.as_secs()
        ),
    })
}

fn print_identity(json: bool, who: &Identity) {
    if json {
        output::json(who);
        return;
    }
    output::pairs(&[
        ("address", who.address.to_string()),
        ("vendor", who.vendor.clone()),
        ("model", who.model.to_string()),
        ("version", who.version.to_string()),
        ("serial", format!("{} (0x{:08X})", who.serial, who.serial)),
        ("firmware", who.firmware.clone()),
    ]);
    let mut t = output::Table::new(&["CAPABILITY", "FUNCTION", "COMPLIANCE", "COUNT"]);
    for c in &who.capabilities {
        t.row(vec![c.name.into(), c.function.to_string(), c.compliance.to_string(), c.count.to_string()]);
    }
    t.print();
}

/// One line of `watch --json`.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Line {
    Online {
        address: u8,
        vendor: String,
        model: u8,
        serial: u32,
    },
    Offline {
        address: u8,
    },
    CardRead {
        address: u8,
        reader: u8,
        format: &'static str,
        bits: u16,
        data: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        uid: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        facility: Option<u8>,
        #[serde(skip_serializing_if = "Option::is_none")]
        card: Option<u16>,
        #[serde(skip_serializing_if = "Option::is_none")]
        problem: Option<&'static str>,
    },
    Nak {
        address: u8,
        command: u8,
        code: u8,
    },
}

/// `idms osdp watch`: poll one address and print what it reports until
/// interrupted (or for `limit`, for tests and scripts).
pub fn watch(json: bool, port: &Path, baud: u32, address: u8, limit: Option<Duration>) -> Result<(), StoreError> {
    let mut wire = open(port, baud)?;
    let mut bus = Bus::new(&[address], Duration::from_millis(50), Instant::now());
    let mut events = Vec::new();
    let end = limit.map(|l| Instant::now() + l);
    if !json {
        eprintln!("polling address {address} on {} at {baud} baud (Ctrl-C to stop)", port.display());
    }
    while end.is_none_or(|e| Instant::now() < e) {
        wire.step(&mut bus, &mut events).map_err(|e| lost(port, &e))?;
        for e in events.drain(..) {
            let line = match e {
                Event::Online { address, id, .. } => {
                    Line::Online { address, vendor: hex::encode_upper(id.vendor), model: id.model, serial: id.serial }
                }
                Event::Offline { address } => Line::Offline { address },
                Event::CardRead { address, reader, format, bits, data } => {
                    let read = CardRead { reader, format, bits, data: &data };
                    let (uid, raw, problem) = match interpret(&read) {
                        Ok((uid, raw)) => (Some(uid.to_string()), Some(raw), None),
                        Err(code) => (None, None, Some(code)),
                    };
                    Line::CardRead {
                        address,
                        reader,
                        format: format_name(format),
                        bits,
                        data: hex::encode_upper(&data),
                        uid,
                        facility: raw.as_ref().and_then(|r| r.facility),
                        card: raw.as_ref().and_then(|r| r.card),
                        problem,
                    }
                }
                Event::Nak { address, command, code } => Line::Nak { address, command, code },
                Event::Reply { .. } | Event::Failed { .. } => continue,
            };
            if json {
                output::json_line(&line);
            } else {
                println!("{}", human(&line));
            }
        }
    }
    Ok(())
}

fn human(line: &Line) -> String {
    match line {
        Line::Online { address, vendor, model, serial } => {
            format!("{address}: online (vendor {vendor}, model {model}, serial {serial})")
        }
        Line::Offline { address } => format!("{address}: offline (no answer for 8 s)"),
        Line::CardRead { address, reader, format, bits, data, uid, facility, card, problem } => {
            let mut s = format!("{address}: card on reader {reader}: {bits} bits {format} {data}");
            if let (Some(f), Some(c)) = (facility, card) {
                s.push_str(&format!(" = H10301 facility {f} card {c}"));
            }
            if let Some(u) = uid {
                s.push_str(&format!(" (UID {u})"));
            }
            if let Some(p) = problem {
                s.push_str(&format!(" ({p})"));
            }
            s
        }
        Line::Nak { address, command, code } => format!("{address}: refused command {command:#04x} (NAK {code})"),
    }
}
