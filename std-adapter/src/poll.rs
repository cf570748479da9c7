//! A single-threaded, non-blocking server: one `mio` event loop drives every connection's
//! core [`Connection`], so a thousand idle keep-alive clients cost a thousand buffers, not a
//! thousand threads. The same applications and request handler as [`crate::server`].
//!
//! The loop is the drain contract of the core, once per ready socket:
//!
//! * a readable socket is read into [`Connection::receive_buf`] until it would block, and the
//!   connection's events are drained after every read;
//! * [`Event::Request`] runs the application right there, on the loop's thread, through a
//!   [`SocketTransport::nonblocking`] transport;
//! * every connection's deadline ([`Connection::poll_timeout`]) goes into a heap of timers, and
//!   the earliest one is the timeout of the next `poll` — the core's deadlines drive the loop.
//!
//! Memory is fixed when the loop starts: `max_connections` pairs of buffers, one per slot,
//! reused by every connection that takes the slot (nothing is allocated per connection or
//! per request). Over the limit, a client gets `503` and is closed.
//!
//! The request handler's hooks are those of the thread pool, except `handle`, which wraps a
//! whole connection in one call and so has no place on a loop that serves many
//! connections at once: [`RequestHandler::connection_opened`] (at accept) and
//! [`RequestHandler::connection_closed`] (when the slot is freed) are called instead.
//!
//! **What it costs.** An application is a blocking call (WSGI's contract): while it runs —
//! reading a body that has not arrived yet, or writing into a full send buffer — the loop
//! waits for that one socket (bounded by the body deadline and
//! [`PollConfig::write_timeout`]) and the other connections wait with it. Requests whose
//! head and body arrive together and whose responses fit the socket's send buffer (the usual
//! case) never wait. For applications that block on other things (a database, a slow
//! upstream), use the thread pool of [`crate::server`] or the tokio adapter.
//!
//! ```no_run
//! use wsgiref_std::apps::hello;
//! use wsgiref_std::poll::{PollConfig, PollServer};
//! use wsgiref_std::server::DefaultHandler;
//!
//! let config = PollConfig { max_connections: 1000, ..PollConfig::default() };
//! let server = PollServer::bind("127.0.0.1:8000", hello, config, DefaultHandler).unwrap();
//! println!("Serving on http://{}", server.server_address());
//! server.serve_forever().unwrap();
//! ```

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use wsgiref::app::Application;
use wsgiref::state::TimerKind;
use wsgiref::{Config, Connection, Event, Instant, Limits, Timeouts};

use crate::server::{DefaultHandler, RequestHandler, Service, set_wall_clock};
use crate::transport::{Clock, SocketTransport, write_all_vectored};

/// Settings of a [`PollServer`].
#[derive(Clone, Debug)]
pub struct PollConfig {
    /// Connections served at once (the slots, each with its buffers, divided evenly among
    /// the loops); beyond it, `503`.
    pub max_connections: usize,
    /// Event loops, each on its own thread with its share of the slots, all accepting from
    /// the one listener, each new connection going to the loop that holds the fewest
    /// ([`PollServer::serve_forever`] runs one on the calling thread; more need
    /// [`PollServer::serve_forever_on`]). A connection stays on its loop: a loop busy in a
    /// slow application delays its own connections, and new ones go to the other loops.
    pub loops: usize,
    /// Receive buffer per slot: the largest kept request head plus some body. Default
    /// 16 KiB, as the thread pool's (the arena is reserved for every slot at start and
    /// touched only by the slots in use).
    pub rx_buffer: usize,
    /// Transmit buffer per slot: the largest response head. Default 16 KiB, as the thread
    /// pool's.
    pub tx_buffer: usize,
    /// Core limits.
    pub limits: Limits,
    /// Core deadlines.
    pub timeouts: Timeouts,
    /// Longest the loop waits for one socket's send buffer to take more bytes.
    pub write_timeout: Duration,
    /// How long a closed connection may go on sending bytes that will be discarded (so
    /// that unread bytes do not turn the close into a reset that destroys the response).
    pub linger: Duration,
    /// `Server` header and `SERVER_SOFTWARE`.
    pub server_software: String,
    /// No access log.
    pub quiet: bool,
}

