//! How a run is told. `results.json` ([`results`]) records everything a run
//! found out; every other report is rendered from it alone, so that
//! `bootmatrix merge` can render them again for several runs together:
//! JUnit XML for CI systems ([`junit`]), `summary.md`, the compatibility
//! table as measured, for a job page ([`summary`]), and `report.html`, the
//! table as a grid with a timeline of the run, for a person ([`html`]).

pub mod html;
pub mod junit;
pub mod results;
pub mod summary;

use std::path::{Path, PathBuf};

pub use junit::JunitFlavor;
pub use results::{CellRecord, ResultsFile, RunFacts};

use crate::error::{Error, Result};
use results::CellHost;

/// Writes `junit.xml`, `results.json`, `summary.md` and `report.html` into
/// `out`; returns the JUnit path. Each file goes to a temporary name first
/// and is renamed, so a reader never sees half a report.
pub fn write_all(out: &Path, results: &ResultsFile, flavor: JunitFlavor) -> Result<PathBuf> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, "cannot create", e))?;
    let junit_path = out.join("junit.xml");
    write_atomic(&junit_path, junit::render(results, flavor)?.as_bytes())?;
    let json = serde_json::to_string_pretty(results)
        .map_err(|e| Error::infra(format!("cannot render results.json: {e}")))?;
    write_atomic(&out.join("results.json"), json.as_bytes())?;
    write_atomic(
        &out.join("summary.md"),
        summary::markdown(results).as_bytes(),
    )?;
    write_atomic(&out.join("report.html"), html::render(results).as_bytes())?;
    Ok(junit_path)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, "cannot write", e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, "cannot write", e))
}

/// A host row as a person names it: `native host`, or `powernv9 host,
/// Radix MMU, 4k pages, kernel host-4k`.
pub fn host_row_label(h: &CellHost) -> String {
    let mut s = format!("{} host", h.kind.as_str());
    if h.mmu.is_some() || h.page_size.is_some() {
        s.push_str(&format!(
            ", {} MMU, {} pages",
            h.mmu.map_or("any", |m| m.cpuinfo_word()),
            h.page_size.map_or("any", |p| p.as_str())
        ));
    }
    if h.nested == Some(true) {
        s.push_str(" (nested L1)");
    }
    if h.kind.is_emulated() {
        if let Some(k) = &h.kernel {
            s.push_str(&format!(", kernel {k}"));
        }
    }
    s
}

/// A duration as `8.3 s`, `4 min 05 s` or `1 h 02 min`.
pub fn duration_text(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{} min {:02} s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!(
            "{} h {:02} min",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    }
}

/// Unix seconds as `2025-06-01 12:00:00 UTC`.
pub fn utc_text(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Days since 1970-01-01 to a civil date (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Appends the suppressions that matched nothing in the run to
/// `summary.md` in `out` (nothing when every one matched), so that stale
/// suppressions are seen and removed.
pub fn note_unused_suppressions(out: &Path, unused: &[String]) -> Result<()> {
    if unused.is_empty() {
        return Ok(());
    }
    let path = out.join("summary.md");
    let mut s = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, "cannot read", e))?;
    s.push_str("## Suppressions that matched nothing\n\n");
    for u in unused {
        s.push_str(&format!("- `{}`\n", u.replace('`', "'")));
    }
    s.push('\n');
    write_atomic(&path, s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_durations_read_as_a_person_writes_them() {
        assert_eq!(utc_text(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_text(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_text(1_767_225_599), "2025-12-31 23:59:59 UTC");
        assert_eq!(duration_text(8.26), "8.3 s");
        assert_eq!(duration_text(503.0), "8 min 23 s");
        assert_eq!(duration_text(3725.0), "1 h 02 min");
    }
}
