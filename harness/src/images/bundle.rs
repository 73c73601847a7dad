//! The L1 userland: what a ppc64le guest needs to run its own qemu.
//!
//! Nested rows (an L1 Linux that starts L2 guests under KVM) put Debian's
//! ppc64el `qemu-system-ppc64` into the L1 initramfs, with everything it
//! loads: the dynamic loader, its shared-library closure and the firmware
//! (`slof.bin`, `vof.bin`). Which packages that takes is asked of apt each
//! time (`apt-cache depends --recurse`, then `apt-cache show` for versions
//! and hashes), never kept by hand, so a Debian update that adds a library
//! is picked up and recorded. Which *files* it takes is decided by the ELF
//! files themselves: the `PT_INTERP` and `DT_NEEDED` entries of the binary
//! and of every library found, resolved in the directories the ppc64el
//! loader searches.
//!
//! The finished bundle is one tar blob in the store's cache, keyed by the
//! exact package versions and hashes: a second call runs two `apt-cache`
//! queries and reads that blob, with no download and no unpacking.
//!
//! [`kvm_modules`] does the same for the KVM modules of a kernel package
//! (Debian's or Void's), which the L1 must `insmod` before its qemu can use
//! `accel=kvm`.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use object::elf;
use object::read::elf::{Dyn as _, FileHeader, ProgramHeader as _, SectionHeader as _};
use object::Endianness;

use super::apt::{self, AptPackage};
use super::cache::{sha256_bytes, Record};
use super::deb::{
    deb_extract, entry_kind, entry_path, normalize, resolve_link, sniff, with_archive, Content,
    DebMember, MemberKind,
};
use super::spec::{ArchiveKind, ImageSpec};
use super::store::Store;
use crate::{Error, Result};

/// One file for an initramfs, path relative to `/` (no leading slash).
///
/// Kept close to a cpio/tar entry so that the initramfs builder can write it
/// as it is: libraries keep their packaged symlinks (`libz.so.1` →
/// `libz.so.1.2.13`) because the loader looks them up by soname.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFile {
    /// Path without a leading `/`, e.g. `usr/bin/qemu-system-ppc64`.
    pub path: String,
    /// Permission bits (`0o755` for executables and directories).
    pub mode: u32,
    /// What the path holds.
    pub content: BundleContent,
}

/// What a [`BundleFile`] is: a regular file, a symlink or a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleContent {
    /// A regular file with these bytes.
    File(Vec<u8>),
    /// A symbolic link to this target, as packaged (absolute targets mean
    /// the initramfs root, which is where they are meant to point).
    Symlink(String),
    /// A directory; listed before anything inside it, so that an archive
    /// written in order creates parents first.
    Dir,
}

/// Everything `qemu-system-ppc64` needs inside a ppc64le L1, with where it
/// came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Userland {
    /// The files, sorted by path (parents before children).
    pub files: Vec<BundleFile>,
    /// The packages resolved for the bundle, as `name=version`, sorted; the
    /// record of what a run's L1 qemu was built from.
    pub packages: Vec<String>,
    /// The upstream qemu version (`10.0.2`), for matching documented
    /// behaviour of a qemu release; the exact Debian version is in `packages`.
    pub qemu_version: String,
    /// True when the bundle was read from the cache: nothing was downloaded
    /// or unpacked.
    pub cached: bool,
}

impl Userland {
    /// The file at `path` (no leading slash), if the bundle has one.
    pub fn get(&self, path: &str) -> Option<&BundleFile> {
        self.files
            .binary_search_by(|f| f.path.as_str().cmp(path))
            .ok()
            .map(|i| &self.files[i])
    }
}

/// The L1 guest architecture.
const ARCH: &str = "ppc64el";
/// The package holding `qemu-system-ppc64`; the root of the closure.
const QEMU_PACKAGE: &str = "qemu-system-ppc";
/// The package holding the pseries firmware (architecture `all`).
const FIRMWARE_PACKAGE: &str = "qemu-system-data";
/// The binary the bundle exists for.
const QEMU_BINARY: &str = "usr/bin/qemu-system-ppc64";
/// Firmware qemu loads for `-machine pseries` (SLOF) and `x-vof=on` (VOF).
const FIRMWARE: [&str; 2] = ["usr/share/qemu/slof.bin", "usr/share/qemu/vof.bin"];
/// Where Debian's ppc64el loader looks for a `DT_NEEDED` name without an
/// `ld.so.cache` (its built-in system directories), in its order.
const LIB_DIRS: [&str; 6] = [
    "lib/powerpc64le-linux-gnu",
    "usr/lib/powerpc64le-linux-gnu",
    "lib64",
    "usr/lib64",
    "lib",
    "usr/lib",
];
/// Libraries glibc opens at run time without any `DT_NEEDED` naming them:
/// `libgcc_s.so.1` for unwinding in `pthread_exit` and thread cancellation
/// (without it such a call aborts the process). Its package is a dependency
/// of libc6, so it is in the closure already.
const DLOPENED_BY_LIBC: [&str; 1] = ["libgcc_s.so.1"];
/// Bump when the bundle's content rules change, so old cached bundles are
/// not reused for a different recipe.
const RECIPE: &str = "bootmatrix qemu-userland 2";

