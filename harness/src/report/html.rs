//! `report.html`: the compatibility table as a person reads it. One
//! self-contained file (inline CSS, no script, nothing fetched) that opens
//! from disk or from a CI artifact:
//!
//! - a header with the matrix and its hash, the runs (host, qemu of each
//!   level, start, duration, shard), the kernels with release and sha256,
//!   and the counts;
//! - the grid: host rows (kind, MMU, page size, host kernel) by guest
//!   columns (accelerator, MMU, page size); the cells of one grid position
//!   (fix sets, machine types...) sit side by side as variants, each
//!   coloured by verdict, saying what the guest reported, the documented
//!   error seen or the reason for a skip, with links to its logs;
//! - a timeline: one lane per worker and per emulated-host session, a bar
//!   per cell from its start to its end;
//! - every cell in a list, which is also what prints and searches best.
//!
//! Any matrix renders: cells without host axes form one row. Every text
//! from the results goes through [`esc`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::results::{CellGuest, CellHost, CellRecord, Lane, ResultsFile, RunRecord};
use super::{duration_text, utc_text};
use crate::model::{Accel, Mmu, PageSize};
use crate::verdict::Status;

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("&#10;"),
            c => out.push(c),
        }
    }
    out
}

/// How a cell is shown: its status, with a pass split by what had to
/// happen (a boot, or the documented error: an expected failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// Passed: the guest booted and reported what the cell expects.
    Booted,
    /// Passed: qemu refused with the documented error the cell expects.
    ExpectedFailure,
    /// Any other status.
    Other(Status),
}

impl Shown {
    /// How `c` is shown.
    pub fn of(c: &CellRecord) -> Shown {
        match (c.status, &c.expected_error) {
            (Status::Passed, None) => Shown::Booted,
            (Status::Passed, Some(_)) => Shown::ExpectedFailure,
            (s, _) => Shown::Other(s),
        }
    }

    /// The CSS class that colours it.
    pub fn class(self) -> &'static str {
        match self {
            Shown::Booted => "v-booted",
            Shown::ExpectedFailure => "v-xfail",
            Shown::Other(Status::Passed) => "v-booted",
            Shown::Other(Status::Failed) => "v-failed",
            Shown::Other(Status::Skipped) => "v-skipped",
            Shown::Other(Status::Error) => "v-error",
            Shown::Other(Status::Interrupted) => "v-interrupted",
            Shown::Other(Status::Xfail) => "v-known",
        }
    }

    /// The badge's words.
    pub fn badge(self) -> &'static str {
        match self {
            Shown::Booted | Shown::Other(Status::Passed) => "boots",
            Shown::ExpectedFailure => "fails as documented",
            Shown::Other(Status::Failed) => "FAILED",
            Shown::Other(Status::Skipped) => "skipped",
            Shown::Other(Status::Error) => "error",
            Shown::Other(Status::Interrupted) => "interrupted",
            Shown::Other(Status::Xfail) => "known failure",
        }
    }

    /// The legend's explanation.
    fn meaning(self) -> &'static str {
        match self {
            Shown::Booted | Shown::Other(Status::Passed) => {
                "passed: the guest booted and reported the expected MMU and page size"
            }
            Shown::ExpectedFailure => {
                "passed: qemu refused with exactly the documented error (an expected failure)"
            }
            Shown::Other(Status::Failed) => {
                "failed: something else happened than the documentation says"
            }
            Shown::Other(Status::Skipped) => {
                "skipped: this host cannot run the cell (the reason is shown)"
            }
            Shown::Other(Status::Error) => "infrastructure error: the machine, not the guest",
            Shown::Other(Status::Interrupted) => "interrupted before the cell finished",
            Shown::Other(Status::Xfail) => {
                "known failure: failed as its known_failure mark says (not counted against the run)"
            }
        }
    }
}

/// The header's counts, most urgent after the passes.
const COUNT_ORDER: [Status; 6] = [
    Status::Passed,
    Status::Failed,
    Status::Error,
    Status::Interrupted,
    Status::Xfail,
    Status::Skipped,
];

const LEGEND: [Shown; 7] = [
    Shown::Booted,
    Shown::ExpectedFailure,
    Shown::Other(Status::Failed),
    Shown::Other(Status::Error),
    Shown::Other(Status::Skipped),
    Shown::Other(Status::Xfail),
    Shown::Other(Status::Interrupted),
];

/// A guest column: accelerator, MMU, page size.
pub type Column = (Accel, Mmu, PageSize);

/// The grid: host rows by guest columns, each position holding the indices
/// of its cells (its variants) in matrix order. Cells whose axes were not
/// recorded (results of an older version) form a row and a column of their
/// own, keyed `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grid {
    /// Host rows, sorted (kind, MMU, page size, nesting, kernel).
    pub rows: Vec<Option<CellHost>>,
    /// Guest columns, sorted by accelerator, MMU and page size.
    pub columns: Vec<Option<Column>>,
    /// (row, column) → indices into the results' cells.
    pub cells: BTreeMap<(usize, usize), Vec<usize>>,
}

fn row_key(c: &CellRecord) -> Option<CellHost> {
    // The qemu inside an emulated host is a property of the variant (an
    // old machine type runs on an older qemu), not of the row.
    c.host.as_ref().map(|h| CellHost {
        qemu: None,
        ..h.clone()
    })
}

fn column_key(c: &CellRecord) -> Option<Column> {
    c.guest.as_ref().map(|g| (g.accel, g.mmu, g.page_size))
}

