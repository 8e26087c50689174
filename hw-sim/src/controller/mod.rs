//! A simulated door controller: the reference implementation of the
//! controller side of `docs/controllers.md`, written only against that
//! contract (HTTP and JSON, never the service's code).
//!
//! - [`rule`]: the offline decision rule (one pure function);
//! - [`wire`]: the door API's JSON, RFC 3339 times;
//! - [`feed`]: the credential list kept in step with the feed (snapshot
//!   staging, deltas, saved atomically with its cursor);
//! - [`buffer`]: the durable buffer of access events still to upload;
//! - [`Controller`]: online decisions with the offline fallback, sync,
//!   upload, and the background loop with backoff.

pub mod buffer;
pub mod feed;
pub mod rule;
pub mod wire;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use buffer::{Buffer, NewEvent};
use feed::{Applied, Feed};
use wire::{DecideAnswer, Event, Kind, UploadAnswer, format_rfc3339, parse_page};

/// At most this many events per upload (the contract's limit).
pub const UPLOAD_BATCH: usize = 1000;

/// A feed page may be this large (100,000 entries of the longest fields).
const MAX_PAGE_BYTES: u64 = 256 << 20;

/// The controller's clock: unix seconds.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock (the one place the controller reads it).
#[must_use]
#[allow(clippy::disallowed_methods)]
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    })
}

/// How the controller is set up.
#[derive(Clone)]
pub struct Config {
    /// The service, e.g. `http://127.0.0.1:8080` (no trailing slash needed).
    pub url: String,
    /// The controller's bearer token.
    pub token: String,
    /// Its doors, exactly as registered.
    pub doors: Vec<String>,
    /// Where the list and the event buffer live.
    pub data_dir: PathBuf,
    /// Now, in unix seconds.
    pub clock: Clock,
    /// Per request (the contract recommends 2 s).
    pub timeout: Duration,
    /// Feed page size (`None`: the service's default).
    pub page_limit: Option<usize>,
}

impl Config {
    /// A configuration with the system clock, a 2 s timeout and the default page size.
    #[must_use]
    pub fn new(url: &str, token: &str, doors: Vec<String>, data_dir: PathBuf) -> Self {
        Self {
            url: url.trim_end_matches('/').to_string(),
            token: token.to_string(),
            doors,
            data_dir,
            clock: system_clock(),
            timeout: Duration::from_secs(2),
            page_limit: None,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("url", &self.url)
            .field("doors", &self.doors)
            .field("data_dir", &self.data_dir)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Why a request got no usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetError {
    /// No connection, a reset, or a timeout.
    Unreachable(String),
    /// An HTTP status other than 200, with the problem's `code` if any.
    Status(u16, Option<String>),
    /// A 200 whose body is not what the contract says.
    Invalid(String),
    /// The controller's own disk failed.
    Disk(String),
}

impl std::fmt::Display for NetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable(e) => write!(f, "service unreachable: {e}"),
            Self::Status(s, Some(c)) => write!(f, "HTTP {s} {c}"),
            Self::Status(s, None) => write!(f, "HTTP {s}"),
            Self::Invalid(e) => write!(f, "unexpected answer: {e}"),
            Self::Disk(e) => write!(f, "controller disk: {e}"),
        }
    }
}

impl std::error::Error for NetError {}

/// A decision the controller reported to its door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Open.
    pub grant: bool,
    /// The deny reason's code.
    pub reason: Option<String>,
    /// The holder.
    pub user_id: Option<String>,
    /// Decided by the service (`false`: by the offline rule).
    pub online: bool,
    /// Offline: the cursor of the list it decided with (`None`: no list yet).
    pub cursor: Option<String>,
    /// Offline: the buffered event's ID.
    pub event_id: Option<String>,
}

impl Outcome {
    /// `grant`, or `deny REASON`.
    #[must_use]
    pub fn verdict(&self) -> String {
        match (&self.grant, &self.reason) {
            (true, _) => "grant".into(),
            (false, Some(r)) => format!("deny {r}"),
            (false, None) => "deny".into(),
        }
    }
}

/// What one full sync did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// Snapshot or delta (of the last completed sequence).
    pub kind: Option<Kind>,
    /// Pages fetched.
    pub pages: u32,
    /// Entries held afterwards.
    pub entries: usize,
    /// The list's cursor afterwards.
    pub cursor: Option<String>,
}

/// What an upload did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadReport {
    /// Batches answered 200.
    pub batches: usize,
    /// Events sent in those batches.
    pub sent: usize,
    /// The service's counts, summed.
    pub accepted: u64,
    /// Already stored.
    pub duplicates: u64,
    /// Known IDs with other content.
    pub conflicts: u64,
    /// Refused.
    pub rejected: u64,
    /// Dropped from the buffer.
    pub settled: usize,
    /// Still buffered afterwards.
    pub pending: usize,
    /// The last skew the service measured.
    pub skew_secs: Option<i64>,
    /// Why it stopped early (nothing of that batch settled).
    pub error: Option<NetError>,
}

