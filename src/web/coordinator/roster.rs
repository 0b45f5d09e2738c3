//! The roster of an event and its attendance, made for a phone on site: who is confirmed,
//! waitlisted and cancelled (with contact details), adding someone (past the overlap rule when
//! the coordinator says so) or cancelling for them, the CSV, and attendance per person — saved
//! row by row without a reload (htmx), or all at once as one form without JavaScript — with
//! walk-ins by employee number. Then the check-in screen: the code and QR code, large, and who
//! has checked in.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::attendance::approval::{self, ListFilter as RecordFilter, QueueItem};
use crate::attendance::checkin;
use crate::attendance::model::{Approval, AttendanceStatus, Source};
use crate::attendance::roster::{self as marking, RosterLine, RosterMarking};
use crate::attendance::rules::{self, Span};
use crate::auth::Caller;
use crate::db::{Id, Timestamp};
use crate::error::{AppError, AppResult, FieldError};
use crate::http::with_conn;
use crate::people::users::{self, Visibility};
use crate::programs::events::{Event, EventStatus};
use crate::programs::records_scope;
use crate::signups::roster::{self, RosterEntry};
use crate::signups::service::{self, SignupStatus};
use crate::web::coordinator::{EventLine, refuse, require_runner, unseen};
use crate::web::form::{Form, field};
use crate::web::i18n::Lang;
use crate::web::page::{self, PageError};
use crate::web::see_other;
use crate::web::signin::CsrfOnly;
use crate::web::visitor::SignedIn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/manage/events/{id}/roster", web::get().to(show))
        .route("/manage/events/{id}/roster.csv", web::get().to(csv))
        .route("/manage/events/{id}/roster/add", web::post().to(add))
        .route("/manage/events/{id}/attendance", web::post().to(save_all))
        .route(
            "/manage/events/{id}/attendance/everyone",
            web::post().to(everyone),
        )
        .route(
            "/manage/events/{id}/attendance/{user}",
            web::post().to(save_row),
        )
        .route("/manage/events/{id}/walk-in", web::post().to(walk_in))
        .route("/manage/signups/{id}/cancel", web::post().to(cancel))
        .route("/manage/events/{id}/check-in", web::get().to(screen))
        .route("/manage/events/{id}/check-in", web::post().to(new_code))
        .route("/manage/events/{id}/check-in/qr.svg", web::get().to(qr))
        .route(
            "/manage/events/{id}/check-in/arrivals",
            web::get().to(arrivals),
        );
}

/// The most attendance records one roster shows (a marking request's own bound).
const RECORDS: i64 = marking::MAX_ENTRIES as i64;

/// Everything the roster page shows, read in one go.
struct Loaded {
    event: Event,
    /// The event's fiscal year when it is closed: recording asks for a restatement reason.
    closed_year: Option<i32>,
    site: String,
    entries: Vec<RosterEntry>,
    records: Vec<QueueItem>,
    /// Minutes and days recorded when nobody says otherwise.
    defaults: (i32, i32),
    /// The reader may record attendance now (runs the site; the event has started).
    can_mark: bool,
}

fn defaults(event: &Event, per_day: u32) -> (i32, i32) {
    let span = Span::of(
        Timestamp::from(event.starts_at.with_timezone(&Utc)),
        Timestamp::from(event.ends_at.with_timezone(&Utc)),
        &event.timezone,
    );
    let entry = rules::Entry {
        status: AttendanceStatus::Attended,
        minutes: None,
        days: None,
    };
    rules::resolve(entry, span, i32::try_from(per_day).unwrap_or(480)).unwrap_or((0, 0))
}

