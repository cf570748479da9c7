//! The connection, driven through tables of vectors: each request is fed whole, in reads of
//! every size, and cut in two at every offset, and must give the same transcript each time.

mod common;

use common::{Split, Transcript, run, run_all_splits};
use wsgiref::{Config, Limits};

const RX: usize = 4096;

fn check_env(t: &Transcript, i: usize, expected: &[(&str, &[u8])], name: &str) {
    for (key, want) in expected {
        assert_eq!(
            t.env(i, key),
            Some(*want),
            "{name}: request {i} {key}: got {:?}",
            t.env(i, key).map(String::from_utf8_lossy)
        );
    }
}

/// Valid requests and the environ variables they must produce (CPython `get_environ` facts
/// of wsgiref-behaviour §4.6 where they apply to HTTP/1.1, and RFC 9112 framing).
#[test]
fn valid_requests_give_their_environ() {
    type Vector = (
        &'static str,
        &'static [u8],
        &'static [(&'static str, &'static [u8])],
        &'static [u8],
    );
    let table: &[Vector] = &[
        (
            "minimal HTTP/1.1",
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            &[
                ("REQUEST_METHOD", b"GET"),
                ("SCRIPT_NAME", b""),
                ("PATH_INFO", b"/"),
                ("QUERY_STRING", b""),
                ("SERVER_PROTOCOL", b"HTTP/1.1"),
                ("HTTP_HOST", b"a"),
                ("CONTENT_TYPE", b"text/plain"),
                ("CONTENT_LENGTH", b""),
                ("GATEWAY_INTERFACE", b"CGI/1.1"),
                ("SERVER_NAME", b"localhost"),
                ("SERVER_PORT", b"80"),
                // simple_server's base environ (wsgiref-behaviour §4.3).
                ("REMOTE_HOST", b""),
                ("wsgi.url_scheme", b"http"),
                ("wsgi.multithread", b"False"),
                ("wsgi.version", b"(1, 0)"),
            ],
            b"",
        ),
        (
            // CPython IntegrationTests.test_environ (LF-only lines, repeated field).
            "test_environ",
            b"GET /p%61th/?query=test HTTP/1.0\nX-Test-Header: Python test \nX-Test-Header: Python test 2\nContent-Length: 0\n\n",
            &[
                ("PATH_INFO", b"/path/"),
                ("QUERY_STRING", b"query=test"),
                ("HTTP_X_TEST_HEADER", b"Python test,Python test 2"),
                ("CONTENT_LENGTH", b"0"),
                ("SERVER_PROTOCOL", b"HTTP/1.0"),
            ],
            b"",
        ),
        (
            // wsgiref-behaviour §4.6 full example, without `#frag` (a fragment is not part of
            // a request-target, RFC 9112 §3.2) and with `X_Foo` dropped (underscore names
            // never become HTTP_*; CPython joins them, a spoofing vector, §8.2).
            "get_environ full example",
            b"POST /a%20b/%2Fc%zz+d?x=%20y&z HTTP/1.1\r\nHost: example.com:8080\r\nContent-Type:  application/x-www-form-urlencoded  \r\nContent-Length: 3\r\nX-Foo: 1\r\nX_Foo: 2\r\nx-foo:  3  \r\nRemote-Addr: 6.6.6.6\r\nScript-Name: /evil\r\nHttp-Host: hh\r\nCookie: a=1\r\nCookie: b=2\r\nX-Latin: caf\xe9\r\n\r\nabc",
            &[
                ("CONTENT_LENGTH", b"3"),
                ("CONTENT_TYPE", b"application/x-www-form-urlencoded"),
                ("HTTP_COOKIE", b"a=1,b=2"),
                ("HTTP_HOST", b"example.com:8080"),
                ("HTTP_X_FOO", b"1,3"),
                ("HTTP_X_LATIN", b"caf\xe9"),
                ("HTTP_REMOTE_ADDR", b"6.6.6.6"),
                ("HTTP_SCRIPT_NAME", b"/evil"),
                ("HTTP_HTTP_HOST", b"hh"),
                ("PATH_INFO", b"/a b//c%zz+d"),
                ("QUERY_STRING", b"x=%20y&z"),
                ("REQUEST_METHOD", b"POST"),
                ("SCRIPT_NAME", b""),
            ],
            b"abc",
        ),
        (
            // CPython test_cp1252_url: a raw 0x80 and %80 both become byte 0x80.
            "cp1252 url",
            b"GET /\x80%80 HTTP/1.0\r\n\r\n",
            &[("PATH_INFO", b"/\x80\x80")],
            b"",
        ),
        (
            "leading double slash collapses (gh-87389)",
            b"GET //x//y HTTP/1.0\r\n\r\n",
            &[("PATH_INFO", b"/x//y")],
            b"",
        ),
        (
            "absolute-form takes the path from the target",
            b"GET http://example.com:8080/p/q?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
            &[("PATH_INFO", b"/p/q"), ("QUERY_STRING", b"x=1")],
            b"",
        ),
        (
            // RFC 9112 §3.2.2: the server ignores a received Host and uses the target's.
            "absolute-form: HTTP_HOST is the target's authority",
            b"GET http://other.example:81/p?x=1 HTTP/1.1\r\nHost: a\r\n\r\n",
            &[
                ("HTTP_HOST", b"other.example:81"),
                ("PATH_INFO", b"/p"),
                ("QUERY_STRING", b"x=1"),
            ],
            b"",
        ),
        (
            "absolute-form without a Host field (HTTP/1.0)",
            b"GET https://[::1]:8443//a?q HTTP/1.0\r\n\r\n",
            &[("HTTP_HOST", b"[::1]:8443"), ("PATH_INFO", b"/a"), ("QUERY_STRING", b"q")],
            b"",
        ),
        (
            "absolute-form with an empty path",
            b"GET http://h.example?q HTTP/1.1\r\nHost: h.example\r\n\r\n",
            // RFC 9110 §4.2.3: an empty path is `/`, as the origin-form would send it.
            &[("HTTP_HOST", b"h.example"), ("PATH_INFO", b"/"), ("QUERY_STRING", b"q")],
            b"",
        ),
        (
            "absolute-form with neither path nor query",
            b"GET http://h.example HTTP/1.1\r\nHost: h.example\r\n\r\n",
            &[("HTTP_HOST", b"h.example"), ("PATH_INFO", b"/"), ("QUERY_STRING", b"")],
            b"",
        ),
        (
            "asterisk-form",
            b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
            &[("REQUEST_METHOD", b"OPTIONS"), ("PATH_INFO", b"*")],
            b"",
        ),
        (
            "any method token, query split at the first ?",
            b"PURGE /x?a?b HTTP/1.1\r\nHost: a\r\n\r\n",
            &[("REQUEST_METHOD", b"PURGE"), ("PATH_INFO", b"/x"), ("QUERY_STRING", b"a?b")],
            b"",
        ),
        (
            "empty lines before the request line are skipped",
            b"\r\n\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
            &[("PATH_INFO", b"/")],
            b"",
        ),
        (
            "HTTP/1.2 is served as 1.1, SERVER_PROTOCOL as sent",
            b"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
            &[("SERVER_PROTOCOL", b"HTTP/1.2")],
            b"",
        ),
        (
            "chunked body with extensions and trailers",
            b"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nT: 1\r\n\r\n",
            &[("CONTENT_LENGTH", b""), ("HTTP_TRANSFER_ENCODING", b"chunked")],
            b"hello world",
        ),
        (
            "values are trimmed of OWS",
            b"GET / HTTP/1.1\r\nHost:a\r\nX-A:\t v \t\r\nX-Empty:\r\n\r\n",
            &[("HTTP_X_A", b"v"), ("HTTP_X_EMPTY", b""), ("HTTP_HOST", b"a")],
            b"",
        ),
        (
            "repeated Content-Length that agrees",
            b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
            &[("CONTENT_LENGTH", b"2")],
            b"ok",
        ),
    ];
    let config = Config::DEFAULT;
    for (name, input, expected, body) in table {
        let t = run_all_splits(&config, input, RX);
        assert_eq!(t.environs.len(), 1, "{name}: {:?}", t.log);
        check_env(&t, 0, expected, name);
        assert_eq!(t.bodies[0], *body, "{name}");
        assert_eq!(t.statuses(), [200], "{name}: {:?}", t.log);
    }
}

