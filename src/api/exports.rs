//! HTTP handlers for exports and the participation import.
//!
//! An export answers 200 only once its parameters, the caller's rights and a database
//! connection are settled; the rows then stream from a blocking thread through a bounded
//! channel. Every export of personal data is written to the audit log with its purpose, filters
//! and row count — also when the client stops reading half-way (`completed: false`).

use crate::http::resource;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use tracing_actix_web::RequestId;
use utoipa::IntoParams;

use crate::AppState;
use crate::attendance::model::Approval;
use crate::audit;
use crate::auth::Caller;
use crate::db::{AnyConnection, Id};
use crate::error::{AppError, AppResult, Problem};
use crate::exports::import::{self, ParticipationReport};
use crate::exports::{hours, participations};
use crate::http::{format_param, with_conn};
use crate::programs::records_scope;
use crate::sheet::ChannelWriter;
use crate::sheet::{Kind, Sheet};
use crate::stats::rollup;
use crate::time::checked_year;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ParticipationQuery {
    /// Why the data is exported (3 to 500 characters); written to the audit log.
    #[param(min_length = 3, max_length = 500)]
    pub purpose: Option<String>,
    #[param(minimum = 1900, maximum = 2200)]
    pub fiscal_year: Option<i32>,
    pub site_id: Option<uuid::Uuid>,
    pub company_id: Option<uuid::Uuid>,
    pub approval: Option<Approval>,
    /// `csv` (default) or `xlsx`.
    #[param(pattern = "^(csv|xlsx)$")]
    pub format: Option<String>,
    /// CSV only: start with a UTF-8 byte-order mark, so Excel reads the encoding right.
    pub bom: Option<bool>,
}

fn purpose(p: Option<&str>) -> AppResult<String> {
    let p = p.map(str::trim).unwrap_or_default();
    if (3..=500).contains(&p.chars().count()) {
        Ok(p.to_owned())
    } else {
        Err(AppError::bad_request(
            "purpose_required",
            "say why the data is exported: purpose=... (3 to 500 characters)",
        ))
    }
}

fn kind(format: Option<&str>, bom: Option<bool>) -> AppResult<Kind> {
    Ok(match format_param(format, &["csv", "xlsx"])? {
        "xlsx" => Kind::Xlsx,
        _ => Kind::Csv {
            bom: bom.unwrap_or(false),
        },
    })
}

type WriteRows = Box<
    dyn FnOnce(
            &mut AnyConnection,
            &mut Sheet<ChannelWriter>,
        ) -> Result<u64, Box<dyn std::error::Error + Send + Sync>>
        + Send,
>;

/// What one export is.
struct Export {
    kind: Kind,
    name: String,
    version: &'static str,
    action: &'static str,
    details: serde_json::Value,
    caller: Id,
    request_id: String,
    rows: WriteRows,
}

