//! The subcommands as stages wired together: load the matrix, select cells,
//! probe the host, predict, prepare images and payloads, run, report. Each
//! stage lives in its own module; this one only passes data along.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::chain;
use crate::error::{Error, Result};
use crate::host::{self, HostFacts};
use crate::images::{self, Image, Store, StoreOptions};
use crate::matrix::{self, Matrix};
use crate::model::Cell;
use crate::payload::{self, Compression};
use crate::progress::{Mode, Progress};
use crate::qemu::{self, BootFiles};
use crate::report::{self, ResultsFile, RunFacts};
use crate::rules;
use crate::run::{self, Action, CellResult, PlannedCell, RunOptions};
use crate::select::{self, Partition};
use crate::teardown;
use crate::verdict::{self, Verdict};

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

/// Options of `bootmatrix run`.
#[derive(Debug, Clone)]
pub struct RunArgs {
    /// The matrix file.
    pub matrix: PathBuf,
    /// Images, qemu, cache.
    pub sources: Sources,
    /// Output directory.
    pub out: PathBuf,
    /// Parallel cells; `None`: from cores and memory.
    pub jobs: Option<usize>,
    /// Cell name filters.
    pub filters: Vec<String>,
    /// Shard.
    pub partition: Option<Partition>,
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
    /// Where the matrix's host rows run.
    pub hosts: HostsMode,
    /// The JUnit dialect to write.
    pub junit_flavor: report::JunitFlavor,
}

/// Where a matrix's KVM host rows run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostsMode {
    /// On this machine if it has POWER KVM, else on emulated hosts when the
    /// matrix has an `[emulation]` table: the same command proves the table
    /// on a POWER9 runner and on a laptop.
    #[default]
    Auto,
    /// On this machine only; rows it cannot run are skipped with the reason.
    Native,
    /// On emulated hosts, as the matrix's `[emulation]` says.
    Emulated,
}

impl HostsMode {
    /// Whether host rows go to emulated hosts for this matrix on this host.
    pub fn emulate(self, matrix: &Matrix, probed: &HostFacts) -> bool {
        match self {
            HostsMode::Native => false,
            HostsMode::Emulated => true,
            HostsMode::Auto => {
                matrix.emulation.is_some()
                    && !(probed.is_power() && probed.kvm.dev_kvm == crate::host::DevKvm::Usable)
            }
        }
    }
}

/// What a run ended with.
pub struct RunOutcome {
    /// Every cell's result.
    pub results: Vec<CellResult>,
    /// Where the JUnit went.
    pub junit: PathBuf,
    /// The exit status the README documents.
    pub exit_code: i32,
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
    let cells = selected(&m, filters, partition);
    Ok((m, cells))
}

fn selected(m: &Matrix, filters: &[String], partition: Option<Partition>) -> Vec<Cell> {
    let names: Vec<&str> = m.cells.iter().map(|c| c.name.as_str()).collect();
    select::select(&names, filters, partition)
        .into_iter()
        .map(|i| m.cells[i].clone())
        .collect()
}

/// [`load_selected`], with the host rows placed as `hosts` says for the
/// `probed` machine.
pub fn load_selected_as(
    path: &Path,
    filters: &[String],
    partition: Option<Partition>,
    hosts: HostsMode,
    probed: &HostFacts,
) -> Result<(Matrix, Vec<Cell>)> {
    select::check_filters(filters)?;
    let mut m = matrix::load(path)?;
    if hosts.emulate(&m, probed) {
        m.cells = emulated_cells(&m)?;
    }
    let cells = selected(&m, filters, partition);
    Ok((m, cells))
}

/// The matrix's cells with their host rows on emulated hosts, as its
/// `[emulation]` table says.
fn emulated_cells(m: &Matrix) -> Result<Vec<Cell>> {
    let bad = |msg: &str| Error::bad_input(format!("{}: {msg}", m.path.display()));
    let e = m.emulation.as_ref().ok_or_else(|| {
        bad("--hosts emulated needs an [emulation] table naming the host kernels (see README)")
    })?;
    matrix::emulate(&m.cells, e).map_err(|msg| bad(&msg))
}

/// The images a set of cells needs, by name.
pub fn needed_images(cells: &[Cell]) -> Vec<String> {
    needed_images_with(cells, true)
}

fn needed_images_with(cells: &[Cell], kernels: bool) -> Vec<String> {
    let mut names: Vec<String> = cells
        .iter()
        .flat_map(|c| {
            [
                // A kernel under test (--kernel) replaces the guest's, never an
                // emulated host's.
                (kernels || c.host.kind.is_emulated()).then(|| c.guest.kernel.image.clone()),
                Some(c.guest.busybox.clone()),
                c.host.kernel.as_ref().map(|k| k.image.clone()),
            ]
        })
        .flatten()
        .collect();
    names.sort();
    names.dedup();
    names
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

fn memory_available_mib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(4096, |kb| kb / 1024)
}

