//! The L1 userland bundle and the KVM modules, from Debian's real ppc64el
//! packages through the machine's apt (ppc64el and bookworm-backports must
//! be set up, as ci/setup-debian.sh does).
//!
//! The cache lives under target/ and keeps its downloaded .debs between
//! runs; the derivation records are dropped at the start of each run, so
//! the bundle and the modules are really rebuilt from the packages every
//! time (without downloading them again), then served from the cache.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use bootmatrix::images::{
    self, kvm_modules, qemu_userland, BundleContent, BundleFile, ImageSpec, Store, StoreOptions,
    Userland,
};
use bootmatrix::Error;
use object::elf;
use object::read::elf::{Dyn as _, FileHeader, ProgramHeader as _};
use object::Endianness;
use rstest::rstest;

/// The store shared by all tests of this file, with the records of earlier
/// runs removed once (blobs, including the .debs, are kept).
fn store() -> &'static Store {
    static CELL: OnceLock<Store> = OnceLock::new();
    CELL.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bundle-cache");
        if let Ok(entries) = fs::read_dir(root.join("refs")) {
            for e in entries.flatten() {
                fs::remove_file(e.path()).unwrap();
            }
        }
        let options = StoreOptions {
            progress: false,
            ..StoreOptions::default()
        };
        Store::open(root, options).unwrap()
    })
}

/// Both tests of the userland share one build (it is the slow part).
fn userland() -> &'static (Userland, Userland) {
    static CELL: OnceLock<(Userland, Userland)> = OnceLock::new();
    CELL.get_or_init(|| {
        let first = qemu_userland(store(), "bookworm-backports").unwrap();
        let second = qemu_userland(store(), "bookworm-backports").unwrap();
        (first, second)
    })
}

fn repo_image(name: &str) -> ImageSpec {
    images::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("images"), name).unwrap()
}

/// The bundle as a path → entry map, to resolve links the way the kernel
/// would inside the initramfs.
fn by_path(u: &Userland) -> BTreeMap<&str, &BundleFile> {
    u.files.iter().map(|f| (f.path.as_str(), f)).collect()
}

/// Follows symlinks inside the bundle to a regular file's bytes.
fn resolve<'a>(files: &BTreeMap<&str, &'a BundleFile>, path: &str) -> Option<&'a [u8]> {
    let mut path = bootmatrix::images::normalize_archive_path(path);
    for _ in 0..32 {
        match &files.get(path.as_str())?.content {
            BundleContent::File(data) => return Some(data),
            BundleContent::Symlink(target) => {
                path = if target.starts_with('/') {
                    bootmatrix::images::normalize_archive_path(target)
                } else {
                    let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                    bootmatrix::images::normalize_archive_path(&format!("{dir}/{target}"))
                };
            }
            BundleContent::Dir => return None,
        }
    }
    None
}

/// Asserts a 64-bit little-endian POWER ELF file of the given e_type.
fn assert_ppc64le_elf(data: &[u8], e_type: u16, what: &str) {
    assert!(data.len() > 64, "{what}: too short for an ELF header");
    assert_eq!(&data[..4], b"\x7fELF", "{what}: not an ELF file");
    assert_eq!(data[4], 2, "{what}: not ELFCLASS64");
    assert_eq!(data[5], 1, "{what}: not little-endian");
    assert_eq!(
        u16::from_le_bytes([data[16], data[17]]),
        e_type,
        "{what}: e_type"
    );
    assert_eq!(
        u16::from_le_bytes([data[18], data[19]]),
        21,
        "{what}: e_machine is not EM_PPC64"
    );
}

/// The PT_INTERP and DT_NEEDED entries of an ELF file (from the dynamic
/// segment, independently of how the library reads them).
fn elf_needs(data: &[u8]) -> (Option<String>, Vec<String>) {
    let header = elf::FileHeader64::<Endianness>::parse(data).unwrap();
    let endian = header.endian().unwrap();
    let mut interp = None;
    let mut needed = Vec::new();
    let phs = header.program_headers(endian, data).unwrap();
    let sections = header.sections(endian, data).unwrap();
    for ph in phs {
        if let Some(i) = ph.interpreter(endian, data).unwrap() {
            interp = Some(String::from_utf8_lossy(i).into_owned());
        }
    }
    if let Some((dynamic, strtab)) = sections.dynamic(endian, data).unwrap() {
        let strings = sections.strings(endian, data, strtab).unwrap();
        for d in dynamic {
            if d.tag32(endian) == Some(elf::DT_NEEDED) {
                needed.push(String::from_utf8_lossy(d.string(endian, strings).unwrap()).into());
            }
        }
    }
    (interp, needed)
}

