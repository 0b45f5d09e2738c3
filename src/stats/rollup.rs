//! The summary tables behind the statistics, kept equal to the raw records at every commit.
//!
//! Every change that can move a figure runs inside [`track`]: it reads the approved
//! participations the change can touch ("facts") before and after, and applies the difference
//! to the summaries in the same transaction. One mechanism serves attendance decisions, roster
//! edits, event moves and programme or site changes, and [`rebuild`] computes the same facts from
//! scratch, so the incremental path and the rebuild cannot disagree about what a fact is.
//!
//! Concurrency: `track` first locks the programme rows involved (a no-op `UPDATE`), so two
//! changes to the same programme's facts serialize on PostgreSQL; SQLite write transactions
//! are serialized anyway. Summary rows are then changed in key order, so concurrent changes to
//! different programmes cannot deadlock on them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};

use crate::auth::Caller;
use crate::db::schema::{
    attendance, events, program_categories, programs, sites, stats_members, stats_meta,
    stats_program_month, stats_unique, stats_year,
};
use crate::db::types::sql;
use crate::db::{AnyConnection, Id, Timestamp, per_backend, write_transaction};
use crate::error::AppResult;
use crate::time::FiscalCalendar;
use crate::time::local_date;

/// What a change can touch.
#[derive(Debug, Clone)]
pub enum Affects {
    /// These attendance records.
    Attendance(Vec<Id>),
    /// Every record of an event.
    Event(Id),
    /// Every record of a programme's events.
    Program(Id),
    /// Every record of the programmes a site organises.
    Site(Id),
}

/// One approved participation, with everything a figure is keyed by.
#[derive(Debug, Clone)]
pub struct Fact {
    pub user: Id,
    pub fiscal_year: i32,
    pub month: i32,
    pub program: Id,
    pub site: Id,
    pub company: Id,
    pub region: String,
    pub theme: String,
    pub categories: Vec<String>,
    pub minutes: i64,
    pub days: i64,
}

impl Fact {
    /// The report scopes this participation counts in (`stats_year`, programme and site counts).
    pub fn report_scopes(&self) -> [String; 4] {
        [
            "all".to_owned(),
            scope::site(self.site),
            scope::company(self.company),
            scope::region(&self.region),
        ]
    }

    /// The scopes whose unique-participant counts this participation belongs to: the report
    /// scopes and the breakdown groups.
    pub fn scopes(&self) -> Vec<String> {
        let mut s = self.report_scopes().to_vec();
        s.push(scope::theme(&self.theme));
        s.push(scope::month(self.month));
        s.extend(self.categories.iter().map(|c| scope::category(c)));
        s
    }

    fn in_category(&self, c: &str) -> i64 {
        i64::from(self.categories.iter().any(|x| x == c))
    }
}

/// Scope keys of `stats_members` / `stats_unique`.
pub mod scope {
    use crate::db::Id;
    pub fn site(id: Id) -> String {
        format!("s:{id}")
    }
    pub fn company(id: Id) -> String {
        format!("c:{id}")
    }
    pub fn region(r: &str) -> String {
        format!("r:{r}")
    }
    pub fn theme(t: &str) -> String {
        format!("t:{t}")
    }
    pub fn category(c: &str) -> String {
        format!("g:{c}")
    }
    pub fn month(m: i32) -> String {
        format!("m:{m:02}")
    }
    /// Distinct programmes of a report scope.
    pub fn programs(of: &str) -> String {
        format!("programs/{of}")
    }
    /// Distinct implementing sites of a report scope.
    pub fn sites(of: &str) -> String {
        format!("sites/{of}")
    }
}

const META_START_MONTH: &str = "fiscal_year_start_month";

/// The fiscal calendar the summaries were computed with.
pub fn calendar(conn: &mut AnyConnection) -> QueryResult<FiscalCalendar> {
    let value: Option<String> = stats_meta::table
        .filter(stats_meta::key.eq(META_START_MONTH))
        .select(stats_meta::value)
        .first(conn)
        .optional()?;
    Ok(value
        .and_then(|v| v.parse().ok())
        .and_then(FiscalCalendar::new)
        .unwrap_or(FiscalCalendar::APRIL))
}

