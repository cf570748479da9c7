//! Byte classes from the HTTP grammar, as compile-time tables.
//!
//! Every check that decides whether a byte may appear somewhere on the wire goes through
//! one of these tables, so the grammar lives in one place (RFC 9110 §5.6.2, RFC 9112 §3).
//! With the `small` feature the same predicates are computed instead of looked up, and the
//! word-at-a-time scans become byte loops: the tables are then not linked.

/// Builds a `[bool; 256]` table from a predicate at compile time.
macro_rules! byte_table {
    (|$b:ident| $pred:expr) => {{
        let mut table = [false; 256];
        let mut i = 0usize;
        while i < 256 {
            let $b = i as u8;
            table[i] = $pred;
            i += 1;
        }
        table
    }};
}

/// `table[b]`. A `u8` indexes a 256-entry table in bounds by its type, so this is the one
/// place the core indexes without a check.
#[inline(always)]
#[allow(clippy::indexing_slicing)] // b < 256 = table.len(), by type
pub(crate) fn lookup<T: Copy>(table: &[T; 256], b: u8) -> T {
    table[usize::from(b)]
}

/// `tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" /
/// "|" / "~" / DIGIT / ALPHA` (RFC 9110 §5.6.2).
const fn tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// Byte classes of header field names, for the head parser's one-pass name scan:
/// `0` not a `tchar`, [`NAME_TCHAR`] a `tchar`, and `_` also has [`NAME_UNDERSCORE`].
#[allow(clippy::indexing_slicing)] // const evaluation: an index out of bounds fails the build
static NAME_CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0usize;
    while i < 256 {
        let b = i as u8;
        table[i] = if b == b'_' {
            NAME_TCHAR | NAME_UNDERSCORE
        } else if tchar(b) {
            NAME_TCHAR
        } else {
            0
        };
        i += 1;
    }
    table
};

/// [`name_class`] bit: the byte is a `tchar`.
pub(crate) const NAME_TCHAR: u8 = 1;
/// [`name_class`] bit: the byte is `_`.
pub(crate) const NAME_UNDERSCORE: u8 = 2;

/// `reg-name` bytes (RFC 3986 §3.2.2: unreserved, pct-encoded's `%`, sub-delims).
#[allow(clippy::indexing_slicing)] // const evaluation: an index out of bounds fails the build
static REG_NAME: [bool; 256] = byte_table!(|b| reg_name(b));

/// The predicate of [`REG_NAME`].
const fn reg_name(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'%'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
        )
}

/// Bytes allowed inside a field value: `field-vchar / SP / HTAB`, where `field-vchar = VCHAR /
/// obs-text` (RFC 9110 §5.5). Excludes every other control byte, CR and LF included.
#[allow(clippy::indexing_slicing)] // const evaluation: an index out of bounds fails the build
static FIELD_VALUE: [bool; 256] = byte_table!(|b| field_value(b));

