//! HR exports and the participation import: round trip, every kind of bad input rejected with
//! its line and column and nothing written, formulas neutralised in CSV and XLSX, audit.

mod common;

use std::collections::BTreeSet;

use common::{Backend, TestApp, TestDb, TestUser, assert_problem, read_json};
use diesel::prelude::*;
use serde_json::Value;
use tomoni::auth::Role;
use tomoni::db::schema::{attendance, audit_log, events, programs, sites, users};
use tomoni::db::{Id, Timestamp};

const HEADER: &str =
    "site_code,program_code,program_title,theme,categories,event_date,employee_number,hours\n";

async fn post_csv(app: &TestApp, token: &str, query: &str, body: Vec<u8>) -> (u16, String, Value) {
    let mut res = app
        .client()
        .post(app.url(&format!("/api/v1/imports/participations{query}")))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("content-type", "text/csv"))
        .send_body(body)
        .await
        .unwrap();
    read_json(&mut res).await
}

async fn get_bytes(app: &TestApp, token: &str, path: &str) -> (u16, String, Vec<u8>) {
    let mut res = app
        .client()
        .get(app.url(path))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send()
        .await
        .unwrap();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = res.body().limit(64 * 1024 * 1024).await.unwrap();
    (res.status().as_u16(), ct, body.to_vec())
}

/// Row counts of the tables an import writes.
fn counts(app: &TestApp) -> (i64, i64, i64) {
    let conn = &mut app.conn();
    (
        programs::table.count().get_result(conn).unwrap(),
        events::table.count().get_result(conn).unwrap(),
        attendance::table.count().get_result(conn).unwrap(),
    )
}

fn site_id(app: &TestApp, code: &str) -> Id {
    sites::table
        .filter(sites::code.eq(code))
        .select(sites::id)
        .first(&mut app.conn())
        .unwrap()
}

struct World {
    hr: String,
    people: Vec<TestUser>,
    numbers: Vec<String>,
}

fn world(app: &TestApp) -> World {
    let a = app.site("A");
    app.site("B");
    let people = app.employees(3, Some(a));
    let numbers = people
        .iter()
        .map(|p| {
            users::table
                .filter(users::id.eq(p.id))
                .select(users::employee_number)
                .first(&mut app.conn())
                .unwrap()
        })
        .collect();
    World {
        hr: app.token(&app.user(Role::Hr, None)),
        people,
        numbers,
    }
}

fn history(w: &World) -> String {
    let n = &w.numbers;
    format!(
        "{HEADER}A,BEACH,Beach clean-up,nature,biodiversity,2025-03-31,{},3\n\
         A,BEACH,Beach clean-up,nature,biodiversity,2025-03-31,{},2.5\n\
         A,BEACH,Beach clean-up,nature,biodiversity,2025-06-01,{},1.25\n\
         B,RELIEF,\"Rubble removal, Noto\",community,disaster_relief;biodiversity,2025-04-01,{},8\n",
        n[0], n[1], n[0], n[2]
    )
}

fn parse_csv(bytes: &[u8]) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes)
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

