//! Programme statistics. The fiscal-year engine lives here because attendance, hours and the
//! annual report all count by fiscal year.

pub mod fiscal;

pub use fiscal::FiscalCalendar;
