//! report.html rendered from results built without booting: the grid (host
//! rows by guest columns, variants side by side, colours and contents by
//! verdict, log links), the header, the timeline, escaping, and that the
//! page needs nothing but itself. `tests/real_boot.rs` renders a real run's
//! page in a browser.

mod support_report;

use std::collections::BTreeSet;

use bootmatrix::report::html::{self, Shown};
use bootmatrix::report::results::{CellLogs, Lane};
use bootmatrix::report::{CellRecord, ResultsFile};
use bootmatrix::verdict::Status;
use support_report::{all, as_predicted, write_run};

/// A known failure of void-compat: qemu aborting under KVM-PR on an
/// emulated POWER8 host.
const KNOWN: &str =
    "hpt-4k-host/kvm-pr/hpt-guest/4k/pr-caps+hpt-max-page-size+hugepages/powernv8/host-4k-6.12";

/// void-compat as a run on an x86 machine would leave it, with one cell
/// failed, one infrastructure error and one known failure skipped.
fn void_compat(out: &std::path::Path) -> ResultsFile {
    write_run(
        "void-compat",
        out,
        &all,
        &|c| {
            if c.name == "hpt-4k-host/kvm-hv/hpt-guest/4k/hpt-max-page-size/powernv9/host-4k-6.1" {
                Some((
                    Status::Failed,
                    "timed out after 300 s without the marker".into(),
                ))
            } else if c.name == "radix-64k-host/kvm-hv/hpt-guest/64k/no-fix" {
                Some((Status::Error, "the emulated host never became ready".into()))
            } else if c.name == KNOWN {
                // As `--known-failures skip` leaves it.
                Some((Status::Skipped, c.known_failure.clone().unwrap()))
            } else {
                None
            }
        },
        None,
    )
}

/// The `<article>` tile of a cell.
fn tile<'a>(page: &'a str, cell: &str) -> &'a str {
    let at = page
        .find(&format!("data-cell=\"{}\" data-status=", html::esc(cell)))
        .unwrap_or_else(|| panic!("no tile for {cell}"));
    let start = page[..at].rfind("<article").unwrap();
    let end = at + page[at..].find("</article>").unwrap();
    &page[start..end]
}

/// The grid position (`<td>`) holding a cell's tile.
fn position<'a>(page: &'a str, cell: &str) -> &'a str {
    let at = page
        .find(&format!("data-cell=\"{}\" data-status=", html::esc(cell)))
        .unwrap();
    let start = page[..at].rfind("<td>").unwrap();
    let end = at + page[at..].find("</td>").unwrap();
    &page[start..end]
}

#[test]
fn the_grid_has_a_row_per_host_and_a_column_per_guest_and_every_cell_once() {
    let dir = tempfile::tempdir().unwrap();
    let results = void_compat(dir.path());
    let page = html::render(&results);
    let host = |c: &CellRecord| {
        let h = c.host.as_ref().unwrap();
        format!("{:?}", (h.kind, h.mmu, h.page_size, h.nested, &h.kernel))
    };
    let guest = |c: &CellRecord| {
        let g = c.guest.as_ref().unwrap();
        format!("{:?}", (g.accel, g.mmu, g.page_size))
    };
    let hosts: BTreeSet<String> = results.cells.iter().map(host).collect();
    let guests: BTreeSet<String> = results.cells.iter().map(guest).collect();
    assert_eq!(page.matches("<tr class=\"host-row\">").count(), hosts.len());
    assert_eq!(page.matches("<th class=\"guest\">").count(), guests.len());
    // Radix/HPT x 4K/64K on powernv9 and nested L1s, the 4 KiB HPT rows
    // once per host kernel (6.1, 6.12) and on powernv8 too.
    assert_eq!(hosts.len(), 12, "void-compat's host rows: {hosts:?}");
    assert_eq!(guests.len(), 6, "void-compat's guest columns: {guests:?}");
    // Positions the matrix has no cell for say so.
    let positions = hosts.len() * guests.len();
    let filled = results
        .cells
        .iter()
        .map(|c| (host(c), guest(c)))
        .collect::<BTreeSet<_>>()
        .len();
    assert_eq!(
        page.matches("<td class=\"empty\">").count(),
        positions - filled
    );
    for c in &results.cells {
        let needle = format!(
            "data-cell=\"{}\" data-status=\"{}\"",
            html::esc(&c.name),
            c.status.as_str()
        );
        assert_eq!(
            page.matches(&needle).count(),
            1,
            "the grid shows {} once",
            c.name
        );
        assert!(
            page.contains(&format!(
                "<tr class=\"{}\" id=\"list-",
                Shown::of(c).class()
            )),
            "{}",
            c.name
        );
    }
    assert_eq!(
        page.matches("<article class=\"tile").count(),
        results.cells.len()
    );
}

