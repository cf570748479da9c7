//! `wsgiref.simple_server` on std: `make_server`, a server with `serve_forever`,
//! `handle_request`, `shutdown`, `server_close`, `set_app` / `get_app`, and a request handler
//! whose `get_environ`, `get_stderr` and `log_request` can be overridden.
//!
//! Each accepted connection is served by one worker of a bounded pool, through one core
//! [`Connection`]: HTTP/1.1 keep-alive and pipelining, every deadline the core reports
//! enforced with socket timeouts. Buffers belong to the worker and are reused, so requests
//! allocate nothing. Over the connection limit, a client gets `503` and is closed.

use std::cell::Cell;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wsgiref::app::Application;
use wsgiref::handler::{ErrorOutput, HttpIo, Io, Outcome, run};
use wsgiref::state::{Phase, TimerKind};
use wsgiref::{Config, Connection, Environ, Event, Gateway, Limits, Timeouts, Version};

use crate::file::FileIo;
use crate::transport::{Clock, SocketTransport, write_all_vectored};

/// Header fields a request's head may keep on the std servers (distinct names: repeated
/// fields are joined into one), as many as [`Limits::max_headers`] allows by default (100,
/// Python's `http.client` and hyper's limit). More distinct names than this are answered
/// `431`, as more fields than `max_headers` are.
pub const MAX_FIELDS: usize = 100;

/// The core connection of the std servers (and the tokio adapter): room for
/// [`MAX_FIELDS`] header fields.
pub type StdConnection<'a> = Connection<'a, MAX_FIELDS>;

/// Settings of a [`WsgiServer`].
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Worker threads, each serving one connection at a time.
    pub threads: usize,
    /// Connections served or waiting at once; beyond it, `503` and close.
    pub max_connections: usize,
    /// Receive buffer per worker: the largest kept request head plus some body. Default
    /// 16 KiB (an 8000-octet request-target and a browser's header fields).
    pub rx_buffer: usize,
    /// Transmit buffer per worker: the largest response head. Default 16 KiB (the `echo`
    /// application sends the path back in a header, so it must hold the longest target).
    pub tx_buffer: usize,
    /// Core limits (`max_headers` counts up to [`MAX_FIELDS`] distinct field names: more
    /// are `431` whatever it says).
    pub limits: Limits,
    /// Core deadlines.
    pub timeouts: Timeouts,
    /// Longest a single socket write may block.
    pub write_timeout: Duration,
    /// After [`WsgiServer::shutdown`], how long requests in flight may take to finish;
    /// then their connections are cut (a client trickling its body holds a request for as
    /// long as every read stays under the body deadline). An application that does not
    /// return is not interrupted. Default 10 s.
    pub shutdown_timeout: Duration,
    /// `Server` header and `SERVER_SOFTWARE`.
    pub server_software: String,
    /// The version of the status lines (`BaseHandler.http_version`): HTTP/1.1 by default
    /// (keep-alive, chunked bodies); [`Version::Http10`] answers every client in HTTP/1.0,
    /// closing after a body of unknown length, as Python's `simple_server`.
    pub http_version: Version,
    /// What an application that fails before its head is sent is answered with
    /// (`BaseHandler.error_status`, `error_headers`, `error_body`).
    pub error_output: ErrorOutput<'static>,
    /// No access log.
    pub quiet: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            threads: 64,
            max_connections: 256,
            rx_buffer: 16 * 1024,
            tx_buffer: 16 * 1024,
            limits: Limits::DEFAULT,
            timeouts: Timeouts::DEFAULT,
            write_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
            server_software: concat!("wsgiref.rs/", env!("CARGO_PKG_VERSION")).to_string(),
            http_version: Version::Http11,
            error_output: ErrorOutput::DEFAULT,
            quiet: false,
        }
    }
}

/// `WSGIRequestHandler`'s overridable parts (all have defaults).
///
/// A panic in any of them is caught and logged ([`hook`]) and the server goes on serving:
/// a panic in `get_environ` is answered `500` like an application's, one in
/// `connection_opened` or `handle` drops that connection.
pub trait RequestHandler: Sync {
    /// `get_environ`: adjust the environ of each request before the application sees it
    /// (the base environ: add keys, override `SERVER_NAME`, …). The access log shows the
    /// request as it came, whatever this changes.
    fn get_environ(&self, environ: &mut Environ<'_>) {
        let _ = environ;
    }

    /// `get_stderr`: where `wsgi.errors` text and error logs go.
    fn get_stderr(&self, text: fmt::Arguments<'_>) {
        let _ = io::stderr().write_fmt(text);
    }

    /// `log_request`: one line per request, in `simple_server`'s format.
    fn log_request(&self, line: &AccessLog<'_>) {
        self.get_stderr(format_args!("{line}\n"));
    }

    /// `handle`: serves one accepted connection. The default runs the server's request
    /// loop (`serve`, which returns the number of requests served); an override can act
    /// before and after it, or refuse the connection by not calling it.
    ///
    /// Called by [`WsgiServer`] only: an event loop ([`crate::poll::PollServer`]) serves a
    /// connection across many turns of its loop and has no call to wrap; both servers call
    /// [`RequestHandler::connection_opened`] and [`RequestHandler::connection_closed`].
    fn handle(&self, stream: &TcpStream, peer: SocketAddr, serve: &mut dyn FnMut() -> u32) -> u32 {
        let _ = (stream, peer);
        serve()
    }