/// Makes the summaries follow the configured fiscal calendar: when it differs from the one they
/// were computed with, they are rebuilt (once, at start-up). Returns whether a rebuild ran.
pub fn ensure_calendar(conn: &mut AnyConnection, configured: FiscalCalendar) -> AppResult<bool> {
    write_transaction(conn, |conn| {
        if calendar(conn)? == configured {
            return Ok(false);
        }
        diesel::delete(stats_meta::table.filter(stats_meta::key.eq(META_START_MONTH)))
            .execute(conn)?;
        diesel::insert_into(stats_meta::table)
            .values((
                stats_meta::key.eq(META_START_MONTH),
                stats_meta::value.eq(configured.start_month().to_string()),
            ))
            .execute(conn)?;
        rebuild(conn, |_| {})?;
        Ok(true)
    })
}

/// Runs `change` by `caller` and brings the summaries along, in one transaction. A change that
/// moves a figure of a closed fiscal year needs the caller's restatement reason
/// (`closing::guard`, checked after the summaries are written: see its module doc).
pub fn track<T>(
    conn: &mut AnyConnection,
    caller: &Caller,
    affects: &Affects,
    change: impl FnOnce(&mut AnyConnection) -> AppResult<T>,
) -> AppResult<T> {
    write_transaction(conn, |conn| {
        lock(conn, affects)?;
        let fiscal = calendar(conn)?;
        let before = facts(conn, &Selector::Affects(affects), fiscal)?;
        let out = change(conn)?;
        let after = facts(conn, &Selector::Affects(affects), fiscal)?;
        let mut deltas = Deltas::default();
        deltas.add(&before, -1);
        deltas.add(&after, 1);
        let years = deltas.years();
        deltas.apply(conn)?;
        crate::stats::closing::guard(conn, caller, &years)?;
        Ok(out)
    })
}

fn lock(conn: &mut AnyConnection, affects: &Affects) -> QueryResult<()> {
    let touch = programs::updated_at.eq(programs::updated_at);
    match affects {
        Affects::Attendance(ids) => {
            let of = attendance::table
                .inner_join(events::table)
                .filter(attendance::id.eq_any(ids.clone()))
                .select(events::program_id);
            diesel::update(programs::table.filter(programs::id.eq_any(of)))
                .set(touch)
                .execute(conn)?
        }
        Affects::Event(id) => {
            let of = events::table
                .filter(events::id.eq(*id))
                .select(events::program_id);
            diesel::update(programs::table.filter(programs::id.eq_any(of)))
                .set(touch)
                .execute(conn)?
        }
        Affects::Program(id) => diesel::update(programs::table.filter(programs::id.eq(*id)))
            .set(touch)
            .execute(conn)?,
        Affects::Site(id) => diesel::update(programs::table.filter(programs::site_id.eq(*id)))
            .set(touch)
            .execute(conn)?,
    };
    Ok(())
}

enum Selector<'a> {
    Affects(&'a Affects),
    /// Events starting on these local dates (a week of a fiscal year, for the rebuild).
    Dates(NaiveDate, NaiveDate),
}

type FactRow = (
    Id,
    i32,
    i32,
    Option<NaiveDate>,
    Timestamp,
    String,
    Id,
    Id,
    String,
    Id,
    String,
);

/// A year is summarised a week of event dates at a time.
const DAYS_PER_SLICE: i64 = 7;

