//! JUnit XML for CI systems, from results.json: one suite per matrix, one
//! test case per cell, in one of two flavours (see [`JunitFlavor`]).

use crate::health::{self, Severity};
use std::time::Duration;

use quick_junit::{
    NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestRerun, TestSuite,
};

use super::results::{CellRecord, ResultsFile};
use crate::error::{Error, Result};
use crate::verdict::Status;

/// Which JUnit dialect to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JunitFlavor {
    /// What GitLab, GitHub report actions and Jenkins' JUnit plugin read:
    /// per-cell `<properties>` and a `skipped` count on `<testsuites>`.
    #[default]
    Full,
    /// Valid against the JUnit schema Jenkins' xUnit plugin checks
    /// (`tests/schemas/junit-xunit.xsd`): no `skipped` on `<testsuites>`, no
    /// `<properties>` in a test case; the per-cell properties move into the
    /// case's `<system-out>`.
    Strict,
}

/// The per-cell properties, as (name, value).
fn case_properties(c: &CellRecord) -> Vec<(&'static str, String)> {
    let mut props = Vec::new();
    if let Some(row) = &c.row {
        props.push(("row", row.clone()));
    }
    props.push(("expected", c.expected.clone()));
    if !c.rule.is_empty() {
        props.push(("rule", c.rule.clone()));
    }
    if let Some(k) = &c.guest_kernel {
        props.push(("guest-kernel", k.clone()));
    }
    if let Some(m) = &c.guest_mmu {
        props.push(("guest-mmu", m.clone()));
    }
    if !c.health.is_empty() {
        let count = |sev: Option<Severity>| {
            c.health
                .iter()
                .filter(|f| match sev {
                    Some(s) => f.counts() && f.severity == s,
                    None => !f.counts(),
                })
                .count()
                .to_string()
        };
        props.push(("health-fatal", count(Some(Severity::Fatal))));
        props.push(("health-warnings", count(Some(Severity::Warning))));
        props.push(("health-suppressed", count(None)));
    }
    if let Some(n) = c.kmsg_err {
        props.push(("kmsg-err", n.to_string()));
    }
    for k in &c.kernels {
        let (release, sha) = match k.role.word() {
            "host" => ("kernel-host-release", "kernel-host-sha256"),
            _ => ("kernel-guest-release", "kernel-guest-sha256"),
        };
        if let Some(r) = &k.file.release {
            props.push((release, r.clone()));
        }
        props.push((sha, k.file.sha256.clone()));
    }
    props
}

/// The guest kernel's health findings for people, under a heading (empty
/// when there are none).
fn health_excerpt(c: &CellRecord) -> String {
    if c.health.is_empty() {
        return String::new();
    }
    format!("--- kernel health ---\n{}", health::render(&c.health))
}

/// The last console and qemu-stderr lines of a cell that failed, and where
/// its logs are.
fn console_excerpt(c: &CellRecord) -> String {
    let mut out = String::new();
    if !c.stderr_tail.is_empty() {
        out.push_str("--- qemu stderr (last lines) ---\n");
        for l in &c.stderr_tail {
            out.push_str(l);
            out.push('\n');
        }
    }
    if !c.console_tail.is_empty() {
        out.push_str("--- console (last lines) ---\n");
        for l in &c.console_tail {
            out.push_str(l);
            out.push('\n');
        }
    }
    if let Some(dir) = &c.logs.dir {
        out.push_str(&format!("--- logs: {dir} (in the output directory) ---\n"));
    }
    out
}

fn status_of(c: &CellRecord, flaky_fails: bool, flavor: JunitFlavor) -> TestCaseStatus {
    let mut details = c.summary.clone();
    for d in &c.details {
        details.push('\n');
        details.push_str(d);
    }
    let non_success = |kind, ty: &str, description: Option<&str>| {
        let mut s = TestCaseStatus::non_success(kind);
        s.set_message(c.summary.as_str()).set_type(ty);
        if let Some(d) = description {
            s.set_description(d);
        }
        s
    };
    let mut status = match c.status {
        Status::Passed => TestCaseStatus::success(),
        Status::Skipped => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(c.summary.as_str());
            s
        }
        Status::Failed => non_success(NonSuccessKind::Failure, "cell-failed", Some(&details)),
        Status::Error => non_success(NonSuccessKind::Error, "infrastructure", Some(&details)),
        Status::Interrupted => non_success(NonSuccessKind::Error, "interrupted", None),
        // An expected failure is reported as skipped with the mark's reason:
        // JUnit has no such status, and CI must not count it as failed.
        Status::Xfail => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(format!("expected failure: {}", c.summary));
            s
        }
    };
    if c.flaky {
        if flaky_fails {
            status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(
                "flaky: failed, then passed on retry (counted as failed by --flaky-fails)",
            );
        }
        for r in &c.reruns {
            let mut rerun = TestRerun::new(NonSuccessKind::Failure);
            rerun.set_type("cell-failed");
            match flavor {
                JunitFlavor::Full => {
                    rerun
                        .set_message(r.summary.as_str())
                        .set_time(Duration::from_secs_f64(r.seconds));
                }
                // The schema has no time on a rerun: it goes into the message.
                JunitFlavor::Strict => {
                    rerun.set_message(format!("{} (after {:.1} s)", r.summary, r.seconds));
                }
            }
            status.add_rerun(rerun);
        }
    }
    status
}

