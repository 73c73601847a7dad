//! `bootmatrix merge`: several runs of one matrix (the shards of a CI job,
//! or a native run and an emulated one) put back together into one output
//! directory, as if one run had produced it: `results.json`, JUnit,
//! `summary.md`, `report.html`, and every cell's directory.
//!
//! [`merge`] decides, from the inputs' results.json alone (pure): runs of
//! different matrices are refused, a cell two inputs disagree about is an
//! error unless the newest verdict is asked for, and the cells of the
//! matrix that no input has are listed. [`merge_dirs`] does the I/O around
//! it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::report::results::{CellLogs, FORMAT_VERSION};
use crate::report::{self, CellRecord, JunitFlavor, ResultsFile};

/// What to do with a cell that two inputs gave different verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Prefer {
    /// Refuse to merge: the runs disagree, and a person should look.
    #[default]
    Refuse,
    /// Keep the verdict of the run that finished the cell last.
    Newest,
}

/// One run's output, as `merge` reads it.
#[derive(Debug, Clone)]
pub struct Input {
    /// Its output directory, as given (named in messages, recorded as the
    /// runs' source).
    pub dir: PathBuf,
    /// Its results.json.
    pub results: ResultsFile,
}

/// The merged results, and where each of its cells and sessions came from.
#[derive(Debug, Clone)]
pub struct Merged {
    /// The merged results.json. Cell and session paths are those of the
    /// output directory; [`merge_dirs`] copies the files there.
    pub results: ResultsFile,
    /// For each merged cell, the input it was taken from.
    pub cell_sources: Vec<usize>,
    /// For each merged session, the input it was taken from and its
    /// directory (relative) in that input.
    pub session_sources: Vec<(usize, Option<String>)>,
    /// Cells two inputs disagreed about, with the status kept (only with
    /// [`Prefer::Newest`]).
    pub overruled: Vec<String>,
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// When a cell of `input` finished, in Unix seconds: what "newest" means.
fn finished_at(input: &Input, c: &CellRecord) -> f64 {
    let run = input.results.runs.get(c.run);
    run.map_or(input.results.started_unix, |r| r.started_unix) as f64
        + c.end
            .unwrap_or_else(|| run.map_or(input.results.seconds, |r| r.seconds))
}

/// Merges the inputs' results.
pub fn merge(inputs: &[Input], prefer: Prefer) -> Result<Merged> {
    let first = inputs
        .first()
        .ok_or_else(|| Error::bad_input("merge: give at least one run's output directory"))?;
    for other in &inputs[1..] {
        if other.results.matrix_sha256 != first.results.matrix_sha256 {
            return Err(Error::bad_input(format!(
                "merge: {} ran {} (sha256 {}) but {} ran {} (sha256 {}): only runs of the same matrix file merge",
                first.dir.display(),
                first.results.matrix,
                short(&first.results.matrix_sha256),
                other.dir.display(),
                other.results.matrix,
                short(&other.results.matrix_sha256)
            )));
        }
    }
    // The runs of every input, renumbered; each remembers where it came from.
    let mut runs = Vec::new();
    let mut run_offset = Vec::new();
    for input in inputs {
        run_offset.push(runs.len());
        for r in &input.results.runs {
            let mut r = r.clone();
            r.source
                .get_or_insert_with(|| input.dir.display().to_string());
            runs.push(r);
        }
    }
    // Every cell by name: the newest copy wins; a disagreement is refused
    // unless asked otherwise.
    let mut chosen: BTreeMap<&str, (usize, &CellRecord)> = BTreeMap::new();
    let mut conflicts: Vec<String> = Vec::new();
    let mut overruled: BTreeSet<String> = BTreeSet::new();
    for (i, input) in inputs.iter().enumerate() {
        for c in &input.results.cells {
            let Some(&(j, kept)) = chosen.get(c.name.as_str()) else {
                chosen.insert(&c.name, (i, c));
                continue;
            };
            if kept.status != c.status {
                if prefer == Prefer::Refuse {
                    conflicts.push(format!(
                        "cell `{}` is {} in {} but {} in {}",
                        c.name,
                        kept.status.as_str(),
                        inputs[j].dir.display(),
                        c.status.as_str(),
                        input.dir.display()
                    ));
                    continue;
                }
                overruled.insert(c.name.clone());
            }
            if finished_at(input, c) >= finished_at(&inputs[j], kept) {
                chosen.insert(&c.name, (i, c));
            }
        }
    }
    if let Some(first_conflict) = conflicts.first() {
        let more = match conflicts.len() {
            1 => String::new(),
            n => format!(" (and {} more cells)", n - 1),
        };
        return Err(Error::bad_input(format!(
            "merge: {first_conflict}{more}; pass --prefer newest to keep the verdict of the run that finished it last"
        )));
    }
    // The selection: every cell any input was asked for, in matrix order.
    let mut selection = first.results.selection.clone();
    selection.partition = None;
    for input in &inputs[1..] {
        for name in &input.results.selection.cells {
            if !selection.cells.contains(name) {
                selection.cells.push(name.clone());
            }
        }
        for f in &input.results.selection.filters {
            if !selection.filters.contains(f) {
                selection.filters.push(f.clone());
            }
        }
    }
    let order = |name: &str| {
        selection
            .cells
            .iter()
            .position(|n| n == name)
            .unwrap_or(usize::MAX)
    };
    let mut picked: Vec<(usize, &CellRecord)> = chosen.values().copied().collect();
    picked.sort_by_key(|(i, c)| {
        (
            order(&c.name),
            *i,
            inputs[*i]
                .results
                .cells
                .iter()
                .position(|x| x.name == c.name),
        )
    });
    let missing: Vec<String> = selection
        .cells
        .iter()
        .filter(|n| !chosen.contains_key(n.as_str()))
        .cloned()
        .collect();
    let cells: Vec<CellRecord> = picked
        .iter()
        .map(|(i, c)| CellRecord {
            run: run_offset[*i] + c.run,
            ..(*c).clone()
        })
        .collect();
    let cell_sources: Vec<usize> = picked.iter().map(|(i, _)| *i).collect();
    // Sessions keep their host's console, renamed where two inputs used
    // the same host key.
    let mut sessions = Vec::new();
    let mut session_sources = Vec::new();
    let all: Vec<(usize, &crate::report::results::SessionRecord)> = inputs
        .iter()
        .enumerate()
        .flat_map(|(i, input)| input.results.sessions.iter().map(move |s| (i, s)))
        .collect();
    for &(i, s) in &all {
        let run = run_offset[i] + s.run;
        let shared = all
            .iter()
            .filter(|(_, o)| o.console.is_some() && o.console == s.console)
            .count()
            > 1;
        let from = s
            .console
            .as_deref()
            .and_then(|c| Path::new(c).parent())
            .map(|p| p.display().to_string());
        let to = from.as_ref().map(|dir| {
            if shared {
                let name = Path::new(dir)
                    .file_name()
                    .map_or(String::new(), |n| n.to_string_lossy().into_owned());
                format!("hosts/run{}-{name}", run + 1)
            } else {
                dir.clone()
            }
        });
        let mut s = s.clone();
        s.run = run;
        s.console = to.map(|d| format!("{d}/console.log"));
        sessions.push(s);
        session_sources.push((i, from));
    }
    let starts = runs.iter().map(|r| r.started_unix);
    let started_unix = starts.clone().min().unwrap_or(first.results.started_unix);
    let ended = runs
        .iter()
        .map(|r| r.started_unix as f64 + r.seconds)
        .fold(started_unix as f64, f64::max);
    let mut results = ResultsFile {
        version: FORMAT_VERSION,
        matrix: first.results.matrix.clone(),
        matrix_sha256: first.results.matrix_sha256.clone(),
        suite: first.results.suite.clone(),
        description: inputs.iter().find_map(|i| i.results.description.clone()),
        qemu_version: first.results.qemu_version.clone(),
        host: first.results.host.clone(),
        started_unix,
        seconds: ended - started_unix as f64,
        interrupted: runs.iter().any(|r| r.interrupted),
        flaky_fails: inputs.iter().any(|i| i.results.flaky_fails),
        counts: BTreeMap::new(),
        selection,
        missing,
        runs,
        sessions,
        cells,
    };
    results.count();
    Ok(Merged {
        results,
        cell_sources,
        session_sources,
        overruled: overruled.into_iter().collect(),
    })
}

/// What `bootmatrix merge` did.
#[derive(Debug, Clone)]
pub struct MergeOutcome {
    /// The merged results (as written to `out/results.json`).
    pub results: ResultsFile,
    /// Where the JUnit went.
    pub junit: PathBuf,
    /// Cells whose verdict was taken from the newest of disagreeing runs.
    pub overruled: Vec<String>,
}

/// The results.json of a run's output directory (or the file itself).
fn results_path(p: &Path) -> PathBuf {
    if p.is_dir() {
        p.join("results.json")
    } else {
        p.to_path_buf()
    }
}

/// The run directory of a results.json path or a directory.
fn run_dir(p: &Path) -> PathBuf {
    if p.is_dir() {
        p.to_path_buf()
    } else {
        p.parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    }
}

/// Reads the inputs, merges them into `out`: copies (hard-links where it
/// can) each kept cell's directory and each host session's, and writes
/// every report.
pub fn merge_dirs(
    out: &Path,
    dirs: &[PathBuf],
    prefer: Prefer,
    flavor: JunitFlavor,
) -> Result<MergeOutcome> {
    let out_real = std::path::absolute(out).unwrap_or_else(|_| out.to_path_buf());
    let mut inputs = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    for d in dirs {
        let dir = run_dir(d);
        let real = dir.canonicalize().unwrap_or_else(|_| dir.clone());
        if real == out_real.canonicalize().unwrap_or_else(|_| out_real.clone()) {
            return Err(Error::bad_input(format!(
                "merge: --out {} is also an input: give a new directory",
                out.display()
            )));
        }
        if seen.contains(&real) {
            return Err(Error::bad_input(format!(
                "merge: {} is given twice",
                d.display()
            )));
        }
        seen.push(real);
        inputs.push(Input {
            results: ResultsFile::load(&results_path(d))?,
            dir,
        });
    }
    let merged = merge(&inputs, prefer)?;
    prepare_out(out)?;
    let mut results = merged.results;
    for (c, &i) in results.cells.iter_mut().zip(&merged.cell_sources) {
        let rel = c
            .logs
            .dir
            .clone()
            .unwrap_or_else(|| format!("cells/{}", crate::run::cell_dir_name(&c.name)));
        let src = inputs[i].dir.join(&rel);
        if src.is_dir() {
            copy_tree(&src, &out.join(&rel))?;
        }
        c.logs = CellLogs::find(out, &rel);
    }
    for (s, (i, from)) in results.sessions.iter_mut().zip(&merged.session_sources) {
        let (Some(from), Some(to)) = (
            from,
            s.console
                .as_ref()
                .and_then(|c| Path::new(c).parent())
                .map(Path::to_path_buf),
        ) else {
            continue;
        };
        let src = inputs[*i].dir.join(from);
        if src.is_dir() {
            copy_tree(&src, &out.join(&to))?;
        }
        s.console = s.console.take().filter(|c| out.join(c).is_file());
    }
    let junit = report::write_all(out, &results, flavor)?;
    Ok(MergeOutcome {
        results,
        junit,
        overruled: merged.overruled,
    })
}

/// Makes `out` ready: created if absent; a previous output (it has a
/// results.json) loses its cell and host directories; any other non-empty
/// directory is refused rather than written into.
fn prepare_out(out: &Path) -> Result<()> {
    if out.exists() {
        let empty = std::fs::read_dir(out)
            .map_err(|e| Error::io(out, "cannot read", e))?
            .next()
            .is_none();
        if !empty && !out.join("results.json").is_file() {
            return Err(Error::bad_input(format!(
                "merge: --out {} is neither empty nor a bootmatrix output: give a new directory",
                out.display()
            )));
        }
        for sub in ["cells", "hosts"] {
            let p = out.join(sub);
            if p.is_dir() {
                std::fs::remove_dir_all(&p).map_err(|e| Error::io(&p, "cannot clear", e))?;
            }
        }
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, "cannot create", e))
}

/// Copies a directory tree, hard-linking files where the file system
/// allows (cell logs can be large) and copying them otherwise.
fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    std::fs::create_dir_all(dst).map_err(|e| Error::io(dst, "cannot create", e))?;
    for entry in std::fs::read_dir(src).map_err(|e| Error::io(src, "cannot read", e))? {
        let entry = entry.map_err(|e| Error::io(src, "cannot read", e))?;
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let kind = entry
            .file_type()
            .map_err(|e| Error::io(&from, "cannot read", e))?;
        if kind.is_dir() {
            copy_tree(&from, &to)?;
        } else if kind.is_symlink() {
            let target =
                std::fs::read_link(&from).map_err(|e| Error::io(&from, "cannot read", e))?;
            std::os::unix::fs::symlink(target, &to)
                .map_err(|e| Error::io(&to, "cannot create", e))?;
        } else if std::fs::hard_link(&from, &to).is_err() {
            std::fs::copy(&from, &to).map_err(|e| Error::io(&to, "cannot copy to", e))?;
        }
    }
    Ok(())
}
