//! Lists of CPUs or NUMA nodes as the spec writes them (`0-3,7`, the kernel's "cpulist"
//! format), as bitmasks in `hull_sys::sched`'s form (bit n of word n/64).

use std::path::Path;

/// The highest CPU or node number a list may name: far above any kernel's (nodes stop at 1023,
/// CPUs at 8191), low enough that a typo like `0-9876543210` cannot allocate gigabytes.
pub const MAX_ID: u32 = (1 << 16) - 1;

/// Parses `list` into a bitmask; `field` names the spec field for the error. An empty list (or
/// only blanks) is an empty mask.
pub fn parse(field: &str, list: &str) -> Result<Vec<u64>, String> {
    let mut mask = Vec::new();
    let trimmed = list.trim();
    if trimmed.is_empty() {
        return Ok(mask);
    }
    for part in trimmed.split(',') {
        let bad = |why: &str| format!("{field} {list:?}: {why} in {:?}", part.trim());
        let (lo, hi) = match part.trim().split_once('-') {
            Some((a, b)) => (number(a).map_err(&bad)?, number(b).map_err(&bad)?),
            None => {
                let n = number(part).map_err(&bad)?;
                (n, n)
            }
        };
        if lo > hi {
            return Err(bad("a range that ends before it starts"));
        }
        for id in lo..=hi {
            set(&mut mask, id);
        }
    }
    Ok(mask)
}

fn number(s: &str) -> Result<u32, &'static str> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("not a number");
    }
    match s.parse::<u32>() {
        Ok(n) if n <= MAX_ID => Ok(n),
        _ => Err("a number too large"),
    }
}

fn set(mask: &mut Vec<u64>, id: u32) {
    let word = (id / 64) as usize;
    if mask.len() <= word {
        mask.resize(word + 1, 0);
    }
    mask[word] |= 1 << (id % 64);
}

/// The ids whose bits are set.
pub fn ids(mask: &[u64]) -> Vec<u32> {
    (0..mask.len() as u32 * 64)
        .filter(|&i| mask[(i / 64) as usize] & (1 << (i % 64)) != 0)
        .collect()
}

/// The mask as one hexadecimal number (`0x3` for CPUs 0 and 1), as runc's debug log shows it.
pub fn hex(mask: &[u64]) -> String {
    let mut words = mask.iter().rev().skip_while(|w| **w == 0);
    let Some(first) = words.next() else {
        return "0x0".into();
    };
    let mut s = format!("0x{first:x}");
    for w in words {
        s.push_str(&format!("{w:016x}"));
    }
    s
}

/// The ids of `mask` that are not in the host's list at `sysfs` (for example
/// /sys/devices/system/cpu/possible); an unreadable list is an error naming it.
pub fn missing_on_host(mask: &[u64], sysfs: &Path) -> Result<Vec<u32>, String> {
    let text =
        std::fs::read_to_string(sysfs).map_err(|e| format!("read {}: {e}", sysfs.display()))?;
    let host = parse(&sysfs.display().to_string(), &text)?;
    Ok(ids(mask)
        .into_iter()
        .filter(|&i| {
            host.get((i / 64) as usize)
                .is_none_or(|w| w & (1 << (i % 64)) == 0)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_ids_ranges_and_blanks() {
        assert_eq!(parse("f", "0-3,7").unwrap(), vec![0b1000_1111]);
        assert_eq!(parse("f", " 1 , 65 ").unwrap(), vec![0b10, 0b10]);
        assert_eq!(parse("f", "").unwrap(), Vec::<u64>::new());
        assert_eq!(ids(&parse("f", "2-4").unwrap()), vec![2, 3, 4]);
    }

    #[test]
    fn refuses_bad_syntax_and_huge_ids_naming_the_field() {
        for bad in ["a", "1-", "-1", "3-1", "1,,2", "0-9876543210", "1 2", "+1"] {
            let err = parse("process.execCPUAffinity.final", bad).unwrap_err();
            assert!(err.starts_with("process.execCPUAffinity.final "), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
        assert!(parse("f", "0-9876543210")
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn formats_masks_as_one_hex_number() {
        assert_eq!(hex(&[0b11]), "0x3");
        assert_eq!(hex(&[1, 1]), "0x10000000000000001");
        assert_eq!(hex(&[]), "0x0");
    }

    #[test]
    fn finds_ids_the_host_lacks() {
        let dir = tempfile::tempdir().unwrap();
        let possible = dir.path().join("possible");
        std::fs::write(&possible, "0-1\n").unwrap();
        assert_eq!(
            missing_on_host(&[0b11], &possible).unwrap(),
            Vec::<u32>::new()
        );
        assert_eq!(
            missing_on_host(&[0b101, 1], &possible).unwrap(),
            vec![2, 64]
        );
    }
}
