//! Expiry periods: the `--expires 30d` syntax and the Best Practices defaults per role.

use chrono::{DateTime, Duration, SubsecRound, Utc};

/// Default validity by role (Deployment Best Practices 4.2.2): offline roles last long, the
/// online snapshot and timestamp short, so a frozen repository is noticed quickly.
pub fn default_for(role: &str) -> Duration {
    match role {
        "root" => Duration::days(365),
        "snapshot" => Duration::days(7),
        "timestamp" => Duration::days(1),
        // Top-level and delegated targets alike.
        _ => Duration::days(90),
    }
}

/// Parses `30d`, `12h`, `90m`, `45s`, `2w` or `1y` (365 days): one positive number, one unit.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: i64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a number and a unit, e.g. 30d or 12h"))?;
    if n == 0 {
        return Err(format!("{text:?}: must be positive"));
    }
    let duration = match unit {
        "s" => Duration::try_seconds(n),
        "m" => Duration::try_minutes(n),
        "h" => Duration::try_hours(n),
        "d" => Duration::try_days(n),
        "w" => Duration::try_weeks(n),
        "y" => n.checked_mul(365).and_then(Duration::try_days),
        _ => return Err(format!("{text:?}: unit must be one of s, m, h, d, w, y")),
    };
    duration.ok_or_else(|| format!("{text:?}: too long"))
}

/// The shortest exact spelling of a duration in the `--expires` syntax: `30d`, `12h`, `90s`.
pub fn format(duration: Duration) -> String {
    let seconds = duration.num_seconds();
    [(86_400, "d"), (3_600, "h"), (60, "m")]
        .into_iter()
        .find(|(unit, _)| seconds % unit == 0)
        .map_or_else(|| format!("{seconds}s"), |(unit, name)| format!("{}{name}", seconds / unit))
}

/// Now, to the second: TUF times carry no fractions, so comparisons stay exact.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// Human form of a remaining time: `89d 23h`, `5h 12m`, or `expired 3d ago`.
pub fn describe_remaining(remaining: Duration) -> String {
    let (prefix, suffix, d) = if remaining < Duration::zero() {
        ("expired ", " ago", -remaining)
    } else {
        ("", "", remaining)
    };
    let body = if d.num_days() > 0 {
        format!("{}d {}h", d.num_days(), d.num_hours() % 24)
    } else {
        format!("{}h {}m", d.num_hours(), d.num_minutes() % 60)
    };
    format!("{prefix}{body}{suffix}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse("30d"), Ok(Duration::days(30)));
        assert_eq!(parse("12h"), Ok(Duration::hours(12)));
        assert_eq!(parse("2w"), Ok(Duration::days(14)));
        assert_eq!(parse("1y"), Ok(Duration::days(365)));
        assert_eq!(format(Duration::days(30)), "30d");
        assert_eq!(format(Duration::minutes(90)), "90m");
        assert_eq!(format(Duration::seconds(61)), "61s");
        for bad in ["", "d", "30", "0d", "-1d", "3x", "1.5d", "99999999999999999y"] {
            assert!(parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn remaining_reads_naturally() {
        assert_eq!(describe_remaining(Duration::hours(49)), "2d 1h");
        assert_eq!(describe_remaining(Duration::minutes(-90)), "expired 1h 30m ago");
    }
}
