//! Resolving and downloading Debian packages through the machine's apt.
//!
//! Resolution uses only apt's local lists (`apt-cache show`), which carry the
//! version and the .deb's SHA-256: that is what lets a cached image be found
//! without any network I/O. Only a cache miss runs `apt-get download`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::spec::AptSource;
use crate::{Error, Result};

/// A package version as apt's lists describe it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct AptPackage {
    /// Package name (after following a metapackage).
    pub package: String,
    /// Architecture.
    pub arch: String,
    /// Exact version.
    pub version: String,
    /// SHA-256 of the .deb, from the signed lists.
    pub sha256: String,
    /// Size of the .deb in bytes, when listed.
    pub size: Option<u64>,
    /// The package that was asked for, when a metapackage was followed.
    pub via: Option<String>,
}

impl AptPackage {
    /// `pkg:arch=version`, the form `apt-get download` takes.
    pub fn pin(&self) -> String {
        format!("{}:{}={}", self.package, self.arch, self.version)
    }
}

/// One stanza of `apt-cache show`, as (field, value) pairs.
type Stanza = Vec<(String, String)>;

fn field<'a>(stanza: &'a Stanza, name: &str) -> Option<&'a str> {
    stanza
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Splits `apt-cache show` output into its first stanza's fields.
fn parse_first_stanza(text: &str) -> Stanza {
    let mut out: Stanza = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if out.is_empty() {
                continue;
            }
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = out.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    out
}

/// A `Depends` entry: the package name and the version it pins with `(= v)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dependency {
    pub package: String,
    pub exact_version: Option<String>,
}

/// Parses a `Depends` field; for alternatives (`a | b`) the first is kept,
/// which is the one apt itself would install.
pub(crate) fn parse_depends(depends: &str) -> Vec<Dependency> {
    depends
        .split(',')
        .filter_map(|clause| {
            let first = clause.split('|').next()?.trim();
            if first.is_empty() {
                return None;
            }
            let (name, rest) = match first.find(['(', ' ', '[']) {
                Some(i) => (first[..i].trim(), &first[i..]),
                None => (first, ""),
            };
            let name = name.split(':').next().unwrap_or(name).to_owned();
            let exact_version = rest
                .split_once('(')
                .and_then(|(_, r)| r.split_once(')'))
                .and_then(|(inside, _)| inside.trim().strip_prefix('='))
                .map(|v| v.trim().to_owned());
            Some(Dependency {
                package: name,
                exact_version,
            })
        })
        .collect()
}

/// Extra options for every apt call, decided once per store.
#[derive(Debug, Clone, Default)]
pub(crate) struct AptConfig {
    options: Vec<String>,
}

impl AptConfig {
    /// Looks at the machine's apt configuration. Container images often turn
    /// apt's binary package cache off (`Dir::Cache::pkgcache ""`), which makes
    /// every `apt-cache` call re-parse all lists (about a second each); then a
    /// private cache file under `dir` is used instead. apt itself checks that
    /// file against the lists, so it is never stale.
    pub fn detect(dir: &Path) -> AptConfig {
        let out = Command::new("apt-config")
            .args(["shell", "PC", "Dir::Cache::pkgcache"])
            .output();
        let disabled = out
            .ok()
            .filter(|o| o.status.success())
            .is_some_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "PC=''");
        let mut options = Vec::new();
        if disabled {
            options.push("-o".to_owned());
            options.push(format!(
                "Dir::Cache::pkgcache={}",
                dir.join("pkgcache.bin").display()
            ));
        }
        AptConfig { options }
    }

    fn command(&self, tool: &str, release: Option<&str>) -> Command {
        let mut cmd = Command::new(tool);
        if running_as_root() {
            // apt's sandbox user cannot write into the cache as root; say so
            // up front instead of letting apt warn on every download.
            cmd.args(["-o", "APT::Sandbox::User=root"]);
        }
        cmd.args(&self.options);
        if let Some(r) = release {
            cmd.args(["-t", r]);
        }
        cmd
    }
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// What one `apt-cache` call said.
struct Answer {
    stdout: String,
    stderr: String,
    /// Its `E:` lines (apt can print them and still exit 0).
    errors: Vec<String>,
    /// Exit status 0 and no `E:` line.
    ok: bool,
}

