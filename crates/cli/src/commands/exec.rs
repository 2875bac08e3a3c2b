//! `hull exec`: flags → ExecOptions → ExecConfig (engine) → one `Engine::exec` call.

use anyhow::{Context, Result};
use hull_engine::lifecycle::exec::{ExecConfig, ExecOptions};
use hull_engine::run::RealHost;
use hull_engine::Engine;

use super::run::{container_code, report};
use super::Ctx;
use crate::cli::ExecArgs;

/// Step one to step two: the clap struct becomes the engine's plain option data.
pub fn options(a: ExecArgs) -> ExecOptions {
    ExecOptions {
        detach: a.detach,
        interactive: a.interactive,
        tty: a.tty,
        env: a.env,
        env_files: a.env_file,
        user: a.user,
        workdir: a.workdir,
        container: a.container,
        args: a.args,
    }
}

/// Exits with the command's code; 126/127 when it cannot run, 125 for an engine error.
pub fn exec(ctx: &Ctx, args: ExecArgs) -> Result<u8> {
    let config = ExecConfig::from_options(&options(args), &RealHost)?;
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    match engine.exec(&config) {
        Ok(code) => Ok(container_code(code)),
        Err(e) => Ok(report(e)),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    #[test]
    fn flags_before_the_container_are_hulls_after_it_the_commands() {
        let cli = Cli::try_parse_from([
            "hull", "exec", "-it", "-e", "A=1", "-u", "1000", "-w", "/tmp", "web", "sh", "-c",
            "id", "-u",
        ])
        .unwrap();
        let Command::Exec(a) = cli.command else {
            panic!("not exec")
        };
        let o = super::options(a);
        assert!(o.interactive && o.tty && !o.detach);
        assert_eq!(o.env, ["A=1"]);
        assert_eq!(o.user.as_deref(), Some("1000"));
        assert_eq!(o.workdir.as_deref(), Some("/tmp"));
        assert_eq!(o.container, "web");
        assert_eq!(o.args, ["sh", "-c", "id", "-u"]);
        assert!(Cli::try_parse_from(["hull", "exec", "web"]).is_err());
    }
}
