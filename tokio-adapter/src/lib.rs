//! # wsgiref for Rust on tokio
//!
//! Serves any [`wsgiref::app::Application`] over a [`tokio::net::TcpListener`], for programs
//! that already run a tokio runtime and want an HTTP endpoint in it. One task per
//! connection drives one sans-IO core [`wsgiref::Connection`] over its own buffers:
//! HTTP/1.1 keep-alive and pipelining, the core's deadlines (first byte, idle keep-alive,
//! head, body) as tokio timers, a connection limit (`503` and close beyond it), graceful
//! shutdown, and one access-log line per request in `simple_server`'s format.
//!
//! ```no_run
//! use wsgiref::app::{AppError, Bytes, Request, StartResponse};
//!
//! fn hello(_: &mut Request<'_, '_>, start_response: &mut StartResponse<'_>)
//!     -> Result<Bytes<&'static [u8]>, AppError>
//! {
//!     start_response.start("200 OK", &[("Content-type", "text/plain; charset=utf-8")])?;
//!     Ok(Bytes::new(b"Hello World"))
//! }
//!
//! #[tokio::main] // the multi-thread runtime: see "Blocking applications" below
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//!     wsgiref_tokio::serve(listener, hello)
//!         .with_graceful_shutdown(async { tokio::signal::ctrl_c().await.unwrap_or(()) })
//!         .await?;
//!     Ok(())
//! }
//! ```
//!
//! The `wsgiref-tokio` command serves the applications of the `wsgiref` command with this
//! adapter (`wsgiref-tokio --app demo|hello|echo|files=DIR [--validate] [--engine
//! block-in-place|inline] [--bind ADDR:PORT] [--quiet]`); the std server's real-client
//! suite runs against it (`tests/suite.rs`, `tests/suite_inline.rs`). `examples/embed.rs`
//! serves `demo_app` beside a program's own task.
//!
//! ## Blocking applications
//!
//! A WSGI application is blocking code: it reads `wsgi.input` and writes its response
//! synchronously inside [`Application::call`] and its body, and may do anything else a
//! blocking program does (a database query, a file read). It must never run on a runtime
//! worker as it is, or it would stall every other connection of that worker.
//!
//! This adapter runs each request's [`wsgiref::handler::run`] under
//! [`tokio::task::block_in_place`]: the worker hands its other tasks to another thread and
//! becomes an ordinary thread for the length of the request. The application's socket I/O
//! goes through a blocking [`wsgiref::handler::Transport`] over the connection's
//! `TcpStream`: each read or write first tries the non-blocking `try_read` /
//! `try_write_vectored` (nearly always enough: the head and often the body are already in
//! the receive buffer, and responses fit the socket buffer), and only when the socket is
//! not ready blocks that thread on the runtime ([`tokio::runtime::Handle::block_on`]) until
//! it is, under the core's body deadline or [`ServerConfig::write_timeout`] as a tokio
//! timeout. A [`wsgiref_std::file::FileResponse`] body (the files app's) is sent with
//! `sendfile(2)` the same way. Everything else (accepting, waiting for a request head,
//! idle keep-alive, error responses the core writes itself, closing) is async and holds
//! no thread.
//!
//! The cost:
//!
//! * **a thread per running request**: at most [`ServerConfig::max_running`] applications
//!   run at once (a semaphore, waited for asynchronously); a request beyond it waits, holding
//!   only its buffers. Keep `max_running` plus the worker count below the runtime's
//!   `max_blocking_threads` (512 by default), or the blocking pool can run out of threads
//!   to hand the workers' tasks to.
//! * **a hand-off per request**: `block_in_place` moves the worker's core to another
//!   thread from tokio's blocking pool on every request, even for an application that
//!   would never block; the pool keeps the threads it starts for 10 s. With the hello app
//!   under `wrk -t2 -c32` (keep-alive) on a shared 2-core machine this halved the
//!   throughput (about 53 000 against 100 000 requests/s for [`Execution::Inline`], medians
//!   of 3 noisy runs) and the pool grew to about 150 threads (18 MB resident against
//!   5 MB). An application that never blocks
//!   can opt out with [`Execution::Inline`]: it runs on the worker, and only its waits for
//!   the socket leave it (`block_in_place` at that moment).
//! * **the multi-thread runtime only**: `block_in_place` panics on a `current_thread`
//!   runtime, so [`Serve`] checks the runtime first and returns
//!   [`Error::UnsupportedRuntime`] instead.
//! * a stuck application cannot be cancelled: a task is aborted only at an `await`, so
//!   after [`ServerConfig::shutdown_timeout`] the server returns, but a request still
//!   inside the application keeps its thread until the application returns (and dropping
//!   the runtime waits for it, unless it is shut down with `shutdown_timeout` or
//!   `shutdown_background`).
//!
//! The alternative, `spawn_blocking` per request, would need the connection and its
//! buffers to move to the blocking thread and back (`'static` state, or a copy of the
//! pipelined bytes) and costs the same thread per running request.
//!
//! ## Memory
//!
//! A connection owns its two buffers ([`ServerConfig::rx_buffer`] +
//! [`ServerConfig::tx_buffer`], 32 KiB by default), allocated when it is accepted and reused
//! by every request on it: nothing is allocated per request with [`Execution::Inline`].
//! With [`Execution::BlockInPlace`], tokio's `block_in_place` allocates when it hands the
//! worker's core to another thread (a blocking task, up to one per request, and now and
//! then a thread); the adapter's code adds nothing (`tests/alloc.rs` counts both). An idle
//! keep-alive connection costs its buffers and its task, no thread.
//!
//! ## Graceful shutdown
//!
//! When the future given to [`Serve::with_graceful_shutdown`] completes, the server stops
//! accepting (the listener is closed), closes every idle connection at once, lets each
//! request in flight finish (its connection then closes) and returns when all connections
//! are closed, or after [`ServerConfig::shutdown_timeout`], aborting what is left.
//!
//! ## Logging
//!
//! A [`RequestHandler`] (from `wsgiref-std`) gives the hooks of `WSGIRequestHandler`:
//! `get_environ` (adjust each environ), `get_stderr` (where `wsgi.errors`, application
//! errors and the access log go; stderr by default) and `log_request` (one line per
//! request, `127.0.0.1 - - [24/Nov/2026 10:00:00] "GET / HTTP/1.1" 200 11`;
//! [`ServerConfig::quiet`] turns it off). Its `handle` hook takes a std `TcpStream` and is
//! not called by this server. Application errors and panics become the `500` error output
//! (or a closed connection once the head is out) and are logged; the server keeps serving.
#![forbid(unsafe_code)]

