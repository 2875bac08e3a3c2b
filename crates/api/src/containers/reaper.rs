//! The monitors this service started are its children: once one exits (its container ended for
//! good) it must be reaped, or it lingers as a zombie for as long as the service lives. One
//! thread looks at the monitors still running every second (`waitpid` on each one's own pid,
//! never on any child, which would steal other waits' statuses) and ends when none is left.

use std::process::Child;
use std::sync::Mutex;
use std::time::Duration;

static CHILDREN: Mutex<Vec<Child>> = Mutex::new(Vec::new());

/// How often the reaper looks.
const PERIOD: Duration = Duration::from_secs(1);

/// Hands a started monitor to the reaper.
pub fn adopt(child: Child) {
    let Ok(mut children) = CHILDREN.lock() else {
        return;
    };
    children.push(child);
    if children.len() == 1 {
        // The list was empty, so no reaper runs (it exits only on an empty list, under the lock).
        let spawned = std::thread::Builder::new()
            .name("reap-monitors".into())
            .stack_size(64 << 10)
            .spawn(reap);
        if spawned.is_err() {
            // Without a thread: reaped on the next adopt that can start one.
            children.clear();
        }
    }
}

fn reap() {
    loop {
        std::thread::sleep(PERIOD);
        let Ok(mut children) = CHILDREN.lock() else {
            return;
        };
        children.retain_mut(|c| matches!(c.try_wait(), Ok(None)));
        if children.is_empty() {
            return;
        }
    }
}
