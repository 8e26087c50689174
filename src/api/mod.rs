//! HTTP: the staff API, the door-controller API, and operations endpoints.
//!
//! **Architecture invariant:** only `api/` and `ui/` know HTTP, and only
//! `api/` the JSON shapes of requests and responses (responses: [`dto`]);
//! neither decides who may (that is `ops/`). Handlers parse, authenticate,
//! call one store operation (blocking calls on the blocking pool) and map
//! the result to a DTO. Every error is `application/problem+json` with a
//! stable `code`.
//!
//! Routes and the OpenAPI document are registered together
//! (`utoipa-axum`), so they cannot drift apart; a test checks it anyway.

pub mod admin;
pub mod auth;
pub mod cards;
pub mod directory;
pub mod doors;
pub mod dto;
pub mod encoders;
pub mod error;
pub mod events;
pub mod levels;
pub mod metrics;
pub mod openapi;
pub mod purge;
pub mod readers;
pub mod scim;
pub mod staff;
pub mod throttle;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::store::{EventLog, Store, StoreError};
use error::ApiError;

/// The largest request body accepted, in bytes (but uploads of offline
/// access events: [`MAX_UPLOAD_BODY`]).
pub const MAX_BODY: usize = 256 * 1024;

/// The largest upload of offline access events, in bytes: 1,000 events
/// (`ops::doors::MAX_UPLOAD`) of the longest fields a controller may send
/// (128-character event IDs, 64-character door names, 16-byte UIDs) fit
/// with room to spare.
pub const MAX_UPLOAD_BODY: usize = 1024 * 1024;

/// The largest CSV import accepted over HTTP, in bytes (about 100,000 rows
/// of typical HR data; the CLI reads files of any size up to its row limit).
pub const MAX_IMPORT_BODY: usize = 16 * 1024 * 1024;

/// What every handler shares.
#[derive(Debug)]
pub struct Shared {
    /// The store (and its decision index).
    pub store: Arc<Store>,
    /// The access-event log.
    pub events: EventLog,
    /// Requests waiting for their access event to be durable.
    pub durable: Arc<Durable>,
    /// Counters.
    pub metrics: metrics::Metrics,
    /// Each token holder's `Acting`, made once (tokens themselves are
    /// checked against the store's in-memory token set).
    pub tokens: auth::Actings,
    /// Set once the service is up; cleared while shutting down.
    pub ready: AtomicBool,
    /// Set when the service begins to stop: long waits end.
    pub stopping: Stopping,
    /// Password checks in flight (argon2 takes ~19 MiB and real CPU each).
    pub logins: tokio::sync::Semaphore,
    /// Failed-authentication limits per client address and account name,
    /// and one password check in flight per address.
    pub throttle: throttle::Throttle,
    /// Refusals waiting to be audited.
    pub refusals: tokio::sync::mpsc::Sender<AuditMsg>,
    /// Where card readers publish their events.
    pub readers: Arc<crate::readers::Hub>,
    /// Tap-to-enrol reads waiting for confirmation.
    pub enrollments: readers::Enrollments,
    /// The OSDP lines, once started (`service::serve`).
    pub osdp: std::sync::OnceLock<crate::readers::osdp::Osdp>,
    /// The purge-job runner (resumes unfinished jobs when the state opens).
    pub jobs: crate::jobs::Runner,
    /// The door decisions' latencies of the last second: background
    /// writers (purge jobs, SCIM provisioning) yield to the doors by them.
    pub door_watch: Arc<crate::jobs::pace::DoorWatch>,
    /// SCIM writes go one at a time (`api::scim`), each yielding to the doors first.
    pub provisioning: tokio::sync::Semaphore,
    /// Set when the service serves HTTPS (`tls_cert`): the web UI's cookie
    /// is then `Secure` and `__Host-` prefixed, and its origin `https://`.
    pub https: AtomicBool,
    /// How long web UI sessions opened from now on live
    /// (`ui_session_idle_minutes`, `ui_session_max_hours`).
    pub session_limits: std::sync::RwLock<crate::store::sessions::SessionLimits>,
    /// The LDAP directory Refresh Org Info asks, once configured (`[directory]`).
    pub directory: std::sync::OnceLock<Arc<dyn crate::ops::directory::Puller>>,
    /// The data directory (its file system's free space is watched).
    pub data_dir: std::path::PathBuf,
    /// Below this percent free, `/readyz` says so (`disk_free_warn_percent`).
    pub disk_warn_percent: std::sync::atomic::AtomicU8,
    /// How long a door decision or an upload waits for its events' commit
    /// before it is answered 503 (milliseconds; 10 s; a failing log answers
    /// at once).
    pub event_wait_ms: std::sync::atomic::AtomicU64,
    /// OSDP door reads whose events could not be logged, waiting to be audited.
    pub osdp_losses: doors::OsdpLosses,
}

