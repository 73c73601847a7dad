//! The one stage between the matrix and the run: from the expanded cells,
//! the probed host and where host rows should run, decide everything about
//! every cell before anything boots. Pure: no file is read, no process
//! started, so the whole decision is tested without booting.
//!
//! A [`Plan`] holds, per cell, the one outcome that must happen, whether
//! this machine can run it (and if not, why and what fixes it), and where it
//! runs: booted by qemu here, or inside which emulated-host session. The
//! commands name their files symbolically ([`FileRef`]); `bootmatrix plan`
//! prints the plan as it is, and `bootmatrix run` binds the placeholders to
//! prepared files and executes exactly this value.

pub mod render;
pub mod schedule;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::chain::{self, SessionKey};
use crate::host::{DevKvm, HostFacts};
use crate::matrix::Matrix;
use crate::model::{Cell, Firmware, HostKind, HostSpec, InnerQemu, Outcome};
use crate::qemu::{self, BootFiles, QemuCommand};
use crate::readiness::Missing;
use crate::rules::{self, Prediction};
use crate::verdict;

pub use schedule::Start;

/// Where a matrix's KVM host rows run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostsMode {
    /// On this machine if it has POWER KVM, else on emulated hosts when the
    /// matrix has an `[emulation]` table: the same command proves the table
    /// on a POWER9 runner and on a laptop.
    #[default]
    Auto,
    /// On this machine only; rows it cannot run are skipped with the reason.
    /// A cell that names an emulated host kind (`host = "powernv9"`) is
    /// planned here as the host row that kind stands for: this is how the
    /// bootmatrix inside an emulated host runs that host's cells.
    Native,
    /// On emulated hosts, as the matrix's `[emulation]` says.
    Emulated,
}

impl HostsMode {
    /// Whether host rows go to emulated hosts for this matrix on this host.
    pub fn emulate(self, matrix: &Matrix, probed: &HostFacts) -> bool {
        match self {
            HostsMode::Native => false,
            HostsMode::Emulated => true,
            HostsMode::Auto => {
                matrix.emulation.is_some()
                    && !(probed.is_power() && probed.kvm.dev_kvm == DevKvm::Usable)
            }
        }
    }
}

/// A file a command boots from, before it is prepared. Its placeholder
/// stands in the command's argv until `run` binds it to a path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "kebab-case")]
pub enum FileRef {
    /// The file an image description provides (a kernel).
    Image(String),
    /// The guest payload built around a busybox image.
    Payload(String),
    /// The initramfs of the emulated host of a session (by index).
    HostInitramfs(usize),
    /// The formatted NVRAM a VOF guest reads ([`crate::nvram`]).
    Nvram,
}

impl FileRef {
    /// The argument that stands for the file in a planned command.
    pub fn placeholder(&self) -> String {
        match self {
            FileRef::Image(name) => format!("<image:{name}>"),
            FileRef::Payload(name) => format!("<initramfs:{name}>"),
            FileRef::HostInitramfs(k) => format!("<emulated-host:{k}>"),
            FileRef::Nvram => "<nvram>".to_string(),
        }
    }
}

/// Whether this machine can run a cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "readiness", rename_all = "kebab-case")]
pub enum Readiness {
    /// It boots (or meets its documented error) here.
    Runnable,
    /// It cannot run here; the reason names what is missing and how to get
    /// it. A skipped cell is never a pass.
    Skipped {
        /// What is missing, each with its remedy.
        missing: Vec<Missing>,
    },
}

impl Readiness {
    /// The skip message: every missing piece with its remedy; `None` when
    /// the cell can run.
    pub fn reason(&self) -> Option<String> {
        match self {
            Readiness::Runnable => None,
            Readiness::Skipped { missing } => crate::readiness::skip_reason(missing),
        }
    }
}

/// Where a runnable cell runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "on", rename_all = "kebab-case")]
pub enum Placement {
    /// Booted by qemu on this machine.
    Here {
        /// The command, files as placeholders.
        command: QemuCommand,
    },
    /// Run inside an emulated host, by the qemu there.
    InHost {
        /// Index of the session in [`Plan::sessions`].
        session: usize,
        /// The command inside the host (its paths are the host's own).
        command: QemuCommand,
    },
}

