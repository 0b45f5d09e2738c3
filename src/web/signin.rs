//! Signing in and out on the pages: the same password check and limits as the API's login
//! (`auth::signin`), then a session row and its cookie instead of tokens.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{session, signin};
use crate::error::AppError;
use crate::web::form::Form;
use crate::web::page::{self, PageError};
use crate::web::visitor::{self, SignedIn, Visitor};
use crate::web::{local_path, see_other};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/sign-in")
            .route(web::get().to(form))
            .route(web::post().to(sign_in)),
    )
    .route("/sign-out", web::post().to(sign_out));
}

#[derive(Deserialize)]
struct FormQuery {
    next: Option<String>,
    signed_out: Option<String>,
}

async fn form(
    state: web::Data<AppState>,
    visitor: Visitor,
    q: web::Query<FormQuery>,
) -> Result<HttpResponse, PageError> {
    let next = local_path(q.next.as_deref());
    if visitor.session.is_some() {
        return Ok(see_other(&next));
    }
    let shown = Shown {
        next: &next,
        email: "",
        problem: None,
        signed_out: q.signed_out.is_some(),
    };
    render(&state, &visitor, StatusCode::OK, shown)
}

/// What the sign-in page shows besides the form.
struct Shown<'a> {
    next: &'a str,
    email: &'a str,
    problem: Option<String>,
    signed_out: bool,
}

fn render(
    state: &AppState,
    visitor: &Visitor,
    status: StatusCode,
    shown: Shown<'_>,
) -> Result<HttpResponse, PageError> {
    let oidc_label = state.oidc.as_ref().map(|o| o.label().to_owned());
    let ctx = minijinja::context! {
        next => shown.next,
        next_encoded => crate::web::encode(shown.next),
        email => shown.email,
        problem => shown.problem,
        signed_out => shown.signed_out,
        oidc_label => oidc_label,
        ..visitor.context()
    };
    page::html(status, "sign_in.html", ctx)
}

/// The sign-in page again with why a sign-in through the identity provider failed.
pub fn refused(
    state: &AppState,
    visitor: &Visitor,
    error: AppError,
) -> Result<HttpResponse, PageError> {
    if error.status().is_server_error() && error.code() != "oidc_unavailable" {
        return Err(visitor.error(error));
    }
    let shown = Shown {
        next: "/events",
        email: "",
        problem: Some(page::message(&error, visitor.lang)),
        signed_out: false,
    };
    render(state, visitor, error.status(), shown)
}

/// The sign-in form. Deliberately no `Debug`: the password must not reach a log line.
#[derive(Deserialize)]
struct Credentials {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    visitor: Visitor,
    form: Form<Credentials>,
) -> Result<HttpResponse, PageError> {
    let Credentials {
        email,
        password,
        next,
    } = form.into_inner();
    let next = local_path(next.as_deref());
    let lang = visitor.lang;
    if email.trim().is_empty() || password.is_empty() {
        let shown = Shown {
            next: &next,
            email: &email,
            problem: Some(lang.text("signin.required")),
            signed_out: false,
        };
        return render(&state, &visitor, StatusCode::UNPROCESSABLE_ENTITY, shown);
    }
    let address = crate::http::client_address(&req, state.settings.auth.trust_forwarded_for);
    let (st, checked) = (state.clone(), email.clone());
    let limit = web::block(move || signin::check_limit(&st.login_limiter, &checked, address))
        .await
        .map_err(|e| visitor.error(AppError::internal(e)))?;
    if let Err(e) = limit {
        let minutes = retry_minutes(&e).to_string();
        let shown = Shown {
            next: &next,
            email: &email,
            problem: Some(page::fill(
                lang,
                "signin.too_many",
                &[("minutes", &minutes)],
            )),
            signed_out: false,
        };
        let res = render(&state, &visitor, e.status(), shown)?;
        return Ok(page::with_headers_of(res, &e));
    }
    let st = state.clone();
    let given_email = email.clone();
    let ttl_hours = state.settings.auth.session_ttl_hours;
    let started = web::block(move || -> Result<String, AppError> {
        let caller = signin::verify_password(&st.pool, &given_email, &password)?;
        signin::succeeded(&st.login_limiter, &given_email, address);
        let mut conn = st.pool.get()?;
        let secret = session::start(
            &mut conn,
            caller.id,
            chrono::Duration::hours(i64::from(ttl_hours)),
        )?;
        tracing::info!(user = %caller.id, "signed in on the web");
        Ok(secret)
    })
    .await
    .map_err(|e| visitor.error(e.into()))?;
    match started {
        Ok(secret) => visitor::signed_in(&req, &state, &visitor, secret, &next),
        Err(e) if e.status() == StatusCode::UNAUTHORIZED => {
            let shown = Shown {
                next: &next,
                email: &email,
                problem: Some(lang.text("signin.invalid")),
                signed_out: false,
            };
            render(&state, &visitor, StatusCode::UNAUTHORIZED, shown)
        }
        Err(e) => Err(visitor.error(e)),
    }
}

fn retry_minutes(e: &AppError) -> u64 {
    let secs = e
        .headers()
        .iter()
        .find(|(name, _)| name == actix_web::http::header::RETRY_AFTER)
        .and_then(|(_, v)| v.to_str().ok()?.parse::<u64>().ok())
        .unwrap_or(60);
    secs.div_ceil(60).max(1)
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

async fn sign_out(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: SignedIn,
    form: Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(&form.csrf)?;
    let id = who.session.id;
    crate::http::with_conn(&state.pool, move |c| session::end(c, id))
        .await
        .map_err(|e| who.visitor.error(e))?;
    let mut res = see_other("/sign-in?signed_out=1");
    res.add_cookie(&visitor::removal_cookie(visitor::secure(&req, &state)))
        .map_err(|e| who.visitor.error(AppError::internal(e)))?;
    Ok(res)
}
