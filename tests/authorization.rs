//! Every role against every endpoint that exists: allowed calls succeed, the rest get the
//! documented status (401 anonymous, 403 role may not, 404 where existence is private).
//! Later features add their rows to `table()`.

mod common;

use std::collections::HashMap;

use common::{Backend, TestApp, TestUser};
use serde_json::{Value, json};
use tomoni::auth::Role;

/// The cast: two sites, a coordinator and an employee at each, HR and an admin.
struct Cast {
    users: HashMap<&'static str, TestUser>,
    tokens: HashMap<&'static str, String>,
    site_a: tomoni::db::Id,
    company: String,
    partner: String,
}

const CALLERS: [&str; 7] = [
    "anon", "admin", "hr", "coord_a", "coord_b", "emp_a", "emp_b",
];

fn cast(app: &TestApp) -> Cast {
    let a = app.site("A");
    let b = app.site("B");
    let mut users = HashMap::new();
    users.insert("admin", app.user(Role::Admin, None));
    users.insert("hr", app.user(Role::Hr, None));
    users.insert("coord_a", app.coordinator(&[a]));
    users.insert("coord_b", app.coordinator(&[b]));
    users.insert("emp_a", app.user(Role::Employee, Some(a)));
    users.insert("emp_b", app.user(Role::Employee, Some(b)));
    let tokens = users.iter().map(|(k, u)| (*k, app.token(u))).collect();
    let site = tomoni::org::sites::find(&mut app.conn(), a).unwrap();
    let partner = tomoni::org::partners::create(
        &mut app.conn(),
        serde_json::from_value(json!({"name": "Partner", "kind": "npo"})).unwrap(),
    )
    .unwrap();
    Cast {
        users,
        tokens,
        site_a: a,
        company: site.company_id.to_string(),
        partner: partner.id.to_string(),
    }
}

/// One row: a request and the status each caller gets, in `CALLERS` order.
struct Row {
    name: &'static str,
    method: &'static str,
    path: String,
    /// A fresh body per call (creates need unique values).
    body: Option<Box<dyn Fn() -> Value>>,
    expect: [u16; 7],
}

fn body(f: impl Fn() -> Value + 'static) -> Option<Box<dyn Fn() -> Value>> {
    Some(Box::new(f))
}

fn unique() -> String {
    uuid::Uuid::now_v7().simple().to_string()[20..].to_owned()
}

fn new_user_body() -> Value {
    let n = uuid::Uuid::now_v7().simple().to_string();
    json!({"employee_number": format!("N{n}"), "email": format!("new.{n}@example.com"), "display_name": "New"})
}

fn new_admin_body() -> Value {
    let mut body = new_user_body();
    body["role"] = json!("admin");
    body
}

fn rename_body() -> Value {
    json!({"display_name": "Renamed"})
}

fn same_role_body() -> Value {
    json!({"role": "employee"})
}

