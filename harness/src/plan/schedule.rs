//! How long the plan's work is expected to take, and what follows from it:
//! the order in which emulated-host sessions and cells booted here start,
//! and how many boots of its host a long session is split over. Pure, like
//! the rest of the plan: the previous run's durations come in as a value.
//!
//! A run's lanes (`-j`) pop one queue; a session runs whole on one lane.
//! Without care, one long session started late, or one session longer than
//! all the rest together, sets the run's end while the other lanes idle.
//! So the queue is ordered longest-expected first, over sessions and cells
//! alike, and a session whose length alone would set the end is split over
//! several boots of the same host when the estimate says the run ends
//! sooner for it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::model::Outcome;

/// Seconds an emulated host costs before its first cell starts: qemu
/// starting it, its kernel and init, KVM loading, and the probe and plan of
/// the bootmatrix inside. Measured 2.9–5.0 s from host start to first cell
/// over the 13 hosts of the whole table on a 2-core x86-64 machine under
/// TCG (BENCHMARKS.md). Every boot of a host pays it once, which is what
/// splitting a session costs.
pub const HOST_BOOT_SECONDS: f64 = 4.0;

/// A cell with no history whose documented error must come: qemu refuses
/// within a second or two (measured 0.4–1.5 s, docs/emulated-hosts.md).
pub const DOCUMENTED_ERROR_SECONDS: f64 = 1.5;

/// A cell with no history that must boot is expected to take this share of
/// its timeout. Timeouts are set by how slow a kind of cell is (TCG 120 s,
/// KVM 60 s, KVM on an emulated host 300 s), so the share ranks cells as
/// their kinds rank; measured boots take 5–20 % of their timeout.
pub const BOOT_SHARE_OF_TIMEOUT: f64 = 0.1;

/// A session is never split into parts of fewer runnable cells than this:
/// a host boot for a single cell costs more than the balance it buys.
pub const MIN_CELLS_PER_PART: usize = 2;

/// A split must shorten the estimated run by at least this much: the
/// estimate is rough, and an extra boot also costs an initramfs to build
/// and a core for its boot, which a gain within the estimate's noise does
/// not buy back.
pub const MIN_SPLIT_GAIN_SECONDS: f64 = HOST_BOOT_SECONDS;

/// Seconds a cell is expected to take: the previous run's where `durations`
/// has them, else an estimate from what must happen; nothing for a cell
/// that does not run (a skip is told at once).
pub fn cell_seconds(
    name: &str,
    expected: &Outcome,
    runnable: bool,
    timeout: Duration,
    durations: &BTreeMap<String, f64>,
) -> f64 {
    if !runnable {
        return 0.0;
    }
    if let Some(&s) = durations.get(name).filter(|s| s.is_finite() && **s >= 0.0) {
        return s;
    }
    match expected {
        Outcome::Fails { .. } => DOCUMENTED_ERROR_SECONDS,
        Outcome::Boots { .. } => timeout.as_secs_f64() * BOOT_SHARE_OF_TIMEOUT,
    }
}

/// Seconds one boot of a host running cells expected to take `cells`
/// seconds is expected to take; nothing when it runs no cell (it is not
/// booted then).
pub fn session_seconds(cells: impl IntoIterator<Item = f64>) -> f64 {
    let mut any = false;
    let sum: f64 = cells.into_iter().inspect(|_| any = true).sum();
    if any {
        HOST_BOOT_SECONDS + sum
    } else {
        0.0
    }
}

/// What a lane starts: a session (index into [`super::Plan::sessions`]) or a
/// cell booted here (index into [`super::Plan::cells`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "index", rename_all = "kebab-case")]
pub enum Start {
    /// One boot of an emulated host, with all its cells.
    Session(usize),
    /// One cell, booted by qemu here.
    Cell(usize),
}

