//! How a run is told: JUnit XML for CI systems (via quick-junit), a
//! `results.json` for machines and `bootmatrix diff`, and `summary.md`, the
//! compatibility table as measured, for people.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use quick_junit::{
    NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestRerun, TestSuite,
};
use serde::{Deserialize, Serialize};

use crate::documented::DocumentedError;
use crate::error::{Error, Result};
use crate::health::{self, Severity};
use crate::host::HostFacts;
use crate::model::Outcome;
use crate::observation::Observation;
use crate::run::{CellResult, KernelUsed};
use crate::verdict::Status;

/// Facts about the run as a whole, for results.json and the JUnit
/// properties.
#[derive(Debug, Clone, Serialize)]
pub struct RunFacts<'a> {
    /// The matrix file.
    pub matrix: String,
    /// SHA-256 of the matrix file.
    pub matrix_sha256: String,
    /// The probed host.
    pub host: &'a HostFacts,
    /// When the run started (seconds since the Unix epoch).
    pub started_unix: u64,
    /// Whole-run wall time.
    pub seconds: f64,
    /// True when the run was interrupted.
    pub interrupted: bool,
}

fn console_excerpt(r: &CellResult) -> String {
    let mut out = String::new();
    if let Some(obs) = r.attempts.last().and_then(|a| a.observation.as_ref()) {
        if !obs.stderr_tail.is_empty() {
            out.push_str("--- qemu stderr (last lines) ---\n");
            for l in &obs.stderr_tail {
                out.push_str(l);
                out.push('\n');
            }
        }
        out.push_str("--- console (last lines) ---\n");
        for l in &obs.console_tail {
            out.push_str(l);
            out.push('\n');
        }
    }
    out.push_str(&format!("--- logs: {} ---\n", r.dir.display()));
    out
}

/// The guest kernel's health findings for people, under a heading (empty
/// when there are none).
fn health_excerpt(obs: &Observation) -> String {
    if obs.health.is_empty() {
        return String::new();
    }
    format!("--- kernel health ---\n{}", health::render(&obs.health))
}

/// The JUnit properties of a cell's kernel health: findings that count, by
/// severity, the suppressed ones, and the guest's count of kernel messages
/// at err or worse.
fn health_properties(case: &mut TestCase, obs: &Observation) {
    if !obs.health.is_empty() {
        let count = |sev: Option<Severity>| {
            obs.health
                .iter()
                .filter(|f| match sev {
                    Some(s) => f.counts() && f.severity == s,
                    None => !f.counts(),
                })
                .count()
        };
        case.add_property(Property::new(
            "health-fatal",
            count(Some(Severity::Fatal)).to_string(),
        ));
        case.add_property(Property::new(
            "health-warnings",
            count(Some(Severity::Warning)).to_string(),
        ));
        case.add_property(Property::new("health-suppressed", count(None).to_string()));
    }
    if let Some(n) = obs.report.as_ref().and_then(|r| r.kmsg_err) {
        case.add_property(Property::new("kmsg-err", n.to_string()));
    }
}

/// The JUnit properties of the kernels a cell used:
/// `kernel-guest-release`, `kernel-guest-sha256` and the same for `host`.
fn kernel_properties(case: &mut TestCase, kernels: &[KernelUsed]) {
    for k in kernels {
        let role = k.role.word();
        if let Some(release) = &k.file.release {
            case.add_property(Property::new(
                format!("kernel-{role}-release"),
                release.as_str(),
            ));
        }
        case.add_property(Property::new(
            format!("kernel-{role}-sha256"),
            k.file.sha256.as_str(),
        ));
    }
}

