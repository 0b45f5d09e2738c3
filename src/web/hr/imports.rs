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
    )
    .route("/hr/imports/jobs/{id}", web::get().to(job_page));
}

/// What can be imported, by the form's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Users,
    Participations,
    Sites,
    Expenses,
}

impl Kind {
    const ALL: [Kind; 4] = [
        Kind::Users,
        Kind::Participations,
        Kind::Sites,
        Kind::Expenses,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Users => "users",
            Kind::Participations => "participations",
            Kind::Sites => "sites",
            Kind::Expenses => "expenses",
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
            Kind::Expenses => crate::contributions::HEADER.join(","),
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
    /// A refusal's status (422 for a rejected file).
    status: Option<u16>,
    /// The restatement reason the check ran with, carried to the confirmation form.
    reason: Option<String>,
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
        restatement_reason => outcome.reason,
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
    /// Why a file with records of a closed fiscal year restates it.
    restatement: String,
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
            "restatement_reason" => sent.restatement = text(),
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
    let caller = caller.restating(&sent.restatement);
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
    let work = Work {
        kind,
        dry_run: !sent.commit,
        invite: kind == Kind::Users && sent.invite,
        ttl: chrono::Duration::hours(i64::from(state.settings.auth.invitation_ttl_hours)),
        request_id: request_id.to_string(),
        bytes: sent.file,
    };
    if work.bytes.len() >= state.settings.server.import_background_bytes {
        return in_background(&state, &who, &caller, work).await;
    }
    let text = String::from_utf8(work.bytes.clone()).ok();
    let (dry_run, invite) = (work.dry_run, sent.invite);
    let importer = caller.clone();
    let done = with_conn(&state.pool, move |c| work.run(c, &importer, |_, _| {})).await;
    let mut outcome = match done.map_err(unseen) {
        Ok(report) => Outcome::of_report(lang, &report, dry_run, text),
        Err(e) if page::shown_on_form(&e) => Outcome::of_refusal(lang, &Refusal::of(&e)),
        Err(e) => return Err(who.visitor.error(e)),
    };
    outcome.reason = caller.restatement.clone();
    let status = outcome.status();
    render(&who, &caller, kind, invite, status, outcome)
}

/// One import to run: what, how, and the file.
struct Work {
    kind: Kind,
    dry_run: bool,
    /// Mail new accounts an invitation (employee files).
    invite: bool,
    ttl: chrono::Duration,
    request_id: String,
    bytes: Vec<u8>,
}

impl Work {
    /// Runs the import's service (or its check); its report as JSON.
    fn run(
        &self,
        c: &mut crate::db::AnyConnection,
        importer: &Caller,
        progress: impl FnMut(u64, u64),
    ) -> Result<serde_json::Value, AppError> {
        let (bytes, dry_run, request_id) =
            (&self.bytes, self.dry_run, Some(self.request_id.clone()));
        let report = match self.kind {
            Kind::Users => serde_json::to_value(crate::people::import::import(
                c,
                importer,
                bytes,
                dry_run,
                self.invite.then_some(self.ttl),
                request_id,
                progress,
            )?),
            Kind::Participations => serde_json::to_value(crate::exports::import::import(
                c,
                importer,
                &bytes[..],
                dry_run,
                request_id,
                progress,
            )?),
            Kind::Sites => serde_json::to_value(crate::org::import::import_sites(
                c, importer, bytes, dry_run,
            )?),
            Kind::Expenses => serde_json::to_value(crate::contributions::import(
                c, importer, bytes, dry_run, request_id,
            )?),
        };
        report.map_err(AppError::internal)
    }
}

/// A refusal as a job keeps it: enough to show it again in either language.
#[derive(Debug, Serialize, serde::Deserialize)]
struct Refusal {
    status: u16,
    code: String,
    detail: String,
    errors: Vec<RefusedField>,
}

#[derive(Debug, Serialize, serde::Deserialize)]
struct RefusedField {
    field: String,
    code: String,
    message: String,
    line: Option<u64>,
}

impl Refusal {
    fn of(e: &AppError) -> Refusal {
        Refusal {
            status: e.status().as_u16(),
            code: e.code().to_owned(),
            detail: e.detail().to_owned(),
            errors: e
                .field_errors()
                .iter()
                .map(|f| RefusedField {
                    field: f.field.clone(),
                    code: f.code.to_string(),
                    message: f.message.clone(),
                    line: f.line,
                })
                .collect(),
        }
    }