/// Lays the cells out as a grid.
pub fn grid(results: &ResultsFile) -> Grid {
    let mut rows: Vec<Option<CellHost>> = results.cells.iter().map(row_key).collect();
    rows.sort();
    rows.dedup();
    let mut columns: Vec<Option<Column>> = results.cells.iter().map(column_key).collect();
    columns.sort();
    columns.dedup();
    let mut cells: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
    for (i, c) in results.cells.iter().enumerate() {
        let r = rows
            .iter()
            .position(|k| *k == row_key(c))
            .expect("row of every cell");
        let col = columns
            .iter()
            .position(|k| *k == column_key(c))
            .expect("column of every cell");
        cells.entry((r, col)).or_default().push(i);
    }
    Grid {
        rows,
        columns,
        cells,
    }
}

/// What tells the variants of one grid position apart: their fixes (always,
/// when the matrix uses fixes anywhere), a machine type other than plain
/// `pseries`, an inner qemu older than its siblings' newest, and whichever
/// of kernel, firmware and memory differ among them.
pub fn variant_label(c: &CellRecord, siblings: &[&CellRecord], any_fixes: bool) -> String {
    let Some(g) = &c.guest else {
        return String::new();
    };
    let guests: Vec<&CellGuest> = siblings.iter().filter_map(|s| s.guest.as_ref()).collect();
    let varies = |f: &dyn Fn(&CellGuest) -> String| guests.iter().any(|o| f(o) != f(g));
    let mut parts: Vec<String> = Vec::new();
    if g.machine != "pseries" {
        parts.push(g.machine.clone());
    }
    // `10.0.2 from Debian bookworm-backports` → (10, 0, 2).
    let qemu = |x: &CellRecord| {
        let q = x.host.as_ref()?.qemu.as_ref()?;
        let word = q.split(' ').next().unwrap_or(q);
        Some((crate::host::parse_version(word), word.to_string()))
    };
    let newest = siblings.iter().filter_map(|s| qemu(s)).map(|q| q.0).max();
    if let Some((version, word)) = qemu(c) {
        if Some(version) != newest {
            parts.push(format!("qemu {word}"));
        }
    }
    if varies(&|o| o.kernel.clone()) {
        parts.push(g.kernel.clone());
    }
    if varies(&|o| format!("{:?}", o.firmware)) {
        parts.push(format!("{:?}", g.firmware).to_lowercase());
    }
    if varies(&|o| o.memory_mib.to_string()) {
        parts.push(format!("{} MiB", g.memory_mib));
    }
    let mut label = parts.join(" · ");
    if any_fixes || varies(&|o| format!("{:?}", o.fixes)) {
        let fixes = if g.fixes.is_empty() {
            "no fix".to_string()
        } else {
            let f: Vec<&str> = g.fixes.iter().map(|f| f.as_str()).collect();
            format!("+ {}", f.join(" + "))
        };
        let sep = match (label.is_empty(), g.fixes.is_empty()) {
            (true, _) => "",
            (false, true) => " · ",
            (false, false) => " ",
        };
        label = format!("{label}{sep}{fixes}");
    }
    label
}

/// What a cell's tile says happened, in one line.
pub fn outcome_line(c: &CellRecord) -> String {
    match Shown::of(c) {
        Shown::Booted => {
            let mut parts: Vec<String> = Vec::new();
            parts.extend(c.guest_mmu.clone());
            parts.extend(c.guest_page_size.map(|p| p.to_string()));
            parts.extend(c.guest_kernel.clone());
            if let Some(s) = c.boot_seconds {
                parts.push(format!("{s:.1}\u{a0}s"));
            }
            if parts.is_empty() {
                c.summary.clone()
            } else {
                parts.join(" · ")
            }
        }
        Shown::ExpectedFailure => c
            .error_text
            .as_deref()
            .map_or_else(|| c.summary.clone(), |t| error_message(t).to_string()),
        Shown::Other(Status::Skipped) => c.skip_reason.clone().unwrap_or_else(|| c.summary.clone()),
        Shown::Other(_) => c.summary.clone(),
    }
}

/// A documented error's line without what prefixes it on its stream (the
/// stderr tag of emulated hosts in results of earlier versions, qemu's
/// program name): the message itself.
fn error_message(line: &str) -> &str {
    let line = line.trim();
    let line = line
        .strip_prefix("BM-L2-ERR: ")
        .unwrap_or(line)
        .trim_start();
    match line.split_once(": ") {
        Some((program, rest)) if program.starts_with("qemu-system-") && !program.contains(' ') => {
            rest
        }
        _ => line,
    }
}

fn links(c: &CellRecord) -> String {
    let mut out = String::new();
    for (label, path) in [
        ("console", &c.logs.console),
        ("stderr", &c.logs.stderr),
        ("repro.sh", &c.logs.repro),
    ] {
        if let Some(p) = path {
            let _ = write!(out, "<a href=\"{}\">{label}</a>", esc(p));
        }
    }
    out
}

fn tile(i: usize, c: &CellRecord, label: &str) -> String {
    let shown = Shown::of(c);
    let mut title = c.name.clone();
    if let Some(row) = &c.row {
        title.push_str(&format!("\n{row}"));
    }
    title.push_str(&format!("\nexpected: {}\n{}", c.expected, c.summary));
    let mut s = String::new();
    let _ = write!(
        s,
        "<article class=\"tile {class}\" id=\"cell-{i}\" data-cell=\"{name}\" data-status=\"{status}\" title=\"{title}\">\
         <div class=\"tile-head\"><span class=\"badge\">{badge}</span><a class=\"variant\" href=\"#list-{i}\">{label}</a></div>\
         <p class=\"outcome\">{outcome}</p>",
        class = shown.class(),
        name = esc(&c.name),
        status = c.status.as_str(),
        title = esc(&title),
        badge = shown.badge(),
        label = esc(if label.is_empty() { &c.name } else { label }),
        outcome = esc(&outcome_line(c)),
    );
    let l = links(c);
    if !l.is_empty() {
        let _ = write!(s, "<p class=\"links\">{l}</p>");
    }
    s.push_str("</article>");
    s
}

