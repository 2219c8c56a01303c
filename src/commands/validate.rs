//! `crieur validate`: every config and post-file error, and every policy rule over the coming
//! weeks. Meant for the CI of the repository that holds the posts: `--format github` writes each
//! finding as a GitHub Actions annotation, `--format json` as one object for tools.

use std::io::Write;

use anyhow::Context as _;
use crieur_core::Severity;

use crate::Outcome;
use crate::commands::Context;
use crieur_daemon::findings::Finding;
use crieur_daemon::plan;

/// Output format of `validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `path:line:col: severity[rule]: message (post ID on CHANNEL)`, then a summary.
    Text,
    /// One JSON document: `{ "diagnostics": [ { path, line, column, severity, rule, message,
    /// post, channel } ], "errors": N, "warnings": N }`.
    Json,
    /// GitHub Actions workflow commands (`::error file=...,line=...,col=...,title=RULE::...`).
    Github,
}

/// `crieur validate` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many weeks ahead to lay and check.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=104))]
    weeks: u16,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

/// Prints every finding and a summary; exit 1 if any is an error.
///
/// # Errors
/// When the config or a post file is invalid (exit 2, every problem with its place; with
/// `--format json|github` they are also printed as findings of rule `load`).
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<Outcome> {
    let path = crieur_config::find_config(ctx.config.as_deref())?;
    let loaded = crieur_config::load_config(&path)
        .and_then(|config| crieur_config::load_posts(&config).map(|posts| (config, posts)));
    let (config, posts) = match loaded {
        Ok(loaded) => loaded,
        Err(errors) => {
            let findings: Vec<Finding> = errors.iter().map(Finding::load).collect();
            print(&findings, args.format);
            return Err(errors).context("the config or a post file is invalid");
        }
    };
    let now = ctx.now();
    let to = now + jiff::SignedDuration::from_hours(24 * 7 * i64::from(args.weeks));
    let known = crate::commands::read_known(&config, now);
    let assessed = plan::assess(&config, &posts, &known, now, to, now, true)?;
    let all = assessed.diagnostics(&config);
    let errors = all.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = all.iter().filter(|d| d.severity == Severity::Warning).count();
    let summary = format!(
        "{} posts on {} channels checked over {} weeks: {errors} errors, {warnings} warnings",
        posts.len(),
        config.channels.len(),
        args.weeks
    );
    // Thousands of lines: one buffered writer, not a locked write per line.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match args.format {
        Format::Text => {
            for d in &all {
                writeln!(out, "{d}")?;
            }
            writeln!(out, "{summary}")?;
        }
        Format::Json | Format::Github => {
            write_findings(
                &mut out,
                &all.iter().map(Finding::diagnostic).collect::<Vec<_>>(),
                args.format,
            )?;
            if args.format == Format::Github {
                writeln!(out, "{summary}")?;
            }
        }
    }
    out.flush()?;
    // The process ends right after this command: the queue and the findings are left to the
    // exit rather than freed one allocation at a time (about 3% of the command's CPU time in a
    // profile of 10,000 posts).
    std::mem::forget((posts, all));
    Ok(if errors > 0 { Outcome::Problems } else { Outcome::Success })
}

/// The findings in `format` (`text` prints nothing here: its lines are the diagnostics' own).
fn print(findings: &[Finding], format: Format) {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    // A closed stdout leaves nothing to tell: the error that follows is printed on stderr.
    let _ = write_findings(&mut out, findings, format).and_then(|()| out.flush());
}

/// Writes the findings in `format` to `out`.
fn write_findings(
    out: &mut impl Write,
    findings: &[Finding],
    format: Format,
) -> std::io::Result<()> {
    match format {
        Format::Text => Ok(()),
        Format::Github => {
            for f in findings {
                writeln!(out, "{}", f.github())?;
            }
            Ok(())
        }
        Format::Json => writeln!(out, "{:#}", crieur_daemon::findings::json_document(findings)),
    }
}
