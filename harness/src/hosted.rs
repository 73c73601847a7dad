//! A run hosted inside an emulated host: what the bootmatrix running there
//! tells the bootmatrix outside, and how the outside puts it back together.
//!
//! An emulated host is a POWER runner in a box: its init starts
//! `bootmatrix run --hosts native --relay -` on the host's cells, and that
//! run probes the host, plans and boots exactly as on a POWER9 runner. What
//! it does travels back over the host's console as [`relay`] lines, one
//! [`Frame`] each, numbered so that a lost one is noticed:
//!
//! - [`Message::Probed`]: the facts its probe found (what `bootmatrix host
//!   --format json` prints there), before any cell;
//! - [`Message::Started`]: a cell's guest is booting;
//! - [`Message::Lines`]: the cell's console and qemu-stderr lines, in
//!   chunks small enough for one console line each;
//! - [`Message::Finished`]: its verdict, attempts, command and line counts;
//! - [`Message::Ended`]: the inner run's exit status.
//!
//! The outside accepts a cell's verdict only when every chunk of its logs
//! arrived intact ([`Collector`]); a damaged or missing frame makes the cell
//! an infrastructure error, never a pass.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::cell_result::Attempt;
use crate::event::{Event, Listener};
use crate::host::HostFacts;
use crate::model::Outcome;
use crate::relay::{self, Relayed};
use crate::verdict::Verdict;

/// Bytes of log lines per [`Message::Lines`] chunk: well under the console
/// reader's longest line once framed and escaped.
const CHUNK_BYTES: usize = 16 * 1024;

/// Which log of a cell a chunk belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Log {
    /// The guest's serial console (`console.log`).
    Console,
    /// qemu's stderr (`qemu-stderr.log`).
    QemuStderr,
}

impl Log {
    /// The file the runner writes this log to in a cell's directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Log::Console => "console.log",
            Log::QemuStderr => "qemu-stderr.log",
        }
    }
}

/// What a cell's run inside the host ended with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InnerResult {
    /// The final verdict.
    pub verdict: Verdict,
    /// What had to happen, as the inside planned it from its probe.
    pub expected: Outcome,
    /// The rule that decided it.
    pub rule: String,
    /// Every attempt, with what was observed (the tails left out: the
    /// logs travel whole in [`Message::Lines`]).
    pub attempts: Vec<Attempt>,
    /// Passed only on retry.
    pub flaky: bool,
    /// The qemu argv inside the host (empty when it did not boot).
    pub argv: Vec<String>,
    /// Wall time over attempts, seconds.
    pub seconds: f64,
    /// Lines of each log sent before this message.
    pub console_lines: usize,
    /// See `console_lines`.
    pub stderr_lines: usize,
    /// Seconds from the verdict to this message, spent sending the logs.
    #[serde(default)]
    pub relay_seconds: f64,
}

/// One thing the inner run tells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "message", rename_all = "kebab-case")]
pub enum Message {
    /// The host as the inner probe found it.
    Probed {
        /// The facts, as `bootmatrix host --format json` prints them.
        facts: Box<HostFacts>,
    },
    /// A cell's guest started booting.
    Started {
        /// The cell.
        cell: String,
    },
    /// Log lines of a cell, `first` being the index of the first of them.
    Lines {
        /// The cell.
        cell: String,
        /// Which log.
        log: Log,
        /// Index of the first line in the log.
        first: usize,
        /// The lines, without newlines.
        lines: Vec<String>,
    },
    /// A cell has its verdict.
    Finished {
        /// The cell.
        cell: String,
        /// Its result.
        result: Box<InnerResult>,
    },
    /// The inner run is over.
    Ended {
        /// Its exit status.
        exit_status: i32,
    },
}

/// A message with its place in the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// 0, 1, 2...: a gap is a lost frame.
    pub seq: u64,
    /// What it says.
    pub message: Message,
}

