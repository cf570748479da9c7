//! The server: a pool of listening sockets, each serving one connection at a time through
//! one core [`Connection`].

use core::fmt;
use core::marker::PhantomData;
use core::net::SocketAddr;

use embassy_futures::select::{Either, select};
use embassy_net::tcp::{State, TcpSocket};
use embassy_net::{IpEndpoint, Stack};
use embassy_time::{Duration, Instant as EmbassyInstant, Timer, with_deadline, with_timeout};
use wsgiref::app::{AppError, Body as _, Request, SliceInput};
use wsgiref::handler::ErrorOutput;
use wsgiref::state::{Phase, TimerKind};
use wsgiref::{Config, Connection, Environ, Event, Gateway, Instant, Limits, LocalError, Timeouts};

use crate::Stop;
use crate::app::{AsyncApplication, AsyncRequest, ErrorsLog, Output};
use crate::fmt::{log_debug, log_info, log_warn};

/// Settings of a [`Server`]. Build one with [`ServerConfig::new`] and change the fields.
#[derive(Clone, Copy, Debug)]
pub struct ServerConfig<'a> {
    /// The TCP port every socket of the pool listens on.
    pub port: u16,
    /// Core limits. `max_body` is lowered to the body buffer of the slots (a larger body is
    /// answered `413` and the connection closed). `max_head` counts the fields header
    /// filtering drops as well, so it may exceed the request buffer.
    pub limits: Limits,
    /// Core deadlines (first byte, keep-alive idle, head, body), enforced with embassy-time.
    pub timeouts: Timeouts,
    /// Header filtering ([`Config::keep_headers`]): `Some(list)` keeps only `Host`,
    /// `Content-Type`, `Content-Length` and the listed fields for the environ, so a small
    /// request buffer survives large fields such as cookies. `None` keeps every field.
    pub keep_headers: Option<&'a [&'a str]>,
    /// `SERVER_NAME` (the core's [`Gateway::server_name`]).
    pub server_name: &'a str,
    /// The `Server` header and `SERVER_SOFTWARE`; empty for none.
    pub server_software: &'a str,
    /// Longest a socket write may wait for room in the transmit buffer.
    pub write_timeout: Duration,
    /// How long a closing connection waits for the client to close its side (its unread
    /// bytes are discarded meanwhile) before the socket is aborted.
    pub linger: Duration,
    /// The response to an application error (`error_status`, `error_headers`, `error_body`).
    pub error_output: ErrorOutput<'a>,
    /// No access log.
    pub quiet: bool,
}

impl ServerConfig<'static> {
    /// Port `port`, the core's default limits and deadlines, every header kept,
    /// `SERVER_NAME` `localhost`, `Server: wsgiref.rs/<version>`, 10 s write timeout, 1 s
    /// linger.
    ///
    /// ```
    /// use wsgiref_embassy::ServerConfig;
    ///
    /// let mut config = ServerConfig::new(80);
    /// config.keep_headers = Some(&["Accept", "User-Agent"]);
    /// assert_eq!(config.port, 80);
    /// ```
    #[must_use]
    pub const fn new(port: u16) -> Self {
        Self {
            port,
            limits: Limits::DEFAULT,
            timeouts: Timeouts::DEFAULT,
            keep_headers: None,
            server_name: "localhost",
            server_software: concat!("wsgiref.rs/", env!("CARGO_PKG_VERSION")),
            write_timeout: Duration::from_secs(10),
            linger: Duration::from_secs(1),
            error_output: ErrorOutput::DEFAULT,
            quiet: false,
        }
    }
}

