//! The event editor: create (a draft, published at once, or a past activity recorded after the
//! fact), edit, publish, cancel with a reason after a confirmation, copy to a new date, and the
//! list of a coordinator's events. Times are typed in the event's zone, which the form names.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::db::{Id, Timestamp};
use crate::error::{AppError, FieldError};
use crate::http::with_conn;
use crate::programs::events::{self, CreateEvent, Event, EventPatch, EventStatus, ListFilter};
use crate::programs::program::{self as programs, ProgramStatus};
use crate::signups::service;
use crate::time::When;
use crate::web::coordinator::{EventLine, refuse, require_runner, scope, unseen};
use crate::web::events::given;
use crate::web::form::Form;
use crate::web::page::{self, PageError};
use crate::web::see_other;
use crate::web::signin::CsrfOnly;
use crate::web::visitor::SignedIn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/manage/events", web::get().to(list))
        .route("/manage/events/new", web::get().to(new_form))
        .route("/manage/events/new", web::post().to(create))
        .route("/manage/events/{id}", web::get().to(edit_form))
        .route("/manage/events/{id}", web::post().to(save))
        .route("/manage/events/{id}/publish", web::post().to(publish))
        .route("/manage/events/{id}/cancel", web::get().to(cancel_form))
        .route("/manage/events/{id}/cancel", web::post().to(cancel));
}

/// The editor's fields as the form sends them (all text; empty means "not given").
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct EventForm {
    #[serde(default, skip_serializing)]
    pub csrf: String,
    #[serde(default)]
    pub program_id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub starts_at: String,
    #[serde(default)]
    pub ends_at: String,
    #[serde(default)]
    pub timezone: String,
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub capacity: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    pub waitlist_enabled: Option<String>,
    #[serde(default)]
    pub signup_deadline: String,
    #[serde(default)]
    pub cancel_deadline: String,
    /// Which button: `publish` publishes after saving; anything else keeps a draft.
    #[serde(default, skip_serializing)]
    pub then: String,
}

/// `datetime-local`'s value for an instant in the event's zone.
fn local_input(t: DateTime<FixedOffset>) -> String {
    t.format("%Y-%m-%dT%H:%M").to_string()
}

impl EventForm {
    /// The form filled from an event (to edit it, or to copy it with its times moved by `shift`).
    fn of(e: &Event, shift: chrono::Duration) -> EventForm {
        let t = |t: DateTime<FixedOffset>| local_input(t + shift);
        EventForm {
            program_id: e.program_id.to_string(),
            title: e.title.clone(),
            description: e.description.clone(),
            starts_at: t(e.starts_at),
            ends_at: t(e.ends_at),
            timezone: e.timezone.clone(),
            location: e.location.clone(),
            capacity: e.capacity.map(|c| c.to_string()).unwrap_or_default(),
            waitlist_enabled: e.waitlist_enabled.then(|| "on".to_owned()),
            signup_deadline: e.signup_deadline.map(t).unwrap_or_default(),
            cancel_deadline: e.cancel_deadline.map(t).unwrap_or_default(),
            ..EventForm::default()
        }
    }

    /// Capacity: empty is unlimited, else a whole number (the service checks its range).
    fn capacity(&self) -> Result<Option<i32>, FieldError> {
        given(&self.capacity)
            .map(|c| {
                c.parse::<i32>().map_err(|_| {
                    FieldError::new("capacity", "invalid_number", "a whole number, or empty")
                })
            })
            .transpose()
    }

    fn create(&self) -> Result<CreateEvent, AppError> {
        let mut errors = Vec::new();
        let program_id = self.program_id.trim().parse::<uuid::Uuid>().map_err(|_| {
            errors.push(FieldError::new(
                "program_id",
                "required",
                "choose a programme",
            ))
        });
        let capacity = self.capacity().map_err(|e| errors.push(e));
        match (program_id, capacity) {
            (Ok(program_id), Ok(capacity)) if errors.is_empty() => Ok(CreateEvent {
                program_id,
                title: given(&self.title),
                description: self.description.trim().to_owned(),
                starts_at: When(self.starts_at.trim().to_owned()),
                ends_at: When(self.ends_at.trim().to_owned()),
                timezone: given(&self.timezone),
                location: self.location.trim().to_owned(),
                capacity,
                waitlist_enabled: Some(self.waitlist_enabled.is_some()),
                signup_deadline: given(&self.signup_deadline).map(When),
                cancel_deadline: given(&self.cancel_deadline).map(When),
            }),
            _ => Err(AppError::validation(errors)),
        }
    }