fn facts(
    conn: &mut AnyConnection,
    sel: &Selector,
    fiscal: FiscalCalendar,
) -> QueryResult<Vec<Fact>> {
    let mut q = attendance::table
        .inner_join(events::table.inner_join(programs::table.inner_join(sites::table)))
        .filter(attendance::status.eq("attended"))
        .filter(attendance::approval.eq("approved"))
        .select((
            attendance::user_id,
            attendance::minutes,
            attendance::days,
            events::starts_on,
            events::starts_at,
            events::timezone,
            programs::id,
            programs::site_id,
            programs::theme,
            sites::company_id,
            sites::region,
        ))
        .into_boxed();
    q = match sel {
        Selector::Affects(Affects::Attendance(ids)) => q.filter(attendance::id.eq_any(ids.clone())),
        Selector::Affects(Affects::Event(id)) => q.filter(attendance::event_id.eq(*id)),
        Selector::Affects(Affects::Program(id)) => q.filter(events::program_id.eq(*id)),
        Selector::Affects(Affects::Site(id)) => q.filter(programs::site_id.eq(*id)),
        Selector::Dates(first, last) => q.filter(events::starts_on.between(*first, *last)),
    };
    let rows: Vec<FactRow> = q.load(conn)?;
    let mut programs_seen: Vec<Id> = rows.iter().map(|r| r.6).collect();
    programs_seen.sort();
    programs_seen.dedup();
    let mut categories: HashMap<Id, Vec<String>> = HashMap::new();
    for chunk in programs_seen.chunks(5000) {
        let pairs: Vec<(Id, String)> = program_categories::table
            .filter(program_categories::program_id.eq_any(chunk))
            .select((program_categories::program_id, program_categories::category))
            .load(conn)?;
        for (p, c) in pairs {
            categories.entry(p).or_default().push(c);
        }
    }
    let facts = rows
        .into_iter()
        .map(
            |(user, minutes, days, on, starts, tz, program, site, theme, company, region)| {
                let date = on.unwrap_or_else(|| local_date(starts, &tz));
                Fact {
                    user,
                    fiscal_year: fiscal.year_of(date),
                    month: i32::try_from(date.month()).unwrap_or(1),
                    program,
                    site,
                    company,
                    region,
                    theme,
                    categories: categories.get(&program).cloned().unwrap_or_default(),
                    minutes: i64::from(minutes),
                    days: i64::from(days),
                }
            },
        )
        .collect();
    Ok(facts)
}

/// (fiscal year, month, programme).
type MonthKey = (i32, i32, Id);
/// (site, participants, minutes, days).
type MonthSums = (Id, i64, i64, i64);

/// (participants, minutes, days, biodiversity, disaster relief).
type YearSums = [i64; 5];

/// Summed changes, keyed in the order they are applied.
#[derive(Default)]
struct Deltas {
    /// (fy, report scope) → sums.
    years: BTreeMap<(i32, String), YearSums>,
    months: BTreeMap<MonthKey, MonthSums>,
    /// (fy, scope, member) → records: employees, programmes and sites.
    members: BTreeMap<(i32, String, Id), i64>,
}

impl Deltas {
    /// The fiscal years whose figures these changes move.
    fn years(&self) -> BTreeSet<i32> {
        let years = self
            .years
            .iter()
            .filter(|(_, v)| **v != [0; 5])
            .map(|((fy, _), _)| *fy);
        let months = self
            .months
            .iter()
            .filter(|(_, v)| (v.1, v.2, v.3) != (0, 0, 0))
            .map(|((fy, _, _), _)| *fy);
        let members = self
            .members
            .iter()
            .filter(|(_, d)| **d != 0)
            .map(|((fy, _, _), _)| *fy);
        years.chain(months).chain(members).collect()
    }

    fn add(&mut self, facts: &[Fact], sign: i64) {
        for f in facts {
            let fy = f.fiscal_year;
            for s in f.report_scopes() {
                let y = self.years.entry((fy, s.clone())).or_default();
                y[0] += sign;
                y[1] += sign * f.minutes;
                y[2] += sign * f.days;
                y[3] += sign * f.in_category("biodiversity");
                y[4] += sign * f.in_category("disaster_relief");
                *self
                    .members
                    .entry((fy, scope::programs(&s), f.program))
                    .or_default() += sign;
                *self
                    .members
                    .entry((fy, scope::sites(&s), f.site))
                    .or_default() += sign;
            }
            let m = self
                .months
                .entry((fy, f.month, f.program))
                .or_insert((f.site, 0, 0, 0));
            m.1 += sign;
            m.2 += sign * f.minutes;
            m.3 += sign * f.days;
            for s in f.scopes() {
                *self.members.entry((fy, s, f.user)).or_default() += sign;
            }
        }
    }

