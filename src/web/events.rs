//! The employee's event pages: the list with its filters, one event with sign-up, waitlist and
//! cancel, and its calendar file. Every read and write is the API's own service call.

use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use minijinja::Value;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::db::Id;
use crate::error::{AppError, AppResult};
use crate::http::with_conn;
use crate::programs::events::{self, Event, EventQuery, EventStatus, ListFilter};
use crate::programs::program::{self as programs, Theme};
use crate::signups::service::{self, Signup, SignupStatus};
use crate::web::form::Form;
use crate::web::i18n::Lang;
use crate::web::page::{self, PageError};
use crate::web::see_other;
use crate::web::signin::CsrfOnly;
use crate::web::visitor::{Arrival, SignedIn};

/// Events per page of the list ("more" fetches the next page).
const PAGE: i64 = 20;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/events", web::get().to(list))
        .route("/events/{id}", web::get().to(show))
        .route("/events/{id}/sign-up", web::post().to(sign_up))
        .route("/events/{id}/calendar.ics", web::get().to(calendar))
        .route("/signups/{id}/cancel", web::post().to(cancel));
}

/// The list's filters as the form sends them: every field text, empty meaning "any".
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct Filters {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub site: String,
    #[serde(default)]
    pub company: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub theme: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub free: String,
    #[serde(default, skip_serializing)]
    pub cursor: String,
}

/// A form field as given: trimmed, `None` when empty (an empty field means "not given").
pub(crate) fn given(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

fn uuid_field(name: &str, s: &str) -> AppResult<Option<uuid::Uuid>> {
    given(s)
        .map(|v| {
            v.parse().map_err(|_| {
                AppError::bad_request("invalid_query", format!("{name} is not a known choice"))
            })
        })
        .transpose()
}

impl Filters {
    /// The API's query for these filters: both doors list through `ListFilter::for_caller`.
    fn query(&self) -> AppResult<EventQuery> {
        Ok(EventQuery {
            site_id: uuid_field("site", &self.site)?,
            company_id: uuid_field("company", &self.company)?,
            region: given(&self.region),
            theme: given(&self.theme).map(|t| Theme::parse(&t)).transpose()?,
            category: given(&self.category),
            from: given(&self.from),
            to: given(&self.to),
            free_seats: given(&self.free).map(|_| true),
            q: given(&self.q),
            cursor: given(&self.cursor),
            limit: Some(PAGE),
            ..EventQuery::default()
        })
    }

    fn any(&self) -> bool {
        [
            &self.q,
            &self.site,
            &self.company,
            &self.region,
            &self.theme,
            &self.category,
            &self.from,
            &self.to,
            &self.free,
        ]
        .iter()
        .any(|f| !f.trim().is_empty())
    }

    /// The list's address continuing after `cursor`, with the same filters.
    fn more(&self, cursor: &str) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("q", &self.q),
            ("site", &self.site),
            ("company", &self.company),
            ("region", &self.region),
            ("theme", &self.theme),
            ("category", &self.category),
            ("from", &self.from),
            ("to", &self.to),
            ("free", &self.free),
        ] {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
        q.append_pair("cursor", cursor);
        format!("/events?{}", q.finish())
    }
}

/// An event as a card of the list.
#[derive(Serialize)]
struct Card {
    id: String,
    title: String,
    when: String,
    site: String,
    location: String,
    seats: String,
    full: bool,
    waitlist: Option<String>,
}

fn seats_text(lang: Lang, e: &Event) -> (String, bool) {
    match e.seats_free {
        None => (lang.text("event.unlimited"), false),
        Some(0) => (lang.text("events.full"), true),
        Some(n) => (
            page::fill(lang, "events.seats_left", &[("n", &lang.number(n.into()))]),
            false,
        ),
    }
}

fn waitlist_text(lang: Lang, e: &Event) -> Option<String> {
    (e.waitlist_length > 0).then(|| {
        page::fill(
            lang,
            "events.waitlist",
            &[("n", &lang.number(e.waitlist_length.into()))],
        )
    })
}

fn span(lang: Lang, e: &Event) -> String {
    lang.span(
        e.starts_at.with_timezone(&Utc),
        e.ends_at.with_timezone(&Utc),
        &e.timezone,
    )
}

#[derive(Serialize)]
pub(crate) struct Choice {
    pub id: String,
    pub name: String,
}

