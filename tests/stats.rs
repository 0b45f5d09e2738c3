//! Programme statistics: the report table from raw records, breakdowns, objectives, and summaries
//! that always equal a naive recomputation.

mod common;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use common::{Backend, TestApp, TestUser, assert_problem};
use serde_json::{Value, json};
use tomoni::attendance::{approval, roster};
use tomoni::auth::{Caller, Role};
use tomoni::config::AttendanceSettings;
use tomoni::db::{AnyConnection, Id};
use tomoni::programs::{events, program};
use tomoni::stats::mdd::{self, Scope};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn company_of(app: &TestApp, site: Id) -> Id {
    tomoni::org::sites::find(&mut app.conn(), site)
        .unwrap()
        .company_id
        .into()
}

fn site(
    app: &TestApp,
    code: &str,
    region: &str,
    opened: NaiveDate,
    closed: Option<NaiveDate>,
) -> Id {
    let anchor = app.site(&format!("{code}-anchor"));
    let company = company_of(app, anchor);
    let req = serde_json::from_value(json!({"code": code, "name": format!("Site {code}"),
        "company_id": company.to_string(), "country": "JP", "region": region,
        "timezone": "Asia/Tokyo", "opened_on": opened, "closed_on": closed}))
    .unwrap();
    let created =
        tomoni::org::sites::create(&mut app.conn(), &common::admin_principal(), req).unwrap();
    // The anchor only brought the company; close it long ago so it is never active.
    let patch =
        serde_json::from_value(json!({"opened_on": "1990-01-01", "closed_on": "1990-12-31"}))
            .unwrap();
    tomoni::org::sites::update(&mut app.conn(), &common::admin_principal(), anchor, patch).unwrap();
    created.id.into()
}

fn programme(conn: &mut AnyConnection, site: Id, code: &str, categories: &[&str]) -> Id {
    let req: program::CreateProgram = serde_json::from_value(json!({"site_id": site.to_string(),
        "code": code, "title": code, "theme": "nature", "categories": categories}))
    .unwrap();
    program::create(conn, &req).unwrap()
}

fn event(conn: &mut AnyConnection, program: Id, by: Id, start: DateTime<Utc>, hours: i64) -> Id {
    let req: events::CreateEvent = serde_json::from_value(json!({"program_id": program.to_string(),
        "starts_at": start.to_rfc3339(), "ends_at": (start + chrono::Duration::hours(hours)).to_rfc3339()}))
    .unwrap();
    let id = events::create(conn, &req, by).unwrap();
    // One that has already ended is a recorded activity (completed); the rest are published.
    if events::find(conn, id).unwrap().status == events::EventStatus::Draft {
        events::publish(conn, id).unwrap();
    }
    id
}

fn settings(auto_approve: bool) -> AttendanceSettings {
    AttendanceSettings {
        check_in_opens_minutes_before: 60,
        allow_walk_ins: true,
        auto_approve_roster: auto_approve,
        default_minutes_per_day: 480,
        check_in_attempt_burst: 0,
        check_in_attempt_period_secs: 30,
    }
}

/// Records attendance on the roster as `by` (an admin); approved at once when `approve`.
fn record(
    conn: &mut AnyConnection,
    event: Id,
    by: Id,
    lines: &[(Id, i32)],
    approve: bool,
) -> Vec<Id> {
    let marking: roster::RosterMarking = serde_json::from_value(json!({"entries": lines.iter()
        .map(|(u, m)| json!({"user_id": u.to_string(), "status": "attended", "minutes": m}))
        .collect::<Vec<_>>()}))
    .unwrap();
    let marker = Caller {
        id: by,
        role: Role::Admin,
        site_id: None,
        sites: Vec::new(),
        restatement: None,
    };
    let done = roster::mark(conn, &marker, event, &marking, None, &settings(approve)).unwrap();
    done.items.into_iter().map(|a| Id::from(a.id)).collect()
}

