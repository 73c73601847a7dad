//! Which files are the harness's source, and their hash.
//!
//! Shared by the build script (`harness/build.rs`, which records the hash of
//! the source a binary is built from) and the running harness (which checks
//! that its source tree is still that source before cross-building it for
//! emulated hosts), so both mean the same files. Only std and `sha2` here:
//! the build script compiles this file on its own.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

/// The build inputs at the top of the source tree.
pub const ROOT_FILES: [&str; 2] = ["Cargo.toml", "Cargo.lock"];

/// The directory holding the code: library, binary, build script, benches.
/// Everything else (tests, docs, images, matrices, target) does not go into
/// the binary.
pub const CODE_DIR: &str = "harness";

/// The source files under `root`: [`ROOT_FILES`] and every file under
/// [`CODE_DIR`] except hidden ones (editor swap files), as relative paths
/// with `/`, sorted.
pub fn files(root: &Path) -> std::io::Result<Vec<String>> {
    let mut out: Vec<String> = ROOT_FILES.iter().map(|f| f.to_string()).collect();
    let mut dirs = vec![CODE_DIR.to_string()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(root.join(&dir))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let rel = format!("{dir}/{name}");
            let kind = entry.file_type()?;
            if kind.is_dir() {
                dirs.push(rel);
            } else if kind.is_file() {
                out.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// SHA-256 over each file's relative path, length and bytes, in the order
/// given: a renamed, added, removed or edited file changes it.
pub fn hash(root: &Path, files: &[String]) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut bytes = Vec::new();
    for rel in files {
        bytes.clear();
        std::fs::File::open(root.join(rel))?.read_to_end(&mut bytes)?;
        hasher.update(format!("{rel}\n{}\n", bytes.len()).as_bytes());
        hasher.update(&bytes);
    }
    Ok(format!("{:x}", hasher.finalize()))
}
