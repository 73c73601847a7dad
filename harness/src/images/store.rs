//! The store: turns an [`ImageSpec`] into a verified local file.
//!
//! Every source reduces to an *input* known by its SHA-256 (the downloaded
//! file, the .deb apt lists, the .xbps a repository's index names, the
//! local file) and an optional *derivation* (decompress, take a member
//! out). Inputs and outputs are both kept by content hash, and a record
//! maps (input, derivation) to the output, so a second run finds the
//! output without fetching or unpacking anything.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use super::apt;
use super::cache::{sha256_bytes, sha256_file, Cache, Record};
use super::deb::{self, Content};
use super::download::{Downloader, Expected};
use super::repo;
use super::spec::{ArchiveKind, ImageSpec, Source};
use crate::{Error, Result};

/// How the store behaves; the CLI fills it from flags, tests shorten it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Never touch the network: a missing image is an error naming the
    /// command that would fetch it (CI runs that must be reproducible).
    pub offline: bool,
    /// Draw a progress bar per download (only when stderr is a terminal).
    pub progress: bool,
    /// Attempts in a row without progress before a download gives up.
    pub attempts: u32,
    /// Wait before the first retry; doubles on each further retry.
    pub backoff: Duration,
    /// Upper bound for the wait between retries.
    pub max_backoff: Duration,
    /// How long to wait for a TCP/TLS connection.
    pub connect_timeout: Duration,
    /// How long a response may stall (no header, no body bytes) before the
    /// attempt is abandoned and retried.
    pub read_timeout: Duration,
}

impl Default for StoreOptions {
    /// Patient defaults for real mirrors: five attempts, 1 s backoff doubling
    /// to 30 s, 30 s to connect, a minute of silence before giving up on a
    /// connection.
    fn default() -> Self {
        StoreOptions {
            offline: false,
            progress: true,
            attempts: 5,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
        }
    }
}

/// A verified local copy of an image, with where it came from for reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The image's name (its description's file stem).
    pub name: String,
    /// The file to boot or pack; inside the cache, or the user's own file
    /// for an undecorated `file` source (never copied).
    pub path: PathBuf,
    /// SHA-256 of the bytes at `path`, as checked for this run.
    pub sha256: String,
    /// Where the bytes came from: the URL, `apt pkg:arch=version`, or the
    /// local file's path.
    pub origin: String,
    /// The package version for apt sources.
    pub version: Option<String>,
    /// The archive member the file was taken from (e.g. `boot/vmlinux-6.1.0-50-powerpc64le`).
    pub member: Option<String>,
    /// True when no network I/O was needed (a cache hit, or a local file).
    pub cached: bool,
    /// For a kernel, the release its own `Linux version` banner names
    /// (see [`super::kernel_release`]), which the guest must report back;
    /// `None` for anything else.
    pub release: Option<String>,
}

/// The image cache plus the means to fill it.
pub struct Store {
    cache: Cache,
    options: StoreOptions,
    /// Built on first download only, so offline and cached runs never set
    /// up a network client.
    downloader: OnceLock<Downloader>,
    /// How to call apt on this machine, looked at on first use.
    apt: OnceLock<apt::AptConfig>,
}

impl Store {
    /// The cache directory when no flag names one: `$BOOTMATRIX_CACHE`, else
    /// `$XDG_CACHE_HOME/bootmatrix`, else `~/.cache/bootmatrix`.
    pub fn default_root() -> PathBuf {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        if let Some(p) = var("BOOTMATRIX_CACHE") {
            return p;
        }
        // The XDG spec says relative values are to be ignored.
        if let Some(p) = var("XDG_CACHE_HOME").filter(|p| p.is_absolute()) {
            return p.join("bootmatrix");
        }
        match var("HOME") {
            Some(home) => home.join(".cache").join("bootmatrix"),
            None => std::env::temp_dir().join("bootmatrix-cache"),
        }
    }

    /// Opens (creating if needed) the cache at `root`.
    pub fn open(root: PathBuf, options: StoreOptions) -> Result<Store> {
        Ok(Store {
            cache: Cache::open(root)?,
            options,
            downloader: OnceLock::new(),
            apt: OnceLock::new(),
        })
    }

    /// The cache directory in use.
    pub fn root(&self) -> &Path {
        self.cache.root()
    }