/// Builds the JUnit report of a results file.
pub fn junit(results: &ResultsFile, flavor: JunitFlavor) -> Report {
    let suite_name = results.suite.as_str();
    let mut report = Report::new("bootmatrix");
    let mut suite = TestSuite::new(suite_name);
    suite.add_property(Property::new("matrix", results.matrix.as_str()));
    suite.add_property(Property::new(
        "matrix-sha256",
        results.matrix_sha256.as_str(),
    ));
    if let Some(run) = results.runs.first() {
        suite.add_property(Property::new("host-arch", run.host.arch.as_str()));
    }
    if let Some(q) = &results.qemu_version {
        suite.add_property(Property::new("qemu-version", q.as_str()));
    }
    if results.runs.len() > 1 {
        suite.add_property(Property::new("merged-runs", results.runs.len().to_string()));
    }
    if !results.missing.is_empty() {
        suite.add_property(Property::new("missing-cells", results.missing.join(" ")));
    }
    for c in &results.cells {
        let mut case = TestCase::new(c.name.as_str(), status_of(c, results.flaky_fails, flavor));
        case.set_classname(suite_name);
        case.set_time(Duration::from_secs_f64(c.seconds));
        let props = case_properties(c);
        let excerpt = if c.status.is_bad() {
            format!("{}{}", health_excerpt(c), console_excerpt(c))
        } else {
            health_excerpt(c)
        };
        match flavor {
            JunitFlavor::Full => {
                for (name, value) in props {
                    case.add_property(Property::new(name, value));
                }
                if !excerpt.is_empty() {
                    case.set_system_out(excerpt);
                }
            }
            JunitFlavor::Strict => {
                let mut out = String::from("--- properties ---\n");
                for (name, value) in props {
                    out.push_str(&format!("{name}: {value}\n"));
                }
                out.push_str(&excerpt);
                case.set_system_out(out);
            }
        }
        suite.add_test_case(case);
    }
    suite.set_time(Duration::from_secs_f64(results.seconds));
    report.add_test_suite(suite);
    report
}

/// The JUnit report as XML text, in the flavour asked for.
pub fn render(results: &ResultsFile, flavor: JunitFlavor) -> Result<String> {
    let xml = junit(results, flavor)
        .to_string()
        .map_err(|e| Error::infra(format!("cannot render JUnit: {e}")))?;
    Ok(match flavor {
        JunitFlavor::Full => xml,
        JunitFlavor::Strict => without_testsuites_skipped(&xml),
    })
}

/// Removes the `skipped` attribute of the `<testsuites>` element, which the
/// xUnit schema does not allow and quick-junit always writes. Only that one
/// start tag is touched; `<testsuite>` keeps its own `skipped`, which the
/// schema allows.
fn without_testsuites_skipped(xml: &str) -> String {
    let Some(open) = xml.find("<testsuites") else {
        return xml.to_string();
    };
    let Some(close) = xml[open..].find('>').map(|c| open + c) else {
        return xml.to_string();
    };
    let tag = &xml[open..close];
    let Some(at) = tag.find(" skipped=\"") else {
        return xml.to_string();
    };
    let value_end = tag[at + 10..]
        .find('"')
        .map_or(tag.len(), |e| at + 10 + e + 1);
    format!(
        "{}{}{}{}",
        &xml[..open],
        &tag[..at],
        &tag[value_end..],
        &xml[close..]
    )
}

#[cfg(test)]
mod tests {
    use super::without_testsuites_skipped;

    #[test]
    fn only_the_testsuites_skipped_count_goes() {
        let xml = "<?xml?>\n<testsuites name=\"b\" tests=\"2\" skipped=\"1\" failures=\"0\">\n<testsuite name=\"m\" skipped=\"1\">";
        assert_eq!(
            without_testsuites_skipped(xml),
            "<?xml?>\n<testsuites name=\"b\" tests=\"2\" failures=\"0\">\n<testsuite name=\"m\" skipped=\"1\">"
        );
    }
}
