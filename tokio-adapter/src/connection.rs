//! One connection: a task driving one core [`Connection`] over its own buffers.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use wsgiref::app::Application;
use wsgiref::handler::HttpIo;
use wsgiref::state::{Phase, TimerKind};
use wsgiref::{Config, Connection, Event, Gateway};
use wsgiref_std::file::FileIo;
use wsgiref_std::server::{
    BUSY_RESPONSE, RequestHandler, RequestLine, StdConnection, log_rejected, run_logged,
    set_wall_clock,
};

use crate::socket::{self, BlockingSocket, Clock};
use crate::{Execution, ServerConfig};

/// What every connection task of one server shares.
pub(crate) struct Shared<A, H> {
    pub(crate) app: Arc<A>,
    pub(crate) handler: H,
    pub(crate) config: ServerConfig,
    pub(crate) server_name: String,
    pub(crate) port: u16,
    pub(crate) clock: Clock,
    /// Becomes `true` when the server shuts down.
    pub(crate) stop: watch::Receiver<bool>,
    /// One permit per application running (each holds a thread in `block_in_place`).
    pub(crate) running: Semaphore,
}

impl<A, H> Shared<A, H> {
    fn core_config(&self) -> Config<'_> {
        Config {
            limits: self.config.limits,
            timeouts: self.config.timeouts,
            http_version: self.config.http_version,
            error_output: self.config.error_output,
            gateway: Gateway {
                server_name: &self.server_name,
                server_port: self.port,
                server_software: &self.config.server_software,
                url_scheme: "http",
                multithread: true,
                multiprocess: false,
                run_once: false,
            },
            ..Config::DEFAULT
        }
    }
}

/// Serves one accepted connection until it closes. `_slot` is its place under
/// `max_connections`, given back when the task ends.
pub(crate) async fn serve_connection<A, H>(
    shared: Arc<Shared<A, H>>,
    stream: TcpStream,
    peer: SocketAddr,
    _slot: OwnedSemaphorePermit,
) where
    A: Application + Send + Sync + 'static,
    H: RequestHandler + Send + Sync + 'static,
{
    let _ = stream.set_nodelay(true);
    match request_loop(&shared, &stream, peer).await {
        Ok(Ending::Graceful) => socket::linger_close(stream).await,
        // A response cut short that only the close delimits: a reset says so.
        Ok(Ending::Reset) => socket::reset_on_drop(&stream),
        // The client went away: just drop the socket.
        Err(Gone) => {}
    }
}

/// How an orderly connection ends.
enum Ending {
    /// Shut down the sending side, then drain what the client still sends, briefly.
    Graceful,
    /// Close with a reset: [`Connection::must_reset`].
    Reset,
}

