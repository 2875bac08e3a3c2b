//! Exec through the API: `POST /containers/{id}/exec` records an exec instance (in the
//! service's memory, as Docker keeps them in the daemon's), `POST /exec/{id}/start` runs it in
//! the exec helper (`helper`: the service may not fork) with its stdio relayed over the
//! hijacked connection, `POST /exec/{id}/resize` sizes its pty, `GET /exec/{id}/json` shows it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, LazyLock, Mutex};

use bytes::Bytes;
use hull_engine::lifecycle::{ExecConfig, ExecOptions};
use hull_engine::run::Host;
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin};
use tokio::sync::mpsc;

use crate::body;
use crate::error::ApiError;
use crate::helper::{ExecJob, EXEC_HELPER};
use crate::hijack;
use crate::mux;
use crate::route::{blocking, not_served, Handled, Shared, Target};

/// Docker's ExecConfig, the body of `POST /containers/{id}/exec`.
#[derive(Debug, Default)]
struct CreateBody {
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    detach_keys: String,
    tty: bool,
    env: Vec<String>,
    cmd: Vec<String>,
    privileged: bool,
    user: String,
    working_dir: String,
    console_size: Option<(u32, u32)>,
}

/// A JSON body as an object whose fields are read one by one, so that a 400 names the field
/// of the wrong type (unknown fields are ignored, as Docker ignores them).
struct Fields(serde_json::Map<String, serde_json::Value>);

impl Fields {
    fn parse(body: &[u8]) -> Result<Fields, ApiError> {
        match body::parse_json::<serde_json::Value>(body)? {
            serde_json::Value::Object(m) => Ok(Fields(m)),
            _ => Err(ApiError::bad("invalid JSON body: not an object")),
        }
    }

    /// Field `name`; absent or null is the type's default.
    fn get<T: serde::de::DeserializeOwned + Default>(&self, name: &str) -> Result<T, ApiError> {
        match self.0.get(name) {
            None | Some(serde_json::Value::Null) => Ok(T::default()),
            Some(v) => {
                serde_json::from_value(v.clone()).map_err(|e| ApiError::bad(format!("{name}: {e}")))
            }
        }
    }
}

impl CreateBody {
    fn parse(body: &[u8]) -> Result<CreateBody, ApiError> {
        let f = Fields::parse(body)?;
        Ok(CreateBody {
            attach_stdin: f.get("AttachStdin")?,
            attach_stdout: f.get("AttachStdout")?,
            attach_stderr: f.get("AttachStderr")?,
            detach_keys: f.get("DetachKeys")?,
            tty: f.get("Tty")?,
            env: f.get("Env")?,
            cmd: f.get("Cmd")?,
            privileged: f.get("Privileged")?,
            user: f.get("User")?,
            working_dir: f.get("WorkingDir")?,
            console_size: f.get("ConsoleSize")?,
        })
    }
}

/// The body of `POST /exec/{id}/start`.
struct StartBody {
    detach: bool,
    console_size: Option<(u32, u32)>,
}

impl StartBody {
    fn parse(body: &[u8]) -> Result<StartBody, ApiError> {
        let f = Fields::parse(body)?;
        Ok(StartBody {
            detach: f.get("Detach")?,
            console_size: f.get("ConsoleSize")?,
        })
    }
}

/// One exec instance.
#[derive(Debug, Clone)]
struct Instance {
    container_id: String,
    job: ExecJob,
    attach: [bool; 3],
    detach_keys: String,
    started: bool,
    running: bool,
    exit_code: Option<i32>,
    pid: Option<i32>,
}

static EXECS: LazyLock<Mutex<HashMap<String, Instance>>> = LazyLock::new(Default::default);

fn execs() -> std::sync::MutexGuard<'static, HashMap<String, Instance>> {
    EXECS.lock().unwrap_or_else(|p| p.into_inner())
}

fn no_such(id: &str) -> ApiError {
    ApiError::not_found(format!("No such exec instance: {id}"))
}

/// `/exec/…`.
pub async fn route(shared: Arc<Shared>, req: Request<Incoming>, t: Target) -> Handled {
    let segs: Vec<&str> = t.segments.iter().map(String::as_str).collect();
    match (req.method(), &segs[1..]) {
        (&Method::POST, [id, "start"]) => start(&shared, req, id).await,
        (&Method::POST, [id, "resize"]) => resize(id, &t),
        (&Method::GET, [id, "json"]) => inspect(id),
        _ => Err(not_served(req.method(), &t)),
    }
}

