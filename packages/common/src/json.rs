//! A small JSON writer for `status` replies (no serde in the daemons for a few counters), and
//! a small reader ([`Value::parse`]) for what other programs print (netifd's status through
//! `ubus call`), so that a key is found where it is, not wherever its name occurs in the text.
//!
//! Call order is the caller's job: `field_*`/`begin_*` inside objects, `item_*` inside
//! arrays (checked by debug assertions). Strings are escaped; names are too.
//!
//! ```
//! use v6only_common::json::Json;
//! let mut j = Json::object();
//! j.field_u64("queries", 3).field_str("prefix", "64:ff9b::/96");
//! j.begin_object("cache").field_u64("entries", 1).end();
//! j.begin_array("pools").item_object().field_str("name", "lan").end().end();
//! assert_eq!(j.finish(), r#"{"queries":3,"prefix":"64:ff9b::/96","cache":{"entries":1},"pools":[{"name":"lan"}]}"#);
//! ```

/// Builds one JSON document; fields and items are written in call order.
pub struct Json {
    out: String,
    /// Per open container: whether it is an array, and whether it already has a member (for
    /// the commas).
    stack: Vec<Open>,
}

struct Open {
    array: bool,
    has_member: bool,
}

impl Json {
    /// Starts a document whose top level is an object.
    pub fn object() -> Json {
        let mut out = String::with_capacity(256);
        out.push('{');
        Json {
            out,
            stack: vec![Open {
                array: false,
                has_member: false,
            }],
        }
    }
    pub fn field_u64(&mut self, name: &str, value: u64) -> &mut Json {
        self.name(name);
        self.number(value);
        self
    }
    pub fn field_i64(&mut self, name: &str, value: i64) -> &mut Json {
        self.name(name);
        self.number(value);
        self
    }
    pub fn field_bool(&mut self, name: &str, value: bool) -> &mut Json {
        self.name(name);
        self.out.push_str(if value { "true" } else { "false" });
        self
    }
    /// A string, escaped as JSON requires (quotes, backslash, control characters).
    pub fn field_str(&mut self, name: &str, value: &str) -> &mut Json {
        self.name(name);
        self.string(value);
        self
    }
    /// `"name":null`, e.g. for a value not known yet.
    pub fn field_null(&mut self, name: &str) -> &mut Json {
        self.name(name);
        self.out.push_str("null");
        self
    }
    pub fn begin_object(&mut self, name: &str) -> &mut Json {
        self.name(name);
        self.open(false);
        self
    }
    pub fn begin_array(&mut self, name: &str) -> &mut Json {
        self.name(name);
        self.open(true);
        self
    }
    /// In an array: starts an object item.
    pub fn item_object(&mut self) -> &mut Json {
        self.item();
        self.open(false);
        self
    }
    /// In an array: starts an array item.
    pub fn item_array(&mut self) -> &mut Json {
        self.item();
        self.open(true);
        self
    }
    /// In an array: a string item.
    pub fn item_str(&mut self, value: &str) -> &mut Json {
        self.item();
        self.string(value);
        self
    }
    /// In an array: a number item.
    pub fn item_u64(&mut self, value: u64) -> &mut Json {
        self.item();
        self.number(value);
        self
    }
    /// In an array: a signed number item.
    pub fn item_i64(&mut self, value: i64) -> &mut Json {
        self.item();
        self.number(value);
        self
    }
    /// In an array: `true` or `false`.
    pub fn item_bool(&mut self, value: bool) -> &mut Json {
        self.item();
        self.out.push_str(if value { "true" } else { "false" });
        self
    }
    /// Closes the innermost open object or array.
    pub fn end(&mut self) -> &mut Json {
        debug_assert!(!self.stack.is_empty(), "Json::end with nothing open");
        if let Some(open) = self.stack.pop() {
            self.out.push(if open.array { ']' } else { '}' });
        }
        self
    }
    /// Closes what is still open and returns the text. The writer is empty afterwards.
    pub fn finish(&mut self) -> String {
        while !self.stack.is_empty() {
            self.end();
        }
        std::mem::take(&mut self.out)
    }