impl Default for PollConfig {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            loops: 1,
            rx_buffer: 16 * 1024,
            tx_buffer: 16 * 1024,
            limits: Limits::DEFAULT,
            timeouts: Timeouts::DEFAULT,
            write_timeout: Duration::from_secs(10),
            linger: Duration::from_secs(1),
            server_software: concat!("wsgiref.rs/", env!("CARGO_PKG_VERSION")).to_string(),
            quiet: false,
        }
    }
}

const LISTENER: Token = Token(usize::MAX - 1);
/// How soon accepting is tried again after it failed for want of resources.
const ACCEPT_RETRY: Duration = Duration::from_millis(20);
const WAKER: Token = Token(usize::MAX);

/// A single-threaded WSGI server over one `mio` event loop (see the module docs).
pub struct PollServer<A, H = DefaultHandler> {
    listener: TcpListener,
    local: SocketAddr,
    server_name: String,
    app: A,
    handler: H,
    config: PollConfig,
    clock: Clock,
    wake: Arc<WakeSet>,
}

/// The stop flag and a waker for every running loop.
#[derive(Debug, Default)]
struct WakeSet {
    stop: AtomicBool,
    wakers: Mutex<Vec<Arc<Waker>>>,
}

impl WakeSet {
    fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        for waker in self
            .wakers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let _ = waker.wake();
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// How the loops of [`PollServer::serve_forever_on`] share new connections: all of them
/// accept from the one listener, whose readiness wakes every loop at once, and the first
/// to run would otherwise take every queued connection (a burst of 32 keep-alive clients
/// all landed on one loop, leaving the other idle). So a loop accepts only while no other
/// loop holds fewer connections; otherwise it leaves the queue to the lightest loop and
/// wakes it. A loop that has been inside an application for a while ([`BUSY_AFTER`]) is
/// passed over, so a slow application does not hold up new connections.
#[derive(Debug)]
struct Balance {
    /// Occupied slots of each loop, published by the loop itself.
    loads: Vec<AtomicUsize>,
    /// When the loop started the application it is running ([`Instant::as_millis`] + 1),
    /// or 0.
    busy: Vec<AtomicU64>,
    /// Each loop's waker, once the loop runs.
    wakers: Vec<OnceLock<Arc<Waker>>>,
}

impl Balance {
    fn new(loops: usize) -> Self {
        Self {
            loads: (0..loops).map(|_| AtomicUsize::new(0)).collect(),
            busy: (0..loops).map(|_| AtomicU64::new(0)).collect(),
            wakers: (0..loops).map(|_| OnceLock::new()).collect(),
        }
    }

    fn publish(&self, me: usize, load: usize) {
        if let Some(mine) = self.loads.get(me) {
            mine.store(load, Ordering::Relaxed);
        }
    }

    /// The loop `me` starts an application at `now`, or (`None`) has finished it.
    fn set_busy(&self, me: usize, now: Option<Instant>) {
        if let Some(since) = self.busy.get(me) {
            since.store(now.map_or(0, |t| t.as_millis() + 1), Ordering::Relaxed);
        }
    }

    /// If another loop holds fewer connections than `load` (this loop's) and has not been
    /// inside an application since before `now - BUSY_AFTER`, wakes the lightest such loop to
    /// accept instead, and returns true. A loop that has not started yet counts as empty and
    /// needs no waking: registering the listener reports the connections already queued.
    fn hand_off(&self, me: usize, load: usize, now: Instant) -> bool {
        let stuck = |since: &AtomicU64| match since.load(Ordering::Relaxed) {
            0 => false,
            since => now.as_millis() + 1 >= since + BUSY_AFTER,
        };
        let lightest = self
            .loads
            .iter()
            .zip(&self.busy)
            .zip(&self.wakers)
            .enumerate()
            .filter(|&(i, ((_, since), _))| i != me && !stuck(since))
            .map(|(_, ((l, _), waker))| (l.load(Ordering::Relaxed), waker))
            .min_by_key(|&(l, _)| l);
        match lightest {
            Some((other, waker)) if other < load => {
                if let Some(waker) = waker.get() {
                    let _ = waker.wake();
                }
                true
            }
            _ => false,
        }
    }
}

/// How long (ms) a loop may be inside one application before new connections stop waiting
/// for it (see [`Balance`]).
const BUSY_AFTER: u64 = 20;

/// This loop's place among several (see [`Balance`]).
type Share<'b> = Option<(&'b Balance, usize)>;

