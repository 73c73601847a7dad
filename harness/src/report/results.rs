//! `results.json`: everything a run found out, in one file that is the only
//! input of the other reports (JUnit, `summary.md`, `report.html`), of
//! `bootmatrix diff` and of `bootmatrix merge`.
//!
//! The file is written by a run (one [`RunRecord`]) or by a merge (one per
//! input run). Files written before the per-cell axes, timings and logs were
//! recorded (format version 1) still load: the fields they lack are empty
//! and [`ResultsFile::load`] fills in the one run they describe.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::health::Finding;
use crate::host::{DevKvm, HostFacts};
use crate::model::Outcome;
use crate::model::{Accel, Firmware, Fix, HostKind, Mmu, PageSize};
use crate::run::CellResult;
use crate::verdict::Status;

/// The format version this code writes. Version 1 had no per-cell axes,
/// timings, logs or run records.
pub const FORMAT_VERSION: u32 = 2;

/// Every status, in their order (the order `summary.md` counts them in).
pub const STATUSES: [Status; 6] = [
    Status::Passed,
    Status::Xfail,
    Status::Skipped,
    Status::Failed,
    Status::Error,
    Status::Interrupted,
];

/// The exit status the README documents for a set of cell statuses:
/// 130 if a cell was interrupted, else 3 if a cell could not be run for a
/// reason of the machine, else 1 if a cell failed, else 0 (all passed or
/// skipped).
pub fn exit_status(statuses: impl IntoIterator<Item = Status>) -> i32 {
    let mut worst = 0;
    for s in statuses {
        let code = match s {
            Status::Passed | Status::Skipped | Status::Xfail => 0,
            Status::Failed => 1,
            Status::Error => 3,
            Status::Interrupted => 130,
        };
        worst = worst.max(code);
    }
    worst
}

/// A `--partition` as the user wrote it (`hash:2/4`).
pub fn partition_text(p: crate::select::Partition) -> String {
    match p {
        crate::select::Partition::Hash { index, count } => format!("hash:{index}/{count}"),
        crate::select::Partition::Slice { index, count } => format!("slice:{index}/{count}"),
    }
}

/// results.json as a whole: one run, or several runs of one matrix merged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultsFile {
    /// Format version ([`FORMAT_VERSION`] when written by this code).
    pub version: u32,
    /// Matrix path, as given to the run.
    pub matrix: String,
    /// SHA-256 of the matrix file: runs merge only when it is the same.
    pub matrix_sha256: String,
    /// The JUnit suite name: the matrix file's stem.
    #[serde(default)]
    pub suite: String,
    /// The matrix's `description`.
    #[serde(default)]
    pub description: Option<String>,
    /// The version of the qemu that ran level 0 (of the first run).
    pub qemu_version: Option<String>,
    /// The host probe as `bootmatrix host --format json` shows it (of the
    /// first run), kept verbatim.
    pub host: serde_json::Value,
    /// Start of the (earliest) run, Unix seconds.
    pub started_unix: u64,
    /// Wall time from the earliest start to the latest end, seconds.
    pub seconds: f64,
    /// A run was interrupted.
    pub interrupted: bool,
    /// Cells that passed only on retry count as failed (`run --flaky-fails`).
    #[serde(default)]
    pub flaky_fails: bool,
    /// How many cells ended with each status.
    #[serde(default)]
    pub counts: BTreeMap<Status, usize>,
    /// Which cells of the matrix were asked for.
    #[serde(default)]
    pub selection: Selection,
    /// Cells of the selection that no merged run has (a shard that did not
    /// finish, or was not given to `merge`). Empty for a single run.
    #[serde(default)]
    pub missing: Vec<String>,
    /// The runs this file describes: one, or one per merged run.
    #[serde(default)]
    pub runs: Vec<RunRecord>,
    /// The emulated hosts' sessions, for the timeline.
    #[serde(default)]
    pub sessions: Vec<SessionRecord>,
    /// Every cell, in matrix order.
    pub cells: Vec<CellRecord>,
}