    /// A job whose instance stopped before it ended.
    fn stopped() -> Refusal {
        Refusal {
            status: 503,
            code: "import_stopped".into(),
            detail: String::new(),
            errors: Vec::new(),
        }
    }

    /// What broke that is not the file's fault (its detail is not for the reader).
    fn failure() -> Refusal {
        Refusal {
            status: 500,
            code: "internal".into(),
            detail: String::new(),
            errors: Vec::new(),
        }
    }

    /// The page's sentence about it: how many lines need fixing, else the catalogue's text for
    /// its code, else the service's detail (for a client error) or a generic line.
    fn text(&self, lang: Lang) -> String {
        if self.code == "import_rejected" {
            let lines: std::collections::BTreeSet<Option<u64>> =
                self.errors.iter().map(|f| f.line).collect();
            return page::fill(lang, "imports.rejected", &[("n", &lines.len().to_string())]);
        }
        match lang.lookup(&format!("problem.{}", self.code)) {
            Some(t) => t.to_owned(),
            None if (400..500).contains(&self.status) => self.detail.clone(),
            None => lang.text("error.title"),
        }
    }
}

impl Outcome {
    fn of_report(
        lang: Lang,
        report: &serde_json::Value,
        dry_run: bool,
        text: Option<String>,
    ) -> Outcome {
        Outcome {
            counts: counts(lang, report),
            // Only a file that is text can be carried back; one that is not was refused (the
            // CSV reader names its line), so this is always `Some` after a clean check.
            checked: if dry_run { text } else { None },
            imported: !dry_run,
            ..Outcome::default()
        }
    }

    fn of_refusal(lang: Lang, r: &Refusal) -> Outcome {
        Outcome {
            problem: Some(r.text(lang)),
            status: Some(r.status),
            bad_lines: r
                .errors
                .iter()
                .map(|f| BadLine {
                    line: f.line,
                    column: f.field.clone(),
                    reason: page::field_text(
                        &crate::error::FieldError {
                            field: f.field.clone(),
                            code: f.code.clone().into(),
                            message: f.message.clone(),
                            line: f.line,
                        },
                        lang,
                    ),
                })
                .collect(),
            ..Outcome::default()
        }
    }

