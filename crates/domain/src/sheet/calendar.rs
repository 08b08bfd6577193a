//! A community's business calendar: working hours per weekday, public holidays and the
//! make-up working days (调休) an administrator maintains. Clocks that count "business
//! time" count only the minutes inside it, in the community's own time zone.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::collections::BTreeSet;

/// Epoch milliseconds, UTC.
pub type Ms = i64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    pub tz: Tz,
    /// Working hours Monday (0) … Sunday (6); `None`: not a working day.
    pub hours: [Option<(NaiveTime, NaiveTime)>; 7],
    /// Days off although their weekday works (public holidays).
    pub holidays: BTreeSet<NaiveDate>,
    /// Days that work although their weekday does not (调休上班), with `makeup_hours`.
    pub workdays: BTreeSet<NaiveDate>,
    pub makeup_hours: (NaiveTime, NaiveTime),
}

fn t(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("valid time")
}

impl Calendar {
    /// Monday to Friday 08:30–17:30 in Asia/Shanghai, no holidays yet.
    pub fn standard(tz: Tz) -> Calendar {
        let day = Some((t(8, 30), t(17, 30)));
        Calendar {
            tz,
            hours: [day, day, day, day, day, None, None],
            holidays: BTreeSet::new(),
            workdays: BTreeSet::new(),
            makeup_hours: (t(8, 30), t(17, 30)),
        }
    }

    /// Working hours of a local date, if it is a working day.
    pub fn hours_on(&self, d: NaiveDate) -> Option<(NaiveTime, NaiveTime)> {
        if self.holidays.contains(&d) {
            return None;
        }
        if self.workdays.contains(&d) {
            return Some(self.makeup_hours);
        }
        self.hours[d.weekday().num_days_from_monday() as usize].filter(|(a, b)| a < b)
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

    /// The working interval of a local date as instants.
    fn window(&self, d: NaiveDate) -> Option<(Ms, Ms)> {
        let (a, b) = self.hours_on(d)?;
        Some((self.instant(d, a), self.instant(d, b)))
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
            if let Some((a, b)) = self.window(d) {
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
            if let Some((a, b)) = self.window(d) {
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

    #[test]
    fn business_hours_skip_nights_weekends_and_holidays() {
        let mut c = Calendar::standard(Shanghai);
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
        let plain = Calendar::standard(Shanghai);
        assert_eq!(plain.add_business_ms(at(2026, 11, 25, 10, 0), 9 * H), at(2026, 11, 26, 10, 0));
        assert_eq!(plain.add_business_ms(at(2026, 11, 27, 17, 0), H), at(2026, 11, 30, 9, 0));
    }

    /// The straightforward reference: walk minute by minute.
    fn reference(c: &Calendar, from: Ms, to: Ms) -> Ms {
        let mut n = 0;
        let mut m = from;
        while m < to {
            let local = DateTime::<Utc>::from_timestamp_millis(m).unwrap().with_timezone(&c.tz);
            if let Some((a, b)) = c.hours_on(local.date_naive())
                && local.time() >= a
                && local.time() < b
            {
                n += 60_000;
            }
            m += 60_000;
        }
        n
    }

    fn calendar() -> impl Strategy<Value = Calendar> {
        let hours =
            (6u32..11, 0u32..4, 14u32..21, 0u32..4).prop_map(|(h1, q1, h2, q2)| Some((t(h1, q1 * 15), t(h2, q2 * 15))));
        let day = prop_oneof![3 => hours, 1 => Just(None)];
        (
            proptest::array::uniform7(day),
            proptest::collection::btree_set(0u32..40, 0..6),
            proptest::collection::btree_set(0u32..40, 0..4),
        )
            .prop_map(|(hours, hol, work)| {
                let base = NaiveDate::from_ymd_opt(2026, 9, 20).unwrap();
                Calendar {
                    tz: Shanghai,
                    hours,
                    holidays: hol.into_iter().map(|d| base + Duration::days(d as i64)).collect(),
                    workdays: work.into_iter().map(|d| base + Duration::days(d as i64)).collect(),
                    makeup_hours: (t(9, 0), t(17, 0)),
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
            prop_assume!(c.hours.iter().any(|h| h.is_some()));
            let from = at(2026, 9, 20, 0, 0) + start * 60_000;
            let due = c.add_business_ms(from, minutes * 60_000);
            prop_assert_eq!(c.business_ms(from, due), minutes * 60_000);
        }
    }
}
