//! Prometheus metrics in the text exposition format, kept with atomics so
//! the door path pays a few relaxed increments.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::domain::{Decision, DenyReason};

/// Upper bounds of the decide latency histogram, in seconds.
const BUCKETS: [f64; 12] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

const REASONS: [DenyReason; 11] = [
    DenyReason::UnknownCredential,
    DenyReason::CredentialInStock,
    DenyReason::CredentialSuspended,
    DenyReason::CredentialLost,
    DenyReason::CredentialStolen,
    DenyReason::CredentialDestroyed,
    DenyReason::HolderSuspended,
    DenyReason::HolderDeleted,
    DenyReason::NotYetValid,
    DenyReason::Expired,
    DenyReason::NoAccessToDoor,
];

/// The service's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    grants: AtomicU64,
    denies: [AtomicU64; 11],
    latency: [AtomicU64; 13],
    latency_sum_us: AtomicU64,
    http: Mutex<BTreeMap<(String, String, u16), u64>>,
}

impl Metrics {
    /// Counts a decision and how long the request took.
    pub fn decision(&self, d: Decision, took: Duration) {
        match d {
            Decision::Grant => self.grants.fetch_add(1, Ordering::Relaxed),
            Decision::Deny(r) => {
                let i = REASONS.iter().position(|x| *x == r).unwrap_or(0);
                self.denies[i].fetch_add(1, Ordering::Relaxed)
            }
        };
        let secs = took.as_secs_f64();
        let b = BUCKETS.iter().position(|&ub| secs <= ub).unwrap_or(BUCKETS.len());
        self.latency[b].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Counts an HTTP response.
    pub fn http(&self, method: &str, route: &str, status: u16) {
        let mut m = self.http.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *m.entry((method.to_string(), route.to_string(), status)).or_insert(0) += 1;
    }

    /// The exposition text; `queue_depth` is read at the time of the scrape.
    #[must_use]
    pub fn render(&self, queue_depth: usize) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# HELP idms_decisions_total Door decisions by result and reason.");
        let _ = writeln!(s, "# TYPE idms_decisions_total counter");
        let _ =
            writeln!(s, "idms_decisions_total{{result=\"grant\",reason=\"\"}} {}", self.grants.load(Ordering::Relaxed));
        for (r, c) in REASONS.iter().zip(&self.denies) {
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
        let _ = writeln!(s, "# HELP idms_http_requests_total HTTP responses by method, route and status.");
        let _ = writeln!(s, "# TYPE idms_http_requests_total counter");
        let m = self.http.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for ((method, route, status), n) in m.iter() {
            let _ = writeln!(
                s,
                "idms_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        s
    }
}
