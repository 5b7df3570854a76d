//! `OTEL_SDK_DISABLED=true` turns a default registry into a no-op one. Its own test binary,
//! because the variable is process-wide.

#[test]
fn otel_sdk_disabled_makes_noop_handles() {
    std::env::set_var("OTEL_SDK_DISABLED", "TRUE");
    let r = tallyho::Registry::new();
    assert!(!r.is_enabled());
    let c = r.counter("c", "").unwrap();
    c.inc();
    assert_eq!(c.get(), 0);
    // An explicit setting wins over the environment.
    let r = tallyho::Registry::builder().enabled(true).build().unwrap();
    r.counter("c", "").unwrap().inc();
    assert_eq!(r.snapshot().value("c", &[]), Some(1.0));
}
