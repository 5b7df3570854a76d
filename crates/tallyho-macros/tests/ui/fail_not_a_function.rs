use tallyho_macros::{counted, timed};

#[timed]
struct A;

#[counted]
const B: u8 = 1;

#[timed]
mod c {}

#[counted]
impl A {}

trait T {
    #[timed]
    fn declared(&self);
}

#[timed]
const fn d() {}

fn main() {}
