//! Watching a guest: qemu under a PTY (via rexpect), its serial console and
//! its stderr read as they arrive, each line classified, until the first
//! thing that ends the cell.
//!
//! rexpect owns the PTY and the child process. Reading does not go through
//! rexpect's `exp_*` calls: they poll every 100 ms and buffer one byte per
//! channel message, and a CI runner would pay that on every cell. Instead
//! one thread per stream reads in blocks, streams the bytes to the cell's log
//! on disk, classifies complete lines, and sends what it sees on a channel
//! the watcher blocks on; the verdict comes as soon as the marker's line does.
//! Memory stays bounded: only the last lines are kept, the rest is on disk.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;
use rexpect::process::PtyProcess;
use serde::Serialize;

use crate::documented;
use crate::error::{Error, Result};
use crate::payload::{GuestReport, ReportProblem, DONE_MARKER};
use crate::qemu::QemuCommand;
use crate::teardown;

/// Which output a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

/// Something in a line that matters to the verdict.
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
    /// A kernel oops or BUG line.
    Oops(String),
    /// One of the documented errors.
    Documented(&'static str, String),
    /// Any other fatal-looking qemu message (`qemu-system-ppc64: ...`, not a
    /// warning).
    QemuError(String),
    /// An emulated host's framing (see [`crate::chain`]).
    Frame(Frame),
}

/// The framing an emulated host's init prints around each inner run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// KVM is loaded; inner runs follow.
    Ready,
    /// Inner run N starts.
    Begin(usize),
    /// Inner run N ended with this exit status.
    End(usize, i32),
    /// Every inner run is done.
    Done,
}

fn frame(line: &str) -> Option<Frame> {
    use crate::chain::{L1_DONE, L1_READY, L2_BEGIN, L2_END};
    let l = line.trim();
    if l.ends_with(L1_READY) {
        return Some(Frame::Ready);
    }
    if l.ends_with(L1_DONE) {
        return Some(Frame::Done);
    }
    if let Some(at) = l.find(L2_BEGIN) {
        return l[at + L2_BEGIN.len()..]
            .trim()
            .parse()
            .ok()
            .map(Frame::Begin);
    }
    if let Some(at) = l.find(L2_END) {
        let rest = l[at + L2_END.len()..].trim();
        let (n, rc) = rest.split_once(" rc=")?;
        return Some(Frame::End(
            n.trim().parse().ok()?,
            rc.trim().parse().unwrap_or(-1),
        ));
    }
    None
}

/// Classifies one line of output; pure, so the console's vocabulary is
/// tested without booting.
pub fn classify(line: &str) -> Option<Sighting> {
    if line.contains("BOOTMATRIX-L") {
        if let Some(f) = frame(line) {
            return Some(Sighting::Frame(f));
        }
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
        return Some(Sighting::Documented(e.id, line.trim().to_string()));
    }
    if line.contains("Kernel panic - not syncing") {
        return Some(Sighting::Panic(line.trim().to_string()));
    }
    if line.contains("Oops: ") || line.contains("kernel BUG at") || line.contains("BUG: ") {
        return Some(Sighting::Oops(line.trim().to_string()));
    }
    if let Some(msg) = line.trim().strip_prefix("qemu-system-ppc64: ") {
        if !msg.starts_with("warning:") && !msg.starts_with("info:") {
            return Some(Sighting::QemuError(line.trim().to_string()));
        }
    }
    None
}

/// The last lines of a stream, bounded in count and length.
#[derive(Debug, Default)]
pub struct Tail {
    lines: VecDeque<String>,
}

impl Tail {
    const LINES: usize = 40;
    const WIDTH: usize = 400;

