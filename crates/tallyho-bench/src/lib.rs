//! Benchmarks for tallyho against peer crates.
