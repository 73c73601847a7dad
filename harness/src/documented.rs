//! QEMU's and Linux's documented failure messages, as data.
//!
//! A cell that must fail names one of these by id; the console watcher
//! recognises every one of them in qemu's output, whichever cell is running,
//! so that an unexpected documented error is reported by name rather than as
//! "qemu exited 1". The exact texts are traced to QEMU source in
//! `shared/reference/qemu-rules.md` (section 1 and 2); where the Void Linux
//! page quotes them differently, the source wins (the RMA message has no
//! closing parenthesis).

use regex::Regex;
use std::sync::OnceLock;

/// One failure message qemu (or the guest kernel) prints, with an id that
/// matrices and rules use.
#[derive(Debug)]
pub struct DocumentedError {
    /// Stable id used in matrices (`expect = { error = "..." }`).
    pub id: &'static str,
    /// The message as the documentation shows it, for reports and `plan`.
    pub text: &'static str,
    /// A regular expression that matches the message in a console line;
    /// numbers vary with the cell and are matched loosely.
    pub pattern: &'static str,
    /// Where the message comes from (file and function in QEMU or Linux).
    pub source: &'static str,
}

/// Every documented error the harness knows.
pub const ALL: &[DocumentedError] = &[
    DocumentedError {
        id: "hpt-page-size",
        text: "Can't support 64 kiB guest pages with 4 kiB host pages with this KVM implementation",
        pattern: r"Can't support \d+ kiB guest pages with \d+ kiB host pages with this KVM implementation",
        source: "hw/ppc/spapr_caps.c spapr_check_pagesize",
    },
    DocumentedError {
        id: "ci-pages",
        text: "KVM can't supply 64kiB CI pages, which guest expects",
        pattern: r"KVM can't supply 64kiB CI pages, which guest expects",
        source: "target/ppc/kvm.c kvm_check_mmu",
    },
    DocumentedError {
        id: "rma-limit",
        text: "Unable to create 2048MiB RMA (VRMA only allows 512MiB",
        pattern: r"Unable to create \d+MiB RMA \(VRMA only allows \d+MiB",
        source: "hw/ppc/spapr.c spapr_setup_hpt",
    },
    DocumentedError {
        id: "unsupported-machine",
        text: "unsupported machine type: \"pseries-2.11\"",
        pattern: r#"unsupported machine type: "?[\w.-]+"?"#,
        source: "hw/core/machine.c / vl.c machine lookup",
    },
    DocumentedError {
        id: "tcg-no-htm",
        text: "No Transactional Memory support in TCG",
        pattern: r"No Transactional Memory support in TCG",
        source: "hw/ppc/spapr_caps.c cap_htm_apply",
    },
    DocumentedError {
        id: "kvm-no-htm",
        text: "KVM implementation does not support Transactional Memory",
        pattern: r"KVM implementation does not support Transactional Memory",
        source: "hw/ppc/spapr_caps.c cap_htm_apply",
    },
    DocumentedError {
        id: "no-kvm",
        text: "invalid accelerator kvm",
        pattern: r"invalid accelerator kvm|Could not access KVM kernel module|failed to initialize kvm: (No such file|Permission denied)",
        source: "accel/accel-system.c / accel/kvm/kvm-all.c",
    },
    DocumentedError {
        id: "kvm-module-not-loaded",
        text: "PPC KVM module is not loaded. Try modprobe kvm_pr.",
        pattern: r"PPC KVM module is not loaded\. Try modprobe kvm_(hv|pr)\.",
        source: "target/ppc/kvm.c kvm_arch_get_default_type",
    },
    DocumentedError {
        id: "mmu-mode-unavailable",
        text: "Guest requested unavailable MMU mode (hash).",
        pattern: r"Guest requested unavailable MMU mode \((hash|radix)\)\.",
        source: "hw/ppc/spapr_hcall.c h_client_architecture_support",
    },
    DocumentedError {
        id: "nested-hpt",
        text: "HPT not supported in nested guests",
        pattern: r"HPT not supported in nested guests",
        source: "hw/ppc/spapr.c spapr_setup_hpt / kvmppc_reset_htab",
    },
    DocumentedError {
        id: "nested-hv-unsupported",
        text: "KVM implementation does not support Nested-HV",
        pattern: r"KVM implementation does not support Nested-HV|Error enabling cap-nested-hv with KVM|Nested-HV only supported on POWER9 and later",
        source: "hw/ppc/spapr_caps.c cap_nested_kvm_hv_apply",
    },
    DocumentedError {
        id: "fwnmi-unsupported",
        text: "Firmware Assisted Non-Maskable Interrupts(FWNMI) not supported by KVM.",
        pattern: r"Firmware Assisted Non-Maskable Interrupts\(FWNMI\) not supported by KVM\.",
        source: "hw/ppc/spapr_caps.c cap_fwnmi_apply",
    },
    DocumentedError {
        id: "ail-mode-3-unsupported",
        text: "KVM implementation does not support cap-ail-mode-3",
        pattern: r"KVM implementation does not support cap-ail-mode-3",
        source: "hw/ppc/spapr_caps.c cap_ail_mode_3_apply",
    },
    DocumentedError {
        id: "large-decr-unsupported",
        text: "No large decrementer support",
        pattern: r"No large decrementer support",
        source: "hw/ppc/spapr_caps.c cap_large_decr_apply",
    },
    DocumentedError {
        id: "speculation-cap-unsupported",
        text: "Requested safe cache capability level not supported by KVM",
        pattern: r"Requested (safe cache|safe bounds check|safe indirect branch|count cache flush assist) capability level not supported by KVM",
        source: "hw/ppc/spapr_caps.c cap_safe_*_apply",
    },
    DocumentedError {
        id: "hugepage-backing-missing",
        text: "can't open backing store /dev/hugepages for guest RAM: No such file or directory",
        pattern: r"can't open backing store \S+ for guest RAM|unable to map backing store for guest RAM",
        source: "system/physmem.c file_ram_alloc",
    },
    DocumentedError {
        id: "kvm-hv-cpu-model",
        text: "Register sync failed... If you're using kvm-hv.ko, only \"-cpu host\" is possible",
        pattern: r#"If you're using kvm-hv\.ko, only "-cpu host" is possible"#,
        source: "target/ppc/kvm.c kvm_arch_init_vcpu",
    },
    DocumentedError {
        id: "no-mmu-type",
        text: "kernel does not support any MMU type offered by platform",
        pattern: r"kernel does not support any MMU type offered by platform",
        source: "arch/powerpc/kernel/prom_init.c (Linux)",
    },
];