impl<'a> ServerConfig<'a> {
    /// The core's configuration the slots use, for a body buffer of `body` bytes: these
    /// settings, with `max_body` lowered to the body buffer (a head whose kept fields outgrow
    /// the request buffer is answered 431 by the core).
    ///
    /// ```
    /// use wsgiref_embassy::ServerConfig;
    ///
    /// let config = ServerConfig::new(8080).core_config(4096);
    /// assert_eq!(config.limits.max_body, 4096);
    /// assert_eq!(config.gateway.server_port, 8080);
    /// ```
    #[must_use]
    pub fn core_config(&self, body: usize) -> Config<'a> {
        let mut limits = self.limits;
        limits.max_body = limits.max_body.min(body as u64);
        // Not `max_head`: it counts the fields filtering drops too. The core answers 431
        // itself when the kept head does not fit the request buffer.
        Config {
            limits,
            timeouts: self.timeouts,
            keep_headers: self.keep_headers,
            gateway: Gateway {
                server_name: self.server_name,
                server_port: self.port,
                server_software: self.server_software,
                url_scheme: "http",
                // The slots share one thread: the application is never called twice at once.
                multithread: false,
                multiprocess: false,
                run_once: false,
            },
            error_output: self.error_output,
            ..Config::DEFAULT
        }
    }
}

/// The memory of one connection slot: the socket's receive and transmit buffers
/// (`SOCKET_RX`, `SOCKET_TX`), the core's request buffer (`REQUEST`: the largest kept request
/// head plus some body) and response-head buffer (`RESPONSE`), and the buffer the request
/// body is read into before the application runs (`BODY`: the largest body accepted; what it
/// leaves free holds output the application writes imperatively during its call; a closing
/// connection discards the client's last bytes into it), and the environ's arena (`ARENA`:
/// room for the variables middleware adds, the core's `arena`). `FIELDS` is not a buffer: the
/// most header fields kept per request (the core's `H`; more is answered 431), which sizes
/// the connection's state at 8 bytes a field. The default, 20, keeps a desktop browser's
/// whole request (Chrome's navigation request has 16 fields, client hints and `Sec-Fetch-*`
/// included) with room for a proxy's few, and holds a connection's state under 1 KiB on
/// thumbv7em; with header filtering only a handful are kept, and 8 saves 96 bytes per
/// connection.
///
/// The defaults (1 KiB each, 512 bytes of response head, 256 of arena) total 4.75 KiB per
/// slot; with header filtering ([`ServerConfig::keep_headers`]) they serve browsers whose
/// cookies are larger than the request buffer.
///
/// ```
/// use wsgiref_embassy::Slot;
///
/// let slot: Slot = Slot::new();
/// assert_eq!(core::mem::size_of_val(&slot), 4 * 1024 + 512 + 256);
/// ```
pub struct Slot<
    const SOCKET_RX: usize = 1024,
    const SOCKET_TX: usize = 1024,
    const REQUEST: usize = 1024,
    const RESPONSE: usize = 512,
    const BODY: usize = 1024,
    const ARENA: usize = 256,
    const FIELDS: usize = 20,
> {
    socket_rx: [u8; SOCKET_RX],
    socket_tx: [u8; SOCKET_TX],
    request: [u8; REQUEST],
    response: [u8; RESPONSE],
    body: [u8; BODY],
    arena: [u8; ARENA],
    /// Room for `FIELDS` kept header fields, in the core's connection state (not a buffer).
    fields: PhantomData<[(); FIELDS]>,
}

impl<
    const SRX: usize,
    const STX: usize,
    const RQ: usize,
    const RS: usize,
    const B: usize,
    const AR: usize,
    const F: usize,
> fmt::Debug for Slot<SRX, STX, RQ, RS, B, AR, F>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slot")
            .field("socket_rx", &SRX)
            .field("socket_tx", &STX)
            .field("request", &RQ)
            .field("response", &RS)
            .field("body", &B)
            .field("arena", &AR)
            .field("fields", &F)
            .finish()
    }
}

impl<
    const SRX: usize,
    const STX: usize,
    const RQ: usize,
    const RS: usize,
    const B: usize,
    const AR: usize,
    const F: usize,
> Default for Slot<SRX, STX, RQ, RS, B, AR, F>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<
    const SRX: usize,
    const STX: usize,
    const RQ: usize,
    const RS: usize,
    const B: usize,
    const AR: usize,
    const F: usize,
> Slot<SRX, STX, RQ, RS, B, AR, F>
{
    /// Zeroed buffers (a `const fn`, so a pool can live in a `static`).
    #[must_use]
    pub const fn new() -> Self {
        Self {
            socket_rx: [0; SRX],
            socket_tx: [0; STX],
            request: [0; RQ],
            response: [0; RS],
            body: [0; B],
            arena: [0; AR],
            fields: PhantomData,
        }
    }
}

