//! The annual-report figures ("MDD" table) per fiscal year, from the summary tables, and the
//! same figures recomputed naively from raw attendance (for tests and the benchmark).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::dsl::{count, count_star, sum};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::{
    attendance, events, program_categories, programs, sites, stats_unique, stats_year,
};
use crate::db::{AnyConnection, Id};
use crate::error::AppResult;
use crate::stats::rollup::scope;
use crate::time::FiscalCalendar;

/// Whose figures: the whole group, or one company, region or site.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub site_id: Option<Id>,
    pub company_id: Option<Id>,
    pub region: Option<String>,
}

impl Scope {
    /// The unique-participant key of the narrowest scope given.
    fn key(&self) -> String {
        match (&self.site_id, &self.company_id, &self.region) {
            (Some(s), _, _) => scope::site(*s),
            (None, Some(c), _) => scope::company(*c),
            (None, None, Some(r)) => scope::region(r),
            _ => "all".to_owned(),
        }
    }
}

/// The figures of one fiscal year, by the counting rules in DESIGN.md.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, serde::Deserialize, ToSchema)]
pub struct Figures {
    /// Implementing sites: organising sites of the programmes below.
    pub sites: i64,
    /// Programmes with at least one approved attendance in an event of the year.
    pub programs: i64,
    /// Approved attended (event, employee) pairs (cumulative participants).
    pub participants: i64,
    /// Distinct employees among them.
    pub unique_participants: i64,
    /// Sum of approved person-days.
    pub person_days: i64,
    /// Approved minutes / 60, rounded to two decimals.
    pub volunteer_hours: f64,
    /// The approved minutes themselves: exact, so rows of a breakdown add up to its total.
    pub volunteer_minutes: i64,
    pub biodiversity_participants: i64,
    pub disaster_relief_participants: i64,
    /// Sites open on any day of the year.
    pub active_sites: i64,
    /// `sites / active_sites` in percent, one decimal; `null` without active sites.
    pub implementation_rate: Option<f64>,
}

/// A figure of the report, in the order the report lists them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Sites,
    Programs,
    Participants,
    UniqueParticipants,
    PersonDays,
    VolunteerHours,
    BiodiversityParticipants,
    DisasterReliefParticipants,
    ActiveSites,
    ImplementationRate,
}

impl Metric {
    pub const ALL: [Metric; 10] = [
        Metric::Sites,
        Metric::Programs,
        Metric::Participants,
        Metric::UniqueParticipants,
        Metric::PersonDays,
        Metric::VolunteerHours,
        Metric::BiodiversityParticipants,
        Metric::DisasterReliefParticipants,
        Metric::ActiveSites,
        Metric::ImplementationRate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Sites => "sites",
            Metric::Programs => "programs",
            Metric::Participants => "participants",
            Metric::UniqueParticipants => "unique_participants",
            Metric::PersonDays => "person_days",
            Metric::VolunteerHours => "volunteer_hours",
            Metric::BiodiversityParticipants => "biodiversity_participants",
            Metric::DisasterReliefParticipants => "disaster_relief_participants",
            Metric::ActiveSites => "active_sites",
            Metric::ImplementationRate => "implementation_rate",
        }
    }

    pub fn parse(s: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// The row label of the report table.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Sites => "Number of sites",
            Metric::Programs => "Number of programs",
            Metric::Participants => "Number of participants (cumulative)",
            Metric::UniqueParticipants => "Unique participants",
            Metric::PersonDays => "Person-days",
            Metric::VolunteerHours => "Volunteer time (hours)",
            Metric::BiodiversityParticipants => "Biodiversity participants",
            Metric::DisasterReliefParticipants => "Disaster relief participants",
            Metric::ActiveSites => "Active sites",
            Metric::ImplementationRate => "Implementation rate (%)",
        }
    }
}

impl Figures {
    pub fn get(&self, m: Metric) -> Option<f64> {
        Some(match m {
            Metric::Sites => self.sites as f64,
            Metric::Programs => self.programs as f64,
            Metric::Participants => self.participants as f64,
            Metric::UniqueParticipants => self.unique_participants as f64,
            Metric::PersonDays => self.person_days as f64,
            Metric::VolunteerHours => self.volunteer_hours,
            Metric::BiodiversityParticipants => self.biodiversity_participants as f64,
            Metric::DisasterReliefParticipants => self.disaster_relief_participants as f64,
            Metric::ActiveSites => self.active_sites as f64,
            Metric::ImplementationRate => return self.implementation_rate,
        })
    }