mod connection;
mod socket;

use std::fmt;
use std::future::{Future, IntoFuture, Pending, pending};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use wsgiref::app::Application;
use wsgiref::handler::ErrorOutput;
use wsgiref::{Limits, Timeouts, Version};
pub use wsgiref_std::server::{AccessLog, DefaultHandler, RequestHandler};

use crate::connection::Shared;

/// How applications are run (see "Blocking applications" in the crate docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Execution {
    /// Each request runs under `block_in_place`, off the worker: right for any
    /// application, blocking or not. The default.
    #[default]
    BlockInPlace,
    /// The application runs on the runtime worker itself; only a wait for the socket (a
    /// body read that needs more bytes, a write to a full socket) leaves the worker, with
    /// `block_in_place` at that moment. Faster, but **only for applications that never
    /// block** (no sleeping, no file, database or network calls, no long-held locks): one
    /// that blocks stalls every connection of its worker. The request handler's hooks
    /// (`get_environ`, `get_stderr`, `log_request`) run on the worker too.
    Inline,
}

/// Settings of a server.
///
/// ```
/// use std::time::Duration;
/// use wsgiref_tokio::ServerConfig;
///
/// let mut config = ServerConfig { max_connections: 10_000, quiet: true, ..ServerConfig::default() };
/// config.timeouts.keep_alive = Duration::from_secs(30);
/// assert_eq!(config.rx_buffer, 16 * 1024);
/// ```
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Connections open at once; beyond it, a client gets `503` and is closed. Default
    /// 1024.
    pub max_connections: usize,
    /// Applications running at once (with [`Execution::BlockInPlace`], each on a thread of
    /// its own: see "Blocking applications" in the crate docs); further requests wait for
    /// a turn, holding no thread. Default 64.
    pub max_running: usize,
    /// How applications are run: [`Execution::BlockInPlace`] (the default) or, for
    /// applications that never block, [`Execution::Inline`].
    pub execution: Execution,
    /// Receive buffer per connection: the largest kept request head plus some body.
    /// Default 16 KiB.
    pub rx_buffer: usize,
    /// Transmit buffer per connection: the largest response head. Default 16 KiB.
    pub tx_buffer: usize,
    /// Core limits ([`Limits::DEFAULT`]).
    pub limits: Limits,
    /// Core deadlines ([`Timeouts::DEFAULT`]: 10 s to the first byte, 5 s idle keep-alive,
    /// 10 s for a head, 30 s between body reads).
    pub timeouts: Timeouts,
    /// Longest wait for the socket to take more response bytes. Default 30 s.
    pub write_timeout: Duration,
    /// After a shutdown, longest wait for requests in flight; then the remaining
    /// connections are aborted. Default 10 s.
    pub shutdown_timeout: Duration,
    /// `SERVER_NAME`; `None` (the default) is the listener's IP address, or the machine's
    /// name for an address on every interface
    /// ([`wsgiref_std::server::default_server_name`]).
    pub server_name: Option<String>,
    /// `Server` header and `SERVER_SOFTWARE`.
    pub server_software: String,
    /// The version of the status lines (`BaseHandler.http_version`): HTTP/1.1 by default;
    /// [`Version::Http10`] answers every client in HTTP/1.0.
    pub http_version: Version,
    /// What an application that fails before its head is sent is answered with
    /// (`BaseHandler.error_status`, `error_headers`, `error_body`).
    pub error_output: ErrorOutput<'static>,
    /// No access log (errors are still written). Default false.
    pub quiet: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            max_running: 64,
            execution: Execution::BlockInPlace,
            rx_buffer: 16 * 1024,
            tx_buffer: 16 * 1024,
            limits: Limits::DEFAULT,
            timeouts: Timeouts::DEFAULT,
            write_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
            server_name: None,
            server_software: concat!("wsgiref.rs/", env!("CARGO_PKG_VERSION")).to_string(),
            http_version: Version::Http11,
            error_output: ErrorOutput::DEFAULT,
            quiet: false,
        }
    }
}

