//! Running a few calls inside another network namespace without starting a thread: setns in,
//! do the work (typically: open a netlink socket, which stays bound to that namespace), setns
//! back. The guard returns to the original namespace on every path, panics included.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;

use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};

/// Runs `f` with the calling thread in the network namespace at `netns` (a bind-mounted ns
/// file such as /run/netns/NAME or /proc/PID/ns/net), then moves the thread back.
pub fn in_netns<T>(netns: &Path, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    // thread-self, not self: setns moves only the calling thread, and so must the way back.
    let original = File::open("/proc/thread-self/ns/net")?;
    let target = File::open(netns)?;
    move_into_link_name_space(target.as_fd(), Some(LinkNameSpaceType::Network))?;
    let _back = Restore(original);
    f()
}

struct Restore(File);

impl Drop for Restore {
    fn drop(&mut self) {
        if let Err(e) = move_into_link_name_space(self.0.as_fd(), Some(LinkNameSpaceType::Network))
        {
            // Going on in the wrong namespace would configure the wrong host: stop here.
            eprintln!("hull: return to the original network namespace failed: {e}");
            std::process::abort();
        }
    }
}
