//! Reading Debian packages, Void packages and tar archives in-process.
//!
//! The harness takes kernels and busybox out of `.deb` files itself (ar, then a
//! gz/xz/zst-compressed `data.tar`), and kernels out of `.xbps` files (see
//! [`super::xbps`]), so that it runs the same on machines without `dpkg-deb`
//! or xbps, and so that the one-file-per-glob rule is checked here rather
//! than trusted to a shell pipeline.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use glob::{MatchOptions, Pattern};

use super::spec::{ArchiveKind, Compression};
pub(crate) use super::tarball::entry_path;
pub use super::tarball::normalize;
use super::tarball::{bad_archive, EntryFn};
use crate::{Error, Result};

/// One file taken out of a package, with what is needed to put it into an
/// initramfs unchanged: its path, permissions and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebMember {
    /// Path inside the package, without the leading `./` (`usr/bin/qemu-system-ppc64`).
    pub path: String,
    /// Permission bits as packaged (`0o755` for executables).
    pub mode: u32,
    /// A file, a link or a directory; libraries are often symlinks.
    pub kind: MemberKind,
    /// The file's bytes (empty for links and directories).
    pub data: Vec<u8>,
}

/// What kind of filesystem object a package member is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberKind {
    /// A regular file; its bytes are in [`DebMember::data`].
    File,
    /// A directory.
    Dir,
    /// A symbolic link to the given target, as packaged (often relative).
    Symlink(String),
    /// A hard link to another member, named by its path inside the package.
    Hardlink(String),
}

/// Globs match path components one at a time: `boot/*` does not reach into
/// `boot/grub/…`, so a pattern means what it looks like.
const MATCH: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

