//! Structured request heads: for accepted requests, no `HTTP_*` variable comes from a field
//! name containing `_`, no value holds CR or LF, and `PATH_INFO` is an independent
//! percent-decode of the target's path.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wsgiref::Config;
use wsgiref_fuzz::{decode_path, http_key, origin_path, run};

const NAME: &[u8] = b"aAbBxXhH-_-_0tTcCoOsS";
const METHODS: &[&str] = &[
    "GET", "POST", "HEAD", "OPTIONS", "PUT", "X-Y", "get", "GE T",
];
const PATH: &[u8] = b"/a%2F%2f%41%4%zZ.?=&+/-_~%00%0d%0a;:@!$'()*,";

#[derive(Arbitrary, Debug)]
enum NamePart<'a> {
    Pool(&'a [u8]),
    Known(u8),
    Raw(&'a [u8]),
}

#[derive(Arbitrary, Debug)]
enum ValuePart<'a> {
    Text(&'a [u8]),
    Cr,
    Lf,
    CrLf,
    CrLfSpace,
    Tab,
    Raw(&'a [u8]),
}

#[derive(Arbitrary, Debug)]
struct Field<'a> {
    name: Vec<NamePart<'a>>,
    value: Vec<ValuePart<'a>>,
    space_before_colon: bool,
    no_space: bool,
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    method: u8,
    path: &'a [u8],
    http10: bool,
    host: bool,
    fields: Vec<Field<'a>>,
    keep_all: bool,
}

const KNOWN: &[&str] = &[
    "Host",
    "Content-Length",
    "Content-Type",
    "Content_Length",
    "X-Forwarded-For",
    "X_Forwarded_For",
    "x-forwarded_for",
    "Cookie",
    "USER-AGENT",
    "Transfer-Encoding",
    "Connection",
    "Expect",
    "content-type",
    "X-Keep",
    "Accept",
];

fn name_bytes(parts: &[NamePart<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts.iter().take(6) {
        match p {
            NamePart::Pool(b) => {
                out.extend(b.iter().take(8).map(|&c| NAME[usize::from(c) % NAME.len()]))
            }
            NamePart::Known(i) => {
                out.extend_from_slice(KNOWN[usize::from(*i) % KNOWN.len()].as_bytes())
            }
            NamePart::Raw(b) => out.extend(b.iter().take(4)),
        }
    }
    out
}

fn value_bytes(parts: &[ValuePart<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts.iter().take(8) {
        match p {
            ValuePart::Text(b) => out.extend(b.iter().take(16).map(|&c| b' ' + c % 95)),
            ValuePart::Cr => out.push(b'\r'),
            ValuePart::Lf => out.push(b'\n'),
            ValuePart::CrLf => out.extend_from_slice(b"\r\n"),
            ValuePart::CrLfSpace => out.extend_from_slice(b"\r\n "),
            ValuePart::Tab => out.push(b'\t'),
            ValuePart::Raw(b) => out.extend(b.iter().take(4)),
        }
    }
    out
}

fuzz_target!(|input: Input<'_>| {
    let mut head = Vec::new();
    head.extend_from_slice(METHODS[usize::from(input.method) % METHODS.len()].as_bytes());
    head.push(b' ');
    let path: Vec<u8> = input
        .path
        .iter()
        .take(64)
        .map(|&c| PATH[usize::from(c) % PATH.len()])
        .collect();
    let mut target = b"/".to_vec();
    target.extend_from_slice(&path);
    head.extend_from_slice(&target);
    head.extend_from_slice(if input.http10 {
        b" HTTP/1.0\r\n"
    } else {
        b" HTTP/1.1\r\n"
    });
    if input.host {
        head.extend_from_slice(b"Host: example.com\r\n");
    }
    let mut names = Vec::new();
    for f in input.fields.iter().take(12) {
        let name = name_bytes(&f.name);
        head.extend_from_slice(&name);
        if f.space_before_colon {
            head.push(b' ');
        }
        head.push(b':');
        if !f.no_space {
            head.push(b' ');
        }
        head.extend_from_slice(&value_bytes(&f.value));
        head.extend_from_slice(b"\r\n");
        names.push(name);
    }
    head.extend_from_slice(b"\r\n");
    let keep: &[&str] = &["X-Keep", "Accept", "x_forwarded_for"];
    let config = Config {
        keep_headers: if input.keep_all { None } else { Some(keep) },
        ..Config::DEFAULT
    };
    let t = run(&config, &head, &[], 8192);
    let Some(env) = t.environs.first() else {
        return;
    };
    // CR/LF in a value may start a new line, and so a new field: every line's text before
    // its colon is a candidate name.
    names.clear();
    for line in head.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            names.push(line[..colon].to_vec());
        }
    }
    for (key, value) in env {
        // PATH_INFO is percent-decoded: `%0D` in the target is a CR there, by design.
        assert!(
            key == "PATH_INFO" || (!value.contains(&b'\r') && !value.contains(&b'\n')),
            "{key} holds CR or LF: {value:?}"
        );
        if key.starts_with("HTTP_") {
            assert!(
                names
                    .iter()
                    .any(|n| !n.contains(&b'_') && http_key(n) == *key),
                "{key} comes from no field name without `_` (names {names:?})"
            );
        }
    }
    let raw_path = origin_path(&target).expect("origin-form");
    let want = decode_path(raw_path);
    assert_eq!(
        t.env(0, "PATH_INFO"),
        Some(&want[..]),
        "PATH_INFO of target {:?}",
        String::from_utf8_lossy(&target)
    );
});
