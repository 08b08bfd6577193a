//! A community's business calendar: working spans per weekday (a morning and an afternoon
//! around the lunch break, as service centres work), public holidays, the make-up working
//! days (调休) of the State Council's notices, and special days with spans of their own.
//! Clocks that count "business time" count only the minutes inside it, in the community's
//! own time zone.

use crate::validation::ValidationError;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::collections::{BTreeMap, BTreeSet};

/// Epoch milliseconds, UTC.
pub type Ms = i64;

/// A working span of a day, start before end (`08:30–12:00`).
pub type Span = (NaiveTime, NaiveTime);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    pub tz: Tz,
    /// Working spans Monday (0) … Sunday (6), in order; empty: not a working day.
    pub hours: [Vec<Span>; 7],
    /// Days off although their weekday works (public holidays).
    pub holidays: BTreeSet<NaiveDate>,
    /// Days that work although their weekday does not (调休上班), with `makeup_hours`.
    pub workdays: BTreeSet<NaiveDate>,
    pub makeup_hours: Vec<Span>,
    /// Working days with spans of their own (a half day before a holiday, a make-up day
    /// with shorter hours).
    pub day_hours: BTreeMap<NaiveDate, Vec<Span>>,
}

fn t(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("valid time")
}

/// The working day of a Chinese service centre: 08:30–12:00 and 13:30–17:30.
pub fn standard_day() -> Vec<Span> {
    vec![(t(8, 30), t(12, 0)), (t(13, 30), t(17, 30))]
}

/// Sorted, without empty spans, overlapping or touching ones merged.
pub fn normalize(spans: &[Span]) -> Vec<Span> {
    let mut v: Vec<Span> = spans.iter().copied().filter(|(a, b)| a < b).collect();
    v.sort();
    let mut out: Vec<Span> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Minutes since midnight of a time (24:00 is 1440).
fn minute_of(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once([':', '：'])?;
    let (h, m): (u32, u32) = (h.trim().parse().ok()?, m.trim().parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
}

/// A time of day from minutes since midnight; 24:00 is the last representable instant
/// of the day (23:59:59.999), so a span may run to midnight.
pub fn time_of_minute(m: u32) -> NaiveTime {
    if m >= 1440 {
        NaiveTime::from_hms_milli_opt(23, 59, 59, 999).expect("valid time")
    } else {
        NaiveTime::from_num_seconds_from_midnight_opt(m * 60, 0).expect("valid time")
    }
}

/// Minutes since midnight of a time (the end of day reads 1440).
pub fn minute_of_time(x: NaiveTime) -> u32 {
    if x >= NaiveTime::from_hms_milli_opt(23, 59, 59, 999).expect("valid time") {
        1440
    } else {
        chrono::Timelike::num_seconds_from_midnight(&x) / 60
    }
}

/// Parse the spans of a day as written: `08:30-12:00, 13:30-17:30` (commas, `、`, `，`,
/// `;` or spaces between spans; `-`, `–`, `~` or `至` within one). Empty: no working
/// hours. Spans must not overlap.
pub fn parse_spans(s: &str) -> Result<Vec<Span>, ValidationError> {
    let mut spans = Vec::new();
    for part in s.split([',', '，', '、', ';', '；', ' ']).map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part
            .split_once(['-', '–', '—', '~', '～', '至'])
            .ok_or_else(|| ValidationError::new("calendar.hours").with("span", part))?;
        let (a, b) = match (minute_of(a), minute_of(b)) {
            (Some(a), Some(b)) if a < b => (a, b),
            _ => return Err(ValidationError::new("calendar.hours").with("span", part)),
        };
        spans.push((a, b));
    }
    spans.sort();
    if spans.windows(2).any(|w| w[1].0 < w[0].1) {
        return Err(ValidationError::new("calendar.overlap"));
    }
    Ok(spans.into_iter().map(|(a, b)| (time_of_minute(a), time_of_minute(b))).collect())
}

/// Spans as people write them: `08:30-12:00,13:30-17:30`.
pub fn format_spans(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|(a, b)| {
            let (a, b) = (minute_of_time(*a), minute_of_time(*b));
            format!("{:02}:{:02}-{:02}:{:02}", a / 60, a % 60, b / 60, b % 60)
        })
        .collect::<Vec<_>>()
        .join(",")
}

