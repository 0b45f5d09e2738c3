//! Checking in at the event from a phone: the QR code the coordinator shows opens
//! `/events/{id}/check-in?code=...`; the employee (signed in, or after signing in) confirms with
//! one button. The same service and attempt limit as `POST /api/v1/events/{id}/check-in`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;

use crate::AppState;
use crate::attendance::checkin;
use crate::db::Id;
use crate::http::with_conn;
use crate::programs::events::{self, Event};
use crate::web::form::Form;
use crate::web::page::{self, PageError};
use crate::web::visitor::SignedIn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/events/{id}/check-in")
            .route(web::get().to(form))
            .route(web::post().to(check_in)),
    );
}

#[derive(Deserialize)]
struct CodeQuery {
    #[serde(default)]
    code: String,
}

fn render(
    who: &SignedIn,
    event: &Event,
    code: &str,
    status: StatusCode,
    done: Option<String>,
    problem: Option<String>,
) -> Result<HttpResponse, PageError> {
    let lang = who.lang();
    let ctx = minijinja::context! {
        event => minijinja::context! {
            id => event.id.to_string(),
            title => event.title.clone(),
            when => lang.span(
                event.starts_at.with_timezone(&Utc),
                event.ends_at.with_timezone(&Utc),
                &event.timezone,
            ),
        },
        code => code,
        done => done,
        problem => problem,
        ..who.visitor.context()
    };
    page::html(status, "check_in.html", ctx)
}

async fn load(state: &AppState, who: &SignedIn, id: Id) -> Result<Event, PageError> {
    let caller = who.caller();
    with_conn(&state.pool, move |c| events::find_visible(c, &caller, id))
        .await
        .map_err(|e| who.visitor.error(e))
}

/// The form, with the code from the QR link filled in (a GET changes nothing).
async fn form(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
    q: web::Query<CodeQuery>,
) -> Result<HttpResponse, PageError> {
    let event = load(&state, &who, id.into_inner().into()).await?;
    render(&who, &event, q.code.trim(), StatusCode::OK, None, None)
}

#[derive(Deserialize)]
struct CheckInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

async fn check_in(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
    form: Form<CheckInForm>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(&form.csrf)?;
    let id = Id::from(id.into_inner());
    let event = load(&state, &who, id).await?;
    let lang = who.lang();
    let code = form.code.trim().to_owned();
    let attempt = match state.check_in_limiter.check(who.session.caller.id, id) {
        Err(e) => Err(e),
        Ok(()) => {
            let caller = who.caller();
            let settings = state.settings.attendance.clone();
            let given = code.clone();
            with_conn(&state.pool, move |c| {
                checkin::check_in(c, &caller, id, &given, &settings)
            })
            .await
        }
    };
    match attempt {
        Ok((_, created)) => {
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let done = lang.text(if created {
                "checkin.done"
            } else {
                "checkin.again"
            });
            render(&who, &event, &code, status, Some(done), None)
        }
        Err(e) if page::shown_on_form(&e) => {
            let res = render(
                &who,
                &event,
                &code,
                e.status(),
                None,
                Some(page::message(&e, lang)),
            )?;
            Ok(page::with_headers_of(res, &e))
        }
        Err(e) => Err(who.visitor.error(e)),
    }
}