/// Which cells of the matrix a run was asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    /// The `--filter` patterns.
    #[serde(default)]
    pub filters: Vec<String>,
    /// The `--partition` (`hash:1/4`), if the run was one shard.
    #[serde(default)]
    pub partition: Option<String>,
    /// Every cell the matrix and the filters select, before partitioning, in
    /// matrix order: what all the shards together cover.
    #[serde(default)]
    pub cells: Vec<String>,
}

/// One run: when, where, with which qemu and kernels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The output directory a merge read it from; `None` in the file the
    /// run wrote itself.
    #[serde(default)]
    pub source: Option<String>,
    /// Start, Unix seconds.
    pub started_unix: u64,
    /// Wall time, seconds.
    pub seconds: f64,
    /// It was interrupted.
    pub interrupted: bool,
    /// Its `--partition`, if it was one shard.
    #[serde(default)]
    pub partition: Option<String>,
    /// The machine it ran on.
    pub host: HostRecord,
    /// The qemu of each level.
    #[serde(default)]
    pub qemu: Vec<QemuRecord>,
    /// The kernels its cells booted, as guest or as emulated host.
    #[serde(default)]
    pub kernels: Vec<KernelRecord>,
}

/// The machine a run ran on (level 0), as a person reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRecord {
    /// `uname -m`.
    pub arch: String,
    /// The CPU as /proc/cpuinfo names it.
    #[serde(default)]
    pub cpu: Option<String>,
    /// `PowerNV` or `pSeries`, on POWER.
    #[serde(default)]
    pub platform: Option<String>,
    /// Its MMU, on POWER.
    #[serde(default)]
    pub mmu: Option<Mmu>,
    /// Its kernel's base page size.
    #[serde(default)]
    pub page_size: Option<PageSize>,
    /// Its kernel release (`uname -r`).
    #[serde(default)]
    pub kernel: Option<String>,
    /// KVM as the run found it (`/dev/kvm` access, modules loaded).
    #[serde(default)]
    pub kvm: String,
}

impl HostRecord {
    /// The record of a probed host running kernel `kernel`.
    pub fn from_facts(facts: &HostFacts, kernel: Option<String>) -> HostRecord {
        let access = match facts.kvm.dev_kvm {
            DevKvm::Missing => "no /dev/kvm",
            DevKvm::NoAccess => "/dev/kvm not accessible",
            DevKvm::Usable => "/dev/kvm usable",
        };
        let modules: Vec<&str> = [
            ("kvm_hv", facts.kvm.hv_loaded),
            ("kvm_pr", facts.kvm.pr_loaded),
        ]
        .into_iter()
        .filter(|(_, loaded)| *loaded)
        .map(|(m, _)| m)
        .collect();
        let kvm = if modules.is_empty() {
            access.to_string()
        } else {
            format!("{access}, {} loaded", modules.join(" and "))
        };
        HostRecord {
            arch: facts.arch.clone(),
            cpu: facts.cpu.clone(),
            platform: facts.platform.as_ref().map(|p| p.to_string()),
            mmu: facts.mmu,
            page_size: facts.page_size,
            kernel,
            kvm,
        }
    }

    /// What can be read from a host probe stored as JSON by an older
    /// version: whatever still parses.
    fn from_value(v: &serde_json::Value) -> HostRecord {
        match serde_json::from_value::<HostFacts>(v.clone()) {
            Ok(facts) => HostRecord::from_facts(&facts, None),
            Err(_) => HostRecord {
                arch: v["arch"].as_str().unwrap_or("unknown").to_string(),
                cpu: v["cpu"].as_str().map(str::to_string),
                ..HostRecord::default()
            },
        }
    }
}