/// The facts a cell is judged on: the probed machine, or the emulated host
/// the cell names (with the hugepages its host session reserves).
pub fn facts_for(cell: &Cell, probed: &HostFacts, hugepages: u64) -> HostFacts {
    if cell.host.kind.is_emulated() {
        chain::emulated_facts(&cell.host, hugepages)
    } else {
        probed.clone()
    }
}

/// Hugepages the emulated host of `cell` reserves: enough for the largest
/// hugepage-backed guest among `cells` on the same host (none where the
/// host kernel has no HugeTLB, see [`chain::host_limits`]).
pub fn session_hugepages(cell: &Cell, cells: &[Cell]) -> u64 {
    let mmu = cell.host.mmu.unwrap_or(crate::model::Mmu::Radix);
    let patched = cell
        .host
        .kernel
        .as_ref()
        .is_some_and(|k| k.emulated_hugepages);
    let hugetlb = mmu == crate::model::Mmu::Hpt
        || cell.host.kind == crate::model::HostKind::NestedPseries
        || patched;
    if !cell.host.kind.is_emulated() || !hugetlb {
        return 0;
    }
    let key = chain::session_key(&cell.host);
    cells
        .iter()
        .filter(|c| {
            chain::session_key(&c.host) == key
                && c.guest.fixes.contains(&crate::model::Fix::Hugepages)
        })
        .map(|c| chain::hugepages_for(c.guest.memory_mib, chain::l1_hugepage_kib(mmu)))
        .max()
        .unwrap_or(0)
}

/// The rules' prediction for a cell, with the limits of its emulated host.
pub fn predict(cell: &Cell, probed: &HostFacts, cells: &[Cell]) -> rules::Prediction {
    let facts = facts_for(cell, probed, session_hugepages(cell, cells));
    let mut p = rules::predict(&facts, cell);
    // An emulated host's own limits say more than the rules' generic
    // remediation (which is written for a machine an admin can change).
    if let Some(limit) = chain::host_limits(cell, probed) {
        p.skip = Some(limit);
    }
    p
}

/// Plans one cell: prediction, expectation, and the command or the verdict
/// reached without booting.
pub fn plan_cell(
    cell: &Cell,
    prediction: rules::Prediction,
    qemu_bin: &str,
    files: std::result::Result<BootFiles, String>,
) -> PlannedCell {
    let expected = verdict::expected(cell, &prediction);
    let action = if let Some(reason) = &prediction.skip {
        Action::Settled(Verdict::skipped(reason))
    } else {
        match files {
            Ok(files) => Action::Boot(qemu::guest_command(qemu_bin, cell, &prediction, &files)),
            Err(e) => Action::Settled(Verdict::error(&e)),
        }
    };
    PlannedCell {
        cell: cell.clone(),
        prediction,
        expected,
        action,
    }
}

