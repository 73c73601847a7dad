//! The on-disk cache: content-addressed files, derivation records, locks.
//!
//! Layout under the root:
//! - `blobs/sha256/<hex>`: finished files, named by the SHA-256 of their bytes.
//!   A file only ever appears here by an atomic rename after its hash was
//!   checked, so anything under `blobs/` is whole.
//! - `refs/<hex>.json`: what a derivation (this input, decompressed or with
//!   this member taken out) produced, so a second run skips the work; and
//!   other small notes by name (`apt-<hex>`: what apt resolved,
//!   `xbps-index-<hex>`: a remote repository's index, `xbps-sig2-<sha256>`:
//!   a package's verified signature, `release-<sha256>`: a kernel's release).
//! - `tmp/`: files being written, and `<sha256>.part` downloads kept for
//!   resuming. Nothing here is ever handed to a caller.
//! - `locks/<key>.lock`: one lock per input, so runners sharing the cache
//!   neither download the same file twice nor trip over each other's `.part`.
//! - `stamps/<hex>`: the blob's inode, size, mtime and ctime when its hash was
//!   last checked. A hit whose metadata still matches skips rehashing (50 MB
//!   kernels cost seconds in a debug build); any change to the file, even a
//!   `touch`, changes its ctime and forces a full check.
//! - `apt/pkgcache.bin`: apt's own parsed-lists cache, only on machines whose
//!   apt config disables the system one (see `AptConfig::detect`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tempfile::{NamedTempFile, TempDir};

use crate::{Error, Result};

/// What a derivation produced, as recorded in `refs/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    /// SHA-256 of the produced blob.
    pub sha256: String,
    /// The archive member it was taken from, if any.
    pub member: Option<String>,
}

/// A cache root with its subdirectories in place.
#[derive(Debug, Clone)]
pub(crate) struct Cache {
    root: PathBuf,
}

/// Temporary files older than this are leftovers of a killed run.
const STALE_TEMP: Duration = Duration::from_secs(24 * 3600);

impl Cache {
    /// Creates the layout under `root` if needed and clears stale leftovers.
    pub fn open(root: PathBuf) -> Result<Cache> {
        for sub in ["blobs/sha256", "refs", "tmp", "locks", "stamps", "apt"] {
            let dir = root.join(sub);
            fs::create_dir_all(&dir).map_err(|e| {
                Error::infra(format!(
                    "cannot create the image cache directory {}: {e}; pass --cache-dir or set \
                     BOOTMATRIX_CACHE to a writable directory",
                    dir.display()
                ))
            })?;
        }
        let cache = Cache { root };
        cache.remove_stale_temps();
        Ok(cache)
    }

    /// The directory the cache lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with this hash lives (whether or not it exists).
    pub fn blob_path(&self, sha256: &str) -> PathBuf {
        self.root.join("blobs/sha256").join(sha256)
    }

    /// Where a resumable download of the blob with this hash is kept.
    pub fn part_path(&self, sha256: &str) -> PathBuf {
        self.root.join("tmp").join(format!("{sha256}.part"))
    }

