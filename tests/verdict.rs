//! Verdicts: the guest's own report against the cell, documented errors
//! against the expectation, and every way a watch can end.

mod common;

use std::path::Path;
use std::time::Duration;

use bootmatrix::console::{EndCause, Observation, SeenError, Stream};
use bootmatrix::model::{Cell, Mmu, PageSize};
use bootmatrix::payload::GuestReport;
use bootmatrix::verdict::{decide, Expected, Status};
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
                id: id.to_string(),
                line: line.to_string(),
                stream: Stream::QemuStderr,
            })
            .collect(),
        qemu_errors: vec![],
        oopses: vec![],
        console_tail: vec!["last words".into()],
        stderr_tail: vec![],
        elapsed: Duration::from_secs(6),
        marker_seen_at: None,
    }
}

const RADIX_64K: Expected = Expected::Boots {
    mmu: Mmu::Radix,
    page_size: PageSize::K64,
};
const PAGE_LINE: &str = "qemu-system-ppc64: Can't support 64 kiB guest pages with 4 kiB host pages with this KVM implementation";

fn page_error() -> Expected {
    Expected::Error {
        id: "hpt-page-size".into(),
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