/// Handler state: a cheap clone of an `Arc`.
#[derive(Debug, Clone)]
pub struct AppState(pub Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Wraps a store and opens the access-event log in `dir` (see
    /// [`EventLog::open`] for the queue size and commit delay). Must be
    /// called inside a tokio runtime.
    pub fn open(
        store: Arc<Store>,
        dir: &std::path::Path,
        event_queue: usize,
        commit_delay: std::time::Duration,
    ) -> Result<Self, StoreError> {
        let durable = Arc::new(Durable::default());
        // The writer thread hands each durable ticket to a task on the
        // runtime, which wakes exactly the requests it made durable from a
        // worker thread: one cross-thread wake per group commit.
        // Durable tickets and the writer's failures go through one channel, so they are applied in
        // the order the writer saw them (a late notice of an earlier commit never clears a failure).
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Option<u64>>();
        let d = durable.clone();
        tokio::spawn(async move {
            while let Some(note) = rx.recv().await {
                let mut next = Some(note);
                while let Some(note) = next.take() {
                    match note {
                        None => d.failing(),
                        Some(mut t) => {
                            // A run of durable notices is one wake; a failure after it comes next.
                            loop {
                                match rx.try_recv() {
                                    Ok(Some(later)) => t = t.max(later),
                                    Ok(None) => {
                                        next = Some(None);
                                        break;
                                    }
                                    Err(_) => break,
                                }
                            }
                            d.reached(t);
                        }
                    }
                }
            }
        });
        let (d, failing_tx) = (durable.clone(), tx.clone());
        let events = EventLog::open(
            dir,
            event_queue,
            commit_delay,
            Box::new(move |t| {
                // Should the notifier task be gone, wake the requests directly.
                if tx.send(Some(t)).is_err() {
                    d.reached(t);
                }
            }),
        )?;
        let d = durable.clone();
        events.on_failing(Box::new(move || {
            if failing_tx.send(None).is_err() {
                d.failing();
            }
        }));
        // Built before the first request: an unknown token never reads SQLite.
        store.try_tokens()?;
        let refusals = start_refusal_auditor(store.clone());
        let door_watch = Arc::new(crate::jobs::pace::DoorWatch::default());
        let jobs = crate::jobs::Runner::start(store.clone(), door_watch.clone())
            .map_err(|e| StoreError::Io(format!("cannot start the purge-job runner: {e}")))?;
        let state = Self(Arc::new(Shared {
            store,
            events,
            durable,
            metrics: metrics::Metrics::with_routes(
                routes()
                    .1
                    .paths
                    .paths
                    .keys()
                    .cloned()
                    .chain(crate::ui::PATHS.iter().chain(scim::PATHS).map(|p| (*p).to_string())),
            ),
            tokens: auth::Actings::default(),
            ready: AtomicBool::new(true),
            stopping: Stopping::default(),
            logins: tokio::sync::Semaphore::new(2),
            throttle: throttle::Throttle::default(),
            refusals,
            readers: Arc::default(),
            enrollments: readers::Enrollments::default(),
            osdp: std::sync::OnceLock::new(),
            jobs,
            door_watch,
            provisioning: tokio::sync::Semaphore::new(1),
            https: AtomicBool::new(false),
            session_limits: std::sync::RwLock::default(),
            directory: std::sync::OnceLock::new(),
            event_wait_ms: std::sync::atomic::AtomicU64::new(10_000),
            data_dir: dir.to_path_buf(),
            disk_warn_percent: std::sync::atomic::AtomicU8::new(10),
            osdp_losses: doors::OsdpLosses::default(),
        }));
        doors::OsdpLosses::audit_when_recovered(Arc::downgrade(&state.0));
        Ok(state)
    }

    /// Whether the service serves HTTPS.
    #[must_use]
    pub fn https(&self) -> bool {
        self.https.load(Ordering::Relaxed)
    }

    /// How long a web UI session opened now lives.
    pub fn session_limits(&self) -> crate::store::sessions::SessionLimits {
        *self.session_limits.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues a failed authentication for the refusal auditor: one
    /// `api.refused` entry per (actor, what, code) a second, with a count.
    /// A full queue is counted in `/metrics` instead.
    pub fn audit_failure(&self, actor: impl Into<String>, what: String, code: &'static str) {
        if self.refusals.try_send(AuditMsg::Refused((actor.into(), what, code))).is_err() {
            self.metrics.refusal_not_audited();
        }
    }

    /// Writes the refusals gathered so far now (at the stop: the batch a
    /// second collects would otherwise die with the runtime); waits at
    /// most `within`. Answers whether they were written.
    pub async fn flush_refusals(&self, within: std::time::Duration) -> bool {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.refusals.send(AuditMsg::Flush(tx)).await.is_err() {
            return false;
        }
        matches!(tokio::time::timeout(within, rx).await, Ok(Ok(())))
    }

    /// Tells the purge-job runner a job was recorded.
    pub fn wake_jobs(&self) {
        self.jobs.wake();
    }
}

/// The service is stopping: the requests that wait without end in sight
/// (the reader event stream, a waiting `POST /enrollments`) select on
/// [`Stopping::wait`] and end, so the drain does not wait for them.
#[derive(Debug)]
pub struct Stopping(tokio::sync::watch::Sender<bool>);

impl Default for Stopping {
    fn default() -> Self {
        Self(tokio::sync::watch::Sender::new(false))
    }
}

impl Stopping {
    /// Ends every wait, now and later.
    pub fn stop(&self) {
        self.0.send_replace(true);
    }

    /// Resolves once the service is stopping (at once if it is).
    pub async fn wait(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// What a request cut short by the stop answers: 503 `stopping`.
    #[must_use]
    pub fn refusal() -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "stopping", "the service is stopping; try again once it is back")
    }
}

/// Requests waiting for their access-event ticket to become durable.
#[derive(Debug, Default)]
pub struct Durable {
    inner: std::sync::Mutex<DurableInner>,
}

#[derive(Debug, Default)]
struct DurableInner {
    reached: u64,
    /// The writer's commits are failing: nobody waits (cleared by the next durable commit).
    failing: bool,
    waiting: Vec<(u64, tokio::sync::oneshot::Sender<()>)>,
}

/// Where a ticket stands.
#[derive(Debug)]
pub enum Wait {
    /// Durable already.
    Done,
    /// Resolves once it is durable; closed (an error) if commits fail first.
    Until(tokio::sync::oneshot::Receiver<()>),
    /// Commits are failing: do not wait.
    Failing,
}

impl Durable {
    /// Where `ticket` stands: durable, to wait for, or not to wait for
    /// because the writer's commits are failing.
    pub fn wait(&self, ticket: u64) -> Wait {
        let mut g = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if g.reached >= ticket {
            return Wait::Done;
        }
        if g.failing {
            return Wait::Failing;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        g.waiting.push((ticket, tx));
        Wait::Until(rx)
    }

    /// The writer's commits started failing: every waiting request is told
    /// at once (its receiver closes), and new ones do not wait.
    pub fn failing(&self) {
        let mut g = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        g.failing = true;
        g.waiting.clear();
    }

    /// Every ticket up to `t` is durable: wake those waiting for them.
    pub fn reached(&self, t: u64) {
        let done: Vec<_> = {
            let mut g = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            g.reached = g.reached.max(t);
            g.failing = false;
            let (done, left): (Vec<_>, Vec<_>) = std::mem::take(&mut g.waiting).into_iter().partition(|(k, _)| *k <= t);
            g.waiting = left;
            done
        };
        for (_, tx) in done {
            let _ = tx.send(());
        }
    }
}

/// Runs a blocking store call on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    s: &AppState,
    f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = s.store.clone();
    tokio::task::spawn_blocking(move || f(&store)).await.map_err(|_| ApiError::internal())?.map_err(ApiError::from)
}

/// Runs a rule-layer operation on the blocking pool as `acting`. A refusal
/// that no store operation audited (role, scope) is marked on the error, so
/// the HTTP layer audits it.
pub async fn op<T: Send + 'static>(
    s: &AppState,
    acting: &crate::ops::Acting,
    f: impl FnOnce(&Store, &crate::ops::Acting) -> Result<T, crate::ops::OpsError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = s.store.clone();
    let a = acting.clone();
    tokio::task::spawn_blocking(move || f(&store, &a))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|e| ApiError::from_ops(e, &acting.actor()))
}

