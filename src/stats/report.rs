//! The annual-report table: figures per fiscal year with the change on the year before, as
//! JSON, as the CSV the report is laid out in, and as an SVG chart.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{AnyConnection, Timestamp};
use crate::error::{AppError, AppResult};
use crate::sheet::{Cell, Sheet};
use crate::stats::closing::{View, differences, published_closed};
use crate::stats::mdd::{Change, Figures, Metric, Scope, change};
use crate::time::{FiscalCalendar, checked_year};

#[derive(Debug, Serialize, ToSchema)]
pub struct YearReport {
    pub fiscal_year: i32,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub figures: Figures,
    /// Per figure, the change on the year before (absent where a figure is `null`). For a year
    /// in progress: on the same months of the year before (see `compared_through`), with no
    /// change for unique participants (counted per whole year only).
    pub change: BTreeMap<&'static str, Change>,
    /// The year has not ended: its figures are the year so far.
    pub in_progress: bool,
    /// For a year in progress, the last day of the year before's period its change compares
    /// with: the end of the current month, a year earlier.
    pub compared_through: Option<NaiveDate>,
    /// A closed year: the published version its figures are from (`null` for the current
    /// figures: an open year, or `figures=current`).
    pub published_version: Option<i32>,
    /// With `figures=both`, for a closed year: its figures as the records are now...
    pub current: Option<Figures>,
    /// ...and per figure, current minus published, for the figures that differ.
    pub differences: Option<BTreeMap<&'static str, f64>>,
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

/// The year so far of an unfinished fiscal year, and the same months of the year before.
pub struct InProgress {
    pub fiscal_year: i32,
    /// The last day of the period of the year before.
    pub through: NaiveDate,
    pub before: Figures,
}

/// Builds the report from figures of `from - 1 ..= to` (the extra year gives `from` its change).
pub fn build(
    fiscal: FiscalCalendar,
    from: i32,
    to: i32,
    figures: &BTreeMap<i32, Figures>,
    in_progress: Option<&InProgress>,
) -> Vec<YearReport> {
    (from..=to)
        .filter_map(|fy| {
            let (first_day, last_day) = fiscal.dates(fy)?;
            let now = figures.get(&fy).copied().unwrap_or_default();
            let partial = in_progress.filter(|p| p.fiscal_year == fy);
            let before = match partial {
                Some(p) => p.before,
                None => figures.get(&(fy - 1)).copied().unwrap_or_default(),
            };
            let change = Metric::ALL
                .into_iter()
                .filter(|m| partial.is_none() || *m != Metric::UniqueParticipants)
                .filter_map(|m| Some((m.as_str(), change(now.get(m), before.get(m))?)))
                .collect();
            Some(YearReport {
                fiscal_year: fy,
                first_day,
                last_day,
                figures: now,
                change,
                in_progress: partial.is_some(),
                compared_through: partial.map(|p| p.through),
                published_version: None,
                current: None,
                differences: None,
            })
        })
        .collect()
}

/// Decimals a figure is printed with: counts as integers, hours and the implementation rate
/// with one decimal.
fn decimals(m: Metric) -> i32 {
    match m {
        Metric::VolunteerHours | Metric::ImplementationRate => 1,
        _ => 0,
    }
}

/// `v` rounded as the report prints it (`+ 0.0` turns a rounded -0.04 (-0.0) into 0).
fn shown(m: Metric, v: f64) -> f64 {
    let scale = 10f64.powi(decimals(m));
    (v * scale).round() / scale + 0.0
}

/// `v` as the report prints it, digits grouped by thousands: "153,788", "12,345.7". The
/// pages show the figures this way, so a cell reads the same on the page, in the CSV and on
/// the chart.
pub fn printed(m: Metric, v: f64) -> String {
    grouped(shown(m, v), decimals(m) as usize)
}

/// A change as printed: "+1,234", "-12.5", "0".
pub fn printed_change(m: Metric, v: f64) -> String {
    let text = printed(m, v);
    if shown(m, v) > 0.0 {
        format!("+{text}")
    } else {
        text
    }
}

fn cell(m: Metric, v: f64) -> Cell<'static> {
    Cell::Fixed(shown(m, v), decimals(m) as usize)
}