fn read(
    c: &mut crate::db::AnyConnection,
    caller: &Caller,
    id: Id,
    per_day: u32,
) -> AppResult<Loaded> {
    let (event, entries) = roster::roster(c, caller, id)?;
    let records = approval::list(
        c,
        &RecordFilter {
            event_id: Some(id),
            sites: records_scope(caller, None)?,
            limit: RECORDS,
            ..RecordFilter::default()
        },
    )?;
    let site = crate::org::sites::find(c, event.site_id.into())?.name;
    let closed_year = crate::stats::closing::closed_year_of(
        c,
        crate::time::local_date(
            Timestamp::from(event.starts_at.with_timezone(&Utc)),
            &event.timezone,
        ),
    )?;
    let started = Utc::now() >= event.starts_at.with_timezone(&Utc);
    let can_mark = caller.coordinates(event.site_id.into())
        && started
        && matches!(
            event.status,
            EventStatus::Published | EventStatus::Completed
        );
    Ok(Loaded {
        closed_year,
        defaults: defaults(&event, per_day),
        event,
        site,
        entries,
        records,
        can_mark,
    })
}

async fn load(state: &AppState, who: &SignedIn, id: Id) -> Result<Loaded, PageError> {
    let caller = require_runner(who)?;
    let per_day = state.settings.attendance.default_minutes_per_day;
    with_conn(&state.pool, move |c| read(c, &caller, id, per_day))
        .await
        .map_err(|e| refuse(who, e))
}

/// One person on the attendance form.
#[derive(Serialize, Clone)]
struct Mark {
    user_id: String,
    name: String,
    number: String,
    /// `attended`, `no_show`, or empty when not recorded yet.
    status: String,
    days: i32,
    minutes: i32,
    /// How the record stands: pending, approved, rejected with the reason; empty when none.
    state: String,
    walk_in: bool,
    checked_in: bool,
    problem: Option<String>,
    saved: bool,
}

fn approval_text(lang: Lang, r: &QueueItem) -> String {
    match r.attendance.approval {
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
    }
}

/// The people to mark: every confirmed sign-up in roster order, then whoever has a record
/// without one (walk-ins, a waitlisted person who came).
fn marks(lang: Lang, loaded: &Loaded) -> Vec<Mark> {
    let by_user: HashMap<uuid::Uuid, &QueueItem> = loaded
        .records
        .iter()
        .map(|r| (r.attendance.user_id, r))
        .collect();
    let (minutes, days) = loaded.defaults;
    let line = |user: uuid::Uuid, name: &str, number: &str, walk_in: bool| {
        let record = by_user.get(&user);
        Mark {
            user_id: user.to_string(),
            name: name.to_owned(),
            number: number.to_owned(),
            status: record.map_or(String::new(), |r| r.attendance.status.as_str().to_owned()),
            days: record.map_or(days, |r| r.attendance.days),
            minutes: record.map_or(minutes, |r| r.attendance.minutes),
            state: record.map_or(String::new(), |r| approval_text(lang, r)),
            walk_in,
            checked_in: record.is_some_and(|r| r.attendance.source == Source::CheckIn),
            problem: None,
            saved: false,
        }
    };
    let mut out: Vec<Mark> = loaded
        .entries
        .iter()
        .filter(|e| e.status == SignupStatus::Confirmed)
        .map(|e| line(e.user_id, &e.display_name, &e.employee_number, false))
        .collect();
    for r in &loaded.records {
        if !out
            .iter()
            .any(|m| m.user_id == r.attendance.user_id.to_string())
        {
            out.push(line(
                r.attendance.user_id,
                &r.display_name,
                &r.employee_number,
                r.attendance.signup_id.is_none(),
            ));
        }
    }
    out
}

#[derive(Serialize)]
struct Person {
    signup_id: String,
    name: String,
    number: String,
    email: String,
    when: String,
    position: Option<i32>,
}

fn people(lang: Lang, loaded: &Loaded, status: SignupStatus) -> Vec<Person> {
    let tz = &loaded.event.timezone;
    loaded
        .entries
        .iter()
        .filter(|e| e.status == status)
        .map(|e| Person {
            signup_id: e.signup_id.to_string(),
            name: e.display_name.clone(),
            number: e.employee_number.clone(),
            email: e.email.clone(),
            when: lang.when(e.cancelled_at.unwrap_or(e.signed_up_at), tz),
            position: e.waitlist_position,
        })
        .collect()
}