    /// A connection is about to be served (before its first byte is read): set socket
    /// options, count it. Called by both std servers (the thread pool just before
    /// [`RequestHandler::handle`]).
    fn connection_opened(&self, stream: &TcpStream, peer: SocketAddr) {
        let _ = (stream, peer);
    }

    /// A connection opened with [`RequestHandler::connection_opened`] is closed, after
    /// `served` requests. Called by both std servers.
    fn connection_closed(&self, peer: SocketAddr, served: u32) {
        let _ = (peer, served);
    }
}

/// The default request handler: environ as parsed, errors and log to stderr.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultHandler;

impl RequestHandler for DefaultHandler {}

/// One access-log line: `127.0.0.1 - - [24/Nov/2026 10:00:00] "GET / HTTP/1.1" 200 13`.
#[derive(Debug)]
pub struct AccessLog<'a> {
    /// The client's address.
    pub peer: SocketAddr,
    /// The request line as it is logged (printable, escaped).
    pub request_line: &'a str,
    /// Status code sent (0 if none).
    pub status: u16,
    /// Body bytes sent; `None` (logged as `-`, as `http.server`'s `send_error` logs it)
    /// for an error response the server wrote itself, rejecting the request.
    pub bytes: Option<u64>,
}

impl fmt::Display for AccessLog<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let now = chrono::Local::now().format("%d/%b/%Y %H:%M:%S");
        write!(
            f,
            "{} - - [{}] \"{}\" {} ",
            self.peer.ip(),
            now,
            self.request_line,
            self.status,
        )?;
        match self.bytes {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("-"),
        }
    }
}

/// A WSGI server (`WSGIServer`): bound and listening, serving `A`.
pub struct WsgiServer<A, H = DefaultHandler> {
    listener: TcpListener,
    local: SocketAddr,
    server_name: String,
    app: A,
    handler: H,
    config: ServerConfig,
    stop: Arc<AtomicBool>,
    clock: Clock,
    /// Connections accepted by `serve_forever` and not yet closed (queued or being served).
    live: AtomicUsize,
}

/// A handle that stops a [`WsgiServer`] from another thread (a Ctrl-C handler): cloneable,
/// `'static`.
#[derive(Clone, Debug)]
pub struct ShutdownHandle {
    stop: Arc<AtomicBool>,
    addr: SocketAddr,
}

impl ShutdownHandle {
    /// Same as [`WsgiServer::shutdown`].
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept call.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

/// The smallest accept queue of a listening socket: std's 128 overflows when hundreds of
/// clients connect at once (a browser farm, a load test), and an overflowing queue drops
/// handshakes, which the clients retry only after a second or more.
pub(crate) const LISTEN_BACKLOG: usize = 1024;

/// Binds a listener to `addr` whose accept queue holds `connections` (at least
/// [`LISTEN_BACKLOG`]; the kernel caps it at `somaxconn`).
pub(crate) fn listen(addr: impl ToSocketAddrs, connections: usize) -> io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    let backlog = i32::try_from(connections.max(LISTEN_BACKLOG)).unwrap_or(i32::MAX);
    // A second listen() on a listening socket only changes its backlog.
    rustix::net::listen(&listener, backlog)?;
    Ok(listener)
}

/// How often an idle keep-alive connection looks at the stop flag while it waits.
const IDLE_POLL: Duration = Duration::from_millis(250);

impl<A, H> fmt::Debug for WsgiServer<A, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsgiServer")
            .field("local", &self.local)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// `make_server(host, port, app)`: a server bound to `host:port` (port 0 picks a free one),
/// with the default configuration and handler. As in Python, an empty `host` is every
/// interface (`0.0.0.0`), and `SERVER_NAME` is then the machine's name.
///
/// # Errors
/// The address does not resolve or cannot be bound.
pub fn make_server<A: Application + Sync>(
    host: &str,
    port: u16,
    app: A,
) -> io::Result<WsgiServer<A>> {
    WsgiServer::bind(
        (bind_host(host), port),
        app,
        ServerConfig::default(),
        DefaultHandler,
    )
}

/// The address to bind for a `host` given as Python's socket servers take it: `""` is
/// every interface (`INADDR_ANY`).
pub(crate) fn bind_host(host: &str) -> &str {
    if host.is_empty() { "0.0.0.0" } else { host }
}

/// `SERVER_NAME` of a server listening on `local` (`socket.getfqdn` of the bound address in
/// Python): the address itself, or the machine's name when the address is every interface's
/// (where Python's `getfqdn` gives the host name too). What the std servers and the tokio
/// adapter use unless told otherwise.
///
/// ```
/// use wsgiref_std::server::default_server_name;
///
/// assert_eq!(default_server_name("127.0.0.1:8000".parse().unwrap()), "127.0.0.1");
/// assert_ne!(default_server_name("0.0.0.0:8000".parse().unwrap()), "0.0.0.0");
/// ```
#[must_use]
pub fn default_server_name(local: SocketAddr) -> String {
    if local.ip().is_unspecified() {
        let uname = rustix::system::uname();
        let name = uname.nodename().to_string_lossy();
        if !name.is_empty() {
            return name.into_owned();
        }
    }
    local.ip().to_string()
}