async fn imported_history_comes_back_out_of_the_export(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let w = world(&app);
    let file = history(&w);
    let dry = post_csv(&app, &w.hr, "?dry_run=true", file.clone().into_bytes()).await;
    assert_eq!(dry.0, 200, "{}", dry.2);
    assert_eq!(dry.2["programs_created"], 2);
    assert_eq!(dry.2["events_created"], 3);
    assert_eq!(dry.2["records_created"], 4);
    assert_eq!(counts(&app), (0, 0, 0), "a dry run writes nothing");

    let done = post_csv(&app, &w.hr, "", file.clone().into_bytes()).await;
    assert_eq!(done.0, 200, "{}", done.2);
    assert_eq!(counts(&app), (2, 3, 4));
    // The same file again would record everyone twice: refused, line by line.
    let again = post_csv(&app, &w.hr, "", file.into_bytes()).await;
    let body = assert_problem(&again, 422, "import_rejected");
    assert_eq!(body["errors"].as_array().unwrap().len(), 4, "{body}");
    assert_eq!(body["errors"][0]["code"], "already_recorded");
    assert_eq!(counts(&app), (2, 3, 4));

    let (status, ct, csv) = get_bytes(
        &app,
        &w.hr,
        "/api/v1/exports/participations?purpose=annual%20report%20check",
    )
    .await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/csv"), "{ct}");
    let rows = parse_csv(&csv);
    assert_eq!(rows[0], tomoni::exports::participations::COLUMNS);
    let got: BTreeSet<Vec<String>> = rows[1..]
        .iter()
        .map(|r| {
            vec![
                r[0].clone(),
                r[4].clone(),
                r[6].clone(),
                r[7].clone(),
                r[8].clone(),
                r[9].clone(),
                r[10].clone(),
                r[13].clone(),
                r[15].clone(),
            ]
        })
        .collect();
    let n = &w.numbers;
    let row = |num: &str,
               site: &str,
               code: &str,
               title: &str,
               cats: &str,
               date: &str,
               fy: &str,
               hours: &str| {
        [num, site, code, title, cats, date, fy, hours, "approved"]
            .map(str::to_owned)
            .to_vec()
    };
    let expected: BTreeSet<Vec<String>> = [
        row(
            &n[0],
            "A",
            "BEACH",
            "Beach clean-up",
            "biodiversity",
            "2025-03-31",
            "2025",
            "3",
        ),
        row(
            &n[1],
            "A",
            "BEACH",
            "Beach clean-up",
            "biodiversity",
            "2025-03-31",
            "2025",
            "2.5",
        ),
        row(
            &n[0],
            "A",
            "BEACH",
            "Beach clean-up",
            "biodiversity",
            "2025-06-01",
            "2026",
            "1.25",
        ),
        row(
            &n[2],
            "B",
            "RELIEF",
            "Rubble removal, Noto",
            "biodiversity;disaster_relief",
            "2025-04-01",
            "2026",
            "8",
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, expected);

    // The statistics followed the import.
    let conn = &mut app.conn();
    let fiscal = app.settings.stats.fiscal();
    let scope = tomoni::stats::mdd::Scope::default();
    let kept = tomoni::stats::mdd::figures(conn, fiscal, 2025..=2026, &scope).unwrap();
    assert_eq!(
        kept,
        tomoni::stats::mdd::naive(conn, fiscal, 2025..=2026, &scope).unwrap()
    );
    assert_eq!(kept[&2026].participants, 2);
    assert_eq!(kept[&2026].disaster_relief_participants, 1);

    // Audited with purpose and row count.
    let details: Vec<String> = audit_log::table
        .filter(audit_log::action.eq("export.participations"))
        .select(audit_log::details)
        .load(conn)
        .unwrap();
    let details: Value = serde_json::from_str(&details[0]).unwrap();
    assert_eq!(details["purpose"], "annual report check");
    assert_eq!(details["rows"], 4);
    assert_eq!(details["completed"], true);
}

/// Version 2 of the file (`days`, `end_date`): a three-day trip is one event, each row its own
/// person-days and up to 24 h for each; a version 1 row's defaults are one day.
async fn a_multi_day_trip_imports_as_one_event_with_person_days(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let w = world(&app);
    let n = &w.numbers;
    let v2 = "site_code,program_code,program_title,theme,categories,event_date,employee_number,hours,days,end_date\n";
    let bad = format!(
        "{v2}A,TRIP,Noto relief trip,community,disaster_relief,2011-12-01,{},73,3,2011-12-03\n\
         A,TRIP,Noto relief trip,community,disaster_relief,2011-12-01,{},8,4,2011-12-03\n\
         A,TRIP,Noto relief trip,community,disaster_relief,2011-12-01,{},8,1,2011-12-02\n\
         A,DAY,Day out,nature,,2011-12-05,{},8,0,2011-12-04\n",
        n[0], n[1], n[2], n[0]
    );
    let refused = post_csv(&app, &w.hr, "", bad.into_bytes()).await;
    let body = assert_problem(&refused, 422, "import_rejected");
    let found = common::import_errors(&body);
    let want = |line: u64, field: &str, code: &str| (line, field.to_owned(), code.to_owned());
    assert_eq!(
        found,
        [
            want(2, "hours", "out_of_range"),
            want(3, "days", "outside_event"),
            want(4, "end_date", "different_end"),
            want(5, "end_date", "before_start"),
            want(5, "days", "invalid_days"),
        ],
        "{body}"
    );
    assert_eq!(counts(&app), (0, 0, 0));

    let file = format!(
        "{v2}A,TRIP,Noto relief trip,community,disaster_relief,2011-12-01,{},72,3,2011-12-03\n\
         A,TRIP,Noto relief trip,community,disaster_relief,2011-12-01,{},16,2,2011-12-03\n\
         A,DAY,Day out,nature,,2011-12-05,{},2.5,,\n",
        n[0], n[1], n[2]
    );
    let done = post_csv(&app, &w.hr, "", file.into_bytes()).await;
    assert_eq!(done.0, 200, "{}", done.2);
    assert_eq!(done.2["events_created"], 2);
    assert_eq!(counts(&app), (2, 2, 3));
    let days: Vec<i32> = attendance::table
        .select(attendance::days)
        .order(attendance::minutes.desc())
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(days, [3, 2, 1]);

    let (status, _, report) = app
        .get_as(&w.hr, "/api/v1/stats/mdd?from=2012&to=2012")
        .await;
    assert_eq!(status, 200, "{report}");
    let figures = &report["years"][0]["figures"];
    assert_eq!(figures["participants"], 3);
    assert_eq!(figures["person_days"], 6);
    assert_eq!(figures["volunteer_hours"], 90.5);
    assert_eq!(figures["disaster_relief_participants"], 2);

    // The trip's event spans the three local days, so the roster accepts 3 days for it too.
    let trip: (Timestamp, Timestamp) = events::table
        .filter(events::title.eq("Noto relief trip"))
        .select((events::starts_at, events::ends_at))
        .first(&mut app.conn())
        .unwrap();
    let tz = "Asia/Tokyo";
    assert_eq!(
        tomoni::time::local(trip.0, tz).to_rfc3339(),
        "2011-12-01T09:00:00+09:00"
    );
    assert_eq!(
        tomoni::time::local(trip.1, tz).to_rfc3339(),
        "2011-12-03T17:00:00+09:00"
    );
}

/// An employee of a subsidiary at the parent's event: the export names both companies, and
/// the person-days recorded.
async fn the_export_names_home_and_organising_companies_and_person_days(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let w = world(&app);
    let admin = common::admin_principal();
    let conn = &mut app.conn();
    let sub = tomoni::org::companies::create(
        conn,
        &admin,
        serde_json::from_value(
            serde_json::json!({"code": "THAI", "name": "Thai subsidiary",
            "country": "TH"}),
        )
        .unwrap(),
    )
    .unwrap();
    let site = tomoni::org::sites::create(
        conn,
        &admin,
        serde_json::from_value(serde_json::json!({"code": "BKK", "name": "Bangkok",
            "company_id": sub.id, "country": "TH", "region": "overseas",
            "timezone": "Asia/Bangkok", "opened_on": "2000-01-01"}))
        .unwrap(),
    )
    .unwrap();
    diesel::update(users::table.filter(users::id.eq(w.people[0].id)))
        .set(users::site_id.eq(Some(Id::from(site.id))))
        .execute(conn)
        .unwrap();
    let file = format!(
        "site_code,program_code,program_title,theme,categories,event_date,employee_number,hours,days,end_date\n\
         A,TRIP,Relief trip,community,,2025-05-01,{},16,2,2025-05-02\n",
        w.numbers[0]
    );
    let done = post_csv(&app, &w.hr, "", file.into_bytes()).await;
    assert_eq!(done.0, 200, "{}", done.2);
    let (status, _, csv) = get_bytes(
        &app,
        &w.hr,
        "/api/v1/exports/participations?purpose=company%20check",
    )
    .await;
    assert_eq!(status, 200);
    let rows = parse_csv(&csv);
    let column = |name: &str| rows[0].iter().position(|c| c == name).unwrap();
    let row = &rows[1];
    assert_eq!(row[column("home_site")], "BKK");
    assert_eq!(row[column("home_company")], "THAI");
    assert_eq!(row[column("organising_site")], "A");
    assert_eq!(row[column("organising_company")], "TST");
    assert_eq!(row[column("person_days")], "2");
    assert_eq!(row[column("event_date")], "2025-05-01");
}

async fn every_kind_of_bad_file_is_rejected_with_its_line_and_column(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let w = world(&app);
    let n0 = &w.numbers[0];
    let good = format!("A,P,Title,nature,,2025-05-01,{n0},2\n");
    let cases: Vec<(&str, Vec<u8>, u64, &str, &str)> = vec![
        (
            "wrong header",
            format!("site,program\n{good}").into_bytes(),
            1,
            "header",
            "wrong_header",
        ),
        (
            "missing column",
            format!("{HEADER}{good}A,P,Title,nature,,2025-05-02,{n0}\n").into_bytes(),
            3,
            "row",
            "wrong_column_count",
        ),
        (
            "NUL in a cell",
            format!("{HEADER}{good}A,P,Ti\u{0}tle,nature,,2025-05-02,{n0},2\n").into_bytes(),
            3,
            "program_title",
            "control_character",
        ),
        (
            "escape in a cell",
            format!("{HEADER}{good}A,P,Title,nature,,2025-05-02,{n0}\u{1b}[2J,2\n").into_bytes(),
            3,
            "employee_number",
            "control_character",
        ),
        (
            "bad date",
            format!("{HEADER}{good}A,P,Title,nature,,2025-02-30,{n0},2\n").into_bytes(),
            3,
            "event_date",
            "invalid_date",
        ),
        (
            "bad number",
            format!("{HEADER}{good}A,P,Title,nature,,2025-05-02,{n0},two\n").into_bytes(),
            3,
            "hours",
            "invalid_number",
        ),
        (
            "hours out of range",
            format!("{HEADER}{good}A,P,Title,nature,,2025-05-02,{n0},30\n").into_bytes(),
            3,
            "hours",
            "out_of_range",
        ),
        (
            "unknown site",
            format!("{HEADER}{good}ZZ,P,Title,nature,,2025-05-02,{n0},2\n").into_bytes(),
            3,
            "site_code",
            "unknown_site",
        ),
        (
            "unknown employee",
            format!("{HEADER}{good}A,P,Title,nature,,2025-05-02,NOBODY,2\n").into_bytes(),
            3,
            "employee_number",
            "unknown_employee",
        ),
        (
            "unknown category",
            format!("{HEADER}{good}A,P,Title,nature,knitting,2025-05-02,{n0},2\n").into_bytes(),
            3,
            "categories",
            "unknown_category",
        ),
        (
            "bad theme",
            format!("{HEADER}{good}A,P,Title,sports,,2025-05-02,{n0},2\n").into_bytes(),
            3,
            "theme",
            "invalid_value",
        ),
        (
            "duplicate row",
            format!("{HEADER}{good}{good}").into_bytes(),
            3,
            "row",
            "duplicate",
        ),
        (
            "invalid UTF-8",
            [
                format!("{HEADER}{good}").into_bytes(),
                b"A,P,T\xff\xfe,nature,,2025-05-02,x,2\n".to_vec(),
            ]
            .concat(),
            3,
            "row",
            "invalid_utf8",
        ),
    ];
    for (name, body, line, field, code) in cases {
        let got = post_csv(&app, &w.hr, "", body).await;
        let problem = assert_problem(&got, 422, "import_rejected");
        let errors = problem["errors"].as_array().unwrap();
        assert!(
            errors
                .iter()
                .any(|e| e["line"] == line && e["field"] == field && e["code"] == code),
            "{name}: expected line {line} {field} {code} in {problem}"
        );
        assert!(
            errors.iter().all(|e| e["line"] != 2),
            "{name}: the good line is not reported: {problem}"
        );
        assert_eq!(counts(&app), (0, 0, 0), "{name}: nothing written");
    }
    // Only HR and admins import.
    let coordinator = app.token(&app.coordinator(&[]));
    assert_problem(
        &post_csv(
            &app,
            &coordinator,
            "",
            format!("{HEADER}{good}").into_bytes(),
        )
        .await,
        403,
        "forbidden",
    );
}

async fn an_oversized_import_is_refused(backend: Backend) {
    let db = TestDb::new(&backend);
    let mut settings = db.settings();
    settings.server.upload_limit_bytes = 2048;
    let app = TestApp::spawn_with(db, settings).await;
    let w = world(&app);
    let mut file = HEADER.to_owned();
    for day in 1..=28 {
        for n in &w.numbers {
            file.push_str(&format!("A,P,Title,nature,,2025-05-{day:02},{n},2\n"));
        }
    }
    assert!(file.len() > 2048);
    assert_problem(
        &post_csv(&app, &w.hr, "", file.into_bytes()).await,
        413,
        "payload_too_large",
    );
    assert_eq!(counts(&app), (0, 0, 0));
}

async fn formulas_are_neutralised_in_csv_and_xlsx(backend: Backend) {
    use calamine::{Data, Reader};
    let app = TestApp::spawn(backend).await;
    let w = world(&app);
    diesel::update(users::table.filter(users::id.eq(w.people[0].id)))
        .set(users::display_name.eq("=HYPERLINK(\"http://x\")"))
        .execute(&mut app.conn())
        .unwrap();
    let file = format!(
        "{HEADER}A,CMD,+cmd|' /C calc'!A0,nature,,2025-05-01,{},2\n",
        w.numbers[0]
    );
    let done = post_csv(&app, &w.hr, "", file.into_bytes()).await;
    assert_eq!(done.0, 200, "{}", done.2);

    let (_, _, csv) = get_bytes(
        &app,
        &w.hr,
        "/api/v1/exports/participations?purpose=check%20formulas&bom=true",
    )
    .await;
    assert!(csv.starts_with(b"\xEF\xBB\xBF"), "BOM for Excel");
    let rows = parse_csv(&csv[3..]);
    assert_eq!(rows[1][1], "'=HYPERLINK(\"http://x\")");
    assert_eq!(rows[1][7], "'+cmd|' /C calc'!A0");
    assert_eq!(rows[1][13], "2", "numbers stay numbers");

    let (status, ct, xlsx) = get_bytes(
        &app,
        &w.hr,
        "/api/v1/exports/participations?purpose=check%20formulas&format=xlsx",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        ct,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(
        range.get((0, 0)),
        Some(&Data::String("employee_number".into()))
    );
    assert_eq!(
        range.get((1, 1)),
        Some(&Data::String("'=HYPERLINK(\"http://x\")".into()))
    );
    assert_eq!(
        range.get((1, 7)),
        Some(&Data::String("'+cmd|' /C calc'!A0".into()))
    );
    assert_eq!(range.get((1, 13)), Some(&Data::Float(2.0)));
    match range.get((1, 9)) {
        // 45778 days after Excel's day 0 (1899-12-30) is 2025-05-01.
        Some(Data::DateTime(d)) => assert_eq!(d.as_f64(), 45778.0, "2025-05-01"),
        other => panic!("the event date is a date cell, got {other:?}"),
    }
    let formulas = book.worksheet_formula("participations").unwrap();
    assert!(
        formulas.used_cells().all(|(_, _, f)| f.is_empty()),
        "no formula cells"
    );
}

async fn exports_need_a_purpose_and_stay_in_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let w = world(&app);
    let done = post_csv(&app, &w.hr, "", history(&w).into_bytes()).await;
    assert_eq!(done.0, 200, "{}", done.2);
    let site_a = site_id(&app, "A");
    let coord_a = app.token(&app.coordinator(&[site_a]));
    assert_problem(
        &app.get_as(&w.hr, "/api/v1/exports/participations").await,
        400,
        "purpose_required",
    );
    assert_problem(
        &app.get_as(&w.hr, "/api/v1/exports/participations?purpose=x&format=pdf")
            .await,
        400,
        "purpose_required",
    );
    assert_problem(
        &app.get_as(
            &w.hr,
            "/api/v1/exports/participations?purpose=audit&format=pdf",
        )
        .await,
        400,
        "invalid_query",
    );
    assert_problem(
        &app.get_as(
            &app.token(&w.people[0]),
            "/api/v1/exports/participations?purpose=mine",
        )
        .await,
        403,
        "forbidden",
    );
    let (status, _, csv) = get_bytes(
        &app,
        &coord_a,
        "/api/v1/exports/participations?purpose=site%20review",
    )
    .await;
    assert_eq!(status, 200);
    let rows = parse_csv(&csv);
    assert_eq!(rows.len(), 4, "header and site A's three records");
    assert!(rows[1..].iter().all(|r| r[4] == "A"));
    let site_b = site_id(&app, "B");
    assert_problem(
        &app.get_as(
            &coord_a,
            &format!("/api/v1/exports/participations?purpose=peek&site_id={site_b}"),
        )
        .await,
        403,
        "forbidden",
    );
    let (_, _, fy) = get_bytes(
        &app,
        &w.hr,
        "/api/v1/exports/participations?purpose=year&fiscal_year=2026",
    )
    .await;
    assert_eq!(
        parse_csv(&fy).len(),
        3,
        "header and fiscal 2026's two records"
    );

    // The hours summary per employee.
    let (status, _, hours) = get_bytes(
        &app,
        &w.hr,
        "/api/v1/exports/hours?purpose=leave&fiscal_year=2025",
    )
    .await;
    assert_eq!(status, 200);
    let rows = parse_csv(&hours);
    assert_eq!(rows[0], tomoni::exports::hours::COLUMNS);
    let mut got: Vec<(String, String, String)> = rows[1..]
        .iter()
        .map(|r| (r[0].clone(), r[4].clone(), r[5].clone()))
        .collect();
    got.sort();
    let mut expected = vec![
        (w.numbers[0].clone(), "1".to_owned(), "3".to_owned()),
        (w.numbers[1].clone(), "1".to_owned(), "2.5".to_owned()),
    ];
    expected.sort();
    assert_eq!(got, expected);
    assert_problem(
        &app.get_as(
            &coord_a,
            "/api/v1/exports/hours?purpose=leave&fiscal_year=2025",
        )
        .await,
        403,
        "forbidden",
    );
}

/// 60,000 records: a file of about 9 MB, more than an unread socket and the server's send
/// buffer (at most 4 MB here) take in. Returns an HR token.
/// One person's exports one after another: each starts once the last one's file has been read
/// to its end, so none is refused for the one still "running" (`exports.per_user` is 1).
async fn exports_back_to_back_are_never_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let w = world(&app);
    let done = post_csv(&app, &w.hr, "", history(&w).into_bytes()).await;
    assert_eq!(done.0, 200, "{}", done.2);
    for i in 0..200 {
        let path = if i % 2 == 0 {
            "/api/v1/exports/participations?purpose=again"
        } else {
            "/api/v1/exports/hours?purpose=again&fiscal_year=2025"
        };
        let (status, _, body) = get_bytes(&app, &w.hr, path).await;
        assert_eq!(
            status,
            200,
            "export {i}: {}",
            String::from_utf8_lossy(&body)
        );
    }
}

