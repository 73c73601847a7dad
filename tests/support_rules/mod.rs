//! Small constructors for the rules and host tests: hosts as the compatibility
//! table names them, and cells built from a row's words. Kept apart from
//! other developers' `tests/support/`.
#![allow(dead_code, unused_imports)]

use std::collections::BTreeMap;
use std::time::Duration;

use bootmatrix::host::{DevKvm, HostFacts, KvmFacts, KvmRefusal, QemuFacts};
use bootmatrix::model::Outcome;
use bootmatrix::model::{
    Accel, Cell, Expectation, Firmware, Fix, Guest, HostKind, HostSpec, Kernel, Machine, Mmu,
    PageSize,
};
use bootmatrix::rules::{self, Prediction};

pub use Accel::{KvmHv as HV, KvmPr as PR, Tcg as TCG};
pub use Mmu::{Hpt as HPT, Radix as RADIX};
pub use PageSize::{K4, K64};

/// A bare-metal POWER9 host on this row, ready for every KVM cell.
pub fn power9(mmu: Mmu, page: PageSize) -> HostFacts {
    HostFacts::ready_power9(mmu, page)
}

/// A POWER9 pSeries guest (an L1) on this row: the host of the nested
/// scenarios. kvm_hv loads only in a Radix L1, kvm_pr only in an HPT one.
pub fn l1_guest(mmu: Mmu, page: PageSize) -> HostFacts {
    let mut h = HostFacts::ready_power9(mmu, page);
    h.platform = Some(bootmatrix::model::Platform::PSeries);
    h.kvm.hv_loaded = mmu == Mmu::Radix;
    h.kvm.pr_loaded = mmu == Mmu::Hpt;
    h
}

/// This kind of CI machine: x86-64 with its own /dev/kvm and qemu 10.0.2
/// that has TCG only.
pub fn x86() -> HostFacts {
    HostFacts {
        arch: "x86_64".into(),
        cpu: Some("AMD EPYC 7B13".into()),
        power_generation: None,
        platform: None,
        model: None,
        mmu: None,
        page_size: Some(PageSize::K4),
        hugepage_size_kib: Some(2048),
        hugepages_total: 0,
        hugepages_free: 0,
        hugetlbfs: vec![],
        kvm: KvmFacts {
            dev_kvm: DevKvm::Usable,
            hv_loaded: false,
            pr_loaded: false,
            hv_refused: Some(KvmRefusal::NotPower),
            pr_refused: Some(KvmRefusal::NotPower),
            htm: None,
            pr_mmu_notifiers: None,
        },
        qemu: Some(QemuFacts {
            path: "/usr/bin/qemu-system-ppc64".into(),
            version: (10, 0, 2),
            machines: HostFacts::ready_power9(Mmu::Radix, PageSize::K4)
                .qemu
                .unwrap()
                .machines,
            accels: vec!["tcg".into()],
        }),
    }
}

/// `host` with qemu at another version (machine list left as is).
pub fn with_qemu(mut host: HostFacts, version: (u32, u32, u32)) -> HostFacts {
    if let Some(q) = host.qemu.as_mut() {
        q.version = version;
        if version < (9, 2, 0) {
            q.machines.push("pseries-2.11".into());
            q.machines.push("pseries-2.12".into());
        }
    }
    host
}

/// A cell for `accel`, guest `mmu` and kernel `page`, on the host row
/// `host_row` (None: any), with `fixes`; pseries, 2048 MiB, expect predicted.
pub fn cell(
    host_row: Option<(Mmu, PageSize)>,
    accel: Accel,
    mmu: Mmu,
    page: PageSize,
    fixes: &[Fix],
) -> Cell {
    Cell {
        name: format!("{accel}/{mmu}/{page}"),
        host: HostSpec {
            kind: HostKind::Native,
            mmu: host_row.map(|r| r.0),
            page_size: host_row.map(|r| r.1),
            nested: None,
            kernel: None,
            memory_mib: None,
            inner_qemu: None,
            emulated_kind: None,
            emulated_kernel: None,
        },
        guest: Guest {
            kernel: Kernel {
                name: format!("debian-{page}"),
                image: format!("debian-kernel-{page}"),
                page_size: page,
                kvm_pr: false,
                emulated_hugepages: false,
                kvm_pr_mmu_notifiers: true,
            },
            busybox: "debian-busybox".into(),
            mmu,
            accel,
            machine: Machine::pseries(),
            caps: BTreeMap::new(),
            fixes: fixes.to_vec(),
            memory_mib: 2048,
            smp: 1,
            cpu: None,
            max_cpu_compat: None,
            firmware: Firmware::Slof,
            append: vec![],
        },
        expect: Expectation::Predicted,
        timeout: Duration::from_secs(300),
        row: None,
        line: 1,
        known_failure: None,
    }
}

/// The fixes by their matrix names.
pub const HPT_CAP: Fix = Fix::HptMaxPageSize;
pub const HUGE: Fix = Fix::Hugepages;
pub const NESTED: Fix = Fix::NestedHv;
pub const PR_CAPS: Fix = Fix::PrCaps;
pub const HTM_OFF: Fix = Fix::HtmOff;

/// What a test wants: a boot in this MMU, or this documented error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Boots(Mmu),
    Fails(&'static str),
}

/// The prediction's outcome in the terms of [`Want`].
pub fn got(p: &Prediction) -> Want {
    match &p.outcome {
        Outcome::Boots { mmu, .. } => Want::Boots(*mmu),
        Outcome::Fails { error, .. } => Want::Fails(error.id()),
    }
}

/// The failure message, or panics with the outcome.
pub fn message(p: &Prediction) -> String {
    match &p.outcome {
        Outcome::Fails { message, .. } => message.clone(),
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// The `-machine` properties as `key=value` words.
pub fn props(p: &Prediction) -> Vec<String> {
    p.machine_props
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

/// Predicts `cell` on `host` and checks the documented error's text is
/// recognised by its own pattern (a message the console watcher would miss
/// is a bug in the rules).
pub fn predict(host: &HostFacts, cell: &Cell) -> Prediction {
    let p = rules::predict(host, cell);
    if let Outcome::Fails { error, message } = &p.outcome {
        assert!(
            error.matches(message),
            "{error}: pattern does not match the predicted message {message:?}"
        );
    }
    p
}