/// Why a server could not run.
///
/// ```
/// use wsgiref_std::apps::AnyApp;
///
/// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// let result = runtime.block_on(async {
///     let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
///     wsgiref_tokio::serve(listener, AnyApp::Hello).await
/// });
/// assert!(matches!(result, Err(wsgiref_tokio::Error::UnsupportedRuntime(Some(_)))));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Not polled inside a tokio multi-thread runtime: the flavor it found (`None`: no
    /// tokio runtime at all). Applications run under `block_in_place`, which a
    /// `current_thread` runtime does not have.
    UnsupportedRuntime(Option<RuntimeFlavor>),
    /// The listener failed (its local address could not be read).
    Io(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedRuntime(flavor) => {
                let found = match flavor {
                    None => "no tokio runtime".to_string(),
                    Some(RuntimeFlavor::CurrentThread) => "a current_thread runtime".to_string(),
                    Some(other) => format!("a {other:?} runtime"),
                };
                write!(
                    f,
                    "wsgiref-tokio needs tokio's multi-thread runtime (applications run under \
                     block_in_place), found {found}: use Builder::new_multi_thread or \
                     #[tokio::main(flavor = \"multi_thread\")]"
                )
            }
            Self::Io(e) => write!(f, "listener: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::UnsupportedRuntime(_) => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// Serves `app` on `listener` with the default [`ServerConfig`] and [`DefaultHandler`],
/// until the future completes with an error (there is no shutdown unless one is given with
/// [`Serve::with_graceful_shutdown`]). Await the returned [`Serve`], or call [`Serve::run`].
///
/// ```no_run
/// # async fn example() -> Result<(), wsgiref_tokio::Error> {
/// use wsgiref_std::apps::AnyApp;
/// use wsgiref_tokio::ServerConfig;
///
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let server = tokio::spawn(
///     wsgiref_tokio::serve(listener, AnyApp::Demo)
///         .config(ServerConfig { quiet: true, ..ServerConfig::default() })
///         .with_graceful_shutdown(async { stopped.await.unwrap_or(()) })
///         .into_future(),
/// );
/// // ... later:
/// let _ = stop.send(());
/// server.await.expect("the server task")?;
/// # Ok(()) }
/// ```
pub fn serve<A>(listener: TcpListener, app: A) -> Serve<A>
where
    A: Application + Send + Sync + 'static,
{
    serve_shared(listener, Arc::new(app))
}

/// [`serve`] for an application shared with the rest of the program (or with other
/// servers).
///
/// ```no_run
/// # async fn example() -> Result<(), wsgiref_tokio::Error> {
/// use std::sync::Arc;
/// use wsgiref_std::apps::AnyApp;
///
/// let app = Arc::new(AnyApp::Hello);
/// let (a, b) = tokio::join!(
///     wsgiref_tokio::serve_shared(tokio::net::TcpListener::bind("127.0.0.1:8000").await?, Arc::clone(&app)),
///     wsgiref_tokio::serve_shared(tokio::net::TcpListener::bind("[::1]:8000").await?, app),
/// );
/// a.and(b)
/// # }
/// ```
pub fn serve_shared<A>(listener: TcpListener, app: Arc<A>) -> Serve<A>
where
    A: Application + Send + Sync + 'static,
{
    Serve {
        listener,
        app,
        handler: DefaultHandler,
        config: ServerConfig::default(),
        shutdown: pending(),
    }
}

/// A server to run: set it up with [`Serve::config`], [`Serve::handler`] and
/// [`Serve::with_graceful_shutdown`], then `.await` it (or [`Serve::run`]).
#[must_use = "a server does nothing until it is awaited"]
pub struct Serve<A, H = DefaultHandler, S = Pending<()>> {
    listener: TcpListener,
    app: Arc<A>,
    handler: H,
    config: ServerConfig,
    shutdown: S,
}

impl<A, H, S> fmt::Debug for Serve<A, H, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serve")
            .field("listener", &self.listener)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<A, H, S> Serve<A, H, S>
where
    A: Application + Send + Sync + 'static,
    H: RequestHandler + Send + Sync + 'static,
    S: Future<Output = ()> + Send + 'static,
{
    /// Replaces the configuration.
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// Uses `handler`'s `get_environ`, `get_stderr` and `log_request`.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), wsgiref_tokio::Error> {
    /// use wsgiref::Environ;
    /// use wsgiref_std::apps::AnyApp;
    /// use wsgiref_tokio::{AccessLog, RequestHandler};
    ///
    /// /// Says which server it is, and logs to stdout.
    /// struct Tagged;
    ///
    /// impl RequestHandler for Tagged {
    ///     fn get_environ(&self, environ: &mut Environ<'_>) {
    ///         let _ = environ.set("SERVER_NAME", b"example.org");
    ///     }
    ///     fn log_request(&self, line: &AccessLog<'_>) {
    ///         println!("{line}");
    ///     }
    /// }
    ///
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    /// wsgiref_tokio::serve(listener, AnyApp::Demo).handler(Tagged).await
    /// # }
    /// ```
    pub fn handler<H2>(self, handler: H2) -> Serve<A, H2, S>
    where
        H2: RequestHandler + Send + Sync + 'static,
    {
        Serve {
            listener: self.listener,
            app: self.app,
            handler,
            config: self.config,
            shutdown: self.shutdown,
        }
    }

    /// Shuts down gracefully when `signal` completes (see "Graceful shutdown" in the crate
    /// docs); the server's future then returns `Ok(())`.
    pub fn with_graceful_shutdown<S2>(self, signal: S2) -> Serve<A, H, S2>
    where
        S2: Future<Output = ()> + Send + 'static,
    {
        Serve {
            listener: self.listener,
            app: self.app,
            handler: self.handler,
            config: self.config,
            shutdown: signal,
        }
    }

    /// Accepts and serves connections until the shutdown signal, then shuts down
    /// gracefully.
    ///
    /// # Errors
    /// [`Error::UnsupportedRuntime`] unless it runs in a tokio multi-thread runtime;
    /// [`Error::Io`] if the listener's address cannot be read. Errors of single
    /// connections (a failed `accept`, a client gone) are not errors of the server.
    pub async fn run(self) -> Result<(), Error> {
        match Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(RuntimeFlavor::MultiThread) => {}
            Ok(flavor) => return Err(Error::UnsupportedRuntime(Some(flavor))),
            Err(_) => return Err(Error::UnsupportedRuntime(None)),
        }
        let Self {
            listener,
            app,
            handler,
            config,
            shutdown,
        } = self;
        let local = listener.local_addr()?;
        let (stop_sender, stop) = watch::channel(false);
        let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
        let grace = config.shutdown_timeout;
        let shared = Arc::new(Shared {
            app,
            handler,
            server_name: config
                .server_name
                .clone()
                .unwrap_or_else(|| wsgiref_std::server::default_server_name(local)),
            port: local.port(),
            clock: socket::Clock::new(),
            stop,
            running: Semaphore::new(config.max_running.max(1)),
            config,
        });
        let mut tasks = JoinSet::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                // Reap finished connections so the set holds only live ones.
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => accept(&shared, &slots, &mut tasks, stream, peer),
                    // Per-connection accept errors (ECONNABORTED, EMFILE): keep serving.
                    Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                },
            }
        }
        // Stop accepting, close idle connections, let requests in flight finish.
        drop(listener);
        let _ = stop_sender.send(true);
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            shared.handler.get_stderr(format_args!(
                "shutdown: {} connection(s) still open after {grace:?}, aborted\n",
                tasks.len()
            ));
            tasks.abort_all();
            // Detached: a task inside an application ends when the application returns.
            tasks.detach_all();
        }
        Ok(())
    }
}

/// Starts the task of an accepted connection, or of its `503` if every slot is taken.
fn accept<A, H>(
    shared: &Arc<Shared<A, H>>,
    slots: &Arc<Semaphore>,
    tasks: &mut JoinSet<()>,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
) where
    A: Application + Send + Sync + 'static,
    H: RequestHandler + Send + Sync + 'static,
{
    match Arc::clone(slots).try_acquire_owned() {
        Ok(slot) => {
            tasks.spawn(connection::serve_connection(
                Arc::clone(shared),
                stream,
                peer,
                slot,
            ));
        }
        Err(_) => {
            tasks.spawn(connection::reject_busy(stream));
        }
    }
}

impl<A, H, S> IntoFuture for Serve<A, H, S>
where
    A: Application + Send + Sync + 'static,
    H: RequestHandler + Send + Sync + 'static,
    S: Future<Output = ()> + Send + 'static,
{
    type Output = Result<(), Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}
