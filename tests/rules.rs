//! The compatibility table, row by row.
//!
//! Citations: "void" is the Void Linux virtualization page (the
//! "Compatibility summary" list and the section named; see
//! docs/compatibility.md), "RN" and "DN" are rules and disagreements of
//! docs/rules.md (anchors #rN, #dN), docs/rules.md#<section> its sections,
//! "measured" is docs/emulated-hosts.md.

mod support_rules;

use std::path::Path;

use bootmatrix::model::Outcome;
use bootmatrix::model::{Expectation, Fix, Machine, Mmu, PageSize};
use bootmatrix::rules;
use rstest::rstest;
use support_rules::*;

// ---------------------------------------------------------------------------
// The Void compatibility summary, bare-metal hosts, KVM HV and KVM PR.

#[rstest]
// --- void: "Radix host, 4 KiB pages (Void default on POWER9 and newer)" ---
// void "Configuring qemu for Radix guests": default pseries on Void → page-size error; R6.
#[case::radix4k_radix64k_default((RADIX, K4), HV, RADIX, K64, &[], Want::Fails("hpt-page-size"))]
// void "-machine pseries,cap-hpt-max-page-size=4096 ... Your Radix guests will then boot fine"; R8.
#[case::radix4k_radix64k_cap((RADIX, K4), HV, RADIX, K64, &[HPT_CAP], Want::Boots(RADIX))]
// void summary "Radix guest, 4 KiB pages (HV)"; the check ignores guest page size and MMU: D3, R6.
#[case::radix4k_radix4k_default((RADIX, K4), HV, RADIX, K4, &[], Want::Fails("hpt-page-size"))]
// void summary "Radix guest, 4 KiB pages (HV)" with the cap; R8.
#[case::radix4k_radix4k_cap((RADIX, K4), HV, RADIX, K4, &[HPT_CAP], Want::Boots(RADIX))]
// void summary "HPT guest, 4 KiB pages (HV)": without the cap the page-size check fires first; D3, R6.
#[case::radix4k_hpt4k_default((RADIX, K4), HV, HPT, K4, &[], Want::Fails("hpt-page-size"))]
// void "HPT guests will not boot out of box ... Unable to create 2048MiB RMA"; R9 (at CAS).
#[case::radix4k_hpt4k_cap((RADIX, K4), HV, HPT, K4, &[HPT_CAP], Want::Fails("rma-limit"))]
// void "you will need to restrict the guest HPT size, otherwise ... KVM can't supply 64kiB CI pages"; R7.
#[case::radix4k_hpt4k_hugepages((RADIX, K4), HV, HPT, K4, &[HUGE], Want::Fails("ci-pages"))]
// void "-m 2048 -machine pseries,cap-hpt-max-page-size=4096 -mem-path /dev/hugepages ... should boot now"; R11.
#[case::radix4k_hpt4k_cap_hugepages((RADIX, K4), HV, HPT, K4, &[HPT_CAP, HUGE], Want::Boots(HPT))]
// measured: hugepages with the default cap → CI-pages error for Radix guests too; R7 "any" guest.
#[case::radix4k_radix64k_hugepages((RADIX, K4), HV, RADIX, K64, &[HUGE], Want::Fails("ci-pages"))]
// not in the summary (void: "no existing workaround"); QEMU: the kernel page size does not matter, D4 / R11 (derived).
#[case::radix4k_hpt64k_cap_hugepages((RADIX, K4), HV, HPT, K64, &[HPT_CAP, HUGE], Want::Boots(HPT))]
// not in the summary: a 64 KiB HPT guest with the defaults hits the same page-size check; R6.
#[case::radix4k_hpt64k_default((RADIX, K4), HV, HPT, K64, &[], Want::Fails("hpt-page-size"))]
// not in the summary: with the cap only, the RMA limit; R9.
#[case::radix4k_hpt64k_cap((RADIX, K4), HV, HPT, K64, &[HPT_CAP], Want::Fails("rma-limit"))]
// void "KVM PR ... requires the host to be running in HPT mode (Radix is not supported)"; R16.
#[case::radix4k_pr((RADIX, K4), PR, HPT, K4, &[PR_CAPS], Want::Fails("kvm-module-not-loaded"))]
// --- void: "HPT host, 4 KiB pages (Void default on POWER8 and older)" ---
// void summary "HPT guest, 4 KiB pages", out of the box: page-size check; R6 ("HV any 4K").
#[case::hpt4k_hpt4k_default((HPT, K4), HV, HPT, K4, &[], Want::Fails("hpt-page-size"))]
// R10: cap without hugepages → RMA error at startup.
#[case::hpt4k_hpt4k_cap((HPT, K4), HV, HPT, K4, &[HPT_CAP], Want::Fails("rma-limit"))]
// R7: hugepages with the default cap → CI pages.
#[case::hpt4k_hpt4k_hugepages((HPT, K4), HV, HPT, K4, &[HUGE], Want::Fails("ci-pages"))]
// void summary "HPT guest, 4 KiB pages" with the void's full command; R11, measured.
#[case::hpt4k_hpt4k_cap_hugepages((HPT, K4), HV, HPT, K4, &[HPT_CAP, HUGE], Want::Boots(HPT))]
// R5 "radix kernels fall back to hash", applied to the 4K row: the guest becomes an HPT guest.
#[case::hpt4k_radix4k_cap_hugepages((HPT, K4), HV, RADIX, K4, &[HPT_CAP, HUGE], Want::Boots(HPT))]
// the fallen-back Radix kernel meets the RMA limit like any HPT guest; R10.
#[case::hpt4k_radix4k_cap((HPT, K4), HV, RADIX, K4, &[HPT_CAP], Want::Fails("rma-limit"))]
// not in the summary: 64 KiB HPT guest on a 4 KiB HPT host with both fixes; D4 (derived).
#[case::hpt4k_hpt64k_cap_hugepages((HPT, K4), HV, HPT, K64, &[HPT_CAP, HUGE], Want::Boots(HPT))]
// void summary "KVM PR" on HPT 4K; R17: the default caps stop it with the FWNMI error first.
#[case::hpt4k_pr_default((HPT, K4), PR, HPT, K4, &[], Want::Fails("fwnmi-unsupported"))]
// R18 derives CI pages here; measured (emulated 4K HPT host, docs/emulated-hosts.md#kvm-pr and
// this project's run): the RMA check at machine reset fires first.
#[case::hpt4k_pr_caps((HPT, K4), PR, HPT, K4, &[PR_CAPS], Want::Fails("rma-limit"))]
// R18: with the cap too → RMA error as R10 (derived; measured "then Unable to create 512MiB RMA").
#[case::hpt4k_pr_caps_cap((HPT, K4), PR, HPT, K4, &[PR_CAPS, HPT_CAP], Want::Fails("rma-limit"))]
// void summary "HPT host, 4 KiB pages: KVM PR"; D5 (derived: needs the cap, hugepages and the caps off).
#[case::hpt4k_pr_all((HPT, K4), PR, HPT, K4, &[PR_CAPS, HPT_CAP, HUGE], Want::Boots(HPT))]
// --- void: "Radix host, 64 KiB pages" ---
// void summary "Radix guest, 64 KiB pages (HV)"; R4.
#[case::radix64k_radix64k((RADIX, K64), HV, RADIX, K64, &[], Want::Boots(RADIX))]
// void summary "Radix guest, 4 KiB pages (HV)"; R4.
#[case::radix64k_radix4k((RADIX, K64), HV, RADIX, K4, &[], Want::Boots(RADIX))]
// void summary "HPT guest, 64 KiB pages (HV)"; R4.
#[case::radix64k_hpt64k((RADIX, K64), HV, HPT, K64, &[], Want::Boots(HPT))]
// void summary "HPT guest, 4 KiB pages (HV)"; R4.
#[case::radix64k_hpt4k((RADIX, K64), HV, HPT, K4, &[], Want::Boots(HPT))]
// KVM PR is absent from the Radix 64K row: "Radix is not supported"; R16.
#[case::radix64k_pr((RADIX, K64), PR, HPT, K64, &[PR_CAPS], Want::Fails("kvm-module-not-loaded"))]
// --- void: "HPT host, 64 KiB pages" ---
// void summary "HPT guest, 64 KiB pages (HV)"; R5.
#[case::hpt64k_hpt64k((HPT, K64), HV, HPT, K64, &[], Want::Boots(HPT))]
// void summary "HPT guest, 4 KiB pages (HV)"; R5.
#[case::hpt64k_hpt4k((HPT, K64), HV, HPT, K4, &[], Want::Boots(HPT))]
// R5: "radix kernels fall back to hash" (measured: every L2 boots in Hash).
#[case::hpt64k_radix64k((HPT, K64), HV, RADIX, K64, &[], Want::Boots(HPT))]
// R17: KVM PR with the default caps → FWNMI error.
#[case::hpt64k_pr_default((HPT, K64), PR, HPT, K64, &[], Want::Fails("fwnmi-unsupported"))]
// void summary "HPT host, 64 KiB pages: KVM PR"; R17 "boots with cap-fwnmi=off,cap-ail-mode-3=off,cap-large-decr=off".
#[case::hpt64k_pr_caps((HPT, K64), PR, HPT, K64, &[PR_CAPS], Want::Boots(HPT))]
// measured: a 4 KiB kernel under KVM PR on the 64K HPT host boots too ("64K and 4K guest kernels").
#[case::hpt64k_pr_caps_4k_kernel((HPT, K64), PR, HPT, K4, &[PR_CAPS], Want::Boots(HPT))]
// measured/R5: a Radix-requesting kernel under PR runs HPT (PR offers hash only).
#[case::hpt64k_pr_radix_kernel((HPT, K64), PR, RADIX, K64, &[PR_CAPS], Want::Boots(HPT))]
// --- void: "Nested virtualization with KVM HV", seen from L0 ---
// void "-machine pseries,cap-hpt-max-page-size=4096,cap-nested-hv=on": the L1 of "Radix guest, 4 KiB pages" boots; R19.
#[case::nested_l0_radix4k((RADIX, K4), HV, RADIX, K4, &[HPT_CAP, NESTED], Want::Boots(RADIX))]
// same, a 64 KiB L1 ("or 64 KiB pages").
#[case::nested_l0_radix4k_l1_64k((RADIX, K4), HV, RADIX, K64, &[HPT_CAP, NESTED], Want::Boots(RADIX))]
// without the page-size cap the nested L1 does not start either; R6.
#[case::nested_l0_radix4k_no_cap((RADIX, K4), HV, RADIX, K4, &[NESTED], Want::Fails("hpt-page-size"))]
// Radix 64K L0 needs only cap-nested-hv; R19.
#[case::nested_l0_radix64k((RADIX, K64), HV, RADIX, K64, &[NESTED], Want::Boots(RADIX))]
// void "this only works in Radix mode"; R20 HV hash L0 + cap-nested-hv → not supported.
#[case::nested_l0_hpt64k((HPT, K64), HV, HPT, K64, &[NESTED], Want::Fails("nested-hv-unsupported"))]
// void "boot a HPT guest virtual machine and run your KVM-PR virtual machine nested in that": the HPT L1 itself.
#[case::nested_l0_radix4k_hpt_l1_for_pr((RADIX, K4), HV, HPT, K4, &[HPT_CAP, HUGE], Want::Boots(HPT))]
fn compatibility_summary_bare_metal(
    #[case] row: (Mmu, PageSize),
    #[case] accel: bootmatrix::model::Accel,
    #[case] mmu: Mmu,
    #[case] page: PageSize,
    #[case] fixes: &[Fix],
    #[case] want: Want,
) {
    let c = cell(Some(row), accel, mmu, page, fixes);
    let p = predict(&power9(row.0, row.1), &c);
    assert_eq!(got(&p), want, "rule: {}\nnotes: {:?}", p.rule, p.notes);
    assert_eq!(
        p.skip_reason(),
        None,
        "a ready POWER9 host on its own row runs every cell"
    );
    if let Outcome::Boots { page_size, .. } = p.outcome {
        assert_eq!(page_size, page, "the guest keeps its kernel's page size");
    }
}

