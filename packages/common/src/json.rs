//! A small JSON writer for `status` replies (no serde in the daemons for a few counters).
//!
//! SKELETON: the API below is fixed; the bodies are being written.
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
    /// Per open container: whether it already has a member (for the commas).
    stack: Vec<bool>,
}

impl Json {
    /// Starts a document whose top level is an object.
    pub fn object() -> Json {
        todo!()
    }
    pub fn field_u64(&mut self, name: &str, value: u64) -> &mut Json {
        todo!("{name} {value}")
    }
    pub fn field_i64(&mut self, name: &str, value: i64) -> &mut Json {
        todo!("{name} {value}")
    }
    pub fn field_bool(&mut self, name: &str, value: bool) -> &mut Json {
        todo!("{name} {value}")
    }
    /// A string, escaped as JSON requires (quotes, backslash, control characters).
    pub fn field_str(&mut self, name: &str, value: &str) -> &mut Json {
        todo!("{name} {value}")
    }
    pub fn begin_object(&mut self, name: &str) -> &mut Json {
        todo!("{name}")
    }
    pub fn begin_array(&mut self, name: &str) -> &mut Json {
        todo!("{name}")
    }
    /// In an array: starts an object item.
    pub fn item_object(&mut self) -> &mut Json {
        todo!()
    }
    /// In an array: a string item.
    pub fn item_str(&mut self, value: &str) -> &mut Json {
        todo!("{value}")
    }
    /// In an array: a number item.
    pub fn item_u64(&mut self, value: u64) -> &mut Json {
        todo!("{value}")
    }
    /// Closes the innermost open object or array.
    pub fn end(&mut self) -> &mut Json {
        todo!()
    }
    /// Closes what is still open and returns the text.
    pub fn finish(&mut self) -> String {
        todo!()
    }
}
