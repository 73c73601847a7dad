//! Kernel health: what in a guest's console says its kernel is not well,
//! even when the guest reaches its marker. Pure: lines in, findings out, so
//! every recogniser is tested on kernel log excerpts without booting.
//!
//! A [`Scanner`] is fed console lines in order and returns each [`Finding`]
//! once it is complete: the line that announces the problem, for a
//! `WARNING` the message printed between `cut here` and it, and the call
//! trace that follows (bounded by [`MAX_TRACE`] lines). A finding ends at
//! the kernel's own end marker (`---[ end trace ... ]---`, the closing
//! `=====` of a KASAN, KCSAN or KFENCE report), at the next problem, at a
//! line of the harness's protocol (`BOOTMATRIX-...`), or at the bound.
//!
//! Every [`Kind`] has a fixed [`Severity`]:
//!
//! - **fatal**: oops, `BUG:` / `kernel BUG at`, KASAN and KFENCE reports.
//!   The kernel's state is wrong (a bad access, a broken invariant, memory
//!   corruption); whatever the guest does next proves nothing, so the cell
//!   fails even when the marker follows.
//! - **warning**: `WARNING:` (`cut here`), lockdep reports, KCSAN data
//!   races, RCU stalls, soft and hard lockups, and kernel messages at
//!   priority err or worse. The kernel noticed something and carried on.
//!   KCSAN reports races that are often benign. Stalls and lockups measure
//!   time, and under TCG or nested emulation on a loaded machine a guest's
//!   time can stall for reasons of the host, not of the kernel. They are
//!   reported on the cell and fail it under `--warnings fail`.
//!
//! A [`Suppressions`] file silences known noise: one regular expression per
//! line, each with a `#` comment saying why. A finding any of whose lines a
//! suppression matches is marked with that suppression and no longer
//! weighs on the verdict; suppressions that matched nothing in a whole run
//! are listed at its end, so that stale ones get removed.

use std::path::Path;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::payload::KMSG_TAG;

/// At most this many lines of call trace are kept per finding; the rest
/// stays in the cell's `console.log`.
pub const MAX_TRACE: usize = 48;
/// Lines between `cut here` and a `WARNING:` line that are kept as the
/// warning's message; a `cut here` with no header that soon is a finding of
/// its own.
const MAX_MESSAGE: usize = 4;
/// Kept lines are cut to this many bytes.
const WIDTH: usize = 400;
/// The separator the kernel prints before a `WARNING:` or `kernel BUG at`.
pub const CUT_HERE: &str = "------------[ cut here ]------------";

/// What kind of problem a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// `Oops: ...`: the kernel took a fault it cannot handle.
    Oops,
    /// `BUG: ...` or `kernel BUG at file:line!`.
    Bug,
    /// `WARNING: CPU: n PID: n at file:line`, after `cut here`.
    Warning,
    /// `BUG: KASAN: ...`: the address sanitizer caught a bad access.
    Kasan,
    /// `BUG: KCSAN: data-race in ...`.
    Kcsan,
    /// `BUG: KFENCE: ...`: the sampling memory-error detector caught one.
    Kfence,
    /// A lockdep report (`WARNING: possible circular locking dependency
    /// detected`, `inconsistent lock state`, ...).
    Lockdep,
    /// `rcu: INFO: rcu_sched detected stalls on CPUs/tasks` or a
    /// self-detected stall.
    RcuStall,
    /// `watchdog: BUG: soft lockup - CPU#n stuck for ns!`.
    SoftLockup,
    /// A hard lockup (`watchdog: CPU n self-detected hard LOCKUP`, ...).
    HardLockup,
    /// A kernel message at priority err or worse, from the guest's own
    /// report of its kernel log (see [`crate::payload`]), that no other
    /// finding covers.
    ErrMessage,
}

/// How much a finding weighs on a verdict (see the module documentation
/// for which kind is which, and why).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Fails the cell.
    Fatal,
    /// Reported; fails the cell under `--warnings fail`.
    Warning,
}

impl Kind {
    /// The severity of every finding of this kind.
    pub fn severity(self) -> Severity {
        match self {
            Kind::Oops | Kind::Bug | Kind::Kasan | Kind::Kfence => Severity::Fatal,
            Kind::Warning
            | Kind::Kcsan
            | Kind::Lockdep
            | Kind::RcuStall
            | Kind::SoftLockup
            | Kind::HardLockup
            | Kind::ErrMessage => Severity::Warning,
        }
    }

