//! From what was seen to pass or fail. Pure: the same observation always
//! gives the same verdict, and every branch is tested without booting.
//!
//! A cell passes when what happened is what must happen: the guest booted
//! and itself reported the MMU and page size the cell expects, or qemu
//! refused with exactly the documented error. Booting when the documentation
//! says it must fail is a failure too ("documentation drift"): release
//! qualification wants to know when the table stops being true.
//!
//! Beyond the expectation, a cell is checked (see [`Checks`]) for the
//! health of its kernel and for running the kernel it was given: a fatal
//! finding (an oops, a `BUG`, a KASAN report...) fails a cell even when
//! the marker follows; warnings and kernel messages at err or worse are
//! shown on the cell and fail it under [`WarningPolicy::Fail`]; findings a
//! suppression matched are only listed; and a guest that reports another
//! kernel release than the image's own banner fails, showing both.

use serde::Serialize;

use crate::health::{Finding, Severity};
use crate::model::Outcome;
use crate::model::{Cell, Expectation};
use crate::observation::{EndCause, Observation};
use crate::rules::Prediction;

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
    /// The cell carries a `known_failure` mark and failed: expected, not
    /// counted against the run.
    Xfail,
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
            Status::Xfail => "xfail",
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
            Status::Xfail => "XFAIL",
        }
    }
}

/// Resolves a cell's expectation against the rules' prediction. An explicit
/// expectation in the matrix wins; `predicted` takes the rules' outcome.
pub fn expected(cell: &Cell, prediction: &Prediction) -> Outcome {
    match &cell.expect {
        Expectation::Predicted => prediction.outcome.clone(),
        Expectation::Boots { mmu } => Outcome::Boots {
            mmu: mmu.unwrap_or(match &prediction.outcome {
                Outcome::Boots { mmu, .. } => *mmu,
                Outcome::Fails { .. } => cell.guest.mmu,
            }),
            page_size: cell.guest.kernel.page_size,
        },
        Expectation::Error(want) => Outcome::Fails {
            error: *want,
            message: match &prediction.outcome {
                Outcome::Fails { error, message } if error == want => message.clone(),
                _ => want.text().to_string(),
            },
        },
    }
}

/// A cell's verdict: the status, one line saying why, and details for the
/// report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
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

/// What kernel warnings do to a verdict (`--warnings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WarningPolicy {
    /// Warnings are shown on the cell (verdict, JUnit, summary) and do not
    /// change its status: the table is about booting, and a warning is not
    /// a failed boot.
    #[default]
    Report,
    /// A warning fails the cell: qualifying a kernel release wants a clean
    /// boot.
    Fail,
}

/// What a cell is checked for beyond its expectation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checks {
    /// What warnings do.
    pub warnings: WarningPolicy,
    /// The release in the kernel image's own `Linux version` banner: the
    /// guest must report this release (`None`: not known, not checked).
    pub expected_release: Option<String>,
}

/// At most this many findings are spelled out in a verdict's details, each
/// with at most [`TRACE_LINES`] lines of its trace; the observation keeps
/// them all.
const DETAILED_FINDINGS: usize = 5;
const TRACE_LINES: usize = 8;

/// Decides a cell from what its watch observed, with the default
/// [`Checks`] (warnings reported, release not checked).
pub fn decide(cell: &Cell, expected: &Outcome, obs: &Observation) -> Verdict {
    decide_with(cell, expected, obs, &Checks::default())
}

/// Decides a cell from what its watch observed and what it is checked for.
/// Findings are judged as marked: run [`crate::health::Suppressions::apply`]
/// on the observation first.
pub fn decide_with(cell: &Cell, expected: &Outcome, obs: &Observation, checks: &Checks) -> Verdict {
    let v = against_expectation(cell, expected, obs);
    if v.status == Status::Interrupted {
        return v;
    }
    let v = check_release(v, obs, checks.expected_release.as_deref());
    check_health(v, obs, checks.warnings)
}

/// A passing verdict turned into a failure: `summary` first, the old
/// summary kept as a detail.
fn fail_instead(v: Verdict, summary: String) -> Verdict {
    let was = v.summary.clone();
    let mut failed = Verdict::new(Status::Failed, summary);
    failed.details = v.details;
    failed.with(format!("otherwise: {was}"))
}

fn check_release(v: Verdict, obs: &Observation, banner: Option<&str>) -> Verdict {
    let (Some(banner), Some(report)) = (banner, obs.report.as_ref()) else {
        return v;
    };
    if report.release == banner {
        return v;
    }
    let what = format!(
        "the guest runs kernel `{}`, but the kernel image's `Linux version` banner says `{banner}`: it did not boot the kernel it was given",
        report.release
    );
    let v = if v.status == Status::Passed {
        fail_instead(v, what)
    } else {
        v.with(what)
    };
    v.with(format!("guest `uname -r`: {}", report.release))
        .with(format!("image banner:     {banner}"))
}