    /// Returns a verified local file for the image, fetching it unless cached.
    ///
    /// A cache hit does no network I/O (`Image::cached` is then true). With
    /// `offline`, a miss fails at once and says how to fetch.
    pub fn get(&self, spec: &ImageSpec) -> Result<Image> {
        let mut image = self.get_bytes(spec)?;
        image.release = self.release_of(&image.path, &image.sha256);
        Ok(image)
    }

    fn get_bytes(&self, spec: &ImageSpec) -> Result<Image> {
        match &spec.source {
            Source::Url { url, sha256, size } => {
                let _lock = self.cache.lock(sha256)?;
                let out = self.produce(spec, sha256, || {
                    self.fetch_pinned_url(spec, url, sha256, *size)
                })?;
                Ok(out.into_image(spec, url.clone(), None))
            }
            Source::File { path, sha256 } => self.get_file(spec, path, sha256.as_deref()),
            Source::Apt(src) => {
                let pkg = self.resolve_apt(src, &spec.description_file)?;
                let lock = self.cache.lock(&pkg.sha256)?;
                let mut out = self.produce(spec, &pkg.sha256, || self.fetch_deb(spec, &pkg))?;
                drop(lock);
                if let Some(build) = &spec.kernel_build {
                    // The member is the source tarball; the image is the
                    // kernel built from it.
                    let (sha256, path, cached) = super::kernel::vmlinux(
                        &self.cache,
                        &spec.name,
                        &out.path,
                        &out.sha256,
                        build,
                    )?;
                    out = Produced {
                        path,
                        sha256,
                        member: Some("vmlinux".into()),
                        cached: out.cached && cached,
                    };
                }
                Ok(out.into_image(
                    spec,
                    format!("apt {}", pkg.pin()),
                    Some(pkg.version.clone()),
                ))
            }
            Source::Xbps(src) => {
                let pkg = repo::resolve(self, spec, src)?;
                let _lock = self.cache.lock(&pkg.entry.sha256)?;
                let mut out = self.produce(spec, &pkg.entry.sha256, || {
                    repo::package_file(self, spec, &pkg)
                })?;
                out.cached &= pkg.cached;
                Ok(out.into_image(
                    spec,
                    format!("xbps {} from {}", pkg.entry.file_name(), src.repository),
                    Some(pkg.entry.version().to_owned()),
                ))
            }
        }
    }

    /// The release in a kernel's banner, remembered by the file's hash so
    /// that a second run does not read 50 MB again; `None` for files that
    /// are no kernel (or cannot be read: the image itself was verified).
    fn release_of(&self, path: &Path, sha256: &str) -> Option<String> {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Note {
            release: Option<String>,
        }
        let name = format!("release-{sha256}");
        if let Some(note) = self.cache.read_ref::<Note>(&name) {
            return note.release;
        }
        let release = match deb::sniff(path) {
            Ok(Some(Content::Elf { .. })) => std::fs::read(path)
                .ok()
                .and_then(|data| super::kernel_release(&data)),
            _ => None,
        };
        // Losing the note only costs the next run a read of the file.
        let _ = self.cache.write_ref(
            &name,
            &Note {
                release: release.clone(),
            },
        );
        release
    }

    fn get_file(&self, spec: &ImageSpec, path: &Path, pinned: Option<&str>) -> Result<Image> {
        let actual = file_sha256(spec, path, pinned)?;
        let _lock = self.cache.lock(&actual)?;
        let out = self.produce(spec, &actual, || Ok((path.to_owned(), true)))?;
        Ok(out.into_image(spec, path.display().to_string(), None))
    }

