//! The detached side of `hull run -d`: a monitor process (a hidden entry point of the hull
//! binary) runs the container with its stdout and stderr on pipes (or its pty) and copies them,
//! line by line, into `<id>-json.log` in Docker's json-file format ([`crate::lifecycle::jsonlog`]), and to the clients attached
//! on its socket ([`crate::lifecycle::attach`]); it runs the container again under its restart policy. It
//! stays single-threaded: the runtime refuses to fork from a threaded process, and one poll(2)
//! loop is the smallest footprint.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::pipe::PipeFlags;
use rustix::process::{Pid, WaitOptions};
use serde::{Deserialize, Serialize};

use crate::engine::{io_err, rt_err};
use crate::lifecycle::attach::{AttachServer, Frame};
use crate::lifecycle::burst::{Burst, Release};
use crate::lifecycle::foreground;
use crate::lifecycle::health::{self, Prober};
use crate::lifecycle::jsonlog::{encode_with_suffix, entry_suffix, Lines};
use crate::lifecycle::jsonlog_batch::encode_ascii_lines;
use crate::lifecycle::logfile::LogFile;
use crate::lifecycle::restart::Restarter;
use crate::state::{Record, Status};
use crate::{Engine, EngineError};
use hull_net::dns::DnsServer;

/// One line of the log, as Docker's json-file driver writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// The log file of a container: `<root>/containers/<id>/<id>-json.log`.
pub fn log_path(engine: &Engine, id: &str) -> PathBuf {
    engine.containers.dir(id).join(format!("{id}-json.log"))
}

/// One of the container's output streams: the pipe's (or pty's) read end and the unfinished
/// line.
struct Stream {
    fd: Option<OwnedFd>,
    name: &'static str,
    lines: Lines,
    /// The read buffer, kept during a burst of output and freed, like the log's buffer, once
    /// the output is quiet ([`Burst`]): an idle monitor keeps neither resident.
    buf: Vec<u8>,
}

/// How much one read takes from a stream: a default pipe's worth at first, more once a read
/// comes back full (the container writes faster than the monitor reads).
const READ_SIZE: usize = 64 * 1024;
const BURST_READ_SIZE: usize = 256 * 1024;
/// During a large burst, the log's writer thread runs while the entries are at least this many
/// times the bytes read (lines shorter than about 20 bytes).
const WRITER_EXPANSION: u64 = 4;
/// The output pipes' capacity: a container writing in bursts runs on while the monitor
/// encodes, and each wakeup of the monitor finds more to read.
const PIPE_SIZE: usize = 1024 * 1024;

impl Stream {
    fn new(fd: OwnedFd, name: &'static str) -> Stream {
        Stream {
            fd: Some(fd),
            name,
            lines: Lines::default(),
            buf: Vec::new(),
        }
    }

    /// Reads what is available, passes it to the attached clients and writes every complete
    /// line to the log (each read's lines stamped with the time it returned); at EOF the rest,
    /// and closes. What was read is in the file when this returns, except during a large burst,
    /// when the log's writer thread may still be writing it.
    fn pump(
        &mut self,
        log: &mut LogFile,
        clients: &mut AttachServer,
        burst: &mut Burst,
    ) -> io::Result<()> {
        let Some(fd) = &self.fd else { return Ok(()) };
        if self.buf.is_empty() {
            self.buf = vec![0u8; READ_SIZE];
        }
        let size = self.buf.len();
        let buf = &mut self.buf;
        let n = match rustix::io::read(fd, &mut buf[..]) {
            Ok(n) => n,
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => return Ok(()),
            // EIO: a pty whose slave side is gone, which is its EOF.
            Err(_) => 0,
        };
        if n > 0 && !clients.clients.is_empty() {
            clients.broadcast(&match self.name {
                "stderr" => Frame::Stderr(buf[..n].to_vec()),
                _ => Frame::Stdout(buf[..n].to_vec()),
            });
        }
        let appended = log.appended();
        self.log(log, n)?;
        if n == BURST_READ_SIZE {
            // A large burst: short lines make entries many times the bytes read, and then
            // encoding while a second thread writes pays (see logwriter); for long lines the
            // copies dominate, and a third busy thread beside the container's only slows it.
            let short_lines = log.appended() - appended >= WRITER_EXPANSION * n as u64;
            log.set_background(short_lines)?;
        }
        burst.read(Instant::now(), n == BURST_READ_SIZE);
        if n == 0 {
            self.fd = None;
            self.buf = Vec::new();
        } else if n == size && size < BURST_READ_SIZE {
            // The container writes faster than the monitor reads: more per wakeup.
            self.buf = vec![0u8; BURST_READ_SIZE];
        }
        Ok(())
    }