/// A refusal found while parsing a mutating request (before any store
/// operation could audit it) is audited here, so every refused attempt is
/// on the record.
pub async fn audited<T>(
    s: &AppState,
    auth: &auth::Auth,
    action: &'static str,
    r: Result<T, crate::domain::DomainError>,
) -> Result<T, ApiError> {
    match r {
        Ok(v) => Ok(v),
        Err(e) => {
            let actor = auth.0.actor();
            let code = e.code();
            blocking(s, move |st| st.audit_refusal(&actor, crate::store::AuditDraft::new(action), code)).await?;
            Err(e.into())
        }
    }
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers and the index is loaded. Ready, with a
/// warning after it, when the data directory's disk is nearly full
/// (`disk_free_warn_percent`).
#[utoipa::path(get, path = "/readyz", tag = "ops", responses((status = 200, body = String), (status = 503, body = error::Problem)))]
pub async fn readyz(State(s): State<AppState>) -> Result<String, ApiError> {
    if !s.ready.load(Ordering::Relaxed) {
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", "the service is starting or stopping"));
    }
    if s.events.failing() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "event_log_failing",
            "access events cannot be written (see the service log); door decisions are refused meanwhile",
        ));
    }
    blocking(&s, |st| st.integrity_quick()).await?;
    let threshold = s.disk_warn_percent.load(Ordering::Relaxed);
    match crate::disk::Space::of(&s.data_dir) {
        Ok(space) if space.low(threshold) => Ok(format!("ready; {}", space.warning())),
        _ => Ok("ready".into()),
    }
}

