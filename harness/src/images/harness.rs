//! The harness as an image: a ppc64le `bootmatrix`, cross-built from the
//! very source the running harness was built from, for emulated POWER hosts
//! to run as a POWER runner would.
//!
//! The source is found where cargo built the running binary
//! (`CARGO_MANIFEST_DIR`) and checked against the hash the build script
//! recorded, so the binary inside a host is never built from other code
//! than the one outside it. The build is keyed by that hash like the
//! kernels the harness builds (same cache, lock, and rename after the
//! product was checked), so it happens once per source change: Debian's
//! Rust 1.85 (`/usr/bin/cargo`, `/usr/bin/rustc` and the ppc64el std) with
//! `powerpc64le-linux-gnu-gcc` as linker and C compiler, in release mode,
//! stripped. Its cargo target directory stays in the cache
//! (`build/harness-ppc64le/target`), so a source change recompiles the
//! harness alone, not its dependencies. Nothing of this is needed on the
//! native path.

pub mod source;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::built::{self, BuildLog};
use super::cache::{sha256_bytes, Cache};
use super::kernel::CROSS;
use super::Store;
use crate::{Error, Result};

/// The Rust target of the binary.
pub const TARGET: &str = "powerpc64le-unknown-linux-gnu";

/// The shared libraries the binary may need, as `DT_NEEDED` names (the
/// loader is `/lib64/ld64.so.2`): what an emulated host's userland bundle
/// carries anyway for its qemu. A build needing more is refused.
pub const RUNTIME_LIBRARIES: [&str; 4] = ["libc.so.6", "libm.so.6", "libgcc_s.so.1", "ld64.so.2"];

/// The program interpreter a ppc64le glibc binary names.
const LOADER: &str = "/lib64/ld64.so.2";

/// Debian's cargo and rustc (1.85 on bookworm as `cargo-web`/`rustc-web`):
/// rustup's, first on `PATH` on developer machines, has no ppc64le std.
const CARGO: &str = "/usr/bin/cargo";
const RUSTC: &str = "/usr/bin/rustc";

/// The source tree of the running harness, checked to be the one it was
/// built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HarnessSource {
    /// The repository root (where `Cargo.toml` is).
    pub root: PathBuf,
    /// The source files, relative to `root` ([`source::files`]).
    pub files: Vec<String>,
    /// Their hash ([`source::hash`]), the key of the build.
    pub sha256: String,
}

/// The ppc64le bootmatrix in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HarnessBinary {
    /// The stripped executable, inside the cache.
    pub path: PathBuf,
    /// SHA-256 of the executable.
    pub sha256: String,
    /// The source it was built from.
    pub source_root: PathBuf,
    /// The hash of that source.
    pub source_sha256: String,
    /// True when it was in the cache already (no build).
    pub cached: bool,
    /// How long the build took, when this call built it.
    pub build_time: Option<Duration>,
}

impl HarnessBinary {
    /// One line for `bootmatrix fetch`, like the other images' lines.
    pub fn fetch_line(&self) -> String {
        let how = match self.build_time {
            Some(t) => format!(", built in {}s", t.as_secs()),
            None => String::new(),
        };
        format!(
            "{} ppc64le bootmatrix for emulated hosts: {} (source {} sha256 {}, binary sha256 {}{how})",
            if self.cached { "cached " } else { "built  " },
            self.path.display(),
            self.source_root.display(),
            &self.source_sha256[..16],
            &self.sha256[..16],
        )
    }
}

/// The ppc64le bootmatrix built from the running harness's source, from the
/// cache or built now (about 2.5 minutes on 2 cores the first time).
///
/// Infrastructure errors (exit 3): the source tree is gone or changed since
/// this binary was built, Debian's Rust toolchain is missing (the message
/// names the packages), the build fails (the message names its log), or the
/// product needs libraries an emulated host does not carry.
pub fn ppc64le_harness(store: &Store) -> Result<HarnessBinary> {
    let source = running_source()?;
    build(store.cache(), &source)
}

/// The running harness's source: `CARGO_MANIFEST_DIR` at build time,
/// checked against the hash the build script recorded.
pub fn running_source() -> Result<HarnessSource> {
    source_at(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        env!("BOOTMATRIX_SOURCE_SHA256"),
    )
}