impl<A, H> fmt::Debug for PollServer<A, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollServer")
            .field("local", &self.local)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Stops a [`PollServer`] from another thread (a Ctrl-C handler): cloneable, `'static`.
#[derive(Clone, Debug)]
pub struct PollShutdown {
    wake: Arc<WakeSet>,
}

impl PollShutdown {
    /// Same as [`PollServer::shutdown`].
    pub fn shutdown(&self) {
        self.wake.stop();
    }
}

/// One connection in a slot of the loop.
struct Slot<'a> {
    stream: TcpStream,
    peer: SocketAddr,
    conn: Connection<'a>,
    /// When the connection must be looked at next (the core's deadline, or the end of
    /// lingering), if ever.
    deadline: Option<Instant>,
    /// This connection's live entry in the timer heap (at or before `deadline`); other
    /// entries of it there are stale.
    armed: Option<Instant>,
    /// Closed for sending, discarding what the client still sends, until then.
    lingering: Option<Instant>,
    /// Which occupant of the slot this is (timers of earlier occupants are stale).
    generation: u64,
}

/// Deadlines: (when, slot, generation of its occupant), the earliest on top.
type Timers = BinaryHeap<Reverse<(Instant, usize, u64)>>;

impl Slot<'_> {
    /// Puts `deadline` in the timer heap if it is earlier than the armed entry (or none is
    /// armed). A deadline that moved later is left to the armed entry, which arms it when it
    /// fires: so a connection has a few entries in the heap however many requests move its
    /// deadline (one entry per request would pile up behind another connection's earlier
    /// deadline, growing the heap with the request rate).
    fn arm(&mut self, index: usize, timers: &mut Timers) {
        if let Some(at) = self.deadline {
            if self.armed.is_none_or(|armed| at < armed) {
                self.armed = Some(at);
                timers.push(Reverse((at, index, self.generation)));
            }
        }
    }
}

/// What the loop should do with a connection after driving it.
enum Next {
    /// Wait for the socket (or the deadline).
    Wait,
    /// Close it gracefully (lingering if the client left bytes unread).
    Close,
    /// Drop it at once (the client is gone).
    Drop,
}

