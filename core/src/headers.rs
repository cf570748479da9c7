//! Response headers: Python's `wsgiref.headers.Headers` with a fixed capacity and no heap.
//!
//! [`Headers`] is an ordered list of `(name, value)` pairs in which a name may repeat, exactly
//! like the list that Python's `Headers` wraps. Names are compared ASCII case-insensitively;
//! the casing given by the caller is kept and written as given.
//!
//! # Storage
//!
//! * **Names** are `&'a str` borrowed from the caller. A name must be an HTTP token
//!   (RFC 9110 §5.6.2), so it is always ASCII and `str` loses nothing.
//! * **Values** are byte strings (`&[u8]`), the "native strings" of PEP 3333 seen as their
//!   latin-1 bytes: byte `0xE9` is `é`. Methods that store a value as given
//!   ([`set`](Headers::set), [`append`](Headers::append), [`setdefault`](Headers::setdefault),
//!   [`from_pairs`](Headers::from_pairs)) borrow it for `'a` and accept anything that is
//!   `AsRef<[u8]>`, so both `"text/plain"` and `b"text/plain"` work. A `&str` is taken as its
//!   UTF-8 bytes, which are the same bytes for ASCII; pass bytes to store latin-1 obs-text.
//! * **Formatted values** built by [`add_header`](Headers::add_header) (such as
//!   `attachment; filename="bud.gif"`) are not slices of anything the caller owns, so they
//!   are copied into an arena of `BYTES` bytes inside the `Headers` value. Removing or
//!   replacing a header gives its arena bytes back (the arena is compacted), so a
//!   long-lived `Headers` does not leak arena space.
//!
//! The two capacities are const generics: `Headers<'a, N, BYTES>` holds at most `N` pairs
//! and `BYTES` bytes of formatted values; `Headers<'a>` is `Headers<'a, 16, 256>`. Going
//! over either is [`LocalError::CapacityExceeded`].
//!
//! # Validation
//!
//! Every pair is validated before it is stored, whichever method stores it, and a method
//! that fails changes nothing (CPython's `__setitem__` deletes the old values before it
//! validates the new one; this port does not):
//!
//! * a name that is not a token (empty, or containing a control byte, a space, a separator
//!   such as `:` or a non-ASCII character) is [`LocalError::BadHeaderName`]. Python only
//!   rejects control characters (CVE-2026-0865); a non-token name cannot go on the wire, so
//!   this port is stricter on purpose;
//! * a value containing a control byte (`0x00`–`0x1F` except HTAB, and `0x7F`) is
//!   [`LocalError::BadHeaderValue`], exactly as patched CPython (CVE-2026-0865, gh-144118).
//!   Bytes `0x80`–`0xFF` are allowed.
//!
//! Lookups ([`get`](Headers::get), [`contains`](Headers::contains), [`remove`](Headers::remove),
//! …) never fail: a name that could not have been stored simply matches nothing. Whether a
//! header is hop-by-hop is not checked here; the handler does that.
//!
//! # Example
//!
//! ```
//! use wsgiref::headers::Headers;
//!
//! let mut h: Headers = Headers::from_pairs(&[("Content-Type", "text/plain")])?;
//! h.set("Content-Length", "13")?;
//! h.add_header("Content-Disposition", Some("attachment"), &[("filename", Some("bud.gif"))])?;
//!
//! assert_eq!(h.get("content-type"), Some(&b"text/plain"[..]));
//! assert_eq!(
//!     h.get("CONTENT-DISPOSITION"),
//!     Some(&br#"attachment; filename="bud.gif""#[..])
//! );
//!
//! let mut out = [0u8; 128];
//! let n = h.write_to(&mut out)?;
//! assert_eq!(
//!     &out[..n],
//!     b"Content-Type: text/plain\r\n\
//!       Content-Length: 13\r\n\
//!       Content-Disposition: attachment; filename=\"bud.gif\"\r\n\
//!       \r\n"
//! );
//! assert_eq!(n, h.encoded_len());
//! # Ok::<(), wsgiref::LocalError>(())
//! ```

use core::fmt::{self, Write as _};

use heapless::Vec;

use crate::LocalError;
use crate::abnf::{is_field_value, is_token};

/// Where the bytes of a stored value live.
#[derive(Clone, Copy, Debug)]
enum Value<'a> {
    /// Borrowed from the caller.
    Borrowed(&'a [u8]),
    /// `len` bytes of the arena starting at `start`.
    Arena { start: usize, len: usize },
}

