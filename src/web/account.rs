//! The employee's own records: volunteer hours per fiscal year (with the CSV the API gives),
//! and the personal calendar feed (create or replace its secret URL, turn it off). The same
//! services as `GET /api/v1/me/hours` and `/api/v1/me/calendar-token`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::attendance::hours;
use crate::attendance::model::{Approval, AttendanceStatus};
use crate::http::with_conn;
use crate::stats::rollup;
use crate::web::form::Form;
use crate::web::page::{self, PageError};
use crate::web::visitor::SignedIn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/my/hours", web::get().to(my_hours))
        .route("/my/hours.csv", web::get().to(my_hours_csv))
        .service(
            web::resource("/my/calendar")
                .route(web::get().to(calendar))
                .route(web::post().to(change_calendar)),
        );
}

#[derive(Deserialize)]
struct YearQuery {
    #[serde(default)]
    fiscal_year: String,
}

/// The chosen fiscal year: empty = every year; otherwise a year in range (as the API checks).
fn chosen_year(who: &SignedIn, given: &str) -> Result<Option<i32>, PageError> {
    let given = given.trim();
    if given.is_empty() {
        return Ok(None);
    }
    let year: i32 = given.parse().map_err(|_| {
        who.visitor.error(crate::error::AppError::bad_request(
            "invalid_query",
            "fiscal_year is not a year",
        ))
    })?;
    crate::time::checked_year("fiscal_year", year).map_err(|e| who.visitor.error(e))?;
    Ok(Some(year))
}

#[derive(Serialize)]
struct Total {
    year: i32,
    events: String,
    hours: String,
    days: String,
    pending_hours: String,
}

#[derive(Serialize)]
struct Item {
    event_id: String,
    title: String,
    site: String,
    day: String,
    year: i32,
    hours: String,
    status: String,
    approval: &'static str,
    approval_text: String,
    reason: Option<String>,
}

fn hours_text(minutes: i64) -> String {
    format!("{:.2}", minutes as f64 / 60.0)
}

/// The reader's hours, as `GET /api/v1/me/hours` reads them.
async fn load(
    state: &AppState,
    who: &SignedIn,
    year: Option<i32>,
) -> Result<hours::MyHours, PageError> {
    let caller = who.caller();
    with_conn(&state.pool, move |c| {
        let fiscal = rollup::calendar(c)?;
        hours::of_user(c, caller.id, fiscal, year)
    })
    .await
    .map_err(|e| who.visitor.error(e))
}

async fn my_hours(
    state: web::Data<AppState>,
    who: SignedIn,
    q: web::Query<YearQuery>,
) -> Result<HttpResponse, PageError> {
    let year = chosen_year(&who, &q.fiscal_year)?;
    let lang = who.lang();
    let result = load(&state, &who, year).await?;
    let totals: Vec<Total> = result
        .totals
        .iter()
        .map(|t| Total {
            year: t.fiscal_year,
            events: lang.number(t.events),
            hours: hours_text(t.minutes),
            days: lang.number(t.days),
            pending_hours: hours_text(t.pending_minutes),
        })
        .collect();
    let items: Vec<Item> = result
        .items
        .iter()
        .map(|i| Item {
            event_id: i.event_id.to_string(),
            title: i.event_title.clone(),
            site: i.site_name.clone(),
            day: lang.day(i.starts_at.date_naive()),
            year: i.fiscal_year,
            hours: hours_text(i.minutes.into()),
            status: lang.text(match i.status {
                AttendanceStatus::Attended => "hours.attended",
                AttendanceStatus::NoShow => "hours.no_show",
            }),
            approval: match i.approval {
                Approval::Pending => "pending",
                Approval::Approved => "approved",
                Approval::Rejected => "rejected",
            },
            approval_text: lang.text(match i.approval {
                Approval::Pending => "hours.pending",
                Approval::Approved => "hours.approved",
                Approval::Rejected => "hours.rejected",
            }),
            reason: i.rejection_reason.clone(),
        })
        .collect();
    let years: Vec<i32> = result.totals.iter().map(|t| t.fiscal_year).collect();
    let csv = match year {
        Some(y) => format!("/my/hours.csv?fiscal_year={y}"),
        None => "/my/hours.csv".to_owned(),
    };
    let ctx = minijinja::context! {
        active => "hours",
        totals => minijinja::Value::from(minijinja::value::Serde(&totals)),
        items => minijinja::Value::from(minijinja::value::Serde(&items)),
        years => years,
        year => year,
        csv => csv,
        ..who.visitor.context()
    };
    page::html(StatusCode::OK, "my_hours.html", ctx)
}

/// The hours as the API's CSV (with a byte-order mark: this link is for spreadsheets).
async fn my_hours_csv(
    state: web::Data<AppState>,
    who: SignedIn,
    q: web::Query<YearQuery>,
) -> Result<HttpResponse, PageError> {
    let year = chosen_year(&who, &q.fiscal_year)?;
    let result = load(&state, &who, year).await?;
    let body = hours::csv(&result.items, true)
        .map_err(|e| who.visitor.error(crate::error::AppError::internal(e)))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"my-volunteer-hours.csv\"",
        ))
        .body(body))
}

fn render_calendar(
    who: &SignedIn,
    url: Option<String>,
    off: bool,
) -> Result<HttpResponse, PageError> {
    // The same address as webcal://, which phones and desktop calendar apps open as "subscribe".
    let webcal = url.as_deref().and_then(|u| {
        u.strip_prefix("https://")
            .or_else(|| u.strip_prefix("http://"))
            .map(|rest| format!("webcal://{rest}"))
    });
    let ctx = minijinja::context! {
        active => "calendar",
        url => url,
        webcal => webcal,
        off => off,
        ..who.visitor.context()
    };
    page::html(StatusCode::OK, "my_calendar.html", ctx)
}

async fn calendar(who: SignedIn) -> Result<HttpResponse, PageError> {
    render_calendar(&who, None, false)
}

#[derive(Deserialize)]
struct CalendarForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
}

/// `action=new`: a new secret URL (shown once; the old one stops working). `action=off`: none.
async fn change_calendar(
    state: web::Data<AppState>,
    who: SignedIn,
    form: Form<CalendarForm>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(&form.csrf)?;
    let caller = who.caller();
    match form.action.as_str() {
        "off" => {
            with_conn(&state.pool, move |c| {
                crate::signups::feed::revoke_token(c, &caller)
            })
            .await
            .map_err(|e| who.visitor.error(e))?;
            render_calendar(&who, None, true)
        }
        _ => {
            let token = with_conn(&state.pool, move |c| {
                crate::signups::feed::rotate_token(c, &caller)
            })
            .await
            .map_err(|e| who.visitor.error(e))?;
            let url = crate::signups::feed::url(&state.settings.server.public_base(), &token);
            render_calendar(&who, Some(url), false)
        }
    }
}