    /// The fields that differ from `e` (unchanged times are not re-sent: a save that changes
    /// nothing must not tell the participants their event moved).
    fn patch(&self, e: &Event) -> Result<EventPatch, AppError> {
        let was = EventForm::of(e, chrono::Duration::zero());
        fn changed<'a>(now: &'a str, before: &str) -> Option<&'a str> {
            (now.trim() != before).then(|| now.trim())
        }
        let capacity = self.capacity().map_err(|e| AppError::validation(vec![e]))?;
        let deadline = |now: &str, before: &str| {
            changed(now, before).map(|v| (!v.is_empty()).then(|| When(v.to_owned())))
        };
        Ok(EventPatch {
            title: changed(&self.title, &was.title).map(str::to_owned),
            description: changed(&self.description, was.description.trim()).map(str::to_owned),
            starts_at: changed(&self.starts_at, &was.starts_at).map(|v| When(v.to_owned())),
            ends_at: changed(&self.ends_at, &was.ends_at).map(|v| When(v.to_owned())),
            timezone: changed(&self.timezone, &was.timezone).map(str::to_owned),
            location: changed(&self.location, &was.location).map(str::to_owned),
            capacity: (capacity != e.capacity).then_some(capacity),
            waitlist_enabled: (self.waitlist_enabled.is_some() != e.waitlist_enabled)
                .then_some(self.waitlist_enabled.is_some()),
            signup_deadline: deadline(&self.signup_deadline, &was.signup_deadline),
            cancel_deadline: deadline(&self.cancel_deadline, &was.cancel_deadline),
        })
    }
}

/// A programme the new-event form offers, with its site's zone (the default of the times).
#[derive(Serialize)]
struct ProgramChoice {
    id: String,
    label: String,
    timezone: String,
}

/// The active programmes of the sites the caller runs.
fn program_choices(
    c: &mut crate::db::AnyConnection,
    sites: &Option<Vec<Id>>,
) -> crate::error::AppResult<Vec<ProgramChoice>> {
    let mut found = Vec::new();
    let filter = |site_id| programs::ListFilter {
        site_id,
        status: Some(ProgramStatus::Active),
        limit: 500,
        ..programs::ListFilter::default()
    };
    match sites {
        Some(sites) => {
            for site in sites {
                found.extend(programs::list(c, &filter(Some(*site)))?);
            }
        }
        None => found.extend(programs::list(c, &filter(None))?),
    }
    let site_ids: Vec<Id> = found.iter().map(|p| Id::from(p.site_id)).collect();
    let zones: Vec<crate::org::sites::Site> = crate::org::sites::list(
        c,
        &crate::org::sites::ListFilter {
            ids: Some(site_ids),
            limit: 5_000,
            ..Default::default()
        },
    )?;
    let mut choices: Vec<ProgramChoice> = found
        .into_iter()
        .map(|p| {
            let site = zones.iter().find(|s| s.id == p.site_id);
            ProgramChoice {
                id: p.id.to_string(),
                label: format!(
                    "{} — {}",
                    p.title,
                    site.map(|s| s.name.as_str()).unwrap_or_default()
                ),
                timezone: site.map(|s| s.timezone.clone()).unwrap_or_default(),
            }
        })
        .collect();
    choices.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(choices)
}

/// The field errors of a refusal as the form shows them, in the reader's language where the
/// catalogue has the code (else the service's words).
pub fn problems(error: &AppError, lang: crate::web::i18n::Lang) -> Vec<minijinja::Value> {
    error
        .field_errors()
        .iter()
        .map(|f| {
            minijinja::context! { field => f.field.clone(), message => page::field_text(f, lang) }
        })
        .collect()
}

