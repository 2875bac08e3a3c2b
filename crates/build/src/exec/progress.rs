//! Where a build's output goes: the lines the builder says (`Step N/M : …`, ` ---> …`,
//! `Successfully built …`), its warnings, and what each RUN container writes.
//!
//! The CLI's sink ([`Stdout`]) prints as Docker's classic builder does and runs each RUN in the
//! foreground on the process's own stdio (a terminal's Ctrl-C reaches the command). A front end
//! that is a multi-threaded server (the API service) may not fork a container: its sink asks for
//! detached RUNs ([`RunMode::Detached`]), which start under a monitor, as `hull run -d` does,
//! with their log followed into [`Progress::output`] (see `run_output`).

use std::io::Write;

/// How a RUN step's container runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// In this process, its stdio this process's own (`Engine::run`).
    Foreground,
    /// Under a monitor (`Engine::start_detached`), its log followed into [`Progress::output`].
    Detached,
    /// In this process with stdout and stderr into a temp file (`Engine::run_into`), handed to
    /// [`Progress::output`] when the step ends: `hull build -q`, which shows a RUN's output
    /// only when the build fails.
    Captured,
}

/// The receiver of everything a build says.
pub trait Progress: Sync {
    /// One line of the builder's own, without its newline.
    fn line(&self, text: &str);
    /// A warning (Docker's `[Warning] …`), without its newline.
    fn warning(&self, text: &str);
    /// How RUN containers run for this sink.
    fn run_mode(&self) -> RunMode {
        RunMode::Foreground
    }
    /// Bytes a detached RUN container wrote (stdout and stderr alike, in their order).
    fn output(&self, _bytes: &[u8]) {}
    /// True once nobody reads any more (a client that went away): a detached RUN is then
    /// stopped and the build fails, as Ctrl-C stops a foreground one.
    fn gone(&self) -> bool {
        false
    }
}

/// `hull build -q`'s sink: nothing on the terminal while the build runs; warnings and each
/// RUN's output are kept, for the CLI to print when the build fails (as Docker's `-q` does).
#[derive(Default)]
pub struct Quiet {
    /// Each RUN's output and each warning, in order.
    pub kept: std::sync::Mutex<Vec<u8>>,
    /// The warnings alone (a build that succeeds still shows them).
    pub warnings: std::sync::Mutex<Vec<String>>,
}

impl Progress for Quiet {
    fn line(&self, _text: &str) {}

    fn warning(&self, text: &str) {
        self.output(format!("{text}\n").as_bytes());
        let mut w = self.warnings.lock().unwrap_or_else(|e| e.into_inner());
        w.push(text.to_string());
    }

    fn run_mode(&self) -> RunMode {
        RunMode::Captured
    }

    fn output(&self, bytes: &[u8]) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.extend_from_slice(bytes);
    }
}

/// The CLI's sink: lines on stdout, warnings on stderr, RUNs in the foreground.
pub struct Stdout;

impl Progress for Stdout {
    fn line(&self, text: &str) {
        println!("{text}");
    }

    fn warning(&self, text: &str) {
        eprintln!("{text}");
    }

    fn output(&self, bytes: &[u8]) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(bytes);
        let _ = out.flush();
    }
}