fn admin_caller(admin: &TestUser) -> Caller {
    Caller {
        id: admin.id,
        role: Role::Admin,
        site_id: None,
        sites: Vec::new(),
        restatement: None,
    }
}

fn tokyo(y: i32, m: u32, day: u32, h: u32, min: u32) -> DateTime<Utc> {
    // Tokyo is UTC+9 all year.
    Utc.with_ymd_and_hms(y, m, day, h, min, 0).unwrap() - chrono::Duration::hours(9)
}

/// Hand-built records over fiscal 2025 and 2026 (April years); see the expected table below.
struct Handmade {
    a: Id,
    b: Id,
    admin: TestUser,
}

fn handmade(app: &TestApp) -> Handmade {
    let a = site(app, "A", "domestic", d(2000, 4, 1), None);
    let b = site(app, "B", "overseas", d(2000, 4, 1), None);
    let c = site(app, "C", "domestic", d(2000, 4, 1), Some(d(2024, 6, 30)));
    let dd = site(app, "D", "domestic", d(2025, 10, 1), None);
    let _ = c;
    let admin = app.user(Role::Admin, None);
    let u: Vec<Id> = app
        .employees(4, Some(a))
        .into_iter()
        .map(|e| e.id)
        .collect();
    let conn = &mut app.conn();
    let pa1 = programme(conn, a, "PA1", &["biodiversity"]);
    let pa2 = programme(conn, a, "PA2", &[]);
    let pb1 = programme(conn, b, "PB1", &["disaster_relief", "biodiversity"]);
    let pd1 = programme(conn, dd, "PD1", &[]);
    let by = admin.id;
    // Fiscal 2025.
    let e1 = event(conn, pa1, by, tokyo(2024, 6, 10, 10, 0), 3);
    record(conn, e1, by, &[(u[0], 180), (u[1], 180), (u[2], 120)], true);
    let e2 = event(conn, pb1, by, tokyo(2024, 12, 1, 10, 0), 2);
    record(conn, e2, by, &[(u[0], 120), (u[3], 120)], true);
    // 31 March 22:00-24:00 in Tokyo: still fiscal 2025.
    let e3 = event(conn, pa2, by, tokyo(2025, 3, 31, 22, 0), 2);
    record(conn, e3, by, &[(u[1], 120)], true);
    // Fiscal 2026: 1 April 00:30 in Tokyo is 31 March 15:30 UTC.
    let e4 = event(conn, pa1, by, tokyo(2025, 4, 1, 0, 30), 2);
    record(conn, e4, by, &[(u[0], 120), (u[2], 60)], true);
    let e5 = event(conn, pd1, by, tokyo(2025, 11, 1, 9, 0), 3);
    record(conn, e5, by, &[(u[0], 180), (u[1], 180), (u[3], 90)], true);
    // Not counted: one rejected, one pending.
    let e6 = event(conn, pa2, by, tokyo(2026, 1, 15, 9, 0), 2);
    let ids = record(conn, e6, by, &[(u[1], 120), (u[2], 120)], false);
    approval::reject(conn, &admin_caller(&admin), ids[0], "not there", None).unwrap();
    Handmade { a, b, admin }
}

const EXPECTED_CSV: &str = "\
Figure,Fiscal 2025,Fiscal 2026,Change,Change (%)\r
Number of sites,2,2,0,0.0\r
Number of programs,3,2,-1,-33.3\r
Number of participants (cumulative),6,5,-1,-16.7\r
Unique participants,4,4,0,0.0\r
Person-days,6,5,-1,-16.7\r
Volunteer time (hours),14.0,10.5,-3.5,-25.0\r
Biodiversity participants,5,2,-3,-60.0\r
Disaster relief participants,2,0,-2,-100.0\r
Active sites,3,3,0,0.0\r
Implementation rate (%),66.7,66.7,0.0,0.0\r
";