/// The drain loop of the core (see the crate docs of `wsgiref`). `Err` if the client went
/// away and the socket should be dropped at once, `Ok` for an orderly close.
async fn request_loop<A, H>(
    shared: &Shared<A, H>,
    stream: &TcpStream,
    peer: SocketAddr,
) -> Result<Ending, Gone>
where
    A: Application + Send + Sync + 'static,
    H: RequestHandler + Send + Sync + 'static,
{
    let config = shared.core_config();
    // Allocated once per connection, reused by every request on it.
    let mut rx = vec![0u8; shared.config.rx_buffer];
    let mut tx = vec![0u8; shared.config.tx_buffer];
    let mut conn: StdConnection<'_> = Connection::new(&config, &mut rx, &mut tx);
    conn.set_remote(peer);
    let mut stop = shared.stop.clone();
    let clock = shared.clock;
    let ended: Result<(), Gone> = async {
        loop {
            match conn.poll_event(clock.now()) {
                Event::NeedData => {
                    // Between requests (idle keep-alive, or before the first byte), a shutdown
                    // closes the connection at once.
                    let idle = matches!(
                        conn.timer(),
                        Some(TimerKind::KeepAlive | TimerKind::FirstByte)
                    );
                    if idle && *stop.borrow() {
                        return Ok(());
                    }
                    let deadline = conn.poll_timeout().map(|at| clock.deadline(at));
                    let buf = conn.receive_buf();
                    if buf.is_empty() {
                        // The core reads nothing more; nothing can progress.
                        return Ok(());
                    }
                    let read = socket::read(stream, buf, deadline);
                    let result = if idle {
                        tokio::select! {
                            result = read => result,
                            _ = stop.wait_for(|stopping| *stopping) => return Ok(()),
                        }
                    } else {
                        read.await
                    };
                    set_wall_clock(&mut conn);
                    match result {
                        Ok(0) => conn.handle_eof(),
                        Ok(n) => conn.handle_received(n),
                        Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                            conn.handle_timeout(clock.now());
                        }
                        Err(_) => return Err(Gone),
                    }
                }
                Event::Send(bytes) => {
                    socket::write_all(stream, &[bytes], shared.config.write_timeout)
                        .await
                        .map_err(|_| Gone)?;
                    log_rejected(&shared.handler, peer, &conn, shared.config.quiet);
                }
                Event::Request => {
                    // Waiting here holds no thread: only running applications do.
                    let Ok(_running) = shared.running.acquire().await else {
                        return Ok(());
                    };
                    let handle = Handle::current();
                    let keep = match shared.config.execution {
                        Execution::Inline => {
                            serve_request(shared, &mut conn, stream, peer, &handle)
                        }
                        Execution::BlockInPlace => tokio::task::block_in_place(|| {
                            serve_request(shared, &mut conn, stream, peer, &handle)
                        }),
                    };
                    if !keep {
                        return Err(Gone);
                    }
                }
                Event::NextCycle => {
                    if *stop.borrow() {
                        return Ok(());
                    }
                }
                _ => return Ok(()),
            }
        }
    }
    .await;
    // A close-delimited response that did not end as it should: a reset says so, also
    // when the client seems gone (a write deadline can cut off a slow reader).
    match ended {
        _ if conn.must_reset() => Ok(Ending::Reset),
        Ok(()) => Ok(Ending::Graceful),
        Err(gone) => Err(gone),
    }
}

/// The client went away, or the response could not be completed: drop the socket.
struct Gone;

/// Runs the application for the current request on this thread (inside `block_in_place`,
/// or on the worker with [`Execution::Inline`]); its socket waits block this thread, never
/// a runtime worker. Returns false if the connection must be dropped at once.
fn serve_request<A, H>(
    shared: &Shared<A, H>,
    conn: &mut StdConnection<'_>,
    stream: &TcpStream,
    peer: SocketAddr,
    handle: &Handle,
) -> bool
where
    A: Application,
    H: RequestHandler,
{
    set_wall_clock(conn);
    // The request line as it came, before the exchange decodes the path in place.
    let line = (!shared.config.quiet).then(|| RequestLine::of(conn));
    let mut arena = [0u8; 512];
    let Ok((mut environ, mut exchange)) = conn.exchange(&mut arena) else {
        return false;
    };
    let mut transport = BlockingSocket {
        stream,
        handle,
        clock: shared.clock,
        read_stall: shared.config.timeouts.body,
        write_stall: shared.config.write_timeout,
        inline: shared.config.execution == Execution::Inline,
    };
    let mut io = FileIo(HttpIo::new(&mut exchange, &mut transport));
    let access = line.as_ref().map(RequestLine::as_str);
    let outcome = run_logged(
        &*shared.app,
        &shared.handler,
        &mut environ,
        &mut io,
        peer,
        access,
    );
    !outcome.disconnected && conn.phase() != Phase::Exchange
}

/// Over the connection limit: a short `503` and close, in a task of its own, bounded in
/// time.
pub(crate) async fn reject_busy(stream: TcpStream) {
    let limit = std::time::Duration::from_millis(200);
    if socket::write_all(&stream, &[BUSY_RESPONSE], limit)
        .await
        .is_ok()
    {
        socket::linger_close(stream).await;
    }
}