    /// Writes the entries of the `n` bytes just read (all that is left at EOF) to the log.
    fn log(&mut self, log: &mut LogFile, n: usize) -> io::Result<()> {
        if log.discards() {
            return Ok(());
        }
        let suffix = entry_suffix(self.name, &hull_image::pull::now_rfc3339());
        let mut data = &self.buf[..n];
        let entry = |log: &mut LogFile, text: &[u8]| {
            log.append_with(|out| encode_with_suffix(out, text, &suffix))
        };
        if !self.lines.is_empty() {
            // The line the last read left unfinished, up to its end.
            let end = memchr::memchr(b'\n', data).map_or(data.len(), |i| i + 1);
            self.lines.push(&data[..end], |text| entry(log, text))?;
            data = &data[end..];
        }
        // Plain lines in one pass; the general path takes over at the first it cannot take.
        while self.lines.is_empty() && !data.is_empty() {
            let used =
                log.append_batch(|out, room| encode_ascii_lines(out, data, &suffix, room))?;
            if used == 0 {
                break;
            }
            data = &data[used..];
        }
        self.lines.push(data, |text| entry(log, text))?;
        if n == 0 {
            if let Some(rest) = self.lines.finish() {
                entry(log, &rest)?;
            }
        }
        log.flush()
    }
}

/// At the end of a burst of output ([`Burst`]): frees the read and write buffers, and after a
/// large burst gives back the heap's free pages (glibc keeps freed memory of that size) and the
/// code pages the burst faulted in, so that the idle monitor's RSS is what it was before.
fn release_burst(streams: &mut [Stream], log: &mut LogFile, release: Release) -> io::Result<()> {
    if release == Release::Nothing {
        return Ok(());
    }
    for s in streams.iter_mut() {
        s.buf = Vec::new();
    }
    log.flush_and_release()?;
    if release == Release::BuffersAndPages {
        shed_setup_memory();
    }
    Ok(())
}

/// How much clients' input the monitor queues for a container that does not read its stdin;
/// past this it stops reading from clients (backpressure) until the container takes some.
const STDIN_BUFFER: usize = 64 * 1024;

/// The container's input side as the monitor holds it.
struct Input {
    /// Where attached clients' stdin goes (the pty, or the stdin pipe with `-i`), non-blocking;
    /// None without `-i`: clients' input is dropped, as Docker does for a container without
    /// OpenStdin.
    stdin: Option<OwnedFd>,
    /// Input the container has not taken yet, written when its stdin polls writable.
    pending: Vec<u8>,
    /// A client's end of stdin came with `stdin_once`: close once `pending` is written.
    close_when_drained: bool,
    /// The pty, for window sizes.
    console: Option<OwnedFd>,
    /// Close the container's stdin when a client's ends (`hull start -a -i`, Docker's
    /// StdinOnce).
    stdin_once: bool,
}

impl Input {
    fn new(stdin_once: bool) -> Input {
        Input {
            stdin: None,
            pending: Vec::new(),
            close_when_drained: false,
            console: None,
            stdin_once,
        }
    }

    /// Makes `fd` the container's stdin; writes to it never block the monitor's loop.
    fn set_stdin(&mut self, fd: OwnedFd) -> io::Result<()> {
        rustix::io::ioctl_fionbio(&fd, true)?;
        self.stdin = Some(fd);
        Ok(())
    }

    /// Room for more input: the monitor reads its clients only then.
    fn wants_input(&self) -> bool {
        self.pending.len() < STDIN_BUFFER
    }

    /// Input is waiting for the container's stdin to become writable.
    fn waiting_fd(&self) -> Option<&OwnedFd> {
        self.stdin.as_ref().filter(|_| !self.pending.is_empty())
    }

