//! The approval queue of the sites a coordinator runs: filter by event and fiscal year, approve
//! the ticked records together (all or none, as the API does), and one record's page with its
//! audit trail and the reject form (a reason the employee reads in their email).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::attendance::approval::{self, ListFilter, QueueItem};
use crate::attendance::model::{Approval, AttendanceStatus};
use crate::db::Id;
use crate::error::AppError;
use crate::http::with_conn;
use crate::programs::records_scope;
use crate::web::coordinator::{refuse, require_runner};
use crate::web::form::{Form, field};
use crate::web::i18n::Lang;
use crate::web::page::{self, PageError};
use crate::web::see_other;
use crate::web::visitor::SignedIn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/manage/approvals", web::get().to(queue))
        .route("/manage/approvals", web::post().to(approve))
        .route("/manage/attendance/{id}", web::get().to(record))
        .route("/manage/attendance/{id}/reject", web::post().to(reject));
}

/// Records per page of the queue ("more" continues).
const PAGE: i64 = 50;

#[derive(Debug, Default, Deserialize, Serialize)]
struct QueueQuery {
    #[serde(default)]
    event: String,
    #[serde(default)]
    fiscal_year: String,
    #[serde(default, skip_serializing)]
    cursor: String,
    #[serde(default, skip_serializing)]
    approved: Option<usize>,
}

#[derive(Serialize)]
struct Item {
    id: String,
    name: String,
    number: String,
    event_id: String,
    event: String,
    when: String,
    what: String,
    source: String,
}

fn hours(lang: Lang, minutes: i32) -> String {
    let h = f64::from(minutes) / 60.0;
    let text = if minutes % 60 == 0 {
        lang.number(i64::from(minutes / 60))
    } else {
        format!("{h:.1}")
    };
    page::fill(lang, "approvals.hours", &[("hours", &text)])
}

fn what(lang: Lang, r: &QueueItem) -> String {
    match r.attendance.status {
        AttendanceStatus::NoShow => lang.text("roster.no_show"),
        AttendanceStatus::Attended => page::fill(
            lang,
            "approvals.attended",
            &[
                ("hours", &hours(lang, r.attendance.minutes)),
                ("days", &lang.number(r.attendance.days.into())),
            ],
        ),
    }
}

fn item(lang: Lang, r: &QueueItem) -> Item {
    Item {
        id: r.attendance.id.to_string(),
        name: r.display_name.clone(),
        number: r.employee_number.clone(),
        event_id: r.attendance.event_id.to_string(),
        event: r.event_title.clone(),
        when: lang.span(
            r.event_starts_at.with_timezone(&Utc),
            r.event_ends_at.with_timezone(&Utc),
            &r.event_timezone,
        ),
        what: what(lang, r),
        source: lang.text(&format!("source.{}", r.attendance.source.as_str())),
    }
}

async fn queue(
    state: web::Data<AppState>,
    who: SignedIn,
    q: web::Query<QueueQuery>,
) -> Result<HttpResponse, PageError> {
    let q = q.into_inner();
    show_queue(&state, &who, q, StatusCode::OK, None).await
}

async fn show_queue(
    state: &AppState,
    who: &SignedIn,
    q: QueueQuery,
    status: StatusCode,
    problem: Option<String>,
) -> Result<HttpResponse, PageError> {
    let caller = require_runner(who)?;
    let lang = who.lang();
    let bad = |field: &str| {
        AppError::bad_request("invalid_query", format!("{field} is not a known choice"))
    };
    let event = match q.event.trim() {
        "" => None,
        e => Some(
            e.parse::<uuid::Uuid>()
                .map_err(|_| who.visitor.error(bad("event")))?,
        ),
    };
    let fiscal_year = match q.fiscal_year.trim() {
        "" => None,
        y => Some(
            y.parse::<i32>()
                .map_err(|_| bad("fiscal_year"))
                .and_then(|y| crate::time::checked_year("fiscal_year", y))
                .map_err(|e| who.visitor.error(e))?,
        ),
    };
    let after = match q.cursor.trim() {
        "" => None,
        c => Some(
            c.parse::<uuid::Uuid>()
                .map_err(|_| who.visitor.error(bad("cursor")))?,
        ),
    };
    let (rows, closed_year) = with_conn(&state.pool, move |c| {
        let sites = records_scope(&caller, None)?;
        let rows = approval::list(
            c,
            &ListFilter {
                approval: Some(Approval::Pending),
                event_id: event.map(Id::from),
                fiscal_year,
                sites: sites.clone(),
                after: after.map(Id::from),
                limit: PAGE,
                ..ListFilter::default()
            },
        )?;
        // Approving hours of a closed year restates it: the form asks why.
        let dates = rows.iter().map(|r| r.event_starts_at.date_naive());
        let closed = crate::stats::closing::closed_years_named(c, dates, |fy| {
            page::fill(lang, "stats.fiscal_year", &[("year", &fy.to_string())])
        })?;
        Ok((rows, closed))
    })
    .await
    .map_err(|e| refuse(who, e))?;
    let more = (rows.len() as i64 > PAGE)
        .then(|| rows.get(PAGE as usize - 1))
        .flatten()
        .map(|r| {
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            if !q.event.is_empty() {
                s.append_pair("event", &q.event);
            }
            if !q.fiscal_year.is_empty() {
                s.append_pair("fiscal_year", &q.fiscal_year);
            }
            s.append_pair("cursor", &r.attendance.id.to_string());
            format!("/manage/approvals?{}", s.finish())
        });
    let items: Vec<Item> = rows
        .iter()
        .take(PAGE as usize)
        .map(|r| item(lang, r))
        .collect();
    // The events of this page, for the event filter (plus the one chosen).
    let mut events: Vec<(String, String)> = Vec::new();
    for i in &items {
        if !events.iter().any(|(id, _)| *id == i.event_id) {
            events.push((i.event_id.clone(), i.event.clone()));
        }
    }
    let notice = q
        .approved
        .map(|n| page::fill(lang, "approvals.approved", &[("n", &lang.number(n as i64))]));
    let ctx = minijinja::context! {
        active => "approvals",
        items => page::data(&items),
        closed_year => closed_year,
        reason_id => "restatement_reason",
        events => events,
        f => page::data(&q),
        more => more,
        notice => notice,
        problem => problem,
        ..who.visitor.context()
    };
    page::html(status, "manage_approvals.html", ctx)
}

