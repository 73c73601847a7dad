//! Helpers shared by the integration tests: the built binary, matrices
//! written into temporary directories that use the repository's image
//! descriptions, and a check that no qemu outlived a test.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use bootmatrix::host::{DevKvm, HostFacts, KvmFacts, KvmRefusal, QemuFacts};
use std::process::{Command, Output};

/// The plan `bootmatrix run` would make of `selection` on a machine with
/// `facts`: the default qemu, timeouts as written, the machine's lanes and
/// no previous durations.
pub fn plan(selection: &bootmatrix::app::Selection, facts: &HostFacts) -> bootmatrix::plan::Plan {
    bootmatrix::app::make_plan(
        selection,
        facts,
        bootmatrix::qemu::DEFAULT_QEMU,
        1.0,
        &bootmatrix::app::Schedule::lanes(None),
    )
    .unwrap()
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `bootmatrix` binary built for this test run.
pub fn bootmatrix() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bootmatrix"));
    c.current_dir(repo());
    c
}

/// Runs `bootmatrix` with `args` and returns its output.
pub fn run(args: &[&str]) -> Output {
    bootmatrix().args(args).output().expect("bootmatrix runs")
}

/// The header every test matrix shares: Debian's 64K kernel and busybox.
pub const HEADER: &str = r#"
[defaults]
busybox = "debian-busybox"
timeout = 120

[kernels.debian-64k]
image = "debian-kernel-64k"
page_size = "64k"
"#;

/// The one cell of a matrix of [`HEADER`] and a `[[cells]]` table named
/// `name` booting Debian's 64 KiB kernel under TCG.
pub fn one_cell(name: &str) -> bootmatrix::model::Cell {
    let m = bootmatrix::matrix::parse(
        Path::new("m.toml"),
        &format!("{HEADER}\n[[cells]]\nname = \"{name}\"\nkernel = \"debian-64k\"\n"),
    )
    .unwrap();
    m.cells[0].clone()
}

/// The result of `cell` passing without an attempt on record (for report
/// tests that set what they check).
pub fn passed(cell: bootmatrix::model::Cell) -> bootmatrix::run::CellResult {
    use bootmatrix::verdict::{Status, Verdict};
    bootmatrix::run::CellResult {
        name: cell.name.clone(),
        prediction: bootmatrix::rules::predict(&x86_host(), &cell),
        expected: bootmatrix::model::Outcome::Boots {
            mmu: cell.guest.mmu,
            page_size: cell.guest.kernel.page_size,
        },
        dir: format!("/tmp/cells/{}", cell.name).into(),
        cell,
        verdict: Verdict {
            status: Status::Passed,
            summary: "booted".into(),
            details: vec![],
        },
        attempts: vec![],
        flaky: false,
        argv: vec![],
        seconds: 1.0,
        kernels: vec![],
        timing: Default::default(),
    }
}

/// The facts of a one-second run of `m.toml` on `host`, for report tests.
pub fn run_facts(host: &HostFacts) -> bootmatrix::report::RunFacts<'_> {
    bootmatrix::report::RunFacts {
        matrix: "m.toml".into(),
        matrix_sha256: "00".into(),
        suite: "m".into(),
        description: None,
        host,
        host_kernel: None,
        started_unix: 0,
        seconds: 1.0,
        interrupted: false,
        flaky_fails: false,
        selection: bootmatrix::report::results::Selection {
            filters: vec![],
            partition: None,
            cells: vec![],
        },
        image_sha256: Default::default(),
        out: "/tmp".into(),
    }
}

/// Writes `body` (after [`HEADER`]) as `dir/name.toml`.
pub fn matrix(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, format!("{HEADER}\n{body}")).unwrap();
    p
}

/// Arguments that make a run use the repository's images and a private
/// output directory.
pub fn run_args<'a>(matrix: &'a Path, out: &'a Path) -> Vec<String> {
    vec![
        "run".into(),
        matrix.display().to_string(),
        "--images".into(),
        repo().join("images").display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ]
}

/// Processes whose command line mentions `needle` (e.g. a test's private
/// output directory, which every qemu of that test has in its `-initrd`).
pub fn processes_mentioning(needle: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&raw).replace('\0', " ");
        if cmd.contains(needle) && cmd.contains("qemu") {
            // Zombies still have a /proc entry but no command line.
            found.push((pid, cmd));
        }
    }
    found
}

/// The JUnit file of a run, as text.
pub fn junit(out: &Path) -> String {
    std::fs::read_to_string(out.join("junit.xml")).expect("junit.xml written")
}

/// The `<testcase ...>...</testcase>` element of a cell.
pub fn testcase<'a>(junit: &'a str, cell: &str) -> &'a str {
    let start = junit
        .find(&format!("<testcase name=\"{cell}\""))
        .unwrap_or_else(|| panic!("no testcase {cell} in:\n{junit}"));
    let rest = &junit[start..];
    let end = rest
        .find("</testcase>")
        .map(|e| e + "</testcase>".len())
        .or_else(|| rest.find("/>").map(|e| e + 2))
        .unwrap();
    &rest[..end]
}

/// An x86-64 host without POWER KVM, as the probe would describe this kind of
/// machine.
pub fn x86_host() -> HostFacts {
    HostFacts {
        arch: "x86_64".into(),
        cpu: None,
        power_generation: None,
        platform: None,
        model: None,
        mmu: None,
        page_size: None,
        hugepage_size_kib: Some(2048),
        hugepages_total: 0,
        hugepages_free: 0,
        hugetlbfs: vec![],
        kvm: KvmFacts {
            dev_kvm: DevKvm::Missing,
            hv_loaded: false,
            pr_loaded: false,
            hv_refused: Some(KvmRefusal::NotPower),
            pr_refused: Some(KvmRefusal::NotPower),
            htm: None,
            pr_mmu_notifiers: None,
        },
        qemu: None,
    }
}

/// [`x86_host`] with qemu 10.0.2 and the machines emulated hosts need.
pub fn x86_host_with_qemu() -> HostFacts {
    HostFacts {
        qemu: Some(QemuFacts {
            path: "qemu-system-ppc64".into(),
            version: (10, 0, 2),
            machines: vec!["pseries".into(), "powernv9".into()],
            accels: vec!["tcg".into()],
        }),
        ..x86_host()
    }
}