/// What the editor shows besides the fields.
struct Editor<'a> {
    /// `None` for a new event.
    event: Option<&'a Event>,
    site: String,
    choices: Vec<ProgramChoice>,
    /// Just saved: the page says so.
    saved: bool,
}

impl<'a> Editor<'a> {
    /// A new event's form, offering `choices` of programme.
    fn new(choices: Vec<ProgramChoice>) -> Editor<'a> {
        Editor {
            event: None,
            site: String::new(),
            choices,
            saved: false,
        }
    }

    /// The form of an existing event at `site`.
    fn of(event: &'a Event, site: String) -> Editor<'a> {
        Editor {
            event: Some(event),
            site,
            choices: Vec::new(),
            saved: false,
        }
    }
}

fn render(
    who: &SignedIn,
    status: StatusCode,
    form: &EventForm,
    editor: Editor<'_>,
    error: Option<&AppError>,
) -> Result<HttpResponse, PageError> {
    let lang = who.lang();
    let zone = editor
        .event
        .map(|e| e.timezone.clone())
        .or_else(|| given(&form.timezone))
        .or_else(|| {
            editor
                .choices
                .iter()
                .find(|c| c.id == form.program_id)
                .map(|c| c.timezone.clone())
        });
    let ctx = minijinja::context! {
        active => "manage",
        f => page::data(form),
        waitlist => form.waitlist_enabled.is_some(),
        zone => zone,
        event => editor.event.map(|e| minijinja::context! {
            id => e.id.to_string(),
            title => e.title.clone(),
            status => e.status.as_str(),
            status_text => lang.text(&format!("manage.status_{}", e.status.as_str())),
            line => page::data(EventLine::of(lang, e, editor.site.clone())),
            editable => matches!(e.status, EventStatus::Draft | EventStatus::Published),
            draft => e.status == EventStatus::Draft,
            attendance => e.status != EventStatus::Draft && e.status != EventStatus::Cancelled,
        }),
        programs => page::data(&editor.choices),
        problem => error.map(|e| page::message(e, lang)),
        problems => error.map(|e| problems(e, lang)).unwrap_or_default(),
        today => Utc::now().date_naive().to_string(),
        saved => editor.saved,
        ..who.visitor.context()
    };
    page::html(status, "manage_event.html", ctx)
}

#[derive(Deserialize)]
struct NewQuery {
    program: Option<uuid::Uuid>,
    /// An event to copy.
    copy: Option<uuid::Uuid>,
    /// The copy's new first day (its times keep their clock time in the event's zone).
    on: Option<NaiveDate>,
}

async fn new_form(
    state: web::Data<AppState>,
    who: SignedIn,
    q: web::Query<NewQuery>,
) -> Result<HttpResponse, PageError> {
    let caller = require_runner(&who)?;
    let sites = scope(&caller);
    let NewQuery { program, copy, on } = q.into_inner();
    let (choices, source) = with_conn(&state.pool, move |c| {
        let source = copy
            .map(|id| events::find_runnable(c, &caller, id.into()))
            .transpose()?;
        Ok((program_choices(c, &sites)?, source))
    })
    .await
    .map_err(|e| refuse(&who, e))?;
    let form = match source {
        Some(e) => {
            let shift = on.map_or(chrono::Duration::zero(), |day| {
                day.signed_duration_since(e.starts_at.date_naive())
            });
            EventForm::of(&e, shift)
        }
        None => EventForm {
            program_id: program.map(|p| p.to_string()).unwrap_or_default(),
            waitlist_enabled: Some("on".to_owned()),
            ..EventForm::default()
        },
    };
    let editor = Editor::new(choices);
    render(&who, StatusCode::OK, &form, editor, None)
}

