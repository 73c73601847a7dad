//! Tar streams as packages carry them: which compression a file has (told
//! by its first bytes, not its name), the decompressed stream, and a walk
//! over its members that notices a truncated archive. Shared by the readers
//! of Debian (`.deb`) and Void (`.xbps`) packages.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use crate::{Error, Result};

/// What is done with each member of an archive.
pub(crate) type EntryFn<'f> = dyn FnMut(&mut tar::Entry<'_, Box<dyn Read + '_>>) -> Result<()> + 'f;

/// How a package or repository index is compressed, told by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackCompression {
    /// Zstandard (xbps's default).
    Zstd,
    /// gzip.
    Gzip,
    /// bzip2.
    Bzip2,
    /// The lz4 frame format.
    Lz4,
    /// xz.
    Xz,
    /// A bare tar.
    None,
}

impl PackCompression {
    /// The compression whose magic number `head` starts with; a bare tar is
    /// recognised by `ustar` at offset 257 (so `head` should hold 262 bytes).
    pub fn detect(head: &[u8]) -> Option<PackCompression> {
        if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(PackCompression::Zstd)
        } else if head.starts_with(&[0x1f, 0x8b]) {
            Some(PackCompression::Gzip)
        } else if head.starts_with(b"BZh") {
            Some(PackCompression::Bzip2)
        } else if head.starts_with(&[0x04, 0x22, 0x4d, 0x18]) {
            Some(PackCompression::Lz4)
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Some(PackCompression::Xz)
        } else if head.len() >= 262 && &head[257..262] == b"ustar" {
            Some(PackCompression::None)
        } else {
            None
        }
    }

    /// Wraps `r` in the matching decoder.
    fn decoder<'a>(self, r: impl BufRead + 'a) -> io::Result<Box<dyn Read + 'a>> {
        Ok(match self {
            PackCompression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(r)?),
            PackCompression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
            PackCompression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(r)),
            PackCompression::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(r)),
            PackCompression::Xz => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(r)),
            PackCompression::None => Box::new(r),
        })
    }
}

/// The first bytes of a file: enough to tell every format the harness reads.
pub(crate) fn file_head(path: &Path) -> Result<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    File::open(path)
        .and_then(|f| f.take(512).read_to_end(&mut head))
        .map_err(|e| Error::io(path, "cannot read", e))?;
    Ok(head)
}

/// The tar stream inside a package or index file, decompressed.
pub(crate) fn open_stream(path: &Path, what: &str) -> Result<Box<dyn Read>> {
    let head = file_head(path)?;
    let Some(compression) = PackCompression::detect(&head) else {
        return Err(Error::infra(format!(
            "{} is not {what}: it is neither a tar archive nor compressed with zstd, gzip, \
             bzip2, lz4 or xz; build or fetch it again",
            path.display()
        )));
    };
    let file = File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
    compression
        .decoder(BufReader::with_capacity(1 << 16, file))
        .map_err(|e| damaged(path, &e))
}

/// The error for an archive that ends early or fails to decompress.
pub(crate) fn damaged(path: &Path, err: &io::Error) -> Error {
    Error::infra(format!(
        "{} is truncated or damaged ({err}); nothing was taken from it: build or fetch it again",
        path.display()
    ))
}

/// Calls `f` on every entry of the tar inside the (compressed) file `path`,
/// then checks that the archive really ended: a tar closes with zero
/// blocks, so a file cut off exactly between two members is caught too.
/// `what` names the kind of file for messages ("an xbps package").
pub(crate) fn walk(path: &Path, what: &str, f: &mut EntryFn<'_>) -> Result<()> {
    let mut tar = tar::Archive::new(open_stream(path, what)?);
    for entry in tar.entries().map_err(|e| damaged(path, &e))? {
        let mut entry = entry.map_err(|e| damaged(path, &e))?;
        f(&mut entry)?;
    }
    // The reader stops at the first zero block; the second (at least) must
    // still be there, and the decoder checks the stream's own end on the way.
    let rest = io::copy(&mut tar.into_inner(), &mut io::sink()).map_err(|e| damaged(path, &e))?;
    if rest == 0 {
        return Err(damaged(
            path,
            &io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the tar has no end-of-archive blocks",
            ),
        ));
    }
    Ok(())
}

/// The member's path without `./` or a trailing `/`; `None` for the root.
pub(crate) fn entry_path<R: Read>(
    entry: &tar::Entry<'_, R>,
    archive: &Path,
) -> Result<Option<String>> {
    let raw = entry
        .path()
        .map_err(|e| bad_archive(archive, "reading a member name", e))?;
    let p = normalize(&raw.to_string_lossy());
    Ok((!p.is_empty()).then_some(p))
}

/// `./a//b/../c` → `a/c`: an archive path relative to the root, the way
/// package members and symlink targets are compared.
pub fn normalize(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

pub(crate) fn bad_archive(path: &Path, what: &str, err: io::Error) -> Error {
    Error::infra(format!(
        "{}: {what} failed: {err}; the archive is truncated, damaged or not what the \
         description says: fetch or build it again",
        path.display()
    ))
}