impl<A: Application + Sync, H: RequestHandler> WsgiServer<A, H> {
    /// A server bound to `addr` with a configuration and a request handler.
    ///
    /// # Errors
    /// The address does not resolve or cannot be bound.
    pub fn bind(
        addr: impl ToSocketAddrs,
        app: A,
        config: ServerConfig,
        handler: H,
    ) -> io::Result<Self> {
        let listener = listen(addr, config.max_connections)?;
        let local = listener.local_addr()?;
        Ok(Self {
            listener,
            local,
            server_name: default_server_name(local),
            app,
            handler,
            config,
            stop: Arc::new(AtomicBool::new(false)),
            clock: Clock::new(),
            live: AtomicUsize::new(0),
        })
    }

    /// The address the server listens on.
    #[must_use]
    pub fn server_address(&self) -> SocketAddr {
        self.local
    }

    /// `set_app`.
    pub fn set_app(&mut self, app: A) {
        self.app = app;
    }

    /// `get_app`.
    #[must_use]
    pub fn get_app(&self) -> &A {
        &self.app
    }

    /// The request handler.
    #[must_use]
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// Connections [`WsgiServer::serve_forever`] has accepted and not yet closed: being
    /// served or waiting for a worker.
    #[must_use]
    pub fn open_connections(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Sets `SERVER_NAME` (defaults to the bound address).
    pub fn set_server_name(&mut self, name: impl Into<String>) {
        self.server_name = name.into();
    }

    /// `shutdown`: stop accepting; requests in flight finish (within
    /// [`ServerConfig::shutdown_timeout`], then their connections are cut), idle keep-alive
    /// connections close within a quarter of a second, then `serve_forever` returns.
    pub fn shutdown(&self) {
        self.shutdown_handle().shutdown();
    }

    /// A handle for [`WsgiServer::shutdown`] from another thread.
    #[must_use]
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            stop: Arc::clone(&self.stop),
            addr: self.local,
        }
    }

    /// `server_close`: closes the listening socket.
    pub fn server_close(self) {
        drop(self);
    }

    fn core_config(&self) -> Config<'_> {
        core_config(
            &self.server_name,
            self.local,
            &self.config.server_software,
            (self.config.limits, self.config.timeouts),
            (self.config.http_version, self.config.error_output),
            self.config.threads > 1,
        )
    }

    /// `serve_forever`: accepts and serves connections on a pool of worker threads until
    /// [`WsgiServer::shutdown`].
    ///
    /// # Errors
    /// Accepting failed for good (not per-connection errors, which are skipped).
    pub fn serve_forever(&self) -> io::Result<()> {
        let threads = self.config.threads.max(1);
        let limit = self.config.max_connections.max(1);
        // Connections accepted and not yet closed (queued or being served): the limit is
        // checked against this count, never against free room in the hand-off queue, which
        // lags behind while idle workers wake up. Only this thread increments it, so the
        // queue (as large as the limit) is never full when the count is under the limit.
        let live = &self.live;
        let (sender, receiver) = sync_channel::<(TcpStream, SocketAddr)>(limit);
        let receiver = Mutex::new(receiver);
        // Rejected connections are closed gracefully by a thread of their own, so that
        // one that goes on sending never holds up accepting.
        let (rejected, to_close) = sync_channel::<TcpStream>(REJECTED_CLOSING);
        let config = self.core_config();
        // Each worker's connection (a second handle), for the shutdown to cut, and whether
        // a request is being served on it.
        let serving: Vec<Serving> = (0..threads).map(|_| Serving::default()).collect();
        std::thread::scope(|scope| {
            for serving in &serving {
                scope.spawn(|| self.worker(&receiver, &config, live, serving));
            }
            scope.spawn(move || close_rejected(&to_close, &self.stop));
            while !self.stop.load(Ordering::SeqCst) {
                match self.listener.accept() {
                    Ok(_) if self.stop.load(Ordering::SeqCst) => break,
                    Ok((stream, _)) if live.load(Ordering::SeqCst) >= limit => {
                        reject_busy(stream, &rejected);
                    }
                    Ok((stream, peer)) => {
                        live.fetch_add(1, Ordering::SeqCst);
                        match sender.try_send((stream, peer)) {
                            Ok(()) => {}
                            Err(TrySendError::Full((stream, _))) => {
                                live.fetch_sub(1, Ordering::SeqCst);
                                reject_busy(stream, &rejected);
                            }
                            Err(TrySendError::Disconnected(_)) => break,
                        }
                    }
                    // Per-connection accept errors (ECONNABORTED, EMFILE): keep serving.
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            drop(sender);
            drop(rejected);
            // Requests in flight finish, for `shutdown_timeout` at most; then the sockets
            // still open are cut, so that reads and writes waiting on them fail at once.
            let deadline = std::time::Instant::now().checked_add(self.config.shutdown_timeout);
            while live.load(Ordering::SeqCst) > 0
                && deadline.is_none_or(|d| std::time::Instant::now() < d)
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            for serving in &serving {
                serving.cut();
            }
        });
        Ok(())
    }

    /// `handle_request`: accepts one connection and serves one request on it.
    ///
    /// # Errors
    /// Accepting failed.
    pub fn handle_request(&self) -> io::Result<()> {
        let (stream, peer) = self.listener.accept()?;
        let config = self.core_config();
        let mut rx = vec![0u8; self.config.rx_buffer];
        let mut tx = vec![0u8; self.config.tx_buffer];
        let serving = Serving::default();
        let _ = self.serve_connection(
            &stream,
            peer,
            &config,
            (&mut rx, &mut tx),
            Some(1),
            &serving,
        );
        Ok(())
    }

    /// Accepts one connection and serves every request on it, on the calling thread, until
    /// it closes. Returns the number of requests served.
    ///
    /// # Errors
    /// Accepting failed.
    pub fn handle_connection(&self) -> io::Result<u32> {
        let (stream, peer) = self.listener.accept()?;
        let config = self.core_config();
        let mut rx = vec![0u8; self.config.rx_buffer];
        let mut tx = vec![0u8; self.config.tx_buffer];
        let serving = Serving::default();
        Ok(self.serve_connection(&stream, peer, &config, (&mut rx, &mut tx), None, &serving))
    }

    fn worker(
        &self,
        receiver: &Mutex<Receiver<(TcpStream, SocketAddr)>>,
        config: &Config<'_>,
        live: &AtomicUsize,
        serving: &Serving,
    ) {
        // Allocated once per worker, reused for every connection and request.
        let mut rx = vec![0u8; self.config.rx_buffer];
        let mut tx = vec![0u8; self.config.tx_buffer];
        loop {
            let next = receiver
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .recv();
            let Ok((stream, peer)) = next else {
                return;
            };
            *serving
                .stream
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = stream.try_clone().ok();
            let _ = self.serve_connection(&stream, peer, config, (&mut rx, &mut tx), None, serving);
            *serving
                .stream
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = None;
            drop(stream);
            live.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Serves one connection until it closes (or `max_requests` were answered); returns the
    /// number of requests served.
    fn serve_connection(
        &self,
        stream: &TcpStream,
        peer: SocketAddr,
        config: &Config<'_>,
        (rx, tx): (&mut [u8], &mut [u8]),
        max_requests: Option<u32>,
        serving: &Serving,
    ) -> u32 {
        let handler = &self.handler;
        if !hook(handler, "connection_opened", || {
            handler.connection_opened(stream, peer);
        }) {
            return 0;
        }
        // What the request loop counted, if `handle` panics after it.
        let counted = Cell::new(0);
        let mut serve = || {
            let served = self.request_loop(
                stream,
                peer,
                config,
                (&mut *rx, &mut *tx),
                max_requests,
                serving,
            );
            counted.set(served);
            served
        };
        let mut served = None;
        hook(handler, "handle", || {
            served = Some(handler.handle(stream, peer, &mut serve));
        });
        let served = served.unwrap_or(counted.get());
        hook(handler, "connection_closed", || {
            handler.connection_closed(peer, served);
        });
        served
    }

    fn request_loop(
        &self,
        stream: &TcpStream,
        peer: SocketAddr,
        config: &Config<'_>,
        (rx, tx): (&mut [u8], &mut [u8]),
        max_requests: Option<u32>,
        serving: &Serving,
    ) -> u32 {
        let _ = stream.set_nodelay(true);
        let _ = stream.set_write_timeout(Some(self.config.write_timeout));
        let mut conn: StdConnection<'_> = Connection::new(config, rx, tx);
        conn.set_remote(peer);
        let armed = Cell::new(None);
        // `true` if the client went away (or stopped reading): the socket is dropped as is.
        let gone = loop {
            let now = self.clock.now();
            match conn.poll_event(now) {
                Event::NeedData => {
                    // Between requests, wake up now and then to notice a shutdown.
                    let idle = between_requests(&conn);
                    if idle && self.stop.load(Ordering::SeqCst) {
                        // A request that has already arrived is still answered (as the
                        // connection's last); else the connection closes now.
                        match read_pending(stream, conn.receive_buf()) {
                            Some(n) => {
                                set_wall_clock(&mut conn);
                                conn.handle_received(n);
                                continue;
                            }
                            None => break false,
                        }
                    }
                    let mut timeout = conn.poll_timeout().map(|d| {
                        d.saturating_duration_since(now)
                            .max(Duration::from_millis(1))
                    });
                    if idle {
                        timeout = Some(timeout.map_or(IDLE_POLL, |t| t.min(IDLE_POLL)));
                    }
                    arm_read_timeout(stream, &armed, timeout);
                    let read = (&mut &*stream).read(conn.receive_buf());
                    // Whatever the core answers by itself now (a 400, a 408) carries a
                    // current Date.
                    set_wall_clock(&mut conn);
                    match read {
                        Ok(0) => conn.handle_eof(),
                        Ok(n) => conn.handle_received(n),
                        Err(e)
                            if matches!(
                                e.kind(),
                                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                            ) =>
                        {
                            conn.handle_timeout(self.clock.now());
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        // The client went away: quiet.
                        Err(_) => break true,
                    }
                }
                Event::Send(bytes) => {
                    if write_all_vectored(&mut &*stream, &[bytes]).is_err() {
                        break true;
                    }
                    log_rejected(&self.handler, peer, &conn, self.config.quiet);
                }
                Event::Request => {
                    // The body deadline is armed by the first body read, if there is one.
                    let transport = SocketTransport::new(stream, self.clock)
                        .with_read_timeout(&armed, self.config.timeouts.body);
                    let service = Service {
                        app: &self.app,
                        handler: &self.handler,
                        quiet: self.config.quiet,
                    };
                    // Fairness: a busy keep-alive client would hold its worker for as long
                    // as it keeps sending; while accepted connections wait for a worker
                    // (or the server stops), each response is the connection's last.
                    let waiting = self.live.load(Ordering::SeqCst) > self.config.threads.max(1);
                    // `handle_request`: the one request's response says it closes.
                    let limit =
                        max_requests.is_some_and(|m| conn.requests_served().saturating_add(1) >= m);
                    let last = waiting || limit || self.stop.load(Ordering::SeqCst);
                    serving.in_response.store(true, Ordering::SeqCst);
                    let kept = service.serve_request(&mut conn, transport, peer, last);
                    serving.in_response.store(false, Ordering::SeqCst);
                    if !kept {
                        break true;
                    }
                }
                Event::NextCycle => {
                    let done = max_requests.is_some_and(|m| conn.requests_served() >= m);
                    if done || self.stop.load(Ordering::SeqCst) {
                        break false;
                    }
                }
                _ => break false,
            }
        };
        // A close-delimited response that did not end as it should: a reset says so, also
        // when the client seems gone (a write deadline can cut off a slow reader).
        if conn.must_reset() {
            crate::transport::reset_on_drop(stream);
        } else if !gone {
            linger_close(stream);
        }
        conn.requests_served()
    }
}

/// A worker's connection as the shutdown sees it: a second handle of its socket, and
/// whether a request is being served on it.
#[derive(Default)]
struct Serving {
    stream: Mutex<Option<TcpStream>>,
    in_response: AtomicBool,
}

impl Serving {
    /// Cuts the connection at the end of the shutdown's wait, so that reads and writes
    /// waiting on it fail at once. In the middle of a request, with a reset: the response
    /// is cut short, and a FIN could make a close-delimited one look complete (RFC 9112
    /// §8); between requests (a lingering close), with `shutdown`, which keeps what was
    /// sent.
    fn cut(&self) {
        let stream = self.stream.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(stream) = stream.as_ref() else {
            return;
        };
        if !(self.in_response.load(Ordering::SeqCst) && rustix::net::connect_unspec(stream).is_ok())
        {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// The core's configuration of a server listening on `local` as `server_name`.
pub(crate) fn core_config<'a>(
    server_name: &'a str,
    local: SocketAddr,
    server_software: &'a str,
    (limits, timeouts): (Limits, Timeouts),
    (http_version, error_output): (Version, ErrorOutput<'a>),
    multithread: bool,
) -> Config<'a> {
    Config {
        limits,
        timeouts,
        http_version,
        error_output,
        gateway: Gateway {
            server_name,
            server_port: local.port(),
            server_software,
            url_scheme: "http",
            multithread,
            multiprocess: false,
            run_once: false,
        },
        ..Config::DEFAULT
    }
}

/// What serving one request needs: the application, the request handler, and whether to
/// write the access log. Shared by [`WsgiServer`] and [`crate::poll::PollServer`].
pub(crate) struct Service<'s, A: ?Sized, H: ?Sized> {
    pub(crate) app: &'s A,
    pub(crate) handler: &'s H,
    pub(crate) quiet: bool,
}

/// Gives `conn` the wall-clock time (`SystemTime`), for the `Date` field of the responses
/// it writes: the application's, and those the core writes by itself (a 400 for a malformed
/// request, a 408 for one that timed out), which RFC 9110 §6.6.1 requires to carry a Date
/// as much as any 2xx. Adapters call it after every read and before every application call.
pub fn set_wall_clock(conn: &mut StdConnection<'_>) {
    if let Ok(d) = SystemTime::now().duration_since(UNIX_EPOCH) {
        conn.set_unix_time(d.as_secs());
    }
}

impl<A: Application + ?Sized, H: RequestHandler + ?Sized> Service<'_, A, H> {
    /// Runs the application for the current request of `conn` over `transport`. Returns
    /// false if the connection must be dropped at once (the client went away, or the
    /// response could not be completed).
    /// With `last`, the response closes the connection (`Connection: close`).
    pub(crate) fn serve_request(
        &self,
        conn: &mut StdConnection<'_>,
        mut transport: SocketTransport<'_>,
        peer: SocketAddr,
        last: bool,
    ) -> bool {
        set_wall_clock(conn);
        // The request line as it came (Python's `log_request` logs it so), read before
        // the exchange decodes the path in place.
        let line = (!self.quiet).then(|| RequestLine::of(conn));
        let mut arena = [0u8; 512];
        let Ok((mut environ, mut exchange)) = conn.exchange(&mut arena) else {
            return false;
        };
        if last {
            exchange.close_after();
        }
        let mut io = FileIo(HttpIo::new(&mut exchange, &mut transport));
        let access = line.as_ref().map(RequestLine::as_str);
        let outcome = run_logged(self.app, self.handler, &mut environ, &mut io, peer, access);
        !outcome.disconnected && conn.phase() != Phase::Exchange
    }
}

/// Runs `app` for one request through the gateway `io`, as every server here does (the std
/// engines, and the tokio adapter): first the handler's `get_environ`, then the
/// application, with `wsgi.errors` going to the handler's `get_stderr`. A panic in either
/// is caught, logged and answered like an application error (`500` before the head, close
/// after); the application's error is logged; and, unless `access_line` is `None` (quiet)
/// or the client went away, one access-log line is written. A panic in a logging hook is
/// caught too (see [`hook`]).
pub fn run_logged<A, H, I>(
    app: &A,
    handler: &H,
    environ: &mut Environ<'_>,
    io: &mut I,
    peer: SocketAddr,
    access_line: Option<&str>,
) -> Outcome
where
    A: Application + ?Sized,
    H: RequestHandler + ?Sized,
    I: Io,
{
    let mut errors = ErrorsSink(handler);
    let mut in_app = false;
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        handler.get_environ(environ);
        in_app = true;
        run(app, environ, &mut errors, io)
    }));
    let outcome = outcome.unwrap_or_else(|panic| {
        let message = panic_message(&*panic);
        let who = if in_app {
            "application"
        } else {
            "request handler (get_environ)"
        };
        hook(handler, "get_stderr", || {
            handler.get_stderr(format_args!("{who} panicked: {message}\n"));
        });
        // The same as an application error: 500 before the head, close after.
        let _ = io.fail(500);
        let (status, body_sent) = io.progress();
        Outcome {
            status,
            body_sent,
            error: None,
            disconnected: false,
        }
    });
    if let Some(error) = outcome.error {
        hook(handler, "get_stderr", || {
            handler.get_stderr(format_args!("{error}\n"));
        });
    }
    if let Some(line) = access_line.filter(|_| !outcome.disconnected) {
        hook(handler, "log_request", || {
            handler.log_request(&AccessLog {
                peer,
                request_line: line,
                status: outcome.status,
                bytes: Some(outcome.body_sent),
            });
        });
    }
    outcome
}

/// Calls the [`RequestHandler`] hook `name` (`f`); returns false if it panicked. The panic
/// is caught and reported through the handler's `get_stderr` (through the process's stderr
/// if that panics too), and the server goes on serving, as Python's `socketserver` reports
/// an exception raised in a request handler and serves the next request. The servers drop
/// the connection a failed `connection_opened` or `handle` was for; every other hook runs
/// inside [`run_logged`] or after the connection is closed.
pub fn hook<H: RequestHandler + ?Sized>(handler: &H, name: &str, f: impl FnOnce()) -> bool {
    let Err(panic) = catch_unwind(AssertUnwindSafe(f)) else {
        return true;
    };
    let message = panic_message(&*panic);
    let reported = catch_unwind(AssertUnwindSafe(|| {
        handler.get_stderr(format_args!(
            "request handler panicked in {name}: {message}\n"
        ));
    }));
    if reported.is_err() {
        let _ = writeln!(
            io::stderr(),
            "request handler panicked in {name}: {message}"
        );
    }
    false
}

/// The `503` the servers answer over their connection limit, then close.
pub const BUSY_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 20\r\nRetry-After: 1\r\nConnection: close\r\n\r\nService Unavailable\n";

/// The message of a caught panic (`&str` or `String` payloads), for the error log.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// `wsgi.errors` → the handler's `get_stderr`.
struct ErrorsSink<'h, H: ?Sized>(&'h H);

