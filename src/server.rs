//! The server: the one route table (each front door contributes its routes), the middleware
//! and the start-up of the background worker.
//!
//! [`build_server`] is used by `tomoni serve` and by every integration test, so tests exercise
//! exactly the production stack.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{DefaultHeaders, ErrorHandlers, Next, from_fn};
use actix_web::{App, HttpMessage, HttpServer, web};
use tracing_actix_web::{RequestId, TracingLogger};

use crate::AppState;
use crate::api;
use crate::http::{log, metrics, problem};

/// Every route of the service: the JSON API (with its documentation and the operational
/// endpoints), then the web pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    api::routes(cfg);
    crate::web::routes(cfg);
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

/// A query string with an encoded control character (`?q=%00`) is refused before any handler
/// sees it: no filter of tomoni means one, and PostgreSQL answers NUL in text with an error.
async fn refuse_control_characters(
    req: actix_web::dev::ServiceRequest,
    next: Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    if crate::input::query_has_control_character(req.query_string()) {
        return Err(crate::error::AppError::bad_request(
            "invalid_query",
            "the query string may not contain NUL or other control characters",
        )
        .into());
    }
    next.call(req).await
}

/// No route matched: a page in the reader's language for a page address, problem+json under
/// `/api/` and the operational endpoints.
async fn not_found(req: actix_web::HttpRequest) -> actix_web::Result<actix_web::HttpResponse> {
    if crate::web::guard::is_page(req.path()) {
        return Err(crate::web::page::not_found(&req).into());
    }
    problem::route_not_found(req).await
}

/// HEAD is answered wherever GET is (calendar clients and link checkers send it): the request is
/// routed as the GET it stands for, and the HTTP layer, which parsed a HEAD, sends the headers
/// (Content-Length included) without the body.
async fn head_as_get(
    mut req: actix_web::dev::ServiceRequest,
    next: Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    if req.method() == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
    }
    next.call(req).await
}

/// Once a write request (any method but GET, HEAD and OPTIONS, through either front door) has
/// been answered, what it changed must show in the employees' event list at once: pages this
/// instance kept from before are not served again (`programs::list_cache`).
async fn writes_renew_lists(
    req: actix_web::dev::ServiceRequest,
    next: Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_web::http::Method;
    let lists = if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        None
    } else {
        req.app_data::<web::Data<AppState>>()
            .map(|state| state.event_lists.clone())
    };
    let response = next.call(req).await;
    if let Some(lists) = lists {
        lists.written();
    }
    response
}

/// Builds the server on an already-bound listener (production binds the configured address,
/// tests bind port 0). SIGTERM/SIGINT stop it gracefully within `server.shutdown_timeout_secs`.
pub fn build_server(state: AppState, listener: TcpListener) -> std::io::Result<Server> {
    if state.settings.mail.worker_enabled {
        let worker = crate::mail::worker::Worker::new(
            state.pool.clone(),
            &state.settings,
            Some(state.metrics.clone()),
        )
        .map_err(std::io::Error::other)?;
        actix_web::rt::spawn(worker.run());
    }
    let server_settings = state.settings.server.clone();
    let json_limit = server_settings.json_limit_bytes;
    let upload_limit = server_settings.upload_limit_bytes;
    let metrics = web::Data::from(state.metrics.clone());
    let document = web::Data::new(api::openapi::Serialized::build()?);
    let trust_forwarded = web::Data::new(log::TrustForwardedFor(
        state.settings.auth.trust_forwarded_for,
    ));
    let state = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(trust_forwarded.clone())
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
            .default_service(web::to(not_found))
            .wrap(ErrorHandlers::new().default_handler(problem::problem_fallback))
            .wrap(from_fn(head_as_get))
            .wrap(from_fn(writes_renew_lists))
            .wrap(from_fn(crate::web::guard::protect))
            .wrap(from_fn(refuse_control_characters))
            .wrap(from_fn(metrics::track))
            .wrap(from_fn(request_id_header))
            // No browser may guess a type other than the one we declare (CSV, SVG, JSON).
            .wrap(DefaultHeaders::new().add((header::X_CONTENT_TYPE_OPTIONS, "nosniff")))
            .wrap(TracingLogger::<log::RedactedRootSpan>::new())
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
