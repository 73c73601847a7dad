//! Cells as chains of levels: an emulated host booted by qemu under TCG at
//! level 0, running the cell's guest under real KVM at level 1.
//!
//! No POWER machine is needed to prove the KVM rows of the table: qemu's
//! `powernv9` machine boots a host kernel in hypervisor mode (KVM-HV loads
//! as on a real POWER9), and a `pseries` guest with `cap-nested-hv=on` is an
//! L1 of the nested scenarios. The harness builds the L1's initramfs itself
//! (busybox, the kernel's KVM modules, Debian's ppc64el qemu with its
//! libraries and firmware, the L2 kernels and payload) and an init that runs
//! every L2 command of the host in sequence, framing each on the console:
//!
//! ```text
//! BOOTMATRIX-L1-READY
//! BOOTMATRIX-L2-BEGIN 0
//! ...the L2 guest's console; qemu's stderr as "BM-L2-ERR: <line>"...
//! BOOTMATRIX-L2-END 0 rc=0
//! BOOTMATRIX-L1-DONE
//! ```
//!
//! Cells that share an emulated host (same kind, kernel, MMU, memory) share
//! one boot of it: the L1 boots once and runs its cells one after another.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::host::{DevKvm, HostFacts, HugetlbfsMount, KvmFacts, QemuFacts};
use crate::model::{Cell, Fix, HostKind, HostSpec, InnerQemu, Mmu, PageSize, Platform};
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

/// Framing printed by the L1 init.
pub const L1_READY: &str = "BOOTMATRIX-L1-READY";
/// See [`L1_READY`].
pub const L2_BEGIN: &str = "BOOTMATRIX-L2-BEGIN";
/// See [`L1_READY`].
pub const L2_END: &str = "BOOTMATRIX-L2-END";
/// See [`L1_READY`].
pub const L1_DONE: &str = "BOOTMATRIX-L1-DONE";
/// Prefix of the L2 qemu's stderr lines relayed on the L1 console.
pub const L2_STDERR: &str = "BM-L2-ERR: ";
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

/// What the rules see of an emulated host: plain facts, as a probe inside
/// the L1 would report them.
pub fn emulated_facts(host: &HostSpec, hugepages: u64) -> HostFacts {
    let mmu = host.mmu.unwrap_or(Mmu::Radix);
    let nested = host.kind == HostKind::NestedPseries;
    let kernel_pr = host.kernel.as_ref().is_some_and(|k| k.kvm_pr);
    // kvm-hv loads on bare metal, and in a guest only when it is Radix and
    // its L0 offers nesting (the L0 command always does).
    let hv_loaded = !nested || mmu == Mmu::Radix;
    let pr_loaded = kernel_pr && mmu == Mmu::Hpt;
    let hugetlbfs = if hugepages > 0 {
        vec![HugetlbfsMount {
            path: "/dev/hugepages".into(),
            page_size_kib: Some(l1_hugepage_kib(mmu)),
            writable: true,
        }]
    } else {
        Vec::new()
    };
    let generation = if host.kind == HostKind::PowerNv8 {
        8
    } else {
        9
    };
    HostFacts {
        arch: "ppc64le".into(),
        cpu: Some(format!("POWER{generation} (emulated by qemu TCG)")),
        power_generation: Some(generation),
        model: Some(
            if nested {
                "IBM pSeries (emulated by qemu)"
            } else {
                "IBM PowerNV (emulated by qemu)"
            }
            .into(),
        ),
        platform: Some(if nested {
            Platform::PSeries
        } else {
            Platform::PowerNv
        }),
        mmu: Some(mmu),
        page_size: host.page_size,
        hugepage_size_kib: Some(l1_hugepage_kib(mmu)),
        hugepages_total: hugepages,
        hugepages_free: hugepages,
        hugetlbfs,
        // TCG emulates no transactional memory, so the L1's KVM has none to
        // offer (measured: `KVM implementation does not support Transactional
        // Memory` from qemu 7.2 in the L1).
        kvm: KvmFacts {
            dev_kvm: DevKvm::Usable,
            hv_loaded,
            pr_loaded,
            hv_refused: None,
            pr_refused: None,
            htm: Some(false),
        },
        qemu: Some(QemuFacts {
            path: L1_QEMU.into(),
            version: inner_qemu(host).version,
            machines: Vec::new(),
            accels: vec!["kvm".into(), "tcg".into()],
        }),
    }
}

