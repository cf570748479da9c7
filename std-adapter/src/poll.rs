//! A non-blocking server: one epoll set holds every connection, and one thread, or a few
//! ([`PollConfig::loops`]), wait on it and drive whichever connection is ready through its
//! core [`Connection`]. A thousand idle keep-alive clients cost a thousand buffers, not a
//! thousand threads. The same applications and request handler as [`crate::server`].
//!
//! Each thread runs the drain contract of the core, once per ready socket:
//!
//! * a readable socket is read into [`Connection::receive_buf`] until it would block, and the
//!   connection's events are drained after every read;
//! * [`Event::Request`] runs the application right there, on that thread, through a
//!   [`SocketTransport::nonblocking`] transport;
//! * every connection's deadline ([`Connection::poll_timeout`]) goes into a heap of timers, and
//!   the earliest one is the timeout of the next wait — the core's deadlines drive the loop.
//!
//! **Several threads** share the epoll set, the slots and the timers: any thread drives any
//! connection, one thread at a time (each slot has a lock; a thread that finds it taken
//! leaves a flag that the holder acts on before it lets go, so no readiness and no deadline
//! is lost). A thread drives one of the ready connections a wait reports and queues the
//! others for whichever thread is free (waking one that sleeps), so a thread inside a slow
//! application holds that one connection and nothing else, and the ready connections are
//! spread over the threads as they come (as a tokio runtime's workers share its one driver
//! and steal each other's tasks).
//!
//! Memory is fixed when the server starts: `max_connections` pairs of buffers, one per slot,
//! reused by every connection that takes the slot (nothing is allocated per connection or
//! per request). Over the limit, a client gets `503` and is closed.
//!
//! The request handler's hooks are those of the thread pool, except `handle`, which wraps a
//! whole connection in one call and so has no place on a loop that serves many
//! connections at once: [`RequestHandler::connection_opened`] (at accept) and
//! [`RequestHandler::connection_closed`] (when the slot is freed) are called instead.
//!
//! **Turns.** [`PollConfig::loops`] threads wait on the epoll set at a time, and
//! [`PollConfig::threads`] are started in all. An application is a blocking call (WSGI's
//! contract): while it runs — reading a body that has not arrived yet, writing into a full
//! send buffer (bounded by the body deadline and [`PollConfig::write_timeout`]), or waiting
//! on anything else — its thread waits with it. A monitor thread gives the turn of a thread
//! that has been inside one application for longer than [`HAND_OFF_AFTER`] to a thread
//! without one, so the other connections go on being served while threads are left; with
//! no thread left (or `threads` equal to `loops`), they wait. More threads waiting on the
//! set than CPUs take turns on the CPUs in the middle of requests, which costs more than
//! it gains (measured in `docs/BENCHMARKS.md`): `loops` about as many as CPUs, `threads` as
//! many as applications may block at once. With one thread ([`PollServer::serve_forever`])
//! every connection waits while an application blocks.
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
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Duration;

use rustix::buffer::spare_capacity;
use rustix::event::{EventfdFlags, Timespec, epoll, eventfd};
use wsgiref::app::Application;
use wsgiref::handler::ErrorOutput;
use wsgiref::{Config, Connection, Event, Instant, Limits, Timeouts, Version};

use crate::server::{
    DefaultHandler, Discarded, RequestHandler, Service, StdConnection, between_requests,
    discard_pending, hook, set_wall_clock,
};
use crate::transport::{Clock, CutOff, SocketTransport, write_all_vectored};

/// Settings of a [`PollServer`].
#[derive(Clone, Debug)]
pub struct PollConfig {
    /// Connections served at once (the slots, each with its buffers); beyond it, `503`.
    pub max_connections: usize,
    /// Threads of [`PollServer::serve_forever_on`] that wait on the one epoll set at a
    /// time, each driving any ready connection ([`PollServer::serve_forever`] serves on the
    /// calling thread alone). About as many as CPUs (see the module docs).
    pub loops: usize,
    /// Threads of [`PollServer::serve_forever_on`] in all (at least `loops`): at most this
    /// many applications run at once. The threads beyond `loops` wait, without a turn at
    /// the epoll set, to take the turn of a thread that has been inside one application for
    /// longer than [`HAND_OFF_AFTER`], so a slow or blocking application does not hold up
    /// the other connections while threads are left.
    pub threads: usize,
    /// Receive buffer per slot: the largest kept request head plus some body. Default
    /// 16 KiB, as the thread pool's (the arena is reserved for every slot at start and
    /// touched only by the slots in use).
    pub rx_buffer: usize,
    /// Transmit buffer per slot: the largest response head. Default 16 KiB, as the thread
    /// pool's.
    pub tx_buffer: usize,
    /// Core limits (`max_headers` counts up to [`crate::server::MAX_FIELDS`] distinct field
    /// names: more are `431` whatever it says).
    pub limits: Limits,
    /// Core deadlines.
    pub timeouts: Timeouts,
    /// Longest a thread waits for one socket's send buffer to take more bytes: time
    /// without progress (a client that reads slowly but steadily is not cut off).
    pub write_timeout: Duration,
    /// How long a closed connection may go on sending bytes that will be discarded (so
    /// that unread bytes do not turn the close into a reset that destroys the response).
    pub linger: Duration,
    /// After [`PollServer::shutdown`], how long requests in flight may take to finish; then
    /// their connections are closed (a client trickling its body holds a request for as
    /// long as every read stays under the body deadline). An application that does not
    /// return is not interrupted. Default 10 s.
    pub shutdown_timeout: Duration,
    /// `Server` header and `SERVER_SOFTWARE`.
    pub server_software: String,
    /// The version of the status lines, as [`crate::server::ServerConfig::http_version`].
    pub http_version: Version,
    /// The answer to an application that fails before its head is sent, as
    /// [`crate::server::ServerConfig::error_output`].
    pub error_output: ErrorOutput<'static>,
    /// No access log.
    pub quiet: bool,
}

