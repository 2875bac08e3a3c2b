//! systemd's D-Bus API (org.freedesktop.systemd1.Manager) through zbus's blocking client: start
//! a transient unit and wait for its job, set properties, stop and reset a unit.
//!
//! zbus runs threads of its own, and the runtime refuses to clone init from a threaded
//! process: connect only after init exists.

use std::sync::mpsc;
use std::time::Duration;

use zbus::blocking::{Connection, MessageIterator};
use zbus::zvariant::{OwnedObjectPath, Value};

use super::{Prop, Props};
use crate::cgroups::CgroupError;

const DEST: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const JOB_REMOVED: &str = "type='signal',sender='org.freedesktop.systemd1',\
interface='org.freedesktop.systemd1.Manager',member='JobRemoved',path='/org/freedesktop/systemd1'";
/// How long a start or stop job may take (runc waits as long).
const JOB_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection to systemd on the system bus.
#[derive(Debug)]
pub struct Systemd {
    conn: Connection,
}

fn bus_err<'a>(op: &'static str, unit: &'a str) -> impl Fn(zbus::Error) -> CgroupError + 'a {
    move |source| CgroupError::Systemd {
        op,
        unit: unit.to_string(),
        source: Box::new(source),
    }
}

/// The D-Bus error name of a failed call (`org.freedesktop.systemd1.NoSuchUnit`, ...).
fn error_name(e: &zbus::Error) -> Option<&str> {
    match e {
        zbus::Error::MethodError(name, _, _) => Some(name.as_str()),
        _ => None,
    }
}

fn value(p: &Prop) -> Value<'_> {
    match p {
        Prop::Bool(b) => Value::from(*b),
        Prop::U64(n) => Value::from(*n),
        Prop::Str(s) => Value::from(s.as_str()),
        Prop::Bytes(b) => Value::from(b.clone()),
        Prop::Pids(p) => Value::from(p.clone()),
    }
}

fn values(props: &Props) -> Vec<(&str, Value<'_>)> {
    props.iter().map(|(k, v)| (*k, value(v))).collect()
}

impl Systemd {
    /// Connects to the system bus; a host without systemd (or without its bus) is named.
    pub fn connect() -> Result<Systemd, CgroupError> {
        if !std::path::Path::new("/run/systemd/system").is_dir() {
            return Err(CgroupError::SystemdUnavailable {
                reason: "systemd is not running on this host (no /run/systemd/system)".into(),
            });
        }
        let conn =
            Connection::system().map_err(bus_err("connect to the system bus for", "systemd"))?;
        Ok(Systemd { conn })
    }

    fn call<B>(&self, method: &'static str, body: &B) -> Result<zbus::Message, zbus::Error>
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
    {
        self.conn
            .call_method(Some(DEST), PATH, Some(MANAGER), method, body)
    }

    /// Starts the transient unit `unit` with `props` (mode "replace") and waits until its job
    /// is done. A failed leftover of the same name is reset and the start tried once more.
    pub fn start_transient(&self, unit: &str, props: &Props) -> Result<(), CgroupError> {
        let err = bus_err("start transient unit", unit);
        let jobs = self.job_signals().map_err(&err)?;
        let aux: Vec<(&str, Vec<(&str, Value<'_>)>)> = Vec::new();
        let body = (unit, "replace", values(props), aux);
        let reply = match self.call("StartTransientUnit", &body) {
            Err(e) if error_name(&e) == Some("org.freedesktop.systemd1.UnitExists") => {
                let _ = self.reset_failed(unit);
                self.call("StartTransientUnit", &body)
            }
            other => other,
        }
        .map_err(&err)?;
        let job: OwnedObjectPath = reply.body().deserialize().map_err(&err)?;
        match wait_job(jobs, job, "start", unit) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = self.reset_failed(unit);
                Err(e)
            }
        }
    }

    /// Sets `props` on a running unit, at run time only (`SetUnitProperties`, runtime=true).
    pub fn set_properties(&self, unit: &str, props: &Props) -> Result<(), CgroupError> {
        self.call("SetUnitProperties", &(unit, true, values(props)))
            .map(drop)
            .map_err(bus_err("set properties of", unit))
    }

    /// Stops `unit` and waits for the job, then resets its failed state, so nothing of it is
    /// left. A unit systemd no longer knows counts as stopped.
    pub fn stop(&self, unit: &str) -> Result<(), CgroupError> {
        let err = bus_err("stop unit", unit);
        let jobs = self.job_signals().map_err(&err)?;
        let stopped = match self.call("StopUnit", &(unit, "replace")) {
            Err(e) if error_name(&e) == Some("org.freedesktop.systemd1.NoSuchUnit") => Ok(()),
            Err(e) => Err(err(e)),
            Ok(reply) => {
                let job: OwnedObjectPath = reply.body().deserialize().map_err(&err)?;
                wait_job(jobs, job, "stop", unit)
            }
        };
        let _ = self.reset_failed(unit);
        stopped
    }

    /// Forgets a failed unit (`ResetFailedUnit`); one that is not failed or not known is fine.
    pub fn reset_failed(&self, unit: &str) -> Result<(), CgroupError> {
        match self.call("ResetFailedUnit", &(unit,)) {
            Err(e) if error_name(&e) == Some("org.freedesktop.systemd1.NoSuchUnit") => Ok(()),
            other => other.map(drop).map_err(bus_err("reset failed unit", unit)),
        }
    }

    /// Subscribes to the manager's signals and starts queueing JobRemoved, before the job
    /// exists: the signal may come before the method's reply.
    fn job_signals(&self) -> Result<MessageIterator, zbus::Error> {
        let jobs = MessageIterator::for_match_rule(JOB_REMOVED, &self.conn, Some(256))?;
        self.call("Subscribe", &())?;
        Ok(jobs)
    }
}

/// Waits (up to [`JOB_TIMEOUT`]) for JobRemoved of `job`; its result must be "done".
fn wait_job(
    jobs: MessageIterator,
    job: OwnedObjectPath,
    op: &'static str,
    unit: &str,
) -> Result<(), CgroupError> {
    let (tx, rx) = mpsc::channel();
    let want = job.clone();
    std::thread::spawn(move || {
        for msg in jobs.flatten() {
            let body = msg.body();
            let Ok((_, path, _, result)) =
                body.deserialize::<(u32, OwnedObjectPath, String, String)>()
            else {
                continue;
            };
            if path == want {
                let _ = tx.send(result);
                return;
            }
        }
    });
    let result = rx
        .recv_timeout(JOB_TIMEOUT)
        .map_err(|_| CgroupError::SystemdJob {
            op,
            unit: unit.to_string(),
            result: format!("no result after {JOB_TIMEOUT:?}"),
        })?;
    if result == "done" {
        return Ok(());
    }
    Err(CgroupError::SystemdJob {
        op,
        unit: unit.to_string(),
        result,
    })
}
