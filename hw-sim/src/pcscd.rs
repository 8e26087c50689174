//! The machine's one pcscd, run with the simulator's virtual readers.
//!
//! pcscd's socket path is fixed at build time (`/run/pcscd/pcscd.comm`), so
//! there is one pcscd per machine, shared by every test process. [`ensure`]
//! makes sure it is running with this project's reader configuration
//! (stopping any other pcscd first); [`lease`] hands a test one virtual
//! reader for its exclusive use, so tests on different readers run in
//! parallel; [`exclusive`] takes the whole daemon (for tests that restart
//! pcscd or take readers away).
//!
//! The configuration has [`ENTRIES`] vsmartcard `vpcd` entries of two
//! readers each: `IDMS Sim A 00 00` listens for a card on TCP
//! [`PORT_BASE`], `IDMS Sim A 00 01` on the next port, `IDMS Sim B 00 00`
//! on the one after, and so on. The vpcd driver keeps its connections in
//! a static array indexed by slot, so two entries loading the same library
//! would overwrite each other's ports: each entry loads its own copy of
//! `libifdvpcd.so` (a copy is a different file, so the dynamic loader
//! gives it its own statics).
//!
//! Every lock is an advisory file lock (`flock`), released by the kernel
//! when a test process dies, so a crashed test never wedges the suite.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The first TCP port of the virtual readers.
pub const PORT_BASE: u16 = 35990;
/// vpcd entries in the configuration (two readers each).
pub const ENTRIES: usize = 2;
/// Virtual readers in all.
pub const READERS: usize = ENTRIES * 2;

/// Where the installed vpcd driver lives (Debian `vsmartcard-vpcd`).
pub const VPCD_DRIVER: &str = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
const PID_FILE: &str = "/run/pcscd/pcscd.pid";
const SOCKET: &str = "/run/pcscd/pcscd.comm";

/// The name pcscd gives virtual reader `n`.
#[must_use]
pub fn reader_name(n: usize) -> String {
    format!("IDMS Sim {} 00 {:02}", entry_letter(n / 2), n % 2)
}

fn entry_letter(e: usize) -> char {
    char::from(b'A' + u8::try_from(e).unwrap_or(0))
}

/// The TCP port virtual reader `n` listens on for a card.
#[must_use]
pub fn reader_port(n: usize) -> u16 {
    PORT_BASE + u16::try_from(n).unwrap_or(0)
}

/// The simulator's working directory (configuration, driver copies, locks,
/// pcscd's log): `$IDMS_HWSIM_DIR`, or `idms-hwsim` in the temp directory.
#[must_use]
pub fn dir() -> PathBuf {
    std::env::var_os("IDMS_HWSIM_DIR").map_or_else(|| std::env::temp_dir().join("idms-hwsim"), PathBuf::from)
}

/// The reader configuration with the given vpcd entries (a subset of
/// `0..ENTRIES`), as pcscd's `-c` file.
#[must_use]
pub fn config_text(entries: &[usize], dir: &Path) -> String {
    let mut out =
        String::from("# Written by hw-sim: virtual readers for IDMS tests. Each entry has its own driver copy.\n");
    for &e in entries {
        let port = reader_port(e * 2);
        let lib = dir.join(format!("libifdvpcd-{e}.so"));
        out.push_str(&format!(
            "\nFRIENDLYNAME \"IDMS Sim {}\"\nDEVICENAME /dev/null:{port}\nLIBPATH {}\nCHANNELID {port}\n",
            entry_letter(e),
            lib.display()
        ));
    }
    out
}

fn lock_file(name: &str) -> io::Result<File> {
    let d = dir();
    fs::create_dir_all(&d)?;
    OpenOptions::new().create(true).truncate(false).write(true).open(d.join(name))
}

fn missing(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{what} not found: install the Debian packages pcscd and vsmartcard-vpcd (`make deps` does)"),
    )
}

fn pcscd_binary() -> io::Result<PathBuf> {
    ["/usr/sbin/pcscd", "/usr/local/sbin/pcscd", "/sbin/pcscd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or_else(|| missing("pcscd"))
}

/// A live (not zombie) process's command line, NUL-separated.
fn live_cmdline(pid: u32) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The state follows the parenthesised command name.
    let state = stat.rsplit_once(')')?.1.split_whitespace().next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(String::from_utf8_lossy(&raw).replace('\0', " "))
}