impl Default for PollConfig {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            loops: 1,
            threads: 1,
            rx_buffer: 16 * 1024,
            tx_buffer: 16 * 1024,
            limits: Limits::DEFAULT,
            timeouts: Timeouts::DEFAULT,
            write_timeout: Duration::from_secs(10),
            linger: Duration::from_secs(1),
            shutdown_timeout: Duration::from_secs(10),
            server_software: concat!("wsgiref.rs/", env!("CARGO_PKG_VERSION")).to_string(),
            http_version: Version::Http11,
            error_output: ErrorOutput::DEFAULT,
            quiet: false,
        }
    }
}

/// The listener's event data in the epoll set (a slot's is its index).
const LISTENER: u64 = u64::MAX - 1;
/// The stop signal's event data.
const WAKER: u64 = u64::MAX;
/// The event data of the nudge: work was queued while a thread slept.
const NUDGE: u64 = u64::MAX - 2;
/// How soon accepting is tried again after it failed for want of resources.
const ACCEPT_RETRY: Duration = Duration::from_millis(20);
/// Events a thread that shares the epoll set takes per wait. It drives the first ready
/// connection itself and queues the others for any thread ([`Shared::queue`], a sleeping
/// thread nudged): so a thread inside a slow application holds no other connection, and
/// the ready connections are spread over the threads one by one. (Driving a whole batch,
/// a thread took every ready connection while the other ran out of work and slept, to be
/// woken by the next client; one event per wait avoided that at one `epoll_wait` per
/// request, the queue at about half of one: measured in `docs/BENCHMARKS.md`, the seventh
/// run.)
const EVENTS_SHARED: usize = 16;
/// Events the thread of a one-thread server takes per wait (nobody else could take them).
const EVENTS_ALONE: usize = 256;
/// The longest single wait (a deadline further away is waited for in steps).
const LONGEST_WAIT: Duration = Duration::from_secs(3600);
/// How long a thread may be inside one application before a waiting thread takes its turn
/// at the epoll set (see [`PollConfig::threads`]).
pub const HAND_OFF_AFTER: Duration = Duration::from_millis(10);
/// How often the monitor looks at the threads while one of them is inside an application.
const MONITOR_TICK: Duration = Duration::from_millis(5);

/// A WSGI server whose threads share one epoll set (see the module docs).
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

/// The stop flag and the stop signal (an eventfd in the epoll set) of every running server.
#[derive(Debug)]
struct WakeSet {
    stop: AtomicBool,
    wakers: Mutex<Vec<Arc<OwnedFd>>>,
    /// Set by the stop to the end of [`PollConfig::shutdown_timeout`]: then the requests
    /// still in flight are cut.
    cut_off: CutOff,
    shutdown_timeout: Duration,
}

impl WakeSet {
    fn stop(&self) {
        self.cut_off.set(self.shutdown_timeout);
        self.stop.store(true, Ordering::SeqCst);
        for waker in lock(&self.wakers).iter() {
            let _ = rustix::io::write(&**waker, &1u64.to_ne_bytes());
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// Locks `m`, also after a panic elsewhere (applications' panics are caught before they
/// reach a lock; the data behind these locks stays consistent either way).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

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

/// One connection in a slot.
struct Slot<'a> {
    stream: TcpStream,
    peer: SocketAddr,
    conn: StdConnection<'a>,
    /// When the connection must be looked at next (the core's deadline, or the end of
    /// lingering), if ever.
    deadline: Option<Instant>,
    /// Closed for sending, discarding what the client still sends, until then.
    lingering: Option<Instant>,
}

impl Slot<'_> {
    /// Reads what the socket has received into the connection, without waiting: whether
    /// there was anything (for a connection between requests whose request may have
    /// arrived while no thread looked).
    fn take_arrived(&mut self) -> bool {
        match (&self.stream).read(self.conn.receive_buf()) {
            Ok(n) if n > 0 => {
                set_wall_clock(&mut self.conn);
                self.conn.handle_received(n);
                true
            }
            _ => false,
        }
    }
}

/// A slot and what the threads tell each other about it. The thread holding `slot`'s lock
/// drives the connection; a thread that has news for it (readiness, a deadline) sets a flag
/// and takes the lock if it can, and the holder looks at the flags again after unlocking
/// ([`PollServer::run_cell`]): so no news is lost and no two threads drive one connection.
#[derive(Default)]
struct Cell<'a> {
    slot: Mutex<Option<Slot<'a>>>,
    /// Readiness not acted on yet.
    ready: AtomicBool,
    /// The peer closed, or the socket failed (for the current occupant).
    closed: AtomicBool,
    /// A timer entry of the occupant came due.
    due: AtomicBool,
    /// Which occupant of the slot this is (timer entries of earlier ones are stale).
    generation: AtomicU64,
    /// The instant of the occupant's live timer entry ([`Instant::as_millis`] + 1), or 0;
    /// other entries of it in the heap are stale. Written under the slot's lock, read by
    /// any thread looking at the heap.
    armed: AtomicU64,
}

impl Cell<'_> {
    /// Is this heap entry the occupant's live one?
    fn is_live(&self, at: Instant, generation: u64) -> bool {
        self.generation.load(Ordering::Acquire) == generation
            && self.armed.load(Ordering::Acquire) == at.as_millis().saturating_add(1)
    }
}

