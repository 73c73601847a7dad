//! Void packages as image sources and as the kernel under test, end to end.
//!
//! The packages are built around Debian's real ppc64le kernel (taken from
//! the image cache, fetched there through apt if missing) and its real KVM
//! modules, laid out as xbps-create does (`./boot/vmlinux-<release>`,
//! `./usr/lib/modules/<release>/**/kvm*.ko.zst`); the repositories as
//! xbps-rindex does (`<arch>-repodata`), signed with a key the test makes
//! with openssl, and served from a loopback HTTP server. Every source form
//! is resolved through the [`Store`], and every bad input must fail with
//! the right exit status and leave nothing half-written in the cache.

#[path = "support/http.rs"]
#[allow(dead_code)]
mod http;
#[path = "support/xbps.rs"]
mod pack;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use bootmatrix::images::{
    self, kernel_release, kvm_modules, xbps, Image, ImageSpec, KernelSource, Store, StoreOptions,
};
use bootmatrix::Error;
use http::{Fault, Server};
use pack::{
    fake_vmlinux, headers_package, index_plist, repodata, sha256, small_package, Pack, Pkg, Signer,
};
use rstest::rstest;

/// Short waits so that retries cost milliseconds.
fn quick() -> StoreOptions {
    StoreOptions {
        offline: false,
        progress: false,
        attempts: 2,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(5),
    }
}

fn store(root: &Path) -> Store {
    Store::open(root.to_owned(), quick()).unwrap()
}

/// Writes `images/<name>.toml` under `dir` and loads it as a matrix would.
fn spec(dir: &Path, name: &str, text: &str) -> ImageSpec {
    let images = dir.join("images");
    fs::create_dir_all(&images).unwrap();
    fs::write(images.join(format!("{name}.toml")), text).unwrap();
    images::load(&images, name).unwrap()
}

