//! What the machine under the harness can do: architecture, MMU, pages,
//! hugepages, KVM, qemu. Probing does I/O; [`HostFacts`] is plain data so
//! that [`crate::rules`] stays pure.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::{parse_size, power_generation, Mmu, PageSize, Platform};
use crate::readiness;

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

/// A flavour of KVM on Book3S POWER, as `KVM_CREATE_VM` asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KvmFlavour {
    /// KVM-HV: the guest runs in the hardware's guest mode.
    Hv,
    /// KVM-PR: the guest runs in problem state, privileged instructions
    /// emulated.
    Pr,
}

impl KvmFlavour {
    /// The VM type `KVM_CREATE_VM` takes for it (`KVM_VM_PPC_HV` = 1,
    /// `KVM_VM_PPC_PR` = 2, include/uapi/linux/kvm.h).
    pub fn vm_type(self) -> u64 {
        match self {
            KvmFlavour::Hv => 1,
            KvmFlavour::Pr => 2,
        }
    }

    /// How reports name it.
    pub fn name(self) -> &'static str {
        match self {
            KvmFlavour::Hv => "KVM-HV",
            KvmFlavour::Pr => "KVM-PR",
        }
    }
}

/// Why a KVM flavour cannot run guests on this host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum KvmRefusal {
    /// The host is not POWER: a `/dev/kvm` there runs guests of its own
    /// architecture, so the POWER VM types are not asked for.
    NotPower,
    /// `/dev/kvm` could not be opened.
    Open {
        /// The kernel's errno.
        errno: i32,
        /// The errno's name and text ([`errno_text`]).
        error: String,
    },
    /// `KVM_CREATE_VM` with the flavour's VM type failed. `EINVAL` is how
    /// arch/powerpc/kvm/powerpc.c (`kvm_arch_init_vm`) says the flavour is
    /// not there: neither built in nor loaded, or its initialisation refused
    /// this machine (KVM-PR on a Radix host, KVM-HV without nesting in a
    /// guest).
    CreateVm {
        /// The kernel's errno.
        errno: i32,
        /// The errno's name and text ([`errno_text`]).
        error: String,
    },
}

impl KvmRefusal {
    /// The refusal for a failed `KVM_CREATE_VM` with this errno.
    pub fn create_vm(errno: i32) -> KvmRefusal {
        KvmRefusal::CreateVm {
            errno,
            error: errno_text(errno),
        }
    }

    /// The refusal for a `/dev/kvm` that did not open, with this errno.
    pub fn open(errno: i32) -> KvmRefusal {
        KvmRefusal::Open {
            errno,
            error: errno_text(errno),
        }
    }

    /// One line for `bootmatrix host`.
    pub fn describe(&self, flavour: KvmFlavour) -> String {
        match self {
            KvmRefusal::NotPower => "not asked: this host is not POWER".into(),
            KvmRefusal::Open { error, .. } => format!("/dev/kvm does not open: {error}"),
            KvmRefusal::CreateVm { error, .. } => format!(
                "KVM_CREATE_VM with type {} refused: {error}",
                flavour.vm_type()
            ),
        }
    }
}

/// An errno as its name and the C library's text, e.g. `EINVAL (Invalid
/// argument)`; `errno N` when it is not one this platform knows.
pub fn errno_text(errno: i32) -> String {
    let e = nix::errno::Errno::from_raw(errno);
    if e == nix::errno::Errno::UnknownErrno {
        format!("errno {errno}")
    } else {
        format!("{e:?} ({})", e.desc())
    }
}

/// Decides one flavour: `None` when it is usable, else why not. `ask` opens
/// `/dev/kvm` and asks KVM for a VM of the flavour's type, and is called
/// only on a POWER host: elsewhere the POWER VM types mean nothing (x86 KVM
/// would create an x86 VM).
pub fn kvm_flavour_refusal(
    power: bool,
    ask: impl FnOnce() -> std::result::Result<(), KvmRefusal>,
) -> Option<KvmRefusal> {
    if !power {
        return Some(KvmRefusal::NotPower);
    }
    ask().err()
}

/// KVM on this host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvmFacts {
    /// `/dev/kvm` access.
    pub dev_kvm: DevKvm,
    /// KVM-HV is usable: `KVM_CREATE_VM` with `KVM_VM_PPC_HV` succeeded
    /// (built-in and modular KVM alike). Named after the `kvm_hv` module.
    pub hv_loaded: bool,
    /// KVM-PR is usable: `KVM_CREATE_VM` with `KVM_VM_PPC_PR` succeeded
    /// (built-in and modular KVM alike). Named after the `kvm_pr` module.
    pub pr_loaded: bool,
    /// Why KVM-HV is not usable, when it was probed and is not; `None` when
    /// usable or not probed (hypothetical and emulated hosts).
    #[serde(default)]
    pub hv_refused: Option<KvmRefusal>,
    /// Why KVM-PR is not usable, as [`KvmFacts::hv_refused`].
    #[serde(default)]
    pub pr_refused: Option<KvmRefusal>,
    /// Whether KVM offers guests transactional memory (`KVM_CAP_PPC_HTM`);
    /// `None` when not known (the probe does not ask). Machines up to
    /// pseries-2.11 turn HTM on and stop where it is `Some(false)`.
    #[serde(default)]
    pub htm: Option<bool>,
    /// Whether a KVM-PR VM has MMU notifiers (`KVM_CAP_SYNC_MMU`), without
    /// which qemu refuses guest RAM from a file (`-mem-path`); `None` when
    /// no PR VM could be asked.
    #[serde(default)]
    pub pr_mmu_notifiers: Option<bool>,
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
    pub platform: Option<Platform>,
    /// The machine's model on POWER (`/proc/cpuinfo`'s `model`): says when
    /// the machine is one qemu emulates, whose quirks the rules know.
    #[serde(default)]
    pub model: Option<String>,
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
    /// True when this machine is itself emulated by qemu (its cpuinfo
    /// `model` says so): a powernv or pseries machine under TCG, an
    /// emulated host of this harness.
    pub fn emulated_by_qemu(&self) -> bool {
        self.model
            .as_deref()
            .is_some_and(|m| m.contains("emulated by qemu"))
    }

    /// True on a POWER host.
    pub fn is_power(&self) -> bool {
        self.arch.starts_with("ppc64")
    }
}

