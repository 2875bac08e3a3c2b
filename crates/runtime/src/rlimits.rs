//! `process.rlimits` by name → setrlimit. The kernel refuses raising a hard limit without
//! CAP_SYS_RESOURCE; that EPERM is reported as is, naming the limit.

use std::io;

use hull_oci::runtime::Rlimit;
use rustix::process::Resource;

/// OCI names and their resources.
const RLIMITS: &[(&str, Resource)] = &[
    ("RLIMIT_CPU", Resource::Cpu),
    ("RLIMIT_FSIZE", Resource::Fsize),
    ("RLIMIT_DATA", Resource::Data),
    ("RLIMIT_STACK", Resource::Stack),
    ("RLIMIT_CORE", Resource::Core),
    ("RLIMIT_RSS", Resource::Rss),
    ("RLIMIT_NPROC", Resource::Nproc),
    ("RLIMIT_NOFILE", Resource::Nofile),
    ("RLIMIT_MEMLOCK", Resource::Memlock),
    ("RLIMIT_AS", Resource::As),
    ("RLIMIT_LOCKS", Resource::Locks),
    ("RLIMIT_SIGPENDING", Resource::Sigpending),
    ("RLIMIT_MSGQUEUE", Resource::Msgqueue),
    ("RLIMIT_NICE", Resource::Nice),
    ("RLIMIT_RTPRIO", Resource::Rtprio),
    ("RLIMIT_RTTIME", Resource::Rttime),
];

pub fn resource(name: &str) -> Option<Resource> {
    RLIMITS.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// Checks every name (before fork, so a typo is reported cleanly).
pub fn validate(limits: &[Rlimit]) -> Result<(), String> {
    for l in limits {
        if resource(&l.kind).is_none() {
            return Err(format!("unknown rlimit {:?}", l.kind));
        }
        if l.soft > l.hard {
            return Err(format!(
                "rlimit {}: soft {} above hard {}",
                l.kind, l.soft, l.hard
            ));
        }
    }
    Ok(())
}

pub fn apply(limits: &[Rlimit]) -> io::Result<()> {
    for l in limits {
        let res = resource(&l.kind).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unknown rlimit {}", l.kind),
            )
        })?;
        let lim = rustix::process::Rlimit {
            current: (l.soft != u64::MAX).then_some(l.soft),
            maximum: (l.hard != u64::MAX).then_some(l.hard),
        };
        rustix::process::setrlimit(res, lim).map_err(|e| {
            let e = io::Error::from(e);
            io::Error::new(
                e.kind(),
                format!("setrlimit {} soft {} hard {}: {e}", l.kind, l.soft, l.hard),
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rl(kind: &str, soft: u64, hard: u64) -> Rlimit {
        Rlimit {
            kind: kind.into(),
            soft,
            hard,
        }
    }

    #[test]
    fn knows_the_names_and_rejects_bad_ones() {
        assert_eq!(resource("RLIMIT_NOFILE"), Some(Resource::Nofile));
        assert!(validate(&[rl("RLIMIT_NOFILE", 10, 20)]).is_ok());
        assert!(validate(&[rl("RLIMIT_BOGUS", 1, 1)]).is_err());
        assert!(validate(&[rl("RLIMIT_NOFILE", 30, 20)]).is_err());
    }
}