impl Shared<'_> {
    /// Puts `deadline` of slot `index` (whose lock the caller holds) in the timer heap if
    /// it is earlier than the armed entry (or none is armed). A deadline that moved later is
    /// left to the armed entry, which arms it when it fires: so a connection has a few
    /// entries in the heap however many requests move its deadline (one entry per request
    /// would pile up behind another connection's earlier deadline, growing the heap with
    /// the request rate).
    ///
    /// A sleeping thread waits until the earliest entry it saw: an entry that is now the
    /// earliest of all nudges one awake to wait again with it (else the deadline could pass
    /// unnoticed while the thread that armed it is inside an application). Counting itself
    /// among the sleepers before it looks at the heap, a thread about to wait either sees
    /// the entry or is nudged.
    fn arm(&self, index: usize, deadline: Option<Instant>) {
        let (Some(at), Some(cell)) = (deadline, self.cells.get(index)) else {
            return;
        };
        let armed = cell.armed.load(Ordering::Acquire);
        let key = at.as_millis().saturating_add(1);
        if armed == 0 || key < armed {
            cell.armed.store(key, Ordering::Release);
            let generation = cell.generation.load(Ordering::Acquire);
            let earliest = {
                let mut timers = lock(&self.timers);
                timers.push(Reverse((at, index, generation)));
                timers
                    .peek()
                    .is_some_and(|&Reverse((first, ..))| first == at)
            };
            if earliest {
                self.nudge_sleeper();
            }
        }
    }

    /// Wakes one thread waiting on the epoll set, if any (for queued connections, or to
    /// wait again until an earlier deadline). Threads count themselves as sleepers before
    /// they look at the queue and the timers, so one that looked too early is counted.
    /// One nudge at a time: while one is written and not yet taken, the thread it wakes
    /// (or the next to wait) looks at the queue anyway.
    fn nudge_sleeper(&self) {
        if self.sleepers.load(Ordering::SeqCst) > 0 && !self.nudged.swap(true, Ordering::SeqCst) {
            let _ = rustix::io::write(&self.nudge, &1u64.to_ne_bytes());
        }
    }

    /// Queues a ready connection for any thread with a turn, and nudges a sleeping one.
    fn queue_ready(&self, index: usize) {
        lock(&self.queue).push_back(index);
        self.nudge_sleeper();
    }
}

/// Deadlines: (when, slot, generation of its occupant), the earliest on top.
type Timers = BinaryHeap<Reverse<(Instant, usize, u64)>>;

/// Free slots: the index and its two buffers.
type Free<'a> = Vec<(usize, &'a mut [u8], &'a mut [u8])>;

/// What the server's threads share: the epoll set, the slots, the timers.
struct Shared<'a> {
    epoll: OwnedFd,
    waker: Arc<OwnedFd>,
    config: &'a Config<'a>,
    cells: Vec<Cell<'a>>,
    free: Mutex<Free<'a>>,
    timers: Mutex<Timers>,
    /// The last occupant's generation.
    generation: AtomicU64,
    /// Accepting stopped for want of resources, with connections possibly still queued:
    /// the listener is edge-triggered, so the threads try again by themselves.
    accept_retry: AtomicBool,
    /// Threads serving.
    threads: usize,
    /// Turns at the epoll set (at most `threads`).
    loops: usize,
    /// Turns at the epoll set.
    turns: Turns,
    /// Threads still running; after a stop, the last one finishes the requests in flight.
    running: AtomicUsize,
    /// Ready connections a thread took from the set beyond the one it drives: any thread
    /// with a turn drives them, before it waits on the set again. A slot is queued when its
    /// `ready` flag goes up (or by the thread that accepted it, if its first event came
    /// while the slot was being filled), so it is rarely in it twice: only when the thread
    /// driving it when it was queued went on to drive it again after its flag. An entry
    /// that finds the flag down has nothing to do.
    queue: Mutex<VecDeque<usize>>,
    /// Threads inside `epoll_wait`.
    sleepers: AtomicUsize,
    /// Wakes a sleeping thread for queued work (an eventfd in the set, edge-triggered).
    nudge: OwnedFd,
    /// A nudge was written and no thread has taken it from the set yet.
    nudged: AtomicBool,
}

/// Which threads wait on the epoll set: `loops` turns among the threads, and the hand-off
/// of the turn of a thread that stays inside an application (see [`PollConfig::threads`]).
///
/// A thread records when it enters an application (or a write of the core's own output,
/// which may wait for the client too) and clears it when it leaves (two stores to its own
/// cache line per request). While some thread is inside one, a monitor
/// thread looks every [`MONITOR_TICK`]; a thread inside one application for longer than
/// [`HAND_OFF_AFTER`] is marked [`HANDED_OFF`] and its turn is freed, for a waiting thread
/// to take. The marked thread finishes its application and then waits for a turn itself. When
/// nobody is inside an application, the monitor sleeps until a thread enters one.
struct Turns {
    /// Turns nobody has.
    free: Mutex<usize>,
    /// A turn was freed, or the server stops.
    freed: Condvar,
    /// Per thread.
    threads: Vec<ThreadState>,
    /// The monitor sleeps (nobody was inside an application when it last looked).
    monitor_idle: AtomicBool,
    monitor_lock: Mutex<()>,
    monitor_wake: Condvar,
    /// There is a monitor (more threads than turns).
    monitored: bool,
}

/// A thread's entry in [`Turns`], on a cache line of its own.
#[derive(Default)]
#[repr(align(64))]
struct ThreadState {
    /// When it entered the application it is in ([`Instant::as_millis`] + 1), 0 outside
    /// one, or [`HANDED_OFF`] once the monitor gave its turn away while it was inside.
    busy_since: AtomicU64,
    /// Its turn was given away: set by the thread itself when it leaves the application,
    /// taken by [`Turns::lost_turn`].
    handed_off: AtomicBool,
}

/// [`ThreadState::busy_since`] of a thread whose turn the monitor gave away. The monitor
/// writes it with a compare-and-swap from the instant it saw, so a thread that left the
/// application meanwhile keeps its turn, and one still inside finds the mark when it
/// leaves: a turn is freed only for a thread that then gives its own up.
const HANDED_OFF: u64 = u64::MAX;

impl Turns {
    fn new(threads: usize, loops: usize) -> Self {
        Self {
            free: Mutex::new(0),
            freed: Condvar::new(),
            threads: (0..threads).map(|_| ThreadState::default()).collect(),
            monitor_idle: AtomicBool::new(false),
            monitor_lock: Mutex::new(()),
            monitor_wake: Condvar::new(),
            monitored: threads > loops,
        }
    }

    /// Thread `id` enters an application at `now`.
    fn enter(&self, id: usize, now: Instant) {
        if let Some(me) = self.threads.get(id) {
            me.busy_since
                .store(now.as_millis().saturating_add(1), Ordering::SeqCst);
        }
        // Pairs with the monitor's store of `monitor_idle` and its look at `busy_since`:
        // either it sees this thread busy, or this thread sees it asleep and wakes it.
        if self.monitored && self.monitor_idle.load(Ordering::SeqCst) {
            let _guard = lock(&self.monitor_lock);
            self.monitor_wake.notify_one();
        }
    }

