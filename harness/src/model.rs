//! The domain vocabulary: MMU modes, page sizes, accelerators, machines,
//! guests, hosts and the cell that ties them together.
//!
//! Everything here is plain data with no I/O, so that the rules, the command
//! generator and the reports can be tested without booting anything. The
//! matrix parser ([`crate::matrix`]) is the only producer of [`Cell`]s.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::documented::DocumentedError;

/// How a POWER CPU translates addresses. A kernel picks one at boot, among
/// those the platform offers (`disable_radix` asks for HPT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mmu {
    /// The multilevel page table of POWER9 and newer.
    Radix,
    /// The hashed page table (HPT) of every POWER generation.
    Hpt,
}

impl Mmu {
    /// The word Linux prints in `/proc/cpuinfo` (`MMU : Radix` / `MMU : Hash`).
    pub fn cpuinfo_word(self) -> &'static str {
        match self {
            Mmu::Radix => "Radix",
            Mmu::Hpt => "Hash",
        }
    }

    /// Parses the `/proc/cpuinfo` word back.
    pub fn from_cpuinfo(word: &str) -> Option<Mmu> {
        match word.trim() {
            "Radix" => Some(Mmu::Radix),
            "Hash" => Some(Mmu::Hpt),
            _ => None,
        }
    }

    /// The spelling used in matrices and cell names.
    pub fn as_str(self) -> &'static str {
        match self {
            Mmu::Radix => "radix",
            Mmu::Hpt => "hpt",
        }
    }
}

impl fmt::Display for Mmu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mmu {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "radix" => Ok(Mmu::Radix),
            "hpt" | "hash" => Ok(Mmu::Hpt),
            _ => Err(format!("unknown MMU `{s}` (expected `radix` or `hpt`)")),
        }
    }
}

/// A kernel's base page size (`CONFIG_PPC_4K_PAGES` / `CONFIG_PPC_64K_PAGES`).
/// Void ships 4 KiB kernels; most other distributions ship 64 KiB ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PageSize {
    /// 4 KiB base pages.
    #[serde(rename = "4k")]
    K4,
    /// 64 KiB base pages.
    #[serde(rename = "64k")]
    K64,
}

impl PageSize {
    /// Size in bytes.
    pub fn bytes(self) -> u64 {
        match self {
            PageSize::K4 => 4096,
            PageSize::K64 => 65536,
        }
    }

    /// Size in KiB, as QEMU's messages print it.
    pub fn kib(self) -> u64 {
        self.bytes() / 1024
    }

    /// Maps a byte count (AT_PAGESZ, `KernelPageSize`) to a page size.
    pub fn from_bytes(bytes: u64) -> Option<PageSize> {
        match bytes {
            4096 => Some(PageSize::K4),
            65536 => Some(PageSize::K64),
            _ => None,
        }
    }

    /// The spelling used in matrices and cell names.
    pub fn as_str(self) -> &'static str {
        match self {
            PageSize::K4 => "4k",
            PageSize::K64 => "64k",
        }
    }
}

impl fmt::Display for PageSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PageSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "4k" | "4kib" | "4096" => Ok(PageSize::K4),
            "64k" | "64kib" | "65536" => Ok(PageSize::K64),
            _ => Err(format!("unknown page size `{s}` (expected `4k` or `64k`)")),
        }
    }
}

