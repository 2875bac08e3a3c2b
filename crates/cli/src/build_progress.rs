//! `hull build --progress tty` (the default on a terminal): the builder's lines scroll as with
//! `plain`, and the running step's output shows as a live window of its last lines, redrawn in
//! place under them and erased when the step ends, as BuildKit's terminal view does. A failed
//! build prints the failing step's output (its last 64 KiB) before the error.
//!
//! RUNs run detached under monitors with their logs followed into this sink (a window needs the
//! output to pass through hull); Ctrl-C sets the flag of `hull_build::exec::catch_interrupts`,
//! which stops the RUN and fails the build.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Mutex;

use hull_build::exec::{Progress, RunMode};

/// Lines of the running step's output on screen at once.
const WINDOW: usize = 6;
/// How much of the running step's output a failed build shows.
const TAIL: usize = 64 * 1024;

pub struct TtyProgress {
    width: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    window: VecDeque<String>,
    partial: Vec<u8>,
    drawn: usize,
    tail: Vec<u8>,
}

impl TtyProgress {
    pub fn new() -> TtyProgress {
        let width = rustix::termios::tcgetwinsize(std::io::stdout())
            .map(|w| usize::from(w.ws_col))
            .ok()
            .filter(|&w| w >= 20)
            .unwrap_or(80);
        TtyProgress {
            width,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// After a failure: the window goes, and the failing step's output is printed whole (its
    /// last 64 KiB) on stderr.
    pub fn show_failed_step(&self) {
        let mut s = self.state();
        let mut out = std::io::stdout().lock();
        erase(&mut out, &mut s);
        let _ = out.flush();
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(&s.tail);
        if !s.tail.is_empty() && !s.tail.ends_with(b"\n") {
            let _ = err.write_all(b"\n");
        }
    }
}

impl Progress for TtyProgress {
    fn line(&self, text: &str) {
        let mut s = self.state();
        let mut out = std::io::stdout().lock();
        erase(&mut out, &mut s);
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
        s.window.clear();
        s.partial.clear();
        s.tail.clear();
    }

    fn warning(&self, text: &str) {
        let mut s = self.state();
        let mut out = std::io::stdout().lock();
        erase(&mut out, &mut s);
        let _ = out.flush();
        eprintln!("{text}");
        draw(&mut out, &mut s);
    }

    fn run_mode(&self) -> RunMode {
        RunMode::Detached
    }

    fn output(&self, bytes: &[u8]) {
        let mut s = self.state();
        s.tail.extend_from_slice(bytes);
        if s.tail.len() > TAIL {
            let cut = s.tail.len() - TAIL;
            s.tail.drain(..cut);
        }
        s.partial.extend_from_slice(bytes);
        let mut changed = false;
        while let Some(nl) = s.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = s.partial.drain(..=nl).collect();
            s.window.push_back(shown(&line[..nl], self.width));
            if s.window.len() > WINDOW {
                s.window.pop_front();
            }
            changed = true;
        }
        if changed {
            let mut out = std::io::stdout().lock();
            erase(&mut out, &mut s);
            draw(&mut out, &mut s);
        }
    }

    fn gone(&self) -> bool {
        hull_build::exec::interrupted()
    }
}

/// One output line as the window shows it: after its last carriage return (a progress bar's
/// latest state), control characters dropped, cut to the terminal's width.
fn shown(line: &[u8], width: usize) -> String {
    let text = String::from_utf8_lossy(line);
    let last = text.rsplit('\r').next().unwrap_or_default();
    last.chars()
        .filter(|c| !c.is_control())
        .take(width.saturating_sub(4))
        .collect()
}

/// Moves the cursor up over the window and clears from there to the end of the screen.
fn erase(out: &mut impl Write, s: &mut State) {
    if s.drawn > 0 {
        let _ = write!(out, "\x1b[{}A\x1b[J", s.drawn);
        s.drawn = 0;
    }
}

/// Draws the window (dimmed, indented) below the cursor.
fn draw(out: &mut impl Write, s: &mut State) {
    for l in &s.window {
        let _ = writeln!(out, "\x1b[2m  | {l}\x1b[0m");
    }
    s.drawn = s.window.len();
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_line_keeps_the_last_carriage_return_state_and_fits_the_width() {
        assert_eq!(shown(b"10%\r55%\r100% done", 80), "100% done");
        assert_eq!(shown(b"a\x07b\tc", 80), "abc");
        assert_eq!(shown("x".repeat(100).as_bytes(), 24), "x".repeat(20));
    }

    #[test]
    fn erase_moves_up_over_what_was_drawn_and_draw_counts_it() {
        let mut s = State::default();
        s.window.extend(["one".to_string(), "two".to_string()]);
        let mut out = Vec::new();
        draw(&mut out, &mut s);
        assert_eq!(s.drawn, 2);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("  | one") && text.contains("  | two"),
            "{text:?}"
        );
        let mut out = Vec::new();
        erase(&mut out, &mut s);
        assert_eq!(out, b"\x1b[2A\x1b[J");
        assert_eq!(s.drawn, 0);
        let mut out = Vec::new();
        erase(&mut out, &mut s);
        assert!(out.is_empty(), "nothing drawn, nothing erased");
    }
}
