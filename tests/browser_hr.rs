//! HR's pages in a real headless Chromium. Imports: HR uploads an employee file with two bad
//! lines and sees both with their line and column, uploads the fixed file, checks it and
//! imports it. People: HR finds people, adds a coordinator (a refused email first), changes and
//! deactivates them. English at desktop width, Japanese at phone width, axe-core clean on every
//! page. Screenshots for the docs with `TOMONI_SCREENSHOTS=docs/screenshots`.

mod common;

use common::chrome::Chrome;
use common::{Backend, TestApp};
use diesel::prelude::*;
use tomoni::auth::Role;
use tomoni::db::schema::users;

const HEADER: &str = "employee_number,email,display_name,site_code,role,active";

/// The table of bad lines as the browser shows it: (line, column) per row.
async fn shown_bad_lines(chrome: &Chrome) -> Vec<(String, String)> {
    let got = chrome
        .client
        .execute(
            "return [...document.querySelectorAll('#bad-lines tbody tr')].map(r => \
             [r.cells[0].innerText.trim(), r.cells[1].innerText.trim()]);",
            vec![],
        )
        .await
        .expect("rows");
    serde_json::from_value(got).expect("pairs")
}

async fn hr_fixes_two_bad_lines_and_imports(backend: Backend) {
    let db_name = backend.name();
    let app = TestApp::spawn(backend).await;
    app.site("OSA");
    let hr = app.user(Role::Hr, None);
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("people-bad.csv");
    let fixed = dir.path().join("people.csv");
    let bad_text = format!(
        "{HEADER}\n\
         B-1,aya@example.com,Aya Kato,OSA,employee,true\n\
         B-2,aya@example.com,Ben Ito,OSA,employee,true\n\
         B-3,chie@example.com,Chie Sato,OSA,boss,true\n"
    );
    std::fs::write(&bad, &bad_text).expect("bad file");
    std::fs::write(
        &fixed,
        bad_text
            .replacen("aya@example.com,Ben", "ben@example.com,Ben", 1)
            .replace("boss", "coordinator"),
    )
    .expect("fixed file");

    for lang in ["en", "ja"] {
        let test = format!("hr_imports-{db_name}");
        let Some((chrome, label)) = Chrome::signed_in(&test, &app, &hr, lang, "/hr/imports").await
        else {
            return;
        };
        chrome.find("the form", "#upload").await;
        chrome.axe(&format!("imports ({lang})")).await;
        let file = chrome.find("file input", "#file").await;
        file.send_keys(&bad.to_string_lossy())
            .await
            .expect("choose the bad file");
        chrome.click("check", "#check").await;
        chrome.find("the bad lines", "#bad-lines").await;
        assert_eq!(
            shown_bad_lines(&chrome).await,
            [
                ("3".to_owned(), "email".to_owned()),
                ("4".to_owned(), "role".to_owned())
            ],
            "both bad lines with line and column ({lang})"
        );
        chrome.axe(&format!("bad lines ({lang})")).await;
        chrome.shot("imports-bad-lines", label).await;
        if lang == "ja" {
            chrome.close().await;
            continue;
        }
        let file = chrome.find("file input", "#file").await;
        file.send_keys(&fixed.to_string_lossy())
            .await
            .expect("choose the fixed file");
        chrome.click("check again", "#check").await;
        chrome.find("the confirmation", "#confirm").await;
        chrome.axe("checked (en)").await;
        chrome.shot("imports-checked", label).await;
        let count: i64 = users::table
            .filter(users::employee_number.like("B-%"))
            .count()
            .get_result(&mut app.conn())
            .expect("count");
        assert_eq!(count, 0, "nothing written before Import");
        chrome.click("import", "#import").await;
        chrome.find("imported", "#imported").await;
        let roles: Vec<(String, String)> = users::table
            .filter(users::employee_number.like("B-%"))
            .select((users::email, users::role))
            .order(users::employee_number)
            .load(&mut app.conn())
            .expect("imported");
        assert_eq!(
            roles,
            [
                ("aya@example.com".to_owned(), "employee".to_owned()),
                ("ben@example.com".to_owned(), "employee".to_owned()),
                ("chie@example.com".to_owned(), "coordinator".to_owned()),
            ]
        );
        chrome.close().await;
    }
}