/// Parses a QEMU size value (`4096`, `4k`, `64K`, `16M`) into bytes, the way
/// `cap-hpt-max-page-size` and hugetlbfs' `pagesize=` accept it.
pub fn parse_size(value: &str) -> Option<u64> {
    let v = value.trim();
    let digits_end = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let n: u64 = v[..digits_end].parse().ok()?;
    let shift = match v[digits_end..].to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

/// The POWER generation a CPU name says, whether QEMU's `-cpu` model
/// (`POWER9`, `power9_v2.0`) or the `cpu` line of `/proc/cpuinfo`
/// (`POWER9 (raw)`, `POWER8E (raw)`, `POWER10 (architected)`): 9, 8, 10.
/// `None` for anything that is not a POWER CPU (`PPC970MP`, `host`).
pub fn power_generation(cpu: &str) -> Option<u32> {
    let lower = cpu.trim().to_ascii_lowercase();
    let rest = lower.strip_prefix("power")?;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// What a POWER machine runs on, as the `platform` line of `/proc/cpuinfo`
/// says: bare metal in hypervisor mode, or a guest of a hypervisor. The
/// nested rows of the table need the latter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Platform {
    /// `PowerNV`: bare metal (or qemu's `powernv*` machines), the kernel is
    /// the hypervisor.
    PowerNv,
    /// `pSeries`: a guest under PowerVM or KVM (an L1 of the nested rows).
    PSeries,
    /// Anything else the kernel prints, kept verbatim.
    Other(String),
}

impl Platform {
    /// The word `/proc/cpuinfo` prints.
    pub fn as_str(&self) -> &str {
        match self {
            Platform::PowerNv => "PowerNV",
            Platform::PSeries => "pSeries",
            Platform::Other(s) => s,
        }
    }
}

impl From<String> for Platform {
    fn from(s: String) -> Platform {
        match s.as_str() {
            "PowerNV" => Platform::PowerNv,
            "pSeries" => Platform::PSeries,
            _ => Platform::Other(s),
        }
    }
}

impl From<Platform> for String {
    fn from(p: Platform) -> String {
        p.as_str().to_string()
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the guest's CPU is provided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Accel {
    /// QEMU's software emulation: runs anywhere, checks nothing about pages.
    #[serde(rename = "tcg")]
    Tcg,
    /// `kvm_hv`: hardware virtualization, POWER7 and later, bare metal or a
    /// nested-capable Radix guest.
    #[serde(rename = "kvm-hv")]
    KvmHv,
    /// `kvm_pr`: problem-state virtualization, needs an HPT host.
    #[serde(rename = "kvm-pr")]
    KvmPr,
}

impl Accel {
    /// The spelling used in matrices and cell names.
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Tcg => "tcg",
            Accel::KvmHv => "kvm-hv",
            Accel::KvmPr => "kvm-pr",
        }
    }

    /// True for both KVM flavours.
    pub fn is_kvm(self) -> bool {
        !matches!(self, Accel::Tcg)
    }
}

impl fmt::Display for Accel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Accel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tcg" => Ok(Accel::Tcg),
            "kvm-hv" => Ok(Accel::KvmHv),
            "kvm-pr" => Ok(Accel::KvmPr),
            _ => Err(format!(
                "unknown accelerator `{s}` (expected `tcg`, `kvm-hv` or `kvm-pr`)"
            )),
        }
    }
}

/// The firmware a `pseries` guest starts under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Firmware {
    /// SLOF, what users get by default; qualification keeps it.
    #[default]
    Slof,
    /// QEMU's minimal Virtual Open Firmware (`x-vof=on`): about 3x faster to
    /// reach the kernel, for iteration and bisecting.
    Vof,
}

impl FromStr for Firmware {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "slof" => Ok(Firmware::Slof),
            "vof" => Ok(Firmware::Vof),
            _ => Err(format!("unknown firmware `{s}` (expected `slof` or `vof`)")),
        }
    }
}

/// A QEMU machine type such as `pseries`, `pseries-9.2` or `pseries-2.11`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Machine {
    /// The full name given to `-machine`.
    pub name: String,
}

impl Machine {
    /// `pseries` with no version: the newest one QEMU knows.
    pub fn pseries() -> Machine {
        Machine {
            name: "pseries".into(),
        }
    }

    /// The `(major, minor)` version of a versioned pseries machine, `None`
    /// for the unversioned alias (which means "latest").
    pub fn pseries_version(&self) -> Option<(u32, u32)> {
        let v = self.name.strip_prefix("pseries-")?;
        let (a, b) = v.split_once('.')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    }

    /// True for any `pseries` machine, versioned or not.
    pub fn is_pseries(&self) -> bool {
        self.name == "pseries" || self.name.starts_with("pseries-")
    }
}

