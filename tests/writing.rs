//! Writing posts: `crieur schema`, `crieur new`, and `validate` for CI (`--format json|github`).

use crate::common;

#[test]
fn schema_prints_the_committed_schemas() {
    for (which, file) in [("config", "crieur.schema.json"), ("posts", "posts.schema.json")] {
        let out = common::run(&["schema", which]);
        assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
        let committed = std::fs::read_to_string(format!("config/schema/{file}")).unwrap();
        assert_eq!(common::stdout(&out), committed, "crieur schema {which}");
        let schema: serde_json::Value = serde_json::from_str(&committed).unwrap();
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    }
    let out = common::run(&["schema", "nonsense"]);
    assert_eq!(out.status.code(), Some(2), "a wrong argument cannot run");
}

const CONFIG: &str = r#"timezone = "Europe/Paris"

[queue]
files = ["posts/*.toml"]

[channels.company-x]
network = "x"
cadence = ["Mon-Fri 09:15"]
access_token = "env:X_TOKEN"

[channels.blog]
network = "webhook"
url = "https://blog.example.com/hooks/crieur"
secret = "env:BLOG_SECRET"
cadence = ["Mon 08:00"]
"#;

/// `crieur new ARGS` in `dir`, with `stdin` on standard input.
fn new(dir: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write as _;
    let config = dir.join("crieur.toml");
    let mut child = common::crieur()
        .args(["new", "--config", config.to_str().unwrap(), "--now", common::NOW])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn in_dir(dir: &std::path::Path, command: &[&str]) -> std::process::Output {
    let config = dir.join("crieur.toml");
    let mut args = command.to_vec();
    args.extend(["--config", config.to_str().unwrap(), "--now", common::NOW]);
    common::run(&args)
}

#[test]
fn new_into_an_empty_queue_creates_the_file_and_validate_and_preview_see_the_post() {
    let dir = common::project(&[("crieur.toml", CONFIG)]);
    let out = new(
        dir.path(),
        &[
            "--channel",
            "company-x",
            "--category",
            "hr",
            "Welcome to Inès, who joins our Lyon office! #Hiring",
        ],
        "",
    );
    let stdout = common::stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", common::stderr(&out));
    let file = dir.path().join("posts/queue.toml");
    assert!(
        stdout.starts_with(&format!(
            "added post welcome-to-ines-who-joins-our at {}:1:1\n",
            file.display()
        )),
        "{stdout}"
    );
    // NOW is Thursday 26 November 2026, 10:00 in Paris; the next Mon-Fri 09:15 is Friday's.
    assert!(stdout.contains("  company-x: Fri 2026-11-27 09:15 CET\n"), "{stdout}");
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        written,
        "[[post]]\nid = \"welcome-to-ines-who-joins-our\"\nchannels = [\"company-x\"]\n\
         category = \"hr\"\ntext = \"Welcome to Inès, who joins our Lyon office! #Hiring\"\n"
    );

    let out = in_dir(dir.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stdout(&out));
    assert!(
        common::stdout(&out).contains("1 posts on 2 channels checked over 4 weeks: 0 errors"),
        "{}",
        common::stdout(&out)
    );
    let out = in_dir(dir.path(), &["preview", "--from", "2026-11-23", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let entry = json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["post"] == "welcome-to-ines-who-joins-our")
        .expect("preview shows the new post");
    assert_eq!(entry["at"], "2026-11-27T09:15:00+01:00");

    // The same text again gets a unique id.
    let out =
        new(dir.path(), &["--channel", "blog", "Welcome to Inès, who joins our Lyon office!"], "");
    assert!(
        common::stdout(&out).starts_with("added post welcome-to-ines-who-joins-our-2 at "),
        "{}",
        common::stdout(&out)
    );
}

const COMMENTED: &str = "# Our December queue.\n#   (hand-aligned comments stay as they are)\n\n\
[[post]]\nid   =   \"first\"          # odd spacing kept\nchannels = [ \"blog\" ]\n\
text = '''\nA literal string\n'''\n\n[post.x]\ntext = \"override\"\n# a trailing comment, no newline at the end";

#[test]
fn new_keeps_a_commented_file_byte_for_byte_and_reads_standard_input() {
    let dir = common::project(&[("crieur.toml", CONFIG), ("posts/december.toml", COMMENTED)]);
    let out = new(
        dir.path(),
        &["--channel", "blog", "--at", "2026-12-01 09:00", "-"],
        "Line one \"quoted\"\nLine two\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}{}", common::stdout(&out), common::stderr(&out));
    let written = std::fs::read_to_string(dir.path().join("posts/december.toml")).unwrap();
    let (before, added) = written.split_at(COMMENTED.len());
    assert_eq!(before, COMMENTED, "the file's bytes before the new post are untouched");
    assert_eq!(
        added,
        "\n\n[[post]]\nid = \"line-one-quoted-line-two\"\nchannels = [\"blog\"]\n\
         at = \"2026-12-01 09:00\"\ntext = \"\"\"\nLine one \\\"quoted\\\"\nLine two\"\"\"\n"
            .replace("\\\"quoted\\\"", "\"quoted\""),
        "{written}"
    );
    assert!(
        common::stdout(&out).contains(":15:1\n"),
        "the new post's line: {}",
        common::stdout(&out)
    );
    assert!(
        common::stdout(&out).contains("  blog: Tue 2026-12-01 09:00 CET"),
        "{}",
        common::stdout(&out)
    );
    let out = in_dir(dir.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stdout(&out));
}

#[test]
fn new_refuses_an_existing_id_and_a_bad_post_and_writes_nothing() {
    let dir = common::project(&[("crieur.toml", CONFIG), ("posts/december.toml", COMMENTED)]);
    let file = dir.path().join("posts/december.toml");
    for (args, wanted) in [
        (
            vec!["--id", "first", "--channel", "blog", "Hello"],
            "post id `first` is already used at ",
        ),
        (vec!["--channel", "nope", "Hello"], "unknown channel `nope`"),
        (
            vec!["--channel", "blog", "--at", "tomorrow", "Hello"],
            "`at = \"tomorrow\"` is not a time",
        ),
        (vec!["--channel", "blog", "--id", "a b", "Hello"], "post id \"a b\" may only hold"),
        (
            vec!["--channel", "blog", "--file", "posts/x.md", "Hello"],
            "posts are added to a .toml file",
        ),
        (vec!["Hello"], "--channel"),
    ] {
        let out = new(dir.path(), &args, "");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", common::stdout(&out));
        assert!(common::stderr(&out).contains(wanted), "{wanted} in {}", common::stderr(&out));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), COMMENTED, "{args:?} wrote nothing");
    }
    let names: Vec<_> = std::fs::read_dir(dir.path().join("posts"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["december.toml"], "no temporary file left behind");
}

