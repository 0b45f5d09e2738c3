//! Choosing a password from an invitation or reset mail's link (`/set-password?token=...`, the
//! address the mails carry), and asking for a reset link. The same services and limits as
//! `POST /api/v1/auth/password` and `POST /api/v1/auth/password-reset`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{links, password, session, signin};
use crate::error::AppError;
use crate::web::form::Form;
use crate::web::page::{self, PageError};
use crate::web::visitor::{self, Visitor};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/set-password")
            .route(web::get().to(choose))
            .route(web::post().to(set)),
    )
    .service(
        web::resource("/forgot-password")
            .route(web::get().to(forgot))
            .route(web::post().to(request_link)),
    );
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

fn render_choose(
    visitor: &Visitor,
    status: StatusCode,
    token: &str,
    problem: Option<String>,
) -> Result<HttpResponse, PageError> {
    let min = password::MIN_PASSWORD_LEN.to_string();
    let ctx = minijinja::context! {
        token => token,
        min_len => min,
        problem => problem,
        ..visitor.context()
    };
    page::html(status, "set_password.html", ctx)
}

async fn choose(visitor: Visitor, q: web::Query<TokenQuery>) -> Result<HttpResponse, PageError> {
    render_choose(&visitor, StatusCode::OK, q.token.trim(), None)
}

/// The new password. Deliberately no `Debug`.
#[derive(Deserialize)]
struct NewPassword {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    repeat: String,
}

/// Sets the password, then signs the person in: whoever holds the mailed link is its owner.
async fn set(
    state: web::Data<AppState>,
    req: HttpRequest,
    visitor: Visitor,
    form: Form<NewPassword>,
) -> Result<HttpResponse, PageError> {
    let NewPassword {
        token,
        password: new,
        repeat,
    } = form.into_inner();
    let lang = visitor.lang;
    if new != repeat {
        let problem = lang.text("password.mismatch");
        return render_choose(
            &visitor,
            StatusCode::UNPROCESSABLE_ENTITY,
            &token,
            Some(problem),
        );
    }
    let st = state.clone();
    let given = token.clone();
    let ttl_hours = state.settings.auth.session_ttl_hours;
    let done = web::block(move || -> Result<String, AppError> {
        let user = links::redeem(&st.pool, &given, &new)?;
        tracing::info!(user = %user, "password set through a link (web)");
        let mut conn = st.pool.get()?;
        session::start(
            &mut conn,
            user,
            chrono::Duration::hours(i64::from(ttl_hours)),
        )
    })
    .await
    .map_err(|e| visitor.error(e.into()))?;
    match done {
        Ok(secret) => visitor::signed_in(&req, &state, &visitor, secret, "/events"),
        Err(e) if e.status().is_client_error() => {
            let problem = match e.field_errors().first() {
                Some(f) if f.code == "too_short" => page::fill(
                    lang,
                    "password.too_short",
                    &[("n", &password::MIN_PASSWORD_LEN.to_string())],
                ),
                _ => page::message(&e, lang),
            };
            render_choose(&visitor, e.status(), &token, Some(problem))
        }
        Err(e) => Err(visitor.error(e)),
    }
}

fn render_forgot(
    visitor: &Visitor,
    status: StatusCode,
    email: &str,
    sent: bool,
    problem: Option<String>,
) -> Result<HttpResponse, PageError> {
    let ctx = minijinja::context! {
        email => email,
        sent => sent,
        problem => problem,
        ..visitor.context()
    };
    page::html(status, "forgot_password.html", ctx)
}

async fn forgot(visitor: Visitor) -> Result<HttpResponse, PageError> {
    render_forgot(&visitor, StatusCode::OK, "", false, None)
}

#[derive(Deserialize)]
struct ResetForm {
    #[serde(default)]
    email: String,
}

/// The same answer whether or not the address has an account (as the API's).
async fn request_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    visitor: Visitor,
    form: Form<ResetForm>,
) -> Result<HttpResponse, PageError> {
    let email = form.into_inner().email;
    let lang = visitor.lang;
    if email.trim().is_empty() {
        let problem = lang.text("signin.required_email");
        return render_forgot(
            &visitor,
            StatusCode::UNPROCESSABLE_ENTITY,
            &email,
            false,
            Some(problem),
        );
    }
    let address = crate::http::client_address(&req, state.settings.auth.trust_forwarded_for);
    let (st, checked) = (state.clone(), email.clone());
    let limit = web::block(move || signin::check_reset_limit(&st.reset_limiter, &checked, address))
        .await
        .map_err(|e| visitor.error(AppError::internal(e)))?;
    if let Err(e) = limit {
        let problem = page::message(&e, lang);
        let res = render_forgot(&visitor, e.status(), &email, false, Some(problem))?;
        return Ok(page::with_headers_of(res, &e));
    }
    let ttl = chrono::Duration::minutes(i64::from(state.settings.auth.reset_ttl_minutes));
    let asked = email.clone();
    crate::http::with_conn(&state.pool, move |c| links::request_reset(c, &asked, ttl))
        .await
        .map_err(|e| visitor.error(e))?;
    render_forgot(&visitor, StatusCode::OK, &email, true, None)
}
