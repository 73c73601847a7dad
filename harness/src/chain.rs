//! Cells as chains of levels: an emulated host booted by qemu at level 0
//! runs bootmatrix itself, which boots the cell's guest under real KVM at
//! level 1.
//!
//! No POWER machine is needed to prove the KVM rows of the table: qemu's
//! `powernv9` machine boots a host kernel in hypervisor mode (KVM-HV loads
//! as on a real POWER9), and a `pseries` guest with `cap-nested-hv=on` is an
//! L1 of the nested scenarios. The harness builds the host's initramfs
//! (busybox, the kernel's KVM modules, Debian's ppc64el qemu with its
//! libraries and firmware, a ppc64le build of this very bootmatrix, the
//! matrix and the images its cells boot) and an init that only mounts, loads
//! KVM, reserves hugepages and starts `bootmatrix run --hosts native` on the
//! host's cells. That run probes the host, plans and boots exactly as on a
//! POWER9 runner, and relays each event over the console
//! ([`crate::hosted`]).
//!
//! What the outside knows of a host before it boots is only what it
//! configures ([`ExpectedHost`]): the plan previews the host's cells with
//! it, and the session checks the inner probe against it before believing
//! any verdict.
//!
//! Cells that share an emulated host (same kind, kernel, MMU, memory) share
//! one boot of it: the host boots once and runs its cells one after another.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::host::{DevKvm, HostFacts, HugetlbfsMount, KvmFacts, QemuFacts};
use crate::model::{Cell, Firmware, Fix, HostKind, HostSpec, InnerQemu, Mmu, PageSize, Platform};
use crate::payload::{self, Member};
use crate::qemu::{shell_quote, BootFiles, QemuCommand};
use crate::readiness::Missing;

/// Where qemu lives inside the L1.
pub const L1_QEMU: &str = "/usr/bin/qemu-system-ppc64";
/// The qemu an L1 runs unless a cell needs an older one: Debian
/// bookworm-backports' ppc64el qemu, as (release, version).
pub const DEFAULT_INNER_QEMU: (&str, (u32, u32, u32)) = ("bookworm-backports", (10, 0, 2));

/// The qemu an emulated host runs its guests with.
pub fn inner_qemu(host: &HostSpec) -> InnerQemu {
    host.inner_qemu.clone().unwrap_or_else(|| InnerQemu {
        release: DEFAULT_INNER_QEMU.0.to_string(),
        version: DEFAULT_INNER_QEMU.1,
    })
}
/// Turns every native cell that names a host row into the same cell on an
/// emulated host: a `powernv9` bare-metal host, or a `nested-pseries` L1 for
/// the nested rows (or the machine and host kernel the row names, matrix keys
/// `emulated_host` and `emulated_host_kernel`). Cell names do not change, so results of a native and an
/// emulated run compare cell by cell (`bootmatrix diff`).
pub fn emulate(
    cells: &[Cell],
    emulation: &crate::matrix::Emulation,
) -> std::result::Result<Vec<Cell>, String> {
    use crate::model::HostKind;
    cells
        .iter()
        .map(|c| {
            let mut c = c.clone();
            if c.host.kind != HostKind::Native || !c.guest.accel.is_kvm() {
                return Ok(c);
            }
            let page = c.host.page_size.unwrap_or(PageSize::K64);
            let pr = c.guest.accel == crate::model::Accel::KvmPr;
            // A row may name its emulated host kernel (matrix key
            // `emulated_host_kernel`); else the table's by page size.
            let pinned = c.host.emulated_kernel.take();
            let kernel = match page {
                _ if pinned.is_some() => pinned,
                PageSize::K4 => emulation
                    .pr_kernel_4k
                    .clone()
                    .filter(|_| pr)
                    .or_else(|| emulation.kernel_4k.clone()),
                PageSize::K64 => emulation
                    .pr_kernel_64k
                    .clone()
                    .filter(|_| pr)
                    .or_else(|| emulation.kernel_64k.clone()),
            }
            .ok_or_else(|| {
                format!(
                    "cell {}: [emulation] names no kernel for {page} host rows",
                    c.name
                )
            })?;
            let native_default = crate::matrix::default_timeout(c.guest.accel, HostKind::Native);
            let pinned_kind = c.host.emulated_kind.take();
            c.host.kind = if c.host.nested == Some(true) {
                HostKind::NestedPseries
            } else {
                pinned_kind.unwrap_or(HostKind::PowerNv9)
            };
            // A timeout the matrix left at the native default grows with the
            // extra level; one the matrix set stays as written.
            if c.timeout == native_default {
                c.timeout = crate::matrix::default_timeout(c.guest.accel, c.host.kind);
            }
            c.host.mmu = Some(c.host.mmu.unwrap_or(Mmu::Radix));
            c.host.page_size = Some(kernel.page_size);
            c.host.kernel = Some(kernel);
            c.host.memory_mib = emulation.memory_mib;
            let default_qemu = DEFAULT_INNER_QEMU.1;
            if let Some(old) = &emulation.old_machine_qemu {
                let machine = c.guest.machine.pseries_version();
                if crate::rules::machine_removed(machine, default_qemu)
                    && !crate::rules::machine_removed(machine, old.version)
                {
                    c.host.inner_qemu = Some(old.clone());
                }
            }
            Ok(c)
        })
        .collect()
}