/// What became of one connection, as the server logs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Closed {
    /// Closed after the last response, by either side or by a deadline.
    Done,
    /// The client reset the connection or stopped reading.
    Gone,
    /// The server was stopped.
    Stopped,
    /// A response was cut short while only the close delimited its body (an HTTP/1.0
    /// client): what was sent went out, then a reset, so that the client can tell the
    /// response is incomplete ([`wsgiref::Connection::must_reset`]).
    CutShort,
}

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Done => "done",
            Self::Gone => "client gone",
            Self::Stopped => "server stopped",
            Self::CutShort => "response cut short, reset",
        })
    }
}

/// An HTTP/1.1 server for `app` on an embassy-net stack: a pool of listening sockets on one
/// port (smoltcp has no accept backlog, so `N` slots accept up to `N` connections at once;
/// browsers open about six), each serving its connection through the core: keep-alive,
/// pipelining, every core deadline armed with embassy-time, request bodies up to the slot's
/// body buffer (`Content-Length` or chunked, `100 Continue` when the application reads the
/// body, `413` and close beyond), graceful close, and [`Server::stop`].
///
/// The application is an [`AsyncApplication`](crate::AsyncApplication): it reads the request
/// body when it wants it. A synchronous application (the same values the std server runs)
/// is one whose body is read whole into the slot's body buffer before it is called. The
/// response body is sent block by block as the application produces it, the socket awaited
/// between blocks: a response body of any size streams.
///
/// ```no_run
/// # async fn example(stack: embassy_net::Stack<'static>) {
/// use wsgiref::demo::demo_app;
/// use wsgiref_embassy::{Server, ServerConfig, Slot};
///
/// let server = Server::new(stack, demo_app, ServerConfig::new(80));
/// // In firmware the slots live in a `static` (a `StaticCell`): 4.5 KiB each by default.
/// let mut slots: [Slot; 4] = core::array::from_fn(|_| Slot::new());
/// server.run(&mut slots).await;
/// # }
/// ```
pub struct Server<'a, A> {
    stack: Stack<'a>,
    app: A,
    config: ServerConfig<'a>,
    stop: Stop,
}

impl<A> fmt::Debug for Server<'_, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.config)
            .field("stop", &self.stop)
            .finish_non_exhaustive()
    }
}

impl<'a, A: AsyncApplication> Server<'a, A> {
    /// A server for `app` on `stack`.
    // Not inlined, nor are `log`, `new_socket` and `duration`: called once each, they are
    // smaller out of the HTTP task's poll function than in it (measured on the firmware).
    #[inline(never)]
    pub fn new(stack: Stack<'a>, app: A, config: ServerConfig<'a>) -> Self {
        Self {
            stack,
            app,
            config,
            stop: Stop::new(),
        }
    }

    /// The application.
    pub fn app(&self) -> &A {
        &self.app
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig<'a> {
        &self.config
    }

    /// Stops the server: no new connections are accepted, idle keep-alive connections
    /// close, a request in flight finishes and its connection then closes; [`Server::run`]
    /// returns when every slot is done.
    pub fn stop(&self) {
        self.stop.set();
    }

    /// Has [`Server::stop`] been called?
    pub fn is_stopped(&self) -> bool {
        self.stop.is_set()
    }

    /// Serves on every slot of `slots` at once until [`Server::stop`]. One future: spawn it
    /// as one task (or run the slots in tasks of their own with [`Server::run_slot`]).
    pub async fn run<
        const N: usize,
        const SRX: usize,
        const STX: usize,
        const RQ: usize,
        const RS: usize,
        const B: usize,
        const AR: usize,
        const F: usize,
    >(
        &self,
        slots: &mut [Slot<SRX, STX, RQ, RS, B, AR, F>; N],
    ) {
        let config = self.config.core_config(B);
        self.join_slots(&config, slots).await;
    }

