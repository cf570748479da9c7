//! The sans-IO HTTP/1.x server connection: bytes in, events and bytes out.
//!
//! See the [crate docs](crate) for the drain contract and a complete run loop.

use core::net::SocketAddr;
use core::time::Duration;

use crate::date::Clock;
use crate::environ::{Environ, Gateway};
use crate::framing::{BodyFraming, Version};
use crate::handler::{ErrorOutput, OutputMode, RequestFacts, Response, ResponseConfig, Transmit};
use crate::read::body::{BodyLimits, BodyReader, Step};
use crate::read::head::{Head, HeadLimits, HeadParser, Progress, Span};
use crate::state::{Phase, State, TimerKind};
use crate::time::Instant;
use crate::{LocalError, RemoteError};

/// Size limits. Every limit has its own status when exceeded.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Limits {
    /// Longest request line, method and version included (414). 8000-octet targets, the
    /// RFC 9112 §3 recommendation, fit the default.
    pub max_request_line: usize,
    /// Largest request head, discarded fields included (431). At most 65535.
    pub max_head: usize,
    /// Most header fields in one head (431).
    pub max_headers: usize,
    /// Largest request body, declared or streamed (413).
    pub max_body: u64,
    /// Longest chunk-size line, extensions included (400).
    pub max_chunk_line: usize,
    /// Largest trailer section (431).
    pub max_trailers: usize,
    /// Most unread body octets (chunk framing included) read and discarded after a response
    /// to keep the connection; beyond this the connection is closed instead (and a
    /// response whose head goes out at its end, with more than this left of a declared
    /// length, says `Connection: close`).
    pub max_drain: u64,
    /// Most empty lines accepted before a request line (RFC 9112 §2.2 says at least one).
    pub max_empty_lines: usize,
}

impl Limits {
    /// The defaults: 16 KiB request line, 64 KiB head, 100 fields, 64 MiB body, 1 KiB
    /// chunk lines, 8 KiB of trailers, 64 KiB drained, 8 empty lines.
    pub const DEFAULT: Self = Self {
        max_request_line: 16 * 1024,
        max_head: 64 * 1024 - 1,
        max_headers: 100,
        max_body: 64 * 1024 * 1024,
        max_chunk_line: 1024,
        max_trailers: 8 * 1024,
        max_drain: 64 * 1024,
        max_empty_lines: 8,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Deadlines, measured on the [`Instant`]s the adapter passes in.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// From the connection's start to the first byte of its first request.
    pub first_byte: Duration,
    /// Idle time allowed between requests on a persistent connection.
    pub keep_alive: Duration,
    /// From the first byte of a request head to its end (cuts off slow heads).
    pub head: Duration,
    /// Longest wait for more request body bytes.
    pub body: Duration,
}

impl Timeouts {
    /// 10 s to the first byte, 5 s idle keep-alive, 10 s for a head, 30 s between body
    /// reads.
    pub const DEFAULT: Self = Self {
        first_byte: Duration::from_secs(10),
        keep_alive: Duration::from_secs(5),
        head: Duration::from_secs(10),
        body: Duration::from_secs(30),
    };
}

impl Default for Timeouts {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Everything configurable about a connection. Shared by reference between connections.
#[derive(Clone, Copy, Debug)]
pub struct Config<'a> {
    /// Size limits.
    pub limits: Limits,
    /// Deadlines.
    pub timeouts: Timeouts,
    /// Header filtering: `None` keeps every field for the environ; `Some(list)` keeps only
    /// Host, Content-Type, Content-Length and the listed fields (case-insensitive). Fields
    /// not kept are still validated, counted and interpreted for framing, but their bytes
    /// are dropped as they arrive, so a small receive buffer survives a large Cookie.
    pub keep_headers: Option<&'a [&'a str]>,
    /// The server-side facts of the environ.
    pub gateway: Gateway<'a>,
    /// Origin-server or CGI output.
    pub mode: OutputMode,
    /// The version written in response status lines (`BaseHandler.http_version`).
    pub http_version: Version,
    /// The response to an application error (`error_status`, `error_headers`,
    /// `error_body`).
    pub error_output: ErrorOutput<'a>,
}

impl Config<'_> {
    /// The default configuration.
    pub const DEFAULT: Config<'static> = Config {
        limits: Limits::DEFAULT,
        timeouts: Timeouts::DEFAULT,
        keep_headers: None,
        gateway: Gateway::DEFAULT,
        mode: OutputMode::Origin,
        http_version: Version::Http11,
        error_output: ErrorOutput::DEFAULT,
    };

    #[inline]
    fn head_limits(&self) -> HeadLimits<'_> {
        HeadLimits {
            max_request_line: self.limits.max_request_line,
            max_head: self.limits.max_head.min(usize::from(u16::MAX)),
            max_fields: self.limits.max_headers,
            max_empty_lines: self.limits.max_empty_lines,
            keep: self.keep_headers,
        }
    }

    fn body_limits(&self) -> BodyLimits {
        BodyLimits {
            max_body: self.limits.max_body,
            max_chunk_line: self.limits.max_chunk_line,
            max_trailers: self.limits.max_trailers,
        }
    }

    fn response_config(&self) -> ResponseConfig<'_> {
        ResponseConfig {
            mode: self.mode,
            server_software: self.gateway.server_software,
            http11: self.http_version == Version::Http11,
            manage_connection: true,
            error: &self.error_output,
        }
    }
}

