//! Email delivery over real SMTP to a sink started by the test: the messages, their .ics, retries
//! while the server is down, and two workers sharing one queue.

mod common;

use chrono::{Duration, Utc};
use common::smtp::SmtpSink;
use common::{Backend, TestApp, TestDb, TestUser};
use diesel::prelude::*;
use serde_json::json;
use tomoni::auth::Role;
use tomoni::config::{MailTransport, SmtpTls};
use tomoni::db::Id;
use tomoni::db::schema::outbox;
use tomoni::mail::worker::{Pass, Worker};

/// An app whose mail goes to `port` on loopback (plain SMTP); the worker is driven by the test.
async fn app_mailing_to(backend: &Backend, port: u16) -> TestApp {
    let db = TestDb::new(backend);
    let mut settings = common::smtp::mailing_to(db.settings(), port);
    settings.mail.from = "Volunteering <volunteering@example.com>".into();
    settings.mail.max_attempts = 5;
    TestApp::spawn_with(db, settings).await
}

fn worker(app: &TestApp) -> Worker {
    let state = tomoni::AppState::init(app.settings.clone()).expect("state");
    Worker::new(
        state.pool.clone(),
        &state.settings,
        Some(state.metrics.clone()),
    )
    .expect("worker")
}

async fn published_event(app: &TestApp, site: Id, capacity: i64) -> (String, String) {
    let token = app.token(&app.coordinator(&[site]));
    let program = app.program(&token, site, json!({})).await;
    let start = (Utc::now() + Duration::days(3))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let fields = json!({"title": "Beach clean-up at Shonan", "location": "Shonan beach", "capacity": capacity});
    let id = app
        .published_event(&token, &program, start, 3, fields)
        .await;
    (id, token)
}

fn statuses(app: &TestApp) -> Vec<(String, i32, Option<String>)> {
    outbox::table
        .select((outbox::status, outbox::attempts, outbox::last_error))
        .order(outbox::created_at)
        .load(&mut app.conn())
        .unwrap()
}

async fn each_kind_of_sign_up_message_arrives_with_its_calendar_entry(backend: Backend) {
    let mut sink = SmtpSink::start("127.0.0.1:0").await;
    let app = app_mailing_to(&backend, sink.addr.port()).await;
    let site = app.site("A");
    let (ev, coordinator) = published_event(&app, site, 1).await;
    let (a, b) = (
        app.user(Role::Employee, Some(site)),
        app.user(Role::Employee, Some(site)),
    );
    let first = app.sign_up(&a, &ev).await;
    app.sign_up(&b, &ev).await;
    let w = worker(&app);
    assert_eq!(
        w.pass().await.unwrap(),
        Pass {
            sent: 2,
            failed: 0,
            withdrawn: 0
        }
    );

    let (one, two) = (sink.next().await, sink.next().await);
    let (confirmed, waitlisted) = if one.to == [a.email.clone()] {
        (one, two)
    } else {
        (two, one)
    };
    assert_eq!(confirmed.to, std::slice::from_ref(&a.email));
    assert_eq!(confirmed.from, "volunteering@example.com");
    assert_eq!(
        confirmed.header("Subject").unwrap(),
        "You are signed up: Beach clean-up at Shonan"
    );
    assert!(
        confirmed.data.contains("+09:00"),
        "the site's local time: {}",
        confirmed.data
    );
    assert!(confirmed.data.contains("Shonan beach"));
    let page = app.url(&format!("/events/{ev}"));
    assert!(
        confirmed.data.replace("=\r\n", "").contains(&page),
        "the mail links to the event page {page}: {}",
        confirmed.data
    );
    assert!(
        confirmed.data.contains("text/calendar"),
        "{}",
        confirmed.data
    );
    assert!(
        confirmed.data.contains("BEGIN:VCALENDAR"),
        "{}",
        confirmed.data
    );
    assert!(confirmed.data.contains("text/html"));
    let signup_id = first["id"].as_str().unwrap();
    assert_eq!(
        confirmed.header("Message-ID").unwrap(),
        format!("<signup.confirmed.{signup_id}@example.com>")
    );
    assert_eq!(waitlisted.to, std::slice::from_ref(&b.email));
    assert!(
        waitlisted
            .header("Subject")
            .unwrap()
            .starts_with("On the waitlist")
    );
    assert!(waitlisted.data.contains("number 1 on the waitlist"));
    assert!(
        !waitlisted.data.contains("BEGIN:VCALENDAR"),
        "no calendar entry without a seat"
    );

    // A's cancellation moves B up: two more messages; the event's cancellation: one for B.
    app.call(
        "DELETE",
        &format!("/api/v1/signups/{signup_id}"),
        Some(&app.token(&a)),
        None,
    )
    .await;
    app.call(
        "POST",
        &format!("/api/v1/events/{ev}/cancel"),
        Some(&coordinator),
        Some(json!({"reason": "The beach is closed after the storm."})),
    )
    .await;
    assert_eq!(
        w.pass().await.unwrap(),
        Pass {
            sent: 3,
            failed: 0,
            withdrawn: 0
        }
    );
    let mut subjects: Vec<(String, String)> = Vec::new();
    let mut reasons = 0;
    for _ in 0..3 {
        let m = sink.next().await;
        let subject = m.header("Subject").unwrap();
        // The coordinator's reason is in the cancellation, and only there.
        let has_reason = m
            .data
            .contains("Reason: The beach is closed after the storm.");
        assert_eq!(has_reason, subject.starts_with("Cancelled:"), "{}", m.data);
        reasons += usize::from(has_reason);
        subjects.push((m.to[0].clone(), subject));
    }
    assert_eq!(reasons, 1);
    subjects.sort();
    let mut expected = vec![
        (
            a.email.clone(),
            "Sign-up cancelled: Beach clean-up at Shonan".to_owned(),
        ),
        (
            b.email.clone(),
            "A seat is yours: Beach clean-up at Shonan".to_owned(),
        ),
        (
            b.email.clone(),
            "Cancelled: Beach clean-up at Shonan".to_owned(),
        ),
    ];
    expected.sort();
    assert_eq!(subjects, expected);
    assert!(
        statuses(&app)
            .iter()
            .all(|(s, n, _)| s == "sent" && *n == 1)
    );
    assert_eq!(
        w.pass().await.unwrap(),
        Pass::default(),
        "nothing is sent twice"
    );
}

