//! Matrix files: expansion of axes into named cells, defaults, and the
//! error a user gets for each kind of mistake (file, line, key; exit 2).

mod common;

use std::path::Path;

use bootmatrix::matrix;
use bootmatrix::model::{Accel, Expectation, Fix, Mmu, PageSize};
use rstest::rstest;

fn parse(body: &str) -> Result<matrix::Matrix, bootmatrix::Error> {
    matrix::parse(Path::new("m.toml"), &format!("{}\n{body}", common::HEADER))
}

fn names(body: &str) -> Vec<String> {
    parse(body)
        .unwrap()
        .cells
        .into_iter()
        .map(|c| c.name)
        .collect()
}

#[rstest]
#[case::one_axis(r#"[[cells]]
kernel = "debian-64k"
mmu = ["radix", "hpt"]"#, &["tcg/radix-guest/64k", "tcg/hpt-guest/64k"])]
#[case::two_axes_rightmost_fastest(r#"[[cells]]
name = "{accel}/{mmu}"
kernel = "debian-64k"
accel = ["tcg", "kvm-hv"]
mmu = ["radix", "hpt"]"#, &["tcg/radix", "tcg/hpt", "kvm-hv/radix", "kvm-hv/hpt"])]
#[case::fix_sets_are_an_axis(r#"[[cells]]
name = "{mmu}/{fixes}"
kernel = "debian-64k"
mmu = "hpt"
fixes = [[], ["hpt-max-page-size", "hugepages"]]"#, &["hpt/no-fix", "hpt/hpt-max-page-size+hugepages"])]
#[case::a_plain_fix_list_is_one_set(r#"[[cells]]
name = "{fixes}"
kernel = "debian-64k"
fixes = ["hpt-max-page-size", "hugepages"]"#, &["hpt-max-page-size+hugepages"])]
#[case::host_rows_expand_too(r#"[[cells]]
name = "{host_mmu}-{host_page_size}/{mmu}"
kernel = "debian-64k"
host_mmu = ["radix", "hpt"]
host_page_size = ["4k", "64k"]
mmu = "hpt""#, &["radix-4k/hpt", "radix-64k/hpt", "hpt-4k/hpt", "hpt-64k/hpt"])]
#[case::two_tables_concatenate(r#"[[cells]]
name = "a"
kernel = "debian-64k"
[[cells]]
name = "b"
kernel = "debian-64k""#, &["a", "b"])]
fn axes_expand_into_named_cells(#[case] body: &str, #[case] expected: &[&str]) {
    assert_eq!(names(body), expected);
}

#[test]
fn defaults_fill_what_a_table_leaves_out_and_tables_override_them() {
    let m = parse(
        r#"[[cells]]
name = "x"
kernel = "debian-64k"
memory = 2048
accel = "kvm-pr"
mmu = "hpt"
caps = { "cap-fwnmi" = "off", large-decr = false }
append = "loglevel=3"
expect = "error:fwnmi-unsupported""#,
    )
    .unwrap();
    let c = &m.cells[0];
    assert_eq!(c.guest.busybox, "debian-busybox");
    assert_eq!(c.timeout.as_secs(), 120);
    assert_eq!(c.guest.memory_mib, 2048);
    assert_eq!(c.guest.accel, Accel::KvmPr);
    assert_eq!(c.guest.mmu, Mmu::Hpt);
    assert_eq!(c.guest.kernel.page_size, PageSize::K64);
    assert_eq!(c.guest.caps.get("fwnmi").map(String::as_str), Some("off"));
    assert_eq!(
        c.guest.caps.get("large-decr").map(String::as_str),
        Some("off")
    );
    assert_eq!(c.guest.append, vec!["loglevel=3"]);
    assert_eq!(
        c.expect,
        Expectation::Error(bootmatrix::documented::DocumentedError::FwnmiUnsupported)
    );
    assert_eq!(c.line, 10, "the line of the [[cells]] table");
}

