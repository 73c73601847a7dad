//! Kernels the harness builds itself: a Debian kernel source tarball and a
//! config fragment kept in `images/`, cross-compiled for ppc64le.
//!
//! For what no distribution ships, such as a host kernel with KVM-PR built
//! in (Debian's have none). The build is reproducible from its inputs, so
//! it is cached by the hash of the tarball and the fragment: a machine builds
//! each kernel once (about 4–5 minutes on 2 cores), every later run reuses it.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::built::BuildLog;
use super::cache::{sha256_bytes, Cache};
use super::spec::KernelBuild;
use crate::{Error, Result};

/// The cross toolchain prefix for little-endian POWER.
pub(super) const CROSS: &str = "powerpc64le-linux-gnu-";

/// The `CONFIG_...` lines of a fragment, without comments and blanks.
pub fn fragment_lines(config: &str) -> Vec<String> {
    config
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// The fragment lines that did not survive into a `.config` (Kconfig drops
/// options whose dependencies are unmet, silently).
pub fn missing_lines(fragment: &[String], dot_config: &str) -> Vec<String> {
    fragment
        .iter()
        .filter(|want| !dot_config.lines().any(|l| l.trim() == want.as_str()))
        .cloned()
        .collect()
}

/// The cache key of a build: the source tarball, the fragment and every
/// patch in order, so that changing any of them builds anew.
pub fn build_key(tarball_sha: &str, build: &KernelBuild) -> String {
    let mut text = format!("bootmatrix kernel build 1\n{tarball_sha}\n{}", build.config);
    for p in &build.patches {
        text.push_str(&format!(
            "\npatch {}\n{}",
            sha256_bytes(p.text.as_bytes()),
            p.text.len()
        ));
    }
    sha256_bytes(text.as_bytes())
}

/// Returns the cached vmlinux built from `tarball` with `build`'s fragment,
/// building it first when needed; the flag is true for a cache hit.
pub(crate) fn vmlinux(
    cache: &Cache,
    name: &str,
    tarball: &Path,
    tarball_sha: &str,
    build: &KernelBuild,
) -> Result<(String, PathBuf, bool)> {
    let key = build_key(tarball_sha, build);
    super::built::once(cache, &key, "vmlinux", |work| {
        build_vmlinux(cache, name, &key, work, tarball, build)
    })
}

/// Builds vmlinux in `work` and returns its path there.
fn build_vmlinux(
    cache: &Cache,
    name: &str,
    key: &str,
    work: &Path,
    tarball: &Path,
    build: &KernelBuild,
) -> Result<PathBuf> {
    let gcc = format!("{CROSS}gcc");
    if Command::new(&gcc).arg("--version").output().is_err() {
        return Err(Error::infra(format!(
            "image `{name}` is a kernel the harness builds, and `{gcc}` is missing: install \
             gcc-powerpc64le-linux-gnu binutils-powerpc64le-linux-gnu bc bison flex libssl-dev libelf-dev make patch \
             (bash ci/setup-debian.sh does)"
        )));
    }
    let log = BuildLog::create(
        cache,
        &format!("kernel-{}", &key[..16]),
        &format!("image `{name}`"),
    )?;
    log.run(
        "tar",
        Command::new("tar")
            .arg("-xf")
            .arg(tarball)
            .arg("-C")
            .arg(work),
    )?;
    let tree = std::fs::read_dir(work)
        .map_err(|e| Error::io(work, "cannot read", e))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("Makefile").is_file())
        .ok_or_else(|| {
            Error::infra(format!(
                "building image `{name}`: the source tarball has no kernel tree"
            ))
        })?;
    // Applied from the text the key was computed from, not re-read.
    for (i, patch) in build.patches.iter().enumerate() {
        let copy = work.join(format!("patch-{i}.diff"));
        std::fs::write(&copy, &patch.text).map_err(|e| Error::io(&copy, "cannot write", e))?;
        let file = std::fs::File::open(&copy).map_err(|e| Error::io(&copy, "cannot read", e))?;
        log.run(
            &format!("patch -p1 < {}", patch.path.display()),
            Command::new("patch")
                .args(["-p1", "--forward", "--batch"])
                .current_dir(&tree)
                .stdin(file),
        )?;
    }
    let lines = fragment_lines(&build.config);
    let fragment = work.join("fragment.config");
    std::fs::write(&fragment, lines.join("\n") + "\n")
        .map_err(|e| Error::io(&fragment, "cannot write", e))?;
    let make = |targets: &[&str]| {
        let mut c = Command::new("make");
        c.current_dir(&tree)
            .arg("ARCH=powerpc")
            .arg(format!("CROSS_COMPILE={CROSS}"))
            .arg(format!("KCONFIG_ALLCONFIG={}", fragment.display()))
            .args(targets);
        c
    };
    // allnoconfig + fragment, not olddefconfig: the latter turns on about 90
    // options the fragment did not ask for (docs/emulated-hosts.md#host-kernels).
    log.run("make allnoconfig", &mut make(&["allnoconfig"]))?;
    let dot_config = std::fs::read_to_string(tree.join(".config"))
        .map_err(|e| Error::io(&tree.join(".config"), "cannot read", e))?;
    let missing = missing_lines(&lines, &dot_config);
    if !missing.is_empty() {
        return Err(Error::bad_input(format!(
            "{}: these lines do not survive into the kernel's .config (a dependency is missing): {}",
            build.config_path.display(),
            missing.join(", ")
        )));
    }
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
    log.run(
        "make vmlinux",
        &mut make(&[&format!("-j{jobs}"), "vmlinux"]),
    )?;
    Ok(tree.join("vmlinux"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragment_lines_drop_comments_and_blanks() {
        let f = fragment_lines("# why\nCONFIG_A=y\n\n  CONFIG_B=m  \n");
        assert_eq!(f, vec!["CONFIG_A=y", "CONFIG_B=m"]);
    }

    #[test]
    fn lines_kconfig_dropped_are_reported() {
        let f = fragment_lines("CONFIG_A=y\nCONFIG_B=y\nCONFIG_NR_CPUS=8\n");
        let dot = "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_NR_CPUS=8\n";
        assert_eq!(missing_lines(&f, dot), vec!["CONFIG_B=y"]);
    }

    fn build(patches: &[&str]) -> KernelBuild {
        KernelBuild {
            config_path: "k.config".into(),
            config: "CONFIG_A=y\n".into(),
            patches: patches
                .iter()
                .map(|t| super::super::spec::KernelPatch {
                    path: "p.diff".into(),
                    text: t.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn build_key_changes_with_each_patch_and_their_order() {
        let plain = build_key("abc", &build(&[]));
        let one = build_key("abc", &build(&["+++ b/x\n+1\n"]));
        let two = build_key("abc", &build(&["+++ b/x\n+1\n", "+++ b/y\n+2\n"]));
        let swapped = build_key("abc", &build(&["+++ b/y\n+2\n", "+++ b/x\n+1\n"]));
        assert_ne!(plain, one);
        assert_ne!(one, two);
        assert_ne!(two, swapped);
        // A build without patches keeps the key it had before patches existed.
        assert_eq!(
            plain,
            sha256_bytes(b"bootmatrix kernel build 1\nabc\nCONFIG_A=y\n")
        );
    }
}
