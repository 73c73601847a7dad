//! Which cells of a matrix this invocation runs: name filters and shards.
//!
//! A `hash:M/N` shard is decided by the cell's name alone, so a cell stays in
//! its shard whatever else is filtered or added to the matrix, and N runners
//! with M = 1..N cover every cell exactly once. `slice:M/N` deals cells out
//! in matrix order instead (even shard sizes, but shards move when the matrix
//! changes).

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// A `--partition` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    /// Shard `index` (1-based) of `count` by a stable hash of the name.
    Hash {
        /// 1..=count.
        index: u32,
        /// Number of shards.
        count: u32,
    },
    /// Shard `index` (1-based) of `count` by position after filtering.
    Slice {
        /// 1..=count.
        index: u32,
        /// Number of shards.
        count: u32,
    },
}

impl std::str::FromStr for Partition {
    type Err = Error;
    fn from_str(s: &str) -> Result<Partition> {
        let bad = || {
            Error::bad_input(format!(
                "--partition `{s}`: expected hash:M/N or slice:M/N with 1 <= M <= N (e.g. hash:2/4)"
            ))
        };
        let (kind, frac) = s.split_once(':').ok_or_else(bad)?;
        let (m, n) = frac.split_once('/').ok_or_else(bad)?;
        let index: u32 = m.parse().map_err(|_| bad())?;
        let count: u32 = n.parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        match kind {
            "hash" => Ok(Partition::Hash { index, count }),
            "slice" => Ok(Partition::Slice { index, count }),
            _ => Err(bad()),
        }
    }
}

/// The shard (0-based) a cell name hashes to.
pub fn hash_shard(name: &str, count: u32) -> u32 {
    let d = Sha256::digest(name.as_bytes());
    let n = u64::from_be_bytes(d[..8].try_into().expect("8 bytes"));
    (n % count as u64) as u32
}

/// True when `name` matches a `--filter` pattern: `=NAME` exactly that
/// name, a glob (`*`, `?`, `[...]`) if the pattern has glob characters, else
/// a substring.
pub fn matches_filter(name: &str, pattern: &str) -> bool {
    if let Some(exact) = pattern.strip_prefix('=') {
        name == exact
    } else if pattern.contains(['*', '?', '[']) {
        glob::Pattern::new(pattern)
            .map(|p| p.matches(name))
            .unwrap_or(false)
    } else {
        name.contains(pattern)
    }
}

/// Checks filter patterns before any cell is considered.
pub fn check_filters(patterns: &[String]) -> Result<()> {
    for p in patterns {
        if !p.starts_with('=') && p.contains(['*', '?', '[']) {
            glob::Pattern::new(p).map_err(|e| Error::bad_input(format!("--filter `{p}`: {e}")))?;
        }
    }
    Ok(())
}

/// The indices of `names` selected by the filters (any may match; none
/// given selects all) and then the partition.
pub fn select(names: &[&str], filters: &[String], partition: Option<Partition>) -> Vec<usize> {
    let filtered: Vec<usize> = (0..names.len())
        .filter(|&i| filters.is_empty() || filters.iter().any(|f| matches_filter(names[i], f)))
        .collect();
    match partition {
        None => filtered,
        Some(Partition::Hash { index, count }) => filtered
            .into_iter()
            .filter(|&i| hash_shard(names[i], count) == index - 1)
            .collect(),
        Some(Partition::Slice { index, count }) => filtered
            .into_iter()
            .enumerate()
            .filter(|(pos, _)| (*pos as u32) % count == index - 1)
            .map(|(_, i)| i)
            .collect(),
    }
}
