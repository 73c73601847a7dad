//! `plan` is the one stage between the matrix and the run: what `bootmatrix
//! plan` prints is the value `bootmatrix run` executes. Without booting:
//! the run here selects only cells this machine skips.

mod common;
mod support_report;

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

/// void-compat's cells matching `filters`, every host row on an emulated
/// host.
fn emulated(filters: &[&str]) -> Selection {
    Selection {
        hosts: HostsMode::Emulated,
        ..selection("matrices/void-compat.toml", filters)
    }
}

/// The plan `make_plan` gives on an x86 machine with qemu, at timeout
/// scale 1, for `schedule`.
fn planned(s: &Selection, schedule: &app::Schedule) -> bootmatrix::plan::Plan {
    let facts = common::x86_host_with_qemu();
    app::make_plan(s, &facts, qemu::DEFAULT_QEMU, 1.0, schedule).unwrap()
}

#[test]
fn plan_json_is_the_plan_value_for_the_default_and_void_compat_matrices() {
    let facts = host::probe(qemu::DEFAULT_QEMU);
    for m in ["matrices/default.toml", "matrices/void-compat.toml"] {
        let plan = common::plan(&selection(m, &[]), &facts);
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
    // These cells are known failures (qemu aborts under KVM-PR on an
    // emulated POWER8 host), skipped with the mark's reason under
    // `--known-failures skip` (on a POWER runner they would run: the test
    // then only compares the plans).
    let filter = "hpt-4k-host/kvm-pr/*/pr-caps+hpt-max-page-size+hugepages/powernv8/host-4k-6.12";
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // The same lanes and history to both.
    let history = dir.path().join("history");
    radix_4k_history(&history, 30.0);
    let history = history.to_str().unwrap();
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
        "-j",
        "2",
        "--durations",
        history,
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
        "-j",
        "2",
        "--durations",
        history,
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
    let plan = common::plan(&skip_known, &facts);
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
    let s = emulated(&[]);
    let plan = common::plan(&s, &facts);
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
    let s = emulated(&[]);
    let power9 = bootmatrix::host::HostFacts::ready_power9(
        bootmatrix::model::Mmu::Radix,
        bootmatrix::model::PageSize::K64,
    );
    let on_power = common::plan(&s, &power9);
    let on_x86 = common::plan(&s, &common::x86_host_with_qemu());
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
    let run = common::plan(&s, &facts);
    assert!(run.cells.iter().all(|c| c.runnable()));
    assert_eq!(
        run.cells[0].cell.known_failure.as_deref(),
        Some("hangs since 6.12, see docs/emulated-hosts.md")
    );
    s.known_failures = bootmatrix::plan::KnownFailures::Skip;
    let skip = common::plan(&s, &facts);
    assert_eq!(
        skip.cells[0].readiness.reason().as_deref(),
        Some("known failure: hangs since 6.12, see docs/emulated-hosts.md: run with --known-failures run to check whether it still fails")
    );
    assert!(skip.cells[1].runnable());
}

/// The sessions of the powernv9 4 KiB Radix host with the default qemu
/// inside, the longest of void-compat (17 cells).
const RADIX_4K: &str = "powernv9-radix-host-4k-6144-qemu10.0";

/// void-compat's 4 KiB Radix host rows on emulated hosts, planned on an
/// x86 machine for `lanes` lanes, every selected cell expected to take
/// `seconds` (as a previous run would say).
fn radix_4k_plan(lanes: usize, seconds: f64) -> bootmatrix::plan::Plan {
    let s = emulated(&["radix-4k-host/*"]);
    let unscheduled = planned(&s, &app::Schedule::lanes(Some(1)));
    let schedule = app::Schedule {
        lanes,
        durations: unscheduled
            .cells
            .iter()
            .map(|c| (c.name.clone(), seconds))
            .collect(),
    };
    planned(&s, &schedule)
}

/// The sessions of `key`: (part, parts, cells, expected seconds).
fn parts_of(plan: &bootmatrix::plan::Plan, key: &str) -> Vec<(usize, usize, usize, f64)> {
    plan.sessions
        .iter()
        .filter(|s| s.key.to_string() == key)
        .map(|s| (s.part, s.parts, s.cells.len(), s.expected_seconds))
        .collect()
}

#[test]
fn a_long_host_session_is_split_into_balanced_parts_on_two_lanes() {
    // 17 cells of 30 s: 4 + 510 = 514 s in one boot, beside the 6 cells
    // (184 s) of the same host with qemu 7.2. Three boots of 6, 6 and 5
    // cells (184, 184, 154 s) end the run at 368 s on two lanes; two
    // boots at 428 s, four at 402 s.
    let plan = radix_4k_plan(2, 30.0);
    assert_eq!(
        parts_of(&plan, RADIX_4K),
        vec![(1, 3, 6, 184.0), (2, 3, 6, 184.0), (3, 3, 5, 154.0)]
    );
    assert_eq!(
        parts_of(&plan, "powernv9-radix-host-4k-6144-qemu7.2"),
        vec![(1, 1, 6, 184.0)]
    );
    assert_eq!(plan.expected_seconds(), 368.0);
    let parts: Vec<&bootmatrix::plan::Session> = plan
        .sessions
        .iter()
        .filter(|s| s.key.to_string() == RADIX_4K)
        .collect();
    assert_eq!(
        parts.iter().map(|s| s.name()).collect::<Vec<_>>(),
        [
            format!("{RADIX_4K}-part1of3"),
            format!("{RADIX_4K}-part2of3"),
            format!("{RADIX_4K}-part3of3")
        ]
    );
    // What the host is stays the key's: its hugepages (for the largest
    // hugepage-backed guest of all its cells), its expectation, its
    // command but for the initramfs each part builds from its own cells.
    for s in &parts {
        assert_eq!(s.hugepages, parts[0].hugepages);
        assert_eq!(s.expected, parts[0].expected);
        assert_eq!(s.command.args.len(), parts[0].command.args.len());
    }
    let unsplit = radix_4k_plan(1, 30.0);
    for (a, b) in plan.cells.iter().zip(&unsplit.cells) {
        assert_eq!(a.expected, b.expected, "{}", a.name);
        assert_eq!(a.readiness, b.readiness, "{}", a.name);
    }
    // Every runnable cell of the key is in exactly one part, and placed
    // in it.
    for (k, s) in plan.sessions.iter().enumerate() {
        let initramfs = bootmatrix::plan::FileRef::HostInitramfs(k).placeholder();
        assert!(s.command.args.contains(&initramfs), "{}", s.name());
        for &i in &s.cells {
            assert!(
                matches!(plan.cells[i].placement, Placement::InHost { session, .. } if session == k),
                "{}",
                plan.cells[i].name
            );
        }
    }
    let in_parts: usize = parts.iter().map(|s| s.cells.len()).sum();
    assert_eq!(in_parts, 17);
}

#[test]
fn one_lane_or_a_short_session_is_never_split() {
    // One lane: every extra boot only adds its cost.
    let one_lane = radix_4k_plan(1, 30.0);
    assert_eq!(parts_of(&one_lane, RADIX_4K), vec![(1, 1, 17, 514.0)]);
    // 1 s cells: 21 s in one boot; two boots (13 and 12 s) beside the
    // qemu 7.2 host's 10 s would end at 22 s.
    let short = radix_4k_plan(2, 1.0);
    assert_eq!(parts_of(&short, RADIX_4K), vec![(1, 1, 17, 21.0)]);
    assert!(short.sessions.iter().all(|s| s.parts == 1));
}

#[test]
fn the_parts_of_a_split_session_never_share_a_directory() {
    for lanes in [2, 4, 8] {
        let plan = radix_4k_plan(lanes, 30.0);
        assert!(plan.sessions.iter().any(|s| s.parts > 1), "{lanes} lanes");
        let dirs: std::collections::BTreeSet<String> = plan
            .sessions
            .iter()
            .map(|s| bootmatrix::run::cell_dir_name(&s.name()))
            .collect();
        assert_eq!(dirs.len(), plan.sessions.len(), "{dirs:?}");
        for s in &plan.sessions {
            assert!(s.cells.len() >= 2, "{}: {} cells", s.name(), s.cells.len());
        }
    }
}

#[test]
fn the_queue_starts_the_longest_expected_session_first() {
    use bootmatrix::plan::Start;
    let s = emulated(&[]);
    // Without history the 4 KiB Radix host (17 cells, a tenth of a 300 s
    // timeout for each boot) goes first.
    let plan = planned(&s, &app::Schedule::lanes(Some(2)));
    let order = plan.start_order();
    let Start::Session(first) = order[0] else {
        panic!("{order:?}")
    };
    assert_eq!(plan.sessions[first].name(), RADIX_4K);
    // A history in which the 2 cells of the nested 4 KiB hash host with
    // 6.1 take 150 s each puts that host first (4 + 300 s).
    let nested = "nested-pseries-hpt-host-4k-6.1-6144-qemu10.0";
    let mut schedule = app::Schedule::lanes(Some(2));
    for c in &plan.cells {
        if let Placement::InHost { session, .. } = c.placement {
            if plan.sessions[session].key.to_string() == nested {
                schedule.durations.insert(c.name.clone(), 150.0);
            }
        }
    }
    assert_eq!(schedule.durations.len(), 2);
    let plan = planned(&s, &schedule);
    let order = plan.start_order();
    let Start::Session(first) = order[0] else {
        panic!("{order:?}")
    };
    assert_eq!(plan.sessions[first].name(), nested);
    assert_eq!(plan.sessions[first].expected_seconds, 304.0);
    // Longest first (void-compat on emulated hosts boots nothing here;
    // plan::schedule's own tests mix sessions and cells).
    let seconds: Vec<f64> = order
        .iter()
        .map(|w| match *w {
            Start::Session(k) => plan.sessions[k].expected_seconds,
            Start::Cell(i) => plan.cells[i].expected_seconds,
        })
        .collect();
    assert!(seconds.windows(2).all(|w| w[0] >= w[1]), "{seconds:?}");
    // 13 hosts, of which this qemu (no powernv8) boots 11 (some of them
    // split over two boots).
    let mut hosts: Vec<String> = order
        .iter()
        .filter_map(|w| match *w {
            Start::Session(k) => Some(plan.sessions[k].key.to_string()),
            Start::Cell(_) => None,
        })
        .collect();
    hosts.dedup();
    hosts.sort();
    hosts.dedup();
    assert_eq!(hosts.len(), 11, "{hosts:?}");
}

/// A results.json as `bootmatrix run` writes it, of every void-compat cell
/// matching `radix-4k-host/*`, each having taken `seconds`; in `dir`.
fn radix_4k_history(dir: &std::path::Path, seconds: f64) {
    let keep = |c: &bootmatrix::model::Cell| c.name.starts_with("radix-4k-host/");
    let mut file = support_report::write_run(
        "void-compat",
        dir,
        &keep,
        &support_report::as_predicted,
        None,
    );
    for c in &mut file.cells {
        c.seconds = seconds;
    }
    std::fs::write(
        dir.join("results.json"),
        serde_json::to_string_pretty(&file).unwrap(),
    )
    .unwrap();
}

#[test]
fn plan_takes_the_durations_and_lanes_run_would_use() {
    let dir = tempfile::tempdir().unwrap();
    radix_4k_history(dir.path(), 1.0);
    let results = dir.path().join("results.json");
    let plan = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec![
            "plan",
            "matrices/void-compat.toml",
            "--hosts",
            "emulated",
            "--filter",
            "radix-4k-host/*",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let out = common::run(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let parts = |plan: &serde_json::Value| -> Vec<(u64, u64, f64)> {
        plan["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["key"]["mmu"] == "radix" && s["key"]["qemu"][1] == 0)
            .map(|s| {
                (
                    s["part"].as_u64().unwrap(),
                    s["parts"].as_u64().unwrap(),
                    s["expected_seconds"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    // No history: 17 boots estimated at 30 s or documented errors at
    // 1.5 s; on two lanes the host boots three times.
    let estimated = plan(&["-j", "2"]);
    assert_eq!(estimated["lanes"], 2);
    assert_eq!(parts(&estimated).len(), 3, "{:?}", parts(&estimated));
    // A history of 1 s cells: one boot of 4 + 17 s.
    let file = plan(&["-j", "2", "--durations", results.to_str().unwrap()]);
    assert_eq!(parts(&file), vec![(1, 1, 21.0)]);
    // The output directory holding it says the same.
    let dir_given = plan(&["-j", "2", "--durations", dir.path().to_str().unwrap()]);
    assert_eq!(dir_given, file);
    // One lane: no split whatever the history.
    assert_eq!(parts(&plan(&["-j", "1"])).len(), 1);
    // The text says it per session.
    let text = common::run(&[
        "plan",
        "matrices/void-compat.toml",
        "--hosts",
        "emulated",
        "--filter",
        "radix-4k-host/*",
        "-j",
        "2",
    ]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains(&format!(
            "{RADIX_4K}-part2of3  part 2 of 3, 6 cells, expected"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("session:  {RADIX_4K}-part")),
        "{text}"
    );
    // A history that is not there is bad input.
    let missing = common::run(&[
        "plan",
        "matrices/void-compat.toml",
        "--durations",
        dir.path().join("nothing.json").to_str().unwrap(),
    ]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn the_nvram_is_prepared_when_a_vof_guest_or_a_pseries_l1_under_tcg_needs_it() {
    use bootmatrix::plan::FileRef;
    let facts = common::x86_host_with_qemu();
    let prepared = |filters: &[&str]| common::plan(&emulated(filters), &facts).native_files();
    // The nested rows boot pseries L1s under TCG, which start under VOF.
    assert!(prepared(&["nested/*"]).contains(&FileRef::Nvram));
    // powernv hosts start skiboot, and their cells' NVRAM is made inside.
    let powernv = prepared(&["radix-64k-host/*"]);
    assert!(!powernv.contains(&FileRef::Nvram), "{powernv:?}");
    // A VOF guest booted here names it in its own command.
    let dir = tempfile::tempdir().unwrap();
    let m = common::matrix(
        dir.path(),
        "vof",
        "[[cells]]\nname = \"c\"\nkernel = \"debian-64k\"\nfirmware = \"vof\"\n",
    );
    let here = common::plan(&selection(m.to_str().unwrap(), &[]), &facts);
    assert!(here.native_files().contains(&FileRef::Nvram));
    let Placement::Here { command } = &here.cells[0].placement else {
        panic!("a TCG cell runs here")
    };
    assert!(
        command.args.iter().any(|a| a.ends_with("file=<nvram>")),
        "{:?}",
        command.args
    );
}
