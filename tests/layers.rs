//! The code's own map: modules import each other in one direction only,
//! and the matrix parser sits below the rules and the emulated-host code.
//! Read from the source text (`crate::…` and `super::…` paths outside test
//! modules), so that a new cycle fails here before anyone has to draw it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every source file of the library, as a module path (`rules::kvm`).
fn modules() -> BTreeMap<String, PathBuf> {
    let root = common::repo().join("harness/src");
    let mut out = BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let rel = p.strip_prefix(&root).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|l| l == "mod") {
                parts.pop();
            }
            if parts == ["lib"] || parts == ["main"] {
                continue;
            }
            out.insert(parts.join("::"), p);
        }
    }
    out
}

/// The longest known module that `path` (segments) starts with.
fn resolve(path: &[&str], known: &BTreeMap<String, PathBuf>) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| known.contains_key(m))
}

/// The modules `module`'s code (before its test module) refers to.
fn references(module: &str, file: &Path, known: &BTreeMap<String, PathBuf>) -> BTreeSet<String> {
    let text = std::fs::read_to_string(file).unwrap();
    // Code only: not the test module, not comments (doc links are no imports).
    let code: String = text
        .split("#[cfg(test)]")
        .next()
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let code = code.as_str();
    let is_mod_rs = file.file_name().is_some_and(|n| n == "mod.rs");
    let here: Vec<&str> = module.split("::").collect();
    let parent: Vec<&str> = here[..here.len() - 1].to_vec();
    let re = regex::Regex::new(r"\b(crate|super)((?:::[a-z_][a-z0-9_]*)+)").unwrap();
    let mut out = BTreeSet::new();
    for c in re.captures_iter(code) {
        let segs: Vec<&str> = c[2].split("::").filter(|s| !s.is_empty()).collect();
        // `super` is the module that contains this one (for a mod.rs, the
        // module above its folder).
        let full: Vec<&str> = if &c[1] == "crate" {
            segs
        } else {
            parent.iter().copied().chain(segs).collect()
        };
        if let Some(m) = resolve(&full, known) {
            if m != module {
                out.insert(m);
            }
        }
    }
    // A parent's own children, used by name (`kvm::kvm_outcome` in rules).
    if is_mod_rs {
        for child in known.keys().filter(|k| {
            k.strip_prefix(&format!("{module}::"))
                .is_some_and(|rest| !rest.contains("::"))
        }) {
            let name = child.rsplit("::").next().unwrap();
            if code.contains(&format!("{name}::")) {
                out.insert(child.clone());
            }
        }
    }
    out
}

/// True when one module contains the other: a child using its parent's
/// items is Rust's ordinary shape, not a cycle between stages.
fn nested(a: &str, b: &str) -> bool {
    a.starts_with(&format!("{b}::")) || b.starts_with(&format!("{a}::"))
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let known = modules();
    known
        .iter()
        .map(|(m, f)| {
            let refs = references(m, f, &known)
                .into_iter()
                .filter(|r| !nested(m, r))
                .collect();
            (m.clone(), refs)
        })
        .collect()
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let g = graph();
    assert!(g.len() > 20, "{} modules read", g.len());
    // Depth-first search for a back edge.
    fn visit(
        m: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        on_path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = on_path.iter().position(|x| x == m) {
            let mut cycle = on_path[at..].to_vec();
            cycle.push(m.to_string());
            return Some(cycle);
        }
        if done.contains(m) {
            return None;
        }
        on_path.push(m.to_string());
        for next in g.get(m).into_iter().flatten() {
            if let Some(c) = visit(next, g, on_path, done) {
                return Some(c);
            }
        }
        on_path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for m in g.keys() {
        if let Some(cycle) = visit(m, &g, &mut Vec::new(), &mut done) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn the_matrix_parser_sits_below_the_rules_and_the_emulated_hosts() {
    let g = graph();
    let matrix = &g["matrix"];
    for above in ["rules", "chain", "plan", "run", "app"] {
        assert!(
            !matrix
                .iter()
                .any(|m| m == above || m.starts_with(&format!("{above}::"))),
            "matrix imports {above}: {matrix:?}"
        );
    }
    // verdict judges plain observations, never the PTY module.
    assert!(!g["verdict"].contains("console"), "{:?}", g["verdict"]);
    // The display receives events; it does not reach into the runner.
    assert!(!g["progress"].contains("run"), "{:?}", g["progress"]);
    // And the test sees edges at all.
    assert!(
        g["plan"].contains("rules") && g["run"].contains("plan"),
        "{g:?}"
    );
}
