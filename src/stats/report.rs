//! The annual-report table: figures per fiscal year with the change on the year before, as
//! JSON, as the CSV the report is laid out in, and as an SVG chart.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{AnyConnection, Timestamp};
use crate::error::{AppError, AppResult};
use crate::sheet::{Cell, Sheet};
use crate::stats::mdd::{Change, Figures, Metric, Scope, change};
use crate::time::{FiscalCalendar, checked_year};

#[derive(Debug, Serialize, ToSchema)]
pub struct YearReport {
    pub fiscal_year: i32,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub figures: Figures,
    /// Per figure, the change on the year before (absent where a figure is `null`).
    pub change: BTreeMap<&'static str, Change>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MddReport {
    pub fiscal_year_start_month: u32,
    pub from: i32,
    pub to: i32,
    pub site_id: Option<uuid::Uuid>,
    pub company_id: Option<uuid::Uuid>,
    pub region: Option<String>,
    /// Oldest first.
    pub years: Vec<YearReport>,
}

/// Builds the report from figures of `from - 1 ..= to` (the extra year gives `from` its change).
pub fn build(
    fiscal: FiscalCalendar,
    from: i32,
    to: i32,
    figures: &BTreeMap<i32, Figures>,
) -> Vec<YearReport> {
    (from..=to)
        .filter_map(|fy| {
            let (first_day, last_day) = fiscal.dates(fy)?;
            let now = figures.get(&fy).copied().unwrap_or_default();
            let before = figures.get(&(fy - 1)).copied().unwrap_or_default();
            let change = Metric::ALL
                .into_iter()
                .filter_map(|m| Some((m.as_str(), change(now.get(m), before.get(m))?)))
                .collect();
            Some(YearReport {
                fiscal_year: fy,
                first_day,
                last_day,
                figures: now,
                change,
            })
        })
        .collect()
}

/// A figure as the report prints it: counts as integers, hours rounded to whole hours, the
/// implementation rate with one decimal.
fn cell(m: Metric, v: f64) -> Cell<'static> {
    match m {
        Metric::ImplementationRate => Cell::Fixed(v, 1),
        // `+ 0.0` turns a rounded -0.4 (-0.0) into 0, as the report prints it.
        _ => Cell::Fixed(v.round() + 0.0, 0),
    }
}

/// One row per figure, one column per fiscal year, then the last year's change (absolute and
/// percent), through the shared sheet writer (RFC 4180).
pub fn csv(years: &[YearReport]) -> std::io::Result<Vec<u8>> {
    let mut sheet = Sheet::csv_in_memory(false);
    let mut header = vec!["Figure".to_owned()];
    header.extend(years.iter().map(|y| format!("Fiscal {}", y.fiscal_year)));
    header.extend(["Change".to_owned(), "Change (%)".to_owned()]);
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    sheet.header(&header)?;
    for m in Metric::ALL {
        let mut row = vec![Cell::Text(m.label())];
        row.extend(
            years
                .iter()
                .map(|y| y.figures.get(m).map_or(Cell::Text(""), |v| cell(m, v))),
        );
        let last = years.last().and_then(|y| y.change.get(m.as_str()));
        row.push(last.map_or(Cell::Text(""), |c| cell(m, c.absolute)));
        row.push(
            last.and_then(|c| c.percent)
                .map_or(Cell::Text(""), |p| Cell::Fixed(p, 1)),
        );
        sheet.row(&row)?;
    }
    sheet.finish()
}

