//! `hull pull`, `hull login`, `hull logout`.

use std::io::Read;

use anyhow::{bail, Context, Result};
use hull_image::platform::PlatformSpec;
use hull_image::pull::{PullOptions, Quiet};
use hull_image::reference::{Reference, DEFAULT_DOMAIN};
use hull_image::registry::{DockerConfig, Registry};

use super::Ctx;
use crate::cli::{LoginArgs, LogoutArgs, PullArgs};
use crate::progress::Progress;
use crate::settings::registry_config;

pub fn pull(ctx: &Ctx, args: PullArgs) -> Result<u8> {
    let platform = match &args.platform {
        Some(p) => p.parse::<PlatformSpec>()?,
        None => PlatformSpec::host(),
    };
    let had_tag = !args.image.contains('@')
        && args
            .image
            .rsplit('/')
            .next()
            .is_some_and(|l| l.contains(':'));
    let reference = Reference::parse_with_default_tag(&args.image)?;
    let config = registry_config(ctx.config.as_deref(), args.cert_dir.as_deref())?;
    let store = ctx.store()?;
    let registry = Registry::new(reference.domain(), &config)?;
    let opts = PullOptions {
        platform,
        ..PullOptions::default()
    };
    if !args.quiet {
        if !had_tag && reference.digest().is_none() {
            println!("Using default tag: latest");
        }
        let what = reference.tag().map_or_else(
            || {
                reference
                    .digest()
                    .map(|d| d.to_string())
                    .unwrap_or_default()
            },
            str::to_string,
        );
        println!("{what}: Pulling from {}", short_path(&reference));
    }
    let progress = Progress::new(args.quiet);
    let outcome = if args.quiet {
        hull_image::pull::pull(&store, &registry, &reference, &opts, &Quiet)
    } else {
        hull_image::pull::pull(&store, &registry, &reference, &opts, &progress)
    }
    .with_context(|| format!("pull {}", reference.familiar()))?;
    progress.finish();
    if !args.quiet {
        println!("Digest: {}", outcome.digest);
        let status = if outcome.updated {
            "Downloaded newer image for"
        } else {
            "Image is up to date for"
        };
        println!("Status: {status} {}", reference.familiar());
    }
    println!("{reference}");
    super::events::emit(ctx, |e| e.image_pulled(&reference.familiar()));
    Ok(0)
}

/// Docker prints `library/busybox` for Hub images and the bare path elsewhere.
fn short_path(r: &Reference) -> String {
    r.path().to_string()
}

/// The registry a login/logout names; Docker Hub when none is given.
fn server_domain(server: Option<&str>) -> String {
    let s = server.unwrap_or(DEFAULT_DOMAIN);
    let s = s
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let host = s.split('/').next().unwrap_or(s);
    match host {
        "index.docker.io" | "registry-1.docker.io" => DEFAULT_DOMAIN.to_string(),
        h => h.to_string(),
    }
}

pub fn login(ctx: &Ctx, args: LoginArgs) -> Result<u8> {
    let domain = server_domain(args.server.as_deref());
    let Some(user) = args.username.clone() else {
        bail!("login {domain}: --username is required (hull does not prompt)");
    };
    let password = match (&args.password, args.password_stdin) {
        (Some(_), true) => {
            bail!("login {domain}: --password and --password-stdin are mutually exclusive")
        }
        (Some(p), false) => p.clone(),
        (None, true) => read_password_stdin()?,
        (None, false) => bail!("login {domain}: give --password or --password-stdin"),
    };
    let config = registry_config(ctx.config.as_deref(), args.cert_dir.as_deref())?;
    let registry = Registry::new(&domain, &config)?;
    registry
        .check_login(&user, &password)
        .with_context(|| format!("login {domain}"))?;
    let path = DockerConfig::default_path();
    let mut creds = DockerConfig::load(&path)?;
    creds.set(&domain, &user, &password);
    creds
        .save(&path)
        .with_context(|| format!("save credentials {}", path.display()))?;
    println!("Login Succeeded");
    Ok(0)
}

fn read_password_stdin() -> Result<String> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .context("read password from stdin")?;
    let p = s.trim_end_matches(['\n', '\r']).to_string();
    if p.is_empty() {
        bail!("login: the password on stdin is empty");
    }
    Ok(p)
}

pub fn logout(args: LogoutArgs) -> Result<u8> {
    let domain = server_domain(args.server.as_deref());
    let path = DockerConfig::default_path();
    let mut creds = DockerConfig::load(&path)?;
    if creds.remove(&domain) {
        creds
            .save(&path)
            .with_context(|| format!("save credentials {}", path.display()))?;
        println!("Removing login credentials for {domain}");
    } else {
        println!("Not logged in to {domain}");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_normalize() {
        assert_eq!(server_domain(None), "docker.io");
        assert_eq!(
            server_domain(Some("https://index.docker.io/v1/")),
            "docker.io"
        );
        assert_eq!(server_domain(Some("127.0.0.1:5001")), "127.0.0.1:5001");
    }
}
