//! QEMU's and Linux's documented failure messages, as data.
//!
//! A cell that must fail names one of these by id; the console watcher
//! recognises every one of them in qemu's output, whichever cell is running,
//! so that an unexpected documented error is reported by name rather than as
//! "qemu exited 1". The exact texts are traced to QEMU source in
//! `docs/rules.md#errors` and `docs/rules.md#other-errors`; where the Void Linux
//! page quotes them differently, the source wins (the RMA message has no
//! closing parenthesis).

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// A failure message qemu (or the guest kernel) prints, named. Matrices
/// name them by id (`expect = "error:rma-limit"`), the rules predict them,
/// the console watcher recognises them in any output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DocumentedError {
    /// `hpt-page-size`: hw/ppc/spapr_caps.c spapr_check_pagesize.
    #[serde(rename = "hpt-page-size")]
    HptPageSize,
    /// `ci-pages`: target/ppc/kvm.c kvm_check_mmu.
    #[serde(rename = "ci-pages")]
    CiPages,
    /// `rma-limit`: hw/ppc/spapr.c spapr_setup_hpt.
    #[serde(rename = "rma-limit")]
    RmaLimit,
    /// `unsupported-machine`: hw/core/machine.c / vl.c machine lookup.
    #[serde(rename = "unsupported-machine")]
    UnsupportedMachine,
    /// `tcg-no-htm`: hw/ppc/spapr_caps.c cap_htm_apply.
    #[serde(rename = "tcg-no-htm")]
    TcgNoHtm,
    /// `kvm-no-htm`: hw/ppc/spapr_caps.c cap_htm_apply.
    #[serde(rename = "kvm-no-htm")]
    KvmNoHtm,
    /// `no-kvm`: accel/accel-system.c / accel/kvm/kvm-all.c.
    #[serde(rename = "no-kvm")]
    NoKvm,
    /// `kvm-module-not-loaded`: target/ppc/kvm.c kvm_arch_get_default_type.
    #[serde(rename = "kvm-module-not-loaded")]
    KvmModuleNotLoaded,
    /// `mmu-mode-unavailable`: hw/ppc/spapr_hcall.c h_client_architecture_support.
    #[serde(rename = "mmu-mode-unavailable")]
    MmuModeUnavailable,
    /// `nested-hpt`: hw/ppc/spapr.c spapr_setup_hpt / kvmppc_reset_htab.
    #[serde(rename = "nested-hpt")]
    NestedHpt,
    /// `nested-hv-unsupported`: hw/ppc/spapr_caps.c cap_nested_kvm_hv_apply.
    #[serde(rename = "nested-hv-unsupported")]
    NestedHvUnsupported,
    /// `fwnmi-unsupported`: hw/ppc/spapr_caps.c cap_fwnmi_apply.
    #[serde(rename = "fwnmi-unsupported")]
    FwnmiUnsupported,
    /// `ail-mode-3-unsupported`: hw/ppc/spapr_caps.c cap_ail_mode_3_apply.
    #[serde(rename = "ail-mode-3-unsupported")]
    AilMode3Unsupported,
    /// `large-decr-unsupported`: hw/ppc/spapr_caps.c cap_large_decr_apply.
    #[serde(rename = "large-decr-unsupported")]
    LargeDecrUnsupported,
    /// `speculation-cap-unsupported`: hw/ppc/spapr_caps.c cap_safe_*_apply.
    #[serde(rename = "speculation-cap-unsupported")]
    SpeculationCapUnsupported,
    /// `hugepage-backing-missing`: system/physmem.c file_ram_alloc.
    #[serde(rename = "hugepage-backing-missing")]
    HugepageBackingMissing,
    /// `kvm-hv-cpu-model`: target/ppc/kvm.c kvm_arch_init_vcpu.
    #[serde(rename = "kvm-hv-cpu-model")]
    KvmHvCpuModel,
    /// `no-mmu-type`: arch/powerpc/kernel/prom_init.c (Linux).
    #[serde(rename = "no-mmu-type")]
    NoMmuType,
    /// `mmu-notifiers`: system/physmem.c qemu_ram_alloc_from_fd.
    #[serde(rename = "mmu-notifiers")]
    MmuNotifiers,
}

/// What is known of one documented error.
struct Entry {
    error: DocumentedError,
    id: &'static str,
    text: &'static str,
    pattern: &'static str,
    source: &'static str,
}