/// Cells whose machine type the default inner qemu (10.0) no longer has run
/// with `old_machine_qemu` on emulated hosts; the others keep the default.
#[test]
fn old_machine_types_get_the_old_qemu_on_emulated_hosts() {
    let m = parse(
        "[kernels.host-4k]\nimage = \"kernel-host-4k\"\npage_size = \"4k\"\n\
         [emulation]\nkernel_4k = \"host-4k\"\nold_machine_qemu = { release = \"bookworm\", version = \"7.2\" }\n\
         [[cells]]\nname = \"{machine}\"\nkernel = \"debian-64k\"\naccel = \"kvm-hv\"\nhost_mmu = \"radix\"\n\
         host_page_size = \"4k\"\nmachine = [\"pseries\", \"pseries-2.11\", \"pseries-5.0\"]\n",
    )
    .unwrap();
    let e = m.emulation.as_ref().unwrap();
    let q = e.old_machine_qemu.as_ref().unwrap();
    assert_eq!((q.release.as_str(), q.version), ("bookworm", (7, 2, 0)));
    let cells = bootmatrix::chain::emulate(&m.cells, e).unwrap();
    let inner: Vec<String> = cells
        .iter()
        .map(|c| {
            format!(
                "{}: {:?}",
                c.name,
                c.host.inner_qemu.as_ref().map(|q| q.version)
            )
        })
        .collect();
    assert_eq!(
        inner,
        [
            "pseries: None",
            "pseries-2.11: Some((7, 2, 0))",
            "pseries-5.0: None"
        ]
    );
}

/// A native host row may name the machine and the host kernel an emulated
/// run boots for it (`emulated_host`, `emulated_host_kernel`, both axes);
/// rows that name neither get powernv9 and `[emulation]`'s kernel.
#[test]
fn a_row_names_its_emulated_host_and_kernel() {
    let m = parse(
        "[kernels.host-4k]\nimage = \"kernel-host-4k\"\npage_size = \"4k\"\n\
         [kernels.\"host-4k-6.1\"]\nimage = \"kernel-host-4k-6.1\"\npage_size = \"4k\"\n\
         [emulation]\nkernel_4k = \"host-4k\"\n\
         [[cells]]\nname = \"{host_mmu}/{emulated_host}/{emulated_host_kernel}\"\nkernel = \"debian-64k\"\n\
         accel = \"kvm-hv\"\nhost_mmu = \"hpt\"\nhost_page_size = \"4k\"\n\
         emulated_host = [\"powernv9\", \"powernv8\"]\nemulated_host_kernel = [\"host-4k-6.1\", \"host-4k\"]\n\
         [[cells]]\nname = \"{host_mmu}/{emulated_host}/{emulated_host_kernel}\"\nkernel = \"debian-64k\"\n\
         accel = \"kvm-hv\"\nhost_mmu = \"radix\"\nhost_page_size = \"4k\"\n",
    )
    .unwrap();
    // Natively the rows stay native rows: the choice only places them.
    assert!(m
        .cells
        .iter()
        .all(|c| c.host.kind == bootmatrix::model::HostKind::Native && c.host.kernel.is_none()));
    let cells = bootmatrix::chain::emulate(&m.cells, m.emulation.as_ref().unwrap()).unwrap();
    let placed: Vec<String> = cells
        .iter()
        .map(|c| {
            format!(
                "{} -> {} {} {}",
                c.name,
                c.host.kind.as_str(),
                c.host.mmu.unwrap(),
                c.host.kernel.as_ref().unwrap().name
            )
        })
        .collect();
    assert_eq!(
        placed,
        [
            "hpt/powernv9/host-4k-6.1 -> powernv9 hpt host-4k-6.1",
            "hpt/powernv9/host-4k -> powernv9 hpt host-4k",
            "hpt/powernv8/host-4k-6.1 -> powernv8 hpt host-4k-6.1",
            "hpt/powernv8/host-4k -> powernv8 hpt host-4k",
            "radix/default/default -> powernv9 radix host-4k",
        ]
    );
    // Placed, a cell keeps no second choice of host.
    assert!(cells
        .iter()
        .all(|c| c.host.emulated_kind.is_none() && c.host.emulated_kernel.is_none()));
}

