//! JSON readers: a positioned document parser for patterns ([`dom`]), the tree of referenced
//! paths ([`fields`]) and the event scanner that the hot path uses ([`scan`]).

pub mod dom;
pub mod fields;
pub mod scan;
