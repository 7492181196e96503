//! Timestamps: stored as integer milliseconds since the Unix epoch, shown on the wire as
//! RFC 3339 UTC with milliseconds (`2026-11-22T14:03:07.123Z`).

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// `ms` as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_ms(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Parses any RFC 3339 timestamp into epoch milliseconds.
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_millis() {
        let s = format_ms(1_763_820_187_123);
        assert_eq!(s, "2025-11-22T14:03:07.123Z");
        assert_eq!(parse_rfc3339_ms(&s), Some(1_763_820_187_123));
        assert_eq!(
            parse_rfc3339_ms("2025-11-22T15:03:07.123+01:00"),
            Some(1_763_820_187_123)
        );
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
    }
}