    fn apply(self, conn: &mut AnyConnection) -> QueryResult<()> {
        for ((fy, scope), [p, minutes, days, bio, relief]) in self.years {
            if [p, minutes, days, bio, relief] == [0; 5] {
                continue;
            }
            let sql = if p > 0 {
                "INSERT INTO stats_year (fiscal_year, scope, participants, minutes, days, biodiversity, disaster_relief) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (fiscal_year, scope) DO UPDATE SET \
                 participants = stats_year.participants + excluded.participants, \
                 minutes = stats_year.minutes + excluded.minutes, days = stats_year.days + excluded.days, \
                 biodiversity = stats_year.biodiversity + excluded.biodiversity, \
                 disaster_relief = stats_year.disaster_relief + excluded.disaster_relief \
                 RETURNING participants AS n"
            } else {
                "UPDATE stats_year SET participants = participants + $3, minutes = minutes + $4, \
                 days = days + $5, biodiversity = biodiversity + $6, disaster_relief = disaster_relief + $7 \
                 WHERE fiscal_year = $1 AND scope = $2 RETURNING participants AS n"
            };
            let left: Count = diesel::sql_query(crate::db::placeholders(conn, sql))
                .bind::<Integer, _>(fy)
                .bind::<Text, _>(&scope)
                .bind::<Integer, _>(int(p))
                .bind::<BigInt, _>(minutes)
                .bind::<BigInt, _>(days)
                .bind::<Integer, _>(int(bio))
                .bind::<Integer, _>(int(relief))
                .get_result(conn)?;
            if left.n == 0 {
                diesel::delete(
                    stats_year::table
                        .filter(stats_year::fiscal_year.eq(fy))
                        .filter(stats_year::scope.eq(&scope)),
                )
                .execute(conn)?;
            }
        }
        for ((fy, month, program), (site, p, minutes, days)) in self.months {
            if p == 0 && minutes == 0 && days == 0 {
                continue;
            }
            let sql = if p > 0 {
                "INSERT INTO stats_program_month (fiscal_year, month, program_id, site_id, participants, minutes, days) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (fiscal_year, month, program_id) DO UPDATE SET \
                 participants = stats_program_month.participants + excluded.participants, \
                 minutes = stats_program_month.minutes + excluded.minutes, \
                 days = stats_program_month.days + excluded.days RETURNING participants AS n"
            } else {
                "UPDATE stats_program_month SET participants = participants + $5, minutes = minutes + $6, \
                 days = days + $7 WHERE fiscal_year = $1 AND month = $2 AND program_id = $3 AND site_id = $4 \
                 RETURNING participants AS n"
            };
            let left: Count = diesel::sql_query(crate::db::placeholders(conn, sql))
                .bind::<Integer, _>(fy)
                .bind::<Integer, _>(month)
                .bind::<sql::Uuid, _>(program)
                .bind::<sql::Uuid, _>(site)
                .bind::<Integer, _>(int(p))
                .bind::<Integer, _>(int(minutes))
                .bind::<Integer, _>(int(days))
                .get_result(conn)?;
            if left.n == 0 {
                diesel::delete(
                    stats_program_month::table
                        .filter(stats_program_month::fiscal_year.eq(fy))
                        .filter(stats_program_month::month.eq(month))
                        .filter(stats_program_month::program_id.eq(program)),
                )
                .execute(conn)?;
            }
        }
        let mut uniques: BTreeMap<(i32, String), i64> = BTreeMap::new();
        for ((fy, scope, member), d) in self.members {
            if d == 0 {
                continue;
            }
            let sql = if d > 0 {
                "INSERT INTO stats_members (fiscal_year, scope, member_id, records) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (fiscal_year, scope, member_id) DO UPDATE SET \
                 records = stats_members.records + excluded.records RETURNING records AS n"
            } else {
                "UPDATE stats_members SET records = records + $4 \
                 WHERE fiscal_year = $1 AND scope = $2 AND member_id = $3 RETURNING records AS n"
            };
            let now: Count = diesel::sql_query(crate::db::placeholders(conn, sql))
                .bind::<Integer, _>(fy)
                .bind::<Text, _>(&scope)
                .bind::<sql::Uuid, _>(member)
                .bind::<Integer, _>(int(d))
                .get_result(conn)?;
            let before = i64::from(now.n) - d;
            if before == 0 && now.n > 0 {
                *uniques.entry((fy, scope)).or_default() += 1;
            } else if before > 0 && now.n == 0 {
                diesel::delete(
                    stats_members::table
                        .filter(stats_members::fiscal_year.eq(fy))
                        .filter(stats_members::scope.eq(&scope))
                        .filter(stats_members::member_id.eq(member)),
                )
                .execute(conn)?;
                *uniques.entry((fy, scope)).or_default() -= 1;
            }
        }
        for ((fy, scope), d) in uniques {
            if d == 0 {
                continue;
            }
            let sql = if d > 0 {
                "INSERT INTO stats_unique (fiscal_year, scope, members) VALUES ($1, $2, $3) \
                 ON CONFLICT (fiscal_year, scope) DO UPDATE SET \
                 members = stats_unique.members + excluded.members RETURNING members AS n"
            } else {
                "UPDATE stats_unique SET members = members + $3 \
                 WHERE fiscal_year = $1 AND scope = $2 RETURNING members AS n"
            };
            let now: Count = diesel::sql_query(crate::db::placeholders(conn, sql))
                .bind::<Integer, _>(fy)
                .bind::<Text, _>(&scope)
                .bind::<Integer, _>(int(d))
                .get_result(conn)?;
            if now.n == 0 {
                diesel::delete(
                    stats_unique::table
                        .filter(stats_unique::fiscal_year.eq(fy))
                        .filter(stats_unique::scope.eq(&scope)),
                )
                .execute(conn)?;
            }
        }
        Ok(())
    }
}

