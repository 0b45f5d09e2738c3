//! HR's and administrators' pages. Like the coordinator's, a page that is not the reader's to
//! see answers 404 (the service's 403 "forbidden" turned into "nothing here"), so a page says
//! nothing about what it would hold.

pub mod expenses;
pub mod exports;
pub mod imports;
pub mod people;
pub mod years;

use actix_web::web;

use crate::auth::{Caller, Role};
use crate::error::AppError;
use crate::web::page::PageError;
use crate::web::visitor::SignedIn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    imports::routes(cfg);
    exports::routes(cfg);
    people::routes(cfg);
    years::routes(cfg);
    expenses::routes(cfg);
}

/// Whether the caller sees HR's pages: HR and administrators.
pub fn is_hr(caller: &Caller) -> bool {
    matches!(caller.role, Role::Hr | Role::Admin)
}

/// 404 for readers who are neither HR nor an admin, before anything is read.
pub fn require_hr(who: &SignedIn) -> Result<Caller, PageError> {
    let caller = who.caller();
    if is_hr(&caller) {
        Ok(caller)
    } else {
        Err(who.visitor.error(AppError::not_found("no such page")))
    }
}
