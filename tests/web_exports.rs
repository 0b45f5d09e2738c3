//! HR's exports page over real HTTP: participation records as XLSX (read back with calamine)
//! and as CSV for Excel for one site, hours per employee, each with a purpose that the list of
//! past exports shows from the audit log; a missing purpose or year is a message on the form
//! and exports nothing; employees and coordinators find no such page; a form without the
//! session's token does nothing.

mod common;

use common::web::{Browser, Page};
use common::{Backend, TestApp};
use diesel::prelude::*;
use tomoni::auth::Role;
use tomoni::db::schema::audit_log;

/// The exports form posted; the file (or the page) as the browser receives it.
async fn download(
    browser: &Browser,
    app: &TestApp,
    form: &[(&str, &str)],
) -> (u16, String, Vec<u8>) {
    browser.download(app, "/hr/exports", Some(form)).await
}

fn exports_audited(app: &TestApp) -> i64 {
    audit_log::table
        .filter(audit_log::entity_type.eq("export"))
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

/// Two sites' history in fiscal 2026 (April 2025 to March 2026): three people at OSA, two
/// at KOB.
async fn history(app: &TestApp, hr: &str) -> Vec<String> {
    let osa = app.site("OSA");
    let kob = app.site("KOB");
    let mut people = app.employees(3, Some(osa));
    people.extend(app.employees(2, Some(kob)));
    let numbers: Vec<String> = people.iter().map(|p| app.employee_number(p)).collect();
    let mut csv = String::from(
        "site_code,program_code,program_title,theme,categories,event_date,employee_number,hours\n",
    );
    for (i, n) in numbers.iter().enumerate() {
        let site = if i < 3 { "OSA" } else { "KOB" };
        csv.push_str(&format!(
            "{site},BEACH,Beach clean-up,nature,biodiversity,2025-06-0{},{n},3\n",
            i + 1
        ));
    }
    app.import_participations(hr, csv).await;
    numbers
}

fn form<'a>(csrf: &'a str, overrides: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("csrf", csrf),
        ("what", "participations"),
        ("fiscal_year", "2026"),
        ("scope", ""),
        ("approval", "approved"),
        ("format", "xlsx"),
        ("purpose", "FY2026 annual report"),
    ];
    for (k, v) in overrides {
        form.retain(|(name, _)| name != k);
        form.push((k, v));
    }
    form
}

async fn hr_downloads_participations_and_hours_and_sees_them_listed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hr = app.user(Role::Hr, None);
    let numbers = history(&app, &app.token(&hr)).await;
    let mut browser = Browser::default();
    browser.sign_in(&app, &hr).await;
    let page = browser.get(&app, "/hr/exports").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("href=\"/hr/exports\""), "in the menu");
    assert!(page.body.contains("id=\"no-past\""));
    let csrf = page.csrf();

    // No purpose, or hours without a year: a message on the form, nothing exported.
    let refused = browser
        .post(&app, "/hr/exports", &form(&csrf, &[("purpose", " ")]))
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("id=\"problem-purpose\""));
    let refused = browser
        .post(
            &app,
            "/hr/exports",
            &form(&csrf, &[("what", "hours"), ("fiscal_year", "")]),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("id=\"problem-fiscal_year\""));
    let refused = browser
        .post(
            &app,
            "/hr/exports",
            &form(&csrf, &[("fiscal_year", "1066")]),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("id=\"problem\""));
    assert_eq!(exports_audited(&app), 0);

    // Everything of the year as XLSX: a header and one row per record.
    let (status, ct, xlsx) = download(&browser, &app, &form(&csrf, &[])).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&xlsx));
    assert!(ct.contains("spreadsheetml"), "{ct}");
    let rows = common::xlsx_rows(&xlsx);
    assert_eq!(rows.len(), 1 + 5, "{rows:?}");
    let col = rows[0]
        .iter()
        .position(|h| h == "employee_number")
        .expect("employee_number column");
    let mut got: Vec<&str> = rows[1..].iter().map(|r| r[col].as_str()).collect();
    got.sort();
    let mut want: Vec<&str> = numbers.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(got, want);

    // One site as CSV for Excel: the BOM, then KOB's two records only.
    let page = browser.get(&app, "/hr/exports").await;
    let kob_value = {
        let at = page.body.find(">Site KOB (KOB)<").expect("KOB offered");
        let start = page.body[..at].rfind("value=\"").unwrap() + 7;
        page.body[start..start + page.body[start..].find('"').unwrap()].to_owned()
    };
    let (status, ct, csv) = download(
        &browser,
        &app,
        &form(
            &csrf,
            &[
                ("scope", &kob_value),
                ("format", "csv_bom"),
                ("purpose", "KOB review"),
            ],
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/csv"), "{ct}");
    assert!(csv.starts_with(&[0xEF, 0xBB, 0xBF]), "a BOM for Excel");
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    assert_eq!(text.lines().count(), 1 + 2, "{text}");
    assert!(numbers[3..].iter().all(|n| text.contains(n.as_str())));

    // Hours per employee of the year.
    let (status, _, csv) = download(
        &browser,
        &app,
        &form(
            &csrf,
            &[("what", "hours"), ("format", "csv"), ("purpose", "Leave")],
        ),
    )
    .await;
    assert_eq!(status, 200);
    let text = String::from_utf8(csv).unwrap();
    assert!(numbers.iter().all(|n| text.contains(n.as_str())), "{text}");

    // The list of exports taken, newest first, with purposes.
    let page = browser.get(&app, "/hr/exports").await;
    assert_eq!(exports_audited(&app), 3);
    let table = &page.body[page.body.find("<table id=\"past\"").expect("the list")..];
    let leave = table.find("Leave").unwrap();
    let kob = table.find("KOB review").unwrap();
    let report = table.find("FY2026 annual report").unwrap();
    assert!(leave < kob && kob < report, "newest first");
    assert!(table.contains("Site KOB (KOB)"), "the site by name");
}

async fn only_hr_and_admins_export_from_the_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let site = app.site("KOB");
    for user in [
        app.user(Role::Employee, Some(site)),
        app.coordinator(&[site]),
    ] {
        let mut browser = Browser::default();
        browser.sign_in(&app, &user).await;
        let page = browser.get(&app, "/hr/exports").await;
        assert_eq!(page.status, 404, "{:?}", user.role);
        assert!(!page.body.contains("href=\"/hr/exports\""));
        let csrf = browser.get(&app, "/my/profile").await.csrf();
        let (status, _, _) = download(&browser, &app, &form(&csrf, &[])).await;
        assert_eq!(status, 404, "{:?}", user.role);
    }
    let admin = app.user(Role::Admin, None);
    let mut browser = Browser::default();
    browser.sign_in(&app, &admin).await;
    let page: Page = browser.get(&app, "/hr/exports").await;
    assert_eq!(page.status, 200);
    let (status, _, _) = download(&browser, &app, &form("not-the-token", &[])).await;
    assert_eq!(status, 403);
    assert_eq!(exports_audited(&app), 0);
    let (status, _, _) = download(&browser, &app, &form(&page.csrf(), &[])).await;
    assert_eq!(status, 200);
    assert_eq!(exports_audited(&app), 1);
}

both_backends!(
    hr_downloads_participations_and_hours_and_sees_them_listed,
    only_hr_and_admins_export_from_the_page,
);
