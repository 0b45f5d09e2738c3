//! The report's objectives table of a year as a page: everyone reads it (a closed year's as
//! published); HR and administrators add medium-term and fiscal-year objectives, grade the
//! qualitative ones, record achievements and delete — the services behind
//! `/api/v1/report-objectives`. A closed year's changes carry the restatement reason.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use tracing_actix_web::RequestId;

use crate::AppState;
use crate::auth::{Caller, Role};
use crate::db::AnyConnection;
use crate::error::{AppError, AppResult, FieldError};
use crate::http::with_conn;
use crate::stats::closing::{self, View};
use crate::stats::mdd::Metric;
use crate::stats::objectives::{Grade, ObjectiveInput};
use crate::stats::report_objectives::{
    self as objectives, Assessment, AssessmentInput, Level, ObjectiveDraft, ObjectivesTable,
    YearObjective,
};
use crate::web::form::{Form, field};
use crate::web::i18n::Lang;
use crate::web::objectives::{Line as MeasureLine, grade_badge, grade_name, lines};
use crate::web::page::{self, PageError};
use crate::web::see_other;
use crate::web::stats::{span_label, year_label};
use crate::web::visitor::SignedIn;

/// How many measure rows the add form offers.
const MEASURE_ROWS: usize = 3;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/stats/{fy}/report-objectives")
            .route(web::get().to(show))
            .route(web::post().to(act)),
    );
}

fn is_editor(caller: &Caller) -> bool {
    matches!(caller.role, Role::Hr | Role::Admin)
}

#[derive(Serialize)]
struct Row {
    id: String,
    title: String,
    span: String,
    medium_term: bool,
    qualitative: bool,
    measures: Vec<MeasureLine>,
    achievements: String,
    grade: String,
    grade_code: String,
    grade_class: &'static str,
    under: Vec<Row>,
}

fn row(lang: Lang, o: &YearObjective, under: &[YearObjective]) -> Row {
    let (grade, grade_class) = grade_badge(lang, o.grade);
    Row {
        id: o.id.to_string(),
        title: o.title.clone(),
        span: span_label(lang, o.first_year, o.last_year),
        medium_term: o.level == Level::MediumTerm,
        qualitative: o.assessment == Assessment::Qualitative,
        measures: lines(lang, &o.measures),
        achievements: o.achievements.clone().unwrap_or_default(),
        grade,
        grade_code: o.grade.map(|g| g.as_str().to_owned()).unwrap_or_default(),
        grade_class,
        under: under.iter().map(|u| row(lang, u, &[])).collect(),
    }
}

fn rows(lang: Lang, t: &ObjectivesTable) -> Vec<Row> {
    let mut out: Vec<Row> = t
        .medium_term
        .iter()
        .map(|m| row(lang, &m.objective, &m.fiscal_year_objectives))
        .collect();
    out.extend(t.fiscal_year_objectives.iter().map(|o| row(lang, o, &[])));
    out
}

/// What the page read: the table (current for editors, published for readers) and whether
/// the year is closed.
fn read(conn: &mut AnyConnection, editor: bool, fy: i32) -> AppResult<(ObjectivesTable, bool)> {
    let fiscal = crate::stats::rollup::calendar(conn)?;
    let view = if editor {
        View::Current
    } else {
        View::Published
    };
    let table = objectives::table_as(conn, fiscal, fy, view)?;
    Ok((table, closing::is_closed(conn, fy)?))
}

#[derive(Deserialize)]
struct Done {
    done: Option<String>,
}

const ACTIONS: [&str; 3] = ["create", "assess", "delete"];

#[allow(clippy::too_many_arguments)]
fn render(
    who: &SignedIn,
    caller: &Caller,
    fy: i32,
    (table, closed): (ObjectivesTable, bool),
    status: StatusCode,
    problem: Option<String>,
    done: Option<String>,
    form: Option<&[(String, String)]>,
) -> Result<HttpResponse, PageError> {
    let lang = who.lang();
    let given = |name: &str| form.map(|f| field(f, name).to_owned()).unwrap_or_default();
    let metrics: Vec<minijinja::Value> = Metric::ALL
        .iter()
        .map(|m| {
            minijinja::context! {
                value => m.as_str(),
                name => lang.text(&format!("stats.metric.{}", m.as_str())),
            }
        })
        .collect();
    let measure_rows: Vec<minijinja::Value> = (0..MEASURE_ROWS)
        .map(|i| {
            minijinja::context! {
                i,
                metric => given(&format!("metric_{i}")),
                kind => given(&format!("kind_{i}")),
                value => given(&format!("value_{i}")),
            }
        })
        .collect();
    let parents: Vec<minijinja::Value> = table
        .medium_term
        .iter()
        .map(|m| minijinja::context! { id => m.objective.id.to_string(), title => m.objective.title.clone() })
        .collect();
    let grades: Vec<minijinja::Value> = Grade::ALL
        .iter()
        .map(|g| minijinja::context! { value => g.as_str(), name => grade_name(lang, *g) })
        .collect();
    let ctx = minijinja::context! {
        active => "stats",
        fy,
        year => year_label(lang, fy),
        rows => page::data(rows(lang, &table)),
        published_version => table.published_version,
        editor => is_editor(caller),
        closed_year => closed.then(|| year_label(lang, fy)),
        reason_id => "restatement_reason",
        metrics,
        measure_rows,
        parents,
        grades,
        level => given("level"),
        title => given("title"),
        last_year => given("last_year"),
        assessment => given("assessment"),
        problem,
        done,
        ..who.visitor.context()
    };
    page::html(status, "stats_report_objectives.html", ctx)
}