async fn route_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        "no such route; the API is described at /api/v1/openapi.json",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
}

/// Counts every response, and audits refusals that no store operation
/// audited (role, door and org-unit checks) — without delaying the answer.
async fn count(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let res = next.run(req).await;
    let route = route.as_ref().map(MatchedPath::as_str);
    s.metrics.http(method.as_str(), route, res.status().as_u16());
    if let Some(r) = res.extensions().get::<error::Refused>().cloned() {
        s.audit_failure(r.actor, format!("{method} {}", route.unwrap_or("unmatched")), r.code);
    }
    res
}

/// Writes `api.refused` audit entries off the request path: refusals are
/// gathered for a second and written as one entry per (actor, route, code)
/// with a count, all in one transaction, so a caller hammering a route it
/// may not use costs the audit trail one entry a second, not one per
/// request. When the bounded queue is full the refusal is counted in
/// `/metrics` instead.
fn start_refusal_auditor(store: Arc<Store>) -> tokio::sync::mpsc::Sender<AuditMsg> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<AuditMsg>(4096);
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch: std::collections::BTreeMap<RefusalKey, u64> = std::collections::BTreeMap::new();
            let mut flushed = Vec::new();
            match first {
                AuditMsg::Refused(k) => {
                    *batch.entry(k).or_insert(0) += 1;
                    let until = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
                    while let Ok(Some(m)) = tokio::time::timeout_at(until, rx.recv()).await {
                        match m {
                            AuditMsg::Refused(k) => *batch.entry(k).or_insert(0) += 1,
                            // Write what is gathered now, then answer.
                            AuditMsg::Flush(done) => {
                                flushed.push(done);
                                break;
                            }
                        }
                    }
                }
                AuditMsg::Flush(done) => flushed.push(done),
            }
            if batch.is_empty() {
                for done in flushed {
                    let _ = done.send(());
                }
                continue;
            }
            let store = store.clone();
            let written = tokio::task::spawn_blocking(move || {
                let entries: Vec<_> = batch
                    .into_iter()
                    .map(|((actor, route, code), n)| {
                        let mut draft = crate::store::AuditDraft::new("api.refused");
                        draft.detail = format!("{route} count={n}");
                        (crate::store::Actor::staff(actor), draft, code)
                    })
                    .collect();
                store.audit_refusals(&entries)
            })
            .await;
            if matches!(written, Ok(Ok(()))) {
                for done in flushed {
                    let _ = done.send(());
                }
            } else {
                tracing::error!("refusals could not be audited");
            }
        }
    });
    tx
}

