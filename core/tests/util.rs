//! `wsgiref.util`, against CPython's `test_wsgiref.UtilityTests` and the [derived] vectors of
//! `shared/reference/wsgiref-behaviour.md` §1.
//!
//! Rows marked "derived here" were checked against CPython 3.11's `wsgiref.util`. The
//! tables are kept one row a line (`rustfmt::skip`).

use std::cell::Cell;
use std::fmt::Write as _;
use std::rc::Rc;
use std::string::{String, ToString};
use std::vec::Vec;

use wsgiref::util::{
    ApplicationUri, DEFAULT_BLKSIZE, FileWrapper, MissingKey, RequestUri, application_uri,
    guess_scheme, request_uri, setup_testing_defaults, shift_path_info, try_application_uri,
    try_request_uri,
};
use wsgiref::{Environ, LocalError, Value};

/// Every variable as (name, value), for comparing an environ before and after a call.
fn snapshot(env: &Environ<'_>) -> Vec<(String, String)> {
    env.iter()
        .map(|(k, v)| (k.to_string(), format!("{v:?}")))
        .collect()
}

/// Bytes as latin-1 text in quotes, or "absent", for comparisons and messages.
fn show(b: Option<&[u8]>) -> String {
    match b {
        None => "absent".into(),
        Some(b) => format!("{:?}", b.iter().map(|&c| char::from(c)).collect::<String>()),
    }
}

type Shift = Result<Option<&'static [u8]>, LocalError>;

/// (SCRIPT_NAME in, PATH_INFO in, returns, SCRIPT_NAME out, PATH_INFO out, through
/// `setup_testing_defaults` first). `None` in or out is "absent".
type ShiftRow = (
    Option<&'static [u8]>,
    Option<&'static [u8]>,
    Shift,
    Option<&'static [u8]>,
    Option<&'static [u8]>,
    bool,
);

/// Rows marked T: CPython `UtilityTests.testSimpleShifts` and `testNormalizedShifts`
/// (`checkShift`, which passes each environ through `setup_testing_defaults` first).
#[rustfmt::skip]
const SHIFT_T: &[ShiftRow] = &[
    // testSimpleShifts
    (Some(b""), Some(b"/"), Ok(Some(b"")), Some(b"/"), Some(b""), true),
    (Some(b""), Some(b"/x"), Ok(Some(b"x")), Some(b"/x"), Some(b""), true),
    (Some(b"/"), Some(b""), Ok(None), Some(b"/"), Some(b""), true),
    (Some(b"/a"), Some(b"/x/y"), Ok(Some(b"x")), Some(b"/a/x"), Some(b"/y"), true),
    (Some(b"/a"), Some(b"/x/"), Ok(Some(b"x")), Some(b"/a/x"), Some(b"/"), true),
    // testNormalizedShifts
    (Some(b"/a/b"), Some(b"/../y"), Ok(Some(b"..")), Some(b"/a"), Some(b"/y"), true),
    (Some(b""), Some(b"/../y"), Ok(Some(b"..")), Some(b""), Some(b"/y"), true),
    (Some(b"/a/b"), Some(b"//y"), Ok(Some(b"y")), Some(b"/a/b/y"), Some(b""), true),
    (Some(b"/a/b"), Some(b"//y/"), Ok(Some(b"y")), Some(b"/a/b/y"), Some(b"/"), true),
    (Some(b"/a/b"), Some(b"/./y"), Ok(Some(b"y")), Some(b"/a/b/y"), Some(b""), true),
    (Some(b"/a/b"), Some(b"/./y/"), Ok(Some(b"y")), Some(b"/a/b/y"), Some(b"/"), true),
    (Some(b"/a/b"), Some(b"///./..//y/.//"), Ok(Some(b"..")), Some(b"/a"), Some(b"/y/"), true),
    (Some(b"/a/b"), Some(b"///"), Ok(Some(b"")), Some(b"/a/b/"), Some(b""), true),
    (Some(b"/a/b"), Some(b"/.//"), Ok(Some(b"")), Some(b"/a/b/"), Some(b""), true),
    (Some(b"/a/b"), Some(b"/x//"), Ok(Some(b"x")), Some(b"/a/b/x"), Some(b"/"), true),
    (Some(b"/a/b"), Some(b"/."), Ok(None), Some(b"/a/b"), Some(b""), true),
];

