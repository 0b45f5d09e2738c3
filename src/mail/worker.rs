//! Delivery: claim due outbox rows, render, send with lettre, mark them.
//!
//! Claims are `UPDATE … RETURNING` with a lease (`locked_until`); on PostgreSQL the candidate
//! rows are picked with `FOR UPDATE SKIP LOCKED`, so any number of workers (in several tomoni
//! instances, or `tomoni mail-worker`) share a queue without taking the same row. A worker that
//! dies mid-batch leaves rows `sending` until the lease ends; then another takes them.
//!
//! Delivery is at-least-once: a crash between the SMTP server accepting a message and the row
//! being marked sent sends it again after the lease. The Message-ID is derived from the dedupe
//! key, so a receiver (or its mail system) can recognise the duplicate.

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{Integer, Nullable, Text};
use lettre::message::{Attachment, MultiPart, SinglePart, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use minijinja::context;
use serde_json::Value;

use crate::config::{MailSettings, MailTransport, SmtpTls};
use crate::db::placeholders;
use crate::db::schema::{attendance, outbox, users};
use crate::db::types::sql;
use crate::db::{AnyConnection, Id, Pool, Timestamp, write_transaction};
use crate::error::{AppError, AppResult};
use crate::mail::templates::Templates;
use crate::outbox::kind;
use crate::programs::events::{EventRow, find_row};

/// A claimed row.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = sql::Uuid)]
    pub id: Id,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub dedupe_key: String,
    #[diesel(sql_type = Nullable<sql::Uuid>)]
    pub user_id: Option<Id>,
    #[diesel(sql_type = Text)]
    pub to_address: String,
    #[diesel(sql_type = Text)]
    pub locale: String,
    #[diesel(sql_type = Text)]
    pub payload: String,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
}

/// Takes up to `limit` due rows for `lease`.
pub fn claim(conn: &mut AnyConnection, limit: i64, lease: Duration) -> AppResult<Vec<Claimed>> {
    let now = Timestamp::now();
    let until = Timestamp::from(now.get() + chrono::Duration::from_std(lease).unwrap_or_default());
    let lock = match conn {
        AnyConnection::Postgresql(_) => "FOR UPDATE SKIP LOCKED",
        AnyConnection::Sqlite(_) => "",
    };
    let sql = format!(
        "UPDATE outbox SET status = 'sending', locked_until = $1, attempts = attempts + 1, updated_at = $2 \
         WHERE id IN (SELECT id FROM outbox WHERE (status = 'pending' OR (status = 'sending' AND locked_until < $2)) \
         AND next_attempt_at <= $2 ORDER BY next_attempt_at LIMIT $3 {lock}) \
         RETURNING id, kind, dedupe_key, user_id, to_address, locale, payload, attempts"
    );
    write_transaction(conn, |conn| {
        let q = placeholders(conn, &sql);
        Ok(diesel::sql_query(q)
            .bind::<sql::UtcTime, _>(until)
            .bind::<sql::UtcTime, _>(now)
            .bind::<diesel::sql_types::BigInt, _>(limit)
            .load(conn)?)
    })
}

