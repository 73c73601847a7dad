//! The image fetcher against a real HTTP server with injected faults, real
//! Debian packages through apt, and local files.
//!
//! The bytes served are Debian's busybox-static ppc64el package, obtained
//! once per test run through the `apt` source itself. After every failure the
//! cache is inspected: nothing under `blobs/` may fail its hash and no bad
//! download may linger.

#[path = "support/http.rs"]
mod http;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use bootmatrix::images::{
    self, deb_extract, Image, ImageSpec, MemberKind, Source, Store, StoreOptions,
};
use bootmatrix::Error;
use http::{Fault, Server};
use rstest::rstest;
use sha2::{Digest, Sha256};

/// Short waits so that retries and timeouts cost milliseconds, not minutes.
fn quick() -> StoreOptions {
    StoreOptions {
        offline: false,
        progress: false,
        attempts: 3,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_millis(400),
    }
}

fn sha256(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `images/<name>.toml` under `dir` and loads it like a matrix would.
fn spec(dir: &Path, name: &str, text: &str) -> ImageSpec {
    let images = dir.join("images");
    fs::create_dir_all(&images).unwrap();
    fs::write(images.join(format!("{name}.toml")), text).unwrap();
    images::load(&images, name).unwrap()
}

fn url_spec(dir: &Path, name: &str, url: &str, sha: &str) -> ImageSpec {
    spec(
        dir,
        name,
        &format!("url = \"{url}\"\nsha256 = \"{sha}\"\nallow_http = true\n"),
    )
}

/// Files under the cache's `blobs/` (each must match its name) and `tmp/`.
fn cache_contents(root: &Path) -> (Vec<String>, Vec<PathBuf>) {
    let mut blobs = Vec::new();
    if let Ok(entries) = fs::read_dir(root.join("blobs/sha256")) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let actual = sha256(&fs::read(e.path()).unwrap());
            assert_eq!(
                actual, name,
                "cache holds a blob whose bytes do not match its name"
            );
            blobs.push(name);
        }
    }
    let tmp = fs::read_dir(root.join("tmp"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    (blobs, tmp)
}

/// Asserts the cache holds no blob at all and nothing half-written.
fn assert_cache_empty(root: &Path) {
    let (blobs, tmp) = cache_contents(root);
    assert!(
        blobs.is_empty(),
        "cache kept blobs after a failure: {blobs:?}"
    );
    assert!(
        tmp.is_empty(),
        "cache kept temporary files after a failure: {tmp:?}"
    );
}

/// An ELF file for 64-bit little-endian POWER (e_machine 21 = EM_PPC64).
fn assert_ppc64le_elf(data: &[u8]) {
    assert!(data.len() > 64, "too short for an ELF header");
    assert_eq!(&data[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(data[4], 2, "not ELFCLASS64");
    assert_eq!(data[5], 1, "not little-endian");
    assert_eq!(
        u16::from_le_bytes([data[18], data[19]]),
        21,
        "e_machine is not EM_PPC64"
    );
}

/// busybox-static:ppc64el, fetched once per run through the apt source.
struct Busybox {
    work: PathBuf,
    cache: PathBuf,
    deb: Image,
    binary: Image,
    deb_bytes: Vec<u8>,
}

fn busybox() -> &'static Busybox {
    static CELL: OnceLock<Busybox> = OnceLock::new();
    CELL.get_or_init(|| {
        // A fixed place under target/, emptied each run except for apt's
        // parsed lists (cache/apt), which are slow to rebuild and never stale.
        let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fetch-busybox");
        let cache = work.join("cache");
        if let Ok(entries) = fs::read_dir(&work) {
            for e in entries.flatten().filter(|e| e.file_name() != "cache") {
                fs::remove_dir_all(e.path())
                    .or_else(|_| fs::remove_file(e.path()))
                    .unwrap();
            }
        }
        if let Ok(entries) = fs::read_dir(&cache) {
            for e in entries.flatten().filter(|e| e.file_name() != "apt") {
                fs::remove_dir_all(e.path()).unwrap();
            }
        }
        let store = Store::open(cache.clone(), quick()).unwrap();
        let binary = spec(
            &work,
            "bb",
            "apt = \"busybox-static\"\narch = \"ppc64el\"\nmember = \"bin/busybox\"\n",
        );
        let binary = store
            .get(&binary)
            .unwrap_or_else(|e| panic!("apt fetch of busybox-static failed: {e}"));
        let deb = spec(
            &work,
            "bb-deb",
            "apt = \"busybox-static\"\narch = \"ppc64el\"\n",
        );
        let deb = store.get(&deb).unwrap();
        let deb_bytes = fs::read(&deb.path).unwrap();
        Busybox {
            work,
            cache,
            deb,
            binary,
            deb_bytes,
        }
    })
}

/// A fresh working directory with a server serving the busybox .deb.
fn setup(path: &str) -> (tempfile::TempDir, Server, &'static Busybox) {
    let bb = busybox();
    let server = Server::start();
    server.serve(path, bb.deb_bytes.clone());
    (tempfile::tempdir().unwrap(), server, bb)
}

#[test]
fn apt_source_extracts_a_ppc64le_busybox() {
    let bb = busybox();
    assert_ppc64le_elf(&fs::read(&bb.binary.path).unwrap());
    assert_eq!(bb.binary.member.as_deref(), Some("bin/busybox"));
    let version = bb
        .binary
        .version
        .clone()
        .expect("apt images carry their version");
    assert_eq!(
        bb.binary.origin,
        format!("apt busybox-static:ppc64el={version}")
    );
    assert!(
        !bb.binary.cached,
        "the first fetch into an empty cache downloads"
    );
    assert!(bb.binary.path.starts_with(&bb.cache));
    assert_eq!(
        sha256(&fs::read(&bb.binary.path).unwrap()),
        bb.binary.sha256
    );
    // The .deb itself is an image too, verified against apt's lists.
    assert_eq!(bb.deb.sha256, sha256(&bb.deb_bytes));
    assert_eq!(&bb.deb_bytes[..8], b"!<arch>\n");
    assert!(
        bb.deb.cached,
        "the .deb was already in the cache from the first fetch"
    );

    // A second store on the same cache, offline: everything is a hit.
    let offline = Store::open(
        bb.cache.clone(),
        StoreOptions {
            offline: true,
            ..quick()
        },
    )
    .unwrap();
    let again = offline
        .get(&images::load(&bb.work.join("images"), "bb").unwrap())
        .unwrap();
    assert!(again.cached);
    assert_eq!(again.sha256, bb.binary.sha256);
    assert_eq!(again.path, bb.binary.path);
    cache_contents(&bb.cache);
}

#[test]
fn apt_metapackage_resolution_fails_clearly_without_a_single_dependency() {
    // busybox-static has no single versioned dependency to follow.
    let dir = tempfile::tempdir().unwrap();
    let s = spec(
        dir.path(),
        "x",
        "apt = \"busybox-static\"\narch = \"ppc64el\"\nresolve_depends = true\n",
    );
    // The shared cache: apt's lists are parsed once per cache, not per test.
    let store = Store::open(
        busybox().cache.clone(),
        StoreOptions {
            offline: true,
            ..quick()
        },
    )
    .unwrap();
    let err = store.get(&s).unwrap_err();
    let msg = err.message();
    assert!(
        msg.contains("resolve_depends") && msg.contains("busybox-static"),
        "{msg}"
    );
}

#[test]
fn apt_unknown_package_names_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(
        dir.path(),
        "x",
        "apt = \"no-such-package-bootmatrix\"\narch = \"ppc64el\"\n",
    );
    let store = Store::open(busybox().cache.clone(), quick()).unwrap();
    let err = store.get(&s).unwrap_err();
    assert!(matches!(err, Error::Infrastructure(_)));
    assert!(
        err.message().contains("no-such-package-bootmatrix:ppc64el"),
        "{err}"
    );
    assert!(err.message().contains("apt-get update"), "{err}");
}

#[test]
fn deb_extract_returns_files_with_modes() {
    let bb = busybox();
    let members = deb_extract(&bb.deb.path, &["bin/busybox", "usr/share/doc/*/copyright"]).unwrap();
    let paths: Vec<&str> = members.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(
        paths,
        ["bin/busybox", "usr/share/doc/busybox-static/copyright"]
    );
    assert_eq!(members[0].kind, MemberKind::File);
    assert_eq!(members[0].mode & 0o111, 0o111, "busybox is executable");
    assert_eq!(sha256(&members[0].data), bb.binary.sha256);
    let err = deb_extract(&bb.deb.path, &["bin/busybox", "sbin/nothing-*"]).unwrap_err();
    assert!(err.message().contains("`sbin/nothing-*`"), "{err}");
}

#[test]
fn a_dropped_connection_is_resumed_with_range() {
    let (dir, server, bb) = setup("/busybox.deb");
    let cut = 300_000;
    server.script("/busybox.deb", [Fault::DropAfter(cut)]);
    let root = dir.path().join("cache");
    let store = Store::open(root.clone(), quick()).unwrap();
    let s = url_spec(
        dir.path(),
        "bb",
        &server.url("/busybox.deb"),
        &bb.deb.sha256,
    );
    let image = store.get(&s).unwrap();
    assert_eq!(image.sha256, bb.deb.sha256);
    assert_eq!(fs::read(&image.path).unwrap(), bb.deb_bytes);
    assert_eq!(image.origin, server.url("/busybox.deb"));
    assert!(!image.cached);
    let requests = server.requests("/busybox.deb");
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].range, None);
    assert_eq!(
        requests[1].range.as_deref(),
        Some(format!("bytes={cut}-").as_str())
    );
    let (blobs, tmp) = cache_contents(&root);
    assert_eq!(blobs, vec![bb.deb.sha256.clone()]);
    assert!(tmp.is_empty(), "{tmp:?}");

    // A hit: no request at all.
    let again = store.get(&s).unwrap();
    assert!(again.cached);
    assert_eq!(server.requests("/busybox.deb").len(), 2);
}