async fn seed_large(app: &TestApp) -> String {
    let a = app.site("A");
    let people = app.employees(300, Some(a));
    let hr = app.token(&app.user(Role::Hr, None));
    let mut file = HEADER.to_owned();
    let start = chrono::NaiveDate::from_ymd_opt(2025, 4, 1).expect("a date");
    let numbers: Vec<String> = people
        .iter()
        .map(|p| {
            users::table
                .filter(users::id.eq(p.id))
                .select(users::employee_number)
                .first(&mut app.conn())
                .unwrap()
        })
        .collect();
    for d in 0..200 {
        let day = start + chrono::Duration::days(d);
        for number in &numbers {
            file.push_str(&format!(
                "A,BEACH,Beach clean-up,nature,,{day},{number},3\n"
            ));
        }
    }
    let (status, _, report) = post_csv(app, &hr, "", file.into_bytes()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["records_created"], 60_000);

    hr
}

/// A download nobody reads, opened like a client with a small receive buffer; returns once
/// its first bytes arrived (the export is running).
fn stalled_download(app: &TestApp, hr: &str, purpose: &str) -> std::net::TcpStream {
    use std::io::Write;
    let request = format!(
        "GET /api/v1/exports/participations?purpose={purpose} HTTP/1.1\r\n\
         Host: {}\r\nAuthorization: Bearer {hr}\r\n\r\n",
        app.addr
    );
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(4096).expect("small buffer");
    socket.connect(&app.addr.into()).expect("connect");
    let mut stream: std::net::TcpStream = socket.into();
    stream.write_all(request.as_bytes()).expect("request");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    let mut first = [0u8; 12];
    stream.peek(&mut first).expect("the download starts");
    assert!(
        first.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&first)
    );
    stream
}

