//! xbps repositories through the store: the index, the signatures, the
//! package file.
//!
//! A package by name is resolved from `<arch>-repodata` to one index entry
//! (file name, `filename-sha256`, `filename-size`). From then on it is an
//! input known by its hash like any other, so the store's rules apply
//! unchanged: a remote package is downloaded into the cache (resumable,
//! renamed into place only once its hash matches), a local one is hashed
//! where it lies.
//!
//! A remote repository's index is not pinned by anything, so it is kept
//! in the cache as a note (`refs/xbps-index-<hex>.json` → its blob) and read
//! again from the server at most once an hour; offline, the last one read
//! stands. A signature is checked against the hash the index gives, before
//! the package is downloaded, and kept (`refs/xbps-sig2-<sha256>.json`) so
//! that a second run verifies it again without the network.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::cache::Cache;
use super::cache::{sha256_bytes, sha256_file, Record};
use super::download::{Downloader, Expected};
use super::spec::{ImageSpec, XbpsRepository, XbpsSource, XbpsTrust};
use super::xbps::{digest_from_hex, IndexEntry, PublicKey, Repodata};
use crate::{Error, Result};

/// How long a remote repository's index is used before it is read again.
pub const INDEX_MAX_AGE: Duration = Duration::from_secs(3600);

/// A package resolved from a repository's index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The index entry: file name, hash and size.
    pub entry: IndexEntry,
    /// Where the package file is.
    pub at: PackageAt,
    /// The index file, for messages (`…/ppc64le-repodata`).
    pub index: String,
    /// True when resolving needed no network I/O.
    pub cached: bool,
}

/// Where a resolved package's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PackageAt {
    /// In a local repository.
    File(PathBuf),
    /// On a server.
    Url(String),
}

/// What the cache remembers of a remote index.
#[derive(Debug, Serialize, Deserialize)]
struct IndexNote {
    url: String,
    sha256: String,
    /// Seconds since the epoch when it was downloaded.
    fetched: u64,
}

/// What reading a repository needs of the image store: its cache, whether
/// it may use the network, its downloads. The store provides it; repository
/// reading does not reach into the store otherwise.
pub(crate) trait Fetcher {
    /// The content-addressed cache.
    fn cache(&self) -> &Cache;
    /// True when nothing may be downloaded.
    fn offline(&self) -> bool;
    /// The error for an image that is not cached while offline.
    fn offline_miss(&self, spec: &ImageSpec) -> crate::Error;
    /// The HTTP client.
    fn downloader(&self) -> Result<&Downloader>;
    /// Downloads `url` into the cache, verified as `expected` says.
    fn fetch_url(
        &self,
        spec: &ImageSpec,
        url: &str,
        expected: &Expected<'_>,
    ) -> Result<(std::path::PathBuf, bool)>;
}

/// Finds `src`'s package in its repository's index and, when the source
/// names a key, checks its signature.
pub(crate) fn resolve(store: &dyn Fetcher, spec: &ImageSpec, src: &XbpsSource) -> Result<Resolved> {
    let index_name = src.arch.repodata_name();
    let index = src.repository.locate(&index_name);
    let (index_path, mut cached) = match &src.repository {
        XbpsRepository::Dir(dir) => (local_index(spec, src, dir, &index_name)?, true),
        XbpsRepository::Url(url) => remote_index(store, spec, src, &format!("{url}/{index_name}"))?,
    };
    let repodata = Repodata::read(&index_path, &index)?;
    let entry = repodata.find(&src.package, src.arch, &index)?.clone();
    let at = match &src.repository {
        XbpsRepository::Dir(dir) => PackageAt::File(dir.join(entry.file_name())),
        XbpsRepository::Url(url) => PackageAt::Url(format!("{url}/{}", entry.file_name())),
    };
    if let XbpsTrust::Key(key_path) = &src.trust {
        let key = read_key(spec, key_path)?;
        if let Some(announced) = &repodata.key {
            let same = PublicKey::from_pem(&announced.pem).is_ok_and(|k| k == key);
            if !same {
                return Err(Error::infra(format!(
                    "{index}: index-meta.plist announces another public key{} than {} (`public_key` \
                     in {}); the repository changed keys or is not the one meant: find out which \
                     key is right before replacing the file",
                    announced
                        .signed_by
                        .as_ref()
                        .map(|s| format!(" (signed by `{s}`)"))
                        .unwrap_or_default(),
                    key_path.display(),
                    spec.description_file.display()
                )));
            }
        }
        cached &= verify_signature(store, spec, &entry, &at, &key, key_path)?;
    }
    Ok(Resolved {
        entry,
        at,
        index,
        cached,
    })
}

