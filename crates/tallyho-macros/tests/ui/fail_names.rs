use tallyho_macros::{counted, timed};

#[timed(name = "9lives")]
fn a() {}

#[counted(name = "with space")]
fn b() {}

#[counted(name = "x", name = "y")]
fn c() {}

#[timed]
fn café() {}

#[counted(name = "_.hidden")]
fn e() {}

fn main() {}
