//! The environ: the CGI and WSGI variables of one request (`simple_server.get_environ`,
//! `BaseHandler.setup_environ`), as a view over the request head in the receive buffer.
//!
//! Values are byte strings (PEP 3333's latin-1 "native strings": one byte, one character),
//! borrowed from the head without copying. Header fields become `HTTP_*` variables (dash to
//! underscore, upper case; repeated fields joined with `,` by the parser), except
//! Content-Type and Content-Length, which are `CONTENT_TYPE` and `CONTENT_LENGTH`. A field
//! whose name contains `_` is never an `HTTP_*` variable, so `X_Forwarded_For` cannot pose as
//! `X-Forwarded-For` and nothing can pose as `CONTENT_LENGTH`.
//!
//! Middleware may set, replace or remove any key; such values are copied into a small arena
//! the caller provides, so the environ never allocates.
//!
//! ```
//! use wsgiref::environ::{Environ, Value};
//!
//! let pairs: &[(&str, &[u8])] = &[("REQUEST_METHOD", b"GET"), ("PATH_INFO", b"/a/b")];
//! let mut arena = [0u8; 128];
//! let mut env = Environ::from_pairs(pairs, &mut arena);
//! assert_eq!(env.get("PATH_INFO"), Some(&b"/a/b"[..]));
//! env.set("PATH_INFO", b"/b").unwrap();
//! env.set("SCRIPT_NAME", b"/a").unwrap();
//! env.set("REMOTE_USER", b"alice").unwrap();
//! assert_eq!(env.get("PATH_INFO"), Some(&b"/b"[..]));
//! let keys: Vec<String> = env.iter().map(|(k, _)| k.to_string()).collect();
//! assert_eq!(keys, ["REQUEST_METHOD", "PATH_INFO", "SCRIPT_NAME", "REMOTE_USER"]);
//! assert!(matches!(env.value("REMOTE_USER"), Some(Value::Str(b"alice"))));
//! ```

use core::cell::OnceCell;
use core::cmp::Ordering;
use core::fmt;
use core::net::SocketAddr;

use crate::LocalError;
use crate::read::head::{Field, Head, Span};
use crate::write::{Cursor, IP_LEN, Text};

/// One environ value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Value<'a> {
    /// A native string: bytes, one character each (latin-1).
    Str(&'a [u8]),
    /// A flag such as `wsgi.multithread`.
    Bool(bool),
    /// `wsgi.version`: `(1, 0)`.
    Version(u8, u8),
}

/// The name of an environ variable, without copying: `HTTP_*` names are derived from the
/// header field name on the fly.
#[derive(Clone, Copy, Debug)]
pub enum Key<'a> {
    /// A fixed CGI or WSGI name such as `PATH_INFO`.
    Static(&'static str),
    /// `HTTP_` followed by this field name, upper-cased, `-` as `_`.
    Http(&'a [u8]),
    /// A name set by middleware.
    Extra(&'a str),
}

impl Key<'_> {
    /// The name's bytes, in order.
    pub fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        let (prefix, rest): (&[u8], &[u8]) = match *self {
            Key::Static(s) => (s.as_bytes(), &[]),
            Key::Http(name) => (b"HTTP_", name),
            Key::Extra(s) => (s.as_bytes(), &[]),
        };
        prefix.iter().copied().chain(rest.iter().map(|&b| {
            if b == b'-' {
                b'_'
            } else {
                b.to_ascii_uppercase()
            }
        }))
    }

    /// Is this the variable called `name`?
    #[must_use]
    pub fn is(&self, name: &str) -> bool {
        match *self {
            Key::Static(s) => s == name,
            Key::Extra(s) => s == name,
            Key::Http(field) => http_name_matches(field, name),
        }
    }
}

impl fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        self.bytes().try_for_each(|b| f.write_char(char::from(b)))
    }
}

impl PartialEq for Key<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Key<'_> {}

impl PartialOrd for Key<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key<'_> {
    /// Byte order of the names, as Python sorts `str` keys of latin-1 text.
    fn cmp(&self, other: &Self) -> Ordering {
        self.bytes().cmp(other.bytes())
    }
}

/// Does header field `field` map to the variable `name` (`HTTP_` + upper, `-` → `_`)?
fn http_name_matches(field: &[u8], name: &str) -> bool {
    name.as_bytes()
        .strip_prefix(b"HTTP_")
        .is_some_and(|rest| field_name_matches(field, rest))
}

/// Does header field `field` map to `name` after `HTTP_` (upper case, `-` → `_`)?
fn field_name_matches(field: &[u8], name: &[u8]) -> bool {
    name.len() == field.len() && name.iter().zip(field).all(|(&k, &f)| env_name_byte(f) == k)
}

/// A header-name byte as it appears in an environ name: upper case, `-` as `_`.
#[cfg(not(feature = "small"))]
#[inline]
fn env_name_byte(b: u8) -> u8 {
    crate::abnf::lookup(&ENV_NAME, b)
}

