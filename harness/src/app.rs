//! The subcommands as stages wired together: load and select cells
//! ([`crate::matrix`], [`crate::select`]), probe the host, plan
//! ([`crate::plan`]), prepare the files the plan names (images, payloads,
//! emulated hosts), run the plan ([`crate::run`]), report. Each stage lives
//! in its own module; this one only passes data along, in that one
//! direction.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::chain;
use crate::error::{Error, Result};
use crate::event::{Event, Listener};
use crate::health::Suppressions;
use crate::host::{self, HostFacts};
use crate::hosted::{self, Relay};
use crate::images::{self, Image, ImageSpec, KernelSource, Store, StoreOptions};
use crate::matrix::{self, Matrix};
use crate::model::Cell;
use crate::payload::{self, Compression};
use crate::plan::{self, FileRef, HostsMode, KnownFailures, Plan, PlanInput, Session};
use crate::progress::{Mode, Progress};
use crate::report::{self, ResultsFile, RunFacts};
use crate::run::{self, CellResult, Files, KernelImage, RunOptions};
use crate::select::{self, Partition};
use crate::teardown;
use crate::under_test::{self, KernelFlag};
use crate::verdict::WarningPolicy;

/// Where images, qemu and the cache come from; shared by every subcommand
/// that boots or fetches.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The qemu-system-ppc64 binary.
    pub qemu: String,
    /// Directory of image descriptions; `None`: `images/` beside the
    /// matrix's directory.
    pub images_dir: Option<PathBuf>,
    /// Image cache; `None`: the default (see [`Store::default_root`]).
    pub cache_dir: Option<PathBuf>,
    /// Never touch the network.
    pub offline: bool,
    /// Show download progress bars.
    pub progress: bool,
}

impl Sources {
    fn images_dir_for(&self, matrix: &Path) -> PathBuf {
        self.images_dir.clone().unwrap_or_else(|| {
            let dir = matrix.parent().unwrap_or(Path::new("."));
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            dir.join("..").join("images")
        })
    }

    fn cache_root(&self) -> PathBuf {
        self.cache_dir.clone().unwrap_or_else(Store::default_root)
    }

    fn store(&self) -> Result<Store> {
        Store::open(
            self.cache_root(),
            StoreOptions {
                offline: self.offline,
                progress: self.progress,
                ..StoreOptions::default()
            },
        )
    }
}

/// What to plan: the matrix, which of its cells, and where host rows run.
/// Shared by `bootmatrix plan` and `bootmatrix run`, which plan the same way.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The matrix file.
    pub matrix: PathBuf,
    /// Cell name filters.
    pub filters: Vec<String>,
    /// Shard.
    pub partition: Option<Partition>,
    /// What to do with cells marked `known_failure`.
    pub known_failures: KnownFailures,
    /// Where the matrix's host rows run.
    pub hosts: HostsMode,
    /// The kernels under test (`--kernel NAME=SOURCE`), put in place of
    /// the matrix's before planning.
    pub kernels: Vec<KernelFlag>,
}

/// What planning is told of the run's time: how many lanes it has and
/// what each cell took last time. Splitting long host sessions and the
/// order of the queue follow from it, so `bootmatrix plan` must be given
/// the same as `bootmatrix run` to show what that run executes.
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    /// Cells and sessions run at once (`-j`).
    pub lanes: usize,
    /// The previous run's seconds by cell name; empty without history.
    pub durations: BTreeMap<String, f64>,
}

impl Schedule {
    /// `lanes` lanes (`None`: [`default_lanes`]) and no history.
    pub fn lanes(lanes: Option<usize>) -> Schedule {
        Schedule {
            lanes: lanes.unwrap_or_else(default_lanes).max(1),
            durations: BTreeMap::new(),
        }
    }
}

/// The lanes of a run that is not told `-j`: one per core.
pub fn default_lanes() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// The seconds each cell took in `results` that says how long it takes
/// to run: cells that ran to a verdict, not skipped or interrupted ones
/// (their time says nothing of the next run's).
pub fn durations_of(results: &ResultsFile) -> BTreeMap<String, f64> {
    use crate::verdict::Status;
    results
        .cells
        .iter()
        .filter(|c| !matches!(c.status, Status::Skipped | Status::Interrupted))
        .filter(|c| c.seconds.is_finite() && c.seconds > 0.0)
        .map(|c| (c.name.clone(), c.seconds))
        .collect()
}

