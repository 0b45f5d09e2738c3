//! Imports as HR uses them: upload a file (the employee roster, participation history, or —
//! administrators — the site registry), see the dry run as a table (what would be created and
//! updated, or every bad line with its column and reason), then import. The check and the
//! import are the API's calls (`people::import`, `exports::import`, `org::import`) with
//! `dry_run` on and off; nothing is written before "Import". The checked file travels back in
//! the confirmation form, and the import validates it whole again, so an altered form can do no
//! more than a new upload.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use futures_util::StreamExt;
use serde::Serialize;
use tracing_actix_web::RequestId;

use crate::AppState;
use crate::auth::{Caller, Role};
use crate::error::AppError;
use crate::http::with_conn;
use crate::web::coordinator::unseen;
use crate::web::i18n::Lang;
use crate::web::page::{self, PageError};
use crate::web::visitor::SignedIn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/hr/imports")
            .route(web::get().to(form))
            .route(web::post().to(send)),
    );
}

/// What can be imported, by the form's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Users,
    Participations,
    Sites,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Users, Kind::Participations, Kind::Sites];

    fn name(self) -> &'static str {
        match self {
            Kind::Users => "users",
            Kind::Participations => "participations",
            Kind::Sites => "sites",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// The site registry is the administrators'.
    fn open_to(self, caller: &Caller) -> bool {
        self != Kind::Sites || caller.role == Role::Admin
    }

    /// The header line the file starts with.
    fn header(self) -> String {
        match self {
            Kind::Users => crate::people::import::HEADER.join(","),
            Kind::Participations => crate::exports::import::HEADER.join(","),
            Kind::Sites => crate::org::import::HEADER.join(","),
        }
    }
}

#[derive(Serialize)]
struct KindChoice {
    value: &'static str,
    name: String,
    header: String,
    selected: bool,
}

fn kinds(lang: Lang, caller: &Caller, chosen: Kind) -> Vec<KindChoice> {
    Kind::ALL
        .into_iter()
        .filter(|k| k.open_to(caller))
        .map(|k| KindChoice {
            value: k.name(),
            name: lang.text(&format!("imports.kind.{}", k.name())),
            header: k.header(),
            selected: k == chosen,
        })
        .collect()
}

#[derive(Serialize)]
struct BadLine {
    line: Option<u64>,
    column: String,
    reason: String,
}

#[derive(Serialize)]
struct Count {
    label: String,
    value: u64,
}

/// What the page shows after a check or an import.
#[derive(Default)]
struct Outcome {
    problem: Option<String>,
    bad_lines: Vec<BadLine>,
    counts: Vec<Count>,
    /// The file passed the check: its text for the confirmation form.
    checked: Option<String>,
    imported: bool,
}

async fn form(who: SignedIn) -> Result<HttpResponse, PageError> {
    let caller = super::require_hr(&who)?;
    render(
        &who,
        &caller,
        Kind::Users,
        false,
        StatusCode::OK,
        Outcome::default(),
    )
}

fn render(
    who: &SignedIn,
    caller: &Caller,
    kind: Kind,
    invite: bool,
    status: StatusCode,
    outcome: Outcome,
) -> Result<HttpResponse, PageError> {
    let lang = who.lang();
    let ctx = minijinja::context! {
        active => "imports",
        wide => true,
        kinds => page::data(kinds(lang, caller, kind)),
        kind => kind.name(),
        kind_name => lang.text(&format!("imports.kind.{}", kind.name())),
        invite,
        problem => outcome.problem,
        bad_lines => page::data(&outcome.bad_lines),
        counts => page::data(&outcome.counts),
        checked => outcome.checked,
        imported => outcome.imported,
        ..who.visitor.context()
    };
    page::html(status, "hr_imports.html", ctx)
}

/// The form's fields; the file arrives as `file` (an upload) or, confirming a check, as
/// `content` (its text, carried in the form).
#[derive(Default)]
struct Sent {
    csrf: String,
    kind: String,
    invite: bool,
    commit: bool,
    file: Vec<u8>,
}

