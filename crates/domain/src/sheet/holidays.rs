//! The State Council's holiday notice (国务院办公厅关于部分节假日安排的通知) as a small text
//! file: each year's public holidays and make-up working days (调休上班), which business-hour
//! clocks skip and count. huiqian ships the notices it knows; a later year's is loaded from
//! a file in this format (documented in `docs/operations.md`):
//!
//! ```text
//! # 国务院办公厅关于2026年部分节假日安排的通知
//! year 2026
//! title 国务院办公厅关于2026年部分节假日安排的通知
//! holiday 2026-01-01..2026-01-03 元旦
//! workday 2026-01-04 元旦调休上班
//! ```
//!
//! One statement per line; `#` starts a comment. `holiday` and `workday` take a date or a
//! range `FIRST..LAST` and an optional note. Dates lie in the notice's year (or late
//! December of the year before, where a New Year's make-up day falls).

use crate::code::code_enum;
use crate::validation::ValidationError;
use chrono::{Datelike, NaiveDate};
use std::collections::BTreeMap;

code_enum!(
    /// A day of the notice.
    DayKind, "calendar.day_kind", {
        Holiday => "holiday", "放假", "Holiday";
        Workday => "workday", "调休上班", "Make-up working day";
    }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeDay {
    pub day: NaiveDate,
    pub kind: DayKind,
    pub note: String,
}

/// One year's notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub year: i32,
    pub title: String,
    /// In date order, each date once.
    pub days: Vec<NoticeDay>,
}

/// A holiday period lasts at most this long (the Spring Festival's nine days included).
const LONGEST_RANGE_DAYS: i64 = 15;
const NOTE_MAX: usize = 60;

fn line_error(line: usize, why: &'static str) -> ValidationError {
    ValidationError::new(why).with("line", line)
}

fn date(s: &str, line: usize) -> Result<NaiveDate, ValidationError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| line_error(line, "holidays.date"))
}

