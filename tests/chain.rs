//! Chains of levels without booting: how host rows become emulated hosts,
//! what the rules see of an emulated host, the limits it has, and the init
//! that runs the inner cells. The real boots are in `real_boot.rs`.

mod common;

use std::path::Path;

use bootmatrix::chain;
use bootmatrix::model::{Accel, HostKind, Mmu, PageSize};
use bootmatrix::{matrix, rules};
use rstest::rstest;

fn void_compat() -> matrix::Matrix {
    matrix::load(&common::repo().join("matrices/void-compat.toml")).unwrap()
}

#[test]
fn emulation_turns_host_rows_into_emulated_hosts_and_keeps_names() {
    let m = void_compat();
    let emulated = chain::emulate(&m.cells, m.emulation.as_ref().expect("[emulation]")).unwrap();
    assert_eq!(emulated.len(), m.cells.len());
    for (before, after) in m.cells.iter().zip(&emulated) {
        assert_eq!(
            before.name, after.name,
            "names must not change (diff compares runs by name)"
        );
        if !before.guest.accel.is_kvm() {
            assert_eq!(after.host.kind, HostKind::Native);
            continue;
        }
        let want = if before.host.nested == Some(true) {
            HostKind::NestedPseries
        } else {
            before.host.emulated_kind.unwrap_or(HostKind::PowerNv9)
        };
        assert_eq!(after.host.kind, want, "{}", after.name);
        if let Some(k) = &before.host.emulated_kernel {
            assert_eq!(after.host.kernel.as_ref(), Some(k), "{}", after.name);
        }
        assert_eq!(
            after.host.kernel.as_ref().map(|k| k.page_size),
            before.host.page_size,
            "{}",
            after.name
        );
        assert_eq!(after.host.mmu, before.host.mmu, "{}", after.name);
    }
}

#[rstest]
// A Radix L1 of the nested scenarios loads kvm-hv (its L0 offers nesting).
#[case(HostKind::NestedPseries, Mmu::Radix, true, false)]
// An HPT L1 cannot load kvm-hv (docs/rules.md#linux-guest), and Debian's kernels have no PR.
#[case(HostKind::NestedPseries, Mmu::Hpt, false, false)]
// Bare metal loads kvm-hv in either MMU mode.
#[case(HostKind::PowerNv9, Mmu::Radix, true, false)]
#[case(HostKind::PowerNv9, Mmu::Hpt, true, false)]
fn the_rules_see_an_emulated_host_as_its_probe_would(
    #[case] kind: HostKind,
    #[case] mmu: Mmu,
    #[case] hv: bool,
    #[case] pr: bool,
) {
    let mut m = void_compat();
    let cell = m
        .cells
        .iter_mut()
        .find(|c| c.guest.accel == Accel::KvmHv)
        .unwrap();
    cell.host.kind = kind;
    cell.host.mmu = Some(mmu);
    let facts = chain::emulated_facts(&cell.host, 0);
    assert_eq!(facts.kvm.hv_loaded, hv);
    assert_eq!(facts.kvm.pr_loaded, pr);
    assert_eq!(
        facts.platform.as_ref().map(|p| p.as_str()),
        Some(if kind == HostKind::NestedPseries {
            "pSeries"
        } else {
            "PowerNV"
        })
    );
    assert!(facts.is_power());
    assert!(facts.hugetlbfs.is_empty());
    assert_eq!(
        chain::emulated_facts(&cell.host, 136).hugetlbfs[0].path,
        "/dev/hugepages"
    );
}

#[test]
fn every_kvm_guest_of_a_powernv9_host_gets_the_host_profile_caps_and_plan_says_why() {
    let m = void_compat();
    let cells = chain::emulate(&m.cells, m.emulation.as_ref().unwrap()).unwrap();
    let c = cells
        .iter()
        .find(|c| c.host.kind == HostKind::PowerNv9)
        .unwrap();
    let p = rules::predict(&chain::emulated_facts(&c.host, 0), c);
    for (cap, value) in rules::POWERNV9_GUEST_CAPS {
        assert!(
            p.machine_props
                .contains(&(cap.to_string(), value.to_string())),
            "{cap} in {:?}",
            p.machine_props
        );
        assert!(
            p.additions
                .iter()
                .any(|a| a.flag == format!("{cap}={value}")
                    && a.why.contains("host profile powernv9"))
        );
    }
    let nested = cells
        .iter()
        .find(|c| c.host.kind == HostKind::NestedPseries)
        .unwrap();
    let p = rules::predict(&chain::emulated_facts(&nested.host, 0), nested);
    assert!(
        !p.machine_props.iter().any(|(k, _)| k == "cap-cfpc"),
        "only powernv9 has that quirk"
    );
}

