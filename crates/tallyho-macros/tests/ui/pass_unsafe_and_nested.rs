use tallyho_macros::{counted, timed};

#[counted]
unsafe fn unsafe_fn(p: *const u8) -> u8 {
    *p
}

// User locals and items named like the macro's internals do not clash with them.
#[timed]
fn shadowing() -> Result<u8, ()> {
    let __tallyho_guard = 1u8;
    let __tallyho_result = 2u8;
    #[timed]
    fn inner() -> u8 {
        3
    }
    Ok(__tallyho_guard + __tallyho_result + inner())
}

#[timed]
#[counted]
#[timed(name = "twice_again")]
async fn stacked(x: u8) -> Result<u8, String> {
    Ok(x)
}

fn main() {
    let v = 7u8;
    assert_eq!(unsafe { unsafe_fn(&v) }, 7);
    assert_eq!(shadowing(), Ok(6));
    let _ = stacked(1);
}
