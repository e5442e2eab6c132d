//! Reader for OpenWrt's UCI files (`/etc/config/*`), following libuci's grammar.
//!
//! What libuci does, and so this reader too:
//! - Statements `package NAME`, `config TYPE [NAME]`, `option NAME VALUE`, `list NAME VALUE`
//!   (also abbreviated `p`, `c`, `o`, `l`); `;` separates statements on one line.
//! - A word is any mix of unquoted text, `'single quoted'` (taken literally) and `"double
//!   quoted"` pieces without space between them. A backslash takes the next character
//!   literally (no `\n` decoding) outside single quotes; a backslash at the end of a line
//!   joins the next line. Quotes may span lines, keeping the newline.
//! - `#` starts a comment where a word or statement could start, or inside an unquoted word.
//! - `package` is checked and ignored: a file's package name is its file name.
//! - `option` again replaces the earlier value and moves the option last; `option NAME ''`
//!   changes nothing; `list` after an `option` of the same name turns it into a list starting
//!   with the old value; `option` after a `list` replaces the list.
//! - A named section declared again with the same type continues the first one; with
//!   another type it is an error. Extra words on a line are an error.

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
        let bytes = std::fs::read(path).map_err(|e| Error::Io(path.to_path_buf(), e))?;
        // libuci does not care about encodings; a stray Latin-1 SSID must not make the file unreadable.
        Ok(Package::parse(path, &String::from_utf8_lossy(&bytes))?)
    }
    pub fn parse(path: &Path, text: &str) -> Result<Package, ParseError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut parser = Parser {
            lexer: Lexer::new(text.as_bytes()),
            sections: Vec::new(),
            current: None,
        };
        parser.run().map_err(|(line, message)| ParseError {
            path: path.to_path_buf(),
            line,
            message,
        })?;
        Ok(Package {
            path: path.to_path_buf(),
            name,
            sections: parser.sections,
        })
    }
    /// Sections of one type, in file order.
    pub fn sections<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = SectionRef<'a>> + 'a {
        self.sections
            .iter()
            .filter(move |s| s.kind == kind)
            .map(move |s| SectionRef {
                package: self,
                section: s,
            })
    }
    /// The section with this name, whatever its type.
    pub fn named<'a>(&'a self, name: &str) -> Option<SectionRef<'a>> {
        self.sections
            .iter()
            .find(|s| s.name.as_deref() == Some(name))
            .map(|s| SectionRef {
                package: self,
                section: s,
            })
    }
    /// A daemon's main section: the `kind` section named `main`, else the first `kind`
    /// section.
    pub fn main<'a>(&'a self, kind: &'a str) -> Option<SectionRef<'a>> {
        self.named("main")
            .filter(|s| s.section.kind == kind)
            .or_else(|| self.sections(kind).next())
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
        match &self.section.name {
            Some(name) => format!("{}.{}", self.package.name, name),
            None => format!(
                "{}.@{}[{}]",
                self.package.name, self.section.kind, self.section.index
            ),
        }
    }
    pub fn entry(&self, option: &str) -> Option<&'a Entry> {
        self.section.entries.iter().find(|e| e.name == option)
    }
    /// The raw string of an `option` (a `list` gives its items joined by spaces).
    pub fn raw(&self, option: &str) -> Option<String> {
        self.entry(option).map(|e| match &e.value {
            Value::Option(v) => v.clone(),
            Value::List(items) => items.join(" "),
        })
    }
    /// A typed value; `Ok(None)` when the option is absent.
    pub fn get<T: Datatype>(&self, option: &str) -> Result<Option<T>, ConfigError> {
        let Some(raw) = self.raw(option) else {
            return Ok(None);
        };
        match T::parse_value(&raw) {
            Some(v) => Ok(Some(v)),
            None => Err(self.invalid(option, raw, T::EXPECTED)),
        }
    }
    pub fn get_or<T: Datatype>(&self, option: &str, default: T) -> Result<T, ConfigError> {
        Ok(self.get(option)?.unwrap_or(default))
    }
    /// A required typed value: missing is an error naming the option.
    pub fn require<T: Datatype>(&self, option: &str) -> Result<T, ConfigError> {
        self.get(option)?
            .ok_or_else(|| self.config_error(option, None, T::EXPECTED.to_string()))
    }
    /// An unsigned integer within `min..=max` (OpenWrt's `range(min,max)`).
    pub fn get_range(&self, option: &str, min: u64, max: u64) -> Result<Option<u64>, ConfigError> {
        let Some(raw) = self.raw(option) else {
            return Ok(None);
        };
        match crate::validate::parse_uinteger(&raw) {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(self.invalid(option, raw, &format!("integer ({min}-{max})"))),
        }
    }
    /// `list(T)`: every `list` item, or the whitespace-separated words of an `option`.
    /// Like the validator's `list()`, each item is split at spaces and tabs too, and an
    /// empty item gives nothing. An absent option is an empty list.
    pub fn list<T: Datatype>(&self, option: &str) -> Result<Vec<T>, ConfigError> {
        let Some(entry) = self.entry(option) else {
            return Ok(Vec::new());
        };
        let items: &[String] = match &entry.value {
            Value::Option(v) => std::slice::from_ref(v),
            Value::List(items) => items,
        };
        let words = items
            .iter()
            .flat_map(|item| item.split([' ', '\t']))
            .filter(|w| !w.is_empty());
        words
            .map(|w| {
                T::parse_value(w).ok_or_else(|| self.invalid(option, w.to_string(), T::EXPECTED))
            })
            .collect()
    }
    /// Entries whose names are not in `known`, for a warning about likely typos.
    pub fn unknown_options(&self, known: &[&str]) -> Vec<&'a Entry> {
        self.section
            .entries
            .iter()
            .filter(|e| !known.contains(&e.name.as_str()))
            .collect()
    }
    /// An error about `option` of this section with a custom expectation (for cross-field checks).
    pub fn error(&self, option: &str, expected: impl Into<String>) -> ConfigError {
        self.config_error(option, self.raw(option), expected.into())
    }

    fn invalid(&self, option: &str, value: String, expected: &str) -> ConfigError {
        self.config_error(option, Some(value), expected.to_string())
    }
    /// Points at the option's line, or at the `config` line when the option is missing.
    fn config_error(&self, option: &str, value: Option<String>, expected: String) -> ConfigError {
        ConfigError {
            path: self.package.path.clone(),
            line: self.entry(option).map_or(self.section.line, |e| e.line),
            option: format!("{}.{}", self.label(), option),
            value,
            expected,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
    }
}
impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: ",
            self.path.display(),
            self.line,
            self.option
        )?;
        match &self.value {
            Some(v) if has_determiner(&self.expected) => {
                write!(f, "'{}' is not {}", OneLine(v), self.expected)
            }
            Some(v) => write!(f, "'{}' is not a valid {}", OneLine(v), self.expected),
            None => write!(f, "missing (required: {})", self.expected),
        }
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

