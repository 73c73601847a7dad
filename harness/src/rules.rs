//! The compatibility table as code: given a host and a cell, what must
//! happen, and which flags make it so. Pure functions, no I/O.
//!
//! The table is the Void Linux page (`void-ppc-virtualization.md`, "Compatibility
//! summary" and the KVM HV / KVM PR sections), corrected by the QEMU source
//! (`qemu-rules.md`, sections 5b and 6) where the two disagree. [`predict`]
//! walks a cell through QEMU's checks in the order QEMU makes them:
//!
//! 1. the machine type exists ([`machine_removed`]);
//! 2. under TCG nothing about pages is checked, only HTM on old machines;
//! 3. under KVM: the module behind `kvm-type` can run on the host MMU, the CPU
//!    model is the host's (KVM-HV), the caps KVM must honour (HTM, the HPT
//!    page-size limit, nested HV, the caps KVM-PR lacks), the 64 KiB CI-page
//!    check, then the MMU the guest really gets and, for an HPT guest, the RMA
//!    that must fit in the VRMA.
//!
//! The first check that fails is the outcome. Separately, [`predict`] says
//! whether *this* machine can run the cell at all ([`Prediction::skip`]); a
//! host that does not match the cell's row is a skip, never a pass.

use serde::Serialize;

use crate::host::HostFacts;
use crate::model::{Accel, Cell, Fix, Mmu, PageSize};

/// What the documentation says a cell will do on a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
        /// Id in [`crate::documented`].
        error: String,
        /// The message as it will be printed for this cell.
        message: String,
    },
}

/// One flag the rules add to the command line, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Addition {
    /// The flag as it appears, e.g. `cap-hpt-max-page-size=4096`.
    pub flag: String,
    /// Why it is there.
    pub why: String,
}

/// The rules' answer for one cell on one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prediction {
    /// What the documentation says happens on the cell's host row.
    pub outcome: Outcome,
    /// Why this machine cannot run the cell (it is skipped, never passed),
    /// or `None` when it can. Says what is missing and how to get it.
    pub skip: Option<String>,
    /// The rule that decided it, citing the document or QEMU source.
    pub rule: String,
    /// `-machine` properties after the machine type, in order
    /// (`accel`, `kvm-type`, caps...).
    pub machine_props: Vec<(String, String)>,
    /// `-cpu` model.
    pub cpu: String,
    /// Further arguments (e.g. `-mem-path /dev/hugepages`).
    pub extra_args: Vec<String>,
    /// Flags added by the rules, with reasons (shown by `plan`).
    pub additions: Vec<Addition>,
    /// Where the Void document and QEMU source disagree for this cell.
    pub notes: Vec<String>,
}

/// The host row of the compatibility summary a cell is judged on: the host
/// MMU and page size, and whether the "host" is itself a KVM guest (the
/// nested scenarios).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HostRow {
    /// Radix or HPT host.
    pub mmu: Mmu,
    /// The host kernel's base page size.
    pub page_size: PageSize,
    /// True when level 0 is a pSeries guest (an L1), so the cell's guest is
    /// an L2 of the nested scenarios.
    pub nested: bool,
    /// True when neither the cell nor the probe said what the host runs and
    /// the Void default (Radix, 4 KiB) was assumed.
    pub assumed: bool,
}

/// The QEMU version assumed when the probe found none: the one the harness
/// is qualified against (`measured.md`).
pub const ASSUMED_QEMU: (u32, u32, u32) = (10, 0, 2);

/// The host row for `cell`: the cell's own requirements where it states them,
/// the probed host where it does not, and the Void default (Radix host,
/// 4 KiB pages, "Void default on POWER9 and newer") when neither knows.
pub fn host_row(host: &HostFacts, cell: &Cell) -> HostRow {
    let probed_mmu = if host.is_power() { host.mmu } else { None };
    let probed_page = if host.is_power() {
        host.page_size
    } else {
        None
    };
    let mmu = cell.host.mmu.or(probed_mmu);
    let page_size = cell.host.page_size.or(probed_page);
    HostRow {
        mmu: mmu.unwrap_or(Mmu::Radix),
        page_size: page_size.unwrap_or(PageSize::K4),
        nested: cell.host.nested.unwrap_or_else(|| probed_nested(host)),
        assumed: mmu.is_none() || page_size.is_none(),
    }
}

/// True when the probed host is itself a pSeries guest (an L1).
fn probed_nested(host: &HostFacts) -> bool {
    host.is_power() && host.platform.as_deref() == Some("pSeries")
}

/// How the Void summary names a host MMU (`Radix host`, `HPT host`).
fn mmu_word(mmu: Mmu) -> &'static str {
    match mmu {
        Mmu::Radix => "Radix",
        Mmu::Hpt => "HPT",
    }
}

/// How the Void summary names a page size (`4 KiB pages`).
fn pages_word(p: PageSize) -> &'static str {
    match p {
        PageSize::K4 => "4 KiB pages",
        PageSize::K64 => "64 KiB pages",
    }
}

