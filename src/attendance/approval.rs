//! Approval: a coordinator of the site (or an admin) approves or rejects recorded attendance.
//! Nobody decides on their own hours, and every decision is in the audit log.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::attendance::model::{Approval, Attendance, AttendanceRow, find};
use crate::audit;
use crate::auth::{Caller, Role};
use crate::db::schema::{attendance, events, programs, users};
use crate::db::{AnyConnection, Id, Timestamp};
use crate::error::{AppError, AppResult, FieldError};
use crate::outbox::{self, Outgoing, kind};
use crate::stats::rollup::{Affects, track};
use crate::time::local;

/// Most records one approval may name.
pub const MAX_APPROVE: usize = 500;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    /// Attendance ids (1 to 500). All are approved or none: one the caller may not approve
    /// fails the request.
    pub ids: Vec<uuid::Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApproveResult {
    /// Pending records now approved.
    pub approved: usize,
    /// Already approved before this request.
    pub unchanged: usize,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Why (1 to 500 characters); the employee sees it.
    pub reason: String,
}

/// 404 for records the caller may not see (another site's), 403 for their own.
fn authorize_decision(caller: &Caller, user: Id, site: Id) -> AppResult<()> {
    if !matches!(caller.role, Role::Coordinator | Role::Admin) {
        return Err(AppError::forbidden(format!(
            "the {} role does not approve attendance",
            caller.role
        )));
    }
    if !caller.coordinates(site) {
        return Err(AppError::not_found("no such attendance record"));
    }
    if user == caller.id {
        return Err(AppError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "own_attendance",
            "nobody approves or rejects their own hours; ask another coordinator",
        ));
    }
    Ok(())
}

/// Approves pending records, all or none.
pub fn approve(
    conn: &mut AnyConnection,
    caller: &Caller,
    ids: &[Id],
    request_id: Option<String>,
) -> AppResult<ApproveResult> {
    if ids.is_empty() || ids.len() > MAX_APPROVE {
        return Err(AppError::validation(vec![FieldError::new(
            "ids",
            "invalid_length",
            format!("1 to {MAX_APPROVE} ids"),
        )]));
    }
    track(conn, caller, &Affects::Attendance(ids.to_vec()), |conn| {
        let now = Timestamp::now();
        let found: HashMap<Id, (Id, String, Id)> = attendance::table
            .inner_join(events::table.inner_join(programs::table))
            .filter(attendance::id.eq_any(ids))
            .select((
                attendance::id,
                attendance::user_id,
                attendance::approval,
                programs::site_id,
            ))
            .load::<(Id, Id, String, Id)>(conn)?
            .into_iter()
            .map(|(id, user, approval, site)| (id, (user, approval, site)))
            .collect();
        let mut pending = Vec::new();
        let mut unchanged = 0;
        for id in ids {
            let Some((user, approval, site)) = found.get(id) else {
                return Err(AppError::not_found(format!("no attendance record {id}")));
            };
            authorize_decision(caller, *user, *site)?;
            match Approval::parse(approval)? {
                Approval::Pending => pending.push(*id),
                Approval::Approved => unchanged += 1,
                Approval::Rejected => {
                    return Err(AppError::conflict(
                        "already_rejected",
                        format!(
                            "attendance {id} was rejected; record it again on the roster to have it reconsidered"
                        ),
                    ));
                }
            }
        }
        pending.sort();
        pending.dedup();
        let approved = diesel::update(
            attendance::table
                .filter(attendance::id.eq_any(&pending))
                .filter(attendance::approval.eq("pending")),
        )
        .set((
            attendance::approval.eq("approved"),
            attendance::approved_by.eq(Some(caller.id)),
            attendance::approved_at.eq(Some(now)),
            attendance::updated_at.eq(now),
        ))
        .execute(conn)?;
        for id in &pending {
            if let Some((user, _, _)) = found.get(id) {
                outbox::enqueue(
                    conn,
                    Outgoing {
                        kind: kind::HOURS_APPROVED,
                        dedupe_key: format!(
                            "{}:{id}:{}",
                            kind::HOURS_APPROVED,
                            now.get().timestamp()
                        ),
                        user: *user,
                        payload: json!({ "attendance_id": id }),
                        not_before: now,
                    },
                )?;
            }
        }
        // One entry per record, so each record's own trail shows its approval.
        for id in &pending {
            audit::record(
                conn,
                audit::Entry {
                    actor: Some(caller.id),
                    action: "attendance.approve",
                    entity_type: "attendance",
                    entity_id: Some(id.to_string()),
                    details: json!({ "before": {"approval": "pending"}, "after": {"approval": "approved"} }),
                    request_id: request_id.clone(),
                },
            )?;
        }
        Ok(ApproveResult {
            approved,
            unchanged,
        })
    })
}