    /// The comma before a member, if the container already has one.
    fn separate(&mut self, array: bool) {
        debug_assert!(
            self.stack.last().is_some_and(|open| open.array == array),
            "Json: {} outside {}",
            if array { "item" } else { "field" },
            if array { "an array" } else { "an object" }
        );
        if let Some(open) = self.stack.last_mut() {
            if open.has_member {
                self.out.push(',');
            }
            open.has_member = true;
        }
    }
    fn name(&mut self, name: &str) {
        self.separate(false);
        self.string(name);
        self.out.push(':');
    }
    fn item(&mut self) {
        self.separate(true);
    }
    fn open(&mut self, array: bool) {
        self.out.push(if array { '[' } else { '{' });
        self.stack.push(Open {
            array,
            has_member: false,
        });
    }
    fn number(&mut self, value: impl std::fmt::Display) {
        use std::fmt::Write;
        let _ = write!(self.out, "{value}"); // writing to a String cannot fail
    }
    fn string(&mut self, value: &str) {
        self.out.push('"');
        escape_into(&mut self.out, value);
        self.out.push('"');
    }
}

/// Appends `s` escaped for the inside of a JSON string: `"` and `\` with a backslash, `\n`,
/// `\r` and `\t` in their short forms, other control characters as `\u00XX`. Everything else,
/// including non-ASCII, is copied as it is (JSON text is UTF-8).
pub fn escape_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        // Bytes below 0x80 are whole characters, so these slice bounds are char boundaries.
        out.push_str(&s[start..i]);
        start = i + 1;
        if short.is_empty() {
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xf) as usize] as char);
        } else {
            out.push_str(short);
        }
    }
    out.push_str(&s[start..]);
}

/// A parsed JSON value. Numbers keep their text: readers ask for the type they want.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Value>),
    /// Members in their order; a repeated name is kept twice, [`Value::get`] finds the first.
    Object(Vec<(String, Value)>),
}

/// Nesting deeper than this is refused rather than followed (the parser recurses).
const MAX_DEPTH: usize = 64;

impl Value {
    /// The whole text as one JSON value (RFC 8259: whitespace around it, nothing after it);
    /// `None` when it is not.
    pub fn parse(text: &str) -> Option<Value> {
        let mut r = Reader {
            text: text.as_bytes(),
            pos: 0,
        };
        let v = r.value(0)?;
        r.space();
        (r.pos == r.text.len()).then_some(v)
    }
    /// The member `name` of an object.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    /// A number that is a non-negative integer (no fraction, no exponent).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) => n.parse().ok(),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }
}

struct Reader<'t> {
    text: &'t [u8],
    pos: usize,
}