/// The predicate of [`FIELD_VALUE`].
const fn field_value(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

/// Bytes allowed in a request-target: any visible byte, obs-text included (CPython's
/// `test_cp1252_url` sends a raw 0x80). Never a control byte or a space.
#[allow(clippy::indexing_slicing)] // const evaluation: an index out of bounds fails the build
static TARGET: [bool; 256] = byte_table!(|b| target(b));

/// The predicate of [`TARGET`].
const fn target(b: u8) -> bool {
    b > 0x20 && b != 0x7f
}

/// Is `b` a `tchar` (a byte of a token: methods, header names, transfer-codings)?
#[inline]
pub(crate) fn is_tchar(b: u8) -> bool {
    if cfg!(feature = "small") {
        tchar(b)
    } else {
        lookup(&NAME_CLASS, b) != 0
    }
}

/// The class of `b` in a field name: `0` (not a `tchar`), or [`NAME_TCHAR`], with
/// [`NAME_UNDERSCORE`] for `_`.
#[cfg(not(feature = "small"))]
#[inline]
pub(crate) fn name_class(b: u8) -> u8 {
    lookup(&NAME_CLASS, b)
}

/// May `b` appear in a `reg-name` (a host name)?
#[inline]
pub(crate) fn is_reg_name_byte(b: u8) -> bool {
    if cfg!(feature = "small") {
        reg_name(b)
    } else {
        lookup(&REG_NAME, b)
    }
}

/// Is every byte of a non-empty `s` a `tchar`? (One copy in the `small` build.)
#[cfg_attr(not(feature = "small"), inline)]
#[cfg_attr(feature = "small", inline(never))]
pub(crate) fn is_token(s: &[u8]) -> bool {
    #[cfg(not(feature = "small"))]
    return !s.is_empty() && all_bytes(s, swar_not_alpha_dash, is_tchar);
    #[cfg(feature = "small")]
    return !s.is_empty() && s.iter().all(|&b| is_tchar(b));
}

/// May `b` appear in a field value (HTAB, SP, visible ASCII, obs-text)?
#[inline]
pub(crate) fn is_field_value_byte(b: u8) -> bool {
    if cfg!(feature = "small") {
        field_value(b)
    } else {
        lookup(&FIELD_VALUE, b)
    }
}

/// Does `s` contain only bytes allowed in a field value?
#[inline]
pub(crate) fn is_field_value(s: &[u8]) -> bool {
    #[cfg(not(feature = "small"))]
    return all_bytes(
        s,
        |x| swar_below(x, 0x20) | swar_equal(x, 0x7f),
        is_field_value_byte,
    );
    #[cfg(feature = "small")]
    return s.iter().all(|&b| is_field_value_byte(b));
}

/// Is `byte` true for every byte of `s`? A word at a time: `word(x)` is zero only if
/// `byte` accepts every byte of `x` (it may mark bytes `byte` accepts: those words are
/// checked byte by byte). Not with the `small` feature: byte by byte then.
#[cfg(not(feature = "small"))]
#[inline(always)]
fn all_bytes(s: &[u8], word: impl Fn(usize) -> usize, byte: impl Fn(u8) -> bool) -> bool {
    let mut words = s.chunks_exact(W);
    for chunk in &mut words {
        let x = <[u8; W]>::try_from(chunk).map_or(usize::MAX, usize::from_le_bytes);
        if word(x) != 0 && !chunk.iter().all(|&b| byte(b)) {
            return false;
        }
    }
    words.remainder().iter().all(|&b| byte(b))
}

/// May `b` appear in a request-target?
#[inline]
pub(crate) fn is_target_byte(b: u8) -> bool {
    if cfg!(feature = "small") {
        target(b)
    } else {
        lookup(&TARGET, b)
    }
}

/// Optional whitespace: SP or HTAB (RFC 9110 §5.6.3).
#[inline]
pub(crate) fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `s` without leading and trailing SP / HTAB.
pub(crate) fn trim_ows(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_ows(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|&b| !is_ows(b)).map_or(start, |i| i + 1);
    s.get(start..end).unwrap_or(&[])
}

// Word-at-a-time ("SWAR") scanning: `usize` words, 8 bytes on 64-bit targets and 4 on
// 32-bit MCUs. A word is read little-endian whatever the target, so byte `i` of the slice
// is byte `i` of the word and the lowest marked byte is the first match. The classic
// bit tricks below may also mark bytes *after* the first true match (a borrow carries into
// the next byte), never before it, so only the lowest mark is used.

/// Bytes per scanning word.
#[cfg(any(not(feature = "small"), test))]
const W: usize = core::mem::size_of::<usize>();
/// `0x0101…01`.
const LO: usize = usize::MAX / 255;
/// `0x8080…80`.
const HI: usize = LO << 7;

/// Marks (with its high bit) every byte of `x` below `n`, for `n <= 0x80`; exact up to and
/// including the first marked byte.
#[inline(always)]
pub(crate) const fn swar_below(x: usize, n: u8) -> usize {
    x.wrapping_sub(LO * n as usize) & !x & HI
}

/// Marks every byte of `x` equal to `b`; exact up to and including the first marked byte.
#[inline(always)]
pub(crate) const fn swar_equal(x: usize, b: u8) -> usize {
    let y = x ^ (LO * b as usize);
    y.wrapping_sub(LO) & !y & HI
}

/// The index of the first byte of `bytes[at..end]` for which `word` marks a byte or `byte`
/// is true (`word(x)` must mark exactly the bytes `byte` accepts, up to the first one).
///
/// Bytes of `bytes` after `end` may be read (a last word that straddles `end`: the receive
/// buffer past the received bytes holds stale data) but never decide the result, so no
/// byte-at-a-time tail is needed unless `bytes` itself ends.
#[cfg(not(feature = "small"))]
#[inline(always)]
pub(crate) fn swar_find(
    bytes: &[u8],
    mut at: usize,
    end: usize,
    word: impl Fn(usize) -> usize,
    byte: impl Fn(u8) -> bool,
) -> Option<usize> {
    // Whole words that start before `end`, two at a time while they last, then single
    // bytes up to `end`.
    let words = bytes.get(..(end + (W - 1)).min(bytes.len())).unwrap_or(&[]);
    while let Some(pair) = words.get(at..at + 2 * W) {
        let (Some(Ok(a)), Some(Ok(b))) = (
            pair.get(..W).map(<[u8; W]>::try_from),
            pair.get(W..).map(<[u8; W]>::try_from),
        ) else {
            break;
        };
        let (a, b) = (word(usize::from_le_bytes(a)), word(usize::from_le_bytes(b)));
        if a | b != 0 {
            let found = if a != 0 {
                at + a.trailing_zeros() as usize / 8
            } else {
                at + W + b.trailing_zeros() as usize / 8
            };
            return (found < end).then_some(found);
        }
        at += 2 * W;
    }
    while let Some(chunk) = words.get(at..at + W) {
        let Ok(chunk) = <[u8; W]>::try_from(chunk) else {
            break;
        };
        let marks = word(usize::from_le_bytes(chunk));
        if marks != 0 {
            let found = at + marks.trailing_zeros() as usize / 8;
            return (found < end).then_some(found);
        }
        at += W;
    }
    find_byte(bytes, at, end, byte)
}

/// [`swar_find`] that looks at one word before going two at a time: cheaper where the
/// run is usually short.
#[cfg(not(feature = "small"))]
#[inline(always)]
pub(crate) fn swar_find_short(
    bytes: &[u8],
    at: usize,
    end: usize,
    word: impl Fn(usize) -> usize,
    byte: impl Fn(u8) -> bool,
) -> Option<usize> {
    let first = bytes
        .get(at..at + W)
        .filter(|_| at < end)
        .and_then(|chunk| <[u8; W]>::try_from(chunk).ok());
    if let Some(chunk) = first {
        let marks = word(usize::from_le_bytes(chunk));
        if marks != 0 {
            let found = at + marks.trailing_zeros() as usize / 8;
            return (found < end).then_some(found);
        }
        return swar_find(bytes, at + W, end, word, byte);
    }
    swar_find(bytes, at, end, word, byte)
}

/// The index of the first byte of `bytes[at..end]` for which `byte` is true, a byte at a
/// time (the tail of [`swar_find`], and all of it with the `small` feature).
#[inline(always)]
fn find_byte(bytes: &[u8], mut at: usize, end: usize, byte: impl Fn(u8) -> bool) -> Option<usize> {
    while at < end {
        let b = *bytes.get(at)?;
        if byte(b) {
            return Some(at);
        }
        at += 1;
    }
    None
}

/// [`swar_find`] with the `small` feature: its byte-at-a-time loop alone, `word` unused.
#[cfg(feature = "small")]
#[inline]
pub(crate) fn swar_find(
    bytes: &[u8],
    at: usize,
    end: usize,
    _word: impl Fn(usize) -> usize,
    byte: impl Fn(u8) -> bool,
) -> Option<usize> {
    find_byte(bytes, at, end, byte)
}

/// Marks, exactly (every byte, not only up to the first), the bytes of `x` that are not
/// ASCII letters or `-`: the bytes of nearly every header field name. The tests in the
/// arithmetic cannot carry between bytes: the high bits are cleared first and every sum
/// stays below `0x100`.
#[cfg(not(feature = "small"))]
#[inline(always)]
pub(crate) const fn swar_not_alpha_dash(x: usize) -> usize {
    let x7 = x & !HI;
    // (b | 0x20) in 'a'..='z'
    let folded = x7 | (LO * 0x20);
    let letter = folded.wrapping_add(LO * (0x80 - 0x61)) & !folded.wrapping_add(LO * (0x80 - 0x7b));
    // b == '-'
    let dash = !((x7 ^ (LO * 0x2d)).wrapping_add(LO * 0x7f));
    !((letter | dash) & !x) & HI
}

/// Is `b` an ASCII letter or `-` (see [`swar_not_alpha_dash`])?
#[cfg(not(feature = "small"))]
#[inline(always)]
pub(crate) fn is_alpha_dash(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'-'
}

/// `a.eq_ignore_ascii_case(b)`, the parser's and the framing checks' case-insensitive
/// comparison. The default build inlines it as before; the `small` build keeps one shared
/// copy (the standard one is inlined at each of its call sites, fifteen in the firmware).
#[cfg_attr(not(feature = "small"), inline(always))]
#[cfg_attr(feature = "small", inline(never))]
pub(crate) fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Does `s` contain `b`? The default build is `contains` (its word-at-a-time `memchr` for
/// longer slices, inlined); the `small` build one byte loop, one copy, and no `memchr`.
#[cfg(not(feature = "small"))]
#[inline(always)]
pub(crate) fn has_byte(s: &[u8], b: u8) -> bool {
    s.contains(&b)
}

/// [`has_byte`] in the `small` build.
#[cfg(feature = "small")]
#[inline(never)]
#[allow(clippy::manual_contains)] // on purpose: `contains` links `memchr`'s word loop
pub(crate) fn has_byte(s: &[u8], b: u8) -> bool {
    s.iter().any(|&c| c == b)
}

/// Is `b` a control byte for field values: below SP (HTAB, CR and LF included) or DEL?
#[inline(always)]
pub(crate) fn is_ctl(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

/// The first control byte ([`is_ctl`]) in `bytes[at..end]` (see [`swar_find`]).
#[inline]
pub(crate) fn find_ctl(bytes: &[u8], at: usize, end: usize) -> Option<usize> {
    swar_find(
        bytes,
        at,
        end,
        |x| swar_below(x, 0x20) | swar_equal(x, 0x7f),
        is_ctl,
    )
}

/// The first LF in `bytes[at..end]` (see [`swar_find`]).
#[inline]
pub(crate) fn find_lf(bytes: &[u8], at: usize, end: usize) -> Option<usize> {
    swar_find(bytes, at, end, |x| swar_equal(x, b'\n'), |b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn token_table_matches_the_grammar() {
        let specials = b"!#$%&'*+-.^_`|~";
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || specials.contains(&b);
            assert_eq!(is_tchar(b), expected, "byte {b:#04x}");
        }
    }

    #[test]
    fn field_values_reject_controls_but_not_htab_or_obs_text() {
        for b in 0..=255u8 {
            let expected = b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80;
            assert_eq!(is_field_value_byte(b), expected, "byte {b:#04x}");
        }
    }

    #[cfg(not(feature = "small"))]
    #[test]
    fn name_classes() {
        for b in 0..=255u8 {
            let c = name_class(b);
            assert_eq!(c & NAME_TCHAR != 0, is_tchar(b), "byte {b:#04x}");
            assert_eq!(c & NAME_UNDERSCORE != 0, b == b'_', "byte {b:#04x}");
        }
    }

    #[test]
    fn reg_name_table() {
        let others = b"-._~%!$&'()*+,;=";
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || others.contains(&b);
            assert_eq!(is_reg_name_byte(b), expected, "byte {b:#04x}");
        }
    }

    #[cfg(not(feature = "small"))]
    #[test]
    fn swar_not_alpha_dash_marks_exactly_every_other_byte() {
        // Every byte at every position, over backgrounds of name bytes and of others: the
        // marks must be exact for all bytes of the word, not only the first.
        for background in [b'a', b'Z', b'0', b'-', b':', 0x80, 0xff, 0x7f, 0x00, b'_'] {
            for pos in 0..W {
                for b in 0..=255u8 {
                    let mut word = [background; W];
                    word[pos] = b;
                    let marks = swar_not_alpha_dash(usize::from_le_bytes(word));
                    for (i, &byte) in word.iter().enumerate() {
                        let marked = (marks >> (8 * i)) & 0xff;
                        let expected = if is_alpha_dash(byte) { 0 } else { 0x80 };
                        assert_eq!(marked, expected, "{word:?} byte {i}");
                    }
                }
            }
        }
    }

    /// The simple byte-at-a-time versions of the SWAR scans.
    fn slow_ctl(bytes: &[u8], at: usize, end: usize) -> Option<usize> {
        (at..end.min(bytes.len())).find(|&i| is_ctl(bytes[i]))
    }

    fn slow_lf(bytes: &[u8], at: usize, end: usize) -> Option<usize> {
        (at..end.min(bytes.len())).find(|&i| bytes[i] == b'\n')
    }

    /// From each of `starts` to every end: the bytes after `end` must never matter.
    fn check_scans(bytes: &[u8], starts: impl Iterator<Item = usize> + Clone) {
        for end in 0..=bytes.len() + 1 {
            for at in starts.clone().filter(|&at| at <= end + 1) {
                let (ctl, lf) = (find_ctl(bytes, at, end), find_lf(bytes, at, end));
                assert_eq!(ctl, slow_ctl(bytes, at, end), "{bytes:?} {at}..{end}");
                assert_eq!(lf, slow_lf(bytes, at, end), "{bytes:?} {at}..{end}");
            }
        }
    }

    #[test]
    fn swar_scans_match_the_bytewise_scans_for_every_byte_at_every_position() {
        // Every byte value at every position of a 16-byte window, over backgrounds that
        // stress borrows: plain text, bytes just above the thresholds, obs-text, and
        // bytes that are themselves matches.
        for background in [b'a', b' ', b'!', 0x80, 0xff, 0x7e, b'\t', b'\n', 0x00] {
            for pos in 0..16 {
                for b in 0..=255u8 {
                    let mut window = [background; 16];
                    window[pos] = b;
                    check_scans(&window, [0, 1, pos, pos + 1, W].into_iter());
                }
            }
        }
        // Two special bytes: a borrow from the first must not hide or fake the second.
        for p in 0..16 {
            for q in p + 1..16 {
                for (x, y) in [(0x00, b'\n'), (0x20, 0x1f), (0x7f, 0x7f), (0x80, 0x0a)] {
                    let mut window = [b'x'; 16];
                    window[p] = x;
                    window[q] = y;
                    check_scans(&window, 0..=17);
                }
            }
        }
    }

    #[test]
    fn word_checks_match_the_bytewise_definitions() {
        // Every byte value at every position of strings of 0 to 19 bytes (whole words, a
        // word and a tail, a tail alone), over name and value backgrounds.
        for len in 0..20 {
            for background in [b'a', b'-', b'7', b' ', b'\t', 0x80] {
                for pos in 0..len.max(1) {
                    for b in 0..=255u8 {
                        let mut s = std::vec![background; len];
                        if let Some(slot) = s.get_mut(pos) {
                            *slot = b;
                        }
                        let token = !s.is_empty() && s.iter().all(|&c| is_tchar(c));
                        let value = s.iter().all(|&c| is_field_value_byte(c));
                        assert_eq!(is_token(&s), token, "{s:?}");
                        assert_eq!(is_field_value(&s), value, "{s:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn swar_scans_match_the_bytewise_scans_on_random_inputs() {
        // xorshift: deterministic, no dependency. Biased towards the interesting bytes.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let special = [
            0x00, b'\t', b'\n', b'\r', 0x1f, b' ', b'!', 0x7e, 0x7f, 0x80, 0xff,
        ];
        for _ in 0..4_000 {
            let len = (next() % 40) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 4 == 0 {
                        special[(r >> 8) as usize % special.len()]
                    } else {
                        (r >> 16) as u8
                    }
                })
                .collect();
            check_scans(&bytes, 0..=bytes.len() + 1);
        }
    }

    #[test]
    fn trim_ows_vectors() {
        let table: &[(&[u8], &[u8])] = &[
            (b"", b""),
            (b"  ", b""),
            (b" a ", b"a"),
            (b"\ta b\t", b"a b"),
            (b"ab", b"ab"),
        ];
        for (input, out) in table {
            assert_eq!(trim_ows(input), *out);
        }
    }
}