/// One stored pair.
#[derive(Clone, Copy, Debug)]
struct Field<'a> {
    name: &'a str,
    value: Value<'a>,
}

/// An ordered, fixed-capacity list of response header fields; Python's
/// `wsgiref.headers.Headers`.
///
/// `N` is the maximum number of pairs, `BYTES` the size of the arena that holds values
/// formatted by [`add_header`](Self::add_header). See the [module documentation](self) for
/// how names and values are stored and validated.
///
/// Because the capacities are generic, an expression such as `Headers::new()` needs its
/// type from somewhere: write `let h: Headers = Headers::new();` for the default capacities
/// or `Headers::<8, 64>::new()` for others.
///
/// Formatting: [`write_to`](Self::write_to) produces Python's `bytes(h)`, the
/// [`Display`](fmt::Display) implementation Python's `str(h)` and the
/// [`Debug`](fmt::Debug) implementation something like Python's `repr(h)`.
#[derive(Clone)]
pub struct Headers<'a, const N: usize = 16, const BYTES: usize = 256> {
    /// The pairs, in order. Invariant: the arena-backed values appear in increasing `start`
    /// order and tile the arena exactly (no gaps, nothing after the last one).
    fields: Vec<Field<'a>, N>,
    /// Values formatted by `add_header`.
    arena: Vec<u8, BYTES>,
}

