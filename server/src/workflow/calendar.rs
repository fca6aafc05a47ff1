//! The working-day calendar and deadline classes: pure, no I/O.
//!
//! Chinese public holidays move every year and are balanced by make-up working days (调休), often
//! a Saturday or Sunday. So a day is a working day when it is a make-up working day, or else when
//! it is Monday to Friday and not a public holiday. Days are civil dates in China Standard Time
//! (UTC+8, no daylight saving), the time every deadline is read in.
//!
//! A deadline class gives two spans: the response span (the initial reply is due within it) and
//! the handling span (the result is due within it). A span is either calendar hours (emergencies
//! do not wait for Monday) or working days: "7 working days" from a moment means the end
//! (23:59:59.999 CST) of the 7th working day after the day the case was dispatched.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// China Standard Time, UTC+8, in milliseconds.
pub const CST_OFFSET_MS: i64 = 8 * 3600 * 1000;
const DAY_MS: i64 = 24 * 3600 * 1000;

/// A civil date (proleptic Gregorian, years −9999 to 9999), counted in days since 1970-01-01
/// where arithmetic needs it. The calendar itself is `time`'s; the working-day rules are ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(time::Date);

/// A string that is not a `YYYY-MM-DD` date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a date (YYYY-MM-DD)")]
pub struct BadDate(pub String);

/// The Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;

impl Date {
    /// The date with this year, month (1–12) and day (1–31), if it exists.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
        time::Date::from_calendar_date(year, month, u8::try_from(day).ok()?)
            .ok()
            .map(Date)
    }

    /// `(year, month, day)`.
    pub fn ymd(self) -> (i32, u32, u32) {
        let (year, month, day) = self.0.to_calendar_date();
        (year, u8::from(month).into(), day.into())
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.0.year()
    }

    /// Days since 1970-01-01.
    pub fn days(self) -> i32 {
        self.0.to_julian_day() - UNIX_EPOCH_JULIAN_DAY
    }

    /// The date `days` after 1970-01-01 (held at the first or last representable date beyond
    /// ±9999 years).
    pub fn from_days(days: i32) -> Date {
        let julian = days.saturating_add(UNIX_EPOCH_JULIAN_DAY);
        Date(time::Date::from_julian_day(julian).unwrap_or(if days < 0 {
            time::Date::MIN
        } else {
            time::Date::MAX
        }))
    }

    /// 0 for Monday … 6 for Sunday.
    pub fn weekday(self) -> u32 {
        self.0.weekday().number_days_from_monday().into()
    }

    /// Saturday or Sunday.
    pub fn is_weekend(self) -> bool {
        self.weekday() >= 5
    }

    /// The next day.
    pub fn succ(self) -> Date {
        Date(self.0.next_day().unwrap_or(time::Date::MAX))
    }

    /// The CST date of an instant (Unix milliseconds).
    pub fn of_instant(ms: i64) -> Date {
        let days = (ms.saturating_add(CST_OFFSET_MS)).div_euclid(DAY_MS);
        Date::from_days(days.clamp(i32::MIN.into(), i32::MAX.into()) as i32)
    }

    /// An instant (Unix milliseconds) as a person in China reads it: `2026-12-08 18:04` (CST).
    pub fn minute_of_instant(ms: i64) -> String {
        let minutes = ms.saturating_add(CST_OFFSET_MS).rem_euclid(DAY_MS) / 60_000;
        format!(
            "{} {:02}:{:02}",
            Date::of_instant(ms),
            minutes / 60,
            minutes % 60
        )
    }

    /// 00:00:00.000 CST of this date, in Unix milliseconds.
    pub fn start_ms(self) -> i64 {
        self.days() as i64 * DAY_MS - CST_OFFSET_MS
    }

    /// 23:59:59.999 CST of this date, in Unix milliseconds.
    pub fn end_ms(self) -> i64 {
        self.start_ms() + DAY_MS - 1
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl FromStr for Date {
    type Err = BadDate;
    fn from_str(s: &str) -> Result<Date, BadDate> {
        const YMD: &[time::format_description::BorrowedFormatItem<'_>] =
            time::macros::format_description!("[year]-[month]-[day]");
        // Exactly `YYYY-MM-DD`: no sign, no wider year.
        if s.len() != 10 || !s.as_bytes()[..4].iter().all(u8::is_ascii_digit) {
            return Err(BadDate(s.to_string()));
        }
        time::Date::parse(s, YMD)
            .map(Date)
            .map_err(|_| BadDate(s.to_string()))
    }
}

impl Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What a calendar entry says about a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// A public holiday (法定节假日): not worked even on a weekday.
    Holiday,
    /// A make-up working day (调休上班): worked even on a weekend.
    Workday,
}

impl DayKind {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            DayKind::Holiday => "holiday",
            DayKind::Workday => "workday",
        }
    }
}