/// `bootmatrix run`.
pub fn run(args: &RunArgs) -> Result<RunOutcome> {
    let started = Instant::now();
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let facts = host::probe(&args.sources.qemu);
    let (matrix, mut cells) = load_selected_as(
        &args.matrix,
        &args.filters,
        args.partition,
        args.hosts,
        &facts,
    )?;
    if let Some(k) = &args.kernel_override {
        if !k.is_file() {
            return Err(Error::bad_input(format!(
                "--kernel {}: no such file",
                k.display()
            )));
        }
    }
    if args.timeout_scale != 1.0 {
        for c in &mut cells {
            c.timeout = c.timeout.mul_f64(args.timeout_scale);
        }
    }
    teardown::install_signal_handlers()
        .map_err(|e| Error::infra(format!("cannot install signal handlers: {e}")))?;
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, "cannot create", e))?;

    // Images and payloads only for cells that will boot.
    let predictions: Vec<rules::Prediction> =
        cells.iter().map(|c| predict(c, &facts, &cells)).collect();
    let runnable: Vec<Cell> = cells
        .iter()
        .zip(&predictions)
        .filter(|(_, p)| p.skip.is_none())
        .map(|(c, _)| c.clone())
        .collect();
    let images_dir = args.sources.images_dir_for(&args.matrix);
    let store = if runnable.is_empty() {
        None
    } else {
        Some(args.sources.store()?)
    };
    let images = match &store {
        None => BTreeMap::new(),
        Some(store) => resolve_images(
            &needed_images_with(&runnable, args.kernel_override.is_none()),
            &images_dir,
            store,
        )?,
    };
    // Absolute, so that every repro.sh runs from any directory.
    let payload_dir = std::path::absolute(&args.out)
        .unwrap_or_else(|_| args.out.clone())
        .join("payload");
    let mut initrds: BTreeMap<String, std::result::Result<PathBuf, String>> = BTreeMap::new();
    for (name, img) in &images {
        if runnable
            .iter()
            .any(|c| &c.guest.busybox == name && !c.host.kind.is_emulated())
        {
            let built = match img {
                Ok(img) => build_payload(img, &payload_dir, args.compression),
                Err(e) => Err(e.message().to_string()),
            };
            initrds.insert(name.clone(), built);
        }
    }
    let image_path = |name: &str| -> std::result::Result<PathBuf, String> {
        let img = images
            .get(name)
            .ok_or_else(|| format!("image `{name}` not resolved"))?;
        Ok(img
            .as_ref()
            .map_err(|e| e.message().to_string())?
            .path
            .clone())
    };
    let mut planned: Vec<PlannedCell> = Vec::new();
    let mut session_keys: Vec<String> = Vec::new();
    let mut session_cells: Vec<Vec<usize>> = Vec::new();
    for (c, p) in cells.iter().zip(predictions) {
        if c.host.kind.is_emulated() && p.skip.is_none() {
            let key = chain::session_key(&c.host);
            let k = session_keys
                .iter()
                .position(|s| s == &key)
                .unwrap_or_else(|| {
                    session_keys.push(key);
                    session_cells.push(Vec::new());
                    session_keys.len() - 1
                });
            session_cells[k].push(planned.len());
            let argv = qemu::guest_command(chain::L1_QEMU, c, &p, &chain::l2_files(c)).argv();
            let expected = verdict::expected(c, &p);
            planned.push(PlannedCell {
                cell: c.clone(),
                prediction: p,
                expected,
                action: Action::Inner { session: k, argv },
            });
            continue;
        }
        let files = (|| -> std::result::Result<BootFiles, String> {
            let kernel = match &args.kernel_override {
                Some(path) => std::path::absolute(path).unwrap_or_else(|_| path.clone()),
                None => image_path(&c.guest.kernel.image)?,
            };
            let initrd = initrds
                .get(&c.guest.busybox)
                .ok_or("payload not built")?
                .clone()?;
            Ok(BootFiles { kernel, initrd })
        })();
        planned.push(plan_cell(c, p, &args.sources.qemu, files));
    }
    let mut sessions: Vec<run::HostSession> = Vec::new();
    for (k, members) in session_cells.iter().enumerate() {
        let first = planned[members[0]].cell.clone();
        let hugepages = session_hugepages(&first, &cells);
        let prepared = prepare_session(
            &planned,
            members,
            hugepages,
            &image_path,
            &images_dir,
            store.as_ref(),
            &payload_dir,
        )
        .map(|l1| chain::host_command(&args.sources.qemu, &first.host, &l1.0, &l1.1, hugepages));
        match prepared {
            Ok(command) => sessions.push(run::HostSession {
                key: session_keys[k].clone(),
                command,
                cells: members.clone(),
                memory_mib: first
                    .host
                    .memory_mib
                    .unwrap_or(chain::default_host_memory(first.host.kind)),
                boot_timeout: std::time::Duration::from_secs(300).mul_f64(args.timeout_scale),
            }),
            Err(e) => {
                for &i in members {
                    planned[i].action = Action::Settled(Verdict::error(&format!(
                        "cannot build the emulated host {}: {e}",
                        session_keys[k]
                    )));
                }
            }
        }
    }
    // Session indices must follow the sessions that were built.
    for (k, s) in sessions.iter().enumerate() {
        for &i in &s.cells {
            if let Action::Inner { session, .. } = &mut planned[i].action {
                *session = k;
            }
        }
    }

    let previous = ResultsFile::load(&args.out.join("results.json"))
        .map(|r| r.cells.into_iter().map(|c| (c.name, c.seconds)).collect())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let budget = memory_available_mib() * 3 / 4;
    let opts = RunOptions {
        jobs: args.jobs.unwrap_or(cores).max(1),
        memory_budget_mib: budget,
        retries: args.retries,
        out_dir: args.out.clone(),
        previous_seconds: previous,
        epoch: started,
    };
    // Old per-cell results of cells not in this run would mislead; the
    // cells directory is rewritten cell by cell.
    let progress = Progress::new(planned.len(), args.mode);
    let results = run::execute(planned, sessions, &opts, &progress, &|_| {});
    progress.finish();
    let names: Vec<&str> = matrix.cells.iter().map(|c| c.name.as_str()).collect();
    let facts_run = RunFacts {
        matrix: args.matrix.display().to_string(),
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
            filters: args.filters.clone(),
            partition: args.partition.map(report::results::partition_text),
            cells: select::select(&names, &args.filters, None)
                .into_iter()
                .map(|i| names[i].to_string())
                .collect(),
        },
        image_sha256: images
            .iter()
            .filter_map(|(n, i)| Some((n.clone(), i.as_ref().ok()?.sha256.clone())))
            .collect(),
        out: args.out.clone(),
    };
    let junit = report::write_all(
        &args.out,
        &ResultsFile::from_run(&results, &facts_run),
        args.junit_flavor,
    )?;
    let mut code = exit_code(&results);
    if code == 0 && args.flaky_fails && results.iter().any(|r| r.flaky) {
        code = 1;
    }
    Ok(RunOutcome {
        results,
        junit,
        exit_code: code,
    })
}

