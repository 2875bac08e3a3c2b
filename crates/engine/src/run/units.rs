//! Docker's unit syntax for resource flags: `--memory 32m`, `--cpus 1.5`, `--ulimit nofile=1024:2048`,
//! and Go's durations (`--health-interval 1m30s`, `logs --since 10m`).

/// Parses a byte size as Docker's `RAMInBytes` does: a number with an optional unit `b`, `k`, `m`,
/// `g`, `t` (binary multiples, case-insensitive, an optional trailing `b` as in `32mb`).
pub fn parse_bytes(s: &str) -> Result<i64, String> {
    let t = s.trim().to_ascii_lowercase();
    let digits_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(digits_end);
    let value: f64 = num.parse().map_err(|_| format!("invalid size: {s:?}"))?;
    let shift = match unit {
        "" | "b" => 0,
        "k" | "kb" => 10,
        "m" | "mb" => 20,
        "g" | "gb" => 30,
        "t" | "tb" => 40,
        _ => return Err(format!("invalid size: {s:?}")),
    };
    let bytes = value * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes >= i64::MAX as f64 {
        return Err(format!("invalid size: {s:?}"));
    }
    Ok(bytes as i64)
}

/// The CFS period Docker uses for `--cpus`: 100ms, in microseconds.
pub const CPU_PERIOD: u64 = 100_000;

/// `--cpus 1.5` → quota in microseconds per [`CPU_PERIOD`] (1.5 × 100000 = 150000).
pub fn parse_cpus(s: &str) -> Result<i64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("invalid number of cpus: {s:?}"))?;
    if !v.is_finite() || v <= 0.0 || v > 1024.0 {
        return Err(format!("invalid number of cpus: {s:?}"));
    }
    Ok((v * CPU_PERIOD as f64).round() as i64)
}

/// One `--ulimit name=soft[:hard]`, as an OCI rlimit type (`RLIMIT_NOFILE`) and values.
pub fn parse_ulimit(s: &str) -> Result<(String, u64, u64), String> {
    let (name, values) = s
        .split_once('=')
        .ok_or_else(|| format!("invalid ulimit argument: {s:?}"))?;
    let kind = ULIMIT_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, k)| k.to_string())
        .ok_or_else(|| format!("invalid ulimit type: {name}"))?;
    let (soft, hard) = match values.split_once(':') {
        Some((a, b)) => (parse_limit(a, s)?, parse_limit(b, s)?),
        None => {
            let v = parse_limit(values, s)?;
            (v, v)
        }
    };
    if soft > hard {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        ));
    }
    Ok((kind, soft, hard))
}

fn parse_limit(v: &str, whole: &str) -> Result<u64, String> {
    if v == "-1" || v == "unlimited" {
        return Ok(u64::MAX);
    }
    v.parse()
        .map_err(|_| format!("invalid ulimit argument: {whole:?}"))
}

/// Docker's `--ulimit` names → OCI rlimit types.
const ULIMIT_NAMES: [(&str, &str); 16] = [
    ("core", "RLIMIT_CORE"),
    ("cpu", "RLIMIT_CPU"),
    ("data", "RLIMIT_DATA"),
    ("fsize", "RLIMIT_FSIZE"),
    ("locks", "RLIMIT_LOCKS"),
    ("memlock", "RLIMIT_MEMLOCK"),
    ("msgqueue", "RLIMIT_MSGQUEUE"),
    ("nice", "RLIMIT_NICE"),
    ("nofile", "RLIMIT_NOFILE"),
    ("nproc", "RLIMIT_NPROC"),
    ("rss", "RLIMIT_RSS"),
    ("rtprio", "RLIMIT_RTPRIO"),
    ("rttime", "RLIMIT_RTTIME"),
    ("sigpending", "RLIMIT_SIGPENDING"),
    ("stack", "RLIMIT_STACK"),
    ("as", "RLIMIT_AS"),
];

/// Go's `time.ParseDuration`: a signed sequence of decimal numbers with units (`ns`, `us`,
/// `µs`, `ms`, `s`, `m`, `h`), such as `1m30s` or `1.5s`; `0` alone needs no unit.
pub fn parse_go_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("time: invalid duration {s:?}");
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("time: missing unit in duration {s:?}"))?;
        let number: f64 = rest[..num_end].parse().map_err(|_| bad())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale: f64 = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            u => return Err(format!("time: unknown unit {u:?} in duration {s:?}")),
        };
        total += number * scale;
        rest = &rest[unit_end..];
    }
    if total > i64::MAX as f64 {
        return Err(bad());
    }
    let ns = total.round() as i64;
    Ok(if neg { -ns } else { ns })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units_are_binary_multiples() {
        for (input, want) in [
            ("0", 0),
            ("512", 512),
            ("512b", 512),
            ("4k", 4096),
            ("32m", 32 << 20),
            ("32M", 32 << 20),
            ("32mb", 32 << 20),
            ("1.5g", 3 << 29),
            ("2G", 2 << 30),
        ] {
            assert_eq!(parse_bytes(input), Ok(want), "{input}");
        }
        for bad in ["", "m", "32x", "-1", "1..2m", "32 m b"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cpus_become_a_quota_per_100ms() {
        assert_eq!(parse_cpus("1.5"), Ok(150_000));
        assert_eq!(parse_cpus("0.5"), Ok(50_000));
        assert_eq!(parse_cpus("2"), Ok(200_000));
        assert!(parse_cpus("0").is_err());
        assert!(parse_cpus("-1").is_err());
        assert!(parse_cpus("lots").is_err());
    }

    #[test]
    fn ulimits_parse_soft_and_hard() {
        assert_eq!(
            parse_ulimit("nofile=1024:2048"),
            Ok(("RLIMIT_NOFILE".into(), 1024, 2048))
        );
        assert_eq!(
            parse_ulimit("nproc=64"),
            Ok(("RLIMIT_NPROC".into(), 64, 64))
        );
        assert!(parse_ulimit("nofile=2048:1024").is_err());
        assert!(parse_ulimit("bogus=1").is_err());
        assert!(parse_ulimit("nofile").is_err());
        assert!(parse_ulimit("nofile=x").is_err());
    }
}
