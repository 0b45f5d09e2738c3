//! The hours rules, as plain functions: what a roster entry or a check-in records, and what is
//! refused. The database's CHECK constraints hold the same lines as a last guard.

use crate::attendance::model::AttendanceStatus;
use crate::db::Timestamp;
use crate::error::FieldError;
use crate::time::local_date;

/// A day's worth of minutes: nobody volunteers more than 24 hours a day.
pub const MINUTES_PER_DAY: i32 = 24 * 60;

/// The schedule of an event as the hours rules see it.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    /// Wall-clock length in minutes.
    pub minutes: i32,
    /// Local calendar days it touches (1 for an event that starts and ends on the same day).
    pub days: i32,
}

impl Span {
    pub fn of(starts_at: Timestamp, ends_at: Timestamp, tz: &str) -> Span {
        let minutes = (ends_at.get() - starts_at.get()).num_minutes();
        // An event ending at midnight does not touch the next day.
        let last = Timestamp::from(ends_at.get() - chrono::Duration::microseconds(1));
        let days = (local_date(last, tz) - local_date(starts_at, tz)).num_days() + 1;
        Span {
            minutes: i32::try_from(minutes.max(1)).unwrap_or(i32::MAX),
            days: i32::try_from(days.max(1)).unwrap_or(i32::MAX),
        }
    }

    pub fn is_one_day(self) -> bool {
        self.days == 1
    }

    /// What is recorded for `days` attended when nobody says otherwise: the event's own length
    /// for a one-day event, `per_day` minutes on each day attended of a longer one.
    pub fn default_minutes(self, per_day: i32, days: i32) -> i32 {
        if self.is_one_day() {
            self.minutes.min(MINUTES_PER_DAY)
        } else {
            per_day.saturating_mul(days)
        }
    }
}

/// What a roster line asks to record.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub status: AttendanceStatus,
    pub minutes: Option<i32>,
    pub days: Option<i32>,
}

/// The (minutes, days) to record for `entry`, or what is wrong with it. Field names are
/// relative (`minutes`, `days`); the caller prefixes the line.
pub fn resolve(entry: Entry, span: Span, per_day: i32) -> Result<(i32, i32), Vec<FieldError>> {
    let mut errors = Vec::new();
    match entry.status {
        AttendanceStatus::NoShow => {
            if entry.minutes.is_some_and(|m| m != 0) {
                errors.push(FieldError::new(
                    "minutes",
                    "not_allowed",
                    "a no-show records no minutes",
                ));
            }
            if entry.days.is_some_and(|d| d != 0) {
                errors.push(FieldError::new(
                    "days",
                    "not_allowed",
                    "a no-show records no days",
                ));
            }
            if errors.is_empty() {
                Ok((0, 0))
            } else {
                Err(errors)
            }
        }
        AttendanceStatus::Attended => {
            let days = entry.days.unwrap_or(span.days);
            if !(1..=span.days).contains(&days) {
                errors.push(FieldError::new(
                    "days",
                    "outside_event",
                    format!(
                        "between 1 and {} (the days the event spans), got {days}",
                        span.days
                    ),
                ));
            }
            let minutes = entry
                .minutes
                .unwrap_or_else(|| span.default_minutes(per_day, days));
            if minutes <= 0 {
                errors.push(FieldError::new(
                    "minutes",
                    "not_positive",
                    "an attendance records more than 0 minutes",
                ));
            } else if minutes > MINUTES_PER_DAY.saturating_mul(days.max(1)) {
                errors.push(FieldError::new(
                    "minutes",
                    "over_24h_per_day",
                    format!(
                        "at most 24 hours a day: {} minutes for {days} day(s)",
                        MINUTES_PER_DAY * days.max(1)
                    ),
                ));
            }
            if errors.is_empty() {
                Ok((minutes, days))
            } else {
                Err(errors)
            }
        }
    }
}

