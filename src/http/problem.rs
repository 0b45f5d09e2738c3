//! The API's rendering of [`AppError`]: `application/problem+json` responses, and the mapping of
//! actix's own extractor and routing failures onto the same codes.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpRequest, HttpResponse, ResponseError, error::JsonPayloadError};

use crate::error::{AppError, PROBLEM_CONTENT_TYPE};

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        // Logged once per request, at its level, by `http::log::RedactedRootSpan`.
        let mut builder = HttpResponse::build(self.status());
        builder.insert_header((header::CONTENT_TYPE, PROBLEM_CONTENT_TYPE));
        for (name, value) in self.headers() {
            builder.insert_header((name.clone(), value.clone()));
        }
        let body = serde_json::to_vec(&self.to_problem()).unwrap_or_else(|_| b"{}".to_vec());
        builder.body(body)
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(err: actix_web::error::BlockingError) -> Self {
        AppError::internal(err)
    }
}

/// Maps the JSON extractor's failures: body too large (413), wrong content type (415), not JSON
/// at all (400 `malformed_json`), JSON of the wrong shape (422 `invalid_body`, naming the field).
pub fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let app = match &err {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => AppError::payload_too_large(*limit),
        JsonPayloadError::ContentType => AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as application/json",
        ),
        JsonPayloadError::Deserialize(e) if e.is_data() => AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            e.to_string(),
        ),
        JsonPayloadError::Deserialize(e) => {
            AppError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
        }
        JsonPayloadError::Serialize(e) => AppError::internal(e.to_string()),
        JsonPayloadError::Payload(e) => AppError::bad_request("invalid_payload", e.to_string()),
        other => AppError::bad_request("invalid_payload", other.to_string()),
    };
    app.into()
}

/// Query string that does not fit the handler's parameters.
pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _req: &HttpRequest,
) -> actix_web::Error {
    // In words: no Rust type names, no echo of the value (actix's text has both).
    let text = match &err {
        actix_web::error::QueryPayloadError::Deserialize(e) => e.to_string(),
        other => other.to_string(),
    };
    let detail = if text.starts_with("unknown field") || text.starts_with("missing field") {
        text
    } else {
        crate::http::json::describe(&text).1
    };
    AppError::bad_request("invalid_query", format!("bad query: {detail}")).into()
}

/// A path segment that does not parse (e.g. an id that is not a UUID) names no resource.
pub fn path_error(err: actix_web::error::PathError, _req: &HttpRequest) -> actix_web::Error {
    let text = match &err {
        actix_web::error::PathError::Deserialize(e) => e.to_string(),
        other => other.to_string(),
    };
    let detail = crate::http::json::describe(&text).1;
    AppError::not_found(format!("no such resource ({detail})")).into()
}

/// Raw bodies (CSV uploads) over the limit and other payload failures.
pub fn payload_error(err: actix_web::error::PayloadError) -> AppError {
    match err {
        actix_web::error::PayloadError::Overflow => AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is too large",
        ),
        other => AppError::bad_request("invalid_payload", other.to_string()),
    }
}

/// Last line of defence, wrapped around the whole app: any error response that is not already
/// problem+json (actix's own 404/405, a middleware's 413, ...) is rewritten into one, keeping
/// headers such as `Allow` and `Retry-After`.
pub fn problem_fallback<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    // A page's error is already an HTML page in the reader's language.
    let answered = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes().starts_with(PROBLEM_CONTENT_TYPE.as_bytes())
            || v.as_bytes().starts_with(b"text/html")
    });
    if answered || res.status().as_u16() < 400 {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (req, old) = res.into_parts();
    let mut err = AppError::from_status(status);
    // An error raised inside actix (e.g. a body limit hit while reading) says more than the status.
    if let Some(inner) = old.error()
        && status.is_client_error()
    {
        err = err.with_detail(inner.to_string());
    }
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(value) = old.headers().get(&name) {
            err = err.with_header(name, value.clone());
        }
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, err.error_response()).map_into_right_body(),
    ))
}

/// The problem for a request no route matched.
pub async fn route_not_found(req: HttpRequest) -> actix_web::Result<HttpResponse> {
    Err(AppError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        format!("no route for {} {}", req.method(), req.path()),
    )
    .into())
}
