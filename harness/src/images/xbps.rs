//! Void Linux packages (`.xbps`) and repositories (`<arch>-repodata`).
//!
//! Void's PowerPC kernels come out of `xbps-src` as packages, not as bare
//! images, so qualifying one means reading its format without Void's tools
//! (no Void host is at hand here). What this module relies on:
//!
//! - A package `<pkgver>.<arch>.xbps` is a tar archive, compressed with
//!   zstd by default, or gzip, bzip2, lz4, xz or not at all; the compression
//!   is told by the first bytes, never by the name. Entries start with `./`:
//!   optional `./INSTALL` and `./REMOVE`, `./props.plist`, `./files.plist`,
//!   then the files, without directory entries. The kernel is
//!   `./boot/vmlinux-<release>`, its modules `./usr/lib/modules/<release>/
//!   **.ko.zst`.
//! - A repository holds `<arch>-repodata`, a tar (compressed the same ways)
//!   with `index.plist` (one dictionary per package name: the package's
//!   properties plus `filename-sha256` and `filename-size`),
//!   `index-meta.plist` (empty, or the repository's RSA public key) and
//!   possibly `stage.plist`, and the packages beside it.
//! - A signed repository has `<package>.sig2` beside each package: an RSA
//!   PKCS#1 v1.5 signature over the SHA-256 of the whole package file.
//!
//! Reading is done here; where the bytes come from (a directory, a server,
//! the cache) is [`super::Store`]'s business.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use super::plist::{self, Value};
use super::tarball::{damaged, entry_path, open_stream, walk};
use crate::{Error, Result};

/// The Void architectures whose kernels the harness can boot: POWER, little
/// and big endian, with glibc or musl (the kernel is the same; the package
/// set differs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum XbpsArch {
    /// `ppc64le`: little-endian, glibc.
    Ppc64le,
    /// `ppc64le-musl`: little-endian, musl.
    Ppc64leMusl,
    /// `ppc64`: big-endian, glibc.
    Ppc64,
    /// `ppc64-musl`: big-endian, musl.
    Ppc64Musl,
}

impl XbpsArch {
    /// Every supported architecture, for messages.
    pub const ALL: [XbpsArch; 4] = [
        XbpsArch::Ppc64le,
        XbpsArch::Ppc64leMusl,
        XbpsArch::Ppc64,
        XbpsArch::Ppc64Musl,
    ];

    /// The name xbps uses (in `<arch>-repodata` and package file names).
    pub fn as_str(self) -> &'static str {
        match self {
            XbpsArch::Ppc64le => "ppc64le",
            XbpsArch::Ppc64leMusl => "ppc64le-musl",
            XbpsArch::Ppc64 => "ppc64",
            XbpsArch::Ppc64Musl => "ppc64-musl",
        }
    }

    /// The repository index file for this architecture.
    pub fn repodata_name(self) -> String {
        format!("{}-repodata", self.as_str())
    }
}

impl fmt::Display for XbpsArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for XbpsArch {
    /// What is wrong, listing the accepted names.
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        XbpsArch::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown xbps architecture `{s}` (expected {})",
                    XbpsArch::ALL.map(|a| format!("`{a}`")).join(", ")
                )
            })
    }
}

/// A package's own description (`./props.plist`), the fields the harness
/// uses plus the whole dictionary.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageProps {
    /// `linux6.1`.
    pub pkgname: String,
    /// `6.1.99_1`: version and revision.
    pub version: String,
    /// `linux6.1-6.1.99_1`.
    pub pkgver: String,
    /// `ppc64le`, or `noarch`.
    pub architecture: String,
    /// Every property as read.
    pub plist: Value,
}

