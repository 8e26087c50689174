//! The process's signals, handled in one place: SIGINT and SIGTERM ask it
//! to stop, SIGHUP to reload (the TLS certificate).
//!
//! Rules this module keeps:
//! - A handler is registered when its value is created ([`Stop::new`],
//!   [`Reload::new`], [`stop_flag`]), before the work it guards starts:
//!   from then on the signal no longer ends the process, it is delivered
//!   here. Create them early.
//! - Async code waits on [`Stop::wait`] / [`Reload::next`]; blocking code
//!   (`idms purge run`) polls the flag of [`stop_flag`], set by a thread of
//!   its own.
//! - If a handler cannot be registered the signal keeps its default action
//!   (it ends the process), which is logged; nothing is silently ignored.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::signal::unix::{Signal, SignalKind, signal};

/// SIGINT (Ctrl-C) or SIGTERM: stop.
#[derive(Debug)]
pub struct Stop {
    int: Signal,
    term: Signal,
}

impl Stop {
    /// Registers the handlers (inside a tokio runtime).
    ///
    /// # Errors
    /// The handler could not be installed.
    pub fn new() -> std::io::Result<Self> {
        Ok(Self { int: signal(SignalKind::interrupt())?, term: signal(SignalKind::terminate())? })
    }

    /// Resolves at the first SIGINT or SIGTERM, naming it.
    pub async fn wait(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
        }
    }
}

/// SIGHUP: reload what can be reloaded.
#[derive(Debug)]
pub struct Reload(Signal);

impl Reload {
    /// Registers the handler (inside a tokio runtime).
    ///
    /// # Errors
    /// The handler could not be installed.
    pub fn new() -> std::io::Result<Self> {
        Ok(Self(signal(SignalKind::hangup())?))
    }

    /// Resolves at the next SIGHUP (several pending ones count once).
    pub async fn next(&mut self) {
        self.0.recv().await;
    }
}

/// For blocking code: a flag set at the first SIGINT or SIGTERM (by a
/// thread of its own), which then no longer ends the process. If the
/// handler cannot be installed the flag never sets and a signal ends the
/// process as usual; that is logged.
#[must_use]
pub fn stop_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        tracing::warn!("cannot watch for SIGINT/SIGTERM; they end the process");
        return stop;
    };
    // Registered here, before returning: from now on a signal only sets the flag.
    let Ok(mut signals) = rt.block_on(async { Stop::new() }) else {
        tracing::warn!("cannot watch for SIGINT/SIGTERM; they end the process");
        return stop;
    };
    let flag = stop.clone();
    let spawned = std::thread::Builder::new().name("idms-signals".into()).spawn(move || {
        rt.block_on(signals.wait());
        flag.store(true, Ordering::Relaxed);
    });
    if spawned.is_err() {
        tracing::warn!("cannot watch for SIGINT/SIGTERM; they end the process");
    }
    stop
}
