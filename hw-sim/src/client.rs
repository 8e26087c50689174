//! A virtual card inserted into a vpcd reader: connects to the port the
//! vsmartcard `vpcd` driver (loaded by pcscd) listens on, and answers its
//! requests until removed. Connecting inserts the card; closing removes it.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::card::VirtualCard;
use crate::vpcd::{self, answer, frame, parse};

/// A card sitting on a reader. Dropping it removes the card.
#[derive(Debug)]
pub struct InsertedCard {
    stream: TcpStream,
    stop: Arc<AtomicBool>,
    worker: Option<JoinHandle<io::Result<()>>>,
}

fn serve(mut stream: TcpStream, card: &VirtualCard, stop: &AtomicBool) -> io::Result<()> {
    let mut len = [0u8; 2];
    let mut buf = vec![0u8; 0x1_0000];
    while !stop.load(Ordering::Relaxed) {
        quick_ack(&stream);
        match stream.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => continue,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        // vpcd sends the length and the payload in two writes without
        // TCP_NODELAY: Nagle holds the payload until the length is acked,
        // and a delayed ack would add ~40 ms to every exchange. A real
        // reader has no such stall, so the simulator acks at once.
        quick_ack(&stream);
        let n = usize::from(u16::from_be_bytes(len));
        stream.read_exact(&mut buf[..n])?;
        if let vpcd::Request::Apdu(a) = parse(&buf[..n])
            && card.vanishes_on(a)
        {
            // Yanked mid-APDU: the connection drops with the command unanswered.
            return stream.shutdown(Shutdown::Both);
        }
        if let Some(reply) = answer(card, &parse(&buf[..n])) {
            let framed = frame(&reply).ok_or_else(|| io::Error::other("reply too long for vpcd"))?;
            stream.write_all(&framed)?;
        }
    }
    Ok(())
}

fn quick_ack(stream: &TcpStream) {
    #[cfg(target_os = "linux")]
    let _ = socket2::SockRef::from(stream).set_tcp_quickack(true);
    #[cfg(not(target_os = "linux"))]
    let _ = stream;
}

impl InsertedCard {
    /// Inserts `card` into the vpcd reader listening at `addr`.
    pub fn insert(addr: impl ToSocketAddrs, card: VirtualCard) -> io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_millis(100)))?;
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (stream.try_clone()?, stop.clone());
        let worker = std::thread::Builder::new().name("vpcd-card".into()).spawn(move || serve(s, &card, &st))?;
        Ok(Self { stream, stop, worker: Some(worker) })
    }

    /// Holds `card` on the reader at `addr` for `dwell`, then takes it off.
    pub fn tap(addr: impl ToSocketAddrs, card: VirtualCard, dwell: Duration) -> io::Result<()> {
        let c = Self::insert(addr, card)?;
        std::thread::sleep(dwell);
        c.remove()
    }

    /// Whether the card is still in the field: false once the reader's
    /// side closed the connection or the card vanished on its own.
    #[must_use]
    pub fn in_field(&self) -> bool {
        self.worker.as_ref().is_some_and(|w| !w.is_finished())
    }

    /// Takes the card off the reader; returns how its session ended.
    pub fn remove(mut self) -> io::Result<()> {
        self.stop_now()
    }

    fn stop_now(&mut self) -> io::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.stream.shutdown(Shutdown::Both);
        match self.worker.take() {
            Some(w) => w.join().map_err(|_| io::Error::other("card thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for InsertedCard {
    fn drop(&mut self) {
        let _ = self.stop_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::CardModel;
    use std::net::TcpListener;

    /// Plays pcscd's vpcd driver: sends framed requests, reads answers.
    fn request(s: &mut TcpStream, payload: &[u8]) -> Vec<u8> {
        s.write_all(&frame(payload).unwrap()).unwrap();
        let mut len = [0u8; 2];
        s.read_exact(&mut len).unwrap();
        let mut out = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut out).unwrap();
        out
    }

    #[test]
    fn answers_the_driver_until_removed() {
        let driver = TcpListener::bind("127.0.0.1:0").unwrap();
        let card = VirtualCard::new(CardModel::Desfire, &[0x04, 1, 2, 3, 4, 5, 6]);
        let inserted = InsertedCard::insert(driver.local_addr().unwrap(), card.clone()).unwrap();
        let (mut s, _) = driver.accept().unwrap();
        // Power on has no answer; the next request still gets its own.
        s.write_all(&frame(&[0x01]).unwrap()).unwrap();
        assert_eq!(request(&mut s, &[0x04]), card.atr());
        assert_eq!(request(&mut s, &[0xFF, 0xCA, 0x00, 0x00, 0x00]), [0x04, 1, 2, 3, 4, 5, 6, 0x90, 0x00]);
        inserted.remove().unwrap();
        // Removal closes the connection: the driver sees end of stream.
        let mut b = [0u8; 1];
        assert_eq!(s.read(&mut b).unwrap(), 0);
    }
}
