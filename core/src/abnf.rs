//! Byte classes from the HTTP grammar, as compile-time tables.
//!
//! Every check that decides whether a byte may appear somewhere on the wire goes through
//! one of these tables, so the grammar lives in one place (RFC 9110 §5.6.2, RFC 9112 §3).

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

/// `tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" /
/// "|" / "~" / DIGIT / ALPHA` (RFC 9110 §5.6.2).
static TCHAR: [bool; 256] = byte_table!(|b| b.is_ascii_alphanumeric()
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
    ));

/// Bytes allowed inside a field value: `field-vchar / SP / HTAB`, where `field-vchar = VCHAR /
/// obs-text` (RFC 9110 §5.5). Excludes every other control byte, CR and LF included.
static FIELD_VALUE: [bool; 256] = byte_table!(|b| b == b'\t' || (b >= 0x20 && b != 0x7f));

/// Bytes allowed in a request-target: any visible byte, obs-text included (CPython's
/// `test_cp1252_url` sends a raw 0x80). Never a control byte or a space.
static TARGET: [bool; 256] = byte_table!(|b| b > 0x20 && b != 0x7f);

/// Is `b` a `tchar` (a byte of a token: methods, header names, transfer-codings)?
#[inline]
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// Is every byte of a non-empty `s` a `tchar`?
#[inline]
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// May `b` appear in a field value (HTAB, SP, visible ASCII, obs-text)?
#[inline]
pub(crate) fn is_field_value_byte(b: u8) -> bool {
    FIELD_VALUE[usize::from(b)]
}

/// Does `s` contain only bytes allowed in a field value?
#[inline]
pub(crate) fn is_field_value(s: &[u8]) -> bool {
    s.iter().all(|&b| is_field_value_byte(b))
}

/// May `b` appear in a request-target?
#[inline]
pub(crate) fn is_target_byte(b: u8) -> bool {
    TARGET[usize::from(b)]
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

#[cfg(test)]
mod tests {
    use super::*;

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
