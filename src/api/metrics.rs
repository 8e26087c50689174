//! Prometheus metrics in the text exposition format, kept with atomics so
//! the door path pays a few relaxed increments. With `metrics_token` set,
//! `/metrics` answers only a scraper that sends it as a bearer token,
//! compared in constant time; anyone else gets 401.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::{ApiError, Problem};
use crate::domain::{Decision, DenyReason};

/// Prometheus metrics (with `metrics_token` set: only for
/// `Authorization: Bearer <metrics_token>`).
#[utoipa::path(get, path = "/metrics", tag = "ops", responses(
    (status = 200, body = String, content_type = "text/plain"),
    (status = 401, body = Problem, content_type = "application/problem+json"),
))]
pub async fn scrape(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if !s.metrics.admits(headers.get(header::AUTHORIZATION)) {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "/metrics needs `Authorization: Bearer` with the service's metrics_token",
        )
        .into_response();
    }
    let mut text = s.metrics.render(s.events.depth(), s.store.index().applied_seq());
    let _ = writeln!(
        text,
        "# HELP idms_event_log_failing 1 while the access-event log's commits fail (a full or failing disk): doors are refused, OSDP readers follow osdp_on_log_failure.\n\
         # TYPE idms_event_log_failing gauge\nidms_event_log_failing {}",
        u8::from(s.events.failing())
    );
    if let Ok(space) = crate::disk::Space::of(&s.data_dir) {
        let _ = writeln!(
            text,
            "# HELP idms_data_dir_free_bytes Free space on the data directory's file system (below disk_free_warn_percent, /readyz warns).\n\
             # TYPE idms_data_dir_free_bytes gauge\nidms_data_dir_free_bytes {}\n\
             # HELP idms_data_dir_size_bytes The size of the data directory's file system.\n\
             # TYPE idms_data_dir_size_bytes gauge\nidms_data_dir_size_bytes {}",
            space.free, space.total
        );
    }
    let mut r = text.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    r
}

/// The SHA-256 of the metrics token: equal-length digests compare in
/// constant time whatever the length of what a caller sends.
struct TokenDigest([u8; 32]);

impl std::fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenDigest(..)")
    }
}

/// Upper bounds of the decide latency histogram, in seconds.
const BUCKETS: &[f64] = &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

/// The service's counters. Every array's length comes from the list it
/// counts (deny reasons, buckets, methods, statuses), so none can drift.
#[derive(Debug, Default)]
pub struct Metrics {
    grants: AtomicU64,
    denies: [AtomicU64; DenyReason::ALL.len()],
    /// One per bucket, then one past the last (`+Inf`).
    latency: [AtomicU64; BUCKETS.len() + 1],
    latency_sum_us: AtomicU64,
    refusals_not_audited: AtomicU64,
    /// OSDP door reads decided while their event could not be queued (`osdp_on_log_failure = "decide"`).
    osdp_events_lost: AtomicU64,
    /// OSDP door reads denied because their event could not be logged (`osdp_on_log_failure = "deny"`).
    osdp_reads_refused: AtomicU64,
    /// Per route (by its index in `routes`): counts by method and status.
    http: HttpCounters,
    /// Set once at start when scrapes need a token.
    token: OnceLock<TokenDigest>,
}

/// Statuses the API answers, counted on their own.
const STATUSES: &[u16] =
    &[200, 201, 202, 204, 400, 401, 403, 404, 405, 408, 409, 413, 415, 422, 429, 500, 502, 503, 504, 507];
/// Any other status is counted by its class, `1xx` to `5xx`.
const CLASSES: &[&str] = &["1xx", "2xx", "3xx", "4xx", "5xx"];
/// A cell per status, then one per class.
const CELLS: usize = STATUSES.len() + CLASSES.len();
const METHODS: &[&str] = &["GET", "POST", "PATCH", "PUT", "DELETE"];

/// Where `status` is counted: its own cell, else its class's (a status
/// outside 100–599 — no server sends one — with `5xx`).
fn cell(status: u16) -> usize {
    STATUSES.iter().position(|x| *x == status).unwrap_or_else(|| {
        let class = usize::from(status / 100).clamp(1, CLASSES.len());
        STATUSES.len() + class - 1
    })
}

/// The `status` label of a cell.
fn label(cell: usize) -> String {
    STATUSES.get(cell).map_or_else(|| CLASSES[cell - STATUSES.len()].to_owned(), u16::to_string)
}

/// Lock-free HTTP counters for a fixed set of routes (the door path pays
/// one hash look-up of a borrowed string and one atomic increment).
#[derive(Debug, Default)]
struct HttpCounters {
    routes: Vec<String>,
    index: HashMap<String, usize>,
    counts: Vec<[[AtomicU64; CELLS]; METHODS.len()]>,
    unmatched: [[AtomicU64; CELLS]; METHODS.len()],
}

