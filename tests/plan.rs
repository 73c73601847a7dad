//! `plan` is the one stage between the matrix and the run: what `bootmatrix
//! plan` prints is the value `bootmatrix run` executes. Without booting:
//! the run here selects only cells this machine skips.

mod common;

use bootmatrix::app::{self, Selection};
use bootmatrix::plan::{render, HostsMode, Placement, Readiness};
use bootmatrix::{host, qemu};

fn selection(matrix: &str, filters: &[&str]) -> Selection {
    Selection {
        matrix: std::path::PathBuf::from(matrix),
        filters: filters.iter().map(|f| f.to_string()).collect(),
        partition: None,
        hosts: HostsMode::Auto,
        known_failures: Default::default(),
        kernels: Vec::new(),
    }
}

#[test]
fn plan_json_is_the_plan_value_for_the_default_and_void_compat_matrices() {
    let facts = host::probe(qemu::DEFAULT_QEMU);
    for m in ["matrices/default.toml", "matrices/void-compat.toml"] {
        let plan = app::make_plan(
            &selection(m, &[]),
            &facts,
            qemu::DEFAULT_QEMU,
            1.0,
            &bootmatrix::app::Schedule::lanes(None),
        )
        .unwrap();
        let out = common::run(&["plan", m, "--format", "json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap().trim_end(),
            render::render_json(&plan),
            "{m}"
        );
        assert!(!plan.cells.is_empty());
    }
}

#[test]
fn run_executes_the_plan_it_writes() {
    // These cells are known failures (hangs on an emulated 4 KiB hash host
    // running 6.12), skipped with the mark's reason under
    // `--known-failures skip` (on a POWER runner they would boot: the test
    // then only compares the plans).
    let filter = "hpt-4k-host/kvm-hv/*/hpt-max-page-size+hugepages/*/host-4k-6.12";
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = common::run(&[
        "run",
        "matrices/void-compat.toml",
        "--filter",
        filter,
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--known-failures",
        "skip",
    ]);
    let planned = common::run(&[
        "plan",
        "matrices/void-compat.toml",
        "--filter",
        filter,
        "--format",
        "json",
        "--known-failures",
        "skip",
    ]);
    assert!(planned.status.success());
    let written = std::fs::read_to_string(out.join("plan.json")).unwrap();
    assert_eq!(
        written.trim_end(),
        String::from_utf8(planned.stdout).unwrap().trim_end()
    );
    let facts = host::probe(qemu::DEFAULT_QEMU);
    let mut skip_known = selection("matrices/void-compat.toml", &[filter]);
    skip_known.known_failures = bootmatrix::plan::KnownFailures::Skip;
    let plan = app::make_plan(
        &skip_known,
        &facts,
        qemu::DEFAULT_QEMU,
        1.0,
        &bootmatrix::app::Schedule::lanes(None),
    )
    .unwrap();
    if plan.cells.iter().all(|c| !c.runnable()) {
        assert_eq!(run.status.code(), Some(0));
        let results: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap())
                .unwrap();
        let cells = results["cells"].as_array().unwrap();
        assert_eq!(cells.len(), plan.cells.len());
        for (c, p) in cells.iter().zip(&plan.cells) {
            assert_eq!(c["name"], p.name.as_str());
            assert_eq!(c["status"], "skipped");
            let Readiness::Skipped { missing } = &p.readiness else {
                unreachable!()
            };
            assert!(!missing.is_empty());
            assert_eq!(
                c["summary"].as_str().unwrap(),
                p.readiness.reason().unwrap()
            );
        }
    }
}

#[test]
fn emulated_cells_of_one_host_share_one_session() {
    let facts = common::x86_host_with_qemu();
    let mut s = selection("matrices/void-compat.toml", &[]);
    s.hosts = HostsMode::Emulated;
    let plan = app::make_plan(
        &s,
        &facts,
        qemu::DEFAULT_QEMU,
        1.0,
        &bootmatrix::app::Schedule::lanes(None),
    )
    .unwrap();
    for (k, session) in plan.sessions.iter().enumerate() {
        for &i in &session.cells {
            let c = &plan.cells[i];
            assert!(c.runnable(), "{}", c.name);
            assert!(
                matches!(c.placement, Placement::InHost { session, .. } if session == k),
                "{}",
                c.name
            );
            assert_eq!(bootmatrix::chain::session_key(&c.cell.host), session.key);
        }
        // The host boots its own initramfs, named by the session.
        assert!(
            session
                .command
                .args
                .contains(&bootmatrix::plan::FileRef::HostInitramfs(k).placeholder()),
            "{:?}",
            session.command
        );
    }
    // Every runnable emulated cell is in exactly one session.
    for (i, c) in plan.cells.iter().enumerate() {
        let n = plan
            .sessions
            .iter()
            .filter(|s| s.cells.contains(&i))
            .count();
        let in_host = matches!(c.placement, Placement::InHost { .. });
        assert_eq!(n, usize::from(in_host && c.runnable()), "{}", c.name);
    }
    // A timeout scale reaches every cell and every host boot.
    let slow = app::make_plan(
        &s,
        &facts,
        qemu::DEFAULT_QEMU,
        2.0,
        &bootmatrix::app::Schedule::lanes(None),
    )
    .unwrap();
    for (a, b) in plan.cells.iter().zip(&slow.cells) {
        assert_eq!(a.cell.timeout * 2, b.cell.timeout, "{}", a.name);
    }
    assert_eq!(
        plan.sessions[0].boot_timeout_secs * 2.0,
        slow.sessions[0].boot_timeout_secs
    );
}