/// Roster entries within the event's own length may be approved as they are recorded (when
/// configured); anything longer needs a person to look at it.
pub fn auto_approvable(status: AttendanceStatus, minutes: i32, span: Span) -> bool {
    status == AttendanceStatus::NoShow || minutes <= span.minutes
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn t(d: u32, h: u32, m: u32) -> Timestamp {
        Timestamp::from(Utc.with_ymd_and_hms(2026, 5, d, h, m, 0).unwrap())
    }

    fn attended(minutes: Option<i32>, days: Option<i32>) -> Entry {
        Entry {
            status: AttendanceStatus::Attended,
            minutes,
            days,
        }
    }

    #[test]
    fn a_one_day_event_records_its_length_by_default() {
        // 09:00-12:30 in Tokyo.
        let span = Span::of(t(10, 0, 0), t(10, 3, 30), "Asia/Tokyo");
        assert_eq!((span.minutes, span.days), (210, 1));
        assert_eq!(resolve(attended(None, None), span, 480).unwrap(), (210, 1));
        assert_eq!(
            resolve(attended(Some(90), None), span, 480).unwrap(),
            (90, 1)
        );
    }

    #[test]
    fn a_multi_day_event_records_the_default_per_day() {
        // Three local days in Tokyo: 10 May 09:00 to 12 May 17:00.
        let span = Span::of(t(10, 0, 0), t(12, 8, 0), "Asia/Tokyo");
        assert_eq!(span.days, 3);
        assert_eq!(resolve(attended(None, None), span, 480).unwrap(), (1440, 3));
        assert_eq!(
            resolve(attended(None, Some(1)), span, 480).unwrap(),
            (480, 1)
        );
    }

    #[test]
    fn ending_at_midnight_stays_one_day() {
        // 18:00 to 24:00 in UTC.
        let span = Span::of(t(10, 18, 0), t(11, 0, 0), "UTC");
        assert_eq!(span.days, 1);
    }

    #[test]
    fn days_must_lie_within_the_event() {
        let span = Span::of(t(10, 0, 0), t(10, 3, 0), "UTC");
        let e = resolve(attended(Some(60), Some(2)), span, 480).unwrap_err();
        assert_eq!(e[0].code, "outside_event");
        let e = resolve(attended(Some(60), Some(0)), span, 480).unwrap_err();
        assert_eq!(e[0].code, "outside_event");
    }

    #[test]
    fn minutes_must_be_positive_and_at_most_a_day_per_day() {
        let span = Span::of(t(10, 0, 0), t(11, 23, 0), "UTC");
        let e = resolve(attended(Some(0), None), span, 480).unwrap_err();
        assert_eq!(e[0].code, "not_positive");
        let e = resolve(attended(Some(1441), Some(1)), span, 480).unwrap_err();
        assert_eq!(e[0].code, "over_24h_per_day");
        assert!(resolve(attended(Some(2880), Some(2)), span, 480).is_ok());
    }

    #[test]
    fn a_no_show_records_nothing() {
        let span = Span::of(t(10, 0, 0), t(10, 3, 0), "UTC");
        let no_show = |minutes, days| Entry {
            status: AttendanceStatus::NoShow,
            minutes,
            days,
        };
        assert_eq!(resolve(no_show(None, None), span, 480).unwrap(), (0, 0));
        assert_eq!(
            resolve(no_show(Some(0), Some(0)), span, 480).unwrap(),
            (0, 0)
        );
        assert_eq!(
            resolve(no_show(Some(30), Some(1)), span, 480)
                .unwrap_err()
                .len(),
            2
        );
    }

    #[test]
    fn only_entries_within_the_event_length_are_auto_approvable() {
        let span = Span::of(t(10, 0, 0), t(10, 3, 0), "UTC");
        assert!(auto_approvable(AttendanceStatus::Attended, 180, span));
        assert!(!auto_approvable(AttendanceStatus::Attended, 181, span));
        assert!(auto_approvable(AttendanceStatus::NoShow, 0, span));
    }
}
