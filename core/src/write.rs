//! Writing response heads and chunk framing into the caller's transmit buffer.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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

/// Formats `n` in `radix` (10 or 16) into the end of `buf` and returns the digits. Not
/// inlined: one copy of the 64-bit division loop serves every number the core writes.
#[inline(never)]
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

/// Longest text of an IP address: eight groups of four hex digits and seven colons.
pub(crate) const IP_LEN: usize = 39;

/// Formats `ip` exactly as `core::net::IpAddr`'s `Display` does (RFC 5952 for IPv6:
/// lower-case hex without leading zeros, the longest run of two or more zero groups, the
/// first of equal runs, as `::`; `::ffff:a.b.c.d` for an IPv4-mapped address), without
/// `core::fmt`: the firmware's environ needs only this, and `Ipv6Addr`'s `Display` alone
/// is over a kilobyte of flash.
#[cfg(test)]
pub(crate) fn format_ip(ip: IpAddr, buf: &mut [u8; IP_LEN]) -> &[u8] {
    let mut w = Text::new(buf);
    w.put_ip(ip);
    let len = w.len();
    buf.get(..len).unwrap_or(&[])
}

/// A bounded text writer for numbers and addresses: bytes past the end of the buffer are
/// dropped (callers size the buffer for the longest text).
pub(crate) struct Text<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Text<'a> {
    /// A writer at the start of `buf`.
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// Bytes written.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    /// Appends `n` in decimal.
    pub(crate) fn put_u16(&mut self, n: u16) {
        let n = u32::from(n);
        let mut div = 10_000;
        while div > 1 && n < div {
            div /= 10;
        }
        while div > 0 {
            self.push(b'0' + (n / div % 10) as u8);
            div /= 10;
        }
    }

    /// Appends `ip` as [`IpAddr`]'s `Display` writes it.
    pub(crate) fn put_ip(&mut self, ip: IpAddr) {
        match ip {
            IpAddr::V4(v4) => self.put_ipv4(v4),
            IpAddr::V6(v6) => self.put_ipv6(v6),
        }
    }

    fn put_ipv4(&mut self, ip: Ipv4Addr) {
        for (i, n) in ip.octets().into_iter().enumerate() {
            if i > 0 {
                self.push(b'.');
            }
            self.put_u16(u16::from(n));
        }
    }

    #[inline(never)]
    fn put_ipv6(&mut self, ip: Ipv6Addr) {
        if let Some(v4) = ip.to_ipv4_mapped() {
            for &b in b"::ffff:" {
                self.push(b);
            }
            return self.put_ipv4(v4);
        }
        let groups = ip.segments();
        // The longest run of zero groups; the first of equal ones.
        let (mut start, mut len, mut run) = (0, 0, 0);
        for (i, &g) in groups.iter().enumerate() {
            run = if g == 0 { run + 1 } else { 0 };
            if run > len {
                len = run;
                start = i + 1 - run;
            }
        }
        if len < 2 {
            // No `::`: a single zero group is written `0`.
            start = groups.len();
        }
        for (i, &g) in groups.iter().enumerate() {
            if i >= start && i < start + len {
                if i == start {
                    self.push(b':');
                    self.push(b':');
                }
                continue;
            }
            if i > 0 && i != start + len {
                self.push(b':');
            }
            let mut shift = 12;
            while shift > 0 && g >> shift == 0 {
                shift -= 4;
            }
            loop {
                let d = (g >> shift) as u8 & 0xf;
                self.push(if d < 10 { b'0' + d } else { b'a' + d - 10 });
                if shift == 0 {
                    break;
                }
                shift -= 4;
            }
        }
    }
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

    #[test]
    fn u16_text_is_core_fmt_text() {
        extern crate std;
        use std::string::ToString;
        for n in [
            0,
            1,
            9,
            10,
            99,
            100,
            999,
            1000,
            9999,
            10_000,
            65_534,
            u16::MAX,
        ] {
            let mut buf = [0u8; 5];
            let mut w = Text::new(&mut buf);
            w.put_u16(n);
            let len = w.len();
            assert_eq!(&buf[..len], n.to_string().as_bytes());
        }
    }

    #[test]
    fn ip_text_is_core_fmt_text() {
        extern crate std;
        use std::string::ToString;
        let v6: &[&str] = &[
            "::",
            "::1",
            "1::",
            "::ffff:1.2.3.4",
            "::ffff:0.0.0.0",
            "::ffff:255.255.255.255",
            "::fffe:1.2.3.4",
            "::1.2.3.4",
            "64:ff9b::1.2.3.4",
            "1:0:0:2:0:0:0:3",
            "1:0:0:0:2:0:0:3",
            "1:0:0:2:0:0:3:4",
            "1:0:2:3:4:5:6:7",
            "0:1:2:3:4:5:6:7",
            "1:2:3:4:5:6:7:0",
            "1:2:3:4:5:6:0:0",
            "0:0:1:2:3:4:5:6",
            "1:2:0:0:0:0:0:0",
            "fe80::1:2:3:4",
            "2001:db8::ff00:42:8329",
            "2001:db8:0:0:1:0:0:1",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "abcd:ef01:2345:6789:a:bc:def:1000",
            "10:100:1000:1:0:0:0:0",
        ];
        let v4: &[&str] = &[
            "0.0.0.0",
            "255.255.255.255",
            "127.0.0.1",
            "10.0.100.9",
            "1.20.199.200",
        ];
        let mut addrs: std::vec::Vec<IpAddr> = std::vec::Vec::new();
        for s in v6.iter().chain(v4) {
            addrs.push(s.parse().unwrap());
        }
        // Every pattern of zero and non-zero groups.
        for mask in 0u32..256 {
            let groups: [u16; 8] = core::array::from_fn(|i| {
                if mask >> i & 1 == 1 {
                    (i as u16 + 1) * 0x1011
                } else {
                    0
                }
            });
            addrs.push(IpAddr::V6(Ipv6Addr::from(groups)));
        }
        for ip in addrs {
            let mut buf = [0u8; IP_LEN];
            assert_eq!(format_ip(ip, &mut buf), ip.to_string().as_bytes(), "{ip:?}");
        }
    }
}
