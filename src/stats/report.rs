//! The annual-report table: figures per fiscal year with the change on the year before, as
//! JSON, as the CSV the report is laid out in, and as an SVG chart.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use crate::stats::mdd::{Change, Figures, Metric, change};
use crate::time::FiscalCalendar;

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
fn cell(m: Metric, v: Option<f64>) -> String {
    match (m, v) {
        (_, None) => String::new(),
        (Metric::ImplementationRate, Some(v)) => format!("{v:.1}"),
        (_, Some(v)) => format!("{}", v.round() as i64),
    }
}

/// One row per figure, one column per fiscal year, then the last year's change (absolute and
/// percent). RFC 4180; every cell is a number or a fixed label, so nothing needs quoting.
pub fn csv(years: &[YearReport]) -> String {
    let mut out = String::from("Figure");
    for y in years {
        let _ = write!(out, ",Fiscal {}", y.fiscal_year);
    }
    out.push_str(",Change,Change (%)\r\n");
    for m in Metric::ALL {
        out.push_str(m.label());
        for y in years {
            out.push(',');
            out.push_str(&cell(m, y.figures.get(m)));
        }
        let last = years.last().and_then(|y| y.change.get(m.as_str()));
        match (m, last) {
            (Metric::ImplementationRate, Some(c)) => {
                let _ = write!(out, ",{:.1},", c.absolute);
            }
            (_, Some(c)) => {
                let _ = write!(out, ",{},", c.absolute.round() as i64);
            }
            (_, None) => out.push_str(",,"),
        }
        if let Some(p) = last.and_then(|c| c.percent) {
            let _ = write!(out, "{p:.1}");
        }
        out.push_str("\r\n");
    }
    out
}

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