    fn push(&mut self, line: &str) {
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

enum Event {
    Seen(Stream, Sighting, Instant),
    Closed,
}

/// What ended a watch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeenError {
    /// The documented error's id.
    pub id: String,
    /// The line as printed.
    pub line: String,
    /// Where it was printed.
    pub stream: Stream,
}

/// Everything the verdict needs from a watch.
#[derive(Debug, Clone, Serialize)]
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
    /// Oops / BUG lines.
    pub oopses: Vec<String>,
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

/// What a watch of an emulated host saw.
#[derive(Debug, Clone)]
pub struct SessionObservation {
    /// One observation per inner run that finished, by index.
    pub cells: Vec<Option<Observation>>,
    /// The host loaded KVM and started its inner runs.
    pub ready: bool,
    /// Why the session ended (`Marker`: the host finished every run).
    pub ended: EndCause,
    /// Error lines the host itself printed outside any inner run.
    pub host_lines: Vec<String>,
}

fn empty_observation() -> Observation {
    Observation {
        cause: EndCause::Timeout,
        report: None,
        damaged_reports: 0,
        documented: Vec::new(),
        qemu_errors: Vec::new(),
        oopses: Vec::new(),
        console_tail: Vec::new(),
        stderr_tail: Vec::new(),
        elapsed: Duration::ZERO,
        marker_seen_at: None,
    }
}

/// A running guest: qemu under a PTY with its streams being watched.
pub struct RunningGuest {
    process: PtyProcess,
    pgid: Pid,
    events: Receiver<Event>,
    console_tail: Arc<Mutex<Tail>>,
    stderr_tail: Arc<Mutex<Tail>>,
    readers: Vec<JoinHandle<()>>,
    started: Instant,
    exit: Option<i32>,
    reaped: bool,
}

impl RunningGuest {
    /// Starts `cmd` under a PTY, its console streamed to `console.log` and
    /// its stderr to `qemu-stderr.log` in `dir`.
    pub fn spawn(cmd: &QemuCommand, dir: &Path) -> Result<RunningGuest> {
        let console_log = create(dir, "console.log")?;
        let stderr_log = create(dir, "qemu-stderr.log")?;
        let (err_read, err_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| Error::infra(format!("cannot create a pipe for qemu's stderr: {e}")))?;
        let mut command = Command::new(&cmd.program);
        command.args(&cmd.args).stderr(Stdio::from(err_write));
        let started = Instant::now();
        // Spawning is serialised with the interrupt handler so that a Ctrl-C
        // never misses a qemu that is being born.
        let guard = teardown::spawn_lock();
        let mut process = PtyProcess::new(command).map_err(|e| {
            Error::infra(format!(
                "cannot start {}: {e} (is qemu installed? run ci/setup-debian.sh)",
                cmd.program
            ))
        })?;
        process.set_kill_timeout(Some(2000));
        let pty = process
            .get_file_handle()
            .map_err(|e| Error::infra(format!("cannot read qemu's console: {e}")))?;
        let (pgid, early_exit) = session_of(&pty, &process).ok_or_else(|| {
            Error::infra(format!(
                "{} could not be watched: it never opened its terminal",
                cmd.program
            ))
        })?;
        teardown::register(pgid);
        drop(guard);

        let (tx, events) = channel();
        let console_tail = Arc::new(Mutex::new(Tail::default()));
        let stderr_tail = Arc::new(Mutex::new(Tail::default()));
        let readers = vec![
            reader(
                Stream::Console,
                pty,
                console_log,
                tx.clone(),
                console_tail.clone(),
            ),
            reader(
                Stream::QemuStderr,
                File::from(err_read),
                stderr_log,
                tx,
                stderr_tail.clone(),
            ),
        ];
        Ok(RunningGuest {
            process,
            pgid,
            events,
            console_tail,
            stderr_tail,
            readers,
            started,
            exit: early_exit.flatten(),
            reaped: early_exit.is_some(),
        })
    }

    /// A handle to the console tail that outlives borrows of the guest, for
    /// progress displays on another thread.
    pub fn console_tail(&self) -> Arc<Mutex<Tail>> {
        self.console_tail.clone()
    }