impl Default for Config<'_> {
    fn default() -> Self {
        Config::DEFAULT
    }
}

/// What the connection needs from the adapter next. Drain these with
/// [`Connection::poll_event`] until `NeedData` or `Close`.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub enum Event<'c> {
    /// Read more bytes into [`Connection::receive_buf`], then call
    /// [`Connection::handle_received`] (or [`Connection::handle_eof`]); or wait for
    /// [`Connection::poll_timeout`].
    NeedData,
    /// A request head is complete: serve it through [`Connection::exchange`]. Returned again
    /// until the response is finished.
    Request,
    /// Send these bytes (a response the core wrote itself, such as a 400), then poll again.
    Send(&'c [u8]),
    /// The request and its response are complete and the connection persists; the next
    /// request may follow.
    NextCycle,
    /// Close the connection (after sending everything already handed out).
    Close,
}

/// A piece of request body, from [`Exchange::poll_body`].
#[derive(Debug, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub enum Body<'a> {
    /// Body bytes, in order.
    Data(&'a [u8]),
    /// No body bytes are buffered: read more into [`Exchange::receive_buf`].
    NeedData,
    /// The client is waiting for these bytes (`HTTP/1.1 100 Continue`) before it sends
    /// the body: send them, then poll again.
    Continue(&'static [u8]),
    /// The body is complete (reading further is EOF, never the next request).
    End,
}

/// The outcome of [`Exchange::read_body`].
#[derive(Debug, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub enum ReadBody {
    /// This many bytes were copied into the buffer.
    Data(usize),
    /// Nothing is buffered: read more into [`Exchange::receive_buf`].
    NeedData,
    /// Send these bytes (`100 Continue`), then read again.
    Continue(&'static [u8]),
    /// The body is complete.
    End,
}

/// The interim response released by the first body read of an `Expect: 100-continue`
/// request.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// An HTTP/1.x server connection over caller-owned buffers, with room for `H` kept header
/// fields per request.
#[derive(Debug)]
pub struct Connection<'b, const H: usize = 32> {
    config: &'b Config<'b>,
    rx: &'b mut [u8],
    tx: &'b mut [u8],
    /// Valid bytes in `rx`.
    filled: usize,
    /// First unconsumed body byte (Exchange and Drain).
    body_pos: usize,
    parser: HeadParser,
    head: Head<H>,
    body: BodyReader,
    response: Response,
    state: State,
    remote: Option<SocketAddr>,
    unix_time: Option<Clock>,
    /// The error the core answered itself, and the request line as far as it came.
    rejected: Option<(RemoteError, Span)>,
}

impl<'b, const H: usize> Connection<'b, H> {
    /// A connection over a receive buffer `rx` (it must hold the largest kept head plus
    /// some body) and a transmit buffer `tx` (it must hold the largest response head).
    pub fn new(config: &'b Config<'b>, rx: &'b mut [u8], tx: &'b mut [u8]) -> Self {
        Self {
            config,
            rx,
            tx,
            filled: 0,
            body_pos: 0,
            parser: HeadParser::new(),
            head: Head::new(),
            body: BodyReader::Done,
            response: Response::new(),
            state: State::new(),
            remote: None,
            unix_time: None,
            rejected: None,
        }
    }

    /// Ends the connection and gives its buffers back, to serve the next connection with
    /// (an event loop keeps one pair per connection slot).
    ///
    /// ```
    /// use wsgiref::{Config, Connection};
    /// let (mut rx, mut tx) = ([0u8; 1024], [0u8; 512]);
    /// let first: Connection<'_> = Connection::new(&Config::DEFAULT, &mut rx, &mut tx);
    /// let (rx, tx) = first.into_buffers();
    /// let second: Connection<'_> = Connection::new(&Config::DEFAULT, rx, tx);
    /// assert_eq!(second.requests_served(), 0);
    /// ```
    #[must_use]
    pub fn into_buffers(self) -> (&'b mut [u8], &'b mut [u8]) {
        (self.rx, self.tx)
    }

    /// Sets the peer's address (`REMOTE_ADDR`, `REMOTE_PORT`).
    pub fn set_remote(&mut self, remote: SocketAddr) {
        self.remote = Some(remote);
    }

    /// Sets the wall-clock time, in Unix seconds, used for `Date` headers. Without it,
    /// responses carry no `Date` (RFC 9110 §6.6.1: only servers with a clock send one).
    pub fn set_unix_time(&mut self, unix_secs: u64) {
        self.unix_time = Some(Clock::new(unix_secs));
    }

