//! Results built without booting, for the tests of the reports and of
//! `merge`: cells come from real matrices (parsed and predicted as a run
//! would), their verdicts and observations are chosen by the test, and the
//! files a run would leave in each cell's directory are written so that
//! links can be checked.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use bootmatrix::host::HostFacts;
use bootmatrix::model::Cell;
use bootmatrix::model::Outcome;
use bootmatrix::observation::{EndCause, Observation, SeenError, Stream};
use bootmatrix::payload::GuestReport;
use bootmatrix::report::results::Selection;
use bootmatrix::report::{ResultsFile, RunFacts};
use bootmatrix::rules::Prediction;
use bootmatrix::run::{cell_dir_name, Attempt, CellResult, SessionTiming, Timing};
use bootmatrix::verdict::{Status, Verdict};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An observation that ended as `cause`, with nothing seen yet.
pub fn observation(cause: EndCause, seconds: f64) -> Observation {
    let mut o = Observation::empty();
    o.cause = cause;
    o.elapsed = Duration::from_secs_f64(seconds);
    o
}

/// What the guest of `expected` reports when it boots as expected.
pub fn report_for(expected: &Outcome) -> Option<GuestReport> {
    let Outcome::Boots { mmu, page_size } = expected else {
        return None;
    };
    Some(GuestReport {
        release: "6.1.0-31-powerpc64le".into(),
        mmu: Some(*mmu),
        mmu_word: mmu.cpuinfo_word().into(),
        page_size: Some(*page_size),
        cpu: "POWER9 (architected)".into(),
        platform: "pSeries".into(),
        hypervisor: "linux,kvm".into(),
        cmdline: "console=hvc0".into(),
        kmsg_err: Some(0),
        kmsg: Vec::new(),
    })
}

/// A finished cell as the runner would hand it over. Writes the files a
/// run leaves in `out/cells/<dir>` (none for a skipped cell).
pub fn result(
    out: &Path,
    cell: &Cell,
    prediction: Prediction,
    verdict: Verdict,
    obs: Option<Observation>,
    timing: Timing,
) -> CellResult {
    let expected = bootmatrix::verdict::expected(cell, &prediction);
    let dir = out.join("cells").join(cell_dir_name(&cell.name));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("verdict.txt"),
        format!("{} {}\n", verdict.status.word(), cell.name),
    )
    .unwrap();
    if verdict.status != Status::Skipped {
        std::fs::write(dir.join("console.log"), "SLOF\nBOOTMATRIX-DONE\n").unwrap();
        std::fs::write(dir.join("repro.sh"), "#!/bin/sh\n").unwrap();
        if !cell.host.kind.is_emulated() {
            std::fs::write(dir.join("qemu-stderr.log"), "").unwrap();
        }
    }
    let seconds = timing.end - timing.start;
    CellResult {
        name: cell.name.clone(),
        cell: cell.clone(),
        prediction,
        expected,
        attempts: vec![Attempt {
            verdict: verdict.clone(),
            seconds,
            observation: obs,
            exit_status: Some(0),
        }],
        verdict,
        flaky: false,
        dir,
        argv: vec!["qemu-system-ppc64".into()],
        seconds,
        timing,
        kernels: Vec::new(),
    }
}

/// The facts of a run of `matrix` (its file, hash and cells) into `out`.
pub fn facts<'a>(
    matrix: &bootmatrix::matrix::Matrix,
    host: &'a HostFacts,
    out: &Path,
    partition: Option<&str>,
) -> RunFacts<'a> {
    RunFacts {
        matrix: matrix.path.display().to_string(),
        matrix_sha256: matrix.sha256.clone(),
        suite: matrix.name.clone(),
        description: matrix.description.clone(),
        host,
        host_kernel: Some("6.1.0-37-amd64".into()),
        started_unix: 1_750_000_000,
        seconds: 600.0,
        interrupted: false,
        flaky_fails: false,
        selection: Selection {
            filters: Vec::new(),
            partition: partition.map(str::to_string),
            cells: matrix.cells.iter().map(|c| c.name.clone()).collect(),
        },
        // The image the matrix's `debian-64k` kernel boots (Debian's own,
        // or the harness's minimal build in void-compat).
        image_sha256: [(
            matrix
                .kernels
                .get("debian-64k")
                .map_or("debian-kernel-64k".to_string(), |k| k.image.clone()),
            "ab".repeat(32),
        )]
        .into_iter()
        .collect(),
        out: out.to_path_buf(),
    }
}