impl Metrics {
    /// From now on, [`scrape`] answers only `Authorization: Bearer <token>`.
    /// Set once (at start); a second call changes nothing and says so.
    pub fn require_token(&self, token: &str) -> bool {
        self.token.set(TokenDigest(Sha256::digest(token.as_bytes()).into())).is_ok()
    }

    /// Whether a scrape with this `Authorization` header may read the metrics.
    fn admits(&self, authorization: Option<&HeaderValue>) -> bool {
        let Some(TokenDigest(want)) = self.token.get() else { return true };
        let Some(v) = authorization.map(HeaderValue::as_bytes) else { return false };
        let Some(given) = v.strip_prefix(b"Bearer ").or_else(|| v.strip_prefix(b"bearer ")) else { return false };
        let given = given.trim_ascii();
        let given: [u8; 32] = Sha256::digest(given).into();
        bool::from(given.ct_eq(want))
    }

    /// Counts a decision and how long the request took.
    pub fn decision(&self, d: Decision, took: Duration) {
        match d {
            Decision::Grant => self.grants.fetch_add(1, Ordering::Relaxed),
            Decision::Deny(r) => {
                let i = DenyReason::ALL.iter().position(|x| *x == r).unwrap_or(0);
                self.denies[i].fetch_add(1, Ordering::Relaxed)
            }
        };
        let secs = took.as_secs_f64();
        let b = BUCKETS.iter().position(|&ub| secs <= ub).unwrap_or(BUCKETS.len());
        self.latency[b].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Counters for these routes (the router's paths).
    #[must_use]
    pub fn with_routes(routes: impl IntoIterator<Item = String>) -> Self {
        let routes: Vec<String> = routes.into_iter().collect();
        let index = routes.iter().enumerate().map(|(i, r)| (r.clone(), i)).collect();
        let counts = routes.iter().map(|_| Default::default()).collect();
        Self { http: HttpCounters { routes, index, counts, unmatched: Default::default() }, ..Self::default() }
    }

    /// Counts a refusal the audit queue had no room for.
    pub fn refusal_not_audited(&self) {
        self.refusals_not_audited.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an OSDP door read decided without its event (the queue had
    /// no room while the log could not commit).
    pub fn osdp_event_lost(&self) {
        self.osdp_events_lost.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an OSDP door read denied because its event could not be
    /// logged.
    pub fn osdp_read_refused(&self) {
        self.osdp_reads_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an HTTP response. Methods other than the five common ones are not counted.
    pub fn http(&self, method: &str, route: Option<&str>, status: u16) {
        let Some(m) = METHODS.iter().position(|x| *x == method) else { return };
        let s = cell(status);
        let row = match route.and_then(|r| self.http.index.get(r)) {
            Some(&i) => &self.http.counts[i],
            None => &self.http.unmatched,
        };
        row[m][s].fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition text; `queue_depth` and `applied_seq` (the change-log
    /// position the door index reflects) are read at the time of the scrape.
    #[must_use]
    pub fn render(&self, queue_depth: usize, applied_seq: i64) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# HELP idms_index_applied_seq The change-log position door decisions reflect: a write at or below it is in force at the doors."
        );
        let _ = writeln!(s, "# TYPE idms_index_applied_seq gauge");
        let _ = writeln!(s, "idms_index_applied_seq {applied_seq}");
        let _ = writeln!(s, "# HELP idms_decisions_total Door decisions by result and reason.");
        let _ = writeln!(s, "# TYPE idms_decisions_total counter");
        let _ =
            writeln!(s, "idms_decisions_total{{result=\"grant\",reason=\"\"}} {}", self.grants.load(Ordering::Relaxed));
        for (r, c) in DenyReason::ALL.iter().zip(&self.denies) {
            let _ = writeln!(
                s,
                "idms_decisions_total{{result=\"deny\",reason=\"{}\"}} {}",
                r.code(),
                c.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            s,
            "# HELP idms_decide_duration_seconds Time to answer POST /access/decide, event commit included."
        );
        let _ = writeln!(s, "# TYPE idms_decide_duration_seconds histogram");
        let mut cum = 0;
        for (i, ub) in BUCKETS.iter().enumerate() {
            cum += self.latency[i].load(Ordering::Relaxed);
            let _ = writeln!(s, "idms_decide_duration_seconds_bucket{{le=\"{ub}\"}} {cum}");
        }
        cum += self.latency[BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(s, "idms_decide_duration_seconds_bucket{{le=\"+Inf\"}} {cum}");
        let sum = self.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(s, "idms_decide_duration_seconds_sum {sum}");
        let _ = writeln!(s, "idms_decide_duration_seconds_count {cum}");
        let _ = writeln!(s, "# HELP idms_event_queue_depth Access-event submissions waiting for the group commit.");
        let _ = writeln!(s, "# TYPE idms_event_queue_depth gauge");
        let _ = writeln!(s, "idms_event_queue_depth {queue_depth}");
        let _ =
            writeln!(s, "# HELP idms_refusals_not_audited_total Refusals dropped because the audit queue was full.");
        let _ = writeln!(s, "# TYPE idms_refusals_not_audited_total counter");
        let _ = writeln!(s, "idms_refusals_not_audited_total {}", self.refusals_not_audited.load(Ordering::Relaxed));
        let _ = writeln!(
            s,
            "# HELP idms_osdp_events_lost_total OSDP door reads decided while the event log failed and its queue was full: their events are lost (audited as osdp.events_lost)."
        );
        let _ = writeln!(s, "# TYPE idms_osdp_events_lost_total counter");
        let _ = writeln!(s, "idms_osdp_events_lost_total {}", self.osdp_events_lost.load(Ordering::Relaxed));
        let _ = writeln!(
            s,
            "# HELP idms_osdp_reads_refused_total OSDP door reads denied because their event could not be logged (osdp_on_log_failure = \"deny\"; audited as osdp.reads_refused)."
        );
        let _ = writeln!(s, "# TYPE idms_osdp_reads_refused_total counter");
        let _ = writeln!(s, "idms_osdp_reads_refused_total {}", self.osdp_reads_refused.load(Ordering::Relaxed));
        let _ = writeln!(s, "# HELP idms_http_requests_total HTTP responses by method, route and status.");
        let _ = writeln!(s, "# TYPE idms_http_requests_total counter");
        let rows = self.http.routes.iter().map(String::as_str).zip(self.http.counts.iter());
        for (route, row) in rows.chain(std::iter::once(("unmatched", &self.http.unmatched))) {
            for (method, cells) in METHODS.iter().zip(row) {
                for (i, c) in cells.iter().enumerate() {
                    let n = c.load(Ordering::Relaxed);
                    if n == 0 {
                        continue;
                    }
                    let status = label(i);
                    let _ = writeln!(
                        s,
                        "idms_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
                    );
                }
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count_of(text: &str, status: &str) -> u64 {
        let prefix = format!("idms_http_requests_total{{method=\"GET\",route=\"unmatched\",status=\"{status}\"}} ");
        text.lines().find_map(|l| l.strip_prefix(prefix.as_str())).map_or(0, |n| n.parse().unwrap())
    }

    #[test]
    fn every_status_is_counted_as_itself_or_its_own_class() {
        let m = Metrics::default();
        for status in 100..=599 {
            m.http("GET", None, status);
        }
        let text = m.render(0, 0);
        for class in 1..=5 {
            let own = STATUSES.iter().filter(|s| **s / 100 == class).count() as u64;
            assert_eq!(count_of(&text, &format!("{class}xx")), 100 - own, "{class}xx:\n{text}");
        }
        for s in STATUSES {
            assert_eq!(count_of(&text, &s.to_string()), 1, "{s}");
        }
        // The ones that landed in 4xx before: success is success.
        let m = Metrics::default();
        for status in [202, 204, 206] {
            m.http("GET", None, status);
        }
        let text = m.render(0, 0);
        assert_eq!((count_of(&text, "202"), count_of(&text, "204"), count_of(&text, "2xx")), (1, 1, 1), "{text}");
        assert_eq!(count_of(&text, "4xx"), 0, "{text}");
    }

    #[test]
    fn every_deny_reason_and_bucket_has_its_counter() {
        let m = Metrics::default();
        for r in DenyReason::ALL {
            m.decision(Decision::Deny(r), Duration::from_secs(2));
        }
        for ub in BUCKETS {
            m.decision(Decision::Grant, Duration::from_secs_f64(*ub));
        }
        let text = m.render(0, 0);
        for r in DenyReason::ALL {
            let line = format!("idms_decisions_total{{result=\"deny\",reason=\"{}\"}} 1", r.code());
            assert!(text.lines().any(|l| l == line), "{line}");
        }
        // Cumulative: the bucket of bound i holds the i + 1 grants at or below it.
        for (i, ub) in BUCKETS.iter().enumerate() {
            let line = format!("idms_decide_duration_seconds_bucket{{le=\"{ub}\"}} {}", i + 1);
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
        let all = BUCKETS.len() + DenyReason::ALL.len();
        assert!(text.contains(&format!("idms_decide_duration_seconds_bucket{{le=\"+Inf\"}} {all}")), "{text}");
    }
}
