//! Image descriptions: `images/<name>.toml`, parsed and checked before any
//! byte is fetched, so that a typo costs a line number rather than a download.
//!
//! A description is flat: one source key (`url`, `file` or `apt`) and the keys
//! that belong to that kind of source. Keys that do not belong are refused with
//! the line they are on, because a silently ignored `sha256` on an apt source
//! would look like a pin while pinning nothing.
//!
//! Keys (all top level):
//! - `description`: free text for reports.
//! - `url` + `sha256` (required), `size`, `allow_http`: a download; the hash is
//!   of the bytes the server sends.
//! - `file` (+ optional `sha256` pin): a local file, relative to the description.
//! - `apt` + `arch` (required), `version`, `release` (apt `-t`),
//!   `resolve_depends`: a Debian package from the machine's apt lists.
//! - `member`: a glob naming the one file to take out of a .deb or tar.
//! - `decompress` (`gz`, `xz`, `zst`, `none`) and `archive` (`deb`, `tar`):
//!   only when the URL's or file's extension does not tell.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::{Error, Result};

/// One guest image as its description file tells how to obtain it.
///
/// Matrices refer to images by file stem; the spec carries everything the
/// [`super::Store`] needs to produce the same verified bytes on any machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    /// The file stem the matrices use, e.g. `debian-busybox`.
    pub name: String,
    /// What the image is and why the matrix uses it, for reports and listings.
    pub description: Option<String>,
    /// Where the bytes come from.
    pub source: Source,
    /// A glob selecting the one file to take out of an archive or package
    /// (`boot/vmlinux-*`); `None` keeps the fetched file whole.
    pub member: Option<String>,
    /// How the fetched bytes are compressed as a whole (`None`: they are not,
    /// or they are an archive whose own format handles compression).
    pub decompress: Option<Compression>,
    /// The archive format `member` is taken from.
    pub archive: Option<ArchiveKind>,
    /// The description file itself, so that errors can point at it.
    pub description_file: PathBuf,
    /// Build a kernel from the fetched source tarball with this config
    /// fragment (`kernel_config`): the image is the resulting `vmlinux`.
    pub kernel_build: Option<KernelBuild>,
}

/// A kernel built by the harness from a source tarball and a config
/// fragment, for what no distribution ships (KVM-PR built in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelBuild {
    /// The fragment file (for messages).
    pub config_path: PathBuf,
    /// Its text: part of the cache key, so editing it rebuilds.
    pub config: String,
    /// Patches (`kernel_patches`, unified diffs for `patch -p1`) applied to
    /// the source tree in order before configuring: for what the kernel
    /// lacks on an emulated host. Their text is part of the cache key too.
    pub patches: Vec<KernelPatch>,
}

/// One patch of a [`KernelBuild`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelPatch {
    /// The patch file (for messages).
    pub path: PathBuf,
    /// Its text.
    pub text: String,
}

/// Where an image's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A download, pinned by the hash of the bytes the server sends.
    Url {
        /// `https://…` (or `http://…` when the description allows it).
        url: String,
        /// Lower-case hex SHA-256 of the downloaded bytes (before decompression).
        sha256: String,
        /// Expected length in bytes, to refuse a wrong file before it is complete.
        size: Option<u64>,
    },
    /// A file on this machine, such as a kernel just built for testing.
    File {
        /// Absolute, or resolved against the description's directory.
        path: PathBuf,
        /// An optional pin; without it the file is hashed and the hash recorded.
        sha256: Option<String>,
    },
    /// A Debian package, resolved with the machine's apt lists.
    Apt(AptSource),
}

/// A Debian package as an image source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptSource {
    /// Package name without architecture, e.g. `busybox-static`.
    pub package: String,
    /// Debian architecture, e.g. `ppc64el`.
    pub arch: String,
    /// An exact Debian version; `None` takes apt's candidate.
    pub version: Option<String>,
    /// A target release (`apt -t`), e.g. `bookworm-backports`, for packages
    /// whose wanted version is not the default candidate.
    pub release: Option<String>,
    /// Follow a metapackage's single dependency to the package that holds
    /// the files (`linux-image-powerpc64le` → `linux-image-6.1.0-NN-…`).
    pub resolve_depends: bool,
}

