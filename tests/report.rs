//! Reports: JUnit statuses for every verdict (skips with their reason,
//! failures vs infrastructure errors, flaky reruns) in both flavours, the
//! strict flavour against the xUnit schema, results.json round trip and
//! typed statuses (also of files older versions wrote), and `diff` between
//! two runs.

mod common;
mod support_report;

use std::path::Path;
use std::process::Command;

use bootmatrix::diff;
use bootmatrix::model::Outcome;
use bootmatrix::model::{Mmu, PageSize};
use bootmatrix::report::results::STATUSES;
use bootmatrix::report::{self, JunitFlavor, ResultsFile, RunFacts};
use bootmatrix::run::{Attempt, CellResult, Timing};
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
        timing: Timing::default(),
        kernels: Vec::new(),
    }
}

fn facts<'a>(h: &'a bootmatrix::host::HostFacts, flaky_fails: bool, out: &Path) -> RunFacts<'a> {
    RunFacts {
        matrix: "m.toml".into(),
        matrix_sha256: "00".into(),
        suite: "m".into(),
        description: None,
        host: h,
        host_kernel: None,
        started_unix: 0,
        seconds: 3.0,
        interrupted: false,
        flaky_fails,
        selection: Default::default(),
        image_sha256: Default::default(),
        out: out.to_path_buf(),
    }
}

fn junit_of(results: &[CellResult], flaky_fails: bool, flavor: JunitFlavor) -> String {
    let h = common::x86_host();
    report::junit::render(
        &ResultsFile::from_run(results, &facts(&h, flaky_fails, Path::new("/nonexistent"))),
        flavor,
    )
    .unwrap()
}

fn every_verdict() -> Vec<CellResult> {
    vec![
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
        result(
            "wobbly",
            &[
                (Status::Failed, "timed out <early> & late"),
                (Status::Passed, "booted"),
            ],
        ),
    ]
}

#[test]
fn each_verdict_has_its_junit_status() {
    for flavor in [JunitFlavor::Full, JunitFlavor::Strict] {
        let xml = junit_of(&every_verdict(), false, flavor);
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
            common::testcase(&xml, "infra").contains(
                r#"<error message="cannot start qemu-system-ppc64" type="infrastructure">"#
            ),
            "{xml}"
        );
        assert!(
            common::testcase(&xml, "stopped").contains(r#"type="interrupted""#),
            "{xml}"
        );
    }
}

#[test]
fn a_cell_that_passes_on_retry_is_flaky_and_can_count_as_failed() {
    let r = result(
        "wobbly",
        &[(Status::Failed, "timed out"), (Status::Passed, "booted")],
    );
    assert!(r.flaky);
    let xml = junit_of(std::slice::from_ref(&r), false, JunitFlavor::Full);
    let case = common::testcase(&xml, "wobbly");
    assert!(
        case.contains("<flakyFailure") && case.contains("timed out") && !case.contains("<failure"),
        "{case}"
    );
    let strict = junit_of(&[r], true, JunitFlavor::Full);
    let case = common::testcase(&strict, "wobbly");
    assert!(
        case.contains("<failure") && case.contains("<rerunFailure"),
        "{case}"
    );
}

