//! The host probe's parsers on fixture text, the remediation it gives, and
//! one live probe of this machine.

mod support_rules;

use bootmatrix::host::{self, DevKvm, HostFacts, HugetlbfsMount, KvmFlavour, KvmRefusal};
use bootmatrix::model::{Mmu, PageSize, Platform};
use support_rules::{l1_guest, power9, x86};

/// /proc/cpuinfo of a bare-metal POWER9 host in Radix mode (two threads
/// shown; the trailer appears once).
const POWER9_RADIX: &str = "\
processor\t: 0
cpu\t\t: POWER9 (raw), altivec supported
clock\t\t: 3800.000000MHz
revision\t: 2.3 (pvr 004e 1203)

processor\t: 1
cpu\t\t: POWER9 (raw), altivec supported
clock\t\t: 3800.000000MHz
revision\t: 2.3 (pvr 004e 1203)

timebase\t: 512000000
platform\t: PowerNV
model\t\t: 9006-22P
machine\t\t: PowerNV 9006-22P
firmware\t: OPAL
MMU\t\t: Radix
";

/// /proc/cpuinfo of a POWER8 pSeries guest (an L1) in HPT mode.
const POWER8_GUEST_HASH: &str = "\
processor\t: 0
cpu\t\t: POWER8E (raw), altivec supported
clock\t\t: 3425.000000MHz
revision\t: 2.1 (pvr 004b 0201)

timebase\t: 512000000
platform\t: pSeries
model\t\t: IBM pSeries (emulated by qemu)
machine\t\t: CHRP IBM pSeries (emulated by qemu)
MMU\t\t: Hash
";

/// /proc/cpuinfo of an x86-64 machine (abridged).
const X86: &str = "\
processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC 7B13
flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic
";

#[test]
fn cpuinfo_of_a_power9_radix_host() {
    let c = host::parse_cpuinfo(POWER9_RADIX);
    assert_eq!(c.cpu.as_deref(), Some("POWER9 (raw), altivec supported"));
    assert_eq!(c.power_generation, Some(9));
    assert_eq!(c.platform, Some(Platform::PowerNv));
    assert_eq!(c.mmu, Some(Mmu::Radix));
}

#[test]
fn cpuinfo_of_a_power8_guest_in_hash_mode() {
    let c = host::parse_cpuinfo(POWER8_GUEST_HASH);
    assert_eq!(c.power_generation, Some(8));
    assert_eq!(c.platform, Some(Platform::PSeries));
    assert_eq!(c.mmu, Some(Mmu::Hpt));
}

#[test]
fn cpuinfo_of_x86_has_a_model_and_no_power_facts() {
    let c = host::parse_cpuinfo(X86);
    assert_eq!(c.cpu.as_deref(), Some("AMD EPYC 7B13"));
    assert_eq!(c.power_generation, None);
    assert_eq!(c.platform, None);
    assert_eq!(c.mmu, None);
}

#[test]
fn power_generation_from_the_cpu_line() {
    assert_eq!(
        bootmatrix::model::power_generation("POWER10 (architected), altivec supported"),
        Some(10)
    );
    assert_eq!(
        bootmatrix::model::power_generation("POWER8NVL (raw)"),
        Some(8)
    );
    assert_eq!(bootmatrix::model::power_generation("PPC970MP"), None);
}

#[test]
fn meminfo_hugepage_lines() {
    let text = "MemTotal:       65536000 kB\nHugePages_Total:    1100\nHugePages_Free:     1024\n\
                HugePages_Rsvd:        0\nHugepagesize:       2048 kB\nHugetlb:         2252800 kB\n";
    let m = host::parse_meminfo(text);
    assert_eq!(m.hugepage_size_kib, Some(2048));
    assert_eq!(m.hugepages_total, 1100);
    assert_eq!(m.hugepages_free, 1024);
}