impl<H: RequestHandler + ?Sized> fmt::Write for ErrorsSink<'_, H> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.get_stderr(format_args!("{s}"));
        Ok(())
    }
}

/// A request line as [`AccessLog::request_line`] shows it, as Python's `http.server`
/// logs it: the line's bytes as received, read as latin-1, with the control characters
/// U+0000 to U+001F and U+007F to U+009F as `\xNN` and `\` as `\\`. For adapters other
/// than this server (tokio, event loops) that write the same access log. Its text buffer is
/// the thread's, reused from one request to the next (no allocation per request).
///
/// ```
/// use wsgiref::{Config, Connection, Event, Instant};
/// use wsgiref_std::server::RequestLine;
///
/// let (mut rx, mut tx) = ([0u8; 1024], [0u8; 512]);
/// let mut conn: Connection<'_> = Connection::new(&Config::DEFAULT, &mut rx, &mut tx);
/// let req = b"GET /a%20b\\c?x=\xe9 HTTP/1.1\r\nHost: h\r\n\r\n";
/// conn.receive_buf()[..req.len()].copy_from_slice(req);
/// conn.handle_received(req.len());
/// assert_eq!(conn.poll_event(Instant::from_millis(0)), Event::Request);
/// // Before `exchange`, which decodes the path.
/// assert_eq!(RequestLine::of(&conn).as_str(), "GET /a%20b\\\\c?x=é HTTP/1.1");
/// assert_eq!(RequestLine::new(b"GET /\x85\x1b").as_str(), "GET /\\x85\\x1b");
/// ```
pub struct RequestLine(String);