/// The durations of a previous run (`--durations`): its `results.json`, or
/// the output directory holding one. A file that cannot be read is an
/// error: a history asked for and not had would plan another run.
pub fn load_durations(path: &Path) -> Result<BTreeMap<String, f64>> {
    let file = if path.is_dir() {
        path.join("results.json")
    } else {
        path.to_path_buf()
    };
    if !file.is_file() {
        return Err(Error::bad_input(format!(
            "--durations {}: no such results.json (give a run's results.json or its output directory)",
            path.display()
        )));
    }
    Ok(durations_of(&ResultsFile::load(&file)?))
}

/// Options of `bootmatrix run`.
#[derive(Debug, Clone)]
pub struct RunArgs {
    /// The matrix and its cells.
    pub selection: Selection,
    /// Images, qemu, cache.
    pub sources: Sources,
    /// Output directory.
    pub out: PathBuf,
    /// Parallel cells; `None`: from cores and memory.
    pub jobs: Option<usize>,
    /// The previous run's `results.json` (or its output directory) whose
    /// durations order and split the work; `None`: `<out>/results.json`
    /// if there is one.
    pub durations: Option<PathBuf>,
    /// Extra attempts for failing cells.
    pub retries: u32,
    /// Count cells that pass only on retry as failed.
    pub flaky_fails: bool,
    /// Progress display.
    pub mode: Mode,
    /// Initramfs compression.
    pub compression: Compression,
    /// Multiplies every cell's timeout.
    pub timeout_scale: f64,
    /// What kernel warnings do to a verdict (`--warnings`).
    pub warnings: WarningPolicy,
    /// The suppressions file (`--suppressions`).
    pub suppressions: Option<PathBuf>,
    /// The JUnit dialect to write.
    pub junit_flavor: report::JunitFlavor,
    /// Where to relay every event as framed lines (`-`: stdout), for the
    /// run outside an emulated host.
    pub relay: Option<PathBuf>,
}

/// What a run ended with.
pub struct RunOutcome {
    /// Every cell's result.
    pub results: Vec<CellResult>,
    /// Where the JUnit went.
    pub junit: PathBuf,
    /// The exit status the README documents.
    pub exit_code: i32,
    /// The suppressions that matched no finding of the run, one line each
    /// (`file:line: pattern (reason)`), to be listed at its end.
    pub unused_suppressions: Vec<String>,
}

/// The exit status for a set of results: 3 if any cell could not be run for
/// a reason of the machine, else 1 if any cell failed, 130 if interrupted,
/// else 0 (all passed or skipped).
pub fn exit_code(results: &[CellResult]) -> i32 {
    report::results::exit_status(results.iter().map(|r| r.verdict.status))
}

/// The image descriptions of a run: `images/<name>.toml` in the images
/// directory, except for the kernels under test, whose descriptions come
/// from their `--kernel` SOURCE.
pub struct ImageSpecs {
    /// The directory of image descriptions.
    dir: PathBuf,
    /// The kernels under test's descriptions, by image name
    /// ([`under_test::image_name`]).
    under_test: BTreeMap<String, ImageSpec>,
}

impl ImageSpecs {
    /// The description of image `name`: a kernel under test's own, else
    /// the file in the images directory. The one lookup every stage that
    /// needs an image uses (preparing cells and emulated hosts, `fetch`).
    pub fn get(&self, name: &str) -> Result<ImageSpec> {
        match self.under_test.get(name) {
            Some(spec) => Ok(spec.clone()),
            None => images::load(&self.dir, name),
        }
    }
}

/// Loads a matrix and puts the kernels under test in place
/// ([`under_test::replace`]); returns it with their image descriptions
/// by image name. An unknown kernel name, or a kernel file that does not
/// exist, is bad input, before anything is planned.
pub fn load_matrix(
    path: &Path,
    kernels: &[KernelFlag],
) -> Result<(Matrix, BTreeMap<String, ImageSpec>)> {
    let mut m = matrix::load(path)?;
    let base = std::env::current_dir()
        .map_err(|e| Error::infra(format!("cannot tell the current directory: {e}")))?;
    let specs = under_test::replace(&mut m, kernels, &base)?;
    for k in kernels {
        if let KernelSource::File(p) = &k.source {
            if !base.join(p).is_file() {
                return Err(Error::bad_input(format!(
                    "--kernel {k}: no such file {}; give the path of a vmlinux, .deb or .xbps",
                    base.join(p).display()
                )));
            }
        }
    }
    Ok((m, specs))
}

/// The guest kernel's name (in the matrix) of the cell named exactly
/// `cell`: what a bare `bisect-run --kernel SOURCE` replaces. A cell the
/// matrix does not define is bad input.
pub fn guest_kernel_of(matrix_path: &Path, cell: &str) -> Result<String> {
    let m = matrix::load(matrix_path)?;
    m.cells
        .iter()
        .find(|c| c.name == cell)
        .map(|c| c.guest.kernel.name.clone())
        .ok_or_else(|| {
            Error::bad_input(format!(
                "no cell named `{cell}` in {} (see `bootmatrix plan`)",
                matrix_path.display()
            ))
        })
}

