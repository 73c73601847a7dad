//! What a person watching the run sees: on a terminal, an overall bar and one
//! line per running cell with its elapsed time and last console line; in a
//! log (not a TTY), one plain line per event; with `--quiet`, nothing but
//! the final summary.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::console::Tail;
use crate::run::CellResult;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Bars on a terminal.
    Bars,
    /// One line per event on stderr.
    Lines,
    /// Nothing.
    Quiet,
}

impl Mode {
    /// Bars when stderr is a terminal, lines otherwise; `quiet` wins.
    pub fn detect(quiet: bool) -> Mode {
        if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Lines
        }
    }
}

struct Running {
    id: usize,
    name: String,
    bar: ProgressBar,
    tail: Arc<Mutex<Tail>>,
    since: Instant,
}

/// The progress display of one run.
pub struct Progress {
    mode: Mode,
    total: usize,
    done: AtomicUsize,
    next_id: AtomicUsize,
    multi: MultiProgress,
    overall: ProgressBar,
    running: Arc<Mutex<Vec<Running>>>,
    stop: Arc<AtomicBool>,
}

/// Identifies a running cell's line.
pub struct Ticket(usize);

impl Progress {
    /// A display for `total` cells.
    pub fn new(total: usize, mode: Mode) -> Progress {
        let multi = MultiProgress::with_draw_target(match mode {
            Mode::Bars => ProgressDrawTarget::stderr(),
            _ => ProgressDrawTarget::hidden(),
        });
        let overall = multi.add(ProgressBar::new(total as u64));
        overall.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} cells {msg}")
                .expect("template")
                .progress_chars("=> "),
        );
        let running: Arc<Mutex<Vec<Running>>> = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        if mode == Mode::Bars {
            let (running, stop) = (running.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    for r in running.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                        let last = r
                            .tail
                            .lock()
                            .ok()
                            .and_then(|t| t.last().map(str::to_string))
                            .unwrap_or_default();
                        let last: String = last.chars().take(70).collect();
                        r.bar.set_message(format!(
                            "{:>5.0}s {}  {}",
                            r.since.elapsed().as_secs_f64(),
                            r.name,
                            last
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
            });
        }
        Progress {
            mode,
            total,
            done: AtomicUsize::new(0),
            next_id: AtomicUsize::new(0),
            multi,
            overall,
            running,
            stop,
        }
    }

    /// A cell started booting.
    pub fn cell_started(&self, name: &str, tail: Arc<Mutex<Tail>>) -> Ticket {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        match self.mode {
            Mode::Lines => eprintln!("bootmatrix: start {name}"),
            Mode::Bars => {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(ProgressStyle::with_template("  {spinner} {msg}").expect("template"));
                bar.enable_steady_tick(Duration::from_millis(200));
                self.running
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(Running {
                        id,
                        name: name.to_string(),
                        bar,
                        tail,
                        since: Instant::now(),
                    });
            }
            Mode::Quiet => {}
        }
        Ticket(id)
    }

    /// A cell's qemu is gone.
    pub fn cell_stopped(&self, ticket: Ticket) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(pos) = running.iter().position(|r| r.id == ticket.0) {
            let r = running.remove(pos);
            r.bar.finish_and_clear();
            self.multi.remove(&r.bar);
        }
    }

    /// A cell has its verdict.
    pub fn cell_done(&self, r: &CellResult) {
        let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let line = format!(
            "[{n}/{}] {:<5} {} ({:.1} s): {}{}",
            self.total,
            r.verdict.status.word(),
            r.name,
            r.seconds,
            r.verdict.summary,
            if r.flaky {
                " [flaky: passed on retry]"
            } else {
                ""
            }
        );
        match self.mode {
            Mode::Lines => eprintln!("bootmatrix: {line}"),
            Mode::Bars => {
                self.overall.inc(1);
                self.multi.println(line).ok();
            }
            Mode::Quiet => {}
        }
    }

    /// Clears the bars.
    pub fn finish(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.overall.finish_and_clear();
    }
}