impl<A: Application, H: RequestHandler> PollServer<A, H> {
    /// A server bound to `addr`.
    ///
    /// # Errors
    /// The address does not resolve or cannot be bound; the event loop cannot be created.
    pub fn bind(
        addr: impl ToSocketAddrs,
        app: A,
        config: PollConfig,
        handler: H,
    ) -> io::Result<Self> {
        let listener = crate::server::listen(addr, config.max_connections)?;
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        Ok(Self {
            listener,
            local,
            server_name: local.ip().to_string(),
            app,
            handler,
            config,
            clock: Clock::new(),
            wake: Arc::new(WakeSet::default()),
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

    /// Sets `SERVER_NAME` (defaults to the bound address).
    pub fn set_server_name(&mut self, name: impl Into<String>) {
        self.server_name = name.into();
    }

    /// Stop accepting; idle keep-alive connections close at once, requests in flight
    /// finish (bounded by the core's deadlines), then `serve_forever` returns.
    pub fn shutdown(&self) {
        self.shutdown_handle().shutdown();
    }

    /// A handle for [`PollServer::shutdown`] from another thread.
    #[must_use]
    pub fn shutdown_handle(&self) -> PollShutdown {
        PollShutdown {
            wake: Arc::clone(&self.wake),
        }
    }

    fn core_config(&self) -> Config<'_> {
        crate::server::core_config(
            &self.server_name,
            self.local,
            &self.config.server_software,
            (self.config.limits, self.config.timeouts),
            false,
        )
    }

    /// Runs one event loop, with every slot, on the calling thread until
    /// [`PollServer::shutdown`] (whatever [`PollConfig::loops`] says: the application need
    /// not be `Sync`).
    ///
    /// # Errors
    /// The event loop could not be created, polling failed, or the listener could not be
    /// registered.
    pub fn serve_forever(&self) -> io::Result<()> {
        self.run_loop(self.config.max_connections.max(1), None)
    }

    /// One event loop with `slots_max` slots, until shutdown.
    fn run_loop(&self, slots_max: usize, share: Share<'_>) -> io::Result<()> {
        let mut poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        self.wake
            .wakers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&waker));
        if let Some((balance, me)) = share {
            if let Some(place) = balance.wakers.get(me) {
                let _ = place.set(waker);
            }
        }
        let config = self.core_config();
        let (rx_len, tx_len) = (self.config.rx_buffer.max(1), self.config.tx_buffer.max(1));
        // All the memory the loop will use for connections, zeroed lazily by the kernel.
        let mut rx_arena = vec![0u8; slots_max * rx_len];
        let mut tx_arena = vec![0u8; slots_max * tx_len];
        let mut free: Vec<(usize, &mut [u8], &mut [u8])> = rx_arena
            .chunks_mut(rx_len)
            .zip(tx_arena.chunks_mut(tx_len))
            .enumerate()
            .map(|(i, (rx, tx))| (i, rx, tx))
            .rev()
            .collect();
        let mut slots: Vec<Option<Slot<'_>>> = (0..slots_max).map(|_| None).collect();
        // About one entry per connection (see `Slot::arm`).
        let mut timers: Timers = BinaryHeap::with_capacity(slots_max);
        let mut generation = 0u64;
        let mut events = Events::with_capacity(1024);
        let listener_fd = self.listener.as_raw_fd();
        poll.registry()
            .register(&mut SourceFd(&listener_fd), LISTENER, Interest::READABLE)?;
        let mut accepting = true;
        // Accepting failed for want of resources: try again after a short pause.
        let mut accept_retry = false;
        let service = Service {
            app: &self.app,
            handler: &self.handler,
            quiet: self.config.quiet,
        };
        // The loop's clock: read after every `poll` and before the deadlines are checked, and
        // brought forward by `drive` whenever it reads the clock after a step that may take
        // time (an application, a wait for the socket). Between those only non-blocking
        // reads and parsing happen, so one reading serves a whole batch of events.
        let mut now = self.clock.now();

        loop {
            let stopping = self.wake.stopping();
            if stopping && accepting {
                accepting = false;
                let _ = poll.registry().deregister(&mut SourceFd(&listener_fd));
                // Idle connections close now; the others finish their request.
                for index in 0..slots.len() {
                    let idle = slots.get(index).and_then(Option::as_ref).is_some_and(|s| {
                        s.lingering.is_none()
                            && matches!(
                                s.conn.timer(),
                                Some(TimerKind::KeepAlive | TimerKind::FirstByte)
                            )
                    });
                    if idle {
                        self.release(&mut slots, &mut free, index, Next::Drop);
                    }
                }
            }
            if !accepting && slots.iter().all(Option::is_none) {
                return Ok(());
            }

            // The earliest live deadline is the poll timeout (`now` is the reading the
            // deadlines were last checked against).
            let timeout = loop {
                match timers.peek() {
                    None => break None,
                    Some(Reverse((at, index, gen_))) => {
                        let live = slots
                            .get(*index)
                            .and_then(Option::as_ref)
                            .is_some_and(|s| s.generation == *gen_ && s.armed == Some(*at));
                        if live {
                            break Some(at.saturating_duration_since(now));
                        }
                        timers.pop();
                    }
                }
            };
            let timeout = if accept_retry {
                Some(timeout.map_or(ACCEPT_RETRY, |t| t.min(ACCEPT_RETRY)))
            } else {
                timeout
            };
            let polled = poll.poll(&mut events, timeout);
            now = self.clock.now();
            match polled {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }

            let mut listener_seen = false;
            for event in &events {
                match event.token() {
                    // Woken to stop, or by another loop to take its share of the queue.
                    WAKER | LISTENER => {
                        listener_seen = true;
                        if accepting {
                            accept_retry = self.accept_all(
                                &poll,
                                &config,
                                (&mut slots, &mut free, &mut timers),
                                &mut generation,
                                share,
                            );
                        }
                    }
                    Token(index) => {
                        let next = match slots.get_mut(index).and_then(Option::as_mut) {
                            // Data and the peer's FIN can come in one edge: then a short
                            // read has not seen the end of the stream yet.
                            Some(slot) => self.drive(
                                (&service, share),
                                slot,
                                (stopping, event.is_read_closed() || event.is_error()),
                                &mut now,
                            ),
                            None => continue,
                        };
                        self.settle(&mut slots, &mut free, &mut timers, index, next);
                    }
                }
            }

            if accept_retry && accepting && !listener_seen {
                accept_retry = self.accept_all(
                    &poll,
                    &config,
                    (&mut slots, &mut free, &mut timers),
                    &mut generation,
                    share,
                );
            }

            // Deadlines that passed.
            now = self.clock.now();
            while let Some(Reverse((at, index, gen_))) = timers.peek().copied() {
                if at > now {
                    break;
                }
                timers.pop();
                let next = match slots.get_mut(index).and_then(Option::as_mut) {
                    Some(slot) if slot.generation == gen_ && slot.armed == Some(at) => {
                        slot.armed = None;
                        match slot.deadline {
                            // The deadline moved later since this entry was armed.
                            Some(later) if later > now => {
                                slot.arm(index, &mut timers);
                                continue;
                            }
                            Some(_) => slot.deadline = None,
                            None => continue,
                        }
                        if slot.lingering.is_some() {
                            Next::Drop
                        } else {
                            set_wall_clock(&mut slot.conn);
                            slot.conn.handle_timeout(now);
                            self.drive((&service, share), slot, (stopping, false), &mut now)
                        }
                    }
                    _ => continue,
                };
                self.settle(&mut slots, &mut free, &mut timers, index, next);
            }
            if let Some((balance, me)) = share {
                balance.publish(me, slots.len() - free.len());
            }
        }
    }

