//! The social contribution expenses ledger over real HTTP: lines by kind (an amount, or
//! quantity × unit price), the all-or-nothing CSV import, and totals that equal the ledger,
//! printed as the report rounds them.

mod common;

use common::{Backend, TestApp, assert_problem};
use serde_json::{Value, json};
use tomoni::auth::Role;

async fn import(app: &TestApp, token: &str, csv: &str, dry_run: bool) -> (u16, Value) {
    let mut res = app
        .client()
        .post(app.url(&format!("/api/v1/expenses/import?dry_run={dry_run}")))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("content-type", "text/csv"))
        .send_body(csv.to_owned())
        .await
        .expect("import");
    let (status, _, body) = common::read_json(&mut res).await;
    (status, body)
}

const HEADER: &str =
    "fiscal_year,kind,area,site_code,description,amount_yen,quantity,unit_price_yen";

async fn expense_totals_equal_the_ledger(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let osaka = app.site("OSA");
    app.site("KOB");
    let hr = app.token(&app.user(Role::Hr, None));
    let employee = app.token(&app.user(Role::Employee, None));
    let lines = [
        json!({"fiscal_year": 2026, "kind": "financial", "area": "academia_research_education",
               "site_id": osaka.to_string(), "description": "University endowment",
               "amount_yen": 300_000_000}),
        json!({"fiscal_year": 2026, "kind": "product", "area": "disaster_relief",
               "site_id": osaka.to_string(), "description": "Blankets", "quantity": 1200,
               "unit_price_yen": 2500}),
        // 120.5 hours of a hall at 16,000 yen an hour: 1,928,000 yen.
        json!({"fiscal_year": 2026, "kind": "facility", "area": "arts_culture_sports",
               "site_id": osaka.to_string(), "description": "Concert hall", "quantity": 120.5,
               "unit_price_yen": 16000}),
    ];
    let mut amounts = Vec::new();
    for line in &lines {
        let (status, _, body) = app
            .call("POST", "/api/v1/expenses", Some(&hr), Some(line.clone()))
            .await;
        assert_eq!(status, 201, "{body}");
        amounts.push(body["amount_yen"].as_i64().expect("amount"));
    }
    assert_eq!(amounts, [300_000_000, 3_000_000, 1_928_000]);
    let csv = format!(
        "{HEADER}\n\
         2026,financial,environment,KOB,Forest fund,\"200,000,000\",,\n\
         2026,product,social_welfare,KOB,Wheelchairs,,40,\"55,000\"\n\
         2025,financial,community,KOB,Festival,1000000,,\n"
    );
    let (status, checked) = import(&app, &hr, &csv, true).await;
    assert_eq!(status, 200, "{checked}");
    assert_eq!(checked["rows"], 3);
    assert_eq!(checked["total_yen"], 200_000_000 + 40 * 55_000 + 1_000_000);
    let (status, body) = import(&app, &hr, &csv, false).await;
    assert_eq!(status, 200, "{body}");

    let (status, _, totals) = app
        .call("GET", "/api/v1/expenses/2026/totals", Some(&employee), None)
        .await;
    assert_eq!(status, 200, "{totals}");
    let ledger: i64 = amounts.iter().sum::<i64>() + 200_000_000 + 40 * 55_000;
    assert_eq!(totals["total_yen"], ledger);
    assert_eq!(totals["lines"], 5);
    assert_eq!(totals["approx_en"], "approx. ¥0.5 billion");
    assert_eq!(totals["approx_ja"], "約5億円");
    let by_kind: Vec<(String, i64)> = totals["by_kind"]
        .as_array()
        .expect("by kind")
        .iter()
        .map(|s| {
            (
                s["key"].as_str().unwrap().to_owned(),
                s["yen"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        by_kind,
        [
            ("facility".to_owned(), 1_928_000),
            ("financial".to_owned(), 500_000_000),
            ("product".to_owned(), 3_000_000 + 2_200_000),
        ]
    );
    let by_company: i64 = totals["by_company"]
        .as_array()
        .expect("by company")
        .iter()
        .map(|s| s["yen"].as_i64().unwrap())
        .sum();
    assert_eq!(by_company, ledger, "companies add up to the total");
    // The year before holds only its own line.
    let (_, _, before) = app
        .call("GET", "/api/v1/expenses/2025/totals", Some(&employee), None)
        .await;
    assert_eq!(before["total_yen"], 1_000_000);

    // HR reads the lines page by page; employees neither read nor write them.
    let (status, _, page) = app
        .call(
            "GET",
            "/api/v1/expenses?fiscal_year=2026&limit=3",
            Some(&hr),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(3));
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let (_, _, rest) = app
        .call(
            "GET",
            &format!("/api/v1/expenses?fiscal_year=2026&limit=3&cursor={cursor}"),
            Some(&hr),
            None,
        )
        .await;
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(rest["next_cursor"], Value::Null);
    for (method, path, body) in [
        ("GET", "/api/v1/expenses?fiscal_year=2026", None),
        ("POST", "/api/v1/expenses", Some(lines[0].clone())),
    ] {
        assert_problem(
            &app.call(method, path, Some(&employee), body).await,
            403,
            "forbidden",
        );
    }
}

async fn a_bad_line_is_named_and_nothing_is_written(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let site = app.site("OSA");
    let hr = app.token(&app.user(Role::Hr, None));
    // One line: each field the kind does not take, or lacks, is named.
    let (status, _, body) = app
        .call(
            "POST",
            "/api/v1/expenses",
            Some(&hr),
            Some(
                json!({"fiscal_year": 2026, "kind": "product", "area": "space",
                        "site_id": site.to_string(), "description": "Rockets",
                        "amount_yen": 5, "quantity": 3}),
            ),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["area", "amount_yen", "unit_price_yen"]);
    // A file with two bad lines: both reported with line and column; nothing written.
    let csv = format!(
        "{HEADER}\n\
         2026,financial,community,OSA,Good line,1000,,\n\
         2026,gift,community,OSA,Unknown kind,1000,,\n\
         2026,financial,community,NOPE,Unknown site,1000,,\n"
    );
    let (status, body) = import(&app, &hr, &csv, false).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "import_rejected");
    let bad: Vec<(i64, &str)> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| (e["line"].as_i64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(bad, [(3, "kind"), (4, "site_code")]);
    let (_, _, totals) = app
        .call("GET", "/api/v1/expenses/2026/totals", Some(&hr), None)
        .await;
    assert_eq!(totals["total_yen"], 0, "nothing written");
    assert_eq!(totals["approx_en"], "¥0");
}

/// A closed year's totals are published figures: a line added to the year needs a reason, the
/// published totals stay until the year is restated, and the current ones show the change.
async fn a_closed_years_expenses_stay_as_published(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let osaka = app.site("OSA");
    let hr_user = app.user(Role::Hr, None);
    let hr = app.token(&hr_user);
    let fy = common::last_ended_year();
    let line = |yen: i64| {
        json!({"fiscal_year": fy, "kind": "financial", "area": "community",
               "site_id": osaka.to_string(), "description": "Festival", "amount_yen": yen})
    };
    let (status, _, body) = app
        .call("POST", "/api/v1/expenses", Some(&hr), Some(line(1_000_000)))
        .await;
    assert_eq!(status, 201, "{body}");
    app.close_year(&hr_user, fy).await;
    let totals = |figures: &'static str| {
        let app = &app;
        let hr = hr.clone();
        async move {
            let (status, _, body) = app
                .get_as(
                    &hr,
                    &format!("/api/v1/expenses/{fy}/totals?figures={figures}"),
                )
                .await;
            assert_eq!(status, 200, "{body}");
            body
        }
    };

    let refused = app
        .call("POST", "/api/v1/expenses", Some(&hr), Some(line(500_000)))
        .await;
    assert_problem(&refused, 409, "restatement_reason_required");
    let csv = format!("{HEADER}\n{fy},financial,community,OSA,Fair,700000,,\n");
    for dry_run in [true, false] {
        let (status, problem) = import(&app, &hr, &csv, dry_run).await;
        assert_eq!(status, 409, "dry run {dry_run}: {problem}");
        assert_eq!(problem["code"], "restatement_reason_required");
    }
    assert_eq!(
        totals("current").await["total_yen"],
        1_000_000,
        "nothing written"
    );

    let (status, _, body) = app
        .call_with(
            "POST",
            "/api/v1/expenses",
            Some(&hr),
            Some(line(500_000)),
            &[("Restatement-Reason", "a donation booked late")],
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let published = totals("published").await;
    assert_eq!(published["total_yen"], 1_000_000, "as published");
    assert_eq!(published["published_version"], 1);
    let current = totals("current").await;
    assert_eq!(current["total_yen"], 1_500_000);
    assert_eq!(current["published_version"], serde_json::Value::Null);

    let (status, _, body) = app
        .call(
            "POST",
            &format!("/api/v1/stats/years/{fy}/restate"),
            Some(&hr),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let restated = totals("published").await;
    assert_eq!(restated["total_yen"], 1_500_000);
    assert_eq!(restated["published_version"], 2);
    let (_, _, v1) = app
        .get_as(&hr, &format!("/api/v1/stats/years/{fy}/versions/1"))
        .await;
    assert_eq!(
        v1["expenses"]["total_yen"], 1_000_000,
        "version 1 keeps its totals"
    );
}

both_backends!(
    a_closed_years_expenses_stay_as_published,
    expense_totals_equal_the_ledger,
    a_bad_line_is_named_and_nothing_is_written,
);
