//! Exports as HR takes them: participation records (a fiscal year, a site or a company, the
//! approval state) or each employee's hours of a year, as CSV (optionally with a BOM for
//! Excel) or XLSX, with the purpose the audit log keeps; below the form, the exports taken so
//! far, from the audit log. The download is the API's (`exports::download`): the same column
//! sets, the same bounds on running exports, the same audit entry.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::Serialize;
use tracing_actix_web::RequestId;

use crate::AppState;
use crate::attendance::model::Approval;
use crate::auth::Caller;
use crate::db::Id;
use crate::error::{AppError, AppResult, FieldError};
use crate::exports::download::{self, ParticipationRequest};
use crate::http::{download_response, with_conn};
use crate::sheet::Kind;
use crate::web::choices::{self, Choice, Scoped};
use crate::web::form::{Form, field};
use crate::web::i18n::Lang;
use crate::web::page::{self, PageError};
use crate::web::visitor::SignedIn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/hr/exports")
            .route(web::get().to(form))
            .route(web::post().to(send)),
    );
}

/// Fiscal years offered: this one and the nine before.
const YEARS_OFFERED: i32 = 10;
/// Past exports listed under the form.
const PAST_SHOWN: i64 = 20;

/// The form as typed.
#[derive(Debug, Serialize)]
struct ExportForm {
    /// `participations` or `hours`.
    what: String,
    /// A fiscal year, or "" for every year (participations only).
    fiscal_year: String,
    /// "", `company:ID` or `site:ID`.
    scope: String,
    /// "", `approved`, `pending` or `rejected`.
    approval: String,
    /// `csv`, `csv_bom` or `xlsx`.
    format: String,
    purpose: String,
}

impl ExportForm {
    fn read(pairs: &[(String, String)]) -> (String, ExportForm) {
        let get = |name: &str| field(pairs, name).trim().to_owned();
        let form = ExportForm {
            what: get("what"),
            fiscal_year: get("fiscal_year"),
            scope: get("scope"),
            approval: get("approval"),
            format: get("format"),
            purpose: get("purpose"),
        };
        (get("csrf"), form)
    }

    fn kind(&self) -> AppResult<Kind> {
        match self.format.as_str() {
            "csv" => Ok(Kind::Csv { bom: false }),
            "csv_bom" => Ok(Kind::Csv { bom: true }),
            "xlsx" => Ok(Kind::Xlsx),
            _ => Err(invalid("format", "choose a format")),
        }
    }

    fn year(&self) -> AppResult<Option<i32>> {
        match self.fiscal_year.as_str() {
            "" => Ok(None),
            y => y
                .parse()
                .map(Some)
                .map_err(|_| invalid("fiscal_year", "choose a fiscal year")),
        }
    }

    /// The export this form asks for, with the caller's rights checked by the service.
    fn export(&self, caller: &Caller, request_id: String) -> AppResult<download::Export> {
        let kind = self.kind()?;
        let purpose = Some(self.purpose.clone()).filter(|p| !p.is_empty());
        // The purpose is named on its field, before anything else is looked at.
        download::purpose(purpose.as_deref()).map_err(|_| {
            AppError::validation(vec![FieldError::new(
                "purpose",
                "purpose_required",
                "say why the data is exported (3 to 500 characters)",
            )])
        })?;
        match self.what.as_str() {
            "participations" => {
                let (site_id, company_id) = scope(&self.scope)?;
                let approval = match self.approval.as_str() {
                    "" => None,
                    a => Some(
                        serde_json::from_value::<Approval>(serde_json::Value::String(a.into()))
                            .map_err(|_| invalid("approval", "choose an approval state"))?,
                    ),
                };
                download::participations(
                    caller,
                    request_id,
                    kind,
                    ParticipationRequest {
                        purpose,
                        fiscal_year: self.year()?,
                        site_id,
                        company_id,
                        approval,
                    },
                )
            }
            "hours" => {
                let fy = self.year()?.ok_or_else(|| {
                    AppError::validation(vec![FieldError::new(
                        "fiscal_year",
                        "year_required",
                        "hours are exported one fiscal year at a time",
                    )])
                })?;
                download::hours(caller, request_id, kind, purpose.as_deref(), fy)
            }
            _ => Err(invalid("what", "choose what to export")),
        }
    }
}

fn invalid(field: &str, message: &str) -> AppError {
    AppError::validation(vec![FieldError::new(field, "invalid_choice", message)])
}

/// `site:ID` or `company:ID` ("" for everything): the site and the company asked for.
fn scope(text: &str) -> AppResult<(Option<Id>, Option<Id>)> {
    match choices::scoped(text) {
        Some(Scoped::All) => Ok((None, None)),
        Some(Scoped::Site(id)) => Ok((Some(id), None)),
        Some(Scoped::Company(id)) => Ok((None, Some(id))),
        _ => Err(invalid("scope", "choose a site or a company")),
    }
}

/// An export of the audit log, as a line of the list.
#[derive(Serialize)]
struct Past {
    when: String,
    who: String,
    what: String,
    purpose: String,
    filters: String,
    rows: String,
    format: String,
    completed: bool,
}

/// What the form offers and the list shows, read in one go.
struct Loaded {
    current_year: i32,
    companies: Vec<Choice>,
    sites: Vec<Choice>,
    past: Vec<crate::audit::Logged>,
}

