//! `update`: runc's flags (or a linux.resources JSON, as containerd's shim sends it with
//! `update --resources=- ID`) → [`Resources`] for [`hull_runtime::Runtime::update`].

use std::io::Read;

use anyhow::{anyhow, bail, Context, Result};
use hull_oci::runtime::{BlockIo, Cpu, Memory, Pids, Resources};
use hull_runtime::Runtime;

use super::args::UpdateArgs;

pub fn update(rt: &Runtime, a: UpdateArgs) -> Result<u8> {
    let resources = requested(&a, &mut std::io::stdin().lock())?;
    let memory = resources.memory.as_ref();
    if memory.is_some_and(|m| m.kernel.is_some() || m.kernel_tcp.is_some()) {
        eprintln!("warning: kernel memory settings are ignored (the kernel has no such limits)");
    }
    rt.update(&a.id, &resources)?;
    Ok(0)
}

/// The resources `a` asks for: with `--resources` only its JSON (runc ignores the other flags
/// then), otherwise the flags.
pub(super) fn requested(a: &UpdateArgs, stdin: &mut dyn Read) -> Result<Resources> {
    match a.resources.as_deref() {
        Some(source) => read_resources(source, stdin),
        None => from_flags(a),
    }
}

/// `-r FILE` or `-r -`: a JSON linux.resources object.
pub(super) fn read_resources(source: &str, stdin: &mut dyn Read) -> Result<Resources> {
    let mut text = Vec::new();
    if source == "-" {
        stdin
            .read_to_end(&mut text)
            .context("read resources from stdin")?;
    } else {
        text = std::fs::read(source).with_context(|| format!("read resources {source}"))?;
    }
    serde_json::from_slice(&text).with_context(|| format!("parse resources {source}"))
}

/// The flags as runc reads them: each given flag sets its field, an absent one leaves it unset.
pub(super) fn from_flags(a: &UpdateArgs) -> Result<Resources> {
    let uint = |flag, v: &Option<String>| v.as_deref().map(|v| parse_uint(flag, v)).transpose();
    let int = |flag, v: &Option<String>| v.as_deref().map(|v| parse_int(flag, v)).transpose();
    let bytes = |flag, v: &Option<String>| v.as_deref().map(|v| ram_in_bytes(flag, v)).transpose();
    let text = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    let cpu = Cpu {
        shares: uint("cpu-share", &a.cpu_share)?,
        quota: int("cpu-quota", &a.cpu_quota)?,
        period: uint("cpu-period", &a.cpu_period)?,
        realtime_runtime: int("cpu-rt-runtime", &a.cpu_rt_runtime)?,
        realtime_period: uint("cpu-rt-period", &a.cpu_rt_period)?,
        cpus: text(&a.cpuset_cpus),
        mems: text(&a.cpuset_mems),
        idle: int("cpu-idle", &a.cpu_idle)?,
    };
    let memory = Memory {
        limit: bytes("memory", &a.memory)?,
        reservation: bytes("memory-reservation", &a.memory_reservation)?,
        swap: bytes("memory-swap", &a.memory_swap)?,
        kernel: bytes("kernel-memory", &a.kernel_memory)?,
        kernel_tcp: bytes("kernel-memory-tcp", &a.kernel_memory_tcp)?,
        ..Memory::default()
    };
    let block_io = a.blkio_weight.filter(|&w| w != 0).map(|w| BlockIo {
        weight: Some(w),
        ..BlockIo::default()
    });
    Ok(Resources {
        memory: (memory != Memory::default()).then_some(memory),
        cpu: (cpu != Cpu::default()).then_some(cpu),
        pids: a.pids_limit.map(|limit| Pids { limit }),
        block_io,
        ..Resources::default()
    })
}

fn parse_uint(flag: &str, v: &str) -> Result<u64> {
    v.parse()
        .map_err(|_| anyhow!("invalid value for {flag}: {v:?} is not an unsigned integer"))
}

fn parse_int(flag: &str, v: &str) -> Result<i64> {
    v.parse()
        .map_err(|_| anyhow!("invalid value for {flag}: {v:?} is not an integer"))
}

/// A size as runc takes it (go-units' RAMInBytes): `-1`, or a number with an optional binary
/// unit `k`, `m`, `g`, `t`, `p`, then optional `i` and `b` (`64M`, `64mb`, `1.5GiB`, `512`).
pub(super) fn ram_in_bytes(flag: &str, v: &str) -> Result<i64> {
    if v == "-1" {
        return Ok(-1);
    }
    let bad = || anyhow!("invalid value for {flag}: {v:?} is not a size such as 64M");
    let lower = v.to_ascii_lowercase();
    let end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(end);
    let unit = unit.strip_prefix(' ').unwrap_or(unit);
    let unit = unit.strip_suffix('b').unwrap_or(unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let shift = match unit {
        "" if !lower.ends_with('i') => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return Err(bad()),
    };
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return Err(bad());
    }
    let value: f64 = num.parse().map_err(|_| bad())?;
    let bytes = value * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes >= i64::MAX as f64 {
        bail!("invalid value for {flag}: {v:?} is too large");
    }
    Ok(bytes as i64)
}