/// Builds the initramfs of an emulated host for the cells `members` of
/// `planned`: busybox, the host kernel's KVM modules, qemu's userland, the
/// L2 kernels and payload, and the init that runs them. Returns the host
/// kernel and the initramfs. Named by content, so a rerun reuses it.
fn prepare_session(
    planned: &[PlannedCell],
    members: &[usize],
    hugepages: u64,
    image_path: &dyn Fn(&str) -> std::result::Result<PathBuf, String>,
    images_dir: &Path,
    store: Option<&Store>,
    payload_dir: &Path,
) -> std::result::Result<(PathBuf, PathBuf), String> {
    let store = store.ok_or("no image store")?;
    let first = &planned[members[0]].cell;
    let host_kernel = first
        .host
        .kernel
        .as_ref()
        .ok_or("the emulated host has no kernel")?;
    let host_kernel_path = image_path(&host_kernel.image)?;
    let busybox = std::fs::read(image_path(&first.guest.busybox)?).map_err(|e| e.to_string())?;
    let kernel_spec =
        images::load(images_dir, &host_kernel.image).map_err(|e| e.message().to_string())?;
    // A kernel the harness built has KVM built in; a packaged one has modules.
    let modules = if kernel_spec.kernel_build.is_some() {
        Vec::new()
    } else {
        images::bundle::kvm_modules(store, &kernel_spec).map_err(|e| e.message().to_string())?
    };
    let wanted = chain::inner_qemu(&first.host);
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
    for &i in members {
        let c = &planned[i].cell;
        if !l2_kernels.iter().any(|(n, _)| n == &c.guest.kernel.name) {
            let bytes =
                std::fs::read(image_path(&c.guest.kernel.image)?).map_err(|e| e.to_string())?;
            l2_kernels.push((c.guest.kernel.name.clone(), bytes));
        }
        if let Action::Inner { argv, .. } = &planned[i].action {
            runs.push(chain::InnerRun {
                argv: argv.clone(),
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
    Ok((host_kernel_path, path))
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
    if m.emulation.is_some() {
        names.extend(needed_images(&emulated_cells(&m)?));
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

/// `bootmatrix plan`: every cell with its prediction and command. Images are
/// not fetched, so the command names them symbolically (`<image:NAME>`).
pub fn plan_entries(
    cells: &[Cell],
    facts: &HostFacts,
    qemu_bin: &str,
) -> Vec<crate::plan::PlanEntry> {
    cells
        .iter()
        .map(|c| {
            let prediction = predict(c, facts, cells);
            if c.host.kind.is_emulated() {
                let argv =
                    qemu::guest_command(chain::L1_QEMU, c, &prediction, &chain::l2_files(c)).argv();
                let kernel = c
                    .host
                    .kernel
                    .as_ref()
                    .map_or(String::new(), |k| k.image.clone());
                let host = chain::host_command(
                    qemu_bin,
                    &c.host,
                    Path::new(&format!("<image:{kernel}>")),
                    Path::new("<initramfs:emulated-host>"),
                    session_hugepages(c, cells),
                );
                let mut e = crate::plan::PlanEntry::new(c, prediction, argv);
                e.host_argv = Some(host.argv());
                let q = chain::inner_qemu(&c.host);
                e.inner_qemu = Some(format!(
                    "qemu {}.{} from Debian {} (ppc64el)",
                    q.version.0, q.version.1, q.release
                ));
                return e;
            }
            let files = BootFiles {
                kernel: PathBuf::from(format!("<image:{}>", c.guest.kernel.image)),
                initrd: PathBuf::from(format!("<initramfs:{}>", c.guest.busybox)),
            };
            let argv = qemu::guest_command(qemu_bin, c, &prediction, &files).argv();
            crate::plan::PlanEntry::new(c, prediction, argv)
        })
        .collect()
}
