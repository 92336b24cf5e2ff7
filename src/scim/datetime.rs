//! RFC 3339 / xsd:dateTime values (RFC 7643 §2.3.5), std only: parsing for
//! filter comparison and formatting for `meta.created`/`meta.lastModified`.
//!
//! PLACEHOLDER: signatures fixed; implemented on the filter branch.
use std::time::SystemTime;

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
    /// offset. `None` when `s` is not an RFC 3339 date-time.
    pub fn parse(_s: &str) -> Option<DateTime> {
        None
    }

    /// The instant `t`.
    pub fn from_system_time(_t: SystemTime) -> DateTime {
        DateTime { secs: 0, nanos: 0 }
    }

    /// Now.
    pub fn now() -> DateTime {
        DateTime::from_system_time(SystemTime::now())
    }

    /// Formats as UTC with millisecond precision: `2011-05-13T04:42:34.123Z`.
    pub fn to_rfc3339(&self) -> String {
        String::new()
    }
}
