//! Time as the programme reads it: site-local dates and times, and the fiscal calendar (which
//! year a site-local date belongs to, and which dates a year covers).
//!
//! A leaf module: it imports nothing of the crate but the error type, so every layer may use it.
//!
//! A fiscal year is named after the calendar year it ends in: with the default April start,
//! "Fiscal 2012" runs from 1 April 2011 to 31 March 2012. Events count in the fiscal year of the
//! organising site's local start date, so an event at 23:30 on 31 March in Tokyo (14:30 UTC)
//! belongs to the year that ends that day, wherever the server runs.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};

/// The configured fiscal calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FiscalCalendar {
    /// 1 = January (fiscal years equal calendar years) ... 12 = December.
    start_month: u32,
}

/// Years a fiscal year may be named with: enough for any history, small enough that date
/// arithmetic cannot overflow.
pub const YEARS: std::ops::RangeInclusive<i32> = 1900..=2200;

impl FiscalCalendar {
    /// The default: fiscal years start on 1 April.
    pub const APRIL: FiscalCalendar = FiscalCalendar { start_month: 4 };

    /// `None` unless `start_month` is 1..=12.
    pub fn new(start_month: u32) -> Option<FiscalCalendar> {
        (1..=12)
            .contains(&start_month)
            .then_some(FiscalCalendar { start_month })
    }

    pub fn start_month(self) -> u32 {
        self.start_month
    }

    /// The fiscal year a local date falls in.
    pub fn year_of(self, date: NaiveDate) -> i32 {
        if self.start_month == 1 || date.month() < self.start_month {
            date.year()
        } else {
            date.year() + 1
        }
    }

    /// First and last local date of fiscal year `fy`; `None` outside [`YEARS`].
    pub fn dates(self, fy: i32) -> Option<(NaiveDate, NaiveDate)> {
        if !YEARS.contains(&fy) {
            return None;
        }
        let first = if self.start_month == 1 {
            NaiveDate::from_ymd_opt(fy, 1, 1)?
        } else {
            NaiveDate::from_ymd_opt(fy - 1, self.start_month, 1)?
        };
        let next = NaiveDate::from_ymd_opt(first.year() + 1, first.month(), 1)?;
        Some((first, next.pred_opt()?))
    }

    /// Whether fiscal year `fy` has ended by `today`.
    pub fn is_closed(self, fy: i32, today: NaiveDate) -> bool {
        self.dates(fy).is_some_and(|(_, last)| today > last)
    }
}

/// Whether an instant lies in the years tomoni accepts ([`YEARS`], 1900-2200): anything outside
/// is a typo or a probe, and would not survive every database's and calendar's arithmetic.
pub fn in_years(t: impl Into<DateTime<Utc>>) -> bool {
    YEARS.contains(&t.into().year())
}

/// The field error for an instant outside [`YEARS`].
pub fn years_error(field: &str) -> crate::error::FieldError {
    crate::error::FieldError::new(
        field,
        "out_of_range",
        format!(
            "a time between the years {} and {}",
            YEARS.start(),
            YEARS.end()
        ),
    )
}

/// A fiscal year given in a request, within [`YEARS`]; 400 `invalid_query` naming `name` else.
pub fn checked_year(name: &str, fy: i32) -> crate::error::AppResult<i32> {
    if YEARS.contains(&fy) {
        Ok(fy)
    } else {
        Err(crate::error::AppError::bad_request(
            "invalid_query",
            format!(
                "{name} must be a fiscal year between {} and {}, got {fy}",
                YEARS.start(),
                YEARS.end()
            ),
        ))
    }
}

/// A moment as a person or a spreadsheet writes it: RFC 3339 with an offset
/// (`2026-12-01T09:00:00+09:00`), or a local date-time without one (`2026-12-01T09:00`,
/// `2026-12-01 09:00:00`) read in the zone of the thing it belongs to (an event's zone, by
/// default its site's). Kept as text until that zone is known, so every bad field can be named.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, example = "2026-12-01T09:00")]
pub struct When(pub String);

