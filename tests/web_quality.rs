//! The data-quality page over real HTTP: a coordinator sees their sites' findings with links to
//! the records, another site's coordinator sees none of them and gets 404 for that site, HR
//! sees every site without links to pages it cannot open, an employee finds no such page, and
//! a bad year is a message on the page.

mod common;

use common::web::{Browser, Page};
use common::{Backend, TestApp};
use diesel::prelude::*;
use tomoni::auth::Role;
use tomoni::db::schema::attendance;

/// The "found" cell and the links of `check`'s row.
fn finding(page: &Page, check: &str) -> (String, Vec<String>) {
    let at = page
        .body
        .find(&format!("data-check=\"{check}\""))
        .unwrap_or_else(|| panic!("no row {check}: {}", page.body));
    let row = &page.body[at..at + page.body[at..].find("</tr>").unwrap()];
    let cell = row.split("<td class=\"num\">").nth(1).unwrap();
    let count = cell[..cell.find("</td>").unwrap()].to_owned();
    let links = row
        .split("<a href=\"")
        .skip(1)
        .map(|l| l[..l.find('"').unwrap()].replace("&#x2f;", "/"))
        .collect();
    (count, links)
}

async fn each_reader_sees_the_findings_of_their_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let osa = app.site("OSA");
    let kob = app.site("KOB");
    let hr = app.user(Role::Hr, None);
    let people = app.employees(2, Some(osa));
    let mut csv = String::from(
        "site_code,program_code,program_title,theme,categories,event_date,employee_number,hours\n",
    );
    for (p, hours) in people.iter().zip(["4", "3"]) {
        let n = app.employee_number(p);
        csv.push_str(&format!(
            "OSA,PARK,Park,community,,2025-06-01,{n},{hours}\n"
        ));
    }
    app.import_participations(&app.token(&hr), csv).await;
    // The imported event lasts eight hours (its longest record, at least a working day); a
    // record corrected to ten hours afterwards is longer than the event.
    let long: uuid::Uuid = attendance::table
        .filter(attendance::user_id.eq(people[0].id))
        .select(attendance::id)
        .first::<tomoni::db::Id>(&mut app.conn())
        .unwrap()
        .into();
    diesel::update(attendance::table.filter(attendance::user_id.eq(people[0].id)))
        .set(attendance::minutes.eq(600))
        .execute(&mut app.conn())
        .unwrap();

    let mut own = Browser::default();
    own.sign_in(&app, &app.coordinator(&[osa])).await;
    let page = own.get(&app, "/quality?fiscal_year=2026").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("href=\"/quality\""), "in the menu");
    let (count, links) = finding(&page, "hours_longer_than_event");
    assert_eq!(count, "1");
    assert_eq!(links, [format!("/manage/attendance/{long}")]);
    let record = own.get(&app, &links[0]).await;
    assert_eq!(record.status, 200, "the link opens the record");
    assert_eq!(finding(&page, "over_24h_a_day").0, "None");

    let mut other = Browser::default();
    other.sign_in(&app, &app.coordinator(&[kob])).await;
    let page = other.get(&app, "/quality?fiscal_year=2026").await;
    assert_eq!(page.status, 200);
    assert_eq!(finding(&page, "hours_longer_than_event").0, "None");
    let osa_scope = format!(
        "/quality?fiscal_year=2026&scope=site:{}",
        uuid::Uuid::from(osa)
    );
    let refused = other.get(&app, &osa_scope).await;
    assert_eq!(refused.status, 404, "another site's findings");

    let mut desk = Browser::default();
    desk.sign_in(&app, &hr).await;
    let page = desk.get(&app, &osa_scope).await;
    assert_eq!(page.status, 200);
    let (count, links) = finding(&page, "hours_longer_than_event");
    assert_eq!(
        (count.as_str(), links.len()),
        ("1", 0),
        "HR: no pages to link to"
    );
    let bad = desk.get(&app, "/quality?fiscal_year=someday").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("id=\"problem\""));
    let mut ja = desk.clone();
    ja.cookies.push(("tomoni_lang".into(), "ja".into()));
    let page = ja.get(&app, "/quality?fiscal_year=2026").await;
    assert!(
        page.body
            .contains("出席時間がイベントの長さを超えています。")
    );

    let mut employee = Browser::default();
    employee
        .sign_in(&app, &app.user(Role::Employee, Some(osa)))
        .await;
    let page = employee.get(&app, "/quality").await;
    assert_eq!(page.status, 404);
    assert!(!page.body.contains("href=\"/quality\""));
}

both_backends!(each_reader_sees_the_findings_of_their_scope);
