//! `hw-sim`: simulated hardware for people — start the virtual readers, tap
//! a virtual card, or keep readers up and tap from a prompt.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use hw_sim::card::{CardModel, VirtualCard};
use hw_sim::client::InsertedCard;
use hw_sim::controller::{Config, Controller};
use hw_sim::osdp::{Kind, Line};
use hw_sim::pcscd;

#[derive(Parser)]
#[command(version, about = "Simulated hardware for IDMS: virtual PC/SC readers and cards through the real pcscd")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Make sure pcscd runs with the virtual readers (stopping any other pcscd), and list them.
    Pcscd,
    /// Tap a card on virtual reader N: put it on, hold it, take it off.
    Tap {
        /// The reader's number (0–3; see `hw-sim pcscd`).
        #[arg(long, default_value_t = 0)]
        reader: usize,
        /// classic1k, ultralight, desfire, random, no-get-data, vanish.
        #[arg(long, default_value = "classic1k")]
        model: String,
        /// How long the card stays on the reader, in ms.
        #[arg(long, default_value_t = 600)]
        hold_ms: u64,
        /// The card's UID in hex.
        uid: String,
    },
    /// Keep the virtual readers up and tap cards from a prompt.
    Serve,
    /// Simulated OSDP devices on a pty whose path appears at LINK; driven from stdin.
    Osdp {
        /// Where the port appears (a symlink to the pty a control panel opens).
        #[arg(long)]
        link: std::path::PathBuf,
        /// A device: ADDRESS:reader or ADDRESS:encoder (repeatable; default 1:reader).
        #[arg(long = "device")]
        devices: Vec<String>,
        /// Pace replies as a line at this baud rate would (default: as fast as the pty).
        #[arg(long)]
        baud: Option<u32>,
    },
    /// A door controller: decides online, falls back to its synced credential list, buffers and
    /// uploads its offline decisions; driven from stdin (`tap UID [TECH] [DOOR]`, `sync`, `upload`,
    /// `status`, `quit`). The token comes from --token-file or IDMS_CONTROLLER_TOKEN, never a flag.
    Controller {
        /// The service, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        url: String,
        /// A file holding the controller's bearer token (else IDMS_CONTROLLER_TOKEN).
        #[arg(long)]
        token_file: Option<std::path::PathBuf>,
        /// One of the controller's doors, exactly as registered (repeatable; the first is the default).
        #[arg(long = "door", required = true)]
        doors: Vec<String>,
        /// Where the credential list and the event buffer are kept.
        #[arg(long, default_value = "controller-data")]
        data_dir: std::path::PathBuf,
        /// Seconds between syncs while the service answers.
        #[arg(long, default_value_t = 10)]
        poll_secs: u64,
    },
}

fn model(name: &str) -> Result<CardModel, String> {
    Ok(match name {
        "classic1k" => CardModel::MifareClassic1k,
        "ultralight" => CardModel::Ultralight,
        "desfire" => CardModel::Desfire,
        "random" => CardModel::RandomUid,
        "no-get-data" => CardModel::NoGetData,
        "vanish" => CardModel::VanishMidApdu,
        other => {
            return Err(format!(
                "unknown card model {other:?}: use classic1k, ultralight, desfire, random, no-get-data or vanish"
            ));
        }
    })
}

fn uid(hex: &str) -> Result<Vec<u8>, String> {
    let digits: String = hex.chars().filter(|c| !matches!(c, ':' | ' ' | '-')).collect();
    if digits.is_empty() || !digits.len().is_multiple_of(2) || digits.len() > 20 {
        return Err(format!("{hex:?} is not a UID: give 4, 7 or 10 bytes in hex, e.g. 04A1B2C3"));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|_| format!("{hex:?} is not hex")))
        .collect()
}

fn reader(n: usize) -> Result<usize, String> {
    if n < pcscd::READERS { Ok(n) } else { Err(format!("there are readers 0 to {}", pcscd::READERS - 1)) }
}

fn card(model_name: &str, uid_hex: &str) -> Result<VirtualCard, String> {
    Ok(VirtualCard::new(model(model_name)?, &uid(uid_hex)?))
}

