//! Guest images: descriptions, fetching, the content-addressed cache.
//!
//! Guest images are large, change rarely and must be exactly what was
//! qualified. So every image is described once (`images/<name>.toml`, see
//! [`load`]), pinned by hash or resolved through apt's signed lists or an
//! xbps repository's index, and the [`Store`] hands out only files whose
//! hash was checked: downloads land in the cache under a temporary name and
//! are renamed into place after verification, so a half-downloaded file is
//! never booted.
//!
//! - [`spec`]: the description format and its checks.
//! - [`Store`]: the cache, downloads (resume, retry, progress), apt and
//!   xbps repositories.
//! - [`KernelSource`]: the kernel under test as one command-line word
//!   (`--kernel NAME=SOURCE`), turned into a description; [`kernel_release`]
//!   reads the release a kernel names in its banner.
//! - [`deb_extract`]: taking files out of Debian packages, also for building
//!   initramfs images from packages; [`xbps`]: Void packages and
//!   repositories; [`plist`]: the property lists they are described in.
//! - [`bundle`]: the L1 userland (ppc64el qemu with its libraries and
//!   firmware) and a kernel package's KVM modules, for nested rows.
//! - [`harness`]: the harness itself, cross-built for ppc64le from its own
//!   source, for emulated hosts to run.

mod apt;
mod built;
pub mod bundle;
mod cache;
mod deb;
mod download;
pub mod harness;
mod kernel;
mod kernel_source;
pub mod plist;
mod repo;
pub mod spec;
mod store;
pub mod tarball;
pub mod xbps;

pub use bundle::{kvm_modules, qemu_userland, BundleContent, BundleFile, Userland};
pub use cache::{sha256_bytes, sha256_file};
pub use deb::{
    deb_extract, normalize as normalize_archive_path, resolve_link, DebMember, MemberKind,
};
pub use kernel::{fragment_lines, missing_lines};
pub use kernel_source::{kernel_release, KernelSource};
pub use repo::INDEX_MAX_AGE;
pub use spec::{
    load, AptSource, ArchiveKind, Compression, ImageSpec, KernelBuild, Source, XbpsRepository,
    XbpsSource, XbpsTrust, XBPS_KERNEL_MEMBER,
};
pub use store::{Image, Store, StoreOptions};
pub use xbps::XbpsArch;
