//! The kernel under test: where it comes from (`--kernel NAME=SOURCE`) and
//! which release it is.
//!
//! Qualifying a kernel release means booting a kernel nobody wrote an image
//! description for: a vmlinux just built, the `.deb` or `.xbps` it was
//! packaged in, a download, or a package in an xbps repository. A
//! [`KernelSource`] is that one word of the command line, parsed without
//! touching the disk; [`KernelSource::image_spec`] turns it into an
//! ordinary [`ImageSpec`], so the [`super::Store`] fetches, verifies and
//! caches it under the same rules as every described image.
//!
//! [`kernel_release`] reads the release a kernel image names in its own
//! banner, which the guest must report back: a guest that boots some other
//! kernel than the one it was given fails.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::OnceLock;

use super::spec::{
    is_xbps_package_name, ArchiveKind, ImageSpec, Source, XbpsRepository, XbpsSource, XbpsTrust,
    XBPS_KERNEL_MEMBER,
};
use super::xbps::XbpsArch;
use crate::{Error, Result};

/// Where the kernel under test comes from, as `--kernel NAME=SOURCE` says.
///
/// The forms of SOURCE:
/// - `PATH`: a local file: an ELF vmlinux, a Debian package (`.deb`) or a
///   Void package (`.xbps`), told apart by their first bytes, not by name.
///   From a package the harness takes `boot/vmlinux-*`.
/// - `https://HOST/PATH#sha256=HEX`: a download, pinned by the SHA-256 of
///   its bytes; again a vmlinux, `.deb` or `.xbps` (plain `http://` is
///   accepted too: the hash protects the bytes).
/// - `xbps:REPO#PKGNAME[@ARCH][,key=KEY.pem][,insecure]`: a package by name
///   from an xbps repository, a directory (`void-packages/hostdir/binpkgs`)
///   or an http(s) URL. `ARCH` is `ppc64le` (the default), `ppc64le-musl`,
///   `ppc64` or `ppc64-musl`. A remote repository's packages are verified
///   by their `.sig2` signatures with the RSA public key `key=` names (it
///   must be the key the repository announces); `insecure` accepts an
///   unsigned remote repository instead.
///
/// Relative paths (file, repository directory, key) are resolved by
/// [`KernelSource::image_spec`] against the directory it is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelSource {
    /// A local vmlinux, `.deb` or `.xbps`.
    File(PathBuf),
    /// A download pinned by hash.
    Url {
        /// The URL without the `#sha256=…` fragment.
        url: String,
        /// Lower-case hex SHA-256 of the downloaded bytes.
        sha256: String,
    },
    /// A package by name from an xbps repository.
    Xbps {
        /// The repository; a relative directory is not yet resolved.
        repository: XbpsRepository,
        /// Package name, e.g. `linux6.1`.
        package: String,
        /// The repository's architecture to read.
        arch: XbpsArch,
        /// `key=`: the public key (PEM) that must have signed the package.
        key: Option<PathBuf>,
        /// `insecure`: accept a remote repository without checking signatures.
        insecure: bool,
    },
}

impl FromStr for KernelSource {
    type Err = Error;

    /// Parses SOURCE; a malformed one is [`Error::BadInput`] saying which
    /// form was meant and what it lacks.
    fn from_str(text: &str) -> Result<KernelSource> {
        let bad = |what: String| Error::bad_input(format!("kernel source `{text}`: {what}"));
        let t = text.trim();
        if t.is_empty() {
            return Err(bad(
                "empty; give a vmlinux, .deb or .xbps file, an https URL with \
                            #sha256=HEX, or xbps:REPO#PKGNAME"
                    .to_owned(),
            ));
        }
        if let Some(rest) = t.strip_prefix("xbps:") {
            return parse_xbps(rest).map_err(bad);
        }
        let lower = t.to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            let (url, fragment) = t.split_once('#').unwrap_or((t, ""));
            let Some(hex) = fragment.strip_prefix("sha256=") else {
                return Err(bad(
                    "a URL must be pinned by the hash of its bytes: append #sha256=HEX \
                     (`sha256sum` of the file)"
                        .to_owned(),
                ));
            };
            let sha256 = hex.to_ascii_lowercase();
            if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad(format!("`{hex}` is not a SHA-256 (64 hex digits)")));
            }
            return Ok(KernelSource::Url {
                url: url.to_owned(),
                sha256,
            });
        }
        if let Some((scheme, _)) = t.split_once("://") {
            return Err(bad(format!(
                "`{scheme}://` is not supported; use a local file, an http(s) URL or xbps:REPO#PKGNAME"
            )));
        }
        Ok(KernelSource::File(PathBuf::from(t)))
    }
}

