//! A download as both front doors serve it: the parameters and the caller's rights settled
//! first, then the rows streamed from a blocking thread through a bounded channel on a database
//! connection of the export's own. Every export of personal data is written to the audit log
//! with its purpose, filters and row count — also when the client stops reading half-way
//! (`completed: false`).
//!
//! The API (`GET /api/v1/exports/...`) and HR's exports page describe the same [`Export`] and
//! hand the [`Download`] to `http::download_response`; nothing here knows which door asked.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::web::Bytes;
use futures_util::Stream;
use serde_json::json;

use crate::attendance::model::Approval;
use crate::audit;
use crate::auth::Caller;
use crate::config::DatabaseSettings;
use crate::db::replica::{Reads, Source};
use crate::db::{AnyConnection, Id};
use crate::error::{AppError, AppResult};
use crate::exports::slots::ExportSlots;
use crate::exports::{hours, participations};
use crate::metrics::Metrics;
use crate::programs::records_scope;
use crate::sheet::{ChannelWriter, Kind, Sheet};
use crate::stats::rollup;

/// What writes an export's rows (and says how many).
pub type WriteRows = Box<
    dyn FnOnce(
            &mut AnyConnection,
            &mut Sheet<ChannelWriter>,
        ) -> Result<u64, Box<dyn std::error::Error + Send + Sync>>
        + Send,
>;

/// One export, ready to stream.
pub struct Export {
    pub kind: Kind,
    /// The file's name without its extension.
    pub name: String,
    /// The column set's version (`X-Export-Version`).
    pub version: &'static str,
    /// The audit log's action (`export.participations`, ...).
    pub action: &'static str,
    /// Purpose and filters, for the audit log.
    pub details: serde_json::Value,
    pub caller: Id,
    pub request_id: String,
    pub rows: WriteRows,
}

/// The body of a download: chunks, or the error that ends an incomplete file.
pub type Body = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>>>>;

/// A started download.
pub struct Download {
    pub content_type: &'static str,
    /// `attachment; filename="..."`.
    pub disposition: String,
    pub version: &'static str,
    pub body: Body,
}

/// Why the data leaves the service: 3 to 500 characters, required.
pub fn purpose(p: Option<&str>) -> AppResult<String> {
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

/// What a participation export covers.
#[derive(Debug, Default)]
pub struct ParticipationRequest {
    pub purpose: Option<String>,
    pub fiscal_year: Option<i32>,
    pub site_id: Option<Id>,
    pub company_id: Option<Id>,
    pub approval: Option<Approval>,
}

/// The participation export `caller` asked for: HR and admins everything, coordinators their
/// own sites' events (another site is refused before the purpose is looked at).
pub fn participations(
    caller: &Caller,
    request_id: String,
    kind: Kind,
    req: ParticipationRequest,
) -> AppResult<Export> {
    let sites = records_scope(caller, req.site_id)?;
    let purpose = purpose(req.purpose.as_deref())?;
    let fy = req
        .fiscal_year
        .map(|y| crate::time::checked_year("fiscal_year", y))
        .transpose()?;
    let filter = participations::Filter {
        fiscal_year: fy,
        site_id: req.site_id,
        company_id: req.company_id,
        approval: req.approval,
        sites,
    };
    let details =
        json!({"purpose": purpose, "filters": &filter, "version": participations::VERSION});
    let name = match fy {
        Some(y) => format!("participations-fy{y}"),
        None => "participations".to_owned(),
    };
    Ok(Export {
        kind,
        name,
        version: participations::VERSION,
        action: "export.participations",
        details,
        caller: caller.id,
        request_id,
        rows: Box::new(move |c, sheet| {
            let fiscal = rollup::calendar(c)?;
            participations::write(c, fiscal, &filter, sheet)
        }),
    })
}

/// Per employee, the approved events, hours and person-days of fiscal year `fy`: HR and admins.
pub fn hours(
    caller: &Caller,
    request_id: String,
    kind: Kind,
    purpose_given: Option<&str>,
    fy: i32,
) -> AppResult<Export> {
    super::require_hr(caller)?;
    let purpose = purpose(purpose_given)?;
    let fy = crate::time::checked_year("fiscal_year", fy)?;
    Ok(Export {
        kind,
        name: format!("hours-fy{fy}"),
        version: hours::VERSION,
        action: "export.hours",
        details: json!({"purpose": purpose, "filters": {"fiscal_year": fy}, "version": hours::VERSION}),
        caller: caller.id,
        request_id,
        rows: Box::new(move |c, sheet| {
            let fiscal = rollup::calendar(c)?;
            hours::write(c, fiscal, fy, sheet)
        }),
    })
}

/// Starts streaming `export` from a blocking thread; audits it when done.
pub async fn start(
    slots: &ExportSlots,
    reads: &Arc<Reads>,
    metrics: &Arc<Metrics>,
    database: &DatabaseSettings,
    stall: std::time::Duration,
    export: Export,
) -> AppResult<Download> {
    // Its own place and its own connection: however long the client takes, the pool the
    // requests are answered from is untouched (a download holds neither for longer than the
    // stall timeout).
    let slot = slots.take(export.caller)?;
    let database = database.clone();
    let (reads_from, primary) = (reads.clone(), database.clone());
    let (mut conn, from) = actix_web::web::block(move || reads_from.connect(&primary))
        .await?
        .map_err(AppError::database_unavailable)?;
    metrics.replica_eligible_read(from.as_str());
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let content_type = export.kind.content_type();
    let disposition = format!(
        "attachment; filename=\"{}.{}\"",
        export.name,
        export.kind.extension()
    );
    let version = export.version;
    // Set when the file is incomplete: the response then ends with an error, never like a
    // finished file, even if the error could not be queued behind the unread chunks.
    let failed = Arc::new(AtomicBool::new(false));
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
                failed_flag.store(true, Ordering::SeqCst);
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
        // The audit entry is a write: on the primary, also when the rows came from the replica.
        let recorded: Result<(), Box<dyn std::error::Error + Send + Sync>> = match from {
            Source::Primary => audit::record(&mut conn, entry).map_err(Into::into),
            Source::Replica => crate::db::connect(&database)
                .map_err(Into::into)
                .and_then(|mut primary| audit::record(&mut primary, entry).map_err(Into::into)),
        };
        if let Err(e) = recorded {
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
                None if failed.load(Ordering::SeqCst) => {
                    Some((Err(std::io::Error::other("export failed")), None))
                }
                None => None,
            }
        }
    });
    Ok(Download {
        content_type,
        disposition,
        version,
        body: Box::pin(body),
    })
}