/// Who was refused, on which route, with which code.
pub type RefusalKey = (String, String, &'static str);

/// What the refusal auditor is sent.
#[derive(Debug)]
pub enum AuditMsg {
    /// A refusal to count.
    Refused(RefusalKey),
    /// Write what is gathered now, then answer.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// The routes and their OpenAPI description, from the same registrations
/// (completed by [`openapi::Complete`]).
pub fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (routes, mut doc) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(staff::login))
        .routes(routes!(staff::logout))
        .routes(routes!(admin::list_operators, admin::create_operator))
        .routes(routes!(admin::disable_operator))
        .routes(routes!(admin::enable_operator))
        .routes(routes!(admin::set_password))
        .routes(routes!(admin::revoke_operator_tokens))
        .routes(routes!(admin::list_controllers, admin::create_controller))
        .routes(routes!(admin::disable_controller))
        .routes(routes!(admin::enable_controller))
        .routes(routes!(admin::rotate_controller_token))
        .routes(routes!(admin::revoke_controller_tokens))
        .routes(routes!(admin::list_tokens))
        .routes(routes!(admin::revoke_token))
        .routes(routes!(levels::list_sites, levels::create_site))
        .routes(routes!(levels::delete_site))
        .routes(routes!(levels::list_doors, levels::create_door))
        .routes(routes!(levels::delete_door))
        .routes(routes!(levels::who_can))
        .routes(routes!(levels::list_areas, levels::create_area))
        .routes(routes!(levels::delete_area))
        .routes(routes!(levels::list_calendars))
        .routes(routes!(levels::add_holiday))
        .routes(routes!(levels::delete_calendar))
        .routes(routes!(levels::list_schedules, levels::create_schedule))
        .routes(routes!(levels::edit_schedule, levels::delete_schedule))
        .routes(routes!(levels::list_levels, levels::create_level))
        .routes(routes!(levels::delete_level))
        .routes(routes!(levels::set_default))
        .routes(routes!(levels::list_assignments, levels::assign, levels::unassign))
        .routes(routes!(levels::person_access))
        .routes(routes!(levels::explain))
        .routes(routes!(staff::list_users, staff::create_user))
        .routes(routes!(purge::list_deleted))
        .routes(routes!(purge::erase_users))
        .routes(routes!(purge::set_purge_dates))
        .routes(routes!(purge::create_job, purge::list_jobs))
        .routes(routes!(purge::get_job))
        .routes(routes!(purge::cancel_job))
        .routes(routes!(staff::get_user, staff::patch_user))
        .routes(routes!(directory::refresh_user))
        .routes(routes!(directory::list_runs))
        .routes(routes!(directory::get_run))
        .routes(routes!(staff::suspend_user))
        .routes(routes!(staff::resume_user))
        .routes(routes!(staff::delete_user))
        .routes(routes!(staff::restore_user))
        .routes(routes!(staff::expunge_preview))
        .routes(routes!(staff::expunge_user))
        .routes(routes!(staff::create_credential, staff::list_credentials))
        .routes(routes!(cards::list_twins))
        .routes(routes!(cards::unbind))
        .routes(routes!(staff::get_credential))
        .routes(routes!(staff::revoke_credential))
        .routes(routes!(staff::suspend_credential))
        .routes(routes!(readers::list_readers))
        .routes(routes!(readers::reader_events))
        .routes(routes!(readers::start_enrollment))
        .routes(routes!(readers::confirm_enrollment))
        .routes(routes!(encoders::encode))
        .routes(routes!(staff::resume_credential))
        .routes(routes!(staff::list_audit))
        .routes(routes!(staff::verify_audit))
        .routes(routes!(staff::stats))
        .routes(routes!(doors::decide))
        .routes(gzip(routes!(doors::feed)))
        .routes(gzip(routes!(doors::my_feed)))
        .routes({
            let (schemas, paths, methods) = routes!(doors::upload_events, events::list_events);
            (schemas, paths, methods.layer(DefaultBodyLimit::max(MAX_UPLOAD_BODY)))
        })
        .routes(routes!(events::list_quarantine))
        .routes({
            let (schemas, paths, methods) = routes!(directory::import_csv);
            (schemas, paths, methods.layer(DefaultBodyLimit::max(MAX_IMPORT_BODY)))
        })
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics::scrape))
        .split_for_parts();
    openapi::Complete.modify(&mut doc);
    (routes, doc)
}

