//! The `bootmatrix` command line: parses flags and hands over to
//! [`bootmatrix::app`]. Exit statuses are documented in the README.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use bootmatrix::app::{self, RunArgs, Selection, Sources};
use bootmatrix::payload::Compression;
use bootmatrix::plan::{HostsMode, KnownFailures};
use bootmatrix::progress::Mode;
use bootmatrix::report::JunitFlavor;
use bootmatrix::report::ResultsFile;
use bootmatrix::select::Partition;
use bootmatrix::under_test::KernelFlag;
use bootmatrix::verdict::{Status, WarningPolicy};
use bootmatrix::{diff, host, merge, plan, qemu, Error};

const AFTER_HELP: &str = "\
Exit status:
  0  every cell passed, was skipped (a skipped cell names its reason) or failed as
     its known_failure mark expects
  1  a cell failed: the guest did something other than what the documentation says
  2  bad input: a matrix, image description or flag is wrong (file:line: key named)
  3  infrastructure: qemu or an image missing, a download failed
130  interrupted (Ctrl-C / SIGTERM); reports still list the cells that finished

Start with:
  bootmatrix run                      boot the default matrix (matrices/default.toml)
  bootmatrix plan matrices/void-compat.toml   predictions and qemu commands, no boot
  bootmatrix host                     what this machine can run, and how to fix what it cannot
  bootmatrix run M --kernel NAME=SOURCE   qualify a kernel (a vmlinux, .deb, .xbps or xbps:REPO#PKG)
  then open target/bootmatrix/report.html";

/// Boots real IBM POWER guest matrices under QEMU (pseries; TCG, KVM-HV,
/// KVM-PR) and checks every cell against the documented compatibility table:
/// each cell either boots and the guest itself reports the expected MMU and
/// page size, or qemu refuses with exactly the documented error.
#[derive(Parser)]
#[command(name = "bootmatrix", version, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Boot every selected cell of a matrix and write JUnit, results.json,
    /// summary.md, report.html, plan.json and a directory per cell
    /// (console.log, qemu-stderr.log, repro.sh, verdict.txt).
    Run(RunCmd),
    /// Show every cell's predicted outcome, the rule behind it and the exact
    /// qemu command, without booting.
    Plan(PlanCmd),
    /// Probe this machine: CPU, MMU, page size, hugepages, KVM, qemu; and say
    /// how to fix whatever a matrix row needs.
    Host(HostCmd),
    /// Download and verify every image a matrix needs into the cache, so that
    /// `run --offline` can follow.
    Fetch(FetchCmd),
    /// Compare two runs (results.json files or output directories): newly
    /// failing, newly passing, changed, added and removed cells. Exits 1 when
    /// a cell newly fails.
    Diff(DiffCmd),
    /// Combine the output directories of several runs of the same matrix
    /// (CI shards, or a native and an emulated run) into one: results.json,
    /// JUnit, summary.md, report.html and the cell directories. Exits like
    /// `run` would for the merged cells; 2 when the runs are of different
    /// matrices or disagree about a cell.
    Merge(MergeCmd),
    /// Run one cell for `git bisect run`: exit 0 good, 1 bad, 125 skip (the
    /// machine could not run it), 128 abort (bad input). `--kernel` and
    /// `--qemu` point it at the build under test: `--kernel SOURCE` replaces
    /// the cell's guest kernel, `--kernel NAME=SOURCE` the matrix's kernel
    /// NAME wherever the cell uses it.
    BisectRun(BisectCmd),
}

#[derive(Args)]
struct DiffCmd {
    /// The earlier run: results.json or the directory holding it.
    old: PathBuf,
    /// The later run.
    new: PathBuf,
}

#[derive(Args)]
struct MergeCmd {
    /// The merged output directory: new or empty, or an earlier output
    /// (its cell and host directories are replaced).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The runs' output directories (or their results.json files).
    #[arg(required = true, value_name = "RUN_DIR")]
    runs: Vec<PathBuf>,
    /// What to do with a cell two runs gave different verdicts: refuse
    /// (the default) or keep the verdict of the run that finished it last.
    #[arg(long, value_enum, value_name = "WHICH")]
    prefer: Option<PreferArg>,
    /// JUnit dialect (see `run --junit-flavor`).
    #[arg(long, value_enum, default_value_t = JunitFlavorArg::Full)]
    junit_flavor: JunitFlavorArg,
}

