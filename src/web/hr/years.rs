//! The report cycle for HR and administrators: the last fiscal years that have ended, each open
//! or closed with its published versions, the corrections waiting for a restatement, and the
//! buttons to close, restate and (administrators) reopen — the services behind
//! `POST /api/v1/stats/years/{fy}/close|restate|reopen`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use tracing_actix_web::RequestId;

use crate::AppState;
use crate::auth::{Caller, Role};
use crate::db::Timestamp;
use crate::error::{AppError, AppResult};
use crate::http::with_conn;
use crate::stats::closing::{self, YearStatus};
use crate::web::form::{Form, field};
use crate::web::hr::require_hr;
use crate::web::i18n::Lang;
use crate::web::page::{self, PageError};
use crate::web::see_other;
use crate::web::visitor::SignedIn;

/// How many ended years the page lists, newest first.
const YEARS: i32 = 5;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/hr/years", web::get().to(show))
        .route("/hr/years/{fy}", web::post().to(act));
}

#[derive(Serialize)]
struct VersionLine {
    version: i32,
    published: String,
    note: String,
    corrections: usize,
}

/// One year as the page shows it.
#[derive(Serialize)]
struct YearLine {
    fy: i32,
    label: String,
    closed: bool,
    closed_on: Option<String>,
    versions: Vec<VersionLine>,
    pending: Vec<String>,
    problem: Option<String>,
}

fn line(lang: Lang, s: YearStatus, problem: Option<String>) -> YearLine {
    let day = |t: chrono::DateTime<chrono::Utc>| lang.day(t.date_naive());
    YearLine {
        fy: s.fiscal_year,
        label: page::fill(
            lang,
            "stats.fiscal_year",
            &[("year", &s.fiscal_year.to_string())],
        ),
        closed: s.closed,
        closed_on: s.closed_at.map(day),
        versions: s
            .versions
            .into_iter()
            .rev()
            .map(|v| VersionLine {
                version: v.version,
                published: day(v.published_at),
                note: if v.note == "closed" || v.note == "closed again" {
                    lang.text(&format!("years.note.{}", v.note.replace(' ', "_")))
                } else {
                    v.note
                },
                corrections: v.restatements.len(),
            })
            .collect(),
        pending: s.pending.into_iter().map(|r| r.reason).collect(),
        problem,
    }
}

/// The ended years the page lists, newest first.
fn listed(conn: &mut crate::db::AnyConnection) -> AppResult<Vec<YearStatus>> {
    let fiscal = crate::stats::rollup::calendar(conn)?;
    let current = fiscal.year_of(Timestamp::now().get().date_naive());
    (1..=YEARS)
        .map(|back| closing::status(conn, current - back))
        .collect()
}

#[derive(Deserialize)]
struct Done {
    done: Option<String>,
}

fn render(
    who: &SignedIn,
    caller: &Caller,
    status: StatusCode,
    years: Vec<YearLine>,
    done: Option<String>,
) -> Result<HttpResponse, PageError> {
    let ctx = minijinja::context! {
        active => "years",
        years => page::data(years),
        admin => caller.role == Role::Admin,
        done => done,
        ..who.visitor.context()
    };
    page::html(status, "hr_years.html", ctx)
}

async fn show(
    state: web::Data<AppState>,
    who: SignedIn,
    q: web::Query<Done>,
) -> Result<HttpResponse, PageError> {
    let caller = require_hr(&who)?;
    let lang = who.lang();
    let years = with_conn(&state.pool, listed)
        .await
        .map_err(|e| who.visitor.error(e))?;
    let lines = years.into_iter().map(|s| line(lang, s, None)).collect();
    // Only the page's own outcomes are echoed (a made-up `done` shows nothing).
    let done = q
        .done
        .as_deref()
        .filter(|d| ["close", "restate", "reopen"].contains(d))
        .map(|d| lang.text(&format!("years.done.{d}")));
    render(&who, &caller, StatusCode::OK, lines, done)
}

async fn act(
    state: web::Data<AppState>,
    who: SignedIn,
    request_id: RequestId,
    fy: web::Path<i32>,
    form: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(field(&form, "csrf"))?;
    let caller = require_hr(&who)?;
    let fy = crate::time::checked_year("fiscal year", fy.into_inner()).map_err(|_| {
        who.visitor
            .error(AppError::not_found("no such fiscal year"))
    })?;
    let action = field(&form, "action").to_owned();
    let text = field(&form, "text").to_owned();
    let request_id = Some(request_id.to_string());
    let actor = caller.clone();
    let what = action.clone();
    let done = with_conn(&state.pool, move |c| match what.as_str() {
        "close" => closing::close(c, &actor, fy, request_id),
        "restate" => closing::restate(c, &actor, fy, Some(&text), request_id),
        "reopen" => closing::reopen(c, &actor, fy, Some(&text), request_id),
        _ => Err(AppError::bad_request("invalid_action", "no such action")),
    })
    .await;
    let error = match done {
        Ok(_) => return Ok(see_other(&format!("/hr/years?done={action}#fy-{fy}"))),
        Err(e) if page::shown_on_form(&e) => e,
        Err(e) => return Err(who.visitor.error(e)),
    };
    let lang = who.lang();
    let years = with_conn(&state.pool, listed)
        .await
        .map_err(|e| who.visitor.error(e))?;
    let problem = page::reason(&error, lang);
    let lines = years
        .into_iter()
        .map(|s| {
            let here = (s.fiscal_year == fy).then(|| problem.clone());
            line(lang, s, here)
        })
        .collect();
    render(&who, &caller, error.status(), lines, None)
}
