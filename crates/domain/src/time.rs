//! Calendar dates as people write them in China.

use crate::validation::{ValidationError, to_half_width};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A date without time or zone (a move-in day, a birth date, a deadline day),
/// parsed from the forms people type and shown as ISO `2026-11-28`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CivilDate(NaiveDate);

impl CivilDate {
    pub fn new(date: NaiveDate) -> CivilDate {
        CivilDate(date)
    }

    /// Parses `2026-11-28`, `2026/11/28`, `2026.11.28`, `2026年11月28日`,
    /// `20261128`; month and day may have one digit (`2026-1-5`).
    pub fn parse(s: &str) -> Result<CivilDate, ValidationError> {
        let s: String = to_half_width(s).chars().filter(|c| !c.is_whitespace()).collect();
        if s.is_empty() {
            return Err(ValidationError::required());
        }
        let format = || ValidationError::new("date.format");
        let parts: Vec<&str> = if s.contains('年') {
            let rest = s.strip_suffix(['日', '号']).unwrap_or(&s);
            let (y, rest) = rest.split_once('年').ok_or_else(format)?;
            let (m, d) = rest.split_once('月').ok_or_else(format)?;
            vec![y, m, d]
        } else if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
            vec![&s[..4], &s[4..6], &s[6..]]
        } else {
            let sep =
                s.chars().find(|c| !c.is_ascii_digit()).filter(|c| matches!(c, '-' | '/' | '.')).ok_or_else(format)?;
            s.split(sep).collect()
        };
        let [y, m, d] = parts.as_slice() else {
            return Err(format());
        };
        let digits = |t: &str, lens: std::ops::RangeInclusive<usize>| {
            lens.contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit())
        };
        if !digits(y, 4..=4) || !digits(m, 1..=2) || !digits(d, 1..=2) {
            return Err(format());
        }
        let (y, m, d) =
            (y.parse().map_err(|_| format())?, m.parse().map_err(|_| format())?, d.parse().map_err(|_| format())?);
        NaiveDate::from_ymd_opt(y, m, d).map(CivilDate).ok_or_else(|| ValidationError::new("date.invalid"))
    }

    pub fn date(self) -> NaiveDate {
        self.0
    }
}

impl fmt::Display for CivilDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl From<NaiveDate> for CivilDate {
    fn from(d: NaiveDate) -> CivilDate {
        CivilDate(d)
    }
}

impl From<CivilDate> for NaiveDate {
    fn from(d: CivilDate) -> NaiveDate {
        d.0
    }
}

impl TryFrom<String> for CivilDate {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        CivilDate::parse(&s)
    }
}

impl From<CivilDate> for String {
    fn from(d: CivilDate) -> String {
        d.to_string()
    }
}

/// An instant (epoch milliseconds) as people read it in a zone: `2026-03-01 09:30`.
pub fn format_instant(ms: i64, zone: chrono_tz::Tz) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// An instant as a form's `datetime-local` value in a zone: `2026-03-01T09:30`.
pub fn format_local_input(ms: i64, zone: chrono_tz::Tz) -> String {
    format_instant(ms, zone).replace(' ', "T")
}

/// A local time typed in a zone (`2026-03-01T09:30`, with seconds, or with a space for the
/// `T`) as epoch milliseconds; the earlier instant when the clock is set back.
pub fn parse_local(s: &str, zone: chrono_tz::Tz) -> Option<i64> {
    use chrono::TimeZone;
    let s = s.trim();
    let t = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
        .ok()?;
    zone.from_local_datetime(&t).earliest().map(|x| x.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::test_support::assert_translatable;
    use proptest::prelude::*;

    fn iso(s: &str) -> Result<String, &'static str> {
        CivilDate::parse(s).map(|d| d.to_string()).map_err(|e| {
            assert_translatable(&e);
            e.code
        })
    }

    #[test]
    fn common_date_forms() {
        for s in [
            "2026-11-28",
            "2026/11/28",
            "2026.11.28",
            "2026年11月28日",
            "2026年11月28号",
            "2026年11月28",
            "20261128",
            " ２０２６－１１－２８ ",
            "2026 年 11 月 28 日",
        ] {
            assert_eq!(iso(s), Ok("2026-11-28".to_string()), "{s}");
        }
        assert_eq!(iso("2026-1-5"), Ok("2026-01-05".to_string()));
        assert_eq!(iso("2026年1月5日"), Ok("2026-01-05".to_string()));
    }

    #[test]
    fn bad_dates() {
        assert_eq!(iso(""), Err("required"));
        assert_eq!(iso("2026-02-30"), Err("date.invalid"));
        assert_eq!(iso("20261301"), Err("date.invalid"));
        assert_eq!(iso("2026-11/28"), Err("date.format"));
        assert_eq!(iso("26-11-28"), Err("date.format"));
        assert_eq!(iso("2026-011-28"), Err("date.format"));
        assert_eq!(iso("2026年11月"), Err("date.format"));
        assert_eq!(iso("28/11/2026"), Err("date.format"));
        assert_eq!(iso("2026-11-28T10:00"), Err("date.format"));
        assert_eq!(iso("tomorrow"), Err("date.format"));
        assert_eq!(iso("2026"), Err("date.format"));
    }

    #[test]
    fn converts_to_and_from_naive_date() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        assert_eq!(CivilDate::from(d).date(), d);
        assert_eq!(NaiveDate::from(CivilDate::new(d)), d);
        assert_eq!(String::from(CivilDate::new(d)), "2026-11-28");
    }

    proptest! {
        #[test]
        fn iso_round_trips(days in 0i64..3_000_000) {
            let d = NaiveDate::from_ymd_opt(1000, 1, 1).unwrap() + chrono::Duration::days(days);
            prop_assume!(d.format("%Y").to_string().len() == 4);
            let c = CivilDate::new(d);
            prop_assert_eq!(CivilDate::parse(&c.to_string()), Ok(c));
            prop_assert_eq!(CivilDate::parse(&d.format("%Y年%-m月%-d日").to_string()), Ok(c));
            prop_assert_eq!(CivilDate::parse(&d.format("%Y%m%d").to_string()), Ok(c));
        }

        #[test]
        fn parse_errors_are_translatable(s in "\\PC{0,16}") {
            if let Err(e) = CivilDate::parse(&s) {
                assert_translatable(&e);
            }
        }
    }

    #[test]
    fn instants_read_and_typed_in_the_zone() {
        let sh = chrono_tz::Asia::Shanghai;
        // 2026-03-01 01:30 UTC is 09:30 in Shanghai.
        let ms = 1_772_328_600_000;
        assert_eq!(format_instant(ms, sh), "2026-03-01 09:30");
        assert_eq!(format_instant(ms, chrono_tz::UTC), "2026-03-01 01:30");
        assert_eq!(format_local_input(ms, sh), "2026-03-01T09:30");
        for typed in ["2026-03-01T09:30", "2026-03-01T09:30:00", "2026-03-01 09:30", " 2026-03-01T09:30 "] {
            assert_eq!(parse_local(typed, sh), Some(ms), "{typed}");
        }
        assert_eq!(parse_local("2026-03-01", sh), None);
    }
}