/// A qemu that ran cells at one level of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QemuRecord {
    /// 0: the machine the run ran on; 1: inside an emulated host.
    pub level: u32,
    /// `major.minor.micro`.
    pub version: String,
    /// Where it came from: the binary's path at level 0, the Debian release
    /// whose ppc64el package the emulated hosts run at level 1.
    pub from: String,
}

/// What a kernel was used as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KernelRole {
    /// Booted as the cell's guest.
    Guest,
    /// Booted as an emulated host.
    Host,
}

/// A kernel a run booted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelRecord {
    /// The matrix's name for it.
    pub name: String,
    /// Its image description.
    pub image: String,
    /// Its base page size.
    pub page_size: PageSize,
    /// Guest, emulated host, or both.
    pub roles: Vec<KernelRole>,
    /// Its release as a guest reported it (`uname -r`); `None` when no guest
    /// booted it.
    #[serde(default)]
    pub release: Option<String>,
    /// SHA-256 of the image file the run used, when it was resolved.
    #[serde(default)]
    pub sha256: Option<String>,
}

/// A boot of an emulated host that ran several cells in turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Index into [`ResultsFile::runs`].
    #[serde(default)]
    pub run: usize,
    /// The session's key (host kind, MMU, kernel, memory, inner qemu).
    pub key: String,
    /// The pool worker (0-based) that ran it.
    pub worker: usize,
    /// Seconds from its run's start to the host's start.
    pub start: f64,
    /// Seconds from its run's start to the end of its last cell.
    pub end: f64,
    /// The host's console log, relative to the output directory.
    #[serde(default)]
    pub console: Option<String>,
    /// What the bootmatrix inside the host probed, as `bootmatrix host
    /// --format json` prints it there (`None`: it never said).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probed: Option<crate::host::HostReport>,
}

/// One cell in results.json.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CellRecord {
    /// Cell name.
    pub name: String,
    /// The guest kernel's health findings (oopses, warnings, ...), each
    /// with its trace and whether a suppression silenced it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health: Vec<Finding>,
    /// The guest's count of kernel messages at err or worse.
    #[serde(default)]
    pub kmsg_err: Option<u32>,
    /// Each kernel the cell used (guest, emulated host) with its release
    /// and SHA-256; empty in results written before they were recorded.
    #[serde(default)]
    pub kernels: Vec<crate::run::KernelUsed>,
    /// How it ended.
    pub status: Status,
    /// The verdict's one line.
    pub summary: String,
    /// The verdict's supporting lines.
    #[serde(default)]
    pub details: Vec<String>,
    /// What had to happen, in words.
    pub expected: String,
    /// The documented error's id when the cell had to fail with one.
    #[serde(default)]
    pub expected_error: Option<String>,
    /// The rule that decided what had to happen.
    #[serde(default)]
    pub rule: String,
    /// The documented row.
    pub row: Option<String>,
    /// Wall time over all attempts.
    pub seconds: f64,
    /// Attempts made.
    pub attempts: usize,
    /// Passed only on retry.
    pub flaky: bool,
    /// The failed attempts before a pass (the flaky cell's reruns).
    #[serde(default)]
    pub reruns: Vec<Rerun>,
    /// The guest's `uname -r`, when it reported.
    pub guest_kernel: Option<String>,
    /// The MMU the guest reported, as it printed it (`Radix`, `Hash`).
    pub guest_mmu: Option<String>,
    /// The base page size the guest reported.
    #[serde(default)]
    pub guest_page_size: Option<PageSize>,
    /// From qemu's start to the guest's report, when it booted.
    #[serde(default)]
    pub boot_seconds: Option<f64>,
    /// The ids of the documented errors seen.
    pub errors_seen: Vec<String>,
    /// The first documented error's line as qemu (or the guest) printed it.
    #[serde(default)]
    pub error_text: Option<String>,
    /// Why this host did not run the cell, when it was skipped.
    #[serde(default)]
    pub skip_reason: Option<String>,
    /// The qemu command.
    pub argv: Vec<String>,
    /// The cell's host row (`None` in version 1 files).
    #[serde(default)]
    pub host: Option<CellHost>,
    /// The cell's guest column and variant (`None` in version 1 files).
    #[serde(default)]
    pub guest: Option<CellGuest>,
    /// Index into [`ResultsFile::runs`] of the run that ran it.
    #[serde(default)]
    pub run: usize,
    /// Seconds from its run's start to the cell's start.
    #[serde(default)]
    pub start: Option<f64>,
    /// Seconds from its run's start to the cell's end.
    #[serde(default)]
    pub end: Option<f64>,
    /// The worker or host session it ran in.
    #[serde(default)]
    pub lane: Option<Lane>,
    /// For a cell run inside an emulated host: seconds from its verdict
    /// there to the verdict's frame leaving for the outside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_seconds: Option<f64>,
    /// Its files, relative to the output directory.
    #[serde(default)]
    pub logs: CellLogs,
    /// The last console lines, for a cell that failed (JUnit shows them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub console_tail: Vec<String>,
    /// The last qemu stderr lines, for a cell that failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stderr_tail: Vec<String>,
}

