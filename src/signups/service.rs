//! The state changes of sign-ups, each in one transaction.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::db::schema::{attendance, events, signups, users};
use crate::db::{AnyConnection, Id, Timestamp, write_transaction};
use crate::error::{AppError, AppResult};
use crate::outbox::{self, Outgoing, kind};
use crate::programs::events::{Event, EventRow, EventStatus, find_row};
use crate::programs::require_runs_site;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SignupStatus {
    Confirmed,
    Waitlisted,
    Cancelled,
}

impl SignupStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SignupStatus::Confirmed => "confirmed",
            SignupStatus::Waitlisted => "waitlisted",
            SignupStatus::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> AppResult<SignupStatus> {
        match s {
            "confirmed" => Ok(SignupStatus::Confirmed),
            "waitlisted" => Ok(SignupStatus::Waitlisted),
            "cancelled" => Ok(SignupStatus::Cancelled),
            o => Err(AppError::internal(format!(
                "unknown sign-up status {o:?} in the database"
            ))),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = signups)]
pub struct SignupRow {
    pub id: Id,
    pub event_id: Id,
    pub user_id: Id,
    pub status: String,
    pub waitlist_position: Option<i32>,
    pub forced: bool,
    pub created_by: Id,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub cancelled_at: Option<Timestamp>,
}

/// A sign-up as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Signup {
    pub id: uuid::Uuid,
    pub event_id: uuid::Uuid,
    pub user_id: uuid::Uuid,
    pub status: SignupStatus,
    /// 1 = next in line; only while waitlisted.
    pub waitlist_position: Option<i32>,
    /// A coordinator overrode the overlap rule.
    pub forced: bool,
    /// Who made it: the employee, or a coordinator on their behalf.
    pub created_by: uuid::Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

impl TryFrom<SignupRow> for Signup {
    type Error = AppError;
    fn try_from(r: SignupRow) -> AppResult<Signup> {
        Ok(Signup {
            id: r.id.into(),
            event_id: r.event_id.into(),
            user_id: r.user_id.into(),
            status: SignupStatus::parse(&r.status)?,
            waitlist_position: r.waitlist_position,
            forced: r.forced,
            created_by: r.created_by.into(),
            created_at: r.created_at.into(),
            updated_at: r.updated_at.into(),
            cancelled_at: r.cancelled_at.map(Into::into),
        })
    }
}

pub fn find(conn: &mut AnyConnection, id: Id) -> AppResult<Signup> {
    signups::table
        .filter(signups::id.eq(id))
        .select(SignupRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("no such sign-up"))?
        .try_into()
}

/// Who signs up whom, and whether the overlap rule is overridden.
pub struct Request {
    pub event: Id,
    pub user: Id,
    pub by: Id,
    pub force: bool,
}