/// A header-name byte as it appears in an environ name: upper case, `-` as `_`. Computed:
/// the `small` build does without the 256-byte table.
#[cfg(feature = "small")]
#[inline]
fn env_name_byte(b: u8) -> u8 {
    if b == b'-' {
        b'_'
    } else {
        b.to_ascii_uppercase()
    }
}

/// [`env_name_byte`] as a table: one load per byte on the speed-first build.
#[cfg(not(feature = "small"))]
#[allow(clippy::indexing_slicing)] // const evaluation: an index out of bounds fails the build
static ENV_NAME: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = if b == b'-' {
            b'_'
        } else {
            b.to_ascii_uppercase()
        };
        i += 1;
    }
    table
};

/// Per-connection facts the gateway supplies for the environ.
#[derive(Clone, Copy, Debug)]
pub struct Gateway<'a> {
    /// `SERVER_NAME`.
    pub server_name: &'a str,
    /// `SERVER_PORT`.
    pub server_port: u16,
    /// `SERVER_SOFTWARE` (also the `Server` response header).
    pub server_software: &'a str,
    /// `wsgi.url_scheme`: `http` or `https`.
    pub url_scheme: &'a str,
    /// `wsgi.multithread`.
    pub multithread: bool,
    /// `wsgi.multiprocess`.
    pub multiprocess: bool,
    /// `wsgi.run_once`.
    pub run_once: bool,
}

impl Gateway<'_> {
    /// Defaults: `SERVER_NAME` `localhost`, port 80, `http`, no threads or processes.
    pub const DEFAULT: Gateway<'static> = Gateway {
        server_name: "localhost",
        server_port: 80,
        server_software: "wsgiref.rs/0.1",
        url_scheme: "http",
        multithread: false,
        multiprocess: false,
        run_once: false,
    };
}

impl Default for Gateway<'_> {
    fn default() -> Self {
        Gateway::DEFAULT
    }
}

/// The string-valued variables `HttpSource::cgi_str` knows, by their index in its table: the
/// fixed variables of an HTTP request in iteration order ([`CGI_KEYS`]), then
/// `wsgi.url_scheme` (listed with [`WSGI_KEYS`]).
const CGI_STR_NAMES: [&str; 15] = [
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "SERVER_SOFTWARE",
    "GATEWAY_INTERFACE",
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "REMOTE_HOST",
    "wsgi.url_scheme",
];

/// The fixed variables of an HTTP request, in iteration order.
const CGI_KEYS: &[&str] = CGI_STR_NAMES.split_at(14).0;

/// One dispatch on `key`'s length first (at most six names share one), then `$then` with
/// `$i` bound to the name's index in [`CGI_STR_NAMES`]; `None` for other keys.
#[cfg(not(feature = "small"))]
macro_rules! cgi_dispatch {
    ($key:expr, $i:ident => $then:expr) => {
        match ($key.len(), $key) {
            (14, "REQUEST_METHOD") => cgi_dispatch!(@ 0, $i => $then),
            (11, "SCRIPT_NAME") => cgi_dispatch!(@ 1, $i => $then),
            (9, "PATH_INFO") => cgi_dispatch!(@ 2, $i => $then),
            (12, "QUERY_STRING") => cgi_dispatch!(@ 3, $i => $then),
            (12, "CONTENT_TYPE") => cgi_dispatch!(@ 4, $i => $then),
            (14, "CONTENT_LENGTH") => cgi_dispatch!(@ 5, $i => $then),
            (11, "SERVER_NAME") => cgi_dispatch!(@ 6, $i => $then),
            (11, "SERVER_PORT") => cgi_dispatch!(@ 7, $i => $then),
            (15, "SERVER_PROTOCOL") => cgi_dispatch!(@ 8, $i => $then),
            (15, "SERVER_SOFTWARE") => cgi_dispatch!(@ 9, $i => $then),
            (17, "GATEWAY_INTERFACE") => cgi_dispatch!(@ 10, $i => $then),
            (11, "REMOTE_ADDR") => cgi_dispatch!(@ 11, $i => $then),
            (11, "REMOTE_PORT") => cgi_dispatch!(@ 12, $i => $then),
            (11, "REMOTE_HOST") => cgi_dispatch!(@ 13, $i => $then),
            (15, "wsgi.url_scheme") => cgi_dispatch!(@ 14, $i => $then),
            _ => None,
        }
    };
    (@ $index:literal, $i:ident => $then:expr) => {{
        let $i: usize = $index;
        $then
    }};
}

/// Where `key` is in [`CGI_STR_NAMES`] ([`cgi_dispatch`]; the default build dispatches
/// straight to the value in [`HttpSource::cgi_str`], so this is for the tests).
#[cfg(all(not(feature = "small"), test))]
fn cgi_str_index(key: &str) -> Option<usize> {
    cgi_dispatch!(key, i => Some(i))
}