/// The [derived] rows of the §1.5 table (no `setup_testing_defaults`, so "absent" stays
/// absent), then more rows derived here.
#[rustfmt::skip]
const SHIFT_DERIVED: &[ShiftRow] = &[
    (Some(b""), Some(b""), Ok(None), Some(b""), Some(b""), false),
    (Some(b""), Some(b"//x"), Ok(Some(b"x")), Some(b"/x"), Some(b""), false),
    (Some(b""), Some(b"/x/"), Ok(Some(b"x")), Some(b"/x"), Some(b"/"), false),
    (Some(b""), Some(b"/."), Ok(None), Some(b""), Some(b""), false),
    (Some(b""), Some(b"/.."), Ok(Some(b"..")), Some(b""), Some(b""), false),
    (Some(b"/a"), Some(b"/.."), Ok(Some(b"..")), Some(b""), Some(b""), false),
    (Some(b"/a/b"), Some(b"/.."), Ok(Some(b"..")), Some(b"/a"), Some(b""), false),
    // Python's IndexError: PATH_INFO without any '/'; nothing changes.
    (Some(b""), Some(b"x"), Err(LocalError::InvalidState), Some(b""), Some(b"x"), false),
    (Some(b""), Some(b"x/y"), Ok(Some(b"y")), Some(b"/y"), Some(b"x"), false),
    (Some(b""), Some(b"/./"), Ok(Some(b"")), Some(b"/"), Some(b""), false),
    (Some(b"/a"), Some(b"/../"), Ok(Some(b"..")), Some(b""), Some(b"/"), false),
    (Some(b"/a/b/c"), Some(b"/../../z"), Ok(Some(b"..")), Some(b"/a/b"), Some(b"/../z"), false),
    (Some(b""), Some(b"/x/../y"), Ok(Some(b"x")), Some(b"/x"), Some(b"/../y"), false),
    (Some(b"/a"), Some(b"/x/./y"), Ok(Some(b"x")), Some(b"/a/x"), Some(b"/y"), false),
    (Some(b""), Some(b"/%2e"), Ok(Some(b"%2e")), Some(b"/%2e"), Some(b""), false),
    (Some(b"/a"), Some(b"/..x"), Ok(Some(b"..x")), Some(b"/a/..x"), Some(b""), false),
    (Some(b"/a/"), Some(b"/x"), Ok(Some(b"x")), Some(b"/a/x"), Some(b""), false),
    (Some(b"/a//b"), Some(b"/x"), Ok(Some(b"x")), Some(b"/a/b/x"), Some(b""), false),
    (Some(b"//a"), Some(b"/x"), Ok(Some(b"x")), Some(b"//a/x"), Some(b""), false),
    (Some(b"/a"), Some(b"/"), Ok(Some(b"")), Some(b"/a/"), Some(b""), false),
    (Some(b"/a/"), Some(b"/"), Ok(Some(b"")), Some(b"/a/"), Some(b""), false),
    (Some(b""), Some(b"///"), Ok(Some(b"")), Some(b"/"), Some(b""), false),
    (Some(b"/a/."), Some(b"/x"), Ok(Some(b"x")), Some(b"/a/x"), Some(b""), false),
    (None, Some(b"/x"), Ok(Some(b"x")), Some(b"/x"), Some(b""), false),
    (None, None, Ok(None), None, None, false),
    // Derived here: POSIX normpath's two leading slashes, relative SCRIPT_NAMEs.
    (Some(b"/"), Some(b"/x"), Ok(Some(b"x")), Some(b"//x"), Some(b""), false),
    (Some(b"//"), Some(b"/x"), Ok(Some(b"x")), Some(b"/x"), Some(b""), false),
    (Some(b"///a"), Some(b"/x"), Ok(Some(b"x")), Some(b"/a/x"), Some(b""), false),
    (Some(b"/"), Some(b"//"), Ok(Some(b"")), Some(b"/"), Some(b""), false),
    (Some(b"//"), Some(b"//"), Ok(Some(b"")), Some(b"/"), Some(b""), false),
    (Some(b"/a"), Some(b"//"), Ok(Some(b"")), Some(b"/a/"), Some(b""), false),
    (Some(b"/a"), Some(b"/./"), Ok(Some(b"")), Some(b"/a/"), Some(b""), false),
    (Some(b"a"), Some(b"/x"), Ok(Some(b"x")), Some(b"a/x"), Some(b""), false),
    (Some(b"a"), Some(b"/.."), Ok(Some(b"..")), Some(b"."), Some(b""), false),
    (Some(b"a/.."), Some(b"//"), Ok(Some(b"")), Some(b"./"), Some(b""), false),
    (Some(b"a/b"), Some(b"/../.."), Ok(Some(b"..")), Some(b"a"), Some(b"/.."), false),
    (Some(b".."), Some(b"/.."), Ok(Some(b"..")), Some(b"../.."), Some(b""), false),
    (Some(b"../a"), Some(b"/../.."), Ok(Some(b"..")), Some(b".."), Some(b"/.."), false),
    (Some(b"a/../.."), Some(b"/b"), Ok(Some(b"b")), Some(b"../b"), Some(b""), false),
    (Some(b"/a/b"), Some(b"/./../x/"), Ok(Some(b"..")), Some(b"/a"), Some(b"/x/"), false),
    (Some(b"/a"), Some(b"x/y/z"), Ok(Some(b"y")), Some(b"/a/y"), Some(b"x/z"), false),
    (None, Some(b"/.."), Ok(Some(b"..")), Some(b""), Some(b""), false),
    (Some(b""), Some(b"/ /x"), Ok(Some(b" ")), Some(b"/ "), Some(b"/x"), false),
    (Some(b""), Some(b"/\xe4/b"), Ok(Some(b"\xe4")), Some(b"/\xe4"), Some(b"/b"), false),
];

