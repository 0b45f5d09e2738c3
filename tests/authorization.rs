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
    Cast { users, tokens }
}

/// One row: a request and the status each caller gets, in `CALLERS` order.
struct Row {
    name: &'static str,
    method: &'static str,
    path: String,
    /// A fresh body per call (creates need unique values).
    body: Option<fn() -> Value>,
    expect: [u16; 7],
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

fn table(cast: &Cast) -> Vec<Row> {
    let id = |k: &str| cast.users[k].id.to_string();
    //                                        anon admin  hr  c_a  c_b  e_a  e_b
    vec![
        Row {
            name: "me",
            method: "GET",
            path: "/api/v1/me".into(),
            body: None,
            expect: [401, 200, 200, 200, 200, 200, 200],
        },
        Row {
            name: "list users",
            method: "GET",
            path: "/api/v1/users".into(),
            body: None,
            expect: [401, 200, 200, 200, 200, 200, 200],
        },
        Row {
            name: "create user",
            method: "POST",
            path: "/api/v1/users".into(),
            body: Some(new_user_body),
            expect: [401, 201, 201, 403, 403, 403, 403],
        },
        Row {
            name: "create admin",
            method: "POST",
            path: "/api/v1/users".into(),
            body: Some(new_admin_body),
            expect: [401, 201, 403, 403, 403, 403, 403],
        },
        Row {
            name: "get employee A",
            method: "GET",
            path: format!("/api/v1/users/{}", id("emp_a")),
            body: None,
            expect: [401, 200, 200, 200, 404, 200, 404],
        },
        Row {
            name: "get coordinator B",
            method: "GET",
            path: format!("/api/v1/users/{}", id("coord_b")),
            body: None,
            expect: [401, 200, 200, 404, 200, 404, 404],
        },
        Row {
            name: "get admin",
            method: "GET",
            path: format!("/api/v1/users/{}", id("admin")),
            body: None,
            expect: [401, 200, 200, 404, 404, 404, 404],
        },
        Row {
            name: "rename employee A",
            method: "PATCH",
            path: format!("/api/v1/users/{}", id("emp_a")),
            body: Some(rename_body),
            expect: [401, 200, 200, 403, 404, 200, 404],
        },
        Row {
            name: "set employee A's role",
            method: "PATCH",
            path: format!("/api/v1/users/{}", id("emp_a")),
            body: Some(same_role_body),
            expect: [401, 200, 200, 403, 404, 403, 404],
        },
        Row {
            name: "rename admin",
            method: "PATCH",
            path: format!("/api/v1/users/{}", id("admin")),
            body: Some(rename_body),
            expect: [401, 200, 403, 404, 404, 404, 404],
        },
        Row {
            name: "unknown user",
            method: "GET",
            path: format!("/api/v1/users/{}", uuid::Uuid::now_v7()),
            body: None,
            expect: [401, 404, 404, 404, 404, 404, 404],
        },
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
                .call(row.method, &row.path, token, row.body.map(|f| f()))
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