    /// How reports name the kind.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Oops => "oops",
            Kind::Bug => "BUG",
            Kind::Warning => "WARNING",
            Kind::Kasan => "KASAN report",
            Kind::Kcsan => "KCSAN report",
            Kind::Kfence => "KFENCE report",
            Kind::Lockdep => "lockdep report",
            Kind::RcuStall => "RCU stall",
            Kind::SoftLockup => "soft lockup",
            Kind::HardLockup => "hard lockup",
            Kind::ErrMessage => "kernel message at err or worse",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The suppression that silenced a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppressedBy {
    /// The suppressions file.
    pub file: String,
    /// The line of the regular expression in it (1-based).
    pub line: usize,
    /// The comment that says why.
    pub reason: String,
}

/// One health problem seen on a guest's console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// What it is.
    pub kind: Kind,
    /// How much it weighs (always `kind.severity()`; kept for readers of
    /// results.json).
    pub severity: Severity,
    /// The line that announced it, without the kernel's `[ time ]` prefix.
    pub line: String,
    /// A `WARNING`'s own message: the lines between `cut here` and the
    /// `WARNING:` line (architectures with report_bug print it first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub message: Vec<String>,
    /// The lines that followed: registers, call trace (at most
    /// [`MAX_TRACE`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trace: Vec<String>,
    /// For [`Kind::ErrMessage`], the message's priority (0 emerg ... 3 err).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<u8>,
    /// Set by [`Suppressions::apply`] when a suppression matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<SuppressedBy>,
}

impl Finding {
    /// A finding of `kind` announced by `line`, with nothing after it yet.
    pub fn new(kind: Kind, line: &str) -> Finding {
        Finding {
            kind,
            severity: kind.severity(),
            line: bounded(line),
            message: Vec::new(),
            trace: Vec::new(),
            level: None,
            suppressed: None,
        }
    }

    /// Every kept line, announcing line first: what suppressions match.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.line.as_str())
            .chain(self.message.iter().map(String::as_str))
            .chain(self.trace.iter().map(String::as_str))
    }

    /// Whether it still weighs on the verdict (no suppression matched).
    pub fn counts(&self) -> bool {
        self.suppressed.is_none()
    }

    /// How it weighs, for reports: `fatal`, `warning` or `suppressed`.
    pub fn weight(&self) -> &'static str {
        match (&self.suppressed, self.severity) {
            (Some(_), _) => "suppressed",
            (None, Severity::Fatal) => "fatal",
            (None, Severity::Warning) => "warning",
        }
    }

    /// One line for people: the kind (with the priority of a message) and
    /// the announcing line, without saying `WARNING` or `BUG` twice.
    pub fn headline(&self) -> String {
        let name = self.kind.name();
        let first = name.split(' ').next().unwrap_or(name);
        match self.level {
            Some(l) => format!("kernel message at {}: {}", level_name(l), self.line),
            None if self.line.to_lowercase().starts_with(&first.to_lowercase()) => {
                self.line.clone()
            }
            None => format!("{name}: {}", self.line),
        }
    }
}

/// The syslog name of a kernel message priority.
pub fn level_name(level: u8) -> &'static str {
    match level {
        0 => "emerg",
        1 => "alert",
        2 => "crit",
        3 => "err",
        4 => "warning",
        5 => "notice",
        6 => "info",
        _ => "debug",
    }
}

fn bounded(line: &str) -> String {
    let mut l = line.trim().to_string();
    if l.len() > WIDTH {
        let mut cut = WIDTH;
        while !l.is_char_boundary(cut) {
            cut -= 1;
        }
        l.truncate(cut);
        l.push_str(" [...]");
    }
    l
}

/// What a console line says once the kernel's decorations are gone: the
/// text after the `[ time ]` stamp (and the `[ Tn]` caller id) wherever the
/// stamp starts, or after the tag the guest's init puts on the kernel
/// messages it prints itself (see [`crate::payload::KMSG_TAG`]). `None` for
/// a line of the harness's own protocol, which no kernel report spans.
pub fn kernel_text(line: &str) -> Option<&str> {
    let line = match line.find(KMSG_TAG) {
        Some(at) => &line[at + KMSG_TAG.len()..],
        None if line.contains("BOOTMATRIX-") => return None,
        None => line,
    };
    Some(match stamp().find(line) {
        Some(m) => line[m.end()..].trim(),
        None => line.trim(),
    })
}

fn stamp() -> &'static Regex {
    static STAMP: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    STAMP.get_or_init(|| Regex::new(r"\[\s*\d+\.\d+\](\[\s*[TC]\d+\])? ?").expect("valid regex"))
}

/// The phrases of lockdep's reports (kernel/locking/lockdep.c) and of
/// `lockdep_rcu_suspicious`, after `WARNING: `.
const LOCKDEP: &[&str] = &[
    "locking dependency",
    "recursive locking",
    "inconsistent lock state",
    "lock inversion",
    "lock order detected",
    "unlock balance",
    "bad contention",
    "held lock freed",
    "lock held",
    "Nested lock",
    "suspicious RCU usage",
];

