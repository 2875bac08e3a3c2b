//! Attaching to a detached container: the monitor listens on `<container dir>/attach.sock`
//! (mode 0600) and relays the container's output to every attached client and their input to
//! the container; `hull attach` and `hull start -a` are the clients.
//!
//! Both directions carry frames: a tag byte, a big-endian u32 length, the payload.
//!
//! | tag | direction         | payload                                   |
//! |-----|-------------------|-------------------------------------------|
//! | 1   | monitor → client  | stdout bytes (all output with a pty)      |
//! | 2   | monitor → client  | stderr bytes                              |
//! | 3   | monitor → client  | exit code, i32 BE; the last frame of a run |
//! | 4   | client → monitor  | stdin bytes (dropped unless `-i`)          |
//! | 5   | client → monitor  | end of stdin                              |
//! | 6   | client → monitor  | window size: rows u16 BE, cols u16 BE     |
//! | 7   | client → monitor  | close the container's stdin (once queued input is written): an API client's half-close |
//!
//! The socket path can exceed `sun_path`'s 108 bytes under a long store root, so both sides
//! name it through an open handle on the container's directory: `/proc/self/fd/N/attach.sock`.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    Exit(i32),
    Stdin(Vec<u8>),
    StdinEnd,
    Resize { rows: u16, cols: u16 },
    StdinClose,
}

/// The largest payload a peer may announce; anything bigger is a broken peer.
const MAX_PAYLOAD: usize = 1 << 20;

impl Frame {
    pub fn encode(&self) -> Vec<u8> {
        let (tag, payload): (u8, Vec<u8>) = match self {
            Frame::Stdout(b) => (1, b.clone()),
            Frame::Stderr(b) => (2, b.clone()),
            Frame::Exit(code) => (3, code.to_be_bytes().to_vec()),
            Frame::Stdin(b) => (4, b.clone()),
            Frame::StdinEnd => (5, Vec::new()),
            Frame::Resize { rows, cols } => (6, [rows.to_be_bytes(), cols.to_be_bytes()].concat()),
            Frame::StdinClose => (7, Vec::new()),
        };
        let mut out = Vec::with_capacity(5 + payload.len());
        out.push(tag);
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&payload);
        out
    }

    fn decode(tag: u8, p: &[u8]) -> io::Result<Frame> {
        let bad = || {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad attach frame {tag}"),
            )
        };
        Ok(match tag {
            1 => Frame::Stdout(p.to_vec()),
            2 => Frame::Stderr(p.to_vec()),
            3 => Frame::Exit(i32::from_be_bytes(p.try_into().map_err(|_| bad())?)),
            4 => Frame::Stdin(p.to_vec()),
            5 => Frame::StdinEnd,
            6 if p.len() == 4 => Frame::Resize {
                rows: u16::from_be_bytes([p[0], p[1]]),
                cols: u16::from_be_bytes([p[2], p[3]]),
            },
            7 => Frame::StdinClose,
            _ => return Err(bad()),
        })
    }
}

/// Reassembles frames from a byte stream read in arbitrary pieces.
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: Vec<u8>,
}

impl FrameReader {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, if one has arrived.
    pub fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let len = u32::from_be_bytes(self.buf[1..5].try_into().expect("4 bytes")) as usize;
        if len > MAX_PAYLOAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "attach frame too large",
            ));
        }
        if self.buf.len() < 5 + len {
            return Ok(None);
        }
        let frame = Frame::decode(self.buf[0], &self.buf[5..5 + len])?;
        self.buf.drain(..5 + len);
        Ok(Some(frame))
    }
}

/// The attach socket of the container whose directory is `dir`, named through `dir_handle`.
fn socket_path(dir_handle: &File) -> PathBuf {
    PathBuf::from(format!(
        "/proc/self/fd/{}/attach.sock",
        dir_handle.as_raw_fd()
    ))
}

/// Connects to a container's monitor.
pub fn connect(container_dir: &Path) -> io::Result<UnixStream> {
    let dir = File::open(container_dir)?;
    UnixStream::connect(socket_path(&dir))
}

