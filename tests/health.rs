//! Kernel health: each recogniser on kernel log excerpts as a POWER guest's
//! console shows them, what ends a trace, the guest report's messages at
//! err or worse, and suppressions (matched, unmatched, bad files).

mod common;

use bootmatrix::health::{self, Finding, Kind, Severity, Suppressions, CUT_HERE, MAX_TRACE};
use bootmatrix::observation::Observation;
use bootmatrix::payload::{GuestReport, KmsgLine};
use bootmatrix::Error;
use rstest::rstest;

fn scan(log: &str) -> Vec<Finding> {
    health::recognise(log.lines())
}

fn only(log: &str) -> Finding {
    let found = scan(log);
    assert_eq!(found.len(), 1, "{found:#?}");
    found.into_iter().next().unwrap()
}

const NULL_DEREF: &str = "\
[   12.345678] BUG: Kernel NULL pointer dereference on read at 0x00000010
[   12.345901] Faulting instruction address: 0xc0000000008a1b2c
[   12.346012] Oops: Kernel access of bad area, sig: 11 [#1]
[   12.346100] LE PAGE_SIZE=64K MMU=Radix SMP NR_CPUS=2048 NUMA pSeries
[   12.346200] Modules linked in:
[   12.346300] CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0-50-powerpc64le #1  Debian 6.1.176-1
[   12.346400] NIP:  c0000000008a1b2c LR: c0000000008a1b00 CTR: 0000000000000000
[   12.346700] NIP [c0000000008a1b2c] virtblk_probe+0x9c/0x7a0
[   12.346800] LR [c0000000008a1b00] virtblk_probe+0x70/0x7a0
[   12.346900] Call Trace:
[   12.347000] [c000000002a0fb80] [c0000000008a1b00] virtblk_probe+0x70/0x7a0 (unreliable)
[   12.347100] [c000000002a0fc50] [c000000000831a44] virtio_dev_probe+0x264/0x3d0
[   12.347300] ---[ end trace 0000000000000000 ]---
[   12.350000] virtio_net virtio0: probed";

#[test]
fn a_null_dereference_is_one_fatal_bug_with_its_oops_and_call_trace() {
    let f = only(NULL_DEREF);
    assert_eq!((f.kind, f.severity), (Kind::Bug, Severity::Fatal));
    assert_eq!(
        f.line,
        "BUG: Kernel NULL pointer dereference on read at 0x00000010"
    );
    assert!(
        f.trace
            .contains(&"Oops: Kernel access of bad area, sig: 11 [#1]".to_string()),
        "{f:#?}"
    );
    assert!(f
        .trace
        .iter()
        .any(|l| l.contains("virtio_dev_probe+0x264/0x3d0")));
    // The kernel's end marker closes it: the next message is not its trace.
    assert_eq!(
        f.trace.last().unwrap(),
        "---[ end trace 0000000000000000 ]---"
    );
}

#[test]
fn an_oops_on_its_own_is_fatal() {
    let f = only(
        "[    5.000000] Oops: Exception in kernel mode, sig: 4 [#1]\n\
         [    5.000100] NIP [c000000000123456] bootmatrix_init+0x10/0x20\n\
         [    5.000200] ---[ end trace 0000000000000000 ]---",
    );
    assert_eq!((f.kind, f.severity), (Kind::Oops, Severity::Fatal));
    assert_eq!(f.trace.len(), 2);
}

#[test]
fn kernel_bug_at_after_cut_here_is_a_bug_not_a_warning() {
    let f = only(
        "[    3.210000] ------------[ cut here ]------------\n\
         [    3.210100] kernel BUG at mm/slub.c:435!\n\
         [    3.210200] Oops: Exception in kernel mode, sig: 5 [#1]\n\
         [    3.210300] NIP [c0000000004c5e10] __slab_free+0x3a0/0x470\n\
         [    3.210400] ---[ end trace 0000000000000000 ]---",
    );
    assert_eq!((f.kind, f.severity), (Kind::Bug, Severity::Fatal));
    assert_eq!(f.line, "kernel BUG at mm/slub.c:435!");
    assert!(f.message.is_empty());
}

const REFCOUNT_WARNING: &str = "\
[    7.100000] ------------[ cut here ]------------
[    7.100100] refcount_t: underflow; use-after-free.
[    7.100200] WARNING: CPU: 0 PID: 57 at lib/refcount.c:28 refcount_warn_saturate+0x150/0x1d0
[    7.100300] Modules linked in: virtio_net
[    7.100400] CPU: 0 PID: 57 Comm: kworker/0:2 Not tainted 6.1.0-50-powerpc64le #1  Debian 6.1.176-1
[    7.100500] NIP:  c0000000007c1e30 LR: c0000000007c1e2c CTR: 0000000000000000
[    7.100600] Call Trace:
[    7.100700] [c00000000a3ffb20] [c0000000007c1e2c] refcount_warn_saturate+0x14c/0x1d0 (unreliable)
[    7.100800] ---[ end trace 0000000000000000 ]---";

#[test]
fn a_warning_keeps_the_message_printed_between_cut_here_and_its_line() {
    let f = only(REFCOUNT_WARNING);
    assert_eq!((f.kind, f.severity), (Kind::Warning, Severity::Warning));
    assert_eq!(
        f.line,
        "WARNING: CPU: 0 PID: 57 at lib/refcount.c:28 refcount_warn_saturate+0x150/0x1d0"
    );
    assert_eq!(f.message, vec!["refcount_t: underflow; use-after-free."]);
    assert_eq!(f.trace.len(), 6);
    assert_eq!(f.headline(), f.line, "WARNING is not said twice");
}

#[test]
fn a_warning_whose_message_follows_its_line_keeps_it_in_the_trace() {
    let f = only(
        "------------[ cut here ]------------\n\
         WARNING: CPU: 1 PID: 0 at kernel/time/tick-sched.c:1010 tick_nohz_idle_stop_tick+0x2c4/0x3d0\n\
         NOHZ tick-stop error\n\
         ---[ end trace 0000000000000000 ]---",
    );
    assert_eq!(f.kind, Kind::Warning);
    assert!(f.message.is_empty());
    assert_eq!(f.trace[0], "NOHZ tick-stop error");
}

#[test]
fn a_warning_without_cut_here_is_recognised_by_its_cpu_and_pid() {
    assert_eq!(
        only("[ 9.1] WARNING: CPU: 0 PID: 1 at drivers/of/base.c:12 of_node_put+0x1c/0x40").kind,
        Kind::Warning
    );
}

const KASAN: &str = "\
[   20.000000] ==================================================================
[   20.000100] BUG: KASAN: slab-out-of-bounds in bootmatrix_copy+0x48/0x90
[   20.000200] Write of size 8 at addr c000000012345678 by task swapper/0/1
[   20.000400] CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0 #1
[   20.000500] Call Trace:
[   20.000600] [c0000000047bfa10] [c000000000fd1234] dump_stack_lvl+0x74/0xa8 (unreliable)
[   20.000700] Allocated by task 1:
[   20.000800] The buggy address belongs to the object at c000000012345600
[   20.000900] ==================================================================
[   20.100000] Freeing unused kernel image (initmem) memory: 6336K";

const KCSAN: &str = "\
==================================================================
BUG: KCSAN: data-race in do_sys_poll / tty_port_default_wakeup

write to 0xc000000001234567 of 4 bytes by task 12 on cpu 1:
 tty_port_default_wakeup+0x2c/0x60
read to 0xc000000001234567 of 4 bytes by task 1 on cpu 0:
 do_sys_poll+0x1a0/0x5c0

Reported by Kernel Concurrency Sanitizer on:
CPU: 0 PID: 1 Comm: init Not tainted 6.1.0 #1
==================================================================
Run /init as init process";

const KFENCE: &str = "\
==================================================================
BUG: KFENCE: use-after-free read in bootmatrix_read+0x30/0x50

Use-after-free read at 0xc00000007fe12000 (in kfence-#72):
 bootmatrix_read+0x30/0x50
kfence-#72: 0xc00000007fe12000-0xc00000007fe1201f, size=32, cache=kmalloc-32
==================================================================
Run /init as init process";

#[rstest]
#[case::kasan(KASAN, Kind::Kasan, Severity::Fatal)]
#[case::kcsan(KCSAN, Kind::Kcsan, Severity::Warning)]
#[case::kfence(KFENCE, Kind::Kfence, Severity::Fatal)]
fn sanitizer_reports_end_at_their_closing_rule(
    #[case] log: &str,
    #[case] kind: Kind,
    #[case] severity: Severity,
) {
    let f = only(log);
    assert_eq!((f.kind, f.severity), (kind, severity));
    assert!(f.line.starts_with("BUG: K"), "{}", f.line);
    assert!(f.trace.last().unwrap().starts_with("====="), "{f:#?}");
    assert!(
        !f.trace
            .iter()
            .any(|l| l.starts_with("Run /init") || l.starts_with("Freeing")),
        "{f:#?}"
    );
}

#[rstest]
#[case::circular(
    "[   30.000000] ======================================================
[   30.000100] WARNING: possible circular locking dependency detected
[   30.000200] 6.1.0-50-powerpc64le #1 Not tainted
[   30.000300] ------------------------------------------------------
[   30.000400] kworker/0:1/23 is trying to acquire lock:
[   30.000500] c000000002b1c0a8 (&dev->mutex){+.+.}-{3:3}, at: device_del+0x48/0x4c0
[   30.000700] but task is already holding lock:
[   30.000800] c000000001f2d3e0 (rtnl_mutex){+.+.}-{3:3}, at: rtnl_lock+0x24/0x40",
    "WARNING: possible circular locking dependency detected"
)]
#[case::inconsistent(
    "[   31.000000] ================================
