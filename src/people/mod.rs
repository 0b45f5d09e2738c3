//! Employees (users): the model, queries, and their HTTP handlers.

pub mod changes;
pub mod import;
pub mod users;

pub use users::{NewUser, User};