/// One attached client of the monitor.
#[derive(Debug)]
pub struct Client {
    pub stream: UnixStream,
    pub frames: FrameReader,
    /// The peer closed its side: nothing more is written to it, but what it sent before (a
    /// resize, stdin) is still read; `receive` drops it at EOF.
    pub output_closed: bool,
}

/// The monitor's side: the listening socket and the clients attached to the current run.
#[derive(Debug)]
pub struct AttachServer {
    pub listener: UnixListener,
    pub clients: Vec<Client>,
}

/// How long a write to a client that does not read may block the monitor before it is dropped.
const CLIENT_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

impl AttachServer {
    /// Listens on `<container_dir>/attach.sock`, replacing a stale one, readable only by root.
    pub fn bind(container_dir: &Path) -> io::Result<AttachServer> {
        let dir = File::open(container_dir)?;
        let path = socket_path(&dir);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let listener = UnixListener::bind(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        Ok(AttachServer {
            listener,
            clients: Vec::new(),
        })
    }

    /// Takes every pending connection.
    pub fn accept(&mut self) {
        while let Ok((stream, _)) = self.listener.accept() {
            if stream.set_nonblocking(false).is_err()
                || stream
                    .set_write_timeout(Some(CLIENT_WRITE_TIMEOUT))
                    .is_err()
            {
                continue;
            }
            self.clients.push(Client {
                stream,
                frames: FrameReader::default(),
                output_closed: false,
            });
        }
    }

    /// Waits up to `timeout` for a first client (`hull start -a` connects before the start).
    pub fn accept_first(&mut self, timeout: Duration) -> io::Result<()> {
        wait_readable(&self.listener, timeout)?;
        self.accept();
        Ok(())
    }

    /// What client `i` sent within `timeout` (its first frames, such as its window size).
    pub fn receive_ready(&mut self, i: usize, timeout: Duration) -> Option<Vec<Frame>> {
        match wait_readable(&self.clients[i].stream, timeout) {
            Ok(true) => self.receive(i),
            _ => Some(Vec::new()),
        }
    }

    /// Sends `frame` to every client; a client that cannot take it in time is dropped. One
    /// that has closed its side (a one-shot resize client, say) stays until its last frames
    /// are read: dropping it here lost a resize that arrived with the container's output.
    pub fn broadcast(&mut self, frame: &Frame) {
        let bytes = frame.encode();
        self.clients.retain_mut(|c| {
            if c.output_closed {
                return true;
            }
            match c.stream.write_all(&bytes) {
                Ok(()) => true,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                    ) =>
                {
                    c.output_closed = true;
                    true
                }
                Err(_) => false,
            }
        });
    }

    /// Reads what client `i` sent; None when it is gone (then it is dropped).
    pub fn receive(&mut self, i: usize) -> Option<Vec<Frame>> {
        let mut buf = [0u8; 8192];
        let client = &mut self.clients[i];
        let n = match client.stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Some(Vec::new()),
            Err(_) => 0,
        };
        if n == 0 {
            self.clients.remove(i);
            return None;
        }
        client.frames.push(&buf[..n]);
        let mut frames = Vec::new();
        loop {
            match client.frames.next_frame() {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => return Some(frames),
                Err(_) => {
                    self.clients.remove(i);
                    return None;
                }
            }
        }
    }

    /// The run ended with `code`: tells every client and lets them go.
    pub fn finish(&mut self, code: i32) {
        self.broadcast(&Frame::Exit(code));
        self.clients.clear();
    }
}

/// How an attach session is set up.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Send this terminal's stdin (`hull attach` without `--no-stdin`, `hull start -a -i`).
    pub stdin: bool,
    /// The container has a pty: raw mode here, window sizes there.
    pub tty: bool,
    pub detach_keys: Vec<u8>,
}

/// How an attach session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientEnd {
    /// The container exited with this code.
    Exited(i32),
    /// The user typed the detach keys; the container runs on.
    Detached,
    /// The monitor closed the connection without an exit code (it failed or was killed).
    Closed,
}