/// Everything `qemu-system-ppc64` needs to run inside a ppc64le L1: the
/// binary, the dynamic loader, the shared-library closure of every ELF
/// included, and the firmware `slof.bin` and `vof.bin` under `usr/share/qemu/`.
///
/// The package set is apt's hard-dependency closure of
/// `qemu-system-ppc:ppc64el` in bookworm-backports, walked through ppc64el
/// library packages only (plus `qemu-system-data` for the firmware); tools
/// that maintainer scripts need (adduser, passwd, dpkg) and what only they
/// pull in are left out, since nothing in the initramfs runs them. A
/// `DT_NEEDED` that none of those packages provides is an error naming the
/// library and the file that needs it.
///
/// A second call with the same package versions is served from the cache
/// (`Userland::cached`); only `apt-cache` runs.
pub fn qemu_userland(store: &Store, release: &str) -> Result<Userland> {
    let pkgs = resolve_packages(store, release)?;
    let qemu = pkgs
        .iter()
        .find(|p| p.package == QEMU_PACKAGE)
        .expect("the closure starts at the qemu package");
    let qemu_version = upstream_version(&qemu.version);
    let packages: Vec<String> = pkgs
        .iter()
        .map(|p| format!("{}={}", p.package, p.version))
        .collect();
    let mut key_text = format!("{RECIPE}\n");
    for p in &pkgs {
        key_text.push_str(&format!("{} {}\n", p.pin(), p.sha256));
    }
    let key = sha256_bytes(key_text.as_bytes());

    let done = |files, cached| Userland {
        files,
        packages: packages.clone(),
        qemu_version: qemu_version.clone(),
        cached,
    };
    if let Some(files) = read_cached(store, &key)? {
        return Ok(done(files, true));
    }
    let _lock = store.cache().lock(&key)?;
    // Another runner may have built it while this one waited for the lock.
    if let Some(files) = read_cached(store, &key)? {
        return Ok(done(files, true));
    }
    let (debs, _) = store.apt_debs(&pkgs, "the L1 qemu userland")?;
    let files = build(&pkgs, &debs, release)?;
    write_cached(store, &key, &files)?;
    Ok(done(files, false))
}

/// apt's closure for the qemu package, with candidate versions and hashes,
/// sorted by name.
///
/// Each apt call costs a few tenths of a second, mostly start-up. So while
/// `apt-cache depends` runs, the versions of the package set found last time
/// (a hint file in the cache) are asked for in parallel; when the closure
/// comes out the same, that answer is used, otherwise the versions are asked
/// for again. The result is always that of the closure just computed.
fn resolve_packages(store: &Store, release: &str) -> Result<Vec<AptPackage>> {
    let apt_cfg = store.apt();
    let root = format!("{QEMU_PACKAGE}:{ARCH}");
    // One hint per release; the default release keeps the name it had.
    let hint_name = if release == "bookworm-backports" {
        "qemu-userland-packages.txt".to_string()
    } else {
        format!("qemu-userland-packages-{release}.txt")
    };
    let hint_path = store.root().join("refs").join(hint_name);
    let hint: Vec<String> = std::fs::read_to_string(&hint_path)
        .map(|t| t.lines().map(str::to_owned).collect())
        .unwrap_or_default();
    let (names, guessed) = std::thread::scope(|s| {
        let guess = (!hint.is_empty())
            .then(|| s.spawn(|| apt::show_candidates(apt_cfg, &hint, Some(release))));
        let names = apt::depends_recursive(apt_cfg, &root, Some(release))
            .and_then(|text| closure(&parse_depends_graph(&text), &root, release));
        (names, guess.map(|g| g.join()))
    });
    let names = names?;
    let mut pkgs = match guessed {
        Some(Ok(Ok(pkgs))) if names == hint => pkgs,
        _ => {
            let pkgs = apt::show_candidates(apt_cfg, &names, Some(release))?;
            // Best effort: without the hint the next call is only slower.
            if let Ok(tmp) = store.cache().temp_file() {
                if std::fs::write(tmp.path(), names.join("\n")).is_ok() {
                    let _ = tmp.persist(&hint_path);
                }
            }
            pkgs
        }
    };
    pkgs.sort_by(|a, b| a.package.cmp(&b.package));
    Ok(pkgs)
}

