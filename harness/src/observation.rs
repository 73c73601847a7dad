//! What a watch of a guest saw, as plain data: the vocabulary between the
//! console watcher ([`crate::console`], which owns qemu and its PTY) and
//! the verdict ([`crate::verdict`], which only reads this). Pure: lines are
//! classified here, so the console's vocabulary is tested without booting
//! and a verdict can be reached from data a test writes by hand.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::documented::{self, DocumentedError};
use crate::health::{Finding, Kind};
use crate::payload::{GuestReport, ReportProblem, DONE_MARKER};

/// Which output a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stream {
    /// The guest's serial console (qemu's stdout on the PTY).
    Console,
    /// qemu's own stderr, where its errors and warnings go.
    QemuStderr,
    /// The stderr of a qemu running inside an emulated host, relayed on the
    /// host's console with a prefix (see [`crate::chain`]).
    InnerStderr,
}

/// Something in a line that matters to the verdict. Problems of the guest
/// kernel's health span lines and are recognised by
/// [`crate::health::Scanner`] instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sighting {
    /// An intact guest report.
    Report(GuestReport),
    /// A report line another writer cut into.
    DamagedReport,
    /// The init's final marker.
    Done,
    /// `Kernel panic - not syncing: ...`
    Panic(String),
    /// One of the documented errors.
    Documented(DocumentedError, String),
    /// Any other fatal-looking qemu message (`qemu-system-ppc64: ...`, not a
    /// warning).
    QemuError(String),
    /// A line relayed by a bootmatrix running inside an emulated host
    /// (see [`crate::hosted`]), whole.
    Relayed(String),
}

/// Classifies one line of output.
pub fn classify(line: &str) -> Option<Sighting> {
    // First: a relayed line quotes the inner guests' consoles, panics and
    // errors included, which are not this console's.
    if line.contains(crate::relay::TAG) || line.contains(crate::relay::CLOSED) {
        return Some(Sighting::Relayed(line.to_string()));
    }
    if let Some(found) = GuestReport::find(line) {
        return Some(match found {
            Ok(r) => Sighting::Report(r),
            Err(ReportProblem::Damaged) | Err(ReportProblem::Malformed(_)) => {
                Sighting::DamagedReport
            }
        });
    }
    if line.contains(DONE_MARKER) {
        return Some(Sighting::Done);
    }
    if let Some(e) = documented::find_in(line) {
        return Some(Sighting::Documented(e, line.trim().to_string()));
    }
    if line.contains("Kernel panic - not syncing") {
        return Some(Sighting::Panic(line.trim().to_string()));
    }
    if let Some(msg) = line.trim().strip_prefix("qemu-system-ppc64: ") {
        if !msg.starts_with("warning:") && !msg.starts_with("info:") {
            return Some(Sighting::QemuError(line.trim().to_string()));
        }
    }
    None
}

/// What ended a watch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "kebab-case")]
pub enum EndCause {
    /// The guest printed the marker.
    Marker,
    /// The guest kernel panicked (line attached).
    Panic(String),
    /// qemu exited on its own (status attached when known).
    QemuExited(Option<i32>),
    /// The cell's time ran out.
    Timeout,
    /// The run was interrupted (Ctrl-C, SIGTERM).
    Interrupted,
}

/// A documented error seen during the watch, attributed to its stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenError {
    /// Which documented error.
    pub id: DocumentedError,
    /// The line as printed.
    pub line: String,
    /// Where it was printed.
    pub stream: Stream,
}

/// Everything the verdict needs from a watch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// What ended it.
    pub cause: EndCause,
    /// The first intact guest report.
    pub report: Option<GuestReport>,
    /// How many report lines were damaged.
    pub damaged_reports: u32,
    /// Documented errors in the order seen.
    pub documented: Vec<SeenError>,
    /// Other qemu error lines.
    pub qemu_errors: Vec<String>,
    /// The guest kernel's health problems in the order seen: those its
    /// console showed, then the messages at err or worse from its report
    /// that none of those covers (see [`Observation::add_report`]).
    pub health: Vec<Finding>,
    /// How many findings lost their message and trace (those beyond
    /// [`Observation::MAX_FULL_FINDINGS`]) or were not kept at all (beyond
    /// [`Observation::MAX_FINDINGS`]); the console log has them all.
    pub health_dropped: u32,
    /// The last console lines.
    pub console_tail: Vec<String>,
    /// The last qemu stderr lines.
    pub stderr_tail: Vec<String>,
    /// From spawn to the end of the watch.
    #[serde(skip)]
    pub elapsed: Duration,
    /// When the reader thread saw the marker (for latency measurements).
    #[serde(skip)]
    pub marker_seen_at: Option<Instant>,
}

impl Observation {
    /// Findings kept with their message and trace; a kernel that warns in
    /// a loop must not fill the harness's memory.
    pub const MAX_FULL_FINDINGS: usize = 64;
    /// Findings kept at all.
    pub const MAX_FINDINGS: usize = 4096;

    /// A watch that has seen nothing yet (it ends by timeout unless
    /// something else happens).
    pub fn empty() -> Observation {
        Observation {
            cause: EndCause::Timeout,
            report: None,
            damaged_reports: 0,
            documented: Vec::new(),
            qemu_errors: Vec::new(),
            health: Vec::new(),
            health_dropped: 0,
            console_tail: Vec::new(),
            stderr_tail: Vec::new(),
            elapsed: Duration::ZERO,
            marker_seen_at: None,
        }
    }