/// The fiscal years a report covers: `to` defaults to the current year, `from` to two before
/// it; at most [`MAX_YEARS`], and at most one of site, company and region as the scope.
pub fn select(
    conn: &mut AnyConnection,
    scope: &Scope,
    from: Option<i32>,
    to: Option<i32>,
) -> AppResult<(FiscalCalendar, i32, i32, BTreeMap<i32, Figures>)> {
    let given = [
        scope.site_id.is_some(),
        scope.company_id.is_some(),
        scope.region.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(AppError::bad_request(
            "invalid_query",
            "give at most one of site_id, company_id and region",
        ));
    }
    // The calendar the summaries were computed with (see `rollup::calendar`).
    let fiscal = crate::stats::rollup::calendar(conn)?;
    let current = fiscal.year_of(Timestamp::now().get().date_naive());
    let to = checked_year("to", to.unwrap_or(current))?;
    let from = checked_year("from", from.unwrap_or(to - 2))?;
    if from > to || to - from >= MAX_YEARS {
        return Err(AppError::bad_request(
            "invalid_query",
            format!("from must not be after to, and a report spans at most {MAX_YEARS} years"),
        ));
    }
    let figures = crate::stats::mdd::figures(conn, fiscal, from - 1..=to, scope)?;
    Ok((fiscal, from, to, figures))
}

/// The most fiscal years one report spans.
pub const MAX_YEARS: i32 = 30;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Participants and volunteer hours per fiscal year as paired bars, each labelled with its value
/// and its change on the year before.
pub fn svg(years: &[YearReport], title: &str) -> String {
    const W: f64 = 720.0;
    const H: f64 = 400.0;
    const TOP: f64 = 70.0;
    const BOTTOM: f64 = 330.0;
    const LEFT: f64 = 40.0;
    let max = |f: fn(&Figures) -> f64| {
        years
            .iter()
            .map(|y| f(&y.figures))
            .fold(0.0_f64, f64::max)
            .max(1.0)
    };
    let max_p = max(|f| f.participants as f64);
    let max_h = max(|f| f.volunteer_hours);
    let slot = (W - 2.0 * LEFT) / years.len().max(1) as f64;
    let bar = (slot / 3.0).min(60.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n\
         <text x=\"{LEFT}\" y=\"28\" font-size=\"18\" font-weight=\"bold\">{}</text>\n\
         <rect x=\"{LEFT}\" y=\"40\" width=\"12\" height=\"12\" fill=\"#2f7d4f\"/>\
         <text x=\"{}\" y=\"50\">Participants (cumulative)</text>\n\
         <rect x=\"260\" y=\"40\" width=\"12\" height=\"12\" fill=\"#4a78b5\"/>\
         <text x=\"277\" y=\"50\">Volunteer hours</text>\n\
         <line x1=\"{LEFT}\" y1=\"{BOTTOM}\" x2=\"{}\" y2=\"{BOTTOM}\" stroke=\"#444\"/>\n",
        escape(title),
        LEFT + 17.0,
        W - LEFT
    );
    let pct = |y: &YearReport, key: &str| {
        y.change
            .get(key)
            .and_then(|c| c.percent)
            .map(|p| format!("{p:+.1} %"))
            .unwrap_or_default()
    };
    for (i, y) in years.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - 2.0 * bar) / 2.0;
        let hp = (BOTTOM - TOP - 30.0) * y.figures.participants as f64 / max_p;
        let hh = (BOTTOM - TOP - 30.0) * y.figures.volunteer_hours / max_h;
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{hp:.1}\" fill=\"#2f7d4f\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555\">{}</text>\n\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{hh:.1}\" fill=\"#4a78b5\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555\">{}</text>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\">Fiscal {}</text>\n",
            BOTTOM - hp,
            x + bar / 2.0,
            BOTTOM - hp - 18.0,
            y.figures.participants,
            x + bar / 2.0,
            BOTTOM - hp - 5.0,
            pct(y, "participants"),
            x + bar,
            BOTTOM - hh,
            x + bar * 1.5,
            BOTTOM - hh - 18.0,
            y.figures.volunteer_hours.round() as i64,
            x + bar * 1.5,
            BOTTOM - hh - 5.0,
            pct(y, "volunteer_hours"),
            x + bar,
            BOTTOM + 20.0,
            y.fiscal_year,
        );
    }
    s.push_str("</svg>\n");
    s
}