thread_local! {
    /// The text buffer of the thread's last [`RequestLine`], kept for the next.
    static SPARE_LINE: std::cell::Cell<String> = const { std::cell::Cell::new(String::new()) };
}

impl RequestLine {
    /// `raw` (a request line's bytes) as it is logged.
    #[must_use]
    pub fn new(raw: &[u8]) -> Self {
        let mut text = SPARE_LINE
            .try_with(std::cell::Cell::take)
            .unwrap_or_default();
        text.clear();
        text.reserve(raw.len());
        for &b in raw {
            match b {
                b'\\' => text.push_str("\\\\"),
                0x00..=0x1f | 0x7f..=0x9f => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    text.push_str("\\x");
                    text.push(char::from(HEX[usize::from(b >> 4)]));
                    text.push(char::from(HEX[usize::from(b & 0xf)]));
                }
                _ => text.push(char::from(b)),
            }
        }
        Self(text)
    }

    /// The request line of `conn`'s current request ([`wsgiref::Connection::request_line`]:
    /// at [`wsgiref::Event::Request`] before the exchange, or after a request the core
    /// rejected); empty if it has none.
    #[must_use]
    pub fn of<const H: usize>(conn: &wsgiref::Connection<'_, H>) -> Self {
        Self::new(conn.request_line().unwrap_or_default())
    }

    /// The line as it is logged.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Drop for RequestLine {
    fn drop(&mut self) {
        let text = std::mem::take(&mut self.0);
        let _ = SPARE_LINE.try_with(|spare| spare.set(text));
    }
}

