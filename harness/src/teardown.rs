//! No qemu outlives the harness.
//!
//! Every running qemu's process group is registered here. On SIGINT or
//! SIGTERM to `bootmatrix`, a watcher thread marks the run interrupted and
//! sends SIGTERM to every registered group, then SIGKILL a second later; the
//! runner sees each watch end, marks unfinished cells interrupted and still
//! writes its reports.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

static LIVE: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());
static SPAWN: Mutex<()> = Mutex::new(());
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static INSTALLED: OnceLock<()> = OnceLock::new();

/// Held while a qemu is being started, so that the interrupt handler does not
/// run between its birth and its registration.
pub fn spawn_lock() -> MutexGuard<'static, ()> {
    SPAWN.lock().unwrap_or_else(|p| p.into_inner())
}

/// Records a running process group.
pub fn register(pgid: Pid) {
    LIVE.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(pgid.as_raw());
    if interrupted() {
        let _ = killpg(pgid, Signal::SIGTERM);
    }
}

/// Forgets a process group that has been reaped.
pub fn unregister(pgid: Pid) {
    LIVE.lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&pgid.as_raw());
}

/// True once the run was asked to stop.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Marks the run interrupted and stops every running qemu.
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
    let groups: Vec<i32> = {
        let _g = spawn_lock();
        LIVE.lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect()
    };
    for g in &groups {
        let _ = killpg(Pid::from_raw(*g), Signal::SIGTERM);
    }
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(1));
        let left: Vec<i32> = LIVE
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect();
        for g in left {
            let _ = killpg(Pid::from_raw(g), Signal::SIGKILL);
        }
    });
}

/// Installs the SIGINT/SIGTERM/SIGHUP watcher (once per process). The
/// handler only raises a flag, which a thread turns into [`interrupt`]
/// within 50 ms: no socket is needed, so this works on the minimal kernels
/// of emulated hosts too (built without networking, where the usual
/// self-pipe over a UNIX socket pair fails with ENOSYS).
pub fn install_signal_handlers() -> std::io::Result<()> {
    if INSTALLED.get().is_some() {
        return Ok(());
    }
    let raised = std::sync::Arc::new(AtomicBool::new(false));
    for signal in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(signal, raised.clone())?;
    }
    let _ = INSTALLED.set(());
    std::thread::spawn(move || loop {
        if raised.swap(false, Ordering::SeqCst) {
            interrupt();
        }
        std::thread::sleep(Duration::from_millis(50));
    });
    Ok(())
}
