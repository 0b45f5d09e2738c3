//! Health, readiness, metrics, request ids and the documentation endpoints.

mod common;

use common::{Backend, TestApp, TestDb, assert_problem, read_json};

async fn healthz_and_readyz_answer(backend: Backend) {
    let app = TestApp::spawn(backend.clone()).await;
    let (status, ct, body) = app.get_json("/healthz").await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("application/json"));
    assert_eq!(body["status"], "ok");

    let (status, _, body) = app.get_json("/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["backend"], backend.name());
}

async fn every_response_carries_a_request_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ids = Vec::new();
    for path in ["/healthz", "/healthz", "/no/such/route"] {
        let res = app.client().get(app.url(path)).send().await.unwrap();
        let id = res
            .headers()
            .get("x-request-id")
            .expect("x-request-id header")
            .to_str()
            .unwrap()
            .to_owned();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        ids.push(id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "ids are unique per request");
}

async fn metrics_count_requests_by_route_and_status(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for _ in 0..3 {
        app.get_json("/healthz").await;
    }
    app.get_json("/no/such/route").await;
    let mut res = app.client().get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let text = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    assert!(
        text.contains(
            r#"tomoni_http_requests_total{method="GET",route="/healthz",status="200"} 3"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="unmatched",status="404"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("tomoni_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("tomoni_db_pool_max_connections 8"), "{text}");
    assert!(text.contains("tomoni_db_pool_idle_connections"), "{text}");
    assert!(text.contains("tomoni_db_pool_connections"), "{text}");
}

async fn swagger_ui_is_served_from_vendored_assets(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let no_redirects = awc::Client::builder().disable_redirects().finish();
    let res = no_redirects.get(app.url("/docs")).send().await.unwrap();
    assert!(res.status().is_redirection());
    assert_eq!(res.headers().get("location").unwrap(), "/docs/");

    let mut res = app.client().get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let html = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    assert!(html.contains("swagger-ui"), "{html}");

    let mut res = app
        .client()
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let js = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    assert!(js.contains("/api-docs/openapi.json"), "{js}");

    let mut res = app
        .client()
        .get(app.url("/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.body().limit(64 * 1024 * 1024).await.unwrap().len() > 100_000,
        "the real bundle"
    );
}

/// The metrics are for the configured scraper: this machine by default, a request through an
/// untrusted proxy never; with a token, whoever sends it and nobody else.
async fn metrics_answer_only_the_configured_scraper(backend: Backend) {
    let status = |app: &TestApp, headers: Vec<(&'static str, String)>| {
        let mut req = app.client().get(app.url("/metrics"));
        for (k, v) in headers {
            req = req.insert_header((k, v));
        }
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let app = TestApp::spawn(backend.clone()).await;
    assert_eq!(status(&app, vec![]).await, 200, "loopback by default");
    assert_eq!(
        status(&app, vec![("X-Forwarded-For", "203.0.113.9".into())]).await,
        403,
        "through a proxy that is not trusted"
    );
    let mut res = app
        .client()
        .get(app.url("/metrics"))
        .insert_header(("Forwarded", "for=203.0.113.9"))
        .send()
        .await
        .unwrap();
    assert_problem(&read_json(&mut res).await, 403, "metrics_forbidden");
    drop(app);

    let db = TestDb::new(&backend);
    let mut settings = db.settings();
    settings.server.metrics_allow = vec![];
    let closed = TestApp::spawn_with(db, settings).await;
    assert_eq!(status(&closed, vec![]).await, 403, "no address allowed");
    drop(closed);

    let db = TestDb::new(&backend);
    let mut settings = db.settings();
    settings.server.metrics_token = tomoni::config::Secret::new("scrape-me-0123456789");
    let tokened = TestApp::spawn_with(db, settings).await;
    assert_eq!(status(&tokened, vec![]).await, 403, "the token is required");
    let bearer = |t: &str| vec![("Authorization", format!("Bearer {t}"))];
    assert_eq!(status(&tokened, bearer("scrape-me-wrong")).await, 403);
    assert_eq!(status(&tokened, bearer("scrape-me-0123456789")).await, 200);
}

both_backends!(
    metrics_answer_only_the_configured_scraper,
    healthz_and_readyz_answer,
    every_response_carries_a_request_id,
    metrics_count_requests_by_route_and_status,
    swagger_ui_is_served_from_vendored_assets,
);

/// The database goes away (a proxy between app and PostgreSQL is cut): `/readyz` answers 503
/// problem+json within its timeout, `/healthz` stays 200, and both return to normal when the
/// database comes back, without a restart.
#[actix_web::test]
async fn readyz_follows_the_database_away_and_back_postgres() {
    let Some(Backend::Postgres { admin_url }) = common::postgres() else {
        return;
    };
    let db = TestDb::new(&Backend::Postgres {
        admin_url: admin_url.clone(),
    });
    let target: url::Url = db.url.parse().unwrap();
    let pg_addr = format!(
        "{}:{}",
        target.host_str().unwrap(),
        target.port().unwrap_or(5432)
    );
    let pg_addr = std::net::ToSocketAddrs::to_socket_addrs(&pg_addr)
        .unwrap()
        .next()
        .unwrap();
    let proxy = common::proxy::Proxy::start(pg_addr);
    let mut settings = db.settings();
    let mut via_proxy = target.clone();
    via_proxy.set_host(Some("127.0.0.1")).unwrap();
    via_proxy.set_port(Some(proxy.addr.port())).unwrap();
    settings.database.url = via_proxy.to_string();
    let app = TestApp::spawn_with(db, settings).await;

    let (status, _, _) = app.get_json("/readyz").await;
    assert_eq!(status, 200);

    proxy.cut();
    let started = std::time::Instant::now();
    let mut res = app.client().get(app.url("/readyz")).send().await.unwrap();
    let got = read_json(&mut res).await;
    let body = assert_problem(&got, 503, "not_ready");
    assert_eq!(body["database"], "unreachable");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "answered within its timeout"
    );
    let (status, _, _) = app.get_json("/healthz").await;
    assert_eq!(status, 200, "liveness does not depend on the database");

    proxy.restore();
    let (status, _, body) = app.get_json("/readyz").await;
    assert_eq!(status, 200, "recovered without a restart: {body}");
}