impl FromStr for DayKind {
    type Err = BadDate;
    fn from_str(s: &str) -> Result<DayKind, BadDate> {
        match s {
            "holiday" => Ok(DayKind::Holiday),
            "workday" => Ok(DayKind::Workday),
            other => Err(BadDate(other.to_string())),
        }
    }
}

/// One configured day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarDay {
    pub date: Date,
    pub kind: DayKind,
    /// What the day is, e.g. 国庆节 or 国庆调休.
    #[serde(default)]
    pub name: String,
}

/// Working days: weekdays, less public holidays, plus make-up working days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    exceptions: BTreeMap<Date, DayKind>,
}

/// The most days a working-day walk may take before it gives up: a calendar whose every day
/// is a holiday would otherwise never end. Ten years covers any real configuration.
const MAX_WALK_DAYS: i32 = 3660;

impl Calendar {
    /// A calendar from its configured days (a later entry for the same date wins).
    pub fn new(days: impl IntoIterator<Item = CalendarDay>) -> Calendar {
        Calendar {
            exceptions: days.into_iter().map(|d| (d.date, d.kind)).collect(),
        }
    }

    /// Whether the day is worked.
    pub fn is_working_day(&self, date: Date) -> bool {
        match self.exceptions.get(&date) {
            Some(DayKind::Workday) => true,
            Some(DayKind::Holiday) => false,
            None => !date.is_weekend(),
        }
    }

    /// The `n`th working day after `date` (`date` itself does not count); `date` itself when
    /// `n` is 0. A calendar with no working day for ten years stops there.
    pub fn add_working_days(&self, date: Date, n: u32) -> Date {
        let mut day = date;
        let mut left = n;
        let limit = date.days().saturating_add(MAX_WALK_DAYS);
        while left > 0 && day.days() < limit {
            day = day.succ();
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        day
    }

    /// How many working days lie in `(from, to]`.
    pub fn working_days_between(&self, from: Date, to: Date) -> u32 {
        let mut count = 0;
        let mut day = from;
        while day < to {
            day = day.succ();
            if self.is_working_day(day) {
                count += 1;
            }
        }
        count
    }
}

/// A length of time a deadline class allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Span {
    /// Calendar hours, holidays or not.
    Hours(u32),
    /// Working days on the calendar, ending at the end of the last one.
    WorkingDays(u32),
}

/// The longest span accepted: 90 days in hours, or 250 working days.
pub const MAX_SPAN_HOURS: u32 = 90 * 24;
/// See [`MAX_SPAN_HOURS`].
pub const MAX_SPAN_WORKING_DAYS: u32 = 250;

impl Span {
    /// When a span starting at `from_ms` (Unix milliseconds) ends.
    pub fn due(self, calendar: &Calendar, from_ms: i64) -> i64 {
        match self {
            Span::Hours(h) => from_ms + i64::from(h) * 3600 * 1000,
            Span::WorkingDays(n) => calendar
                .add_working_days(Date::of_instant(from_ms), n)
                .end_ms(),
        }
    }

    /// `(unit, amount)` as stored.
    pub fn parts(self) -> (&'static str, i64) {
        match self {
            Span::Hours(h) => ("hours", i64::from(h)),
            Span::WorkingDays(n) => ("working_days", i64::from(n)),
        }
    }

    /// The span a stored `(unit, amount)` names.
    pub fn from_parts(unit: &str, amount: i64) -> Option<Span> {
        let amount = u32::try_from(amount).ok()?;
        match unit {
            "hours" => Some(Span::Hours(amount)),
            "working_days" => Some(Span::WorkingDays(amount)),
            _ => None,
        }
    }