#[test]
fn the_full_flavour_keeps_per_cell_properties_and_the_strict_one_moves_them_to_system_out() {
    let full = junit_of(&every_verdict(), false, JunitFlavor::Full);
    assert!(
        full.contains("<testsuites ")
            && full[full.find("<testsuites ").unwrap()..]
                .split('>')
                .next()
                .unwrap()
                .contains(" skipped=\"1\""),
        "{full}"
    );
    let ok = common::testcase(&full, "ok");
    assert!(
        ok.contains("<properties>")
            && ok.contains(r#"<property name="expected" value="boots (Radix, 64k pages)"/>"#),
        "{ok}"
    );

    let strict = junit_of(&every_verdict(), false, JunitFlavor::Strict);
    let head = strict[strict.find("<testsuites ").unwrap()..]
        .split('>')
        .next()
        .unwrap();
    assert!(!head.contains("skipped="), "{head}");
    // The suite keeps its own counts and properties, which the schema allows.
    assert!(
        strict.contains(r#"<testsuite name="m" tests="6" skipped="1""#)
            && strict.contains(r#"<property name="matrix" value="m.toml"/>"#),
        "{strict}"
    );
    for case in ["ok", "skip", "fail", "infra", "stopped", "wobbly"] {
        let t = common::testcase(&strict, case);
        assert!(!t.contains("<properties>"), "{t}");
        assert!(
            t.contains("<system-out>--- properties ---\nrow: ")
                || t.contains("<system-out>--- properties ---\nexpected: "),
            "{t}"
        );
        assert!(t.contains("expected: boots (Radix, 64k pages)\n"), "{t}");
    }
}

/// `xmllint --schema` of `xml` against the xUnit JUnit schema: its status
/// and what it said.
fn xmllint(xml: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("junit.xml");
    std::fs::write(&file, xml).unwrap();
    let schema = common::repo().join("tests/schemas/junit-xunit.xsd");
    let out = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(&schema)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run xmllint ({e}): install it with `apt-get install libxml2-utils` (or `bash ci/setup-debian.sh --test-tools`)"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn strict_junit_validates_against_the_xunit_schema_and_full_junit_does_not() {
    let (ok, said) = xmllint(&junit_of(&every_verdict(), false, JunitFlavor::Strict));
    assert!(ok, "strict JUnit does not validate:\n{said}");
    let (ok, said) = xmllint(&junit_of(&every_verdict(), true, JunitFlavor::Strict));
    assert!(
        ok,
        "strict JUnit with --flaky-fails does not validate:\n{said}"
    );
    // The schema is not a rubber stamp: the full flavour breaks it, in the
    // two places the strict flavour changes.
    let (ok, said) = xmllint(&junit_of(&every_verdict(), false, JunitFlavor::Full));
    assert!(!ok, "full JUnit validated, so the schema checks nothing");
    assert!(
        said.contains("skipped") && said.contains("properties"),
        "{said}"
    );
}

#[test]
fn merged_and_synthetic_runs_render_strict_junit_that_validates() {
    let dir = tempfile::tempdir().unwrap();
    let file = support_report::write_run(
        "void-compat",
        dir.path(),
        &support_report::all,
        &|c| {
            c.name
                .contains("hpt-4k-host/kvm-hv/hpt-guest/4k/no-fix")
                .then(|| (Status::Failed, "timed out".to_string()))
        },
        None,
    );
    let (ok, said) = xmllint(&report::junit::render(&file, JunitFlavor::Strict).unwrap());
    assert!(ok, "{said}");
}

#[test]
fn statuses_are_stored_as_their_lower_case_words() {
    for s in STATUSES {
        assert_eq!(
            serde_json::to_value(s).unwrap(),
            serde_json::Value::String(s.as_str().into())
        );
        assert_eq!(
            serde_json::from_value::<Status>(s.as_str().into()).unwrap(),
            s
        );
    }
}

#[test]
fn results_json_round_trips_and_diff_sorts_the_changes() {
    let dir = tempfile::tempdir().unwrap();
    let h = common::x86_host();
    let old_out = dir.path().join("old");
    let new_out = dir.path().join("new");
    let write = |out: &Path, results: &[CellResult]| {
        report::write_all(
            out,
            &ResultsFile::from_run(results, &facts(&h, false, out)),
            JunitFlavor::Full,
        )
        .unwrap();
    };
    write(
        &old_out,
        &[
            result("a", &[(Status::Passed, "booted")]),
            result("b", &[(Status::Failed, "x")]),
            result("gone", &[(Status::Passed, "booted")]),
        ],
    );
    write(
        &new_out,
        &[
            result("a", &[(Status::Failed, "panicked")]),
            result("b", &[(Status::Passed, "booted")]),
            result("new", &[(Status::Skipped, "no kvm")]),
        ],
    );
    let old = ResultsFile::load(&old_out.join("results.json")).unwrap();
    let new = ResultsFile::load(&new_out.join("results.json")).unwrap();
    assert_eq!(old.cells.len(), 3);
    assert_eq!(old.cells[1].status, Status::Failed);
    let d = diff::diff(&old, &new);
    let names = |v: &Vec<diff::Change>| v.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&d.newly_failing), vec!["a"]);
    assert_eq!(d.newly_failing[0].old, Some(Status::Passed));
    assert_eq!(d.newly_failing[0].new, Some(Status::Failed));
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
    for file in ["junit.xml", "report.html"] {
        assert!(new_out.join(file).is_file(), "{file} not written");
    }
}

/// A results.json as bootmatrix wrote it before it recorded axes, timings
/// and logs (format version 1).
const VERSION_1: &str = r#"{
  "version": 1,
  "matrix": "matrices/default.toml",
  "matrix_sha256": "77a7",
  "qemu_version": "10.0.2",
  "host": {"arch": "x86_64", "cpu": "AMD EPYC", "power_generation": null, "platform": null, "mmu": null,
           "page_size": "4k", "hugepage_size_kib": 2048, "hugepages_total": 0, "hugepages_free": 0, "hugetlbfs": [],
           "kvm": {"dev_kvm": "missing", "hv_loaded": false, "pr_loaded": false, "htm": null},
           "qemu": {"path": "qemu-system-ppc64", "version": [10, 0, 2], "machines": ["pseries"], "accels": ["tcg"]}},
  "started_unix": 1750000000,
  "seconds": 31.5,
  "interrupted": false,
  "cells": [
    {"name": "tcg/radix-guest/64k", "status": "passed", "summary": "booted in 15.1 s", "expected": "boots (Radix, 64k pages)",
     "row": null, "seconds": 15.2, "attempts": 1, "flaky": false, "guest_kernel": "6.1.0-50-powerpc64le", "guest_mmu": "Radix",
     "errors_seen": [], "argv": ["qemu-system-ppc64"]},
    {"name": "tcg/hpt-guest/64k", "status": "failed", "summary": "timed out", "expected": "boots (Hash, 64k pages)",
     "row": null, "seconds": 120.0, "attempts": 1, "flaky": false, "guest_kernel": null, "guest_mmu": null,
     "errors_seen": [], "argv": ["qemu-system-ppc64"]}
  ]
}"#;