/// Nothing half-written: no temporary file, and every blob whole.
fn assert_clean(root: &Path) {
    let tmp: Vec<PathBuf> = fs::read_dir(root.join("tmp"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(tmp.is_empty(), "the cache kept temporary files: {tmp:?}");
    for e in fs::read_dir(root.join("blobs/sha256"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        assert_eq!(
            sha256(&fs::read(e.path()).unwrap()),
            name,
            "a cached blob does not match its name"
        );
    }
}

/// Resolves `s` expecting a refusal with exit status `code` whose one-line
/// message holds every one of `wants`, and a clean cache afterwards.
fn refused(root: &Path, s: &ImageSpec, code: i32, wants: &[&str]) -> Error {
    let e = store(root).get(s).unwrap_err();
    assert_eq!(e.exit_code(), code, "{e}");
    for want in wants {
        assert!(e.message().contains(want), "no `{want}` in: {e}");
    }
    assert_eq!(e.message().lines().count(), 1, "{e}");
    assert_clean(root);
    e
}

/// A store that must not touch the network.
fn offline(root: &Path) -> Store {
    Store::open(
        root.to_owned(),
        StoreOptions {
            offline: true,
            ..quick()
        },
    )
    .unwrap()
}

/// The blobs in the cache, by name.
fn blobs(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(root.join("blobs/sha256"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Debian's ppc64le kernel with its KVM modules, from the shared image cache.
struct Debian {
    vmlinux: Vec<u8>,
    sha256: String,
    release: String,
    /// Decompressed, in load order (`kvm.ko`, `kvm-hv.ko`).
    modules: Vec<(String, Vec<u8>)>,
    /// The kernel's own .deb.
    deb: PathBuf,
}

fn debian() -> &'static Debian {
    static CELL: OnceLock<Debian> = OnceLock::new();
    CELL.get_or_init(|| {
        let (store, kernel) = pack::debian_kernel_64k();
        let image = store
            .get(&kernel)
            .unwrap_or_else(|e| panic!("Debian's kernel: {e}"));
        let modules = kvm_modules(&store, &kernel).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let deb = spec(
            dir.path(),
            "deb",
            "apt = \"linux-image-powerpc64le\"\narch = \"ppc64el\"\nresolve_depends = true\n",
        );
        let deb = store.get(&deb).unwrap().path;
        let vmlinux = fs::read(&image.path).unwrap();
        Debian {
            release: image.release.clone().expect("Debian's kernel has a banner"),
            sha256: image.sha256,
            vmlinux,
            modules,
            deb,
        }
    })
}

/// The Void-style package of Debian's kernel and the files it is made of.
struct Fixture {
    kernel: Pkg,
    /// The KVM modules the package must give, in load order.
    modules: Vec<(String, Vec<u8>)>,
    /// A noarch package beside it, as repositories have.
    base: Pkg,
    key: Signer,
    other_key: Signer,
}

fn fixture() -> &'static Fixture {
    static CELL: OnceLock<Fixture> = OnceLock::new();
    CELL.get_or_init(|| {
        let d = debian();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("xbps-fixture");
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let rel = &d.release;
        // Debian builds no KVM-PR; a copy of kvm-hv.ko under its name stands
        // in for it, to check the load order (data only: it is never loaded).
        let mut modules = d.modules.clone();
        let hv = modules
            .iter()
            .find(|(n, _)| n == "kvm-hv.ko")
            .unwrap()
            .1
            .clone();
        modules.push(("kvm-pr.ko".into(), hv));
        // In the archive in reverse load order, and an older release's
        // module that must not be picked.
        let kvm_dir = format!("usr/lib/modules/{rel}/kernel/arch/powerpc/kvm");
        let mut zst: Vec<(String, Vec<u8>)> = modules
            .iter()
            .rev()
            .map(|(n, data)| {
                let packed = zstd::encode_all(data.as_slice(), 3).unwrap();
                (format!("{kvm_dir}/{n}.zst"), packed)
            })
            .collect();
        zst.insert(
            0,
            (
                "usr/lib/modules/6.0.0_1/kernel/arch/powerpc/kvm/kvm.ko.zst".into(),
                zstd::encode_all(&b"stale"[..], 3).unwrap(),
            ),
        );
        let config = b"CONFIG_PPC64=y\nCONFIG_KVM_BOOK3S_64=m\nCONFIG_KVM_BOOK3S_64_HV=m\n\
                       CONFIG_KVM_BOOK3S_64_PR=m\n"
            .to_vec();
        let depmod = b"kernel/arch/powerpc/kvm/kvm-hv.ko.zst: kernel/arch/powerpc/kvm/kvm.ko.zst\n";
        let vmlinux_path = format!("boot/vmlinux-{rel}");
        let config_path = format!("boot/config-{rel}");
        let depmod_path = format!("usr/lib/modules/{rel}/modules.dep");
        let mut files: Vec<(&str, &[u8])> =
            vec![(&vmlinux_path, &d.vmlinux), (&config_path, &config)];
        for (p, data) in &zst {
            files.push((p, data));
        }
        files.push((&depmod_path, depmod));
        let kernel = Pkg::build("linux6.1", "6.1.176_1", "ppc64le", &files, Pack::Zstd);
        let base = Pkg::build(
            "linux-base",
            "2023.05.29_1",
            "noarch",
            &[("usr/share/doc/linux-base/README", b"base\n")],
            Pack::Zstd,
        );
        let key = Signer::new(&dir.join("keys"), "repo");
        let other_key = Signer::new(&dir.join("keys"), "other");
        Fixture {
            kernel,
            modules,
            base,
            key,
            other_key,
        }
    })
}

/// Writes a local repository (as xbps-src leaves `hostdir/binpkgs`) into
/// `dir`: the packages, `ppc64le-repodata` with an empty `index-meta.plist`
/// and no `stage.plist`.
fn local_repo(dir: &Path, pkgs: &[&Pkg]) -> PathBuf {
    let repo = dir.join("binpkgs");
    fs::create_dir_all(&repo).unwrap();
    for p in pkgs {
        fs::write(repo.join(p.file_name()), &p.bytes).unwrap();
    }
    fs::write(
        repo.join("ppc64le-repodata"),
        repodata(&index_plist(pkgs), "", None, Pack::Zstd),
    )
    .unwrap();
    repo
}

/// Serves a signed remote repository under `/current`: packages, their
/// `.sig2` by `signer`, and an index announcing `announced` (an empty
/// `stage.plist`, as a repository between stages has).
fn serve_repo(server: &Server, pkgs: &[&Pkg], signer: Option<&Signer>, announced: Option<&[u8]>) {
    pack::serve_repository(|p, b| server.serve(p, b), pkgs, signer, announced);
}

/// A server with a repository signed by the fixture's key, announcing it.
fn signed_repo(pkgs: &[&Pkg]) -> Server {
    let f = fixture();
    let server = Server::start();
    serve_repo(&server, pkgs, Some(&f.key), Some(&f.key.pem()));
    server
}

fn remote_spec(dir: &Path, server: &Server, key: &Path, package: &str) -> ImageSpec {
    spec(
        dir,
        "void",
        &format!(
            "xbps = \"{package}\"\nrepository = \"{}\"\narch = \"ppc64le\"\npublic_key = \"{}\"\n",
            server.url("/current"),
            key.display()
        ),
    )
}

/// Asserts the image is Debian's kernel, taken out of its package.
fn assert_is_debian_kernel(image: &Image) {
    let d = debian();
    assert_eq!(image.sha256, d.sha256, "not the packaged kernel: {image:?}");
    assert_eq!(sha256(&fs::read(&image.path).unwrap()), d.sha256);
    assert_eq!(
        image.member.as_deref(),
        Some(format!("boot/vmlinux-{}", d.release).as_str())
    );
    assert_eq!(image.release.as_deref(), Some(d.release.as_str()));
}

#[test]
fn the_example_description_loads() {
    let images_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("images");
    let s = images::load(&images_dir, "void-kernel-example").unwrap();
    let images::Source::Xbps(x) = &s.source else {
        panic!("{s:?}")
    };
    assert_eq!(
        (x.package.as_str(), x.arch),
        ("linux6.1", images::XbpsArch::Ppc64le)
    );
    assert_eq!(x.trust, images::XbpsTrust::Unverified);
    assert_eq!(s.member.as_deref(), Some(images::XBPS_KERNEL_MEMBER));
}

#[test]
fn the_release_is_read_from_the_real_kernels_banner() {
    let d = debian();
    assert!(
        d.release.starts_with("6.1.0-") && d.release.ends_with("-powerpc64le"),
        "{}",
        d.release
    );
    assert_eq!(
        kernel_release(&d.vmlinux).as_deref(),
        Some(d.release.as_str())
    );
    assert_eq!(
        d.modules
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        ["kvm.ko", "kvm-hv.ko"]
    );
}

#[test]
fn a_package_file_gives_its_kernel_props_and_kvm_modules() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let pkg_path = dir.path().join(f.kernel.file_name());
    fs::write(&pkg_path, &f.kernel.bytes).unwrap();
    let s = spec(
        dir.path(),
        "void",
        &format!("file = \"../{}\"\n", f.kernel.file_name()),
    );
    let store = store(&root);
    let image = store.get(&s).unwrap();
    assert_is_debian_kernel(&image);
    assert!(image.cached, "a local package needs no network");

    let props = xbps::read_props(&pkg_path).unwrap();
    assert_eq!(
        (props.pkgname.as_str(), props.version.as_str()),
        ("linux6.1", "6.1.176_1")
    );
    assert_eq!(
        (props.pkgver.as_str(), props.architecture.as_str()),
        ("linux6.1-6.1.176_1", "ppc64le")
    );

    // The emulated host's KVM: the package's .ko.zst, decompressed, in load order.
    let modules = kvm_modules(&store, &s).unwrap();
    assert_eq!(modules, f.modules);
    // A package that went away is the machine's trouble, named.
    fs::remove_file(&pkg_path).unwrap();
    let e = store.get(&s).unwrap_err();
    assert_eq!(e.exit_code(), 3, "{e}");
    assert!(e.message().contains(&f.kernel.file_name()), "{e}");
    assert_clean(&root);
}

#[rstest]
#[case::zstd(Pack::Zstd)]
#[case::gzip(Pack::Gzip)]
#[case::bzip2(Pack::Bzip2)]
#[case::lz4(Pack::Lz4)]
#[case::xz(Pack::Xz)]
#[case::none(Pack::None)]
fn every_compression_xbps_uses_is_read(#[case] pack: Pack) {
    let (pkg, kernel) = small_package(pack);
    let dir = tempfile::tempdir().unwrap();
    // The name says nothing about the compression; the first bytes do.
    fs::write(dir.path().join("kernel.xbps"), &pkg.bytes).unwrap();
    let s = spec(dir.path(), "k", "file = \"../kernel.xbps\"\n");
    let image = store(&dir.path().join("cache")).get(&s).unwrap();
    assert_eq!(fs::read(&image.path).unwrap(), kernel);
    assert_eq!(image.member.as_deref(), Some("boot/vmlinux-6.1.99_1"));
    assert_eq!(image.release.as_deref(), Some("6.1.99_1"));
    assert_eq!(
        xbps::read_props(&dir.path().join("kernel.xbps"))
            .unwrap()
            .pkgver,
        "linux6.1-6.1.99_1"
    );
}

#[test]
fn a_package_url_is_downloaded_once() {
    let f = fixture();
    let server = Server::start();
    let path = format!("/pkgs/{}", f.kernel.file_name());
    server.serve(&path, f.kernel.bytes.clone());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let s = spec(
        dir.path(),
        "void",
        &format!(
            "url = \"{}\"\nsha256 = \"{}\"\nallow_http = true\n",
            server.url(&path),
            sha256(&f.kernel.bytes)
        ),
    );
    let image = store(&root).get(&s).unwrap();
    assert_is_debian_kernel(&image);
    assert!(!image.cached);
    // The package itself is kept too (its modules come from it).
    assert!(blobs(&root).contains(&sha256(&f.kernel.bytes)));
    let again = store(&root).get(&s).unwrap();
    assert!(again.cached);
    assert_eq!(server.requests(&path).len(), 1, "downloaded twice");
    assert_eq!(kvm_modules(&store(&root), &s).unwrap(), f.modules);
    assert_eq!(
        server.requests(&path).len(),
        1,
        "the modules came from the cached package"
    );
    assert_clean(&root);
}

#[test]
fn a_local_repository_as_xbps_src_leaves_it() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let repo = local_repo(dir.path(), &[&f.kernel, &f.base]);
    let s = spec(
        dir.path(),
        "void",
        "xbps = \"linux6.1\"\nrepository = \"../binpkgs\"\narch = \"ppc64le\"\n",
    );
    let image = store(&root).get(&s).unwrap();
    assert_is_debian_kernel(&image);
    assert!(image.cached, "a local repository needs no network");
    assert_eq!(image.version.as_deref(), Some("6.1.176_1"));
    assert!(
        image.origin.contains("linux6.1-6.1.176_1.ppc64le.xbps"),
        "{}",
        image.origin
    );
    assert!(image.origin.ends_with("/binpkgs"), "{}", image.origin);
    assert_eq!(
        fs::canonicalize(image.origin.rsplit(" from ").next().unwrap()).unwrap(),
        fs::canonicalize(&repo).unwrap()
    );
    // A local package is read where it lies, not copied.
    assert!(!blobs(&root).contains(&sha256(&f.kernel.bytes)));
    assert_eq!(kvm_modules(&store(&root), &s).unwrap(), f.modules);
    assert_clean(&root);

    // A local copy of a signed repository can be held to its key as well.
    let sig = repo.join(format!("{}.sig2", f.kernel.file_name()));
    let signed = spec(
        dir.path(),
        "signed",
        &format!(
            "xbps = \"linux6.1\"\nrepository = \"../binpkgs\"\narch = \"ppc64le\"\n\
             public_key = \"{}\"\n",
            f.key.public.display()
        ),
    );
    refused(&root, &signed, 3, &["cannot read the signature", ".sig2"]);
    fs::write(&sig, f.other_key.sign(&f.kernel.bytes)).unwrap();
    refused(
        &root,
        &signed,
        3,
        &["does not verify", &format!("{}.sig2", f.kernel.file_name())],
    );
    fs::write(&sig, f.key.sign(&f.kernel.bytes)).unwrap();
    assert_is_debian_kernel(&store(&root).get(&signed).unwrap());
}

#[test]
fn a_remote_signed_repository_is_verified_fetched_once_and_works_offline() {
    let f = fixture();
    let server = signed_repo(&[&f.kernel, &f.base]);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let s = remote_spec(dir.path(), &server, &f.key.public, "linux6.1");
    let pkg = format!("/current/{}", f.kernel.file_name());
    let image = store(&root).get(&s).unwrap();
    assert_is_debian_kernel(&image);
    assert!(!image.cached);
    let counts = || {
        [
            server.requests("/current/ppc64le-repodata").len(),
            server.requests(&format!("{pkg}.sig2")).len(),
            server.requests(&pkg).len(),
        ]
    };
    assert_eq!(counts(), [1, 1, 1]);

    // A second run: no network I/O at all.
    let again = store(&root).get(&s).unwrap();
    assert!(again.cached, "{again:?}");
    assert_eq!(again.sha256, image.sha256);
    assert_eq!(counts(), [1, 1, 1]);
    let offline = offline(&root);
    assert_eq!(offline.get(&s).unwrap().sha256, image.sha256);
    assert_eq!(kvm_modules(&offline, &s).unwrap(), f.modules);
    assert_eq!(counts(), [1, 1, 1]);
    assert_clean(&root);

    // The noarch package is found through the ppc64le index too.
    let base = remote_spec(dir.path(), &server, &f.key.public, "linux-base");
    let base = spec(
        dir.path(),
        "base",
        &fs::read_to_string(&base.description_file).unwrap().replace(
            "\"linux-base\"",
            "\"linux-base\"\nmember = \"usr/share/doc/linux-base/README\"",
        ),
    );
    assert_eq!(
        fs::read(store(&root).get(&base).unwrap().path).unwrap(),
        b"base\n"
    );
}

#[test]
fn an_unsigned_remote_repository_needs_insecure() {
    let f = fixture();
    let server = Server::start();
    serve_repo(&server, &[&f.kernel], None, None);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let images = dir.path().join("images");
    fs::create_dir_all(&images).unwrap();
    let text = format!(
        "xbps = \"linux6.1\"\nrepository = \"{}\"\narch = \"ppc64le\"\n",
        server.url("/current")
    );
    fs::write(images.join("void.toml"), &text).unwrap();
    let e = images::load(&images, "void").unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");
    assert!(
        e.message()
            .contains("void.toml:2: key `public_key`: missing"),
        "{e}"
    );
    assert!(e.message().contains("insecure = true"), "{e}");
    assert!(server.requests("/current/ppc64le-repodata").is_empty());

    let s = spec(dir.path(), "void2", &format!("{text}insecure = true\n"));
    assert_is_debian_kernel(&store(&root).get(&s).unwrap());
    assert_clean(&root);
}

#[test]
fn kernel_sources_of_every_form_give_the_same_kernel() {
    let f = fixture();
    let d = debian();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let base = dir.path();
    fs::write(base.join("vmlinux"), &d.vmlinux).unwrap();
    std::os::unix::fs::symlink(&d.deb, base.join("kernel.pkg")).unwrap(); // a .deb under another name
    fs::write(base.join("void.bin"), &f.kernel.bytes).unwrap(); // an .xbps under another name
    local_repo(base, &[&f.kernel, &f.base]);
    let server = signed_repo(&[&f.kernel, &f.base]);
    server.serve("/k.xbps", f.kernel.bytes.clone());
    let sources = [
        "vmlinux".to_owned(),
        "kernel.pkg".to_owned(),
        "void.bin".to_owned(),
        format!(
            "{}#sha256={}",
            server.url("/k.xbps"),
            sha256(&f.kernel.bytes)
        ),
        "xbps:binpkgs#linux6.1".to_owned(),
        format!(
            "xbps:{}#linux6.1@ppc64le,key={}",
            server.url("/current"),
            f.key.public.display()
        ),
    ];
    let store = store(&root);
    for text in sources {
        let source: KernelSource = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        let s = source.image_spec("debian-64k", base);
        let image = store.get(&s).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(image.sha256, d.sha256, "{text}");
        assert_eq!(image.release.as_deref(), Some(d.release.as_str()), "{text}");
        assert_eq!(image.name, "debian-64k");
    }
    // A bare vmlinux is booted where it lies, never copied.
    let s = KernelSource::File("vmlinux".into()).image_spec("k", base);
    assert_eq!(store.get(&s).unwrap().path, base.join("vmlinux"));
    // A package given as the host kernel brings its modules.
    let s: KernelSource = "void.bin".parse().unwrap();
    assert_eq!(
        kvm_modules(&store, &s.image_spec("k", base)).unwrap(),
        f.modules
    );
    assert_clean(&root);
}

// ---- bad input -------------------------------------------------------------

#[test]
fn a_package_without_a_kernel_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let pkg = headers_package();
    fs::write(dir.path().join(pkg.file_name()), &pkg.bytes).unwrap();
    let s = spec(
        dir.path(),
        "k",
        &format!("file = \"../{}\"\n", pkg.file_name()),
    );
    let wants = [
        pkg.file_name(),
        "no member matches `boot/vmlinux-*`".to_owned(),
        "holds no kernel".to_owned(),
    ];
    refused(&root, &s, 3, &wants.each_ref().map(String::as_str));

    // Nor is a tar that is no xbps package at all.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(3);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "boot/vmlinux-1", &b"elf"[..])
        .unwrap();
    let tar = b.into_inner().unwrap();
    fs::write(
        dir.path().join("plain.xbps"),
        zstd::encode_all(tar.as_slice(), 3).unwrap(),
    )
    .unwrap();
    let s = spec(dir.path(), "p", "file = \"../plain.xbps\"\n");
    refused(
        &root,
        &s,
        3,
        &["plain.xbps is not an xbps package: it has no ./props.plist"],
    );
    assert!(blobs(&root).is_empty(), "{:?}", blobs(&root));
}

/// Where a truncated package ends: in the middle.
fn half(len: usize) -> usize {
    len / 2
}

/// Where a truncated package ends: exactly before a bare tar's
/// end-of-archive blocks, so that every member is whole.
fn before_end_blocks(len: usize) -> usize {
    len - 1024
}

#[rstest]
#[case::zstd_half(Pack::Zstd, half)]
#[case::gzip_half(Pack::Gzip, half)]
#[case::bzip2_half(Pack::Bzip2, half)]
#[case::lz4_half(Pack::Lz4, half)]
#[case::xz_half(Pack::Xz, half)]
#[case::none_half(Pack::None, half)]
#[case::none_between_members(Pack::None, before_end_blocks)]
fn a_truncated_package_is_refused_and_nothing_is_cached(
    #[case] pack: Pack,
    #[case] end: fn(usize) -> usize,
) {
    let (pkg, _) = small_package(pack);
    let cut = end(pkg.bytes.len());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    fs::write(dir.path().join(pkg.file_name()), &pkg.bytes[..cut]).unwrap();
    let s = spec(
        dir.path(),
        "k",
        &format!("file = \"../{}\"\n", pkg.file_name()),
    );
    refused(&root, &s, 3, &[&pkg.file_name(), "truncated"]);
    assert!(blobs(&root).is_empty(), "{:?}", blobs(&root));
}

#[test]
fn a_missing_package_or_architecture_names_what_the_repository_has() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    local_repo(dir.path(), &[&f.kernel, &f.base]);
    let local = |name: &str, package: &str, arch: &str| {
        spec(
            dir.path(),
            name,
            &format!("xbps = \"{package}\"\nrepository = \"../binpkgs\"\narch = \"{arch}\"\n"),
        )
    };
    refused(
        &root,
        &local("a", "linux6.12", "ppc64le"),
        3,
        &[
            "ppc64le-repodata has no package `linux6.12`",
            "it has linux-base, linux6.1",
        ],
    );
    refused(
        &root,
        &local("b", "linux6.1", "ppc64"),
        3,
        &["has no ppc64-repodata", "it has ppc64le", "b.toml"],
    );

    let server = signed_repo(&[&f.kernel]);
    let musl = spec(
        dir.path(),
        "c",
        &format!(
            "xbps = \"linux6.1\"\nrepository = \"{}\"\narch = \"ppc64le-musl\"\npublic_key = \"{}\"\n",
            server.url("/current"),
            f.key.public.display()
        ),
    );
    refused(
        &root,
        &musl,
        3,
        &["ppc64le-musl-repodata", "HTTP 404", "c.toml"],
    );
    let missing = remote_spec(dir.path(), &server, &f.key.public, "linux6.9");
    refused(&root, &missing, 3, &["has no package `linux6.9`"]);
    assert!(server
        .requests(&format!("/current/{}", f.kernel.file_name()))
        .is_empty());
    // Only the remote index is kept (it is what the next run would read).
    assert_eq!(blobs(&root).len(), 1, "{:?}", blobs(&root));
}