/// A failed attempt of a cell that was retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rerun {
    /// That attempt's verdict line.
    pub summary: String,
    /// Its wall time.
    pub seconds: f64,
}

/// The host row a cell documents.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CellHost {
    /// Native, or an emulated host.
    pub kind: HostKind,
    /// The host MMU the row needs (`None`: any).
    pub mmu: Option<Mmu>,
    /// The host page size the row needs (`None`: any).
    pub page_size: Option<PageSize>,
    /// The row needs a host that is (`true`) or is not (`false`) a KVM
    /// guest itself; `None`: either.
    pub nested: Option<bool>,
    /// The host's kernel: the matrix's kernel name for an emulated host, the
    /// running kernel's release for the native machine.
    pub kernel: Option<String>,
    /// The qemu inside an emulated host (`10.0.2 from bookworm-backports`).
    pub qemu: Option<String>,
}

/// The guest a cell boots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellGuest {
    /// The matrix's kernel name.
    pub kernel: String,
    /// The MMU it asks for.
    pub mmu: Mmu,
    /// Its kernel's base page size.
    pub page_size: PageSize,
    /// How its CPU is provided.
    pub accel: Accel,
    /// The `-machine` type.
    pub machine: String,
    /// The documented fixes applied.
    pub fixes: Vec<Fix>,
    /// SLOF or VOF.
    pub firmware: Firmware,
    /// RAM, MiB.
    pub memory_mib: u32,
}

/// Where a cell ran: on a pool worker, or inside an emulated host's session
/// (which itself ran on a worker).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Lane {
    /// Booted directly by worker `worker` (0-based).
    Worker {
        /// The worker.
        worker: usize,
    },
    /// Run by the emulated host session `key`, which worker `worker` ran.
    Session {
        /// The session's key ([`SessionRecord::key`]).
        key: String,
        /// The worker.
        worker: usize,
    },
}

/// A cell's files, relative to the output directory; `None` for a file the
/// cell does not have (a skipped cell has no console).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellLogs {
    /// `cells/<dir>`.
    #[serde(default)]
    pub dir: Option<String>,
    /// `cells/<dir>/console.log`.
    #[serde(default)]
    pub console: Option<String>,
    /// `cells/<dir>/qemu-stderr.log`.
    #[serde(default)]
    pub stderr: Option<String>,
    /// `cells/<dir>/repro.sh`.
    #[serde(default)]
    pub repro: Option<String>,
}

impl CellLogs {
    /// The files present in `out/<dir>`.
    pub fn find(out: &Path, dir: &str) -> CellLogs {
        let file = |name: &str| {
            let rel = format!("{dir}/{name}");
            out.join(&rel).is_file().then_some(rel)
        };
        CellLogs {
            dir: out.join(dir).is_dir().then(|| dir.to_string()),
            console: file("console.log"),
            stderr: file("qemu-stderr.log"),
            repro: file("repro.sh"),
        }
    }
}