/// The table. Columns:                   anon admin  hr  c_a  c_b  e_a  e_b
#[rustfmt::skip]
fn table(cast: &Cast) -> Vec<Row> {
    let user = |k: &str| format!("/api/v1/users/{}", cast.users[k].id);
    let company = cast.company.clone();
    let site_a = cast.site_a.to_string();
    let partner = cast.partner.clone();
    let company_for_sites = company.clone();
    let row = |name, method, path: String, body, expect| Row { name, method, path, body, expect };
    vec![
        row("me", "GET", "/api/v1/me".into(), None,                          [401, 200, 200, 200, 200, 200, 200]),
        row("list users", "GET", "/api/v1/users".into(), None,               [401, 200, 200, 200, 200, 200, 200]),
        row("create user", "POST", "/api/v1/users".into(), body(new_user_body),
                                                                             [401, 201, 201, 403, 403, 403, 403]),
        row("create admin", "POST", "/api/v1/users".into(), body(new_admin_body),
                                                                             [401, 201, 403, 403, 403, 403, 403]),
        row("get employee A", "GET", user("emp_a"), None,                    [401, 200, 200, 200, 404, 200, 404]),
        row("get coordinator B", "GET", user("coord_b"), None,               [401, 200, 200, 404, 200, 404, 404]),
        row("get admin", "GET", user("admin"), None,                         [401, 200, 200, 404, 404, 404, 404]),
        row("rename employee A", "PATCH", user("emp_a"), body(rename_body),  [401, 200, 200, 403, 404, 200, 404]),
        row("set employee A's role", "PATCH", user("emp_a"), body(same_role_body),
                                                                             [401, 200, 200, 403, 404, 403, 404]),
        row("rename admin", "PATCH", user("admin"), body(rename_body),       [401, 200, 403, 404, 404, 404, 404]),
        row("unknown user", "GET", format!("/api/v1/users/{}", uuid::Uuid::now_v7()), None,
                                                                             [401, 404, 404, 404, 404, 404, 404]),
        row("list companies", "GET", "/api/v1/companies".into(), None,       [401, 200, 200, 200, 200, 200, 200]),
        row("create company", "POST", "/api/v1/companies".into(),
            body(|| json!({"code": unique(), "name": "C", "country": "JP"})),
                                                                             [401, 201, 403, 403, 403, 403, 403]),
        row("get company", "GET", format!("/api/v1/companies/{company}"), None,
                                                                             [401, 200, 200, 200, 200, 200, 200]),
        row("patch company", "PATCH", format!("/api/v1/companies/{company}"), body(|| json!({"name": "Test Group"})),
                                                                             [401, 200, 403, 403, 403, 403, 403]),
        row("list sites", "GET", "/api/v1/sites".into(), None,               [401, 200, 200, 200, 200, 200, 200]),
        row("create site", "POST", "/api/v1/sites".into(),
            body(move || json!({"code": unique(), "name": "S", "company_id": company_for_sites, "country": "JP",
                                "region": "domestic", "timezone": "Asia/Tokyo", "opened_on": "2020-01-01"})),
                                                                             [401, 201, 403, 403, 403, 403, 403]),
        row("get site", "GET", format!("/api/v1/sites/{site_a}"), None,      [401, 200, 200, 200, 200, 200, 200]),
        row("patch site", "PATCH", format!("/api/v1/sites/{site_a}"), body(|| json!({"name": "Site A"})),
                                                                             [401, 200, 403, 403, 403, 403, 403]),
        row("list partners", "GET", "/api/v1/partners".into(), None,         [401, 200, 200, 200, 200, 200, 200]),
        row("create partner", "POST", "/api/v1/partners".into(), body(|| json!({"name": unique(), "kind": "ngo"})),
                                                                             [401, 201, 403, 403, 403, 403, 403]),
        row("get partner", "GET", format!("/api/v1/partners/{partner}"), None,
                                                                             [401, 200, 200, 200, 200, 200, 200]),
        row("patch partner", "PATCH", format!("/api/v1/partners/{partner}"), body(|| json!({"kind": "npo"})),
                                                                             [401, 200, 403, 403, 403, 403, 403]),
    ]
}

async fn every_role_against_every_endpoint(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cast = cast(&app);
    let mut failures = Vec::new();
    for row in table(&cast) {
        for (caller, expected) in CALLERS.iter().zip(row.expect) {
            let token = cast.tokens.get(caller).map(String::as_str);
            let (status, ct, body) = app
                .call(row.method, &row.path, token, row.body.as_ref().map(|f| f()))
                .await;
            if status != expected {
                failures.push(format!(
                    "{} as {caller}: expected {expected}, got {status} {body}",
                    row.name
                ));
            }
            if status >= 400 && !ct.starts_with("application/problem+json") {
                failures.push(format!(
                    "{} as {caller}: {status} is not problem+json",
                    row.name
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Lists are scoped rather than refused: each caller sees exactly whom they may see.
async fn user_lists_are_scoped_to_the_caller(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cast = cast(&app);
    let ids = |v: &Value| -> Vec<String> {
        let mut ids: Vec<String> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let expect = |keys: &[&str]| -> Vec<String> {
        let mut ids: Vec<String> = keys.iter().map(|k| cast.users[k].id.to_string()).collect();
        ids.sort();
        ids
    };
    let list = |who: &'static str| app.get_as(&cast.tokens[who], "/api/v1/users");
    assert_eq!(ids(&list("admin").await.2), expect(&CALLERS[1..]));
    assert_eq!(ids(&list("hr").await.2), expect(&CALLERS[1..]));
    assert_eq!(ids(&list("coord_a").await.2), expect(&["coord_a", "emp_a"]));
    assert_eq!(ids(&list("coord_b").await.2), expect(&["coord_b", "emp_b"]));
    assert_eq!(ids(&list("emp_a").await.2), expect(&["emp_a"]));
}

both_backends!(
    every_role_against_every_endpoint,
    user_lists_are_scoped_to_the_caller
);