/// A whole-stream compression the fetcher undoes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// gzip (`.gz`).
    Gzip,
    /// xz (`.xz`).
    Xz,
    /// Zstandard (`.zst`).
    Zstd,
}

impl Compression {
    /// The name used in descriptions and cache keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Gzip => "gz",
            Compression::Xz => "xz",
            Compression::Zstd => "zst",
        }
    }

    /// The compression a file name's extension announces, if any.
    pub fn from_file_name(name: &str) -> Option<Compression> {
        let name = name.to_ascii_lowercase();
        if name.ends_with(".gz") || name.ends_with(".tgz") {
            Some(Compression::Gzip)
        } else if name.ends_with(".xz") || name.ends_with(".txz") {
            Some(Compression::Xz)
        } else if name.ends_with(".zst") || name.ends_with(".tzst") {
            Some(Compression::Zstd)
        } else {
            None
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An archive format a member can be taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArchiveKind {
    /// A Debian package (ar, holding a compressed `data.tar`).
    Deb,
    /// A tar archive (after any whole-stream decompression).
    Tar,
}

impl ArchiveKind {
    /// The name used in descriptions and cache keys.
    pub fn as_str(self) -> &'static str {
        match self {
            ArchiveKind::Deb => "deb",
            ArchiveKind::Tar => "tar",
        }
    }

    /// The archive format a file name announces, if any.
    pub fn from_file_name(name: &str) -> Option<ArchiveKind> {
        let name = name.to_ascii_lowercase();
        let stem = [".gz", ".xz", ".zst"]
            .iter()
            .find_map(|ext| name.strip_suffix(ext))
            .unwrap_or(&name);
        if stem.ends_with(".deb") {
            Some(ArchiveKind::Deb)
        } else if stem.ends_with(".tar")
            || [".tgz", ".txz", ".tzst"].iter().any(|e| name.ends_with(e))
        {
            Some(ArchiveKind::Tar)
        } else {
            None
        }
    }
}

impl fmt::Display for ArchiveKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ImageSpec {
    /// A one-line account of the source, for messages.
    pub fn source_label(&self) -> String {
        match &self.source {
            Source::Url { url, .. } => url.clone(),
            Source::File { path, .. } => path.display().to_string(),
            Source::Apt(apt) => format!("apt {}:{}", apt.package, apt.arch),
        }
    }
}

/// The keys a description may hold, as written. Every value keeps its span so
/// that later checks can still name the line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    description: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    sha256: Option<Spanned<String>>,
    size: Option<Spanned<u64>>,
    allow_http: Option<Spanned<bool>>,
    file: Option<Spanned<String>>,
    apt: Option<Spanned<String>>,
    arch: Option<Spanned<String>>,
    version: Option<Spanned<String>>,
    release: Option<Spanned<String>>,
    resolve_depends: Option<Spanned<bool>>,
    member: Option<Spanned<String>>,
    kernel_config: Option<Spanned<String>>,
    kernel_patches: Option<Spanned<Vec<String>>>,
    decompress: Option<Spanned<String>>,
    archive: Option<Spanned<String>>,
}

/// Points errors at `path:line`.
struct Locator<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Locator<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// `path:line: key `k`: what`, the shape every description error takes.
    fn at(&self, span: Range<usize>, key: &str, what: impl fmt::Display) -> Error {
        Error::bad_input(format!(
            "{}:{}: key `{key}`: {what}",
            self.path.display(),
            self.line_of(span.start)
        ))
    }

    /// An error about the file as a whole (no line to point at).
    fn whole(&self, what: impl fmt::Display) -> Error {
        Error::bad_input(format!("{}:1: {what}", self.path.display()))
    }
}

/// Loads `images/<name>.toml` and checks it.
///
/// A bad file is [`Error::BadInput`] naming `path:line: key `k`: what is wrong`,
/// so the user can fix the description without reading harness code.
pub fn load(images_dir: &Path, name: &str) -> Result<ImageSpec> {
    if name.is_empty()
        || name.starts_with('.')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(Error::bad_input(format!(
            "image name `{name}` is not a file stem: use letters, digits, `-`, `_` and `.` \
             (the matrix names images/<name>.toml by its stem)"
        )));
    }
    let path = images_dir.join(format!("{name}.toml"));
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let known = available(images_dir);
            let hint = if known.is_empty() {
                format!("{} holds no descriptions", images_dir.display())
            } else {
                format!("known images: {}", known.join(", "))
            };
            return Err(Error::bad_input(format!(
                "no image description {}: create it or fix the image name in the matrix ({hint})",
                path.display()
            )));
        }
        Err(err) => return Err(Error::io(&path, "cannot read image description", err)),
    };
    parse(&path, name, &text)
}

