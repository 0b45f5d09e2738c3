//! The OpenAPI document, generated from the handlers' annotations.
//!
//! `tests/openapi.rs` snapshots it, so a change to the API surface shows up in review.

use utoipa::OpenApi;

use crate::error::{FieldError, Problem};
use crate::http::ops;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tomoni",
        description = "Employee volunteering programme: events, sign-ups, attendance, hours and \
                       the fiscal-year statistics of the annual report.\n\n\
                       Errors are `application/problem+json` (RFC 9457) with a stable `code`.",
        license(name = "Proprietary"),
    ),
    paths(ops::healthz, ops::readyz, ops::metrics),
    components(schemas(Problem, FieldError, ops::Health, ops::Readiness)),
    tags((name = "ops", description = "Health, readiness and metrics")),
)]
pub struct ApiDoc;

/// The document as served at `/api-docs/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
