//! Administrators' pages over real HTTP: companies, sites (the dated registry) and partners are
//! created and changed through the API's services, with every refusal named on its field and
//! nothing written; a failed mail is sent again from the outbox page; the audit log is read with
//! filters; HR, coordinators and employees find none of these pages or forms.

mod common;

use common::web::{Browser, Page};
use common::{Backend, TestApp};
use diesel::prelude::*;
use serde_json::json;
use tomoni::auth::Role;
use tomoni::db::schema::{companies, outbox, partners, sites};
use tomoni::db::{Id, Timestamp};

/// The id a creation redirected to (`/admin/{kind}/{id}?saved=1`).
fn created(page: &Page) -> String {
    let to = page.location().expect("a redirect");
    to.rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned()
}

async fn the_registers_are_kept_through_the_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user(Role::Admin, None);
    let mut browser = Browser::default();
    browser.sign_in(&app, &admin).await;
    let index = browser.get(&app, "/admin").await;
    assert_eq!(index.status, 200, "{}", index.body);
    assert!(index.body.contains("href=\"/admin\""), "in the menu");
    let csrf = index.csrf();

    // A company: a bad country is named; then made; its code is then taken.
    let bad = browser
        .post(
            &app,
            "/admin/companies/new",
            &[
                ("csrf", &csrf),
                ("code", "ACME-JP"),
                ("name", "Acme Japan"),
                ("country", "Japan"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("id=\"problem-country\""));
    assert!(bad.body.contains("value=\"Acme Japan\""), "kept as typed");
    let made = browser
        .post(
            &app,
            "/admin/companies/new",
            &[
                ("csrf", &csrf),
                ("code", "ACME-JP"),
                ("name", "Acme Japan"),
                ("country", "jp"),
            ],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let company = created(&made);
    let again = browser
        .post(
            &app,
            "/admin/companies/new",
            &[
                ("csrf", &csrf),
                ("code", "ACME-JP"),
                ("name", "Other"),
                ("country", "JP"),
            ],
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(
        again
            .body
            .contains("A company with this code already exists.")
    );
    let country: String = companies::table
        .filter(companies::code.eq("ACME-JP"))
        .select(companies::country)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(country, "JP");

    // A site: every bad field named at once, nothing written; then made, closed, reopened.
    let site_form =
        |code: &'static str, tz: &'static str, opened: &'static str, closed: &'static str| {
            vec![
                ("code", code),
                ("name", "Kobe Works"),
                ("country", "JP"),
                ("region", "domestic"),
                ("timezone", tz),
                ("opened_on", opened),
                ("closed_on", closed),
            ]
        };
    let mut form = site_form("KOB", "Asia/Kobe", "2001-04-01", "");
    form.push(("csrf", &csrf));
    form.push(("company_id", &company));
    let bad = browser.post(&app, "/admin/sites/new", &form).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("id=\"problem-timezone\""), "{}", bad.body);
    let mut form = site_form("KOB", "Asia/Tokyo", "1st April", "");
    form.push(("csrf", &csrf));
    form.push(("company_id", &company));
    let bad = browser.post(&app, "/admin/sites/new", &form).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("id=\"problem-opened_on\""));
    let mut form = site_form("KOB", "Asia/Tokyo", "2001-04-01", "2000-03-31");
    form.push(("csrf", &csrf));
    form.push(("company_id", &company));
    let bad = browser.post(&app, "/admin/sites/new", &form).await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.body
            .contains("A site closes on or after the day it opens.")
    );
    let count: i64 = sites::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(count, 0, "nothing written");
    let mut form = site_form("KOB", "Asia/Tokyo", "2001-04-01", "");
    form.push(("csrf", &csrf));
    form.push(("company_id", &company));
    let made = browser.post(&app, "/admin/sites/new", &form).await;
    assert_eq!(made.status, 303, "{}", made.body);
    let site = created(&made);
    let mut form = site_form("KOB", "Asia/Tokyo", "2001-04-01", "2012-03-31");
    form.push(("csrf", &csrf));
    form.push(("company_id", &company));
    let closed = browser
        .post(&app, &format!("/admin/sites/{site}"), &form)
        .await;
    assert_eq!(closed.status, 303, "{}", closed.body);
    let closed_on: Option<chrono::NaiveDate> = sites::table
        .select(sites::closed_on)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(closed_on, chrono::NaiveDate::from_ymd_opt(2012, 3, 31));
    let list = browser.get(&app, "/admin/sites").await;
    assert!(list.body.contains("Kobe Works") && list.body.contains("Acme Japan"));
    let mut form = site_form("KOB", "Asia/Tokyo", "2001-04-01", "");
    form.push(("csrf", &csrf));
    form.push(("company_id", &company));
    let reopened = browser
        .post(&app, &format!("/admin/sites/{site}"), &form)
        .await;
    assert_eq!(reopened.status, 303);
    let closed_on: Option<chrono::NaiveDate> = sites::table
        .select(sites::closed_on)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(closed_on, None, "reopened");
    let shown = browser
        .get(&app, &format!("/admin/sites/{site}?saved=1"))
        .await;
    assert!(shown.body.contains("id=\"saved\""));
    assert!(
        shown.body.contains("value=\"Asia&#x2f;Tokyo\""),
        "the zone, escaped"
    );

    // A partner: a website that is no address is named; made; its website cleared.
    let bad = browser
        .post(
            &app,
            "/admin/partners/new",
            &[
                ("csrf", &csrf),
                ("name", "Shore Friends"),
                ("kind", "npo"),
                ("country", "JP"),
                ("website", "shore.example"),
                ("contact_email", ""),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("id=\"problem-website\""));
    let partner_form = |website: &'static str| {
        vec![
            ("name", "Shore Friends"),
            ("kind", "npo"),
            ("country", "jp"),
            ("website", website),
            ("contact_email", "hello@shore.example"),
        ]
    };
    let mut form = partner_form("https://shore.example");
    form.push(("csrf", &csrf));
    let made = browser.post(&app, "/admin/partners/new", &form).await;
    assert_eq!(made.status, 303, "{}", made.body);
    let partner = created(&made);
    let mut form = partner_form("");
    form.push(("csrf", &csrf));
    let saved = browser
        .post(&app, &format!("/admin/partners/{partner}"), &form)
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let (website, country): (Option<String>, Option<String>) = partners::table
        .select((partners::website, partners::country))
        .first(&mut app.conn())
        .unwrap();
    assert_eq!((website, country.as_deref()), (None, Some("JP")));
    // A choice no list offers is refused plainly.
    let mut form = partner_form("");
    form[1].1 = "club";
    form.push(("csrf", &csrf));
    let bad = browser.post(&app, "/admin/partners/new", &form).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let unknown = browser.get(&app, "/admin/planets").await;
    assert_eq!(unknown.status, 404);
}

