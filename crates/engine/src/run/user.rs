//! `-u user[:group]` resolved against the container's own /etc/passwd and /etc/group, as Docker
//! does (moby/sys/user `GetExecUser`): names must exist, numeric ids need no entry, and
//! supplementary groups come from /etc/group only when no group was given explicitly.

use std::io::Read;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    NoGroup(String),
    #[error("read {path} in the container: {reason}")]
    Read { path: String, reason: String },
}

/// The process identity the OCI spec gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// From the passwd entry, or `/`.
    pub home: String,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if line.starts_with('#') || f.len() < 6 {
            return None;
        }
        Some(PasswdEntry {
            name: f[0],
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f[5],
        })
    })
}

fn group_entries(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    text.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if line.starts_with('#') || f.len() < 3 {
            return None;
        }
        Some(GroupEntry {
            name: f[0],
            gid: f[2].parse().ok()?,
            members: f
                .get(3)
                .map(|m| m.split(',').filter(|s| !s.is_empty()).collect())
                .unwrap_or_default(),
        })
    })
}

/// Resolves `user` (None means the image's default, root) against the text of /etc/passwd and
/// /etc/group (None when the file does not exist).
pub fn resolve(
    user: Option<&str>,
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<ExecUser, UserError> {
    let spec = user.filter(|u| !u.is_empty()).unwrap_or("0");
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let numeric_uid = user_part.parse::<u32>().ok();
    let entry = passwd_entries(passwd.unwrap_or("")).find(|e| match numeric_uid {
        Some(uid) => e.uid == uid,
        None => e.name == user_part,
    });
    let (uid, mut gid, home, name) = match (&entry, numeric_uid) {
        (Some(e), _) => (e.uid, e.gid, e.home.to_string(), Some(e.name)),
        (None, Some(uid)) => (uid, 0, "/".to_string(), None),
        (None, None) => return Err(UserError::NoUser(user_part.to_string())),
    };
    let groups = group.unwrap_or("");
    let mut additional_gids = Vec::new();
    match group_part {
        Some(g) => {
            gid = match g.parse::<u32>() {
                Ok(n) => n,
                Err(_) => group_entries(groups)
                    .find(|e| e.name == g)
                    .map(|e| e.gid)
                    .ok_or_else(|| UserError::NoGroup(g.to_string()))?,
            }
        }
        None => {
            if let Some(name) = name {
                additional_gids = group_entries(groups)
                    .filter(|e| e.members.contains(&name) && e.gid != gid)
                    .map(|e| e.gid)
                    .collect();
                additional_gids.dedup();
            }
        }
    }
    Ok(ExecUser {
        uid,
        gid,
        additional_gids,
        home: if home.is_empty() { "/".into() } else { home },
    })
}

/// Reads `path` (like `/etc/passwd`) inside `rootfs` with every symlink resolved as if the rootfs
/// were `/`, so a hostile image cannot point us at the host's files. None when it does not exist.
pub fn read_in_rootfs(rootfs: &Path, path: &str) -> Result<Option<String>, UserError> {
    let err = |e: std::io::Error| UserError::Read {
        path: path.to_string(),
        reason: e.to_string(),
    };
    let root = hull_sys::fs::open_dir(rootfs).map_err(err)?;
    let rel = path.trim_start_matches('/');
    let fd = match hull_sys::fs::open_in_root(
        std::os::fd::AsFd::as_fd(&root),
        Path::new(rel),
        rustix::fs::OFlags::RDONLY,
    ) {
        Ok(fd) => fd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(e)),
    };
    let mut text = String::new();
    // A passwd file larger than this is not one we want to parse.
    std::fs::File::from(fd)
        .take(4 << 20)
        .read_to_string(&mut text)
        .map_err(err)?;
    Ok(Some(text))
}

/// Resolves `user` against the rootfs's /etc/passwd and /etc/group.
pub fn resolve_in_rootfs(rootfs: &Path, user: Option<&str>) -> Result<ExecUser, UserError> {
    let passwd = read_in_rootfs(rootfs, "/etc/passwd")?;
    let group = read_in_rootfs(rootfs, "/etc/group")?;
    resolve(user, passwd.as_deref(), group.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
        hulluser:x:1000:1000:Hull User:/home/hulluser:/bin/sh\n\
        nohome:x:1001:1001:::/bin/sh\n\
        # comment:x:5:5::/:\n";
    const GROUP: &str = "root:x:0:\n\
        wheel:x:10:root,hulluser\n\
        audio:x:29:hulluser\n\
        hulluser:x:1000:\n\
        staff:x:50:other\n";

    fn r(u: Option<&str>) -> Result<ExecUser, UserError> {
        resolve(u, Some(PASSWD), Some(GROUP))
    }

    #[test]
    fn default_is_root_with_its_home_and_groups() {
        let u = r(None).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/root"));
        assert_eq!(u.additional_gids, [10]);
    }

    #[test]
    fn names_resolve_with_supplementary_groups() {
        let u = r(Some("hulluser")).unwrap();
        assert_eq!(
            (u.uid, u.gid, u.home.as_str()),
            (1000, 1000, "/home/hulluser")
        );
        assert_eq!(u.additional_gids, [10, 29]);
    }

    #[test]
    fn numeric_ids_work_with_and_without_entries() {
        let u = r(Some("1000")).unwrap();
        assert_eq!(
            (u.uid, u.gid, u.home.as_str()),
            (1000, 1000, "/home/hulluser")
        );
        let u = r(Some("4242")).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (4242, 0, "/"));
        assert!(u.additional_gids.is_empty());
        let u = r(Some("4242:4343")).unwrap();
        assert_eq!((u.uid, u.gid), (4242, 4343));
        let u = resolve(Some("7:8"), None, None).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (7, 8, "/"));
    }

    #[test]
    fn explicit_group_replaces_supplementary_groups() {
        let u = r(Some("hulluser:staff")).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 50));
        assert!(u.additional_gids.is_empty());
        let u = r(Some("daemon:0")).unwrap();
        assert_eq!((u.uid, u.gid), (1, 0));
    }

    #[test]
    fn empty_home_becomes_root_dir() {
        assert_eq!(r(Some("nohome")).unwrap().home, "/");
    }

    #[test]
    fn unknown_names_fail_like_docker() {
        assert_eq!(
            r(Some("nobody")).unwrap_err().to_string(),
            "unable to find user nobody: no matching entries in passwd file"
        );
        assert_eq!(
            r(Some("hulluser:nogroup")).unwrap_err().to_string(),
            "unable to find group nogroup: no matching entries in group file"
        );
        assert!(resolve(Some("root"), None, None).is_err());
    }

    #[test]
    fn reads_files_inside_the_rootfs_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/passwd"), PASSWD).unwrap();
        // An absolute symlink resolves inside the rootfs, not on the host.
        std::os::unix::fs::symlink("/etc/passwd", root.join("etc/group")).unwrap();
        let u = resolve_in_rootfs(root, Some("hulluser")).unwrap();
        assert_eq!(u.uid, 1000);
        assert_eq!(
            read_in_rootfs(root, "/etc/group").unwrap().as_deref(),
            Some(PASSWD)
        );
        assert_eq!(read_in_rootfs(root, "/etc/shadow").unwrap(), None);
    }
}