// ---------------------------------------------------------------------------
// Hypothetical hosts, for `plan` on a host row other than this machine's and
// for tests.

impl HostFacts {
    /// A bare-metal POWER9 host (`PowerNV`) ready for every KVM row of its
    /// MMU and page size: `/dev/kvm` usable, `kvm_hv` loaded (and `kvm_pr` on
    /// an HPT host, where it can load), a writable `/dev/hugepages` with 1100
    /// free hugepages of the MMU's default size (2 MiB Radix, 16 MiB HPT), and
    /// qemu 10.0.2 with every pseries machine from 3.0 on. Used to ask what
    /// the documentation says for a row this machine does not have.
    pub fn ready_power9(mmu: Mmu, page_size: PageSize) -> HostFacts {
        let hugepage_kib = match mmu {
            Mmu::Radix => 2048,
            Mmu::Hpt => 16384,
        };
        let mut machines = vec!["pseries".to_string()];
        for (major, minors) in [
            (3, 1),
            (4, 2),
            (5, 2),
            (6, 2),
            (7, 2),
            (8, 2),
            (9, 2),
            (10, 0),
        ] {
            for minor in 0..=minors {
                machines.push(format!("pseries-{major}.{minor}"));
            }
        }
        HostFacts {
            arch: "ppc64le".into(),
            cpu: Some("POWER9 (raw), altivec supported".into()),
            power_generation: Some(9),
            platform: Some(Platform::PowerNv),
            model: None,
            mmu: Some(mmu),
            page_size: Some(page_size),
            hugepage_size_kib: Some(hugepage_kib),
            hugepages_total: 1100,
            hugepages_free: 1100,
            hugetlbfs: vec![HugetlbfsMount {
                path: "/dev/hugepages".into(),
                page_size_kib: None,
                writable: true,
            }],
            kvm: KvmFacts {
                dev_kvm: DevKvm::Usable,
                hv_loaded: true,
                pr_loaded: mmu == Mmu::Hpt,
                hv_refused: None,
                pr_refused: None,
                htm: None,
                pr_mmu_notifiers: None,
            },
            qemu: Some(QemuFacts {
                path: "qemu-system-ppc64".into(),
                version: (10, 0, 2),
                machines,
                accels: vec!["tcg".into(), "kvm".into()],
            }),
        }
    }
}

// ---------------------------------------------------------------------------
// Parsing: pure functions over the text of /proc files and qemu's output.

/// What /proc/cpuinfo says about the CPU, the platform and the MMU.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuInfo {
    /// The `cpu` line on POWER (`POWER9 (raw), altivec supported`), else
    /// `model name`.
    pub cpu: Option<String>,
    /// The POWER generation the `cpu` line names.
    pub power_generation: Option<u32>,
    /// `platform`: `PowerNV` on bare metal, `pSeries` in a guest.
    pub platform: Option<Platform>,
    /// `MMU`: Radix or Hash.
    pub mmu: Option<Mmu>,
    /// `model` on POWER: the machine's model, e.g. `IBM PowerNV (emulated
    /// by qemu)` inside qemu's powernv machines.
    #[serde(default)]
    pub model: Option<String>,
}

/// The `key : value` lines of a /proc file, keys and values trimmed.
fn key_values(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
}

/// Parses /proc/cpuinfo. The first `cpu` / `model name` line wins (every
/// processor repeats it); `platform` and `MMU` appear once, at the end, on
/// POWER.
pub fn parse_cpuinfo(text: &str) -> CpuInfo {
    let mut info = CpuInfo::default();
    let mut model_name = None;
    for (k, v) in key_values(text) {
        match k {
            "cpu" if info.cpu.is_none() => info.cpu = Some(v.to_string()),
            "model name" if model_name.is_none() => model_name = Some(v.to_string()),
            "platform" => info.platform = Some(Platform::from(v.to_string())),
            "MMU" => info.mmu = Mmu::from_cpuinfo(v),
            "model" if info.model.is_none() => info.model = Some(v.to_string()),
            _ => {}
        }
    }
    info.power_generation = info.cpu.as_deref().and_then(power_generation);
    if info.cpu.is_none() {
        info.cpu = model_name;
    }
    info
}

/// The lines of /proc/meminfo the harness uses: hugepages for the rules,
/// available memory for the run's memory budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemInfo {
    /// `MemAvailable` in KiB.
    #[serde(default)]
    pub available_kib: Option<u64>,
    /// `Hugepagesize` in KiB.
    pub hugepage_size_kib: Option<u64>,
    /// `HugePages_Total`.
    pub hugepages_total: u64,
    /// `HugePages_Free`.
    pub hugepages_free: u64,
}

/// Parses /proc/meminfo (`Hugepagesize:  2048 kB`, `HugePages_Free:  0`).
pub fn parse_meminfo(text: &str) -> MemInfo {
    let mut m = MemInfo::default();
    let number = |v: &str| {
        v.split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
    };
    for (k, v) in key_values(text) {
        match k {
            "MemAvailable" => m.available_kib = number(v),
            "Hugepagesize" => m.hugepage_size_kib = number(v),
            "HugePages_Total" => m.hugepages_total = number(v).unwrap_or(0),
            "HugePages_Free" => m.hugepages_free = number(v).unwrap_or(0),
            _ => {}
        }
    }
    m
}