/// What the page says besides the roster: a notice, a refusal, the clash to force past.
#[derive(Default)]
struct Said {
    notice: Option<String>,
    problem: Option<String>,
    /// The person an overlap refused, and what they are already signed up for.
    clash: Option<(String, String)>,
    /// Per-person problems of a whole-form save, by user id.
    row_problems: HashMap<String, String>,
    add_value: String,
}

fn render(
    who: &SignedIn,
    status: StatusCode,
    loaded: &Loaded,
    said: Said,
) -> Result<HttpResponse, PageError> {
    let lang = who.lang();
    let mut rows = marks(lang, loaded);
    for r in &mut rows {
        r.problem = said.row_problems.get(&r.user_id).cloned();
    }
    let e = &loaded.event;
    let (minutes, days) = loaded.defaults;
    let ctx = minijinja::context! {
        active => "manage",
        event => page::data(EventLine::of(lang, e, loaded.site.clone())),
        event_id => e.id.to_string(),
        location => e.location.clone(),
        can_mark => loaded.can_mark,
        closed_year => loaded.closed_year.map(|fy| {
            page::fill(lang, "stats.fiscal_year", &[("year", &fy.to_string())])
        }),
        runs => who.caller().coordinates(e.site_id.into()),
        not_started => Utc::now() < e.starts_at.with_timezone(&Utc),
        rows => page::data(&rows),
        unmarked => rows.iter().filter(|r| r.status.is_empty()).count(),
        defaults => page::fill(lang, "roster.defaults", &[
            ("days", &lang.number(days.into())),
            ("minutes", &lang.number(minutes.into())),
        ]),
        confirmed => page::data(people(lang, loaded, SignupStatus::Confirmed)),
        waitlisted => page::data(people(lang, loaded, SignupStatus::Waitlisted)),
        cancelled => page::data(people(lang, loaded, SignupStatus::Cancelled)),
        notice => said.notice,
        problem => said.problem,
        clash => said.clash.map(|(user, text)| minijinja::context! { user => user, text => text }),
        add_value => said.add_value,
        ..who.visitor.context()
    };
    page::html(status, "manage_roster.html", ctx)
}

#[derive(Deserialize)]
struct Shown {
    saved: Option<usize>,
    added: Option<String>,
}

async fn show(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
    q: web::Query<Shown>,
) -> Result<HttpResponse, PageError> {
    let loaded = load(&state, &who, id.into_inner().into()).await?;
    let lang = who.lang();
    let notice = match (q.saved, &q.added) {
        (Some(n), _) => Some(page::fill(
            lang,
            "roster.saved",
            &[("n", &lang.number(n as i64))],
        )),
        (None, Some(name)) => Some(page::fill(lang, "roster.added", &[("name", name)])),
        _ => None,
    };
    render(
        &who,
        StatusCode::OK,
        &loaded,
        Said {
            notice,
            ..Said::default()
        },
    )
}

#[derive(Deserialize)]
struct CsvQuery {
    bom: Option<String>,
}

async fn csv(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
    q: web::Query<CsvQuery>,
) -> Result<HttpResponse, PageError> {
    let caller = require_runner(&who)?;
    let id = Id::from(id.into_inner());
    let (event, entries) = with_conn(&state.pool, move |c| roster::roster(c, &caller, id))
        .await
        .map_err(|e| refuse(&who, e))?;
    let body = roster::csv(&event, &entries, q.bom.is_some())
        .map_err(|e| who.visitor.error(AppError::internal(e)))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"roster-{id}.csv\""),
        ))
        .body(body))
}

/// After a refused change: the roster again, with the reason, answered with its status.
async fn refused(
    state: &AppState,
    who: &SignedIn,
    event: Id,
    error: AppError,
    said: Said,
) -> Result<HttpResponse, PageError> {
    let error = unseen(error);
    if !page::shown_on_form(&error) {
        return Err(who.visitor.error(error));
    }
    let loaded = load(state, who, event).await?;
    let lang = who.lang();
    let problem = page::reason(&error, lang);
    let said = Said {
        problem: said.problem.or(Some(problem)),
        ..said
    };
    let res = render(who, error.status(), &loaded, said)?;
    Ok(page::with_headers_of(res, &error))
}

