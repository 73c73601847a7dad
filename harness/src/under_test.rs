//! The kernels under test: `--kernel NAME=SOURCE` on `run`, `plan`,
//! `fetch` and `bisect-run`.
//!
//! Qualifying a kernel release means running a whole matrix with a kernel
//! nobody wrote an image description for, in place of one of the matrix's
//! kernels: as the guest kernel of its cells and as the host kernel of
//! emulated hosts, with the cell names unchanged, so that `bootmatrix diff`
//! compares the candidate with the last release cell by cell. [`replace`]
//! does that to a loaded matrix before planning: every use of kernel
//! `NAME` (its `[kernels]` entry, the cells' guest and host kernels, the
//! `[emulation]` table) gets the image [`image_name`]`(NAME)`, whose
//! description comes from the SOURCE ([`KernelSource::image_spec`]). The
//! kernel keeps what the matrix says of it (page size, `kvm_pr`,
//! `emulated_hugepages`): a kernel under test must be able to stand in for
//! the one it replaces.
//!
//! Pure: nothing is read here; whether a file exists is the caller's
//! business (`app`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::images::{ImageSpec, KernelSource};
use crate::matrix::Matrix;
use crate::model::Kernel;

/// One `--kernel NAME=SOURCE`: the matrix's kernel `name` is replaced by
/// the kernel `source` gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelFlag {
    /// The kernel's name in the matrix (a `[kernels]` key), e.g.
    /// `debian-4k`.
    pub name: String,
    /// Where the kernel under test comes from.
    pub source: KernelSource,
}

/// The image name that stands for kernel `name` once it is under test. No
/// description file can have it (`:` never appears in the names of
/// `images/*.toml` the matrices use), so it cannot shadow one.
pub fn image_name(name: &str) -> String {
    format!("kernel-under-test:{name}")
}

/// True for a word that can be a kernel's name in a matrix on the command
/// line (a bare TOML key, or one with dots).
fn is_kernel_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `(NAME, SOURCE)` when `text` starts with a kernel name and `=`; `None`
/// for a bare SOURCE (a path, a URL, `xbps:…`: the part before any `=` of
/// theirs holds `/`, `:` or `#`, which no kernel name has).
fn split_named(text: &str) -> Option<(&str, &str)> {
    let (name, source) = text.split_once('=')?;
    is_kernel_name(name).then_some((name, source))
}

impl FromStr for KernelFlag {
    type Err = Error;

    /// Parses `NAME=SOURCE`; anything else is [`Error::BadInput`] saying
    /// what the flag looks like.
    fn from_str(text: &str) -> Result<KernelFlag> {
        let Some((name, source)) = split_named(text) else {
            return Err(Error::bad_input(format!(
                "--kernel `{text}`: expected NAME=SOURCE, NAME a kernel of the matrix (a \
                 [kernels] key) and SOURCE a vmlinux, .deb or .xbps file, an https URL with \
                 #sha256=HEX, or xbps:REPO#PKGNAME (e.g. --kernel \
                 debian-4k=xbps:hostdir/binpkgs#linux6.1)"
            )));
        };
        Ok(KernelFlag {
            name: name.to_owned(),
            source: source
                .parse()
                .map_err(|e: Error| Error::bad_input(format!("--kernel {name}: {e}")))?,
        })
    }
}

impl KernelFlag {
    /// Parses `NAME=SOURCE`, or a bare SOURCE that means the kernel `bare`
    /// names (`bisect-run`: the bisected cell's own guest kernel). `bare`
    /// is asked only for a bare SOURCE.
    pub fn parse_or(text: &str, bare: impl FnOnce() -> Result<String>) -> Result<KernelFlag> {
        if split_named(text).is_some() {
            return text.parse();
        }
        let source: KernelSource = text.parse()?;
        Ok(KernelFlag {
            name: bare()?,
            source,
        })
    }
}

impl fmt::Display for KernelFlag {
    /// The flag's value as it would be written: `NAME=SOURCE`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.source)
    }
}

/// Puts the kernels under test in place in `matrix`: every use of each
/// flag's kernel gets the image [`image_name`] of it. Returns their image
/// descriptions by that image name, relative paths resolved against
/// `base_dir` (the directory the command was run from).
///
/// A flag naming a kernel the matrix does not define, or naming one twice,
/// is bad input naming the matrix (and the kernels it defines).
pub fn replace(
    matrix: &mut Matrix,
    flags: &[KernelFlag],
    base_dir: &Path,
) -> Result<BTreeMap<String, ImageSpec>> {
    let mut specs = BTreeMap::new();
    for flag in flags {
        if !matrix.kernels.contains_key(&flag.name) {
            let known: Vec<&str> = matrix.kernels.keys().map(String::as_str).collect();
            return Err(Error::bad_input(format!(
                "{}: --kernel {flag}: the matrix defines no kernel `{}`; its kernels are {} \
                 (see [kernels] in the matrix)",
                matrix.path.display(),
                flag.name,
                known.join(", ")
            )));
        }
        let image = image_name(&flag.name);
        if specs.contains_key(&image) {
            return Err(Error::bad_input(format!(
                "--kernel {}: given twice; give each kernel of the matrix at most one SOURCE",
                flag.name
            )));
        }
        specs.insert(image, flag.source.image_spec(&flag.name, base_dir));
    }
    let put = |k: &mut Kernel| {
        if flags.iter().any(|f| f.name == k.name) {
            k.image = image_name(&k.name);
        }
    };
    matrix.kernels.values_mut().for_each(put);
    for c in &mut matrix.cells {
        put(&mut c.guest.kernel);
        c.host.kernel.iter_mut().for_each(put);
        c.host.emulated_kernel.iter_mut().for_each(put);
    }
    if let Some(e) = &mut matrix.emulation {
        for k in [
            &mut e.kernel_4k,
            &mut e.kernel_64k,
            &mut e.pr_kernel_4k,
            &mut e.pr_kernel_64k,
        ] {
            k.iter_mut().for_each(put);
        }
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_and_bare_sources_are_told_apart() {
        let f: KernelFlag = "debian-4k=xbps:https://r/x#linux6.1,key=k.pem"
            .parse()
            .unwrap();
        assert_eq!(f.name, "debian-4k");
        assert_eq!(
            f.to_string(),
            "debian-4k=xbps:https://r/x#linux6.1@ppc64le,key=k.pem"
        );
        // The `=` of a URL's hash or of key= is no name.
        assert_eq!(split_named("https://h/v#sha256=00"), None);
        assert_eq!(split_named("xbps:r#linux6.1,key=k.pem"), None);
        assert_eq!(split_named("out/a=b/vmlinux"), None);
        let bare = KernelFlag::parse_or("build/vmlinux", || Ok("debian-64k".into())).unwrap();
        assert_eq!(
            (bare.name.as_str(), bare.source),
            ("debian-64k", KernelSource::File("build/vmlinux".into()))
        );
        let named = KernelFlag::parse_or("k=vmlinux", || panic!("not asked")).unwrap();
        assert_eq!(named.name, "k");
    }

    #[test]
    fn malformed_flags_are_bad_input() {
        for (text, want) in [
            ("vmlinux", "expected NAME=SOURCE"),
            ("=vmlinux", "expected NAME=SOURCE"),
            ("debian-4k=", "--kernel debian-4k: kernel source ``: empty"),
            ("debian-4k=https://h/v", "#sha256=HEX"),
        ] {
            let e = text.parse::<KernelFlag>().unwrap_err();
            assert_eq!(e.exit_code(), 2, "{e}");
            assert!(e.message().contains(want), "{text}: {e}");
        }
    }
}