impl<'a, const N: usize, const BYTES: usize> Headers<'a, N, BYTES> {
    /// An empty list; Python's `Headers()` (or `Headers([])`).
    ///
    /// ```
    /// use wsgiref::headers::Headers;
    /// let h: Headers = Headers::new();
    /// assert!(h.is_empty());
    /// let small = Headers::<4, 32>::new();
    /// assert_eq!(small.capacity(), 4);
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Self {
            fields: Vec::new(),
            arena: Vec::new(),
        }
    }

    /// A list holding `pairs` in order; Python's `Headers([(name, value), ...])`.
    ///
    /// Every pair is validated first (CPython skips this under `python -O`, gh-150726; this
    /// port never does), then the capacity is checked.
    ///
    /// # Errors
    ///
    /// [`LocalError::BadHeaderName`] or [`LocalError::BadHeaderValue`] for the first invalid
    /// pair, [`LocalError::CapacityExceeded`] for more than `N` pairs.
    ///
    /// ```
    /// use wsgiref::{headers::Headers, LocalError};
    /// let h: Headers = Headers::from_pairs(&[("x", "y"), ("X", "z")])?;
    /// assert_eq!(h.len(), 2);
    /// assert_eq!(
    ///     Headers::<2>::from_pairs(&[("x", "a\r\nb")]),
    ///     Err(LocalError::BadHeaderValue)
    /// );
    /// # Ok::<(), LocalError>(())
    /// ```
    pub fn from_pairs<V>(pairs: &[(&'a str, &'a V)]) -> Result<Self, LocalError>
    where
        V: AsRef<[u8]> + ?Sized,
    {
        for &(name, value) in pairs {
            check_pair(name, value.as_ref())?;
        }
        if pairs.len() > N {
            return Err(LocalError::CapacityExceeded);
        }
        let mut headers = Self::new();
        for &(name, value) in pairs {
            headers.push_borrowed(name, value.as_ref())?;
        }
        Ok(headers)
    }

    /// The number of pairs, duplicates included; Python's `len(h)`.
    #[must_use]
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no pairs at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The maximum number of pairs, `N`. (No Python equivalent: Python's list grows.)
    #[must_use]
    pub const fn capacity(&self) -> usize {
        N
    }

    /// How many bytes of the `BYTES`-byte arena the values formatted by
    /// [`add_header`](Self::add_header) currently use. (No Python equivalent.)
    #[must_use]
    pub fn arena_len(&self) -> usize {
        self.arena.len()
    }

    /// The value of the first pair named `name` (ASCII case-insensitive), if any; Python's
    /// `h.get(name)` and `h[name]`.
    ///
    /// Python's `get(name, default)` is `get(name).unwrap_or(default)`. An empty value is
    /// `Some(b"")`, not `None`.
    ///
    /// ```
    /// use wsgiref::headers::Headers;
    /// let h: Headers = Headers::from_pairs(&[("Foo", "bar"), ("foo", "baz")])?;
    /// assert_eq!(h.get("FOO"), Some(&b"bar"[..]));
    /// assert_eq!(h.get("zoo").unwrap_or(b"whee"), b"whee");
    /// # Ok::<(), wsgiref::LocalError>(())
    /// ```
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.get_all(name).next()
    }

    /// The values of every pair named `name` (ASCII case-insensitive), in order; Python's
    /// `h.get_all(name)`. Empty when there is none.
    #[must_use]
    pub fn get_all<'s>(&'s self, name: &str) -> impl DoubleEndedIterator<Item = &'s [u8]> {
        let arena = self.arena.as_slice();
        self.fields
            .iter()
            .filter(move |field| same_name(field.name, name))
            .map(move |field| resolve(arena, field.value))
    }

    /// Whether a pair named `name` exists; Python's `name in h`. A pair with an empty value
    /// counts.
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// The names of all pairs in order, duplicates included, as given when stored; Python's
    /// `h.keys()`.
    #[must_use]
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &'a str> + ExactSizeIterator {
        self.fields.iter().map(|field| field.name)
    }

    /// The values of all pairs in order, duplicates included; Python's `h.values()`.
    #[must_use]
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &[u8]> + ExactSizeIterator {
        let arena = self.arena.as_slice();
        self.fields
            .iter()
            .map(move |field| resolve(arena, field.value))
    }

    /// All pairs in order, duplicates included; Python's `h.items()`.
    ///
    /// Python returns a copy of the list; here the iterator borrows the headers, so the
    /// borrow checker rules out mutation while it lives.
    #[must_use]
    pub fn items(&self) -> impl DoubleEndedIterator<Item = (&'a str, &[u8])> + ExactSizeIterator {
        let arena = self.arena.as_slice();
        self.fields
            .iter()
            .map(move |field| (field.name, resolve(arena, field.value)))
    }

    /// Replaces every pair named `name` by one `(name, value)` pair at the end; Python's
    /// `h[name] = value`.
    ///
    /// Unlike CPython, the new pair is validated (and the capacity checked) before the old
    /// pairs are removed, so a failed call leaves the headers as they were.
    ///
    /// # Errors
    ///
    /// [`LocalError::BadHeaderName`], [`LocalError::BadHeaderValue`], or
    /// [`LocalError::CapacityExceeded`] when the list is full and holds no pair named `name`.
    ///
    /// ```
    /// use wsgiref::{headers::Headers, LocalError};
    /// let mut h: Headers = Headers::from_pairs(&[("Foo", "1"), ("Bar", "2"), ("FOO", "3")])?;
    /// h.set("foo", "4")?;
    /// assert!(h.items().eq([("Bar", &b"2"[..]), ("foo", &b"4"[..])]));
    /// assert_eq!(h.set("foo", "x\r\nSet-Cookie: evil"), Err(LocalError::BadHeaderValue));
    /// assert_eq!(h.get("foo"), Some(&b"4"[..]));
    /// # Ok::<(), LocalError>(())
    /// ```
    pub fn set<V>(&mut self, name: &'a str, value: &'a V) -> Result<(), LocalError>
    where
        V: AsRef<[u8]> + ?Sized,
    {
        let value = value.as_ref();
        check_pair(name, value)?;
        let matching = self.get_all(name).count();
        if self.fields.len().saturating_sub(matching) >= N {
            return Err(LocalError::CapacityExceeded);
        }
        self.remove(name);
        self.push_borrowed(name, value)
    }

    /// Appends `(name, value)` at the end, keeping any pairs already named `name`.
    ///
    /// This is Python's `h.add_header(name, value)` without parameters (or `append` on the
    /// list a Python `Headers` wraps), except that the value is borrowed, not copied into
    /// the arena.
    ///
    /// # Errors
    ///
    /// [`LocalError::BadHeaderName`], [`LocalError::BadHeaderValue`], or
    /// [`LocalError::CapacityExceeded`] when `N` pairs are stored already.
    pub fn append<V>(&mut self, name: &'a str, value: &'a V) -> Result<(), LocalError>
    where
        V: AsRef<[u8]> + ?Sized,
    {
        let value = value.as_ref();
        check_pair(name, value)?;
        self.push_borrowed(name, value)
    }

    /// The first value of `name` if there is one, otherwise appends `(name, value)` and
    /// returns `value`; Python's `h.setdefault(name, value)`.
    ///
    /// An existing empty value is returned as is (nothing is appended). As in Python,
    /// `value` is only validated when it is appended; `name` is always validated.
    ///
    /// # Errors
    ///
    /// [`LocalError::BadHeaderName`]; when appending, [`LocalError::BadHeaderValue`] or
    /// [`LocalError::CapacityExceeded`].
    ///
    /// ```
    /// use wsgiref::headers::Headers;
    /// let mut h: Headers = Headers::from_pairs(&[("foo", "baz")])?;
    /// assert_eq!(h.setdefault("FOO", "whee")?, b"baz");
    /// assert_eq!(h.setdefault("zoo", "whee")?, b"whee");
    /// assert_eq!(h.len(), 2);
    /// # Ok::<(), wsgiref::LocalError>(())
    /// ```
    pub fn setdefault<V>(&mut self, name: &'a str, value: &'a V) -> Result<&[u8], LocalError>
    where
        V: AsRef<[u8]> + ?Sized,
    {
        check_name(name)?;
        if let Some(index) = self.position(name) {
            let arena = self.arena.as_slice();
            return Ok(self
                .fields
                .get(index)
                .map_or(&[][..], |field| resolve(arena, field.value)));
        }
        let value = value.as_ref();
        check_value(value)?;
        self.push_borrowed(name, value)?;
        Ok(value)
    }

    /// Removes every pair named `name` (ASCII case-insensitive) and returns how many there
    /// were; Python's `del h[name]`. A missing name is not an error.
    pub fn remove(&mut self, name: &str) -> usize {
        let before = self.fields.len();
        self.fields.retain(|field| !same_name(field.name, name));
        let removed = before.saturating_sub(self.fields.len());
        if removed > 0 {
            self.compact_arena();
        }
        removed
    }

    /// Appends a header whose value is `value` followed by MIME-style parameters; Python's
    /// `h.add_header(name, value, **params)`.
    ///
    /// The stored value is the `"; "`-joined list of: `value` if it is `Some` (even when
    /// empty), then one part per parameter in order. A parameter name has every `_` replaced
    /// by `-` (it is not lower-cased). A parameter whose value is `None` or `Some("")` is
    /// the bare name; otherwise it is `name="value"` with `\` and `"` in the value escaped by
    /// a backslash (Python's `_formatparam` with `quote=1`, which `add_header` always uses).
    ///
    /// The formatted value is copied into the arena, so `value` and `params` may be
    /// temporaries; `name` is borrowed. `&str` arguments contribute their UTF-8 bytes.
    ///
    /// # Errors
    ///
    /// [`LocalError::BadHeaderName`] if `name` or a parameter name is not a token,
    /// [`LocalError::BadHeaderValue`] if `value` or a parameter value contains a control
    /// byte other than HTAB, [`LocalError::CapacityExceeded`] if `N` pairs are stored
    /// already or the formatted value does not fit in the rest of the arena. Nothing is
    /// stored when an error is returned.
    ///
    /// ```
    /// use wsgiref::headers::Headers;
    /// let mut h: Headers = Headers::new();
    /// h.add_header("content-disposition", Some("attachment"), &[("filename", Some("bud.gif"))])?;
    /// h.add_header("X-A", None, &[("foo_bar", Some("baz")), ("spam", None), ("q", Some("a\"b"))])?;
    /// h.add_header("X-B", None, &[])?;
    /// assert!(h.values().eq([
    ///     &br#"attachment; filename="bud.gif""#[..],
    ///     br#"foo-bar="baz"; spam; q="a\"b""#,
    ///     b"",
    /// ]));
    /// # Ok::<(), wsgiref::LocalError>(())
    /// ```
    pub fn add_header(
        &mut self,
        name: &'a str,
        value: Option<&str>,
        params: &[(&str, Option<&str>)],
    ) -> Result<(), LocalError> {
        check_name(name)?;
        if let Some(value) = value {
            check_value(value.as_bytes())?;
        }
        for &(key, param) in params {
            check_name(key)?;
            if let Some(param) = param {
                check_value(param.as_bytes())?;
            }
        }
        if self.fields.is_full() {
            return Err(LocalError::CapacityExceeded);
        }
        let start = self.arena.len();
        if format_value(&mut self.arena, value, params).is_err() {
            self.arena.truncate(start);
            return Err(LocalError::CapacityExceeded);
        }
        let len = self.arena.len().saturating_sub(start);
        let field = Field {
            name,
            value: Value::Arena { start, len },
        };
        if self.fields.push(field).is_err() {
            self.arena.truncate(start);
            return Err(LocalError::CapacityExceeded);
        }
        Ok(())
    }

    /// The length of [`write_to`](Self::write_to)'s output: for each pair, the name, `": "`,
    /// the value and CRLF, then a final CRLF.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        self.items().fold(2, |total, (name, value)| {
            total
                .saturating_add(name.len())
                .saturating_add(value.len())
                .saturating_add(4)
        })
    }

    /// Writes the header block into `out` and returns how many bytes were written; Python's
    /// `bytes(h)`.
    ///
    /// The block is `Name: value\r\n` for each pair in order, then `\r\n`; an empty list is
    /// just `\r\n`. Names are written with the casing they were stored with, values as their
    /// bytes.
    ///
    /// # Errors
    ///
    /// [`LocalError::BufferTooSmall`] with the [`encoded_len`](Self::encoded_len) when `out`
    /// is shorter than that; nothing is written then.
    ///
    /// ```
    /// use wsgiref::{headers::Headers, LocalError};
    /// let h: Headers = Headers::from_pairs(&[("X", b"\xe9")])?;
    /// let mut out = [0u8; 16];
    /// assert_eq!(h.write_to(&mut out), Ok(8));
    /// assert_eq!(&out[..8], b"X: \xe9\r\n\r\n");
    /// assert_eq!(h.write_to(&mut out[..7]), Err(LocalError::BufferTooSmall { needed: 8 }));
    /// # Ok::<(), LocalError>(())
    /// ```
    pub fn write_to(&self, out: &mut [u8]) -> Result<usize, LocalError> {
        let needed = self.encoded_len();
        let too_small = LocalError::BufferTooSmall { needed };
        if out.len() < needed {
            return Err(too_small);
        }
        let mut rest = out;
        for (name, value) in self.items() {
            for part in [name.as_bytes(), b": ", value, b"\r\n"] {
                put(&mut rest, part).ok_or(too_small)?;
            }
        }
        put(&mut rest, b"\r\n").ok_or(too_small)?;
        Ok(needed)
    }

    /// The index of the first pair named `name`.
    fn position(&self, name: &str) -> Option<usize> {
        self.fields
            .iter()
            .position(|field| same_name(field.name, name))
    }

    /// Appends an already validated borrowed pair.
    fn push_borrowed(&mut self, name: &'a str, value: &'a [u8]) -> Result<(), LocalError> {
        let field = Field {
            name,
            value: Value::Borrowed(value),
        };
        self.fields
            .push(field)
            .map_err(|_| LocalError::CapacityExceeded)
    }

    /// Moves the arena-backed values of the remaining fields down over the gaps left by
    /// removed ones and shortens the arena to what is still used.
    fn compact_arena(&mut self) {
        let mut used = 0usize;
        for field in &mut self.fields {
            if let Value::Arena { start, len } = &mut field.value {
                if *start != used {
                    let in_bounds = start
                        .checked_add(*len)
                        .filter(|&end| end <= self.arena.len() && used < *start);
                    if let Some(end) = in_bounds {
                        self.arena.copy_within(*start..end, used);
                    }
                    *start = used;
                }
                used = used.saturating_add(*len);
            }
        }
        self.arena.truncate(used);
    }
}

