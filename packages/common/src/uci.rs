//! Reader for OpenWrt's UCI files (`/etc/config/*`), following libuci's grammar.
//!
//! SKELETON: the API below is fixed; the bodies are being written.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::validate::Datatype;

/// One parsed UCI file ("package" in UCI terms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// Path the file was read from, used in every error message.
    pub path: PathBuf,
    /// Package name: the file name (`dhcp` for `/etc/config/dhcp`).
    pub name: String,
    pub sections: Vec<Section>,
}

/// `config TYPE ['NAME']` and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub kind: String,
    /// `None` for an anonymous section.
    pub name: Option<String>,
    /// Position among the sections of the same type, as in `@TYPE[N]`.
    pub index: usize,
    /// 1-based line of the `config` statement.
    pub line: usize,
    pub entries: Vec<Entry>,
}

/// `option NAME VALUE`, or all `list NAME VALUE` lines of one name folded together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub value: Value,
    /// 1-based line of the (first) statement.
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Option(String),
    List(Vec<String>),
}

/// A syntax error: the file and line, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

/// A value that does not validate, or a missing required option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: usize,
    /// `package.section.option`, with `@type[N]` for anonymous sections.
    pub option: String,
    /// `None` when the option is missing.
    pub value: Option<String>,
    /// What was expected, e.g. "port (0-65535)".
    pub expected: String,
}

/// Either kind of error, for callers that just report it.
#[derive(Debug)]
pub enum Error {
    Io(PathBuf, std::io::Error),
    Parse(ParseError),
    Config(ConfigError),
}

impl Package {
    pub fn load(path: &Path) -> Result<Package, Error> {
        todo!("{path:?}")
    }
    pub fn parse(path: &Path, text: &str) -> Result<Package, ParseError> {
        todo!("{path:?} {text}")
    }
    /// Sections of one type, in file order.
    pub fn sections<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = SectionRef<'a>> + 'a {
        self.sections.iter().filter(move |s| s.kind == kind).map(move |s| SectionRef { package: self, section: s })
    }
    /// The section with this name, whatever its type.
    pub fn named<'a>(&'a self, name: &str) -> Option<SectionRef<'a>> {
        self.sections.iter().find(|s| s.name.as_deref() == Some(name)).map(|s| SectionRef { package: self, section: s })
    }
}

/// A section together with its package, so that errors can name file, line and option.
#[derive(Debug, Clone, Copy)]
pub struct SectionRef<'a> {
    pub package: &'a Package,
    pub section: &'a Section,
}

impl<'a> SectionRef<'a> {
    /// `package.name` or `package.@type[N]`.
    pub fn label(&self) -> String {
        todo!()
    }
    pub fn entry(&self, option: &str) -> Option<&'a Entry> {
        self.section.entries.iter().find(|e| e.name == option)
    }
    /// The raw string of an `option` (a `list` gives its items joined by spaces).
    pub fn raw(&self, option: &str) -> Option<String> {
        todo!("{option}")
    }
    /// A typed value; `Ok(None)` when the option is absent.
    pub fn get<T: Datatype>(&self, option: &str) -> Result<Option<T>, ConfigError> {
        todo!("{option}")
    }
    pub fn get_or<T: Datatype>(&self, option: &str, default: T) -> Result<T, ConfigError> {
        Ok(self.get(option)?.unwrap_or(default))
    }
    /// A required typed value: missing is an error naming the option.
    pub fn require<T: Datatype>(&self, option: &str) -> Result<T, ConfigError> {
        todo!("{option}")
    }
    /// An unsigned integer within `min..=max` (OpenWrt's `range(min,max)`).
    pub fn get_range(&self, option: &str, min: u64, max: u64) -> Result<Option<u64>, ConfigError> {
        todo!("{option} {min} {max}")
    }
    /// `list(T)`: every `list` item, or the whitespace-separated words of an `option`.
    pub fn list<T: Datatype>(&self, option: &str) -> Result<Vec<T>, ConfigError> {
        todo!("{option}")
    }
    /// Entries whose names are not in `known`, for a warning about likely typos.
    pub fn unknown_options(&self, known: &[&str]) -> Vec<&'a Entry> {
        self.section.entries.iter().filter(|e| !known.contains(&e.name.as_str())).collect()
    }
    /// An error about `option` of this section with a custom expectation (for cross-field checks).
    pub fn error(&self, option: &str, expected: impl Into<String>) -> ConfigError {
        todo!("{option} {}", expected.into())
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
    }
}
impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let _ = f;
        todo!()
    }
}
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(p, e) => write!(f, "{}: {}", p.display(), e),
            Error::Parse(e) => e.fmt(f),
            Error::Config(e) => e.fmt(f),
        }
    }
}
impl std::error::Error for ParseError {}
impl std::error::Error for ConfigError {}
impl std::error::Error for Error {}
impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        Error::Parse(e)
    }
}
impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(e)
    }
}