/// RAM available to new processes now (`MemAvailable`), in MiB; 4 GiB when
/// /proc/meminfo cannot be read.
pub fn memory_available_mib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| parse_meminfo(&t).available_kib)
        .map_or(4096, |kb| kb / 1024)
}

/// The hugetlbfs mounts in /proc/mounts, as `(path, pagesize in KiB)`; the
/// writability is probed separately. Octal escapes in paths (`\040` for a
/// space) are decoded.
pub fn parse_hugetlbfs_mounts(text: &str) -> Vec<(String, Option<u64>)> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_dev, path, fstype, opts) = (
                fields.next()?,
                fields.next()?,
                fields.next()?,
                fields.next()?,
            );
            if fstype != "hugetlbfs" {
                return None;
            }
            let page_size_kib = opts
                .split(',')
                .find_map(|o| o.strip_prefix("pagesize="))
                .and_then(parse_size)
                .map(|bytes| bytes / 1024);
            Some((unescape_mount_path(path), page_size_kib))
        })
        .collect()
}

/// Decodes the `\ooo` escapes the kernel writes in /proc/mounts paths.
fn unescape_mount_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let v = bytes[i + 1..i + 4]
                .iter()
                .fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
            out.push(v as u8);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `qemu-system-ppc64 --version` (`QEMU emulator version 10.0.2
/// (Debian ...)`) into `(major, minor, micro)`.
pub fn parse_qemu_version(text: &str) -> Option<(u32, u32, u32)> {
    let rest = text
        .lines()
        .find_map(|l| l.split_once("version ").map(|(_, r)| r))?;
    parse_version(rest.split_whitespace().next()?)
}

/// Parses a version number alone (`10.0.2`, `7.2`: a missing part is 0).
pub fn parse_version(word: &str) -> Option<(u32, u32, u32)> {
    let mut parts = word.split('.').map(|p| {
        let digits: String = p.chars().take_while(|c| c.is_ascii_digit()).collect();
        digits.parse::<u32>().ok()
    });
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    let micro = parts.next().flatten().unwrap_or(0);
    Some((major, minor, micro))
}

/// Parses `-machine help`: the first word of every line after the header.
pub fn parse_machine_help(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with("Supported machines"))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Parses `-accel help`: one accelerator per line after the header.
pub fn parse_accel_help(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.ends_with(':'))
        .map(str::to_string)
        .collect()
}

// ---------------------------------------------------------------------------
// Probing: the only I/O in this module.

/// Probes this machine. Never fails: what cannot be read is reported as
/// missing, and [`remediation`] says how to get it. What qemu says of
/// itself is remembered in the default cache directory
/// ([`crate::images::Store::default_root`]); see [`probe_in`].
pub fn probe(qemu: &str) -> HostFacts {
    probe_in(qemu, &crate::images::Store::default_root())
}

/// [`probe`], remembering qemu's answers under `cache_root` (`probe/`):
/// asking qemu its version, machines and accelerators costs three
/// processes on every run, and the answers change only with the binary.
/// See [`probe_qemu_cached`].
pub fn probe_in(qemu: &str, cache_root: &Path) -> HostFacts {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpuinfo = parse_cpuinfo(&read("/proc/cpuinfo"));
    let meminfo = parse_meminfo(&read("/proc/meminfo"));
    let arch = machine_arch();
    let power = arch.starts_with("ppc64");
    let hugetlbfs = parse_hugetlbfs_mounts(&read("/proc/mounts"))
        .into_iter()
        .map(|(path, page_size_kib)| {
            let writable = accessible(&path, libc::W_OK | libc::X_OK);
            HugetlbfsMount {
                path,
                page_size_kib,
                writable,
            }
        })
        .collect();
    let dev_kvm = if !std::path::Path::new("/dev/kvm").exists() {
        DevKvm::Missing
    } else if accessible("/dev/kvm", libc::R_OK | libc::W_OK) {
        DevKvm::Usable
    } else {
        DevKvm::NoAccess
    };
    HostFacts {
        arch,
        cpu: cpuinfo.cpu,
        power_generation: cpuinfo.power_generation,
        platform: cpuinfo.platform,
        model: cpuinfo.model,
        mmu: if power { cpuinfo.mmu } else { None },
        page_size: PageSize::from_bytes(base_page_size()),
        hugepage_size_kib: meminfo.hugepage_size_kib,
        hugepages_total: meminfo.hugepages_total,
        hugepages_free: meminfo.hugepages_free,
        hugetlbfs,
        kvm: probe_kvm(dev_kvm, power),
        qemu: probe_qemu_cached(qemu, cache_root),
    }
}

