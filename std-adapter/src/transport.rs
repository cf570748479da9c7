//! The core's [`Transport`] over std streams: sockets and stdin/stdout.

use std::cell::Cell;
use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant as StdInstant};

use wsgiref::Instant;
use wsgiref::handler::{Transport, TransportError};

/// Milliseconds since a fixed origin, as the core's [`Instant`].
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: StdInstant,
}

impl Clock {
    /// A clock whose origin is now.
    #[must_use]
    pub fn new() -> Self {
        Self {
            origin: StdInstant::now(),
        }
    }

    /// The current time.
    #[must_use]
    pub fn now(&self) -> Instant {
        Instant::from_millis(u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX))
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// Maps an I/O error to the core's transport error: peer resets are quiet disconnects.
#[must_use]
pub fn transport_error(e: &io::Error) -> TransportError {
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::NotConnected
        | io::ErrorKind::UnexpectedEof => TransportError::Disconnected,
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => TransportError::TimedOut,
        _ => TransportError::Failed,
    }
}

/// Writes every byte of `pieces` with vectored writes, retrying partial writes and `EINTR`
/// (CPython's `test_interrupted_write`: nothing may be lost).
///
/// # Errors
/// The first write error other than `Interrupted`; a write of zero bytes is `WriteZero`.
pub fn write_all_vectored<W: Write + ?Sized>(out: &mut W, pieces: &[&[u8]]) -> io::Result<()> {
    let mut slices: [IoSlice<'_>; 4] = [IoSlice::new(&[]); 4];
    let mut n = 0;
    for piece in pieces.iter().filter(|p| !p.is_empty()) {
        if n == slices.len() {
            // More pieces than slots: write what we have, then go on.
            write_slices(out, &mut slices[..n])?;
            n = 0;
        }
        slices[n] = IoSlice::new(piece);
        n += 1;
    }
    write_slices(out, &mut slices[..n])
}

fn write_slices<W: Write + ?Sized>(out: &mut W, mut slices: &mut [IoSlice<'_>]) -> io::Result<()> {
    IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        match out.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => IoSlice::advance_slices(&mut slices, written),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A TCP connection as the core's transport (used while an application runs).
#[derive(Debug)]
pub struct SocketTransport<'s> {
    stream: &'s TcpStream,
    clock: Clock,
    /// The read timeout on the socket, and the one body reads need.
    read_timeout: Option<(&'s Cell<Option<Duration>>, Duration)>,
}

impl<'s> SocketTransport<'s> {
    /// The transport over `stream`, with deadlines measured on `clock`.
    #[must_use]
    pub fn new(stream: &'s TcpStream, clock: Clock) -> Self {
        Self {
            stream,
            clock,
            read_timeout: None,
        }
    }

    /// Reads arm `timeout` on the socket first (tracked in `armed`, shared with the
    /// connection loop, so an unchanged timeout costs no system call).
    #[must_use]
    pub fn with_read_timeout(
        mut self,
        armed: &'s Cell<Option<Duration>>,
        timeout: Duration,
    ) -> Self {
        self.read_timeout = Some((armed, timeout));
        self
    }

    /// The socket.
    #[must_use]
    pub fn stream(&self) -> &'s TcpStream {
        self.stream
    }
}

impl Transport for SocketTransport<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        if let Some((armed, timeout)) = self.read_timeout {
            crate::server::arm_read_timeout(self.stream, armed, Some(timeout));
        }
        loop {
            match (&mut &*self.stream).read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(transport_error(&e)),
            }
        }
    }

    fn send(&mut self, pieces: &[&[u8]]) -> Result<(), TransportError> {
        write_all_vectored(&mut &*self.stream, pieces).map_err(|e| transport_error(&e))
    }

    fn now(&mut self) -> Instant {
        self.clock.now()
    }
}

/// Any reader and writer as a transport: a CGI script's stdin and stdout, a test pipe.
#[derive(Debug)]
pub struct StreamTransport<R, W> {
    /// Where request bytes come from.
    pub input: R,
    /// Where response bytes go.
    pub output: W,
}

impl<R: Read, W: Write> Transport for StreamTransport<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        loop {
            match self.input.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(transport_error(&e)),
            }
        }
    }

    fn send(&mut self, pieces: &[&[u8]]) -> Result<(), TransportError> {
        write_all_vectored(&mut self.output, pieces)
            .and_then(|()| self.output.flush())
            .map_err(|e| transport_error(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes at most 7 bytes per call and is interrupted every third call
    /// (CPython's testPartialWrite and test_interrupted_write).
    struct Stingy {
        out: Vec<u8>,
        calls: usize,
    }

    impl Write for Stingy {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(3) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(7);
            self.out.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn partial_and_interrupted_writes_lose_nothing() {
        let mut w = Stingy {
            out: Vec::new(),
            calls: 0,
        };
        let pieces: [&[u8]; 6] = [
            b"HTTP/1.0 200 OK\r\n",
            b"",
            b"Content-Type: text/plain\r\n\r\n",
            b"Hello, ",
            b"world!",
            b"\r\n",
        ];
        write_all_vectored(&mut w, &pieces).unwrap();
        assert_eq!(w.out, pieces.concat());
    }
}
