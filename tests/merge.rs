//! `bootmatrix merge` on runs built without booting: shards put back
//! together equal the whole run, missing shards are listed, other matrices
//! and disagreeing verdicts are refused, and every output and cell
//! directory lands in the merged directory. `tests/real_boot.rs` merges
//! real shards.

mod common;
mod support_report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bootmatrix::merge::{self, Prefer};
use bootmatrix::report::{JunitFlavor, ResultsFile};
use bootmatrix::select::hash_shard;
use bootmatrix::verdict::Status;
use bootmatrix::Error;
use support_report::{all, as_predicted, write_run};

fn shard(n: u32) -> impl Fn(&bootmatrix::model::Cell) -> bool {
    move |c| hash_shard(&c.name, 2) == n - 1
}

/// Two shards and the whole of void-compat, each in its own directory.
struct Runs {
    _dir: tempfile::TempDir,
    a: PathBuf,
    b: PathBuf,
    whole: PathBuf,
    out: PathBuf,
}

fn runs() -> Runs {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, whole, out) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("whole"),
        dir.path().join("merged"),
    );
    write_run(
        "void-compat",
        &a,
        &shard(1),
        &as_predicted,
        Some("hash:1/2"),
    );
    write_run(
        "void-compat",
        &b,
        &shard(2),
        &as_predicted,
        Some("hash:2/2"),
    );
    write_run("void-compat", &whole, &all, &as_predicted, None);
    Runs {
        _dir: dir,
        a,
        b,
        whole,
        out,
    }
}

/// `bootmatrix merge --out out inputs...` with the default choices.
fn merged(out: &Path, inputs: &[PathBuf]) -> bootmatrix::Result<merge::MergeOutcome> {
    merge::merge_dirs(out, inputs, Prefer::Refuse, JunitFlavor::Full)
}

fn verdicts(r: &ResultsFile) -> Vec<(String, Status)> {
    r.cells.iter().map(|c| (c.name.clone(), c.status)).collect()
}

#[test]
fn shards_merge_into_what_one_run_gives() {
    let r = runs();
    let merged = merged(&r.out, &[r.a.clone(), r.b.clone()]).unwrap();
    let whole = ResultsFile::load(&r.whole.join("results.json")).unwrap();
    let (a, b) = (
        ResultsFile::load(&r.a.join("results.json")).unwrap(),
        ResultsFile::load(&r.b.join("results.json")).unwrap(),
    );
    assert!(
        a.cells.len() > 10 && b.cells.len() > 10,
        "both shards have cells"
    );
    assert_eq!(
        verdicts(&merged.results),
        verdicts(&whole),
        "same cells, verdicts and (matrix) order"
    );
    assert!(
        merged.results.missing.is_empty(),
        "{:?}",
        merged.results.missing
    );
    assert_eq!(merged.results.counts, whole.counts);
    let partitions: Vec<Option<&str>> = merged
        .results
        .runs
        .iter()
        .map(|r| r.partition.as_deref())
        .collect();
    assert_eq!(partitions, vec![Some("hash:1/2"), Some("hash:2/2")]);
    assert_eq!(
        merged.results.runs[0].source.as_deref(),
        Some(r.a.display().to_string().as_str())
    );
    // Cells know which run they came from.
    for c in &merged.results.cells {
        let from = if a.cells.iter().any(|x| x.name == c.name) {
            0
        } else {
            1
        };
        assert_eq!(c.run, from, "{}", c.name);
    }
    // Every output is written again from the merged results.json alone.
    let on_disk = ResultsFile::load(&r.out.join("results.json")).unwrap();
    assert_eq!(verdicts(&on_disk), verdicts(&whole));
    let junit = std::fs::read_to_string(&merged.junit).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), whole.cells.len());
    assert!(junit.contains("<property name=\"merged-runs\" value=\"2\"/>"));
    let summary = std::fs::read_to_string(r.out.join("summary.md")).unwrap();
    assert!(
        summary.contains("Run 1: x86_64") && summary.contains("shard hash:2/2"),
        "{summary}"
    );
    let page = std::fs::read_to_string(r.out.join("report.html")).unwrap();
    assert_eq!(
        page.matches("<article class=\"tile").count(),
        whole.cells.len()
    );
    assert!(
        page.contains(
            "<div class=\"tl-run\">run 2 · hash:2/2 · from 2025-06-15 15:06:40 UTC</div>"
        ),
        "one timeline per run"
    );
    // The cell directories came along, so every link resolves.
    for c in &on_disk.cells {
        for p in [&c.logs.console, &c.logs.repro, &c.logs.stderr]
            .into_iter()
            .flatten()
        {
            assert!(r.out.join(p).is_file(), "{p} missing in the merged output");
        }
        assert!(
            r.out
                .join(c.logs.dir.as_ref().unwrap())
                .join("verdict.txt")
                .is_file(),
            "{}",
            c.name
        );
    }
    // Both shards booted hosts of the same keys: their consoles are kept apart.
    let consoles: Vec<&String> = on_disk
        .sessions
        .iter()
        .filter_map(|s| s.console.as_ref())
        .collect();
    assert_eq!(consoles.len(), a.sessions.len() + b.sessions.len());
    let unique: std::collections::BTreeSet<&&String> = consoles.iter().collect();
    assert_eq!(unique.len(), consoles.len(), "{consoles:?}");
    for log in consoles {
        assert!(r.out.join(log).is_file(), "{log}");
    }
}