[   31.000100] WARNING: inconsistent lock state
[   31.000200] 6.1.0 #1 Not tainted
[   31.000300] --------------------------------
[   31.000400] inconsistent {IN-SOFTIRQ-W} -> {SOFTIRQ-ON-W} usage.",
    "WARNING: inconsistent lock state"
)]
#[case::suspicious_rcu(
    "=============================
WARNING: suspicious RCU usage
6.1.0 #1 Not tainted
-----------------------------
net/core/dev.c:1234 suspicious rcu_dereference_check() usage!",
    "WARNING: suspicious RCU usage"
)]
fn lockdep_reports_are_warnings(#[case] log: &str, #[case] line: &str) {
    let f = only(log);
    assert_eq!((f.kind, f.severity), (Kind::Lockdep, Severity::Warning));
    assert_eq!(f.line, line);
    assert!(f.trace.len() >= 3, "{f:#?}");
}

#[rstest]
#[case::stall_on_cpus(
    "[   61.000000] rcu: INFO: rcu_sched detected stalls on CPUs/tasks:
[   61.000100] rcu: \t0-...!: (1 GPs behind) idle=b3c/1/0x4000000000000000 softirq=1234/1235 fqs=0
[   61.000200] \t(detected by 1, t=5252 jiffies, g=2345, q=12 ncpus=2)
[   61.000300] Sending NMI from CPU 1 to CPUs 0:",
    Kind::RcuStall
)]
#[case::self_detected(
    "rcu: INFO: rcu_preempt self-detected stall on CPU\nrcu: \t0-....: (5249 ticks this GP) idle=3c4/1/0x4000000000000002",
    Kind::RcuStall
)]
#[case::soft_lockup(
    "[   48.000000] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [swapper/0:1]
