//! HR's people pages over real HTTP, as a browser without JavaScript sends them: finding people
//! by text, site, role and status with keyset pages; creating an account with an invitation
//! that arrives over real SMTP and works; changing name, role and coordinated sites;
//! deactivating (which ends the person's session) and activating. The API's rules hold on the
//! pages: HR grants no admin role and changes no admin account, the last administrator stays,
//! employees and coordinators find no such pages, a form without the session's token does
//! nothing.

mod common;

use common::smtp::SmtpSink;
use common::web::{Browser, Page};
use common::{Backend, TestApp, TestDb, TestUser};
use diesel::prelude::*;
use tomoni::auth::Role;
use tomoni::db::Id;
use tomoni::db::schema::{audit_log, coordinator_sites, users};

fn worker(app: &TestApp) -> tomoni::mail::worker::Worker {
    let state = tomoni::AppState::init(app.settings.clone()).expect("state");
    tomoni::mail::worker::Worker::new(state.pool.clone(), &state.settings, None).expect("worker")
}

/// The person's id from the address the creation redirected to.
fn created_id(page: &Page) -> String {
    let to = page.location().expect("a redirect");
    to.trim_start_matches("/hr/people/")
        .split('?')
        .next()
        .unwrap()
        .to_owned()
}

/// The names in the list's table, in its order.
fn listed(page: &Page) -> Vec<String> {
    page.body
        .split("<th scope=\"row\"><a href=\"/hr/people/")
        .skip(1)
        .map(|row| {
            let from = row.find('>').unwrap() + 1;
            row[from..from + row[from..].find("</a>").unwrap()].to_owned()
        })
        .collect()
}

fn row_of(app: &TestApp, number: &str) -> (Id, String, String, bool) {
    users::table
        .filter(users::employee_number.eq(number))
        .select((users::id, users::display_name, users::role, users::active))
        .first(&mut app.conn())
        .unwrap()
}

fn coordinated(app: &TestApp, user: Id) -> Vec<Id> {
    coordinator_sites::table
        .filter(coordinator_sites::user_id.eq(user))
        .select(coordinator_sites::site_id)
        .order(coordinator_sites::site_id)
        .load(&mut app.conn())
        .unwrap()
}