async fn get_text(app: &TestApp, token: &str, path: &str) -> (u16, String, String) {
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
    let body = res.body().await.unwrap();
    (
        res.status().as_u16(),
        ct,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

async fn the_report_table_equals_the_hand_counted_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let h = handmade(&app);
    let employee = app.token(&app.user(Role::Employee, Some(h.a)));

    let (status, ct, csv) = get_text(
        &app,
        &employee,
        "/api/v1/stats/mdd?from=2025&to=2026&format=csv",
    )
    .await;
    assert_eq!(status, 200, "{csv}");
    assert!(ct.starts_with("text/csv"), "{ct}");
    assert_eq!(csv, EXPECTED_CSV);

    let (status, _, report) = app
        .get_as(&employee, "/api/v1/stats/mdd?from=2025&to=2026")
        .await;
    assert_eq!(status, 200, "{report}");
    let fy26 = &report["years"][1];
    assert_eq!(fy26["fiscal_year"], 2026);
    assert_eq!(fy26["first_day"], "2025-04-01");
    assert_eq!(fy26["figures"]["volunteer_hours"], 10.5);
    assert_eq!(fy26["figures"]["implementation_rate"], 66.7);
    assert_eq!(
        fy26["change"]["participants"],
        json!({"absolute": -1.0, "percent": -16.7})
    );
    assert_eq!(report["years"][0]["figures"]["participants"], 6);

    // Scopes: the overseas region is site B alone; site A in fiscal 2026.
    let (_, _, overseas) = app
        .get_as(
            &employee,
            "/api/v1/stats/mdd?from=2025&to=2025&region=overseas",
        )
        .await;
    assert_eq!(
        overseas["years"][0]["figures"],
        json!({"sites": 1, "programs": 1, "participants": 2,
        "unique_participants": 2, "person_days": 2, "volunteer_hours": 4.0, "volunteer_minutes": 240, "biodiversity_participants": 2,
        "disaster_relief_participants": 2, "active_sites": 1, "implementation_rate": 100.0})
    );
    let (_, _, at_a) = app
        .get_as(
            &employee,
            &format!("/api/v1/stats/mdd?from=2026&to=2026&site_id={}", h.a),
        )
        .await;
    assert_eq!(at_a["years"][0]["figures"]["participants"], 2);
    assert_eq!(at_a["years"][0]["figures"]["unique_participants"], 2);

    // The naive recomputation agrees on every scope.
    let conn = &mut app.conn();
    let fiscal = app.settings.stats.fiscal();
    let company = company_of(&app, h.a);
    for scope in [
        Scope::default(),
        Scope {
            site_id: Some(h.b),
            ..Scope::default()
        },
        Scope {
            company_id: Some(company),
            ..Scope::default()
        },
        Scope {
            region: Some("domestic".into()),
            ..Scope::default()
        },
    ] {
        assert_eq!(
            mdd::figures(conn, fiscal, 2024..=2027, &scope).unwrap(),
            mdd::naive(conn, fiscal, 2024..=2027, &scope).unwrap(),
            "{scope:?}"
        );
    }
    // A rebuild from raw rows gives the same figures.
    let before = mdd::figures(conn, fiscal, 2024..=2027, &Scope::default()).unwrap();
    tomoni::stats::rollup::rebuild(conn, |_| {}).unwrap();
    assert_eq!(
        mdd::figures(conn, fiscal, 2024..=2027, &Scope::default()).unwrap(),
        before
    );
}

/// The fiscal year (April start) that `day` falls in.
fn fiscal_of(day: NaiveDate) -> i32 {
    use chrono::Datelike;
    if day.month() >= 4 {
        day.year() + 1
    } else {
        day.year()
    }
}

/// The first moment of fiscal year `fy` in Tokyo, plus `months`.
fn fiscal_start(fy: i32, months: u32) -> DateTime<Utc> {
    let first = d(fy - 1, 4, 1)
        .checked_add_months(chrono::Months::new(months))
        .unwrap();
    Utc.from_utc_datetime(&first.and_hms_opt(0, 0, 0).unwrap()) - chrono::Duration::hours(9)
}

/// Without years the report shows the last three completed fiscal years; the running year,
/// asked for, is marked and compared with the same months of the year before; the CSV's change
/// column is the difference of the figures it prints.
async fn the_report_reads_right_for_completed_and_running_years(backend: Backend) {
    use chrono::Datelike;
    let app = TestApp::spawn(backend).await;
    let a = site(&app, "A", "domestic", d(2000, 4, 1), None);
    let admin = app.user(Role::Admin, None);
    let people: Vec<Id> = app
        .employees(11, Some(a))
        .into_iter()
        .map(|e| e.id)
        .collect();
    let today = Utc::now().date_naive();
    let current = fiscal_of(today);
    let conn = &mut app.conn();
    let p = programme(conn, a, "P1", &[]);
    let by = admin.id;
    // Two years ago: 2 x 1129 min = 37.63 h. Last year: 10 x 1400 + 2 min = 233.37 h, one of
    // them in the year's last month. This year so far: 3 people.
    // (Records longer than their event wait for a person's approval.)
    let e = event(conn, p, by, fiscal_start(current - 2, 2), 3);
    let long = record(conn, e, by, &[(people[0], 1129), (people[1], 1129)], true);
    approval::approve(conn, &admin_caller(&admin), &long, None).unwrap();
    let e = event(conn, p, by, fiscal_start(current - 1, 0), 3);
    let lines: Vec<(Id, i32)> = people[..10].iter().map(|u| (*u, 1400)).collect();
    let long = record(conn, e, by, &lines, true);
    approval::approve(conn, &admin_caller(&admin), &long, None).unwrap();
    let late = event(conn, p, by, fiscal_start(current - 1, 11), 3);
    record(conn, late, by, &[(people[10], 2)], true);
    let e = event(conn, p, by, fiscal_start(current, 0), 3);
    record(
        conn,
        e,
        by,
        &[(people[0], 60), (people[1], 60), (people[2], 60)],
        true,
    );
    let token = app.token(&admin);

    let (status, _, report) = app.get_as(&token, "/api/v1/stats/mdd").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (report["from"].clone(), report["to"].clone()),
        (json!(current - 3), json!(current - 1))
    );
    let years = report["years"].as_array().unwrap();
    assert!(years.iter().all(|y| y["in_progress"] == false), "{report}");
    assert_eq!(years[2]["figures"]["volunteer_hours"], 233.37);
    assert_eq!(years[2]["change"]["volunteer_hours"]["absolute"], 195.74);

    let path = format!("/api/v1/stats/mdd?from={}&to={current}", current - 1);
    let (status, _, report) = app.get_as(&token, &path).await;
    assert_eq!(status, 200, "{report}");
    let running = &report["years"][1];
    assert_eq!(running["in_progress"], true, "{report}");
    let through = today
        .with_day(1)
        .unwrap()
        .checked_add_months(chrono::Months::new(1))
        .unwrap()
        .pred_opt()
        .unwrap()
        .checked_sub_months(chrono::Months::new(12))
        .unwrap();
    assert_eq!(running["compared_through"], through.to_string());
    // The same months of last year hold the first event, and the last-month one only in March.
    let before = if today.month() == 3 { 11 } else { 10 };
    assert_eq!(running["figures"]["participants"], 3);
    assert_eq!(
        running["change"]["participants"]["absolute"],
        3.0 - before as f64
    );
    assert!(
        running["change"].get("unique_participants").is_none(),
        "no same-period count of unique participants: {running}"
    );
    assert_eq!(report["years"][0]["in_progress"], false);
    assert!(report["years"][0]["compared_through"].is_null());

    // The chart: one panel per figure, titled with the years, every value written out.
    let svg_path = format!(
        "/api/v1/stats/mdd?from={}&to={}&format=svg",
        current - 2,
        current - 1
    );
    let (status, _, svg) = get_text(&app, &token, &svg_path).await;
    assert_eq!(status, 200, "{svg}");
    let title = format!("Fiscal {}\u{2013}{}", current - 2, current - 1);
    assert!(
        svg.contains(&format!("<title id=\"chart-title\">{title}</title>")),
        "{svg}"
    );
    assert!(svg.contains("Participants (cumulative)") && svg.contains("Volunteer time (hours)"));
    assert!(
        svg.contains(">37.6<") && svg.contains(">233.4 (+520.2 %)<"),
        "{svg}"
    );
    let (_, _, ja) = get_text(&app, &token, &format!("{svg_path}&lang=ja")).await;
    assert!(
        ja.contains(&format!("{}\u{ff5e}{}年度", current - 2, current - 1)),
        "{ja}"
    );
    assert!(ja.contains("参加者数（延べ）"), "{ja}");

    let csv_path = format!(
        "/api/v1/stats/mdd?from={}&to={}&format=csv",
        current - 2,
        current - 1
    );
    let (status, _, csv) = get_text(&app, &token, &csv_path).await;
    assert_eq!(status, 200, "{csv}");
    assert!(
        csv.contains("Volunteer time (hours),37.6,233.4,195.8,"),
        "{csv}"
    );
    for line in csv.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let num = |i: usize| cells[i].parse::<f64>().unwrap();
        let (before, now, change) = (num(1), num(2), num(3));
        assert!(
            (now - before - change).abs() < 1e-9,
            "the change is the difference of the printed figures: {line}"
        );
        if before != 0.0 {
            let percent = ((now - before) * 1000.0 / before).round() / 10.0;
            assert!((num(4) - percent).abs() < 1e-9, "{line}");
        }
    }
}

