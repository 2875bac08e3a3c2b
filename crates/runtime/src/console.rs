//! The container's terminal: a pty from the container's own devpts instance, the slave as the
//! controlling terminal and stdio of init, the master handed to the parent.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use hull_oci::runtime::ConsoleSize;
use rustix::fs::{Mode, OFlags};
use rustix::pty::OpenptFlags;

fn ctx(what: &str, e: impl Into<io::Error>) -> io::Error {
    let e = e.into();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Opens /dev/pts/ptmx (after pivot_root, so it is the container's devpts instance), makes the
/// slave our controlling terminal and stdio, binds it over /dev/console, and returns the master.
pub fn setup(size: Option<ConsoleSize>) -> io::Result<OwnedFd> {
    let (master, slave) = open_pty(size)?;
    bind_console(&master)?;
    become_controlled_by(&slave)?;
    Ok(master)
}

/// For a process exec'd into a running container: like [`setup`], but /dev/console stays the
/// container's own (its init's pty, or none).
pub fn setup_for_exec(size: Option<ConsoleSize>) -> io::Result<OwnedFd> {
    let (master, slave) = open_pty(size)?;
    become_controlled_by(&slave)?;
    Ok(master)
}

/// A new pty pair from /dev/pts/ptmx, the slave sized to `size`.
fn open_pty(size: Option<ConsoleSize>) -> io::Result<(OwnedFd, OwnedFd)> {
    let master = rustix::fs::open(
        "/dev/pts/ptmx",
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ctx("open /dev/pts/ptmx", e))?;
    rustix::pty::unlockpt(&master).map_err(|e| ctx("unlockpt", e))?;
    let slave = rustix::pty::ioctl_tiocgptpeer(&master, OpenptFlags::RDWR | OpenptFlags::NOCTTY)
        .map_err(|e| ctx("open pty peer", e))?;
    if let Some(s) = size {
        let ws = rustix::termios::Winsize {
            ws_row: s.height as u16,
            ws_col: s.width as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&slave, ws).map_err(|e| ctx("set window size", e))?;
    }
    Ok((master, slave))
}

/// Starts a new session with `slave` as its controlling terminal and our stdio.
fn become_controlled_by(slave: &OwnedFd) -> io::Result<()> {
    // setsid must happen before TIOCSCTTY because only a session leader without a terminal can
    // acquire one.
    rustix::process::setsid().map_err(|e| ctx("setsid", e))?;
    rustix::process::ioctl_tiocsctty(slave).map_err(|e| ctx("set controlling terminal", e))?;
    dup_stdio(slave)
}

/// /dev/console is the pty slave, like Docker's `-t` (best effort: a rootfs without /dev tmpfs
/// may not allow creating it).
fn bind_console(master: &OwnedFd) -> io::Result<()> {
    let name = rustix::pty::ptsname(master, Vec::new()).map_err(|e| ctx("ptsname", e))?;
    let name = std::path::PathBuf::from(name.to_string_lossy().into_owned());
    let console = std::path::Path::new("/dev/console");
    if crate::mounts::create_mountpoint(console, false).is_ok() {
        rustix::mount::mount_bind(&name, console).map_err(|e| ctx("bind /dev/console", e))?;
    }
    Ok(())
}

/// Makes `fd` the process's stdin, stdout and stderr.
pub fn dup_stdio(fd: impl AsFd) -> io::Result<()> {
    let fd = fd.as_fd();
    rustix::stdio::dup2_stdin(fd).map_err(|e| ctx("dup2 stdin", e))?;
    rustix::stdio::dup2_stdout(fd).map_err(|e| ctx("dup2 stdout", e))?;
    rustix::stdio::dup2_stderr(fd).map_err(|e| ctx("dup2 stderr", e))
}

/// Installs three descriptors as stdin, stdout and stderr.
pub fn install_stdio(fds: &[OwnedFd; 3]) -> io::Result<()> {
    rustix::stdio::dup2_stdin(&fds[0]).map_err(|e| ctx("dup2 stdin", e))?;
    rustix::stdio::dup2_stdout(&fds[1]).map_err(|e| ctx("dup2 stdout", e))?;
    rustix::stdio::dup2_stderr(&fds[2]).map_err(|e| ctx("dup2 stderr", e))
}
