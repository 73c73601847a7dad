//! How cells run: a pool of workers boots planned cells in parallel within
//! the machine's cores and memory, longest first, each with its timeout,
//! retries and teardown, and hands every result to the reporter as it comes.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::console::{Observation, RunningGuest};
use crate::model::Cell;
use crate::progress::Progress;
use crate::qemu::QemuCommand;
use crate::rules::Prediction;
use crate::teardown;
use crate::verdict::{self, Expected, Status, Verdict};

/// A cell ready to run: what the rules said, what must happen, and either
/// the command to run or the reason it will not run.
#[derive(Debug, Clone)]
pub struct PlannedCell {
    /// The cell.
    pub cell: Cell,
    /// The rules' prediction for this host.
    pub prediction: Prediction,
    /// What must happen.
    pub expected: Expected,
    /// The command, or the verdict reached without booting (skipped,
    /// infrastructure error).
    pub action: Action,
}

/// Whether a planned cell boots.
#[derive(Debug, Clone)]
pub enum Action {
    /// Boot this command.
    Boot(QemuCommand),
    /// Do not boot; this is the verdict.
    Settled(Verdict),
}

/// One attempt at a cell.
#[derive(Debug, Clone, Serialize)]
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
    pub expected: Expected,
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
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Cells booted at once.
    pub jobs: usize,
    /// RAM the cells together may claim, in MiB.
    pub memory_budget_mib: u64,
    /// Extra attempts for a cell that fails.
    pub retries: u32,
    /// Where each cell gets its directory.
    pub out_dir: PathBuf,
    /// Durations of the previous run by cell name, to start long cells first.
    pub previous_seconds: BTreeMap<String, f64>,
}

/// A cell's directory name: its name with path separators made safe.
pub fn cell_dir_name(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_.+".contains(c) { c } else { '_' })
        .collect()
}

/// The order cells start in: longest expected first (previous run's
/// durations, else the timeout as a proxy of how slow the cell's kind is),
/// so that the makespan is not set by one long cell started last.
pub fn schedule_order(cells: &[PlannedCell], previous: &BTreeMap<String, f64>) -> Vec<usize> {
    let mut order: Vec<usize> = (0..cells.len()).collect();
    let guess = |p: &PlannedCell| -> f64 {
        match &p.action {
            Action::Settled(_) => -1.0,
            Action::Boot(_) => previous
                .get(&p.cell.name)
                .copied()
                .unwrap_or(p.cell.timeout.as_secs_f64() / 10.0),
        }
    };
    order.sort_by(|&a, &b| guess(&cells[b]).total_cmp(&guess(&cells[a])).then(a.cmp(&b)));
    order
}

struct Budget {
    free_mib: Mutex<u64>,
    freed: Condvar,
    total: u64,
}

impl Budget {
    fn take(&self, mib: u64) -> u64 {
        // A cell larger than the whole budget still runs, alone.
        let want = mib.min(self.total);
        let mut free = self.free_mib.lock().unwrap_or_else(|p| p.into_inner());
        while *free < want {
            free = self.freed.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= want;
        want
    }

    fn give(&self, mib: u64) {
        *self.free_mib.lock().unwrap_or_else(|p| p.into_inner()) += mib;
        self.freed.notify_all();
    }
}

/// Runs every planned cell and returns the results in matrix order.
/// `on_done` is called as each cell finishes (for reports written as the
/// run goes).
pub fn execute(
    cells: Vec<PlannedCell>,
    opts: &RunOptions,
    progress: &Progress,
    on_done: &(dyn Fn(&CellResult) + Sync),
) -> Vec<CellResult> {
    let order = schedule_order(&cells, &opts.previous_seconds);
    let queue: Mutex<VecDeque<usize>> = Mutex::new(order.into_iter().collect());
    let results: Mutex<Vec<Option<CellResult>>> = Mutex::new(vec![None; cells.len()]);
    let budget = Arc::new(Budget {
        free_mib: Mutex::new(opts.memory_budget_mib),
        freed: Condvar::new(),
        total: opts.memory_budget_mib,
    });
    let cells = &cells;
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.max(1) {
            s.spawn(|| loop {
                let Some(i) = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front() else { break };
                let planned = &cells[i];
                let result = run_one(planned, opts, &budget, progress);
                on_done(&result);
                progress.cell_done(&result);
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(result);
            });
        }
    });
    results.into_inner().unwrap_or_else(|p| p.into_inner()).into_iter().flatten().collect()
}