/// A client that stops reading loses its download after `exports.stall_timeout_secs`: the
/// export gives its place back although the socket stays open, and the audit log says the file
/// was not completed.
async fn a_download_nobody_reads_is_cut_after_the_stall_timeout(backend: Backend) {
    let db = common::TestDb::new(&backend);
    let mut settings = db.settings();
    settings.exports.stall_timeout_secs = 1;
    let app = TestApp::spawn_with(db, settings).await;
    let hr = seed_large(&app).await;
    let _open = stalled_download(&app, &hr, "never+read");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (status, _, body) = app
            .get_as(
                &hr,
                "/api/v1/exports/participations?purpose=next+one&fiscal_year=1999",
            )
            .await;
        if status == 200 {
            break;
        }
        assert_eq!(
            status, 429,
            "one export per person until the first is cut: {body}"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the stalled export was never cut"
        );
    }
    let details: Vec<String> = tomoni::db::schema::audit_log::table
        .filter(tomoni::db::schema::audit_log::action.eq("export.participations"))
        .select(tomoni::db::schema::audit_log::details)
        .load(&mut app.conn())
        .unwrap();
    let cut: Vec<&String> = details
        .iter()
        .filter(|d| d.contains("never read"))
        .collect();
    assert_eq!(cut.len(), 1, "{details:?}");
    assert!(cut[0].contains("\"completed\":false"), "{}", cut[0]);
}

