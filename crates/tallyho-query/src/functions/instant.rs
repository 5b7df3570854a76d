//! Functions applied to each sample's value, and the date functions.
//!
//! Results follow Prometheus 2.42, which uses Go's `math` package: NaN and infinities
//! propagate as IEEE 754 says; `sgn` keeps the sign of zero and NaN; `clamp` uses Go's
//! `math.Max`/`math.Min`, where an infinity wins over a NaN.

pub(crate) use super::date::date_fn;

/// The per-sample math function called `name` (`abs`, `ceil`, `floor`, `exp`, `ln`,
/// `log2`, `log10`, `sqrt`, `sgn`, the trigonometric and hyperbolic functions and their
/// inverses, `deg`, `rad`); `None` for any other name.
pub(crate) fn math_fn(name: &str) -> Option<fn(f64) -> f64> {
    let f: fn(f64) -> f64 = match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sqrt" => f64::sqrt,
        "sgn" => sgn,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => deg,
        "rad" => rad,
        _ => return None,
    };
    Some(f)
}

/// -1 for negative, 1 for positive, the value itself for zeros and NaN.
fn sgn(v: f64) -> f64 {
    if v < 0.0 {
        -1.0
    } else if v > 0.0 {
        1.0
    } else {
        v
    }
}

/// Radians to degrees, multiplying before dividing as Prometheus does.
fn deg(v: f64) -> f64 {
    v * 180.0 / std::f64::consts::PI
}

/// Degrees to radians.
fn rad(v: f64) -> f64 {
    v * std::f64::consts::PI / 180.0
}

/// `round(v, to_nearest)`: the nearest multiple of `to_nearest`, ties rounded up
/// (towards +Inf). Computed with the inverse of `to_nearest`, as Prometheus does, so
/// `round(x, 0.1)` gives the same floating-point result.
pub(crate) fn round(v: f64, to_nearest: f64) -> f64 {
    let inverse = 1.0 / to_nearest;
    (v * inverse + 0.5).floor() / inverse
}

/// `clamp(v, min, max)`: `max(min, min(max, v))` with Go's rules (a NaN anywhere gives
/// NaN unless an infinity decides first). When `max < min` Prometheus returns no series at
/// all: the evaluator checks that before calling this. `clamp_min(v, min)` is exactly
/// `clamp(v, min, +Inf)` and `clamp_max(v, max)` is `clamp(v, -Inf, max)` (Go's `Min` with
/// +Inf and `Max` with -Inf return the other argument, NaN included).
pub(crate) fn clamp(v: f64, min: f64, max: f64) -> f64 {
    go_max(min, go_min(max, v))
}

/// Go's `math.Max`: +Inf if either is +Inf, else NaN if either is NaN, +0 over -0.
pub(crate) fn go_max(x: f64, y: f64) -> f64 {
    if x == f64::INFINITY || y == f64::INFINITY {
        f64::INFINITY
    } else if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x == 0.0 && y == 0.0 {
        if x.is_sign_negative() {
            y
        } else {
            x
        }
    } else if x > y {
        x
    } else {
        y
    }
}

/// Go's `math.Min`: -Inf if either is -Inf, else NaN if either is NaN, -0 over +0.
pub(crate) fn go_min(x: f64, y: f64) -> f64 {
    if x == f64::NEG_INFINITY || y == f64::NEG_INFINITY {
        f64::NEG_INFINITY
    } else if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x == 0.0 && y == 0.0 {
        if x.is_sign_negative() {
            x
        } else {
            y
        }
    } else if x < y {
        x
    } else {
        y
    }
}

#[cfg(test)]
#[path = "instant_tests.rs"]
mod tests;