/// Extracts the members of `deb` whose paths match any of `patterns`.
///
/// Meant for assembling an initramfs from packages (qemu and its libraries):
/// each pattern must match at least one member, because a pattern that matches
/// nothing usually means the package changed and the initramfs would silently
/// lack a file.
pub fn deb_extract(deb: &Path, patterns: &[&str]) -> Result<Vec<DebMember>> {
    let globs = patterns
        .iter()
        .map(|p| {
            Pattern::new(p.trim_start_matches("./"))
                .map_err(|e| Error::bad_input(format!("bad member glob `{p}`: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut used = vec![false; globs.len()];
    let mut out = Vec::new();
    with_archive(deb, ArchiveKind::Deb, None, &mut |entry| {
        let Some(path) = entry_path(entry, deb)? else {
            return Ok(());
        };
        let mut hit = false;
        for (g, u) in globs.iter().zip(used.iter_mut()) {
            if g.matches_with(&path, MATCH) {
                *u = true;
                hit = true;
            }
        }
        if !hit {
            return Ok(());
        }
        let kind = entry_kind(entry, deb)?;
        let mode = entry.header().mode().unwrap_or(0o644);
        let mut data = Vec::new();
        if kind == MemberKind::File {
            entry
                .read_to_end(&mut data)
                .map_err(|e| bad_archive(deb, &format!("reading `{path}`"), e))?;
        }
        out.push(DebMember {
            path,
            mode,
            kind,
            data,
        });
        Ok(())
    })?;
    let unused: Vec<String> = patterns
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(p, _)| format!("`{p}`"))
        .collect();
    if !unused.is_empty() {
        return Err(Error::infra(format!(
            "{}: no member matches {}; list the package with `dpkg-deb -c {}` and fix the pattern",
            deb.display(),
            unused.join(", "),
            deb.display()
        )));
    }
    Ok(out)
}

/// Writes the single member of `archive` matching `pattern` to `out`, and
/// returns its path inside the archive.
///
/// Exactly one member must match: an image is one file, and a glob that
/// matches two kernels would make the choice depend on archive order. A
/// matching symlink or hard link is followed inside the archive.
pub(crate) fn extract_member_to(
    archive: &Path,
    kind: ArchiveKind,
    decompress: Option<Compression>,
    pattern: &str,
    out: &mut File,
) -> Result<String> {
    let glob = Pattern::new(pattern)
        .map_err(|e| Error::bad_input(format!("bad member glob `{pattern}`: {e}")))?;
    // Every member's kind, to follow links and to suggest paths on a miss.
    let mut listing: HashMap<String, MemberKind> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut matches: Vec<String> = Vec::new();
    let mut written: Option<String> = None;
    with_archive(archive, kind, decompress, &mut |entry| {
        let Some(path) = entry_path(entry, archive)? else {
            return Ok(());
        };
        let mkind = entry_kind(entry, archive)?;
        if glob.matches_with(&path, MATCH) && mkind != MemberKind::Dir {
            matches.push(path.clone());
            if matches.len() == 1 && mkind == MemberKind::File {
                copy_member(entry, out, archive, &path)?;
                written = Some(path.clone());
            }
        }
        order.push(path.clone());
        listing.insert(path, mkind);
        Ok(())
    })?;

    match matches.len() {
        0 => {
            let dir = pattern.split('/').next().unwrap_or("");
            let near: Vec<&str> = order
                .iter()
                .filter(|p| p.starts_with(dir) && listing.get(*p) != Some(&MemberKind::Dir))
                .take(8)
                .map(String::as_str)
                .collect();
            let hint = if near.is_empty() {
                format!("it holds {} members", order.len())
            } else {
                format!("it holds e.g. {}", near.join(", "))
            };
            // A package with no kernel in it was usually the wrong package
            // of a kernel build (its headers or debug symbols).
            let fix = if pattern == super::spec::XBPS_KERNEL_MEMBER {
                "it holds no kernel: give the kernel package itself (linuxX.Y, linux-image-*), \
                 not its headers or debug symbols, or fix `member` in the image description"
            } else {
                "fix `member` in the image description"
            };
            return Err(Error::infra(format!(
                "{}: no member matches `{pattern}` ({hint}); {fix}",
                archive.display()
            )));
        }
        1 => {}
        n => {
            let shown: Vec<&str> = matches.iter().take(8).map(String::as_str).collect();
            return Err(Error::infra(format!(
                "{}: member pattern `{pattern}` matches {n} files ({}); it must match exactly \
                 one: make `member` more specific",
                archive.display(),
                shown.join(", ")
            )));
        }
    }
    if let Some(path) = written {
        return Ok(path);
    }

    // The one match is a link: find the file it ends at, then read it.
    let mut path = matches.remove(0);
    for _ in 0..16 {
        match listing.get(&path) {
            Some(MemberKind::File) => {
                let target = path.clone();
                let mut found = false;
                with_archive(archive, kind, decompress, &mut |entry| {
                    if found || entry_path(entry, archive)?.as_deref() != Some(&target) {
                        return Ok(());
                    }
                    found = true;
                    copy_member(entry, out, archive, &target)
                })?;
                return Ok(target);
            }
            Some(MemberKind::Symlink(to)) => path = resolve_link(&path, to),
            Some(MemberKind::Hardlink(to)) => path = normalize(to),
            Some(MemberKind::Dir) | None => break,
        }
    }
    Err(Error::infra(format!(
        "{}: member `{pattern}` is a link that does not lead to a file in the archive; \
         point `member` at the file itself",
        archive.display()
    )))
}

/// Copies a member's bytes to `out`, telling a damaged archive (reading
/// fails) from a full disk (writing fails).
fn copy_member(entry: &mut impl Read, out: &mut File, archive: &Path, path: &str) -> Result<()> {
    use std::io::Write;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match entry.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(bad_archive(archive, &format!("reading `{path}`"), e)),
        };
        out.write_all(&buf[..n]).map_err(|e| {
            Error::infra(format!(
                "cannot extract `{path}` from {}: {e}; check free space in the cache",
                archive.display()
            ))
        })?;
    }
}

/// Copies the whole of `input`, decompressed, to `out`.
pub(crate) fn decompress_to(input: &Path, compression: Compression, out: &mut File) -> Result<()> {
    let file = File::open(input).map_err(|e| Error::io(input, "cannot open", e))?;
    let mut reader = decoder(Box::new(BufReader::new(file)), Some(compression))?;
    io::copy(&mut reader, out).map(drop).map_err(|e| {
        Error::infra(format!(
            "cannot decompress {} as {compression}: {e}; check `decompress` in the image \
             description, or free space in the cache",
            input.display()
        ))
    })
}

/// Wraps `r` in the decoder for `compression`.
fn decoder<'a>(
    r: Box<dyn Read + 'a>,
    compression: Option<Compression>,
) -> Result<Box<dyn Read + 'a>> {
    Ok(match compression {
        None => r,
        Some(Compression::Gzip) => Box::new(flate2::read::MultiGzDecoder::new(r)),
        Some(Compression::Xz) => Box::new(liblzma::read::XzDecoder::new_multi_decoder(r)),
        Some(Compression::Zstd) => Box::new(
            zstd::stream::read::Decoder::new(r)
                .map_err(|e| Error::infra(format!("cannot start zstd decoder: {e}")))?,
        ),
    })
}