/// Eight downloads nobody reads, on a pool of four: each export streams on its own connection,
/// so `/readyz` and the event list keep answering; a ninth export past the bound is 429; once
/// the clients go away the slots come back.
async fn stalled_downloads_never_take_the_apis_connections(backend: Backend) {
    let db = common::TestDb::new(&backend);
    let mut settings = db.settings();
    settings.database.pool_max_size = 4;
    settings.exports.concurrency = 8;
    settings.exports.per_user = 8;
    settings.exports.stall_timeout_secs = 120;
    let app = TestApp::spawn_with(db, settings).await;
    let hr = seed_large(&app).await;
    let stalled: Vec<_> = (0..8)
        .map(|_| stalled_download(&app, &hr, "stalled+download"))
        .collect();
    for _ in 0..3 {
        let (status, _, _) = app.get_json("/readyz").await;
        assert_eq!(status, 200, "ready while eight downloads stall");
        let (status, _, body) = app.get_as(&hr, "/api/v1/events").await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, headers, body) = app
        .get_as(&hr, "/api/v1/exports/participations?purpose=one+more")
        .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["code"], "exports_busy", "{body}: {headers}");

    // The clients go away; their exports end and give their places back.
    drop(stalled);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (status, _, bytes) =
            get_bytes(&app, &hr, "/api/v1/exports/participations?purpose=after").await;
        if status == 200 {
            assert!(
                bytes.len() > 1_000_000,
                "the whole file: {} bytes",
                bytes.len()
            );
            break;
        }
        assert_eq!(status, 429);
        assert!(
            std::time::Instant::now() < deadline,
            "the slots never came back"
        );
    }
}

