//! The core's [`Transport`] over std streams: sockets and stdin/stdout.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant as StdInstant};

use wsgiref::Instant;
use wsgiref::handler::{Transport, TransportError};

use crate::file::{SendFile, send_file_with};

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

/// Closes `stream` with a reset (TCP RST) when it is dropped, rather than a FIN: for a
/// connection whose response was cut short while the close delimits its body
/// ([`wsgiref::Connection::must_reset`]), the one way the client can tell that the
/// response is incomplete. `SO_LINGER` with a zero timeout; bytes not yet sent are
/// discarded with it.
pub fn reset_on_drop(stream: &TcpStream) {
    let _ = rustix::net::sockopt::set_socket_linger(stream, Some(Duration::ZERO));
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
///
/// A blocking socket (the thread-per-connection server) waits in `read`/`write` with the
/// socket's own timeouts. A non-blocking one (an event loop, [`SocketTransport::nonblocking`])
/// waits for readiness of this one socket with `poll(2)`, bounded by the given timeouts, so
/// an application can read its body and write its response as if the socket blocked.
#[derive(Debug)]
pub struct SocketTransport<'s> {
    stream: &'s TcpStream,
    clock: Clock,
    /// The read timeout on the socket, and the one body reads need.
    read_timeout: Option<(&'s Cell<Option<Duration>>, Duration)>,
    /// Non-blocking socket: the longest wait for readability and for writability.
    waits: Option<(Duration, Duration)>,
    /// Non-blocking socket: waits give up once this passed (a server's shutdown timeout).
    cut_off: Option<&'s CutOff>,
}

/// When the waits of non-blocking transports give up, whatever their own timeouts: set
/// when a server stops, to the end of its shutdown timeout, so that a request still in
/// flight then (a client trickling its body into an application) ends.
#[derive(Debug, Default)]
pub struct CutOff(std::sync::OnceLock<StdInstant>);

impl CutOff {
    /// Not set.
    #[must_use]
    pub const fn new() -> Self {
        Self(std::sync::OnceLock::new())
    }

    /// Waits give up `after` from now (only the first call counts).
    pub fn set(&self, after: Duration) {
        // Too far to represent: never.
        if let Some(at) = StdInstant::now().checked_add(after) {
            let _ = self.0.set(at);
        }
    }

    /// Has the cut-off passed?
    #[must_use]
    pub fn passed(&self) -> bool {
        self.0.get().is_some_and(|at| StdInstant::now() >= *at)
    }

    /// How long until it passes, if it is set.
    #[must_use]
    pub fn left(&self) -> Option<Duration> {
        self.0
            .get()
            .map(|at| at.saturating_duration_since(StdInstant::now()))
    }
}

impl<'s> SocketTransport<'s> {
    /// The transport over `stream`, with deadlines measured on `clock`.
    #[must_use]
    pub fn new(stream: &'s TcpStream, clock: Clock) -> Self {
        Self {
            stream,
            clock,
            read_timeout: None,
            waits: None,
            cut_off: None,
        }
    }

    /// The transport over a non-blocking `stream`: a read that finds no data waits up to
    /// `read` for some, a write that finds the send buffer full waits up to `write` for room
    /// (time without progress: any byte taken starts the wait again); longer is
    /// [`TransportError::TimedOut`].
    #[must_use]
    pub fn nonblocking(
        stream: &'s TcpStream,
        clock: Clock,
        read: Duration,
        write: Duration,
    ) -> Self {
        Self {
            stream,
            clock,
            read_timeout: None,
            waits: Some((read, write)),
            cut_off: None,
        }
    }

    /// Waits (of a [`SocketTransport::nonblocking`] transport) give up once `cut_off` passed.
    #[must_use]
    pub fn with_cut_off(mut self, cut_off: &'s CutOff) -> Self {
        self.cut_off = Some(cut_off);
        self
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

impl SendFile for SocketTransport<'_> {
    /// `sendfile(2)` from the file to the socket; on a non-blocking socket (the poll server)
    /// a full send buffer is waited for, at most the write timeout without progress. On a
    /// blocking socket (the thread pool) `EAGAIN` means that its send timeout (`SO_SNDTIMEO`,
    /// the write timeout) passed with no room: [`TransportError::TimedOut`], as for any
    /// write.
    fn send_file(&mut self, file: &File, len: u64) -> Result<(), TransportError> {
        let stream = self.stream;
        // The end of the current stall (no byte taken since it began), if one began.
        let stall: Cell<Option<Option<StdInstant>>> = Cell::new(None);
        send_file_with(
            len,
            |offset, count| {
                let sent = rustix::fs::sendfile(stream, file, Some(offset), count)
                    .map_err(io::Error::from);
                if matches!(sent, Ok(1..)) {
                    stall.set(None);
                }
                sent
            },
            || match self.waits {
                None => Err(TransportError::TimedOut),
                Some((_, write)) => {
                    let deadline = stall
                        .get()
                        .unwrap_or_else(|| StdInstant::now().checked_add(write));
                    stall.set(Some(deadline));
                    wait_for_room(stream, deadline, self.cut_off)
                }
            },
        )
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
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && self.waits.is_some() => {
                    let wait = self.waits.map_or(Duration::ZERO, |w| w.0);
                    wait_ready_until(self.stream, true, wait, self.cut_off)?;
                }
                Err(e) => return Err(transport_error(&e)),
            }
        }
    }

    fn send(&mut self, pieces: &[&[u8]]) -> Result<(), TransportError> {
        match self.waits {
            None => write_all_vectored(&mut &*self.stream, pieces).map_err(|e| transport_error(&e)),
            Some((_, wait)) => {
                let mut out = WaitingWriter {
                    stream: self.stream,
                    wait,
                    cut_off: self.cut_off,
                };
                write_all_vectored(&mut out, pieces).map_err(|e| transport_error(&e))
            }
        }
    }

    fn now(&mut self) -> Instant {
        self.clock.now()
    }
}