/// The kind of problem `text` (a line after [`kernel_text`]) announces, if
/// any. `after_cut` says a `cut here` came just before, which makes any
/// `WARNING:` line a warning.
pub fn header(text: &str, after_cut: bool) -> Option<Kind> {
    let t = text;
    if t.starts_with("BUG: KASAN:") {
        return Some(Kind::Kasan);
    }
    if t.starts_with("BUG: KFENCE:") {
        return Some(Kind::Kfence);
    }
    if t.starts_with("BUG: KCSAN:") {
        return Some(Kind::Kcsan);
    }
    if t.starts_with("watchdog: BUG: soft lockup") || t.starts_with("BUG: soft lockup") {
        return Some(Kind::SoftLockup);
    }
    if t.contains("hard LOCKUP") && !t.starts_with("Kernel panic") {
        return Some(Kind::HardLockup);
    }
    if (t.starts_with("rcu: ") || t.starts_with("INFO: "))
        && t.contains("detected")
        && t.contains("stall")
    {
        return Some(Kind::RcuStall);
    }
    if let Some(rest) = t.strip_prefix("WARNING: ") {
        if LOCKDEP.iter().any(|p| rest.contains(p)) {
            return Some(Kind::Lockdep);
        }
        if after_cut || rest.starts_with("CPU: ") || rest.starts_with("at ") {
            return Some(Kind::Warning);
        }
        return None;
    }
    if t.starts_with("kernel BUG at ") || t.starts_with("BUG: ") {
        return Some(Kind::Bug);
    }
    if t.starts_with("Oops: ") || t.starts_with("Internal error: Oops") {
        return Some(Kind::Oops);
    }
    None
}

/// Whether `text` is the kernel's own last line of a report of `kind`.
fn is_end(kind: Kind, text: &str) -> bool {
    if text.starts_with("---[ end trace") || text.starts_with("---[ end Kernel panic") {
        return true;
    }
    matches!(kind, Kind::Kasan | Kind::Kcsan | Kind::Kfence)
        && text.len() >= 20
        && text.bytes().all(|b| b == b'=')
}

/// Recognises findings in console lines fed in order (see the module
/// documentation). One per console: its state spans lines.
#[derive(Debug, Default)]
pub struct Scanner {
    /// A `cut here` was seen; the lines since (the warning's message).
    cut: Option<Vec<String>>,
    /// The finding whose trace is being collected.
    open: Option<Finding>,
}

impl Scanner {
    /// A scanner that has seen nothing.
    pub fn new() -> Scanner {
        Scanner::default()
    }

    /// Feeds one console line; returns the findings it completed (usually
    /// none, at most two).
    pub fn feed(&mut self, line: &str) -> Vec<Finding> {
        let mut done = Vec::new();
        let Some(text) = kernel_text(line) else {
            self.flush(&mut done);
            return done;
        };
        if text.is_empty() {
            return done;
        }
        if text == CUT_HERE {
            self.flush(&mut done);
            self.cut = Some(Vec::new());
            return done;
        }
        if let Some(kind) = header(text, self.cut.is_some()) {
            // The oops that follows a BUG on the same fault is part of it.
            if let Some(open) = self
                .open
                .as_mut()
                .filter(|o| kind == Kind::Oops && o.kind == Kind::Bug && o.trace.len() < 8)
            {
                open.trace.push(bounded(text));
                return done;
            }
            self.close(&mut done);
            let mut f = Finding::new(kind, text);
            f.message = self.cut.take().unwrap_or_default();
            self.open = Some(f);
            return done;
        }
        if let Some(cut) = self.cut.as_mut() {
            if cut.len() < MAX_MESSAGE {
                cut.push(bounded(text));
                return done;
            }
            // A `cut here` without a header: report it as a warning of its
            // own, its lines as they came.
            let mut f = Finding::new(Kind::Warning, CUT_HERE);
            f.trace = self.cut.take().unwrap_or_default();
            self.close(&mut done);
            self.open = Some(f);
        }
        if let Some(open) = self.open.as_mut() {
            open.trace.push(bounded(text));
            if is_end(open.kind, text) || open.trace.len() >= MAX_TRACE {
                self.close(&mut done);
            }
        }
        done
    }

    /// Ends the stream: returns the finding still being collected, if any.
    pub fn finish(mut self) -> Vec<Finding> {
        let mut done = Vec::new();
        self.flush(&mut done);
        done
    }

    fn close(&mut self, done: &mut Vec<Finding>) {
        if let Some(f) = self.open.take() {
            done.push(f);
        }
    }

    /// Closes the open finding and turns a pending `cut here` into one.
    fn flush(&mut self, done: &mut Vec<Finding>) {
        self.close(done);
        if let Some(lines) = self.cut.take() {
            let mut f = Finding::new(Kind::Warning, CUT_HERE);
            f.trace = lines;
            done.push(f);
        }
    }
}

