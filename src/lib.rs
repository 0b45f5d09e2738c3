//! tomoni: the employee volunteering programme service.
//!
//! The binary (`src/main.rs`) is a thin CLI over this library; integration tests build the same
//! [`AppState`] and call the same [`server::build_server`] as production. The layers, and where
//! a new endpoint or page goes, are drawn in README.md ("Architecture"); `tests/architecture.rs`
//! keeps the modules below free of import circles.

pub mod api;
pub mod attendance;
pub mod audit;
pub mod auth;
pub mod awards;
pub mod config;
pub mod contributions;
pub mod db;
pub mod error;
pub mod exports;
pub mod http;
pub mod ics;
pub mod input;
pub mod jobs;
pub mod mail;
pub mod metrics;
pub mod org;
pub mod outbox;
pub mod people;
pub mod programs;
pub mod report_section;
pub mod retention;
pub mod reviews;
pub mod seed;
pub mod server;
pub mod sheet;
pub mod signups;
pub mod state;
pub mod stats;
pub mod telemetry;
pub mod time;
pub mod web;

pub use config::Settings;
pub use state::{AppState, StartError};