    /// Should the connection end with a reset rather than a FIN? True while a response
    /// whose body only the close delimits (an HTTP/1.0 client, or `Config::http_version`
    /// 1.0, and no Content-Length) has its head out and is not finished, and once such a
    /// response was cut short ([`Exchange::fail`] after its head went out): after a FIN it
    /// would look complete, and only an error from the connection tells the client
    /// otherwise (RFC 9112 §8). Ask it whenever the connection closes, also when a server
    /// gives up on it (a write deadline, [`Exchange::abort`], a shutdown): `SO_LINGER` with
    /// a zero timeout on a socket, `abort` on a smoltcp socket. A response cut short with a
    /// length or chunked framing shows the cut by itself, and a graceful close suits it.
    ///
    /// ```
    /// use wsgiref::{Config, Connection, Event, Instant};
    /// let (mut rx, mut tx, mut arena) = ([0u8; 1024], [0u8; 512], [0u8; 64]);
    /// let mut conn: Connection<'_> = Connection::new(&Config::DEFAULT, &mut rx, &mut tx);
    /// let req = b"GET / HTTP/1.0\r\n\r\n";
    /// conn.receive_buf()[..req.len()].copy_from_slice(req);
    /// conn.handle_received(req.len());
    /// assert_eq!(conn.poll_event(Instant::from_millis(0)), Event::Request);
    /// let (_environ, mut exchange) = conn.exchange(&mut arena).unwrap();
    /// exchange.start_response("200 OK", &[("Content-Type", "text/plain")]).unwrap();
    /// let _ = exchange.write(b"the first half").unwrap(); // sent, close-delimited
    /// let _ = exchange.fail(); // the application failed: nothing more can be said
    /// assert_eq!(conn.poll_event(Instant::from_millis(0)), Event::Close);
    /// assert!(conn.must_reset());
    /// ```
    #[must_use]
    pub fn must_reset(&self) -> bool {
        self.response.cut_short || self.response.mid_close_delimited()
    }

    /// The request line exactly as received (its bytes, without the line terminator), for
    /// an access log that shows it as Python's `http.server` does: at [`Event::Request`]
    /// until [`Connection::exchange`] (which percent-decodes the path in place), and after
    /// the core rejected a request itself ([`Connection::rejected`]): as much of the line
    /// as had come (empty for a line too long). `None` at other times.
    ///
    /// ```
    /// use wsgiref::{Config, Connection, Event, Instant};
    /// let (mut rx, mut tx, mut arena) = ([0u8; 1024], [0u8; 512], [0u8; 64]);
    /// let mut conn: Connection<'_> = Connection::new(&Config::DEFAULT, &mut rx, &mut tx);
    /// let req = b"GET /a%20b?x HTTP/1.1\r\nHost: h\r\n\r\n";
    /// conn.receive_buf()[..req.len()].copy_from_slice(req);
    /// conn.handle_received(req.len());
    /// assert_eq!(conn.poll_event(Instant::from_millis(0)), Event::Request);
    /// assert_eq!(conn.request_line(), Some(&b"GET /a%20b?x HTTP/1.1"[..]));
    /// let (environ, _exchange) = conn.exchange(&mut arena).unwrap();
    /// assert_eq!(environ.get("PATH_INFO"), Some(&b"/a b"[..]));
    /// ```
    #[must_use]
    pub fn request_line(&self) -> Option<&[u8]> {
        let span = match (self.state.phase, self.rejected) {
            (Phase::Exchange, _) if !self.head.exchanged => self.head.request_line(),
            (Phase::Error { .. } | Phase::Closed, Some((error, received))) => {
                self.rejected_line(error, received)
            }
            _ => return None,
        };
        Some(span.of(self.rx))
    }

    /// The error the core answered by itself (its [`Event::Send`]: a 400, 408, 413, 414,
    /// 431, 501 or 505, after which the connection closes), for an access log.
    #[must_use]
    pub fn rejected(&self) -> Option<RemoteError> {
        self.rejected.map(|(error, _)| error)
    }

    /// The current phase.
    #[must_use]
    pub fn phase(&self) -> Phase {
        self.state.phase
    }

    /// Requests completed on this connection.
    #[must_use]
    pub fn requests_served(&self) -> u32 {
        self.state.served
    }

    /// The free part of the receive buffer: read the next bytes into it, then call
    /// [`Connection::handle_received`]. Empty while the connection reads nothing (a request
    /// is being answered with an error, or it is closed, or the buffer is full of a request
    /// that is not yet consumed).
    pub fn receive_buf(&mut self) -> &mut [u8] {
        match self.state.phase {
            Phase::Exchange | Phase::Drain => {
                compact_body(self.rx, self.head.len, &mut self.filled, &mut self.body_pos);
            }
            Phase::Head => {}
            Phase::Error { .. } | Phase::Closed => return &mut [],
        }
        self.rx.get_mut(self.filled..).unwrap_or(&mut [])
    }

    /// `n` bytes were written into [`Connection::receive_buf`].
    pub fn handle_received(&mut self, n: usize) {
        self.filled = (self.filled + n).min(self.rx.len());
    }

    /// The peer closed its sending side: no more bytes will arrive.
    pub fn handle_eof(&mut self) {
        self.state.eof = true;
    }

