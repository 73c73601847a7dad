//! Verdicts: the guest's own report against the cell, documented errors
//! against the expectation, every way a watch can end, the guest kernel's
//! health, and the release the guest runs against the image's banner.

mod common;

use std::path::Path;
use std::time::Duration;

use bootmatrix::documented::DocumentedError;
use bootmatrix::health::{self, Suppressions};
use bootmatrix::model::{Cell, Mmu, Outcome, PageSize};
use bootmatrix::observation::{EndCause, Observation, SeenError, Stream};
use bootmatrix::payload::GuestReport;
use bootmatrix::verdict::{decide, decide_with, Checks, Status, WarningPolicy};
use rstest::rstest;

fn cell() -> Cell {
    let m = bootmatrix::matrix::parse(
        Path::new("m.toml"),
        &format!("{}\n[[cells]]\nname = \"c\"\nkernel = \"debian-64k\"\nrow = \"Radix host, 4 KiB pages / Radix guest (HV)\"\n", common::HEADER),
    )
    .unwrap();
    m.cells[0].clone()
}

fn report(mmu: &str, page_kib: u64) -> GuestReport {
    GuestReport {
        release: "6.1.0-50-powerpc64le".into(),
        mmu: Mmu::from_cpuinfo(mmu),
        mmu_word: mmu.into(),
        page_size: PageSize::from_bytes(page_kib * 1024),
        cpu: "POWER9".into(),
        platform: "pSeries".into(),
        hypervisor: "none".into(),
        cmdline: "console=hvc0".into(),
        kmsg_err: Some(0),
        kmsg: vec![],
    }
}

fn obs(cause: EndCause, report: Option<GuestReport>, errors: &[(&str, &str)]) -> Observation {
    Observation {
        cause,
        report,
        damaged_reports: 0,
        documented: errors
            .iter()
            .map(|(id, line)| SeenError {
                id: id.parse::<DocumentedError>().unwrap(),
                line: line.to_string(),
                stream: Stream::QemuStderr,
            })
            .collect(),
        qemu_errors: vec![],
        health: vec![],
        health_dropped: 0,
        console_tail: vec!["last words".into()],
        stderr_tail: vec![],
        elapsed: Duration::from_secs(6),
        marker_seen_at: None,
    }
}

const RADIX_64K: Outcome = Outcome::Boots {
    mmu: Mmu::Radix,
    page_size: PageSize::K64,
};
const PAGE_LINE: &str = "qemu-system-ppc64: Can't support 64 kiB guest pages with 4 kiB host pages with this KVM implementation";

fn page_error() -> Outcome {
    Outcome::Fails {
        error: DocumentedError::HptPageSize,
        message:
            "Can't support 64 kiB guest pages with 4 kiB host pages with this KVM implementation"
                .into(),
    }
}

#[test]
fn a_guest_that_reports_what_the_cell_asks_passes() {
    let v = decide(
        &cell(),
        &RADIX_64K,
        &obs(EndCause::Marker, Some(report("Radix", 64)), &[]),
    );
    assert_eq!(v.status, Status::Passed, "{v:?}");
    assert!(v
        .summary
        .contains("Radix MMU, 64k pages, kernel 6.1.0-50-powerpc64le"));
}

#[rstest]
#[case::wrong_mmu("Hash", 64, "MMU: guest reports `Hash`, cell expects `Radix`")]
#[case::wrong_page_size("Radix", 4, "page size: guest reports 4k, cell expects 64k")]
fn a_guest_that_reports_otherwise_fails_showing_both(
    #[case] mmu: &str,
    #[case] kib: u64,
    #[case] says: &str,
) {
    let v = decide(
        &cell(),
        &RADIX_64K,
        &obs(EndCause::Marker, Some(report(mmu, kib)), &[]),
    );
    assert_eq!(v.status, Status::Failed);
    assert!(v.summary.contains(says), "{}", v.summary);
}

#[test]
fn a_marker_without_an_intact_report_fails() {
    let mut o = obs(EndCause::Marker, None, &[]);
    o.damaged_reports = 2;
    let v = decide(&cell(), &RADIX_64K, &o);
    assert_eq!(v.status, Status::Failed);
    assert!(v.summary.contains("damaged"));
}

#[test]
fn the_expected_documented_error_passes() {
    let v = decide(
        &cell(),
        &page_error(),
        &obs(
            EndCause::QemuExited(Some(1)),
            None,
            &[("hpt-page-size", PAGE_LINE)],
        ),
    );
    assert_eq!(v.status, Status::Passed, "{v:?}");
    assert!(v.summary.contains("Can't support 64 kiB guest pages"));
}

#[test]
fn booting_where_the_documentation_says_fail_is_drift_naming_the_row() {
    let v = decide(
        &cell(),
        &page_error(),
        &obs(EndCause::Marker, Some(report("Radix", 64)), &[]),
    );
    assert_eq!(v.status, Status::Failed);
    assert!(
        v.summary
            .starts_with("documentation drift: Radix host, 4 KiB pages / Radix guest (HV)"),
        "{}",
        v.summary
    );
    assert!(v.summary.contains("hpt-page-size"));
}