/// Reads `./props.plist` of the package at `path` (stopping there, so the
/// kernel is not decompressed for it).
pub fn read_props(path: &Path) -> Result<PackageProps> {
    let what = "an xbps package";
    let mut tar = tar::Archive::new(open_stream(path, what)?);
    for entry in tar.entries().map_err(|e| damaged(path, &e))? {
        let mut entry = entry.map_err(|e| damaged(path, &e))?;
        if entry_path(&entry, path)?.as_deref() != Some("props.plist") {
            continue;
        }
        let mut text = Vec::new();
        entry
            .read_to_end(&mut text)
            .map_err(|e| damaged(path, &e))?;
        let plist = read_plist(&text, &format!("{}: ./props.plist", path.display()))?;
        let field = |key: &str| -> Result<String> {
            plist.get(key).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| {
                Error::infra(format!(
                    "{}: ./props.plist has no `{key}` string; this is not a package xbps-create wrote",
                    path.display()
                ))
            })
        };
        return Ok(PackageProps {
            pkgname: field("pkgname")?,
            version: field("version")?,
            pkgver: field("pkgver")?,
            architecture: field("architecture")?,
            plist,
        });
    }
    Err(not_a_package(path))
}

/// The error for a tar without `./props.plist`.
pub(crate) fn not_a_package(path: &Path) -> Error {
    Error::infra(format!(
        "{} is not an xbps package: it has no ./props.plist; give the .xbps file xbps-src \
         built (hostdir/binpkgs/<pkgver>.<arch>.xbps)",
        path.display()
    ))
}

fn read_plist(text: &[u8], what: &str) -> Result<Value> {
    plist::parse(text).map_err(|e| {
        Error::infra(format!(
            "{what}: {e}; the file is damaged or not written by xbps"
        ))
    })
}

/// One package as a repository's `index.plist` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// The dictionary key: `linux6.1`.
    pub pkgname: String,
    /// `linux6.1-6.1.99_1`.
    pub pkgver: String,
    /// `ppc64le` (or `noarch`): part of the file name.
    pub architecture: String,
    /// `filename-sha256`: lower-case hex SHA-256 of the whole .xbps file.
    pub sha256: String,
    /// `filename-size`: its length in bytes.
    pub size: u64,
}

impl IndexEntry {
    /// The package's file name in the repository: `<pkgver>.<arch>.xbps`.
    pub fn file_name(&self) -> String {
        format!("{}.{}.xbps", self.pkgver, self.architecture)
    }

    /// The version with revision (`6.1.99_1`), taken from `pkgver`.
    pub fn version(&self) -> &str {
        self.pkgver
            .strip_prefix(&self.pkgname)
            .and_then(|v| v.strip_prefix('-'))
            .unwrap_or(&self.pkgver)
    }
}

/// The signing key a repository announces in `index-meta.plist`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnouncedKey {
    /// `public-key`: the PEM text.
    pub pem: Vec<u8>,
    /// `signature-by`: who signs, as the repository says.
    pub signed_by: Option<String>,
}

/// A repository's index for one architecture.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Repodata {
    /// `index.plist`, by package name.
    pub index: BTreeMap<String, IndexEntry>,
    /// `stage.plist`: packages built but held back from the index.
    pub stage: BTreeMap<String, IndexEntry>,
    /// `index-meta.plist`'s key, when the repository is signed.
    pub key: Option<AnnouncedKey>,
}

impl Repodata {
    /// Reads the `<arch>-repodata` file at `path`; `label` names the
    /// repository and file in messages.
    pub fn read(path: &Path, label: &str) -> Result<Repodata> {
        let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        walk(path, "an xbps repository index", &mut |entry| {
            let Some(name) = entry_path(entry, path)? else {
                return Ok(());
            };
            if matches!(
                name.as_str(),
                "index.plist" | "index-meta.plist" | "stage.plist"
            ) {
                let mut data = Vec::new();
                entry
                    .read_to_end(&mut data)
                    .map_err(|e| damaged(path, &e))?;
                files.insert(name, data);
            }
            Ok(())
        })?;
        let Some(index) = files.get("index.plist") else {
            return Err(Error::infra(format!(
                "{label} has no index.plist; it is not an xbps repository index: rebuild it with \
                 `xbps-rindex -a`"
            )));
        };
        Repodata::parse(
            index,
            files
                .get("index-meta.plist")
                .map(Vec::as_slice)
                .unwrap_or_default(),
            files.get("stage.plist").map(Vec::as_slice),
            label,
        )
    }