/// Every live pcscd on the machine, with its command line.
fn pcscds() -> Vec<(u32, String)> {
    let Ok(rd) = fs::read_dir("/proc") else { return Vec::new() };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "pcscd"))
        .filter_map(|pid| Some((pid, live_cmdline(pid)?)))
        .collect()
}

/// Whether something listens on TCP `port` (from `/proc/net/tcp`, so
/// nothing connects: connecting to a vpcd port would insert a card).
fn listening(port: u16) -> bool {
    let want = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().filter_map(|f| fs::read_to_string(f).ok()).any(|t| {
        t.lines().skip(1).any(|l| {
            let mut cols = l.split_whitespace();
            let local = cols.nth(1).unwrap_or("");
            let state = cols.nth(1).unwrap_or("");
            local.ends_with(&want) && state == "0A"
        })
    })
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").args([sig, &pid.to_string()]).stderr(Stdio::null()).status();
}

/// Stops every pcscd on the machine (socket-activated system ones too) and
/// clears what a killed one leaves behind.
pub fn stop_all(kill9: bool) -> io::Result<()> {
    if Path::new("/run/systemd/system").exists() {
        for unit in ["pcscd.socket", "pcscd.service"] {
            let _ = Command::new("systemctl").args(["stop", unit]).stderr(Stdio::null()).status();
        }
    }
    let sig = if kill9 { "-KILL" } else { "-TERM" };
    for (pid, _) in pcscds() {
        signal(pid, sig);
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while !pcscds().is_empty() {
        if Instant::now() > deadline {
            for (pid, _) in pcscds() {
                signal(pid, "-KILL");
            }
        }
        if Instant::now() > deadline + Duration::from_secs(2) {
            return Err(io::Error::other("pcscd would not stop"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // A stale pid file (its process gone or a zombie) makes the next
    // pcscd refuse to start; a stale socket confuses clients.
    let _ = fs::remove_file(PID_FILE);
    let _ = fs::remove_file(SOCKET);
    Ok(())
}

fn config_path(entries: &[usize]) -> PathBuf {
    let tag: String = entries.iter().map(|&e| entry_letter(e)).collect();
    dir().join(format!("reader-{tag}.conf"))
}

/// Starts pcscd with the given vpcd entries after stopping any other, and
/// waits until its readers listen for cards.
pub fn start_with(entries: &[usize]) -> io::Result<()> {
    let bin = pcscd_binary()?;
    if !Path::new(VPCD_DRIVER).exists() {
        return Err(missing("the vpcd driver"));
    }
    let d = dir();
    fs::create_dir_all(&d)?;
    for &e in entries {
        let copy = d.join(format!("libifdvpcd-{e}.so"));
        if !copy.exists() {
            let tmp = d.join(format!(".libifdvpcd-{e}.so.{}", std::process::id()));
            fs::copy(VPCD_DRIVER, &tmp)?;
            fs::rename(&tmp, &copy)?;
        }
    }
    let conf = config_path(entries);
    fs::write(&conf, config_text(entries, &d))?;
    stop_all(false)?;
    let log = OpenOptions::new().create(true).append(true).open(d.join("pcscd.log"))?;
    let mut cmd = Command::new(bin);
    cmd.arg("-f").arg("-c").arg(&conf).stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
    // Its own process group: a test's Ctrl-C or death does not take the
    // shared daemon with it.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ports_up = entries.iter().all(|&e| listening(reader_port(e * 2)) && listening(reader_port(e * 2 + 1)));
        if ports_up && Path::new(SOCKET).exists() {
            return Ok(());
        }
        if let Some(st) = child.try_wait()? {
            return Err(io::Error::other(format!(
                "pcscd exited at start ({st}); see {}",
                d.join("pcscd.log").display()
            )));
        }
        if Instant::now() > deadline {
            return Err(io::Error::other(format!(
                "pcscd did not bring up its virtual readers within 10 s; see {}",
                d.join("pcscd.log").display()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether the running pcscd is ours with every entry, its readers listening.
fn running_ours() -> bool {
    let all: Vec<usize> = (0..ENTRIES).collect();
    let conf = config_path(&all);
    let procs = pcscds();
    procs.len() == 1
        && procs[0].1.contains(&*conf.to_string_lossy())
        && (0..READERS).all(|n| listening(reader_port(n)))
        && Path::new(SOCKET).exists()
}

/// Makes sure one pcscd runs with all the simulator's readers; starts it
/// (stopping any other) when not. Safe to call from many processes at once.
pub fn ensure() -> io::Result<()> {
    let setup = lock_file("setup.lock")?;
    setup.lock()?;
    if running_ours() {
        return Ok(());
    }
    start_with(&(0..ENTRIES).collect::<Vec<_>>())
}

/// One virtual reader, for the holder's exclusive use.
#[derive(Debug)]
pub struct ReaderLease {
    /// The reader's number.
    pub n: usize,
    reader: File,
    /// A shared lock on the daemon, so a test that restarts pcscd waits
    /// until no lease is held.
    _daemon: File,
}

/// How long a reader rests between leases: longer than pcscd's 400 ms
/// presence poll, so the card the last holder took off is gone for pcscd
/// (and vpcd has let go of its connection) before the next holder starts.
const SETTLE: Duration = Duration::from_millis(600);

// Wall-clock time shared between test processes through the lock file;
// the simulator is not the product, so it may read the clock directly.
#[allow(clippy::disallowed_methods)]
fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Drop for ReaderLease {
    fn drop(&mut self) {
        // Record when the reader was released, for the next holder's settle.
        use std::io::{Seek, Write};
        let _ = self.reader.set_len(0);
        let _ = self.reader.seek(io::SeekFrom::Start(0));
        let _ = write!(self.reader, "{}", unix_ms());
    }
}

impl ReaderLease {
    /// The name pcscd reports for the reader.
    #[must_use]
    pub fn name(&self) -> String {
        reader_name(self.n)
    }

    /// Where to connect a card.
    #[must_use]
    pub fn addr(&self) -> (&'static str, u16) {
        ("127.0.0.1", reader_port(self.n))
    }
}

/// Ensures pcscd runs, then waits for a free virtual reader and takes it.
pub fn lease() -> io::Result<ReaderLease> {
    let daemon = lock_file("daemon.lock")?;
    daemon.lock_shared()?;
    ensure()?;
    let files = (0..READERS).map(|n| lock_file(&format!("reader-{n}.lock"))).collect::<io::Result<Vec<_>>>()?;
    loop {
        for (n, f) in files.iter().enumerate() {
            match f.try_lock() {
                Ok(()) => {
                    let released = fs::read_to_string(dir().join(format!("reader-{n}.lock")))
                        .ok()
                        .and_then(|t| t.trim().parse::<u64>().ok())
                        .unwrap_or(0);
                    let rested = Duration::from_millis(unix_ms().saturating_sub(released));
                    std::thread::sleep(SETTLE.saturating_sub(rested));
                    let reader = f.try_clone()?;
                    return Ok(ReaderLease { n, reader, _daemon: daemon });
                }
                Err(fs::TryLockError::WouldBlock) => {}
                Err(fs::TryLockError::Error(e)) => return Err(e),
            }
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The whole daemon, for one test: no reader lease is held meanwhile.
/// Dropping it puts pcscd back as [`ensure`] wants it.
#[derive(Debug)]
pub struct DaemonLease {
    _file: File,
}

/// Waits until no other test uses pcscd, then takes it exclusively.
pub fn exclusive() -> io::Result<DaemonLease> {
    let daemon = lock_file("daemon.lock")?;
    daemon.lock()?;
    ensure()?;
    std::thread::sleep(SETTLE);
    Ok(DaemonLease { _file: daemon })
}

impl DaemonLease {
    /// Kills pcscd with SIGKILL (as a crash would) without starting another.
    pub fn kill(&self) -> io::Result<()> {
        stop_all(true)
    }

    /// Starts pcscd again with only the given entries (readers of the
    /// others disappear).
    pub fn start_with(&self, entries: &[usize]) -> io::Result<()> {
        start_with(entries)
    }
}

impl Drop for DaemonLease {
    fn drop(&mut self) {
        let _ = ensure();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ports_and_config() {
        assert_eq!(reader_name(0), "IDMS Sim A 00 00");
        assert_eq!(reader_name(3), "IDMS Sim B 00 01");
        assert_eq!(reader_port(3), PORT_BASE + 3);
        let c = config_text(&[1], Path::new("/x"));
        assert!(c.contains("FRIENDLYNAME \"IDMS Sim B\""), "{c}");
        assert!(c.contains(&format!("DEVICENAME /dev/null:{}", PORT_BASE + 2)), "{c}");
        assert!(c.contains("LIBPATH /x/libifdvpcd-1.so"), "{c}");
        assert!(!c.contains("IDMS Sim A"), "{c}");
    }
}
