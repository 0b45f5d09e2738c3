//! The OpenAPI document, generated from the handlers' annotations: each API module declares its
//! own part (`Doc`), merged here under the common info, tags and security scheme.
//!
//! `tests/openapi.rs` snapshots it, so a change to the API surface shows up in review.

use actix_web::web;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::error::{FieldError, Problem};
use crate::http::resource;

/// Declares the bearer scheme the `security(("bearer" = []))` annotations refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tomoni",
        description = "Employee volunteering programme: events, sign-ups, attendance, hours and \
                       the fiscal-year statistics of the annual report.\n\n\
                       Errors are `application/problem+json` (RFC 9457) with a stable `code`.",
        license(name = "Proprietary"),
    ),
    components(schemas(Problem, FieldError, crate::auth::Role)),
    modifiers(&BearerAuth),
    tags(
        (name = "ops", description = "Health, readiness and metrics"),
        (name = "auth", description = "Sign-in with email and password; access and refresh tokens"),
        (name = "people", description = "Employees, coordinators, HR and administrators"),
        (name = "org", description = "Group companies, sites (a dated registry) and partner organisations"),
        (name = "programmes", description = "Programmes and their events"),
        (name = "signups", description = "Sign-ups, the waitlist and rosters"),
        (name = "attendance", description = "Attendance, check-in, approval of hours, data quality"),
        (name = "statistics", description = "Fiscal-year figures of the annual report, breakdowns, objectives, closing a year, expenses"),
        (name = "awards", description = "The year's awards: categories, criteria, judges, nominations, scores and winners"),
        (name = "reviews", description = "The yearly review of every programme"),
        (name = "exports", description = "HR exports (CSV, XLSX; audited) and the participation history import"),
        (name = "mail", description = "The email outbox (admins)"),
    ),
)]
pub struct ApiDoc;

/// The document as served at `/api-docs/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    use super::*;
    let mut doc = ApiDoc::openapi();
    for part in [
        ops::Doc::openapi(),
        auth::Doc::openapi(),
        people::Doc::openapi(),
        org::Doc::openapi(),
        programs::Doc::openapi(),
        signups::Doc::openapi(),
        feed::Doc::openapi(),
        attendance::Doc::openapi(),
        stats::Doc::openapi(),
        years::Doc::openapi(),
        report_objectives::Doc::openapi(),
        awards::Doc::openapi(),
        reviews::Doc::openapi(),
        report_section::Doc::openapi(),
        expenses::Doc::openapi(),
        exports::Doc::openapi(),
        audit::Doc::openapi(),
        mail::Doc::openapi(),
    ] {
        doc.merge(part);
    }
    doc
}

/// The document serialised once when the server is built and shared by every worker: built per
/// worker (as `SwaggerUi::url` does) it was a copy of the whole model in each worker's memory
/// and a serialisation per request.
pub struct Serialized(actix_web::web::Bytes);

impl Serialized {
    pub fn build() -> std::io::Result<Serialized> {
        serde_json::to_vec(&document())
            .map(|json| Serialized(json.into()))
            .map_err(std::io::Error::other)
    }
}

pub async fn serve_document(doc: actix_web::web::Data<Serialized>) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}

/// This module's routes (mounted by `server::routes`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api-docs/openapi.json", "GET").route(web::get().to(serve_document)))
        .service(
            SwaggerUi::new("/docs/{_:.*}")
                .config(utoipa_swagger_ui::Config::new(["/api-docs/openapi.json"])),
        )
        .service(web::redirect("/docs", "/docs/"));
}
