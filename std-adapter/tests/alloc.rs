//! No heap allocation per request in steady state: one keep-alive connection served on the
//! test thread allocates the same for 10 requests as for 1,000, on the thread pool's
//! connection loop and on the event loop (whose thread is the test's), once the thread has
//! served a first connection (which allocates its access-log line buffer, kept for reuse).

use std::net::TcpStream;
use std::thread;

use wsgiref_std::poll::{PollConfig, PollServer};
use wsgiref_std::server::{ServerConfig, WsgiServer};

#[path = "common/alloc.rs"]
mod common;
use common::{SinkLog, hello, requests};

/// Serves `n` requests on one connection; returns the allocations made by the serving thread.
fn allocations_for(n: usize) -> u64 {
    let server = WsgiServer::bind("127.0.0.1:0", hello, ServerConfig::default(), SinkLog).unwrap();
    let addr = server.server_address();
    let client = thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        requests(&mut stream, n);
    });
    let mut served = 0;
    let info = allocation_counter::measure(|| {
        served = server.handle_connection().unwrap();
    });
    client.join().unwrap();
    assert_eq!(served as usize, n);
    info.count_total
}

#[test]
fn steady_state_requests_do_not_allocate() {
    // Once per thread: the access log's line buffer, kept for the thread's later requests.
    allocations_for(1);
    let few = allocations_for(10);
    let many = allocations_for(1_000);
    eprintln!("allocations: {few} for 10 requests, {many} for 1000");
    assert_eq!(
        few, many,
        "allocations grew with the number of requests: {few} for 10, {many} for 1000"
    );
    // The only allocations are the connection's two buffers (and what std does once).
    assert!(few <= 8, "{few} allocations for one connection");
}

/// The event loop, run on the test thread from start to shutdown: `n` requests on one
/// connection, beside an idle keep-alive connection whose deadline stays the earliest of
/// the loop's (so that no later timer can be dropped from the top of the timer heap on
/// the way). Returns the allocations of the loop's thread.
fn poll_allocations_for(n: usize) -> u64 {
    let config = PollConfig {
        max_connections: 4,
        ..PollConfig::default()
    };
    let server = PollServer::bind("127.0.0.1:0", hello, config, SinkLog).unwrap();
    let addr = server.server_address();
    let stop = server.shutdown_handle();
    let client = thread::spawn(move || {
        let mut idle = TcpStream::connect(addr).unwrap();
        requests(&mut idle, 1);
        let mut busy = TcpStream::connect(addr).unwrap();
        requests(&mut busy, n);
        stop.shutdown();
    });
    let info = allocation_counter::measure(|| server.serve_forever().unwrap());
    client.join().unwrap();
    info.count_total
}

#[test]
fn steady_state_requests_do_not_allocate_on_the_event_loop() {
    poll_allocations_for(1);
    let few = poll_allocations_for(10);
    let many = poll_allocations_for(1_000);
    eprintln!("event loop: {few} allocations for 10 requests, {many} for 1000");
    assert_eq!(
        few, many,
        "allocations grew with the number of requests: {few} for 10, {many} for 1000"
    );
}
