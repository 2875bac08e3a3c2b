//! Scheduling and memory attributes of the calling thread, which a process keeps across execve
//! and passes to its children: I/O priority, scheduler policy, CPU affinity, execution domain
//! (personality) and NUMA memory policy. Mechanism only: numbers and bitmasks in, `io::Result`
//! out; the runtime maps the spec's names to them.
//!
//! Every call acts on the calling thread (pid 0), so a test can run them in a thread of its
//! own without touching the rest of its process.

use std::io;

/// ioprio_set/ioprio_get's `which` for one task.
const IOPRIO_WHO_PROCESS: libc::c_long = 1;
/// The class sits above 13 bits of level data (include/uapi/linux/ioprio.h).
const IOPRIO_CLASS_SHIFT: u32 = 13;
/// The most bits a CPU or node mask may have here (kernels cap nodes at 1024 and CPUs at 8192).
const MAX_MASK_BITS: usize = 1 << 16;

fn cvt(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Sets the calling thread's I/O scheduling class (1 RT, 2 BE, 3 IDLE) and level (0-7).
pub fn set_io_priority(class: u16, level: u16) -> io::Result<()> {
    let prio = (libc::c_long::from(class) << IOPRIO_CLASS_SHIFT) | libc::c_long::from(level);
    // SAFETY: ioprio_set takes three integers and reads or writes no memory of ours.
    cvt(unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, prio) }).map(drop)
}

/// The calling thread's I/O scheduling (class, level).
pub fn io_priority() -> io::Result<(u16, u16)> {
    // SAFETY: ioprio_get takes two integers and reads or writes no memory of ours.
    let prio = cvt(unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0) })?;
    Ok((
        (prio >> IOPRIO_CLASS_SHIFT) as u16,
        (prio & ((1 << IOPRIO_CLASS_SHIFT) - 1)) as u16,
    ))
}

/// The arguments of sched_setattr(2) (struct sched_attr without the utilization clamps, which
/// [`set_sched_attr`] leaves unclamped).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedAttr {
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
}

/// The kernel's struct sched_attr, version 1 (56 bytes: with the utilization clamps), so that
/// the SCHED_FLAG_UTIL_CLAMP_* flags are accepted.
#[repr(C)]
#[derive(Default)]
struct RawSchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
    util_min: u32,
    util_max: u32,
}

/// SCHED_CAPACITY_SCALE: a maximum clamp of this much clamps nothing.
const UTIL_UNCLAMPED_MAX: u32 = 1024;

/// Sets the calling thread's scheduling policy and parameters.
pub fn set_sched_attr(a: &SchedAttr) -> io::Result<()> {
    let raw = RawSchedAttr {
        size: std::mem::size_of::<RawSchedAttr>() as u32,
        policy: a.policy,
        flags: a.flags,
        nice: a.nice,
        priority: a.priority,
        runtime: a.runtime,
        deadline: a.deadline,
        period: a.period,
        util_min: 0,
        util_max: UTIL_UNCLAMPED_MAX,
    };
    // SAFETY: `raw` is a live, fully initialised struct sched_attr whose `size` field is its
    // own size, so the kernel reads exactly that many bytes from it and writes none.
    let ret = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &raw as *const RawSchedAttr, 0) };
    cvt(ret).map(drop)
}

/// The calling thread's scheduling policy and parameters.
pub fn sched_attr() -> io::Result<SchedAttr> {
    let mut raw = RawSchedAttr::default();
    let size = std::mem::size_of::<RawSchedAttr>() as libc::c_uint;
    // SAFETY: the kernel writes at most `size` bytes, the size of the live struct we pass.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_sched_getattr,
            0,
            &mut raw as *mut RawSchedAttr,
            size,
            0,
        )
    };
    cvt(ret)?;
    Ok(SchedAttr {
        policy: raw.policy,
        flags: raw.flags,
        nice: raw.nice,
        priority: raw.priority,
        runtime: raw.runtime,
        deadline: raw.deadline,
        period: raw.period,
    })
}

/// Restricts the calling thread to the CPUs whose bits are set in `mask` (bit n of word n/64
/// is CPU n).
pub fn set_cpu_affinity(mask: &[u64]) -> io::Result<()> {
    let bytes = std::mem::size_of_val(mask);
    // SAFETY: the kernel reads `bytes` bytes, the length of the live slice, and writes none.
    let ret = unsafe { libc::syscall(libc::SYS_sched_setaffinity, 0, bytes, mask.as_ptr()) };
    cvt(ret).map(drop)
}

