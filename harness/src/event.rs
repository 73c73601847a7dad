//! What happens during a run, as values: the runner emits events and
//! whoever watches (the progress display, a test, a future streaming
//! reporter) receives them. The runner never calls into a display, and a
//! display never reaches into the runner's types.

use std::sync::{Arc, Mutex};

use crate::cell_result::CellResult;
use crate::observation::Tail;
use crate::verdict::Status;

/// Identifies one running qemu (a cell's guest or an emulated host) from
/// its [`Event::Booting`] to its [`Event::Stopped`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Slot(pub usize);

/// One thing that happened during a run.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// A qemu started; `console` is its live console tail, for a display
    /// that shows the last line while it runs.
    Booting {
        /// Which qemu.
        slot: Slot,
        /// The cell's name, or `host <session>` for an emulated host.
        label: &'a str,
        /// The last lines of its console, updated as they arrive.
        console: Arc<Mutex<Tail>>,
    },
    /// That qemu is gone.
    Stopped {
        /// Which qemu.
        slot: Slot,
    },
    /// A cell has its final verdict.
    Finished {
        /// The cell's name.
        name: &'a str,
        /// Its status.
        status: Status,
        /// The verdict's one line.
        summary: &'a str,
        /// Wall time over its attempts.
        seconds: f64,
        /// True when it failed first and passed on a retry.
        flaky: bool,
        /// Everything known about it (a relay sends it on whole).
        result: &'a CellResult,
    },
}

/// Receives a run's events, from any worker thread.
pub trait Listener: Sync {
    /// Called once per event, as it happens.
    fn on(&self, event: Event<'_>);
}

/// A listener that ignores everything (library callers that only want the
/// results).
pub struct Ignore;

impl Listener for Ignore {
    fn on(&self, _: Event<'_>) {}
}
