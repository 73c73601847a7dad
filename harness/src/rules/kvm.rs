//! Under KVM, QEMU checks a cell in a fixed order and stops at the first
//! check that fails: the module behind `kvm-type`, the CPU model, the caps
//! applied at machine reset (HTM, the HPT page-size limit, nested HV, the
//! caps KVM-PR lacks), the 64 KiB CI-page check at vCPU reset, then, for an
//! HPT guest, the RMA that must fit in the VRMA. One function per check,
//! in that order.

use super::flags::Flags;
use super::{fails, machine_version, qemu_version, text, HostRow};
use crate::documented::DocumentedError;
use crate::host::HostFacts;
use crate::model::{parse_size, power_generation, Accel, Cell, Mmu, Outcome, PageSize};
use crate::readiness::{mmu_word, pages_word};

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

/// What one check decided: the outcome and the rule that gave it.
type Decided = Option<(Outcome, String)>;

/// What every check looks at.
struct Checked<'a> {
    host: &'a HostFacts,
    cell: &'a Cell,
    row: &'a HostRow,
    f: &'a Flags,
    /// KVM-HV (else KVM-PR).
    hv: bool,
    qemu: (u32, u32, u32),
    /// The machine type's version.
    version: (u32, u32),
    /// The page backing guest RAM, bytes.
    backing: u64,
}

/// What happens under KVM (HV or PR) on `row`, check by check in QEMU's
/// order; the first failure wins.
pub(super) fn kvm_outcome(
    host: &HostFacts,
    cell: &Cell,
    row: &HostRow,
    f: &Flags,
    notes: &mut Vec<String>,
) -> (Outcome, String) {
    let qemu = qemu_version(host);
    let k = Checked {
        host,
        cell,
        row,
        f,
        hv: cell.guest.accel == Accel::KvmHv,
        qemu,
        version: machine_version(cell, qemu),
        backing: match &f.mem_path {
            Some(_) => super::flags::hugepage_bytes(host, row),
            None => row.page_size.bytes(),
        },
    };
    let cap_max_page = cap_max_page(&k, notes);
    module(&k)
        .or_else(|| mmu_notifiers(&k))
        .or_else(|| cpu_model(&k, notes))
        .or_else(|| htm(&k, notes))
        .or_else(|| page_size_cap(&k, cap_max_page, notes))
        .or_else(|| nested_hv(&k))
        .or_else(|| nested_hpt(&k))
        .or_else(|| pr_caps(&k, notes))
        .or_else(|| ci_pages(&k, cap_max_page, notes))
        .unwrap_or_else(|| {
            let mmu = guest_mmu(&k, notes);
            rma(&k, mmu, notes).unwrap_or_else(|| {
                let rule = boot_rule(cell, row, mmu, f, notes);
                (
                    Outcome::Boots {
                        mmu,
                        page_size: cell.guest.kernel.page_size,
                    },
                    rule,
                )
            })
        })
}

/// The module behind kvm-type must run on this host MMU: kvm_pr refuses
/// ISA 3.0 Radix hosts; in a guest, kvm_hv needs a Radix L1.
fn module(k: &Checked) -> Decided {
    if !k.hv && k.row.mmu == Mmu::Radix {
        return Some((
            fails(
                DocumentedError::KvmModuleNotLoaded,
                "PPC KVM module is not loaded. Try modprobe kvm_pr.".into(),
            ),
            "void: KVM PR \"requires the host to be running in HPT mode (Radix is not supported)\"; \
             docs/rules.md R16 (target/ppc/kvm.c kvm_arch_get_default_type; kvm_pr fails with EIO on Radix)"
                .into(),
        ));
    }
    if k.hv && k.row.nested && k.row.mmu == Mmu::Hpt {
        return Some((
            fails(
                DocumentedError::KvmModuleNotLoaded,
                "PPC KVM module is not loaded. Try modprobe kvm_hv.".into(),
            ),
            "void nested scenarios: an HPT guest hosts KVM PR only; docs/rules.md#linux-guest (kvm_hv loads in a guest \
             only if ISA 3.0 and Radix)"
                .into(),
        ));
    }
    None
}

