//! The kernel interfaces hull needs beyond Linux 5.10's baseline, and what a caller sees where
//! one is missing. Each newer interface has either a fallback next to its wrapper
//! (`lowerdir+` → [`crate::mount::overlay`]'s joined form; `CLOSE_RANGE_CLOEXEC` →
//! [`crate::process::set_cloexec_each`]) or, via [`needs`], an error that names the kernel version
//! it takes, instead of a bare "Function not implemented".

use std::io;

/// Wraps an ENOSYS from `call` into an error saying it needs Linux `version` (or that a seccomp
/// policy around hull hides it, which answers ENOSYS too). Other errors pass through unchanged.
pub fn needs(call: &'static str, version: &'static str) -> impl FnOnce(io::Error) -> io::Error {
    move |e| {
        if e.raw_os_error() == Some(libc::ENOSYS) {
            io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "{call}: not available (needs Linux {version} or later, and no seccomp \
                     policy around hull that blocks it)"
                ),
            )
        } else {
            e
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enosys_names_the_call_and_version_and_other_errors_pass() {
        let e = needs("clone3", "5.3")(io::Error::from_raw_os_error(libc::ENOSYS));
        assert_eq!(e.kind(), io::ErrorKind::Unsupported);
        assert!(
            e.to_string()
                .starts_with("clone3: not available (needs Linux 5.3"),
            "{e}"
        );
        let e = needs("clone3", "5.3")(io::Error::from_raw_os_error(libc::EPERM));
        assert_eq!(e.raw_os_error(), Some(libc::EPERM));
    }
}