impl FromStr for Machine {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let ok = s == "pseries"
            || s.strip_prefix("pseries-").is_some_and(|v| {
                v.split_once('.').is_some_and(|(a, b)| {
                    !a.is_empty()
                        && !b.is_empty()
                        && a.bytes().all(|c| c.is_ascii_digit())
                        && b.bytes().all(|c| c.is_ascii_digit())
                })
            });
        if ok {
            Ok(Machine {
                name: s.to_string(),
            })
        } else {
            Err(format!(
                "unknown machine `{s}` (expected `pseries` or `pseries-MAJOR.MINOR`)"
            ))
        }
    }
}

/// A documented fix that a cell asks for by name; the rules turn it into
/// flags (see [`crate::rules`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Fix {
    /// `cap-hpt-max-page-size=4096`: lets guests boot on 4 KiB-page KVM hosts.
    #[serde(rename = "hpt-max-page-size")]
    HptMaxPageSize,
    /// `-mem-path` on a hugetlbfs mount: lifts the VRMA limit for HPT guests.
    #[serde(rename = "hugepages")]
    Hugepages,
    /// `cap-nested-hv=on`: lets the guest run KVM-HV guests of its own.
    #[serde(rename = "nested-hv")]
    NestedHv,
    /// The caps KVM-PR cannot provide, turned off (`cap-fwnmi`,
    /// `cap-ail-mode-3`, `cap-large-decr`).
    #[serde(rename = "pr-caps")]
    PrCaps,
    /// `cap-htm=off`: old machine types turn transactional memory on.
    #[serde(rename = "htm-off")]
    HtmOff,
}

impl Fix {
    /// Every fix, in a stable order.
    pub const ALL: [Fix; 5] = [
        Fix::HptMaxPageSize,
        Fix::Hugepages,
        Fix::NestedHv,
        Fix::PrCaps,
        Fix::HtmOff,
    ];

    /// The spelling used in matrices.
    pub fn as_str(self) -> &'static str {
        match self {
            Fix::HptMaxPageSize => "hpt-max-page-size",
            Fix::Hugepages => "hugepages",
            Fix::NestedHv => "nested-hv",
            Fix::PrCaps => "pr-caps",
            Fix::HtmOff => "htm-off",
        }
    }
}

impl fmt::Display for Fix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Fix {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Fix::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Fix::ALL.iter().map(|f| format!("`{f}`")).collect();
                format!("unknown fix `{s}` (expected one of {})", names.join(", "))
            })
    }
}

/// A guest kernel as a matrix names it: which image holds it and what page
/// size it was built with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kernel {
    /// The matrix's name for it, e.g. `debian-64k`.
    pub name: String,
    /// The image description (`images/<image>.toml`) that provides vmlinux.
    pub image: String,
    /// The base page size it was built with.
    pub page_size: PageSize,
    /// Whether it has KVM-PR (`CONFIG_KVM_BOOK3S_64_PR`), as a host kernel.
    /// Debian's kernels do not.
    #[serde(default)]
    pub kvm_pr: bool,
    /// Whether, as the host kernel of an emulated powernv9 host, it gives
    /// hugepage-backed guests working hugepages. Stock kernels do not there:
    /// a Radix host disables HugeTLB (QEMU's device tree lists no Radix page
    /// sizes) and a 6.12 4 KiB hash host hangs such guests (16M VRMA
    /// refused); `images/kernel-host-*.toml` patch both. Without it those
    /// cells are skipped with the reason.
    #[serde(default)]
    pub emulated_hugepages: bool,
    /// Whether, as a host kernel, its KVM-PR VMs get MMU notifiers
    /// (`KVM_CAP_SYNC_MMU`), without which qemu refuses `-mem-path`. Linux
    /// 6.1 built with KVM-HV offers them to KVM-HV VMs only
    /// (arch/powerpc/kvm/powerpc.c); 6.12 to every VM. Matrix key
    /// `kvm_pr_mmu_notifiers`, default true.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub kvm_pr_mmu_notifiers: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// One guest: what qemu boots at the innermost level of a cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guest {
    /// The kernel to boot.
    pub kernel: Kernel,
    /// The image that provides the static busybox for the payload.
    pub busybox: String,
    /// The MMU mode the guest asks for (`hpt` adds `disable_radix`).
    pub mmu: Mmu,
    /// How the CPU is provided.
    pub accel: Accel,
    /// `-machine` type.
    pub machine: Machine,
    /// Capabilities given verbatim (`cap-` prefix left out), in matrix order.
    pub caps: BTreeMap<String, String>,
    /// Documented fixes the cell asks for.
    pub fixes: Vec<Fix>,
    /// Guest RAM in MiB.
    pub memory_mib: u32,
    /// vCPUs.
    pub smp: u32,
    /// `-cpu` model; `None` lets the rules choose (POWER9 under TCG, `host`
    /// under KVM).
    pub cpu: Option<String>,
    /// `max-cpu-compat` of the pseries machine (`power8`...): the guest
    /// runs in that generation's compatibility mode; POWER8 and older offer
    /// it no Radix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cpu_compat: Option<String>,
    /// SLOF or VOF.
    pub firmware: Firmware,
    /// Extra words for the kernel command line.
    pub append: Vec<String>,
}

