//! OSDP poll cycle and control-panel CPU per poll (`make bench-osdp`): 1,
//! 8 and 32 hw-sim readers (addresses 1..=N) on ONE pty line paced at
//! 115200 baud (each reply waits the wire time of command + reply), driven
//! in turn by
//! - our control panel (`Bus` + `Wire`, the service's port loop) in a
//!   thread of its own, twice: flat out (poll interval ZERO: the next poll
//!   goes as soon as the reply is in, so the line is the limit) and with the
//!   service's default of 50 ms between polls of one PD;
//! - libosdp's control panel (PyPI libosdp 3.2.9 through
//!   `tests/osdp/libosdp_cp.py`, in `.venv`: `make venv`), which paces its
//!   polls itself.
//!
//! Each run is timed over a window of OSDP_SECONDS (default 5) that starts
//! once every PD is online (bring-up excluded). Poll cycle = window / POLLs
//! answered per PD in the window (hw-sim's counters, averaged over the
//! PDs); CPU per poll = the control panel's CPU time in the window (user +
//! system: our CP's thread, libosdp's whole Python process) / POLLs
//! answered by all PDs. hw-sim's own CPU is in neither. The CPU time is the
//! scheduler's exact on-CPU time (`/proc/…/schedstat`, ns), because the
//! clock-tick counters (utime + stime of `/proc/…/stat`, 10 ms ticks) see
//! only a few ticks in a window; the ticks are printed as a cross-check.
//!
//! Also measured: our CP's logic per poll without I/O (`Bus::next_frame` →
//! the PD's ACK, prebuilt → `find_frame` → `Bus::on_frame`), in memory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use firmware_protocol::codes::Reply;
use firmware_protocol::packet::{MARK, Repr, find_frame};
use firmware_protocol::payloads::PdId;
use firmware_protocol::pd::{Link, Step};
use hw_sim::osdp::{Kind, Line};
use idms::readers::osdp::{Bus, Event, Wire};
use serde_json::Value;

const BAUD: u32 = 115_200;
const SIZES: [u8; 3] = [1, 8, 32];
/// Our CP's pacing in the service (`poll_ms` default).
const SERVICE_POLL: Duration = Duration::from_millis(50);
/// How long bring-up (all PDs online) may take before the run fails.
const BRING_UP: Duration = Duration::from_secs(60);

/// One control panel's run over the window.
struct Run {
    window: Duration,
    /// POLLs each PD answered in the window.
    polls: Vec<u64>,
    /// CPU time in the window, ns (scheduler's on-CPU time, user + system).
    cpu_ns: u64,
    /// The same as clock ticks (utime + stime), a cross-check.
    ticks: u64,
    tck: u64,
    /// Commands sent again (ours) or PDs that went offline (either).
    trouble: String,
}

impl Run {
    fn total(&self) -> u64 {
        self.polls.iter().sum()
    }

    fn cycle_ms(&self) -> f64 {
        let per_pd = self.total() as f64 / self.polls.len() as f64;
        self.window.as_secs_f64() * 1000.0 / per_pd
    }

    fn polls_per_s(&self) -> f64 {
        self.total() as f64 / self.window.as_secs_f64()
    }

    fn cpu_s(&self) -> f64 {
        self.cpu_ns as f64 / 1e9
    }

    fn cpu_us_per_poll(&self) -> f64 {
        self.cpu_s() * 1e6 / self.total() as f64
    }

    fn detail(&self) -> String {
        let (min, max) = (self.polls.iter().min().unwrap(), self.polls.iter().max().unwrap());
        format!(
            "window {:.2} s, {} polls (per PD {min}..{max}), CPU {:.1} ms ({:.2}% of a core; utime+stime {} ticks = {} ms){}",
            self.window.as_secs_f64(),
            self.total(),
            self.cpu_s() * 1e3,
            100.0 * self.cpu_s() / self.window.as_secs_f64(),
            self.ticks,
            self.ticks * 1000 / self.tck,
            self.trouble,
        )
    }
}

fn clk_tck() -> u64 {
    let out = Command::new("getconf").arg("CLK_TCK").output().expect("getconf CLK_TCK");
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("CLK_TCK is a number")
}

/// utime + stime (fields 14 and 15 of a /proc stat file), in clock ticks.
fn cpu_ticks(stat: &Path) -> u64 {
    let s = std::fs::read_to_string(stat).unwrap_or_else(|e| panic!("{}: {e}", stat.display()));
    // The command name may hold spaces: fields count from after its ')'; field 3 comes first.
    let fields: Vec<&str> = s[s.rfind(')').unwrap() + 1..].split_whitespace().collect();
    fields[14 - 3].parse::<u64>().unwrap() + fields[15 - 3].parse::<u64>().unwrap()
}