#[test]
fn an_interrupted_run_leaves_no_usable_file_and_the_next_run_resumes() {
    let (dir, server, bb) = setup("/busybox.deb");
    let cut = 400_000;
    server.script("/busybox.deb", [Fault::DropAfter(cut), Fault::Status(503)]);
    let root = dir.path().join("cache");
    let s = url_spec(
        dir.path(),
        "bb",
        &server.url("/busybox.deb"),
        &bb.deb.sha256,
    );
    // One run that gives up: attempt 1 drops (progress), attempt 2 gets a 503.
    let impatient = Store::open(
        root.clone(),
        StoreOptions {
            attempts: 2,
            ..quick()
        },
    )
    .unwrap();
    let err = impatient.get(&s).unwrap_err();
    assert!(matches!(err, Error::Infrastructure(_)));
    assert!(err.message().contains("HTTP 503"), "{err}");
    assert!(
        err.message().contains(&format!("{cut} bytes are kept")),
        "{err}"
    );
    let (blobs, tmp) = cache_contents(&root);
    assert!(
        blobs.is_empty(),
        "a partial download must never become a blob: {blobs:?}"
    );
    assert_eq!(
        tmp.len(),
        1,
        "the partial download is kept for resuming: {tmp:?}"
    );
    assert!(tmp[0].to_string_lossy().ends_with(".part"));
    // Offline, the partial file is not an image.
    let offline = Store::open(
        root.clone(),
        StoreOptions {
            offline: true,
            ..quick()
        },
    )
    .unwrap();
    assert!(offline.get(&s).is_err());

    let store = Store::open(root.clone(), quick()).unwrap();
    let image = store.get(&s).unwrap();
    assert_eq!(image.sha256, bb.deb.sha256);
    let requests = server.requests("/busybox.deb");
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert_eq!(
        requests[1].range.as_deref(),
        Some(format!("bytes={cut}-").as_str())
    );
    assert_eq!(
        requests[2].range.as_deref(),
        Some(format!("bytes={cut}-").as_str())
    );
    let (_, tmp) = cache_contents(&root);
    assert!(tmp.is_empty(), "{tmp:?}");
}

