//! Giving memory back: for a long-lived process (the container monitor) that touched much more
//! code and heap while setting up than it needs while it waits.

use std::io;

/// One mapping of `/proc/self/smaps` that may be dropped: read-only or executable, private,
/// file-backed, and without a single copied-on-write (anonymous) page.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CleanMapping {
    start: usize,
    end: usize,
}

/// The mappings of an smaps text whose resident pages are all page-cache pages.
fn clean_file_mappings(smaps: &str) -> Vec<CleanMapping> {
    let mut out = Vec::new();
    let mut current: Option<(CleanMapping, bool)> = None;
    let mut finish = |m: Option<(CleanMapping, bool)>| {
        if let Some((m, true)) = m {
            out.push(m);
        }
    };
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if let Some((start, end)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            finish(current.take());
            let (Ok(start), Ok(end)) = (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            ) else {
                continue;
            };
            let perms = fields.next().unwrap_or("");
            let path = fields.nth(3).unwrap_or("");
            let candidate = perms.len() == 4
                && !perms.contains('w')
                && perms.ends_with('p')
                && path.starts_with('/');
            current = Some((CleanMapping { start, end }, candidate));
        } else if first == "Anonymous:" {
            if let Some((_, candidate)) = &mut current {
                if fields.next() != Some("0") {
                    *candidate = false;
                }
            }
        }
    }
    finish(current.take());
    out
}

/// Drops this process's resident pages of read-only file mappings (its own code, shared
/// libraries' code and constants) that hold no private copies; the pages it touches later fault
/// back in from the page cache. Returns the bytes of address space released.
///
/// Call it only from a single-threaded process: another thread could `mprotect` a mapping
/// writable and write to it between the read of smaps and the `madvise`.
pub fn release_clean_file_pages() -> io::Result<usize> {
    let smaps = std::fs::read_to_string("/proc/self/smaps")?;
    let mut released = 0;
    for m in clean_file_mappings(&smaps) {
        // SAFETY: the range is exactly one private, non-writable file mapping of this process
        // that has no anonymous (copied-on-write) page, and the process is single-threaded
        // (caller's contract), so nothing can make it writable meanwhile: MADV_DONTNEED only
        // unmaps page-cache pages, and later reads fault in the same file contents. No Rust
        // reference can observe a difference.
        let ret = unsafe {
            libc::madvise(
                m.start as *mut libc::c_void,
                m.end - m.start,
                libc::MADV_DONTNEED,
            )
        };
        if ret == 0 {
            released += m.end - m.start;
        }
    }
    Ok(released)
}

/// Returns freed heap memory to the kernel (glibc's `malloc_trim`).
pub fn trim_heap() {
    // SAFETY: malloc_trim only releases memory the allocator holds as free; it takes the
    // allocator's own locks and has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55d0c0000000-55d0c0100000 r--p 00000000 08:01 123 /usr/bin/hull
Rss:                 100 kB
Anonymous:             0 kB
55d0c0100000-55d0c0200000 r-xp 00100000 08:01 123 /usr/bin/hull
Anonymous:             0 kB
55d0c0200000-55d0c0210000 r--p 00200000 08:01 123 /usr/bin/hull
Anonymous:            64 kB
55d0c0210000-55d0c0220000 rw-p 00210000 08:01 123 /usr/bin/hull
Anonymous:             0 kB
7f0000000000-7f0000001000 r-xp 00000000 00:00 0 [vdso]
Anonymous:             0 kB
7f0000002000-7f0000003000 r-xs 00000000 08:01 9 /dev/shm/x
Anonymous:             0 kB
7f0000004000-7f0000005000 r--p 00000000 00:00 0
Anonymous:             0 kB
";

    #[test]
    fn only_unwritten_read_only_private_file_mappings_are_clean() {
        assert_eq!(
            clean_file_mappings(SMAPS),
            [
                CleanMapping {
                    start: 0x55d0c0000000,
                    end: 0x55d0c0100000
                },
                CleanMapping {
                    start: 0x55d0c0100000,
                    end: 0x55d0c0200000
                },
            ]
        );
    }

    #[test]
    fn releasing_keeps_this_process_working() {
        // Runs in a threaded test harness; the mappings it drops are code nobody makes
        // writable, so the contract's race does not arise here.
        assert!(release_clean_file_pages().unwrap() > 0);
        trim_heap();
        assert_eq!(format!("{}", 6 * 7), "42");
    }
}
