//! Retention: personal data the service no longer needs is removed after a configured time,
//! while what the records are for stays. A delivered, dead or cancelled email keeps its row
//! (that it was sent, when, to which account) but loses its address and body after
//! `retention.outbox_days`; an audit entry keeps who did what to which record and when, and
//! loses its details (before/after values, which can quote people) after
//! `retention.audit_details_days`. 0 keeps them. The mail worker runs the sweep about once an
//! hour (it also drops sign-in attempt budgets that are whole again); it is idempotent and any
//! number of instances may run it.

use chrono::Duration;
use diesel::prelude::*;

use crate::config::RetentionSettings;
use crate::db::schema::{audit_log, outbox};
use crate::db::{AnyConnection, Timestamp};

/// What one sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub outbox: usize,
    pub audit: usize,
}

/// The address an emptied message keeps (the row stays for counts and the admin's list).
pub const REMOVED_ADDRESS: &str = "removed@retention.invalid";

/// Removes what is older than the settings allow, as of `now`.
pub fn sweep(
    conn: &mut AnyConnection,
    settings: &RetentionSettings,
    now: Timestamp,
) -> QueryResult<Swept> {
    let mut swept = Swept::default();
    if settings.outbox_days > 0 {
        let before = Timestamp::from(now.get() - Duration::days(i64::from(settings.outbox_days)));
        swept.outbox = diesel::update(
            outbox::table
                .filter(outbox::status.eq_any(["sent", "dead", "cancelled"]))
                .filter(outbox::updated_at.lt(before))
                .filter(outbox::to_address.ne(REMOVED_ADDRESS)),
        )
        .set((
            outbox::to_address.eq(REMOVED_ADDRESS),
            outbox::payload.eq("{}"),
            outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    }
    if settings.audit_details_days > 0 {
        let before =
            Timestamp::from(now.get() - Duration::days(i64::from(settings.audit_details_days)));
        swept.audit = diesel::update(
            audit_log::table
                .filter(audit_log::occurred_at.lt(before))
                .filter(audit_log::details.ne("{}")),
        )
        .set(audit_log::details.eq("{}"))
        .execute(conn)?;
    }
    // Attempt budgets that are whole again hold nothing worth keeping.
    diesel::sql_query("DELETE FROM attempt_budgets WHERE full_at_us <= $1")
        .bind::<diesel::sql_types::BigInt, _>(now.get().timestamp_micros())
        .execute(conn)?;
    Ok(swept)
}
