//! The coordinator's pages, under `/manage`: their home, programmes, the event editor, the
//! roster with attendance, the check-in screen and the approval queue. Every read and write is
//! the API's service call with the same `Caller`; what this module adds is only how a refusal
//! reads: a page of a site the reader does not run answers 404, as if it did not exist.

pub mod approvals;
pub mod planning;
pub mod programmes;
pub mod roster;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::Serialize;

use crate::AppState;
use crate::attendance::approval::{self, ListFilter as RecordFilter};
use crate::attendance::model::Approval;
use crate::attendance::quality;
use crate::auth::{Caller, Role};
use crate::db::{Id, Timestamp};
use crate::error::AppError;
use crate::http::with_conn;
use crate::programs::events::{self, Event, EventStatus, ListFilter};
use crate::web::i18n::Lang;
use crate::web::page::{self, PageError};
use crate::web::visitor::SignedIn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/manage", web::get().to(home));
    programmes::routes(cfg);
    planning::routes(cfg);
    roster::routes(cfg);
    approvals::routes(cfg);
}

/// Whether the reader runs sites (coordinators, admins): they get the "Manage" pages.
pub fn runs_sites(caller: &Caller) -> bool {
    matches!(caller.role, Role::Coordinator | Role::Admin)
}

/// How a service's refusal reads on these pages: "you do not run this site" becomes "no such
/// page" (404), so a page of another site tells nothing about it; every other answer stays.
pub fn unseen(error: AppError) -> AppError {
    if error.status() == StatusCode::FORBIDDEN && error.code() == "forbidden" {
        AppError::not_found("no such page")
    } else {
        error
    }
}

/// The error page for `error` as these pages show it (see [`unseen`]).
pub fn refuse(who: &SignedIn, error: AppError) -> PageError {
    who.visitor.error(unseen(error))
}

/// 404 for readers who run no site (employees, HR) before anything is read.
pub fn require_runner(who: &SignedIn) -> Result<Caller, PageError> {
    let caller = who.caller();
    if runs_sites(&caller) {
        Ok(caller)
    } else {
        Err(who.visitor.error(AppError::not_found("no such page")))
    }
}

/// The sites a caller's lists cover: a coordinator's own, every site for an admin (`None`).
pub fn scope(caller: &Caller) -> Option<Vec<Id>> {
    (caller.role != Role::Admin).then(|| caller.sites.clone())
}

/// An event as a line of the coordinator's lists.
#[derive(Serialize)]
pub struct EventLine {
    pub id: String,
    pub title: String,
    pub when: String,
    pub site: String,
    pub status: &'static str,
    pub status_text: String,
    pub seats: String,
}

impl EventLine {
    pub fn of(lang: Lang, e: &Event, site: String) -> EventLine {
        let seats = match e.capacity {
            Some(c) => page::fill(
                lang,
                "manage.seats_of",
                &[
                    ("taken", &lang.number(e.seats_taken.into())),
                    ("capacity", &lang.number(c.into())),
                ],
            ),
            None => page::fill(
                lang,
                "manage.seats_taken",
                &[("taken", &lang.number(e.seats_taken.into()))],
            ),
        };
        let seats = if e.waitlist_length > 0 {
            format!(
                "{seats} · {}",
                page::fill(
                    lang,
                    "events.waitlist",
                    &[("n", &lang.number(e.waitlist_length.into()))]
                )
            )
        } else {
            seats
        };
        EventLine {
            id: e.id.to_string(),
            title: e.title.clone(),
            when: lang.span(
                e.starts_at.with_timezone(&Utc),
                e.ends_at.with_timezone(&Utc),
                &e.timezone,
            ),
            site,
            status: e.status.as_str(),
            status_text: lang.text(&format!("manage.status_{}", e.status.as_str())),
            seats,
        }
    }
}

/// Upcoming events on the home page.
const UPCOMING: i64 = 20;
/// Pending records counted on the home page ("100+" beyond).
const PENDING_SHOWN: i64 = 100;

#[derive(Serialize)]
struct Warning {
    text: String,
    count: String,
    links: Vec<(String, String)>,
}

async fn home(state: web::Data<AppState>, who: SignedIn) -> Result<HttpResponse, PageError> {
    let caller = require_runner(&who)?;
    let lang = who.lang();
    let sites = scope(&caller);
    let loaded = with_conn(&state.pool, move |c| {
        let upcoming = events::list(
            c,
            &ListFilter {
                statuses: vec![EventStatus::Draft, EventStatus::Published],
                sites: sites.clone(),
                from: Some(Timestamp::now()),
                limit: UPCOMING,
                ..ListFilter::default()
            },
        )?;
        let pending = approval::list(
            c,
            &RecordFilter {
                approval: Some(Approval::Pending),
                sites: sites.clone(),
                limit: PENDING_SHOWN,
                ..RecordFilter::default()
            },
        )?
        .len();
        let report = quality::report_for(
            c,
            None,
            &quality::Scope {
                sites: sites.clone(),
                ..quality::Scope::default()
            },
            Timestamp::now(),
        )?;
        let mut ids: Vec<Id> = upcoming.iter().map(|e| Id::from(e.site_id)).collect();
        ids.extend(sites.iter().flatten().copied());
        let names = crate::org::sites::names(c, &ids)?;
        Ok((upcoming, pending, report, names))
    })
    .await
    .map_err(|e| refuse(&who, e))?;
    let (upcoming, pending, report, names) = loaded;
    let name_of = |id: Id| {
        names
            .iter()
            .find(|(s, _)| *s == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_default()
    };
    let lines: Vec<EventLine> = upcoming
        .iter()
        .take(UPCOMING as usize)
        .map(|e| EventLine::of(lang, e, name_of(e.site_id.into())))
        .collect();
    let mut own_sites: Vec<String> = caller.sites.iter().map(|s| name_of(*s)).collect();
    own_sites.sort();
    let mut waiting = Vec::new();
    let mut warnings = Vec::new();
    for f in report.findings.iter().filter(|f| f.count > 0) {
        let links: Vec<(String, String)> = f
            .sample_ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let href = if f.sample_kind == "event" {
                    format!("/manage/events/{id}/roster")
                } else {
                    format!("/manage/attendance/{id}")
                };
                (href, (i + 1).to_string())
            })
            .collect();
        if f.check == "past_event_without_attendance" {
            waiting = f
                .sample_ids
                .iter()
                .map(|id| format!("/manage/events/{id}/roster"))
                .collect();
            continue;
        }
        warnings.push(Warning {
            text: lang
                .lookup(&format!("quality.{}", f.check))
                .map_or_else(|| f.description.to_owned(), str::to_owned),
            count: lang.number(f.count as i64),
            links,
        });
    }
    let waiting_count = report
        .findings
        .iter()
        .find(|f| f.check == "past_event_without_attendance")
        .map_or(0, |f| f.count);
    let pending_text = if pending as i64 >= PENDING_SHOWN {
        format!("{}+", lang.number(PENDING_SHOWN))
    } else {
        lang.number(pending as i64)
    };
    let ctx = minijinja::context! {
        active => "manage",
        admin => caller.role == Role::Admin,
        sites => own_sites,
        events => page::data(&lines),
        pending => pending,
        pending_text => pending_text,
        waiting => waiting,
        waiting_count => lang.number(waiting_count as i64),
        warnings => page::data(&warnings),
        fiscal_year => report.fiscal_year,
        ..who.visitor.context()
    };
    page::html(StatusCode::OK, "manage_home.html", ctx)
}