/// One row per figure, one column per fiscal year, then the last year's change (absolute and
/// percent), through the shared sheet writer (RFC 4180). The change is computed from the
/// figures as printed, so a reader who subtracts the printed columns gets the printed change.
pub fn csv(years: &[YearReport], bom: bool) -> std::io::Result<Vec<u8>> {
    sheet(years, crate::sheet::Kind::Csv { bom })
}

/// The report table as CSV or XLSX (the same cells).
pub fn sheet(years: &[YearReport], kind: crate::sheet::Kind) -> std::io::Result<Vec<u8>> {
    let mut sheet = Sheet::new(kind, Vec::new(), "Report")?;
    let mut header = vec!["Figure".to_owned()];
    header.extend(years.iter().map(|y| {
        let mark = if y.in_progress { " (in progress)" } else { "" };
        format!("Fiscal {}{mark}", y.fiscal_year)
    }));
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
        let last = years.last();
        let printed = last.and_then(|y| {
            let now = y.figures.get(m)?;
            let before = now - y.change.get(m.as_str())?.absolute;
            Some((shown(m, now), shown(m, before)))
        });
        match printed {
            Some((now, before)) => {
                row.push(cell(m, now - before));
                row.push(if before == 0.0 {
                    Cell::Text("")
                } else {
                    Cell::Fixed(((now - before) * 1000.0 / before).round() / 10.0 + 0.0, 1)
                });
            }
            None => row.extend([Cell::Text(""), Cell::Text("")]),
        }
        sheet.row(&row)?;
    }
    sheet.finish()
}

/// What [`select`] found: the calendar, the years, their figures, and the unfinished year's
/// comparison when the range reaches it.
pub struct Selected {
    pub fiscal: FiscalCalendar,
    pub from: i32,
    pub to: i32,
    /// Closed years' published figures unless the view is `current`.
    pub figures: BTreeMap<i32, Figures>,
    pub in_progress: Option<InProgress>,
    pub view: View,
    /// Closed years: (published version, published figures, current figures).
    pub closed: BTreeMap<i32, (i32, Figures, Figures)>,
}

impl Selected {
    /// Builds the report and marks its closed years as the view asks.
    pub fn report(&self) -> Vec<YearReport> {
        let mut years = build(
            self.fiscal,
            self.from,
            self.to,
            &self.figures,
            self.in_progress.as_ref(),
        );
        if self.view == View::Current {
            return years;
        }
        for y in &mut years {
            if let Some((version, published, current)) = self.closed.get(&y.fiscal_year) {
                y.published_version = Some(*version);
                if self.view == View::Both {
                    y.current = Some(*current);
                    y.differences = Some(differences(published, current));
                }
            }
        }
        years
    }
}