#[derive(Deserialize)]
struct AddForm {
    #[serde(default)]
    csrf: String,
    /// An employee number, or a name (or part of one, or an email) of someone the reader sees.
    #[serde(default)]
    who: String,
    /// Set when the coordinator accepts an overlap shown to them.
    #[serde(default)]
    user: Option<uuid::Uuid>,
    #[serde(default)]
    force: Option<String>,
}

/// Who `text` names: an employee number exactly (anyone: what a paper sheet holds), else the
/// people the reader may see whose name, email or number contains it.
fn find_people(
    c: &mut crate::db::AnyConnection,
    caller: &Caller,
    text: &str,
) -> AppResult<Vec<users::User>> {
    let text = text.trim();
    let by_number = users::list(
        c,
        &Visibility::All,
        &users::ListFilter {
            employee_number: Some(text.to_owned()),
            active: Some(true),
            limit: 1,
            ..Default::default()
        },
    )?;
    if !by_number.is_empty() {
        return Ok(by_number);
    }
    users::list_visible(
        c,
        caller,
        &users::ListFilter {
            text: Some(text.to_owned()),
            active: Some(true),
            limit: 6,
            ..Default::default()
        },
    )
}

async fn add(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
    form: Form<AddForm>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(&form.csrf)?;
    let caller = require_runner(&who)?;
    let event = Id::from(id.into_inner());
    let form = form.into_inner();
    let lang = who.lang();
    if form.user.is_none() && form.who.trim().is_empty() {
        let error = AppError::validation(vec![FieldError::new(
            "who",
            "required",
            "an employee number or a name",
        )]);
        return refused(&state, &who, event, error, Said::default()).await;
    }
    let text = form.who.clone();
    let force = form.force.is_some();
    let chosen = form.user;
    let done = with_conn(&state.pool, move |c| {
        // The event first: another site's roster is 404 before anyone is looked up.
        crate::programs::events::find_runnable(c, &caller, event)?;
        let user = match chosen {
            Some(user) => {
                users::find(c, user.into())?.ok_or_else(|| AppError::not_found("no such person"))?
            }
            None => {
                let mut found = find_people(c, &caller, &text)?;
                match found.len() {
                    0 => {
                        return Err(AppError::validation(vec![FieldError::new(
                            "who",
                            "unknown_employee",
                            "nobody with this number or name",
                        )]));
                    }
                    1 => found.remove(0),
                    _ => {
                        return Err(AppError::validation(vec![FieldError::new(
                            "who",
                            "ambiguous",
                            "several people match: give the employee number",
                        )]));
                    }
                }
            }
        };
        let name = user.display_name.clone();
        let id = user.id;
        match service::sign_up_as(c, &caller, event, Some(id.into()), force) {
            Ok(_) => Ok(Ok(name)),
            Err(e) if e.code() == "overlapping_signup" => Ok(Err((id, name, e))),
            Err(e) => Err(e),
        }
    })
    .await;
    match done {
        Ok(Ok(name)) => Ok(see_other(&format!(
            "/manage/events/{event}/roster?added={}",
            crate::web::encode(&name)
        ))),
        Ok(Err((user, name, error))) => {
            let text = page::fill(
                lang,
                "roster.clash",
                &[("name", &name), ("detail", error.detail())],
            );
            let said = Said {
                clash: Some((user.to_string(), text.clone())),
                problem: Some(text),
                add_value: form.who,
                ..Said::default()
            };
            refused(&state, &who, event, error, said).await
        }
        Err(error) => {
            let said = Said {
                add_value: form.who,
                ..Said::default()
            };
            refused(&state, &who, event, error, said).await
        }
    }
}

#[derive(Deserialize)]
struct CancelForm {
    #[serde(default)]
    csrf: String,
    event: uuid::Uuid,
}