/// Facts about a run as a whole that the results cannot tell by themselves.
#[derive(Debug, Clone)]
pub struct RunFacts<'a> {
    /// The matrix file.
    pub matrix: String,
    /// SHA-256 of the matrix file.
    pub matrix_sha256: String,
    /// The JUnit suite name (the matrix file's stem).
    pub suite: String,
    /// The matrix's description.
    pub description: Option<String>,
    /// The probed host.
    pub host: &'a HostFacts,
    /// The probed host's kernel release.
    pub host_kernel: Option<String>,
    /// When the run started (seconds since the Unix epoch).
    pub started_unix: u64,
    /// Whole-run wall time.
    pub seconds: f64,
    /// True when the run was interrupted.
    pub interrupted: bool,
    /// Cells that passed only on retry count as failed.
    pub flaky_fails: bool,
    /// Which cells were asked for.
    pub selection: Selection,
    /// SHA-256 of every image the run resolved, by image name.
    pub image_sha256: BTreeMap<String, String>,
    /// The output directory (cell directories are recorded relative to it).
    pub out: PathBuf,
}

impl ResultsFile {
    /// The record of a finished run. Looks at `facts.out` only to record
    /// which of each cell's files exist.
    pub fn from_run(results: &[CellResult], facts: &RunFacts) -> ResultsFile {
        let cells: Vec<CellRecord> = results.iter().map(|r| record(r, facts)).collect();
        let mut sessions: Vec<SessionRecord> = Vec::new();
        for r in results {
            if let Some(s) = &r.timing.session {
                // Cells are told as they finish: the session's span is
                // their widest, its probe the one any of them carries.
                if let Some(k) = sessions.iter_mut().find(|k| k.key == s.key) {
                    k.end = k.end.max(s.end);
                    if k.probed.is_none() {
                        k.probed = s.probed.as_deref().map(crate::host::HostReport::of);
                    }
                } else {
                    let console =
                        format!("hosts/{}/console.log", crate::run::cell_dir_name(&s.key));
                    sessions.push(SessionRecord {
                        run: 0,
                        key: s.key.clone(),
                        worker: r.timing.worker,
                        start: s.start,
                        end: s.end,
                        console: facts.out.join(&console).is_file().then_some(console),
                        probed: s.probed.as_deref().map(crate::host::HostReport::of),
                    });
                }
            }
        }
        let run = RunRecord {
            source: None,
            started_unix: facts.started_unix,
            seconds: facts.seconds,
            interrupted: facts.interrupted,
            partition: facts.selection.partition.clone(),
            host: HostRecord::from_facts(facts.host, facts.host_kernel.clone()),
            qemu: qemu_levels(results, facts.host),
            kernels: kernels(results, &facts.image_sha256),
        };
        let mut file = ResultsFile {
            version: FORMAT_VERSION,
            matrix: facts.matrix.clone(),
            matrix_sha256: facts.matrix_sha256.clone(),
            suite: facts.suite.clone(),
            description: facts.description.clone(),
            qemu_version: facts.host.qemu.as_ref().map(|q| version_text(q.version)),
            host: serde_json::to_value(facts.host).unwrap_or_default(),
            started_unix: facts.started_unix,
            seconds: facts.seconds,
            interrupted: facts.interrupted,
            flaky_fails: facts.flaky_fails,
            counts: BTreeMap::new(),
            selection: facts.selection.clone(),
            missing: Vec::new(),
            runs: vec![run],
            sessions,
            cells,
        };
        file.count();
        file
    }

    /// Recomputes [`ResultsFile::counts`] from the cells.
    pub fn count(&mut self) {
        self.counts.clear();
        for c in &self.cells {
            *self.counts.entry(c.status).or_default() += 1;
        }
    }

