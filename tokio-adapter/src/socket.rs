//! Byte moving on a tokio `TcpStream`: async reads and writes for the connection loop, and
//! the blocking [`Transport`] an application runs over inside `block_in_place`.

use std::cell::Cell;
use std::fs::File;
use std::future::{Future, poll_fn};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncWrite, Interest};
use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio::time::{Instant as TokioInstant, timeout, timeout_at};
use wsgiref::handler::{Transport, TransportError};
use wsgiref_std::file::{SendFile, send_file_with};
use wsgiref_std::transport::transport_error;

/// Milliseconds since the server started, as the core's [`wsgiref::Instant`], on tokio's
/// clock (so the deadlines the core reports map back to tokio timers exactly).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    origin: TokioInstant,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Self {
            origin: TokioInstant::now(),
        }
    }

    /// The current time for the core.
    pub(crate) fn now(&self) -> wsgiref::Instant {
        let ms = self.origin.elapsed().as_millis();
        wsgiref::Instant::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    /// A core deadline as a tokio instant.
    pub(crate) fn deadline(&self, at: wsgiref::Instant) -> TokioInstant {
        // A deadline too far to represent (a timeout of `Duration::MAX`): thirty years.
        self.origin
            .checked_add(Duration::from_millis(at.as_millis()))
            .unwrap_or_else(|| TokioInstant::now() + Duration::from_secs(30 * 365 * 86_400))
    }
}

