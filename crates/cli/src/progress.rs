//! Pull and push progress: one redrawn line per layer on a terminal, plain lines otherwise (as Docker does).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hull_image::pull::{PullEvent, PullObserver};
use hull_image::push::{PushEvent, PushObserver};
use hull_oci::Digest;

use crate::output::human_size;

/// Redraws at most this often on a terminal, so progress costs nothing measurable.
const REDRAW_EVERY: Duration = Duration::from_millis(100);

pub struct Progress {
    tty: bool,
    quiet: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    order: Vec<Digest>,
    lines: BTreeMap<Digest, String>,
    drawn: usize,
    last_draw: Option<Instant>,
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        Progress {
            tty: std::io::stdout().is_terminal(),
            quiet,
            state: Mutex::new(State::default()),
        }
    }

    /// Draws the final state of every line (terminal mode only).
    pub fn finish(&self) {
        if self.tty && !self.quiet {
            let mut st = self.state.lock().expect("progress lock");
            redraw(&mut st);
        }
    }

    fn set(&self, layer: &Digest, text: String, force: bool) {
        if self.quiet {
            return;
        }
        let mut st = self.state.lock().expect("progress lock");
        if self.tty {
            st.lines.insert(layer.clone(), text);
            let due = st.last_draw.is_none_or(|t| t.elapsed() >= REDRAW_EVERY);
            if force || due {
                redraw(&mut st);
            }
        } else if st.lines.get(layer) != Some(&text) {
            println!("{}: {text}", layer.short());
            st.lines.insert(layer.clone(), text);
        }
    }
}

fn redraw(st: &mut State) {
    let mut out = std::io::stdout().lock();
    if st.drawn > 0 {
        let _ = write!(out, "\x1b[{}A", st.drawn);
    }
    for d in &st.order {
        let text = st.lines.get(d).map(String::as_str).unwrap_or("Waiting");
        let _ = writeln!(out, "\x1b[2K{}: {text}", d.short());
    }
    let _ = out.flush();
    st.drawn = st.order.len();
    st.last_draw = Some(Instant::now());
}

fn bar(done: u64, total: Option<u64>) -> String {
    match total {
        Some(t) if t > 0 => {
            let width = 50;
            let filled = ((done.min(t) * width) / t) as usize;
            let arrow = if filled < width as usize { ">" } else { "" };
            format!(
                "[{}{arrow}{}] {}/{}",
                "=".repeat(filled.saturating_sub(usize::from(!arrow.is_empty()))),
                " ".repeat(width as usize - filled),
                human_size(done),
                human_size(t)
            )
        }
        _ => human_size(done),
    }
}

impl PullObserver for Progress {
    fn event(&self, event: PullEvent) {
        match event {
            PullEvent::Layers(list) => {
                if self.quiet {
                    return;
                }
                let mut st = self.state.lock().expect("progress lock");
                st.order = list.clone();
                drop(st);
                for d in &list {
                    self.set(d, "Pulling fs layer".to_string(), false);
                }
            }
            PullEvent::AlreadyExists(d) => self.set(&d, "Already exists".into(), true),
            PullEvent::Progress { layer, done, total } => {
                // Plain output prints state changes only, not every chunk.
                if self.tty {
                    self.set(&layer, format!("Downloading  {}", bar(done, total)), false);
                } else {
                    self.set(&layer, "Downloading".into(), false);
                }
            }
            PullEvent::Verifying(d) => self.set(&d, "Verifying Checksum".into(), false),
            PullEvent::Complete(d) => self.set(&d, "Pull complete".into(), true),
        }
    }
}

impl PushObserver for Progress {
    fn event(&self, event: PushEvent) {
        match event {
            PushEvent::Blobs(list) => {
                if self.quiet {
                    return;
                }
                self.state.lock().expect("progress lock").order = list.clone();
                for d in &list {
                    self.set(d, "Preparing".to_string(), false);
                }
            }
            // Docker's line stays "Preparing" until the blob is found, mounted or pushed.
            PushEvent::Preparing(_) => {}
            PushEvent::Pushing { layer, done, total } => {
                if self.tty {
                    self.set(&layer, format!("Pushing  {}", bar(done, total)), false);
                } else {
                    self.set(&layer, "Pushing".into(), false);
                }
            }
            PushEvent::Exists(d) => self.set(&d, "Layer already exists".into(), true),
            PushEvent::Mounted { layer, from } => {
                self.set(&layer, format!("Mounted from {from}"), true)
            }
            PushEvent::Pushed(d) => self.set(&d, "Pushed".into(), true),
            PushEvent::Note(note) if !self.quiet => {
                self.finish();
                println!("{note}");
            }
            PushEvent::Note(_) => {}
        }
    }
}