#[test]
fn another_documented_error_fails_showing_both() {
    let rma = "qemu-system-ppc64: Unable to create 1024MiB RMA (VRMA only allows 256MiB";
    let v = decide(
        &cell(),
        &page_error(),
        &obs(EndCause::QemuExited(Some(1)), None, &[("rma-limit", rma)]),
    );
    assert_eq!(v.status, Status::Failed);
    assert!(
        v.summary.contains("rma-limit") && v.summary.contains("Unable to create 1024MiB RMA"),
        "{}",
        v.summary
    );
    assert!(
        v.details
            .iter()
            .any(|d| d.contains("expected: fails with hpt-page-size")),
        "{:?}",
        v.details
    );
}

#[rstest]
#[case::timeout(
    EndCause::Timeout,
    "timed out after 120 s without the marker; last console line: last words"
)]
#[case::panic(EndCause::Panic("Kernel panic - not syncing: VFS".into()), "the guest kernel panicked: Kernel panic - not syncing: VFS")]
#[case::killed(
    EndCause::QemuExited(Some(137)),
    "qemu exited (status 137) before the marker"
)]
fn a_watch_that_ends_without_the_marker_fails(#[case] cause: EndCause, #[case] says: &str) {
    let v = decide(&cell(), &RADIX_64K, &obs(cause, None, &[]));
    assert_eq!(v.status, Status::Failed);
    assert_eq!(v.summary, says);
}

#[test]
fn an_interrupted_cell_is_neither_passed_nor_failed() {
    let v = decide(&cell(), &RADIX_64K, &obs(EndCause::Interrupted, None, &[]));
    assert_eq!(v.status, Status::Interrupted);
}