/// Every documented error, with its id, text, pattern and source.
const ENTRIES: &[Entry] = &[
    Entry {
        error: DocumentedError::HptPageSize,
        id: "hpt-page-size",
        text: "Can't support 64 kiB guest pages with 4 kiB host pages with this KVM implementation",
        pattern: r"Can't support \d+ kiB guest pages with \d+ kiB host pages with this KVM implementation",
        source: "hw/ppc/spapr_caps.c spapr_check_pagesize",
    },
    Entry {
        error: DocumentedError::CiPages,
        id: "ci-pages",
        text: "KVM can't supply 64kiB CI pages, which guest expects",
        pattern: r"KVM can't supply 64kiB CI pages, which guest expects",
        source: "target/ppc/kvm.c kvm_check_mmu",
    },
    Entry {
        error: DocumentedError::RmaLimit,
        id: "rma-limit",
        text: "Unable to create 2048MiB RMA (VRMA only allows 512MiB",
        pattern: r"Unable to create \d+MiB RMA \(VRMA only allows \d+MiB",
        source: "hw/ppc/spapr.c spapr_setup_hpt",
    },
    Entry {
        error: DocumentedError::UnsupportedMachine,
        id: "unsupported-machine",
        text: "unsupported machine type: \"pseries-2.11\"",
        pattern: r#"unsupported machine type: "?[\w.-]+"?"#,
        source: "hw/core/machine.c / vl.c machine lookup",
    },
    Entry {
        error: DocumentedError::TcgNoHtm,
        id: "tcg-no-htm",
        text: "No Transactional Memory support in TCG",
        pattern: r"No Transactional Memory support in TCG",
        source: "hw/ppc/spapr_caps.c cap_htm_apply",
    },
    Entry {
        error: DocumentedError::KvmNoHtm,
        id: "kvm-no-htm",
        text: "KVM implementation does not support Transactional Memory",
        pattern: r"KVM implementation does not support Transactional Memory",
        source: "hw/ppc/spapr_caps.c cap_htm_apply",
    },
    Entry {
        error: DocumentedError::NoKvm,
        id: "no-kvm",
        text: "invalid accelerator kvm",
        pattern: r"invalid accelerator kvm|Could not access KVM kernel module|failed to initialize kvm: (No such file|Permission denied)",
        source: "accel/accel-system.c / accel/kvm/kvm-all.c",
    },
    Entry {
        error: DocumentedError::KvmModuleNotLoaded,
        id: "kvm-module-not-loaded",
        text: "PPC KVM module is not loaded. Try modprobe kvm_pr.",
        pattern: r"PPC KVM module is not loaded\. Try modprobe kvm_(hv|pr)\.",
        source: "target/ppc/kvm.c kvm_arch_get_default_type",
    },
    Entry {
        error: DocumentedError::MmuModeUnavailable,
        id: "mmu-mode-unavailable",
        text: "Guest requested unavailable MMU mode (hash).",
        pattern: r"Guest requested unavailable MMU mode \((hash|radix)\)\.",
        source: "hw/ppc/spapr_hcall.c h_client_architecture_support",
    },
    Entry {
        error: DocumentedError::NestedHpt,
        id: "nested-hpt",
        text: "HPT not supported in nested guests",
        pattern: r"HPT not supported in nested guests",
        source: "hw/ppc/spapr.c spapr_setup_hpt / kvmppc_reset_htab",
    },
    Entry {
        error: DocumentedError::NestedHvUnsupported,
        id: "nested-hv-unsupported",
        text: "KVM implementation does not support Nested-HV",
        pattern: r"KVM implementation does not support Nested-HV|Error enabling cap-nested-hv with KVM|Nested-HV only supported on POWER9 and later",
        source: "hw/ppc/spapr_caps.c cap_nested_kvm_hv_apply",
    },
    Entry {
        error: DocumentedError::FwnmiUnsupported,
        id: "fwnmi-unsupported",
        text: "Firmware Assisted Non-Maskable Interrupts(FWNMI) not supported by KVM.",
        pattern: r"Firmware Assisted Non-Maskable Interrupts\(FWNMI\) not supported by KVM\.",
        source: "hw/ppc/spapr_caps.c cap_fwnmi_apply",
    },
    Entry {
        error: DocumentedError::AilMode3Unsupported,
        id: "ail-mode-3-unsupported",
        text: "KVM implementation does not support cap-ail-mode-3",
        pattern: r"KVM implementation does not support cap-ail-mode-3",
        source: "hw/ppc/spapr_caps.c cap_ail_mode_3_apply",
    },
    Entry {
        error: DocumentedError::LargeDecrUnsupported,
        id: "large-decr-unsupported",
        text: "No large decrementer support",
        pattern: r"No large decrementer support",
        source: "hw/ppc/spapr_caps.c cap_large_decr_apply",
    },
    Entry {
        error: DocumentedError::SpeculationCapUnsupported,
        id: "speculation-cap-unsupported",
        text: "Requested safe cache capability level not supported by KVM",
        pattern: r"Requested (safe cache|safe bounds check|safe indirect branch|count cache flush assist) capability level not supported by KVM",
        source: "hw/ppc/spapr_caps.c cap_safe_*_apply",
    },
    Entry {
        error: DocumentedError::HugepageBackingMissing,
        id: "hugepage-backing-missing",
        text: "can't open backing store /dev/hugepages for guest RAM: No such file or directory",
        pattern: r"can't open backing store \S+ for guest RAM|unable to map backing store for guest RAM",
        source: "system/physmem.c file_ram_alloc",
    },
    Entry {
        error: DocumentedError::KvmHvCpuModel,
        id: "kvm-hv-cpu-model",
        text: "Register sync failed... If you're using kvm-hv.ko, only \"-cpu host\" is possible",
        pattern: r#"If you're using kvm-hv\.ko, only "-cpu host" is possible"#,
        source: "target/ppc/kvm.c kvm_arch_init_vcpu",
    },
    Entry {
        error: DocumentedError::NoMmuType,
        id: "no-mmu-type",
        text: "kernel does not support any MMU type offered by platform",
        pattern: r"kernel does not support any MMU type offered by platform",
        source: "arch/powerpc/kernel/prom_init.c (Linux)",
    },
    // KVM without KVM_CAP_SYNC_MMU: on Linux 6.1 a KVM-PR VM of a kernel
    // with KVM-HV built in (arch/powerpc/kvm/powerpc.c answers `hv_enabled`).
    Entry {
        error: DocumentedError::MmuNotifiers,
        id: "mmu-notifiers",
        text: "host lacks kvm mmu notifiers, -mem-path unsupported",
        pattern: r"host lacks kvm mmu notifiers, -mem-path unsupported",
        source: "system/physmem.c qemu_ram_alloc_from_fd",
    },
];