[   48.000100] Modules linked in:
[   48.000200] CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0 #1
[   48.000400] Call Trace:",
    Kind::SoftLockup
)]
#[case::hard_lockup_self(
    "[   70.000000] watchdog: CPU 1 self-detected hard LOCKUP @ bootmatrix_spin+0x20/0x40\n[   70.000100] watchdog: CPU 1 TB:123456789, last heartbeat TB:987654 (10240ms ago)",
    Kind::HardLockup
)]
#[case::hard_lockup_other(
    "[   70.5] watchdog: CPU 0 detected hard LOCKUP on other CPUs 1",
    Kind::HardLockup
)]
fn stalls_and_lockups_are_warnings(#[case] log: &str, #[case] kind: Kind) {
    let f = only(log);
    assert_eq!((f.kind, f.severity), (kind, Severity::Warning));
}

#[test]
fn a_clean_boot_has_no_findings() {
    // What Debian's kernel prints under qemu with VOF firmware: err-level
    // nvram messages and a `WARNING:` that is no WARN() splat.
    let log = "\
[    0.275581] WARNING: nvram corruption detected: 0-length partition
[    0.275822] nvram: Failed to find or create ibm,rtas-log partition, err -28
Linux ppc64le
#1 SMP Debian 6.[    0.276619] nvram: Failed to initialize oops partition!
BOOTMATRIX-DONE
[    3.465165] reboot: Power down";
    assert_eq!(scan(log), vec![]);
}

