//! `summary.md`: the compatibility table as measured, one line per cell
//! grouped by host row, for a CI job page or a pull request.

use std::collections::BTreeMap;

use super::results::{CellRecord, ResultsFile, STATUSES};
use super::{duration_text, host_row_label};
use crate::verdict::Status;

/// What happened to a cell, in a word or two: `booted`, `documented error
/// (id)`, or the status.
pub fn measured(c: &CellRecord) -> String {
    match (c.status, &c.expected_error) {
        (Status::Passed, None) => "booted".to_string(),
        (Status::Passed, Some(id)) => format!("documented error ({id})"),
        (other, _) => other.word().to_lowercase(),
    }
}

/// The counts as `2 pass, 1 skip`.
pub fn counts_line(results: &ResultsFile) -> String {
    let parts: Vec<String> = STATUSES
        .iter()
        .filter(|s| results.count_of(**s) > 0)
        .map(|s| format!("{} {}", results.count_of(*s), s.word().to_lowercase()))
        .collect();
    format!("**{}** of {} cells.", parts.join(", "), results.cells.len())
}

fn cell_text(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The whole summary.
pub fn markdown(results: &ResultsFile) -> String {
    let mut s = String::new();
    s.push_str(&format!("# bootmatrix: {}\n\n", results.matrix));
    for (i, run) in results.runs.iter().enumerate() {
        let q = run
            .qemu
            .iter()
            .find(|q| q.level == 0)
            .map_or("qemu not found".to_string(), |q| {
                format!("qemu {}", q.version)
            });
        let label = if results.runs.len() > 1 {
            format!("Run {}", i + 1)
        } else {
            "Host".to_string()
        };
        let shard = run
            .partition
            .as_ref()
            .map(|p| format!(", shard {p}"))
            .unwrap_or_default();
        s.push_str(&format!(
            "{label}: {} ({}), {q}{shard}. Wall time {}.\n",
            run.host.arch,
            run.host.cpu.as_deref().unwrap_or("unknown CPU"),
            duration_text(run.seconds)
        ));
    }
    s.push('\n');
    s.push_str(&counts_line(results));
    s.push_str("\n\n");
    if !results.missing.is_empty() {
        s.push_str(&format!(
            "**{} cells of the matrix are in no merged run:** ",
            results.missing.len()
        ));
        let names: Vec<String> = results.missing.iter().map(|n| format!("`{n}`")).collect();
        s.push_str(&names.join(", "));
        s.push_str("\n\n");
    }
    let mut by_host: BTreeMap<(u8, String), Vec<&CellRecord>> = BTreeMap::new();
    for c in &results.cells {
        let key = c
            .host
            .as_ref()
            .map_or((1, "host not recorded".to_string()), |h| {
                (0, host_row_label(h))
            });
        by_host.entry(key).or_default().push(c);
    }
    for ((_, host), cells) in by_host {
        s.push_str(&format!(
            "## {host}\n\n| cell | guest | measured | expected | detail |\n|---|---|---|---|---|\n"
        ));
        for c in cells {
            let guest = c.guest.as_ref().map_or("-".to_string(), |g| {
                format!(
                    "{} {} {}, {}",
                    g.accel,
                    g.mmu.cpuinfo_word(),
                    g.page_size,
                    g.machine
                )
            });
            s.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                c.name,
                guest,
                measured(c),
                cell_text(&c.expected),
                cell_text(&c.summary)
            ));
        }
        s.push('\n');
    }
    s.push_str(&health_markdown(results));
    s
}

/// The summary's kernel health section: every cell whose guest kernel had
/// findings, one line per finding (empty when no cell had any).
fn health_markdown(results: &ResultsFile) -> String {
    let mut s = String::new();
    for c in results.cells.iter().filter(|c| !c.health.is_empty()) {
        s.push_str(&format!("- `{}` ({}):\n", c.name, c.status.word()));
        for f in &c.health {
            let tag = match &f.suppressed {
                Some(by) => format!("suppressed by {}:{}", by.file, by.line),
                None => f.weight().to_string(),
            };
            s.push_str(&format!(
                "  - {tag}: `{}`\n",
                f.headline().replace('`', "'")
            ));
        }
    }
    if s.is_empty() {
        return s;
    }
    format!("## Kernel health\n\n{s}\n")
}