/// Builds the JUnit report: one suite per matrix, one test case per cell.
pub fn junit(
    suite_name: &str,
    results: &[CellResult],
    facts: &RunFacts,
    flaky_fails: bool,
) -> Report {
    let mut report = Report::new("bootmatrix");
    let mut suite = TestSuite::new(suite_name);
    suite.add_property(Property::new("matrix", facts.matrix.as_str()));
    suite.add_property(Property::new("matrix-sha256", facts.matrix_sha256.as_str()));
    suite.add_property(Property::new("host-arch", facts.host.arch.as_str()));
    if let Some(q) = &facts.host.qemu {
        suite.add_property(Property::new(
            "qemu-version",
            format!("{}.{}.{}", q.version.0, q.version.1, q.version.2),
        ));
    }
    for r in results {
        let mut details = r.verdict.summary.clone();
        for d in &r.verdict.details {
            details.push('\n');
            details.push_str(d);
        }
        let mut status = match r.verdict.status {
            Status::Passed => TestCaseStatus::success(),
            Status::Skipped => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(r.verdict.summary.as_str());
                s
            }
            Status::Failed => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(r.verdict.summary.as_str())
                    .set_type("cell-failed")
                    .set_description(details.as_str());
                s
            }
            Status::Error => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_message(r.verdict.summary.as_str())
                    .set_type("infrastructure")
                    .set_description(details.as_str());
                s
            }
            Status::Interrupted => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_message(r.verdict.summary.as_str())
                    .set_type("interrupted");
                s
            }
        };
        if r.flaky {
            if flaky_fails {
                status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                if let TestCaseStatus::NonSuccess { .. } = &status {
                    status.set_message(
                        "flaky: failed, then passed on retry (counted as failed by --flaky-fails)",
                    );
                }
            }
            for a in r
                .attempts
                .iter()
                .filter(|a| a.verdict.status == Status::Failed)
            {
                let mut rerun = TestRerun::new(NonSuccessKind::Failure);
                rerun.set_message(a.verdict.summary.as_str());
                rerun.set_time(Duration::from_secs_f64(a.seconds));
                status.add_rerun(rerun);
            }
        }
        let mut case = TestCase::new(r.name.as_str(), status);
        case.set_classname(suite_name);
        case.set_time(Duration::from_secs_f64(r.seconds));
        if let Some(row) = &r.cell.row {
            case.add_property(Property::new("row", row.as_str()));
        }
        case.add_property(Property::new("expected", r.expected.to_string()));
        case.add_property(Property::new("rule", r.prediction.rule.as_str()));
        if let Some(rep) = r
            .attempts
            .last()
            .and_then(|a| a.observation.as_ref())
            .and_then(|o| o.report.as_ref())
        {
            case.add_property(Property::new("guest-kernel", rep.release.as_str()));
            case.add_property(Property::new("guest-mmu", rep.mmu_word.as_str()));
        }
        kernel_properties(&mut case, &r.kernels);
        let obs = r.attempts.last().and_then(|a| a.observation.as_ref());
        if let Some(obs) = obs {
            health_properties(&mut case, obs);
        }
        let health = obs.map(health_excerpt).unwrap_or_default();
        if matches!(
            r.verdict.status,
            Status::Failed | Status::Error | Status::Interrupted
        ) {
            case.set_system_out(format!("{health}{}", console_excerpt(r)));
        } else if !health.is_empty() {
            case.set_system_out(format!("{health}--- logs: {} ---\n", r.dir.display()));
        }
        suite.add_test_case(case);
    }
    suite.set_time(Duration::from_secs_f64(facts.seconds));
    report.add_test_suite(suite);
    report
}

/// Writes `junit.xml`, `results.json` and `summary.md` into `out`; returns
/// the JUnit path. Each file goes to a temporary name first and is renamed,
/// so a reader never sees half a report.
pub fn write_all(
    out: &Path,
    suite_name: &str,
    results: &[CellResult],
    facts: &RunFacts,
    flaky_fails: bool,
) -> Result<std::path::PathBuf> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, "cannot create", e))?;
    let xml = junit(suite_name, results, facts, flaky_fails)
        .to_string()
        .map_err(|e| Error::infra(format!("cannot render JUnit: {e}")))?;
    let junit_path = out.join("junit.xml");
    write_atomic(&junit_path, xml.as_bytes())?;
    let json = serde_json::to_string_pretty(&ResultsFile::from_run(results, facts))
        .map_err(|e| Error::infra(format!("cannot render results.json: {e}")))?;
    write_atomic(&out.join("results.json"), json.as_bytes())?;
    write_atomic(
        &out.join("summary.md"),
        summary_markdown(results, facts).as_bytes(),
    )?;
    Ok(junit_path)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, "cannot write", e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, "cannot write", e))
}