/// The client's side is the client's: an `Env` entry without `=` takes nothing from the
/// service's environment (Docker reads it as unsetting the variable; here it is dropped).
struct NoHost;

impl Host for NoHost {
    fn env(&self, _: &str) -> Option<String> {
        None
    }

    fn read_file(&self, path: &std::path::Path) -> std::io::Result<String> {
        Err(std::io::Error::other(format!(
            "{} is the client's file, not the service's",
            path.display()
        )))
    }
}

/// A new exec ID: 32 random bytes in hex, as Docker's.
fn new_id() -> Result<String, ApiError> {
    use std::io::Read;
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| ApiError::internal(format!("make an exec ID: read /dev/urandom: {e}")))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// `POST /containers/{name}/exec`.
pub async fn create(shared: &Arc<Shared>, req: Request<Incoming>, name: &str) -> Handled {
    let b = CreateBody::parse(&body::read_all(req.into_body()).await?)?;
    let args = b.cmd.clone();
    if args.is_empty() {
        return Err(ApiError::bad("No exec command specified"));
    }
    if b.privileged {
        return Err(ApiError::bad(
            "Privileged: a privileged exec is not supported",
        ));
    }
    let opts = ExecOptions {
        interactive: b.attach_stdin,
        tty: b.tty,
        env: b.env.clone(),
        user: Some(b.user.clone()).filter(|u| !u.is_empty()),
        workdir: Some(b.working_dir.clone()).filter(|w| !w.is_empty()),
        container: name.to_string(),
        args,
        ..Default::default()
    };
    let config = ExecConfig::from_options(&opts, &NoHost).map_err(|e| {
        let field = match e.flag {
            "--env" => "Env",
            "--workdir" => "WorkingDir",
            "COMMAND" => "Cmd",
            other => other,
        };
        ApiError::bad(format!("{field}: {} ({:?})", e.reason, e.value))
    })?;
    let id = new_id()?;
    let name = name.to_string();
    let exec_id = id.clone();
    let size = b.console_size.filter(|&(h, w)| h > 0 && w > 0);
    let (container_id, job) =
        blocking(shared, move |s| job_for(s, &name, &exec_id, config, size)).await?;
    let mut all = execs();
    forget_old(&mut all);
    all.insert(
        id.clone(),
        Instance {
            container_id,
            job,
            attach: [b.attach_stdin, b.attach_stdout, b.attach_stderr],
            detach_keys: b.detach_keys,
            started: false,
            running: false,
            exit_code: None,
            pid: None,
        },
    );
    drop(all);
    Ok(body::json(StatusCode::CREATED, &json!({ "Id": id })))
}

/// The helper's job for `config` in the running container `name`; 404/409 as Docker's.
fn job_for(
    s: &Shared,
    name: &str,
    exec_id: &str,
    config: ExecConfig,
    console_size: Option<(u32, u32)>,
) -> Result<(String, ExecJob), ApiError> {
    let r = s.resolve_container(name)?;
    if !s.engine.containers.is_alive(&r.id) {
        return Err(ApiError::conflict(format!(
            "Container {} is not running",
            r.id
        )));
    }
    if r.state.paused {
        return Err(ApiError::conflict(format!(
            "Container {} is paused, unpause the container before exec",
            r.id
        )));
    }
    let pid_file = s
        .engine
        .containers
        .dir(&r.id)
        .join(format!("exec-{exec_id}.pid"));
    let job = ExecJob {
        root: s.opts.root.clone(),
        pid_file,
        container: r.id.clone(),
        args: config.args,
        env: config.env,
        user: config.user,
        workdir: config.workdir,
        tty: config.tty,
        interactive: config.interactive,
        console_size,
    };
    Ok((r.id, job))
}

/// The most exec instances kept: past it, finished ones are forgotten (Docker forgets them
/// with their container).
const MAX_INSTANCES: usize = 1024;

fn forget_old(all: &mut HashMap<String, Instance>) {
    if all.len() >= MAX_INSTANCES {
        all.retain(|_, i| i.exit_code.is_none());
    }
}