#[test]
fn a_finding_is_found_in_interleaved_text_and_in_the_inits_own_copies() {
    let f = only(
        "#1 SMP Debian 6.[    0.3] BUG: Kernel NULL pointer dereference on read at 0x00000000",
    );
    assert_eq!(
        f.line,
        "BUG: Kernel NULL pointer dereference on read at 0x00000000"
    );
    let found = scan(
        &REFCOUNT_WARNING
            .lines()
            .map(|l| format!("BOOTMATRIX-KMSG {l}"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].message,
        vec!["refcount_t: underflow; use-after-free."]
    );
}

#[test]
fn the_harness_protocol_ends_a_trace_and_the_bound_ends_a_long_one() {
    let found = scan("watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [init:1]\nCall Trace:\nBOOTMATRIX-REPORT 0123 v=1\nnot a trace line");
    assert_eq!(found[0].trace, vec!["Call Trace:"]);
    let long: String = std::iter::once("Oops: Kernel access of bad area, sig: 11 [#1]".to_string())
        .chain(
            (0..500)
                .map(|i| format!("[c000000002a0f{i:03x}] [c000000000123456] frame_{i}+0x10/0x20")),
        )
        .collect::<Vec<_>>()
        .join("\n");
    let f = only(&long);
    assert_eq!(f.trace.len(), MAX_TRACE);
}

#[test]
fn a_cut_here_without_a_header_is_still_a_warning() {
    let found = scan("------------[ cut here ]------------\nsomething odd\nBOOTMATRIX-DONE");
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].kind, found[0].line.as_str()),
        (Kind::Warning, CUT_HERE)
    );
    assert_eq!(found[0].trace, vec!["something odd"]);
}

#[test]
fn each_kind_has_its_documented_severity() {
    use Kind::*;
    for k in [Oops, Bug, Kasan, Kfence] {
        assert_eq!(k.severity(), Severity::Fatal, "{k}");
    }
    for k in [
        Warning, Kcsan, Lockdep, RcuStall, SoftLockup, HardLockup, ErrMessage,
    ] {
        assert_eq!(k.severity(), Severity::Warning, "{k}");
    }
}

