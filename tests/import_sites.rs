//! Sites CSV import: all rows or none, with a report of every bad row.

mod common;

use common::{Backend, TestApp, TestDb, assert_problem, read_json};
use diesel::prelude::*;
use tomoni::auth::Role;
use tomoni::db::schema::sites;

async fn post_csv(
    app: &TestApp,
    token: &str,
    query: &str,
    body: Vec<u8>,
) -> (u16, String, serde_json::Value) {
    let mut res = app
        .client()
        .post(app.url(&format!("/api/v1/sites/import{query}")))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("content-type", "text/csv"))
        .send_body(body)
        .await
        .unwrap();
    read_json(&mut res).await
}

fn count(app: &TestApp) -> i64 {
    sites::table.count().get_result(&mut app.conn()).unwrap()
}

const HEADER: &str = "code,name,company_code,country,region,timezone,opened_on,closed_on\n";

async fn a_good_file_upserts_every_row(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.token(&app.user(Role::Admin, None));
    app.site("OLD"); // creates company TST
    let file = format!(
        "\u{feff}{HEADER}OLD,Renamed old site,TST,JP,domestic,Asia/Tokyo,2000-04-01,\n\
         NEW,\"New site, Osaka\",TST,jp,domestic,Asia/Tokyo,2011-04-01,2012-03-31\n"
    );
    let dry = post_csv(&app, &admin, "?dry_run=true", file.clone().into_bytes()).await;
    assert_eq!(dry.0, 200, "{}", dry.2);
    assert_eq!(dry.2["created"], 1);
    assert_eq!(dry.2["updated"], 1);
    assert_eq!(dry.2["dry_run"], true);
    assert_eq!(count(&app), 1, "a dry run writes nothing");

    let done = post_csv(&app, &admin, "", file.into_bytes()).await;
    assert_eq!(done.0, 200, "{}", done.2);
    assert_eq!(
        (done.2["created"].as_u64(), done.2["updated"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(count(&app), 2);
    let names: Vec<String> = sites::table
        .select(sites::name)
        .order(sites::code)
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(names, ["New site, Osaka", "Renamed old site"]);
}

async fn a_bad_file_is_rejected_whole_with_every_bad_row(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.token(&app.user(Role::Admin, None));
    app.site("KEEP");
    let before = count(&app);
    let file = format!(
        "{HEADER}GOOD,Good,TST,JP,domestic,Asia/Tokyo,2010-01-01,\n\
         X1,Bad company,NOPE,JP,domestic,Asia/Tokyo,2010-01-01,\n\
         X2,Bad date,TST,JP,domestic,Asia/Tokyo,2010-13-01,\n\
         X3,Bad zone,TST,JP,domestic,Mars/Base,2010-01-01,\n\
         GOOD,Duplicate,TST,JP,domestic,Asia/Tokyo,2010-01-01,\n\
         X5,Short row,TST\n"
    );
    let got = post_csv(&app, &admin, "", file.into_bytes()).await;
    let problem = assert_problem(&got, 422, "import_rejected");
    let found = common::import_errors(&problem);
    assert_eq!(
        found,
        [
            (3, "company_code".into(), "unknown_company".into()),
            (4, "opened_on".into(), "invalid_date".into()),
            (5, "timezone".into(), "unknown_timezone".into()),
            (6, "code".into(), "duplicate".into()),
            (7, "row".into(), "wrong_column_count".into()),
        ],
        "every bad line, in order: {problem}"
    );
    assert_eq!(count(&app), before, "nothing written");

    let file = format!(
        "{HEADER}GOOD,Good,TST,JP,domestic,Asia/Tokyo,2010-01-01,\n\
         X1,Bad company,NOPE,JP,domestic,Asia/Tokyo,2010-01-01,\n\
         X2,Bad date,TST,JP,domestic,Asia/Tokyo,2010-13-01,\n\
         X3,Bad zone,TST,JP,domestic,Mars/Base,2010-01-01,\n\
         GOOD,Duplicate,TST,JP,domestic,Asia/Tokyo,2010-01-01,\n\
         X6,Closed first,TST,JP,overseas,Asia/Tokyo,2010-01-01,2009-01-01\n"
    );
    let got = post_csv(&app, &admin, "", file.into_bytes()).await;
    let problem = assert_problem(&got, 422, "import_rejected");
    let mut found: Vec<(u64, String)> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            (3, "company_code".into()),
            (4, "opened_on".into()),
            (5, "timezone".into()),
            (6, "code".into()),
            (7, "closed_on".into())
        ]
    );
    assert_eq!(
        count(&app),
        before,
        "nothing written, not even the good row"
    );

    let wrong_header = post_csv(&app, &admin, "", b"code,name\nA,B\n".to_vec()).await;
    let problem = assert_problem(&wrong_header, 422, "import_rejected");
    assert_eq!(problem["errors"][0]["line"], 1);
    assert_eq!(problem["errors"][0]["code"], "wrong_header");

    let mut latin1 = HEADER.as_bytes().to_vec();
    latin1.extend_from_slice(b"X9,Caf\xe9,TST,JP,domestic,Asia/Tokyo,2010-01-01,\n");
    let problem = assert_problem(
        &post_csv(&app, &admin, "", latin1).await,
        422,
        "import_rejected",
    );
    assert_eq!(problem["errors"][0]["code"], "invalid_utf8");
    assert_eq!(problem["errors"][0]["line"], 2);
    assert_eq!(count(&app), before);

    let employee = app.token(&app.user(Role::Employee, None));
    assert_problem(
        &post_csv(&app, &employee, "", HEADER.as_bytes().to_vec()).await,
        403,
        "forbidden",
    );
}

async fn an_oversized_file_is_refused(backend: Backend) {
    let db = TestDb::new(&backend);
    let mut settings = db.settings();
    settings.server.upload_limit_bytes = 1024;
    let app = TestApp::spawn_with(db, settings).await;
    let admin = app.token(&app.user(Role::Admin, None));
    let mut file = HEADER.to_owned();
    while file.len() < 4096 {
        file.push_str("X,Name,TST,JP,domestic,Asia/Tokyo,2010-01-01,\n");
    }
    assert_problem(
        &post_csv(&app, &admin, "", file.into_bytes()).await,
        413,
        "payload_too_large",
    );
    assert_eq!(count(&app), 0);
}

both_backends!(
    a_good_file_upserts_every_row,
    a_bad_file_is_rejected_whole_with_every_bad_row,
    an_oversized_file_is_refused,
);