/// Why an emulated host cannot run `cell` at all, beyond what the rules
/// say, or `None`: the machine qemu must emulate, a host kernel without
/// KVM-PR or HugeTLB there, RAM, and the matrix's measured limitations.
pub fn host_limits(
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
    if cell.guest.accel == crate::model::Accel::KvmPr
        && !host.kernel.as_ref().is_some_and(|k| k.kvm_pr)
    {
        return Some(Missing::HostKernelWithoutPr {
            kernel: host
                .kernel
                .as_ref()
                .map_or("?".to_string(), |k| k.name.clone()),
        });
    }
    let hugepages = cell.guest.fixes.contains(&Fix::Hugepages);
    let patched = host.kernel.as_ref().is_some_and(|k| k.emulated_hugepages);
    if hugepages && host.kind.is_powernv() && host.mmu != Some(Mmu::Hpt) && !patched {
        return Some(Missing::EmulatedRadixHugetlb);
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
/// host kernel has no HugeTLB there, see [`host_limits`]).
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

/// Paths inside the L1 of the files an L2 boots from.
pub fn l2_files(cell: &Cell) -> BootFiles {
    BootFiles {
        kernel: PathBuf::from(format!("/l2/{}.vmlinux", cell.guest.kernel.name)),
        initrd: PathBuf::from("/l2/initrd.cpio"),
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
    kernel: &Path,
    initrd: &Path,
    hugepages: u64,
) -> QemuCommand {
    let memory = host.memory_mib.unwrap_or(default_host_memory(host.kind));
    let mut machine = match (host.kind, level0) {
        (HostKind::PowerNv9, _) => "powernv9".to_string(),
        (HostKind::PowerNv8, _) => "powernv8".to_string(),
        (_, Level0::Kvm) => "pseries,accel=kvm,kvm-type=HV,cap-nested-hv=on".to_string(),
        (_, Level0::Tcg) => "pseries,accel=tcg,cap-nested-hv=on".to_string(),
    };
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
        &kernel.to_string_lossy(),
        "-initrd",
        &initrd.to_string_lossy(),
        "-append",
        &append.join(" "),
        "-no-reboot",
    ]
    .map(str::to_string)
    .to_vec();
    QemuCommand {
        program: qemu.to_string(),
        args,
    }
}

/// One L2 run inside the L1: its argv (inside the L1) and time limit.
#[derive(Debug, Clone)]
pub struct InnerRun {
    /// The qemu argv inside the L1.
    pub argv: Vec<String>,
    /// Seconds before the L1 kills it.
    pub timeout_secs: u64,
}

/// The L1's `/init`: load KVM, mount hugetlbfs if asked, then run each L2
/// command under `timeout`, framing each and relaying its stderr with a
/// prefix, and report the exit status.
/// `hugepage_kib` is the size of the hugepages the L1 reserved, if any.
pub fn l1_init(modules: &[String], runs: &[InnerRun], hugepage_kib: Option<u64>) -> String {
    let mut s = String::from(
        "#!/bin/busybox sh\n/bin/busybox --install -s /bin\nexport PATH=/bin:/usr/bin\n\
         mount -t proc proc /proc\nmount -t sysfs sysfs /sys\nmount -t devtmpfs devtmpfs /dev 2>/dev/null\n\
         ln -s /proc/self/fd /dev/fd 2>/dev/null\n",
    );
    for m in modules {
        s.push_str(&format!(
            "insmod /lib/modules/{m} 2>&1 | sed 's/^/BOOTMATRIX-L1: /' || echo 'BOOTMATRIX-L1: insmod {m} failed'\n"
        ));
    }
    if let Some(kib) = hugepage_kib {
        s.push_str(&format!("mkdir -p /dev/hugepages\nmount -t hugetlbfs -o pagesize={kib}K hugetlbfs /dev/hugepages\n"));
        s.push_str("echo \"BOOTMATRIX-L1: hugepages $(grep HugePages_Free /proc/meminfo)\"\n");
    }
    s.push_str(&format!("echo {L1_READY}\n"));
    for (i, r) in runs.iter().enumerate() {
        let cmd: Vec<String> = r.argv.iter().map(|a| shell_quote(a)).collect();
        s.push_str(&format!(
            "echo {L2_BEGIN} {i}\n\
             {{ timeout -s KILL {t} {cmd} < /dev/console; echo $? > /tmp/rc; }} 2>&1 1>&3 | sed 's/^/{L2_STDERR}/'\n\
             echo \"{L2_END} {i} rc=$(cat /tmp/rc)\"\n",
            t = r.timeout_secs,
            cmd = cmd.join(" "),
        ));
    }
    s.push_str(&format!("echo {L1_DONE}\npoweroff -f\n"));
    // fd 3 is the console for the whole script.
    s.replacen(
        "export PATH=/bin:/usr/bin\n",
        "export PATH=/bin:/usr/bin\nexec 3>/dev/console\n",
        1,
    )
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
    /// L2 kernels by name (placed at `/l2/<name>.vmlinux`).
    pub l2_kernels: Vec<(String, Vec<u8>)>,
    /// The L2 payload (an uncompressed initramfs).
    pub l2_initrd: &'a [u8],
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
    let kernel_paths: Vec<String> = c
        .l2_kernels
        .iter()
        .map(|(n, _)| format!("l2/{n}.vmlinux"))
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
    for ((_, data), p) in c.l2_kernels.iter().zip(&kernel_paths) {
        files.push(Member::File {
            path: p,
            mode: 0o644,
            data,
        });
    }
    files.push(Member::File {
        path: "l2/initrd.cpio",
        mode: 0o644,
        data: c.l2_initrd,
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