#[rstest]
#[case::wrong_hash_in_the_description(Fault::Serve, true)]
#[case::server_sends_other_bytes(Fault::Corrupt, false)]
fn a_checksum_mismatch_names_both_hashes_and_caches_nothing(
    #[case] fault: Fault,
    #[case] wrong_pin: bool,
) {
    let (dir, server, bb) = setup("/busybox.deb");
    server.script("/busybox.deb", [fault.clone(), fault]);
    let expected = if wrong_pin {
        "ab".repeat(32)
    } else {
        bb.deb.sha256.clone()
    };
    let root = dir.path().join("cache");
    let store = Store::open(root.clone(), quick()).unwrap();
    let url = server.url("/busybox.deb");
    let err = store
        .get(&url_spec(dir.path(), "bb", &url, &expected))
        .unwrap_err();
    assert!(matches!(err, Error::Infrastructure(_)), "{err:?}");
    let msg = err.message();
    assert!(
        msg.contains(&format!("checksum mismatch for {url}")),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("expected sha256 {expected}")),
        "{msg}"
    );
    let actual = if wrong_pin {
        bb.deb.sha256.clone()
    } else {
        let mut bad = bb.deb_bytes.clone();
        let i = bad.len() / 2;
        bad[i] ^= 0xff;
        sha256(&bad)
    };
    assert!(msg.contains(&format!("actual {actual}")), "{msg}");
    assert_cache_empty(&root);
}

