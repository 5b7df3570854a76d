use tallyho_macros::counted;

#[counted(registry = missing::registry)]
fn c() {}

fn main() {}
