//! The annual report's section on the programme as a printable page, in the reader's language:
//! the same `report_section::section` as `GET /api/v1/report-section/{fy}`, so the page, the
//! API and the published report agree cell for cell.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::AppState;
use crate::http::with_conn;
use crate::report_section::{self, ReportSection};
use crate::stats::mdd::Metric;
use crate::stats::report;
use crate::stats::report_objectives::{Assessment, YearObjective};
use crate::time::checked_year;
use crate::web::i18n::Lang;
use crate::web::objectives::{Line as MeasureLine, grade_badge, lines};
use crate::web::page::{self, PageError};
use crate::web::stats::{heads, rows_of, span_label, year_label};
use crate::web::visitor::SignedIn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/stats/{fy}/report", web::get().to(show));
}

/// The report's table: sites, programmes, participants, hours.
const TABLE: [Metric; 4] = [
    Metric::Sites,
    Metric::Programs,
    Metric::Participants,
    Metric::VolunteerHours,
];

#[derive(Serialize)]
struct Objective {
    title: String,
    span: String,
    measures: Vec<MeasureLine>,
    qualitative: bool,
    achievements: Option<String>,
    grade: String,
    grade_class: &'static str,
    under: Vec<Objective>,
}

#[derive(Serialize)]
struct Figure {
    label: String,
    value: String,
    change: String,
}

#[derive(Serialize)]
struct WinnerLine {
    category: String,
    program: String,
    site: String,
}

#[derive(Serialize)]
struct ExpenseLine {
    year: String,
    approx: String,
    exact: String,
}

fn objective(lang: Lang, o: &YearObjective, under: &[YearObjective]) -> Objective {
    let (grade, grade_class) = grade_badge(lang, o.grade);
    Objective {
        title: o.title.clone(),
        span: span_label(lang, o.first_year, o.last_year),
        measures: lines(lang, &o.measures),
        qualitative: o.assessment == Assessment::Qualitative,
        achievements: o.achievements.clone(),
        grade,
        grade_class,
        under: under.iter().map(|u| objective(lang, u, &[])).collect(),
    }
}

fn figure(lang: Lang, metric: Metric, value: Option<f64>, change: Option<f64>) -> Figure {
    Figure {
        label: lang.text(&format!("stats.metric.{}", metric.as_str())),
        value: value.map_or_else(|| "–".to_owned(), |v| report::printed(metric, v)),
        change: change.map_or_else(String::new, |p| {
            page::fill(
                lang,
                "section.change",
                &[(
                    "percent",
                    &report::printed_change(Metric::ImplementationRate, p),
                )],
            )
        }),
    }
}

fn yen(v: i64) -> String {
    report::printed(Metric::Participants, v as f64)
}

async fn show(
    state: web::Data<AppState>,
    who: SignedIn,
    fy: web::Path<i32>,
) -> Result<HttpResponse, PageError> {
    let lang = who.lang();
    let fy = checked_year("fiscal year", fy.into_inner()).map_err(|e| who.visitor.error(e))?;
    let s: ReportSection = with_conn(&state.pool, move |c| report_section::section(c, fy))
        .await
        .map_err(|e| who.visitor.error(e))?;
    let heads = heads(lang, &s.table);
    let figures: Vec<Figure> = s
        .lines
        .iter()
        .map(|l| figure(lang, l.metric, l.value, l.change.and_then(|c| c.percent)))
        .collect();
    let rate = &s.implementation_rate;
    let (rate_grade, rate_class) = grade_badge(lang, rate.grade);
    let mut objectives: Vec<Objective> = s
        .objectives
        .medium_term
        .iter()
        .map(|m| objective(lang, &m.objective, &m.fiscal_year_objectives))
        .collect();
    objectives.extend(
        s.objectives
            .fiscal_year_objectives
            .iter()
            .map(|o| objective(lang, o, &[])),
    );
    let winners: Vec<WinnerLine> = s
        .winners
        .iter()
        .map(|w| WinnerLine {
            category: match w.region {
                Some(r) => page::fill(
                    lang,
                    "section.category_in",
                    &[
                        ("category", &w.category),
                        (
                            "region",
                            &lang.text(&format!("section.region.{}", r.as_str())),
                        ),
                    ],
                ),
                None => w.category.clone(),
            },
            program: w.program_title.clone(),
            site: w.site_name.clone(),
        })
        .collect();
    let expenses: Vec<ExpenseLine> = s
        .expenses
        .iter()
        .map(|t| ExpenseLine {
            year: year_label(lang, t.fiscal_year),
            approx: if lang == Lang::Ja {
                t.approx_ja.clone()
            } else {
                t.approx_en.clone()
            },
            exact: page::fill(lang, "section.yen", &[("yen", &yen(t.total_yen))]),
        })
        .collect();
    let ctx = minijinja::context! {
        active => "stats",
        wide => true,
        fy,
        year => year_label(lang, fy),
        published_version => s.published_version,
        years => page::data(&heads),
        rows => page::data(rows_of(lang, &s.table, &TABLE)),
        figures => page::data(&figures),
        rate_actual => rate.actual.map(|v| report::printed(Metric::ImplementationRate, v)),
        rate_target => rate.target.map(|v| report::printed(Metric::ImplementationRate, v)),
        rate_grade,
        rate_class,
        objectives => page::data(&objectives),
        winners => page::data(&winners),
        expenses => page::data(&expenses),
        ..who.visitor.context()
    };
    page::html(StatusCode::OK, "report_section.html", ctx)
}