    /// Builds the index from the three files' bytes (`meta` and `stage`
    /// may be empty, `stage` absent).
    pub fn parse(index: &[u8], meta: &[u8], stage: Option<&[u8]>, label: &str) -> Result<Repodata> {
        let index = entries(
            &read_plist(index, &format!("{label}: index.plist"))?,
            &format!("{label}: index.plist"),
        )?;
        let stage = match stage {
            Some(s) if !s.iter().all(u8::is_ascii_whitespace) => entries(
                &read_plist(s, &format!("{label}: stage.plist"))?,
                &format!("{label}: stage.plist"),
            )?,
            _ => BTreeMap::new(),
        };
        let key = if meta.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            let meta = read_plist(meta, &format!("{label}: index-meta.plist"))?;
            meta.get("public-key")
                .and_then(Value::as_data)
                .map(|pem| AnnouncedKey {
                    pem: pem.to_vec(),
                    signed_by: meta
                        .get("signature-by")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                })
        };
        Ok(Repodata { index, stage, key })
    }

    /// The package `pkgname` for `arch`, or an error that says what the
    /// repository has instead.
    pub fn find(&self, pkgname: &str, arch: XbpsArch, label: &str) -> Result<&IndexEntry> {
        let Some(entry) = self.index.get(pkgname) else {
            let staged = if self.stage.contains_key(pkgname) {
                " It is staged (stage.plist) but not yet in the index: the repository must \
                 finish the stage (`xbps-rindex -a` of the packages that wait for it) first."
                    .to_owned()
            } else {
                String::new()
            };
            let stem: String = pkgname
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            let near: Vec<&str> = self
                .index
                .keys()
                .filter(|k| !stem.is_empty() && k.starts_with(&stem))
                .take(8)
                .map(String::as_str)
                .collect();
            let hint = if near.is_empty() {
                format!("it lists {} packages", self.index.len())
            } else {
                format!("it has {}", near.join(", "))
            };
            return Err(Error::infra(format!(
                "{label} has no package `{pkgname}` ({hint}); fix the package name, or build it \
                 with `./xbps-src -a {arch} pkg {pkgname}`.{staged}"
            )));
        };
        if entry.architecture != arch.as_str() && entry.architecture != "noarch" {
            return Err(Error::infra(format!(
                "{label} lists `{pkgname}` for architecture `{}`, not `{arch}`; the index is \
                 inconsistent: rebuild it with `xbps-rindex -a`",
                entry.architecture
            )));
        }
        Ok(entry)
    }
}

/// The package dictionaries of an index or stage file.
fn entries(plist: &Value, what: &str) -> Result<BTreeMap<String, IndexEntry>> {
    let Some(dict) = plist.as_dict() else {
        return Err(Error::infra(format!(
            "{what}: not a dictionary of packages"
        )));
    };
    dict.iter()
        .map(|(name, props)| {
            let field = |key: &str| -> Result<&str> {
                props.get(key).and_then(Value::as_str).ok_or_else(|| {
                    Error::infra(format!("{what}: package `{name}` has no `{key}` string"))
                })
            };
            let sha256 = field("filename-sha256")?.to_ascii_lowercase();
            if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::infra(format!(
                    "{what}: package `{name}` has a malformed `filename-sha256`"
                )));
            }
            let size = props
                .get("filename-size")
                .and_then(Value::as_integer)
                .and_then(|s| u64::try_from(s).ok())
                .ok_or_else(|| {
                    Error::infra(format!(
                        "{what}: package `{name}` has no `filename-size` integer"
                    ))
                })?;
            Ok((
                name.clone(),
                IndexEntry {
                    pkgname: name.clone(),
                    pkgver: field("pkgver")?.to_owned(),
                    architecture: field("architecture")?.to_owned(),
                    sha256,
                    size,
                },
            ))
        })
        .collect()
}

