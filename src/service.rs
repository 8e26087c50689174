//! `idms serve`: configuration, start-up, the change-log tailer, and
//! graceful shutdown (drain requests, then flush the access-event log).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Deserialize;

use crate::api::{AppState, router};
use crate::clock::SystemClock;
use crate::store::{DB_FILE, Store, StoreError};

/// Service configuration: a TOML file, then `IDMS_*` variables, then flags.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Data directory (`idms.db`, `events.db`).
    pub data_dir: PathBuf,
    /// Listen address.
    pub listen: SocketAddr,
    /// Log format: `human` or `json`.
    pub log_format: String,
    /// Log filter.
    pub log: String,
    /// Access-event queue capacity (submissions).
    pub event_queue: usize,
    /// How often to tail the change log for other processes' writes, in ms.
    pub tail_interval_ms: u64,
    /// How long a small group of access events waits for company before its
    /// commit, in µs (fewer, larger commits under load; 0 disables).
    pub event_commit_delay_us: u64,
    /// Async worker threads (default: one per core but one, left to the
    /// access-event writer; at least one).
    pub workers: Option<usize>,
    /// Watch PC/SC desk readers through pcscd (default on; the service runs
    /// without pcscd and connects when it appears).
    pub pcsc: bool,
    /// Watch only PC/SC readers whose name starts with one of these
    /// (default: all).
    pub pcsc_readers: Vec<String>,
    /// A re-read of the same card within this many ms of its removal is
    /// not a new tap.
    pub pcsc_debounce_ms: u64,
    /// OSDP serial lines (`[[osdp]]` tables: port, baud, poll_ms, devices).
    pub osdp: Vec<crate::readers::osdp::LineConfig>,
    /// Access events older than this many days are deleted (at start, then
    /// hourly); at least 1.
    pub events_retention_days: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: default_data_dir(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            log_format: "human".into(),
            log: "info".into(),
            event_queue: 65_536,
            tail_interval_ms: 50,
            event_commit_delay_us: 200,
            workers: None,
            pcsc: true,
            pcsc_readers: Vec::new(),
            pcsc_debounce_ms: 300,
            osdp: Vec::new(),
            events_retention_days: 365,
        }
    }
}

/// The async runtime for the service: `workers` threads (see [`Config::workers`]).
pub fn runtime(workers: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    // Measured with make bench-http on 2 cores: one worker plus the event
    // writer beat two workers (fewer cross-thread wake-ups per group commit).
    let n = workers.unwrap_or(cores.saturating_sub(1)).max(1);
    tokio::runtime::Builder::new_multi_thread().worker_threads(n).enable_all().build()
}

/// `$HOME/.local/share/idms`, or `./idms-data` without a home.
#[must_use]
pub fn default_data_dir() -> PathBuf {
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".local/share/idms"),
        None => PathBuf::from("idms-data"),
    }
}

impl Config {
    /// Reads `file` (if given), then applies `IDMS_DATA_DIR`, `IDMS_LISTEN`,
    /// `IDMS_LOG`, `IDMS_LOG_FORMAT`, `IDMS_EVENT_QUEUE`, `IDMS_PCSC`
    /// (`true`/`false`), `IDMS_PCSC_READERS` (comma-separated name prefixes),
    /// `IDMS_EVENTS_RETENTION_DAYS`.
    pub fn load(file: Option<&Path>) -> Result<Self, String> {
        let mut c = match file {
            Some(f) => {
                let text = std::fs::read_to_string(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
                toml::from_str(&text).map_err(|e| format!("{}: {e}", f.display()))?
            }
            None => Self::default(),
        };
        if let Ok(v) = std::env::var("IDMS_DATA_DIR") {
            c.data_dir = v.into();
        }
        if let Ok(v) = std::env::var("IDMS_LISTEN") {
            c.listen = v.parse().map_err(|e| format!("IDMS_LISTEN: {e}"))?;
        }
        if let Ok(v) = std::env::var("IDMS_LOG") {
            c.log = v;
        }
        if let Ok(v) = std::env::var("IDMS_LOG_FORMAT") {
            c.log_format = v;
        }
        if let Ok(v) = std::env::var("IDMS_TAIL_INTERVAL_MS") {
            c.tail_interval_ms = v.parse().map_err(|e| format!("IDMS_TAIL_INTERVAL_MS: {e}"))?;
        }
        if let Ok(v) = std::env::var("IDMS_EVENT_COMMIT_DELAY_US") {
            c.event_commit_delay_us = v.parse().map_err(|e| format!("IDMS_EVENT_COMMIT_DELAY_US: {e}"))?;
        }
        if let Ok(v) = std::env::var("IDMS_WORKERS") {
            c.workers = Some(v.parse().map_err(|e| format!("IDMS_WORKERS: {e}"))?);
        }
        if let Ok(v) = std::env::var("IDMS_PCSC") {
            c.pcsc = v.parse().map_err(|e| format!("IDMS_PCSC (true or false): {e}"))?;
        }
        if let Ok(v) = std::env::var("IDMS_PCSC_READERS") {
            c.pcsc_readers = v.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect();
        }
        if let Ok(v) = std::env::var("IDMS_EVENT_QUEUE") {
            c.event_queue = v.parse().map_err(|e| format!("IDMS_EVENT_QUEUE: {e}"))?;
        }
        if let Ok(v) = std::env::var("IDMS_EVENTS_RETENTION_DAYS") {
            c.events_retention_days = v.parse().map_err(|e| format!("IDMS_EVENTS_RETENTION_DAYS: {e}"))?;
        }
        c.check()?;
        Ok(c)
    }

    /// Refuses settings that cannot be meant.
    fn check(&self) -> Result<(), String> {
        if self.events_retention_days == 0 {
            return Err("events_retention_days must be at least 1 (access events are kept that many days)".into());
        }
        Ok(())
    }
}

/// How often access events past their retention are pruned.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Prunes access events older than `retention_days` (by the store's
/// clock): once now, then every [`PRUNE_EVERY`]. Each prune deletes in
/// bounded batches through the event writer and is audited as one counted
/// entry (see [`crate::store::events::prune`]); a failed one is retried at
/// the next tick.
pub fn spawn_event_pruning(state: AppState, retention_days: u32) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PRUNE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let s = state.clone();
            let pruned = tokio::task::spawn_blocking(move || {
                crate::store::events::prune_retained(&s.store, &s.events, retention_days)
            })
            .await;
            match pruned {
                Ok(Ok(n)) if n > 0 => tracing::info!(events = n, retention_days, "pruned access events"),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(code = e.code(), "access-event pruning failed; retried at the next tick"),
                Err(e) => tracing::error!(error = %e, "access-event pruning panicked; retried at the next tick"),
            }
        }
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

