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
use crate::health::Suppressions;
use crate::host::{self, HostFacts};
use crate::images::{self, Image, Store, StoreOptions};
use crate::matrix::{self, Matrix};
use crate::model::Cell;
use crate::payload::{self, Compression};
use crate::plan::{self, FileRef, HostsMode, KnownFailures, Plan, PlanInput, Session};
use crate::progress::{Mode, Progress};
use crate::report::{self, ResultsFile, RunFacts};
use crate::run::{self, CellResult, Files, RunOptions};
use crate::select::{self, Partition};
use crate::teardown;
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

    fn store(&self) -> Result<Store> {
        let root = self.cache_dir.clone().unwrap_or_else(Store::default_root);
        Store::open(
            root,
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
    /// Boot this kernel instead of the matrix's (regression hunting).
    pub kernel_override: Option<PathBuf>,
    /// What kernel warnings do to a verdict (`--warnings`).
    pub warnings: WarningPolicy,
    /// The suppressions file (`--suppressions`).
    pub suppressions: Option<PathBuf>,
    /// The JUnit dialect to write.
    pub junit_flavor: report::JunitFlavor,
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

/// Loads a matrix and keeps the selected cells.
pub fn load_selected(
    path: &Path,
    filters: &[String],
    partition: Option<Partition>,
) -> Result<(Matrix, Vec<Cell>)> {
    select::check_filters(filters)?;
    let m = matrix::load(path)?;
    let names: Vec<&str> = m.cells.iter().map(|c| c.name.as_str()).collect();
    let cells = select::select(&names, filters, partition)
        .into_iter()
        .map(|i| m.cells[i].clone())
        .collect();
    Ok((m, cells))
}

/// The plan for `selection` on the `probed` machine: what `bootmatrix plan`
/// prints and exactly what `bootmatrix run` executes.
pub fn make_plan(
    selection: &Selection,
    probed: &HostFacts,
    qemu: &str,
    timeout_scale: f64,
) -> Result<Plan> {
    let (m, cells) = load_selected(&selection.matrix, &selection.filters, selection.partition)?;
    let input = PlanInput {
        host: probed,
        hosts: selection.hosts,
        qemu,
        timeout_scale,
        known_failures: selection.known_failures,
    };
    plan::build(&m, &cells, &input)
        .map_err(|msg| Error::bad_input(format!("{}: {msg}", m.path.display())))
}

/// Resolves every needed image; failures are kept per image so that only
/// the cells that need a missing image are errors.
fn resolve_images(
    names: &[String],
    images_dir: &Path,
    store: &Store,
) -> Result<BTreeMap<String, std::result::Result<Image, Error>>> {
    let mut out = BTreeMap::new();
    for name in names {
        // A bad description is bad input for the whole run; a failed fetch
        // is the machine's trouble and only affects the cells that need it.
        let spec = images::load(images_dir, name)?;
        out.insert(name.clone(), store.get(&spec));
    }
    Ok(out)
}

/// Writes the plan a run executes as `plan.json` in its output, the same
/// JSON `bootmatrix plan --format json` prints.
fn write_plan(out: &Path, plan: &Plan) -> Result<()> {
    let path = out.join("plan.json");
    let tmp = out.join("plan.json.tmp");
    std::fs::write(&tmp, plan::render::render_json(plan))
        .map_err(|e| Error::io(&tmp, "cannot write", e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, "cannot write", e))
}

/// `bootmatrix run`.
pub fn run(args: &RunArgs) -> Result<RunOutcome> {
    let started = Instant::now();
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let facts = host::probe(&args.sources.qemu);
    let matrix = matrix::load(&args.selection.matrix)?;
    let plan = make_plan(
        &args.selection,
        &facts,
        &args.sources.qemu,
        args.timeout_scale,
    )?;
    if let Some(k) = &args.kernel_override {
        if !k.is_file() {
            return Err(Error::bad_input(format!(
                "--kernel {}: no such file",
                k.display()
            )));
        }
    }
    let suppressions = match &args.suppressions {
        Some(path) => Suppressions::load(path)?,
        None => Suppressions::default(),
    };
    teardown::install_signal_handlers()
        .map_err(|e| Error::infra(format!("cannot install signal handlers: {e}")))?;
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, "cannot create", e))?;
    write_plan(&args.out, &plan)?;
    let prepared = prepare(&plan, args)?;
    let files = &prepared.files;

    let previous = ResultsFile::load(&args.out.join("results.json"))
        .map(|r| r.cells.into_iter().map(|c| (c.name, c.seconds)).collect())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let opts = RunOptions {
        jobs: args.jobs.unwrap_or(cores).max(1),
        memory_budget_mib: host::memory_available_mib() * 3 / 4,
        retries: args.retries,
        out_dir: args.out.clone(),
        previous_seconds: previous,
        warnings: args.warnings,
        suppressions,
        epoch: started,
        known_failures: args.selection.known_failures != KnownFailures::Ignore,
    };
    let progress = Progress::new(plan.cells.len(), args.mode);
    let results = run::execute(&plan, files, &opts, &progress);
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

/// What preparing a plan produced: the files by placeholder, and the
/// sha256 of every image resolved (for the report).
struct Prepared {
    files: Files,
    image_sha256: BTreeMap<String, String>,
}

/// Prepares every file the plan's runnable cells name: images from the
/// cache, guest payloads, the initramfs of each emulated host. Returns the
/// files by placeholder; one that cannot be had is kept as its error, so
/// that only the cells needing it fail.
fn prepare(plan: &Plan, args: &RunArgs) -> Result<Prepared> {
    let mut files = Files::new();
    // A kernel under test (--kernel) replaces the guest kernels booted
    // here, so those images are not fetched.
    let mut images: Vec<String> = Vec::new();
    for p in plan.cells.iter().filter(|p| p.runnable()) {
        let replaced = args.kernel_override.is_some() && !p.cell.host.kind.is_emulated();
        images.extend(
            p.cell
                .images()
                .into_iter()
                .filter(|name| !(replaced && *name == p.cell.guest.kernel.image))
                .map(str::to_string),
        );
    }
    images.sort();
    images.dedup();
    if images.is_empty() {
        return Ok(Prepared {
            files,
            image_sha256: BTreeMap::new(),
        });
    }
    let images_dir = args.sources.images_dir_for(&args.selection.matrix);
    let store = args.sources.store()?;
    let resolved = resolve_images(&images, &images_dir, &store)?;
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
            FileRef::Image(name) => match &args.kernel_override {
                // A kernel under test replaces every guest kernel booted
                // here (never an emulated host's).
                Some(k) => Ok(std::path::absolute(k).unwrap_or_else(|_| k.clone())),
                None => image_path(name),
            },
            FileRef::Payload(busybox) => match resolved.get(busybox) {
                Some(Ok(img)) => build_payload(img, &payload_dir, args.compression),
                Some(Err(e)) => Err(e.message().to_string()),
                None => Err(format!("image `{busybox}` not resolved")),
            },
            FileRef::HostInitramfs(_) => continue,
        };
        files.insert(file.placeholder(), path);
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
        let initramfs = prepare_session(
            plan,
            session,
            &image_path,
            &images_dir,
            &store,
            &payload_dir,
        );
        files.insert(FileRef::HostInitramfs(k).placeholder(), initramfs);
    }
    let image_sha256 = resolved
        .iter()
        .filter_map(|(n, i)| Some((n.clone(), i.as_ref().ok()?.sha256.clone())))
        .collect();
    Ok(Prepared {
        files,
        image_sha256,
    })
}