/// Printed by the host's init once KVM is loaded, before the run starts.
pub const L1_READY: &str = "BOOTMATRIX-L1-READY";
/// Printed by the host's init after the run inside, with its exit status.
pub const L1_DONE: &str = crate::relay::CLOSED;
/// Where the ppc64le bootmatrix lives inside the host.
pub const INNER_BOOTMATRIX: &str = "/bin/bootmatrix";
/// Where the matrix, image descriptions and images live inside the host.
pub const INNER_DIR: &str = "/bootmatrix";
/// Size of the hugepages an L1 reserves for hugepage-backed guests: the
/// hash MMU's 16 MiB pages, or Radix's 2 MiB ones.
pub fn l1_hugepage_kib(mmu: Mmu) -> u64 {
    match mmu {
        Mmu::Hpt => 16 * 1024,
        Mmu::Radix => 2 * 1024,
    }
}

/// RAM of an emulated host when the matrix does not say.
pub fn default_host_memory(kind: HostKind) -> u32 {
    match kind {
        HostKind::PowerNv9 | HostKind::PowerNv8 => 6144,
        HostKind::NestedPseries | HostKind::Native => 4096,
    }
}

/// Hugepages of `hugepage_kib` an L1 reserves at boot for the largest
/// hugepage-backed guest it runs (reserving later fails from fragmentation,
/// docs/emulated-hosts.md#hugepage-reservation), with 16 MiB to spare.
pub fn hugepages_for(guest_memory_mib: u32, hugepage_kib: u64) -> u64 {
    (guest_memory_mib as u64 + 16) * 1024 / hugepage_kib.max(1) + 1
}

/// What the outside configures of an emulated host, and so what the probe
/// inside must find: the plan previews the host's cells with these facts
/// and the session checks the inner probe against them (any disagreement
/// makes the session's cells infrastructure errors, never re-planned).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExpectedHost {
    /// pSeries for a nested L1, else PowerNV.
    pub platform: Platform,
    /// The MMU the host is booted with.
    pub mmu: Mmu,
    /// Its kernel's base page size.
    pub page_size: Option<PageSize>,
    /// Hugepages reserved at boot (0: none).
    pub hugepages: u64,
    /// Their size, KiB.
    pub hugepage_kib: u64,
    /// Whether KVM-HV must be usable: on bare metal always, in a nested
    /// L1 only when it is Radix (nested HV needs an all-Radix chain).
    pub kvm_hv: bool,
    /// Whether KVM-PR must be usable: when the host kernel has it and the
    /// host is HPT (KVM-PR refuses Radix hosts).
    pub kvm_pr: bool,
    /// Whether its KVM-PR VMs get MMU notifiers, as its kernel is declared
    /// (`kvm_pr_mmu_notifiers` in [kernels]).
    pub kvm_pr_mmu_notifiers: bool,
    /// The POWER generation qemu emulates.
    pub power_generation: u32,
    /// The inner qemu's (major, minor).
    pub qemu: (u32, u32),
}

