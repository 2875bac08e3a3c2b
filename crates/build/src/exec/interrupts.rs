//! Ctrl-C for a CLI build: SIGINT, SIGTERM and SIGHUP set a flag instead of ending the process,
//! so that the build can kill its RUN containers (detached ones: the live view, parallel
//! stages) and fail with nothing left running; a foreground RUN gets the signal forwarded as
//! well. The sinks' `gone()` and every step read the flag. A second signal while the flag is
//! set ends hull at once (exit code 128 + the signal), for a step that does not stop soon; the
//! next build removes what that left.
//!
//! Once caught, the signals stay caught for the rest of the process: signal-hook cannot give a
//! signal its default action back (after the last action is unregistered the signal would be
//! ignored), so a flag that keeps working is the honest choice. Never called in a server.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// From now on SIGINT, SIGTERM and SIGHUP set the flag that [`interrupted`] reads, and end the
/// process when it is already set.
pub fn catch_interrupts() {
    FLAG.get_or_init(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let flag = Arc::new(AtomicBool::new(false));
        for s in [SIGINT, SIGTERM, SIGHUP] {
            // Registered first, so it sees the flag as the signals before this one left it.
            let _ = signal_hook::flag::register_conditional_shutdown(s, 128 + s, Arc::clone(&flag));
            let _ = signal_hook::flag::register(s, Arc::clone(&flag));
        }
        flag
    });
}

/// Whether one of them came since [`catch_interrupts`] (false when it was never called).
pub fn interrupted() -> bool {
    FLAG.get().is_some_and(|f| f.load(Ordering::Relaxed))
}