/// `REPO#PKGNAME[@ARCH][,key=FILE][,insecure]`, the part after `xbps:`.
fn parse_xbps(rest: &str) -> std::result::Result<KernelSource, String> {
    let Some((repo, package_part)) = rest.rsplit_once('#') else {
        return Err(
            "name the package: xbps:REPO#PKGNAME (e.g. xbps:hostdir/binpkgs#linux6.1)".to_owned(),
        );
    };
    let mut parts = package_part.split(',');
    let pkg_arch = parts.next().unwrap_or_default();
    let (package, arch) = match pkg_arch.split_once('@') {
        Some((p, a)) => (p, a.parse::<XbpsArch>()?),
        None => (pkg_arch, XbpsArch::Ppc64le),
    };
    if !is_xbps_package_name(package) {
        return Err(format!(
            "`{package}` is not an xbps package name (such as `linux6.1`)"
        ));
    }
    // Relative directories stay relative until image_spec resolves them.
    let repository = XbpsRepository::from_text(repo, Path::new(""))?;
    let mut key = None;
    let mut insecure = false;
    for option in parts {
        match option.split_once('=') {
            Some(("key", path)) if !path.is_empty() => key = Some(PathBuf::from(path)),
            None if option == "insecure" => insecure = true,
            _ => {
                return Err(format!(
                    "unknown option `{option}` after the package (expected `key=FILE.pem` or `insecure`)"
                ))
            }
        }
    }
    if key.is_some() && insecure {
        return Err("give either key=FILE.pem or insecure, not both".to_owned());
    }
    if repository.is_remote() && key.is_none() && !insecure {
        return Err(format!(
            "{repository} is remote: its packages are verified by their .sig2 signatures, so name \
             the repository's RSA public key with `,key=FILE.pem` after the package, or add \
             `,insecure` to accept an unsigned repository"
        ));
    }
    if !repository.is_remote() && insecure {
        return Err(
            "`insecure` is for remote repositories; a local one is never verified \
                    beyond its hashes"
                .to_owned(),
        );
    }
    Ok(KernelSource::Xbps {
        repository,
        package: package.to_owned(),
        arch,
        key,
        insecure,
    })
}

impl fmt::Display for KernelSource {
    /// The SOURCE as it would be written on the command line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelSource::File(p) => write!(f, "{}", p.display()),
            KernelSource::Url { url, sha256 } => write!(f, "{url}#sha256={sha256}"),
            KernelSource::Xbps {
                repository,
                package,
                arch,
                key,
                insecure,
            } => {
                write!(f, "xbps:{repository}#{package}@{arch}")?;
                if let Some(k) = key {
                    write!(f, ",key={}", k.display())?;
                }
                if *insecure {
                    f.write_str(",insecure")?;
                }
                Ok(())
            }
        }
    }
}

