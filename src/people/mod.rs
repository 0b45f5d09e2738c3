//! Employees (users): the model, queries, account changes and the roster import.

pub mod anonymise;
pub mod changes;
pub mod import;
pub mod users;

pub use users::{NewUser, User};

use crate::auth::{Caller, Role};
use crate::error::AppResult;

/// Admins and HR manage accounts (creating them, the users import); what HR may grant is
/// narrowed further in `changes`.
pub fn require_manager(caller: &Caller) -> AppResult<()> {
    caller.require(&[Role::Admin, Role::Hr])
}