// ---------------------------------------------------------------------------
// Nested scenarios: the harness runs inside an L1 pSeries guest.

#[rstest]
// void nested "Radix guest, 4 KiB pages: Radix guest, 64 KiB pages (nested HV)"; 4K L1 needs the cap (R21).
#[case::radix4k_l1_radix64k((RADIX, K4), HV, RADIX, K64, &[HPT_CAP], Want::Boots(RADIX))]
// void nested "Radix guest, 4 KiB pages: Radix guest, 4 KiB pages (nested HV)".
#[case::radix4k_l1_radix4k((RADIX, K4), HV, RADIX, K4, &[HPT_CAP], Want::Boots(RADIX))]
// R21: a 4K L1 with the defaults → as row 6.
#[case::radix4k_l1_default((RADIX, K4), HV, RADIX, K64, &[], Want::Fails("hpt-page-size"))]
// void nested "or 64 KiB pages": a 64K Radix L1 hosts both kernels with the defaults.
#[case::radix64k_l1_radix64k((RADIX, K64), HV, RADIX, K64, &[], Want::Boots(RADIX))]
#[case::radix64k_l1_radix4k((RADIX, K64), HV, RADIX, K4, &[], Want::Boots(RADIX))]
// docs/rules.md#linux-guest / measured: an L1 offers Radix only; the L2 ignores disable_radix and stays Radix.
#[case::radix64k_l1_hpt_request((RADIX, K64), HV, HPT, K64, &[], Want::Boots(RADIX))]
// measured: kvm-type=PR in a Radix L1 → "PPC KVM module is not loaded. Try modprobe kvm_pr."; R16.
#[case::radix4k_l1_pr((RADIX, K4), PR, HPT, K4, &[PR_CAPS], Want::Fails("kvm-module-not-loaded"))]
// void nested "HPT guest, 64 KiB pages: KVM PR"; caps as R17.
#[case::hpt64k_l1_pr((HPT, K64), PR, HPT, K64, &[PR_CAPS], Want::Boots(HPT))]
// void nested "HPT guest, 4 KiB pages: KVM PR"; the 4K limits of R18 apply (derived).
#[case::hpt4k_l1_pr((HPT, K4), PR, HPT, K4, &[PR_CAPS, HPT_CAP, HUGE], Want::Boots(HPT))]
// As on bare metal: without hugepage backing the RMA check fires first (measured).
#[case::hpt4k_l1_pr_caps_only((HPT, K4), PR, HPT, K4, &[PR_CAPS], Want::Fails("rma-limit"))]
// docs/rules.md#linux-guest: kvm_hv loads in a guest only if Radix; void "HPT must not appear anywhere in the chain".
#[case::hpt64k_l1_hv((HPT, K64), HV, HPT, K64, &[], Want::Fails("kvm-module-not-loaded"))]
// nested HV of a nested guest: the L1's KVM offers no Nested-HV (derived from cap_nested_kvm_hv_apply).
#[case::radix64k_l1_nested_again((RADIX, K64), HV, RADIX, K64, &[NESTED], Want::Fails("nested-hv-unsupported"))]
fn nested_scenarios_in_an_l1(
    #[case] row: (Mmu, PageSize),
    #[case] accel: bootmatrix::model::Accel,
    #[case] mmu: Mmu,
    #[case] page: PageSize,
    #[case] fixes: &[Fix],
    #[case] want: Want,
) {
    let c = cell(Some(row), accel, mmu, page, fixes);
    let host = l1_guest(row.0, row.1);
    let p = predict(&host, &c);
    assert_eq!(got(&p), want, "rule: {}\nnotes: {:?}", p.rule, p.notes);
    assert!(rules::host_row(&host, &c).nested);
}