/// One cell of a plan: everything decided about it.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedCell {
    /// The cell's name.
    pub name: String,
    /// The documented row it proves.
    pub row: String,
    /// The expectation as the matrix states it (`predicted`, `boots`,
    /// `error:<id>`).
    pub expectation: String,
    /// Whether an explicit expectation agrees with the rules; `None` for
    /// `predicted`.
    pub agrees: Option<bool>,
    /// The rules' prediction and the flags behind it.
    pub prediction: Prediction,
    /// The one outcome that must happen.
    pub expected: Outcome,
    /// Whether it can run here.
    pub readiness: Readiness,
    /// Where it runs (its command is planned even when it is skipped, so
    /// that `plan` shows what would run).
    pub placement: Placement,
    /// Seconds it is expected to take ([`schedule::cell_seconds`]): what
    /// orders the run's queue and balances split sessions.
    pub expected_seconds: f64,
    /// The cell as expanded (and placed) from the matrix.
    pub cell: Cell,
}

impl PlannedCell {
    /// True when the cell will be booted.
    pub fn runnable(&self) -> bool {
        self.readiness == Readiness::Runnable
    }

    /// The files its command boots from.
    pub fn files(&self) -> Vec<FileRef> {
        match &self.placement {
            Placement::Here { .. } => {
                let mut files = vec![
                    FileRef::Image(self.cell.guest.kernel.image.clone()),
                    FileRef::Payload(self.cell.guest.busybox.clone()),
                ];
                if self.cell.guest.firmware == Firmware::Vof {
                    files.push(FileRef::Nvram);
                }
                files
            }
            Placement::InHost { .. } => Vec::new(),
        }
    }
}

/// One boot of an emulated host that runs several cells in turn. A long
/// session may be split over several boots of the same host, its *parts*
/// ([`schedule::parts`]): each part is a `Session` of its own, with its own
/// initramfs (built from its cells) and its own directory under `hosts/`.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    /// What the cells sharing this boot have in common.
    pub key: SessionKey,
    /// Which boot of the key's host this is, from 1.
    pub part: usize,
    /// How many boots the key's cells are split over (1: not split).
    pub parts: usize,
    /// Seconds this boot is expected to take: a host boot
    /// ([`schedule::HOST_BOOT_SECONDS`]) and its cells; 0 when it is not
    /// booted.
    pub expected_seconds: f64,
    /// The host.
    pub host: HostSpec,
    /// What the host must be once booted; the probe inside is checked
    /// against it.
    pub expected: chain::ExpectedHost,
    /// Whether level 0 runs it under TCG or under this machine's KVM.
    pub level0: chain::Level0,
    /// Hugepages the host reserves at boot for its hugepage-backed guests.
    pub hugepages: u64,
    /// The qemu the host runs its guests with.
    pub inner_qemu: InnerQemu,
    /// The level-0 command (kernel and initramfs as placeholders).
    pub command: QemuCommand,
    /// Indices into [`Plan::cells`] of the cells it runs, in order; empty
    /// when none of its cells can run, and then the host is not booted.
    pub cells: Vec<usize>,
    /// RAM the host claims, MiB.
    pub memory_mib: u32,
    /// How long the host may take to boot and load KVM.
    pub boot_timeout_secs: f64,
}

impl Session {
    /// The session's name: its key, with the part when the key's cells are
    /// split (`powernv9-radix-host-4k-6144-qemu10.0-part2of3`). Two boots
    /// never share a name, so each gets its own directory under `hosts/`
    /// and its own lane in the report.
    pub fn name(&self) -> String {
        if self.parts > 1 {
            format!("{}-part{}of{}", self.key, self.part, self.parts)
        } else {
            self.key.to_string()
        }
    }

    /// How long the host may take to boot.
    pub fn boot_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.boot_timeout_secs)
    }
}

