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

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BreakdownRow {
    /// The group: a site or company id, a region, theme or category code, or a month (1-12).
    pub key: String,
    pub label: String,
    /// `active_sites` and `implementation_rate` only for site, company and region groups.
    pub figures: Figures,
}

/// Every group of the year, those with nothing recorded included (every site, company and
/// region with a site open that year, every theme, category and month), so a 0 % rate shows
/// and the rows add up: for site, company, region, theme and month the participants, person-days,
/// minutes and category lines of the rows sum to `total` (programmes and sites too where a
/// programme belongs to one group: site, company, region; programmes for theme). A programme
/// in two categories counts in both category rows (as in the report's lines); programmes with
/// none form the `none` row.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Breakdown {
    pub fiscal_year: i32,
    pub by: By,
    /// Months in fiscal order; other groups by label.
    pub rows: Vec<BreakdownRow>,
    /// The year's figures for the whole group.
    pub total: Figures,
    /// A closed year's published version these rows are from (`null`: as the records are now).
    #[serde(default)]
    pub published_version: Option<i32>,
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
            By::Category if in_cats.is_empty() => vec![NO_CATEGORY.to_owned()],
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
    // Groups with nothing recorded still get their row.
    let every: Vec<String> = match (by, &active) {
        (By::Site | By::Company | By::Region, Some(open)) => open.keys().cloned().collect(),
        (By::Month, _) => (1..=12).map(|m| m.to_string()).collect(),
        _ => labels.keys().cloned().collect(),
    };
    for key in every {
        groups.entry(key).or_default();
    }
    let mut out: Vec<BreakdownRow> = groups
        .into_iter()
        .map(|(key, a)| {
            let active_sites = active.as_ref().map(|m| m.get(&key).copied().unwrap_or(0));
            let mut f = Figures {
                sites: a.sites.len() as i64,
                programs: a.programs.len() as i64,
                participants: a.participants,
                unique_participants: uniques.get(&key_of(&key)).copied().map_or(0, i64::from),
                person_days: a.days,
                biodiversity_participants: a.biodiversity,
                disaster_relief_participants: a.disaster_relief,
                active_sites: active_sites.unwrap_or(0),
                ..Figures::default()
            }
            .finish(a.minutes);
            if active_sites.is_none() {
                f.implementation_rate = None;
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
    let total =
        crate::stats::mdd::figures(conn, fiscal, fy..=fy, &crate::stats::mdd::Scope::default())?
            .remove(&fy)
            .unwrap_or_default();
    Ok(Breakdown {
        fiscal_year: fy,
        by,
        rows: out,
        total,
        published_version: None,
    })
}

/// The key of the category row of programmes without a category.
pub const NO_CATEGORY: &str = "none";

/// The breakdown as CSV: see [`sheet`].
pub fn csv(b: &Breakdown, bom: bool) -> std::io::Result<Vec<u8>> {
    sheet(b, crate::sheet::Kind::Csv { bom })
}

/// The breakdown as a sheet (CSV or XLSX): the group's key and label, then every figure, then
/// the total.
pub fn sheet(b: &Breakdown, kind: crate::sheet::Kind) -> std::io::Result<Vec<u8>> {
    use crate::sheet::{Cell, Sheet};
    use crate::stats::mdd::Metric;
    let mut sheet = Sheet::new(kind, Vec::new(), "Breakdown")?;
    let mut header = vec!["Key", "Group"];
    header.extend(Metric::ALL.iter().map(|m| m.label()));
    sheet.header(&header)?;
    let figures = |f: &Figures| -> Vec<Cell<'static>> {
        Metric::ALL
            .iter()
            .map(|m| match f.get(*m) {
                None => Cell::Text(""),
                Some(v) if *m == Metric::ImplementationRate => Cell::Fixed(v, 1),
                Some(v) if *m == Metric::VolunteerHours => Cell::Fixed(v, 2),
                Some(v) => Cell::Number(v),
            })
            .collect()
    };
    for r in &b.rows {
        let mut row = vec![Cell::Text(&r.key), Cell::Text(&r.label)];
        row.extend(figures(&r.figures));
        sheet.row(&row)?;
    }
    let mut row = vec![Cell::Text(""), Cell::Text("Total")];
    row.extend(figures(&b.total));
    sheet.row(&row)?;
    sheet.finish()
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
        By::Category => {
            let mut all: Vec<(String, String)> = categories::table
                .select((categories::code, categories::label))
                .load(conn)?;
            all.push((NO_CATEGORY.into(), "No category".into()));
            all
        }
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
