use tallyho_macros::{counted, timed};

fn make() -> &'static tallyho::Registry {
    tallyho::global()
}

fn wrong() -> u32 {
    1
}

#[timed(registry = make())]
fn a() {}

#[counted(registry = wrong)]
fn b() {}

fn main() {}
