//! The front doors' shared helpers: problem+json rendering, the JSON extractor, pagination,
//! idempotency, request metrics, running a service on the blocking pool. Nothing here knows a
//! feature; the route table is in `server`.

pub mod idempotency;
pub mod json;
pub mod log;
pub mod metrics;
pub mod pagination;
pub mod problem;

use actix_web::http::header::{self, HeaderValue};
use std::net::IpAddr;
use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, Resource, web};

use crate::error::AppError;

/// Runs `f` with a pooled connection on the blocking thread pool (diesel is synchronous; an
/// actix worker must never wait on the database itself), once it is this request's turn.
pub async fn with_conn<T: Send + 'static>(
    pool: &crate::db::Pool,
    f: impl FnOnce(&mut crate::db::AnyConnection) -> crate::error::AppResult<T> + Send + 'static,
) -> crate::error::AppResult<T> {
    let from = pool.clone();
    queued(pool, move |deadline| {
        let mut conn = from.get_timeout(deadline.saturating_duration_since(Instant::now()))?;
        f(&mut conn)
    })
    .await
}

/// Like [`with_conn`], for a read that may be a moment behind: on the replica when one is
/// configured and usable (`db::replica`), else on the primary. Only for reads that never need to
/// show what their caller has just written.
pub async fn with_read_conn<T: Send + 'static>(
    state: &crate::AppState,
    f: impl FnOnce(&mut crate::db::AnyConnection) -> crate::error::AppResult<T> + Send + 'static,
) -> crate::error::AppResult<T> {
    let (reads, metrics) = (state.reads.clone(), state.metrics.clone());
    let queue = reads.queue().clone();
    queued(&queue, move |_| {
        let (mut conn, from) = reads.get()?;
        metrics.replica_eligible_read(from.as_str());
        f(&mut conn)
    })
    .await
}

/// Runs `f` on the blocking thread pool once this request's turn at `pool` has come (requests
/// are served in arrival order, `db::pool`), holding the turn until `f` returns. `f` gets the
/// deadline for taking its connection: the wait in the queue and for the connection together
/// stay within the pool's `connect_timeout_secs`, after which the request answers 503.
pub async fn queued<T: Send + 'static>(
    pool: &crate::db::Pool,
    f: impl FnOnce(Instant) -> crate::error::AppResult<T> + Send + 'static,
) -> crate::error::AppResult<T> {
    let deadline = Instant::now() + pool.wait();
    let turn = actix_web::rt::time::timeout(pool.wait(), pool.turn())
        .await
        .map_err(|_| AppError::database_unavailable("no database connection came free in time"))?;
    web::block(move || {
        let _turn = turn;
        f(deadline)
    })
    .await?
}

/// A download's response: streamed as it is written, never cached, named, with its column
/// set's version (`X-Export-Version`), for the API's exports and the pages' alike.
pub fn download_response(
    content_type: &'static str,
    disposition: String,
    version: &'static str,
    body: impl futures_util::Stream<Item = Result<web::Bytes, std::io::Error>> + 'static,
) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_DISPOSITION, disposition))
        .insert_header(("X-Export-Version", version))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(body)
}

/// The `?format=` a caller chose among `allowed` (the first is the default); 400
/// `invalid_query` listing the choices for anything else.
pub fn format_param<'a>(
    given: Option<&str>,
    allowed: &[&'a str],
) -> crate::error::AppResult<&'a str> {
    choice_param("format", given, allowed)
}

/// A query parameter `name` that takes one of `allowed` (the first is the default); a 400
/// naming the parameter and the allowed values otherwise.
pub fn choice_param<'a>(
    name: &str,
    given: Option<&str>,
    allowed: &[&'a str],
) -> crate::error::AppResult<&'a str> {
    match given {
        None => Ok(allowed[0]),
        Some(f) => allowed.iter().copied().find(|a| *a == f).ok_or_else(|| {
            AppError::bad_request(
                "invalid_query",
                format!("unknown {name} {f:?}: use {}", allowed.join(", ")),
            )
        }),
    }
}

/// A resource whose other methods answer 405 problem+json with an `Allow` header (HEAD is
/// allowed wherever GET is: the server answers it as a GET without the body).
pub fn resource(path: &str, allow: &'static str) -> Resource {
    let allow = if allow.split(", ").any(|m| m == "GET") {
        HeaderValue::from_str(&allow.replacen("GET", "GET, HEAD", 1))
            .unwrap_or_else(|_| HeaderValue::from_static(allow))
    } else {
        HeaderValue::from_static(allow)
    };
    web::resource(path).default_service(web::to(move || {
        let allow = allow.clone();
        async move {
            Err::<HttpResponse, _>(
                AppError::from_status(actix_web::http::StatusCode::METHOD_NOT_ALLOWED)
                    .with_header(header::ALLOW, allow),
            )
        }
    }))
}

/// The address the limit is counted against: the TCP peer, or the proxy-reported client when
/// the proxy is trusted.
pub fn client_address(req: &HttpRequest, trust_forwarded: bool) -> Option<IpAddr> {
    if trust_forwarded
        && let Some(ip) = req
            .connection_info()
            .realip_remote_addr()
            .and_then(parse_ip)
    {
        return Some(ip);
    }
    req.peer_addr().map(|a| a.ip())
}

fn parse_ip(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}