/// Signs `user` up: a seat if one is free (guarded update), else a place at the end of the
/// waitlist, else 409.
///
/// `authorize` sees the event as loaded here, so the caller's visibility and scope checks need
/// no second read of it on this hot path.
pub fn sign_up(
    conn: &mut AnyConnection,
    req: &Request,
    authorize: impl FnOnce(&Event) -> AppResult<()>,
) -> AppResult<Signup> {
    write_transaction(conn, |conn| {
        let now = Timestamp::now();
        let (event, site) = find_row(conn, req.event)?;
        authorize(&Event::from_row(event.clone(), site)?)?;
        if EventStatus::parse(&event.status)? != EventStatus::Published {
            return Err(AppError::conflict(
                "event_not_open",
                "the event is not open for sign-up",
            ));
        }
        if now >= event.signup_deadline.unwrap_or(event.starts_at) {
            return Err(AppError::conflict(
                "signup_closed",
                "sign-up for this event has closed",
            ));
        }
        // `by` is the caller, found active by the `Caller` extractor in this request: only
        // someone signed up by a coordinator needs looking up (one round trip less per sign-up).
        if req.user != req.by {
            let active: Option<bool> = users::table
                .filter(users::id.eq(req.user))
                .select(users::active)
                .first(conn)
                .optional()?;
            match active {
                None => return Err(AppError::not_found("no such user")),
                Some(false) => {
                    return Err(AppError::conflict(
                        "user_inactive",
                        "the user is deactivated",
                    ));
                }
                Some(true) => {}
            }
        }
        // Checked before the seat so a duplicate on a full event says "already signed up", not
        // "full"; the partial unique index still decides under concurrency.
        if let Some(clash) = find_clash(conn, req, &event)? {
            return Err(match clash {
                Clash::Duplicate => already(),
                Clash::Overlap(title) => AppError::conflict(
                    "overlapping_signup",
                    format!("already signed up for {title:?} at the same time"),
                ),
            });
        }
        let (status, position) = if take_seat(conn, req.event, now)? {
            (SignupStatus::Confirmed, None)
        } else if event.waitlist_enabled {
            let position: i32 = diesel::update(events::table.filter(events::id.eq(req.event)))
                .set((
                    events::waitlisted.eq(events::waitlisted + 1),
                    events::updated_at.eq(now),
                ))
                .returning(events::waitlisted)
                .get_result(conn)?;
            (SignupStatus::Waitlisted, Some(position))
        } else {
            return Err(AppError::conflict(
                "event_full",
                "the event is full and has no waitlist",
            ));
        };
        let id = Id::new();
        diesel::insert_into(signups::table)
            .values((
                signups::id.eq(id),
                signups::event_id.eq(req.event),
                signups::user_id.eq(req.user),
                signups::status.eq(status.as_str()),
                signups::waitlist_position.eq(position),
                signups::forced.eq(req.force),
                signups::created_by.eq(req.by),
                signups::created_at.eq(now),
                signups::updated_at.eq(now),
                signups::starts_at.eq(event.starts_at),
                signups::ends_at.eq(event.ends_at),
            ))
            .execute(conn)
            .map_err(unique_is_already)?;
        match status {
            SignupStatus::Waitlisted => notify(
                conn,
                kind::SIGNUP_WAITLISTED,
                id,
                req.user,
                req.event,
                serde_json::json!({ "position": position }),
            )?,
            _ => notify(
                conn,
                kind::SIGNUP_CONFIRMED,
                id,
                req.user,
                req.event,
                serde_json::Value::Null,
            )?,
        }
        // Built from what was written rather than read back: one round trip fewer.
        Ok(Signup {
            id: id.into(),
            event_id: req.event.into(),
            user_id: req.user.into(),
            status,
            waitlist_position: position,
            forced: req.force,
            created_by: req.by.into(),
            created_at: now.into(),
            updated_at: now.into(),
            cancelled_at: None,
        })
    })
}

/// The clash check's first branch, shared by both statements: the live sign-up by its
/// (event, employee) key.
macro_rules! duplicate_branch {
    () => {
        "SELECT 0 AS kind, '' AS title FROM signups \
         WHERE event_id = $2 AND user_id = $1 AND status <> 'cancelled'"
    };
}

/// The live sign-up of this employee for this event, or (unless forced) a confirmed sign-up of
/// theirs for another event at an overlapping time; the duplicate first. One statement, two
/// branches each on its own index: the duplicate by the live (event, employee) key, the overlap
/// in the employee's confirmed sign-ups starting within [`MAX_EVENT_DAYS`] before the new event
/// and before its end (`signups_confirmed_time_idx`). Its cost follows the sign-ups near that
/// time, not the employee's history nor the number of events; `tests/signup_plans.rs` holds
/// PostgreSQL's plan to that.
///
/// Binds: `$1` employee, `$2` event, `$3` earliest start that can still overlap (start minus
/// `MAX_EVENT_DAYS`), `$4` the new event's end, `$5` its start.
pub const CLASH_SQL: &str = concat!(
    duplicate_branch!(),
    " UNION ALL \
SELECT 1 AS kind, events.title AS title FROM signups INNER JOIN events ON events.id = signups.event_id \
WHERE signups.user_id = $1 AND signups.status = 'confirmed' AND signups.event_id <> $2 \
AND signups.starts_at >= $3 AND signups.starts_at < $4 AND signups.ends_at > $5 \
AND events.status <> 'cancelled' \
ORDER BY kind LIMIT 1"
);