fn report_with(kmsg: &[(u8, &str)], total: u32) -> GuestReport {
    GuestReport {
        release: "6.1.0-50-powerpc64le".into(),
        mmu: None,
        mmu_word: "Radix".into(),
        page_size: None,
        cpu: "POWER9".into(),
        platform: "pSeries".into(),
        hypervisor: "none".into(),
        cmdline: "console=hvc0".into(),
        kmsg_err: Some(total),
        kmsg: kmsg
            .iter()
            .map(|(level, text)| KmsgLine {
                level: *level,
                text: text.to_string(),
            })
            .collect(),
    }
}

#[test]
fn the_reports_messages_become_findings_unless_the_console_showed_them_in_a_finding() {
    let mut obs = Observation::empty();
    for f in scan(NULL_DEREF) {
        obs.add_finding(f);
    }
    obs.add_report(report_with(
        &[
            (
                1,
                "BUG: Kernel NULL pointer dereference on read at 0x00000010",
            ),
            (3, "nvram: Failed to initialize oops partition!"),
        ],
        4,
    ));
    let kinds: Vec<(Kind, Option<u8>)> = obs.health.iter().map(|f| (f.kind, f.level)).collect();
    assert_eq!(
        kinds,
        vec![
            (Kind::Bug, None),
            (Kind::ErrMessage, Some(3)),
            (Kind::ErrMessage, Some(3))
        ],
        "{:#?}",
        obs.health
    );
    assert_eq!(
        obs.health[1].headline(),
        "kernel message at err: nvram: Failed to initialize oops partition!"
    );
    assert!(
        obs.health[2]
            .line
            .starts_with("2 more kernel messages at err or worse"),
        "{}",
        obs.health[2].line
    );
}

#[test]
fn a_finding_after_the_report_replaces_the_message_it_covers() {
    let mut obs = Observation::empty();
    obs.add_report(report_with(
        &[(
            0,
            "watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [init:1]",
        )],
        1,
    ));
    assert_eq!(obs.health.len(), 1);
    for f in scan("watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [init:1]\nCall Trace:") {
        obs.add_finding(f);
    }
    assert_eq!(
        obs.health.iter().map(|f| f.kind).collect::<Vec<_>>(),
        vec![Kind::SoftLockup]
    );
}

#[test]
fn a_kernel_that_warns_in_a_loop_does_not_fill_memory() {
    let mut obs = Observation::empty();
    let f = only(REFCOUNT_WARNING);
    for _ in 0..Observation::MAX_FINDINGS + 10 {
        obs.add_finding(f.clone());
    }
    assert_eq!(obs.health.len(), Observation::MAX_FINDINGS);
    assert!(obs.health.last().unwrap().trace.is_empty());
    assert!(!obs.health[0].trace.is_empty());
    assert_eq!(
        obs.health_dropped as usize,
        Observation::MAX_FINDINGS + 10 - Observation::MAX_FULL_FINDINGS
    );
}

const SUPPRESSIONS: &str = r"
# VOF firmware has no NVRAM partitions: Debian's kernel complains at every boot.
^nvram: Failed to
WARNING: CPU: \d+ PID: \d+ at lib/refcount\.c   # known refcount noise in this driver
\[\#1\]  # an escaped # stays in the pattern

# never seen
^BUG: KASAN: wild-memory-access   # guards against an old toolchain bug
";

#[test]
fn suppressions_need_a_reason_above_or_after_them() {
    let s = Suppressions::parse("noise.txt", SUPPRESSIONS).unwrap();
    let lines: Vec<(usize, &str, &str)> = s
        .entries
        .iter()
        .map(|e| (e.at.line, e.pattern.as_str(), e.at.reason.as_str()))
        .collect();
    assert_eq!(
        lines,
        vec![
            (
                3,
                "^nvram: Failed to",
                "VOF firmware has no NVRAM partitions: Debian's kernel complains at every boot."
            ),
            (
                4,
                r"WARNING: CPU: \d+ PID: \d+ at lib/refcount\.c",
                "known refcount noise in this driver"
            ),
            (5, r"\[\#1\]", "an escaped # stays in the pattern"),
            (
                8,
                r"^BUG: KASAN: wild-memory-access",
                "never seen guards against an old toolchain bug"
            ),
        ]
    );
}

#[rstest]
#[case::no_reason(
    "^nvram: Failed\n",
    "noise.txt:1: suppression `^nvram: Failed` has no reason"
)]
#[case::reason_not_adjacent("# why\n\n^nvram\n", "noise.txt:3: suppression `^nvram` has no reason")]
#[case::empty_comment("#\n^nvram\n", "noise.txt:2: suppression `^nvram` has no reason")]
#[case::bad_regex(
    "# why\nWARNING: (unclosed\n",
    "noise.txt:2: `WARNING: (unclosed` is not a regular expression"
)]
fn a_bad_suppressions_file_is_bad_input_naming_the_line(#[case] text: &str, #[case] says: &str) {
    let e = Suppressions::parse("noise.txt", text).unwrap_err();
    assert!(matches!(e, Error::BadInput(_)), "{e:?}");
    assert_eq!(e.exit_code(), 2);
    assert!(e.message().starts_with(says), "{}", e.message());
}