async fn create(
    state: web::Data<AppState>,
    who: SignedIn,
    form: Form<EventForm>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(&form.csrf)?;
    let caller = require_runner(&who)?;
    let form = form.into_inner();
    let publish = form.then == "publish";
    let request = form.create();
    let sites = scope(&caller);
    let done = with_conn(&state.pool, move |c| {
        let made = request.and_then(|r| events::create_as(c, &caller, &r));
        match made {
            Ok(e) if publish && e.status == EventStatus::Draft => {
                // Saved either way: a refused publication leaves the draft to fix.
                let published = events::publish_as(c, &caller, e.id.into());
                Ok(Ok((e, published.err())))
            }
            Ok(e) => Ok(Ok((e, None))),
            Err(e) if e.status().is_client_error() => {
                Ok(Err((unseen(e), program_choices(c, &sites)?)))
            }
            Err(e) => Err(e),
        }
    })
    .await
    .map_err(|e| refuse(&who, e))?;
    match done {
        Ok((e, None)) => Ok(see_other(&format!("/manage/events/{}?saved=1", e.id))),
        Ok((e, Some(_))) => Ok(see_other(&format!("/manage/events/{}?unpublished=1", e.id))),
        Err((error, _)) if error.status() == StatusCode::NOT_FOUND => Err(who.visitor.error(error)),
        Err((error, choices)) => {
            let editor = Editor::new(choices);
            render(&who, error.status(), &form, editor, Some(&error))
        }
    }
}

/// The event with its site's name, for a caller who runs it (404 otherwise).
async fn load(state: &AppState, who: &SignedIn, id: Id) -> Result<(Event, String), PageError> {
    let caller = require_runner(who)?;
    with_conn(&state.pool, move |c| {
        let e = events::find_runnable(c, &caller, id)?;
        let site = crate::org::sites::find(c, e.site_id.into())?.name;
        Ok((e, site))
    })
    .await
    .map_err(|e| refuse(who, e))
}

#[derive(Deserialize)]
struct Shown {
    saved: Option<String>,
    unpublished: Option<String>,
}

async fn edit_form(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
    shown: web::Query<Shown>,
) -> Result<HttpResponse, PageError> {
    let (e, site) = load(&state, &who, id.into_inner().into()).await?;
    let form = EventForm::of(&e, chrono::Duration::zero());
    let note = if shown.unpublished.is_some() {
        Some(AppError::conflict(
            "not_published",
            "saved as a draft; it could not be published",
        ))
    } else {
        None
    };
    let editor = Editor::of(&e, site);
    let saved = shown.saved.is_some() && note.is_none();
    render(
        &who,
        StatusCode::OK,
        &form,
        Editor { saved, ..editor },
        note.as_ref(),
    )
}

async fn save(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
    form: Form<EventForm>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(&form.csrf)?;
    let id = Id::from(id.into_inner());
    let (e, site) = load(&state, &who, id).await?;
    let form = form.into_inner();
    let caller = who.caller();
    let patch = form.patch(&e);
    let publish = form.then == "publish";
    let done = with_conn(&state.pool, move |c| {
        let e = service::update_event(c, &caller, id, &patch?)?;
        if publish && e.status == EventStatus::Draft {
            events::publish_as(c, &caller, id)?;
        }
        Ok(())
    })
    .await;
    match done.map_err(unseen) {
        Ok(()) => Ok(see_other(&format!("/manage/events/{id}?saved=1"))),
        Err(error) if page::shown_on_form(&error) => {
            // The event as it is now (a publish may have failed after a saved change).
            let (now, site) = load(&state, &who, id).await.unwrap_or((e, site));
            let editor = Editor::of(&now, site);
            render(&who, error.status(), &form, editor, Some(&error))
        }
        Err(error) => Err(refuse(&who, error)),
    }
}

async fn publish(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
    form: Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(&form.csrf)?;
    let id = Id::from(id.into_inner());
    let caller = require_runner(&who)?;
    let done = with_conn(&state.pool, move |c| events::publish_as(c, &caller, id)).await;
    match done {
        Ok(_) => Ok(see_other(&format!("/manage/events/{id}?saved=1"))),
        Err(error) => shown_on_editor(&state, &who, id, error).await,
    }
}

/// A refused action, shown on the event's editor with its status.
async fn shown_on_editor(
    state: &AppState,
    who: &SignedIn,
    id: Id,
    error: AppError,
) -> Result<HttpResponse, PageError> {
    let error = unseen(error);
    if !page::shown_on_form(&error) {
        return Err(who.visitor.error(error));
    }
    let (e, site) = load(state, who, id).await?;
    let form = EventForm::of(&e, chrono::Duration::zero());
    let editor = Editor::of(&e, site);
    render(who, error.status(), &form, editor, Some(&error))
}