async fn breakdowns_split_the_same_figures(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let h = handmade(&app);
    let token = app.token(&h.admin);
    let (status, _, months) = app
        .get_as(&token, "/api/v1/stats/mdd/2025/breakdown?by=month")
        .await;
    assert_eq!(status, 200, "{months}");
    let rows: Vec<(String, i64, i64)> = months["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["label"].as_str().unwrap().to_owned(),
                r["figures"]["participants"].as_i64().unwrap(),
                r["figures"]["unique_participants"].as_i64().unwrap(),
            )
        })
        .collect();
    let labels: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        labels,
        [
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
            "January",
            "February",
            "March"
        ],
        "every month, in fiscal order"
    );
    let busy: Vec<&(String, i64, i64)> = rows.iter().filter(|r| r.1 > 0).collect();
    assert_eq!(
        busy,
        [
            &("June".to_owned(), 3, 3),
            &("December".to_owned(), 2, 2),
            &("March".to_owned(), 1, 1)
        ]
    );
    let (_, _, by_site) = app
        .get_as(&token, "/api/v1/stats/mdd/2025/breakdown?by=site")
        .await;
    let labels: Vec<&str> = by_site["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        ["Site A", "Site B", "Site C"],
        "site C ran nothing but was open: its 0 % shows"
    );
    assert_eq!(by_site["rows"][0]["figures"]["participants"], 4);
    assert_eq!(by_site["rows"][0]["figures"]["implementation_rate"], 100.0);
    assert_eq!(by_site["rows"][2]["figures"]["participants"], 0);
    assert_eq!(by_site["rows"][2]["figures"]["implementation_rate"], 0.0);
    let (_, _, by_category) = app
        .get_as(&token, "/api/v1/stats/mdd/2025/breakdown?by=category")
        .await;
    let cats: Vec<(&str, i64)> = by_category["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap(),
                r["figures"]["participants"].as_i64().unwrap(),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(
        cats,
        [("biodiversity", 5), ("disaster_relief", 2), ("none", 1)]
    );
    let biodiversity = by_category["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "biodiversity")
        .unwrap();
    assert_eq!(biodiversity["figures"]["unique_participants"], 4);

    // Rows add up to the total in every dimension (categories overlap by the 2 participants of
    // the programme that is in two of them).
    let additive = [
        "participants",
        "person_days",
        "volunteer_minutes",
        "biodiversity_participants",
        "disaster_relief_participants",
    ];
    for (by, also, overlap) in [
        ("site", &["programs", "sites", "active_sites"][..], 0),
        ("company", &["programs", "sites", "active_sites"][..], 0),
        ("region", &["programs", "sites", "active_sites"][..], 0),
        ("theme", &["programs"][..], 0),
        ("month", &[][..], 0),
        ("category", &[][..], 2),
    ] {
        let (status, _, b) = app
            .get_as(&token, &format!("/api/v1/stats/mdd/2025/breakdown?by={by}"))
            .await;
        assert_eq!(status, 200, "{b}");
        let total = &b["total"];
        assert_eq!(total["participants"], 6, "{b}");
        // Category rows overlap on every line; their participants are checked with the overlap.
        let checked: Vec<&str> = match by {
            "category" => vec!["participants"],
            _ => additive.iter().chain(also).copied().collect(),
        };
        for figure in checked {
            let sum: i64 = b["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["figures"][figure].as_i64().unwrap())
                .sum();
            assert_eq!(
                sum,
                total[figure].as_i64().unwrap() + overlap,
                "{figure} by {by}: {b}"
            );
        }
    }

    let (status, ct, csv) = get_text(
        &app,
        &token,
        "/api/v1/stats/mdd/2025/breakdown?by=site&format=csv&bom=true",
    )
    .await;
    assert_eq!(status, 200, "{csv}");
    assert!(ct.starts_with("text/csv"), "{ct}");
    assert!(csv.starts_with('\u{feff}'), "a BOM for Excel");
    let last = csv.lines().last().unwrap();
    assert!(last.starts_with(",Total,2,3,6,"), "{csv}");
    // The same sheet as XLSX: the same rows, numbers as numbers.
    let (status, ct, xlsx) = app
        .get_bytes(
            &token,
            "/api/v1/stats/mdd/2025/breakdown?by=site&format=xlsx",
        )
        .await;
    assert_eq!(status, 200);
    assert!(ct.contains("spreadsheetml"), "{ct}");
    let rows = common::xlsx_rows(&xlsx);
    assert_eq!(rows.len(), csv.lines().count(), "{rows:?}");
    assert_eq!(&rows.last().unwrap()[1..5], ["Total", "2", "3", "6"]);
    assert_problem(
        &app.get_as(&token, "/api/v1/stats/mdd/2025/breakdown?by=weekday")
            .await,
        400,
        "invalid_query",
    );
}

async fn objectives_are_graded_against_the_figures(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let h = handmade(&app);
    let hr = app.token(&app.user(Role::Hr, None));
    let body = json!({"objectives": [
        {"metric": "implementation_rate", "target": 60.0},
        {"metric": "participants", "target": 8},
        {"metric": "unique_participants", "yoy_percent": 10},
        {"metric": "volunteer_hours", "target": 30},
    ]});
    let (status, _, saved) = app
        .call(
            "PUT",
            "/api/v1/objectives/2026",
            Some(&hr),
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    let grades: Vec<(String, Value, Value)> = saved["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["metric"].as_str().unwrap().to_owned(),
                o["ratio"].clone(),
                o["grade"].clone(),
            )
        })
        .collect();
    assert_eq!(
        grades,
        [
            (
                "participants".to_owned(),
                json!(0.625),
                json!("some_progress")
            ),
            (
                "unique_participants".to_owned(),
                json!(0.0),
                json!("no_progress")
            ),
            (
                "volunteer_hours".to_owned(),
                json!(0.35),
                json!("some_progress")
            ),
            (
                "implementation_rate".to_owned(),
                json!(1.112),
                json!("achieved")
            ),
        ]
    );
    let employee = app.token(&app.user(Role::Employee, Some(h.a)));
    let (status, _, read) = app.get_as(&employee, "/api/v1/objectives/2026").await;
    assert_eq!(status, 200);
    assert_eq!(read, saved);
    assert_problem(
        &app.call(
            "PUT",
            "/api/v1/objectives/2026",
            Some(&employee),
            Some(body),
        )
        .await,
        403,
        "forbidden",
    );
    let bad =
        json!({"objectives": [{"metric": "participants"}, {"metric": "smiles", "target": 1}]});
    let got = app
        .call("PUT", "/api/v1/objectives/2026", Some(&hr), Some(bad))
        .await;
    assert_eq!(got.0, 422, "{}", got.2);
    let (_, _, still) = app.get_as(&employee, "/api/v1/objectives/2026").await;
    assert_eq!(
        still["objectives"].as_array().unwrap().len(),
        4,
        "a refused PUT changes nothing"
    );
}

async fn bad_report_requests_get_clear_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let site = app.site("A");
    let token = app.token(&app.user(Role::Employee, Some(site)));
    for path in [
        "/api/v1/stats/mdd?from=2027&to=2026",
        "/api/v1/stats/mdd?from=1950&to=2026",
        "/api/v1/stats/mdd?to=99999",
        "/api/v1/stats/mdd?format=pdf",
        "/api/v1/stats/mdd?region=moon",
    ] {
        assert_problem(&app.get_as(&token, path).await, 400, "invalid_query");
    }
    let refused = app
        .get_as(&token, "/api/v1/stats/mdd?format=svg&lang=fr")
        .await;
    let problem = assert_problem(&refused, 400, "invalid_query");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("unknown lang \"fr\": use en, ja"),
        "{problem}"
    );
    let both = format!("/api/v1/stats/mdd?site_id={site}&region=domestic");
    assert_problem(&app.get_as(&token, &both).await, 400, "invalid_query");
    let (status, ct, svg) = get_text(&app, &token, "/api/v1/stats/mdd?format=svg").await;
    assert_eq!(status, 200);
    assert_eq!(ct, "image/svg+xml");
    assert!(svg.starts_with("<svg") && svg.contains("Fiscal"), "{svg}");
    assert_eq!(
        app.call("GET", "/api/v1/stats/mdd", None, None).await.0,
        401
    );
}