/// Runs one shift row: first with a scratch one byte too small (nothing may change), then
/// with exactly the needed scratch.
fn check_shift(row: &ShiftRow) {
    let &(sn, pi, want, want_sn, want_pi, defaults) = row;
    let what = format!("SN {} PI {}", show(sn), show(pi));
    let mut pairs: Vec<(&str, &[u8])> = Vec::new();
    if let Some(sn) = sn {
        pairs.push(("SCRIPT_NAME", sn));
    }
    if let Some(pi) = pi {
        pairs.push(("PATH_INFO", pi));
    }
    let mut arena = [0u8; 1024];
    let mut env = Environ::from_pairs(&pairs, &mut arena);
    if defaults {
        setup_testing_defaults(&mut env).unwrap();
    }
    let before = snapshot(&env);

    // The environ changes exactly when the call succeeds with a PATH_INFO to shift.
    let changes = want.is_ok() && !pi.unwrap_or_default().is_empty();
    let needed = want_sn.unwrap_or_default().len() + want_pi.unwrap_or_default().len();
    if changes && needed > 0 {
        let mut small = vec![0u8; needed - 1];
        assert_eq!(
            shift_path_info(&mut env, &mut small),
            Err(LocalError::BufferTooSmall { needed }),
            "{what}: scratch of {}",
            needed - 1
        );
        assert_eq!(
            snapshot(&env),
            before,
            "{what}: changed with a small scratch"
        );
    }

    let mut scratch = vec![0u8; needed];
    let got = shift_path_info(&mut env, &mut scratch);
    assert_eq!(
        got.map(|o| o.map(|n| show(Some(n)))),
        want.map(|o| o.map(|n| show(Some(n)))),
        "{what}: return"
    );
    assert_eq!(
        show(env.get("SCRIPT_NAME")),
        show(want_sn),
        "{what}: SCRIPT_NAME"
    );
    assert_eq!(
        show(env.get("PATH_INFO")),
        show(want_pi),
        "{what}: PATH_INFO"
    );
    if !changes {
        assert_eq!(snapshot(&env), before, "{what}: environ touched");
    }
}

/// CPython `UtilityTests.testSimpleShifts`, `testNormalizedShifts`.
#[test]
fn shift_path_info_cpython_rows() {
    SHIFT_T.iter().for_each(check_shift);
}

/// §1.5 [derived] rows, and more derived here.
#[test]
fn shift_path_info_derived_rows() {
    SHIFT_DERIVED.iter().for_each(check_shift);
}

/// §1.5 [derived]: repeated shifting of SN '' PI '/a/b/c/'.
#[test]
fn shift_path_info_repeated() {
    let pairs: &[(&str, &[u8])] = &[("SCRIPT_NAME", b""), ("PATH_INFO", b"/a/b/c/")];
    let mut arena = [0u8; 256];
    let mut env = Environ::from_pairs(pairs, &mut arena);
    #[rustfmt::skip]
    let steps: &[(Option<&[u8]>, &[u8], &[u8])] = &[
        (Some(b"a"), b"/a", b"/b/c/"),
        (Some(b"b"), b"/a/b", b"/c/"),
        (Some(b"c"), b"/a/b/c", b"/"),
        (Some(b""), b"/a/b/c/", b""),
        (None, b"/a/b/c/", b""),
    ];
    for &(want, sn, pi) in steps {
        let mut scratch = [0u8; 16];
        assert_eq!(shift_path_info(&mut env, &mut scratch), Ok(want));
        assert_eq!(env.get("SCRIPT_NAME"), Some(sn));
        assert_eq!(env.get("PATH_INFO"), Some(pi));
    }
}

/// An arena that cannot take SCRIPT_NAME: the error comes before anything changes.
#[test]
fn shift_path_info_full_arena_changes_nothing() {
    let pairs: &[(&str, &[u8])] = &[("SCRIPT_NAME", b"/a"), ("PATH_INFO", b"/x/y")];
    let mut arena = [0u8; 8];
    let mut env = Environ::from_pairs(pairs, &mut arena);
    let before = snapshot(&env);
    let mut scratch = [0u8; 64];
    assert_eq!(
        shift_path_info(&mut env, &mut scratch),
        Err(LocalError::CapacityExceeded)
    );
    assert_eq!(snapshot(&env), before);
}