/// Counts that fit a 32-bit column (saturating; a year's figures are far below).
fn int(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(if n < 0 { i32::MIN } else { i32::MAX })
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = Integer)]
    n: i32,
}

/// Recomputes every summary from the raw records, one fiscal year at a time (memory stays
/// bounded by one year's participants). `progress` hears each finished year.
pub fn rebuild(conn: &mut AnyConnection, mut progress: impl FnMut(i32)) -> AppResult<()> {
    write_transaction(conn, |conn| {
        let fiscal = calendar(conn)?;
        diesel::delete(stats_year::table).execute(conn)?;
        diesel::delete(stats_program_month::table).execute(conn)?;
        diesel::delete(stats_members::table).execute(conn)?;
        diesel::delete(stats_unique::table).execute(conn)?;
        let (first, last): (Option<NaiveDate>, Option<NaiveDate>) = events::table
            .select((
                diesel::dsl::min(events::starts_on),
                diesel::dsl::max(events::starts_on),
            ))
            .first(conn)?;
        let (Some(first), Some(last)) = (first, last) else {
            return Ok(());
        };
        for fy in fiscal.year_of(first)..=fiscal.year_of(last) {
            summarise_year(conn, fiscal, fy)?;
            progress(fy);
        }
        Ok(())
    })
}