/// What `host` will be once booted with `hugepages` reserved.
pub fn expected_host(host: &HostSpec, hugepages: u64) -> ExpectedHost {
    let mmu = host.mmu.unwrap_or(Mmu::Radix);
    let nested = host.kind == HostKind::NestedPseries;
    let qemu = inner_qemu(host).version;
    ExpectedHost {
        platform: if nested {
            Platform::PSeries
        } else {
            Platform::PowerNv
        },
        mmu,
        page_size: host.page_size,
        hugepages,
        hugepage_kib: l1_hugepage_kib(mmu),
        kvm_hv: !nested || mmu == Mmu::Radix,
        kvm_pr: host.kernel.as_ref().is_some_and(|k| k.kvm_pr) && mmu == Mmu::Hpt,
        kvm_pr_mmu_notifiers: host.kernel.as_ref().is_none_or(|k| k.kvm_pr_mmu_notifiers),
        power_generation: if host.kind == HostKind::PowerNv8 {
            8
        } else {
            9
        },
        qemu: (qemu.0, qemu.1),
    }
}

impl ExpectedHost {
    /// The expectation as the facts a probe inside would report, for the
    /// plan's preview of the host's cells.
    pub fn facts(&self) -> HostFacts {
        let hugetlbfs = if self.hugepages > 0 {
            vec![HugetlbfsMount {
                path: "/dev/hugepages".into(),
                page_size_kib: Some(self.hugepage_kib),
                writable: true,
            }]
        } else {
            Vec::new()
        };
        let generation = self.power_generation;
        HostFacts {
            arch: "ppc64le".into(),
            cpu: Some(format!("POWER{generation} (emulated by qemu TCG)")),
            power_generation: Some(generation),
            model: Some(
                match self.platform {
                    Platform::PSeries => "IBM pSeries (emulated by qemu)",
                    _ => "IBM PowerNV (emulated by qemu)",
                }
                .into(),
            ),
            platform: Some(self.platform.clone()),
            mmu: Some(self.mmu),
            page_size: self.page_size,
            hugepage_size_kib: Some(self.hugepage_kib),
            hugepages_total: self.hugepages,
            hugepages_free: self.hugepages,
            hugetlbfs,
            // TCG emulates no transactional memory, so the host's KVM has
            // none to offer (docs/emulated-hosts.md).
            kvm: KvmFacts {
                dev_kvm: DevKvm::Usable,
                hv_loaded: self.kvm_hv,
                pr_loaded: self.kvm_pr,
                hv_refused: None,
                pr_refused: None,
                htm: Some(false),
                pr_mmu_notifiers: self.kvm_pr.then_some(self.kvm_pr_mmu_notifiers),
            },
            qemu: Some(QemuFacts {
                path: L1_QEMU.into(),
                version: (self.qemu.0, self.qemu.1, 0),
                machines: Vec::new(),
                accels: vec!["kvm".into(), "tcg".into()],
            }),
        }
    }

    /// Where the probe inside disagrees with this expectation, one line
    /// each naming both values; empty when it agrees.
    pub fn disagreements(&self, probed: &HostFacts) -> Vec<String> {
        let mut out = Vec::new();
        let mut differ = |what: &str, expected: String, found: String| {
            if expected != found {
                out.push(format!("{what}: expected {expected}, probed {found}"));
            }
        };
        let show = |v: Option<String>| v.unwrap_or_else(|| "nothing".into());
        differ("architecture", "ppc64le".into(), probed.arch.clone());
        differ(
            "platform",
            self.platform.to_string(),
            show(probed.platform.as_ref().map(|p| p.to_string())),
        );
        differ(
            "MMU",
            self.mmu.to_string(),
            show(probed.mmu.map(|m| m.to_string())),
        );
        differ(
            "page size",
            show(self.page_size.map(|p| p.to_string())),
            show(probed.page_size.map(|p| p.to_string())),
        );
        if self.hugepages > 0 {
            differ(
                "hugepages",
                format!("{} of {} KiB", self.hugepages, self.hugepage_kib),
                format!(
                    "{} of {} KiB",
                    probed.hugepages_total,
                    probed.hugepage_size_kib.unwrap_or(0)
                ),
            );
        }
        differ(
            "/dev/kvm",
            format!("{:?}", DevKvm::Usable),
            format!("{:?}", probed.kvm.dev_kvm),
        );
        let usable = |yes: bool| if yes { "usable" } else { "not usable" }.to_string();
        differ("KVM-HV", usable(self.kvm_hv), usable(probed.kvm.hv_loaded));
        differ("KVM-PR", usable(self.kvm_pr), usable(probed.kvm.pr_loaded));
        // TCG emulates no transactional memory, so no KVM there offers it.
        if let Some(htm) = probed.kvm.htm {
            let offered = |yes: bool| if yes { "offered" } else { "not offered" }.to_string();
            differ("transactional memory", offered(false), offered(htm));
        }
        if let (true, Some(has)) = (self.kvm_pr, probed.kvm.pr_mmu_notifiers) {
            let given = |yes: bool| if yes { "given" } else { "not given" }.to_string();
            differ(
                "KVM-PR MMU notifiers",
                given(self.kvm_pr_mmu_notifiers),
                given(has),
            );
        }
        differ(
            "qemu",
            format!("{}.{}", self.qemu.0, self.qemu.1),
            show(
                probed
                    .qemu
                    .as_ref()
                    .map(|q| format!("{}.{}", q.version.0, q.version.1)),
            ),
        );
        out
    }
}