/// Runs the service until SIGINT/SIGTERM.
pub async fn serve(config: Config) -> Result<(), StoreError> {
    let store = {
        let path = config.data_dir.join(DB_FILE);
        tokio::task::spawn_blocking(move || Store::open(&path, Arc::new(SystemClock)))
            .await
            .map_err(|_| StoreError::Database)??
    };
    let store = Arc::new(store);
    // Build the decision index before accepting requests: /readyz means ready.
    {
        let s = store.clone();
        tokio::task::spawn_blocking(move || s.try_index().map(|i| i.credentials()))
            .await
            .map_err(|_| StoreError::Database)??;
    }
    let state = AppState::open(
        store.clone(),
        &config.data_dir,
        config.event_queue,
        Duration::from_micros(config.event_commit_delay_us),
    )?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| StoreError::Io(format!("cannot listen on {}: {e}", config.listen)))?;
    let addr = listener.local_addr().map_err(|e| StoreError::Io(e.to_string()))?;
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "serving");
    // Tail the change log so writes by other processes (the CLI) reach the index.
    let tailer = {
        let store = store.clone();
        let every = Duration::from_millis(config.tail_interval_ms.max(5));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let s = store.clone();
                match tokio::task::spawn_blocking(move || s.catch_up()).await {
                    Ok(Ok(n)) if n > 0 => tracing::debug!(entries = n, "applied change log"),
                    Ok(Err(e)) => tracing::warn!(code = e.code(), "change-log tail failed"),
                    _ => {}
                }
            }
        })
    };
    let pruning = spawn_event_pruning(state.clone(), config.events_retention_days);
    let pcsc = if config.pcsc {
        let cfg = crate::readers::pcsc::PcscConfig {
            include: config.pcsc_readers.clone(),
            debounce: Duration::from_millis(config.pcsc_debounce_ms),
        };
        Some(
            crate::readers::pcsc::spawn(cfg, state.readers.clone(), Arc::new(SystemClock))
                .map_err(|e| StoreError::Io(format!("cannot start the PC/SC driver: {e}")))?,
        )
    } else {
        None
    };
    let doors = Arc::new(crate::api::doors::ReaderDoors(state.clone()));
    let osdp = crate::readers::osdp::Osdp::start(&config.osdp, &state.readers, doors).map_err(StoreError::Io)?;
    let _ = state.osdp.set(osdp);
    let app = router(state.clone());
    let result = axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await;
    state.ready.store(false, Ordering::Relaxed);
    tailer.abort();
    pruning.abort();
    state.readers.stop();
    if let Some(t) = pcsc {
        let _ = tokio::task::spawn_blocking(move || t.join()).await;
    }
    {
        let s = state.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(o) = s.osdp.get() {
                o.join();
            }
        })
        .await;
    }
    tracing::info!("stopped accepting requests; flushing the access-event log");
    // Dropping the last state closes the event log, which writes what is
    // queued; that may block, so not on an async worker.
    let _ = tokio::task::spawn_blocking(move || drop(state)).await;
    result.map_err(|e| StoreError::Io(format!("server error: {e}")))
}

/// A minimal axum service answering `POST /api/v1/access/decide` with a
/// constant body: the baseline `make bench-http` compares the real service
/// against (same runtime, same HTTP stack, no work).
pub async fn serve_baseline(listen: SocketAddr) -> Result<(), StoreError> {
    let app = axum::Router::new().route(
        "/api/v1/access/decide",
        axum::routing::post(|| async { axum::Json(serde_json::json!({"decision": "grant", "reason": null})) }),
    );
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| StoreError::Io(format!("cannot listen on {listen}: {e}")))?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| StoreError::Io(format!("server error: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_comes_from_the_file_defaults_to_a_year_and_is_never_zero() {
        assert_eq!(Config::default().events_retention_days, 365);
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("idms.toml");
        std::fs::write(&f, "events_retention_days = 30\n").unwrap();
        assert_eq!(Config::load(Some(&f)).unwrap().events_retention_days, 30);
        std::fs::write(&f, "events_retention_days = 0\n").unwrap();
        let e = Config::load(Some(&f)).unwrap_err();
        assert!(e.contains("events_retention_days"), "{e}");
    }
}