/// Loads a matrix with its kernels under test in place and keeps the
/// selected cells; also returns the kernels under test's descriptions.
pub fn load_selected(
    selection: &Selection,
) -> Result<(Matrix, Vec<Cell>, BTreeMap<String, ImageSpec>)> {
    select::check_filters(&selection.filters)?;
    let (m, specs) = load_matrix(&selection.matrix, &selection.kernels)?;
    let names: Vec<&str> = m.cells.iter().map(|c| c.name.as_str()).collect();
    let cells = select::select(&names, &selection.filters, selection.partition)
        .into_iter()
        .map(|i| m.cells[i].clone())
        .collect();
    Ok((m, cells, specs))
}

/// The plan for `selection` on the `probed` machine: what `bootmatrix plan`
/// prints and exactly what `bootmatrix run` executes.
pub fn make_plan(
    selection: &Selection,
    probed: &HostFacts,
    qemu: &str,
    timeout_scale: f64,
    schedule: &Schedule,
) -> Result<Plan> {
    Ok(plan_selected(selection, probed, qemu, timeout_scale, schedule)?.1)
}

/// [`make_plan`], also returning the matrix and the kernels under test's
/// descriptions.
fn plan_selected(
    selection: &Selection,
    probed: &HostFacts,
    qemu: &str,
    timeout_scale: f64,
    schedule: &Schedule,
) -> Result<(Matrix, Plan, BTreeMap<String, ImageSpec>)> {
    let (m, cells, specs) = load_selected(selection)?;
    let input = PlanInput {
        host: probed,
        hosts: selection.hosts,
        qemu,
        timeout_scale,
        known_failures: selection.known_failures,
        durations: &schedule.durations,
        lanes: schedule.lanes,
    };
    let plan = plan::build(&m, &cells, &input)
        .map_err(|msg| Error::bad_input(format!("{}: {msg}", m.path.display())))?;
    Ok((m, plan, specs))
}

/// Resolves every needed image; failures are kept per image so that only
/// the cells that need a missing image are errors.
fn resolve_images(
    names: &[String],
    specs: &ImageSpecs,
    store: &Store,
) -> Result<BTreeMap<String, std::result::Result<Image, Error>>> {
    let mut out = BTreeMap::new();
    for name in names {
        // A bad description is bad input for the whole run; a failed fetch
        // is the machine's trouble and only affects the cells that need it.
        let spec = specs.get(name)?;
        out.insert(name.clone(), store.get(&spec));
    }
    Ok(out)
}

/// What the report records of each kernel image the runnable cells of
/// `plan` boot (guest and host kernels), by image name; images that could
/// not be had are left out.
fn kernel_images(
    plan: &Plan,
    resolved: &BTreeMap<String, std::result::Result<Image, Error>>,
) -> BTreeMap<String, KernelImage> {
    plan.cells
        .iter()
        .filter(|p| p.runnable())
        .flat_map(|p| std::iter::once(&p.cell.guest.kernel).chain(p.cell.host.kernel.as_ref()))
        .filter_map(|k| match resolved.get(&k.image) {
            Some(Ok(img)) => Some((
                k.image.clone(),
                KernelImage {
                    release: img.release.clone(),
                    sha256: img.sha256.clone(),
                    origin: img.origin.clone(),
                },
            )),
            _ => None,
        })
        .collect()
}

/// Writes the plan a run executes as `plan.json` in its output, the same
/// JSON `bootmatrix plan --format json` prints.
fn write_plan(out: &Path, plan: &Plan) -> Result<()> {
    let path = out.join("plan.json");
    write_aside(&path, plan::render::render_json(plan).as_bytes())
        .map_err(|e| Error::io(&path, "cannot write", e))
}