/// Why `cell` cannot be placed on an emulated host at all, or `None`: the
/// machine qemu must emulate (from this machine's probe), the host's RAM
/// (configured), and the matrix's measured limitations (data). Everything
/// about the host itself is decided by the run inside it, from its probe.
pub fn placement_limit(
    cell: &Cell,
    probed: &HostFacts,
    emulation: Option<&crate::matrix::Emulation>,
) -> Option<Missing> {
    let host = &cell.host;
    let machine = match host.kind {
        HostKind::PowerNv9 => "powernv9",
        HostKind::PowerNv8 => "powernv8",
        HostKind::NestedPseries => "pseries",
        HostKind::Native => return None,
    };
    let Some(q) = &probed.qemu else {
        return Some(Missing::Qemu);
    };
    if !q.machines.is_empty() && !q.machines.iter().any(|m| m == machine) {
        return Some(Missing::EmulatedMachine {
            machine: machine.to_string(),
            version: q.version,
        });
    }
    // Configurations measured to hang on emulated hosts are the matrix's
    // data, not code: a matrix re-tests one by dropping its entry.
    if let Some(l) = emulation.and_then(|e| {
        e.limitations.iter().find(|l| {
            l.cells
                .iter()
                .any(|p| crate::select::matches_filter(&cell.name, p))
        })
    }) {
        return Some(Missing::KnownLimitation {
            reason: l.reason.clone(),
        });
    }
    let host_mib = host.memory_mib.unwrap_or(default_host_memory(host.kind));
    if cell.guest.memory_mib + 1024 > host_mib {
        return Some(Missing::HostMemory {
            guest_mib: cell.guest.memory_mib,
            host_mib,
        });
    }
    None
}

/// What cells that share one boot of an emulated host have in common: the
/// kind of host, its MMU, its kernel, its RAM and the qemu inside it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct SessionKey {
    /// powernv9 or nested-pseries.
    pub kind: HostKind,
    /// The MMU the host boots with.
    pub mmu: Mmu,
    /// The host kernel's name in the matrix (`none` if it has none).
    pub kernel: String,
    /// RAM, MiB.
    pub memory_mib: u32,
    /// The inner qemu's (major, minor).
    pub qemu: (u32, u32),
}

impl std::fmt::Display for SessionKey {
    /// The key as a name: `powernv9-hpt-host-4k-6144-qemu10.0`, also the
    /// host's directory under `hosts/`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}-{}-{}-{}-qemu{}.{}",
            self.kind.as_str(),
            self.mmu,
            self.kernel,
            self.memory_mib,
            self.qemu.0,
            self.qemu.1
        )
    }
}

/// The session an emulated host's cells share.
pub fn session_key(host: &HostSpec) -> SessionKey {
    let qemu = inner_qemu(host).version;
    SessionKey {
        kind: host.kind,
        mmu: host.mmu.unwrap_or(Mmu::Radix),
        kernel: host
            .kernel
            .as_ref()
            .map_or("none".to_string(), |k| k.name.clone()),
        memory_mib: host.memory_mib.unwrap_or(default_host_memory(host.kind)),
        qemu: (qemu.0, qemu.1),
    }
}