    /// The blob with this hash if it is present and its bytes still match;
    /// a damaged blob is removed so that it is fetched again.
    pub fn verified_blob(&self, sha256: &str) -> Result<Option<PathBuf>> {
        let path = self.blob_path(sha256);
        let Ok(meta) = fs::metadata(&path) else {
            return Ok(None);
        };
        if !meta.is_file() {
            return Ok(None);
        }
        let stamp_path = self.root.join("stamps").join(sha256);
        if fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp(&meta).as_str()) {
            return Ok(Some(path));
        }
        let actual = sha256_file(&path).map_err(|e| Error::io(&path, "cannot read cached", e))?;
        if actual == sha256 {
            self.write_stamp(sha256, &path);
            return Ok(Some(path));
        }
        let _ = fs::remove_file(&stamp_path);
        fs::remove_file(&path).map_err(|e| Error::io(&path, "cannot remove damaged cached", e))?;
        Ok(None)
    }

    /// Records that the blob's bytes were just checked (best effort: without
    /// a stamp the next hit simply hashes again).
    fn write_stamp(&self, sha256: &str, path: &Path) {
        if let Ok(meta) = fs::metadata(path) {
            let _ = fs::write(self.root.join("stamps").join(sha256), stamp(&meta));
        }
    }

    /// Holds an exclusive lock on `key` until the returned file is dropped.
    ///
    /// Blocks while another runner holds it: that runner is fetching the same
    /// input, and waiting for it is cheaper than fetching again.
    pub fn lock(&self, key: &str) -> Result<File> {
        let path = self.root.join("locks").join(format!("{key}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, "cannot open cache lock", e))?;
        // flock(2) directly rather than std's `File::lock` (Rust 1.89): the
        // project builds with Rust 1.85 (Debian's, for the ppc64le harness).
        // Released when the file is closed, as std's is.
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor is open and owned by `file` for the call.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            let e = io::Error::last_os_error();
            return Err(Error::io(&path, "cannot take cache lock", e));
        }
        Ok(file)
    }

    /// A new temporary file inside the cache (same filesystem as `blobs/`, so
    /// the final rename is atomic).
    pub fn temp_file(&self) -> Result<NamedTempFile> {
        let dir = self.root.join("tmp");
        NamedTempFile::new_in(&dir).map_err(|e| Error::io(&dir, "cannot create a file in", e))
    }

    /// A new temporary directory inside the cache, removed when dropped.
    pub fn temp_dir(&self) -> Result<TempDir> {
        let dir = self.root.join("tmp");
        TempDir::new_in(&dir).map_err(|e| Error::io(&dir, "cannot create a directory in", e))
    }

    /// Moves a finished file whose hash is `sha256` into `blobs/`.
    pub fn commit(&self, file: &Path, sha256: &str) -> Result<PathBuf> {
        let dest = self.blob_path(sha256);
        fs::rename(file, &dest).map_err(|e| Error::io(&dest, "cannot store", e))?;
        self.write_stamp(sha256, &dest);
        Ok(dest)
    }

    /// Hashes a finished temporary file and moves it into `blobs/`.
    pub fn commit_temp(&self, tmp: NamedTempFile) -> Result<(String, PathBuf)> {
        let sha = sha256_file(tmp.path()).map_err(|e| Error::io(tmp.path(), "cannot read", e))?;
        let dest = self.blob_path(&sha);
        tmp.persist(&dest)
            .map_err(|e| Error::io(&dest, "cannot store", e.error))?;
        self.write_stamp(&sha, &dest);
        Ok((sha, dest))
    }

    /// The record for a derivation key, if one was written.
    pub fn read_record(&self, key: &str) -> Option<Record> {
        self.read_ref(key)
    }

    /// Writes the record for a derivation key (atomically).
    pub fn write_record(&self, key: &str, record: &Record) -> Result<()> {
        self.write_ref(key, record)
    }

    /// A small JSON note kept under `refs/<name>.json` (a record, or what a
    /// resolution found), if present and readable.
    pub fn read_ref<T: serde::de::DeserializeOwned>(&self, name: &str) -> Option<T> {
        let text = fs::read_to_string(self.ref_path(name)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Writes `refs/<name>.json` atomically: readers see the old note or
    /// the new one, never half of one.
    pub fn write_ref<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        let tmp = self.temp_file()?;
        let json = serde_json::to_vec_pretty(value).expect("a note serializes");
        fs::write(tmp.path(), json).map_err(|e| Error::io(tmp.path(), "cannot write", e))?;
        let dest = self.ref_path(name);
        tmp.persist(&dest)
            .map_err(|e| Error::io(&dest, "cannot store", e.error))?;
        Ok(())
    }

    fn ref_path(&self, name: &str) -> PathBuf {
        self.root.join("refs").join(format!("{name}.json"))
    }

    fn remove_stale_temps(&self) {
        let Ok(entries) = fs::read_dir(self.root.join("tmp")) else {
            return;
        };
        let now = SystemTime::now();
        for entry in entries.flatten() {
            let age = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok());
            // A .part is worth resuming for a week, other leftovers for a day.
            let limit = if entry.file_name().to_string_lossy().ends_with(".part") {
                STALE_TEMP * 7
            } else {
                STALE_TEMP
            };
            if age.is_some_and(|age| age > limit) {
                let p = entry.path();
                let _ = if p.is_dir() {
                    fs::remove_dir_all(&p)
                } else {
                    fs::remove_file(&p)
                };
            }
        }
    }
}

/// What identifies one version of a file's bytes without reading them.
fn stamp(meta: &fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!(
        "{} {} {} {}.{} {}.{}",
        meta.dev(),
        meta.ino(),
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    )
}

/// Lower-case hex SHA-256 of a file's bytes: the identity of every image.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Lower-case hex SHA-256 of some bytes.
pub fn sha256_bytes(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damaged_blobs_are_dropped_and_good_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path().join("c")).unwrap();
        let sha = sha256_bytes(b"kernel");
        fs::write(cache.blob_path(&sha), b"kernel").unwrap();
        assert_eq!(
            cache.verified_blob(&sha).unwrap(),
            Some(cache.blob_path(&sha))
        );
        // Now stamped; a rewrite of the same length changes ctime and is caught.
        assert_eq!(
            cache.verified_blob(&sha).unwrap(),
            Some(cache.blob_path(&sha))
        );
        std::thread::sleep(Duration::from_millis(20));
        fs::write(cache.blob_path(&sha), b"kernal").unwrap();
        assert_eq!(cache.verified_blob(&sha).unwrap(), None);
        assert!(!cache.blob_path(&sha).exists());
    }

    #[test]
    fn records_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path().to_owned()).unwrap();
        let r = Record {
            sha256: "ab".into(),
            member: Some("boot/vmlinux".into()),
        };
        cache.write_record("k", &r).unwrap();
        assert_eq!(cache.read_record("k"), Some(r));
        assert_eq!(cache.read_record("other"), None);
    }

    #[test]
    fn known_hash() {
        assert_eq!(
            sha256_bytes(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