/// An RSA public key that signs a repository's packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(rsa::RsaPublicKey);

impl PublicKey {
    /// Reads a PEM public key: `BEGIN PUBLIC KEY` (what xbps writes into
    /// `index-meta.plist`) or `BEGIN RSA PUBLIC KEY`.
    pub fn from_pem(pem: &[u8]) -> std::result::Result<PublicKey, String> {
        use rsa::pkcs1::DecodeRsaPublicKey;
        use rsa::pkcs8::DecodePublicKey;
        let text = std::str::from_utf8(pem)
            .map_err(|_| "not PEM text".to_owned())?
            .trim_matches(|c: char| c == '\0' || c.is_whitespace());
        rsa::RsaPublicKey::from_public_key_pem(text)
            .or_else(|_| rsa::RsaPublicKey::from_pkcs1_pem(text))
            .map(PublicKey)
            .map_err(|_| "not an RSA public key in PEM form".to_owned())
    }

    /// Whether `signature` (a `.sig2` file's bytes) is this key's PKCS#1
    /// v1.5 signature of the SHA-256 `digest` of a package.
    pub fn verifies(&self, digest: &[u8; 32], signature: &[u8]) -> bool {
        self.0
            .verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), digest, signature)
            .is_ok()
    }
}

/// `hex` (64 hex digits) as 32 bytes.
pub fn digest_from_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::tarball::PackCompression;

    const INDEX: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple Computer//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>linux6.1</key>
	<dict>
		<key>architecture</key>
		<string>ppc64le</string>
		<key>filename-sha256</key>
		<string>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA</string>
		<key>filename-size</key>
		<integer>1234</integer>
		<key>installed_size</key>
		<integer>99999</integer>
		<key>pkgver</key>
		<string>linux6.1-6.1.99_1</string>
		<key>short_desc</key>
		<string>Linux kernel and modules (6.1 series)</string>
	</dict>
	<key>linux6.6</key>
	<dict>
		<key>architecture</key>
		<string>ppc64</string>
		<key>filename-sha256</key>
		<string>bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb</string>
		<key>filename-size</key>
		<integer>5</integer>
		<key>pkgver</key>
		<string>linux6.6-6.6.40_1</string>
	</dict>
	<key>linux-base</key>
	<dict>
		<key>architecture</key>
		<string>noarch</string>
		<key>filename-sha256</key>
		<string>cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc</string>
		<key>filename-size</key>
		<integer>7</integer>
		<key>pkgver</key>
		<string>linux-base-2023.05.29_1</string>
	</dict>