/// An edge of apt's dependency graph: the real packages that satisfy it (one
/// name, or a virtual package's providers).
type Edge = Vec<String>;

/// Parses `apt-cache depends --recurse` output: package lines at column 0,
/// relation lines (`  Depends: x`, ` |Depends: x` for an alternative,
/// `  PreDepends: x`) under them, and under a virtual `<x>` the packages
/// providing it, indented by four.
fn parse_depends_graph(text: &str) -> BTreeMap<String, Vec<Edge>> {
    let mut graph: BTreeMap<String, Vec<Edge>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            let name = line.trim().to_owned();
            graph.entry(name.clone()).or_default();
            current = Some(name);
            continue;
        }
        let Some(node) = current.as_ref() else {
            continue;
        };
        let edges = graph.get_mut(node).expect("current node is in the graph");
        if line.starts_with("    ") {
            // A provider of the virtual package named on the line above.
            if let Some(last) = edges.last_mut() {
                last.push(line.trim().to_owned());
            }
            continue;
        }
        let Some((kind, target)) = line.trim_start_matches([' ', '|']).split_once(": ") else {
            continue;
        };
        if !matches!(kind, "Depends" | "PreDepends") {
            continue;
        }
        let target = target.trim();
        if target.starts_with('<') {
            edges.push(Vec::new()); // providers follow
        } else {
            edges.push(vec![target.to_owned()]);
        }
    }
    graph
}

/// A ppc64el shared-library package by Debian's naming policy
/// (`lib<name><soversion>`; `zlib1g` predates the rule).
fn is_library_package(name: &str) -> bool {
    let Some(base) = name.strip_suffix(&format!(":{ARCH}")) else {
        return false;
    };
    base.starts_with("lib") || base.starts_with("zlib")
}

/// The packages reachable from `root` through packages the bundle can use:
/// library packages and the firmware package. Sorted apt query names.
fn closure(graph: &BTreeMap<String, Vec<Edge>>, root: &str, release: &str) -> Result<Vec<String>> {
    if !graph.contains_key(root) {
        return Err(Error::infra(format!(
            "apt knows no `{root}` in {release}; run ci/setup-debian.sh (adds the {ARCH} \
             architecture and {release}) and `apt-get update`"
        )));
    }
    let keep = |n: &str| n == root || n == FIRMWARE_PACKAGE || is_library_package(n);
    let mut seen: BTreeSet<String> = BTreeSet::from([root.to_owned()]);
    let mut queue: VecDeque<&str> = VecDeque::from([root]);
    while let Some(node) = queue.pop_front() {
        for edge in graph.get(node).map(Vec::as_slice).unwrap_or_default() {
            for target in edge {
                if keep(target) && seen.insert(target.clone()) {
                    if let Some((k, _)) = graph.get_key_value(target.as_str()) {
                        queue.push_back(k.as_str());
                    }
                }
            }
        }
    }
    if !seen.contains(FIRMWARE_PACKAGE) {
        return Err(Error::infra(format!(
            "`{root}` in {release} no longer depends on {FIRMWARE_PACKAGE}, which held \
             slof.bin and vof.bin; find the package that ships them now (`apt-file search \
             slof.bin`) and update FIRMWARE_PACKAGE in harness/src/images/bundle.rs"
        )));
    }
    Ok(seen.into_iter().collect())
}

/// `1:10.0.2+ds-2+deb13u1~bpo12+1` → `10.0.2`.
fn upstream_version(debian: &str) -> String {
    let v = debian.split_once(':').map(|(_, v)| v).unwrap_or(debian);
    v.split(['+', '-', '~']).next().unwrap_or(v).to_owned()
}

/// A package member with the package it came from.
struct Found<'a> {
    member: &'a DebMember,
    package: &'a str,
}