/// What to do with cells marked `known_failure`.
#[derive(Clone, Copy, ValueEnum)]
enum KnownFailuresArg {
    /// Run them: a failure is an expected failure, a pass fails the cell
    /// ("remove the mark"), so that a fix is noticed.
    Run,
    /// Skip them with the mark's reason without booting (a known hang
    /// costs its whole timeout): for CI on every push.
    Skip,
}

impl From<KnownFailuresArg> for KnownFailures {
    fn from(k: KnownFailuresArg) -> Self {
        match k {
            KnownFailuresArg::Run => KnownFailures::Run,
            KnownFailuresArg::Skip => KnownFailures::Skip,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum PreferArg {
    Newest,
}

/// JUnit dialects.
#[derive(Clone, Copy, ValueEnum)]
enum JunitFlavorArg {
    /// Per-cell <properties>: GitLab, GitHub report actions, Jenkins' JUnit
    /// plugin.
    Full,
    /// Valid against the schema of Jenkins' xUnit plugin: per-cell
    /// properties in <system-out>.
    Strict,
}

impl From<JunitFlavorArg> for JunitFlavor {
    fn from(f: JunitFlavorArg) -> Self {
        match f {
            JunitFlavorArg::Full => JunitFlavor::Full,
            JunitFlavorArg::Strict => JunitFlavor::Strict,
        }
    }
}

#[derive(Args)]
struct BisectCmd {
    /// The matrix that defines the cell.
    matrix: PathBuf,
    /// The cell's exact name (see `bootmatrix plan MATRIX`).
    cell: String,
    /// The kernel under test: `SOURCE` (a vmlinux, .deb or .xbps file, an
    /// https URL with #sha256=HEX, or xbps:REPO#PKGNAME) replaces the
    /// cell's own guest kernel; `NAME=SOURCE` replaces the matrix's kernel
    /// NAME, as guest and as emulated host kernel. Repeatable.
    #[arg(long, value_name = "[NAME=]SOURCE")]
    kernel: Vec<String>,
    #[command(flatten)]
    sources: SourceArgs,
    /// Output directory.
    #[arg(long, default_value = "target/bootmatrix-bisect", value_name = "DIR")]
    out: PathBuf,
    /// Multiply the cell's timeout.
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
    timeout_scale: f64,
    /// Where host rows run (see `run --hosts`).
    #[arg(long, value_enum, default_value_t = HostsArg::Auto)]
    hosts: HostsArg,
    #[command(flatten)]
    health: HealthArgs,
}

#[derive(Args, Clone)]
struct HealthArgs {
    /// What the guest kernel's warnings do: `WARNING:` splats, lockdep
    /// reports, KCSAN races, RCU stalls, soft and hard lockups, messages at
    /// err or worse. `report` shows them on the cell; `fail` fails the cell
    /// (for qualifying a release). An oops, a BUG, a KASAN or KFENCE report
    /// always fails the cell.
    #[arg(long, value_enum, default_value_t = WarningsArg::Report)]
    warnings: WarningsArg,
    /// Known kernel noise: one regular expression per line, each with a
    /// `# why` comment above it or after it. A finding any of whose lines a
    /// suppression matches does not count; suppressions that matched
    /// nothing are listed at the end of the run.
    #[arg(long, value_name = "FILE")]
    suppressions: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum WarningsArg {
    Report,
    Fail,
}

impl From<WarningsArg> for WarningPolicy {
    fn from(w: WarningsArg) -> Self {
        match w {
            WarningsArg::Report => WarningPolicy::Report,
            WarningsArg::Fail => WarningPolicy::Fail,
        }
    }
}

/// Lists the suppressions that matched nothing, so that stale ones go.
fn tell_unused(unused: &[String]) {
    for u in unused {
        eprintln!("bootmatrix: suppression matched nothing in this run (remove it if the noise is gone): {u}");
    }
}

/// The `--kernel` flag of `run`, `plan` and `fetch`.
#[derive(Args, Clone)]
struct KernelArgs {
    /// Replace the matrix's kernel NAME (a [kernels] key) everywhere it is
    /// used, as guest kernel and as host kernel of emulated hosts, by the
    /// kernel SOURCE gives: a vmlinux, .deb or .xbps file (told apart by
    /// content), an http(s) URL with #sha256=HEX, or
    /// xbps:REPO#PKGNAME[@ARCH][,key=FILE.pem][,insecure] (REPO a directory
    /// such as hostdir/binpkgs, or an http(s) URL). Cell names do not
    /// change. Repeatable.
    #[arg(long = "kernel", value_name = "NAME=SOURCE")]
    kernels: Vec<String>,
}

impl KernelArgs {
    /// The flags parsed; a malformed one is bad input.
    fn parse(&self) -> bootmatrix::Result<Vec<KernelFlag>> {
        self.kernels.iter().map(|k| k.parse()).collect()
    }
}

#[derive(Args, Clone)]
struct SourceArgs {
    /// The qemu-system-ppc64 binary to run cells with.
    #[arg(long, default_value = qemu::DEFAULT_QEMU, value_name = "PATH")]
    qemu: String,
    /// Directory of image descriptions [default: images/ beside the matrix's
    /// directory].
    #[arg(long, value_name = "DIR")]
    images: Option<PathBuf>,
    /// Image cache [default: $BOOTMATRIX_CACHE, else
    /// $XDG_CACHE_HOME/bootmatrix, else ~/.cache/bootmatrix].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Never touch the network: a missing image is an error naming the
    /// `bootmatrix fetch` command that would get it.
    #[arg(long)]
    offline: bool,
}

#[derive(Args)]
struct RunCmd {
    /// The matrix file.
    #[arg(default_value = "matrices/default.toml")]
    matrix: PathBuf,
    #[command(flatten)]
    kernels: KernelArgs,
    #[command(flatten)]
    sources: SourceArgs,
    /// Output directory.
    #[arg(long, default_value = "target/bootmatrix", value_name = "DIR")]
    out: PathBuf,
    /// Cells booted at once [default: the number of cores; never more RAM
    /// than three quarters of what is available].
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,
    /// The previous run whose cell durations order the work longest first
    /// and decide whether a long emulated-host session is split over
    /// several boots: its results.json or output directory [default:
    /// results.json in --out, if there is one].
    #[arg(long, value_name = "FILE")]
    durations: Option<PathBuf>,
    /// Run only cells whose name matches: a glob (`tcg/*`), a substring
    /// (`hpt`), or `=NAME` for exactly that cell. Repeat for "any of".
    #[arg(long, value_name = "PATTERN")]
    filter: Vec<String>,
    /// Run one shard: `hash:M/N` (stable: a cell keeps its shard whatever is
    /// filtered) or `slice:M/N` (even sizes), M in 1..=N.
    #[arg(long, value_name = "KIND:M/N")]
    partition: Option<String>,
    /// Boot a failing cell again up to N more times; a cell that then passes
    /// is marked flaky in JUnit.
    #[arg(long, default_value_t = 0, value_name = "N")]
    retries: u32,
    /// Count cells that passed only on retry as failed.
    #[arg(long)]
    flaky_fails: bool,
    /// Multiply every cell's timeout (e.g. 3 on a loaded machine).
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
    timeout_scale: f64,
    /// Initramfs compression (see BENCHMARKS.md for why the default).
    #[arg(long, value_enum, default_value_t = CompressionArg::None)]
    compression: CompressionArg,
    /// No progress output; only the final summary line.
    #[arg(short, long)]
    quiet: bool,
    /// Where the matrix's KVM host rows run. `native`: on this machine,
    /// skipping rows it cannot run. `emulated`: on emulated hosts (qemu's
    /// powernv9, or a nested pseries L1, under TCG) as the matrix's
    /// [emulation] table says, so the whole table runs on any machine.
    /// `auto`: native on a POWER host with KVM, else emulated when the matrix
    /// has an [emulation] table.
    #[arg(long, value_enum, default_value_t = HostsArg::Auto)]
    hosts: HostsArg,
    /// JUnit dialect: `full` keeps per-cell <properties> (GitLab, GitHub
    /// report actions, Jenkins' JUnit plugin); `strict` validates against
    /// the schema of Jenkins' xUnit plugin, with the per-cell properties in
    /// <system-out>.
    #[arg(long, value_enum, default_value_t = JunitFlavorArg::Full)]
    junit_flavor: JunitFlavorArg,
    /// Cells marked `known_failure` in the matrix: `run` them (a failure
    /// is reported as expected, a pass fails: remove the mark) or `skip`
    /// them with the mark's reason.
    #[arg(long, value_enum, default_value_t = KnownFailuresArg::Run)]
    known_failures: KnownFailuresArg,
    /// Also tell every event as one framed, checksummed line on FILE (`-`:
    /// standard output): the probe's facts, each cell's start, logs and
    /// verdict, the run's end. This is how the bootmatrix inside an
    /// emulated host reports to the one outside, over the host's console
    /// (README, "Chains of levels").
    #[arg(long, value_name = "FILE")]
    relay: Option<PathBuf>,
    #[command(flatten)]
    health: HealthArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum HostsArg {
    Auto,
    Native,
    Emulated,
}

impl From<HostsArg> for HostsMode {
    fn from(h: HostsArg) -> Self {
        match h {
            HostsArg::Auto => HostsMode::Auto,
            HostsArg::Native => HostsMode::Native,
            HostsArg::Emulated => HostsMode::Emulated,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum CompressionArg {
    Gzip,
    Zstd,
    None,
}

#[derive(Clone, Copy, ValueEnum, Default)]
enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Args)]
struct PlanCmd {
    /// The matrix file.
    #[arg(default_value = "matrices/default.toml")]
    matrix: PathBuf,
    /// The qemu-system-ppc64 to probe and to name in commands.
    #[arg(long, default_value = qemu::DEFAULT_QEMU, value_name = "PATH")]
    qemu: String,
    /// Only cells whose name matches (glob, substring, or `=NAME`).
    #[arg(long, value_name = "PATTERN")]
    filter: Vec<String>,
    /// Where host rows run (see `run --hosts`).
    #[arg(long, value_enum, default_value_t = HostsArg::Auto)]
    hosts: HostsArg,
    /// Cells marked `known_failure` (see `run --known-failures`).
    #[arg(long, value_enum, default_value_t = KnownFailuresArg::Run)]
    known_failures: KnownFailuresArg,
    #[command(flatten)]
    kernels: KernelArgs,
    /// The lanes of the run to plan for (see `run --jobs`): a long
    /// emulated-host session is split over several boots only when that
    /// shortens the run on this many lanes [default: the number of cores].
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,
    /// The previous run whose cell durations the plan expects (see `run
    /// --durations`): its results.json or output directory [default: none,
    /// every cell estimated]. Give what `run` will use to see its plan.
    #[arg(long, value_name = "FILE")]
    durations: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Args)]
struct HostCmd {
    /// The qemu-system-ppc64 to probe.
    #[arg(long, default_value = qemu::DEFAULT_QEMU, value_name = "PATH")]
    qemu: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Args)]
struct FetchCmd {
    /// The matrix whose images to fetch.
    #[arg(default_value = "matrices/default.toml")]
    matrix: PathBuf,
    #[command(flatten)]
    kernels: KernelArgs,
    #[command(flatten)]
    sources: SourceArgs,
}

fn sources(a: &SourceArgs, progress: bool) -> Sources {
    Sources {
        qemu: a.qemu.clone(),
        images_dir: a.images.clone(),
        cache_dir: a.cache_dir.clone(),
        offline: a.offline,
        progress,
    }
}

fn results_path(p: PathBuf) -> PathBuf {
    if p.is_dir() {
        p.join("results.json")
    } else {
        p
    }
}

/// The `--kernel` flags of `bisect-run`: a bare SOURCE means the cell's
/// own guest kernel.
fn bisect_kernels(c: &BisectCmd) -> bootmatrix::Result<Vec<KernelFlag>> {
    c.kernel
        .iter()
        .map(|k| KernelFlag::parse_or(k, || app::guest_kernel_of(&c.matrix, &c.cell)))
        .collect()
}

fn bisect(c: BisectCmd) -> i32 {
    let kernels = match bisect_kernels(&c) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("bootmatrix: {}", e.message());
            return 128;
        }
    };
    let args = RunArgs {
        selection: Selection {
            matrix: c.matrix,
            filters: vec![glob::Pattern::escape(&c.cell)],
            partition: None,
            hosts: c.hosts.into(),
            known_failures: KnownFailures::Ignore,
            kernels,
        },
        sources: sources(&c.sources, false),
        out: c.out,
        jobs: Some(1),
        durations: None,
        retries: 0,
        flaky_fails: false,
        mode: Mode::detect(false),
        compression: Compression::default(),
        timeout_scale: c.timeout_scale,
        junit_flavor: JunitFlavor::default(),
        warnings: c.health.warnings.into(),
        suppressions: c.health.suppressions,
        relay: None,
    };
    let outcome = match app::run(&args) {
        Ok(o) => o,
        Err(e @ Error::BadInput(_)) => {
            eprintln!("bootmatrix: {}", e.message());
            return 128;
        }
        Err(e) => {
            eprintln!("bootmatrix: {} (skipping this commit)", e.message());
            return 125;
        }
    };
    tell_unused(&outcome.unused_suppressions);
    let Some(r) = outcome.results.iter().find(|r| r.name == c.cell) else {
        eprintln!(
            "bootmatrix: no cell named `{}` in {} (see `bootmatrix plan`)",
            c.cell,
            args.selection.matrix.display()
        );
        return 128;
    };
    eprintln!(
        "bootmatrix: {} {}: {}",
        r.verdict.status.word(),
        r.name,
        r.verdict.summary
    );
    match r.verdict.status {
        Status::Passed => 0,
        Status::Failed => 1,
        Status::Skipped | Status::Error => 125,
        // bisect-run judges without the marks: no cell is an expected failure.
        Status::Xfail => 1,
        Status::Interrupted => 130,
    }
}

fn main() -> ExitCode {
    // Like other Unix filters: `bootmatrix plan ... | head` ends quietly.
    // SAFETY: setting a signal disposition before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    if let Command::BisectRun(c) = cli.command {
        return ExitCode::from(bisect(c) as u8);
    }
    match dispatch(cli.command) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("bootmatrix: {}", e.message());
            if let Error::Infrastructure(_) = e {
                eprintln!("bootmatrix: (infrastructure error: the machine, not a cell; see `bootmatrix host`)");
            }
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn dispatch(command: Command) -> bootmatrix::Result<i32> {
    match command {
        Command::Run(c) => {
            let partition = c
                .partition
                .as_deref()
                .map(str::parse::<Partition>)
                .transpose()?;
            if c.timeout_scale.is_nan() || c.timeout_scale <= 0.0 {
                return Err(Error::bad_input("--timeout-scale must be greater than 0"));
            }
            if c.jobs == Some(0) {
                return Err(Error::bad_input("--jobs must be at least 1"));
            }
            let mode = Mode::detect(c.quiet);
            let args = RunArgs {
                selection: Selection {
                    matrix: c.matrix,
                    filters: c.filter,
                    partition,
                    hosts: c.hosts.into(),
                    known_failures: c.known_failures.into(),
                    kernels: c.kernels.parse()?,
                },
                sources: sources(&c.sources, mode == Mode::Bars),
                out: c.out,
                jobs: c.jobs,
                durations: c.durations,
                retries: c.retries,
                flaky_fails: c.flaky_fails,
                mode,
                compression: match c.compression {
                    CompressionArg::Gzip => Compression::Gzip,
                    CompressionArg::Zstd => Compression::Zstd,
                    CompressionArg::None => Compression::None,
                },
                timeout_scale: c.timeout_scale,
                junit_flavor: c.junit_flavor.into(),
                warnings: c.health.warnings.into(),
                suppressions: c.health.suppressions,
                relay: c.relay,
            };
            let outcome = app::run(&args)?;
            tell_unused(&outcome.unused_suppressions);
            let count = |s| {
                outcome
                    .results
                    .iter()
                    .filter(|r| r.verdict.status == s)
                    .count()
            };
            let known = match count(Status::Xfail) {
                0 => String::new(),
                n => format!(", {n} known failures"),
            };
            eprintln!(
                "bootmatrix: {} passed, {} failed, {} skipped, {} errors, {} interrupted{known}; JUnit: {}",
                count(Status::Passed),
                count(Status::Failed),
                count(Status::Skipped),
                count(Status::Error),
                count(Status::Interrupted),
                outcome.junit.display()
            );
            Ok(outcome.exit_code)
        }
        Command::Plan(c) => {
            let facts = host::probe(&c.qemu);
            let selection = Selection {
                matrix: c.matrix,
                filters: c.filter,
                partition: None,
                hosts: c.hosts.into(),
                known_failures: c.known_failures.into(),
                kernels: c.kernels.parse()?,
            };
            if c.jobs == Some(0) {
                return Err(Error::bad_input("--jobs must be at least 1"));
            }
            let schedule = app::Schedule {
                durations: match &c.durations {
                    Some(p) => app::load_durations(p)?,
                    None => Default::default(),
                },
                ..app::Schedule::lanes(c.jobs)
            };
            let plan = app::make_plan(&selection, &facts, &c.qemu, 1.0, &schedule)?;
            match c.format {
                Format::Text => print!("{}", plan::render::render_text(&plan)),
                Format::Json => println!("{}", plan::render::render_json(&plan)),
            }
            Ok(0)
        }
        Command::Host(c) => {
            let facts = host::probe(&c.qemu);
            let fixes = host::remediation(&facts);
            match c.format {
                Format::Text => print!("{}", host::render_text(&facts, &fixes)),
                Format::Json => println!("{}", host::render_json(&facts, &fixes)),
            }
            Ok(0)
        }
        Command::BisectRun(_) => unreachable!("handled in main"),
        Command::Diff(c) => {
            let old = ResultsFile::load(&results_path(c.old))?;
            let new = ResultsFile::load(&results_path(c.new))?;
            let d = diff::diff(&old, &new);
            print!("{}", diff::render(&d));
            Ok(if d.newly_failing.is_empty() { 0 } else { 1 })
        }
        Command::Merge(c) => {
            let prefer = match c.prefer {
                Some(PreferArg::Newest) => merge::Prefer::Newest,
                None => merge::Prefer::Refuse,
            };
            let outcome = merge::merge_dirs(&c.out, &c.runs, prefer, c.junit_flavor.into())?;
            let r = &outcome.results;
            if !outcome.overruled.is_empty() {
                eprintln!(
                    "bootmatrix: runs disagreed about {} cells; kept the newest verdict: {}",
                    outcome.overruled.len(),
                    outcome.overruled.join(", ")
                );
            }
            if !r.missing.is_empty() {
                eprintln!(
                    "bootmatrix: {} cells of the matrix are in no run: {}",
                    r.missing.len(),
                    r.missing.join(", ")
                );
            }
            eprintln!(
                "bootmatrix: merged {} runs: {} passed, {} failed, {} skipped, {} errors, {} interrupted, {} missing; JUnit: {}",
                r.runs.len(),
                r.count_of(Status::Passed),
                r.count_of(Status::Failed),
                r.count_of(Status::Skipped),
                r.count_of(Status::Error),
                r.count_of(Status::Interrupted),
                r.missing.len(),
                outcome.junit.display()
            );
            Ok(bootmatrix::report::results::exit_status(
                r.cells.iter().map(|c| c.status),
            ))
        }
        Command::Fetch(c) => {
            let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let kernels = c.kernels.parse()?;
            for line in app::fetch(&c.matrix, &kernels, &sources(&c.sources, progress))? {
                println!("{line}");
            }
            Ok(0)
        }
    }
}