#[rstest]
#[case(404)]
#[case(403)]
fn client_errors_are_not_retried(#[case] code: u16) {
    let (dir, server, bb) = setup("/busybox.deb");
    server.script("/busybox.deb", [Fault::Status(code), Fault::Serve]);
    let root = dir.path().join("cache");
    let store = Store::open(root.clone(), quick()).unwrap();
    let url = server.url("/busybox.deb");
    let err = store
        .get(&url_spec(dir.path(), "bb", &url, &bb.deb.sha256))
        .unwrap_err();
    let msg = err.message();
    assert!(
        msg.contains(&format!("download of {url} failed: HTTP {code}")),
        "{msg}"
    );
    assert!(msg.contains("not retried"), "{msg}");
    assert!(
        msg.contains("bb.toml"),
        "the message points at the description: {msg}"
    );
    assert_eq!(server.requests("/busybox.deb").len(), 1);
    assert_cache_empty(&root);
}

#[test]
fn a_server_error_is_retried_and_then_succeeds() {
    let (dir, server, bb) = setup("/busybox.deb");
    server.script("/busybox.deb", [Fault::Status(500)]);
    let store = Store::open(dir.path().join("cache"), quick()).unwrap();
    let image = store
        .get(&url_spec(
            dir.path(),
            "bb",
            &server.url("/busybox.deb"),
            &bb.deb.sha256,
        ))
        .unwrap();
    assert_eq!(fs::read(&image.path).unwrap(), bb.deb_bytes);
    let requests = server.requests("/busybox.deb");
    assert_eq!(requests.len(), 2);
    assert!(
        requests.iter().all(|r| r.range.is_none()),
        "nothing to resume after a 500"
    );
}

#[test]
fn persistent_server_errors_give_up_after_the_attempts() {
    let (dir, server, bb) = setup("/busybox.deb");
    server.script(
        "/busybox.deb",
        [
            Fault::Status(502),
            Fault::Status(502),
            Fault::Status(502),
            Fault::Serve,
        ],
    );
    let root = dir.path().join("cache");
    let store = Store::open(root.clone(), quick()).unwrap();
    let url = server.url("/busybox.deb");
    let err = store
        .get(&url_spec(dir.path(), "bb", &url, &bb.deb.sha256))
        .unwrap_err();
    let msg = err.message();
    assert!(
        msg.contains(&format!("download of {url} failed after 3 attempts")),
        "{msg}"
    );
    assert!(msg.contains("HTTP 502"), "{msg}");
    assert_eq!(server.requests("/busybox.deb").len(), 3);
    assert_cache_empty(&root);
}