/// The inside: turns the run's events into relay lines on `out` (the
/// host's console), each written and flushed as it happens.
pub struct Relay {
    out: Mutex<Box<dyn Write + Send>>,
    seq: AtomicU64,
}

impl Relay {
    /// A relay writing to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Relay {
        Relay {
            out: Mutex::new(out),
            seq: AtomicU64::new(0),
        }
    }

    /// Sends one message. A console that cannot be written to loses the
    /// message; the outside then reports the cell as lost, which is the
    /// truth.
    pub fn send(&self, message: Message) {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let frame = Frame {
            seq: self.seq.fetch_add(1, Ordering::SeqCst),
            message,
        };
        let _ = writeln!(out, "{}", relay::encode(&frame));
        let _ = out.flush();
    }

    fn send_log(&self, cell: &str, log: Log, dir: &Path) -> usize {
        let text = std::fs::read(dir.join(log.file_name())).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let mut sent = 0;
        let mut chunk: Vec<String> = Vec::new();
        let mut bytes = 0;
        for line in text.lines() {
            let line = line.trim_end_matches('\r').to_string();
            bytes += line.len() + 8;
            chunk.push(line);
            if bytes >= CHUNK_BYTES {
                let n = chunk.len();
                self.send(Message::Lines {
                    cell: cell.to_string(),
                    log,
                    first: sent,
                    lines: std::mem::take(&mut chunk),
                });
                sent += n;
                bytes = 0;
            }
        }
        if !chunk.is_empty() {
            let n = chunk.len();
            self.send(Message::Lines {
                cell: cell.to_string(),
                log,
                first: sent,
                lines: chunk,
            });
            sent += n;
        }
        sent
    }
}

impl Listener for Relay {
    fn on(&self, event: Event<'_>) {
        match event {
            Event::Booting { label, .. } => self.send(Message::Started {
                cell: label.to_string(),
            }),
            Event::Stopped { .. } => {}
            Event::Finished { name, result, .. } => {
                let verdict_at = std::time::Instant::now();
                let console_lines = self.send_log(name, Log::Console, &result.dir);
                let stderr_lines = self.send_log(name, Log::QemuStderr, &result.dir);
                let mut attempts = result.attempts.clone();
                for a in &mut attempts {
                    if let Some(o) = &mut a.observation {
                        o.console_tail.clear();
                        o.stderr_tail.clear();
                    }
                }
                self.send(Message::Finished {
                    cell: name.to_string(),
                    result: Box::new(InnerResult {
                        verdict: result.verdict.clone(),
                        expected: result.expected.clone(),
                        rule: result.prediction.rule.clone(),
                        attempts,
                        flaky: result.flaky,
                        argv: result.argv.clone(),
                        seconds: result.seconds,
                        console_lines,
                        stderr_lines,
                        relay_seconds: verdict_at.elapsed().as_secs_f64(),
                    }),
                })
            }
        }
    }
}

/// A cell's verdict from inside, with its logs, put back together.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    /// The cell.
    pub cell: String,
    /// What the inside decided.
    pub result: InnerResult,
    /// Its console lines.
    pub console: Vec<String>,
    /// Its qemu-stderr lines.
    pub stderr: Vec<String>,
}

/// What the outside learns from one console line.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// The inner probe's facts.
    Probed(Box<HostFacts>),
    /// A cell started.
    Started(String),
    /// Log lines of a cell arrived.
    Logs(String),
    /// A cell finished, its logs complete.
    Delivered(Box<Delivered>),
    /// A cell's frames were damaged or lost: it cannot be believed.
    Lost {
        /// The cell, when known.
        cell: Option<String>,
        /// What went wrong.
        why: String,
    },
    /// The inner run ended with this status.
    Ended(i32),
}

#[derive(Default)]
struct Logs {
    console: Vec<String>,
    stderr: Vec<String>,
    /// The first problem with this cell's frames.
    broken: Option<String>,
}