/// Guest RAM from a file (`-mem-path`) needs MMU notifiers, which QEMU asks
/// KVM for when it allocates RAM, before any cap is checked. The probe asks
/// a KVM-PR VM (`KVM_CAP_SYNC_MMU`); where no PR VM was asked, the host
/// kernel the cell names says (Linux 6.1 with KVM-HV built in gives its
/// KVM-PR VMs none; docs/rules.md#errors).
fn mmu_notifiers(k: &Checked) -> Decided {
    if k.hv || k.f.mem_path.is_none() {
        return None;
    }
    let host = &k.cell.host;
    let kernel = host.kernel.as_ref().or(host.emulated_kernel.as_ref());
    let (has, whose) = match k.host.kvm.pr_mmu_notifiers {
        Some(has) => (has, "this host's KVM".to_string()),
        None => (
            kernel?.kvm_pr_mmu_notifiers,
            format!("host kernel `{}`", kernel?.name),
        ),
    };
    if has {
        return None;
    }
    Some((
        fails(
            DocumentedError::MmuNotifiers,
            text(DocumentedError::MmuNotifiers),
        ),
        format!(
            "{whose}: its KVM-PR VMs get no MMU notifiers (KVM_CAP_SYNC_MMU), so qemu refuses \
             -mem-path (system/physmem.c qemu_ram_alloc_from_fd); measured on emulated 4 KiB hash \
             hosts, docs/emulated-hosts.md#kvm-pr"
        ),
    ))
}

/// KVM-HV runs the host's CPU: -cpu must be `host` or the host family.
fn cpu_model(k: &Checked, notes: &mut Vec<String>) -> Decided {
    let model = k
        .cell
        .guest
        .cpu
        .as_deref()
        .filter(|m| k.hv && !m.eq_ignore_ascii_case("host"))?;
    notes.push(
        "void: kvm_hv \"can only virtualize at most one generation older CPU\"; QEMU source: KVM-HV runs \
         the host PVR, older levels only via max-cpu-compat (docs/rules.md D7)"
            .into(),
    );
    let wanted = power_generation(model);
    let have = if k.host.is_power() {
        k.host.power_generation
    } else {
        None
    };
    let matches = match (wanted, have) {
        (Some(w), Some(h)) => w == h,
        (None, _) => false,
        (Some(_), None) => true,
    };
    (!matches).then(|| {
        (
            fails(
                DocumentedError::KvmHvCpuModel,
                text(DocumentedError::KvmHvCpuModel),
            ),
            format!(
                "docs/rules.md R22: under KVM-HV `-cpu {model}` must be `host` or the host's family \
                 (target/ppc/kvm.c kvm_arch_init_vcpu)"
            ),
        )
    })
}

/// Transactional memory, on by default up to pseries-2.11.
fn htm(k: &Checked, notes: &mut Vec<String>) -> Decided {
    if !k.f.cap_on("htm", k.version <= (2, 11)) {
        return None;
    }
    if k.host.kvm.htm == Some(false) {
        return Some((
            fails(DocumentedError::KvmNoHtm, text(DocumentedError::KvmNoHtm)),
            "docs/rules.md#cap-defaults: HTM is on up to pseries-2.11 and this host's KVM offers none (an emulated \
             POWER9: TCG has no TM; measured with qemu 7.2; hw/ppc/spapr_caps.c cap_htm_apply)"
                .into(),
        ));
    }
    match k.host.power_generation.filter(|_| k.host.is_power()) {
        Some(gen) if gen >= 10 => Some((
            fails(DocumentedError::KvmNoHtm, text(DocumentedError::KvmNoHtm)),
            "docs/rules.md#cap-defaults: HTM is on up to pseries-2.11 and POWER10 has none \
             (hw/ppc/spapr_caps.c cap_htm_apply)"
                .into(),
        )),
        _ => {
            notes.push(
                "HTM is on (pseries-2.11 and older): fatal where the host kernel offers no TM to KVM \
                 (POWER10, emulated hosts); add fix htm-off to be safe (docs/rules.md#cap-defaults, D2)"
                    .into(),
            );
            None
        }
    }
}

