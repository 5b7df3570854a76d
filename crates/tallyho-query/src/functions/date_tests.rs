//! Unit tests of `date.rs`. Timestamps were worked out from the calendar (checked with
//! Python's `datetime`); the NaN row was observed from Prometheus 2.42 (`promtool test
//! rules` with `year(vector(NaN))` etc.).

use super::*;

fn call(name: &str, v: f64) -> f64 {
    date_fn(name).expect("known date function")(v)
}

/// (unix seconds, [year, month, day_of_month, day_of_week, day_of_year, days_in_month,
/// hour, minute])
const KNOWN: [(f64, [f64; 8]); 9] = [
    // 2020-02-29T12:34:56Z, a Saturday in a leap year.
    (1_582_979_696.0, [2020., 2., 29., 6., 60., 29., 12., 34.]),
    // 2021-02-10T00:00:00Z: February of a common year.
    (1_612_915_200.0, [2021., 2., 10., 3., 41., 28., 0., 0.]),
    // 1900-02-15T06:07:00Z: divisible by 100, not by 400, so not a leap year.
    (-2_205_078_780.0, [1900., 2., 15., 4., 46., 28., 6., 7.]),
    // 2000-02-15T00:00:00Z: divisible by 400, a leap year.
    (950_572_800.0, [2000., 2., 15., 2., 46., 29., 0., 0.]),
    // 2019-12-31T23:59:59Z: last second of a common year.
    (1_577_836_799.0, [2019., 12., 31., 2., 365., 31., 23., 59.]),
    // 2020-12-31T00:00:00Z: day 366 of a leap year.
    (1_609_372_800.0, [2020., 12., 31., 4., 366., 31., 0., 0.]),
    // 2023-04-30T23:00:00Z, a Sunday; April has 30 days.
    (1_682_895_600.0, [2023., 4., 30., 0., 120., 30., 23., 0.]),
    // One second before the epoch.
    (-1.0, [1969., 12., 31., 3., 365., 31., 23., 59.]),
    // -0.5 truncates to 0, the epoch (a Thursday), not to -1.
    (-0.5, [1970., 1., 1., 4., 1., 31., 0., 0.]),
];

const NAMES: [&str; 8] = [
    "year",
    "month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "hour",
    "minute",
];

#[test]
fn known_timestamps() {
    for (unix, row) in KNOWN {
        for (name, want) in NAMES.iter().zip(row) {
            assert_eq!(call(name, unix), want, "{name}({unix})");
        }
    }
}

#[test]
fn days_in_month_across_a_year() {
    // The 15th of each month of 2024 (leap) and 2023.
    let leap = [31., 29., 31., 30., 31., 30., 31., 31., 30., 31., 30., 31.];
    for (year, feb) in [(2024i64, 29.), (2023, 28.)] {
        for (m, want) in leap.iter().enumerate() {
            let want = if m == 1 { feb } else { *want };
            let days = days_before_year(year) + DAYS_BEFORE[m] + 14;
            let days = if is_leap(year) && m >= 2 {
                days + 1
            } else {
                days
            };
            let unix = (days * SECS_PER_DAY) as i64 - UNIX_TO_ABS;
            assert_eq!(call("month", unix as f64), (m + 1) as f64);
            assert_eq!(call("day_of_month", unix as f64), 15.0);
            assert_eq!(call("days_in_month", unix as f64), want, "{year}-{}", m + 1);
        }
    }
}

#[test]
fn nan_and_out_of_range_match_prometheus() {
    // Go turns all of these into the smallest int64; Prometheus 2.42 answers:
    let want = [292_277_026_596., 12., 4., 0., 339., 31., 15., 30.];
    for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1e300, 1e19] {
        for (name, want) in NAMES.iter().zip(want) {
            assert_eq!(call(name, v), want, "{name}({v})");
        }
    }
}

#[test]
fn unknown_name() {
    assert!(date_fn("week").is_none());
    assert!(date_fn("").is_none());
}

#[test]
fn go_int64_truncates_towards_zero() {
    assert_eq!(go_int64(1.9), 1);
    assert_eq!(go_int64(-1.9), -1);
    assert_eq!(go_int64(-9_223_372_036_854_775_808.0), i64::MIN);
    assert_eq!(go_int64(9_223_372_036_854_775_808.0), i64::MIN);
    assert_eq!(go_int64(f64::NAN), i64::MIN);
}