/// The order in which `work` (each item with its expected seconds) enters
/// the queue: longest first; equal ones keep their given order.
pub fn longest_first(work: &[(Start, f64)]) -> Vec<Start> {
    let mut order: Vec<usize> = (0..work.len()).collect();
    order.sort_by(|&a, &b| work[b].1.total_cmp(&work[a].1).then(a.cmp(&b)));
    order.into_iter().map(|i| work[i].0).collect()
}

/// When the last of `costs` ends if they start longest first on `lanes`
/// lanes, each on the lane that frees first: how the run's workers pop
/// their queue.
pub fn makespan(costs: &[f64], lanes: usize) -> f64 {
    let mut sorted = costs.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let mut ends = vec![0.0f64; lanes.max(1)];
    for c in sorted {
        let lane = ends
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        ends[lane] += c;
    }
    ends.into_iter().fold(0.0, f64::max)
}

/// `cells` (plan index, expected seconds) divided into `parts` parts of
/// balanced expected time: longest first into the part that is lighter so
/// far, except that the last cells go where a part still has fewer than
/// [`MIN_CELLS_PER_PART`]. Each part lists its cells in plan order. `None`
/// when there are too few cells for that many parts.
pub fn balance(cells: &[(usize, f64)], parts: usize) -> Option<Vec<Vec<usize>>> {
    let parts = parts.max(1);
    if parts > 1 && cells.len() < parts * MIN_CELLS_PER_PART {
        return None;
    }
    let mut order: Vec<usize> = (0..cells.len()).collect();
    order.sort_by(|&a, &b| cells[b].1.total_cmp(&cells[a].1).then(a.cmp(&b)));
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); parts];
    let mut load = vec![0.0f64; parts];
    for (placed, &i) in order.iter().enumerate() {
        let left = cells.len() - placed;
        let short: usize = if parts > 1 {
            out.iter()
                .map(|p| MIN_CELLS_PER_PART.saturating_sub(p.len()))
                .sum()
        } else {
            0
        };
        let lighter = (0..parts)
            .filter(|&p| left > short || out[p].len() < MIN_CELLS_PER_PART)
            .min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b)))
            .unwrap_or(0);
        out[lighter].push(cells[i].0);
        load[lighter] += cells[i].1;
    }
    for p in &mut out {
        p.sort_unstable();
    }
    Some(out)
}

