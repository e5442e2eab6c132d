//! The command line every v6only program shares: `--version`, `--help`, `-c/--config PATH`,
//! `-v/--verbose`; everything else (a subcommand and its arguments) is passed on.
//!
//! Options may come before or after the subcommand (so `fw-helper reload -v` works); after
//! `--` every word is passed on as it is. A lone `-` is a word, not an option.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
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

/// A program's own option beyond the shared ones, for [`parse_with`]: a switch (`--json`)
/// or, with `value` naming its argument, an option taking the next word (`-i IFACE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    pub name: &'static str,
    pub value: Option<&'static str>,
}

/// The program's own options found, in command-line order, with their arguments.
pub type Flags = Vec<(&'static str, Option<String>)>;

/// Parses `args` (without `argv[0]`). An error is a message for stderr (exit status 2).
pub fn parse(
    program: &Program,
    args: impl IntoIterator<Item = OsString>,
) -> Result<Parsed, String> {
    parse_with(program, args, &[]).map(|(parsed, _)| parsed)
}

/// [`parse`], also accepting the program's own `flags` anywhere before `--` (mesh-monitor's
/// `-i IFACE` and `--json` for its dump commands); which command takes which is the
/// program's to check.
pub fn parse_with(
    program: &Program,
    args: impl IntoIterator<Item = OsString>,
    flags: &[Flag],
) -> Result<(Parsed, Flags), String> {
    let mut found = Flags::new();
    let mut parsed = Args {
        config: PathBuf::from(program.default_config),
        verbose: false,
        rest: Vec::new(),
    };
    let mut args = args.into_iter();
    let mut options_done = false;
    while let Some(arg) = args.next() {
        if !options_done {
            if let Some(path) = attached_config(&arg) {
                parsed.config = PathBuf::from(path);
                continue;
            }
        }
        // Paths need not be UTF-8 (checked before this); everything else here is ours to name.
        let Some(word) = arg.to_str() else {
            return Err(format!(
                "argument is not valid UTF-8: {}",
                arg.to_string_lossy()
            ));
        };
        if options_done || word == "-" || !word.starts_with('-') {
            parsed.rest.push(word.to_string());
            continue;
        }
        match word {
            "--" => options_done = true,
            "--help" | "-h" => return Ok((Parsed::Print(usage(program)), found)),
            "--version" => {
                return Ok((
                    Parsed::Print(format!("{} {}\n", program.name, program.version)),
                    found,
                ))
            }
            "-v" | "--verbose" => parsed.verbose = true,
            "-c" | "--config" => {
                let path = args
                    .next()
                    .ok_or_else(|| format!("option '{word}' needs a PATH argument"))?;
                parsed.config = PathBuf::from(path);
            }
            "--config=" => return Err(format!("option '{word}' needs a PATH argument")),
            _ => {
                let Some(flag) = flags.iter().find(|f| f.name == word) else {
                    return Err(format!("unknown option '{word}'"));
                };
                let value = match flag.value {
                    None => None,
                    Some(what) => {
                        let v = args
                            .next()
                            .ok_or_else(|| format!("option '{word}' needs an argument ({what})"))?;
                        let v = v.into_string().map_err(|v| {
                            format!("argument is not valid UTF-8: {}", v.to_string_lossy())
                        })?;
                        Some(v)
                    }
                };
                found.push((flag.name, value));
            }
        }
    }
    Ok((Parsed::Run(parsed), found))
}

/// The path of `-cPATH` or `--config=PATH`, as bytes: a path need not be UTF-8.
fn attached_config(arg: &OsStr) -> Option<&OsStr> {
    let bytes = arg.as_bytes();
    let path = bytes
        .strip_prefix(b"--config=")
        .or_else(|| bytes.strip_prefix(b"-c"))?;
    (!path.is_empty()).then(|| OsStr::from_bytes(path))
}

fn usage(program: &Program) -> String {
    let mut text = format!(
        "Usage: {name} [OPTIONS] COMMAND [ARGS...]\n{about}\n\n\
         Options:\n  \
         -c, --config PATH  UCI config file (default: {config})\n  \
         -v, --verbose      log debug messages to stderr instead of syslog\n  \
         -h, --help         show this help\n      \
         --version      show the version\n",
        name = program.name,
        about = program.about,
        config = program.default_config,
    );
    if !program.commands.is_empty() {
        text += "\nCommands:\n";
        for line in program.commands.trim_end().lines() {
            text += &format!("  {}\n", line.trim_start());
        }
    }
    text
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

#[cfg(test)]
mod tests {
    use super::*;

    const PROGRAM: Program = Program {
        name: "fw-helper",
        version: "0.1.0",
        default_config: "/etc/config/fw-helper",
        about: "Renders and applies the nftables rules the v6only daemons need.",
        commands: "reload          apply the rules for the current config\n  status          show what is applied\n",
    };

    fn run(args: &[&str]) -> Result<Parsed, String> {
        parse(&PROGRAM, args.iter().map(OsString::from))
    }
    fn args(args: &[&str]) -> Args {
        match run(args) {
            Ok(Parsed::Run(a)) => a,
            other => panic!("{args:?}: {other:?}"),
        }
    }
    fn rest(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults() {
        let a = args(&[]);
        assert_eq!(
            a,
            Args {
                config: "/etc/config/fw-helper".into(),
                verbose: false,
                rest: vec![]
            }
        );
    }

    #[test]
    fn version() {
        assert_eq!(
            run(&["--version"]),
            Ok(Parsed::Print("fw-helper 0.1.0\n".into()))
        );
        assert_eq!(
            run(&["reload", "--version"]),
            Ok(Parsed::Print("fw-helper 0.1.0\n".into()))
        );
    }

    #[test]
    fn help() {
        let Ok(Parsed::Print(text)) = run(&["--help"]) else {
            panic!()
        };
        assert!(
            text.starts_with("Usage: fw-helper [OPTIONS] COMMAND [ARGS...]\nRenders and applies"),
            "{text}"
        );
        for needle in [
            "-c, --config PATH",
            "/etc/config/fw-helper",
            "-v, --verbose",
            "--version",
            "--help",
            "\nCommands:\n  reload          apply the rules",
            "\n  status          show what is applied\n",
        ] {
            assert!(text.contains(needle), "{needle:?} missing in:\n{text}");
        }
        assert!(text.ends_with('\n'));
        assert_eq!(run(&["-h"]), run(&["--help"]));
    }

    #[test]
    fn config_forms() {
        for form in [
            &["-c", "/tmp/x"][..],
            &["-c/tmp/x"],
            &["--config", "/tmp/x"],
            &["--config=/tmp/x"],
        ] {
            assert_eq!(args(form).config, PathBuf::from("/tmp/x"), "{form:?}");
        }
        assert_eq!(
            args(&["-c", "a", "-c", "b"]).config,
            PathBuf::from("b"),
            "the last one wins"
        );
        assert_eq!(
            args(&["-c", "-v"]).config,
            PathBuf::from("-v"),
            "the next word is the path, whatever it is"
        );
    }

    #[test]
    fn verbose_and_rest_in_order() {
        let a = args(&["-v", "reload", "--config", "/tmp/c", "now", "-"]);
        assert!(a.verbose);
        assert_eq!(a.config, PathBuf::from("/tmp/c"));
        assert_eq!(a.rest, rest(&["reload", "now", "-"]));
        assert!(args(&["status", "--verbose"]).verbose);
    }

    #[test]
    fn double_dash_ends_options() {
        let a = args(&["-v", "--", "add", "-c", "--help", "--"]);
        assert_eq!(
            (a.verbose, a.rest),
            (true, rest(&["add", "-c", "--help", "--"]))
        );
        assert_eq!(a.config, PathBuf::from("/etc/config/fw-helper"));
    }

    #[test]
    fn errors() {
        assert_eq!(run(&["-x"]), Err("unknown option '-x'".into()));
        assert_eq!(
            run(&["reload", "--force"]),
            Err("unknown option '--force'".into())
        );
        assert_eq!(
            run(&["--verbose=1"]),
            Err("unknown option '--verbose=1'".into())
        );
        assert_eq!(run(&["-vc"]), Err("unknown option '-vc'".into()));
        assert_eq!(
            run(&["-c"]),
            Err("option '-c' needs a PATH argument".into())
        );
        assert_eq!(
            run(&["--config"]),
            Err("option '--config' needs a PATH argument".into())
        );
        assert_eq!(
            run(&["--config="]),
            Err("option '--config=' needs a PATH argument".into())
        );
    }

    #[test]
    fn non_utf8_path_is_kept() {
        use std::os::unix::ffi::OsStringExt;
        let raw = || OsString::from_vec(b"/tmp/\xff".to_vec());
        let expected = Parsed::Run(Args {
            config: raw().into(),
            verbose: false,
            rest: vec![],
        });
        assert_eq!(
            parse(&PROGRAM, [OsString::from("-c"), raw()]),
            Ok(expected.clone())
        );
        let attached =
            |prefix: &str| OsString::from_vec([prefix.as_bytes(), b"/tmp/\xff"].concat());
        assert_eq!(parse(&PROGRAM, [attached("-c")]), Ok(expected.clone()));
        assert_eq!(parse(&PROGRAM, [attached("--config=")]), Ok(expected));
        // A subcommand word must be text.
        assert!(parse(&PROGRAM, [raw()]).is_err());
    }

    #[test]
    fn a_programs_own_flags() {
        const FLAGS: &[Flag] = &[
            Flag {
                name: "--json",
                value: None,
            },
            Flag {
                name: "-i",
                value: Some("IFACE"),
            },
        ];
        let with = |words: &[&str]| parse_with(&PROGRAM, words.iter().map(OsString::from), FLAGS);
        let Ok((Parsed::Run(a), flags)) = with(&["stations", "-i", "mesh0", "-v", "--json"]) else {
            panic!()
        };
        assert_eq!((a.rest, a.verbose), (rest(&["stations"]), true));
        assert_eq!(
            flags,
            [("-i", Some("mesh0".to_string())), ("--json", None)],
            "in order, with the argument"
        );
        assert_eq!(
            with(&["stations", "-i"]),
            Err("option '-i' needs an argument (IFACE)".into())
        );
        assert_eq!(with(&["--dot"]), Err("unknown option '--dot'".into()));
        // After --, a flag is a word like any other.
        let Ok((Parsed::Run(a), flags)) = with(&["--", "--json"]) else {
            panic!()
        };
        assert_eq!((a.rest, flags), (rest(&["--json"]), vec![]));
        // parse knows none of them.
        assert_eq!(run(&["--json"]), Err("unknown option '--json'".into()));
    }
}