    /// The slots' futures, joined. Not inlined: built in `run`, the `N` futures and the
    /// copies `join_array` makes of them (10 KiB with four slots) sat in the stack frame of
    /// the HTTP task's poll function at every poll, its other locals beyond them, each
    /// reached with extra instructions. Now that frame holds one copy (under 4 KiB with
    /// four slots), and this function's frame the others, only while the future is built.
    #[inline(never)]
    fn join_slots<
        's,
        const N: usize,
        const SRX: usize,
        const STX: usize,
        const RQ: usize,
        const RS: usize,
        const B: usize,
        const AR: usize,
        const F: usize,
    >(
        &'s self,
        config: &'s Config<'s>,
        slots: &'s mut [Slot<SRX, STX, RQ, RS, B, AR, F>; N],
    ) -> impl Future<Output = [(); N]> + 's {
        embassy_futures::join::join_array(
            slots.each_mut().map(|slot| self.serve_slot(config, slot)),
        )
    }

    /// Serves connections on one slot until [`Server::stop`].
    pub async fn run_slot<
        const SRX: usize,
        const STX: usize,
        const RQ: usize,
        const RS: usize,
        const B: usize,
        const AR: usize,
        const F: usize,
    >(
        &self,
        slot: &mut Slot<SRX, STX, RQ, RS, B, AR, F>,
    ) {
        let config = self.config.core_config(B);
        self.serve_slot(&config, slot).await;
    }

    async fn serve_slot<
        const SRX: usize,
        const STX: usize,
        const RQ: usize,
        const RS: usize,
        const B: usize,
        const AR: usize,
        const F: usize,
    >(
        &self,
        config: &Config<'_>,
        slot: &mut Slot<SRX, STX, RQ, RS, B, AR, F>,
    ) {
        let Slot {
            socket_rx,
            socket_tx,
            request,
            response,
            body,
            arena,
            fields: _,
        } = slot;
        let mut socket = new_socket(self.stack, socket_rx, socket_tx);
        while !self.stop.is_set() {
            // smoltcp gives up on a handshake only through the socket's timeout: without it
            // a SYN whose final ACK never comes (a client gone, a spoofed address) holds the
            // socket in SYN-RECEIVED for good, and a few of them every socket of the pool.
            socket.set_timeout(Some(duration(self.config.timeouts.first_byte)));
            let accepted = match select(socket.accept(self.config.port), self.stop.wait()).await {
                Either::First(result) => result.is_ok(),
                Either::Second(()) => break,
            };
            let closed = if accepted {
                // The core's deadlines take over from here.
                socket.set_timeout(None);
                if !matches!(socket.state(), State::Established | State::CloseWait) {
                    // The handshake timed out (accept returns once the socket left
                    // SYN-RECEIVED): listen again.
                    log_debug!("handshake timed out");
                    socket.abort();
                    continue;
                }
                socket.set_nagle_enabled(false);
                let peer = socket.remote_endpoint();
                log_debug!("connection from {}", OptEndpoint(peer));
                let mut link = Link {
                    socket: &mut socket,
                    peer,
                    body: &mut body[..],
                    arena: &mut arena[..],
                };
                self.serve_connection::<F>(config, &mut link, (request, response))
                    .await
            } else {
                // The listen failed: the socket is not closed yet (cannot happen after
                // `close`). It is reset below, as for a client gone, then listens again after
                // a pause (one close path in the firmware). A port of 0 fails with the
                // socket closed.
                Closed::Gone
            };
            let took = close(&mut socket, body, self.config.linger, closed).await;
            if !accepted {
                Timer::after_millis(10).await;
                continue;
            }
            log_debug!(
                "connection closed ({}), listening again after {} ms",
                closed,
                took.as_millis()
            );
        }
        socket.abort();
        let _ = with_timeout(self.config.linger, socket.flush()).await;
    }

    /// Serves one connection until it must close.
    async fn serve_connection<const F: usize>(
        &self,
        config: &Config<'_>,
        link: &mut Link<'_, '_>,
        (rx, tx): (&mut [u8], &mut [u8]),
    ) -> Closed {
        let mut conn: Connection<'_, F> = Connection::new(config, rx, tx);
        if let Some(peer) = link.peer {
            conn.set_remote(SocketAddr::new(peer.addr.into(), peer.port));
        }
        loop {
            match conn.poll_event(now()) {
                Event::NeedData => {
                    let idle = matches!(
                        conn.timer(),
                        Some(TimerKind::KeepAlive | TimerKind::FirstByte)
                    );
                    // After a stop an idle connection closes, unless a request has already
                    // arrived (it is answered, as the connection's last).
                    if idle && self.stop.is_set() && link.socket.recv_queue() == 0 {
                        return Closed::Stopped;
                    }
                    let deadline = conn.poll_timeout().map(to_embassy);
                    let buf = conn.receive_buf();
                    if buf.is_empty() {
                        // The core reads nothing now (it always answers a full buffer itself).
                        return Closed::Done;
                    }
                    let read = read_until(link.socket, buf, deadline);
                    // Only an idle connection is cut short by a stop.
                    let stop = async {
                        if idle {
                            self.stop.wait().await;
                        } else {
                            core::future::pending::<()>().await;
                        }
                    };
                    match select(read, stop).await {
                        Either::First(Read::Data(0)) => conn.handle_eof(),
                        Either::First(Read::Data(n)) => conn.handle_received(n),
                        Either::First(Read::Timeout) => conn.handle_timeout(now()),
                        Either::First(Read::Reset) => return Closed::Gone,
                        Either::Second(()) => return Closed::Stopped,
                    }
                }
                Event::Send(bytes) => {
                    if send(link.socket, &[bytes], self.config.write_timeout)
                        .await
                        .is_err()
                    {
                        return Closed::Gone;
                    }
                }
                Event::Request => {
                    if !self.serve_request(&mut conn, link).await {
                        return Closed::Gone;
                    }
                }
                Event::NextCycle => {
                    if self.stop.is_set() {
                        return Closed::Stopped;
                    }
                }
                _ => break,
            }
        }
        if conn.must_reset() {
            Closed::CutShort
        } else {
            Closed::Done
        }
    }

    /// Serves the current request. Returns false if the connection must be dropped at once.
    async fn serve_request<const F: usize>(
        &self,
        conn: &mut Connection<'_, F>,
        link: &mut Link<'_, '_>,
    ) -> bool {
        let Ok((mut environ, mut exchange)) = conn.exchange(link.arena) else {
            return false;
        };
        // After a stop, a request still served is its connection's last, and says so.
        if self.stop.is_set() {
            exchange.close_after();
        }
        // The end of the response: the error output (`true`) or `finish`. One exit, so that
        // the firmware carries one copy of the last send and the access log.
        let fail = 'response: {
            // 1. The application (which reads the body if it wants it). The request lives in
            // this block only, so the slot's future does not keep it across the sends below.
            let (called, environ, out, socket, read, body_failed) = {
                let mut req = AsyncRequest {
                    environ: &mut environ,
                    out: Output {
                        exchange: &mut exchange,
                        staging: &mut link.body[..],
                        staged: 0,
                        overflow: false,
                    },
                    socket: &mut *link.socket,
                    read: &[],
                    body_done: false,
                    body_failed: false,
                    gone: false,
                    errors: ErrorsLog,
                    config: &self.config,
                };
                let called = self.app.call(&mut req).await;
                if req.gone {
                    return false;
                }
                let AsyncRequest {
                    environ,
                    out,
                    socket,
                    read,
                    body_failed,
                    ..
                } = req;
                (called, environ, out, socket, read, body_failed)
            };
            let mut errors = ErrorsLog;
            let exchange = out.exchange;
            // 2. The response body, block by block; `wsgi.input` is the body read.
            let mut input = SliceInput(read);
            let mut req = Request {
                environ,
                input: &mut input,
                errors: &mut errors,
            };
            let mut called = called;
            // First the output the application wrote during its call, then each block (one
            // send for both: one copy in the firmware).
            let mut pieces: [&[u8]; 3] =
                [out.staging.get(..out.staged).unwrap_or_default(), &[], &[]];
            let mut first = true;
            let error = loop {
                if send(socket, &pieces, self.config.write_timeout)
                    .await
                    .is_err()
                {
                    return false;
                }
                let app_body = match &mut called {
                    _ if first && out.overflow => {
                        // If the head is out (or was committed and could not be staged),
                        // nothing more can be said: the connection closes after what was
                        // staged (with a reset if only the close delimits the body:
                        // `Closed::CutShort`). If a first block alone was too large, nothing
                        // was committed, and the error output answers.
                        log_warn!(
                            "application wrote more during its call than the body buffer holds"
                        );
                        break 'response true;
                    }
                    Ok(_) if exchange.status() == 0 => {
                        break Some(AppError::with_kind(
                            "AssertionError",
                            "write() before start_response()",
                        ));
                    }
                    Ok(app_body) => app_body,
                    Err(e) => break Some(*e),
                };
                let single = first && app_body.single_block() && !exchange.headers_sent();
                first = false;
                let block = match app_body.next_block(&mut req) {
                    None => break None,
                    Some(Err(e)) => break Some(e),
                    Some(Ok(block)) => block,
                };
                let t = if single {
                    exchange.write_whole(block)
                } else {
                    exchange.write(block)
                };
                // Only the pieces are kept across the send, not the `Transmit` too.
                pieces = match t {
                    Ok(t) => t.pieces(),
                    Err(e) => break Some(e.into()),
                };
            };
            // The body is dropped (closed) here, before the response ends.
            drop(called);
            // 3. The end of the response, or the error output (a body that could not be read
            // is answered with its status, and was logged as such by the core's caller).
            match error {
                None => false,
                Some(e) => {
                    if !body_failed {
                        log_app_error(e);
                    }
                    true
                }
            }
        };
        let pieces = {
            let t = if fail {
                Err(LocalError::InvalidState)
            } else {
                exchange.finish()
            };
            match t {
                Ok(t) => t.pieces(),
                Err(_) => exchange.fail().pieces(),
            }
        };
        if send(link.socket, &pieces, self.config.write_timeout)
            .await
            .is_err()
        {
            return false;
        }
        self.log(link.peer, &environ, exchange.status(), exchange.body_sent());
        conn.phase() != Phase::Exchange
    }

    #[inline(never)]
    fn log(&self, peer: Option<IpEndpoint>, environ: &Environ<'_>, status: u16, bytes: u64) {
        if !self.config.quiet {
            log_info!(
                "{} \"{}\" {} {}",
                OptEndpoint(peer),
                RequestLine(environ),
                status,
                bytes
            );
        }
    }
}