impl fmt::Debug for RequestLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RequestLine").field(&self.as_str()).finish()
    }
}

/// Writes the access-log line of a request the core rejected itself, through the
/// handler's `log_request`, once its error response went out ([`wsgiref::Event::Send`]):
/// `"<request line as far as it came>" <status> -`, as `http.server` logs its
/// `send_error`. Nothing if the core rejected nothing, or with `quiet`, or for a head cut
/// short by the end of the connection (its 400 is written, but a client that went away is
/// not logged: disconnects are quiet). For adapters other than this server that write the
/// same access log.
pub fn log_rejected<H: RequestHandler + ?Sized, const N: usize>(
    handler: &H,
    peer: SocketAddr,
    conn: &wsgiref::Connection<'_, N>,
    quiet: bool,
) {
    let Some(error) = conn
        .rejected()
        .filter(|&e| !quiet && e != wsgiref::RemoteError::UnexpectedEof)
    else {
        return;
    };
    let line = RequestLine::of(conn);
    hook(handler, "log_request", || {
        handler.log_request(&AccessLog {
            peer,
            request_line: line.as_str(),
            status: error.status(),
            bytes: None,
        });
    });
}

/// Sets the socket's read timeout unless it is already within 50 ms of `want`, so a
/// keep-alive request costs no `setsockopt` (deadlines stay exact to that margin; the core's
/// `handle_timeout` ignores early calls).
pub(crate) fn arm_read_timeout(
    stream: &TcpStream,
    armed: &Cell<Option<Duration>>,
    want: Option<Duration>,
) {
    const SLACK: Duration = Duration::from_millis(50);
    let close_enough = match (armed.get(), want) {
        (Some(a), Some(w)) => a.abs_diff(w) <= SLACK,
        (None, None) => true,
        _ => false,
    };
    if !close_enough && stream.set_read_timeout(want).is_ok() {
        armed.set(want);
    }
}