/// Unpacks the packages and collects the binary, its loader, its library
/// closure and the firmware.
fn build(
    pkgs: &[AptPackage],
    debs: &[std::path::PathBuf],
    release: &str,
) -> Result<Vec<BundleFile>> {
    let mut members: Vec<(String, Vec<DebMember>)> = Vec::new();
    for (pkg, deb) in pkgs.iter().zip(debs) {
        // The data package holds firmware for every target; take only qemu's
        // directory of it.
        let pattern = if pkg.package == FIRMWARE_PACKAGE {
            "usr/share/qemu/*"
        } else {
            "**/*"
        };
        members.push((pkg.pin(), deb_extract(deb, &[pattern])?));
    }
    // The union of the packages as one tree; the first package (by name)
    // wins a path two of them ship, which only directories do in practice.
    let mut tree: HashMap<&str, Found<'_>> = HashMap::new();
    for (package, list) in &members {
        for member in list {
            tree.entry(member.path.as_str())
                .or_insert(Found { member, package });
        }
    }

    let mut walk = Walk {
        tree: &tree,
        out: BTreeMap::new(),
        queue: VecDeque::new(),
        scanned: BTreeSet::new(),
        release,
    };
    walk.add(QEMU_BINARY, "the bundle")?;
    for lib in DLOPENED_BY_LIBC {
        walk.add_library(lib, "glibc (it opens it at run time)")?;
    }
    while let Some(path) = walk.queue.pop_front() {
        walk.scan(&path)?;
    }
    for fw in FIRMWARE {
        walk.add(fw, "qemu's pseries machine")?;
    }
    check_qemu_binary(&walk.out)?;

    // Parent directories, so that every entry can be created in order.
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    for path in walk.out.keys() {
        let mut p = path.as_str();
        while let Some((parent, _)) = p.rsplit_once('/') {
            dirs.insert(parent.to_owned());
            p = parent;
        }
    }
    let mut out = walk.out;
    for d in dirs {
        out.entry(d.clone()).or_insert(BundleFile {
            path: d,
            mode: 0o755,
            content: BundleContent::Dir,
        });
    }
    Ok(out.into_values().collect())
}

/// The closure walk over the unpacked packages.
struct Walk<'t, 'a> {
    tree: &'t HashMap<&'a str, Found<'a>>,
    /// What goes into the bundle so far, by path.
    out: BTreeMap<String, BundleFile>,
    /// Regular files added but not yet looked at for ELF dependencies.
    queue: VecDeque<String>,
    scanned: BTreeSet<String>,
    /// The Debian release the packages come from, for messages.
    release: &'t str,
}

impl Walk<'_, '_> {
    /// Adds `path` and, if it is a link, every link on the way to the file
    /// it ends at; a newly added file is queued for scanning. `who` says
    /// what needs the path, for the error when it is missing.
    fn add(&mut self, path: &str, who: &str) -> Result<()> {
        let mut path = path.to_owned();
        for _ in 0..32 {
            let Some(found) = self.tree.get(path.as_str()) else {
                return Err(Error::infra(format!(
                    "{who} needs `/{path}`, which none of the resolved packages ships; Debian's \
                     packaging changed: find the package that ships it (`apt-file search \
                     {path}`) and see why apt's dependency closure of {QEMU_PACKAGE}:{ARCH} in \
                     {} does not reach it (harness/src/images/bundle.rs)",
                    self.release
                )));
            };
            let m = found.member;
            match &m.kind {
                MemberKind::File => {
                    self.put(&path, m.mode, BundleContent::File(m.data.clone()));
                    return Ok(());
                }
                MemberKind::Hardlink(target) => {
                    // Same bytes under this name: store a copy, since the
                    // target itself may not be part of the bundle.
                    let target = normalize(target);
                    let Some(t) = self.tree.get(target.as_str()) else {
                        break;
                    };
                    self.put(&path, m.mode, BundleContent::File(t.member.data.clone()));
                    return Ok(());
                }
                MemberKind::Symlink(target) => {
                    self.put(&path, 0o777, BundleContent::Symlink(target.clone()));
                    path = resolve_link(&path, target);
                }
                MemberKind::Dir => break,
            }
        }
        Err(Error::infra(format!(
            "{who} needs `/{path}`, which in the resolved packages is a directory or a link \
             that leads nowhere; report this with the package list from `apt-cache depends \
             {QEMU_PACKAGE}:{ARCH}`"
        )))
    }

    fn put(&mut self, path: &str, mode: u32, content: BundleContent) {
        if self.out.contains_key(path) {
            return;
        }
        if matches!(content, BundleContent::File(_)) && !self.scanned.contains(path) {
            self.queue.push_back(path.to_owned());
        }
        self.out.insert(
            path.to_owned(),
            BundleFile {
                path: path.to_owned(),
                mode,
                content,
            },
        );
    }