#[test]
fn nested_module_errors_name_the_right_module() {
    // docs/rules.md#other-errors: the hint names the module kvm-type asked for.
    let pr = predict(&l1_guest(RADIX, K4), &cell(None, PR, HPT, K4, &[PR_CAPS]));
    assert_eq!(
        message(&pr),
        "PPC KVM module is not loaded. Try modprobe kvm_pr."
    );
    let hv = predict(&l1_guest(HPT, K64), &cell(None, HV, HPT, K64, &[]));
    assert_eq!(
        message(&hv),
        "PPC KVM module is not loaded. Try modprobe kvm_hv."
    );
    // measured: kvm-type=PR on a Radix L1 gives the error even though kvm_pr is not loaded: no skip.
    assert_eq!(pr.skip_reason(), None);
}

// ---------------------------------------------------------------------------
// TCG: docs/rules.md#tcg and R1-3, 23.

#[rstest]
fn tcg_boots_any_guest_on_x86_and_is_never_skipped(
    #[values(RADIX, HPT)] mmu: Mmu,
    #[values(K4, K64)] page: PageSize,
    #[values(None, Some((RADIX, K4)), Some((HPT, K64)))] row: Option<(Mmu, PageSize)>,
    #[values(&[][..], &[HPT_CAP][..], &[HUGE][..], &[NESTED][..])] fixes: &[Fix],
) {
    // R1 "TCG | any | defaults | boots"; docs/rules.md#tcg no page-size, hugepage or RMA checks; R23 nested-hv.
    let p = predict(&x86(), &cell(row, TCG, mmu, page, fixes));
    assert_eq!(got(&p), Want::Boots(mmu));
    assert_eq!(p.skip_reason(), None);
    assert_eq!(p.cpu, "POWER9");
    assert_eq!(p.machine_props[0], ("accel".to_string(), "tcg".to_string()));
    assert!(
        !props(&p).iter().any(|f| f.starts_with("kvm-type")),
        "kvm-type is ignored under TCG (D6)"
    );
}

#[rstest]
// R2: pseries-2.11 on QEMU <= 9.1 turns HTM on, which TCG cannot emulate.
#[case::htm_on_9_1("pseries-2.11", (9, 1, 0), &[], Want::Fails("tcg-no-htm"))]
// docs/rules.md#cap-defaults: cap-htm=off removes it.
#[case::htm_off_9_1("pseries-2.11", (9, 1, 0), &[HTM_OFF], Want::Boots(RADIX))]
// docs/rules.md#cap-defaults: pseries-2.12 has HTM off.
#[case::p212_9_1("pseries-2.12", (9, 1, 0), &[], Want::Boots(RADIX))]
// R3: pseries-2.x is gone from QEMU 9.2 on, cap or not.
#[case::removed_10_0("pseries-2.11", (10, 0, 2), &[HTM_OFF], Want::Fails("unsupported-machine"))]
#[case::removed_9_2("pseries-2.12", (9, 2, 0), &[], Want::Fails("unsupported-machine"))]
// R3: pseries-3.0 to 4.2 go in 10.2.
#[case::p42_10_2("pseries-4.2", (10, 2, 0), &[], Want::Fails("unsupported-machine"))]
#[case::p42_10_0("pseries-4.2", (10, 0, 2), &[], Want::Boots(RADIX))]
#[case::p50_10_2("pseries-5.0", (10, 2, 0), &[], Want::Boots(RADIX))]
fn tcg_machine_versions(
    #[case] machine: &str,
    #[case] qemu: (u32, u32, u32),
    #[case] fixes: &[Fix],
    #[case] want: Want,
) {
    let mut c = cell(None, TCG, RADIX, K64, fixes);
    c.guest.machine = machine.parse::<Machine>().unwrap();
    let mut host = with_qemu(x86(), qemu);
    host.qemu
        .as_mut()
        .unwrap()
        .machines
        .push(machine.to_string());
    let p = predict(&host, &c);
    assert_eq!(got(&p), want, "{}", p.rule);
    assert_eq!(p.skip_reason(), None);
}

