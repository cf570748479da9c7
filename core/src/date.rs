//! `format_date_time`: an IMF-fixdate (RFC 9110 §5.6.7) from Unix seconds, without a clock.

/// Length of an IMF-fixdate such as `Tue, 15 Nov 1994 08:12:31 GMT`.
pub const DATE_LEN: usize = 29;

/// Formats Unix seconds as an IMF-fixdate, as Python's
/// `wsgiref.handlers.format_date_time(timestamp)` does. The format's year has four digits:
/// a time after the year 9999 is written as its last second (Python writes a fifth digit,
/// which no IMF-fixdate parser reads).
///
/// ```
/// use wsgiref::format_date_time;
/// assert_eq!(&format_date_time(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
/// assert_eq!(&format_date_time(1_149_533_394), b"Mon, 05 Jun 2006 18:49:54 GMT");
/// assert_eq!(&format_date_time(u64::MAX), b"Fri, 31 Dec 9999 23:59:59 GMT");
/// ```
#[must_use]
pub fn format_date_time(unix_secs: u64) -> [u8; DATE_LEN] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    // 9999-12-31 23:59:59 UTC.
    let unix_secs = unix_secs.min(253_402_300_799);
    let days = unix_secs / 86_400;
    let secs = unix_secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    let weekday = DAYS.get((days % 7) as usize).copied().unwrap_or(b"Thu");
    let month_name = MONTHS
        .get(month.saturating_sub(1) as usize)
        .copied()
        .unwrap_or(b"Jan");
    out[..3].copy_from_slice(weekday);
    put_digits(&mut out[5..7], u64::from(day));
    out[8..11].copy_from_slice(month_name);
    put_digits(&mut out[12..16], year);
    put_digits(&mut out[17..19], secs / 3600);
    put_digits(&mut out[20..22], secs / 60 % 60);
    put_digits(&mut out[23..25], secs % 60);
    out
}

/// The wall-clock time of `Date` headers, with the formatter that writes it. The formatter is
/// reached through this pointer, stored only by `set_unix_time`, so a program that never sets
/// a time (a firmware without a clock) does not link it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    unix_secs: u64,
    format: fn(u64) -> [u8; DATE_LEN],
}

impl Clock {
    /// The time `unix_secs`, formatted by [`format_date_time`].
    pub(crate) fn new(unix_secs: u64) -> Self {
        Self {
            unix_secs,
            format: format_date_time,
        }
    }

    /// The IMF-fixdate of this time.
    pub(crate) fn date(&self) -> [u8; DATE_LEN] {
        (self.format)(self.unix_secs)
    }
}

/// Writes `n` as zero-padded decimal filling `out` (high digits dropped if it does not fit).
fn put_digits(out: &mut [u8], mut n: u64) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31); Howard Hinnant's algorithm.
fn civil_from_days(days: u64) -> (u64, u32, u32) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors() {
        let table: &[(u64, &[u8; DATE_LEN])] = &[
            (0, b"Thu, 01 Jan 1970 00:00:00 GMT"),
            (784_111_777, b"Sun, 06 Nov 1994 08:49:37 GMT"),
            (951_782_400, b"Tue, 29 Feb 2000 00:00:00 GMT"),
            (1_149_533_394, b"Mon, 05 Jun 2006 18:49:54 GMT"),
            (1_230_125_372, b"Wed, 24 Dec 2008 13:29:32 GMT"),
            (1_795_478_400, b"Tue, 24 Nov 2026 00:00:00 GMT"),
            (253_402_300_799, b"Fri, 31 Dec 9999 23:59:59 GMT"),
        ];
        for (secs, want) in table {
            assert_eq!(&format_date_time(*secs), *want, "{secs}");
        }
    }
}
