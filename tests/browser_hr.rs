//! HR's imports page in a real headless Chromium: HR uploads an employee file with two bad
//! lines and sees both with their line and column, uploads the fixed file, checks it and
//! imports it; English at desktop width, Japanese at phone width, axe-core clean. Screenshots
//! for the docs with `TOMONI_SCREENSHOTS=docs/screenshots`.

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

    for (lang, width, height) in [("en", 1280, 900), ("ja", 390, 844)] {
        let test = format!("hr_imports_{lang}-{db_name}");
        let Some(chrome) = Chrome::start(&test, &app.url(""), width, height).await else {
            return;
        };
        let label = if lang == "en" {
            "en-desktop"
        } else {
            "ja-phone"
        };
        chrome.goto("/hr/imports").await;
        chrome.sign_in(&hr).await;
        chrome.expect_path("signed in", "/hr/imports").await;
        chrome.goto(&format!("/lang/{lang}?next=/hr/imports")).await;
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

both_backends!(hr_fixes_two_bad_lines_and_imports);