    /// Waits for the first thing that ends the cell: the marker, a panic,
    /// qemu's exit, or `timeout`. A documented error does not end the watch
    /// by itself (qemu prints hints after it and then exits), but qemu's exit
    /// comes right after; `grace` bounds the wait for it.
    pub fn watch(&mut self, timeout: Duration) -> Observation {
        let deadline = self.started + timeout;
        let grace = Duration::from_secs(2);
        let mut obs = empty_observation();
        let mut open = 2;
        let mut stop_by: Option<Instant> = None;
        loop {
            let now = Instant::now();
            let until = stop_by.map_or(deadline, |s| s.min(deadline));
            if now >= until {
                obs.cause = if teardown::interrupted() {
                    EndCause::Interrupted
                } else if stop_by.is_some() && now < deadline {
                    EndCause::QemuExited(self.poll_exit())
                } else {
                    EndCause::Timeout
                };
                break;
            }
            match self.events.recv_timeout(until - now) {
                Ok(Event::Seen(stream, s, at)) => match s {
                    Sighting::Report(r) => {
                        obs.report.get_or_insert(r);
                    }
                    Sighting::DamagedReport => obs.damaged_reports += 1,
                    Sighting::Done => {
                        obs.cause = EndCause::Marker;
                        obs.marker_seen_at = Some(at);
                        break;
                    }
                    Sighting::Panic(line) => {
                        obs.cause = EndCause::Panic(line);
                        break;
                    }
                    Sighting::Oops(line) => obs.oopses.push(line),
                    Sighting::Documented(id, line) => {
                        obs.documented.push(SeenError {
                            id: id.to_string(),
                            line,
                            stream,
                        });
                        stop_by.get_or_insert(Instant::now() + grace);
                    }
                    Sighting::QemuError(line) => {
                        obs.qemu_errors.push(line);
                        stop_by.get_or_insert(Instant::now() + grace);
                    }
                    Sighting::Frame(_) => {}
                },
                Ok(Event::Closed) => {
                    open -= 1;
                    if open == 0 {
                        obs.cause = if teardown::interrupted() {
                            EndCause::Interrupted
                        } else {
                            EndCause::QemuExited(self.reap())
                        };
                        break;
                    }
                    // The other stream closes at qemu's exit too; give it a
                    // moment to deliver its last lines.
                    stop_by = Some(
                        stop_by.map_or(Instant::now() + grace, |s| s.min(Instant::now() + grace)),
                    );
                }
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => {
                    obs.cause = EndCause::QemuExited(self.reap());
                    break;
                }
            }
        }
        obs.elapsed = self.started.elapsed();
        obs.console_tail = self
            .console_tail
            .lock()
            .map(|t| t.lines())
            .unwrap_or_default();
        obs.stderr_tail = self
            .stderr_tail
            .lock()
            .map(|t| t.lines())
            .unwrap_or_default();
        obs
    }

