//! A fiscal year's objectives as the report grades them: per figure the target (a value, or
//! growth on the year before), the actual figure, the degree of completion and the grade
//! (achieved ≥ 100 %, mostly achieved ≥ 70 %, some progress > 0, no progress). Everyone signed in
//! reads them, as the API's `GET /api/v1/objectives/{fy}`; HR and administrators change them
//! on the same page through `objectives::set_as` (audited), the service behind
//! `PUT /api/v1/objectives/{fy}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use tracing_actix_web::RequestId;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, FieldError};
use crate::http::with_conn;
use crate::stats::mdd::Metric;
use crate::stats::objectives::{self, Grade, ObjectiveInput, ObjectiveResult, ObjectivesInput};
use crate::stats::report;
use crate::web::form::{Form, field};
use crate::web::i18n::Lang;
use crate::web::page::{self, PageError};
use crate::web::see_other;
use crate::web::visitor::SignedIn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/stats/{fy}/objectives")
            .route(web::get().to(show))
            .route(web::post().to(save)),
    );
}

/// The reader's name of a grade.
pub fn grade_name(lang: Lang, grade: Grade) -> String {
    let key = match grade {
        Grade::Achieved => "grade.achieved",
        Grade::MostlyAchieved => "grade.mostly_achieved",
        Grade::SomeProgress => "grade.some_progress",
        Grade::NoProgress => "grade.no_progress",
    };
    lang.text(key)
}

/// A grade's name and badge class; a dash while there is none.
pub fn grade_badge(lang: Lang, grade: Option<Grade>) -> (String, &'static str) {
    grade.map_or_else(
        || ("–".to_owned(), "cancelled"),
        |g| (grade_name(lang, g), grade_class(g)),
    )
}

/// The class a grade's badge takes.
fn grade_class(grade: Grade) -> &'static str {
    match grade {
        Grade::Achieved => "approved",
        Grade::MostlyAchieved | Grade::SomeProgress => "pending",
        Grade::NoProgress => "rejected",
    }
}

/// One objective as a line of the table.
#[derive(Serialize)]
pub struct Line {
    pub metric: &'static str,
    pub label: String,
    pub target: String,
    pub actual: String,
    pub completion: String,
    pub grade: String,
    pub grade_class: &'static str,
}

/// The objectives of a year in the reader's words.
pub fn lines(lang: Lang, results: &[ObjectiveResult]) -> Vec<Line> {
    results
        .iter()
        .map(|o| {
            let m = o.metric;
            let growth = o.target_kind == "yoy_percent";
            let percent = |v: f64| report::printed_change(Metric::ImplementationRate, v);
            Line {
                metric: m.as_str(),
                label: lang.text(&format!("stats.metric.{}", m.as_str())),
                target: if growth {
                    page::fill(
                        lang,
                        "objectives.growth_of",
                        &[("percent", &percent(o.target_value))],
                    )
                } else {
                    report::printed(m, o.target_value)
                },
                actual: match (growth, o.actual, o.actual_yoy_percent) {
                    (true, Some(a), Some(g)) => {
                        format!("{} ({}%)", report::printed(m, a), percent(g))
                    }
                    (_, Some(a), _) => report::printed(m, a),
                    _ => "–".to_owned(),
                },
                completion: o.ratio.map_or_else(
                    || "–".to_owned(),
                    |r| {
                        format!(
                            "{}%",
                            report::printed(Metric::ImplementationRate, r * 100.0)
                        )
                    },
                ),
                grade: o
                    .grade
                    .map_or_else(|| "–".to_owned(), |g| grade_name(lang, g)),
                grade_class: o.grade.map_or("cancelled", grade_class),
            }
        })
        .collect()
}

/// One figure's row of the editing form, as typed.
#[derive(Debug, Serialize)]
struct EditRow {
    metric: &'static str,
    label: String,
    /// "", `absolute` or `yoy_percent`.
    kind: String,
    value: String,
}

fn edit_rows(lang: Lang, results: &[ObjectiveResult]) -> Vec<EditRow> {
    Metric::ALL
        .into_iter()
        .map(|m| {
            let set = results.iter().find(|o| o.metric == m);
            EditRow {
                metric: m.as_str(),
                label: lang.text(&format!("stats.metric.{}", m.as_str())),
                kind: set.map(|o| o.target_kind.clone()).unwrap_or_default(),
                value: set.map(|o| o.target_value.to_string()).unwrap_or_default(),
            }
        })
        .collect()
}

/// The rows sent, read back in `Metric::ALL` order.
fn read_rows(lang: Lang, pairs: &[(String, String)]) -> Vec<EditRow> {
    Metric::ALL
        .into_iter()
        .map(|m| EditRow {
            metric: m.as_str(),
            label: lang.text(&format!("stats.metric.{}", m.as_str())),
            kind: field(pairs, &format!("kind_{}", m.as_str()))
                .trim()
                .to_owned(),
            value: field(pairs, &format!("value_{}", m.as_str()))
                .trim()
                .replace(',', ""),
        })
        .collect()
}