    /// Accepts every pending connection into a free slot (or answers `503`). Returns true
    /// if accepting stopped on an error (out of file descriptors, say) with connections
    /// possibly still queued: the listener is edge-triggered, so the loop must try again by
    /// itself.
    ///
    /// With other loops ([`Balance`]), it stops as soon as another loop holds fewer
    /// connections, and wakes that loop to accept the rest.
    fn accept_all<'a>(
        &self,
        poll: &Poll,
        config: &'a Config<'a>,
        (slots, free, timers): (
            &mut [Option<Slot<'a>>],
            &mut Vec<(usize, &'a mut [u8], &'a mut [u8])>,
            &mut Timers,
        ),
        generation: &mut u64,
        share: Share<'_>,
    ) -> bool {
        loop {
            if let Some((balance, me)) = share {
                let load = slots.len() - free.len();
                balance.publish(me, load);
                if balance.hand_off(me, load, self.clock.now()) {
                    return false;
                }
            }
            let (stream, peer) = match self.listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                // A connection reset while queued: the next one may be fine.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) =>
                {
                    continue;
                }
                // EMFILE, ENFILE, ENOMEM: retry shortly, from the loop.
                Err(_) => return true,
            };
            let Some((index, rx, tx)) = free.pop() else {
                reject_busy(&stream);
                continue;
            };
            let ready = stream.set_nonblocking(true).is_ok() && stream.set_nodelay(true).is_ok();
            let registered = ready
                && poll
                    .registry()
                    .register(
                        &mut SourceFd(&stream.as_raw_fd()),
                        Token(index),
                        Interest::READABLE,
                    )
                    .is_ok();
            if !registered {
                free.push((index, rx, tx));
                continue;
            }
            self.handler.connection_opened(&stream, peer);
            let mut conn = Connection::new(config, rx, tx);
            conn.set_remote(peer);
            // The first-byte deadline runs from now: the core anchors a deadline when it is
            // first polled, and it is armed here, since a client that never sends a byte
            // raises no event that would drive its connection (it would hold its slot
            // until it closed). Bytes already queued raise their event on registration.
            let _ = conn.poll_event(self.clock.now());
            let deadline = conn.poll_timeout();
            *generation += 1;
            if let Some(place) = slots.get_mut(index) {
                let slot = place.insert(Slot {
                    stream,
                    peer,
                    conn,
                    deadline,
                    armed: None,
                    lingering: None,
                    generation: *generation,
                });
                slot.arm(index, timers);
            }
        }
    }

    /// Drains one connection's events, reading until the socket would block.
    /// `closed`: the readiness event said the peer closed (or the socket failed), so reads
    /// go on until they return the end of the stream. `now`: the loop's clock, read again
    /// here after every step that may take time.
    fn drive(
        &self,
        (service, share): (&Service<'_, A, H>, Share<'_>),
        slot: &mut Slot<'_>,
        (stopping, closed): (bool, bool),
        now: &mut Instant,
    ) -> Next {
        if slot.lingering.is_some() {
            return discard(&slot.stream);
        }
        // A read that returned less than it asked for emptied the socket's queue: bytes that
        // arrive later raise a new edge, so asking again now would only find `WouldBlock`
        // (one system call per request saved, as tokio does).
        let mut drained = false;
        // Reads do not block: the clock is read again only after a step that may take
        // time (the application, a wait for the socket to take a response).
        loop {
            match slot.conn.poll_event(*now) {
                Event::NeedData => {
                    let idle = matches!(
                        slot.conn.timer(),
                        Some(TimerKind::KeepAlive | TimerKind::FirstByte)
                    );
                    if idle && stopping {
                        return Next::Close;
                    }
                    if drained {
                        return Next::Wait;
                    }
                    let buf = slot.conn.receive_buf();
                    if buf.is_empty() {
                        return Next::Close;
                    }
                    let asked = buf.len();
                    let read = (&slot.stream).read(buf);
                    set_wall_clock(&mut slot.conn);
                    match read {
                        Ok(0) => slot.conn.handle_eof(),
                        Ok(n) => {
                            drained = n < asked && !closed;
                            slot.conn.handle_received(n);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Wait,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => return Next::Drop,
                    }
                }
                Event::Send(bytes) => {
                    let mut transport = SocketTransport::nonblocking(
                        &slot.stream,
                        self.clock,
                        Duration::ZERO,
                        self.config.write_timeout,
                    );
                    if wsgiref::handler::Transport::send(&mut transport, &[bytes]).is_err() {
                        return Next::Drop;
                    }
                    *now = self.clock.now();
                }
                Event::Request => {
                    let transport = SocketTransport::nonblocking(
                        &slot.stream,
                        self.clock,
                        self.config.timeouts.body,
                        self.config.write_timeout,
                    );
                    if let Some((balance, me)) = share {
                        balance.set_busy(me, Some(*now));
                    }
                    let served =
                        service.serve_request(&mut slot.conn, transport, slot.peer, stopping);
                    if let Some((balance, me)) = share {
                        balance.set_busy(me, None);
                    }
                    if !served {
                        return Next::Drop;
                    }
                    *now = self.clock.now();
                }
                Event::NextCycle => {
                    if stopping {
                        return Next::Close;
                    }
                }
                _ => return Next::Close,
            }
        }
    }

    /// Applies what [`PollServer::drive`] decided: re-arm the timer, or release the slot.
    fn settle<'a>(
        &self,
        slots: &mut [Option<Slot<'a>>],
        free: &mut Vec<(usize, &'a mut [u8], &'a mut [u8])>,
        timers: &mut Timers,
        index: usize,
        next: Next,
    ) {
        match next {
            Next::Wait => {
                if let Some(slot) = slots.get_mut(index).and_then(Option::as_mut) {
                    slot.deadline = if slot.lingering.is_some() {
                        slot.lingering
                    } else {
                        slot.conn.poll_timeout()
                    };
                    slot.arm(index, timers);
                }
            }
            Next::Close | Next::Drop => {
                self.release(slots, free, index, next);
                // Still there: lingering until its deadline.
                if let Some(slot) = slots.get_mut(index).and_then(Option::as_mut) {
                    slot.arm(index, timers);
                }
            }
        }
    }

    /// Closes the connection in `index`. A graceful close whose client left bytes unread
    /// keeps the slot, lingering until its deadline; otherwise the slot is freed.
    fn release<'a>(
        &self,
        slots: &mut [Option<Slot<'a>>],
        free: &mut Vec<(usize, &'a mut [u8], &'a mut [u8])>,
        index: usize,
        next: Next,
    ) {
        let Some(place) = slots.get_mut(index) else {
            return;
        };
        let Some(slot) = place.as_mut() else {
            return;
        };
        if matches!(next, Next::Close) && slot.lingering.is_none() {
            let _ = slot.stream.shutdown(Shutdown::Write);
            if matches!(discard(&slot.stream), Next::Wait) {
                let until = self.clock.now() + self.config.linger;
                slot.lingering = Some(until);
                slot.deadline = Some(until);
                return;
            }
        }
        let Some(slot) = place.take() else {
            return;
        };
        self.handler
            .connection_closed(slot.peer, slot.conn.requests_served());
        // Closing the socket (when `slot` drops) takes it out of the poll set: no
        // `epoll_ctl` needed.
        let (rx, tx) = slot.conn.into_buffers();
        free.push((index, rx, tx));
    }
}