async fn japanese_employees_get_japanese_mail(backend: Backend) {
    let mut sink = SmtpSink::start("127.0.0.1:0").await;
    let app = app_mailing_to(&backend, sink.addr.port()).await;
    let site = app.site("A");
    let (ev, _) = published_event(&app, site, 5).await;
    let a = app.user(Role::Employee, Some(site));
    diesel::update(tomoni::db::schema::users::table.filter(tomoni::db::schema::users::id.eq(a.id)))
        .set(tomoni::db::schema::users::locale.eq("ja"))
        .execute(&mut app.conn())
        .unwrap();
    app.sign_up(&a, &ev).await;
    worker(&app).pass().await.unwrap();
    let m = sink.next().await;
    // Non-ASCII subjects are RFC 2047 encoded.
    assert!(
        m.header("Subject").unwrap().starts_with("=?utf-8?"),
        "{:?}",
        m.header("Subject")
    );
    assert!(m.data.contains("charset=utf-8"));
}

async fn messages_wait_while_smtp_is_down_and_go_once_it_is_back(backend: Backend) {
    // A free port nobody listens on (yet).
    let port = common::free_port();
    let app = app_mailing_to(&backend, port).await;
    let site = app.site("A");
    let (ev, _) = published_event(&app, site, 10).await;
    for p in app.employees(3, Some(site)) {
        app.sign_up(&p, &ev).await;
    }
    let w = worker(&app);
    assert_eq!(
        w.pass().await.unwrap(),
        Pass {
            sent: 0,
            failed: 3,
            withdrawn: 0
        }
    );
    let rows = statuses(&app);
    assert!(
        rows.iter()
            .all(|(s, n, e)| s == "pending" && *n == 1 && e.is_some()),
        "{rows:?}"
    );

    let mut sink = SmtpSink::start(&format!("127.0.0.1:{port}")).await;
    assert_eq!(
        w.pass().await.unwrap(),
        Pass {
            sent: 3,
            failed: 0,
            withdrawn: 0
        }
    );
    for _ in 0..3 {
        sink.next().await;
    }
    assert_eq!(w.pass().await.unwrap(), Pass::default());
    assert_eq!(sink.all().len(), 3, "each delivered once");
    // The queue and the deliveries show on /metrics.
    let mut res = app.client().get(app.url("/metrics")).send().await.unwrap();
    let text = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    assert!(
        text.contains(r#"tomoni_mail_outbox_messages{status="sent"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(r#"tomoni_mail_outbox_messages{status="pending"} 0"#),
        "{text}"
    );
    assert!(
        statuses(&app)
            .iter()
            .all(|(s, n, e)| s == "sent" && *n == 2 && e.is_none())
    );
}

async fn a_message_that_keeps_failing_is_marked_dead(backend: Backend) {
    let port = common::free_port();
    let app = app_mailing_to(&backend, port).await;
    let site = app.site("A");
    let (ev, _) = published_event(&app, site, 10).await;
    app.sign_up(&app.user(Role::Employee, Some(site)), &ev)
        .await;
    let w = worker(&app);
    for _ in 0..5 {
        assert_eq!(w.pass().await.unwrap().failed, 1);
    }
    assert_eq!(w.pass().await.unwrap(), Pass::default());
    let rows = statuses(&app);
    assert_eq!(rows[0].0, "dead");
    assert_eq!(rows[0].1, 5);

    // An admin sees it with its error and queues it again once the server is back.
    let admin = app.token(&app.user(Role::Admin, None));
    let (status, _, dead) = app.get_as(&admin, "/api/v1/admin/outbox?status=dead").await;
    assert_eq!(status, 200, "{dead}");
    let item = &dead["items"][0];
    assert_eq!(item["kind"], "signup_confirmed");
    assert!(item["last_error"].is_string());
    let id = item["id"].as_str().unwrap().to_owned();
    let employee = app.token(&app.user(Role::Employee, Some(site)));
    assert_eq!(app.get_as(&employee, "/api/v1/admin/outbox").await.0, 403);
    let mut sink = SmtpSink::start(&format!("127.0.0.1:{port}")).await;
    let retry = format!("/api/v1/admin/outbox/{id}/retry");
    let (status, _, again) = app.call("POST", &retry, Some(&admin), None).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        (again["status"].as_str(), again["attempts"].as_i64()),
        (Some("pending"), Some(0))
    );
    assert_eq!(
        w.pass().await.unwrap(),
        Pass {
            sent: 1,
            failed: 0,
            withdrawn: 0
        }
    );
    sink.next().await;
    let got = app.call("POST", &retry, Some(&admin), None).await;
    common::assert_problem(&got, 409, "not_retryable");
}