#[test]
fn no_fix_and_the_fix_sit_side_by_side_in_one_grid_position() {
    let dir = tempfile::tempdir().unwrap();
    let page = html::render(&void_compat(dir.path()));
    let here = position(&page, "radix-4k-host/kvm-hv/radix-guest/64k/no-fix");
    for (cell, label) in [
        // The cells that boot run with less RAM and under VOF (the
        // matrix's `memory = 256`, `firmware = "vof"`), and the label says
        // so where siblings differ.
        (
            "radix-4k-host/kvm-hv/radix-guest/64k/no-fix",
            ">slof · 2048 MiB · no fix</a>",
        ),
        (
            "radix-4k-host/kvm-hv/radix-guest/64k/hpt-max-page-size",
            ">vof · 256 MiB + hpt-max-page-size</a>",
        ),
        (
            "radix-4k-host/kvm-hv/pseries-2.11/radix-guest/64k/htm-off",
            ">pseries-2.11 · qemu 7.2.0 · slof · 2048 MiB + htm-off</a>",
        ),
    ] {
        assert!(
            here.contains(&format!("data-cell=\"{cell}\"")),
            "{cell} is not beside the no-fix cell:\n{here}"
        );
        assert!(tile(&page, cell).contains(label), "{}", tile(&page, cell));
    }
    assert!(here.starts_with("<td><div class=\"variants\">"), "{here}");
    // Another guest column is another position.
    assert!(!here.contains("radix-guest/4k/"), "{here}");
}

#[test]
fn each_verdict_has_its_colour_and_says_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let page = html::render(&void_compat(dir.path()));
    let booted = tile(
        &page,
        "radix-4k-host/kvm-hv/radix-guest/4k/hpt-max-page-size",
    );
    assert!(
        booted.starts_with("<article class=\"tile v-booted\""),
        "{booted}"
    );
    assert!(
        booted.contains("<span class=\"badge\">boots</span>"),
        "{booted}"
    );
    assert!(
        booted.contains("Radix · 4k · 6.1.0-31-powerpc64le · "),
        "{booted}"
    );
    let refused = tile(&page, "radix-4k-host/kvm-hv/radix-guest/64k/no-fix");
    assert!(
        refused.starts_with("<article class=\"tile v-xfail\""),
        "{refused}"
    );
    assert!(refused.contains("<p class=\"outcome\">Can&#39;t support 64 kiB guest pages with 4 kiB host pages with this KVM implementation</p>"), "{refused}");
    let failed = tile(
        &page,
        "hpt-4k-host/kvm-hv/hpt-guest/4k/hpt-max-page-size/powernv9/host-4k-6.1",
    );
    assert!(
        failed.starts_with("<article class=\"tile v-failed\"")
            && failed.contains(">FAILED<")
            && failed.contains("timed out after 300 s"),
        "{failed}"
    );
    let error = tile(&page, "radix-64k-host/kvm-hv/hpt-guest/64k/no-fix");
    assert!(
        error.starts_with("<article class=\"tile v-error\"")
            && error.contains("the emulated host never became ready"),
        "{error}"
    );
    let skipped = tile(&page, KNOWN);
    assert!(
        skipped.starts_with("<article class=\"tile v-skipped\"") && skipped.contains("qemu aborts"),
        "{skipped}"
    );
    assert!(
        !skipped.contains("<a href=\"cells/"),
        "a skipped cell has no logs to link: {skipped}"
    );
    // The legend explains every colour the tiles use.
    for class in [
        "v-booted",
        "v-xfail",
        "v-failed",
        "v-error",
        "v-skipped",
        "v-interrupted",
    ] {
        assert!(
            page.contains(&format!("<span class=\"swatch {class}\"></span>")),
            "{class}"
        );
    }
}

