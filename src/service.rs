//! `idms serve`: start-up from a [`Config`], the change-log tailer, and
//! the clean stop.
//!
//! At SIGINT/SIGTERM, in this order: `/readyz` turns 503 and long waits
//! end (the reader event stream closes, a waiting enrolment answers 503
//! `stopping`); the listener closes and in-flight requests finish (at most
//! [`net::DRAIN_GRACE`]); the readers stop (OSDP door reads already
//! decided are queued); then the access-event log commits what is queued
//! and the process exits 0.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::api::{AppState, router};
use crate::clock::SystemClock;
use crate::config::Config;
use crate::net::{self, Limits};
use crate::signals;
use crate::store::{DB_FILE, Store, StoreError};

/// The async runtime for the service: `workers` threads (see [`Config::workers`]).
pub fn runtime(workers: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    // Measured with make bench-http on 2 cores: one worker plus the event
    // writer beat two workers (fewer cross-thread wake-ups per group commit).
    let n = workers.unwrap_or(cores.saturating_sub(1)).max(1);
    tokio::runtime::Builder::new_multi_thread().worker_threads(n).enable_all().build()
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

/// Looks at the data directory's free space every 30 s and warns in the
/// log when it is below `disk_free_warn_percent` — when it first drops
/// below, then hourly while it stays there — and once when it is back.
pub fn spawn_disk_watch(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut warned: Option<tokio::time::Instant> = None;
        loop {
            tick.tick().await;
            let Ok(space) = crate::disk::Space::of(&state.data_dir) else { continue };
            if space.low(state.disk_warn_percent.load(Ordering::Relaxed)) {
                if warned.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
                    tracing::warn!(free_percent = space.percent_free(), free_bytes = space.free, "{}", space.warning());
                    warned = Some(tokio::time::Instant::now());
                }
            } else if warned.take().is_some() {
                tracing::info!(
                    free_percent = space.percent_free(),
                    "disk space on the data directory is back above the threshold"
                );
            }
        }
    })
}

/// Syncs the LDAP directory (`[directory]`) once shortly after start, then
/// every `interval_minutes`, as the directory (`directory:ldap`); makes it
/// the directory Refresh Org Info asks. A failed run is logged with its
/// code (never the bind password) and audited as refused; the next tick
/// tries again.
pub fn spawn_directory_sync(state: AppState, cfg: crate::directory::LdapConfig) -> tokio::task::JoinHandle<()> {
    let _ = state.directory.set(Arc::new(crate::ops::directory::LdapPuller(cfg.clone())));
    tokio::spawn(async move {
        let every = Duration::from_secs(u64::from(cfg.interval_minutes.max(1)) * 60);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + Duration::from_secs(5), every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let (s, cfg) = (state.clone(), cfg.clone());
            let ran = tokio::task::spawn_blocking(move || {
                let me = crate::ops::Acting::Local(crate::store::Actor::directory("directory:ldap"));
                crate::ops::directory::sync(&s.store, &me, &cfg, false, false, "schedule")
                    .map_err(|e| e.audit_now(&s.store, &me.actor(), crate::store::AuditDraft::new("directory.sync")))
            })
            .await;
            match ran {
                Ok(Ok(r)) => tracing::info!(
                    run = r.id,
                    created = r.counts.created,
                    updated = r.counts.updated,
                    suspended = r.counts.suspended,
                    resumed = r.counts.resumed,
                    deleted = r.counts.deleted,
                    skipped = r.counts.skipped,
                    refused = r.counts.refused,
                    "directory synced"
                ),
                Ok(Err(e)) => tracing::warn!(code = e.code(), "directory sync failed; retried at the next tick"),
                Err(e) => tracing::error!(error = %e, "directory sync panicked; retried at the next tick"),
            }
        }
    })
}

