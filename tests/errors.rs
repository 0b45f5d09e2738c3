//! Every error is problem+json with a stable code: unknown routes, wrong methods, bodies.

mod common;

use common::{Backend, TestApp, assert_problem, read_json};

async fn unknown_route_is_a_problem(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let got = app.get_json("/api/v1/nothing-here").await;
    let body = assert_problem(&got, 404, "route_not_found");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("/api/v1/nothing-here")
    );
}

async fn wrong_method_is_a_problem_with_allow(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut res = app
        .client()
        .delete(app.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers().get("allow").unwrap(), "GET");
    let got = read_json(&mut res).await;
    assert_problem(&got, 405, "method_not_allowed");
}

both_backends!(
    unknown_route_is_a_problem,
    wrong_method_is_a_problem_with_allow
);