/// The HPT page-size limit in effect, bytes.
fn cap_max_page(k: &Checked, notes: &mut Vec<String>) -> u64 {
    match k.f.cap("hpt-max-page-size") {
        Some(v) => parse_size(v).unwrap_or_else(|| {
            notes.push(format!(
                "cap-hpt-max-page-size={v} is not a size QEMU accepts; QEMU stops on it"
            ));
            0
        }),
        None if k.version >= (3, 0) => 64 << 10,
        // pseries-2.12 and older compute it: KVM-HV the smallest RAM
        // backing page, TCG and PR unlimited (docs/rules.md#cap-defaults).
        None if k.hv => k.backing,
        None => u64::MAX,
    }
}

/// KVM-HV refuses guest pages larger than the page backing guest RAM.
fn page_size_cap(k: &Checked, cap_max_page: u64, notes: &mut Vec<String>) -> Decided {
    if !(k.hv && cap_max_page > k.backing) {
        return None;
    }
    if k.row.page_size == PageSize::K4 && k.cell.guest.mmu == Mmu::Radix {
        notes.push(
            "void: Radix guests need cap-hpt-max-page-size=4096 on 4 KiB hosts; QEMU source: the check \
             ignores the guest MMU, HPT guests need it too (docs/rules.md D3)"
                .into(),
        );
    } else {
        notes.push("QEMU's page-size check ignores the guest MMU mode (docs/rules.md D3)".into());
    }
    Some((
        fails(
            DocumentedError::HptPageSize,
            format!(
                "Can't support {} kiB guest pages with {} kiB host pages with this KVM implementation",
                cap_max_page >> 10,
                k.backing >> 10
            ),
        ),
        format!(
            "void: Configuring qemu for Radix guests, pseries 3.x and newer on hosts with {}; docs/rules.md R{} \
             (hw/ppc/spapr_caps.c spapr_check_pagesize)",
            pages_word(k.row.page_size),
            if k.row.nested { 21 } else { 6 }
        ),
    ))
}

/// Nested KVM-HV works in an all-Radix chain only.
fn nested_hv(k: &Checked) -> Decided {
    (k.f.cap_on("nested-hv", false) && (!k.hv || k.row.mmu == Mmu::Hpt || k.row.nested)).then(
        || {
            (
                fails(
                    DocumentedError::NestedHvUnsupported,
                    text(DocumentedError::NestedHvUnsupported),
                ),
                "void: nested KVM HV \"only works in Radix mode\"; docs/rules.md R20 \
             (hw/ppc/spapr_caps.c cap_nested_kvm_hv_apply)"
                    .into(),
            )
        },
    )
}

/// An L2 that must be HPT (a POWER8 compatibility mode) in a nested L1:
/// KVM-HV in a guest cannot allocate a hashed page table.
fn nested_hpt(k: &Checked) -> Decided {
    // `disable_radix` alone is ignored in an L2 (it boots Radix); a
    // compatibility mode without Radix is not.
    let forced_hpt =
        k.cell.guest.max_cpu_compat.is_some() && super::requested_mmu(k.cell) == Mmu::Hpt;
    (k.hv && k.row.nested && forced_hpt).then(|| {
        (
            fails(DocumentedError::NestedHpt, text(DocumentedError::NestedHpt)),
            "void nested scenarios: HPT must not appear anywhere in the chain; docs/rules.md R19 \
             (hw/ppc/spapr.c spapr_reallocate_hpt: KVM_PPC_ALLOCATE_HTAB answers EOPNOTSUPP in a nested guest)"
                .into(),
        )
    })
}

