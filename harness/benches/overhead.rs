//! `cargo bench --bench overhead`: what the harness costs next to qemu.
//!
//! Not a criterion-style micro-benchmark: every figure is a wall-clock time
//! of real processes (qemu TCG guests, the `bootmatrix` binary), taken
//! `BOOTMATRIX_BENCH_RUNS` times (default 3) and printed as median/min/max,
//! with ratios taken from measurements made side by side in the same run so
//! that a machine that is busy for everyone cancels out. What each section
//! measures and why it is measured that way is in BENCHMARKS.md.
//!
//! `BOOTMATRIX_BENCH_ONLY=fetch,payload,overhead,marker,error,makespan,memory`
//! runs a subset. The benchmark binary also plays two helper roles for
//! itself (see [`main`]): a fake guest that stamps the instant its marker
//! leaves, and a wrapper that stamps the instant qemu exits.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bootmatrix::console::{EndCause, RunningGuest};
use bootmatrix::payload::{self, Compression, DONE_MARKER, REPORT_TAG};
use bootmatrix::qemu::QemuCommand;
use bootmatrix::verdict::{self, Status};

const BIN: &str = env!("CARGO_BIN_EXE_bootmatrix");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Helper roles, reached by re-executing this binary (see the fake guest
    // and the exit stamp below). Checked on argv[1] because cargo passes
    // `--bench` there when it runs the benchmark itself.
    match args.get(1).map(String::as_str) {
        Some("__fake-guest") => return fake_guest(&args[2]),
        Some("__exit-stamp") => return exit_stamp(&args[2], &args[3], &args[4..]),
        _ => {}
    }
    let b = Bench::new();
    b.header();
    if b.wants("fetch") {
        b.cache_hit();
    }
    if b.wants("payload") {
        b.payload();
    }
    if b.wants("overhead") {
        b.cell_overhead("vof/radix", b.runs * 3);
        b.cell_overhead("slof/radix", b.runs);
    }
    if b.wants("marker") {
        b.marker_latency();
    }
    if b.wants("error") {
        b.error_latency();
    }
    if b.wants("makespan") {
        b.makespan();
    }
    if b.wants("memory") {
        b.memory();
    }
    println!("\nload average at the end: {}", loadavg());
}

struct Bench {
    runs: usize,
    only: Option<Vec<String>>,
    matrix: PathBuf,
    images: PathBuf,
    work: PathBuf,
}