async fn cancel(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
    form: Form<CancelForm>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(&form.csrf)?;
    let caller = require_runner(&who)?;
    let signup = Id::from(id.into_inner());
    let event = Id::from(form.event);
    let done = with_conn(&state.pool, move |c| {
        let s = service::find(c, signup)?;
        // Only through a roster the reader runs: another site's sign-up is 404 here.
        let e = crate::programs::events::find_runnable(c, &caller, s.event_id.into())?;
        if Id::from(e.id) != event {
            return Err(AppError::not_found("no such sign-up"));
        }
        service::cancel_as(c, &caller, signup)
    })
    .await;
    match done {
        Ok(_) => Ok(see_other(&format!("/manage/events/{event}/roster"))),
        Err(error) => refused(&state, &who, event, error, Said::default()).await,
    }
}

/// The attendance fields of one person, as the form names them (`status.{user}`, ...).
fn line_of(fields: &[(String, String)], user: &str) -> Result<Option<RosterLine>, AppError> {
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k.strip_prefix(name).and_then(|k| k.strip_prefix('.')) == Some(user))
            .map(|(_, v)| v.trim().to_owned())
    };
    let status = match get("status").as_deref() {
        Some("attended") => AttendanceStatus::Attended,
        Some("no_show") => AttendanceStatus::NoShow,
        _ => return Ok(None),
    };
    let user_id: uuid::Uuid = user
        .parse()
        .map_err(|_| AppError::not_found("no such person"))?;
    let number = |name: &str| -> Result<Option<i32>, AppError> {
        match get(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse::<i32>().map(Some).map_err(|_| {
                AppError::validation(vec![FieldError::new(
                    name,
                    "invalid_number",
                    "a whole number",
                )])
            }),
        }
    };
    // A no-show records nothing: the defaults the form shows are not sent for one.
    let (minutes, days) = match status {
        AttendanceStatus::NoShow => (None, None),
        AttendanceStatus::Attended => (number("minutes")?, number("days")?),
    };
    Ok(Some(RosterLine {
        user_id: Some(user_id),
        employee_number: None,
        status,
        minutes,
        days,
    }))
}

/// Records `entries` through the API's roster marking.
/// `reason`: the form's restatement reason, for an event of a closed fiscal year.
async fn record(
    state: &AppState,
    who: &SignedIn,
    event: Id,
    entries: Vec<RosterLine>,
    reason: &str,
) -> AppResult<usize> {
    let caller = who.caller().restating(reason);
    let settings = state.settings.attendance.clone();
    with_conn(&state.pool, move |c| {
        let marking = RosterMarking { entries };
        marking::mark(c, &caller, event, &marking, None, &settings)
            .map(|r| r.created + r.updated + r.unchanged)
    })
    .await
}

fn is_htmx(req: &HttpRequest) -> bool {
    req.headers().contains_key("HX-Request")
}

/// One person's attendance: with htmx the answer is their row alone, else the roster again.
async fn save_row(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: SignedIn,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
    form: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(field(&form, "csrf"))?;
    require_runner(&who)?;
    let (event, user) = path.into_inner();
    let event = Id::from(event);
    let key = user.to_string();
    let lang = who.lang();
    let outcome = match line_of(&form, &key) {
        Ok(Some(line)) => record(
            &state,
            &who,
            event,
            vec![line],
            field(&form, "restatement_reason"),
        )
        .await
        .map(Some),
        Ok(None) => Ok(None),
        Err(e) => Err(e),
    };
    if !is_htmx(&req) {
        return match outcome {
            Ok(_) => Ok(see_other(&format!(
                "/manage/events/{event}/roster?saved=1#row-{key}"
            ))),
            Err(error) => {
                let mut row_problems = HashMap::new();
                row_problems.insert(key, page::reason(&error, lang));
                let said = Said {
                    row_problems,
                    ..Said::default()
                };
                refused(&state, &who, event, error, said).await
            }
        };
    }
    let (status, problem, saved) = match outcome {
        Ok(Some(_)) => (StatusCode::OK, None, true),
        Ok(None) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(lang.text("roster.choose")),
            false,
        ),
        Err(error) => {
            let error = unseen(error);
            if !page::shown_on_form(&error) {
                return Err(who.visitor.error(error));
            }
            (error.status(), Some(page::reason(&error, lang)), false)
        }
    };
    // The row as it now stands, with what happened to it.
    let loaded = load(&state, &who, event).await?;
    let mut row = marks(lang, &loaded)
        .into_iter()
        .find(|m| m.user_id == user.to_string())
        .ok_or_else(|| who.visitor.error(AppError::not_found("no such person")))?;
    row.problem = problem;
    row.saved = saved;
    let ctx = minijinja::context! {
        r => page::data(&row),
        event_id => event.to_string(),
        can_mark => loaded.can_mark,
        ..who.visitor.context()
    };
    page::html(status, "manage_mark_row.html", ctx)
}

