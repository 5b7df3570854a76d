//! Unit tests of `instant.rs`; expected values are worked out by hand.

use super::*;

fn f(name: &str) -> fn(f64) -> f64 {
    math_fn(name).expect("known function")
}

#[test]
fn every_listed_name_is_known() {
    let names = [
        "abs", "ceil", "floor", "exp", "ln", "log2", "log10", "sqrt", "sgn", "sin", "cos", "tan",
        "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "deg", "rad",
    ];
    for n in names {
        assert!(math_fn(n).is_some(), "{n}");
    }
    assert!(math_fn("round").is_none());
    assert!(math_fn("Abs").is_none());
}

#[test]
fn math_values() {
    assert_eq!(f("abs")(-2.5), 2.5);
    assert_eq!(f("ceil")(1.2), 2.0);
    assert_eq!(f("floor")(-1.2), -2.0);
    assert_eq!(f("exp")(0.0), 1.0);
    assert_eq!(f("ln")(1.0), 0.0);
    assert_eq!(f("log2")(8.0), 3.0);
    assert_eq!(f("log10")(1000.0), 3.0);
    assert_eq!(f("sqrt")(16.0), 4.0);
    assert!(f("sqrt")(-1.0).is_nan());
    assert_eq!(f("ln")(0.0), f64::NEG_INFINITY);
    assert!(f("acos")(2.0).is_nan());
    assert_eq!(f("atanh")(1.0), f64::INFINITY);
    assert_eq!(f("deg")(std::f64::consts::PI), 180.0);
    assert_eq!(f("rad")(180.0), std::f64::consts::PI);
    assert!((f("sin")(std::f64::consts::FRAC_PI_2) - 1.0).abs() < 1e-15);
}

#[test]
fn sgn_keeps_zero_and_nan() {
    let sgn = f("sgn");
    assert_eq!(sgn(-3.0), -1.0);
    assert_eq!(sgn(0.1), 1.0);
    assert_eq!(sgn(f64::NEG_INFINITY), -1.0);
    assert!(sgn(-0.0) == 0.0 && sgn(-0.0).is_sign_negative());
    assert!(sgn(0.0).is_sign_positive());
    assert!(sgn(f64::NAN).is_nan());
}

#[test]
fn round_to_nearest() {
    assert_eq!(round(2.5, 1.0), 3.0);
    // Ties go up, also for negatives.
    assert_eq!(round(-2.5, 1.0), -2.0);
    assert_eq!(round(2.4, 1.0), 2.0);
    assert_eq!(round(17.0, 5.0), 15.0);
    assert_eq!(round(17.5, 5.0), 20.0);
    // 1/0.1 = 10: floor(12.34 * 10 + 0.5) / 10 = 123 / 10.
    assert_eq!(round(12.34, 0.1), 12.3);
    assert_eq!(round(0.125, 0.25), 0.25);
    assert!(round(f64::NAN, 1.0).is_nan());
    assert_eq!(round(f64::INFINITY, 1.0), f64::INFINITY);
    // to_nearest 0: inverse is +Inf, v * Inf / Inf = NaN.
    assert!(round(1.0, 0.0).is_nan());
}

#[test]
fn clamp_with_nan_and_infinities() {
    assert_eq!(clamp(5.0, 0.0, 1.0), 1.0);
    assert_eq!(clamp(-5.0, 0.0, 1.0), 0.0);
    assert_eq!(clamp(0.5, 0.0, 1.0), 0.5);
    assert!(clamp(f64::NAN, 0.0, 1.0).is_nan());
    assert!(clamp(0.5, f64::NAN, 1.0).is_nan());
    // Go's Max: +Inf beats NaN; Min: -Inf beats NaN.
    assert_eq!(clamp(f64::NAN, f64::INFINITY, f64::INFINITY), f64::INFINITY);
    // clamp_max(NaN, -Inf) and clamp_min(NaN, 0), clamp_min(-1, 0), clamp_max(3, 2):
    assert_eq!(
        clamp(f64::NAN, f64::NEG_INFINITY, f64::NEG_INFINITY),
        f64::NEG_INFINITY
    );
    assert!(clamp(f64::NAN, 0.0, f64::INFINITY).is_nan());
    assert_eq!(clamp(-1.0, 0.0, f64::INFINITY), 0.0);
    assert_eq!(clamp(3.0, f64::NEG_INFINITY, 2.0), 2.0);
    assert!(clamp(-0.0, 0.0, 1.0).is_sign_positive());
    assert!(clamp(0.0, -1.0, -0.0).is_sign_negative());
}

#[test]
fn go_min_max_zero_signs() {
    assert!(go_max(-0.0, 0.0).is_sign_positive());
    assert!(go_max(0.0, -0.0).is_sign_positive());
    assert!(go_min(-0.0, 0.0).is_sign_negative());
    assert!(go_min(0.0, -0.0).is_sign_negative());
    assert!(go_max(1.0, f64::NAN).is_nan());
    assert!(go_min(f64::NAN, 1.0).is_nan());
}

#[test]
fn date_fn_is_reexported() {
    assert_eq!(date_fn("year").map(|f| f(0.0)), Some(1970.0));
}
