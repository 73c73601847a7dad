//! Chains of levels without booting: how host rows become emulated hosts,
//! what the outside expects of an emulated host (and how a probe inside is
//! checked against it), the limits of placing cells there, and the init
//! that starts the run inside. The real boots are in `real_boot.rs`.

mod common;

use std::path::Path;

use bootmatrix::chain;
use bootmatrix::model::{Accel, HostKind, Mmu, PageSize};
use bootmatrix::qemu::BootFiles;
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
fn an_emulated_host_is_expected_as_it_is_configured(
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
    let facts = chain::expected_host(&cell.host, 0).facts();
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
        chain::expected_host(&cell.host, 136).facts().hugetlbfs[0].path,
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
    let p = rules::predict(&chain::expected_host(&c.host, 0).facts(), c);
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
    let p = rules::predict(&chain::expected_host(&nested.host, 0).facts(), nested);
    assert!(
        !p.machine_props.iter().any(|(k, _)| k == "cap-cfpc"),
        "only powernv9 has that quirk"
    );
}

#[test]
fn a_probe_inside_is_checked_against_what_the_host_was_booted_as() {
    let m = void_compat();
    let cells = chain::emulate(&m.cells, m.emulation.as_ref().unwrap()).unwrap();
    let c = cells
        .iter()
        .find(|c| c.host.kind == HostKind::PowerNv9 && c.host.mmu == Some(Mmu::Hpt))
        .unwrap();
    let expected = chain::expected_host(&c.host, 130);
    let mut probed = expected.facts();
    assert!(expected.disagreements(&probed).is_empty());
    // A host kernel that ignored `disable_radix`, reserved fewer hugepages
    // and lost KVM-HV: each difference is named with both values.
    probed.mmu = Some(Mmu::Radix);
    probed.hugepages_total = 12;
    probed.kvm.hv_loaded = false;
    let wrong = expected.disagreements(&probed);
    assert_eq!(wrong.len(), 3, "{wrong:?}");
    assert!(
        wrong.contains(&"MMU: expected Hash, probed Radix".to_string())
            || wrong[0].starts_with("MMU: expected"),
        "{wrong:?}"
    );
    assert!(
        wrong
            .iter()
            .any(|w| w == "hugepages: expected 130 of 16384 KiB, probed 12 of 16384 KiB"),
        "{wrong:?}"
    );
    assert!(
        wrong
            .iter()
            .any(|w| w == "KVM-HV: expected usable, probed not usable"),
        "{wrong:?}"
    );
}

#[test]
fn placing_a_cell_on_an_emulated_host_is_limited_by_the_matrix_and_the_machine_only() {
    let m = void_compat();
    let cells = chain::emulate(&m.cells, m.emulation.as_ref().unwrap()).unwrap();
    let probed = common::x86_host_with_qemu();
    let reason = |pred: &dyn Fn(&bootmatrix::model::Cell) -> bool| {
        let c = cells.iter().find(|c| pred(c)).expect("such a cell");
        chain::placement_limit(c, &probed, m.emulation.as_ref()).map(|m| m.to_string())
    };
    // What the host can do (KVM-PR, HugeTLB) is for the run inside to
    // probe: a PR cell on a host kernel without PR is placed all the same.
    let mut on_debian = cells
        .iter()
        .find(|c| c.guest.accel == Accel::KvmPr)
        .unwrap()
        .clone();
    on_debian.host.kernel = m.kernels.get("debian-4k").cloned();
    assert_eq!(
        chain::placement_limit(&on_debian, &probed, m.emulation.as_ref()),
        None
    );
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
    // On a 4 KiB hash host they are placed too, on 6.1 and on 6.12 (the
    // harness's build, with the fixes for 6.12): plain cells, not limits
    // and not known failures.
    let on = |c: &bootmatrix::model::Cell, kernel: &str| {
        c.host.kernel.as_ref().is_some_and(|k| k.name == kernel)
    };
    for kernel in ["host-4k-6.1", "host-4k-6.12"] {
        let c = cells
            .iter()
            .find(|c| huge(c, Mmu::Hpt, PageSize::K4) && on(c, kernel))
            .unwrap();
        assert_eq!(
            chain::placement_limit(c, &probed, m.emulation.as_ref()),
            None
        );
        assert_eq!(c.known_failure, None, "{}", c.name);
    }
    // Measured limitations are the matrix's data: an entry skips the cells
    // it names with its reason, on emulated hosts only.
    let limited_cell = cells
        .iter()
        .find(|c| huge(c, Mmu::Hpt, PageSize::K4) && on(c, "host-4k-6.12"))
        .unwrap();
    let mut limited = m.emulation.clone().unwrap();
    limited.limitations.push(matrix::Limitation {
        cells: vec!["hpt-4k-host/kvm-hv/*/host-4k-6.12".into()],
        reason: "hangs after SLOF starts".into(),
    });
    let said = chain::placement_limit(limited_cell, &probed, Some(&limited))
        .unwrap()
        .to_string();
    assert!(said.contains("hangs after SLOF starts"), "{said}");
    // A guest larger than the host's RAM allows cannot be placed.
    let mut big = cells
        .iter()
        .find(|c| c.host.kind == HostKind::PowerNv9)
        .unwrap()
        .clone();
    big.guest.memory_mib = 8192;
    let why = chain::placement_limit(&big, &probed, m.emulation.as_ref())
        .unwrap()
        .to_string();
    assert!(why.contains("8192"), "{why}");
    let native = m
        .cells
        .iter()
        .find(|c| c.name == limited_cell.name)
        .unwrap();
    assert_eq!(
        chain::placement_limit(native, &probed, Some(&limited)),
        None
    );
}