    /// Writes what the container's stdin takes without blocking; a closed stdin drops the rest.
    fn flush(&mut self) {
        while let (Some(fd), false) = (&self.stdin, self.pending.is_empty()) {
            match rustix::io::write(fd, &self.pending) {
                Ok(n) => drop(self.pending.drain(..n)),
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) => return,
                Err(_) => {
                    self.stdin = None;
                    self.pending.clear();
                }
            }
        }
        if self.close_when_drained && self.pending.is_empty() {
            self.stdin = None;
        }
    }

    fn apply(&mut self, frame: Frame) {
        match frame {
            Frame::Stdin(bytes) => {
                if self.stdin.is_some() {
                    self.pending.extend_from_slice(&bytes);
                    self.flush();
                }
            }
            Frame::StdinEnd if self.stdin_once => {
                self.close_when_drained = true;
                self.flush();
            }
            Frame::StdinClose => {
                self.close_when_drained = true;
                self.flush();
            }
            Frame::Resize { rows, cols } => {
                if let Some(c) = &self.console {
                    let size = rustix::termios::Winsize {
                        ws_row: rows,
                        ws_col: cols,
                        ws_xpixel: 0,
                        ws_ypixel: 0,
                    };
                    let _ = rustix::termios::tcsetwinsize(c, size);
                }
            }
            Frame::StdinEnd | Frame::Stdout(_) | Frame::Stderr(_) | Frame::Exit(_) => {}
        }
    }
}

/// The monitor's one loop while the container runs: output into the log and to attached
/// clients, new clients accepted, clients' input to the container, the container's DNS
/// queries answered; ends once every output stream is closed (the container and all its
/// processes are gone: they die with its pid 1).
fn relay(
    mut streams: Vec<Stream>,
    input: &mut Input,
    server: &mut AttachServer,
    log: &mut LogFile,
    mut dns: Option<&mut DnsServer>,
    mut health: Option<&mut Prober<'_>>,
) -> io::Result<()> {
    let mut burst = Burst::default();
    while streams.iter().any(|s| s.fd.is_some()) {
        let open: Vec<usize> = (0..streams.len())
            .filter(|&i| streams[i].fd.is_some())
            .collect();
        let mut fds: Vec<PollFd<'_>> = open
            .iter()
            .map(|&i| PollFd::new(streams[i].fd.as_ref().expect("open"), PollFlags::IN))
            .collect();
        fds.push(PollFd::new(&server.listener, PollFlags::IN));
        // A full input buffer stops reading clients (hangups still wake us).
        let client_flags = if input.wants_input() {
            PollFlags::IN
        } else {
            PollFlags::empty()
        };
        fds.extend(
            server
                .clients
                .iter()
                .map(|c| PollFd::new(&c.stream, client_flags)),
        );
        let stdin_polled = input.waiting_fd().is_some();
        fds.extend(input.waiting_fd().map(|fd| PollFd::new(fd, PollFlags::OUT)));
        let dns_fds = dns.as_deref().map(DnsServer::fds);
        fds.extend(
            dns_fds
                .iter()
                .flatten()
                .map(|fd| PollFd::new(fd, PollFlags::IN)),
        );
        // The health check's pidfd comes after the DNS sockets (both outside `ready`).
        fds.extend(health::poll_fd(health.as_deref()));
        let dns_timeout = dns.as_deref().and_then(DnsServer::next_timeout);
        let burst_end = burst.active().then(|| burst.timeout(Instant::now()));
        let wake = [dns_timeout, burst_end.flatten()];
        let timeout = health::poll_timeout(wake.into_iter().flatten().min(), health.as_deref());
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        let mut ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
        drop(fds);
        // The DNS sockets come last; its timeouts are due after any wakeup, so serve it always.
        ready.truncate(open.len() + 1 + server.clients.len() + usize::from(stdin_polled));
        if let Some(dns) = dns.as_deref_mut() {
            dns.handle_ready();
        }
        serve_health(health.as_deref_mut(), log)?;
        if stdin_polled && ready.pop() == Some(true) {
            input.flush();
        }
        let (stream_ready, rest) = ready.split_at(open.len());
        let (listener_ready, client_ready) = rest.split_first().expect("listener polled");
        serve_attach(server, input, *listener_ready, client_ready);
        for (&i, &ready) in open.iter().zip(stream_ready) {
            if ready {
                streams[i].pump(log, server, &mut burst)?;
            }
        }
        if burst.active() {
            release_burst(&mut streams, log, burst.release(Instant::now()))?;
        }
    }
    release_burst(&mut streams, log, burst.end())
}