/// Everyone on the form at once (the form without JavaScript): each person with a choice.
async fn save_all(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
    form: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(field(&form, "csrf"))?;
    require_runner(&who)?;
    let event = Id::from(id.into_inner());
    let lang = who.lang();
    let users: Vec<String> = form
        .iter()
        .filter_map(|(k, _)| k.strip_prefix("status.").map(str::to_owned))
        .collect();
    let mut entries = Vec::new();
    let mut row_problems = HashMap::new();
    for user in &users {
        match line_of(&form, user) {
            Ok(Some(line)) => entries.push((user.clone(), line)),
            Ok(None) => {}
            Err(e) => {
                row_problems.insert(user.clone(), page::reason(&e, lang));
            }
        }
    }
    if !row_problems.is_empty() {
        let error = AppError::validation(Vec::new());
        let said = Said {
            row_problems,
            problem: Some(lang.text("roster.fix_rows")),
            ..Said::default()
        };
        return refused(&state, &who, event, error, said).await;
    }
    let order: Vec<String> = entries.iter().map(|(u, _)| u.clone()).collect();
    let lines = entries.into_iter().map(|(_, l)| l).collect();
    match record(
        &state,
        &who,
        event,
        lines,
        field(&form, "restatement_reason"),
    )
    .await
    {
        Ok(n) => Ok(see_other(&format!(
            "/manage/events/{event}/roster?saved={n}"
        ))),
        Err(error) => {
            // `entries[i].field` names the line: shown on that person's row.
            let mut row_problems = HashMap::new();
            for f in error.field_errors() {
                let i = f
                    .field
                    .strip_prefix("entries[")
                    .and_then(|r| r.split(']').next())
                    .and_then(|i| i.parse::<usize>().ok());
                if let Some(user) = i.and_then(|i| order.get(i)) {
                    row_problems.insert(user.clone(), page::field_text(f, lang));
                }
            }
            let said = Said {
                row_problems,
                ..Said::default()
            };
            refused(&state, &who, event, error, said).await
        }
    }
}

/// "Everyone attended": every confirmed person not marked yet, attended with the defaults.
async fn everyone(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
    form: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(field(&form, "csrf"))?;
    let event = Id::from(id.into_inner());
    let loaded = load(&state, &who, event).await?;
    let lines: Vec<RosterLine> = marks(who.lang(), &loaded)
        .into_iter()
        .filter(|m| m.status.is_empty())
        .filter_map(|m| m.user_id.parse().ok())
        .map(|user_id| RosterLine {
            user_id: Some(user_id),
            employee_number: None,
            status: AttendanceStatus::Attended,
            minutes: None,
            days: None,
        })
        .collect();
    if lines.is_empty() {
        return Ok(see_other(&format!("/manage/events/{event}/roster?saved=0")));
    }
    match record(
        &state,
        &who,
        event,
        lines,
        field(&form, "restatement_reason"),
    )
    .await
    {
        Ok(n) => Ok(see_other(&format!(
            "/manage/events/{event}/roster?saved={n}"
        ))),
        Err(error) => refused(&state, &who, event, error, Said::default()).await,
    }
}

