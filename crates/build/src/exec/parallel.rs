//! Stages that do not depend on each other build at the same time.
//!
//! The stages the target needs are taken in waves: each wave is every stage whose dependencies
//! (its FROM stage, `COPY --from` and `RUN --mount=…,from=` stages) are built. A wave of one
//! stage runs on the build's own sink, live. A wave of several runs each stage on a thread of
//! its own with a [`Buffered`] sink: its RUN containers run detached under monitors (a
//! multi-threaded process may not fork a container itself; see `progress`), and what it says
//! is replayed on the build's sink when the wave ends, one stage after the other, so the output
//! reads as if the stages had run in turn. `Step N/M` numbers follow that order.
//!
//! Ctrl-C during a parallel wave of a CLI build sets a flag instead of ending the process (see
//! `interrupts`): each stage's RUN container is killed, the stages stop at their next step, and
//! the build fails with nothing left running.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use super::progress::{Progress, RunMode};
use super::{fail, BuildError, Builder, Current};
use crate::dockerfile::Dockerfile;

/// The stages `target` needs, each with the earlier stages it depends on.
pub(super) type Deps = BTreeMap<usize, BTreeSet<usize>>;

/// `deps` in waves: every stage of a wave depends only on stages of earlier waves.
pub(super) fn waves(deps: &Deps) -> Vec<Vec<usize>> {
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    while done.len() < deps.len() {
        let wave: Vec<usize> = deps
            .iter()
            .filter(|(i, d)| !done.contains(*i) && d.is_subset(&done))
            .map(|(i, _)| *i)
            .collect();
        if wave.is_empty() {
            break; // unreachable: a stage depends only on earlier ones
        }
        done.extend(wave.iter().copied());
        out.push(wave);
    }
    out
}

/// One thing a stage said, kept for its turn.
enum Said {
    Line(String),
    Warning(String),
    Output(Vec<u8>),
}

/// A parallel stage's sink: keeps what it is told, runs RUNs detached, and is gone when the
/// build's sink is or when Ctrl-C came.
struct Buffered<'a> {
    parent: &'a dyn Progress,
    said: Mutex<Vec<Said>>,
}

impl Buffered<'_> {
    fn keep(&self, s: Said) {
        self.said.lock().unwrap_or_else(|e| e.into_inner()).push(s);
    }

    fn replay(self) {
        for s in self.said.into_inner().unwrap_or_else(|e| e.into_inner()) {
            match s {
                Said::Line(l) => self.parent.line(&l),
                Said::Warning(w) => self.parent.warning(&w),
                Said::Output(b) => self.parent.output(&b),
            }
        }
    }
}

impl Progress for Buffered<'_> {
    fn line(&self, text: &str) {
        self.keep(Said::Line(text.to_string()));
    }

    fn warning(&self, text: &str) {
        self.keep(Said::Warning(text.to_string()));
    }

    fn run_mode(&self) -> RunMode {
        RunMode::Detached
    }

    fn output(&self, bytes: &[u8]) {
        let mut said = self.said.lock().unwrap_or_else(|e| e.into_inner());
        match said.last_mut() {
            Some(Said::Output(b)) => b.extend_from_slice(bytes),
            _ => said.push(Said::Output(bytes.to_vec())),
        }
    }

    fn gone(&self) -> bool {
        super::interrupts::interrupted() || self.parent.gone()
    }
}