    /// Derives the image from the input with hash `input_sha`, reusing a
    /// recorded result; `input` supplies the input file only when needed.
    fn produce(
        &self,
        spec: &ImageSpec,
        input_sha: &str,
        input: impl FnOnce() -> Result<(PathBuf, bool)>,
    ) -> Result<Produced> {
        let Some(derivation) = derivation(spec) else {
            let (path, cached) = input()?;
            return Ok(Produced {
                path,
                sha256: input_sha.to_owned(),
                member: None,
                cached,
            });
        };
        let key = sha256_bytes(
            format!("bootmatrix derivation 1\ninput {input_sha}\n{derivation}").as_bytes(),
        );
        if let Some(record) = self.cache.read_record(&key) {
            if let Some(path) = self.cache.verified_blob(&record.sha256)? {
                return Ok(Produced {
                    path,
                    sha256: record.sha256,
                    member: record.member,
                    cached: true,
                });
            }
        }
        let (input_path, cached) = input()?;
        let archive = match spec.archive {
            Some(ArchiveKind::Detect) => match detect_kernel(spec, &input_path)? {
                // A bare kernel is the image itself.
                None => {
                    return Ok(Produced {
                        path: input_path,
                        sha256: input_sha.to_owned(),
                        member: None,
                        cached,
                    })
                }
                kind => kind,
            },
            kind => kind,
        };
        let tmp = self.cache.temp_file()?;
        let mut out = tmp
            .reopen()
            .map_err(|e| Error::io(tmp.path(), "cannot write", e))?;
        let member = match (&spec.member, archive) {
            (Some(pattern), Some(kind)) => Some(deb::extract_member_to(
                &input_path,
                kind,
                spec.decompress,
                pattern,
                &mut out,
            )?),
            _ => {
                let c = spec
                    .decompress
                    .expect("a derivation without member decompresses");
                deb::decompress_to(&input_path, c, &mut out)?;
                None
            }
        };
        out.sync_all()
            .map_err(|e| Error::io(tmp.path(), "cannot write", e))?;
        drop(out);
        let (sha256, path) = self.cache.commit_temp(tmp)?;
        self.cache.write_record(
            &key,
            &Record {
                sha256: sha256.clone(),
                member: member.clone(),
            },
        )?;
        Ok(Produced {
            path,
            sha256,
            member,
            cached,
        })
    }

    /// The error for an image that is not cached when `--offline` forbids
    /// fetching it.
    pub(crate) fn offline_miss(&self, spec: &ImageSpec) -> Error {
        Error::infra(format!(
            "image `{}` ({}) is not in the cache {} and --offline forbids fetching it; run \
             `bootmatrix fetch MATRIX` without --offline (MATRIX: the matrix that uses `{}`), \
             or point --cache-dir / BOOTMATRIX_CACHE at a cache that holds it",
            spec.name,
            spec.source_label(),
            self.cache.root().display(),
            spec.name
        ))
    }

    /// Which package version an apt source means. apt's answer changes only
    /// when its lists or sources do, and asking costs about a second per
    /// call (apt rebuilds its package cache), which a cache hit should not
    /// pay: the answer is remembered in the cache, stamped with the
    /// modification times of apt's lists and sources, and asked again only
    /// when they changed. Offline, the remembered answer stands.
    fn resolve_apt(
        &self,
        src: &super::spec::AptSource,
        spec_file: &Path,
    ) -> Result<apt::AptPackage> {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Memo {
            stamp: String,
            package: apt::AptPackage,
        }
        let key = sha256_bytes(
            format!(
                "bootmatrix apt resolution 1\n{}:{} version={:?} release={:?} depends={}",
                src.package, src.arch, src.version, src.release, src.resolve_depends
            )
            .as_bytes(),
        );
        let name = format!("apt-{key}");
        let stamp = apt_stamp();
        if let Some(memo) = self.cache.read_ref::<Memo>(&name) {
            if memo.stamp == stamp || self.options.offline {
                return Ok(memo.package);
            }
        }
        let package = apt::resolve(self.apt(), src, spec_file)?;
        // Losing the memo only costs the next run an apt query.
        let _ = self.cache.write_ref(
            &name,
            &Memo {
                stamp,
                package: package.clone(),
            },
        );
        Ok(package)
    }

    pub(crate) fn apt(&self) -> &apt::AptConfig {
        self.apt
            .get_or_init(|| apt::AptConfig::detect(&self.cache.root().join("apt")))
    }

    /// The cache itself, for derived products built outside `get` (the L1
    /// userland bundle) that want the same blobs, records and locks.
    pub(crate) fn cache(&self) -> &Cache {
        &self.cache
    }

