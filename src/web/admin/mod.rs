//! Administrators' pages, under `/admin`: the organisation's registers (companies, sites,
//! partners), the mail outbox and the audit log. Anyone else finds no such page (404), as
//! with HR's pages; every read and write is the API's service with the same `Caller`, which
//! checks again.

pub mod audit;
pub mod outbox;
pub mod registry;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use crate::auth::{Caller, Role};
use crate::error::AppError;
use crate::web::page::{self, PageError};
use crate::web::visitor::SignedIn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(index));
    // Before the registers' `/admin/{kind}`.
    outbox::routes(cfg);
    audit::routes(cfg);
    registry::routes(cfg);
}

/// Whether the reader gets the administration pages.
pub fn is_admin(caller: &Caller) -> bool {
    caller.role == Role::Admin
}

/// 404 for anyone but administrators, before anything is read.
pub fn require_admin(who: &SignedIn) -> Result<Caller, PageError> {
    let caller = who.caller();
    if is_admin(&caller) {
        Ok(caller)
    } else {
        Err(who.visitor.error(AppError::not_found("no such page")))
    }
}

async fn index(who: SignedIn) -> Result<HttpResponse, PageError> {
    require_admin(&who)?;
    let ctx = minijinja::context! {
        active => "admin",
        ..who.visitor.context()
    };
    page::html(StatusCode::OK, "admin.html", ctx)
}