/// Everything `run` executes, decided.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The matrix file.
    pub matrix: PathBuf,
    /// Its SHA-256.
    pub matrix_sha256: String,
    /// Whether host rows were placed on emulated hosts.
    pub emulated_hosts: bool,
    /// The probed machine the plan was made for.
    pub host: HostFacts,
    /// Every selected cell, in matrix order.
    pub cells: Vec<PlannedCell>,
    /// The emulated-host boots, each with its runnable cells.
    pub sessions: Vec<Session>,
    /// The lanes (`-j`) the run has, which splitting sessions was decided
    /// for.
    pub lanes: usize,
}

/// What to do with cells that carry a `known_failure` mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KnownFailures {
    /// Run them: a failure is an expected failure, a pass fails ("remove
    /// the mark"). For nightly runs, which keep checking them.
    #[default]
    Run,
    /// Skip them with the mark's reason, without booting: a known hang
    /// costs its whole timeout. For CI on every push.
    Skip,
    /// Run them and judge them like any other cell (`bisect-run`, which
    /// asks whether the cell works, mark or not).
    Ignore,
}

/// What planning is given besides the matrix.
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    /// The probed machine.
    pub host: &'a HostFacts,
    /// Where host rows run.
    pub hosts: HostsMode,
    /// The qemu that boots level 0.
    pub qemu: &'a str,
    /// Multiplies every timeout (slow machines, sanitizer builds).
    pub timeout_scale: f64,
    /// What to do with cells marked `known_failure`.
    pub known_failures: KnownFailures,
    /// The previous run's seconds by cell name (empty without history):
    /// what each cell is expected to take, for the order cells and
    /// sessions start in and for splitting long sessions.
    pub durations: &'a BTreeMap<String, f64>,
    /// Cells and sessions the run executes at once (`-j`): a session is
    /// split only when that shortens the run on this many lanes.
    pub lanes: usize,
}

/// Why a matrix cannot be planned as asked: the matrix's fault, so bad
/// input (exit status 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Host rows were to run on emulated hosts, and the matrix says nothing
    /// of how.
    #[error("--hosts emulated needs an [emulation] table naming the host kernels (see README)")]
    NoEmulation,
    /// A host row cannot be placed on an emulated host.
    #[error("{0}")]
    Placement(String),
}

impl From<PlanError> for crate::Error {
    fn from(e: PlanError) -> crate::Error {
        crate::Error::BadInput(e.to_string())
    }
}

/// How long an emulated host may take to boot and load KVM.
const HOST_BOOT_TIMEOUT: Duration = Duration::from_secs(300);