/// Rejects a pending or approved record. Rejecting approved hours is a change of recorded
/// hours, so its before and after go to the audit log like every decision.
pub fn reject(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: Id,
    reason: &str,
    request_id: Option<String>,
) -> AppResult<Attendance> {
    let reason = reason.trim();
    if !(1..=500).contains(&reason.chars().count()) {
        return Err(AppError::validation(vec![FieldError::new(
            "reason",
            "invalid_length",
            "1 to 500 characters",
        )]));
    }
    track(conn, caller, &Affects::Attendance(vec![id]), |conn| {
        let now = Timestamp::now();
        let row = find(conn, id)?;
        let site: Id = events::table
            .inner_join(programs::table)
            .filter(events::id.eq(row.event_id))
            .select(programs::site_id)
            .first(conn)?;
        authorize_decision(caller, row.user_id, site)?;
        if row.approval == Approval::Rejected.as_str() {
            return row.try_into();
        }
        diesel::update(attendance::table.filter(attendance::id.eq(id)))
            .set((
                attendance::approval.eq("rejected"),
                attendance::approved_by.eq(Some(caller.id)),
                attendance::approved_at.eq(Some(now)),
                attendance::rejection_reason.eq(Some(reason)),
                attendance::updated_at.eq(now),
            ))
            .execute(conn)?;
        outbox::enqueue(
            conn,
            Outgoing {
                kind: kind::HOURS_REJECTED,
                dedupe_key: format!("{}:{id}:{}", kind::HOURS_REJECTED, now.get().timestamp()),
                user: row.user_id,
                payload: json!({ "attendance_id": id, "reason": reason }),
                not_before: now,
            },
        )?;
        audit::record(
            conn,
            audit::Entry {
                actor: Some(caller.id),
                action: "attendance.reject",
                entity_type: "attendance",
                entity_id: Some(id.to_string()),
                details: json!({
                    "before": {"approval": row.approval, "minutes": row.minutes, "days": row.days},
                    "after": {"approval": "rejected", "reason": reason},
                }),
                request_id,
            },
        )?;
        find(conn, id)?.try_into()
    })
}

/// A record in the approval queue, with what an approver needs to judge it.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueItem {
    #[serde(flatten)]
    pub attendance: Attendance,
    pub employee_number: String,
    pub display_name: String,
    pub event_title: String,
    pub event_starts_at: DateTime<FixedOffset>,
    pub event_ends_at: DateTime<FixedOffset>,
    /// The event's IANA time zone (the times above carry its offset).
    pub event_timezone: String,
    pub site_id: uuid::Uuid,
}

#[derive(Debug, Default)]
pub struct ListFilter {
    /// One record.
    pub id: Option<Id>,
    pub approval: Option<Approval>,
    pub event_id: Option<Id>,
    pub site_id: Option<Id>,
    /// Events that start (site-local date) in this fiscal year.
    pub fiscal_year: Option<i32>,
    /// Coordinators: only these sites.
    pub sites: Option<Vec<Id>>,
    pub after: Option<Id>,
    pub limit: i64,
}

/// Attendance records in id (creation) order.
pub fn list(conn: &mut AnyConnection, f: &ListFilter) -> AppResult<Vec<QueueItem>> {
    let mut q = attendance::table
        .inner_join(events::table.inner_join(programs::table))
        .inner_join(users::table.on(users::id.eq(attendance::user_id)))
        .select((
            AttendanceRow::as_select(),
            (users::employee_number, users::display_name),
            (
                events::title,
                events::starts_at,
                events::ends_at,
                events::timezone,
                programs::site_id,
            ),
        ))
        .into_boxed();
    if let Some(id) = f.id {
        q = q.filter(attendance::id.eq(id));
    }
    if let Some(a) = f.approval {
        q = q.filter(attendance::approval.eq(a.as_str()));
    }
    if let Some(e) = f.event_id {
        q = q.filter(attendance::event_id.eq(e));
    }
    if let Some(s) = f.site_id {
        q = q.filter(programs::site_id.eq(s));
    }
    if let Some(sites) = &f.sites {
        q = q.filter(programs::site_id.eq_any(sites.clone()));
    }
    if let Some(fy) = f.fiscal_year {
        let fiscal = crate::stats::rollup::calendar(conn)?;
        let (first, last) = fiscal
            .dates(fy)
            .ok_or_else(|| AppError::bad_request("invalid_query", "no such fiscal year"))?;
        q = q.filter(events::starts_on.between(first, last));
    }
    if let Some(after) = f.after {
        q = q.filter(attendance::id.gt(after));
    }
    type Row = (
        AttendanceRow,
        (String, String),
        (String, Timestamp, Timestamp, String, Id),
    );
    let rows: Vec<Row> = q.order(attendance::id).limit(f.limit + 1).load(conn)?;
    rows.into_iter()
        .map(|(a, (number, name), (title, starts, ends, tz, site))| {
            Ok(QueueItem {
                attendance: a.try_into()?,
                employee_number: number,
                display_name: name,
                event_title: title,
                event_starts_at: local(starts, &tz),
                event_ends_at: local(ends, &tz),
                event_timezone: tz,
                site_id: site.into(),
            })
        })
        .collect()
}

/// A record with its audit trail (decisions and changes, newest first), for whoever may see the
/// record: coordinators of its site, HR and admins; another site's record is 404.
pub fn with_trail(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: Id,
) -> AppResult<(QueueItem, Vec<crate::audit::Logged>)> {
    let item = list(
        conn,
        &ListFilter {
            id: Some(id),
            sites: crate::programs::records_scope(caller, None)?,
            limit: 1,
            ..ListFilter::default()
        },
    )?
    .into_iter()
    .next()
    .ok_or_else(|| AppError::not_found("no such attendance record"))?;
    let trail = crate::audit::list(
        conn,
        &crate::audit::Filter {
            entity_type: Some("attendance".to_owned()),
            entity_id: Some(id.to_string()),
            limit: 100,
            ..crate::audit::Filter::default()
        },
    )?;
    Ok((item, trail))
}