/// Asks KVM which flavours it can run: a VM of each type is created and
/// closed at once. Reading `/sys/module` would miss KVM built into the
/// kernel, and a loaded module may still refuse this machine.
fn probe_kvm(dev_kvm: DevKvm, power: bool) -> KvmFacts {
    // Opened on the first question, once for both.
    let mut kvm: Option<std::result::Result<std::os::fd::OwnedFd, i32>> = None;
    // Transactional memory as the first VM that KVM accepts offers it
    // (KVM-HV's, else KVM-PR's): what qemu asks before it turns HTM on.
    let mut htm: Option<bool> = None;
    let mut pr_mmu_notifiers: Option<bool> = None;
    let mut ask = |flavour: KvmFlavour| {
        let fd = kvm
            .get_or_insert_with(open_dev_kvm)
            .as_ref()
            .map_err(|&errno| KvmRefusal::open(errno))?;
        let offers = create_vm(fd, flavour).map_err(KvmRefusal::create_vm)?;
        htm.get_or_insert(offers.htm);
        if flavour == KvmFlavour::Pr {
            pr_mmu_notifiers = Some(offers.mmu_notifiers);
        }
        Ok(())
    };
    let hv_refused = kvm_flavour_refusal(power, || ask(KvmFlavour::Hv));
    let pr_refused = kvm_flavour_refusal(power, || ask(KvmFlavour::Pr));
    KvmFacts {
        dev_kvm,
        hv_loaded: hv_refused.is_none(),
        pr_loaded: pr_refused.is_none(),
        hv_refused,
        pr_refused,
        htm,
        pr_mmu_notifiers,
    }
}

/// Opens `/dev/kvm` read-write, or the errno.
fn open_dev_kvm() -> std::result::Result<std::os::fd::OwnedFd, i32> {
    use nix::fcntl::{open, OFlag};
    open(
        "/dev/kvm",
        OFlag::O_RDWR | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| e as i32)
}

/// `KVM_CREATE_VM`: `_IO(KVMIO, 0x01)` with `KVMIO` = 0xAE
/// (include/uapi/linux/kvm.h), encoded as this architecture's `_IO` does
/// (POWER puts a direction bit where others put none).
const KVM_CREATE_VM: nix::sys::ioctl::ioctl_num_type = nix::request_code_none!(0xAE, 0x01);

/// `KVM_CHECK_EXTENSION`: `_IO(KVMIO, 0x03)` (include/uapi/linux/kvm.h).
const KVM_CHECK_EXTENSION: nix::sys::ioctl::ioctl_num_type = nix::request_code_none!(0xAE, 0x03);

/// `KVM_CAP_PPC_HTM` (include/uapi/linux/kvm.h): whether the VM's guests
/// get transactional memory (target/ppc/kvm.c asks the VM).
const KVM_CAP_PPC_HTM: libc::c_ulong = 132;

/// `KVM_CAP_SYNC_MMU` (include/uapi/linux/kvm.h): MMU notifiers, which
/// qemu needs for guest RAM from a file (system/physmem.c).
const KVM_CAP_SYNC_MMU: libc::c_ulong = 16;

/// What a VM of one flavour offers, as qemu asks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct VmOffers {
    /// `KVM_CAP_PPC_HTM`.
    htm: bool,
    /// `KVM_CAP_SYNC_MMU`.
    mmu_notifiers: bool,
}

/// Asks KVM for a VM of the flavour's type, asks that VM what it offers,
/// and closes it.
fn create_vm(
    kvm: &std::os::fd::OwnedFd,
    flavour: KvmFlavour,
) -> std::result::Result<VmOffers, i32> {
    create_vm_of_type(kvm, flavour.vm_type())
}

/// `KVM_CREATE_VM` with `vm_type`, then `KVM_CHECK_EXTENSION` of the
/// capabilities qemu asks about on the VM; the VM's descriptor is closed at
/// once.
fn create_vm_of_type(
    kvm: &std::os::fd::OwnedFd,
    vm_type: u64,
) -> std::result::Result<VmOffers, i32> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: KVM_CREATE_VM takes its argument by value (the VM type) and
    // writes no memory; `kvm` is an open descriptor for the call.
    let fd = unsafe {
        libc::ioctl(
            kvm.as_raw_fd(),
            KVM_CREATE_VM as _,
            vm_type as libc::c_ulong,
        )
    };
    if fd < 0 {
        return Err(nix::errno::Errno::last_raw());
    }
    // SAFETY: the ioctl returned a new descriptor this process owns.
    let vm = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: KVM_CHECK_EXTENSION takes the capability by value and writes
    // no memory; `vm` is open for the call.
    let has = |cap: libc::c_ulong| unsafe {
        libc::ioctl(vm.as_raw_fd(), KVM_CHECK_EXTENSION as _, cap) > 0
    };
    Ok(VmOffers {
        htm: has(KVM_CAP_PPC_HTM),
        mmu_notifiers: has(KVM_CAP_SYNC_MMU),
    })
}

/// `uname -m`, from uname(2).
fn machine_arch() -> String {
    // SAFETY: uname fills a zeroed struct; the machine field is
    // NUL-terminated by the kernel.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return std::env::consts::ARCH.to_string();
        }
        std::ffi::CStr::from_ptr(u.machine.as_ptr())
            .to_string_lossy()
            .into_owned()
    }
}

/// The kernel's base page size (`getconf PAGESIZE`).
fn base_page_size() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(n).unwrap_or(0)
}

/// access(2) for this user: what the kernel will allow, groups included.
fn accessible(path: &str, mode: libc::c_int) -> bool {
    let Ok(c) = std::ffi::CString::new(path) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated string for the call's duration.
    unsafe { libc::access(c.as_ptr(), mode) == 0 }
}

/// Runs `qemu` with `args` and returns its stdout, if it ran and succeeded.
fn qemu_output(qemu: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(qemu)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Asks qemu its version, machine types and accelerators; `None` when it
/// does not run.
fn probe_qemu(qemu: &str) -> Option<QemuFacts> {
    let version = parse_qemu_version(&qemu_output(qemu, &["--version"])?)?;
    Some(QemuFacts {
        path: resolve_in_path(qemu),
        version,
        machines: qemu_output(qemu, &["-machine", "help"])
            .map(|t| parse_machine_help(&t))
            .unwrap_or_default(),
        accels: qemu_output(qemu, &["-accel", "help"])
            .map(|t| parse_accel_help(&t))
            .unwrap_or_default(),
    })
}

/// The identity of a qemu binary: what must not change for its remembered
/// probe to stand. Replacing the file (a package upgrade, a rebuild, a
/// copy) changes its inode or its change time; rewriting it in place
/// changes its modification and change times, usually its size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QemuIdentity {
    /// The binary's canonical path (symbolic links resolved).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
    /// Status change time, nanoseconds since the epoch.
    pub ctime_ns: i128,
    /// Device number of its file system.
    pub dev: u64,
    /// Inode number.
    pub inode: u64,
}