/// The filter form's lists of companies and categories: reference data that changes a few times
/// a year, read once a minute rather than on every page.
pub(crate) mod lookups {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::Choice;
    use crate::db::AnyConnection;
    use crate::error::AppResult;

    const FRESH_FOR: Duration = Duration::from_secs(60);

    #[derive(serde::Serialize)]
    pub struct Lookups {
        pub companies: Vec<Choice>,
        /// `{code, label}` (the `id` is the code).
        pub categories: Vec<Choice>,
    }

    static CACHE: parking_lot::Mutex<Option<(Instant, Arc<Lookups>)>> =
        parking_lot::Mutex::new(None);

    pub fn cached() -> Option<Arc<Lookups>> {
        CACHE
            .lock()
            .as_ref()
            .filter(|(at, _)| at.elapsed() < FRESH_FOR)
            .map(|(_, l)| l.clone())
    }

    pub fn load(c: &mut AnyConnection) -> AppResult<Arc<Lookups>> {
        let mut companies: Vec<Choice> = crate::org::companies::list(c, None, 5_000)?
            .into_iter()
            .map(|co| Choice {
                id: co.id.to_string(),
                name: co.name,
            })
            .collect();
        companies.sort_by(|a, b| a.name.cmp(&b.name));
        let categories = crate::programs::program::categories(c)?
            .into_iter()
            .map(|cat| Choice {
                id: cat.code,
                name: cat.label,
            })
            .collect();
        let fresh = Arc::new(Lookups {
            companies,
            categories,
        });
        *CACHE.lock() = Some((Instant::now(), fresh.clone()));
        Ok(fresh)
    }
}

