//! Participation history import, version 1: `site_code,program_code,program_title,theme,
//! categories,event_date,employee_number,hours`; version 2 adds `days,end_date` so a multi-day
//! trip is one event (a version 1 file stays valid). Every row is validated before anything is
//! written; one bad row rejects the file with a report of every bad row. Otherwise the
//! programmes (by site and code) and events (by programme and site-local start date) that do not
//! exist yet are created, and every row lands as approved attendance, all in one transaction,
//! with the statistics of the years it touches recomputed in the same transaction.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{Duration, NaiveDate, NaiveTime, TimeZone};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::attendance::rules::{MINUTES_PER_DAY, Span};
use crate::db::schema::{
    attendance, categories, events, program_categories, programs, sites, users,
};
use crate::db::{AnyConnection, Id, Timestamp, per_backend, write_transaction};
use crate::error::{AppResult, FieldError};
use crate::org::import::{read_csv_versions, rejected};
use crate::programs::events::MAX_EVENT_DAYS;
use crate::stats::rollup;

/// Version 1's columns.
pub const HEADER: [&str; 8] = [
    "site_code",
    "program_code",
    "program_title",
    "theme",
    "categories",
    "event_date",
    "employee_number",
    "hours",
];

/// Version 2: version 1 and `days` (person-days, empty = 1), `end_date` (site-local, empty = the
/// event date).
pub const HEADER_V2: [&str; 10] = [
    "site_code",
    "program_code",
    "program_title",
    "theme",
    "categories",
    "event_date",
    "employee_number",
    "hours",
    "days",
    "end_date",
];

/// What an import did (or, with `dry_run`, would do).
#[derive(Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct ParticipationReport {
    pub rows: usize,
    pub programs_created: usize,
    pub events_created: usize,
    pub records_created: usize,
    pub dry_run: bool,
}

/// A programme as the file names it (its first row's title, theme and categories). Rows refer to
/// it by index, so its text is held once rather than once per row: 200,000 rows name a few
/// thousand programmes, and the per-row strings were most of the import's memory.
struct FileProgram {
    site: Id,
    code: String,
    title: String,
    theme: String,
    categories: Vec<String>,
}

struct Row {
    line: u64,
    /// Index into the file's programmes.
    program: usize,
    date: NaiveDate,
    /// The event's last local day (`date` for a one-day event).
    end: NaiveDate,
    user: Id,
    minutes: i32,
    days: i32,
}

/// Rows per multi-row INSERT.
const BATCH: usize = 1000;

/// Hours as minutes: more than 0, at most 24 for each person-day.
fn parse_hours(text: &str, days: i32) -> Result<i32, FieldError> {
    let hours: f64 = text
        .parse()
        .ok()
        .filter(|h: &f64| h.is_finite())
        .ok_or_else(|| FieldError::new("hours", "invalid_number", "a decimal number, e.g. 2.5"))?;
    let most = f64::from(MINUTES_PER_DAY / 60 * days.max(1));
    if hours <= 0.0 || hours > most {
        return Err(FieldError::new(
            "hours",
            "out_of_range",
            format!("more than 0 and at most {most} (24 for each of {days} day(s))"),
        ));
    }
    Ok((hours * 60.0).round() as i32)
}

/// Person-days: empty means 1.
fn parse_days(text: &str) -> Result<i32, FieldError> {
    if text.is_empty() {
        return Ok(1);
    }
    text.parse::<i32>()
        .ok()
        .filter(|d| (1..=MAX_EVENT_DAYS as i32 + 1).contains(d))
        .ok_or_else(|| {
            FieldError::new(
                "days",
                "invalid_days",
                "a whole number of days from 1, at most the days the event spans",
            )
        })
}

/// The last day of the event: empty means the event date; at most the longest an event lasts.
fn parse_end(text: &str, start: Option<NaiveDate>) -> Result<Option<NaiveDate>, FieldError> {
    if text.is_empty() {
        return Ok(start);
    }
    let end = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| FieldError::new("end_date", "invalid_date", "a date as YYYY-MM-DD"))?;
    match start {
        Some(start) if end < start => Err(FieldError::new(
            "end_date",
            "before_start",
            "on or after event_date",
        )),
        Some(start) if (end - start).num_days() >= MAX_EVENT_DAYS => Err(FieldError::new(
            "end_date",
            "too_long",
            format!("an event lasts at most {MAX_EVENT_DAYS} days"),
        )),
        _ => Ok(Some(end)),
    }
}

