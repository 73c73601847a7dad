//! Image descriptions: `images/<name>.toml`, parsed and checked before any
//! byte is fetched, so that a typo costs a line number rather than a download.
//!
//! A description is flat: one source key (`url`, `file`, `apt` or `xbps`)
//! and the keys that belong to that kind of source. Keys that do not belong are refused with
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
//! - `xbps` + `repository` + `arch` (required), `public_key`, `insecure`: a
//!   Void package by name from an xbps repository (a directory such as
//!   `hostdir/binpkgs`, or an http(s) URL). A remote repository's packages
//!   are verified with the named public key (PEM, beside the description)
//!   unless `insecure = true`.
//! - `member`: a glob naming the one file to take out of a .deb, tar or
//!   .xbps (for an .xbps the default is the kernel, `boot/vmlinux-*`).
//! - `decompress` (`gz`, `xz`, `zst`, `none`) and `archive` (`deb`, `tar`,
//!   `xbps`): only when the URL's or file's extension does not tell.
//!
//! Parsing is pure, text in and description out; the files a
//! description names for a kernel build (config fragment, patches) are read
//! afterwards by [`load`], so the format can be checked without a disk.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::xbps::XbpsArch;
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
    /// A Void package by name, from an xbps repository.
    Xbps(XbpsSource),
}

/// A Void package in an xbps repository as an image source: the kernel of
/// an `xbps-src` build (`hostdir/binpkgs`) or of a published repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XbpsSource {
    /// Package name without version, e.g. `linux6.1`.
    pub package: String,
    /// Where `<arch>-repodata` and the packages are.
    pub repository: XbpsRepository,
    /// Which architecture's index to read.
    pub arch: XbpsArch,
    /// What vouches for the packages beyond the index's hashes.
    pub trust: XbpsTrust,
}

/// Where an xbps repository is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XbpsRepository {
    /// A directory on this machine (absolute, or resolved against the
    /// description), such as `void-packages/hostdir/binpkgs`.
    Dir(PathBuf),
    /// An `http://` or `https://` URL, without a trailing slash.
    Url(String),
}

impl XbpsRepository {
    /// A directory, or an http(s) URL when `text` starts with one of those
    /// schemes; a relative directory is resolved against `base`.
    pub fn from_text(text: &str, base: &Path) -> std::result::Result<XbpsRepository, String> {
        let t = text.trim();
        let lower = t.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            Ok(XbpsRepository::Url(t.trim_end_matches('/').to_owned()))
        } else if t.contains("://") {
            Err(format!("`{t}` is neither a directory nor an http(s) URL"))
        } else if t.is_empty() {
            Err("empty repository".to_owned())
        } else {
            Ok(XbpsRepository::Dir(base.join(t)))
        }
    }

    /// True for a repository reached over the network.
    pub fn is_remote(&self) -> bool {
        matches!(self, XbpsRepository::Url(_))
    }

    /// Where `file` of the repository is: a path or a URL, for messages.
    pub fn locate(&self, file: &str) -> String {
        match self {
            XbpsRepository::Dir(d) => d.join(file).display().to_string(),
            XbpsRepository::Url(u) => format!("{u}/{file}"),
        }
    }
}

impl fmt::Display for XbpsRepository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XbpsRepository::Dir(d) => write!(f, "{}", d.display()),
            XbpsRepository::Url(u) => f.write_str(u),
        }
    }
}

/// What vouches for an xbps repository's packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XbpsTrust {
    /// Each package must carry a `.sig2` signature by this RSA public key
    /// (a PEM file), which must also be the key the repository announces
    /// in `index-meta.plist`, if it announces one.
    Key(PathBuf),
    /// Only the index's `filename-sha256` and `filename-size` are checked:
    /// a local repository (xbps-src's are unsigned), or a remote one the
    /// description marks `insecure = true`.
    Unverified,
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
    /// A Void package: a tar compressed as its first bytes say.
    Xbps,
    /// Told by content when the bytes are there: an ELF file is the image
    /// as it is, a Debian or Void package gives its `member`. For a kernel
    /// under test whose kind nobody declared (`--kernel NAME=SOURCE`).
    Detect,
}