/// Writes `bytes` to `path` whole or not at all: into a file beside it
/// first (named for this process), then renamed over it, so that a reader
/// or an interrupted run never sees half a file.
fn write_aside(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// `bootmatrix run`.
pub fn run(args: &RunArgs) -> Result<RunOutcome> {
    let relay = match &args.relay {
        None => None,
        Some(p) if p.as_os_str() == "-" => Some(Relay::new(Box::new(std::io::stdout()))),
        Some(p) => Some(Relay::new(Box::new(
            std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(p)
                .map_err(|e| Error::io(p, "cannot open the relay", e))?,
        ))),
    };
    let outcome = run_relayed(args, relay.as_ref());
    // The outside waits for this line: a run that failed before its first
    // cell says so too, rather than leaving the host to time out.
    if let Some(relay) = &relay {
        let exit_status = match &outcome {
            Ok(o) => o.exit_code,
            Err(e) => e.exit_code(),
        };
        relay.send(hosted::Message::Ended { exit_status });
    }
    outcome
}

fn run_relayed(args: &RunArgs, relay: Option<&Relay>) -> Result<RunOutcome> {
    let started = Instant::now();
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let facts = host::probe_in(&args.sources.qemu, &args.sources.cache_root());
    if let Some(relay) = relay {
        relay.send(hosted::Message::Probed {
            facts: Box::new(facts.clone()),
        });
    }
    // The previous run's durations: asked for, or this output's own.
    let durations = match &args.durations {
        Some(p) => load_durations(p)?,
        None => ResultsFile::load(&args.out.join("results.json"))
            .map(|r| durations_of(&r))
            .unwrap_or_default(),
    };
    let schedule = Schedule {
        durations,
        ..Schedule::lanes(args.jobs)
    };
    let (matrix, plan, under_test) = plan_selected(
        &args.selection,
        &facts,
        &args.sources.qemu,
        args.timeout_scale,
        &schedule,
    )?;
    let specs = ImageSpecs {
        dir: args.sources.images_dir_for(&args.selection.matrix),
        under_test,
    };
    let suppressions = match &args.suppressions {
        Some(path) => Suppressions::load(path)?,
        None => Suppressions::default(),
    };
    teardown::install_signal_handlers()
        .map_err(|e| Error::infra(format!("cannot install signal handlers: {e}")))?;
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, "cannot create", e))?;
    write_plan(&args.out, &plan)?;
    let prepared = prepare(&plan, args, &specs)?;
    let files = &prepared.files;

    let opts = RunOptions {
        jobs: schedule.lanes,
        memory_budget_mib: host::memory_available_mib() * 3 / 4,
        retries: args.retries,
        out_dir: args.out.clone(),
        warnings: args.warnings,
        suppressions,
        epoch: started,
        known_failures: args.selection.known_failures != KnownFailures::Ignore,
        kernels: prepared.kernels.clone(),
    };
    let progress = Progress::new(plan.cells.len(), args.mode);
    let results = match relay {
        Some(relay) => run::execute(&plan, files, &opts, &Both(&progress, relay)),
        None => run::execute(&plan, files, &opts, &progress),
    };
    progress.finish();
    let names: Vec<&str> = matrix.cells.iter().map(|c| c.name.as_str()).collect();
    let facts_run = RunFacts {
        matrix: args.selection.matrix.display().to_string(),
        matrix_sha256: matrix.sha256.clone(),
        suite: matrix.name.clone(),
        description: matrix.description.clone(),
        host: &facts,
        host_kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|s| s.trim().to_string()),
        started_unix,
        seconds: started.elapsed().as_secs_f64(),
        interrupted: teardown::interrupted(),
        flaky_fails: args.flaky_fails,
        selection: report::results::Selection {
            filters: args.selection.filters.clone(),
            partition: args
                .selection
                .partition
                .map(report::results::partition_text),
            cells: select::select(&names, &args.selection.filters, None)
                .into_iter()
                .map(|i| names[i].to_string())
                .collect(),
        },
        image_sha256: prepared.image_sha256.clone(),
        out: args.out.clone(),
    };
    let junit = report::write_all(
        &args.out,
        &ResultsFile::from_run(&results, &facts_run),
        args.junit_flavor,
    )?;
    let findings = results
        .iter()
        .flat_map(|r| &r.attempts)
        .filter_map(|a| a.observation.as_ref())
        .flat_map(|o| &o.health);
    let unused_suppressions: Vec<String> = opts
        .suppressions
        .unmatched(findings)
        .iter()
        .map(|s| {
            format!(
                "{}:{}: {} ({})",
                s.at.file, s.at.line, s.pattern, s.at.reason
            )
        })
        .collect();
    report::note_unused_suppressions(&args.out, &unused_suppressions)?;
    let mut code = exit_code(&results);
    if code == 0 && args.flaky_fails && results.iter().any(|r| r.flaky) {
        code = 1;
    }
    Ok(RunOutcome {
        results,
        junit,
        exit_code: code,
        unused_suppressions,
    })
}

/// Two listeners, each told every event.
struct Both<'a>(&'a dyn Listener, &'a dyn Listener);

impl Listener for Both<'_> {
    fn on(&self, event: Event<'_>) {
        let again = event.clone();
        self.0.on(event);
        self.1.on(again);
    }
}