#[test]
fn suppressions_mark_what_they_match_and_the_unmatched_are_listed() {
    let s = Suppressions::parse("noise.txt", SUPPRESSIONS).unwrap();
    let mut obs = Observation::empty();
    for f in scan(REFCOUNT_WARNING).into_iter().chain(scan(NULL_DEREF)) {
        obs.add_finding(f);
    }
    obs.add_report(report_with(
        &[
            (3, "nvram: Failed to initialize oops partition!"),
            (3, "virtio_blk: bad disk"),
        ],
        2,
    ));
    s.apply(&mut obs.health);
    let marks: Vec<(Kind, Option<usize>)> = obs
        .health
        .iter()
        .map(|f| (f.kind, f.suppressed.as_ref().map(|b| b.line)))
        .collect();
    // The NULL dereference is matched through its trace's `[#1]`.
    assert_eq!(
        marks,
        vec![
            (Kind::Warning, Some(4)),
            (Kind::Bug, Some(5)),
            (Kind::ErrMessage, Some(3)),
            (Kind::ErrMessage, None)
        ]
    );
    assert!(!obs.health[0].counts() && obs.health[3].counts());
    let unmatched: Vec<usize> = s.unmatched(&obs.health).iter().map(|e| e.at.line).collect();
    assert_eq!(unmatched, vec![8]);
    let text = health::render(&obs.health);
    assert!(
        text.contains("[suppressed] WARNING: CPU: 0 PID: 57 at lib/refcount.c:28"),
        "{text}"
    );
    assert!(
        text.contains("(suppressed by noise.txt:4: known refcount noise in this driver)"),
        "{text}"
    );
    assert!(
        text.contains("[warning] kernel message at err: virtio_blk: bad disk"),
        "{text}"
    );
}

#[test]
fn a_bad_suppressions_file_stops_the_run_before_booting_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let m = common::matrix(
        dir.path(),
        "m",
        "[[cells]]\nname = \"c\"\nkernel = \"debian-64k\"\n",
    );
    let bad = dir.path().join("noise.txt");
    std::fs::write(&bad, "# fine\n^ok\n^no reason here\n").unwrap();
    let out = dir.path().join("out");
    let mut args = common::run_args(&m, &out);
    args.extend([
        "--suppressions".to_string(),
        bad.display().to_string(),
        "--warnings".into(),
        "fail".into(),
    ]);
    let r = common::bootmatrix().args(&args).output().unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "{}:3: suppression `^no reason here` has no reason",
            bad.display()
        )),
        "{err}"
    );
    assert!(!out.join("cells").exists(), "nothing booted");
    let missing = common::bootmatrix()
        .args(common::run_args(&m, &out))
        .args(["--suppressions", "/nonexistent/noise.txt"])
        .output()
        .unwrap();
    assert_eq!(
        missing.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}