impl From<DateTime<FixedOffset>> for When {
    fn from(t: DateTime<FixedOffset>) -> When {
        When(t.to_rfc3339())
    }
}

/// The local forms [`When`] accepts besides RFC 3339.
const LOCAL_FORMATS: [&str; 4] = [
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
];

impl When {
    /// The instant, or an error naming `field` that says what was expected.
    pub fn resolve(
        &self,
        field: &str,
        tz: &str,
    ) -> Result<DateTime<Utc>, crate::error::FieldError> {
        let text = self.0.trim();
        // chrono's `FromStr` reads RFC 3339 and years past 9999 (refused by the range checks).
        if let Ok(t) = text.parse::<DateTime<FixedOffset>>() {
            return Ok(t.with_timezone(&Utc));
        }
        let naive = LOCAL_FORMATS
            .iter()
            .find_map(|f| chrono::NaiveDateTime::parse_from_str(text, f).ok())
            .ok_or_else(|| {
                crate::error::FieldError::new(
                    field,
                    "invalid_time",
                    format!(
                        "a date-time such as 2026-12-01T09:00 (in {tz}) or \
                         2026-12-01T09:00:00+09:00, got {text:?}"
                    ),
                )
            })?;
        let zone: chrono_tz::Tz = tz.parse().map_err(|_| {
            crate::error::FieldError::new(
                field,
                "unknown_zone",
                "a local time needs a known time zone; give the offset instead",
            )
        })?;
        use chrono::TimeZone;
        zone.from_local_datetime(&naive)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| {
                crate::error::FieldError::new(
                    field,
                    "nonexistent_local_time",
                    format!("{text} does not exist in {tz} (the clocks skip it)"),
                )
            })
    }
}

/// A list filter's bound: an instant (RFC 3339), or a day (`YYYY-MM-DD`) meant as the
/// site-local date of what is filtered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    At(DateTime<Utc>),
    Day(NaiveDate),
}

impl Bound {
    /// Reads `text` for the query parameter `name`; a clear 400 otherwise.
    pub fn parse(name: &str, text: &str) -> crate::error::AppResult<Bound> {
        let text = text.trim();
        let bound = if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Bound::Day(day)
        } else if let Ok(t) = text.parse::<DateTime<FixedOffset>>() {
            Bound::At(t.with_timezone(&Utc))
        } else {
            return Err(crate::error::AppError::bad_request(
                "invalid_query",
                format!(
                    "{name} must be a date (2011-01-01, the site-local day) or a time with its \
                     offset (2011-01-01T09:00:00+09:00), got {text:?}"
                ),
            ));
        };
        let year = match bound {
            Bound::At(t) => t.year(),
            Bound::Day(d) => d.year(),
        };
        if !YEARS.contains(&year) {
            return Err(crate::error::AppError::bad_request(
                "invalid_query",
                format!("{name} must lie in the years 1900 to 2200"),
            ));
        }
        Ok(bound)
    }
}

/// The local date of an instant in an IANA zone (UTC if the zone is unknown, which validation
/// prevents).
pub fn local_date(t: impl Into<DateTime<Utc>>, tz: &str) -> NaiveDate {
    local(t, tz).date_naive()
}

/// An instant in an IANA zone, with the zone's offset at that instant (UTC if the zone is
/// unknown, which validation prevents).
pub fn local(t: impl Into<DateTime<Utc>>, tz: &str) -> DateTime<FixedOffset> {
    in_zone(t, zone(tz))
}

/// The IANA zone named `tz`, looked up once for several instants ([`in_zone`]).
pub fn zone(tz: &str) -> Option<chrono_tz::Tz> {
    tz.parse().ok()
}