    /// The deadline from [`Connection::poll_timeout`] may have passed; `now` is the time.
    /// Early or repeated calls are harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(deadline) = self.poll_timeout() else {
            return;
        };
        if now < deadline {
            return;
        }
        match self.state.timer() {
            Some(TimerKind::FirstByte | TimerKind::KeepAlive) | None => self.state.close(),
            Some(TimerKind::Head) => self.reject(RemoteError::Timeout),
            Some(TimerKind::Body) if self.state.phase == Phase::Drain => self.state.close(),
            Some(TimerKind::Body) => {
                self.state.body_error = Some(RemoteError::Timeout);
                self.state.waiting_body = false;
            }
        }
    }

    /// When [`Connection::handle_timeout`] must be called, if no bytes arrive before.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let t = &self.config.timeouts;
        let after = match self.state.timer()? {
            TimerKind::FirstByte => t.first_byte,
            TimerKind::KeepAlive => t.keep_alive,
            TimerKind::Head => t.head,
            TimerKind::Body => t.body,
        };
        Some(self.state.anchor()? + after)
    }

    /// The running deadline's kind, if any.
    #[must_use]
    pub fn timer(&self) -> Option<TimerKind> {
        self.state.timer()
    }

    /// The next event. Call after every input until it returns [`Event::NeedData`] or
    /// [`Event::Close`]; `now` anchors the deadlines of the situation it reports.
    pub fn poll_event(&mut self, now: Instant) -> Event<'_> {
        let event = self.next_event();
        // A request leaves no timer without its anchor: in `Exchange` only a wait for body
        // bytes runs one, and `State::body_wait` anchors it as it begins (a test in
        // `state.rs` walks the transitions).
        if !matches!(event, Ev::Request)
            && self.state.anchor().is_none()
            && self.state.timer().is_some()
        {
            self.state.set_anchor(now);
        }
        match event {
            Ev::NeedData => Event::NeedData,
            Ev::Request => Event::Request,
            Ev::Send(len) => Event::Send(self.tx.get(..len).unwrap_or(&[])),
            Ev::NextCycle => Event::NextCycle,
            Ev::Close => Event::Close,
        }
    }

    fn next_event(&mut self) -> Ev {
        // The head phase with one comparison rather than a jump table.
        if self.state.phase == Phase::Head {
            self.poll_head()
        } else {
            self.later_event()
        }
    }

    /// [`Connection::next_event`] past the head phase.
    #[cfg_attr(not(feature = "small"), inline(never))]
    fn later_event(&mut self) -> Ev {
        match self.state.phase {
            Phase::Head => self.poll_head(),
            Phase::Exchange => Ev::Request,
            Phase::Drain => self.poll_drain(),
            Phase::Error { len, .. } => {
                self.state.close();
                Ev::Send(len)
            }
            Phase::Closed => Ev::Close,
        }
    }

    fn poll_head(&mut self) -> Ev {
        let limits = self.config.head_limits();
        match self
            .parser
            .parse(self.rx, &mut self.filled, &mut self.head, &limits)
        {
            Ok(Progress::Done) => match self.head.flags.request_framing(self.head.version) {
                Ok(BodyFraming::ContentLength(n)) if n > self.config.limits.max_body => {
                    self.reject_next(RemoteError::BodyTooLarge)
                }
                // The usual request, without a body: its own short path.
                Ok(BodyFraming::None) => {
                    self.body = BodyReader::Done;
                    self.body_pos = self.head.len;
                    self.state.head_complete(false);
                    Ev::Request
                }
                Ok(framing) => {
                    self.body = BodyReader::new(framing);
                    self.body_pos = self.head.len;
                    // `self.response` is fresh: `new` and `start_next_cycle` reset it.
                    let expect = self.head.flags.expect_continue
                        && self.head.version == Version::Http11
                        && !self.body.is_done();
                    self.state.head_complete(expect);
                    Ev::Request
                }
                Err(e) => self.reject_next(e),
            },
            Ok(Progress::NeedData) => self.head_need_data(),
            Err(e) => self.reject_next(e),
        }
    }

    /// [`Connection::poll_head`] when the head is not complete yet (out of line: the
    /// usual head comes in one read).
    #[cfg_attr(not(feature = "small"), inline(never))]
    fn head_need_data(&mut self) -> Ev {
        if self.parser.started(self.filled) {
            self.state.head_started();
        }
        if !self.state.eof {
            Ev::NeedData
        } else if self.state.head_started {
            self.reject_next(RemoteError::UnexpectedEof)
        } else {
            self.state.close();
            Ev::Close
        }
    }

    /// Rejects the request with `error`, and the event that follows.
    #[cold]
    #[inline(never)]
    fn reject_next(&mut self, error: RemoteError) -> Ev {
        self.reject(error);
        self.next_event()
    }

    fn poll_drain(&mut self) -> Ev {
        let limits = self.config.body_limits();
        loop {
            let input = self.rx.get(self.body_pos..self.filled).unwrap_or(&[]);
            match self.body.step(input, &limits, usize::MAX) {
                Err(_) => {
                    self.state.close();
                    return Ev::Close;
                }
                Ok((n, step)) => {
                    self.body_pos += n;
                    // Every octet read counts, chunk framing included.
                    self.state.drained += n as u64;
                    if step != Step::Done && self.state.drained > self.config.limits.max_drain {
                        self.state.close();
                        return Ev::Close;
                    }
                    if let Step::Data { .. } = step {
                        self.state.body_progress();
                        continue;
                    }
                    if step == Step::Done {
                        self.start_next_cycle();
                        return Ev::NextCycle;
                    }
                    if self.state.eof {
                        self.state.close();
                        return Ev::Close;
                    }
                    return Ev::NeedData;
                }
            }
        }
    }

    /// Drain → Head: moves the bytes after this request to the front of the buffer.
    fn start_next_cycle(&mut self) {
        let start = self.body_pos.min(self.filled);
        self.rx.copy_within(start..self.filled, 0);
        self.filled -= start;
        self.body_pos = 0;
        self.parser = HeadParser::new();
        self.head = Head::new();
        self.response = Response::new();
        self.state.next_cycle();
    }

    /// Answers a protocol error with its status and closes. Nothing after it is processed.
    fn reject(&mut self, error: RemoteError) {
        let facts = RequestFacts {
            // The method is known once the request line was parsed (an empty span before).
            head_method: self.head.method.of(self.rx) == b"HEAD",
            version: Version::Http11,
            keep_alive: false,
        };
        let mut response = Response::new();
        let t = response.fail(
            self.tx,
            &self.config.response_config(),
            &facts,
            self.unix_time,
            error.status(),
        );
        let len = t.head.len();
        // What was being received, for `request_line` (nothing is computed here: a server
        // without an access log links none of it).
        let received = if self.state.phase == Phase::Head {
            self.parser.received_line(self.filled)
        } else {
            Span::default()
        };
        self.rejected = Some((error, received));
        self.filled = 0;
        self.state.fail(error, len);
    }

    /// The request line of a request rejected with `error`, as far as it came: the parsed
    /// line, else the line that was received (`received`) up to its LF, without trailing
    /// CRs (`http.server`'s `rstrip('\r\n')`); nothing for a line too long, as
    /// `http.server` logs it.
    fn rejected_line(&self, error: RemoteError, received: Span) -> Span {
        if self.head.method.len > 0 {
            return self.head.request_line();
        }
        if matches!(error, RemoteError::UriTooLong | RemoteError::MethodTooLong) {
            return Span::default();
        }
        let bytes = received.of(self.rx);
        let mut len = bytes
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(bytes.len());
        while len > 0 && bytes.get(len - 1) == Some(&b'\r') {
            len -= 1;
        }
        let start = usize::from(received.start);
        Span::new(start, start + len)
    }

    /// The environ of the current request and the [`Exchange`] that serves it. `arena`
    /// holds variables that middleware sets (a few hundred bytes is plenty).
    ///
    /// # Errors
    /// [`LocalError::InvalidState`] unless the last event was [`Event::Request`].
    #[inline]
    pub fn exchange<'c>(
        &'c mut self,
        arena: &'c mut [u8],
    ) -> Result<(Environ<'c>, Exchange<'c>), LocalError> {
        if self.state.phase != Phase::Exchange {
            return Err(LocalError::InvalidState);
        }
        decode_path(&mut self.head, self.rx);
        let (head_bytes, body_region) = self.rx.split_at_mut(self.head.len.min(self.rx.len()));
        let environ = Environ::from_head(
            head_bytes,
            &self.head,
            &self.config.gateway,
            &self.remote,
            arena,
        );
        let exchange = Exchange {
            config: self.config,
            region: body_region,
            base: self.head.len,
            filled: &mut self.filled,
            body_pos: &mut self.body_pos,
            body: &mut self.body,
            response: &mut self.response,
            state: &mut self.state,
            tx: self.tx,
            head_method: self.head.method.of(head_bytes) == b"HEAD",
            version: self.head.version,
            client_keep_alive: self.head.flags.client_keep_alive(self.head.version),
            unix_time: &self.unix_time,
        };
        Ok((environ, exchange))
    }
}