/// Every finding in `lines`, in order: a [`Scanner`] fed them all.
pub fn recognise<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<Finding> {
    let mut s = Scanner::new();
    let mut out: Vec<Finding> = lines.into_iter().flat_map(|l| s.feed(l)).collect();
    out.extend(s.finish());
    out
}

/// One suppression: a regular expression and why.
#[derive(Debug, Clone)]
pub struct Suppression {
    /// Where it was written.
    pub at: SuppressedBy,
    /// What it matches, in any line of a finding (see [`Finding::lines`]).
    pub pattern: Regex,
}

/// Known noise, from `--suppressions FILE` (see the module documentation).
///
/// The file holds one regular expression per line (Rust `regex` syntax,
/// unanchored, matched against each line of a finding without the kernel's
/// time stamp). Each needs a reason: `#` comment lines directly above it,
/// or a comment after it on the same line, separated by whitespace (write a
/// `#` a pattern needs after whitespace as `\#`). Blank lines separate
/// entries.
#[derive(Debug, Clone, Default)]
pub struct Suppressions {
    /// In file order.
    pub entries: Vec<Suppression>,
}

impl Suppressions {
    /// Reads a suppressions file; a bad file is bad input naming its line.
    pub fn load(path: &Path) -> Result<Suppressions> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::bad_input(format!(
                "{}: cannot read the suppressions file: {e}",
                path.display()
            ))
        })?;
        Suppressions::parse(&path.display().to_string(), &text)
    }

    /// Parses a suppressions file's text; `file` names it in messages.
    pub fn parse(file: &str, text: &str) -> Result<Suppressions> {
        let mut entries = Vec::new();
        let mut reason: Vec<&str> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() {
                reason.clear();
                continue;
            }
            if let Some(comment) = line.strip_prefix('#') {
                reason.push(comment.trim());
                continue;
            }
            let (pattern, trailing) = split_comment(line);
            let why: Vec<&str> = reason
                .drain(..)
                .chain(trailing)
                .filter(|r| !r.is_empty())
                .collect();
            let bad = |msg: String| Error::bad_input(format!("{file}:{}: {msg}", i + 1));
            if why.is_empty() {
                return Err(bad(format!(
                    "suppression `{pattern}` has no reason: put a `# why this is known noise` comment above it or after it"
                )));
            }
            let pattern = Regex::new(pattern)
                .map_err(|e| bad(format!("`{pattern}` is not a regular expression: {e}")))?;
            entries.push(Suppression {
                at: SuppressedBy {
                    file: file.to_string(),
                    line: i + 1,
                    reason: why.join(" "),
                },
                pattern,
            });
        }
        Ok(Suppressions { entries })
    }

    /// The first suppression that matches a line of `finding`.
    pub fn matching(&self, finding: &Finding) -> Option<&Suppression> {
        self.entries
            .iter()
            .find(|s| finding.lines().any(|l| s.pattern.is_match(l)))
    }

    /// Marks every finding a suppression matches.
    pub fn apply(&self, findings: &mut [Finding]) {
        for f in findings {
            f.suppressed = self.matching(f).map(|s| s.at.clone());
        }
    }

    /// The suppressions that silenced none of `findings` (all the findings
    /// of a run, after [`Suppressions::apply`]).
    pub fn unmatched<'a>(
        &self,
        findings: impl IntoIterator<Item = &'a Finding>,
    ) -> Vec<&Suppression> {
        let used: Vec<&SuppressedBy> = findings
            .into_iter()
            .filter_map(|f| f.suppressed.as_ref())
            .collect();
        self.entries
            .iter()
            .filter(|s| {
                !used
                    .iter()
                    .any(|u| u.file == s.at.file && u.line == s.at.line)
            })
            .collect()
    }
}

/// Splits `pattern  # reason` at the first `#` that follows whitespace and
/// is not escaped.
fn split_comment(line: &str) -> (&str, Option<&str>) {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && i > 0 && bytes[i - 1].is_ascii_whitespace() {
            return (line[..i].trim_end(), Some(line[i + 1..].trim()));
        }
    }
    (line, None)
}

/// Findings as text for people (JUnit system-out, verdict files): each
/// headline, its message and trace indented, and what suppressed it.
pub fn render(findings: &[Finding]) -> String {
    let mut s = String::new();
    for f in findings {
        s.push_str(&format!("[{}] {}\n", f.weight(), f.headline()));
        if let Some(by) = &f.suppressed {
            s.push_str(&format!(
                "    (suppressed by {}:{}: {})\n",
                by.file, by.line, by.reason
            ));
        }
        for l in f.message.iter().chain(&f.trace) {
            s.push_str(&format!("    {l}\n"));
        }
    }
    s
}