    /// Sets the figures derived from the others: hours from minutes, the implementation rate.
    pub fn finish(mut self, minutes: i64) -> Figures {
        self.volunteer_minutes = minutes;
        self.volunteer_hours = round2(minutes as f64 / 60.0);
        self.implementation_rate = (self.active_sites > 0)
            .then(|| round1(self.sites as f64 * 100.0 / self.active_sites as f64));
        self
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A change on the year before.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Change {
    pub absolute: f64,
    /// `null` when the year before was 0.
    pub percent: Option<f64>,
}

pub fn change(now: Option<f64>, before: Option<f64>) -> Option<Change> {
    let (now, before) = (now?, before?);
    Some(Change {
        absolute: round2(now - before),
        percent: (before != 0.0).then(|| round1((now - before) * 100.0 / before)),
    })
}

/// Per-fiscal-year figures over `years`, from the summary tables: one row per year of
/// `stats_year`, three distinct counts per year from `stats_unique`, and the site registry.
pub fn figures(
    conn: &mut AnyConnection,
    fiscal: FiscalCalendar,
    years: std::ops::RangeInclusive<i32>,
    scope: &Scope,
) -> AppResult<BTreeMap<i32, Figures>> {
    let (lo, hi) = (*years.start(), *years.end());
    let key = scope.key();
    let sums: Vec<(i32, i32, i64, i64, i32, i32)> = stats_year::table
        .filter(stats_year::scope.eq(&key))
        .filter(stats_year::fiscal_year.between(lo, hi))
        .select((
            stats_year::fiscal_year,
            stats_year::participants,
            stats_year::minutes,
            stats_year::days,
            stats_year::biodiversity,
            stats_year::disaster_relief,
        ))
        .load(conn)?;
    let (programs_key, sites_key) = (scope::programs(&key), scope::sites(&key));
    let counts: Vec<(i32, String, i32)> = stats_unique::table
        .filter(stats_unique::scope.eq_any([key.clone(), programs_key.clone(), sites_key.clone()]))
        .filter(stats_unique::fiscal_year.between(lo, hi))
        .select((
            stats_unique::fiscal_year,
            stats_unique::scope,
            stats_unique::members,
        ))
        .load(conn)?;
    let active = active_sites(conn, fiscal, lo..=hi, scope)?;

    let mut out: BTreeMap<i32, (Figures, i64)> =
        (lo..=hi).map(|fy| (fy, (Figures::default(), 0))).collect();
    for (fy, participants, minutes, days, bio, relief) in sums {
        if let Some((f, m)) = out.get_mut(&fy) {
            f.participants = i64::from(participants);
            *m = minutes;
            f.person_days = days;
            f.biodiversity_participants = i64::from(bio);
            f.disaster_relief_participants = i64::from(relief);
        }
    }
    for (fy, kind, n) in counts {
        if let Some((f, _)) = out.get_mut(&fy) {
            let n = i64::from(n);
            if kind == programs_key {
                f.programs = n;
            } else if kind == sites_key {
                f.sites = n;
            } else {
                f.unique_participants = n;
            }
        }
    }
    Ok(out
        .into_iter()
        .map(|(fy, (mut f, minutes))| {
            f.active_sites = active.get(&fy).copied().unwrap_or(0);
            (fy, f.finish(minutes))
        })
        .collect())
}

/// The figures of fiscal year `fy` from its first day through the end of the calendar month of
/// `through`, from the programme-month summaries: what an unfinished year is compared with on
/// the year before. Unique participants cannot be split by month (they are counted per year),
/// so they stay 0 here and the report gives no change for them.
pub fn figures_through(
    conn: &mut AnyConnection,
    fiscal: FiscalCalendar,
    fy: i32,
    through: NaiveDate,
    scope: &Scope,
) -> AppResult<Figures> {
    use crate::db::schema::stats_program_month as spm;
    let Some((first, _)) = fiscal.dates(fy) else {
        return Ok(Figures::default());
    };
    let mut months = Vec::new();
    let mut day = first;
    while day <= through && months.len() < 12 {
        months.push(chrono::Datelike::month(&day) as i32);
        day = day
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(NaiveDate::MAX);
    }
    let mut q = spm::table
        .inner_join(sites::table)
        .filter(spm::fiscal_year.eq(fy))
        .filter(spm::month.eq_any(months))
        .select((
            spm::program_id,
            spm::site_id,
            spm::participants,
            spm::minutes,
            spm::days,
        ))
        .into_boxed();
    if let Some(id) = scope.site_id {
        q = q.filter(spm::site_id.eq(id));
    }
    if let Some(c) = scope.company_id {
        q = q.filter(sites::company_id.eq(c));
    }
    if let Some(r) = &scope.region {
        q = q.filter(sites::region.eq(r.clone()));
    }
    let rows: Vec<(Id, Id, i32, i32, i32)> = q.load(conn)?;
    let programs_seen: std::collections::BTreeSet<Id> = rows.iter().map(|r| r.0).collect();
    let mut lines: std::collections::HashMap<Id, (bool, bool)> = Default::default();
    let ids: Vec<Id> = programs_seen.iter().copied().collect();
    for chunk in ids.chunks(5000) {
        let pairs: Vec<(Id, String)> = program_categories::table
            .filter(program_categories::program_id.eq_any(chunk))
            .select((program_categories::program_id, program_categories::category))
            .load(conn)?;
        for (p, c) in pairs {
            let e = lines.entry(p).or_default();
            e.0 |= c == "biodiversity";
            e.1 |= c == "disaster_relief";
        }
    }
    let mut f = Figures {
        programs: programs_seen.len() as i64,
        sites: rows
            .iter()
            .map(|r| r.1)
            .collect::<std::collections::BTreeSet<_>>()
            .len() as i64,
        ..Figures::default()
    };
    let mut minutes = 0i64;
    for (program, _, participants, m, days) in &rows {
        f.participants += i64::from(*participants);
        minutes += i64::from(*m);
        f.person_days += i64::from(*days);
        let (bio, relief) = lines.get(program).copied().unwrap_or_default();
        if bio {
            f.biodiversity_participants += i64::from(*participants);
        }
        if relief {
            f.disaster_relief_participants += i64::from(*participants);
        }
    }
    let registry = site_registry(conn, scope)?;
    f.active_sites = registry
        .iter()
        .filter(|(opened, closed)| *opened <= through && closed.is_none_or(|c| c >= first))
        .count() as i64;
    Ok(f.finish(minutes))
}

/// The opening and closing dates of the sites in the scope.
fn site_registry(
    conn: &mut AnyConnection,
    scope: &Scope,
) -> QueryResult<Vec<(NaiveDate, Option<NaiveDate>)>> {
    let mut q = sites::table
        .select((sites::opened_on, sites::closed_on))
        .into_boxed();
    if let Some(s) = scope.site_id {
        q = q.filter(sites::id.eq(s));
    }
    if let Some(c) = scope.company_id {
        q = q.filter(sites::company_id.eq(c));
    }
    if let Some(r) = &scope.region {
        q = q.filter(sites::region.eq(r.clone()));
    }
    q.load(conn)
}

/// Sites open on any day of each year, within the scope (the registry is small: one read).
fn active_sites(
    conn: &mut AnyConnection,
    fiscal: FiscalCalendar,
    years: std::ops::RangeInclusive<i32>,
    scope: &Scope,
) -> AppResult<BTreeMap<i32, i64>> {
    let registry = site_registry(conn, scope)?;
    Ok(years
        .filter_map(|fy| {
            let (first, last) = fiscal.dates(fy)?;
            let n = registry
                .iter()
                .filter(|(opened, closed)| *opened <= last && closed.is_none_or(|c| c >= first))
                .count();
            Some((fy, i64::try_from(n).unwrap_or(i64::MAX)))
        })
        .collect())
}

/// The same figures straight from raw attendance: one aggregate query per year and line. What
/// the summaries must always equal, and what the benchmark compares them with.
pub fn naive(
    conn: &mut AnyConnection,
    fiscal: FiscalCalendar,
    years: std::ops::RangeInclusive<i32>,
    scope: &Scope,
) -> AppResult<BTreeMap<i32, Figures>> {
    let active = active_sites(conn, fiscal, years.clone(), scope)?;
    let mut out = BTreeMap::new();
    for fy in years {
        let Some((first, last)) = fiscal.dates(fy) else {
            continue;
        };
        macro_rules! raw {
            () => {{
                let mut q = attendance::table
                    .inner_join(events::table.inner_join(programs::table.inner_join(sites::table)))
                    .filter(attendance::status.eq("attended"))
                    .filter(attendance::approval.eq("approved"))
                    .filter(events::starts_on.between(first, last))
                    .into_boxed();
                if let Some(s) = scope.site_id {
                    q = q.filter(programs::site_id.eq(s));
                }
                if let Some(c) = scope.company_id {
                    q = q.filter(sites::company_id.eq(c));
                }
                if let Some(r) = &scope.region {
                    q = q.filter(sites::region.eq(r.clone()));
                }
                q
            }};
        }
        let (participants, unique, minutes, days, programs_n, sites_n): (
            i64,
            i64,
            Option<i64>,
            Option<i64>,
            i64,
            i64,
        ) = raw!()
            .select((
                count_star(),
                count(attendance::user_id).aggregate_distinct(),
                sum(attendance::minutes),
                sum(attendance::days),
                count(programs::id).aggregate_distinct(),
                count(programs::site_id).aggregate_distinct(),
            ))
            .first(conn)?;
        let line = |conn: &mut AnyConnection, category: &str| -> QueryResult<i64> {
            let in_line = program_categories::table
                .filter(program_categories::category.eq(category.to_owned()))
                .select(program_categories::program_id);
            raw!()
                .filter(programs::id.eq_any(in_line))
                .select(count_star())
                .first(conn)
        };
        let f = Figures {
            sites: sites_n,
            programs: programs_n,
            participants,
            unique_participants: unique,
            person_days: days.unwrap_or(0),
            biodiversity_participants: line(conn, "biodiversity")?,
            disaster_relief_participants: line(conn, "disaster_relief")?,
            active_sites: active.get(&fy).copied().unwrap_or(0),
            ..Figures::default()
        };
        out.insert(fy, f.finish(minutes.unwrap_or(0)));
    }
    Ok(out)
}