/// On-CPU time in ns: the first field of a /proc schedstat file
/// (`sum_exec_runtime`, user and system time together, not sampled by ticks).
fn schedstat_ns(path: &Path) -> u64 {
    let s = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    s.split_whitespace().next().and_then(|f| f.parse().ok()).expect("schedstat's first field")
}

/// A process's on-CPU time in ns, all its threads.
fn process_ns(pid: u32) -> u64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the process's threads");
    tasks.map_while(Result::ok).map(|t| schedstat_ns(&t.path().join("schedstat"))).sum()
}

fn polls(line: &Line, addresses: &[u8]) -> Vec<u64> {
    addresses.iter().map(|&a| line.polls(a)).collect()
}

/// Our control panel on the line for `window`, in a thread of its own
/// (its CPU is that thread's).
fn ours(line: &Line, addresses: &[u8], poll_interval: Duration, window: Duration, tck: u64) -> Run {
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut wire = Wire::open(line.path(), BAUD).expect("open the hw-sim line");
            let mut bus = Bus::new(addresses, poll_interval, Instant::now());
            let mut events = Vec::new();
            let (mut online, mut offline) = (0, 0);
            let give_up = Instant::now() + BRING_UP;
            while online < addresses.len() {
                wire.step(&mut bus, &mut events).expect("the line");
                online += events.iter().filter(|e| matches!(e, Event::Online { .. })).count();
                events.clear();
                assert!(Instant::now() < give_up, "only {online} of {} PDs came online", addresses.len());
            }
            let retries = bus.stats().retries;
            let before = polls(line, addresses);
            let (stat, sched) = (Path::new("/proc/thread-self/stat"), Path::new("/proc/thread-self/schedstat"));
            let (ticks0, ns0) = (cpu_ticks(stat), schedstat_ns(sched));
            let t0 = Instant::now();
            while t0.elapsed() < window {
                wire.step(&mut bus, &mut events).expect("the line");
                offline += events.iter().filter(|e| matches!(e, Event::Offline { .. })).count();
                events.clear();
            }
            let (ticks, cpu_ns) = (cpu_ticks(stat) - ticks0, schedstat_ns(sched) - ns0);
            let window = t0.elapsed();
            let after = polls(line, addresses);
            let retries = bus.stats().retries - retries;
            Run {
                window,
                polls: after.iter().zip(&before).map(|(a, b)| a - b).collect(),
                cpu_ns,
                ticks,
                tck,
                trouble: match (retries, offline) {
                    (0, 0) => String::new(),
                    (r, o) => format!("; {r} retries, {o} PDs went offline"),
                },
            }
        })
        .join()
        .unwrap()
    })
}

fn python() -> PathBuf {
    let py = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let ok = Command::new(&py).args(["-c", "import osdp_sys"]).output().is_ok_and(|o| o.status.success());
    assert!(ok, "{} with libosdp is missing: run `make venv` (pip install -r requirements-test.txt)", py.display());
    py
}

/// libosdp's control panel on the line: started with a generous `--bench`
/// cap, measured from the moment it reports every PD online for `window`,
/// then told to quit (it prints its bench line on the way out).
fn libosdp(py: &Path, line: &Line, addresses: &[u8], window: Duration, tck: u64) -> (Run, Value) {
    let tty = std::fs::read_link(line.path()).expect("the line's pty");
    let script = format!("{}/tests/osdp/libosdp_cp.py", env!("CARGO_MANIFEST_DIR"));
    let cap = (BRING_UP + window + Duration::from_secs(30)).as_secs().to_string();
    let mut cmd = Command::new(py);
    cmd.arg(&script).arg("--tty").arg(&tty).args(["--baud", &BAUD.to_string(), "--bench", &cap]);
    for a in addresses {
        cmd.args(["--address", &a.to_string()]);
    }
    let mut child =
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start libosdp_cp.py");
    let mut stdin = child.stdin.take().unwrap();
    let (tx, lines) = mpsc::channel::<Value>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&l)
                && tx.send(v).is_err()
            {
                return;
            }
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let pid = child.id();
    let stat = PathBuf::from(format!("/proc/{pid}/stat"));

    let mut online = std::collections::BTreeSet::new();
    let give_up = Instant::now() + BRING_UP;
    while online.len() < addresses.len() {
        let left = give_up.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(v) if v["event"] == "online" => {
                online.insert(v["address"].as_u64().unwrap());
            }
            Ok(v) if v["event"] == "offline" => {
                online.remove(&v["address"].as_u64().unwrap());
            }
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "libosdp brought only {} of {} PDs online; its log:\n{}",
                    online.len(),
                    addresses.len(),
                    log.join().unwrap_or_default()
                );
            }
        }
    }
    let before = polls(line, addresses);
    let (ticks0, ns0) = (cpu_ticks(&stat), process_ns(pid));
    let t0 = Instant::now();
    let mut offline = 0;
    while let Some(left) = window.checked_sub(t0.elapsed()) {
        if let Ok(v) = lines.recv_timeout(left)
            && v["event"] == "offline"
        {
            offline += 1;
        }
    }
    let (ticks, cpu_ns) = (cpu_ticks(&stat) - ticks0, process_ns(pid) - ns0);
    let elapsed = t0.elapsed();
    let after = polls(line, addresses);
    writeln!(stdin, "{{\"quit\": true}}").expect("tell libosdp_cp.py to quit");
    stdin.flush().unwrap();
    let report = loop {
        match lines.recv_timeout(Duration::from_secs(10)) {
            Ok(v) if v["event"] == "bench" => break v,
            Ok(v) if v["event"] == "offline" => offline += 1,
            Ok(_) => {}
            Err(_) => panic!("no bench line from libosdp_cp.py; its log:\n{}", log.join().unwrap_or_default()),
        }
    };
    child.wait().unwrap();
    let run = Run {
        window: elapsed,
        polls: after.iter().zip(&before).map(|(a, b)| a - b).collect(),
        cpu_ns,
        ticks,
        tck,
        trouble: if offline == 0 { String::new() } else { format!("; {offline} PDs went offline") },
    };
    (run, report)
}

