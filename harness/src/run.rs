//! How cells run: a pool of workers boots planned cells in parallel within
//! the machine's cores and memory, longest expected first (the plan's
//! [`Plan::start_order`]), each with its timeout,
//! retries and teardown, and hands every result to the reporter as it comes.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::console::RunningGuest;
use crate::event::{Event, Listener, Slot};
use crate::health::Suppressions;
use crate::hosted::{self, Update};
use crate::model::Cell;
use crate::observation::EndCause;
use crate::observation::Observation;
use crate::plan::{self, Placement, Plan, PlannedCell, Readiness, Session};
use crate::qemu::QemuCommand;
use crate::teardown;
use crate::verdict::{self, Checks, Status, Verdict, WarningPolicy};

pub use crate::cell_result::{
    Attempt, CellResult, KernelImage, KernelRole, KernelUsed, SessionTiming, Timing,
};

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
                        boots[*k].session.name()
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
            result: r,
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
    // hosts and cells booted here in the plan's one order, longest
    // expected first.
    let mut work: VecDeque<Work> = (0..cells.len())
        .filter(|&i| matches!(cells[i].action, Action::Settled(_)))
        .map(Work::Cell)
        .collect();
    work.extend(
        plan.start_order()
            .into_iter()
            .filter_map(|start| match start {
                plan::Start::Session(k) => boots[k].command.is_ok().then_some(Work::Session(k)),
                plan::Start::Cell(i) => {
                    matches!(cells[i].action, Action::Boot(_)).then_some(Work::Cell(i))
                }
            }),
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
                            relay_seconds: None,
                        };
                        finish(r, i)
                    }
                    Work::Session(k) => run_session(&boots[k], cells, pool, worker, finish),
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

