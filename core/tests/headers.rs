//! `wsgiref::headers::Headers` against CPython's `HeaderTests` (test_wsgiref.py, reference
//! §7.3), the `add_header` vectors of reference §2.5 and the CVE-2026-0865 rules of §8.1.

use wsgiref::LocalError;
use wsgiref::headers::Headers;

/// Collects an iterator of values into owned byte vectors for comparison.
fn owned<'v>(values: impl Iterator<Item = &'v [u8]>) -> Vec<Vec<u8>> {
    values.map(<[u8]>::to_vec).collect()
}

/// The output of `write_to` as a byte vector, checking it agrees with `encoded_len`.
fn wire<const N: usize, const B: usize>(h: &Headers<'_, N, B>) -> Vec<u8> {
    let mut out = vec![0u8; h.encoded_len()];
    let n = h.write_to(&mut out).expect("buffer of encoded_len bytes");
    assert_eq!(n, out.len());
    out
}

/// Everything observable about a `Headers`, to check that a failed call changed nothing.
fn snapshot<const N: usize, const B: usize>(
    h: &Headers<'_, N, B>,
) -> (Vec<(String, Vec<u8>)>, usize) {
    let items = h
        .items()
        .map(|(name, value)| (name.to_owned(), value.to_vec()))
        .collect();
    (items, h.arena_len())
}

// ---------------------------------------------------------------------------------------
// testMappingInterface
// ---------------------------------------------------------------------------------------

/// testMappingInterface, first part: `len`, `keys`, `values`, `items` of constructed lists.
#[test]
fn mapping_interface_construction() {
    let empty: Headers = Headers::new();
    assert_eq!(empty.len(), 0);
    assert!(empty.is_empty());

    let from_empty: Headers = Headers::from_pairs::<str>(&[]).unwrap();
    assert_eq!(from_empty.len(), 0);

    let h: Headers = Headers::from_pairs(&[("x", "y")]).unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h.keys().collect::<Vec<_>>(), ["x"]);
    assert_eq!(owned(h.values()), [b"y".to_vec()]);
    assert_eq!(h.items().collect::<Vec<_>>(), [("x", &b"y"[..])]);
    // Python checks `h.items() is not h._headers` (a copy). In Rust `items()` is an
    // iterator borrowing `h`, so aliasing with later mutation is a compile-time error.
}

/// testMappingInterface, second part: lookups after `h['Foo'] = 'bar'`.
#[test]
fn mapping_interface_lookup() {
    let mut h: Headers = Headers::new();
    assert_eq!(
        h.remove("foo"),
        0,
        "del h['foo'] on an empty Headers is fine"
    );

    h.set("Foo", "bar").unwrap();
    // (name, present): `name in h`, `h.get(name)`, `h.get_all(name)`, `h[name]`.
    let table: &[(&str, bool)] = &[("foo", true), ("Foo", true), ("FOO", true), ("bar", false)];
    for &(name, present) in table {
        assert_eq!(h.contains(name), present, "{name} in h");
        assert_eq!(h.get(name).is_some(), present, "h.get({name})");
        assert_eq!(
            h.get_all(name).next().is_some(),
            present,
            "h.get_all({name})"
        );
    }
    assert_eq!(h.get("foo"), Some(&b"bar"[..]));

    h.set("foo", "baz").unwrap();
    assert_eq!(h.get("FOO"), Some(&b"baz"[..]));
    assert_eq!(owned(h.get_all("foo")), [b"baz".to_vec()]);
    assert_eq!(h.len(), 1);

    // h.get(name, default)
    let table: &[(&str, &[u8])] = &[("foo", b"baz"), ("zoo", b"whee")];
    for &(name, expected) in table {
        assert_eq!(
            h.get(name).unwrap_or(b"whee"),
            expected,
            "h.get({name:?}, 'whee')"
        );
    }

    assert_eq!(h.setdefault("foo", "whee").unwrap(), b"baz");
    assert_eq!(h.setdefault("zoo", "whee").unwrap(), b"whee");
    assert_eq!(h.get("foo"), Some(&b"baz"[..]));
    assert_eq!(h.get("zoo"), Some(&b"whee"[..]));
    assert_eq!(h.len(), 2);
}

