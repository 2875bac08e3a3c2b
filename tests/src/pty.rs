//! A terminal of the test's own: the program under test runs as a session leader with the pty's
//! slave as its controlling terminal (`setsid --ctty`) and as its stdin, stdout and stderr; the
//! test plays the terminal emulator on the master (types, reads, resizes).

use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustix::termios::{tcsetwinsize, Winsize};

pub struct Pty {
    master: OwnedFd,
    slave: OwnedFd,
    /// What the master read: one reader for the pty's life, so no output goes to a stale one.
    output: mpsc::Receiver<Vec<u8>>,
    /// Everything read so far.
    pub seen: String,
}

impl Pty {
    pub fn open(rows: u16, cols: u16) -> Pty {
        use rustix::fs::{Mode, OFlags};
        use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
        let master =
            openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).expect("openpt");
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let name = ptsname(&master, Vec::new()).unwrap();
        let slave = rustix::fs::open(
            name.as_c_str(),
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .expect("open pty slave");
        let (tx, output) = mpsc::channel();
        let mut reader = std::fs::File::from(master.try_clone().unwrap());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends with EIO once no slave is open any more, or when the test is done.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    return;
                }
            }
        });
        let pty = Pty {
            master,
            slave,
            output,
            seen: String::new(),
        };
        pty.resize(rows, cols);
        pty
    }

    pub fn resize(&self, rows: u16, cols: u16) {
        let size = Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        tcsetwinsize(&self.master, size).unwrap();
    }

    /// Starts `inner` (program, arguments and environment) on the slave.
    pub fn spawn(&self, inner: &Command) -> Child {
        let mut c = Command::new("setsid");
        c.arg("--ctty")
            .arg(inner.get_program())
            .args(inner.get_args());
        for (k, v) in inner.get_envs() {
            if let Some(v) = v {
                c.env(k, v);
            }
        }
        let fd = || Stdio::from(self.slave.try_clone().unwrap());
        c.stdin(fd()).stdout(fd()).stderr(fd()).spawn().unwrap()
    }

    /// The slave end, e.g. to compare the terminal's settings before and after.
    pub fn slave(&self) -> BorrowedFd<'_> {
        self.slave.as_fd()
    }

    /// Reads into `seen` until nothing more comes for 200 ms.
    pub fn drain(&mut self) {
        while let Ok(chunk) = self.output.recv_timeout(Duration::from_millis(200)) {
            self.seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    pub fn write(&self, bytes: &[u8]) {
        let mut f = std::fs::File::from(self.master.try_clone().unwrap());
        f.write_all(bytes).unwrap();
    }

    /// Reads into `seen` until it contains `want` (true) or `secs` pass (false).
    pub fn read_until(&mut self, want: &str, secs: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !self.seen.contains(want) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(chunk) => self.seen.push_str(&String::from_utf8_lossy(&chunk)),
                Err(_) => return false,
            }
        }
        true
    }
}