#[test]
fn emulated_host_limits_are_skips_with_the_reason() {
    let m = void_compat();
    let cells = chain::emulate(&m.cells, m.emulation.as_ref().unwrap()).unwrap();
    let probed = common::x86_host_with_qemu();
    let reason = |pred: &dyn Fn(&bootmatrix::model::Cell) -> bool| {
        let c = cells.iter().find(|c| pred(c)).expect("such a cell");
        chain::host_limits(c, &probed, m.emulation.as_ref()).map(|m| m.to_string())
    };
    // PR rows get the harness-built kernel; on a Debian host kernel they skip.
    assert_eq!(
        reason(&|c| c.guest.accel == Accel::KvmPr && c.host.mmu == Some(Mmu::Radix)),
        None
    );
    let mut on_debian = cells
        .iter()
        .find(|c| c.guest.accel == Accel::KvmPr)
        .unwrap()
        .clone();
    on_debian.host.kernel = m.kernels.get("debian-4k").cloned();
    let pr = chain::host_limits(&on_debian, &probed, m.emulation.as_ref())
        .unwrap()
        .to_string();
    assert!(pr.contains("no KVM-PR"), "{pr}");
    // Hugepage-backed guests run on the patched host kernels, and skip on
    // stock ones with the reason.
    let huge = |c: &bootmatrix::model::Cell, mmu: Mmu, page: PageSize| {
        c.host.kind == HostKind::PowerNv9
            && c.host.mmu == Some(mmu)
            && c.host.page_size == Some(page)
            && c.guest.accel == Accel::KvmHv
            && c.guest.fixes.contains(&bootmatrix::model::Fix::Hugepages)
            && c.guest
                .fixes
                .contains(&bootmatrix::model::Fix::HptMaxPageSize)
    };
    assert_eq!(reason(&|c| huge(c, Mmu::Radix, PageSize::K4)), None);
    // On a 4 KiB hash host they run too: they boot on 6.1, and on 6.12 they
    // are known failures (the matrix's marks), not limits of the host.
    let on = |c: &bootmatrix::model::Cell, kernel: &str| {
        c.host.kernel.as_ref().is_some_and(|k| k.name == kernel)
    };
    for kernel in ["host-4k-6.1", "host-4k-6.12"] {
        let c = cells
            .iter()
            .find(|c| huge(c, Mmu::Hpt, PageSize::K4) && on(c, kernel))
            .unwrap();
        assert_eq!(chain::host_limits(c, &probed, m.emulation.as_ref()), None);
        assert_eq!(
            c.known_failure.is_some(),
            kernel == "host-4k-6.12",
            "{}",
            c.name
        );
    }
    // A stock kernel on an emulated Radix host has no HugeTLB: a fact of
    // the host, decided by code.
    let mut stock = cells
        .iter()
        .find(|c| huge(c, Mmu::Radix, PageSize::K4))
        .unwrap()
        .clone();
    stock.host.kernel.as_mut().unwrap().emulated_hugepages = false;
    let stock = chain::host_limits(&stock, &probed, m.emulation.as_ref())
        .unwrap()
        .to_string();
    assert!(
        stock.contains("ibm,processor-radix-AP-encodings"),
        "{stock}"
    );
    // Measured limitations are the matrix's data: an entry skips the cells
    // it names with its reason, on emulated hosts only.
    let hanging = cells
        .iter()
        .find(|c| huge(c, Mmu::Hpt, PageSize::K4) && on(c, "host-4k-6.12"))
        .unwrap();
    let mut limited = m.emulation.clone().unwrap();
    limited.limitations.push(matrix::Limitation {
        cells: vec!["hpt-4k-host/kvm-hv/*/host-4k-6.12".into()],
        reason: "hangs after SLOF starts".into(),
    });
    let said = chain::host_limits(hanging, &probed, Some(&limited))
        .unwrap()
        .to_string();
    assert!(said.contains("hangs after SLOF starts"), "{said}");
    let native = m.cells.iter().find(|c| c.name == hanging.name).unwrap();
    assert_eq!(chain::host_limits(native, &probed, Some(&limited)), None);
    assert_eq!(
        reason(&|c| c.host.kind == HostKind::PowerNv9
            && c.guest.fixes.is_empty()
            && c.guest.accel == Accel::KvmHv),
        None
    );
}

