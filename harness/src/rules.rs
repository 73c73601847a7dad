//! The compatibility table as code: given a host and a cell, what must
//! happen, and which flags make it so. Pure functions, no I/O.

use serde::Serialize;

use crate::host::HostFacts;
use crate::model::{Accel, Cell, Mmu, PageSize};

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
    /// This host cannot run the cell at all; it is skipped with the reason.
    CannotRun {
        /// What is missing, and how to get it.
        reason: String,
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
    /// The predicted outcome.
    pub outcome: Outcome,
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

/// Predicts what `cell` does on `host`.
pub fn predict(host: &HostFacts, cell: &Cell) -> Prediction {
    let g = &cell.guest;
    let mut machine_props = Vec::new();
    let cpu;
    let outcome = match g.accel {
        Accel::Tcg => {
            machine_props.push(("accel".to_string(), "tcg".to_string()));
            cpu = g.cpu.clone().unwrap_or_else(|| "POWER9".into());
            Outcome::Boots { mmu: g.mmu, page_size: g.kernel.page_size }
        }
        Accel::KvmHv | Accel::KvmPr => {
            cpu = g.cpu.clone().unwrap_or_else(|| "host".into());
            Outcome::CannotRun {
                reason: if host.is_power() {
                    "KVM rules are not implemented yet".into()
                } else {
                    format!("{} needs a POWER host with KVM; this host is {}", g.accel, host.arch)
                },
            }
        }
    };
    for (k, v) in &g.caps {
        machine_props.push((format!("cap-{k}"), v.clone()));
    }
    Prediction {
        outcome,
        rule: "tcg".into(),
        machine_props,
        cpu,
        extra_args: Vec::new(),
        additions: Vec::new(),
        notes: Vec::new(),
    }
}