impl Reader<'_> {
    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }
    fn eat(&mut self, b: u8) -> bool {
        self.space();
        let found = self.peek() == Some(b);
        self.pos += usize::from(found);
        found
    }
    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.space();
        match self.peek()? {
            b'{' => {
                self.pos += 1;
                let mut members = Vec::new();
                if self.eat(b'}') {
                    return Some(Value::Object(members));
                }
                loop {
                    self.space();
                    let name = self.string()?;
                    if !self.eat(b':') {
                        return None;
                    }
                    members.push((name, self.value(depth + 1)?));
                    if self.eat(b'}') {
                        return Some(Value::Object(members));
                    }
                    if !self.eat(b',') {
                        return None;
                    }
                }
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                if self.eat(b']') {
                    return Some(Value::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    if self.eat(b']') {
                        return Some(Value::Array(items));
                    }
                    if !self.eat(b',') {
                        return None;
                    }
                }
            }
            b'"' => self.string().map(Value::String),
            b't' => self.word("true", Value::Bool(true)),
            b'f' => self.word("false", Value::Bool(false)),
            b'n' => self.word("null", Value::Null),
            _ => self.number(),
        }
    }
    fn word(&mut self, word: &str, value: Value) -> Option<Value> {
        let found = self.text[self.pos..].starts_with(word.as_bytes());
        self.pos += word.len();
        found.then_some(value)
    }
    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Option<Value> {
        let start = self.pos;
        let digits = |r: &mut Self| {
            let from = r.pos;
            while r.peek().is_some_and(|b| b.is_ascii_digit()) {
                r.pos += 1;
            }
            r.pos > from
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        if self.peek() == Some(b'0') {
            self.pos += 1;
        } else if !digits(self) {
            return None;
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !digits(self) {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !digits(self) {
                return None;
            }
        }
        // Only ASCII was consumed: a char boundary.
        let text = std::str::from_utf8(&self.text[start..self.pos]).ok()?;
        Some(Value::Number(text.to_string()))
    }
    /// A string at the cursor, unescaped (`\uXXXX` with surrogate pairs); raw control
    /// characters and lone surrogates are refused.
    fn string(&mut self) -> Option<String> {
        if self.peek() != Some(b'"') {
            return None;
        }
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let b = self.peek()?;
            self.pos += 1;
            match b {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let e = self.peek()?;
                    self.pos += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.escaped_char()?,
                        _ => return None,
                    };
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                0..=0x1f => return None,
                _ => out.push(b),
            }
        }
    }
    /// After `\u`: one code unit, or a surrogate pair `\uD8xx\uDCxx`.
    fn escaped_char(&mut self) -> Option<char> {
        let unit = self.hex4()?;
        match unit {
            0xd800..=0xdbff => {
                if !self.text[self.pos..].starts_with(b"\\u") {
                    return None;
                }
                self.pos += 2;
                let low = self.hex4()?;
                if !(0xdc00..=0xdfff).contains(&low) {
                    return None;
                }
                char::from_u32(0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00))
            }
            _ => char::from_u32(unit),
        }
    }
    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.pos..self.pos + 4)?;
        self.pos += 4;
        digits
            .iter()
            .try_fold(0, |n, &d| Some(n * 16 + char::from(d).to_digit(16)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = String::new();
        escape_into(&mut out, s);
        out
    }

    #[test]
    fn empty_object() {
        assert_eq!(Json::object().finish(), "{}");
    }

    #[test]
    fn scalar_fields_in_call_order() {
        let mut j = Json::object();
        j.field_u64("max", u64::MAX)
            .field_i64("min", i64::MIN)
            .field_i64("neg", -1)
            .field_u64("zero", 0);
        j.field_bool("up", true)
            .field_bool("down", false)
            .field_null("since")
            .field_str("empty", "");
        assert_eq!(
            j.finish(),
            r#"{"max":18446744073709551615,"min":-9223372036854775808,"neg":-1,"zero":0,"up":true,"down":false,"since":null,"empty":""}"#
        );
    }

    #[test]
    fn escaping() {
        assert_eq!(escaped(r#"say "hi""#), r#"say \"hi\""#);
        assert_eq!(escaped(r"C:\dir\"), r"C:\\dir\\");
        assert_eq!(escaped("a\nb\tc\rd"), r"a\nb\tc\rd");
        assert_eq!(
            escaped("\u{0}\u{1}\u{8}\u{c}\u{1b}\u{1f}"),
            r"\u0000\u0001\u0008\u000c\u001b\u001f"
        );
        assert_eq!(
            escaped(" ~\u{7f}"),
            " ~\u{7f}",
            "space, tilde and DEL need no escape"
        );
        assert_eq!(escaped("64:ff9b::/96"), "64:ff9b::/96");
        assert_eq!(
            escaped("grüße, 日本, 🦀"),
            "grüße, 日本, 🦀",
            "non-ASCII is copied as UTF-8"
        );
        assert_eq!(
            escaped("é\"é\u{1}é"),
            r#"é\"é\u0001é"#,
            "escapes next to multi-byte characters"
        );
        assert_eq!(escaped(""), "");
        assert_eq!(escaped("\\"), r"\\");
    }

    #[test]
    fn names_and_items_are_escaped_too() {
        let mut j = Json::object();
        j.field_str("we\"ird\n", "v\\al")
            .begin_array("l")
            .item_str("\t\"")
            .end();
        assert_eq!(j.finish(), r#"{"we\"ird\n":"v\\al","l":["\t\""]}"#);
    }

    #[test]
    fn nested_objects_and_arrays_with_commas() {
        let mut j = Json::object();
        j.begin_object("a").end();
        j.begin_array("b").end();
        j.begin_object("c")
            .field_u64("x", 1)
            .begin_object("d")
            .field_u64("y", 2)
            .field_u64("z", 3)
            .end()
            .end();
        j.begin_array("e")
            .item_u64(1)
            .item_i64(-2)
            .item_str("three")
            .item_bool(true)
            .end();
        j.begin_array("f")
            .item_array()
            .item_u64(1)
            .end()
            .item_array()
            .end()
            .item_object()
            .end()
            .end();
        j.field_u64("last", 9);
        assert_eq!(
            j.finish(),
            r#"{"a":{},"b":[],"c":{"x":1,"d":{"y":2,"z":3}},"e":[1,-2,"three",true],"f":[[1],[],{}],"last":9}"#
        );
    }

    #[test]
    fn array_of_objects() {
        let mut j = Json::object();
        j.begin_array("pools");
        for (name, leases) in [("lan", 3), ("guest", 0)] {
            j.item_object()
                .field_str("name", name)
                .field_u64("leases", leases)
                .end();
        }
        j.end();
        assert_eq!(
            j.finish(),
            r#"{"pools":[{"name":"lan","leases":3},{"name":"guest","leases":0}]}"#
        );
    }

    #[test]
    fn finish_closes_everything_still_open() {
        let mut j = Json::object();
        j.begin_object("a")
            .begin_array("b")
            .item_object()
            .field_u64("c", 1);
        assert_eq!(j.finish(), r#"{"a":{"b":[{"c":1}]}}"#);
        assert_eq!(j.finish(), "", "empty afterwards");

        let mut j = Json::object();
        j.field_u64("n", 1).end();
        assert_eq!(
            j.finish(),
            r#"{"n":1}"#,
            "top level closed by end: finish adds nothing"
        );
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "field outside an object")]
    fn field_in_array_is_a_bug() {
        Json::object().begin_array("a").field_u64("x", 1);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "item outside an array")]
    fn item_in_object_is_a_bug() {
        Json::object().item_u64(1);
    }
}

#[cfg(test)]
mod reader_tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    #[test]
    fn values() {
        let v = Value::parse(
            " {\"a\": [1, -2.5e+3, 0, true, false, null, \"x\"],\n\t\"b\": {}, \"c\": [], \"a\": 9 } ",
        )
        .unwrap();
        let a = v.get("a").unwrap().as_array().unwrap();
        assert_eq!(a[0].as_u64(), Some(1));
        assert_eq!(a[1], Value::Number("-2.5e+3".into()));
        assert_eq!(a[1].as_u64(), None);
        assert_eq!(a[2].as_u64(), Some(0));
        assert_eq!(
            (a[3].as_bool(), a[4].as_bool(), &a[5], &a[6]),
            (Some(true), Some(false), &Value::Null, &s("x"))
        );
        assert_eq!(v.get("b"), Some(&Value::Object(Vec::new())));
        assert_eq!(v.get("c").unwrap().as_array(), Some(&[][..]));
        assert_eq!(v.get("z"), None);
        assert_eq!(a[0].get("a"), None, "a number has no members");
        assert_eq!(Value::parse("\"top\"").unwrap().as_str(), Some("top"));
    }

    #[test]
    fn string_escapes() {
        let v = Value::parse(r#""q\" b\\ s\/ \b\f\n\r\t \u00e9 \u20AC \ud83d\ude00 ü""#).unwrap();
        assert_eq!(v.as_str(), Some("q\" b\\ s/ \u{8}\u{c}\n\r\t é € 😀 ü"));
        // What the writer writes, the reader reads back.
        let mut j = Json::object();
        j.field_str("k\"", "a\u{1}\\\n\"z");
        let back = Value::parse(&j.finish()).unwrap();
        assert_eq!(back.get("k\"").unwrap().as_str(), Some("a\u{1}\\\n\"z"));
    }

    #[test]
    fn refused() {
        for bad in [
            "",
            "{",
            "{\"a\" 1}",
            "{\"a\":1,}",
            "[1,]",
            "[1 2]",
            "{a:1}",
            "01",
            "1.",
            "-",
            "1e",
            "+1",
            "tru",
            "nul",
            "\"open",
            "\"tab\tinside\"",
            r#""\x""#,
            r#""\u12""#,
            r#""\ud83d""#,
            r#""\ud83d\u0041""#,
            r#""\ude00""#,
            "{} {}",
            "[] x",
        ] {
            assert_eq!(Value::parse(bad), None, "{bad:?}");
        }
        let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
        assert_eq!(Value::parse(&deep), None);
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(Value::parse(&ok).is_some());
    }
}