/// Where `key` is in [`CGI_STR_NAMES`]: with the `small` feature, one loop over the names
/// (less code than the dispatch).
#[cfg(feature = "small")]
fn cgi_str_index(key: &str) -> Option<usize> {
    CGI_STR_NAMES.iter().position(|&name| name == key)
}

/// The WSGI variables, after the `HTTP_*` ones.
const WSGI_KEYS: [&str; 5] = [
    "wsgi.version",
    "wsgi.url_scheme",
    "wsgi.multithread",
    "wsgi.multiprocess",
    "wsgi.run_once",
];

/// Room for `SERVER_PORT`, `REMOTE_ADDR` and `REMOTE_PORT`: two ports of at most five
/// digits and the longest address text.
const NUMBERS_LEN: usize = 5 + IP_LEN + 5;

/// Text formatted at most once per request, on the first lookup that needs it: ports and the
/// peer address.
#[derive(Clone, Copy, Debug)]
struct Numbers {
    buf: [u8; NUMBERS_LEN],
    server_port: (u8, u8),
    remote_addr: (u8, u8),
    remote_port: (u8, u8),
}

impl Numbers {
    fn new(server_port: u16, remote: Option<SocketAddr>) -> Self {
        let mut n = Self {
            buf: [0; NUMBERS_LEN],
            server_port: (0, 0),
            remote_addr: (0, 0),
            remote_port: (0, 0),
        };
        let mut out = Text::new(&mut n.buf);
        out.put_u16(server_port);
        let a = out.len();
        if let Some(remote) = remote {
            out.put_ip(remote.ip());
            let b = out.len();
            out.put_u16(remote.port());
            let c = out.len();
            n.remote_addr = (a as u8, b as u8);
            n.remote_port = (b as u8, c as u8);
        }
        n.server_port = (0, a as u8);
        n
    }

    fn get(&self, (start, end): (u8, u8)) -> &[u8] {
        self.buf
            .get(usize::from(start)..usize::from(end))
            .unwrap_or(&[])
    }
}

/// The environ of an HTTP request: borrowed parts of the parsed head.
#[derive(Clone, Debug)]
struct HttpSource<'a> {
    head: &'a [u8],
    fields: &'a [Field],
    /// The method, path, query and protocol: spans of `head`, resolved on lookup (cheaper
    /// to build than four slices, and most are never read).
    line: [Span; 4],
    content_type: Option<u8>,
    content_length: Option<u8>,
    /// The kept Host field (not in the `small` build: see `Head::host`).
    #[cfg(not(feature = "small"))]
    host: Option<u8>,
    /// See [`HttpSource::target_authority`].
    absolute_form: bool,
    gateway: &'a Gateway<'a>,
    remote: &'a Option<SocketAddr>,
    /// `SERVER_PORT`, `REMOTE_ADDR` and `REMOTE_PORT` as text, formatted when first read.
    numbers: OnceCell<Numbers>,
    /// No variable was set or removed yet: the arena is empty. (Last, so that the enum
    /// [`Source`] keeps its tag in this byte, and [`Environ::get`] tests both at once.)
    unedited: bool,
}