/// Our CP's logic per poll with no I/O, in ns: the PDs are brought online
/// through `pd::Link` (ID, CAP), then each poll is `Bus::next_frame`, the
/// addressed PD's ACK (prebuilt, with its `FF` mark, for each address and
/// sequence number), `find_frame`, `Bus::on_frame`. The PD's work is not in it.
fn cp_logic_ns(addresses: &[u8]) -> f64 {
    let mut links: Vec<Link> = addresses.iter().map(|&a| Link::new(a)).collect();
    let mut bus = Bus::new(addresses, Duration::ZERO, Instant::now());
    let (mut out, mut events, mut reply) = (Vec::new(), Vec::new(), [0u8; 256]);
    let id = PdId { vendor: [0x0A, 0x0B, 0x0C], model: 1, version: 1, serial: 1, firmware: [1, 0, 0] }.emit();
    let caps = [3, 1, 0, 4, 1, 1, 5, 1, 1, 8, 1, 0];
    let mut online = 0;
    while online < addresses.len() {
        assert!(bus.next_frame(Instant::now(), &mut out), "a command is due");
        let i = addresses.iter().position(|&a| a == out[2]).unwrap();
        let Step::Command(cmd) = links[i].receive(&out[1..], &mut reply).unwrap() else { panic!("a fresh command") };
        let (code, data): (Reply, &[u8]) = match cmd.code {
            0x61 => (Reply::PdId, &id),
            0x62 => (Reply::PdCap, &caps),
            _ => (Reply::Ack, &[]),
        };
        let n = links[i].reply(&cmd, code.into(), data, &mut reply).unwrap();
        bus.on_frame(Instant::now(), &reply[..n], &mut events);
        online += events.iter().filter(|e| matches!(e, Event::Online { .. })).count();
        events.clear();
    }
    let acks: Vec<[Vec<u8>; 4]> = addresses
        .iter()
        .map(|&address| {
            std::array::from_fn(|sequence| {
                let repr = Repr {
                    address,
                    reply: true,
                    sequence: sequence as u8,
                    crc: true,
                    security_block: None,
                    code: Reply::Ack.into(),
                    data: &[],
                    mac: None,
                };
                let mut b = vec![MARK; 1 + repr.frame_len()];
                repr.emit(&mut b[1..]).unwrap();
                b
            })
        })
        .collect();
    let index: Vec<usize> = (0..=255u8).map(|a| addresses.iter().position(|&x| x == a).unwrap_or(0)).collect();
    let polls0 = bus.stats().polls;
    let run = |bus: &mut Bus, out: &mut Vec<u8>, events: &mut Vec<Event>, iters: u64| {
        for _ in 0..iters {
            let now = Instant::now();
            assert!(bus.next_frame(now, out));
            let rx = &acks[index[usize::from(out[2])]][usize::from(out[5] & 3)];
            let Ok((drop, Some(len))) = find_frame(rx) else { panic!("the ACK") };
            bus.on_frame(now, std::hint::black_box(&rx[drop..drop + len]), events);
            events.clear();
        }
    };
    run(&mut bus, &mut out, &mut events, 20_000);
    let iters = 500_000;
    let t = Instant::now();
    run(&mut bus, &mut out, &mut events, iters);
    let ns = t.elapsed().as_nanos() as f64 / iters as f64;
    assert_eq!(bus.stats().polls - polls0, 20_000 + iters, "every iteration completed a poll");
    ns
}

