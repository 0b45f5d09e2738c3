//! HTTP wiring: the route table, middleware, extractor limits and the server itself.
//!
//! [`build_server`] is used by `tomoni serve` and by every integration test, so tests exercise
//! exactly the production stack.

pub mod idempotency;
pub mod json;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod pagination;
pub mod problem;

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{ErrorHandlers, Next, from_fn};
use actix_web::{App, HttpMessage, HttpResponse, HttpServer, Resource, web};
use tracing_actix_web::{RequestId, TracingLogger};
use utoipa_swagger_ui::SwaggerUi;

use crate::AppState;
use crate::error::AppError;

/// Runs `f` with a pooled connection on the blocking thread pool (diesel is synchronous; an
/// actix worker must never wait on the database itself).
pub async fn with_conn<T: Send + 'static>(
    state: &web::Data<AppState>,
    f: impl FnOnce(&mut crate::db::AnyConnection) -> crate::error::AppResult<T> + Send + 'static,
) -> crate::error::AppResult<T> {
    let pool = state.pool.clone();
    web::block(move || {
        let mut conn = pool.get()?;
        f(&mut conn)
    })
    .await?
}

/// The `?format=` a caller chose among `allowed` (the first is the default); 400
/// `invalid_query` listing the choices for anything else.
pub fn format_param<'a>(
    given: Option<&str>,
    allowed: &[&'a str],
) -> crate::error::AppResult<&'a str> {
    match given {
        None => Ok(allowed[0]),
        Some(f) => allowed.iter().copied().find(|a| *a == f).ok_or_else(|| {
            AppError::bad_request(
                "invalid_query",
                format!("unknown format {f:?}: use {}", allowed.join(", ")),
            )
        }),
    }
}

/// A resource whose other methods answer 405 problem+json with an `Allow` header.
fn resource(path: &str, allow: &'static str) -> Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<HttpResponse, _>(
            AppError::from_status(actix_web::http::StatusCode::METHOD_NOT_ALLOWED)
                .with_header(header::ALLOW, HeaderValue::from_static(allow)),
        )
    }))
}

/// Every route of the service.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use crate::attendance::handlers as attendance;
    use crate::exports::handlers as exports;
    use crate::org::handlers as org;
    use crate::programs::handlers as prog;
    use crate::signups::feed;
    use crate::signups::handlers as signup;
    use crate::stats::handlers as stats;
    use crate::{auth, people};
    cfg.service(resource("/healthz", "GET").route(web::get().to(ops::healthz)))
        .service(resource("/readyz", "GET").route(web::get().to(ops::readyz)))
        .service(resource("/metrics", "GET").route(web::get().to(ops::metrics)))
        .service(
            resource("/api-docs/openapi.json", "GET").route(web::get().to(openapi::serve_document)),
        )
        .service(
            SwaggerUi::new("/docs/{_:.*}")
                .config(utoipa_swagger_ui::Config::new(["/api-docs/openapi.json"])),
        )
        .service(web::redirect("/docs", "/docs/"))
        .service(
            resource("/api/v1/auth/login", "POST").route(web::post().to(auth::handlers::login)),
        )
        .service(
            resource("/api/v1/auth/refresh", "POST")
                .route(web::post().to(auth::handlers::refresh_tokens)),
        )
        .service(
            resource("/api/v1/auth/logout", "POST").route(web::post().to(auth::handlers::logout)),
        )
        .service(resource("/api/v1/me", "GET").route(web::get().to(people::handlers::me)))
        .service(
            resource("/api/v1/users", "GET, POST")
                .route(web::get().to(people::handlers::list))
                .route(web::post().to(people::handlers::create)),
        )
        .service(
            resource("/api/v1/users/import", "POST")
                .route(web::post().to(people::handlers::import)),
        )
        .service(
            resource("/api/v1/users/{id}", "GET, PATCH")
                .route(web::get().to(people::handlers::get))
                .route(web::patch().to(people::handlers::patch)),
        )
        .service(
            resource("/api/v1/companies", "GET, POST")
                .route(web::get().to(org::list_companies))
                .route(web::post().to(org::create_company)),
        )
        .service(
            resource("/api/v1/companies/{id}", "GET, PATCH")
                .route(web::get().to(org::get_company))
                .route(web::patch().to(org::patch_company)),
        )
        .service(
            resource("/api/v1/sites", "GET, POST")
                .route(web::get().to(org::list_sites))
                .route(web::post().to(org::create_site)),
        )
        .service(resource("/api/v1/sites/import", "POST").route(web::post().to(org::import_sites)))
        .service(
            resource("/api/v1/sites/{id}", "GET, PATCH")
                .route(web::get().to(org::get_site))
                .route(web::patch().to(org::patch_site)),
        )
        .service(
            resource("/api/v1/partners", "GET, POST")
                .route(web::get().to(org::list_partners))
                .route(web::post().to(org::create_partner)),
        )
        .service(
            resource("/api/v1/partners/{id}", "GET, PATCH")
                .route(web::get().to(org::get_partner))
                .route(web::patch().to(org::patch_partner)),
        )
        .service(
            resource("/api/v1/programs", "GET, POST")
                .route(web::get().to(prog::list_programs))
                .route(web::post().to(prog::create_program)),
        )
        .service(
            resource("/api/v1/programs/{id}", "GET, PATCH")
                .route(web::get().to(prog::get_program))
                .route(web::patch().to(prog::patch_program)),
        )
        .service(
            resource("/api/v1/events", "GET, POST")
                .route(web::get().to(prog::list_events))
                .route(web::post().to(prog::create_event)),
        )
        .service(
            resource("/api/v1/events/{id}", "GET, PATCH")
                .route(web::get().to(prog::get_event))
                .route(web::patch().to(prog::patch_event)),
        )
        .service(
            resource("/api/v1/events/{id}/publish", "POST")
                .route(web::post().to(prog::publish_event)),
        )
        .service(
            resource("/api/v1/events/{id}/attendance", "PUT")
                .route(web::put().to(attendance::mark_attendance)),
        )
        .service(
            resource("/api/v1/events/{id}/check-in-code", "GET, POST")
                .route(web::get().to(attendance::check_in_code))
                .route(web::post().to(attendance::rotate_check_in_code)),
        )
        .service(
            resource("/api/v1/events/{id}/check-in", "POST")
                .route(web::post().to(attendance::check_in)),
        )
        .service(
            resource("/api/v1/attendance", "GET").route(web::get().to(attendance::list_attendance)),
        )
        .service(
            resource("/api/v1/attendance/approve", "POST")
                .route(web::post().to(attendance::approve_attendance)),
        )
        .service(
            resource("/api/v1/attendance/{id}/reject", "POST")
                .route(web::post().to(attendance::reject_attendance)),
        )
        .service(resource("/api/v1/me/hours", "GET").route(web::get().to(attendance::my_hours)))
        .service(resource("/api/v1/quality", "GET").route(web::get().to(attendance::quality)))
        .service(resource("/api/v1/stats/mdd", "GET").route(web::get().to(stats::mdd_report)))
        .service(
            resource("/api/v1/admin/outbox", "GET")
                .route(web::get().to(crate::mail::handlers::list_outbox)),
        )
        .service(
            resource("/api/v1/admin/outbox/{id}/retry", "POST")
                .route(web::post().to(crate::mail::handlers::retry_outbox)),
        )
        .service(
            resource("/api/v1/exports/participations", "GET")
                .route(web::get().to(exports::export_participations)),
        )
        .service(
            resource("/api/v1/exports/hours", "GET").route(web::get().to(exports::export_hours)),
        )
        .service(
            resource("/api/v1/imports/participations", "POST")
                .route(web::post().to(exports::import_participations)),
        )
        .service(
            resource("/api/v1/stats/mdd/{fy}/breakdown", "GET")
                .route(web::get().to(stats::mdd_breakdown)),
        )
        .service(
            resource("/api/v1/objectives/{fy}", "GET, PUT")
                .route(web::get().to(stats::get_objectives))
                .route(web::put().to(stats::put_objectives)),
        )
        .service(
            resource("/api/v1/events/{id}/cancel", "POST")
                .route(web::post().to(prog::cancel_event)),
        )
        .service(
            resource("/api/v1/events/{id}/signups", "POST").route(web::post().to(signup::sign_up)),
        )
        .service(resource("/api/v1/events/{id}/roster", "GET").route(web::get().to(signup::roster)))
        .service(resource("/api/v1/signups/{id}", "DELETE").route(web::delete().to(signup::cancel)))
        .service(resource("/api/v1/me/signups", "GET").route(web::get().to(signup::my_signups)))
        .service(
            resource("/api/v1/events/{id}/event.ics", "GET").route(web::get().to(feed::event_ics)),
        )
        .service(
            resource("/api/v1/me/calendar-token", "POST, DELETE")
                .route(web::post().to(feed::rotate_token))
                .route(web::delete().to(feed::revoke_token)),
        )
        .service(resource("/api/v1/me/calendar.ics", "GET").route(web::get().to(feed::feed)));
}

