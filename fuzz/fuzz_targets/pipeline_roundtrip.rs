//! Pipelined requests round trip: a list of valid requests (any method, a path, a body with
//! no framing, a Content-Length or chunked in arbitrary chunks), sent back to back on one
//! connection and cut into arbitrary reads, comes out as exactly those requests, in order,
//! each with its own method, path and body: no byte of one request is lost, taken as body,
//! or given to the next.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wsgiref::Config;
use wsgiref_fuzz::run;

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "X-CUSTOM",
];
const PATH: &[u8] = b"abcxyz0189-._~!$&'()*+,;=:@/";

#[derive(Arbitrary, Debug)]
struct Req<'a> {
    method: u8,
    path: &'a [u8],
    body: &'a [u8],
    /// 0: no body framing (and no body), 1: Content-Length, 2: chunked.
    framing: u8,
    /// Chunk sizes, used in turn (0 counts as 1).
    chunks: &'a [u8],
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    requests: Vec<Req<'a>>,
    splits: &'a [u8],
}

struct Expected {
    method: &'static str,
    path: Vec<u8>,
    body: Vec<u8>,
}

fn encode(req: &Req<'_>, last: bool, out: &mut Vec<u8>) -> Expected {
    let method = METHODS[usize::from(req.method) % METHODS.len()];
    let mut path = b"/".to_vec();
    path.extend(
        req.path
            .iter()
            .take(48)
            .map(|&b| PATH[usize::from(b) % PATH.len()]),
    );
    let framing = req.framing % 3;
    let body: Vec<u8> = if framing == 0 {
        Vec::new()
    } else {
        req.body.iter().take(2048).copied().collect()
    };
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(&path);
    out.extend_from_slice(b" HTTP/1.1\r\nHost: example\r\n");
    if last {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    match framing {
        1 => out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes()),
        2 => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n"),
        _ => out.extend_from_slice(b"\r\n"),
    }
    match framing {
        1 => out.extend_from_slice(&body),
        2 => {
            let mut rest = &body[..];
            let mut turn = 0;
            while !rest.is_empty() {
                let size = req
                    .chunks
                    .get(turn % req.chunks.len().max(1))
                    .map_or(rest.len(), |&s| usize::from(s).max(1))
                    .min(rest.len());
                turn += 1;
                out.extend_from_slice(format!("{size:x}\r\n").as_bytes());
                out.extend_from_slice(&rest[..size]);
                out.extend_from_slice(b"\r\n");
                rest = &rest[size..];
            }
            out.extend_from_slice(b"0\r\n\r\n");
        }
        _ => {}
    }
    // PATH_INFO: no `%` in the alphabet, so no decoding; leading slashes collapse to one
    // (`http.server`'s rule against `//host` targets).
    let start = path.iter().position(|&b| b != b'/').unwrap_or(path.len());
    let mut expected_path = b"/".to_vec();
    expected_path.extend_from_slice(&path[start..]);
    Expected {
        method,
        path: expected_path,
        body,
    }
}

fuzz_target!(|input: Input<'_>| {
    let requests = &input.requests[..input.requests.len().min(8)];
    if requests.is_empty() {
        return;
    }
    let mut wire = Vec::new();
    let expected: Vec<Expected> = requests
        .iter()
        .enumerate()
        .map(|(i, r)| encode(r, i + 1 == requests.len(), &mut wire))
        .collect();
    let config = Config::DEFAULT;
    let t = run(&config, &wire, input.splits, 4096);
    assert!(
        t.sends.is_empty() && t.fails.is_empty(),
        "rejected: {:?}",
        t.log
    );
    assert_eq!(t.environs.len(), expected.len(), "{:?}", t.log);
    for (i, want) in expected.iter().enumerate() {
        assert_eq!(
            t.env(i, "REQUEST_METHOD"),
            Some(want.method.as_bytes()),
            "request {i}"
        );
        assert_eq!(t.env(i, "PATH_INFO"), Some(&want.path[..]), "request {i}");
        assert_eq!(t.bodies[i], want.body, "request {i}: body");
    }
    assert!(t.closed, "{:?}", t.log);
    assert_eq!(
        t.log.iter().filter(|l| *l == "next").count(),
        expected.len() - 1
    );
});
