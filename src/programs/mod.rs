//! Programmes (what a site runs, e.g. a yearly beach clean-up) and their events (each dated
//! occurrence people sign up for).

pub mod events;
pub mod list_cache;
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

/// Whose attendance and participation records the caller reads: everyone's for HR and admins
/// (`None`), their own sites' for coordinators, and a site named in the request must be one of
/// them; employees read none here (403). One rule for the attendance list, the data-quality
/// report and the participation export.
pub fn records_scope(caller: &Caller, site: Option<Id>) -> AppResult<Option<Vec<Id>>> {
    caller.require(&[Role::Coordinator, Role::Hr, Role::Admin])?;
    if caller.role != Role::Coordinator {
        return Ok(None);
    }
    if let Some(site) = site {
        require_runs_site(caller, site)?;
    }
    Ok(Some(caller.sites.clone()))
}
