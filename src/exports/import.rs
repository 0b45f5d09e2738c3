//! Participation history import, version 1: `site_code,program_code,program_title,theme,
//! categories,event_date,employee_number,hours`; version 2 adds `days,end_date` so a multi-day
//! trip is one event (a version 1 file stays valid). Every row is validated before anything is
//! written; one bad row rejects the file with a report of every bad row. Otherwise the
//! programmes (by site and code) and events (by programme and site-local start date) that do not
//! exist yet are created, and every row lands as approved attendance, all in one transaction,
//! with the statistics of the years it touches recomputed in the same transaction.
//!
//! The file is read twice rather than held: the first reading checks every cell and keeps 24
//! bytes a row for the whole-file checks (the same employee twice at one event, one event with
//! two end dates), sorted rather than hashed so a million rows stay a few tens of MiB; the
//! second, inside the transaction, writes the records a batch at a time.

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
use crate::error::{AppError, AppResult, FieldError};
use crate::org::import::{each_csv_record, rejected};
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

/// Where an import's file is read from. It is read twice — validated whole, then written — so
/// a file of any length is never held in memory (a million rows fit in well under 128 MiB).
pub trait Source {
    fn open(&self) -> std::io::Result<Box<dyn std::io::Read + '_>>;
}

/// An uploaded file, already in memory (bounded by `server.upload_limit_bytes`).
impl Source for &[u8] {
    fn open(&self) -> std::io::Result<Box<dyn std::io::Read + '_>> {
        Ok(Box::new(*self))
    }
}

/// A file on disk (`tomoni import participations FILE`).
pub struct FileSource(pub std::path::PathBuf);

impl Source for FileSource {
    fn open(&self) -> std::io::Result<Box<dyn std::io::Read + '_>> {
        Ok(Box::new(std::io::BufReader::with_capacity(
            1 << 16,
            std::fs::File::open(&self.0)?,
        )))
    }
}