both_backends!(
    the_report_table_equals_the_hand_counted_one,
    breakdowns_split_the_same_figures,
    objectives_are_graded_against_the_figures,
    bad_report_requests_get_clear_errors,
);

/// `seed demo` is deterministic for a seed (ids included) and its summaries equal the naive
/// recount.
async fn the_demo_seed_is_deterministic_and_summarised(backend: Backend) {
    use diesel::prelude::*;
    use tomoni::db::schema::attendance;
    let opts = tomoni::seed::Options {
        years: 2,
        scale: 0.01,
        seed: 7,
    };
    let today = d(2026, 11, 24);
    let run = |backend: &Backend| {
        let db = common::TestDb::new(backend);
        let pool = tomoni::db::init(&db.settings().database).unwrap();
        let conn = &mut pool.get().unwrap();
        let fiscal = tomoni::time::FiscalCalendar::APRIL;
        let summary = tomoni::seed::demo(conn, fiscal, today, &opts, &mut |_, _, _| {}).unwrap();
        let ids: Vec<Id> = attendance::table
            .select(attendance::id)
            .order(attendance::id)
            .load(conn)
            .unwrap();
        let kept = mdd::figures(conn, fiscal, 2025..=2026, &Scope::default()).unwrap();
        let naive = mdd::naive(conn, fiscal, 2025..=2026, &Scope::default()).unwrap();
        assert_eq!(kept, naive);
        assert!(kept[&2026].participants > 1000, "{kept:?}");
        // The years before the last (of two: 2025) are closed, graded against their
        // objectives, and published as they are; the last completed one stays open.
        {
            let fy = 2025;
            let closed = tomoni::stats::closing::status(conn, fy).unwrap();
            assert!(
                closed.closed && closed.versions.len() == 1,
                "FY{fy}: {closed:?}"
            );
            let (_, published) = tomoni::stats::closing::published(conn, fy, None).unwrap();
            assert_eq!(published.figures, kept[&fy]);
            assert_eq!(published.objectives.objectives.len(), 3);
            let spent = tomoni::contributions::totals(conn, fy).unwrap();
            assert_eq!(spent.total_yen, 496_928_000);
            assert_eq!(spent.approx_ja, "約5億円");
            // The rest of the report section: objectives under the plan, winners, reviews.
            let section = tomoni::report_section::section(conn, fy).unwrap();
            assert_eq!(section.published_version, Some(1));
            let plan = &section.objectives.medium_term;
            assert_eq!(plan.len(), 1, "{:?}", section.objectives);
            assert_eq!(plan[0].fiscal_year_objectives.len(), 2);
            // The first seeded year has no year before: its growth measure cannot be graded.
            let measured = &plan[0].fiscal_year_objectives[0];
            assert!(measured.measures[0].grade.is_some(), "{measured:?}");
            assert_eq!(
                plan[0].fiscal_year_objectives[1].grade,
                Some(tomoni::stats::objectives::Grade::MostlyAchieved)
            );
            assert!(section.winners.len() >= 4, "{:?}", section.winners);
            assert_eq!(section.implementation_rate.target, Some(60.0));
            let reviews = tomoni::reviews::year(conn, &common::admin_principal(), fy).unwrap();
            assert_eq!(reviews.not_reviewed.len(), 3, "all but three are reviewed");
            assert!(reviews.reviews.len() > 3, "{}", reviews.reviews.len());
        }
        assert!(!tomoni::stats::closing::status(conn, 2026).unwrap().closed);
        let again = tomoni::seed::demo(conn, fiscal, today, &opts, &mut |_, _, _| {});
        assert!(
            again.is_err(),
            "a second seed into the same database is refused"
        );
        (summary, ids, kept)
    };
    let first = run(&backend);
    let second = run(&backend);
    assert_eq!(first, second, "same seed, same data");
    assert_eq!(first.1.len(), first.0.attendance);
}