impl Bench {
    fn new() -> Bench {
        let runs = std::env::var("BOOTMATRIX_BENCH_RUNS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3usize)
            .max(1);
        let only = std::env::var("BOOTMATRIX_BENCH_ONLY")
            .ok()
            .filter(|s| !s.is_empty())
            .map(|s| s.split(',').map(|w| w.trim().to_string()).collect());
        let root = Path::new(ROOT);
        let work = root.join("target").join("bootmatrix-bench");
        std::fs::create_dir_all(&work).expect("cannot create target/bootmatrix-bench");
        Bench {
            runs,
            only,
            matrix: root.join("harness/benches/bench.toml"),
            images: root.join("images"),
            work,
        }
    }

    fn wants(&self, section: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|s| s == section))
    }

    fn header(&self) {
        let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("model name"))
                    .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let qemu = Command::new("qemu-system-ppc64")
            .arg("--version")
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .unwrap_or_else(|_| "qemu-system-ppc64 not found".into());
        println!("bootmatrix overhead benchmark");
        println!("machine: {nproc} cores, {cpu}; {qemu}");
        println!(
            "runs per figure: {} (BOOTMATRIX_BENCH_RUNS); load average at the start: {}",
            self.runs,
            loadavg()
        );
    }

    /// `bootmatrix run` on the bench matrix with `extra` flags; returns the
    /// wall time and results.json. A cell that does not pass is a broken
    /// benchmark, not a slow one, so it stops here.
    fn run_cli(&self, out: &Path, extra: &[&str]) -> (f64, serde_json::Value) {
        let mut cmd = Command::new(BIN);
        cmd.arg("run")
            .arg(&self.matrix)
            .arg("--images")
            .arg(&self.images)
            .arg("--out")
            .arg(out)
            .arg("-q");
        cmd.args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let t = Instant::now();
        let o = cmd.output().expect("cannot run bootmatrix");
        let wall = t.elapsed().as_secs_f64();
        assert!(
            o.status.success(),
            "bootmatrix run {extra:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let json = std::fs::read_to_string(out.join("results.json")).expect("no results.json");
        (wall, serde_json::from_str(&json).expect("bad results.json"))
    }

    // -- cache hit ------------------------------------------------------------

    fn cache_hit(&self) {
        section("cache hit: `bootmatrix fetch` of an already cached matrix (target <= 0.1 s)");
        let fetch = |offline: bool| {
            let mut c = Command::new(BIN);
            c.arg("fetch")
                .arg(&self.matrix)
                .arg("--images")
                .arg(&self.images);
            if offline {
                c.arg("--offline");
            }
            let t = Instant::now();
            let o = c
                .stderr(Stdio::null())
                .output()
                .expect("cannot run bootmatrix fetch");
            assert!(o.status.success(), "bootmatrix fetch failed");
            t.elapsed().as_secs_f64()
        };
        fetch(false); // makes sure everything is cached
        let online: Vec<f64> = (0..self.runs).map(|_| fetch(false)).collect();
        let offline: Vec<f64> = (0..self.runs).map(|_| fetch(true)).collect();
        figure("fetch (cached)", &online, "s", Some(0.1));
        figure("fetch --offline (cached)", &offline, "s", Some(0.1));
    }

    // -- payload --------------------------------------------------------------

    fn payload(&self) {
        section("payload: building the initramfs (host) and unpacking it (guest)");
        let busybox = std::fs::read(self.busybox_path()).expect("cannot read the cached busybox");
        for c in [Compression::Gzip, Compression::Zstd, Compression::None] {
            let mut size = 0;
            let times: Vec<f64> = (0..self.runs)
                .map(|_| {
                    let t = Instant::now();
                    size = payload::build_initramfs(&busybox, c)
                        .expect("build_initramfs")
                        .len();
                    t.elapsed().as_secs_f64() * 1000.0
                })
                .collect();
            figure(
                &format!("build_initramfs {c:?} ({} KiB)", size / 1024),
                &times,
                "ms",
                None,
            );
        }
        // The guest side: the same VOF cell booted with each compression,
        // interleaved so that drift hits all three alike. Cell seconds from
        // results.json: spawn to teardown, without the run's start-up.
        let names = ["gzip", "zstd", "none"];
        // A VOF boot varies by a tenth of a second from run to run, about
        // what is being compared, hence twice the runs.
        let mut secs = vec![Vec::new(); 3];
        for _ in 0..self.runs * 2 {
            for (i, n) in names.iter().enumerate() {
                let (_, r) = self.run_cli(
                    &self.work.join(format!("compression-{n}")),
                    &["--filter", "vof/radix", "--compression", n],
                );
                secs[i].push(cell_seconds(&r, "vof/radix"));
            }
        }
        for (i, n) in names.iter().enumerate() {
            figure(
                &format!("vof/radix cell with --compression {n}"),
                &secs[i],
                "s",
                None,
            );
        }
        let best = (0..3)
            .min_by(|&a, &b| median(&secs[a]).total_cmp(&median(&secs[b])))
            .unwrap();
        println!("  fastest boot by median: {}", names[best]);
    }

    fn busybox_path(&self) -> PathBuf {
        let o = Command::new(BIN)
            .arg("fetch")
            .arg(&self.matrix)
            .arg("--images")
            .arg(&self.images)
            .stderr(Stdio::null())
            .output()
            .expect("cannot run bootmatrix fetch");
        let text = String::from_utf8_lossy(&o.stdout);
        let line = text
            .lines()
            .find(|l| l.contains(" debian-busybox: "))
            .expect("fetch did not list debian-busybox");
        let rest = line.split(" debian-busybox: ").nth(1).unwrap();
        PathBuf::from(rest.split(" (").next().unwrap())
    }

    // -- cell overhead --------------------------------------------------------

    /// A: `bootmatrix run --filter cell`, whole process. B: the cell's
    /// repro.sh with its console on a pipe, timed to the marker (the target's
    /// baseline) and to qemu's exit. A B A B, so drift cancels.
    /// `pairs` A/B pairs: a VOF boot (~2 s) varies by ±0.2 s between runs,
    /// ten times the 2 % being looked for, so the short cell gets more.
    fn cell_overhead(&self, cell: &str, pairs: usize) {
        section(&format!(
            "cell overhead: {cell}, `bootmatrix run` vs its repro.sh run raw (target <= 1.02)"
        ));
        let out = self
            .work
            .join(format!("overhead-{}", cell.replace('/', "-")));
        // One unmeasured run writes repro.sh and builds the payload.
        self.run_cli(&out, &["--filter", cell]);
        let repro = out
            .join("cells")
            .join(bootmatrix::run::cell_dir_name(cell))
            .join("repro.sh");
        let (mut a_wall, mut a_cell, mut b_marker, mut b_exit) = (vec![], vec![], vec![], vec![]);
        for _ in 0..pairs {
            let (wall, r) = self.run_cli(&out, &["--filter", cell]);
            a_wall.push(wall);
            a_cell.push(cell_seconds(&r, cell));
            let (m, e) = raw_boot(&repro);
            b_marker.push(m);
            b_exit.push(e);
        }
        figure("A  bootmatrix run (whole process)", &a_wall, "s", None);
        figure(
            "A' the cell alone (results.json seconds)",
            &a_cell,
            "s",
            None,
        );
        figure("B  raw repro.sh, to the marker", &b_marker, "s", None);
        figure("B' raw repro.sh, to qemu's exit", &b_exit, "s", None);
        figure(
            "run start-up and reports (A - A')",
            &zip(&a_wall, &a_cell, |a, b| a - b),
            "s",
            None,
        );
        figure(
            "ratio A/B (whole run vs raw to marker)",
            &zip(&a_wall, &b_marker, |a, b| a / b),
            "x",
            Some(1.02),
        );
        figure(
            "ratio A'/B' (cell vs raw to exit)",
            &zip(&a_cell, &b_exit, |a, b| a / b),
            "x",
            Some(1.02),
        );
    }

    // -- marker latency -------------------------------------------------------

    fn marker_latency(&self) {
        section("marker latency: marker leaves the guest -> verdict decided (target <= 10 ms)");
        let cell_name = "vof/radix";
        let out = self.work.join("marker");
        let (_, r) = self.run_cli(&out, &["--filter", cell_name]);
        let argv = cell_argv(&r, cell_name);
        let real = QemuCommand {
            program: argv[0].clone(),
            args: argv[1..].to_vec(),
        };
        let dir = out.join("latency");
        std::fs::create_dir_all(&dir).unwrap();
        let (cell, expected) = planned(&self.matrix, cell_name);

        // 1. Real qemu, in-process: from the reader thread's sighting of the
        // marker line (Observation::marker_seen_at) to verdict::decide's
        // return. Covers the channel, the watcher's wake-up and the verdict.
        let mut inproc = Vec::new();
        for _ in 0..self.runs {
            let mut g = RunningGuest::spawn(&real, &dir).expect("spawn qemu");
            let obs = g.watch(cell.timeout);
            let v = verdict::decide(&cell, &expected, &obs);
            let decided = Instant::now();
            g.finish(Duration::from_secs(3));
            assert_eq!(v.status, Status::Passed, "{}", v.summary);
            let seen = obs.marker_seen_at.expect("marker not seen");
            inproc.push(decided.duration_since(seen).as_secs_f64() * 1000.0);
        }
        figure(
            "real qemu: reader sees marker -> verdict",
            &inproc,
            "ms",
            Some(10.0),
        );

        // 2. End to end through the PTY: a fake guest (this binary) takes a
        // CLOCK_MONOTONIC stamp right before its write(2) of the marker; the
        // verdict's stamp is taken on the same clock after decide.
        let me = std::env::current_exe().unwrap();
        let mut e2e = Vec::new();
        for i in 0..self.runs * 10 {
            let stamp = dir.join(format!("stamp-{i}"));
            let fake = QemuCommand {
                program: me.display().to_string(),
                args: vec!["__fake-guest".into(), stamp.display().to_string()],
            };
            let mut g = RunningGuest::spawn(&fake, &dir).expect("spawn fake guest");
            let obs = g.watch(Duration::from_secs(30));
            let v = verdict::decide(&cell, &expected, &obs);
            let decided = monotonic_ns();
            g.finish(Duration::from_secs(3));
            assert_eq!(obs.cause, EndCause::Marker);
            assert_eq!(v.status, Status::Passed, "{}", v.summary);
            let sent: u64 = std::fs::read_to_string(&stamp)
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            e2e.push((decided - sent) as f64 / 1e6);
        }
        figure(
            "PTY end to end: write(marker) -> verdict",
            &e2e,
            "ms",
            Some(10.0),
        );
    }

    // -- error cell -----------------------------------------------------------

    fn error_latency(&self) {
        section(
            "error-cell latency: qemu exits with a documented error -> verdict (target <= 0.2 s)",
        );
        let cell_name = "error/pseries-2.11";
        let out = self.work.join("error");
        let (_, r) = self.run_cli(&out, &["--filter", cell_name]);
        let argv = cell_argv(&r, cell_name);
        let (cell, expected) = planned(&self.matrix, cell_name);
        let dir = out.join("latency");
        std::fs::create_dir_all(&dir).unwrap();
        let me = std::env::current_exe().unwrap();

        // In-process, with qemu under a wrapper (this binary) that stamps
        // CLOCK_MONOTONIC the moment qemu is reaped; the wrapper's own exit
        // is counted against the harness.
        let mut lat = Vec::new();
        for i in 0..self.runs * 3 {
            let stamp = dir.join(format!("exit-{i}"));
            let mut args = vec!["__exit-stamp".to_string(), stamp.display().to_string()];
            args.extend(argv.iter().cloned());
            let cmd = QemuCommand {
                program: me.display().to_string(),
                args,
            };
            let mut g = RunningGuest::spawn(&cmd, &dir).expect("spawn qemu");
            let obs = g.watch(cell.timeout);
            let v = verdict::decide(&cell, &expected, &obs);
            let decided = monotonic_ns();
            g.finish(Duration::from_secs(3));
            assert!(
                matches!(obs.cause, EndCause::QemuExited(_)),
                "ended by {:?}",
                obs.cause
            );
            assert_eq!(v.status, Status::Passed, "{}", v.summary);
            let exited: u64 = std::fs::read_to_string(&stamp)
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            lat.push((decided - exited) as f64 / 1e6);
        }
        figure("qemu exit -> verdict (in-process)", &lat, "ms", Some(200.0));

        // Through the CLI: the cell's own seconds (spawn, qemu's start and
        // refusal, verdict, teardown) against the whole run.
        let (mut cells, mut walls) = (vec![], vec![]);
        for _ in 0..self.runs {
            let (wall, r) = self.run_cli(&out, &["--filter", cell_name]);
            walls.push(wall);
            cells.push(cell_seconds(&r, cell_name));
        }
        figure(
            "cell seconds in results.json (qemu's run included)",
            &cells,
            "s",
            Some(0.2),
        );
        figure("bootmatrix run, whole process", &walls, "s", None);
    }

    // -- makespan -------------------------------------------------------------

    fn makespan(&self) {
        section(
            "matrix makespan: six TCG cells with -j 2 vs max(longest, total/2) (target <= 1.10)",
        );
        let out = self.work.join("makespan");
        let _ = std::fs::remove_file(out.join("results.json"));
        let (mut ratio, mut pool_ratio, mut walls) = (vec![], vec![], vec![]);
        for i in 0..self.runs {
            let (wall, r) = self.run_cli(&out, &["--filter", "makespan/*", "-j", "2"]);
            let secs: Vec<f64> = r["cells"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["seconds"].as_f64().unwrap())
                .collect();
            assert_eq!(secs.len(), 6);
            let total: f64 = secs.iter().sum();
            let longest = secs.iter().cloned().fold(0.0, f64::max);
            let ideal = longest.max(total / 2.0);
            let startup = fixed_run_cost(self);
            println!(
                "  run {}{}: wall {wall:.2} s, fixed run cost {startup:.2} s, cells {:?} s, ideal {ideal:.2} s",
                i + 1,
                if i == 0 { " (no previous durations: matrix order)" } else { " (longest first from the previous run)" },
                secs.iter().map(|s| (s * 10.0).round() / 10.0).collect::<Vec<_>>()
            );
            walls.push(wall);
            ratio.push(wall / ideal);
            pool_ratio.push((wall - startup) / ideal);
        }
        figure("makespan / ideal (whole process)", &ratio, "x", Some(1.10));
        figure(
            "makespan / ideal (minus the fixed run cost)",
            &pool_ratio,
            "x",
            Some(1.10),
        );
    }

    // -- memory ---------------------------------------------------------------

    fn memory(&self) {
        section("memory: peak RSS of `bootmatrix run -j 8` against a load generator (target <= 64 MiB, flat)");
        println!(
            "  (a fake qemu that prints N MiB of console text, a valid report and the marker:"
        );
        println!("   it loads the harness, it is not evidence that anything boots)");
        let fake = self.work.join("fake-qemu.sh");
        std::fs::write(&fake, FAKE_QEMU).unwrap();
        set_executable(&fake);
        for mib in [1u64, 64] {
            let out = self.work.join(format!("memory-{mib}"));
            let mut hwm = Vec::new();
            let mut walls = Vec::new();
            for _ in 0..self.runs {
                let _ = std::fs::remove_dir_all(&out);
                let mut cmd = Command::new(BIN);
                cmd.arg("run")
                    .arg(&self.matrix)
                    .arg("--images")
                    .arg(&self.images)
                    .arg("--out")
                    .arg(&out);
                cmd.args(["-q", "-j", "8", "--filter", "mem/*", "--qemu"])
                    .arg(&fake);
                cmd.env("FAKE_QEMU_MIB", mib.to_string())
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped());
                let t = Instant::now();
                let mut child = cmd.spawn().expect("cannot run bootmatrix");
                let (peak, status) = peak_rss_kib(&mut child);
                walls.push(t.elapsed().as_secs_f64());
                let mut err = String::new();
                let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                assert!(
                    status.success(),
                    "bootmatrix run with the fake qemu failed: {err}"
                );
                hwm.push(peak as f64 / 1024.0);
            }
            let logs: u64 = std::fs::read_dir(out.join("cells"))
                .unwrap()
                .flatten()
                .filter_map(|d| d.path().join("console.log").metadata().ok())
                .map(|m| m.len())
                .sum();
            figure(
                &format!(
                    "peak RSS, 8 cells x {mib} MiB console ({} MiB of logs)",
                    logs >> 20
                ),
                &hwm,
                "MiB",
                Some(64.0),
            );
            figure(
                &format!("wall, 8 cells x {mib} MiB console"),
                &walls,
                "s",
                None,
            );
            let _ = std::fs::remove_dir_all(out.join("cells"));
        }
    }
}

