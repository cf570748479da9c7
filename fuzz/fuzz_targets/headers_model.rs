//! `headers::Headers` against a plain `Vec` model: every operation's result and the whole
//! list (items, lookups, `encoded_len`, `write_to`) after it.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wsgiref::LocalError;
use wsgiref::headers::Headers;

const N: usize = 6;
const BYTES: usize = 48;

const NAMES: &[&str] = &[
    "Foo",
    "foo",
    "FOO",
    "Bar",
    "x_y",
    "X-Y",
    "",
    "a b",
    "a:b",
    "é",
    "Content-Type",
    "!#$%&'*+-.^_`|~",
];

#[derive(Arbitrary, Debug)]
enum Name<'a> {
    Pool(u8),
    Any(&'a str),
}

impl<'a> Name<'a> {
    fn get(&self) -> &'a str {
        match *self {
            Name::Pool(i) => NAMES[usize::from(i) % NAMES.len()],
            Name::Any(s) => s,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Op<'a> {
    Set(Name<'a>, &'a [u8]),
    Append(Name<'a>, &'a [u8]),
    SetDefault(Name<'a>, &'a [u8]),
    Remove(Name<'a>),
    AddHeader(Name<'a>, Option<&'a str>, Vec<(Name<'a>, Option<&'a str>)>),
    Get(Name<'a>),
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn is_value(v: &[u8]) -> bool {
    v.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// (name, value, arena-backed).
type Model = Vec<(String, Vec<u8>, bool)>;

fn arena_used(m: &Model) -> usize {
    m.iter().filter(|f| f.2).map(|f| f.1.len()).sum()
}

fn format(value: Option<&str>, params: &[(&str, Option<&str>)]) -> Vec<u8> {
    let mut parts: Vec<Vec<u8>> = Vec::new();
    if let Some(v) = value {
        parts.push(v.as_bytes().to_vec());
    }
    for &(k, p) in params {
        let k = k.replace('_', "-");
        match p {
            None | Some("") => parts.push(k.into_bytes()),
            Some(p) => {
                let mut s = format!("{k}=\"").into_bytes();
                for b in p.bytes() {
                    if b == b'\\' || b == b'"' {
                        s.push(b'\\');
                    }
                    s.push(b);
                }
                s.push(b'"');
                parts.push(s);
            }
        }
    }
    parts.join(&b"; "[..])
}

fn check(h: &Headers<'_, N, BYTES>, m: &Model, probe: &str) {
    assert_eq!(h.len(), m.len());
    assert!(
        h.items()
            .eq(m.iter().map(|(n, v, _)| (n.as_str(), v.as_slice()))),
        "items differ: {h:?} vs {m:?}"
    );
    let want: Vec<&[u8]> = m
        .iter()
        .filter(|f| same(&f.0, probe))
        .map(|f| &f.1[..])
        .collect();
    assert_eq!(h.get(probe), want.first().copied(), "get({probe:?})");
    assert!(
        h.get_all(probe).eq(want.iter().copied()),
        "get_all({probe:?})"
    );
    assert!(h.get_all(probe).rev().eq(want.iter().rev().copied()));
    assert_eq!(h.contains(probe), !want.is_empty());
    assert_eq!(h.arena_len(), arena_used(m), "arena bytes");
    let mut wire = Vec::new();
    for (n, v, _) in m {
        wire.extend_from_slice(n.as_bytes());
        wire.extend_from_slice(b": ");
        wire.extend_from_slice(v);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"\r\n");
    assert_eq!(h.encoded_len(), wire.len());
    let mut out = vec![0u8; wire.len()];
    assert_eq!(h.write_to(&mut out), Ok(wire.len()));
    assert_eq!(out, wire);
    assert_eq!(
        h.write_to(&mut out[..wire.len() - 1]),
        Err(LocalError::BufferTooSmall { needed: wire.len() })
    );
}

fuzz_target!(|ops: Vec<Op<'_>>| {
    let mut h: Headers<'_, N, BYTES> = Headers::new();
    let mut m: Model = Vec::new();
    for op in ops.iter().take(64) {
        let probe = match op {
            Op::Set(name, value) => {
                let (name, value) = (name.get(), *value);
                let matching = m.iter().filter(|f| same(&f.0, name)).count();
                let want = if !is_token(name) {
                    Err(LocalError::BadHeaderName)
                } else if !is_value(value) {
                    Err(LocalError::BadHeaderValue)
                } else if m.len() - matching >= N {
                    Err(LocalError::CapacityExceeded)
                } else {
                    m.retain(|f| !same(&f.0, name));
                    m.push((name.into(), value.into(), false));
                    Ok(())
                };
                assert_eq!(h.set(name, value), want, "set");
                name
            }
            Op::Append(name, value) => {
                let (name, value) = (name.get(), *value);
                let want = if !is_token(name) {
                    Err(LocalError::BadHeaderName)
                } else if !is_value(value) {
                    Err(LocalError::BadHeaderValue)
                } else if m.len() >= N {
                    Err(LocalError::CapacityExceeded)
                } else {
                    m.push((name.into(), value.into(), false));
                    Ok(())
                };
                assert_eq!(h.append(name, value), want, "append");
                name
            }
            Op::SetDefault(name, value) => {
                let (name, value) = (name.get(), *value);
                let want: Result<Vec<u8>, LocalError> = if !is_token(name) {
                    Err(LocalError::BadHeaderName)
                } else if let Some(f) = m.iter().find(|f| same(&f.0, name)) {
                    Ok(f.1.clone())
                } else if !is_value(value) {
                    Err(LocalError::BadHeaderValue)
                } else if m.len() >= N {
                    Err(LocalError::CapacityExceeded)
                } else {
                    m.push((name.into(), value.into(), false));
                    Ok(value.into())
                };
                assert_eq!(
                    h.setdefault(name, value).map(<[u8]>::to_vec),
                    want,
                    "setdefault"
                );
                name
            }
            Op::Remove(name) => {
                let name = name.get();
                let before = m.len();
                m.retain(|f| !same(&f.0, name));
                assert_eq!(h.remove(name), before - m.len(), "remove");
                name
            }
            Op::AddHeader(name, value, params) => {
                let name = name.get();
                let params: Vec<(&str, Option<&str>)> =
                    params.iter().take(4).map(|(k, v)| (k.get(), *v)).collect();
                let bad_name = !is_token(name) || params.iter().any(|p| !is_token(p.0));
                let want = if !is_token(name) {
                    Err(LocalError::BadHeaderName)
                } else if value.is_some_and(|v| !is_value(v.as_bytes())) {
                    Err(LocalError::BadHeaderValue)
                } else if let Some(e) = params.iter().find_map(|&(k, p)| {
                    if !is_token(k) {
                        Some(LocalError::BadHeaderName)
                    } else if p.is_some_and(|p| !is_value(p.as_bytes())) {
                        Some(LocalError::BadHeaderValue)
                    } else {
                        None
                    }
                }) {
                    Err(e)
                } else if m.len() >= N {
                    Err(LocalError::CapacityExceeded)
                } else {
                    let v = format(*value, &params);
                    if arena_used(&m) + v.len() > BYTES {
                        Err(LocalError::CapacityExceeded)
                    } else {
                        m.push((name.into(), v, true));
                        Ok(())
                    }
                };
                let _ = bad_name;
                assert_eq!(h.add_header(name, *value, &params), want, "add_header");
                name
            }
            Op::Get(name) => name.get(),
        };
        check(&h, &m, probe);
    }
});
