use tallyho_macros::{counted, timed};

#[timed(labels(db = "a", db = "b"))]
fn a() {}

#[counted(labels(outcome = "x"))]
fn b() -> Result<(), ()> {
    Ok(())
}

#[timed(labels(le = "1"))]
fn c() {}

#[timed(labels(__hidden = "1"))]
fn d() {}

#[counted(labels(db = 1))]
fn e() {}

#[counted(labels = "db")]
fn f() {}

#[counted(labels(a::b = "x"))]
fn g() {}

fn main() {}