impl QemuIdentity {
    /// The identity of the file `path` resolves to; `None` when it cannot
    /// be read or is not an ELF executable. A script (a wrapper that picks
    /// a qemu, the benchmark's stand-in) is never remembered: what it runs
    /// can change while the script stays the same.
    pub fn of(path: &Path) -> Option<QemuIdentity> {
        use std::io::Read;
        use std::os::unix::fs::MetadataExt;
        let canonical = std::fs::canonicalize(path).ok()?;
        let mut magic = [0u8; 4];
        std::fs::File::open(&canonical)
            .ok()?
            .read_exact(&mut magic)
            .ok()?;
        if magic != *b"\x7fELF" {
            return None;
        }
        let m = std::fs::metadata(&canonical).ok()?;
        let ns = |secs: i64, nsecs: i64| i128::from(secs) * 1_000_000_000 + i128::from(nsecs);
        Some(QemuIdentity {
            path: canonical.to_string_lossy().into_owned(),
            size: m.size(),
            mtime_ns: ns(m.mtime(), m.mtime_nsec()),
            ctime_ns: ns(m.ctime(), m.ctime_nsec()),
            dev: m.dev(),
            inode: m.ino(),
        })
    }
}

/// Bumped when [`QemuFacts`] or the parsing of qemu's answers changes, so
/// that a newer harness does not trust an older one's note.
const PROBE_NOTE_FORMAT: u32 = 1;

/// What `probe/qemu-<hash of the canonical path>.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ProbeNote {
    format: u32,
    /// The harness version that wrote it.
    harness: String,
    identity: QemuIdentity,
    facts: QemuFacts,
}

/// The file remembering the probe of the binary `identity` names.
pub fn probe_note_path(cache_root: &Path, identity: &QemuIdentity) -> std::path::PathBuf {
    let hash = crate::images::sha256_bytes(identity.path.as_bytes());
    cache_root
        .join("probe")
        .join(format!("qemu-{}.json", &hash[..16]))
}

/// The remembered facts, if the note is readable, of this format and
/// harness version, and names exactly this identity. Anything else (a
/// missing, truncated or foreign file) is no note at all.
fn read_probe_note(file: &Path, identity: &QemuIdentity) -> Option<QemuFacts> {
    let text = std::fs::read_to_string(file).ok()?;
    let note: ProbeNote = serde_json::from_str(&text).ok()?;
    (note.format == PROBE_NOTE_FORMAT
        && note.harness == env!("CARGO_PKG_VERSION")
        && note.identity == *identity)
        .then_some(note.facts)
}

/// Writes the note atomically (a temporary file renamed over it): a
/// concurrent reader sees the old note or the new one. Failing to write
/// (a read-only cache) costs only the next run's probe.
fn write_probe_note(file: &Path, identity: &QemuIdentity, facts: &QemuFacts) {
    let Some(dir) = file.parent() else {
        return;
    };
    let note = ProbeNote {
        format: PROBE_NOTE_FORMAT,
        harness: env!("CARGO_PKG_VERSION").to_string(),
        identity: identity.clone(),
        facts: facts.clone(),
    };
    let json = serde_json::to_vec_pretty(&note).expect("a probe note serializes");
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut tmp, &json)?;
        tmp.persist(file).map_err(|e| e.error)?;
        Ok(())
    };
    let _ = write();
}

/// [`probe_qemu`] through the note under `cache_root`: qemu is asked only
/// when no note matches the binary's [`QemuIdentity`] (a new or changed
/// binary, another harness version, a broken note), and the answer is
/// written for the next run. A qemu that does not run is never remembered.
pub fn probe_qemu_cached(qemu: &str, cache_root: &Path) -> Option<QemuFacts> {
    cached_probe(qemu, cache_root, probe_qemu)
}

/// [`probe_qemu_cached`] with the asking of qemu given, for tests.
fn cached_probe(
    qemu: &str,
    cache_root: &Path,
    ask: impl FnOnce(&str) -> Option<QemuFacts>,
) -> Option<QemuFacts> {
    let resolved = resolve_in_path(qemu);
    let Some(identity) = QemuIdentity::of(Path::new(&resolved)) else {
        return ask(qemu);
    };
    let file = probe_note_path(cache_root, &identity);
    if let Some(mut facts) = read_probe_note(&file, &identity) {
        // The same binary may be reached by another name.
        facts.path = resolved;
        return Some(facts);
    }
    let facts = ask(qemu)?;
    write_probe_note(&file, &identity, &facts);
    Some(facts)
}

/// The full path `name` runs from, by `$PATH`, or `name` itself.
fn resolve_in_path(name: &str) -> String {
    if name.contains('/') {
        return name.to_string();
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| name.to_string())
}

// ---------------------------------------------------------------------------
// Remediation and rendering.

/// Something the host lacks for some rows, and the Void page's way to get it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remediation {
    /// What is missing, and which rows need it.
    pub missing: String,
    /// The commands or steps that provide it.
    pub fix: String,
}

/// Guest RAM the hugepage advice is sized for: the Void page's 2 GiB example.
const HUGEPAGE_ADVICE_MIB: u64 = 2048;

