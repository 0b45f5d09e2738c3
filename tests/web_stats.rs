//! The statistics pages over real HTTP on a `seed demo` database: the annual table's cells are
//! the API's figures, the breakdowns' rows the API's groups (a company drills down to its
//! sites), the downloads the API's files, and bad input a message on the form. Every
//! signed-in person reads them; a visitor who is not signed in is sent to sign in.

mod common;

use common::web::{Browser, Page};
use common::{Backend, TestApp};
use serde_json::Value;
use tomoni::auth::Role;

/// A demo dataset of three fiscal years ending with the last completed one.
fn seeded(app: &TestApp) {
    let today = chrono::Utc::now().date_naive();
    let opts = tomoni::seed::Options {
        years: 3,
        scale: 0.004,
        seed: 11,
    };
    tomoni::seed::demo(
        &mut app.conn(),
        tomoni::time::FiscalCalendar::APRIL,
        today,
        &opts,
        &mut |_, _, _| {},
    )
    .expect("seed");
}

/// The cells of `<tr data-{attr}="...">` rows of the table with `id`: the row's key, its
/// header text and its `td` texts.
fn table(page: &Page, id: &str, attr: &str) -> Vec<(String, String, Vec<String>)> {
    let body = &page.body;
    let start = body
        .find(&format!("<table id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table {id} in {body}"));
    let end = start + body[start..].find("</table>").expect("table end");
    let html = &body[start..end];
    let marker = format!("<tr data-{attr}=\"");
    html.split(&marker)
        .skip(1)
        .map(|row| {
            let key = row[..row.find('"').unwrap()].to_owned();
            let head = between(row, "<th scope=\"row\">", "</th>");
            let head = strip_tags(&head);
            let cells = row
                .split("<td class=\"num\">")
                .skip(1)
                .map(|c| c[..c.find("</td>").unwrap()].to_owned())
                .collect();
            (key, head, cells)
        })
        .collect()
}

fn between(text: &str, from: &str, to: &str) -> String {
    let at = text.find(from).map_or(0, |i| i + from.len());
    text[at..at + text[at..].find(to).unwrap_or(0)].to_owned()
}

fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in html.chars() {
        match c {
            '<' => inside = true,
            '>' => inside = false,
            c if !inside => out.push(c),
            _ => {}
        }
    }
    out.trim().to_owned()
}

/// A printed figure back as a number: "12,345.6" → 12345.6, "+1,234" → 1234, "-3.5%" → -3.5.
fn number(text: &str) -> f64 {
    text.replace([',', '+', '%'], "")
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {text:?}"))
}

/// The decimals the report prints `metric` with.
fn decimals(metric: &str) -> i32 {
    match metric {
        "volunteer_hours" | "implementation_rate" => 1,
        _ => 0,
    }
}

fn same(metric: &str, printed: &str, api: &Value) {
    let api = api
        .as_f64()
        .unwrap_or_else(|| panic!("{metric}: {api} is not a number"));
    let scale = 10f64.powi(decimals(metric));
    assert!(
        (number(printed) - (api * scale).round() / scale).abs() < 1e-9,
        "{metric}: the page says {printed}, the API {api}"
    );
}

async fn signed_in(app: &TestApp, role: Role) -> (Browser, String) {
    let user = app.user(role, None);
    let mut browser = Browser::default();
    browser.sign_in(app, &user).await;
    (browser, app.token(&user))
}