/// The documented row a cell proves, for reports and drift messages: the
/// cell's own `row` when the matrix states it, else one built in the words
/// of the Void summary, e.g. `Radix host, 4 KiB pages / HPT guest, 4 KiB
/// pages (HV)`.
pub fn documented_row(cell: &Cell) -> String {
    if let Some(row) = &cell.row {
        return row.clone();
    }
    let g = &cell.guest;
    let host = match (cell.host.mmu, cell.host.page_size) {
        (Some(m), Some(p)) => format!("{} host, {}", mmu_word(m), pages_word(p)),
        (Some(m), None) => format!("{} host", mmu_word(m)),
        (None, Some(p)) => format!("any host, {}", pages_word(p)),
        (None, None) => "any host".to_string(),
    };
    let guest = match g.accel {
        Accel::KvmPr => "KVM PR".to_string(),
        Accel::KvmHv => format!(
            "{} guest, {} (HV)",
            mmu_word(g.mmu),
            pages_word(g.kernel.page_size)
        ),
        Accel::Tcg => format!(
            "{} guest, {} (TCG)",
            mmu_word(g.mmu),
            pages_word(g.kernel.page_size)
        ),
    };
    format!("{host} / {guest}")
}

/// QEMU's `kvm-type` values. QEMU reads them case-insensitively since 6.0
/// (`hv`, `HV`, `Hv` are the same) and never parses them under TCG
/// (qemu-rules §2, §6.6), so a bad value only matters under KVM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum KvmType {
    /// Let KVM pick (HV when loaded, else PR).
    Auto,
    /// `kvm_hv`.
    Hv,
    /// `kvm_pr`.
    Pr,
}

/// Parses a `kvm-type` value the way QEMU 6.0+ does (case-insensitive);
/// `None` is QEMU's `Unknown kvm-type specified`.
pub fn parse_kvm_type(value: &str) -> Option<KvmType> {
    match value.to_ascii_lowercase().as_str() {
        "auto" => Some(KvmType::Auto),
        "hv" => Some(KvmType::Hv),
        "pr" => Some(KvmType::Pr),
        _ => None,
    }
}

/// Parses a QEMU size value (`4096`, `4k`, `64K`, `16M`) into bytes, the way
/// `cap-hpt-max-page-size` and `pagesize=` accept it.
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

/// True when `machine` was removed from QEMU `version`: pseries-2.x in 9.2,
/// pseries-3.0 to 4.2 in 10.2 (qemu-rules §2, 5b#3).
pub fn machine_removed(machine_version: Option<(u32, u32)>, qemu: (u32, u32, u32)) -> bool {
    let q = (qemu.0, qemu.1);
    match machine_version {
        Some((2, _)) => q >= (9, 2),
        Some((3, _)) | Some((4, _)) => q >= (10, 2),
        _ => false,
    }
}

/// The machine version a cell runs: the unversioned `pseries` is an alias of
/// the newest one the qemu has, whose version is qemu's own.
fn machine_version(cell: &Cell, qemu: (u32, u32, u32)) -> (u32, u32) {
    cell.guest
        .machine
        .pseries_version()
        .unwrap_or((qemu.0, qemu.1))
}

/// The qemu version the rules reason about: the probed one, else
/// [`ASSUMED_QEMU`].
fn qemu_version(host: &HostFacts) -> (u32, u32, u32) {
    host.qemu
        .as_ref()
        .map(|q| q.version)
        .unwrap_or(ASSUMED_QEMU)
}