/// Every arena size from one that holds nothing to one that holds both new variables: the
/// shift happens whole or not at all (never `SCRIPT_NAME` moved and `PATH_INFO` not), also
/// when earlier middleware values already fill part of the arena.
#[test]
fn shift_path_info_is_all_or_nothing_at_every_arena_size() {
    let pairs: &[(&str, &[u8])] = &[("SCRIPT_NAME", b"/app"), ("PATH_INFO", b"/seg/rest/more")];
    for preset in [false, true] {
        let mut done = false;
        for size in 0..=128 {
            let mut arena = vec![0u8; size];
            let mut env = Environ::from_pairs(pairs, &mut arena);
            if preset && env.set("PATH_INFO", b"/seg/rest/more").is_err() {
                continue;
            }
            let before = snapshot(&env);
            let mut scratch = [0u8; 64];
            match shift_path_info(&mut env, &mut scratch) {
                Ok(name) => {
                    assert_eq!(name, Some(&b"seg"[..]), "arena {size}");
                    assert_eq!(env.get("SCRIPT_NAME"), Some(&b"/app/seg"[..]));
                    assert_eq!(env.get("PATH_INFO"), Some(&b"/rest/more"[..]));
                    done = true;
                }
                Err(e) => {
                    assert!(!done, "arena {size} failed after a smaller one worked");
                    assert_eq!(e, LocalError::CapacityExceeded, "arena {size}");
                    assert_eq!(snapshot(&env), before, "arena {size}: half a shift");
                }
            }
        }
        assert!(done, "no arena size was enough");
    }
}

/// Keys of `setup_testing_defaults({})` in insertion order (`wsgi.input` and `wsgi.errors`
/// are not environ values in this port).
const DEFAULT_KEYS: &[&str] = &[
    "SERVER_NAME",
    "SERVER_PROTOCOL",
    "HTTP_HOST",
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "wsgi.version",
    "wsgi.run_once",
    "wsgi.multithread",
    "wsgi.multiprocess",
    "wsgi.url_scheme",
    "SERVER_PORT",
];