    /// Thread `id` has left the application.
    fn leave(&self, id: usize) {
        if let Some(me) = self.threads.get(id) {
            if me.busy_since.swap(0, Ordering::SeqCst) == HANDED_OFF {
                me.handed_off.store(true, Ordering::SeqCst);
            }
        }
    }

    /// Was thread `id`'s turn given away (and is it now without one)?
    fn lost_turn(&self, id: usize) -> bool {
        self.threads
            .get(id)
            .is_some_and(|me| me.handed_off.swap(false, Ordering::SeqCst))
    }

    /// One look of the monitor at `now` (in [`Instant::as_millis`] + 1): frees the turn of
    /// every thread inside one application for `after` milliseconds or more. Returns
    /// whether any thread is inside an application.
    fn hand_off(&self, now: u64, after: u64) -> bool {
        let mut anyone_busy = false;
        for state in &self.threads {
            let since = state.busy_since.load(Ordering::SeqCst);
            if since == 0 {
                continue;
            }
            anyone_busy = true;
            // Not if it left (or entered another application) since the load.
            if since != HANDED_OFF
                && now >= since.saturating_add(after)
                && state
                    .busy_since
                    .compare_exchange(since, HANDED_OFF, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                *lock(&self.free) += 1;
                self.freed.notify_one();
            }
        }
        anyone_busy
    }

