//! Integration tests of tallyho-rules: one binary, one module per concern.

mod alertmanager;
mod common;
mod delivery;
mod files;
mod promtool_diff;
mod state;