/// Logs an application error (`log_exception`); the response becomes the error output.
fn log_app_error(e: AppError) {
    log_warn!("application error: {}", e);
}

/// What one connection is served over: its socket, its peer, and the slot's body buffer and
/// arena. Passed by reference so the nested futures do not each keep copies of the pieces.
struct Link<'s, 'n> {
    socket: &'s mut TcpSocket<'n>,
    peer: Option<IpEndpoint>,
    body: &'s mut [u8],
    arena: &'s mut [u8],
}

/// The outcome of one read.
pub(crate) enum Read {
    /// Bytes read; 0 is the end of the client's input.
    Data(usize),
    /// The deadline passed.
    Timeout,
    /// The connection was reset.
    Reset,
}

/// Reads into `buf`, giving up at `deadline`.
pub(crate) async fn read_until(
    socket: &mut TcpSocket<'_>,
    buf: &mut [u8],
    deadline: Option<EmbassyInstant>,
) -> Read {
    let result = match deadline {
        Some(deadline) => match with_deadline(deadline, socket.read(buf)).await {
            Ok(result) => result,
            Err(_) => return Read::Timeout,
        },
        None => socket.read(buf).await,
    };
    match result {
        Ok(n) => Read::Data(n),
        Err(_) => Read::Reset,
    }
}

