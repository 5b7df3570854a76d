//! The date functions (`year`, `month`, `day_of_month`, ...) of a value in Unix seconds,
//! in UTC, exactly as Prometheus 2.42 computes them with Go's `time` package.
//!
//! Prometheus converts the value to whole seconds with Go's float-to-int64 conversion
//! (truncation; on amd64 a NaN, an infinity or a value outside the int64 range becomes the
//! smallest int64) and does calendar arithmetic in unsigned seconds since an "absolute"
//! zero far in the past, with wrapping. We do the same, so a NaN or infinite argument gives
//! the same (meaningless but finite) numbers as Prometheus rather than NaN.

/// The year whose January 1 is absolute second zero (a Monday; 1 mod 400).
const ABS_ZERO_YEAR: i64 = -292_277_022_399;
/// Seconds from the absolute zero to 1970-01-01T00:00:00Z.
const UNIX_TO_ABS: i64 = 9_223_372_028_715_321_600;
const SECS_PER_DAY: u64 = 86_400;
const SECS_PER_HOUR: u64 = 3_600;
const DAYS_PER_400_YEARS: u64 = 365 * 400 + 97;
const DAYS_PER_100_YEARS: u64 = 365 * 100 + 24;
const DAYS_PER_4_YEARS: u64 = 365 * 4 + 1;
/// Days before each month in a common year, with the year's length at the end.
const DAYS_BEFORE: [u64; 13] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];

/// The date function called `name` (`day_of_month`, `day_of_week` (0 = Sunday),
/// `day_of_year` (1-based), `days_in_month`, `hour`, `minute`, `month` (1-based), `year`)
/// of a time in Unix seconds; `None` for any other name. Without an argument Prometheus
/// applies these to the evaluation time: pass `(eval_ms / 1000) as f64` (truncating, as
/// Prometheus does).
pub(crate) fn date_fn(name: &str) -> Option<fn(f64) -> f64> {
    let f: fn(f64) -> f64 = match name {
        "day_of_month" => |v| civil(abs_secs(v)).day as f64,
        "day_of_week" => |v| weekday(abs_secs(v)) as f64,
        "day_of_year" => |v| (civil(abs_secs(v)).yday + 1) as f64,
        "days_in_month" => |v| days_in_month(abs_secs(v)) as f64,
        "hour" => |v| ((abs_secs(v) % SECS_PER_DAY) / SECS_PER_HOUR) as f64,
        "minute" => |v| ((abs_secs(v) % SECS_PER_HOUR) / 60) as f64,
        "month" => |v| civil(abs_secs(v)).month as f64,
        "year" => |v| civil(abs_secs(v)).year as f64,
        _ => return None,
    };
    Some(f)
}

/// Go's `int64(v)` on amd64: truncation towards zero; NaN and out-of-range values become
/// `i64::MIN` (the CPU's "integer indefinite").
fn go_int64(v: f64) -> i64 {
    // -2^63 is exact in f64; 2^63 is the first value too large.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if v.is_nan() || !(-LIMIT..LIMIT).contains(&v) {
        i64::MIN
    } else {
        v as i64
    }
}

/// Unsigned seconds since the absolute zero of the Unix time `v` (wrapping like Go).
fn abs_secs(v: f64) -> u64 {
    go_int64(v).wrapping_add(UNIX_TO_ABS) as u64
}

/// 0 = Sunday .. 6 = Saturday. Absolute day zero is a Monday.
fn weekday(abs: u64) -> u64 {
    (abs.wrapping_add(SECS_PER_DAY) % (7 * SECS_PER_DAY)) / SECS_PER_DAY
}

/// A calendar date.
#[derive(Debug, PartialEq, Eq)]
struct Civil {
    year: i64,
    /// 1..=12
    month: u64,
    /// 1..=31
    day: u64,
    /// 0-based day of the year.
    yday: u64,
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// The UTC date of absolute second `abs`: peel off 400-, 100-, 4- and 1-year cycles.
/// The last 100-year cycle of 400 and the last year of 4 are a day longer, which makes
/// the quotient 4 on their last day; `n - n / 4` brings it back to 3.
fn civil(abs: u64) -> Civil {
    let mut d = abs / SECS_PER_DAY;
    let mut y = 400 * (d / DAYS_PER_400_YEARS);
    d %= DAYS_PER_400_YEARS;
    let mut n = d / DAYS_PER_100_YEARS;
    n -= n >> 2;
    y += 100 * n;
    d -= DAYS_PER_100_YEARS * n;
    n = d / DAYS_PER_4_YEARS;
    y += 4 * n;
    d -= DAYS_PER_4_YEARS * n;
    n = d / 365;
    n -= n >> 2;
    y += n;
    d -= 365 * n;
    let year = (y as i64).wrapping_add(ABS_ZERO_YEAR);
    let (month, day) = month_and_day(year, d);
    Civil {
        year,
        month,
        day,
        yday: d,
    }
}

/// Month (1-based) and day of month (1-based) of the 0-based day `yday` of `year`.
fn month_and_day(year: i64, yday: u64) -> (u64, u64) {
    let mut day = yday;
    if is_leap(year) {
        const FEB_29: u64 = 31 + 29 - 1;
        if day == FEB_29 {
            return (2, 29);
        }
        if day > FEB_29 {
            day -= 1;
        }
    }
    // Months are at most 31 days long, so day / 31 is this month or the one before.
    let mut month = (day / 31).min(11);
    let next = DAYS_BEFORE.get(month as usize + 1).copied().unwrap_or(365);
    let begin = if day >= next {
        month += 1;
        next
    } else {
        DAYS_BEFORE.get(month as usize).copied().unwrap_or(0)
    };
    (month + 1, day - begin + 1)
}

/// Unsigned days from the absolute zero to January 1 of `year` (wrapping like Go).
fn days_before_year(year: i64) -> u64 {
    let mut y = year.wrapping_sub(ABS_ZERO_YEAR) as u64;
    let mut d = DAYS_PER_400_YEARS.wrapping_mul(y / 400);
    y %= 400;
    d = d.wrapping_add(DAYS_PER_100_YEARS * (y / 100));
    y %= 100;
    d = d.wrapping_add(DAYS_PER_4_YEARS * (y / 4));
    y %= 4;
    d.wrapping_add(365 * y)
}

/// Prometheus' `32 - Date(year, month, 32).Day()`: the 32nd day of the month rolls into
/// the next one, and how far it rolls gives the month's length.
fn days_in_month(abs: u64) -> u64 {
    let c = civil(abs);
    let month_index = (c.month - 1) as usize;
    let mut d =
        days_before_year(c.year).wrapping_add(DAYS_BEFORE.get(month_index).copied().unwrap_or(0));
    if is_leap(c.year) && c.month >= 3 {
        d = d.wrapping_add(1);
    }
    d = d.wrapping_add(31);
    32 - civil(d.wrapping_mul(SECS_PER_DAY)).day
}

#[cfg(test)]
#[path = "date_tests.rs"]
mod tests;