#[test]
fn the_host_init_only_mounts_loads_kvm_and_starts_the_run_inside() {
    let run: Vec<String> = [
        chain::INNER_BOOTMATRIX,
        "run",
        "/bootmatrix/matrix.toml",
        "--hosts",
        "native",
        "--filter",
        "=radix-64k-host/kvm-hv/radix-guest/64k",
    ]
    .map(str::to_string)
    .to_vec();
    let init = chain::l1_init(
        &["kvm.ko".into(), "kvm-hv.ko".into()],
        &run,
        Some(16 * 1024),
    );
    let kvm = init.find("insmod /lib/modules/kvm.ko").unwrap();
    let hv = init.find("insmod /lib/modules/kvm-hv.ko").unwrap();
    assert!(kvm < hv, "kvm.ko loads first");
    assert!(init.contains("mount -t hugetlbfs -o pagesize=16384K hugetlbfs /dev/hugepages"));
    // The runner spawns qemu under a pseudo-terminal.
    assert!(init.contains("mount -t devpts devpts /dev/pts"));
    let started = init
        .find("/bin/bootmatrix run /bootmatrix/matrix.toml --hosts native --filter =radix-64k-host/kvm-hv/radix-guest/64k")
        .unwrap_or_else(|| panic!("{init}"));
    assert!(init.find(chain::L1_READY).unwrap() < started);
    assert!(started < init.find(chain::L1_DONE).unwrap());
    assert!(init.trim_end().ends_with("poweroff -f"));
    // No qemu command of its own: the run inside decides what to boot.
    assert!(!init.contains("qemu-system-ppc64"), "{init}");
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
        &BootFiles {
            kernel: "k".into(),
            initrd: "i".into(),
            nvram: "n".into(),
        },
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
        chain::expected_host(&c.host, pages).facts().hugetlbfs[0].page_size_kib,
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
        &BootFiles {
            kernel: "k".into(),
            initrd: "i".into(),
            nvram: "n".into(),
        },
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
    let facts = chain::expected_host(&p8.host, pages).facts();
    assert_eq!(facts.power_generation, Some(8));
    assert_eq!(facts.mmu, Some(Mmu::Hpt));
    // Both hosts get the powernv profile caps, and plan shows both.
    for c in &m.cells {
        let p = rules::predict(&chain::expected_host(&c.host, pages).facts(), c);
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

#[rstest]
#[case::nested_l1_under_tcg(HostKind::NestedPseries, chain::Level0::Tcg, true)]
#[case::nested_l1_under_kvm(HostKind::NestedPseries, chain::Level0::Kvm, false)]
#[case::powernv9(HostKind::PowerNv9, chain::Level0::Tcg, false)]
fn a_pseries_l1_under_tcg_starts_under_vof_with_the_formatted_nvram(
    #[case] kind: HostKind,
    #[case] level0: chain::Level0,
    #[case] vof: bool,
) {
    let m = void_compat();
    let cells = chain::emulate(&m.cells, m.emulation.as_ref().unwrap()).unwrap();
    let c = cells.iter().find(|c| c.host.kind == kind).unwrap();
    let files = BootFiles {
        kernel: "k".into(),
        initrd: "i".into(),
        nvram: "/p/nvram.bin".into(),
    };
    let argv = chain::host_command("qemu-system-ppc64", &c.host, level0, &files, 0).argv();
    let machine = &argv[argv.iter().position(|a| a == "-machine").unwrap() + 1];
    assert_eq!(machine.contains("x-vof=on"), vof, "{machine}");
    let drive = argv
        .iter()
        .position(|a| a == "-drive")
        .map(|i| argv[i + 1].as_str());
    if vof {
        assert_eq!(
            drive,
            Some("if=none,id=nvram,format=raw,snapshot=on,file=/p/nvram.bin")
        );
    } else {
        assert_eq!(drive, None, "{argv:?}");
    }
}