/// Validates the whole file, then (unless `dry_run`) writes it in one transaction.
pub fn import(
    conn: &mut AnyConnection,
    caller: &crate::auth::Caller,
    source: impl Source,
    dry_run: bool,
    request_id: Option<String>,
    progress: impl FnMut(u64, u64),
) -> AppResult<ParticipationReport> {
    super::require_hr(caller)?;
    let report = import_rows(conn, &source, dry_run, caller, progress)?;
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

/// What the rows are checked against, loaded once.
struct Lookups {
    sites: HashMap<String, (Id, String)>,
    /// Employee number to index into `person_ids`: rows keep a 4-byte index, not the id.
    people: HashMap<String, u32>,
    person_ids: Vec<Id>,
    categories: HashSet<String>,
}

/// The file's programmes, interned by (site, code).
#[derive(Default)]
struct FilePrograms {
    list: Vec<FileProgram>,
    index: HashMap<Id, HashMap<String, u32>>,
}

/// One row, parsed: what writing it needs.
struct Row {
    /// Index into the file's programmes.
    program: u32,
    date: NaiveDate,
    /// The event's last local day (`date` for a one-day event).
    end: NaiveDate,
    /// Index into `Lookups::person_ids`.
    person: u32,
    minutes: i32,
    days: i32,
}

/// A row as the whole-file checks see it, sorted by (programme, date, person, line): repeated
/// rows and the rows of one event are then neighbours. 24 bytes a row.
struct Occurrence {
    program: u32,
    date: NaiveDate,
    person: u32,
    line: u32,
    end: NaiveDate,
    minutes: i32,
}

/// One event the file's rows belong to, sorted by (programme, date).
struct FileEvent {
    program: u32,
    date: NaiveDate,
    end: NaiveDate,
    /// The longest record, for the length of a new one-day event.
    minutes: i32,
}

/// Checks one record's cells. The row comes back whenever the cells that place it (site, date,
/// end date, employee, hours, days) are valid, even if others are not, so the whole-file checks
/// (duplicates, end dates) also report on it.
fn parse_row(
    lookups: &Lookups,
    programs: &mut FilePrograms,
    r: &csv::StringRecord,
) -> (Option<Row>, Vec<FieldError>) {
    let get = |i: usize| r.get(i).unwrap_or_default().trim();
    let mut e = Vec::new();
    let site = lookups.sites.get(get(0)).map(|(id, _)| *id);
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
    if let Some(bad) = cats().find(|c| !lookups.categories.contains(*c)) {
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
    let person = lookups.people.get(get(6)).copied();
    if person.is_none() {
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
    let (Some(site), Some(date), Some(end), Some(person), Some(minutes), Some(days)) =
        (site, date, end, person, minutes, days)
    else {
        return (None, e);
    };
    let codes = programs.index.entry(site).or_default();
    let program = match codes.get(code) {
        Some(i) => *i,
        None => {
            programs.list.push(FileProgram {
                site,
                code: code.to_owned(),
                title: title.to_owned(),
                theme: theme.to_owned(),
                categories: cats().map(str::to_owned).collect(),
            });
            let i = u32::try_from(programs.list.len() - 1).unwrap_or(u32::MAX);
            codes.insert(code.to_owned(), i);
            i
        }
    };
    let row = Row {
        program,
        date,
        end,
        person,
        minutes,
        days,
    };
    (Some(row), e)
}

/// Reads the file once more (to write it, after it was checked whole) and hands each row to
/// `each`; the file changing in between is an error, and nothing is written then.
fn reread(
    source: &dyn Source,
    lookups: &Lookups,
    programs: &mut FilePrograms,
    mut each: impl FnMut(u64, Row) -> AppResult<()>,
) -> AppResult<()> {
    let changed = || {
        AppError::conflict(
            "import_changed",
            "the file changed while it was imported; nothing was imported",
        )
    };
    let known = programs.list.len();
    let mut failed: Option<AppError> = None;
    let reader = source.open().map_err(AppError::internal)?;
    let (_, errors) = each_csv_record(reader, &[&HEADER, &HEADER_V2], |line, r| {
        if failed.is_some() {
            return;
        }
        match parse_row(lookups, programs, &r) {
            (Some(row), e) if e.is_empty() && programs.list.len() == known => {
                if let Err(err) = each(line, row) {
                    failed = Some(err);
                }
            }
            _ => failed = Some(changed()),
        }
    })
    .map_err(|_| changed())?;
    match failed {
        Some(err) => Err(err),
        None if errors.is_empty() => Ok(()),
        None => Err(changed()),
    }
}

fn import_rows(
    conn: &mut AnyConnection,
    source: &dyn Source,
    dry_run: bool,
    caller: &crate::auth::Caller,
    mut progress: impl FnMut(u64, u64),
) -> AppResult<ParticipationReport> {
    let by = caller.id;
    let (people, person_ids): (HashMap<String, u32>, Vec<Id>) = {
        let all: Vec<(String, Id)> = users::table
            .select((users::employee_number, users::id))
            .load(conn)?;
        let mut people = HashMap::with_capacity(all.len());
        let mut ids = Vec::with_capacity(all.len());
        for (number, id) in all {
            people.insert(number, u32::try_from(ids.len()).unwrap_or(u32::MAX));
            ids.push(id);
        }
        (people, ids)
    };
    let lookups = Lookups {
        sites: sites::table
            .select((sites::code, sites::id, sites::timezone))
            .load::<(String, Id, String)>(conn)?
            .into_iter()
            .map(|(code, id, tz)| (code, (id, tz)))
            .collect(),
        people,
        person_ids,
        categories: categories::table
            .select(categories::code)
            .load::<String>(conn)?
            .into_iter()
            .collect(),
    };

    // Pass one: every cell checked, the rows that place themselves noted (24 bytes each).
    let mut programs = FilePrograms::default();
    let mut occurrences: Vec<Occurrence> = Vec::new();
    let mut row_errors = Vec::new();
    let unreadable = |e: std::io::Error| {
        rejected(vec![
            FieldError::new("row", "unreadable", e.to_string()).at_line(1),
        ])
    };
    let (_, csv_errors) = each_csv_record(
        source.open().map_err(unreadable)?,
        &[&HEADER, &HEADER_V2],
        |line, r| {
            let (row, e) = parse_row(&lookups, &mut programs, &r);
            if let Some(row) = row {
                occurrences.push(Occurrence {
                    program: row.program,
                    date: row.date,
                    person: row.person,
                    line: u32::try_from(line).unwrap_or(u32::MAX),
                    end: row.end,
                    minutes: row.minutes,
                });
            }
            row_errors.extend(e.into_iter().map(|err| err.at_line(line)));
        },
    )
    .map_err(rejected)?;
    let rows = occurrences.len();
    // The whole-file checks on the sorted rows: the same employee twice at one programme's
    // event, and one event given two end dates. Then each event's end and longest record.
    occurrences.sort_unstable_by_key(|o| (o.program, o.date, o.person, o.line));
    let mut duplicates = Vec::new();
    let mut different_ends = Vec::new();
    let mut file_events: Vec<FileEvent> = Vec::new();
    for group in occurrences.chunk_by(|a, b| (a.program, a.date) == (b.program, b.date)) {
        let first = group.iter().min_by_key(|o| o.line).unwrap_or(&group[0]);
        // Each repeat names the line before it, as a reader going down the file meets them.
        for same in group.chunk_by(|a, b| a.person == b.person) {
            for pair in same.windows(2) {
                duplicates.push(
                    FieldError::new(
                        "row",
                        "duplicate",
                        format!(
                            "the same employee, programme and date as line {}",
                            pair[0].line
                        ),
                    )
                    .at_line(u64::from(pair[1].line)),
                );
            }
        }
        for o in group.iter().filter(|o| o.end != first.end) {
            different_ends.push(
                FieldError::new(
                    "end_date",
                    "different_end",
                    format!(
                        "line {} gives this programme's event of that date the end date {}",
                        first.line, first.end
                    ),
                )
                .at_line(u64::from(o.line)),
            );
        }
        file_events.push(FileEvent {
            program: group[0].program,
            date: group[0].date,
            end: first.end,
            minutes: group.iter().map(|o| o.minutes).max().unwrap_or(0),
        });
    }
    drop(occurrences);
    // In file order, each line's cell errors before its duplicate and end-date ones.
    row_errors.extend(duplicates);
    row_errors.extend(different_ends);
    row_errors.sort_by_key(|e| e.line);
    let mut errors = csv_errors;
    errors.extend(row_errors);
    if !errors.is_empty() {
        return Err(rejected(errors));
    }
    let event_of = |program: u32, date: NaiveDate| {
        file_events
            .binary_search_by_key(&(program, date), |e| (e.program, e.date))
            .ok()
    };

    write_transaction(conn, |conn| {
        // Programmes and events that already exist.
        let program_map: HashMap<(Id, String), Id> = programs::table
            .select((programs::site_id, programs::code, programs::id))
            .load::<(Id, String, Id)>(conn)?
            .into_iter()
            .map(|(s, c, id)| ((s, c), id))
            .collect();
        // The id of each of the file's programmes: the existing one, or a new one (created below).
        let existing: Vec<Option<Id>> = programs
            .list
            .iter()
            .map(|p| program_map.get(&(p.site, p.code.clone())).copied())
            .collect();
        drop(program_map);
        let index_of: HashMap<Id, u32> = existing
            .iter()
            .enumerate()
            .filter_map(|(i, id)| Some(((*id)?, u32::try_from(i).ok()?)))
            .collect();
        let involved: Vec<Id> = index_of
            .keys()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        // The id of each of the file's events: an existing one (and the local days it spans: a
        // row may not record more), or a new one (created below).
        let mut event_ids: Vec<Option<Id>> = vec![None; file_events.len()];
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
                let (Some(on), Some(program)) = (on, index_of.get(&p)) else {
                    continue;
                };
                if let Some(i) = event_of(*program, on)
                    && event_ids[i].is_none()
                {
                    event_ids[i] = Some(id);
                    span_days.insert(id, Span::of(starts, ends, &tz).days);
                }
            }
        }
        let existing_events: Vec<Id> = event_ids.iter().flatten().copied().collect();
        if !existing_events.is_empty() {
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
            reread(source, &lookups, &mut programs, |line, r| {
                let Some(e) = event_of(r.program, r.date).and_then(|i| event_ids[i]) else {
                    return Ok(());
                };
                if recorded.contains(&(e, lookups.person_ids[r.person as usize])) {
                    conflicts.push(
                        FieldError::new(
                            "row",
                            "already_recorded",
                            "the employee already has attendance at this programme's event that day",
                        )
                        .at_line(line),
                    );
                }
                let spans = span_days.get(&e).copied().unwrap_or(1);
                if r.days > spans {
                    conflicts.push(
                        FieldError::new(
                            "days",
                            "outside_event",
                            format!(
                                "the programme's existing event of that date spans {spans} day(s)"
                            ),
                        )
                        .at_line(line),
                    );
                }
                Ok(())
            })?;
            if !conflicts.is_empty() {
                return Err(rejected(conflicts));
            }
        }

        let now = Timestamp::now();
        let tz_of: HashMap<Id, &str> = lookups
            .sites
            .values()
            .map(|(id, tz)| (*id, tz.as_str()))
            .collect();
        let mut new_programs = Vec::new();
        let mut new_categories = Vec::new();
        let program_ids: Vec<Id> = programs
            .list
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
        let report = ParticipationReport {
            rows,
            programs_created: new_programs.len(),
            events_created: file_events.len() - existing_events.len(),
            records_created: rows,
            dry_run,
        };
        // Records of a closed year restate it: the dry run says so before anything is written.
        let fiscal = rollup::calendar(conn)?;
        let years: BTreeSet<i32> = file_events.iter().map(|e| fiscal.year_of(e.date)).collect();
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
        // One event per (programme, date) that has none, marked completed: from 09:00 local on
        // its first day to 17:00 on its last, or for one day as long as its longest record (at
        // least the working day). Built and written a batch at a time: a file of one-day events
        // makes one per row.
        let new_events: Vec<usize> = (0..file_events.len())
            .filter(|i| event_ids[*i].is_none())
            .collect();
        for chunk in new_events.chunks(BATCH) {
            let mut values = Vec::with_capacity(chunk.len());
            for &i in chunk {
                let FileEvent {
                    program: index,
                    date,
                    end,
                    minutes,
                } = file_events[i];
                let (p, program) = (program_ids[index as usize], &programs.list[index as usize]);
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
                event_ids[i] = Some(id);
                values.push((
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
                .values(&values)
                .execute(c))?;
        }
        // Pass two: the file read again, its records written a batch at a time.
        let total = rows as u64;
        let mut written = 0u64;
        // (event, employee, minutes, person-days) of the rows not written yet.
        let mut batch: Vec<(Id, Id, i32, i32)> = Vec::with_capacity(BATCH);
        let mut flush = |conn: &mut AnyConnection, batch: &mut Vec<(Id, Id, i32, i32)>| {
            if batch.is_empty() {
                return Ok::<(), AppError>(());
            }
            let values: Vec<_> = batch
                .iter()
                .map(|&(event, user, minutes, days)| {
                    (
                        attendance::id.eq(Id::new()),
                        attendance::event_id.eq(event),
                        attendance::user_id.eq(user),
                        attendance::status.eq("attended"),
                        attendance::minutes.eq(minutes),
                        attendance::days.eq(days),
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
            written += batch.len() as u64;
            batch.clear();
            progress(written, total);
            Ok(())
        };
        reread(source, &lookups, &mut programs, |_, r| {
            let event = event_of(r.program, r.date)
                .and_then(|i| event_ids[i])
                .ok_or_else(|| AppError::internal("an imported row lost its event"))?;
            batch.push((
                event,
                lookups.person_ids[r.person as usize],
                r.minutes,
                r.days,
            ));
            if batch.len() >= BATCH {
                flush(conn, &mut batch)?;
            }
            Ok(())
        })?;
        flush(conn, &mut batch)?;
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