/// Runs the service until SIGINT/SIGTERM.
pub async fn serve(config: Config) -> Result<(), StoreError> {
    // Debug level: `--log debug` shows what the layers added up to (the
    // metrics token, a secret, is never printed).
    tracing::debug!(?config, "configuration");
    // Before anything else: from here SIGINT/SIGTERM/SIGHUP come to us.
    let mut stop = signals::Stop::new().map_err(|e| StoreError::Io(format!("cannot handle SIGTERM: {e}")))?;
    let reload = signals::Reload::new().map_err(|e| StoreError::Io(format!("cannot handle SIGHUP: {e}")))?;
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(Arc::new(
            net::tls::Certificate::load(cert, key)
                .map_err(|e| StoreError::Device { code: e.code(), message: e.to_string() })?,
        )),
        _ => None,
    };
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
    // The default site's time zone from the configuration, and a door record
    // for every door an OSDP door reader guards (of the default site when new).
    {
        let (s, tz) = (store.clone(), config.default_tz.clone());
        let doors: Vec<String> =
            config.osdp.iter().flat_map(|l| l.devices.iter().filter_map(|d| d.door.clone())).collect();
        tokio::task::spawn_blocking(move || {
            s.reconcile_config(&crate::store::Actor::staff("config"), tz.as_deref(), &doors)
        })
        .await
        .map_err(|_| StoreError::Database)??;
    }
    let state = AppState::open(
        store.clone(),
        &config.data_dir,
        config.event_queue,
        Duration::from_micros(config.event_commit_delay_us),
    )?;
    state.https.store(tls.is_some(), Ordering::Relaxed);
    *state.session_limits.write().unwrap_or_else(std::sync::PoisonError::into_inner) = config.session_limits();
    state.jobs.set_scrub_delay(Duration::from_secs(config.scrub_delay_secs));
    state.jobs.set_door_target(Duration::from_millis(config.purge_door_p99_ms));
    state.disk_warn_percent.store(u8::try_from(config.disk_free_warn_percent).unwrap_or(99), Ordering::Relaxed);
    spawn_disk_watch(state.clone());
    // Checked with the configuration: the name is in the time-zone database.
    if let Ok(zone) = crate::ui::time::Zone::named(&config.ui_time_zone) {
        crate::ui::time::set_zone(zone);
    }
    if let Some(t) = &config.metrics_token {
        state.metrics.require_token(t.expose());
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| StoreError::Io(format!("cannot listen on {}: {e}", config.listen)))?;
    let addr = listener.local_addr().map_err(|e| StoreError::Io(e.to_string()))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%addr, scheme, data_dir = %config.data_dir.display(), "serving");
    if tls.is_none() && !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "serving plain HTTP on a non-loopback address: tokens and personal data cross the network unencrypted; \
             set tls_cert and tls_key"
        );
    }
    let reloading = tls.as_ref().map(|t| t.spawn_reloading(Some(reload)));
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
    let syncing = config.directory.clone().map(|d| spawn_directory_sync(state.clone(), d));
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
    let doors = Arc::new(crate::api::doors::ReaderDoors::new(state.clone(), config.osdp_on_log_failure));
    let osdp = crate::readers::osdp::Osdp::start(&config.osdp, &state.readers, doors).map_err(StoreError::Io)?;
    let _ = state.osdp.set(osdp);
    let app = router(state.clone());
    let stopping = async {
        let which = stop.wait().await;
        tracing::info!(signal = which, "stopping: finishing requests in flight");
        state.ready.store(false, Ordering::Relaxed);
        state.stopping.stop();
    };
    net::serve(listener, tls, Limits::of(&config), app, stopping).await;
    tailer.abort();
    pruning.abort();
    if let Some(d) = syncing {
        d.abort();
    }
    if let Some(r) = reloading {
        r.abort();
    }
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
    // Refusals gathered for their one-second batch are written now, not
    // lost with the runtime.
    if !state.flush_refusals(Duration::from_secs(2)).await {
        tracing::error!("refusals gathered before the stop could not be audited");
    }
    // So are OSDP reads whose events could not be logged (the readers have stopped).
    {
        let s = state.clone();
        let _ = tokio::task::spawn_blocking(move || s.osdp_losses.flush(&s.store)).await;
    }
    tracing::info!("requests and readers stopped; committing the queued access events");
    // Closing the log writes what is queued (whoever still holds the state);
    // that blocks, so not on an async worker.
    let flushed = tokio::task::spawn_blocking(move || {
        let ok = state.events.close();
        drop(state);
        ok
    })
    .await;
    if matches!(flushed, Ok(true)) {
        tracing::info!("stopped");
        Ok(())
    } else {
        Err(StoreError::Io("the access-event log could not be committed before stopping; see the log above".into()))
    }
}

/// A minimal axum service answering `POST /api/v1/access/decide` with a
/// constant body: the baseline `make bench-http` compares the real service
/// against (same runtime, same accept loop and limits, no work).
pub async fn serve_baseline(listen: SocketAddr, limits: Limits, plain: bool) -> Result<(), StoreError> {
    let mut stop = signals::Stop::new().map_err(|e| StoreError::Io(format!("cannot handle SIGTERM: {e}")))?;
    let app = axum::Router::new().route(
        "/api/v1/access/decide",
        axum::routing::post(|| async { axum::Json(serde_json::json!({"decision": "grant", "reason": null})) }),
    );
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| StoreError::Io(format!("cannot listen on {listen}: {e}")))?;
    let stopped = async move {
        stop.wait().await;
    };
    if plain {
        // axum's own server, as an axum service on its own would run.
        axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
            .map_err(|e| StoreError::Io(format!("baseline: {e}")))?;
    } else {
        net::serve(listener, None, limits, app, stopped).await;
    }
    Ok(())
}
