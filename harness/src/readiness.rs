//! What a machine lacks to run a cell, and how to get it: one vocabulary
//! for every "cannot run here". The rules ([`crate::rules`]) say what a cell
//! needs of a native host, the emulated-host code ([`crate::chain`]) what
//! an emulated host cannot do, `bootmatrix host` ([`crate::host`]) what the
//! machine lacks for whole rows; each names a [`Missing`] value, and its
//! remedy is written here once.

use std::fmt;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::model::{Accel, Mmu, PageSize};

/// One thing a cell needs that the machine does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// No qemu-system-ppc64 at all.
    Qemu,
    /// qemu lacks the cell's machine type.
    Machine {
        /// qemu's path.
        qemu: String,
        /// Its version.
        version: (u32, u32, u32),
        /// The machine asked for.
        machine: String,
    },
    /// KVM rows need a POWER host; this one is another architecture.
    PowerKvm {
        /// The accelerator the cell asks for.
        accel: Accel,
        /// `uname -m` of this host.
        arch: String,
    },
    /// The row is about another host MMU.
    HostMmu {
        /// The MMU the row needs.
        want: Mmu,
        /// The one this host runs.
        have: Mmu,
    },
    /// The row needs a nested host (an L1), or bare metal.
    Nesting {
        /// True when the row needs the host to be a KVM guest.
        want: bool,
    },
    /// The row depends on the host MMU and the probe could not read it.
    UnknownHostMmu,
    /// The row is about another host page size.
    HostPageSize {
        /// The page size the row needs.
        want: PageSize,
        /// The one this host's kernel has.
        have: PageSize,
    },
    /// qemu was built without KVM.
    QemuWithoutKvm {
        /// qemu's path.
        qemu: String,
    },
    /// No /dev/kvm.
    DevKvm {
        /// The accelerator the cell asks for.
        accel: Accel,
    },
    /// /dev/kvm exists but this user cannot open it.
    DevKvmAccess,
    /// The KVM flavour the cell needs is not usable: KVM refused a VM of
    /// its type (not built in nor loaded, or refusing this machine).
    KvmModule {
        /// The accelerator the cell asks for.
        accel: Accel,
        /// KVM's refusal as the probe described it, when it asked.
        refusal: Option<String>,
    },
    /// No writable hugetlbfs mount for `-mem-path`.
    Hugetlbfs,
    /// Too few free hugepages for the guest's RAM.
    Hugepages {
        /// Guest RAM, MiB.
        guest_mib: u32,
        /// Hugepages it needs.
        need: u64,
        /// Their size, KiB.
        size_kib: u64,
        /// How many are free.
        free: u64,
        /// How many are reserved in all.
        total: u64,
    },
    /// qemu cannot emulate the host kind.
    EmulatedMachine {
        /// The qemu machine an emulated host needs (`powernv9`).
        machine: String,
        /// qemu's version.
        version: (u32, u32, u32),
    },
    /// The guest does not fit the emulated host's RAM.
    HostMemory {
        /// Guest RAM, MiB.
        guest_mib: u32,
        /// Host RAM, MiB.
        host_mib: u32,
    },
    /// The cell is marked `known_failure` and known failures are skipped.
    KnownFailure {
        /// The mark's reason.
        reason: String,
    },
    /// A measured limitation of emulated hosts, from the matrix.
    KnownLimitation {
        /// The matrix's reason.
        reason: String,
    },
}

fn flavour(accel: Accel) -> &'static str {
    match accel {
        Accel::KvmPr => "KVM-PR",
        _ => "KVM-HV",
    }
}

fn module(accel: Accel) -> &'static str {
    match accel {
        Accel::KvmPr => "kvm_pr",
        _ => "kvm_hv",
    }
}

/// How the Void summary names a host MMU.
pub fn mmu_word(mmu: Mmu) -> &'static str {
    match mmu {
        Mmu::Radix => "Radix",
        Mmu::Hpt => "HPT",
    }
}

/// How the Void summary names a page size.
pub fn pages_word(p: PageSize) -> &'static str {
    match p {
        PageSize::K4 => "4 KiB pages",
        PageSize::K64 => "64 KiB pages",
    }
}

/// How to install qemu: the remedy wherever qemu is missing.
pub const INSTALL_QEMU: &str = "install qemu: Debian 12 `apt-get install -t bookworm-backports \
     qemu-system-ppc` (bookworm itself has 7.2), or run ci/setup-debian.sh; Void `xbps-install -S qemu`";
/// How to get access to /dev/kvm.
pub const KVM_GROUP: &str =
    "add the user to the kvm group (usermod -aG kvm $USER), then log out and in";
