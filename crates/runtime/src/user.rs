//! The user switch and finding the program to exec.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use hull_oci::runtime::User;
use rustix::process::{Gid, Uid};

/// setgroups, setresgid, setresuid. PR_SET_KEEPCAPS keeps the permitted set across the uid change
/// so capabilities can be applied afterwards; the effective set is cleared by the change, which
/// is why this must happen before capabilities are applied.
pub fn switch(user: &User) -> io::Result<()> {
    let groups: Vec<Gid> = user
        .additional_gids
        .iter()
        .map(|g| Gid::from_raw(*g))
        .collect();
    rustix::thread::set_thread_groups(&groups)
        .map_err(|e| with("setgroups", &format!("{:?}", user.additional_gids), e))?;
    let gid = Gid::from_raw(user.gid);
    rustix::thread::set_thread_res_gid(gid, gid, gid)
        .map_err(|e| with("setresgid", &user.gid.to_string(), e))?;
    rustix::thread::set_keep_capabilities(true).map_err(|e| with("keepcaps", "on", e))?;
    let uid = Uid::from_raw(user.uid);
    rustix::thread::set_thread_res_uid(uid, uid, uid)
        .map_err(|e| with("setresuid", &user.uid.to_string(), e))?;
    rustix::thread::set_keep_capabilities(false).map_err(|e| with("keepcaps", "off", e))
}

fn with(op: &str, what: &str, e: rustix::io::Errno) -> io::Error {
    let e = io::Error::from(e);
    io::Error::new(e.kind(), format!("{op} {what}: {e}"))
}

/// Why the program cannot be run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    NotFound(String),
    NotExecutable(PathBuf),
}

/// The PATH from `env` (`PATH=...`), or the default Docker uses.
pub fn path_var(env: &[String]) -> &str {
    env.iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
}

/// Resolves `program` like execvp: a name with a slash is used as is; otherwise the first PATH
/// entry holding an executable regular file wins. A match that exists but is not executable is
/// remembered and reported if nothing better is found (as the shell's 126).
pub fn resolve(program: &str, env: &[String], root: &Path) -> Result<PathBuf, ResolveError> {
    if program.contains('/') {
        return check(
            &root.join(program.trim_start_matches('/')),
            Path::new(program),
        );
    }
    let mut not_exec = None;
    for dir in path_var(env).split(':').filter(|d| !d.is_empty()) {
        let shown = Path::new(dir).join(program);
        match check(
            &root.join(shown.strip_prefix("/").unwrap_or(&shown)),
            &shown,
        ) {
            Ok(p) => return Ok(p),
            Err(ResolveError::NotExecutable(p)) => not_exec = not_exec.or(Some(p)),
            Err(ResolveError::NotFound(_)) => {}
        }
    }
    match not_exec {
        Some(p) => Err(ResolveError::NotExecutable(p)),
        None => Err(ResolveError::NotFound(program.to_string())),
    }
}

fn check(real: &Path, shown: &Path) -> Result<PathBuf, ResolveError> {
    match std::fs::metadata(real) {
        Err(_) => Err(ResolveError::NotFound(shown.display().to_string())),
        Ok(md) if md.is_file() && md.permissions().mode() & 0o111 != 0 => Ok(shown.to_path_buf()),
        Ok(_) => Err(ResolveError::NotExecutable(shown.to_path_buf())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_with(files: &[(&str, u32)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (p, mode) in files {
            let full = d.path().join(p.trim_start_matches('/'));
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(&full, b"x").unwrap();
            std::fs::set_permissions(&full, std::fs::Permissions::from_mode(*mode)).unwrap();
        }
        d
    }

    #[test]
    fn resolves_through_the_containers_path() {
        let d = root_with(&[("/bin/sh", 0o755), ("/usr/bin/noexec", 0o644)]);
        let env = vec!["PATH=/usr/bin:/bin".to_string()];
        assert_eq!(resolve("sh", &env, d.path()), Ok(PathBuf::from("/bin/sh")));
        assert_eq!(
            resolve("/bin/sh", &env, d.path()),
            Ok(PathBuf::from("/bin/sh"))
        );
        assert_eq!(
            resolve("nope", &env, d.path()),
            Err(ResolveError::NotFound("nope".into()))
        );
        assert_eq!(
            resolve("noexec", &env, d.path()),
            Err(ResolveError::NotExecutable("/usr/bin/noexec".into()))
        );
        assert_eq!(
            resolve("/bin", &env, d.path()),
            Err(ResolveError::NotExecutable("/bin".into()))
        );
    }

    #[test]
    fn default_path_applies_without_one_in_env() {
        assert!(path_var(&[]).contains("/usr/bin"));
        assert_eq!(path_var(&["PATH=/x".to_string()]), "/x");
    }
}
