use tallyho_macros::timed;

#[timed(buckets = [0.1, 1.0, 0.5])]
fn a() {}

#[timed(buckets = [1.0, 1.0])]
fn b() {}

#[timed(buckets = [1e400])]
fn c() {}

#[timed(buckets = [0.1], buckets = [0.2])]
fn d() {}

fn main() {}
