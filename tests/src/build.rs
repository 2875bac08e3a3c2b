//! What the build tier's tests share: a context made of files, and a build that must pass.

use std::path::{Path, PathBuf};

use crate::Hull;

/// A build context in the test's temp dir: `files` as (relative path, contents).
pub fn context(h: &Hull, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = h.root().parent().unwrap().join(name);
    for (path, body) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    dir
}

/// `hull build FLAGS… CTX`, which must succeed; its stdout.
pub fn build(h: &Hull, flags: &[&str], ctx: &Path) -> String {
    let mut args = vec!["build"];
    args.extend_from_slice(flags);
    let ctx = ctx.display().to_string();
    args.push(&ctx);
    h.ok(&args)
}

/// SIGINT to `child`, as Ctrl-C sends it.
pub fn interrupt(child: &std::process::Child) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
}