/// Copies the request id (also in every log line of the request) into the `x-request-id`
/// response header, so a user's bug report can be matched to the logs.
async fn request_id_header(
    req: actix_web::dev::ServiceRequest,
    next: Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let id = req.extensions().get::<RequestId>().copied();
    let mut res = next.call(req).await?;
    if let Some(id) = id
        && let Ok(value) = HeaderValue::from_str(&id.to_string())
    {
        res.headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), value);
    }
    Ok(res)
}

/// Builds the server on an already-bound listener (production binds the configured address,
/// tests bind port 0). SIGTERM/SIGINT stop it gracefully within `server.shutdown_timeout_secs`.
pub fn build_server(state: AppState, listener: TcpListener) -> std::io::Result<Server> {
    if state.settings.mail.worker_enabled {
        let worker = crate::mail::worker::Worker::new(&state).map_err(std::io::Error::other)?;
        actix_web::rt::spawn(worker.run());
    }
    let server_settings = state.settings.server.clone();
    let json_limit = server_settings.json_limit_bytes;
    let upload_limit = server_settings.upload_limit_bytes;
    let metrics = web::Data::from(state.metrics.clone());
    let document = web::Data::new(openapi::Serialized::build()?);
    let state = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(metrics.clone())
            .app_data(document.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(json_limit)
                    .error_handler(problem::json_error),
            )
            .app_data(web::PayloadConfig::new(upload_limit))
            .app_data(web::QueryConfig::default().error_handler(problem::query_error))
            .app_data(web::PathConfig::default().error_handler(problem::path_error))
            .configure(routes)
            .default_service(web::to(problem::route_not_found))
            .wrap(ErrorHandlers::new().default_handler(problem::problem_fallback))
            .wrap(from_fn(metrics::track))
            .wrap(from_fn(request_id_header))
            .wrap(TracingLogger::default())
    })
    .shutdown_timeout(server_settings.shutdown_timeout_secs)
    .client_request_timeout(Duration::from_millis(
        server_settings.client_request_timeout_ms,
    ))
    .keep_alive(Duration::from_secs(server_settings.keep_alive_secs));
    if server_settings.workers > 0 {
        server = server.workers(server_settings.workers);
    }
    Ok(server.listen(listener)?.run())
}
