//! Operational endpoints: liveness, readiness, metrics.

use crate::http::resource;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{AppError, AppResult, PROBLEM_CONTENT_TYPE, Problem};

/// The longest `/readyz` waits for a connection; a load balancer's probe must not hang.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the process answers.
    pub status: &'static str,
    pub version: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`, or `unavailable` (with status 503).
    pub status: &'static str,
    /// `postgres` or `sqlite`.
    pub backend: &'static str,
    /// `ok` or `unreachable`.
    pub database: &'static str,
}

/// Liveness: the process is up. Does not touch the database, so a database outage does not get
/// healthy instances restarted.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "The process is up", body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// Readiness: a database connection answers `SELECT 1` within two seconds.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "ops",
    responses(
        (status = 200, description = "The database answers", body = Readiness),
        (status = 503, description = "The database cannot be reached", body = Problem,
         content_type = "application/problem+json"),
    )
)]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.pool.clone();
    let backend = state.backend.name();
    let checked = web::block(move || -> Result<(), String> {
        let mut conn = pool.get_timeout(READY_TIMEOUT).map_err(|e| e.to_string())?;
        crate::db::ping(&mut conn).map_err(|e| e.to_string())
    })
    .await;
    match checked {
        Ok(Ok(())) => HttpResponse::Ok().json(Readiness {
            status: "ready",
            backend,
            database: "ok",
        }),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness check failed");
            not_ready(backend)
        }
        Err(error) => {
            tracing::warn!(%error, "readiness check could not run");
            not_ready(backend)
        }
    }
}

fn not_ready(backend: &'static str) -> HttpResponse {
    let problem = AppError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
        "the database cannot be reached",
    )
    .to_problem();
    HttpResponse::ServiceUnavailable()
        .content_type(PROBLEM_CONTENT_TYPE)
        .insert_header(("Retry-After", "1"))
        .json(serde_json::json!({
            "type": problem.type_uri,
            "title": problem.title,
            "status": problem.status,
            "detail": problem.detail,
            "code": problem.code,
            "backend": backend,
            "database": "unreachable",
        }))
}

/// Whether `req` may read the metrics: the configured bearer token, else a direct request from
/// an allowed address (a proxied one only when the proxy is trusted to name the client).
fn may_scrape(req: &HttpRequest, state: &AppState) -> bool {
    let server = &state.settings.server;
    if !server.metrics_token.is_empty() {
        use subtle::ConstantTimeEq;
        let given = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        return bool::from(
            given
                .as_bytes()
                .ct_eq(server.metrics_token.expose().as_bytes()),
        );
    }
    let trusted = state.settings.auth.trust_forwarded_for;
    let proxied = ["x-forwarded-for", "forwarded"]
        .iter()
        .any(|h| req.headers().contains_key(*h));
    if proxied && !trusted {
        return false;
    }
    crate::http::client_address(req, trusted).is_some_and(|ip| server.metrics_allow.contains(&ip))
}

/// Prometheus scrape endpoint (OpenMetrics text), for the configured token or addresses only
/// (default: this machine).
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text"),
              (status = 403, description = "Neither the metrics token nor an allowed address (`server.metrics_token`, `server.metrics_allow`)", body = Problem, content_type = "application/problem+json")))]
pub async fn metrics(state: web::Data<AppState>, req: HttpRequest) -> AppResult<HttpResponse> {
    if !may_scrape(&req, &state) {
        return Err(AppError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "metrics_forbidden",
            "the metrics are for the configured scraper (server.metrics_token or server.metrics_allow)",
        ));
    }
    // The queue's size; a scrape still answers (without it) while the database is away.
    let counts =
        crate::http::with_conn(&state.pool, |c| Ok(crate::outbox::counts_by_status(c)?)).await;
    if let Ok(counts) = counts {
        state.metrics.set_outbox(&counts);
    }
    let text = state
        .metrics
        .render(&state.pool)
        .map_err(|e| AppError::internal(e.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(text))
}

/// This module's routes (mounted by `server::routes`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/healthz", "GET").route(web::get().to(healthz)))
        .service(resource("/readyz", "GET").route(web::get().to(readyz)))
        .service(resource("/metrics", "GET").route(web::get().to(metrics)));
}

/// This module's part of the OpenAPI document (merged by `api::openapi::document`).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(healthz, readyz, metrics),
    components(schemas(Health, Readiness))
)]
pub struct Doc;