async fn two_workers_drain_a_thousand_messages_without_sending_one_twice(backend: Backend) {
    let sink = SmtpSink::start("127.0.0.1:0").await;
    let app = app_mailing_to(&backend, sink.addr.port()).await;
    let site = app.site("A");
    let (ev, _) = published_event(&app, site, 10).await;
    let person = app.user(Role::Employee, Some(site));
    {
        let conn = &mut app.conn();
        for i in 0..1000 {
            tomoni::outbox::enqueue(
                conn,
                tomoni::outbox::Outgoing {
                    kind: "signup_waitlisted",
                    dedupe_key: format!("load:{i}"),
                    user: person.id,
                    payload: json!({"event_id": ev, "position": i}),
                    not_before: tomoni::db::Timestamp::now(),
                },
            )
            .unwrap();
        }
    }
    let (one, two) = (worker(&app), worker(&app));
    let drain = |w: Worker| async move {
        let mut sent = 0;
        loop {
            let p = w.pass().await.unwrap();
            assert_eq!(p.failed, 0);
            if p.sent == 0 {
                return sent;
            }
            sent += p.sent;
        }
    };
    let (a, b) = futures_util::future::join(drain(one), drain(two)).await;
    assert_eq!(a + b, 1000, "{a} + {b}");
    let got = sink.all();
    assert_eq!(got.len(), 1000);
    let ids: std::collections::BTreeSet<String> = got
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    assert_eq!(ids.len(), 1000, "no message sent twice");
    assert!(
        statuses(&app)
            .iter()
            .all(|(s, n, _)| s == "sent" && *n == 1)
    );
}