async fn hr_adds_changes_and_deactivates_a_person(backend: Backend) {
    let db_name = backend.name();
    let app = TestApp::spawn(backend).await;
    app.site("OSA");
    app.site("KOB");
    app.employees(3, None);
    let hr = app.user(Role::Hr, None);
    for lang in ["en", "ja"] {
        let test = format!("hr_people-{db_name}");
        let number = format!("P-{lang}");
        let Some((chrome, label)) = Chrome::signed_in(&test, &app, &hr, lang, "/hr/people").await
        else {
            return;
        };
        chrome.find("the list", "#people").await;
        chrome.axe(&format!("people ({lang})")).await;
        chrome.click("new person", "#new-person").await;
        chrome.find("the form", "#person").await;
        chrome.axe(&format!("new person ({lang})")).await;
        chrome.fill("name", "#display_name", "Daichi Mori").await;
        chrome
            .fill("email", "#email", &format!("daichi.{lang}@example.com"))
            .await;
        chrome.fill("number", "#employee_number", &number).await;
        chrome.set_value("role", "#role", "coordinator").await;
        chrome
            .fill("sites", "#coordinated_site_ids", "OSA, NOPE")
            .await;
        chrome.click("create", "#save-person").await;
        chrome
            .find("the refusal", "#problem-coordinated_site_ids")
            .await;
        chrome.axe(&format!("refused person ({lang})")).await;
        chrome.shot("person-refused", label).await;
        chrome
            .fill("sites", "#coordinated_site_ids", "OSA, KOB")
            .await;
        chrome.click("create", "#save-person").await;
        chrome.find("created", "#notice").await;
        chrome.axe(&format!("person ({lang})")).await;
        chrome.shot("person", label).await;
        let sites: i64 = tomoni::db::schema::coordinator_sites::table
            .inner_join(users::table)
            .filter(users::employee_number.eq(&number))
            .count()
            .get_result(&mut app.conn())
            .expect("count");
        assert_eq!(sites, 2, "coordinates OSA and KOB ({lang})");
        chrome.click("deactivate", "#deactivate").await;
        chrome.find("deactivated", "#inactive").await;
        let active: bool = users::table
            .filter(users::employee_number.eq(&number))
            .select(users::active)
            .first(&mut app.conn())
            .expect("person");
        assert!(!active, "deactivated ({lang})");
        chrome.goto("/hr/people?q=daichi").await;
        chrome.find("found", "#people").await;
        chrome.axe(&format!("found people ({lang})")).await;
        chrome.shot("people", label).await;
        chrome.close().await;
    }
}

async fn hr_downloads_a_participation_workbook(backend: Backend) {
    let db_name = backend.name();
    let app = TestApp::spawn(backend).await;
    let hr = app.user(Role::Hr, None);
    let site = app.site("OSA");
    let people = app.employees(4, Some(site));
    let mut csv = String::from(
        "site_code,program_code,program_title,theme,categories,event_date,employee_number,hours\n",
    );
    let mut numbers = Vec::new();
    for p in &people {
        let n = app.employee_number(p);
        csv.push_str(&format!(
            "OSA,RIVER,River clean-up,nature,,2025-05-10,{n},2.5\n"
        ));
        numbers.push(n);
    }
    app.import_participations(&app.token(&hr), csv).await;
    for lang in ["en", "ja"] {
        let test = format!("hr_exports-{db_name}");
        let Some((chrome, label)) = Chrome::signed_in(&test, &app, &hr, lang, "/hr/exports").await
        else {
            return;
        };
        chrome.find("the form", "#export").await;
        chrome.axe(&format!("exports ({lang})")).await;
        chrome.set_value("year", "#fiscal_year", "2026").await;
        chrome.fill("purpose", "#purpose", "FY2026 report").await;
        chrome.click("download", "#download").await;
        let file = chrome.downloaded("the workbook", ".xlsx").await;
        let rows = common::xlsx_rows(&std::fs::read(&file).expect("the workbook"));
        assert_eq!(
            rows.len(),
            1 + numbers.len(),
            "header and four records ({lang})"
        );
        let col = rows[0]
            .iter()
            .position(|h| h == "employee_number")
            .expect("column");
        let mut got: Vec<String> = rows[1..].iter().map(|r| r[col].clone()).collect();
        got.sort();
        let mut want = numbers.clone();
        want.sort();
        assert_eq!(got, want, "{lang}");
        // The export is listed, with its purpose, once the page is read again.
        chrome.goto("/hr/exports").await;
        chrome.expect_text("listed", "#past", "FY2026 report").await;
        chrome.axe(&format!("exports listed ({lang})")).await;
        chrome.shot("exports", label).await;
        chrome.close().await;
    }
}

