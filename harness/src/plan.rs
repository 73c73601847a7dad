//! `bootmatrix plan`: what each cell of a matrix will do, before anything
//! boots. Pure rendering: the caller predicts ([`crate::rules::predict`]) and
//! builds the qemu argv ([`crate::qemu`]); this module only lays it out, as
//! text for people and JSON for tools.
//!
//! The plan is the compatibility table made concrete for one host: every
//! cell with its documented row, the outcome the rules predict (errors with
//! their full message, verbatim), the rule and its citation, why this machine
//! would skip it, the flags the rules added and why, where the Void page and
//! QEMU disagree, and the exact command.

use serde::Serialize;

use crate::model::Cell;
use crate::rules::{self, Outcome, Prediction};

/// One cell of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanEntry {
    /// The cell's name.
    pub cell: String,
    /// The documented row the cell proves (the matrix's `row`, else one built
    /// by [`rules::documented_row`]).
    pub row: Option<String>,
    /// What the rules say.
    pub prediction: Prediction,
    /// The cell's expectation as the matrix states it (`predicted`, `boots`,
    /// `error:<id>`).
    pub expectation: String,
    /// Whether an explicit expectation agrees with the prediction; `None` for
    /// `predicted`. `Some(false)` means the matrix and the rules document
    /// different tables.
    pub agrees: Option<bool>,
    /// The qemu command, program first, unquoted (inside the emulated host
    /// when there is one).
    pub argv: Vec<String>,
    /// For a cell on an emulated host: the level-0 command that boots the
    /// host (its initramfs named symbolically).
    pub host_argv: Option<Vec<String>>,
    /// For a cell on an emulated host: which qemu runs level 1 there
    /// (`qemu 10.0 from bookworm-backports`).
    pub inner_qemu: Option<String>,
}

impl PlanEntry {
    /// The entry for `cell`, given its prediction and the argv the qemu
    /// module built from that prediction.
    pub fn new(cell: &Cell, prediction: Prediction, argv: Vec<String>) -> PlanEntry {
        PlanEntry {
            cell: cell.name.clone(),
            row: Some(rules::documented_row(cell)),
            expectation: rules::expectation_text(&cell.expect),
            agrees: rules::expectation_agrees(cell, &prediction.outcome),
            prediction,
            argv,
            host_argv: None,
            inner_qemu: None,
        }
    }
}

/// The outcome in one line: `boots (radix, 64k pages)` or `fails:
/// <id>: <message>`, the message verbatim.
pub fn outcome_text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Boots { mmu, page_size } => format!("boots ({mmu} MMU, {page_size} pages)"),
        Outcome::Fails { error, message } => format!("fails with {error}: {message}"),
    }
}

/// The plan as text: one block per cell, then a count.
pub fn render_text(entries: &[PlanEntry]) -> String {
    let mut s = String::new();
    let (mut boots, mut fails, mut skipped, mut disagree) = (0, 0, 0, 0);
    for e in entries {
        let p = &e.prediction;
        s.push_str(&format!("{}\n", e.cell));
        if let Some(row) = &e.row {
            s.push_str(&format!("  row:      {row}\n"));
        }
        s.push_str(&format!("  predicts: {}\n", outcome_text(&p.outcome)));
        let agreement = match e.agrees {
            Some(false) => {
                disagree += 1;
                "  <-- DISAGREES with the prediction"
            }
            _ => "",
        };
        s.push_str(&format!("  expects:  {}{agreement}\n", e.expectation));
        s.push_str(&format!("  rule:     {}\n", p.rule));
        if let Some(reason) = &p.skip {
            skipped += 1;
            s.push_str(&format!("  skip:     {reason}\n"));
        }
        for a in &p.additions {
            s.push_str(&format!("  adds:     {} ({})\n", a.flag, a.why));
        }
        for n in &p.notes {
            s.push_str(&format!("  note:     {n}\n"));
        }
        let line: Vec<String> = e.argv.iter().map(|a| crate::qemu::shell_quote(a)).collect();
        match &e.host_argv {
            Some(host) => {
                let host: Vec<String> = host.iter().map(|a| crate::qemu::shell_quote(a)).collect();
                s.push_str(&format!("  level 0:  {}\n", host.join(" ")));
                if let Some(q) = &e.inner_qemu {
                    s.push_str(&format!("  level 1 runs {q}\n"));
                }
                s.push_str(&format!("  level 1:  {}\n\n", line.join(" ")));
            }
            None => s.push_str(&format!("  command:  {}\n\n", line.join(" "))),
        }
        match p.outcome {
            Outcome::Boots { .. } => boots += 1,
            Outcome::Fails { .. } => fails += 1,
        }
    }
    s.push_str(&format!(
        "{} cells: {boots} predicted to boot, {fails} to fail with a documented error; {skipped} cannot run on this host",
        entries.len()
    ));
    if disagree > 0 {
        s.push_str(&format!(
            "; {disagree} matrix expectations disagree with the rules"
        ));
    }
    s.push('\n');
    s
}

/// The plan as JSON: an array of entries.
pub fn render_json(entries: &[PlanEntry]) -> String {
    serde_json::to_string_pretty(entries).expect("plan entries serialize")
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
            },
            guest: Guest {
                kernel: Kernel {
                    name: "k4".into(),
                    image: "k4".into(),
                    page_size: PageSize::K4,
                    kvm_pr: false,
                    emulated_hugepages: false,
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
                firmware: Firmware::Slof,
                append: vec![],
            },
            expect,
            timeout: Duration::from_secs(60),
            row: None,
            line: 1,
        }
    }

    #[test]
    fn text_shows_the_error_verbatim_and_the_command() {
        let c = cell(Expectation::Error("hpt-page-size".into()));
        let p = rules::predict(&HostFacts::ready_power9(Mmu::Radix, PageSize::K4), &c);
        let e = PlanEntry::new(
            &c,
            p,
            vec![
                "qemu-system-ppc64".into(),
                "-machine".into(),
                "pseries,accel=kvm".into(),
            ],
        );
        let t = render_text(&[e]);
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
        let p = rules::predict(&HostFacts::ready_power9(Mmu::Radix, PageSize::K4), &c);
        let e = PlanEntry::new(&c, p, vec![]);
        assert_eq!(e.agrees, Some(false));
        assert!(render_text(std::slice::from_ref(&e)).contains("DISAGREES"));
        let json: serde_json::Value = serde_json::from_str(&render_json(&[e])).unwrap();
        assert_eq!(json[0]["prediction"]["outcome"]["outcome"], "fails");
        assert_eq!(json[0]["prediction"]["outcome"]["error"], "hpt-page-size");
    }
}
