use tallyho_macros::{counted, timed};

#[timed(name = 5)]
fn a() {}

#[counted(help = some_const)]
fn b() {}

#[timed(name)]
fn c() {}

#[timed(buckets = [0.1, "1"])]
fn d() {}

#[timed(buckets = 1.0)]
fn e() {}

#[timed(buckets = [1.0f32])]
fn f() {}

fn main() {}