/// Waits with `poll(2)` until `stream` is readable (or writable), at most `timeout`.
///
/// # Errors
/// [`TransportError::TimedOut`] when nothing happened in time; a failed `poll` is
/// [`TransportError::Failed`]. Errors and hang-ups on the socket count as ready: the next
/// read or write reports them.
pub fn wait_ready(
    stream: &TcpStream,
    readable: bool,
    timeout: Duration,
) -> Result<(), TransportError> {
    wait_ready_until(stream, readable, timeout, None)
}

/// [`wait_ready`], giving up ([`TransportError::TimedOut`]) once `cut_off` passed: it is
/// looked at before the wait and every 100 ms during it.
fn wait_ready_until(
    stream: &TcpStream,
    readable: bool,
    timeout: Duration,
    cut_off: Option<&CutOff>,
) -> Result<(), TransportError> {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    const LOOK: Duration = Duration::from_millis(100);
    let flags = if readable {
        PollFlags::IN
    } else {
        PollFlags::OUT
    };
    // A timeout too long to represent (`Duration::MAX` for "none") waits an hour at a time.
    let deadline = StdInstant::now().checked_add(timeout);
    loop {
        if cut_off.is_some_and(CutOff::passed) {
            return Err(TransportError::TimedOut);
        }
        let left = deadline.map_or(Duration::from_secs(3600), |d| {
            d.saturating_duration_since(StdInstant::now())
        });
        let slice = if cut_off.is_some() {
            left.min(LOOK)
        } else {
            left
        };
        let spec = Timespec {
            tv_sec: i64::try_from(slice.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(slice.subsec_nanos()),
        };
        let mut fds = [PollFd::new(stream, flags)];
        match poll(&mut fds, Some(&spec)) {
            Ok(0) if left.is_zero() && deadline.is_some() => return Err(TransportError::TimedOut),
            Ok(0) => {}
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return Err(TransportError::Failed),
        }
    }
}

/// A non-blocking socket as a writer that waits (bounded) instead of `WouldBlock`.
struct WaitingWriter<'s> {
    stream: &'s TcpStream,
    wait: Duration,
    cut_off: Option<&'s CutOff>,
}

impl WaitingWriter<'_> {
    /// Runs `op` until it does not block, waiting for room at most `self.wait` without
    /// progress (see [`wait_for_room`]).
    fn retry<T>(&mut self, mut op: impl FnMut(&TcpStream) -> io::Result<T>) -> io::Result<T> {
        // Set when the first attempt blocks (no clock reading for a write that does not).
        let mut deadline = None;
        loop {
            match op(self.stream) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let deadline =
                        *deadline.get_or_insert_with(|| StdInstant::now().checked_add(self.wait));
                    wait_for_room(self.stream, deadline, self.cut_off)
                        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?;
                }
                other => return other,
            }
        }
    }
}

/// One wait for room in `stream`'s send buffer, of at most 100 ms, within a stall that may
/// last until `deadline` (`None`: no deadline); the caller tries its write again after it.
/// [`TransportError::TimedOut`] once the deadline (or `cut_off`) passed.
///
/// The write is tried again at least every 100 ms because Linux reports a TCP socket
/// writable (`POLLOUT`) only once a third of its send buffer is free: a client that reads
/// steadily but slowly from a large (autotuned) buffer takes bytes for many seconds without
/// `poll` ever saying so, and must not be cut off as if it read nothing.
fn wait_for_room(
    stream: &TcpStream,
    deadline: Option<StdInstant>,
    cut_off: Option<&CutOff>,
) -> Result<(), TransportError> {
    const RETRY: Duration = Duration::from_millis(100);
    let left = deadline.map_or(RETRY, |d| d.saturating_duration_since(StdInstant::now()));
    if left.is_zero() {
        return Err(TransportError::TimedOut);
    }
    match wait_ready_until(stream, false, left.min(RETRY), cut_off) {
        // The slice ended without `POLLOUT`: the caller tries again.
        Err(TransportError::TimedOut) if !cut_off.is_some_and(CutOff::passed) => Ok(()),
        other => other,
    }
}

impl Write for WaitingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.retry(|mut s| s.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.retry(|mut s| s.write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
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
