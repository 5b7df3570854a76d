use tallyho_macros::{counted, timed};

#[timed(nmae = "latency")]
fn a() {}

#[counted(name = "calls", bucket = [1.0])]
fn b() {}

#[timed(tallyho::name = "x")]
fn c() {}

fn main() {}