/// What a file is, by its first bytes: the formats a kernel under test may
/// come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Content {
    /// An ELF file (a vmlinux), with whether its `e_machine` is POWER.
    Elf {
        /// `EM_PPC64`, in either byte order.
        power: bool,
    },
    /// A package or archive of this kind.
    Archive(ArchiveKind),
}

/// Tells an ELF file, a Debian package and a Void package (or any
/// compressed tar) apart; `None` for anything else.
pub(crate) fn sniff(path: &Path) -> Result<Option<Content>> {
    let head = super::tarball::file_head(path)?;
    Ok(if head.starts_with(b"\x7fELF") && head.len() >= 20 {
        let machine = match head[5] {
            1 => u16::from_le_bytes([head[18], head[19]]),
            _ => u16::from_be_bytes([head[18], head[19]]),
        };
        Some(Content::Elf {
            power: machine == object::elf::EM_PPC64,
        })
    } else if head.starts_with(b"!<arch>\n") {
        Some(Content::Archive(ArchiveKind::Deb))
    } else if super::tarball::PackCompression::detect(&head).is_some() {
        Some(Content::Archive(ArchiveKind::Xbps))
    } else {
        None
    })
}

/// The package kind of `path` for [`ArchiveKind::Detect`]: a Debian or
/// Void package; anything else is an error naming the file.
pub(crate) fn detect_package(path: &Path) -> Result<ArchiveKind> {
    match sniff(path)? {
        Some(Content::Archive(kind)) => Ok(kind),
        Some(Content::Elf { .. }) => Err(Error::bad_input(format!(
            "{} is a bare ELF image, not a package: what is asked for here lives in the \
             kernel's package (a .deb or .xbps)",
            path.display()
        ))),
        None => Err(not_a_kernel(&path.display())),
    }
}

/// The error for a kernel source that is none of the formats a kernel
/// under test may come in.
pub(crate) fn not_a_kernel(what: &dyn std::fmt::Display) -> Error {
    Error::bad_input(format!(
        "{what} is neither an ELF vmlinux, a Debian package (.deb) nor a Void package (.xbps); \
         give the kernel image or the package it came in"
    ))
}

/// Calls `f` on every entry of the tar inside `path` (a .deb's `data.tar`,
/// a Void package, or a possibly compressed tar file).
pub(crate) fn with_archive(
    path: &Path,
    kind: ArchiveKind,
    decompress: Option<Compression>,
    f: &mut EntryFn<'_>,
) -> Result<()> {
    let file = File::open(path).map_err(|e| Error::io(path, "cannot open archive", e))?;
    let reader = BufReader::new(file);
    match kind {
        ArchiveKind::Tar => walk_tar(path, decoder(Box::new(reader), decompress)?, f),
        ArchiveKind::Detect => with_archive(path, detect_package(path)?, decompress, f),
        ArchiveKind::Xbps => {
            let mut props = false;
            super::tarball::walk(path, "an xbps package", &mut |entry| {
                props |= entry_path(entry, path)?.as_deref() == Some("props.plist");
                f(entry)
            })?;
            if props {
                Ok(())
            } else {
                Err(super::xbps::not_a_package(path))
            }
        }
        ArchiveKind::Deb => {
            let mut ar = ar::Archive::new(reader);
            while let Some(entry) = ar.next_entry() {
                let entry = entry.map_err(|e| bad_archive(path, "reading the ar container", e))?;
                let id = String::from_utf8_lossy(entry.header().identifier()).into_owned();
                let Some(suffix) = id.strip_prefix("data.tar") else {
                    continue;
                };
                let compression = match suffix {
                    "" => None,
                    ".gz" => Some(Compression::Gzip),
                    ".xz" => Some(Compression::Xz),
                    ".zst" => Some(Compression::Zstd),
                    other => {
                        return Err(Error::infra(format!(
                            "{}: data.tar{other} uses a compression the harness does not read \
                             (it reads gz, xz and zst); use another package version",
                            path.display()
                        )))
                    }
                };
                return walk_tar(path, decoder(Box::new(entry), compression)?, f);
            }
            Err(Error::infra(format!(
                "{} is not a Debian package (no data.tar member); the download may be \
                 something else: remove it from the cache and fetch again",
                path.display()
            )))
        }
    }
}

