//! From what was seen to pass or fail. Pure: the same observation always
//! gives the same verdict, and every branch is tested without booting.
//!
//! A cell passes when what happened is what must happen: the guest booted
//! and itself reported the MMU and page size the cell expects, or qemu
//! refused with exactly the documented error. Booting when the documentation
//! says it must fail is a failure too ("documentation drift"): release
//! qualification wants to know when the table stops being true.

use serde::Serialize;

use crate::console::{EndCause, Observation};
use crate::documented;
use crate::model::{Cell, Expectation, Mmu, PageSize};
use crate::rules::{Outcome, Prediction};

/// How a cell ended, in the terms JUnit and exit statuses use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// What must happen happened.
    Passed,
    /// This host cannot run the cell; the reason says why.
    Skipped,
    /// The guest or qemu did something other than what must happen.
    Failed,
    /// The harness could not reach a verdict (qemu or an image missing...).
    Error,
    /// The run was stopped before the cell finished.
    Interrupted,
}

impl Status {
    /// The word results.json uses (`passed`, `skipped`, `failed`, `error`,
    /// `interrupted`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
            Status::Error => "error",
            Status::Interrupted => "interrupted",
        }
    }

    /// True for the statuses that make a run fail: a cell that did the
    /// wrong thing, or never reached a verdict.
    pub fn is_bad(self) -> bool {
        matches!(self, Status::Failed | Status::Error | Status::Interrupted)
    }

    /// Upper-case word for logs.
    pub fn word(self) -> &'static str {
        match self {
            Status::Passed => "PASS",
            Status::Skipped => "SKIP",
            Status::Failed => "FAIL",
            Status::Error => "ERROR",
            Status::Interrupted => "INTERRUPTED",
        }
    }
}

/// What a cell must show, after the rules filled in "predicted".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Expected {
    /// The guest boots and reports these.
    Boots {
        /// MMU the guest must report.
        mmu: Mmu,
        /// Page size the guest must report.
        page_size: PageSize,
    },
    /// qemu (or the guest) stops with this documented error.
    Error {
        /// Id in [`crate::documented`].
        id: String,
        /// The message as expected for this cell.
        message: String,
    },
}

impl std::fmt::Display for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expected::Boots { mmu, page_size } => {
                write!(f, "boots ({}, {} pages)", mmu.cpuinfo_word(), page_size)
            }
            Expected::Error { id, message } => write!(f, "fails with {id}: {message}"),
        }
    }
}

/// Resolves a cell's expectation against the rules' prediction. An explicit
/// expectation in the matrix wins; `predicted` takes the rules' outcome.
pub fn expected(cell: &Cell, prediction: &Prediction) -> Expected {
    match &cell.expect {
        Expectation::Predicted => match &prediction.outcome {
            Outcome::Boots { mmu, page_size } => Expected::Boots {
                mmu: *mmu,
                page_size: *page_size,
            },
            Outcome::Fails { error, message } => Expected::Error {
                id: error.clone(),
                message: message.clone(),
            },
        },
        Expectation::Boots { mmu } => Expected::Boots {
            mmu: mmu.unwrap_or(match &prediction.outcome {
                Outcome::Boots { mmu, .. } => *mmu,
                Outcome::Fails { .. } => cell.guest.mmu,
            }),
            page_size: cell.guest.kernel.page_size,
        },
        Expectation::Error(id) => Expected::Error {
            id: id.clone(),
            message: match &prediction.outcome {
                Outcome::Fails { error, message } if error == id => message.clone(),
                _ => documented::by_id(id)
                    .map(|e| e.text.to_string())
                    .unwrap_or_default(),
            },
        },
    }
}

/// A cell's verdict: the status, one line saying why, and details for the
/// report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Pass, fail, skip...
    pub status: Status,
    /// One line a person reads first.
    pub summary: String,
    /// Supporting lines (both sides of a mismatch, the console's last words).
    pub details: Vec<String>,
}

impl Verdict {
    fn new(status: Status, summary: impl Into<String>) -> Verdict {
        Verdict {
            status,
            summary: summary.into(),
            details: Vec::new(),
        }
    }

    /// A cell this host cannot run.
    pub fn skipped(reason: &str) -> Verdict {
        Verdict::new(Status::Skipped, reason)
    }

