//! `OTEL_METRIC_EXPORT_INTERVAL` (milliseconds) sets the interval when the code does not.

#[test]
fn interval_from_environment_unless_set_in_code() {
    std::env::set_var("OTEL_METRIC_EXPORT_INTERVAL", "1234");
    let r = tallyho::Registry::new();
    let p = tallyho_export::Pipeline::builder(r.clone())
        .start()
        .unwrap();
    assert_eq!(p.interval(), std::time::Duration::from_millis(1234));
    drop(p);
    let p = tallyho_export::Pipeline::builder(r)
        .interval(std::time::Duration::from_secs(2))
        .start()
        .unwrap();
    assert_eq!(p.interval(), std::time::Duration::from_secs(2));
}