#[test]
fn results_written_by_the_previous_version_still_load_diff_and_render() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    std::fs::write(&path, VERSION_1).unwrap();
    let old = ResultsFile::load(&path).unwrap();
    assert_eq!(old.cells[1].status, Status::Failed);
    assert_eq!(old.suite, "default");
    assert_eq!(old.count_of(Status::Passed), 1);
    assert_eq!(
        old.runs.len(),
        1,
        "the one run is filled in from the top-level facts"
    );
    assert_eq!(old.runs[0].host.arch, "x86_64");
    assert_eq!(old.runs[0].host.kvm, "no /dev/kvm");
    let mut new = old.clone();
    new.cells[1].status = Status::Passed;
    let d = diff::diff(&old, &new);
    assert_eq!(d.newly_passing.len(), 1);
    // Every report renders from it: cells without axes form one row.
    let html = report::html::render(&old);
    assert_eq!(html.matches("<tr class=\"host-row\">").count(), 1, "{html}");
    assert!(
        html.contains("data-cell=\"tcg/hpt-guest/64k\" data-status=\"failed\""),
        "{html}"
    );
    assert!(report::summary::markdown(&old).contains("| `tcg/hpt-guest/64k` | - | fail |"));
    let (ok, said) = xmllint(&report::junit::render(&old, JunitFlavor::Strict).unwrap());
    assert!(ok, "{said}");
}