/// How to mount hugetlbfs where `-mem-path` looks for it.
pub const MOUNT_HUGETLBFS: &str = "mount -t hugetlbfs hugetlbfs /dev/hugepages; \
     chown root:kvm /dev/hugepages; chmod 1770 /dev/hugepages";

/// The command that reserves `n` hugepages.
pub fn reserve_hugepages(n: u64) -> String {
    format!("sysctl vm.nr_hugepages={n}")
}

impl Missing {
    /// What is missing, for this cell, in one clause.
    pub fn what(&self) -> String {
        match self {
            Missing::Qemu => "qemu-system-ppc64 not found".into(),
            Missing::Machine {
                version, machine, ..
            } => format!(
                "qemu {}.{}.{} has no machine `{machine}`",
                version.0, version.1, version.2
            ),
            Missing::PowerKvm { accel, arch } => format!(
                "{accel} needs a POWER host with /dev/kvm; this host is {arch}"
            ),
            Missing::HostMmu { want, have } => format!(
                "the row needs a {} host; this host runs {}",
                mmu_word(*want),
                mmu_word(*have)
            ),
            Missing::Nesting { want: true } => {
                "the row is a nested scenario: it needs a host that is itself a KVM guest (a pSeries L1 \
                 started with cap-nested-hv=on); this host is bare metal"
                    .into()
            }
            Missing::Nesting { want: false } => {
                "the row needs a bare-metal host; this host is a pSeries guest (an L1)".into()
            }
            Missing::UnknownHostMmu => {
                "cannot tell this host's MMU (no MMU line in /proc/cpuinfo)".into()
            }
            Missing::HostPageSize { want, have } => format!(
                "the row needs a host kernel with {}; this one has {}",
                pages_word(*want),
                pages_word(*have)
            ),
            Missing::QemuWithoutKvm { qemu } => {
                format!("{qemu} was built without KVM (`-accel help` lists no kvm)")
            }
            Missing::DevKvm { .. } => "/dev/kvm is missing".into(),
            Missing::DevKvmAccess => "/dev/kvm is not accessible to this user".into(),
            Missing::KvmModule { accel, refusal } => match refusal {
                Some(why) => format!("{} is not usable ({why})", flavour(*accel)),
                None => format!("{} is not usable ({} is not loaded)", flavour(*accel), module(*accel)),
            },
            Missing::Hugetlbfs => "no writable hugetlbfs mount".into(),
            Missing::Hugepages {
                guest_mib,
                need,
                size_kib,
                free,
                ..
            } => format!(
                "{guest_mib} MiB of guest RAM needs {need} free hugepages of {size_kib} KiB, {free} are free"
            ),
            Missing::EmulatedMachine { machine, version } => format!(
                "qemu {}.{}.{} has no `{machine}` machine to emulate the host",
                version.0, version.1, version.2
            ),
            Missing::HostMemory {
                guest_mib,
                host_mib,
            } => format!(
                "the guest's {guest_mib} MiB do not fit the emulated host's {host_mib} MiB with room for the host"
            ),
            Missing::KnownFailure { reason } => format!("known failure: {reason}"),
            Missing::KnownLimitation { reason } => format!(
                "known limitation of emulated hosts (the matrix's [[emulation.limitations]]): {reason}"
            ),
        }
    }

    /// What to do about it.
    pub fn remedy(&self) -> String {
        match self {
            Missing::Qemu => INSTALL_QEMU.into(),
            Missing::Machine { qemu, .. } => {
                format!("see `{qemu} -machine help`; use a qemu that has it (--qemu)")
            }
            Missing::PowerKvm { accel, .. } => match accel {
                Accel::KvmPr => {
                    "run this row on a POWER8 runner, or a POWER9 booted with disable_radix".into()
                }
                _ => "run this row on a POWER9 runner".into(),
            },
            Missing::HostMmu { want, .. } => match want {
                Mmu::Hpt => "boot the host with disable_radix on its kernel command line".into(),
                Mmu::Radix => "boot a POWER9 or newer host without disable_radix".into(),
            },
            Missing::Nesting { want: true } => {
                "run the row inside a pSeries guest, or with --hosts emulated".into()
            }
            Missing::Nesting { want: false } => "run the row on bare metal".into(),
            Missing::UnknownHostMmu => "check /proc/cpuinfo on this host".into(),
            Missing::HostPageSize { want, .. } => format!("boot a {} kernel", pages_word(*want)),
            Missing::QemuWithoutKvm { .. } => {
                "install a qemu-system-ppc64 built with KVM (the distribution package on a POWER host)"
                    .into()
            }
            Missing::DevKvm { accel } => format!("modprobe {}", module(*accel)),
            Missing::DevKvmAccess => KVM_GROUP.into(),
            Missing::KvmModule { accel, .. } => match accel {
                Accel::KvmPr => "KVM-PR must be built into the host kernel or loaded (modprobe kvm_pr), \
                                 on an HPT host (boot with disable_radix)"
                    .into(),
                _ => "KVM-HV must be built into the host kernel or loaded (modprobe kvm_hv); \
                      in a guest, its host must offer nesting (cap-nested-hv=on) and it must be Radix"
                    .into(),
            },
            Missing::Hugetlbfs => MOUNT_HUGETLBFS.into(),
            Missing::Hugepages {
                need, free, total, ..
            } => reserve_hugepages(total + need - free),
            Missing::EmulatedMachine { .. } => {
                "install qemu 10.x (ci/setup-debian.sh), which has it".into()
            }
            Missing::HostMemory { .. } => "raise host_memory".into(),
            Missing::KnownLimitation { .. } => {
                "drop the matrix's entry to test whether it still holds".into()
            }
            Missing::KnownFailure { .. } => {
                "run with --known-failures run to check whether it still fails".into()
            }
        }
    }