    /// Adds the loader and the `DT_NEEDED` libraries of the file at `path`,
    /// if it is an ELF file.
    fn scan(&mut self, path: &str) -> Result<()> {
        if !self.scanned.insert(path.to_owned()) {
            return Ok(());
        }
        let Some(BundleFile {
            content: BundleContent::File(data),
            ..
        }) = self.out.get(path)
        else {
            return Ok(());
        };
        if !data.starts_with(b"\x7fELF") {
            return Ok(());
        }
        let package = self.tree.get(path).map(|f| f.package).unwrap_or("?");
        let deps = elf_dependencies(data).map_err(|e| {
            Error::infra(format!(
                "cannot read `/{path}` from {package} as a 64-bit ELF file ({e}); the package \
                 is damaged or not {ARCH}: remove it from the cache and run again"
            ))
        })?;
        let who = format!("`/{path}` (from {package})");
        if let Some(interp) = deps.interpreter {
            self.add(&normalize(&interp), &format!("{who}, as its loader,"))?;
        }
        for name in deps.needed {
            self.add_library(&name, &who)?;
        }
        Ok(())
    }

    /// Adds the library the loader would find for `name` (a `DT_NEEDED`
    /// entry), searching [`LIB_DIRS`] in order.
    fn add_library(&mut self, name: &str, who: &str) -> Result<()> {
        let Some(dir) = LIB_DIRS
            .iter()
            .find(|d| self.tree.contains_key(format!("{d}/{name}").as_str()))
        else {
            return Err(Error::infra(format!(
                "{who} needs the library `{name}`, which none of the resolved packages ships \
                 in {}; find its package (`apt-file search {name}`) and see why apt's \
                 dependency closure of {QEMU_PACKAGE}:{ARCH} in {} does not reach it \
                 (harness/src/images/bundle.rs decides which packages count)",
                LIB_DIRS.join(", "),
                self.release
            )));
        };
        self.add(&format!("{dir}/{name}"), who)
    }
}

/// What an ELF file asks the dynamic loader for.
#[derive(Debug, Default)]
pub(crate) struct ElfDeps {
    pub interpreter: Option<String>,
    pub needed: Vec<String>,
}

/// Reads `PT_INTERP` and the `DT_NEEDED` names of a 64-bit ELF file.
pub(crate) fn elf_dependencies(data: &[u8]) -> std::result::Result<ElfDeps, object::read::Error> {
    let header = elf::FileHeader64::<Endianness>::parse(data)?;
    let endian = header.endian()?;
    let mut deps = ElfDeps::default();
    for ph in header.program_headers(endian, data)? {
        if let Some(interp) = ph.interpreter(endian, data)? {
            deps.interpreter = Some(String::from_utf8_lossy(interp).into_owned());
        }
    }
    let sections = header.sections(endian, data)?;
    if let Some((dynamic, strtab)) = sections.dynamic(endian, data)? {
        let strings = sections.strings(endian, data, strtab)?;
        for d in dynamic {
            if d.tag32(endian) == Some(elf::DT_NEEDED) {
                let name = d.string(endian, strings)?;
                deps.needed.push(String::from_utf8_lossy(name).into_owned());
            }
        }
    }
    Ok(deps)
}

/// True for a 64-bit little-endian POWER ELF file.
pub(crate) fn is_ppc64le_elf(data: &[u8]) -> bool {
    data.len() > 20
        && data.starts_with(&elf::ELFMAG)
        && data[4] == elf::ELFCLASS64
        && data[5] == elf::ELFDATA2LSB
        && u16::from_le_bytes([data[18], data[19]]) == elf::EM_PPC64
}

/// The qemu binary must be a 64-bit little-endian POWER executable: a
/// different one means apt resolved the wrong architecture.
fn check_qemu_binary(out: &BTreeMap<String, BundleFile>) -> Result<()> {
    let data = match out.get(QEMU_BINARY).map(|f| &f.content) {
        Some(BundleContent::File(d)) => d,
        _ => return Ok(()), // a symlink: its target was checked as it was added
    };
    if is_ppc64le_elf(data) {
        Ok(())
    } else {
        Err(Error::infra(format!(
            "/{QEMU_BINARY} is not a little-endian 64-bit POWER executable; apt resolved the \
             wrong architecture: check `apt-cache policy {QEMU_PACKAGE}:{ARCH}`"
        )))
    }
}

/// The cached bundle for `key`, if one was recorded and its blob is whole.
fn read_cached(store: &Store, key: &str) -> Result<Option<Vec<BundleFile>>> {
    let Some(record) = store.cache().read_record(key) else {
        return Ok(None);
    };
    let Some(path) = store.cache().verified_blob(&record.sha256)? else {
        return Ok(None);
    };
    let file = File::open(&path).map_err(|e| Error::io(&path, "cannot open cached bundle", e))?;
    read_tar(BufReader::with_capacity(1 << 20, file))
        .map(Some)
        .map_err(|e| {
            Error::infra(format!(
                "cannot read the cached bundle {}: {e}; delete it and run again",
                path.display()
            ))
        })
}

