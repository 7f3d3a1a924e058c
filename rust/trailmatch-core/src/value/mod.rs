//! Value-level semantics shared by the dialects: numbers, IP addresses, case-insensitive
//! comparison, wildcards, and the interval index used for ranges.

pub mod casefold;
pub mod intervals;
pub mod ip;
pub mod number;
pub mod wildcard;