/// Is `conn` between requests (waiting for a first byte, or idle after a response)?
pub(crate) fn between_requests(conn: &StdConnection<'_>) -> bool {
    matches!(
        conn.timer(),
        Some(TimerKind::KeepAlive | TimerKind::FirstByte)
    )
}

/// Reads what a blocking `stream` has already received, without waiting: `None` if
/// nothing (or the client closed, or the read failed).
fn read_pending(stream: &TcpStream, buf: &mut [u8]) -> Option<usize> {
    stream.set_nonblocking(true).ok()?;
    let read = (&mut &*stream).read(buf);
    let _ = stream.set_nonblocking(false);
    read.ok().filter(|&n| n > 0)
}

/// Rejected connections closing at once, gracefully; beyond them, closed abruptly.
const REJECTED_CLOSING: usize = 64;

/// Over the connection limit: a short `503` (it fits any send buffer: the write does not
/// wait), no more writes, and what the client sent so far read. If it sent nothing more, the
/// socket closes now; else the closing thread (`closing`) discards what it still sends for
/// a while, so that the unread bytes do not turn the close into a reset that destroys the
/// `503` (as [`linger_close`] does on a worker), without tying up a worker or the
/// accepting thread.
fn reject_busy(stream: TcpStream, closing: &SyncSender<TcpStream>) {
    let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
    let _ = (&mut &stream).write_all(BUSY_RESPONSE);
    let _ = stream.shutdown(Shutdown::Write);
    if stream.set_nonblocking(true).is_err() || discard_pending(&stream) != Discarded::Waiting {
        return;
    }
    // Full: closed now (a reset may cut its `503`).
    let _ = closing.try_send(stream);
}