    /// Waits for a free turn and takes it; false if the server stops first.
    fn take(&self, wake: &WakeSet) -> bool {
        let mut free = lock(&self.free);
        loop {
            if wake.stopping() {
                return false;
            }
            if *free > 0 {
                *free -= 1;
                return true;
            }
            free = self
                .freed
                .wait(free)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Wakes every waiting thread and the monitor (the server stops).
    fn wake_all(&self) {
        {
            let _guard = lock(&self.free);
            self.freed.notify_all();
        }
        let _guard = lock(&self.monitor_lock);
        self.monitor_wake.notify_all();
    }

    /// The monitor's loop (see [`Turns`]), until the server stops.
    fn monitor(&self, wake: &WakeSet, clock: Clock) {
        let hand_off_after = u64::try_from(HAND_OFF_AFTER.as_millis()).unwrap_or(u64::MAX);
        while !wake.stopping() {
            let now = clock.now().as_millis().saturating_add(1);
            if self.hand_off(now, hand_off_after) {
                std::thread::sleep(MONITOR_TICK);
                continue;
            }
            let guard = lock(&self.monitor_lock);
            self.monitor_idle.store(true, Ordering::SeqCst);
            let busy = self
                .threads
                .iter()
                .any(|t| t.busy_since.load(Ordering::SeqCst) != 0);
            if !busy && !wake.stopping() {
                drop(
                    self.monitor_wake
                        .wait(guard)
                        .unwrap_or_else(PoisonError::into_inner),
                );
            }
            self.monitor_idle.store(false, Ordering::SeqCst);
        }
    }
}

/// One thread of the server: the service it runs applications with, and its entry in
/// [`Turns`].
struct Worker<'w, A, H> {
    service: Service<'w, A, H>,
    turns: &'w Turns,
    id: usize,
}

/// What a thread should do with a connection after driving it.
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
    /// The address does not resolve or cannot be bound.
    pub fn bind(
        addr: impl ToSocketAddrs,
        app: A,
        config: PollConfig,
        handler: H,
    ) -> io::Result<Self> {
        let listener = crate::server::listen(addr, config.max_connections)?;
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        let wake = Arc::new(WakeSet {
            stop: AtomicBool::new(false),
            wakers: Mutex::new(Vec::new()),
            cut_off: CutOff::new(),
            shutdown_timeout: config.shutdown_timeout,
        });
        Ok(Self {
            listener,
            local,
            server_name: crate::server::default_server_name(local),
            app,
            handler,
            config,
            clock: Clock::new(),
            wake,
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

    /// Stop accepting; idle keep-alive connections close (at once, or, while an
    /// application runs, when the last one returns: the thread that runs it closes them),
    /// requests in flight finish (within [`PollConfig::shutdown_timeout`], then their
    /// connections are cut), then `serve_forever` returns.
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

    /// The core's configuration; `multithread` (`wsgi.multithread`): whether more than one
    /// thread may be inside the application at once.
    fn core_config(&self, multithread: bool) -> Config<'_> {
        crate::server::core_config(
            &self.server_name,
            self.local,
            &self.config.server_software,
            (self.config.limits, self.config.timeouts),
            (self.config.http_version, self.config.error_output),
            multithread,
        )
    }

    /// Serves on the calling thread alone, with every slot, until
    /// [`PollServer::shutdown`] (whatever [`PollConfig::loops`] says: the application need
    /// not be `Sync`).
    ///
    /// # Errors
    /// The epoll set could not be created, waiting on it failed, or the listener could not
    /// be added to it.
    pub fn serve_forever(&self) -> io::Result<()> {
        let config = self.core_config(false);
        self.with_shared(&config, (1, 1), |shared| {
            let worker = Worker {
                service: self.service(),
                turns: &shared.turns,
                id: 0,
            };
            self.run_thread(shared, &worker)
        })
    }

    fn service(&self) -> Service<'_, A, H> {
        Service {
            app: &self.app,
            handler: &self.handler,
            quiet: self.config.quiet,
        }
    }

    /// Builds the shared state for `threads` threads with `loops` turns (all the memory the
    /// server will use for connections, zeroed lazily by the kernel), runs `run` on it, and
    /// takes the stop signal out of the [`WakeSet`] again.
    fn with_shared<'a, R>(
        &self,
        config: &'a Config<'a>,
        (threads, loops): (usize, usize),
        run: impl FnOnce(&Shared<'_>) -> io::Result<R>,
    ) -> io::Result<R> {
        let slots = self.config.max_connections.max(1);
        let (rx_len, tx_len) = (self.config.rx_buffer.max(1), self.config.tx_buffer.max(1));
        let mut rx_arena = vec![0u8; slots * rx_len];
        let mut tx_arena = vec![0u8; slots * tx_len];
        let free: Free<'_> = rx_arena
            .chunks_mut(rx_len)
            .zip(tx_arena.chunks_mut(tx_len))
            .enumerate()
            .map(|(i, (rx, tx))| (i, rx, tx))
            .rev()
            .collect();
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let waker = Arc::new(eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?);
        // Level-triggered: every waiting thread sees the stop until the last one takes the
        // signal out of the set.
        epoll::add(
            &epoll,
            &*waker,
            epoll::EventData::new_u64(WAKER),
            epoll::EventFlags::IN,
        )?;
        epoll::add(
            &epoll,
            &self.listener,
            epoll::EventData::new_u64(LISTENER),
            epoll::EventFlags::IN | epoll::EventFlags::ET,
        )?;
        let nudge = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        epoll::add(
            &epoll,
            &nudge,
            epoll::EventData::new_u64(NUDGE),
            epoll::EventFlags::IN | epoll::EventFlags::ET,
        )?;
        lock(&self.wake.wakers).push(Arc::clone(&waker));
        let shared = Shared {
            epoll,
            waker: Arc::clone(&waker),
            config,
            cells: (0..slots).map(|_| Cell::default()).collect(),
            free: Mutex::new(free),
            // About one entry per connection (see `Cell::arm`).
            timers: Mutex::new(BinaryHeap::with_capacity(slots)),
            generation: AtomicU64::new(0),
            accept_retry: AtomicBool::new(false),
            threads: threads.max(1),
            loops: loops.clamp(1, threads.max(1)),
            turns: Turns::new(threads.max(1), loops.clamp(1, threads.max(1))),
            running: AtomicUsize::new(threads.max(1)),
            queue: Mutex::new(VecDeque::with_capacity(slots)),
            sleepers: AtomicUsize::new(0),
            nudge,
            nudged: AtomicBool::new(false),
        };
        let result = run(&shared);
        lock(&self.wake.wakers).retain(|w| !Arc::ptr_eq(w, &waker));
        result
    }

    /// One thread's loop: wait on the shared epoll set, drive the connections it reports,
    /// accept, fire the deadlines that passed; after a stop, the last thread to notice
    /// finishes the requests in flight and returns when every slot is free.
    fn run_thread(&self, shared: &Shared<'_>, worker: &Worker<'_, A, H>) -> io::Result<()> {
        let result = self.thread_loop(shared, worker);
        if result.is_err() {
            // The others stop too; none of them waits for this one.
            self.wake.stop();
        }
        result
    }

    fn thread_loop(&self, shared: &Shared<'_>, worker: &Worker<'_, A, H>) -> io::Result<()> {
        let batch = if shared.threads > 1 {
            EVENTS_SHARED
        } else {
            EVENTS_ALONE
        };
        let mut events: Vec<epoll::Event> = Vec::with_capacity(batch);
        // This thread's clock: read after every wait and before the deadlines are checked,
        // and brought forward by `drive` whenever it reads the clock after a step that may
        // take time (an application, a wait for the socket). Between those only
        // non-blocking reads and parsing happen, so one reading serves a batch of events.
        let mut now = self.clock.now();
        // This thread is the last one, finishing after a stop.
        let mut last = false;
        // The first `loops` threads start with a turn at the epoll set.
        let mut has_turn = worker.id < shared.loops;
        loop {
            let stopping = self.wake.stopping();
            if stopping && !last {
                shared.turns.wake_all();
                if shared.running.fetch_sub(1, Ordering::SeqCst) > 1 {
                    return Ok(());
                }
                last = true;
                let _ = epoll::delete(&shared.epoll, &self.listener);
                let _ = epoll::delete(&shared.epoll, &*shared.waker);
                // Idle connections close now, unless a request has arrived (it is answered,
                // as the connection's last: `drive`); the others finish their request. (The
                // other threads are gone: nobody holds a slot.)
                for index in 0..shared.cells.len() {
                    let Some(cell) = shared.cells.get(index) else {
                        continue;
                    };
                    let idle = lock(&cell.slot)
                        .as_ref()
                        .is_some_and(|s| s.lingering.is_none() && between_requests(&s.conn));
                    if idle {
                        cell.ready.store(true, Ordering::SeqCst);
                        self.run_cell(shared, index, worker, true, &mut now);
                    }
                }
            }
            if last && self.wake.cut_off.passed() {
                // The shutdown timeout passed: what is still open is cut.
                for index in 0..shared.cells.len() {
                    if let Some(cell) = shared.cells.get(index) {
                        let mut place = lock(&cell.slot);
                        self.release(shared, index, &mut place, Next::Drop);
                    }
                }
            }
            if last && lock(&shared.free).len() == shared.cells.len() {
                return Ok(());
            }
            // The last thread finishes without turns (the others are gone).
            if !last {
                if has_turn && shared.turns.lost_turn(worker.id) {
                    has_turn = false;
                }
                if !has_turn {
                    if !shared.turns.take(&self.wake) {
                        continue;
                    }
                    has_turn = true;
                    // The wait for the turn can be long: the connections this thread goes
                    // on to drive (a queued one at once) must not anchor deadlines at the
                    // time read before it (they were answered 408 at once).
                    now = self.clock.now();
                }
            }

            // A ready connection another thread left in the queue, else a wait on the set.
            // The thread counts itself among the sleepers before it looks at the queue (and
            // the timers): a thread that queues a connection (or arms a deadline) after the
            // look finds it counted and nudges it.
            shared.sleepers.fetch_add(1, Ordering::SeqCst);
            let queued = if shared.threads > 1 {
                let mut queue = lock(&shared.queue);
                queue.pop_front().map(|index| (index, !queue.is_empty()))
            } else {
                None
            };
            let retry = !last && shared.accept_retry.load(Ordering::Relaxed);
            let mut listener_seen = false;
            if let Some((index, more)) = queued {
                shared.sleepers.fetch_sub(1, Ordering::SeqCst);
                // More queued: one nudge wakes one thread, which passes it on.
                if more {
                    shared.nudge_sleeper();
                }
                self.run_cell(shared, index, worker, stopping, &mut now);
            } else {
                let dispatched = self.wait_and_dispatch(
                    shared,
                    worker,
                    &mut events,
                    (stopping, last, retry),
                    &mut now,
                );
                match dispatched {
                    Ok(seen) => listener_seen = seen,
                    Err(e) => {
                        // Counted out, so that the thread that notices the stop last
                        // (`run_thread` raises it) finishes the requests in flight.
                        if !last {
                            shared.running.fetch_sub(1, Ordering::SeqCst);
                        }
                        return Err(e);
                    }
                }
            }

            if retry && !listener_seen {
                self.accept_all(shared, worker);
            }

            // Deadlines that passed.
            now = self.clock.now();
            loop {
                let due = {
                    let mut timers = lock(&shared.timers);
                    match timers.peek() {
                        Some(&Reverse((at, index, generation))) if at <= now => {
                            timers.pop();
                            Some((at, index, generation))
                        }
                        _ => None,
                    }
                };
                let Some((at, index, generation)) = due else {
                    break;
                };
                if let Some(cell) = shared.cells.get(index) {
                    if cell.is_live(at, generation) {
                        cell.due.store(true, Ordering::SeqCst);
                        self.run_cell(shared, index, worker, stopping, &mut now);
                    }
                }
            }
        }
    }

    /// Waits on the epoll set (until the earliest deadline) and acts on what it reports.
    /// Returns whether the listener was among the events. The caller counted this thread
    /// in [`Shared::sleepers`]; it is counted out once the wait returns.
    fn wait_and_dispatch(
        &self,
        shared: &Shared<'_>,
        worker: &Worker<'_, A, H>,
        events: &mut Vec<epoll::Event>,
        (stopping, last, retry): (bool, bool, bool),
        now: &mut Instant,
    ) -> io::Result<bool> {
        // The earliest live deadline is the wait's timeout (`now` is the reading the
        // deadlines were last checked against).
        let timeout = {
            let mut timers = lock(&shared.timers);
            loop {
                match timers.peek() {
                    None => break None,
                    Some(&Reverse((at, index, generation))) => {
                        let live = shared
                            .cells
                            .get(index)
                            .is_some_and(|c| c.is_live(at, generation));
                        if live {
                            break Some(at.saturating_duration_since(*now));
                        }
                        timers.pop();
                    }
                }
            }
        };
        let timeout = if retry {
            Some(timeout.map_or(ACCEPT_RETRY, |t| t.min(ACCEPT_RETRY)))
        } else {
            timeout
        };
        // The last thread after a stop: until the shutdown timeout at most.
        let timeout = match (last, self.wake.cut_off.left()) {
            (true, Some(left)) => Some(timeout.map_or(left, |t| t.min(left))),
            _ => timeout,
        };
        // At most an hour: the seconds fit.
        let timeout = timeout.map(|t| {
            let t = t.min(LONGEST_WAIT);
            Timespec {
                tv_sec: t.as_secs().try_into().unwrap_or(3600),
                tv_nsec: t.subsec_nanos().into(),
            }
        });
        events.clear();
        let waited = epoll::wait(&shared.epoll, spare_capacity(events), timeout.as_ref());
        shared.sleepers.fetch_sub(1, Ordering::SeqCst);
        *now = self.clock.now();
        match waited {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => return Ok(false),
            Err(e) => return Err(e.into()),
        }

        let mut listener_seen = false;
        // With other threads: the first ready connection is driven here, after the
        // others are queued for whichever thread is free.
        let mut first = None;
        let (mut queued, mut nudged) = (false, false);
        for event in events.iter() {
            // Copies: the kernel's event record is packed.
            let (data, flags) = (event.data.u64(), event.flags);
            match data {
                // The stop flag is looked at on the next turn.
                WAKER => {}
                NUDGE => {
                    let mut count = [0u8; 8];
                    let _ = rustix::io::read(&shared.nudge, &mut count);
                    // Taken (a swap: a nudge skipped meanwhile queued before it).
                    shared.nudged.swap(false, Ordering::SeqCst);
                    nudged = true;
                }
                // Accepted after the batch is dealt out (below).
                LISTENER => listener_seen = true,
                index => {
                    let Some((index, cell)) = usize::try_from(index)
                        .ok()
                        .and_then(|i| Some((i, shared.cells.get(i)?)))
                    else {
                        continue;
                    };
                    // Data and the peer's FIN can come in one edge: then a short read
                    // has not seen the end of the stream yet.
                    let hup =
                        epoll::EventFlags::RDHUP | epoll::EventFlags::HUP | epoll::EventFlags::ERR;
                    if flags.intersects(hup) {
                        cell.closed.store(true, Ordering::SeqCst);
                    }
                    if shared.threads == 1 {
                        cell.ready.store(true, Ordering::SeqCst);
                        self.run_cell(shared, index, worker, stopping, now);
                    } else if cell.ready.swap(true, Ordering::SeqCst) {
                        // Queued or about to be driven already: whoever raised the flag
                        // sees to it.
                    } else if first.is_none() {
                        first = Some(index);
                    } else {
                        lock(&shared.queue).push_back(index);
                        queued = true;
                    }
                }
            }
        }
        if queued {
            shared.nudge_sleeper();
        } else if nudged && first.is_some() && !lock(&shared.queue).is_empty() {
            // This thread drives a connection of its own first: the nudge goes on.
            shared.nudge_sleeper();
        }
        // New connections after the ready ones are queued (an application may run for a
        // connection accepted with its request, `accept_all`), and before this thread's own.
        if listener_seen && !last {
            self.accept_all(shared, worker);
            *now = self.clock.now();
        }
        if let Some(index) = first {
            self.run_cell(shared, index, worker, stopping, now);
        }
        Ok(listener_seen)
    }

    /// Acts on the news for slot `index` (its `ready` and `due` flags), unless another
    /// thread holds the slot: that thread finds the flags when it unlocks and acts on them
    /// itself. After unlocking, the flags are looked at again, so news that came while
    /// this thread held the slot is not lost.
    fn run_cell(
        &self,
        shared: &Shared<'_>,
        index: usize,
        worker: &Worker<'_, A, H>,
        stopping: bool,
        now: &mut Instant,
    ) {
        let Some(cell) = shared.cells.get(index) else {
            return;
        };
        // Pairs with the fence after unlocking below: either this thread's flag is seen by
        // the holder's second look, or the holder's unlock by this `try_lock`.
        fence(Ordering::SeqCst);
        loop {
            let mut place = match cell.slot.try_lock() {
                Ok(place) => place,
                Err(TryLockError::Poisoned(e)) => e.into_inner(),
                Err(TryLockError::WouldBlock) => return,
            };
            let due = cell.due.swap(false, Ordering::SeqCst);
            let ready = cell.ready.swap(false, Ordering::SeqCst);
            if due || ready {
                self.step(
                    shared,
                    index,
                    &mut place,
                    worker,
                    (due, ready, stopping),
                    now,
                );
            }
            drop(place);
            fence(Ordering::SeqCst);
            if !cell.due.load(Ordering::SeqCst) && !cell.ready.load(Ordering::SeqCst) {
                return;
            }
        }
    }

    /// With the slot's lock held: a deadline that came due, then readiness.
    fn step<'a>(
        &self,
        shared: &Shared<'a>,
        index: usize,
        place: &mut Option<Slot<'a>>,
        worker: &Worker<'_, A, H>,
        (due, ready, stopping): (bool, bool, bool),
        now: &mut Instant,
    ) {
        let Some(cell) = shared.cells.get(index) else {
            return;
        };
        let Some(slot) = place.as_mut() else {
            return;
        };
        let closed = cell.closed.load(Ordering::SeqCst);
        let mut next = None;
        if due {
            cell.armed.store(0, Ordering::Release);
            match slot.deadline {
                // The deadline moved later since the entry was armed: re-armed below.
                Some(later) if later > *now => {}
                Some(_) => {
                    slot.deadline = None;
                    next = Some(if slot.lingering.is_some() {
                        Next::Drop
                    } else {
                        // Between requests, a request that arrived while this thread was
                        // busy elsewhere (its event not looked at yet) is read first: the
                        // client was on time.
                        if !(between_requests(&slot.conn) && slot.take_arrived()) {
                            set_wall_clock(&mut slot.conn);
                            slot.conn.handle_timeout(*now);
                        }
                        self.drive(worker, slot, (stopping, closed), now)
                    });
                }
                None => {}
            }
        }
        let next = match next {
            Some(next) => next,
            None if ready => self.drive(worker, slot, (stopping, closed), now),
            None => Next::Wait,
        };
        self.settle(shared, index, place, next);
    }

