//! The awards over real HTTP: HR sets a year up, coordinators nominate their sites' eligible
//! programmes, judges score everyone's but their own site's, HR decides the winners.

mod common;

use chrono::NaiveDate;
use common::{Backend, TestApp, assert_problem, last_ended_year};
use serde_json::{Value, json};
use tomoni::auth::Role;
use tomoni::db::Id;

fn overseas(app: &TestApp, site: Id) {
    use diesel::prelude::*;
    use tomoni::db::schema::sites;
    diesel::update(sites::table.find(site))
        .set(sites::region.eq("overseas"))
        .execute(&mut app.conn())
        .expect("the site moves overseas");
}

fn id_of<'a>(list: &'a Value, key: &str, value: &str) -> &'a str {
    list.as_array()
        .and_then(|l| l.iter().find(|x| x[key] == value))
        .and_then(|x| x["id"].as_str().or_else(|| x["program_id"].as_str()))
        .unwrap_or_else(|| panic!("{key} = {value} in {list}"))
}

async fn awards_run_from_nomination_to_winner(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let fy = last_ended_year();
    let day = NaiveDate::from_ymd_opt(fy - 1, 7, 1).unwrap();
    let hr = app.user(Role::Hr, None);
    let osaka = app.site("OSA");
    let singapore = app.site("SGP");
    overseas(&app, singapore);
    app.past_records(&hr, "OSA", "BEACH", "", day, &app.employees(3, None))
        .await;
    app.past_records(
        &hr,
        "SGP",
        "REEF",
        "biodiversity",
        day,
        &app.employees(2, None),
    )
    .await;
    let coord_osa = app.coordinator(&[osaka]);
    let coord_sgp = app.coordinator(&[singapore]);
    let idle = app
        .program(
            &app.token(&coord_osa),
            osaka,
            json!({"code": "IDLE", "title": "Nothing happened"}),
        )
        .await;
    let judge_osa = app.user(Role::Employee, Some(osaka));
    let judge_hq = app.user(Role::Hr, None);
    let employee = app.user(Role::Employee, Some(osaka));
    let hr_token = app.token(&hr);

    let (status, _, setup) = app
        .call(
            "PUT",
            &format!("/api/v1/awards/{fy}/setup"),
            Some(&hr_token),
            Some(json!({
                "categories": [{"name": "Grand Award", "region": "domestic"},
                               {"name": "Grand Award", "region": "overseas"},
                               {"name": "Best PR", "region": null}],
                "criteria": [{"name": "Business relevance", "weight": 40},
                             {"name": "Sustainability", "weight": 30},
                             {"name": "Novelty", "weight": 30}],
                "judges": [judge_osa.id, judge_hq.id]})),
        )
        .await;
    assert_eq!(status, 200, "{setup}");
    assert_eq!(setup["eligible_programs"], 2, "BEACH and REEF: {setup}");
    let grand_domestic = setup["categories"][0]["id"].as_str().unwrap().to_owned();
    let grand_overseas = setup["categories"][1]["id"].as_str().unwrap().to_owned();
    let criteria: Vec<String> = setup["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();

    // What each may nominate: the coordinator their site's programmes with attendance.
    let (_, _, mine) = app
        .get_as(
            &app.token(&coord_osa),
            &format!("/api/v1/awards/{fy}/eligible"),
        )
        .await;
    assert_eq!(mine["count"], 1, "{mine}");
    assert_eq!(mine["programs"][0]["code"], "BEACH");
    assert_eq!(mine["programs"][0]["participants"], 3);
    let (_, _, all) = app
        .get_as(&hr_token, &format!("/api/v1/awards/{fy}/eligible"))
        .await;
    assert_eq!(all["count"], 2, "{all}");
    let beach = id_of(&all["programs"], "code", "BEACH").to_owned();
    let reef = id_of(&all["programs"], "code", "REEF").to_owned();
    let refused = app
        .get_as(
            &app.token(&employee),
            &format!("/api/v1/awards/{fy}/eligible"),
        )
        .await;
    assert_problem(&refused, 403, "forbidden");

    let nominate = |token: String, category: &str, program: &str| {
        let body = json!({"category_id": category, "program_id": program,
                          "statement": "Three years of monthly clean-ups with the town"});
        let app = &app;
        async move {
            app.call(
                "POST",
                "/api/v1/awards/nominations",
                Some(&token),
                Some(body),
            )
            .await
        }
    };
    let ineligible = nominate(app.token(&coord_osa), &grand_domestic, &idle).await;
    let problem = assert_problem(&ineligible, 422, "validation_failed");
    assert_eq!(problem["errors"][0]["code"], "not_eligible", "{problem}");
    let region = nominate(app.token(&coord_osa), &grand_overseas, &beach).await;
    let problem = assert_problem(&region, 422, "validation_failed");
    assert_eq!(problem["errors"][0]["code"], "wrong_region", "{problem}");
    let other_site = nominate(app.token(&coord_osa), &grand_overseas, &reef).await;
    assert_problem(&other_site, 403, "forbidden");
    let (status, _, beach_nom) = nominate(app.token(&coord_osa), &grand_domestic, &beach).await;
    assert_eq!(status, 201, "{beach_nom}");
    let twice = nominate(app.token(&coord_osa), &grand_domestic, &beach).await;
    assert_problem(&twice, 409, "already_nominated");
    let (status, _, reef_nom) = nominate(app.token(&coord_sgp), &grand_overseas, &reef).await;
    assert_eq!(status, 201, "{reef_nom}");
    let beach_nom = beach_nom["id"].as_str().unwrap();
    let reef_nom = reef_nom["id"].as_str().unwrap();

    let scores = |values: [i32; 3]| {
        json!({"scores": criteria.iter().zip(values)
            .map(|(c, v)| json!({"criterion_id": c, "score": v})).collect::<Vec<_>>()})
    };
    let score = |token: String, nomination: &str, body: Value| {
        let path = format!("/api/v1/awards/nominations/{nomination}/scores");
        let app = &app;
        async move { app.call("PUT", &path, Some(&token), Some(body)).await }
    };
    // A judge of Osaka does not score Osaka's nomination; a non-judge scores nothing.
    let own = score(app.token(&judge_osa), beach_nom, scores([5, 5, 5])).await;
    assert_problem(&own, 403, "own_site");
    let not_judge = score(app.token(&employee), reef_nom, scores([5, 5, 5])).await;
    assert_problem(&not_judge, 403, "forbidden");
    let partial = score(
        app.token(&judge_hq),
        reef_nom,
        json!({"scores": [{"criterion_id": criteria[0], "score": 3}]}),
    )
    .await;
    assert_problem(&partial, 422, "validation_failed");
    let out_of_range = score(app.token(&judge_hq), reef_nom, scores([6, 3, 3])).await;
    assert_problem(&out_of_range, 422, "validation_failed");
    for (judge, nomination, values) in [
        (&judge_osa, reef_nom, [4, 4, 4]),
        (&judge_hq, reef_nom, [2, 2, 2]),
        (&judge_hq, beach_nom, [5, 4, 3]),
    ] {
        let (status, _, body) = score(app.token(judge), nomination, scores(values)).await;
        assert_eq!(status, 204, "{body}");
    }

    let (_, _, seen) = app.get_as(&hr_token, &format!("/api/v1/awards/{fy}")).await;
    let by_id = |id: &str| {
        seen["nominations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} in {seen}"))
    };
    // (5×40 + 4×30 + 3×30) / 100 = 4.1; the reef's judges average 3 on each criterion.
    assert_eq!(by_id(beach_nom)["score"], 4.1, "{seen}");
    assert_eq!(by_id(beach_nom)["judged_by"], 1);
    assert_eq!(by_id(reef_nom)["score"], 3.0);
    assert_eq!(by_id(reef_nom)["judged_by"], 2);
    assert_eq!(seen["judges"].as_array().map(Vec::len), Some(2));

    let (status, _, body) = app
        .call(
            "PUT",
            &format!("/api/v1/awards/categories/{grand_domestic}/winner"),
            Some(&hr_token),
            Some(json!({"nomination_id": reef_nom})),
        )
        .await;
    assert_eq!(status, 422, "another category's nomination: {body}");
    let (status, _, body) = app
        .call(
            "PUT",
            &format!("/api/v1/awards/categories/{grand_domestic}/winner"),
            Some(&app.token(&coord_osa)),
            Some(json!({"nomination_id": beach_nom})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, _, body) = app
        .call(
            "PUT",
            &format!("/api/v1/awards/categories/{grand_domestic}/winner"),
            Some(&hr_token),
            Some(json!({"nomination_id": beach_nom})),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let late = score(app.token(&judge_hq), beach_nom, scores([1, 1, 1])).await;
    assert_problem(&late, 409, "award_decided");

    // Everyone sees the winners; a coordinator their site's nominations without scores;
    // an employee no nominations.
    let (_, _, public) = app
        .get_as(&app.token(&employee), &format!("/api/v1/awards/{fy}"))
        .await;
    assert_eq!(public["nominations"], json!([]), "{public}");
    assert_eq!(public["judges"], json!([]));
    assert_eq!(public["winners"][0]["program_code"], "BEACH", "{public}");
    assert_eq!(public["winners"][0]["category"], "Grand Award");
    assert_eq!(public["winners"][0]["region"], "domestic");
    let (_, _, coordinator) = app
        .get_as(&app.token(&coord_sgp), &format!("/api/v1/awards/{fy}"))
        .await;
    let listed = coordinator["nominations"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{coordinator}");
    assert_eq!(listed[0]["program_code"], "REEF");
    assert_eq!(
        listed[0]["score"],
        Value::Null,
        "no scores for a coordinator"
    );

    // Categories and criteria are fixed once used; the panel is not.
    let (status, _, body) = app
        .call(
            "PUT",
            &format!("/api/v1/awards/{fy}/setup"),
            Some(&hr_token),
            Some(json!({"categories": [{"name": "Only one", "region": null}],
                        "criteria": [{"name": "Novelty", "weight": 1}], "judges": []})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "awards_under_way");
    let (status, _, body) = app
        .call(
            "PUT",
            &format!("/api/v1/awards/{fy}/setup"),
            Some(&hr_token),
            Some(json!({
                "categories": [{"name": "Grand Award", "region": "domestic"},
                               {"name": "Grand Award", "region": "overseas"},
                               {"name": "Best PR", "region": null}],
                "criteria": [{"name": "Business relevance", "weight": 40},
                             {"name": "Sustainability", "weight": 30},
                             {"name": "Novelty", "weight": 30}],
                "judges": [judge_hq.id]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["categories"][0]["id"], grand_domestic, "ids kept");
    assert_eq!(body["judges"].as_array().map(Vec::len), Some(1));
}

both_backends!(awards_run_from_nomination_to_winner);