#[test]
fn removed_machine_message_quotes_the_name_and_is_not_skipped() {
    // docs/rules.md#other-errors: `unsupported machine type: "pseries-2.11"`; x86's qemu 10.0.2 lacks it, and running
    // the cell proves the error, so it is not a skip.
    let mut c = cell(None, TCG, RADIX, K64, &[]);
    c.guest.machine = "pseries-2.11".parse().unwrap();
    let p = predict(&x86(), &c);
    assert_eq!(message(&p), "unsupported machine type: \"pseries-2.11\"");
    assert_eq!(p.skip_reason(), None);
    assert!(
        p.notes.iter().any(|n| n.contains("docs/rules.md D2")),
        "{:?}",
        p.notes
    );
}

// ---------------------------------------------------------------------------
// Old machine types under KVM-HV (void "You can also use an older machine type"; R13-14, D2).

#[rstest]
// void "With something like -machine pseries-2.11, these guests will boot out of box"; R13 "like 8".
#[case::radix_guest_2_11((RADIX, K4), RADIX, "pseries-2.11", &[HTM_OFF], Want::Boots(RADIX))]
// R13: pseries-2.12 behaves like 2.11 for the page-size cap (docs/rules.md#cap-defaults), HTM already off.
#[case::radix_guest_2_12((RADIX, K4), RADIX, "pseries-2.12", &[], Want::Boots(RADIX))]
// R13 "like 9": an HPT guest still meets the RMA limit.
#[case::hpt_guest_2_11((RADIX, K4), HPT, "pseries-2.11", &[HTM_OFF], Want::Fails("rma-limit"))]
// R13 "like 10" on an HPT host.
#[case::hpt_host_2_12((HPT, K4), HPT, "pseries-2.12", &[], Want::Fails("rma-limit"))]
// void "you will get an error like this, even on say pseries-2.11" (CI pages with hugepages); R14.
#[case::hugepages_2_11((RADIX, K4), HPT, "pseries-2.11", &[HTM_OFF, HUGE], Want::Fails("ci-pages"))]
// void's full command works on 2.11 too (cap + hugepages); R11.
#[case::both_fixes_2_11((RADIX, K4), HPT, "pseries-2.11", &[HTM_OFF, HUGE, HPT_CAP], Want::Boots(HPT))]
// 64K hosts: nothing to fix on any machine version; R4.
#[case::radix64k_2_11((RADIX, K64), HPT, "pseries-2.11", &[HTM_OFF], Want::Boots(HPT))]
fn old_machine_types_on_qemu_9_1(
    #[case] row: (Mmu, PageSize),
    #[case] mmu: Mmu,
    #[case] machine: &str,
    #[case] fixes: &[Fix],
    #[case] want: Want,
) {
    let mut c = cell(Some(row), HV, mmu, K64, fixes);
    c.guest.machine = machine.parse().unwrap();
    let p = predict(&with_qemu(power9(row.0, row.1), (9, 1, 0)), &c);
    assert_eq!(got(&p), want, "{}\n{:?}", p.rule, p.notes);
    assert_eq!(p.skip_reason(), None);
}

#[test]
fn pseries_2_11_is_gone_from_qemu_10_under_kvm_too() {
    // D2: the void's "older machine type" advice fails on QEMU >= 9.2.
    let mut c = cell(Some((RADIX, K4)), HV, RADIX, K64, &[]);
    c.guest.machine = "pseries-2.11".parse().unwrap();
    let p = predict(&power9(RADIX, K4), &c);
    assert_eq!(got(&p), Want::Fails("unsupported-machine"));
    assert!(p.notes.iter().any(|n| n.contains("pseries-2.11")));
}

#[test]
fn htm_on_a_power10_host_fails_under_kvm() {
    // docs/rules.md#cap-defaults: HTM on for 2.11 and older, "fatal under TCG and on POWER10 hosts".
    let mut host = with_qemu(power9(RADIX, K64), (9, 1, 0));
    host.power_generation = Some(10);
    let mut c = cell(Some((RADIX, K64)), HV, RADIX, K64, &[]);
    c.guest.machine = "pseries-2.11".parse().unwrap();
    assert_eq!(got(&predict(&host, &c)), Want::Fails("kvm-no-htm"));
    c.guest.fixes = vec![HTM_OFF];
    assert_eq!(got(&predict(&host, &c)), Want::Boots(RADIX));
}

#[test]
fn htm_fails_where_kvm_offers_none_and_htm_off_fixes_it() {
    // docs/emulated-hosts.md#old-qemu: qemu 7.2 inside an emulated POWER9 host, pseries-2.11 →
    // `KVM implementation does not support Transactional Memory`; with
    // cap-htm=off the Radix guest behaves like cap-hpt-max-page-size=4096.
    let mut host = with_qemu(power9(RADIX, K4), (7, 2, 0));
    host.kvm.htm = Some(false);
    let mut c = cell(Some((RADIX, K4)), HV, RADIX, K64, &[]);
    c.guest.machine = "pseries-2.11".parse().unwrap();
    assert_eq!(got(&predict(&host, &c)), Want::Fails("kvm-no-htm"));
    assert_eq!(
        message(&predict(&host, &c)),
        "KVM implementation does not support Transactional Memory"
    );
    c.guest.fixes = vec![HTM_OFF];
    assert_eq!(got(&predict(&host, &c)), Want::Boots(RADIX));
    // Unknown (a probed POWER9): not assumed fatal.
    host.kvm.htm = None;
    c.guest.fixes = vec![];
    assert_eq!(got(&predict(&host, &c)), Want::Boots(RADIX));
    // A current machine type has HTM off: no TM needed.
    host.kvm.htm = Some(false);
    c.guest.machine = "pseries".parse().unwrap();
    c.guest.fixes = vec![HPT_CAP];
    assert_eq!(got(&predict(&host, &c)), Want::Boots(RADIX));
}