/// The outside's reader of relayed frames: checks their order, gathers
/// each cell's log chunks and hands over a cell only when it is whole.
#[derive(Default)]
pub struct Collector {
    /// The frame expected next.
    next_seq: u64,
    /// Frames that never arrived, as `first..=last`.
    gaps: Vec<(u64, u64)>,
    /// The cell whose frames are arriving (started or sending logs).
    current: Option<String>,
    logs: BTreeMap<String, Logs>,
}

impl Collector {
    /// A collector expecting frame 0.
    pub fn new() -> Collector {
        Collector::default()
    }

    /// Reads one console line; `None` when it carries no relay frame.
    pub fn line(&mut self, line: &str) -> Option<Update> {
        match relay::decode::<Frame>(line)? {
            Relayed::Damaged(text) => Some(self.lost(format!(
                "a relayed frame arrived damaged: {}",
                shorten(&text)
            ))),
            Relayed::Value(frame) => Some(self.frame(frame)),
        }
    }

    /// The frames that never arrived, in words (`None`: none was lost).
    pub fn missing_frames(&self) -> Option<String> {
        if self.gaps.is_empty() {
            return None;
        }
        let spans: Vec<String> = self
            .gaps
            .iter()
            .map(|(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();
        Some(format!("relayed frames {} never arrived", spans.join(", ")))
    }

    fn lost(&mut self, why: String) -> Update {
        let cell = self.current.clone();
        if let Some(c) = &cell {
            let logs = self.logs.entry(c.clone()).or_default();
            logs.broken.get_or_insert(why.clone());
        }
        Update::Lost { cell, why }
    }

    fn frame(&mut self, frame: Frame) -> Update {
        // A gap needs no guess at whose frame it was: a lost chunk shows in
        // its cell's line counts, a lost verdict as a cell that never
        // finished.
        if frame.seq > self.next_seq {
            self.gaps.push((self.next_seq, frame.seq - 1));
        }
        self.next_seq = frame.seq + 1;
        self.message(frame.message)
    }

    fn message(&mut self, message: Message) -> Update {
        match message {
            Message::Probed { facts } => Update::Probed(facts),
            Message::Started { cell } => {
                self.current = Some(cell.clone());
                self.logs.entry(cell.clone()).or_default();
                Update::Started(cell)
            }
            Message::Lines {
                cell,
                log,
                first,
                lines,
            } => {
                self.current = Some(cell.clone());
                let logs = self.logs.entry(cell.clone()).or_default();
                let have = match log {
                    Log::Console => &mut logs.console,
                    Log::QemuStderr => &mut logs.stderr,
                };
                if first != have.len() {
                    let why = format!(
                        "{} lines {}..{} of {cell} never arrived",
                        log.file_name(),
                        have.len(),
                        first
                    );
                    logs.broken.get_or_insert(why.clone());
                }
                have.extend(lines);
                Update::Logs(cell)
            }
            Message::Finished { cell, result } => {
                self.current = None;
                let logs = self.logs.remove(&cell).unwrap_or_default();
                let why = logs.broken.or_else(|| {
                    (logs.console.len() != result.console_lines
                        || logs.stderr.len() != result.stderr_lines)
                        .then(|| {
                            format!(
                                "{cell}'s logs arrived incomplete ({} of {} console lines, {} of {} stderr lines)",
                                logs.console.len(),
                                result.console_lines,
                                logs.stderr.len(),
                                result.stderr_lines
                            )
                        })
                });
                match why {
                    Some(why) => Update::Lost {
                        cell: Some(cell),
                        why,
                    },
                    None => Update::Delivered(Box::new(Delivered {
                        cell,
                        result: *result,
                        console: logs.console,
                        stderr: logs.stderr,
                    })),
                }
            }
            Message::Ended { exit_status } => Update::Ended(exit_status),
        }
    }
}

fn shorten(s: &str) -> String {
    if s.len() <= 160 {
        return s.to_string();
    }
    let mut end = 160;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
