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
    /// Run inside an emulated host: `session` indexes the run's
    /// [`HostSession`]s, `argv` is the command inside the host.
    Inner {
        /// Which host session runs it.
        session: usize,
        /// The qemu argv inside the host.
        argv: Vec<String>,
    },
}

/// One boot of an emulated host that runs several cells in turn (see
/// [`crate::chain`]).
#[derive(Debug, Clone)]
pub struct HostSession {
    /// Names the host (and its directory under `hosts/`).
    pub key: String,
    /// The level-0 command.
    pub command: QemuCommand,
    /// Indices of its cells in the planned list, in the order they run.
    pub cells: Vec<usize>,
    /// RAM the host claims, MiB.
    pub memory_mib: u32,
    /// How long the host may take to boot and load KVM.
    pub boot_timeout: Duration,
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
    /// When and where it ran, for the report's timeline.
    pub timing: Timing,
}

/// When and where a cell ran: its span in seconds since the run started
/// ([`RunOptions::epoch`]), the pool worker that ran it, and the emulated
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
}

/// The span of an emulated host's session (see [`HostSession`]), in seconds
/// since the run started.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SessionTiming {
    /// The session's key ([`HostSession::key`]).
    pub key: String,
    /// When the host was started.
    pub start: f64,
    /// When the host had run its last cell (or stopped).
    pub end: f64,
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
    /// When the run started: cell timings count from here.
    pub epoch: Instant,
}

