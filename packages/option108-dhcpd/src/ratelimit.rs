//! The log rate limit every daemon shares; see [`v6only_common::ratelimit`].

#![forbid(unsafe_code)]

pub use v6only_common::ratelimit::RateLimit;
