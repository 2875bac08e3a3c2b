//! Unix sockets for the parent↔init sync channel: a SOCK_SEQPACKET pair (message boundaries kept)
//! and sending one descriptor with a message (SCM_RIGHTS).

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, SocketAddrUnix, SocketFlags, SocketType,
};

/// A connected, close-on-exec SOCK_SEQPACKET pair.
pub fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )?)
}

/// Sends `bytes` as one message, with `fd` attached when given.
pub fn send_with_fd(sock: impl AsFd, bytes: &[u8], fd: Option<impl AsFd>) -> io::Result<()> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    let borrowed;
    if let Some(fd) = fd.as_ref() {
        borrowed = [fd.as_fd()];
        if !control.push(SendAncillaryMessage::ScmRights(&borrowed)) {
            return Err(io::Error::other("scm_rights: control buffer too small"));
        }
    }
    let iov = [io::IoSlice::new(bytes)];
    let sent = rustix::net::sendmsg(sock, &iov, &mut control, SendFlags::NOSIGNAL)?;
    if sent != bytes.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "short sendmsg"));
    }
    Ok(())
}

/// Receives one message into `buf`; returns its length (0 at end of stream) and the descriptor
/// that came with it, if any.
pub fn recv_with_fd(sock: impl AsFd, buf: &mut [u8]) -> io::Result<(usize, Option<OwnedFd>)> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [io::IoSliceMut::new(buf)];
    let msg = rustix::net::recvmsg(sock, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC)?;
    let mut received = None;
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(fds) = m {
            for fd in fds {
                // Keep the first; any extra descriptor is dropped (closed) here.
                if received.is_none() {
                    received = Some(fd);
                }
            }
        }
    }
    Ok((msg.bytes, received))
}

/// runc's console-socket protocol: connect to the unix stream socket at `path` and send `fd`
/// with a one-line name as the payload.
pub fn send_fd_to_path(path: &Path, fd: impl AsFd, name: &str) -> io::Result<()> {
    let sock = connect_stream(path)?;
    send_with_fd(&sock, name.as_bytes(), Some(fd))
}

/// A close-on-exec unix stream socket connected to `path`.
pub fn connect_stream(path: &Path) -> io::Result<OwnedFd> {
    let sock = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    rustix::net::connect(&sock, &SocketAddrUnix::new(path)?)?;
    Ok(sock)
}

/// Sets the `IFF_UP` flag of the network interface `name` (e.g. `lo`), as `ip link set lo up`
/// does: reads its flags with SIOCGIFFLAGS and writes them back with IFF_UP added.
pub fn set_interface_up(name: &str) -> io::Result<()> {
    let mut req: libc::ifreq = ifreq_named(name)?;
    let sock = rustix::net::socket_with(
        AddressFamily::INET,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    interface_ioctl(&sock, libc::SIOCGIFFLAGS, &mut req)?;
    // SAFETY: SIOCGIFFLAGS filled the `ifru_flags` member of the union.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    req.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
    interface_ioctl(&sock, libc::SIOCSIFFLAGS, &mut req)
}

fn ifreq_named(name: &str) -> io::Result<libc::ifreq> {
    // SAFETY: ifreq is plain old data (a name array and a union of integers and addresses), for
    // which all zero bytes are a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    if name.len() >= req.ifr_name.len() || name.bytes().any(|b| b == 0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad interface name {name:?}"),
        ));
    }
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

fn interface_ioctl(sock: impl AsFd, request: libc::Ioctl, req: &mut libc::ifreq) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `sock` is an open socket for the whole call and `req` a valid, NUL-terminated
    // ifreq that the interface-flags requests read and write in place.
    let ret = unsafe { libc::ioctl(sock.as_fd().as_raw_fd(), request, req as *mut libc::ifreq) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The sockets systemd passed by socket activation (`LISTEN_PID`, `LISTEN_FDS`: descriptors 3,
/// 4, … already listening), taken once: the variables are removed so that no child takes them
/// again. Empty when the variables are missing, malformed or meant for another process. Call it
/// before starting any thread (it changes the environment).
pub fn take_activation_fds() -> Vec<OwnedFd> {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let count = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<i32>().ok())
        .unwrap_or(0);
    for var in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(var);
    }
    if !ours || count <= 0 {
        return Vec::new();
    }
    (3..3 + count.min(64))
        .filter(|&fd| rustix::io::fcntl_getfd(fd_borrowed(fd)).is_ok())
        // SAFETY: systemd's protocol hands this process descriptors 3..3+LISTEN_FDS, open and
        // owned by nobody else (LISTEN_PID names us, the variables are removed above so nothing
        // takes them twice, and fcntl just showed each is open).
        .map(|fd| unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
        .collect()
}

fn fd_borrowed(fd: i32) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: used only for an fcntl(F_GETFD) probe, which fails harmlessly (EBADF) when `fd` is
    // not open; the borrow does not outlive that call in `take_activation_fds`.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, Write};

    #[test]
    fn passes_a_descriptor_with_a_message() {
        let (a, b) = seqpacket_pair().unwrap();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"hello").unwrap();
        send_with_fd(&a, b"msg", Some(&file)).unwrap();
        let mut buf = [0u8; 16];
        let (n, fd) = recv_with_fd(&b, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"msg");
        let mut got = std::fs::File::from(fd.unwrap());
        got.rewind().unwrap();
        let mut s = String::new();
        got.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");
    }

    #[test]
    fn interface_names_must_fit_ifreq() {
        assert!(ifreq_named("lo").is_ok());
        assert!(set_interface_up("a-name-longer-than-ifnamsiz").is_err());
        assert!(set_interface_up("no\0nul").is_err());
    }

    #[test]
    fn end_of_stream_reads_zero() {
        let (a, b) = seqpacket_pair().unwrap();
        drop(a);
        let mut buf = [0u8; 4];
        assert_eq!(recv_with_fd(&b, &mut buf).unwrap().0, 0);
    }
}
