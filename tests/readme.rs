//! The README is part of the interface: its test command is what CI runs,
//! and its list of documented error ids is the one the code knows.

mod common;

fn readme() -> String {
    std::fs::read_to_string(common::repo().join("README.md")).unwrap()
}

#[test]
fn ci_runs_exactly_the_readme_test_command() {
    let readme = readme();
    let ci = std::fs::read_to_string(common::repo().join(".ci/run")).unwrap();
    let command = ci.lines().last().unwrap().trim();
    assert!(command.contains("cargo fmt --check"), "{command}");
    assert!(
        command.contains("cargo clippy --all-targets -- -D warnings"),
        "{command}"
    );
    assert!(
        readme.lines().any(|l| l.trim() == command),
        "README does not show `{command}`"
    );
}

#[test]
fn the_readme_lists_every_documented_error_id_and_no_other() {
    let readme = readme();
    let start = readme
        .find("Documented error ids")
        .expect("the README lists the documented error ids");
    let para = &readme[start..start + readme[start..].find("\n\n").unwrap()];
    let mut listed: Vec<&str> = para
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| !w.contains('/') && !w.contains('.'))
        .collect();
    listed.sort();
    let mut known = bootmatrix::documented::ids();
    known.sort();
    assert_eq!(listed, known);
}