/// Routes whose answers are compressed when the client accepts gzip (the
/// controllers' feed: a snapshot page of 10,000 entries is 1.2 MB of JSON,
/// a fifth of that compressed). The fastest level: the default one saves
/// a sixth of the bytes for twice the CPU time (`make bench-doors`). The
/// answer says `Vary: Accept-Encoding`; a client that does not accept gzip
/// gets plain JSON.
fn gzip<S>(r: utoipa_axum::router::UtoipaMethodRouter<S>) -> utoipa_axum::router::UtoipaMethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    let (schemas, paths, methods) = r;
    (
        schemas,
        paths,
        methods.layer(
            tower_http::compression::CompressionLayer::new().gzip(true).quality(tower_http::CompressionLevel::Fastest),
        ),
    )
}

/// The whole service as an axum `Router`: the API, and the web UI under
/// `/ui` (`/` leads to it).
pub fn router(state: AppState) -> Router {
    let (routes, doc) = routes();
    let doc = Arc::new(doc);
    routes
        .route("/", axum::routing::get(crate::ui::root))
        .nest("/ui", crate::ui::router(state.clone()))
        // SCIM 2.0 for identity directories: its own discovery, not in the OpenAPI document.
        .nest("/scim/v2", scim::router())
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            // The panic's message may hold request data: it is not logged.
            tracing::error!("a request handler panicked");
            ApiError::internal().into_response()
        }))
        .with_state(state)
}