/// `__setitem__` removes every pair of that name and appends at the end, with the new
/// casing; `__delitem__` removes every pair of that name.
#[test]
fn set_and_remove_semantics() {
    let mut h: Headers = Headers::from_pairs(&[("a", "1"), ("b", "2"), ("A", "3")]).unwrap();
    assert_eq!(owned(h.get_all("a")), [b"1".to_vec(), b"3".to_vec()]);
    assert_eq!(h.get("A"), Some(&b"1"[..]), "first match wins");

    h.set("a", "4").unwrap();
    assert_eq!(
        h.items().collect::<Vec<_>>(),
        [("b", &b"2"[..]), ("a", &b"4"[..])]
    );

    h.append("B", "5").unwrap();
    assert_eq!(h.remove("b"), 2);
    assert_eq!(h.items().collect::<Vec<_>>(), [("a", &b"4"[..])]);
    assert_eq!(h.remove("b"), 0);
}

/// `setdefault` does not append when the existing value is empty; `in` counts empty values.
#[test]
fn empty_values_count_as_present() {
    let mut h: Headers = Headers::from_pairs(&[("X-Empty", "")]).unwrap();
    assert!(h.contains("x-empty"));
    assert_eq!(h.get("x-empty"), Some(&b""[..]));
    assert_eq!(h.setdefault("X-EMPTY", "new").unwrap(), b"");
    assert_eq!(h.len(), 1);
}

// ---------------------------------------------------------------------------------------
// testRequireList
// ---------------------------------------------------------------------------------------

// testRequireList checks that `Headers("foo")` raises TypeError because the argument is not
// a list. In Rust the argument of `Headers::from_pairs` has the type
// `&[(&str, &V)]`, so passing a string (or anything but a slice of pairs) does not compile:
// the check is done by the type system and there is nothing to test at run time.

// ---------------------------------------------------------------------------------------
// testExtras
// ---------------------------------------------------------------------------------------