/// Marks `id` started, once: the instance as it was.
fn claim(id: &str) -> Result<Instance, ApiError> {
    let mut all = execs();
    let inst = all.get_mut(id).ok_or_else(|| no_such(id))?;
    if inst.running {
        return Err(ApiError::conflict(format!(
            "Exec command {id} is already running"
        )));
    }
    if inst.started {
        return Err(ApiError::conflict(format!(
            "Exec command {id} has already run"
        )));
    }
    inst.started = true;
    inst.running = true;
    Ok(inst.clone())
}

/// `POST /exec/{id}/start`.
async fn start(shared: &Arc<Shared>, req: Request<Incoming>, id: &str) -> Handled {
    let (parts, b) = req.into_parts();
    let start = StartBody::parse(&body::read_all(b).await?)?;
    let detach = start.detach;
    let mut req = Request::from_parts(parts, ());
    let mut inst = claim(id)?;
    if let Some(size) = start.console_size.filter(|&(h, w)| h > 0 && w > 0) {
        inst.job.console_size = Some(size);
    }
    let [stdin, stdout, stderr] = inst.attach;
    let cid = inst.container_id.clone();
    let alive = blocking(shared, move |s| Ok(s.engine.containers.is_alive(&cid))).await?;
    if !alive {
        execs()
            .entry(id.to_string())
            .and_modify(|i| i.running = false);
        return Err(ApiError::conflict(format!(
            "Container {} is not running",
            inst.container_id
        )));
    }
    let pipe = |on: bool| {
        if on && !detach {
            Stdio::piped()
        } else {
            Stdio::null()
        }
    };
    let spawned = spawn_helper(&inst.job, pipe(stdin), pipe(stdout), pipe(stderr));
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            execs()
                .entry(id.to_string())
                .and_modify(|i| i.running = false);
            return Err(e);
        }
    };
    if detach {
        tokio::spawn(finish(id.to_string(), child, Vec::new(), None));
        return Ok(body::empty(StatusCode::OK));
    }
    let tty = inst.job.tty;
    let session = hijack::start(&mut req, mux::content_type(tty), stdin);
    if let (Some(input), Some(to)) = (session.input, child.stdin.take()) {
        tokio::spawn(feed(input, to));
    }
    let mut pumps = Vec::new();
    if let Some(out) = child.stdout.take() {
        pumps.push(tokio::spawn(pump(out, 1, tty, session.out.clone())));
    }
    if let Some(err) = child.stderr.take() {
        pumps.push(tokio::spawn(pump(err, 2, tty, session.out.clone())));
    }
    tokio::spawn(finish(id.to_string(), child, pumps, Some(session.out)));
    Ok(session.reply)
}

fn spawn_helper(job: &ExecJob, i: Stdio, o: Stdio, e: Stdio) -> Result<Child, ApiError> {
    let exe = std::env::current_exe()
        .map_err(|e| ApiError::internal(format!("find the hull binary: {e}")))?;
    let job = serde_json::to_string(job).map_err(|e| ApiError::internal(e.to_string()))?;
    tokio::process::Command::new(exe)
        .arg(EXEC_HELPER)
        .arg(job)
        .stdin(i)
        .stdout(o)
        .stderr(e)
        .spawn()
        .map_err(|e| ApiError::internal(format!("start the exec helper: {e}")))
}

/// The client's stdin into the helper's; its end closes the helper's (the process sees EOF).
async fn feed(mut input: mpsc::Receiver<Bytes>, mut to: ChildStdin) {
    while let Some(b) = input.recv().await {
        if to.write_all(&b).await.is_err() {
            return;
        }
    }
}

/// One of the helper's outputs to the client, framed; stops when either side is gone.
async fn pump(mut from: impl AsyncRead + Unpin, stream: u8, tty: bool, out: mpsc::Sender<Bytes>) {
    let mut buf = vec![0u8; 32 << 10];
    loop {
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            // The client is gone: stop reading (the process's next write gets EPIPE).
            () = out.closed() => return,
        };
        if out.send(mux::frame(stream, tty, &buf[..n])).await.is_err() {
            return;
        }
    }
}