async fn show(
    state: web::Data<AppState>,
    who: SignedIn,
    fy: web::Path<i32>,
    q: web::Query<Done>,
) -> Result<HttpResponse, PageError> {
    let caller = who.caller();
    let fy = crate::web::fiscal_year(&who, fy.into_inner())?;
    let editor = is_editor(&caller);
    let read = with_conn(&state.pool, move |c| read(c, editor, fy))
        .await
        .map_err(|e| who.visitor.error(e))?;
    let done = q
        .done
        .as_deref()
        .filter(|d| ACTIONS.contains(d))
        .map(|d| who.lang().text(&format!("robj.done.{d}")));
    render(&who, &caller, fy, read, StatusCode::OK, None, done, None)
}

/// The add form as the service's draft; a measure row with no figure chosen is left out.
fn draft(form: &[(String, String)], fy: i32) -> AppResult<ObjectiveDraft> {
    let mut errors = Vec::new();
    let level = match field(form, "level") {
        "medium_term" => Level::MediumTerm,
        _ => Level::FiscalYear,
    };
    let assessment = match field(form, "assessment") {
        "qualitative" => Assessment::Qualitative,
        _ => Assessment::Measured,
    };
    let last_year = match (level, field(form, "last_year").trim()) {
        (Level::FiscalYear, _) | (_, "") => None,
        (Level::MediumTerm, text) => match text.parse() {
            Ok(y) => Some(y),
            Err(_) => {
                errors.push(FieldError::new("last_year", "invalid", "a year"));
                None
            }
        },
    };
    let mut measures = Vec::new();
    for i in 0..MEASURE_ROWS {
        let metric = field(form, &format!("metric_{i}"));
        if metric.is_empty() || assessment == Assessment::Qualitative {
            continue;
        }
        let Some(metric) = Metric::parse(metric) else {
            errors.push(FieldError::new(
                format!("measures[{i}].metric"),
                "invalid_choice",
                "a figure of the report",
            ));
            continue;
        };
        let value = field(form, &format!("value_{i}")).trim().replace(',', "");
        let Ok(value) = value.parse::<f64>() else {
            errors.push(FieldError::new(
                format!("measures[{i}].target"),
                "invalid",
                "a number",
            ));
            continue;
        };
        let growth = field(form, &format!("kind_{i}")) == "yoy_percent";
        measures.push(ObjectiveInput {
            metric,
            target: (!growth).then_some(value),
            yoy_percent: growth.then_some(value),
        });
    }
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    let parent_id = match (level, field(form, "parent_id")) {
        (Level::FiscalYear, p) if !p.is_empty() => Some(p.parse().map_err(|_| {
            AppError::validation(vec![FieldError::new(
                "parent_id",
                "invalid",
                "a medium-term objective",
            )])
        })?),
        _ => None,
    };
    Ok(ObjectiveDraft {
        level,
        parent_id,
        first_year: fy,
        last_year,
        title: field(form, "title").to_owned(),
        assessment,
        measures,
    })
}

fn id_of(form: &[(String, String)]) -> AppResult<crate::db::Id> {
    field(form, "id")
        .parse::<uuid::Uuid>()
        .map(Into::into)
        .map_err(|_| AppError::not_found("no such objective"))
}

fn perform(
    conn: &mut AnyConnection,
    caller: &Caller,
    fy: i32,
    form: &[(String, String)],
    request_id: Option<String>,
) -> AppResult<()> {
    caller.require(&[Role::Hr, Role::Admin])?;
    match field(form, "action") {
        "create" => {
            let d = draft(form, fy)?;
            objectives::create(conn, caller, &d, request_id).map(drop)
        }
        "assess" => {
            let grade = match field(form, "grade") {
                "" => None,
                g => Some(Grade::parse(g).ok_or_else(|| {
                    AppError::validation(vec![FieldError::new(
                        "grade",
                        "invalid_choice",
                        "a grade of the report's scale",
                    )])
                })?),
            };
            let input = AssessmentInput {
                achievements: field(form, "achievements").to_owned(),
                grade,
            };
            objectives::assess(conn, caller, id_of(form)?, &input, request_id).map(drop)
        }
        "delete" => objectives::delete(conn, caller, id_of(form)?, request_id),
        _ => Err(AppError::bad_request("invalid_action", "no such action")),
    }
}

async fn act(
    state: web::Data<AppState>,
    who: SignedIn,
    request_id: RequestId,
    fy: web::Path<i32>,
    form: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(field(&form, "csrf"))?;
    // A closed year's objectives change only as a restatement, with the reason given here.
    let caller = who.caller().restating(field(&form, "restatement_reason"));
    if !is_editor(&caller) {
        return Err(who.visitor.error(AppError::forbidden(
            "HR and administrators change the objectives",
        )));
    }
    let fy = crate::web::fiscal_year(&who, fy.into_inner())?;
    let action = field(&form, "action").to_owned();
    let (actor, given) = (caller.clone(), form.to_vec());
    let request_id = Some(request_id.to_string());
    let outcome = with_conn(&state.pool, move |c| {
        perform(c, &actor, fy, &given, request_id)
    })
    .await;
    let error = match outcome {
        Ok(()) => {
            return Ok(see_other(&format!(
                "/stats/{fy}/report-objectives?done={action}"
            )));
        }
        Err(e) if page::shown_on_form(&e) => e,
        Err(e) => return Err(who.visitor.error(e)),
    };
    let read = with_conn(&state.pool, move |c| read(c, true, fy))
        .await
        .map_err(|e| who.visitor.error(e))?;
    let problem = Some(page::reason(&error, who.lang()));
    render(
        &who,
        &caller,
        fy,
        read,
        error.status(),
        problem,
        None,
        Some(&form),
    )
}