#[test]
fn local_hash_and_size_mismatches_are_refused() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let repo = local_repo(dir.path(), &[&f.kernel]);
    let path = repo.join(f.kernel.file_name());
    let s = spec(
        dir.path(),
        "v",
        "xbps = \"linux6.1\"\nrepository = \"../binpkgs\"\narch = \"ppc64le\"\n",
    );
    // Same length, other bytes: rebuilt without reindexing.
    let mut changed = f.kernel.bytes.clone();
    let mid = changed.len() / 2;
    changed[mid] ^= 1;
    fs::write(&path, &changed).unwrap();
    let name = f.kernel.file_name();
    refused(
        &root,
        &s,
        3,
        &["checksum mismatch", &name, "xbps-rindex -a"],
    );
    changed.push(0);
    fs::write(&path, &changed).unwrap();
    refused(&root, &s, 3, &["`filename-size`", &name]);
    assert!(blobs(&root).is_empty(), "{:?}", blobs(&root));
}

#[test]
fn remote_hash_and_size_mismatches_are_refused() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let pkg = format!("/current/{}", f.kernel.file_name());
    // Signed correctly, but the server sends other bytes.
    let server = signed_repo(&[&f.kernel]);
    server.script(&pkg, [Fault::Corrupt, Fault::Corrupt, Fault::Corrupt]);
    let root = dir.path().join("cache");
    let s = remote_spec(dir.path(), &server, &f.key.public, "linux6.1");
    refused(
        &root,
        &s,
        3,
        &["checksum mismatch", "filename-sha256", &pkg],
    );
    assert!(!blobs(&root).contains(&sha256(&f.kernel.bytes)));

    // The server's file is longer than the index says.
    let server = signed_repo(&[&f.kernel]);
    let mut longer = f.kernel.bytes.clone();
    longer.push(0);
    server.serve(&pkg, longer);
    let root = dir.path().join("cache2");
    let s = remote_spec(dir.path(), &server, &f.key.public, "linux6.1");
    refused(&root, &s, 3, &["`filename-size`", &pkg]);
    assert!(!blobs(&root).contains(&sha256(&f.kernel.bytes)));
}