impl<const N: usize, const BYTES: usize> Default for Headers<'_, N, BYTES> {
    /// Same as [`Headers::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl<'b, const N: usize, const BYTES: usize, const M: usize, const MBYTES: usize>
    PartialEq<Headers<'b, M, MBYTES>> for Headers<'_, N, BYTES>
{
    /// Equal when the pairs are equal in order, names compared exactly (as Python compares
    /// the wrapped lists). Capacities and arena layout do not matter.
    fn eq(&self, other: &Headers<'b, M, MBYTES>) -> bool {
        self.items().eq(other.items())
    }
}

impl<const N: usize, const BYTES: usize> Eq for Headers<'_, N, BYTES> {}

impl<const N: usize, const BYTES: usize> fmt::Display for Headers<'_, N, BYTES> {
    /// Python's `str(h)`: `Name: value\r\n` per pair, then `\r\n`. Value bytes are shown as
    /// latin-1, so byte `0xE9` is `é`.
    ///
    /// ```
    /// use wsgiref::headers::Headers;
    /// let h: Headers = Headers::from_pairs(&[("foo", b"caf\xe9" as &[u8])])?;
    /// assert_eq!(h.to_string(), "foo: café\r\n\r\n");
    /// # Ok::<(), wsgiref::LocalError>(())
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in self.items() {
            f.write_str(name)?;
            f.write_str(": ")?;
            write_latin1(f, value)?;
            f.write_str("\r\n")?;
        }
        f.write_str("\r\n")
    }
}