/// Runs an `apt-cache` command; `missing` words the error when apt itself
/// cannot be started.
fn ask(mut cmd: Command, missing: impl FnOnce(std::io::Error) -> Error) -> Result<Answer> {
    let out = cmd.output().map_err(missing)?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let errors: Vec<String> = stderr
        .lines()
        .filter(|l| l.starts_with("E:"))
        .map(str::to_owned)
        .collect();
    Ok(Answer {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        ok: out.status.success() && errors.is_empty(),
        errors,
        stderr,
    })
}

/// Runs `apt-cache show` for `pkg:arch[=version]` and returns its first stanza.
fn show(apt: &AptConfig, spec_file: &Path, query: &str, release: Option<&str>) -> Result<Stanza> {
    let mut cmd = apt.command("apt-cache", release);
    cmd.args(["show", "--no-all-versions", query]);
    let answer = ask(cmd, |e| {
        Error::infra(format!(
            "cannot run apt-cache ({e}); apt sources need Debian's apt: run ci/setup-debian.sh, \
             or use a `url` source in {}",
            spec_file.display()
        ))
    })?;
    let stanza = parse_first_stanza(&answer.stdout);
    if !answer.ok || field(&stanza, "Version").is_none() {
        let why = if answer.errors.is_empty() {
            "no such package or version".to_owned()
        } else {
            answer.errors.join(" ")
        };
        let arch = query.split([':', '=']).nth(1).unwrap_or("ARCH");
        return Err(Error::infra(format!(
            "apt does not know `{query}`{} ({why}); if the architecture is missing run \
             `dpkg --add-architecture {arch} && apt-get update` (ci/setup-debian.sh does), \
             otherwise check `apt-cache policy {}` and fix {}",
            release
                .map(|r| format!(" in release {r}"))
                .unwrap_or_default(),
            query.split('=').next().unwrap_or(query),
            spec_file.display()
        )));
    }
    Ok(stanza)
}

/// Finds the exact package version the source means, from apt's local lists
/// only (no network), following a metapackage when asked.
pub(crate) fn resolve(apt: &AptConfig, src: &AptSource, spec_file: &Path) -> Result<AptPackage> {
    let release = src.release.as_deref();
    let mut query = format!("{}:{}", src.package, src.arch);
    if let Some(v) = &src.version {
        query = format!("{query}={v}");
    }
    let mut stanza = show(apt, spec_file, &query, release)?;
    let mut via = None;
    if src.resolve_depends {
        let depends = field(&stanza, "Depends").unwrap_or("");
        let deps = parse_depends(depends);
        let dep = match deps.as_slice() {
            [one] => one.clone(),
            _ => {
                return Err(Error::bad_input(format!(
                "{}: key `resolve_depends`: `{}` depends on {} packages ({}), not a single one; \
                     name the package that holds the files in `apt` instead",
                spec_file.display(),
                src.package,
                deps.len(),
                if depends.is_empty() { "none" } else { depends }
            )))
            }
        };
        via = Some(format!(
            "{}:{}={}",
            src.package,
            src.arch,
            field(&stanza, "Version").unwrap_or("?")
        ));
        let mut q = format!("{}:{}", dep.package, src.arch);
        if let Some(v) = &dep.exact_version {
            q = format!("{q}={v}");
        }
        stanza = show(apt, spec_file, &q, release)?;
    }
    let get = |name: &str| field(&stanza, name).map(str::to_owned);
    let package = get("Package").unwrap_or_else(|| src.package.clone());
    let sha256 = get("SHA256")
        .map(|s| s.to_ascii_lowercase())
        .ok_or_else(|| {
            Error::infra(format!(
                "apt lists no SHA256 for {package}:{}; run `apt-get update` and try again",
                src.arch
            ))
        })?;
    Ok(AptPackage {
        package,
        arch: get("Architecture").unwrap_or_else(|| src.arch.clone()),
        version: get("Version").unwrap_or_default(),
        sha256,
        size: get("Size").and_then(|s| s.parse().ok()),
        via,
    })
}