/// The load generator for the memory figure: a stand-in for
/// qemu-system-ppc64 that answers the host probe like QEMU 10 and, as a
/// "guest", prints `FAKE_QEMU_MIB` MiB of kernel-like console text, the
/// report twice and the marker, then exits like a guest powering off.
const FAKE_QEMU: &str = r#"#!/bin/sh
case "$1 $2" in
"--version ") echo "QEMU emulator version 10.0.2 (bootmatrix load generator)"; exit 0 ;;
"-machine help") printf 'Supported machines are:\npseries              pSeries Logical Partition (PAPR compliant) (alias of pseries-10.0)\npseries-10.0         pSeries Logical Partition (PAPR compliant) (default)\n'; exit 0 ;;
"-accel help") printf 'Accelerators supported in QEMU binary:\ntcg\n'; exit 0 ;;
esac
mmu=Radix
case "$*" in *disable_radix*) mmu=Hash ;; esac
yes '[    1.234567] load generator: a console line about as long as a kernel message' | head -c $((${FAKE_QEMU_MIB:-1} * 1048576))
body="v=1|release=6.1.0-fake|mmu=$mmu|page_kib=64|cpu=POWER9 (architected), altivec supported|platform=pSeries|hypervisor=none|cmdline=console=hvc0"
sum=$(printf '%s' "$body" | sha256sum | cut -c1-16)
echo "BOOTMATRIX-REPORT $sum $body"
echo "BOOTMATRIX-REPORT $sum $body"
echo "BOOTMATRIX-DONE"
"#;

