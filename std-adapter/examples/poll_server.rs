//! A single-threaded, non-blocking server: one epoll event loop serving up to 1,000
//! concurrent keep-alive connections with a fixed amount of memory per connection (a
//! 16 KiB receive and a 16 KiB transmit buffer per slot, reserved once and touched only when
//! used), the core's deadlines
//! driving the poll timeout.
//!
//!     cargo run --release --example poll_server -- [ADDR:PORT] [demo|hello|echo|files=DIR]
//!
//! Then, for instance, `wrk -t2 -c1000 -d10s http://127.0.0.1:8000/`.

use wsgiref_std::apps::AnyApp;
use wsgiref_std::poll::{PollConfig, PollServer, raise_fd_limit};
use wsgiref_std::server::DefaultHandler;

const CONNECTIONS: usize = 1000;

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8000".to_string());
    let app: AnyApp = match args.next().unwrap_or_else(|| "hello".to_string()).parse() {
        Ok(app) => app,
        Err(e) => {
            eprintln!("poll_server: {e}");
            std::process::exit(2);
        }
    };
    // One descriptor per connection, plus the listener, the poll and a few for stdio.
    let limit = raise_fd_limit(CONNECTIONS as u64 + 16);
    if limit < CONNECTIONS as u64 + 16 {
        eprintln!("poll_server: only {limit} open files allowed; fewer connections will fit");
    }
    let config = PollConfig {
        max_connections: CONNECTIONS,
        quiet: true,
        ..PollConfig::default()
    };
    let server = PollServer::bind(addr.as_str(), app, config, DefaultHandler)
        .unwrap_or_else(|e| panic!("cannot listen on {addr}: {e}"));
    let handle = server.shutdown_handle();
    ctrlc::set_handler(move || handle.shutdown()).expect("install the Ctrl-C handler");
    println!(
        "Serving on http://{}/ with one thread, up to {CONNECTIONS} connections",
        server.server_address()
    );
    server.serve_forever().expect("the event loop failed");
}