/// Runs `apt-cache depends --recurse` for `query` with every optional kind of
/// relation left out (recommends, suggests, conflicts, breaks, replaces,
/// enhances), so that the output is the hard dependency graph apt itself would
/// install, as apt prints it. Reads the local lists only (no network).
pub(crate) fn depends_recursive(
    apt: &AptConfig,
    query: &str,
    release: Option<&str>,
) -> Result<String> {
    let mut cmd = apt.command("apt-cache", release);
    cmd.args([
        "depends",
        "--recurse",
        "--no-recommends",
        "--no-suggests",
        "--no-conflicts",
        "--no-breaks",
        "--no-replaces",
        "--no-enhances",
        query,
    ]);
    let answer = ask(cmd, |e| {
        Error::infra(format!(
            "cannot run apt-cache ({e}); resolving packages needs Debian's apt: run \
             ci/setup-debian.sh"
        ))
    })?;
    if !answer.ok {
        return Err(Error::infra(format!(
            "`apt-cache depends --recurse {query}`{} failed: {}; check `apt-cache policy {query}` \
             (ci/setup-debian.sh adds the ppc64el architecture and bookworm-backports)",
            release.map(|r| format!(" -t {r}")).unwrap_or_default(),
            if answer.errors.is_empty() {
                answer.stderr.trim().to_owned()
            } else {
                answer.errors.join(" ")
            }
        )));
    }
    Ok(answer.stdout)
}

/// Resolves many `pkg[:arch]` queries to apt's candidate versions in one
/// `apt-cache show` call (one call costs as much as one query), in the order
/// asked. Every query must resolve to exactly one candidate.
pub(crate) fn show_candidates(
    apt: &AptConfig,
    queries: &[String],
    release: Option<&str>,
) -> Result<Vec<AptPackage>> {
    if queries.is_empty() {
        return Ok(Vec::new());
    }
    let mut cmd = apt.command("apt-cache", release);
    cmd.args(["show", "--no-all-versions"]).args(queries);
    let answer = ask(cmd, |e| {
        Error::infra(format!(
            "cannot run apt-cache ({e}); resolving packages needs Debian's apt: run \
             ci/setup-debian.sh"
        ))
    })?;
    if !answer.ok {
        return Err(Error::infra(format!(
            "`apt-cache show` for {} packages failed: {}; run `apt-get update` (and \
             ci/setup-debian.sh if an architecture or release is missing)",
            queries.len(),
            answer.errors.join(" ")
        )));
    }
    let stanzas: Vec<Stanza> = answer
        .stdout
        .split("\n\n")
        .map(parse_first_stanza)
        .filter(|s| !s.is_empty())
        .collect();
    queries
        .iter()
        .map(|q| {
            let (name, arch) = match q.split_once(':') {
                Some((n, a)) => (n, Some(a)),
                None => (q.as_str(), None),
            };
            let found: Vec<&Stanza> = stanzas
                .iter()
                .filter(|s| field(s, "Package") == Some(name))
                .filter(|s| {
                    let a = field(s, "Architecture");
                    arch.is_none_or(|want| a == Some(want) || a == Some("all"))
                })
                .collect();
            let [stanza] = found.as_slice() else {
                return Err(Error::infra(format!(
                    "apt lists {} candidates for `{q}`{}, expected one; check `apt-cache policy \
                     {q}` and run `apt-get update`",
                    found.len(),
                    release.map(|r| format!(" in {r}")).unwrap_or_default()
                )));
            };
            let get = |f: &str| field(stanza, f).map(str::to_owned);
            Ok(AptPackage {
                package: name.to_owned(),
                arch: get("Architecture").unwrap_or_default(),
                version: get("Version").unwrap_or_default(),
                sha256: get("SHA256")
                    .map(|s| s.to_ascii_lowercase())
                    .ok_or_else(|| {
                        Error::infra(format!(
                            "apt lists no SHA256 for `{q}`; run `apt-get update` and try again"
                        ))
                    })?,
                size: get("Size").and_then(|s| s.parse().ok()),
                via: None,
            })
        })
        .collect()
}