    /// Whether the span is positive and within the limits.
    pub fn is_valid(self) -> bool {
        match self {
            Span::Hours(h) => (1..=MAX_SPAN_HOURS).contains(&h),
            Span::WorkingDays(n) => (1..=MAX_SPAN_WORKING_DAYS).contains(&n),
        }
    }
}

/// A deadline class (emergency, urgent, general, complex, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadlineClass {
    pub code: String,
    pub name: String,
    /// The initial reply is due within this span of dispatch.
    pub response: Span,
    /// The result is due within this span of dispatch.
    pub handling: Span,
}

impl DeadlineClass {
    /// `(response due, handling due)` for a case dispatched at `from_ms`.
    pub fn deadlines(&self, calendar: &Calendar, from_ms: i64) -> (i64, i64) {
        (
            self.response.due(calendar, from_ms),
            self.handling.due(calendar, from_ms),
        )
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn date(s: &str) -> Date {
        s.parse().unwrap()
    }

    /// National Day 2026 as the State Council set it: 1–7 October off, Sunday 27 September
    /// and Saturday 10 October worked.
    fn national_day_2026() -> Calendar {
        let mut days: Vec<CalendarDay> = (1..=7)
            .map(|d| CalendarDay {
                date: Date::from_ymd(2026, 10, d).unwrap(),
                kind: DayKind::Holiday,
                name: "国庆节".into(),
            })
            .collect();
        for d in ["2026-09-27", "2026-10-10"] {
            days.push(CalendarDay {
                date: date(d),
                kind: DayKind::Workday,
                name: "国庆调休".into(),
            });
        }
        Calendar::new(days)
    }

    #[test]
    fn dates_parse_print_and_know_their_weekday() {
        assert_eq!(date("1970-01-01").days(), 0);
        assert_eq!(date("2026-11-27").to_string(), "2026-11-27");
        assert_eq!(date("2026-11-27").weekday(), 4, "a Friday");
        assert_eq!(date("2024-02-29").succ(), date("2024-03-01"));
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-1-01",
            "20260101",
            "2026-01-0x",
            "",
        ] {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
    }

    #[test]
    fn an_instant_falls_on_its_china_standard_time_date() {
        // 2026-11-27 16:30 UTC is 00:30 on the 28th in Beijing.
        let ms = date("2026-11-27").start_ms() + CST_OFFSET_MS + 16 * 3600 * 1000 + 30 * 60_000;
        assert_eq!(Date::of_instant(ms), date("2026-11-28"));
        assert_eq!(
            Date::of_instant(date("2026-11-28").end_ms()),
            date("2026-11-28")
        );
        assert_eq!(
            Date::of_instant(date("2026-11-28").end_ms() + 1),
            date("2026-11-29")
        );
        assert_eq!(Date::minute_of_instant(ms), "2026-11-28 00:30");
        assert_eq!(
            Date::minute_of_instant(date("2026-11-28").end_ms()),
            "2026-11-28 23:59"
        );
    }

    #[test]
    fn weekends_and_holidays_are_skipped_and_make_up_days_are_worked() {
        let calendar = national_day_2026();
        assert!(
            !calendar.is_working_day(date("2026-10-01")),
            "a Thursday holiday"
        );
        assert!(
            !calendar.is_working_day(date("2026-10-03")),
            "a Saturday holiday"
        );
        assert!(
            calendar.is_working_day(date("2026-09-27")),
            "a Sunday make-up day"
        );
        assert!(
            calendar.is_working_day(date("2026-10-10")),
            "a Saturday make-up day"
        );
        assert!(
            !calendar.is_working_day(date("2026-10-11")),
            "an ordinary Sunday"
        );
    }

    #[test]
    fn seven_working_days_from_before_national_day_reach_past_the_holiday() {
        let calendar = national_day_2026();
        // Friday 25 September: Sun 27, Mon 28, Tue 29, Wed 30, (1–7 off), Thu 8, Fri 9, Sat 10.
        assert_eq!(
            calendar.add_working_days(date("2026-09-25"), 7),
            date("2026-10-10")
        );
        // Without the calendar it would be Tuesday 6 October.
        assert_eq!(
            Calendar::default().add_working_days(date("2026-09-25"), 7),
            date("2026-10-06")
        );
    }

    #[test]
    fn a_working_day_span_ends_at_the_end_of_its_last_day_and_hours_ignore_the_calendar() {
        let calendar = national_day_2026();
        let dispatched = date("2026-09-30").start_ms() + 10 * 3600 * 1000; // 10:00 CST
        assert_eq!(
            Span::WorkingDays(1).due(&calendar, dispatched),
            date("2026-10-08").end_ms()
        );
        assert_eq!(
            Span::Hours(24).due(&calendar, dispatched),
            dispatched + 24 * 3600 * 1000
        );
    }

    #[test]
    fn spans_round_trip_through_json_and_storage() {
        let class: DeadlineClass = serde_json::from_str(
            r#"{"code":"general","name":"一般","response":{"working_days":1},"handling":{"working_days":7}}"#,
        )
        .unwrap();
        assert_eq!(class.handling, Span::WorkingDays(7));
        let (unit, amount) = Span::Hours(24).parts();
        assert_eq!(Span::from_parts(unit, amount), Some(Span::Hours(24)));
        assert_eq!(Span::from_parts("weeks", 1), None);
        assert!(!Span::Hours(0).is_valid());
    }

    #[test]
    fn a_calendar_without_working_days_stops_after_ten_years() {
        let start = date("2026-01-01");
        let every_day_off = Calendar::new((1..=4000).map(|i| CalendarDay {
            date: Date::from_days(start.days() + i),
            kind: DayKind::Holiday,
            name: String::new(),
        }));
        let end = every_day_off.add_working_days(start, 1);
        assert_eq!(end.days() - start.days(), MAX_WALK_DAYS);
    }

    /// A calendar of random holidays and make-up days around 2026.
    fn calendars() -> impl Strategy<Value = Calendar> {
        let base = date("2026-01-01").days();
        proptest::collection::vec((0..730i32, prop::bool::ANY), 0..120).prop_map(move |entries| {
            Calendar::new(entries.into_iter().map(|(offset, holiday)| CalendarDay {
                date: Date::from_days(base + offset),
                kind: if holiday {
                    DayKind::Holiday
                } else {
                    DayKind::Workday
                },
                name: String::new(),
            }))
        })
    }

    proptest! {
        #[test]
        fn adding_working_days_lands_on_a_working_day_after_the_start(
            calendar in calendars(), start in 20_454..21_184i32, n in 1..40u32,
        ) {
            let start = Date::from_days(start);
            let end = calendar.add_working_days(start, n);
            prop_assert!(end > start);
            prop_assert!(calendar.is_working_day(end));
            prop_assert_eq!(calendar.working_days_between(start, end), n);
        }

        #[test]
        fn adding_working_days_is_monotonic_in_the_start_and_the_count(
            calendar in calendars(), start in 20_454..21_184i32, later in 0..30i32, n in 0..40u32, more in 0..10u32,
        ) {
            let a = Date::from_days(start);
            let b = Date::from_days(start + later);
            prop_assert!(calendar.add_working_days(a, n) <= calendar.add_working_days(b, n));
            prop_assert!(calendar.add_working_days(a, n) <= calendar.add_working_days(a, n + more));
        }

        #[test]
        fn adding_in_two_steps_equals_adding_at_once(
            calendar in calendars(), start in 20_454..21_184i32, m in 0..20u32, n in 0..20u32,
        ) {
            let start = Date::from_days(start);
            prop_assert_eq!(
                calendar.add_working_days(calendar.add_working_days(start, m), n),
                calendar.add_working_days(start, m + n)
            );
        }

        #[test]
        fn dates_round_trip_through_their_civil_form(days in -200_000..200_000i32) {
            let d = Date::from_days(days);
            let (y, m, dd) = d.ymd();
            prop_assert_eq!(Date::from_ymd(y, m, dd), Some(d));
            if (0..=9999).contains(&y) {
                prop_assert_eq!(d.to_string().parse::<Date>().unwrap(), d);
            }
        }

        #[test]
        fn a_deadline_is_never_before_its_start(calendar in calendars(), offset in 0..(700 * 86_400_000i64), n in 1..30u32) {
            let from = date("2026-01-01").start_ms() + offset;
            prop_assert!(Span::WorkingDays(n).due(&calendar, from) > from);
            prop_assert!(Span::Hours(n).due(&calendar, from) > from);
        }
    }
}
