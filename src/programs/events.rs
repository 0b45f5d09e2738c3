//! Events: dated occurrences of a programme, with capacity, waitlist and deadlines.
//!
//! Instants are stored in UTC; the API shows them with the offset of the event's time zone
//! (the organising site's unless given), because "10:00 in Tokyo" is what a volunteer reads.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Caller, Role};
use crate::db::literal::{condition, limit_in_text};
use crate::db::schema::{events, program_categories, programs, sites};
use crate::db::{AnyConnection, Backend, Id, Timestamp};
use crate::error::{AppError, AppResult, FieldError};
use crate::programs::list_cache::{ListCache, Source};
use crate::programs::program::Theme;
use crate::time::{When, local};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    Draft,
    Published,
    Cancelled,
    Completed,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Draft => "draft",
            EventStatus::Published => "published",
            EventStatus::Cancelled => "cancelled",
            EventStatus::Completed => "completed",
        }
    }
    pub fn parse(s: &str) -> AppResult<EventStatus> {
        match s {
            "draft" => Ok(EventStatus::Draft),
            "published" => Ok(EventStatus::Published),
            "cancelled" => Ok(EventStatus::Cancelled),
            "completed" => Ok(EventStatus::Completed),
            o => Err(AppError::internal(format!(
                "unknown event status {o:?} in the database"
            ))),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub id: Id,
    pub program_id: Id,
    pub title: String,
    pub description: String,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub timezone: String,
    pub location: String,
    pub capacity: Option<i32>,
    pub taken: i32,
    pub waitlisted: i32,
    pub waitlist_enabled: bool,
    pub signup_deadline: Option<Timestamp>,
    pub cancel_deadline: Option<Timestamp>,
    pub status: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An event as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Event {
    pub id: uuid::Uuid,
    pub program_id: uuid::Uuid,
    /// The organising site.
    pub site_id: uuid::Uuid,
    pub title: String,
    pub description: String,
    /// RFC 3339 with the offset of `timezone`.
    #[serde(serialize_with = "crate::time::instant")]
    pub starts_at: DateTime<FixedOffset>,
    #[serde(serialize_with = "crate::time::instant")]
    pub ends_at: DateTime<FixedOffset>,
    /// IANA time zone the event is held in.
    pub timezone: String,
    pub location: String,
    /// `null` = unlimited.
    pub capacity: Option<i32>,
    pub seats_taken: i32,
    /// `null` when unlimited.
    pub seats_free: Option<i32>,
    pub waitlist_enabled: bool,
    pub waitlist_length: i32,
    #[serde(serialize_with = "crate::time::optional_instant")]
    pub signup_deadline: Option<DateTime<FixedOffset>>,
    #[serde(serialize_with = "crate::time::optional_instant")]
    pub cancel_deadline: Option<DateTime<FixedOffset>>,
    pub status: EventStatus,
    #[serde(serialize_with = "crate::time::instant")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::time::instant")]
    pub updated_at: DateTime<Utc>,
}

impl Event {
    pub fn from_row(r: EventRow, site_id: Id) -> AppResult<Event> {
        let tz = r.timezone.clone();
        let zone = crate::time::zone(&tz);
        let local = |t: Timestamp| crate::time::in_zone(t, zone);
        Ok(Event {
            id: r.id.into(),
            program_id: r.program_id.into(),
            site_id: site_id.into(),
            title: r.title,
            description: r.description,
            starts_at: local(r.starts_at),
            ends_at: local(r.ends_at),
            location: r.location,
            capacity: r.capacity,
            seats_taken: r.taken,
            seats_free: r.capacity.map(|c| (c - r.taken).max(0)),
            waitlist_enabled: r.waitlist_enabled,
            waitlist_length: r.waitlisted,
            signup_deadline: r.signup_deadline.map(local),
            cancel_deadline: r.cancel_deadline.map(local),
            status: EventStatus::parse(&r.status)?,
            created_at: r.created_at.into(),
            updated_at: r.updated_at.into(),
            timezone: tz,
        })
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEvent {
    pub program_id: uuid::Uuid,
    /// Defaults to the programme's title.
    pub title: Option<String>,
    #[serde(default)]
    pub description: String,
    /// RFC 3339 with an offset, or a local date-time (`2026-12-01T09:00`) in `timezone`.
    pub starts_at: When,
    pub ends_at: When,
    /// Defaults to the organising site's time zone.
    pub timezone: Option<String>,
    #[serde(default)]
    pub location: String,
    /// Omit or `null` for unlimited.
    pub capacity: Option<i32>,
    /// Defaults to true.
    pub waitlist_enabled: Option<bool>,
    pub signup_deadline: Option<When>,
    pub cancel_deadline: Option<When>,
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct EventPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    /// RFC 3339 with an offset, or a local date-time in the event's (new) zone.
    pub starts_at: Option<When>,
    pub ends_at: Option<When>,
    pub timezone: Option<String>,
    pub location: Option<String>,
    /// `null` makes it unlimited. Raising it promotes from the waitlist at once.
    #[serde(default, deserialize_with = "crate::input::double_option")]
    #[schema(value_type = Option<i32>, nullable)]
    pub capacity: Option<Option<i32>>,
    pub waitlist_enabled: Option<bool>,
    #[serde(default, deserialize_with = "crate::input::double_option")]
    #[schema(value_type = Option<String>, nullable)]
    pub signup_deadline: Option<Option<When>>,
    #[serde(default, deserialize_with = "crate::input::double_option")]
    #[schema(value_type = Option<String>, nullable)]
    pub cancel_deadline: Option<Option<When>>,
}

/// The longest an event may last. Bounding it lets "events still running after T" be found from
/// the start-time index alone (start > T - this), which keeps the event list fast however many
/// years of events pile up.
pub const MAX_EVENT_DAYS: i64 = 31;

/// The schedule and limits of an event, checked together.
pub struct Plan {
    pub title: String,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub timezone: String,
    pub capacity: Option<i32>,
    pub signup_deadline: Option<Timestamp>,
    pub cancel_deadline: Option<Timestamp>,
}

impl Plan {
    /// The local date it starts on, where fiscal years and report months count it.
    pub fn starts_on(&self) -> chrono::NaiveDate {
        crate::time::local_date(self.starts_at, &self.timezone)
    }

    pub fn errors(&self) -> Vec<FieldError> {
        let mut e = Vec::new();
        let times = [
            ("starts_at", Some(self.starts_at)),
            ("ends_at", Some(self.ends_at)),
            ("signup_deadline", self.signup_deadline),
            ("cancel_deadline", self.cancel_deadline),
        ];
        let outside: Vec<FieldError> = times
            .iter()
            .filter(|(_, t)| t.is_some_and(|t| !crate::time::in_years(t)))
            .map(|(field, _)| crate::time::years_error(field))
            .collect();
        if !outside.is_empty() {
            // The other checks compare these times; out of range, they say nothing useful.
            return outside;
        }
        if !(1..=200).contains(&self.title.trim().chars().count()) {
            e.push(FieldError::new(
                "title",
                "invalid_length",
                "1 to 200 characters",
            ));
        }
        e.extend(crate::input::single_line("title", &self.title));
        if self.ends_at <= self.starts_at {
            e.push(FieldError::new(
                "ends_at",
                "not_after_start",
                "an event ends after it starts",
            ));
        } else if self.ends_at.get() - self.starts_at.get() > chrono::Duration::days(MAX_EVENT_DAYS)
        {
            e.push(FieldError::new(
                "ends_at",
                "too_long",
                format!("an event lasts at most {MAX_EVENT_DAYS} days; split longer ones"),
            ));
        }
        if let Some(tz) = crate::org::check_timezone("timezone", &self.timezone) {
            e.push(tz);
        }
        if self.capacity.is_some_and(|c| c < 1) {
            e.push(FieldError::new(
                "capacity",
                "too_small",
                "at least 1, or null for unlimited",
            ));
        }
        if self.signup_deadline.is_some_and(|d| d > self.starts_at) {
            e.push(FieldError::new(
                "signup_deadline",
                "after_start",
                "sign-up closes at the latest when it starts",
            ));
        }
        if self.cancel_deadline.is_some_and(|d| d > self.starts_at) {
            e.push(FieldError::new(
                "cancel_deadline",
                "after_start",
                "cancellation closes at the latest when it starts",
            ));
        }
        e
    }
}

/// Reads the given times in `tz`, naming every one that cannot be read.
fn resolve_times<const N: usize>(
    tz: &str,
    given: [(&str, Option<&When>); N],
) -> AppResult<[Option<Timestamp>; N]> {
    let mut errors = Vec::new();
    let out = given.map(|(field, w)| {
        w.and_then(|w| {
            w.resolve(field, tz)
                .map(Timestamp::from)
                .map_err(|e| errors.push(e))
                .ok()
        })
    });
    if errors.is_empty() {
        return Ok(out);
    }
    // A bad zone is named too (the plan's checks, which would, do not run).
    errors.extend(crate::org::check_timezone("timezone", tz));
    Err(AppError::validation(errors))
}

/// An event with the site that runs it.
pub fn find_row(conn: &mut AnyConnection, id: Id) -> AppResult<(EventRow, Id)> {
    events::table
        .inner_join(programs::table)
        .filter(events::id.eq(id))
        .select((EventRow::as_select(), programs::site_id))
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("no such event"))
}

pub fn find(conn: &mut AnyConnection, id: Id) -> AppResult<Event> {
    let (row, site) = find_row(conn, id)?;
    Event::from_row(row, site)
}

/// Creates a draft event, or records a past one (authorization done by the caller).
///
/// An event that has already ended is stored as `completed`: it is the record of an activity
/// that happened (a programme's history), never open for sign-up and never announced, and its
/// attendance is entered on the roster straight away.
pub fn create(conn: &mut AnyConnection, req: &CreateEvent, created_by: Id) -> AppResult<Id> {
    let (program_title, site_tz): (String, String) = programs::table
        .inner_join(sites::table)
        .filter(programs::id.eq(Id::from(req.program_id)))
        .select((programs::title, sites::timezone))
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            AppError::validation(vec![FieldError::new(
                "program_id",
                "unknown_program",
                "no such programme",
            )])
        })?;
    let timezone = req.timezone.clone().unwrap_or(site_tz);
    let [starts_at, ends_at, signup_deadline, cancel_deadline] = resolve_times(
        &timezone,
        [
            ("starts_at", Some(&req.starts_at)),
            ("ends_at", Some(&req.ends_at)),
            ("signup_deadline", req.signup_deadline.as_ref()),
            ("cancel_deadline", req.cancel_deadline.as_ref()),
        ],
    )?;
    let (Some(starts_at), Some(ends_at)) = (starts_at, ends_at) else {
        return Err(AppError::internal("a given time was not resolved"));
    };
    let plan = Plan {
        title: req.title.clone().unwrap_or(program_title),
        starts_at,
        ends_at,
        timezone,
        capacity: req.capacity,
        signup_deadline,
        cancel_deadline,
    };
    let errors = plan.errors();
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    let id = Id::new();
    let now = Timestamp::now();
    let status = if plan.ends_at <= now {
        EventStatus::Completed
    } else {
        EventStatus::Draft
    };
    diesel::insert_into(events::table)
        .values((
            events::id.eq(id),
            events::program_id.eq(Id::from(req.program_id)),
            events::title.eq(plan.title.trim()),
            events::description.eq(&req.description),
            events::starts_at.eq(plan.starts_at),
            events::ends_at.eq(plan.ends_at),
            events::timezone.eq(&plan.timezone),
            events::location.eq(&req.location),
            events::capacity.eq(plan.capacity),
            events::waitlist_enabled.eq(req.waitlist_enabled.unwrap_or(true)),
            events::signup_deadline.eq(plan.signup_deadline),
            events::cancel_deadline.eq(plan.cancel_deadline),
            events::starts_on.eq(plan.starts_on()),
            events::status.eq(status.as_str()),
            events::created_by.eq(Some(created_by)),
            events::created_at.eq(now),
            events::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Applies everything but capacity (which goes through the sign-up service, since raising it
/// promotes waitlisted people). Returns the new capacity wish, if any.
pub fn update_plan(
    conn: &mut AnyConnection,
    caller: &crate::auth::Caller,
    id: Id,
    p: &EventPatch,
) -> AppResult<()> {
    // A new start (or zone) can move the event's participants to another month or year.
    if p.starts_at.is_some() || p.timezone.is_some() {
        let affects = crate::stats::rollup::Affects::Event(id);
        return crate::stats::rollup::track(conn, caller, &affects, |c| write_plan(c, id, p));
    }
    write_plan(conn, id, p)
}

fn write_plan(conn: &mut AnyConnection, id: Id, p: &EventPatch) -> AppResult<()> {
    let (b, _) = find_row(conn, id)?;
    let status = EventStatus::parse(&b.status)?;
    if matches!(status, EventStatus::Cancelled | EventStatus::Completed) {
        return Err(AppError::conflict(
            "event_closed",
            format!("a {} event cannot be changed", status.as_str()),
        ));
    }
    let timezone = p.timezone.clone().unwrap_or(b.timezone.clone());
    let [starts_at, ends_at, signup_deadline, cancel_deadline] = resolve_times(
        &timezone,
        [
            ("starts_at", p.starts_at.as_ref()),
            ("ends_at", p.ends_at.as_ref()),
            (
                "signup_deadline",
                p.signup_deadline.as_ref().and_then(Option::as_ref),
            ),
            (
                "cancel_deadline",
                p.cancel_deadline.as_ref().and_then(Option::as_ref),
            ),
        ],
    )?;
    let plan = Plan {
        title: p.title.clone().unwrap_or(b.title.clone()),
        starts_at: starts_at.unwrap_or(b.starts_at),
        ends_at: ends_at.unwrap_or(b.ends_at),
        timezone,
        capacity: match p.capacity {
            Some(c) => c,
            None => b.capacity,
        },
        signup_deadline: match &p.signup_deadline {
            Some(Some(_)) => signup_deadline,
            Some(None) => None,
            None => b.signup_deadline,
        },
        cancel_deadline: match &p.cancel_deadline {
            Some(Some(_)) => cancel_deadline,
            Some(None) => None,
            None => b.cancel_deadline,
        },
    };
    let errors = plan.errors();
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    let location = p.location.clone().unwrap_or(b.location.clone());
    let moved = plan.starts_at != b.starts_at
        || plan.ends_at != b.ends_at
        || plan.timezone != b.timezone
        || location != b.location;
    let now = Timestamp::now();
    diesel::update(events::table.filter(events::id.eq(id)))
        .set((
            events::title.eq(plan.title.trim()),
            events::description.eq(p.description.clone().unwrap_or(b.description.clone())),
            events::starts_at.eq(plan.starts_at),
            events::ends_at.eq(plan.ends_at),
            events::timezone.eq(&plan.timezone),
            events::location.eq(&location),
            events::waitlist_enabled.eq(p.waitlist_enabled.unwrap_or(b.waitlist_enabled)),
            events::signup_deadline.eq(plan.signup_deadline),
            events::cancel_deadline.eq(plan.cancel_deadline),
            events::starts_on.eq(plan.starts_on()),
            events::updated_at.eq(now),
        ))
        .execute(conn)?;
    if plan.starts_at != b.starts_at || plan.ends_at != b.ends_at {
        // The sign-ups' copy of the times (the overlap check's index), in the same transaction.
        use crate::db::schema::signups;
        diesel::update(signups::table.filter(signups::event_id.eq(id)))
            .set((
                signups::starts_at.eq(plan.starts_at),
                signups::ends_at.eq(plan.ends_at),
            ))
            .execute(conn)?;
    }
    if moved && status == EventStatus::Published {
        notify_change(conn, &b, now)?;
    }
    Ok(())
}

/// Tells everyone signed up (confirmed or waiting) that the time or place changed, with what it
/// was before; queued in the change's transaction.
fn notify_change(conn: &mut AnyConnection, before: &EventRow, at: Timestamp) -> AppResult<()> {
    use crate::db::schema::signups;
    use crate::outbox::{self, Outgoing, kind};
    let live: Vec<(Id, Id)> = signups::table
        .filter(signups::event_id.eq(before.id))
        .filter(signups::status.ne("cancelled"))
        .select((signups::id, signups::user_id))
        .load(conn)?;
    let was = serde_json::json!({
        "when": crate::time::describe_span(before.starts_at, before.ends_at, &before.timezone),
        "location": before.location,
    });
    for (signup, user) in live {
        outbox::enqueue(
            conn,
            Outgoing {
                kind: kind::EVENT_CHANGED,
                dedupe_key: format!(
                    "{}:{signup}:{}",
                    kind::EVENT_CHANGED,
                    at.get().timestamp_micros()
                ),
                user,
                payload: serde_json::json!({"signup_id": signup, "event_id": before.id, "before": was}),
                not_before: at,
            },
        )?;
    }
    Ok(())
}

/// Draft → published, while people can still sign up: publishing an event whose sign-up has
/// closed would announce something nobody can join (a past activity is recorded instead).
pub fn publish(conn: &mut AnyConnection, id: Id) -> AppResult<()> {
    let (row, _) = find_row(conn, id)?;
    if row.status != EventStatus::Draft.as_str() {
        return Err(AppError::conflict(
            "not_a_draft",
            "only a draft can be published",
        ));
    }
    let closes = row.signup_deadline.unwrap_or(row.starts_at);
    let now = Timestamp::now();
    if now >= closes {
        return Err(AppError::conflict(
            "signup_deadline_passed",
            format!(
                "sign-up closed at {}; move the sign-up deadline or the start later to publish it",
                local(closes, &row.timezone).to_rfc3339()
            ),
        ));
    }
    let n = diesel::update(
        events::table
            .filter(events::id.eq(id))
            .filter(events::status.eq("draft")),
    )
    .set((events::status.eq("published"), events::updated_at.eq(now)))
    .execute(conn)?;
    if n == 0 {
        return Err(AppError::conflict(
            "not_a_draft",
            "only a draft can be published",
        ));
    }
    Ok(())
}

/// Filters of the event list.
#[derive(Debug, Default)]
pub struct ListFilter {
    pub statuses: Vec<EventStatus>,
    /// Limit drafts to these sites (coordinators); `None` = no site restriction on drafts.
    pub draft_sites: Option<Vec<Id>>,
    pub site_id: Option<Id>,
    /// Only events of these sites (a coordinator's own list of what they run).
    pub sites: Option<Vec<Id>>,
    pub company_id: Option<Id>,
    pub region: Option<String>,
    pub theme: Option<String>,
    pub category: Option<String>,
    pub from: Option<Timestamp>,
    /// `from` is the moment of the request (the list's default, "upcoming"): PostgreSQL then
    /// reads it as its own `now()`, written into the statement (`db::literal`).
    pub from_now: bool,
    pub to: Option<Timestamp>,
    /// Events whose site-local start date is on or after / on or before these days.
    pub from_day: Option<chrono::NaiveDate>,
    pub to_day: Option<chrono::NaiveDate>,
    pub free_seats: bool,
    pub text: Option<String>,
    /// Keyset: (starts_at, id) of the last item of the previous page.
    pub after: Option<(Timestamp, Id)>,
    pub limit: i64,
}

/// The event list's query as both front doors take it (the API's parameters, the page's
/// filters).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    /// Default `published`; `draft`/`cancelled`/`completed` for those who run the site.
    pub status: Option<EventStatus>,
    pub site_id: Option<uuid::Uuid>,
    pub company_id: Option<uuid::Uuid>,
    /// `domestic` or `overseas`.
    pub region: Option<String>,
    pub theme: Option<Theme>,
    pub category: Option<String>,
    /// An instant (RFC 3339): events still running at or after it; or a day (`YYYY-MM-DD`):
    /// events starting on or after it, site-local. Default: now.
    pub from: Option<String>,
    /// An instant: events starting before it; or a day: events starting on or before it,
    /// site-local.
    pub to: Option<String>,
    /// Only events with a free seat.
    pub free_seats: Option<bool>,
    /// Text in the title.
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl ListFilter {
    /// The filter of `q` as `caller` may use it (drafts only of the sites they run), `limit`
    /// events a page. The web page's filters arrive as the same query, so both doors list alike.
    pub fn for_caller(caller: &Caller, q: EventQuery, limit: i64) -> AppResult<ListFilter> {
        let status = q.status.unwrap_or(EventStatus::Published);
        let draft_sites = draft_scope(caller, status)?;
        ListFilter::with_drafts_of(q, status, draft_sites, limit)
    }

    /// The filter of `q` when it is the same whoever asks ([`for_caller`](Self::for_caller)
    /// gives every caller this one): any status but drafts. `None` for drafts, whose sites
    /// depend on the caller; an error for a bad query, which a caller should only see once their
    /// token has been checked.
    pub fn for_anyone(q: EventQuery, limit: i64) -> AppResult<Option<ListFilter>> {
        match q.status.unwrap_or(EventStatus::Published) {
            EventStatus::Draft => Ok(None),
            status => ListFilter::with_drafts_of(q, status, None, limit).map(Some),
        }
    }

    fn with_drafts_of(
        q: EventQuery,
        status: EventStatus,
        draft_sites: Option<Vec<Id>>,
        limit: i64,
    ) -> AppResult<ListFilter> {
        use crate::time::Bound;
        let from = q
            .from
            .as_deref()
            .map(|t| Bound::parse("from", t))
            .transpose()?;
        let to = q.to.as_deref().map(|t| Bound::parse("to", t)).transpose()?;
        let at = |b: Option<Bound>| match b {
            Some(Bound::At(t)) => Some(Timestamp::from(t)),
            _ => None,
        };
        let day = |b: Option<Bound>| match b {
            Some(Bound::Day(d)) => Some(d),
            _ => None,
        };
        Ok(ListFilter {
            statuses: vec![status],
            draft_sites,
            site_id: q.site_id.map(Id::from),
            sites: None,
            company_id: q.company_id.map(Id::from),
            region: q.region,
            theme: q.theme.map(|t| t.as_str().to_owned()),
            category: q.category,
            from_now: from.is_none(),
            from: match from {
                None => Some(Timestamp::now()),
                b => at(b),
            },
            to: at(to),
            from_day: day(from),
            to_day: day(to),
            free_seats: q.free_seats.unwrap_or(false),
            text: q.q,
            after: q.cursor.as_deref().map(parse_cursor).transpose()?,
            limit,
        })
    }

    /// The key this filter's page is kept under in the list cache (`programs::list_cache`), or
    /// `None` when the page may differ between callers: only employees' lists are the same for
    /// everyone who asks (published events, nothing of the caller in the filter). The default
    /// "upcoming" bound is the moment of the request, so it is left out of the key.
    pub fn shared_key(&self, caller: &Caller) -> Option<String> {
        if caller.role != Role::Employee || self.draft_sites.is_some() || self.sites.is_some() {
            return None;
        }
        let from = if self.from_now { None } else { self.from };
        Some(format!(
            "{:?}",
            (
                (&self.statuses, self.site_id, self.company_id, &self.region),
                (&self.theme, &self.category, from, self.to, self.from_day),
                (
                    self.to_day,
                    self.free_seats,
                    &self.text,
                    self.after,
                    self.limit
                ),
            )
        ))
    }
}

/// [`list`] through the instance's list cache: an employee's page may come from memory (see
/// `programs::list_cache`); everyone else's is read.
pub fn list_shared(
    cache: &ListCache,
    conn: &mut AnyConnection,
    caller: &Caller,
    f: &ListFilter,
) -> AppResult<(Arc<Vec<Event>>, Source)> {
    cache.get_or_read(f.shared_key(caller), || list(conn, f))
}

/// The cursor that continues the event list after `e`.
pub fn cursor(e: &Event) -> String {
    format!(
        "{}_{}",
        e.starts_at.with_timezone(&Utc).timestamp_micros(),
        e.id
    )
}

fn parse_cursor(c: &str) -> AppResult<(Timestamp, Id)> {
    let bad = || AppError::bad_request("invalid_query", "unknown cursor");
    let (micros, id) = c.split_once('_').ok_or_else(bad)?;
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    let at = DateTime::<Utc>::from_timestamp_micros(micros).ok_or_else(bad)?;
    Ok((Timestamp::from(at), id.parse().map_err(|_| bad())?))
}

/// Events by start time, then id.
pub fn list(conn: &mut AnyConnection, f: &ListFilter) -> AppResult<Vec<Event>> {
    let none = Box::new(crate::db::literal::typed::<Nullable<Text>>("NULL"));
    Ok(page(conn, f, none)?.into_iter().map(|(e, _)| e).collect())
}

/// The list's page as the caller of one of tomoni's own tokens (`user`, `sign_in`) asks for
/// it, with the caller checked in the same statement (`auth::caller::signed_in_role`), for a
/// filter that is the same whoever asks ([`ListFilter::for_anyone`]). When the statement cannot
/// tell (an empty page, or a token whose sign-in has ended) the caller is looked up on its own
/// (`auth::caller::resolve`): 401 exactly as for any other request. With the caller's role.
pub fn list_signed_in(
    conn: &mut AnyConnection,
    user: Id,
    sign_in: Id,
    f: &ListFilter,
) -> AppResult<(Role, Vec<Event>)> {
    let rows = page(conn, f, crate::auth::caller::signed_in_role(user, sign_in))?;
    let role = rows
        .first()
        .and_then(|(_, role)| role.as_deref())
        .and_then(|role| role.parse::<Role>().ok());
    let role = match role {
        Some(role) => role,
        None => {
            let subject = crate::auth::caller::Subject::Own(user, sign_in);
            crate::auth::caller::resolve(conn, &subject)?.role
        }
    };
    Ok((role, rows.into_iter().map(|(e, _)| e).collect()))
}

/// `EventRow`'s columns as one piece of SQL text, rendered by diesel once per process. The
/// list's statement is built anew for every request; quoting its 17 column names on each build
/// took ~8 % of the server's time on the uncached list (BENCHMARKS.md, session 19).
fn event_columns() -> crate::db::literal::Typed<
    diesel::dsl::SqlTypeOf<
        <EventRow as Selectable<<AnyConnection as diesel::Connection>::Backend>>::SelectExpression,
    >,
> {
    static COLUMNS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let whole =
            diesel::debug_query::<diesel::pg::Pg, _>(&events::table.select(EventRow::as_select()))
                .to_string();
        let columns = whole
            .strip_prefix("SELECT ")
            .and_then(|rest| rest.split(" FROM ").next());
        columns.unwrap_or_default().to_owned()
    });
    crate::db::literal::typed(COLUMNS.as_str())
}

/// [`list`]'s statement, each event with `beside` (a column of the caller, or NULL).
fn page(
    conn: &mut AnyConnection,
    f: &ListFilter,
    beside: Box<
        dyn BoxableExpression<
                crate::db::schema::EventsOfPrograms,
                <AnyConnection as diesel::Connection>::Backend,
                SqlType = Nullable<Text>,
            >,
    >,
) -> AppResult<Vec<(Event, Option<String>)>> {
    let mut q = events::table
        .inner_join(programs::table)
        .select((event_columns(), programs::site_id, beside))
        .into_boxed();
    // A plain `=` for the usual single status lets PostgreSQL use (status, starts_at, id); the
    // status, one of four fixed words, is written into the text (`db::literal`).
    match f.statuses.as_slice() {
        [one] => q = q.filter(condition(format!("events.status = '{}'", one.as_str()))),
        many => {
            q = q.filter(events::status.eq_any(many.iter().map(|s| s.as_str()).collect::<Vec<_>>()))
        }
    }
    if let Some(sites_allowed) = &f.draft_sites {
        q = q.filter(
            events::status
                .ne("draft")
                .or(programs::site_id.eq_any(sites_allowed.clone())),
        );
    }
    if let Some(s) = f.site_id {
        q = q.filter(programs::site_id.eq(s));
    }
    if let Some(sites) = &f.sites {
        q = q.filter(programs::site_id.eq_any(sites.clone()));
    }
    // Site attributes as sub-queries: no join with sites unless asked (a join the planner
    // sometimes turns into a scan of sites per event).
    if let Some(c) = f.company_id {
        q = q.filter(programs::site_id.eq_any(crate::org::sites::of_company(c)));
    }
    if let Some(r) = &f.region {
        q = q.filter(programs::site_id.eq_any(crate::org::sites::in_region(r.clone())));
    }
    if let Some(t) = &f.theme {
        q = q.filter(programs::theme.eq(t.clone()));
    }
    if let Some(c) = &f.category {
        let with = program_categories::table
            .filter(program_categories::category.eq(c.clone()))
            .select(program_categories::program_id);
        q = q.filter(events::program_id.eq_any(with));
    }
    if f.from_now && conn.backend() == Backend::Postgres {
        q = q.filter(condition(format!(
            "events.ends_at > now() AND events.starts_at > now() - interval '{MAX_EVENT_DAYS} days'"
        )));
    } else if let Some(from) = f.from {
        let earliest_start = Timestamp::from(from.get() - chrono::Duration::days(MAX_EVENT_DAYS));
        q = q
            .filter(events::ends_at.gt(from))
            .filter(events::starts_at.gt(earliest_start));
    }
    if let Some(to) = f.to {
        q = q.filter(events::starts_at.lt(to));
    }
    // A local date is at most 14 hours from UTC's: the instant bounds keep the start-time index
    // in play, the date column decides.
    if let Some(day) = f.from_day {
        let earliest = day.and_time(chrono::NaiveTime::MIN).and_utc() - chrono::Duration::days(1);
        q = q
            .filter(events::starts_at.ge(Timestamp::from(earliest)))
            .filter(events::starts_on.ge(day));
    }
    if let Some(day) = f.to_day {
        let latest = day.and_time(chrono::NaiveTime::MIN).and_utc() + chrono::Duration::days(2);
        q = q
            .filter(events::starts_at.lt(Timestamp::from(latest)))
            .filter(events::starts_on.le(day));
    }
    if f.free_seats {
        q = q.filter(
            events::capacity
                .is_null()
                .or(events::taken.lt(events::capacity.assume_not_null())),
        );
    }
    if let Some(text) = f.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let pattern = crate::db::contains_pattern(text);
        q = q.filter(crate::db::lower(events::title).like(pattern).escape('\\'));
    }
    if let Some((start, id)) = f.after {
        // `starts_at >= start` is the index bound the planner can seek to; the OR only breaks
        // ties between events starting at the same instant.
        q = q.filter(events::starts_at.ge(start)).filter(
            events::starts_at
                .gt(start)
                .or(events::starts_at.eq(start).and(events::id.gt(id))),
        );
    }
    // One more than the page tells whether another page follows.
    let page = u32::try_from(f.limit.saturating_add(1)).unwrap_or(u32::MAX);
    let rows: Vec<(EventRow, Id, Option<String>)> =
        limit_in_text(q.order((events::starts_at, events::id)), page).load(conn)?;
    rows.into_iter()
        .map(|(r, s, beside)| Ok((Event::from_row(r, s)?, beside)))
        .collect()
}

/// Drafts are private to those who run the site (and HR): others get 404.
pub fn visible(caller: &Caller, event: &Event) -> bool {
    event.status != EventStatus::Draft
        || caller.role == Role::Hr
        || caller.coordinates(event.site_id.into())
}

/// The event, or 404 when the caller may not see it (a draft of a site they do not run).
pub fn find_visible(conn: &mut AnyConnection, caller: &Caller, id: Id) -> AppResult<Event> {
    let event = find(conn, id)?;
    if !visible(caller, &event) {
        return Err(AppError::not_found("no such event"));
    }
    Ok(event)
}

/// Loads the event and checks the caller runs its site (404 for a draft they may not see).
pub fn find_runnable(c: &mut AnyConnection, caller: &Caller, id: Id) -> AppResult<Event> {
    let event = find_visible(c, caller, id)?;
    crate::programs::require_runs_site(caller, event.site_id.into())?;
    Ok(event)
}

/// The event as an iCalendar entry (its `.ics`, the personal feed, the confirmation mail).
pub fn ics_event(r: &EventRow) -> crate::ics::IcsEvent {
    crate::ics::IcsEvent {
        id: r.id.to_string(),
        title: r.title.clone(),
        description: r.description.clone(),
        location: r.location.clone(),
        starts_at: r.starts_at.get(),
        ends_at: r.ends_at.get(),
        timezone: r.timezone.clone(),
        cancelled: r.status == "cancelled",
        updated_at: r.updated_at.get(),
    }
}

/// Which drafts a caller may list with `status=draft`: all (admins, HR), their sites'
/// (coordinators); employees see published events only (403). Other statuses: no limit here.
pub fn draft_scope(caller: &Caller, status: EventStatus) -> AppResult<Option<Vec<Id>>> {
    match (status, caller.role) {
        (EventStatus::Draft, Role::Admin | Role::Hr) => Ok(None),
        (EventStatus::Draft, Role::Coordinator) => Ok(Some(caller.sites.clone())),
        (EventStatus::Draft, Role::Employee) => {
            Err(AppError::forbidden("employees see published events"))
        }
        _ => Ok(None),
    }
}

/// Creates an event of a programme at a site the caller runs (a draft, or `completed` when it
/// has already ended), and returns it.
pub fn create_as(conn: &mut AnyConnection, caller: &Caller, req: &CreateEvent) -> AppResult<Event> {
    let site = crate::programs::program::site_of(conn, req.program_id.into()).map_err(|_| {
        AppError::validation(vec![FieldError::new(
            "program_id",
            "unknown_program",
            "no such programme",
        )])
    })?;
    crate::programs::require_runs_site(caller, site)?;
    let id = create(conn, req, caller.id)?;
    find(conn, id)
}

/// Publishes a draft of a site the caller runs, and returns it.
pub fn publish_as(conn: &mut AnyConnection, caller: &Caller, id: Id) -> AppResult<Event> {
    crate::db::write_transaction(conn, |c| {
        find_runnable(c, caller, id)?;
        publish(c, id)
    })?;
    find(conn, id)
}

#[cfg(test)]
mod tests {
    /// The columns' text is diesel's own rendering of `EventRow`'s selection, in its order.
    #[test]
    fn the_list_selects_event_rows_columns_as_diesel_writes_them() {
        use diesel::query_builder::QueryFragment;
        let literal = super::event_columns();
        let mut sql = String::new();
        let mut builder = diesel::pg::PgQueryBuilder::default();
        literal
            .to_sql(&mut builder, &diesel::pg::Pg)
            .expect("rendered");
        sql.push_str(&diesel::query_builder::QueryBuilder::finish(builder));
        let columns: Vec<&str> = sql.split(", ").collect();
        assert_eq!(columns.len(), 17, "{sql}");
        assert_eq!(columns[0], r#""events"."id""#);
        assert_eq!(columns[2], r#""events"."title""#);
        assert_eq!(columns[3], r#""events"."description""#);
        assert_eq!(columns[16], r#""events"."updated_at""#);
    }
}