/// How a cell of a synthetic run ends: as its expectation says, unless the
/// test says otherwise.
pub type Override<'a> = &'a dyn Fn(&Cell) -> Option<(Status, String)>;

/// Every cell of `matrix` (placed as `bootmatrix run` would on an x86
/// machine: host rows on emulated hosts) finished as predicted, except what
/// `change` says; the cells of one host session run back to back on
/// alternating workers. Writes each cell's files under `out`.
pub fn run_of(
    matrix: &bootmatrix::matrix::Matrix,
    keep: &dyn Fn(&Cell) -> bool,
    out: &Path,
    change: Override,
) -> Vec<CellResult> {
    let host = crate_host();
    let input = bootmatrix::plan::PlanInput {
        host: &host,
        hosts: bootmatrix::plan::HostsMode::Auto,
        qemu: "qemu-system-ppc64",
        timeout_scale: 1.0,
        known_failures: Default::default(),
        durations: &Default::default(),
        lanes: 2,
    };
    let plan = bootmatrix::plan::build(matrix, &matrix.cells, &input).unwrap();
    let planned: Vec<&bootmatrix::plan::PlannedCell> =
        plan.cells.iter().filter(|p| keep(&p.cell)).collect();
    let cells: Vec<Cell> = planned.iter().map(|p| p.cell.clone()).collect();
    let mut sessions: Vec<(String, f64, usize)> = Vec::new();
    let mut worker_clock = [0.0f64; 2];
    let mut out_results = Vec::new();
    for (n, cell) in cells.iter().enumerate() {
        let prediction = planned[n].prediction.clone();
        let expected = planned[n].expected.clone();
        let skip = planned[n].readiness.reason();
        let took = match &expected {
            Outcome::Boots { .. } => 20.0 + (n % 4) as f64 * 7.5,
            Outcome::Fails { .. } => 1.5,
        };
        let (status, summary) = match (change(cell), &skip) {
            (Some(v), _) => v,
            (None, Some(reason)) => (Status::Skipped, reason.clone()),
            (None, None) => match &expected {
                Outcome::Boots { mmu, page_size } => (
                    Status::Passed,
                    format!(
                        "booted in {took:.1} s: {} MMU, {page_size} pages",
                        mmu.cpuinfo_word()
                    ),
                ),
                Outcome::Fails { message, .. } => (
                    Status::Passed,
                    format!("failed as documented: qemu-system-ppc64: {message}"),
                ),
            },
        };
        let mut obs = (status != Status::Skipped).then(|| observation(EndCause::Marker, took));
        if let (Some(o), Status::Passed) = (obs.as_mut(), status) {
            o.report = report_for(&expected);
            if let Outcome::Fails { error, message } = &expected {
                o.cause = EndCause::QemuExited(Some(1));
                o.documented.push(SeenError {
                    id: *error,
                    line: format!("BM-L2-ERR: qemu-system-ppc64: {message}"),
                    stream: Stream::InnerStderr,
                });
            }
        }
        if let (Some(o), Status::Failed) = (obs.as_mut(), status) {
            o.cause = EndCause::Timeout;
            o.console_tail = vec!["SLOF **** <tail> & more".into()];
        }
        let session = cell
            .host
            .kind
            .is_emulated()
            .then(|| bootmatrix::chain::session_key(&cell.host).to_string());
        let timing = match (status, session) {
            (Status::Skipped, _) => Timing {
                start: 0.1,
                end: 0.1,
                worker: n % 2,
                session: None,
                relay_seconds: None,
            },
            (_, session) => {
                // A host session starts on the next worker and boots for 5 s.
                let host = session.map(|key| match sessions.iter().find(|s| s.0 == key) {
                    Some(s) => s.clone(),
                    None => {
                        let w = sessions.len() % 2;
                        sessions.push((key.clone(), worker_clock[w], w));
                        worker_clock[w] += 5.0;
                        (key, worker_clock[w] - 5.0, w)
                    }
                });
                let w = host.as_ref().map_or(n % 2, |s| s.2);
                let start = worker_clock[w];
                worker_clock[w] += took;
                let session = host.map(|(key, start, _)| SessionTiming {
                    key,
                    start,
                    end: 0.0,
                    probed: None,
                });
                Timing {
                    start,
                    end: start + took,
                    worker: w,
                    relay_seconds: session.as_ref().map(|_| 0.2),
                    session,
                }
            }
        };
        out_results.push(result(
            out,
            cell,
            prediction,
            Verdict {
                status,
                summary,
                details: vec![],
            },
            obs,
            timing,
        ));
    }
    // A session ends with its last cell, and leaves its host's console.
    for (key, _, _) in &sessions {
        let host_dir = out.join("hosts").join(cell_dir_name(key));
        std::fs::create_dir_all(&host_dir).unwrap();
        std::fs::write(host_dir.join("console.log"), format!("host {key}\n")).unwrap();
    }
    let ends: Vec<(String, f64)> = out_results
        .iter()
        .filter_map(|r| {
            r.timing
                .session
                .as_ref()
                .map(|s| (s.key.clone(), r.timing.end))
        })
        .collect();
    for r in &mut out_results {
        if let Some(s) = &mut r.timing.session {
            s.end = ends
                .iter()
                .filter(|(k, _)| *k == s.key)
                .map(|(_, e)| *e)
                .fold(0.0, f64::max);
        }
    }
    out_results
}

