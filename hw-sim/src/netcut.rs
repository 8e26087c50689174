//! A TCP proxy that can partition the network: between a door controller
//! and the service in tests and the partition drill.
//!
//! [`Partition::cut`] resets every open connection and resets each new one
//! as soon as it is accepted (the client sees its connection refused or
//! reset at once, as when the service's host is unreachable and a router
//! answers); [`Partition::heal`] forwards again.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

#[derive(Debug, Default)]
struct Inner {
    cut: AtomicBool,
    stop: AtomicBool,
    next: AtomicU64,
    /// Open connections: (client side, service side).
    conns: Mutex<HashMap<u64, (TcpStream, TcpStream)>>,
}

impl Inner {
    fn drop_all(&self) {
        let conns: Vec<(TcpStream, TcpStream)> =
            self.conns.lock().unwrap_or_else(PoisonError::into_inner).drain().map(|(_, c)| c).collect();
        for (a, b) in conns {
            reset(&a);
            let _ = b.shutdown(Shutdown::Both);
        }
    }
}

/// Closes a socket with a reset rather than an orderly close.
fn reset(s: &TcpStream) {
    let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
    let _ = s.shutdown(Shutdown::Both);
}

/// A proxy in front of one address.
#[derive(Debug)]
pub struct Partition {
    addr: SocketAddr,
    inner: Arc<Inner>,
}

impl Partition {
    /// Listens on a free port of 127.0.0.1 and forwards to `target`.
    ///
    /// # Errors
    /// No port could be bound.
    pub fn start(target: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner::default());
        let i = inner.clone();
        std::thread::Builder::new().name("netcut".into()).spawn(move || accept(&listener, target, &i))?;
        Ok(Self { addr, inner })
    }

    /// Where clients connect.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drops every open connection and refuses new ones.
    pub fn cut(&self) {
        self.inner.cut.store(true, Ordering::SeqCst);
        self.inner.drop_all();
    }

    /// Forwards again.
    pub fn heal(&self) {
        self.inner.cut.store(false, Ordering::SeqCst);
    }

    /// Whether it is cut.
    #[must_use]
    pub fn is_cut(&self) -> bool {
        self.inner.cut.load(Ordering::SeqCst)
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        self.inner.drop_all();
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

fn accept(listener: &TcpListener, target: SocketAddr, inner: &Arc<Inner>) {
    for client in listener.incoming() {
        if inner.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        if inner.cut.load(Ordering::SeqCst) {
            reset(&client);
            continue;
        }
        let Ok(server) = TcpStream::connect_timeout(&target, Duration::from_secs(2)) else {
            reset(&client);
            continue;
        };
        let _ = (client.set_nodelay(true), server.set_nodelay(true));
        let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) =
            (client.try_clone(), server.try_clone(), client.try_clone(), server.try_clone())
        else {
            continue;
        };
        let id = inner.next.fetch_add(1, Ordering::SeqCst);
        {
            let mut conns = inner.conns.lock().unwrap_or_else(PoisonError::into_inner);
            // A cut between the check above and here must not miss this one.
            if inner.cut.load(Ordering::SeqCst) {
                reset(&client);
                let _ = server.shutdown(Shutdown::Both);
                continue;
            }
            conns.insert(id, (c3, s3));
        }
        let i = inner.clone();
        let up = std::thread::Builder::new().name("netcut-up".into()).spawn(move || pump(client, server));
        let down = std::thread::Builder::new().name("netcut-down".into()).spawn(move || {
            pump(s2, c2);
            i.conns.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
        });
        if up.is_err() || down.is_err() {
            inner.conns.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
        }
    }
}

/// Copies until either side ends, then closes both directions.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server; returns its address.
    fn echo() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { return };
                std::thread::spawn(move || {
                    let mut r = s.try_clone().unwrap();
                    let _ = std::io::copy(&mut r, &mut s);
                });
            }
        });
        addr
    }

    fn round_trip(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
        s.write_all(b"ping")?;
        let mut b = [0u8; 4];
        s.read_exact(&mut b)?;
        Ok(b.to_vec())
    }

    #[test]
    fn a_cut_drops_open_connections_and_refuses_new_ones_until_healed() {
        let p = Partition::start(echo()).unwrap();
        let mut open = TcpStream::connect(p.addr()).unwrap();
        open.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(round_trip(&mut open).unwrap(), b"ping");
        p.cut();
        assert!(p.is_cut());
        assert!(round_trip(&mut open).is_err(), "an open connection survived the cut");
        let mut new = TcpStream::connect(p.addr()).unwrap();
        new.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert!(round_trip(&mut new).is_err(), "a new connection got through the cut");
        p.heal();
        let mut again = TcpStream::connect(p.addr()).unwrap();
        again.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(round_trip(&mut again).unwrap(), b"ping");
    }
}