/// Approves the ticked records (`id` repeated), all or none.
async fn approve(
    state: web::Data<AppState>,
    who: SignedIn,
    form: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let field = |name: &str| field(&form, name).to_owned();
    who.check_csrf(&field("csrf"))?;
    let caller = require_runner(&who)?.restating(&field("restatement_reason"));
    let lang = who.lang();
    let back = QueueQuery {
        event: field("event"),
        fiscal_year: field("fiscal_year"),
        ..QueueQuery::default()
    };
    let ids: Result<Vec<Id>, _> = form
        .iter()
        .filter(|(k, _)| k == "id")
        .map(|(_, v)| v.parse::<uuid::Uuid>().map(Id::from))
        .collect();
    let Ok(ids) = ids else {
        return Err(who
            .visitor
            .error(AppError::not_found("no such attendance record")));
    };
    if ids.is_empty() {
        let text = lang.text("approvals.none_ticked");
        return show_queue(
            &state,
            &who,
            back,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(text),
        )
        .await;
    }
    let n = ids.len();
    let done = with_conn(&state.pool, move |c| {
        approval::approve(c, &caller, &ids, None)
    })
    .await;
    match done {
        Ok(_) => {
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in [("event", &back.event), ("fiscal_year", &back.fiscal_year)] {
                if !v.is_empty() {
                    s.append_pair(k, v);
                }
            }
            s.append_pair("approved", &n.to_string());
            Ok(see_other(&format!("/manage/approvals?{}", s.finish())))
        }
        Err(e) if page::shown_on_form(&e) => {
            let status = e.status();
            let text = page::message(&e, lang);
            show_queue(&state, &who, back, status, Some(text)).await
        }
        Err(e) => Err(refuse(&who, e)),
    }
}

async fn record(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, PageError> {
    show_record(&state, &who, id.into_inner().into(), StatusCode::OK, None).await
}

async fn show_record(
    state: &AppState,
    who: &SignedIn,
    id: Id,
    status: StatusCode,
    problem: Option<String>,
) -> Result<HttpResponse, PageError> {
    let caller = require_runner(who)?;
    let lang = who.lang();
    let (r, trail, closed_year) = with_conn(&state.pool, move |c| {
        let (r, trail) = approval::with_trail(c, &caller, id)?;
        // Rejecting approved hours of a closed year restates it: the form asks why.
        let closed =
            crate::stats::closing::closed_years_named(c, [r.event_starts_at.date_naive()], |fy| {
                page::fill(lang, "stats.fiscal_year", &[("year", &fy.to_string())])
            })?;
        Ok((r, trail, closed))
    })
    .await
    .map_err(|e| refuse(who, e))?;
    let tz = r.event_timezone.clone();
    let trail: Vec<minijinja::Value> = trail
        .iter()
        .map(|t| {
            minijinja::context! {
                when => lang.when(t.occurred_at, &tz),
                who => t.actor_email.clone().unwrap_or_else(|| lang.text("trail.system")),
                action => lang.lookup(&format!("trail.{}", t.action)).map_or_else(|| t.action.clone(), str::to_owned),
                details => t.details.to_string(),
            }
        })
        .collect();
    let approval_text = match r.attendance.approval {
        Approval::Pending => lang.text("roster.pending"),
        Approval::Approved => lang.text("roster.approved"),
        Approval::Rejected => page::fill(
            lang,
            "roster.rejected",
            &[(
                "reason",
                r.attendance.rejection_reason.as_deref().unwrap_or_default(),
            )],
        ),
    };
    let ctx = minijinja::context! {
        active => "approvals",
        r => page::data(item(lang, &r)),
        approval => r.attendance.approval.as_str(),
        approval_text => approval_text,
        recorded => lang.when(r.attendance.created_at, &tz),
        updated => lang.when(r.attendance.updated_at, &tz),
        trail => trail,
        can_reject => r.attendance.approval != Approval::Rejected,
        closed_year => closed_year,
        reason_id => "restatement_reason",
        problem => problem,
        ..who.visitor.context()
    };
    page::html(status, "manage_record.html", ctx)
}

#[derive(Deserialize)]
struct RejectForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    restatement_reason: String,
}

async fn reject(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
    form: Form<RejectForm>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(&form.csrf)?;
    let caller = require_runner(&who)?.restating(&form.restatement_reason);
    let id = Id::from(id.into_inner());
    let reason = form.into_inner().reason;
    let lang = who.lang();
    let done = with_conn(&state.pool, move |c| {
        approval::reject(c, &caller, id, &reason, None)
    })
    .await;
    match done {
        Ok(_) => Ok(see_other(&format!("/manage/attendance/{id}"))),
        Err(e) if page::shown_on_form(&e) => {
            let text = page::reason(&e, lang);
            show_record(&state, &who, id, e.status(), Some(text)).await
        }
        Err(e) => Err(refuse(&who, e)),
    }
}
