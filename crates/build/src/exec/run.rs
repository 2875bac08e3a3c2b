//! RUN: a container from the current image, run in the foreground, committed, removed.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use hull_engine::run::{RealHost, RunConfig, RunOptions};
use hull_engine::Engine;

use super::config::{command, shell};
use super::mounts::Prepared;
use super::{fail, BuildError, Builder, Current};
use crate::dockerfile::{shell_script, Command, Dockerfile, Run};

/// Removes the build container whatever happens after it was created.
pub(super) struct Removal<'a> {
    pub engine: &'a Engine,
    pub id: String,
}

impl Drop for Removal<'_> {
    fn drop(&mut self) {
        let _ = self.engine.remove(&self.id, true);
    }
}

/// Removes the RUN containers of builds whose process is gone (a CLI build or an API service
/// killed with -9 mid-RUN leaves its `hull-build-<pid>-<n>` container, maybe still running
/// under its monitor): every build starts with this sweep, so nothing of a dead build stays.
pub(super) fn sweep_orphans(engine: &Engine) {
    let Ok(all) = engine.containers.list() else {
        return;
    };
    for r in all {
        let Some(pid) = builder_pid(&r.name) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = engine.remove(&r.id, true);
        }
    }
}

/// Docker's predefined ARGs: a `--build-arg` of one of them reaches every RUN without an ARG
/// instruction, stays out of the step cache's key and the history, and earns no "not consumed"
/// warning.
pub(crate) const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// `K=V` for each proxy `--build-arg` that the stage did not declare (a declared one is in
/// `args` already).
fn proxy_env<'a>(
    build_args: &'a BTreeMap<String, String>,
    args: &'a BTreeMap<String, String>,
) -> impl Iterator<Item = String> + 'a {
    build_args
        .iter()
        .filter(|(k, _)| PROXY_ARGS.contains(&k.as_str()) && !args.contains_key(*k))
        .map(|(k, v)| format!("{k}={v}"))
}

/// The builder's PID in a RUN container's name (`hull-build-<pid>-<n>`).
fn builder_pid(name: &str) -> Option<u32> {
    let rest = name.trim_start_matches('/').strip_prefix("hull-build-")?;
    let (pid, n) = rest.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

impl Builder<'_> {
    pub(super) fn run(
        &mut self,
        file: &Dockerfile,
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
        // Dropped after the container (declared before its guard): temp dirs, cache locks.
        let mounts = self.prepare_mounts(file, &cur, r, line, args)?;
        let cc = cur.config.config.clone().unwrap_or_default();
        let argv = run_argv(r, shell(&cc));
        let shown = match &r.command {
            Command::Shell(s) => s.clone(),
            Command::Exec(v) => format!("{v:?}"),
        };
        let n = 1 + self
            .containers
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("hull-build-{}-{n}", std::process::id());
        let opts = RunOptions {
            name: Some(name.clone()),
            env: proxy_env(&self.opts.build_args, args)
                .chain(args.iter().map(|(k, v)| format!("{k}={v}")))
                .chain(mounts.env.iter().cloned())
                .collect(),
            mounts: mounts.mounts.clone(),
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
        let guard = Removal {
            engine: self.engine,
            id: record.id.clone(),
        };
        if !self.opts.quiet {
            let short = &record.id[..12.min(record.id.len())];
            self.progress.line(&format!(" ---> Running in {short}"));
        }
        let code = super::run_output::run_step(self.engine, &record.id, self.progress)
            .map_err(|e| fail(format!("RUN {shown} (Dockerfile:{line}): {e}")))?;
        if code != 0 {
            return Err(BuildError {
                code: Some(code),
                ..fail(format!("RUN {shown} (Dockerfile:{line}): exit code {code}"))
            });
        }
        let created_by = argv.join(" ");
        let skip = self.created_mount_points(&cur, &record.id, &mounts);
        let id = self
            .engine
            .commit_build(&record.id, cc, &created_by, &skip)
            .map_err(|e| fail(format!("RUN {shown} (Dockerfile:{line}): commit: {e}")))?;
        drop(guard);
        if !self.opts.quiet {
            let short = &record.id[..12.min(record.id.len())];
            self.progress
                .line(&format!("Removing intermediate container {short}"));
        }
        self.stored(id, &shown, line)
    }

    fn stored(
        &self,
        id: hull_oci::Digest,
        shown: &str,
        line: usize,
    ) -> Result<Current, BuildError> {
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

impl Builder<'_> {
    /// The mount points of `mounts` the runtime had to create in the upper dir (absent from
    /// the image), with their parents that hold nothing else: left out of the layer, as
    /// BuildKit leaves them out.
    fn created_mount_points(&self, cur: &Current, id: &str, mounts: &Prepared) -> Vec<PathBuf> {
        let upper = self.engine.containers.dir(id).join("upper");
        // The topmost layer's entry decides (a whiteout hides the lower ones).
        let in_image = |rel: &Path| {
            cur.layers
                .iter()
                .rev()
                .find_map(|l| {
                    fs::symlink_metadata(self.engine.images.layers.diff_dir(&l.diff_id).join(rel))
                        .ok()
                })
                .is_some_and(|m| !super::copy::is_whiteout(&m))
        };
        let mut skip: Vec<PathBuf> = Vec::new();
        for t in &mounts.targets {
            let rel = PathBuf::from(t.trim_start_matches('/'));
            if in_image(&rel) {
                continue;
            }
            skip.push(rel.clone());
            let mut dir = rel.parent();
            while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty() && !in_image(d)) {
                let only_skipped = fs::read_dir(upper.join(d))
                    .is_ok_and(|rd| rd.flatten().all(|e| skip.contains(&d.join(e.file_name()))));
                if !only_skipped {
                    break;
                }
                skip.push(d.to_path_buf());
                dir = d.parent();
            }
        }
        skip
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

#[cfg(test)]
mod orphan_tests {
    #[test]
    fn proxy_build_args_reach_run_unless_the_stage_declared_them() {
        let build: std::collections::BTreeMap<String, String> = [
            ("HTTP_PROXY", "http://p:3128"),
            ("no_proxy", "localhost"),
            ("OTHER", "x"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut declared = std::collections::BTreeMap::new();
        declared.insert("no_proxy".to_string(), "localhost".to_string());
        let env: Vec<String> = super::proxy_env(&build, &declared).collect();
        assert_eq!(env, vec!["HTTP_PROXY=http://p:3128"]);
    }

    #[test]
    fn only_build_container_names_carry_a_builder_pid() {
        assert_eq!(super::builder_pid("hull-build-4242-3"), Some(4242));
        assert_eq!(super::builder_pid("/hull-build-17-1"), Some(17));
        assert_eq!(super::builder_pid("hull-build-x-1"), None);
        assert_eq!(super::builder_pid("hull-build-12"), None);
        assert_eq!(super::builder_pid("my-hull-build-1-2"), None);
        assert_eq!(super::builder_pid("web"), None);
    }
}