fn main() {
    let seconds: f64 = std::env::var("OSDP_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(5.0);
    let window = Duration::from_secs_f64(seconds);
    let tck = clk_tck();
    let py = python();
    let dir = tempfile::tempdir().unwrap();

    println!(
        "OSDP poll cycle on one hw-sim pty line paced at {BAUD} baud, N readers (addresses 1..=N), \
         {seconds} s windows from all-online (CPU: schedstat ns; ticks at {tck} Hz as a cross-check):"
    );
    let mut rows = Vec::new();
    for n in SIZES {
        let addresses: Vec<u8> = (1..=n).collect();
        let link = dir.path().join(format!("line-{n}"));
        let devices: Vec<(u8, Kind)> = addresses.iter().map(|&a| (a, Kind::Reader)).collect();
        let line = Line::start(&link, &devices, Some(BAUD)).unwrap();
        let flat = ours(&line, &addresses, Duration::ZERO, window, tck);
        println!("  N={n:>2} ours, flat out:         {}", flat.detail());
        let paced = ours(&line, &addresses, SERVICE_POLL, window, tck);
        println!("  N={n:>2} ours, 50 ms per PD:     {}", paced.detail());
        let (lib, report) = libosdp(&py, &line, &addresses, window, tck);
        println!("  N={n:>2} libosdp:                {}", lib.detail());
        println!(
            "        libosdp_cp.py's own bench line (whole run incl. bring-up): {:.2} s, process CPU {} s, loop CPU {} s, {} refresh() calls",
            report["seconds"].as_f64().unwrap_or(f64::NAN),
            report["cpu_seconds"],
            report["loop_cpu_seconds"],
            report["refreshes"],
        );
        let logic = cp_logic_ns(&addresses);
        rows.push((n, flat, paced, lib, logic));
    }

    println!();
    println!(
        "     |  ours, flat out (interval 0)   |  ours, 50 ms between polls/PD  |  libosdp 3.2.9 CP              | ours/libosdp CPU per poll"
    );
    println!(
        "   N | cycle ms  polls/s  CPU µs/poll | cycle ms  polls/s  CPU µs/poll | cycle ms  polls/s  CPU µs/poll |  flat out   50 ms"
    );
    for (n, flat, paced, lib, _) in &rows {
        let cells = |r: &Run| format!("{:>8.2} {:>8.0} {:>12.1}", r.cycle_ms(), r.polls_per_s(), r.cpu_us_per_poll());
        println!(
            "  {n:>2} | {} | {} | {} | {:>9.3} {:>7.3}",
            cells(flat),
            cells(paced),
            cells(lib),
            flat.cpu_us_per_poll() / lib.cpu_us_per_poll(),
            paced.cpu_us_per_poll() / lib.cpu_us_per_poll(),
        );
    }
    println!();
    println!("  our CP logic per poll, no I/O (next_frame → find_frame → on_frame, in memory, PD work excluded):");
    for (n, .., logic) in &rows {
        println!("    N={n:>2}: {logic:.0} ns/poll");
    }
    let exchange = hw_sim::osdp::wire_time(8 + 9, BAUD);
    println!();
    println!(
        "notes: one POLL/ACK exchange is {:.2} ms on the wire at {BAUD} baud (POLL 8 bytes + FF mark and ACK 8 bytes, \
         as hw-sim paces it), so the line allows at most ~{:.0} polls/s whoever drives it.",
        exchange.as_secs_f64() * 1000.0,
        1.0 / exchange.as_secs_f64()
    );
    println!(
        "  - ours flat out polls as fast as the line allows (cycle ≈ N exchanges). libosdp paces itself: it polls a PD \
         once it has been idle 50 ms (OSDP_PD_POLL_TIMEOUT_MS) and the script's loop calls refresh() at least every \
         20 ms, so its cycle is 50 ms plus the refresh granularity. Ours at 50 ms between polls of a PD (the service's \
         default) is the like-for-like pacing: compare CPU per poll there; flat out spreads fixed costs over more polls."
    );
    println!(
        "  - CPU: ours = the CP thread (/proc/thread-self/schedstat), syscalls on the pty included; libosdp = its whole \
         Python process (/proc/PID/task/*/schedstat), so the interpreter running the script's loop around the C \
         library (refresh(), status(), select) and its idle 20 ms wake-ups are charged to its polls, not only \
         libosdp's C code. Both over a window that starts after all-online; hw-sim's PD thread is in neither."
    );
}