/// What kind of machine the cell's host is. A native host is level 0; an
/// emulated host is a guest that qemu boots under TCG at level 0 and that
/// runs the cell's guest under real KVM at level 1, so that a cell becomes a
/// chain of levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostKind {
    /// The machine the harness runs on, as probed.
    Native,
    /// An emulated bare-metal POWER9 (`-machine powernv9`, skiboot) running
    /// the host kernel in hypervisor mode: KVM-HV as on a real POWER9.
    #[serde(rename = "powernv9")]
    PowerNv9,
    /// An emulated bare-metal POWER8 (`-machine powernv8 -cpu POWER8`): hash
    /// only, the hardware of Void's default 4 KiB HPT row.
    #[serde(rename = "powernv8")]
    PowerNv8,
    /// An emulated `pseries` guest started with `cap-nested-hv=on`: the
    /// nested scenarios, with the cell's guest as an L2.
    NestedPseries,
}

impl HostKind {
    /// The spelling used in matrices and cell names.
    pub fn as_str(self) -> &'static str {
        match self {
            HostKind::Native => "native",
            HostKind::PowerNv9 => "powernv9",
            HostKind::PowerNv8 => "powernv8",
            HostKind::NestedPseries => "nested-pseries",
        }
    }

    /// True for qemu's bare-metal machines (`powernv8`, `powernv9`), whose
    /// kernel is the hypervisor.
    pub fn is_powernv(self) -> bool {
        matches!(self, HostKind::PowerNv9 | HostKind::PowerNv8)
    }

    /// True for hosts the harness boots itself.
    pub fn is_emulated(self) -> bool {
        !matches!(self, HostKind::Native)
    }
}

impl FromStr for HostKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "native" => Ok(HostKind::Native),
            "powernv9" => Ok(HostKind::PowerNv9),
            "powernv8" => Ok(HostKind::PowerNv8),
            "nested-pseries" => Ok(HostKind::NestedPseries),
            _ => Err(format!(
                "unknown host `{s}` (expected `native`, `powernv9`, `powernv8` or `nested-pseries`)"
            )),
        }
    }
}

/// Level 0 of a cell: the host, and the MMU and page size it must have for
/// the cell's documented row to apply. A native host that does not match is
/// a reason to skip the cell, never to pass it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostSpec {
    /// Native (the probed machine).
    pub kind: HostKind,
    /// The MMU the host must run, if the row depends on it.
    pub mmu: Option<Mmu>,
    /// The host kernel's base page size, if the row depends on it.
    pub page_size: Option<PageSize>,
    /// Whether the host must itself be a KVM guest (a pSeries L1), for the
    /// nested rows of the table; `None` when the row does not care.
    pub nested: Option<bool>,
    /// The host kernel of an emulated host (its page size is the host's).
    pub kernel: Option<Kernel>,
    /// RAM of an emulated host, MiB.
    pub memory_mib: Option<u32>,
    /// The qemu an emulated host runs its guests with, when not the
    /// default one (`chain::DEFAULT_INNER_QEMU`): an older one for machine
    /// types the default qemu no longer has.
    pub inner_qemu: Option<InnerQemu>,
    /// For a native host row: the machine an emulated run boots in its
    /// place (matrix key `emulated_host`); `None`: powernv9, or a nested
    /// pseries L1 for the nested rows. Used by `chain::emulate` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emulated_kind: Option<HostKind>,
    /// For a native host row: the host kernel an emulated run boots (matrix
    /// key `emulated_host_kernel`); `None`: the one `[emulation]` names for
    /// the row's page size. Used by `chain::emulate`, and by the rules for
    /// what they know of the kernel (`Kernel::kvm_pr_mmu_notifiers`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emulated_kernel: Option<Kernel>,
}