/// Streams `export` from a blocking thread; audits it when done.
async fn stream(state: &web::Data<AppState>, export: Export) -> AppResult<HttpResponse> {
    // Its own place and its own connection: however long the client takes, the pool the API
    // answers from is untouched (a download holds neither for longer than the stall timeout).
    let slot = state.export_slots.take(export.caller)?;
    let database = state.settings.database.clone();
    let stall = std::time::Duration::from_secs(state.settings.exports.stall_timeout_secs);
    let mut conn = web::block(move || crate::db::connect(&database))
        .await?
        .map_err(AppError::database_unavailable)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let headers = (
        export.kind.content_type(),
        format!(
            "attachment; filename=\"{}.{}\"",
            export.name,
            export.kind.extension()
        ),
        export.version,
    );
    // Set when the file is incomplete: the response then ends with an error, never like a
    // finished file, even if the error could not be queued behind the unread chunks.
    let failed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let failed_flag = failed.clone();
    actix_web::rt::task::spawn_blocking(move || {
        // `errors` is the last sender: the client sees the end of the file only once it is
        // dropped, below, after the audit entry and after the slot is given back, so a client
        // that starts its next export on reading the end is never refused by its own last one.
        let errors = tx.clone();
        let sheet_name = export.name.clone();
        let writer = ChannelWriter::new(tx).stalling_after(stall);
        let written = Sheet::new(export.kind, writer, &sheet_name)
            .map_err(Into::into)
            .and_then(|mut sheet| {
                let n = (export.rows)(&mut conn, &mut sheet)?;
                sheet.finish()?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(n)
            });
        let (rows, completed) = match &written {
            Ok(n) => (*n, true),
            Err(e) => {
                tracing::warn!(error = %e, export = export.action, "export ended early");
                // Best effort: a client that stopped reading has a full channel, and waiting
                // for it would keep the slot and the connection after all.
                failed_flag.store(true, std::sync::atomic::Ordering::SeqCst);
                let _ = errors.try_send(Err(std::io::Error::other("export failed")));
                (0, false)
            }
        };
        let mut details = export.details;
        details["rows"] = json!(rows);
        details["completed"] = json!(completed);
        details["format"] = json!(export.kind.extension());
        let entry = audit::Entry {
            actor: Some(export.caller),
            action: export.action,
            entity_type: "export",
            entity_id: None,
            details,
            request_id: Some(export.request_id),
        };
        if let Err(e) = audit::record(&mut conn, entry) {
            tracing::error!(error = %e, "could not audit an export");
        }
        drop(slot);
        drop(errors);
    });
    let body = futures_util::stream::unfold(Some(rx), move |rx| {
        let failed = failed.clone();
        async move {
            let mut rx = rx?;
            match rx.recv().await {
                Some(item) => Some((item, Some(rx))),
                None if failed.load(std::sync::atomic::Ordering::SeqCst) => {
                    Some((Err(std::io::Error::other("export failed")), None))
                }
                None => None,
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type(headers.0)
        .insert_header(("Content-Disposition", headers.1))
        .insert_header(("X-Export-Version", headers.2))
        .insert_header(("Cache-Control", "no-store"))
        .streaming(body))
}

/// Participation records (column set `participations/2`, see the README) as CSV or XLSX,
/// streamed. HR and admins export everything, coordinators their own sites' events; a
/// `purpose` is required and, with the filters and the row count, goes to the audit log.
/// Text cells starting with `= + - @`, tab or CR are prefixed with `'`.
#[utoipa::path(get, path = "/api/v1/exports/participations", tag = "exports", security(("bearer" = [])),
    params(ParticipationQuery),
    responses((status = 200, description = "The file (text/csv or XLSX)", content_type = "text/csv"),
              (status = 400, description = "No purpose, or bad filters", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "Employees, or another site's coordinator", body = Problem, content_type = "application/problem+json"),
              (status = 429, description = "Too many exports running, in all or for this person (`exports_busy`); see Retry-After", body = Problem, content_type = "application/problem+json")))]
pub async fn export_participations(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    q: web::Query<ParticipationQuery>,
) -> AppResult<HttpResponse> {
    // Who may export comes first; a site the coordinator does not run is refused with it.
    let site_id = q.site_id.map(Id::from);
    let sites = records_scope(&caller, site_id)?;
    let q = q.into_inner();
    let purpose = purpose(q.purpose.as_deref())?;
    let kind = kind(q.format.as_deref(), q.bom)?;
    let fy = q
        .fiscal_year
        .map(|y| checked_year("fiscal_year", y))
        .transpose()?;
    let filter = participations::Filter {
        fiscal_year: fy,
        site_id,
        company_id: q.company_id.map(Id::from),
        approval: q.approval,
        sites,
    };
    let details =
        json!({"purpose": purpose, "filters": &filter, "version": participations::VERSION});
    let name = match fy {
        Some(y) => format!("participations-fy{y}"),
        None => "participations".to_owned(),
    };
    stream(
        &state,
        Export {
            kind,
            name,
            version: participations::VERSION,
            action: "export.participations",
            details,
            caller: caller.id,
            request_id: request_id.to_string(),
            rows: Box::new(move |c, sheet| {
                let fiscal = rollup::calendar(c)?;
                participations::write(c, fiscal, &filter, sheet)
            }),
        },
    )
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HoursQuery {
    /// Why the data is exported (3 to 500 characters); written to the audit log.
    #[param(min_length = 3, max_length = 500)]
    pub purpose: Option<String>,
    #[param(minimum = 1900, maximum = 2200)]
    pub fiscal_year: i32,
    /// `csv` (default) or `xlsx`.
    #[param(pattern = "^(csv|xlsx)$")]
    pub format: Option<String>,
    pub bom: Option<bool>,
}

/// Per employee, the approved events, hours and person-days of a fiscal year (column set
/// `hours/1`), for volunteer leave and recognition. HR and admins; purpose required; audited.
#[utoipa::path(get, path = "/api/v1/exports/hours", tag = "exports", security(("bearer" = [])),
    params(HoursQuery),
    responses((status = 200, description = "The file (text/csv or XLSX)", content_type = "text/csv"),
              (status = 400, description = "No purpose, or a bad year", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "Not HR or an admin", body = Problem, content_type = "application/problem+json"),
              (status = 429, description = "Too many exports running, in all or for this person (`exports_busy`); see Retry-After", body = Problem, content_type = "application/problem+json")))]