async fn the_outbox_sends_a_failed_mail_again_and_the_audit_log_shows_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user(Role::Admin, None);
    let employee = app.user(Role::Employee, None);
    tomoni::outbox::enqueue(
        &mut app.conn(),
        tomoni::outbox::Outgoing {
            kind: "reminder",
            dedupe_key: "reminder:test".into(),
            user: employee.id,
            payload: json!({}),
            not_before: Timestamp::now(),
        },
    )
    .unwrap();
    diesel::update(outbox::table)
        .set((
            outbox::status.eq("dead"),
            outbox::attempts.eq(8),
            outbox::last_error.eq(Some("550 mailbox unavailable")),
        ))
        .execute(&mut app.conn())
        .unwrap();
    let id: Id = outbox::table
        .select(outbox::id)
        .first(&mut app.conn())
        .unwrap();
    let id = uuid::Uuid::from(id);

    let mut browser = Browser::default();
    browser.sign_in(&app, &admin).await;
    let page = browser.get(&app, "/admin/outbox?status=dead").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("550 mailbox unavailable"));
    assert!(page.body.contains(&format!("/admin/outbox/{id}/retry")));
    let none = browser.get(&app, "/admin/outbox?status=sent").await;
    assert!(none.body.contains("id=\"empty\""));
    let bad = browser.get(&app, "/admin/outbox?status=lost").await;
    assert_eq!(bad.status, 400);
    let csrf = page.csrf();
    let retried = browser
        .post(
            &app,
            &format!("/admin/outbox/{id}/retry"),
            &[("csrf", &csrf), ("status", "dead")],
        )
        .await;
    assert_eq!(retried.status, 303, "{}", retried.body);
    let (status, attempts): (String, i32) = outbox::table
        .select((outbox::status, outbox::attempts))
        .first(&mut app.conn())
        .unwrap();
    assert_eq!((status.as_str(), attempts), ("pending", 0));

    // The audit log: the retry, by whom; filters narrow it; a bad day is a message.
    let log = browser.get(&app, "/admin/audit?action=outbox.retry").await;
    assert_eq!(log.status, 200, "{}", log.body);
    assert!(log.body.contains(&admin.email) && log.body.contains("550 mailbox unavailable"));
    let by_other = browser
        .get(&app, &format!("/admin/audit?actor={}", employee.email))
        .await;
    assert!(by_other.body.contains("id=\"empty\""));
    let by_nobody = browser
        .get(&app, "/admin/audit?actor=nobody%40example.com")
        .await;
    assert!(by_nobody.body.contains("id=\"empty\""));
    let bad = browser.get(&app, "/admin/audit?from=yesterday").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("id=\"problem\""));
}