/// Hugepages the emulated host of `cell` reserves: enough for the largest
/// hugepage-backed guest among `cells` on the same host (none where the
/// host kernel has no HugeTLB there).
pub fn session_hugepages(cell: &Cell, cells: &[Cell]) -> u64 {
    let mmu = cell.host.mmu.unwrap_or(Mmu::Radix);
    let patched = cell
        .host
        .kernel
        .as_ref()
        .is_some_and(|k| k.emulated_hugepages);
    let hugetlb = mmu == Mmu::Hpt || cell.host.kind == HostKind::NestedPseries || patched;
    if !cell.host.kind.is_emulated() || !hugetlb {
        return 0;
    }
    let key = session_key(&cell.host);
    cells
        .iter()
        .filter(|c| session_key(&c.host) == key && c.guest.fixes.contains(&Fix::Hugepages))
        .map(|c| hugepages_for(c.guest.memory_mib, l1_hugepage_kib(mmu)))
        .max()
        .unwrap_or(0)
}

/// Paths inside the host of the files a cell's guest would boot from, for
/// the plan's preview of its command (the run inside names its own).
pub fn l2_files(cell: &Cell) -> BootFiles {
    BootFiles {
        kernel: PathBuf::from(format!("{INNER_DIR}/files/{}", cell.guest.kernel.image)),
        initrd: PathBuf::from("<initramfs inside the host>"),
        nvram: PathBuf::from("<nvram inside the host>"),
    }
}

/// How qemu runs an emulated host at level 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level0 {
    /// Under TCG: any machine can, at emulation speed.
    Tcg,
    /// Under this machine's own KVM-HV: a POWER runner boots a nested
    /// pseries L1 at hardware speed (`accel=kvm,cap-nested-hv=on`).
    Kvm,
}

/// How the probed machine can run an emulated host of `kind`: a
/// `nested-pseries` L1 under KVM-HV where this is a bare-metal Radix POWER
/// host whose KVM-HV is usable (nested HV needs an all-Radix chain), else
/// under TCG. A powernv machine only exists under TCG.
pub fn level0(probed: &HostFacts, kind: HostKind) -> Level0 {
    let kvm_hv = probed.is_power()
        && !probed.emulated_by_qemu()
        && probed.kvm.dev_kvm == DevKvm::Usable
        && probed.kvm.hv_loaded
        && probed.mmu == Some(Mmu::Radix)
        && probed.platform == Some(Platform::PowerNv);
    if kind == HostKind::NestedPseries && kvm_hv {
        Level0::Kvm
    } else {
        Level0::Tcg
    }
}