/// Stores `files` as one tar blob and records it under `key`.
fn write_cached(store: &Store, key: &str, files: &[BundleFile]) -> Result<()> {
    let cache = store.cache();
    let tmp = cache.temp_file()?;
    let file = tmp
        .reopen()
        .map_err(|e| Error::io(tmp.path(), "cannot write", e))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    write_tar(&mut w, files).map_err(|e| Error::io(tmp.path(), "cannot write the bundle to", e))?;
    let file = w
        .into_inner()
        .map_err(|e| Error::io(tmp.path(), "cannot write", e.into_error()))?;
    file.sync_all()
        .map_err(|e| Error::io(tmp.path(), "cannot write", e))?;
    drop(file);
    let (sha256, _) = cache.commit_temp(tmp)?;
    cache.write_record(
        key,
        &Record {
            sha256,
            member: None,
        },
    )
}

/// Writes entries in order as a reproducible tar (zero times and owners).
fn write_tar(w: &mut impl Write, files: &[BundleFile]) -> std::io::Result<()> {
    let mut b = tar::Builder::new(w);
    b.follow_symlinks(false);
    for f in files {
        let mut h = tar::Header::new_gnu();
        h.set_mode(f.mode);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        match &f.content {
            BundleContent::File(data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, &f.path, data.as_slice())?;
            }
            BundleContent::Symlink(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, &f.path, target)?;
            }
            BundleContent::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                b.append_data(&mut h, &f.path, std::io::empty())?;
            }
        }
    }
    b.into_inner()?.flush()
}

/// Reads back what [`write_tar`] wrote, in order.
fn read_tar(r: impl Read) -> std::io::Result<Vec<BundleFile>> {
    let mut out = Vec::new();
    let mut archive = tar::Archive::new(r);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry
            .path()?
            .to_string_lossy()
            .trim_end_matches('/')
            .to_owned();
        let mode = entry.header().mode()?;
        let t = entry.header().entry_type();
        let content = if t.is_dir() {
            BundleContent::Dir
        } else if t.is_symlink() {
            let target = entry.link_name()?.unwrap_or_default();
            BundleContent::Symlink(target.to_string_lossy().into_owned())
        } else {
            let mut data = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut data)?;
            BundleContent::File(data)
        };
        out.push(BundleFile {
            path,
            mode,
            content,
        });
    }
    Ok(out)
}

/// The KVM modules an L1 must load, in load order.
const KVM_MODULES: [&str; 3] = ["kvm", "kvm-hv", "kvm-pr"];

/// The KVM modules of a kernel image's package, decompressed (`.ko.xz`,
/// `.ko.zst` → `.ko`), in load order (`kvm` first), as (file name, bytes):
/// e.g. `[("kvm.ko", ..), ("kvm-hv.ko", ..)]`, and `kvm-pr.ko` when the
/// package has it.
///
/// An L1 host boots this kernel and must `insmod` these before its qemu can
/// use `accel=kvm`; they have to come from the very package the kernel image
/// came from, or the module loader refuses them. `kernel` is the image's
/// description, resolved exactly as [`Store::get`] resolves it: a Debian
/// package (an `apt` source such as `images/debian-kernel-64k.toml`, or a
/// `.deb` file or URL) or a Void package (an `xbps` source, or a `.xbps`
/// file or URL). The modules are those under `lib/modules/<release>/` of
/// the release the package's `boot/vmlinux-<release>` names. They are
/// cached by the package's hash, so a second call reads one small blob.
pub fn kvm_modules(store: &Store, kernel: &ImageSpec) -> Result<Vec<(String, Vec<u8>)>> {
    let pkg = store.kernel_package(kernel)?;
    let key = sha256_bytes(format!("bootmatrix kvm-modules 1\ninput {}\n", pkg.sha256).as_bytes());
    let from_cache = |files: Vec<BundleFile>| {
        files
            .into_iter()
            .filter_map(|f| match f.content {
                BundleContent::File(data) => Some((f.path, data)),
                _ => None,
            })
            .collect()
    };
    if let Some(files) = read_cached(store, &key)? {
        return Ok(from_cache(files));
    }
    let _lock = store.cache().lock(&key)?;
    if let Some(files) = read_cached(store, &key)? {
        return Ok(from_cache(files));
    }
    let path = store.kernel_package_file(kernel, &pkg)?;
    let kind = match sniff(&path)? {
        Some(Content::Archive(kind @ (ArchiveKind::Deb | ArchiveKind::Xbps))) => kind,
        _ => {
            return Err(Error::bad_input(format!(
                "{}: KVM modules are taken from the kernel's package, but image `{}` ({}) is no \
                 package; describe the kernel by its package (`apt = ...`, `xbps = ...`, a .deb \
                 or an .xbps), or build KVM into your kernel (then there is nothing to load)",
                kernel.description_file.display(),
                kernel.name,
                pkg.label
            )))
        }
    };
    let found = package_kvm_modules(&path, kind, &pkg.label)?;
    let mut modules: Vec<(String, Vec<u8>)> = Vec::new();
    for name in KVM_MODULES {
        let Some((member, data)) = found.iter().find(|(p, _)| module_stem(p) == name) else {
            continue; // built in, or not built (Debian builds no KVM-PR)
        };
        let data = decompress_module(member, data).map_err(|e| {
            Error::infra(format!(
                "cannot decompress `{member}` from {}: {e}; the package is damaged: remove it \
                 from the cache and run again",
                pkg.label
            ))
        })?;
        modules.push((format!("{name}.ko"), data));
    }
    if !modules
        .iter()
        .any(|(n, _)| n == "kvm-hv.ko" || n == "kvm-pr.ko")
    {
        return Err(Error::infra(format!(
            "{} has no `kvm-hv` or `kvm-pr` module under lib/modules/ (KVM built in, or not \
             built); use a kernel package with KVM-HV as modules for image `{}`",
            pkg.label, kernel.name
        )));
    }
    check_module_depends(&modules, &pkg.label)?;

    let files: Vec<BundleFile> = modules
        .iter()
        .map(|(name, data)| BundleFile {
            path: name.clone(),
            mode: 0o644,
            content: BundleContent::File(data.clone()),
        })
        .collect();
    write_cached(store, &key, &files)?;
    Ok(modules)
}

