//! Watching a guest: qemu under a PTY (via rexpect), its serial console and
//! its stderr read as they arrive, each line classified (by
//! [`crate::observation::classify`]) and the console scanned for kernel
//! health problems (by [`crate::health::Scanner`]), until the first thing
//! that ends the cell. What it saw comes back as plain data, an
//! [`Observation`].
//!
//! rexpect owns the PTY and the child process. Reading does not go through
//! rexpect's `exp_*` calls: they poll every 100 ms and buffer one byte per
//! channel message, and a CI runner would pay that on every cell. Instead
//! one thread per stream reads in blocks, streams the bytes to the cell's log
//! on disk, classifies complete lines, and sends what it sees on a channel
//! the watcher blocks on; the verdict comes as soon as the marker's line does.
//! Memory stays bounded: only the last lines are kept, the rest is on disk.

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

use crate::error::{Error, Result};
use crate::health::{Finding, Scanner};
use crate::observation::{classify, SeenError, Sighting, Stream};
use crate::qemu::QemuCommand;
use crate::teardown;

/// What a watch returns, defined with the rest of the observation
/// vocabulary in [`crate::observation`].
pub use crate::observation::{EndCause, Observation, Tail};

enum Event {
    Seen(Stream, Sighting, Instant),
    /// A kernel health problem, complete with its trace.
    Health(Finding),
    Closed,
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
        let mut obs = Observation::empty();
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
                Ok(Event::Health(f)) => obs.add_finding(f),
                Ok(Event::Seen(stream, s, at)) => match s {
                    Sighting::Report(r) => obs.add_report(r),
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
                    Sighting::Documented(id, line) => {
                        obs.documented.push(SeenError { id, line, stream });
                        stop_by.get_or_insert(Instant::now() + grace);
                    }
                    Sighting::QemuError(line) => {
                        obs.qemu_errors.push(line);
                        stop_by.get_or_insert(Instant::now() + grace);
                    }
                    Sighting::Relayed(_) => {}
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

    /// Watches an emulated host whose bootmatrix relays what it does
    /// (see [`crate::hosted`]): each relayed line goes to `relayed`, which
    /// returns the next deadline, or `None` once nothing more is expected.
    /// Ends at that point (`Marker`), at a deadline (`Timeout`), when the
    /// host's kernel panics, when qemu exits, or on an interrupt. The host's
    /// own last lines stay in [`RunningGuest::console_tail`].
    pub fn watch_host(
        &mut self,
        first_deadline: Instant,
        relayed: &mut dyn FnMut(&str) -> Option<Instant>,
    ) -> EndCause {
        let mut deadline = first_deadline;
        let mut open = 2;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return if teardown::interrupted() {
                    EndCause::Interrupted
                } else {
                    EndCause::Timeout
                };
            }
            match self.events.recv_timeout(deadline - now) {
                Ok(Event::Seen(_, Sighting::Relayed(line), _)) => match relayed(&line) {
                    Some(next) => deadline = next,
                    None => return EndCause::Marker,
                },
                Ok(Event::Seen(_, Sighting::Panic(line), _)) => return EndCause::Panic(line),
                Ok(Event::Seen(..)) | Ok(Event::Health(_)) => {}
                Ok(Event::Closed) => {
                    open -= 1;
                    if open == 0 {
                        return if teardown::interrupted() {
                            EndCause::Interrupted
                        } else {
                            EndCause::QemuExited(self.reap())
                        };
                    }
                }
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => {
                    return EndCause::QemuExited(self.reap());
                }
            }
        }
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
        // Only the console carries kernel messages. A finding is sent as it
        // completes, before the line that completed it is classified: a
        // splat that ends at the marker reaches the watch before the marker.
        let mut scanner = (stream == Stream::Console).then(Scanner::new);
        let mut handle = |line: &[u8], tx: &Sender<Event>| {
            let text = String::from_utf8_lossy(line);
            let text = text.trim_end_matches('\r');
            // A relayed line is the inner run's data, not this console's
            // words: no tail, no health scan.
            if text.contains(crate::relay::TAG) || text.contains(crate::relay::CLOSED) {
                let _ = tx.send(Event::Seen(
                    stream,
                    Sighting::Relayed(text.to_string()),
                    Instant::now(),
                ));
                return;
            }
            if let Ok(mut t) = tail.lock() {
                t.push(text);
            }
            if stream == Stream::Console {
                for f in scanner.as_mut().map(|s| s.feed(text)).unwrap_or_default() {
                    let _ = tx.send(Event::Health(f));
                }
            }
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
        for f in scanner.map(Scanner::finish).unwrap_or_default() {
            let _ = tx.send(Event::Health(f));
        }
        let _ = log.flush();
        let _ = tx.send(Event::Closed);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