impl<'a> HttpSource<'a> {
    /// The value of `HTTP_` + `name`: the kept field whose name maps to `name` (upper case,
    /// `-` as `_`), except Content-Type and Content-Length.
    fn http_field(&self, name: &[u8]) -> Option<&'a [u8]> {
        if name == b"HOST" {
            // The target's authority, else the one Host field (found while parsing).
            if let Some(authority) = self.target_authority() {
                return Some(authority);
            }
            #[cfg(not(feature = "small"))]
            return self
                .fields
                .get(usize::from(self.host?))
                .map(|host| value_of(host.value, self.head));
        }
        self.search_field(name)
    }

    /// [`HttpSource::http_field`]'s search of the kept fields (out of line in the default
    /// build, so that `HTTP_HOST` does not pay for the loop's registers). Content-Type and
    /// Content-Length are turned away by name, after `HOST` (one length comparison for it):
    /// no other name matches their fields, so the loop need not skip `content_type` and
    /// `content_length`.
    #[cfg_attr(not(feature = "small"), inline(never))]
    #[cfg_attr(feature = "small", inline(always))]
    fn search_field(&self, name: &[u8]) -> Option<&'a [u8]> {
        if name == b"CONTENT_TYPE" || name == b"CONTENT_LENGTH" {
            return None;
        }
        let head = self.head;
        self.fields
            .iter()
            .find(|f| {
                // A name out of range (never) matches nothing: fewer registers than `Span::of`.
                usize::from(f.name.len) == name.len()
                    && head
                        .get(usize::from(f.name.start)..f.name.end())
                        .is_some_and(|field| field_name_matches(field, name))
            })
            .map(|f| value_of(f.value, head))
    }

    /// The authority of an absolute-form request-target (`http://authority/path`), which
    /// stands for the Host field (RFC 9112 §3.2.2: the server ignores a received Host and
    /// uses the target's): `HTTP_HOST` is it. `None` for origin-form and asterisk-form,
    /// where the path starts the target.
    #[inline]
    fn target_authority(&self) -> Option<&'a [u8]> {
        if !self.absolute_form {
            return None;
        }
        self.absolute_authority()
    }

    /// [`HttpSource::target_authority`] of an absolute-form target.
    #[cold]
    fn absolute_authority(&self) -> Option<&'a [u8]> {
        let [method, path, ..] = self.line;
        let target = method.end() + 1;
        // The kept request line is contiguous from the method to the path (only the path is
        // rewritten, in place), so the target's bytes before its path lie between them.
        let before_path = self.head.get(target..usize::from(path.start))?;
        let at = before_path.windows(3).position(|w| w == b"://")? + 3;
        let authority = before_path.get(at..)?;
        let end = authority
            .iter()
            .position(|&b| b == b'/' || b == b'?')
            .unwrap_or(authority.len());
        authority.get(..end)
    }

    /// [`Environ::get`] on a request's environ without middleware changes.
    fn http_get(&self, key: &str) -> Option<&[u8]> {
        // `strip_prefix(b"HTTP_")` as one word comparison and one byte comparison.
        if let Some((&word, [b'_', name @ ..])) = key.as_bytes().split_first_chunk() {
            if u32::from_le_bytes(word) == u32::from_le_bytes(*b"HTTP") {
                return self.http_field(name);
            }
        }
        self.cgi_str(key)
    }

    /// `SERVER_PORT`, `REMOTE_ADDR` or `REMOTE_PORT` (`CGI_STR_NAMES[at]`; `None` for other
    /// `at`): the ports' and the peer address's text, all formatted on first use (`get` and
    /// `set`, not `get_or_init`, whose reentrancy panic would be dead code here). Not inlined:
    /// three variables share it.
    #[inline(never)]
    fn number(&self, at: usize) -> Option<&[u8]> {
        if self.numbers.get().is_none() {
            let _ = self
                .numbers
                .set(Numbers::new(self.gateway.server_port, *self.remote));
        }
        let n = self.numbers.get()?;
        Some(n.get(match at {
            7 => n.server_port,
            11 => n.remote_addr,
            12 => n.remote_port,
            _ => return None,
        }))
    }

    /// The CGI and WSGI variables of a request (everything but `HTTP_*`).
    fn cgi_value(&self, key: &str) -> Option<Value<'_>> {
        if let Some(s) = self.cgi_str(key) {
            return Some(Value::Str(s));
        }
        let g = self.gateway;
        match key {
            "wsgi.version" => Some(Value::Version(1, 0)),
            "wsgi.multithread" => Some(Value::Bool(g.multithread)),
            "wsgi.multiprocess" => Some(Value::Bool(g.multiprocess)),
            "wsgi.run_once" => Some(Value::Bool(g.run_once)),
            _ => None,
        }
    }

    /// The string-valued CGI and WSGI variables of a request (everything but `HTTP_*`).
    #[cfg(feature = "small")]
    fn cgi_str(&self, key: &str) -> Option<&[u8]> {
        self.cgi_str_at(cgi_str_index(key)?)
    }

    /// [`HttpSource::cgi_str`] in the default build: each arm of the name dispatch resolves
    /// its value in place (one jump, not one for the index and another for the value). The
    /// formatted variables leave the dispatch for one call at the end, a tail call: no arm
    /// saves registers for a call.
    #[cfg(not(feature = "small"))]
    fn cgi_str(&self, key: &str) -> Option<&[u8]> {
        let at = cgi_dispatch!(key, at => match at {
            7 | 11 | 12 => Some(at),
            _ => return self.cgi_str_at(at),
        })?;
        self.number(at)
    }

    /// The variable `CGI_STR_NAMES[at]`.
    #[inline(always)]
    fn cgi_str_at(&self, at: usize) -> Option<&[u8]> {
        let field = |i: Option<u8>| {
            i.and_then(|i| self.fields.get(usize::from(i)))
                .map(|f| value_of(f.value, self.head))
        };
        let [method, _, query, protocol] = self.line;
        let g = self.gateway;
        match at {
            0 => Some(value_of(method, self.head)),
            1 => Some(b""),
            2 => Some(path_info(self)),
            3 => Some(value_of(query, self.head)),
            // CPython's get_environ: text/plain when absent, '' for no length.
            4 => Some(field(self.content_type).unwrap_or(b"text/plain")),
            5 => Some(field(self.content_length).unwrap_or(b"")),
            6 => Some(g.server_name.as_bytes()),
            7 | 11 | 12 => self.number(at),
            8 => Some(value_of(protocol, self.head)),
            9 => Some(g.server_software.as_bytes()),
            10 => Some(b"CGI/1.1"),
            // simple_server's base environ: never resolved (CPython since 3.3).
            13 => Some(b""),
            14 => Some(g.url_scheme.as_bytes()),
            _ => None,
        }
    }
    /// Does the head have a Host field (kept, so not Content-Type or Content-Length)?
    fn has_host_field(&self) -> bool {
        self.fields
            .iter()
            .any(|f| f.name.of(self.head).eq_ignore_ascii_case(b"host"))
    }
}

