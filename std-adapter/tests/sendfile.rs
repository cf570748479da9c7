//! File bodies through the server's sendfile(2) path: exact bytes, HEAD without body, and
//! the connection kept alive after a file.

#[path = "common/slow.rs"]
mod slow;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use wsgiref::app::{AppError, Request, StartResponse};
use wsgiref_std::file::FileResponse;
use wsgiref_std::poll::{PollConfig, PollServer};
use wsgiref_std::server::{ServerConfig, WsgiServer};

fn fixture() -> PathBuf {
    sized_fixture("", 1_234_567)
}

/// A file of `len` deterministic bytes, named after `tag`.
fn sized_fixture(tag: &str, len: u32) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("wsgiref-sendfile{tag}-{}.bin", std::process::id()));
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    path
}

/// An application that answers every request with the file at `path`, by sendfile.
fn file_app(
    path: PathBuf,
) -> impl wsgiref::app::Application<Body = FileResponse> + Send + Sync + 'static {
    wsgiref::app::from_fn(
        move |_req: &mut Request<'_, '_>, sr: &mut StartResponse<'_>| {
            let file = FileResponse::open(&path).map_err(|_| AppError::new("open failed"))?;
            let len = file.len().to_string();
            sr.start(
                "200 OK",
                &[
                    ("Content-Type", "application/octet-stream"),
                    ("Content-Length", &len),
                ],
            )?;
            Ok(file)
        },
    )
}

#[test]
fn files_are_sent_whole_and_the_connection_persists() {
    let path = fixture();
    let expected = std::fs::read(&path).unwrap();
    let app = file_app(path.clone());
    let config = ServerConfig {
        quiet: true,
        ..ServerConfig::default()
    };
    let server = WsgiServer::bind(
        "127.0.0.1:0",
        app,
        config,
        wsgiref_std::server::DefaultHandler,
    )
    .unwrap();
    let addr = server.server_address();
    let client = thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .write_all(b"GET /f HTTP/1.1\r\nHost: a\r\n\r\nHEAD /f HTTP/1.1\r\nHost: a\r\n\r\nGET /f HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut all = Vec::new();
        stream.read_to_end(&mut all).unwrap();
        all
    });
    let served_requests = server.handle_connection().unwrap();
    let all = client.join().unwrap();
    assert_eq!(served_requests, 3);
    let head = "HTTP/1.1 200 OK\r\n";
    let mut rest = &all[..];
    for (i, has_body) in [(0, true), (1, false), (2, true)] {
        assert!(rest.starts_with(head.as_bytes()), "response {i}");
        let end = rest.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let text = String::from_utf8_lossy(&rest[..end]).to_string();
        assert!(
            text.contains(&format!("Content-Length: {}\r\n", expected.len())),
            "{text}"
        );
        rest = &rest[end..];
        if has_body {
            assert_eq!(&rest[..expected.len()], &expected[..], "response {i} body");
            rest = &rest[expected.len()..];
        }
    }
    assert!(rest.is_empty(), "{} extra bytes", rest.len());
    let _ = std::fs::remove_file(&path);
}

/// The client of the slow-reader tests: asks for `/f` with `request` and reads the answer
/// at 2.5 MB/s. Returns what it read and how long that took.
fn fetch_slowly(
    addr: std::net::SocketAddr,
    request: &[u8],
) -> (Result<(String, Vec<u8>), String>, Duration) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let started = Instant::now();
    let result = slow::read_slowly(&mut stream, 2.5e6);
    (result, started.elapsed())
}

/// The slow reader got the whole file, and the transfer took long enough to outlast the
/// write timeout many times.
fn check_slow_fetch(
    (result, took): (Result<(String, Vec<u8>), String>, Duration),
    expected: &[u8],
) {
    let (head, body) = result.unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(body == expected, "the file differs");
    assert!(
        took > Duration::from_secs(3),
        "read too fast to show anything"
    );
}

/// On the thread pool, whose blocking sends wait for any room (`SO_SNDTIMEO` bounds each),
/// a client that reads a file steadily but slowly gets all of it under a write timeout far
/// shorter than the transfer: the event loop's test below, for the other engine.
#[test]
fn a_slow_steady_reader_gets_the_whole_file_on_the_thread_pool() {
    let path = sized_fixture("-slow-pool", 8 << 20);
    let expected = std::fs::read(&path).unwrap();
    let config = ServerConfig {
        write_timeout: Duration::from_millis(300),
        quiet: true,
        ..ServerConfig::default()
    };
    let server = WsgiServer::bind(
        "127.0.0.1:0",
        file_app(path.clone()),
        config,
        wsgiref_std::server::DefaultHandler,
    )
    .unwrap();
    let addr = server.server_address();
    let serving = thread::spawn(move || server.handle_connection().unwrap());
    let fetched = fetch_slowly(
        addr,
        b"GET /f HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    serving.join().unwrap();
    let _ = std::fs::remove_file(&path);
    check_slow_fetch(fetched, &expected);
}

/// On the event loop, a client that reads a file steadily but slowly gets all of it: the
/// write timeout counts sendfile's time without progress (see `poll.rs`'s
/// `a_slow_steady_reader_gets_its_whole_response`).
#[test]
fn a_slow_steady_reader_gets_the_whole_file_on_the_event_loop() {
    let path = sized_fixture("-slow", 8 << 20);
    let expected = std::fs::read(&path).unwrap();
    let config = PollConfig {
        write_timeout: Duration::from_millis(300),
        quiet: true,
        ..PollConfig::default()
    };
    let server = PollServer::bind(
        "127.0.0.1:0",
        file_app(path.clone()),
        config,
        wsgiref_std::server::DefaultHandler,
    )
    .unwrap();
    let addr = server.server_address();
    let stop = server.shutdown_handle();
    let serving = thread::spawn(move || server.serve_forever().unwrap());
    let fetched = fetch_slowly(addr, b"GET /f HTTP/1.1\r\nHost: a\r\n\r\n");
    stop.shutdown();
    serving.join().unwrap();
    let _ = std::fs::remove_file(&path);
    check_slow_fetch(fetched, &expected);
}