/// CPython `UtilityTests.testDefaults`: the values on `{}`, Python's insertion order, and
/// every key kept when it is already present.
#[test]
fn setup_testing_defaults_defaults() {
    let mut arena = [0u8; 512];
    let mut env = Environ::from_pairs(&[], &mut arena);
    setup_testing_defaults(&mut env).unwrap();
    let table: &[(&str, Value<'_>)] = &[
        ("SERVER_NAME", Value::Str(b"127.0.0.1")),
        ("SERVER_PORT", Value::Str(b"80")),
        ("SERVER_PROTOCOL", Value::Str(b"HTTP/1.0")),
        ("HTTP_HOST", Value::Str(b"127.0.0.1")),
        ("REQUEST_METHOD", Value::Str(b"GET")),
        ("SCRIPT_NAME", Value::Str(b"")),
        ("PATH_INFO", Value::Str(b"/")),
        ("wsgi.version", Value::Version(1, 0)),
        // Python: the integer 0.
        ("wsgi.run_once", Value::Bool(false)),
        ("wsgi.multithread", Value::Bool(false)),
        ("wsgi.multiprocess", Value::Bool(false)),
        ("wsgi.url_scheme", Value::Str(b"http")),
    ];
    for &(key, want) in table {
        assert_eq!(env.value(key), Some(want), "{key}");
    }
    let keys: Vec<String> = env.iter().map(|(k, _)| k.to_string()).collect();
    assert_eq!(keys, DEFAULT_KEYS);
    assert!(!env.contains("QUERY_STRING"));
    assert!(!env.contains("wsgi.input") && !env.contains("wsgi.errors"));

    // `{key: alt}` keeps `alt`: a string, and (as Python's `None`) a non-string value.
    for &key in DEFAULT_KEYS {
        let pairs = [(key, &b"alt"[..])];
        let mut arena = [0u8; 512];
        let mut env = Environ::from_pairs(&pairs, &mut arena);
        setup_testing_defaults(&mut env).unwrap();
        assert_eq!(env.get(key), Some(&b"alt"[..]), "{key}");

        let mut arena = [0u8; 512];
        let mut env = Environ::from_pairs(&[], &mut arena);
        env.set_value(key, Value::Bool(true)).unwrap();
        setup_testing_defaults(&mut env).unwrap();
        assert_eq!(env.value(key), Some(Value::Bool(true)), "{key}");
    }
}

/// §1.6: SCRIPT_NAME and PATH_INFO are only added together, when both are absent.
#[test]
fn setup_testing_defaults_script_name_path_info() {
    let rows: &[(&str, &str)] = &[("SCRIPT_NAME", "PATH_INFO"), ("PATH_INFO", "SCRIPT_NAME")];
    for &(present, other) in rows {
        let pairs = [(present, &b"/p"[..])];
        let mut arena = [0u8; 512];
        let mut env = Environ::from_pairs(&pairs, &mut arena);
        setup_testing_defaults(&mut env).unwrap();
        assert_eq!(env.get(present), Some(&b"/p"[..]));
        assert!(!env.contains(other), "{other} added");
    }
}

/// CPython `UtilityTests.testCrossDefaults`, plus §1.6 [derived] cases.
#[test]
fn setup_testing_defaults_cross_defaults() {
    // (key checked, expected, given key, given value)
    #[rustfmt::skip]
    let table: &[(&str, Option<&[u8]>, &str, &[u8])] = &[
        ("HTTP_HOST", Some(b"foo.bar"), "SERVER_NAME", b"foo.bar"),
        ("wsgi.url_scheme", Some(b"https"), "HTTPS", b"on"),
        ("wsgi.url_scheme", Some(b"https"), "HTTPS", b"1"),
        ("wsgi.url_scheme", Some(b"https"), "HTTPS", b"yes"),
        ("wsgi.url_scheme", Some(b"http"), "HTTPS", b"foo"),
        ("SERVER_PORT", Some(b"80"), "HTTPS", b"foo"),
        ("SERVER_PORT", Some(b"443"), "HTTPS", b"on"),
        // [derived]: the port follows the present scheme; another scheme gets none.
        ("SERVER_PORT", Some(b"443"), "wsgi.url_scheme", b"https"),
        ("SERVER_PORT", None, "wsgi.url_scheme", b"ftp"),
        ("HTTP_HOST", Some(b"h\xe9"), "SERVER_NAME", b"h\xe9"),
    ];
    for &(key, want, given, value) in table {
        let pairs = [(given, value)];
        let mut arena = [0u8; 512];
        let mut env = Environ::from_pairs(&pairs, &mut arena);
        setup_testing_defaults(&mut env).unwrap();
        assert_eq!(
            env.get(key),
            want,
            "{key} with {given}={}",
            show(Some(value))
        );
    }
}

/// HTTP_HOST copied from a non-string SERVER_NAME, a too-long one, and a full arena.
#[test]
fn setup_testing_defaults_edges() {
    let mut arena = [0u8; 512];
    let mut env = Environ::from_pairs(&[], &mut arena);
    env.set_value("SERVER_NAME", Value::Bool(true)).unwrap();
    setup_testing_defaults(&mut env).unwrap();
    assert_eq!(env.value("HTTP_HOST"), Some(Value::Bool(true)));

    let long = vec![b'h'; 300];
    let pairs = [("SERVER_NAME", &long[..])];
    let mut arena = [0u8; 1024];
    let mut env = Environ::from_pairs(&pairs, &mut arena);
    assert_eq!(
        setup_testing_defaults(&mut env),
        Err(LocalError::CapacityExceeded)
    );

    let mut arena = [0u8; 16];
    let mut env = Environ::from_pairs(&[], &mut arena);
    assert_eq!(
        setup_testing_defaults(&mut env),
        Err(LocalError::CapacityExceeded)
    );
}

/// CPython `UtilityTests.testGuessScheme`, plus the §1.2 [derived] negatives.
#[test]
fn guess_scheme_vectors() {
    #[rustfmt::skip]
    let table: &[(Option<&[u8]>, &str)] = &[
        (None, "http"),
        (Some(b"foo"), "http"),
        (Some(b"on"), "https"),
        (Some(b"yes"), "https"),
        (Some(b"1"), "https"),
        // [derived]
        (Some(b"ON"), "http"),
        (Some(b"On"), "http"),
        (Some(b"YES"), "http"),
        (Some(b"true"), "http"),
        (Some(b"off"), "http"),
        (Some(b"0"), "http"),
        (Some(b""), "http"),
    ];
    for &(https, want) in table {
        let pairs: Vec<(&str, &[u8])> = https.map(|v| ("HTTPS", v)).into_iter().collect();
        let mut arena = [0u8; 0];
        let env = Environ::from_pairs(&pairs, &mut arena);
        assert_eq!(guess_scheme(&env), want, "HTTPS={}", show(https));
    }
}

/// `setup_testing_defaults(kw)` on these pairs, then `f(environ)`. With
/// `http_host_not_str`, HTTP_HOST is first set to a non-string value (Python's `None`).
fn after_defaults(
    pairs: &[(&str, &[u8])],
    http_host_not_str: bool,
    f: impl Fn(&Environ<'_>) -> String,
) -> String {
    let mut arena = [0u8; 1024];
    let mut env = Environ::from_pairs(pairs, &mut arena);
    if http_host_not_str {
        env.set_value("HTTP_HOST", Value::Bool(false)).unwrap();
    }
    setup_testing_defaults(&mut env).unwrap();
    f(&env)
}

type UriRow = (&'static [(&'static str, &'static [u8])], &'static str);

/// CPython `UtilityTests.testAppURIs` (`checkAppURI`, after `setup_testing_defaults`).
#[rustfmt::skip]
const APP_URIS: &[UriRow] = &[
    (&[], "http://127.0.0.1/"),
    (&[("SCRIPT_NAME", b"/spam")], "http://127.0.0.1/spam"),
    (&[("SCRIPT_NAME", b"/sp\xe4m")], "http://127.0.0.1/sp%E4m"),
    (&[("HTTP_HOST", b"spam.example.com:2071"), ("SERVER_PORT", b"2071")], "http://spam.example.com:2071/"),
    (&[("SERVER_NAME", b"spam.example.com")], "http://spam.example.com/"),
    (&[("HTTP_HOST", b"127.0.0.1"), ("SERVER_NAME", b"spam.example.com")], "http://127.0.0.1/"),
    (&[("HTTPS", b"on")], "https://127.0.0.1/"),
    // Python: HTTP_HOST=None. Here: present but empty (and non-string, in the test below).
    (&[("SERVER_PORT", b"8000"), ("HTTP_HOST", b"")], "http://127.0.0.1:8000/"),
];

/// §1.3 [derived]: the port rule (compared as strings, for any scheme) and the quoting.
#[rustfmt::skip]
const APP_URIS_DERIVED: &[UriRow] = &[
    (&[("wsgi.url_scheme", b"ftp"), ("HTTP_HOST", b""), ("SERVER_PORT", b"80")], "ftp://127.0.0.1/"),
    (&[("wsgi.url_scheme", b"ftp"), ("HTTP_HOST", b""), ("SERVER_PORT", b"21")], "ftp://127.0.0.1:21/"),
    (&[("HTTPS", b"on"), ("HTTP_HOST", b""), ("SERVER_PORT", b"80")], "https://127.0.0.1:80/"),
    (&[("HTTPS", b"on"), ("HTTP_HOST", b""), ("SERVER_PORT", b"0443")], "https://127.0.0.1:0443/"),
    (&[("HTTPS", b"on"), ("HTTP_HOST", b"")], "https://127.0.0.1/"),
    (&[("SCRIPT_NAME", b"/a%20b")], "http://127.0.0.1/a%2520b"),
    // No "/" is put between the host and a SCRIPT_NAME that lacks one.
    (&[("SCRIPT_NAME", b"a%20b")], "http://127.0.0.1a%2520b"),
    (&[("SCRIPT_NAME", b"/-._~/!*'();:@&=+$,?#[] ")],
        "http://127.0.0.1/-._~/%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%3F%23%5B%5D%20"),
    (&[("SERVER_NAME", b"h\xe9")], "http://h\u{e9}/"),
];

#[test]
fn application_uri_vectors() {
    for &(pairs, want) in APP_URIS.iter().chain(APP_URIS_DERIVED) {
        let got = after_defaults(pairs, false, |env| application_uri(env).to_string());
        assert_eq!(got, want, "{pairs:?}");
        let got = after_defaults(pairs, false, |env| {
            try_application_uri(env).unwrap().to_string()
        });
        assert_eq!(got, want, "try_application_uri {pairs:?}");
    }
    // The HTTP_HOST=None row with a non-string HTTP_HOST, as close as this environ gets.
    let got = after_defaults(&[("SERVER_PORT", b"8000")], true, |env| {
        application_uri(env).to_string()
    });
    assert_eq!(got, "http://127.0.0.1:8000/");
}

type ReqRow = (&'static [(&'static str, &'static [u8])], bool, &'static str);

/// CPython `UtilityTests.testReqURIs` (`checkReqURI`, after `setup_testing_defaults`).
#[rustfmt::skip]
const REQ_URIS: &[ReqRow] = &[
    (&[], true, "http://127.0.0.1/"),
    (&[("SCRIPT_NAME", b"/spam")], true, "http://127.0.0.1/spam"),
    (&[("SCRIPT_NAME", b"/sp\xe4m")], true, "http://127.0.0.1/sp%E4m"),
    (&[("SCRIPT_NAME", b"/spammity"), ("PATH_INFO", b"/spam")], true,
        "http://127.0.0.1/spammity/spam"),
    (&[("SCRIPT_NAME", b"/spammity"), ("PATH_INFO", b"/sp\xe4m")], true,
        "http://127.0.0.1/spammity/sp%E4m"),
    (&[("SCRIPT_NAME", b"/spammity"), ("PATH_INFO", b"/spam;ham")], true,
        "http://127.0.0.1/spammity/spam;ham"),
    (&[("SCRIPT_NAME", b"/spammity"), ("PATH_INFO", b"/spam;cookie=1234,5678")], true,
        "http://127.0.0.1/spammity/spam;cookie=1234,5678"),
    (&[("SCRIPT_NAME", b"/spammity"), ("PATH_INFO", b"/spam"), ("QUERY_STRING", b"say=ni")], true,
        "http://127.0.0.1/spammity/spam?say=ni"),
    (&[("SCRIPT_NAME", b"/spammity"), ("PATH_INFO", b"/spam"), ("QUERY_STRING", b"s%E4y=ni")], true,
        "http://127.0.0.1/spammity/spam?s%E4y=ni"),
    (&[("SCRIPT_NAME", b"/spammity"), ("PATH_INFO", b"/spam"), ("QUERY_STRING", b"say=ni")], false,
        "http://127.0.0.1/spammity/spam"),
];

/// §1.4 [derived] examples (after `setup_testing_defaults`), then more derived here.
#[rustfmt::skip]
const REQ_URIS_DERIVED: &[ReqRow] = &[
    (&[("SCRIPT_NAME", b"/"), ("PATH_INFO", b"/x")], true, "http://127.0.0.1//x"),
    (&[("SCRIPT_NAME", b"/s/"), ("PATH_INFO", b"/x")], true, "http://127.0.0.1/s//x"),
    (&[("SCRIPT_NAME", b""), ("PATH_INFO", b"/a b/c?d#e%f;g=h,i~j!*'()@:$&+")], true,
        "http://127.0.0.1/a%20b/c%3Fd%23e%25f;g=h,i~j%21%2A%27%28%29%40%3A%24%26%2B"),
    (&[("SCRIPT_NAME", b""), ("PATH_INFO", b"/x"), ("QUERY_STRING", b"a b=c d")], true,
        "http://127.0.0.1/x?a b=c d"),
    // path_info[1:] drops the first character whatever it is.
    (&[("SCRIPT_NAME", b""), ("PATH_INFO", b"x")], true, "http://127.0.0.1/"),
    (&[("SCRIPT_NAME", b""), ("PATH_INFO", b"xy")], true, "http://127.0.0.1/y"),
    // Derived here: ... even the first character of an escape.
    (&[("SCRIPT_NAME", b""), ("PATH_INFO", b" x")], true, "http://127.0.0.1/20x"),
    (&[("SCRIPT_NAME", b""), ("PATH_INFO", b"\xe4x")], true, "http://127.0.0.1/E4x"),
    // QUERY_STRING verbatim, bytes >= 0x80 as latin-1 characters.
    (&[("SCRIPT_NAME", b""), ("PATH_INFO", b"\xe4x"), ("QUERY_STRING", b"\xe4=1")], true,
        "http://127.0.0.1/E4x?\u{e4}=1"),
    (&[("SCRIPT_NAME", b"/s"), ("PATH_INFO", b"/x"), ("QUERY_STRING", b"")], true,
        "http://127.0.0.1/s/x"),
];

#[test]
fn request_uri_vectors() {
    for &(pairs, query, want) in REQ_URIS.iter().chain(REQ_URIS_DERIVED) {
        let got = after_defaults(pairs, false, |env| request_uri(env, query).to_string());
        assert_eq!(got, want, "{pairs:?} include_query={query}");
        let got = after_defaults(pairs, false, |env| {
            try_request_uri(env, query).unwrap().to_string()
        });
        assert_eq!(got, want, "try_request_uri {pairs:?}");
    }
}

/// §1.3: Python's KeyError, as `MissingKey` from the `try_` forms and `fmt::Error` from
/// formatting the others.
#[test]
fn missing_keys() {
    #[rustfmt::skip]
    let table: &[(&[(&str, &[u8])], Option<&str>)] = &[
        (&[], Some("wsgi.url_scheme")),
        (&[("wsgi.url_scheme", b"http")], Some("SERVER_NAME")),
        (&[("wsgi.url_scheme", b"http"), ("HTTP_HOST", b"")], Some("SERVER_NAME")),
        (&[("wsgi.url_scheme", b"http"), ("SERVER_NAME", b"h")], Some("SERVER_PORT")),
        (&[("wsgi.url_scheme", b"http"), ("HTTP_HOST", b"h")], None),
        (&[("wsgi.url_scheme", b"http"), ("SERVER_NAME", b"h"), ("SERVER_PORT", b"80")], None),
    ];
    for &(pairs, missing) in table {
        let mut arena = [0u8; 0];
        let env = Environ::from_pairs(pairs, &mut arena);
        let want = missing.map(|key| MissingKey { key });
        assert_eq!(try_application_uri(&env).err(), want, "{pairs:?}");
        assert_eq!(try_request_uri(&env, true).err(), want, "{pairs:?}");
        let app: ApplicationUri<'_> = application_uri(&env);
        let req: RequestUri<'_> = request_uri(&env, false);
        assert_eq!(app.missing(), want);
        assert_eq!(req.missing(), want);
        let mut out = String::new();
        assert_eq!(write!(out, "{app}").is_err(), missing.is_some());
        assert_eq!(write!(out, "{req}").is_err(), missing.is_some());
    }
    assert_eq!(
        MissingKey { key: "SERVER_NAME" }.to_string(),
        "environ has no SERVER_NAME"
    );
}

/// A reader over bytes that records when it is dropped (closed) and hands out at most
/// `max_read` bytes per read.
struct Recorder {
    data: Vec<u8>,
    at: usize,
    max_read: usize,
    closed: Rc<Cell<bool>>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.closed.set(true);
    }
}

impl embedded_io::ErrorType for Recorder {
    type Error = core::convert::Infallible;
}

impl embedded_io::Read for Recorder {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let rest = &self.data[self.at..];
        let n = rest.len().min(buf.len()).min(self.max_read);
        buf[..n].copy_from_slice(&rest[..n]);
        self.at += n;
        Ok(n)
    }
}