/// The controller.
pub struct Controller {
    cfg: Config,
    agent: ureq::Agent,
    feed: Mutex<Feed>,
    buffer: Mutex<Buffer>,
    /// One sync at a time.
    syncing: Mutex<()>,
    /// One upload at a time.
    uploading: Mutex<()>,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Controller {
    /// Opens the controller's data directory (its list, cursor and buffered events).
    ///
    /// # Errors
    /// The data directory cannot be read or created.
    pub fn open(cfg: Config) -> std::io::Result<Self> {
        let feed = Feed::open(&cfg.data_dir)?;
        let buffer = Buffer::open(&cfg.data_dir)?;
        let agent: ureq::Agent =
            ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(cfg.timeout)).build().into();
        Ok(Self {
            cfg,
            agent,
            feed: Mutex::new(feed),
            buffer: Mutex::new(buffer),
            syncing: Mutex::new(()),
            uploading: Mutex::new(()),
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The list's cursor.
    #[must_use]
    pub fn cursor(&self) -> Option<String> {
        lock(&self.feed).cursor().map(str::to_string)
    }

    /// Entries in the list.
    #[must_use]
    pub fn entries(&self) -> usize {
        lock(&self.feed).list().len()
    }

    /// The list (a copy).
    #[must_use]
    pub fn list(&self) -> rule::List {
        lock(&self.feed).list().clone()
    }

    /// Events waiting for upload (copies, oldest first).
    #[must_use]
    pub fn pending(&self) -> Vec<Event> {
        lock(&self.buffer).pending().to_vec()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.cfg.url)
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.cfg.token)
    }

    /// A non-200 answer as an error, with the problem's code if readable.
    fn status(mut res: ureq::http::Response<ureq::Body>) -> NetError {
        let code = res
            .body_mut()
            .read_json::<serde_json::Value>()
            .ok()
            .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_string));
        NetError::Status(res.status().as_u16(), code)
    }

    /// Asks the service (`POST /api/v1/access/decide`).
    ///
    /// # Errors
    /// No connection, a timeout, a non-200 answer, or an unreadable one.
    pub fn decide_online(&self, door: &str, technology: Option<&str>, uid: &[u8]) -> Result<Outcome, NetError> {
        let mut body = serde_json::json!({"uid": rule::hex(uid), "door": door});
        if let Some(t) = technology {
            body["technology"] = t.into();
        }
        let mut res = self
            .agent
            .post(&self.url("/api/v1/access/decide"))
            .header("Authorization", &self.auth())
            .send_json(&body)
            .map_err(|e| NetError::Unreachable(e.to_string()))?;
        if res.status() != 200 {
            return Err(Self::status(res));
        }
        let a: DecideAnswer = res.body_mut().read_json().map_err(|e| NetError::Invalid(e.to_string()))?;
        Ok(Outcome {
            grant: a.decision == "grant",
            reason: a.reason,
            user_id: a.user_id,
            online: true,
            cursor: None,
            event_id: None,
        })
    }

    /// Decides from the list alone and buffers the event (durable before
    /// this returns).
    ///
    /// # Errors
    /// The event could not be made durable (the door must then deny: an
    /// access the controller cannot log is not granted).
    pub fn decide_offline(&self, door: &str, technology: Option<&str>, uid: &[u8]) -> std::io::Result<Outcome> {
        let now = (self.cfg.clock)();
        let (d, cursor) = {
            let feed = lock(&self.feed);
            (rule::decide(feed.list(), door, technology, uid, now), feed.cursor().map(str::to_string))
        };
        let event = lock(&self.buffer).record(NewEvent {
            at: now,
            door: door.to_string(),
            uid: rule::hex(uid),
            technology: technology.map(str::to_string),
            grant: d.grant,
            reason: d.reason.map(str::to_string),
            user_id: d.user_id.clone(),
        })?;
        Ok(Outcome {
            grant: d.grant,
            reason: d.reason.map(str::to_string),
            user_id: d.user_id,
            online: false,
            cursor,
            event_id: Some(event.event_id),
        })
    }

    /// A card at `door`: the service's answer, or, on any failure to get
    /// one (timeout, no connection, non-200), the offline rule's, buffered
    /// for upload. Online decisions are logged by the service and not
    /// buffered.
    ///
    /// # Errors
    /// `uid` is not hex, or an offline event could not be made durable.
    pub fn decide(&self, door: &str, technology: Option<&str>, uid: &str) -> Result<Outcome, String> {
        let bytes = rule::parse_uid(uid).ok_or_else(|| format!("{uid:?} is not a UID in hex"))?;
        match self.decide_online(door, technology, &bytes) {
            Ok(o) => Ok(o),
            Err(_) => self.decide_offline(door, technology, &bytes).map_err(|e| format!("event buffer: {e}")),
        }
    }

    /// Fetches one feed page from `since`.
    ///
    /// # Errors
    /// No connection, a timeout, a non-200 answer, or an unreadable one.
    pub fn fetch_page(&self, since: Option<&str>) -> Result<wire::Page, NetError> {
        let mut req = self
            .agent
            .get(&self.url("/api/v1/controllers/me/credentials"))
            .header("Authorization", &self.auth())
            .header("Accept-Encoding", "gzip");
        if let Some(s) = since {
            req = req.query("since", s);
        }
        if let Some(l) = self.cfg.page_limit {
            req = req.query("limit", l.to_string());
        }
        let mut res = req.call().map_err(|e| NetError::Unreachable(e.to_string()))?;
        if res.status() != 200 {
            return Err(Self::status(res));
        }
        let body = res
            .body_mut()
            .with_config()
            .limit(MAX_PAGE_BYTES)
            .read_to_vec()
            .map_err(|e| NetError::Unreachable(e.to_string()))?;
        parse_page(&body).map_err(NetError::Invalid)
    }

    /// Applies one page to the list (for benchmarks and tests that feed
    /// pages themselves).
    ///
    /// # Errors
    /// The completed list could not be saved.
    pub fn apply_page(&self, page: wire::Page) -> std::io::Result<Applied> {
        lock(&self.feed).apply(page)
    }

    /// One full sync: pages until the feed says there are no more. A
    /// failure mid-way keeps the staged pages (the next sync goes on from
    /// them) and the list as it was.
    ///
    /// # Errors
    /// The first page that failed.
    pub fn sync(&self) -> Result<SyncReport, NetError> {
        let _one = lock(&self.syncing);
        let mut pages = 0;
        let mut restarts = 0;
        let kind = loop {
            let since = lock(&self.feed).since().map(str::to_string);
            let page = self.fetch_page(since.as_deref())?;
            pages += 1;
            let applied = lock(&self.feed).apply(page).map_err(|e| NetError::Disk(e.to_string()))?;
            match applied {
                Applied::Staged => {}
                Applied::Complete { kind, .. } => break Some(kind),
                Applied::Restarted => {
                    restarts += 1;
                    if restarts > 3 {
                        return Err(NetError::Invalid("the feed's pages do not follow each other".into()));
                    }
                }
            }
        };
        let feed = lock(&self.feed);
        Ok(SyncReport { kind, pages, entries: feed.list().len(), cursor: feed.cursor().map(str::to_string) })
    }

    /// Uploads every buffered event in batches of at most 1,000, each with
    /// `sent_at`. A 200 settles each event whose result is not a refusal
    /// the service could not quarantine (a 200 without per-event results
    /// settles the whole batch); any other answer settles nothing and ends
    /// the upload (retry later: uploads are idempotent on `event_id`).
    #[must_use]
    pub fn upload(&self) -> UploadReport {
        let _one = lock(&self.uploading);
        let mut r = UploadReport::default();
        // Events kept after a 200 (quarantine full) are skipped this round.
        let mut skip = 0;
        loop {
            let batch: Vec<Event> =
                lock(&self.buffer).pending().iter().skip(skip).take(UPLOAD_BATCH).cloned().collect();
            if batch.is_empty() {
                break;
            }
            match self.post_events(&batch) {
                Ok(a) => {
                    let settled: Vec<String> = match &a.results {
                        Some(results) if results.len() == batch.len() => batch
                            .iter()
                            .zip(results)
                            .filter(|(_, res)| res.settles())
                            .map(|(e, _)| e.event_id.clone())
                            .collect(),
                        Some(_) => {
                            r.error = Some(NetError::Invalid("results do not match the events sent".into()));
                            break;
                        }
                        None => batch.iter().map(|e| e.event_id.clone()).collect(),
                    };
                    r.batches += 1;
                    r.sent += batch.len();
                    r.accepted += a.accepted;
                    r.duplicates += a.duplicates;
                    r.conflicts += a.conflicts;
                    r.rejected += a.rejected;
                    r.skew_secs = a.skew_secs.or(r.skew_secs);
                    skip += batch.len() - settled.len();
                    r.settled += settled.len();
                    if let Err(e) = lock(&self.buffer).settle(&settled) {
                        r.error = Some(NetError::Disk(e.to_string()));
                        break;
                    }
                }
                Err(e) => {
                    r.error = Some(e);
                    break;
                }
            }
        }
        r.pending = lock(&self.buffer).len();
        r
    }

    fn post_events(&self, batch: &[Event]) -> Result<UploadAnswer, NetError> {
        let body = serde_json::json!({"sent_at": format_rfc3339((self.cfg.clock)()), "events": batch});
        let mut res = self
            .agent
            .post(&self.url("/api/v1/access/events"))
            .header("Authorization", &self.auth())
            .send_json(&body)
            .map_err(|e| NetError::Unreachable(e.to_string()))?;
        if res.status() != 200 {
            return Err(Self::status(res));
        }
        res.body_mut().read_json().map_err(|e| NetError::Invalid(e.to_string()))
    }

    /// Syncs and uploads every `poll` while both succeed; after a failure,
    /// waits with [`Backoff`] instead. Runs on its own thread until the
    /// returned handle is stopped or dropped.
    ///
    /// # Errors
    /// The thread could not be started.
    pub fn spawn(self: &Arc<Self>, poll: Duration, log: fn(&str)) -> std::io::Result<Background> {
        let stop = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let (c, s) = (self.clone(), stop.clone());
        let thread = std::thread::Builder::new().name("controller-sync".into()).spawn(move || {
            let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
            loop {
                let synced = c.sync();
                let up = c.upload();
                let wait = match (&synced, &up.error) {
                    (Ok(_), None) => {
                        backoff.reset();
                        poll
                    }
                    (Err(e), _) | (Ok(_), Some(e)) => {
                        let w = backoff.next_delay();
                        log(&format!("{e}; retrying in {:.1} s", w.as_secs_f64()));
                        w
                    }
                };
                let (m, cv) = &*s;
                let stopped = lock(m);
                let (stopped, _) =
                    cv.wait_timeout_while(stopped, wait, |st| !*st).unwrap_or_else(PoisonError::into_inner);
                if *stopped {
                    break;
                }
            }
        })?;
        Ok(Background { stop, thread: Some(thread) })
    }
}