#[rstest]
#[case::before_the_response(Fault::StallBeforeHead(Duration::from_secs(3)), None)]
#[case::in_the_middle_of_the_body(
    Fault::StallMidBody(250_000, Duration::from_secs(3)),
    Some(250_000)
)]
fn a_stalled_server_times_out_and_is_retried(
    #[case] fault: Fault,
    #[case] resume_at: Option<usize>,
) {
    let (dir, server, bb) = setup("/busybox.deb");
    server.script("/busybox.deb", [fault]);
    let root = dir.path().join("cache");
    let store = Store::open(root.clone(), quick()).unwrap();
    let image = store
        .get(&url_spec(
            dir.path(),
            "bb",
            &server.url("/busybox.deb"),
            &bb.deb.sha256,
        ))
        .unwrap();
    assert_eq!(image.sha256, bb.deb.sha256);
    let requests = server.requests("/busybox.deb");
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[1].range, resume_at.map(|n| format!("bytes={n}-")));
    let (blobs, tmp) = cache_contents(&root);
    assert_eq!(blobs, vec![bb.deb.sha256.clone()]);
    assert!(tmp.is_empty());
}

#[test]
fn offline_never_touches_the_network_and_says_what_to_run() {
    let (dir, server, bb) = setup("/busybox.deb");
    let root = dir.path().join("cache");
    let s = url_spec(
        dir.path(),
        "debian-busybox",
        &server.url("/busybox.deb"),
        &bb.deb.sha256,
    );
    let offline = Store::open(
        root.clone(),
        StoreOptions {
            offline: true,
            ..quick()
        },
    )
    .unwrap();
    let err = offline.get(&s).unwrap_err();
    assert!(matches!(err, Error::Infrastructure(_)));
    let msg = err.message();
    assert!(msg.contains("image `debian-busybox`"), "{msg}");
    assert!(msg.contains("`bootmatrix fetch MATRIX`"), "{msg}");
    assert!(msg.contains("--offline"), "{msg}");
    assert!(
        server.requests("/busybox.deb").is_empty(),
        "offline made a request"
    );
    assert_cache_empty(&root);

    Store::open(root.clone(), quick()).unwrap().get(&s).unwrap();
    let hit = offline.get(&s).unwrap();
    assert!(hit.cached);
    assert_eq!(server.requests("/busybox.deb").len(), 1);
}

#[test]
fn runners_sharing_a_cache_download_once() {
    let (dir, server, bb) = setup("/busybox.deb");
    let root = dir.path().join("cache");
    let s = url_spec(
        dir.path(),
        "bb",
        &server.url("/busybox.deb"),
        &bb.deb.sha256,
    );
    let results: Vec<Image> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let (root, s) = (root.clone(), s.clone());
                scope.spawn(move || Store::open(root, quick()).unwrap().get(&s).unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(results
        .iter()
        .all(|i| i.sha256 == bb.deb.sha256 && i.path == results[0].path));
    assert_eq!(
        results.iter().filter(|i| !i.cached).count(),
        1,
        "exactly one runner downloads"
    );
    assert_eq!(server.requests("/busybox.deb").len(), 1);
    let (blobs, tmp) = cache_contents(&root);
    assert_eq!(blobs.len(), 1);
    assert!(tmp.is_empty());
}

#[rstest]
#[case::gzip("/busybox.gz")]
#[case::xz("/busybox.xz")]
#[case::zstd("/busybox.zst")]
fn compressed_downloads_are_decompressed_by_extension(#[case] path: &str) {
    let bb = busybox();
    let plain = fs::read(&bb.binary.path).unwrap();
    let packed = match path.rsplit('.').next().unwrap() {
        "gz" => {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&plain).unwrap();
            e.finish().unwrap()
        }
        "xz" => {
            use std::io::Read;
            let mut out = Vec::new();
            liblzma::read::XzEncoder::new(&plain[..], 1)
                .read_to_end(&mut out)
                .unwrap();
            out
        }
        _ => zstd::encode_all(&plain[..], 1).unwrap(),
    };
    let server = Server::start();
    server.serve(path, packed.clone());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("cache"), quick()).unwrap();
    let s = url_spec(dir.path(), "bb", &server.url(path), &sha256(&packed));
    let image = store.get(&s).unwrap();
    assert_eq!(
        image.sha256, bb.binary.sha256,
        "the image is the decompressed file"
    );
    assert_ppc64le_elf(&fs::read(&image.path).unwrap());
    // The derived file is recorded: a second store finds it without the server.
    let offline = Store::open(
        dir.path().join("cache"),
        StoreOptions {
            offline: true,
            ..quick()
        },
    )
    .unwrap();
    assert_eq!(offline.get(&s).unwrap().path, image.path);
    assert_eq!(server.requests(path).len(), 1);
}