#[cfg(test)]
mod tests {
    use super::super::args::{OciCli, OciCommand};
    use super::*;
    use clap::Parser;

    fn args(flags: &[&str]) -> UpdateArgs {
        let argv = ["hull-runtime", "update"]
            .iter()
            .chain(flags)
            .chain(&["c1"]);
        match OciCli::try_parse_from(argv).expect("parse").command {
            Some(OciCommand::Update(a)) => a,
            other => panic!("not update: {other:?}"),
        }
    }

    #[test]
    fn flags_become_resources() {
        let a = args(&[
            "--memory",
            "64M",
            "--memory-swap",
            "-1",
            "--memory-reservation",
            "32m",
            "--cpu-quota",
            "50000",
            "--cpu-period",
            "100000",
            "--cpu-shares",
            "512",
            "--cpuset-cpus",
            "0",
            "--cpuset-mems",
            "0",
            "--pids-limit",
            "20",
            "--blkio-weight",
            "300",
            "--cpu-rt-period",
            "1000000",
            "--cpu-rt-runtime",
            "950000",
        ]);
        let r = from_flags(&a).unwrap();
        let m = r.memory.unwrap();
        assert_eq!(
            (m.limit, m.swap, m.reservation),
            (Some(64 << 20), Some(-1), Some(32 << 20))
        );
        let c = r.cpu.unwrap();
        assert_eq!(
            (c.quota, c.period, c.shares),
            (Some(50_000), Some(100_000), Some(512))
        );
        assert_eq!(
            (c.cpus.as_deref(), c.mems.as_deref()),
            (Some("0"), Some("0"))
        );
        assert_eq!(
            (c.realtime_period, c.realtime_runtime),
            (Some(1_000_000), Some(950_000))
        );
        assert_eq!(r.pids, Some(Pids { limit: 20 }));
        assert_eq!(r.block_io.unwrap().weight, Some(300));
    }

    #[test]
    fn absent_flags_stay_unset() {
        let r = from_flags(&args(&["--pids-limit", "-1"])).unwrap();
        assert_eq!((r.memory, r.cpu, r.block_io), (None, None, None));
        assert_eq!(r.pids, Some(Pids { limit: -1 }));
        let r = from_flags(&args(&["--memory", "1g"])).unwrap();
        assert_eq!((r.cpu, r.pids), (None, None));
        let r = from_flags(&args(&["--kernel-memory", "10m"])).unwrap();
        assert_eq!(r.memory.unwrap().kernel, Some(10 << 20));
    }

    #[test]
    fn bad_values_name_the_flag() {
        let e = from_flags(&args(&["--cpu-quota", "lots"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cpu-quota"), "{e}");
        let e = from_flags(&args(&["--memory", "64X"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("memory") && e.contains("64X"), "{e}");
        assert!(from_flags(&args(&["--cpu-period", "-5"])).is_err());
    }

    #[test]
    fn sizes_as_runc_reads_them() {
        for (v, want) in [
            ("512", 512),
            ("64M", 64 << 20),
            ("64mb", 64 << 20),
            ("64MiB", 64 << 20),
            ("1.5g", 3 << 29),
            ("2 k", 2048),
            ("-1", -1),
        ] {
            assert_eq!(ram_in_bytes("memory", v).unwrap(), want, "{v}");
        }
        for v in ["", "m", "1.m", "-2", "12q", "1i", "1e3"] {
            assert!(ram_in_bytes("memory", v).is_err(), "{v}");
        }
    }

    #[test]
    fn resources_json_from_stdin_or_a_file() {
        // What containerd's shim writes for UpdateContainerResources.
        let json = r#"{"memory":{"limit":67108864,"swap":67108864},
            "cpu":{"shares":256,"quota":50000,"period":100000},"pids":{"limit":20},
            "unified":{"memory.high":"60000000"}}"#;
        let r = read_resources("-", &mut json.as_bytes()).unwrap();
        assert_eq!(r.memory.unwrap().limit, Some(64 << 20));
        assert_eq!(r.cpu.unwrap().quota, Some(50_000));
        assert_eq!(r.pids, Some(Pids { limit: 20 }));
        assert_eq!(r.unified["memory.high"], "60000000");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        std::fs::write(&path, r#"{"cpu":{"cpus":"0"}}"#).unwrap();
        let r = read_resources(path.to_str().unwrap(), &mut std::io::empty()).unwrap();
        assert_eq!(r.cpu.unwrap().cpus.as_deref(), Some("0"));
        let e = read_resources("-", &mut &b"{not json"[..]).unwrap_err();
        assert!(format!("{e:#}").contains("parse resources -"), "{e:#}");
    }

    #[test]
    fn with_resources_the_flags_are_ignored_as_in_runc() {
        let a = args(&["-r", "-", "--memory", "1g", "--pids-limit", "5"]);
        let json = br#"{"memory":{"limit":67108864}}"#;
        let r = requested(&a, &mut &json[..]).unwrap();
        assert_eq!(r.memory.unwrap().limit, Some(64 << 20));
        assert_eq!(r.pids, None);
        let r = requested(&args(&["--memory", "1g"]), &mut std::io::empty()).unwrap();
        assert_eq!(r.memory.unwrap().limit, Some(1 << 30));
    }
}
