//! Chunked request bodies: an encoded list of chunks (with extensions and trailers) decodes
//! to their concatenation however it is split; raw bytes as a chunked body never panic and
//! either decode or get a 4xx.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wsgiref::Config;
use wsgiref_fuzz::{response_status, run};

const TOKEN: &[u8] = b"abcxyzABCXYZ019!#$%&'*+-.^_`|~";
const QTEXT: &[u8] = b"abc 019\t!#;=,/\\\"";

fn from(alpha: &[u8], bytes: &[u8], max: usize) -> Vec<u8> {
    bytes
        .iter()
        .take(max)
        .map(|&b| alpha[usize::from(b) % alpha.len()])
        .collect()
}

#[derive(Arbitrary, Debug)]
struct Ext<'a> {
    name: &'a [u8],
    /// 0: none, 1: token, 2: quoted string.
    kind: u8,
    value: &'a [u8],
    ws: bool,
}

#[derive(Arbitrary, Debug)]
struct Chunk<'a> {
    data: &'a [u8],
    exts: Vec<Ext<'a>>,
    upper_hex: bool,
    zeros: u8,
}

#[derive(Arbitrary, Debug)]
enum Mode<'a> {
    Encoded {
        chunks: Vec<Chunk<'a>>,
        last_exts: Vec<Ext<'a>>,
        trailers: Vec<(&'a [u8], &'a [u8])>,
    },
    Raw(&'a [u8]),
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    mode: Mode<'a>,
    splits: &'a [u8],
    rx: u16,
}

fn ext(out: &mut Vec<u8>, e: &Ext<'_>) {
    let name = from(TOKEN, e.name, 8);
    if name.is_empty() {
        return;
    }
    if e.ws {
        out.push(b' ');
    }
    out.push(b';');
    if e.ws {
        out.push(b' ');
    }
    out.extend_from_slice(&name);
    match e.kind % 3 {
        1 => {
            let v = from(TOKEN, e.value, 8);
            if !v.is_empty() {
                out.push(b'=');
                out.extend_from_slice(&v);
            }
        }
        2 => {
            out.extend_from_slice(b"=\"");
            for b in from(QTEXT, e.value, 8) {
                if b == b'"' || b == b'\\' {
                    out.push(b'\\');
                }
                out.push(b);
            }
            out.push(b'"');
        }
        _ => {}
    }
}

const HEAD: &[u8] = b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";

fuzz_target!(|input: Input<'_>| {
    let config = Config::DEFAULT;
    let rx = 256 + usize::from(input.rx % 4096);
    let mut req = HEAD.to_vec();
    match &input.mode {
        Mode::Encoded {
            chunks,
            last_exts,
            trailers,
        } => {
            let mut expected = Vec::new();
            for c in chunks.iter().take(32) {
                if c.data.is_empty() {
                    continue;
                }
                expected.extend_from_slice(c.data);
                let zeros = "0".repeat(usize::from(c.zeros % 4));
                let size = if c.upper_hex {
                    format!("{zeros}{:X}", c.data.len())
                } else {
                    format!("{zeros}{:x}", c.data.len())
                };
                req.extend_from_slice(size.as_bytes());
                for e in c.exts.iter().take(4) {
                    ext(&mut req, e);
                }
                req.extend_from_slice(b"\r\n");
                req.extend_from_slice(c.data);
                req.extend_from_slice(b"\r\n");
            }
            req.push(b'0');
            for e in last_exts.iter().take(4) {
                ext(&mut req, e);
            }
            req.extend_from_slice(b"\r\n");
            for (name, value) in trailers.iter().take(8) {
                let name = from(TOKEN, name, 16);
                if name.is_empty() {
                    continue;
                }
                req.extend_from_slice(&name);
                req.extend_from_slice(b": ");
                req.extend_from_slice(&from(b"abc xyz019/=;,-\t", value, 32));
                req.extend_from_slice(b"\r\n");
            }
            req.extend_from_slice(b"\r\n");
            let whole = run(&config, &req, &[], rx);
            let split = run(&config, &req, input.splits, rx);
            assert_eq!(whole, split, "split {:?} differs from whole", input.splits);
            assert!(
                whole.sends.is_empty() && whole.fails.is_empty(),
                "rejected: {:?}",
                whole.log
            );
            assert_eq!(whole.bodies.len(), 1, "{:?}", whole.log);
            assert_eq!(whole.bodies[0], expected, "decoded body differs");
            assert!(whole.closed, "{:?}", whole.log);
        }
        Mode::Raw(raw) => {
            req.extend_from_slice(raw);
            let whole = run(&config, &req, &[], rx);
            let split = run(&config, &req, input.splits, rx);
            assert_eq!(whole, split, "split {:?} differs from whole", input.splits);
            assert!(whole.log[0].starts_with("request"), "{:?}", whole.log);
            if whole.log[1].starts_with("body error") {
                let status = response_status(&whole.fails[0]);
                assert!(
                    (400..500).contains(&status),
                    "a broken chunked body got {status}"
                );
            } else {
                // Decoded: the first response is the 200 echo.
                assert_eq!(response_status(&whole.output), 200, "{:?}", whole.log);
            }
        }
    }
});