#[test]
fn a_member_is_taken_out_of_a_downloaded_deb() {
    let (dir, server, bb) = setup("/pool/busybox-static_ppc64el.deb");
    let s = spec(
        dir.path(),
        "bb",
        &format!(
            "url = \"{}\"\nsha256 = \"{}\"\nallow_http = true\nsize = {}\nmember = \"bin/busy*\"\n",
            server.url("/pool/busybox-static_ppc64el.deb"),
            bb.deb.sha256,
            bb.deb_bytes.len()
        ),
    );
    let image = Store::open(dir.path().join("cache"), quick())
        .unwrap()
        .get(&s)
        .unwrap();
    assert_eq!(image.member.as_deref(), Some("bin/busybox"));
    assert_eq!(image.sha256, bb.binary.sha256);
}

#[test]
fn a_wrong_size_is_refused_before_the_download_completes() {
    let (dir, server, bb) = setup("/busybox.deb");
    let root = dir.path().join("cache");
    let s = spec(
        dir.path(),
        "bb",
        &format!(
            "url = \"{}\"\nsha256 = \"{}\"\nallow_http = true\nsize = 1000\n",
            server.url("/busybox.deb"),
            bb.deb.sha256
        ),
    );
    let err = Store::open(root.clone(), quick())
        .unwrap()
        .get(&s)
        .unwrap_err();
    assert!(
        err.message()
            .contains(&format!("is {} bytes", bb.deb_bytes.len())),
        "{err}"
    );
    assert!(err.message().contains("size = 1000"), "{err}");
    assert_cache_empty(&root);
}

#[test]
fn plain_http_needs_allow_http() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    fs::create_dir_all(&images).unwrap();
    let path = images.join("x.toml");
    fs::write(
        &path,
        format!(
            "# a comment\nurl = \"http://127.0.0.1/x\"\nsha256 = \"{}\"\n",
            "0".repeat(64)
        ),
    )
    .unwrap();
    let err = images::load(&images, "x").unwrap_err();
    assert!(matches!(err, Error::BadInput(_)));
    assert!(
        err.message()
            .starts_with(&format!("{}:2: key `url`:", path.display())),
        "{err}"
    );
}

