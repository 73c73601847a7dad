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

#[test]
fn every_citation_points_inside_the_repository() {
    // Split so that this file does not cite what it looks for.
    let outside = [
        ["shared", "/reference"].concat(),
        ["qemu", "-rules.md"].concat(),
        ["measured", ".md"].concat(),
    ];
    let mut stack = vec![common::repo().join("harness"), common::repo().join("tests")];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            files += 1;
            for needle in &outside {
                assert!(
                    !text.contains(needle.as_str()),
                    "{} cites {needle}",
                    path.display()
                );
            }
        }
    }
    assert!(files > 20, "walked {files} files");
    for doc in [
        "docs/README.md",
        "docs/rules.md",
        "docs/compatibility.md",
        "docs/emulated-hosts.md",
    ] {
        assert!(common::repo().join(doc).is_file(), "{doc}");
    }
}
