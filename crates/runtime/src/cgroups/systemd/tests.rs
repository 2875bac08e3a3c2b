use hull_oci::runtime::{BlockIo, Cpu, Memory, Pids, Resources};

use super::*;

fn scope(path: &str) -> Result<Scope, CgroupError> {
    Scope::parse(Some(path), "abc")
}

#[test]
fn slices_nest_at_each_dash() {
    assert_eq!(expand_slice("system.slice").unwrap(), "/system.slice");
    assert_eq!(expand_slice("-.slice").unwrap(), "/");
    assert_eq!(
        expand_slice("kubepods-besteffort-pod1.slice").unwrap(),
        "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice"
    );
    for bad in [
        "system",
        ".slice",
        "a--b.slice",
        "-a.slice",
        "a-.slice",
        "a/b.slice",
    ] {
        assert!(expand_slice(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_three_parts_make_the_unit_and_its_cgroup() {
    let s = scope("kubepods-besteffort-pod1.slice:cri-containerd:0123").unwrap();
    assert_eq!(s.unit, "cri-containerd-0123.scope");
    assert_eq!(s.slice, "kubepods-besteffort-pod1.slice");
    assert_eq!(
        s.cgroup_path,
        "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-0123.scope"
    );
    let root = scope("-.slice:p:n").unwrap();
    assert_eq!(root.cgroup_path, "/p-n.scope");
}

#[test]
fn empty_parts_take_the_defaults() {
    let s = scope("::").unwrap();
    assert_eq!(
        (s.slice.as_str(), s.unit.as_str()),
        ("system.slice", "abc.scope")
    );
    assert_eq!(s.cgroup_path, "/system.slice/abc.scope");
    let s = Scope::parse(None, "abc").unwrap();
    assert_eq!(s.unit, "hull-abc.scope");
    assert_eq!(s.cgroup_path, "/system.slice/hull-abc.scope");
}

#[test]
fn other_forms_are_refused_naming_the_path() {
    for bad in [
        "/hull/abc",
        "a:b",
        "a:b:c:d",
        "nope:p:n",
        "x.slice:p:n.slice",
        "x.slice:a/b:n",
    ] {
        let e = scope(bad).unwrap_err().to_string();
        assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
    }
}

#[test]
fn cpu_lists_become_little_endian_bitmasks() {
    assert_eq!(range_to_bits("0").unwrap(), vec![1]);
    assert_eq!(range_to_bits("0-2,7").unwrap(), vec![0b1000_0111]);
    assert_eq!(range_to_bits("8, 10-11").unwrap(), vec![0, 0b1101]);
    for bad in ["", "x", "3-1", "1-"] {
        assert!(range_to_bits(bad).is_err(), "{bad}");
    }
}

fn prop<'a>(props: &'a Props, name: &str) -> Option<&'a Prop> {
    props.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
}

#[test]
fn limits_become_unit_properties() {
    let r = Resources {
        memory: Some(Memory {
            limit: Some(64 << 20),
            reservation: Some(32 << 20),
            swap: Some(96 << 20),
            ..Memory::default()
        }),
        cpu: Some(Cpu {
            shares: Some(1024),
            quota: Some(50_000),
            period: Some(100_000),
            cpus: Some("0-1".into()),
            mems: Some("0".into()),
            ..Cpu::default()
        }),
        pids: Some(Pids { limit: 0 }),
        block_io: Some(BlockIo {
            weight: Some(500),
            ..BlockIo::default()
        }),
        ..Resources::default()
    };
    let (props, fs) = resource_properties(&r).unwrap();
    let u = |n: u64| Some(Prop::U64(n));
    assert_eq!(prop(&props, "MemoryMax").cloned(), u(64 << 20));
    assert_eq!(prop(&props, "MemoryLow").cloned(), u(32 << 20));
    assert_eq!(prop(&props, "MemorySwapMax").cloned(), u(32 << 20));
    assert_eq!(prop(&props, "CPUWeight").cloned(), u(39));
    assert_eq!(prop(&props, "CPUQuotaPerSecUSec").cloned(), u(500_000));
    assert_eq!(prop(&props, "CPUQuotaPeriodUSec").cloned(), u(100_000));
    assert_eq!(
        prop(&props, "AllowedCPUs").cloned(),
        Some(Prop::Bytes(vec![3]))
    );
    assert_eq!(
        prop(&props, "AllowedMemoryNodes").cloned(),
        Some(Prop::Bytes(vec![1]))
    );
    assert_eq!(prop(&props, "TasksMax").cloned(), u(1), "systemd refuses 0");
    assert_eq!(prop(&props, "IOWeight").cloned(), u(4950));
    assert_eq!(fs, r, "nothing to round");
}

#[test]
fn unlimited_values_are_infinity_and_quotas_round_as_systemd_does() {
    let r = Resources {
        memory: Some(Memory {
            limit: Some(-1),
            swap: Some(-1),
            ..Memory::default()
        }),
        cpu: Some(Cpu {
            quota: Some(12_345),
            period: Some(50_000),
            ..Cpu::default()
        }),
        pids: Some(Pids { limit: -1 }),
        ..Resources::default()
    };
    let (props, fs) = resource_properties(&r).unwrap();
    for name in ["MemoryMax", "MemorySwapMax", "TasksMax"] {
        assert_eq!(prop(&props, name), Some(&Prop::U64(u64::MAX)), "{name}");
    }
    // 12345 µs per 50 ms is 246900 µs/s, rounded up to 250000; back in the period: 12500.
    assert_eq!(
        prop(&props, "CPUQuotaPerSecUSec"),
        Some(&Prop::U64(250_000))
    );
    assert_eq!(fs.cpu.unwrap().quota, Some(12_500));
    let none = resource_properties(&Resources::default()).unwrap().0;
    assert!(none.is_empty(), "{none:?}");
    let unlimited_quota = Resources {
        cpu: Some(Cpu {
            quota: Some(-1),
            ..Cpu::default()
        }),
        ..Resources::default()
    };
    let props = resource_properties(&unlimited_quota).unwrap().0;
    assert_eq!(
        prop(&props, "CPUQuotaPerSecUSec"),
        Some(&Prop::U64(u64::MAX))
    );
}

#[test]
fn a_swap_limit_without_memory_limit_is_refused() {
    let r = Resources {
        memory: Some(Memory {
            swap: Some(1 << 30),
            ..Memory::default()
        }),
        ..Resources::default()
    };
    assert!(resource_properties(&r).is_err());
}