fn accel_title(a: Accel) -> &'static str {
    match a {
        Accel::Tcg => "TCG",
        Accel::KvmHv => "KVM-HV",
        Accel::KvmPr => "KVM-PR",
    }
}

fn row_header(row: &Option<CellHost>) -> String {
    let Some(h) = row else {
        return "<th scope=\"row\" class=\"host\"><b>host not recorded</b></th>".into();
    };
    let mut s = format!(
        "<th scope=\"row\" class=\"host\"><b>{}</b>",
        esc(h.kind.as_str())
    );
    let mut facts: Vec<String> = Vec::new();
    match (h.mmu, h.page_size) {
        (None, None) => facts.push("any MMU, any pages".into()),
        (m, p) => {
            facts.push(format!("{} MMU", m.map_or("any", |m| m.cpuinfo_word())));
            facts.push(format!("{} pages", p.map_or("any", |p| p.as_str())));
        }
    }
    match h.nested {
        Some(true) => facts.push("nested L1".into()),
        Some(false) if h.kind.is_emulated() => {}
        Some(false) => facts.push("bare metal".into()),
        None => {}
    }
    let _ = write!(s, "<span>{}</span>", esc(&facts.join(" · ")));
    if let Some(k) = &h.kernel {
        let _ = write!(s, "<span class=\"muted\">kernel {}</span>", esc(k));
    }
    s.push_str("</th>");
    s
}