fn load(c: &mut crate::db::AnyConnection, caller: &Caller) -> AppResult<Loaded> {
    let fiscal = crate::stats::rollup::calendar(c)?;
    let current_year = fiscal.year_of(Utc::now().date_naive());
    let companies = choices::companies(c)?;
    let sites = choices::sites(c, None)?;
    let mut past = crate::exports::audit_trail(
        c,
        caller,
        crate::audit::Filter {
            entity_type: Some("export".into()),
            limit: PAST_SHOWN,
            ..Default::default()
        },
    )?;
    past.truncate(PAST_SHOWN as usize);
    Ok(Loaded {
        current_year,
        companies,
        sites,
        past,
    })
}

/// An audit entry of an export in the reader's words.
fn past_line(lang: Lang, entry: &crate::audit::Logged, loaded: &Loaded) -> Past {
    let d = &entry.details;
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let filters = &d["filters"];
    let mut parts = Vec::new();
    if let Some(y) = filters["fiscal_year"].as_i64() {
        parts.push(page::fill(lang, "exports.fy", &[("year", &y.to_string())]));
    }
    for (key, prefix, list) in [
        ("site_id", "site:", &loaded.sites),
        ("company_id", "company:", &loaded.companies),
    ] {
        if let Some(id) = filters[key].as_str() {
            let value = format!("{prefix}{id}");
            parts.push(
                list.iter()
                    .find(|c| c.value == value)
                    .map_or_else(|| id.to_owned(), |c| c.name.clone()),
            );
        }
    }
    if let Some(a) = filters["approval"].as_str() {
        parts.push(lang.text(&format!("exports.approval.{a}")));
    }
    let what = entry.action.trim_start_matches("export.");
    Past {
        when: lang.when(entry.occurred_at, "UTC"),
        who: entry.actor_email.clone().unwrap_or_default(),
        what: lang
            .lookup(&format!("exports.what.{what}"))
            .map_or_else(|| what.to_owned(), str::to_owned),
        purpose: text(&d["purpose"]),
        filters: if parts.is_empty() {
            lang.text("exports.everything")
        } else {
            parts.join(" · ")
        },
        rows: d["rows"]
            .as_i64()
            .map(|n| lang.number(n))
            .unwrap_or_default(),
        format: text(&d["format"]).to_uppercase(),
        completed: d["completed"].as_bool().unwrap_or(false),
    }
}

fn render(
    who: &SignedIn,
    status: StatusCode,
    form: &ExportForm,
    loaded: &Loaded,
    error: Option<&AppError>,
) -> Result<HttpResponse, PageError> {
    let lang = who.lang();
    let years: Vec<Choice> = (0..YEARS_OFFERED)
        .map(|back| {
            let y = loaded.current_year - back;
            let mut name = page::fill(lang, "exports.fy", &[("year", &y.to_string())]);
            if back == 0 {
                name = format!("{name} {}", lang.text("exports.in_progress"));
            }
            Choice {
                value: y.to_string(),
                name,
            }
        })
        .collect();
    let past: Vec<Past> = loaded
        .past
        .iter()
        .map(|e| past_line(lang, e, loaded))
        .collect();
    let ctx = minijinja::context! {
        active => "exports",
        wide => true,
        f => page::data(form),
        years => page::data(&years),
        companies => page::data(&loaded.companies),
        sites => page::data(&loaded.sites),
        past => page::data(&past),
        problem => error.map(|e| page::message(e, lang)),
        problems => error.map(|e| crate::web::coordinator::planning::problems(e, lang)).unwrap_or_default(),
        ..who.visitor.context()
    };
    let res = page::html(status, "hr_exports.html", ctx)?;
    Ok(match error {
        Some(e) => page::with_headers_of(res, e),
        None => res,
    })
}

async fn form(state: web::Data<AppState>, who: SignedIn) -> Result<HttpResponse, PageError> {
    let caller = super::require_hr(&who)?;
    let loaded = with_conn(&state.pool, move |c| load(c, &caller))
        .await
        .map_err(|e| who.visitor.error(e))?;
    let form = ExportForm {
        what: "participations".into(),
        fiscal_year: (loaded.current_year - 1).to_string(),
        scope: String::new(),
        approval: "approved".into(),
        format: "xlsx".into(),
        purpose: String::new(),
    };
    render(&who, StatusCode::OK, &form, &loaded, None)
}

async fn send(
    state: web::Data<AppState>,
    who: SignedIn,
    request_id: RequestId,
    form: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let (csrf, form) = ExportForm::read(&form);
    who.check_csrf(&csrf)?;
    let caller = super::require_hr(&who)?;
    let started = match form.export(&caller, request_id.to_string()) {
        Ok(export) => state.start_download(export).await,
        Err(e) => Err(e),
    };
    let error = match started {
        Ok(d) => {
            return Ok(download_response(
                d.content_type,
                d.disposition,
                d.version,
                d.body,
            ));
        }
        Err(e) if page::shown_on_form(&e) => e,
        Err(e) => return Err(who.visitor.error(e)),
    };
    let loaded = with_conn(&state.pool, move |c| load(c, &caller))
        .await
        .map_err(|e| who.visitor.error(e))?;
    // A refusal of the request itself (a bad choice) reads as 422 on the form; a limit keeps
    // its own status (429 and when to try again).
    let status = if error.status() == StatusCode::BAD_REQUEST {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        error.status()
    };
    render(&who, status, &form, &loaded, Some(&error))
}