/// Validates the whole file, then (unless `dry_run`) writes it in one transaction.
pub fn import(
    conn: &mut AnyConnection,
    caller: &crate::auth::Caller,
    bytes: &[u8],
    dry_run: bool,
    request_id: Option<String>,
    progress: impl FnMut(u64, u64),
) -> AppResult<ParticipationReport> {
    super::require_hr(caller)?;
    let report = import_rows(conn, bytes, dry_run, caller, progress)?;
    if !dry_run {
        crate::audit::record(
            conn,
            crate::audit::Entry {
                actor: Some(caller.id),
                action: "import.participations",
                entity_type: "import",
                entity_id: None,
                details: serde_json::json!({"rows": report.rows,
                    "programs_created": report.programs_created,
                    "events_created": report.events_created}),
                request_id,
            },
        )?;
    }
    Ok(report)
}

fn import_rows(
    conn: &mut AnyConnection,
    bytes: &[u8],
    dry_run: bool,
    caller: &crate::auth::Caller,
    mut progress: impl FnMut(u64, u64),
) -> AppResult<ParticipationReport> {
    let by = caller.id;
    let (_, (records, mut errors)) =
        read_csv_versions(bytes, &[&HEADER, &HEADER_V2]).map_err(rejected)?;
    let site_map: HashMap<String, (Id, String)> = sites::table
        .select((sites::code, sites::id, sites::timezone))
        .load::<(String, Id, String)>(conn)?
        .into_iter()
        .map(|(code, id, tz)| (code, (id, tz)))
        .collect();
    let people: HashMap<String, Id> = users::table
        .select((users::employee_number, users::id))
        .load(conn)?
        .into_iter()
        .collect();
    let known_categories: HashSet<String> = categories::table
        .select(categories::code)
        .load::<String>(conn)?
        .into_iter()
        .collect();

    let mut rows = Vec::with_capacity(records.len());
    let mut file_programs: Vec<FileProgram> = Vec::new();
    let mut program_index: HashMap<Id, HashMap<String, usize>> = HashMap::new();
    let mut seen: HashMap<(usize, NaiveDate, Id), u64> = HashMap::new();
    // The end date each (programme, date) event was first given, and on which line.
    let mut ends: HashMap<(usize, NaiveDate), (NaiveDate, u64)> = HashMap::new();
    for (line, r) in &records {
        let line = *line;
        let get = |i: usize| r.get(i).unwrap_or_default().trim();
        let mut e = Vec::new();
        let site = site_map.get(get(0)).map(|(id, _)| *id);
        if site.is_none() {
            e.push(FieldError::new(
                "site_code",
                "unknown_site",
                "no site with this code",
            ));
        }
        let code = get(1);
        if !(1..=64).contains(&code.chars().count()) {
            e.push(FieldError::new(
                "program_code",
                "invalid_length",
                "1 to 64 characters",
            ));
        }
        let title = get(2);
        if !(1..=200).contains(&title.chars().count()) {
            e.push(FieldError::new(
                "program_title",
                "invalid_length",
                "1 to 200 characters",
            ));
        }
        let theme = get(3);
        if !["nature", "education", "community"].contains(&theme) {
            e.push(FieldError::new(
                "theme",
                "invalid_value",
                "nature, education or community",
            ));
        }
        let cats = || get(4).split(';').map(str::trim).filter(|c| !c.is_empty());
        if let Some(bad) = cats().find(|c| !known_categories.contains(*c)) {
            e.push(FieldError::new(
                "categories",
                "unknown_category",
                format!("no category {bad:?}"),
            ));
        }
        let date = NaiveDate::parse_from_str(get(5), "%Y-%m-%d").ok();
        if date.is_none() {
            e.push(FieldError::new(
                "event_date",
                "invalid_date",
                "a date as YYYY-MM-DD",
            ));
        }
        let user = people.get(get(6)).copied();
        if user.is_none() {
            e.push(FieldError::new(
                "employee_number",
                "unknown_employee",
                "no employee with this number",
            ));
        }
        let end = parse_end(get(9), date)
            .map_err(|err| e.push(err))
            .ok()
            .flatten();
        let days = parse_days(get(8)).map_err(|err| e.push(err)).ok();
        if let (Some(date), Some(end), Some(days)) = (date, end, days) {
            let spans = (end - date).num_days() as i32 + 1;
            if days > spans {
                e.push(FieldError::new(
                    "days",
                    "outside_event",
                    format!("at most {spans}, the days from event_date to end_date"),
                ));
            }
        }
        let minutes = parse_hours(get(7), days.unwrap_or(1))
            .map_err(|err| e.push(err))
            .ok();
        if let (Some(site), Some(date), Some(end), Some(user), Some(minutes), Some(days)) =
            (site, date, end, user, minutes, days)
        {
            let codes = program_index.entry(site).or_default();
            let program = match codes.get(code) {
                Some(i) => *i,
                None => {
                    file_programs.push(FileProgram {
                        site,
                        code: code.to_owned(),
                        title: title.to_owned(),
                        theme: theme.to_owned(),
                        categories: cats().map(str::to_owned).collect(),
                    });
                    codes.insert(code.to_owned(), file_programs.len() - 1);
                    file_programs.len() - 1
                }
            };
            if let Some(first) = seen.insert((program, date, user), line) {
                e.push(FieldError::new(
                    "row",
                    "duplicate",
                    format!("the same employee, programme and date as line {first}"),
                ));
            }
            match ends.get(&(program, date)) {
                Some((other, first)) if *other != end => e.push(FieldError::new(
                    "end_date",
                    "different_end",
                    format!("line {first} gives this programme's event of that date the end date {other}"),
                )),
                Some(_) => {}
                None => {
                    ends.insert((program, date), (end, line));
                }
            }
            rows.push(Row {
                line,
                program,
                date,
                end,
                user,
                minutes,
                days,
            });
        }
        errors.extend(e.into_iter().map(|err| err.at_line(line)));
    }
    if !errors.is_empty() {
        return Err(rejected(errors));
    }
    // The parsed rows carry everything from here on; the raw records can go.
    drop(records);
    drop(seen);
    drop(ends);
    drop(program_index);

    write_transaction(conn, |conn| {
        // Programmes and events that already exist.
        let program_map: HashMap<(Id, String), Id> = programs::table
            .select((programs::site_id, programs::code, programs::id))
            .load::<(Id, String, Id)>(conn)?
            .into_iter()
            .map(|(s, c, id)| ((s, c), id))
            .collect();
        // The id of each of the file's programmes: the existing one, or a new one (created below).
        let existing: Vec<Option<Id>> = file_programs
            .iter()
            .map(|p| program_map.get(&(p.site, p.code.clone())).copied())
            .collect();
        let involved: Vec<Id> = existing
            .iter()
            .flatten()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut event_map: HashMap<(Id, NaiveDate), Id> = HashMap::new();
        // The local days each existing event spans: a row may not record more.
        let mut span_days: HashMap<Id, i32> = HashMap::new();
        for chunk in involved.chunks(5000) {
            type Found = (Id, Option<NaiveDate>, Id, Timestamp, Timestamp, String);
            let found: Vec<Found> = events::table
                .filter(events::program_id.eq_any(chunk))
                .filter(events::status.ne("cancelled"))
                .select((
                    events::program_id,
                    events::starts_on,
                    events::id,
                    events::starts_at,
                    events::ends_at,
                    events::timezone,
                ))
                .order(events::id)
                .load(conn)?;
            for (p, on, id, starts, ends, tz) in found {
                if let Some(on) = on {
                    event_map.entry((p, on)).or_insert(id);
                    span_days.insert(id, Span::of(starts, ends, &tz).days);
                }
            }
        }
        let existing_events: Vec<Id> = event_map.values().copied().collect();
        let mut recorded: HashSet<(Id, Id)> = HashSet::new();
        for chunk in existing_events.chunks(5000) {
            recorded.extend(
                attendance::table
                    .filter(attendance::event_id.eq_any(chunk))
                    .select((attendance::event_id, attendance::user_id))
                    .load::<(Id, Id)>(conn)?,
            );
        }
        let mut conflicts = Vec::new();
        for r in &rows {
            let Some(e) = existing[r.program].and_then(|p| event_map.get(&(p, r.date))) else {
                continue;
            };
            if recorded.contains(&(*e, r.user)) {
                conflicts.push(
                    FieldError::new(
                        "row",
                        "already_recorded",
                        "the employee already has attendance at this programme's event that day",
                    )
                    .at_line(r.line),
                );
            }
            let spans = span_days.get(e).copied().unwrap_or(1);
            if r.days > spans {
                conflicts.push(
                    FieldError::new(
                        "days",
                        "outside_event",
                        format!("the programme's existing event of that date spans {spans} day(s)"),
                    )
                    .at_line(r.line),
                );
            }
        }
        if !conflicts.is_empty() {
            return Err(rejected(conflicts));
        }

        let now = Timestamp::now();
        let tz_of: HashMap<Id, &str> = site_map
            .values()
            .map(|(id, tz)| (*id, tz.as_str()))
            .collect();
        let mut new_programs = Vec::new();
        let mut new_categories = Vec::new();
        let program_ids: Vec<Id> = file_programs
            .iter()
            .zip(&existing)
            .map(|(p, found)| {
                if let Some(id) = found {
                    return *id;
                }
                let id = Id::new();
                new_programs.push((
                    programs::id.eq(id),
                    programs::site_id.eq(p.site),
                    programs::code.eq(p.code.clone()),
                    programs::title.eq(p.title.clone()),
                    programs::description.eq(""),
                    programs::theme.eq(p.theme.clone()),
                    programs::status.eq("active"),
                    programs::created_at.eq(now),
                    programs::updated_at.eq(now),
                ));
                for c in &p.categories {
                    new_categories.push((
                        program_categories::program_id.eq(id),
                        program_categories::category.eq(c.clone()),
                    ));
                }
                id
            })
            .collect();
        // One event per (programme, date), marked completed: from 09:00 local on its first
        // day to 17:00 on its last, or for one day as long as its longest record (at least
        // the working day).
        let mut longest: HashMap<(usize, NaiveDate), (i32, NaiveDate)> = HashMap::new();
        for r in &rows {
            if !event_map.contains_key(&(program_ids[r.program], r.date)) {
                let m = longest.entry((r.program, r.date)).or_insert((0, r.end));
                m.0 = m.0.max(r.minutes);
            }
        }
        let mut keys: Vec<_> = longest.into_iter().collect();
        keys.sort();
        let report = ParticipationReport {
            rows: rows.len(),
            programs_created: new_programs.len(),
            events_created: keys.len(),
            records_created: rows.len(),
            dry_run,
        };
        // Records of a closed year restate it: the dry run says so before anything is written.
        let fiscal = rollup::calendar(conn)?;
        let years: BTreeSet<i32> = rows.iter().map(|r| fiscal.year_of(r.date)).collect();
        crate::stats::closing::require_reason(conn, caller, &years)?;
        if dry_run {
            return Ok(report);
        }
        for chunk in new_programs.chunks(BATCH) {
            per_backend!(&mut *conn, |c| diesel::insert_into(programs::table)
                .values(chunk)
                .execute(c))?;
        }
        for chunk in new_categories.chunks(BATCH) {
            per_backend!(&mut *conn, |c| diesel::insert_into(
                program_categories::table
            )
            .values(chunk)
            .execute(c))?;
        }
        // Built and written a batch at a time: a file of one-day events makes one per row.
        for chunk in keys.chunks(BATCH) {
            let mut new_events = Vec::with_capacity(chunk.len());
            for &((index, date), (minutes, end)) in chunk {
                let (p, program) = (program_ids[index], &file_programs[index]);
                let tz = tz_of.get(&program.site).copied().unwrap_or("UTC");
                let zone: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::UTC);
                let at = |day: NaiveDate, hour: u32| {
                    let local =
                        day.and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or(NaiveTime::MIN));
                    zone.from_local_datetime(&local)
                        .earliest()
                        .map(|t| t.with_timezone(&chrono::Utc))
                        .unwrap_or_else(|| chrono::Utc.from_utc_datetime(&local))
                };
                let starts = at(date, 9);
                // A multi-day event keeps its calendar days (what the days of its records are
                // checked against); a one-day event is as long as its longest record.
                let length = if end > date {
                    at(end, 17) - starts
                } else {
                    Duration::minutes(i64::from(minutes.max(8 * 60)))
                };
                let id = Id::new();
                event_map.insert((p, date), id);
                new_events.push((
                    events::id.eq(id),
                    events::program_id.eq(p),
                    events::title.eq(program.title.clone()),
                    events::description.eq(""),
                    events::starts_at.eq(Timestamp::from(starts)),
                    events::ends_at.eq(Timestamp::from(starts + length)),
                    events::timezone.eq(tz.to_owned()),
                    events::location.eq(""),
                    events::waitlist_enabled.eq(false),
                    events::status.eq("completed"),
                    events::created_by.eq(Some(by)),
                    events::created_at.eq(now),
                    events::updated_at.eq(now),
                    events::starts_on.eq(Some(date)),
                ));
            }
            per_backend!(&mut *conn, |c| diesel::insert_into(events::table)
                .values(&new_events)
                .execute(c))?;
        }
        let total = rows.len() as u64;
        for (n, chunk) in rows.chunks(BATCH).enumerate() {
            let values: Vec<_> = chunk
                .iter()
                .map(|r| {
                    (
                        attendance::id.eq(Id::new()),
                        attendance::event_id.eq(event_map[&(program_ids[r.program], r.date)]),
                        attendance::user_id.eq(r.user),
                        attendance::status.eq("attended"),
                        attendance::minutes.eq(r.minutes),
                        attendance::days.eq(r.days),
                        attendance::source.eq("import"),
                        attendance::approval.eq("approved"),
                        attendance::approved_by.eq(Some(by)),
                        attendance::approved_at.eq(Some(now)),
                        attendance::recorded_by.eq(Some(by)),
                        attendance::created_at.eq(now),
                        attendance::updated_at.eq(now),
                    )
                })
                .collect();
            per_backend!(&mut *conn, |c| diesel::insert_into(attendance::table)
                .values(&values)
                .execute(c))?;
            progress(((n + 1) * BATCH).min(rows.len()) as u64, total);
        }
        rollup::rebuild_years(conn, &years.iter().copied().collect::<Vec<_>>())?;
        crate::stats::closing::guard(conn, caller, &years)?;
        Ok(report)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_are_positive_decimals_up_to_a_day_per_person_day() {
        assert_eq!(parse_hours("2.5", 1).unwrap(), 150);
        assert_eq!(parse_hours("24", 1).unwrap(), 1440);
        assert_eq!(parse_hours("0", 1).unwrap_err().code, "out_of_range");
        assert_eq!(parse_hours("25", 1).unwrap_err().code, "out_of_range");
        assert_eq!(parse_hours("72", 3).unwrap(), 72 * 60);
        assert_eq!(parse_hours("72.5", 3).unwrap_err().code, "out_of_range");
        assert_eq!(parse_hours("two", 1).unwrap_err().code, "invalid_number");
        assert_eq!(parse_hours("NaN", 1).unwrap_err().code, "invalid_number");
    }

    #[test]
    fn days_and_end_dates_default_to_a_one_day_event() {
        let start = NaiveDate::from_ymd_opt(2011, 12, 1);
        assert_eq!(parse_days("").unwrap(), 1);
        assert_eq!(parse_days("3").unwrap(), 3);
        assert_eq!(parse_days("0").unwrap_err().code, "invalid_days");
        assert_eq!(parse_days("1.5").unwrap_err().code, "invalid_days");
        assert_eq!(parse_end("", start).unwrap(), start);
        assert_eq!(
            parse_end("2011-12-03", start).unwrap(),
            NaiveDate::from_ymd_opt(2011, 12, 3)
        );
        assert_eq!(
            parse_end("2011-11-30", start).unwrap_err().code,
            "before_start"
        );
        assert_eq!(parse_end("2012-01-31", start).unwrap_err().code, "too_long");
        assert_eq!(parse_end("3 Dec", start).unwrap_err().code, "invalid_date");
    }
}
