//! Files the harness builds itself (the emulated hosts' kernels, its own
//! ppc64le binary): built once per key, under the key's lock, in a
//! temporary directory, logged, and kept in the cache by content hash.
//!
//! A build is expensive (minutes) and reproducible from its inputs, so its
//! key is a hash of those inputs and a record maps the key to the product's
//! blob, exactly as for derived images: a second run finds the blob without
//! building, and a runner that waits on the lock finds what the other one
//! built.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::cache::{sha256_file, Cache, Record};
use crate::{Error, Result};

/// Returns the blob built for `key` (its hash, its path, and true for a
/// cache hit), running `build` first when none is recorded.
///
/// `build` gets a fresh temporary directory inside the cache and returns
/// the finished file, which must lie inside it; the file is hashed and
/// renamed into the cache only after `build` returned without error, so a
/// failed or killed build leaves nothing behind that a later run could use.
/// `member` names the product in the record (e.g. `vmlinux`).
pub(crate) fn once(
    cache: &Cache,
    key: &str,
    member: &str,
    build: impl FnOnce(&Path) -> Result<PathBuf>,
) -> Result<(String, PathBuf, bool)> {
    let recorded = |cache: &Cache| -> Result<Option<(String, PathBuf)>> {
        match cache.read_record(key) {
            Some(r) => Ok(cache.verified_blob(&r.sha256)?.map(|p| (r.sha256, p))),
            None => Ok(None),
        }
    };
    if let Some((sha, path)) = recorded(cache)? {
        return Ok((sha, path, true));
    }
    let _lock = cache.lock(key)?;
    // Another runner may have built it while this one waited for the lock.
    if let Some((sha, path)) = recorded(cache)? {
        return Ok((sha, path, true));
    }
    let work = cache.temp_dir()?;
    let product = build(work.path())?;
    let sha = sha256_file(&product).map_err(|e| Error::io(&product, "cannot read", e))?;
    let path = cache.commit(&product, &sha)?;
    cache.write_record(
        key,
        &Record {
            sha256: sha.clone(),
            member: Some(member.into()),
        },
    )?;
    Ok((sha, path, false))
}

/// The log of one build, `logs/<name>.log` in the cache: every step's
/// output goes there, and a failing step's error names it.
pub(crate) struct BuildLog {
    path: PathBuf,
    file: File,
    /// What is being built, for error messages (e.g. "image `kernel-host-4k`").
    what: String,
}

impl BuildLog {
    /// Creates (truncating) the log `logs/<name>.log` of a build of `what`.
    pub fn create(cache: &Cache, name: &str, what: &str) -> Result<BuildLog> {
        let path = cache.root().join("logs").join(format!("{name}.log"));
        std::fs::create_dir_all(path.parent().expect("parent"))
            .map_err(|e| Error::io(&path, "cannot create", e))?;
        let file = File::create(&path).map_err(|e| Error::io(&path, "cannot create", e))?;
        Ok(BuildLog {
            path,
            file,
            what: what.into(),
        })
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs one step with its stdout and stderr in the log; a step that
    /// cannot start or exits non-zero is infrastructure trouble naming the
    /// step and the log.
    pub fn run(&self, step: &str, cmd: &mut Command) -> Result<()> {
        let out = self.writer()?;
        let err = self.writer()?;
        let status = cmd
            .stdout(out)
            .stderr(err)
            .status()
            .map_err(|e| Error::infra(format!("cannot run {step}: {e}")))?;
        if status.success() {
            Ok(())
        } else {
            Err(Error::infra(format!(
                "building {}: {step} failed ({status}); the log is {}",
                self.what,
                self.path.display()
            )))
        }
    }

    fn writer(&self) -> Result<File> {
        self.file
            .try_clone()
            .map_err(|e| Error::io(&self.path, "cannot write", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_runs_once_and_a_failed_one_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path().to_owned()).unwrap();
        let failed = once(&cache, "k", "x", |_| Err(Error::infra("boom")));
        assert_eq!(failed, Err(Error::infra("boom")));
        assert_eq!(cache.read_record("k"), None);
        let (sha, path, cached) = once(&cache, "k", "x", |work| {
            let p = work.join("x");
            std::fs::write(&p, b"built").unwrap();
            Ok(p)
        })
        .unwrap();
        assert!(!cached);
        assert_eq!(std::fs::read(&path).unwrap(), b"built");
        let again = once(&cache, "k", "x", |_| panic!("built twice")).unwrap();
        assert_eq!(again, (sha, path, true));
    }

    #[test]
    fn a_failing_step_names_the_step_and_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path().to_owned()).unwrap();
        let log = BuildLog::create(&cache, "t", "image `t`").unwrap();
        log.run("echo", Command::new("sh").args(["-c", "echo hello"]))
            .unwrap();
        let err = log
            .run("false", Command::new("sh").args(["-c", "exit 3"]))
            .unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err
            .message()
            .starts_with("building image `t`: false failed"));
        assert!(err.message().ends_with(&log.path().display().to_string()));
        assert_eq!(std::fs::read_to_string(log.path()).unwrap(), "hello\n");
    }
}
