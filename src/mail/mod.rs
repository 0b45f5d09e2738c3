//! Email delivery: templates, and a worker that claims due outbox rows (written by the features
//! through [`crate::outbox`]), renders them with the event as it is now, and sends them with
//! lettre; the admin view of the queue.

pub mod admin;
pub mod templates;
pub mod worker;
