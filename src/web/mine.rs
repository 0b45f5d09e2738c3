//! "My sign-ups": upcoming (with waitlist positions) and past, through `signups::service::mine`.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::Serialize;

use crate::AppState;
use crate::http::with_conn;
use crate::signups::service::{self, SignupStatus};
use crate::web::page::{self, PageError};
use crate::web::visitor::SignedIn;

/// The most sign-ups the page lists (newest first); a person with more reads the API's pages.
const SHOWN: i64 = 200;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/my/signups", web::get().to(mine));
}

#[derive(Serialize)]
struct Line {
    event_id: String,
    title: String,
    when: String,
    site: String,
    status: &'static str,
    status_text: String,
}

async fn mine(state: web::Data<AppState>, who: SignedIn) -> Result<HttpResponse, PageError> {
    let caller = who.caller();
    let lang = who.lang();
    let rows = with_conn(&state.pool, move |c| {
        service::mine(c, &caller, None, None, SHOWN)
    })
    .await
    .map_err(|e| who.visitor.error(e))?;
    let now = Utc::now();
    let (mut upcoming, mut past) = (Vec::new(), Vec::new());
    for s in rows.into_iter().take(SHOWN as usize) {
        let status = s.signup.status;
        let line = Line {
            event_id: s.signup.event_id.to_string(),
            title: s.event.title.clone(),
            when: lang.span(
                s.event.starts_at.with_timezone(&Utc),
                s.event.ends_at.with_timezone(&Utc),
                &s.event.timezone,
            ),
            site: s.event.site_name.clone(),
            status: status.as_str(),
            status_text: match status {
                SignupStatus::Waitlisted => page::fill(
                    lang,
                    "status.waitlisted",
                    &[(
                        "position",
                        &s.signup.waitlist_position.unwrap_or(0).to_string(),
                    )],
                ),
                other => lang.text(&format!("status.{}", other.as_str())),
            },
        };
        if s.event.ends_at.with_timezone(&Utc) > now && status != SignupStatus::Cancelled {
            upcoming.push((s.event.starts_at, line));
        } else {
            past.push(line);
        }
    }
    // Upcoming reads soonest first; the past newest first (the service's order).
    upcoming.sort_by_key(|(start, _)| *start);
    let upcoming: Vec<Line> = upcoming.into_iter().map(|(_, l)| l).collect();
    let ctx = minijinja::context! {
        active => "mine",
        upcoming => minijinja::Value::from(minijinja::value::Serde(&upcoming)),
        past => minijinja::Value::from(minijinja::value::Serde(&past)),
        ..who.visitor.context()
    };
    page::html(actix_web::http::StatusCode::OK, "my_signups.html", ctx)
}
