//! The report cycle's page over real HTTP: HR closes a year and the dashboard marks it
//! published; a correction made through the API waits on the page with its reason until HR
//! restates the year; reopening is an administrator's, with a reason; an employee finds no such
//! page, and a button pressed twice is a message, not an error page.

mod common;

use common::web::Browser;
use common::{Backend, TestApp};
use tomoni::auth::Role;

async fn hr_closes_restates_and_an_admin_reopens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let fy = common::last_ended_year();
    app.site("YRS");
    let hr = app.user(Role::Hr, None);
    let admin = app.user(Role::Admin, None);
    let people = app.employees(2, None);
    let day = chrono::NaiveDate::from_ymd_opt(fy - 1, 6, 1).expect("a day");
    app.past_records(&hr, "YRS", "MOUNTAIN", "", day, &people)
        .await;

    // An employee finds no such page.
    let mut employee = Browser::default();
    employee
        .sign_in(&app, &app.user(Role::Employee, None))
        .await;
    assert_eq!(employee.get(&app, "/hr/years").await.status, 404);

    let mut browser = Browser::default();
    browser.sign_in(&app, &hr).await;
    let page = browser.get(&app, "/hr/years").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(&format!("id=\"close-{fy}\"")),
        "{}",
        page.body
    );
    assert!(!page.body.contains("id=\"reopen-"), "HR cannot reopen");
    let csrf = page.csrf();
    let path = format!("/hr/years/{fy}");
    let closed = browser
        .post(&app, &path, &[("csrf", &csrf), ("action", "close")])
        .await;
    assert_eq!(closed.status, 303, "{}", closed.body);
    let page = browser.get(&app, "/hr/years?done=close").await;
    assert!(page.body.contains("id=\"done\""), "{}", page.body);
    assert!(!page.body.contains(&format!("id=\"close-{fy}\"")));
    // Pressed again (another tab): the year is already closed, said on the page.
    let again = browser
        .post(&app, &path, &[("csrf", &csrf), ("action", "close")])
        .await;
    assert_eq!(again.status, 409);
    assert!(
        again.body.contains(&format!("id=\"problem-{fy}\""))
            && again.body.contains("already closed"),
        "{}",
        again.body
    );
    // A closed year's objectives change only with a reason, asked for on their form.
    let objectives_path = format!("/stats/{fy}/objectives");
    let form = browser.get(&app, &objectives_path).await;
    assert!(
        form.body.contains("id=\"restatement_reason\""),
        "{}",
        form.body
    );
    let target = [
        ("csrf", csrf.as_str()),
        ("kind_participants", "absolute"),
        ("value_participants", "10"),
    ];
    let refused = browser.post(&app, &objectives_path, &target).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused.body.contains("give the reason for the restatement"),
        "{}",
        refused.body
    );
    let mut with_reason = target.to_vec();
    with_reason.push(("restatement_reason", "The target was agreed in May"));
    let saved = browser.post(&app, &objectives_path, &with_reason).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    // The dashboard marks the year as published.
    let dashboard = browser
        .get(&app, &format!("/stats?from={fy}&to={fy}"))
        .await;
    assert!(
        dashboard.body.contains("data-published=\"1\""),
        "{}",
        dashboard.body
    );

    // A correction through the API, with its reason, waits on the page.
    app.reject_restating(&admin, &people[0], "Counted twice in the June sheet")
        .await;
    let page = browser.get(&app, "/hr/years").await;
    assert!(
        page.body.contains("Counted twice in the June sheet"),
        "{}",
        page.body
    );
    let restated = browser
        .post(
            &app,
            &path,
            &[
                ("csrf", &csrf),
                ("action", "restate"),
                ("text", "June sheet"),
            ],
        )
        .await;
    assert_eq!(restated.status, 303, "{}", restated.body);
    let dashboard = browser
        .get(&app, &format!("/stats?from={fy}&to={fy}"))
        .await;
    assert!(
        dashboard.body.contains("data-published=\"2\""),
        "{}",
        dashboard.body
    );
    // HR's reopen is refused as the API refuses it (no button for it either).
    let refused = browser
        .post(
            &app,
            &path,
            &[("csrf", &csrf), ("action", "reopen"), ("text", "x")],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);

    // An administrator reopens, with a reason.
    let mut admin_browser = Browser::default();
    admin_browser.sign_in(&app, &admin).await;
    let page = admin_browser.get(&app, "/hr/years").await;
    assert!(
        page.body.contains(&format!("id=\"reopen-{fy}\"")),
        "{}",
        page.body
    );
    let admin_csrf = page.csrf();
    let no_reason = admin_browser
        .post(
            &app,
            &path,
            &[("csrf", &admin_csrf), ("action", "reopen"), ("text", " ")],
        )
        .await;
    assert_eq!(no_reason.status, 422, "{}", no_reason.body);
    let reopened = admin_browser
        .post(
            &app,
            &path,
            &[
                ("csrf", &admin_csrf),
                ("action", "reopen"),
                ("text", "auditors"),
            ],
        )
        .await;
    assert_eq!(reopened.status, 303, "{}", reopened.body);
    let dashboard = browser
        .get(&app, &format!("/stats?from={fy}&to={fy}"))
        .await;
    assert!(
        !dashboard.body.contains("data-published="),
        "{}",
        dashboard.body
    );
}