/// testExtras: `str()` of an empty list, and `add_header` with a quoted and a bare param.
#[test]
fn extras() {
    let mut h: Headers = Headers::new();
    assert_eq!(h.to_string(), "\r\n");

    h.add_header("foo", Some("bar"), &[("baz", Some("spam"))])
        .unwrap();
    assert_eq!(h.get("foo"), Some(&br#"bar; baz="spam""#[..]));
    assert_eq!(h.to_string(), "foo: bar; baz=\"spam\"\r\n\r\n");

    h.add_header("Foo", Some("bar"), &[("cheese", None)])
        .unwrap();
    assert_eq!(
        owned(h.get_all("foo")),
        [br#"bar; baz="spam""#.to_vec(), b"bar; cheese".to_vec()]
    );
    assert_eq!(
        h.to_string(),
        "foo: bar; baz=\"spam\"\r\nFoo: bar; cheese\r\n\r\n"
    );
}

// ---------------------------------------------------------------------------------------
// add_header vectors (reference §2.5, derived from CPython 3.11.7)
// ---------------------------------------------------------------------------------------

type Params<'p> = &'p [(&'p str, Option<&'p str>)];

/// `(name, value, params, stored value)`. The first five are reference §2.5's table, the
/// last two testExtras' calls; the rest pin down `_formatparam` corner cases.
const ADD_HEADER_VECTORS: &[(&str, Option<&str>, Params<'static>, &[u8])] = &[
    (
        "content-disposition",
        Some("attachment"),
        &[("filename", Some("bud.gif"))],
        br#"attachment; filename="bud.gif""#,
    ),
    (
        "X-A",
        None,
        &[
            ("foo_bar", Some("baz")),
            ("flag", None),
            ("empty", Some("")),
            ("q", Some("a\"b\\c")),
        ],
        br#"foo-bar="baz"; flag; empty; q="a\"b\\c""#,
    ),
    ("X-B", None, &[], b""),
    ("X-C", Some(""), &[], b""),
    (
        "X-D",
        Some("v"),
        &[("a_b_c", Some("x y"))],
        br#"v; a-b-c="x y""#,
    ),
    (
        "foo",
        Some("bar"),
        &[("baz", Some("spam"))],
        br#"bar; baz="spam""#,
    ),
    ("Foo", Some("bar"), &[("cheese", None)], b"bar; cheese"),
    // An empty (not None) value still takes part in the join.
    ("X-E", Some(""), &[("a", Some("b"))], br#"; a="b""#),
    // Parameter names keep their case; tspecials are quoted anyway (quote=1).
    (
        "X-F",
        None,
        &[("Name", Some("a;b=c,d"))],
        br#"Name="a;b=c,d""#,
    ),
    // Only `\` and `"` are escaped, `\` first.
    ("X-G", None, &[("p", Some(r#"\""#))], br#"p="\\\"""#),
    // A value without parameters is stored verbatim; HTAB is allowed in values and params.
    ("X-H", Some("a\tb"), &[("t", Some("\t"))], b"a\tb; t=\"\t\""),
    // `*` is a tchar, so RFC 8187 extended parameter names work.
    (
        "X-I",
        Some("attachment"),
        &[("filename*", Some("UTF-8''a%20b"))],
        br#"attachment; filename*="UTF-8''a%20b""#,
    ),
];

#[test]
fn add_header_vectors() {
    for &(name, value, params, expected) in ADD_HEADER_VECTORS {
        let mut h: Headers = Headers::new();
        h.add_header(name, value, params).unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h.keys().next(), Some(name));
        assert_eq!(
            h.get(name),
            Some(expected),
            "add_header({name:?}, {value:?}, {params:?})"
        );
        assert_eq!(h.arena_len(), expected.len());
    }
}

/// Reference §2.5: `bytes()` of the first five `add_header` calls together.
#[test]
fn add_header_vectors_bytes() {
    let mut h: Headers = Headers::new();
    for &(name, value, params, _) in ADD_HEADER_VECTORS.iter().take(5) {
        h.add_header(name, value, params).unwrap();
    }
    assert_eq!(
        wire(&h),
        b"content-disposition: attachment; filename=\"bud.gif\"\r\n\
          X-A: foo-bar=\"baz\"; flag; empty; q=\"a\\\"b\\\\c\"\r\n\
          X-B: \r\n\
          X-C: \r\n\
          X-D: v; a-b-c=\"x y\"\r\n\
          \r\n"
    );
}

/// `add_header` copies its value, so temporaries are fine, and only `name` is borrowed.
#[test]
fn add_header_copies_value_and_params() {
    let mut h: Headers = Headers::new();
    {
        let value = String::from("attachment");
        let param = String::from("bud.gif");
        h.add_header(
            "Content-Disposition",
            Some(&value),
            &[("filename", Some(&param))],
        )
        .unwrap();
    }
    assert_eq!(
        h.get("content-disposition"),
        Some(&br#"attachment; filename="bud.gif""#[..])
    );
}

// ---------------------------------------------------------------------------------------
// testRaisesControlCharacters (patched CPython, CVE-2026-0865 / gh-143916 / gh-144118)
// ---------------------------------------------------------------------------------------

/// Every C0 control and DEL: rejected in names everywhere, rejected in values everywhere
/// except HTAB.
#[test]
fn raises_control_characters() {
    let controls = (0x00u8..=0x1f).chain([0x7f]).map(char::from);
    for c0 in controls {
        let bad_name = format!("key{c0}");
        let bad_value = format!("val{c0}");
        let bad_param = format!("param{c0}");
        let mut h: Headers = Headers::new();

        // Names: `h[f"key{c0}"] = "val"`, `add_header(f"key{c0}", "val", param="param")`.
        assert_eq!(
            h.set(&bad_name, "val"),
            Err(LocalError::BadHeaderName),
            "{c0:?}"
        );
        assert_eq!(
            h.add_header(&bad_name, Some("val"), &[("param", Some("param"))]),
            Err(LocalError::BadHeaderName),
            "{c0:?}"
        );
        // Not in CPython's test: the other entry points too.
        assert_eq!(
            h.append(&bad_name, "val"),
            Err(LocalError::BadHeaderName),
            "{c0:?}"
        );
        assert_eq!(
            h.setdefault(&bad_name, "val"),
            Err(LocalError::BadHeaderName),
            "{c0:?}"
        );
        assert_eq!(
            h.add_header("key", Some("val"), &[(&bad_param, None)]),
            Err(LocalError::BadHeaderName),
            "{c0:?}"
        );
        // Open PR 150727: the constructor, regardless of optimisation mode.
        assert_eq!(
            Headers::<4>::from_pairs(&[(bad_name.as_str(), "val")]),
            Err(LocalError::BadHeaderName),
            "{c0:?}"
        );
        assert!(h.is_empty(), "{c0:?}: nothing stored");

        if c0 == '\t' {
            h.set("key", &bad_value).unwrap();
            h.add_header("key", Some(&bad_value), &[]).unwrap();
            assert_eq!(h.setdefault("key", &bad_value).unwrap(), b"val\t");
            h.add_header("key", Some("val"), &[("param", Some(&bad_param))])
                .unwrap();
            assert!(Headers::<4>::from_pairs(&[("key", bad_value.as_str())]).is_ok());
            assert_eq!(
                owned(h.get_all("key")),
                [
                    b"val\t".to_vec(),
                    b"val\t".to_vec(),
                    b"val; param=\"param\t\"".to_vec()
                ]
            );
        } else {
            assert_eq!(
                h.set("key", &bad_value),
                Err(LocalError::BadHeaderValue),
                "{c0:?}"
            );
            assert_eq!(
                h.add_header("key", Some(&bad_value), &[("param", Some("param"))]),
                Err(LocalError::BadHeaderValue),
                "{c0:?}"
            );
            assert_eq!(
                h.add_header("key", Some("val"), &[("param", Some(&bad_param))]),
                Err(LocalError::BadHeaderValue),
                "{c0:?}"
            );
            assert_eq!(
                h.append("key", &bad_value),
                Err(LocalError::BadHeaderValue),
                "{c0:?}"
            );
            assert_eq!(
                h.setdefault("key", &bad_value),
                Err(LocalError::BadHeaderValue),
                "{c0:?}"
            );
            assert_eq!(
                Headers::<4>::from_pairs(&[("key", bad_value.as_str())]),
                Err(LocalError::BadHeaderValue),
                "{c0:?}"
            );
            assert!(h.is_empty(), "{c0:?}: nothing stored");
            assert_eq!(h.arena_len(), 0, "{c0:?}: arena untouched");
        }
    }
}

/// Reference §2.6 / §8.1: the response-splitting value CPython 3.11.7 accepted.
#[test]
fn header_injection_is_rejected() {
    let mut h: Headers = Headers::new();
    assert_eq!(
        h.set("X", "a\r\nSet-Cookie: evil"),
        Err(LocalError::BadHeaderValue)
    );
    assert_eq!(
        Headers::<4>::from_pairs(&[("Foo", "bar\r\nSet-Cookie: evil=1")]),
        Err(LocalError::BadHeaderValue)
    );
    assert_eq!(wire(&h), b"\r\n");
}

/// Names must be tokens (stricter than CPython, which only rejects control characters).
#[test]
fn non_token_names_are_rejected() {
    let names = [
        "",
        "a b",
        "a:b",
        "a(b",
        "a\"b",
        "a/b",
        "a=b",
        "a,b",
        "a;b",
        "caf\u{e9}",
        "[x]",
        " x",
        "x ",
    ];
    for name in names {
        let mut h: Headers = Headers::new();
        assert_eq!(h.set(name, "v"), Err(LocalError::BadHeaderName), "{name:?}");
        assert_eq!(
            h.add_header(name, Some("v"), &[]),
            Err(LocalError::BadHeaderName),
            "{name:?}"
        );
        assert_eq!(
            h.add_header("X", Some("v"), &[(name, Some("p"))]),
            Err(LocalError::BadHeaderName),
            "param {name:?}"
        );
        assert!(h.is_empty());
    }
    // Every tchar is accepted.
    let mut h: Headers = Headers::new();
    h.set("!#$%&'*+-.^_`|~09azAZ", "v").unwrap();
    assert_eq!(h.len(), 1);
}

/// Lookups with a name that could never be stored match nothing and do not fail.
#[test]
fn lookups_with_invalid_names_match_nothing() {
    let mut h: Headers = Headers::from_pairs(&[("key", "v")]).unwrap();
    for name in ["key\n", "k\tey", "", "key ", "k\u{212a}ey"] {
        assert_eq!(h.get(name), None, "{name:?}");
        assert!(!h.contains(name), "{name:?}");
        assert_eq!(h.get_all(name).count(), 0, "{name:?}");
        assert_eq!(h.remove(name), 0, "{name:?}");
    }
    assert_eq!(h.len(), 1);
}

/// Obs-text (0x80-0xFF, C1 controls included) is allowed in values, as in CPython.
#[test]
fn obs_text_values_are_allowed() {
    for byte in 0x80u8..=0xff {
        let value = [b'a', byte];
        let mut h: Headers = Headers::new();
        h.set("X", &value).unwrap();
        assert_eq!(h.get("x"), Some(&value[..]));
    }
}

// ---------------------------------------------------------------------------------------
// Validate before mutating
// ---------------------------------------------------------------------------------------

/// CPython's `__setitem__` deletes the old values before validating; a rejected `set` here
/// keeps them.
#[test]
fn rejected_set_keeps_old_values() {
    let mut h: Headers = Headers::new();
    h.set("Foo", "a").unwrap();
    h.append("foo", "b").unwrap();
    h.add_header("FOO", Some("c"), &[("d", None)]).unwrap();
    let before = snapshot(&h);

    let attempts: &[(&str, &[u8], LocalError)] = &[
        ("foo", b"x\r\ny", LocalError::BadHeaderValue),
        ("foo", b"\x00", LocalError::BadHeaderValue),
        ("foo", b"\x7f", LocalError::BadHeaderValue),
        ("foo\r", b"ok", LocalError::BadHeaderName),
        ("fo o", b"ok", LocalError::BadHeaderName),
    ];
    for &(name, value, error) in attempts {
        assert_eq!(h.set(name, value), Err(error), "set({name:?}, {value:?})");
        assert_eq!(
            snapshot(&h),
            before,
            "set({name:?}, {value:?}) changed the headers"
        );
    }
    assert_eq!(
        owned(h.get_all("foo")),
        [b"a".to_vec(), b"b".to_vec(), b"c; d".to_vec()]
    );
}

// ---------------------------------------------------------------------------------------
// Capacity
// ---------------------------------------------------------------------------------------

/// Running out of pairs is `CapacityExceeded` and changes nothing.
#[test]
fn pair_capacity_exhaustion() {
    let mut h: Headers<'_, 2, 16> = Headers::new();
    assert_eq!(h.capacity(), 2);
    h.append("A", "1").unwrap();
    h.add_header("B", Some("2"), &[]).unwrap();
    let full = snapshot(&h);

    assert_eq!(h.append("C", "3"), Err(LocalError::CapacityExceeded));
    assert_eq!(snapshot(&h), full);
    assert_eq!(h.set("C", "3"), Err(LocalError::CapacityExceeded));
    assert_eq!(snapshot(&h), full);
    assert_eq!(h.setdefault("C", "3"), Err(LocalError::CapacityExceeded));
    assert_eq!(snapshot(&h), full);
    assert_eq!(
        h.add_header("C", Some("3"), &[]),
        Err(LocalError::CapacityExceeded)
    );
    assert_eq!(snapshot(&h), full);

    // Validation errors take precedence over capacity.
    assert_eq!(h.append("C", "\n"), Err(LocalError::BadHeaderValue));
    assert_eq!(h.set("C D", "3"), Err(LocalError::BadHeaderName));

    // Replacing or looking up an existing name needs no room.
    assert_eq!(h.setdefault("a", "x").unwrap(), b"1");
    h.set("b", "22").unwrap();
    assert_eq!(
        h.items().collect::<Vec<_>>(),
        [("A", &b"1"[..]), ("b", &b"22"[..])]
    );
    assert_eq!(
        h.arena_len(),
        0,
        "the replaced add_header value released its arena bytes"
    );

    // from_pairs over capacity.
    assert_eq!(
        Headers::<2>::from_pairs(&[("a", "1"), ("b", "2"), ("c", "3")]),
        Err(LocalError::CapacityExceeded)
    );
    assert!(Headers::<2>::from_pairs(&[("a", "1"), ("b", "2")]).is_ok());
    // A bad pair is reported before the capacity.
    assert_eq!(
        Headers::<2>::from_pairs(&[("a", "1"), ("b", "2"), ("c", "\r")]),
        Err(LocalError::BadHeaderValue)
    );
}

/// Running out of arena is `CapacityExceeded` and changes nothing, including the arena.
#[test]
fn arena_capacity_exhaustion() {
    let mut h: Headers<'_, 8, 16> = Headers::new();
    h.add_header("A", Some("0123456789"), &[]).unwrap();
    assert_eq!(h.arena_len(), 10);
    let before = snapshot(&h);

    // 7 more bytes do not fit into the 6 left, whichever part overflows.
    let overflowing: &[(Option<&str>, Params<'_>)] = &[
        (Some("0123456"), &[]),
        (Some("01234"), &[("b", None)]),
        (None, &[("abc", Some("d"))]),
        (None, &[("ab", Some("\""))]),
        (None, &[("a_b_c_d", None)]),
    ];
    for &(value, params) in overflowing {
        assert_eq!(
            h.add_header("B", value, params),
            Err(LocalError::CapacityExceeded),
            "{value:?} {params:?}"
        );
        assert_eq!(snapshot(&h), before, "{value:?} {params:?}");
    }

    // Exactly filling the arena works.
    h.add_header("B", Some("012"), &[("c", None)]).unwrap();
    assert_eq!(h.arena_len(), 16);
    assert_eq!(h.get("b"), Some(&b"012; c"[..]));
    assert_eq!(
        h.add_header("C", None, &[]).map(|()| h.arena_len()),
        Ok(16),
        "empty fits"
    );
    assert_eq!(
        h.add_header("D", Some("x"), &[]),
        Err(LocalError::CapacityExceeded)
    );
    // Borrowed values do not use the arena.
    h.set("C", "a long value that is not copied").unwrap();
    assert_eq!(h.arena_len(), 16);
}

/// Removing and replacing headers gives their arena bytes back, keeping the others intact.
#[test]
fn arena_is_compacted() {
    let mut h: Headers<'_, 8, 32> = Headers::new();
    h.add_header("A", Some("aaaa"), &[]).unwrap();
    h.add_header("B", Some("bbbbbb"), &[]).unwrap();
    h.set("Plain", "p").unwrap();
    h.add_header("C", Some("cc"), &[]).unwrap();
    h.add_header("b", Some("bb"), &[]).unwrap();
    h.add_header("D", Some("d"), &[]).unwrap();
    assert_eq!(h.arena_len(), 4 + 6 + 2 + 2 + 1);

    assert_eq!(h.remove("B"), 2);
    assert_eq!(h.arena_len(), 4 + 2 + 1);
    assert_eq!(
        h.items().collect::<Vec<_>>(),
        [
            ("A", &b"aaaa"[..]),
            ("Plain", b"p"),
            ("C", b"cc"),
            ("D", b"d")
        ]
    );

    h.set("a", "borrowed").unwrap();
    assert_eq!(h.arena_len(), 2 + 1);
    assert_eq!(
        h.items().collect::<Vec<_>>(),
        [
            ("Plain", &b"p"[..]),
            ("C", b"cc"),
            ("D", b"d"),
            ("a", b"borrowed")
        ]
    );

    // Many replace cycles never exhaust the arena.
    for _ in 0..100 {
        h.add_header("E", Some("0123456789"), &[("x", Some("y"))])
            .unwrap();
        assert_eq!(h.get("c"), Some(&b"cc"[..]));
        assert_eq!(h.remove("E"), 1);
    }
    assert_eq!(h.arena_len(), 3);
    assert_eq!(h.get("d"), Some(&b"d"[..]));
}

// ---------------------------------------------------------------------------------------
// Formatting: write_to (Python's bytes(h)) and Display (Python's str(h))
// ---------------------------------------------------------------------------------------

/// A list of pairs as `from_pairs` takes it.
type Pairs = &'static [(&'static str, &'static [u8])];

/// `(pairs, bytes(h))`.
const WIRE_VECTORS: &[(Pairs, &[u8])] = &[
    (&[], b"\r\n"),
    (&[("x", b"y")], b"x: y\r\n\r\n"),
    (&[("X-Empty", b"")], b"X-Empty: \r\n\r\n"),
    (
        &[
            ("Content-Type", b"text/plain"),
            ("Date", b"Mon, 05 Jun 2006 18:49:54 GMT"),
        ],
        b"Content-Type: text/plain\r\nDate: Mon, 05 Jun 2006 18:49:54 GMT\r\n\r\n",
    ),
    (
        &[("Set-Cookie", b"a=1"), ("set-cookie", b"b=2")],
        b"Set-Cookie: a=1\r\nset-cookie: b=2\r\n\r\n",
    ),
    (&[("X", b"a\tb")], b"X: a\tb\r\n\r\n"),
    (
        &[("X", b"caf\xe9 \x80\xff")],
        b"X: caf\xe9 \x80\xff\r\n\r\n",
    ),
];

#[test]
fn write_to_vectors() {
    for &(pairs, expected) in WIRE_VECTORS {
        let h: Headers = Headers::from_pairs(pairs).unwrap();
        assert_eq!(h.encoded_len(), expected.len(), "{pairs:?}");
        assert_eq!(wire(&h), expected, "{pairs:?}");

        // A larger buffer: only the first encoded_len bytes are written.
        let mut big = [0xaau8; 256];
        let n = h.write_to(&mut big).unwrap();
        assert_eq!(&big[..n], expected);
        assert!(big[n..].iter().all(|&b| b == 0xaa));

        // A buffer one byte short: an error naming the size, and nothing written.
        let mut short = vec![0xaau8; expected.len() - 1];
        assert_eq!(
            h.write_to(&mut short),
            Err(LocalError::BufferTooSmall {
                needed: expected.len()
            })
        );
        assert!(short.iter().all(|&b| b == 0xaa));
    }
}

/// `(pairs, str(h))`: value bytes shown as latin-1.
const DISPLAY_VECTORS: &[(Pairs, &str)] = &[
    (&[], "\r\n"),
    (&[("x", b"y")], "x: y\r\n\r\n"),
    (&[("X-Empty", b"")], "X-Empty: \r\n\r\n"),
    (&[("Foo", b"a"), ("foo", b"b")], "Foo: a\r\nfoo: b\r\n\r\n"),
    (&[("X", b"a\tb")], "X: a\tb\r\n\r\n"),
    (&[("X", b"caf\xe9")], "X: caf\u{e9}\r\n\r\n"),
    (&[("X", b"\x80\xa0\xff")], "X: \u{80}\u{a0}\u{ff}\r\n\r\n"),
    // UTF-8 bytes are shown byte by byte, as Python shows the latin-1 decoding.
    (&[("X", "é".as_bytes())], "X: \u{c3}\u{a9}\r\n\r\n"),
];

#[test]
fn display_vectors() {
    for &(pairs, expected) in DISPLAY_VECTORS {
        let h: Headers = Headers::from_pairs(pairs).unwrap();
        assert_eq!(h.to_string(), expected, "{pairs:?}");
        // str(h) encoded as latin-1 is bytes(h).
        let latin1: Vec<u8> = expected.chars().map(|c| u8::try_from(c).unwrap()).collect();
        assert_eq!(wire(&h), latin1, "{pairs:?}");
    }
}

/// Debug output resembles Python's `repr(h)`.
#[test]
fn debug_output() {
    let h: Headers = Headers::from_pairs(&[("x", &b"y"[..]), ("Z", b"a\"\t\xe9")]).unwrap();
    assert_eq!(
        format!("{h:?}"),
        r#"Headers([("x", "y"), ("Z", "a\"\té")])"#
    );
    let empty: Headers = Headers::new();
    assert_eq!(format!("{empty:?}"), "Headers([])");
}

/// Equality compares the pairs in order, whatever the capacities or where values live.
#[test]
fn equality() {
    let mut a: Headers = Headers::new();
    a.add_header("X", Some("v"), &[("p", None)]).unwrap();
    a.set("Y", "w").unwrap();
    let b: Headers<'_, 4, 0> = Headers::from_pairs(&[("X", "v; p"), ("Y", "w")]).unwrap();
    assert_eq!(a, b);
    let c: Headers = Headers::from_pairs(&[("x", "v; p"), ("Y", "w")]).unwrap();
    assert_ne!(
        a, c,
        "names are compared exactly, as Python compares the lists"
    );
    let cloned = a.clone();
    assert_eq!(cloned, a);
    assert_eq!(Headers::<3>::default(), Headers::<5>::new());
}

/// Keys, values and items include duplicates in order and run both ways.
#[test]
fn iterators_in_order_with_duplicates() {
    let mut h: Headers = Headers::from_pairs(&[("A", "1"), ("b", "2")]).unwrap();
    h.add_header("a", Some("3"), &[("q", Some("r"))]).unwrap();
    assert_eq!(h.keys().collect::<Vec<_>>(), ["A", "b", "a"]);
    assert_eq!(h.keys().len(), 3);
    assert_eq!(
        owned(h.values()),
        [b"1".to_vec(), b"2".to_vec(), b"3; q=\"r\"".to_vec()]
    );
    assert_eq!(
        h.items().rev().map(|(k, _)| k).collect::<Vec<_>>(),
        ["a", "b", "A"]
    );
    assert_eq!(
        owned(h.get_all("A").rev()),
        [b"3; q=\"r\"".to_vec(), b"1".to_vec()]
    );
}