/// The page every employee opens: the session is checked in the same pool turn as the page's
/// reads (see `visitor::Arrival`), so a view costs one turn, like the API's list.
async fn list(
    state: web::Data<AppState>,
    arrival: Arrival,
    filters: web::Query<Filters>,
) -> Result<HttpResponse, PageError> {
    let filters = filters.into_inner();
    let query = filters.query();
    let limit = PAGE;
    // A select of every site (1,700 in the model programme) would outweigh the page: the
    // site choices are the chosen company's sites, else the reader's own site and the one
    // already chosen.
    let company = uuid_field("company", &filters.company).ok().flatten();
    let chosen_site = uuid_field("site", &filters.site)
        .ok()
        .flatten()
        .map(Id::from);
    let cached = lookups::cached();
    let (cache, metrics) = (state.event_lists.clone(), state.metrics.clone());
    let guessed = arrival.guessed_lang();
    // One connection for the session and everything the page reads.
    let read = with_conn(&state.pool, move |c| {
        let who = match arrival.signed_in(c)? {
            Ok(who) => who,
            Err(to_sign_in) => return Ok(Err(to_sign_in)),
        };
        let caller = who.caller();
        let reads = (|| {
            let (rows, problem) = match query.and_then(|q| ListFilter::for_caller(&caller, q, PAGE))
            {
                Ok(filter) => match events::list_shared(&cache, c, &caller, &filter) {
                    Ok((rows, from)) => {
                        metrics.event_list_page(from.as_str());
                        (rows, None)
                    }
                    Err(e) if e.status().is_client_error() => (Arc::default(), Some(e)),
                    Err(e) => return Err(e),
                },
                Err(e) => (Arc::default(), Some(e)),
            };
            let choices: Vec<crate::org::sites::Site> = match company {
                Some(company) => crate::org::sites::list(
                    c,
                    &crate::org::sites::ListFilter {
                        company_id: Some(company.into()),
                        limit: 5_000,
                        ..Default::default()
                    },
                )?,
                None => Vec::new(),
            };
            let mut wanted: Vec<Id> = caller.site_id.into_iter().collect();
            wanted.extend(chosen_site);
            // A page's events are mostly at a few sites: each asked for once.
            let mut ids: Vec<uuid::Uuid> = rows.iter().map(|e| e.site_id).collect();
            ids.extend(wanted.iter().map(|id| id.0));
            ids.sort_unstable();
            ids.dedup();
            let named = cache.site_names(&ids, |missing| {
                let missing: Vec<Id> = missing.iter().copied().map(Id::from).collect();
                Ok(crate::org::sites::names(c, &missing)?
                    .into_iter()
                    .map(|(id, name)| (id.into(), name))
                    .collect())
            })?;
            let lookups = match cached {
                Some(l) => l,
                None => lookups::load(c)?,
            };
            Ok((
                rows,
                problem,
                (company.is_some(), choices, wanted),
                named,
                lookups,
            ))
        })();
        Ok(Ok((who, reads)))
    })
    .await
    .map_err(|e| PageError::in_lang(e, guessed))?;
    let (who, reads) = read?;
    let (rows, problem, choices, named, lookups) = reads.map_err(|e| who.visitor.error(e))?;
    let lang = who.lang();
    let site_name = named;
    let more = (rows.len() as i64 > limit)
        .then(|| rows.get(limit as usize - 1).map(events::cursor))
        .flatten()
        .map(|c| filters.more(&c));
    let cards: Vec<Card> = rows
        .iter()
        .take(limit as usize)
        .map(|e| {
            let (seats, full) = seats_text(lang, e);
            Card {
                id: e.id.to_string(),
                title: e.title.clone(),
                when: span(lang, e),
                site: site_name.get(&e.site_id).cloned().unwrap_or_default(),
                location: e.location.clone(),
                seats,
                full,
                waitlist: waitlist_text(lang, e),
            }
        })
        .collect();
    let themes: Vec<_> = programs::themes()
        .into_iter()
        .map(|t| {
            let code = t.code.as_str();
            minijinja::context! { code => code, label => lang.text(&format!("theme.{code}")) }
        })
        .collect();
    let (by_company, company_sites, wanted) = choices;
    let mut site_choices: Vec<Choice> = if by_company {
        company_sites
            .iter()
            .filter(|s| s.closed_on.is_none() || s.id.to_string() == filters.site)
            .map(|s| Choice {
                id: s.id.to_string(),
                name: s.name.clone(),
            })
            .collect()
    } else {
        wanted
            .iter()
            .filter_map(|id| {
                let id = uuid::Uuid::from(*id);
                site_name.get(&id).map(|name| Choice {
                    id: id.to_string(),
                    name: name.clone(),
                })
            })
            .collect()
    };
    site_choices.sort_by(|a, b| a.name.cmp(&b.name));
    site_choices.dedup_by(|a, b| a.id == b.id);
    let status = problem.as_ref().map_or(StatusCode::OK, |e| e.status());
    let ctx = minijinja::context! {
        active => "events",
        events => Value::from(minijinja::value::Serde(&cards)),
        more => more,
        f => Value::from(minijinja::value::Serde(&filters)),
        filtered => filters.any(),
        sites => Value::from(minijinja::value::Serde(&site_choices)),
        companies => Value::from(minijinja::value::Serde(&lookups.companies)),
        categories => Value::from(minijinja::value::Serde(&lookups.categories)),
        themes => themes,
        problem => problem.as_ref().map(|e| page::message(e, lang)),
        ..who.visitor.context()
    };
    page::html(status, "events.html", ctx)
}

/// What the event page shows, loaded in one go.
struct Loaded {
    event: Event,
    program: String,
    partner: Option<String>,
    site: String,
    mine: Option<Signup>,
}

async fn load(state: &AppState, who: &SignedIn, id: Id) -> Result<Loaded, PageError> {
    let caller = who.caller();
    with_conn(&state.pool, move |c| {
        let event = events::find_visible(c, &caller, id)?;
        let program = programs::find(c, event.program_id.into())?;
        let partner = match program.partner_id {
            Some(p) => Some(crate::org::partners::find(c, p.into())?.name),
            None => None,
        };
        let site = crate::org::sites::find(c, event.site_id.into())?.name;
        let mine = service::own_for_event(c, &caller, id)?;
        Ok(Loaded {
            event,
            program: program.title,
            partner,
            site,
            mine,
        })
    })
    .await
    .map_err(|e| who.visitor.error(e))
}

