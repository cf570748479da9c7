//! Writing response heads and chunk framing into the caller's transmit buffer.

use crate::LocalError;

/// A bounded writer over a byte buffer. Every write either fits whole or fails with
/// [`LocalError::BufferTooSmall`] carrying the size that would have been needed; a failed
/// write leaves the position unchanged.
pub(crate) struct Cursor<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor writing at `pos` into `buf`.
    pub(crate) fn new(buf: &'a mut [u8], pos: usize) -> Self {
        Self { buf, pos }
    }

    /// Bytes written so far (the position).
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Appends `bytes` whole, or nothing.
    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<(), LocalError> {
        let end = self.pos + bytes.len();
        let slot = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(LocalError::BufferTooSmall { needed: end })?;
        slot.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    /// Appends several pieces whole, or nothing.
    pub(crate) fn put_all(&mut self, pieces: &[&[u8]]) -> Result<(), LocalError> {
        let start = self.pos;
        for piece in pieces {
            if let Err(e) = self.put(piece) {
                self.pos = start;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Appends `n` in lower-case hexadecimal (a chunk size).
    pub(crate) fn put_hex(&mut self, n: u64) -> Result<(), LocalError> {
        let mut digits = [0u8; 20];
        self.put(format_radix(n, 16, &mut digits))
    }

    /// Appends `name: value\r\n`.
    pub(crate) fn put_field(&mut self, name: &[u8], value: &[u8]) -> Result<(), LocalError> {
        self.put_all(&[name, b": ", value, b"\r\n"])
    }
}

/// Formats `n` in `radix` (10 or 16) into the end of `buf` and returns the digits.
pub(crate) fn format_radix(mut n: u64, radix: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        let d = (n % radix) as u8;
        if let Some(slot) = buf.get_mut(i) {
            *slot = if d < 10 { b'0' + d } else { b'a' + d - 10 };
        }
        n /= radix;
        if n == 0 || i == 0 {
            break;
        }
    }
    buf.get(i..).unwrap_or(&[])
}

/// The standard reason phrase of a status code (RFC 9110 §15), for responses the gateway
/// writes itself.
#[must_use]
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        414 => "URI Too Long",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix_vectors() {
        let table: &[(u64, u64, &[u8])] = &[
            (0, 10, b"0"),
            (9, 10, b"9"),
            (1234, 10, b"1234"),
            (u64::MAX, 10, b"18446744073709551615"),
            (0, 16, b"0"),
            (255, 16, b"ff"),
            (u64::MAX, 16, b"ffffffffffffffff"),
        ];
        for (n, radix, want) in table {
            let mut buf = [0u8; 20];
            assert_eq!(format_radix(*n, *radix, &mut buf), *want);
        }
    }

    #[test]
    fn cursor_is_all_or_nothing() {
        let mut buf = [0u8; 8];
        let mut c = Cursor::new(&mut buf, 0);
        c.put(b"abc").unwrap();
        assert_eq!(
            c.put_all(&[b"de", b"fghi"]),
            Err(LocalError::BufferTooSmall { needed: 9 })
        );
        assert_eq!(c.pos(), 3);
        c.put_field(b"A", b"").unwrap();
        assert_eq!(&buf[..7], b"abcA: \r");
    }
}