both_backends!(the_demo_seed_is_deterministic_and_summarised);

/// A different `stats.fiscal_year_start_month` rebuilds the summaries at start-up, and the
/// figures follow the new calendar.
async fn a_new_fiscal_start_month_rebuilds_the_summaries(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    handmade(&app);
    let mut settings = app.settings.clone();
    settings.stats.fiscal_year_start_month = 1;
    let state = tomoni::AppState::init(settings).unwrap();
    let conn = &mut state.pool.get().unwrap();
    let january = tomoni::time::FiscalCalendar::new(1).unwrap();
    assert_eq!(tomoni::stats::rollup::calendar(conn).unwrap(), january);
    let kept = mdd::figures(conn, january, 2024..=2026, &Scope::default()).unwrap();
    assert_eq!(
        kept,
        mdd::naive(conn, january, 2024..=2026, &Scope::default()).unwrap()
    );
    // Calendar 2025 holds the events of 31 March, 1 April, 1 November 2025 (and the rejected
    // January 2026 one does not count).
    assert_eq!(kept[&2025].participants, 1 + 2 + 3);
    assert_eq!(kept[&2024].participants, 3 + 2);

    // The instance still configured for April answers with the calendar the summaries now
    // follow (a rolling restart: another instance rebuilt them), not with its own setting.
    let hr = app.token(&app.user(Role::Hr, None));
    let (status, _, report) = app.get_as(&hr, "/api/v1/stats/mdd?from=2024&to=2025").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["fiscal_year_start_month"], 1);
    let last = &report["years"][1];
    assert_eq!(last["fiscal_year"], 2025);
    assert_eq!(last["first_day"], "2025-01-01");
    assert_eq!(last["figures"]["participants"], 1 + 2 + 3);
    let (status, _, report) = app.get_as(&hr, "/api/v1/stats/mdd").await;
    assert_eq!(status, 200, "{report}");
    let last_year = chrono::Datelike::year(&chrono::Utc::now().date_naive()) - 1;
    assert_eq!(
        report["to"], last_year,
        "the last completed year, January calendar"
    );
}

both_backends!(
    a_new_fiscal_start_month_rebuilds_the_summaries,
    the_report_reads_right_for_completed_and_running_years
);