/// [`Head::decode_path`]. The default build decodes out of line: the environ then copies
/// the request line from the head in one piece, not the path from registers (the `small`
/// build is smaller with the call in line).
#[inline(always)]
fn decode_path<const H: usize>(head: &mut Head<H>, rx: &mut [u8]) {
    #[cfg(not(feature = "small"))]
    if head.path_raw {
        decode_raw_path(head, rx);
    } else {
        head.exchanged = true;
    }
    #[cfg(feature = "small")]
    head.decode_path(rx);
}

/// [`decode_path`] of a path that needs decoding.
#[cfg(not(feature = "small"))]
#[cold]
#[inline(never)]
fn decode_raw_path<const H: usize>(head: &mut Head<H>, rx: &mut [u8]) {
    head.decode_path(rx);
}

/// Moves unconsumed body bytes down to the end of the head when space is needed.
fn compact_body(rx: &mut [u8], head_len: usize, filled: &mut usize, pos: &mut usize) {
    if *pos >= *filled {
        *filled = head_len;
        *pos = head_len;
    } else if *filled == rx.len() && *pos > head_len {
        rx.copy_within(*pos..*filled, head_len);
        *filled -= *pos - head_len;
        *pos = head_len;
    }
}

/// Internal event without borrows.
enum Ev {
    NeedData,
    Request,
    Send(usize),
    NextCycle,
    Close,
}