/// `<dir>/<arch>-repodata`, or an error saying which architectures the
/// directory has.
fn local_index(
    spec: &ImageSpec,
    src: &XbpsSource,
    dir: &Path,
    index_name: &str,
) -> Result<PathBuf> {
    let path = dir.join(index_name);
    if path.is_file() {
        return Ok(path);
    }
    if !dir.is_dir() {
        return Err(Error::infra(format!(
            "xbps repository {} does not exist (`repository` in {}); build the package with \
             xbps-src first, or fix the path",
            dir.display(),
            spec.description_file.display()
        )));
    }
    let mut have: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix("-repodata")
                .map(str::to_owned)
        })
        .collect();
    have.sort();
    Err(Error::infra(format!(
        "{} has no {index_name}: the repository has no packages for `{}` ({}); fix `arch` in \
         {}, or build for it with `./xbps-src -a {} pkg {}`",
        dir.display(),
        src.arch,
        if have.is_empty() {
            "it has no index at all".to_owned()
        } else {
            format!("it has {}", have.join(", "))
        },
        spec.description_file.display(),
        src.arch,
        src.package
    )))
}

/// A remote index from the cache when recent enough (or offline), else
/// downloaded; the flag is true when nothing was downloaded.
fn remote_index(
    store: &dyn Fetcher,
    spec: &ImageSpec,
    src: &XbpsSource,
    url: &str,
) -> Result<(PathBuf, bool)> {
    let cache = store.cache();
    let key = sha256_bytes(format!("bootmatrix xbps index 1\n{url}").as_bytes());
    let note_name = format!("xbps-index-{key}");
    let _lock = cache.lock(&note_name)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    if let Some(note) = cache.read_ref::<IndexNote>(&note_name) {
        let fresh = now.saturating_sub(note.fetched) < INDEX_MAX_AGE.as_secs();
        if fresh || store.offline() {
            if let Some(path) = cache.verified_blob(&note.sha256)? {
                return Ok((path, true));
            }
        }
    }
    if store.offline() {
        return Err(store.offline_miss(spec));
    }
    // The index changes in place on the server: never resume an old part.
    let part = cache.root().join("tmp").join(format!("{note_name}.part"));
    let _ = std::fs::remove_file(&part);
    let hint = format!(
        "check `repository` and `arch` in {} (a repository has one <arch>-repodata per \
         architecture it serves; `{}` may not be one of them)",
        spec.description_file.display(),
        src.arch
    );
    let fetched = store
        .downloader()?
        .fetch(url, &part, None, &spec.name, &hint)
        .and_then(|_| sha256_file(&part).map_err(|e| Error::io(&part, "cannot read download", e)));
    let sha = match fetched {
        Ok(sha) => sha,
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            return Err(e);
        }
    };
    let path = cache.commit(&part, &sha)?;
    cache.write_ref(
        &note_name,
        &IndexNote {
            url: url.to_owned(),
            sha256: sha,
            fetched: now,
        },
    )?;
    Ok((path, false))
}

/// The public key the description names; an unreadable or malformed file
/// is the description's fault.
fn read_key(spec: &ImageSpec, path: &Path) -> Result<PublicKey> {
    let pem = std::fs::read(path).map_err(|e| {
        Error::bad_input(format!(
            "cannot read the public key {} (`public_key` in {}): {e}; save the repository's \
             RSA public key there in PEM form",
            path.display(),
            spec.description_file.display()
        ))
    })?;
    PublicKey::from_pem(&pem).map_err(|e| {
        Error::bad_input(format!(
            "{} (`public_key` in {}): {e}; it must hold the repository's RSA public key \
             (`-----BEGIN PUBLIC KEY-----`)",
            path.display(),
            spec.description_file.display()
        ))
    })
}