    /// Accepts every pending connection into a free slot (or answers `503`). If accepting
    /// stops on an error (out of file descriptors, say) with connections possibly still
    /// queued, sets [`Shared::accept_retry`]: the listener is edge-triggered, so the threads
    /// must try again by themselves.
    fn accept_all(&self, shared: &Shared<'_>, worker: &Worker<'_, A, H>) {
        let retry = loop {
            let (stream, peer) = match self.listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
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
                Err(_) => break true,
            };
            let Some((index, rx, tx)) = lock(&shared.free).pop() else {
                reject_busy(&stream);
                continue;
            };
            let Some(cell) = shared.cells.get(index) else {
                continue;
            };
            if stream.set_nonblocking(true).is_err() || stream.set_nodelay(true).is_err() {
                lock(&shared.free).push((index, rx, tx));
                continue;
            }
            let handler = &self.handler;
            if !hook(handler, "connection_opened", || {
                handler.connection_opened(&stream, peer);
            }) {
                lock(&shared.free).push((index, rx, tx));
                continue;
            }
            let mut conn = Connection::new(shared.config, rx, tx);
            conn.set_remote(peer);
            // The first-byte deadline runs from now: the core anchors a deadline when it is
            // first polled, and it is armed here, since a client that never sends a byte
            // raises no event that would drive its connection (it would hold its slot
            // until it closed).
            let _ = conn.poll_event(self.clock.now());
            let deadline = conn.poll_timeout();
            // The slot is filled before its socket joins the epoll set, so that a thread
            // that gets its first event finds it; bytes already queued raise that event on
            // joining.
            let mut place = lock(&cell.slot);
            let generation = shared.generation.fetch_add(1, Ordering::Relaxed) + 1;
            cell.generation.store(generation, Ordering::Release);
            cell.armed.store(0, Ordering::Release);
            cell.closed.store(false, Ordering::SeqCst);
            let joined = epoll::add(
                &shared.epoll,
                &stream,
                epoll::EventData::new_u64(index as u64),
                epoll::EventFlags::IN | epoll::EventFlags::RDHUP | epoll::EventFlags::ET,
            );
            let slot = Slot {
                stream,
                peer,
                conn,
                deadline,
                lingering: None,
            };
            if joined.is_err() {
                *place = Some(slot);
                self.release(shared, index, &mut place, Next::Drop);
                continue;
            }
            *place = Some(slot);
            shared.arm(index, deadline);
            drop(place);
            // An event that came while the slot was being filled: the thread that took it
            // found the slot locked and left it to this one. With other threads it is
            // queued (this thread may be in the middle of a batch, with a connection of
            // its own to drive next).
            fence(Ordering::SeqCst);
            if cell.ready.load(Ordering::SeqCst) {
                if shared.threads > 1 {
                    shared.queue_ready(index);
                } else {
                    let mut now = self.clock.now();
                    self.run_cell(shared, index, worker, self.wake.stopping(), &mut now);
                }
            }
        };
        shared.accept_retry.store(retry, Ordering::Relaxed);
    }

    /// Drains one connection's events, reading until the socket would block.
    /// `closed`: a readiness event said the peer closed (or the socket failed), so reads
    /// go on until they return the end of the stream. `now`: the thread's clock, read again
    /// here after every step that may take time.
    fn drive(
        &self,
        worker: &Worker<'_, A, H>,
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
                    let idle = between_requests(&slot.conn);
                    if idle && stopping {
                        // A request that has already arrived is still answered (as the
                        // connection's last); else the connection closes now.
                        if slot.take_arrived() {
                            continue;
                        }
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
                    )
                    .with_cut_off(&self.wake.cut_off);
                    // A write that waits for the client is a wait like an application's.
                    worker.turns.enter(worker.id, *now);
                    let sent = wsgiref::handler::Transport::send(&mut transport, &[bytes]);
                    worker.turns.leave(worker.id);
                    if sent.is_err() {
                        return Next::Drop;
                    }
                    crate::server::log_rejected(
                        &self.handler,
                        slot.peer,
                        &slot.conn,
                        self.config.quiet,
                    );
                    *now = self.clock.now();
                }
                Event::Request => {
                    let transport = SocketTransport::nonblocking(
                        &slot.stream,
                        self.clock,
                        self.config.timeouts.body,
                        self.config.write_timeout,
                    )
                    .with_cut_off(&self.wake.cut_off);
                    worker.turns.enter(worker.id, *now);
                    let served = worker.service.serve_request(
                        &mut slot.conn,
                        transport,
                        slot.peer,
                        stopping,
                    );
                    worker.turns.leave(worker.id);
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
        shared: &Shared<'a>,
        index: usize,
        place: &mut Option<Slot<'a>>,
        next: Next,
    ) {
        match next {
            Next::Wait => {
                if let Some(slot) = place.as_mut() {
                    slot.deadline = if slot.lingering.is_some() {
                        slot.lingering
                    } else {
                        slot.conn.poll_timeout()
                    };
                    shared.arm(index, slot.deadline);
                }
            }
            Next::Close | Next::Drop => {
                self.release(shared, index, place, next);
                // Still there: lingering until its deadline.
                if let Some(slot) = place.as_ref() {
                    shared.arm(index, slot.deadline);
                }
            }
        }
    }

    /// Closes the connection in slot `index` (whose lock the caller holds: `place`). A
    /// graceful close whose client left bytes unread keeps the slot, lingering until its
    /// deadline; otherwise the slot is freed.
    fn release<'a>(
        &self,
        shared: &Shared<'a>,
        index: usize,
        place: &mut Option<Slot<'a>>,
        next: Next,
    ) {
        let Some(slot) = place.as_mut() else {
            return;
        };
        // A close-delimited response that did not end as it should: a reset says so, also
        // when the connection is dropped (a write deadline can cut off a slow reader).
        if slot.conn.must_reset() {
            crate::transport::reset_on_drop(&slot.stream);
        } else if matches!(next, Next::Close) && slot.lingering.is_none() {
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
        if let Some(cell) = shared.cells.get(index) {
            cell.armed.store(0, Ordering::Release);
        }
        let (peer, served) = (slot.peer, slot.conn.requests_served());
        // Closing the socket takes it out of the epoll set.
        drop(slot.stream);
        let (rx, tx) = slot.conn.into_buffers();
        lock(&shared.free).push((index, rx, tx));
        let handler = &self.handler;
        hook(handler, "connection_closed", || {
            handler.connection_closed(peer, served);
        });
    }
}