impl<const N: usize, const BYTES: usize> fmt::Debug for Headers<'_, N, BYTES> {
    /// Like Python's `repr(h)`: `Headers([("name", "value"), ...])`, values shown as
    /// latin-1 and escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Headers(")?;
        f.debug_list()
            .entries(self.items().map(|(name, value)| (name, Latin1(value))))
            .finish()?;
        f.write_str(")")
    }
}

/// A value shown as a quoted latin-1 string in `Debug` output.
struct Latin1<'b>(&'b [u8]);

impl fmt::Debug for Latin1<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for &byte in self.0 {
            for c in char::from(byte).escape_debug() {
                f.write_char(c)?;
            }
        }
        f.write_char('"')
    }
}

/// Writes `bytes` as latin-1 text: ASCII runs as they are, each other byte as the char with
/// the same number (U+0080..U+00FF).
fn write_latin1(f: &mut fmt::Formatter<'_>, mut bytes: &[u8]) -> fmt::Result {
    loop {
        let ascii = bytes
            .iter()
            .position(|byte| !byte.is_ascii())
            .unwrap_or(bytes.len());
        let (run, rest) = bytes.split_at_checked(ascii).ok_or(fmt::Error)?;
        f.write_str(core::str::from_utf8(run).map_err(|_| fmt::Error)?)?;
        match rest.split_first() {
            Some((&byte, rest)) => {
                f.write_char(char::from(byte))?;
                bytes = rest;
            }
            None => return Ok(()),
        }
    }
}