/// Plans `cells` (already selected from `matrix`). Fails only when the
/// matrix cannot be placed as asked (an `[emulation]` table is missing or
/// names no kernel for a row): that is the matrix's fault, bad input.
pub fn build(matrix: &Matrix, cells: &[Cell], input: &PlanInput) -> Result<Plan, PlanError> {
    let emulated_hosts = input.hosts.emulate(matrix, input.host);
    let mut cells: Vec<Cell> = if emulated_hosts {
        let e = matrix.emulation.as_ref().ok_or(PlanError::NoEmulation)?;
        chain::emulate(cells, e).map_err(PlanError::Placement)?
    } else {
        cells.to_vec()
    };
    if input.hosts == HostsMode::Native {
        for c in &mut cells {
            if c.host.kind.is_emulated() {
                c.host.kind = HostKind::Native;
                c.host.nested = Some(c.host.nested == Some(true));
                // This machine is that host: its kernel is the one running.
                c.host.kernel = None;
                c.host.memory_mib = None;
                c.host.inner_qemu = None;
            }
        }
    }
    // Inside an emulated host (this run is the one its init started) KVM
    // guests run at emulation speed: a timeout the matrix left at the
    // native default gets the emulated one, as the run outside gave it.
    let inside_emulation = !emulated_hosts && input.host.emulated_by_qemu();
    for c in &mut cells {
        if inside_emulation && c.host.kind == HostKind::Native && c.guest.accel.is_kvm() {
            let native = crate::matrix::default_timeout(c.guest.accel, HostKind::Native);
            if c.timeout == native {
                c.timeout = crate::matrix::default_timeout(c.guest.accel, HostKind::PowerNv9);
            }
        }
        c.timeout = c.timeout.mul_f64(input.timeout_scale);
    }
    let mut planned = Vec::with_capacity(cells.len());
    let mut sessions: Vec<Session> = Vec::new();
    let mut by_key: BTreeMap<SessionKey, usize> = BTreeMap::new();
    for cell in &cells {
        let hugepages = chain::session_hugepages(cell, &cells);
        let emulated = cell.host.kind.is_emulated();
        // A cell on an emulated host is previewed with what the host is
        // configured to be; the run inside decides it from its own probe,
        // which the session checks against this expectation.
        let expected_host = chain::expected_host(&cell.host, hugepages);
        let facts = if emulated {
            expected_host.facts()
        } else {
            input.host.clone()
        };
        let prediction = rules::predict(&facts, cell);
        let limit = chain::placement_limit(cell, input.host, matrix.emulation.as_ref());
        let missing = match (limit, &cell.known_failure) {
            (Some(limit), _) => vec![limit],
            (None, Some(why)) if input.known_failures == KnownFailures::Skip => {
                vec![Missing::KnownFailure {
                    reason: why.clone(),
                }]
            }
            (None, _) if emulated => Vec::new(),
            (None, _) => prediction.skip.clone(),
        };
        let readiness = if missing.is_empty() {
            Readiness::Runnable
        } else {
            Readiness::Skipped { missing }
        };
        let expected = verdict::expected(cell, &prediction);
        let placement = if cell.host.kind.is_emulated() {
            let command =
                qemu::guest_command(chain::L1_QEMU, cell, &prediction, &chain::l2_files(cell));
            let key = chain::session_key(&cell.host);
            let session = match by_key.get(&key) {
                Some(&k) => k,
                None => {
                    let k = sessions.len();
                    let memory_mib = cell
                        .host
                        .memory_mib
                        .unwrap_or(chain::default_host_memory(cell.host.kind));
                    let kernel = cell.host.kernel.as_ref().map_or("", |k| k.image.as_str());
                    let level0 = chain::level0(input.host, cell.host.kind);
                    let host_command = chain::host_command(
                        input.qemu,
                        &cell.host,
                        level0,
                        &BootFiles {
                            kernel: FileRef::Image(kernel.to_string()).placeholder().into(),
                            initrd: FileRef::HostInitramfs(k).placeholder().into(),
                            nvram: FileRef::Nvram.placeholder().into(),
                        },
                        hugepages,
                    );
                    sessions.push(Session {
                        key: key.clone(),
                        part: 1,
                        parts: 1,
                        expected_seconds: 0.0,
                        expected: expected_host,
                        level0,
                        host: cell.host.clone(),
                        hugepages,
                        inner_qemu: chain::inner_qemu(&cell.host),
                        command: host_command,
                        cells: Vec::new(),
                        memory_mib,
                        boot_timeout_secs: HOST_BOOT_TIMEOUT
                            .mul_f64(input.timeout_scale)
                            .as_secs_f64(),
                    });
                    by_key.insert(key, k);
                    k
                }
            };
            if readiness == Readiness::Runnable {
                sessions[session].cells.push(planned.len());
            }
            Placement::InHost { session, command }
        } else {
            let files = BootFiles {
                kernel: PathBuf::from(
                    FileRef::Image(cell.guest.kernel.image.clone()).placeholder(),
                ),
                initrd: PathBuf::from(FileRef::Payload(cell.guest.busybox.clone()).placeholder()),
                nvram: PathBuf::from(FileRef::Nvram.placeholder()),
            };
            Placement::Here {
                command: qemu::guest_command(input.qemu, cell, &prediction, &files),
            }
        };
        let expected_seconds = schedule::cell_seconds(
            &cell.name,
            &expected,
            readiness == Readiness::Runnable,
            cell.timeout,
            input.durations,
        );
        planned.push(PlannedCell {
            expected_seconds,
            name: cell.name.clone(),
            row: rules::documented_row(cell),
            expectation: rules::expectation_text(&cell.expect),
            agrees: rules::expectation_agrees(cell, &prediction.outcome),
            prediction,
            expected,
            readiness,
            placement,
            cell: cell.clone(),
        });
    }
    let sessions = split_sessions(sessions, &mut planned, input);
    Ok(Plan {
        matrix: matrix.path.clone(),
        matrix_sha256: matrix.sha256.clone(),
        emulated_hosts,
        host: input.host.clone(),
        cells: planned,
        sessions,
        lanes: input.lanes.max(1),
    })
}