/// The calling thread's CPU mask, in [`set_cpu_affinity`]'s form, without trailing zero words.
pub fn cpu_affinity() -> io::Result<Vec<u64>> {
    let mut words = 16; // 1024 CPUs, glibc's cpu_set_t
    loop {
        let mut mask = vec![0u64; words];
        let bytes = words * 8;
        // SAFETY: the kernel writes at most `bytes` bytes into the live buffer of that size.
        let ret =
            unsafe { libc::syscall(libc::SYS_sched_getaffinity, 0, bytes, mask.as_mut_ptr()) };
        match cvt(ret) {
            Ok(_) => {
                while mask.last() == Some(&0) {
                    mask.pop();
                }
                return Ok(mask);
            }
            // EINVAL: the kernel's mask is larger than our buffer.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && words * 64 < MAX_MASK_BITS => {
                words *= 2
            }
            Err(e) => return Err(e),
        }
    }
}

/// Sets the calling thread's execution domain and flags (personality(2)).
pub fn set_personality(persona: u32) -> io::Result<()> {
    // SAFETY: personality takes one integer and touches no memory of ours.
    let ret = unsafe { libc::personality(libc::c_ulong::from(persona)) };
    cvt(libc::c_long::from(ret)).map(drop)
}

/// The calling thread's personality.
pub fn personality() -> io::Result<u32> {
    // SAFETY: as above; 0xffffffff only queries.
    let ret = unsafe { libc::personality(0xffff_ffff) };
    cvt(libc::c_long::from(ret)).map(|p| p as u32)
}

/// Sets the calling thread's NUMA memory policy: `mode` (MPOL_*, with its MPOL_F_* flags or'ed
/// in) over the nodes set in `nodes` (bit n of word n/64 is node n; empty for none).
pub fn set_memory_policy(mode: i32, nodes: &[u64]) -> io::Result<()> {
    // set_mempolicy counts one bit more than it reads (it decrements maxnode first).
    let (ptr, maxnode) = match nodes.len() {
        0 => (std::ptr::null(), 0),
        n => (nodes.as_ptr(), n * 64 + 1),
    };
    // SAFETY: the kernel reads at most (maxnode - 1) bits, i.e. `nodes.len()` words of the
    // live slice (none from a null pointer with maxnode 0), and writes nothing.
    let ret = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) };
    cvt(ret).map(drop)
}

/// The calling thread's memory policy: the mode with its flags, and the first 1024 nodes'
/// mask (without trailing zero words).
pub fn memory_policy() -> io::Result<(i32, Vec<u64>)> {
    let mut mode: libc::c_int = 0;
    let mut nodes = vec![0u64; 16];
    let maxnode = nodes.len() * 64;
    // SAFETY: the kernel writes one int to `mode` and at most `maxnode` bits into the live
    // buffer of exactly that many; addr 0 with flags 0 asks for the thread's policy.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_get_mempolicy,
            &mut mode as *mut libc::c_int,
            nodes.as_mut_ptr(),
            maxnode,
            0usize,
            0,
        )
    };
    cvt(ret)?;
    while nodes.last() == Some(&0) {
        nodes.pop();
    }
    Ok((mode, nodes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` in a thread of its own, whose attributes die with it.
    fn in_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::spawn(f).join().unwrap()
    }

    #[test]
    fn affinity_round_trips() {
        let got = in_thread(|| {
            set_cpu_affinity(&[1]).unwrap();
            cpu_affinity().unwrap()
        });
        assert_eq!(got, vec![1]);
    }

    #[test]
    fn batch_policy_and_a_higher_nice_round_trip() {
        let got = in_thread(|| {
            let want = SchedAttr {
                policy: libc::SCHED_BATCH as u32,
                nice: 19,
                ..SchedAttr::default()
            };
            set_sched_attr(&want).unwrap();
            sched_attr().unwrap()
        });
        assert_eq!((got.policy, got.nice), (libc::SCHED_BATCH as u32, 19));
    }

    #[test]
    fn idle_io_class_round_trips() {
        let got = in_thread(|| {
            set_io_priority(3, 0).unwrap();
            io_priority().unwrap()
        });
        assert_eq!(got.0, 3);
    }

    #[test]
    fn personality_changes_uname_in_the_thread() {
        let (persona, machine) = in_thread(|| {
            set_personality(0x0008).unwrap(); // PER_LINUX32
            let machine = rustix::system::uname()
                .machine()
                .to_string_lossy()
                .into_owned();
            (personality().unwrap(), machine)
        });
        assert_eq!(persona & 0xff, 0x0008);
        if cfg!(target_arch = "x86_64") {
            assert_eq!(machine, "i686");
        }
    }

    #[test]
    fn memory_policy_round_trips_where_numa_is_built_in() {
        let got = in_thread(|| {
            set_memory_policy(libc::MPOL_BIND, &[1]).map(|()| memory_policy().unwrap())
        });
        match got {
            Ok((mode, nodes)) => assert_eq!((mode, nodes), (libc::MPOL_BIND, vec![1])),
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                println!("skipped: memory policy round trip (kernel without NUMA: {e})")
            }
            Err(e) => panic!("set_mempolicy: {e}"),
        }
    }
}
