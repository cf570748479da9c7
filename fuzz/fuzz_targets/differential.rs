//! Differential against httparse: when our `Connection` accepts a request head and
//! `httparse::Request::parse` accepts the same bytes (CRLF line endings only), they agree on
//! the method, the path (the raw target up to `?`, percent-decoded independently), the
//! query, the version and the values of the header fields we kept (`HTTP_HOST` of an
//! absolute-form target is the target's authority).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsgiref::Config;
use wsgiref_fuzz::{decode_path, http_key, origin_path, run};

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |e| e + 1);
    &v[start..end.max(start)]
}

fuzz_target!(|data: &[u8]| {
    let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
        return;
    };
    let head = &data[..end + 4];
    // CRLF line endings only: every LF of the head follows a CR, and no bare CR.
    for (i, &b) in head.iter().enumerate() {
        if b == b'\n' && (i == 0 || head[i - 1] != b'\r') {
            return;
        }
        if b == b'\r' && head.get(i + 1) != Some(&b'\n') {
            return;
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut headers);
    let Ok(httparse::Status::Complete(len)) = req.parse(head) else {
        return;
    };
    assert_eq!(len, head.len(), "httparse ended the head elsewhere");
    let t = run(&Config::DEFAULT, head, &[], 8192);
    let Some(env) = t.environs.first() else {
        return;
    };
    let get = |k: &str| env.iter().find(|(key, _)| key == k).map(|(_, v)| &v[..]);
    let ctx = String::from_utf8_lossy(head);
    assert_eq!(
        get("REQUEST_METHOD"),
        req.method.map(str::as_bytes),
        "method: {ctx:?}"
    );
    let version = format!("HTTP/1.{}", req.version.expect("version"));
    assert_eq!(
        get("SERVER_PROTOCOL"),
        Some(version.as_bytes()),
        "version: {ctx:?}"
    );
    let target = req.path.expect("path").as_bytes();
    if let Some(raw) = origin_path(target) {
        assert_eq!(
            get("PATH_INFO"),
            Some(&decode_path(raw)[..]),
            "path: {ctx:?}"
        );
        let query = target.get(raw.len() + 1..).unwrap_or(b"");
        assert_eq!(get("QUERY_STRING").unwrap_or(b""), query, "query: {ctx:?}");
    }
    for (key, value) in env.iter().filter(|(k, _)| k.starts_with("HTTP_")) {
        // RFC 9112 §3.2.2: an absolute-form target's authority stands for the Host field.
        if key == "HTTP_HOST" && !matches!(target.first(), Some(b'/' | b'*')) {
            let at = target
                .windows(3)
                .position(|w| w == b"://")
                .expect("an absolute-form target");
            let after = &target[at + 3..];
            let end = after
                .iter()
                .position(|&b| b == b'/' || b == b'?')
                .unwrap_or(after.len());
            assert_eq!(&value[..], &after[..end], "{key}: {ctx:?}");
            continue;
        }
        let theirs: Vec<&[u8]> = req
            .headers
            .iter()
            .filter(|h| !h.name.contains('_') && http_key(h.name.as_bytes()) == *key)
            .map(|h| trim(h.value))
            .collect();
        assert!(
            !theirs.is_empty(),
            "{key} is not among httparse's fields: {ctx:?}"
        );
        assert_eq!(
            String::from_utf8_lossy(value),
            String::from_utf8_lossy(&theirs.join(&b","[..])),
            "{key}: {ctx:?}"
        );
    }
    for (name, key) in [("Content-Type", "CONTENT_TYPE")] {
        let theirs: Vec<&[u8]> = req
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| trim(h.value))
            .collect();
        if theirs.len() == 1 {
            assert_eq!(get(key), Some(theirs[0]), "{key}: {ctx:?}");
        }
    }
});