fn check_health(mut v: Verdict, obs: &Observation, warnings: WarningPolicy) -> Verdict {
    let counted = |sev: Severity| -> Vec<&Finding> {
        obs.health
            .iter()
            .filter(|f| f.counts() && f.severity == sev)
            .collect()
    };
    let fatal = counted(Severity::Fatal);
    let warned = counted(Severity::Warning);
    if let Some(first) = fatal.first() {
        let what = format!(
            "the guest kernel reported a fatal {}: {}",
            first.kind, first.line
        );
        v = match v.status {
            Status::Passed => {
                let mut f = fail_instead(v, what);
                if obs.cause == EndCause::Marker {
                    f = f.with("the guest reached its marker afterwards; a fatal finding fails the cell all the same");
                }
                f
            }
            _ => v.with(what),
        };
    }
    if let Some(first) = warned.first() {
        let more = match warned.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        v = match (v.status, warnings) {
            (Status::Passed, WarningPolicy::Fail) => fail_instead(
                v,
                format!(
                    "the guest's kernel warned, and --warnings fail is set: {}{more}",
                    first.headline()
                ),
            ),
            (Status::Passed, WarningPolicy::Report) => {
                let n = warned.len();
                v.summary.push_str(&format!(
                    "; {n} kernel warning{} reported",
                    if n == 1 { "" } else { "s" }
                ));
                v
            }
            _ => v,
        };
    }
    let shown = fatal.iter().chain(&warned).take(DETAILED_FINDINGS);
    for f in shown {
        let tag = match f.severity {
            Severity::Fatal => "fatal",
            Severity::Warning if warnings == WarningPolicy::Fail => {
                "warning (fails under --warnings fail)"
            }
            Severity::Warning => "warning (reported; --warnings fail would fail the cell)",
        };
        v = v.with(format!("{tag}: {}", f.headline()));
        for l in f.message.iter().chain(&f.trace).take(TRACE_LINES) {
            v = v.with(format!("    {l}"));
        }
    }
    let unshown = (fatal.len() + warned.len()).saturating_sub(DETAILED_FINDINGS);
    if unshown > 0 {
        v = v.with(format!(
            "{unshown} more kernel findings (see result.json and console.log)"
        ));
    }
    for f in obs.health.iter().filter(|f| !f.counts()) {
        if let Some(by) = &f.suppressed {
            v = v.with(format!(
                "suppressed by {}:{} ({}): {}",
                by.file,
                by.line,
                by.reason,
                f.headline()
            ));
        }
    }
    if obs.health_dropped > 0 {
        v = v.with(format!(
            "{} kernel findings kept without their trace or not at all (see console.log)",
            obs.health_dropped
        ));
    }
    v
}

/// The verdict on what must happen alone: the guest's report against the
/// expectation, documented errors, and how the watch ended.
fn against_expectation(cell: &Cell, expected: &Outcome, obs: &Observation) -> Verdict {
    let secs = obs.elapsed.as_secs_f64();
    let first_error = obs.documented.first();
    match (&obs.cause, expected) {
        (EndCause::Interrupted, _) => Verdict::new(
            Status::Interrupted,
            "the run was interrupted before this cell finished",
        ),
        (EndCause::Marker, Outcome::Boots { mmu, page_size }) => match &obs.report {
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
        (EndCause::Marker, Outcome::Fails { error: id, message }) => {
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
        (_, Outcome::Fails { error: id, message })
            if obs.documented.iter().any(|e| e.id == *id) =>
        {
            let seen = obs
                .documented
                .iter()
                .find(|e| e.id == *id)
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

/// A verdict read against the cell's `known_failure` mark: a failure the
/// mark expects is an expected failure ([`Status::Xfail`]), and a pass is a
/// failure, so that the fix is noticed and the mark removed. Cells without
/// a mark, skips, infrastructure errors and interruptions are unchanged.
pub fn against_known_failure(cell: &Cell, verdict: Verdict) -> Verdict {
    let Some(why) = &cell.known_failure else {
        return verdict;
    };
    match verdict.status {
        Status::Failed => {
            let mut v = Verdict::new(Status::Xfail, format!("known failure: {why}"))
                .with(format!("failed as known: {}", verdict.summary));
            v.details.extend(verdict.details);
            v
        }
        Status::Passed => Verdict::new(
            Status::Failed,
            format!("known failure now passes: remove the mark ({why})"),
        )
        .with(format!("it passed: {}", verdict.summary)),
        _ => verdict,
    }
}