#[test]
fn fixes_parse_to_the_domain_names() {
    let m = parse("[[cells]]\nkernel = \"debian-64k\"\nfixes = [\"nested-hv\", \"pr-caps\"]\n")
        .unwrap();
    assert_eq!(m.cells[0].guest.fixes, vec![Fix::NestedHv, Fix::PrCaps]);
}

#[rstest]
#[case::bad_enum_value(
    "[[cells]]\nkernel = \"debian-64k\"\nmmu = \"radx\"\n",
    12,
    "key `mmu`: unknown MMU `radx`"
)]
#[case::unknown_key("[[cells]]\nkernal = \"debian-64k\"\n", 11, "unknown field `kernal`")]
#[case::unknown_kernel(
    "[[cells]]\nkernel = \"void-4k\"\n",
    11,
    "key `kernel`: no kernel `void-4k` in [kernels] (defined: `debian-64k`)"
)]
#[case::wrong_type(
    "[[cells]]\nkernel = \"debian-64k\"\nmemory = \"lots\"\n",
    12,
    "key `memory`: expected a whole number"
)]
#[case::unknown_error_id(
    "[[cells]]\nkernel = \"debian-64k\"\nexpect = \"error:nope\"\n",
    12,
    "key `expect`: unknown documented error `nope`"
)]
#[case::unknown_placeholder(
    "[[cells]]\nname = \"{colour}\"\nkernel = \"debian-64k\"\n",
    11,
    "key `name`: unknown placeholder `{colour}`"
)]
#[case::duplicate_names(
    "[[cells]]\nname = \"same\"\nkernel = \"debian-64k\"\nmmu = [\"radix\", \"hpt\"]\n",
    10,
    "cell `same` is already defined"
)]
#[case::syntax("[[cells]]\nkernel = [\n", 11, "")]
#[case::bad_fix(
    "[[cells]]\nkernel = \"debian-64k\"\nfixes = [\"hugepage\"]\n",
    12,
    "key `fixes`: unknown fix `hugepage`"
)]
#[case::bad_old_machine_qemu(
    "[emulation]\nold_machine_qemu = { release = \"bookworm\", version = \"seven\" }\n[[cells]]\nkernel = \"debian-64k\"\n",
    11,
    "key `old_machine_qemu`: `version` must read like 7.2"
)]
#[case::cap_value_with_another_option(
    "[[cells]]\nkernel = \"debian-64k\"\ncaps = { hpt-max-page-size = \"4096,accel=kvm\" }\n",
    12,
    "key `caps`: cap `hpt-max-page-size` value `4096,accel=kvm` would change the qemu option"
)]
#[case::cap_name_with_a_value(
    "[[cells]]\nkernel = \"debian-64k\"\ncaps = { \"htm=on,x\" = \"off\" }\n",
    12,
    "key `caps`: cap name `htm=on,x` would change the qemu option"
)]
#[case::cpu_with_properties(
    "[[cells]]\nkernel = \"debian-64k\"\ncpu = \"POWER9,compat=power8\"\n",
    12,
    "key `cpu`: the CPU model `POWER9,compat=power8` would change the qemu option"
)]
#[case::known_failure_without_a_reason(
    "[[cells]]\nkernel = \"debian-64k\"\nknown_failure = \" \"\n",
    12,
    "key `known_failure`: say why the cell fails"
)]
#[case::emulated_host_without_emulation(
    "[[cells]]\nkernel = \"debian-64k\"\nhost_mmu = \"hpt\"\nemulated_host = \"powernv8\"\n",
    10,
    "key `emulated_host`: only meaningful with an [emulation] table"
)]
fn mistakes_name_file_line_and_key(#[case] body: &str, #[case] line: usize, #[case] says: &str) {
    assert_mistake(body, line, says);
}