#[test]
fn new_writes_a_post_that_breaks_a_rule_and_exits_1_with_the_diagnostic() {
    let dir = common::project(&[("crieur.toml", CONFIG)]);
    let long = format!("Too long for X: {}", "word ".repeat(70));
    let out = new(dir.path(), &["--channel", "company-x", &long], "");
    let stdout = common::stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", common::stderr(&out));
    let file = dir.path().join("posts/queue.toml");
    assert!(
        stdout.contains(&format!("{}:4:8: error[length]: ", file.display())),
        "the diagnostic at the text: {stdout}"
    );
    assert!(
        std::fs::read_to_string(&file).unwrap().contains("Too long for X"),
        "written all the same"
    );
    let out = in_dir(dir.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(1), "validate sees it");
    assert!(common::stdout(&out).contains("error[length]"));
}

fn validate_mistakes(format: &str) -> (Option<i32>, String) {
    let out = common::run(&[
        "validate",
        "--config",
        "tests/fixtures/mistakes/crieur.toml",
        "--now",
        common::NOW,
        "--format",
        format,
    ]);
    (out.status.code(), common::stdout(&out))
}

#[test]
fn validate_writes_github_annotations_on_each_findings_line() {
    let (code, out) = validate_mistakes("github");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(
            "::error file=tests/fixtures/mistakes/posts/week.toml,line=9,col=8,title=mentions.unresolved::"
        ),
        "{out}"
    );
    for line in out.lines().filter(|l| l.starts_with("::")) {
        assert!(line.starts_with("::error file=") || line.starts_with("::warning file="), "{line}");
    }
    insta::assert_snapshot!("validate_github", out);
}

