//! When the monitor gives back the memory a burst of output used: once the container's output
//! has been quiet for [`QUIET`], not at the first read that drains a pipe. A producer only
//! slightly slower than the monitor drains the pipe again and again mid-burst; freeing the
//! buffers and shedding code pages each time (reading /proc/self/smaps, faulting the code back
//! in) took about 5% of the monitor's perf samples on 100-byte lines.

use std::time::{Duration, Instant};

/// How long the output stays quiet before the burst counts as over.
pub const QUIET: Duration = Duration::from_millis(100);

/// The output's state between reads.
#[derive(Debug, Default)]
pub struct Burst {
    /// When the last read returned; None once its burst was released (or before any read).
    last_read: Option<Instant>,
    /// A read filled the largest buffer since the last release: the heap and code pages grew.
    large: bool,
}

/// What to release when a burst is over.
#[derive(Debug, PartialEq, Eq)]
pub enum Release {
    /// Nothing: output came within [`QUIET`], or was released already.
    Nothing,
    /// The read and write buffers.
    Buffers,
    /// The buffers, then the heap and the clean code pages (a large burst).
    BuffersAndPages,
}

impl Burst {
    /// After a read; `large` when it filled the largest read buffer.
    pub fn read(&mut self, now: Instant, large: bool) {
        self.last_read = Some(now);
        self.large |= large;
    }

    /// Whether output came since the last release: only then do the callers need the time (an
    /// idle monitor's loop reads no clock, and faults in no clock code).
    pub fn active(&self) -> bool {
        self.last_read.is_some()
    }

    /// How long the monitor may wait in poll before the burst is over; None without one.
    pub fn timeout(&self, now: Instant) -> Option<Duration> {
        self.last_read
            .map(|at| (at + QUIET).saturating_duration_since(now))
    }

    /// Whether the burst is over at `now` and what to release; resets once it says so.
    pub fn release(&mut self, now: Instant) -> Release {
        match self.last_read {
            Some(at) if now.duration_since(at) >= QUIET => self.end(),
            _ => Release::Nothing,
        }
    }

    /// The output ended (the container is gone): what to release, quiet or not.
    pub fn end(&mut self) -> Release {
        match (self.last_read.take(), std::mem::take(&mut self.large)) {
            (None, _) => Release::Nothing,
            (Some(_), true) => Release::BuffersAndPages,
            (Some(_), false) => Release::Buffers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_released_once_quiet_and_only_once() {
        let t0 = Instant::now();
        let mut b = Burst::default();
        assert_eq!(b.timeout(t0), None);
        assert!(!b.active());
        assert_eq!(b.release(t0 + QUIET * 10), Release::Nothing);
        b.read(t0, false);
        b.read(t0 + QUIET / 2, true);
        assert_eq!(b.timeout(t0 + QUIET / 2), Some(QUIET));
        // Quiet since the first read, not since the last: not over yet.
        assert_eq!(b.release(t0 + QUIET), Release::Nothing);
        assert_eq!(b.timeout(t0 + QUIET * 2), Some(Duration::ZERO));
        assert_eq!(b.release(t0 + QUIET * 2), Release::BuffersAndPages);
        assert_eq!(b.release(t0 + QUIET * 3), Release::Nothing);
        assert!(!b.active());
        assert_eq!(b.timeout(t0 + QUIET * 3), None);
        // A small burst frees the buffers only.
        b.read(t0 + QUIET * 4, false);
        assert_eq!(b.release(t0 + QUIET * 5), Release::Buffers);
        b.read(t0 + QUIET * 6, true);
        assert_eq!(b.end(), Release::BuffersAndPages);
        assert_eq!(b.end(), Release::Nothing);
    }
}