#[derive(Clone, Debug)]
enum Source<'a> {
    Http(HttpSource<'a>),
    Pairs(&'a [(&'a str, &'a [u8])]),
}

/// Values set by middleware, packed into a caller-provided arena:
/// `[key_len: u8][value_len: u16 LE][kind: u8][key][value]` per entry, where kind is
/// `KIND_STR`, `KIND_REMOVED`, `KIND_FALSE`, `KIND_TRUE` or `KIND_VERSION` (then the value
/// is the two version bytes).
#[derive(Debug)]
struct Extras<'a> {
    buf: &'a mut [u8],
    len: usize,
}

const ENTRY_HEADER: usize = 4;
const KIND_STR: u8 = 0;
const KIND_REMOVED: u8 = 1;
const KIND_FALSE: u8 = 2;
const KIND_TRUE: u8 = 3;
const KIND_VERSION: u8 = 4;

/// One arena entry: (key, value or None when removed, entry size).
type Entry<'a> = (&'a str, Option<Value<'a>>, usize);

/// An arena entry as stored: its key's bytes (always a whole `&str`: only [`Extras::put`]
/// writes keys), its value and its size.
type RawEntry<'a> = (&'a [u8], Option<Value<'a>>, usize);

impl Extras<'_> {
    fn entry_at(&self, at: usize) -> Option<Entry<'_>> {
        let (key, value, size) = self.raw_entry_at(at)?;
        Some((core::str::from_utf8(key).ok()?, value, size))
    }

    /// [`Extras::entry_at`] without the key's UTF-8 check (the lookups compare bytes).
    fn raw_entry_at(&self, at: usize) -> Option<RawEntry<'_>> {
        let hdr: [u8; ENTRY_HEADER] = self.buf.get(at..at + ENTRY_HEADER)?.try_into().ok()?;
        let [klen, v0, v1, kind] = hdr;
        let (klen, vlen) = (usize::from(klen), usize::from(u16::from_le_bytes([v0, v1])));
        let key_at = at + ENTRY_HEADER;
        let key = self.buf.get(key_at..key_at + klen)?;
        let value = self.buf.get(key_at + klen..key_at + klen + vlen)?;
        let value = match (kind, value) {
            (KIND_STR, v) => Some(Value::Str(v)),
            (KIND_FALSE, _) => Some(Value::Bool(false)),
            (KIND_TRUE, _) => Some(Value::Bool(true)),
            (KIND_VERSION, &[major, minor]) => Some(Value::Version(major, minor)),
            _ => None,
        };
        Some((key, value, ENTRY_HEADER + klen + vlen))
    }

    fn entries(&self) -> impl Iterator<Item = Entry<'_>> {
        let mut at = 0;
        core::iter::from_fn(move || {
            if at >= self.len {
                return None;
            }
            let entry = self.entry_at(at)?;
            at += entry.2;
            Some(entry)
        })
    }

    fn find(&self, key: &str) -> Option<(usize, RawEntry<'_>)> {
        let mut at = 0;
        while at < self.len {
            let entry = self.raw_entry_at(at)?;
            if entry.0 == key.as_bytes() {
                return Some((at, entry));
            }
            at += entry.2;
        }
        None
    }

    fn delete(&mut self, key: &str) {
        if let Some((at, (_, _, size))) = self.find(key) {
            self.buf.copy_within(at + size..self.len, at);
            self.len -= size;
        }
    }

    /// Would string entries of these keys and value lengths, each replacing any entry of
    /// its key, all fit together? (Keys distinct.)
    fn fits(&self, entries: &[(&str, usize)]) -> bool {
        let mut len = self.len;
        for &(key, value_len) in entries {
            if key.len() > usize::from(u8::MAX) || value_len > usize::from(u16::MAX) {
                return false;
            }
            let old = self.find(key).map_or(0, |(_, e)| e.2);
            len = len - old + ENTRY_HEADER + key.len() + value_len;
        }
        len <= self.buf.len()
    }

    fn put(&mut self, key: &str, value: Option<Value<'_>>) -> Result<(), LocalError> {
        let klen = u8::try_from(key.len()).map_err(|_| LocalError::CapacityExceeded)?;
        let version;
        let (kind, v): (u8, &[u8]) = match value {
            None => (KIND_REMOVED, &[]),
            Some(Value::Str(s)) => (KIND_STR, s),
            Some(Value::Bool(false)) => (KIND_FALSE, &[]),
            Some(Value::Bool(true)) => (KIND_TRUE, &[]),
            Some(Value::Version(major, minor)) => {
                version = [major, minor];
                (KIND_VERSION, &version)
            }
        };
        let vlen = u16::try_from(v.len()).map_err(|_| LocalError::CapacityExceeded)?;
        let size = ENTRY_HEADER + key.len() + v.len();
        let old = self.find(key).map_or(0, |(_, e)| e.2);
        if self.len - old + size > self.buf.len() {
            return Err(LocalError::CapacityExceeded);
        }
        self.delete(key);
        let [v0, v1] = vlen.to_le_bytes();
        let mut out = Cursor::new(self.buf, self.len);
        out.put_all(&[&[klen, v0, v1, kind], key.as_bytes(), v])?;
        self.len = out.pos();
        Ok(())
    }
}