/// Recomputes the given fiscal years from raw records (after a bulk import), inside the
/// caller's transaction.
pub fn rebuild_years(conn: &mut AnyConnection, years: &[i32]) -> AppResult<()> {
    write_transaction(conn, |conn| {
        let fiscal = calendar(conn)?;
        for &fy in years {
            diesel::delete(stats_year::table.filter(stats_year::fiscal_year.eq(fy)))
                .execute(conn)?;
            diesel::delete(
                stats_program_month::table.filter(stats_program_month::fiscal_year.eq(fy)),
            )
            .execute(conn)?;
            diesel::delete(stats_members::table.filter(stats_members::fiscal_year.eq(fy)))
                .execute(conn)?;
            diesel::delete(stats_unique::table.filter(stats_unique::fiscal_year.eq(fy)))
                .execute(conn)?;
            summarise_year(conn, fiscal, fy)?;
        }
        Ok(())
    })
}

fn summarise_year(conn: &mut AnyConnection, fiscal: FiscalCalendar, fy: i32) -> AppResult<()> {
    let Some((from, to)) = fiscal.dates(fy) else {
        return Ok(());
    };
    // A week at a time into the sums: a year of a million records is never held at once
    // (a week is a fiftieth of it), and each week is the same index range scan the whole year
    // was. Paging by record id instead made PostgreSQL sort the whole year for every page.
    let mut deltas = Deltas::default();
    let mut first = from;
    while first <= to {
        let last = (first + chrono::Duration::days(DAYS_PER_SLICE - 1)).min(to);
        deltas.add(&facts(conn, &Selector::Dates(first, last), fiscal)?, 1);
        first = last + chrono::Duration::days(1);
    }
    insert_year(conn, deltas)?;
    Ok(())
}

/// Bulk-inserts one year's summaries into empty tables.
fn insert_year(conn: &mut AnyConnection, deltas: Deltas) -> QueryResult<()> {
    let years: Vec<_> = deltas
        .years
        .into_iter()
        .map(|((fy, scope), [p, minutes, days, bio, relief])| {
            (
                stats_year::fiscal_year.eq(fy),
                stats_year::scope.eq(scope),
                stats_year::participants.eq(int(p)),
                stats_year::minutes.eq(minutes),
                stats_year::days.eq(days),
                stats_year::biodiversity.eq(int(bio)),
                stats_year::disaster_relief.eq(int(relief)),
            )
        })
        .collect();
    for chunk in years.chunks(1000) {
        per_backend!(conn, |c| diesel::insert_into(stats_year::table)
            .values(chunk)
            .execute(c))?;
    }
    let months: Vec<_> = deltas
        .months
        .into_iter()
        .map(|((fy, month, program), (site, p, minutes, days))| {
            (
                stats_program_month::fiscal_year.eq(fy),
                stats_program_month::month.eq(month),
                stats_program_month::program_id.eq(program),
                stats_program_month::site_id.eq(site),
                stats_program_month::participants.eq(int(p)),
                stats_program_month::minutes.eq(int(minutes)),
                stats_program_month::days.eq(int(days)),
            )
        })
        .collect();
    for chunk in months.chunks(1000) {
        per_backend!(conn, |c| diesel::insert_into(stats_program_month::table)
            .values(chunk)
            .execute(c))?;
    }
    let mut uniques: BTreeMap<(i32, String), i32> = BTreeMap::new();
    let members: Vec<_> = deltas
        .members
        .into_iter()
        .map(|((fy, scope, member), n)| {
            *uniques.entry((fy, scope.clone())).or_default() += 1;
            (
                stats_members::fiscal_year.eq(fy),
                stats_members::scope.eq(scope),
                stats_members::member_id.eq(member),
                stats_members::records.eq(int(n)),
            )
        })
        .collect();
    for chunk in members.chunks(1000) {
        per_backend!(conn, |c| diesel::insert_into(stats_members::table)
            .values(chunk)
            .execute(c))?;
    }
    let uniques: Vec<_> = uniques
        .into_iter()
        .map(|((fy, scope), n)| {
            (
                stats_unique::fiscal_year.eq(fy),
                stats_unique::scope.eq(scope),
                stats_unique::members.eq(n),
            )
        })
        .collect();
    for chunk in uniques.chunks(1000) {
        per_backend!(conn, |c| diesel::insert_into(stats_unique::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}