/// Reads the multipart form, at most `limit` bytes of file and a few small fields.
async fn read(mut parts: Multipart, limit: usize) -> Result<Sent, AppError> {
    let mut sent = Sent::default();
    while let Some(field) = parts.next().await {
        let mut field = field.map_err(|e| AppError::bad_request("invalid_form", e.to_string()))?;
        let name = field.name().unwrap_or_default().to_owned();
        let bound = match name.as_str() {
            "file" | "content" => limit,
            _ => 4_096,
        };
        let mut value = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| AppError::bad_request("invalid_form", e.to_string()))?;
            if value.len() + chunk.len() > bound {
                return Err(AppError::payload_too_large(bound));
            }
            value.extend_from_slice(&chunk);
        }
        let text = || String::from_utf8_lossy(&value).trim().to_owned();
        match name.as_str() {
            "csrf" => sent.csrf = text(),
            "kind" => sent.kind = text(),
            "invite" => sent.invite = !value.is_empty(),
            "action" => sent.commit = text() == "import",
            // A new upload wins over the text of an earlier check.
            "file" if !value.is_empty() => sent.file = value,
            "content" if sent.file.is_empty() => sent.file = value,
            _ => {}
        }
    }
    Ok(sent)
}

async fn send(
    state: web::Data<AppState>,
    who: SignedIn,
    request_id: RequestId,
    parts: Multipart,
) -> Result<HttpResponse, PageError> {
    let caller = super::require_hr(&who)?;
    let lang = who.lang();
    let sent = read(parts, state.settings.server.upload_limit_bytes)
        .await
        .map_err(|e| who.visitor.error(e))?;
    who.check_csrf(&sent.csrf)?;
    let Some(kind) = Kind::parse(&sent.kind).filter(|k| k.open_to(&caller)) else {
        return Err(who.visitor.error(AppError::not_found("no such import")));
    };
    if sent.file.is_empty() {
        let outcome = Outcome {
            problem: Some(lang.text("imports.no_file")),
            ..Outcome::default()
        };
        return render(
            &who,
            &caller,
            kind,
            sent.invite,
            StatusCode::UNPROCESSABLE_ENTITY,
            outcome,
        );
    }
    let dry_run = !sent.commit;
    let invite = (kind == Kind::Users && sent.invite)
        .then(|| chrono::Duration::hours(i64::from(state.settings.auth.invitation_ttl_hours)));
    let request_id = request_id.to_string();
    let bytes = sent.file;
    let text = String::from_utf8(bytes.clone()).ok();
    let importer = caller.clone();
    let done = with_conn(&state.pool, move |c| {
        let report = match kind {
            Kind::Users => serde_json::to_value(crate::people::import::import(
                c,
                &importer,
                &bytes,
                dry_run,
                invite,
                Some(request_id),
                |_, _| {},
            )?),
            Kind::Participations => serde_json::to_value(crate::exports::import::import(
                c,
                &importer,
                &bytes,
                dry_run,
                Some(request_id),
                |_, _| {},
            )?),
            Kind::Sites => serde_json::to_value(crate::org::import::import_sites(
                c, &importer, &bytes, dry_run,
            )?),
        };
        report.map_err(AppError::internal)
    })
    .await;
    let outcome = match done.map_err(unseen) {
        Ok(report) => Outcome {
            counts: counts(lang, &report),
            // Only a file that is text can be carried back; one that is not was refused above
            // (the CSV reader names its line), so this is always `Some` after a clean check.
            checked: if dry_run { text } else { None },
            imported: !dry_run,
            ..Outcome::default()
        },
        Err(e) if page::shown_on_form(&e) => Outcome {
            problem: Some(if e.code() == "import_rejected" {
                let lines: std::collections::BTreeSet<Option<u64>> =
                    e.field_errors().iter().map(|f| f.line).collect();
                page::fill(lang, "imports.rejected", &[("n", &lines.len().to_string())])
            } else {
                page::message(&e, lang)
            }),
            bad_lines: e
                .field_errors()
                .iter()
                .map(|f| BadLine {
                    line: f.line,
                    column: f.field.clone(),
                    reason: page::field_text(f, lang),
                })
                .collect(),
            ..Outcome::default()
        },
        Err(e) => return Err(who.visitor.error(e)),
    };
    let status = if outcome.problem.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(&who, &caller, kind, sent.invite, status, outcome)
}

/// The counts a report may hold, in the order the page lists them.
const COUNTS: [&str; 7] = [
    "rows",
    "created",
    "updated",
    "programs_created",
    "events_created",
    "records_created",
    "invited",
];

/// The report's counts in the reader's words.
fn counts(lang: Lang, report: &serde_json::Value) -> Vec<Count> {
    COUNTS
        .into_iter()
        .filter_map(|key| {
            Some(Count {
                label: lang.text(&format!("imports.count.{key}")),
                value: report.get(key)?.as_u64()?,
            })
        })
        .collect()
}