    fn status(&self) -> StatusCode {
        match (&self.problem, self.status) {
            (None, _) => StatusCode::OK,
            (Some(_), Some(s)) => {
                StatusCode::from_u16(s).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY)
            }
            (Some(_), None) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

/// Starts `work` after answering: a job row every instance can read, the import on a blocking
/// thread reporting how far it has got, then the outcome on the row; the browser goes to the
/// job's page.
async fn in_background(
    state: &AppState,
    who: &SignedIn,
    caller: &Caller,
    work: Work,
) -> Result<HttpResponse, PageError> {
    let (user, kind, dry_run, invite) = (caller.id, work.kind, work.dry_run, work.invite);
    let job = with_conn(&state.pool, move |c| {
        crate::jobs::start(c, user, kind.name(), dry_run, invite)
    })
    .await
    .map_err(|e| who.visitor.error(e))?;
    let pool = state.pool.clone();
    let progress = state.import_progress.clone();
    let importer = caller.clone();
    progress.set(job, 0, 0);
    actix_web::rt::task::spawn_blocking(move || {
        let text = if work.dry_run {
            String::from_utf8(work.bytes.clone()).ok()
        } else {
            None
        };
        let ran = pool.get().map_err(AppError::from).and_then(|mut c| {
            work.run(&mut c, &importer, |done, total| {
                progress.set(job, done, total)
            })
        });
        let (status, result, content) = match ran.map_err(unseen) {
            // The reason a check ran with goes with its result to the confirmation form.
            Ok(report) => (
                crate::jobs::Status::Done,
                serde_json::json!({
                    "report": report,
                    "restatement_reason": importer.restatement,
                }),
                text,
            ),
            Err(e) if e.status().is_client_error() => (
                crate::jobs::Status::Rejected,
                serde_json::json!({ "problem": Refusal::of(&e) }),
                None,
            ),
            Err(e) => {
                tracing::error!(error = %e, "a background import failed");
                (
                    crate::jobs::Status::Failed,
                    serde_json::json!({ "problem": Refusal::failure() }),
                    None,
                )
            }
        };
        let recorded = pool.get().map_err(AppError::from).and_then(|mut c| {
            crate::jobs::finish(&mut c, job, status, &result.to_string(), content.as_deref())
        });
        if let Err(e) = recorded {
            tracing::error!(error = %e, "could not record how a background import ended");
        }
        progress.forget(job);
    });
    Ok(crate::web::see_other(&format!("/hr/imports/jobs/{job}")))
}

/// A running job older than this that no instance here is running has stopped: even the
/// largest file allowed is checked or imported in well under a minute.
const STALE_AFTER: chrono::Duration = chrono::Duration::minutes(30);

/// A background import's page: how far it has got while it runs (the page reloads itself each
/// second, no script needed), then its outcome as the imports page shows it.
async fn job_page(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, PageError> {
    let caller = super::require_hr(&who)?;
    let lang = who.lang();
    let id = crate::db::Id::from(id.into_inner());
    let user = caller.id;
    let job = with_conn(&state.pool, move |c| crate::jobs::find(c, id, user))
        .await
        .map_err(|e| who.visitor.error(e))?;
    let kind = Kind::parse(&job.kind).ok_or_else(|| {
        who.visitor
            .error(AppError::internal("a job of an unknown kind"))
    })?;
    let here = state.import_progress.get(id);
    let stale = here.is_none() && chrono::Utc::now() - job.created_at > STALE_AFTER;
    if job.status == crate::jobs::Status::Running && stale {
        // The instance running it stopped (a restart, a crash): its transaction went with it,
        // so nothing of the file was written.
        let outcome = Outcome::of_refusal(lang, &Refusal::stopped());
        let status = outcome.status();
        return render(&who, &caller, kind, job.invite, status, outcome);
    }
    if job.status == crate::jobs::Status::Running {
        let (done, total) = here.unwrap_or((0, 0));
        let ctx = minijinja::context! {
            active => "imports",
            kind_name => lang.text(&format!("imports.kind.{}", kind.name())),
            dry_run => job.dry_run,
            done,
            total,
            done_text => lang.number(done as i64),
            total_text => lang.number(total as i64),
            refresh => format!("/hr/imports/jobs/{id}"),
            ..who.visitor.context()
        };
        return page::html(StatusCode::OK, "hr_import_job.html", ctx);
    }
    let stored: serde_json::Value = job
        .result
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_default();
    let outcome = match (job.status, stored.get("report"), stored.get("problem")) {
        (crate::jobs::Status::Done, Some(report), _) => Outcome {
            reason: stored
                .get("restatement_reason")
                .and_then(|r| r.as_str())
                .map(str::to_owned),
            ..Outcome::of_report(lang, report, job.dry_run, job.content)
        },
        (_, _, Some(problem)) => {
            let refusal: Refusal =
                serde_json::from_value(problem.clone()).unwrap_or_else(|_| Refusal::failure());
            Outcome::of_refusal(lang, &refusal)
        }
        _ => Outcome::of_refusal(lang, &Refusal::failure()),
    };
    let status = outcome.status();
    render(&who, &caller, kind, job.invite, status, outcome)
}

/// The counts a report may hold, in the order the page lists them.
const COUNTS: [&str; 8] = [
    "rows",
    "total_yen",
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
