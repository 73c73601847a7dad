//! What a person watching the run sees: on a terminal, an overall bar and one
//! line per running cell with its elapsed time and last console line; in a
//! log (not a TTY), one plain line per event; with `--quiet`, nothing but
//! the final summary.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::event::{Event, Listener, Slot};
use crate::observation::Tail;
use crate::verdict::Status;

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
    multi: MultiProgress,
    overall: ProgressBar,
    running: Arc<Mutex<Vec<Running>>>,
    stop: Arc<AtomicBool>,
}

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
            multi,
            overall,
            running,
            stop,
        }
    }

    fn booting(&self, slot: Slot, name: &str, tail: Arc<Mutex<Tail>>) {
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
                        id: slot.0,
                        name: name.to_string(),
                        bar,
                        tail,
                        since: Instant::now(),
                    });
            }
            Mode::Quiet => {}
        }
    }

    fn stopped(&self, slot: Slot) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(pos) = running.iter().position(|r| r.id == slot.0) {
            let r = running.remove(pos);
            r.bar.finish_and_clear();
            self.multi.remove(&r.bar);
        }
    }

    fn finished(&self, name: &str, status: Status, summary: &str, seconds: f64, flaky: bool) {
        let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let line = format!(
            "[{n}/{}] {:<5} {name} ({seconds:.1} s): {summary}{}",
            self.total,
            status.word(),
            if flaky {
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

impl Listener for Progress {
    fn on(&self, event: Event<'_>) {
        match event {
            Event::Booting {
                slot,
                label,
                console,
            } => self.booting(slot, label, console),
            Event::Stopped { slot } => self.stopped(slot),
            Event::Finished {
                name,
                status,
                summary,
                seconds,
                flaky,
                ..
            } => self.finished(name, status, summary, seconds, flaky),
        }
    }
}
