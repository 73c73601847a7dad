//! Matrix files: parse `matrices/*.toml` and expand them into named cells.
//!
//! A matrix lists guest kernels and one or more `[[cells]]` tables. Any
//! axis-able key of a `[[cells]]` table may hold a list; the cartesian product
//! of those lists is the set of cells it defines, named by its `name`
//! template. `[defaults]` supplies keys a `[[cells]]` table leaves out. The
//! format is documented, with a complete example, in the README.
//!
//! Every mistake is reported as [`Error::BadInput`] naming file, line and key,
//! because a matrix is the user's code and they need to find the line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::{Spanned, Value};

use crate::documented;
use crate::error::{Error, Result};
use crate::model::{
    Accel, Cell, Expectation, Firmware, Fix, Guest, HostKind, HostSpec, Kernel, Machine, Mmu,
    PageSize,
};

/// A parsed, expanded matrix file.
#[derive(Debug, Clone)]
pub struct Matrix {
    /// The file it came from.
    pub path: PathBuf,
    /// The file stem, used as the JUnit suite name.
    pub name: String,
    /// Its `description`, if any.
    pub description: Option<String>,
    /// Guest kernels by name.
    pub kernels: BTreeMap<String, Kernel>,
    /// Every cell, in file order, axes expanded left to right.
    pub cells: Vec<Cell>,
    /// SHA-256 of the file's bytes, recorded in results so that two runs can
    /// be known to have run the same matrix.
    pub sha256: String,
    /// How `--hosts emulated` (or `auto` without POWER KVM) turns the
    /// matrix's host rows into emulated hosts.
    pub emulation: Option<Emulation>,
}

/// The `[emulation]` table: which host kernel emulates a host row of each
/// page size, so that one matrix runs natively on a POWER runner and on any
/// machine through emulated hosts (`bootmatrix run --hosts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emulation {
    /// Host kernel for 4 KiB host rows.
    pub kernel_4k: Option<Kernel>,
    /// Host kernel for 64 KiB host rows.
    pub kernel_64k: Option<Kernel>,
    /// Host kernel for the KVM-PR rows with 4 KiB host pages (one with
    /// KVM-PR built in); `None`: `kernel_4k`.
    pub pr_kernel_4k: Option<Kernel>,
    /// Likewise for 64 KiB host pages.
    pub pr_kernel_64k: Option<Kernel>,
    /// RAM of each emulated host, MiB (`None`: the kind's default).
    pub memory_mib: Option<u32>,
    /// The qemu emulated hosts run the cells with whose machine type the
    /// default inner qemu no longer has (`old_machine_qemu`, e.g. Debian
    /// bookworm's 7.2 for `pseries-2.11`); `None`: such cells meet the
    /// default qemu's `unsupported machine type`.
    pub old_machine_qemu: Option<crate::model::InnerQemu>,
    /// What emulated hosts are known not to do, as measured: cells matching
    /// a limitation are skipped with its reason when they would run on an
    /// emulated host (never on a native one). Data, so that a matrix can
    /// drop an entry to test again whether the limitation still holds.
    pub limitations: Vec<Limitation>,
}

/// One `[[emulation.limitations]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limitation {
    /// Cell-name patterns (globs or substrings, as `--filter` takes them).
    pub cells: Vec<String>,
    /// Why those cells cannot be proven on an emulated host, with what was
    /// measured and where the row can run instead.
    pub reason: String,
}

/// Reads and expands a matrix file.
pub fn load(path: &Path) -> Result<Matrix> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::bad_input(format!("{}: cannot read matrix: {e}", path.display())))?;
    parse(path, &text)
}