/// The fiscal years a report covers: `to` defaults to the last completed year (a year still
/// running would read as a fall on every line), `from` to two before it; at most
/// [`MAX_YEARS`], and at most one of site, company and region as the scope. Asked for, the
/// current year comes as the year so far, compared with the same months of the year before.
pub fn select(
    conn: &mut AnyConnection,
    scope: &Scope,
    from: Option<i32>,
    to: Option<i32>,
    view: View,
) -> AppResult<Selected> {
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
    let today = Timestamp::now().get().date_naive();
    let current = fiscal.year_of(today);
    let to = checked_year("to", to.unwrap_or(current - 1))?;
    let from = checked_year("from", from.unwrap_or(to - 2))?;
    if from > to || to - from >= MAX_YEARS {
        return Err(AppError::bad_request(
            "invalid_query",
            format!("from must not be after to, and a report spans at most {MAX_YEARS} years"),
        ));
    }
    let mut figures = crate::stats::mdd::figures(conn, fiscal, from - 1..=to, scope)?;
    let mut closed = BTreeMap::new();
    if view != View::Current {
        for (fy, (version, published)) in published_closed(conn, from - 1..=to, scope)? {
            let current = figures.insert(fy, published).unwrap_or_default();
            closed.insert(fy, (version, published, current));
        }
    }
    let in_progress = match (from..=to).contains(&current) {
        true => {
            let end_of_month = today
                .with_day(1)
                .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
                .and_then(|d| d.pred_opt())
                .unwrap_or(today);
            let through = end_of_month
                .checked_sub_months(chrono::Months::new(12))
                .unwrap_or(end_of_month);
            let before =
                crate::stats::mdd::figures_through(conn, fiscal, current - 1, through, scope)?;
            Some(InProgress {
                fiscal_year: current,
                through,
                before,
            })
        }
        false => None,
    };
    Ok(Selected {
        fiscal,
        from,
        to,
        figures,
        in_progress,
        view,
        closed,
    })
}

/// The most fiscal years one report spans.
pub const MAX_YEARS: i32 = 30;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The language of a chart's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    pub fn parse(s: Option<&str>) -> Lang {
        match s {
            Some("ja") => Lang::Ja,
            _ => Lang::En,
        }
    }
}

/// "Fiscal 2011–2012" / "2011～2012年度" (one year: "Fiscal 2012" / "2012年度").
pub fn title(from: i32, to: i32, lang: Lang) -> String {
    match (lang, from == to) {
        (Lang::En, true) => format!("Fiscal {to}"),
        (Lang::En, false) => format!("Fiscal {from}\u{2013}{to}"),
        (Lang::Ja, true) => format!("{to}年度"),
        (Lang::Ja, false) => format!("{from}\u{ff5e}{to}年度"),
    }
}

/// 153788 → "153,788"; 12.5 → "12.5".
fn grouped(v: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, v.abs());
    let (int, frac) = text
        .split_once('.')
        .map_or((text.as_str(), ""), |(i, f)| (i, f));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    if v < 0.0 && v.abs() >= 0.5 * 10f64.powi(-(decimals as i32)) {
        out.insert(0, '-');
    }
    out
}

/// A round step for about four ticks up to `max` (1, 2 or 5 times a power of ten).
fn tick_step(max: f64) -> f64 {
    let raw = (max / 4.0).max(1.0);
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power)
}

