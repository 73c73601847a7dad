//! bootmatrix: boots real IBM POWER guest matrices under QEMU and checks each
//! cell against the documented compatibility table.
//!
//! The modules follow the stages of a run, and data flows one way:
//! [`matrix`] (what to run) → [`rules`] (what must happen) → [`images`] and
//! [`payload`] (what to boot) → [`qemu`] (the command) → [`console`] and
//! [`run`] (how it ran) → [`verdict`] → [`report`] (how it is told).

pub mod app;
pub mod chain;
pub mod console;
pub mod diff;
pub mod documented;
pub mod error;
pub mod host;
pub mod images;
pub mod matrix;
pub mod merge;
pub mod model;
pub mod payload;
pub mod plan;
pub mod progress;
pub mod qemu;
pub mod report;
pub mod rules;
pub mod run;
pub mod select;
pub mod teardown;
pub mod verdict;

pub use error::{Error, Result};