/// The source at `root`, which must still hash to `built_from`.
pub fn source_at(root: &Path, built_from: &str) -> Result<HarnessSource> {
    if !root.join("Cargo.toml").is_file() || !root.join(source::CODE_DIR).is_dir() {
        return Err(Error::infra(format!(
            "this bootmatrix was built from {}, which is gone (an installed or copied binary?); \
             emulated hosts run a ppc64le bootmatrix built from the same source as the running \
             one, so run bootmatrix from its source tree (`cargo run --release -- ...` there)",
            root.display()
        )));
    }
    let unreadable = |e: std::io::Error| {
        Error::infra(format!(
            "cannot read the bootmatrix source in {}: {e}; emulated hosts need a ppc64le \
             bootmatrix built from it, so make it readable",
            root.display()
        ))
    };
    let files = source::files(root).map_err(unreadable)?;
    let sha256 = source::hash(root, &files).map_err(unreadable)?;
    if sha256 != built_from {
        return Err(Error::infra(format!(
            "the bootmatrix source in {} changed since this bootmatrix was built (source sha256 \
             {}, built from {}); rebuild it (`cargo build --release`, or run it with `cargo run \
             --release -- ...`) so that emulated hosts run the same harness as this one",
            root.display(),
            &sha256[..16],
            &built_from[..16.min(built_from.len())]
        )));
    }
    Ok(HarnessSource {
        root: root.to_owned(),
        files,
        sha256,
    })
}

/// The cache key of the binary built from a source with this hash.
fn build_key(source_sha256: &str) -> String {
    sha256_bytes(
        format!("bootmatrix harness build 1\ntarget {TARGET}\nsource {source_sha256}\n").as_bytes(),
    )
}

/// Returns the binary built from `source`, building it when the cache has
/// none for its hash.
fn build(cache: &Cache, source: &HarnessSource) -> Result<HarnessBinary> {
    let key = build_key(&source.sha256);
    let started = Instant::now();
    let (sha256, path, cached) = built::once(cache, &key, "bootmatrix", |work| {
        cross_build(cache, &key, source, work)
    })?;
    Ok(HarnessBinary {
        path,
        sha256,
        source_root: source.root.clone(),
        source_sha256: source.sha256.clone(),
        cached,
        build_time: (!cached).then(|| started.elapsed()),
    })
}

/// The environment variables of a caller's cargo (`cargo run`, `cargo
/// test`, a developer's shell) that would change what Debian's cargo builds
/// or where: removed, so that the build depends on the source alone.
const FOREIGN_CARGO_ENV: [&str; 12] = [
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_BUILD_RUSTC_WRAPPER",
    "CARGO_BUILD_RUSTC",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
    "RUSTDOC",
    "CARGO_MAKEFLAGS",
    "RUSTUP_TOOLCHAIN",
];

/// Cross-builds the source in a stable workspace of the cache and copies
/// the checked, stripped binary into `work`.
fn cross_build(cache: &Cache, key: &str, source: &HarnessSource, work: &Path) -> Result<PathBuf> {
    let missing = missing_toolchain();
    if !missing.is_empty() {
        return Err(toolchain_error(
            &missing,
            &debian_codename(),
            host_is_ppc64le(),
        ));
    }
    // One workspace for every source, so the dependencies compiled once
    // stay compiled; builds of different sources take turns.
    let _workspace = cache.lock("harness-ppc64le-workspace")?;
    let dir = cache.root().join("build").join("harness-ppc64le");
    let src = dir.join("src");
    snapshot(source, &src)?;
    let target_dir = dir.join("target");
    let log = BuildLog::create(
        cache,
        &format!("harness-ppc64le-{}", &key[..16]),
        "the ppc64le bootmatrix for emulated hosts",
    )?;
    let mut cargo = Command::new(CARGO);
    for var in FOREIGN_CARGO_ENV {
        cargo.env_remove(var);
    }
    let triple_env = TARGET.replace('-', "_");
    cargo
        .current_dir(&src)
        .env("RUSTC", RUSTC)
        .env("CARGO_TARGET_DIR", &target_dir)
        .env(
            format!("CARGO_TARGET_{}_LINKER", triple_env.to_uppercase()),
            format!("{CROSS}gcc"),
        )
        .env(format!("CC_{triple_env}"), format!("{CROSS}gcc"))
        .env(format!("AR_{triple_env}"), format!("{CROSS}ar"))
        .env("CARGO_PROFILE_RELEASE_STRIP", "symbols")
        .env("CARGO_TERM_COLOR", "never")
        .args(["build", "--release", "--locked", "--target", TARGET])
        .args(["--bin", "bootmatrix"]);
    log.run(
        &format!("{CARGO} build --release --target {TARGET}"),
        &mut cargo,
    )
    .map_err(|e| {
        Error::infra(format!(
            "{e}. If it says a package needs a newer rustc, the lockfile was resolved for a \
                 newer Rust than 1.85: run `CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback \
                 cargo update` in {}",
            source.root.display()
        ))
    })?;
    let built = target_dir.join(TARGET).join("release").join("bootmatrix");
    let data = std::fs::read(&built).map_err(|e| Error::io(&built, "cannot read", e))?;
    check_binary(&data).map_err(|why| {
        Error::infra(format!(
            "the ppc64le bootmatrix built from {} {why}; it would not run inside an emulated \
             host (the build log is {})",
            source.root.display(),
            log.path().display()
        ))
    })?;
    // Copied, not moved: cargo keeps its output to compare the next build
    // with. The copy keeps the executable mode.
    let product = work.join("bootmatrix");
    std::fs::copy(&built, &product).map_err(|e| Error::io(&product, "cannot write", e))?;
    Ok(product)
}

