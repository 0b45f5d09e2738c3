//! HR exports and imports: participation records and hours as CSV or XLSX, streamed in keyset
//! batches so memory stays flat for any size; participation history imported all-or-nothing.

pub mod hours;
pub mod import;
pub mod participations;

use crate::auth::{Caller, Role};
use crate::error::AppResult;

/// HR and admins export people's hours and import participation history.
pub fn require_hr(caller: &Caller) -> AppResult<()> {
    caller.require(&[Role::Hr, Role::Admin])
}