/// The caps KVM-PR cannot provide, in the order QEMU complains about them.
fn pr_caps(k: &Checked, notes: &mut Vec<String>) -> Decided {
    if k.hv {
        return None;
    }
    notes.push(
        "void: `-machine pseries,accel=kvm,kvm-type=PR` is all it takes; QEMU source: KVM PR also needs \
         cap-fwnmi=off,cap-ail-mode-3=off,cap-large-decr=off (docs/rules.md R17)"
            .into(),
    );
    let old_cpu = k
        .cell
        .guest
        .cpu
        .as_deref()
        .and_then(power_generation)
        .is_some_and(|gen| gen < 9);
    for (cap, id, since) in super::flags::PR_CAPS {
        if cap == "ail-mode-3" && (k.qemu.0, k.qemu.1) < (8, 1) {
            continue; // no such cap before 8.1: nothing to refuse
        }
        let default = k.version >= since && !(cap == "large-decr" && old_cpu);
        if k.f.cap_on(cap, default) {
            return Some((
                fails(id, text(id)),
                format!(
                    "docs/rules.md R17: KVM PR cannot provide cap-{cap} (hw/ppc/spapr_caps.c); \
                     measured on an emulated HPT host"
                ),
            ));
        }
    }
    None
}

/// vCPU reset: KVM must supply every page size that survives the cap.
/// KVM-PR without hugepage backing never gets there: its HPT guest's RMA
/// check fails first, at machine reset (measured on an emulated 4 KiB HPT
/// host: `Unable to create 2048MiB RMA`, not the CI-page error that
/// docs/rules.md R18 derives).
fn ci_pages(k: &Checked, cap_max_page: u64, notes: &mut Vec<String>) -> Decided {
    let pr_rma_first = !k.hv && k.f.mem_path.is_none();
    if !(k.row.page_size == PageSize::K4 && cap_max_page >= 64 << 10 && !pr_rma_first) {
        return None;
    }
    if k.f.mem_path.is_some() {
        notes.push(
            "hugepage backing does not avoid the 64 KiB CI-page check (docs/rules.md#errors)"
                .into(),
        );
    }
    Some((
        fails(DocumentedError::CiPages, text(DocumentedError::CiPages)),
        format!(
            "void: \"On 4 KiB page hosts like Void, you will need to restrict the guest HPT size\"; \
             docs/rules.md R{} (target/ppc/kvm.c kvm_check_mmu)",
            if !k.hv {
                18
            } else if k.version <= (2, 12) {
                14
            } else {
                7
            }
        ),
    ))
}

/// The MMU the guest really gets.
fn guest_mmu(k: &Checked, notes: &mut Vec<String>) -> Mmu {
    let g = &k.cell.guest;
    if k.row.nested && k.hv {
        if g.mmu == Mmu::Hpt {
            notes.push(
                "void: HPT must not appear anywhere in a nested chain; QEMU/Linux: an L1 offers Radix only, so the \
                 L2 kernel ignores disable_radix and boots Radix (docs/rules.md R19; docs/emulated-hosts.md#nested-pseries)"
                    .into(),
            );
        }
        Mmu::Radix
    } else if !k.hv || k.row.mmu == Mmu::Hpt {
        Mmu::Hpt
    } else {
        super::requested_mmu(k.cell)
    }
}

