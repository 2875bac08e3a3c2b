//! RUN: a container from the current image, run in the foreground, committed, removed.

use std::collections::BTreeMap;

use hull_engine::run::{RealHost, RunConfig, RunOptions};
use hull_engine::Engine;

use super::config::{command, shell};
use super::{chain, fail, BuildError, Builder, Current};
use crate::dockerfile::{shell_script, Command, Run};

/// Removes the build container whatever happens after it was created.
struct Removal<'a> {
    engine: &'a Engine,
    id: String,
}

impl Drop for Removal<'_> {
    fn drop(&mut self) {
        let _ = self.engine.remove(&self.id, true);
    }
}

impl Builder<'_> {
    pub(super) fn run(
        &mut self,
        cur: Current,
        r: &Run,
        line: usize,
        args: &BTreeMap<String, String>,
    ) -> Result<Current, BuildError> {
        let Some(image) = cur.id.clone() else {
            return Err(fail(format!(
                "RUN (Dockerfile:{line}): no image to run in (FROM scratch has no shell)"
            )));
        };
        if !r.flags.mounts.is_empty() {
            return Err(fail(format!(
                "RUN --mount (Dockerfile:{line}): not supported yet"
            )));
        }
        let cc = cur.config.config.clone().unwrap_or_default();
        let argv = run_argv(r, shell(&cc));
        let shown = match &r.command {
            Command::Shell(s) => s.clone(),
            Command::Exec(v) => format!("{v:?}"),
        };
        self.containers += 1;
        let name = format!("hull-build-{}-{}", std::process::id(), self.containers);
        let opts = RunOptions {
            name: Some(name.clone()),
            env: args.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            entrypoint: Some(String::new()),
            // An init forwards Ctrl-C to the command (a shell as PID 1 would ignore it), so an
            // interrupted RUN fails and its container is removed.
            init: true,
            network: r.flags.network.clone().or(self.opts.network.clone()),
            image: image.to_string(),
            args: argv.clone(),
            ..RunOptions::default()
        };
        let config = RunConfig::from_options(&opts, &RealHost)
            .map_err(|e| fail(format!("RUN {shown} (Dockerfile:{line}): {e}")))?;
        let record = self
            .engine
            .create(config)
            .map_err(|e| fail(format!("RUN {shown} (Dockerfile:{line}): create: {e}")))?;
        let _guard = Removal {
            engine: self.engine,
            id: record.id.clone(),
        };
        if !self.opts.quiet {
            println!(" ---> Running in {}", &record.id[..12.min(record.id.len())]);
        }
        let code = self
            .engine
            .run(&record.id)
            .map_err(|e| fail(format!("RUN {shown} (Dockerfile:{line}): {}", chain(&e))))?;
        if code != 0 {
            return Err(fail(format!(
                "RUN {shown} (Dockerfile:{line}): exit code {code}"
            )));
        }
        let created_by = argv.join(" ");
        let id = self
            .engine
            .commit_build(&record.id, cc, &created_by)
            .map_err(|e| fail(format!("RUN {shown} (Dockerfile:{line}): commit: {e}")))?;
        let record = self
            .engine
            .images
            .resolve(&id.to_string())
            .map_err(|e| fail(format!("RUN {shown} (Dockerfile:{line}): {e}")))?;
        let config = self
            .engine
            .images
            .config(&id)
            .map_err(|e| fail(format!("RUN {shown} (Dockerfile:{line}): {e}")))?;
        Ok(Current {
            id: Some(id),
            layers: record.layers,
            config,
        })
    }
}

/// The argv: the command through the shell (or as is), a heredoc body as the script.
fn run_argv(r: &Run, shell: Vec<String>) -> Vec<String> {
    if let (Some(h), Command::Shell(s)) = (r.heredocs.first(), &r.command) {
        if s.trim_start().starts_with("<<") {
            let mut v = shell;
            v.push(h.body.clone());
            return v;
        }
        return command(&Command::Shell(shell_script(s, &r.heredocs)), shell);
    }
    command(&r.command, shell)
}
