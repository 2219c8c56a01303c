//! `crieur schema [config | posts]`: the JSON Schema of `crieur.toml` or of a post file, for
//! editors (Taplo, Even Better TOML). The schemas come from `crieur-config`, built from the
//! definitions its parser walks.

use crate::Outcome;

/// Which file the schema describes.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Which {
    /// `crieur.toml`.
    Config,
    /// A post file (`posts/*.toml`); `$defs/article` is a Markdown article's front matter.
    Posts,
}

/// `crieur schema` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file kind.
    #[arg(value_enum, default_value = "config")]
    which: Which,
}

/// Prints the schema (draft 2020-12) on standard output.
///
/// # Errors
/// Never in practice; the signature is the commands' own.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let kind = match args.which {
        Which::Config => crieur_config::SchemaKind::Config,
        Which::Posts => crieur_config::SchemaKind::Posts,
    };
    print!("{}", kind.render());
    Ok(Outcome::Success)
}