impl Calendar {
    /// Monday to Friday 08:30–12:00 and 13:30–17:30, no holidays yet.
    pub fn standard(tz: Tz) -> Calendar {
        let day = standard_day();
        Calendar {
            tz,
            hours: [day.clone(), day.clone(), day.clone(), day.clone(), day.clone(), vec![], vec![]],
            holidays: BTreeSet::new(),
            workdays: BTreeSet::new(),
            makeup_hours: day,
            day_hours: BTreeMap::new(),
        }
    }

    /// Working spans of a local date (empty: not a working day).
    pub fn hours_on(&self, d: NaiveDate) -> &[Span] {
        if self.holidays.contains(&d) {
            return &[];
        }
        if let Some(spans) = self.day_hours.get(&d) {
            return spans;
        }
        if self.workdays.contains(&d) {
            return &self.makeup_hours;
        }
        &self.hours[d.weekday().num_days_from_monday() as usize]
    }

    fn local_date(&self, ms: Ms) -> NaiveDate {
        DateTime::<Utc>::from_timestamp_millis(ms).expect("in range").with_timezone(&self.tz).date_naive()
    }

    /// The instant of a local date and time (the earlier one in a DST fold, the first
    /// valid instant after a DST gap).
    fn instant(&self, d: NaiveDate, time: NaiveTime) -> Ms {
        let naive = d.and_time(time);
        match self.tz.from_local_datetime(&naive) {
            chrono::LocalResult::Single(x) => x.timestamp_millis(),
            chrono::LocalResult::Ambiguous(a, _) => a.timestamp_millis(),
            chrono::LocalResult::None => {
                let later = naive + Duration::hours(1);
                self.tz.from_local_datetime(&later).earliest().map(|x| x.timestamp_millis()).unwrap_or(0)
            }
        }
    }