/// Sends every byte of `pieces`, each wait for room in the transmit buffer within `timeout`
/// (a client that reads slowly but steadily is not cut off in the middle of a large piece).
///
/// `embedded_io_async`'s `write_all` over the socket's own `write`, written out: its future
/// nests three (`write_all`, the trait's `write`, the socket's), each keeping the socket and
/// the bytes. And a plain function returning an `async move` block, not an `async fn`, whose
/// future would keep a second copy of its arguments. This future is in nearly every
/// suspended state of a slot: 88 bytes instead of 120. The socket's `write` never returns
/// `Ok(0)` (it waits for room); if it did, the client would count as gone (`write_all`
/// panics).
#[allow(clippy::manual_async_fn)] // on purpose: see above
pub(crate) fn send(
    socket: &mut TcpSocket<'_>,
    pieces: &[&[u8]],
    timeout: Duration,
) -> impl Future<Output = Result<(), ()>> {
    async move {
        for piece in pieces.iter().filter(|p| !p.is_empty()) {
            let mut rest: &[u8] = piece;
            while !rest.is_empty() {
                match with_timeout(timeout, socket.write(rest)).await {
                    Ok(Ok(n @ 1..)) => rest = rest.get(n..).unwrap_or_default(),
                    Ok(Ok(0) | Err(_)) | Err(_) => return Err(()),
                }
            }
        }
        Ok(())
    }
}