/// The level-0 command that boots the emulated host.
pub fn host_command(
    qemu: &str,
    host: &HostSpec,
    level0: Level0,
    files: &BootFiles,
    hugepages: u64,
) -> QemuCommand {
    let memory = host.memory_mib.unwrap_or(default_host_memory(host.kind));
    let mut machine = match (host.kind, level0) {
        (HostKind::PowerNv9, _) => "powernv9".to_string(),
        (HostKind::PowerNv8, _) => "powernv8".to_string(),
        (_, Level0::Kvm) => "pseries,accel=kvm,kvm-type=HV,cap-nested-hv=on".to_string(),
        (_, Level0::Tcg) => "pseries,accel=tcg,cap-nested-hv=on".to_string(),
    };
    // A pseries L1 under TCG starts under VOF: from its start to its first
    // cell took 8.0-8.7 s under SLOF, 2.9-3.8 s under VOF (BENCHMARKS.md), and
    // the L1's firmware is the harness's machinery, not what a row proves.
    // (powernv machines start skiboot, and under KVM SLOF is quick.)
    let firmware = match (host.kind, level0) {
        (HostKind::PowerNv9 | HostKind::PowerNv8, _) | (_, Level0::Kvm) => None,
        (_, Level0::Tcg) => Some(Firmware::Vof),
    };
    if firmware == Some(Firmware::Vof) {
        machine.push_str(",x-vof=on");
    }
    let cpu = match (level0, host.kind) {
        (Level0::Kvm, _) => "host",
        (Level0::Tcg, HostKind::PowerNv8) => "POWER8",
        (Level0::Tcg, _) => "POWER9",
    };
    // An HPT pseries L1 gets 16 MiB hash pages (hence HugeTLB) only if its
    // L0 offers them; without them its kernel registers no hugetlbfs.
    let mmu = host.mmu.unwrap_or(Mmu::Radix);
    if hugepages > 0 && host.kind == HostKind::NestedPseries && mmu == Mmu::Hpt {
        machine.push_str(",cap-hpt-max-page-size=16M");
    }
    // Quiet: the L1's kernel shares the console with the L2's report.
    let mut append = vec![
        "console=hvc0".to_string(),
        "quiet".into(),
        "loglevel=1".into(),
        "panic=-1".into(),
    ];
    // POWER8 has no Radix: its kernel runs hash without being told.
    if host.mmu == Some(Mmu::Hpt) && host.kind != HostKind::PowerNv8 {
        append.push("disable_radix".into());
    }
    if hugepages > 0 {
        let size = format!("{}M", l1_hugepage_kib(mmu) / 1024);
        append.push(format!("default_hugepagesz={size}"));
        append.push(format!("hugepagesz={size}"));
        append.push(format!("hugepages={hugepages}"));
    }
    let args = [
        "-machine",
        &machine,
        "-cpu",
        cpu,
        "-m",
        &memory.to_string(),
        "-smp",
        "1",
        "-nographic",
        "-nodefaults",
        "-serial",
        "mon:stdio",
        "-kernel",
        &files.kernel.to_string_lossy(),
        "-initrd",
        &files.initrd.to_string_lossy(),
        "-append",
        &append.join(" "),
        "-no-reboot",
    ]
    .map(str::to_string)
    .to_vec();
    let args = if firmware == Some(Firmware::Vof) {
        [args, crate::qemu::vof_nvram_args(&files.nvram).to_vec()].concat()
    } else {
        args
    };
    QemuCommand {
        program: qemu.to_string(),
        args,
    }
}

/// The host's `/init`: mount, load KVM, mount hugetlbfs if asked, then run
/// `run` (the inner bootmatrix's argv) and power off. Its stdout is the
/// console, where the inner run relays its events. `hugepage_kib` is the
/// size of the hugepages the host reserved, if any.
pub fn l1_init(modules: &[String], run: &[String], hugepage_kib: Option<u64>) -> String {
    let mut s = String::from(
        "#!/bin/busybox sh\n/bin/busybox --install -s /bin\nexport PATH=/bin:/usr/bin\n\
         mount -t proc proc /proc\nmount -t sysfs sysfs /sys\nmount -t devtmpfs devtmpfs /dev 2>/dev/null\n\
         mkdir -p /dev/pts\nmount -t devpts devpts /dev/pts\n\
         ln -s /proc/self/fd /dev/fd 2>/dev/null\n",
    );
    // qemu puts a snapshot drive's overlay (a VOF guest's NVRAM) in
    // $TMPDIR, else /var/tmp, which an initramfs lacks.
    s.push_str("mkdir -p /var/tmp\n");
    for m in modules {
        s.push_str(&format!(
            "insmod /lib/modules/{m} 2>&1 | sed 's/^/BOOTMATRIX-L1: /' || echo 'BOOTMATRIX-L1: insmod {m} failed'\n"
        ));
    }
    if let Some(kib) = hugepage_kib {
        s.push_str(&format!("mkdir -p /dev/hugepages\nmount -t hugetlbfs -o pagesize={kib}K hugetlbfs /dev/hugepages\n"));
    }
    // The host's own words, for whoever reads its console log.
    s.push_str("echo \"BOOTMATRIX-L1: $(grep -m1 '^cpu' /proc/cpuinfo)\"\n");
    s.push_str(&format!("echo {L1_READY}\ncd /tmp\n"));
    let cmd: Vec<String> = run.iter().map(|a| shell_quote(a)).collect();
    s.push_str(&format!(
        "{} < /dev/null\necho \"{L1_DONE} rc=$?\"\npoweroff -f\n",
        cmd.join(" ")
    ));
    s
}

/// A file of the L1 userland (qemu, its libraries and firmware).
pub enum UserlandFile<'a> {
    /// A regular file.
    File(&'a str, u32, &'a [u8]),
    /// A symbolic link.
    Symlink(&'a str, &'a str),
    /// A directory.
    Dir(&'a str),
}