// ---------------------------------------------------------------------------
// KVM PR caps one at a time (R17, measured order fwnmi → ail-mode-3 → large-decr).

#[rstest]
#[case::none(&[], Want::Fails("fwnmi-unsupported"))]
#[case::fwnmi_off(&[("fwnmi", "off")], Want::Fails("ail-mode-3-unsupported"))]
#[case::fwnmi_ail_off(&[("fwnmi", "off"), ("ail-mode-3", "off")], Want::Fails("large-decr-unsupported"))]
#[case::all_off(&[("fwnmi", "off"), ("ail-mode-3", "off"), ("large-decr", "off")], Want::Boots(HPT))]
fn pr_caps_in_measured_order(#[case] caps: &[(&str, &str)], #[case] want: Want) {
    let mut c = cell(Some((HPT, K64)), PR, HPT, K64, &[]);
    for (k, v) in caps {
        c.guest.caps.insert(k.to_string(), v.to_string());
    }
    assert_eq!(got(&predict(&power9(HPT, K64), &c)), want);
}

#[test]
fn pr_caps_skip_ail_mode_3_on_qemu_7_2() {
    // measured: "qemu 7.2 has no cap-ail-mode-3 (Property ... not found)".
    let c = cell(Some((HPT, K64)), PR, HPT, K64, &[PR_CAPS]);
    let p = predict(&with_qemu(power9(HPT, K64), (7, 2, 0)), &c);
    assert_eq!(
        props(&p),
        [
            "accel=kvm",
            "kvm-type=PR",
            "cap-fwnmi=off",
            "cap-large-decr=off"
        ]
    );
    assert_eq!(got(&p), Want::Boots(HPT));
}

// ---------------------------------------------------------------------------
// CPU model under KVM-HV (R22, D7).

#[rstest]
#[case::host(HV, "host", None)]
#[case::family(HV, "POWER9", None)]
#[case::family_lowercase(HV, "power9", None)]
// D7: "KVM-HV runs the host PVR" — void's "one generation older" needs max-cpu-compat, not -cpu.
#[case::older(HV, "POWER8", Some("kvm-hv-cpu-model"))]
#[case::newer(HV, "POWER10", Some("kvm-hv-cpu-model"))]
#[case::not_power(HV, "e500mc", Some("kvm-hv-cpu-model"))]
// void "kvm_pr ... you can use it to emulate any POWER or PowerPC CPU".
#[case::pr_any(PR, "POWER8", None)]
fn cpu_model_under_kvm(
    #[case] accel: bootmatrix::model::Accel,
    #[case] cpu: &str,
    #[case] error: Option<&'static str>,
) {
    let mut c = cell(Some((HPT, K64)), accel, HPT, K64, &[PR_CAPS]);
    c.guest.cpu = Some(cpu.into());
    let p = predict(&power9(HPT, K64), &c);
    assert_eq!(p.cpu, cpu);
    match error {
        Some(id) => assert_eq!(got(&p), Want::Fails(id)),
        None => assert_eq!(got(&p), Want::Boots(HPT)),
    }
}

// ---------------------------------------------------------------------------
// Messages rendered for the cell (docs/rules.md#errors, D1).

#[rstest]
// docs/rules.md#errors: "With 4K backing the limit is RAM/4"; D1 no closing parenthesis.
#[case(1024, "Unable to create 1024MiB RMA (VRMA only allows 256MiB")]
// void's own example, minus the parenthesis.
#[case(2048, "Unable to create 2048MiB RMA (VRMA only allows 512MiB")]
// measured: "Unable to create 512MiB RMA (VRMA only allows 128MiB".
#[case(512, "Unable to create 512MiB RMA (VRMA only allows 128MiB")]
// spapr_hpt_shift_for_ramsize rounds RAM up to a power of two.
#[case(768, "Unable to create 768MiB RMA (VRMA only allows 256MiB")]
fn rma_message_uses_the_cells_memory(#[case] memory: u32, #[case] expected: &str) {
    let mut c = cell(Some((RADIX, K4)), HV, HPT, K4, &[HPT_CAP]);
    c.guest.memory_mib = memory;
    let p = predict(&power9(RADIX, K4), &c);
    assert_eq!(message(&p), expected);
    assert!(!message(&p).ends_with(')'));
    assert!(
        p.notes.iter().any(|n| n.contains("docs/rules.md D1")),
        "{:?}",
        p.notes
    );
}

#[test]
fn page_size_and_ci_messages_are_the_documents() {
    // void "Configuring qemu for Radix guests" and "Configuring qemu for HPT guests", verbatim.
    let p = predict(&power9(RADIX, K4), &cell(None, HV, RADIX, K64, &[]));
    assert_eq!(
        message(&p),
        "Can't support 64 kiB guest pages with 4 kiB host pages with this KVM implementation"
    );
    let p = predict(&power9(RADIX, K4), &cell(None, HV, HPT, K4, &[HUGE]));
    assert_eq!(
        message(&p),
        "KVM can't supply 64kiB CI pages, which guest expects"
    );
}

#[test]
fn page_size_message_follows_a_cell_cap() {
    // spapr_check_pagesize prints the cap and the backing page it compares.
    let mut c = cell(None, HV, RADIX, K64, &[]);
    c.guest
        .caps
        .insert("hpt-max-page-size".into(), "16M".into());
    let p = predict(&power9(RADIX, K4), &c);
    assert_eq!(
        message(&p),
        "Can't support 16384 kiB guest pages with 4 kiB host pages with this KVM implementation"
    );
}

// ---------------------------------------------------------------------------
// Flags: accel, fixes, the cell's own caps, cpu, -mem-path.

#[test]
fn accel_flags_alone_when_the_cell_asks_for_no_fix() {
    // negative tests: nothing beyond accel/kvm-type is added.
    let p = predict(&power9(RADIX, K4), &cell(None, HV, RADIX, K64, &[]));
    assert_eq!(props(&p), ["accel=kvm", "kvm-type=HV"]);
    assert!(p.extra_args.is_empty());
    assert_eq!(p.cpu, "host");
    let p = predict(&power9(HPT, K4), &cell(None, PR, HPT, K4, &[]));
    assert_eq!(props(&p), ["accel=kvm", "kvm-type=PR"]);
    assert_eq!(p.additions.len(), 2, "every flag added is explained");
}

