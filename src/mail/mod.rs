//! Email. Every message starts as an outbox row written in the same transaction as the change
//! that causes it ([`outbox::enqueue`]), so a message is never sent for a change that rolled
//! back, nor lost for one that committed. Delivery (a worker claiming due rows, lettre
//! transports, templates) is built on top of these rows.

pub mod handlers;
pub mod outbox;
pub mod templates;
pub mod worker;
