//! iCalendar (RFC 5545) for events: one event's `.ics`, and each employee's personal feed of
//! confirmed sign-ups behind a secret, rotatable URL (calendar apps cannot send bearer tokens).
//!
//! Times carry `TZID` with a `VTIMEZONE` for zones with one offset all year (Asia/Tokyo, ...).
//! For zones with daylight saving the times are written in UTC instead: a correct VTIMEZONE
//! needs the zone's transition rules, which the bundled tz data does not expose; UTC is exact
//! and every client shows it in the reader's own zone.

use chrono::{DateTime, Datelike, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// What a calendar entry needs.
pub struct IcsEvent {
    pub id: String,
    pub title: String,
    pub description: String,
    pub location: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub timezone: String,
    pub cancelled: bool,
    pub updated_at: DateTime<Utc>,
}

/// The offset (seconds east of UTC) if `tz` keeps one offset all through `year`.
fn fixed_offset(tz: Tz, year: i32) -> Option<i32> {
    let at = |m| {
        NaiveDate::from_ymd_opt(year, m, 1)
            .and_then(|d| d.and_hms_opt(12, 0, 0))
            .map(|n| tz.offset_from_utc_datetime(&n).fix().local_minus_utc())
    };
    let (jan, jul) = (at(1)?, at(7)?);
    (jan == jul).then_some(jan)
}

fn offset_text(secs: i32) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let secs = secs.abs();
    format!("{sign}{:02}{:02}", secs / 3600, (secs % 3600) / 60)
}

/// RFC 5545 TEXT escaping.
fn text(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace("\r\n", "\\n")
        .replace(['\n', '\r'], "\\n")
}

/// Folds a content line at 75 octets (never inside a UTF-8 character) and ends it with CRLF.
fn push_line(out: &mut String, line: &str) {
    let mut width = 0;
    for ch in line.chars() {
        let len = ch.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(ch);
        width += len;
    }
    out.push_str("\r\n");
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// A complete calendar with the given events.
pub fn calendar(name: &str, events: &[IcsEvent]) -> String {
    let mut out = String::new();
    let mut line = |l: &str| push_line(&mut out, l);
    line("BEGIN:VCALENDAR");
    line("VERSION:2.0");
    line("PRODID:-//tomoni//volunteering//EN");
    line("CALSCALE:GREGORIAN");
    line("METHOD:PUBLISH");
    line(&format!("X-WR-CALNAME:{}", text(name)));
    // One VTIMEZONE per fixed-offset zone used.
    let mut zones: Vec<(String, i32)> = Vec::new();
    for e in events {
        if let Ok(tz) = e.timezone.parse::<Tz>()
            && let Some(offset) = fixed_offset(tz, e.starts_at.year())
            && !zones.iter().any(|(z, _)| *z == e.timezone)
        {
            zones.push((e.timezone.clone(), offset));
        }
    }
    for (zone, offset) in &zones {
        line("BEGIN:VTIMEZONE");
        line(&format!("TZID:{zone}"));
        line("BEGIN:STANDARD");
        line("DTSTART:19700101T000000");
        line(&format!("TZOFFSETFROM:{}", offset_text(*offset)));
        line(&format!("TZOFFSETTO:{}", offset_text(*offset)));
        line("END:STANDARD");
        line("END:VTIMEZONE");
    }
    for e in events {
        let zoned = zones
            .iter()
            .find(|(z, _)| *z == e.timezone)
            .and_then(|(z, _)| z.parse::<Tz>().ok());
        let when = |t: DateTime<Utc>| match zoned {
            Some(tz) => format!(
                ";TZID={}:{}",
                e.timezone,
                t.with_timezone(&tz).format("%Y%m%dT%H%M%S")
            ),
            None => format!(":{}", utc(t)),
        };
        line("BEGIN:VEVENT");
        line(&format!("UID:{}@tomoni", e.id));
        line(&format!("DTSTAMP:{}", utc(e.updated_at)));
        line(&format!("LAST-MODIFIED:{}", utc(e.updated_at)));
        line(&format!("DTSTART{}", when(e.starts_at)));
        line(&format!("DTEND{}", when(e.ends_at)));
        line(&format!("SUMMARY:{}", text(&e.title)));
        if !e.location.is_empty() {
            line(&format!("LOCATION:{}", text(&e.location)));
        }
        if !e.description.is_empty() {
            line(&format!("DESCRIPTION:{}", text(&e.description)));
        }
        line(if e.cancelled {
            "STATUS:CANCELLED"
        } else {
            "STATUS:CONFIRMED"
        });
        line("END:VEVENT");
    }
    line("END:VCALENDAR");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(tz: &str, title: &str) -> IcsEvent {
        IcsEvent {
            id: "0192-abc".into(),
            title: title.into(),
            description: "Bring gloves; water, too.\nMeet at 9".into(),
            location: "Shonan beach".into(),
            starts_at: Utc.with_ymd_and_hms(2030, 3, 31, 14, 30, 0).unwrap(),
            ends_at: Utc.with_ymd_and_hms(2030, 3, 31, 18, 0, 0).unwrap(),
            timezone: tz.into(),
            cancelled: false,
            updated_at: Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap(),
        }
    }

    #[test]
    fn fixed_offset_zones_get_tzid_and_a_vtimezone() {
        let ics = calendar("My events", &[event("Asia/Tokyo", "Beach clean-up")]);
        assert!(
            ics.contains("BEGIN:VTIMEZONE\r\nTZID:Asia/Tokyo\r\n"),
            "{ics}"
        );
        assert!(ics.contains("TZOFFSETTO:+0900\r\n"));
        assert!(
            ics.contains("DTSTART;TZID=Asia/Tokyo:20300331T233000\r\n"),
            "{ics}"
        );
        assert!(ics.contains("UID:0192-abc@tomoni\r\n"));
        assert!(
            ics.contains("DESCRIPTION:Bring gloves\\; water\\, too.\\nMeet at 9\r\n"),
            "{ics}"
        );
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
    }

    #[test]
    fn daylight_saving_zones_use_utc() {
        let ics = calendar("x", &[event("Europe/London", "Park")]);
        assert!(!ics.contains("VTIMEZONE"));
        assert!(ics.contains("DTSTART:20300331T143000Z\r\n"), "{ics}");
    }

    #[test]
    fn long_lines_fold_without_splitting_characters() {
        let title = "ボランティア".repeat(10);
        let ics = calendar("x", &[event("Asia/Tokyo", &title)]);
        for line in ics.split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line}", line.len());
        }
        let unfolded = ics.replace("\r\n ", "");
        assert!(unfolded.contains(&format!("SUMMARY:{title}")));
    }
}