#[test]
fn the_host_init_frames_each_inner_run_and_relays_its_stderr() {
    let runs = vec![
        chain::InnerRun {
            argv: vec![
                "/usr/bin/qemu-system-ppc64".into(),
                "-append".into(),
                "console=hvc0 quiet".into(),
            ],
            timeout_secs: 90,
        },
        chain::InnerRun {
            argv: vec!["/usr/bin/true".into()],
            timeout_secs: 5,
        },
    ];
    let init = chain::l1_init(
        &["kvm.ko".into(), "kvm-hv.ko".into()],
        &runs,
        Some(16 * 1024),
    );
    let kvm = init.find("insmod /lib/modules/kvm.ko").unwrap();
    let hv = init.find("insmod /lib/modules/kvm-hv.ko").unwrap();
    assert!(kvm < hv, "kvm.ko loads first");
    assert!(init.contains("mount -t hugetlbfs -o pagesize=16384K hugetlbfs /dev/hugepages"));
    assert!(
        init.contains("echo BOOTMATRIX-L2-BEGIN 0") && init.contains("echo BOOTMATRIX-L2-BEGIN 1")
    );
    assert!(
        init.contains("timeout -s KILL 90 /usr/bin/qemu-system-ppc64 -append 'console=hvc0 quiet'"),
        "{init}"
    );
    assert!(init.contains("sed 's/^/BM-L2-ERR: /'"));
    assert!(init.find(chain::L1_READY).unwrap() < init.find("BOOTMATRIX-L2-BEGIN 0").unwrap());
    assert!(init.trim_end().ends_with("poweroff -f"));
}

/// Radix hosts have 2 MiB hugepages, hash hosts 16 MiB: the L1 reserves
/// and mounts the size its MMU has, and the rules see that size.
#[rstest]
#[case(Mmu::Radix, "2M", 2048)]
#[case(Mmu::Hpt, "16M", 16384)]
fn an_emulated_host_reserves_the_hugepages_its_mmu_has(
    #[case] mmu: Mmu,
    #[case] size: &str,
    #[case] kib: u64,
) {
    let m = void_compat();
    let cells = chain::emulate(&m.cells, m.emulation.as_ref().unwrap()).unwrap();
    let c = cells
        .iter()
        .find(|c| {
            c.host.kind == HostKind::PowerNv9
                && c.host.mmu == Some(mmu)
                && c.guest.fixes.contains(&bootmatrix::model::Fix::Hugepages)
        })
        .unwrap();
    let pages = chain::session_hugepages(c, &cells);
    assert!(
        pages * kib >= 2048 * 1024,
        "{pages} pages of {kib} KiB hold a 2048 MiB guest"
    );
    let cmd = chain::host_command(
        "qemu-system-ppc64",
        &c.host,
        chain::Level0::Tcg,
        Path::new("k"),
        Path::new("i"),
        pages,
    )
    .argv()
    .join(" ");
    assert!(
        cmd.contains(&format!(
            "default_hugepagesz={size} hugepagesz={size} hugepages={pages}"
        )),
        "{cmd}"
    );
    assert_eq!(
        chain::emulated_facts(&c.host, pages).hugetlbfs[0].page_size_kib,
        Some(kib)
    );
    let init = chain::l1_init(&[], &[], Some(chain::l1_hugepage_kib(mmu)));
    assert!(init.contains(&format!("pagesize={kib}K")), "{init}");
}

#[test]
fn cells_of_one_emulated_host_share_one_boot() {
    let m = void_compat();
    let cells = chain::emulate(&m.cells, m.emulation.as_ref().unwrap()).unwrap();
    let mut keys: Vec<String> = cells
        .iter()
        .filter(|c| c.host.kind.is_emulated())
        .map(|c| chain::session_key(&c.host).to_string())
        .collect();
    keys.sort();
    keys.dedup();
    // Four bare-metal rows (Radix/HPT x 4K/64K) on the harness's host
    // kernels, the 4 KiB HPT row once more on 6.1, one more for the
    // pseries-2.11 rows (qemu 7.2 inside), and the nested L1s; the 4 KiB HPT
    // row on powernv8, with either kernel.
    assert_eq!(
        keys.iter().filter(|k| k.starts_with("powernv9-")).count(),
        6,
        "{keys:?}"
    );
    assert_eq!(
        keys.iter()
            .filter(|k| k.starts_with("powernv8-hpt-host-4k-6.1"))
            .count(),
        2,
        "{keys:?}"
    );
    assert!(
        keys.iter().any(|k| k.starts_with("powernv9-hpt-host-4k-")),
        "{keys:?}"
    );
    let old: Vec<&bootmatrix::model::Cell> = cells
        .iter()
        .filter(|c| {
            chain::session_key(&c.host)
                .to_string()
                .ends_with("-qemu7.2")
        })
        .collect();
    assert!(!old.is_empty());
    for c in &cells {
        let old_machine = c.guest.machine.pseries_version() == Some((2, 11));
        assert_eq!(
            old.iter().any(|o| o.name == c.name),
            old_machine && c.host.kind.is_emulated(),
            "{}",
            c.name
        );
    }
    assert!(
        keys.iter().any(|k| k.starts_with("nested-pseries-radix-")),
        "{keys:?}"
    );
}