impl HostSpec {
    /// The probed machine, whatever it runs.
    pub fn native() -> HostSpec {
        HostSpec {
            kind: HostKind::Native,
            mmu: None,
            page_size: None,
            nested: None,
            kernel: None,
            memory_mib: None,
            inner_qemu: None,
            emulated_kind: None,
            emulated_kernel: None,
        }
    }
}

/// Debian's ppc64el `qemu-system-ppc` of one release, as it runs inside an
/// emulated host. The version is what the rules reason about (which
/// machine types exist, which caps); the bundle built from `release` must
/// have it, or the host is not built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InnerQemu {
    /// The Debian release apt takes it from (`bookworm`, `bookworm-backports`).
    pub release: String,
    /// Its upstream version (major, minor, micro).
    pub version: (u32, u32, u32),
}

impl fmt::Display for HostSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.as_str())?;
        if let Some(m) = self.mmu {
            write!(f, " {m}")?;
        }
        if let Some(p) = self.page_size {
            write!(f, " {p}")?;
        }
        if self.nested == Some(true) {
            f.write_str(" (nested L1)")?;
        }
        Ok(())
    }
}

/// What a cell does: the one outcome type of the harness. The rules predict
/// one, a cell must show one, and reports print one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// The guest boots and reports this MMU and page size.
    Boots {
        /// The MMU the guest really gets.
        mmu: Mmu,
        /// The guest kernel's base page size.
        page_size: PageSize,
    },
    /// QEMU (or the guest) stops with a documented error.
    Fails {
        /// Which documented error.
        error: DocumentedError,
        /// The message as it will be printed for this cell.
        message: String,
    },
}

impl fmt::Display for Outcome {
    /// `boots (Radix, 64k pages)` or `fails with <id>: <message>`, the
    /// message verbatim.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Boots { mmu, page_size } => {
                write!(f, "boots ({}, {page_size} pages)", mmu.cpuinfo_word())
            }
            Outcome::Fails { error, message } => write!(f, "fails with {error}: {message}"),
        }
    }
}

/// What a cell must show to pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expectation {
    /// Whatever the rules predict for this host.
    Predicted,
    /// The guest boots and reports this MMU (the one requested unless given)
    /// and the kernel's page size.
    Boots {
        /// The MMU the guest must report, when it differs from the request.
        mmu: Option<Mmu>,
    },
    /// QEMU refuses with this documented error.
    Error(DocumentedError),
}

/// One point of the matrix: a host, a guest on it and what must happen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// Unique within its matrix, e.g. `tcg/hpt-guest/64k`.
    pub name: String,
    /// Level 0.
    pub host: HostSpec,
    /// The guest booted at level 1.
    pub guest: Guest,
    /// What must happen.
    pub expect: Expectation,
    /// How long the cell may take before it is stopped and failed.
    #[serde(with = "secs")]
    pub timeout: Duration,
    /// The documented row this cell proves, e.g. `Radix host, 4 KiB pages /
    /// HPT guest, 4 KiB pages (HV)`; named when the documentation drifts.
    pub row: Option<String>,
    /// Line of the matrix file that defined the cell, for messages.
    pub line: usize,
    /// Why this cell is known to fail (`known_failure` in the matrix, with
    /// a reference): it still runs, a failure is reported as expected and a
    /// pass as a failure ("remove the mark"), so that a fix is noticed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_failure: Option<String>,
}

impl Cell {
    /// The image descriptions the cell boots from: its guest kernel, its
    /// busybox and, on an emulated host, the host's kernel.
    pub fn images(&self) -> Vec<&str> {
        let mut names = vec![
            self.guest.kernel.image.as_str(),
            self.guest.busybox.as_str(),
        ];
        if let Some(k) = &self.host.kernel {
            names.push(k.image.as_str());
        }
        names
    }
}

mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs_f64(f64::deserialize(d)?))
    }
}
