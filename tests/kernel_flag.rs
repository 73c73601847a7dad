//! `--kernel NAME=SOURCE`: the matrix's kernel NAME replaced everywhere it
//! is used (guest kernels, emulated hosts' kernels, the `[emulation]`
//! table) with cell names unchanged; the kernels each cell used recorded in
//! results.json and JUnit; and the bad inputs, each one line with its exit
//! status. Nothing here boots: runs are chosen so that no qemu starts.

mod common;
#[path = "support/xbps.rs"]
mod pack;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use bootmatrix::app::Selection;
use bootmatrix::matrix;
use bootmatrix::plan::{HostsMode, Placement};
use bootmatrix::report::{self, ResultsFile};
use bootmatrix::run::{CellResult, KernelImage, KernelRole, KernelUsed};
use bootmatrix::under_test::{self, image_name, KernelFlag};
use bootmatrix::Error;
use pack::{headers_package, small_package, Pack};

fn flag(text: &str) -> KernelFlag {
    text.parse().unwrap()
}

fn void_compat() -> PathBuf {
    common::repo().join("matrices/void-compat.toml")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts `out` exited with `code` and said one line holding every one
/// of `wants`; returns that line.
fn one_line(out: &Output, code: i32, wants: &[&str]) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    // Trouble of the machine (3) is followed by the general hint that it
    // is not a cell's.
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.starts_with("bootmatrix: (infrastructure error"))
        .collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    for w in wants {
        assert!(lines[0].contains(w), "`{w}` in {err}");
    }
    lines[0].to_owned()
}

#[test]
fn every_use_of_the_kernel_is_replaced_and_no_other() {
    let mut m = matrix::load(&void_compat()).unwrap();
    let before = m.clone();
    let specs = under_test::replace(
        &mut m,
        &[
            flag("debian-4k=xbps:hostdir/binpkgs#linux6.1"),
            flag("host-4k=build/vmlinux"),
        ],
        Path::new("/src/void-packages"),
    )
    .unwrap();
    assert_eq!(
        specs.keys().cloned().collect::<Vec<_>>(),
        vec![image_name("debian-4k"), image_name("host-4k")]
    );
    assert_eq!(
        specs[&image_name("host-4k")].source,
        bootmatrix::images::Source::File {
            path: "/src/void-packages/build/vmlinux".into(),
            sha256: None
        }
    );
    // The [kernels] entries, the [emulation] table and the cells.
    assert_eq!(m.kernels["debian-4k"].image, image_name("debian-4k"));
    assert_eq!(m.kernels["host-4k"].image, image_name("host-4k"));
    assert_eq!(m.kernels["debian-64k"], before.kernels["debian-64k"]);
    assert_eq!(m.kernels["host-64k"], before.kernels["host-64k"]);
    let e = m.emulation.as_ref().unwrap();
    assert_eq!(
        e.kernel_4k.as_ref().unwrap().image,
        image_name("host-4k"),
        "the [emulation] table's host kernel"
    );
    assert_eq!(e.kernel_64k.as_ref().unwrap().image, "kernel-host-64k");
    // What the matrix says of a kernel stays: it must stand in for it.
    assert_eq!(
        (
            e.kernel_4k.as_ref().unwrap().kvm_pr,
            e.kernel_4k.as_ref().unwrap().emulated_hugepages
        ),
        (true, true)
    );
    let mut replaced = 0;
    for (c, old) in m.cells.iter().zip(&before.cells) {
        assert_eq!(c.name, old.name, "cell names do not change");
        if c.guest.kernel.name == "debian-4k" {
            replaced += 1;
            assert_eq!(c.guest.kernel.image, image_name("debian-4k"));
        } else {
            assert_eq!(c.guest.kernel, old.guest.kernel, "{}", c.name);
        }
    }
    assert!(replaced > 0);
}

#[test]
fn emulated_hosts_boot_the_host_kernel_under_test() {
    let mut selection = Selection {
        matrix: void_compat(),
        filters: vec!["radix-4k-host/kvm-hv/*".into()],
        partition: None,
        hosts: HostsMode::Emulated,
        known_failures: Default::default(),
        kernels: Vec::new(),
    };
    let facts = common::x86_host_with_qemu();
    let plain = common::plan(&selection, &facts);
    let tmp = tempfile::tempdir().unwrap();
    let vmlinux = tmp.path().join("vmlinux");
    fs::write(&vmlinux, b"\x7fELF").unwrap();
    selection.kernels = vec![
        flag(&format!("host-4k={}", vmlinux.display())),
        flag(&format!("debian-4k={}", vmlinux.display())),
    ];
    let plan = common::plan(&selection, &facts);
    let names =
        |p: &bootmatrix::plan::Plan| p.cells.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&plan), names(&plain), "cell names do not change");
    assert!(!plan.sessions.is_empty());
    for s in &plan.sessions {
        let argv = s.command.argv().join(" ");
        assert!(
            argv.contains(&format!("-kernel <image:{}>", image_name("host-4k"))),
            "{argv}"
        );
        assert_eq!(s.key.kernel, "host-4k", "hosts keep their names");
    }
    // The guests: the replaced 4 KiB kernel, the matrix's 64 KiB one as before.
    let mut seen = BTreeMap::new();
    for c in &plan.cells {
        let Placement::InHost { .. } = &c.placement else {
            panic!("{} runs on an emulated host", c.name)
        };
        seen.insert(
            c.cell.guest.kernel.name.clone(),
            c.cell.guest.kernel.image.clone(),
        );
    }
    assert_eq!(seen["debian-4k"], image_name("debian-4k"));
    assert_eq!(seen["debian-64k"], "kernel-guest-64k");
}