/// How many boots each session gets: one, unless more shorten the
/// estimated end of the run on `lanes` lanes. `sessions` holds each
/// session's runnable cells (plan index, expected seconds), `here` the
/// expected seconds of the cells booted here.
///
/// The rule: starting from one boot each, add one boot to the session
/// where that ends the run ([`makespan`] of every boot, each costing
/// [`HOST_BOOT_SECONDS`] plus its cells, and the cells here) soonest, as
/// long as it ends at least [`MIN_SPLIT_GAIN_SECONDS`] sooner than
/// without, and every part keeps at least [`MIN_CELLS_PER_PART`] cells
/// ([`balance`]). With one lane nothing is split: there every extra boot
/// only adds its cost.
pub fn parts(sessions: &[Vec<(usize, f64)>], here: &[f64], lanes: usize) -> Vec<usize> {
    let mut parts = vec![1usize; sessions.len()];
    if lanes < 2 {
        return parts;
    }
    let end = |parts: &[usize]| -> Option<f64> {
        let mut costs: Vec<f64> = here.to_vec();
        for (cells, &n) in sessions.iter().zip(parts) {
            for part in balance(cells, n)? {
                let seconds = cells
                    .iter()
                    .filter(|(i, _)| part.contains(i))
                    .map(|(_, s)| *s);
                costs.push(session_seconds(seconds));
            }
        }
        Some(makespan(&costs, lanes))
    };
    let Some(mut best) = end(&parts) else {
        return parts;
    };
    loop {
        let mut better: Option<(usize, f64)> = None;
        for s in 0..sessions.len() {
            let mut more = parts.clone();
            more[s] += 1;
            if let Some(e) = end(&more) {
                if e <= best - MIN_SPLIT_GAIN_SECONDS && better.is_none_or(|(_, b)| e < b) {
                    better = Some((s, e));
                }
            }
        }
        match better {
            Some((s, e)) => {
                parts[s] += 1;
                best = e;
            }
            None => return parts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_makespan_is_that_of_workers_popping_a_longest_first_queue() {
        assert_eq!(makespan(&[10.0, 10.0, 10.0], 2), 20.0);
        assert_eq!(makespan(&[3.0, 5.0, 4.0], 1), 12.0);
        assert_eq!(makespan(&[100.0, 1.0, 1.0], 2), 100.0);
        assert_eq!(makespan(&[], 2), 0.0);
    }

    #[test]
    fn sessions_and_cells_here_share_one_longest_first_queue() {
        let work = [
            (Start::Cell(0), 12.0),
            (Start::Session(0), 40.0),
            (Start::Cell(1), 60.0),
            (Start::Session(1), 12.0),
            (Start::Cell(2), 0.5),
        ];
        assert_eq!(
            longest_first(&work),
            vec![
                Start::Cell(1),
                Start::Session(0),
                Start::Cell(0),
                Start::Session(1),
                Start::Cell(2)
            ]
        );
    }

    #[test]
    fn balanced_parts_take_the_longest_cells_first_and_keep_two_cells_each() {
        let cells = [(0, 40.0), (1, 10.0), (2, 30.0), (3, 20.0)];
        assert_eq!(
            balance(&cells, 2),
            Some(vec![vec![0, 1], vec![2, 3]]),
            "40+10 against 30+20"
        );
        // One long cell: the other part still gets two.
        let cells = [(0, 100.0), (1, 1.0), (2, 1.0), (3, 1.0)];
        let parts = balance(&cells, 2).unwrap();
        assert!(parts.iter().all(|p| p.len() >= 2), "{parts:?}");
        assert_eq!(parts, vec![vec![0, 3], vec![1, 2]]);
        assert_eq!(balance(&cells[..3], 2), None);
    }

    #[test]
    fn one_session_longer_than_the_rest_is_split_and_a_short_one_is_not() {
        let long: Vec<(usize, f64)> = (0..8).map(|i| (i, 30.0)).collect();
        assert_eq!(parts(std::slice::from_ref(&long), &[10.0], 2), vec![2]);
        assert_eq!(parts(std::slice::from_ref(&long), &[10.0], 1), vec![1]);
        // Four lanes: four boots of two cells each.
        assert_eq!(parts(std::slice::from_ref(&long), &[], 4), vec![4]);
        let short = vec![(0, 2.0), (1, 2.0), (2, 2.0), (3, 2.0)];
        assert_eq!(parts(&[short], &[60.0], 2), vec![1]);
        // A split that gains less than a host boot is not worth one:
        // 4 + 4 * 10 = 44 s beside 40 s here ends at 44 s; split, two
        // boots of 24 s share a lane (48 s) beside the 40 s: worse.
        let even: Vec<(usize, f64)> = (0..4).map(|i| (i, 10.0)).collect();
        assert_eq!(parts(std::slice::from_ref(&even), &[40.0], 2), vec![1]);
        // Against nothing else: 44 s, or two boots of 24 s: split.
        assert_eq!(parts(&[even], &[], 2), vec![2]);
    }

    #[test]
    fn estimates_without_history_rank_boots_above_errors_above_skips() {
        let none = BTreeMap::new();
        let boots = Outcome::Boots {
            mmu: crate::model::Mmu::Radix,
            page_size: crate::model::PageSize::K64,
        };
        let t = Duration::from_secs(300);
        assert_eq!(cell_seconds("a", &boots, true, t, &none), 30.0);
        let history = BTreeMap::from([("a".to_string(), 55.0)]);
        assert_eq!(cell_seconds("a", &boots, true, t, &history), 55.0);
        assert_eq!(cell_seconds("a", &boots, false, t, &history), 0.0);
        assert_eq!(session_seconds([]), 0.0);
        assert_eq!(session_seconds([1.0, 2.0]), HOST_BOOT_SECONDS + 3.0);
    }
}