/// The environ of one request. See the [module docs](self).
#[derive(Debug)]
pub struct Environ<'a> {
    source: Source<'a>,
    extras: Extras<'a>,
}

impl<'a> Environ<'a> {
    /// An environ from explicit variables (a CGI gateway's process environment, tests),
    /// with `arena` for values set later. Names are meant to be unique, as in a process
    /// environment; of repeated ones, lookups see the first and [`Environ::iter`] yields
    /// every pair.
    pub fn from_pairs(pairs: &'a [(&'a str, &'a [u8])], arena: &'a mut [u8]) -> Self {
        Self {
            source: Source::Pairs(pairs),
            extras: Extras { buf: arena, len: 0 },
        }
    }

    /// The environ of a parsed request head.
    pub(crate) fn from_head<const H: usize>(
        head_bytes: &'a [u8],
        head: &'a Head<H>,
        gateway: &'a Gateway<'a>,
        remote: &'a Option<SocketAddr>,
        arena: &'a mut [u8],
    ) -> Self {
        Self {
            source: Source::Http(HttpSource {
                head: head_bytes,
                fields: &head.fields,
                line: [head.method, head.path, head.query, head.protocol],
                content_type: head.content_type,
                #[cfg(not(feature = "small"))]
                host: head.host,
                content_length: head.content_length,
                absolute_form: head.absolute_form,
                gateway,
                remote,
                numbers: OnceCell::new(),
                unedited: true,
            }),
            extras: Extras { buf: arena, len: 0 },
        }
    }