/// An event starting in two hours: inside the 24-hour reminder window.
async fn soon_event(app: &TestApp, site: Id) -> (String, String) {
    let token = app.token(&app.coordinator(&[site]));
    let program = app
        .program(
            &token,
            site,
            json!({"code": "SOON", "title": "Park clean-up"}),
        )
        .await;
    let start = Utc::now() + Duration::hours(2);
    let id = app
        .published_event(
            &token,
            &program,
            start,
            2,
            json!({"location": "Central park"}),
        )
        .await;
    (id, token)
}

fn kinds_to(sink: &SmtpSink, user: &TestUser) -> Vec<String> {
    let mut k: Vec<String> = sink
        .all()
        .into_iter()
        .filter(|m| m.to == [user.email.clone()])
        .map(|m| {
            m.header("Subject")
                .unwrap()
                .split(':')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    k.sort();
    k
}

async fn reminders_go_once_and_never_for_a_cancelled_sign_up(backend: Backend) {
    let sink = SmtpSink::start("127.0.0.1:0").await;
    let app = app_mailing_to(&backend, sink.addr.port()).await;
    let site = app.site("A");
    let (ev, _) = soon_event(&app, site).await;
    let (a, b) = (
        app.user(Role::Employee, Some(site)),
        app.user(Role::Employee, Some(site)),
    );
    app.sign_up(&a, &ev).await;
    let b_signup = app.sign_up(&b, &ev).await;
    let w = worker(&app);
    // Reminders are scheduled as the worker runs; B cancels before they are sent.
    assert_eq!(
        tomoni::mail::worker::schedule_reminders(&mut app.conn(), 24).unwrap(),
        2
    );
    assert_eq!(
        tomoni::mail::worker::schedule_reminders(&mut app.conn(), 24).unwrap(),
        0,
        "once"
    );
    let got = app
        .call(
            "DELETE",
            &format!("/api/v1/signups/{}", b_signup["id"].as_str().unwrap()),
            Some(&app.token(&b)),
            None,
        )
        .await;
    assert_eq!(got.0, 200);
    let pass = w.pass().await.unwrap();
    assert_eq!((pass.sent, pass.withdrawn), (4, 1), "{pass:?}");
    assert_eq!(kinds_to(&sink, &a), ["Reminder", "You are signed up"]);
    assert_eq!(
        kinds_to(&sink, &b),
        ["Sign-up cancelled", "You are signed up"]
    );
    assert_eq!(w.pass().await.unwrap(), Pass::default(), "nothing twice");
}

async fn a_moved_event_is_announced_and_reminded_anew(backend: Backend) {
    let mut sink = SmtpSink::start("127.0.0.1:0").await;
    let app = app_mailing_to(&backend, sink.addr.port()).await;
    let site = app.site("A");
    let (ev, token) = soon_event(&app, site).await;
    let a = app.user(Role::Employee, Some(site));
    app.sign_up(&a, &ev).await;
    let w = worker(&app);
    assert_eq!(w.pass().await.unwrap().sent, 2, "confirmation and reminder");
    sink.next().await;
    sink.next().await;
    let start = Utc::now() + Duration::hours(5);
    let got = app
        .call(
            "PATCH",
            &format!("/api/v1/events/{ev}"),
            Some(&token),
            Some(json!({
            "starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(2)).to_rfc3339(),
            "location": "City hall"})),
        )
        .await;
    assert_eq!(got.0, 200, "{}", got.2);
    assert_eq!(
        w.pass().await.unwrap().sent,
        2,
        "the change and a reminder for the new time"
    );
    let (one, two) = (sink.next().await, sink.next().await);
    let changed = if one.header("Subject").unwrap().starts_with("Changed") {
        one
    } else {
        two
    };
    assert!(
        changed.data.contains("City hall") && changed.data.contains("Central park"),
        "{}",
        changed.data
    );
    // A change that touches neither time nor place says nothing.
    app.call(
        "PATCH",
        &format!("/api/v1/events/{ev}"),
        Some(&token),
        Some(json!({"description": "Bring gloves"})),
    )
    .await;
    assert_eq!(w.pass().await.unwrap(), Pass::default());
}

async fn hours_decisions_are_mailed_with_hours_and_reason(backend: Backend) {
    let sink = SmtpSink::start("127.0.0.1:0").await;
    let app = app_mailing_to(&backend, sink.addr.port()).await;
    let site = app.site("A");
    let (ev, token) = published_event(&app, site, 10).await;
    let (a, b) = (
        app.user(Role::Employee, Some(site)),
        app.user(Role::Employee, Some(site)),
    );
    // The event took place yesterday.
    let start = Utc::now() - Duration::days(1);
    diesel::update(
        tomoni::db::schema::events::table
            .filter(tomoni::db::schema::events::id.eq(ev.parse::<Id>().unwrap())),
    )
    .set((
        tomoni::db::schema::events::starts_at.eq(tomoni::db::Timestamp::from(start)),
        tomoni::db::schema::events::ends_at
            .eq(tomoni::db::Timestamp::from(start + Duration::hours(3))),
    ))
    .execute(&mut app.conn())
    .unwrap();
    let (status, _, done) = app
        .call(
            "PUT",
            &format!("/api/v1/events/{ev}/attendance"),
            Some(&token),
            Some(json!({"entries": [
            {"user_id": a.id.to_string(), "status": "attended", "minutes": 150},
            {"user_id": b.id.to_string(), "status": "attended", "minutes": 60}]})),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    let approver = app.token(&app.coordinator(&[site]));
    let (ida, idb) = (
        done["items"][0]["id"].as_str().unwrap(),
        done["items"][1]["id"].as_str().unwrap(),
    );
    app.call(
        "POST",
        "/api/v1/attendance/approve",
        Some(&approver),
        Some(json!({"ids": [ida]})),
    )
    .await;
    app.call(
        "POST",
        &format!("/api/v1/attendance/{idb}/reject"),
        Some(&approver),
        Some(json!({"reason": "left early"})),
    )
    .await;
    worker(&app).pass().await.unwrap();
    let mails = sink.all();
    let to = |u: &TestUser| {
        mails
            .iter()
            .find(|m| m.to == [u.email.clone()])
            .unwrap()
            .clone()
    };
    let (approved, rejected) = (to(&a), to(&b));
    assert_eq!(
        approved.header("Subject").unwrap(),
        "Volunteer hours approved: Beach clean-up at Shonan"
    );
    assert!(
        approved.data.contains("your 2.5 hours"),
        "{}",
        approved.data
    );
    assert_eq!(
        rejected.header("Subject").unwrap(),
        "Volunteer hours not approved: Beach clean-up at Shonan"
    );
    assert!(
        rejected.data.contains("Reason: left early"),
        "{}",
        rejected.data
    );
}

/// The worker the server starts itself delivers without anyone driving it.
async fn the_servers_own_worker_delivers(backend: Backend) {
    let mut sink = SmtpSink::start("127.0.0.1:0").await;
    let db = TestDb::new(&backend);
    let mut settings = db.settings();
    settings.mail.transport = MailTransport::Smtp;
    settings.mail.smtp.host = "127.0.0.1".into();
    settings.mail.smtp.port = sink.addr.port();
    settings.mail.smtp.tls = SmtpTls::None;
    settings.mail.worker_enabled = true;
    settings.mail.poll_interval_ms = 50;
    let app = TestApp::spawn_with(db, settings).await;
    let site = app.site("A");
    let (ev, _) = published_event(&app, site, 5).await;
    let a = app.user(Role::Employee, Some(site));
    app.sign_up(&a, &ev).await;
    let m = sink.next().await;
    assert_eq!(m.to, std::slice::from_ref(&a.email));
}

/// The development transport writes `.eml` files into the data folder.
async fn the_file_transport_writes_eml_files(backend: Backend) {
    let db = TestDb::new(&backend);
    let settings = db.settings();
    assert_eq!(settings.mail.transport, MailTransport::File, "the default");
    let app = TestApp::spawn_with(db, settings).await;
    let site = app.site("A");
    let (ev, _) = published_event(&app, site, 5).await;
    let a = app.user(Role::Employee, Some(site));
    app.sign_up(&a, &ev).await;
    assert_eq!(worker(&app).pass().await.unwrap().sent, 1);
    let dir = app.settings.data.dir.join("mail");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].extension().and_then(|e| e.to_str()), Some("eml"));
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        text.contains("You are signed up: Beach clean-up at Shonan"),
        "{text}"
    );
}