/// Builds the initramfs of an emulated host for the cells of `session`:
/// busybox, the host kernel's KVM modules, qemu's userland, the L2 kernels
/// and payload, and the init that runs them. Named by content, so a rerun
/// reuses it.
fn prepare_session(
    plan: &Plan,
    session: &Session,
    image_path: &dyn Fn(&str) -> std::result::Result<PathBuf, String>,
    images_dir: &Path,
    store: &Store,
    payload_dir: &Path,
) -> std::result::Result<PathBuf, String> {
    let hugepages = session.hugepages;
    let first = &plan.cells[session.cells[0]].cell;
    let host_kernel = first
        .host
        .kernel
        .as_ref()
        .ok_or("the emulated host has no kernel")?;
    let busybox = std::fs::read(image_path(&first.guest.busybox)?).map_err(|e| e.to_string())?;
    let kernel_spec =
        images::load(images_dir, &host_kernel.image).map_err(|e| e.message().to_string())?;
    // A kernel the harness built has KVM built in; a packaged one has modules.
    let modules = if kernel_spec.kernel_build.is_some() {
        Vec::new()
    } else {
        images::bundle::kvm_modules(store, &kernel_spec).map_err(|e| e.message().to_string())?
    };
    let wanted = &session.inner_qemu;
    let userland = images::bundle::qemu_userland(store, &wanted.release)
        .map_err(|e| e.message().to_string())?;
    let have = crate::host::parse_version(&userland.qemu_version);
    if have.map(|v| (v.0, v.1)) != Some((wanted.version.0, wanted.version.1)) {
        return Err(format!(
            "the rules were told this host runs qemu {}.{} from {}, but apt's {} has qemu {}: correct the version \
             (`old_machine_qemu` in [emulation], or chain::DEFAULT_INNER_QEMU)",
            wanted.version.0, wanted.version.1, wanted.release, wanted.release, userland.qemu_version
        ));
    }
    let mut l2_kernels: Vec<(String, Vec<u8>)> = Vec::new();
    let mut runs = Vec::new();
    for &i in &session.cells {
        let p = &plan.cells[i];
        let c = &p.cell;
        if !l2_kernels.iter().any(|(n, _)| n == &c.guest.kernel.name) {
            let bytes =
                std::fs::read(image_path(&c.guest.kernel.image)?).map_err(|e| e.to_string())?;
            l2_kernels.push((c.guest.kernel.name.clone(), bytes));
        }
        if let plan::Placement::InHost { command, .. } = &p.placement {
            runs.push(chain::InnerRun {
                argv: command.argv(),
                timeout_secs: c.timeout.as_secs().max(1),
            });
        }
    }
    let module_names: Vec<String> = modules.iter().map(|(n, _)| n.clone()).collect();
    let hugepage_kib = (hugepages > 0)
        .then(|| chain::l1_hugepage_kib(first.host.mmu.unwrap_or(crate::model::Mmu::Radix)));
    let init = chain::l1_init(&module_names, &runs, hugepage_kib);
    let l2_initrd =
        payload::build_initramfs(&busybox, Compression::None).map_err(|e| e.to_string())?;
    let mut key_material = format!(
        "{init}|{}|{}",
        payload::checksum(&String::from_utf8_lossy(&busybox)),
        userland.packages.join(",")
    );
    for (n, b) in modules.iter().chain(l2_kernels.iter()) {
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
            l2_kernels,
            l2_initrd: &l2_initrd,
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
    let tmp = dir.join(format!(".initramfs-{key}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, img).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
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

/// `bootmatrix fetch`: makes sure every image a matrix needs is cached.
/// Returns one line per image.
pub fn fetch(matrix_path: &Path, sources: &Sources) -> Result<Vec<String>> {
    let m = matrix::load(matrix_path)?;
    let images_dir = sources.images_dir_for(matrix_path);
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
        let spec = images::load(&images_dir, &name)?;
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
    }
    Ok(lines)
}