impl<A: Application + Sync, H: RequestHandler> PollServer<A, H> {
    /// Runs [`PollConfig::loops`] event loops, each on its own thread with its share of the
    /// slots, all accepting from the one listener, until [`PollServer::shutdown`]; returns
    /// when every loop has finished.
    ///
    /// # Errors
    /// The first error of a loop (the other loops are stopped).
    pub fn serve_forever_on(&self) -> io::Result<()> {
        let loops = self.config.loops.max(1);
        let slots = self.config.max_connections.max(1).div_ceil(loops);
        let balance = Balance::new(loops);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..loops)
                .map(|me| {
                    let balance = &balance;
                    scope.spawn(move || {
                        let result = self.run_loop(slots, Some((balance, me)));
                        if result.is_err() {
                            self.wake.stop();
                        }
                        result
                    })
                })
                .collect();
            let mut first = Ok(());
            for handle in handles {
                let result = handle
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("an event loop panicked")));
                if first.is_ok() {
                    first = result;
                }
            }
            first
        })
    }
}

/// Reads and discards what a closing client still sends: `Wait` while it may send more,
/// `Drop` once it is done (end of stream, an error) or sent nothing unread at all.
fn discard(stream: &TcpStream) -> Next {
    let mut sink = [0u8; 4096];
    let mut read_any = false;
    for _ in 0..64 {
        match (&mut &*stream).read(&mut sink) {
            Ok(0) => return Next::Drop,
            Ok(_) => read_any = true,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return if read_any { Next::Wait } else { Next::Drop };
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Next::Drop,
        }
    }
    Next::Wait
}

/// Over the connection limit: what the client already sent is read, a short `503` is
/// written, and the connection closed — without taking a slot or waiting.
fn reject_busy(stream: &TcpStream) {
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    let _ = discard(stream);
    let _ = write_all_vectored(&mut &*stream, &[crate::server::BUSY_RESPONSE]);
    let _ = stream.shutdown(Shutdown::Write);
    let _ = (&mut &*stream).flush();
}

/// Raises this process's soft limit of open files (`RLIMIT_NOFILE`) to at least `want`, as
/// far as the hard limit allows: a loop with a thousand connections needs a thousand and
/// some descriptors, more than the usual soft default of 1024. Returns the soft limit now
/// in force (`u64::MAX` for unlimited).
#[must_use]
pub fn raise_fd_limit(want: u64) -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let current = limit.current.unwrap_or(u64::MAX);
    if current >= want {
        return current;
    }
    let target = limit.maximum.map_or(want, |max| want.min(max));
    let raised = rustix::process::Rlimit {
        current: Some(target),
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => target,
        Err(_) => current,
    }
}