async fn the_annual_table_shows_the_apis_figures(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seeded(&app);
    let (mut browser, token) = signed_in(&app, Role::Employee).await;
    let page = browser.get(&app, "/stats").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let (status, _, api) = app.get_as(&token, "/api/v1/stats/mdd").await;
    assert_eq!(status, 200, "{api}");
    let years = api["years"].as_array().unwrap();
    assert_eq!(years.len(), 3);
    for y in years {
        let fy = y["fiscal_year"].as_i64().unwrap();
        assert!(
            page.body.contains(&format!("data-year=\"{fy}\"")),
            "a column for {fy}"
        );
    }
    let rows = table(&page, "report", "metric");
    assert_eq!(rows.len(), 10, "every figure of the report");
    let last = years.last().unwrap();
    for (metric, _, cells) in &rows {
        assert_eq!(cells.len(), years.len() + 2, "{metric}: years, change, %");
        for (cell, y) in cells.iter().zip(years) {
            same(metric, cell, &y["figures"][metric.as_str()]);
        }
        let change = &last["change"][metric.as_str()];
        if change.is_object() {
            same(metric, &cells[years.len()], &change["absolute"]);
            if change["percent"].is_number() {
                let pct = number(&cells[years.len() + 1]);
                assert!(
                    (pct - change["percent"].as_f64().unwrap()).abs() < 0.05 + 1e-9,
                    "{metric}: {pct} against {}",
                    change["percent"]
                );
            }
        }
    }
    assert!(
        number(&rows[2].2[2]) > 100.0,
        "the seed's participants show: {rows:?}"
    );
    // The chart is in the page, accessible: a title and a description with the numbers.
    assert!(page.body.contains("<svg"), "the chart");
    assert!(page.body.contains("<desc id=\"chart-desc\">"));

    // A company's figures are the API's for that company.
    let (_, _, by_company) = app
        .get_as(
            &token,
            &format!(
                "/api/v1/stats/mdd/{}/breakdown?by=company",
                last["fiscal_year"]
            ),
        )
        .await;
    let company = by_company["rows"][0]["key"].as_str().unwrap().to_owned();
    let page = browser
        .get(&app, &format!("/stats?scope=company:{company}"))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let (_, _, api) = app
        .get_as(&token, &format!("/api/v1/stats/mdd?company_id={company}"))
        .await;
    for (metric, _, cells) in table(&page, "report", "metric") {
        for (cell, y) in cells.iter().zip(api["years"].as_array().unwrap()) {
            same(&metric, cell, &y["figures"][metric.as_str()]);
        }
    }

    // The downloads are the API's files.
    let csv = browser.get(&app, "/stats/report.csv?bom=1").await;
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let mut res = app
        .client()
        .get(app.url("/api/v1/stats/mdd?format=csv&bom=true"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send()
        .await
        .unwrap();
    let api_csv = res.body().await.unwrap();
    assert_eq!(csv.body.as_bytes(), &api_csv[..], "the same CSV");
    let (status, _, xlsx) = browser.download(&app, "/stats/report.xlsx", None).await;
    assert_eq!(status, 200);
    let (_, _, api_xlsx) = app.get_bytes(&token, "/api/v1/stats/mdd?format=xlsx").await;
    let rows = common::xlsx_rows(&xlsx);
    assert_eq!(rows, common::xlsx_rows(&api_xlsx), "the same table");
    assert_eq!(rows.len(), 1 + 10, "a header and the ten figures: {rows:?}");
    let svg = browser.get(&app, "/stats/report.svg").await;
    assert_eq!(svg.status, 200);
    assert_eq!(svg.header("content-type").as_deref(), Some("image/svg+xml"));
    assert!(svg.body.starts_with("<svg"), "{}", svg.body);
}

async fn breakdowns_drill_from_a_company_to_its_sites(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seeded(&app);
    let (mut browser, token) = signed_in(&app, Role::Coordinator).await;
    let (_, _, report) = app.get_as(&token, "/api/v1/stats/mdd").await;
    let fy = report["to"].as_i64().unwrap();
    let (_, _, api) = app
        .get_as(
            &token,
            &format!("/api/v1/stats/mdd/{fy}/breakdown?by=company"),
        )
        .await;
    let page = browser
        .get(&app, &format!("/stats/{fy}/breakdown?by=company"))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let rows = table(&page, "breakdown", "key");
    let api_rows = api["rows"].as_array().unwrap();
    assert_eq!(rows.len(), api_rows.len(), "every company");
    for ((key, label, cells), r) in rows.iter().zip(api_rows) {
        assert_eq!(key, r["key"].as_str().unwrap());
        assert_eq!(label, r["label"].as_str().unwrap());
        same("participants", &cells[2], &r["figures"]["participants"]);
        same(
            "volunteer_hours",
            &cells[5],
            &r["figures"]["volunteer_hours"],
        );
    }

    // Sorted by participants, most first.
    let sorted = browser
        .get(
            &app,
            &format!("/stats/{fy}/breakdown?by=company&sort=participants&dir=desc"),
        )
        .await;
    let counts: Vec<f64> = table(&sorted, "breakdown", "key")
        .iter()
        .map(|(_, _, c)| number(&c[2]))
        .collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    assert!(sorted.body.contains("aria-sort=\"descending\""));

    // Drill into the busiest company: its sites only, and its own figures as the total.
    let busiest = api_rows
        .iter()
        .max_by_key(|r| r["figures"]["participants"].as_i64().unwrap())
        .unwrap();
    let company = busiest["key"].as_str().unwrap();
    let link = format!("/stats/{fy}/breakdown?by=site&amp;company={company}");
    assert!(
        page.body.replace("&#x2f;", "/").contains(&link),
        "the company links to its sites"
    );
    let drill = browser.get(&app, &link.replace("&amp;", "&")).await;
    assert_eq!(drill.status, 200, "{}", drill.body);
    let (_, _, sites) = app
        .get_as(
            &token,
            &format!("/api/v1/sites?company_id={company}&limit=200"),
        )
        .await;
    let ids: Vec<&str> = sites["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    let site_rows = table(&drill, "breakdown", "key");
    assert!(!site_rows.is_empty());
    assert!(
        site_rows.iter().all(|(k, _, _)| ids.contains(&k.as_str())),
        "only the company's sites"
    );
    let total = between(&drill.body, "<tfoot>", "</tfoot>");
    let total_cells: Vec<String> = total
        .split("<td class=\"num\">")
        .skip(1)
        .map(|c| c[..c.find("</td>").unwrap()].to_owned())
        .collect();
    same(
        "participants",
        &total_cells[2],
        &busiest["figures"]["participants"],
    );
    same(
        "unique_participants",
        &total_cells[3],
        &busiest["figures"]["unique_participants"],
    );
    let csv = browser
        .get(
            &app,
            &format!("/stats/{fy}/breakdown.csv?by=site&company={company}"),
        )
        .await;
    assert_eq!(csv.status, 200);
    assert_eq!(
        csv.body.lines().count(),
        site_rows.len() + 2,
        "header, the sites, the total: {}",
        csv.body
    );
    let path = format!("/stats/{fy}/breakdown.xlsx?by=site&company={company}");
    let (status, ct, xlsx) = browser.download(&app, &path, None).await;
    assert_eq!(status, 200);
    assert!(ct.contains("spreadsheetml"), "{ct}");
    assert_eq!(common::xlsx_rows(&xlsx).len(), site_rows.len() + 2);

    // The chart draws the figure the table is sorted by, in the table's order, with a title
    // and a description stating every number; its SVG downloads.
    let sorted = browser
        .get(
            &app,
            &format!("/stats/{fy}/breakdown?by=company&sort=person_days"),
        )
        .await;
    let chart = between(
        &sorted.body,
        "<figure class=\"chart\" id=\"breakdown-chart\">",
        "</figure>",
    );
    assert!(chart.contains("<title id=\"bars-title\">"), "{chart}");
    let desc = between(&chart, "<desc id=\"bars-desc\">", "</desc>");
    assert!(desc.starts_with("Person-days: "), "{desc}");
    let rows = table(&sorted, "breakdown", "key");
    let first = &rows[0];
    assert!(
        desc.contains(&format!("{} {}", first.1, first.2[4])),
        "the first row, with its person-days, opens the description: {desc} / {first:?}"
    );
    let svg = browser
        .get(
            &app,
            &format!("/stats/{fy}/breakdown.svg?by=company&sort=person_days"),
        )
        .await;
    assert_eq!(svg.status, 200);
    assert_eq!(svg.header("content-type").as_deref(), Some("image/svg+xml"));
    assert!(svg.body.contains(&desc), "the same chart");
}

async fn bad_input_is_a_message_and_strangers_sign_in_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut stranger = Browser::default();
    let page = stranger.get(&app, "/stats").await;
    assert_eq!(page.status, 303);
    assert!(
        page.location().unwrap().starts_with("/sign-in"),
        "{:?}",
        page.location()
    );
    let (mut browser, _) = signed_in(&app, Role::Employee).await;
    for (query, words) in [
        ("from=abc", "from is not a year"),
        ("from=2030&to=2020", "from must not be after to"),
        ("to=99999", "to"),
        ("scope=planet:mars", "the scope is not a known choice"),
    ] {
        let page = browser.get(&app, &format!("/stats?{query}")).await;
        assert_eq!(page.status, 400, "{query}: {}", page.body);
        assert!(page.body.contains("id=\"problem\""), "{query}");
        assert!(page.body.contains(words), "{query}: {}", page.body);
        assert!(page.body.contains("id=\"report-form\""), "the form stays");
    }
    let page = browser.get(&app, "/stats/2025/breakdown?by=planet").await;
    assert_eq!(page.status, 400);
    let page = browser.get(&app, "/stats/20250/breakdown").await;
    assert_eq!(page.status, 400);
}

/// The printable report section is the API's section: the table's cells, the published
/// version, the objectives, the winners and the expenses, in English and in Japanese.
async fn the_report_section_page_is_the_apis_section(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seeded(&app);
    let fy = common::last_ended_year() - 1;
    let (mut browser, token) = signed_in(&app, Role::Employee).await;
    let (status, _, api) = app
        .get_as(&token, &format!("/api/v1/report-section/{fy}"))
        .await;
    assert_eq!(status, 200, "{api}");
    assert_eq!(api["published_version"], 1, "a closed year as published");
    let page = browser.get(&app, &format!("/stats/{fy}/report")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Published figures, version 1"));
    let years = api["table"].as_array().unwrap();
    assert_eq!(years.len(), 3, "the year and the two before");
    let rows = table(&page, "section-table", "metric");
    let metrics: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        metrics,
        ["sites", "programs", "participants", "volunteer_hours"]
    );
    for (metric, _, cells) in &rows {
        for (cell, y) in cells.iter().zip(years) {
            same(metric, cell, &y["figures"][metric.as_str()]);
        }
    }
    let winners = api["winners"].as_array().unwrap();
    assert!(!winners.is_empty(), "{api}");
    for w in winners {
        let title = w["program_title"].as_str().unwrap();
        assert!(page.body.contains(title), "winner {title} on the page");
    }
    let plan = &api["objectives"]["medium_term"][0];
    assert!(page.body.contains(plan["title"].as_str().unwrap()));
    for o in plan["fiscal_year_objectives"].as_array().unwrap() {
        assert!(page.body.contains(o["title"].as_str().unwrap()), "{o}");
    }
    let spent = &api["expenses"][2];
    assert_eq!(spent["fiscal_year"], fy);
    assert!(
        page.body.contains(spent["approx_en"].as_str().unwrap()),
        "{spent}"
    );
    assert!(
        api["implementation_rate"]["target"].is_number(),
        "the rate's target: {api}"
    );
    assert!(page.body.contains("id=\"rate\""));

    let mut ja = browser.clone();
    ja.cookies.push(("tomoni_lang".into(), "ja".into()));
    let page = ja.get(&app, &format!("/stats/{fy}/report")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("公表値（第1版）"), "{}", page.body);
    assert!(page.body.contains(spent["approx_ja"].as_str().unwrap()));
    assert!(
        page.body.contains("ほぼ達成"),
        "the graded induction objective"
    );

    // An open year says so and shows the figures as they are.
    let open = browser
        .get(&app, &format!("/stats/{}/report", fy + 1))
        .await;
    assert_eq!(open.status, 200);
    assert!(open.body.contains("Not closed"), "{}", open.body);
}

both_backends!(
    the_report_section_page_is_the_apis_section,
    the_annual_table_shows_the_apis_figures,
    breakdowns_drill_from_a_company_to_its_sites,
    bad_input_is_a_message_and_strangers_sign_in_first,
);
