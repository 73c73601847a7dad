//! The qemu command generated for a cell: an argv, never a shell string,
//! with the machine, caps, accelerator, memory, console and kernel command
//! line the cell and the rules ask for.

mod common;

use std::path::{Path, PathBuf};

use bootmatrix::qemu::{self, BootFiles};
use bootmatrix::{matrix, rules};
use rstest::rstest;

fn argv_for(cell_keys: &str) -> Vec<String> {
    let m = matrix::parse(
        Path::new("m.toml"),
        &format!(
            "{}\n[[cells]]\nname = \"c\"\nkernel = \"debian-64k\"\n{cell_keys}",
            common::HEADER
        ),
    )
    .unwrap();
    let cell = &m.cells[0];
    let p = rules::predict(&common::x86_host(), cell);
    let files = BootFiles {
        kernel: PathBuf::from("/img/vmlinux"),
        initrd: PathBuf::from("/out/initrd with space.gz"),
        nvram: PathBuf::from("/out/nvram.bin"),
    };
    qemu::guest_command("qemu-system-ppc64", cell, &p, &files).argv()
}

fn value_after<'a>(argv: &'a [String], flag: &str) -> &'a str {
    let i = argv
        .iter()
        .position(|a| a == flag)
        .unwrap_or_else(|| panic!("{flag} missing in {argv:?}"));
    &argv[i + 1]
}

#[rstest]
#[case::radix_guest("mmu = \"radix\"", "console=hvc0 quiet panic=-1")]
#[case::hpt_guest_gets_disable_radix("mmu = \"hpt\"", "console=hvc0 quiet panic=-1 disable_radix")]
#[case::extra_words_follow(
    "mmu = \"hpt\"\nappend = [\"loglevel=8\"]",
    "console=hvc0 quiet panic=-1 disable_radix loglevel=8"
)]
fn the_kernel_command_line_follows_the_guest_mmu(#[case] keys: &str, #[case] append: &str) {
    assert_eq!(value_after(&argv_for(keys), "-append"), append);
}

#[rstest]
#[case::tcg_default("", "pseries,accel=tcg", "POWER9")]
#[case::versioned_machine("machine = \"pseries-9.2\"", "pseries-9.2,accel=tcg", "POWER9")]
#[case::cells_cap_is_verbatim(
    "caps = { hpt-max-page-size = \"4096\" }",
    "pseries,accel=tcg,cap-hpt-max-page-size=4096",
    "POWER9"
)]
#[case::cpu_override("cpu = \"POWER10\"", "pseries,accel=tcg", "POWER10")]
#[case::vof_firmware("firmware = \"vof\"", "pseries,accel=tcg,x-vof=on", "POWER9")]
fn machine_and_cpu_come_from_cell_and_rules(
    #[case] keys: &str,
    #[case] machine: &str,
    #[case] cpu: &str,
) {
    let argv = argv_for(keys);
    assert_eq!(value_after(&argv, "-machine"), machine);
    assert_eq!(value_after(&argv, "-cpu"), cpu);
}

#[rstest]
#[case("memory = 2048\nsmp = 2", "2048", "2")]
#[case("", "1024", "1")]
fn memory_and_vcpus(#[case] keys: &str, #[case] m: &str, #[case] smp: &str) {
    let argv = argv_for(keys);
    assert_eq!(value_after(&argv, "-m"), m);
    assert_eq!(value_after(&argv, "-smp"), smp);
}

#[test]
fn a_vof_guest_reads_the_formatted_nvram_through_a_snapshot_drive() {
    let argv = argv_for("firmware = \"vof\"");
    assert_eq!(
        value_after(&argv, "-drive"),
        "if=none,id=nvram,format=raw,snapshot=on,file=/out/nvram.bin"
    );
    assert_eq!(value_after(&argv, "-global"), "spapr-nvram.drive=nvram");
}

#[test]
fn a_slof_guest_keeps_the_nvram_slof_formats() {
    let argv = argv_for("firmware = \"slof\"");
    assert!(
        !argv.iter().any(|a| a == "-drive" || a == "-global"),
        "{argv:?}"
    );
}

#[test]
fn console_is_the_serial_line_without_default_devices_and_no_reboot() {
    let argv = argv_for("");
    for flag in ["-nographic", "-nodefaults", "-no-reboot"] {
        assert!(argv.iter().any(|a| a == flag), "{flag} in {argv:?}");
    }
    assert_eq!(value_after(&argv, "-serial"), "mon:stdio");
    assert_eq!(value_after(&argv, "-kernel"), "/img/vmlinux");
    // A path with a space stays one argument: nothing goes through a shell.
    assert_eq!(value_after(&argv, "-initrd"), "/out/initrd with space.gz");
}

#[test]
fn repro_script_quotes_what_a_shell_would_split() {
    let m = matrix::parse(
        Path::new("m.toml"),
        &format!(
            "{}\n[[cells]]\nname = \"c\"\nkernel = \"debian-64k\"\nmmu = \"hpt\"\n",
            common::HEADER
        ),
    )
    .unwrap();
    let cell = &m.cells[0];
    let p = rules::predict(&common::x86_host(), cell);
    let files = BootFiles {
        kernel: "/k".into(),
        initrd: "/a b/it's.gz".into(),
        nvram: "/n".into(),
    };
    let cmd = qemu::guest_command("qemu-system-ppc64", cell, &p, &files);
    let script = cmd.repro_script("c");
    assert!(script.starts_with("#!/bin/sh\n"));
    assert!(script.contains(r"'/a b/it'\''s.gz'"), "{script}");
    assert!(
        script.contains("'console=hvc0 quiet panic=-1 disable_radix'"),
        "{script}"
    );
    // The shell reads the script back into exactly the argv.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "set -- {}; for a in \"$@\"; do printf '%s\\n' \"$a\"; done",
            cmd.shell_line().trim_start_matches("qemu-system-ppc64 ")
        ))
        .output()
        .unwrap();
    let words: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(words, cmd.args);
}