    /// The value of a string variable, such as `get("HTTP_USER_AGENT")`; `None` if absent
    /// or not a string (`wsgi.multithread` is a [`Value::Bool`]: see [`Environ::value`]).
    #[must_use]
    #[inline]
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        match &self.source {
            // The common case, kept short: a request's environ nobody has changed.
            Source::Http(h) if h.unedited => h.http_get(key),
            _ => self.edited_get(key),
        }
    }

    /// [`Environ::get`] of other environs (out of the way of the common case).
    #[cold]
    #[inline(never)]
    fn edited_get(&self, key: &str) -> Option<&[u8]> {
        match self.value(key)? {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// [`Environ::get`] as UTF-8 text, if it is valid UTF-8.
    #[must_use]
    pub fn get_str(&self, key: &str) -> Option<&str> {
        core::str::from_utf8(self.get(key)?).ok()
    }

    /// The value of any variable.
    #[must_use]
    pub fn value(&self, key: &str) -> Option<Value<'_>> {
        if self.extras.len != 0 {
            if let Some((_, (_, value, _))) = self.extras.find(key) {
                return value;
            }
        }
        self.base_value(key)
    }

    /// Is `key` present?
    #[must_use]
    pub fn contains(&self, key: &str) -> bool {
        self.value(key).is_some()
    }

    /// Sets (or replaces) a variable; the key and value are copied into the arena.
    ///
    /// # Errors
    /// [`LocalError::CapacityExceeded`] if the arena cannot hold it; nothing changes then.
    pub fn set(&mut self, key: &str, value: &[u8]) -> Result<(), LocalError> {
        self.edit();
        self.extras.put(key, Some(Value::Str(value)))
    }

    /// Sets two string variables at once: both, or (the arena cannot hold both) neither.
    /// `shift_path_info` moves a segment from `PATH_INFO` to `SCRIPT_NAME` this way, so a
    /// full arena never leaves the segment in both or in neither.
    pub(crate) fn set_both(
        &mut self,
        (k1, v1): (&str, &[u8]),
        (k2, v2): (&str, &[u8]),
    ) -> Result<(), LocalError> {
        if k1 == k2 || !self.extras.fits(&[(k1, v1.len()), (k2, v2.len())]) {
            return Err(LocalError::CapacityExceeded);
        }
        self.set(k1, v1)?;
        self.set(k2, v2)
    }

    /// Before the arena's first entry: lookups leave the unedited path.
    fn edit(&mut self) {
        if let Source::Http(h) = &mut self.source {
            h.unedited = false;
        }
    }

    /// Sets (or replaces) a variable with any [`Value`], such as a `wsgi.*` flag.
    ///
    /// # Errors
    /// [`LocalError::CapacityExceeded`] if the arena cannot hold it; nothing changes then.
    pub fn set_value(&mut self, key: &str, value: Value<'_>) -> Result<(), LocalError> {
        self.edit();
        self.extras.put(key, Some(value))
    }

    /// Removes a variable (`del environ[key]`).
    ///
    /// # Errors
    /// [`LocalError::CapacityExceeded`] if hiding a request variable needs arena space
    /// that is not there.
    pub fn remove(&mut self, key: &str) -> Result<(), LocalError> {
        if self.base_value(key).is_some() {
            self.edit();
            self.extras.put(key, None)
        } else {
            self.extras.delete(key);
            Ok(())
        }
    }

    /// Every variable, in a stable order: the CGI variables, the `HTTP_*` variables in the
    /// order their fields arrived, the `wsgi.*` variables, then keys added by middleware.
    pub fn iter(&self) -> impl Iterator<Item = (Key<'_>, Value<'_>)> + '_ {
        // A field's or a pair's value comes with its key (looking it up by name would make a
        // walk over every variable quadratic, and `demo_app`'s sorted page cubic).
        let base = self.base_keys().filter_map(move |(key, value)| {
            match self.extras.entries().find(|(name, _, _)| key.is(name)) {
                Some((_, Some(v), _)) => Some((key, v)),
                Some((_, None, _)) => None,
                None => value
                    .map(Value::Str)
                    .or_else(|| self.base_value_of(&key))
                    .map(|v| (key, v)),
            }
        });
        let extras = self
            .extras
            .entries()
            .filter(move |(k, v, _)| v.is_some() && self.base_value(k).is_none())
            .filter_map(|(k, v, _)| Some((Key::Extra(k), v?)));
        base.chain(extras)
    }

    /// The request's `wsgi.url_scheme`, `http` if unknown.
    #[must_use]
    pub fn url_scheme(&self) -> &[u8] {
        self.get("wsgi.url_scheme").unwrap_or(b"http")
    }

    /// The request's own variables in iteration order, each with its value when that is a
    /// field's or a pair's (the others are looked up by name).
    fn base_keys(&self) -> impl Iterator<Item = (Key<'a>, Option<&'a [u8]>)> + 'a {
        let (cgi, http, wsgi, pairs): (&[&str], &[Field], &[&str], &[(&str, &[u8])]) =
            match &self.source {
                Source::Http(h) => (CGI_KEYS, h.fields, &WSGI_KEYS, &[]),
                Source::Pairs(p) => (&[], &[], &[], *p),
            };
        let head = match &self.source {
            Source::Http(h) => h.head,
            Source::Pairs(_) => &[],
        };
        let (ct, cl) = match &self.source {
            Source::Http(h) => (h.content_type, h.content_length),
            Source::Pairs(_) => (None, None),
        };
        // An absolute-form target's authority is `HTTP_HOST` (RFC 9112 §3.2.2), with or
        // without a Host field (HTTP/1.0).
        let authority = match &self.source {
            Source::Http(h) => h.target_authority(),
            Source::Pairs(_) => None,
        };
        let target_host = match &self.source {
            Source::Http(h) if authority.is_some() && !h.has_host_field() => {
                Some((Key::Http(b"Host"), authority))
            }
            _ => None,
        };
        cgi.iter()
            .map(|&k| (Key::Static(k), None))
            .chain(
                http.iter()
                    .enumerate()
                    .filter(move |(i, _)| {
                        let i = u8::try_from(*i).ok();
                        i != ct && i != cl
                    })
                    .map(move |(_, f)| {
                        let name = f.name.of(head);
                        let value = match authority {
                            Some(a) if name.eq_ignore_ascii_case(b"host") => a,
                            _ => f.value.of(head),
                        };
                        (Key::Http(name), Some(value))
                    }),
            )
            .chain(target_host)
            .chain(wsgi.iter().map(|&k| (Key::Static(k), None)))
            .chain(pairs.iter().map(|&(k, v)| (Key::Extra(k), Some(v))))
    }

    fn base_value_of(&self, key: &Key<'_>) -> Option<Value<'_>> {
        match (*key, &self.source) {
            (Key::Http(name), Source::Http(h)) => {
                let target = if name.eq_ignore_ascii_case(b"host") {
                    h.target_authority()
                } else {
                    None
                };
                target
                    .or_else(|| {
                        h.fields
                            .iter()
                            .find(|f| f.name.of(h.head) == name)
                            .map(|f| f.value.of(h.head))
                    })
                    .map(Value::Str)
            }
            (Key::Static(k) | Key::Extra(k), _) => self.base_value(k),
            (Key::Http(_), Source::Pairs(_)) => None,
        }
    }

    fn base_value(&self, key: &str) -> Option<Value<'_>> {
        let h = match &self.source {
            Source::Pairs(pairs) => {
                return pairs
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|&(_, v)| Value::Str(v));
            }
            Source::Http(h) => h,
        };
        // No fixed name starts with `HTTP_`: header variables skip the table.
        if let Some(name) = key.as_bytes().strip_prefix(b"HTTP_") {
            return h.http_field(name).map(Value::Str);
        }
        h.cgi_value(key)
    }

    /// What [`Environ::get`] gives for `REQUEST_METHOD`, `SCRIPT_NAME`, `PATH_INFO`,
    /// `QUERY_STRING` and `SERVER_PROTOCOL` (middleware changes included), in that order:
    /// the request line as routing left it, for an access log. Without a lookup by name, so
    /// a gateway that reads only these links none of the other variables' code.
    ///
    /// ```
    /// use wsgiref::environ::Environ;
    ///
    /// let pairs: &[(&str, &[u8])] = &[("REQUEST_METHOD", b"GET"), ("PATH_INFO", b"/a/b")];
    /// let mut arena = [0u8; 64];
    /// let mut env = Environ::from_pairs(pairs, &mut arena);
    /// env.set("SCRIPT_NAME", b"/a").unwrap();
    /// env.set("PATH_INFO", b"/b").unwrap();
    /// let vars = env.request_line_vars();
    /// assert_eq!(vars, [Some(&b"GET"[..]), Some(b"/a"), Some(b"/b"), None, None]);
    /// ```
    #[must_use]
    pub fn request_line_vars(&self) -> [Option<&[u8]>; 5] {
        [
            (0, "REQUEST_METHOD"),
            (1, "SCRIPT_NAME"),
            (2, "PATH_INFO"),
            (3, "QUERY_STRING"),
            (8, "SERVER_PROTOCOL"),
        ]
        .map(|(at, key)| self.line_var(at, key))
    }

    /// [`Environ::get`] of `key`, the request-line variable `CGI_STR_NAMES[at]` (`at` is 0
    /// to 3 or 8).
    fn line_var(&self, at: usize, key: &str) -> Option<&[u8]> {
        let value = match (&self.source, self.extras.len) {
            (Source::Http(h), 0) => return Some(line_str(h, at)),
            (source, _) => match self.extras.find(key) {
                Some((_, (_, value, _))) => value,
                None => match source {
                    Source::Pairs(pairs) => pairs
                        .iter()
                        .find(|(k, _)| *k == key)
                        .map(|&(_, v)| Value::Str(v)),
                    Source::Http(h) => Some(Value::Str(line_str(h, at))),
                },
            },
        };
        match value? {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// `span.of(head)` for a lookup's value. The default build branches to an out-of-line empty
/// value when the span is out of range (never, for the parser's spans) instead of selecting
/// it on every lookup.
#[cfg(not(feature = "small"))]
#[inline(always)]
fn value_of(span: Span, head: &[u8]) -> &[u8] {
    match head.get(usize::from(span.start)..span.end()) {
        Some(value) => value,
        None => out_of_range(),
    }
}

#[cfg(not(feature = "small"))]
#[cold]
#[inline(never)]
fn out_of_range() -> &'static [u8] {
    &[]
}

/// `span.of(head)` for a lookup's value.
#[cfg(feature = "small")]
#[inline(always)]
fn value_of(span: Span, head: &[u8]) -> &[u8] {
    span.of(head)
}

/// `PATH_INFO` of a request.
#[inline(always)]
fn path_info<'a>(h: &HttpSource<'a>) -> &'a [u8] {
    // An absolute-form target without a path (`http://h?q`) asks for `/` (RFC 9110 §4.2.3),
    // as its origin-form would (RFC 9112 §3.2.1).
    match value_of(h.line[1], h.head) {
        #[cfg(not(feature = "small"))]
        b"" => empty_path(h),
        #[cfg(feature = "small")]
        b"" if h.absolute_form => b"/",
        path => path,
    }
}