    /// How many cells ended with `status`.
    pub fn count_of(&self, status: Status) -> usize {
        self.counts.get(&status).copied().unwrap_or(0)
    }

    /// Reads a results.json written by a run or a merge, of this version or
    /// an older one.
    pub fn load(path: &Path) -> Result<ResultsFile> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::bad_input(format!(
                "{}: cannot read: {e} (give a run's --out directory or its results.json)",
                path.display()
            ))
        })?;
        let mut file: ResultsFile = serde_json::from_str(&text).map_err(|e| {
            Error::bad_input(format!(
                "{}:{}: not a bootmatrix results.json: {e}",
                path.display(),
                e.line()
            ))
        })?;
        file.upgrade();
        Ok(file)
    }

    /// Fills in what a version 1 file lacks: its one run, its counts, its
    /// suite name.
    fn upgrade(&mut self) {
        if self.runs.is_empty() {
            self.runs.push(RunRecord {
                source: None,
                started_unix: self.started_unix,
                seconds: self.seconds,
                interrupted: self.interrupted,
                partition: self.selection.partition.clone(),
                host: HostRecord::from_value(&self.host),
                qemu: self
                    .qemu_version
                    .iter()
                    .map(|v| QemuRecord {
                        level: 0,
                        version: v.clone(),
                        from: "qemu-system-ppc64".into(),
                    })
                    .collect(),
                kernels: Vec::new(),
            });
        }
        if self.counts.is_empty() {
            self.count();
        }
        if self.suite.is_empty() {
            self.suite = Path::new(&self.matrix)
                .file_stem()
                .map_or("bootmatrix".into(), |s| s.to_string_lossy().into_owned());
        }
    }
}

fn version_text(v: (u32, u32, u32)) -> String {
    format!("{}.{}.{}", v.0, v.1, v.2)
}

/// The qemu of each level: the probed one at level 0, and the distinct
/// qemus inside the emulated hosts at level 1.
fn qemu_levels(results: &[CellResult], host: &HostFacts) -> Vec<QemuRecord> {
    let mut out: Vec<QemuRecord> = host
        .qemu
        .iter()
        .map(|q| QemuRecord {
            level: 0,
            version: version_text(q.version),
            from: q.path.clone(),
        })
        .collect();
    for r in results.iter().filter(|r| r.cell.host.kind.is_emulated()) {
        let q = crate::chain::inner_qemu(&r.cell.host);
        let rec = QemuRecord {
            level: 1,
            version: version_text(q.version),
            from: format!("Debian {} (ppc64el)", q.release),
        };
        if !out.contains(&rec) {
            out.push(rec);
        }
    }
    out
}

/// The guest and host kernels of the cells, in order of first use.
fn kernels(results: &[CellResult], image_sha256: &BTreeMap<String, String>) -> Vec<KernelRecord> {
    let mut out: Vec<KernelRecord> = Vec::new();
    let mut add = |k: &crate::model::Kernel, role: KernelRole, release: Option<&String>| {
        let i = out
            .iter()
            .position(|r| r.name == k.name)
            .unwrap_or_else(|| {
                out.push(KernelRecord {
                    name: k.name.clone(),
                    image: k.image.clone(),
                    page_size: k.page_size,
                    roles: Vec::new(),
                    release: None,
                    sha256: image_sha256.get(&k.image).cloned(),
                });
                out.len() - 1
            });
        if !out[i].roles.contains(&role) {
            out[i].roles.push(role);
            out[i].roles.sort();
        }
        if out[i].release.is_none() {
            out[i].release = release.cloned();
        }
    };
    for r in results {
        let report = r
            .attempts
            .last()
            .and_then(|a| a.observation.as_ref())
            .and_then(|o| o.report.as_ref());
        add(
            &r.cell.guest.kernel,
            KernelRole::Guest,
            report.map(|rep| &rep.release),
        );
        if let Some(k) = &r.cell.host.kernel {
            add(k, KernelRole::Host, None);
        }
    }
    out
}

