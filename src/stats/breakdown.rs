//! One fiscal year's figures split by site, company, region, theme, category or month, from
//! the summary tables (one year is a few thousand programme-month rows).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::{
    categories, companies, program_categories, programs, sites, stats_program_month, stats_unique,
};
use crate::db::{AnyConnection, Id};
use crate::error::AppResult;
use crate::stats::mdd::Figures;
use crate::stats::rollup::scope;
use crate::time::FiscalCalendar;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum By {
    Site,
    Company,
    Region,
    Theme,
    Category,
    Month,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BreakdownRow {
    /// The group: a site or company id, a region, theme or category code, or a month (1-12).
    pub key: String,
    pub label: String,
    /// `active_sites` and `implementation_rate` only for site, company and region groups.
    pub figures: Figures,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Breakdown {
    pub fiscal_year: i32,
    pub by: By,
    /// Months in fiscal order; other groups by label.
    pub rows: Vec<BreakdownRow>,
}

#[derive(Default)]
struct Acc {
    participants: i64,
    minutes: i64,
    days: i64,
    programs: BTreeSet<Id>,
    sites: BTreeSet<Id>,
    biodiversity: i64,
    disaster_relief: i64,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

pub fn breakdown(
    conn: &mut AnyConnection,
    fiscal: FiscalCalendar,
    fy: i32,
    by: By,
) -> AppResult<Breakdown> {
    type Row = (i32, Id, Id, i32, i32, i32, Id, String, String);
    let rows: Vec<Row> = stats_program_month::table
        .inner_join(programs::table)
        .inner_join(sites::table)
        .filter(stats_program_month::fiscal_year.eq(fy))
        .select((
            stats_program_month::month,
            stats_program_month::program_id,
            stats_program_month::site_id,
            stats_program_month::participants,
            stats_program_month::minutes,
            stats_program_month::days,
            sites::company_id,
            sites::region,
            programs::theme,
        ))
        .load(conn)?;
    let program_ids: Vec<Id> = rows
        .iter()
        .map(|r| r.1)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut cats: HashMap<Id, Vec<String>> = HashMap::new();
    for chunk in program_ids.chunks(5000) {
        let pairs: Vec<(Id, String)> = program_categories::table
            .filter(program_categories::program_id.eq_any(chunk))
            .select((program_categories::program_id, program_categories::category))
            .load(conn)?;
        for (p, c) in pairs {
            cats.entry(p).or_default().push(c);
        }
    }
    let mut groups: BTreeMap<String, Acc> = BTreeMap::new();
    for (month, program, site, p, minutes, days, company, region, theme) in rows {
        let in_cats = cats.get(&program).cloned().unwrap_or_default();
        let keys: Vec<String> = match by {
            By::Site => vec![site.to_string()],
            By::Company => vec![company.to_string()],
            By::Region => vec![region],
            By::Theme => vec![theme],
            By::Category => in_cats.clone(),
            By::Month => vec![month.to_string()],
        };
        for key in keys {
            let a = groups.entry(key).or_default();
            a.participants += i64::from(p);
            a.minutes += i64::from(minutes);
            a.days += i64::from(days);
            a.programs.insert(program);
            a.sites.insert(site);
            if in_cats.iter().any(|c| c == "biodiversity") {
                a.biodiversity += i64::from(p);
            }
            if in_cats.iter().any(|c| c == "disaster_relief") {
                a.disaster_relief += i64::from(p);
            }
        }
    }
    let key_of = |k: &str| match by {
        By::Site => scope::site(k.parse().unwrap_or_default()),
        By::Company => scope::company(k.parse().unwrap_or_default()),
        By::Region => scope::region(k),
        By::Theme => scope::theme(k),
        By::Category => scope::category(k),
        By::Month => scope::month(k.parse().unwrap_or(0)),
    };
    let uniques: HashMap<String, i32> = stats_unique::table
        .filter(stats_unique::fiscal_year.eq(fy))
        .select((stats_unique::scope, stats_unique::members))
        .load::<(String, i32)>(conn)?
        .into_iter()
        .collect();
    let active = active_by_group(conn, fiscal, fy, by)?;
    let labels = labels(conn, by)?;
    let mut out: Vec<BreakdownRow> = groups
        .into_iter()
        .map(|(key, a)| {
            let mut f = Figures {
                sites: a.sites.len() as i64,
                programs: a.programs.len() as i64,
                participants: a.participants,
                unique_participants: uniques.get(&key_of(&key)).copied().map_or(0, i64::from),
                person_days: a.days,
                volunteer_hours: (a.minutes as f64 / 60.0 * 100.0).round() / 100.0,
                biodiversity_participants: a.biodiversity,
                disaster_relief_participants: a.disaster_relief,
                active_sites: 0,
                implementation_rate: None,
            };
            if let Some(n) = active.as_ref().map(|m| m.get(&key).copied().unwrap_or(0)) {
                f.active_sites = n;
                f.implementation_rate =
                    (n > 0).then(|| (f.sites as f64 * 1000.0 / n as f64).round() / 10.0);
            }
            let label = match by {
                By::Month => key
                    .parse::<usize>()
                    .ok()
                    .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
                    .map_or_else(|| key.clone(), |m| (*m).to_owned()),
                _ => labels.get(&key).cloned().unwrap_or_else(|| key.clone()),
            };
            BreakdownRow {
                key,
                label,
                figures: f,
            }
        })
        .collect();
    match by {
        By::Month => {
            let start = i32::try_from(fiscal.start_month()).unwrap_or(1);
            out.sort_by_key(|r| (r.key.parse::<i32>().unwrap_or(0) - start).rem_euclid(12));
        }
        _ => out.sort_by(|a, b| a.label.cmp(&b.label).then(a.key.cmp(&b.key))),
    }
    Ok(Breakdown {
        fiscal_year: fy,
        by,
        rows: out,
    })
}

/// Names for ids and codes.
fn labels(conn: &mut AnyConnection, by: By) -> QueryResult<HashMap<String, String>> {
    let pairs: Vec<(String, String)> = match by {
        By::Site => sites::table
            .select((sites::id, sites::name))
            .load::<(Id, String)>(conn)?
            .into_iter()
            .map(|(id, n)| (id.to_string(), n))
            .collect(),
        By::Company => companies::table
            .select((companies::id, companies::name))
            .load::<(Id, String)>(conn)?
            .into_iter()
            .map(|(id, n)| (id.to_string(), n))
            .collect(),
        By::Category => categories::table
            .select((categories::code, categories::label))
            .load(conn)?,
        By::Region => vec![
            ("domestic".into(), "Domestic".into()),
            ("overseas".into(), "Overseas".into()),
        ],
        By::Theme => vec![
            ("nature".into(), "Nature".into()),
            ("education".into(), "Education".into()),
            ("community".into(), "Community".into()),
        ],
        By::Month => Vec::new(),
    };
    Ok(pairs.into_iter().collect())
}

/// Active sites per site/company/region group; `None` for groupings without sites.
fn active_by_group(
    conn: &mut AnyConnection,
    fiscal: FiscalCalendar,
    fy: i32,
    by: By,
) -> QueryResult<Option<HashMap<String, i64>>> {
    if !matches!(by, By::Site | By::Company | By::Region) {
        return Ok(None);
    }
    let Some((first, last)) = fiscal.dates(fy) else {
        return Ok(Some(HashMap::new()));
    };
    let registry: Vec<(Id, Id, String, NaiveDate, Option<NaiveDate>)> = sites::table
        .select((
            sites::id,
            sites::company_id,
            sites::region,
            sites::opened_on,
            sites::closed_on,
        ))
        .load(conn)?;
    let mut out: HashMap<String, i64> = HashMap::new();
    for (id, company, region, opened, closed) in registry {
        if opened <= last && closed.is_none_or(|c| c >= first) {
            let key = match by {
                By::Site => id.to_string(),
                By::Company => company.to_string(),
                _ => region,
            };
            *out.entry(key).or_default() += 1;
        }
    }
    Ok(Some(out))
}