fn list() {
    for n in 0..pcscd::READERS {
        println!("  reader {n}: {:<18} card port 127.0.0.1:{}", pcscd::reader_name(n), pcscd::reader_port(n));
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.cmd {
        Cmd::Pcscd => {
            pcscd::ensure().map_err(|e| e.to_string())?;
            println!("pcscd runs with the virtual readers (log: {}):", pcscd::dir().join("pcscd.log").display());
            list();
            Ok(())
        }
        Cmd::Tap { reader: n, model: m, hold_ms, uid: u } => {
            let (n, c) = (reader(n)?, card(&m, &u)?);
            pcscd::ensure().map_err(|e| e.to_string())?;
            InsertedCard::tap(("127.0.0.1", pcscd::reader_port(n)), c, Duration::from_millis(hold_ms))
                .map_err(|e| format!("cannot reach reader {n}: {e}"))
        }
        Cmd::Serve => serve(),
        Cmd::Osdp { link, devices, baud } => osdp(&link, &devices, baud),
        Cmd::Controller { url, token_file, doors, data_dir, poll_secs } => {
            let token = match token_file {
                Some(f) => std::fs::read_to_string(&f)
                    .map_err(|e| format!("cannot read the token file {}: {e}", f.display()))?
                    .trim()
                    .to_string(),
                None => std::env::var("IDMS_CONTROLLER_TOKEN")
                    .map_err(|_| "give the token in --token-file or IDMS_CONTROLLER_TOKEN".to_string())?,
            };
            if token.is_empty() {
                return Err("the controller token is empty".into());
            }
            controller(Config::new(&url, &token, doors, data_dir), Duration::from_secs(poll_secs.max(1)))
        }
    }
}

fn serve() -> Result<(), String> {
    pcscd::ensure().map_err(|e| e.to_string())?;
    println!("virtual readers up:");
    list();
    println!("commands: tap N UID [MODEL] | insert N UID [MODEL] | remove N | list | quit");
    let mut on: HashMap<usize, InsertedCard> = HashMap::new();
    let stdin = std::io::stdin();
    loop {
        print!("hw-sim> ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        if stdin.lock().read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Ok(());
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let r = match words.as_slice() {
            [] => Ok(()),
            ["quit" | "exit"] => return Ok(()),
            ["list"] => {
                list();
                Ok(())
            }
            [verb @ ("tap" | "insert"), n, u, rest @ ..] => (|| {
                let n = reader(n.parse().map_err(|_| format!("{n:?} is not a reader number"))?)?;
                let c = card(rest.first().copied().unwrap_or("classic1k"), u)?;
                on.remove(&n);
                let addr = ("127.0.0.1", pcscd::reader_port(n));
                if *verb == "tap" {
                    InsertedCard::tap(addr, c, Duration::from_millis(600)).map_err(|e| e.to_string())
                } else {
                    on.insert(n, InsertedCard::insert(addr, c).map_err(|e| e.to_string())?);
                    Ok(())
                }
            })(),
            ["remove", n] => match n.parse::<usize>().ok().and_then(|n| on.remove(&n)) {
                Some(c) => c.remove().map_err(|e| e.to_string()),
                None => Err(format!("no card on reader {n}")),
            },
            _ => Err("commands: tap N UID [MODEL] | insert N UID [MODEL] | remove N | list | quit".into()),
        };
        if let Err(e) = r {
            println!("error: {e}");
        }
    }
}

fn device(spec: &str) -> Result<(u8, Kind), String> {
    let (a, k) = spec.split_once(':').unwrap_or((spec, "reader"));
    let a: u8 = a.parse().ok().filter(|a| *a <= 126).ok_or_else(|| format!("{a:?} is not an address 0–126"))?;
    match k {
        "reader" => Ok((a, Kind::Reader)),
        "encoder" => Ok((a, Kind::Encoder)),
        _ => Err(format!("{k:?}: a device is a reader or an encoder")),
    }
}

const OSDP_HELP: &str = "commands: h10301 ADDR FACILITY CARD | card ADDR BITS HEX [raw|wiegand] | place ADDR UID|none | \
silent ADDR on|off | corrupt N | drop N | late N | unplug | plug | stats | quit";

/// `hw-sim osdp`: devices on a line, driven by one command per stdin line;
/// `stats` prints JSON (polls and commands seen per address).
fn osdp(link: &std::path::Path, specs: &[String], baud: Option<u32>) -> Result<(), String> {
    let devices = if specs.is_empty() {
        vec![(1, Kind::Reader)]
    } else {
        specs.iter().map(|s| device(s)).collect::<Result<Vec<_>, _>>()?
    };
    let mut line = Line::start(link, &devices, baud).map_err(|e| format!("cannot start the line: {e}"))?;
    println!("{{\"link\": {:?}}}", link.display().to_string());
    let _ = std::io::stdout().flush();
    let num = |w: &str| w.parse::<u32>().map_err(|_| format!("{w:?} is not a number"));
    let addr = |w: &str| w.parse::<u8>().map_err(|_| format!("{w:?} is not an address"));
    for input in std::io::stdin().lock().lines() {
        let input = input.map_err(|e| e.to_string())?;
        let words: Vec<&str> = input.split_whitespace().collect();
        let r: Result<(), String> = match words.as_slice() {
            [] => Ok(()),
            ["quit" | "exit"] => break,
            ["h10301", a, f, c] => (|| {
                let f = u8::try_from(num(f)?).map_err(|_| "facility is 0–255".to_string())?;
                let c = u16::try_from(num(c)?).map_err(|_| "card is 0–65535".to_string())?;
                line.h10301(addr(a)?, f, c);
                Ok(())
            })(),
            ["card", a, bits, data, rest @ ..] => (|| {
                let format = u8::from(rest.first() == Some(&"wiegand"));
                let bits = u16::try_from(num(bits)?).map_err(|_| "bits is 1–65535".to_string())?;
                line.card(addr(a)?, format, bits, &uid(data)?);
                Ok(())
            })(),
            ["place", a, "none"] => addr(a).map(|a| line.place(a, None)),
            ["place", a, u] => (|| {
                line.place(addr(a)?, Some(&uid(u)?));
                Ok(())
            })(),
            ["silent", a, on @ ("on" | "off")] => addr(a).map(|a| line.set_silent(a, *on == "on")),
            ["corrupt", n] => num(n).map(|n| line.corrupt_replies(n)),
            ["drop", n] => num(n).map(|n| line.drop_bytes(n)),
            ["late", n] => num(n).map(|n| line.late_replies(n)),
            ["unplug"] => {
                line.unplug();
                Ok(())
            }
            ["plug"] => line.plug().map_err(|e| e.to_string()),
            ["stats"] => {
                let stats: Vec<String> = line
                    .addresses()
                    .into_iter()
                    .map(|a| {
                        let seen: Vec<String> =
                            line.seen(a).iter().map(|c| format!("[{}, \"{}\"]", c.code, hex(&c.data))).collect();
                        format!("\"{a}\": {{\"polls\": {}, \"seen\": [{}]}}", line.polls(a), seen.join(", "))
                    })
                    .collect();
                println!("{{{}}}", stats.join(", "));
                let _ = std::io::stdout().flush();
                Ok(())
            }
            _ => Err(OSDP_HELP.into()),
        };
        if let Err(e) = r {
            eprintln!("error: {e}");
        }
    }
    Ok(())
}

const CONTROLLER_HELP: &str = "commands: tap UID [TECH|-] [DOOR] | sync | upload | status | quit";

/// `hw-sim controller`: one line per decision on stdout; the background
/// loop syncs and uploads, its failures on stderr.
fn controller(cfg: Config, poll: Duration) -> Result<(), String> {
    let c = std::sync::Arc::new(Controller::open(cfg).map_err(|e| format!("cannot open the data directory: {e}"))?);
    let doors = c.config().doors.clone();
    let bg = c.spawn(poll, |m| eprintln!("controller: {m}")).map_err(|e| e.to_string())?;
    println!("controller for {} on {}; {CONTROLLER_HELP}", doors.join(", "), c.config().url);
    let _ = std::io::stdout().flush();
    for input in std::io::stdin().lock().lines() {
        let input = input.map_err(|e| e.to_string())?;
        let words: Vec<&str> = input.split_whitespace().collect();
        let r: Result<String, String> = match words.as_slice() {
            [] => continue,
            ["quit" | "exit"] => break,
            ["tap", uid, rest @ ..] => (|| {
                let (tech, door) = match rest {
                    [] => (None, doors[0].as_str()),
                    [w] if doors.iter().any(|d| d == w) => (None, *w),
                    [t] => (Some(*t), doors[0].as_str()),
                    [t, d] => (Some(*t), *d),
                    _ => return Err(CONTROLLER_HELP.to_string()),
                };
                let tech = tech.filter(|t| *t != "-");
                let o = c.decide(door, tech, uid)?;
                let how = if o.online {
                    "online".to_string()
                } else {
                    format!("offline (list {})", o.cursor.as_deref().unwrap_or("none: never synced"))
                };
                Ok(match &o.user_id {
                    Some(u) => format!("{} {how} user {u}", o.verdict()),
                    None => format!("{} {how}", o.verdict()),
                })
            })(),
            ["sync"] => c
                .sync()
                .map(|r| {
                    format!("synced: {} pages, {} entries, cursor {}", r.pages, r.entries, r.cursor.unwrap_or_default())
                })
                .map_err(|e| e.to_string()),
            ["upload"] => {
                let r = c.upload();
                let line = format!(
                    "uploaded: {} sent, {} accepted, {} duplicates, {} conflicts, {} rejected; {} still buffered",
                    r.sent, r.accepted, r.duplicates, r.conflicts, r.rejected, r.pending
                );
                match r.error {
                    Some(e) => Err(format!("{line} ({e})")),
                    None => Ok(line),
                }
            }
            ["status"] => Ok(format!(
                "{} entries, cursor {}, {} events buffered",
                c.entries(),
                c.cursor().unwrap_or_else(|| "none".into()),
                c.pending().len()
            )),
            _ => Err(CONTROLLER_HELP.into()),
        };
        match r {
            Ok(line) => println!("{line}"),
            Err(e) => println!("error: {e}"),
        }
        let _ = std::io::stdout().flush();
    }
    bg.stop();
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hw-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_and_models_parse() {
        assert_eq!(uid("04:a1:B2:c3").unwrap(), [0x04, 0xA1, 0xB2, 0xC3]);
        assert!(uid("04A").is_err());
        assert!(uid("zz").is_err());
        assert_eq!(model("desfire").unwrap(), CardModel::Desfire);
        assert!(model("floppy").unwrap_err().contains("classic1k"));
        assert!(reader(pcscd::READERS).is_err());
    }
}