/// The background sync and upload loop.
#[derive(Debug)]
pub struct Background {
    stop: Arc<(Mutex<bool>, std::sync::Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Stops the loop and waits for it.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        let (m, cv) = &*self.stop;
        *lock(m) = true;
        cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Exponential backoff with jitter: the n-th consecutive failure waits a
/// random time in `[d/2, d]`, `d = min(cap, base · 2ⁿ)`.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: u32,
    seed: u64,
}

impl Backoff {
    /// Starting at `base`, never above `cap`.
    #[must_use]
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self { base, cap, failures: 0, seed: buffer::random_u64() | 1 }
    }

    /// After a success.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// The wait after one more failure.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.base.saturating_mul(1u32 << self.failures.min(20)).min(self.cap);
        self.failures = self.failures.saturating_add(1);
        // xorshift64*: enough randomness to spread controllers apart.
        self.seed ^= self.seed >> 12;
        self.seed ^= self.seed << 25;
        self.seed ^= self.seed >> 27;
        let r = self.seed.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11; // 53 bits
        #[allow(clippy::cast_precision_loss)]
        let frac = 0.5 + 0.5 * (r as f64 / (1u64 << 53) as f64);
        d.mul_f64(frac)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_its_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let waits: Vec<f64> = (0..10).map(|_| b.next_delay().as_secs_f64()).collect();
        for (n, w) in waits.iter().enumerate() {
            let d = (1u64 << n).min(60) as f64;
            assert!((d / 2.0..=d).contains(w), "failure {n}: {w} s not in [{}, {d}]", d / 2.0);
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_secs(1));
    }

    #[test]
    fn an_unreachable_service_gives_offline_decisions_that_are_buffered() {
        let dir = tempfile::tempdir().unwrap();
        // A port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let cfg = Config::new(&format!("http://127.0.0.1:{port}"), "t", vec!["main".into()], dir.path().into());
        let c = Controller::open(cfg).unwrap();
        let o = c.decide("main", None, "04a1b2c3").unwrap();
        assert_eq!(
            (o.grant, o.reason.as_deref(), o.online, o.cursor),
            (false, Some("unknown_credential"), false, None)
        );
        assert_eq!(c.pending().len(), 1);
        assert!(matches!(c.sync(), Err(NetError::Unreachable(_))));
        let up = c.upload();
        assert!(matches!(up.error, Some(NetError::Unreachable(_))) && up.pending == 1 && up.settled == 0);
        assert!(c.decide("main", None, "xyz").is_err());
        drop(c);
        let cfg = Config::new("http://127.0.0.1:1", "t", vec!["main".into()], dir.path().into());
        assert_eq!(Controller::open(cfg).unwrap().pending().len(), 1, "the event survived a restart");
    }
}