#[test]
fn every_tile_links_the_logs_its_cell_has() {
    let dir = tempfile::tempdir().unwrap();
    let results = void_compat(dir.path());
    let page = html::render(&results);
    let mut links = 0;
    for c in &results.cells {
        let t = tile(&page, &c.name);
        for (label, path) in [
            ("console", &c.logs.console),
            ("stderr", &c.logs.stderr),
            ("repro.sh", &c.logs.repro),
        ] {
            match path {
                Some(p) => {
                    assert!(
                        t.contains(&format!("<a href=\"{}\">{label}</a>", html::esc(p))),
                        "{t}"
                    );
                    assert!(dir.path().join(p).is_file(), "{p} does not exist");
                    links += 1;
                }
                None => assert!(!t.contains(&format!(">{label}</a>")), "{t}"),
            }
        }
    }
    assert!(links > 100, "only {links} links");
}

#[test]
fn a_matrix_without_host_axes_is_one_row() {
    let dir = tempfile::tempdir().unwrap();
    let results = write_run("default", dir.path(), &all, &as_predicted, None);
    let page = html::render(&results);
    assert_eq!(page.matches("<tr class=\"host-row\">").count(), 1, "{page}");
    assert!(page.contains("<th scope=\"row\" class=\"host\"><b>native</b><span>any MMU, any pages</span><span class=\"muted\">kernel 6.1.0-37-amd64</span></th>"), "{page}");
    assert_eq!(page.matches("<th class=\"guest\">").count(), 2);
    assert!(
        page.contains("<th colspan=\"2\" class=\"accel\">TCG</th>"),
        "{page}"
    );
    // Without fixes anywhere, a tile is labelled with its cell's name.
    assert!(tile(&page, "tcg/radix-guest/64k").contains(">tcg/radix-guest/64k</a>"));
    assert!(tile(&page, "tcg/hpt-guest/64k").contains("Hash · 64k · 6.1.0-31-powerpc64le"));
}

#[test]
fn the_header_says_what_ran_where_with_what() {
    let dir = tempfile::tempdir().unwrap();
    let results = void_compat(dir.path());
    let page = html::render(&results);
    for want in [
        "<h1>void-compat</h1>".to_string(),
        format!("<code class=\"hash\">{}</code>", results.matrix_sha256),
        "level 0: <b>10.0.2</b> <span class=\"muted\">/usr/bin/qemu-system-ppc64</span>".into(),
        "level 1: <b>7.2.0</b> <span class=\"muted\">Debian bookworm (ppc64el)</span>".into(),
        "<td><b>debian-64k</b></td><td>kernel-guest-64k</td><td>64k</td><td>guest</td><td>6.1.0-31-powerpc64le</td>".into(),
        format!("<code class=\"hash\">{}</code>", "ab".repeat(32)),
        "2025-06-15 15:06:40 UTC".into(),
        "x86_64 · AMD EPYC · 4k pages · kernel 6.1.0-37-amd64 · /dev/kvm usable".into(),
        "<span class=\"count v-failed\" data-status=\"failed\"><b>1</b> failed</span>".into(),
        format!("<b>{}</b> skipped", results.count_of(Status::Skipped)),
        format!(
            "<span class=\"count total\"><b>{}</b> cells</span>",
            results.cells.len()
        ),
    ] {
        assert!(page.contains(&want), "missing {want}");
    }
}