/// Only the duplicate branch, for a forced sign-up.
pub const DUPLICATE_SQL: &str = concat!(duplicate_branch!(), " LIMIT 1");

enum Clash {
    Duplicate,
    Overlap(String),
}

#[derive(QueryableByName)]
struct ClashRow {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    kind: i32,
    #[diesel(sql_type = diesel::sql_types::Text)]
    title: String,
}

fn find_clash(
    conn: &mut AnyConnection,
    req: &Request,
    event: &EventRow,
) -> AppResult<Option<Clash>> {
    use crate::db::literal::statement;
    let earliest = Timestamp::from(
        event.starts_at.get() - chrono::Duration::days(crate::programs::events::MAX_EVENT_DAYS),
    );
    // Prepared once per connection (`db::literal::statement`): it runs on every sign-up.
    let found: Option<ClashRow> = if req.force {
        statement(DUPLICATE_SQL)
            .uuid(req.user)
            .uuid(req.event)
            .get_result(conn)
            .optional()?
    } else {
        statement(CLASH_SQL)
            .uuid(req.user)
            .uuid(req.event)
            .time(earliest)
            .time(event.ends_at)
            .time(event.starts_at)
            .get_result(conn)
            .optional()?
    };
    Ok(found.map(|r| {
        if r.kind == 0 {
            Clash::Duplicate
        } else {
            Clash::Overlap(r.title)
        }
    }))
}

/// A walk-in at check-in: a seat if one is free (the same guarded update as a sign-up, no
/// waitlist, no deadline), recorded as a confirmed sign-up made by the employee. `None` when full.
/// Runs inside the check-in's transaction.
pub fn walk_in(conn: &mut AnyConnection, row: &EventRow, user: Id) -> AppResult<Option<Id>> {
    let now = Timestamp::now();
    let event = row.id;
    if !take_seat(conn, event, now)? {
        return Ok(None);
    }
    let id = Id::new();
    diesel::insert_into(signups::table)
        .values((
            signups::id.eq(id),
            signups::event_id.eq(event),
            signups::user_id.eq(user),
            signups::status.eq(SignupStatus::Confirmed.as_str()),
            signups::forced.eq(false),
            signups::created_by.eq(user),
            signups::created_at.eq(now),
            signups::updated_at.eq(now),
            signups::starts_at.eq(row.starts_at),
            signups::ends_at.eq(row.ends_at),
        ))
        .execute(conn)
        .map_err(unique_is_already)?;
    Ok(Some(id))
}