/// What goes into an L1 initramfs.
pub struct L1Contents<'a> {
    /// Static ppc64le busybox.
    pub busybox: &'a [u8],
    /// The `/init` script ([`l1_init`]).
    pub init: &'a str,
    /// KVM modules, `(file name, bytes)`, in load order.
    pub modules: &'a [(String, Vec<u8>)],
    /// qemu and what it needs.
    pub userland: Vec<UserlandFile<'a>>,
    /// The ppc64le bootmatrix (placed at [`INNER_BOOTMATRIX`]).
    pub bootmatrix: &'a [u8],
    /// What the run inside reads, `(path without the leading /, bytes)`:
    /// the matrix, image descriptions and the images under [`INNER_DIR`].
    pub run_files: Vec<(String, Vec<u8>)>,
}

/// Writes the L1 initramfs to `path`, zstd-compressed, via a temporary file
/// renamed at the end. Compressed because qemu's powernv loads at most
/// 128 MiB of initrd and qemu with two guest kernels is more; zstd because
/// it is the fastest of the kernel's decompressors inside a TCG guest.
pub fn write_l1_initramfs(path: &Path, c: &L1Contents) -> std::io::Result<()> {
    let module_paths: Vec<String> = c
        .modules
        .iter()
        .map(|(n, _)| format!("lib/modules/{n}"))
        .collect();
    let mut files: Vec<Member> = Vec::new();
    for ((_, data), p) in c.modules.iter().zip(&module_paths) {
        files.push(Member::File {
            path: p,
            mode: 0o644,
            data,
        });
    }
    let mut extra_dirs: Vec<&str> = Vec::new();
    for f in &c.userland {
        match f {
            UserlandFile::Dir(p) => extra_dirs.push(p),
            UserlandFile::File(p, mode, data) => files.push(Member::File {
                path: p,
                mode: *mode,
                data,
            }),
            UserlandFile::Symlink(p, target) => files.push(Member::Symlink { path: p, target }),
        }
    }
    for (p, data) in &c.run_files {
        files.push(Member::File {
            path: p,
            mode: 0o644,
            data,
        });
    }
    files.push(Member::File {
        path: INNER_BOOTMATRIX.trim_start_matches('/'),
        mode: 0o755,
        data: c.bootmatrix,
    });
    // Every parent directory, once, before anything inside it.
    let base = ["bin", "dev", "proc", "sys", "tmp"];
    let mut dirs: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let mut add_parents = |p: &str, own: bool| {
        let parts: Vec<&str> = p.split('/').collect();
        let upto = if own { parts.len() } else { parts.len() - 1 };
        for n in 1..=upto {
            let d = parts[..n].join("/");
            if !base.contains(&d.as_str()) {
                dirs.insert(d);
            }
        }
    };
    for m in &files {
        if let Member::File { path, .. } | Member::Symlink { path, .. } = m {
            add_parents(path, false);
        }
    }
    for d in &extra_dirs {
        add_parents(d, true);
    }
    let mut members: Vec<Member> = payload::base_members(c.busybox);
    members.push(Member::File {
        path: "init",
        mode: 0o755,
        data: c.init.as_bytes(),
    });
    // BTreeSet order puts a parent before its children.
    members.extend(dirs.iter().map(|d| Member::Dir(d.as_str())));
    members.extend(files);
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let file = BufWriter::new(std::fs::File::create(&tmp)?);
    let encoder = zstd::stream::write::Encoder::new(file, 3)?;
    let encoder = payload::write_archive(encoder, &members)?;
    let mut file = encoder.finish()?;
    file.flush()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

/// A reproducer for an L2 cell: the level-0 command that boots its host
/// (which runs every L2 of that host), and the inner command.
pub fn repro_script(cell: &str, l0: &QemuCommand, inner: &[String]) -> String {
    let mut s = l0.repro_script(cell);
    s = s.replacen(
        "# The exact command the harness ran.",
        &format!(
            "# This cell runs inside an emulated host. Its command inside the host:\n#   {}\n# The exact level-0 command the harness ran (it boots the host, which\n# runs every cell of that host in turn).",
            inner.iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" ")
        ),
        1,
    );
    s
}