/// After the output is relayed: waits for the helper, records the exit (before the stream
/// closes, so an inspect right after sees it) and forgets the pid file.
async fn finish(
    id: String,
    mut child: Child,
    pumps: Vec<tokio::task::JoinHandle<()>>,
    out: Option<mpsc::Sender<Bytes>>,
) {
    for p in pumps {
        let _ = p.await;
    }
    let code = match child.wait().await {
        Ok(s) => {
            use std::os::unix::process::ExitStatusExt;
            s.code().or(s.signal().map(|n| 128 + n)).unwrap_or(128)
        }
        Err(_) => 128,
    };
    let pid_file = execs().get(&id).map(|i| i.job.pid_file.clone());
    let pid = pid_file.as_deref().and_then(read_pid);
    if let Some(f) = pid_file {
        let _ = std::fs::remove_file(f);
    }
    execs().entry(id).and_modify(|i| {
        i.running = false;
        i.exit_code = Some(code);
        i.pid = i.pid.or(pid);
    });
    drop(out);
}

fn read_pid(path: &std::path::Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The instance with its pid, once the helper wrote it.
fn current(id: &str) -> Result<Instance, ApiError> {
    let inst = execs().get(id).cloned().ok_or_else(|| no_such(id))?;
    if inst.pid.is_some() || !inst.running {
        return Ok(inst);
    }
    let pid = read_pid(&inst.job.pid_file);
    execs().entry(id.to_string()).and_modify(|i| i.pid = pid);
    Ok(Instance { pid, ..inst })
}

/// `GET /exec/{id}/json`.
fn inspect(id: &str) -> Handled {
    let i = current(id)?;
    let (entrypoint, arguments) = i
        .job
        .args
        .split_first()
        .map_or(("", &[][..]), |(a, r)| (a.as_str(), r));
    let doc = json!({
        "ID": id,
        "Running": i.running,
        "ExitCode": i.exit_code,
        "ProcessConfig": {
            "tty": i.job.tty,
            "entrypoint": entrypoint,
            "arguments": arguments,
            "privileged": false,
            "user": i.job.user.clone().unwrap_or_default(),
        },
        "OpenStdin": i.attach[0],
        "OpenStderr": i.attach[2],
        "OpenStdout": i.attach[1],
        "CanRemove": false,
        "ContainerID": i.container_id,
        "DetachKeys": i.detach_keys,
        "Pid": i.pid.unwrap_or(0),
    });
    Ok(body::json(StatusCode::OK, &doc))
}

/// `POST /exec/{id}/resize?h&w`: the process's pty, reached as its stdin.
fn resize(id: &str, t: &Target) -> Handled {
    let (h, w) = size_of(t)?;
    let i = current(id)?;
    if !i.job.tty {
        return Err(ApiError::conflict(format!(
            "Exec {id} has no TTY to resize"
        )));
    }
    let pid = i
        .pid
        .filter(|_| i.running)
        .ok_or_else(|| ApiError::conflict(format!("Exec {id} is not running")))?;
    set_size(&PathBuf::from(format!("/proc/{pid}/fd/0")), h, w)
        .map_err(|e| ApiError::internal(format!("resize the TTY of exec {id}: {e}")))?;
    Ok(body::empty(StatusCode::OK))
}

/// `h` and `w` of a resize request; 400 naming the one that is not a size.
pub fn size_of(t: &Target) -> Result<(u16, u16), ApiError> {
    let one = |k: &str| -> Result<u16, ApiError> {
        t.query
            .number::<u16>(k)?
            .ok_or_else(|| ApiError::bad(format!("invalid value for {k}: a size is required")))
    };
    Ok((one("h")?, one("w")?))
}

/// Sets the window size of the terminal at `path`.
fn set_size(path: &std::path::Path, rows: u16, cols: u16) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(path)?;
    let size = rustix::termios::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(&tty, size)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_of_the_wrong_type_is_named_and_unknown_ones_are_ignored() {
        let b = CreateBody::parse(br#"{"Cmd": ["sh"], "Tty": true, "Env": null, "X": 1}"#).unwrap();
        assert_eq!(b.cmd, ["sh"]);
        assert!(b.tty && b.env.is_empty());
        let e = CreateBody::parse(br#"{"Cmd": "sh"}"#).unwrap_err();
        assert!(e.message.starts_with("Cmd: "), "{}", e.message);
        let e = StartBody::parse(br#"{"Detach": "yes"}"#).err().unwrap();
        assert!(e.message.starts_with("Detach: "), "{}", e.message);
        assert!(StartBody::parse(b"[]").is_err());
        assert!(!StartBody::parse(b"").unwrap().detach);
    }
}