/// A cell's directory name: its name with path separators made safe.
pub fn cell_dir_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The order cells start in: longest expected first (previous run's
/// durations, else the timeout as a proxy of how slow the cell's kind is),
/// so that the makespan is not set by one long cell started last.
pub fn schedule_order(cells: &[PlannedCell], previous: &BTreeMap<String, f64>) -> Vec<usize> {
    let mut order: Vec<usize> = (0..cells.len()).collect();
    let guess = |p: &PlannedCell| -> f64 {
        match &p.action {
            Action::Settled(_) | Action::Inner { .. } => -1.0,
            Action::Boot(_) => previous
                .get(&p.cell.name)
                .copied()
                .unwrap_or(p.cell.timeout.as_secs_f64() / 10.0),
        }
    };
    order.sort_by(|&a, &b| {
        guess(&cells[b])
            .total_cmp(&guess(&cells[a]))
            .then(a.cmp(&b))
    });
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

/// A unit of work for the pool.
enum Work {
    Cell(usize),
    Session(usize),
}

/// Runs every planned cell and host session and returns the results in
/// matrix order. `on_done` is called as each cell finishes.
pub fn execute(
    cells: Vec<PlannedCell>,
    sessions: Vec<HostSession>,
    opts: &RunOptions,
    progress: &Progress,
    on_done: &(dyn Fn(&CellResult) + Sync),
) -> Vec<CellResult> {
    // Verdicts reached without booting are told at once; then emulated
    // hosts, which take longest; then cells, longest first.
    let mut work: VecDeque<Work> = (0..cells.len())
        .filter(|&i| matches!(cells[i].action, Action::Settled(_)))
        .map(Work::Cell)
        .collect();
    work.extend((0..sessions.len()).map(Work::Session));
    work.extend(
        schedule_order(&cells, &opts.previous_seconds)
            .into_iter()
            .filter(|&i| matches!(cells[i].action, Action::Boot(_)))
            .map(Work::Cell),
    );
    let queue: Mutex<VecDeque<Work>> = Mutex::new(work);
    let results: Mutex<Vec<Option<CellResult>>> = Mutex::new(vec![None; cells.len()]);
    let budget = Arc::new(Budget {
        free_mib: Mutex::new(opts.memory_budget_mib),
        freed: Condvar::new(),
        total: opts.memory_budget_mib,
    });
    let (cells, sessions) = (&cells, &sessions);
    let finish = |r: CellResult, i: usize| {
        on_done(&r);
        progress.cell_done(&r);
        results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
    };
    let since_epoch = || opts.epoch.elapsed().as_secs_f64();
    std::thread::scope(|s| {
        for worker in 0..opts.jobs.max(1) {
            let (queue, budget, finish) = (&queue, &budget, &finish);
            s.spawn(move || loop {
                let Some(w) = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front() else {
                    break;
                };
                match w {
                    Work::Cell(i) => {
                        let start = since_epoch();
                        let mut r = run_one(&cells[i], opts, budget, progress);
                        r.timing = Timing {
                            start,
                            end: since_epoch(),
                            worker,
                            session: None,
                        };
                        finish(r, i)
                    }
                    Work::Session(k) => {
                        for (i, mut r) in run_session(&sessions[k], cells, opts, budget, progress) {
                            r.timing.worker = worker;
                            finish(r, i);
                        }
                    }
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

fn blank_result(planned: &PlannedCell, dir: PathBuf) -> CellResult {
    CellResult {
        name: planned.cell.name.clone(),
        cell: planned.cell.clone(),
        prediction: planned.prediction.clone(),
        expected: planned.expected.clone(),
        verdict: Verdict::error("not run"),
        attempts: Vec::new(),
        flaky: false,
        dir,
        argv: Vec::new(),
        seconds: 0.0,
        timing: Timing::default(),
    }
}

/// Boots an emulated host once and runs its cells in turn.
fn run_session(
    session: &HostSession,
    cells: &[PlannedCell],
    opts: &RunOptions,
    budget: &Budget,
    progress: &Progress,
) -> Vec<(usize, CellResult)> {
    let host_dir = opts.out_dir.join("hosts").join(cell_dir_name(&session.key));
    let _ = std::fs::create_dir_all(&host_dir);
    let _ = std::fs::write(
        host_dir.join("repro.sh"),
        session
            .command
            .repro_script(&format!("emulated host {}", session.key)),
    );
    set_executable(&host_dir.join("repro.sh"));
    let timeouts: Vec<Duration> = session
        .cells
        .iter()
        .map(|&i| cells[i].cell.timeout)
        .collect();
    let held = budget.take(session.memory_mib as u64);
    let started = Instant::now();
    let mut watch_end = started;
    let watched = RunningGuest::spawn(&session.command, &host_dir).map(|mut guest| {
        let ticket = progress.cell_started(&format!("host {}", session.key), guest.console_tail());
        let seen = guest.watch_session(&timeouts, session.boot_timeout);
        watch_end = Instant::now();
        // OPAL power-off does not end a powernv qemu: end it here.
        guest.finish(Duration::from_secs(1));
        progress.cell_stopped(ticket);
        seen
    });
    budget.give(held);
    let host_seconds = started.elapsed().as_secs_f64();
    let offset = |at: Instant| at.saturating_duration_since(opts.epoch).as_secs_f64();
    let span = SessionTiming {
        key: session.key.clone(),
        start: offset(started),
        end: offset(watch_end),
    };
    let elapsed: Vec<Option<f64>> = match &watched {
        Ok(seen) => seen
            .cells
            .iter()
            .map(|o| o.as_ref().map(|o| o.elapsed.as_secs_f64()))
            .collect(),
        Err(_) => vec![None; session.cells.len()],
    };
    let spans = inner_spans(&elapsed, span.end);
    let host_log = std::fs::read_to_string(host_dir.join("console.log")).unwrap_or_default();
    let mut out = Vec::new();
    for (n, &i) in session.cells.iter().enumerate() {
        let planned = &cells[i];
        let dir = opts
            .out_dir
            .join("cells")
            .join(cell_dir_name(&planned.cell.name));
        let _ = std::fs::create_dir_all(&dir);
        let mut r = blank_result(planned, dir.clone());
        let Action::Inner { argv, .. } = &planned.action else {
            continue;
        };
        r.argv = argv.clone();
        let _ = std::fs::write(
            dir.join("repro.sh"),
            crate::chain::repro_script(&planned.cell.name, &session.command, argv),
        );
        set_executable(&dir.join("repro.sh"));
        let own = segment(&host_log, n);
        let _ = std::fs::write(dir.join("console.log"), &own);
        // The cell's own last lines, without the host's framing (the shared
        // tail may already hold the next cell's first lines).
        let own_tail: Vec<String> = {
            let lines: Vec<&str> = own
                .lines()
                .filter(|l| !l.contains("BOOTMATRIX-L2-"))
                .collect();
            lines[lines.len().saturating_sub(40)..]
                .iter()
                .map(|l| l.to_string())
                .collect()
        };
        let (verdict, obs, seconds) = match &watched {
            Err(e) => (Verdict::error(e.message()), None, 0.0),
            Ok(seen) => match &seen.cells[n] {
                Some(obs) => {
                    let mut obs = obs.clone();
                    obs.console_tail = own_tail;
                    (
                        verdict::decide(&planned.cell, &planned.expected, &obs),
                        Some(obs.clone()),
                        obs.elapsed.as_secs_f64(),
                    )
                }
                None if teardown::interrupted() => (
                    Verdict {
                        status: Status::Interrupted,
                        summary: "the run was interrupted before this cell finished".into(),
                        details: vec![],
                    },
                    None,
                    0.0,
                ),
                None => {
                    let why = if !seen.ready {
                        format!(
                            "the emulated host {} never became ready ({:?} after {host_seconds:.0} s){}",
                            session.key,
                            seen.ended,
                            seen.host_lines.first().map(|l| format!(": {l}")).unwrap_or_default()
                        )
                    } else {
                        format!(
                            "the emulated host {} stopped before this cell finished ({:?})",
                            session.key, seen.ended
                        )
                    };
                    (Verdict::error(&why), None, 0.0)
                }
            },
        };
        r.seconds = seconds;
        r.timing = Timing {
            start: spans[n].0,
            end: spans[n].1,
            worker: 0,
            session: Some(span.clone()),
        };
        r.attempts.push(Attempt {
            verdict: verdict.clone(),
            seconds,
            observation: obs,
            exit_status: None,
        });
        r.verdict = verdict;
        write_cell_files(&r);
        out.push((i, r));
    }
    out
}

/// The spans of a host session's inner runs, given how long each one that
/// finished took and when the session's watch ended. The host runs them
/// back to back and ends right after the last, so each span is placed by
/// counting back from the end; a run that never finished gets an empty span
/// where it would have started.
pub fn inner_spans(elapsed: &[Option<f64>], end: f64) -> Vec<(f64, f64)> {
    let mut cursor = end;
    let mut spans = vec![(end, end); elapsed.len()];
    for (n, e) in elapsed.iter().enumerate().rev() {
        let took = e.unwrap_or(0.0);
        spans[n] = ((cursor - took).max(0.0), cursor);
        cursor = spans[n].0;
    }
    spans
}

/// The lines of an emulated host's console between the frames of inner
/// run `n`.
fn segment(log: &str, n: usize) -> String {
    let begin = format!("{} {n}", crate::chain::L2_BEGIN);
    let end = format!("{} {n} ", crate::chain::L2_END);
    let mut inside = false;
    let mut out = String::new();
    for line in log.lines() {
        if line.contains(&begin) {
            inside = true;
        }
        if inside {
            out.push_str(line.trim_end_matches('\r'));
            out.push('\n');
        }
        if line.contains(&end) {
            break;
        }
    }
    out
}

fn run_one(
    planned: &PlannedCell,
    opts: &RunOptions,
    budget: &Budget,
    progress: &Progress,
) -> CellResult {
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
        timing: Timing::default(),
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
        Action::Inner { .. } => unreachable!("inner cells run in their host session"),
    };
    result.argv = cmd.argv();
    let _ = std::fs::write(dir.join("repro.sh"), cmd.repro_script(&cell.name));
    set_executable(&dir.join("repro.sh"));
    for attempt in 0..=opts.retries {
        if teardown::interrupted() {
            result.verdict = Verdict {
                status: Status::Interrupted,
                summary: "the run was interrupted before this cell started".into(),
                details: vec![],
            };
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

fn boot_once(
    planned: &PlannedCell,
    cmd: &QemuCommand,
    dir: &Path,
    progress: &Progress,
    attempt: u32,
) -> Attempt {
    let cell = &planned.cell;
    let log_dir = if attempt == 0 {
        dir.to_path_buf()
    } else {
        dir.join(format!("attempt-{}", attempt + 1))
    };
    let _ = std::fs::create_dir_all(&log_dir);
    let mut guest = match RunningGuest::spawn(cmd, &log_dir) {
        Ok(g) => g,
        Err(e) => {
            return Attempt {
                verdict: Verdict::error(e.message()),
                seconds: 0.0,
                observation: None,
                exit_status: None,
            }
        }
    };
    let ticket = progress.cell_started(&cell.name, guest.console_tail());
    let obs = guest.watch(cell.timeout);
    let verdict = verdict::decide(cell, &planned.expected, &obs);
    // A guest that printed its marker is powering off: give it a moment to
    // end by itself, which is cheaper than a kill and leaves clean logs.
    let exit_status = guest.finish(Duration::from_secs(3));
    progress.cell_stopped(ticket);
    Attempt {
        verdict,
        seconds: 0.0,
        observation: Some(obs),
        exit_status,
    }
}

fn set_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
}

/// Writes `verdict.txt` and `result.json` into the cell's directory.
fn write_cell_files(r: &CellResult) {
    let mut text = format!(
        "{} {}\n{}\n",
        r.verdict.status.word(),
        r.name,
        r.verdict.summary
    );
    for d in &r.verdict.details {
        text.push_str(&format!("  {d}\n"));
    }
    text.push_str(&format!(
        "expected: {}\nrule: {}\n",
        r.expected, r.prediction.rule
    ));
    if let Some(row) = &r.cell.row {
        text.push_str(&format!("row: {row}\n"));
    }
    let _ = std::fs::write(r.dir.join("verdict.txt"), text);
    if let Ok(json) = serde_json::to_string_pretty(r) {
        let _ = std::fs::write(r.dir.join("result.json"), json);
    }
}