#[test]
fn hosts_auto_emulates_only_without_power_kvm() {
    let m = void_compat();
    let x86 = common::x86_host_with_qemu();
    assert!(bootmatrix::plan::HostsMode::Auto.emulate(&m, &x86));
    let power9 = bootmatrix::host::HostFacts::ready_power9(Mmu::Radix, PageSize::K4);
    assert!(!bootmatrix::plan::HostsMode::Auto.emulate(&m, &power9));
    assert!(bootmatrix::plan::HostsMode::Emulated.emulate(&m, &power9));
    assert!(!bootmatrix::plan::HostsMode::Native.emulate(&m, &x86));
    let plain = matrix::parse(
        Path::new("m.toml"),
        &format!("{}\n[[cells]]\nkernel = \"debian-64k\"\n", common::HEADER),
    )
    .unwrap();
    assert!(
        !bootmatrix::plan::HostsMode::Auto.emulate(&plain, &x86),
        "no [emulation] table, nothing to emulate"
    );
}

#[test]
fn emulation_lengthens_default_timeouts_and_keeps_the_matrix_ones() {
    let m = matrix::parse(
        Path::new("m.toml"),
        &format!(
            "{}\n[emulation]\nkernel_64k = \"debian-64k\"\n[[cells]]\nname = \"default\"\nkernel = \"debian-64k\"\naccel = \"kvm-hv\"\nhost_mmu = \"radix\"\nhost_page_size = \"64k\"\n[[cells]]\nname = \"set\"\nkernel = \"debian-64k\"\naccel = \"kvm-hv\"\nhost_mmu = \"radix\"\nhost_page_size = \"64k\"\ntimeout = 45\n",
            common::HEADER.replace("timeout = 120\n", "")
        ),
    )
    .unwrap();
    assert_eq!(m.cells[0].timeout.as_secs(), 60, "native KVM default");
    let e = chain::emulate(&m.cells, m.emulation.as_ref().unwrap()).unwrap();
    assert_eq!(e[0].timeout.as_secs(), 300, "KVM inside an emulated host");
    assert_eq!(e[1].timeout.as_secs(), 45, "the matrix's own timeout stays");
}

#[test]
fn a_powernv8_host_is_a_power8_in_hash_mode() {
    let body = "[kernels.host-4k]\nimage = \"kernel-host-4k\"\npage_size = \"4k\"\nemulated_hugepages = true\n\
                [[cells]]\nname = \"{host}/hpt-4k-host/{accel}/hpt-guest/{page_size}/{fixes}\"\nhost = [\"powernv8\", \"powernv9\"]\n\
                host_kernel = \"host-4k\"\nhost_mmu = \"hpt\"\naccel = \"kvm-hv\"\nkernel = \"debian-64k\"\nmmu = \"hpt\"\n\
                fixes = [[\"hpt-max-page-size\", \"hugepages\"]]\nmemory = 2048\n";
    let m = matrix::parse(Path::new("m.toml"), &format!("{}\n{body}", common::HEADER)).unwrap();
    assert_eq!(m.cells.len(), 2);
    let p8 = m
        .cells
        .iter()
        .find(|c| c.host.kind == HostKind::PowerNv8)
        .unwrap();
    assert_eq!(p8.host.mmu, Some(Mmu::Hpt));
    let pages = chain::session_hugepages(p8, &m.cells);
    assert!(pages > 0, "a hash host has 16M hugepages");
    let cmd = chain::host_command(
        "qemu-system-ppc64",
        &p8.host,
        chain::Level0::Tcg,
        Path::new("k"),
        Path::new("i"),
        pages,
    )
    .argv()
    .join(" ");
    assert!(cmd.contains("-machine powernv8 -cpu POWER8"), "{cmd}");
    assert!(
        !cmd.contains("disable_radix"),
        "POWER8 needs no disable_radix: {cmd}"
    );
    assert!(cmd.contains("hugepagesz=16M"), "{cmd}");
    let facts = chain::emulated_facts(&p8.host, pages);
    assert_eq!(facts.power_generation, Some(8));
    assert_eq!(facts.mmu, Some(Mmu::Hpt));
    // Both hosts get the powernv profile caps, and plan shows both.
    for c in &m.cells {
        let p = rules::predict(&chain::emulated_facts(&c.host, pages), c);
        assert!(
            p.machine_props
                .iter()
                .any(|(k, v)| k == "cap-cfpc" && v == "broken"),
            "{}: {:?}",
            c.name,
            p.machine_props
        );
    }
    // POWER8 has no Radix.
    let radix = body.replace("host_mmu = \"hpt\"", "host_mmu = \"radix\"");
    let err =
        matrix::parse(Path::new("m.toml"), &format!("{}\n{radix}", common::HEADER)).unwrap_err();
    assert!(
        err.to_string()
            .contains("key `host_mmu`: a powernv8 host is POWER8"),
        "{err}"
    );
}