/// The stems of the descriptions in `images_dir`, sorted, for hints.
fn available(images_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(images_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            (p.extension()? == "toml").then(|| p.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    names
}

/// Parses and checks the text of a description read from `path`.
pub(crate) fn parse(path: &Path, name: &str, text: &str) -> Result<ImageSpec> {
    let loc = Locator { path, text };
    let raw: RawSpec = toml::from_str(text).map_err(|err| {
        let line = err.span().map(|s| loc.line_of(s.start)).unwrap_or(1);
        let msg = err.message().trim_end().to_owned();
        // serde names the key in "unknown field `k`" and "missing field `k`".
        let key = msg
            .split('`')
            .nth(1)
            .filter(|_| msg.contains("field `"))
            .map(str::to_owned)
            .or_else(|| key_on_line(text, line));
        match key {
            Some(key) => Error::bad_input(format!("{}:{line}: key `{key}`: {msg}", path.display())),
            None => Error::bad_input(format!("{}:{line}: {msg}", path.display())),
        }
    })?;

    let sources: Vec<(&str, Range<usize>)> = [
        ("url", raw.url.as_ref().map(Spanned::span)),
        ("file", raw.file.as_ref().map(Spanned::span)),
        ("apt", raw.apt.as_ref().map(Spanned::span)),
    ]
    .into_iter()
    .filter_map(|(k, s)| Some((k, s?)))
    .collect();
    if sources.is_empty() {
        return Err(loc.whole(
            "no source: set exactly one of `url = \"https://…\"`, `file = \"path\"` or \
             `apt = \"package\"`",
        ));
    }
    if sources.len() > 1 {
        let (key, span) = sources[1].clone();
        return Err(loc.at(
            span,
            key,
            format!(
                "a description has one source, and `{}` is already set",
                sources[0].0
            ),
        ));
    }

    // Keys that only make sense for some sources.
    let kind = sources[0].0;
    let only = |key: &str, span: Option<Range<usize>>, allowed: &[&str]| -> Result<()> {
        match span {
            Some(span) if !allowed.contains(&kind) => Err(loc.at(
                span,
                key,
                format!(
                    "not used with a `{kind}` source (only with {}); remove it",
                    allowed
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            )),
            _ => Ok(()),
        }
    };
    only(
        "sha256",
        raw.sha256.as_ref().map(Spanned::span),
        &["url", "file"],
    )?;
    only("size", raw.size.as_ref().map(Spanned::span), &["url"])?;
    only(
        "allow_http",
        raw.allow_http.as_ref().map(Spanned::span),
        &["url"],
    )?;
    only("arch", raw.arch.as_ref().map(Spanned::span), &["apt"])?;
    only("version", raw.version.as_ref().map(Spanned::span), &["apt"])?;
    only("release", raw.release.as_ref().map(Spanned::span), &["apt"])?;
    only(
        "resolve_depends",
        raw.resolve_depends.as_ref().map(Spanned::span),
        &["apt"],
    )?;
    only(
        "decompress",
        raw.decompress.as_ref().map(Spanned::span),
        &["url", "file"],
    )?;
    only(
        "archive",
        raw.archive.as_ref().map(Spanned::span),
        &["url", "file"],
    )?;

    let check_sha = |s: &Spanned<String>| -> Result<String> {
        let v = s.get_ref().trim().to_ascii_lowercase();
        if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(v)
        } else {
            Err(loc.at(
                s.span(),
                "sha256",
                format!(
                    "`{}` is not a SHA-256 (64 hex digits); compute it with `sha256sum FILE`",
                    s.get_ref()
                ),
            ))
        }
    };

    let (source, source_name) = if let Some(url) = &raw.url {
        let u = url.get_ref().trim().to_owned();
        let allow_http = raw.allow_http.as_ref().is_some_and(|a| *a.get_ref());
        let lower = u.to_ascii_lowercase();
        if lower.starts_with("http://") {
            if !allow_http {
                return Err(loc.at(
                    url.span(),
                    "url",
                    format!(
                        "`{u}` is plain http; use https, or add `allow_http = true` if the \
                         server offers nothing else (the sha256 still protects the bytes)"
                    ),
                ));
            }
        } else if !lower.starts_with("https://") {
            return Err(loc.at(url.span(), "url", format!("`{u}` is not an https:// URL")));
        }
        let Some(sha) = &raw.sha256 else {
            return Err(loc.at(
                url.span(),
                "sha256",
                "missing: a `url` source must be pinned with `sha256 = \"…\"` \
                 (download once and run `sha256sum` on it)",
            ));
        };
        let name = u.split(['?', '#']).next().unwrap_or(&u);
        let name = name.rsplit('/').next().unwrap_or(name).to_owned();
        (
            Source::Url {
                sha256: check_sha(sha)?,
                url: u,
                size: raw.size.as_ref().map(|s| *s.get_ref()),
            },
            name,
        )
    } else if let Some(file) = &raw.file {
        let f = file.get_ref();
        if f.trim().is_empty() {
            return Err(loc.at(file.span(), "file", "empty path"));
        }
        let p = PathBuf::from(f);
        let p = if p.is_absolute() {
            p
        } else {
            path.parent().unwrap_or(Path::new(".")).join(p)
        };
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        (
            Source::File {
                path: p,
                sha256: raw.sha256.as_ref().map(check_sha).transpose()?,
            },
            name,
        )
    } else {
        let apt = raw.apt.as_ref().expect("one source is set");
        let pkg = apt.get_ref().trim();
        if pkg.is_empty() || pkg.contains([':', '=', ' ', '/']) {
            return Err(loc.at(
                apt.span(),
                "apt",
                format!(
                    "`{pkg}` is not a bare package name; put the architecture in `arch` and \
                     a version in `version`"
                ),
            ));
        }
        let Some(arch) = &raw.arch else {
            return Err(loc.at(
                apt.span(),
                "arch",
                "missing: an `apt` source names its Debian architecture, e.g. `arch = \"ppc64el\"`",
            ));
        };
        let nonempty = |s: &Spanned<String>, key: &str| -> Result<String> {
            let v = s.get_ref().trim();
            if v.is_empty() || v.contains(char::is_whitespace) {
                Err(loc.at(s.span(), key, format!("`{v}` must be one non-empty word")))
            } else {
                Ok(v.to_owned())
            }
        };
        (
            Source::Apt(AptSource {
                package: pkg.to_owned(),
                arch: nonempty(arch, "arch")?,
                version: raw
                    .version
                    .as_ref()
                    .map(|v| nonempty(v, "version"))
                    .transpose()?,
                release: raw
                    .release
                    .as_ref()
                    .map(|v| nonempty(v, "release"))
                    .transpose()?,
                resolve_depends: raw.resolve_depends.as_ref().is_some_and(|r| *r.get_ref()),
            }),
            String::from("package.deb"),
        )
    };

    let decompress = match &raw.decompress {
        Some(d) => match d.get_ref().as_str() {
            "gz" | "gzip" => Some(Compression::Gzip),
            "xz" => Some(Compression::Xz),
            "zst" | "zstd" => Some(Compression::Zstd),
            "none" => None,
            other => {
                return Err(loc.at(
                    d.span(),
                    "decompress",
                    format!("unknown compression `{other}` (expected gz, xz, zst or none)"),
                ))
            }
        },
        None if matches!(source, Source::Apt(_)) => None,
        // A compressed archive is decompressed as part of reading the archive.
        None => Compression::from_file_name(&source_name),
    };
    let archive = match &raw.archive {
        Some(a) => match a.get_ref().as_str() {
            "deb" => Some(ArchiveKind::Deb),
            "tar" => Some(ArchiveKind::Tar),
            other => {
                return Err(loc.at(
                    a.span(),
                    "archive",
                    format!("unknown archive format `{other}` (expected deb or tar)"),
                ))
            }
        },
        None if matches!(source, Source::Apt(_)) => Some(ArchiveKind::Deb),
        None => ArchiveKind::from_file_name(&source_name),
    };

    let member = match &raw.member {
        None => None,
        Some(m) => {
            let pattern = m.get_ref().trim().trim_start_matches("./").to_owned();
            if pattern.is_empty() || pattern.starts_with('/') {
                return Err(loc.at(
                    m.span(),
                    "member",
                    "give a relative path or glob inside the archive, e.g. `boot/vmlinux-*`",
                ));
            }
            if let Err(err) = glob::Pattern::new(&pattern) {
                return Err(loc.at(m.span(), "member", format!("bad glob `{pattern}`: {err}")));
            }
            if archive.is_none() {
                return Err(loc.at(
                    m.span(),
                    "member",
                    format!(
                        "`{source_name}` is not a known archive (.deb, .tar, .tar.gz, .tar.xz, \
                         .tar.zst); add `archive = \"deb\"` or `archive = \"tar\"`"
                    ),
                ));
            }
            Some(pattern)
        }
    };
    // A .deb carries its own compression inside; never gunzip it as a whole.
    let decompress = if archive == Some(ArchiveKind::Deb) && raw.decompress.is_none() {
        None
    } else {
        decompress
    };

    let kernel_build = match &raw.kernel_config {
        None => None,
        Some(c) => {
            if kind != "apt" || raw.member.is_none() {
                return Err(loc.at(
                    c.span(),
                    "kernel_config",
                    "builds a kernel from a source package: use it with `apt` (e.g. `linux-source-6.12`) \
                     and a `member` naming the source tarball",
                ));
            }
            let config_path = path.parent().unwrap_or(Path::new(".")).join(c.get_ref());
            let config = std::fs::read_to_string(&config_path).map_err(|e| {
                loc.at(
                    c.span(),
                    "kernel_config",
                    format!("cannot read {}: {e}", config_path.display()),
                )
            })?;
            let mut patches = Vec::new();
            for name in raw.kernel_patches.iter().flat_map(|p| p.get_ref()) {
                let patch_path = path.parent().unwrap_or(Path::new(".")).join(name);
                let span = raw.kernel_patches.as_ref().expect("iterating it").span();
                let text = std::fs::read_to_string(&patch_path).map_err(|e| {
                    loc.at(
                        span.clone(),
                        "kernel_patches",
                        format!("cannot read {}: {e}", patch_path.display()),
                    )
                })?;
                if !text.lines().any(|l| l.starts_with("+++ ")) {
                    return Err(loc.at(
                        span,
                        "kernel_patches",
                        format!(
                            "{} is not a unified diff (no `+++` line)",
                            patch_path.display()
                        ),
                    ));
                }
                patches.push(KernelPatch {
                    path: patch_path,
                    text,
                });
            }
            Some(KernelBuild {
                config_path,
                config,
                patches,
            })
        }
    };
    if let (Some(p), None) = (&raw.kernel_patches, &raw.kernel_config) {
        return Err(loc.at(
            p.span(),
            "kernel_patches",
            "patches a kernel the harness builds: add `kernel_config`",
        ));
    }
    Ok(ImageSpec {
        kernel_build,
        name: name.to_owned(),
        description: raw.description.map(Spanned::into_inner),
        source,
        member,
        decompress,
        archive: if raw.member.is_some() { archive } else { None },
        description_file: path.to_owned(),
    })
}

/// The key assigned on line `line` of `text`, if that line is `key = …`.
fn key_on_line(text: &str, line: usize) -> Option<String> {
    let l = text.lines().nth(line.checked_sub(1)?)?;
    let (key, _) = l.split_once('=')?;
    let key = key.trim();
    (!key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
    .then(|| key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<ImageSpec> {
        parse(Path::new("images/x.toml"), "x", text)
    }

    #[test]
    fn apt_description_with_member_and_release() {
        let s = p(r#"
description = "kernel"
apt = "linux-image-powerpc64le"
arch = "ppc64el"
release = "bookworm-backports"
resolve_depends = true
member = "./boot/vmlinux-*"
"#)
        .unwrap();
        assert_eq!(s.member.as_deref(), Some("boot/vmlinux-*"));
        assert_eq!(s.archive, Some(ArchiveKind::Deb));
        assert_eq!(s.decompress, None);
        let Source::Apt(apt) = s.source else {
            panic!("not apt")
        };
        assert_eq!(apt.package, "linux-image-powerpc64le");
        assert_eq!(apt.release.as_deref(), Some("bookworm-backports"));
        assert!(apt.resolve_depends);
    }

    #[test]
    fn url_compression_and_archive_follow_the_extension() {
        let sha = "a".repeat(64);
        let s = p(&format!(
            "url = \"https://h/x/vmlinux.xz\"\nsha256 = \"{sha}\"\n"
        ))
        .unwrap();
        assert_eq!(s.decompress, Some(Compression::Xz));
        assert_eq!(s.archive, None);
        let s = p(&format!(
            "url = \"https://h/a.tar.zst?x=1\"\nsha256 = \"{sha}\"\nmember = \"boot/*\"\n"
        ))
        .unwrap();
        assert_eq!(
            (s.decompress, s.archive),
            (Some(Compression::Zstd), Some(ArchiveKind::Tar))
        );
        let s = p(&format!(
            "url = \"https://h/p.deb\"\nsha256 = \"{sha}\"\nmember = \"b\"\n"
        ))
        .unwrap();
        assert_eq!((s.decompress, s.archive), (None, Some(ArchiveKind::Deb)));
    }

    #[test]
    fn errors_name_path_line_and_key() {
        let e = p("apt = \"busybox-static\"\narch = \"ppc64el\"\nsha256 = \"00\"\n").unwrap_err();
        assert!(matches!(e, Error::BadInput(_)));
        assert!(
            e.message()
                .starts_with("images/x.toml:3: key `sha256`: not used with a `apt` source"),
            "{e}"
        );

        let e = p("url = \"http://h/v\"\nsha256 = \"{}\"\n").unwrap_err();
        assert!(
            e.message().starts_with("images/x.toml:1: key `url`:"),
            "{e}"
        );
        assert!(e.message().contains("allow_http = true"), "{e}");

        let e = p("url = \"https://h/v\"\n").unwrap_err();
        assert!(
            e.message()
                .starts_with("images/x.toml:1: key `sha256`: missing"),
            "{e}"
        );

        let e = p("\n\nurl = \"https://h/v\"\nsha256 = \"xyz\"\n").unwrap_err();
        assert!(
            e.message().starts_with("images/x.toml:4: key `sha256`:"),
            "{e}"
        );

        let e = p("apt = \"busybox-static\"\narch = \"ppc64el\"\nmembr = \"bin/busybox\"\n")
            .unwrap_err();
        assert!(
            e.message().starts_with("images/x.toml:3: key `membr`:"),
            "{e}"
        );

        let e =
            p("apt = \"busybox\"\narch = \"ppc64el\"\nresolve_depends = \"yes\"\n").unwrap_err();
        assert!(
            e.message()
                .starts_with("images/x.toml:3: key `resolve_depends`:"),
            "{e}"
        );

        let e = p("file = \"a\"\napt = \"b\"\n").unwrap_err();
        assert!(
            e.message().starts_with("images/x.toml:2: key `apt`:"),
            "{e}"
        );

        let e = p("file = \"vmlinux\"\nmember = \"x\"\n").unwrap_err();
        assert!(
            e.message().starts_with("images/x.toml:2: key `member`:"),
            "{e}"
        );
    }

    #[test]
    fn http_is_accepted_only_when_allowed() {
        let sha = "0".repeat(64);
        let s = p(&format!(
            "url = \"http://h/v\"\nsha256 = \"{sha}\"\nallow_http = true\n"
        ));
        assert!(s.is_ok(), "{s:?}");
    }

    #[test]
    fn relative_file_paths_resolve_against_the_description() {
        let s = parse(
            Path::new("/r/images/k.toml"),
            "k",
            "file = \"../build/vmlinux\"\n",
        )
        .unwrap();
        assert_eq!(
            s.source,
            Source::File {
                path: PathBuf::from("/r/images/../build/vmlinux"),
                sha256: None
            }
        );
    }

    #[test]
    fn names_that_are_not_stems_are_refused() {
        let e = load(Path::new("/nonexistent"), "../etc/passwd").unwrap_err();
        assert!(matches!(e, Error::BadInput(_)));
        let e = load(Path::new("/nonexistent"), "missing").unwrap_err();
        assert!(e.message().contains("no image description"), "{e}");
    }
}
