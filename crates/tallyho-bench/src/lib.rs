//! Benchmarks for tallyho against peer crates, and the counting allocator they and the
//! memory tests share.
#![deny(missing_docs)]

pub mod counting;