/// What preparing a plan produced: the files by placeholder, the sha256 of
/// every image resolved and what is known of each kernel image (for the
/// report).
struct Prepared {
    files: Files,
    image_sha256: BTreeMap<String, String>,
    kernels: BTreeMap<String, KernelImage>,
}

/// Prepares every file the plan's runnable cells name: images from the
/// cache, guest payloads, the initramfs of each emulated host. Returns the
/// files by placeholder; one that cannot be had is kept as its error, so
/// that only the cells needing it fail. Also returns what the report
/// records of the images and kernels.
fn prepare(plan: &Plan, args: &RunArgs, specs: &ImageSpecs) -> Result<Prepared> {
    let mut files = Files::new();
    let runnable: Vec<Cell> = plan
        .cells
        .iter()
        .filter(|p| p.runnable())
        .map(|p| p.cell.clone())
        .collect();
    let images = needed_images(&runnable);
    if images.is_empty() {
        return Ok(Prepared {
            files,
            image_sha256: BTreeMap::new(),
            kernels: BTreeMap::new(),
        });
    }
    let store = args.sources.store()?;
    let resolved = resolve_images(&images, specs, &store)?;
    let image_path = |name: &str| -> std::result::Result<PathBuf, String> {
        let img = resolved
            .get(name)
            .ok_or_else(|| format!("image `{name}` not resolved"))?;
        Ok(img
            .as_ref()
            .map_err(|e| e.message().to_string())?
            .path
            .clone())
    };
    // Absolute, so that every repro.sh runs from any directory.
    let payload_dir = std::path::absolute(&args.out)
        .unwrap_or_else(|_| args.out.clone())
        .join("payload");
    for file in plan.native_files() {
        let path = match &file {
            FileRef::Image(name) => image_path(name),
            FileRef::Payload(busybox) => match resolved.get(busybox) {
                Some(Ok(img)) => build_payload(img, &payload_dir, args.compression),
                Some(Err(e)) => Err(e.message().to_string()),
                None => Err(format!("image `{busybox}` not resolved")),
            },
            FileRef::HostInitramfs(_) => continue,
            FileRef::Nvram => write_nvram(&payload_dir),
        };
        files.insert(file.placeholder(), path);
    }
    // One ppc64le build of this very bootmatrix serves every host.
    let booted = plan.sessions.iter().any(|s| !s.cells.is_empty());
    let inner_bootmatrix = booted.then(|| {
        images::harness::ppc64le_harness(&store)
            .and_then(|h| std::fs::read(&h.path).map_err(|e| Error::io(&h.path, "cannot read", e)))
            .map_err(|e| e.message().to_string())
    });
    // One qemu userland per Debian release, resolved once: apt answers in
    // about a second, which thirteen sessions paid each before.
    let mut userlands = BTreeMap::new();
    for session in plan.sessions.iter().filter(|s| !s.cells.is_empty()) {
        let release = &session.inner_qemu.release;
        if !userlands.contains_key(release) {
            let userland =
                images::bundle::qemu_userland(&store, release).map_err(|e| e.message().to_string());
            userlands.insert(release.clone(), userland);
        }
    }
    for (k, session) in plan.sessions.iter().enumerate() {
        if session.cells.is_empty() {
            continue;
        }
        let kernel = session
            .host
            .kernel
            .as_ref()
            .map_or(String::new(), |k| k.image.clone());
        files.insert(
            FileRef::Image(kernel.clone()).placeholder(),
            image_path(&kernel),
        );
        let inside = Inside {
            bootmatrix: inner_bootmatrix
                .as_ref()
                .expect("built when a session boots"),
            image_path: &image_path,
            userlands: &userlands,
            args,
        };
        let initramfs = prepare_session(plan, session, &inside, specs, &store, &payload_dir);
        files.insert(FileRef::HostInitramfs(k).placeholder(), initramfs);
    }
    let image_sha256 = resolved
        .iter()
        .filter_map(|(n, i)| Some((n.clone(), i.as_ref().ok()?.sha256.clone())))
        .collect();
    Ok(Prepared {
        files,
        image_sha256,
        kernels: kernel_images(plan, &resolved),
    })
}

/// The KVM modules an emulated host must load for its kernel `spec`: none
/// for a kernel the harness builds (KVM built in), nor for a bare vmlinux,
/// which has no package to take them from (its KVM must be built in);
/// else those of the kernel's package.
fn host_kvm_modules(store: &Store, spec: &ImageSpec) -> Result<Vec<(String, Vec<u8>)>> {
    if spec.kernel_build.is_some() {
        return Ok(Vec::new());
    }
    images::bundle::kvm_modules(store, spec).or_else(|e| match store.get(spec) {
        // Taken as it is, not out of a package.
        Ok(image) if image.member.is_none() => Ok(Vec::new()),
        _ => Err(e),
    })
}