    /// Watches an emulated host running its inner cells in turn (see
    /// [`crate::chain`]): `timeouts[i]` bounds inner run `i` (the host kills
    /// it first; this is the backstop), `boot` bounds the host's own boot.
    /// Returns one observation per inner run that finished, and why the
    /// session ended.
    pub fn watch_session(&mut self, timeouts: &[Duration], boot: Duration) -> SessionObservation {
        let slack = Duration::from_secs(60);
        let mut out = SessionObservation {
            cells: vec![None; timeouts.len()],
            ready: false,
            ended: EndCause::Timeout,
            host_lines: Vec::new(),
        };
        let mut deadline = self.started + boot;
        let mut current: Option<(usize, Observation, Instant)> = None;
        let mut open = 2;
        loop {
            let now = Instant::now();
            if now >= deadline {
                out.ended = if teardown::interrupted() {
                    EndCause::Interrupted
                } else {
                    EndCause::Timeout
                };
                break;
            }
            match self.events.recv_timeout(deadline - now) {
                Ok(Event::Seen(stream, s, at)) => match (s, current.as_mut()) {
                    (Sighting::Frame(Frame::Ready), _) => {
                        out.ready = true;
                        deadline = Instant::now() + slack;
                    }
                    (Sighting::Frame(Frame::Begin(i)), _) if i < timeouts.len() => {
                        current = Some((i, empty_observation(), Instant::now()));
                        deadline = Instant::now() + timeouts[i] + slack;
                    }
                    (Sighting::Frame(Frame::End(i, rc)), Some((j, _, _))) if i == *j => {
                        let (i, mut obs, began) = current.take().expect("current");
                        obs.elapsed = began.elapsed();
                        obs.cause = if obs.marker_seen_at.is_some() {
                            EndCause::Marker
                        } else if let Some(p) =
                            obs.oopses.iter().find(|l| l.contains("Kernel panic"))
                        {
                            EndCause::Panic(p.clone())
                        } else if rc == 137 {
                            EndCause::Timeout
                        } else {
                            EndCause::QemuExited(Some(rc))
                        };
                        obs.console_tail = self
                            .console_tail
                            .lock()
                            .map(|t| t.lines())
                            .unwrap_or_default();
                        out.cells[i] = Some(obs);
                        deadline = Instant::now() + slack;
                    }
                    (Sighting::Frame(Frame::Done), _) => {
                        out.ended = EndCause::Marker;
                        break;
                    }
                    (Sighting::Frame(_), _) => {}
                    (s, Some((_, obs, _))) => match s {
                        Sighting::Report(r) => {
                            obs.report.get_or_insert(r);
                        }
                        Sighting::DamagedReport => obs.damaged_reports += 1,
                        Sighting::Done => obs.marker_seen_at = Some(at),
                        // The inner kernel panics and its qemu exits; the
                        // frame's end says so. Kept with the oopses.
                        Sighting::Panic(line) | Sighting::Oops(line) => obs.oopses.push(line),
                        Sighting::Documented(id, line) => obs.documented.push(SeenError {
                            id: id.to_string(),
                            line,
                            stream,
                        }),
                        Sighting::QemuError(line) => obs.qemu_errors.push(line),
                        Sighting::Frame(_) => unreachable!("matched above"),
                    },
                    (s, None) => match s {
                        // The host itself failed: nothing more will run.
                        Sighting::Panic(line) => {
                            out.host_lines.push(line.clone());
                            out.ended = EndCause::Panic(line);
                            break;
                        }
                        Sighting::Documented(_, line)
                        | Sighting::QemuError(line)
                        | Sighting::Oops(line) => out.host_lines.push(line),
                        _ => {}
                    },
                },
                Ok(Event::Closed) => {
                    open -= 1;
                    if open == 0 {
                        out.ended = if teardown::interrupted() {
                            EndCause::Interrupted
                        } else {
                            EndCause::QemuExited(self.reap())
                        };
                        break;
                    }
                }
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => {
                    out.ended = EndCause::QemuExited(self.reap());
                    break;
                }
            }
        }
        out
    }

    fn poll_exit(&mut self) -> Option<i32> {
        if self.reaped {
            return self.exit;
        }
        match self.process.status() {
            Some(WaitStatus::Exited(_, code)) => {
                self.reaped = true;
                self.exit = Some(code);
            }
            Some(WaitStatus::Signaled(_, sig, _)) => {
                self.reaped = true;
                self.exit = Some(128 + sig as i32);
            }
            _ => {}
        }
        self.exit
    }

