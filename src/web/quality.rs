//! The data-quality checks as a page: what a programme office looks at before a fiscal year's
//! figures go into the report — every check with its severity, how many cases it found and
//! links to the first of them. The service is the API's `GET /api/v1/quality`
//! (`attendance::quality::report_for`) with the same scope rule: coordinators see their own
//! sites, HR and administrators any site, company or region; employees find no such page.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::attendance::quality::{self, Severity};
use crate::auth::Role;
use crate::db::Timestamp;
use crate::error::{AppError, AppResult};
use crate::http::with_conn;
use crate::web::choices::{self, Choice, Scoped};
use crate::web::i18n::Lang;
use crate::web::page::{self, PageError};
use crate::web::visitor::SignedIn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/quality", web::get().to(show));
}

/// Whether the reader gets the page (and the menu entry): everyone who reads records.
pub fn reads_records(role: Role) -> bool {
    matches!(role, Role::Coordinator | Role::Hr | Role::Admin)
}

/// The page's filters, as text: a bad value is a message on the page.
#[derive(Debug, Default, Deserialize)]
struct Query {
    #[serde(default)]
    fiscal_year: String,
    /// "", `site:ID`, `company:ID` or `region:domestic|overseas`.
    #[serde(default)]
    scope: String,
}

impl Query {
    fn year(&self) -> AppResult<Option<i32>> {
        match self.fiscal_year.trim() {
            "" => Ok(None),
            y => y
                .parse()
                .map_err(|_| {
                    AppError::bad_request("invalid_query", "the fiscal year is not a year")
                })
                .and_then(|y| crate::time::checked_year("fiscal_year", y))
                .map(Some),
        }
    }

    fn scope(&self) -> AppResult<quality::Scope> {
        let mut scope = quality::Scope::default();
        match choices::scoped(&self.scope).ok_or_else(|| {
            AppError::bad_request("invalid_query", "the scope is not a known choice")
        })? {
            Scoped::All => {}
            Scoped::Site(id) => scope.site_id = Some(id),
            Scoped::Company(id) => scope.company_id = Some(id),
            Scoped::Region(r) => scope.region = Some(r.as_str().to_owned()),
        }
        Ok(scope)
    }
}

/// One check as the page shows it.
#[derive(Serialize)]
struct Line {
    check: &'static str,
    severity: &'static str,
    severity_text: String,
    text: String,
    count: String,
    found: bool,
    /// (address, label) of the first cases; empty when the reader has no page for them.
    links: Vec<(String, String)>,
    more: bool,
}

fn severity(s: Severity) -> (&'static str, &'static str) {
    match s {
        Severity::Error => ("rejected", "quality.severity.error"),
        Severity::Warning => ("pending", "quality.severity.warning"),
        Severity::Info => ("cancelled", "quality.severity.info"),
    }
}

/// The checks in the reader's words, each with links to its first cases where the reader can
/// open them (the coordinator pages: coordinators and admins).
fn lines(lang: Lang, report: &quality::QualityReport, linked: bool) -> Vec<Line> {
    report
        .findings
        .iter()
        .map(|f| {
            let (class, key) = severity(f.severity);
            let links = if linked {
                f.sample_ids
                    .iter()
                    .enumerate()
                    .map(|(i, id)| {
                        let href = if f.sample_kind == "event" {
                            format!("/manage/events/{id}/roster")
                        } else {
                            format!("/manage/attendance/{id}")
                        };
                        (href, (i + 1).to_string())
                    })
                    .collect()
            } else {
                Vec::new()
            };
            Line {
                check: f.check,
                severity: class,
                severity_text: lang.text(key),
                text: lang
                    .lookup(&format!("quality.{}", f.check))
                    .map_or_else(|| f.description.to_owned(), str::to_owned),
                count: lang.number(f.count as i64),
                found: f.count > 0,
                more: f.count > f.sample_ids.len(),
                links,
            }
        })
        .collect()
}

async fn show(
    state: web::Data<AppState>,
    who: SignedIn,
    q: web::Query<Query>,
) -> Result<HttpResponse, PageError> {
    let caller = who.caller();
    if !reads_records(caller.role) {
        return Err(who.visitor.error(AppError::not_found("no such page")));
    }
    let lang = who.lang();
    let q = q.into_inner();
    let asked = q.year().and_then(|fy| Ok((fy, q.scope()?)));
    let reader = caller.clone();
    let (report, choices) = with_conn(&state.pool, move |c| {
        let report = match asked {
            Ok((fy, mut scope)) => {
                // The API's rule: a coordinator's own sites, and only those.
                scope.sites = crate::programs::records_scope(&reader, scope.site_id)?;
                Ok(quality::report_for(c, fy, &scope, Timestamp::now())?)
            }
            Err(e) => Err(e),
        };
        let fiscal = crate::stats::rollup::calendar(c)?;
        let current = fiscal.year_of(Utc::now().date_naive());
        let sites = choices::sites(
            c,
            (reader.role == Role::Coordinator).then(|| reader.sites.clone()),
        )?;
        let companies = if reader.role == Role::Coordinator {
            Vec::new()
        } else {
            choices::companies(c)?
        };
        Ok((report, (current, sites, companies)))
    })
    .await
    .map_err(|e| who.visitor.error(crate::web::coordinator::unseen(e)))?;
    let (current, sites, companies) = choices;
    let linked = crate::web::coordinator::runs_sites(&caller);
    let year = report
        .as_ref()
        .map(|r| r.fiscal_year.to_string())
        .unwrap_or_else(|_| q.fiscal_year.trim().to_owned());
    let (status, problem, found, heading) = match report {
        Ok(r) => (
            StatusCode::OK,
            None,
            lines(lang, &r, linked),
            Some(page::fill(
                lang,
                "quality.examined",
                &[
                    ("year", &r.fiscal_year.to_string()),
                    ("from", &lang.day(r.from)),
                    ("to", &lang.day(r.to)),
                    ("events", &lang.number(r.events as i64)),
                    ("records", &lang.number(r.records as i64)),
                ],
            )),
        ),
        Err(e) => {
            // Another site's scope reads as "nothing here", as on the coordinator's pages.
            let e = crate::web::coordinator::unseen(e);
            if !page::shown_on_form(&e) {
                return Err(who.visitor.error(e));
            }
            (e.status(), Some(page::message(&e, lang)), Vec::new(), None)
        }
    };
    let years: Vec<Choice> = (0..10)
        .map(|back| {
            let y = current - back;
            Choice {
                value: y.to_string(),
                name: page::fill(lang, "stats.fiscal_year", &[("year", &y.to_string())]),
            }
        })
        .collect();
    let ctx = minijinja::context! {
        active => "quality",
        wide => true,
        year,
        scope => q.scope.trim(),
        years => page::data(&years),
        sites => page::data(&sites),
        companies => page::data(&companies),
        coordinator => caller.role == Role::Coordinator,
        linked,
        heading,
        findings => page::data(&found),
        problem,
        ..who.visitor.context()
    };
    page::html(status, "quality.html", ctx)
}