/// What an emulated host's run inside is made of, besides the plan.
struct Inside<'a> {
    /// The ppc64le bootmatrix's bytes, or why there are none.
    bootmatrix: &'a std::result::Result<Vec<u8>, String>,
    /// Where each prepared image is.
    image_path: &'a dyn Fn(&str) -> std::result::Result<PathBuf, String>,
    /// The qemu userland of each Debian release the hosts run, or why there
    /// is none.
    userlands: &'a BTreeMap<String, std::result::Result<images::bundle::Userland, String>>,
    /// The run's options, passed on to the run inside.
    args: &'a RunArgs,
}

/// The command the host's init starts: this run's options, for the
/// session's cells exactly, on the files placed under [`chain::INNER_DIR`].
fn inner_argv(
    session: &Session,
    plan: &Plan,
    kernels: &[(String, String)],
    args: &RunArgs,
    suppressions: bool,
) -> Vec<String> {
    let dir = chain::INNER_DIR;
    let mut argv: Vec<String> = [
        chain::INNER_BOOTMATRIX,
        "run",
        &format!("{dir}/matrix.toml"),
        "--hosts",
        "native",
        "--images",
        &format!("{dir}/images"),
        "--cache-dir",
        "/tmp/bootmatrix-cache",
        "--offline",
        "--qemu",
        chain::L1_QEMU,
        "--out",
        "/tmp/bootmatrix-out",
        "--jobs",
        "1",
        "--quiet",
        "--relay",
        "-",
        "--retries",
        &args.retries.to_string(),
        "--timeout-scale",
        &args.timeout_scale.to_string(),
        "--warnings",
        match args.warnings {
            WarningPolicy::Report => "report",
            WarningPolicy::Fail => "fail",
        },
        "--known-failures",
        match args.selection.known_failures {
            KnownFailures::Ignore => "ignore",
            KnownFailures::Run | KnownFailures::Skip => "run",
        },
    ]
    .map(str::to_string)
    .to_vec();
    if args.flaky_fails {
        argv.push("--flaky-fails".into());
    }
    if suppressions {
        argv.extend(["--suppressions".into(), format!("{dir}/suppressions")]);
    }
    for (name, file) in kernels {
        argv.extend(["--kernel".into(), format!("{name}={file}")]);
    }
    for &i in &session.cells {
        argv.extend(["--filter".into(), format!("={}", plan.cells[i].name)]);
    }
    argv
}