async fn hr_finds_creates_invites_changes_and_deactivates_people(backend: Backend) {
    let mut sink = SmtpSink::start("127.0.0.1:0").await;
    let db = TestDb::new(&backend);
    let settings = common::smtp::mailing_to(db.settings(), sink.addr.port());
    let app = TestApp::spawn_with(db, settings).await;
    let osa = app.site("OSA");
    let tky = app.site("TKY");
    let hr = app.user(Role::Hr, Some(osa));
    let mut browser = Browser::default();
    browser.sign_in(&app, &hr).await;

    let list = browser.get(&app, "/hr/people").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains("href=\"/hr/people\""), "in the menu");
    let csrf = list.csrf();

    let new = browser.get(&app, "/hr/people/new").await;
    assert_eq!(new.status, 200);
    for role in ["employee", "coordinator"] {
        assert!(new.body.contains(&format!("<option value=\"{role}\"")));
    }
    assert!(
        !new.body.contains("<option value=\"admin\"") && !new.body.contains("<option value=\"hr\""),
        "HR grants neither the admin nor the HR role"
    );

    // A bad email: the form again with what was typed, the field named, nothing written.
    let before: i64 = users::table.count().get_result(&mut app.conn()).unwrap();
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("display_name", "Aiko Sato"),
        ("email", "not-an-email"),
        ("employee_number", "E-100"),
        ("site_id", ""),
        ("role", "coordinator"),
        ("locale", "en"),
        ("coordinated_site_ids", "osa, TKY"),
        ("invite", "1"),
    ];
    let osa_id = uuid::Uuid::from(osa).to_string();
    form[4].1 = &osa_id;
    let refused = browser.post(&app, "/hr/people/new", &form).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("id=\"problem-email\""),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("value=\"Aiko Sato\""),
        "kept as typed"
    );
    assert!(refused.body.contains("value=\"osa, TKY\""), "kept as typed");
    // An unknown site code is named.
    form[2].1 = "aiko.sato@example.com";
    form[7].1 = "OSA, NOPE";
    let refused = browser.post(&app, "/hr/people/new", &form).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("id=\"problem-coordinated_site_ids\"")
            && refused.body.contains("No site has the code NOPE."),
        "{}",
        refused.body
    );
    let after: i64 = users::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(after, before, "nothing written");

    // Right: created, coordinating both sites, invited.
    form[7].1 = "osa, TKY";
    let created = browser.post(&app, "/hr/people/new", &form).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let id = created_id(&created);
    assert!(created.location().unwrap().ends_with("?done=invited"));
    let (user_id, name, role, active) = row_of(&app, "E-100");
    assert_eq!(id, uuid::Uuid::from(user_id).to_string());
    assert_eq!(
        (name.as_str(), role.as_str(), active),
        ("Aiko Sato", "coordinator", true)
    );
    let mut both = vec![osa, tky];
    both.sort();
    assert_eq!(coordinated(&app, user_id), both);
    let shown = browser
        .get(&app, &format!("/hr/people/{id}?done=invited"))
        .await;
    assert_eq!(shown.status, 200);
    assert!(shown.body.contains("id=\"notice\""));
    assert!(
        shown.body.contains("value=\"OSA, TKY\"") || shown.body.contains("value=\"TKY, OSA\""),
        "the coordinated sites by code: {}",
        shown.body
    );

    // The invitation arrives over SMTP and its link sets a password.
    assert_eq!(worker(&app).pass().await.unwrap().sent, 1);
    let mail = sink.next().await;
    assert_eq!(mail.to, ["aiko.sato@example.com"]);
    let text = mail.data.replace("=\r\n", "").replace("=3D", "=");
    let prefix = app.url("/set-password?token=");
    let at = text.find(&prefix).expect("a link") + prefix.len();
    let token: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_".contains(*c))
        .collect();
    let (status, _, body) = app
        .post_json(
            "/api/v1/auth/password",
            serde_json::json!({"token": token, "password": "a long new password"}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let aiko = common::TestUser {
        id: user_id,
        email: "aiko.sato@example.com".into(),
        password: "a long new password".into(),
        role: Role::Coordinator,
    };
    let mut aikos = Browser::default();
    aikos.sign_in(&app, &aiko).await;

    // Finding: by text, by role and home site, by status; a choice no list has is a message.
    for (query, expect_aiko) in [
        ("?q=AIKO", true),
        ("?q=E-100", true),
        ("?q=nobody-like-this", false),
        (&*format!("?role=coordinator&site={osa_id}"), true),
        ("?role=employee", false),
        ("?active=no", false),
        ("?active=yes", true),
    ] {
        let page = browser.get(&app, &format!("/hr/people{query}")).await;
        assert_eq!(page.status, 200, "{query}: {}", page.body);
        assert_eq!(
            listed(&page).contains(&"Aiko Sato".to_owned()),
            expect_aiko,
            "{query}: {:?}",
            listed(&page)
        );
    }
    let text_only = browser.get(&app, "/hr/people?q=aiko").await;
    assert_eq!(listed(&text_only), ["Aiko Sato"]);
    for query in ["?role=king", "?q=a&q=b"] {
        let bad = browser.get(&app, &format!("/hr/people{query}")).await;
        assert_eq!(bad.status, 400, "{query}");
        assert!(bad.body.contains("id=\"problem\""), "{query}");
    }

    // Changing: a new name, back to employee without sites; audited as an access change.
    let edit = [
        ("csrf", csrf.as_str()),
        ("display_name", "Aiko Sato-Mori"),
        ("email", "aiko.sato@example.com"),
        ("employee_number", "E-100"),
        ("site_id", osa_id.as_str()),
        ("role", "employee"),
        ("locale", "ja"),
        ("coordinated_site_ids", ""),
    ];
    let saved = browser.post(&app, &format!("/hr/people/{id}"), &edit).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let (_, name, role, _) = row_of(&app, "E-100");
    assert_eq!(
        (name.as_str(), role.as_str()),
        ("Aiko Sato-Mori", "employee")
    );
    let locale: String = users::table
        .find(user_id)
        .select(users::locale)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(locale, "ja");
    assert!(coordinated(&app, user_id).is_empty());
    let audited: i64 = audit_log::table
        .filter(audit_log::action.eq("user.access_changed"))
        .filter(audit_log::entity_id.eq(id.clone()))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(audited, 1);

    // Sites for an employee are refused, in the reader's words, on the field.
    let mut with_sites = edit;
    with_sites[7].1 = "TKY";
    let refused = browser
        .post(&app, &format!("/hr/people/{id}"), &with_sites)
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("id=\"problem-coordinated_site_ids\""));

    // A taken email is a message on the form.
    let taken = [
        ("csrf", csrf.as_str()),
        ("display_name", "Someone"),
        ("email", "AIKO.SATO@example.com"),
        ("employee_number", "E-101"),
        ("site_id", ""),
        ("role", "employee"),
        ("locale", "en"),
        ("coordinated_site_ids", ""),
    ];
    let refused = browser.post(&app, "/hr/people/new", &taken).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("Someone already has this email"));

    // Deactivating ends the person's session at once; activating lets them sign in again.
    let off = browser
        .post(
            &app,
            &format!("/hr/people/{id}/active"),
            &[("csrf", &csrf), ("active", "no")],
        )
        .await;
    assert_eq!(off.status, 303, "{}", off.body);
    assert!(!row_of(&app, "E-100").3);
    let gone = aikos.get(&app, "/events").await;
    assert_eq!(gone.status, 303, "the session ended");
    assert!(gone.location().unwrap().starts_with("/sign-in"));
    let page = browser.get(&app, &format!("/hr/people/{id}")).await;
    assert!(page.body.contains("id=\"inactive\"") && page.body.contains("id=\"activate\""));
    let invite_inactive = browser
        .post(&app, &format!("/hr/people/{id}/invite"), &[("csrf", &csrf)])
        .await;
    assert_eq!(invite_inactive.status, 409, "{}", invite_inactive.body);
    let on = browser
        .post(
            &app,
            &format!("/hr/people/{id}/active"),
            &[("csrf", &csrf), ("active", "yes")],
        )
        .await;
    assert_eq!(on.status, 303);
    assert!(row_of(&app, "E-100").3);
    aikos.sign_in(&app, &aiko).await;

    // HR saving its own page unchanged is not "changing its own role".
    let own = browser.get(&app, &format!("/hr/people/{}", hr.id)).await;
    assert_eq!(own.status, 200);
    let hr_number: String = users::table
        .find(hr.id)
        .select(users::employee_number)
        .first(&mut app.conn())
        .unwrap();
    let hr_site = uuid::Uuid::from(osa).to_string();
    let mine = [
        ("csrf", csrf.as_str()),
        ("display_name", "HR Desk"),
        ("email", hr.email.as_str()),
        ("employee_number", hr_number.as_str()),
        ("site_id", hr_site.as_str()),
        ("role", "hr"),
        ("locale", "en"),
        ("coordinated_site_ids", ""),
    ];
    let saved = browser
        .post(&app, &format!("/hr/people/{}", hr.id), &mine)
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
}

