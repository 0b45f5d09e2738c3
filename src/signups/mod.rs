//! Sign-ups: seats, the waitlist, cancellations and rosters.
//!
//! Every change of seats or waitlist happens in [`service`], inside one transaction that starts
//! by updating the event's row (`taken`/`waitlisted`): that row is the lock which serialises all
//! changes to one event on PostgreSQL, and `BEGIN IMMEDIATE` does the same on SQLite. The mail
//! outbox will add its rows in these same functions.

pub mod feed;
pub mod roster;
pub mod service;