const OOPS: &str = "\
[    2.100000] BUG: Kernel NULL pointer dereference on read at 0x00000000
[    2.100100] Faulting instruction address: 0xc000000000123456
[    2.100200] Oops: Kernel access of bad area, sig: 11 [#1]
[    2.100300] NIP [c000000000123456] bootmatrix_fault+0x16/0x40
[    2.100400] ---[ end trace 0000000000000000 ]---";

const WARNING: &str = "\
[    2.200000] ------------[ cut here ]------------
[    2.200100] WARNING: CPU: 0 PID: 1 at drivers/misc/bootmatrix.c:42 bootmatrix_fault+0x1c/0x40
[    2.200200] Call Trace:
[    2.200300] ---[ end trace 0000000000000000 ]---";

/// A guest that booted as expected and whose console showed `log`.
fn booted_with(log: &str) -> Observation {
    let mut o = obs(EndCause::Marker, Some(report("Radix", 64)), &[]);
    for f in health::recognise(log.lines()) {
        o.add_finding(f);
    }
    o
}

fn checks(warnings: WarningPolicy) -> Checks {
    Checks {
        warnings,
        expected_release: None,
    }
}

#[test]
fn an_oops_fails_the_cell_even_though_the_marker_followed() {
    let v = decide(&cell(), &RADIX_64K, &booted_with(OOPS));
    assert_eq!(v.status, Status::Failed, "{v:?}");
    assert_eq!(v.summary, "the guest kernel reported a fatal BUG: BUG: Kernel NULL pointer dereference on read at 0x00000000");
    assert!(
        v.details
            .iter()
            .any(|d| d.contains("reached its marker afterwards")),
        "{:?}",
        v.details
    );
    assert!(
        v.details
            .iter()
            .any(|d| d.contains("bootmatrix_fault+0x16/0x40")),
        "the trace is shown: {:?}",
        v.details
    );
}

#[test]
fn an_oops_before_a_timeout_is_shown_with_the_timeout() {
    let mut o = booted_with(OOPS);
    o.cause = EndCause::Timeout;
    let v = decide(&cell(), &RADIX_64K, &o);
    assert_eq!(v.status, Status::Failed);
    assert!(v.summary.starts_with("timed out"), "{}", v.summary);
    assert!(
        v.details
            .iter()
            .any(|d| d.starts_with("the guest kernel reported a fatal BUG")),
        "{:?}",
        v.details
    );
}

#[test]
fn a_warning_is_reported_and_fails_the_cell_only_under_warnings_fail() {
    let o = booted_with(WARNING);
    let v = decide_with(&cell(), &RADIX_64K, &o, &checks(WarningPolicy::Report));
    assert_eq!(v.status, Status::Passed, "{v:?}");
    assert!(
        v.summary.ends_with("; 1 kernel warning reported"),
        "{}",
        v.summary
    );
    assert!(
        v.details
            .iter()
            .any(|d| d.contains("WARNING: CPU: 0 PID: 1 at drivers/misc/bootmatrix.c:42")),
        "{:?}",
        v.details
    );
    let v = decide_with(&cell(), &RADIX_64K, &o, &checks(WarningPolicy::Fail));
    assert_eq!(v.status, Status::Failed, "{v:?}");
    assert!(
        v.summary.contains("--warnings fail") && v.summary.contains("drivers/misc/bootmatrix.c:42"),
        "{}",
        v.summary
    );
    assert!(
        v.details
            .iter()
            .any(|d| d.starts_with("otherwise: booted in")),
        "{:?}",
        v.details
    );
}

#[test]
fn a_kernel_message_at_err_from_the_report_counts_as_a_warning() {
    let mut r = report("Radix", 64);
    r.kmsg_err = Some(1);
    r.kmsg = vec![bootmatrix::payload::KmsgLine {
        level: 3,
        text: "virtio_blk virtio1: failed to read capacity".into(),
    }];
    let mut o = obs(EndCause::Marker, None, &[]);
    o.add_report(r);
    let v = decide_with(&cell(), &RADIX_64K, &o, &checks(WarningPolicy::Fail));
    assert_eq!(v.status, Status::Failed);
    assert!(
        v.summary
            .contains("kernel message at err: virtio_blk virtio1: failed to read capacity"),
        "{}",
        v.summary
    );
}

#[test]
fn a_suppressed_warning_or_oops_does_not_fail_the_cell_and_says_why() {
    let s = Suppressions::parse("noise.txt", "# the test driver warns on purpose\nbootmatrix\\.c:42\n# and faults on purpose\nbootmatrix_fault\\+0x16\n").unwrap();
    let mut o = booted_with(&format!("{WARNING}\n{OOPS}"));
    s.apply(&mut o.health);
    let v = decide_with(&cell(), &RADIX_64K, &o, &checks(WarningPolicy::Fail));
    assert_eq!(v.status, Status::Passed, "{v:?}");
    assert!(!v.summary.contains("warning"), "{}", v.summary);
    assert!(
        v.details.iter().any(|d| d.starts_with(
            "suppressed by noise.txt:2 (the test driver warns on purpose): WARNING: CPU: 0"
        )),
        "{:?}",
        v.details
    );
    assert!(
        v.details
            .iter()
            .any(|d| d.starts_with("suppressed by noise.txt:4")),
        "{:?}",
        v.details
    );
}

#[test]
fn a_guest_running_another_release_than_the_images_banner_fails_showing_both() {
    let o = obs(EndCause::Marker, Some(report("Radix", 64)), &[]);
    let want = |release: &str| Checks {
        warnings: WarningPolicy::Report,
        expected_release: Some(release.into()),
    };
    let v = decide_with(&cell(), &RADIX_64K, &o, &want("6.12.9-powerpc64le"));
    assert_eq!(v.status, Status::Failed, "{v:?}");
    assert!(
        v.summary.contains("the guest runs kernel `6.1.0-50-powerpc64le`, but the kernel image's `Linux version` banner says `6.12.9-powerpc64le`"),
        "{}",
        v.summary
    );
    assert!(
        v.details
            .contains(&"guest `uname -r`: 6.1.0-50-powerpc64le".to_string()),
        "{:?}",
        v.details
    );
    assert!(
        v.details
            .contains(&"image banner:     6.12.9-powerpc64le".to_string()),
        "{:?}",
        v.details
    );
    assert_eq!(
        decide_with(&cell(), &RADIX_64K, &o, &want("6.1.0-50-powerpc64le")).status,
        Status::Passed
    );
}

#[test]
fn a_known_failure_that_fails_is_expected_and_one_that_passes_fails() {
    let mut c = cell();
    c.known_failure = Some("hangs on 6.12 (docs/emulated-hosts.md#hash-4k-hang)".into());
    let timeout = decide(&c, &RADIX_64K, &obs(EndCause::Timeout, None, &[]));
    assert_eq!(timeout.status, Status::Failed);
    let v = bootmatrix::verdict::against_known_failure(&c, timeout);
    assert_eq!(v.status, Status::Xfail, "{v:?}");
    assert!(v.summary.contains("hangs on 6.12"), "{v:?}");
    assert!(
        v.details
            .iter()
            .any(|d| d.starts_with("failed as known: timed out")),
        "{v:?}"
    );
    let pass = decide(
        &c,
        &RADIX_64K,
        &obs(EndCause::Marker, Some(report("Radix", 64)), &[]),
    );
    assert_eq!(pass.status, Status::Passed);
    let v = bootmatrix::verdict::against_known_failure(&c, pass);
    assert_eq!(v.status, Status::Failed);
    assert!(
        v.summary
            .starts_with("known failure now passes: remove the mark"),
        "{v:?}"
    );
    // Without a mark nothing changes.
    let plain = cell();
    let failed = decide(&plain, &RADIX_64K, &obs(EndCause::Timeout, None, &[]));
    assert_eq!(
        bootmatrix::verdict::against_known_failure(&plain, failed.clone()),
        failed
    );
}