impl Notice {
    /// Parse a notice; the error names the line and what is wrong with it.
    pub fn parse(text: &str) -> Result<Notice, ValidationError> {
        let mut year: Option<i32> = None;
        let mut title = String::new();
        let mut days: BTreeMap<NaiveDate, NoticeDay> = BTreeMap::new();
        let mut pending: Vec<(usize, NaiveDate, NaiveDate, DayKind, String)> = vec![];
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.split('#').next().unwrap_or("").trim().trim_start_matches('\u{feff}');
            if line.is_empty() {
                continue;
            }
            let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let rest = rest.trim();
            match word {
                "year" => {
                    if year.is_some() {
                        return Err(line_error(n, "holidays.year_twice"));
                    }
                    let y: i32 = rest.parse().map_err(|_| line_error(n, "holidays.year"))?;
                    if !(2000..=2100).contains(&y) {
                        return Err(line_error(n, "holidays.year"));
                    }
                    year = Some(y);
                }
                "title" => title = rest.chars().take(120).collect(),
                "holiday" | "workday" => {
                    let kind = if word == "holiday" { DayKind::Holiday } else { DayKind::Workday };
                    let (when, note) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                    if when.is_empty() {
                        return Err(line_error(n, "holidays.date"));
                    }
                    let (first, last) = match when.split_once("..") {
                        Some((a, b)) => (date(a, n)?, date(b, n)?),
                        None => (date(when, n)?, date(when, n)?),
                    };
                    if last < first || (last - first).num_days() >= LONGEST_RANGE_DAYS {
                        return Err(line_error(n, "holidays.range"));
                    }
                    pending.push((n, first, last, kind, note.trim().chars().take(NOTE_MAX).collect()));
                }
                _ => return Err(line_error(n, "holidays.statement")),
            }
        }
        let year = year.ok_or_else(|| ValidationError::new("holidays.no_year"))?;
        for (n, first, last, kind, note) in pending {
            let mut d = first;
            while d <= last {
                let in_year = d.year() == year || (d.year() == year - 1 && d.month() == 12);
                if !in_year {
                    return Err(line_error(n, "holidays.other_year").with("year", year));
                }
                if days.insert(d, NoticeDay { day: d, kind, note: note.clone() }).is_some() {
                    return Err(line_error(n, "holidays.twice").with("day", d));
                }
                d = d.succ_opt().expect("date in range");
            }
        }
        if days.is_empty() {
            return Err(ValidationError::new("holidays.empty"));
        }
        if title.is_empty() {
            title = format!("{year}");
        }
        Ok(Notice { year, title, days: days.into_values().collect() })
    }

    /// The notice written back in its own format, a range per run of consecutive days of
    /// one kind and note.
    pub fn to_text(&self) -> String {
        let mut out = format!("year {}\ntitle {}\n", self.year, self.title);
        let mut i = 0;
        while i < self.days.len() {
            let first = &self.days[i];
            let mut j = i;
            while j + 1 < self.days.len()
                && self.days[j + 1].kind == first.kind
                && self.days[j + 1].note == first.note
                && self.days[j + 1].day == self.days[j].day.succ_opt().expect("date in range")
            {
                j += 1;
            }
            let when = if i == j { first.day.to_string() } else { format!("{}..{}", first.day, self.days[j].day) };
            out.push_str(format!("{} {when} {}", first.kind.as_str(), first.note).trim_end());
            out.push('\n');
            i = j + 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# 国务院办公厅关于2026年部分节假日安排的通知\nyear 2026\ntitle 国务院办公厅关于2026年部分节假日安排的通知\n\nholiday 2026-01-01..2026-01-03 元旦\nworkday 2026-01-04 元旦 # 周日上班\nholiday 2026-02-15..2026-02-23 春节\nworkday 2026-02-14 春节\nworkday 2026-02-28 春节\n";

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn a_notice_is_parsed_and_written_back() {
        let n = Notice::parse(SAMPLE).unwrap();
        assert_eq!(n.year, 2026);
        assert_eq!(n.days.len(), 3 + 1 + 9 + 2);
        assert_eq!(n.days[0], NoticeDay { day: d(2026, 1, 1), kind: DayKind::Holiday, note: "元旦".into() });
        assert!(n.days.iter().any(|x| x.day == d(2026, 2, 14) && x.kind == DayKind::Workday));
        assert!(n.days.windows(2).all(|w| w[0].day < w[1].day), "in date order");
        assert_eq!(Notice::parse(&n.to_text()).unwrap(), n, "the text form reads back the same");
    }

    #[test]
    fn mistakes_name_their_line() {
        let bad = |text: &str| Notice::parse(text).unwrap_err();
        let e = bad("year 2026\nholiday 2026-13-01 元旦\n");
        assert_eq!((e.code, e.param("line")), ("holidays.date", Some("2")));
        assert_eq!(bad("holiday 2026-01-01\n").code, "holidays.no_year");
        assert_eq!(bad("year 2026\nholiday 2026-01-03..2026-01-01\n").code, "holidays.range");
        assert_eq!(bad("year 2026\nholiday 2026-01-01..2026-03-01\n").code, "holidays.range");
        assert_eq!(bad("year 2026\nholiday 2027-01-01\n").code, "holidays.other_year");
        let twice = bad("year 2026\nholiday 2026-01-01\nworkday 2026-01-01\n");
        assert_eq!((twice.code, twice.param("line")), ("holidays.twice", Some("3")));
        assert_eq!(bad("year 2026\nvacation 2026-01-01\n").code, "holidays.statement");
        assert_eq!(bad("year 2026\n").code, "holidays.empty");
        assert_eq!(bad("year 2026\nyear 2027\n").code, "holidays.year_twice");
        // A New Year's make-up day in the December before is the notice's own.
        assert!(Notice::parse("year 2019\nworkday 2018-12-29 元旦\nholiday 2018-12-30..2019-01-01 元旦\n").is_ok());
    }
}