impl KernelSource {
    /// The image description this source stands for, named `name` (the
    /// kernel's name in the matrix); relative paths are resolved against
    /// `base_dir` (the directory the command was run from).
    ///
    /// The image is the kernel ELF: a file or download is taken as it is
    /// when it is a vmlinux, and `boot/vmlinux-*` is taken out of it when
    /// it is a `.deb` or `.xbps`; a repository package gives its
    /// `boot/vmlinux-*`. Messages about it name `--kernel NAME=SOURCE` where
    /// they would name a description file.
    pub fn image_spec(&self, name: &str, base_dir: &Path) -> ImageSpec {
        let (source, archive) = match self {
            KernelSource::File(p) => (
                Source::File {
                    path: base_dir.join(p),
                    sha256: None,
                },
                ArchiveKind::Detect,
            ),
            KernelSource::Url { url, sha256 } => (
                Source::Url {
                    url: url.clone(),
                    sha256: sha256.clone(),
                    size: None,
                },
                ArchiveKind::Detect,
            ),
            KernelSource::Xbps {
                repository,
                package,
                arch,
                key,
                ..
            } => (
                Source::Xbps(XbpsSource {
                    package: package.clone(),
                    repository: match repository {
                        XbpsRepository::Dir(d) => XbpsRepository::Dir(base_dir.join(d)),
                        remote => remote.clone(),
                    },
                    arch: *arch,
                    trust: match key {
                        Some(k) => XbpsTrust::Key(base_dir.join(k)),
                        None => XbpsTrust::Unverified,
                    },
                }),
                ArchiveKind::Xbps,
            ),
        };
        ImageSpec {
            name: name.to_owned(),
            description: Some(format!("kernel under test: {self}")),
            source,
            member: Some(XBPS_KERNEL_MEMBER.to_owned()),
            decompress: None,
            archive: Some(archive),
            description_file: PathBuf::from(format!("--kernel {name}={self}")),
            kernel_build: None,
        }
    }
}

