//! Sheet numbers (R-SHEET-2): unique in the community, per year, without gaps:
//! `KF-2026-000123`. The sequence itself is drawn by the store inside the registering
//! transaction; this module only formats and reads numbers.

/// Format a sheet number: prefix, year, six-digit sequence (more digits past 999,999).
pub fn format(prefix: &str, year: i32, seq: i64) -> String {
    format!("{prefix}-{year}-{seq:06}")
}

/// Read a number back into (prefix, year, sequence).
pub fn parse(s: &str) -> Option<(String, i32, i64)> {
    let mut parts = s.trim().rsplitn(3, '-');
    let seq = parts.next()?.parse().ok()?;
    let year = parts.next()?.parse().ok()?;
    let prefix = parts.next()?.to_uppercase();
    if prefix.is_empty() {
        return None;
    }
    Some((prefix, year, seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// R-SHEET-2: human-readable numbers per community and year.
    #[test]
    fn r_sheet_2_numbers_round_trip() {
        assert_eq!(format("KF", 2026, 123), "KF-2026-000123");
        assert_eq!(format("KF", 2026, 1_234_567), "KF-2026-1234567");
        assert_eq!(parse("kf-2026-000123"), Some(("KF".into(), 2026, 123)));
        assert_eq!(parse("HY-KF-2026-000007"), Some(("HY-KF".into(), 2026, 7)));
        assert_eq!(parse("2026-000123"), None);
    }
}
