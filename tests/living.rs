//! Living with the daemon: shell completions, the man page, `status` on a fresh setup, and
//! `doctor`.

mod http;

use std::process::Command;

use crate::common::{crieur, run, stderr, stdout};

/// Every command the binary has, as `crieur --help` lists them.
const COMMANDS: &[&str] = &[
    "validate",
    "preview",
    "check",
    "run",
    "status",
    "resolve",
    "auth",
    "migrate",
    "doctor",
    "completions",
    "man",
];

#[test]
fn the_bash_completion_script_loads_in_bash_and_completes_every_command() {
    let out = run(&["completions", "bash"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let script = stdout(&out);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crieur.bash");
    std::fs::write(&path, &script).unwrap();
    // Load the script, then ask its function for the completions of `crieur <TAB>`.
    let probe = format!(
        "source {}\nCOMP_WORDS=(crieur '')\nCOMP_CWORD=1\nCOMP_LINE='crieur '\nCOMP_POINT=7\n\
         _crieur crieur '' crieur\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        path.display()
    );
    let bash = Command::new("bash").arg("-c").arg(&probe).output().unwrap();
    assert!(bash.status.success(), "bash refused the script: {}", stderr(&bash));
    let offered = stdout(&bash);
    for command in COMMANDS {
        assert!(offered.lines().any(|l| l == *command), "{command} not completed: {offered}");
    }
}

#[test]
fn every_shell_gets_a_completion_script_naming_every_command() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = run(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        for command in COMMANDS {
            assert!(script.contains(command), "{shell} script lacks {command}");
        }
    }
}

#[test]
fn an_unknown_shell_is_refused_with_the_list_of_shells() {
    let out = run(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bash"), "{}", stderr(&out));
}

#[test]
fn the_man_page_renders_with_man_and_names_every_command() {
    let out = run(&["man"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crieur.1");
    std::fs::write(&path, &out.stdout).unwrap();
    let man = Command::new("man")
        .args(["-l", "-P", "cat"])
        .arg(&path)
        .env("MANWIDTH", "100")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .expect("man runs (apt-get install man-db)");
    assert!(man.status.success(), "man -l failed: {}", stderr(&man));
    let page = stdout(&man);
    assert!(page.contains("crieur"), "{page}");
    for command in COMMANDS {
        assert!(page.contains(command), "the man page lacks {command}: {page}");
    }
}

#[test]
fn status_on_a_fresh_setup_says_nothing_was_published_and_lists_the_queue() {
    let dir = crate::common::project(&[
        (
            "crieur.toml",
            "timezone = \"Europe/Paris\"\n\n[storage]\nurl = \"sqlite://state/crieur.db\"\n\n\
             [channels.blog]\nnetwork = \"webhook\"\nurl = \"https://blog.example.com/hook\"\n\
             secret = \"env:CRIEUR_TEST_UNUSED\"\ncadence = [\"Mon-Fri 09:00\"]\n",
        ),
        (
            "posts/week.toml",
            "[[post]]\nid = \"first-post\"\nchannels = [\"blog\"]\ntext = \"Hello\"\n\n\
             [[post]]\nid = \"second-post\"\nchannels = [\"blog\"]\ntext = \"Again\"\n",
        ),
    ]);
    let config = dir.path().join("crieur.toml");
    let status = |format: &str| {
        crieur()
            .args(["status", "--now", crate::common::NOW, "--format", format, "--config"])
            .arg(&config)
            .output()
            .unwrap()
    };
    let out = status("table");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("nothing has been published yet"), "{text}");
    assert!(text.contains("first-post") && text.contains("second-post"), "{text}");
    assert!(text.contains("queued"), "{text}");
    assert!(!dir.path().join("state/crieur.db").exists(), "status must not create the database");

    let out = status("json");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let posts = doc["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 2, "{doc}");
    assert_eq!(posts[0]["post"], "first-post");
    assert_eq!(posts[0]["state"], "queued");
    assert_eq!(posts[0]["at"], "2026-11-27T09:00:00+01:00");
    assert_eq!(posts[1]["at"], "2026-11-30T09:00:00+01:00");
    assert_eq!(doc["channels"][0]["channel"], "blog");
}