#[test]
fn mounts_keep_hugetlbfs_only_with_their_page_size() {
    let text = "\
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
hugetlbfs /dev/hugepages hugetlbfs rw,relatime,gid=78,mode=1770,pagesize=16M 0 0
tmpfs /run tmpfs rw,nosuid,nodev,size=1632932k,mode=755 0 0
none /mnt/huge\\040pages hugetlbfs rw,relatime,pagesize=2M 0 0
none /mnt/default hugetlbfs rw,relatime 0 0
";
    assert_eq!(
        host::parse_hugetlbfs_mounts(text),
        vec![
            ("/dev/hugepages".to_string(), Some(16384)),
            ("/mnt/huge pages".to_string(), Some(2048)),
            ("/mnt/default".to_string(), None),
        ]
    );
}

#[test]
fn qemu_version_machines_and_accels() {
    let v = "QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)\nCopyright (c) 2003-2025 ...\n";
    assert_eq!(host::parse_qemu_version(v), Some((10, 0, 2)));
    assert_eq!(
        host::parse_qemu_version("QEMU emulator version 7.2.0\n"),
        Some((7, 2, 0))
    );
    assert_eq!(host::parse_qemu_version("bash: qemu: not found"), None);
    let machines = "Supported machines are:\n\
        pseries              pSeries Logical Partition (PAPR compliant) (alias of pseries-10.0)\n\
        pseries-10.0         pSeries Logical Partition (PAPR compliant) (default)\n\
        pseries-3.0          pSeries Logical Partition (PAPR compliant) (deprecated)\n\
        powernv9             IBM PowerNV (Non-Virtualized) POWER9\n";
    assert_eq!(
        host::parse_machine_help(machines),
        ["pseries", "pseries-10.0", "pseries-3.0", "powernv9"]
    );
    assert_eq!(
        host::parse_accel_help("Accelerators supported in QEMU binary:\ntcg\nkvm\n"),
        ["tcg", "kvm"]
    );
}

/// The remediation entries' `missing` texts.
fn missing(facts: &HostFacts) -> Vec<String> {
    host::remediation(facts)
        .into_iter()
        .map(|r| r.missing)
        .collect()
}

#[test]
fn x86_is_told_to_use_a_power_runner_and_nothing_else() {
    let r = host::remediation(&x86());
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].missing.contains("POWER KVM"), "{r:?}");
    assert!(r[0].fix.contains("POWER9"));
    let text = host::render_text(&x86(), &r);
    assert!(text.contains("no POWER KVM on x86_64"), "{text}");
}

#[test]
fn a_ready_power9_needs_nothing_for_its_rows() {
    // Radix: kvm_pr cannot load, so its remediation is the disable_radix reboot.
    let r = host::remediation(&power9(Mmu::Radix, PageSize::K4));
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].fix.contains("disable_radix"));
    assert!(host::remediation(&power9(Mmu::Hpt, PageSize::K4)).is_empty());
}

#[test]
fn each_missing_piece_gets_the_void_remedy() {
    let mut h = power9(Mmu::Hpt, PageSize::K4);
    h.kvm = bootmatrix::host::KvmFacts {
        dev_kvm: DevKvm::NoAccess,
        hv_loaded: false,
        pr_loaded: false,
        hv_refused: Some(KvmRefusal::create_vm(libc::EINVAL)),
        pr_refused: Some(KvmRefusal::create_vm(libc::EINVAL)),
        htm: None,
        pr_mmu_notifiers: None,
    };
    h.hugepages_total = 0;
    h.hugepages_free = 0;
    h.hugepage_size_kib = Some(2048);
    h.hugetlbfs.clear();
    let r = host::remediation(&h);
    let fixes: Vec<&str> = r.iter().map(|r| r.fix.as_str()).collect();
    let all = fixes.join("\n");
    for want in [
        "`modprobe kvm_hv`",
        "`modprobe kvm_pr`",
        "usermod -aG kvm",
        "log out and in",
        // void: 2 GiB of 2 MiB pages "will be 1024 hugepages, plus some extra, let's say 1100".
        "sysctl vm.nr_hugepages=1100",
        "mount -t hugetlbfs hugetlbfs /dev/hugepages",
        "chown root:kvm /dev/hugepages",
        "chmod 1770 /dev/hugepages",
        "hugetlbfs /dev/hugepages hugetlbfs mode=01770,gid=<gid of kvm> 0 0",
    ] {
        assert!(all.contains(want), "missing {want:?} in\n{all}");
    }
}