impl ArchiveKind {
    /// The name used in descriptions and cache keys.
    pub fn as_str(self) -> &'static str {
        match self {
            ArchiveKind::Deb => "deb",
            ArchiveKind::Tar => "tar",
            ArchiveKind::Xbps => "xbps",
            ArchiveKind::Detect => "detect",
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
        } else if name.ends_with(".xbps") {
            Some(ArchiveKind::Xbps)
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
            Source::Xbps(x) => format!("xbps {} ({}) from {}", x.package, x.arch, x.repository),
        }
    }
}

/// The member a Void package gives when the description names none: its
/// kernel, `./boot/vmlinux-<release>` (Void ships no zImage or vmlinuz).
pub const XBPS_KERNEL_MEMBER: &str = "boot/vmlinux-*";

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
    xbps: Option<Spanned<String>>,
    repository: Option<Spanned<String>>,
    public_key: Option<Spanned<String>>,
    insecure: Option<Spanned<bool>>,
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

/// The kind of source a description declares, by its source key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Url,
    File,
    Apt,
    Xbps,
}

impl Kind {
    fn key(self) -> &'static str {
        match self {
            Kind::Url => "url",
            Kind::File => "file",
            Kind::Apt => "apt",
            Kind::Xbps => "xbps",
        }
    }
}

/// Points errors at `path:line`.
struct Locator<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Locator<'_> {
    fn line_of(&self, offset: usize) -> usize {
        crate::error::line_of(self.text, offset)
    }

    /// The error for the key whose value spans `span`.
    fn at(&self, span: Range<usize>, key: &str, what: impl fmt::Display) -> Error {
        Error::at_key(self.path, self.line_of(span.start), key, what)
    }

    /// An error about the file as a whole (no line to point at).
    fn whole(&self, what: impl fmt::Display) -> Error {
        Error::bad_input(format!("{}:1: {what}", self.path.display()))
    }

    /// A TOML syntax or type error, with the key serde or the line names.
    fn toml(&self, err: toml::de::Error) -> Error {
        let line = err.span().map(|s| self.line_of(s.start)).unwrap_or(1);
        let msg = err.message().trim_end().to_owned();
        // serde names the key in "unknown field `k`" and "missing field `k`".
        let key = msg
            .split('`')
            .nth(1)
            .filter(|_| msg.contains("field `"))
            .map(str::to_owned)
            .or_else(|| key_on_line(self.text, line));
        match key {
            Some(key) => Error::at_key(self.path, line, &key, msg),
            None => Error::bad_input(format!("{}:{line}: {msg}", self.path.display())),
        }
    }
}

/// Loads `images/<name>.toml` and checks it, then reads the files it names
/// (a kernel build's fragment and patches).
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
    parse(&path, name, &text)?.read_build_files()
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

/// A description as its text says: the spec, and the kernel-build files it
/// names, which are not read yet ([`Parsed::read_build_files`]).
#[derive(Debug)]
pub(crate) struct Parsed {
    /// Everything but [`ImageSpec::kernel_build`].
    pub spec: ImageSpec,
    build: Option<BuildFiles>,
}

/// The files a `kernel_config` build names, with the lines that name them.
#[derive(Debug)]
struct BuildFiles {
    config: PathBuf,
    config_line: usize,
    patches: Vec<PathBuf>,
    patches_line: usize,
}

