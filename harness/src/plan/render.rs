//! `bootmatrix plan`: a [`Plan`] laid out, as text for people and JSON for
//! tools. Pure rendering of the value `run` executes.
//!
//! The plan is the compatibility table made concrete for one host: every
//! cell with its documented row, the outcome the rules predict (errors with
//! their full message, verbatim), the rule and its citation, why this machine
//! would skip it, the flags the rules added and why, where the Void page and
//! QEMU disagree, and the exact command.

use super::{Placement, Plan};
use crate::model::{Firmware, Outcome};

/// The plan as text: one block per cell, then a count.
pub fn render_text(plan: &Plan) -> String {
    let mut s = String::new();
    let (mut boots, mut fails, mut skipped, mut disagree, mut vof) = (0, 0, 0, 0, 0);
    for e in &plan.cells {
        let p = &e.prediction;
        s.push_str(&format!("{}\n", e.name));
        s.push_str(&format!("  row:      {}\n", e.row));
        s.push_str(&format!("  predicts: {}\n", p.outcome));
        let agreement = match e.agrees {
            Some(false) => {
                disagree += 1;
                "  <-- DISAGREES with the prediction"
            }
            _ => "",
        };
        s.push_str(&format!("  expects:  {}{agreement}\n", e.expectation));
        s.push_str(&format!("  rule:     {}\n", p.rule));
        let firmware = e.cell.guest.firmware;
        if firmware == Firmware::Vof {
            vof += 1;
        }
        s.push_str(&format!("  firmware: {}\n", firmware_words(firmware)));
        if let Some(reason) = e.readiness.reason() {
            skipped += 1;
            s.push_str(&format!("  skip:     {reason}\n"));
        }
        for a in &p.additions {
            s.push_str(&format!("  adds:     {} ({})\n", a.flag, a.why));
        }
        for n in &p.notes {
            s.push_str(&format!("  note:     {n}\n"));
        }
        match &e.placement {
            Placement::InHost { session, command } => {
                let host = &plan.sessions[*session];
                s.push_str(&format!("  session:  {}\n", host.name()));
                s.push_str(&format!("  level 0:  {}\n", host.command.shell_line()));
                if host.level0 == crate::chain::Level0::Kvm {
                    s.push_str(
                        "  level 0 runs under this machine's KVM-HV (nested, cap-nested-hv=on)\n",
                    );
                }
                let q = &host.inner_qemu;
                s.push_str(&format!(
                    "  level 1 runs qemu {}.{} from Debian {} (ppc64el) under the bootmatrix inside the host,\n  \
                     which decides this cell from its own probe (checked against: {})\n",
                    q.version.0,
                    q.version.1,
                    q.release,
                    expected_words(&host.expected)
                ));
                s.push_str(&format!(
                    "  level 1 (as expected there):  {}\n\n",
                    command.shell_line()
                ));
            }
            Placement::Here { command } => {
                s.push_str(&format!("  command:  {}\n\n", command.shell_line()))
            }
        }
        match p.outcome {
            Outcome::Boots { .. } => boots += 1,
            Outcome::Fails { .. } => fails += 1,
        }
    }
    s.push_str(&sessions_text(plan));
    s.push_str(&format!(
        "{} cells: {boots} predicted to boot, {fails} to fail with a documented error; {skipped} cannot run on this host",
        plan.cells.len()
    ));
    if disagree > 0 {
        s.push_str(&format!(
            "; {disagree} matrix expectations disagree with the rules"
        ));
    }
    if vof > 0 {
        s.push_str(&format!("; {vof} under VOF, the others under SLOF"));
    }
    let booted = plan.sessions.iter().filter(|h| !h.cells.is_empty()).count();
    if booted > 0 {
        s.push_str(&format!("; {booted} emulated-host boots"));
    }
    s.push('\n');
    s
}

/// The booted sessions in the order the run starts them, each with its
/// part, cells and expected seconds, and the run's expected length on its
/// lanes; nothing when no emulated host boots.
fn sessions_text(plan: &Plan) -> String {
    let order = plan.start_order();
    let booted: Vec<usize> = order
        .iter()
        .filter_map(|w| match w {
            super::Start::Session(k) => Some(*k),
            super::Start::Cell(_) => None,
        })
        .collect();
    if booted.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "emulated-host sessions, in the order they start on {} lanes (expected: the previous run's \
         seconds where given, else estimated; {} s per host boot):\n",
        plan.lanes,
        super::schedule::HOST_BOOT_SECONDS
    );
    for k in booted {
        let session = &plan.sessions[k];
        s.push_str(&format!(
            "  {}  part {} of {}, {} cells, expected {:.0} s\n",
            session.name(),
            session.part,
            session.parts,
            session.cells.len(),
            session.expected_seconds
        ));
    }
    s.push_str(&format!(
        "expected run time on {} lanes: {:.0} s\n\n",
        plan.lanes,
        plan.expected_seconds()
    ));
    s
}

/// The plan as JSON: the [`Plan`] value itself, exactly as `run` executes it.
pub fn render_json(plan: &Plan) -> String {
    serde_json::to_string_pretty(plan).expect("a plan serializes")
}

