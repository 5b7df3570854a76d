use tallyho_macros::counted;

#[counted(buckets = [0.1, 1.0])]
fn a() {}

fn main() {}