fn recorder(data: &[u8], max_read: usize) -> (Recorder, Rc<Cell<bool>>) {
    let closed = Rc::new(Cell::new(false));
    let r = Recorder {
        data: data.to_vec(),
        at: 0,
        max_read,
        closed: Rc::clone(&closed),
    };
    (r, closed)
}

/// CPython `UtilityTests.testFileWrapper`: 150 bytes by 120 give 120 then 30 then the end;
/// exhausting does not close, closing (dropping) does.
#[test]
fn file_wrapper_blocks_and_close() {
    let data = b"xyz".repeat(50);
    let (reader, closed) = recorder(&data, usize::MAX);
    let mut wrapper = FileWrapper::new(reader, 120);
    assert_eq!(wrapper.blksize(), 120);
    let mut buf = [0u8; DEFAULT_BLKSIZE];
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    while let Some(block) = wrapper.next_block(&mut buf) {
        blocks.push(block.unwrap().to_vec());
    }
    assert_eq!(blocks, [b"xyz".repeat(40), b"xyz".repeat(10)]);
    assert!(!closed.get(), "exhausting closed the reader");
    // Not fused, as Python's: asking again reads again (and finds the end again).
    assert!(wrapper.next_block(&mut buf).is_none());
    drop(wrapper);
    assert!(closed.get(), "dropping the wrapper is closing");

    let (reader, closed) = recorder(&data, usize::MAX);
    let wrapper = FileWrapper::new(reader, 120);
    let reader = wrapper.into_inner();
    assert!(!closed.get(), "into_inner closed the reader");
    assert_eq!(reader.at, 0);
    drop(reader);
    assert!(closed.get());
}