impl<A: Application + Sync, H: RequestHandler + Sync> PollServer<A, H> {
    /// Runs [`PollConfig::loops`] threads sharing one epoll set and every slot, until
    /// [`PollServer::shutdown`]; returns when every thread has finished. Any thread drives
    /// any connection, one thread at a time: a thread inside a slow application holds only
    /// the connection it serves (and the events it took with it, at most a few), and the
    /// others go on serving the rest.
    ///
    /// # Errors
    /// The epoll set could not be created, or the first error of a thread (the others
    /// are stopped).
    pub fn serve_forever_on(&self) -> io::Result<()> {
        let loops = self.config.loops.max(1);
        let threads = self.config.threads.max(loops);
        // Every thread may run the application (a slow one hands its turn on).
        let config = self.core_config(threads > 1);
        self.with_shared(&config, (threads, loops), |shared| {
            std::thread::scope(|scope| {
                if shared.turns.monitored {
                    scope.spawn(|| shared.turns.monitor(&self.wake, self.clock));
                }
                let handles: Vec<_> = (0..threads)
                    .map(|id| {
                        scope.spawn(move || {
                            let worker = Worker {
                                service: self.service(),
                                turns: &shared.turns,
                                id,
                            };
                            self.run_thread(shared, &worker)
                        })
                    })
                    .collect();
                let mut first = Ok(());
                for handle in handles {
                    let result = handle
                        .join()
                        .unwrap_or_else(|_| Err(io::Error::other("a server thread panicked")));
                    if first.is_ok() {
                        first = result;
                    }
                }
                first
            })
        })
    }
}

