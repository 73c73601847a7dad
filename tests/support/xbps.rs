//! Void packages and repositories built the way xbps lays them out, for
//! tests (no Void host is reachable from here).
//!
//! - A package (what `xbps-create` writes): a ustar archive, compressed as
//!   asked (zstd by default in xbps), whose entries all start with `./`:
//!   `./INSTALL`, `./props.plist`, `./files.plist`, then the files, with no
//!   directory entries.
//! - A repository index `<arch>-repodata` (what `xbps-rindex -a` writes): a
//!   tar with `index.plist`, `index-meta.plist` and optionally `stage.plist`,
//!   in that order and without `./`; the last two may be empty. Each index
//!   entry is the package's properties without `pkgname` and `version`, plus
//!   `filename-sha256` and `filename-size`.
//! - Signatures (what `xbps-rindex --sign-pkg` writes): `<file>.sig2`, an
//!   RSA PKCS#1 v1.5 signature over the SHA-256 of the whole package, made
//!   here with the `openssl` command line tool, and the PEM public key in
//!   `index-meta.plist` as `public-key` data.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use bootmatrix::images::plist::Value;
/// The compressions xbps-create offers, as the reader tells them apart.
pub use bootmatrix::images::tarball::PackCompression as Pack;
use sha2::{Digest, Sha256};

/// `data` compressed as `how` says.
pub fn compress(data: &[u8], how: Pack) -> Vec<u8> {
    match how {
        Pack::Zstd => zstd::encode_all(data, 3).unwrap(),
        Pack::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Pack::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Pack::Lz4 => {
            let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Pack::Xz => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Pack::None => data.to_vec(),
    }
}

/// Lower-case hex SHA-256.
pub fn sha256(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A property list as proplib writes it (tabs, Apple DOCTYPE).
pub fn plist_xml(v: &Value) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple Computer//DTD \
         PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n",
    );
    write_value(&mut out, v, 0);
    out.push_str("</plist>\n");
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn write_value(out: &mut String, v: &Value, depth: usize) {
    let tabs = "\t".repeat(depth);
    match v {
        Value::Dict(d) => {
            out.push_str(&format!("{tabs}<dict>\n"));
            for (k, v) in d {
                out.push_str(&format!("{tabs}\t<key>{}</key>\n", escape(k)));
                write_value(out, v, depth + 1);
            }
            out.push_str(&format!("{tabs}</dict>\n"));
        }
        Value::Array(a) => {
            out.push_str(&format!("{tabs}<array>\n"));
            for v in a {
                write_value(out, v, depth + 1);
            }
            out.push_str(&format!("{tabs}</array>\n"));
        }
        Value::String(s) => out.push_str(&format!("{tabs}<string>{}</string>\n", escape(s))),
        Value::Integer(i) => out.push_str(&format!("{tabs}<integer>{i}</integer>\n")),
        Value::Real(r) => out.push_str(&format!("{tabs}<real>{r}</real>\n")),
        Value::Bool(true) => out.push_str(&format!("{tabs}<true/>\n")),
        Value::Bool(false) => out.push_str(&format!("{tabs}<false/>\n")),
        Value::Data(d) => out.push_str(&format!("{tabs}<data>{}</data>\n", base64(d))),
        Value::Date(d) => out.push_str(&format!("{tabs}<date>{d}</date>\n")),
    }
}

fn string(s: &str) -> Value {
    Value::String(s.to_owned())
}

/// A tar entry with its name written as is (xbps keeps the `./`, which the
/// tar crate's path setter would drop).
fn append(b: &mut tar::Builder<Vec<u8>>, name: &str, mode: u32, data: &[u8]) {
    let mut h = tar::Header::new_ustar();
    let bytes = name.as_bytes();
    assert!(
        bytes.len() <= 100,
        "test member name too long for ustar: {name}"
    );
    h.as_ustar_mut().unwrap().name[..bytes.len()].copy_from_slice(bytes);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_mtime(1_720_000_000);
    h.set_uid(0);
    h.set_gid(0);
    h.set_username("root").unwrap();
    h.set_groupname("root").unwrap();
    h.set_cksum();
    b.append(&h, data).unwrap();
}

/// A built package.
#[derive(Debug, Clone)]
pub struct Pkg {
    pub pkgname: String,
    pub version: String,
    pub arch: String,
    /// The whole `.xbps` file.
    pub bytes: Vec<u8>,
    props: BTreeMap<String, Value>,
}

impl Pkg {
    /// A package of `files` (paths without `./`), as xbps-create lays it out.
    pub fn build(
        pkgname: &str,
        version: &str,
        arch: &str,
        files: &[(&str, &[u8])],
        pack: Pack,
    ) -> Pkg {
        let pkgver = format!("{pkgname}-{version}");
        let installed: usize = files.iter().map(|(_, d)| d.len()).sum();
        let mut props = BTreeMap::new();
        props.insert("architecture".into(), string(arch));
        props.insert("pkgname".into(), string(pkgname));
        props.insert("version".into(), string(version));
        props.insert("pkgver".into(), string(&pkgver));
        props.insert(
            "short_desc".into(),
            string("Linux kernel and modules (6.1 series) & more"),
        );
        props.insert("installed_size".into(), Value::Integer(installed as i128));
        props.insert("preserve".into(), Value::Bool(true));
        props.insert(
            "run_depends".into(),
            Value::Array(vec![string("kmod>=27_1"), string("mkinitcpio")]),
        );
        let mut file_list = BTreeMap::new();
        file_list.insert(
            "files".to_owned(),
            Value::Array(
                files
                    .iter()
                    .map(|(p, d)| {
                        let mut f = BTreeMap::new();
                        f.insert("file".to_owned(), string(&format!("/{p}")));
                        f.insert("sha256".to_owned(), string(&sha256(d)));
                        f.insert("size".to_owned(), Value::Integer(d.len() as i128));
                        Value::Dict(f)
                    })
                    .collect(),
            ),
        );
        let mut b = tar::Builder::new(Vec::new());
        append(
            &mut b,
            "./INSTALL",
            0o755,
            b"#!/bin/sh\ncase \"$ACTION\" in post) ;; esac\n",
        );
        append(
            &mut b,
            "./props.plist",
            0o644,
            plist_xml(&Value::Dict(props.clone())).as_bytes(),
        );
        append(
            &mut b,
            "./files.plist",
            0o644,
            plist_xml(&Value::Dict(file_list)).as_bytes(),
        );
        for (path, data) in files {
            append(&mut b, &format!("./{path}"), 0o644, data);
        }
        let tar = b.into_inner().unwrap();
        Pkg {
            pkgname: pkgname.into(),
            version: version.into(),
            arch: arch.into(),
            bytes: compress(&tar, pack),
            props,
        }
    }

    /// `linux6.1-6.1.99_1`.
    pub fn pkgver(&self) -> String {
        format!("{}-{}", self.pkgname, self.version)
    }

    /// `linux6.1-6.1.99_1.ppc64le.xbps`.
    pub fn file_name(&self) -> String {
        format!("{}.{}.xbps", self.pkgver(), self.arch)
    }

    /// The package's entry in `index.plist`, with its file's hash and size.
    pub fn index_entry(&self) -> Value {
        let mut e = self.props.clone();
        e.remove("pkgname");
        e.remove("version");
        e.insert("filename-sha256".into(), string(&sha256(&self.bytes)));
        e.insert(
            "filename-size".into(),
            Value::Integer(self.bytes.len() as i128),
        );
        Value::Dict(e)
    }
}

/// A small stand-in kernel: an ELF header for little-endian POWER and a
/// banner naming `release`.
pub fn fake_vmlinux(release: &str) -> Vec<u8> {
    let mut v = b"\x7fELF\x02\x01\x01".to_vec();
    v.resize(18, 0);
    v.extend_from_slice(&21u16.to_le_bytes());
    // Enough pseudo-random bytes that compressed packages are long.
    let mut x: u32 = 0x1234_5678;
    for _ in 0..200_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v.push(x as u8);
    }
    v.extend_from_slice(
        format!("Linux version {release} (void-buildslave@a-hrm) (gcc 12.2) #1 SMP\n\0").as_bytes(),
    );
    v
}