/// Splits the sessions that [`schedule::parts`] says should boot more than
/// once into their parts ([`schedule::balance`]), renumbers them (the parts
/// of one key side by side, in the order of the keys), points every cell at
/// its part (a cell that does not run, at the first) and gives each
/// session its expected seconds. What the host is and reserves stays the
/// key's: a split changes where a cell runs, never its verdict.
fn split_sessions(
    sessions: Vec<Session>,
    planned: &mut [PlannedCell],
    input: &PlanInput,
) -> Vec<Session> {
    let timed = |cells: &[usize]| -> Vec<(usize, f64)> {
        cells
            .iter()
            .map(|&i| (i, planned[i].expected_seconds))
            .collect()
    };
    let runnable: Vec<Vec<(usize, f64)>> = sessions.iter().map(|s| timed(&s.cells)).collect();
    let here: Vec<f64> = planned
        .iter()
        .filter(|p| p.runnable() && matches!(p.placement, Placement::Here { .. }))
        .map(|p| p.expected_seconds)
        .collect();
    let parts = schedule::parts(&runnable, &here, input.lanes);
    let mut out: Vec<Session> = Vec::new();
    // Old session index -> the new index of each of its parts.
    let mut renumbered: Vec<Vec<usize>> = Vec::with_capacity(sessions.len());
    for ((session, cells), n) in sessions.into_iter().zip(&runnable).zip(parts) {
        let divided = schedule::balance(cells, n).unwrap_or_else(|| vec![session.cells.clone()]);
        let count = divided.len();
        let mut indices = Vec::with_capacity(count);
        for (p, part_cells) in divided.into_iter().enumerate() {
            let k = out.len();
            let mut s = session.clone();
            s.part = p + 1;
            s.parts = count;
            s.expected_seconds =
                schedule::session_seconds(part_cells.iter().map(|&i| planned[i].expected_seconds));
            s.cells = part_cells;
            s.command = rebind_initramfs(&s.command, renumbered.len(), k);
            out.push(s);
            indices.push(k);
        }
        renumbered.push(indices);
    }
    for (i, p) in planned.iter_mut().enumerate() {
        if let Placement::InHost { session, .. } = &mut p.placement {
            let parts = &renumbered[*session];
            *session = parts
                .iter()
                .copied()
                .find(|&k| out[k].cells.contains(&i))
                .unwrap_or(parts[0]);
        }
    }
    out
}

/// `command` with the placeholder of session `from`'s initramfs replaced by
/// that of session `to`.
fn rebind_initramfs(command: &QemuCommand, from: usize, to: usize) -> QemuCommand {
    let old = FileRef::HostInitramfs(from).placeholder();
    let new = FileRef::HostInitramfs(to).placeholder();
    QemuCommand {
        program: command.program.clone(),
        args: command
            .args
            .iter()
            .map(|a| if *a == old { new.clone() } else { a.clone() })
            .collect(),
    }
}

impl Plan {
    /// The order in which the run's lanes start the booted sessions and
    /// the runnable cells booted here: one queue over both, longest
    /// expected first, so that the run's end is not set by a long session
    /// or cell started last. Equal ones keep plan order, sessions first.
    pub fn start_order(&self) -> Vec<Start> {
        schedule::longest_first(&self.work())
    }

    /// Seconds the run is expected to take on its lanes, if its work starts
    /// in [`Plan::start_order`] ([`schedule::makespan`]).
    pub fn expected_seconds(&self) -> f64 {
        let costs: Vec<f64> = self.work().into_iter().map(|(_, s)| s).collect();
        schedule::makespan(&costs, self.lanes)
    }