/// The health checks' side of a wakeup. A check about to be forked ends the log's writer
/// thread first: no second thread may run at a fork.
fn serve_health(health: Option<&mut Prober<'_>>, log: &mut LogFile) -> io::Result<()> {
    if let Some(h) = health {
        let now = Instant::now();
        if h.fork_due(now) {
            log.foreground()?;
        }
        h.handle(now);
    }
    Ok(())
}

/// The attach side of a wakeup: what ready clients sent goes to the container's input
/// (clients first, in reverse so that dropping one keeps the others' indices), then a new
/// client is accepted.
fn serve_attach(server: &mut AttachServer, input: &mut Input, listener: bool, clients: &[bool]) {
    for i in (0..clients.len()).rev() {
        if clients[i] {
            for frame in server.receive(i).unwrap_or_default() {
                input.apply(frame);
            }
        }
    }
    if listener {
        server.accept();
    }
}

fn wait_exit(pid: i32) -> io::Result<i32> {
    let pid = Pid::from_raw(pid).ok_or_else(|| io::Error::other("init pid is not positive"))?;
    loop {
        match rustix::process::waitpid(Some(pid), WaitOptions::empty()) {
            Ok(Some((_, status))) => return Ok(foreground::exit_code(status)),
            Ok(None) | Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

fn pipe(id: &str) -> Result<(OwnedFd, OwnedFd), EngineError> {
    rustix::pipe::pipe_with(PipeFlags::CLOEXEC)
        .map_err(|e| io_err(id, "create", Path::new("output pipe"))(e.into()))
}

/// What the monitor tells the CLI that started it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorEvent {
    /// The attach socket is ready: `hull start -a` connects now, before the container starts.
    Listening,
    /// The container runs.
    Started,
}

/// How long a monitor started for `hull start -a` waits for its client before starting anyway.
const FIRST_CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long it then waits for that client's window size.
const FIRST_FRAME_TIMEOUT: Duration = Duration::from_millis(200);

impl Engine {
    /// The monitor's work: runs the container with its output going to the log and to attached
    /// clients, tells `Started` once it runs (the CLI waiting on `hull run -d` may then
    /// return), runs it again as its restart policy says, and returns the last exit code once
    /// it exited for good and was torn down (and removed, with `--rm`). It holds the running
    /// lock throughout, restart delays included, so the container counts as running (or
    /// restarting) until then. With `attach_first` (`hull start -a`) it tells `Listening` and
    /// waits for a client before the first start, so the client misses no output.
    pub fn run_detached(
        &self,
        id: &str,
        attach_first: bool,
        mut tell: impl FnMut(MonitorEvent),
    ) -> Result<i32, EngineError> {
        let claim = self
            .containers
            .try_claim_running(id)?
            .ok_or_else(|| EngineError::AlreadyRunning(id.to_string()))?;
        let mut record = self.containers.update(id, |r| {
            r.state.stopped_by_user = false;
            r.state.restart_count = 0;
        })?;
        let path = log_path(self, id);
        let mut log =
            LogFile::open(&path, &record.config.log).map_err(io_err(id, "open log", &path))?;
        let dir = self.containers.dir(id);
        let mut server =
            AttachServer::bind(&dir).map_err(io_err(id, "listen on", &dir.join("attach.sock")))?;
        if attach_first {
            tell(MonitorEvent::Listening);
        }
        let mut restarter = Restarter::new(record.config.restart);
        let mut first = true;
        let result = loop {
            let begun = Instant::now();
            let run = self.run_once(
                &record,
                &mut log,
                &mut server,
                attach_first && first,
                || {
                    if first {
                        tell(MonitorEvent::Started);
                    }
                },
            );
            let code = match run {
                Ok(code) => code,
                // A container that never started reports the error to `hull run -d`.
                Err(e) if first => break Err(e),
                Err(e) => {
                    eprintln!("hull: restart {id}: {e}");
                    i32::from(e.exit_code())
                }
            };
            first = false;
            // `hull update` may have changed the policy or the limits since the last start.
            record = self.containers.load(id)?;
            restarter.set_policy(record.config.restart);
            let stopped = record.state.stopped_by_user;
            let Some(delay) = restarter.next(code, begun.elapsed(), stopped) else {
                break Ok(code);
            };
            self.containers.update(id, |r| {
                r.state.status = Status::Restarting;
                r.state.exit_code = Some(code);
                r.state.restart_count = restarter.count;
            })?;
            if !self.sleep_unless_stopped(id, delay)? {
                self.containers
                    .update(id, |r| r.state.status = Status::Exited)?;
                break Ok(code);
            }
        };
        drop(server);
        let _ = std::fs::remove_file(dir.join("attach.sock"));
        self.finish_run(&record, claim, result)
    }

    /// Waits out a restart delay; false when `hull stop`/`kill` came meanwhile.
    fn sleep_unless_stopped(&self, id: &str, delay: Duration) -> Result<bool, EngineError> {
        let until = Instant::now() + delay;
        loop {
            if self.containers.load(id)?.state.stopped_by_user {
                return Ok(false);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(true);
            }
            std::thread::sleep(left.min(STOP_POLL));
        }
    }

    /// One run of the container: its output pipes (or pty) relayed into the log and to attached
    /// clients until it exits; with `-i` its stdin is a pipe (or the pty) that clients write to.
    fn run_once(
        &self,
        record: &Record,
        log: &mut LogFile,
        server: &mut AttachServer,
        wait_for_client: bool,
        started: impl FnOnce(),
    ) -> Result<i32, EngineError> {
        let id = record.id.as_str();
        let path = log_path(self, id);
        let (interactive, tty) = (record.config.interactive, record.config.tty);
        let (child_stdin, stdin) = if interactive && !tty {
            let (r, w) = pipe(id)?;
            (r, Some(w))
        } else {
            let null = Path::new("/dev/null");
            (
                File::open(null).map_err(io_err(id, "open", null))?.into(),
                None,
            )
        };
        let (out_r, out_w) = pipe(id)?;
        let (err_r, err_w) = pipe(id)?;
        for fd in [&out_r, &err_r] {
            // Best effort: past /proc/sys/fs/pipe-max-size the default capacity stays.
            let _ = rustix::pipe::fcntl_setpipe_size(fd, PIPE_SIZE);
        }
        let stdio = (!tty).then_some([child_stdin, out_w, err_w]);
        let mut streams = vec![Stream::new(out_r, "stdout"), Stream::new(err_r, "stderr")];
        let mut input = Input::new(wait_for_client);
        let stdin_err = |e: io::Error| io_err(id, "set up", Path::new("stdin"))(e);
        if let Some(fd) = stdin {
            input.set_stdin(fd).map_err(stdin_err)?;
        }
        let dup_err = |e: io::Error| io_err(id, "duplicate", Path::new("console"))(e);
        self.run_claimed(record, stdio, |runtime, created| {
            if let Some(console) = created.console {
                input.console = Some(console.try_clone().map_err(dup_err)?);
                if interactive {
                    let fd = console.try_clone().map_err(dup_err)?;
                    input.set_stdin(fd).map_err(stdin_err)?;
                }
                streams = vec![Stream::new(console, "stdout")];
            }
            if wait_for_client {
                server.accept_first(FIRST_CLIENT_TIMEOUT).map_err(io_err(
                    id,
                    "accept on",
                    Path::new("attach.sock"),
                ))?;
                // Its window size, before the program may ask for it.
                for i in (0..server.clients.len()).rev() {
                    if let Some(frames) = server.receive_ready(i, FIRST_FRAME_TIMEOUT) {
                        frames.into_iter().for_each(|f| input.apply(f));
                    }
                }
            }
            let mut dns = self.embedded_dns(record, created.pid)?;
            runtime.start(id).map_err(rt_err(id, "start"))?;
            started();
            let mut health = Prober::start(self, record)?;
            shed_setup_memory();
            let relayed = relay(
                streams,
                &mut input,
                server,
                log,
                dns.as_mut(),
                health.as_mut(),
            );
            let code = wait_exit(created.pid).map_err(io_err(id, "wait for", Path::new("init")));
            if let Some(Err(e)) = health.map(Prober::finish) {
                eprintln!("hull: end health checks of {id}: {e}");
            }
            server.finish(*code.as_ref().unwrap_or(&128));
            relayed.map_err(io_err(id, "write log", &path))?;
            code
        })
    }
}

/// The monitor waits far longer than it sets up: it gives back the heap setup freed and the
/// code pages only setup ran (image store, runtime, seccomp compiler...), so that its resident
/// size is what the relay loop uses (see BENCHMARKS.md, "Monitor footprint"). The monitor is
/// single-threaded (the runtime refuses to fork otherwise), as the release requires.
fn shed_setup_memory() {
    hull_sys::mem::trim_heap();
    let _ = hull_sys::mem::release_clean_file_pages();
}

/// How often a restart delay looks for a user's stop.
const STOP_POLL: Duration = Duration::from_millis(50);

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain lines (the one-pass encoder), lines that are not ASCII, escapes and lines longer
    /// than an entry, read in pieces that end anywhere: the entries are those of one read.
    #[test]
    fn a_streams_entries_do_not_depend_on_where_its_reads_end() {
        use crate::lifecycle::jsonlog::{decode_entry, MAX_ENTRY};
        let mut data = Vec::new();
        for i in 0..2000 {
            data.extend(format!("line {i} {}\n", "x".repeat(i % 150)).bytes());
            if i % 500 == 3 {
                data.extend("caf\u{e9} \"q\"\t\n".bytes());
                data.extend(vec![b'z'; MAX_ENTRY + 10]);
                data.push(b'\n');
            }
        }
        data.extend(b"unfinished");
        let mut expected = Vec::new();
        let mut lines = Lines::default();
        lines
            .push::<()>(&data, |e| {
                expected.push(e.to_vec());
                Ok(())
            })
            .unwrap();
        expected.extend(lines.finish());
        for chunk in [3, 100, 4096, 65536, 262144] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("log");
            let mut log = LogFile::open(&path, &Default::default()).unwrap();
            let mut stream = Stream {
                fd: None,
                name: "stdout",
                lines: Lines::default(),
                buf: Vec::new(),
            };
            for piece in data.chunks(chunk).chain([&[][..]]) {
                stream.buf = piece.to_vec();
                stream.log(&mut log, piece.len()).unwrap();
            }
            let file = std::fs::read(&path).unwrap();
            let texts: Vec<Vec<u8>> = file
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let mut text = Vec::new();
                    decode_entry(l, &mut text).expect("an entry");
                    text
                })
                .collect();
            assert_eq!(texts, expected, "reads of {chunk} bytes");
        }
    }

    #[test]
    fn input_to_a_stdin_nobody_reads_queues_then_pushes_back() {
        let (r, w) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC).unwrap();
        let mut input = Input::new(false);
        input.set_stdin(w).unwrap();
        let mut sent = 0;
        // Far more than the pipe and the buffer hold: none of it may block.
        while input.wants_input() {
            input.apply(Frame::Stdin(vec![b'x'; 8192]));
            sent += 8192;
            assert!(sent < 4 << 20, "the buffer never filled");
        }
        assert!(input.waiting_fd().is_some());
        let mut got = 0;
        let mut buf = vec![0u8; 65536];
        while got < sent {
            got += rustix::io::read(&r, &mut buf).unwrap();
            input.flush();
        }
        assert_eq!(got, sent);
        assert!(input.waiting_fd().is_none() && input.wants_input());
    }

    #[test]
    fn stdin_once_closes_after_the_queued_input_is_written() {
        let (r, w) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC).unwrap();
        let mut input = Input::new(true);
        input.set_stdin(w).unwrap();
        input.apply(Frame::Stdin(vec![b'y'; 100_000]));
        input.apply(Frame::StdinEnd);
        assert!(input.stdin.is_some(), "closed before its input was written");
        let mut buf = vec![0u8; 65536];
        let mut got = 0;
        loop {
            let n = rustix::io::read(&r, &mut buf).unwrap();
            if n == 0 {
                break;
            }
            got += n;
            input.flush();
        }
        assert_eq!(got, 100_000);
        assert!(input.stdin.is_none());
    }

    #[test]
    fn an_api_clients_close_ends_stdin_without_stdin_once() {
        let (r, w) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC).unwrap();
        let mut input = Input::new(false);
        input.set_stdin(w).unwrap();
        input.apply(Frame::Stdin(b"x".to_vec()));
        input.apply(Frame::StdinEnd);
        assert!(
            input.stdin.is_some(),
            "a CLI client's EOF closed a shared stdin"
        );
        input.apply(Frame::StdinClose);
        assert!(input.stdin.is_none());
        let mut buf = [0u8; 8];
        assert_eq!(rustix::io::read(&r, &mut buf).unwrap(), 1);
        assert_eq!(rustix::io::read(&r, &mut buf).unwrap(), 0);
    }
}