#[test]
fn findings_are_shown_in_junit_and_the_summary_of_a_passing_cell() {
    use bootmatrix::model::Outcome;
    use bootmatrix::model::{Mmu, PageSize};
    use bootmatrix::report::{self, RunFacts};
    use bootmatrix::run::{Attempt, CellResult};
    use bootmatrix::verdict::{Status, Verdict};
    use std::path::Path;

    let m = bootmatrix::matrix::parse(
        Path::new("m.toml"),
        &format!(
            "{}\n[[cells]]\nname = \"warned\"\nkernel = \"debian-64k\"\n",
            common::HEADER
        ),
    )
    .unwrap();
    let cell = m.cells[0].clone();
    let mut obs = Observation::empty();
    for f in scan(REFCOUNT_WARNING).into_iter().chain(scan(KCSAN)) {
        obs.add_finding(f);
    }
    obs.add_report(report_with(
        &[(3, "nvram: Failed to initialize oops partition!")],
        1,
    ));
    Suppressions::parse("noise.txt", "^nvram: Failed to  # VOF has no NVRAM\n")
        .unwrap()
        .apply(&mut obs.health);
    let verdict = Verdict {
        status: Status::Passed,
        summary: "booted".into(),
        details: vec![],
    };
    let r = CellResult {
        name: "warned".into(),
        prediction: bootmatrix::rules::predict(&common::x86_host(), &cell),
        cell,
        expected: Outcome::Boots {
            mmu: Mmu::Radix,
            page_size: PageSize::K64,
        },
        verdict: verdict.clone(),
        attempts: vec![Attempt {
            verdict,
            seconds: 1.0,
            observation: Some(obs),
            exit_status: Some(0),
        }],
        flaky: false,
        dir: "/tmp/cells/warned".into(),
        argv: vec![],
        seconds: 1.0,
        timing: Default::default(),
        kernels: Vec::new(),
    };
    let h = common::x86_host();
    let facts = RunFacts {
        matrix: "m.toml".into(),
        matrix_sha256: "00".into(),
        suite: "m".into(),
        description: None,
        host: &h,
        host_kernel: None,
        started_unix: 0,
        seconds: 1.0,
        interrupted: false,
        flaky_fails: false,
        selection: report::results::Selection {
            filters: vec![],
            partition: None,
            cells: vec!["warned".into()],
        },
        image_sha256: Default::default(),
        out: "/tmp".into(),
    };
    let results = report::ResultsFile::from_run(std::slice::from_ref(&r), &facts);
    let xml = report::junit::render(&results, report::JunitFlavor::Full).unwrap();
    let case = common::testcase(&xml, "warned");
    for prop in [
        ("health-fatal", "0"),
        ("health-warnings", "2"),
        ("health-suppressed", "1"),
        ("kmsg-err", "1"),
    ] {
        assert!(
            case.contains(&format!(
                r#"<property name="{}" value="{}"/>"#,
                prop.0, prop.1
            )),
            "{prop:?}: {case}"
        );
    }
    assert!(case.contains("<system-out>--- kernel health ---\n[warning] WARNING: CPU: 0 PID: 57 at lib/refcount.c:28"), "{case}");
    assert!(case.contains("[warning] KCSAN report: BUG: KCSAN: data-race in do_sys_poll / tty_port_default_wakeup"), "{case}");
    assert!(
        case.contains("(suppressed by noise.txt:1: VOF has no NVRAM)"),
        "{case}"
    );
    let md = report::summary::markdown(&results);
    assert!(
        md.contains(
            "## Kernel health\n\n- `warned` (PASS):\n  - warning: `WARNING: CPU: 0 PID: 57"
        ),
        "{md}"
    );
    assert!(md.contains("  - suppressed by noise.txt:1: `kernel message at err: nvram: Failed to initialize oops partition!`"), "{md}");
}
