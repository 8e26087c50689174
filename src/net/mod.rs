//! The transport under the HTTP API: our own accept loop (hyper's HTTP/1
//! connection, optionally inside rustls), with the limits a server facing
//! a network needs, and a bounded graceful stop.
//!
//! Rules this module keeps:
//! - **Connection cap**: at most [`Limits::max_connections`] connections
//!   are served at once. The loop does not accept beyond it: a further
//!   connection waits in the kernel's listen backlog and is served when
//!   one closes (clients see a slow connect, never a reset).
//! - **Header-read timeout**: once the first byte of a request arrives,
//!   its head (request line and headers) must be complete within
//!   [`Limits::header_read_timeout`], else the connection is closed. The
//!   TLS handshake has the same bound.
//! - **Per-address cap**: one client address (IPv6: its /64) holds at most
//!   [`Limits::max_per_address`] connections; a further one is closed at
//!   once, so one client cannot take every connection from the doors.
//! - **Body-read timeout**: once a request's head is complete, its body
//!   must arrive within [`Limits::body_read_timeout`], else the connection
//!   is closed — a stalled body cannot hold a connection.
//! - **Idle timeout**: a connection with no request in progress — just
//!   accepted, or between keep-alive requests — is closed after
//!   [`Limits::idle_timeout`]. A request in progress is never idle, so the
//!   reader event stream and a waiting `POST /enrollments` are exempt;
//!   they end when the service stops (`api::Stopping`).
//! - **Stop**: when `stop` resolves the listener closes, idle connections
//!   close, each busy one closes after its response, and after
//!   [`DRAIN_GRACE`] whatever is left is dropped.
//!

pub mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower_service::Service;

/// How long in-flight requests get to finish once the service stops.
pub const DRAIN_GRACE: Duration = Duration::from_secs(3);

/// The connection limits (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From a request's first byte to the end of its head.
    pub header_read_timeout: Duration,
    /// A connection without a request in progress.
    pub idle_timeout: Duration,
    /// From a request's complete head to the end of its body.
    pub body_read_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Connections one client address holds at once.
    pub max_per_address: usize,
}

impl Limits {
    /// The limits of a configuration.
    #[must_use]
    pub fn of(c: &crate::config::Config) -> Self {
        Self {
            header_read_timeout: Duration::from_secs(c.header_read_timeout_secs),
            idle_timeout: Duration::from_secs(c.idle_timeout_secs),
            body_read_timeout: Duration::from_secs(c.body_read_timeout_secs),
            max_connections: c.max_connections,
            max_per_address: c.max_connections_per_address,
        }
    }
}

