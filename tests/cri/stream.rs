//! A client of the CRI streaming server (the URLs that Exec and Attach return): Kubernetes'
//! websocket channel protocol `v4.channel.k8s.io`. Every binary message starts with a channel
//! byte: 0 stdin, 1 stdout, 2 stderr, 3 the final status (JSON), 4 terminal resize.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, WebSocket};

/// What a stream carried until the server closed it.
#[derive(Debug, Default)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The status message of channel 3 (`{"status":"Success"}` or a failure with the exit code).
    pub status: String,
}

pub struct Stream {
    ws: WebSocket<TcpStream>,
}

impl Stream {
    /// Opens the streaming URL (`http://HOST:PORT/exec/TOKEN`) as a websocket.
    pub fn connect(url: &str) -> Stream {
        let ws_url = url.replacen("http://", "ws://", 1);
        let host = ws_url
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let tcp = TcpStream::connect(&host).unwrap_or_else(|e| panic!("connect to {host}: {e}"));
        tcp.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut req = ws_url.as_str().into_client_request().unwrap();
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "v4.channel.k8s.io".parse().unwrap(),
        );
        let (ws, _) = loop {
            match tungstenite::client(req.clone(), tcp.try_clone().unwrap()) {
                Ok(ok) => break ok,
                Err(tungstenite::HandshakeError::Interrupted(_)) => continue,
                Err(e) => panic!("websocket handshake with {url}: {e}"),
            }
        };
        Stream { ws }
    }

    /// Writes `data` to the process's stdin.
    pub fn send_stdin(&mut self, data: &[u8]) {
        let mut msg = vec![0u8];
        msg.extend_from_slice(data);
        self.ws
            .send(Message::Binary(msg))
            .expect("send stdin on the stream");
    }

    /// Reads until the server closes the stream (or `secs` pass: then panics).
    pub fn read_to_end(&mut self, secs: u64) -> Output {
        let mut out = Output::default();
        let deadline = Instant::now() + Duration::from_secs(secs);
        while self.read_one(&mut out) {
            assert!(
                Instant::now() < deadline,
                "stream still open after {secs} s: {out:?}"
            );
        }
        out
    }

    /// Reads until stdout contains `needle`; false if the stream closed or `secs` passed first.
    pub fn read_until_stdout(&mut self, needle: &str, secs: u64) -> (bool, Output) {
        let mut out = Output::default();
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if String::from_utf8_lossy(&out.stdout).contains(needle) {
                return (true, out);
            }
            if !self.read_one(&mut out) {
                break;
            }
        }
        let found = String::from_utf8_lossy(&out.stdout).contains(needle);
        (found, out)
    }

    /// Reads one message into `out`; false when the stream is closed.
    fn read_one(&mut self, out: &mut Output) -> bool {
        match self.ws.read() {
            Ok(Message::Binary(b)) if !b.is_empty() => {
                let data = &b[1..];
                match b[0] {
                    1 => out.stdout.extend_from_slice(data),
                    2 => out.stderr.extend_from_slice(data),
                    3 => out.status.push_str(&String::from_utf8_lossy(data)),
                    _ => {}
                }
                true
            }
            Ok(Message::Close(_)) => false,
            Ok(_) => true,
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                true
            }
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => false,
            Err(e) => panic!("read from the stream: {e}"),
        }
    }

    pub fn close(mut self) {
        let _ = self.ws.close(None);
    }
}