#[test]
fn each_fix_becomes_its_documented_flag() {
    let all = [HPT_CAP, HUGE, NESTED, PR_CAPS, HTM_OFF];
    let p = predict(&power9(RADIX, K4), &cell(None, HV, RADIX, K4, &all));
    assert_eq!(
        props(&p),
        [
            "accel=kvm",
            "kvm-type=HV",
            "cap-hpt-max-page-size=4096",
            "cap-nested-hv=on",
            "cap-fwnmi=off",
            "cap-ail-mode-3=off",
            "cap-large-decr=off",
            "cap-htm=off"
        ]
    );
    assert_eq!(p.extra_args, ["-mem-path", "/dev/hugepages"]);
    let flags: Vec<_> = p.additions.iter().map(|a| a.flag.as_str()).collect();
    assert!(flags.contains(&"-mem-path /dev/hugepages"));
    assert!(p.additions.iter().all(|a| !a.why.is_empty()));
}

#[test]
fn mem_path_is_the_first_writable_hugetlbfs_mount() {
    let mut host = power9(RADIX, K4);
    host.hugetlbfs = vec![
        bootmatrix::host::HugetlbfsMount {
            path: "/mnt/ro".into(),
            page_size_kib: None,
            writable: false,
        },
        bootmatrix::host::HugetlbfsMount {
            path: "/mnt/huge".into(),
            page_size_kib: Some(2048),
            writable: true,
        },
    ];
    let p = predict(&host, &cell(None, HV, HPT, K4, &[HPT_CAP, HUGE]));
    assert_eq!(p.extra_args, ["-mem-path", "/mnt/huge"]);
}

#[test]
fn cell_caps_follow_the_fixes_and_win_over_them() {
    let mut c = cell(None, HV, RADIX, K4, &[HPT_CAP]);
    c.guest
        .caps
        .insert("hpt-max-page-size".into(), "65536".into());
    c.guest.caps.insert("cfpc".into(), "broken".into());
    let p = predict(&power9(RADIX, K4), &c);
    assert_eq!(
        props(&p),
        [
            "accel=kvm",
            "kvm-type=HV",
            "cap-cfpc=broken",
            "cap-hpt-max-page-size=65536"
        ]
    );
    assert!(
        p.notes.iter().any(|n| n.contains("overrides")),
        "{:?}",
        p.notes
    );
    assert!(!p
        .additions
        .iter()
        .any(|a| a.flag == "cap-hpt-max-page-size=4096"));
    // The cell's cap is what QEMU checks: back to the page-size error.
    assert_eq!(got(&p), Want::Fails("hpt-page-size"));
}

#[test]
fn cell_cpu_wins_over_the_default() {
    let mut c = cell(None, TCG, RADIX, K4, &[]);
    c.guest.cpu = Some("POWER10".into());
    assert_eq!(predict(&x86(), &c).cpu, "POWER10");
}

#[test]
fn hugepages_under_tcg_without_a_mount_are_left_out_not_skipped() {
    let p = predict(&x86(), &cell(None, TCG, HPT, K4, &[HUGE]));
    assert!(p.extra_args.is_empty());
    assert!(p.notes.iter().any(|n| n.contains("TCG")));
    let mut host = x86();
    host.hugetlbfs = vec![bootmatrix::host::HugetlbfsMount {
        path: "/dev/hugepages".into(),
        page_size_kib: None,
        writable: true,
    }];
    assert_eq!(
        predict(&host, &cell(None, TCG, HPT, K4, &[HUGE])).extra_args,
        ["-mem-path", "/dev/hugepages"]
    );
}

// ---------------------------------------------------------------------------
// Skips: what this machine lacks.

#[rstest]
fn kvm_on_x86_is_skipped_with_a_runner_hint(
    #[values(RADIX, HPT)] mmu: Mmu,
    #[values(None, Some((RADIX, K4)))] row: Option<(Mmu, PageSize)>,
) {
    let p = predict(&x86(), &cell(row, HV, mmu, K4, &[HPT_CAP]));
    assert_eq!(
        p.skip_reason().as_deref(),
        Some("kvm-hv needs a POWER host with /dev/kvm; this host is x86_64 — run this row on a POWER9 runner")
    );
    let p = predict(&x86(), &cell(row, PR, mmu, K4, &[PR_CAPS]));
    assert!(p
        .skip_reason()
        .as_deref()
        .unwrap()
        .starts_with("kvm-pr needs a POWER host"));
}

#[test]
fn host_row_comes_from_the_cell_then_the_probe_then_the_void_default() {
    let probed = power9(HPT, K64);
    let row = rules::host_row(&probed, &cell(Some((RADIX, K4)), HV, RADIX, K4, &[]));
    assert_eq!((row.mmu, row.page_size, row.assumed), (RADIX, K4, false));
    let row = rules::host_row(&probed, &cell(None, HV, RADIX, K4, &[]));
    assert_eq!((row.mmu, row.page_size, row.assumed), (HPT, K64, false));
    let row = rules::host_row(&x86(), &cell(None, HV, RADIX, K4, &[]));
    assert_eq!((row.mmu, row.page_size, row.assumed), (RADIX, K4, true));
    // The outcome on x86 is the Void default row's, with a note.
    let p = predict(&x86(), &cell(None, HV, RADIX, K4, &[]));
    assert_eq!(got(&p), Want::Fails("hpt-page-size"));
    assert!(p.notes.iter().any(|n| n.contains("Void default")));
}