/// The hugepages to reserve for [`HUGEPAGE_ADVICE_MIB`] of guest RAM, plus
/// some extra as the Void page does (1024 pages of 2 MiB → 1100).
pub fn hugepages_to_reserve(hugepage_size_kib: u64) -> u64 {
    let need = (HUGEPAGE_ADVICE_MIB * 1024).div_ceil(hugepage_size_kib.max(1));
    need + (need * 3 / 40).max(1)
}

/// What this host lacks for the KVM rows, each with the exact remedy the
/// Void page gives. Empty when every row can run. On a non-POWER host the
/// only remedy is a POWER runner (TCG rows run anywhere).
pub fn remediation(facts: &HostFacts) -> Vec<Remediation> {
    let mut out = Vec::new();
    if facts.qemu.is_none() {
        out.push(Remediation {
            missing: "qemu-system-ppc64 (every row)".into(),
            fix: readiness::INSTALL_QEMU.into(),
        });
    }
    if !facts.is_power() {
        out.push(Remediation {
            missing: format!("POWER KVM (every kvm-hv and kvm-pr row): this host is {}", facts.arch),
            fix: "run the KVM rows on a POWER runner: POWER9 or newer for KVM HV (Radix, or HPT with \
                  disable_radix), POWER8 or a POWER9 booted with disable_radix for KVM PR; TCG rows run here"
                .into(),
        });
        return out;
    }
    if facts
        .qemu
        .as_ref()
        .is_some_and(|q| !q.accels.is_empty() && !q.accels.iter().any(|a| a == "kvm"))
    {
        out.push(Remediation {
            missing: "KVM support in qemu (every KVM row)".into(),
            fix: "install a qemu-system-ppc64 built with KVM (the distribution package on a POWER host)".into(),
        });
    }
    let nested = facts.platform == Some(Platform::PSeries);
    if !facts.kvm.hv_loaded {
        let fix = if nested && facts.mmu == Some(Mmu::Hpt) {
            "kvm_hv cannot load in an HPT guest: boot this guest in Radix mode (no disable_radix) on a host \
             started with -machine pseries,cap-nested-hv=on, then `modprobe kvm_hv`"
        } else if nested {
            "`modprobe kvm_hv`; in a guest it needs the host to run it with -machine pseries,cap-nested-hv=on"
        } else {
            "`modprobe kvm_hv`"
        };
        out.push(Remediation {
            missing: format!(
                "KVM-HV (KVM HV rows){}",
                facts
                    .kvm
                    .hv_refused
                    .as_ref()
                    .map(|r| format!(": {}", r.describe(KvmFlavour::Hv)))
                    .unwrap_or_default()
            ),
            fix: format!("{fix}, or boot a kernel with KVM-HV built in"),
        });
    }
    if !facts.kvm.pr_loaded {
        let fix = if facts.mmu == Some(Mmu::Radix) {
            "KVM PR needs an HPT host: add `disable_radix` to the kernel command line and reboot, then \
             `modprobe kvm_pr` (or boot an HPT guest and run KVM PR nested in it)"
        } else {
            "`modprobe kvm_pr`"
        };
        out.push(Remediation {
            missing: format!(
                "KVM-PR (KVM PR rows){}",
                facts
                    .kvm
                    .pr_refused
                    .as_ref()
                    .map(|r| format!(": {}", r.describe(KvmFlavour::Pr)))
                    .unwrap_or_default()
            ),
            fix: format!("{fix}, or boot a kernel with KVM-PR built in"),
        });
    }
    match facts.kvm.dev_kvm {
        DevKvm::Missing => out.push(Remediation {
            missing: "/dev/kvm (every KVM row)".into(),
            fix: "load the KVM modules: `modprobe kvm_hv` (or `modprobe kvm_pr` on an HPT host)"
                .into(),
        }),
        DevKvm::NoAccess => out.push(Remediation {
            missing: "access to /dev/kvm for this user (every KVM row)".into(),
            fix: readiness::KVM_GROUP.into(),
        }),
        DevKvm::Usable => {}
    }
    let size_kib = facts.hugepage_size_kib.unwrap_or(2048);
    let need = (HUGEPAGE_ADVICE_MIB * 1024).div_ceil(size_kib);
    if facts.hugepages_free < need {
        out.push(Remediation {
            missing: format!(
                "hugepages (HPT guest rows on 4 KiB hosts): {} free of {} KiB, {need} cover {HUGEPAGE_ADVICE_MIB} MiB",
                facts.hugepages_free, size_kib
            ),
            fix: format!(
                "`{}` (or `echo {n} > /proc/sys/vm/nr_hugepages`), then check \
                 `grep HugePages_Total /proc/meminfo`",
                readiness::reserve_hugepages(hugepages_to_reserve(size_kib)),
                n = hugepages_to_reserve(size_kib)
            ),
        });
    }
    if !facts.hugetlbfs.iter().any(|m| m.writable) {
        let missing = if facts.hugetlbfs.is_empty() {
            "a hugetlbfs mount (HPT guest rows on 4 KiB hosts)".to_string()
        } else {
            let paths: Vec<_> = facts.hugetlbfs.iter().map(|m| m.path.as_str()).collect();
            format!(
                "write access to hugetlbfs ({}) for this user",
                paths.join(", ")
            )
        };
        out.push(Remediation {
            missing,
            fix: format!(
                "`{}`, add your user to the kvm group, and make it permanent with the \
                  fstab line `hugetlbfs /dev/hugepages hugetlbfs mode=01770,gid=<gid of kvm> 0 0`",
                readiness::MOUNT_HUGETLBFS
            ),
        });
    }
    out
}

