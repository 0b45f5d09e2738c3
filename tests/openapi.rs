//! The OpenAPI document served at `/api-docs/openapi.json` is generated from the code; this
//! snapshot makes every change to the API surface visible in review
//! (`INSTA_UPDATE=always cargo test --test openapi` accepts a deliberate change).

mod common;

use common::{Backend, TestApp};

#[actix_web::test]
async fn openapi_document_is_served_and_matches_the_snapshot() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, ct, doc) = app.get_json("/api-docs/openapi.json").await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("application/json"));
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "OpenAPI 3"
    );
    let paths = doc["paths"].as_object().expect("paths");
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert!(paths.contains_key(path), "{path} documented");
    }
    let mut operation_ids = std::collections::HashMap::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path} has responses"
            );
            let id = op["operationId"].as_str().unwrap_or_default().to_owned();
            if let Some(other) = operation_ids.insert(id.clone(), format!("{method} {path}")) {
                panic!("operationId {id:?} of {method} {path} is also {other}'s");
            }
        }
    }
    // Left for `.ci/run`, which validates it against the OpenAPI schema.
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("openapi.json");
    std::fs::write(&out, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    insta::assert_json_snapshot!("openapi", doc);
}
