//! RFC 3339 / xsd:dateTime values (RFC 7643 §2.3.5), std only: parsing for
//! validation and filter comparison, formatting for `meta.created` and
//! `meta.lastModified`.
use std::time::{SystemTime, UNIX_EPOCH};

/// An instant with nanosecond precision, ordered in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime {
    /// Seconds since the Unix epoch (UTC).
    pub secs: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

impl DateTime {
    /// Parses `2011-05-13T04:42:34Z` or with a fraction and/or a numeric
    /// offset (`T`/`t`, `Z`/`z` accepted, RFC 3339 §5.6). `None` when `s`
    /// is not an RFC 3339 date-time or names a day that does not exist.
    pub fn parse(s: &str) -> Option<DateTime> {
        let b = s.as_bytes();
        if b.len() < 20 {
            return None;
        }
        let num = |from: usize, len: usize| -> Option<i64> {
            let part = b.get(from..from + len)?;
            part.iter().try_fold(0i64, |acc, c| {
                c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
            })
        };
        let sep = |at: usize, c: u8| b.get(at).is_some_and(|x| x.eq_ignore_ascii_case(&c));
        if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':')) {
            return None;
        }
        let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
        let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
        // A leap second (60) is read as the last second of the minute.
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return None;
        }
        let mut i = 19;
        let mut nanos: u32 = 0;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            let mut scale = 100_000_000u32;
            while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
                nanos += u32::from(c - b'0') * scale;
                scale /= 10;
                i += 1;
            }
            if i == start {
                return None;
            }
        }
        let offset = match b.get(i)? {
            b'Z' | b'z' if i + 1 == b.len() => 0,
            c @ (b'+' | b'-') if i + 6 == b.len() && b.get(i + 3) == Some(&b':') => {
                let (h, m) = (num(i + 1, 2)?, num(i + 4, 2)?);
                if h > 23 || m > 59 {
                    return None;
                }
                let o = h * 3600 + m * 60;
                if *c == b'+' {
                    o
                } else {
                    -o
                }
            }
            _ => return None,
        };
        let days = days_from_civil(year, month, day);
        let secs = days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset;
        Some(DateTime { secs, nanos })
    }

    /// The instant `t`.
    pub fn from_system_time(t: SystemTime) -> DateTime {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => DateTime {
                secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                nanos: d.subsec_nanos(),
            },
            Err(e) => {
                let d = e.duration();
                let secs = -i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                match d.subsec_nanos() {
                    0 => DateTime { secs, nanos: 0 },
                    n => DateTime {
                        secs: secs - 1,
                        nanos: 1_000_000_000 - n,
                    },
                }
            }
        }
    }

    /// Now.
    pub fn now() -> DateTime {
        DateTime::from_system_time(SystemTime::now())
    }

    /// Formats as UTC with millisecond precision: `2011-05-13T04:42:34.123Z`.
    /// Digit by digit for years 0 to 9999 (an audit record and an event
    /// each carry one; `format!`'s padding cost ten times as much), else
    /// through `format!` (the same text, tested).
    pub fn to_rfc3339(&self) -> String {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (rem / 3600, (rem % 3600) / 60, rem % 60);
        let millis = i64::from(self.nanos / 1_000_000);
        if !(0..=9999).contains(&y) || millis > 999 {
            return format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{millis:03}Z");
        }
        let mut out = [0u8; 24];
        let fields = [
            (y, 4),
            (m, 2),
            (d, 2),
            (hh, 2),
            (mm, 2),
            (ss, 2),
            (millis, 3),
        ];
        let mut at = 0;
        for (i, (mut value, width)) in fields.into_iter().enumerate() {
            for place in (at..at + width).rev() {
                // Each value is within its width here, so one digit per place.
                out[place] = b'0' + (value % 10) as u8;
                value /= 10;
            }
            at += width;
            if let Some(sep) = b"--T::.Z".get(i) {
                out[at] = *sep;
                at += 1;
            }
        }
        // ASCII digits and separators: one exact allocation.
        let mut text = String::with_capacity(out.len());
        text.extend(out.iter().map(|&b| char::from(b)));
        text
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day) of a count of
/// days since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_forms() {
        let base = DateTime::parse("2011-05-13T04:42:34Z");
        assert_eq!(
            base,
            Some(DateTime {
                secs: 1_305_261_754,
                nanos: 0
            })
        );
        assert_eq!(DateTime::parse("2011-05-13t04:42:34z"), base);
        assert_eq!(DateTime::parse("2011-05-13T06:42:34+02:00"), base);
        assert_eq!(DateTime::parse("2011-05-12T23:42:34-05:00"), base);
        let frac = DateTime::parse("2011-05-13T04:42:34.5Z");
        assert_eq!(frac.map(|d| d.nanos), Some(500_000_000));
        assert!(frac > base);
        assert_eq!(
            DateTime::parse("1969-12-31T23:59:59Z").map(|d| d.secs),
            Some(-1)
        );
    }

    #[test]
    fn rejects_what_is_not_a_date_time() {
        for s in [
            "2011-02-30T00:00:00Z",
            "2011-13-01T00:00:00Z",
            "2011-05-13 04:42:34Z",
            "2011-05-13T04:42:34",
            "2011-05-13T24:00:00Z",
            "2011-05-13T04:42:34.Z",
            "2011-05-13T04:42:34+0200",
            "yesterday",
            "",
            "2011-05-13T04:42:34Zjunk",
            "２０１１-05-13T04:42:34Z",
        ] {
            assert_eq!(DateTime::parse(s), None, "{s}");
        }
        assert!(DateTime::parse("2012-02-29T00:00:00Z").is_some());
        assert!(DateTime::parse("2100-02-29T00:00:00Z").is_none());
    }

    #[test]
    fn formats_and_round_trips() {
        let d = DateTime {
            secs: 1_305_261_754,
            nanos: 123_456_789,
        };
        assert_eq!(d.to_rfc3339(), "2011-05-13T04:42:34.123Z");
        assert_eq!(
            DateTime { secs: -1, nanos: 0 }.to_rfc3339(),
            "1969-12-31T23:59:59.000Z"
        );
        for secs in [0i64, 951_782_400, 4_107_542_399, -2_208_988_800] {
            let d = DateTime { secs, nanos: 0 };
            assert_eq!(DateTime::parse(&d.to_rfc3339()), Some(d));
        }
        assert!(DateTime::now().secs > 1_700_000_000);
    }

    /// The text `format!` wrote before the digit-by-digit writing.
    fn formatted(d: &DateTime) -> String {
        let days = d.secs.div_euclid(86_400);
        let rem = d.secs.rem_euclid(86_400);
        let (y, m, dd) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}.{:03}Z",
            rem / 3600,
            (rem % 3600) / 60,
            rem % 60,
            d.nanos / 1_000_000
        )
    }

    #[test]
    fn digits_are_written_as_format_wrote_them() {
        let mut secs = vec![
            0i64,
            -1,
            59,
            86_399,
            86_400,
            253_402_300_799,
            253_402_300_800,
        ];
        secs.extend([-62_167_219_200, -62_167_219_201, i64::from(i32::MAX) * 40]);
        secs.extend((0..2000).map(|i| i * 987_654_321 - 1_000_000_000_000));
        for s in secs {
            for nanos in [
                0,
                999_999,
                1_000_000,
                123_456_789,
                999_999_999,
                1_500_000_000,
            ] {
                let d = DateTime { secs: s, nanos };
                assert_eq!(d.to_rfc3339(), formatted(&d), "{s} {nanos}");
            }
        }
    }
}