/// The x86-64 machine the synthetic runs ran on.
pub fn crate_host() -> HostFacts {
    HostFacts {
        arch: "x86_64".into(),
        cpu: Some("AMD EPYC".into()),
        power_generation: None,
        platform: None,
        model: None,
        mmu: None,
        page_size: Some(bootmatrix::model::PageSize::K4),
        hugepage_size_kib: Some(2048),
        hugepages_total: 0,
        hugepages_free: 0,
        hugetlbfs: vec![],
        kvm: bootmatrix::host::KvmFacts {
            dev_kvm: bootmatrix::host::DevKvm::Usable,
            hv_loaded: false,
            pr_loaded: false,
            htm: None,
            pr_mmu_notifiers: None,
            hv_refused: Some(bootmatrix::host::KvmRefusal::NotPower),
            pr_refused: Some(bootmatrix::host::KvmRefusal::NotPower),
        },
        qemu: Some(bootmatrix::host::QemuFacts {
            path: "/usr/bin/qemu-system-ppc64".into(),
            version: (10, 0, 2),
            machines: vec!["pseries".into(), "powernv9".into()],
            accels: vec!["tcg".into()],
        }),
    }
}

/// A matrix file of the repository.
pub fn repo_matrix(name: &str) -> bootmatrix::matrix::Matrix {
    bootmatrix::matrix::load(&repo().join("matrices").join(format!("{name}.toml"))).unwrap()
}

/// A synthetic run of the repository's matrix `name` into `out`, written as
/// `bootmatrix run` writes it; returns its results.
pub fn write_run(
    name: &str,
    out: &Path,
    keep: &dyn Fn(&Cell) -> bool,
    change: Override,
    partition: Option<&str>,
) -> ResultsFile {
    let m = repo_matrix(name);
    let host = crate_host();
    let results = run_of(&m, keep, out, change);
    let file = ResultsFile::from_run(&results, &facts(&m, &host, out, partition));
    bootmatrix::report::write_all(out, &file, bootmatrix::report::JunitFlavor::Full).unwrap();
    file
}

/// Every cell.
pub fn all(_: &Cell) -> bool {
    true
}

/// No cell changed.
pub fn as_predicted(_: &Cell) -> Option<(Status, String)> {
    None
}