/// Replaces `dest` with a copy of the source's files (only those hashed),
/// so that what is built is exactly what was hashed, whatever else lies in
/// the tree (`target/`, tests, local files).
fn snapshot(source: &HarnessSource, dest: &Path) -> Result<()> {
    if dest.exists() {
        std::fs::remove_dir_all(dest).map_err(|e| Error::io(dest, "cannot remove", e))?;
    }
    for rel in &source.files {
        let to = dest.join(rel);
        std::fs::create_dir_all(to.parent().expect("a file has a parent"))
            .map_err(|e| Error::io(&to, "cannot create the directory of", e))?;
        let from = source.root.join(rel);
        std::fs::copy(&from, &to).map_err(|e| Error::io(&from, "cannot copy", e))?;
    }
    Ok(())
}

/// Why `data` is not a binary an emulated host can run, if it is not: a
/// 64-bit little-endian POWER executable loaded by [`LOADER`] that needs
/// only [`RUNTIME_LIBRARIES`].
pub fn check_binary(data: &[u8]) -> std::result::Result<(), String> {
    if !super::bundle::is_ppc64le_elf(data) {
        return Err("is not a little-endian 64-bit POWER executable".into());
    }
    let deps = super::bundle::elf_dependencies(data)
        .map_err(|e| format!("is not a readable ELF file ({e})"))?;
    if deps.interpreter.as_deref() != Some(LOADER) {
        return Err(format!(
            "names the loader {:?} instead of {LOADER}",
            deps.interpreter
        ));
    }
    let extra: Vec<&str> = deps
        .needed
        .iter()
        .map(String::as_str)
        .filter(|n| !RUNTIME_LIBRARIES.contains(n))
        .collect();
    if !extra.is_empty() {
        return Err(format!(
            "needs {} besides {}",
            extra.join(", "),
            RUNTIME_LIBRARIES.join(", ")
        ));
    }
    Ok(())
}

/// A piece of the cross toolchain the build needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolchainPiece {
    /// Debian's `/usr/bin/cargo`.
    Cargo,
    /// Debian's `/usr/bin/rustc`.
    Rustc,
    /// The ppc64le standard library for that rustc.
    TargetStd,
    /// `powerpc64le-linux-gnu-gcc`, the linker and C compiler.
    CrossGcc,
    /// The ppc64le C library to link against, with its headers.
    CrossLibc,
}

impl ToolchainPiece {
    /// What the piece is, for the user.
    pub fn describe(self) -> &'static str {
        match self {
            ToolchainPiece::Cargo => "/usr/bin/cargo",
            ToolchainPiece::Rustc => "/usr/bin/rustc",
            ToolchainPiece::TargetStd => "the ppc64le std of /usr/bin/rustc",
            ToolchainPiece::CrossGcc => "powerpc64le-linux-gnu-gcc",
            ToolchainPiece::CrossLibc => "the ppc64le C library and headers",
        }
    }
}