/// Mistakes in naming where an emulated run places a row, in a matrix with
/// a host kernel and an `[emulation]` table: 5 lines before the cells, which
/// each case's line leaves out.
#[rstest]
#[case::emulated_host_not_a_machine(
    "[[cells]]\nkernel = \"debian-64k\"\nhost_mmu = \"hpt\"\nemulated_host = \"powernv7\"\n",
    13,
    "key `emulated_host`: unknown host `powernv7`"
)]
#[case::emulated_host_nested_pseries(
    "[[cells]]\nkernel = \"debian-64k\"\nhost_mmu = \"hpt\"\nemulated_host = \"nested-pseries\"\n",
    13,
    "key `emulated_host`: `nested-pseries` is not a bare-metal machine"
)]
#[case::emulated_powernv8_on_a_radix_row(
    "[[cells]]\nkernel = \"debian-64k\"\nhost_mmu = \"radix\"\nemulated_host = [\"powernv9\", \"powernv8\"]\n",
    13,
    "key `emulated_host`: a powernv8 host is POWER8, which has no Radix MMU"
)]
#[case::emulated_host_on_an_emulated_host(
    "[[cells]]\nkernel = \"debian-64k\"\nhost = \"powernv9\"\nhost_kernel = \"h\"\nemulated_host_kernel = \"h\"\n",
    14,
    "key `emulated_host_kernel`: only meaningful on a native host row"
)]
#[case::emulated_host_kernel_unknown(
    "[[cells]]\nkernel = \"debian-64k\"\nhost_mmu = \"hpt\"\nemulated_host_kernel = \"h-6.1\"\n",
    13,
    "key `emulated_host_kernel`: no kernel `h-6.1` in [kernels]"
)]
#[case::emulated_host_kernel_of_another_page_size(
    "[[cells]]\nkernel = \"debian-64k\"\nhost_page_size = \"64k\"\nemulated_host_kernel = \"h\"\n",
    13,
    "key `emulated_host_kernel`: the kernel `h` has 4k pages, but the row's host has 64k pages"
)]
fn emulated_placement_mistakes_name_file_line_and_key(
    #[case] cells: &str,
    #[case] line: usize,
    #[case] says: &str,
) {
    let body = format!(
        "[kernels.h]\nimage = \"i\"\npage_size = \"4k\"\n[emulation]\nkernel_4k = \"h\"\n{cells}"
    );
    assert_mistake(&body, line + 5, says);
}

fn assert_mistake(body: &str, line: usize, says: &str) {
    // HEADER is 9 lines and a blank line joins it to the body.
    let err = parse(body).unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("m.toml:{line}")),
        "wrong place in: {msg}"
    );
    assert!(msg.contains(says), "`{says}` not in: {msg}");
    assert!(!msg.contains('\n'), "one line: {msg}");
}

#[test]
fn a_malformed_matrix_exits_2_with_one_line_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let m = common::matrix(
        dir.path(),
        "broken",
        "[[cells]]\nkernel = \"debian-64k\"\nmmu = \"radx\"\n",
    );
    for sub in ["run", "plan", "fetch"] {
        let out = common::run(&[sub, m.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{sub}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{sub}: {err}");
        assert!(
            err.contains(&format!("{}:12: key `mmu`", m.display())),
            "{sub}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn the_shipped_matrices_parse() {
    for entry in std::fs::read_dir(common::repo().join("matrices")).unwrap() {
        let path = entry.unwrap().path();
        let m = matrix::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!m.cells.is_empty(), "{}", path.display());
    }
}

#[test]
fn the_default_matrix_is_a_radix_and_an_hpt_guest_under_tcg() {
    let m = matrix::load(&common::repo().join("matrices/default.toml")).unwrap();
    let cells: Vec<_> = m
        .cells
        .iter()
        .map(|c| (c.name.as_str(), c.guest.accel, c.guest.mmu))
        .collect();
    assert_eq!(
        cells,
        vec![
            ("tcg/radix-guest/64k", Accel::Tcg, Mmu::Radix),
            ("tcg/hpt-guest/64k", Accel::Tcg, Mmu::Hpt)
        ]
    );
}