/// Boots an emulated host once; the bootmatrix inside runs its cells and
/// relays each verdict, which is handed to `finish` as it arrives.
fn run_session(
    boot: &HostBoot,
    cells: &[Job],
    pool: &Pool,
    worker: usize,
    finish: &dyn Fn(CellResult, usize),
) {
    let session = boot.session;
    let Ok(command) = &boot.command else {
        return;
    };
    let opts = pool.opts;
    // The session's name, not its key: the parts of a split session each
    // get their own directory and lane.
    let key = session.name();
    let host_dir = opts.out_dir.join("hosts").join(cell_dir_name(&key));
    // An interrupted run boots no more hosts: the session's cells are told
    // as interrupted below, like cells that never started.
    let host_files = if teardown::interrupted() {
        Err("the run was interrupted before this host booted".to_string())
    } else {
        Ok(())
    };
    let host_files = host_files
        .and_then(|()| {
            std::fs::create_dir_all(&host_dir)
                .map_err(|e| format!("cannot create {}: {e}", host_dir.display()))
        })
        .and_then(|()| {
            promised(
                &host_dir.join("repro.sh"),
                command
                    .repro_script(&format!("emulated host {key}"))
                    .as_bytes(),
                true,
            )
        });
    let offset = |at: Instant| at.saturating_duration_since(opts.epoch).as_secs_f64();
    let started = Instant::now();
    let mut span = SessionTiming {
        key: key.clone(),
        start: offset(started),
        end: offset(started),
        probed: None,
    };
    // The session's cells not yet told, by name.
    let mut pending: BTreeMap<String, usize> = session
        .cells
        .iter()
        .map(|&i| (cells[i].cell().name.clone(), i))
        .collect();
    let mut starts: BTreeMap<String, f64> = BTreeMap::new();
    // Why the cells still pending at the end cannot be believed, when
    // something more precise than the host's end is known.
    let mut refused: Option<String> = None;
    let mut inner_exit: Option<i32> = None;
    let held = pool.budget.take(session.memory_mib as u64);
    let ended = match host_files
        .map_err(crate::error::Error::infra)
        .and_then(|()| RunningGuest::spawn(command, &host_dir))
    {
        Err(e) => Err(e.message().to_string()),
        Ok(mut guest) => {
            let slot = pool.slot();
            let tail = guest.console_tail();
            pool.events.on(Event::Booting {
                slot,
                label: &format!("host {key}"),
                console: tail.clone(),
            });
            let mut collector = hosted::Collector::new();
            // After a verdict, the run inside starts the next guest at once;
            // preparing its images before the first may take a while.
            let slack = Duration::from_secs(120);
            let retries = opts.retries + 1;
            let mut on_line = |line: &str| -> Option<Instant> {
                let now = Instant::now();
                // The host's init closes the stream (`None` below) after
                // the run inside, whatever became of it.
                let update = collector.line(line)?;
                match update {
                    Update::Probed(facts) => {
                        let wrong = session.expected.disagreements(&facts);
                        span.probed = Some(facts);
                        if !wrong.is_empty() {
                            refused = Some(format!(
                                "the emulated host {key} is not what the plan expected: {}",
                                wrong.join("; ")
                            ));
                            return None;
                        }
                        Some(now + session.boot_timeout())
                    }
                    Update::Started(cell) => {
                        starts.entry(cell.clone()).or_insert(offset(now));
                        let timeout = pending
                            .get(&cell)
                            .map_or(Duration::ZERO, |&i| cells[i].cell().timeout);
                        Some(now + timeout * retries + slack)
                    }
                    Update::Logs(_) => Some(now + slack),
                    Update::Delivered(d) => {
                        let relay_seconds = d.result.relay_seconds;
                        if let Some(i) = pending.remove(&d.cell) {
                            let start = starts.get(&d.cell).copied().unwrap_or(offset(now));
                            span.end = offset(now);
                            let mut r = delivered(&cells[i], command, *d, opts);
                            r.timing = Timing {
                                start,
                                end: offset(now),
                                worker,
                                session: Some(span.clone()),
                                relay_seconds: Some(relay_seconds),
                            };
                            finish(r, i);
                        }
                        Some(now + slack)
                    }
                    Update::Lost { cell, why } => {
                        if let Some(i) = cell.as_ref().and_then(|c| pending.remove(c)) {
                            let mut r = session_error(&cells[i], command, opts, &why);
                            r.timing = Timing {
                                start: offset(now),
                                end: offset(now),
                                worker,
                                session: Some(span.clone()),
                                relay_seconds: None,
                            };
                            finish(r, i);
                        }
                        Some(now + slack)
                    }
                    Update::Ended(code) => {
                        inner_exit = Some(code);
                        None
                    }
                }
            };
            let end = guest.watch_host(started + session.boot_timeout(), &mut on_line);
            let missing = collector.missing_frames();
            // OPAL power-off does not end a powernv qemu: end it here.
            guest.finish(Duration::from_secs(1));
            pool.events.on(Event::Stopped { slot });
            let last: Vec<String> = tail.lock().map(|t| t.lines()).unwrap_or_default();
            Ok((end, last, missing))
        }
    };
    pool.budget.give(held);
    span.end = offset(Instant::now());
    for (name, i) in pending {
        let why = match (&refused, &ended) {
            (Some(why), _) => why.clone(),
            (None, Err(e)) => e.clone(),
            (None, Ok((end, last, missing))) => {
                let how = match end {
                    EndCause::Marker => match inner_exit {
                        Some(code) => {
                            format!("the run inside ended (exit status {code}) without its verdict")
                        }
                        None => {
                            "the host's init ended the run inside before its verdict".to_string()
                        }
                    },
                    EndCause::Timeout => {
                        "the emulated host stopped answering (timeout)".to_string()
                    }
                    EndCause::Panic(line) => format!("the host kernel panicked: {line}"),
                    EndCause::QemuExited(code) => {
                        format!("the emulated host's qemu exited ({code:?})")
                    }
                    EndCause::Interrupted => String::new(),
                };
                let tail: Vec<&str> = last
                    .iter()
                    .map(String::as_str)
                    .filter(|l| !l.trim().is_empty())
                    .collect();
                let tail = &tail[tail.len().saturating_sub(5)..];
                format!(
                    "no verdict came back from the emulated host {key} for {name}: {how}{}{}",
                    missing
                        .as_ref()
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default(),
                    if tail.is_empty() {
                        String::new()
                    } else {
                        format!("; its last lines: {}", tail.join(" | "))
                    }
                )
            }
        };
        let mut r = session_error(&cells[i], command, opts, &why);
        if teardown::interrupted() {
            r.verdict = Verdict {
                status: Status::Interrupted,
                summary: "the run was interrupted before this cell finished".into(),
                details: vec![],
            };
        }
        r.timing = Timing {
            start: span.end,
            end: span.end,
            worker,
            session: Some(span.clone()),
            relay_seconds: None,
        };
        finish(r, i);
    }
}

