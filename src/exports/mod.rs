//! HR exports and imports: participation records and hours as CSV or XLSX, streamed in keyset
//! batches so memory stays flat for any size; participation history imported all-or-nothing.

pub mod hours;
pub mod import;
pub mod participations;