both_backends!(
    stalled_downloads_never_take_the_apis_connections,
    a_download_nobody_reads_is_cut_after_the_stall_timeout,
    a_multi_day_trip_imports_as_one_event_with_person_days,
    the_export_names_home_and_organising_companies_and_person_days,
    imported_history_comes_back_out_of_the_export,
    every_kind_of_bad_file_is_rejected_with_its_line_and_column,
    an_oversized_import_is_refused,
    formulas_are_neutralised_in_csv_and_xlsx,
    exports_need_a_purpose_and_stay_in_scope,
    exports_back_to_back_are_never_refused,
);

async fn post_users(app: &TestApp, token: &str, query: &str, body: String) -> (u16, String, Value) {
    let mut res = app
        .client()
        .post(app.url(&format!("/api/v1/users/import{query}")))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("content-type", "text/csv"))
        .send_body(body)
        .await
        .unwrap();
    read_json(&mut res).await
}

async fn the_employee_roster_is_upserted_by_employee_number(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let w = world(&app);
    let users_count = || -> i64 { users::table.count().get_result(&mut app.conn()).unwrap() };
    let before = users_count();
    let header = "employee_number,email,display_name,site_code,role,active\n";
    let file = format!(
        "{header}{},renamed@example.com,Renamed Person,B,coordinator,true\n\
         N-1001,new.one@example.com,New One,A,,\n\
         N-1002,new.two@example.com,New Two,,employee,false\n",
        w.numbers[0]
    );
    let dry = post_users(&app, &w.hr, "?dry_run=true", file.clone()).await;
    assert_eq!(dry.0, 200, "{}", dry.2);
    assert_eq!(
        (dry.2["created"].as_u64(), dry.2["updated"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(users_count(), before, "a dry run writes nothing");
    let done = post_users(&app, &w.hr, "", file).await;
    assert_eq!(done.0, 200, "{}", done.2);
    assert_eq!(users_count(), before + 2);
    let (name, role, active): (String, String, bool) = users::table
        .filter(users::id.eq(w.people[0].id))
        .select((users::display_name, users::role, users::active))
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(
        (name.as_str(), role.as_str(), active),
        ("Renamed Person", "coordinator", true)
    );
    let inactive: bool = users::table
        .filter(users::employee_number.eq("N-1002"))
        .select(users::active)
        .first(&mut app.conn())
        .unwrap();
    assert!(!inactive);

    let bad = format!(
        "{header}N-2000,a@example.com,A,ZZ,employee,true\n\
         N-2000,b@example.com,B,,employee,true\n\
         N-2001,new.one@example.com,C,,employee,true\n\
         N-2002,d@example.com,D,,boss,true\n\
         N-2003,e@example.com,E,,admin,true\n\
         N-2004,f@example.com,F,,employee,maybe\n\
         N-2005,g@example.com,G\u{0}H,,employee,true\n"
    );
    let got = post_users(&app, &w.hr, "", bad).await;
    let body = assert_problem(&got, 422, "import_rejected");
    let found: BTreeSet<_> = common::import_errors(&body).into_iter().collect();
    for expected in [
        (2, "site_code", "unknown_site"),
        (3, "employee_number", "duplicate"),
        (4, "email", "taken"),
        (5, "role", "invalid_value"),
        (6, "role", "forbidden"),
        (7, "active", "invalid_value"),
        (8, "display_name", "control_character"),
    ] {
        assert!(
            found.contains(&(expected.0, expected.1.to_owned(), expected.2.to_owned())),
            "{expected:?} in {found:?}"
        );
    }
    assert_eq!(users_count(), before + 2, "nothing written");
    assert_problem(
        &post_users(&app, &app.token(&w.people[1]), "", String::new()).await,
        403,
        "forbidden",
    );
}

/// The users import's dry run refuses what the import refuses: a name with a line break, HR
/// changing an admin's row and granting the hr role, each named by its file line (the quoted
/// two-line name moves the rows after it down); a dry run that passes writes nothing, not even
/// the invitations it would send.
async fn the_users_dry_run_applies_the_imports_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hr = app.token(&app.user(Role::Hr, None));
    let admin = app.user(Role::Admin, None);
    let number: String = {
        use diesel::prelude::*;
        tomoni::db::schema::users::table
            .filter(tomoni::db::schema::users::id.eq(admin.id))
            .select(tomoni::db::schema::users::employee_number)
            .first(&mut app.conn())
            .unwrap()
    };
    let file = format!(
        "employee_number,email,display_name,site_code,role,active\n\
         N-1,n1@example.com,\"Two\nLines\",,employee,true\n\
         {number},{},Admin Renamed,,coordinator,true\n\
         N-2,n2@example.com,Would Be HR,,hr,true\n",
        admin.email
    );
    let before = user_rows(&app);
    let outbox_before = outbox_rows(&app);
    for query in ["?dry_run=true", ""] {
        let (status, _, body) = post_users(&app, &hr, query, file.clone()).await;
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(body["code"], "import_rejected");
        let lines: Vec<(i64, String)> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["line"].as_i64().unwrap(),
                    e["code"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            lines,
            [
                (2, "line_break".to_owned()),
                (4, "refused".to_owned()),
                (5, "refused".to_owned())
            ],
            "{query}: file lines, the header being 1 and line 2 spanning two: {body}"
        );
    }
    assert_eq!(user_rows(&app), before, "nothing written");

    let fine = "employee_number,email,display_name,site_code,role,active\n\
                N-1,n1@example.com,New One,,employee,true\n";
    let (status, _, body) = post_users(&app, &hr, "?dry_run=true&invite=true", fine.into()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["created"], 1);
    assert_eq!(body["invited"], 1);
    assert_eq!(body["dry_run"], true);
    assert_eq!(user_rows(&app), before, "the dry run wrote no user");
    assert_eq!(outbox_rows(&app), outbox_before, "and queued no invitation");
}

fn user_rows(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    tomoni::db::schema::users::table
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

fn outbox_rows(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    tomoni::db::schema::outbox::table
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

both_backends!(
    the_employee_roster_is_upserted_by_employee_number,
    the_users_dry_run_applies_the_imports_rules,
);

/// `tomoni import participations FILE --as EMAIL` does what the API does.
#[actix_web::test]
async fn the_command_line_imports_participations() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let w = world(&app);
    let hr = app.user(Role::Hr, None);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("history.csv");
    std::fs::write(&file, history(&w)).unwrap();
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tomoni"))
            .args(["import", "participations"])
            .arg(&file)
            .args(["--as", &hr.email])
            .args(extra)
            .env("TOMONI__DATABASE__URL", &app.settings.database.url)
            .env("TOMONI__LOG__LEVEL", "warn")
            .env("TOMONI_CONFIG_DIR", dir.path())
            .env("TOMONI__DATA__DIR", dir.path())
            .output()
            .unwrap()
    };
    let dry = run(&["--dry-run"]);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(String::from_utf8_lossy(&dry.stdout).contains("dry run"));
    assert_eq!(counts(&app), (0, 0, 0));
    let done = run(&[]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(
        String::from_utf8_lossy(&done.stdout).contains("4 rows"),
        "{}",
        String::from_utf8_lossy(&done.stdout)
    );
    assert_eq!(counts(&app), (2, 3, 4));
    let again = run(&[]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already_recorded"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