/// Serves `app` on `listener` (over TLS when `tls` is given) until `stop`
/// resolves, then drains (see the module documentation).
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<tls::Certificate>>,
    limits: Limits,
    app: Router,
    stop: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let per_address = Arc::new(PerAddress::default());
    let (stopping, stopped) = watch::channel(false);
    let mut conns = JoinSet::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        // Reap finished connections so the set stays small.
        while conns.try_join_next().is_some() {}
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            () = &mut stop => break,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut stop => break,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::error!(error = %e, "accepting connections failed; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let Some(held) = per_address.take(peer.ip(), limits.max_per_address) else {
            tracing::debug!("a client address is at its connection cap: connection closed");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (app, tls, stopped) = (app.clone(), tls.clone(), stopped.clone());
        conns.spawn(async move {
            let _held = held;
            let phase = Arc::new(Phase::new(Instant::now()));
            match tls {
                None => connection(tcp, peer, phase, limits, app, stopped).await,
                Some(certs) => {
                    let acceptor = tokio_rustls::TlsAcceptor::from(certs.config());
                    let handshake = tokio::time::timeout(limits.header_read_timeout, acceptor.accept(tcp)).await;
                    if let Ok(Ok(stream)) = handshake {
                        connection(stream, peer, phase, limits, app, stopped).await;
                    }
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    let open = conns.len();
    let drained = tokio::time::timeout(DRAIN_GRACE, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            open = conns.len(),
            of = open,
            grace_s = DRAIN_GRACE.as_secs(),
            "connections still busy after the grace period are closed"
        );
        conns.shutdown().await;
    }
}

/// Errors of one connection that the next accept does not share.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection until it ends, times out, or the drain ends it.
async fn connection<S>(
    io: S,
    peer: std::net::SocketAddr,
    phase: Arc<Phase>,
    limits: Limits,
    app: Router,
    mut stopped: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let p = phase.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let busy = Busy::begin(&p);
        let mut req = req.map(|body| Reading::new(body, &p));
        // The client's address, for the per-address limits of failed
        // authentication (`api::throttle`), as axum's `ConnectInfo`.
        req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
        let mut app = app.clone();
        async move {
            let res = app.call(req).await.unwrap_or_else(|never: Infallible| match never {});
            Ok::<_, Infallible>(res.map(|body| Guarded { body, _busy: busy }))
        }
    });
    let io = TokioIo::new(Watched { inner: io, phase: phase.clone() });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // Our own header and idle timeouts (hyper's would also cut keep-alive
    // waits at the header timeout).
    builder.header_read_timeout(None);
    let conn = builder.serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    // Look again at least this often: a head may start between two looks.
    let every = limits.header_read_timeout.min(limits.idle_timeout) / 2;
    let mut draining = *stopped.borrow();
    if draining {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        let now = Instant::now();
        let wake = match phase.deadline(&limits) {
            Some(d) if d <= now => return, // dropping the connection closes it
            Some(d) => d.min(now + every),
            None => now + every,
        };
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = tokio::time::sleep_until(wake) => {}
            _ = stopped.changed(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Where a connection is between requests, shared by its I/O, its
/// service and its timer (one task, but the future must be `Send`).
#[derive(Debug)]
struct Phase {
    epoch: Instant,
    /// Requests whose response is not yet fully written.
    in_flight: AtomicU32,
    /// When (ms after `epoch`) the connection last became idle.
    idle_from: AtomicU64,
    /// When (ms after `epoch`) the first byte of a head not yet complete
    /// arrived; [`NO_HEAD`] when none.
    head_from: AtomicU64,
    /// When (ms after `epoch`) the request in progress began waiting for
    /// its body; [`NO_HEAD`] when it has it all (or has none).
    body_from: AtomicU64,
}

const NO_HEAD: u64 = u64::MAX;

impl Phase {
    fn new(epoch: Instant) -> Self {
        Self {
            epoch,
            in_flight: AtomicU32::new(0),
            idle_from: AtomicU64::new(0),
            head_from: AtomicU64::new(NO_HEAD),
            body_from: AtomicU64::new(NO_HEAD),
        }
    }

    fn ms(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_millis()).unwrap_or(NO_HEAD - 1)
    }

    /// Bytes arrived: with no request in progress they start a head.
    fn read_some(&self, at: Instant) {
        if self.in_flight.load(Ordering::Relaxed) == 0 && self.head_from.load(Ordering::Relaxed) == NO_HEAD {
            let _ = self.head_from.compare_exchange(NO_HEAD, self.ms(at), Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    /// A head is complete: a request is in progress.
    fn start(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.head_from.store(NO_HEAD, Ordering::Relaxed);
    }

    /// A response is written (or dropped).
    fn finish(&self, at: Instant) {
        self.idle_from.store(self.ms(at), Ordering::Relaxed);
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// The request in progress waits for its body from `at`.
    fn body_pending(&self, at: Instant) {
        self.body_from.store(self.ms(at), Ordering::Relaxed);
    }

    /// The request in progress has its whole body (or gave it up).
    fn body_done(&self) {
        self.body_from.store(NO_HEAD, Ordering::Relaxed);
    }

    /// When the connection is to be closed; `None` while a request whose
    /// body has arrived is in progress.
    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        let at = |ms: u64, limit: Duration| self.epoch + Duration::from_millis(ms) + limit;
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return match self.body_from.load(Ordering::Relaxed) {
                NO_HEAD => None,
                ms => Some(at(ms, limits.body_read_timeout)),
            };
        }
        match self.head_from.load(Ordering::Relaxed) {
            NO_HEAD => Some(at(self.idle_from.load(Ordering::Relaxed), limits.idle_timeout)),
            ms => Some(at(ms, limits.header_read_timeout)),
        }
    }
}

/// A request in progress on a connection: from its complete head until
/// its response body is written (or dropped).
#[derive(Debug)]
struct Busy(Arc<Phase>);

impl Busy {
    fn begin(phase: &Arc<Phase>) -> Self {
        phase.start();
        Self(phase.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.finish(Instant::now());
    }
}

/// A request body that tells its connection's [`Phase`] while it is still
/// arriving (the body-read timeout runs until it has all arrived).
struct Reading {
    body: Incoming,
    phase: Option<Arc<Phase>>,
}

impl Reading {
    fn new(body: Incoming, phase: &Arc<Phase>) -> Self {
        if body.is_end_stream() {
            return Self { body, phase: None };
        }
        phase.body_pending(Instant::now());
        Self { body, phase: Some(phase.clone()) }
    }

    fn done(&mut self) {
        if let Some(p) = self.phase.take() {
            p.body_done();
        }
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        self.done();
    }
}

impl HttpBody for Reading {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let r = Pin::new(&mut self.body).poll_frame(cx);
        if matches!(r, Poll::Ready(None | Some(Err(_)))) || self.body.is_end_stream() {
            self.done();
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Connections held per client address (IPv6 by /64, as the
/// authentication limits key them).
#[derive(Debug, Default)]
struct PerAddress(std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>);

impl PerAddress {
    /// One more connection for `ip`, unless it holds `max` already.
    fn take(self: &Arc<Self>, ip: std::net::IpAddr, max: usize) -> Option<AddressHeld> {
        let key = crate::api::throttle::client_key(ip);
        let mut m = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = m.entry(key).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(AddressHeld { all: self.clone(), key })
    }
}

/// A connection counted against its address until dropped.
#[derive(Debug)]
struct AddressHeld {
    all: Arc<PerAddress>,
    key: std::net::IpAddr,
}

impl Drop for AddressHeld {
    fn drop(&mut self) {
        let mut m = self.all.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = m.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.key);
            }
        }
    }
}

/// A response body that keeps its request [`Busy`] until it is done.
struct Guarded {
    body: Body,
    _busy: Busy,
}

impl HttpBody for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A connection's byte stream, telling its [`Phase`] when bytes arrive.
struct Watched<S> {
    inner: S,
    phase: Arc<Phase>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.phase.read_some(Instant::now());
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits {
        header_read_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(7),
        body_read_timeout: Duration::from_secs(5),
        max_connections: 1,
        max_per_address: 1,
    };

    #[test]
    fn idle_then_a_head_then_a_request_then_idle_again() {
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let p = Phase::new(t0);
        assert_eq!(p.deadline(&L), Some(t0 + L.idle_timeout), "just accepted: idle");
        p.read_some(s(1));
        assert_eq!(p.deadline(&L), Some(s(1) + L.header_read_timeout), "a head started");
        p.read_some(s(2));
        assert_eq!(p.deadline(&L), Some(s(3)), "more bytes do not extend it");
        p.start();
        p.read_some(s(3));
        assert_eq!(p.deadline(&L), None, "a request in progress is never timed out");
        p.body_pending(s(4));
        assert_eq!(p.deadline(&L), Some(s(4) + L.body_read_timeout), "a body still arriving is timed");
        p.body_done();
        assert_eq!(p.deadline(&L), None, "once the body is in, the request is never timed out");
        p.finish(s(61));
        assert_eq!(p.deadline(&L), Some(s(61) + L.idle_timeout), "idle from the end of the response");
        p.read_some(s(62));
        assert_eq!(p.deadline(&L), Some(s(62) + L.header_read_timeout), "the next head");
    }
}