/// This terminal's window size as a frame.
fn window_size() -> Option<Frame> {
    let size = rustix::termios::tcgetwinsize(std::io::stdout()).ok()?;
    Some(Frame::Resize {
        rows: size.ws_row,
        cols: size.ws_col,
    })
}

/// The client's side of an attach: relays this process's stdin to the monitor and the
/// container's output to stdout and stderr until the container exits, the user detaches or the
/// monitor goes away. Single-threaded: one poll over the socket, stdin and SIGWINCH.
pub fn run_client(mut sock: UnixStream, opts: &ClientOptions) -> io::Result<ClientEnd> {
    let _raw = (opts.tty && opts.stdin)
        .then(crate::lifecycle::foreground::RawMode::enable)
        .flatten();
    let (winch_r, winch_w) = UnixStream::pair()?;
    winch_r.set_nonblocking(true)?;
    let winch = signal_hook::low_level::pipe::register(signal_hook::consts::SIGWINCH, winch_w)?;
    if opts.tty {
        if let Some(f) = window_size() {
            sock.write_all(&f.encode())?;
        }
    }
    let result = relay_client(&mut sock, opts, &winch_r);
    signal_hook::low_level::unregister(winch);
    result
}

fn relay_client(
    sock: &mut UnixStream,
    opts: &ClientOptions,
    winch: &UnixStream,
) -> io::Result<ClientEnd> {
    use rustix::event::{PollFd, PollFlags};
    let stdin = io::stdin();
    let mut stdin_open = opts.stdin;
    let mut frames = FrameReader::default();
    let mut keys = DetachKeys::new(opts.detach_keys.clone());
    let mut buf = [0u8; 8192];
    loop {
        let mut fds = vec![
            PollFd::new(&*sock, PollFlags::IN),
            PollFd::new(winch, PollFlags::IN),
        ];
        if stdin_open {
            fds.push(PollFd::new(&stdin, PollFlags::IN));
        }
        match rustix::event::poll(&mut fds, None) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
        drop(fds);
        if ready[0] {
            let n = match sock.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => 0,
            };
            if n == 0 {
                return Ok(ClientEnd::Closed);
            }
            frames.push(&buf[..n]);
            while let Some(frame) = frames.next_frame()? {
                match frame {
                    Frame::Stdout(b) => write_flush(&mut io::stdout().lock(), &b),
                    Frame::Stderr(b) => write_flush(&mut io::stderr().lock(), &b),
                    Frame::Exit(code) => return Ok(ClientEnd::Exited(code)),
                    Frame::Stdin(_)
                    | Frame::StdinEnd
                    | Frame::StdinClose
                    | Frame::Resize { .. } => {}
                }
            }
        }
        if ready[1] {
            let mut drain = [0u8; 64];
            while matches!((&*winch).read(&mut drain), Ok(n) if n > 0) {}
            if let Some(f) = window_size().filter(|_| opts.tty) {
                sock.write_all(&f.encode())?;
            }
        }
        if stdin_open && ready[2] {
            let n = match rustix::io::read(&stdin, &mut buf) {
                Ok(n) => n,
                Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => continue,
                Err(_) => 0,
            };
            if n == 0 {
                stdin_open = false;
                sock.write_all(&Frame::StdinEnd.encode())?;
                continue;
            }
            let (pass, detached) = keys.scan(&buf[..n]);
            if !pass.is_empty() {
                sock.write_all(&Frame::Stdin(pass).encode())?;
            }
            if detached {
                return Ok(ClientEnd::Detached);
            }
        }
    }
}

fn write_flush(to: &mut impl Write, bytes: &[u8]) {
    let _ = to.write_all(bytes).and_then(|()| to.flush());
}

/// Polls one descriptor for input; false when `timeout` passed first.
fn wait_readable(fd: &impl std::os::fd::AsFd, timeout: Duration) -> io::Result<bool> {
    let mut fds = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
    let ts = rustix::event::Timespec {
        tv_sec: timeout.as_secs() as i64,
        tv_nsec: i64::from(timeout.subsec_nanos()),
    };
    Ok(rustix::event::poll(&mut fds, Some(&ts))? > 0)
}