both_backends!(hr_closes_restates_and_an_admin_reopens);

/// A coordinator correcting attendance of a closed year on the roster page is asked why, and
/// the correction waits on HR's page with that reason.
async fn the_roster_asks_why_a_closed_year_changes(backend: Backend) {
    use diesel::prelude::*;
    let app = TestApp::spawn(backend).await;
    let fy = common::last_ended_year();
    let site = app.site("RST");
    let hr = app.user(Role::Hr, None);
    let coordinator = app.coordinator(&[site]);
    let people = app.employees(3, Some(site));
    let day = chrono::NaiveDate::from_ymd_opt(fy - 1, 9, 1).expect("a day");
    app.past_records(&hr, "RST", "SHORE", "", day, &people)
        .await;
    let event: uuid::Uuid = tomoni::db::schema::events::table
        .select(tomoni::db::schema::events::id)
        .first::<tomoni::db::Id>(&mut app.conn())
        .unwrap()
        .into();
    let roster = format!("/manage/events/{event}/roster");
    let mut browser = Browser::default();
    browser.sign_in(&app, &coordinator).await;
    let open = browser.get(&app, &roster).await;
    assert!(
        !open.body.contains("name=\"restatement_reason\""),
        "an open year asks nothing"
    );
    app.close_year(&hr, fy).await;
    let page = browser.get(&app, &roster).await;
    assert!(
        page.body.contains("id=\"restatement_reason\""),
        "{}",
        page.body
    );
    let csrf = page.csrf();
    let who = people[1].id.to_string();
    let status_field = format!("status.{who}");
    let mark = [("csrf", csrf.as_str()), (status_field.as_str(), "no_show")];
    let refused = browser
        .post(&app, &format!("/manage/events/{event}/attendance"), &mark)
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("give the reason"), "{}", refused.body);
    let mut with_reason = mark.to_vec();
    with_reason.push(("restatement_reason", "She left before the start"));
    let saved = browser
        .post(
            &app,
            &format!("/manage/events/{event}/attendance"),
            &with_reason,
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    // Rejecting approved hours of the closed year on the record's page asks the same.
    let record: uuid::Uuid = tomoni::db::schema::attendance::table
        .filter(tomoni::db::schema::attendance::user_id.eq(people[0].id))
        .select(tomoni::db::schema::attendance::id)
        .first::<tomoni::db::Id>(&mut app.conn())
        .unwrap()
        .into();
    let page = browser
        .get(&app, &format!("/manage/attendance/{record}"))
        .await;
    assert!(
        page.body.contains("id=\"restatement_reason\""),
        "{}",
        page.body
    );
    let reject = format!("/manage/attendance/{record}/reject");
    let form = [("csrf", csrf.as_str()), ("reason", "not on the sheet")];
    let refused = browser.post(&app, &reject, &form).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    let mut with_reason = form.to_vec();
    with_reason.push(("restatement_reason", "Not on the signed sheet"));
    let rejected = browser.post(&app, &reject, &with_reason).await;
    assert_eq!(rejected.status, 303, "{}", rejected.body);
    // A new category for the programme moves its closed year's lines: asked after the refusal.
    let program: uuid::Uuid = tomoni::db::schema::programs::table
        .select(tomoni::db::schema::programs::id)
        .first::<tomoni::db::Id>(&mut app.conn())
        .unwrap()
        .into();
    let editor = format!("/manage/programs/{program}");
    let page = browser.get(&app, &editor).await;
    assert!(
        !page.body.contains("name=\"restatement_reason\""),
        "asked only when needed"
    );
    let site_id = site.to_string();
    let fields = [
        ("csrf", csrf.as_str()),
        ("site_id", site_id.as_str()),
        ("code", "SHORE"),
        ("title", "SHORE"),
        ("theme", "nature"),
        ("categories", "biodiversity"),
    ];
    let refused = browser.post(&app, &editor, &fields).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused.body.contains("id=\"restatement_reason\""),
        "{}",
        refused.body
    );
    let mut with_reason = fields.to_vec();
    with_reason.push(("restatement_reason", "The shore is a protected habitat"));
    let saved = browser.post(&app, &editor, &with_reason).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let mut hr_browser = Browser::default();
    hr_browser.sign_in(&app, &hr).await;
    let years = hr_browser.get(&app, "/hr/years").await;
    for reason in [
        "She left before the start",
        "Not on the signed sheet",
        "The shore is a protected habitat",
    ] {
        assert!(years.body.contains(reason), "{reason}: {}", years.body);
    }
}