/// The outside's result of a cell whose verdict came back whole: the run
/// inside decided it, from its own probe; the files are written here as for
/// a cell booted here.
fn delivered(job: &Job, l0: &QemuCommand, d: hosted::Delivered, opts: &RunOptions) -> CellResult {
    let mut r = blank_result(job, session_cell_dir(job, opts));
    let inner = d.result;
    let previewed = std::mem::replace(&mut r.expected, inner.expected);
    r.prediction.rule = inner.rule;
    r.verdict = inner.verdict;
    if previewed != r.expected {
        r.verdict.details.push(format!(
            "the plan previewed {previewed}; the run inside, from its probe, expected {}",
            r.expected
        ));
    }
    r.attempts = inner.attempts;
    let tail = |lines: &[String]| lines[lines.len().saturating_sub(40)..].to_vec();
    if let Some(o) = r.attempts.last_mut().and_then(|a| a.observation.as_mut()) {
        o.console_tail = tail(&d.console);
        o.stderr_tail = tail(&d.stderr);
    }
    r.flaky = inner.flaky;
    r.argv = inner.argv;
    r.seconds = inner.seconds;
    let joined = |lines: &[String]| {
        let mut s = lines.join("\n");
        if !s.is_empty() {
            s.push('\n');
        }
        s
    };
    let logs = [
        ("console.log", joined(&d.console)),
        ("qemu-stderr.log", joined(&d.stderr)),
    ];
    write_session_cell(r, l0, &logs)
}

/// The result of a session cell that has no verdict to believe.
fn session_error(job: &Job, l0: &QemuCommand, opts: &RunOptions, why: &str) -> CellResult {
    let mut r = blank_result(job, session_cell_dir(job, opts));
    r.verdict = Verdict::error(why);
    r.attempts.push(Attempt {
        verdict: r.verdict.clone(),
        seconds: 0.0,
        observation: None,
        exit_status: None,
    });
    if let Action::Inner { argv } = &job.action {
        r.argv = argv.clone();
    }
    write_session_cell(r, l0, &[])
}

fn session_cell_dir(job: &Job, opts: &RunOptions) -> PathBuf {
    opts.out_dir
        .join("cells")
        .join(cell_dir_name(&job.cell().name))
}

/// Writes a session cell's directory: its reproducer (the host's level-0
/// command and the command inside), `logs`, its verdict and result; a file
/// that cannot be written turns the cell into an infrastructure error.
fn write_session_cell(mut r: CellResult, l0: &QemuCommand, logs: &[(&str, String)]) -> CellResult {
    let dir = r.dir.clone();
    let mut files = std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))
        .and_then(|()| {
            promised(
                &dir.join("repro.sh"),
                crate::chain::repro_script(&r.name, l0, &r.argv).as_bytes(),
                true,
            )
        });
    for (name, text) in logs {
        files = files.and_then(|()| promised(&dir.join(name), text.as_bytes(), false));
    }
    or_write_error(&mut r, files);
    let written = write_cell_files(&r);
    or_write_error(&mut r, written);
    r
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