/// [`path_info`] of an empty path (a branch rather than selects on every lookup).
#[cfg(not(feature = "small"))]
#[cold]
fn empty_path<'a>(h: &HttpSource<'a>) -> &'a [u8] {
    if h.absolute_form { b"/" } else { b"" }
}

/// The request-line variable `CGI_STR_NAMES[at]` (`at` is 0 to 3 or 8) of a request: what
/// `HttpSource::cgi_str_at` gives for it, without the other variables.
#[inline(always)]
fn line_str<'a>(h: &HttpSource<'a>, at: usize) -> &'a [u8] {
    let [method, _, query, protocol] = h.line;
    match at {
        0 => method.of(h.head),
        2 => path_info(h),
        3 => query.of(h.head),
        8 => protocol.of(h.head),
        _ => b"",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgi_str_index_is_the_names_table() {
        for (i, name) in CGI_STR_NAMES.iter().enumerate() {
            assert_eq!(cgi_str_index(name), Some(i), "{name}");
        }
        for other in [
            "",
            "HTTP_HOST",
            "REQUEST_METHOd",
            "PATH_INFO ",
            "wsgi.version",
        ] {
            assert_eq!(cgi_str_index(other), None, "{other}");
        }
    }

    #[test]
    fn env_name_bytes() {
        for b in 0..=255u8 {
            let want = if b == b'-' {
                b'_'
            } else {
                b.to_ascii_uppercase()
            };
            assert_eq!(env_name_byte(b), want, "{b}");
        }
    }
}