both_backends!(the_roster_asks_why_a_closed_year_changes);

/// The contribution expenses ledger page: HR adds lines (a quantity that is not a number is
/// named with the form kept) and reads the totals as the report rounds them; a closed year's
/// line asks for the reason and its published total stays; employees find no such page; the
/// imports page offers the ledger's CSV.
async fn hr_keeps_the_expenses_ledger_on_its_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let fy = common::last_ended_year();
    let osaka = app.site("OSA").to_string();
    let hr = app.user(Role::Hr, None);
    let mut browser = Browser::default();
    browser.sign_in(&app, &hr).await;
    let page = format!("/hr/expenses?fiscal_year={fy}");
    let empty = browser.get(&app, &page).await;
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert!(empty.body.contains("id=\"no-lines\""));
    let csrf = empty.csrf();
    let added = browser
        .post(
            &app,
            &page,
            &[
                ("csrf", &csrf),
                ("kind", "financial"),
                ("area", "community"),
                ("site_id", &osaka),
                ("description", "Town festival"),
                ("amount_yen", "1,000,000"),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let bad = browser
        .post(
            &app,
            &page,
            &[
                ("csrf", &csrf),
                ("kind", "product"),
                ("area", "social_welfare"),
                ("site_id", &osaka),
                ("description", "Wheelchairs"),
                ("quantity", "lots"),
                ("unit_price_yen", "55000"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("id=\"problem\""));
    assert!(bad.body.contains("value=\"Wheelchairs\""), "the form kept");
    let added = browser
        .post(
            &app,
            &page,
            &[
                ("csrf", &csrf),
                ("kind", "product"),
                ("area", "social_welfare"),
                ("site_id", &osaka),
                ("description", "Wheelchairs"),
                ("quantity", "40"),
                ("unit_price_yen", "55,000"),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let ledger = browser.get(&app, &format!("{page}&added=1")).await;
    assert!(ledger.body.contains("The line is added."));
    assert!(
        ledger.body.contains("approx. ¥3 million"),
        "{}",
        ledger.body
    );
    assert!(ledger.body.contains("Exact sum: ¥3,200,000"));
    assert!(ledger.body.contains("40 × ¥55,000"));
    assert!(ledger.body.contains(">2,200,000<"));

    let mut employee = Browser::default();
    employee
        .sign_in(&app, &app.user(Role::Employee, None))
        .await;
    assert_eq!(employee.get(&app, &page).await.status, 404);

    app.close_year(&hr, fy).await;
    let closed = browser.get(&app, &page).await;
    assert!(closed.body.contains("Published figures, version 1"));
    assert!(closed.body.contains("name=\"restatement_reason\""));
    let line = [
        ("csrf", csrf.as_str()),
        ("kind", "financial"),
        ("area", "community"),
        ("site_id", osaka.as_str()),
        ("description", "Booked late"),
        ("amount_yen", "500000"),
    ];
    let refused = browser.post(&app, &page, &line).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("value=\"Booked late\""));
    let mut with_reason = line.to_vec();
    with_reason.push(("restatement_reason", "a donation booked after the close"));
    let added = browser.post(&app, &page, &with_reason).await;
    assert_eq!(added.status, 303, "{}", added.body);
    let after = browser.get(&app, &page).await;
    assert!(
        after.body.contains("Exact sum: ¥3,200,000"),
        "published until restated"
    );
    assert!(
        after.body.contains("Booked late"),
        "the line is in the ledger"
    );

    let imports = browser.get(&app, "/hr/imports").await;
    assert!(
        imports.body.contains("value=\"expenses\""),
        "{}",
        imports.body
    );

    let mut ja = browser.clone();
    ja.cookies.push(("tomoni_lang".into(), "ja".into()));
    let ja_page = ja.get(&app, &page).await;
    assert!(ja_page.body.contains("約320万円"), "{}", ja_page.body);
}

both_backends!(hr_keeps_the_expenses_ledger_on_its_page);