    /// A cell the harness could not run for a reason of its own machine.
    pub fn error(reason: &str) -> Verdict {
        Verdict::new(Status::Error, reason)
    }

    fn with(mut self, line: impl Into<String>) -> Verdict {
        self.details.push(line.into());
        self
    }
}

fn row_of(cell: &Cell) -> String {
    cell.row
        .clone()
        .unwrap_or_else(|| format!("cell {} (matrix line {})", cell.name, cell.line))
}

/// Decides a cell from what its watch observed.
pub fn decide(cell: &Cell, expected: &Expected, obs: &Observation) -> Verdict {
    let secs = obs.elapsed.as_secs_f64();
    let first_error = obs.documented.first();
    match (&obs.cause, expected) {
        (EndCause::Interrupted, _) => Verdict::new(
            Status::Interrupted,
            "the run was interrupted before this cell finished",
        ),
        (EndCause::Marker, Expected::Boots { mmu, page_size }) => match &obs.report {
            None => Verdict::new(
                Status::Failed,
                if obs.damaged_reports > 0 {
                    "the guest booted but every copy of its report was damaged on the console"
                } else {
                    "the guest printed the marker without a report"
                },
            ),
            Some(r) => {
                let mut wrong = Vec::new();
                if r.mmu != Some(*mmu) {
                    wrong.push(format!(
                        "MMU: guest reports `{}`, cell expects `{}`",
                        r.mmu_word,
                        mmu.cpuinfo_word()
                    ));
                }
                if r.page_size != Some(*page_size) {
                    wrong.push(format!(
                        "page size: guest reports {}, cell expects {}",
                        r.page_size.map_or("unknown".to_string(), |p| p.to_string()),
                        page_size
                    ));
                }
                if wrong.is_empty() {
                    Verdict::new(
                        Status::Passed,
                        format!(
                            "booted in {secs:.1} s: {} MMU, {} pages, kernel {}",
                            r.mmu_word, page_size, r.release
                        ),
                    )
                } else {
                    let mut v =
                        Verdict::new(Status::Failed, format!("booted, but {}", wrong.join("; ")));
                    v.details = wrong;
                    v.with(format!("guest command line: {}", r.cmdline))
                }
            }
        },
        (EndCause::Marker, Expected::Error { id, message }) => {
            let booted = obs
                .report
                .as_ref()
                .map_or("the guest booted".to_string(), |r| {
                    format!(
                        "the guest booted ({} MMU, kernel {})",
                        r.mmu_word, r.release
                    )
                });
            Verdict::new(
                Status::Failed,
                format!(
                    "documentation drift: {} says qemu fails with `{message}` ({id}), but {booted}",
                    row_of(cell)
                ),
            )
        }
        (_, Expected::Error { id, message }) if obs.documented.iter().any(|e| &e.id == id) => {
            let seen = obs
                .documented
                .iter()
                .find(|e| &e.id == id)
                .expect("present");
            Verdict::new(
                Status::Passed,
                format!("failed as documented: {}", seen.line),
            )
            .with(format!("expected: {message}"))
        }
        (cause, expected) => {
            let what = match (cause, first_error) {
                (_, Some(e)) => {
                    format!("qemu failed with the documented error {}: {}", e.id, e.line)
                }
                (EndCause::Panic(line), None) => format!("the guest kernel panicked: {line}"),
                (EndCause::Timeout, None) => format!(
                    "timed out after {:.0} s without the marker; last console line: {}",
                    cell.timeout.as_secs_f64(),
                    obs.console_tail
                        .iter()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .map_or("(none)", |s| s.as_str())
                ),
                (EndCause::QemuExited(code), None) => match obs.qemu_errors.first() {
                    Some(line) => format!("qemu exited ({}) with: {line}", code_word(*code)),
                    None => format!("qemu exited ({}) before the marker", code_word(*code)),
                },
                (EndCause::Marker | EndCause::Interrupted, None) => unreachable!("handled above"),
            };
            Verdict::new(Status::Failed, what).with(format!("expected: {expected}"))
        }
    }
}

fn code_word(code: Option<i32>) -> String {
    code.map_or("status unknown".to_string(), |c| format!("status {c}"))
}