/// A `linux6.1-6.1.99_1` package packed as `pack`, holding a
/// [`fake_vmlinux`] of release `6.1.99_1` and its config; returns the
/// kernel's bytes too.
pub fn small_package(pack: Pack) -> (Pkg, Vec<u8>) {
    let kernel = fake_vmlinux("6.1.99_1");
    let pkg = Pkg::build(
        "linux6.1",
        "6.1.99_1",
        "ppc64le",
        &[
            ("boot/vmlinux-6.1.99_1", &kernel),
            ("boot/config-6.1.99_1", b"CONFIG_PPC64=y\n"),
        ],
        pack,
    );
    (pkg, kernel)
}

/// A package of the kernel's headers: an xbps package without
/// `./boot/vmlinux-*`, which no kernel can be taken from.
pub fn headers_package() -> Pkg {
    Pkg::build(
        "linux6.1-headers",
        "6.1.99_1",
        "ppc64le",
        &[("usr/src/kernel-headers-6.1.99_1/Makefile", b"x")],
        Pack::Zstd,
    )
}

/// A Void kernel package as `xbps-src pkg linux6.1` lays it out around
/// a real kernel: `./boot/vmlinux-<release>`, `./boot/config-<release>`,
/// and the KVM `modules` (file name and decompressed bytes, e.g.
/// `kvm-hv.ko`) compressed with zstd as Void ships them, under
/// `./usr/lib/modules/<release>/kernel/arch/powerpc/kvm/`.
pub fn kernel_package(
    version: &str,
    release: &str,
    vmlinux: &[u8],
    modules: &[(String, Vec<u8>)],
) -> Pkg {
    let vmlinux_path = format!("boot/vmlinux-{release}");
    let config_path = format!("boot/config-{release}");
    let config = b"CONFIG_PPC64=y\nCONFIG_KVM_BOOK3S_64=m\nCONFIG_KVM_BOOK3S_64_HV=m\n".to_vec();
    let packed: Vec<(String, Vec<u8>)> = modules
        .iter()
        .map(|(name, data)| {
            (
                format!("usr/lib/modules/{release}/kernel/arch/powerpc/kvm/{name}.zst"),
                zstd::encode_all(data.as_slice(), 3).unwrap(),
            )
        })
        .collect();
    let mut files: Vec<(&str, &[u8])> = vec![(&vmlinux_path, vmlinux), (&config_path, &config)];
    files.extend(packed.iter().map(|(p, d)| (p.as_str(), d.as_slice())));
    Pkg::build("linux6.1", version, "ppc64le", &files, Pack::Zstd)
}

