//! Attendance and volunteer hours: roster marking by coordinators, self check-in with a code,
//! approval, the employee's own history and data-quality checks. Only approved attendance
//! counts anywhere.

pub mod approval;
pub mod checkin;
pub mod hours;
pub mod model;
pub mod quality;
pub mod roster;
pub mod rules;