async fn a_background_import_shows_it_is_working_then_its_outcome(backend: Backend) {
    let db_name = backend.name();
    let app = TestApp::spawn(backend).await;
    let hr = app.user(Role::Hr, None);
    for lang in ["en", "ja"] {
        // A check that another instance runs: this one knows only that it is running.
        let job = tomoni::jobs::start(&mut app.conn(), hr.id, "users", true, false).expect("job");
        let path = format!("/hr/imports/jobs/{}", uuid::Uuid::from(job));
        let test = format!("hr_import_job-{db_name}");
        let Some((chrome, label)) = Chrome::signed_in(&test, &app, &hr, lang, &path).await else {
            return;
        };
        chrome.find("working", "#running").await;
        chrome.axe(&format!("import running ({lang})")).await;
        chrome.shot("import-running", label).await;
        let checked = format!("{HEADER}\nJ-1,jo@example.com,Jo Ito,,employee,true\n");
        tomoni::jobs::finish(
            &mut app.conn(),
            job,
            tomoni::jobs::Status::Done,
            r#"{"report": {"rows": 1, "created": 1, "updated": 0}}"#,
            Some(&checked),
        )
        .expect("finish");
        // The page looks again by itself and shows the outcome, ready to import.
        chrome.find("the outcome", "#confirm").await;
        chrome.axe(&format!("import checked ({lang})")).await;
        chrome.close().await;
    }
}

/// HR closes the last ended year (English, desktop); a correction arrives through the API with
/// its reason; HR restates the year (Japanese, phone). axe-core clean at each step.
async fn hr_closes_and_restates_a_year(backend: Backend) {
    let db_name = backend.name();
    let app = TestApp::spawn(backend).await;
    let fy = common::last_ended_year();
    app.site("OSA");
    let hr = app.user(Role::Hr, None);
    let admin = app.user(Role::Admin, None);
    let people = app.employees(3, None);
    let day = chrono::NaiveDate::from_ymd_opt(fy - 1, 7, 1).expect("a day");
    app.past_records(&hr, "OSA", "FOREST", "biodiversity", day, &people)
        .await;
    let test = format!("hr_years-{db_name}");
    let Some((chrome, label)) = Chrome::signed_in(&test, &app, &hr, "en", "/hr/years").await else {
        return;
    };
    chrome.axe("years (en)").await;
    chrome
        .click_to_new_page("close the year", &format!("#close-{fy}"))
        .await;
    chrome
        .expect_text("closed", "#done", "The year is closed")
        .await;
    chrome.axe("closed (en)").await;
    chrome.shot("years", label).await;
    chrome.close().await;

    app.reject_restating(&admin, &people[0], "7月の集計で重複")
        .await;
    let Some((chrome, label)) = Chrome::signed_in(&test, &app, &hr, "ja", "/hr/years").await else {
        return;
    };
    chrome
        .expect_text(
            "the waiting correction",
            &format!("#pending-{fy}"),
            "7月の集計で重複",
        )
        .await;
    chrome.axe("pending (ja)").await;
    chrome.shot("years-pending", label).await;
    chrome
        .fill("note", &format!("#restate-note-{fy}"), "7月分の重複を修正")
        .await;
    chrome
        .click_to_new_page("restate", &format!("#restate-{fy}"))
        .await;
    chrome
        .expect_text("restated", "#done", "新しい版を公表しました")
        .await;
    chrome
        .expect_text(
            "version 2",
            &format!("#versions-table-{fy}"),
            "7月分の重複を修正",
        )
        .await;
    chrome.axe("restated (ja)").await;
    chrome.close().await;
}

both_backends!(
    hr_closes_and_restates_a_year,
    a_background_import_shows_it_is_working_then_its_outcome,
    hr_downloads_a_participation_workbook,
    hr_fixes_two_bad_lines_and_imports,
    hr_adds_changes_and_deactivates_a_person,
);
