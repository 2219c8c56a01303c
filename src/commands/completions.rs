//! `crieur completions SHELL` and `crieur man`: the shell completion script and the roff man
//! page, generated from the same argument definitions the binary parses.

use clap_complete::Shell;

use crate::Outcome;

/// `crieur completions` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    shell: Shell,
}

/// Prints the completion script of `args.shell` for `cli`.
///
/// # Errors
/// Never in practice; the signature matches the other commands.
pub fn completions(mut cli: clap::Command, args: &Args) -> anyhow::Result<Outcome> {
    let name = cli.get_name().to_owned();
    clap_complete::generate(args.shell, &mut cli, name, &mut std::io::stdout());
    Ok(Outcome::Success)
}

/// Prints the man page of `cli` in roff: synopsis, options, and every command with what it does.
///
/// # Errors
/// When standard output cannot be written.
pub fn man(cli: clap::Command) -> anyhow::Result<Outcome> {
    clap_mangen::Man::new(cli.disable_help_subcommand(true))
        .render(&mut std::io::stdout().lock())?;
    Ok(Outcome::Success)
}