fn grid_html(results: &ResultsFile) -> String {
    let g = grid(results);
    let any_fixes = results
        .cells
        .iter()
        .any(|c| c.guest.as_ref().is_some_and(|g| !g.fixes.is_empty()));
    let mut s = String::from("<div class=\"scroll\"><table class=\"grid\"><thead><tr><th rowspan=\"2\" class=\"corner\">host ↓ · guest →</th>");
    // Columns grouped by accelerator.
    let mut i = 0;
    while i < g.columns.len() {
        let accel = g.columns[i].map(|c| c.0);
        let span = g.columns[i..]
            .iter()
            .take_while(|c| c.map(|c| c.0) == accel)
            .count();
        let _ = write!(
            s,
            "<th colspan=\"{span}\" class=\"accel\">{}</th>",
            accel.map_or("guest not recorded", accel_title)
        );
        i += span;
    }
    s.push_str("</tr><tr>");
    for col in &g.columns {
        match col {
            Some((_, mmu, page)) => {
                let _ = write!(
                    s,
                    "<th class=\"guest\">{} guest<span>{} pages</span></th>",
                    mmu.cpuinfo_word(),
                    page
                );
            }
            None => s.push_str("<th class=\"guest\">-</th>"),
        }
    }
    s.push_str("</tr></thead><tbody>");
    for (r, row) in g.rows.iter().enumerate() {
        s.push_str("<tr class=\"host-row\">");
        s.push_str(&row_header(row));
        for col in 0..g.columns.len() {
            match g.cells.get(&(r, col)) {
                None => s.push_str("<td class=\"empty\"><span>not in the matrix</span></td>"),
                Some(ix) => {
                    let siblings: Vec<&CellRecord> =
                        ix.iter().map(|&i| &results.cells[i]).collect();
                    s.push_str("<td><div class=\"variants\">");
                    for &i in ix {
                        let c = &results.cells[i];
                        s.push_str(&tile(i, c, &variant_label(c, &siblings, any_fixes)));
                    }
                    s.push_str("</div></td>");
                }
            }
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table></div>");
    s
}

fn legend_html() -> String {
    let mut s = String::from("<ul class=\"legend\">");
    for shown in LEGEND {
        let _ = write!(
            s,
            "<li><span class=\"swatch {}\"></span>{}</li>",
            shown.class(),
            esc(shown.meaning())
        );
    }
    s.push_str("</ul>");
    s
}

fn counts_html(results: &ResultsFile) -> String {
    let mut s = String::from("<div class=\"counts\">");
    let booted = results
        .cells
        .iter()
        .filter(|c| Shown::of(c) == Shown::Booted)
        .count();
    let xfail = results
        .cells
        .iter()
        .filter(|c| Shown::of(c) == Shown::ExpectedFailure)
        .count();
    let _ = write!(
        s,
        "<span class=\"count total\"><b>{}</b> cells</span>",
        results.cells.len()
    );
    for status in COUNT_ORDER {
        let n = results.count_of(status);
        if n == 0 {
            continue;
        }
        let class = Shown::Other(status).class();
        let detail = if status == Status::Passed && xfail > 0 {
            format!(" <small>({booted} boot, {xfail} as documented)</small>")
        } else {
            String::new()
        };
        let _ = write!(
            s,
            "<span class=\"count {class}\" data-status=\"{}\"><b>{n}</b> {}{detail}</span>",
            status.as_str(),
            status.as_str()
        );
    }
    if !results.missing.is_empty() {
        let _ = write!(
            s,
            "<span class=\"count v-missing\"><b>{}</b> missing</span>",
            results.missing.len()
        );
    }
    s.push_str("</div>");
    s
}

fn run_facts(run: &RunRecord, label: Option<String>) -> String {
    let mut s = String::new();
    let mut row = |k: &str, v: String| {
        let _ = write!(s, "<tr><th>{}</th><td>{v}</td></tr>", esc(k));
    };
    if let Some(l) = label {
        row("run", format!("<b>{}</b>", esc(&l)));
    }
    if let Some(src) = &run.source {
        row("from", format!("<code>{}</code>", esc(src)));
    }
    row("started", esc(&utc_text(run.started_unix)));
    row(
        "duration",
        esc(&duration_text(run.seconds))
            + if run.interrupted {
                " <b>(interrupted)</b>"
            } else {
                ""
            },
    );
    if let Some(p) = &run.partition {
        row("shard", format!("<code>--partition {}</code>", esc(p)));
    }
    let h = &run.host;
    let mut host: Vec<String> = vec![h.arch.clone()];
    host.extend(h.cpu.clone());
    host.extend(h.platform.clone());
    if let Some(m) = h.mmu {
        host.push(format!("{} MMU", m.cpuinfo_word()));
    }
    if let Some(p) = h.page_size {
        host.push(format!("{p} pages"));
    }
    if let Some(k) = &h.kernel {
        host.push(format!("kernel {k}"));
    }
    if !h.kvm.is_empty() {
        host.push(h.kvm.clone());
    }
    row("host", esc(&host.join(" · ")));
    let qemu: Vec<String> = run
        .qemu
        .iter()
        .map(|q| {
            format!(
                "level {}: <b>{}</b> <span class=\"muted\">{}</span>",
                q.level,
                esc(&q.version),
                esc(&q.from)
            )
        })
        .collect();
    row(
        "qemu",
        if qemu.is_empty() {
            "not found".into()
        } else {
            qemu.join("<br>")
        },
    );
    s
}

fn kernels_html(results: &ResultsFile) -> String {
    let mut seen: Vec<(String, String, String, String, String, String)> = Vec::new();
    for run in &results.runs {
        for k in &run.kernels {
            let roles: Vec<&str> = k
                .roles
                .iter()
                .map(|r| match r {
                    super::results::KernelRole::Guest => "guest",
                    super::results::KernelRole::Host => "emulated host",
                })
                .collect();
            let entry = (
                k.name.clone(),
                k.image.clone(),
                k.page_size.to_string(),
                roles.join(", "),
                k.release.clone().unwrap_or_else(|| "-".into()),
                k.sha256.clone().unwrap_or_else(|| "-".into()),
            );
            if !seen.contains(&entry) {
                seen.push(entry);
            }
        }
    }
    if seen.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "<div class=\"scroll\"><table class=\"kernels\"><thead><tr><th>kernel</th><th>image</th><th>pages</th><th>booted as</th><th>release</th><th>sha256</th></tr></thead><tbody>",
    );
    for (name, image, pages, roles, release, sha) in seen {
        let _ = write!(
            s,
            "<tr><td><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code class=\"hash\">{}</code></td></tr>",
            esc(&name),
            esc(&image),
            esc(&pages),
            esc(&roles),
            esc(&release),
            esc(&sha)
        );
    }
    s.push_str("</tbody></table></div>");
    s
}

fn header_html(results: &ResultsFile) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<header class=\"top\"><p class=\"kicker\">bootmatrix report</p><h1>{}</h1>",
        esc(&results.suite)
    );
    if let Some(d) = &results.description {
        let _ = write!(s, "<p class=\"desc\">{}</p>", esc(d));
    }
    s.push_str(&counts_html(results));
    s.push_str("</header><section class=\"facts\"><div class=\"scroll\"><table class=\"facts\">");
    let _ = write!(
        s,
        "<tr><th>matrix</th><td><code>{}</code><br><span class=\"muted\">sha256</span> <code class=\"hash\">{}</code></td></tr>",
        esc(&results.matrix),
        esc(&results.matrix_sha256)
    );
    if results.runs.len() > 1 {
        let _ = write!(
            s,
            "<tr><th>merged</th><td>{} runs, from {} for {}</td></tr>",
            results.runs.len(),
            esc(&utc_text(results.started_unix)),
            esc(&duration_text(results.seconds))
        );
    }
    if !results.selection.filters.is_empty() {
        let f: Vec<String> = results
            .selection
            .filters
            .iter()
            .map(|f| format!("<code>{}</code>", esc(f)))
            .collect();
        let _ = write!(s, "<tr><th>filters</th><td>{}</td></tr>", f.join(" "));
    }
    for (i, run) in results.runs.iter().enumerate() {
        let label =
            (results.runs.len() > 1).then(|| format!("{} of {}", i + 1, results.runs.len()));
        s.push_str(&run_facts(run, label));
    }
    s.push_str("</table></div>");
    s.push_str(&kernels_html(results));
    s.push_str("</section>");
    if !results.missing.is_empty() {
        let names: Vec<String> = results
            .missing
            .iter()
            .map(|n| format!("<code>{}</code>", esc(n)))
            .collect();
        let _ = write!(
            s,
            "<section class=\"missing\"><h2>{} cells missing</h2><p>These cells of the matrix are in none of the merged runs (a shard that did not finish, or was not given to <code>bootmatrix merge</code>):</p><p>{}</p></section>",
            results.missing.len(),
            names.join(" ")
        );
    }
    s
}

/// A tick step for a time axis `span` seconds long: about 6 to 12 ticks.
fn tick_step(span: f64) -> f64 {
    const STEPS: [f64; 16] = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
        14400.0, 28800.0,
    ];
    STEPS
        .into_iter()
        .find(|s| span / s <= 12.0)
        .unwrap_or(86400.0)
}