/// The Debian packages that provide `missing`, on the release named
/// `codename` (bookworm's Rust 1.85 is `rustc-web`; its plain `rustc` is
/// 1.63), on a ppc64el machine (native compiler and C library) or not.
pub fn toolchain_packages(
    missing: &[ToolchainPiece],
    codename: &str,
    ppc64el: bool,
) -> Vec<&'static str> {
    let bookworm = codename == "bookworm";
    let mut out: Vec<&'static str> = missing
        .iter()
        .map(|piece| match (piece, bookworm, ppc64el) {
            (ToolchainPiece::Cargo, true, _) => "cargo-web",
            (ToolchainPiece::Cargo, false, _) => "cargo",
            (ToolchainPiece::Rustc, true, _) => "rustc-web",
            (ToolchainPiece::Rustc, false, _) => "rustc",
            (ToolchainPiece::TargetStd, true, _) => "libstd-rust-web-dev:ppc64el",
            (ToolchainPiece::TargetStd, false, _) => "libstd-rust-dev:ppc64el",
            (ToolchainPiece::CrossGcc, _, false) => "gcc-powerpc64le-linux-gnu",
            (ToolchainPiece::CrossGcc, _, true) => "gcc",
            (ToolchainPiece::CrossLibc, _, false) => "libc6-dev-ppc64el-cross",
            (ToolchainPiece::CrossLibc, _, true) => "libc6-dev",
        })
        .collect();
    out.dedup();
    out
}

/// The error for a machine without the toolchain: what is missing and the
/// `apt-get install` line that provides it.
pub fn toolchain_error(missing: &[ToolchainPiece], codename: &str, ppc64el: bool) -> Error {
    let what: Vec<&str> = missing.iter().map(|p| p.describe()).collect();
    Error::infra(format!(
        "emulated hosts run a ppc64le bootmatrix that the harness cross-builds with Debian's Rust \
         toolchain, and this machine lacks part of it ({}): install it with `apt-get install {}` \
         (bash ci/setup-debian.sh does)",
        what.join(", "),
        toolchain_packages(missing, codename, ppc64el).join(" ")
    ))
}

/// What this machine lacks of the toolchain.
fn missing_toolchain() -> Vec<ToolchainPiece> {
    let mut missing = Vec::new();
    let runs = |cmd: &mut Command| cmd.output().is_ok_and(|o| o.status.success());
    if !runs(Command::new(CARGO).arg("--version")) {
        missing.push(ToolchainPiece::Cargo);
    }
    let libdir = Command::new(RUSTC)
        .args(["--print", "target-libdir", "--target", TARGET])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    match libdir {
        None => missing.extend([ToolchainPiece::Rustc, ToolchainPiece::TargetStd]),
        Some(dir) => {
            let has_std = std::fs::read_dir(&dir).is_ok_and(|entries| {
                entries.flatten().any(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.starts_with("libstd-") && name.ends_with(".rlib")
                })
            });
            if !has_std {
                missing.push(ToolchainPiece::TargetStd);
            }
        }
    }
    let gcc = format!("{CROSS}gcc");
    if !runs(Command::new(&gcc).arg("--version")) {
        missing.extend([ToolchainPiece::CrossGcc, ToolchainPiece::CrossLibc]);
    } else {
        // gcc prints the bare name back when it does not find the file.
        let found = Command::new(&gcc)
            .arg("-print-file-name=libc.so")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim().starts_with('/'));
        if !found {
            missing.push(ToolchainPiece::CrossLibc);
        }
    }
    missing
}

/// `VERSION_CODENAME` of /etc/os-release (empty when unknown).
fn debian_codename() -> String {
    std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_default()
}

