//! Reports: JUnit statuses for every verdict (skips with their reason,
//! failures vs infrastructure errors, flaky reruns), results.json round trip,
//! and `diff` between two runs.

mod common;

use std::path::Path;

use bootmatrix::diff;
use bootmatrix::model::Outcome;
use bootmatrix::model::{Mmu, PageSize};
use bootmatrix::report::{self, ResultsFile, RunFacts};
use bootmatrix::run::{Attempt, CellResult};
use bootmatrix::verdict::{Status, Verdict};

fn result(name: &str, statuses: &[(Status, &str)]) -> CellResult {
    let m = bootmatrix::matrix::parse(
        Path::new("m.toml"),
        &format!(
            "{}\n[[cells]]\nname = \"{name}\"\nkernel = \"debian-64k\"\n",
            common::HEADER
        ),
    )
    .unwrap();
    let cell = m.cells[0].clone();
    let prediction = bootmatrix::rules::predict(&common::x86_host(), &cell);
    let attempts: Vec<Attempt> = statuses
        .iter()
        .map(|(s, msg)| Attempt {
            verdict: Verdict {
                status: *s,
                summary: msg.to_string(),
                details: vec![],
            },
            seconds: 1.5,
            observation: None,
            exit_status: None,
        })
        .collect();
    let last = attempts.last().unwrap().verdict.clone();
    CellResult {
        name: name.into(),
        cell,
        prediction,
        expected: Outcome::Boots {
            mmu: Mmu::Radix,
            page_size: PageSize::K64,
        },
        flaky: last.status == Status::Passed && attempts.len() > 1,
        verdict: last,
        seconds: 1.5 * attempts.len() as f64,
        attempts,
        dir: "/tmp/cells/x".into(),
        argv: vec!["qemu-system-ppc64".into()],
        kernels: Vec::new(),
    }
}

fn junit_of(results: &[CellResult], flaky_fails: bool) -> String {
    let h = common::x86_host();
    let facts = RunFacts {
        matrix: "m.toml".into(),
        matrix_sha256: "00".into(),
        host: &h,
        started_unix: 0,
        seconds: 3.0,
        interrupted: false,
    };
    report::junit("m", results, &facts, flaky_fails)
        .to_string()
        .unwrap()
}

#[test]
fn each_verdict_has_its_junit_status() {
    let xml = junit_of(
        &[
            result("ok", &[(Status::Passed, "booted")]),
            result("skip", &[(Status::Skipped, "kvm-hv needs a POWER host")]),
            result(
                "fail",
                &[(
                    Status::Failed,
                    "MMU: guest reports `Hash`, cell expects `Radix`",
                )],
            ),
            result(
                "infra",
                &[(Status::Error, "cannot start qemu-system-ppc64")],
            ),
            result(
                "stopped",
                &[(Status::Interrupted, "the run was interrupted")],
            ),
        ],
        false,
    );
    assert!(
        !common::testcase(&xml, "ok").contains("<failure")
            && !common::testcase(&xml, "ok").contains("<skipped")
    );
    assert!(
        common::testcase(&xml, "skip")
            .contains(r#"<skipped message="kvm-hv needs a POWER host"/>"#),
        "{xml}"
    );
    assert!(common::testcase(&xml, "fail").contains(r#"<failure message="MMU: guest reports `Hash`, cell expects `Radix`" type="cell-failed">"#), "{xml}");
    assert!(
        common::testcase(&xml, "infra")
            .contains(r#"<error message="cannot start qemu-system-ppc64" type="infrastructure">"#),
        "{xml}"
    );
    assert!(
        common::testcase(&xml, "stopped").contains(r#"type="interrupted""#),
        "{xml}"
    );
}

#[test]
fn a_cell_that_passes_on_retry_is_flaky_and_can_count_as_failed() {
    let r = result(
        "wobbly",
        &[(Status::Failed, "timed out"), (Status::Passed, "booted")],
    );
    assert!(r.flaky);
    let xml = junit_of(std::slice::from_ref(&r), false);
    let case = common::testcase(&xml, "wobbly");
    assert!(
        case.contains("<flakyFailure") && case.contains("timed out") && !case.contains("<failure"),
        "{case}"
    );
    let strict = junit_of(&[r], true);
    let case = common::testcase(&strict, "wobbly");
    assert!(
        case.contains("<failure") && case.contains("<rerunFailure"),
        "{case}"
    );
}

#[test]
fn results_json_round_trips_and_diff_sorts_the_changes() {
    let dir = tempfile::tempdir().unwrap();
    let h = common::x86_host();
    let facts = RunFacts {
        matrix: "m.toml".into(),
        matrix_sha256: "00".into(),
        host: &h,
        started_unix: 0,
        seconds: 3.0,
        interrupted: false,
    };
    let old_out = dir.path().join("old");
    let new_out = dir.path().join("new");
    report::write_all(
        &old_out,
        "m",
        &[
            result("a", &[(Status::Passed, "booted")]),
            result("b", &[(Status::Failed, "x")]),
            result("gone", &[(Status::Passed, "booted")]),
        ],
        &facts,
        false,
    )
    .unwrap();
    report::write_all(
        &new_out,
        "m",
        &[
            result("a", &[(Status::Failed, "panicked")]),
            result("b", &[(Status::Passed, "booted")]),
            result("new", &[(Status::Skipped, "no kvm")]),
        ],
        &facts,
        false,
    )
    .unwrap();
    let old = ResultsFile::load(&old_out.join("results.json")).unwrap();
    let new = ResultsFile::load(&new_out.join("results.json")).unwrap();
    assert_eq!(old.cells.len(), 3);
    let d = diff::diff(&old, &new);
    let names = |v: &Vec<diff::Change>| v.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&d.newly_failing), vec!["a"]);
    assert_eq!(names(&d.newly_passing), vec!["b"]);
    assert_eq!(names(&d.added), vec!["new"]);
    assert_eq!(names(&d.removed), vec!["gone"]);
    assert!(diff::render(&d).starts_with("newly failing (1):\n  a: passed -> failed: panicked\n"));
    // The command line exits 1 when a cell newly fails, 0 otherwise.
    let out = common::run(&["diff", old_out.to_str().unwrap(), new_out.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let out = common::run(&["diff", old_out.to_str().unwrap(), old_out.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "no differences\n");
    assert!(std::fs::read_to_string(new_out.join("summary.md"))
        .unwrap()
        .contains("1 pass, 1 skip, 1 fail"));
}