#[test]
fn a_cell_record_says_what_the_grid_shows() {
    let dir = tempfile::tempdir().unwrap();
    // One known failure skipped with its mark's reason, as under
    // `--known-failures skip`.
    let file = support_report::write_run(
        "void-compat",
        dir.path(),
        &support_report::all,
        &|c| {
            (c.name == "hpt-4k-host/kvm-pr/hpt-guest/4k/pr-caps+hpt-max-page-size+hugepages/powernv8/host-4k-6.12")
                .then(|| (Status::Skipped, c.known_failure.clone().unwrap()))
        },
        Some("hash:1/2"),
    );
    let by_name = |n: &str| {
        file.cells
            .iter()
            .find(|c| c.name == n)
            .unwrap_or_else(|| panic!("no cell {n}"))
    };
    let booted = by_name("radix-4k-host/kvm-hv/radix-guest/4k/hpt-max-page-size");
    let host = booted.host.as_ref().unwrap();
    assert_eq!(
        (
            host.kind.as_str(),
            host.mmu,
            host.page_size,
            host.kernel.as_deref()
        ),
        (
            "powernv9",
            Some(Mmu::Radix),
            Some(PageSize::K4),
            Some("host-4k")
        )
    );
    assert_eq!(
        host.qemu.as_deref(),
        Some("10.0.2 from Debian bookworm-backports")
    );
    let guest = booted.guest.as_ref().unwrap();
    assert_eq!(
        (
            guest.mmu,
            guest.page_size,
            guest.accel.as_str(),
            guest.machine.as_str()
        ),
        (Mmu::Radix, PageSize::K4, "kvm-hv", "pseries")
    );
    assert_eq!(
        guest.fixes.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
        vec!["hpt-max-page-size"]
    );
    assert_eq!(
        (
            booted.guest_mmu.as_deref(),
            booted.guest_page_size,
            booted.guest_kernel.as_deref()
        ),
        (
            Some("Radix"),
            Some(PageSize::K4),
            Some("6.1.0-31-powerpc64le")
        )
    );
    assert!(booted.boot_seconds.is_some() && booted.start.is_some() && booted.end > booted.start);
    assert!(
        matches!(&booted.lane, Some(report::results::Lane::Session { key, .. }) if key.starts_with("powernv9-radix-host-4k"))
    );
    let dir_rel = booted.logs.dir.clone().unwrap();
    assert_eq!(
        booted.logs.console.as_deref(),
        Some(format!("{dir_rel}/console.log").as_str())
    );
    assert_eq!(
        booted.logs.repro.as_deref(),
        Some(format!("{dir_rel}/repro.sh").as_str())
    );
    assert_eq!(
        booted.logs.stderr, None,
        "an inner cell has no stderr file of its own"
    );

    let refused = by_name("radix-4k-host/kvm-hv/radix-guest/64k/no-fix");
    assert_eq!(refused.expected_error.as_deref(), Some("hpt-page-size"));
    assert!(refused
        .error_text
        .as_deref()
        .unwrap()
        .contains("Can't support 64 kiB guest pages with 4 kiB host pages"));
    let skipped = file
        .cells
        .iter()
        .find(|c| c.status == Status::Skipped)
        .unwrap();
    assert_eq!(
        skipped.skip_reason.as_deref(),
        Some(skipped.summary.as_str())
    );
    assert_eq!(
        (skipped.logs.console.as_ref(), skipped.logs.repro.as_ref()),
        (None, None)
    );

    assert_eq!(file.selection.partition.as_deref(), Some("hash:1/2"));
    assert_eq!(
        file.selection.cells.len(),
        bootmatrix::matrix::load(&common::repo().join("matrices/void-compat.toml"))
            .unwrap()
            .cells
            .len()
    );
    let run = &file.runs[0];
    let levels: Vec<(u32, &str)> = run
        .qemu
        .iter()
        .map(|q| (q.level, q.version.as_str()))
        .collect();
    assert_eq!(levels, vec![(0, "10.0.2"), (1, "10.0.2"), (1, "7.2.0")]);
    let guest_kernel = run.kernels.iter().find(|k| k.name == "debian-64k").unwrap();
    assert_eq!(
        (
            guest_kernel.release.as_deref(),
            guest_kernel.sha256.as_deref()
        ),
        (Some("6.1.0-31-powerpc64le"), Some("ab".repeat(32).as_str()))
    );
    assert!(run
        .kernels
        .iter()
        .any(|k| k.name == "host-4k" && k.roles == vec![report::results::KernelRole::Host]));
    assert!(!file.sessions.is_empty() && file.sessions.iter().all(|s| s.end >= s.start));
}