pub fn mark_sent(conn: &mut AnyConnection, id: Id) -> QueryResult<()> {
    let now = Timestamp::now();
    diesel::update(outbox::table.filter(outbox::id.eq(id)))
        .set((
            outbox::status.eq("sent"),
            outbox::sent_at.eq(Some(now)),
            outbox::locked_until.eq(None::<Timestamp>),
            outbox::last_error.eq(None::<String>),
            outbox::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// The wait before attempt `attempts + 1`: exponential from `base`, capped at six hours, with
/// ±20 % jitter so a queue that failed together does not retry together.
pub fn backoff(attempts: i32, base: Duration) -> Duration {
    use rand::RngExt;
    let exp = base.saturating_mul(1u32 << attempts.clamp(0, 20).saturating_sub(1));
    let capped = exp.min(Duration::from_secs(6 * 3600));
    let jitter: f64 = rand::rng().random_range(0.8..1.2);
    capped.mul_f64(jitter)
}

pub fn mark_failed(
    conn: &mut AnyConnection,
    row: &Claimed,
    error: &str,
    settings: &MailSettings,
) -> QueryResult<()> {
    let now = Timestamp::now();
    let dead = row.attempts >= i32::try_from(settings.max_attempts).unwrap_or(i32::MAX);
    let wait = backoff(row.attempts, Duration::from_millis(settings.retry_base_ms));
    let next = Timestamp::from(now.get() + chrono::Duration::from_std(wait).unwrap_or_default());
    let error: String = error.chars().take(500).collect();
    diesel::update(outbox::table.filter(outbox::id.eq(row.id)))
        .set((
            outbox::status.eq(if dead { "dead" } else { "pending" }),
            outbox::next_attempt_at.eq(next),
            outbox::locked_until.eq(None::<Timestamp>),
            outbox::last_error.eq(Some(error)),
            outbox::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// Queues a reminder for every confirmed sign-up of a published event starting within `hours`.
/// The dedupe key holds the sign-up and the start time, so each is queued once however many
/// workers run, and an event that moves gets a new one. Returns how many were queued.
pub fn schedule_reminders(conn: &mut AnyConnection, hours: u32) -> AppResult<usize> {
    use crate::db::schema::{events, signups};
    if hours == 0 {
        return Ok(0);
    }
    let now = Timestamp::now();
    let until = Timestamp::from(now.get() + chrono::Duration::hours(i64::from(hours)));
    let due: Vec<(Id, Id, Id, Timestamp)> = signups::table
        .inner_join(events::table)
        .filter(events::status.eq("published"))
        .filter(events::starts_at.gt(now))
        .filter(events::starts_at.le(until))
        .filter(signups::status.eq("confirmed"))
        .select((signups::id, signups::user_id, events::id, events::starts_at))
        .load(conn)?;
    let mut queued = 0;
    for (signup, user, event, starts) in due {
        let written = crate::outbox::enqueue(
            conn,
            crate::outbox::Outgoing {
                kind: kind::REMINDER,
                dedupe_key: format!("{}:{signup}:{}", kind::REMINDER, starts.get().timestamp()),
                user,
                payload: serde_json::json!({"signup_id": signup, "event_id": event, "starts_at": starts.get()}),
                not_before: now,
            },
        )?;
        queued += usize::from(written);
    }
    Ok(queued)
}

/// Whether a queued reminder still applies: the sign-up confirmed, the event published and
/// starting when the reminder was scheduled for.
fn reminder_applies(
    conn: &mut AnyConnection,
    payload: &Value,
    event: &EventRow,
) -> AppResult<bool> {
    use crate::db::schema::signups;
    let Some(signup) = payload["signup_id"]
        .as_str()
        .and_then(|s| s.parse::<Id>().ok())
    else {
        return Ok(false);
    };
    let confirmed: Option<String> = signups::table
        .filter(signups::id.eq(signup))
        .select(signups::status)
        .first(conn)
        .optional()?;
    let same_start = payload["starts_at"]
        .as_str()
        .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok())
        .is_some_and(|t| t == event.starts_at.get());
    Ok(confirmed.as_deref() == Some("confirmed") && event.status == "published" && same_start)
}

/// Renders a claimed row into a message (reading the event as it is now); `None` for a reminder
/// that no longer applies.
pub fn compose(
    conn: &mut AnyConnection,
    templates: &Templates,
    from: &str,
    public_base: &str,
    row: &Claimed,
) -> AppResult<Option<Message>> {
    let payload: Value = serde_json::from_str(&row.payload).map_err(AppError::internal)?;
    if matches!(row.kind.as_str(), kind::INVITATION | kind::PASSWORD_RESET) {
        return compose_link(conn, templates, from, public_base, row, &payload);
    }
    let id_of = |key: &str| -> Option<Id> { payload[key].as_str().and_then(|s| s.parse().ok()) };
    let mut hours = String::new();
    let event_id = match id_of("event_id") {
        Some(e) => e,
        None => {
            let a = id_of("attendance_id")
                .ok_or_else(|| AppError::internal("outbox payload names no event"))?;
            let (event, minutes): (Id, i32) = attendance::table
                .filter(attendance::id.eq(a))
                .select((attendance::event_id, attendance::minutes))
                .first(conn)?;
            hours = crate::sheet::format_number(f64::from(minutes) / 60.0);
            event
        }
    };
    let (event, _) = find_row(conn, event_id)?;
    if row.kind == kind::REMINDER && !reminder_applies(conn, &payload, &event)? {
        return Ok(None);
    }
    let name = display_name(conn, row.user_id)?;
    let ctx = context! {
        name,
        event => context! {
            title => &event.title,
            when => crate::time::describe_span(event.starts_at, event.ends_at, &event.timezone),
            location => &event.location,
            link => format!("{public_base}/events/{}", event.id),
        },
        position => payload["position"].as_i64(),
        by_coordinator => payload["by_coordinator"].as_bool().unwrap_or(false),
        reason => payload["reason"].as_str().unwrap_or(""),
        hours,
        before => context! {
            when => payload["before"]["when"].as_str().unwrap_or(""),
            location => payload["before"]["location"].as_str().unwrap_or(""),
        },
    };
    let r = templates.render(&row.kind, &row.locale, ctx)?;
    let subject = r.subject.clone();
    let alternative = MultiPart::alternative()
        .singlepart(SinglePart::plain(r.text))
        .singlepart(SinglePart::html(r.html));
    let body = if matches!(
        row.kind.as_str(),
        kind::SIGNUP_CONFIRMED | kind::SIGNUP_PROMOTED
    ) {
        let ics = crate::ics::calendar(&event.title, &[crate::programs::events::ics_event(&event)]);
        let content_type = ContentType::parse("text/calendar; charset=utf-8; method=PUBLISH")
            .map_err(AppError::internal)?;
        MultiPart::mixed()
            .multipart(alternative)
            .singlepart(Attachment::new("event.ics".to_owned()).body(ics, content_type))
    } else {
        alternative
    };
    envelope(from, row, subject, body).map(Some)
}

/// The recipient's name as the greeting uses it (empty for a message to no user).
fn display_name(conn: &mut AnyConnection, user: Option<Id>) -> AppResult<String> {
    Ok(match user {
        Some(u) => users::table
            .filter(users::id.eq(u))
            .select(users::display_name)
            .first(conn)?,
        None => String::new(),
    })
}

/// A message to the row's recipient, its Message-ID derived from the dedupe key.
fn envelope(from: &str, row: &Claimed, subject: String, body: MultiPart) -> AppResult<Message> {
    let bad = |e: lettre::address::AddressError| AppError::internal(e);
    let domain = from
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>'))
        .unwrap_or("tomoni.invalid");
    let safe_key: String = row
        .dedupe_key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-.".contains(c) {
                c
            } else {
                '.'
            }
        })
        .collect();
    Message::builder()
        .from(from.parse().map_err(bad)?)
        .to(row.to_address.parse().map_err(bad)?)
        .subject(subject)
        .message_id(Some(format!("<{safe_key}@{domain}>")))
        .multipart(body)
        .map_err(AppError::internal)
}

/// An invitation or password-reset mail: the link's secret is minted here, so it exists only
/// in the message; `None` (withdrawn) when the link was used, replaced or expired meanwhile.
fn compose_link(
    conn: &mut AnyConnection,
    templates: &Templates,
    from: &str,
    public_base: &str,
    row: &Claimed,
    payload: &Value,
) -> AppResult<Option<Message>> {
    let link: Id = payload["link_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| AppError::internal("outbox payload names no link"))?;
    let Some((secret, expires)) = crate::auth::links::mint(conn, link)? else {
        return Ok(None);
    };
    let name = display_name(conn, row.user_id)?;
    let left = expires.get() - chrono::Utc::now();
    let ctx = context! {
        name,
        email => &row.to_address,
        link => format!("{public_base}/set-password?token={secret}"),
        hours => (left.num_minutes() + 59) / 60,
        minutes => left.num_minutes().max(1),
    };
    let r = templates.render(&row.kind, &row.locale, ctx)?;
    let body = MultiPart::alternative()
        .singlepart(SinglePart::plain(r.text))
        .singlepart(SinglePart::html(r.html));
    envelope(from, row, r.subject, body).map(Some)
}

/// A queued message that no longer applies (a reminder for a cancelled sign-up).
pub fn mark_withdrawn(conn: &mut AnyConnection, id: Id) -> QueryResult<()> {
    diesel::update(outbox::table.filter(outbox::id.eq(id)))
        .set((
            outbox::status.eq("cancelled"),
            outbox::locked_until.eq(None::<Timestamp>),
            outbox::updated_at.eq(Timestamp::now()),
        ))
        .execute(conn)
        .map(drop)
}

/// Where messages go.
#[derive(Clone)]
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(AsyncFileTransport<Tokio1Executor>),
}

impl Mailer {
    pub fn from_settings(s: &MailSettings, data_dir: &std::path::Path) -> AppResult<Mailer> {
        match s.transport {
            MailTransport::File => {
                let dir = data_dir.join("mail");
                std::fs::create_dir_all(&dir).map_err(AppError::internal)?;
                Ok(Mailer::File(AsyncFileTransport::new(dir)))
            }
            MailTransport::Smtp => {
                let host = s.smtp.host.as_str();
                let builder = match s.smtp.tls {
                    SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host),
                    SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host),
                    SmtpTls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                        host,
                    )),
                }
                .map_err(AppError::internal)?
                .port(s.smtp.port)
                .timeout(Some(Duration::from_secs(30)));
                let builder = if s.smtp.username.is_empty() {
                    builder
                } else {
                    builder.credentials(Credentials::new(
                        s.smtp.username.clone(),
                        s.smtp.password.expose().to_owned(),
                    ))
                };
                Ok(Mailer::Smtp(builder.build()))
            }
        }
    }

    async fn send(&self, m: Message) -> Result<(), String> {
        match self {
            Mailer::Smtp(t) => t.send(m).await.map(drop).map_err(|e| e.to_string()),
            Mailer::File(t) => t.send(m).await.map(drop).map_err(|e| e.to_string()),
        }
    }
}