/// Helper role: a guest that prints a little console text and its report,
/// stamps CLOCK_MONOTONIC into `stamp`, writes the marker in one write(2),
/// then lingers like a guest powering off.
fn fake_guest(stamp: &str) {
    let body = "v=1|release=6.1.0-fake|mmu=Radix|page_kib=64|cpu=POWER9 (architected), altivec supported|platform=pSeries|hypervisor=none|cmdline=console=hvc0";
    let mut out = std::io::stdout().lock();
    for i in 0..50 {
        let _ = writeln!(
            out,
            "[    0.{i:06}] fake guest: console text before the report"
        );
    }
    let report = format!("{REPORT_TAG} {} {body}\n", payload::checksum(body));
    let _ = out.write_all(report.as_bytes());
    let _ = out.flush();
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(stamp, monotonic_ns().to_string()).unwrap();
    let _ = out.write_all(format!("{DONE_MARKER}\n").as_bytes());
    let _ = out.flush();
    std::thread::sleep(Duration::from_millis(200));
}

/// Helper role: runs qemu with this process's stdio (the harness's PTY and
/// stderr pipe), stamps CLOCK_MONOTONIC into `stamp` as soon as qemu is
/// reaped, and exits with qemu's status.
fn exit_stamp(stamp: &str, program: &str, args: &[String]) {
    let status = Command::new(program)
        .args(args)
        .status()
        .expect("cannot run qemu");
    let t = monotonic_ns();
    std::fs::write(stamp, t.to_string()).unwrap();
    std::process::exit(status.code().unwrap_or(1));
}