    /// Takes the first intact report; later copies are the same report.
    /// The kernel messages at err or worse it lists become findings unless
    /// a finding from the console already holds them.
    pub fn add_report(&mut self, report: GuestReport) {
        if self.report.is_some() {
            return;
        }
        for m in &report.kmsg {
            if !self.health.iter().any(|f| covers(f, &m.text)) {
                let mut f = Finding::new(Kind::ErrMessage, &m.text);
                f.level = Some(m.level);
                self.push_finding(f);
            }
        }
        if let Some(total) = report.kmsg_err {
            let unlisted = (total as usize).saturating_sub(report.kmsg.len());
            if unlisted > 0 {
                let mut f = Finding::new(
                    Kind::ErrMessage,
                    &format!("{unlisted} more kernel messages at err or worse than the report lists (see console.log)"),
                );
                f.level = Some(3);
                self.push_finding(f);
            }
        }
        self.report = Some(report);
    }

    /// Adds a finding from the console; a message from the report that it
    /// covers is dropped (the finding says more).
    pub fn add_finding(&mut self, finding: Finding) {
        self.health.retain(|h| {
            h.kind != Kind::ErrMessage || h.level.is_none() || !covers(&finding, &h.line)
        });
        self.push_finding(finding);
    }

    fn push_finding(&mut self, mut finding: Finding) {
        if self.health.len() >= Self::MAX_FINDINGS {
            self.health_dropped += 1;
            return;
        }
        if self.health.len() >= Self::MAX_FULL_FINDINGS {
            finding.message.clear();
            finding.trace.clear();
            self.health_dropped += 1;
        }
        self.health.push(finding);
    }
}

/// Whether `finding` holds the kernel message `text` (the report cuts long
/// messages, so a line that starts with it counts).
fn covers(finding: &Finding, text: &str) -> bool {
    let text = text.trim();
    !text.is_empty() && finding.lines().any(|l| l.starts_with(text))
}

/// The last lines of a stream, bounded in count and length.
#[derive(Debug, Default)]
pub struct Tail {
    lines: VecDeque<String>,
}

impl Tail {
    /// How many lines a tail keeps.
    pub const LINES: usize = 40;
    /// How long a kept line may be, bytes.
    pub const WIDTH: usize = 400;

    /// Keeps `line`, dropping the oldest when full.
    pub fn push(&mut self, line: &str) {
        if self.lines.len() == Self::LINES {
            self.lines.pop_front();
        }
        let mut l = line.to_string();
        if l.len() > Self::WIDTH {
            let mut cut = Self::WIDTH;
            while !l.is_char_boundary(cut) {
                cut -= 1;
            }
            l.truncate(cut);
            l.push_str(" [...]");
        }
        self.lines.push_back(l);
    }

    /// The kept lines, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.lines.iter().cloned().collect()
    }

    /// The newest non-empty line, for progress displays.
    pub fn last(&self) -> Option<&str> {
        self.lines
            .iter()
            .rev()
            .map(|s| s.as_str())
            .find(|s| !s.trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_is_found_inside_interleaved_kernel_text() {
        assert_eq!(
            classify("#1 SMP Debian 6.BOOTMATRIX-DONE"),
            Some(Sighting::Done)
        );
    }

    #[test]
    fn documented_errors_on_stderr_are_named() {
        let s = classify("qemu-system-ppc64: Can't support 64 kiB guest pages with 4 kiB host pages with this KVM implementation");
        assert!(matches!(
            s,
            Some(Sighting::Documented(DocumentedError::HptPageSize, _))
        ));
    }

    #[test]
    fn qemu_warnings_are_not_errors() {
        assert_eq!(classify("qemu-system-ppc64: warning: TCG doesn't support requested feature, cap-cfpc=workaround"), None);
    }

    #[test]
    fn undocumented_qemu_errors_are_still_errors() {
        assert!(matches!(
            classify("qemu-system-ppc64: -m 12x: Parameter 'size' expects a size"),
            Some(Sighting::QemuError(_))
        ));
    }

    #[test]
    fn panics_are_recognised() {
        assert!(matches!(
            classify("[    1.0] Kernel panic - not syncing: VFS: Unable to mount root fs"),
            Some(Sighting::Panic(_))
        ));
    }

    #[test]
    fn relayed_lines_are_taken_whole_before_anything_they_quote() {
        // A relayed chunk of an inner guest's console quotes its panics and
        // qemu's errors: they belong to that cell, not to this console.
        let line =
            "BOOTMATRIX-RELAY 40 0123456789abcdef {\"lines\":[\"Kernel panic - not syncing: x\"]}";
        assert_eq!(classify(line), Some(Sighting::Relayed(line.to_string())));
        assert_eq!(
            classify("BOOTMATRIX-L1-DONE rc=0"),
            Some(Sighting::Relayed("BOOTMATRIX-L1-DONE rc=0".into()))
        );
        // The host's own messages are not relayed.
        assert_eq!(classify("BOOTMATRIX-L1: insmod kvm-hv.ko failed"), None);
    }
}