/// Looks an error up by id.
pub fn by_id(id: &str) -> Option<&'static DocumentedError> {
    ALL.iter().find(|e| e.id == id)
}

/// The ids, for error messages that list what is valid.
pub fn ids() -> Vec<&'static str> {
    ALL.iter().map(|e| e.id).collect()
}

fn compiled() -> &'static [(usize, Regex)] {
    static RES: OnceLock<Vec<(usize, Regex)>> = OnceLock::new();
    RES.get_or_init(|| {
        ALL.iter()
            .enumerate()
            .map(|(i, e)| {
                (
                    i,
                    Regex::new(e.pattern).expect("documented pattern compiles"),
                )
            })
            .collect()
    })
}

/// The documented error a line of output shows, if any.
pub fn find_in(line: &str) -> Option<&'static DocumentedError> {
    compiled()
        .iter()
        .find(|(_, re)| re.is_match(line))
        .map(|(i, _)| &ALL[*i])
}

impl DocumentedError {
    /// True when `line` shows this error.
    pub fn matches(&self, line: &str) -> bool {
        compiled()
            .iter()
            .find(|(i, _)| ALL[*i].id == self.id)
            .is_some_and(|(_, re)| re.is_match(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_text_matches_its_own_pattern() {
        for e in ALL {
            assert!(e.matches(e.text), "{} does not match its text", e.id);
            assert_eq!(
                find_in(e.text).map(|f| f.id),
                Some(e.id),
                "{} is shadowed",
                e.id
            );
        }
    }

    #[test]
    fn ids_are_unique() {
        let mut ids = ids();
        ids.sort();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n);
    }

    #[test]
    fn rma_message_is_matched_without_closing_parenthesis() {
        let line = "qemu-system-ppc64: Unable to create 512MiB RMA (VRMA only allows 128MiB";
        assert_eq!(find_in(line).map(|e| e.id), Some("rma-limit"));
    }
}
