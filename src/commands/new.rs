//! `crieur new`: appends a post to the queue files, then shows where it lands on each channel and
//! its diagnostics, as `preview` and `validate` would (`crieur_config::add_post`,
//! `crieur_daemon::landing`).

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::Context as _;

use crate::Outcome;
use crate::commands::Context;

/// `crieur new` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A channel the post goes to (at least one; repeat for more).
    #[arg(long = "channel", value_name = "NAME", required = true)]
    channels: Vec<String>,
    /// A fixed time: "2026-12-01 09:00" (each channel's zone) or "2026-12-01T09:00:00+01:00".
    #[arg(long, value_name = "WHEN")]
    at: Option<String>,
    /// The post's category.
    #[arg(long, value_name = "C")]
    category: Option<String>,
    /// The file to append to (default: the last file of the queue's first glob).
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// The post's id (default: made from the text's first words, unique).
    #[arg(long)]
    id: Option<String>,
    /// How many weeks ahead to look for the post's slots.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=104))]
    weeks: u16,
    /// The text, or `-` to read it from standard input.
    text: String,
}

/// Adds the post, then prints its slots and diagnostics; exit 1 if one is an error (the post is
/// written all the same).
///
/// # Errors
/// When the config or the queue is invalid, or the post cannot be added (nothing is written).
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<Outcome> {
    let (config, posts) = ctx.load()?;
    let text = if args.text == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("reading the text from standard input")?;
        s
    } else {
        args.text
    };
    let file = match args.file {
        Some(f) => f,
        None => crieur_config::default_file(&config)?,
    };
    let new = crieur_config::NewPost {
        id: args.id,
        channels: args.channels,
        category: args.category,
        at: args.at,
        text,
    };
    let added = crieur_config::add_post(&config, &posts, &file, &new)?;
    println!("added post {} at {}", added.id, added.location);

    let posts = crieur_config::load_posts(&config)
        .context("the queue's post files are invalid after adding the post")?;
    if !posts.iter().any(|p| p.id == added.id) {
        println!(
            "warning: {} is not in [queue] files, so crieur will not publish this post",
            file.display()
        );
        return Ok(Outcome::Success);
    }
    let now = ctx.now();
    let known = crate::commands::read_known(&config, now);
    let landing =
        crieur_daemon::landing::landing(&config, &posts, &known, &added.id, now, args.weeks)?;
    for line in landing.lines(args.weeks) {
        println!("{line}");
    }
    Ok(if landing.has_errors() { Outcome::Problems } else { Outcome::Success })
}