/// `kvm-hv` for `…/kvm-hv.ko.zst`.
fn module_stem(path: &str) -> &str {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.split_once(".ko").map_or(file, |(stem, _)| stem)
}

/// The `kvm*.ko*` files of a package (as packaged, maybe compressed), from
/// the modules directory of the release its `boot/vmlinux-<release>` names
/// (any release when it names none).
fn package_kvm_modules(
    path: &Path,
    kind: ArchiveKind,
    label: &str,
) -> Result<Vec<(String, Vec<u8>)>> {
    let mut release: Option<String> = None;
    let mut found: Vec<(String, Vec<u8>)> = Vec::new();
    with_archive(path, kind, None, &mut |entry| {
        let Some(member) = entry_path(entry, path)? else {
            return Ok(());
        };
        if let Some(r) = member.strip_prefix("boot/vmlinux-") {
            release = Some(r.to_owned());
        }
        let is_module = member.contains("lib/modules/")
            && module_stem(&member).starts_with("kvm")
            && member.rsplit('/').next().is_some_and(|f| f.contains(".ko"));
        if is_module && entry_kind(entry, path)? == MemberKind::File {
            let mut data = Vec::new();
            entry.read_to_end(&mut data).map_err(|e| {
                Error::infra(format!(
                    "{label}: reading `{member}` failed: {e}; the package is damaged"
                ))
            })?;
            found.push((member, data));
        }
        Ok(())
    })?;
    if let Some(r) = release {
        found.retain(|(m, _)| m.contains(&format!("lib/modules/{r}/")));
    }
    Ok(found)
}

/// A module file's bytes, uncompressed, by its extension.
fn decompress_module(path: &str, data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    if path.ends_with(".ko") {
        out.extend_from_slice(data);
    } else if path.ends_with(".ko.xz") {
        liblzma::read::XzDecoder::new_multi_decoder(data).read_to_end(&mut out)?;
    } else if path.ends_with(".ko.zst") {
        zstd::stream::read::Decoder::new(data)?.read_to_end(&mut out)?;
    } else if path.ends_with(".ko.gz") {
        flate2::read::MultiGzDecoder::new(data).read_to_end(&mut out)?;
    } else {
        return Err(std::io::Error::other("unknown module compression"));
    }
    Ok(out)
}