/// The release a kernel image names in its own banner
/// (`Linux version 6.1.0-50-powerpc64le (debian-kernel@…) …`), e.g.
/// `6.1.0-50-powerpc64le`; `None` when `vmlinux` holds no banner (not an
/// uncompressed kernel).
///
/// This is what `uname -r` reports once the kernel runs, so comparing the
/// two proves the guest booted the kernel it was given.
pub fn kernel_release(vmlinux: &[u8]) -> Option<String> {
    static BANNER: OnceLock<regex::bytes::Regex> = OnceLock::new();
    // init/version-timestamp.c: "Linux version " UTS_RELEASE " (" COMPILE_BY "@" …
    let re = BANNER.get_or_init(|| {
        regex::bytes::Regex::new(r"Linux version ([0-9][!-~]*) \([!-~]+@").expect("a valid pattern")
    });
    let m = re.captures(vmlinux)?.get(1)?;
    String::from_utf8(m.as_bytes().to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<KernelSource> {
        s.parse()
    }

    #[test]
    fn files_urls_and_repositories() {
        assert_eq!(
            parse("build/vmlinux").unwrap(),
            KernelSource::File("build/vmlinux".into())
        );
        let sha = "AB".repeat(32);
        assert_eq!(
            parse(&format!("https://h/k/linux.xbps#sha256={sha}")).unwrap(),
            KernelSource::Url {
                url: "https://h/k/linux.xbps".into(),
                sha256: sha.to_ascii_lowercase()
            }
        );
        assert_eq!(
            parse("xbps:hostdir/binpkgs#linux6.1").unwrap(),
            KernelSource::Xbps {
                repository: XbpsRepository::Dir("hostdir/binpkgs".into()),
                package: "linux6.1".into(),
                arch: XbpsArch::Ppc64le,
                key: None,
                insecure: false
            }
        );
        assert_eq!(
            parse("xbps:https://repo.example/current/#linux6.6@ppc64-musl,key=void.pem").unwrap(),
            KernelSource::Xbps {
                repository: XbpsRepository::Url("https://repo.example/current".into()),
                package: "linux6.6".into(),
                arch: XbpsArch::Ppc64Musl,
                key: Some("void.pem".into()),
                insecure: false
            }
        );
        let s = parse("xbps:http://127.0.0.1:8/r#linux6.1,insecure").unwrap();
        assert_eq!(
            s.to_string(),
            "xbps:http://127.0.0.1:8/r#linux6.1@ppc64le,insecure"
        );
    }

    #[test]
    fn malformed_sources_say_what_is_missing() {
        let cases = [
            ("", "empty"),
            ("https://h/vmlinux", "#sha256=HEX"),
            ("https://h/vmlinux#sha256=12", "not a SHA-256"),
            ("ftp://h/vmlinux", "`ftp://` is not supported"),
            ("xbps:hostdir/binpkgs", "name the package"),
            ("xbps:hostdir/binpkgs#linux 6.1", "not an xbps package name"),
            (
                "xbps:hostdir/binpkgs#linux6.1@x86_64",
                "unknown xbps architecture `x86_64`",
            ),
            ("xbps:https://r#linux6.1", ",key=FILE.pem"),
            ("xbps:https://r#linux6.1,key=a.pem,insecure", "not both"),
            ("xbps:binpkgs#linux6.1,insecure", "for remote repositories"),
            ("xbps:binpkgs#linux6.1,sign=x", "unknown option `sign=x`"),
            (
                "xbps:ftp://r#linux6.1",
                "neither a directory nor an http(s) URL",
            ),
        ];
        for (text, want) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{text}: {e}");
            assert!(
                e.message()
                    .starts_with(&format!("kernel source `{text}`: ")),
                "{e}"
            );
            assert!(e.message().contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn image_specs_resolve_paths_and_take_the_kernel() {
        let base = Path::new("/work/q");
        let s = parse("out/vmlinux").unwrap().image_spec("debian-64k", base);
        assert_eq!(
            s.source,
            Source::File {
                path: "/work/q/out/vmlinux".into(),
                sha256: None
            }
        );
        assert_eq!(
            (s.archive, s.member.as_deref()),
            (Some(ArchiveKind::Detect), Some("boot/vmlinux-*"))
        );
        assert_eq!(s.name, "debian-64k");
        assert_eq!(
            s.description_file,
            PathBuf::from("--kernel debian-64k=out/vmlinux")
        );

        let s = parse("xbps:binpkgs#linux6.1,key=k.pem")
            .unwrap()
            .image_spec("void", base);
        let Source::Xbps(x) = &s.source else {
            panic!("{s:?}")
        };
        assert_eq!(x.repository, XbpsRepository::Dir("/work/q/binpkgs".into()));
        assert_eq!(x.trust, XbpsTrust::Key("/work/q/k.pem".into()));
        assert_eq!(s.archive, Some(ArchiveKind::Xbps));

        let s = parse("xbps:https://r/x#linux6.1,insecure")
            .unwrap()
            .image_spec("void", base);
        let Source::Xbps(x) = &s.source else {
            panic!("{s:?}")
        };
        assert_eq!(
            (x.trust.clone(), x.repository.clone()),
            (
                XbpsTrust::Unverified,
                XbpsRepository::Url("https://r/x".into())
            )
        );
    }

    #[test]
    fn the_release_comes_from_the_banner() {
        let mut blob = b"\x7fELF\x02\x01\x01".to_vec();
        blob.extend(vec![0u8; 4096]);
        // A format string is not the banner.
        blob.extend_from_slice(b"%s version %s (%s)\0Linux version \0");
        blob.extend_from_slice(
            b"Linux version 6.1.99_1 (void-buildslave@a-hrm-musl) (powerpc64le-linux-gnu-gcc (GCC) 12.2.0, GNU ld 2.41) #1 SMP PREEMPT_DYNAMIC 1\n\0",
        );
        blob.extend(vec![0xffu8; 100]);
        assert_eq!(kernel_release(&blob).as_deref(), Some("6.1.99_1"));
        assert_eq!(kernel_release(b"\x7fELF no banner here"), None);
        assert_eq!(
            kernel_release(
                b"xxLinux version 6.1.0-50-powerpc64le (debian-kernel@lists.debian.org) (gcc-12)"
            )
            .as_deref(),
            Some("6.1.0-50-powerpc64le")
        );
    }
}