/// [`local`] with the zone already looked up (`None`: UTC).
pub fn in_zone(t: impl Into<DateTime<Utc>>, zone: Option<chrono_tz::Tz>) -> DateTime<FixedOffset> {
    let t = t.into();
    match zone {
        Some(zone) => t.with_timezone(&zone).fixed_offset(),
        None => t.fixed_offset(),
    }
}

/// "2026-12-01 09:00–12:00 (Asia/Tokyo, +09:00)": a span in the site's local time, as the
/// volunteer reads it (emails, and the "before" of a change notice).
pub fn describe_span(
    starts_at: impl Into<DateTime<Utc>>,
    ends_at: impl Into<DateTime<Utc>>,
    tz: &str,
) -> String {
    let (s, t) = (local(starts_at, tz), local(ends_at, tz));
    let end = if s.date_naive() == t.date_naive() {
        t.format("%H:%M").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M").to_string()
    };
    format!(
        "{}–{end} ({tz}, {})",
        s.format("%Y-%m-%d %H:%M"),
        s.format("%:z")
    )
}

/// Writes an instant exactly as chrono's `Serialize` does (RFC 3339, `Z` for UTC, as many
/// fraction digits as the value needs), formatted into one string first. chrono's own goes
/// through `collect_str`, which hands JSON each digit group to escape separately: with six
/// instants per event, that was a tenth of the server's CPU time on the event list.
/// `#[serde(serialize_with = "crate::time::instant")]`.
pub fn instant<S, Tz>(t: &DateTime<Tz>, s: S) -> Result<S::Ok, S::Error>
where
    S: serde::Serializer,
    Tz: chrono::TimeZone,
{
    let mut buf = [0u8; 40];
    match rfc3339(t, &mut buf) {
        Some(text) => s.serialize_str(text),
        None => s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
    }
}

/// `t` as chrono's `to_rfc3339_opts(AutoSi, true)` writes it, into `buf` without allocating (an
/// event carries six instants, a page of the list 300); `None` for what only chrono writes
/// right: years outside 0–9999, a leap second, an offset with seconds.
fn rfc3339<'b, Tz: chrono::TimeZone>(t: &DateTime<Tz>, buf: &'b mut [u8; 40]) -> Option<&'b str> {
    use chrono::{Datelike, Offset, Timelike};
    let local = t.naive_local();
    let offset = t.offset().fix().local_minus_utc();
    let (year, nanos) = (local.year(), local.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 || offset % 60 != 0 {
        return None;
    }
    let mut out = Ascii { buf, len: 0 };
    out.digits(year.unsigned_abs(), 4);
    out.byte(b'-');
    out.digits(local.month(), 2);
    out.byte(b'-');
    out.digits(local.day(), 2);
    out.byte(b'T');
    out.digits(local.hour(), 2);
    out.byte(b':');
    out.digits(local.minute(), 2);
    out.byte(b':');
    out.digits(local.second(), 2);
    let fraction = match nanos {
        0 => None,
        f if f % 1_000_000 == 0 => Some((f / 1_000_000, 3)),
        f if f % 1_000 == 0 => Some((f / 1_000, 6)),
        f => Some((f, 9)),
    };
    if let Some((value, width)) = fraction {
        out.byte(b'.');
        out.digits(value, width);
    }
    if offset == 0 {
        out.byte(b'Z');
    } else {
        out.byte(if offset < 0 { b'-' } else { b'+' });
        let minutes = offset.unsigned_abs() / 60;
        out.digits(minutes / 60, 2);
        out.byte(b':');
        out.digits(minutes % 60, 2);
    }
    let Ascii { buf, len } = out;
    std::str::from_utf8(&buf[..len]).ok()
}

/// ASCII written into a fixed buffer (at most 35 bytes are: [`rfc3339`]).
struct Ascii<'b> {
    buf: &'b mut [u8; 40],
    len: usize,
}

