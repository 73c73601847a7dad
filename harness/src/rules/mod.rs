//! The compatibility table as code: given a host and a cell, what must
//! happen, and which flags make it so. Pure functions, no I/O.
//!
//! The table is the Void Linux page ("Compatibility summary" and the KVM HV /
//! KVM PR sections, as read in `docs/compatibility.md`), corrected by the QEMU
//! source (`docs/rules.md`, rules R1-R23 and D1-D7) where the two disagree. [`predict`]
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
//!
//! `flags` turns a cell's accelerator, fixes and caps into flags, `kvm`
//! holds the KVM checks one function each, `needs` what a native host must
//! have; this module ties them into a [`Prediction`].

use serde::Serialize;

mod flags;
mod kvm;
mod needs;

pub use flags::{hugepage_dir, POWERNV9_GUEST_CAPS};
pub use kvm::vrma_limit_bytes;

use flags::Flags;

use crate::documented::DocumentedError;
use crate::host::HostFacts;
use crate::model::{power_generation, Accel, Cell, Mmu, Outcome, PageSize, Platform};
use crate::readiness::{mmu_word, pages_word, Missing};

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
    /// What this machine lacks to run the cell (it is then skipped, never
    /// passed), each with its remedy; empty when it can run it.
    pub skip: Vec<Missing>,
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

impl Prediction {
    /// Why this machine cannot run the cell, as one line (every missing
    /// piece with its remedy), or `None` when it can.
    pub fn skip_reason(&self) -> Option<String> {
        crate::readiness::skip_reason(&self.skip)
    }
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
/// is qualified against (`docs/emulated-hosts.md#tools`).
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
pub(crate) fn probed_nested(host: &HostFacts) -> bool {
    host.is_power() && host.platform == Some(Platform::PSeries)
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
/// (docs/rules.md#other-errors, D6), so a bad value only matters under KVM.
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

/// True when `machine` was removed from QEMU `version`: pseries-2.x in 9.2,
/// pseries-3.0 to 4.2 in 10.2 (docs/rules.md#other-errors, R3).
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
pub(crate) fn machine_version(cell: &Cell, qemu: (u32, u32, u32)) -> (u32, u32) {
    cell.guest
        .machine
        .pseries_version()
        .unwrap_or((qemu.0, qemu.1))
}

/// The qemu version the rules reason about: the probed one, else
/// [`ASSUMED_QEMU`].
pub(crate) fn qemu_version(host: &HostFacts) -> (u32, u32, u32) {
    host.qemu
        .as_ref()
        .map(|q| q.version)
        .unwrap_or(ASSUMED_QEMU)
}

/// A failure outcome for documented `error` with `message`.
pub(crate) fn fails(error: DocumentedError, message: String) -> Outcome {
    Outcome::Fails { error, message }
}

/// The documented text of `error`, for messages that never vary.
pub(crate) fn text(error: DocumentedError) -> String {
    error.text().to_string()
}

/// What happens under TCG: no page, hugepage or RMA checks; the guest gets
/// the MMU it asks for (docs/rules.md#tcg, R1). Old machines still turn HTM
/// on, which TCG cannot emulate (R2).
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
            fails(DocumentedError::TcgNoHtm, text(DocumentedError::TcgNoHtm)),
            "docs/rules.md R2: TCG cannot emulate transactional memory, on by default up to pseries-2.11 \
             (hw/ppc/spapr_caps.c cap_htm_apply)"
                .into(),
        );
    }
    if f.cap_on("nested-hv", false) {
        notes.push(
            "nested KVM-HV under TCG needs QEMU 7.0+ and a POWER9 or newer CPU (docs/rules.md R23)"
                .into(),
        );
        return (
            Outcome::Boots {
                mmu: requested_mmu(cell),
                page_size: g.kernel.page_size,
            },
            "docs/rules.md R23: TCG L0 with cap-nested-hv=on, L1 boots".into(),
        );
    }
    (
        Outcome::Boots { mmu: requested_mmu(cell), page_size: g.kernel.page_size },
        "docs/rules.md R1: TCG boots any guest, MMU as requested (no page-size, hugepage or RMA checks)".into(),
    )
}

/// The MMU a guest asks for: its `mmu`, except that a compatibility mode of
/// POWER8 or older (`max_cpu_compat`) has no Radix to offer.
pub(crate) fn requested_mmu(cell: &Cell) -> Mmu {
    let compat = cell
        .guest
        .max_cpu_compat
        .as_deref()
        .and_then(power_generation);
    match compat {
        Some(gen) if gen <= 8 => Mmu::Hpt,
        _ => cell.guest.mmu,
    }
}

/// Predicts what `cell` does on `host`: the documented outcome for the
/// cell's host row, the flags that get there, and whether this machine can
/// run it.
pub fn predict(host: &HostFacts, cell: &Cell) -> Prediction {
    let g = &cell.guest;
    let f = flags::flags(host, cell);
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
                 on (docs/rules.md D2)"
                    .into(),
            );
        }
        (
            fails(DocumentedError::UnsupportedMachine, format!("unsupported machine type: \"{}\"", g.machine.name)),
            format!(
                "docs/rules.md R3: {} is gone from qemu {}.{}.{} (pseries-2.x removed in 9.2, 3.0-4.2 in 10.2)",
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
        kvm::kvm_outcome(host, cell, &row, &f, &mut notes)
    };
    let skip = needs::missing(host, cell, &outcome, &f);
    let cpu = g.cpu.clone().unwrap_or_else(|| match g.accel {
        Accel::Tcg => "POWER9".to_string(),
        Accel::KvmHv | Accel::KvmPr => "host".to_string(),
    });
    let mut seen = std::collections::BTreeSet::new();
    notes.retain(|n| seen.insert(n.clone()));
    let (mut machine_props, mut additions) = (f.machine_props, f.additions);
    flags::host_profile(host, cell, &mut machine_props, &mut additions);
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
        (Expectation::Error(want), Outcome::Fails { error, .. }) => Some(want == error),
        _ => Some(false),
    }
}