fn record(r: &CellResult, facts: &RunFacts) -> CellRecord {
    let obs = r.attempts.last().and_then(|a| a.observation.as_ref());
    let report = obs.and_then(|o| o.report.as_ref());
    let dir = format!(
        "cells/{}",
        r.dir.file_name().map_or_else(
            || crate::run::cell_dir_name(&r.name),
            |n| n.to_string_lossy().into_owned()
        )
    );
    let failed = r.verdict.status.is_bad();
    let host = &r.cell.host;
    let guest = &r.cell.guest;
    CellRecord {
        name: r.name.clone(),
        health: obs.map(|o| o.health.clone()).unwrap_or_default(),
        kmsg_err: report.and_then(|rep| rep.kmsg_err),
        kernels: r.kernels.clone(),
        status: r.verdict.status,
        summary: r.verdict.summary.clone(),
        details: r.verdict.details.clone(),
        expected: r.expected.to_string(),
        expected_error: match &r.expected {
            Outcome::Fails { error, .. } => Some(error.id().to_string()),
            Outcome::Boots { .. } => None,
        },
        rule: r.prediction.rule.clone(),
        row: r.cell.row.clone(),
        seconds: r.seconds,
        attempts: r.attempts.len(),
        flaky: r.flaky,
        reruns: if r.flaky {
            r.attempts
                .iter()
                .filter(|a| a.verdict.status == Status::Failed)
                .map(|a| Rerun {
                    summary: a.verdict.summary.clone(),
                    seconds: a.seconds,
                })
                .collect()
        } else {
            Vec::new()
        },
        guest_kernel: report.map(|rep| rep.release.clone()),
        guest_mmu: report.map(|rep| rep.mmu_word.clone()),
        guest_page_size: report.and_then(|rep| rep.page_size),
        boot_seconds: report.and(obs).map(|o| o.elapsed.as_secs_f64()),
        errors_seen: obs
            .map(|o| o.documented.iter().map(|e| e.id.id().to_string()).collect())
            .unwrap_or_default(),
        error_text: obs
            .and_then(|o| o.documented.first())
            .map(|e| e.line.clone()),
        skip_reason: (r.verdict.status == Status::Skipped).then(|| r.verdict.summary.clone()),
        argv: r.argv.clone(),
        host: Some(CellHost {
            kind: host.kind,
            mmu: host.mmu,
            page_size: host.page_size,
            nested: host.nested,
            kernel: match &host.kernel {
                Some(k) => Some(k.name.clone()),
                None if !host.kind.is_emulated() => facts.host_kernel.clone(),
                None => None,
            },
            qemu: host.kind.is_emulated().then(|| {
                let q = crate::chain::inner_qemu(host);
                format!("{} from Debian {}", version_text(q.version), q.release)
            }),
        }),
        guest: Some(CellGuest {
            kernel: guest.kernel.name.clone(),
            mmu: guest.mmu,
            page_size: guest.kernel.page_size,
            accel: guest.accel,
            machine: guest.machine.name.clone(),
            fixes: guest.fixes.clone(),
            firmware: guest.firmware,
            memory_mib: guest.memory_mib,
        }),
        run: 0,
        start: Some(r.timing.start),
        end: Some(r.timing.end),
        lane: Some(match &r.timing.session {
            Some(s) => Lane::Session {
                key: s.key.clone(),
                worker: r.timing.worker,
            },
            None => Lane::Worker {
                worker: r.timing.worker,
            },
        }),
        relay_seconds: r.timing.relay_seconds,
        logs: CellLogs::find(&facts.out, &dir),
        console_tail: if failed {
            obs.map(|o| o.console_tail.clone()).unwrap_or_default()
        } else {
            Vec::new()
        },
        stderr_tail: if failed {
            obs.map(|o| o.stderr_tail.clone()).unwrap_or_default()
        } else {
            Vec::new()
        },
    }
}