    /// The package a kernel image comes from, known by its hash before its
    /// bytes are needed: an apt source's .deb, an xbps source's .xbps, or
    /// the downloaded or local file itself (a .deb or .xbps given as a
    /// kernel). For what must come from the kernel's own package (its KVM
    /// modules); [`Store::kernel_package_file`] fetches it.
    pub(crate) fn kernel_package(&self, spec: &ImageSpec) -> Result<KernelPackage> {
        Ok(match &spec.source {
            Source::Apt(src) => {
                let pkg = self.resolve_apt(src, &spec.description_file)?;
                KernelPackage {
                    sha256: pkg.sha256.clone(),
                    label: format!("apt {}", pkg.pin()),
                    from: PackageFrom::Apt(pkg),
                }
            }
            Source::Url { url, sha256, size } => KernelPackage {
                sha256: sha256.clone(),
                label: url.clone(),
                from: PackageFrom::Url(url.clone(), *size),
            },
            Source::File { path, sha256 } => KernelPackage {
                sha256: file_sha256(spec, path, sha256.as_deref())?,
                label: path.display().to_string(),
                from: PackageFrom::File(path.clone()),
            },
            Source::Xbps(src) => {
                let pkg = repo::resolve(self, spec, src)?;
                KernelPackage {
                    sha256: pkg.entry.sha256.clone(),
                    label: match &pkg.at {
                        repo::PackageAt::File(p) => p.display().to_string(),
                        repo::PackageAt::Url(u) => u.clone(),
                    },
                    from: PackageFrom::Xbps(pkg),
                }
            }
        })
    }

    /// The verified file of a [`Store::kernel_package`], from the cache or
    /// fetched (under the cache lock of its hash).
    pub(crate) fn kernel_package_file(
        &self,
        spec: &ImageSpec,
        pkg: &KernelPackage,
    ) -> Result<PathBuf> {
        let _lock = self.cache.lock(&pkg.sha256)?;
        let (path, _) = match &pkg.from {
            PackageFrom::Apt(p) => self.fetch_deb(spec, p)?,
            PackageFrom::Url(url, size) => self.fetch_pinned_url(spec, url, &pkg.sha256, *size)?,
            PackageFrom::File(path) => (path.clone(), true),
            PackageFrom::Xbps(r) => repo::package_file(self, spec, r)?,
        };
        Ok(path)
    }