/// Short reads are blocks; the block is also bounded by the buffer; block size zero ends
/// at once (Python's `read(0)` is `''`); errors pass through.
#[test]
fn file_wrapper_edges() {
    let data = b"xyz".repeat(50);
    let (reader, _) = recorder(&data, 7);
    let mut wrapper = FileWrapper::new(reader, 120);
    let mut buf = [0u8; 64];
    let mut lens = Vec::new();
    while let Some(block) = wrapper.next_block(&mut buf) {
        lens.push(block.unwrap().len());
    }
    assert_eq!(lens.iter().sum::<usize>(), 150);
    assert_eq!(lens.len(), 22); // 21 blocks of 7 and one of 3

    let mut wrapper = FileWrapper::new(&data[..], 120);
    let mut buf = [0u8; 100];
    assert_eq!(wrapper.next_block(&mut buf).unwrap().unwrap().len(), 100);
    assert_eq!(wrapper.next_block(&mut buf).unwrap().unwrap().len(), 50);
    assert!(wrapper.next_block(&mut buf).is_none());

    let mut wrapper = FileWrapper::new(&data[..], 0);
    assert!(wrapper.next_block(&mut buf).is_none());
    assert_eq!(wrapper.get_ref().len(), 150, "read(0) must not consume");
    let mut wrapper = FileWrapper::new(&data[..], 120);
    assert!(wrapper.next_block(&mut []).is_none());
    assert_eq!(wrapper.get_mut().len(), 150);

    struct Failing;
    #[derive(Debug, PartialEq)]
    struct Boom;
    impl core::fmt::Display for Boom {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("boom")
        }
    }
    impl core::error::Error for Boom {}
    impl embedded_io::Error for Boom {
        fn kind(&self) -> embedded_io::ErrorKind {
            embedded_io::ErrorKind::Other
        }
    }
    impl embedded_io::ErrorType for Failing {
        type Error = Boom;
    }
    impl embedded_io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> Result<usize, Boom> {
            Err(Boom)
        }
    }
    let mut wrapper = FileWrapper::new(Failing, DEFAULT_BLKSIZE);
    assert_eq!(wrapper.next_block(&mut buf), Some(Err(Boom)));
}
