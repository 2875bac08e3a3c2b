//! Recursive mount attributes: the `rro`, `rnosuid`, `rnoexec`, ... words in a mount's options
//! (runtime-spec's "recursive mount attributes"). Plain mount flags reach one mount only; these
//! reach the mount and every mount below it (the submounts an `rbind` brought along), through
//! mount_setattr(2) with AT_RECURSIVE.

use std::io;
use std::path::Path;

use hull_sys::mount::attr;

/// What to set and clear on a mount tree, and the option words that asked for it (for errors).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecursiveAttrs {
    pub set: u64,
    pub clear: u64,
    pub words: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
enum Effect {
    Set(u64),
    Clear(u64),
    /// The access-time mode, which is a value in [`attr::ATIME_MASK`], not a bit of its own.
    Atime(u64),
}

/// Each word and its effect. The access-time words choose one mode; their negations go back
/// to the kernel's default mode, relatime, as the same words do for a plain mount(2)
/// (`norelatime` there also ends up relatime).
const TABLE: &[(&str, Effect)] = {
    use Effect::*;
    &[
        ("rro", Set(attr::RDONLY)),
        ("rrw", Clear(attr::RDONLY)),
        ("rnosuid", Set(attr::NOSUID)),
        ("rsuid", Clear(attr::NOSUID)),
        ("rnodev", Set(attr::NODEV)),
        ("rdev", Clear(attr::NODEV)),
        ("rnoexec", Set(attr::NOEXEC)),
        ("rexec", Clear(attr::NOEXEC)),
        ("rnodiratime", Set(attr::NODIRATIME)),
        ("rdiratime", Clear(attr::NODIRATIME)),
        ("rnosymfollow", Set(attr::NOSYMFOLLOW)),
        ("rsymfollow", Clear(attr::NOSYMFOLLOW)),
        ("rnoatime", Atime(attr::NOATIME)),
        ("ratime", Atime(attr::RELATIME)),
        ("rstrictatime", Atime(attr::STRICTATIME)),
        ("rnostrictatime", Atime(attr::RELATIME)),
        ("rrelatime", Atime(attr::RELATIME)),
        ("rnorelatime", Atime(attr::RELATIME)),
    ]
};

impl RecursiveAttrs {
    /// Takes `word` in when it is a recursive attribute (a later word overrides an earlier
    /// one); false for any other option.
    pub fn add(&mut self, word: &str) -> bool {
        let Some((_, effect)) = TABLE.iter().find(|(name, _)| *name == word) else {
            return false;
        };
        match *effect {
            Effect::Set(f) => {
                self.set |= f;
                self.clear &= !f;
            }
            Effect::Clear(f) => {
                self.clear |= f;
                self.set &= !f;
            }
            Effect::Atime(mode) => {
                // The kernel takes a new mode only with the whole mask in `clear`.
                self.set = (self.set & !attr::ATIME_MASK) | mode;
                self.clear |= attr::ATIME_MASK;
            }
        }
        self.words.push(word.to_string());
        true
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Applies the attributes to the mount at `target` and all mounts below it. `destination`
    /// (the container path) names the mount in errors.
    pub fn apply(&self, target: &Path, destination: &Path) -> io::Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        hull_sys::mount::set_attributes_recursive(target, self.set, self.clear)
            .map_err(|e| self.error(destination, e))
    }

    fn error(&self, destination: &Path, e: io::Error) -> io::Error {
        let words = self.words.join(",");
        let dest = destination.display();
        let cause = match e.raw_os_error() {
            Some(libc::ENOSYS) => "this kernel has no mount_setattr(2) (Linux 5.12 or later), \
                                   which recursive options need"
                .to_string(),
            Some(libc::EINVAL) if self.set & attr::NOSYMFOLLOW != 0 => {
                format!("{e} (rnosymfollow needs Linux 5.14 or later)")
            }
            _ => e.to_string(),
        };
        io::Error::new(e.kind(), format!("mount {dest}: options {words}: {cause}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(words: &[&str]) -> RecursiveAttrs {
        let mut a = RecursiveAttrs::default();
        for w in words {
            assert!(a.add(w), "{w}");
        }
        a
    }

    #[test]
    fn flags_set_and_clear_and_later_words_win() {
        let a = attrs(&["rro", "rnosuid", "rnoexec", "rnodev"]);
        let want = attr::RDONLY | attr::NOSUID | attr::NOEXEC | attr::NODEV;
        assert_eq!((a.set, a.clear), (want, 0));
        let a = attrs(&["rro", "rrw", "rsymfollow"]);
        assert_eq!((a.set, a.clear), (0, attr::RDONLY | attr::NOSYMFOLLOW));
        let a = attrs(&["rrw", "rro"]);
        assert_eq!((a.set, a.clear), (attr::RDONLY, 0));
    }

    #[test]
    fn an_access_time_word_replaces_the_whole_mode() {
        let a = attrs(&["rnoatime"]);
        assert_eq!((a.set, a.clear), (attr::NOATIME, attr::ATIME_MASK));
        let a = attrs(&["rnoatime", "rstrictatime", "rnodiratime"]);
        let set = attr::STRICTATIME | attr::NODIRATIME;
        assert_eq!((a.set, a.clear), (set, attr::ATIME_MASK));
        for back_to_default in ["ratime", "rnorelatime", "rnostrictatime", "rrelatime"] {
            let a = attrs(&["rnoatime", back_to_default]);
            assert_eq!((a.set, a.clear), (attr::RELATIME, attr::ATIME_MASK));
        }
    }

    #[test]
    fn other_words_are_not_taken() {
        let mut a = RecursiveAttrs::default();
        for w in [
            "ro",
            "nosuid",
            "rbind",
            "rprivate",
            "mode=755",
            "rnotathing",
        ] {
            assert!(!a.add(w), "{w}");
        }
        assert!(a.is_empty());
    }

    #[test]
    fn a_kernel_without_mount_setattr_is_named_in_one_line() {
        let a = attrs(&["rro", "rnoexec"]);
        let e = a.error(
            Path::new("/data"),
            io::Error::from_raw_os_error(libc::ENOSYS),
        );
        let msg = e.to_string();
        assert!(
            msg.starts_with("mount /data: options rro,rnoexec: "),
            "{msg}"
        );
        assert!(msg.contains("mount_setattr"), "{msg}");
        assert!(!msg.contains('\n'));
    }
}
