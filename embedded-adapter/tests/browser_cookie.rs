//! With header filtering, the default 1 KiB request buffer of a slot serves a browser request
//! that carries a 2 KiB `Cookie` header; without it, the same request is refused with 431.
//! Driven through the core with the configuration the slots use
//! ([`ServerConfig::core_config`]) and the default slot's buffer sizes.

use wsgiref::{Config, Connection, Event, Instant};
use wsgiref_embassy::ServerConfig;

/// A request as a desktop Chrome sends it, with a 2 KiB cookie; 2.6 KiB in all.
fn browser_request() -> Vec<u8> {
    let cookie: String = (0..2048)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    format!(
        "GET /status?verbose=1 HTTP/1.1\r\n\
         Host: 10.213.0.2:8080\r\n\
         Connection: keep-alive\r\n\
         Cache-Control: max-age=0\r\n\
         sec-ch-ua: \"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\"\r\n\
         sec-ch-ua-mobile: ?0\r\n\
         sec-ch-ua-platform: \"Linux\"\r\n\
         Upgrade-Insecure-Requests: 1\r\n\
         User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n\
         Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8\r\n\
         Sec-Fetch-Site: none\r\n\
         Sec-Fetch-Mode: navigate\r\n\
         Sec-Fetch-User: ?1\r\n\
         Sec-Fetch-Dest: document\r\n\
         Accept-Encoding: gzip, deflate, br, zstd\r\n\
         Accept-Language: en-US,en;q=0.9\r\n\
         Cookie: session={cookie}\r\n\
         \r\n"
    )
    .into_bytes()
}

/// Feeds `request` in TCP-sized pieces into a connection over a 1 KiB receive buffer; returns
/// the first event that is not `NeedData` and the environ's `HTTP_*` keys if it was a request.
fn serve(config: &Config<'_>, request: &[u8]) -> (String, Vec<String>) {
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 512]);
    let mut conn: Connection<'_> = Connection::new(config, &mut rx, &mut tx);
    let mut input = request;
    loop {
        match conn.poll_event(Instant::from_millis(0)) {
            Event::NeedData => {
                let buf = conn.receive_buf();
                let n = buf.len().min(input.len()).min(536);
                assert!(n > 0, "the connection wants more than the request has");
                buf[..n].copy_from_slice(&input[..n]);
                conn.handle_received(n);
                input = &input[n..];
            }
            Event::Request => {
                let mut arena = [0u8; 256];
                let (environ, _exchange) = conn.exchange(&mut arena).unwrap();
                let mut keys: Vec<String> = environ
                    .iter()
                    .map(|(k, _)| k.to_string())
                    .filter(|k| k.starts_with("HTTP_"))
                    .collect();
                keys.sort();
                assert_eq!(environ.get("QUERY_STRING"), Some(&b"verbose=1"[..]));
                assert_eq!(
                    environ
                        .get("HTTP_USER_AGENT")
                        .map(|v| v.starts_with(b"Mozilla/5.0")),
                    Some(true)
                );
                return ("request".into(), keys);
            }
            Event::Send(bytes) => {
                return (
                    String::from_utf8_lossy(bytes)
                        .lines()
                        .next()
                        .unwrap_or("")
                        .into(),
                    vec![],
                );
            }
            other => return (format!("{other:?}"), vec![]),
        }
    }
}

#[test]
fn filtered_headers_let_a_1k_buffer_serve_a_2k_cookie() {
    let request = browser_request();
    assert!(request.len() > 2048 + 512, "{}", request.len());
    let mut server = ServerConfig::new(8080);
    server.keep_headers = Some(&["Accept", "User-Agent"]);
    // The default slot: 1 KiB request buffer, 1 KiB body buffer.
    let config = server.core_config(1024);
    let (event, keys) = serve(&config, &request);
    assert_eq!(event, "request");
    assert_eq!(keys, ["HTTP_ACCEPT", "HTTP_HOST", "HTTP_USER_AGENT"]);
}

#[test]
fn without_filtering_the_same_request_is_refused_with_431() {
    let request = browser_request();
    let config = ServerConfig::new(8080).core_config(1024);
    let (event, _) = serve(&config, &request);
    assert_eq!(event, "HTTP/1.1 431 Request Header Fields Too Large");
}