fn clock(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// The length of the longest prefix all `names` (two or more) share that
/// ends with `/` and leaves something of each name.
fn common_dir_prefix(names: &[&str]) -> usize {
    let [first, _, ..] = names else { return 0 };
    let mut len = first.len();
    for n in &names[1..] {
        len = first
            .bytes()
            .zip(n.bytes())
            .take(len)
            .take_while(|(a, b)| a == b)
            .count();
    }
    let shortest = names.iter().map(|n| n.len()).min().unwrap_or(0);
    first[..len.min(shortest.saturating_sub(1))]
        .rfind('/')
        .map_or(0, |p| p + 1)
}

/// A lane of the timeline: workers first, then host sessions in the order
/// they started.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum LaneKey {
    Worker(usize),
    Session(u64, String),
}

fn timeline_html(results: &ResultsFile) -> String {
    let timed: Vec<(usize, &CellRecord, f64, f64)> = results
        .cells
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some((i, c, c.start?, c.end?)))
        .collect();
    if timed.is_empty() {
        return "<p class=\"muted\">The results hold no timings (written by an older bootmatrix).</p>".into();
    }
    // Each run counts from its own start: shards run side by side, and
    // runs merged from days apart stay readable.
    let mut span = results.runs.iter().map(|r| r.seconds).fold(0.0, f64::max);
    for (_, _, _, end) in &timed {
        span = span.max(*end);
    }
    for s in &results.sessions {
        span = span.max(s.end);
    }
    let span = span.max(1.0);
    let step = tick_step(span);
    let pct = |t: f64| (t / span * 100.0).clamp(0.0, 100.0);
    let mut s = String::new();
    let _ = write!(s, "<div class=\"tl\" style=\"--tick:{:.4}%\"><div class=\"tl-lane tl-axis\"><div class=\"tl-label\"></div><div class=\"tl-track\">", pct(step));
    let mut t = 0.0;
    while t <= span + 0.001 {
        let _ = write!(
            s,
            "<span class=\"tick\" style=\"left:{:.3}%\">{}</span>",
            pct(t),
            clock(t)
        );
        t += step;
    }
    s.push_str("</div></div>");
    let bar = |left: f64,
               width: f64,
               class: &str,
               href: Option<String>,
               title: &str,
               text: &str|
     -> String {
        let tag = if href.is_some() { "a" } else { "span" };
        format!(
            "<{tag} class=\"bar {class}\"{} style=\"left:{left:.3}%;width:{width:.3}%\" title=\"{}\"><span>{}</span></{tag}>",
            href.map(|h| format!(" href=\"{h}\"")).unwrap_or_default(),
            esc(title),
            esc(text)
        )
    };
    for (run_index, run) in results.runs.iter().enumerate() {
        if results.runs.len() > 1 {
            let shard = run
                .partition
                .as_ref()
                .map(|p| format!(" · {p}"))
                .unwrap_or_default();
            let label = format!(
                "run {}{shard} · from {}",
                run_index + 1,
                utc_text(run.started_unix)
            );
            let _ = write!(s, "<div class=\"tl-run\">{}</div>", esc(&label));
        }
        let mut lanes: BTreeMap<LaneKey, Vec<String>> = BTreeMap::new();
        let sessions: Vec<&super::results::SessionRecord> = results
            .sessions
            .iter()
            .filter(|x| x.run == run_index)
            .collect();
        let session_lane = |key: &str| {
            let start = sessions
                .iter()
                .find(|x| x.key == key)
                .map_or(u64::MAX, |x| (x.start * 1000.0) as u64);
            LaneKey::Session(start, key.to_string())
        };
        for sess in &sessions {
            let (l, w) = (pct(sess.start), pct(sess.end - sess.start));
            lanes
                .entry(LaneKey::Worker(sess.worker))
                .or_default()
                .push(bar(
                    l,
                    w,
                    "host",
                    None,
                    &format!(
                        "emulated host {} ({})",
                        sess.key,
                        duration_text(sess.end - sess.start)
                    ),
                    &format!("host {}", sess.key),
                ));
            let first = timed
                .iter()
                .filter(|(_, c, _, _)| {
                    c.run == run_index
                        && matches!(&c.lane, Some(Lane::Session { key, .. }) if *key == sess.key)
                })
                .map(|(_, _, start, _)| *start)
                .fold(sess.end, f64::min);
            lanes.entry(session_lane(&sess.key)).or_default().push(bar(
                l,
                pct(first - sess.start),
                "boot",
                None,
                &format!(
                    "the host boots and loads KVM ({})",
                    duration_text(first - sess.start)
                ),
                "host boot",
            ));
        }
        let mut by_lane: BTreeMap<LaneKey, Vec<&(usize, &CellRecord, f64, f64)>> = BTreeMap::new();
        for t in timed.iter().filter(|(_, c, _, _)| c.run == run_index) {
            let (_, c, start, end) = t;
            // Cells settled without booting take no time; the grid shows them.
            if c.status == Status::Skipped && end - start < 0.5 {
                continue;
            }
            let key = match &c.lane {
                Some(Lane::Session { key, .. }) => session_lane(key),
                Some(Lane::Worker { worker }) => LaneKey::Worker(*worker),
                None => LaneKey::Worker(0),
            };
            by_lane.entry(key).or_default().push(t);
        }
        let everyone: Vec<&str> = results.cells.iter().map(|c| c.name.as_str()).collect();
        for (key, cells) in by_lane {
            // The bars name their cells without the part every cell of the
            // lane (of one cell: of the whole file) shares.
            let names: Vec<&str> = cells.iter().map(|(_, c, _, _)| c.name.as_str()).collect();
            let cut = common_dir_prefix(if names.len() > 1 { &names } else { &everyone });
            for (i, c, start, end) in cells {
                let title = format!(
                    "{} — {} ({})",
                    c.name,
                    Shown::of(c).badge(),
                    duration_text(end - start)
                );
                lanes.entry(key.clone()).or_default().push(bar(
                    pct(*start),
                    pct(end - start),
                    Shown::of(c).class(),
                    Some(format!("#cell-{i}")),
                    &title,
                    &c.name[cut..],
                ));
            }
        }
        for (key, bars) in lanes {
            let label = match &key {
                LaneKey::Worker(w) => format!("<b>worker {}</b>", w + 1),
                LaneKey::Session(_, k) => {
                    let sess = sessions.iter().find(|x| &x.key == k);
                    let name = match sess.and_then(|x| x.console.as_ref()) {
                        Some(log) => format!(
                            "<a href=\"{}\" title=\"{}: the host's console\">{}</a>",
                            esc(log),
                            esc(k),
                            esc(k)
                        ),
                        None => esc(k),
                    };
                    let worker =
                        sess.map_or(String::new(), |x| format!(" on worker {}", x.worker + 1));
                    format!("<b class=\"key\">{name}</b><span class=\"muted\">emulated host{worker}</span>")
                }
            };
            let class = if matches!(key, LaneKey::Session(..)) {
                "tl-lane session"
            } else {
                "tl-lane"
            };
            let _ = write!(s, "<div class=\"{class}\"><div class=\"tl-label\">{label}</div><div class=\"tl-track\">{}</div></div>", bars.join(""));
        }
    }
    s.push_str("</div>");
    s
}