/// Closes gracefully: FIN after the queued bytes, then what the client still sends is
/// discarded until it closes too (at most `linger`), so unread request bytes do not turn the
/// close into a reset that destroys the response. A client that does not close in time, or
/// one that is gone, is reset; so is a connection whose response was cut short
/// ([`Closed::CutShort`]), once what was sent is acknowledged (at most `linger`). Returns
/// when the socket can listen again, with how long it took (for the log: measured in here,
/// the instant is not kept in the slot's state across the close).
async fn close(
    socket: &mut TcpSocket<'_>,
    sink: &mut [u8],
    linger: Duration,
    closed: Closed,
) -> Duration {
    let start = embassy_now();
    if !matches!(closed, Closed::Gone | Closed::CutShort) {
        // FIN, then what the client still sends is discarded until it closes (briefly).
        socket.close();
        let _ = with_timeout(linger, async {
            while let Ok(1..) = socket.read(sink).await {}
        })
        .await;
    }
    // One wait for every case (one copy in the firmware): what was sent is acknowledged,
    // briefly (a response cut short before the reset below; otherwise our FIN, if still
    // unacknowledged: FIN-WAIT-1, CLOSING, LAST-ACK), then the reset, if any, goes out.
    let mut flush = closed != Closed::Gone;
    for reset in [false, true] {
        if flush {
            let _ = with_timeout(linger, socket.flush()).await;
        }
        // CLOSED and TIME-WAIT can listen again as they are (a listen resets them, no RST);
        // after the reset (`abort` closes the socket at once), nothing is left to do.
        if reset || matches!(socket.state(), State::Closed | State::TimeWait) {
            break;
        }
        socket.abort();
        flush = true;
    }
    embassy_now() - start
}

/// `TcpSocket::new`, out of line (see [`Server::new`]): the smoltcp socket it builds is
/// then not a temporary of the HTTP task's frame.
#[inline(never)]
fn new_socket<'a>(stack: Stack<'a>, rx: &'a mut [u8], tx: &'a mut [u8]) -> TcpSocket<'a> {
    TcpSocket::new(stack, rx, tx)
}

/// The core's clock (inlined: out of line it measured 116 bytes more in the firmware;
/// [`embassy_now`] stays out of line).
pub(crate) fn now() -> Instant {
    Instant::from_millis(embassy_now().as_millis())
}

/// embassy-time's clock: one copy of the time driver's read (inlined, it is copied into the
/// HTTP task at each of its call sites).
#[inline(never)]
pub(crate) fn embassy_now() -> EmbassyInstant {
    EmbassyInstant::now()
}

fn to_embassy(deadline: Instant) -> EmbassyInstant {
    EmbassyInstant::from_millis(deadline.as_millis())
}

#[inline(never)]
pub(crate) fn duration(d: core::time::Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A peer address, or `-`, for the log.
struct OptEndpoint(Option<IpEndpoint>);

impl fmt::Display for OptEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(e) => write!(f, "{}", e.addr),
            None => f.write_str("-"),
        }
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for OptEndpoint {
    fn format(&self, f: defmt::Formatter<'_>) {
        match self.0 {
            Some(e) => defmt::write!(f, "{}", e.addr),
            None => defmt::write!(f, "-"),
        }
    }
}

