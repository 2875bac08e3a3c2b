//! Ctrl-C for a CLI build whose RUNs run detached (the live view, parallel stages): SIGINT,
//! SIGTERM and SIGHUP set a flag instead of ending the process, so that the build can kill its
//! RUN containers and fail with nothing left running. The sinks' `gone()` and every step read
//! it.
//!
//! Once caught, the signals stay caught for the rest of the process: signal-hook cannot give a
//! signal its default action back (after the last action is unregistered the signal would be
//! ignored), so a flag that keeps working is the honest choice. Never called in a server.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// From now on SIGINT, SIGTERM and SIGHUP only set the flag that [`interrupted`] reads.
pub fn catch_interrupts() {
    FLAG.get_or_init(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let flag = Arc::new(AtomicBool::new(false));
        for s in [SIGINT, SIGTERM, SIGHUP] {
            let _ = signal_hook::flag::register(s, Arc::clone(&flag));
        }
        flag
    });
}

/// Whether one of them came since [`catch_interrupts`] (false when it was never called).
pub fn interrupted() -> bool {
    FLAG.get().is_some_and(|f| f.load(Ordering::Relaxed))
}
