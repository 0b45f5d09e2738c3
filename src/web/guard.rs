//! What protects every page: the security headers, and the check that an unsafe request (a
//! form post) comes from tomoni's own pages — the browser says where a request comes from in
//! `Sec-Fetch-Site` (and `Origin`), which another site cannot forge. The per-session CSRF token
//! in every form is the second lock (`visitor::SignedIn::check_csrf`).

use actix_web::ResponseError;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;

use crate::error::AppError;
use crate::web::page::PageError;

/// Scripts and styles only from tomoni itself, no inline script, no framing; images may be
/// inline SVG/PNG data (the QR code). htmx talks only to this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
frame-ancestors 'none'; base-uri 'none'";

/// The API and its documentation keep their own rules (Bearer only; Swagger UI needs inline
/// script); everything else is a page.
pub fn is_page(path: &str) -> bool {
    !(path == "/api"
        || path.starts_with("/api/")
        || matches!(path, "/healthz" | "/readyz" | "/metrics"))
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether an unsafe request to a page comes from a page of this very origin.
fn same_origin(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        // `none`: typed into the address bar or a bookmark — the user's own doing.
        return matches!(site, "same-origin" | "none");
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let info = req.connection_info();
        let own = format!("{}://{}", info.scheme(), info.host());
        return origin == own;
    }
    // Neither header: not a browser that could be tricked into sending it (every browser that
    // runs the pages' scripts sends one of them on a cross-site post).
    true
}

/// Refuses cross-site unsafe requests to pages and adds the security headers to every page.
pub async fn protect(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let page = is_page(req.path());
    if page && !is_safe(req.method()) && !same_origin(&req) {
        let lang = crate::web::visitor::request_lang(req.request());
        tracing::info!(path = req.path(), "cross-site form post refused");
        let refusal = PageError::in_lang(
            AppError::new(
                StatusCode::FORBIDDEN,
                "cross_site",
                "the request came from another site",
            ),
            lang,
        )
        .error_response();
        let mut res = req.into_response(refusal).map_into_right_body();
        add_headers(res.headers_mut());
        return Ok(res);
    }
    let mut res = next.call(req).await?.map_into_left_body();
    if page {
        add_headers(res.headers_mut());
    }
    Ok(res)
}

fn add_headers(h: &mut actix_web::http::header::HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}
