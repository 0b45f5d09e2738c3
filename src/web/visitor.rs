//! Who is looking at a page: the session behind the cookie (if any) and the language to speak.
//! The session is checked against the database on every request (see `auth::session`).

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use crate::AppState;
use crate::auth::Caller;
use crate::auth::session::{self, Session};
use crate::db::AnyConnection;
use crate::error::{AppError, AppResult};
use crate::web::i18n::Lang;
use crate::web::page::PageError;

/// The session cookie over https: `__Host-` binds it to this host and path `/`, Secure.
pub const SECURE_COOKIE: &str = "__Host-tomoni_session";
/// Over plain http (a laptop, the tests) a `__Host-` cookie is refused by browsers, since it
/// must be Secure; the same cookie without the prefix.
pub const PLAIN_COOKIE: &str = "tomoni_session";
/// The language the reader chose with the switch (not a secret).
pub const LANG_COOKIE: &str = "tomoni_lang";

/// Whether pages are served over https: the configured public address says so, or the request
/// came in over TLS (as reported by a trusted proxy).
pub fn secure(req: &HttpRequest, state: &AppState) -> bool {
    state.settings.server.public_url.starts_with("https://")
        || (state.settings.auth.trust_forwarded_for && req.connection_info().scheme() == "https")
}

fn cookie_name(secure: bool) -> &'static str {
    if secure { SECURE_COOKIE } else { PLAIN_COOKIE }
}

/// The cookie that carries a new session's secret.
pub fn session_cookie(secret: String, secure: bool, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(cookie_name(secure), secret)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age_secs))
        .finish()
}

/// A 303 to `to` handing the browser a new session's cookie (sign-in by password, by a mailed
/// link or through the identity provider all end here).
pub fn signed_in(
    req: &HttpRequest,
    state: &AppState,
    visitor: &Visitor,
    secret: String,
    to: &str,
) -> Result<actix_web::HttpResponse, PageError> {
    let max_age = i64::from(state.settings.auth.session_ttl_hours) * 3600;
    let cookie = session_cookie(secret, secure(req, state), max_age);
    let mut res = crate::web::see_other(to);
    res.add_cookie(&cookie)
        .map_err(|e| visitor.error(AppError::internal(e)))?;
    Ok(res)
}

/// The language choice, remembered for a year (not a secret: readable, not HttpOnly).
pub fn lang_cookie(lang: Lang, secure: bool) -> Cookie<'static> {
    Cookie::build(LANG_COOKIE, lang.code())
        .path("/")
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::days(365))
        .finish()
}

/// A cookie that removes the session cookie from the browser.
pub fn removal_cookie(secure: bool) -> Cookie<'static> {
    let mut c = Cookie::build(cookie_name(secure), "")
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .finish();
    c.make_removal();
    c
}

/// Whoever is looking: a session or nobody, and the language of the page.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub session: Option<Session>,
    pub lang: Lang,
    /// The path and query asked for (where sign-in and the language switch come back to).
    pub here: String,
}

impl Visitor {
    /// The base of every page's template context.
    pub fn context(&self) -> minijinja::Value {
        let other = crate::web::page::other(self.lang);
        minijinja::context! {
            lang => self.lang.code(),
            other_lang => other.code(),
            here => &self.here,
            lang_switch => format!("/lang/{}?next={}", other.code(), crate::web::encode(&self.here)),
            csrf => self.session.as_ref().map(|s| s.csrf_token.clone()),
            user_name => self.session.as_ref().map(|s| s.display_name.clone()),
            manager => self.session.as_ref().is_some_and(|s| crate::web::coordinator::runs_sites(&s.caller)),
            hr => self.session.as_ref().is_some_and(|s| crate::web::hr::is_hr(&s.caller)),
            admin => self.session.as_ref().is_some_and(|s| crate::web::admin::is_admin(&s.caller)),
            reads_records => self.session.as_ref().is_some_and(|s| crate::web::quality::reads_records(s.caller.role)),
        }
    }

    /// An error page in this visitor's language.
    pub fn error(&self, error: AppError) -> PageError {
        PageError::in_lang(error, self.lang)
    }
}

fn browser_lang(headers: &header::HeaderMap) -> Option<Lang> {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Lang::from_accept_language)
}

/// The language for a request without a session: the switch's cookie, else the browser's.
pub fn request_lang(req: &HttpRequest) -> Lang {
    Arrival::hints(req).guessed_lang()
}

fn here(req: &HttpRequest) -> String {
    match req.query_string() {
        "" => req.path().to_owned(),
        q => format!("{}?{q}", req.path()),
    }
}