#[test]
fn a_local_file_is_hashed_in_place_not_copied() {
    let dir = tempfile::tempdir().unwrap();
    let build = dir.path().join("build");
    fs::create_dir_all(&build).unwrap();
    let kernel = build.join("vmlinux");
    fs::write(&kernel, b"a kernel under test").unwrap();
    let root = dir.path().join("cache");
    let store = Store::open(
        root.clone(),
        StoreOptions {
            offline: true,
            ..quick()
        },
    )
    .unwrap();
    let s = spec(dir.path(), "mine", "file = \"../build/vmlinux\"\n");
    let image = store.get(&s).unwrap();
    assert_eq!(
        fs::canonicalize(&image.path).unwrap(),
        fs::canonicalize(&kernel).unwrap()
    );
    assert_eq!(image.sha256, sha256(b"a kernel under test"));
    assert_eq!(image.origin, image.path.display().to_string());
    assert!(image.cached && image.version.is_none());
    assert!(
        cache_contents(&root).0.is_empty(),
        "a plain local file is not copied"
    );

    // Pinned to another hash: refused, naming both.
    let pinned = spec(
        dir.path(),
        "pinned",
        &format!(
            "file = \"../build/vmlinux\"\nsha256 = \"{}\"\n",
            "1".repeat(64)
        ),
    );
    let err = store.get(&pinned).unwrap_err();
    assert!(
        err.message()
            .contains(&format!("expected sha256 {}", "1".repeat(64))),
        "{err}"
    );
    assert!(
        err.message().contains(&format!("actual {}", image.sha256)),
        "{err}"
    );

    // Missing: the message says which file and which description.
    fs::remove_file(&kernel).unwrap();
    let err = store.get(&s).unwrap_err();
    assert!(
        err.message().contains("vmlinux") && err.message().contains("mine.toml"),
        "{err}"
    );
}

#[test]
fn a_member_is_taken_out_of_a_local_deb() {
    let bb = busybox();
    let dir = tempfile::tempdir().unwrap();
    fs::copy(&bb.deb.path, dir.path().join("busybox-static.deb")).unwrap();
    let s = spec(
        dir.path(),
        "local",
        "file = \"../busybox-static.deb\"\nmember = \"bin/busybox\"\n",
    );
    let root = dir.path().join("cache");
    let image = Store::open(root.clone(), quick()).unwrap().get(&s).unwrap();
    assert_eq!(image.sha256, bb.binary.sha256);
    assert!(image.path.starts_with(&root));
    assert_ppc64le_elf(&fs::read(&image.path).unwrap());
}

#[test]
fn the_repository_descriptions_load() {
    let images_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("images");
    for (name, release) in [
        ("debian-kernel-64k", None),
        ("debian-kernel-4k", Some("bookworm-backports")),
        ("debian-busybox", None),
    ] {
        let s = images::load(&images_dir, name).unwrap();
        assert!(s.description.is_some(), "{name} has a description");
        let Source::Apt(apt) = &s.source else {
            panic!("{name} is not an apt image")
        };
        assert_eq!(apt.arch, "ppc64el");
        assert_eq!(apt.release.as_deref(), release, "{name}");
        assert_eq!(apt.resolve_depends, name.contains("kernel"), "{name}");
    }
}

/// Fetches the real kernels (about 50 MB each); run with `--ignored`.
#[test]
#[ignore = "downloads two Debian kernels"]
fn debian_kernels_are_ppc64le_elves() {
    let images_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("images");
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        dir.path().to_owned(),
        StoreOptions {
            progress: true,
            ..StoreOptions::default()
        },
    )
    .unwrap();
    for (name, page) in [("debian-kernel-64k", "6.1"), ("debian-kernel-4k", "6.12")] {
        let image = store
            .get(&images::load(&images_dir, name).unwrap())
            .unwrap();
        eprintln!(
            "{name}: {} {} {:?}",
            image.origin, image.sha256, image.member
        );
        assert!(image
            .member
            .as_deref()
            .unwrap()
            .starts_with(&format!("boot/vmlinux-{page}")));
        assert_ppc64le_elf(&fs::read(&image.path).unwrap());
        // The release in its banner is the one in its file name.
        let release = image.release.clone().expect("a kernel has a banner");
        assert_eq!(
            image.member.as_deref(),
            Some(format!("boot/vmlinux-{release}").as_str())
        );
    }
    // Both are now hits that need no network, and report the same files.
    let offline = Store::open(
        dir.path().to_owned(),
        StoreOptions {
            offline: true,
            ..quick()
        },
    )
    .unwrap();
    for name in ["debian-kernel-64k", "debian-kernel-4k"] {
        let started = std::time::Instant::now();
        let image = offline
            .get(&images::load(&images_dir, name).unwrap())
            .unwrap();
        eprintln!("{name}: cache hit in {:?}", started.elapsed());
        assert!(image.cached);
    }
}