/// The text of `bootmatrix host`: what was probed, then what is missing and
/// how to get it.
pub fn render_text(facts: &HostFacts, remediations: &[Remediation]) -> String {
    let mut s = String::new();
    let or_unknown = |v: Option<String>| v.unwrap_or_else(|| "unknown".into());
    s.push_str(&format!("arch:       {}\n", facts.arch));
    s.push_str(&format!("cpu:        {}\n", or_unknown(facts.cpu.clone())));
    if facts.is_power() {
        s.push_str(&format!(
            "platform:   {}\n",
            or_unknown(facts.platform.as_ref().map(|p| p.to_string()))
        ));
        s.push_str(&format!(
            "MMU:        {}\n",
            or_unknown(facts.mmu.map(|m| m.cpuinfo_word().to_string()))
        ));
    }
    s.push_str(&format!(
        "page size:  {}\n",
        or_unknown(facts.page_size.map(|p| format!("{} KiB", p.kib())))
    ));
    s.push_str(&format!(
        "hugepages:  {} free of {} ({} KiB each)\n",
        facts.hugepages_free,
        facts.hugepages_total,
        or_unknown(facts.hugepage_size_kib.map(|k| k.to_string()))
    ));
    if facts.hugetlbfs.is_empty() {
        s.push_str("hugetlbfs:  not mounted\n");
    }
    for m in &facts.hugetlbfs {
        s.push_str(&format!(
            "hugetlbfs:  {}{} ({})\n",
            m.path,
            m.page_size_kib
                .map(|k| format!(" pagesize={k}K"))
                .unwrap_or_default(),
            if m.writable {
                "writable"
            } else {
                "not writable"
            }
        ));
    }
    let kvm = match facts.kvm.dev_kvm {
        DevKvm::Missing => "missing",
        DevKvm::NoAccess => "not accessible",
        DevKvm::Usable => "usable",
    };
    if facts.is_power() {
        s.push_str(&format!("KVM:        /dev/kvm {kvm}\n"));
        for (flavour, usable, refused) in [
            (KvmFlavour::Hv, facts.kvm.hv_loaded, &facts.kvm.hv_refused),
            (KvmFlavour::Pr, facts.kvm.pr_loaded, &facts.kvm.pr_refused),
        ] {
            s.push_str(&format!(
                "  {}:   {}\n",
                flavour.name(),
                flavour_state(flavour, usable, refused.as_ref())
            ));
        }
    } else {
        s.push_str(&format!(
            "KVM:        no POWER KVM on {} (/dev/kvm {kvm}, for this architecture only)\n",
            facts.arch
        ));
    }
    match &facts.qemu {
        Some(q) => {
            let pseries: Vec<_> = q
                .machines
                .iter()
                .filter(|m| m.starts_with("pseries"))
                .cloned()
                .collect();
            s.push_str(&format!(
                "qemu:       {} {}.{}.{}\n",
                q.path, q.version.0, q.version.1, q.version.2
            ));
            s.push_str(&format!(
                "  machines: {}\n",
                if pseries.is_empty() {
                    "no pseries".into()
                } else {
                    pseries.join(" ")
                }
            ));
            s.push_str(&format!("  accels:   {}\n", q.accels.join(" ")));
        }
        None => s.push_str("qemu:       not found\n"),
    }
    if remediations.is_empty() {
        s.push_str("\nEvery row can run here.\n");
    } else {
        s.push_str("\nMissing:\n");
        for r in remediations {
            s.push_str(&format!("- {}\n  fix: {}\n", r.missing, r.fix));
        }
    }
    s
}

/// `usable`, or `not usable` with the reason when it was probed.
fn flavour_state(flavour: KvmFlavour, usable: bool, refused: Option<&KvmRefusal>) -> String {
    match (usable, refused) {
        (true, _) => "usable".into(),
        (false, Some(r)) => format!("not usable: {}", r.describe(flavour)),
        (false, None) => "not usable".into(),
    }
}

/// The JSON of `bootmatrix host --format json`: `{ "facts": ..., "remediation": [...] }`.
pub fn render_json(facts: &HostFacts, remediations: &[Remediation]) -> String {
    serde_json::to_string_pretty(&HostReport {
        facts: facts.clone(),
        remediation: remediations.to_vec(),
    })
    .expect("host facts serialize")
}

/// What `bootmatrix host --format json` prints: the facts and what the
/// host lacks. Results record an emulated host's probe in this form too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostReport {
    /// What was probed.
    pub facts: HostFacts,
    /// What it lacks for some rows, with the remedies.
    pub remediation: Vec<Remediation>,
}