#[test]
fn the_cells_of_a_shard_not_given_are_listed_as_missing() {
    let r = runs();
    let merged = merged(&r.out, &[r.a.join("results.json")]).unwrap();
    let b = ResultsFile::load(&r.b.join("results.json")).unwrap();
    let mut want: Vec<String> = b.cells.iter().map(|c| c.name.clone()).collect();
    let mut missing = merged.results.missing.clone();
    want.sort();
    missing.sort();
    assert_eq!(missing, want);
    let summary = std::fs::read_to_string(r.out.join("summary.md")).unwrap();
    assert!(
        summary.contains(&format!(
            "**{} cells of the matrix are in no merged run:**",
            want.len()
        )),
        "{summary}"
    );
    let page = std::fs::read_to_string(r.out.join("report.html")).unwrap();
    assert!(page.contains(&format!("<h2>{} cells missing</h2>", want.len())));
    // The command line says so too.
    let out = common::run(&[
        "merge",
        "--out",
        r.out.to_str().unwrap(),
        r.a.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!(
            "bootmatrix: {} cells of the matrix are in no run: ",
            want.len()
        )),
        "{err}"
    );
}

#[test]
fn runs_of_another_matrix_are_refused_in_one_line() {
    let r = runs();
    let other = r._dir.path().join("default");
    write_run("default", &other, &all, &as_predicted, None);
    let inputs = [r.a.clone(), other.clone()];
    match merge::merge_dirs(&r.out, &inputs, Prefer::Newest, JunitFlavor::Full) {
        Err(Error::BadInput(msg)) => {
            assert!(!msg.contains('\n'), "{msg}");
            assert!(
                msg.contains("void-compat.toml")
                    && msg.contains("default.toml")
                    && msg.contains("only runs of the same matrix"),
                "{msg}"
            );
        }
        other => panic!("merged runs of two matrices: {other:?}"),
    }
    assert!(!r.out.join("results.json").exists(), "nothing is written");
    let out = common::run(&[
        "merge",
        "--out",
        r.out.to_str().unwrap(),
        r.a.to_str().unwrap(),
        other.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// Runs the default matrix twice in `dir`, the second a minute later, with
/// `tcg/hpt-guest/64k` ending as `first` and then as `second`.
fn two_runs(dir: &Path, first: Status, second: Status) -> (PathBuf, PathBuf) {
    let run = |name: &str, status: Status, started: u64| {
        let out = dir.join(name);
        let mut file = write_run(
            "default",
            &out,
            &all,
            &|c| (c.name == "tcg/hpt-guest/64k").then(|| (status, format!("{status:?}"))),
            None,
        );
        file.started_unix = started;
        file.runs[0].started_unix = started;
        file.count();
        bootmatrix::report::write_all(&out, &file, JunitFlavor::Full).unwrap();
        out
    };
    (
        run("first", first, 1_750_000_000),
        run("second", second, 1_750_000_060),
    )
}

#[test]
fn disagreeing_verdicts_are_refused_unless_the_newest_is_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = two_runs(dir.path(), Status::Passed, Status::Failed);
    let out = dir.path().join("merged");
    match merged(&out, &[first.clone(), second.clone()]) {
        Err(Error::BadInput(msg)) => {
            assert!(
                msg.contains("cell `tcg/hpt-guest/64k` is passed in")
                    && msg.contains("but failed in"),
                "{msg}"
            );
            assert!(
                msg.contains("--prefer newest") && !msg.contains('\n'),
                "{msg}"
            );
        }
        other => panic!("merged a disagreement: {other:?}"),
    }
    // Newest wins, whatever the order on the command line.
    for inputs in [
        [first.clone(), second.clone()],
        [second.clone(), first.clone()],
    ] {
        let merged = merge::merge_dirs(&out, &inputs, Prefer::Newest, JunitFlavor::Full).unwrap();
        let cell = merged
            .results
            .cells
            .iter()
            .find(|c| c.name == "tcg/hpt-guest/64k")
            .unwrap();
        assert_eq!(cell.status, Status::Failed);
        assert_eq!(merged.overruled, vec!["tcg/hpt-guest/64k".to_string()]);
        assert_eq!(
            merged.results.cells.len(),
            2,
            "a cell in both runs is kept once"
        );
    }
    // Agreeing runs need no flag; the command exits as `run` would.
    let (a, b) = two_runs(&dir.path().join("agree"), Status::Failed, Status::Failed);
    let res = common::run(&[
        "merge",
        "--out",
        out.to_str().unwrap(),
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert_eq!(
        res.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let res = common::run(&[
        "merge",
        "--prefer",
        "newest",
        "--out",
        out.to_str().unwrap(),
        second.to_str().unwrap(),
        first.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(1), "{err}");
    assert!(
        err.contains("runs disagreed about 1 cells; kept the newest verdict: tcg/hpt-guest/64k"),
        "{err}"
    );
}

#[test]
fn the_output_directory_is_neither_an_input_nor_someone_else_s() {
    let r = runs();
    let err = merged(&r.a, &[r.a.clone(), r.b.clone()]).unwrap_err();
    assert!(err.message().contains("is also an input"), "{err}");
    let busy = r._dir.path().join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), "mine").unwrap();
    let err = merged(&busy, std::slice::from_ref(&r.a)).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(busy.join("notes.txt").is_file(), "nothing of it is touched");
    let err = merged(&r.out, &[r.a.clone(), r.a.clone()]).unwrap_err();
    assert!(err.message().contains("given twice"), "{err}");
    let err = merged(&r.out, &[r._dir.path().join("nothing-here")]).unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    // A previous merge is replaced, not added to.
    merged(&r.out, &[r.a.clone(), r.b.clone()]).unwrap();
    let again = merged(&r.out, std::slice::from_ref(&r.a)).unwrap();
    let dirs = std::fs::read_dir(r.out.join("cells")).unwrap().count();
    assert_eq!(dirs, again.results.cells.len());
}

#[test]
fn a_merge_of_merges_and_strict_junit() {
    let r = runs();
    let first = r._dir.path().join("first");
    merged(&first, std::slice::from_ref(&r.a)).unwrap();
    let merged = merge::merge_dirs(
        &r.out,
        &[first, r.b.clone()],
        Prefer::Refuse,
        JunitFlavor::Strict,
    )
    .unwrap();
    let whole = ResultsFile::load(&r.whole.join("results.json")).unwrap();
    assert_eq!(verdicts(&merged.results), verdicts(&whole));
    let by_run: BTreeMap<usize, usize> =
        merged
            .results
            .cells
            .iter()
            .fold(BTreeMap::new(), |mut m, c| {
                *m.entry(c.run).or_default() += 1;
                m
            });
    assert_eq!(by_run.len(), 2, "{by_run:?}");
    let junit = std::fs::read_to_string(&merged.junit).unwrap();
    assert_eq!(
        junit.matches("<properties>").count(),
        1,
        "strict JUnit has only the suite's properties"
    );
    assert!(junit.contains("<system-out>--- properties ---"));
}