/// `expected` is a noun phrase: a bare one ("port (0-65535)") reads "is not a valid port
/// (0-65535)"; one with its own determiner ("a device name without wildcard", "one of auto,
/// fw4, nft") reads "is not a device name without wildcard".
fn has_determiner(expected: &str) -> bool {
    let first = expected.split(' ').next().unwrap_or_default();
    matches!(
        first,
        "a" | "an" | "the" | "one" | "either" | "at" | "any" | "no"
    )
}

/// Shows control characters escaped, so that a multi-line value still gives a one-line message.
struct OneLine<'a>(&'a str);

impl fmt::Display for OneLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// A parse error before it is given its file: (line, message).
type Fail = (usize, String);

/// libuci reads a file line by line into a buffer and only appends the next line while a
/// word is unfinished (open quote, backslash at the end of the line). The lexer mirrors
/// that: `end` is the end of what has been read, and the byte there reads as 0 (the C
/// string's terminator), so a statement never runs into the next line by accident.
struct Lexer<'t> {
    text: &'t [u8],
    pos: usize,
    end: usize,
    /// Start of the first line not read yet.
    next_line: usize,
    /// Number of the last line read (1-based).
    line: usize,
    /// Line where the current statement started.
    statement_line: usize,
}

/// C's `isspace`.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