impl Ascii<'_> {
    fn byte(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    /// `value`'s last `width` decimal digits, zero-padded.
    fn digits(&mut self, mut value: u32, width: usize) {
        for i in (0..width).rev() {
            self.buf[self.len + i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
        self.len += width;
    }
}

/// [`instant`] for an optional instant (`null` when absent).
pub fn optional_instant<S, Tz>(t: &Option<DateTime<Tz>>, s: S) -> Result<S::Ok, S::Error>
where
    S: serde::Serializer,
    Tz: chrono::TimeZone,
{
    match t {
        Some(t) => instant(t, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::When;

    #[test]
    fn an_instant_is_written_as_chrono_writes_it() {
        fn ours<Tz: chrono::TimeZone>(t: Option<chrono::DateTime<Tz>>) -> String {
            let mut out = Vec::new();
            let mut json = serde_json::Serializer::new(&mut out);
            match &t {
                Some(t) => super::instant(t, &mut json).unwrap(),
                None => super::optional_instant(&t, &mut json).unwrap(),
            }
            String::from_utf8(out).unwrap()
        }
        assert_eq!(ours::<chrono::Utc>(None), "null");
        for text in [
            "2026-12-01T00:00:00Z",
            "2026-12-01T09:30:00+09:00",
            "2026-12-01T09:30:00.5-03:30",
            "1999-01-31T23:59:59.123456+00:00",
            "2026-06-30T12:00:00.000001+14:00",
            "1900-01-01T00:00:00.000000001-12:00",
            "2200-12-31T23:59:59.999999999+05:45",
            "2026-03-09T07:05:03.120+00:00",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.010203-00:30",
            "2016-12-31T23:59:60.5Z",
        ] {
            let t = chrono::DateTime::parse_from_rfc3339(text).unwrap();
            assert_eq!(ours(Some(t)), serde_json::to_string(&t).unwrap());
            // Written without chrono, but for the leap second.
            let own = super::rfc3339(&t, &mut [0; 40]).is_some();
            assert_eq!(own, !text.contains(":60"), "{text}");
            let utc = t.with_timezone(&chrono::Utc);
            assert_eq!(ours(Some(utc)), serde_json::to_string(&utc).unwrap());
        }
    }

    #[test]
    fn a_local_time_is_read_in_the_zone_and_an_offset_is_kept() {
        let at = |s: &str, tz: &str| When(s.into()).resolve("starts_at", tz);
        let nine_tokyo = "2026-12-01T00:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap();
        assert_eq!(at("2026-12-01T09:00", "Asia/Tokyo").unwrap(), nine_tokyo);
        assert_eq!(at("2026-12-01 09:00:00", "Asia/Tokyo").unwrap(), nine_tokyo);
        assert_eq!(
            at("2026-12-01T09:00:00+09:00", "Europe/Paris").unwrap(),
            nine_tokyo
        );
        let bad = at("1 Dec 9am", "Asia/Tokyo").unwrap_err();
        assert_eq!(
            (bad.field.as_str(), &*bad.code),
            ("starts_at", "invalid_time")
        );
        assert!(bad.message.contains("2026-12-01T09:00"), "{}", bad.message);
        // 02:30 on the last Sunday of March does not happen in Paris.
        let gap = at("2026-03-29T02:30", "Europe/Paris").unwrap_err();
        assert_eq!(gap.code, "nonexistent_local_time");
    }

    #[test]
    fn a_filter_bound_is_a_day_or_an_instant() {
        use super::Bound;
        assert_eq!(
            Bound::parse("from", "2011-01-01").unwrap(),
            Bound::Day(chrono::NaiveDate::from_ymd_opt(2011, 1, 1).unwrap())
        );
        assert!(matches!(
            Bound::parse("from", "2011-01-01T09:00:00+09:00").unwrap(),
            Bound::At(_)
        ));
        let e = Bound::parse("from", "2011-01").unwrap_err();
        assert!(e.to_problem().detail.contains("2011-01-01"), "{e:?}");
        assert!(Bound::parse("to", "10000-01-01").is_err());
    }
    use super::*;
    use chrono::TimeZone;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn april_years_are_named_after_the_year_they_end_in() {
        let fc = FiscalCalendar::new(4).unwrap();
        assert_eq!(fc.year_of(d(2011, 4, 1)), 2012);
        assert_eq!(fc.year_of(d(2012, 3, 31)), 2012);
        assert_eq!(fc.year_of(d(2012, 4, 1)), 2013);
        assert_eq!(fc.year_of(d(2011, 3, 31)), 2011);
        assert_eq!(fc.dates(2012), Some((d(2011, 4, 1), d(2012, 3, 31))));
    }

    #[test]
    fn january_years_are_calendar_years() {
        let fc = FiscalCalendar::new(1).unwrap();
        assert_eq!(fc.year_of(d(2012, 1, 1)), 2012);
        assert_eq!(fc.year_of(d(2012, 12, 31)), 2012);
        assert_eq!(fc.dates(2012), Some((d(2012, 1, 1), d(2012, 12, 31))));
    }

    #[test]
    fn leap_days_and_december_starts() {
        let fc = FiscalCalendar::new(3).unwrap();
        assert_eq!(fc.dates(2024), Some((d(2023, 3, 1), d(2024, 2, 29))));
        let dec = FiscalCalendar::new(12).unwrap();
        assert_eq!(dec.dates(2012), Some((d(2011, 12, 1), d(2012, 11, 30))));
        assert_eq!(dec.year_of(d(2011, 12, 1)), 2012);
        assert_eq!(dec.year_of(d(2011, 11, 30)), 2011);
    }

    #[test]
    fn every_date_lies_in_the_year_it_is_assigned_to() {
        for start in 1..=12 {
            let fc = FiscalCalendar::new(start).unwrap();
            let mut day = d(2010, 1, 1);
            while day < d(2014, 1, 1) {
                let (first, last) = fc.dates(fc.year_of(day)).unwrap();
                assert!(first <= day && day <= last, "{start} {day}");
                day = day.succ_opt().unwrap();
            }
        }
    }

    #[test]
    fn invalid_months_and_years_are_refused() {
        assert!(FiscalCalendar::new(0).is_none());
        assert!(FiscalCalendar::new(13).is_none());
        assert!(FiscalCalendar::new(4).unwrap().dates(99_999).is_none());
    }

    #[test]
    fn the_site_local_date_decides_at_the_boundary() {
        let fc = FiscalCalendar::new(4).unwrap();
        // 31 March 23:30 in Tokyo is 14:30 UTC the same day: still fiscal 2012.
        let t = Utc.with_ymd_and_hms(2012, 3, 31, 14, 30, 0).unwrap();
        assert_eq!(local_date(t, "Asia/Tokyo"), d(2012, 3, 31));
        assert_eq!(fc.year_of(local_date(t, "Asia/Tokyo")), 2012);
        // 15:30 UTC is 00:30 on 1 April in Tokyo: fiscal 2013, though still 31 March in UTC.
        let t = Utc.with_ymd_and_hms(2012, 3, 31, 15, 30, 0).unwrap();
        assert_eq!(fc.year_of(local_date(t, "Asia/Tokyo")), 2013);
        assert_eq!(fc.year_of(local_date(t, "UTC")), 2012);
        // West of UTC: 1 April 02:00 UTC is still 31 March in New York.
        let t = Utc.with_ymd_and_hms(2012, 4, 1, 2, 0, 0).unwrap();
        assert_eq!(fc.year_of(local_date(t, "America/New_York")), 2012);
    }

    #[test]
    fn closed_years() {
        let fc = FiscalCalendar::new(4).unwrap();
        assert!(fc.is_closed(2012, d(2012, 4, 1)));
        assert!(!fc.is_closed(2012, d(2012, 3, 31)));
    }
}