/// The service's input from the rows, and for each of its objectives the metric it is about
/// (so a refusal of `objectives[2].target` lands on its row).
fn input(rows: &[EditRow]) -> AppResult<(ObjectivesInput, Vec<&'static str>)> {
    let mut objectives = Vec::new();
    let mut metrics = Vec::new();
    let mut errors = Vec::new();
    for (row, m) in rows.iter().zip(Metric::ALL) {
        if row.kind.is_empty() {
            continue;
        }
        let value = match row.value.parse::<f64>() {
            Ok(v) if v.is_finite() => v,
            _ => {
                errors.push(FieldError::new(
                    format!("value_{}", m.as_str()),
                    "invalid_decimal",
                    "a number, such as 60 or 12.5",
                ));
                continue;
            }
        };
        let (target, yoy_percent) = match row.kind.as_str() {
            "absolute" => (Some(value), None),
            "yoy_percent" => (None, Some(value)),
            _ => {
                errors.push(FieldError::new(
                    format!("kind_{}", m.as_str()),
                    "invalid_choice",
                    "choose a kind of target",
                ));
                continue;
            }
        };
        objectives.push(ObjectiveInput {
            metric: m,
            target,
            yoy_percent,
        });
        metrics.push(m.as_str());
    }
    if errors.is_empty() {
        Ok((ObjectivesInput { objectives }, metrics))
    } else {
        Err(AppError::validation(errors))
    }
}

/// A refusal's fields named after the form's (`objectives[i].target` → `value_{metric}`).
fn problems(error: &AppError, lang: Lang, metrics: &[&'static str]) -> Vec<minijinja::Value> {
    error
        .field_errors()
        .iter()
        .map(|f| {
            let name = f
                .field
                .strip_prefix("objectives[")
                .and_then(|rest| rest.split(']').next())
                .and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| metrics.get(i))
                .map_or_else(|| f.field.clone(), |m| format!("value_{m}"));
            minijinja::context! { field => name, message => page::field_text(f, lang) }
        })
        .collect()
}

/// What the page shows.
struct Shown<'a> {
    fy: i32,
    /// A closed year (its grades as published): a change needs a restatement reason.
    closed: bool,
    results: &'a [ObjectiveResult],
    rows: Vec<EditRow>,
    saved: bool,
    problem: Option<String>,
    problems: Vec<minijinja::Value>,
}

fn render(
    who: &SignedIn,
    caller: &Caller,
    status: StatusCode,
    shown: Shown<'_>,
) -> Result<HttpResponse, PageError> {
    let lang = who.lang();
    let ctx = minijinja::context! {
        active => "stats",
        fy => shown.fy,
        year => page::fill(lang, "stats.fiscal_year", &[("year", &shown.fy.to_string())]),
        lines => page::data(lines(lang, shown.results)),
        editor => objectives::require_editor(caller).is_ok(),
        closed => shown.closed,
        rows => page::data(&shown.rows),
        saved => shown.saved,
        problem => shown.problem,
        problems => shown.problems,
        ..who.visitor.context()
    };
    page::html(status, "stats_objectives.html", ctx)
}

#[derive(serde::Deserialize)]
struct Saved {
    saved: Option<String>,
}

async fn show(
    state: web::Data<AppState>,
    who: SignedIn,
    fy: web::Path<i32>,
    saved: web::Query<Saved>,
) -> Result<HttpResponse, PageError> {
    let fy = crate::web::fiscal_year(&who, fy.into_inner())?;
    let caller = who.caller();
    let results = with_conn(&state.pool, move |c| {
        let fiscal = crate::stats::rollup::calendar(c)?;
        // A closed year's grades as published, like the API's default.
        crate::stats::closing::objectives_as(c, fiscal, fy, crate::stats::closing::View::Published)
    })
    .await
    .map_err(|e| who.visitor.error(e))?;
    let shown = Shown {
        fy,
        closed: results.published_version.is_some(),
        rows: edit_rows(who.lang(), &results.objectives),
        results: &results.objectives,
        saved: saved.saved.is_some(),
        problem: None,
        problems: Vec::new(),
    };
    render(&who, &caller, StatusCode::OK, shown)
}

async fn save(
    state: web::Data<AppState>,
    who: SignedIn,
    request_id: RequestId,
    fy: web::Path<i32>,
    form: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(field(&form, "csrf"))?;
    // A closed year's objectives change only as a restatement, with the reason given here.
    let caller = who.caller().restating(field(&form, "restatement_reason"));
    // Who may change objectives comes first, as in the API.
    objectives::require_editor(&caller).map_err(|e| who.visitor.error(e))?;
    let fy = crate::web::fiscal_year(&who, fy.into_inner())?;
    let lang = who.lang();
    let rows = read_rows(lang, &form);
    let (error, metrics) = match input(&rows) {
        Ok((input, metrics)) => {
            let setter = caller.clone();
            let request_id = request_id.to_string();
            let done = with_conn(&state.pool, move |c| {
                objectives::set_as(c, &setter, fy, &input, Some(request_id))
            })
            .await;
            match done {
                Ok(_) => return Ok(see_other(&format!("/stats/{fy}/objectives?saved=1"))),
                Err(e) if page::shown_on_form(&e) => (e, metrics),
                Err(e) => return Err(who.visitor.error(e)),
            }
        }
        Err(e) => (e, Vec::new()),
    };
    let results = with_conn(&state.pool, move |c| {
        let fiscal = crate::stats::rollup::calendar(c)?;
        // A closed year's grades as published, like the API's default.
        crate::stats::closing::objectives_as(c, fiscal, fy, crate::stats::closing::View::Published)
    })
    .await
    .map_err(|e| who.visitor.error(e))?;
    let shown = Shown {
        fy,
        closed: results.published_version.is_some(),
        results: &results.objectives,
        rows,
        saved: false,
        problem: Some(page::message(&error, lang)),
        problems: problems(&error, lang, &metrics),
    };
    render(&who, &caller, error.status(), shown)
}