impl Builder<'_> {
    /// Builds every stage of `deps`, wave after wave, into `self.done`.
    pub(super) fn run_stages(
        &mut self,
        file: &Dockerfile,
        deps: &Deps,
        globals: &BTreeMap<String, String>,
    ) -> Result<(), BuildError> {
        for wave in waves(deps) {
            if let [one] = wave.as_slice() {
                let cur = self.stage(file, *one, globals)?;
                self.done.insert(*one, cur);
            } else {
                self.parallel_wave(file, &wave, globals)?;
            }
        }
        Ok(())
    }

    fn parallel_wave(
        &mut self,
        file: &Dockerfile,
        wave: &[usize],
        globals: &BTreeMap<String, String>,
    ) -> Result<(), BuildError> {
        if self.progress.run_mode() != RunMode::Detached {
            super::interrupts::catch_interrupts();
        }
        let sinks: Vec<Buffered> = wave
            .iter()
            .map(|_| Buffered {
                parent: self.progress,
                said: Mutex::new(Vec::new()),
            })
            .collect();
        let mut first_step = self.step;
        let mut starts = Vec::new();
        for &i in wave {
            starts.push(first_step);
            first_step += 1 + file.stages[i].instructions.len();
        }
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = wave
                .iter()
                .zip(&sinks)
                .zip(&starts)
                .map(|((&i, sink), &start)| {
                    let sub = self.sub_builder(sink, start);
                    scope.spawn(move || stage_on_thread(sub, file, i, globals))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(fail("a build stage's thread panicked")))
                })
                .collect()
        });
        self.step = first_step;
        let mut failed = None;
        for ((&i, sink), result) in wave.iter().zip(sinks).zip(results) {
            sink.replay();
            match result {
                Ok((cur, used)) => {
                    self.used_args.extend(used);
                    self.done.insert(i, cur);
                }
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        if super::interrupts::interrupted() {
            return Err(fail("build interrupted"));
        }
        failed.map_or(Ok(()), Err)
    }
}

/// A stage on its own thread: its image and the build args it used.
fn stage_on_thread(
    mut b: Builder<'_>,
    file: &Dockerfile,
    index: usize,
    globals: &BTreeMap<String, String>,
) -> Result<(Current, BTreeSet<String>), BuildError> {
    let cur = b.stage(file, index, globals)?;
    Ok((cur, b.used_args))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deps(list: &[(usize, &[usize])]) -> Deps {
        list.iter()
            .map(|(i, d)| (*i, d.iter().copied().collect()))
            .collect()
    }

    #[test]
    fn independent_stages_share_a_wave_and_dependents_wait() {
        let d = deps(&[(0, &[]), (1, &[]), (2, &[0, 1]), (3, &[0]), (4, &[2, 3])]);
        assert_eq!(waves(&d), vec![vec![0, 1], vec![2, 3], vec![4]]);
    }

    #[test]
    fn a_chain_is_one_stage_per_wave() {
        let d = deps(&[(0, &[]), (2, &[0]), (5, &[2])]);
        assert_eq!(waves(&d), vec![vec![0], vec![2], vec![5]]);
    }

    #[test]
    fn a_buffered_sink_replays_in_order_and_joins_output() {
        struct Rec(Mutex<Vec<String>>);
        impl Progress for Rec {
            fn line(&self, t: &str) {
                self.0.lock().unwrap().push(format!("line {t}"));
            }
            fn warning(&self, t: &str) {
                self.0.lock().unwrap().push(format!("warn {t}"));
            }
            fn output(&self, b: &[u8]) {
                let s = String::from_utf8_lossy(b).into_owned();
                self.0.lock().unwrap().push(format!("out {s}"));
            }
        }
        let rec = Rec(Mutex::new(Vec::new()));
        let b = Buffered {
            parent: &rec,
            said: Mutex::new(Vec::new()),
        };
        b.line("Step 1/2 : FROM x");
        b.output(b"a");
        b.output(b"b\n");
        b.warning("careful");
        assert!(rec.0.lock().unwrap().is_empty(), "said before its turn");
        assert_eq!(b.run_mode(), RunMode::Detached);
        assert!(!b.gone(), "no Ctrl-C in a unit test");
        b.replay();
        let got = rec.0.into_inner().unwrap();
        assert_eq!(
            got,
            vec!["line Step 1/2 : FROM x", "out ab\n", "warn careful"]
        );
    }
}
