//! Time stamps as Go prints them (RFC 3339 in UTC) and docker's `--since`/`--until` values.
//! cove has no date library; the civil-date arithmetic is Howard Hinnant's.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now as (unix seconds, nanoseconds).
pub fn now() -> (i64, u32) {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        ),
        Err(_) => (0, 0),
    }
}

/// Now in Go's RFC3339Nano: "2026-11-25T23:40:03.123456789Z", trailing zeros trimmed.
pub fn now_rfc3339() -> String {
    let (s, n) = now();
    rfc3339(s, n)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn civil(unix: i64) -> String {
    let (y, mo, d) = civil_from_days(unix.div_euclid(86_400));
    let s = unix.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Go's RFC3339Nano in UTC, trailing zeros of the fraction trimmed.
pub fn rfc3339(unix: i64, nanos: u32) -> String {
    let unix = unix + i64::from(nanos / 1_000_000_000);
    let nanos = nanos % 1_000_000_000;
    let mut s = civil(unix);
    if nanos > 0 {
        s.push('.');
        s.push_str(format!("{nanos:09}").trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// docker's fixed-width log time stamp (`logs -t`): always nine fraction digits.
pub fn rfc3339_fixed(unix: i64, nanos: u32) -> String {
    format!("{}.{:09}Z", civil(unix), nanos % 1_000_000_000)
}

/// Parses RFC 3339 (`Z` or `±hh:mm`, any fraction length) into unix seconds and nanoseconds.
pub fn parse_rfc3339(s: &str) -> Option<(i64, u32)> {
    let (secs, nanos, rest) = parse_civil(s)?;
    let b = s.as_bytes();
    let offset = match rest {
        "Z" | "z" => 0,
        tz if tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')) => {
            let i = s.len() - 6;
            if b[i + 3] != b':' {
                return None;
            }
            let oh: i64 = digits(&s[i + 1..i + 3])?;
            let om: i64 = digits(&s[i + 4..i + 6])?;
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if tz.starts_with('-') {
                -off
            } else {
                off
            }
        }
        _ => return None,
    };
    Some((secs - offset, nanos))
}

fn digits(part: &str) -> Option<i64> {
    if part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

/// "YYYY-MM-DDTHH:MM:SS[.frac]" -> (seconds as if UTC, nanos, the rest of the string).
fn parse_civil(s: &str) -> Option<(i64, u32, &str)> {
    let b = s.as_bytes();
    let sep = |i: usize, set: &[u8]| b.get(i).is_some_and(|c| set.contains(c));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (y, mo, d) = (
        digits(s.get(0..4)?)?,
        digits(s.get(5..7)?)?,
        digits(s.get(8..10)?)?,
    );
    let (h, mi, sec) = (
        digits(s.get(11..13)?)?,
        digits(s.get(14..16)?)?,
        digits(s.get(17..19)?)?,
    );
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let days = usize::try_from(mo - 1).ok().and_then(|m| month_days.get(m));
    if !days.is_some_and(|&days| (1..=days).contains(&d)) {
        return None;
    }
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0u32;
    if sep(i, b".,") {
        let n = s[i + 1..].bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        let frac = &s[i + 1..i + 1 + n.min(9)];
        nanos = format!("{frac:0<9}").parse().ok()?;
        i += 1 + n;
    }
    Some((
        days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec,
        nanos,
        &s[i..],
    ))
}

/// A Go duration ("10m", "1h30m", "1.5h", "300ms", "2s") in nanoseconds.
pub fn parse_duration(s: &str) -> Option<i128> {
    let mut rest = s;
    let mut total: f64 = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .bytes()
            .take_while(|c| c.is_ascii_digit() || *c == b'.')
            .count();
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .bytes()
            .take_while(|c| c.is_ascii_alphabetic() || *c == 0xc2 || *c == 0xb5)
            .count();
        let unit = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[u..];
        total += value * unit;
    }
    if !total.is_finite() || total.abs() >= i128::MAX as f64 {
        return None;
    }
    // Finite and within i128's range (checked above): the cast only drops the fraction.
    #[allow(clippy::cast_possible_truncation)]
    Some(total as i128)
}

/// docker's `--since`/`--until` value: RFC 3339 (with or without zone, read as UTC when
/// missing), a date "2024-01-31", unix seconds "1700000000[.123]", or a duration before
/// `now` ("10m", "1h"). Returns (unix seconds, nanos).
pub fn parse_time_arg(value: &str, now: (i64, u32)) -> Option<(i64, u32)> {
    let v = value.trim();
    if let Some(t) = parse_rfc3339(v) {
        return Some(t);
    }
    if let Some((secs, nanos, "")) = parse_civil(v) {
        return Some((secs, nanos));
    }
    if v.len() == 10 {
        if let Some((secs, _, "")) = parse_civil(&format!("{v}T00:00:00")) {
            return Some((secs, 0));
        }
    }
    let (whole, frac) = v.split_once('.').unwrap_or((v, ""));
    if let (Some(secs), true) = (digits(whole), frac.bytes().all(|c| c.is_ascii_digit())) {
        let nanos = if frac.is_empty() {
            0
        } else {
            format!("{:0<9}", &frac[..frac.len().min(9)]).parse().ok()?
        };
        return Some((secs, nanos));
    }
    let ago = parse_duration(v)?;
    let t = i128::from(now.0) * 1_000_000_000 + i128::from(now.1) - ago;
    Some((
        i64::try_from(t.div_euclid(1_000_000_000)).ok()?,
        u32::try_from(t.rem_euclid(1_000_000_000)).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(1_700_000_000, 120_000_000),
            "2023-11-14T22:13:20.12Z"
        );
        assert_eq!(
            rfc3339_fixed(1_700_000_000, 5),
            "2023-11-14T22:13:20.000000005Z"
        );
        assert_eq!(
            parse_rfc3339("2023-11-14T22:13:20.12Z"),
            Some((1_700_000_000, 120_000_000))
        );
        assert_eq!(
            parse_rfc3339("2023-11-14T23:13:20+01:00"),
            Some((1_700_000_000, 0))
        );
        assert_eq!(parse_rfc3339("2023-02-30T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn since_values_as_docker_takes_them() {
        let now = (1_700_000_000, 0);
        assert_eq!(parse_time_arg("10m", now), Some((1_699_999_400, 0)));
        assert_eq!(parse_time_arg("1h30m", now), Some((1_699_994_600, 0)));
        assert_eq!(
            parse_time_arg("1.5s", now),
            Some((1_699_999_998, 500_000_000))
        );
        assert_eq!(parse_time_arg("1699999999", now), Some((1_699_999_999, 0)));
        assert_eq!(
            parse_time_arg("1699999999.25", now),
            Some((1_699_999_999, 250_000_000))
        );
        assert_eq!(
            parse_time_arg("2023-11-14T22:13:20Z", now),
            Some((1_700_000_000, 0))
        );
        assert_eq!(
            parse_time_arg("2023-11-14T22:13:20", now),
            Some((1_700_000_000, 0))
        );
        assert_eq!(parse_time_arg("2023-11-14", now), Some((1_699_920_000, 0)));
        assert_eq!(parse_time_arg("soon", now), None);
        assert_eq!(parse_time_arg("10x", now), None);
    }
}