    /// A short kebab-case name of the kind, for tools.
    pub fn kind(&self) -> &'static str {
        match self {
            Missing::Qemu => "qemu",
            Missing::Machine { .. } => "machine",
            Missing::PowerKvm { .. } => "power-kvm",
            Missing::HostMmu { .. } => "host-mmu",
            Missing::Nesting { .. } => "nesting",
            Missing::UnknownHostMmu => "unknown-host-mmu",
            Missing::HostPageSize { .. } => "host-page-size",
            Missing::QemuWithoutKvm { .. } => "qemu-without-kvm",
            Missing::DevKvm { .. } => "dev-kvm",
            Missing::DevKvmAccess => "dev-kvm-access",
            Missing::KvmModule { .. } => "kvm-module",
            Missing::Hugetlbfs => "hugetlbfs",
            Missing::Hugepages { .. } => "hugepages",
            Missing::EmulatedMachine { .. } => "emulated-machine",
            Missing::HostMemory { .. } => "host-memory",
            Missing::KnownLimitation { .. } => "known-limitation",
            Missing::KnownFailure { .. } => "known-failure",
        }
    }
}

impl fmt::Display for Missing {
    /// `<what>: <remedy>`; a host of the wrong architecture reads `<what> —
    /// <remedy>`, since its remedy is another machine altogether.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sep = match self {
            Missing::PowerKvm { .. } => " — ",
            Missing::HostMmu { .. } | Missing::HostPageSize { .. } => " — ",
            _ => ": ",
        };
        write!(f, "{}{sep}{}", self.what(), self.remedy())
    }
}

impl Serialize for Missing {
    /// `{ "kind", "what", "remedy" }`: what tools and `plan --format json`
    /// need, each reason with its remedy.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Missing", 3)?;
        st.serialize_field("kind", self.kind())?;
        st.serialize_field("what", &self.what())?;
        st.serialize_field("remedy", &self.remedy())?;
        st.end()
    }
}

/// Every reason a cell cannot run, as one skip message.
pub fn skip_reason(missing: &[Missing]) -> Option<String> {
    if missing.is_empty() {
        None
    } else {
        Some(
            missing
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_says_what_and_how() {
        let all = [
            Missing::Qemu,
            Missing::DevKvmAccess,
            Missing::Hugetlbfs,
            Missing::KvmModule {
                accel: Accel::KvmPr,
                refusal: None,
            },
            Missing::PowerKvm {
                accel: Accel::KvmHv,
                arch: "x86_64".into(),
            },
        ];
        for m in &all {
            assert!(!m.what().is_empty() && !m.remedy().is_empty(), "{m:?}");
            let json = serde_json::to_value(m).unwrap();
            assert_eq!(json["remedy"], m.remedy());
        }
        assert_eq!(
            all[4].to_string(),
            "kvm-hv needs a POWER host with /dev/kvm; this host is x86_64 — run this row on a POWER9 runner"
        );
        assert!(
            all[3].to_string().starts_with(
                "KVM-PR is not usable (kvm_pr is not loaded): KVM-PR must be built into the host kernel or loaded"
            ),
            "{}",
            all[3]
        );
        // With the probe's answer, the reason is KVM's own refusal.
        let refused = Missing::KvmModule {
            accel: Accel::KvmPr,
            refusal: Some("KVM_CREATE_VM with type 2 refused: EINVAL (Invalid argument)".into()),
        };
        assert!(refused
            .to_string()
            .starts_with("KVM-PR is not usable (KVM_CREATE_VM with type 2 refused: EINVAL"));
        assert_eq!(
            skip_reason(&all[1..3]).unwrap(),
            format!("/dev/kvm is not accessible to this user: {KVM_GROUP}; no writable hugetlbfs mount: {MOUNT_HUGETLBFS}")
        );
        assert_eq!(skip_reason(&[]), None);
    }
}
