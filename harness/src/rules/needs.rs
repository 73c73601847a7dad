//! What this machine lacks to run a cell: the native side of readiness
//! (an emulated host's own limits are in [`crate::chain`]).

use super::flags::{hugepage_dir, Flags};
use super::probed_nested;
use crate::documented::DocumentedError;
use crate::host::HostFacts;
use crate::model::{Accel, Cell, Outcome};
use crate::readiness::Missing;

/// What this machine lacks to run the cell; empty when it can. Each
/// [`Missing`] carries its remedy.
pub(super) fn missing(host: &HostFacts, cell: &Cell, outcome: &Outcome, f: &Flags) -> Vec<Missing> {
    let g = &cell.guest;
    let mut out = Vec::new();
    let Some(qemu) = &host.qemu else {
        return vec![Missing::Qemu];
    };
    let machine_error = matches!(outcome, Outcome::Fails { error, .. } if *error == DocumentedError::UnsupportedMachine);
    if !machine_error && !qemu.machines.is_empty() && !qemu.machines.contains(&g.machine.name) {
        out.push(Missing::Machine {
            qemu: qemu.path.clone(),
            version: qemu.version,
            machine: g.machine.name.clone(),
        });
    }
    if g.accel == Accel::Tcg {
        return out;
    }
    if !host.is_power() {
        return vec![Missing::PowerKvm {
            accel: g.accel,
            arch: host.arch.clone(),
        }];
    }
    if let (Some(want), Some(have)) = (cell.host.mmu, host.mmu) {
        if want != have {
            out.push(Missing::HostMmu { want, have });
        }
    }
    if let Some(want) = cell.host.nested {
        if want != probed_nested(host) {
            out.push(Missing::Nesting { want });
        }
    }
    if cell.host.mmu.is_some() && host.mmu.is_none() {
        out.push(Missing::UnknownHostMmu);
    }
    if let (Some(want), Some(have)) = (cell.host.page_size, host.page_size) {
        if want != have {
            out.push(Missing::HostPageSize { want, have });
        }
    }
    if !qemu.accels.is_empty() && !qemu.accels.iter().any(|a| a == "kvm") {
        out.push(Missing::QemuWithoutKvm {
            qemu: qemu.path.clone(),
        });
    }
    match host.kvm.dev_kvm {
        crate::host::DevKvm::Missing => out.push(Missing::DevKvm { accel: g.accel }),
        crate::host::DevKvm::NoAccess => out.push(Missing::DevKvmAccess),
        crate::host::DevKvm::Usable => {}
    }
    // A module that is not loaded only matters when the cell must boot: the
    // row that predicts `PPC KVM module is not loaded` needs it absent.
    let expects_module_error = matches!(outcome, Outcome::Fails { error, .. } if *error == DocumentedError::KvmModuleNotLoaded);
    let loaded = if g.accel == Accel::KvmHv {
        host.kvm.hv_loaded
    } else {
        host.kvm.pr_loaded
    };
    if !loaded && !expects_module_error {
        let (refused, flavour) = if g.accel == Accel::KvmHv {
            (&host.kvm.hv_refused, crate::host::KvmFlavour::Hv)
        } else {
            (&host.kvm.pr_refused, crate::host::KvmFlavour::Pr)
        };
        out.push(Missing::KvmModule {
            accel: g.accel,
            refusal: refused.as_ref().map(|r| r.describe(flavour)),
        });
    }
    if f.mem_path.is_some() {
        if !host.hugetlbfs.iter().any(|m| m.writable) {
            out.push(Missing::Hugetlbfs);
        } else if let Some(size_kib) = host.hugepage_size_kib.filter(|k| *k > 0) {
            let dir = hugepage_dir(host);
            let same_size = host
                .hugetlbfs
                .iter()
                .find(|m| m.path == dir)
                .and_then(|m| m.page_size_kib)
                .is_none_or(|k| k == size_kib);
            let need = (u64::from(g.memory_mib) * 1024).div_ceil(size_kib);
            if same_size && host.hugepages_free < need {
                out.push(Missing::Hugepages {
                    guest_mib: g.memory_mib,
                    need,
                    size_kib,
                    free: host.hugepages_free,
                    total: host.hugepages_total,
                });
            }
        }
    }
    out
}
