//! What a run inside an emulated host tells the run outside, without
//! booting: every event of the inside comes back whole, or the cell it
//! belongs to is lost (an infrastructure error), never passed. The real
//! boots are in `real_boot.rs`.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use bootmatrix::event::{Event, Listener, Slot};
use bootmatrix::host::HostFacts;
use bootmatrix::hosted::{Collector, Message, Relay, Update};
use bootmatrix::model::{Mmu, PageSize};
use bootmatrix::observation::Tail;
use bootmatrix::run::CellResult;

/// A console: what the relay writes, line by line.
#[derive(Clone, Default)]
struct Console(Arc<Mutex<Vec<u8>>>);

impl Write for Console {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Console {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// A cell that booted inside, with a console long enough to travel in
/// several chunks and a qemu warning on stderr.
fn finished_cell(dir: &std::path::Path) -> CellResult {
    let mut r = common::passed(common::one_cell("hpt-4k-host/kvm-hv/hpt-guest/4k"));
    r.dir = dir.to_path_buf();
    r.argv = vec![
        "/usr/bin/qemu-system-ppc64".into(),
        "-m".into(),
        "2048".into(),
    ];
    let console: String = (0..3000)
        .map(|i| {
            format!(
                "[ {i}.000] guest line {i} with \"quotes\", tabs\tand BOOTMATRIX-RELAY inside\n"
            )
        })
        .collect();
    std::fs::write(dir.join("console.log"), console).unwrap();
    std::fs::write(
        dir.join("qemu-stderr.log"),
        "qemu-system-ppc64: warning: Many guests require at least 64kiB hpt-max-page-size\n",
    )
    .unwrap();
    r
}

/// Everything a run inside says for one booted cell, as console lines.
fn relayed_run(dir: &std::path::Path) -> Vec<String> {
    let console = Console::default();
    let relay = Relay::new(Box::new(console.clone()));
    relay.send(Message::Probed {
        facts: Box::new(HostFacts::ready_power9(Mmu::Hpt, PageSize::K4)),
    });
    let r = finished_cell(dir);
    relay.on(Event::Booting {
        slot: Slot(0),
        label: &r.name,
        console: Arc::new(Mutex::new(Tail::default())),
    });
    relay.on(Event::Finished {
        name: &r.name,
        status: r.verdict.status,
        summary: &r.verdict.summary,
        seconds: r.seconds,
        flaky: false,
        result: &r,
    });
    relay.send(Message::Ended { exit_status: 0 });
    console.lines()
}

fn collect(lines: &[String]) -> Vec<Update> {
    let mut c = Collector::new();
    lines.iter().filter_map(|l| c.line(l)).collect()
}

fn delivered(updates: &[Update]) -> Vec<&bootmatrix::hosted::Delivered> {
    updates
        .iter()
        .filter_map(|u| match u {
            Update::Delivered(d) => Some(&**d),
            _ => None,
        })
        .collect()
}

fn lost(updates: &[Update]) -> Vec<(Option<String>, String)> {
    updates
        .iter()
        .filter_map(|u| match u {
            Update::Lost { cell, why } => Some((cell.clone(), why.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_cell_told_inside_comes_back_whole_outside() {
    let dir = tempfile::tempdir().unwrap();
    let lines = relayed_run(dir.path());
    assert!(lines.len() > 4, "the console travels in several chunks");
    // Each frame fits the console reader's longest line.
    assert!(lines.iter().all(|l| l.len() < 60 * 1024));
    let updates = collect(&lines);
    assert!(matches!(&updates[0], Update::Probed(f) if f.mmu == Some(Mmu::Hpt)));
    assert_eq!(
        updates[1],
        Update::Started("hpt-4k-host/kvm-hv/hpt-guest/4k".into())
    );
    let d = delivered(&updates);
    assert_eq!(d.len(), 1);
    let sent = std::fs::read_to_string(dir.path().join("console.log")).unwrap();
    assert_eq!(d[0].console.join("\n") + "\n", sent);
    assert_eq!(
        d[0].stderr,
        vec!["qemu-system-ppc64: warning: Many guests require at least 64kiB hpt-max-page-size"]
    );
    assert_eq!(d[0].result.argv[0], "/usr/bin/qemu-system-ppc64");
    assert_eq!(d[0].result.verdict.summary, "booted");
    assert_eq!(updates.last(), Some(&Update::Ended(0)));
    assert!(lost(&updates).is_empty());
}

#[test]
fn relay_lines_survive_a_kernel_message_printed_before_them_on_the_same_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = relayed_run(dir.path());
    lines[1] = format!("[   12.3] kvm: something{}", lines[1]);
    assert_eq!(delivered(&collect(&lines)).len(), 1);
}

#[test]
fn a_damaged_chunk_loses_its_cell_instead_of_passing_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = relayed_run(dir.path());
    // A host kernel message cut into the middle of a chunk.
    let chunk = 3;
    let mid = lines[chunk].len() / 2;
    lines[chunk].insert_str(mid, "[ 99.1] hvc: dropped characters");
    let updates = collect(&lines);
    assert!(delivered(&updates).is_empty());
    let lost = lost(&updates);
    assert!(
        lost.iter()
            .any(|(c, _)| c.as_deref() == Some("hpt-4k-host/kvm-hv/hpt-guest/4k")),
        "{lost:?}"
    );
}

#[test]
fn a_missing_chunk_loses_its_cell() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = relayed_run(dir.path());
    lines.remove(3);
    let updates = collect(&lines);
    assert!(delivered(&updates).is_empty());
    let lost = lost(&updates);
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert!(lost[0].1.contains("never arrived"), "{}", lost[0].1);
}

#[test]
fn a_missing_verdict_delivers_nothing() {
    // The host died (or the frame was lost) before the verdict: the cell
    // is left pending, and the session reports it with the host's end.
    let dir = tempfile::tempdir().unwrap();
    let lines = relayed_run(dir.path());
    let without: Vec<String> = lines
        .iter()
        .filter(|l| !l.contains("\"message\":\"finished\""))
        .cloned()
        .collect();
    assert_eq!(without.len(), lines.len() - 1);
    let mut c = Collector::new();
    let updates: Vec<Update> = without.iter().filter_map(|l| c.line(l)).collect();
    assert!(delivered(&updates).is_empty());
    assert!(lost(&updates).is_empty());
    // Which frame went missing is known, for the cell's error.
    let gone = lines
        .iter()
        .position(|l| l.contains("\"message\":\"finished\""))
        .unwrap();
    assert_eq!(
        c.missing_frames(),
        Some(format!("relayed frames {gone} never arrived"))
    );
}

#[test]
fn the_hosts_init_closes_the_stream_with_a_plain_line() {
    let mut c = Collector::new();
    assert_eq!(c.line("BOOTMATRIX-L1-DONE rc=3"), None);
    assert_eq!(c.line("[ 1.0] Linux version 6.12"), None);
}