#[test]
fn the_timeline_has_a_lane_per_worker_and_per_session_and_a_bar_per_cell_that_ran() {
    let dir = tempfile::tempdir().unwrap();
    let results = void_compat(dir.path());
    let page = html::render(&results);
    let timeline = &page[page.find("<section id=\"timeline\">").unwrap()
        ..page.find("<section id=\"cells\">").unwrap()];
    let workers: BTreeSet<usize> = results
        .cells
        .iter()
        .filter(|c| c.status != Status::Skipped)
        .filter_map(|c| match &c.lane {
            Some(Lane::Worker { worker }) => Some(*worker),
            _ => None,
        })
        .chain(results.sessions.iter().map(|s| s.worker))
        .collect();
    assert_eq!(
        timeline.matches("<div class=\"tl-lane\">").count(),
        workers.len(),
        "{timeline}"
    );
    assert_eq!(
        timeline.matches("<div class=\"tl-lane session\">").count(),
        results.sessions.len()
    );
    assert!(results.sessions.len() >= 5, "{:?}", results.sessions);
    let ran = results
        .cells
        .iter()
        .filter(|c| c.status != Status::Skipped)
        .count();
    assert_eq!(timeline.matches("href=\"#cell-").count(), ran);
    // Each session shows its host's boot, and links its console.
    assert_eq!(
        timeline.matches("class=\"bar boot\"").count(),
        results.sessions.len()
    );
    for s in &results.sessions {
        let log = s.console.as_ref().unwrap();
        assert!(timeline.contains(&format!("<a href=\"{log}\"")), "{log}");
        assert!(dir.path().join(log).is_file());
    }
    // A bar is coloured by its cell's verdict and placed in time.
    let failed = results
        .cells
        .iter()
        .position(|c| c.status == Status::Failed)
        .unwrap();
    let bar = timeline.find(&format!("href=\"#cell-{failed}\"")).unwrap();
    let open = timeline[..bar].rfind('<').unwrap();
    assert!(
        timeline[open..bar].contains("class=\"bar v-failed\""),
        "{}",
        &timeline[open..bar + 80]
    );
}

#[test]
fn text_from_the_results_is_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let mut results = write_run("default", dir.path(), &all, &as_predicted, None);
    let evil = "<script>alert('x')</script> & \"more\"";
    let c: &mut CellRecord = &mut results.cells[0];
    c.name = format!("tcg/{evil}");
    c.status = Status::Failed;
    c.summary = format!("console said {evil}");
    c.details = vec![evil.to_string()];
    c.row = Some(evil.to_string());
    c.logs = CellLogs {
        dir: Some("cells/a&b".into()),
        console: Some("cells/a&b/console.log".into()),
        stderr: None,
        repro: None,
    };
    results.description = Some(evil.into());
    results.suite = evil.into();
    let page = html::render(&results);
    assert!(
        !page.contains("<script"),
        "raw markup from the results reached the page"
    );
    assert!(
        !page.contains("& \"more"),
        "an unescaped ampersand or quote"
    );
    assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;more&quot;"));
    assert!(page.contains("<a href=\"cells/a&amp;b/console.log\">console</a>"));
}

#[test]
fn the_page_needs_nothing_but_itself() {
    let dir = tempfile::tempdir().unwrap();
    let page = html::render(&void_compat(dir.path()));
    for banned in [
        "<script", "<link", "<img", "<iframe", "@import", "url(", "src=", "http://", "https://",
        "//cdn",
    ] {
        assert!(
            !page.contains(banned),
            "the page refers to something outside itself: {banned}"
        );
    }
    assert!(page.starts_with("<!DOCTYPE html>") && page.trim_end().ends_with("</html>"));
    assert!(
        page.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
    );
    assert!(
        page.contains("@media (max-width:720px)") && page.contains("@media print"),
        "narrow and print layouts"
    );
}