#[test]
fn an_unknown_kernel_name_lists_the_matrixs_kernels() {
    let m = void_compat();
    let m = m.to_str().unwrap();
    let wants = [
        m,
        "--kernel debian-16k=",
        "the matrix defines no kernel `debian-16k`",
        "its kernels are debian-4k, debian-64k, host-4k, host-4k-6.1, host-4k-6.12, host-64k",
    ];
    for sub in ["plan", "fetch", "run"] {
        let out = common::run(&[sub, m, "--kernel", "debian-16k=build/vmlinux"]);
        one_line(&out, 2, &wants);
    }
    // bisect-run aborts the bisect on bad input.
    let out = common::run(&[
        "bisect-run",
        m,
        "radix-4k-host/kvm-hv/radix-guest/4k/no-fix",
        "--kernel",
        "debian-16k=build/vmlinux",
    ]);
    one_line(&out, 128, &wants);
}

#[test]
fn malformed_kernel_flags_are_bad_input() {
    let cases = [
        ("vmlinux", "--kernel `vmlinux`: expected NAME=SOURCE"),
        ("=vmlinux", "expected NAME=SOURCE"),
        (
            "debian-64k=",
            "--kernel debian-64k: kernel source ``: empty",
        ),
        (
            "debian-64k=https://h/vmlinux",
            "must be pinned by the hash of its bytes: append #sha256=HEX",
        ),
        (
            "debian-64k=xbps:https://r/current#linux6.1",
            "name the repository's RSA public key with `,key=FILE.pem`",
        ),
        (
            "debian-64k=/nonexistent/vmlinux",
            "--kernel debian-64k=/nonexistent/vmlinux: no such file /nonexistent/vmlinux",
        ),
    ];
    for (text, want) in cases {
        for sub in ["plan", "fetch", "run"] {
            one_line(&common::run(&[sub, "--kernel", text]), 2, &[want]);
        }
    }
    // The same flag twice.
    let out = common::run(&[
        "plan",
        "--kernel",
        "debian-64k=Cargo.toml",
        "--kernel",
        "debian-64k=README.md",
    ]);
    one_line(&out, 2, &["--kernel debian-64k: given twice"]);
}

#[test]
fn bisect_run_takes_a_bare_source_as_the_cells_guest_kernel() {
    let tcg = "tcg/radix-guest/64k";
    // A bare path that does not exist: bad input, the bisect aborts.
    let out = common::run(&[
        "bisect-run",
        "matrices/default.toml",
        tcg,
        "--kernel",
        "/nonexistent/vmlinux",
    ]);
    one_line(
        &out,
        128,
        &["--kernel debian-64k=/nonexistent/vmlinux: no such file"],
    );
    // A bare source for a cell the matrix does not have.
    let out = common::run(&[
        "bisect-run",
        "matrices/default.toml",
        "tcg/nope",
        "--kernel",
        "vmlinux",
    ]);
    one_line(
        &out,
        128,
        &["no cell named `tcg/nope` in matrices/default.toml"],
    );
}

/// A matrix whose only images are the kernel `k` (its description
/// `absent` does not exist: `k` must be under test) and a stand-in busybox
/// from a local file, so that `fetch` touches no network. Returns the
/// matrix and the images directory.
fn offline_matrix(dir: &Path) -> (PathBuf, PathBuf) {
    let images = dir.join("images");
    fs::create_dir_all(&images).unwrap();
    fs::write(dir.join("busybox"), b"not really busybox").unwrap();
    fs::write(images.join("bb.toml"), "file = \"../busybox\"\n").unwrap();
    let m = dir.join("m.toml");
    fs::write(
        &m,
        "[defaults]\nbusybox = \"bb\"\n\n[kernels.k]\nimage = \"absent\"\npage_size = \"64k\"\n\n\
         [[cells]]\nname = \"c\"\nkernel = \"k\"\n",
    )
    .unwrap();
    (m, images)
}

