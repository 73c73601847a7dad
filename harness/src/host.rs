//! What the machine under the harness can do: architecture, MMU, pages,
//! hugepages, KVM, qemu. Probing does I/O; [`HostFacts`] is plain data so
//! that [`crate::rules`] stays pure.

use serde::{Deserialize, Serialize};

use crate::model::{Mmu, PageSize};

/// Access to `/dev/kvm` for the current user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DevKvm {
    /// No `/dev/kvm` (no KVM module, or not a KVM-capable machine).
    Missing,
    /// It exists but this user cannot open it read-write.
    NoAccess,
    /// Usable.
    Usable,
}

/// KVM on this host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvmFacts {
    /// `/dev/kvm` access.
    pub dev_kvm: DevKvm,
    /// `kvm_hv` is loaded (`/sys/module/kvm_hv`).
    pub hv_loaded: bool,
    /// `kvm_pr` is loaded (`/sys/module/kvm_pr`).
    pub pr_loaded: bool,
}

/// A hugetlbfs mount point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HugetlbfsMount {
    /// Where it is mounted, e.g. `/dev/hugepages`.
    pub path: String,
    /// Its `pagesize=` option in KiB, when given (else the default size).
    pub page_size_kib: Option<u64>,
    /// True when this user can create files in it.
    pub writable: bool,
}

/// The qemu-system-ppc64 that will run the cells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QemuFacts {
    /// The binary.
    pub path: String,
    /// `(major, minor, micro)` from `--version`.
    pub version: (u32, u32, u32),
    /// Machine types from `-machine help`.
    pub machines: Vec<String>,
    /// Accelerators from `-accel help`.
    pub accels: Vec<String>,
}

/// Everything the rules need to know about level 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostFacts {
    /// `uname -m`: `x86_64`, `ppc64le`, `ppc64`.
    pub arch: String,
    /// The `cpu` line of /proc/cpuinfo on POWER, else the model name.
    pub cpu: Option<String>,
    /// POWER generation (8, 9, 10) when the host is POWER.
    pub power_generation: Option<u32>,
    /// `PowerNV` (bare metal) or `pSeries` (a guest), on POWER.
    pub platform: Option<String>,
    /// The host's MMU, on POWER.
    pub mmu: Option<Mmu>,
    /// The host kernel's base page size.
    pub page_size: Option<PageSize>,
    /// `Hugepagesize` from /proc/meminfo, in KiB.
    pub hugepage_size_kib: Option<u64>,
    /// `HugePages_Total`.
    pub hugepages_total: u64,
    /// `HugePages_Free`.
    pub hugepages_free: u64,
    /// Mounted hugetlbfs file systems.
    pub hugetlbfs: Vec<HugetlbfsMount>,
    /// KVM state.
    pub kvm: KvmFacts,
    /// The qemu that will run cells, if found.
    pub qemu: Option<QemuFacts>,
}

impl HostFacts {
    /// True on a POWER host.
    pub fn is_power(&self) -> bool {
        self.arch.starts_with("ppc64")
    }
}