pub async fn export_hours(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    q: web::Query<HoursQuery>,
) -> AppResult<HttpResponse> {
    crate::exports::require_hr(&caller)?;
    let q = q.into_inner();
    let purpose = purpose(q.purpose.as_deref())?;
    let kind = kind(q.format.as_deref(), q.bom)?;
    let fy = checked_year("fiscal_year", q.fiscal_year)?;
    stream(
        &state,
        Export {
            kind,
            name: format!("hours-fy{fy}"),
            version: hours::VERSION,
            action: "export.hours",
            details: json!({"purpose": purpose, "filters": {"fiscal_year": fy}, "version": hours::VERSION}),
            caller: caller.id,
            request_id: request_id.to_string(),
            rows: Box::new(move |c, sheet| {
                let fiscal = rollup::calendar(c)?;
                hours::write(c, fiscal, fy, sheet)
            }),
        },
    )
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Check the file and report, write nothing.
    pub dry_run: Option<bool>,
}

/// Imports participation history from CSV (`site_code,program_code,program_title,theme,
/// categories,event_date,employee_number,hours`, optionally followed by `days,end_date` for
/// multi-day events: person-days, default 1, and the site-local last day, default the event
/// date; hours up to 24 per day; UTF-8, optional BOM). Missing programmes and events are
/// created; rows land as approved attendance. All or nothing: a rejected file answers 422
/// `import_rejected` with every bad row (`line`, `field`, `code`, `message`).
#[utoipa::path(post, path = "/api/v1/imports/participations", tag = "exports", security(("bearer" = [])),
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "The CSV file"),
    responses((status = 200, description = "Imported (or checked, with dry_run)", body = ParticipationReport),
              (status = 403, description = "Not HR or an admin", body = Problem, content_type = "application/problem+json"),
              (status = 413, description = "File over server.upload_limit_bytes", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Rejected, with a report of every bad row", body = Problem, content_type = "application/problem+json")))]
pub async fn import_participations(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    q: web::Query<ImportQuery>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let dry_run = q.dry_run.unwrap_or(false);
    let request_id = request_id.to_string();
    let report = with_conn(&state.pool, move |c| {
        import::import(c, &caller, &body, dry_run, Some(request_id), |_, _| {})
    })
    .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// This module's routes (mounted by `server::routes`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/v1/exports/participations", "GET")
            .route(web::get().to(export_participations)),
    )
    .service(resource("/api/v1/exports/hours", "GET").route(web::get().to(export_hours)))
    .service(
        resource("/api/v1/imports/participations", "POST")
            .route(web::post().to(import_participations)),
    );
}

/// This module's part of the OpenAPI document (merged by `api::openapi::document`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(export_participations, export_hours, import_participations))]
pub struct Doc;
