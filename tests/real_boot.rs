//! Real boots: Debian's ppc64le kernel under qemu-system-ppc64 (TCG), with
//! the harness's own busybox payload. The slow group of the suite: each test
//! boots real guests (seconds each) and checks what the guest itself
//! reported, what JUnit says, the exit status, and that no qemu is left.
//!
//! Cells other than the default matrix's use VOF firmware (`firmware =
//! "vof"`), about three times faster to reach the kernel than SLOF.

mod common;
#[path = "support/http.rs"]
#[allow(dead_code)]
mod http;
#[path = "support/xbps.rs"]
mod pack;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{junit, processes_mentioning, testcase};

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < until, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn no_qemu_left(out: &Path) {
    let left = processes_mentioning(&out.display().to_string());
    assert!(left.is_empty(), "qemu left behind: {left:?}");
}

fn spawn_run(matrix: &Path, out: &Path, extra: &[&str]) -> Child {
    common::bootmatrix()
        .args(common::run_args(matrix, out))
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn stderr_of(child: Child) -> (Option<i32>, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A `bootmatrix run` of a matrix written for one test, run to its end.
/// Bind `_dir` by name: dropping it deletes the matrix and the output.
struct Finished {
    /// Keeps the matrix and the output alive while the test reads them.
    _dir: tempfile::TempDir,
    out: std::path::PathBuf,
    code: Option<i32>,
    err: String,
}

/// Writes `body` (after the shared header) as a matrix and runs it.
fn run_to_end(name: &str, body: &str) -> Finished {
    run_to_end_with(name, body, &[])
}

/// [`run_to_end`] with more `bootmatrix run` arguments.
fn run_to_end_with(name: &str, body: &str, extra: &[&str]) -> Finished {
    let dir = tempfile::tempdir().unwrap();
    let m = common::matrix(dir.path(), name, body);
    let out = dir.path().join("out");
    let (code, err) = stderr_of(spawn_run(&m, &out, extra));
    Finished {
        _dir: dir,
        out,
        code,
        err,
    }
}

impl Finished {
    /// Asserts the run passed (exit 0), showing stderr and JUnit if not.
    fn assert_passed(&self) {
        assert_eq!(self.code, Some(0), "{}\n{}", self.err, junit(&self.out));
    }

    /// A cell's result.json (by its directory name under `cells/`).
    fn result(&self, cell_dir: &str) -> serde_json::Value {
        let path = self.out.join("cells").join(cell_dir).join("result.json");
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    /// The MMU the guest of a cell reported itself (`Radix`, `Hash`).
    fn reported_mmu(&self, cell_dir: &str) -> String {
        let r = self.result(cell_dir);
        r["attempts"][0]["observation"]["report"]["mmu_word"]
            .as_str()
            .unwrap_or_else(|| panic!("no report: {r}"))
            .to_string()
    }

    /// A cell's verdict.txt.
    fn verdict(&self, cell_dir: &str) -> String {
        std::fs::read_to_string(self.out.join("cells").join(cell_dir).join("verdict.txt")).unwrap()
    }
}

#[test]
fn the_default_matrix_boots_a_radix_and_an_hpt_guest_that_say_so_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let res = common::run(&["run", "--out", out.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!("JUnit: {}", out.join("junit.xml").display())),
        "{err}"
    );
    let xml = junit(&out);
    let radix = testcase(&xml, "tcg/radix-guest/64k");
    let hpt = testcase(&xml, "tcg/hpt-guest/64k");
    assert!(
        radix.contains(r#"<property name="guest-mmu" value="Radix"/>"#),
        "{radix}"
    );
    assert!(
        hpt.contains(r#"<property name="guest-mmu" value="Hash"/>"#),
        "{hpt}"
    );
    for t in [radix, hpt] {
        assert!(
            !t.contains("<failure") && !t.contains("<error") && !t.contains("<skipped"),
            "{t}"
        );
    }
    // Per-cell evidence: the console log, a runnable reproducer, the verdict.
    let cell = out.join("cells/tcg_hpt-guest_64k");
    let console = std::fs::read_to_string(cell.join("console.log")).unwrap();
    assert!(
        console.contains("BOOTMATRIX-REPORT") && console.contains("mmu=Hash"),
        "{console}"
    );
    let repro = std::fs::read_to_string(cell.join("repro.sh")).unwrap();
    assert!(
        repro.contains("disable_radix") && repro.contains("-machine pseries,accel=tcg"),
        "{repro}"
    );
    assert!(std::fs::read_to_string(cell.join("verdict.txt"))
        .unwrap()
        .starts_with("PASS tcg/hpt-guest/64k"));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["cells"].as_array().unwrap().len(), 2);
    assert!(std::fs::read_to_string(out.join("summary.md"))
        .unwrap()
        .contains("| `tcg/radix-guest/64k` |"));
    no_qemu_left(&out);
}

#[test]
fn a_guest_that_reports_another_mmu_than_expected_fails_showing_both() {
    let Finished { _dir, out, code, err } = run_to_end("wrong", "[[cells]]\nname = \"hpt-said-radix\"\nkernel = \"debian-64k\"\nfirmware = \"vof\"\nmmu = \"hpt\"\nexpect = \"boots\"\nexpect_mmu = \"radix\"\n");
    assert_eq!(code, Some(1), "{err}");
    let case = testcase(&junit(&out), "hpt-said-radix").to_string();
    assert!(case.contains("<failure"), "{case}");
    assert!(
        case.contains("MMU: guest reports `Hash`, cell expects `Radix`"),
        "{case}"
    );
    no_qemu_left(&out);
}

#[test]
fn a_documented_qemu_error_is_a_pass_when_the_cell_expects_it() {
    // qemu 9.2 removed pseries-2.x: the real qemu refuses at once.
    let Finished { _dir, out, code, err } = run_to_end("gone", "[[cells]]\nname = \"old-machine\"\nkernel = \"debian-64k\"\nmachine = \"pseries-2.11\"\nexpect = \"error:unsupported-machine\"\n");
    assert_eq!(code, Some(0), "{err}");
    let verdict = std::fs::read_to_string(out.join("cells/old-machine/verdict.txt")).unwrap();
    assert!(
        verdict.contains(
            "failed as documented: qemu-system-ppc64: unsupported machine type: \"pseries-2.11\""
        ),
        "{verdict}"
    );
    no_qemu_left(&out);
}

#[test]
fn kvm_cells_are_skipped_with_the_reason_on_a_host_without_power_kvm() {
    if std::env::consts::ARCH.starts_with("powerpc") {
        return; // On POWER the cell would run; this test is about x86 hosts.
    }
    let Finished { _dir, out, code, err } = run_to_end("kvm", "[[cells]]\nname = \"{accel}/{mmu}\"\nkernel = \"debian-64k\"\naccel = [\"kvm-hv\", \"kvm-pr\"]\nmmu = \"hpt\"\n");
    assert_eq!(code, Some(0), "skips are not failures: {err}");
    let xml = junit(&out);
    for cell in ["kvm-hv/hpt", "kvm-pr/hpt"] {
        let case = testcase(&xml, cell);
        assert!(
            case.contains("<skipped message=\"") && case.contains("x86_64"),
            "{case}"
        );
    }
    assert!(err.contains("0 passed, 0 failed, 2 skipped"), "{err}");
}

#[test]
fn a_timeout_too_short_to_boot_fails_the_cell_and_leaves_no_qemu() {
    let Finished {
        _dir,
        out,
        code,
        err,
    } = run_to_end(
        "short",
        "[[cells]]\nname = \"hurried\"\nkernel = \"debian-64k\"\ntimeout = 1\n",
    );
    assert_eq!(code, Some(1), "{err}");
    let case = testcase(&junit(&out), "hurried").to_string();
    assert!(
        case.contains("timed out after 1 s without the marker"),
        "{case}"
    );
    no_qemu_left(&out);
}

#[test]
fn a_qemu_killed_mid_boot_fails_its_cell_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let m = common::matrix(
        dir.path(),
        "victim",
        "[[cells]]\nname = \"victim\"\nkernel = \"debian-64k\"\n",
    );
    let out = dir.path().join("out");
    let child = spawn_run(&m, &out, &[]);
    let needle = out.display().to_string();
    let mut pid = 0;
    wait_until("qemu to start", Duration::from_secs(120), || {
        pid = processes_mentioning(&needle).first().map_or(0, |p| p.0);
        pid != 0
    });
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    let (code, err) = stderr_of(child);
    assert_eq!(code, Some(1), "{err}");
    let case = testcase(&junit(&out), "victim").to_string();
    assert!(
        case.contains("qemu exited (status 137) before the marker"),
        "{case}"
    );
    no_qemu_left(&out);
}

#[test]
fn sigint_with_two_cells_in_flight_stops_every_qemu_and_still_reports() {
    let dir = tempfile::tempdir().unwrap();
    let m = common::matrix(
        dir.path(),
        "two",
        "[[cells]]\nname = \"{mmu}\"\nkernel = \"debian-64k\"\nmmu = [\"radix\", \"hpt\"]\n",
    );
    let out = dir.path().join("out");
    let child = spawn_run(&m, &out, &["--jobs", "2"]);
    let needle = out.display().to_string();
    wait_until("two qemus", Duration::from_secs(120), || {
        processes_mentioning(&needle).len() == 2
    });
    let sent = Instant::now();
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    // Every qemu must be gone promptly (the brief's bound is 2 s; allow for
    // a loaded CI machine when checking, the figure is in BENCHMARKS.md).
    wait_until("every qemu to go", Duration::from_secs(10), || {
        processes_mentioning(&needle).is_empty()
    });
    let gone_after = sent.elapsed();
    let (code, err) = stderr_of(child);
    assert_eq!(code, Some(130), "{err}");
    let xml = junit(&out);
    for cell in ["radix", "hpt"] {
        let case = testcase(&xml, cell);
        assert!(case.contains("type=\"interrupted\""), "{case}");
    }
    eprintln!("qemus gone {gone_after:?} after SIGINT");
}

#[test]
fn bisect_run_speaks_git_bisect() {
    let dir = tempfile::tempdir().unwrap();
    let m = common::matrix(
        dir.path(),
        "bisect",
        r#"[[cells]]
name = "good"
kernel = "debian-64k"
firmware = "vof"
mmu = "radix"

[[cells]]
name = "bad"
kernel = "debian-64k"
firmware = "vof"
mmu = "radix"
expect = "boots"
expect_mmu = "hpt"

[[cells]]
name = "needs-kvm"
kernel = "debian-64k"
accel = "kvm-hv"
"#,
    );
    let images = common::repo().join("images");
    let bisect = |cell: &str, extra: &[&str]| {
        let out = dir.path().join(format!("out-{cell}"));
        let mut args = vec![
            "bisect-run",
            m.to_str().unwrap(),
            cell,
            "--images",
            images.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let r = common::run(&args);
        (
            r.status.code(),
            String::from_utf8_lossy(&r.stderr).into_owned(),
        )
    };
    let (code, err) = bisect("good", &[]);
    assert_eq!(code, Some(0), "good: {err}");
    let (code, err) = bisect("bad", &[]);
    assert_eq!(code, Some(1), "bad: {err}");
    if !std::env::consts::ARCH.starts_with("powerpc") {
        let (code, err) = bisect("needs-kvm", &[]);
        assert_eq!(code, Some(125), "skip: {err}");
    }
    // A kernel under test that does not exist is bad input: abort the bisect.
    let (code, err) = bisect("good", &["--kernel", "/nonexistent/vmlinux"]);
    assert_eq!(code, Some(128), "{err}");
    let (code, err) = bisect("no-such-cell", &[]);
    assert_eq!(code, Some(128), "{err}");
}

/// Kernels for emulated hosts: Debian's 64 KiB kernel, and bookworm-backports'
/// 4 KiB kernel (6.12, KVM-HV as a module), like Void's page size.
const HOST_KERNELS: &str = r#"
[kernels.debian-4k]
image = "debian-kernel-4k"
page_size = "4k"
"#;

/// The console log of the first emulated host of a run (empty until there
/// is one).
fn host_console(out: &Path) -> String {
    std::fs::read_dir(out.join("hosts"))
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| std::fs::read_to_string(e.ok()?.path().join("console.log")).ok())
        .unwrap_or_default()
}

/// The first session's record in a run's results.json.
fn session_record(out: &Path) -> serde_json::Value {
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    results["sessions"][0].clone()
}

#[test]
fn an_emulated_powernv9_host_runs_bootmatrix_which_boots_refuses_and_skips_by_its_own_probe() {
    // A 4 KiB Radix host (Void's default on POWER9) booting Debian's stock
    // 4 KiB kernel. The bootmatrix inside decides every cell from its
    // probe: without the fix qemu there refuses with the documented
    // message; with cap-hpt-max-page-size=4096 the Radix guest boots under
    // KVM-HV; the hugepage-backed cell is skipped because that host has no
    // hugetlbfs (a stock kernel disables HugeTLB on qemu's Radix powernv,
    // docs/emulated-hosts.md). One boot of the host runs them all.
    let dir = tempfile::tempdir().unwrap();
    let m = common::matrix(
        dir.path(),
        "powernv",
        &format!(
            "{HOST_KERNELS}
[[cells]]
name = \"powernv9-radix-4k/{{fixes}}\"
host = \"powernv9\"
host_kernel = \"debian-4k\"
host_mmu = \"radix\"
accel = \"kvm-hv\"
kernel = \"debian-64k\"
mmu = \"radix\"
memory = 1024
timeout = 240
fixes = [[], [\"hpt-max-page-size\"], [\"hpt-max-page-size\", \"hugepages\"]]
"
        ),
    );
    let out = dir.path().join("out");
    let (code, err) = stderr_of(spawn_run(&m, &out, &[]));
    let xml = junit(&out);
    assert_eq!(code, Some(0), "{err}\n{xml}");
    let refused =
        std::fs::read_to_string(out.join("cells/powernv9-radix-4k_no-fix/verdict.txt")).unwrap();
    assert!(
        refused.contains("failed as documented: qemu-system-ppc64: Can't support 64 kiB guest pages with 4 kiB host pages with this KVM implementation"),
        "{refused}"
    );
    let booted: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("cells/powernv9-radix-4k_hpt-max-page-size/result.json"))
            .unwrap(),
    )
    .unwrap();
    let report = &booted["attempts"][0]["observation"]["report"];
    assert_eq!(report["mmu_word"], "Radix", "{booted}");
    // The guest's device tree says it ran under KVM, not TCG.
    assert!(
        report["hypervisor"].as_str().unwrap().contains("linux,kvm"),
        "{report}"
    );
    // Its console came back whole, and its reproducer boots the host and
    // names the command the run inside chose.
    let console =
        std::fs::read_to_string(out.join("cells/powernv9-radix-4k_hpt-max-page-size/console.log"))
            .unwrap();
    assert!(console.contains("BOOTMATRIX-DONE"), "{console}");
    let repro =
        std::fs::read_to_string(out.join("cells/powernv9-radix-4k_hpt-max-page-size/repro.sh"))
            .unwrap();
    assert!(
        repro.contains("powernv9") && repro.contains("cap-hpt-max-page-size=4096"),
        "{repro}"
    );
    // Skipped inside, from the probe, with the reason.
    let case = testcase(&xml, "powernv9-radix-4k/hpt-max-page-size+hugepages");
    assert!(case.contains("<skipped"), "{case}");
    assert!(case.contains("no writable hugetlbfs mount"), "{case}");
    // What the probe inside found, as `bootmatrix host --format json` prints
    // it there: the host the plan booted.
    let probed = &session_record(&out)["probed"]["facts"];
    assert_eq!(probed["arch"], "ppc64le", "{probed}");
    assert_eq!(probed["platform"], "PowerNV", "{probed}");
    assert_eq!(probed["mmu"], "radix", "{probed}");
    assert_eq!(probed["page_size"], "4k", "{probed}");
    assert_eq!(probed["kvm"]["dev_kvm"], "usable", "{probed}");
    assert_eq!(probed["kvm"]["hv_loaded"], true, "{probed}");
    assert_eq!(probed["kvm"]["pr_loaded"], false, "{probed}");
    // The CPU exactly as /proc/cpuinfo shows it there (the host's init
    // prints that line on its console).
    let host_log = host_console(&out);
    let cpu_line = host_log
        .lines()
        .find_map(|l| l.strip_prefix("BOOTMATRIX-L1: cpu"))
        .unwrap_or_else(|| panic!("{host_log}"));
    let cpu = cpu_line.trim_start().trim_start_matches(':').trim();
    assert_eq!(probed["cpu"], cpu, "{probed}");
    assert!(cpu.starts_with("POWER9"), "{cpu}");
    no_qemu_left(&out);
}

#[test]
fn sigint_during_a_host_session_boots_no_further_host() {
    // Two emulated hosts on one lane: SIGINT while the first boots. Its
    // qemu goes, and the second host is never started.
    let cell = |mmu: &str| {
        format!(
            "[[cells]]\nname = \"{mmu}-host\"\nhost = \"powernv9\"\nhost_kernel = \"debian-4k\"\n\
             host_mmu = \"{mmu}\"\naccel = \"kvm-hv\"\nkernel = \"debian-64k\"\nmmu = \"radix\"\n\
             fixes = [\"hpt-max-page-size\"]\nmemory = 1024\ntimeout = 240\n"
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let m = common::matrix(
        dir.path(),
        "hosts",
        &format!("{HOST_KERNELS}\n{}\n{}", cell("radix"), cell("hpt")),
    );
    let out = dir.path().join("out");
    let child = spawn_run(&m, &out, &["--jobs", "1"]);
    let needle = out.display().to_string();
    wait_until("the first host's qemu", Duration::from_secs(600), || {
        !processes_mentioning(&needle).is_empty()
    });
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    wait_until("every qemu to go", Duration::from_secs(10), || {
        processes_mentioning(&needle).is_empty()
    });
    let (code, err) = stderr_of(child);
    assert_eq!(code, Some(130), "{err}");
    let booted: Vec<String> = std::fs::read_dir(out.join("hosts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(booted.len(), 1, "one host booted, not both: {booted:?}");
    let xml = junit(&out);
    for cell in ["radix-host", "hpt-host"] {
        let case = testcase(&xml, cell);
        assert!(case.contains("type=\"interrupted\""), "{case}");
    }
    no_qemu_left(&out);
}

#[test]
fn an_emulated_host_killed_mid_session_leaves_its_cells_as_infrastructure_errors() {
    let dir = tempfile::tempdir().unwrap();
    let m = common::matrix(
        dir.path(),
        "killed",
        &format!(
            "{HOST_KERNELS}
[[cells]]
name = \"doomed/{{fixes}}\"
host = \"powernv9\"
host_kernel = \"debian-4k\"
host_mmu = \"radix\"
accel = \"kvm-hv\"
kernel = \"debian-64k\"
mmu = \"radix\"
memory = 1024
timeout = 240
fixes = [[\"hpt-max-page-size\"], [\"hpt-max-page-size\", \"nested-hv\"]]
"
        ),
    );
    let out = dir.path().join("out");
    let child = spawn_run(&m, &out, &[]);
    // Once the run inside has started its first guest, the host dies.
    wait_until(
        "the first guest to start inside",
        Duration::from_secs(600),
        || host_console(&out).contains("\"message\":\"started\""),
    );
    let needle = out.display().to_string();
    let level0: Vec<u32> = processes_mentioning(&needle)
        .into_iter()
        .filter(|(_, cmd)| cmd.contains("powernv9"))
        .map(|(pid, _)| pid)
        .collect();
    assert_eq!(level0.len(), 1, "{level0:?}");
    std::process::Command::new("kill")
        .args(["-9", &level0[0].to_string()])
        .status()
        .unwrap();
    let (code, err) = stderr_of(child);
    assert_eq!(code, Some(3), "{err}");
    let xml = junit(&out);
    for cell in [
        "doomed/hpt-max-page-size",
        "doomed/hpt-max-page-size+nested-hv",
    ] {
        let case = testcase(&xml, cell);
        assert!(
            case.contains("<error") && case.contains("no verdict came back from the emulated host"),
            "{case}"
        );
        // With the host's own last words.
        assert!(case.contains("its last lines:"), "{case}");
    }
    no_qemu_left(&out);
}

#[test]
fn a_nested_pseries_l1_boots_a_radix_l2_under_nested_kvm_hv() {
    let dir = tempfile::tempdir().unwrap();
    let m = common::matrix(
        dir.path(),
        "nested",
        "[[cells]]
name = \"nested/radix-l2\"
host = \"nested-pseries\"
host_kernel = \"debian-64k\"
host_mmu = \"radix\"
accel = \"kvm-hv\"
kernel = \"debian-64k\"
mmu = \"radix\"
memory = 1024
timeout = 240
",
    );
    let out = dir.path().join("out");
    let (code, err) = stderr_of(spawn_run(&m, &out, &[]));
    let xml = junit(&out);
    assert_eq!(code, Some(0), "{err}\n{xml}");
    let case = testcase(&xml, "nested/radix-l2");
    assert!(
        case.contains(r#"<property name="guest-mmu" value="Radix"/>"#),
        "{case}"
    );
    let result = std::fs::read_to_string(out.join("cells/nested_radix-l2/result.json")).unwrap();
    assert!(
        result.contains("linux,kvm"),
        "the L2 must run under KVM: {result}"
    );
    // The bootmatrix inside the L1 probed a pSeries guest with KVM-HV.
    let probed = &session_record(&out)["probed"]["facts"];
    assert_eq!(probed["platform"], "pSeries", "{probed}");
    assert_eq!(probed["mmu"], "radix", "{probed}");
    assert_eq!(probed["kvm"]["dev_kvm"], "usable", "{probed}");
    assert_eq!(probed["kvm"]["hv_loaded"], true, "{probed}");
    // The reproducer boots the L1 (level 0) and names the inner command.
    let repro = std::fs::read_to_string(out.join("cells/nested_radix-l2/repro.sh")).unwrap();
    assert!(
        repro.contains("cap-nested-hv=on") && repro.contains("kvm-type=HV"),
        "{repro}"
    );
    no_qemu_left(&out);
}

/// The 64 KiB host kernel the harness builds (KVM-HV and KVM-PR built in,
/// patched for hugepages on powernv9; images/kernel-host-64k.toml).
const HARNESS_HOST_KERNEL: &str = r#"
[kernels.host-64k]
image = "kernel-host-64k"
page_size = "64k"
kvm_pr = true
emulated_hugepages = true
"#;

#[test]
fn a_host_kernel_the_harness_builds_runs_an_hpt_guest_under_kvm_pr() {
    // Debian's kernels have no KVM-PR: the harness cross-builds one from
    // Debian's kernel source, images/kernel-host-64k.config and the patches
    // (once per machine, cached), boots it as an HPT powernv9 host, and runs
    // the guest under KVM-PR with the caps PR cannot provide turned off.
    let run = run_to_end(
        "pr",
        &format!(
            "{HARNESS_HOST_KERNEL}
[[cells]]
name = \"powernv9-hpt-64k/kvm-pr\"
host = \"powernv9\"
host_kernel = \"host-64k\"
host_mmu = \"hpt\"
accel = \"kvm-pr\"
kernel = \"debian-64k\"
mmu = \"hpt\"
memory = 1024
timeout = 300
fixes = [\"pr-caps\"]
"
        ),
    );
    run.assert_passed();
    assert_eq!(run.reported_mmu("powernv9-hpt-64k_kvm-pr"), "Hash");
    let argv = run.result("powernv9-hpt-64k_kvm-pr")["argv"].to_string();
    assert!(
        argv.contains("kvm-type=PR") && argv.contains("cap-fwnmi=off"),
        "{argv}"
    );
    no_qemu_left(&run.out);
}

#[test]
fn a_patched_radix_host_backs_its_guest_with_hugepages() {
    // QEMU's powernv9 lists no Radix page sizes, so a stock host kernel has
    // no HugeTLB; the harness's patched one assumes 2M and 1G as real POWER9
    // firmware lists them. The L1 reserves 2M pages and qemu inside it backs
    // the guest with them (`-mem-path`): on a stock kernel the hugetlbfs
    // mount fails and qemu refuses the path.
    let run = run_to_end(
        "huge",
        &format!(
            "{HARNESS_HOST_KERNEL}
[[cells]]
name = \"powernv9-radix-64k/hugepages\"
host = \"powernv9\"
host_kernel = \"host-64k\"
host_mmu = \"radix\"
accel = \"kvm-hv\"
kernel = \"debian-64k\"
mmu = \"radix\"
memory = 1024
timeout = 240
fixes = [\"hugepages\"]
"
        ),
    );
    run.assert_passed();
    assert_eq!(run.reported_mmu("powernv9-radix-64k_hugepages"), "Radix");
    assert!(run.result("powernv9-radix-64k_hugepages")["argv"]
        .to_string()
        .contains("/dev/hugepages"));
    // The probe inside saw the pool the host reserved at boot.
    let probed = &session_record(&run.out)["probed"]["facts"];
    assert_eq!(probed["hugepage_size_kib"], 2048, "{probed}");
    let pages = probed["hugepages_total"].as_u64().unwrap();
    assert!(pages * 2 >= 1024, "{probed}: the 2M pool holds the guest");
    no_qemu_left(&run.out);
}

#[test]
fn pseries_2_11_runs_under_qemu_7_2_inside_the_emulated_host() {
    // qemu 10 has no pseries-2.x. With `old_machine_qemu` the emulated host
    // carries Debian bookworm's qemu 7.2 for those cells: it turns HTM on,
    // which KVM on an emulated POWER9 cannot offer (the documented error),
    // and cap-htm=off boots the guest.
    let run = run_to_end_with(
        "old-machine",
        &format!(
            "{HARNESS_HOST_KERNEL}
[emulation]
kernel_64k = \"host-64k\"
old_machine_qemu = {{ release = \"bookworm\", version = \"7.2\" }}

[[cells]]
name = \"pseries-2.11/{{fixes}}\"
host_mmu = \"radix\"
host_page_size = \"64k\"
accel = \"kvm-hv\"
machine = \"pseries-2.11\"
kernel = \"debian-64k\"
mmu = \"radix\"
memory = 1024
timeout = 240
fixes = [[], [\"htm-off\"]]
"
        ),
        &["--hosts", "emulated"],
    );
    run.assert_passed();
    let refused = run.verdict("pseries-2.11_no-fix");
    assert!(
        refused.contains("KVM implementation does not support Transactional Memory"),
        "{refused}"
    );
    assert_eq!(run.reported_mmu("pseries-2.11_htm-off"), "Radix");
    let hosts: Vec<String> = std::fs::read_dir(run.out.join("hosts"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(hosts.iter().any(|h| h.ends_with("-qemu7.2")), "{hosts:?}");
    no_qemu_left(&run.out);
}

/// A cell whose guest init writes `lines` into its kernel log at `level`
/// (the payload's `bootmatrix.kmsg=` fault injection), so that the guest
/// kernel prints them as its own messages.
fn injecting(name: &str, level: u8, lines: &[&str]) -> String {
    let words: Vec<String> = lines
        .iter()
        .map(|l| format!("'bootmatrix.kmsg=\"{level}:{l}\"'"))
        .collect();
    format!("[[cells]]\nname = \"{name}\"\nkernel = \"debian-64k\"\nfirmware = \"vof\"\nappend = [{}]\n", words.join(", "))
}

/// powerpc's report of a NULL dereference in a driver's probe.
const INJECTED_OOPS: &[&str] = &[
    "BUG: Kernel NULL pointer dereference on read at 0x00000010",
    "Faulting instruction address: 0xc0000000008a1b2c",
    "Oops: Kernel access of bad area, sig: 11 [#1]",
    "NIP [c0000000008a1b2c] bootmatrix_probe+0x9c/0x7a0",
    "---[ end trace 0000000000000000 ]---",
];

/// A WARN() splat, printed at warning priority (which `quiet` keeps off
/// the console: the guest's init prints it).
const INJECTED_WARNING: &[&str] = &[
    "------------[ cut here ]------------",
    "WARNING: CPU: 0 PID: 1 at drivers/misc/bootmatrix.c:42 bootmatrix_probe+0x1c/0x40",
    "Call Trace:",
    "[c000000002a0fb30] [c000000000123456] bootmatrix_probe+0x1c/0x40 (unreliable)",
    "---[ end trace 0000000000000000 ]---",
];

#[test]
fn a_guest_that_oopses_and_then_reaches_its_marker_fails() {
    // At alert priority the guest kernel prints the lines on its console
    // itself, and the guest's report lists them too: one finding, not six.
    let run = run_to_end("oops", &injecting("oops", 1, INJECTED_OOPS));
    assert_eq!(run.code, Some(1), "{}\n{}", run.err, junit(&run.out));
    let xml = junit(&run.out);
    let case = testcase(&xml, "oops");
    assert!(case.contains("<failure message=\"the guest kernel reported a fatal BUG: BUG: Kernel NULL pointer dereference on read at 0x00000010\""), "{case}");
    assert!(
        case.contains(r#"<property name="health-fatal" value="1"/>"#),
        "{case}"
    );
    assert!(
        !case.contains("kernel message at alert"),
        "the report's copies are folded into the finding: {case}"
    );
    let verdict = run.verdict("oops");
    assert!(
        verdict.contains("the guest reached its marker afterwards"),
        "{verdict}"
    );
    assert!(
        verdict.contains("Oops: Kernel access of bad area, sig: 11 [#1]"),
        "{verdict}"
    );
    no_qemu_left(&run.out);
}

#[test]
fn a_kernel_warning_is_reported_and_fails_the_cell_under_warnings_fail() {
    let cell = injecting("warn", 4, INJECTED_WARNING);
    let reported = run_to_end("warn", &cell);
    reported.assert_passed();
    let xml = junit(&reported.out);
    let case = testcase(&xml, "warn");
    assert!(
        case.contains(r#"<property name="health-warnings" value="1"/>"#),
        "the WARNING alone: {case}"
    );
    // VOF leaves NVRAM blank; the harness gives the guest a formatted one,
    // so its kernel has no partition to complain about.
    assert!(!case.contains("nvram"), "{case}");
    assert!(case.contains("[warning] WARNING: CPU: 0 PID: 1 at drivers/misc/bootmatrix.c:42 bootmatrix_probe+0x1c/0x40"), "{case}");
    let summary = std::fs::read_to_string(reported.out.join("summary.md")).unwrap();
    assert!(
        summary.contains("## Kernel health") && summary.contains("drivers/misc/bootmatrix.c:42"),
        "{summary}"
    );

    let failed = run_to_end_with("warn", &cell, &["--warnings", "fail"]);
    assert_eq!(failed.code, Some(1), "{}", failed.err);
    let verdict = failed.verdict("warn");
    assert!(
        verdict.starts_with("FAIL warn\nthe guest's kernel warned, and --warnings fail is set: WARNING: CPU: 0 PID: 1 at drivers/misc/bootmatrix.c:42"),
        "{verdict}"
    );
    no_qemu_left(&failed.out);
}

#[test]
fn a_suppressed_kernel_warning_passes_under_warnings_fail_and_unused_suppressions_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let noise = dir.path().join("noise.txt");
    std::fs::write(
        &noise,
        "bootmatrix\\.c:42   # the injected warning\n\n# a warning this kernel no longer prints\n^WARNING: CPU: \\d+ PID: \\d+ at fs/gone\\.c\n",
    )
    .unwrap();
    let run = run_to_end_with(
        "quiet",
        &injecting("warn", 4, INJECTED_WARNING),
        &[
            "--warnings",
            "fail",
            "--suppressions",
            noise.to_str().unwrap(),
        ],
    );
    run.assert_passed();
    let case = testcase(&junit(&run.out), "warn").to_string();
    assert!(
        case.contains(r#"<property name="health-warnings" value="0"/>"#)
            && case.contains(r#"<property name="health-suppressed" value="1"/>"#),
        "{case}"
    );
    let unused = format!("{}:4: ^WARNING: CPU: \\d+ PID: \\d+ at fs/gone\\.c (a warning this kernel no longer prints)", noise.display());
    assert!(
        run.err.contains(&format!(
            "suppression matched nothing in this run (remove it if the noise is gone): {unused}"
        )),
        "{}",
        run.err
    );
    let summary = std::fs::read_to_string(run.out.join("summary.md")).unwrap();
    assert!(
        summary.contains("## Suppressions that matched nothing") && summary.contains(&unused),
        "{summary}"
    );
    assert!(
        !run.err.contains(&format!("{}:1:", noise.display())),
        "the used ones are not listed: {}",
        run.err
    );
    no_qemu_left(&run.out);
}

/// Chromium, for the tests that render report.html in a real browser.
fn chromium() -> std::path::PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.is_file())
        .expect("chromium is not on PATH: install Debian's with `bash ci/setup-debian.sh --test-tools` (apt-get install chromium)")
}

/// The DOM of `page` as headless Chromium renders it: no GPU, no network
/// features, a profile of its own.
fn rendered_dom(page: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("timeout")
        .arg("120")
        .arg(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && dom.contains("</html>"),
        "chromium failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    dom
}

/// The values of every `attr="..."` in `dom`, unescaped.
fn attribute_values(dom: &str, attr: &str) -> Vec<String> {
    let re = regex::Regex::new(&format!(r#"\s{attr}="([^"]*)""#)).unwrap();
    re.captures_iter(dom)
        .map(|c| {
            c[1].replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .collect()
}

#[test]
fn report_html_of_a_real_run_shows_every_cell_with_its_verdict_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let res = common::run(&["run", "--out", out.to_str().unwrap()]);
    assert_eq!(
        res.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let cells = results["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2);
    let dom = rendered_dom(&out.join("report.html"));
    for c in cells {
        let (name, status) = (c["name"].as_str().unwrap(), c["status"].as_str().unwrap());
        assert_eq!(status, "passed");
        // The grid's tile: its verdict's colour and badge, and what the guest said.
        let tile = "<article class=\"tile v-booted\" id=\"cell-";
        let at = dom
            .find(&format!("data-cell=\"{name}\" data-status=\"{status}\""))
            .unwrap_or_else(|| panic!("{name} is not in the rendered grid"));
        let start = dom[..at].rfind("<article").unwrap();
        let tile_html = &dom[start..at + dom[at..].find("</article>").unwrap()];
        assert!(tile_html.starts_with(tile), "{tile_html}");
        assert!(
            tile_html.contains("<span class=\"badge\">boots</span>"),
            "{tile_html}"
        );
        let mmu = c["guest_mmu"].as_str().unwrap();
        assert!(
            tile_html.contains(&format!(
                "{mmu} · 64k · {}",
                c["guest_kernel"].as_str().unwrap()
            )),
            "{tile_html}"
        );
        for log in ["console.log", "qemu-stderr.log", "repro.sh"] {
            assert!(
                tile_html.contains(&format!("/{log}\"")),
                "{name}: no link to {log}: {tile_html}"
            );
        }
        // The list row and the timeline bar.
        assert!(
            dom.contains(&format!("data-cell=\"{name}\"><td><code>{name}</code>")),
            "{name} is not in the list"
        );
    }
    assert_eq!(dom.matches("<article class=\"tile").count(), 2);
    assert_eq!(
        dom.matches("class=\"bar v-booted\"").count(),
        2,
        "a timeline bar per cell"
    );
    // Every link works: files exist beside the page, anchors exist in it.
    let hrefs = attribute_values(&dom, "href");
    assert!(hrefs.len() >= 6 + 4, "{hrefs:?}");
    let ids: Vec<String> = attribute_values(&dom, "id");
    for href in hrefs {
        match href.strip_prefix('#') {
            Some(id) => assert!(
                ids.iter().any(|i| i == id),
                "link to #{id}, which the page lacks"
            ),
            None => assert!(
                out.join(&href).is_file(),
                "link to {href}, which is not in {}",
                out.display()
            ),
        }
    }
    no_qemu_left(&out);
}

/// Two TCG cells (VOF: seconds each) and eight KVM cells that an x86
/// machine skips with the reason: shards of it are quick.
const SHARDED: &str = "[[cells]]
name = \"{accel}/{mmu}-guest\"
kernel = \"debian-64k\"
firmware = \"vof\"
mmu = [\"radix\", \"hpt\"]

[[cells]]
name = \"{accel}/{mmu}/{fixes}\"
kernel = \"debian-64k\"
accel = [\"kvm-hv\", \"kvm-pr\"]
mmu = [\"radix\", \"hpt\"]
fixes = [[], [\"hpt-max-page-size\"]]
";

/// `bootmatrix merge ARGS...`: its exit status and stderr.
fn merge_cli(args: &[&Path]) -> (Option<i32>, String) {
    let res = common::bootmatrix()
        .arg("merge")
        .args(args)
        .output()
        .unwrap();
    (
        res.status.code(),
        String::from_utf8_lossy(&res.stderr).into_owned(),
    )
}

fn cells_of(out: &Path) -> Vec<(String, String)> {
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    r["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn two_shards_merged_equal_one_run_and_another_matrix_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = common::matrix(dir.path(), "sharded", SHARDED);
    let run = |out: &Path, extra: &[&str]| {
        let (code, err) = stderr_of(spawn_run(&m, out, &[&["--jobs", "2"], extra].concat()));
        assert_eq!(code, Some(0), "{err}");
    };
    let (whole, one, two) = (
        dir.path().join("whole"),
        dir.path().join("one"),
        dir.path().join("two"),
    );
    run(&whole, &[]);
    run(&one, &["--partition", "hash:1/2"]);
    run(&two, &["--partition", "hash:2/2"]);
    let (a, b) = (cells_of(&one), cells_of(&two));
    assert!(
        !a.is_empty() && !b.is_empty() && a.len() + b.len() == 10,
        "{a:?} {b:?}"
    );

    let merged = dir.path().join("merged");
    let (code, err) = merge_cli(&[Path::new("--out"), &merged, &one, &two]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("merged 2 runs: 2 passed, 0 failed, 8 skipped")
            || std::env::consts::ARCH.starts_with("powerpc"),
        "{err}"
    );
    assert_eq!(
        cells_of(&merged),
        cells_of(&whole),
        "the same cells, verdicts and order as one run"
    );
    let page = std::fs::read_to_string(merged.join("report.html")).unwrap();
    for (name, status) in cells_of(&whole) {
        assert!(
            page.contains(&format!("data-cell=\"{name}\" data-status=\"{status}\"")),
            "{name}"
        );
    }
    for (name, _) in a.iter().chain(&b) {
        let cell_dir = merged
            .join("cells")
            .join(bootmatrix::run::cell_dir_name(name));
        assert!(
            cell_dir.join("verdict.txt").is_file(),
            "{name}'s directory was not carried over"
        );
    }

    // One shard alone: the other's cells are missing, and said so.
    let (code, err) = merge_cli(&[Path::new("--out"), &merged, &one]);
    assert_eq!(code, Some(0), "{err}");
    let missing: Vec<&str> = b.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        err.contains(&format!(
            "{} cells of the matrix are in no run: {}",
            b.len(),
            missing.join(", ")
        )),
        "{err}"
    );

    // A run of another matrix does not merge.
    let other_matrix = common::matrix(
        dir.path(),
        "other",
        "[[cells]]\nname = \"kvm\"\nkernel = \"debian-64k\"\naccel = \"kvm-hv\"\n",
    );
    let other = dir.path().join("other-out");
    stderr_of(spawn_run(&other_matrix, &other, &[]));
    let (code, err) = merge_cli(&[Path::new("--out"), &dir.path().join("never"), &one, &other]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("only runs of the same matrix file merge"),
        "{err}"
    );
    no_qemu_left(dir.path());
}

/// Debian's 64 KiB kernel packaged as Void's `linux6.1` (`pkgver`
/// `linux6.1-6.1.99_1`), with its KVM modules as `.ko.zst`, in a
/// repository signed with a key made for the test and served from
/// loopback.
struct VoidRepo {
    /// Keeps the key files alive.
    _dir: tempfile::TempDir,
    server: http::Server,
    /// The repository's public key (PEM).
    key: std::path::PathBuf,
    pkg: pack::Pkg,
    /// The packaged kernel's release (its banner's) and SHA-256.
    release: String,
    sha256: String,
}

impl VoidRepo {
    /// Builds the package around the cached Debian kernel (fetched through
    /// apt when missing) and its modules, and serves the repository.
    fn new() -> VoidRepo {
        use bootmatrix::images;
        let (store, spec) = pack::debian_kernel_64k();
        let image = store
            .get(&spec)
            .unwrap_or_else(|e| panic!("Debian's kernel: {e}"));
        let modules = images::kvm_modules(&store, &spec).unwrap();
        assert!(
            modules.iter().any(|(n, _)| n == "kvm-hv.ko"),
            "Debian's KVM-HV is a module: {:?}",
            modules.iter().map(|m| &m.0).collect::<Vec<_>>()
        );
        let release = image.release.clone().expect("Debian's kernel has a banner");
        let vmlinux = std::fs::read(&image.path).unwrap();
        let pkg = pack::kernel_package("6.1.99_1", &release, &vmlinux, &modules);
        let dir = tempfile::tempdir().unwrap();
        let signer = pack::Signer::new(dir.path(), "repo");
        let server = http::Server::start();
        pack::serve_repository(
            |p, b| server.serve(p, b),
            &[&pkg],
            Some(&signer),
            Some(&signer.pem()),
        );
        VoidRepo {
            key: signer.public.clone(),
            _dir: dir,
            server,
            pkg,
            release,
            sha256: image.sha256,
        }
    }

    /// `--kernel NAME=xbps:http://127.0.0.1:PORT/current#linux6.1,key=PEM`.
    fn flag(&self, name: &str) -> String {
        format!(
            "{name}=xbps:{}#{},key={}",
            self.server.url("/current"),
            self.pkg.pkgname,
            self.key.display()
        )
    }

    /// Asserts `kernel` (an entry of a cell's `kernels` in results.json)
    /// is this package's kernel, used as `role` in place of `name`.
    fn assert_recorded(&self, kernel: &serde_json::Value, role: &str, name: &str) {
        assert_eq!(kernel["role"], role, "{kernel}");
        assert_eq!(kernel["name"], name, "{kernel}");
        assert_eq!(
            kernel["image"],
            bootmatrix::under_test::image_name(name),
            "{kernel}"
        );
        assert_eq!(kernel["release"], self.release.as_str(), "{kernel}");
        assert_eq!(kernel["sha256"], self.sha256.as_str(), "{kernel}");
        assert!(
            kernel["origin"]
                .as_str()
                .unwrap()
                .contains(&self.pkg.file_name()),
            "{kernel}"
        );
    }
}

/// The `kernels` a cell of a run's results.json records.
fn recorded_kernels(out: &Path, cell: &str) -> Vec<serde_json::Value> {
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    results["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == cell)
        .unwrap_or_else(|| panic!("no cell {cell}: {results}"))["kernels"]
        .as_array()
        .unwrap_or_else(|| panic!("no kernels recorded: {results}"))
        .clone()
}

#[test]
fn a_void_package_from_a_signed_repository_boots_as_the_guest_kernel_under_test() {
    // The default matrix's Radix cell, its kernel replaced by the Void
    // package: fetched through the repository's index, its .sig2 checked
    // against the key, its ./boot/vmlinux-* booted under TCG.
    let repo = VoidRepo::new();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let matrix = common::repo().join("matrices/default.toml");
    let cell = "tcg/radix-guest/64k";
    let child = spawn_run(
        &matrix,
        &out,
        &["--filter", cell, "--kernel", &repo.flag("debian-64k")],
    );
    let (code, err) = stderr_of(child);
    let xml = junit(&out);
    assert_eq!(code, Some(0), "{err}\n{xml}");
    let kernels = recorded_kernels(&out, cell);
    assert_eq!(kernels.len(), 1, "{kernels:?}");
    repo.assert_recorded(&kernels[0], "guest", "debian-64k");
    let case = testcase(&xml, cell);
    assert!(
        case.contains(&format!(
            r#"<property name="kernel-guest-release" value="{}"/>"#,
            repo.release
        )) && case.contains(&format!(
            r#"<property name="kernel-guest-sha256" value="{}"/>"#,
            repo.sha256
        )),
        "{case}"
    );
    // The guest reported the package's release itself.
    assert!(
        case.contains(&format!(
            r#"<property name="guest-kernel" value="{}"/>"#,
            repo.release
        )),
        "{case}"
    );
    no_qemu_left(&out);
}

#[test]
fn a_void_package_is_the_host_kernel_of_an_emulated_powernv9_with_its_own_kvm_modules() {
    // An emulated POWER9 booting the package's kernel as its host kernel;
    // KVM-HV loads from the package's kvm.ko.zst and kvm-hv.ko.zst
    // (decompressed into the host's initramfs), and the Radix guest boots
    // under it. Only the host kernel is under test: the guest keeps
    // Debian's image.
    let repo = VoidRepo::new();
    let cell = "powernv9-radix-64k/kvm-hv/radix-guest";
    let run = run_to_end_with(
        "void-host",
        &format!(
            "[kernels.void-64k]\nimage = \"debian-kernel-64k\"\npage_size = \"64k\"\n\n[[cells]]\n\
             name = \"{cell}\"\nhost = \"powernv9\"\nhost_kernel = \"void-64k\"\nhost_mmu = \"radix\"\n\
             accel = \"kvm-hv\"\nkernel = \"debian-64k\"\nmmu = \"radix\"\nmemory = 1024\ntimeout = 240\n"
        ),
        &["--kernel", &repo.flag("void-64k")],
    );
    run.assert_passed();
    let report = &run.result("powernv9-radix-64k_kvm-hv_radix-guest")["attempts"][0]["observation"]
        ["report"];
    assert_eq!(report["mmu_word"], "Radix", "{report}");
    assert!(
        report["hypervisor"].as_str().unwrap().contains("linux,kvm"),
        "the guest ran under KVM: {report}"
    );
    let kernels = recorded_kernels(&run.out, cell);
    assert_eq!(kernels.len(), 2, "{kernels:?}");
    assert_eq!(
        (&kernels[0]["role"], &kernels[0]["image"]),
        (
            &serde_json::json!("guest"),
            &serde_json::json!("debian-kernel-64k")
        )
    );
    repo.assert_recorded(&kernels[1], "host", "void-64k");
    let hosts: Vec<std::path::PathBuf> = std::fs::read_dir(run.out.join("hosts"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(hosts.len(), 1, "one host boot: {hosts:?}");
    let host = std::fs::read_to_string(hosts[0].join("console.log")).unwrap();
    assert!(
        !host.contains("BOOTMATRIX-L1: insmod"),
        "the package's modules load without complaint: {host}"
    );
    no_qemu_left(&run.out);
}

/// The `DT_NEEDED` names, the program interpreter and whether a symbol
/// table is left, read with `object` on its own (not through the harness).
fn dynamic_needs(data: &[u8]) -> (Vec<String>, Option<String>, bool) {
    use object::read::elf::{Dyn as _, ElfFile64, ProgramHeader as _};
    use object::Object as _;
    let file = ElfFile64::<object::Endianness>::parse(data).unwrap();
    assert_eq!(file.architecture(), object::Architecture::PowerPc64);
    assert!(file.is_little_endian() && file.is_64());
    let endian = file.endian();
    let interp = file
        .elf_program_headers()
        .iter()
        .find_map(|ph| ph.interpreter(endian, data).unwrap())
        .map(|i| String::from_utf8_lossy(i).into_owned());
    let sections = file.elf_section_table();
    let (dynamic, strtab) = sections.dynamic(endian, data).unwrap().expect(".dynamic");
    let strings = sections.strings(endian, data, strtab).unwrap();
    let needed = dynamic
        .iter()
        .filter(|d| d.tag32(endian) == Some(object::elf::DT_NEEDED))
        .map(|d| String::from_utf8_lossy(d.string(endian, strings).unwrap()).into_owned())
        .collect();
    let symtab = file.section_by_name(".symtab").is_some();
    (needed, interp, symtab)
}

#[test]
fn the_harness_cross_builds_itself_for_ppc64le_once_per_source() {
    // Emulated hosts run a ppc64le bootmatrix built from this very source
    // with Debian's Rust (ci/setup-debian.sh installs it): about 2.5 minutes
    // on 2 cores when the source changed, a cache hit otherwise.
    use bootmatrix::images::{harness, Store, StoreOptions};
    let options = StoreOptions {
        progress: false,
        ..StoreOptions::default()
    };
    let store = Store::open(Store::default_root(), options).unwrap();
    let started = Instant::now();
    let first = harness::ppc64le_harness(&store).unwrap_or_else(|e| panic!("{e}"));
    let first_time = started.elapsed();
    let data = std::fs::read(&first.path).unwrap();
    let (mut needed, interp, symtab) = dynamic_needs(&data);
    needed.sort();
    for lib in &needed {
        assert!(
            ["libc.so.6", "libm.so.6", "libgcc_s.so.1", "ld64.so.2"].contains(&lib.as_str()),
            "the ppc64le bootmatrix needs {lib}, which emulated hosts do not carry: {needed:?}"
        );
    }
    assert!(needed.iter().any(|l| l == "libc.so.6"), "{needed:?}");
    assert_eq!(interp.as_deref(), Some("/lib64/ld64.so.2"));
    assert!(!symtab, "the binary is stripped");
    let stamp = std::fs::metadata(&first.path).unwrap().modified().unwrap();
    // The second call finds it by the source's hash and builds nothing.
    let started = Instant::now();
    let second = harness::ppc64le_harness(&store).unwrap();
    let second_time = started.elapsed();
    assert!(second.cached && second.build_time.is_none(), "{second:?}");
    assert_eq!((&second.path, &second.sha256), (&first.path, &first.sha256));
    assert_eq!(
        std::fs::metadata(&second.path).unwrap().modified().unwrap(),
        stamp
    );
    eprintln!(
        "{}\nfirst call {first_time:?} ({}), second call {second_time:?}",
        second.fetch_line(),
        if first.cached { "cached" } else { "built" },
    );
}

#[test]
fn a_4k_hash_host_on_linux_6_1_boots_a_hugepage_backed_hpt_guest() {
    // Void's default POWER8 row: a 4 KiB hash host, the guest with the
    // page-size cap and 16M hugepages. On bookworm's 6.1 (the harness builds
    // it from images/kernel-host-4k-6.1.toml) the guest boots; a stock 6.12
    // does not (docs/emulated-hosts.md#hash-4k-hang, and the next test).
    a_4k_hash_host_boots_a_hugepage_backed_hpt_guest(
        "hash4k61",
        r#"
[kernels.guest-4k]
image = "debian-kernel-4k"
page_size = "4k"

[kernels."host-4k-6.1"]
image = "kernel-host-4k-6.1"
page_size = "4k"
kvm_pr = true
kvm_pr_mmu_notifiers = false
"#,
        "host-4k-6.1",
    );
}

#[test]
fn a_4k_hash_host_on_linux_6_12_with_its_fixes_boots_a_hugepage_backed_hpt_guest() {
    // The same row on the harness's 6.12 build, which carries the two fixes
    // for 6.12 on 4 KiB hash hosts (images/patches/
    // hash-4k-hugepage-access-flags.patch, kvm-hash-4k-hugepage-size.patch):
    // without them the guest never gets past SLOF.
    a_4k_hash_host_boots_a_hugepage_backed_hpt_guest(
        "hash4k612",
        r#"
[kernels.guest-4k]
image = "kernel-guest-4k"
page_size = "4k"

[kernels."host-4k-6.12"]
image = "kernel-host-4k"
page_size = "4k"
kvm_pr = true
emulated_hugepages = true
"#,
        "host-4k-6.12",
    );
}

/// Runs the hugepage-backed HPT guest of a 4 KiB hash host on powernv8 with
/// the host kernel `host_kernel` (declared in `kernels` beside the guest's
/// `guest-4k`), and checks that it booted and reported Hash with 4 KiB
/// pages. The row is a native one placed on powernv8 by the matrix:
/// emulated_host and emulated_host_kernel.
fn a_4k_hash_host_boots_a_hugepage_backed_hpt_guest(name: &str, kernels: &str, host_kernel: &str) {
    let run = run_to_end_with(
        name,
        &format!(
            r#"{kernels}
[emulation]
kernel_4k = "{host_kernel}"

[[cells]]
name = "hpt-4k-host/{{emulated_host}}/{{emulated_host_kernel}}"
host_mmu = "hpt"
host_page_size = "4k"
emulated_host = "powernv8"
emulated_host_kernel = "{host_kernel}"
accel = "kvm-hv"
kernel = "guest-4k"
mmu = "hpt"
memory = 2048
timeout = 300
fixes = ["hpt-max-page-size", "hugepages"]
expect = "boots"
"#
        ),
        &["--hosts", "emulated"],
    );
    run.assert_passed();
    let cell = format!("hpt-4k-host_powernv8_{host_kernel}");
    let report = &run.result(&cell)["attempts"][0]["observation"]["report"];
    assert_eq!(report["mmu_word"], "Hash", "{report}");
    assert_eq!(report["page_size"], "4k", "{report}");
    let argv = run.result(&cell)["argv"].to_string();
    assert!(
        argv.contains("cap-hpt-max-page-size=4096") && argv.contains("/dev/hugepages"),
        "{argv}"
    );
    let host = run.out.join(format!(
        "hosts/powernv8-hpt-{host_kernel}-6144-qemu10.0/repro.sh"
    ));
    let host = std::fs::read_to_string(host).unwrap();
    assert!(
        host.contains("-machine powernv8") && host.contains("hugepagesz=16M"),
        "{host}"
    );
    no_qemu_left(&run.out);
}
