//! The guest payload: an initramfs around a static busybox whose `/init`
//! reports what the guest sees, and the report protocol it speaks.
//!
//! The init prints one framed line, `BOOTMATRIX-REPORT <sum> <fields>`,
//! where `<sum>` is the first 16 hex digits of the SHA-256 of `<fields>`. A
//! console shared with other levels (or with kernel messages) can cut into a
//! line; the checksum tells a damaged report from a real one, and the init
//! prints the report twice so that one intact copy is enough. Then it prints
//! the marker `BOOTMATRIX-DONE` and powers off.
//!
//! The archive is written by the `cpio` crate ("newc", what the kernel
//! unpacks) and compressed in-process; no external `cpio` or `gzip` runs.

use std::collections::BTreeMap;
use std::io::Write;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{Mmu, PageSize};

/// The prefix of the report line.
pub const REPORT_TAG: &str = "BOOTMATRIX-REPORT";
/// The line that says the guest finished its report.
pub const DONE_MARKER: &str = "BOOTMATRIX-DONE";

/// How the initramfs is compressed. Decompression runs inside the guest,
/// emulated under TCG, so the choice matters for boot time (see
/// BENCHMARKS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// gzip (`CONFIG_RD_GZIP`, in every kernel).
    Gzip,
    /// zstd (`CONFIG_RD_ZSTD`).
    Zstd,
    /// No compression: nothing to decompress in the guest, more to copy.
    /// The default: it boots as fast as zstd and faster than gzip under TCG,
    /// builds in well under a millisecond, and needs no `CONFIG_RD_*` in the
    /// guest kernel (figures in BENCHMARKS.md).
    #[default]
    None,
}

impl std::str::FromStr for Compression {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "gzip" => Ok(Compression::Gzip),
            "zstd" => Ok(Compression::Zstd),
            "none" => Ok(Compression::None),
            _ => Err(format!(
                "unknown compression `{s}` (expected gzip, zstd or none)"
            )),
        }
    }
}

/// The guest's `/init`. It needs nothing but busybox applets and the
/// kernel's proc and sys file systems.
pub const INIT_SCRIPT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
field() { sed -n "s/^$1[[:space:]]*: *//p" /proc/cpuinfo | head -n 1; }
release=$(uname -r)
mmu=$(field MMU)
cpu=$(field cpu)
platform=$(field platform)
page=$(sed -n 's/^KernelPageSize: *\([0-9]*\) kB/\1/p' /proc/self/smaps | head -n 1)
hv=none
if [ -r /proc/device-tree/hypervisor/compatible ]; then
    hv=$(tr '\0' ' ' < /proc/device-tree/hypervisor/compatible)
fi
cmdline=$(cat /proc/cmdline)
body="v=1|release=$release|mmu=$mmu|page_kib=$page|cpu=$cpu|platform=$platform|hypervisor=$hv|cmdline=$cmdline"
sum=$(printf '%s' "$body" | sha256sum | cut -c1-16)
echo "BOOTMATRIX-REPORT $sum $body"
echo "BOOTMATRIX-REPORT $sum $body"
echo "BOOTMATRIX-DONE"
poweroff -f
"#;

/// What the guest said about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestReport {
    /// `uname -r`.
    pub release: String,
    /// The MMU from /proc/cpuinfo (`None` if the word was not recognised).
    pub mmu: Option<Mmu>,
    /// The MMU word as printed.
    pub mmu_word: String,
    /// The base page size (`KernelPageSize` of a process).
    pub page_size: Option<PageSize>,
    /// The `cpu` line of /proc/cpuinfo.
    pub cpu: String,
    /// `pSeries` or `PowerNV`.
    pub platform: String,
    /// The device tree's hypervisor node (`linux,kvm` under KVM), or `none`.
    pub hypervisor: String,
    /// /proc/cmdline.
    pub cmdline: String,
}

/// Why a line that looked like a report was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportProblem {
    /// The checksum does not match: another writer cut into the line.
    Damaged,
    /// The fields are not the ones this harness's init prints.
    Malformed(String),
}