impl Parsed {
    /// Reads the kernel build's fragment and patches into the spec; a file
    /// that cannot be read or is no patch is an error at the line naming it.
    pub(crate) fn read_build_files(self) -> Result<ImageSpec> {
        let Parsed { mut spec, build } = self;
        let Some(b) = build else {
            return Ok(spec);
        };
        let desc = spec.description_file.clone();
        let read = |p: &Path, line: usize, key: &str| {
            std::fs::read_to_string(p).map_err(|e| {
                Error::at_key(
                    &desc,
                    line,
                    key,
                    format!("cannot read {}: {e}", p.display()),
                )
            })
        };
        let config = read(&b.config, b.config_line, "kernel_config")?;
        let mut patches = Vec::new();
        for patch_path in b.patches {
            let text = read(&patch_path, b.patches_line, "kernel_patches")?;
            if !text.lines().any(|l| l.starts_with("+++ ")) {
                return Err(Error::at_key(
                    &desc,
                    b.patches_line,
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
        spec.kernel_build = Some(KernelBuild {
            config_path: b.config,
            config,
            patches,
        });
        Ok(spec)
    }
}

/// Parses and checks the text of a description read from `path`, without
/// reading anything else.
pub(crate) fn parse(path: &Path, name: &str, text: &str) -> Result<Parsed> {
    let loc = Locator { path, text };
    let raw: RawSpec = toml::from_str(text).map_err(|err| loc.toml(err))?;
    let kind = source_kind(&raw, &loc)?;
    check_keys_belong(&raw, kind, &loc)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let (source, source_name) = match kind {
        Kind::Url => url_source(&raw, &loc)?,
        Kind::File => file_source(&raw, &loc, base)?,
        Kind::Apt => apt_source(&raw, &loc)?,
        Kind::Xbps => xbps_source(&raw, &loc, base)?,
    };
    let (decompress, archive, member) = unpacking(&raw, &loc, kind, &source_name)?;
    let build = build_files(&raw, &loc, kind, base)?;
    Ok(Parsed {
        spec: ImageSpec {
            kernel_build: None,
            name: name.to_owned(),
            description: raw.description.map(Spanned::into_inner),
            source,
            member,
            decompress,
            archive,
            description_file: path.to_owned(),
        },
        build,
    })
}

/// The one source key the description sets.
fn source_kind(raw: &RawSpec, loc: &Locator<'_>) -> Result<Kind> {
    let sources: Vec<(Kind, Range<usize>)> = [
        (Kind::Url, raw.url.as_ref().map(Spanned::span)),
        (Kind::File, raw.file.as_ref().map(Spanned::span)),
        (Kind::Apt, raw.apt.as_ref().map(Spanned::span)),
        (Kind::Xbps, raw.xbps.as_ref().map(Spanned::span)),
    ]
    .into_iter()
    .filter_map(|(k, s)| Some((k, s?)))
    .collect();
    match sources.as_slice() {
        [] => Err(loc.whole(
            "no source: set exactly one of `url = \"https://…\"`, `file = \"path\"`, \
             `apt = \"package\"` or `xbps = \"package\"`",
        )),
        [(kind, _)] => Ok(*kind),
        [(first, _), (second, span), ..] => Err(loc.at(
            span.clone(),
            second.key(),
            format!(
                "a description has one source, and `{}` is already set",
                first.key()
            ),
        )),
    }
}

/// A key, where it is (if set) and the source kinds it belongs to.
type KeyRule<'a> = (&'a str, Option<Range<usize>>, &'a [Kind]);

/// Refuses keys that do not belong to the source kind, at their line.
fn check_keys_belong(raw: &RawSpec, kind: Kind, loc: &Locator<'_>) -> Result<()> {
    use Kind::{Apt, File, Url, Xbps};
    let keys: [KeyRule<'_>; 12] = [
        (
            "sha256",
            raw.sha256.as_ref().map(Spanned::span),
            &[Url, File],
        ),
        ("size", raw.size.as_ref().map(Spanned::span), &[Url]),
        (
            "allow_http",
            raw.allow_http.as_ref().map(Spanned::span),
            &[Url],
        ),
        ("arch", raw.arch.as_ref().map(Spanned::span), &[Apt, Xbps]),
        ("version", raw.version.as_ref().map(Spanned::span), &[Apt]),
        ("release", raw.release.as_ref().map(Spanned::span), &[Apt]),
        (
            "resolve_depends",
            raw.resolve_depends.as_ref().map(Spanned::span),
            &[Apt],
        ),
        (
            "repository",
            raw.repository.as_ref().map(Spanned::span),
            &[Xbps],
        ),
        (
            "public_key",
            raw.public_key.as_ref().map(Spanned::span),
            &[Xbps],
        ),
        (
            "insecure",
            raw.insecure.as_ref().map(Spanned::span),
            &[Xbps],
        ),
        (
            "decompress",
            raw.decompress.as_ref().map(Spanned::span),
            &[Url, File],
        ),
        (
            "archive",
            raw.archive.as_ref().map(Spanned::span),
            &[Url, File],
        ),
    ];
    for (key, span, allowed) in keys {
        if let Some(span) = span.filter(|_| !allowed.contains(&kind)) {
            return Err(loc.at(
                span,
                key,
                format!(
                    "not used with a `{}` source (only with {}); remove it",
                    kind.key(),
                    allowed
                        .iter()
                        .map(|a| format!("`{}`", a.key()))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            ));
        }
    }
    Ok(())
}

/// A `sha256` value, lower-cased, or the error at its line.
fn check_sha(s: &Spanned<String>, loc: &Locator<'_>) -> Result<String> {
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
}

/// A value that must be one word (no blanks).
fn one_word(s: &Spanned<String>, key: &str, loc: &Locator<'_>) -> Result<String> {
    let v = s.get_ref().trim();
    if v.is_empty() || v.contains(char::is_whitespace) {
        Err(loc.at(s.span(), key, format!("`{v}` must be one non-empty word")))
    } else {
        Ok(v.to_owned())
    }
}

/// A `url` source and the file name its URL ends in.
fn url_source(raw: &RawSpec, loc: &Locator<'_>) -> Result<(Source, String)> {
    let url = raw.url.as_ref().expect("a url source");
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
    let name = url_file_name(&u);
    Ok((
        Source::Url {
            sha256: check_sha(sha, loc)?,
            url: u,
            size: raw.size.as_ref().map(|s| *s.get_ref()),
        },
        name,
    ))
}

/// The last path segment of a URL, without query or fragment.
pub(crate) fn url_file_name(url: &str) -> String {
    let name = url.split(['?', '#']).next().unwrap_or(url);
    name.rsplit('/').next().unwrap_or(name).to_owned()
}

/// A `file` source and its file name.
fn file_source(raw: &RawSpec, loc: &Locator<'_>, base: &Path) -> Result<(Source, String)> {
    let file = raw.file.as_ref().expect("a file source");
    let f = file.get_ref();
    if f.trim().is_empty() {
        return Err(loc.at(file.span(), "file", "empty path"));
    }
    let p = base.join(f);
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok((
        Source::File {
            path: p,
            sha256: raw.sha256.as_ref().map(|s| check_sha(s, loc)).transpose()?,
        },
        name,
    ))
}

/// An `apt` source.
fn apt_source(raw: &RawSpec, loc: &Locator<'_>) -> Result<(Source, String)> {
    let apt = raw.apt.as_ref().expect("an apt source");
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
    let word =
        |v: &Option<Spanned<String>>, key| v.as_ref().map(|v| one_word(v, key, loc)).transpose();
    Ok((
        Source::Apt(AptSource {
            package: pkg.to_owned(),
            arch: one_word(arch, "arch", loc)?,
            version: word(&raw.version, "version")?,
            release: word(&raw.release, "release")?,
            resolve_depends: raw.resolve_depends.as_ref().is_some_and(|r| *r.get_ref()),
        }),
        String::from("package.deb"),
    ))
}

/// Whether `name` can be an xbps package name (`linux6.1`, `linux-base`).
pub(crate) fn is_xbps_package_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
}

/// An `xbps` source: package, repository, architecture and trust.
fn xbps_source(raw: &RawSpec, loc: &Locator<'_>, base: &Path) -> Result<(Source, String)> {
    let xbps = raw.xbps.as_ref().expect("an xbps source");
    let pkg = xbps.get_ref().trim();
    if !is_xbps_package_name(pkg) {
        return Err(loc.at(
            xbps.span(),
            "xbps",
            format!(
                "`{pkg}` is not an xbps package name (such as `linux6.1`); put the \
                 repository in `repository` and the architecture in `arch`"
            ),
        ));
    }
    let Some(repo) = &raw.repository else {
        return Err(loc.at(
            xbps.span(),
            "repository",
            "missing: an `xbps` source names its repository, a directory such as \
             `void-packages/hostdir/binpkgs` or an http(s) URL",
        ));
    };
    let repository = XbpsRepository::from_text(repo.get_ref(), base)
        .map_err(|e| loc.at(repo.span(), "repository", e))?;
    let Some(arch) = &raw.arch else {
        return Err(loc.at(
            xbps.span(),
            "arch",
            format!(
                "missing: an `xbps` source names the repository's architecture, one of {}",
                XbpsArch::ALL.map(|a| format!("`{a}`")).join(", ")
            ),
        ));
    };
    let arch: XbpsArch = arch
        .get_ref()
        .trim()
        .parse()
        .map_err(|e| loc.at(arch.span(), "arch", e))?;
    let insecure = raw.insecure.as_ref().filter(|i| *i.get_ref());
    let trust = match (&raw.public_key, insecure) {
        (Some(key), Some(i)) => {
            return Err(loc.at(
                i.span(),
                "insecure",
                format!(
                    "`public_key` (line {}) already says how to verify the packages; remove one",
                    loc.line_of(key.span().start)
                ),
            ))
        }
        (Some(key), None) => {
            if key.get_ref().trim().is_empty() {
                return Err(loc.at(key.span(), "public_key", "empty path"));
            }
            XbpsTrust::Key(base.join(key.get_ref().trim()))
        }
        (None, Some(i)) if !repository.is_remote() => {
            return Err(loc.at(
                i.span(),
                "insecure",
                "a local repository is never verified beyond its hashes (xbps-src's are \
                 unsigned); remove it",
            ))
        }
        (None, Some(_)) => XbpsTrust::Unverified,
        (None, None) if repository.is_remote() => {
            return Err(loc.at(
                repo.span(),
                "public_key",
                "missing: a remote repository's packages are verified by their .sig2 \
                 signatures: name the repository's RSA public key with `public_key = \
                 \"KEY.pem\"` (a PEM file beside the description), or set `insecure = true` \
                 to accept an unsigned repository",
            ))
        }
        (None, None) => XbpsTrust::Unverified,
    };
    Ok((
        Source::Xbps(XbpsSource {
            package: pkg.to_owned(),
            repository,
            arch,
            trust,
        }),
        String::from("package.xbps"),
    ))
}

/// How the fetched bytes become the image: whole-stream compression, the
/// archive format and the member taken out of it.
fn unpacking(
    raw: &RawSpec,
    loc: &Locator<'_>,
    kind: Kind,
    source_name: &str,
) -> Result<(Option<Compression>, Option<ArchiveKind>, Option<String>)> {
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
        None if matches!(kind, Kind::Apt | Kind::Xbps) => None,
        // A compressed archive is decompressed as part of reading the archive.
        None => Compression::from_file_name(source_name),
    };
    let archive = match &raw.archive {
        Some(a) => match a.get_ref().as_str() {
            "deb" => Some(ArchiveKind::Deb),
            "tar" => Some(ArchiveKind::Tar),
            "xbps" => Some(ArchiveKind::Xbps),
            other => {
                return Err(loc.at(
                    a.span(),
                    "archive",
                    format!("unknown archive format `{other}` (expected deb, tar or xbps)"),
                ))
            }
        },
        None if kind == Kind::Apt => Some(ArchiveKind::Deb),
        None if kind == Kind::Xbps => Some(ArchiveKind::Xbps),
        None => ArchiveKind::from_file_name(source_name),
    };
    if let (Some(d), Some(ArchiveKind::Xbps)) = (&raw.decompress, archive) {
        return Err(loc.at(
            d.span(),
            "decompress",
            "an xbps package's compression is told by its first bytes; remove it",
        ));
    }

    let member = match &raw.member {
        None if archive == Some(ArchiveKind::Xbps) => Some(XBPS_KERNEL_MEMBER.to_owned()),
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
                        "`{source_name}` is not a known archive (.deb, .xbps, .tar, .tar.gz, \
                         .tar.xz, .tar.zst); add `archive = \"deb\"`, `\"xbps\"` or `\"tar\"`"
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
    let archive = if member.is_some() { archive } else { None };
    Ok((decompress, archive, member))
}

/// The files of a `kernel_config` build, checked for where they may appear.
fn build_files(
    raw: &RawSpec,
    loc: &Locator<'_>,
    kind: Kind,
    base: &Path,
) -> Result<Option<BuildFiles>> {
    let Some(c) = &raw.kernel_config else {
        if let Some(p) = &raw.kernel_patches {
            return Err(loc.at(
                p.span(),
                "kernel_patches",
                "patches a kernel the harness builds: add `kernel_config`",
            ));
        }
        return Ok(None);
    };
    if kind != Kind::Apt || raw.member.is_none() {
        return Err(loc.at(
            c.span(),
            "kernel_config",
            "builds a kernel from a source package: use it with `apt` (e.g. `linux-source-6.12`) \
             and a `member` naming the source tarball",
        ));
    }
    let (patches, patches_line) = match &raw.kernel_patches {
        Some(p) => (
            p.get_ref().iter().map(|n| base.join(n)).collect(),
            loc.line_of(p.span().start),
        ),
        None => (Vec::new(), 0),
    };
    Ok(Some(BuildFiles {
        config: base.join(c.get_ref()),
        config_line: loc.line_of(c.span().start),
        patches,
        patches_line,
    }))
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

    fn p_at(path: &str, text: &str) -> Result<ImageSpec> {
        parse(Path::new(path), "k", text).map(|p| p.spec)
    }

    fn p(text: &str) -> Result<ImageSpec> {
        parse(Path::new("images/x.toml"), "x", text).map(|p| p.spec)
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
        let s = p_at("/r/images/k.toml", "file = \"../build/vmlinux\"\n").unwrap();
        assert_eq!(
            s.source,
            Source::File {
                path: PathBuf::from("/r/images/../build/vmlinux"),
                sha256: None
            }
        );
    }

    #[test]
    fn xbps_sources_local_and_remote() {
        let s = p_at(
            "/v/images/void.toml",
            "xbps = \"linux6.1\"\nrepository = \"../void-packages/hostdir/binpkgs\"\narch = \"ppc64le\"\n",
        )
        .unwrap();
        assert_eq!(
            s.source,
            Source::Xbps(XbpsSource {
                package: "linux6.1".into(),
                repository: XbpsRepository::Dir(
                    "/v/images/../void-packages/hostdir/binpkgs".into()
                ),
                arch: XbpsArch::Ppc64le,
                trust: XbpsTrust::Unverified,
            })
        );
        // The kernel is the default member.
        assert_eq!(
            (s.archive, s.member.as_deref()),
            (Some(ArchiveKind::Xbps), Some("boot/vmlinux-*"))
        );
        assert_eq!(s.decompress, None);

        let s = p_at(
            "/v/images/void.toml",
            "xbps = \"linux6.6\"\nrepository = \"https://repo.example/current/\"\narch = \"ppc64-musl\"\n\
             public_key = \"void.pem\"\nmember = \"boot/config-*\"\n",
        )
        .unwrap();
        let Source::Xbps(x) = &s.source else {
            panic!("{s:?}")
        };
        assert_eq!(
            x.repository,
            XbpsRepository::Url("https://repo.example/current".into())
        );
        assert_eq!(x.trust, XbpsTrust::Key("/v/images/void.pem".into()));
        assert_eq!(x.arch, XbpsArch::Ppc64Musl);
        assert_eq!(s.member.as_deref(), Some("boot/config-*"));
        assert_eq!(
            s.source_label(),
            "xbps linux6.6 (ppc64-musl) from https://repo.example/current"
        );

        let s = p("xbps = \"linux6.1\"\nrepository = \"http://h/r\"\narch = \"ppc64le\"\ninsecure = true\n").unwrap();
        let Source::Xbps(x) = &s.source else {
            panic!("{s:?}")
        };
        assert_eq!(x.trust, XbpsTrust::Unverified);
    }

    #[test]
    fn xbps_package_files_give_their_kernel() {
        let sha = "c".repeat(64);
        let s = p("file = \"linux6.1-6.1.99_1.ppc64le.xbps\"\n").unwrap();
        assert_eq!(
            (s.archive, s.member.as_deref(), s.decompress),
            (Some(ArchiveKind::Xbps), Some("boot/vmlinux-*"), None)
        );
        let s = p(&format!(
            "url = \"https://h/linux6.1-6.1.99_1.ppc64le.xbps\"\nsha256 = \"{sha}\"\n"
        ))
        .unwrap();
        assert_eq!(
            (s.archive, s.member.as_deref()),
            (Some(ArchiveKind::Xbps), Some("boot/vmlinux-*"))
        );
        let s = p("file = \"kernel.pkg\"\narchive = \"xbps\"\n").unwrap();
        assert_eq!(s.archive, Some(ArchiveKind::Xbps));
    }

    #[test]
    fn xbps_mistakes_name_line_and_key() {
        let cases = [
            ("xbps = \"linux6.1\"\narch = \"ppc64le\"\n", "images/x.toml:1: key `repository`: missing"),
            ("xbps = \"linux6.1\"\nrepository = \"r\"\n", "images/x.toml:1: key `arch`: missing"),
            ("xbps = \"linux6.1\"\nrepository = \"r\"\narch = \"x86_64\"\n", "images/x.toml:3: key `arch`: unknown xbps architecture `x86_64`"),
            ("xbps = \"linux6.1-6.1.99_1 x\"\n", "images/x.toml:1: key `xbps`: `linux6.1-6.1.99_1 x` is not an xbps package name"),
            ("xbps = \"linux6.1\"\nrepository = \"https://r\"\narch = \"ppc64le\"\n", "images/x.toml:2: key `public_key`: missing"),
            ("xbps = \"linux6.1\"\nrepository = \"r\"\narch = \"ppc64le\"\ninsecure = true\n", "images/x.toml:4: key `insecure`: a local repository"),
            ("xbps = \"linux6.1\"\nrepository = \"https://r\"\narch = \"ppc64le\"\npublic_key = \"k.pem\"\ninsecure = true\n", "images/x.toml:5: key `insecure`: `public_key` (line 4)"),
            ("xbps = \"linux6.1\"\nrepository = \"ftp://r\"\narch = \"ppc64le\"\n", "images/x.toml:2: key `repository`: `ftp://r` is neither"),
            ("xbps = \"linux6.1\"\nrepository = \"r\"\narch = \"ppc64le\"\nsha256 = \"00\"\n", "images/x.toml:4: key `sha256`: not used with a `xbps` source"),
            ("file = \"k.xbps\"\ndecompress = \"zst\"\n", "images/x.toml:2: key `decompress`: an xbps package's compression"),
            ("file = \"k\"\nrepository = \"r\"\n", "images/x.toml:2: key `repository`: not used with a `file` source (only with `xbps`)"),
            ("apt = \"a\"\narch = \"ppc64el\"\nxbps = \"b\"\n", "images/x.toml:3: key `xbps`: a description has one source"),
        ];
        for (text, want) in cases {
            let e = p(text).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{text}");
            assert!(e.message().starts_with(want), "{text}\n{e}");
        }
    }

    #[test]
    fn parsing_reads_no_files_and_loading_reads_the_build_files() {
        let text = "apt = \"linux-source-6.12\"\narch = \"all\"\nmember = \"usr/src/l.tar.xz\"\n\
                    kernel_config = \"k.config\"\nkernel_patches = [\"a.patch\"]\n";
        // Pure: the files do not exist, and parsing does not look.
        let parsed = parse(Path::new("/nonexistent/images/k.toml"), "k", text).unwrap();
        assert_eq!(parsed.spec.kernel_build, None);
        let e = parsed.read_build_files().unwrap_err();
        assert!(
            e.message()
                .starts_with("/nonexistent/images/k.toml:4: key `kernel_config`: cannot read"),
            "{e}"
        );

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k.toml"), text).unwrap();
        std::fs::write(dir.path().join("k.config"), "CONFIG_KVM=y\n").unwrap();
        std::fs::write(dir.path().join("a.patch"), "not a diff\n").unwrap();
        let e = load(dir.path(), "k").unwrap_err();
        assert!(
            e.message().contains("k.toml:5: key `kernel_patches`:"),
            "{e}"
        );
        assert!(e.message().contains("is not a unified diff"), "{e}");
        std::fs::write(dir.path().join("a.patch"), "--- a/x\n+++ b/x\n").unwrap();
        let s = load(dir.path(), "k").unwrap();
        let build = s.kernel_build.unwrap();
        assert_eq!(build.config, "CONFIG_KVM=y\n");
        assert_eq!(build.config_path, dir.path().join("k.config"));
        assert_eq!(build.patches.len(), 1);
        assert_eq!(build.patches[0].text, "--- a/x\n+++ b/x\n");

        let e = p("file = \"v\"\nkernel_patches = [\"a\"]\n").unwrap_err();
        assert!(
            e.message()
                .starts_with("images/x.toml:2: key `kernel_patches`: patches a kernel"),
            "{e}"
        );
        let e = p("file = \"v\"\nkernel_config = \"a\"\n").unwrap_err();
        assert!(
            e.message()
                .starts_with("images/x.toml:2: key `kernel_config`: builds a kernel"),
            "{e}"
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