impl HostReport {
    /// The report of `facts`.
    pub fn of(facts: &HostFacts) -> HostReport {
        HostReport {
            facts: facts.clone(),
            remediation: remediation(facts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_create_vm_request_is_encoded_for_this_architecture() {
        // asm-generic/ioctl.h: no direction bits for _IO; POWER's
        // arch/powerpc/include/uapi/asm/ioctl.h: _IOC_NONE is 1 << 29.
        let want: nix::sys::ioctl::ioctl_num_type = if cfg!(target_arch = "powerpc64") {
            0x2000_AE01
        } else {
            0xAE01
        };
        assert_eq!(KVM_CREATE_VM, want);
    }

    /// A stand-in for a qemu binary: only its first bytes and its metadata
    /// matter to the probe's note, since the asking is injected.
    fn fake_binary(dir: &Path, name: &str, body: &[u8]) -> std::path::PathBuf {
        let path = dir.join(name);
        let mut bytes = b"\x7fELF".to_vec();
        bytes.extend_from_slice(body);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn facts(version: (u32, u32, u32)) -> QemuFacts {
        QemuFacts {
            path: "ignored".into(),
            version,
            machines: vec!["pseries".into(), "powernv9".into()],
            accels: vec!["tcg".into()],
        }
    }

    /// Probes `qemu` through the note, counting how often qemu is asked.
    fn probe_counting(qemu: &Path, cache: &Path, asked: &std::cell::Cell<u32>) -> QemuFacts {
        cached_probe(qemu.to_str().unwrap(), cache, |_| {
            asked.set(asked.get() + 1);
            Some(facts((10, 0, asked.get())))
        })
        .unwrap()
    }

    #[test]
    fn the_probe_is_remembered_per_binary_and_asked_again_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let qemu = fake_binary(dir.path(), "qemu-system-ppc64", b"one");
        let asked = std::cell::Cell::new(0);

        let first = probe_counting(&qemu, &cache, &asked);
        assert_eq!(asked.get(), 1);
        let again = probe_counting(&qemu, &cache, &asked);
        assert_eq!(asked.get(), 1, "an unchanged binary is not asked again");
        assert_eq!(again.version, first.version);
        assert_eq!(again.path, qemu.to_str().unwrap());

        // Rewritten in place, same length: the modification time moves.
        let old = QemuIdentity::of(&qemu).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&qemu, b"\x7fELFtwo").unwrap();
        assert_ne!(QemuIdentity::of(&qemu).unwrap(), old);
        probe_counting(&qemu, &cache, &asked);
        assert_eq!(asked.get(), 2);

        // Replaced by another file (an upgrade): another inode.
        let new = fake_binary(dir.path(), "new", b"three, longer");
        std::fs::rename(&new, &qemu).unwrap();
        let upgraded = probe_counting(&qemu, &cache, &asked);
        assert_eq!(asked.get(), 3);
        assert_eq!(upgraded.version, (10, 0, 3));
        probe_counting(&qemu, &cache, &asked);
        assert_eq!(asked.get(), 3);
    }

    #[test]
    fn a_link_to_the_binary_shares_its_note_and_keeps_its_own_name() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let qemu = fake_binary(dir.path(), "qemu-system-ppc64", b"x");
        let link = dir.path().join("qemu-link");
        std::os::unix::fs::symlink(&qemu, &link).unwrap();
        let asked = std::cell::Cell::new(0);
        probe_counting(&qemu, &cache, &asked);
        let via_link = probe_counting(&link, &cache, &asked);
        assert_eq!(asked.get(), 1);
        assert_eq!(via_link.path, link.to_str().unwrap());
    }

    #[test]
    fn a_broken_or_foreign_note_is_ignored_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let qemu = fake_binary(dir.path(), "qemu-system-ppc64", b"x");
        let identity = QemuIdentity::of(&qemu).unwrap();
        let note = probe_note_path(&cache, &identity);
        let asked = std::cell::Cell::new(0);
        probe_counting(&qemu, &cache, &asked);
        let good = std::fs::read_to_string(&note).unwrap();

        for broken in [
            String::new(),
            good[..good.len() / 2].to_string(),
            "not json".to_string(),
            good.replace("\"format\": 1", "\"format\": 999"),
            good.replace(env!("CARGO_PKG_VERSION"), "0.0.0-other"),
            good.replace(&format!("\"inode\": {}", identity.inode), "\"inode\": 1"),
        ] {
            assert_ne!(broken, good);
            std::fs::write(&note, &broken).unwrap();
            let before = asked.get();
            let f = probe_counting(&qemu, &cache, &asked);
            assert_eq!(
                asked.get(),
                before + 1,
                "note {broken:?} must not be trusted"
            );
            assert_eq!(f.version, (10, 0, asked.get()));
            // ... and the new answer replaced it.
            probe_counting(&qemu, &cache, &asked);
            assert_eq!(asked.get(), before + 1);
        }
    }

    #[test]
    fn scripts_missing_binaries_and_failed_probes_are_not_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let script = dir.path().join("qemu-wrapper");
        std::fs::write(&script, "#!/bin/sh\nexec qemu-system-ppc64 \"$@\"\n").unwrap();
        assert_eq!(QemuIdentity::of(&script), None);
        assert_eq!(QemuIdentity::of(&dir.path().join("absent")), None);
        let asked = std::cell::Cell::new(0);
        probe_counting(&script, &cache, &asked);
        probe_counting(&script, &cache, &asked);
        assert_eq!(asked.get(), 2);
        assert!(!cache.exists());

        let qemu = fake_binary(dir.path(), "qemu-system-ppc64", b"x");
        assert_eq!(cached_probe(qemu.to_str().unwrap(), &cache, |_| None), None);
        probe_counting(&qemu, &cache, &asked);
        assert_eq!(asked.get(), 3, "a qemu that did not answer left no note");
    }

    #[test]
    fn an_unwritable_cache_costs_only_the_note() {
        let dir = tempfile::tempdir().unwrap();
        let qemu = fake_binary(dir.path(), "qemu-system-ppc64", b"x");
        // A file where the cache directory should be.
        let cache = dir.path().join("cache");
        std::fs::write(&cache, b"").unwrap();
        let asked = std::cell::Cell::new(0);
        assert_eq!(probe_counting(&qemu, &cache, &asked).version, (10, 0, 1));
        assert_eq!(probe_counting(&qemu, &cache, &asked).version, (10, 0, 2));
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn an_x86_vm_is_created_and_closed_through_the_same_request() {
        // The live path of the probe, on the KVM this machine has: type 0 is
        // the default VM everywhere. Without a usable /dev/kvm there is
        // nothing to ask.
        let Ok(kvm) = open_dev_kvm() else {
            return;
        };
        assert!(create_vm_of_type(&kvm, 0).is_ok());
    }
}
