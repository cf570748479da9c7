//! No heap allocation per request in steady state on the tokio adapter, in both executions:
//! on one keep-alive connection, 1,000 requests allocate nothing, as 10 do, with
//! [`Execution::Inline`]; with [`Execution::BlockInPlace`] (the default) tokio's
//! `block_in_place` allocates on the way, and the test bounds that and says why.
//!
//! **What is counted.** Every allocation of the process (a counting global allocator,
//! `stats_alloc`, in this test binary only) in a window on one connection of a running
//! server: from the client's receipt of one response to its receipt of the response `n`
//! requests later. The windows for `n = 10` and `n = 1000` follow one another on the same
//! connection, after 2,000 requests of warm-up on it.
//!
//! **Why the measure is sound.** The server runs on its own multi-thread runtime (two
//! workers); the client runs on the test's thread, with a blocking std socket and a fixed
//! buffer, and allocates nothing in its loop; the two tests take a lock so that only one
//! measures at a time, and libtest's own threads only wait meanwhile. So every allocation
//! in a window is the server's: the adapter's code, the application, the access log
//! (formatted into a sink, local time included), and tokio's work for the connection (its
//! I/O driver, the timers of the core's deadlines, its scheduler). Any cost per request
//! would show 990 times more in the second window than in the first.
//!
//! What is left out, and why: costs that are not per request. Connection set-up and
//! teardown (buffers, task, socket registration) are outside the windows: tokio's I/O
//! driver releases deregistered sockets in batches (its `pending_release` list is taken
//! and grows again), so their count varies by one or two from run to run. And tokio's
//! one-time cost per worker thread is paid before them: the first time a task's coop
//! budget runs out on a worker (for the connection task, in the `tokio::select!` of its
//! idle read in `connection.rs`, about every 130 requests), tokio queues the task's waker
//! on that worker's `Defer` list, whose first push allocates it (64 bytes, kept for the
//! thread's life). Left to the connection, that happens on each worker whenever the task
//! first runs out there, which under load was after more than 2,000 requests; so before
//! serving, one task per worker (held together by a barrier, so that each is on its own
//! worker) runs out of budget, and the warm-up (2,000 requests) covers the rest of the
//! start: the workers' threads starting, the access log's time-zone cache.
//!
//! **What tokio allocates per request.** With [`Execution::BlockInPlace`] each request runs
//! under `tokio::task::block_in_place`, which, on a thread that holds a worker core, hands
//! the core to another thread with `spawn_blocking(move || run(worker))`
//! (`tokio/src/runtime/scheduler/multi_thread/worker.rs`, `maybe_move_runtime`): one
//! allocation for the blocking task (its 256-byte task cell, `RawTask::new`, tokio 1.54),
//! and, when none of the blocking pool's threads is idle, a thread (six allocations). On a
//! 2-core machine 1,000 requests made about 300 such hand-offs and two threads (a thread
//! that gave its core away runs the next request without one and hands nothing over), and
//! up to 800 on a loaded one. Each hand-off also starts a new worker context on the thread
//! that takes the core, whose `Defer` list (above) is allocated again when the connection
//! task first runs out of budget there.
//! That is the price of `block_in_place`, not of the adapter: the adapter's code is the
//! same in both executions except for that wrapper (`connection.rs`, `Event::Request`),
//! and the inline run allocates nothing. The bound is one allocation per request plus a
//! few threads: one allocation per request of the adapter's on top of tokio's would
//! exceed it.

use std::alloc::System;
use std::future::IntoFuture;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tokio::runtime::Runtime;
use wsgiref_tokio::{Execution, ServerConfig};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Only one test measures at a time: the count is the whole process's.
static MEASURING: Mutex<()> = Mutex::new(());

#[path = "../../std-adapter/tests/common/alloc.rs"]
mod common;
use common::{SinkLog, hello, requests};

/// Requests served on the connection before the first window (see the module docs).
const WARM_UP: usize = 2_000;

/// The runtime's worker threads.
const WORKERS: usize = 2;

/// Makes a task run out of its coop budget on each of the `workers` workers of `runtime`,
/// so that tokio's one-time allocation per worker (its `Defer` list, see the module docs)
/// is made before anything is measured.
fn exhaust_the_budget_on_every_worker(runtime: &Runtime, workers: usize) {
    let all_running = Arc::new(Barrier::new(workers));
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let all_running = Arc::clone(&all_running);
            runtime.spawn(async move {
                // Blocks its worker until every task runs: so each runs on its own worker.
                all_running.wait();
                // The budget is 128 units per poll; running out defers the task's waker.
                for _ in 0..1_000 {
                    tokio::task::consume_budget().await;
                }
            })
        })
        .collect();
    for task in tasks {
        runtime.block_on(task).unwrap();
    }
}

/// Serves one connection with `execution`; returns the allocations of the process during
/// 10 requests and during the 1,000 after them, in steady state (see the module docs).
fn steady_state_allocations(execution: Execution) -> (usize, usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = ServerConfig {
        execution,
        ..ServerConfig::default()
    };
    let server = runtime.spawn(
        wsgiref_tokio::serve(listener, hello)
            .config(config)
            .handler(SinkLog)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .into_future(),
    );
    exhaust_the_budget_on_every_worker(&runtime, WORKERS);
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    requests(&mut stream, WARM_UP);
    let few = Region::new(GLOBAL);
    requests(&mut stream, 10);
    let few = few.change().allocations;
    let many = Region::new(GLOBAL);
    requests(&mut stream, 1_000);
    let many = many.change().allocations;
    drop(stream);
    let _ = stop.send(());
    runtime.block_on(server).unwrap().unwrap();
    (few, many)
}

#[test]
fn inline_requests_do_not_allocate() {
    let _one = MEASURING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (few, many) = steady_state_allocations(Execution::Inline);
    eprintln!("inline: {few} allocations for 10 requests, {many} for 1000");
    assert_eq!(
        few, many,
        "allocations grew with the number of requests: {few} for 10, {many} for 1000"
    );
    assert_eq!(many, 0, "{many} allocations in steady state");
}

#[test]
fn block_in_place_allocates_only_tokio_s_hand_off() {
    let _one = MEASURING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (few, many) = steady_state_allocations(Execution::BlockInPlace);
    eprintln!("block_in_place: {few} allocations for 10 requests, {many} for 1000");
    // tokio's hand-off of the worker core (see the module docs): at most one blocking task
    // per request (`block_in_place` is called once per request); plus what a hand-off
    // starts, which is not per request: six allocations for each thread the blocking pool
    // starts (two were seen in 1,000 requests), and the `Defer` list of the worker context
    // that a hand-off creates on its new thread, once the connection task runs out of
    // budget there (one allocation, at most once per 128 units of budget).
    let at_most = |requests: usize| requests + requests / 100 + 10 * 6;
    assert!(
        few <= at_most(10),
        "{few} allocations for 10 requests: more than tokio's block_in_place hand-off"
    );
    assert!(
        many <= at_most(1_000),
        "{many} allocations for 1000 requests: more than tokio's block_in_place hand-off"
    );
}