/// `bootmatrix SUB MATRIX --kernel k=SOURCE` with the private images and
/// cache of [`offline_matrix`].
fn with_kernel(sub: &str, dir: &Path, source: &str, extra: &[&str]) -> Output {
    let (m, images) = offline_matrix(dir);
    let cache = dir.join("cache");
    let mut args = vec![
        sub.to_owned(),
        m.display().to_string(),
        "--kernel".into(),
        format!("k={source}"),
        "--images".into(),
        images.display().to_string(),
        "--cache-dir".into(),
        cache.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    common::bootmatrix().args(&args).output().unwrap()
}

#[test]
fn fetch_gets_the_kernel_under_test_instead_of_the_matrixs() {
    let dir = tempfile::tempdir().unwrap();
    let (m, images) = offline_matrix(dir.path());
    // Without the flag the matrix's own description is needed, and absent.
    let out = common::bootmatrix()
        .args([
            "fetch",
            m.to_str().unwrap(),
            "--images",
            images.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("absent"), "{}", stderr(&out));

    let (pkg, kernel) = small_package(Pack::Zstd);
    let file = dir.path().join(pkg.file_name());
    fs::write(&file, &pkg.bytes).unwrap();
    let out = with_kernel("fetch", dir.path(), file.to_str().unwrap(), &[]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{}{text}", stderr(&out));
    let line = text
        .lines()
        .find(|l| l.contains(&image_name("k")))
        .unwrap_or_else(|| panic!("no line for the kernel under test: {text}"));
    assert!(
        line.contains(&pack::sha256(&kernel)[..16]),
        "the packaged kernel, not the package: {line}"
    );
}

#[test]
fn a_package_without_a_kernel_fails_in_one_line_and_leaves_nothing_in_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = headers_package();
    let file = dir.path().join(pkg.file_name());
    fs::write(&file, &pkg.bytes).unwrap();
    let out = with_kernel("fetch", dir.path(), file.to_str().unwrap(), &[]);
    one_line(
        &out,
        3,
        &[&pkg.file_name(), "no member matches `boot/vmlinux-*`"],
    );
    let tmp: Vec<_> = fs::read_dir(dir.path().join("cache/tmp"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(tmp.is_empty(), "half-written: {tmp:?}");

    // `run` makes the cell an infrastructure error, boots nothing, and
    // says why on the cell.
    let out_dir = dir.path().join("out");
    let out = with_kernel(
        "run",
        dir.path(),
        file.to_str().unwrap(),
        &["--out", out_dir.to_str().unwrap(), "--quiet"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let verdict = fs::read_to_string(out_dir.join("cells/c/verdict.txt")).unwrap();
    assert!(
        verdict.starts_with("ERROR c\n") && verdict.contains("no member matches `boot/vmlinux-*`"),
        "{verdict}"
    );
}

#[test]
fn a_cell_records_the_kernels_under_test_it_used_and_a_skipped_one_none() {
    if std::env::consts::ARCH.starts_with("powerpc") {
        return; // The KVM cell would run on POWER; this is about skipping.
    }
    // The TCG cell resolves its kernel and then fails before booting (its
    // busybox file is missing); the KVM cell is skipped on this host.
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    fs::create_dir_all(&images).unwrap();
    fs::write(images.join("bb.toml"), "file = \"../no-busybox\"\n").unwrap();
    let m = dir.path().join("m.toml");
    fs::write(
        &m,
        "[defaults]\nbusybox = \"bb\"\n\n[kernels.k]\nimage = \"absent\"\npage_size = \"64k\"\n\n\
         [[cells]]\nname = \"{accel}\"\nkernel = \"k\"\naccel = [\"tcg\", \"kvm-hv\"]\n",
    )
    .unwrap();
    let kernel = pack::fake_vmlinux("6.1.99_1");
    let vmlinux = dir.path().join("vmlinux");
    fs::write(&vmlinux, &kernel).unwrap();
    let out = dir.path().join("out");
    let run = common::bootmatrix()
        .args(["run", m.to_str().unwrap(), "--hosts", "native", "--quiet"])
        .args(["--images", images.to_str().unwrap()])
        .args(["--cache-dir", dir.path().join("cache").to_str().unwrap()])
        .args(["--out", out.to_str().unwrap()])
        .args(["--kernel", &format!("k={}", vmlinux.display())])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(3), "{}", stderr(&run));
    let results = ResultsFile::load(&out.join("results.json")).unwrap();
    let cell = |name: &str| results.cells.iter().find(|c| c.name == name).unwrap();
    assert_eq!(
        cell("tcg").kernels,
        vec![KernelUsed {
            role: KernelRole::Guest,
            name: "k".into(),
            image: image_name("k"),
            file: KernelImage {
                release: Some("6.1.99_1".into()),
                sha256: pack::sha256(&kernel),
                origin: vmlinux.display().to_string(),
            },
        }]
    );
    assert_eq!(cell("kvm-hv").status, bootmatrix::verdict::Status::Skipped);
    assert_eq!(cell("kvm-hv").kernels, Vec::new());
}

fn used(role: KernelRole, name: &str, image: &str, release: &str, sha: &str) -> KernelUsed {
    KernelUsed {
        role,
        name: name.into(),
        image: image.into(),
        file: KernelImage {
            release: Some(release.into()),
            sha256: sha.into(),
            origin: format!("xbps {image}"),
        },
    }
}

#[test]
fn each_cell_lists_its_guest_and_host_kernels() {
    let mut m = matrix::load(&void_compat()).unwrap();
    under_test::replace(&mut m, &[flag("host-4k=vmlinux")], Path::new("/q")).unwrap();
    let e = m.emulation.clone().unwrap();
    let cells = bootmatrix::chain::emulate(&m.cells, &e).unwrap();
    let cell = cells
        .iter()
        .find(|c| c.host.page_size == Some(bootmatrix::model::PageSize::K4))
        .unwrap();
    let mut images = BTreeMap::new();
    let host = KernelImage {
        release: Some("6.1.99_1".into()),
        sha256: "aa".repeat(32),
        origin: "vmlinux".into(),
    };
    images.insert(image_name("host-4k"), host.clone());
    // The guest's image was not prepared: it is left out, not invented.
    let got = KernelUsed::of_cell(cell, &images);
    assert_eq!(
        got,
        vec![KernelUsed {
            role: KernelRole::Host,
            name: "host-4k".into(),
            image: image_name("host-4k"),
            file: host
        }]
    );
    let guest = &cell.guest.kernel;
    images.insert(
        guest.image.clone(),
        KernelImage {
            release: None,
            sha256: "bb".repeat(32),
            origin: "apt".into(),
        },
    );
    let roles: Vec<KernelRole> = KernelUsed::of_cell(cell, &images)
        .iter()
        .map(|k| k.role)
        .collect();
    assert_eq!(roles, vec![KernelRole::Guest, KernelRole::Host]);
}

#[test]
fn results_json_and_junit_record_each_kernels_release_and_sha256() {
    let kernels = vec![
        used(
            KernelRole::Guest,
            "debian-64k",
            &image_name("debian-64k"),
            "6.1.99_1",
            &"ab".repeat(32),
        ),
        used(
            KernelRole::Host,
            "host-64k",
            "kernel-host-64k",
            "6.12.38",
            &"cd".repeat(32),
        ),
    ];
    let h = common::x86_host();
    let facts = common::run_facts(&h);
    let dir = tempfile::tempdir().unwrap();
    let results = [CellResult {
        kernels: kernels.clone(),
        ..common::passed(common::one_cell("c"))
    }];
    report::write_all(
        dir.path(),
        &report::ResultsFile::from_run(&results, &facts),
        report::JunitFlavor::Full,
    )
    .unwrap();
    let back = ResultsFile::load(&dir.path().join("results.json")).unwrap();
    assert_eq!(back.cells[0].kernels, kernels);
    let raw: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("results.json")).unwrap())
            .unwrap();
    let guest = &raw["cells"][0]["kernels"][0];
    assert_eq!(
        (
            guest["role"].as_str(),
            guest["release"].as_str(),
            guest["image"].as_str()
        ),
        (
            Some("guest"),
            Some("6.1.99_1"),
            Some("kernel-under-test:debian-64k")
        )
    );
    let xml = common::junit(dir.path());
    let case = common::testcase(&xml, "c");
    for (k, v) in [
        ("kernel-guest-release", "6.1.99_1".to_owned()),
        ("kernel-guest-sha256", "ab".repeat(32)),
        ("kernel-host-release", "6.12.38".to_owned()),
        ("kernel-host-sha256", "cd".repeat(32)),
    ] {
        assert!(
            case.contains(&format!(r#"<property name="{k}" value="{v}"/>"#)),
            "{k} in {case}"
        );
    }

    // A results.json written before kernels were recorded still loads.
    let mut old = raw.clone();
    old["cells"][0].as_object_mut().unwrap().remove("kernels");
    let path = dir.path().join("old.json");
    fs::write(&path, old.to_string()).unwrap();
    assert!(ResultsFile::load(&path).unwrap().cells[0]
        .kernels
        .is_empty());
}

#[test]
fn a_kernel_under_test_is_described_by_its_flag_in_messages() {
    let e: Error = "k=https://h/v#sha256=12".parse::<KernelFlag>().unwrap_err();
    assert_eq!(
        e.message(),
        "--kernel k: kernel source `https://h/v#sha256=12`: `12` is not a SHA-256 (64 hex digits)"
    );
}