/// One request being served: its body comes in through [`Exchange::poll_body`], its
/// response goes out through [`Exchange::start_response`], [`Exchange::write`] and
/// [`Exchange::finish`] (or [`Exchange::fail`]). Borrowed from the connection with the
/// environ beside it.
#[derive(Debug)]
pub struct Exchange<'c> {
    config: &'c Config<'c>,
    /// The receive buffer after the head.
    region: &'c mut [u8],
    /// Offset of `region` in the receive buffer.
    base: usize,
    filled: &'c mut usize,
    body_pos: &'c mut usize,
    body: &'c mut BodyReader,
    response: &'c mut Response,
    state: &'c mut State,
    tx: &'c mut [u8],
    head_method: bool,
    version: Version,
    client_keep_alive: bool,
    unix_time: &'c Option<Clock>,
}

impl Exchange<'_> {
    /// The next piece of the request body. The first call on an `Expect: 100-continue`
    /// request returns [`Body::Continue`] (before any response is started): the client
    /// sends the body only then.
    ///
    /// # Errors
    /// The body's framing is broken, it is too large, it timed out, or the client closed
    /// before its end. The error's status answers it through [`Exchange::fail`].
    pub fn poll_body(&mut self, now: Instant) -> Result<Body<'_>, RemoteError> {
        self.poll_body_limited(now, usize::MAX)
    }

    /// Reads body bytes into `buf` (`wsgi.input.read`): like [`Exchange::poll_body`], but
    /// copying at most `buf.len()` bytes and consuming only those.
    ///
    /// # Errors
    /// As [`Exchange::poll_body`].
    pub fn read_body(&mut self, buf: &mut [u8], now: Instant) -> Result<ReadBody, RemoteError> {
        if buf.is_empty() {
            return Ok(ReadBody::Data(0));
        }
        Ok(match self.poll_body_limited(now, buf.len())? {
            Body::Data(data) => {
                let n = data.len().min(buf.len());
                if let (Some(out), Some(data)) = (buf.get_mut(..n), data.get(..n)) {
                    out.copy_from_slice(data);
                }
                ReadBody::Data(n)
            }
            Body::NeedData => ReadBody::NeedData,
            Body::Continue(bytes) => ReadBody::Continue(bytes),
            Body::End => ReadBody::End,
        })
    }

    fn poll_body_limited(&mut self, now: Instant, max: usize) -> Result<Body<'_>, RemoteError> {
        if let Some(e) = self.state.body_error {
            return Err(e);
        }
        if self.state.expect_continue && !self.state.continue_sent && !self.response.headers_sent()
        {
            self.state.continue_sent = true;
            return Ok(Body::Continue(CONTINUE));
        }
        let limits = self.config.body_limits();
        let pos = *self.body_pos - self.base;
        let filled = *self.filled - self.base;
        let input = self.region.get(pos..filled).unwrap_or(&[]);
        let step = self.body.step(input, &limits, max);
        let (n, step) = match step {
            Ok(s) => s,
            Err(e) => {
                self.state.body_error = Some(e);
                return Err(e);
            }
        };
        *self.body_pos += n;
        match step {
            Step::Data { start, len } => {
                self.state.body_progress();
                Ok(Body::Data(
                    self.region
                        .get(pos + start..pos + start + len)
                        .unwrap_or(&[]),
                ))
            }
            Step::Done => Ok(Body::End),
            Step::NeedData if self.state.eof => {
                self.state.body_error = Some(RemoteError::UnexpectedEof);
                Err(RemoteError::UnexpectedEof)
            }
            Step::NeedData => {
                if !self.state.waiting_body {
                    self.state.body_wait(now);
                }
                Ok(Body::NeedData)
            }
        }
    }

    /// Has the whole request body been read?
    #[must_use]
    pub fn body_done(&self) -> bool {
        self.body.is_done()
    }

    /// The free part of the receive buffer, for body bytes.
    pub fn receive_buf(&mut self) -> &mut [u8] {
        let mut filled = *self.filled - self.base;
        let mut pos = *self.body_pos - self.base;
        compact_body(self.region, 0, &mut filled, &mut pos);
        *self.filled = filled + self.base;
        *self.body_pos = pos + self.base;
        self.region.get_mut(filled..).unwrap_or(&mut [])
    }

    /// `n` bytes were written into [`Exchange::receive_buf`].
    pub fn handle_received(&mut self, n: usize) {
        *self.filled = (*self.filled + n).min(self.base + self.region.len());
    }

    /// The peer closed its sending side.
    pub fn handle_eof(&mut self) {
        self.state.eof = true;
    }

    /// The transport's read deadline passed while waiting for body bytes (a blocking
    /// adapter's socket timeout): the body read fails with 408.
    pub fn handle_timeout_now(&mut self) {
        if self.state.waiting_body && self.state.body_error.is_none() {
            self.state.body_error = Some(RemoteError::Timeout);
            self.state.waiting_body = false;
        }
    }

    /// `start_response(status, headers)`: validates and stores the response head; it is
    /// sent with the first non-empty body block. `status` is `"200 OK"`-shaped, with a
    /// final code on HTTP (200 to 599: WSGI has no interim responses, the gateway sends
    /// `100 Continue` itself; CGI output takes any code, as CPython); header names must be
    /// tokens, values free of control characters (HTAB allowed), `Content-Length` digits
    /// only, and hop-by-hop headers are refused: the gateway owns them.
    ///
    /// `headers` is walked once, through a clone of its iterator, each field checked as it
    /// is written; where the head fits only in place (a replacement, or the application's
    /// own `Date` or `Server` in a tight buffer), a second clone writes it there and must
    /// yield the same fields (any iterator over a slice or a `Vec` does).
    ///
    /// # Errors
    /// A [`LocalError`] naming the first problem; nothing is stored then. A second call is
    /// [`LocalError::AlreadyStarted`]: use [`Exchange::restart_response`] for the `exc_info`
    /// form. If a second walk differs from the first (its checks fail, or
    /// [`LocalError::InvalidState`] for other lengths), no head is stored (also none that
    /// this call would replace).
    pub fn start_response<'h, I, N, V>(
        &mut self,
        status: &str,
        headers: I,
    ) -> Result<(), LocalError>
    where
        I: IntoIterator<Item = &'h (N, V)>,
        I::IntoIter: Clone,
        N: AsRef<str> + 'h,
        V: AsRef<[u8]> + 'h,
    {
        self.start(status, headers, false)
    }

    /// `start_response(status, headers, exc_info)`: replaces a response whose head has not
    /// been sent (an application error after `start_response`).
    ///
    /// # Errors
    /// [`LocalError::HeadersAlreadySent`] once the head is out: the error must then end
    /// the connection ([`Exchange::fail`]).
    pub fn restart_response<'h, I, N, V>(
        &mut self,
        status: &str,
        headers: I,
    ) -> Result<(), LocalError>
    where
        I: IntoIterator<Item = &'h (N, V)>,
        I::IntoIter: Clone,
        N: AsRef<str> + 'h,
        V: AsRef<[u8]> + 'h,
    {
        self.start(status, headers, true)
    }

    /// `start_response` with an application's header list as it came to
    /// [`crate::app::ResponseStart::start`] (text or bytes, without a copy), `replace` for
    /// the `exc_info` form: for adapters that run applications themselves.
    ///
    /// # Errors
    /// As [`Exchange::start_response`] and [`Exchange::restart_response`].
    pub fn start_headers(
        &mut self,
        status: &str,
        headers: crate::app::ResponseHeaders<'_>,
        replace: bool,
    ) -> Result<(), LocalError> {
        self.live()?;
        let cfg = self.config.response_config();
        self.response
            .start_headers(self.tx, &cfg, *self.unix_time, status, headers, replace)
    }

    fn start<'h, I, N, V>(
        &mut self,
        status: &str,
        headers: I,
        replace: bool,
    ) -> Result<(), LocalError>
    where
        I: IntoIterator<Item = &'h (N, V)>,
        I::IntoIter: Clone,
        N: AsRef<str> + 'h,
        V: AsRef<[u8]> + 'h,
    {
        self.live()?;
        let cfg = self.config.response_config();
        self.response
            .start(self.tx, &cfg, *self.unix_time, status, headers, replace)
    }

    /// Sends a body block (PEP 3333 `write`, or one item of the returned iterable).
    ///
    /// # Errors
    /// [`LocalError::InvalidState`] before `start_response` or after `finish`;
    /// [`LocalError::BodyTooLong`] past the declared Content-Length (nothing is sent, and the
    /// connection will close).
    pub fn write<'a>(&'a mut self, data: &'a [u8]) -> Result<Transmit<'a>, LocalError> {
        self.write_block(data, false)
    }

    /// Sends `data` as the entire body: without a declared Content-Length, it is inferred
    /// from `data` (PEP 3333: an iterable of one item). Call [`Exchange::finish`] after.
    ///
    /// # Errors
    /// As [`Exchange::write`].
    pub fn write_whole<'a>(&'a mut self, data: &'a [u8]) -> Result<Transmit<'a>, LocalError> {
        self.write_block(data, true)
    }

    /// For `len` body bytes the caller sends itself (a platform fast path such as
    /// sendfile): returns the head and framing to send first (`head`; its `body` is empty),
    /// and whether the body bytes must then be sent (false for HEAD, 204, 304), followed by
    /// `tail`. The bookkeeping is the same as [`Exchange::write`] of `len` bytes.
    ///
    /// # Errors
    /// As [`Exchange::write`].
    pub fn write_external(
        &mut self,
        len: u64,
        whole: bool,
    ) -> Result<(Transmit<'_>, bool), LocalError> {
        self.live()?;
        self.announce_undrainable(whole, len);
        let facts = self.facts();
        let cfg = self.config.response_config();
        self.response
            .write_external(self.tx, &cfg, &facts, len, whole)
    }

    /// Before the head goes out: if more of the request's declared body is left unread than
    /// draining it may take, and the application is done with the request (the head goes
    /// out with the whole response body: `whole`, or `len` bytes that are all it declared)
    /// or has not asked for a byte of the body (it is taken as not reading it), the
    /// connection will close after the response, and this head is the last chance to say
    /// so (RFC 9112 §9.6). An application that reads while its response streams (an echo)
    /// keeps the connection; one that writes first and reads the body afterwards loses it,
    /// having been told `Connection: close`.
    fn announce_undrainable(&mut self, whole: bool, len: u64) {
        if !self.response.headers_sent()
            && (whole
                || self.response.declared() == Some(len)
                || !(self.state.body_asked || self.state.continue_sent))
            && self.body.unread_exceeds(self.config.limits.max_drain)
        {
            self.response.must_close = true;
        }
    }

    fn write_block<'a>(
        &'a mut self,
        data: &'a [u8],
        whole: bool,
    ) -> Result<Transmit<'a>, LocalError> {
        self.live()?;
        self.announce_undrainable(whole, data.len() as u64);
        let facts = self.facts();
        let cfg = self.config.response_config();
        self.response.write(self.tx, &cfg, &facts, data, whole)
    }

    /// Completes the response (the head with `Content-Length: 0` if nothing was sent; the
    /// last chunk). Afterwards the connection drains what is left of the request body and
    /// moves on ([`Event::NextCycle`]) or closes.
    ///
    /// # Errors
    /// [`LocalError::InvalidState`] before `start_response` or after the end.
    pub fn finish(&mut self) -> Result<Transmit<'_>, LocalError> {
        self.live()?;
        self.announce_undrainable(true, 0);
        let facts = self.facts();
        let cfg = self.config.response_config();
        let t = self.response.finish(self.tx, &cfg, &facts)?;
        self.state.response_finished(self.response.must_close);
        Ok(t)
    }

    /// The error output: before the head is sent, the response becomes an error response
    /// (the status of a body error if there was one, else 500 with `BaseHandler.error_body`);
    /// after, nothing more can be said and the connection closes. No diagnostics reach the
    /// client. Ends the exchange.
    pub fn fail(&mut self) -> Transmit<'_> {
        if self.live().is_err() {
            return Transmit::default();
        }
        let status = self.state.body_error.map_or(500, RemoteError::status);
        let facts = self.facts();
        let cfg = self.config.response_config();
        let t = self
            .response
            .fail(self.tx, &cfg, &facts, *self.unix_time, status);
        self.state.response_finished(true);
        t
    }

    /// The response status code (0 before `start_response`), for the access log.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.response.status()
    }

    /// Body bytes sent so far, for the access log.
    #[must_use]
    pub fn body_sent(&self) -> u64 {
        self.response.body_sent
    }

    /// Has the response head been handed out?
    #[must_use]
    pub fn headers_sent(&self) -> bool {
        self.response.headers_sent()
    }

    /// Makes this response the connection's last: its head says `Connection: close` and the
    /// connection closes after it, whatever the client asked. For a server that wants the
    /// connection back: shutting down, or other clients waiting for a worker. Returns false
    /// (and changes nothing) once the head has been handed out.
    ///
    /// ```
    /// use wsgiref::{Config, Connection, Event, Instant};
    /// let (mut rx, mut tx, mut arena) = ([0u8; 1024], [0u8; 512], [0u8; 64]);
    /// let mut conn: Connection<'_> = Connection::new(&Config::DEFAULT, &mut rx, &mut tx);
    /// let request = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    /// conn.receive_buf()[..request.len()].copy_from_slice(request);
    /// conn.handle_received(request.len());
    /// assert_eq!(conn.poll_event(Instant::from_millis(0)), Event::Request);
    /// let (_environ, mut exchange) = conn.exchange(&mut arena).unwrap();
    /// assert!(exchange.close_after());
    /// exchange.start_response("204 No Content", &[] as &[(&str, &str)]).unwrap();
    /// let head = exchange.finish().unwrap().head.to_vec();
    /// assert!(head.ends_with(b"Connection: close\r\n\r\n"));
    /// assert_eq!(conn.poll_event(Instant::from_millis(0)), Event::Close);
    /// ```
    pub fn close_after(&mut self) -> bool {
        if self.response.headers_sent() {
            return false;
        }
        self.response.must_close = true;
        true
    }

    /// Ends the exchange without completing the response (the client went away, or the
    /// response cannot be completed): the connection is closed, and
    /// [`Connection::poll_event`] returns [`Event::Close`] rather than the same request
    /// again. Nothing more is sent.
    pub fn abort(&mut self) {
        self.state.close();
    }

    fn live(&self) -> Result<(), LocalError> {
        if self.state.phase == Phase::Exchange {
            Ok(())
        } else {
            Err(LocalError::InvalidState)
        }
    }

    /// What the response needs to know now: can the connection persist after it?
    ///
    /// An unread body does not stop keep-alive here: the application may still read it
    /// while the response streams (an echo), and what it leaves is drained afterwards, up to
    /// `max_drain`, beyond which the connection closes. Only a body the client has not sent
    /// yet (`Expect: 100-continue` without the `100`) or a broken one ends persistence now.
    fn facts(&self) -> RequestFacts {
        let body_ok = (!self.state.expect_continue || self.state.continue_sent)
            && self.state.body_error.is_none();
        RequestFacts {
            head_method: self.head_method,
            version: self.version,
            keep_alive: self.client_keep_alive && body_ok && !self.state.eof,
        }
    }
}