/// Docker's `--detach-keys`: comma-separated keys, each `ctrl-X` (X in `a`-`z`, `@`, `[`, `\`,
/// `]`, `^`, `_`) or one character. The default is `ctrl-p,ctrl-q`.
pub fn parse_detach_keys(s: &str) -> Result<Vec<u8>, String> {
    s.split(',')
        .map(|key| {
            if let Some(c) = key.strip_prefix("ctrl-") {
                match c.as_bytes() {
                    [b] if b.is_ascii_alphabetic() => Ok(b.to_ascii_uppercase() - b'@'),
                    [b @ (b'@' | b'[' | b'\\' | b']' | b'^' | b'_')] => Ok(b - b'@'),
                    _ => Err(format!("invalid detach key: {key:?}")),
                }
            } else {
                match key.as_bytes() {
                    [b] => Ok(*b),
                    _ => Err(format!("invalid detach key: {key:?}")),
                }
            }
        })
        .collect()
}

/// Finds the detach sequence in the input as it arrives, across reads.
#[derive(Debug)]
pub struct DetachKeys {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachKeys {
    pub fn new(keys: Vec<u8>) -> DetachKeys {
        DetachKeys { keys, matched: 0 }
    }

    /// The bytes to pass on from `input`, and whether the sequence was completed (the rest of
    /// the input is then dropped). A partial sequence is held back until it is decided.
    pub fn scan(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if self.keys.is_empty() {
                out.push(b);
                continue;
            }
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return (out, true);
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_in_pieces() {
        let frames = [
            Frame::Stdout(b"hi\n".to_vec()),
            Frame::Stderr(Vec::new()),
            Frame::Exit(-7),
            Frame::Stdin(b"x".to_vec()),
            Frame::StdinEnd,
            Frame::Resize { rows: 24, cols: 80 },
            Frame::StdinClose,
        ];
        let bytes: Vec<u8> = frames.iter().flat_map(Frame::encode).collect();
        let mut r = FrameReader::default();
        let mut got = Vec::new();
        for b in bytes {
            r.push(&[b]);
            while let Some(f) = r.next_frame().unwrap() {
                got.push(f);
            }
        }
        assert_eq!(got, frames);
        let mut r = FrameReader::default();
        r.push(&[19, 0, 0, 0, 0]);
        assert!(r.next_frame().is_err());
    }

    #[test]
    fn a_client_that_closed_is_read_before_it_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut server = AttachServer::bind(dir.path()).unwrap();
        let mut one_shot = connect(dir.path()).unwrap();
        one_shot
            .write_all(
                &Frame::Resize {
                    rows: 40,
                    cols: 120,
                }
                .encode(),
            )
            .unwrap();
        drop(one_shot);
        server.accept();
        assert_eq!(server.clients.len(), 1);
        // Output first, as when the container printed in the same wakeup: the write fails.
        server.broadcast(&Frame::Stdout(b"prompt".to_vec()));
        server.broadcast(&Frame::Stdout(b"more".to_vec()));
        assert_eq!(
            server.clients.len(),
            1,
            "dropped before its frames were read"
        );
        let frames = server.receive(0).unwrap();
        assert_eq!(
            frames,
            [Frame::Resize {
                rows: 40,
                cols: 120
            }]
        );
        assert!(server.receive(0).is_none());
        assert!(server.clients.is_empty());
    }

    #[test]
    fn detach_keys_parse_like_dockers() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), [0x10, 0x11]);
        assert_eq!(parse_detach_keys("ctrl-@,a").unwrap(), [0, b'a']);
        assert!(parse_detach_keys("ctrl-1").is_err());
        assert!(parse_detach_keys("ab").is_err());
    }

    #[test]
    fn the_detach_sequence_is_found_across_reads_and_false_starts_pass() {
        let mut d = DetachKeys::new(vec![0x10, 0x11]);
        assert_eq!(d.scan(b"ab\x10"), (b"ab".to_vec(), false));
        assert_eq!(d.scan(b"c"), (b"\x10c".to_vec(), false));
        assert_eq!(d.scan(b"\x10\x10"), (b"\x10".to_vec(), false));
        assert_eq!(d.scan(b"\x11rest"), (Vec::new(), true));
    }
}