#[test]
fn read_only_hugetlbfs_is_a_permission_problem() {
    let mut h = power9(Mmu::Hpt, PageSize::K4);
    h.hugetlbfs = vec![HugetlbfsMount {
        path: "/dev/hugepages".into(),
        page_size_kib: None,
        writable: false,
    }];
    assert!(missing(&h)
        .iter()
        .any(|m| m.contains("write access to hugetlbfs (/dev/hugepages)")));
}

#[test]
fn an_hpt_l1_cannot_load_kvm_hv() {
    // docs/rules.md#linux-guest: kvm_hv loads in a guest only if Radix.
    let r = host::remediation(&l1_guest(Mmu::Hpt, PageSize::K4));
    assert!(
        r.iter()
            .any(|r| r.fix.contains("kvm_hv cannot load in an HPT guest")),
        "{r:?}"
    );
}

#[test]
fn missing_qemu_is_reported_first() {
    let mut h = x86();
    h.qemu = None;
    let r = host::remediation(&h);
    assert!(r[0].missing.starts_with("qemu-system-ppc64"));
    assert!(r[0].fix.contains("apt-get install"));
    assert!(host::render_text(&h, &r).contains("qemu:       not found"));
}

#[test]
fn hugepage_reservation_follows_the_void_example() {
    assert_eq!(host::hugepages_to_reserve(2048), 1100);
    assert_eq!(host::hugepages_to_reserve(16384), 128 + 9);
}

#[test]
fn json_has_facts_and_remediation() {
    let h = x86();
    let json: serde_json::Value =
        serde_json::from_str(&host::render_json(&h, &host::remediation(&h))).unwrap();
    assert_eq!(json["facts"]["arch"], "x86_64");
    assert_eq!(json["facts"]["kvm"]["dev_kvm"], "usable");
    assert!(json["remediation"][0]["fix"]
        .as_str()
        .unwrap()
        .contains("POWER"));
}

#[test]
fn render_text_on_power_shows_mmu_platform_and_kvm() {
    let h = power9(Mmu::Hpt, PageSize::K64);
    let t = host::render_text(&h, &[]);
    for want in [
        "MMU:        Hash",
        "platform:   PowerNV",
        "page size:  64 KiB",
        "KVM-HV:   usable",
        "Every row can run here.",
    ] {
        assert!(t.contains(want), "missing {want:?} in\n{t}");
    }
}

#[test]
fn probing_this_machine_is_consistent() {
    // Whatever this machine is, the probe must not fail and must agree with
    // itself; on a non-POWER machine it reports no POWER KVM.
    let facts = host::probe("qemu-system-ppc64");
    assert!(!facts.arch.is_empty());
    assert!(
        facts.page_size.is_some(),
        "the base page size is 4 KiB or 64 KiB on supported hosts"
    );
    if !facts.is_power() {
        assert_eq!(facts.mmu, None);
        assert!(missing(&facts).iter().any(|m| m.contains("POWER KVM")));
    }
    if let Some(q) = &facts.qemu {
        assert!(q.version.0 >= 2);
        assert!(
            q.machines.iter().any(|m| m.starts_with("pseries")),
            "{:?}",
            q.machines
        );
    }
}

#[test]
fn errno_names_and_texts() {
    assert_eq!(host::errno_text(libc::EINVAL), "EINVAL (Invalid argument)");
    assert_eq!(host::errno_text(libc::EACCES), "EACCES (Permission denied)");
    assert_eq!(host::errno_text(99_999), "errno 99999");
}

