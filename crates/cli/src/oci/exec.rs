//! `hull-runtime exec`: runc's flags → an OCI process → [`Runtime::exec`].

use anyhow::{bail, Context, Result};
use hull_oci::runtime::Process;
use hull_runtime::{foreground, ExecRequest, Runtime};

use super::args::ExecArgs;
use super::commands::absolute;

pub fn exec(rt: &Runtime, a: ExecArgs) -> Result<u8> {
    let process = match &a.process {
        Some(path) => read_process(path)?,
        None => {
            let template = rt.spec(&a.id)?.process.unwrap_or_default();
            process_from_flags(template, &a)?
        }
    };
    if process.terminal && a.console_socket.is_none() && a.detach {
        bail!("cannot allocate a terminal and detach without --console-socket");
    }
    let mut req = ExecRequest::new(&a.id, process);
    req.console_socket = a.console_socket.map(absolute).transpose()?;
    req.pid_file = a.pid_file.map(absolute).transpose()?;
    req.preserve_fds = a.preserve_fds;
    req.ignore_paused = a.ignore_paused;
    req.cgroup = a.cgroup;
    if a.detach {
        rt.exec(req)?;
        return Ok(0);
    }
    // Caught before the process exists (handlers only, no thread), forwarded while it runs;
    // a terminal without --console-socket is relayed to our own stdio, as runc does.
    let signals = foreground::catch_signals().context("catch signals")?;
    let executed = rt.exec(req)?;
    if let Some(console) = &executed.console {
        foreground::copy_window_size(console);
    }
    let code = foreground::wait(signals, executed.pid, executed.console, true)
        .context("wait for the process")?;
    Ok(code as u8)
}

fn read_process(path: &std::path::Path) -> Result<Process> {
    let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("parse {}", path.display()))
}

/// The container's process with the command line and flags applied, as runc does.
pub fn process_from_flags(template: Process, a: &ExecArgs) -> Result<Process> {
    if a.command.is_empty() {
        bail!("exec: no command given (and no --process)");
    }
    let mut p = Process {
        args: a.command.clone(),
        terminal: a.tty,
        console_size: None,
        ..template
    };
    for e in &a.env {
        let key = e.split('=').next().unwrap_or(e);
        match p.env.iter_mut().find(|x| x.split('=').next() == Some(key)) {
            Some(slot) => *slot = e.clone(),
            None => p.env.push(e.clone()),
        }
    }
    if let Some(cwd) = &a.cwd {
        p.cwd = cwd.clone();
    }
    if let Some(user) = &a.user {
        let (uid, gid) = user.split_once(':').unwrap_or((user, ""));
        p.user.uid = uid
            .parse()
            .with_context(|| format!("--user {user:?}: bad uid"))?;
        if !gid.is_empty() {
            p.user.gid = gid
                .parse()
                .with_context(|| format!("--user {user:?}: bad gid"))?;
        }
    }
    if !a.additional_gids.is_empty() {
        p.user.additional_gids = a.additional_gids.clone();
    }
    if !a.cap.is_empty() {
        let caps = p.capabilities.get_or_insert_with(Default::default);
        for c in &a.cap {
            let name = match c.to_ascii_uppercase() {
                n if n.starts_with("CAP_") => n,
                n => format!("CAP_{n}"),
            };
            for set in [&mut caps.bounding, &mut caps.effective, &mut caps.permitted] {
                if !set.contains(&name) {
                    set.push(name.clone());
                }
            }
        }
    }
    if a.no_new_privs {
        p.no_new_privileges = true;
    }
    if let Some(profile) = &a.apparmor {
        p.apparmor_profile = Some(profile.clone());
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::oci::args::{OciCli, OciCommand};

    fn parse(argv: &[&str]) -> ExecArgs {
        let cli = OciCli::try_parse_from(argv).unwrap();
        match cli.command {
            Some(OciCommand::Exec(a)) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flags_change_the_template() {
        let a = parse(&[
            "hull-runtime",
            "exec",
            "-t",
            "--cwd",
            "/tmp",
            "-e",
            "A=2",
            "--env",
            "B=1",
            "-u",
            "1000:1001",
            "--cap",
            "net_admin",
            "--no-new-privs",
            "--apparmor",
            "hull-test",
            "--preserve-fds",
            "2",
            "--ignore-paused",
            "--process-label",
            "system_u:system_r:container_t:s0",
            "c1",
            "sh",
            "-c",
            "id -u",
        ]);
        assert_eq!(a.id, "c1");
        assert_eq!((a.preserve_fds, a.ignore_paused), (2, true));
        let template = Process {
            args: vec!["sleep".into()],
            env: vec!["A=1".into()],
            cwd: "/".into(),
            ..Default::default()
        };
        let p = process_from_flags(template, &a).unwrap();
        assert_eq!(p.args, ["sh", "-c", "id -u"]);
        assert_eq!(p.env, ["A=2", "B=1"]);
        assert_eq!(p.cwd, "/tmp");
        assert_eq!((p.user.uid, p.user.gid), (1000, 1001));
        assert!(p.terminal && p.no_new_privileges);
        assert_eq!(p.apparmor_profile.as_deref(), Some("hull-test"));
        let caps = p.capabilities.unwrap();
        assert_eq!(caps.bounding, ["CAP_NET_ADMIN"]);
        assert_eq!(caps.permitted, ["CAP_NET_ADMIN"]);
    }

    #[test]
    fn a_command_or_a_process_file_is_needed_and_uids_are_numbers() {
        let a = parse(&["hull-runtime", "exec", "c1"]);
        assert!(process_from_flags(Process::default(), &a).is_err());
        let a = parse(&["hull-runtime", "exec", "-u", "bob", "c1", "id"]);
        assert!(process_from_flags(Process::default(), &a).is_err());
        let a = parse(&["hull-runtime", "exec", "--process", "/p.json", "-d", "c1"]);
        assert!(a.detach && a.process.is_some());
    }
}
