//! The audit log as administrators read it: who changed what (roles, scopes, activation,
//! approvals, objectives) and every export and import, newest first, filtered by action,
//! entity, actor and days; the entry's details as recorded. The service is the API's
//! `GET /api/v1/audit` (`exports::audit_trail`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::audit::Filter;
use crate::db::{Id, Timestamp};
use crate::error::{AppError, AppResult};
use crate::http::with_conn;
use crate::web::page::{self, PageError};
use crate::web::visitor::SignedIn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/audit", web::get().to(list));
}

/// Entries a page.
const PAGE: i64 = 50;

/// The filters, as text: a bad value is a message on the page.
#[derive(Debug, Default, Deserialize)]
struct Query {
    #[serde(default)]
    action: String,
    #[serde(default)]
    entity_type: String,
    #[serde(default)]
    entity_id: String,
    /// The actor's email.
    #[serde(default)]
    actor: String,
    /// Site-independent days (UTC), `YYYY-MM-DD`, both included.
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    before: String,
}

impl Query {
    fn filter(&self) -> AppResult<Filter> {
        let text = |s: &str| Some(s.trim().to_owned()).filter(|t| !t.is_empty());
        let day = |name: &str, s: &str, next: bool| -> AppResult<Option<Timestamp>> {
            match s.trim() {
                "" => Ok(None),
                t => {
                    let d = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| {
                        AppError::bad_request(
                            "invalid_query",
                            format!("{name}: a day such as 2026-04-01"),
                        )
                    })?;
                    let d = if next { d.succ_opt().unwrap_or(d) } else { d };
                    Ok(Some(Timestamp::from(
                        d.and_time(chrono::NaiveTime::MIN).and_utc(),
                    )))
                }
            }
        };
        Ok(Filter {
            action: text(&self.action),
            entity_type: text(&self.entity_type),
            entity_id: text(&self.entity_id),
            from: day("from", &self.from, false)?,
            to: day("to", &self.to, true)?,
            before: match self.before.trim() {
                "" => None,
                b => Some(Id::from(b.parse::<uuid::Uuid>().map_err(|_| {
                    AppError::bad_request("invalid_query", "the page is not a known one")
                })?)),
            },
            limit: PAGE,
            ..Filter::default()
        })
    }

    fn encoded(&self) -> String {
        [
            ("action", &self.action),
            ("entity_type", &self.entity_type),
            ("entity_id", &self.entity_id),
            ("actor", &self.actor),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::web::encode(v.trim())))
        .collect::<Vec<_>>()
        .join("&")
    }
}

#[derive(Serialize)]
struct Line {
    when: String,
    who: String,
    action: String,
    entity: String,
    details: String,
}

async fn list(
    state: web::Data<AppState>,
    who: SignedIn,
    q: web::Query<Query>,
) -> Result<HttpResponse, PageError> {
    let caller = super::require_admin(&who)?;
    let lang = who.lang();
    let q = q.into_inner();
    let filter = q.filter();
    let actor = q.actor.trim().to_owned();
    let found = with_conn(&state.pool, move |c| {
        let mut filter = match filter {
            Ok(f) => f,
            Err(e) => return Ok(Err(e)),
        };
        if !actor.is_empty() {
            // Someone who does not exist did nothing: an empty page, not an error.
            match crate::people::users::id_by_email(c, &actor)? {
                Some(id) => filter.actor_id = Some(id),
                None => return Ok(Ok(Vec::new())),
            }
        }
        Ok(Ok(crate::exports::audit_trail(c, &caller, filter)?))
    })
    .await
    .map_err(|e| who.visitor.error(e))?;
    let (status, problem, mut entries) = match found {
        Ok(entries) => (StatusCode::OK, None, entries),
        Err(e) => (e.status(), Some(page::message(&e, lang)), Vec::new()),
    };
    let older = page::next_page(&mut entries, PAGE, |e| {
        format!("?{}&before={}", q.encoded(), e.id)
    });
    let lines: Vec<Line> = entries
        .iter()
        .map(|e| Line {
            when: lang.when(e.occurred_at, "UTC"),
            who: e
                .actor_email
                .clone()
                .unwrap_or_else(|| lang.text("audit.system")),
            action: e.action.clone(),
            entity: match &e.entity_id {
                Some(id) => format!("{} {id}", e.entity_type),
                None => e.entity_type.clone(),
            },
            details: serde_json::to_string_pretty(&e.details).unwrap_or_default(),
        })
        .collect();
    let ctx = minijinja::context! {
        active => "admin",
        wide => true,
        q => minijinja::context! {
            action => q.action.trim(), entity_type => q.entity_type.trim(),
            entity_id => q.entity_id.trim(), actor => q.actor.trim(),
            from => q.from.trim(), to => q.to.trim(),
        },
        paged => !q.before.trim().is_empty(),
        first => format!("?{}", q.encoded()),
        older,
        entries => page::data(&lines),
        problem,
        ..who.visitor.context()
    };
    page::html(status, "admin_audit.html", ctx)
}