/// The seat: one row updated means one seat taken, whatever runs concurrently (the guarded
/// update DESIGN.md found to hold on both databases).
fn take_seat(conn: &mut AnyConnection, event: Id, now: Timestamp) -> QueryResult<bool> {
    let updated = diesel::update(
        events::table
            .filter(events::id.eq(event))
            .filter(events::status.eq("published"))
            .filter(
                events::capacity
                    .is_null()
                    .or(events::taken.lt(events::capacity.assume_not_null())),
            ),
    )
    .set((
        events::taken.eq(events::taken + 1),
        events::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// The partial unique index on live sign-ups decides races between two requests of one person.
fn unique_is_already(e: diesel::result::Error) -> AppError {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => already(),
        other => other.into(),
    }
}

/// Queues the message a sign-up change sends, in the change's transaction.
fn notify(
    conn: &mut AnyConnection,
    kind: &str,
    signup: Id,
    user: Id,
    event: Id,
    extra: serde_json::Value,
) -> QueryResult<()> {
    let mut payload = serde_json::json!({"signup_id": signup, "event_id": event});
    if let (Some(p), serde_json::Value::Object(e)) = (payload.as_object_mut(), extra) {
        p.extend(e);
    }
    outbox::enqueue(
        conn,
        Outgoing {
            kind,
            dedupe_key: format!("{kind}:{signup}"),
            user,
            payload,
            not_before: Timestamp::now(),
        },
    )
    .map(drop)
}

fn already() -> AppError {
    AppError::conflict("already_signed_up", "already signed up for this event")
}

/// Takes the event's row lock first, so every change below sees a stable waitlist.
fn lock_event(conn: &mut AnyConnection, event: Id, now: Timestamp) -> AppResult<()> {
    let n = diesel::update(events::table.filter(events::id.eq(event)))
        .set(events::updated_at.eq(now))
        .execute(conn)?;
    if n == 0 {
        return Err(AppError::not_found("no such event"));
    }
    Ok(())
}

/// Moves as many people from the head of the waitlist to seats as fit. Returns their sign-ups.
fn fill_from_waitlist(conn: &mut AnyConnection, event: Id, now: Timestamp) -> AppResult<Vec<Id>> {
    let (capacity, taken, waitlisted): (Option<i32>, i32, i32) = events::table
        .filter(events::id.eq(event))
        .select((events::capacity, events::taken, events::waitlisted))
        .first(conn)?;
    let free = capacity.map_or(waitlisted, |c| (c - taken).max(0));
    let k = free.min(waitlisted);
    if k == 0 {
        return Ok(Vec::new());
    }
    let promoted_users: Vec<(Id, Id)> = signups::table
        .filter(signups::event_id.eq(event))
        .filter(signups::status.eq("waitlisted"))
        .filter(signups::waitlist_position.le(k))
        .select((signups::id, signups::user_id))
        .load(conn)?;
    for (signup, user) in &promoted_users {
        notify(
            conn,
            kind::SIGNUP_PROMOTED,
            *signup,
            *user,
            event,
            serde_json::Value::Null,
        )?;
    }
    let promoted: Vec<Id> = promoted_users.into_iter().map(|(s, _)| s).collect();
    diesel::update(signups::table.filter(signups::id.eq_any(promoted.clone())))
        .set((
            signups::status.eq("confirmed"),
            signups::waitlist_position.eq(None::<i32>),
            signups::updated_at.eq(now),
        ))
        .execute(conn)?;
    diesel::update(
        signups::table
            .filter(signups::event_id.eq(event))
            .filter(signups::status.eq("waitlisted")),
    )
    .set(signups::waitlist_position.eq(signups::waitlist_position - k))
    .execute(conn)?;
    diesel::update(events::table.filter(events::id.eq(event)))
        .set((
            events::taken.eq(events::taken + k),
            events::waitlisted.eq(events::waitlisted - k),
        ))
        .execute(conn)?;
    Ok(promoted)
}

/// A sign-up as a caller asks for it: for themselves, or (`user`) for someone else, which like
/// `force` (accepting an overlap) needs a coordinator of the event's site. A draft the caller may
/// not see is 404.
pub fn sign_up_as(
    conn: &mut AnyConnection,
    caller: &Caller,
    event: Id,
    user: Option<Id>,
    force: bool,
) -> AppResult<Signup> {
    let user = user.unwrap_or(caller.id);
    let req = Request {
        event,
        user,
        by: caller.id,
        force,
    };
    sign_up(conn, &req, |event| {
        if !crate::programs::events::visible(caller, event) {
            return Err(AppError::not_found("no such event"));
        }
        if user != caller.id || force {
            require_runs_site(caller, event.site_id.into())?;
        }
        Ok(())
    })
}

/// Cancels a sign-up as `caller`: their own before the cancellation deadline (default: the
/// start), any of a site they coordinate at any time; another person's sign-up is 404.
pub fn cancel_as(conn: &mut AnyConnection, caller: &Caller, id: Id) -> AppResult<Signup> {
    let signup = find(conn, id)?;
    let event = crate::programs::events::find(conn, signup.event_id.into())?;
    let runs = caller.coordinates(event.site_id.into());
    let own = Id::from(signup.user_id) == caller.id;
    if !runs && !own {
        return Err(AppError::not_found("no such sign-up"));
    }
    if !runs {
        let deadline = event.cancel_deadline.unwrap_or(event.starts_at);
        if chrono::Utc::now() >= deadline {
            return Err(AppError::conflict(
                "cancel_closed",
                "the cancellation deadline has passed; ask the event's coordinator",
            ));
        }
    }
    cancel(conn, id, caller.id)
}

/// What a person needs to know of the event of their sign-up, so a list of sign-ups needs no
/// call per event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventSummary {
    pub title: String,
    /// RFC 3339 with the offset of `timezone`.
    pub starts_at: DateTime<chrono::FixedOffset>,
    pub ends_at: DateTime<chrono::FixedOffset>,
    pub timezone: String,
    pub site_id: uuid::Uuid,
    pub site_name: String,
    pub location: String,
    pub status: EventStatus,
}

/// A sign-up of the caller's with its event.
#[derive(Debug, Serialize, ToSchema)]
pub struct MySignup {
    #[serde(flatten)]
    pub signup: Signup,
    pub event: EventSummary,
}

/// The caller's own sign-ups, newest first, each with its event: up to `limit + 1` (the extra
/// one tells the page there is more) before the sign-up `before`.
pub fn mine(
    conn: &mut AnyConnection,
    caller: &Caller,
    status: Option<SignupStatus>,
    before: Option<Id>,
    limit: i64,
) -> AppResult<Vec<MySignup>> {
    use crate::db::schema::{programs, sites};
    let signups = own_signups(conn, caller, status, before, limit)?;
    let ids: Vec<Id> = signups.iter().map(|s| Id::from(s.event_id)).collect();
    let found: std::collections::HashMap<Id, (EventRow, Id, String)> = events::table
        .inner_join(programs::table.inner_join(sites::table))
        .filter(events::id.eq_any(&ids))
        .select((EventRow::as_select(), programs::site_id, sites::name))
        .load::<(EventRow, Id, String)>(conn)?
        .into_iter()
        .map(|(e, site, name)| (e.id, (e, site, name)))
        .collect();
    signups
        .into_iter()
        .map(|signup| {
            let (e, site, site_name) = found
                .get(&Id::from(signup.event_id))
                .ok_or_else(|| AppError::internal("a sign-up without its event"))?;
            let tz = &e.timezone;
            Ok(MySignup {
                event: EventSummary {
                    title: e.title.clone(),
                    starts_at: crate::time::local(e.starts_at, tz),
                    ends_at: crate::time::local(e.ends_at, tz),
                    timezone: tz.clone(),
                    site_id: (*site).into(),
                    site_name: site_name.clone(),
                    location: e.location.clone(),
                    status: EventStatus::parse(&e.status)?,
                },
                signup,
            })
        })
        .collect()
}

/// The caller's latest sign-up for `event` (any status), for the event page's "your status".
pub fn own_for_event(
    conn: &mut AnyConnection,
    caller: &Caller,
    event: Id,
) -> AppResult<Option<Signup>> {
    signups::table
        .filter(signups::user_id.eq(caller.id))
        .filter(signups::event_id.eq(event))
        .select(SignupRow::as_select())
        .order(signups::id.desc())
        .first(conn)
        .optional()?
        .map(Signup::try_from)
        .transpose()
}

fn own_signups(
    conn: &mut AnyConnection,
    caller: &Caller,
    status: Option<SignupStatus>,
    before: Option<Id>,
    limit: i64,
) -> AppResult<Vec<Signup>> {
    let mut query = signups::table
        .filter(signups::user_id.eq(caller.id))
        .select(SignupRow::as_select())
        .into_boxed();
    if let Some(s) = status {
        query = query.filter(signups::status.eq(s.as_str()));
    }
    if let Some(b) = before {
        query = query.filter(signups::id.lt(b));
    }
    let rows: Vec<SignupRow> = query
        .order(signups::id.desc())
        .limit(limit + 1)
        .load(conn)?;
    rows.into_iter().map(Signup::try_from).collect()
}

/// Cancels a sign-up. A freed seat goes to the head of the waitlist; a freed waitlist place
/// closes up behind it. Authorization and deadlines are the caller's business.
pub fn cancel(conn: &mut AnyConnection, signup: Id, by: Id) -> AppResult<Signup> {
    write_transaction(conn, |conn| {
        let now = Timestamp::now();
        let before = find(conn, signup)?;
        let event = Id::from(before.event_id);
        lock_event(conn, event, now)?;
        // Re-read under the lock: a concurrent change may have moved it.
        let current = find(conn, signup)?;
        match current.status {
            SignupStatus::Cancelled => {
                return Err(AppError::conflict(
                    "already_cancelled",
                    "the sign-up is already cancelled",
                ));
            }
            SignupStatus::Confirmed => {
                diesel::update(events::table.filter(events::id.eq(event)))
                    .set(events::taken.eq(events::taken - 1))
                    .execute(conn)?;
            }
            SignupStatus::Waitlisted => {
                let position = current.waitlist_position.unwrap_or(i32::MAX);
                diesel::update(
                    signups::table
                        .filter(signups::event_id.eq(event))
                        .filter(signups::status.eq("waitlisted"))
                        .filter(signups::waitlist_position.gt(position)),
                )
                .set(signups::waitlist_position.eq(signups::waitlist_position - 1))
                .execute(conn)?;
                diesel::update(events::table.filter(events::id.eq(event)))
                    .set(events::waitlisted.eq(events::waitlisted - 1))
                    .execute(conn)?;
            }
        }
        diesel::update(signups::table.filter(signups::id.eq(signup)))
            .set((
                signups::status.eq("cancelled"),
                signups::waitlist_position.eq(None::<i32>),
                signups::cancelled_at.eq(Some(now)),
                signups::cancelled_by.eq(Some(by)),
                signups::updated_at.eq(now),
            ))
            .execute(conn)?;
        notify(
            conn,
            kind::SIGNUP_CANCELLED,
            signup,
            current.user_id.into(),
            event,
            serde_json::json!({ "by_coordinator": Id::from(current.user_id) != by }),
        )?;
        fill_from_waitlist(conn, event, now)?;
        find(conn, signup)
    })
}

/// Changes an event's capacity (`None` = unlimited); a raise promotes from the waitlist.
/// Lowering below the seats already taken is refused.
pub fn set_capacity(
    conn: &mut AnyConnection,
    event: Id,
    capacity: Option<i32>,
) -> AppResult<Vec<Id>> {
    write_transaction(conn, |conn| {
        let now = Timestamp::now();
        lock_event(conn, event, now)?;
        let taken: i32 = events::table
            .filter(events::id.eq(event))
            .select(events::taken)
            .first(conn)?;
        if let Some(c) = capacity {
            if c < 1 {
                return Err(AppError::validation(vec![crate::error::FieldError::new(
                    "capacity",
                    "too_small",
                    "at least 1, or null for unlimited",
                )]));
            }
            if c < taken {
                return Err(AppError::conflict(
                    "capacity_below_taken",
                    format!(
                        "{taken} seats are taken; cancel sign-ups before lowering the capacity to {c}"
                    ),
                ));
            }
        }
        diesel::update(events::table.filter(events::id.eq(event)))
            .set(events::capacity.eq(capacity))
            .execute(conn)?;
        fill_from_waitlist(conn, event, now)
    })
}

/// Cancels an event and every live sign-up of it; `reason` (the coordinator's words) goes into
/// each person's email. An event with recorded attendance happened: it cannot be cancelled (its
/// hours would vanish from the figures); reject the records first.
pub fn cancel_event(
    conn: &mut AnyConnection,
    event: Id,
    by: Id,
    reason: Option<&str>,
) -> AppResult<usize> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > MAX_REASON) {
        return Err(AppError::validation(vec![crate::error::FieldError::new(
            "reason",
            "invalid_length",
            format!("at most {MAX_REASON} characters"),
        )]));
    }
    write_transaction(conn, |conn| {
        let now = Timestamp::now();
        let recorded: i64 = attendance::table
            .filter(attendance::event_id.eq(event))
            .filter(attendance::approval.ne("rejected"))
            .count()
            .get_result(conn)?;
        if recorded > 0 {
            return Err(AppError::conflict(
                "event_has_attendance",
                format!("{recorded} attendance records exist; reject them before cancelling"),
            ));
        }
        let n = diesel::update(
            events::table
                .filter(events::id.eq(event))
                .filter(events::status.eq_any(["draft", "published"])),
        )
        .set((
            events::status.eq("cancelled"),
            events::taken.eq(0),
            events::waitlisted.eq(0),
            events::updated_at.eq(now),
        ))
        .execute(conn)?;
        if n == 0 {
            find_row(conn, event)?;
            return Err(AppError::conflict(
                "event_closed",
                "only a draft or published event can be cancelled",
            ));
        }
        let live: Vec<(Id, Id)> = signups::table
            .filter(signups::event_id.eq(event))
            .filter(signups::status.ne("cancelled"))
            .select((signups::id, signups::user_id))
            .load(conn)?;
        for (signup, user) in live {
            notify(
                conn,
                kind::EVENT_CANCELLED,
                signup,
                user,
                event,
                reason.map_or(
                    serde_json::Value::Null,
                    |r| serde_json::json!({ "reason": r }),
                ),
            )?;
        }
        let cancelled = diesel::update(
            signups::table
                .filter(signups::event_id.eq(event))
                .filter(signups::status.ne("cancelled")),
        )
        .set((
            signups::status.eq("cancelled"),
            signups::waitlist_position.eq(None::<i32>),
            signups::cancelled_at.eq(Some(now)),
            signups::cancelled_by.eq(Some(by)),
            signups::updated_at.eq(now),
        ))
        .execute(conn)?;
        Ok(cancelled)
    })
}

/// Changes an event of a site the caller runs: its plan (times, place, deadlines, ...) and its
/// capacity, which may promote waitlisted people into new seats, in one transaction.
pub fn update_event(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: Id,
    patch: &crate::programs::events::EventPatch,
) -> AppResult<Event> {
    write_transaction(conn, |c| -> AppResult<()> {
        crate::programs::events::find_runnable(c, caller, id)?;
        crate::programs::events::update_plan(c, caller, id, patch)?;
        if let Some(capacity) = patch.capacity {
            set_capacity(c, id, capacity)?;
        }
        Ok(())
    })?;
    crate::programs::events::find(conn, id)
}

/// The longest cancellation reason (it is quoted in every participant's email).
pub const MAX_REASON: usize = 500;

/// Cancels an event of a site the caller runs, with every live sign-up, and returns it.
pub fn cancel_event_as(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: Id,
    reason: Option<&str>,
) -> AppResult<Event> {
    write_transaction(conn, |c| {
        crate::programs::events::find_runnable(c, caller, id)?;
        cancel_event(c, id, caller.id, reason).map(drop)
    })?;
    crate::programs::events::find(conn, id)
}
