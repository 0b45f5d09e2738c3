//! The OpenAPI document, generated from the handlers' annotations.
//!
//! `tests/openapi.rs` snapshots it, so a change to the API surface shows up in review.

use utoipa::OpenApi;

use utoipa::Modify;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::attendance::handlers as attendance;
use crate::error::{FieldError, Problem};
use crate::exports::handlers as exports;
use crate::http::ops;
use crate::org::handlers as org;
use crate::programs::handlers as prog;
use crate::signups::feed;
use crate::signups::handlers as signup;
use crate::stats::handlers as stats;
use crate::{auth, people};

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
    paths(
        ops::healthz, ops::readyz, ops::metrics,
        auth::handlers::login, auth::handlers::refresh_tokens, auth::handlers::logout,
        people::handlers::me, people::handlers::list, people::handlers::create,
        people::handlers::get, people::handlers::patch, people::handlers::import,
        org::list_companies, org::create_company, org::get_company, org::patch_company,
        org::list_sites, org::create_site, org::get_site, org::patch_site, org::import_sites,
        org::list_partners, org::create_partner, org::get_partner, org::patch_partner,
        prog::list_programs, prog::create_program, prog::get_program, prog::patch_program,
        prog::list_events, prog::create_event, prog::get_event, prog::patch_event,
        prog::publish_event, prog::cancel_event,
        signup::sign_up, signup::cancel, signup::roster, signup::my_signups,
        feed::event_ics, feed::rotate_token, feed::revoke_token, feed::feed,
        attendance::mark_attendance, attendance::check_in_code, attendance::rotate_check_in_code,
        attendance::check_in, attendance::list_attendance, attendance::approve_attendance, attendance::reject_attendance,
        attendance::my_hours, attendance::quality,
        stats::mdd_report, stats::mdd_breakdown, stats::get_objectives, stats::put_objectives,
        exports::export_participations, exports::export_hours, exports::import_participations,
        crate::mail::handlers::list_outbox, crate::mail::handlers::retry_outbox,
    ),
    components(schemas(Problem, FieldError, ops::Health, ops::Readiness, auth::Role, crate::mail::handlers::OutboxStatus)),
    modifiers(&BearerAuth),
    tags(
        (name = "ops", description = "Health, readiness and metrics"),
        (name = "auth", description = "Sign-in with email and password; access and refresh tokens"),
        (name = "people", description = "Employees, coordinators, HR and administrators"),
        (name = "org", description = "Group companies, sites (a dated registry) and partner organisations"),
        (name = "programmes", description = "Programmes and their events"),
        (name = "signups", description = "Sign-ups, the waitlist and rosters"),
        (name = "attendance", description = "Attendance, check-in, approval of hours, data quality"),
        (name = "statistics", description = "Fiscal-year figures of the annual report, breakdowns, objectives"),
        (name = "exports", description = "HR exports (CSV, XLSX; audited) and the participation history import"),
        (name = "mail", description = "The email outbox (admins)"),
    ),
)]
pub struct ApiDoc;

/// The document as served at `/api-docs/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
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