/// Downloads several packages into `dir` with a single `apt-get download`
/// (apt fetches them in parallel and reads its lists once), returning the
/// .deb files left there. Callers match files to packages by hash.
pub(crate) fn download_many(
    apt: &AptConfig,
    pkgs: &[&AptPackage],
    dir: &Path,
    retries: u32,
) -> Result<Vec<PathBuf>> {
    let pins: Vec<String> = pkgs.iter().map(|p| p.pin()).collect();
    let mut cmd = apt.command("apt-get", None);
    cmd.args([
        "-q",
        "-o",
        &format!("Acquire::Retries={retries}"),
        "download",
    ])
    .args(&pins)
    .current_dir(dir);
    let out = cmd.output().map_err(|e| {
        Error::infra(format!(
            "cannot run apt-get ({e}); fetching packages needs Debian's apt: run \
             ci/setup-debian.sh"
        ))
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(Error::infra(format!(
            "`apt-get download` of {} packages failed: {}; check the network and the apt \
             sources (`apt-get update`), then run again",
            pins.len(),
            stderr.trim()
        )));
    }
    Ok(std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, "cannot list", e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect())
}

/// Downloads the package's .deb into `dir` (a fresh directory inside the
/// cache) with `apt-get download`, and returns the file's path.
pub(crate) fn download(
    apt: &AptConfig,
    pkg: &AptPackage,
    dir: &Path,
    retries: u32,
) -> Result<PathBuf> {
    let mut cmd = apt.command("apt-get", None);
    cmd.args([
        "-q",
        "-o",
        &format!("Acquire::Retries={retries}"),
        "download",
        &pkg.pin(),
    ])
    .current_dir(dir);
    let out = cmd.output().map_err(|e| {
        Error::infra(format!(
            "cannot run apt-get ({e}); install apt or use a `url` source"
        ))
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(Error::infra(format!(
            "`apt-get download {}` failed: {}; check the network and the apt sources \
             (`apt-get update`), then run again",
            pkg.pin(),
            stderr.trim()
        )));
    }
    let debs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, "cannot list", e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    match debs.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(Error::infra(format!(
            "`apt-get download {}` left {} .deb files in {}, expected one",
            pkg.pin(),
            debs.len(),
            dir.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depends_pins_and_alternatives() {
        let d = parse_depends("linux-image-6.12.95+deb12-powerpc64le (= 6.12.95-1~bpo12+1)");
        assert_eq!(
            d,
            vec![Dependency {
                package: "linux-image-6.12.95+deb12-powerpc64le".into(),
                exact_version: Some("6.12.95-1~bpo12+1".into())
            }]
        );
        let d = parse_depends(
            "kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120) | linux-initramfs-tool",
        );
        let names: Vec<_> = d.iter().map(|d| d.package.as_str()).collect();
        assert_eq!(names, ["kmod", "linux-base", "initramfs-tools"]);
        assert!(d.iter().all(|d| d.exact_version.is_none()));
        assert!(parse_depends("").is_empty());
    }

    #[test]
    fn first_stanza_only() {
        let s = parse_first_stanza(
            "Package: a\nVersion: 1\nDescription: x\n more\n\nPackage: b\nVersion: 2\n",
        );
        assert_eq!(field(&s, "version"), Some("1"));
        assert_eq!(field(&s, "Description"), Some("x\nmore"));
        assert_eq!(s.len(), 3);
    }
}