#[test]
fn a_power9_runner_boots_nested_pseries_hosts_under_its_own_kvm() {
    let mut s = selection("matrices/void-compat.toml", &[]);
    s.hosts = HostsMode::Emulated;
    let power9 = bootmatrix::host::HostFacts::ready_power9(
        bootmatrix::model::Mmu::Radix,
        bootmatrix::model::PageSize::K64,
    );
    let on_power = app::make_plan(
        &s,
        &power9,
        qemu::DEFAULT_QEMU,
        1.0,
        &bootmatrix::app::Schedule::lanes(None),
    )
    .unwrap();
    let on_x86 = app::make_plan(
        &s,
        &common::x86_host_with_qemu(),
        qemu::DEFAULT_QEMU,
        1.0,
        &bootmatrix::app::Schedule::lanes(None),
    )
    .unwrap();
    let nested = |p: &bootmatrix::plan::Plan| {
        p.sessions
            .iter()
            .filter(|s| s.host.kind == bootmatrix::model::HostKind::NestedPseries)
            .map(|s| (s.level0, s.command.args.join(" ")))
            .collect::<Vec<_>>()
    };
    assert!(!nested(&on_power).is_empty());
    for (level0, cmd) in nested(&on_power) {
        assert_eq!(level0, bootmatrix::chain::Level0::Kvm, "{cmd}");
        assert!(
            cmd.contains("pseries,accel=kvm,kvm-type=HV,cap-nested-hv=on")
                && cmd.contains("-cpu host"),
            "{cmd}"
        );
    }
    for (level0, cmd) in nested(&on_x86) {
        assert_eq!(level0, bootmatrix::chain::Level0::Tcg, "{cmd}");
        assert!(
            cmd.contains("accel=tcg") && cmd.contains("-cpu POWER9"),
            "{cmd}"
        );
    }
    // powernv9 exists only under TCG, on any machine.
    for s in on_power
        .sessions
        .iter()
        .filter(|s| s.host.kind == bootmatrix::model::HostKind::PowerNv9)
    {
        assert_eq!(s.level0, bootmatrix::chain::Level0::Tcg);
    }
    let text = bootmatrix::plan::render::render_text(&on_power);
    assert!(
        text.contains("level 0 runs under this machine's KVM-HV"),
        "{text}"
    );
}

#[test]
fn known_failures_run_by_default_and_are_skipped_with_their_reason_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let m = common::matrix(
        dir.path(),
        "known",
        "[[cells]]\nname = \"hangs\"\nkernel = \"debian-64k\"\nknown_failure = \"hangs since 6.12, see docs/emulated-hosts.md\"\n[[cells]]\nname = \"fine\"\nkernel = \"debian-64k\"\n",
    );
    let facts = common::x86_host_with_qemu();
    let mut s = Selection {
        matrix: m,
        filters: vec![],
        partition: None,
        hosts: HostsMode::Auto,
        known_failures: Default::default(),
        kernels: Vec::new(),
    };
    let run = app::make_plan(
        &s,
        &facts,
        qemu::DEFAULT_QEMU,
        1.0,
        &bootmatrix::app::Schedule::lanes(None),
    )
    .unwrap();
    assert!(run.cells.iter().all(|c| c.runnable()));
    assert_eq!(
        run.cells[0].cell.known_failure.as_deref(),
        Some("hangs since 6.12, see docs/emulated-hosts.md")
    );
    s.known_failures = bootmatrix::plan::KnownFailures::Skip;
    let skip = app::make_plan(
        &s,
        &facts,
        qemu::DEFAULT_QEMU,
        1.0,
        &bootmatrix::app::Schedule::lanes(None),
    )
    .unwrap();
    assert_eq!(
        skip.cells[0].readiness.reason().as_deref(),
        Some("known failure: hangs since 6.12, see docs/emulated-hosts.md: run with --known-failures run to check whether it still fails")
    );
    assert!(skip.cells[1].runnable());
}