    /// The working intervals of a local date as instants, in order.
    fn windows(&self, d: NaiveDate) -> impl Iterator<Item = (Ms, Ms)> + '_ {
        self.hours_on(d).iter().filter(|(a, b)| a < b).map(move |(a, b)| (self.instant(d, *a), self.instant(d, *b)))
    }

    /// Business milliseconds between two instants (0 if `to <= from`).
    pub fn business_ms(&self, from: Ms, to: Ms) -> Ms {
        if to <= from {
            return 0;
        }
        let mut total = 0;
        let mut d = self.local_date(from);
        let last = self.local_date(to);
        while d <= last {
            for (a, b) in self.windows(d) {
                let (s, e) = (a.max(from), b.min(to));
                if e > s {
                    total += e - s;
                }
            }
            d = d.succ_opt().expect("date in range");
        }
        total
    }

    /// The instant at which `ms` business milliseconds have passed after `from`.
    pub fn add_business_ms(&self, from: Ms, ms: Ms) -> Ms {
        let mut left = ms.max(0);
        let mut d = self.local_date(from);
        // Ten years of days at most: a calendar with no working day never finishes.
        for _ in 0..3660 {
            for (a, b) in self.windows(d) {
                let s = a.max(from);
                if b > s {
                    if b - s >= left {
                        return s + left;
                    }
                    left -= b - s;
                }
            }
            d = d.succ_opt().expect("date in range");
        }
        from + ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Asia::Shanghai;
    use proptest::prelude::*;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> Ms {
        Shanghai.with_ymd_and_hms(y, m, d, h, min, 0).unwrap().timestamp_millis()
    }

    const H: Ms = 3_600_000;
    const MIN: Ms = 60_000;

    /// One span a day, 08:30–17:30, as some centres keep.
    fn one_span() -> Calendar {
        let day = vec![(t(8, 30), t(17, 30))];
        let mut c = Calendar::standard(Shanghai);
        for wd in 0..5 {
            c.hours[wd] = day.clone();
        }
        c.makeup_hours = day;
        c
    }

    #[test]
    fn business_hours_skip_nights_weekends_and_holidays() {
        let mut c = one_span();
        // Friday 2026-10-09 16:30 → Monday 2026-10-12 09:30: 1 h Friday + 1 h Monday.
        assert_eq!(c.business_ms(at(2026, 10, 9, 16, 30), at(2026, 10, 12, 9, 30)), 2 * H);
        // National Day holiday and its make-up Saturday.
        for d in 1..=7 {
            c.holidays.insert(NaiveDate::from_ymd_opt(2026, 10, d).unwrap());
        }
        c.workdays.insert(NaiveDate::from_ymd_opt(2026, 10, 10).unwrap());
        assert_eq!(c.business_ms(at(2026, 9, 30, 17, 0), at(2026, 10, 8, 9, 0)), H / 2 + H / 2);
        assert_eq!(c.business_ms(at(2026, 10, 9, 16, 30), at(2026, 10, 12, 9, 30)), H + 9 * H + H);
        // 72 business hours from Wednesday 10:00.
        let plain = one_span();
        assert_eq!(plain.add_business_ms(at(2026, 11, 25, 10, 0), 9 * H), at(2026, 11, 26, 10, 0));
        assert_eq!(plain.add_business_ms(at(2026, 11, 27, 17, 0), H), at(2026, 11, 30, 9, 0));
    }

    /// A lunch break is not business time: 08:30–12:00 and 13:30–17:30 is 7.5 hours a day,
    /// and a deadline falling in the break moves to the afternoon.
    #[test]
    fn the_lunch_break_does_not_count() {
        let c = Calendar::standard(Shanghai);
        assert_eq!(c.business_ms(at(2026, 11, 25, 8, 0), at(2026, 11, 25, 18, 0)), 7 * H + 30 * MIN);
        assert_eq!(c.business_ms(at(2026, 11, 25, 11, 0), at(2026, 11, 25, 14, 0)), H + 30 * MIN);
        // One business hour from 11:30 is 14:00, not 12:30.
        assert_eq!(c.add_business_ms(at(2026, 11, 25, 11, 30), H), at(2026, 11, 25, 14, 0));
        // Registered at lunch: the clock starts at 13:30.
        assert_eq!(c.add_business_ms(at(2026, 11, 25, 12, 15), 30 * MIN), at(2026, 11, 25, 14, 0));
        // 72 business hours from Monday 09:00 end 9.6 working days later, not 8.
        let due = c.add_business_ms(at(2026, 11, 23, 9, 0), 72 * H);
        assert_eq!(due, at(2026, 12, 4, 15, 0));
        assert_eq!(c.business_ms(at(2026, 11, 23, 9, 0), due), 72 * H);
        // A special day with its own spans (a half day) wins over its weekday.
        let mut half = c.clone();
        half.day_hours.insert(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(), vec![(t(8, 30), t(12, 0))]);
        assert_eq!(half.business_ms(at(2026, 11, 25, 0, 0), at(2026, 11, 26, 0, 0)), 3 * H + 30 * MIN);
        half.holidays.insert(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
        assert_eq!(half.business_ms(at(2026, 11, 25, 0, 0), at(2026, 11, 26, 0, 0)), 0, "a holiday wins");
    }

    #[test]
    fn spans_are_parsed_as_written() {
        assert_eq!(parse_spans("08:30-12:00,13:30-17:30").unwrap(), standard_day());
        assert_eq!(parse_spans(" 13:30–17:30、08:30至12:00 ").unwrap(), standard_day());
        assert_eq!(parse_spans("8:30~12:00；13:30-17:30").unwrap(), standard_day());
        assert_eq!(format_spans(&standard_day()), "08:30-12:00,13:30-17:30");
        assert_eq!(parse_spans("").unwrap(), vec![]);
        assert_eq!(format_spans(&parse_spans("00:00-24:00").unwrap()), "00:00-24:00");
        assert_eq!(parse_spans("08:30-12:00,11:00-17:30").unwrap_err().code, "calendar.overlap");
        assert_eq!(parse_spans("17:30-08:30").unwrap_err().code, "calendar.hours");
        assert_eq!(parse_spans("8点半-12点").unwrap_err().code, "calendar.hours");
        assert_eq!(parse_spans("25:00-26:00").unwrap_err().code, "calendar.hours");
        assert_eq!(normalize(&[(t(13, 0), t(14, 0)), (t(9, 0), t(13, 0))]), vec![(t(9, 0), t(14, 0))]);
    }

    /// The straightforward reference: walk minute by minute.
    fn reference(c: &Calendar, from: Ms, to: Ms) -> Ms {
        let mut n = 0;
        let mut m = from;
        while m < to {
            let local = DateTime::<Utc>::from_timestamp_millis(m).unwrap().with_timezone(&c.tz);
            if c.hours_on(local.date_naive()).iter().any(|(a, b)| local.time() >= *a && local.time() < *b) {
                n += 60_000;
            }
            m += 60_000;
        }
        n
    }

    fn day() -> impl Strategy<Value = Vec<Span>> {
        let one =
            (6u32..11, 0u32..4, 14u32..21, 0u32..4).prop_map(|(h1, q1, h2, q2)| vec![(t(h1, q1 * 15), t(h2, q2 * 15))]);
        let two = (7u32..10, 0u32..4, 11u32..13, 13u32..15, 15u32..21, 0u32..4)
            .prop_map(|(h1, q1, h2, h3, h4, q4)| vec![(t(h1, q1 * 15), t(h2, 0)), (t(h3, 30), t(h4, q4 * 15))]);
        prop_oneof![2 => one, 2 => two, 1 => Just(vec![])]
    }

    fn calendar() -> impl Strategy<Value = Calendar> {
        (
            proptest::array::uniform7(day()),
            proptest::collection::btree_set(0u32..40, 0..6),
            proptest::collection::btree_set(0u32..40, 0..4),
            proptest::collection::btree_map(0u32..40, day(), 0..3),
        )
            .prop_map(|(hours, hol, work, special)| {
                let base = NaiveDate::from_ymd_opt(2026, 9, 20).unwrap();
                Calendar {
                    tz: Shanghai,
                    hours,
                    holidays: hol.into_iter().map(|d| base + Duration::days(d as i64)).collect(),
                    workdays: work.into_iter().map(|d| base + Duration::days(d as i64)).collect(),
                    makeup_hours: standard_day(),
                    day_hours: special.into_iter().map(|(d, s)| (base + Duration::days(d as i64), s)).collect(),
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// The fast computation agrees with the minute-by-minute reference.
        #[test]
        fn business_time_matches_minute_reference(c in calendar(), start in 0i64..(30 * 24 * 60), len in 0i64..(8 * 24 * 60)) {
            let base = at(2026, 9, 20, 0, 0);
            let from = base + start * 60_000;
            let to = from + len * 60_000;
            prop_assert_eq!(c.business_ms(from, to), reference(&c, from, to));
        }

        /// Adding business time and measuring it back agree.
        #[test]
        fn add_then_measure(c in calendar(), start in 0i64..(30 * 24 * 60), minutes in 1i64..(3 * 24 * 60)) {
            prop_assume!(c.hours.iter().any(|h| !h.is_empty()));
            let from = at(2026, 9, 20, 0, 0) + start * 60_000;
            let due = c.add_business_ms(from, minutes * 60_000);
            prop_assert_eq!(c.business_ms(from, due), minutes * 60_000);
        }

        /// Whatever is typed, spans that parse are ordered, apart and print back the same.
        #[test]
        fn parsed_spans_round_trip(a in 0u32..1440, b in 0u32..1440, c in 0u32..1440, d in 0u32..1440) {
            let text = format!("{:02}:{:02}-{:02}:{:02},{:02}:{:02}-{:02}:{:02}", a / 60, a % 60, b / 60, b % 60, c / 60, c % 60, d / 60, d % 60);
            if let Ok(spans) = parse_spans(&text) {
                prop_assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0));
                prop_assert!(spans.iter().all(|(x, y)| x < y));
                prop_assert_eq!(parse_spans(&format_spans(&spans)).unwrap(), spans);
            }
        }
    }
}
