//! The log rate limit every daemon shares; see [`v6only_common::ratelimit`].

pub use v6only_common::ratelimit::RateLimit;
