//! bootmatrix: boots real IBM POWER guest matrices under QEMU and checks each
//! cell against the documented compatibility table.
//!
//! The modules follow the stages of a run, and data flows one way:
//! [`matrix`] and [`select`] (what to run) → [`plan`] (pure: every cell's
//! outcome from [`rules`], whether it can run here, where it runs, its
//! [`qemu`] command) → [`images`] and [`payload`] (the files the plan
//! names) → [`run`] (executes the plan, watching each qemu through
//! [`console`] into an [`observation`] with its [`health`] findings,
//! judging with [`verdict`], telling [`event`]s to
//! [`progress`]) → [`report`] (how it is told). [`app`] wires the stages
//! into subcommands; [`under_test`] puts the kernels `--kernel` names in
//! place in a matrix before it is planned.

pub mod app;
pub mod cell_result;
pub mod chain;
pub mod console;
pub mod diff;
pub mod documented;
pub mod error;
pub mod event;
pub mod health;
pub mod host;
pub mod hosted;
pub mod images;
pub mod matrix;
pub mod merge;
pub mod model;
pub mod nvram;
pub mod observation;
pub mod payload;
pub mod plan;
pub mod progress;
pub mod qemu;
pub mod readiness;
pub mod relay;
pub mod report;
pub mod rules;
pub mod run;
pub mod select;
pub mod teardown;
pub mod under_test;
pub mod verdict;

pub use error::{Error, Result};