/// What [`discard_pending`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Discarded {
    /// The client closed (or the socket failed).
    Closed,
    /// Nothing was pending.
    Nothing,
    /// Bytes were discarded; more may come.
    Waiting,
}

/// Reads and discards what a non-blocking `stream` has pending (at most 256 KiB).
pub(crate) fn discard_pending(stream: &TcpStream) -> Discarded {
    let mut sink = [0u8; 4096];
    let mut found = Discarded::Nothing;
    for _ in 0..64 {
        match (&mut &*stream).read(&mut sink) {
            Ok(0) => return Discarded::Closed,
            Ok(_) => found = Discarded::Waiting,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return found,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Discarded::Closed,
        }
    }
    found
}

/// The closing thread of the thread pool: watches every rejected connection it is given
/// at once (`poll(2)`), discarding what each client still sends, and closes each when its
/// client closes, after 100 ms without a byte, or after 1.6 s in all (the bounds of
/// [`linger_close`]). Returns when the server stops.
fn close_rejected(to_close: &Receiver<TcpStream>, stop: &AtomicBool) {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    use std::time::Instant as StdInstant;
    const QUIET: Duration = Duration::from_millis(100);
    const LONGEST: Duration = Duration::from_millis(1600);
    // Each socket with when it must close: at the latest, and if it stays quiet.
    let mut open: Vec<(TcpStream, StdInstant, StdInstant)> = Vec::new();
    loop {
        if open.is_empty() {
            match to_close.recv() {
                Ok(stream) => {
                    let now = StdInstant::now();
                    open.push((stream, now + LONGEST, now + QUIET));
                }
                Err(_) => return,
            }
        }
        while let Ok(stream) = to_close.try_recv() {
            // Beyond the bound, closed now.
            if open.len() < REJECTED_CLOSING {
                let now = StdInstant::now();
                open.push((stream, now + LONGEST, now + QUIET));
            }
        }
        if stop.load(Ordering::SeqCst) {
            return;
        }
        // New sockets are taken between waits: a wait is short.
        let spec = Timespec {
            tv_sec: 0,
            tv_nsec: 10_000_000,
        };
        let mut fds: Vec<PollFd<'_>> = open
            .iter()
            .map(|(stream, ..)| PollFd::new(stream, PollFlags::IN))
            .collect();
        let _ = poll(&mut fds, Some(&spec));
        let readable: Vec<bool> = fds.iter().map(|fd| !fd.revents().is_empty()).collect();
        drop(fds);
        let now = StdInstant::now();
        let mut index = 0;
        open.retain_mut(|(stream, last, quiet)| {
            let ready = readable.get(index).copied().unwrap_or(false);
            index += 1;
            if ready {
                match discard_pending(stream) {
                    Discarded::Closed => return false,
                    Discarded::Waiting => *quiet = now + QUIET,
                    Discarded::Nothing => {}
                }
            }
            now < *last && now < *quiet
        });
    }
}

/// Closes gracefully: no more writes, then, if the client left bytes unread, discard what it
/// still sends (bounded), so unread request bytes do not turn the close into a reset that
/// destroys the response. With nothing unread, the socket closes at once.
fn linger_close(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    // Nothing pending (or the client already closed): a clean close.
    if stream.set_nonblocking(true).is_err() || discard_pending(stream) != Discarded::Waiting {
        return;
    }
    let mut sink = [0u8; 4096];
    if stream.set_nonblocking(false).is_err() {
        return;
    }
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    for _ in 0..16 {
        match (&mut &*stream).read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Python's socket servers take `""` for every interface; `SERVER_NAME` of a server
    /// there is the machine's name (Python's `getfqdn`), elsewhere the bound address.
    /// (Nothing is bound: the tests listen on loopback only.)
    #[test]
    fn an_empty_host_is_every_interface() {
        assert_eq!(bind_host(""), "0.0.0.0");
        assert_eq!(bind_host("127.0.0.1"), "127.0.0.1");
        assert_eq!(bind_host("localhost"), "localhost");
        let any: SocketAddr = "0.0.0.0:8000".parse().unwrap();
        let name = default_server_name(any);
        assert!(!name.is_empty() && name != "0.0.0.0", "{name}");
        let node = rustix::system::uname();
        assert_eq!(name, node.nodename().to_string_lossy());
        let local: SocketAddr = "127.0.0.1:8000".parse().unwrap();
        assert_eq!(default_server_name(local), "127.0.0.1");
        let v6: SocketAddr = "[::1]:8000".parse().unwrap();
        assert_eq!(default_server_name(v6), "::1");
    }
}
