//! Choosing cells: filters and shards. Every shard set covers every selected
//! cell exactly once, and a hash shard does not move when filters change.

use bootmatrix::select::{self, Partition};
use rstest::rstest;

fn names(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                "{}/{}-guest/{}",
                ["tcg", "kvm-hv", "kvm-pr"][i % 3],
                if i % 2 == 0 { "radix" } else { "hpt" },
                i
            )
        })
        .collect()
}

#[rstest]
fn shards_cover_every_cell_exactly_once(
    #[values(1, 2, 3, 4, 7)] n: u32,
    #[values("hash", "slice")] kind: &str,
    #[values(vec![], vec!["tcg".to_string()], vec!["*/hpt-guest/*".to_string(), "kvm-pr".to_string()])]
    filters: Vec<String>,
) {
    let all = names(60);
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let selected = select::select(&refs, &filters, None);
    assert!(!selected.is_empty());
    let mut seen = vec![0u32; all.len()];
    for m in 1..=n {
        let p: Partition = format!("{kind}:{m}/{n}").parse().unwrap();
        for i in select::select(&refs, &filters, Some(p)) {
            seen[i] += 1;
        }
    }
    for i in 0..all.len() {
        let want = u32::from(selected.contains(&i));
        assert_eq!(seen[i], want, "cell {} seen {} times", all[i], seen[i]);
    }
}

#[rstest]
fn a_hash_shard_keeps_its_cells_whatever_the_filter(#[values(2, 3, 5)] n: u32) {
    let all = names(40);
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    for m in 1..=n {
        let p = Partition::Hash { index: m, count: n };
        let unfiltered = select::select(&refs, &[], Some(p));
        let filtered = select::select(&refs, &["tcg".to_string()], Some(p));
        for i in filtered {
            assert!(
                unfiltered.contains(&i),
                "{} moved shard under a filter",
                all[i]
            );
        }
    }
}

#[rstest]
#[case("tcg/*", "tcg/radix-guest/64k", true)]
#[case("tcg/*", "kvm-hv/radix-guest/64k", false)]
#[case("hpt", "tcg/hpt-guest/64k", true)]
#[case("*/hpt-guest/4k", "kvm-hv/hpt-guest/64k", false)]
fn filters_are_globs_or_substrings(#[case] pattern: &str, #[case] name: &str, #[case] hit: bool) {
    assert_eq!(select::matches_filter(name, pattern), hit);
}

#[rstest]
#[case("hash:0/4")]
#[case("hash:5/4")]
#[case("slice:1/0")]
#[case("modulo:1/2")]
#[case("hash:1")]
fn bad_partitions_are_bad_input(#[case] spec: &str) {
    let err = spec.parse::<Partition>().unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains(spec));
}
