//! fw-helper: the nftables rules the v6only daemons need, as firewall4 include snippets or as
//! a table of its own.
//!
//! The library is the pure core: [`config`] (UCI packages -> [`config::Config`]), [`model`]
//! (config -> [`model::Ruleset`], the rules in evaluation order), [`render`] (the ruleset as
//! nft text, for both backends), [`fw4`] (which snippet files change, fw4's zones as it
//! prints them) and [`dropin`] (the `dropin` command line and the text it writes). `main.rs`
//! reads the files and runs nft and fw4.

#![forbid(unsafe_code)]

pub mod config;
pub mod dropin;
pub mod fw4;
pub mod model;
pub mod render;