/// Reads and discards what a closing client still sends: `Wait` while it may send more,
/// `Drop` once it is done (end of stream, an error) or sent nothing unread at all.
fn discard(stream: &TcpStream) -> Next {
    match discard_pending(stream) {
        Discarded::Waiting => Next::Wait,
        Discarded::Closed | Discarded::Nothing => Next::Drop,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The monitor's look at `ms` (as [`Turns::monitor`] passes it), handing off after 10.
    fn look(turns: &Turns, ms: u64) -> bool {
        turns.hand_off(ms + 1, 10)
    }

    fn free(turns: &Turns) -> usize {
        *lock(&turns.free)
    }

    #[test]
    fn a_turn_is_handed_off_once_and_only_while_its_thread_is_inside_an_application() {
        let turns = Turns::new(3, 1);
        assert!(!look(&turns, 1000), "nobody is inside an application");

        // Thread 0 enters at 100: its turn goes at 110, once.
        turns.enter(0, Instant::from_millis(100));
        assert!(look(&turns, 109));
        assert_eq!(free(&turns), 0);
        assert!(look(&turns, 110));
        assert_eq!(free(&turns), 1);
        assert!(look(&turns, 500), "still inside");
        assert_eq!(free(&turns), 1, "not handed off twice");
        assert!(!turns.lost_turn(0), "it learns when it leaves");
        turns.leave(0);
        assert!(turns.lost_turn(0));
        assert!(!turns.lost_turn(0));
        assert!(!look(&turns, 1000));

        // Thread 1 leaves before the monitor looks: it keeps its turn, none is freed.
        turns.enter(1, Instant::from_millis(100));
        turns.leave(1);
        assert!(!look(&turns, 1000));
        assert_eq!(free(&turns), 1);
        assert!(!turns.lost_turn(1));

        // Thread 2 left and entered another application: timed from the new one.
        turns.enter(2, Instant::from_millis(100));
        turns.leave(2);
        turns.enter(2, Instant::from_millis(200));
        assert!(look(&turns, 205));
        assert_eq!(free(&turns), 1);
        assert!(look(&turns, 210));
        assert_eq!(free(&turns), 2);
        turns.leave(2);
        assert!(turns.lost_turn(2));
    }
}