#[rstest]
#[case::mmu_differs(power9(HPT, K4), "needs a Radix host")]
#[case::page_differs(power9(RADIX, K64), "4 KiB pages")]
#[case::no_dev_kvm({ let mut h = power9(RADIX, K4); h.kvm.dev_kvm = bootmatrix::host::DevKvm::Missing; h }, "/dev/kvm is missing: modprobe kvm_hv")]
#[case::no_access({ let mut h = power9(RADIX, K4); h.kvm.dev_kvm = bootmatrix::host::DevKvm::NoAccess; h }, "kvm group")]
#[case::no_kvm_hv({ let mut h = power9(RADIX, K4); h.kvm.hv_loaded = false; h }, "KVM-HV is not usable (kvm_hv is not loaded): KVM-HV must be built into the host kernel or loaded (modprobe kvm_hv)")]
#[case::no_hugetlbfs({ let mut h = power9(RADIX, K4); h.hugetlbfs.clear(); h }, "mount -t hugetlbfs hugetlbfs /dev/hugepages")]
#[case::few_hugepages({ let mut h = power9(RADIX, K4); h.hugepages_free = 10; h }, "sysctl vm.nr_hugepages=")]
#[case::no_kvm_accel({ let mut h = power9(RADIX, K4); h.qemu.as_mut().unwrap().accels = vec!["tcg".into()]; h }, "without KVM")]
#[case::no_machine({ let mut h = power9(RADIX, K4); h.qemu.as_mut().unwrap().machines.retain(|m| m != "pseries"); h }, "has no machine `pseries`")]
#[case::no_qemu({ let mut h = power9(RADIX, K4); h.qemu = None; h }, "qemu-system-ppc64 not found")]
fn skips_say_what_is_missing_and_how_to_get_it(
    #[case] host: bootmatrix::host::HostFacts,
    #[case] says: &str,
) {
    let c = cell(Some((RADIX, K4)), HV, HPT, K4, &[HPT_CAP, HUGE]);
    let p = predict(&host, &c);
    let reason = p
        .skip_reason()
        .unwrap_or_else(|| panic!("expected a skip containing {says:?}"));
    assert!(reason.contains(says), "{reason}");
    // The documented outcome does not depend on what this machine lacks.
    assert_eq!(got(&p), Want::Boots(HPT));
}

#[test]
fn enough_hugepages_means_no_skip() {
    // 2048 MiB of 2 MiB pages = 1024 pages.
    let mut h = power9(RADIX, K4);
    h.hugepages_free = 1024;
    assert_eq!(
        predict(&h, &cell(Some((RADIX, K4)), HV, HPT, K4, &[HPT_CAP, HUGE])).skip_reason(),
        None
    );
    h.hugepages_free = 1023;
    assert!(
        predict(&h, &cell(Some((RADIX, K4)), HV, HPT, K4, &[HPT_CAP, HUGE]))
            .skip_reason()
            .is_some()
    );
}

// ---------------------------------------------------------------------------
// Pure helpers.

#[rstest]
// D6: kvm-type is case-insensitive since 6.0, with `auto`.
#[case("HV", Some(rules::KvmType::Hv))]
#[case("hv", Some(rules::KvmType::Hv))]
#[case("Pr", Some(rules::KvmType::Pr))]
#[case("auto", Some(rules::KvmType::Auto))]
#[case("kvm", None)]
fn kvm_type_is_case_insensitive(#[case] v: &str, #[case] want: Option<rules::KvmType>) {
    assert_eq!(rules::parse_kvm_type(v), want);
}

#[rstest]
#[case("4096", Some(4096))]
#[case("4k", Some(4096))]
#[case("64K", Some(65536))]
#[case("16M", Some(16 << 20))]
#[case("lots", None)]
fn sizes_parse_like_qemu(#[case] v: &str, #[case] want: Option<u64>) {
    assert_eq!(bootmatrix::model::parse_size(v), want);
}

#[rstest]
// docs/rules.md#errors: p = 12 (4K backing) → RAM/4; 64K backing → RAM*4; 16M hugepages → far above RAM.
#[case(2048, 4096, 512 << 20)]
#[case(2048, 65536, 8192 << 20)]
#[case(2048, 16 << 20, 2048u64 << 30)]
#[case(2048, 2 << 20, 8192 << 20)]
fn vrma_limit(#[case] ram: u32, #[case] backing: u64, #[case] want: u64) {
    assert_eq!(rules::vrma_limit_bytes(ram, backing), want);
}

#[test]
fn documented_row_uses_the_summary_words() {
    let c = cell(Some((RADIX, K4)), HV, HPT, K4, &[]);
    assert_eq!(
        rules::documented_row(&c),
        "Radix host, 4 KiB pages / HPT guest, 4 KiB pages (HV)"
    );
    let c = cell(Some((HPT, K64)), PR, HPT, K4, &[]);
    assert_eq!(rules::documented_row(&c), "HPT host, 64 KiB pages / KVM PR");
    let mut c = cell(None, TCG, RADIX, K64, &[]);
    c.row = Some("my row".into());
    assert_eq!(rules::documented_row(&c), "my row");
}

// ---------------------------------------------------------------------------
// The matrix documents the same table as the rules.