/// The POWER generation a `-cpu` model names (`POWER9`, `power8e`,
/// `POWER9_v2.2` → 9), or `None` for `host` and unknown models.
pub fn cpu_generation(model: &str) -> Option<u32> {
    let lower = model.to_ascii_lowercase();
    let rest = lower.strip_prefix("power")?;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// The page shifts KVM offers for guest RAM (4 KiB, 64 KiB, 16 MiB); the
/// VRMA uses the largest one not above the RAM backing page.
const KVM_PAGE_SHIFTS: [u32; 3] = [12, 16, 24];

/// The VRMA limit in bytes for an HPT guest of `ram_mib` backed by pages of
/// `backing_bytes`: 2^(p + htab_shift - 7), with the HPT sized at 1/128 of
/// RAM rounded up to a power of two, at least 2^18 (hw/ppc/spapr.c
/// `spapr_hpt_shift_for_ramsize`, target/ppc/kvm.c `kvmppc_vrma_limit`).
/// With 4 KiB backing that is RAM/4.
pub fn vrma_limit_bytes(ram_mib: u32, backing_bytes: u64) -> u64 {
    let ram = u64::from(ram_mib) << 20;
    let ram_shift = 64 - (ram.max(1) - 1).leading_zeros();
    let htab_shift = ram_shift.saturating_sub(7).clamp(18, 46);
    let p = KVM_PAGE_SHIFTS
        .iter()
        .copied()
        .filter(|s| (1u64 << s) <= backing_bytes)
        .max()
        .unwrap_or(12);
    1u64 << (p + htab_shift - 7)
}

/// The command-line flags a cell gets: accel, the documented fixes it asks
/// for, its own caps. Built before the outcome because the outcome depends
/// on the caps in effect.
struct Flags {
    machine_props: Vec<(String, String)>,
    extra_args: Vec<String>,
    additions: Vec<Addition>,
    notes: Vec<String>,
    /// The `-mem-path` directory, when guest RAM is backed by hugepages.
    mem_path: Option<String>,
}

impl Flags {
    fn prop(&mut self, key: &str, value: &str, why: &str) {
        self.machine_props
            .push((key.to_string(), value.to_string()));
        self.additions.push(Addition {
            flag: format!("{key}={value}"),
            why: why.to_string(),
        });
    }

    /// The value in effect for `cap-<name>` (the last one given wins, as in
    /// QEMU).
    fn cap(&self, name: &str) -> Option<&str> {
        let key = format!("cap-{name}");
        self.machine_props
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `cap-<name>` is on, given the machine's default.
    fn cap_on(&self, name: &str, default: bool) -> bool {
        match self.cap(name) {
            Some(v) => matches!(
                v.to_ascii_lowercase().as_str(),
                "on" | "true" | "yes" | "workaround"
            ),
            None => default,
        }
    }
}

/// The caps KVM-PR cannot provide, in the order QEMU complains about them
/// (measured on an emulated HPT host): the cap, the error id and the
/// machine version that turned it on by default.
const PR_CAPS: [(&str, &str, (u32, u32)); 3] = [
    ("fwnmi", "fwnmi-unsupported", (5, 0)),
    ("ail-mode-3", "ail-mode-3-unsupported", (8, 1)),
    ("large-decr", "large-decr-unsupported", (4, 0)),
];

/// The hugetlbfs directory `-mem-path` should use: the first writable
/// hugetlbfs mount, else `/dev/hugepages` (where the Void page mounts it).
pub fn hugepage_dir(host: &HostFacts) -> String {
    host.hugetlbfs
        .iter()
        .find(|m| m.writable)
        .map(|m| m.path.clone())
        .unwrap_or_else(|| "/dev/hugepages".to_string())
}

/// The hugepage size backing guest RAM on `row`, in bytes: the chosen
/// mount's `pagesize=`, else the probed default, else the POWER default for
/// the host MMU (2 MiB under Radix, 16 MiB under HPT).
fn hugepage_bytes(host: &HostFacts, row: &HostRow) -> u64 {
    let probed = if host.is_power() {
        let dir = hugepage_dir(host);
        host.hugetlbfs
            .iter()
            .find(|m| m.path == dir)
            .and_then(|m| m.page_size_kib)
            .or(host.hugepage_size_kib)
    } else {
        None
    };
    match probed {
        Some(kib) => kib * 1024,
        None => match row.mmu {
            Mmu::Radix => 2 << 20,
            Mmu::Hpt => 16 << 20,
        },
    }
}

/// Turns the cell's accel, fixes and caps into flags. Nothing is added that
/// the cell did not ask for (a cell leaves a fix out to see the documented
/// error), except the accelerator itself.
fn flags(host: &HostFacts, cell: &Cell) -> Flags {
    let g = &cell.guest;
    let mut f = Flags {
        machine_props: Vec::new(),
        extra_args: Vec::new(),
        additions: Vec::new(),
        notes: Vec::new(),
        mem_path: None,
    };
    match g.accel {
        Accel::Tcg => f.prop(
            "accel",
            "tcg",
            "cell accel tcg: QEMU's software emulation, no KVM",
        ),
        Accel::KvmHv => {
            f.prop("accel", "kvm", "cell accel kvm-hv: void \"KVM HV\"");
            f.prop(
                "kvm-type",
                "HV",
                "void: `-machine pseries,accel=kvm,kvm-type=HV` makes KVM HV explicit",
            );
        }
        Accel::KvmPr => {
            f.prop("accel", "kvm", "cell accel kvm-pr: void \"KVM PR\"");
            f.prop(
                "kvm-type",
                "PR",
                "void: `-machine pseries,accel=kvm,kvm-type=PR` enables KVM PR",
            );
        }
    }
    let fix_start = f.machine_props.len();
    for fix in &g.fixes {
        match fix {
            Fix::HptMaxPageSize => f.prop(
                "cap-hpt-max-page-size",
                "4096",
                "fix hpt-max-page-size: void \"restrict the maximum page size for HPT mode\"; \
                 QEMU checks it against the RAM backing page, hw/ppc/spapr_caps.c spapr_check_pagesize",
            ),
            Fix::Hugepages => {
                let dir = hugepage_dir(host);
                let usable = host.hugetlbfs.iter().any(|m| m.writable);
                if g.accel == Accel::Tcg && !usable {
                    f.notes.push(format!(
                        "fix hugepages left out under TCG: no writable hugetlbfs mount here, and TCG \
                         makes no hugepage checks (qemu-rules §4); `-mem-path {dir}` would only fail"
                    ));
                    continue;
                }
                f.extra_args.push("-mem-path".into());
                f.extra_args.push(dir.clone());
                f.additions.push(Addition {
                    flag: format!("-mem-path {dir}"),
                    why: "fix hugepages: void \"guest memory must be backed by larger than default pages\"; \
                          lifts the VRMA limit for HPT guests, hw/ppc/spapr.c spapr_setup_hpt"
                        .into(),
                });
                f.mem_path = Some(dir);
            }
            Fix::NestedHv => f.prop(
                "cap-nested-hv",
                "on",
                "fix nested-hv: void \"enable it using yet another capability flag (cap-nested-hv)\"",
            ),
            Fix::PrCaps => {
                let qemu = qemu_version(host);
                for (cap, _, _) in PR_CAPS {
                    if cap == "ail-mode-3" && (qemu.0, qemu.1) < (8, 1) {
                        f.notes.push(format!(
                            "cap-ail-mode-3 left out: qemu {}.{}.{} has no such property (measured: 7.2)",
                            qemu.0, qemu.1, qemu.2
                        ));
                        continue;
                    }
                    f.prop(
                        &format!("cap-{cap}"),
                        "off",
                        "fix pr-caps: KVM PR cannot provide it; qemu-rules 5b#17, hw/ppc/spapr_caps.c",
                    );
                }
            }
            Fix::HtmOff => f.prop(
                "cap-htm",
                "off",
                "fix htm-off: machines up to pseries-2.11 turn transactional memory on (qemu-rules §3)",
            ),
        }
    }
    for (k, v) in &g.caps {
        let key = format!("cap-{k}");
        if let Some(i) = (fix_start..f.machine_props.len()).find(|&i| f.machine_props[i].0 == key) {
            let (_, old) = f.machine_props.remove(i);
            let flag = format!("{key}={old}");
            f.additions.retain(|a| a.flag != flag);
            f.notes.push(format!(
                "cell cap {key}={v} overrides the fix's {key}={old}"
            ));
        }
        f.machine_props.push((key, v.clone()));
    }
    f
}

/// A failure outcome for documented error `id` with `message`.
fn fails(id: &str, message: String) -> Outcome {
    debug_assert!(
        crate::documented::by_id(id).is_some(),
        "unknown documented error {id}"
    );
    Outcome::Fails {
        error: id.to_string(),
        message,
    }
}

/// The documented text of error `id`, for messages that never vary.
fn text(id: &str) -> String {
    crate::documented::by_id(id)
        .map(|e| e.text.to_string())
        .unwrap_or_default()
}

/// What happens under TCG: no page, hugepage or RMA checks; the guest gets
/// the MMU it asks for (qemu-rules §4, 5b#1). Old machines still turn HTM
/// on, which TCG cannot emulate (5b#2).
fn tcg_outcome(
    host: &HostFacts,
    cell: &Cell,
    f: &Flags,
    notes: &mut Vec<String>,
) -> (Outcome, String) {
    let g = &cell.guest;
    let version = machine_version(cell, qemu_version(host));
    if f.cap_on("htm", version <= (2, 11)) {
        return (
            fails("tcg-no-htm", text("tcg-no-htm")),
            "qemu-rules 5b#2: TCG cannot emulate transactional memory, on by default up to pseries-2.11 \
             (hw/ppc/spapr_caps.c cap_htm_apply)"
                .into(),
        );
    }
    if f.cap_on("nested-hv", false) {
        notes.push(
            "nested KVM-HV under TCG needs QEMU 7.0+ and a POWER9 or newer CPU (qemu-rules 5b#23)"
                .into(),
        );
        return (
            Outcome::Boots {
                mmu: g.mmu,
                page_size: g.kernel.page_size,
            },
            "qemu-rules 5b#23: TCG L0 with cap-nested-hv=on, L1 boots".into(),
        );
    }
    (
        Outcome::Boots { mmu: g.mmu, page_size: g.kernel.page_size },
        "qemu-rules 5b#1: TCG boots any guest, MMU as requested (no page-size, hugepage or RMA checks)".into(),
    )
}

/// What happens under KVM (HV or PR) on `row`, check by check in QEMU's
/// order; the first failure wins.
fn kvm_outcome(
    host: &HostFacts,
    cell: &Cell,
    row: &HostRow,
    f: &Flags,
    notes: &mut Vec<String>,
) -> (Outcome, String) {
    let g = &cell.guest;
    let hv = g.accel == Accel::KvmHv;
    let qemu = qemu_version(host);
    let version = machine_version(cell, qemu);
    let host_page = row.page_size.bytes();
    let backing = match &f.mem_path {
        Some(_) => hugepage_bytes(host, row),
        None => host_page,
    };

    // The module behind kvm-type must run on this host MMU: kvm_pr refuses
    // ISA 3.0 Radix hosts; in a guest, kvm_hv needs a Radix L1.
    if !hv && row.mmu == Mmu::Radix {
        return (
            fails("kvm-module-not-loaded", "PPC KVM module is not loaded. Try modprobe kvm_pr.".into()),
            "void: KVM PR \"requires the host to be running in HPT mode (Radix is not supported)\"; \
             qemu-rules 5b#16 (target/ppc/kvm.c kvm_arch_get_default_type; kvm_pr fails with EIO on Radix)"
                .into(),
        );
    }
    if hv && row.nested && row.mmu == Mmu::Hpt {
        return (
            fails("kvm-module-not-loaded", "PPC KVM module is not loaded. Try modprobe kvm_hv.".into()),
            "void nested scenarios: an HPT guest hosts KVM PR only; qemu-rules §5 (kvm_hv loads in a guest \
             only if ISA 3.0 and Radix)"
                .into(),
        );
    }

    // KVM-HV runs the host's CPU: -cpu must be `host` or the host family.
    if hv {
        if let Some(model) = g.cpu.as_deref().filter(|m| !m.eq_ignore_ascii_case("host")) {
            notes.push(
                "void: kvm_hv \"can only virtualize at most one generation older CPU\"; QEMU source: KVM-HV runs \
                 the host PVR, older levels only via max-cpu-compat (qemu-rules §6.7)"
                    .into(),
            );
            let wanted = cpu_generation(model);
            let have = if host.is_power() {
                host.power_generation
            } else {
                None
            };
            let matches = match (wanted, have) {
                (Some(w), Some(h)) => w == h,
                (None, _) => false,
                (Some(_), None) => true,
            };
            if !matches {
                return (
                    fails("kvm-hv-cpu-model", text("kvm-hv-cpu-model")),
                    format!(
                        "qemu-rules 5b#22: under KVM-HV `-cpu {model}` must be `host` or the host's family \
                         (target/ppc/kvm.c kvm_arch_init_vcpu)"
                    ),
                );
            }
        }
    }

    // Caps, applied at machine reset.
    if f.cap_on("htm", version <= (2, 11)) {
        if host.kvm.htm == Some(false) {
            return (
                fails("kvm-no-htm", text("kvm-no-htm")),
                "qemu-rules §3: HTM is on up to pseries-2.11 and this host's KVM offers none (an emulated \
                 POWER9: TCG has no TM; measured with qemu 7.2; hw/ppc/spapr_caps.c cap_htm_apply)"
                    .into(),
            );
        }
        match host.power_generation.filter(|_| host.is_power()) {
            Some(gen) if gen >= 10 => {
                return (
                    fails("kvm-no-htm", text("kvm-no-htm")),
                    "qemu-rules §3: HTM is on up to pseries-2.11 and POWER10 has none \
                     (hw/ppc/spapr_caps.c cap_htm_apply)"
                        .into(),
                )
            }
            _ => notes.push(
                "HTM is on (pseries-2.11 and older): fatal where the host kernel offers no TM to KVM \
                 (POWER10, emulated hosts); add fix htm-off to be safe (qemu-rules §3, §6.2)"
                    .into(),
            ),
        }
    }
    let cap_max_page = match f.cap("hpt-max-page-size") {
        Some(v) => parse_size(v).unwrap_or_else(|| {
            notes.push(format!(
                "cap-hpt-max-page-size={v} is not a size QEMU accepts; QEMU stops on it"
            ));
            0
        }),
        None if version >= (3, 0) => 64 << 10,
        // pseries-2.12 and older compute it: KVM-HV the smallest RAM
        // backing page, TCG and PR unlimited (qemu-rules §3).
        None if hv => backing,
        None => u64::MAX,
    };
    if hv && cap_max_page > backing {
        if row.page_size == PageSize::K4 && g.mmu == Mmu::Radix {
            notes.push(
                "void: Radix guests need cap-hpt-max-page-size=4096 on 4 KiB hosts; QEMU source: the check \
                 ignores the guest MMU, HPT guests need it too (qemu-rules §6.3)"
                    .into(),
            );
        } else {
            notes
                .push("QEMU's page-size check ignores the guest MMU mode (qemu-rules §6.3)".into());
        }
        return (
            fails(
                "hpt-page-size",
                format!(
                    "Can't support {} kiB guest pages with {} kiB host pages with this KVM implementation",
                    cap_max_page >> 10,
                    backing >> 10
                ),
            ),
            format!(
                "void: Configuring qemu for Radix guests, pseries 3.x and newer on hosts with {}; qemu-rules 5b#{} \
                 (hw/ppc/spapr_caps.c spapr_check_pagesize)",
                pages_word(row.page_size),
                if row.nested { 21 } else { 6 }
            ),
        );
    }
    if f.cap_on("nested-hv", false) && (!hv || row.mmu == Mmu::Hpt || row.nested) {
        return (
            fails("nested-hv-unsupported", text("nested-hv-unsupported")),
            "void: nested KVM HV \"only works in Radix mode\"; qemu-rules 5b#20 \
             (hw/ppc/spapr_caps.c cap_nested_kvm_hv_apply)"
                .into(),
        );
    }
    if !hv {
        notes.push(
            "void: `-machine pseries,accel=kvm,kvm-type=PR` is all it takes; QEMU source: KVM PR also needs \
             cap-fwnmi=off,cap-ail-mode-3=off,cap-large-decr=off (qemu-rules 5b#17)"
                .into(),
        );
        let old_cpu = g
            .cpu
            .as_deref()
            .and_then(cpu_generation)
            .is_some_and(|gen| gen < 9);
        for (cap, id, since) in PR_CAPS {
            if cap == "ail-mode-3" && (qemu.0, qemu.1) < (8, 1) {
                continue; // no such cap before 8.1: nothing to refuse
            }
            let default = version >= since && !(cap == "large-decr" && old_cpu);
            if f.cap_on(cap, default) {
                return (
                    fails(id, text(id)),
                    format!(
                        "qemu-rules 5b#17: KVM PR cannot provide cap-{cap} (hw/ppc/spapr_caps.c); \
                         measured on an emulated HPT host"
                    ),
                );
            }
        }
    }

    // vCPU reset: KVM must supply every page size that survives the cap.
    // KVM-PR without hugepage backing never gets there: its HPT guest's RMA
    // check fails first, at machine reset (measured on an emulated 4 KiB HPT
    // host: `Unable to create 2048MiB RMA`, not the CI-page error that
    // qemu-rules 5b#18 derives).
    let pr_rma_first = !hv && f.mem_path.is_none();
    if row.page_size == PageSize::K4 && cap_max_page >= 64 << 10 && !pr_rma_first {
        if f.mem_path.is_some() {
            notes.push(
                "hugepage backing does not avoid the 64 KiB CI-page check (qemu-rules §1)".into(),
            );
        }
        return (
            fails("ci-pages", text("ci-pages")),
            format!(
                "void: \"On 4 KiB page hosts like Void, you will need to restrict the guest HPT size\"; \
                 qemu-rules 5b#{} (target/ppc/kvm.c kvm_check_mmu)",
                if !hv { 18 } else if version <= (2, 12) { 14 } else { 7 }
            ),
        );
    }

    // The MMU the guest really gets.
    let mmu = if row.nested && hv {
        if g.mmu == Mmu::Hpt {
            notes.push(
                "void: HPT must not appear anywhere in a nested chain; QEMU/Linux: an L1 offers Radix only, so the \
                 L2 kernel ignores disable_radix and boots Radix (qemu-rules §5, measured)"
                    .into(),
            );
        }
        Mmu::Radix
    } else if !hv || row.mmu == Mmu::Hpt {
        Mmu::Hpt
    } else {
        g.mmu
    };

    // An HPT guest's RMA must fit in the VRMA the RAM backing allows.
    if mmu == Mmu::Hpt {
        let limit = vrma_limit_bytes(g.memory_mib, backing);
        let rma = u64::from(g.memory_mib) << 20;
        if limit < rma {
            notes.push(
                "void quotes the RMA message with a closing parenthesis; QEMU prints none (qemu-rules §6.1)".into(),
            );
            if !hv {
                notes.push(
                    "KVM PR on 4 KiB hosts hits the HPT page-size and RMA limits too (qemu-rules §6.5, derived); \
                     measured on an emulated 4 KiB HPT host: no configuration booted"
                        .into(),
                );
            }
            let when = if row.mmu == Mmu::Radix {
                "at CAS, after the guest started"
            } else {
                "at startup"
            };
            return (
                fails(
                    "rma-limit",
                    format!("Unable to create {}MiB RMA (VRMA only allows {}MiB", rma >> 20, limit >> 20),
                ),
                format!(
                    "void: HPT guests \"will not boot out of box\" since qemu 5.0 (guest memory must be backed by \
                     larger pages); qemu-rules 5b#{} ({when}; hw/ppc/spapr.c spapr_setup_hpt)",
                    if !hv { 18 } else if row.mmu == Mmu::Radix { 9 } else { 10 }
                ),
            );
        }
    }

    let rule = boot_rule(cell, row, mmu, f, notes);
    (
        Outcome::Boots {
            mmu,
            page_size: g.kernel.page_size,
        },
        rule,
    )
}

/// The row that lets a KVM guest boot, with its citation.
fn boot_rule(cell: &Cell, row: &HostRow, mmu: Mmu, f: &Flags, notes: &mut Vec<String>) -> String {
    let g = &cell.guest;
    let host = format!("{} host, {}", mmu_word(row.mmu), pages_word(row.page_size));
    if g.accel == Accel::KvmPr {
        if row.page_size == PageSize::K4 {
            notes.push(
                "KVM PR on 4 KiB hosts needs the HPT page-size cap and hugepages (qemu-rules §6.5, derived); \
                 measured on an emulated 4 KiB HPT host: no configuration booted"
                    .into(),
            );
        }
        if row.nested {
            return format!(
                "void nested scenarios: HPT guest, {} / KVM PR (caps KVM PR lacks turned off); qemu-rules 5b#17",
                pages_word(row.page_size)
            );
        }
        return format!(
            "void: {host} / KVM PR (with the caps KVM PR lacks turned off); qemu-rules 5b#17"
        );
    }
    if row.nested {
        return format!(
            "void nested scenarios: Radix guest, {} / Radix guest (nested HV); qemu-rules 5b#19",
            pages_word(row.page_size)
        );
    }
    if g.mmu == Mmu::Radix && mmu == Mmu::Hpt {
        notes.push(
            "a Radix-capable kernel on an HPT host falls back to HPT (qemu-rules 5b#5)".into(),
        );
    }
    let not_in_summary = mmu == Mmu::Hpt && g.kernel.page_size > row.page_size;
    if not_in_summary {
        notes.push(
            "void: HPT guests need a page size no larger than the host's, \"no existing workaround\"; QEMU source: \
             the guest kernel's page size does not matter, hugepages + cap-hpt-max-page-size=4096 suffice \
             (qemu-rules §6.4, derived)"
                .into(),
        );
    }
    if f.cap_on("nested-hv", false) {
        return format!(
            "void: Nested virtualization with KVM HV ({host}, cap-nested-hv=on); qemu-rules 5b#19"
        );
    }
    let guest = format!(
        "{} guest, {} (HV)",
        mmu_word(mmu),
        pages_word(g.kernel.page_size)
    );
    if not_in_summary {
        return format!(
            "not in the void summary ({host} / {guest}: \"no existing workaround\"); qemu-rules 5b#11 and §6.4 \
             (cap below 64 KiB + hugepages, derived)"
        );
    }
    let source = match (row.page_size, mmu, row.mmu) {
        (PageSize::K64, _, Mmu::Radix) => "qemu-rules 5b#4",
        (PageSize::K64, _, Mmu::Hpt) => "qemu-rules 5b#5",
        (PageSize::K4, Mmu::Radix, _) => "qemu-rules 5b#8 (cap-hpt-max-page-size below 64 KiB)",
        (PageSize::K4, Mmu::Hpt, _) => "qemu-rules 5b#11 (cap below 64 KiB + hugepages)",
    };
    format!("void: {host} / {guest}; {source}")
}

/// Why this machine cannot run the cell, if it cannot; `None` when it can.
/// Every reason says what is missing and how to get it.
fn skip_reason(host: &HostFacts, cell: &Cell, outcome: &Outcome, f: &Flags) -> Option<String> {
    let g = &cell.guest;
    let mut reasons = Vec::new();
    let Some(qemu) = &host.qemu else {
        return Some(
            "qemu-system-ppc64 not found: install it (Debian 12: apt-get install -t bookworm-backports \
             qemu-system-ppc; Void: xbps-install qemu)"
                .into(),
        );
    };
    let machine_error =
        matches!(outcome, Outcome::Fails { error, .. } if error == "unsupported-machine");
    if !machine_error && !qemu.machines.is_empty() && !qemu.machines.contains(&g.machine.name) {
        reasons.push(format!(
            "qemu {}.{}.{} has no machine `{}` (see `{} -machine help`)",
            qemu.version.0, qemu.version.1, qemu.version.2, g.machine.name, qemu.path
        ));
    }
    if g.accel == Accel::Tcg {
        return join(reasons);
    }

    let module = if g.accel == Accel::KvmHv {
        "kvm_hv"
    } else {
        "kvm_pr"
    };
    if !host.is_power() {
        let runner = if g.accel == Accel::KvmHv {
            "a POWER9 runner"
        } else {
            "a POWER8 runner, or a POWER9 booted with disable_radix"
        };
        return Some(format!(
            "{} needs a POWER host with /dev/kvm; this host is {} — run this row on {runner}",
            g.accel, host.arch
        ));
    }
    if let (Some(want), Some(have)) = (cell.host.mmu, host.mmu) {
        if want != have {
            let how = match want {
                Mmu::Hpt => "boot the host with disable_radix on its kernel command line",
                Mmu::Radix => "boot a POWER9 or newer host without disable_radix",
            };
            reasons.push(format!(
                "the row needs a {} host; this host runs {} ({how})",
                mmu_word(want),
                mmu_word(have)
            ));
        }
    }
    if let Some(want) = cell.host.nested {
        if want != probed_nested(host) {
            reasons.push(if want {
                "the row is a nested scenario: it needs a host that is itself a KVM guest (a pSeries L1 \
                 started with cap-nested-hv=on); this host is bare metal"
                    .to_string()
            } else {
                "the row needs a bare-metal host; this host is a pSeries guest (an L1)".to_string()
            });
        }
    }
    if cell.host.mmu.is_some() && host.mmu.is_none() {
        reasons.push("cannot tell this host's MMU (no MMU line in /proc/cpuinfo)".into());
    }
    if let (Some(want), Some(have)) = (cell.host.page_size, host.page_size) {
        if want != have {
            reasons.push(format!(
                "the row needs a host kernel with {}; this one has {} (boot a {} kernel)",
                pages_word(want),
                pages_word(have),
                pages_word(want)
            ));
        }
    }
    if !qemu.accels.is_empty() && !qemu.accels.iter().any(|a| a == "kvm") {
        reasons.push(format!(
            "{} was built without KVM (`-accel help` lists no kvm)",
            qemu.path
        ));
    }
    match host.kvm.dev_kvm {
        crate::host::DevKvm::Missing => {
            reasons.push(format!("/dev/kvm is missing: modprobe {module}"))
        }
        crate::host::DevKvm::NoAccess => reasons.push(
            "/dev/kvm is not accessible to this user: add the user to the kvm group \
             (usermod -aG kvm $USER), then log out and in"
                .into(),
        ),
        crate::host::DevKvm::Usable => {}
    }
    // A module that is not loaded only matters when the cell must boot: the
    // row that predicts `PPC KVM module is not loaded` needs it absent.
    let expects_module_error =
        matches!(outcome, Outcome::Fails { error, .. } if error == "kvm-module-not-loaded");
    let loaded = if g.accel == Accel::KvmHv {
        host.kvm.hv_loaded
    } else {
        host.kvm.pr_loaded
    };
    if !loaded && !expects_module_error {
        reasons.push(format!("{module} is not loaded: modprobe {module}"));
    }
    if f.mem_path.is_some() {
        if !host.hugetlbfs.iter().any(|m| m.writable) {
            reasons.push(
                "no writable hugetlbfs mount: mount -t hugetlbfs hugetlbfs /dev/hugepages; \
                 chown root:kvm /dev/hugepages; chmod 1770 /dev/hugepages"
                    .into(),
            );
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
                reasons.push(format!(
                    "{} MiB of guest RAM needs {need} free hugepages of {size_kib} KiB, {} are free: \
                     sysctl vm.nr_hugepages={}",
                    g.memory_mib,
                    host.hugepages_free,
                    host.hugepages_total + need - host.hugepages_free
                ));
            }
        }
    }
    join(reasons)
}

/// All the reasons a cell cannot run, as one skip message.
fn join(reasons: Vec<String>) -> Option<String> {
    if reasons.is_empty() {
        None
    } else {
        Some(reasons.join("; "))
    }
}

/// Predicts what `cell` does on `host`: the documented outcome for the
/// cell's host row, the flags that get there, and whether this machine can
/// run it.
pub fn predict(host: &HostFacts, cell: &Cell) -> Prediction {
    let g = &cell.guest;
    let f = flags(host, cell);
    let mut notes = f.notes.clone();
    let row = host_row(host, cell);
    let qemu = qemu_version(host);
    if host.qemu.is_none() {
        notes.push(format!(
            "qemu not found; predicted for qemu {}.{}.{}",
            ASSUMED_QEMU.0, ASSUMED_QEMU.1, ASSUMED_QEMU.2
        ));
    }

    let (outcome, rule) = if machine_removed(g.machine.pseries_version(), qemu) {
        if g.machine.pseries_version().is_some_and(|v| v.0 == 2) {
            notes.push(
                "void suggests pseries-2.11 for Radix guests; QEMU removed pseries-2.x in 9.2, and it turns HTM \
                 on (qemu-rules §6.2)"
                    .into(),
            );
        }
        (
            fails("unsupported-machine", format!("unsupported machine type: \"{}\"", g.machine.name)),
            format!(
                "qemu-rules 5b#3: {} is gone from qemu {}.{}.{} (pseries-2.x removed in 9.2, 3.0-4.2 in 10.2)",
                g.machine.name, qemu.0, qemu.1, qemu.2
            ),
        )
    } else if g.accel == Accel::Tcg {
        if cell.host.mmu.is_some() || cell.host.page_size.is_some() {
            notes.push("the host row does not matter under TCG".into());
        }
        tcg_outcome(host, cell, &f, &mut notes)
    } else {
        if row.assumed {
            notes.push(format!(
                "host row not given by the cell nor probed; predicted for the Void default ({} host, {})",
                mmu_word(row.mmu),
                pages_word(row.page_size)
            ));
        }
        kvm_outcome(host, cell, &row, &f, &mut notes)
    };
    let skip = skip_reason(host, cell, &outcome, &f);
    let cpu = g.cpu.clone().unwrap_or_else(|| match g.accel {
        Accel::Tcg => "POWER9".to_string(),
        Accel::KvmHv | Accel::KvmPr => "host".to_string(),
    });
    let mut seen = std::collections::BTreeSet::new();
    notes.retain(|n| seen.insert(n.clone()));
    let (mut machine_props, mut additions) = (f.machine_props, f.additions);
    host_profile(cell, &mut machine_props, &mut additions);
    Prediction {
        outcome,
        skip,
        rule,
        machine_props,
        cpu,
        extra_args: f.extra_args,
        additions,
        notes,
    }
}

/// The caps every KVM guest of an emulated `powernv9` host needs: QEMU's TCG
/// powernv9 does not offer the speculation-mitigation levels, so KVM there
/// refuses the pseries defaults.
pub const POWERNV9_GUEST_CAPS: [(&str, &str); 4] = [
    ("cap-cfpc", "broken"),
    ("cap-sbbc", "broken"),
    ("cap-ibs", "broken"),
    ("cap-ccf-assist", "off"),
];

/// Quirks of the host, not of the cell: added to every KVM guest of an
/// emulated powernv9 host unless the cell sets the cap itself.
fn host_profile(cell: &Cell, props: &mut Vec<(String, String)>, additions: &mut Vec<Addition>) {
    if cell.host.kind != crate::model::HostKind::PowerNv9 || !cell.guest.accel.is_kvm() {
        return;
    }
    for (cap, value) in POWERNV9_GUEST_CAPS {
        if props.iter().any(|(k, _)| k == cap) {
            continue;
        }
        props.push((cap.to_string(), value.to_string()));
        additions.push(Addition {
            flag: format!("{cap}={value}"),
            why: "host profile powernv9: TCG's powernv9 offers no speculation-mitigation levels, so KVM there \
                  refuses the defaults (`Requested safe cache capability level not supported by KVM`, measured.md)"
                .into(),
        });
    }
}

/// The expectation as a matrix writes it (`predicted`, `boots`,
/// `boots (hpt)`, `error:rma-limit`), for plans and reports.
pub fn expectation_text(expect: &crate::model::Expectation) -> String {
    use crate::model::Expectation;
    match expect {
        Expectation::Predicted => "predicted".into(),
        Expectation::Boots { mmu: None } => "boots".into(),
        Expectation::Boots { mmu: Some(m) } => format!("boots ({m})"),
        Expectation::Error(id) => format!("error:{id}"),
    }
}

/// Whether a cell's explicit expectation agrees with the prediction for it:
/// `None` for `expect = "predicted"`, which agrees by definition. A matrix
/// that disagrees with the rules documents a different table than the code
/// encodes, and `plan` says so.
pub fn expectation_agrees(cell: &Cell, outcome: &Outcome) -> Option<bool> {
    use crate::model::Expectation;
    match (&cell.expect, outcome) {
        (Expectation::Predicted, _) => None,
        (Expectation::Boots { mmu }, Outcome::Boots { mmu: got, .. }) => {
            Some(mmu.unwrap_or(cell.guest.mmu) == *got)
        }
        (Expectation::Error(id), Outcome::Fails { error, .. }) => Some(id == error),
        _ => Some(false),
    }
}
