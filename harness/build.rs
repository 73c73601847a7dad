//! Records the hash of the source this bootmatrix is built from
//! (`BOOTMATRIX_SOURCE_SHA256`), so that the running harness can check that
//! its source tree is still that source before it cross-builds the same
//! harness for its emulated POWER hosts (harness/src/images/harness.rs).

#[path = "src/images/harness/source.rs"]
mod source;

fn main() {
    let root = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let files = source::files(&root).expect("the source tree is readable");
    let sha = source::hash(&root, &files).expect("the source files are readable");
    println!("cargo:rustc-env=BOOTMATRIX_SOURCE_SHA256={sha}");
    for f in source::ROOT_FILES {
        println!("cargo:rerun-if-changed={f}");
    }
    // A directory: cargo looks at every file under it.
    println!("cargo:rerun-if-changed={}", source::CODE_DIR);
}