async fn only_administrators_reach_the_administration(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let site = app.site("OSA");
    let company: Id = companies::table
        .select(companies::id)
        .first(&mut app.conn())
        .unwrap();
    let company = uuid::Uuid::from(company).to_string();
    for user in [
        app.user(Role::Employee, Some(site)),
        app.coordinator(&[site]),
        app.user(Role::Hr, None),
    ] {
        let mut browser = Browser::default();
        browser.sign_in(&app, &user).await;
        let csrf = browser.get(&app, "/my/profile").await.csrf();
        for path in [
            "/admin",
            "/admin/companies",
            "/admin/sites/new",
            &format!("/admin/companies/{company}"),
            "/admin/outbox",
            "/admin/audit",
        ] {
            let page = browser.get(&app, path).await;
            assert_eq!(page.status, 404, "{:?} {path}", user.role);
            assert!(!page.body.contains("href=\"/admin\""), "not in the menu");
        }
        let sent = browser
            .post(
                &app,
                &format!("/admin/companies/{company}"),
                &[
                    ("csrf", &csrf),
                    ("code", "X"),
                    ("name", "Taken"),
                    ("country", "JP"),
                ],
            )
            .await;
        assert_eq!(sent.status, 404, "{:?}", user.role);
    }
    let name: String = companies::table
        .select(companies::name)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(name, "Test Group", "unchanged");
}

/// Closing a site before a closed fiscal year began takes it off that year's active sites: the
/// register's form asks why once the service says so, and saves with the reason.
async fn a_site_change_that_restates_a_closed_year_asks_why(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let site = app.site("OLD");
    let admin = app.user(Role::Admin, None);
    let fy = common::last_ended_year();
    app.close_year(&admin, fy).await;
    let company: Id = companies::table
        .select(companies::id)
        .first(&mut app.conn())
        .unwrap();
    let company = company.to_string();
    let mut browser = Browser::default();
    browser.sign_in(&app, &admin).await;
    let path = format!("/admin/sites/{site}");
    let csrf = browser.get(&app, &path).await.csrf();
    let closed_on = format!("{}-12-31", fy - 2);
    let form = [
        ("csrf", csrf.as_str()),
        ("code", "OLD"),
        ("name", "Site OLD"),
        ("company_id", company.as_str()),
        ("country", "JP"),
        ("region", "domestic"),
        ("timezone", "Asia/Tokyo"),
        ("opened_on", "2000-04-01"),
        ("closed_on", closed_on.as_str()),
    ];
    let refused = browser.post(&app, &path, &form).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused.body.contains("id=\"restatement_reason\""),
        "{}",
        refused.body
    );
    let unchanged: Option<chrono::NaiveDate> = sites::table
        .select(sites::closed_on)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(unchanged, None, "nothing written");
    let mut with_reason = form.to_vec();
    with_reason.push(("restatement_reason", "The works closed in December"));
    let saved = browser.post(&app, &path, &with_reason).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
}

both_backends!(
    a_site_change_that_restates_a_closed_year_asks_why,
    the_registers_are_kept_through_the_pages,
    the_outbox_sends_a_failed_mail_again_and_the_audit_log_shows_it,
    only_administrators_reach_the_administration,
);
