//! `crieur`: a post-scheduling daemon. The queue is files in git; crieur checks every post against
//! the team's conventions, lays the posts on each channel's cadence, previews the week, and
//! publishes each post once.
//!
//! This binary only wires the library crates together: files -> `crieur-config` ->
//! `crieur-policy` -> `crieur-scheduler` -> `crieur-store` -> one `crieur-net-*` adapter per
//! channel. Each command lives in its own module under `commands/`.

mod commands;
mod logging;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "crieur",
    version,
    about = "Publish a social-media queue kept as files, on time, once."
)]
struct Cli {
    /// The config file (else $CRIEUR_CONFIG, ./crieur.toml, /etc/crieur/crieur.toml).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,

    /// Pretend the current time is this RFC 3339 instant (reproducible previews and validation).
    #[arg(long, global = true, hide = true, value_name = "RFC3339")]
    now: Option<jiff::Timestamp>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check the config and every post against the policy over the coming weeks.
    Validate(commands::validate::Args),
    /// Show the coming week: every slot, the post that lands there, the exact text sent.
    Preview(commands::preview::Args),
    /// Render one text for a network or channel and run the text rules on it.
    Check(commands::check::Args),
    /// Run the daemon: publish each post at its slot.
    Run(commands::run::Args),
    /// Show what the database knows: published, waiting, failed, unknown.
    Status(commands::status::Args),
    /// What went out against the plan (slots, lateness, mix, silences), and how it did.
    Report(commands::report::Args),
    /// Settle a post whose outcome is unknown or failed.
    Resolve(commands::resolve::Args),
    /// Run a channel's OAuth flow and store its tokens, encrypted.
    Auth(commands::auth::Args),
    /// Apply database migrations.
    Migrate,
    /// Check that the daemon can do its work: files, secrets, database, each channel's credentials.
    Doctor(commands::doctor::Args),
    /// Print the shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(commands::completions::Args),
    /// Print the man page (roff).
    Man,
    /// Add a post to the queue files and show where it lands.
    New(commands::new::Args),
    /// Print the JSON Schema of crieur.toml or of a post file, for editors.
    Schema(commands::schema::Args),
}

/// How a command ended, mapped to the exit codes of the CLI contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: the work found problems (policy errors, failed posts).
    Problems,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ctx = commands::Context { config: cli.config, now: cli.now };
    let result = match cli.command {
        Command::Validate(args) => commands::validate::run(&ctx, args),
        Command::Preview(args) => commands::preview::run(&ctx, args),
        Command::Check(args) => commands::check::run(&ctx, args),
        Command::Run(args) => commands::run::run(&ctx, args),
        Command::Status(args) => commands::status::run(&ctx, args),
        Command::Report(args) => commands::report::run(&ctx, args),
        Command::Resolve(args) => commands::resolve::run(&ctx, args),
        Command::Auth(args) => commands::auth::run(&ctx, args),
        Command::Migrate => commands::migrate::run(&ctx),
        Command::Doctor(args) => commands::doctor::run(&ctx, args),
        Command::Completions(args) => commands::completions::completions(Cli::command(), &args),
        Command::Man => commands::completions::man(Cli::command()),
        Command::New(args) => commands::new::run(&ctx, args),
        Command::Schema(args) => commands::schema::run(args),
    };
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Problems) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
