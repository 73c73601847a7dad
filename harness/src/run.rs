//! How cells run: a pool of workers boots planned cells in parallel within
//! the machine's cores and memory, longest first, each with its timeout,
//! retries and teardown, and hands every result to the reporter as it comes.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::console::RunningGuest;
use crate::event::{Event, Listener, Slot};
use crate::health::Suppressions;
use crate::model::{Cell, Outcome};
use crate::observation::Observation;
use crate::plan::{self, Placement, Plan, PlannedCell, Readiness, Session};
use crate::qemu::QemuCommand;
use crate::rules::Prediction;
use crate::teardown;
use crate::verdict::{self, Checks, Status, Verdict, WarningPolicy};

/// Prepared files by placeholder ([`plan::FileRef::placeholder`]): a path,
/// or why it could not be prepared (then the cells that need it are
/// infrastructure errors, the others run).
pub type Files = BTreeMap<String, Result<PathBuf, String>>;

/// What the runner does with one planned cell, once its files are bound.
#[derive(Debug, Clone)]
enum Action {
    /// Boot this command.
    Boot(QemuCommand),
    /// Do not boot; this is the verdict.
    Settled(Verdict),
    /// Run inside the emulated host of its session; `argv` is the command
    /// inside the host.
    Inner { argv: Vec<String> },
}

/// A planned cell with its action.
struct Job<'a> {
    planned: &'a PlannedCell,
    action: Action,
    /// The release in the `Linux version` banner of the kernel the cell
    /// boots, which the guest must report (`None`: not checked).
    expected_release: Option<String>,
    /// The kernels it uses, for its result.
    kernels: Vec<KernelUsed>,
}

impl Job<'_> {
    fn cell(&self) -> &Cell {
        &self.planned.cell
    }
}

/// A session with its level-0 command bound (or why it cannot boot).
struct HostBoot<'a> {
    session: &'a Session,
    command: Result<QemuCommand, String>,
}