fn walk_tar(path: &Path, reader: Box<dyn Read + '_>, f: &mut EntryFn<'_>) -> Result<()> {
    let mut tar = tar::Archive::new(reader);
    let entries = tar
        .entries()
        .map_err(|e| bad_archive(path, "reading the tar", e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad_archive(path, "reading the tar", e))?;
        f(&mut entry)?;
    }
    Ok(())
}

pub(crate) fn entry_kind<R: Read>(entry: &tar::Entry<'_, R>, archive: &Path) -> Result<MemberKind> {
    let t = entry.header().entry_type();
    let link = || -> Result<String> {
        let l = entry
            .link_name()
            .map_err(|e| bad_archive(archive, "reading a link target", e))?
            .unwrap_or_default();
        Ok(l.to_string_lossy().into_owned())
    };
    Ok(if t.is_dir() {
        MemberKind::Dir
    } else if t.is_symlink() {
        MemberKind::Symlink(link()?)
    } else if t.is_hard_link() {
        MemberKind::Hardlink(link()?)
    } else {
        MemberKind::File
    })
}

/// Where the symlink at `link` pointing to `target` leads, inside the archive.
pub fn resolve_link(link: &str, target: &str) -> String {
    if target.starts_with('/') {
        normalize(target)
    } else {
        let dir = link.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        normalize(&format!("{dir}/{target}"))
    }
}

/// Writes a tar with the given (path, contents or link) entries; shared by tests.
#[cfg(test)]
pub(crate) fn write_test_tar(entries: &[(&str, std::result::Result<&[u8], &str>)]) -> Vec<u8> {
    use std::io::Write;
    let mut b = tar::Builder::new(Vec::new());
    for (path, what) in entries {
        let mut h = tar::Header::new_gnu();
        match what {
            Ok(data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                h.set_mode(0o755);
                b.append_data(&mut h, path, *data).unwrap();
            }
            Err(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                h.set_mode(0o777);
                b.append_link(&mut h, path, target).unwrap();
            }
        }
    }
    let mut v = b.into_inner().unwrap();
    v.flush().unwrap();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, Write};

    fn tar_file(entries: &[(&str, std::result::Result<&[u8], &str>)]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&write_test_tar(entries)).unwrap();
        f
    }

    fn extract(archive: &Path, pattern: &str) -> Result<(String, Vec<u8>)> {
        let mut out = tempfile::tempfile().unwrap();
        let path = extract_member_to(archive, ArchiveKind::Tar, None, pattern, &mut out)?;
        out.rewind().unwrap();
        let mut data = Vec::new();
        out.read_to_end(&mut data).unwrap();
        Ok((path, data))
    }

    #[test]
    fn exactly_one_member_must_match() {
        let t = tar_file(&[
            ("./boot/vmlinux-6.1", Ok(b"kernel")),
            ("./boot/config-6.1", Ok(b"cfg")),
            ("./boot/grub/vmlinux-x", Ok(b"no")),
        ]);
        assert_eq!(
            extract(t.path(), "boot/vmlinux-*").unwrap(),
            ("boot/vmlinux-6.1".into(), b"kernel".to_vec())
        );
        let e = extract(t.path(), "boot/*").unwrap_err();
        assert!(e.message().contains("matches 2 files"), "{e}");
        let e = extract(t.path(), "boot/initrd*").unwrap_err();
        assert!(
            e.message().contains("no member matches `boot/initrd*`"),
            "{e}"
        );
        assert!(e.message().contains("boot/vmlinux-6.1"), "{e}");
    }

    #[test]
    fn a_matching_symlink_is_followed_inside_the_archive() {
        let t = tar_file(&[
            ("bin/busybox", Err("../usr/lib/busybox")),
            ("usr/lib/busybox", Ok(b"elf")),
        ]);
        assert_eq!(
            extract(t.path(), "bin/busybox").unwrap(),
            ("usr/lib/busybox".into(), b"elf".to_vec())
        );
    }

    #[test]
    fn paths_normalize() {
        assert_eq!(normalize("./a//b/"), "a/b");
        assert_eq!(
            resolve_link("lib/x/libz.so", "libz.so.1"),
            "lib/x/libz.so.1"
        );
        assert_eq!(resolve_link("bin/sh", "/usr/bin/dash"), "usr/bin/dash");
    }
}
