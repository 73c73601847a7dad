//! The command-line flags a cell gets from the rules: the accelerator, the
//! documented fixes it asks for, its own caps, and the caps an emulated
//! host's profile adds. Built before the outcome, which depends on the caps
//! in effect.

use super::{qemu_version, Addition, HostRow};
use crate::documented::DocumentedError;
use crate::host::HostFacts;
use crate::model::{Accel, Cell, Fix, Mmu};

/// The command-line flags a cell gets: accel, the documented fixes it asks
/// for, its own caps. Built before the outcome because the outcome depends
/// on the caps in effect.
pub(super) struct Flags {
    pub(super) machine_props: Vec<(String, String)>,
    pub(super) extra_args: Vec<String>,
    pub(super) additions: Vec<Addition>,
    pub(super) notes: Vec<String>,
    /// The `-mem-path` directory, when guest RAM is backed by hugepages.
    pub(super) mem_path: Option<String>,
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
    pub(super) fn cap(&self, name: &str) -> Option<&str> {
        let key = format!("cap-{name}");
        self.machine_props
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `cap-<name>` is on, given the machine's default.
    pub(super) fn cap_on(&self, name: &str, default: bool) -> bool {
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
pub(super) const PR_CAPS: [(&str, DocumentedError, (u32, u32)); 3] = [
    ("fwnmi", DocumentedError::FwnmiUnsupported, (5, 0)),
    ("ail-mode-3", DocumentedError::AilMode3Unsupported, (8, 1)),
    ("large-decr", DocumentedError::LargeDecrUnsupported, (4, 0)),
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
pub(super) fn hugepage_bytes(host: &HostFacts, row: &HostRow) -> u64 {
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
pub(super) fn flags(host: &HostFacts, cell: &Cell) -> Flags {
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
    if let Some(compat) = &g.max_cpu_compat {
        f.prop(
            "max-cpu-compat",
            compat,
            "cell max_cpu_compat: the guest runs in that generation's compatibility mode \
             (POWER8 and older offer no Radix, so the guest is HPT)",
        );
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
                         makes no hugepage checks (docs/rules.md#tcg); `-mem-path {dir}` would only fail"
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
                        "fix pr-caps: KVM PR cannot provide it; docs/rules.md R17, hw/ppc/spapr_caps.c",
                    );
                }
            }
            Fix::HtmOff => f.prop(
                "cap-htm",
                "off",
                "fix htm-off: machines up to pseries-2.11 turn transactional memory on (docs/rules.md#cap-defaults)",
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

/// The caps every KVM guest of an emulated `powernv9` host needs: QEMU's TCG
/// powernv9 does not offer the speculation-mitigation levels, so KVM there
/// refuses the pseries defaults.
pub const POWERNV9_GUEST_CAPS: [(&str, &str); 4] = [
    ("cap-cfpc", "broken"),
    ("cap-sbbc", "broken"),
    ("cap-ibs", "broken"),
    ("cap-ccf-assist", "off"),
];

/// Quirks of the host, not of the cell: added to every KVM guest of a
/// bare-metal host that qemu emulates (its powernv8 or powernv9, as the
/// probe there reads it from the device tree's model) unless the cell sets
/// the cap itself.
pub(super) fn host_profile(
    host: &HostFacts,
    cell: &Cell,
    props: &mut Vec<(String, String)>,
    additions: &mut Vec<Addition>,
) {
    let emulated_powernv =
        host.emulated_by_qemu() && host.platform == Some(crate::model::Platform::PowerNv);
    if !emulated_powernv || !cell.guest.accel.is_kvm() {
        return;
    }
    let profile = match host.power_generation {
        Some(8) => "powernv8",
        _ => "powernv9",
    };
    for (cap, value) in POWERNV9_GUEST_CAPS {
        if props.iter().any(|(k, _)| k == cap) {
            continue;
        }
        props.push((cap.to_string(), value.to_string()));
        additions.push(Addition {
            flag: format!("{cap}={value}"),
            why: format!(
                "host profile {}: TCG's powernv machines offer no speculation-mitigation levels, so KVM \
                 there refuses the defaults (`Requested safe cache capability level not supported by KVM`, \
                 docs/emulated-hosts.md#powernv-caps)",
                profile
            ),
        });
    }
}