/// The bundle runs on its own: qemu is a ppc64le PIE, its loader, every
/// library any ELF in it needs and the pseries firmware are inside, and
/// parents come before their children.
fn assert_self_contained(u: &Userland) {
    let files = by_path(u);
    let qemu = match &files["usr/bin/qemu-system-ppc64"].content {
        BundleContent::File(d) => d,
        other => panic!("qemu-system-ppc64 is not a regular file: {other:?}"),
    };
    assert_ppc64le_elf(qemu, 3, "qemu-system-ppc64"); // ET_DYN: a PIE
    assert_eq!(files["usr/bin/qemu-system-ppc64"].mode & 0o111, 0o111);
    let loader =
        resolve(&files, "lib64/ld64.so.2").expect("lib64/ld64.so.2 resolves in the bundle");
    assert_ppc64le_elf(loader, 3, "ld64.so.2");
    for fw in ["usr/share/qemu/slof.bin", "usr/share/qemu/vof.bin"] {
        let data = resolve(&files, fw).unwrap_or_else(|| panic!("{fw} missing"));
        assert!(data.len() > 1000, "{fw} is only {} bytes", data.len());
    }

    // Every ELF's loader and DT_NEEDED entries are in the bundle, in a
    // directory the ppc64el loader searches.
    let mut elves = 0;
    for f in &u.files {
        let BundleContent::File(data) = &f.content else {
            continue;
        };
        if !data.starts_with(b"\x7fELF") {
            continue;
        }
        elves += 1;
        assert_ppc64le_elf(data, 3, &f.path);
        let (interp, needed) = elf_needs(data);
        if let Some(i) = interp {
            assert!(
                resolve(&files, &i).is_some(),
                "{}: loader {i} missing",
                f.path
            );
        }
        for n in needed {
            let found = ["lib/powerpc64le-linux-gnu", "usr/lib/powerpc64le-linux-gnu"]
                .iter()
                .any(|d| resolve(&files, &format!("{d}/{n}")).is_some());
            assert!(found, "{} needs {n}, which the bundle lacks", f.path);
        }
    }
    assert!(
        elves > 20,
        "only {elves} ELF files: the library closure was not walked"
    );

    // Parents come before what they hold, so an archive written in order unpacks.
    let mut seen: HashSet<&str> = HashSet::new();
    for f in &u.files {
        if let Some((parent, _)) = f.path.rsplit_once('/') {
            assert!(
                seen.contains(parent),
                "{} comes before its directory",
                f.path
            );
        }
        assert!(
            !f.path.starts_with('/') && !f.path.ends_with('/'),
            "{}",
            f.path
        );
        seen.insert(&f.path);
    }
}

#[test]
fn userland_has_qemu_its_loader_libraries_and_firmware() {
    let (u, _) = userland();

    assert_self_contained(u);

    // The package set is recorded, with qemu 10 from bookworm-backports.
    assert!(
        u.packages
            .iter()
            .any(|p| p.starts_with("qemu-system-ppc=1:10.0.2")),
        "{:?}",
        u.packages
    );
    assert!(
        u.packages.iter().any(|p| p.starts_with("libc6=")),
        "{:?}",
        u.packages
    );
    assert!(u.packages.iter().all(|p| p
        .split_once('=')
        .is_some_and(|(n, v)| { !n.is_empty() && !v.is_empty() && !n.contains(':') })));
    let mut sorted = u.packages.clone();
    sorted.sort();
    assert_eq!(sorted, u.packages, "packages are sorted");
    assert_eq!(u.qemu_version, "10.0.2");
    let bytes: usize = u
        .files
        .iter()
        .map(|f| match &f.content {
            BundleContent::File(d) => d.len(),
            _ => 0,
        })
        .sum();
    eprintln!(
        "userland: {} entries, {bytes} bytes of files, {} packages",
        u.files.len(),
        u.packages.len()
    );
}

/// The older qemu that runs the `pseries-2.11` rows inside emulated hosts
/// (qemu 10 has no pseries-2.x): bookworm's own, through the same closure.
#[test]
fn bookworm_userland_is_qemu_7_2_and_self_contained() {
    let u = qemu_userland(store(), "bookworm").unwrap();
    assert_eq!(
        u.qemu_version.split('.').take(2).collect::<Vec<_>>(),
        ["7", "2"],
        "{}",
        u.qemu_version
    );
    assert!(
        u.packages
            .iter()
            .any(|p| p.starts_with("qemu-system-ppc=1:7.2")),
        "{:?}",
        u.packages
    );
    assert_self_contained(&u);
    let again = qemu_userland(store(), "bookworm").unwrap();
    assert!(again.cached, "a second call reads the cached bundle");
    assert_eq!(again.packages, u.packages);
}

#[test]
fn a_second_call_is_served_from_the_cache_with_the_same_content() {
    let (first, second) = userland();
    assert!(
        !first.cached,
        "the first call after dropping the records must build"
    );
    assert!(second.cached, "the second call must come from the cache");
    assert_eq!(first.packages, second.packages);
    assert_eq!(first.qemu_version, second.qemu_version);
    assert!(
        first.files == second.files,
        "the cached bundle differs from the built one"
    );
}

#[rstest]
#[case::debian_6_1_64k("debian-kernel-64k")]
#[case::backports_6_12_4k("debian-kernel-4k")]
fn kvm_modules_come_decompressed_in_load_order(#[case] image: &str) {
    let spec = repo_image(image);
    let modules = kvm_modules(store(), &spec).unwrap();
    let names: Vec<&str> = modules.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.starts_with(&["kvm.ko", "kvm-hv.ko"]),
        "{image}: modules {names:?}"
    );
    for (name, data) in &modules {
        assert_ppc64le_elf(data, 1, &format!("{image} {name}")); // ET_REL
    }
    // Served from the cache the second time, byte for byte.
    assert_eq!(kvm_modules(store(), &spec).unwrap(), modules);
}

#[test]
fn kvm_modules_need_a_debian_kernel_package() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    fs::create_dir_all(&images).unwrap();
    fs::write(images.join("vmlinux"), b"kernel").unwrap();
    fs::write(images.join("own.toml"), "file = \"vmlinux\"\n").unwrap();
    let spec = images::load(&images, "own").unwrap();
    let e = kvm_modules(store(), &spec).unwrap_err();
    assert!(matches!(e, Error::BadInput(_)), "{e:?}");
    assert!(e.message().contains("apt"), "{e}");
}
