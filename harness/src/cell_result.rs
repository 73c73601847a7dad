//! A finished cell as a value: its verdict, every attempt with what was
//! observed, where it ran and which kernels it booted. The runner produces
//! these, events carry them to listeners (the progress display, the relay of
//! a run inside an emulated host) and the reports are written from them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::model::{Cell, Outcome};
use crate::observation::Observation;
use crate::rules::Prediction;
use crate::verdict::Verdict;

/// One attempt at a cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// The verdict of this attempt.
    pub verdict: Verdict,
    /// Wall time.
    pub seconds: f64,
    /// What the watch saw.
    pub observation: Option<Observation>,
    /// qemu's exit status once torn down.
    pub exit_status: Option<i32>,
}

/// Everything known about a finished cell.
#[derive(Debug, Clone, Serialize)]
pub struct CellResult {
    /// The cell's name.
    pub name: String,
    /// The cell.
    pub cell: Cell,
    /// The rules' prediction.
    pub prediction: Prediction,
    /// What had to happen.
    pub expected: Outcome,
    /// The final verdict (the last attempt's, or a pass after retries).
    pub verdict: Verdict,
    /// Every attempt, first to last.
    pub attempts: Vec<Attempt>,
    /// True when an attempt failed and a later one passed.
    pub flaky: bool,
    /// The cell's directory (logs, repro.sh, verdict).
    pub dir: PathBuf,
    /// The qemu argv, when it booted.
    pub argv: Vec<String>,
    /// Total wall time over attempts.
    pub seconds: f64,
    /// When and where it ran, for the report's timeline.
    pub timing: Timing,
    /// The kernels it used (guest, and the emulated host's), as prepared
    /// for the run; those that could not be prepared are left out, and a
    /// skipped cell has none.
    pub kernels: Vec<KernelUsed>,
}

/// When and where a cell ran: its span in seconds since the run started
/// (`run::RunOptions::epoch`), the pool worker that ran it, and the emulated
/// host session it ran in, if any. The report draws its timeline from these.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timing {
    /// Seconds from the run's start to the cell's start.
    pub start: f64,
    /// Seconds from the run's start to the cell's end.
    pub end: f64,
    /// The pool worker (0-based) that ran the cell (or its host session).
    pub worker: usize,
    /// The emulated host session the cell ran inside.
    pub session: Option<SessionTiming>,
    /// For a cell run inside an emulated host: seconds from its verdict
    /// there to its verdict's frame being written to the host's console
    /// (its logs travel first), as the run inside measured it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relay_seconds: Option<f64>,
}

/// The span of an emulated host's session, in seconds since the run
/// started.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SessionTiming {
    /// The session's key.
    pub key: String,
    /// When the host was started.
    pub start: f64,
    /// When the host had run its last cell (or stopped).
    pub end: f64,
    /// What the bootmatrix inside the host probed, once it said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probed: Option<Box<crate::host::HostFacts>>,
}

/// What a run knows of a prepared kernel image: what a release is
/// qualified by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelImage {
    /// The release its own `Linux version` banner names (`None`: no
    /// banner found).
    pub release: Option<String>,
    /// SHA-256 of the kernel file booted.
    pub sha256: String,
    /// Where it came from (a URL, `apt …`, `xbps … from …`, a path).
    pub origin: String,
}

/// Which kernel of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KernelRole {
    /// The guest's kernel, the innermost level.
    Guest,
    /// The kernel of the cell's emulated host.
    Host,
}

impl KernelRole {
    /// `guest` or `host`, as reports name it.
    pub fn word(self) -> &'static str {
        match self {
            KernelRole::Guest => "guest",
            KernelRole::Host => "host",
        }
    }
}

/// One kernel a cell used, as results record it, so that a qualified
/// release is known by its bytes and not by the matrix's name alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelUsed {
    /// Guest or host.
    pub role: KernelRole,
    /// The matrix's name of the kernel.
    pub name: String,
    /// The image it booted (a kernel under test: `kernel-under-test:NAME`).
    pub image: String,
    /// The release, SHA-256 and origin of that image.
    #[serde(flatten)]
    pub file: KernelImage,
}

impl KernelUsed {
    /// The kernels `cell` uses whose images are in `images` (by image
    /// name): its guest's, then its emulated host's.
    pub fn of_cell(cell: &Cell, images: &BTreeMap<String, KernelImage>) -> Vec<KernelUsed> {
        [
            (KernelRole::Guest, Some(&cell.guest.kernel)),
            (KernelRole::Host, cell.host.kernel.as_ref()),
        ]
        .into_iter()
        .filter_map(|(role, k)| {
            let k = k?;
            Some(KernelUsed {
                role,
                name: k.name.clone(),
                image: k.image.clone(),
                file: images.get(&k.image)?.clone(),
            })
        })
        .collect()
    }
}