/// One cell in results.json: what `bootmatrix diff` compares.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CellRecord {
    /// Cell name.
    pub name: String,
    /// passed, failed, skipped, error, interrupted.
    pub status: Status,
    /// The verdict's one line.
    pub summary: String,
    /// What had to happen.
    pub expected: String,
    /// The documented row.
    pub row: Option<String>,
    /// Wall time over all attempts.
    pub seconds: f64,
    /// Attempts made.
    pub attempts: usize,
    /// Passed only on retry.
    pub flaky: bool,
    /// The guest's `uname -r`, when it reported.
    pub guest_kernel: Option<String>,
    /// The MMU the guest reported.
    pub guest_mmu: Option<String>,
    /// The documented errors seen.
    pub errors_seen: Vec<DocumentedError>,
    /// The qemu command.
    pub argv: Vec<String>,
    /// Each kernel the cell used (guest, emulated host) with its release
    /// and SHA-256; empty in results written before they were recorded.
    #[serde(default)]
    pub kernels: Vec<KernelUsed>,
}

/// results.json as a whole.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultsFile {
    /// Format version.
    pub version: u32,
    /// Matrix path.
    pub matrix: String,
    /// Matrix SHA-256.
    pub matrix_sha256: String,
    /// qemu version string.
    pub qemu_version: Option<String>,
    /// The host probe.
    pub host: serde_json::Value,
    /// Run start, Unix seconds.
    pub started_unix: u64,
    /// Wall time.
    pub seconds: f64,
    /// Interrupted run.
    pub interrupted: bool,
    /// Every cell.
    pub cells: Vec<CellRecord>,
}

impl ResultsFile {
    fn from_run(results: &[CellResult], facts: &RunFacts) -> ResultsFile {
        ResultsFile {
            version: 1,
            matrix: facts.matrix.clone(),
            matrix_sha256: facts.matrix_sha256.clone(),
            qemu_version: facts
                .host
                .qemu
                .as_ref()
                .map(|q| format!("{}.{}.{}", q.version.0, q.version.1, q.version.2)),
            host: serde_json::to_value(facts.host).unwrap_or_default(),
            started_unix: facts.started_unix,
            seconds: facts.seconds,
            interrupted: facts.interrupted,
            cells: results.iter().map(record).collect(),
        }
    }

    /// Reads a results.json written by an earlier run.
    pub fn load(path: &Path) -> Result<ResultsFile> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::bad_input(format!("{}: cannot read: {e}", path.display())))?;
        serde_json::from_str(&text).map_err(|e| {
            Error::bad_input(format!(
                "{}:{}: not a bootmatrix results.json: {e}",
                path.display(),
                e.line()
            ))
        })
    }
}

fn record(r: &CellResult) -> CellRecord {
    let obs = r.attempts.last().and_then(|a| a.observation.as_ref());
    CellRecord {
        name: r.name.clone(),
        status: r.verdict.status,
        summary: r.verdict.summary.clone(),
        expected: r.expected.to_string(),
        row: r.cell.row.clone(),
        seconds: r.seconds,
        attempts: r.attempts.len(),
        flaky: r.flaky,
        guest_kernel: obs
            .and_then(|o| o.report.as_ref())
            .map(|r| r.release.clone()),
        guest_mmu: obs
            .and_then(|o| o.report.as_ref())
            .map(|r| r.mmu_word.clone()),
        errors_seen: obs
            .map(|o| o.documented.iter().map(|e| e.id).collect())
            .unwrap_or_default(),
        argv: r.argv.clone(),
        kernels: r.kernels.clone(),
    }
}