    fn reap(&mut self) -> Option<i32> {
        // The PTY closes as qemu exits; the exit status follows within
        // moments.
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            if self.poll_exit().is_some() || self.reaped {
                return self.exit;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    /// Ends the guest: lets qemu finish on its own for `patience` (a guest
    /// that printed its marker is powering off), then SIGTERM to its whole
    /// process group, then SIGKILL after a grace period. Returns once no
    /// process of the group is left and the logs are flushed.
    pub fn finish(mut self, patience: Duration) -> Option<i32> {
        let until = Instant::now() + patience;
        while !self.reaped && Instant::now() < until {
            if self.poll_exit().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if !self.reaped {
            let _ = killpg(self.pgid, Signal::SIGTERM);
            let until = Instant::now() + Duration::from_secs(2);
            while !self.reaped && Instant::now() < until {
                self.poll_exit();
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        if !self.reaped {
            let _ = killpg(self.pgid, Signal::SIGKILL);
            if let Ok(status) = self.process.wait() {
                self.reaped = true;
                if let WaitStatus::Exited(_, c) = status {
                    self.exit = Some(c);
                }
            }
        }
        // Anything else left in the group (none for plain qemu) goes too.
        let _ = killpg(self.pgid, Signal::SIGKILL);
        teardown::unregister(self.pgid);
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        self.exit
    }
}

impl Drop for RunningGuest {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = killpg(self.pgid, Signal::SIGKILL);
            let _ = self.process.wait();
            self.reaped = true;
        }
        teardown::unregister(self.pgid);
    }
}

fn create(dir: &Path, name: &str) -> Result<File> {
    let path = dir.join(name);
    File::create(&path).map_err(|e| Error::io(&path, "cannot create", e))
}

/// The child's session (and process group) id: it calls `setsid` and opens
/// the PTY as its controlling terminal, so the terminal knows its session.
/// A child that exits before that is reaped here: its pid is its session,
/// and its exit status comes back with it (`Some(status)`).
fn session_of(pty: &File, process: &PtyProcess) -> Option<(Pid, Option<Option<i32>>)> {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(sid) = nix::sys::termios::tcgetsid(pty.as_fd()) {
            return Some((sid, None));
        }
        match process.status() {
            Some(WaitStatus::StillAlive) => {}
            Some(WaitStatus::Exited(pid, code)) => return Some((pid, Some(Some(code)))),
            Some(WaitStatus::Signaled(pid, sig, _)) => {
                return Some((pid, Some(Some(128 + sig as i32))))
            }
            _ => return None,
        }
        if Instant::now() > until {
            return None;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn reader(
    stream: Stream,
    mut input: File,
    mut log: File,
    tx: Sender<Event>,
    tail: Arc<Mutex<Tail>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 16 * 1024];
        let mut pending: Vec<u8> = Vec::new();
        const MAX_LINE: usize = 64 * 1024;
        let handle = |line: &[u8], tx: &Sender<Event>| {
            let text = String::from_utf8_lossy(line);
            let text = text.trim_end_matches('\r');
            if let Ok(mut t) = tail.lock() {
                t.push(text);
            }
            let (stream, text) = match text.find(crate::chain::L2_STDERR) {
                Some(at) => (
                    Stream::InnerStderr,
                    &text[at + crate::chain::L2_STDERR.len()..],
                ),
                None => (stream, text),
            };
            if let Some(s) = classify(text) {
                let _ = tx.send(Event::Seen(stream, s, Instant::now()));
            }
        };
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // EIO: the PTY's other side closed (qemu exited).
                Err(_) => break,
            };
            let _ = log.write_all(&buf[..n]);
            pending.extend_from_slice(&buf[..n]);
            while let Some(pos) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=pos).collect();
                handle(&line[..line.len() - 1], &tx);
            }
            if pending.len() > MAX_LINE {
                let line: Vec<u8> = std::mem::take(&mut pending);
                handle(&line, &tx);
            }
        }
        if !pending.is_empty() {
            handle(&pending, &tx);
        }
        let _ = log.flush();
        let _ = tx.send(Event::Closed);
    })
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
        assert!(matches!(s, Some(Sighting::Documented("hpt-page-size", _))));
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
    fn panics_and_oopses_are_recognised() {
        assert!(matches!(
            classify("[    1.0] Kernel panic - not syncing: VFS: Unable to mount root fs"),
            Some(Sighting::Panic(_))
        ));
        assert!(matches!(
            classify("[    2.0] Oops: Kernel access of bad area, sig: 11 [#1]"),
            Some(Sighting::Oops(_))
        ));
    }

    #[test]
    fn an_emulated_hosts_framing_is_recognised() {
        assert_eq!(
            classify("BOOTMATRIX-L1-READY"),
            Some(Sighting::Frame(Frame::Ready))
        );
        assert_eq!(
            classify("[ 3.1] x BOOTMATRIX-L2-BEGIN 3"),
            Some(Sighting::Frame(Frame::Begin(3)))
        );
        assert_eq!(
            classify("BOOTMATRIX-L2-END 3 rc=137"),
            Some(Sighting::Frame(Frame::End(3, 137)))
        );
        assert_eq!(
            classify("BOOTMATRIX-L1-DONE"),
            Some(Sighting::Frame(Frame::Done))
        );
        // The L1's own messages are not frames.
        assert_eq!(classify("BOOTMATRIX-L1: insmod kvm-hv.ko failed"), None);
    }

    #[test]
    fn the_tail_keeps_only_the_last_lines() {
        let mut t = Tail::default();
        for i in 0..1000 {
            t.push(&format!("line {i}"));
        }
        let lines = t.lines();
        assert_eq!(lines.len(), Tail::LINES);
        assert_eq!(lines.last().unwrap(), "line 999");
        t.push(&"x".repeat(10_000));
        assert!(t.last().unwrap().len() < 500);
    }
}
