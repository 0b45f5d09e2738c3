//! The JSON API, one of tomoni's two front doors: handlers that parse a request, call one
//! service of a feature with the caller's principal, and render the answer as JSON (errors as
//! problem+json). No SQL and no rule lives here; the OpenAPI document is generated from these
//! handlers' annotations.

pub mod attendance;
pub mod audit;
pub mod auth;
pub mod awards;
pub mod expenses;
pub mod exports;
pub mod extract;
pub mod feed;
pub mod mail;
pub mod openapi;
pub mod ops;
pub mod org;
pub mod people;
pub mod programs;
pub mod report_objectives;
pub mod report_section;
pub mod reviews;
pub mod signups;
pub mod stats;
pub mod years;

use actix_web::web;

/// The API's routes, each module contributing its own.
pub fn routes(cfg: &mut web::ServiceConfig) {
    ops::routes(cfg);
    openapi::routes(cfg);
    auth::routes(cfg);
    people::routes(cfg);
    org::routes(cfg);
    programs::routes(cfg);
    attendance::routes(cfg);
    stats::routes(cfg);
    years::routes(cfg);
    report_objectives::routes(cfg);
    awards::routes(cfg);
    reviews::routes(cfg);
    report_section::routes(cfg);
    expenses::routes(cfg);
    mail::routes(cfg);
    exports::routes(cfg);
    audit::routes(cfg);
    signups::routes(cfg);
    feed::routes(cfg);
}