/// A remote repository under `/current`, handed to `serve` (path, bytes)
/// file by file: the packages, their `.sig2` made by `signer`, and a
/// `ppc64le-repodata` whose `index-meta.plist` announces `announced`
/// (none: empty) and with an empty `stage.plist`, as a repository between
/// stages has.
pub fn serve_repository(
    mut serve: impl FnMut(&str, Vec<u8>),
    pkgs: &[&Pkg],
    signer: Option<&Signer>,
    announced: Option<&[u8]>,
) {
    for p in pkgs {
        serve(&format!("/current/{}", p.file_name()), p.bytes.clone());
        if let Some(s) = signer {
            serve(
                &format!("/current/{}.sig2", p.file_name()),
                s.sign(&p.bytes),
            );
        }
    }
    let meta = announced.map(meta_plist).unwrap_or_default();
    serve(
        "/current/ppc64le-repodata",
        repodata(&index_plist(pkgs), &meta, Some(""), Pack::Zstd),
    );
}

/// The image cache this machine shares between runs and tests, and the
/// description of Debian's 64 KiB kernel (`images/debian-kernel-64k.toml`),
/// whose real kernel and KVM modules the packages are built around.
pub fn debian_kernel_64k() -> (bootmatrix::images::Store, bootmatrix::images::ImageSpec) {
    use bootmatrix::images::{self, Store, StoreOptions};
    let store = Store::open(
        Store::default_root(),
        StoreOptions {
            progress: false,
            ..StoreOptions::default()
        },
    )
    .unwrap();
    let images_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("images");
    (
        store,
        images::load(&images_dir, "debian-kernel-64k").unwrap(),
    )
}

/// An index dictionary of `pkgs`, keyed by package name.
pub fn index_plist(pkgs: &[&Pkg]) -> String {
    plist_xml(&Value::Dict(
        pkgs.iter()
            .map(|p| (p.pkgname.clone(), p.index_entry()))
            .collect(),
    ))
}

/// `index-meta.plist` announcing `pem` as the repository's key.
pub fn meta_plist(pem: &[u8]) -> String {
    let mut m = BTreeMap::new();
    m.insert("public-key".to_owned(), Value::Data(pem.to_vec()));
    m.insert("public-key-size".to_owned(), Value::Integer(2048));
    m.insert(
        "signature-by".to_owned(),
        string("bootmatrix test <test@example.invalid>"),
    );
    m.insert("signature-type".to_owned(), string("rsa"));
    plist_xml(&Value::Dict(m))
}

/// An `<arch>-repodata` file from the texts of its members; `meta` may be
/// empty and `stage` absent, as xbps-rindex leaves them.
pub fn repodata(index: &str, meta: &str, stage: Option<&str>, pack: Pack) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    append(&mut b, "index.plist", 0o644, index.as_bytes());
    append(&mut b, "index-meta.plist", 0o644, meta.as_bytes());
    if let Some(s) = stage {
        append(&mut b, "stage.plist", 0o644, s.as_bytes());
    }
    compress(&b.into_inner().unwrap(), pack)
}

/// An RSA key pair made with openssl, in `dir`.
pub struct Signer {
    pub private: PathBuf,
    /// The public key in PEM (`-----BEGIN PUBLIC KEY-----`), as a file.
    pub public: PathBuf,
}

fn openssl(args: &[&str]) -> std::process::Output {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("these tests sign with the openssl command line tool: apt-get install openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Signer {
    /// A new 2048-bit key named `name` in `dir`.
    pub fn new(dir: &Path, name: &str) -> Signer {
        std::fs::create_dir_all(dir).unwrap();
        let private = dir.join(format!("{name}.key"));
        let public = dir.join(format!("{name}.pem"));
        openssl(&["genrsa", "-out", private.to_str().unwrap(), "2048"]);
        openssl(&[
            "rsa",
            "-in",
            private.to_str().unwrap(),
            "-pubout",
            "-out",
            public.to_str().unwrap(),
        ]);
        Signer { private, public }
    }

    /// The public key's PEM text.
    pub fn pem(&self) -> Vec<u8> {
        std::fs::read(&self.public).unwrap()
    }

    /// The `.sig2` of `data`: PKCS#1 v1.5 over its SHA-256.
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(tmp.path(), data).unwrap();
        openssl(&[
            "dgst",
            "-sha256",
            "-sign",
            self.private.to_str().unwrap(),
            tmp.path().to_str().unwrap(),
        ])
        .stdout
    }
}
