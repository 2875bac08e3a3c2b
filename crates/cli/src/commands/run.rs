//! `hull run`: flags → RunOptions → RunConfig (engine) → pull if needed → create → run.

use anyhow::{Context, Result};
use hull_engine::run::{PullPolicy, RealHost, RunConfig, RunOptions};
use hull_engine::Engine;
use hull_image::platform::PlatformSpec;
use hull_image::pull::{PullOptions, Quiet};
use hull_image::reference::Reference;
use hull_image::registry::Registry;

use super::Ctx;
use crate::cli::RunArgs;
use crate::settings::registry_config;

/// Step one to step two: the clap struct becomes the engine's plain option data.
pub fn options(a: RunArgs) -> RunOptions {
    RunOptions {
        detach: a.detach,
        interactive: a.interactive,
        tty: a.tty,
        rm: a.rm,
        name: a.name,
        env: a.env,
        env_files: a.env_file,
        entrypoint: a.entrypoint,
        workdir: a.workdir,
        user: a.user,
        hostname: a.hostname,
        init: a.init,
        network: a.network,
        publish: a.publish,
        publish_all: a.publish_all,
        expose: a.expose,
        network_aliases: a.network_alias,
        mac_address: a.mac_address,
        ip: a.ip,
        volumes: a.volume,
        mounts: a.mount,
        tmpfs: a.tmpfs,
        volumes_from: a.volumes_from,
        read_only: a.read_only,
        privileged: a.privileged,
        cap_add: a.cap_add,
        cap_drop: a.cap_drop,
        security_opt: a.security_opt,
        memory: a.memory,
        memory_swap: a.memory_swap,
        cpus: a.cpus,
        cpu_shares: a.cpu_shares,
        pids_limit: a.pids_limit,
        cpuset_cpus: a.cpuset_cpus,
        ulimits: a.ulimit,
        platform: a.platform,
        pull: a.pull,
        add_hosts: a.add_host,
        dns: a.dns,
        dns_search: a.dns_search,
        dns_options: a.dns_option,
        restart: a.restart,
        log_driver: a.log_driver,
        log_opts: a.log_opt,
        labels: a.label,
        label_files: a.label_file,
        health: a.health.options(),
        stop_signal: a.stop_signal,
        stop_timeout: a.stop_timeout,
        image: a.image,
        args: a.args,
    }
}

pub fn run(ctx: &Ctx, args: RunArgs) -> Result<u8> {
    let opts = options(args);
    let config = RunConfig::from_options(&opts, &RealHost)?;
    print_warnings(&config);
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    ensure_image(ctx, &engine, &config)?;
    let record = match engine.create(config) {
        Ok(r) => r,
        Err(e) => return Ok(report(e)),
    };
    if opts.detach {
        return super::detach::run(ctx, &engine, &record);
    }
    match engine.run(&record.id) {
        Ok(code) => Ok(container_code(code)),
        Err(e) => Ok(report(e)),
    }
}

/// Docker's `WARNING: …` lines (stderr) for flags that are accepted but ignored.
pub(super) fn print_warnings(config: &RunConfig) {
    for w in config.warnings() {
        eprintln!("WARNING: {w}");
    }
}

/// Prints an engine error the way the CLI does and returns its exit code (125, or 126/127 for a
/// command that cannot be run).
pub fn report(e: hull_engine::EngineError) -> u8 {
    let code = e.exit_code();
    eprintln!("hull: {}", crate::one_line(&anyhow::Error::new(e)));
    code
}

/// A container's exit status as a process exit code (the low 8 bits, as a shell sees them).
pub fn container_code(code: i32) -> u8 {
    (code & 0xff) as u8
}

/// Pulls the image per `--pull`. Progress is not shown: the container owns stdout, so only
/// Docker's "Unable to find image" line and the result go to stderr.
pub(super) fn ensure_image(ctx: &Ctx, engine: &Engine, config: &RunConfig) -> Result<()> {
    let present = engine.images.resolve(&config.image).is_ok();
    let must_pull = match config.pull {
        PullPolicy::Always => true,
        PullPolicy::Missing => !present,
        PullPolicy::Never => {
            if !present {
                anyhow::bail!(
                    "no such image: {} (and --pull never forbids pulling it)",
                    config.image
                );
            }
            false
        }
    };
    if !must_pull {
        return Ok(());
    }
    pull_image(
        ctx,
        engine,
        &config.image,
        config.platform.as_deref(),
        present,
    )
}

/// Pulls `image` with the CLI's registry settings (`hull run`'s and `hull build`'s path).
pub(super) fn pull_image(
    ctx: &Ctx,
    engine: &Engine,
    image: &str,
    platform: Option<&str>,
    present: bool,
) -> Result<()> {
    let reference = Reference::parse_with_default_tag(image)?;
    if !present {
        eprintln!("Unable to find image '{}' locally", reference.familiar());
    }
    let platform = match platform {
        Some(p) => p.parse::<PlatformSpec>()?,
        None => PlatformSpec::host(),
    };
    let registry_cfg = registry_config(ctx.config.as_deref(), None)?;
    let registry = Registry::new(reference.domain(), &registry_cfg)?;
    let opts = PullOptions {
        platform,
        ..PullOptions::default()
    };
    let outcome = hull_image::pull::pull(&engine.images, &registry, &reference, &opts, &Quiet)
        .with_context(|| format!("pull {}", reference.familiar()))?;
    eprintln!("Digest: {}", outcome.digest);
    eprintln!(
        "Status: Downloaded newer image for {}",
        reference.familiar()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    fn parse(argv: &[&str]) -> hull_engine::run::RunOptions {
        let cli = Cli::try_parse_from(argv).unwrap();
        match cli.command {
            Command::Run(a) => super::options(*a),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flags_before_the_image_are_hulls_after_it_the_commands() {
        let o = parse(&[
            "hull",
            "run",
            "--rm",
            "-it",
            "-e",
            "A=1",
            "-h",
            "web",
            "-v",
            "/a:/b:ro",
            "--pids-limit",
            "-1",
            "--network",
            "host",
            "busybox",
            "sh",
            "-c",
            "echo -e hi",
            "--rm",
        ]);
        assert!(o.rm && o.interactive && o.tty);
        assert_eq!(o.env, ["A=1"]);
        assert_eq!(o.hostname.as_deref(), Some("web"));
        assert_eq!(o.volumes, ["/a:/b:ro"]);
        assert_eq!(o.pids_limit, Some(-1));
        assert_eq!(o.network.as_deref(), Some("host"));
        assert_eq!(o.image, "busybox");
        assert_eq!(o.args, ["sh", "-c", "echo -e hi", "--rm"]);
    }

    #[test]
    fn container_codes_keep_the_low_byte() {
        assert_eq!(super::container_code(3), 3);
        assert_eq!(super::container_code(137), 137);
        assert_eq!(super::container_code(256 + 1), 1);
    }
}