/// Retention: the worker's sweep empties the address and body of a sent message older than
/// `retention.outbox_days` and the details of an audit entry older than
/// `retention.audit_details_days`, and nothing else; a second sweep finds nothing; 0 keeps all.
async fn retention_removes_old_mail_bodies_and_audit_details(backend: Backend) {
    use tomoni::db::Timestamp;
    use tomoni::db::schema::audit_log;
    let app = TestApp::spawn(backend).await;
    let user = app.user(Role::Employee, None);
    let conn = &mut app.conn();
    let ago = |days: i64| Timestamp::from(Utc::now() - Duration::days(days));
    let mut message = |status: &str, days: i64| -> Id {
        let id = Id::new();
        diesel::insert_into(outbox::table)
            .values((
                outbox::id.eq(id),
                outbox::kind.eq("signup_confirmed"),
                outbox::dedupe_key.eq(id.to_string()),
                outbox::user_id.eq(Some(user.id)),
                outbox::to_address.eq("someone@example.com"),
                outbox::locale.eq("en"),
                outbox::payload.eq(r#"{"name":"Someone"}"#),
                outbox::status.eq(status),
                outbox::next_attempt_at.eq(ago(days)),
                outbox::created_at.eq(ago(days)),
                outbox::updated_at.eq(ago(days)),
            ))
            .execute(conn)
            .expect("a message");
        id
    };
    let (old_sent, new_sent, old_pending) = (
        message("sent", 100),
        message("sent", 10),
        message("pending", 100),
    );
    let mut entry = |days: i64| -> Id {
        let id = Id::new();
        diesel::insert_into(audit_log::table)
            .values((
                audit_log::id.eq(id),
                audit_log::occurred_at.eq(ago(days)),
                audit_log::actor_id.eq(Some(user.id)),
                audit_log::action.eq("user.updated"),
                audit_log::entity_type.eq("user"),
                audit_log::entity_id.eq(Some(user.id.to_string())),
                audit_log::details.eq(r#"{"display_name":"Someone"}"#),
            ))
            .execute(conn)
            .expect("an entry");
        id
    };
    let (old_entry, new_entry) = (entry(800), entry(10));

    let mut quiet = app.settings.clone();
    quiet.retention.outbox_days = 0;
    quiet.retention.audit_details_days = 0;
    let keeping = {
        let state = tomoni::AppState::init(quiet).expect("state");
        Worker::new(state.pool.clone(), &state.settings, None).expect("worker")
    };
    assert_eq!(
        keeping.sweep().await.expect("sweep"),
        Default::default(),
        "0 keeps all"
    );

    let w = worker(&app);
    let swept = w.sweep().await.expect("sweep");
    assert_eq!((swept.outbox, swept.audit), (1, 1));
    let mail = |id: Id| -> (String, String) {
        outbox::table
            .find(id)
            .select((outbox::to_address, outbox::payload))
            .first(&mut app.conn())
            .expect("the message")
    };
    assert_eq!(
        mail(old_sent),
        (
            tomoni::retention::REMOVED_ADDRESS.to_owned(),
            "{}".to_owned()
        )
    );
    assert_eq!(mail(new_sent).0, "someone@example.com");
    assert_eq!(
        mail(old_pending).0,
        "someone@example.com",
        "still to be sent"
    );
    let details = |id: Id| -> String {
        audit_log::table
            .find(id)
            .select(audit_log::details)
            .first(&mut app.conn())
            .expect("the entry")
    };
    assert_eq!(details(old_entry), "{}");
    assert_eq!(details(new_entry), r#"{"display_name":"Someone"}"#);
    let again = w.sweep().await.expect("sweep");
    assert_eq!(
        (again.outbox, again.audit),
        (0, 0),
        "nothing left to remove"
    );
}

both_backends!(
    retention_removes_old_mail_bodies_and_audit_details,
    the_servers_own_worker_delivers,
    the_file_transport_writes_eml_files,
    hours_decisions_are_mailed_with_hours_and_reason,
    reminders_go_once_and_never_for_a_cancelled_sign_up,
    a_moved_event_is_announced_and_reminded_anew,
    each_kind_of_sign_up_message_arrives_with_its_calendar_entry,
    japanese_employees_get_japanese_mail,
    messages_wait_while_smtp_is_down_and_go_once_it_is_back,
    a_message_that_keeps_failing_is_marked_dead,
    two_workers_drain_a_thousand_messages_without_sending_one_twice,
);