#[derive(Deserialize)]
struct CancelForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

async fn cancel_form(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, PageError> {
    let (e, site) = load(&state, &who, id.into_inner().into()).await?;
    let lang = who.lang();
    let ctx = minijinja::context! {
        active => "manage",
        event => page::data(EventLine::of(lang, &e, site)),
        signed_up => lang.number((e.seats_taken + e.waitlist_length).into()),
        ..who.visitor.context()
    };
    page::html(StatusCode::OK, "manage_cancel.html", ctx)
}

async fn cancel(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
    form: Form<CancelForm>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(&form.csrf)?;
    let id = Id::from(id.into_inner());
    let caller = require_runner(&who)?;
    let reason = form.into_inner().reason;
    let done = with_conn(&state.pool, move |c| {
        service::cancel_event_as(c, &caller, id, Some(&reason))
    })
    .await;
    match done {
        Ok(_) => Ok(see_other(&format!("/manage/events/{id}?saved=1"))),
        Err(error) => shown_on_editor(&state, &who, id, error).await,
    }
}

#[derive(Deserialize)]
struct ListQuery {
    cursor: Option<String>,
}

/// The caller's events: upcoming drafts and published ones (with "more"), then the last 60
/// days' past events, newest first.
async fn list(
    state: web::Data<AppState>,
    who: SignedIn,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    const PAGE: i64 = 30;
    let caller = require_runner(&who)?;
    let lang = who.lang();
    let sites = scope(&caller);
    let cursor = q.into_inner().cursor;
    let (upcoming, past, names) = with_conn(&state.pool, move |c| {
        let now = Timestamp::now();
        let after = match cursor.as_deref() {
            Some(cursor) => {
                ListFilter::for_caller(
                    &caller,
                    events::EventQuery {
                        cursor: Some(cursor.to_owned()),
                        ..Default::default()
                    },
                    PAGE,
                )?
                .after
            }
            None => None,
        };
        let upcoming = events::list(
            c,
            &ListFilter {
                statuses: vec![EventStatus::Draft, EventStatus::Published],
                sites: sites.clone(),
                from: Some(now),
                after,
                limit: PAGE,
                ..ListFilter::default()
            },
        )?;
        let past = if after.is_none() {
            let mut past = events::list(
                c,
                &ListFilter {
                    statuses: vec![
                        EventStatus::Published,
                        EventStatus::Completed,
                        EventStatus::Cancelled,
                    ],
                    sites: sites.clone(),
                    from: Some(Timestamp::from(now.get() - chrono::Duration::days(60))),
                    to: Some(now),
                    limit: 200,
                    ..ListFilter::default()
                },
            )?;
            past.retain(|e| e.ends_at.with_timezone(&Utc) <= now.get());
            past.reverse();
            past
        } else {
            Vec::new()
        };
        let ids: Vec<Id> = upcoming
            .iter()
            .chain(&past)
            .map(|e| Id::from(e.site_id))
            .collect();
        let names = crate::org::sites::names(c, &ids)?;
        Ok((upcoming, past, names))
    })
    .await
    .map_err(|e| refuse(&who, e))?;
    let name = |e: &Event| {
        names
            .iter()
            .find(|(s, _)| *s == Id::from(e.site_id))
            .map(|(_, n)| n.clone())
            .unwrap_or_default()
    };
    let more = (upcoming.len() as i64 > PAGE)
        .then(|| upcoming.get(PAGE as usize - 1).map(events::cursor))
        .flatten()
        .map(|c| format!("/manage/events?cursor={}", crate::web::encode(&c)));
    let lines = |list: &[Event]| -> Vec<EventLine> {
        list.iter()
            .take(PAGE as usize)
            .map(|e| EventLine::of(lang, e, name(e)))
            .collect()
    };
    let ctx = minijinja::context! {
        active => "manage",
        upcoming => page::data(lines(&upcoming)),
        past => page::data(lines(&past)),
        more => more,
        ..who.visitor.context()
    };
    page::html(StatusCode::OK, "manage_events.html", ctx)
}