fn list_html(results: &ResultsFile) -> String {
    let mut s = String::from(
        "<div class=\"scroll\"><table class=\"list\"><thead><tr><th>cell</th><th>verdict</th><th>what happened</th><th>expected</th><th>time</th><th>logs</th></tr></thead><tbody>",
    );
    for (i, c) in results.cells.iter().enumerate() {
        let shown = Shown::of(c);
        let mut what = esc(&c.summary);
        for d in &c.details {
            let _ = write!(what, "<br><span class=\"muted\">{}</span>", esc(d));
        }
        let _ = write!(
            s,
            "<tr class=\"{class}\" id=\"list-{i}\" data-cell=\"{name}\"><td><code>{name}</code>{row}</td><td><span class=\"badge\">{badge}</span>{flaky}</td><td>{what}</td><td data-label=\"expected\">{expected}</td><td class=\"num\" data-label=\"time\">{time}</td><td class=\"links\">{links}</td></tr>",
            class = shown.class(),
            name = esc(&c.name),
            row = c.row.as_ref().map(|r| format!("<br><span class=\"muted\">{}</span>", esc(r))).unwrap_or_default(),
            badge = shown.badge(),
            flaky = if c.flaky { " <span class=\"muted\">flaky</span>" } else { "" },
            expected = esc(&c.expected),
            time = esc(&duration_text(c.seconds)),
            links = links(c),
        );
    }
    s.push_str("</tbody></table></div>");
    s
}