/// What a worker needs.
#[derive(Clone)]
pub struct Worker {
    pub pool: Pool,
    pub mailer: Mailer,
    pub settings: MailSettings,
    pub templates: std::sync::Arc<Templates>,
    pub metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
    /// `server.public_base()`: where the links in mails point.
    pub public_base: String,
    /// What the worker also sweeps away, about hourly (see `retention`).
    pub retention: crate::config::RetentionSettings,
}

/// Outcome of one pass over the queue.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub sent: usize,
    pub failed: usize,
    /// Reminders that no longer applied.
    pub withdrawn: usize,
}

impl Worker {
    pub fn new(
        pool: Pool,
        settings: &crate::config::Settings,
        metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
    ) -> AppResult<Worker> {
        Ok(Worker {
            pool,
            mailer: Mailer::from_settings(&settings.mail, &settings.data.dir)?,
            settings: settings.mail.clone(),
            templates: std::sync::Arc::new(Templates::new()),
            metrics,
            public_base: settings.server.public_base(),
            retention: settings.retention.clone(),
        })
    }

    /// Claims one batch and delivers it. Database work runs on the blocking pool.
    pub async fn pass(&self) -> AppResult<Pass> {
        let pool = self.pool.clone();
        let (batch, lease, reminder_hours) = (
            i64::from(self.settings.batch_size),
            Duration::from_secs(self.settings.lease_secs),
            self.settings.reminder_hours_before,
        );
        let claimed = actix_web::web::block(move || {
            let mut conn = pool.get()?;
            schedule_reminders(&mut conn, reminder_hours)?;
            claim(&mut conn, batch, lease)
        })
        .await??;
        let mut pass = Pass::default();
        for row in claimed {
            let (pool, templates, from, base) = (
                self.pool.clone(),
                self.templates.clone(),
                self.settings.from.clone(),
                self.public_base.clone(),
            );
            let r = row.clone();
            let message = actix_web::web::block(move || {
                let mut conn = pool.get()?;
                compose(&mut conn, &templates, &from, &base, &r)
            })
            .await?;
            let outcome = match message {
                Ok(Some(m)) => self.mailer.send(m).await.map(|()| true),
                Ok(None) => Ok(false),
                Err(e) => Err(e.to_string()),
            };
            let (pool, settings) = (self.pool.clone(), self.settings.clone());
            let ok = matches!(outcome, Ok(true));
            let withdrawn = matches!(outcome, Ok(false));
            actix_web::web::block(move || -> AppResult<()> {
                let mut conn = pool.get()?;
                match outcome {
                    Ok(true) => mark_sent(&mut conn, row.id)?,
                    Ok(false) => mark_withdrawn(&mut conn, row.id)?,
                    Err(e) => {
                        tracing::warn!(outbox_id = %row.id, attempts = row.attempts, error = %e, "mail not delivered");
                        mark_failed(&mut conn, &row, &e, &settings)?
                    }
                }
                Ok(())
            })
            .await??;
            if ok {
                pass.sent += 1;
            } else if withdrawn {
                pass.withdrawn += 1;
            } else {
                pass.failed += 1;
            }
        }
        if let Some(m) = &self.metrics {
            m.mail_delivered(pass.sent, pass.failed);
        }
        Ok(pass)
    }