/// A request's session cookie and language hints, before the session is checked against the
/// database. Pages extract [`Visitor`] or [`SignedIn`], which check it in a pool turn of their
/// own; a page opened on every visit (the event list) extracts this instead and checks the
/// session in the same turn as its reads, which saves a turn per view.
#[derive(Debug, Clone)]
pub struct Arrival {
    secret: Option<String>,
    /// The language switch's cookie.
    chosen: Option<Lang>,
    /// The browser's Accept-Language.
    browser: Option<Lang>,
    here: String,
    method: actix_web::http::Method,
}

impl Arrival {
    fn hints(req: &HttpRequest) -> Arrival {
        Arrival {
            secret: None,
            chosen: req.cookie(LANG_COOKIE).and_then(|c| Lang::parse(c.value())),
            browser: browser_lang(req.headers()),
            here: here(req),
            method: req.method().clone(),
        }
    }

    fn of(req: &HttpRequest, state: &AppState) -> Arrival {
        Arrival {
            secret: req
                .cookie(cookie_name(secure(req, state)))
                .map(|c| c.value().to_owned())
                .filter(|v| !v.is_empty()),
            ..Arrival::hints(req)
        }
    }

    /// Cookie choice first (the switch), then the account's language, then the browser's.
    fn lang(&self, session: Option<&Session>) -> Lang {
        self.chosen
            .or_else(|| session.and_then(|s| Lang::parse(&s.locale)))
            .or(self.browser)
            .unwrap_or(Lang::En)
    }

    /// The language for an error met before the session is known.
    pub fn guessed_lang(&self) -> Lang {
        self.lang(None)
    }

    /// Checks the session (if a cookie came) on `conn`.
    pub fn visitor(self, conn: &mut AnyConnection) -> AppResult<Visitor> {
        let session = match &self.secret {
            Some(secret) => session::resolve(conn, secret)?,
            None => None,
        };
        Ok(self.into_visitor(session))
    }

    fn into_visitor(self, session: Option<Session>) -> Visitor {
        Visitor {
            lang: self.lang(session.as_ref()),
            here: self.here,
            session,
        }
    }

    /// Like [`Arrival::visitor`], for a page only the signed-in see: the outer error is the
    /// database's, the inner one the way to the sign-in page.
    pub fn signed_in(self, conn: &mut AnyConnection) -> AppResult<Result<SignedIn, PageError>> {
        let method = self.method.clone();
        Ok(SignedIn::from_visitor(self.visitor(conn)?, &method))
    }
}

impl FromRequest for Arrival {
    type Error = PageError;
    type Future = std::future::Ready<Result<Arrival, PageError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            req.app_data::<web::Data<AppState>>()
                .map(|state| Arrival::of(req, state))
                .ok_or_else(|| PageError::from(AppError::internal("application state missing"))),
        )
    }
}

impl FromRequest for Visitor {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Visitor, PageError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let arrival = Arrival::from_request(req, payload);
        let pool = req
            .app_data::<web::Data<AppState>>()
            .map(|state| state.pool.clone());
        Box::pin(async move {
            let arrival = arrival.await?;
            if arrival.secret.is_none() {
                return Ok(arrival.into_visitor(None));
            }
            let lang = arrival.guessed_lang();
            let pool = pool.ok_or_else(|| AppError::internal("application state missing"))?;
            crate::http::with_conn(&pool, move |c| arrival.visitor(c))
                .await
                .map_err(|e| PageError::in_lang(e, lang))
        })
    }
}

/// A visitor who is signed in; anyone else is sent to the sign-in page and back.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub visitor: Visitor,
    pub session: Session,
}

impl SignedIn {
    fn from_visitor(
        visitor: Visitor,
        method: &actix_web::http::Method,
    ) -> Result<SignedIn, PageError> {
        match visitor.session.clone() {
            Some(session) => Ok(SignedIn { visitor, session }),
            // A form sent after the session ended cannot be replayed after sign-in: back to
            // the page it came from is the best guess, and the events are the next best.
            None => Err(PageError::SignIn {
                next: if method == actix_web::http::Method::GET {
                    visitor.here.clone()
                } else {
                    "/events".to_owned()
                },
            }),
        }
    }

    pub fn caller(&self) -> Caller {
        self.session.caller.clone()
    }

    pub fn lang(&self) -> Lang {
        self.visitor.lang
    }

    /// 403 unless `given` is this session's CSRF token (compared in constant time).
    pub fn check_csrf(&self, given: &str) -> Result<(), PageError> {
        use subtle::ConstantTimeEq;
        if bool::from(given.as_bytes().ct_eq(self.session.csrf_token.as_bytes())) {
            Ok(())
        } else {
            Err(self.visitor.error(AppError::new(
                actix_web::http::StatusCode::FORBIDDEN,
                "expired_form",
                "the form's token does not match this session",
            )))
        }
    }
}

impl FromRequest for SignedIn {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<SignedIn, PageError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let visitor = Visitor::from_request(req, payload);
        let method = req.method().clone();
        Box::pin(async move { SignedIn::from_visitor(visitor.await?, &method) })
    }
}