/// Parses matrix text; `path` is used for messages and the matrix name.
pub fn parse(path: &Path, text: &str) -> Result<Matrix> {
    let file = Source { path, text };
    let raw: RawMatrix = toml::from_str(text).map_err(|e| file.toml_error(&e))?;
    let mut kernels = BTreeMap::new();
    for (name, k) in &raw.kernels {
        let page_size = k
            .get_ref()
            .page_size
            .get_ref()
            .parse::<PageSize>()
            .map_err(|m| file.error(k.get_ref().page_size.span().start, "page_size", &m))?;
        kernels.insert(
            name.clone(),
            Kernel {
                name: name.clone(),
                image: k.get_ref().image.clone(),
                page_size,
                kvm_pr: k.get_ref().kvm_pr,
                emulated_hugepages: k.get_ref().emulated_hugepages,
                kvm_pr_mmu_notifiers: k.get_ref().kvm_pr_mmu_notifiers,
            },
        );
    }
    let empty = RawCells::default();
    let defaults = raw.defaults.as_ref().map(|d| d.get_ref()).unwrap_or(&empty);
    if let Some(d) = &raw.defaults {
        if let Some(n) = &d.get_ref().name {
            return Err(file.error(
                n.span().start,
                "name",
                "`name` belongs in [[cells]], not [defaults]",
            ));
        }
    }
    if raw.cells.is_empty() {
        return Err(Error::bad_input(format!(
            "{}: no [[cells]] table: a matrix needs at least one (see README, \"Matrix files\")",
            path.display()
        )));
    }
    let mut cells: Vec<Cell> = Vec::new();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for table in &raw.cells {
        let line = file.line_of(table.span().start);
        for cell in expand(&file, table.get_ref(), defaults, &kernels, line)? {
            if let Some(prev) = names.insert(cell.name.clone(), cell.line) {
                return Err(Error::bad_input(format!(
                    "{}:{}: key `name`: cell `{}` is already defined by the [[cells]] table at line {prev}; \
                     add a placeholder such as {{kernel}} or {{fixes}} to the name template",
                    path.display(),
                    cell.line,
                    cell.name
                )));
            }
            cells.push(cell);
        }
    }
    if raw.emulation.is_none() {
        let pinned = cells.iter().find_map(|c| {
            let key = if c.host.emulated_kind.is_some() {
                "emulated_host"
            } else if c.host.emulated_kernel.is_some() {
                "emulated_host_kernel"
            } else {
                return None;
            };
            Some((c.line, key))
        });
        if let Some((line, key)) = pinned {
            return Err(Error::at_key(
                path,
                line,
                key,
                "only meaningful with an [emulation] table, which says how host rows run on emulated hosts",
            ));
        }
    }
    let emulation = match &raw.emulation {
        None => None,
        Some(e) => {
            let pick = |key: &str,
                        v: &Option<Spanned<String>>,
                        want: PageSize|
             -> Result<Option<Kernel>> {
                let Some(v) = v else { return Ok(None) };
                let k = kernels.get(v.get_ref()).cloned().ok_or_else(|| {
                    file.error(
                        v.span().start,
                        key,
                        &format!("no kernel `{}` in [kernels]", v.get_ref()),
                    )
                })?;
                if k.page_size != want {
                    return Err(file.error(
                        v.span().start,
                        key,
                        &format!("kernel `{}` has {} pages", k.name, k.page_size),
                    ));
                }
                Ok(Some(k))
            };
            let e = e.get_ref();
            Some(Emulation {
                kernel_4k: pick("kernel_4k", &e.kernel_4k, PageSize::K4)?,
                kernel_64k: pick("kernel_64k", &e.kernel_64k, PageSize::K64)?,
                pr_kernel_4k: pick("pr_kernel_4k", &e.pr_kernel_4k, PageSize::K4)?,
                pr_kernel_64k: pick("pr_kernel_64k", &e.pr_kernel_64k, PageSize::K64)?,
                memory_mib: e.memory,
                old_machine_qemu: match &e.old_machine_qemu {
                    None => None,
                    Some(q) => {
                        let at = q.span().start;
                        let version =
                            crate::host::parse_version(&q.get_ref().version).ok_or_else(|| {
                                file.error(
                                    at,
                                    "old_machine_qemu",
                                    "`version` must read like 7.2 or 7.2.1",
                                )
                            })?;
                        Some(crate::model::InnerQemu {
                            release: q.get_ref().release.clone(),
                            version,
                        })
                    }
                },
                limitations: limitations(&file, &e.limitations, &cells)?,
            })
        }
    };
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Matrix {
        emulation,
        path: path.to_path_buf(),
        name,
        description: raw.description,
        kernels,
        cells,
        sha256: hex(&Sha256::digest(text.as_bytes())),
    })
}