/// Binds the plan's placeholders: every cell gets its action, decided by
/// the plan alone (skips) or by what preparation produced (errors).
fn jobs<'a>(
    plan: &'a Plan,
    files: &Files,
    kernels: &BTreeMap<String, KernelImage>,
) -> (Vec<Job<'a>>, Vec<HostBoot<'a>>) {
    let boots: Vec<HostBoot> = plan
        .sessions
        .iter()
        .map(|s| HostBoot {
            session: s,
            command: plan::bind(&s.command, files),
        })
        .collect();
    let jobs = plan
        .cells
        .iter()
        .map(|p| {
            let action = match (&p.readiness, &p.placement) {
                (Readiness::Skipped { .. }, _) => {
                    Action::Settled(Verdict::skipped(&p.readiness.reason().unwrap_or_default()))
                }
                (Readiness::Runnable, Placement::Here { command }) => {
                    match plan::bind(command, files) {
                        Ok(c) => Action::Boot(c),
                        Err(e) => Action::Settled(Verdict::error(&e)),
                    }
                }
                (
                    Readiness::Runnable,
                    Placement::InHost {
                        session: k,
                        command,
                    },
                ) => match &boots[*k].command {
                    Ok(_) => Action::Inner {
                        argv: command.argv(),
                    },
                    Err(e) => Action::Settled(Verdict::error(&format!(
                        "cannot build the emulated host {}: {e}",
                        boots[*k].session.key
                    ))),
                },
            };
            // The guest must report the release its kernel image's banner
            // names, as the image store read it.
            let expected_release = match &action {
                Action::Boot(_) | Action::Inner { .. } => kernels
                    .get(&p.cell.guest.kernel.image)
                    .and_then(|k| k.release.clone()),
                Action::Settled(_) => None,
            };
            Job {
                planned: p,
                action,
                expected_release,
                // A skipped cell boots no kernel.
                kernels: if p.runnable() {
                    KernelUsed::of_cell(&p.cell, kernels)
                } else {
                    Vec::new()
                },
            }
        })
        .collect();
    (jobs, boots)
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
    /// What kernel warnings do to a verdict (`--warnings`).
    pub warnings: WarningPolicy,
    /// Known kernel noise (`--suppressions`).
    pub suppressions: Suppressions,
    /// When the run started: cell timings count from here.
    pub epoch: Instant,
    /// Whether `known_failure` marks turn failures into expected failures
    /// (and passes into failures).
    pub known_failures: bool,
    /// The kernel images prepared for the run, by image name, recorded on
    /// each cell that uses them.
    pub kernels: BTreeMap<String, KernelImage>,
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
fn schedule_order(cells: &[Job], previous: &BTreeMap<String, f64>) -> Vec<usize> {
    let mut order: Vec<usize> = (0..cells.len()).collect();
    let guess = |p: &Job| -> f64 {
        match &p.action {
            Action::Settled(_) | Action::Inner { .. } => -1.0,
            Action::Boot(_) => previous
                .get(&p.cell().name)
                .copied()
                .unwrap_or(p.cell().timeout.as_secs_f64() / 10.0),
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

/// Shared by the workers of one run.
struct Pool<'a> {
    opts: &'a RunOptions,
    budget: Budget,
    events: &'a dyn Listener,
    slots: AtomicUsize,
}

impl Pool<'_> {
    fn slot(&self) -> Slot {
        Slot(self.slots.fetch_add(1, Ordering::Relaxed))
    }

    fn finished(&self, r: &CellResult) {
        self.events.on(Event::Finished {
            name: &r.name,
            status: r.verdict.status,
            summary: &r.verdict.summary,
            seconds: r.seconds,
            flaky: r.flaky,
        });
    }
}

/// Executes `plan` with its placeholders bound to `files`, and returns
/// every cell's result in plan order. Decides nothing about the rules:
/// skips and expectations come from the plan. Each event goes to `events`
/// as it happens.
pub fn execute(
    plan: &Plan,
    files: &Files,
    opts: &RunOptions,
    events: &dyn Listener,
) -> Vec<CellResult> {
    let (cells, boots) = jobs(plan, files, &opts.kernels);
    // Verdicts reached without booting are told at once; then emulated
    // hosts, which take longest; then cells, longest first.
    let mut work: VecDeque<Work> = (0..cells.len())
        .filter(|&i| matches!(cells[i].action, Action::Settled(_)))
        .map(Work::Cell)
        .collect();
    work.extend(
        (0..boots.len())
            .filter(|&k| boots[k].command.is_ok() && !boots[k].session.cells.is_empty())
            .map(Work::Session),
    );
    work.extend(
        schedule_order(&cells, &opts.previous_seconds)
            .into_iter()
            .filter(|&i| matches!(cells[i].action, Action::Boot(_)))
            .map(Work::Cell),
    );
    let queue: Mutex<VecDeque<Work>> = Mutex::new(work);
    let results: Mutex<Vec<Option<CellResult>>> = Mutex::new(vec![None; cells.len()]);
    let pool = Pool {
        opts,
        budget: Budget {
            free_mib: Mutex::new(opts.memory_budget_mib),
            freed: Condvar::new(),
            total: opts.memory_budget_mib,
        },
        events,
        slots: AtomicUsize::new(0),
    };
    let (cells, boots, pool) = (&cells, &boots, &pool);
    let finish = |r: CellResult, i: usize| {
        pool.finished(&r);
        results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
    };
    let since_epoch = || opts.epoch.elapsed().as_secs_f64();
    std::thread::scope(|s| {
        for worker in 0..opts.jobs.max(1) {
            let (queue, finish) = (&queue, &finish);
            s.spawn(move || loop {
                let Some(w) = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front() else {
                    break;
                };
                match w {
                    Work::Cell(i) => {
                        let start = since_epoch();
                        let mut r = run_one(&cells[i], pool);
                        r.timing = Timing {
                            start,
                            end: since_epoch(),
                            worker,
                            session: None,
                        };
                        finish(r, i)
                    }
                    Work::Session(k) => {
                        for (i, mut r) in run_session(&boots[k], cells, pool) {
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

fn blank_result(job: &Job, dir: PathBuf) -> CellResult {
    let planned = job.planned;
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
        kernels: job.kernels.clone(),
    }
}

/// Writes a file the README promises; a failure is the machine's trouble
/// and is reported on the cell, never ignored.
fn promised(path: &Path, contents: &[u8], executable: bool) -> Result<(), String> {
    let write = || -> std::io::Result<()> {
        std::fs::write(path, contents)?;
        if executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
        }
        Ok(())
    };
    write().map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Turns a cell's verdict into an infrastructure error when one of its
/// promised files could not be written.
fn or_write_error(r: &mut CellResult, written: Result<(), String>) {
    if let Err(e) = written {
        if r.verdict.status != Status::Interrupted {
            let was = format!("{} {}", r.verdict.status.word(), r.verdict.summary);
            r.verdict = Verdict::error(&e);
            r.verdict
                .details
                .push(format!("the cell's own verdict was: {was}"));
        }
    }
}

/// Boots an emulated host once and runs its cells in turn.
fn run_session(boot: &HostBoot, cells: &[Job], pool: &Pool) -> Vec<(usize, CellResult)> {
    let session = boot.session;
    let Ok(command) = &boot.command else {
        return Vec::new();
    };
    let opts = pool.opts;
    let key = session.key.to_string();
    let host_dir = opts.out_dir.join("hosts").join(cell_dir_name(&key));
    let host_files = std::fs::create_dir_all(&host_dir)
        .map_err(|e| format!("cannot create {}: {e}", host_dir.display()))
        .and_then(|()| {
            promised(
                &host_dir.join("repro.sh"),
                command
                    .repro_script(&format!("emulated host {key}"))
                    .as_bytes(),
                true,
            )
        });
    let timeouts: Vec<Duration> = session
        .cells
        .iter()
        .map(|&i| cells[i].cell().timeout)
        .collect();
    let held = pool.budget.take(session.memory_mib as u64);
    let started = Instant::now();
    let mut watch_end = started;
    let watched = host_files
        .clone()
        .map_err(crate::error::Error::infra)
        .and_then(|()| {
            RunningGuest::spawn(command, &host_dir).map(|mut guest| {
                let slot = pool.slot();
                pool.events.on(Event::Booting {
                    slot,
                    label: &format!("host {key}"),
                    console: guest.console_tail(),
                });
                let seen = guest.watch_session(&timeouts, session.boot_timeout());
                watch_end = Instant::now();
                // OPAL power-off does not end a powernv qemu: end it here.
                guest.finish(Duration::from_secs(1));
                pool.events.on(Event::Stopped { slot });
                seen
            })
        });
    pool.budget.give(held);
    let host_seconds = started.elapsed().as_secs_f64();
    let offset = |at: Instant| at.saturating_duration_since(opts.epoch).as_secs_f64();
    let span = SessionTiming {
        key: key.clone(),
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
        let job = &cells[i];
        let Action::Inner { argv, .. } = &job.action else {
            continue;
        };
        let dir = opts
            .out_dir
            .join("cells")
            .join(cell_dir_name(&job.cell().name));
        let mut r = blank_result(job, dir.clone());
        r.argv = argv.clone();
        let own = segment(&host_log, n);
        let files = std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))
            .and_then(|()| {
                promised(
                    &dir.join("repro.sh"),
                    crate::chain::repro_script(&job.cell().name, command, argv).as_bytes(),
                    true,
                )
            })
            .and_then(|()| promised(&dir.join("console.log"), own.as_bytes(), false));
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
                        judge(job, opts, &mut obs),
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
                            "the emulated host {key} never became ready ({:?} after {host_seconds:.0} s){}",
                            seen.ended,
                            seen.host_lines
                                .first()
                                .map(|l| format!(": {l}"))
                                .unwrap_or_default()
                        )
                    } else {
                        format!(
                            "the emulated host {key} stopped before this cell finished ({:?})",
                            seen.ended
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
        or_write_error(&mut r, files);
        let written = write_cell_files(&r);
        or_write_error(&mut r, written);
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

fn run_one(job: &Job, pool: &Pool) -> CellResult {
    let cell = job.cell();
    let opts = pool.opts;
    let dir = opts.out_dir.join("cells").join(cell_dir_name(&cell.name));
    let mut result = blank_result(job, dir.clone());
    if let Err(e) = std::fs::create_dir_all(&dir) {
        result.verdict = Verdict::error(&format!("cannot create {}: {e}", dir.display()));
        return result;
    }
    let cmd = match &job.action {
        Action::Settled(v) => {
            result.verdict = v.clone();
            let written = write_cell_files(&result);
            or_write_error(&mut result, written);
            return result;
        }
        Action::Boot(cmd) => cmd,
        Action::Inner { .. } => unreachable!("inner cells run in their host session"),
    };
    result.argv = cmd.argv();
    let repro = promised(
        &dir.join("repro.sh"),
        cmd.repro_script(&cell.name).as_bytes(),
        true,
    );
    if let Err(e) = repro {
        result.verdict = Verdict::error(&e);
        return result;
    }
    for attempt in 0..=opts.retries {
        if teardown::interrupted() {
            result.verdict = Verdict {
                status: Status::Interrupted,
                summary: "the run was interrupted before this cell started".into(),
                details: vec![],
            };
            break;
        }
        let held = pool.budget.take(cell.guest.memory_mib as u64);
        let started = Instant::now();
        let a = boot_once(job, cmd, &dir, pool, attempt);
        pool.budget.give(held);
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
    let written = write_cell_files(&result);
    or_write_error(&mut result, written);
    result
}

/// The verdict on an observation: suppressions marked on its findings,
/// then the run's checks.
fn judge(job: &Job, opts: &RunOptions, obs: &mut Observation) -> Verdict {
    opts.suppressions.apply(&mut obs.health);
    let checks = Checks {
        warnings: opts.warnings,
        expected_release: job.expected_release.clone(),
    };
    let v = verdict::decide_with(job.cell(), &job.planned.expected, obs, &checks);
    if opts.known_failures {
        verdict::against_known_failure(job.cell(), v)
    } else {
        v
    }
}

fn boot_once(job: &Job, cmd: &QemuCommand, dir: &Path, pool: &Pool, attempt: u32) -> Attempt {
    let cell = job.cell();
    let log_dir = if attempt == 0 {
        dir.to_path_buf()
    } else {
        dir.join(format!("attempt-{}", attempt + 1))
    };
    let spawned = std::fs::create_dir_all(&log_dir)
        .map_err(|e| format!("cannot create {}: {e}", log_dir.display()))
        .and_then(|()| RunningGuest::spawn(cmd, &log_dir).map_err(|e| e.message().to_string()));
    let mut guest = match spawned {
        Ok(g) => g,
        Err(e) => {
            return Attempt {
                verdict: Verdict::error(&e),
                seconds: 0.0,
                observation: None,
                exit_status: None,
            }
        }
    };
    let slot = pool.slot();
    pool.events.on(Event::Booting {
        slot,
        label: &cell.name,
        console: guest.console_tail(),
    });
    let mut obs = guest.watch(cell.timeout);
    let verdict = judge(job, pool.opts, &mut obs);
    // A guest that printed its marker is powering off: give it a moment to
    // end by itself, which is cheaper than a kill and leaves clean logs.
    let exit_status = guest.finish(Duration::from_secs(3));
    pool.events.on(Event::Stopped { slot });
    Attempt {
        verdict,
        seconds: 0.0,
        observation: Some(obs),
        exit_status,
    }
}

/// Writes `verdict.txt` and `result.json` into the cell's directory.
fn write_cell_files(r: &CellResult) -> Result<(), String> {
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
    promised(&r.dir.join("verdict.txt"), text.as_bytes(), false)?;
    let json = serde_json::to_string_pretty(r)
        .map_err(|e| format!("cannot render {}: {e}", r.dir.join("result.json").display()))?;
    promised(&r.dir.join("result.json"), json.as_bytes(), false)
}