/// A repository signed (or not) by one key while announcing another.
type SignatureCase<'a> = (&'a str, Option<&'a Signer>, &'a [u8], [&'a str; 2]);

#[test]
fn bad_and_missing_signatures_are_refused_before_downloading() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let pkg = format!("/current/{}", f.kernel.file_name());
    let name = f.kernel.file_name();
    // (case, who signs the .sig2, the key index-meta.plist announces, wanted)
    let cases: [SignatureCase<'_>; 3] = [
        // Signed by another key than the one announced and named.
        (
            "bad",
            Some(&f.other_key),
            &f.key.pem(),
            ["does not verify", &name],
        ),
        // No .sig2 at all.
        ("missing", None, &f.key.pem(), [".sig2", "HTTP 404"]),
        // The repository announces another key than the description names.
        (
            "key",
            Some(&f.other_key),
            &f.other_key.pem(),
            ["announces another public key", "ppc64le-repodata"],
        ),
    ];
    for (case, signer, announced, wants) in cases {
        let server = Server::start();
        serve_repo(&server, &[&f.kernel], signer, Some(announced));
        let root = dir.path().join(format!("cache-{case}"));
        let s = remote_spec(dir.path(), &server, &f.key.public, "linux6.1");
        refused(&root, &s, 3, &wants);
        assert!(
            server.requests(&pkg).is_empty(),
            "{case}: the package was downloaded"
        );
        assert!(!blobs(&root).contains(&sha256(&f.kernel.bytes)));
    }
    // A key file that is no key is the description's fault.
    fs::write(dir.path().join("junk.pem"), "not a key").unwrap();
    let server = signed_repo(&[&f.kernel]);
    let s = remote_spec(
        dir.path(),
        &server,
        &dir.path().join("junk.pem"),
        "linux6.1",
    );
    refused(
        &dir.path().join("c"),
        &s,
        2,
        &["junk.pem", "not an RSA public key"],
    );
}

#[test]
fn sources_that_are_no_kernel_are_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let kernel = |file: &str| KernelSource::File(file.into()).image_spec("k", dir.path());
    fs::write(dir.path().join("notes.txt"), "just text\n").unwrap();
    refused(
        &root,
        &kernel("notes.txt"),
        2,
        &["notes.txt", "image `k`", "neither an ELF vmlinux"],
    );

    // An ELF file, but for x86.
    let mut elf = fake_vmlinux("6.1.99_1");
    elf[18..20].copy_from_slice(&62u16.to_le_bytes());
    fs::write(dir.path().join("bzImage"), &elf).unwrap();
    refused(
        &root,
        &kernel("bzImage"),
        2,
        &["bzImage", "another machine than POWER"],
    );

    // A bare kernel has no modules to give an emulated host.
    fs::write(dir.path().join("vmlinux"), fake_vmlinux("6.1.99_1")).unwrap();
    let e = kvm_modules(&store(&root), &kernel("vmlinux")).unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");
    assert!(
        e.message().contains("--kernel k=vmlinux") && e.message().contains("no package"),
        "{e}"
    );
    assert_clean(&root);
}