    /// Applies the retention settings once (see `retention::sweep`).
    pub async fn sweep(&self) -> AppResult<crate::retention::Swept> {
        let (pool, settings) = (self.pool.clone(), self.retention.clone());
        let swept = actix_web::web::block(move || -> AppResult<_> {
            let mut conn = pool.get()?;
            Ok(crate::retention::sweep(
                &mut conn,
                &settings,
                crate::db::Timestamp::now(),
            )?)
        })
        .await??;
        if swept.outbox + swept.audit > 0 {
            tracing::info!(
                outbox = swept.outbox,
                audit = swept.audit,
                "retention: old personal data removed"
            );
        }
        Ok(swept)
    }

    /// Runs until the process ends: a pass, then (when the queue was empty) a pause; the
    /// retention sweep about once an hour.
    pub async fn run(self) {
        let idle = Duration::from_millis(self.settings.poll_interval_ms);
        let mut swept_at: Option<std::time::Instant> = None;
        loop {
            if swept_at.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
                if let Err(e) = self.sweep().await {
                    tracing::error!(error = %e, "retention sweep failed");
                }
                swept_at = Some(std::time::Instant::now());
            }
            match self.pass().await {
                Ok(p) if p.sent + p.failed + p.withdrawn > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "mail worker pass failed"),
            }
            actix_web::rt::time::sleep(idle).await;
        }
    }
}
