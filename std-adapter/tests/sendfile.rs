//! File bodies through the server's sendfile(2) path: exact bytes, HEAD without body, and
//! the connection kept alive after a file.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::thread;

use wsgiref::app::{AppError, Request, StartResponse};
use wsgiref_std::file::FileResponse;
use wsgiref_std::server::{ServerConfig, WsgiServer};

fn fixture() -> PathBuf {
    let path = std::env::temp_dir().join(format!("wsgiref-sendfile-{}.bin", std::process::id()));
    let data: Vec<u8> = (0..1_234_567u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    path
}

#[test]
fn files_are_sent_whole_and_the_connection_persists() {
    let path = fixture();
    let expected = std::fs::read(&path).unwrap();
    let served = path.clone();
    let app = wsgiref::app::from_fn(
        move |_req: &mut Request<'_, '_>, sr: &mut StartResponse<'_>| {
            let file = FileResponse::open(&served).map_err(|_| AppError::new("open failed"))?;
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
    );
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
