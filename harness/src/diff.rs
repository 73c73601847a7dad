//! `bootmatrix diff`: what changed between two runs' results.json, cell by
//! cell. A kernel or qemu update is judged by the cells it newly fails.

use std::collections::BTreeMap;

use crate::report::{CellRecord, ResultsFile};
use crate::verdict::Status;

/// One cell that differs between two runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Cell name.
    pub name: String,
    /// Status in the old run (`None`: not in it).
    pub old: Option<Status>,
    /// Status in the new run (`None`: not in it).
    pub new: Option<Status>,
    /// The new (or old, for removed cells) verdict line.
    pub summary: String,
}

/// The differences, grouped the way a reviewer reads them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diff {
    /// Passed (or skipped) before, fail or error now.
    pub newly_failing: Vec<Change>,
    /// Failed before, pass now.
    pub newly_passing: Vec<Change>,
    /// Any other status change, or the same status with another verdict line
    /// (a different error, another guest kernel).
    pub changed: Vec<Change>,
    /// Only in the new run.
    pub added: Vec<Change>,
    /// Only in the old run.
    pub removed: Vec<Change>,
}

/// Compares two runs.
pub fn diff(old: &ResultsFile, new: &ResultsFile) -> Diff {
    let o: BTreeMap<&str, &CellRecord> = old.cells.iter().map(|c| (c.name.as_str(), c)).collect();
    let n: BTreeMap<&str, &CellRecord> = new.cells.iter().map(|c| (c.name.as_str(), c)).collect();
    let mut d = Diff::default();
    for (name, nc) in &n {
        let change = |old: Option<&CellRecord>| Change {
            name: name.to_string(),
            old: old.map(|c| c.status),
            new: Some(nc.status),
            summary: nc.summary.clone(),
        };
        match o.get(name) {
            None => d.added.push(change(None)),
            Some(oc) if !oc.status.is_bad() && nc.status.is_bad() => {
                d.newly_failing.push(change(Some(oc)))
            }
            Some(oc) if oc.status.is_bad() && nc.status == Status::Passed => {
                d.newly_passing.push(change(Some(oc)))
            }
            Some(oc)
                if oc.status != nc.status
                    || oc.guest_kernel != nc.guest_kernel
                    || oc.errors_seen != nc.errors_seen =>
            {
                d.changed.push(change(Some(oc)))
            }
            Some(_) => {}
        }
    }
    for (name, oc) in &o {
        if !n.contains_key(name) {
            d.removed.push(Change {
                name: name.to_string(),
                old: Some(oc.status),
                new: None,
                summary: oc.summary.clone(),
            });
        }
    }
    d
}

/// The diff as text, one section per kind, empty sections left out.
pub fn render(d: &Diff) -> String {
    let mut s = String::new();
    let sections = [
        ("newly failing", &d.newly_failing),
        ("newly passing", &d.newly_passing),
        ("changed", &d.changed),
        ("added", &d.added),
        ("removed", &d.removed),
    ];
    for (title, list) in sections {
        if list.is_empty() {
            continue;
        }
        s.push_str(&format!("{title} ({}):\n", list.len()));
        for c in list {
            s.push_str(&format!(
                "  {}: {} -> {}: {}\n",
                c.name,
                c.old.map_or("-", Status::as_str),
                c.new.map_or("-", Status::as_str),
                c.summary
            ));
        }
    }
    if s.is_empty() {
        s.push_str("no differences\n");
    }
    s
}