/// The compatibility table as measured: one line per cell grouped by host
/// row, with what happened.
pub fn summary_markdown(results: &[CellResult], facts: &RunFacts) -> String {
    let mut s = String::new();
    s.push_str(&format!("# bootmatrix: {}\n\n", facts.matrix));
    let q = facts
        .host
        .qemu
        .as_ref()
        .map_or("qemu not found".to_string(), |q| {
            format!("qemu {}.{}.{}", q.version.0, q.version.1, q.version.2)
        });
    s.push_str(&format!(
        "Host: {} ({}), {q}. Wall time {:.1} s.\n\n",
        facts.host.arch,
        facts.host.cpu.as_deref().unwrap_or("unknown CPU"),
        facts.seconds
    ));
    let mut counts: BTreeMap<Status, usize> = BTreeMap::new();
    for r in results {
        *counts.entry(r.verdict.status).or_default() += 1;
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(k, v)| format!("{v} {}", k.word().to_lowercase()))
        .collect();
    s.push_str(&format!(
        "**{}** of {} cells.\n\n",
        parts.join(", "),
        results.len()
    ));
    let mut by_host: BTreeMap<String, Vec<&CellResult>> = BTreeMap::new();
    for r in results {
        let host = match (r.cell.host.mmu, r.cell.host.page_size) {
            (None, None) => format!("{} host", r.cell.host.kind.as_str()),
            (m, p) => format!(
                "{} host, {} MMU, {} pages",
                r.cell.host.kind.as_str(),
                m.map_or("any".to_string(), |m| m.cpuinfo_word().to_string()),
                p.map_or("any".to_string(), |p| p.to_string())
            ),
        };
        by_host.entry(host).or_default().push(r);
    }
    for (host, cells) in by_host {
        s.push_str(&format!(
            "## {host}\n\n| cell | guest | measured | expected | detail |\n|---|---|---|---|---|\n"
        ));
        for r in cells {
            let g = &r.cell.guest;
            let measured = match r.verdict.status {
                Status::Passed => match &r.expected {
                    Outcome::Boots { .. } => "booted".to_string(),
                    Outcome::Fails { error, .. } => {
                        format!("documented error ({error})")
                    }
                },
                other => other.word().to_lowercase(),
            };
            s.push_str(&format!(
                "| `{}` | {} {} {}, {} | {} | {} | {} |\n",
                r.name,
                g.accel,
                g.mmu.cpuinfo_word(),
                g.kernel.page_size,
                g.machine.name,
                measured,
                r.expected.to_string().replace('|', "\\|"),
                r.verdict.summary.replace('|', "\\|")
            ));
        }
        s.push('\n');
    }
    s.push_str(&health_markdown(results));
    s
}

/// The summary's kernel health section: every cell whose guest kernel had
/// findings, one line per finding (empty when no cell had any).
fn health_markdown(results: &[CellResult]) -> String {
    let mut s = String::new();
    for r in results {
        let Some(obs) = r.attempts.last().and_then(|a| a.observation.as_ref()) else {
            continue;
        };
        if obs.health.is_empty() {
            continue;
        }
        s.push_str(&format!("- `{}` ({}):\n", r.name, r.verdict.status.word()));
        for f in &obs.health {
            let tag = match &f.suppressed {
                Some(by) => format!("suppressed by {}:{}", by.file, by.line),
                None => f.weight().to_string(),
            };
            s.push_str(&format!(
                "  - {tag}: `{}`\n",
                f.headline().replace('`', "'")
            ));
        }
    }
    if s.is_empty() {
        return s;
    }
    format!("## Kernel health\n\n{s}\n")
}

/// Appends the suppressions that matched nothing in the run to
/// `summary.md` in `out` (nothing when every one matched), so that stale
/// suppressions are seen and removed.
pub fn note_unused_suppressions(out: &Path, unused: &[String]) -> Result<()> {
    if unused.is_empty() {
        return Ok(());
    }
    let path = out.join("summary.md");
    let mut s = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, "cannot read", e))?;
    s.push_str("## Suppressions that matched nothing\n\n");
    for u in unused {
        s.push_str(&format!("- `{}`\n", u.replace('`', "'")));
    }
    s.push('\n');
    write_atomic(&path, s.as_bytes())
}
