//! The qemu command line of a cell, as an argument vector.
//!
//! Never a shell string: arguments go to `execvp` as they are, and the same
//! vector is rendered (quoted) into each cell's `repro.sh` so that what the
//! user reruns is byte for byte what the harness ran.

use std::path::{Path, PathBuf};

use crate::model::{Cell, Firmware, Mmu};
use crate::rules::Prediction;

/// The default emulator; `--qemu` overrides it.
pub const DEFAULT_QEMU: &str = "qemu-system-ppc64";

/// The id of the drive that backs a VOF guest's NVRAM.
const NVRAM_DRIVE: &str = "nvram";

/// The files a guest boots from.
#[derive(Debug, Clone)]
pub struct BootFiles {
    /// The kernel (an ELF vmlinux for pseries).
    pub kernel: PathBuf,
    /// The initramfs built by [`crate::payload`].
    pub initrd: PathBuf,
    /// The formatted NVRAM ([`crate::nvram`]) a VOF guest reads through a
    /// snapshot drive; unused under SLOF, which formats its own.
    pub nvram: PathBuf,
}

/// A program and its arguments.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QemuCommand {
    /// The emulator binary.
    pub program: String,
    /// Its arguments, unquoted.
    pub args: Vec<String>,
}

impl QemuCommand {
    /// The argv, program first.
    pub fn argv(&self) -> Vec<String> {
        std::iter::once(self.program.clone())
            .chain(self.args.iter().cloned())
            .collect()
    }

    /// A POSIX shell rendering, for `repro.sh` and logs.
    pub fn shell_line(&self) -> String {
        self.argv()
            .iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A runnable script that boots the cell by hand, exactly as the harness
    /// did.
    pub fn repro_script(&self, cell: &str) -> String {
        let mut s = String::new();
        s.push_str("#!/bin/sh\n");
        s.push_str(&format!("# bootmatrix cell: {cell}\n"));
        s.push_str("# The exact command the harness ran. The guest prints BOOTMATRIX-DONE and\n");
        s.push_str("# powers off when it has booted; Ctrl-A X leaves qemu early.\n");
        s.push_str("exec ");
        let argv = self.argv();
        for (i, a) in argv.iter().enumerate() {
            s.push_str(&shell_quote(a));
            if i + 1 < argv.len() {
                // Break before each option so the script reads like a table.
                if argv[i + 1].starts_with('-') {
                    s.push_str(" \\\n    ");
                } else {
                    s.push(' ');
                }
            }
        }
        s.push('\n');
        s
    }
}

/// Quotes `s` for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The kernel command line of a guest: console on the hypervisor console,
/// quiet so that the report is not interleaved with boot messages, a panic
/// that reboots at once (and `-no-reboot` turns that into qemu's exit), and
/// `disable_radix` for HPT guests.
pub fn kernel_append(cell: &Cell) -> String {
    let mut words: Vec<String> = vec!["console=hvc0".into(), "quiet".into(), "panic=-1".into()];
    if cell.guest.mmu == Mmu::Hpt {
        words.push("disable_radix".into());
    }
    words.extend(cell.guest.append.iter().cloned());
    words.join(" ")
}

/// The qemu command that boots `cell` as the rules want it.
pub fn guest_command(
    qemu: &str,
    cell: &Cell,
    prediction: &Prediction,
    files: &BootFiles,
) -> QemuCommand {
    let g = &cell.guest;
    let mut machine = g.machine.name.clone();
    for (k, v) in &prediction.machine_props {
        machine.push_str(&format!(",{k}={v}"));
    }
    if g.firmware == Firmware::Vof {
        machine.push_str(",x-vof=on");
    }
    let mut args: Vec<String> = vec![
        "-machine".into(),
        machine,
        "-cpu".into(),
        prediction.cpu.clone(),
        "-m".into(),
        g.memory_mib.to_string(),
        "-smp".into(),
        g.smp.to_string(),
    ];
    args.extend(prediction.extra_args.iter().cloned());
    if g.firmware == Firmware::Vof {
        args.extend(vof_nvram_args(&files.nvram));
    }
    args.extend(
        [
            "-nographic",
            "-nodefaults",
            "-serial",
            "mon:stdio",
            "-kernel",
            &path_arg(&files.kernel),
            "-initrd",
            &path_arg(&files.initrd),
            "-append",
            &kernel_append(cell),
            "-no-reboot",
        ]
        .map(str::to_string),
    );
    QemuCommand {
        program: qemu.to_string(),
        args,
    }
}

/// The arguments that back a VOF machine's NVRAM with `nvram`, the
/// formatted image of [`crate::nvram`]. `snapshot=on`: the guest's writes
/// go to a temporary overlay, so machines booted at once share the file and
/// a rerun starts from the same blank partition.
pub fn vof_nvram_args(nvram: &Path) -> [String; 4] {
    [
        "-drive".into(),
        format!(
            "if=none,id={NVRAM_DRIVE},format=raw,snapshot=on,file={}",
            path_arg(nvram)
        ),
        "-global".into(),
        format!("spapr-nvram.drive={NVRAM_DRIVE}"),
    ]
}

fn path_arg(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