    /// Every booted session and runnable cell booted here, in plan order,
    /// with its expected seconds.
    fn work(&self) -> Vec<(Start, f64)> {
        let sessions = self
            .sessions
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.cells.is_empty())
            .map(|(k, s)| (Start::Session(k), s.expected_seconds));
        let cells = self
            .cells
            .iter()
            .enumerate()
            .filter(|(_, c)| c.runnable() && matches!(c.placement, Placement::Here { .. }))
            .map(|(i, c)| (Start::Cell(i), c.expected_seconds));
        sessions.chain(cells).collect()
    }

    /// Every file the runnable cells boot from here, and the NVRAM when a
    /// booted host's command names it, without duplicates: what must be
    /// prepared before the sessions' own files (their kernels and
    /// initramfs).
    pub fn native_files(&self) -> Vec<FileRef> {
        let mut files: Vec<FileRef> = self
            .cells
            .iter()
            .filter(|c| c.runnable())
            .flat_map(|c| c.files())
            .collect();
        // A booted host's own command may name the NVRAM (a pseries L1
        // under VOF).
        let nvram = FileRef::Nvram.placeholder();
        let host_nvram = self
            .sessions
            .iter()
            .filter(|s| !s.cells.is_empty())
            .any(|s| s.command.args.iter().any(|a| a.ends_with(&nvram)));
        if host_nvram {
            files.push(FileRef::Nvram);
        }
        files.sort();
        files.dedup();
        files
    }
}

/// A command with its placeholders bound to prepared files; a placeholder
/// with no file is returned as the error its preparation gave. A
/// placeholder is a whole argument (`-kernel <image:...>`) or the value of
/// a `file=` option inside one (`-drive ...,file=<nvram>`).
pub fn bind(
    command: &QemuCommand,
    files: &BTreeMap<String, Result<PathBuf, String>>,
) -> Result<QemuCommand, String> {
    let path = |placeholder: &str| match files.get(placeholder) {
        Some(Ok(p)) => Ok(p.display().to_string()),
        Some(Err(e)) => Err(e.clone()),
        None => Err(format!("{placeholder} was not prepared")),
    };
    let mut args = Vec::with_capacity(command.args.len());
    for a in &command.args {
        if a.starts_with('<') && a.ends_with('>') {
            args.push(path(a)?);
        } else if let Some((head, placeholder)) = a
            .rsplit_once("file=")
            .filter(|(_, p)| p.starts_with('<') && p.ends_with('>'))
        {
            args.push(format!("{head}file={}", path(placeholder)?));
        } else {
            args.push(a.clone());
        }
    }
    Ok(QemuCommand {
        program: command.program.clone(),
        args,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(args: &[&str]) -> QemuCommand {
        QemuCommand {
            program: "qemu".into(),
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }

    #[test]
    fn bind_fills_whole_arguments_and_drive_files() {
        let files = BTreeMap::from([
            ("<image:k>".to_string(), Ok(PathBuf::from("/cache/k"))),
            ("<nvram>".to_string(), Ok(PathBuf::from("/out/nvram.bin"))),
        ]);
        let bound = bind(
            &command(&[
                "-kernel",
                "<image:k>",
                "-drive",
                "if=none,id=n,file=<nvram>",
            ]),
            &files,
        )
        .unwrap();
        assert_eq!(
            bound.args,
            [
                "-kernel",
                "/cache/k",
                "-drive",
                "if=none,id=n,file=/out/nvram.bin"
            ]
        );
    }

    #[test]
    fn bind_returns_why_a_file_is_missing() {
        let files = BTreeMap::from([("<nvram>".to_string(), Err("disk full".to_string()))]);
        let failed = bind(&command(&["-drive", "id=n,file=<nvram>"]), &files);
        assert_eq!(failed.unwrap_err(), "disk full");
        let unprepared = bind(&command(&["-initrd", "<initramfs:b>"]), &files);
        assert_eq!(unprepared.unwrap_err(), "<initramfs:b> was not prepared");
        // Words that only look like placeholders elsewhere stay as written.
        let plain = bind(&command(&["-append", "a<b>"]), &files).unwrap();
        assert_eq!(plain.args, ["-append", "a<b>"]);
    }
}