#[test]
fn a_host_that_is_not_power_is_never_asked_for_a_power_vm() {
    let refusal = host::kvm_flavour_refusal(false, || panic!("asked KVM on a non-POWER host"));
    assert_eq!(refusal, Some(KvmRefusal::NotPower));
}

#[test]
fn a_power_host_reports_what_kvm_answered() {
    assert_eq!(host::kvm_flavour_refusal(true, || Ok(())), None);
    let refused = host::kvm_flavour_refusal(true, || Err(KvmRefusal::create_vm(libc::EINVAL)));
    assert_eq!(
        refused,
        Some(KvmRefusal::CreateVm {
            errno: libc::EINVAL,
            error: "EINVAL (Invalid argument)".into()
        })
    );
    let closed = host::kvm_flavour_refusal(true, || Err(KvmRefusal::open(libc::ENOENT)));
    assert_eq!(
        closed.unwrap().describe(KvmFlavour::Hv),
        "/dev/kvm does not open: ENOENT (No such file or directory)"
    );
}

/// A bare-metal HPT POWER9 whose kernel has KVM-HV but refuses KVM-PR.
fn power9_without_pr() -> HostFacts {
    let mut h = power9(Mmu::Hpt, PageSize::K4);
    h.kvm.pr_loaded = false;
    h.kvm.pr_refused = Some(KvmRefusal::create_vm(libc::EINVAL));
    h
}

#[test]
fn the_text_shows_each_flavour_and_the_kernels_refusal() {
    let t = host::render_text(&power9_without_pr(), &[]);
    for want in [
        "KVM:        /dev/kvm usable\n",
        "  KVM-HV:   usable\n",
        "  KVM-PR:   not usable: KVM_CREATE_VM with type 2 refused: EINVAL (Invalid argument)\n",
    ] {
        assert!(t.contains(want), "missing {want:?} in\n{t}");
    }
}

#[test]
fn the_json_keeps_the_errno_and_reads_back() {
    let h = power9_without_pr();
    let text = host::render_json(&h, &[]);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let kvm = &json["facts"]["kvm"];
    assert_eq!(kvm["hv_loaded"], true);
    assert_eq!(kvm["hv_refused"], serde_json::Value::Null);
    assert_eq!(kvm["pr_loaded"], false);
    assert_eq!(kvm["pr_refused"]["reason"], "create-vm");
    assert_eq!(kvm["pr_refused"]["errno"], libc::EINVAL);
    assert_eq!(kvm["pr_refused"]["error"], "EINVAL (Invalid argument)");
    let back: HostFacts = serde_json::from_value(json["facts"].clone()).unwrap();
    assert_eq!(back, h);
}

#[test]
fn facts_recorded_before_the_kvm_question_still_read() {
    // results.json of earlier runs has no refusals.
    let json = r#"{"dev_kvm": "usable", "hv_loaded": true, "pr_loaded": false}"#;
    let kvm: host::KvmFacts = serde_json::from_str(json).unwrap();
    assert!(kvm.hv_loaded && !kvm.pr_loaded);
    assert_eq!((kvm.hv_refused, kvm.pr_refused), (None, None));
}

#[test]
fn the_live_probe_asks_kvm_only_on_power() {
    let facts = host::probe("qemu-system-ppc64");
    let kvm = &facts.kvm;
    if facts.is_power() {
        // Usable exactly when KVM created the VM.
        assert_eq!(kvm.hv_loaded, kvm.hv_refused.is_none(), "{kvm:?}");
        assert_eq!(kvm.pr_loaded, kvm.pr_refused.is_none(), "{kvm:?}");
    } else {
        assert!(!kvm.hv_loaded && !kvm.pr_loaded, "{kvm:?}");
        assert_eq!(kvm.hv_refused, Some(KvmRefusal::NotPower));
        assert_eq!(kvm.pr_refused, Some(KvmRefusal::NotPower));
    }
}