#[test]
fn underscore_fields_never_become_http_variables() {
    let input = b"POST / HTTP/1.1\r\nHost: a\r\nContent_Length: 99\r\nX_Forwarded_For: 6.6.6.6\r\nContent-Length: 1\r\n\r\nz";
    let t = run_all_splits(&Config::DEFAULT, input, RX);
    assert_eq!(t.env(0, "CONTENT_LENGTH"), Some(&b"1"[..]));
    assert_eq!(t.env(0, "HTTP_X_FORWARDED_FOR"), None);
    assert_eq!(t.env(0, "HTTP_CONTENT_LENGTH"), None);
    assert!(t.environs[0].iter().all(|(k, _)| !k.contains("FORWARDED")));
    assert_eq!(t.bodies[0], b"z");
}

/// Invalid requests and the exact status each is answered with. After the answer the
/// connection closes and nothing after the bad request is processed.
#[test]
fn invalid_requests_get_their_status_and_close() {
    let table: &[(&str, &[u8], u16)] = &[
        ("CL with TE", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("TE with CL", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400),
        ("differing CL", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        ("CL list differs", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n", 400),
        ("CL sign", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", 400),
        ("CL negative", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
        ("CL inner space", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", 400),
        ("CL non-digit", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1a\r\n\r\n", 400),
        ("CL empty", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400),
        ("CL overflow", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
        ("TE unknown", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        ("TE identity", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 400),
        ("TE gzip then chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("TE chunked not last", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
        ("TE chunked twice", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("TE on HTTP/1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("chunk size 0x", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 400),
        ("chunk size sign", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n", 400),
        ("chunk size underscore", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5_0\r\nhello\r\n0\r\n\r\n", 400),
        ("chunk size empty", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n", 400),
        ("chunk size overflow", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n", 400),
        ("chunk data without CRLF", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n", 400),
        ("obs-fold", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400),
        ("whitespace before colon", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
        ("bare CR in a value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400),
        ("bare CR in the request line", b"GET / HTTP/1.1\rX\r\nHost: a\r\n\r\n", 400),
        ("NUL in a value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400),
        ("no colon", b"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400),
        ("CTL in target", b"GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("space in target", b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("fragment in target", b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("asterisk without OPTIONS", b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        // CONNECT opens a tunnel, which this origin server does not implement (RFC 9110
        // §9.1): 501 in any request form (before, origin-form and absolute-form CONNECT
        // reached the application, whose 2xx a client takes for an open tunnel).
        ("CONNECT authority-form", b"CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 501),
        ("CONNECT origin-form", b"CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", 501),
        ("CONNECT absolute-form", b"CONNECT http://a/p HTTP/1.1\r\nHost: a\r\n\r\n", 501),
        ("authority-form", b"GET a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("invalid method", b"G(ET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("double space", b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("bad version", b"GET / HTTP/1.x\r\nHost: a\r\n\r\n", 400),
        ("lower-case version", b"GET / http/1.1\r\nHost: a\r\n\r\n", 400),
        ("HTTP/2.0", b"GET / HTTP/2.0\r\n\r\n", 505),
        ("HTTP/3.1", b"GET / HTTP/3.1\r\nHost: a\r\n\r\n", 505),
        ("HTTP/0.9 request line", b"GET /\r\n\r\n", 400),
        ("no Host in HTTP/1.1", b"GET / HTTP/1.1\r\n\r\n", 400),
        ("two Hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("invalid Host", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
        ("Host with userinfo", b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400),
        ("too many empty lines", b"\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("truncated head", b"GET / HTTP/1.1\r\nHost: a\r\n", 400),
    ];
    let config = Config::DEFAULT;
    for (name, bad, status) in table {
        // The bad request, then a good one that must never be served.
        let mut input = bad.to_vec();
        if !name.starts_with("truncated") {
            input.extend_from_slice(b"GET /after HTTP/1.1\r\nHost: a\r\n\r\n");
        }
        let t = run_all_splits(&config, &input, RX);
        assert_eq!(t.statuses(), [*status], "{name}: {:?}", t.log);
        assert!(
            !t.log.iter().any(|l| l == "request /after"),
            "{name}: a request after the error was processed: {:?}",
            t.log
        );
        assert!(
            common::find(&t.output, b"Connection: close\r\n").is_some(),
            "{name}"
        );
        assert_eq!(t.log.last().map(String::as_str), Some("close"), "{name}");
    }
}

/// Each limit is configurable and has its own status.
#[test]
fn limits_have_their_status() {
    let config = Config {
        limits: Limits {
            max_request_line: 64,
            max_head: 256,
            max_headers: 4,
            max_body: 10,
            max_chunk_line: 16,
            max_trailers: 32,
            ..Limits::DEFAULT
        },
        ..Config::DEFAULT
    };
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "x".repeat(64));
    let big_head = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "v".repeat(250)
    );
    // A method longer than the request-line limit (no space among its first 64 octets):
    // RFC 9112 §3, SHOULD 501.
    let long_method = format!("{} / HTTP/1.1\r\nHost: a\r\n\r\n", "M".repeat(80));
    let table: &[(&str, &[u8], u16)] = &[
        ("request line over the limit", long_target.as_bytes(), 414),
        ("method over the request-line limit", long_method.as_bytes(), 501),
        ("head over the limit", big_head.as_bytes(), 431),
        ("too many fields", b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", 431),
        ("declared body over the limit", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", 413),
        ("streamed body over the limit", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nabcdef\r\n0\r\n\r\n", 413),
        ("chunk extension over the limit", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;aaaaaaaaaaaaaaaaaaaa\r\nx\r\n0\r\n\r\n", 400),
        ("trailers over the limit", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n", 431),
    ];
    for (name, input, status) in table {
        let t = run_all_splits(&config, input, RX);
        assert_eq!(t.statuses(), [*status], "{name}: {:?}", t.log);
    }
    // At the limits, everything is accepted.
    let at_limit = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "x".repeat(64 - 15));
    let t = run_all_splits(&config, at_limit.as_bytes(), RX);
    assert_eq!(t.statuses(), [200]);
}

/// Around the receive buffer's size: a request with a body is either refused with 431 (its
/// head leaves no room to read the body through) or served with its body intact, for every
/// buffer size, read split and keep list; never stuck with a body it cannot read. Past the
/// smallest size that serves it, every larger one does too.
#[test]
fn a_head_near_the_receive_buffer_size_is_served_or_refused_431() {
    let cl = &b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nX: vvvvvvvvvv\r\n\r\nabc"[..];
    let te = &b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX: vvvvvvvvvv\r\n\r\n3\r\nabc\r\n0\r\n\r\n"[..];
    for keep in [None, Some(&["HTTP_HOST"][..]), Some(&[][..])] {
        let config = Config {
            keep_headers: keep,
            ..Config::DEFAULT
        };
        for input in [cl, te] {
            let mut served_from = None;
            for rx in 24..input.len() + 4 {
                let t = run_all_splits(&config, input, rx);
                let case = format!("{keep:?}, {} bytes, rx {rx}", input.len());
                match (t.statuses().as_slice(), served_from) {
                    ([431], None) => assert!(t.bodies.is_empty(), "{case}"),
                    ([200], _) => {
                        assert_eq!(t.bodies, [b"abc".to_vec()], "{case}");
                        served_from.get_or_insert(rx);
                    }
                    (other, _) => panic!("{case}: {other:?} after serving from {served_from:?}"),
                }
            }
            assert!(served_from.is_some_and(|rx| rx <= input.len()), "{keep:?}");
        }
    }
}

#[test]
fn eight_thousand_octet_targets_are_accepted_by_default() {
    let input = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(7999));
    let t = run(
        &Config::DEFAULT,
        input.as_bytes(),
        Split::Every(1000),
        16 * 1024,
    );
    assert_eq!(t.statuses(), [200], "{:?}", t.log);
    assert_eq!(t.env(0, "PATH_INFO").map(<[u8]>::len), Some(8000));
}

/// Pipelined and persistent requests are answered in order; HTTP/1.0 persists only with
/// keep-alive; `Connection: close` ends the connection after its response.
#[test]
fn persistence_and_pipelining() {
    let config = Config::DEFAULT;
    let input = b"POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\nHost: a\r\n\r\nPOST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\nGET /4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\nHost: a\r\n\r\n";
    let t = run_all_splits(&config, input, RX);
    let paths: Vec<_> = t
        .environs
        .iter()
        .map(|e| e.iter().find(|(k, _)| k == "PATH_INFO").unwrap().1.clone())
        .collect();
    assert_eq!(
        paths,
        [
            b"/1".to_vec(),
            b"/2".to_vec(),
            b"/3".to_vec(),
            b"/4".to_vec()
        ]
    );
    // Every request whole: no byte of a request after a body is taken as body (the `G` of
    // `GET /4` after the chunked body of `/3` once was, and `/4` arrived as `ET /4`).
    let methods: Vec<_> = (0..4)
        .map(|i| t.env(i, "REQUEST_METHOD").unwrap().to_vec())
        .collect();
    assert_eq!(methods, [&b"POST"[..], b"GET", b"POST", b"GET"]);
    assert_eq!(t.bodies, [b"abc".to_vec(), vec![], b"xy".to_vec(), vec![]]);
    assert_eq!(t.statuses(), [200, 200, 200, 200]);
    assert_eq!(t.log.iter().filter(|l| *l == "next").count(), 3);
    assert_eq!(t.log.last().map(String::as_str), Some("close"));

    let t = run_all_splits(
        &config,
        b"GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n",
        RX,
    );
    assert_eq!(t.environs.len(), 1, "HTTP/1.0 without keep-alive closes");
    assert!(common::find(&t.output, b"Connection: close\r\n").is_some());

    let t = run_all_splits(
        &config,
        b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n",
        RX,
    );
    assert_eq!(t.environs.len(), 2, "HTTP/1.0 with keep-alive persists");
    assert!(common::find(&t.output, b"Connection: keep-alive\r\n").is_some());
}

/// A body the application did not read is drained (bounded), never parsed as a request.
#[test]
fn unread_bodies_are_drained_not_parsed() {
    use wsgiref::{Connection, Event, Instant};
    let config = Config::DEFAULT;
    // The body looks like a request: it must not be served.
    let input = b"POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 31\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let mut conn: Connection<'_> = Connection::new(&config, &mut rx, &mut tx);
    conn.receive_buf()[..input.len()].copy_from_slice(input);
    conn.handle_received(input.len());
    let now = Instant::from_millis(0);
    let mut served = Vec::new();
    loop {
        match conn.poll_event(now) {
            Event::Request => {
                let mut arena = [0u8; 64];
                let (env, mut ex) = conn.exchange(&mut arena).unwrap();
                served.push(env.get("PATH_INFO").unwrap().to_vec());
                ex.start_response("204 No Content", &[] as &[(&str, &str)])
                    .unwrap();
                let t = ex.finish().unwrap();
                assert!(
                    std::str::from_utf8(t.head)
                        .unwrap()
                        .starts_with("HTTP/1.1 204 No Content\r\n")
                );
                assert!(
                    !std::str::from_utf8(t.head)
                        .unwrap()
                        .contains("Content-Length")
                );
            }
            Event::NextCycle => {}
            Event::NeedData => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(served, [b"/1".to_vec(), b"/2".to_vec()]);
}

/// `Environ::request_line_vars` is `get` of its five variables, on a request's environ as
/// parsed and after middleware changed it (the access log of the embedded adapter reads it).
#[test]
fn request_line_vars_are_what_get_gives() {
    use wsgiref::{Connection, Event, Instant};
    const KEYS: [&str; 5] = [
        "REQUEST_METHOD",
        "SCRIPT_NAME",
        "PATH_INFO",
        "QUERY_STRING",
        "SERVER_PROTOCOL",
    ];
    let config = Config::DEFAULT;
    for input in [
        &b"GET /a/b?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"[..],
        b"POST http://h.example?q HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    ] {
        // As parsed; then with each of several middleware changes.
        for change in 0..5 {
            let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
            let mut conn: Connection<'_> = Connection::new(&config, &mut rx, &mut tx);
            conn.receive_buf()[..input.len()].copy_from_slice(input);
            conn.handle_received(input.len());
            assert!(matches!(
                conn.poll_event(Instant::from_millis(0)),
                Event::Request
            ));
            let mut arena = [0u8; 128];
            let (mut environ, _exchange) = conn.exchange(&mut arena).expect("in Request");
            match change {
                0 => {}
                1 => environ.set("REMOTE_USER", b"alice").unwrap(),
                2 => {
                    environ.set("SCRIPT_NAME", b"/a").unwrap();
                    environ.set("PATH_INFO", b"/b").unwrap();
                }
                3 => environ.remove("QUERY_STRING").unwrap(),
                _ => environ
                    .set_value("REQUEST_METHOD", wsgiref::Value::Bool(true))
                    .unwrap(),
            }
            let want = KEYS.map(|key| environ.get(key));
            assert_eq!(
                environ.request_line_vars(),
                want,
                "{input:?} change {change}"
            );
        }
    }
}