/// The raw baseline: repro.sh with its console on a pipe. Returns seconds to
/// the marker line and to qemu's exit (EOF on its console).
fn raw_boot(repro: &Path) -> (f64, f64) {
    let t = Instant::now();
    let mut child = Command::new("sh")
        .arg(repro)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("cannot run repro.sh");
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 16 * 1024];
    let mut window: Vec<u8> = Vec::new();
    let mut marker = None;
    loop {
        let n = match stdout.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if marker.is_none() {
            window.extend_from_slice(&buf[..n]);
            if let Some(p) = find(&window, DONE_MARKER.as_bytes()) {
                // The whole marker line, as the harness waits for it.
                if window[p..].contains(&b'\n') {
                    marker = Some(t.elapsed().as_secs_f64());
                }
            }
            let keep = window.len().saturating_sub(64);
            if marker.is_none() && keep > 0 && find(&window[keep..], b"BOOTMATRIX").is_none() {
                window.drain(..keep);
            }
        }
    }
    let _ = child.wait();
    let exit = t.elapsed().as_secs_f64();
    (marker.expect("raw boot printed no marker"), exit)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Polls the child's VmHWM (its own peak resident set, not its children's)
/// every 10 ms until it exits; VmHWM only grows, so the last reading is
/// the peak up to the last 10 ms of the process.
fn peak_rss_kib(child: &mut std::process::Child) -> (u64, std::process::ExitStatus) {
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_path) {
            if let Some(kb) = text
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
            {
                peak = peak.max(kb);
            }
        }
        if let Some(status) = child.try_wait().expect("wait") {
            return (peak, status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The cell and its expectation, planned as `bootmatrix run` would.
fn planned(matrix: &Path, name: &str) -> (bootmatrix::model::Cell, bootmatrix::model::Outcome) {
    let selection = bootmatrix::app::Selection {
        matrix: matrix.to_path_buf(),
        filters: vec![name.to_string()],
        partition: None,
        hosts: bootmatrix::plan::HostsMode::Auto,
        known_failures: Default::default(),
        kernels: Vec::new(),
    };
    let facts = bootmatrix::host::probe(bootmatrix::qemu::DEFAULT_QEMU);
    let plan = bootmatrix::app::make_plan(
        &selection,
        &facts,
        bootmatrix::qemu::DEFAULT_QEMU,
        1.0,
        &bootmatrix::app::Schedule::lanes(None),
    )
    .expect("plan the bench matrix");
    let planned = plan
        .cells
        .into_iter()
        .next()
        .expect("cell not in the bench matrix");
    (planned.cell, planned.expected)
}

fn cell_entry<'a>(r: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    r["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in results.json"))
}

fn cell_seconds(r: &serde_json::Value, name: &str) -> f64 {
    let c = cell_entry(r, name);
    assert_eq!(c["status"], "passed", "{name}: {}", c["summary"]);
    c["seconds"].as_f64().unwrap()
}

fn cell_argv(r: &serde_json::Value, name: &str) -> Vec<String> {
    cell_entry(r, name)["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// The fixed cost of a `bootmatrix run` around its cells (start-up: host
/// probe, image resolution, payload; end: reports): a run of the error cell,
/// whose qemu exits at once, minus that cell's own seconds.
fn fixed_run_cost(b: &Bench) -> f64 {
    let (wall, r) = b.run_cli(&b.work.join("fixed-cost"), &["--filter", "error/*"]);
    wall - cell_seconds(&r, "error/pseries-2.11")
}

fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn set_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn zip(a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect()
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn section(title: &str) {
    println!("\n## {title}");
}

/// One figure: median/min/max over the runs and, when there is a target,
/// whether the median meets it.
fn figure(label: &str, xs: &[f64], unit: &str, target: Option<f64>) {
    let min = xs.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let prec = if unit == "x" { 3 } else { 2 };
    let verdict = match target {
        Some(t) if median(xs) <= t => format!("  [met: <= {t} {unit}]"),
        Some(t) => format!("  [NOT met: target <= {t} {unit}]"),
        None => String::new(),
    };
    println!(
        "  {label:<58} median {:>8.prec$} {unit}  min {:>8.prec$}  max {:>8.prec$}  (n={}){verdict}",
        median(xs),
        min,
        max,
        xs.len()
    );
}
