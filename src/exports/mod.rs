//! HR exports and imports: participation records and hours as CSV or XLSX, streamed in keyset
//! batches so memory stays flat for any size; participation history imported all-or-nothing.

pub mod download;
pub mod hours;
pub mod import;
pub mod participations;
pub mod slots;

use crate::auth::{Caller, Role};
use crate::error::AppResult;

/// HR and admins export people's hours and import participation history.
pub fn require_hr(caller: &Caller) -> AppResult<()> {
    caller.require(&[Role::Hr, Role::Admin])
}

/// The audit trail as the caller may read it: admins every entry; HR the exports and imports
/// (the personal data that left the service, and why); others 403.
pub fn audit_trail(
    conn: &mut crate::db::AnyConnection,
    caller: &Caller,
    mut filter: crate::audit::Filter,
) -> AppResult<Vec<crate::audit::Logged>> {
    match caller.role {
        Role::Admin => filter.action_prefixes = None,
        Role::Hr => filter.action_prefixes = Some(vec!["export.", "import."]),
        _ => {
            return Err(crate::error::AppError::forbidden(
                "the audit log is for admins (and HR, for exports and imports)",
            ));
        }
    }
    Ok(crate::audit::list(conn, &filter)?)
}