fn render_event(
    who: &SignedIn,
    loaded: Loaded,
    status: StatusCode,
    problem: Option<&AppError>,
) -> Result<HttpResponse, PageError> {
    let lang = who.lang();
    let e = &loaded.event;
    let now = Utc::now();
    let active = loaded
        .mine
        .as_ref()
        .filter(|s| s.status != SignupStatus::Cancelled);
    let status_text = match &loaded.mine {
        None => String::new(),
        Some(s) => match s.status {
            SignupStatus::Confirmed => lang.text("event.status_confirmed"),
            SignupStatus::Waitlisted => page::fill(
                lang,
                "event.status_waitlisted",
                &[("position", &s.waitlist_position.unwrap_or(0).to_string())],
            ),
            SignupStatus::Cancelled => lang.text("event.status_cancelled"),
        },
    };
    let open = e.status == EventStatus::Published
        && now < e.signup_deadline.unwrap_or(e.starts_at).with_timezone(&Utc);
    let full = e.seats_free == Some(0);
    let can_sign_up = open && active.is_none() && (!full || e.waitlist_enabled);
    let closed_text = if active.is_some() {
        None
    } else if !open {
        Some(lang.text("event.closed"))
    } else if full && !e.waitlist_enabled {
        Some(lang.text("problem.event_full"))
    } else {
        None
    };
    let before_cancel_deadline = now < e.cancel_deadline.unwrap_or(e.starts_at).with_timezone(&Utc);
    let (seats, _) = seats_text(lang, e);
    let when =
        |t: chrono::DateTime<chrono::FixedOffset>| lang.when(t.with_timezone(&Utc), &e.timezone);
    let description: Vec<String> = e
        .description
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    let ctx = minijinja::context! {
        active => "events",
        event => minijinja::context! {
            id => e.id.to_string(),
            title => e.title.clone(),
            when => span(lang, e),
            site => loaded.site.clone(),
            location => e.location.clone(),
            program => loaded.program.clone(),
            partner => loaded.partner.clone(),
            seats => seats,
            waitlist => waitlist_text(lang, e),
            signup_deadline => e.signup_deadline.map(when),
            cancel_deadline => e.cancel_deadline.map(when),
            cancelled => e.status == EventStatus::Cancelled,
            description => description,
        },
        status_text => status_text,
        can_sign_up => can_sign_up,
        waitlist_next => full && e.waitlist_enabled,
        closed_text => closed_text,
        signup_id => active.map(|s| s.id.to_string()),
        can_cancel => active.is_some() && before_cancel_deadline,
        confirmed => active.is_some_and(|s| s.status == SignupStatus::Confirmed),
        cancel_closed => active.is_some() && !before_cancel_deadline,
        problem => problem.map(|p| page::message(p, lang)),
        ..who.visitor.context()
    };
    page::html(status, "event.html", ctx)
}

async fn show(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, PageError> {
    let loaded = load(&state, &who, id.into_inner().into()).await?;
    render_event(&who, loaded, StatusCode::OK, None)
}

/// After a refused change, the event page again with the reason, answered with its status.
async fn refused(
    state: &AppState,
    who: &SignedIn,
    event: Id,
    error: AppError,
) -> Result<HttpResponse, PageError> {
    if !page::shown_on_form(&error) {
        return Err(who.visitor.error(error));
    }
    let loaded = load(state, who, event).await?;
    render_event(who, loaded, error.status(), Some(&error))
}

async fn sign_up(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
    form: Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(&form.csrf)?;
    let event = Id::from(id.into_inner());
    let caller = who.caller();
    let done = with_conn(&state.pool, move |c| {
        service::sign_up_as(c, &caller, event, None, false)
    })
    .await;
    match done {
        Ok(_) => Ok(see_other(&format!("/events/{event}"))),
        Err(e) => refused(&state, &who, event, e).await,
    }
}

#[derive(Deserialize)]
struct CancelForm {
    #[serde(default)]
    csrf: String,
    event: Option<uuid::Uuid>,
}

async fn cancel(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
    form: Form<CancelForm>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(&form.csrf)?;
    let signup = Id::from(id.into_inner());
    let caller = who.caller();
    let done = with_conn(&state.pool, move |c| service::cancel_as(c, &caller, signup)).await;
    match (done, form.event) {
        (Ok(s), _) => Ok(see_other(&format!("/events/{}", s.event_id))),
        (Err(e), Some(event)) => refused(&state, &who, event.into(), e).await,
        (Err(e), None) => Err(who.visitor.error(e)),
    }
}

async fn calendar(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
    _req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let id = Id::from(id.into_inner());
    let caller = who.caller();
    let body = with_conn(&state.pool, move |c| {
        crate::signups::feed::event_ics(c, &caller, id)
    })
    .await
    .map_err(|e| who.visitor.error(e))?;
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"event-{id}.ics\""),
        ))
        .body(body))
}