#[test]
fn validate_json_has_one_object_per_finding_with_the_contract_keys() {
    let (code, out) = validate_mistakes("json");
    assert_eq!(code, Some(1), "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let all = doc["diagnostics"].as_array().unwrap();
    let (_, text) = validate_mistakes("text");
    assert_eq!(all.len(), text.lines().count() - 1, "as many as the text lines, less the summary");
    for d in all {
        for key in ["path", "line", "column", "severity", "rule", "message", "post", "channel"] {
            assert!(d.get(key).is_some(), "{key} in {d}");
        }
    }
    assert_eq!(doc["errors"], 3);
    insta::assert_snapshot!("validate_json", out);
}

#[test]
fn validate_annotates_a_broken_post_file_and_exits_2() {
    let dir = common::project(&[
        ("crieur.toml", CONFIG),
        ("posts/a.toml", "[[post]]\nid = \"a\"\nchannels = [\"blog\"]\ntext = \"unclosed\n"),
    ]);
    let out = in_dir(dir.path(), &["validate", "--format", "github"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stdout(&out));
    let file = dir.path().join("posts/a.toml");
    assert!(
        common::stdout(&out).starts_with(&format!("::error file={},line=4,", file.display())),
        "{}",
        common::stdout(&out)
    );
    assert!(common::stdout(&out).contains(",title=load::"), "{}", common::stdout(&out));
    let out = in_dir(dir.path(), &["validate", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["diagnostics"][0]["rule"], "load");
    assert_eq!(doc["diagnostics"][0]["line"], 4);
}

#[derive(serde::Deserialize)]
struct Hook {
    id: String,
    entry: String,
    files: String,
    pass_filenames: bool,
}

#[test]
fn the_pre_commit_hooks_run_validate_on_the_post_files() {
    let text = std::fs::read_to_string(common::root().join(".pre-commit-hooks.yaml")).unwrap();
    let hooks: Vec<Hook> = serde_saphyr::from_str(&text).unwrap();
    assert!(hooks.iter().any(|h| h.id == "crieur-validate"));
    for hook in &hooks {
        assert!(!hook.pass_filenames, "validate reads the whole queue, not single files");
        assert!(hook.files.contains("posts/") && hook.files.contains("crieur\\.toml"));
        // The entry, as pre-commit runs it, on the example queue (exit 0: no error there).
        let mut words = hook.entry.split_whitespace();
        assert_eq!(words.next(), Some("crieur"));
        let mut args: Vec<&str> = words.collect();
        args.extend(["--config", "config/crieur.toml", "--now", common::NOW]);
        let out = common::run(&args);
        assert_eq!(out.status.code(), Some(0), "{}: {}", hook.id, common::stdout(&out));
    }
}

#[test]
fn check_post_renders_one_post_for_each_of_its_channels() {
    let out = common::run(&["check", "--config", "config/crieur.toml", "--post", "seve-3-launch"]);
    let stdout = common::stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", common::stderr(&out));
    for channel in ["company-x", "company-linkedin", "company-facebook"] {
        assert!(stdout.contains(&format!("== {channel}\n")), "{stdout}");
    }
    assert!(
        stdout.contains("utm_source=x&utm_medium=social&utm_campaign=seve-3\nlength: 159/280\n"),
        "{stdout}"
    );

    let out = common::run(&[
        "check",
        "--config",
        "tests/fixtures/mistakes/crieur.toml",
        "--post",
        "unknown-mention",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "an error rule: exit 1");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["post"], "unknown-mention");
    let linkedin = doc["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "company-linkedin")
        .unwrap();
    assert_eq!(linkedin["valid"], false);
    assert_eq!(linkedin["diagnostics"][0]["rule"], "mentions.unresolved");
    assert!(linkedin["length"]["used"].as_u64().unwrap() > 0);

    let out = common::run(&["check", "--config", "config/crieur.toml", "--post", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("no post has the id `nope`"));
}