/// The bytes of `value`, looking arena-backed values up in `arena`.
fn resolve<'s>(arena: &'s [u8], value: Value<'s>) -> &'s [u8] {
    match value {
        Value::Borrowed(bytes) => bytes,
        Value::Arena { start, len } => start
            .checked_add(len)
            .and_then(|end| arena.get(start..end))
            .unwrap_or_default(),
    }
}

/// Header names match ASCII case-insensitively (Python lower-cases both sides).
fn same_name(stored: &str, wanted: &str) -> bool {
    stored.eq_ignore_ascii_case(wanted)
}

/// A header or parameter name must be a token.
fn check_name(name: &str) -> Result<(), LocalError> {
    if is_token(name.as_bytes()) {
        Ok(())
    } else {
        Err(LocalError::BadHeaderName)
    }
}

/// A value must not contain control bytes other than HTAB.
fn check_value(value: &[u8]) -> Result<(), LocalError> {
    if is_field_value(value) {
        Ok(())
    } else {
        Err(LocalError::BadHeaderValue)
    }
}

/// Validates a `(name, value)` pair, name first.
fn check_pair(name: &str, value: &[u8]) -> Result<(), LocalError> {
    check_name(name)?;
    check_value(value)
}

/// The arena is full.
struct ArenaFull;

/// Appends the `add_header` value for `value` and `params` to `arena`. On error the arena
/// holds a partial value; the caller truncates it.
fn format_value<const BYTES: usize>(
    arena: &mut Vec<u8, BYTES>,
    value: Option<&str>,
    params: &[(&str, Option<&str>)],
) -> Result<(), ArenaFull> {
    let mut push = |byte: u8| arena.push(byte).map_err(|_| ArenaFull);
    let mut first = true;
    if let Some(value) = value {
        value.bytes().try_for_each(&mut push)?;
        first = false;
    }
    for &(key, param) in params {
        if !first {
            b"; ".iter().try_for_each(|&byte| push(byte))?;
        }
        first = false;
        key.bytes()
            .try_for_each(|byte| push(if byte == b'_' { b'-' } else { byte }))?;
        if let Some(param) = param.filter(|param| !param.is_empty()) {
            b"=\"".iter().try_for_each(|&byte| push(byte))?;
            for byte in param.bytes() {
                if byte == b'\\' || byte == b'"' {
                    push(b'\\')?;
                }
                push(byte)?;
            }
            push(b'"')?;
        }
    }
    Ok(())
}

/// Copies `bytes` to the front of `rest` and advances `rest` past them; `None` if `rest` is
/// too short.
fn put(rest: &mut &mut [u8], bytes: &[u8]) -> Option<()> {
    let (head, tail) = core::mem::take(rest).split_at_mut_checked(bytes.len())?;
    head.copy_from_slice(bytes);
    *rest = tail;
    Some(())
}