/// Which firmware a cell's guest starts under, and what that means for it.
fn firmware_words(firmware: Firmware) -> &'static str {
    match firmware {
        Firmware::Slof => "SLOF (what users boot)",
        Firmware::Vof => {
            "VOF (x-vof=on: reaches the kernel sooner; the harness formats its NVRAM, which SLOF would)"
        }
    }
}

/// What a session's host must be, in a few words.
fn expected_words(e: &crate::chain::ExpectedHost) -> String {
    let mut kvm: Vec<&str> = Vec::new();
    if e.kvm_hv {
        kvm.push("KVM-HV");
    }
    if e.kvm_pr {
        kvm.push("KVM-PR");
    }
    let mut words = format!(
        "{} {}, {} pages",
        e.platform,
        e.mmu,
        e.page_size.map_or("any".to_string(), |p| p.to_string())
    );
    if e.hugepages > 0 {
        words.push_str(&format!(
            ", {} hugepages of {} KiB",
            e.hugepages, e.hugepage_kib
        ));
    }
    words.push_str(&format!(
        ", {}",
        if kvm.is_empty() {
            "no KVM".to_string()
        } else {
            kvm.join(" and ")
        }
    ));
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::HostFacts;
    use crate::model::*;
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn cell(expect: Expectation) -> Cell {
        Cell {
            name: "radix-4k/kvm-hv/hpt/4k/no-fix".into(),
            host: HostSpec {
                kind: HostKind::Native,
                mmu: Some(Mmu::Radix),
                page_size: Some(PageSize::K4),
                nested: None,
                kernel: None,
                memory_mib: None,
                inner_qemu: None,
                emulated_kind: None,
                emulated_kernel: None,
            },
            guest: Guest {
                kernel: Kernel {
                    name: "k4".into(),
                    image: "k4".into(),
                    page_size: PageSize::K4,
                    kvm_pr: false,
                    emulated_hugepages: false,
                    kvm_pr_mmu_notifiers: true,
                },
                busybox: "bb".into(),
                mmu: Mmu::Hpt,
                accel: Accel::KvmHv,
                machine: Machine::pseries(),
                caps: BTreeMap::new(),
                fixes: vec![],
                memory_mib: 2048,
                smp: 1,
                cpu: None,
                max_cpu_compat: None,
                firmware: Firmware::Slof,
                append: vec![],
            },
            expect,
            timeout: Duration::from_secs(60),
            row: None,
            line: 1,
            known_failure: None,
        }
    }

    #[test]
    fn text_shows_the_error_verbatim_and_the_command() {
        let c = cell(Expectation::Error(
            crate::documented::DocumentedError::HptPageSize,
        ));
        let t = render_text(&plan_of(c));
        assert!(t.contains("Can't support 64 kiB guest pages with 4 kiB host pages with this KVM implementation"), "{t}");
        assert!(
            t.contains("command:  qemu-system-ppc64 -machine pseries,accel=kvm"),
            "{t}"
        );
        assert!(
            t.contains("row:      Radix host, 4 KiB pages / HPT guest, 4 KiB pages (HV)"),
            "{t}"
        );
        assert!(!t.contains("DISAGREES"), "{t}");
    }

    #[test]
    fn a_disagreeing_expectation_is_flagged() {
        let c = cell(Expectation::Boots { mmu: None });
        let plan = plan_of(c);
        assert_eq!(plan.cells[0].agrees, Some(false));
        assert!(render_text(&plan).contains("DISAGREES"));
        let json: serde_json::Value = serde_json::from_str(&render_json(&plan)).unwrap();
        let cell = &json["cells"][0];
        assert_eq!(cell["prediction"]["outcome"]["outcome"], "fails");
        assert_eq!(cell["prediction"]["outcome"]["error"], "hpt-page-size");
    }

    #[test]
    fn text_says_which_firmware_each_cell_starts_under_and_counts_vof() {
        let slof = render_text(&plan_of(cell(Expectation::Predicted)));
        assert!(
            slof.contains("  firmware: SLOF (what users boot)\n"),
            "{slof}"
        );
        assert!(!slof.contains("under VOF"), "{slof}");
        let mut c = cell(Expectation::Predicted);
        c.guest.firmware = Firmware::Vof;
        let vof = render_text(&plan_of(c));
        assert!(vof.contains("  firmware: VOF (x-vof=on"), "{vof}");
        assert!(
            vof.contains("; 1 under VOF, the others under SLOF"),
            "{vof}"
        );
        assert!(
            vof.contains("file=<nvram>"),
            "the drive in the command: {vof}"
        );
    }

    /// The plan of one cell on a POWER9 with a 4 KiB Radix host.
    fn plan_of(c: Cell) -> Plan {
        let m = crate::matrix::Matrix {
            path: "m.toml".into(),
            name: "m".into(),
            description: None,
            kernels: BTreeMap::new(),
            cells: vec![c.clone()],
            sha256: String::new(),
            emulation: None,
        };
        let host = HostFacts::ready_power9(Mmu::Radix, PageSize::K4);
        let input = super::super::PlanInput {
            host: &host,
            hosts: super::super::HostsMode::Auto,
            qemu: "qemu-system-ppc64",
            timeout_scale: 1.0,
            known_failures: Default::default(),
            durations: &BTreeMap::new(),
            lanes: 2,
        };
        super::super::build(&m, &[c], &input).unwrap()
    }
}
