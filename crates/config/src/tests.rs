//! Tests across modules: the example config shipped with crieur, and robustness properties.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use crate::config::{Env, parse_config};
use crate::posts::{Ctx, Reader};
use crate::*;

fn example_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/crieur.toml")
}

#[test]
fn the_example_config_and_its_posts_load() {
    let config = load_config(&example_config()).unwrap();
    assert_eq!(config.timezone_name, "Europe/Paris");
    let names: Vec<&str> = config.channels.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "blog",
            "company-bluesky",
            "company-facebook",
            "company-linkedin",
            "company-x",
            "fediverse"
        ]
    );
    let x = &config.channels["company-x"].channel;
    assert_eq!(x.timezone.iana_name(), Some("America/New_York"));
    assert_eq!(x.cadence.len(), 3);
    assert_eq!(config.channels["blog"].channel.timezone.iana_name(), Some("Europe/Paris"));
    assert_eq!(config.mentions.len(), 3);
    assert_eq!(config.policy.base.mix.as_ref().unwrap()["hr"], 0.10);
    assert_eq!(config.policy.base.require_link_for.as_deref(), Some(&["expertise".to_owned()][..]));
    assert_eq!(config.policy.networks[&crieur_core::Network::X].max_hashtags, Some(2));

    let posts = load_posts(&config).unwrap();
    assert_eq!(posts.len(), 29);
    let articles: Vec<_> = posts.iter().filter(|p| p.article.is_some()).collect();
    assert_eq!(articles.len(), 1);
    assert!(articles[0].channels.contains(&"blog".to_owned()));
    assert!(posts.iter().any(|p| !p.thread.is_empty()));
    assert!(posts.iter().any(|p| p.variants.contains_key("x")));
    let fixed: Vec<_> = posts.iter().filter_map(|p| p.at).collect();
    assert!(!fixed.is_empty());
    for category in ["hr", "expertise", "product", "culture"] {
        assert!(posts.iter().any(|p| p.category.as_deref() == Some(category)), "{category}");
    }
    // Every expertise post cites a source, as the example's policy asks.
    for p in posts.iter().filter(|p| p.category.as_deref() == Some("expertise")) {
        assert!(p.link.is_some(), "{} has no link", p.id);
    }
    // Queue order: files by path, posts in file order.
    let mut last = (0, 0);
    for p in &posts {
        assert!((p.file_index, p.index_in_file) >= last);
        last = (p.file_index, p.index_in_file);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn config_parser_never_panics(text in "(?s).{0,400}") {
        let _ = parse_config(Path::new("c.toml"), &text, &Env::default());
    }

    #[test]
    fn config_parser_never_panics_on_tomlish_text(text in r#"(timezone|channels|\[|\]|\{|\}|=|"|network|x|cadence|policy|rules|utm|mix|\.|,|\n| |[a-z]{1,4}|"env:A"|"Mon 09:00"|true|1|0\.5){0,60}"#) {
        let _ = parse_config(Path::new("c.toml"), &text, &Env::default());
    }

    #[test]
    fn post_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400), md in any::<bool>()) {
        let path = if md { Path::new("p.md") } else { Path::new("p.toml") };
        if let Ok(text) = crate::source::decode(path, bytes) {
            let ctx = Ctx { channels: ["blog".to_owned()].into() };
            let mut reader = Reader { posts: Vec::new(), ids: Default::default(), errors: Errors::default(), limit: 10, deferred: None };
            reader.file(path, &text, 0, &ctx);
        }
    }

    #[test]
    fn post_parser_never_panics_on_tomlish_text(text in r#"(\+\+\+\n|\[\[post\]\]\n|\[post\.x\]\n|\[\[post\.thread\]\]\n|id = "a"\n|channels = \["blog"\]\n|text = |at = |link = |"2026-12-01 09:00"|"https://e\.x/"|"""|\n|=|\{|\[|\]|"|[a-z]{1,3}){0,40}"#, md in any::<bool>()) {
        let path = if md { Path::new("p.md") } else { Path::new("p.toml") };
        let ctx = Ctx { channels: ["blog".to_owned()].into() };
        let mut reader = Reader { posts: Vec::new(), ids: Default::default(), errors: Errors::default(), limit: 10, deferred: None };
        reader.file(path, &text, 0, &ctx);
        // Whatever the input, each post that came out has a valid id and known channels.
        for p in &reader.posts {
            prop_assert!(!p.id.is_empty());
            prop_assert!(p.channels.iter().all(|c| c == "blog"));
        }
    }
}

/// Regression: a FIFO matched by `queue.files` or named by a `file:` secret used to block loading
/// forever (opening a pipe waits for a writer); it is now refused at once.
#[cfg(unix)]
#[test]
fn a_fifo_is_refused_instead_of_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("posts.toml");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success(), "mkfifo");
    let (tx, rx) = std::sync::mpsc::channel();
    let path = fifo.clone();
    std::thread::spawn(move || {
        let _ = tx.send(crate::source::read_source(&path).map(|_| ()));
    });
    let got = rx.recv_timeout(std::time::Duration::from_secs(5)).expect("no block on a FIFO");
    let err = got.unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    let secret = crate::SecretRef::File(fifo);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(secret.resolve(std::path::Path::new("/")).map(|_| ()));
    });
    let got = rx.recv_timeout(std::time::Duration::from_secs(5)).expect("no block on a FIFO");
    assert!(got.unwrap_err().to_string().contains("not a regular file"));
}
