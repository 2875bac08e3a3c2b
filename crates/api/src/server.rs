//! The accept loop: each connection served by hyper (HTTP/1.1, upgrades allowed) on its own
//! task; the service exits once no connection has been open for the idle time.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::ServiceError;
use crate::listen::{self, Listener};
use crate::route::{self, Shared};
use crate::ServiceOptions;

/// Open connections, and when the last one closed.
struct Activity {
    open: AtomicUsize,
    /// Connections accepted so far.
    served: AtomicUsize,
    last: Mutex<Instant>,
}

impl Activity {
    fn idle_for(&self) -> Option<Duration> {
        if self.open.load(Ordering::SeqCst) > 0 {
            return None;
        }
        Some(self.last.lock().map(|t| t.elapsed()).unwrap_or_default())
    }
}

/// Decrements the open count (and notes the time) when a connection's task ends, however.
struct Open(Arc<Activity>);

impl Drop for Open {
    fn drop(&mut self) {
        if let Ok(mut t) = self.0.last.lock() {
            *t = Instant::now();
        }
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

pub async fn run(opts: ServiceOptions, activated: Vec<OwnedFd>) -> Result<(), ServiceError> {
    let shared = Arc::new(Shared::open(&opts)?);
    let (listeners, _socket_file) = listen::open(opts.uri.as_deref(), activated)?;
    let activity = Arc::new(Activity {
        open: AtomicUsize::new(0),
        served: AtomicUsize::new(0),
        last: Mutex::new(Instant::now()),
    });
    let mut tasks = Vec::new();
    for l in listeners {
        tasks.push(tokio::spawn(accept_loop(
            l,
            shared.clone(),
            activity.clone(),
        )));
    }
    tokio::select! {
        _ = wait_idle(&activity, opts.idle) => {}
        _ = terminated() => {}
    }
    for t in tasks {
        t.abort();
    }
    Ok(())
}

/// Returns on SIGTERM or SIGINT, so that the service ends as when idle: its socket file removed.
/// Connections still open are cut; containers keep running under their monitors.
async fn terminated() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// How long the service is quiet before it gives memory back (see [`wait_idle`]).
const TRIM_AFTER: Duration = Duration::from_secs(2);

/// Returns once no connection was open for `idle` (never, with None). Meanwhile, each time the
/// service falls quiet for [`TRIM_AFTER`], it returns its freed heap (the request threads'
/// arenas) and the clean file pages it faulted in (code of the requests served) to the kernel,
/// so that an idle service is as small as a fresh one; the next request faults back in what
/// it needs.
async fn wait_idle(activity: &Activity, idle: Option<Duration>) {
    // Connections served when memory was last given back: none yet to give back.
    let mut trimmed = 0;
    loop {
        let quiet = activity.idle_for();
        if let (Some(q), Some(limit)) = (quiet, idle) {
            if q >= limit {
                return;
            }
        }
        let served = activity.served.load(Ordering::SeqCst);
        // Only with no other thread left (the request threads go after 1 s idle), as the
        // release of file pages requires; else at the next look.
        let quiet_long = quiet.is_some_and(|q| q >= TRIM_AFTER);
        if quiet_long
            && served != trimmed
            && hull_sys::process::thread_count().is_ok_and(|n| n == 1)
        {
            hull_sys::mem::trim_heap();
            let _ = hull_sys::mem::release_clean_file_pages();
            trimmed = served;
        }
        let step = match (quiet, idle) {
            (Some(q), Some(limit)) => (limit - q).min(TRIM_AFTER),
            _ => Duration::from_millis(500),
        };
        tokio::time::sleep(step.max(Duration::from_millis(10))).await;
    }
}

async fn accept_loop(l: Listener, shared: Arc<Shared>, activity: Arc<Activity>) {
    loop {
        let accepted = match &l {
            Listener::Unix(u) => u.accept().await.map(|(s, _)| Conn::Unix(s)),
            Listener::Tcp(t) => t.accept().await.map(|(s, _)| Conn::Tcp(s)),
        };
        match accepted {
            Ok(conn) => {
                activity.open.fetch_add(1, Ordering::SeqCst);
                activity.served.fetch_add(1, Ordering::SeqCst);
                let open = Open(activity.clone());
                let shared = shared.clone();
                tokio::spawn(async move {
                    let _open = open;
                    match conn {
                        Conn::Unix(s) => serve(s, shared).await,
                        Conn::Tcp(s) => serve(s, shared).await,
                    }
                });
            }
            Err(e) => {
                eprintln!("hull: accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

enum Conn {
    Unix(tokio::net::UnixStream),
    Tcp(tokio::net::TcpStream),
}

async fn serve<S>(stream: S, shared: Arc<Shared>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| route::handle(shared.clone(), req));
    let conn = http1::Builder::new()
        .max_buf_size(64 << 10)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    // A client that goes away mid-request is its own business.
    let _ = conn.await;
}