#[derive(Deserialize)]
struct WalkInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    employee_number: String,
    #[serde(default)]
    restatement_reason: String,
}

/// Someone who came without a sign-up, by employee number: attended, with the defaults.
async fn walk_in(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
    form: Form<WalkInForm>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(&form.csrf)?;
    require_runner(&who)?;
    let event = Id::from(id.into_inner());
    let number = form.employee_number.trim().to_owned();
    if number.is_empty() {
        let error = AppError::validation(vec![FieldError::new(
            "employee_number",
            "required",
            "the employee number",
        )]);
        return refused(&state, &who, event, error, Said::default()).await;
    }
    let line = RosterLine {
        user_id: None,
        employee_number: Some(number),
        status: AttendanceStatus::Attended,
        minutes: None,
        days: None,
    };
    match record(&state, &who, event, vec![line], &form.restatement_reason).await {
        Ok(n) => Ok(see_other(&format!(
            "/manage/events/{event}/roster?saved={n}"
        ))),
        Err(error) => refused(&state, &who, event, error, Said::default()).await,
    }
}

/// The check-in screen: the code and QR code large enough to read across a room or print,
/// with the event's title and time, and who has checked in (refreshed every few seconds).
async fn screen(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, PageError> {
    show_screen(&state, &who, id.into_inner().into(), false).await
}

async fn new_code(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
    form: Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(&form.csrf)?;
    show_screen(&state, &who, id.into_inner().into(), true).await
}

async fn show_screen(
    state: &AppState,
    who: &SignedIn,
    id: Id,
    rotate: bool,
) -> Result<HttpResponse, PageError> {
    let caller = require_runner(who)?;
    let settings = state.settings.attendance.clone();
    let base = state.settings.server.public_base();
    let per_day = settings.default_minutes_per_day;
    let (code, loaded) = with_conn(&state.pool, move |c| {
        let code = checkin::code(c, &caller, id, rotate, &settings, &base)?;
        Ok((code, read(c, &caller, id, per_day)?))
    })
    .await
    .map_err(|e| refuse(who, e))?;
    let lang = who.lang();
    let tz = &loaded.event.timezone;
    let ctx = minijinja::context! {
        active => "manage",
        event => page::data(EventLine::of(lang, &loaded.event, loaded.site.clone())),
        event_id => id.to_string(),
        code => code.code.clone(),
        link => code.qr_payload.clone(),
        opens => lang.when(code.opens_at.with_timezone(&Utc), tz),
        closes => lang.when(code.closes_at.with_timezone(&Utc), tz),
        rotated => rotate,
        arrivals => page::data(arrived(lang, &loaded)),
        ..who.visitor.context()
    };
    page::html(StatusCode::OK, "manage_check_in.html", ctx)
}

/// Who has checked in, newest last.
fn arrived(lang: Lang, loaded: &Loaded) -> Vec<(String, String)> {
    loaded
        .records
        .iter()
        .filter(|r| r.attendance.source == Source::CheckIn)
        .map(|r| {
            (
                r.display_name.clone(),
                lang.when(r.attendance.created_at, &loaded.event.timezone),
            )
        })
        .collect()
}

async fn arrivals(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, PageError> {
    let loaded = load(&state, &who, id.into_inner().into()).await?;
    let ctx = minijinja::context! {
        arrivals => page::data(arrived(who.lang(), &loaded)),
        ..who.visitor.context()
    };
    page::html(StatusCode::OK, "manage_arrivals.html", ctx)
}

async fn qr(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, PageError> {
    let caller = require_runner(&who)?;
    let id = Id::from(id.into_inner());
    let settings = state.settings.attendance.clone();
    let base = state.settings.server.public_base();
    let code = with_conn(&state.pool, move |c| {
        checkin::code(c, &caller, id, false, &settings, &base)
    })
    .await
    .map_err(|e| refuse(&who, e))?;
    let svg = code.svg().map_err(|e| who.visitor.error(e))?;
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(svg))
}