impl GuestReport {
    /// Finds and checks a report anywhere in `line`. `None` when the line
    /// has no report tag.
    pub fn find(line: &str) -> Option<Result<GuestReport, ReportProblem>> {
        let at = line.find(REPORT_TAG)?;
        let rest = &line[at + REPORT_TAG.len()..];
        let rest = rest.strip_prefix(' ')?;
        let (sum, body) = match rest.split_once(' ') {
            Some(x) => x,
            None => return Some(Err(ReportProblem::Damaged)),
        };
        let body = body.trim_end_matches(['\r', '\n']);
        if checksum(body) != sum {
            return Some(Err(ReportProblem::Damaged));
        }
        Some(Self::parse_body(body))
    }

    fn parse_body(body: &str) -> Result<GuestReport, ReportProblem> {
        let mut fields = BTreeMap::new();
        // cmdline comes last and may itself contain '|'.
        let (head, cmdline) = body
            .split_once("|cmdline=")
            .ok_or_else(|| ReportProblem::Malformed("no cmdline field".into()))?;
        for part in head.split('|') {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| ReportProblem::Malformed(format!("field without `=`: {part}")))?;
            fields.insert(k, v);
        }
        if fields.get("v") != Some(&"1") {
            return Err(ReportProblem::Malformed("unknown report version".into()));
        }
        let get = |k: &str| {
            fields
                .get(k)
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let mmu_word = get("mmu");
        let page_size = get("page_kib")
            .parse::<u64>()
            .ok()
            .and_then(|k| PageSize::from_bytes(k * 1024));
        Ok(GuestReport {
            release: get("release"),
            mmu: Mmu::from_cpuinfo(&mmu_word),
            mmu_word,
            page_size,
            cpu: get("cpu"),
            platform: get("platform"),
            hypervisor: get("hypervisor"),
            cmdline: cmdline.trim().to_string(),
        })
    }
}