/// True on a ppc64le machine, whose native compiler and C library build
/// for ppc64le.
fn host_is_ppc64le() -> bool {
    std::env::consts::ARCH == "powerpc64"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree with the source layout: the root files and two code files.
    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in [
            ("Cargo.toml", "[package]\n"),
            ("Cargo.lock", "# lock\n"),
            ("harness/build.rs", "fn main() {}\n"),
            ("harness/src/main.rs", "fn main() {}\n"),
            ("tests/t.rs", "#[test] fn t() {}\n"),
            ("harness/src/.main.rs.swp", "swap"),
        ] {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        dir
    }

    #[test]
    fn the_source_is_the_build_inputs_and_the_code_only() {
        let dir = tree();
        assert_eq!(
            source::files(dir.path()).unwrap(),
            [
                "Cargo.lock",
                "Cargo.toml",
                "harness/build.rs",
                "harness/src/main.rs"
            ]
        );
    }

    #[test]
    fn an_edit_in_the_code_changes_the_hash_and_one_in_tests_does_not() {
        let dir = tree();
        let hash = || {
            let files = source::files(dir.path()).unwrap();
            source::hash(dir.path(), &files).unwrap()
        };
        let before = hash();
        std::fs::write(dir.path().join("tests/t.rs"), "changed").unwrap();
        assert_eq!(hash(), before);
        std::fs::write(dir.path().join("harness/src/main.rs"), "fn main() { }\n").unwrap();
        assert_ne!(hash(), before);
    }

    #[test]
    fn a_changed_or_missing_source_tree_is_infrastructure_trouble() {
        let dir = tree();
        let files = source::files(dir.path()).unwrap();
        let sha = source::hash(dir.path(), &files).unwrap();
        let ok = source_at(dir.path(), &sha).unwrap();
        assert_eq!(ok.sha256, sha);
        let changed = source_at(dir.path(), &"0".repeat(64)).unwrap_err();
        assert_eq!(changed.exit_code(), 3);
        assert!(changed
            .message()
            .contains("changed since this bootmatrix was built"));
        let gone = source_at(&dir.path().join("nope"), &sha).unwrap_err();
        assert_eq!(gone.exit_code(), 3);
        assert!(gone.message().contains("which is gone"), "{gone}");
    }

    #[test]
    fn the_running_harness_finds_its_own_source() {
        // Built by cargo from this tree, so the tree is there and the same.
        let s = running_source().unwrap();
        assert!(s.files.iter().any(|f| f == "harness/src/images/harness.rs"));
    }

    #[test]
    fn the_key_follows_the_source() {
        assert_ne!(build_key("a"), build_key("b"));
        assert_eq!(build_key("a"), build_key("a"));
    }

    #[test]
    fn missing_pieces_name_the_debian_packages_of_the_release() {
        use ToolchainPiece::*;
        let all = [Cargo, Rustc, TargetStd, CrossGcc, CrossLibc];
        assert_eq!(
            toolchain_packages(&all, "bookworm", false),
            [
                "cargo-web",
                "rustc-web",
                "libstd-rust-web-dev:ppc64el",
                "gcc-powerpc64le-linux-gnu",
                "libc6-dev-ppc64el-cross"
            ]
        );
        assert_eq!(
            toolchain_packages(&[Rustc, TargetStd], "trixie", false),
            ["rustc", "libstd-rust-dev:ppc64el"]
        );
        assert_eq!(
            toolchain_packages(&[CrossGcc, CrossLibc], "trixie", true),
            ["gcc", "libc6-dev"]
        );
        let e = toolchain_error(&[CrossLibc], "bookworm", false);
        assert_eq!(e.exit_code(), 3);
        assert!(
            e.message()
                .contains("`apt-get install libc6-dev-ppc64el-cross`"),
            "{e}"
        );
    }

    #[test]
    fn a_binary_for_this_machine_is_refused() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        if std::env::consts::ARCH != "powerpc64" {
            assert_eq!(
                check_binary(&me),
                Err("is not a little-endian 64-bit POWER executable".into())
            );
        }
        assert!(check_binary(b"not an ELF file").is_err());
    }

    #[test]
    fn the_fetch_line_says_whether_it_was_built() {
        let mut b = HarnessBinary {
            path: "/c/blobs/sha256/ab".into(),
            sha256: "ab".repeat(32),
            source_root: "/src".into(),
            source_sha256: "cd".repeat(32),
            cached: true,
            build_time: None,
        };
        assert!(b.fetch_line().starts_with("cached  ppc64le bootmatrix"));
        b.cached = false;
        b.build_time = Some(Duration::from_secs(139));
        let line = b.fetch_line();
        assert!(line.starts_with("built   ppc64le bootmatrix"), "{line}");
        assert!(line.ends_with("built in 139s)"), "{line}");
    }
}