</dict>
</plist>
"#;

    #[test]
    fn an_index_without_meta_or_stage() {
        let r = Repodata::parse(INDEX.as_bytes(), b"", None, "binpkgs/ppc64le-repodata").unwrap();
        assert_eq!(r.key, None);
        let e = r.find("linux6.1", XbpsArch::Ppc64le, "x").unwrap();
        assert_eq!(e.file_name(), "linux6.1-6.1.99_1.ppc64le.xbps");
        assert_eq!(e.version(), "6.1.99_1");
        assert_eq!(e.size, 1234);
        assert_eq!(e.sha256, "a".repeat(64));
        // noarch packages serve every architecture.
        let base = r.find("linux-base", XbpsArch::Ppc64Musl, "x").unwrap();
        assert_eq!(base.file_name(), "linux-base-2023.05.29_1.noarch.xbps");
    }

    #[test]
    fn missing_and_wrong_architecture_packages_say_what_is_there() {
        let r = Repodata::parse(
            INDEX.as_bytes(),
            b"\n",
            Some(b""),
            "binpkgs/ppc64le-repodata",
        )
        .unwrap();
        let e = r
            .find("linux6.12", XbpsArch::Ppc64le, "binpkgs/ppc64le-repodata")
            .unwrap_err();
        assert_eq!(e.exit_code(), 3);
        assert!(
            e.message()
                .starts_with("binpkgs/ppc64le-repodata has no package `linux6.12`"),
            "{e}"
        );
        assert!(e.message().contains("linux6.1, linux6.6"), "{e}");
        assert!(
            e.message().contains("xbps-src -a ppc64le pkg linux6.12"),
            "{e}"
        );
        let e = r.find("linux6.6", XbpsArch::Ppc64le, "r").unwrap_err();
        assert!(
            e.message()
                .contains("for architecture `ppc64`, not `ppc64le`"),
            "{e}"
        );
    }

    #[test]
    fn a_staged_package_is_named_as_staged() {
        let stage = INDEX.replace("linux6.1</key>", "linux6.9</key>");
        let r = Repodata::parse(INDEX.as_bytes(), b"", Some(stage.as_bytes()), "r").unwrap();
        assert!(r.stage.contains_key("linux6.9"));
        let e = r.find("linux6.9", XbpsArch::Ppc64le, "r").unwrap_err();
        assert!(e.message().contains("staged"), "{e}");
    }

    #[test]
    fn meta_holds_the_key() {
        let meta = "<plist version=\"1.0\"><dict>\
            <key>public-key</key><data>LS0tLS1CRUdJTg==</data>\
            <key>public-key-size</key><integer>4096</integer>\
            <key>signature-by</key><string>Void Linux</string>\
            <key>signature-type</key><string>rsa</string></dict></plist>";
        let r = Repodata::parse(INDEX.as_bytes(), meta.as_bytes(), None, "r").unwrap();
        let key = r.key.unwrap();
        assert_eq!(key.pem, b"-----BEGIN");
        assert_eq!(key.signed_by.as_deref(), Some("Void Linux"));
    }

    #[test]
    fn broken_indexes_name_the_file_and_the_package() {
        let e =
            Repodata::parse(b"<dict><key>x</key>", b"", None, "r/ppc64le-repodata").unwrap_err();
        assert!(
            e.message()
                .starts_with("r/ppc64le-repodata: index.plist: line 1"),
            "{e}"
        );
        let no_size = INDEX.replace("<key>filename-size</key>\n\t\t<integer>1234</integer>", "");
        let e = Repodata::parse(no_size.as_bytes(), b"", None, "r").unwrap_err();
        assert!(
            e.message().contains("`linux6.1` has no `filename-size`"),
            "{e}"
        );
    }

    #[test]
    fn compression_by_magic() {
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(PackCompression::detect(&tar), Some(PackCompression::None));
        assert_eq!(
            PackCompression::detect(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Some(PackCompression::Zstd)
        );
        assert_eq!(
            PackCompression::detect(&[0x1f, 0x8b, 8]),
            Some(PackCompression::Gzip)
        );
        assert_eq!(
            PackCompression::detect(b"BZh91AY"),
            Some(PackCompression::Bzip2)
        );
        assert_eq!(
            PackCompression::detect(&[4, 0x22, 0x4d, 0x18, 0x64]),
            Some(PackCompression::Lz4)
        );
        assert_eq!(
            PackCompression::detect(b"\xfd7zXZ\x00\x00"),
            Some(PackCompression::Xz)
        );
        assert_eq!(PackCompression::detect(b"\x7fELF"), None);
    }

    #[test]
    fn architectures_parse_and_print() {
        for a in XbpsArch::ALL {
            assert_eq!(a.as_str().parse::<XbpsArch>(), Ok(a));
        }
        assert_eq!(
            XbpsArch::Ppc64leMusl.repodata_name(),
            "ppc64le-musl-repodata"
        );
        let e = "x86_64".parse::<XbpsArch>().unwrap_err();
        assert!(
            e.contains("`ppc64le`, `ppc64le-musl`, `ppc64`, `ppc64-musl`"),
            "{e}"
        );
    }

    #[test]
    fn digests_from_hex() {
        let d = digest_from_hex(&"0f".repeat(32)).unwrap();
        assert_eq!(d, [0x0f; 32]);
        assert_eq!(digest_from_hex("0f"), None);
        assert_eq!(digest_from_hex(&"zz".repeat(32)), None);
    }
}