impl DocumentedError {
    /// Every documented error the harness knows, in a stable order.
    pub fn all() -> impl Iterator<Item = DocumentedError> {
        ENTRIES.iter().map(|e| e.error)
    }

    fn entry(self) -> &'static Entry {
        ENTRIES
            .iter()
            .find(|e| e.error == self)
            .expect("every documented error has an entry")
    }

    /// The stable id matrices use (`expect = "error:<id>"`).
    pub fn id(self) -> &'static str {
        self.entry().id
    }

    /// The message as the documentation shows it, for reports and `plan`.
    pub fn text(self) -> &'static str {
        self.entry().text
    }

    /// A regular expression that matches the message in a console line;
    /// numbers vary with the cell and are matched loosely.
    pub fn pattern(self) -> &'static str {
        self.entry().pattern
    }

    /// Where the message comes from (file and function in QEMU or Linux).
    pub fn source(self) -> &'static str {
        self.entry().source
    }

    /// True when `line` shows this error.
    pub fn matches(self, line: &str) -> bool {
        compiled()
            .iter()
            .find(|(e, _)| *e == self)
            .is_some_and(|(_, re)| re.is_match(line))
    }
}

impl fmt::Display for DocumentedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for DocumentedError {
    type Err = String;
    fn from_str(id: &str) -> Result<Self, String> {
        by_id(id).ok_or_else(|| {
            format!(
                "unknown documented error `{id}` (known: {})",
                ids().join(", ")
            )
        })
    }
}

/// Looks an error up by id.
pub fn by_id(id: &str) -> Option<DocumentedError> {
    ENTRIES.iter().find(|e| e.id == id).map(|e| e.error)
}

/// The ids, for error messages that list what is valid.
pub fn ids() -> Vec<&'static str> {
    ENTRIES.iter().map(|e| e.id).collect()
}

fn compiled() -> &'static [(DocumentedError, Regex)] {
    static RES: OnceLock<Vec<(DocumentedError, Regex)>> = OnceLock::new();
    RES.get_or_init(|| {
        ENTRIES
            .iter()
            .map(|e| {
                (
                    e.error,
                    Regex::new(e.pattern).expect("documented pattern compiles"),
                )
            })
            .collect()
    })
}

/// The documented error a line of output shows, if any.
pub fn find_in(line: &str) -> Option<DocumentedError> {
    compiled()
        .iter()
        .find(|(_, re)| re.is_match(line))
        .map(|(e, _)| *e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_text_matches_its_own_pattern() {
        for e in DocumentedError::all() {
            assert!(e.matches(e.text()), "{e} does not match its text");
            assert_eq!(find_in(e.text()), Some(e), "{e} is shadowed");
        }
    }

    #[test]
    fn ids_are_unique_and_round_trip() {
        let mut ids = ids();
        ids.sort();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n);
        for e in DocumentedError::all() {
            assert_eq!(e.id().parse::<DocumentedError>(), Ok(e));
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(json, format!("\"{}\"", e.id()));
        }
    }

    #[test]
    fn rma_message_is_matched_without_closing_parenthesis() {
        let line = "qemu-system-ppc64: Unable to create 512MiB RMA (VRMA only allows 128MiB";
        assert_eq!(find_in(line), Some(DocumentedError::RmaLimit));
    }
}