/// The report as a chart: one panel per figure (participants, volunteer hours), each with its
/// own axis and ticks, every bar labelled with its value and its change on the year before.
/// Accessible: a `<title>` and a `<desc>` that states every number; the same numbers are in
/// the JSON and CSV forms.
pub fn svg(years: &[YearReport], title: &str, lang: Lang) -> String {
    const W: f64 = 720.0;
    const PANEL: f64 = 210.0;
    const TOP: f64 = 56.0;
    const LEFT: f64 = 80.0;
    const RIGHT: f64 = 24.0;
    let panels: [(Metric, &str, &str, usize); 2] = [
        (
            Metric::Participants,
            "Participants (cumulative)",
            "参加者数（延べ）",
            0,
        ),
        (
            Metric::VolunteerHours,
            "Volunteer time (hours)",
            "活動時間（時間）",
            1,
        ),
    ];
    let h = TOP + PANEL * panels.len() as f64 + 10.0;
    let year_label = |y: &YearReport| {
        let mark = match (lang, y.in_progress) {
            (Lang::En, true) => " (in progress)",
            (Lang::Ja, true) => "（集計中）",
            _ => "",
        };
        match lang {
            Lang::En => format!("FY{}{mark}", y.fiscal_year),
            Lang::Ja => format!("{}年度{mark}", y.fiscal_year),
        }
    };
    let mut desc = Vec::new();
    for (m, en, ja, d) in panels {
        let name = if lang == Lang::Ja { ja } else { en };
        let values: Vec<String> = years
            .iter()
            .map(|y| {
                format!(
                    "{} {}",
                    year_label(y),
                    grouped(y.figures.get(m).unwrap_or(0.0), d)
                )
            })
            .collect();
        desc.push(format!("{name}: {}", values.join(", ")));
    }
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{h}\" viewBox=\"0 0 {W} {h}\" \
         role=\"img\" aria-labelledby=\"chart-title chart-desc\" \
         font-family=\"'Noto Sans CJK JP', 'Noto Sans', sans-serif\" font-size=\"12\">\n\
         <title id=\"chart-title\">{}</title>\n<desc id=\"chart-desc\">{}</desc>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n\
         <text x=\"{LEFT}\" y=\"30\" font-size=\"18\" font-weight=\"bold\">{}</text>\n",
        escape(title),
        escape(&desc.join("; ")),
        escape(title),
    );
    let slot = (W - LEFT - RIGHT) / years.len().max(1) as f64;
    let bar = (slot * 0.5).min(90.0);
    for (p, (m, en, ja, d)) in panels.into_iter().enumerate() {
        let top = TOP + PANEL * p as f64;
        let (plot_top, plot_bottom) = (top + 40.0, top + PANEL - 36.0);
        let max = years
            .iter()
            .map(|y| y.figures.get(m).unwrap_or(0.0))
            .fold(0.0_f64, f64::max);
        let step = tick_step(max);
        let ticks = (max / step).ceil().max(1.0) as usize;
        let scale_max = step * ticks as f64;
        let y_of = |v: f64| plot_bottom - (plot_bottom - plot_top) * v / scale_max;
        let name = if lang == Lang::Ja { ja } else { en };
        let color = if p == 0 { "#2f6f4f" } else { "#3b6aa8" };
        let _ = writeln!(
            s,
            "<g><text x=\"{LEFT}\" y=\"{:.1}\" font-size=\"14\" font-weight=\"bold\">{}</text>",
            top + 18.0,
            escape(name)
        );
        for t in 0..=ticks {
            let v = step * t as f64;
            let y = y_of(v);
            let _ = writeln!(
                s,
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#333\">{}</text>",
                W - RIGHT,
                if t == 0 { "#333" } else { "#ddd" },
                LEFT - 6.0,
                y + 4.0,
                grouped(v, 0)
            );
        }
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{plot_top:.1}\" x2=\"{LEFT}\" y2=\"{plot_bottom:.1}\" stroke=\"#333\"/>"
        );
        for (i, y) in years.iter().enumerate() {
            let v = y.figures.get(m).unwrap_or(0.0);
            let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
            let change = y
                .change
                .get(m.as_str())
                .and_then(|c| c.percent)
                .map(|pc| format!(" ({pc:+.1} %)"))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{:.1}\" fill=\"{color}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}{}</text>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>",
                y_of(v),
                plot_bottom - y_of(v),
                x + bar / 2.0,
                y_of(v) - 6.0,
                grouped(v, d),
                escape(&change),
                x + bar / 2.0,
                plot_bottom + 18.0,
                escape(&year_label(y)),
            );
        }
        s.push_str("</g>\n");
    }
    s.push_str("</svg>\n");
    s
}

/// Characters of a group's name the bar chart shows before it shortens it (the description
/// keeps it whole).
const BAR_LABEL_CHARS: usize = 26;