/// Checks the `.sig2` of the package against `key`, over the hash the index
/// gives (the package itself is checked against that hash when it is
/// read). A verified remote signature is kept in the cache; the flag is
/// true when it came from there or from a local file.
fn verify_signature(
    store: &dyn Fetcher,
    spec: &ImageSpec,
    entry: &IndexEntry,
    at: &PackageAt,
    key: &PublicKey,
    key_path: &Path,
) -> Result<bool> {
    let digest = digest_from_hex(&entry.sha256).expect("the index's hashes are checked when read");
    let cache = store.cache();
    let note_name = format!("xbps-sig2-{}", entry.sha256);
    if let Some(record) = cache.read_record(&note_name) {
        if let Some(path) = cache.verified_blob(&record.sha256)? {
            if std::fs::read(&path).is_ok_and(|sig| key.verifies(&digest, &sig)) {
                return Ok(true);
            }
        }
    }
    let bad = |where_: &str, outcome: &str| {
        Error::infra(format!(
            "{where_}: the signature does not verify {} (sha256 {}) with the key {} \
             (`public_key` in {}); {outcome}. The repository was signed with another key, or \
             its files were altered: check where the key and the repository come from",
            entry.file_name(),
            entry.sha256,
            key_path.display(),
            spec.description_file.display()
        ))
    };
    let missing_hint = format!(
        "a signed repository keeps a .sig2 beside every package (`xbps-rindex --sign-pkg`); \
         without it {} cannot be verified against `public_key` in {} (set `insecure = true` \
         instead only for a repository that is not signed at all)",
        entry.file_name(),
        spec.description_file.display()
    );
    match at {
        PackageAt::File(path) => {
            let sig_path = PathBuf::from(format!("{}.sig2", path.display()));
            let sig = std::fs::read(&sig_path).map_err(|e| {
                Error::infra(format!(
                    "cannot read the signature {}: {e}; {missing_hint}",
                    sig_path.display()
                ))
            })?;
            if key.verifies(&digest, &sig) {
                Ok(true)
            } else {
                Err(bad(
                    &sig_path.display().to_string(),
                    "the package was not used",
                ))
            }
        }
        PackageAt::Url(url) => {
            if store.offline() {
                return Err(store.offline_miss(spec));
            }
            let sig_url = format!("{url}.sig2");
            let _lock = cache.lock(&note_name)?;
            let part = cache.root().join("tmp").join(format!("{note_name}.part"));
            let _ = std::fs::remove_file(&part);
            let sig = store
                .downloader()?
                .fetch(&sig_url, &part, None, &spec.name, &missing_hint)
                .and_then(|_| std::fs::read(&part).map_err(|e| Error::io(&part, "cannot read", e)));
            let sig = match sig {
                Ok(sig) if key.verifies(&digest, &sig) => sig,
                Ok(_) => {
                    let _ = std::fs::remove_file(&part);
                    return Err(bad(&sig_url, "nothing was downloaded"));
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&part);
                    return Err(e);
                }
            };
            let sha = sha256_bytes(&sig);
            cache.commit(&part, &sha)?;
            cache.write_record(
                &note_name,
                &Record {
                    sha256: sha,
                    member: None,
                },
            )?;
            Ok(false)
        }
    }
}

/// The resolved package's file: a local one checked against the index's
/// size and hash where it lies, a remote one downloaded into the cache
/// (whose download code checks both). The flag is true without network I/O.
pub(crate) fn package_file(
    store: &dyn Fetcher,
    spec: &ImageSpec,
    pkg: &Resolved,
) -> Result<(PathBuf, bool)> {
    let e = &pkg.entry;
    match &pkg.at {
        PackageAt::File(path) => {
            let len = std::fs::metadata(path).map(|m| m.len()).map_err(|err| {
                Error::infra(format!(
                    "{} lists {} but {} cannot be read: {err}; run `xbps-rindex -c` on the \
                     repository, or build the package again",
                    pkg.index,
                    e.pkgver,
                    path.display()
                ))
            })?;
            if len != e.size {
                return Err(Error::infra(format!(
                    "{} is {len} bytes but `filename-size` in {} says {}: the package changed \
                     after it was indexed; index it again with `xbps-rindex -a {}`",
                    path.display(),
                    pkg.index,
                    e.size,
                    path.display()
                )));
            }
            let actual = sha256_file(path).map_err(|err| Error::io(path, "cannot read", err))?;
            if actual != e.sha256 {
                return Err(Error::infra(format!(
                    "checksum mismatch for {}: `filename-sha256` in {} says {}, actual {actual}: \
                     the package changed after it was indexed; index it again with \
                     `xbps-rindex -a {}`",
                    path.display(),
                    pkg.index,
                    e.sha256,
                    path.display()
                )));
            }
            Ok((path.clone(), true))
        }
        PackageAt::Url(url) => store.fetch_url(
            spec,
            url,
            &Expected {
                sha256: &e.sha256,
                size: Some((
                    e.size,
                    &format!("`filename-size` in {} says {}", pkg.index, e.size),
                )),
                fix_hint: &format!(
                    "{} lists it: the repository is being updated or is damaged; run again later",
                    pkg.index
                ),
                mismatch_hint: &format!(
                    "`filename-sha256` in {} says otherwise: the repository is being updated or is \
                     damaged; run again later",
                    pkg.index
                ),
            },
        ),
    }
}