/// The report checksum: first 16 hex digits of SHA-256, as the init's
/// `sha256sum | cut -c1-16` computes it.
pub fn checksum(body: &str) -> String {
    Sha256::digest(body.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One member of an initramfs ("newc" cpio).
#[derive(Debug, Clone, Copy)]
pub enum Member<'a> {
    /// A directory (mode 0755).
    Dir(&'a str),
    /// A regular file.
    File {
        /// Path without a leading slash.
        path: &'a str,
        /// Permission bits, e.g. 0o755.
        mode: u32,
        /// Contents.
        data: &'a [u8],
    },
    /// A symbolic link.
    Symlink {
        /// Path without a leading slash.
        path: &'a str,
        /// Where it points.
        target: &'a str,
    },
    /// A character device node.
    CharDev {
        /// Path without a leading slash.
        path: &'a str,
        /// Device major.
        major: u32,
        /// Device minor.
        minor: u32,
    },
}

/// Writes `members` as a "newc" archive (what the kernel unpacks) into
/// `out`, streaming: a large archive (an emulated host's, with qemu and its
/// libraries) never needs to sit in memory whole.
pub fn write_archive<W: Write>(mut out: W, members: &[Member]) -> std::io::Result<W> {
    for (i, m) in members.iter().enumerate() {
        let (path, mode, data, rdev): (&str, u32, &[u8], Option<(u32, u32)>) = match *m {
            Member::Dir(p) => (p, 0o040755, b"", None),
            Member::File { path, mode, data } => (path, 0o100000 | (mode & 0o7777), data, None),
            Member::Symlink { path, target } => (path, 0o120777, target.as_bytes(), None),
            Member::CharDev { path, major, minor } => (path, 0o020600, b"", Some((major, minor))),
        };
        let mut b = cpio::newc::Builder::new(path)
            .ino(i as u32 + 1)
            .mode(mode)
            .nlink(if mode & 0o170000 == 0o040000 { 2 } else { 1 });
        if let Some((major, minor)) = rdev {
            b = b.rdev_major(major).rdev_minor(minor);
        }
        let mut w = b.write(&mut out, data.len() as u32);
        w.write_all(data)?;
        w.finish()?;
    }
    cpio::newc::trailer(&mut out)?;
    Ok(out)
}

/// The members every payload starts with: the mount points, a
/// `/dev/console` node so that init has a console before devtmpfs is up,
/// and busybox.
pub fn base_members(busybox: &[u8]) -> Vec<Member<'_>> {
    vec![
        Member::Dir("bin"),
        Member::Dir("dev"),
        Member::CharDev {
            path: "dev/console",
            major: 5,
            minor: 1,
        },
        Member::Dir("proc"),
        Member::Dir("sys"),
        Member::Dir("tmp"),
        Member::File {
            path: "bin/busybox",
            mode: 0o755,
            data: busybox,
        },
    ]
}

/// Builds the guest initramfs: the base members and the reporting `/init`.
pub fn build_initramfs(busybox: &[u8], compression: Compression) -> std::io::Result<Vec<u8>> {
    let mut members = base_members(busybox);
    members.push(Member::File {
        path: "init",
        mode: 0o755,
        data: INIT_SCRIPT.as_bytes(),
    });
    let archive = write_archive(Vec::with_capacity(busybox.len() + 4096), &members)?;
    compress(&archive, compression)
}

fn compress(data: &[u8], compression: Compression) -> std::io::Result<Vec<u8>> {
    match compression {
        Compression::None => Ok(data.to_vec()),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            enc.write_all(data)?;
            enc.finish()
        }
        Compression::Zstd => zstd::encode_all(data, 3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(body: &str) -> String {
        format!("{REPORT_TAG} {} {body}", checksum(body))
    }

    const BODY: &str = "v=1|release=6.1.0-50-powerpc64le|mmu=Hash|page_kib=64|cpu=POWER9 (architected), altivec supported|platform=pSeries|hypervisor=none|cmdline=console=hvc0 quiet disable_radix";

    #[test]
    fn an_intact_report_is_read_field_by_field() {
        let r = GuestReport::find(&line(BODY)).unwrap().unwrap();
        assert_eq!(r.mmu, Some(Mmu::Hpt));
        assert_eq!(r.page_size, Some(PageSize::K64));
        assert_eq!(r.release, "6.1.0-50-powerpc64le");
        assert_eq!(r.platform, "pSeries");
        assert_eq!(r.cmdline, "console=hvc0 quiet disable_radix");
    }

    #[test]
    fn a_report_after_interleaved_kernel_text_is_still_found() {
        let l = format!("[    1.2] random: crng init done{}", line(BODY));
        assert!(GuestReport::find(&l).unwrap().is_ok());
    }

    #[test]
    fn a_report_cut_into_by_another_writer_is_damaged() {
        let l = line(BODY).replace("mmu=Hash", "mmu=HaFacility SPR 806 is unavailablesh");
        assert_eq!(GuestReport::find(&l), Some(Err(ReportProblem::Damaged)));
    }

    #[test]
    fn lines_without_the_tag_are_not_reports() {
        assert_eq!(GuestReport::find("BOOTMATRIX-DONE"), None);
    }

    #[test]
    fn the_initramfs_is_a_newc_archive_with_init_and_busybox() {
        let img = build_initramfs(b"\x7fELF fake busybox", Compression::None).unwrap();
        let mut names = Vec::new();
        let mut rest: &[u8] = &img;
        loop {
            let r = cpio::NewcReader::new(rest).unwrap();
            if r.entry().is_trailer() {
                break;
            }
            names.push((
                r.entry().name().to_string(),
                r.entry().mode(),
                r.entry().rdev_major(),
            ));
            rest = r.finish().unwrap();
        }
        assert!(names.contains(&("init".into(), 0o100755, 0)));
        assert!(names.contains(&("bin/busybox".into(), 0o100755, 0)));
        assert!(names.contains(&("dev/console".into(), 0o020600, 5)));
    }

    #[test]
    fn compressed_payloads_decompress_to_the_same_archive() {
        let raw = build_initramfs(b"busybox", Compression::None).unwrap();
        let gz = build_initramfs(b"busybox", Compression::Gzip).unwrap();
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut out).unwrap();
        assert_eq!(out, raw);
        let zs = build_initramfs(b"busybox", Compression::Zstd).unwrap();
        assert_eq!(zstd::decode_all(&zs[..]).unwrap(), raw);
    }
}