/// One figure per group as horizontal bars, in the order given (a breakdown's rows as the
/// table sorts them): a title, a description that states every number, a labelled bar per
/// group, each number as the table prints it.
pub fn bars(title: &str, metric: Metric, figure: &str, rows: &[(String, f64)]) -> String {
    const W: f64 = 720.0;
    const LEFT: f64 = 210.0;
    const RIGHT: f64 = 90.0;
    const TOP: f64 = 70.0;
    const ROW: f64 = 26.0;
    let h = TOP + ROW * rows.len().max(1) as f64 + 34.0;
    let max = rows.iter().map(|r| r.1).fold(0.0_f64, f64::max);
    let step = tick_step(max);
    let ticks = (max / step).ceil().max(1.0) as usize;
    let scale_max = step * ticks as f64;
    let x_of = |v: f64| LEFT + (W - LEFT - RIGHT) * v / scale_max;
    let desc: Vec<String> = rows
        .iter()
        .map(|(label, v)| format!("{label} {}", printed(metric, *v)))
        .collect();
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{h}\" viewBox=\"0 0 {W} {h}\" \
         role=\"img\" aria-labelledby=\"bars-title bars-desc\" \
         font-family=\"'Noto Sans CJK JP', 'Noto Sans', sans-serif\" font-size=\"12\">\n\
         <title id=\"bars-title\">{}</title>\n<desc id=\"bars-desc\">{}: {}</desc>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n\
         <text x=\"16\" y=\"28\" font-size=\"16\" font-weight=\"bold\">{}</text>\n\
         <text x=\"16\" y=\"50\" font-size=\"13\">{}</text>\n",
        escape(title),
        escape(figure),
        escape(&desc.join(", ")),
        escape(title),
        escape(figure),
    );
    let bottom = TOP + ROW * rows.len().max(1) as f64;
    for t in 0..=ticks {
        let v = step * t as f64;
        let x = x_of(v);
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" stroke=\"{}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#333\">{}</text>",
            TOP - 6.0,
            if t == 0 { "#333" } else { "#ddd" },
            bottom + 18.0,
            grouped(v, 0)
        );
    }
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let shown: String = if label.chars().count() > BAR_LABEL_CHARS {
            let mut cut: String = label.chars().take(BAR_LABEL_CHARS - 1).collect();
            cut.push('\u{2026}');
            cut
        } else {
            label.clone()
        };
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{LEFT}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#2f6f4f\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            LEFT - 8.0,
            y + ROW * 0.62,
            escape(&shown),
            y + 4.0,
            x_of(*v) - LEFT,
            ROW - 8.0,
            x_of(*v) + 4.0,
            y + ROW * 0.62,
            printed(metric, *v),
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_name_the_fiscal_years() {
        assert_eq!(title(2011, 2012, Lang::En), "Fiscal 2011\u{2013}2012");
        assert_eq!(title(2012, 2012, Lang::En), "Fiscal 2012");
        assert_eq!(title(2011, 2012, Lang::Ja), "2011\u{ff5e}2012年度");
    }

    #[test]
    fn bars_state_every_number_and_shorten_only_the_drawn_names() {
        let long = "Minamisanriku Recovery Support Office".to_owned();
        let rows = vec![(long.clone(), 1234.0), ("Kobe".to_owned(), 7.0)];
        let svg = bars(
            "FY2012 by site",
            Metric::Participants,
            "Participants",
            &rows,
        );
        assert!(svg.contains(&format!(
            "<desc id=\"bars-desc\">Participants: {long} 1,234, Kobe 7</desc>"
        )));
        assert!(svg.contains(">Minamisanriku Recovery Su\u{2026}<"), "{svg}");
        assert_eq!(svg.matches("fill=\"#2f6f4f\"").count(), 2, "a bar per row");
    }

    #[test]
    fn numbers_are_grouped_and_ticks_are_round() {
        assert_eq!(grouped(153_788.0, 0), "153,788");
        assert_eq!(grouped(233.44, 1), "233.4");
        assert_eq!(grouped(-1234.0, 0), "-1,234");
        assert_eq!(grouped(0.0, 0), "0");
        assert_eq!(tick_step(13.0), 5.0);
        assert_eq!(tick_step(233.0), 100.0);
        assert_eq!(tick_step(153_788.0), 50_000.0);
        assert_eq!(tick_step(0.0), 1.0);
    }
}