/// An HPT guest's RMA must fit in the VRMA the RAM backing allows.
fn rma(k: &Checked, mmu: Mmu, notes: &mut Vec<String>) -> Decided {
    if mmu != Mmu::Hpt {
        return None;
    }
    let memory = k.cell.guest.memory_mib;
    let limit = vrma_limit_bytes(memory, k.backing);
    let rma = u64::from(memory) << 20;
    if limit >= rma {
        return None;
    }
    notes.push(
        "void quotes the RMA message with a closing parenthesis; QEMU prints none (docs/rules.md D1)".into(),
    );
    if !k.hv {
        notes.push(
            "KVM PR on 4 KiB hosts hits the HPT page-size and RMA limits too (docs/rules.md D5, derived); \
             measured on an emulated 4 KiB HPT host: no configuration booted"
                .into(),
        );
    }
    let when = if k.row.mmu == Mmu::Radix {
        "at CAS, after the guest started"
    } else {
        "at startup"
    };
    Some((
        fails(
            DocumentedError::RmaLimit,
            format!(
                "Unable to create {}MiB RMA (VRMA only allows {}MiB",
                rma >> 20,
                limit >> 20
            ),
        ),
        format!(
            "void: HPT guests \"will not boot out of box\" since qemu 5.0 (guest memory must be backed by \
             larger pages); docs/rules.md R{} ({when}; hw/ppc/spapr.c spapr_setup_hpt)",
            if !k.hv {
                18
            } else if k.row.mmu == Mmu::Radix {
                9
            } else {
                10
            }
        ),
    ))
}

/// The row that lets a KVM guest boot, with its citation.
fn boot_rule(cell: &Cell, row: &HostRow, mmu: Mmu, f: &Flags, notes: &mut Vec<String>) -> String {
    let g = &cell.guest;
    let host = format!("{} host, {}", mmu_word(row.mmu), pages_word(row.page_size));
    if g.accel == Accel::KvmPr {
        if row.page_size == PageSize::K4 {
            notes.push(
                "KVM PR on 4 KiB hosts needs the HPT page-size cap and hugepages (docs/rules.md D5, derived); \
                 measured on an emulated 4 KiB HPT host: no configuration booted"
                    .into(),
            );
        }
        if row.nested {
            return format!(
                "void nested scenarios: HPT guest, {} / KVM PR (caps KVM PR lacks turned off); docs/rules.md R17",
                pages_word(row.page_size)
            );
        }
        return format!(
            "void: {host} / KVM PR (with the caps KVM PR lacks turned off); docs/rules.md R17"
        );
    }
    if row.nested {
        return format!(
            "void nested scenarios: Radix guest, {} / Radix guest (nested HV); docs/rules.md R19",
            pages_word(row.page_size)
        );
    }
    if g.mmu == Mmu::Radix && mmu == Mmu::Hpt {
        notes.push(
            "a Radix-capable kernel on an HPT host falls back to HPT (docs/rules.md R5)".into(),
        );
    }
    let not_in_summary = mmu == Mmu::Hpt && g.kernel.page_size > row.page_size;
    if not_in_summary {
        notes.push(
            "void: HPT guests need a page size no larger than the host's, \"no existing workaround\"; QEMU source: \
             the guest kernel's page size does not matter, hugepages + cap-hpt-max-page-size=4096 suffice \
             (docs/rules.md D4, derived)"
                .into(),
        );
    }
    if f.cap_on("nested-hv", false) {
        return format!(
            "void: Nested virtualization with KVM HV ({host}, cap-nested-hv=on); docs/rules.md R19"
        );
    }
    let guest = format!(
        "{} guest, {} (HV)",
        mmu_word(mmu),
        pages_word(g.kernel.page_size)
    );
    if not_in_summary {
        return format!(
            "not in the void summary ({host} / {guest}: \"no existing workaround\"); docs/rules.md R11 and D4 \
             (cap below 64 KiB + hugepages, derived)"
        );
    }
    let source = match (row.page_size, mmu, row.mmu) {
        (PageSize::K64, _, Mmu::Radix) => "docs/rules.md R4",
        (PageSize::K64, _, Mmu::Hpt) => "docs/rules.md R5",
        (PageSize::K4, Mmu::Radix, _) => "docs/rules.md R8 (cap-hpt-max-page-size below 64 KiB)",
        (PageSize::K4, Mmu::Hpt, _) => "docs/rules.md R11 (cap below 64 KiB + hugepages)",
    };
    format!("void: {host} / {guest}; {source}")
}