impl<'t> Lexer<'t> {
    fn new(text: &'t [u8]) -> Self {
        Lexer {
            text,
            pos: 0,
            end: 0,
            next_line: 0,
            line: 0,
            statement_line: 0,
        }
    }
    fn at(&self, i: usize) -> u8 {
        if i < self.end {
            self.text[i]
        } else {
            0
        }
    }
    fn cur(&self) -> u8 {
        self.at(self.pos)
    }
    /// Continues reading at the next line; false at the end of the file.
    fn read_line(&mut self) -> bool {
        if self.next_line >= self.text.len() {
            self.end = self.end.min(self.pos);
            return false;
        }
        let start = self.next_line;
        let end = self.text[start..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(self.text.len(), |i| start + i + 1);
        (self.pos, self.end, self.next_line) = (start, end, end);
        self.line += 1;
        true
    }
    fn skip_space(&mut self) {
        while is_space(self.cur()) {
            self.pos += 1;
        }
    }
    /// At a backslash: true when the next character is to be taken literally, false when the
    /// backslash ended the line and reading went on with the next one.
    fn backslash(&mut self) -> bool {
        self.pos += 1;
        let c = self.cur();
        let crlf_end = c == b'\r' && self.at(self.pos + 1) == b'\n' && self.at(self.pos + 2) == 0;
        if c == 0 || c == b'\n' || crlf_end {
            self.read_line();
            return false;
        }
        true
    }
    fn take(&mut self, out: &mut Vec<u8>) {
        out.push(self.cur());
        self.pos += 1;
    }
    fn single_quoted(&mut self, out: &mut Vec<u8>) -> Result<(), Fail> {
        let opened = self.line;
        self.pos += 1;
        loop {
            match self.cur() {
                b'\'' => break,
                0 if !self.read_line() => return Err(self.unterminated('\'', opened)),
                0 => {}
                _ => self.take(out),
            }
        }
        self.pos += 1;
        Ok(())
    }
    fn double_quoted(&mut self, out: &mut Vec<u8>) -> Result<(), Fail> {
        let opened = self.line;
        self.pos += 1;
        loop {
            match self.cur() {
                b'"' => break,
                0 if !self.read_line() => return Err(self.unterminated('"', opened)),
                0 => {}
                b'\\' => {
                    if self.backslash() {
                        self.take(out);
                    }
                }
                _ => self.take(out),
            }
        }
        self.pos += 1;
        Ok(())
    }
    /// One word: quoted and unquoted pieces up to a space, `;`, `#` or the end of the line.
    fn word(&mut self) -> Result<Vec<u8>, Fail> {
        let mut out = Vec::new();
        let mut skip_separator = true;
        loop {
            match self.cur() {
                b'\'' => self.single_quoted(&mut out)?,
                b'"' => self.double_quoted(&mut out)?,
                b'#' => {
                    self.end = self.pos; // the rest of the line is a comment
                    break;
                }
                0 => break,
                b';' => {
                    // Left in place: the next argument (or end-of-statement check) consumes it.
                    skip_separator = false;
                    break;
                }
                b'\\' => {
                    if self.backslash() {
                        self.take(&mut out);
                    }
                }
                _ => self.take(&mut out),
            }
            if self.cur() == 0 || is_space(self.cur()) {
                break;
            }
        }
        if skip_separator && self.cur() != 0 {
            self.pos += 1;
        }
        Ok(out)
    }
    /// The next argument of a statement; empty at the end of the statement.
    fn argument(&mut self) -> Result<String, Fail> {
        self.skip_space();
        if self.cur() == b';' {
            self.pos += 1;
            return Ok(String::new());
        }
        Ok(String::from_utf8_lossy(&self.word()?).into_owned())
    }
    fn required(&mut self, what: &str) -> Result<String, Fail> {
        let arg = self.argument()?;
        if arg.is_empty() {
            return Err((self.line, format!("missing {what}")));
        }
        Ok(arg)
    }
    /// The statement must be over (libuci's default strict mode rejects extra words).
    fn end_of_statement(&mut self) -> Result<(), Fail> {
        let extra = self.argument()?;
        if !extra.is_empty() {
            return Err((
                self.line,
                format!("too many arguments: unexpected '{}'", OneLine(&extra)),
            ));
        }
        Ok(())
    }
    /// A quote left open swallows the rest of the file, pairing up with later quotes, so the
    /// statement's first line is where to look; the last opened quote may be far below.
    fn unterminated(&self, quote: char, opened: usize) -> Fail {
        let mut message = format!("unterminated {quote} quote");
        if opened != self.statement_line {
            message += &format!(" (the statement runs to the end of the file; the last quote opens on line {opened})");
        }
        (self.statement_line, message)
    }
    /// The keyword starting the next statement of this line, split at spaces and tabs only
    /// (libuci uses `strtok(" \t")`); `None` when the line is done.
    fn keyword(&mut self) -> Option<&'t [u8]> {
        while matches!(self.cur(), b' ' | b'\t') {
            self.pos += 1;
        }
        let start = self.pos;
        while !matches!(self.cur(), 0 | b' ' | b'\t') {
            self.pos += 1;
        }
        let word = &self.text[start..self.pos];
        if self.cur() != 0 {
            self.pos += 1;
        }
        (!word.is_empty()).then_some(word)
    }
}

