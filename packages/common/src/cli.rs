//! The command line every v6only program shares: `--version`, `--help`, `-c/--config PATH`,
//! `-v/--verbose`; everything else (a subcommand and its arguments) is passed on.
//!
//! SKELETON: the API below is fixed; the bodies are being written.

use std::ffi::OsString;
use std::path::PathBuf;

/// What a program tells the shared parser about itself.
pub struct Program {
    /// Binary name, also the syslog ident: "fw-helper".
    pub name: &'static str,
    /// `env!("CARGO_PKG_VERSION")`.
    pub version: &'static str,
    /// The package's UCI file: "/etc/config/fw-helper".
    pub default_config: &'static str,
    /// One line on what the program does, for `--help`.
    pub about: &'static str,
    /// Program-specific usage lines (subcommands), for `--help`.
    pub commands: &'static str,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub config: PathBuf,
    pub verbose: bool,
    /// Remaining words in order (subcommand and its arguments).
    pub rest: Vec<String>,
}

/// What to do after parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Run(Args),
    /// `--version` or `--help`: print this on stdout and exit 0.
    Print(String),
}

/// Parses `args` (without argv[0]). An error is a message for stderr (exit status 2).
pub fn parse(program: &Program, args: impl IntoIterator<Item = OsString>) -> Result<Parsed, String> {
    todo!("{} {}", program.name, args.into_iter().count())
}

/// `parse` on the process's arguments, printing and exiting for `--version`, `--help` and errors.
pub fn parse_or_exit(program: &Program) -> Args {
    match parse(program, std::env::args_os().skip(1)) {
        Ok(Parsed::Run(args)) => args,
        Ok(Parsed::Print(text)) => {
            print!("{text}");
            std::process::exit(0)
        }
        Err(msg) => {
            eprintln!("{}: {msg}\nTry '{} --help'.", program.name, program.name);
            std::process::exit(2)
        }
    }
}