/// The request line for the access log, from the environ: `METHOD SCRIPT_NAME PATH_INFO
/// ?QUERY PROTOCOL` (the path as routing left it), bytes outside printable ASCII as `?`.
struct RequestLine<'e, 'a>(&'e Environ<'a>);

impl RequestLine<'_, '_> {
    /// The pieces, in order.
    fn pieces(&self) -> [&[u8]; 7] {
        let [method, script, path, query, protocol] = self.0.request_line_vars();
        let query = query.unwrap_or_default();
        [
            method.unwrap_or(b"-"),
            b" ",
            script.unwrap_or_default(),
            path.unwrap_or_default(),
            if query.is_empty() { b"" } else { b"?" },
            query,
            protocol.unwrap_or_default(),
        ]
    }

    /// Writes the line in pieces of up to [`LOG_PIECE`] characters, gathered on the stack
    /// (ASCII `char`s, so no UTF-8 check).
    fn write_to(&self, mut put: impl FnMut(&str)) {
        let mut text = heapless::String::<LOG_PIECE>::new();
        for (i, piece) in self.pieces().iter().enumerate() {
            let space: &[u8] = if i == 6 { b" " } else { b"" };
            for &b in space.iter().chain(*piece) {
                let c = if b.is_ascii_graphic() || b == b' ' {
                    char::from(b)
                } else {
                    '?'
                };
                if text.push(c).is_err() {
                    put(&text);
                    text.clear();
                    let _ = text.push(c);
                }
            }
        }
        put(&text);
    }
}

/// The most characters of the access line written at once.
const LOG_PIECE: usize = 64;

impl fmt::Display for RequestLine<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut result = Ok(());
        self.write_to(|s| {
            if result.is_ok() {
                result = f.write_str(s);
            }
        });
        result
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for RequestLine<'_, '_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        self.write_to(|s| defmt::write!(f, "{=str}", s));
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;

    fn line(pairs: &[(&str, &[u8])]) -> std::string::String {
        let mut arena = [0u8; 0];
        let env = Environ::from_pairs(pairs, &mut arena);
        RequestLine(&env).to_string()
    }

    #[test]
    fn access_line_is_printable_and_reflects_routing() {
        // Four bytes outside printable ASCII become four `?`; then the query's `?`.
        assert_eq!(
            line(&[
                ("REQUEST_METHOD", b"GET"),
                ("SCRIPT_NAME", b"/app"),
                ("PATH_INFO", b"/a b\r\n\x00\xe9"),
                ("QUERY_STRING", b"x=1"),
                ("SERVER_PROTOCOL", b"HTTP/1.1"),
            ]),
            "GET /app/a b?????x=1 HTTP/1.1"
        );
        // No query: no `?`; no method: `-`.
        assert_eq!(
            line(&[
                ("PATH_INFO", b"/"),
                ("QUERY_STRING", b""),
                ("SERVER_PROTOCOL", b"HTTP/1.0")
            ]),
            "- / HTTP/1.0"
        );
    }

    #[test]
    fn a_long_access_line_is_whole() {
        // Longer than one piece of the writer: the pieces join up.
        let path: std::vec::Vec<u8> = (0..300u32).map(|i| (i % 256) as u8).collect();
        let want: std::string::String = path
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    char::from(b)
                } else {
                    '?'
                }
            })
            .collect();
        assert_eq!(
            line(&[
                ("REQUEST_METHOD", b"POST"),
                ("PATH_INFO", &path),
                ("SERVER_PROTOCOL", b"HTTP/1.1"),
            ]),
            std::format!("POST {want} HTTP/1.1")
        );
    }

    #[test]
    fn closed_reads_as_words() {
        assert_eq!(Closed::Done.to_string(), "done");
        assert_eq!(Closed::Gone.to_string(), "client gone");
        assert_eq!(Closed::Stopped.to_string(), "server stopped");
        assert_eq!(Closed::CutShort.to_string(), "response cut short, reset");
    }
}