const STYLE: &str = r#"
:root{--fg:#1f2328;--muted:#59636e;--bg:#fff;--panel:#f6f8fa;--line:#d1d9e0;--grid:rgba(31,35,40,.08);
--ok:#1a7f37;--ok-bg:#dafbe1;--xf:#0550ae;--xf-bg:#ddf4ff;--bad:#cf222e;--bad-bg:#ffebe9;
--err:#9a6700;--err-bg:#fff8c5;--skip:#59636e;--skip-bg:#eff2f5;--int:#8250df;--int-bg:#fbefff;--host:#8c959f;}
*{box-sizing:border-box;-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{margin:0;padding:1.5rem clamp(.75rem,3vw,2.5rem) 3rem;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:1.75rem;margin:.1rem 0 .3rem;letter-spacing:-.01em}
h2{font-size:1.15rem;margin:2rem 0 .6rem;padding-bottom:.3rem;border-bottom:1px solid var(--line)}
code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
a{color:#0969da}
.muted{color:var(--muted)}
.kicker{margin:0;text-transform:uppercase;letter-spacing:.08em;font-size:11px;font-weight:600;color:var(--muted)}
.desc{margin:0 0 .8rem;color:var(--muted);max-width:60rem}
.counts{display:flex;flex-wrap:wrap;gap:.4rem}
.count{border:1px solid var(--line);border-radius:2rem;padding:.15rem .7rem;background:var(--panel)}
.count b{font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse}
table.facts{margin-top:1rem;width:100%}
table.facts td{overflow-wrap:anywhere}
table.facts th{text-align:left;font-weight:600;color:var(--muted);padding:.2rem 1rem .2rem 0;vertical-align:top;white-space:nowrap}
table.facts td{padding:.2rem 0;vertical-align:top}
.hash{word-break:break-all}
table.kernels{margin-top:.8rem}
table.kernels th,table.kernels td,table.list th,table.list td{border-bottom:1px solid var(--line);padding:.35rem .6rem;text-align:left;vertical-align:top}
table.kernels th,table.list th{font-size:12px;color:var(--muted);font-weight:600;background:var(--panel)}
.missing{margin-top:1rem;border:1px solid var(--bad);background:var(--bad-bg);border-radius:6px;padding:.2rem 1rem}
.missing h2{border:0;margin:.6rem 0 0;color:var(--bad)}
.legend{list-style:none;padding:0;margin:0 0 .8rem;display:flex;flex-wrap:wrap;gap:.3rem 1.2rem;font-size:12px;color:var(--muted)}
.legend li{display:flex;align-items:center;gap:.4rem}
.swatch{width:.9rem;height:.9rem;border-radius:3px;border:1px solid;display:inline-block}
table.grid{border-spacing:0;border-collapse:separate;min-width:100%}
table.grid th,table.grid td{border-right:1px solid var(--line);border-bottom:1px solid var(--line);padding:.45rem;vertical-align:top}
table.grid thead th{background:var(--panel);font-weight:600;text-align:center;position:sticky;top:0}
table.grid th.accel{font-size:12px;letter-spacing:.06em;text-transform:uppercase;color:var(--muted);border-bottom:0}
table.grid th.guest span{display:block;font-weight:400;color:var(--muted);font-size:12px}
table.grid th.corner{font-size:11px;color:var(--muted);font-weight:500;text-align:left;vertical-align:bottom}
table.grid th.host,table.grid th.corner{position:sticky;left:0;z-index:1;background:var(--panel);text-align:left;min-width:9rem;max-width:13rem}
table.grid th.host b{display:block;font-size:13px}
table.grid th.host span{display:block;font-weight:400;font-size:12px;overflow-wrap:anywhere}
table.grid tr>*:first-child{border-left:1px solid var(--line)}
table.grid thead tr:first-child>*{border-top:1px solid var(--line)}
td.empty{background:repeating-linear-gradient(135deg,transparent 0 6px,var(--grid) 6px 7px);text-align:center;vertical-align:middle}
td.empty span{font-size:11px;color:var(--muted)}
.variants{display:flex;flex-wrap:wrap;gap:.4rem;min-width:11rem}
.tile{flex:1 1 11rem;max-width:17rem;border:1px solid;border-left-width:4px;border-radius:5px;padding:.35rem .5rem .3rem;font-size:12px;background:var(--bg)}
.tile-head{display:flex;flex-wrap:wrap;align-items:baseline;gap:.15rem .4rem}
.badge{font-weight:700;font-size:11px;text-transform:uppercase;letter-spacing:.04em}
.variant{font-weight:600;color:var(--fg);text-decoration:none;overflow-wrap:anywhere}
a.variant:hover{text-decoration:underline}
.tile p{margin:.2rem 0 0}
.outcome{overflow-wrap:anywhere;display:-webkit-box;-webkit-line-clamp:3;-webkit-box-orient:vertical;overflow:hidden}
.links a{margin-right:.6rem;white-space:nowrap}
.tile .links{font-size:11px}
.v-booted{border-color:var(--ok)}.v-booted .badge,.v-booted.count b{color:var(--ok)}.tile.v-booted,.swatch.v-booted{background:var(--ok-bg)}
.v-xfail{border-color:var(--xf)}.v-xfail .badge,.v-xfail.count b{color:var(--xf)}.tile.v-xfail,.swatch.v-xfail{background:var(--xf-bg)}
.v-failed{border-color:var(--bad)}.v-failed .badge,.v-failed.count b{color:var(--bad)}.tile.v-failed,.swatch.v-failed{background:var(--bad-bg)}
.v-error{border-color:var(--err)}.v-error .badge,.v-error.count b{color:var(--err)}.tile.v-error,.swatch.v-error{background:var(--err-bg)}
.v-skipped{border-color:#afb8c1}.v-skipped .badge,.v-skipped.count b{color:var(--skip)}.tile.v-skipped,.swatch.v-skipped{background:var(--skip-bg)}
.v-interrupted{border-color:var(--int)}.v-interrupted .badge,.v-interrupted.count b{color:var(--int)}.tile.v-interrupted,.swatch.v-interrupted{background:var(--int-bg)}
.v-missing{border-color:var(--bad);color:var(--bad)}
table.list tr>td:first-child{border-left:4px solid transparent}
table.list tr.v-booted>td:first-child{border-left-color:var(--ok)}table.list tr.v-xfail>td:first-child{border-left-color:var(--xf)}
table.list tr.v-failed>td:first-child{border-left-color:var(--bad)}table.list tr.v-error>td:first-child{border-left-color:var(--err)}
table.list tr.v-skipped>td:first-child{border-left-color:#afb8c1}table.list tr.v-interrupted>td:first-child{border-left-color:var(--int)}
table.list td{font-size:12.5px}
table.list td.num{white-space:nowrap;font-variant-numeric:tabular-nums}
.tl{border:1px solid var(--line);border-radius:6px;padding:.4rem .6rem .6rem}
.tl-lane{display:grid;grid-template-columns:minmax(8rem,15rem) 1fr;gap:.6rem;align-items:center;min-height:1.9rem}
.tl-label{font-size:12px;line-height:1.25;overflow:hidden}
.tl-label span,.tl-label .key{display:block;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.tl-label span{font-size:11px}
.tl-label .key{font-weight:600}
.tl-track{position:relative;height:1.55rem;background-image:repeating-linear-gradient(to right,var(--grid) 0 1px,transparent 1px var(--tick));border-radius:3px}
.tl-axis .tl-track{height:1.2rem;background:none;border-bottom:1px solid var(--line)}
.tick{position:absolute;top:0;transform:translateX(-50%);font-size:10.5px;color:var(--muted);font-variant-numeric:tabular-nums}
.tick:first-child{transform:none}
.tl-run{font-size:12px;font-weight:600;margin:.6rem 0 .2rem;color:var(--muted)}
.bar{position:absolute;top:.15rem;bottom:.15rem;min-width:3px;border:1px solid;border-radius:3px;overflow:hidden;font-size:10.5px;line-height:1.2rem;padding:0 .3rem;text-decoration:none;color:var(--fg)}
.bar span{display:block;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.bar.v-booted{background:#aceebb}.bar.v-xfail{background:#b6e3ff}.bar.v-failed{background:#ffcecb}.bar.v-error{background:#fae17d}.bar.v-skipped{background:#e6eaef}.bar.v-interrupted{background:#e8d5ff}.bar.v-known{background:#fbd7ee}
.v-known{border-color:#bf3989}.v-known .badge,.v-known.count b{color:#bf3989}.tile.v-known,.swatch.v-known{background:#ffeff7}
table.list tr.v-known>td:first-child{border-left-color:#bf3989}
.bar.host{border-color:var(--host);background:repeating-linear-gradient(135deg,#eaeef2 0 6px,#f6f8fa 6px 12px);color:var(--muted)}
.bar.boot{border-color:var(--host);border-style:dashed;background:#f6f8fa;color:var(--muted)}
footer{margin-top:2.5rem;font-size:12px;color:var(--muted)}
@media (max-width:720px){
 body{padding:1rem .6rem 2rem}
 h1{font-size:1.4rem}
 table.grid th.host,table.grid th.corner{min-width:6.5rem;max-width:8rem}
 .variants{min-width:9.5rem}
 .tile{flex-basis:9.5rem}
 .tl-lane{grid-template-columns:1fr;gap:.1rem;margin-bottom:.3rem}
 .tl-axis .tl-label{display:none}
 table.list thead{display:none}
 table.list,table.list tbody,table.list tr,table.list td{display:block;width:100%}
 table.list tr{border-bottom:1px solid var(--line);padding:.3rem 0}
 table.list td{border:0;padding:.1rem .5rem}
 table.list td[data-label]::before{content:attr(data-label) ": ";color:var(--muted)}
 table.list tr>td:first-child{border-left:0}
 table.list tr{border-left:4px solid var(--line)}
 table.list tr.v-booted{border-left-color:var(--ok)}table.list tr.v-xfail{border-left-color:var(--xf)}table.list tr.v-failed{border-left-color:var(--bad)}
 table.list tr.v-error{border-left-color:var(--err)}table.list tr.v-skipped{border-left-color:#afb8c1}table.list tr.v-interrupted{border-left-color:var(--int)}
}
@page{size:A4 landscape;margin:10mm}
@media print{
 body{padding:0;font-size:8pt}
 .scroll{overflow:visible}
 table.grid{table-layout:fixed;width:100%;min-width:0}
 table.grid th.host,table.grid th.corner{min-width:0;width:7rem}
 .variants{min-width:0;gap:.25rem}
 .tile{flex:1 1 100%;max-width:none;min-width:0;font-size:7pt;padding:.2rem .3rem}
 .tile .links{display:none}
 .tl-lane{grid-template-columns:9rem 1fr}
 a{color:inherit;text-decoration:none}
 table.grid thead th,table.grid th.host,table.grid th.corner{position:static}
 .tile,.tl-lane,table.list tr{break-inside:avoid}
 .outcome{display:block;-webkit-line-clamp:none;overflow:visible}
 h2{break-after:avoid}
 #cells{break-before:page}
}
"#;

/// The whole page.
pub fn render(results: &ResultsFile) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"generator\" content=\"bootmatrix {}\"><title>bootmatrix · {}</title><style>{STYLE}</style></head><body>",
        env!("CARGO_PKG_VERSION"),
        esc(&results.suite)
    );
    s.push_str(&header_html(results));
    s.push_str("<section id=\"grid\"><h2>Compatibility table</h2>");
    s.push_str(&legend_html());
    s.push_str(&grid_html(results));
    s.push_str("</section><section id=\"timeline\"><h2>Timeline</h2><p class=\"muted\">One lane per worker and per emulated-host session; a bar per cell from its start to its end. Skipped cells take no time and are left out.</p>");
    s.push_str(&timeline_html(results));
    s.push_str("</section><section id=\"cells\"><h2>All cells</h2>");
    s.push_str(&list_html(results));
    let _ = writeln!(
        s,
        "</section><footer>Written by bootmatrix {} from <code>results.json</code> (format {}).</footer></body></html>",
        env!("CARGO_PKG_VERSION"),
        results.version
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_drop_the_directories_their_cells_share() {
        assert_eq!(
            common_dir_prefix(&["a-host/kvm/x/4k", "a-host/kvm/y/64k"]),
            "a-host/kvm/".len()
        );
        assert_eq!(
            common_dir_prefix(&["tcg/radix-guest/64k", "tcg/hpt-guest/64k"]),
            "tcg/".len()
        );
        assert_eq!(common_dir_prefix(&["one/name"]), 0);
        assert_eq!(common_dir_prefix(&["a/b", "a/b/c"]), "a/".len());
        assert_eq!(common_dir_prefix(&["x", "y"]), 0);
    }

    #[test]
    fn documented_errors_lose_their_stream_prefixes() {
        assert_eq!(
            error_message("qemu-system-ppc64: Can't support 64 kiB"),
            "Can't support 64 kiB"
        );
        assert_eq!(
            error_message("BM-L2-ERR: qemu-system-ppc64: KVM can't supply"),
            "KVM can't supply"
        );
        assert_eq!(error_message("kvm: failed: x"), "kvm: failed: x");
    }
}
