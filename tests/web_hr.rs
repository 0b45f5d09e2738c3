//! HR's pages over real HTTP, as a browser without JavaScript sends them: the imports page
//! checks an employee file and shows every bad line with its line and column, writes nothing
//! until "Import", and imports the fixed file; employees and coordinators find no such page,
//! HR no site-registry import, and a form without the session's token does nothing.

mod common;

use common::web::{Browser, Page};
use common::{Backend, TestApp};
use diesel::prelude::*;
use tomoni::auth::Role;
use tomoni::db::schema::users;

const BOUNDARY: &str = "----tomoni-test-boundary-7MA4YWxkTrZu0gW";

/// A multipart/form-data body with text fields and, if given, a file field.
fn multipart(fields: &[(&str, &str)], file: Option<&str>) -> Vec<u8> {
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    if let Some(text) = file {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"people.csv\"\r\n\
             Content-Type: text/csv\r\n\r\n{text}\r\n"
        ));
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    body.into_bytes()
}

async fn send(browser: &Browser, app: &TestApp, body: Vec<u8>) -> Page {
    // Redirects are the test's to follow (a large file's import answers with its job's page).
    let mut res = awc::Client::builder()
        .disable_redirects()
        .finish()
        .post(app.url("/hr/imports"))
        .insert_header(("Cookie", browser.cookie_header()))
        .insert_header(("Sec-Fetch-Site", "same-origin"))
        .insert_header((
            "Content-Type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        ))
        .send_body(body)
        .await
        .expect("POST");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.body().limit(8 << 20).await.expect("body");
    Page {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn user_count(app: &TestApp) -> i64 {
    users::table.count().get_result(&mut app.conn()).unwrap()
}

/// The rows of the bad-lines table: (line, column, reason).
fn bad_lines(page: &Page) -> Vec<(String, String, String)> {
    let Some(start) = page.body.find("<table id=\"bad-lines\"") else {
        return Vec::new();
    };
    let html = &page.body[start..start + page.body[start..].find("</table>").unwrap()];
    html.split("<tr><td class=\"num\">")
        .skip(1)
        .map(|row| {
            let line = row[..row.find("</td>").unwrap()].to_owned();
            let column =
                row[row.find("<code>").unwrap() + 6..row.find("</code>").unwrap()].to_owned();
            let rest = &row[row.find("</code></td><td>").unwrap() + 16..];
            (line, column, rest[..rest.find("</td>").unwrap()].to_owned())
        })
        .collect()
}

const HEADER: &str = "employee_number,email,display_name,site_code,role,active";

async fn hr_checks_a_file_sees_its_bad_lines_fixes_and_imports(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.site("OSA");
    let hr = app.user(Role::Hr, None);
    let mut browser = Browser::default();
    browser.sign_in(&app, &hr).await;
    let page = browser.get(&app, "/hr/imports").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("href=\"/hr/imports\""), "in the menu");
    assert!(
        !page.body.contains("value=\"sites\""),
        "the site registry is the admins'"
    );
    let csrf = page.csrf();
    let before = user_count(&app);

    let bad = format!(
        "{HEADER}\n\
         H-1,hana@example.com,Hana Mori,OSA,employee,true\n\
         H-2,not-an-email,Jiro Abe,OSA,employee,true\n\
         H-3,kei@example.com,Kei Ota,NOWHERE,employee,true\n"
    );
    let checked = send(
        &browser,
        &app,
        multipart(
            &[("csrf", &csrf), ("kind", "users"), ("action", "check")],
            Some(&bad),
        ),
    )
    .await;
    assert_eq!(checked.status, 422, "{}", checked.body);
    let lines = bad_lines(&checked);
    assert_eq!(
        lines
            .iter()
            .map(|(l, c, _)| (l.as_str(), c.as_str()))
            .collect::<Vec<_>>(),
        [("3", "email"), ("4", "site_code")],
        "both bad lines, with their file line and column: {lines:?}"
    );
    assert!(lines.iter().all(|(_, _, reason)| !reason.is_empty()));
    assert!(
        !checked.body.contains("id=\"confirm\""),
        "nothing to import"
    );
    assert_eq!(user_count(&app), before, "nothing written");

    let fixed = bad
        .replace("not-an-email", "jiro@example.com")
        .replace("NOWHERE", "OSA");
    let checked = send(
        &browser,
        &app,
        multipart(
            &[("csrf", &csrf), ("kind", "users"), ("action", "check")],
            Some(&fixed),
        ),
    )
    .await;
    assert_eq!(checked.status, 200, "{}", checked.body);
    assert!(checked.body.contains("id=\"confirm\""), "{}", checked.body);
    assert!(
        checked.body.contains("<dt>Created</dt><dd>3</dd>"),
        "three to create"
    );
    assert_eq!(user_count(&app), before, "a check writes nothing");

    // "Import" sends the checked text back, not the file.
    let content = {
        let at = checked.body.find("<textarea name=\"content\"").unwrap();
        let from = at + checked.body[at..].find('>').unwrap() + 1;
        let to = from + checked.body[from..].find("</textarea>").unwrap();
        checked.body[from..to]
            .replace("&#x2f;", "/")
            .replace("&amp;", "&")
            .replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
    };
    assert_eq!(content, fixed, "the checked file, unchanged");
    let imported = send(
        &browser,
        &app,
        multipart(
            &[
                ("csrf", &csrf),
                ("kind", "users"),
                ("content", &content),
                ("action", "import"),
            ],
            None,
        ),
    )
    .await;
    assert_eq!(imported.status, 200, "{}", imported.body);
    assert!(imported.body.contains("id=\"imported\""));
    assert_eq!(user_count(&app), before + 3);
    let names: Vec<String> = users::table
        .filter(users::employee_number.eq_any(["H-1", "H-2", "H-3"]))
        .select(users::display_name)
        .order(users::employee_number)
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(names, ["Hana Mori", "Jiro Abe", "Kei Ota"]);
}

async fn only_hr_and_admins_reach_the_imports(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let site = app.site("KOB");
    let file = format!("{HEADER}\nX-1,x@example.com,X,KOB,employee,true\n");
    for user in [
        app.user(Role::Employee, Some(site)),
        app.coordinator(&[site]),
    ] {
        let mut browser = Browser::default();
        browser.sign_in(&app, &user).await;
        let page = browser.get(&app, "/hr/imports").await;
        assert_eq!(page.status, 404, "{:?}", user.role);
        assert!(
            !page.body.contains("href=\"/hr/imports\""),
            "not in the menu"
        );
        let csrf = browser.get(&app, "/my/profile").await.csrf();
        let sent = send(
            &browser,
            &app,
            multipart(
                &[("csrf", &csrf), ("kind", "users"), ("action", "import")],
                Some(&file),
            ),
        )
        .await;
        assert_eq!(sent.status, 404, "{:?}: {}", user.role, sent.body);
    }
    let hr = app.user(Role::Hr, None);
    let mut browser = Browser::default();
    browser.sign_in(&app, &hr).await;
    let csrf = browser.get(&app, "/hr/imports").await.csrf();
    let sites = "code,name,company_code,country,region,timezone,opened_on,closed_on\n";
    let refused = send(
        &browser,
        &app,
        multipart(
            &[("csrf", &csrf), ("kind", "sites"), ("action", "check")],
            Some(sites),
        ),
    )
    .await;
    assert_eq!(refused.status, 404, "HR imports no site registry");
    // Without the session's token nothing happens.
    let before = user_count(&app);
    let forged = send(
        &browser,
        &app,
        multipart(
            &[
                ("csrf", "not-the-token"),
                ("kind", "users"),
                ("action", "import"),
            ],
            Some(&file),
        ),
    )
    .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert_eq!(user_count(&app), before);
    let empty = send(
        &browser,
        &app,
        multipart(
            &[("csrf", &csrf), ("kind", "users"), ("action", "check")],
            None,
        ),
    )
    .await;
    assert_eq!(empty.status, 422);
    assert!(empty.body.contains("id=\"problem\""));
}

/// Follows a background import's page until it shows the outcome (each look is one request;
/// the work itself takes milliseconds here, so the bound is generous).
async fn outcome_of(browser: &mut Browser, app: &TestApp, job: &str) -> Page {
    for _ in 0..2_000 {
        let page = browser.get(app, job).await;
        if !page.body.contains("id=\"running\"") {
            return page;
        }
    }
    panic!("the import at {job} did not end");
}

async fn a_large_file_is_checked_and_imported_in_the_background(backend: Backend) {
    let db = common::TestDb::new(&backend);
    let mut settings = db.settings();
    settings.server.import_background_bytes = 64;
    let app = TestApp::spawn_with(db, settings).await;
    app.site("OSA");
    let hr = app.user(Role::Hr, None);
    let other_hr = app.user(Role::Hr, None);
    let mut browser = Browser::default();
    browser.sign_in(&app, &hr).await;
    let csrf = browser.get(&app, "/hr/imports").await.csrf();
    let before = user_count(&app);
    let bad = format!(
        "{HEADER}\n\
         L-1,lena@example.com,Lena Abe,OSA,employee,true\n\
         L-2,mio@example.com,Mio Sato,NOWHERE,employee,true\n"
    );
    let started = send(
        &browser,
        &app,
        multipart(
            &[("csrf", &csrf), ("kind", "users"), ("action", "check")],
            Some(&bad),
        ),
    )
    .await;
    assert_eq!(started.status, 303, "{}", started.body);
    let job = started.location().unwrap();
    assert!(job.starts_with("/hr/imports/jobs/"), "{job}");
    let checked = outcome_of(&mut browser, &app, &job).await;
    assert_eq!(checked.status, 422, "{}", checked.body);
    assert_eq!(
        bad_lines(&checked)
            .iter()
            .map(|(l, c, _)| (l.as_str(), c.as_str()))
            .collect::<Vec<_>>(),
        [("3", "site_code")]
    );
    // Someone else's import is nobody else's business.
    let mut other = Browser::default();
    other.sign_in(&app, &other_hr).await;
    assert_eq!(other.get(&app, &job).await.status, 404);

    let fixed = bad.replace("NOWHERE", "OSA");
    let started = send(
        &browser,
        &app,
        multipart(
            &[("csrf", &csrf), ("kind", "users"), ("action", "check")],
            Some(&fixed),
        ),
    )
    .await;
    let checked = outcome_of(&mut browser, &app, &started.location().unwrap()).await;
    assert_eq!(checked.status, 200, "{}", checked.body);
    assert!(checked.body.contains("id=\"confirm\""));
    assert!(checked.body.contains("<dt>Created</dt><dd>2</dd>"));
    assert_eq!(user_count(&app), before, "a check writes nothing");
    let started = send(
        &browser,
        &app,
        multipart(
            &[
                ("csrf", &csrf),
                ("kind", "users"),
                ("content", &fixed),
                ("action", "import"),
            ],
            None,
        ),
    )
    .await;
    assert_eq!(started.status, 303);
    let imported = outcome_of(&mut browser, &app, &started.location().unwrap()).await;
    assert_eq!(imported.status, 200, "{}", imported.body);
    assert!(imported.body.contains("id=\"imported\""));
    assert_eq!(user_count(&app), before + 2);

    // A job another instance runs: the page says it is working and looks again by itself
    // (htmx, every second; without script the reader follows the link).
    let running = tomoni::jobs::start(&mut app.conn(), hr.id, "users", true, false).unwrap();
    let page = browser
        .get(
            &app,
            &format!("/hr/imports/jobs/{}", uuid::Uuid::from(running)),
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"running\""));
    assert!(page.body.contains("hx-trigger=\"every 1s\""));
    assert!(
        page.body
            .contains("<progress id=\"job-progress\"></progress>")
    );
    // One that nobody has run for hours stopped with its instance: nothing was written.
    diesel::update(
        tomoni::db::schema::import_jobs::table
            .filter(tomoni::db::schema::import_jobs::id.eq(running)),
    )
    .set(
        tomoni::db::schema::import_jobs::created_at.eq(tomoni::db::Timestamp::from(
            chrono::Utc::now() - chrono::Duration::hours(2),
        )),
    )
    .execute(&mut app.conn())
    .unwrap();
    let page = browser
        .get(
            &app,
            &format!("/hr/imports/jobs/{}", uuid::Uuid::from(running)),
        )
        .await;
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(page.body.contains("Upload the file again."));
}

/// Records of a closed fiscal year restate it: the check asks why, and the reason goes with the
/// confirmed import to HR's list of corrections.
async fn a_file_with_records_of_a_closed_year_asks_why(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.site("OSA");
    let hr = app.user(Role::Hr, None);
    let fy = common::last_ended_year();
    app.close_year(&hr, fy).await;
    let person = &app.employees(1, None)[0];
    let csv = format!(
        "site_code,program_code,program_title,theme,categories,event_date,employee_number,hours\n\
         OSA,LATE,Late sheet,nature,,{}-08-01,{},2\n",
        fy - 1,
        app.employee_number(person)
    );
    let mut browser = Browser::default();
    browser.sign_in(&app, &hr).await;
    let csrf = browser.get(&app, "/hr/imports").await.csrf();
    let check = [
        ("csrf", csrf.as_str()),
        ("kind", "participations"),
        ("action", "check"),
    ];
    let refused = send(&browser, &app, multipart(&check, Some(&csv))).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("give the reason"), "{}", refused.body);
    let mut with_reason = check.to_vec();
    with_reason.push(("restatement_reason", "The August sheet came late"));
    let checked = send(&browser, &app, multipart(&with_reason, Some(&csv))).await;
    assert_eq!(checked.status, 200, "{}", checked.body);
    assert!(
        checked
            .body
            .contains("name=\"restatement_reason\" value=\"The August sheet came late\""),
        "the confirmation carries the reason: {}",
        checked.body
    );
    let confirm = [
        ("csrf", csrf.as_str()),
        ("kind", "participations"),
        ("action", "import"),
        ("content", csv.as_str()),
        ("restatement_reason", "The August sheet came late"),
    ];
    let imported = send(&browser, &app, multipart(&confirm, None)).await;
    assert_eq!(imported.status, 200, "{}", imported.body);
    let (_, _, state) = app
        .call(
            "GET",
            &format!("/api/v1/stats/years/{fy}"),
            Some(&app.token(&hr)),
            None,
        )
        .await;
    assert_eq!(
        state["pending"][0]["reason"], "The August sheet came late",
        "{state}"
    );
}

/// A large file of a closed year's expense lines is checked in the background with the reason
/// given; the job's page carries that reason to its confirmation form, and the import with it
/// writes the lines.
async fn a_background_check_carries_the_restatement_reason(backend: Backend) {
    let db = common::TestDb::new(&backend);
    let mut settings = db.settings();
    settings.server.import_background_bytes = 64;
    let app = TestApp::spawn_with(db, settings).await;
    app.site("OSA");
    let hr = app.user(Role::Hr, None);
    let fy = common::last_ended_year();
    app.close_year(&hr, fy).await;
    let mut browser = Browser::default();
    browser.sign_in(&app, &hr).await;
    let csrf = browser.get(&app, "/hr/imports").await.csrf();
    let file = format!(
        "fiscal_year,kind,area,site_code,description,amount_yen,quantity,unit_price_yen\n\
         {fy},financial,community,OSA,Festival booked late,250000,,\n"
    );
    let reason = "a donation booked after the close";
    let started = send(
        &browser,
        &app,
        multipart(
            &[
                ("csrf", &csrf),
                ("kind", "expenses"),
                ("action", "check"),
                ("restatement_reason", reason),
            ],
            Some(&file),
        ),
    )
    .await;
    assert_eq!(started.status, 303, "{}", started.body);
    let checked = outcome_of(&mut browser, &app, &started.location().unwrap()).await;
    assert_eq!(checked.status, 200, "{}", checked.body);
    assert!(checked.body.contains("id=\"confirm\""));
    assert!(
        checked
            .body
            .contains(&format!("name=\"restatement_reason\" value=\"{reason}\"")),
        "the reason goes on to the import: {}",
        checked.body
    );
    let started = send(
        &browser,
        &app,
        multipart(
            &[
                ("csrf", &csrf),
                ("kind", "expenses"),
                ("content", &file),
                ("restatement_reason", reason),
                ("action", "import"),
            ],
            None,
        ),
    )
    .await;
    let imported = outcome_of(&mut browser, &app, &started.location().unwrap()).await;
    assert_eq!(imported.status, 200, "{}", imported.body);
    assert!(imported.body.contains("id=\"imported\""));
    let (_, _, totals) = app
        .get_as(
            &app.token(&hr),
            &format!("/api/v1/expenses/{fy}/totals?figures=current"),
        )
        .await;
    assert_eq!(totals["total_yen"], 250_000);
}

both_backends!(
    a_background_check_carries_the_restatement_reason,
    a_file_with_records_of_a_closed_year_asks_why,
    a_large_file_is_checked_and_imported_in_the_background,
    hr_checks_a_file_sees_its_bad_lines_fixes_and_imports,
    only_hr_and_admins_reach_the_imports,
);
