//! The awards page over real HTTP: HR sets the year up (a bad line is named and the text kept),
//! a coordinator nominates an eligible programme (an ineligible one is refused on the page), a
//! judge scores another site's nomination but is offered no form for their own, HR decides,
//! and an employee reads the winner.

mod common;

use chrono::NaiveDate;
use common::web::Browser;
use common::{Backend, TestApp, last_ended_year};
use tomoni::auth::Role;

fn email(app: &TestApp, user: &common::TestUser) -> String {
    use diesel::prelude::*;
    tomoni::db::schema::users::table
        .find(user.id)
        .select(tomoni::db::schema::users::email)
        .first(&mut app.conn())
        .expect("the email")
}

async fn awards_run_on_their_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let fy = last_ended_year();
    let day = NaiveDate::from_ymd_opt(fy - 1, 8, 1).unwrap();
    let hr = app.user(Role::Hr, None);
    let osaka = app.site("OSA");
    let kobe = app.site("KOB");
    app.past_records(&hr, "OSA", "BEACH", "", day, &app.employees(3, None))
        .await;
    let coordinator = app.coordinator(&[osaka]);
    let idle = app
        .program(
            &app.token(&coordinator),
            osaka,
            serde_json::json!({"code": "IDLE"}),
        )
        .await;
    let judge_kobe = app.user(Role::Employee, Some(kobe));
    let judge_osaka = app.user(Role::Employee, Some(osaka));
    let page = format!("/awards/{fy}");

    let mut hr_browser = Browser::default();
    hr_browser.sign_in(&app, &hr).await;
    let empty = hr_browser.get(&app, &page).await;
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert!(empty.body.contains("id=\"not-set-up\""));
    assert!(
        empty.body.contains("1 programmes had approved attendance"),
        "{}",
        empty.body
    );
    let csrf = empty.csrf();
    let judges = format!(
        "{}\n{}",
        email(&app, &judge_kobe),
        email(&app, &judge_osaka)
    );
    let bad = hr_browser
        .post(
            &app,
            &page,
            &[
                ("csrf", &csrf),
                ("action", "setup"),
                ("categories", "Grand Award | domestic\nBest PR | nowhere"),
                ("criteria", "Novelty | 50"),
                ("judges", &judges),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(
        bad.body.contains("line 2"),
        "the bad line named: {}",
        bad.body
    );
    assert!(bad.body.contains("Best PR | nowhere"), "the text kept");
    let saved = hr_browser
        .post(
            &app,
            &page,
            &[
                ("csrf", &csrf),
                ("action", "setup"),
                ("categories", "Grand Award | domestic\nBest PR"),
                ("criteria", "Business relevance | 60\nNovelty | 40"),
                ("judges", &judges),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);

    let mut coord = Browser::default();
    coord.sign_in(&app, &coordinator).await;
    let form = coord.get(&app, &page).await;
    assert!(form.body.contains("id=\"nominate-form\""), "{}", form.body);
    assert!(
        form.body.contains("BEACH"),
        "the eligible programme offered"
    );
    assert!(
        !form.body.contains(&idle),
        "an ineligible one is not offered"
    );
    let at = form.body.find("name=\"category_id\"").unwrap();
    let category = {
        let rest = &form.body[at..];
        let v = rest.find("value=\"").unwrap() + 7;
        rest[v..v + 36].to_owned()
    };
    let at = form.body.find("name=\"program_id\"").unwrap();
    let beach = {
        let rest = &form.body[at..];
        let v = rest.find("value=\"").unwrap() + 7;
        rest[v..v + 36].to_owned()
    };
    let csrf = form.csrf();
    let refused = coord
        .post(
            &app,
            &page,
            &[
                ("csrf", &csrf),
                ("action", "nominate"),
                ("category_id", &category),
                ("program_id", &idle),
                ("statement", "Keeps trying"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("id=\"problem\""));
    assert!(refused.body.contains("Keeps trying"), "the statement kept");
    let nominated = coord
        .post(
            &app,
            &page,
            &[
                ("csrf", &csrf),
                ("action", "nominate"),
                ("category_id", &category),
                ("program_id", &beach),
                ("statement", "Monthly clean-ups with the town"),
            ],
        )
        .await;
    assert_eq!(nominated.status, 303, "{}", nominated.body);

    // The Kobe judge scores Osaka's nomination; the Osaka judge has no form for it.
    let mut kobe_judge = Browser::default();
    kobe_judge.sign_in(&app, &judge_kobe).await;
    let judging = kobe_judge.get(&app, &page).await;
    assert!(judging.body.contains("id=\"you-judge\""));
    assert!(
        judging.body.contains("class=\"score-form\""),
        "{}",
        judging.body
    );
    let nomination = {
        let at = judging
            .body
            .find("name=\"nomination_id\" value=\"")
            .unwrap()
            + 28;
        judging.body[at..at + 36].to_owned()
    };
    let criteria: Vec<String> = judging
        .body
        .match_indices("name=\"score_")
        .map(|(i, _)| judging.body[i + 12..i + 48].to_owned())
        .collect();
    assert_eq!(criteria.len(), 2);
    let csrf = judging.csrf();
    let s0 = format!("score_{}", criteria[0]);
    let s1 = format!("score_{}", criteria[1]);
    let scored = kobe_judge
        .post(
            &app,
            &page,
            &[
                ("csrf", &csrf),
                ("action", "score"),
                ("nomination_id", &nomination),
                (&s0, "5"),
                (&s1, "3"),
            ],
        )
        .await;
    assert_eq!(scored.status, 303, "{}", scored.body);
    let after = kobe_judge.get(&app, &format!("{page}?done=score")).await;
    // (5 × 60 + 3 × 40) / 100 = 4.2
    assert!(
        after.body.contains("Score 4.20 from 1 judges"),
        "{}",
        after.body
    );
    assert!(
        after.body.contains("<option value=\"5\" selected>"),
        "my scores shown"
    );
    let mut osaka_judge = Browser::default();
    osaka_judge.sign_in(&app, &judge_osaka).await;
    let own = osaka_judge.get(&app, &page).await;
    assert!(own.body.contains("id=\"you-judge\""));
    assert!(
        !own.body.contains("class=\"score-form\""),
        "not their own site's"
    );

    let page_now = hr_browser.get(&app, &page).await;
    let csrf = page_now.csrf();
    let decided = hr_browser
        .post(
            &app,
            &page,
            &[
                ("csrf", &csrf),
                ("action", "decide"),
                ("category_id", &category),
                ("nomination_id", &nomination),
            ],
        )
        .await;
    assert_eq!(decided.status, 303, "{}", decided.body);

    let mut employee = Browser::default();
    employee
        .sign_in(&app, &app.user(Role::Employee, Some(kobe)))
        .await;
    let public = employee.get(&app, &page).await;
    assert_eq!(public.status, 200);
    assert!(public.body.contains("class=\"winner\""), "{}", public.body);
    assert!(
        !public.body.contains("Monthly clean-ups"),
        "no nominations for an employee"
    );
    assert!(!public.body.contains("id=\"nominate-form\""));
    assert!(!public.body.contains("id=\"setup-form\""));
    let forged = employee
        .post(
            &app,
            &page,
            &[
                ("csrf", &public.csrf()),
                ("action", "decide"),
                ("category_id", &category),
                ("nomination_id", &nomination),
            ],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);

    let mut ja = employee.clone();
    ja.cookies.push(("tomoni_lang".into(), "ja".into()));
    let ja_page = ja.get(&app, &page).await;
    assert!(ja_page.body.contains("優秀活動表彰"), "{}", ja_page.body);
}

both_backends!(awards_run_on_their_page);