/// The `[[emulation.limitations]]` entries, each checked: valid patterns,
/// a reason, and at least one cell matched (a stale entry is a mistake).
fn limitations(
    file: &Source,
    raw: &[Spanned<RawLimitation>],
    cells: &[Cell],
) -> Result<Vec<Limitation>> {
    let mut out = Vec::new();
    for l in raw {
        let at = l.span().start;
        let l = l.get_ref();
        crate::select::check_filters(&l.cells)
            .map_err(|e| file.error(at, "limitations.cells", e.message()))?;
        if l.reason.trim().is_empty() {
            return Err(file.error(
                at,
                "limitations.reason",
                "say why (what was measured) and where the row can run instead",
            ));
        }
        for pattern in &l.cells {
            if !cells
                .iter()
                .any(|c| crate::select::matches_filter(&c.name, pattern))
            {
                return Err(file.error(
                    at,
                    "limitations.cells",
                    &format!("`{pattern}` matches no cell of this matrix"),
                ));
            }
        }
        out.push(Limitation {
            cells: l.cells.clone(),
            reason: l.reason.trim().to_string(),
        });
    }
    Ok(out)
}

/// Rejects a value that would change the meaning of the qemu option it
/// ends up in: QEMU splits `-machine` and `-cpu` arguments at `,` and `=`,
/// so `caps = { hpt-max-page-size = "4096,accel=kvm" }` would silently ask
/// for another accelerator. Names may hold neither; values no `,`.
fn option_safe(
    file: &Source,
    offset: usize,
    key: &str,
    what: &str,
    value: &str,
    is_name: bool,
) -> Result<()> {
    let bad: &[char] = if is_name { &[',', '='] } else { &[','] };
    if value.is_empty() || value.contains(bad) || value.chars().any(char::is_whitespace) {
        return Err(file.error(
            offset,
            key,
            &format!(
                "{what} `{value}` would change the qemu option it is part of \
                 (QEMU splits options at `,`{}); give one plain word",
                if is_name { " and `=`" } else { "" }
            ),
        ));
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatrix {
    description: Option<String>,
    defaults: Option<Spanned<RawCells>>,
    #[serde(default)]
    kernels: BTreeMap<String, Spanned<RawKernel>>,
    #[serde(default)]
    cells: Vec<Spanned<RawCells>>,
    emulation: Option<Spanned<RawEmulation>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmulation {
    kernel_4k: Option<Spanned<String>>,
    kernel_64k: Option<Spanned<String>>,
    pr_kernel_4k: Option<Spanned<String>>,
    pr_kernel_64k: Option<Spanned<String>>,
    memory: Option<u32>,
    old_machine_qemu: Option<Spanned<RawInnerQemu>>,
    #[serde(default)]
    limitations: Vec<Spanned<RawLimitation>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimitation {
    cells: Vec<String>,
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInnerQemu {
    release: String,
    version: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKernel {
    image: String,
    page_size: Spanned<String>,
    #[serde(default)]
    kvm_pr: bool,
    #[serde(default)]
    emulated_hugepages: bool,
    #[serde(default = "yes")]
    kvm_pr_mmu_notifiers: bool,
}

fn yes() -> bool {
    true
}

type Field = Option<Spanned<Value>>;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCells {
    name: Option<Spanned<String>>,
    host: Field,
    host_mmu: Field,
    host_page_size: Field,
    host_nested: Field,
    host_kernel: Field,
    host_memory: Field,
    emulated_host: Field,
    emulated_host_kernel: Field,
    accel: Field,
    kernel: Field,
    busybox: Field,
    mmu: Field,
    machine: Field,
    fixes: Field,
    caps: Field,
    memory: Field,
    smp: Field,
    cpu: Field,
    max_cpu_compat: Field,
    timeout: Field,
    firmware: Field,
    append: Field,
    expect: Field,
    expect_mmu: Field,
    row: Field,
    known_failure: Field,
}

/// The keys a list turns into an axis, in the order axes vary (leftmost
/// slowest). `fixes` is an axis only as a list of lists.
const AXES: &[&str] = &[
    "host",
    "host_kernel",
    "host_mmu",
    "host_page_size",
    "host_nested",
    "host_memory",
    "emulated_host",
    "emulated_host_kernel",
    "accel",
    "kernel",
    "mmu",
    "machine",
    "fixes",
    "memory",
    "firmware",
    "cpu",
    "expect",
];

impl RawCells {
    fn get(&self, key: &str) -> Option<&Spanned<Value>> {
        match key {
            "host" => self.host.as_ref(),
            "host_mmu" => self.host_mmu.as_ref(),
            "host_page_size" => self.host_page_size.as_ref(),
            "host_nested" => self.host_nested.as_ref(),
            "host_kernel" => self.host_kernel.as_ref(),
            "host_memory" => self.host_memory.as_ref(),
            "emulated_host" => self.emulated_host.as_ref(),
            "emulated_host_kernel" => self.emulated_host_kernel.as_ref(),
            "accel" => self.accel.as_ref(),
            "kernel" => self.kernel.as_ref(),
            "busybox" => self.busybox.as_ref(),
            "mmu" => self.mmu.as_ref(),
            "machine" => self.machine.as_ref(),
            "fixes" => self.fixes.as_ref(),
            "caps" => self.caps.as_ref(),
            "memory" => self.memory.as_ref(),
            "smp" => self.smp.as_ref(),
            "cpu" => self.cpu.as_ref(),
            "max_cpu_compat" => self.max_cpu_compat.as_ref(),
            "timeout" => self.timeout.as_ref(),
            "firmware" => self.firmware.as_ref(),
            "append" => self.append.as_ref(),
            "expect" => self.expect.as_ref(),
            "expect_mmu" => self.expect_mmu.as_ref(),
            "row" => self.row.as_ref(),
            "known_failure" => self.known_failure.as_ref(),
            _ => None,
        }
    }
}

struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    fn line_of(&self, offset: usize) -> usize {
        crate::error::line_of(self.text, offset)
    }

    fn error(&self, offset: usize, key: &str, msg: &str) -> Error {
        Error::at_key(self.path, self.line_of(offset), key, msg)
    }

    /// Turns a TOML syntax or shape error into one line with file, line and
    /// (where the line shows it) the key.
    fn toml_error(&self, e: &toml::de::Error) -> Error {
        let msg = e.message().trim().replace('\n', " ");
        match e.span() {
            Some(span) => {
                let line = self.line_of(span.start);
                let text = self.text.lines().nth(line - 1).unwrap_or("");
                let key = text
                    .split_once('=')
                    .map(|(k, _)| k.trim().trim_matches('"'))
                    .filter(|k| !k.is_empty() && !k.contains(' ') && !k.starts_with('['));
                match key {
                    Some(k) if !msg.contains(&format!("`{k}`")) => Error::bad_input(format!(
                        "{}:{line}: key `{k}`: {msg}",
                        self.path.display()
                    )),
                    _ => Error::bad_input(format!("{}:{line}: {msg}", self.path.display())),
                }
            }
            None => Error::bad_input(format!("{}: {msg}", self.path.display())),
        }
    }
}

/// One value of one key for one cell, with where it was written.
#[derive(Clone)]
struct Picked<'a> {
    value: &'a Value,
    offset: usize,
}

fn expand(
    file: &Source,
    table: &RawCells,
    defaults: &RawCells,
    kernels: &BTreeMap<String, Kernel>,
    line: usize,
) -> Result<Vec<Cell>> {
    let lookup = |key: &str| table.get(key).or_else(|| defaults.get(key));
    // Each axis key contributes its list of choices; scalars are one choice.
    let mut axes: Vec<(&str, Vec<Picked>)> = Vec::new();
    for &key in AXES {
        let Some(sp) = lookup(key) else { continue };
        let offset = sp.span().start;
        let choices: Vec<Picked> = match (key, sp.get_ref()) {
            ("fixes", Value::Array(items))
                if items.iter().all(|v| v.is_array()) && !items.is_empty() =>
            {
                items.iter().map(|v| Picked { value: v, offset }).collect()
            }
            ("fixes", v) => vec![Picked { value: v, offset }],
            (_, Value::Array(items)) => {
                if items.is_empty() {
                    return Err(file.error(offset, key, "an empty list defines no cells"));
                }
                items.iter().map(|v| Picked { value: v, offset }).collect()
            }
            (_, v) => vec![Picked { value: v, offset }],
        };
        axes.push((key, choices));
    }
    let mut out = Vec::new();
    let mut index = vec![0usize; axes.len()];
    loop {
        let mut chosen: BTreeMap<&str, Picked> = BTreeMap::new();
        for (i, (key, choices)) in axes.iter().enumerate() {
            chosen.insert(key, choices[index[i]].clone());
        }
        out.push(build_cell(file, table, defaults, kernels, &chosen, line)?);
        // Advance the odometer, rightmost axis fastest.
        let mut i = axes.len();
        loop {
            if i == 0 {
                return Ok(out);
            }
            i -= 1;
            index[i] += 1;
            if index[i] < axes[i].1.len() {
                break;
            }
            index[i] = 0;
        }
    }
}

fn string<'a>(file: &Source, key: &str, p: &Picked<'a>) -> Result<&'a str> {
    p.value.as_str().ok_or_else(|| {
        file.error(
            p.offset,
            key,
            &format!("expected a string, found {}", p.value.type_str()),
        )
    })
}

fn parse_str<T: std::str::FromStr<Err = String>>(
    file: &Source,
    key: &str,
    p: &Picked,
) -> Result<T> {
    string(file, key, p)?
        .parse::<T>()
        .map_err(|m| file.error(p.offset, key, &m))
}

fn integer(file: &Source, key: &str, p: &Picked, min: i64, max: i64) -> Result<u32> {
    match p.value.as_integer() {
        Some(n) if (min..=max).contains(&n) => Ok(n as u32),
        Some(n) => Err(file.error(
            p.offset,
            key,
            &format!("{n} is out of range ({min} to {max})"),
        )),
        None => Err(file.error(
            p.offset,
            key,
            &format!("expected a whole number, found {}", p.value.type_str()),
        )),
    }
}

fn build_cell(
    file: &Source,
    table: &RawCells,
    defaults: &RawCells,
    kernels: &BTreeMap<String, Kernel>,
    chosen: &BTreeMap<&str, Picked>,
    line: usize,
) -> Result<Cell> {
    let scalar = |key: &str| -> Option<Picked> {
        chosen.get(key).cloned().or_else(|| {
            table
                .get(key)
                .or_else(|| defaults.get(key))
                .map(|sp| Picked {
                    value: sp.get_ref(),
                    offset: sp.span().start,
                })
        })
    };
    let missing = |key: &str, hint: &str| {
        Error::bad_input(format!(
            "{}:{line}: key `{key}`: missing in this [[cells]] table and in [defaults] ({hint})",
            file.path.display()
        ))
    };

    let kind = match scalar("host") {
        Some(p) => parse_str::<HostKind>(file, "host", &p)?,
        None => HostKind::Native,
    };
    let host_mmu = scalar("host_mmu")
        .map(|p| parse_str::<Mmu>(file, "host_mmu", &p))
        .transpose()?;
    let host_page = scalar("host_page_size")
        .map(|p| parse_str::<PageSize>(file, "host_page_size", &p))
        .transpose()?;
    let lookup_kernel = |key: &str, p: &Picked| -> Result<Kernel> {
        let name = string(file, key, p)?;
        kernels.get(name).cloned().ok_or_else(|| {
            let known: Vec<_> = kernels.keys().map(|k| format!("`{k}`")).collect();
            file.error(
                p.offset,
                key,
                &format!(
                    "no kernel `{name}` in [kernels] (defined: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            )
        })
    };
    let host_kernel = scalar("host_kernel")
        .map(|p| lookup_kernel("host_kernel", &p))
        .transpose()?;
    let host_memory = scalar("host_memory")
        .map(|p| integer(file, "host_memory", &p, 1024, 1 << 20))
        .transpose()?;
    if kind.is_emulated() && host_kernel.is_none() {
        return Err(missing(
            "host_kernel",
            "an emulated host boots a host kernel: name one of the [kernels] tables",
        ));
    }
    if !kind.is_emulated() {
        for key in ["host_kernel", "host_memory"] {
            if let Some(p) = scalar(key) {
                return Err(file.error(p.offset, key, "only meaningful with an emulated host (host = \"powernv9\" or \"nested-pseries\")"));
            }
        }
    }
    // An emulated host's page size is its kernel's.
    let host_page = match (&host_kernel, host_page) {
        (Some(k), Some(p)) if k.page_size != p => {
            let at = scalar("host_page_size").expect("present");
            return Err(file.error(
                at.offset,
                "host_page_size",
                &format!(
                    "the host kernel `{}` has {} pages, not {p}",
                    k.name, k.page_size
                ),
            ));
        }
        (Some(k), _) => Some(k.page_size),
        (None, p) => p,
    };
    let host_nested = match scalar("host_nested") {
        Some(p) => Some(p.value.as_bool().ok_or_else(|| {
            file.error(
                p.offset,
                "host_nested",
                &format!("expected true or false, found {}", p.value.type_str()),
            )
        })?),
        None => None,
    };
    // Where an emulated run places a native host row: the machine and
    // host kernel `chain::emulate` boots instead of its defaults.
    let emulated_kind = scalar("emulated_host")
        .map(|p| {
            let k = parse_str::<HostKind>(file, "emulated_host", &p)?;
            let why = if kind != HostKind::Native {
                Some(
                    "only meaningful on a native host row (no `host`, or host = \"native\"): \
                      it says which machine an emulated run boots for the row"
                        .to_string(),
                )
            } else if !k.is_powernv() {
                Some(format!(
                    "`{k}` is not a bare-metal machine: expected \"powernv9\" or \"powernv8\" \
                     (nested rows always run on a nested pseries L1)",
                    k = k.as_str()
                ))
            } else if host_nested == Some(true) {
                Some(
                    "a nested row (host_nested = true) runs on a nested pseries L1, \
                      not on a bare-metal machine"
                        .to_string(),
                )
            } else if k == HostKind::PowerNv8 && host_mmu != Some(Mmu::Hpt) {
                Some(
                    "a powernv8 host is POWER8, which has no Radix MMU: \
                      only for rows with host_mmu = \"hpt\""
                        .to_string(),
                )
            } else {
                None
            };
            match why {
                Some(m) => Err(file.error(p.offset, "emulated_host", &m)),
                None => Ok(k),
            }
        })
        .transpose()?;
    let emulated_kernel = scalar("emulated_host_kernel")
        .map(|p| {
            let k = lookup_kernel("emulated_host_kernel", &p)?;
            let why = if kind != HostKind::Native {
                Some(
                    "only meaningful on a native host row (no `host`, or host = \"native\"); \
                     an emulated host names its kernel with host_kernel"
                        .to_string(),
                )
            } else {
                match host_page {
                    Some(page) if page != k.page_size => Some(format!(
                        "the kernel `{}` has {} pages, but the row's host has {page} pages",
                        k.name, k.page_size
                    )),
                    _ => None,
                }
            };
            match why {
                Some(m) => Err(file.error(p.offset, "emulated_host_kernel", &m)),
                None => Ok(k),
            }
        })
        .transpose()?;
    let accel = match scalar("accel") {
        Some(p) => parse_str::<Accel>(file, "accel", &p)?,
        None => Accel::Tcg,
    };
    let kernel = match scalar("kernel") {
        Some(p) => lookup_kernel("kernel", &p)?,
        None => return Err(missing("kernel", "name one of the [kernels] tables")),
    };
    let busybox = match scalar("busybox") {
        Some(p) => string(file, "busybox", &p)?.to_string(),
        None => {
            return Err(missing(
                "busybox",
                "the image holding a static ppc64le busybox, e.g. \"debian-busybox\"",
            ))
        }
    };
    let mmu = match scalar("mmu") {
        Some(p) => parse_str::<Mmu>(file, "mmu", &p)?,
        None => Mmu::Radix,
    };
    let machine = match scalar("machine") {
        Some(p) => parse_str::<Machine>(file, "machine", &p)?,
        None => Machine::pseries(),
    };
    let mut fixes = Vec::new();
    if let Some(p) = scalar("fixes") {
        let items = p.value.as_array().ok_or_else(|| {
            file.error(
                p.offset,
                "fixes",
                "expected a list of fix names, or a list of such lists",
            )
        })?;
        for v in items {
            let name = v.as_str().ok_or_else(|| {
                file.error(
                    p.offset,
                    "fixes",
                    "expected fix names (strings), e.g. [\"hpt-max-page-size\"]",
                )
            })?;
            let fix = name
                .parse::<Fix>()
                .map_err(|m| file.error(p.offset, "fixes", &m))?;
            if !fixes.contains(&fix) {
                fixes.push(fix);
            }
        }
    }
    let mut caps = BTreeMap::new();
    if let Some(p) = scalar("caps") {
        let t = p.value.as_table().ok_or_else(|| {
            file.error(
                p.offset,
                "caps",
                "expected a table such as { hpt-max-page-size = \"4096\" }",
            )
        })?;
        for (k, v) in t {
            let k = k.strip_prefix("cap-").unwrap_or(k);
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Integer(n) => n.to_string(),
                Value::Boolean(b) => if *b { "on" } else { "off" }.to_string(),
                other => {
                    return Err(file.error(
                        p.offset,
                        "caps",
                        &format!(
                            "cap `{k}`: expected a string, number or boolean, found {}",
                            other.type_str()
                        ),
                    ))
                }
            };
            option_safe(file, p.offset, "caps", "cap name", k, true)?;
            option_safe(
                file,
                p.offset,
                "caps",
                &format!("cap `{k}` value"),
                &v,
                false,
            )?;
            caps.insert(k.to_string(), v);
        }
    }
    let memory_mib = match scalar("memory") {
        Some(p) => integer(file, "memory", &p, 256, 1 << 20)?,
        None => 1024,
    };
    let smp = match scalar("smp") {
        Some(p) => integer(file, "smp", &p, 1, 1024)?,
        None => 1,
    };
    let cpu = scalar("cpu")
        .map(|p| {
            let v = string(file, "cpu", &p)?;
            option_safe(file, p.offset, "cpu", "the CPU model", v, true)?;
            Ok::<_, Error>(v.to_string())
        })
        .transpose()?;
    let max_cpu_compat = scalar("max_cpu_compat")
        .map(|p| {
            let v = string(file, "max_cpu_compat", &p)?;
            match v {
                "power7" | "power8" | "power9" | "power10" => Ok(v.to_string()),
                _ => Err(file.error(
                    p.offset,
                    "max_cpu_compat",
                    &format!("unknown compatibility level `{v}` (expected power7, power8, power9 or power10)"),
                )),
            }
        })
        .transpose()?;
    let timeout = match scalar("timeout") {
        Some(p) => Duration::from_secs(integer(file, "timeout", &p, 1, 86_400)? as u64),
        None => default_timeout(accel, kind),
    };
    let firmware = match scalar("firmware") {
        Some(p) => parse_str::<Firmware>(file, "firmware", &p)?,
        None => Firmware::Slof,
    };
    let mut append = Vec::new();
    if let Some(p) = scalar("append") {
        match p.value {
            Value::String(s) => append.extend(s.split_whitespace().map(str::to_string)),
            Value::Array(items) => {
                for v in items {
                    let s = v
                        .as_str()
                        .ok_or_else(|| file.error(p.offset, "append", "expected strings"))?;
                    append.push(s.to_string());
                }
            }
            other => {
                return Err(file.error(
                    p.offset,
                    "append",
                    &format!(
                        "expected a string or a list of strings, found {}",
                        other.type_str()
                    ),
                ))
            }
        }
    }
    let expect_mmu = scalar("expect_mmu")
        .map(|p| parse_str::<Mmu>(file, "expect_mmu", &p))
        .transpose()?;
    let expect = match scalar("expect") {
        None => Expectation::Predicted,
        Some(p) => {
            let s = string(file, "expect", &p)?;
            match s {
                "predicted" => Expectation::Predicted,
                "boots" => Expectation::Boots { mmu: expect_mmu },
                _ => match s.strip_prefix("error:") {
                    Some(id) => Expectation::Error(
                        id.parse::<documented::DocumentedError>()
                            .map_err(|m| file.error(p.offset, "expect", &m))?,
                    ),
                    None => {
                        return Err(file.error(
                            p.offset,
                            "expect",
                            &format!("unknown expectation `{s}` (expected \"predicted\", \"boots\" or \"error:<id>\")"),
                        ))
                    }
                },
            }
        }
    };
    if expect_mmu.is_some() && !matches!(expect, Expectation::Boots { .. }) {
        let p = scalar("expect_mmu").expect("present");
        return Err(file.error(
            p.offset,
            "expect_mmu",
            "only meaningful with expect = \"boots\"",
        ));
    }

    // POWER8 has no Radix: a powernv8 host is HPT, and cannot be told
    // otherwise.
    let host_mmu = match (kind, host_mmu) {
        (HostKind::PowerNv8, Some(Mmu::Radix)) => {
            let at = scalar("host_mmu").expect("present");
            return Err(file.error(
                at.offset,
                "host_mmu",
                "a powernv8 host is POWER8, which has no Radix MMU: use host_mmu = \"hpt\"",
            ));
        }
        (HostKind::PowerNv8, _) => Some(Mmu::Hpt),
        (_, m) => m,
    };
    let host_nested = match kind {
        HostKind::NestedPseries => Some(true),
        HostKind::PowerNv9 | HostKind::PowerNv8 => Some(false),
        HostKind::Native => host_nested,
    };
    let host = HostSpec {
        kind,
        mmu: host_mmu,
        page_size: host_page,
        nested: host_nested,
        kernel: host_kernel,
        memory_mib: host_memory,
        inner_qemu: None,
        emulated_kind,
        emulated_kernel,
    };
    let fixes_word = if fixes.is_empty() {
        "no-fix".to_string()
    } else {
        fixes
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join("+")
    };
    let expect_word = match &expect {
        Expectation::Predicted => "predicted".to_string(),
        Expectation::Boots { .. } => "boots".to_string(),
        Expectation::Error(e) => e.id().to_string(),
    };
    let vars: [(&str, String); 15] = [
        (
            "emulated_host",
            host.emulated_kind
                .map_or("default".to_string(), |k| k.as_str().to_string()),
        ),
        (
            "emulated_host_kernel",
            host.emulated_kernel
                .as_ref()
                .map_or("default".to_string(), |k| k.name.clone()),
        ),
        (
            "host_kernel",
            host.kernel
                .as_ref()
                .map_or("none".to_string(), |k| k.name.clone()),
        ),
        (
            "host_level",
            match host_nested {
                Some(true) => "l1".to_string(),
                Some(false) => "l0".to_string(),
                None => "any".to_string(),
            },
        ),
        ("host", kind.as_str().to_string()),
        (
            "host_mmu",
            host_mmu
                .map(|m| m.to_string())
                .unwrap_or_else(|| "any".into()),
        ),
        (
            "host_page_size",
            host_page
                .map(|p| p.to_string())
                .unwrap_or_else(|| "any".into()),
        ),
        ("accel", accel.to_string()),
        ("kernel", kernel.name.clone()),
        ("mmu", mmu.to_string()),
        ("page_size", kernel.page_size.to_string()),
        ("machine", machine.name.clone()),
        ("fixes", fixes_word),
        ("memory", memory_mib.to_string()),
        ("expect", expect_word),
    ];
    let (template, template_offset) = match &table.name {
        Some(n) => (n.get_ref().as_str(), n.span().start),
        None => ("{accel}/{mmu}-guest/{page_size}", 0),
    };
    let name = render(template, &vars).map_err(|m| file.error(template_offset, "name", &m))?;
    let row = match scalar("row") {
        Some(p) => Some(
            render(string(file, "row", &p)?, &vars).map_err(|m| file.error(p.offset, "row", &m))?,
        ),
        None => None,
    };
    let known_failure = match scalar("known_failure") {
        Some(p) => {
            let why = render(string(file, "known_failure", &p)?, &vars)
                .map_err(|m| file.error(p.offset, "known_failure", &m))?;
            if why.trim().is_empty() {
                return Err(file.error(
                    p.offset,
                    "known_failure",
                    "say why the cell fails, with a reference (a commit, a bug, docs/...)",
                ));
            }
            Some(why.trim().to_string())
        }
        None => None,
    };
    Ok(Cell {
        name,
        known_failure,
        host,
        guest: Guest {
            kernel,
            busybox,
            mmu,
            accel,
            machine,
            caps,
            fixes,
            memory_mib,
            smp,
            cpu,
            max_cpu_compat,
            firmware,
            append,
        },
        expect,
        timeout,
        row,
        line,
    })
}

/// How long a cell may take when its matrix does not say: scaled by how it
/// runs. Under TCG every instruction is emulated (a Debian kernel needs
/// 6-12 s on a 2-core x86 machine, more under load); under KVM a guest
/// boots at native speed and a hang shows sooner; under KVM inside an
/// emulated host the guest's hypervisor is itself emulated (HPT guests took
/// up to 100 s here).
pub fn default_timeout(accel: Accel, host: crate::model::HostKind) -> Duration {
    match (accel, host.is_emulated()) {
        (Accel::Tcg, _) => Duration::from_secs(120),
        (Accel::KvmHv | Accel::KvmPr, false) => Duration::from_secs(60),
        (Accel::KvmHv | Accel::KvmPr, true) => Duration::from_secs(300),
    }
}

/// Fills `{placeholder}`s from `vars`; an unknown placeholder is an error
/// listing the known ones.
fn render(template: &str, vars: &[(&str, String)]) -> std::result::Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed `{{` in `{template}`"))?;
        let key = &after[..end];
        let value = vars
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .ok_or_else(|| {
                let known: Vec<_> = vars.iter().map(|(k, _)| format!("{{{k}}}")).collect();
                format!(
                    "unknown placeholder `{{{key}}}` (known: {})",
                    known.join(", ")
                )
            })?;
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