/// Every module's `depends=` (from `.modinfo`) must be loaded before it by
/// the list itself; otherwise `insmod` in the L1 fails with an unknown
/// symbol, far from the cause.
fn check_module_depends(modules: &[(String, Vec<u8>)], label: &str) -> Result<()> {
    let mut loaded: Vec<String> = Vec::new();
    for (name, data) in modules {
        let depends = modinfo_depends(data).map_err(|e| {
            Error::infra(format!(
                "`{name}` from {label} is not a readable ELF module ({e}); remove the package \
                 from the cache and run again"
            ))
        })?;
        for dep in depends {
            if !loaded.contains(&dep) {
                return Err(Error::infra(format!(
                    "`{name}` from {label} depends on module `{dep}`, which is neither in the \
                     package nor loaded before it; use a kernel package with all of KVM as \
                     modules, or extend KVM_MODULES in harness/src/images/bundle.rs"
                )));
            }
        }
        loaded.push(name.trim_end_matches(".ko").replace('-', "_"));
    }
    Ok(())
}

/// The module names in a module's `.modinfo` `depends=` entry.
fn modinfo_depends(data: &[u8]) -> std::result::Result<Vec<String>, object::read::Error> {
    let header = elf::FileHeader64::<Endianness>::parse(data)?;
    let endian = header.endian()?;
    let sections = header.sections(endian, data)?;
    let Some((_, modinfo)) = sections.section_by_name(endian, b".modinfo") else {
        return Ok(Vec::new());
    };
    let bytes = modinfo.data(endian, data)?;
    Ok(bytes
        .split(|&b| b == 0)
        .filter_map(|kv| kv.strip_prefix(b"depends="))
        .flat_map(|v| v.split(|&b| b == b','))
        .filter(|d| !d.is_empty())
        .map(|d| String::from_utf8_lossy(d).into_owned())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRAPH: &str = "\
qemu-system-ppc:ppc64el
  Depends: libc6:ppc64el
  Depends: qemu-system-common:ppc64el
  Depends: <qemu-system-data:ppc64el>
    qemu-system-data
libc6:ppc64el
  Depends: libgcc-s1:ppc64el
qemu-system-common:ppc64el
  Depends: <adduser:ppc64el>
    adduser
  Depends: libcap-ng0:ppc64el
adduser
  Depends: passwd
  Depends: libpam0g:ppc64el
libgcc-s1:ppc64el
  Depends: gcc-12-base:ppc64el
 |Depends: zlib1g:ppc64el
  Depends: libz-alt:ppc64el
qemu-system-data
<adduser:ppc64el>
";

    #[test]
    fn closure_keeps_libraries_reached_through_libraries() {
        let g = parse_depends_graph(GRAPH);
        assert_eq!(g["qemu-system-ppc:ppc64el"].len(), 3);
        assert_eq!(g["qemu-system-ppc:ppc64el"][2], vec!["qemu-system-data"]);
        let c = closure(&g, "qemu-system-ppc:ppc64el", "bookworm-backports").unwrap();
        // Not qemu-system-common (nothing in it is run) nor what only it and
        // adduser pull in; both alternatives of a `|` group are kept.
        assert_eq!(
            c,
            [
                "libc6:ppc64el",
                "libgcc-s1:ppc64el",
                "libz-alt:ppc64el",
                "qemu-system-data",
                "qemu-system-ppc:ppc64el",
                "zlib1g:ppc64el"
            ]
        );
        let e = closure(&g, "qemu-system-x:ppc64el", "bookworm-backports").unwrap_err();
        assert!(e.message().contains("setup-debian"), "{e}");
    }

    #[test]
    fn versions_and_links() {
        assert_eq!(upstream_version("1:10.0.2+ds-2+deb13u1~bpo12+1"), "10.0.2");
        assert_eq!(upstream_version("7.2-1"), "7.2");
        assert_eq!(
            resolve_link("lib64/ld64.so.2", "/lib/powerpc64le-linux-gnu/ld64.so.2"),
            "lib/powerpc64le-linux-gnu/ld64.so.2"
        );
        assert_eq!(
            resolve_link("usr/lib/x/libz.so.1", "libz.so.1.2"),
            "usr/lib/x/libz.so.1.2"
        );
    }

    #[test]
    fn tar_round_trip_keeps_kinds_and_order() {
        let files = vec![
            BundleFile {
                path: "lib".into(),
                mode: 0o755,
                content: BundleContent::Dir,
            },
            BundleFile {
                path: "lib/libz.so.1".into(),
                mode: 0o777,
                content: BundleContent::Symlink("libz.so.1.2".into()),
            },
            BundleFile {
                path: "lib/libz.so.1.2".into(),
                mode: 0o644,
                content: BundleContent::File(b"\x7fELF...".to_vec()),
            },
            BundleFile {
                path: format!("usr/share{}", "/long".repeat(30)),
                mode: 0o755,
                content: BundleContent::Dir,
            },
        ];
        let mut buf = Vec::new();
        write_tar(&mut buf, &files).unwrap();
        assert_eq!(read_tar(buf.as_slice()).unwrap(), files);
    }
}
