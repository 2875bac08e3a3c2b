//! `hull top CTR [ps OPTIONS]`.

use std::process::Command;

use anyhow::{bail, Context, Result};
use hull_engine::lifecycle::top::COLUMNS;
use hull_engine::Engine;

use super::run::report;
use super::Ctx;
use crate::cli::TopArgs;
use crate::output::table;

pub fn top(ctx: &Ctx, args: TopArgs) -> Result<u8> {
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    if !args.ps_args.is_empty() {
        return match engine.container_pids(&args.container) {
            Ok((_, pids)) => with_ps(&args.ps_args, &pids).map(|()| 0),
            Err(e) => Ok(report(e)),
        };
    }
    let procs = match engine.top(&args.container) {
        Ok(p) => p,
        Err(e) => return Ok(report(e)),
    };
    let mut rows = vec![COLUMNS.iter().map(|c| c.to_string()).collect::<Vec<_>>()];
    rows.extend(procs.iter().map(|p| p.row()));
    print!("{}", table(&rows));
    Ok(0)
}

/// Like Docker: runs the host's `ps` with the user's options and keeps the header and the rows
/// whose PID column names one of the container's processes.
fn with_ps(ps_args: &[String], pids: &[i32]) -> Result<()> {
    let out = Command::new("ps")
        .args(ps_args)
        .output()
        .context("run ps")?;
    if !out.status.success() {
        bail!(
            "ps {}: {}",
            ps_args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    print!(
        "{}",
        filter_ps(&String::from_utf8_lossy(&out.stdout), pids)?
    );
    Ok(())
}

fn filter_ps(text: &str, pids: &[i32]) -> Result<String> {
    let Some((header, kept)) = hull_engine::lifecycle::top::filter_ps(text, pids) else {
        bail!("couldn't find PID field in ps output");
    };
    let mut out = format!("{header}\n");
    for line in kept {
        out.push_str(line);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_output_is_filtered_by_the_pid_column() {
        let ps = "USER PID %CPU COMMAND\nroot 1 0.0 init\nroot 42 0.0 sleep\nroot 420 0 x\n";
        assert_eq!(
            filter_ps(ps, &[42]).unwrap(),
            "USER PID %CPU COMMAND\nroot 42 0.0 sleep\n"
        );
        assert!(filter_ps("USER COMMAND\n", &[1]).is_err());
    }
}
