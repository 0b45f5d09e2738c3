//! Programmes (what a site runs, e.g. a yearly beach clean-up) and their events (each dated
//! occurrence people sign up for).

pub mod events;
pub mod program;

use crate::auth::{Caller, Role};
use crate::db::Id;
use crate::error::{AppError, AppResult};

/// Programmes and events of a site are run by its coordinators and by admins.
pub fn require_runs_site(caller: &Caller, site: Id) -> AppResult<()> {
    if caller.coordinates(site) {
        Ok(())
    } else if caller.role == Role::Coordinator {
        Err(AppError::forbidden("you do not coordinate this site"))
    } else {
        Err(AppError::forbidden(format!(
            "the {} role does not run programmes",
            caller.role
        )))
    }
}