/// Reads what is there, without waiting: `Ok(None)` if nothing is.
fn try_read(stream: &TcpStream, buf: &mut [u8]) -> io::Result<Option<usize>> {
    loop {
        match stream.try_read(buf) {
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Reads at least one byte (or the end of input, `Ok(0)`) into `buf`; past `deadline`,
/// `TimedOut`.
pub(crate) async fn read(
    stream: &TcpStream,
    buf: &mut [u8],
    deadline: Option<TokioInstant>,
) -> io::Result<usize> {
    let read = async {
        loop {
            if let Some(n) = try_read(stream, buf)? {
                return Ok(n);
            }
            stream.readable().await?;
        }
    };
    match deadline {
        Some(at) => timeout_at(at, read)
            .await
            .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into())),
        None => read.await,
    }
}

/// The most slices one vectored write takes here (the core hands out at most three pieces).
const SLICES: usize = 4;

/// Writes what the socket takes now. `Ok(true)` once everything is written, `Ok(false)` if
/// the socket is full.
fn try_write(stream: &TcpStream, slices: &mut &mut [IoSlice<'_>]) -> io::Result<bool> {
    while !slices.is_empty() {
        match stream.try_write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(slices, n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Writes the rest of `slices`, waiting for the socket to take more at most `stall` without
/// progress (an inactivity timeout, as `SO_SNDTIMEO`: a slow but moving client is not cut).
async fn write_rest(
    stream: &TcpStream,
    mut slices: &mut [IoSlice<'_>],
    stall: Duration,
) -> io::Result<()> {
    let left = |slices: &[IoSlice<'_>]| slices.iter().map(|s| s.len()).sum::<usize>();
    // Set when a write first blocks, and again after each write that took bytes.
    let mut deadline = None;
    // The last wait ended without the socket being reported writable.
    let mut unreported = false;
    loop {
        let before = left(slices);
        let done = if unreported {
            try_send_unreported(stream, &mut slices)?
        } else {
            try_write(stream, &mut slices)?
        };
        if done {
            return Ok(());
        }
        if deadline.is_none() || left(slices) < before {
            deadline = Some(TokioInstant::now().checked_add(stall));
        }
        unreported = !wait_for_room(stream, deadline.flatten()).await?;
    }
}

/// [`try_write`] when the socket was not reported writable: tokio's own writes would not
/// try (they return `WouldBlock` until it is), so the bytes go to the socket directly
/// (`send`, the first slice at a time: the slow path).
fn try_send_unreported(stream: &TcpStream, slices: &mut &mut [IoSlice<'_>]) -> io::Result<bool> {
    use rustix::net::{SendFlags, send};
    while let Some(first) = slices.first() {
        match send(stream, first, SendFlags::NOSIGNAL) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(slices, n),
            Err(rustix::io::Errno::AGAIN) => return Ok(false),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}

/// How often a write that waits for room tries again (see [`wait_for_room`]).
const RETRY: Duration = Duration::from_millis(100);

/// One wait for room in `stream`'s send buffer, of at most [`RETRY`], within a stall that
/// may last until `deadline` (`None`: no deadline); the caller tries its write again after
/// it. `Ok(true)` if the socket was reported writable, `Ok(false)` if the wait ended
/// without that; `TimedOut` once the deadline passed.
///
/// The write is tried again at least every [`RETRY`] because Linux reports a TCP socket
/// writable (`EPOLLOUT`) only once a third of its send buffer is free: a client that reads
/// steadily but slowly from a large (autotuned) buffer takes bytes for many seconds without
/// the socket ever being reported writable, and must not be cut off as if it read nothing.
async fn wait_for_room(stream: &TcpStream, deadline: Option<TokioInstant>) -> io::Result<bool> {
    let now = TokioInstant::now();
    if deadline.is_some_and(|d| d <= now) {
        return Err(io::ErrorKind::TimedOut.into());
    }
    let slice = now + RETRY;
    let until = deadline.map_or(slice, |d| d.min(slice));
    match timeout_at(until, stream.writable()).await {
        Ok(ready) => ready.map(|()| true),
        Err(_) => Ok(false),
    }
}

/// Fills `storage` with the non-empty pieces of `group`; returns how many.
fn gather<'a>(group: &[&'a [u8]], storage: &mut [IoSlice<'a>; SLICES]) -> usize {
    let mut n = 0;
    for (slot, piece) in storage
        .iter_mut()
        .zip(group.iter().filter(|p| !p.is_empty()))
    {
        *slot = IoSlice::new(piece);
        n += 1;
    }
    n
}

/// Writes every byte of `pieces`, in order, with vectored writes; `stall` bounds each wait
/// for the socket.
pub(crate) async fn write_all(
    stream: &TcpStream,
    pieces: &[&[u8]],
    stall: Duration,
) -> io::Result<()> {
    for group in pieces.chunks(SLICES) {
        let mut storage = [IoSlice::new(&[]); SLICES];
        let n = gather(group, &mut storage);
        write_rest(stream, &mut storage[..n], stall).await?;
    }
    Ok(())
}

/// Makes the socket's close a reset (TCP RST) rather than a FIN: `SO_LINGER` with a zero
/// timeout; the socket is closed when the stream is dropped.
pub(crate) fn reset_on_drop(stream: &TcpStream) {
    let _ = rustix::net::sockopt::set_socket_linger(stream, Some(std::time::Duration::ZERO));
}

/// Closes gracefully: no more writes (FIN), then, if the client left bytes unread, discard
/// what it still sends for a moment, so the unread bytes do not turn the close into a reset
/// that destroys the response in flight (the std server's lingering close).
pub(crate) async fn linger_close(mut stream: TcpStream) {
    let _ = poll_fn(|cx| Pin::new(&mut stream).poll_shutdown(cx)).await;
    let mut sink = [0u8; 4096];
    match try_read(&stream, &mut sink) {
        // Something was pending: drain below.
        Ok(Some(n)) if n > 0 => {}
        // Nothing pending, or the client already closed: close now.
        _ => return,
    }
    let drain = async {
        for _ in 0..16 {
            if !matches!(read(&stream, &mut sink, None).await, Ok(n) if n > 0) {
                break;
            }
        }
    };
    let _ = timeout(Duration::from_millis(100), drain).await;
}

/// The connection's socket as the core's blocking [`Transport`], for the application's
/// reads of `wsgi.input` and its response writes, inside `block_in_place` (or, inline, on
/// the worker). Each call first tries the non-blocking operation; only when the socket is
/// not ready does it block this thread on the runtime (`Handle::block_on`) until it is, or
/// until the timeout.
pub(crate) struct BlockingSocket<'s> {
    pub(crate) stream: &'s TcpStream,
    pub(crate) handle: &'s Handle,
    pub(crate) clock: Clock,
    /// Longest wait for request body bytes (the core's body deadline).
    pub(crate) read_stall: Duration,
    /// Longest wait for the socket to take more response bytes.
    pub(crate) write_stall: Duration,
    /// The application runs on a runtime worker ([`crate::Execution::Inline`]): each wait
    /// leaves the worker with `block_in_place` first.
    pub(crate) inline: bool,
}

impl BlockingSocket<'_> {
    /// Blocks this thread until `future` completes.
    fn wait<F: Future>(&self, future: F) -> F::Output {
        if self.inline {
            tokio::task::block_in_place(|| self.handle.block_on(future))
        } else {
            self.handle.block_on(future)
        }
    }
}

impl SendFile for BlockingSocket<'_> {
    /// Sends the first `len` bytes of `file` with `sendfile(2)`, waiting for the socket (at
    /// most `write_stall` without progress) when it is full.
    fn send_file(&mut self, file: &File, len: u64) -> Result<(), TransportError> {
        let (stream, stall) = (self.stream, self.write_stall);
        // The end of the current stall (no byte taken since it began), if one began.
        let deadline: Cell<Option<Option<TokioInstant>>> = Cell::new(None);
        // The last wait ended without the socket being reported writable.
        let unreported = Cell::new(false);
        send_file_with(
            len,
            |offset, count| {
                let mut send = || {
                    rustix::fs::sendfile(stream, file, Some(offset), count).map_err(io::Error::from)
                };
                // `try_io` clears the socket's readiness when sendfile finds it full, so the
                // wait really waits; but while the socket is not reported writable it does
                // not try, so after a wait without that, sendfile goes directly (see
                // `wait_for_room`).
                let sent = if unreported.get() {
                    send()
                } else {
                    stream.try_io(Interest::WRITABLE, send)
                };
                if matches!(sent, Ok(1..)) {
                    deadline.set(None);
                }
                sent
            },
            || {
                let until = deadline
                    .get()
                    .unwrap_or_else(|| TokioInstant::now().checked_add(stall));
                deadline.set(Some(until));
                let reported = self
                    .wait(wait_for_room(stream, until))
                    .map_err(|e| transport_error(&e))?;
                unreported.set(!reported);
                Ok(())
            },
        )
    }
}

impl Transport for BlockingSocket<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        match try_read(self.stream, buf) {
            Ok(Some(n)) => return Ok(n),
            Ok(None) => {}
            Err(e) => return Err(transport_error(&e)),
        }
        let (stream, stall) = (self.stream, self.read_stall);
        // A stall too long to represent (`Duration::MAX` for "none"): no deadline.
        let deadline = TokioInstant::now().checked_add(stall);
        self.wait(async { read(stream, buf, deadline).await })
            .map_err(|e| transport_error(&e))
    }

    fn send(&mut self, pieces: &[&[u8]]) -> Result<(), TransportError> {
        for group in pieces.chunks(SLICES) {
            let mut storage = [IoSlice::new(&[]); SLICES];
            let n = gather(group, &mut storage);
            let mut slices = &mut storage[..n];
            match try_write(self.stream, &mut slices) {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => return Err(transport_error(&e)),
            }
            let (stream, stall) = (self.stream, self.write_stall);
            self.wait(write_rest(stream, slices, stall))
                .map_err(|e| transport_error(&e))?;
        }
        Ok(())
    }

    fn now(&mut self) -> wsgiref::Instant {
        self.clock.now()
    }
}