    /// Verified .debs for many packages at once (in the order given): cached
    /// ones are reused, the rest fetched with one `apt-get download`. The
    /// flag is true when nothing had to be downloaded. `what` names the
    /// product for messages (`the qemu userland`).
    pub(crate) fn apt_debs(
        &self,
        pkgs: &[apt::AptPackage],
        what: &str,
    ) -> Result<(Vec<PathBuf>, bool)> {
        let mut missing: Vec<&apt::AptPackage> = Vec::new();
        for p in pkgs {
            if self.cache.verified_blob(&p.sha256)?.is_none() {
                missing.push(p);
            }
        }
        let cached = missing.is_empty();
        if !cached {
            if self.options.offline {
                let names: Vec<String> = missing.iter().take(6).map(|p| p.pin()).collect();
                return Err(Error::infra(format!(
                    "{what} needs {} packages that are not in the cache {} (e.g. {}) and \
                     --offline forbids fetching them; run once without --offline, or point \
                     --cache-dir / BOOTMATRIX_CACHE at a cache that holds them",
                    missing.len(),
                    self.cache.root().display(),
                    names.join(", ")
                )));
            }
            let dir = self.cache.temp_dir()?;
            let spinner = self.spinner(format!(
                "{what}: apt-get download {} packages",
                missing.len()
            ));
            let debs = apt::download_many(self.apt(), &missing, dir.path(), self.options.attempts);
            spinner.finish_and_clear();
            for deb in debs? {
                let sha = sha256_file(&deb).map_err(|e| Error::io(&deb, "cannot read", e))?;
                if missing.iter().any(|p| p.sha256 == sha) {
                    self.cache.commit(&deb, &sha)?;
                }
            }
        }
        pkgs.iter()
            .map(|p| {
                self.cache.verified_blob(&p.sha256)?.ok_or_else(|| {
                    Error::infra(format!(
                        "apt-get download gave no file with the sha256 apt's lists give for {} \
                         ({}); the mirror and the lists disagree: run `apt-get update` and try \
                         again",
                        p.pin(),
                        p.sha256
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()
            .map(|paths| (paths, cached))
    }

    /// A spinner for downloads apt does (it reports no byte counts to us).
    fn spinner(&self, message: String) -> indicatif::ProgressBar {
        use std::io::IsTerminal;
        if !(self.options.progress && std::io::stderr().is_terminal()) {
            return indicatif::ProgressBar::hidden();
        }
        let bar = indicatif::ProgressBar::new_spinner().with_message(message);
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }

    /// The HTTP client, set up on first use.
    pub(crate) fn downloader(&self) -> Result<&Downloader> {
        if let Some(d) = self.downloader.get() {
            return Ok(d);
        }
        let d = Downloader::new(&self.options)?;
        Ok(self.downloader.get_or_init(|| d))
    }

    /// [`Store::fetch_url`] for a `url` source: the description pins the
    /// hash, and maybe the size.
    fn fetch_pinned_url(
        &self,
        spec: &ImageSpec,
        url: &str,
        sha256: &str,
        size: Option<u64>,
    ) -> Result<(PathBuf, bool)> {
        let says = size.map(|n| {
            format!("the description says size = {n}: the file changed on the server or `size` is wrong")
        });
        let desc = spec.description_file.display();
        self.fetch_url(
            spec,
            url,
            &Expected {
                sha256,
                size: size.zip(says.as_deref()),
                fix_hint: &format!("fix `url` in {desc}"),
                mismatch_hint: &format!(
                    "If the file changed on purpose, check it and put the new hash in {desc}; \
                     otherwise the server or a proxy sent other bytes, so run again later"
                ),
            },
        )
    }

    /// The verified download of `url`, from the cache (then `true`: no
    /// network I/O) or the network.
    pub(crate) fn fetch_url(
        &self,
        spec: &ImageSpec,
        url: &str,
        expected: &Expected<'_>,
    ) -> Result<(PathBuf, bool)> {
        let sha256 = expected.sha256;
        if let Some(path) = self.cache.verified_blob(sha256)? {
            return Ok((path, true));
        }
        if self.options.offline {
            return Err(self.offline_miss(spec));
        }
        let part = self.cache.part_path(sha256);
        let mut fresh_retry_done = false;
        loop {
            let fetched = self.downloader()?.fetch(
                url,
                &part,
                expected.size,
                &spec.name,
                expected.fix_hint,
            )?;
            let actual =
                sha256_file(&part).map_err(|e| Error::io(&part, "cannot read download", e))?;
            if actual == sha256 {
                return Ok((self.cache.commit(&part, sha256)?, false));
            }
            // Never keep bytes that failed verification.
            std::fs::remove_file(&part)
                .map_err(|e| Error::io(&part, "cannot remove bad download", e))?;
            if fetched.resumed && !fresh_retry_done {
                // The kept prefix may have come from an older file: try once whole.
                fresh_retry_done = true;
                continue;
            }
            return Err(Error::infra(format!(
                "checksum mismatch for {url}: expected sha256 {sha256}, actual {actual}; the \
                 download was discarded and nothing was cached. {}",
                expected.mismatch_hint
            )));
        }
    }

    /// The verified .deb for `pkg`, from the cache or `apt-get download`.
    fn fetch_deb(&self, spec: &ImageSpec, pkg: &apt::AptPackage) -> Result<(PathBuf, bool)> {
        if let Some(path) = self.cache.verified_blob(&pkg.sha256)? {
            return Ok((path, true));
        }
        if self.options.offline {
            return Err(self.offline_miss(spec));
        }
        let dir = self.cache.temp_dir()?;
        let spinner = self.spinner(format!("{}: apt-get download {}", spec.name, pkg.pin()));
        let deb = apt::download(self.apt(), pkg, dir.path(), self.options.attempts);
        spinner.finish_and_clear();
        let deb = deb?;
        let actual = sha256_file(&deb).map_err(|e| Error::io(&deb, "cannot read", e))?;
        if actual != pkg.sha256 {
            return Err(Error::infra(format!(
                "checksum mismatch for apt {}: expected sha256 {} (from apt's lists), actual \
                 {actual}; the download was discarded. Run `apt-get update` and try again",
                pkg.pin(),
                pkg.sha256
            )));
        }
        Ok((self.cache.commit(&deb, &pkg.sha256)?, false))
    }
}

/// The SHA-256 of a local file, checked against the description's pin.
fn file_sha256(spec: &ImageSpec, path: &Path, pinned: Option<&str>) -> Result<String> {
    let actual = sha256_file(path).map_err(|e| {
        Error::infra(format!(
            "cannot read {} for image `{}`: {e}; build or copy the file there, or fix \
             `file` in {}",
            path.display(),
            spec.name,
            spec.description_file.display()
        ))
    })?;
    if let Some(want) = pinned {
        if want != actual {
            return Err(Error::infra(format!(
                "checksum mismatch for {}: expected sha256 {want}, actual {actual}; put the \
                 qualified file back, or update `sha256` in {} if this file is the one to test",
                path.display(),
                spec.description_file.display()
            )));
        }
    }
    Ok(actual)
}

/// For [`ArchiveKind::Detect`]: `None` when the input is a POWER kernel
/// image as it is, else the package kind to take the member from.
fn detect_kernel(spec: &ImageSpec, input: &Path) -> Result<Option<ArchiveKind>> {
    match deb::sniff(input)? {
        Some(Content::Elf { power: true }) => Ok(None),
        Some(Content::Elf { power: false }) => Err(Error::bad_input(format!(
            "{} (image `{}`) is an ELF file for another machine than POWER; give a ppc64 or \
             ppc64le vmlinux, or the package it came in",
            spec.source_label(),
            spec.name
        ))),
        Some(Content::Archive(kind)) => Ok(Some(kind)),
        None => Err(deb::not_a_kernel(&format!(
            "{} (image `{}`)",
            spec.source_label(),
            spec.name
        ))),
    }
}

/// What to do to the input, as a stable text for cache keys; `None` when
/// the input is the image as it is.
fn derivation(spec: &ImageSpec) -> Option<String> {
    let c = spec.decompress.map(|c| c.as_str()).unwrap_or("none");
    match (&spec.member, spec.archive) {
        (Some(member), Some(kind)) => {
            Some(format!("archive {kind}\ndecompress {c}\nmember {member}\n"))
        }
        _ => spec.decompress.map(|_| format!("decompress {c}\n")),
    }
}

/// A kernel's package, as [`Store::kernel_package`] resolved it.
pub(crate) struct KernelPackage {
    /// SHA-256 of the package file: what caches derived from it are keyed by.
    pub sha256: String,
    /// The package for messages (`apt linux-image-…:ppc64el=…`, a path, a URL).
    pub label: String,
    from: PackageFrom,
}

/// Where a [`KernelPackage`] is fetched from.
enum PackageFrom {
    Apt(apt::AptPackage),
    Url(String, Option<u64>),
    File(PathBuf),
    Xbps(repo::Resolved),
}

/// The result of [`Store::produce`], before it gains its origin.
struct Produced {
    path: PathBuf,
    sha256: String,
    member: Option<String>,
    cached: bool,
}

impl Produced {
    fn into_image(self, spec: &ImageSpec, origin: String, version: Option<String>) -> Image {
        Image {
            name: spec.name.clone(),
            path: self.path,
            sha256: self.sha256,
            origin,
            version,
            member: self.member,
            cached: self.cached,
            release: None,
        }
    }
}

/// The modification times of apt's lists and sources: when none changed,
/// apt would resolve a package as it did before.
fn apt_stamp() -> String {
    [
        "/var/lib/apt/lists",
        "/etc/apt/sources.list",
        "/etc/apt/sources.list.d",
        "/etc/apt/preferences.d",
        "/etc/apt/preferences",
    ]
    .iter()
    .map(|p| match std::fs::metadata(p).and_then(|m| m.modified()) {
        Ok(t) => format!("{p}={:?}", t),
        Err(_) => format!("{p}=none"),
    })
    .collect::<Vec<_>>()
    .join(";")
}

impl repo::Fetcher for Store {
    fn cache(&self) -> &Cache {
        Store::cache(self)
    }

    fn offline(&self) -> bool {
        self.options.offline
    }

    fn offline_miss(&self, spec: &ImageSpec) -> Error {
        Store::offline_miss(self, spec)
    }

    fn downloader(&self) -> Result<&Downloader> {
        Store::downloader(self)
    }

    fn fetch_url(
        &self,
        spec: &ImageSpec,
        url: &str,
        expected: &Expected<'_>,
    ) -> Result<(PathBuf, bool)> {
        Store::fetch_url(self, spec, url, expected)
    }
}