/// UCI's rules for names: section and option names are letters, digits and '_'; package
/// names may also have '-'; section types any printable ASCII but space.
fn valid_name(s: &str, dash_ok: bool) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || (dash_ok && b == b'-'))
}
fn valid_type(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_graphic())
}

struct Parser<'t> {
    lexer: Lexer<'t>,
    sections: Vec<Section>,
    /// The section `option` and `list` lines go to.
    current: Option<usize>,
}

impl Parser<'_> {
    fn run(&mut self) -> Result<(), Fail> {
        while self.lexer.read_line() {
            self.line()?;
        }
        Ok(())
    }
    fn line(&mut self) -> Result<(), Fail> {
        self.lexer.skip_space();
        loop {
            let line = self.lexer.line;
            self.lexer.statement_line = line;
            let Some(keyword) = self.lexer.keyword() else {
                return Ok(());
            };
            match keyword {
                [b'#', ..] => return Ok(()),
                b"p" | b"package" => self.package()?,
                b"c" | b"config" => self.config(line)?,
                b"o" | b"option" => self.option(line, false)?,
                b"l" | b"list" => self.option(line, true)?,
                _ => {
                    let word = String::from_utf8_lossy(keyword);
                    let message = match word.trim() {
                        "" => "empty statement after ';'".to_string(),
                        word => format!(
                            "invalid command '{word}' (expected package, config, option or list)"
                        ),
                    };
                    return Err((line, message));
                }
            }
        }
    }
    fn package(&mut self) -> Result<(), Fail> {
        let name = self.lexer.required("package name")?;
        if !valid_name(&name, true) {
            return Err((
                self.lexer.line,
                format!("invalid package name '{name}' (letters, digits, '_', '-')"),
            ));
        }
        self.lexer.end_of_statement()
    }
    fn config(&mut self, line: usize) -> Result<(), Fail> {
        let kind = self.lexer.required("section type after 'config'")?;
        if !valid_type(&kind) {
            return Err((
                self.lexer.line,
                format!("invalid section type '{}'", OneLine(&kind)),
            ));
        }
        let name = self.lexer.argument()?;
        if !name.is_empty() && !valid_name(&name, false) {
            return Err((
                self.lexer.line,
                format!(
                    "invalid section name '{}' (letters, digits, '_')",
                    OneLine(&name)
                ),
            ));
        }
        self.lexer.end_of_statement()?;
        if !name.is_empty() {
            if let Some(i) = self
                .sections
                .iter()
                .position(|s| s.name.as_deref() == Some(name.as_str()))
            {
                let earlier = &self.sections[i];
                if earlier.kind != kind {
                    let message = format!(
                        "section '{name}' of type '{kind}' would replace the '{}' section of that name from line {}",
                        earlier.kind, earlier.line
                    );
                    return Err((line, message));
                }
                self.current = Some(i);
                return Ok(());
            }
        }
        let index = self.sections.iter().filter(|s| s.kind == kind).count();
        let name = (!name.is_empty()).then_some(name);
        self.sections.push(Section {
            kind,
            name,
            index,
            line,
            entries: Vec::new(),
        });
        self.current = Some(self.sections.len() - 1);
        Ok(())
    }
    fn option(&mut self, line: usize, list: bool) -> Result<(), Fail> {
        let Some(current) = self.current else {
            return Err((
                line,
                "option/list before the first 'config' section".to_string(),
            ));
        };
        let name = self.lexer.required("option name")?;
        if !valid_name(&name, false) {
            return Err((
                self.lexer.line,
                format!(
                    "invalid option name '{}' (letters, digits, '_')",
                    OneLine(&name)
                ),
            ));
        }
        let value = self.lexer.argument()?;
        self.lexer.end_of_statement()?;
        let entries = &mut self.sections[current].entries;
        let existing = entries.iter().position(|e| e.name == name);
        if list {
            match existing {
                Some(i) => match &mut entries[i].value {
                    Value::List(items) => items.push(value),
                    Value::Option(first) => {
                        // libuci makes a new list, placed last, starting with the option's value.
                        let first = std::mem::take(first);
                        let old = entries.remove(i);
                        entries.push(Entry {
                            name,
                            value: Value::List(vec![first, value]),
                            line: old.line,
                        });
                    }
                },
                None => entries.push(Entry {
                    name,
                    value: Value::List(vec![value]),
                    line,
                }),
            }
        } else if !value.is_empty() {
            if let Some(i) = existing {
                if matches!(&entries[i].value, Value::Option(v) if *v == value) {
                    return Ok(()); // unchanged: keeps its place and line
                }
                entries.remove(i);
            }
            entries.push(Entry {
                name,
                value: Value::Option(value),
                line,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Package {
        Package::parse(Path::new("/etc/config/test"), text).unwrap_or_else(|e| panic!("{e}"))
    }
    fn parse_err(text: &str) -> (usize, String) {
        let e = Package::parse(Path::new("/etc/config/test"), text).expect_err("should not parse");
        assert_eq!(e.path, Path::new("/etc/config/test"));
        (e.line, e.message)
    }
    /// The single section's entries as (name, value) pairs.
    fn entries(text: &str) -> Vec<(String, Value)> {
        let p = parse(text);
        assert_eq!(p.sections.len(), 1, "{:?}", p.sections);
        p.sections[0]
            .entries
            .iter()
            .map(|e| (e.name.clone(), e.value.clone()))
            .collect()
    }
    fn opt(name: &str, v: &str) -> (String, Value) {
        (name.to_string(), Value::Option(v.to_string()))
    }
    fn list(name: &str, v: &[&str]) -> (String, Value) {
        (
            name.to_string(),
            Value::List(v.iter().map(|s| s.to_string()).collect()),
        )
    }
    fn value_of(text: &str) -> String {
        match &entries(&format!("config t\n{text}\n"))[..] {
            [(_, Value::Option(v))] => v.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn quoting_styles() {
        assert_eq!(value_of("option a plain"), "plain");
        assert_eq!(value_of("option a 'single quoted'"), "single quoted");
        assert_eq!(value_of("option a \"double quoted\""), "double quoted");
        assert_eq!(
            value_of(r"option a 'no \escapes here'"),
            r"no \escapes here"
        );
        assert_eq!(
            value_of(r#"option a "say \"hi\" \\ \n""#),
            r#"say "hi" \ n"#
        );
        assert_eq!(value_of(r"option a back\ slash\'"), "back slash'");
        assert_eq!(
            value_of(r#"option a pre'mid dle'"post"fix"#),
            "premid dlepostfix"
        );
        assert_eq!(value_of(r#"option a "it's""#), "it's");
        assert_eq!(value_of(r"option a 'it'\''s'"), "it's"); // how `uci export` writes a quote
        assert_eq!(value_of("option\ta\t\t'tabs'\t"), "tabs");
        assert_eq!(value_of("option a 'ünïcode ✓'"), "ünïcode ✓");
    }

    #[test]
    fn comments() {
        assert_eq!(value_of("option a value # comment"), "value");
        assert_eq!(value_of("option a value#comment"), "value");
        assert_eq!(value_of("option a 'a#b' # c"), "a#b");
        assert_eq!(value_of("option a \"a#b\""), "a#b");
        assert_eq!(value_of(r"option a a\#b"), "a#b");
        let p = parse("# header\n\n  # indented\nconfig t # the section\n\t# option a b\n");
        assert_eq!(p.sections.len(), 1);
        assert!(p.sections[0].entries.is_empty());
        // `#` where a value would start: no value, so the option is not set.
        assert!(entries("config t\noption a #x\n").is_empty());
    }

    #[test]
    fn backslash_newline_joins_lines() {
        assert_eq!(value_of("option a one\\\ntwo"), "onetwo");
        assert_eq!(value_of("option a 'x'\\\n'y'"), "xy");
        assert_eq!(value_of("option a \"one \\\ntwo\""), "one two");
        assert_eq!(value_of("option a one\\\r\ntwo"), "onetwo");
        // The continuation line starting with a space ends the word there (libuci checks for
        // space right after joining), and the rest of that line is the next argument.
        assert_eq!(
            parse_err("config t\noption a one\\\n two\n"),
            (3, "too many arguments: unexpected 'two'".into())
        );
        // Line numbers keep counting the joined lines.
        let p = parse("config t\noption a x\\\ny\noption b z\n");
        assert_eq!(p.sections[0].entries[1].line, 4);
        // A backslash at the very end of the file is dropped.
        assert_eq!(value_of("option a end\\"), "end");
    }

    #[test]
    fn quotes_span_lines() {
        assert_eq!(value_of("option a 'line1\nline2'"), "line1\nline2");
        assert_eq!(value_of("option a \"x\r\ny\""), "x\r\ny");
        let p = parse("config t\noption a 'x\ny'\noption b c\n");
        assert_eq!(
            (p.sections[0].entries[0].line, p.sections[0].entries[1].line),
            (2, 4)
        );
    }

    #[test]
    fn semicolons_separate_statements() {
        let p = parse("config t 'n'; option a b; list l x;list l y\n");
        assert_eq!(
            p.sections[0].entries,
            vec![
                Entry {
                    name: "a".into(),
                    value: Value::Option("b".into()),
                    line: 1
                },
                Entry {
                    name: "l".into(),
                    value: Value::List(vec!["x".into(), "y".into()]),
                    line: 1
                },
            ]
        );
        assert_eq!(value_of("option a 'x;y'"), "x;y");
        // `;` right after `config TYPE` fills the name slot, so the next word is one too many.
        assert_eq!(parse_err("config t; option a b\n").0, 1);
        // libuci rejects a `;` that ends a line.
        assert_eq!(
            parse_err("config t 'n'\noption a b;\n"),
            (2, "empty statement after ';'".into())
        );
    }

    #[test]
    fn abbreviated_keywords() {
        let p = parse("p test\nc t 'n'\no a b\nl c d\n");
        assert_eq!(p.sections[0].entries.len(), 2);
    }

    #[test]
    fn main_section() {
        // The one named 'main' wins over an earlier one; a 'main' of another type is not it.
        let p = parse("config d 'first'\nconfig d 'main'\n");
        assert_eq!(p.main("d").unwrap().section.name.as_deref(), Some("main"));
        let p = parse("config other 'main'\nconfig d\nconfig d 'b'\n");
        assert_eq!(p.main("d").unwrap().section.index, 0);
        assert!(p.main("none").is_none());
    }

    #[test]
    fn crlf_files() {
        let p =
            parse("config interface 'lan'\r\n\toption proto 'static'\r\n\tlist dns 1.1.1.1\r\n");
        let s = p.named("lan").unwrap();
        assert_eq!(s.raw("proto").as_deref(), Some("static"));
        assert_eq!(s.raw("dns").as_deref(), Some("1.1.1.1"));
    }

    #[test]
    fn duplicate_option_last_wins_and_moves_last() {
        let got = entries("config t\noption a 1\noption b 2\noption a 3\n");
        assert_eq!(got, vec![opt("b", "2"), opt("a", "3")]);
        // Same value again: nothing changes, not even the order.
        assert_eq!(
            entries("config t\noption a 1\noption b 2\noption a 1\n"),
            vec![opt("a", "1"), opt("b", "2")]
        );
        let p = parse("config t\noption a 1\noption a 3\n");
        assert_eq!(
            p.sections[0].entries[0].line, 3,
            "the line of the value in use"
        );
    }

    #[test]
    fn empty_option_value_is_ignored() {
        assert_eq!(
            entries("config t\noption a 1\noption a ''\noption b\n"),
            vec![opt("a", "1")]
        );
    }

    #[test]
    fn lists_keep_order_and_empty_items() {
        assert_eq!(
            entries("config t\nlist a x\nlist b 1\nlist a y\nlist a ''\nlist a x\n"),
            vec![list("a", &["x", "y", "", "x"]), list("b", &["1"]),]
        );
    }

    #[test]
    fn option_then_list_becomes_list() {
        assert_eq!(
            entries("config t\noption a x\noption b 1\nlist a y\n"),
            vec![opt("b", "1"), list("a", &["x", "y"])]
        );
        let p = parse("config t\noption a x\nlist a y\n");
        assert_eq!(p.sections[0].entries[0].line, 2);
    }

    #[test]
    fn list_then_option_replaces_list() {
        assert_eq!(
            entries("config t\nlist a x\nlist a y\noption a z\n"),
            vec![opt("a", "z")]
        );
    }

    #[test]
    fn sections_index_and_names() {
        let p = parse("config host\nconfig host 'named'\nconfig dnsmasq\nconfig host\n");
        let labels: Vec<_> = p.sections("host").map(|s| s.label()).collect();
        assert_eq!(labels, ["test.@host[0]", "test.named", "test.@host[2]"]);
        assert_eq!(
            p.sections("dnsmasq").next().unwrap().label(),
            "test.@dnsmasq[0]"
        );
        assert_eq!(
            p.sections.iter().map(|s| s.line).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert_eq!(p.name, "test");
        // An empty quoted name is anonymous.
        assert_eq!(parse("config t ''\n").sections[0].name, None);
    }

    #[test]
    fn named_section_again_continues_it() {
        let p = parse("config t 'a'\noption x 1\nconfig t 'b'\nconfig t 'a'\noption y 2\n");
        assert_eq!(p.sections.len(), 2);
        let a = p.named("a").unwrap();
        assert_eq!(
            (a.raw("x").as_deref(), a.raw("y").as_deref()),
            (Some("1"), Some("2"))
        );
        let (line, msg) = parse_err("config t 'a'\nconfig u 'a'\n");
        assert_eq!(line, 2);
        assert!(msg.contains("line 1"), "{msg}");
    }

    #[test]
    fn package_statement_is_checked_and_ignored() {
        let p = parse("package other\nconfig t\n");
        assert_eq!(p.name, "test");
        assert_eq!(parse_err("package\n").0, 1);
        assert_eq!(
            parse_err("package 'a b'\n"),
            (
                1,
                "invalid package name 'a b' (letters, digits, '_', '-')".into()
            )
        );
        parse("package my-pkg\n");
    }

    #[test]
    fn errors_with_lines() {
        assert_eq!(
            parse_err("\n# c\noption a b\n"),
            (3, "option/list before the first 'config' section".into())
        );
        assert_eq!(parse_err("config t\n\tlist a b\nsection x\n").0, 3);
        assert!(parse_err("config t\nsection x\n")
            .1
            .starts_with("invalid command 'section'"));
        assert_eq!(
            parse_err("config t\noption a 'open\n\n\n"),
            (2, "unterminated ' quote".into())
        );
        assert_eq!(parse_err("config t\noption a 'x\noption b 'y'\n"),
            (2, "unterminated ' quote (the statement runs to the end of the file; the last quote opens on line 3)".into()));
        assert_eq!(parse_err("config t\noption a \"x\\\"\n").0, 2);
        assert_eq!(
            parse_err("config t\noption a b c\n"),
            (2, "too many arguments: unexpected 'c'".into())
        );
        assert_eq!(parse_err("config\n").0, 1);
        assert_eq!(parse_err("config t\noption\n").0, 2);
        assert_eq!(
            parse_err("config t\noption a-b c\n"),
            (2, "invalid option name 'a-b' (letters, digits, '_')".into())
        );
        assert_eq!(parse_err("config t 'a-b'\n").0, 1);
        assert_eq!(
            parse_err("config ''\n"),
            (1, "missing section type after 'config'".into())
        );
        assert!(parse_err("config 'a b'\n")
            .1
            .starts_with("invalid section type"));
        assert_eq!(parse_err("config t\n\n\toptions a b\n").0, 3);
    }

    #[test]
    fn empty_and_blank_files() {
        assert!(parse("").sections.is_empty());
        assert!(parse("\n\n   \n\t\n# only comments\n").sections.is_empty());
        assert_eq!(parse("config t").sections.len(), 1, "no newline at the end");
    }

    #[test]
    fn typed_access_and_errors() {
        let text = "config dns64 'main'\n\toption port '70000'\n\toption enabled 'yes'\n\tlist server '::1 ::2'\n\tlist server '::3'\n\toption words 'a  b\tc'\nconfig x\n";
        let p = Package::parse(Path::new("/etc/config/dns64"), text).unwrap();
        let s = p.named("main").unwrap();
        let e = s.get::<crate::validate::Port>("port").unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/config/dns64:2: dns64.main.port: '70000' is not a valid port (0-65535)"
        );
        assert_eq!(s.get::<bool>("enabled"), Ok(Some(true)));
        assert_eq!(s.get::<bool>("absent"), Ok(None));
        assert_eq!(s.get_or("absent", 5u32), Ok(5));
        let e = s.require::<std::net::Ipv6Addr>("prefix").unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/config/dns64:1: dns64.main.prefix: missing (required: IPv6 address)"
        );
        assert_eq!(e.value, None);
        let servers: Vec<std::net::Ipv6Addr> = s.list("server").unwrap();
        assert_eq!(
            servers,
            [
                "::1".parse::<std::net::Ipv6Addr>().unwrap(),
                "::2".parse().unwrap(),
                "::3".parse().unwrap()
            ]
        );
        assert_eq!(s.list::<String>("words").unwrap(), ["a", "b", "c"]);
        assert_eq!(s.list::<String>("absent").unwrap(), Vec::<String>::new());
        assert_eq!(s.raw("server").as_deref(), Some("::1 ::2 ::3"));
        let e = s.list::<u32>("words").unwrap_err();
        assert_eq!((e.line, e.value.as_deref()), (6, Some("a")));
        assert_eq!(
            s.get_range("port", 1, 65535).unwrap_err().to_string(),
            "/etc/config/dns64:2: dns64.main.port: '70000' is not a valid integer (1-65535)"
        );
        assert_eq!(s.get_range("port", 1, 70000), Ok(Some(70000)));
        assert_eq!(s.get_range("absent", 1, 2), Ok(None));
        let anon = p.sections("x").next().unwrap();
        let e = anon.error("prefix", "prefix of /96 or shorter");
        assert_eq!(
            e.to_string(),
            "/etc/config/dns64:7: dns64.@x[0].prefix: missing (required: prefix of /96 or shorter)"
        );
        let e = s.error("enabled", "setting when port is 0");
        assert_eq!(
            e.to_string(),
            "/etc/config/dns64:3: dns64.main.enabled: 'yes' is not a valid setting when port is 0"
        );
        let e = s.error("port", "a port below 1024");
        assert_eq!(
            e.to_string(),
            "/etc/config/dns64:2: dns64.main.port: '70000' is not a port below 1024"
        );
        let e = s.error("port", "one of 53, 5353");
        assert!(
            e.to_string().ends_with("'70000' is not one of 53, 5353"),
            "{e}"
        );
        let unknown: Vec<_> = s
            .unknown_options(&["port", "enabled"])
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(unknown, ["server", "words"]);
    }

    #[test]
    fn multi_line_value_in_error_stays_one_line() {
        let p = parse("config t 'n'\noption port '1\n2'\n");
        let e = p
            .named("n")
            .unwrap()
            .get::<crate::validate::Port>("port")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            r"/etc/config/test:2: test.n.port: '1\n2' is not a valid port (0-65535)"
        );
    }
}