/// The matrix file, from the crate root.
fn void_compat() -> bootmatrix::matrix::Matrix {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("matrices/void-compat.toml");
    bootmatrix::matrix::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn void_compat_expectations_agree_with_the_rules_on_each_cells_row() {
    let m = void_compat();
    let mut explicit = 0;
    for c in &m.cells {
        let (Some(mmu), Some(page)) = (c.host.mmu, c.host.page_size) else {
            assert!(
                !c.guest.accel.is_kvm(),
                "{}: a KVM cell must name its host row",
                c.name
            );
            continue;
        };
        let mut host = power9(mmu, page);
        if c.host.nested == Some(true) {
            // The nested rows run where the harness is itself inside an L1.
            host.platform = Some(bootmatrix::model::Platform::PSeries);
        }
        let p = predict(&host, c);
        assert_eq!(
            rules::host_row(&host, c).nested,
            c.host.nested == Some(true),
            "{}",
            c.name
        );
        if c.guest.accel.is_kvm() {
            assert_eq!(
                p.skip_reason(),
                None,
                "{}: a ready host on the cell's row must run it: {:?}",
                c.name,
                p.skip_reason()
            );
        }
        if c.expect != Expectation::Predicted {
            explicit += 1;
            assert_eq!(
                rules::expectation_agrees(c, &p.outcome),
                Some(true),
                "{}: the matrix expects {:?}, the rules predict {:?} ({})",
                c.name,
                c.expect,
                p.outcome,
                p.rule
            );
        }
    }
    assert!(
        m.cells
            .iter()
            .filter(|c| c.host.nested == Some(true))
            .count()
            >= 10,
        "the nested rows are in the matrix"
    );
    assert!(
        explicit >= 40,
        "the matrix states the table explicitly ({explicit} explicit cells)"
    );
}

#[test]
fn void_compat_covers_every_summary_row_and_shows_the_three_errors_verbatim() {
    let m = void_compat();
    let predictions: Vec<_> = m
        .cells
        .iter()
        .map(|c| {
            (
                c,
                predict(
                    &power9(c.host.mmu.unwrap_or(RADIX), c.host.page_size.unwrap_or(K4)),
                    c,
                ),
            )
        })
        .collect();
    // Every (host row, accel, guest MMU, kernel page size) of the Void summary has a booting cell.
    let summary: &[((Mmu, PageSize), bootmatrix::model::Accel, Mmu, PageSize)] = &[
        ((RADIX, K4), HV, RADIX, K64),
        ((RADIX, K4), HV, RADIX, K4),
        ((RADIX, K4), HV, HPT, K4),
        ((HPT, K4), HV, HPT, K4),
        ((HPT, K4), PR, HPT, K4),
        ((RADIX, K64), HV, RADIX, K64),
        ((RADIX, K64), HV, RADIX, K4),
        ((RADIX, K64), HV, HPT, K64),
        ((RADIX, K64), HV, HPT, K4),
        ((HPT, K64), HV, HPT, K64),
        ((HPT, K64), HV, HPT, K4),
        ((HPT, K64), PR, HPT, K64),
    ];
    for &(row, accel, mmu, page) in summary {
        let found = predictions.iter().any(|(c, p)| {
            c.host.mmu == Some(row.0)
                && c.host.page_size == Some(row.1)
                && c.guest.accel == accel
                && c.guest.mmu == mmu
                && c.guest.kernel.page_size == page
                && matches!(p.outcome, Outcome::Boots { .. })
        });
        assert!(found, "no booting cell for {row:?} {accel} {mmu} {page}");
    }
    for text in [
        "Can't support 64 kiB guest pages with 4 kiB host pages with this KVM implementation",
        "KVM can't supply 64kiB CI pages, which guest expects",
        "Unable to create 2048MiB RMA (VRMA only allows 512MiB",
    ] {
        assert!(
            predictions.iter().any(
                |(_, p)| matches!(&p.outcome, Outcome::Fails { message, .. } if message == text)
            ),
            "no cell predicts {text:?}"
        );
    }
    // Nested scenarios seen from L0: a nested-capable Radix L1, and the refusal on an HPT host.
    assert!(predictions
        .iter()
        .any(|(c, p)| c.guest.fixes.contains(&NESTED) && got(p) == Want::Boots(RADIX)));
    assert!(predictions
        .iter()
        .any(|(_, p)| got(p) == Want::Fails("nested-hv-unsupported")));
}

#[test]
fn a_nested_row_is_skipped_on_bare_metal_with_the_reason() {
    let m = void_compat();
    let c = m
        .cells
        .iter()
        .find(|c| c.host.nested == Some(true) && c.guest.accel == bootmatrix::model::Accel::KvmHv)
        .expect("a nested HV row");
    let p = predict(&power9(c.host.mmu.unwrap(), c.host.page_size.unwrap()), c);
    let reason = p.skip_reason().expect("bare metal cannot run an L2 row");
    assert!(
        reason.contains("nested scenario") && reason.contains("bare metal"),
        "{reason}"
    );
}

#[test]
fn an_l2_forced_to_hpt_in_a_nested_l1_meets_the_nested_hpt_error() {
    // measured: max-cpu-compat=power8 in a nested pseries L1 gives `HPT not
    // supported in nested guests`; disable_radix alone boots Radix (R19).
    let m = void_compat();
    let forced = m
        .cells
        .iter()
        .find(|c| c.name.starts_with("nested/radix-64k-l1/kvm-hv/hpt-forced/"))
        .expect("the forced-HPT nested cell");
    let l1 = l1_guest(RADIX, K64);
    let p = predict(&l1, forced);
    assert_eq!(got(&p), Want::Fails("nested-hpt"));
    assert!(
        props(&p).contains(&"max-cpu-compat=power8".to_string()),
        "{:?}",
        props(&p)
    );
    let mut asked = forced.clone();
    asked.guest.max_cpu_compat = None;
    assert_eq!(got(&predict(&l1, &asked)), Want::Boots(RADIX));
    // Under TCG the same compatibility mode just makes the guest HPT.
    let mut tcg = forced.clone();
    tcg.guest.accel = bootmatrix::model::Accel::Tcg;
    assert_eq!(got(&predict(&x86(), &tcg)), Want::Boots(HPT));
}

#[test]
fn kvm_pr_with_hugepages_needs_a_host_kernel_with_mmu_notifiers() {
    // measured: on a 4 KiB hash host running 6.1, kvm-type=PR with
    // -mem-path gives `host lacks kvm mmu notifiers, -mem-path unsupported`
    // before any cap is checked (6.1 offers KVM_CAP_SYNC_MMU to KVM-HV VMs
    // only); the host kernel the row names says so.
    let host = power9(HPT, K4);
    let mut c = cell(Some((HPT, K4)), PR, HPT, K4, &[PR_CAPS, HPT_CAP, HUGE]);
    let mut old = c.guest.kernel.clone();
    old.name = "host-4k-6.1".into();
    old.kvm_pr = true;
    old.kvm_pr_mmu_notifiers = false;
    c.host.emulated_kernel = Some(old.clone());
    let p = predict(&host, &c);
    assert_eq!(got(&p), Want::Fails("mmu-notifiers"));
    assert!(p.rule.contains("host-4k-6.1"), "{}", p.rule);
    // Before the caps KVM-PR lacks: qemu allocates RAM first.
    let mut no_caps = c.clone();
    no_caps.guest.fixes = vec![HUGE];
    assert_eq!(got(&predict(&host, &no_caps)), Want::Fails("mmu-notifiers"));
    // Without -mem-path, and under KVM-HV, the kernel does not matter.
    let mut no_huge = c.clone();
    no_huge.guest.fixes = vec![PR_CAPS, HPT_CAP];
    assert_eq!(got(&predict(&host, &no_huge)), Want::Fails("rma-limit"));
    let mut hv = c.clone();
    hv.guest.accel = HV;
    hv.guest.fixes = vec![HPT_CAP, HUGE];
    assert_eq!(got(&predict(&host, &hv)), Want::Boots(HPT));
    // A kernel that offers them: the row's usual outcome.
    old.kvm_pr_mmu_notifiers = true;
    c.host.emulated_kernel = Some(old);
    assert_eq!(got(&predict(&host, &c)), Want::Boots(HPT));
}