fn run_one(planned: &PlannedCell, opts: &RunOptions, budget: &Budget, progress: &Progress) -> CellResult {
    let cell = &planned.cell;
    let dir = opts.out_dir.join("cells").join(cell_dir_name(&cell.name));
    let mut result = CellResult {
        name: cell.name.clone(),
        cell: cell.clone(),
        prediction: planned.prediction.clone(),
        expected: planned.expected.clone(),
        verdict: Verdict::error("not run"),
        attempts: Vec::new(),
        flaky: false,
        dir: dir.clone(),
        argv: Vec::new(),
        seconds: 0.0,
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        result.verdict = Verdict::error(&format!("cannot create {}: {e}", dir.display()));
        return result;
    }
    let cmd = match &planned.action {
        Action::Settled(v) => {
            result.verdict = v.clone();
            write_cell_files(&result);
            return result;
        }
        Action::Boot(cmd) => cmd,
    };
    result.argv = cmd.argv();
    let _ = std::fs::write(dir.join("repro.sh"), cmd.repro_script(&cell.name));
    set_executable(&dir.join("repro.sh"));
    for attempt in 0..=opts.retries {
        if teardown::interrupted() {
            result.verdict = Verdict { status: Status::Interrupted, summary: "the run was interrupted before this cell started".into(), details: vec![] };
            break;
        }
        let held = budget.take(cell.guest.memory_mib as u64);
        let started = Instant::now();
        let a = boot_once(planned, cmd, &dir, progress, attempt);
        budget.give(held);
        let seconds = started.elapsed().as_secs_f64();
        result.seconds += seconds;
        let status = a.verdict.status;
        result.attempts.push(Attempt { seconds, ..a });
        if status != Status::Failed {
            break;
        }
    }
    let last = result.attempts.last().map(|a| a.verdict.clone());
    if let Some(v) = last {
        result.flaky = v.status == Status::Passed && result.attempts.len() > 1;
        result.verdict = v;
    }
    write_cell_files(&result);
    result
}

fn boot_once(planned: &PlannedCell, cmd: &QemuCommand, dir: &Path, progress: &Progress, attempt: u32) -> Attempt {
    let cell = &planned.cell;
    let log_dir = if attempt == 0 { dir.to_path_buf() } else { dir.join(format!("attempt-{}", attempt + 1)) };
    let _ = std::fs::create_dir_all(&log_dir);
    let mut guest = match RunningGuest::spawn(cmd, &log_dir) {
        Ok(g) => g,
        Err(e) => {
            return Attempt { verdict: Verdict::error(e.message()), seconds: 0.0, observation: None, exit_status: None }
        }
    };
    let ticket = progress.cell_started(&cell.name, guest.console_tail());
    let obs = guest.watch(cell.timeout);
    let verdict = verdict::decide(cell, &planned.expected, &obs);
    // A guest that printed its marker is powering off: give it a moment to
    // end by itself, which is cheaper than a kill and leaves clean logs.
    let exit_status = guest.finish(Duration::from_secs(3));
    progress.cell_stopped(ticket);
    Attempt { verdict, seconds: 0.0, observation: Some(obs), exit_status }
}

fn set_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
}

/// Writes `verdict.txt` and `result.json` into the cell's directory.
fn write_cell_files(r: &CellResult) {
    let mut text = format!("{} {}\n{}\n", r.verdict.status.word(), r.name, r.verdict.summary);
    for d in &r.verdict.details {
        text.push_str(&format!("  {d}\n"));
    }
    text.push_str(&format!("expected: {}\nrule: {}\n", r.expected, r.prediction.rule));
    if let Some(row) = &r.cell.row {
        text.push_str(&format!("row: {row}\n"));
    }
    let _ = std::fs::write(r.dir.join("verdict.txt"), text);
    if let Ok(json) = serde_json::to_string_pretty(r) {
        let _ = std::fs::write(r.dir.join("result.json"), json);
    }
}