/// Saves `user`'s page as its form would send it: `name` and `role` as given, the rest as the
/// test's accounts have them (no home site, English, no coordinated sites).
async fn save_person(
    browser: &mut Browser,
    app: &TestApp,
    csrf: &str,
    user: &TestUser,
    name: &str,
    role: &str,
) -> Page {
    let number = app.employee_number(user);
    let form = [
        ("csrf", csrf),
        ("display_name", name),
        ("email", user.email.as_str()),
        ("employee_number", number.as_str()),
        ("site_id", ""),
        ("role", role),
        ("locale", "en"),
        ("coordinated_site_ids", ""),
    ];
    browser
        .post(app, &format!("/hr/people/{}", user.id), &form)
        .await
}

async fn people_pages_keep_the_api_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let site = app.site("KOB");
    let admin = app.user(Role::Admin, None);
    let hr = app.user(Role::Hr, None);
    let employee = app.user(Role::Employee, Some(site));

    // Employees and coordinators: no such pages, no such forms.
    for user in [
        app.user(Role::Employee, Some(site)),
        app.coordinator(&[site]),
    ] {
        let mut browser = Browser::default();
        browser.sign_in(&app, &user).await;
        let csrf = browser.get(&app, "/my/profile").await.csrf();
        for path in [
            "/hr/people",
            "/hr/people/new",
            &format!("/hr/people/{}", employee.id),
        ] {
            let page = browser.get(&app, path).await;
            assert_eq!(page.status, 404, "{:?} {path}", user.role);
            assert!(
                !page.body.contains("href=\"/hr/people\""),
                "not in the menu"
            );
        }
        let off = browser
            .post(
                &app,
                &format!("/hr/people/{}/active", employee.id),
                &[("csrf", &csrf), ("active", "no")],
            )
            .await;
        assert_eq!(off.status, 404, "{:?}", user.role);
    }
    let active: bool = users::table
        .find(employee.id)
        .select(users::active)
        .first(&mut app.conn())
        .unwrap();
    assert!(active);

    // HR sees an admin's account read-only, and a forced save changes nothing.
    let mut browser = Browser::default();
    browser.sign_in(&app, &hr).await;
    let page = browser.get(&app, &format!("/hr/people/{}", admin.id)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"read-only\""));
    assert!(page.body.contains("<fieldset disabled>"));
    assert!(!page.body.contains("id=\"deactivate\""));
    let csrf = page.csrf();
    let forced = save_person(&mut browser, &app, &csrf, &admin, "Taken over", "admin").await;
    assert_eq!(forced.status, 403, "{}", forced.body);
    let off = browser
        .post(
            &app,
            &format!("/hr/people/{}/active", admin.id),
            &[("csrf", &csrf), ("active", "no")],
        )
        .await;
    assert_eq!(off.status, 403, "{}", off.body);
    let (name, active): (String, bool) = users::table
        .find(admin.id)
        .select((users::display_name, users::active))
        .first(&mut app.conn())
        .unwrap();
    assert!(name != "Taken over" && active);
    // Nor may HR make someone an administrator.
    let promote = save_person(&mut browser, &app, &csrf, &employee, "Employee", "admin").await;
    assert_eq!(promote.status, 403, "{}", promote.body);
    let role: String = users::table
        .find(employee.id)
        .select(users::role)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(role, "employee");
    // Without the session's token nothing happens.
    let forged = browser
        .post(
            &app,
            &format!("/hr/people/{}/active", employee.id),
            &[("csrf", "not-the-token"), ("active", "no")],
        )
        .await;
    assert_eq!(forged.status, 403);
    let active: bool = users::table
        .find(employee.id)
        .select(users::active)
        .first(&mut app.conn())
        .unwrap();
    assert!(active);

    // The last administrator stays one.
    let mut browser = Browser::default();
    browser.sign_in(&app, &admin).await;
    let page = browser.get(&app, &format!("/hr/people/{}", admin.id)).await;
    assert!(
        page.body.contains("<option value=\"admin\""),
        "admins grant any role"
    );
    assert!(
        !page.body.contains("id=\"deactivate\""),
        "not on one's own page"
    );
    let csrf = page.csrf();
    let demoted = save_person(&mut browser, &app, &csrf, &admin, "Admin", "employee").await;
    assert_eq!(demoted.status, 409, "{}", demoted.body);
    assert!(demoted.body.contains("last active administrator"));
    let off = browser
        .post(
            &app,
            &format!("/hr/people/{}/active", admin.id),
            &[("csrf", &csrf), ("active", "no")],
        )
        .await;
    assert_eq!(off.status, 409, "{}", off.body);
    let (role, active): (String, bool) = users::table
        .find(admin.id)
        .select((users::role, users::active))
        .first(&mut app.conn())
        .unwrap();
    assert_eq!((role.as_str(), active), ("admin", true));
}

async fn the_list_pages_by_keyset_without_gaps_or_repeats(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let site = app.site("NGO");
    app.employees(62, Some(site));
    let hr = app.user(Role::Hr, None);
    let mut browser = Browser::default();
    browser.sign_in(&app, &hr).await;
    let site_id = uuid::Uuid::from(site).to_string();
    let first = browser
        .get(&app, &format!("/hr/people?site={site_id}&role=employee"))
        .await;
    let mut names = listed(&first);
    assert_eq!(names.len(), 50);
    let marker = "id=\"next-page\"";
    assert!(first.body.contains(marker));
    let at = first.body.find("href=\"?").unwrap() + 6;
    let next = first.body[at..at + first.body[at..].find('"').unwrap()].replace("&amp;", "&");
    let second = browser.get(&app, &format!("/hr/people{next}")).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert!(!second.body.contains(marker), "the last page");
    names.extend(listed(&second));
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 62, "every employee once: {names:?}");
}

both_backends!(
    hr_finds_creates_invites_changes_and_deactivates_people,
    people_pages_keep_the_api_rules,
    the_list_pages_by_keyset_without_gaps_or_repeats,
);
