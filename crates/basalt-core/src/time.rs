//! Parse's date format: ISO 8601 in UTC with exactly three fractional digits and a `Z`.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// Formats an instant the way Parse Server writes `createdAt`, e.g. `2024-01-31T12:00:00.000Z`.
pub fn format_iso(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
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

/// The current instant in Parse's format.
pub fn now_iso() -> String {
    format_iso(OffsetDateTime::now_utc())
}

/// Parses a client-supplied date and returns it normalised to Parse's format, so stored dates
/// compare correctly as strings. Accepts RFC 3339 and the date-only and offset-less forms
/// JavaScript's `toISOString` and common clients send.
pub fn normalize_iso(input: &str) -> Option<String> {
    if let Ok(t) = OffsetDateTime::parse(input, &Rfc3339) {
        return Some(format_iso(t));
    }
    // Offset-less: treat as UTC, as Parse does with `new Date(iso)` on a server in UTC.
    let with_z = format!("{input}Z");
    if let Ok(t) = OffsetDateTime::parse(&with_z, &Rfc3339) {
        return Some(format_iso(t));
    }
    let date_only = format!("{input}T00:00:00Z");
    OffsetDateTime::parse(&date_only, &Rfc3339)
        .ok()
        .map(format_iso)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_common_forms() {
        assert_eq!(
            normalize_iso("2024-01-02T03:04:05Z").as_deref(),
            Some("2024-01-02T03:04:05.000Z")
        );
        assert_eq!(
            normalize_iso("2024-01-02T03:04:05.123456+01:00").as_deref(),
            Some("2024-01-02T02:04:05.123Z")
        );
        assert_eq!(
            normalize_iso("2024-01-02").as_deref(),
            Some("2024-01-02T00:00:00.000Z")
        );
        assert_eq!(normalize_iso("yesterday"), None);
    }
}