/// Builds (or reuses) the initramfs of an emulated host: its KVM modules,
/// the qemu it runs guests with, the ppc64le bootmatrix, and what that
/// bootmatrix reads (the matrix, a description of the busybox image, the
/// images themselves), with an init that starts the run inside.
fn prepare_session(
    plan: &Plan,
    session: &Session,
    inside: &Inside,
    specs: &ImageSpecs,
    store: &Store,
    payload_dir: &Path,
) -> std::result::Result<PathBuf, String> {
    let hugepages = session.hugepages;
    let bootmatrix = inside.bootmatrix.as_ref().map_err(|e| {
        format!("cannot build the bootmatrix that runs inside the emulated host: {e}")
    })?;
    let first = &plan.cells[session.cells[0]].cell;
    let host_kernel = first
        .host
        .kernel
        .as_ref()
        .ok_or("the emulated host has no kernel")?;
    let kernel_spec = specs
        .get(&host_kernel.image)
        .map_err(|e| e.message().to_string())?;
    let modules = host_kvm_modules(store, &kernel_spec).map_err(|e| e.message().to_string())?;
    let wanted = &session.inner_qemu;
    let userland = inside
        .userlands
        .get(&wanted.release)
        .expect("resolved for every booted session")
        .as_ref()
        .map_err(Clone::clone)?;
    let have = crate::host::parse_version(&userland.qemu_version);
    if have.map(|v| (v.0, v.1)) != Some((wanted.version.0, wanted.version.1)) {
        return Err(format!(
            "the rules were told this host runs qemu {}.{} from {}, but apt's {} has qemu {}: correct the version \
             (`old_machine_qemu` in [emulation], or chain::DEFAULT_INNER_QEMU)",
            wanted.version.0, wanted.version.1, wanted.release, wanted.release, userland.qemu_version
        ));
    }
    let dir = chain::INNER_DIR.trim_start_matches('/');
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    // The matrix the plan was made from, byte for byte: one edited since
    // would give the host other cells than the plan's.
    let matrix = read(&plan.matrix)?;
    if images::sha256_bytes(&matrix) != plan.matrix_sha256 {
        return Err(format!(
            "{} changed since this run planned it: run again",
            plan.matrix.display()
        ));
    }
    let mut run_files: Vec<(String, Vec<u8>)> = vec![(format!("{dir}/matrix.toml"), matrix)];
    // The busybox images, described as the local files they are inside.
    let mut kernels: Vec<(String, String)> = Vec::new();
    for &i in &session.cells {
        let c = &plan.cells[i].cell;
        let busybox = &c.guest.busybox;
        let description = format!("{dir}/images/{busybox}.toml");
        if !run_files.iter().any(|(p, _)| p == &description) {
            let file = format!("/{dir}/files/{busybox}");
            run_files.push((
                description,
                format!(
                    "# The busybox image, placed here by the run outside.\nfile = \"{file}\"\n"
                )
                .into_bytes(),
            ));
            run_files.push((file[1..].to_string(), read(&(inside.image_path)(busybox)?)?));
        }
        let kernel = &c.guest.kernel;
        if !kernels.iter().any(|(n, _)| n == &kernel.name) {
            let file = format!("/{dir}/files/kernel-{}", kernel.name);
            run_files.push((
                file[1..].to_string(),
                read(&(inside.image_path)(&kernel.image)?)?,
            ));
            kernels.push((kernel.name.clone(), file));
        }
    }
    let suppressions = match &inside.args.suppressions {
        Some(p) => {
            run_files.push((format!("{dir}/suppressions"), read(p)?));
            true
        }
        None => false,
    };
    let argv = inner_argv(session, plan, &kernels, inside.args, suppressions);
    let module_names: Vec<String> = modules.iter().map(|(n, _)| n.clone()).collect();
    let hugepage_kib = (hugepages > 0)
        .then(|| chain::l1_hugepage_kib(first.host.mmu.unwrap_or(crate::model::Mmu::Radix)));
    let init = chain::l1_init(&module_names, &argv, hugepage_kib);
    let busybox = read(&(inside.image_path)(&first.guest.busybox)?)?;
    let mut key_material = format!(
        "{init}|{}|{}|{}",
        payload::checksum(&String::from_utf8_lossy(&busybox)),
        userland.packages.join(","),
        images::sha256_bytes(bootmatrix)
    );
    for (n, b) in modules.iter().chain(run_files.iter()) {
        key_material.push_str(&format!("|{n}:{}", images::sha256_bytes(b)));
    }
    let path = payload_dir.join(format!("l1-{}.cpio.zst", payload::checksum(&key_material)));
    if !path.exists() {
        std::fs::create_dir_all(payload_dir).map_err(|e| e.to_string())?;
        let files: Vec<chain::UserlandFile> = userland
            .files
            .iter()
            .map(|f| match &f.content {
                images::bundle::BundleContent::File(data) => {
                    chain::UserlandFile::File(&f.path, f.mode, data)
                }
                images::bundle::BundleContent::Symlink(t) => {
                    chain::UserlandFile::Symlink(&f.path, t)
                }
                images::bundle::BundleContent::Dir => chain::UserlandFile::Dir(&f.path),
            })
            .collect();
        let contents = chain::L1Contents {
            busybox: &busybox,
            init: &init,
            modules: &modules,
            userland: files,
            bootmatrix,
            run_files,
        };
        chain::write_l1_initramfs(&path, &contents)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(path)
}

/// Builds (or reuses) the initramfs for a busybox image; named by content so
/// that concurrent runs and reruns share it safely.
fn build_payload(
    busybox: &Image,
    dir: &Path,
    compression: Compression,
) -> std::result::Result<PathBuf, String> {
    let ext = match compression {
        Compression::Gzip => "cpio.gz",
        Compression::Zstd => "cpio.zst",
        Compression::None => "cpio",
    };
    let key = payload::checksum(&format!(
        "{}|{}|{:?}",
        busybox.sha256,
        payload::INIT_SCRIPT,
        compression
    ));
    let path = dir.join(format!("initramfs-{key}.{ext}"));
    if path.exists() {
        return Ok(path);
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let bytes = std::fs::read(&busybox.path)
        .map_err(|e| format!("cannot read {}: {e}", busybox.path.display()))?;
    let img = payload::build_initramfs(&bytes, compression)
        .map_err(|e| format!("cannot build the initramfs: {e}"))?;
    write_aside(&path, &img).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Writes the formatted NVRAM of VOF guests ([`crate::nvram`]) into `dir`,
/// once ([`write_aside`]).
fn write_nvram(dir: &Path) -> std::result::Result<PathBuf, String> {
    let image = crate::nvram::formatted();
    let path = dir.join("nvram-free.bin");
    if std::fs::read(&path).is_ok_and(|have| have == image) {
        return Ok(path);
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    write_aside(&path, &image).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// The images a set of cells needs, by name: guest kernels, busybox images
/// and host kernels, whether or not this machine can run the cells.
pub fn needed_images(cells: &[Cell]) -> Vec<String> {
    let mut names: Vec<String> = cells
        .iter()
        .flat_map(|c| c.images())
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// `bootmatrix fetch`: makes sure every image a matrix needs is cached,
/// with `kernels` under test in place of the matrix's. Returns one line
/// per image.
pub fn fetch(matrix_path: &Path, kernels: &[KernelFlag], sources: &Sources) -> Result<Vec<String>> {
    let (m, under_test) = load_matrix(matrix_path, kernels)?;
    let specs = ImageSpecs {
        dir: sources.images_dir_for(matrix_path),
        under_test,
    };
    let store = sources.store()?;
    let mut lines = Vec::new();
    // What either placement of the host rows needs, so that a cache warmed
    // here serves `run` on any machine.
    let mut names = needed_images(&m.cells);
    if let Some(e) = &m.emulation {
        let emulated = chain::emulate(&m.cells, e)
            .map_err(|msg| Error::bad_input(format!("{}: {msg}", m.path.display())))?;
        names.extend(needed_images(&emulated));
        names.sort();
        names.dedup();
    }
    for name in names {
        let spec = specs.get(&name)?;
        let img = store.get(&spec)?;
        lines.push(format!(
            "{} {name}: {} ({}, sha256 {})",
            if img.cached { "cached " } else { "fetched" },
            img.path.display(),
            img.origin,
            &img.sha256[..16.min(img.sha256.len())]
        ));
    }
    if m.emulation.is_some() || m.cells.iter().any(|c| c.host.kind.is_emulated()) {
        // Emulated hosts also need Debian's ppc64el qemu inside them: the
        // default one, and the older one for old machine types.
        let mut releases = vec![chain::DEFAULT_INNER_QEMU.0.to_string()];
        if let Some(q) = m
            .emulation
            .as_ref()
            .and_then(|e| e.old_machine_qemu.as_ref())
        {
            releases.push(q.release.clone());
        }
        for release in releases {
            let u = images::bundle::qemu_userland(&store, &release)?;
            lines.push(format!(
                "{} qemu userland for emulated hosts: qemu {} from {release} ({} packages, {} files)",
                if u.cached { "cached " } else { "fetched" },
                u.qemu_version,
                u.packages.len(),
                u.files.len()
            ));
        }
        // And this very bootmatrix, built for them.
        lines.push(images::harness::ppc64le_harness(&store)?.fetch_line());
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian POWER ELF header with a banner: a bare vmlinux.
    fn bare_vmlinux() -> Vec<u8> {
        let mut v = b"\x7fELF\x02\x01\x01".to_vec();
        v.resize(18, 0);
        v.extend_from_slice(&21u16.to_le_bytes());
        v.extend_from_slice(b"Linux version 6.1.99_1 (a@b) #1\n\0");
        v
    }

    #[test]
    fn a_bare_host_kernel_has_kvm_built_in_and_a_package_must_bring_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("cache"), StoreOptions::default()).unwrap();
        std::fs::write(dir.path().join("vmlinux"), bare_vmlinux()).unwrap();
        let bare = KernelSource::File("vmlinux".into()).image_spec("host-4k", dir.path());
        assert_eq!(host_kvm_modules(&store, &bare).unwrap(), Vec::new());

        // A .deb holding the kernel but no KVM module: the package's error.
        let mut tar = tar::Builder::new(Vec::new());
        let data = bare_vmlinux();
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, "./boot/vmlinux-6.1.99_1", data.as_slice())
            .unwrap();
        let data_tar = tar.into_inner().unwrap();
        let mut deb = ar::Builder::new(Vec::new());
        for (name, bytes) in [("debian-binary", b"2.0\n".to_vec()), ("data.tar", data_tar)] {
            let header = ar::Header::new(name.as_bytes().to_vec(), bytes.len() as u64);
            deb.append(&header, bytes.as_slice()).unwrap();
        }
        std::fs::write(dir.path().join("k.deb"), deb.into_inner().unwrap()).unwrap();
        let packaged = KernelSource::File("k.deb".into()).image_spec("host-4k", dir.path());
        let e = host_kvm_modules(&store, &packaged).unwrap_err();
        assert!(
            e.message().contains("no `kvm-hv` or `kvm-pr` module"),
            "{e}"
        );
    }
}
