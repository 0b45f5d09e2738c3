//! The second front door: server-rendered pages for people, at `/`. Handlers here parse forms,
//! call the same services as the JSON API (`crate::signups`, `crate::programs`, ...) with the
//! same `Caller`, and render templates; no rule or authorization check lives here. The session
//! (a row, named by a cookie) is `auth::session`; the cookie never authenticates `/api/`.

pub mod account;
pub mod admin;
pub mod assets;
pub mod awards;
pub mod checkin;
pub mod choices;
pub mod coordinator;
pub mod events;
pub mod form;
pub mod guard;
pub mod hr;
pub mod i18n;
pub mod mine;
pub mod objectives;
pub mod oidc;
pub mod page;
pub mod password;
pub mod profile;
pub mod quality;
pub mod report_objectives;
pub mod report_section;
pub mod reviews;
pub mod signin;
pub mod stats;
pub mod visitor;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::web::i18n::Lang;

/// The pages' routes (mounted by `server::routes` after the API's).
pub fn routes(cfg: &mut web::ServiceConfig) {
    assets::routes(cfg);
    cfg.route("/", web::get().to(home))
        .route("/lang/{lang}", web::get().to(switch_lang));
    signin::routes(cfg);
    oidc::routes(cfg);
    password::routes(cfg);
    events::routes(cfg);
    checkin::routes(cfg);
    mine::routes(cfg);
    account::routes(cfg);
    profile::routes(cfg);
    coordinator::routes(cfg);
    stats::routes(cfg);
    objectives::routes(cfg);
    report_objectives::routes(cfg);
    report_section::routes(cfg);
    reviews::routes(cfg);
    awards::routes(cfg);
    quality::routes(cfg);
    hr::routes(cfg);
    admin::routes(cfg);
}

async fn home() -> HttpResponse {
    see_other("/events")
}

/// A fiscal year named in an address: one out of range is no such page (404), not a 400.
pub fn fiscal_year(who: &visitor::SignedIn, fy: i32) -> Result<i32, page::PageError> {
    crate::time::checked_year("fiscal year", fy).map_err(|_| {
        who.visitor
            .error(crate::error::AppError::not_found("no such fiscal year"))
    })
}

/// 303 to `{prefix}/{fy}` for the last fiscal year that has ended: where a year's page starts.
pub async fn to_last_ended_year(
    state: &actix_web::web::Data<crate::AppState>,
    who: &visitor::SignedIn,
    prefix: &str,
) -> Result<HttpResponse, page::PageError> {
    let fy = crate::http::with_conn(&state.pool, |c| {
        let fiscal = crate::stats::rollup::calendar(c)?;
        Ok(fiscal.year_of(crate::db::Timestamp::now().get().date_naive()) - 1)
    })
    .await
    .map_err(|e| who.visitor.error(e))?;
    Ok(see_other(&format!("{prefix}/{fy}")))
}

/// 303 to `to` (after a form post, the browser then GETs the page: a reload does not re-send).
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_owned()))
        .finish()
}

/// A `next` target that stays on this site: a path, never `//host` or a scheme.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.starts_with("/\\")
                && !p.chars().any(char::is_control) =>
        {
            p.to_owned()
        }
        _ => "/events".to_owned(),
    }
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[derive(serde::Deserialize)]
struct SwitchQuery {
    next: Option<String>,
}

/// The language switch: remembers the choice in a cookie for a year and goes back.
async fn switch_lang(
    req: HttpRequest,
    lang: web::Path<String>,
    q: web::Query<SwitchQuery>,
) -> HttpResponse {
    let Some(lang) = Lang::parse(&lang) else {
        return see_other("/events");
    };
    let secure = req
        .app_data::<web::Data<crate::AppState>>()
        .is_some_and(|state| visitor::secure(&req, state));
    let cookie = visitor::lang_cookie(lang, secure);
    let mut res = see_other(&local_path(q.next.as_deref()));
    let _ = res.add_cookie(&cookie);
    res
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn next_never_leaves_the_site() {
        assert_eq!(local_path(Some("/events/1?x=2")), "/events/1?x=2");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "evil",
            "",
        ] {
            assert_eq!(local_path(Some(bad)), "/events", "{bad}");
        }
        assert_eq!(local_path(None), "/events");
    }
}
