//! A container's lifecycle through the API: create (Docker's Config/HostConfig/NetworkingConfig
//! into the engine's run options, `create`), start, stop, restart, kill, pause, unpause, wait,
//! remove, rename, update and prune. Each is one engine call, on the blocking pool.

use std::sync::Arc;
use std::time::Duration;

use hull_engine::lifecycle::waiter::WaitCondition;
use hull_engine::state::Status;
use hull_engine::EngineError;
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde_json::{json, Value};

use super::{create, hostconfig, reaper, Routed};
use crate::body;
use crate::error::ApiError;
use crate::route::{blocking, Handled, Shared, Target};

pub async fn route(shared: &Arc<Shared>, req: Request<Incoming>, t: &Target) -> Routed {
    let segs: Vec<&str> = t.segments.iter().skip(1).map(String::as_str).collect();
    let done = match (req.method(), segs.as_slice()) {
        (&Method::POST, ["create"]) => create(shared, req, t).await,
        (&Method::POST, ["prune"]) => prune(shared, t).await,
        (&Method::DELETE, [name]) => remove(shared, name, t).await,
        (&Method::POST, [name, "start"]) => start(shared, name).await,
        (&Method::POST, [name, "stop"]) => stop(shared, name, t).await,
        (&Method::POST, [name, "restart"]) => restart(shared, name, t).await,
        (&Method::POST, [name, "kill"]) => kill(shared, name, t).await,
        (&Method::POST, [name, "pause"]) => pause(shared, name, true).await,
        (&Method::POST, [name, "unpause"]) => pause(shared, name, false).await,
        (&Method::POST, [name, "wait"]) => wait(shared, name, t).await,
        (&Method::POST, [name, "rename"]) => rename(shared, name, t).await,
        (&Method::POST, [name, "update"]) => update(shared, req, name).await,
        _ => return Routed::Pass(req),
    };
    Routed::Done(done)
}

fn no_content() -> Handled {
    Ok(body::empty(StatusCode::NO_CONTENT))
}

/// `POST /containers/create?name=&platform=`: 201 `{"Id", "Warnings"}`.
async fn create(shared: &Arc<Shared>, req: Request<Incoming>, t: &Target) -> Handled {
    let bytes = body::read_all(req.into_body()).await?;
    let doc: Value = body::parse_json(&bytes)?;
    let plan = create::translate(&doc, t.query.get("name"), t.query.get("platform"))?;
    let image = plan.config.image.clone();
    let (mut config, image_cmd) = (plan.config, plan.image_cmd);
    let record = blocking(shared, move |s| {
        if image_cmd {
            config.args = image_cmd_of(s, &image)?;
        }
        s.engine.create(config).map_err(|e| create_error(&image, e))
    })
    .await?;
    Ok(body::json(
        StatusCode::CREATED,
        &json!({ "Id": record.id, "Warnings": plan.warnings }),
    ))
}

/// The Cmd of the image the client calls `image`.
fn image_cmd_of(s: &Shared, image: &str) -> Result<Vec<String>, ApiError> {
    let found = s
        .engine
        .images
        .resolve(image)
        .map_err(|e| ApiError::image(image, &e))?;
    let config = s
        .engine
        .images
        .config(&found.id)
        .map_err(|e| ApiError::image(image, &e))?;
    Ok(config.config.and_then(|c| c.cmd).unwrap_or_default())
}

/// A failed create as Docker answers it: 404 for a missing image (clients pull on it), 409 for a
/// name in use, 400 for what the request got wrong.
fn create_error(image: &str, e: EngineError) -> ApiError {
    use hull_engine::state::ContainerError;
    match e {
        EngineError::Image(ref s) => ApiError::image(image, s),
        // A container `VolumesFrom` names.
        EngineError::Container(ContainerError::NotFound(ref n)) => {
            ApiError::not_found(format!("No such container: {n}"))
        }
        EngineError::Spec(hull_engine::run::spec::SpecError::NoCommand) => {
            ApiError::bad("No command specified")
        }
        EngineError::Volume(hull_engine::volume::VolumeError::BadOptions { .. })
        | EngineError::Volume(hull_engine::volume::VolumeError::InvalidName(_)) => {
            ApiError::bad(e.to_string())
        }
        other => ApiError::container(image, other),
    }
}

/// Whether the container is running (its runner, or an orphan of it, lives).
fn running(s: &Shared, name: &str) -> Result<bool, ApiError> {
    let r = s.resolve_container(name)?;
    Ok(
        matches!(r.state.status, Status::Running | Status::Restarting)
            || s.engine.containers.is_alive(&r.id),
    )
}

/// Starts `name` under a new monitor, which the reaper then owns.
fn launch(s: &Shared, name: &str) -> Result<(), ApiError> {
    let record = s.resolve_container(name)?;
    // An attach waiting for this start gets all of the run's output.
    let started = match super::attach::waiting(&record.id) {
        true => s
            .engine
            .start_for_attached(&record, super::attach::monitor_listening),
        false => s.engine.start_detached(&record),
    };
    match started {
        Ok(child) => {
            reaper::adopt(child);
            Ok(())
        }
        // Docker: a command that is missing or cannot run is the request's fault.
        Err(EngineError::StartFailed { code, message, .. }) if code == 126 || code == 127 => {
            Err(ApiError::bad(message))
        }
        Err(e) => Err(ApiError::container(name, e)),
    }
}

/// `POST /containers/{id}/start`: 204, or 304 when it runs already.
async fn start(shared: &Arc<Shared>, name: &str) -> Handled {
    let name = name.to_string();
    blocking(shared, move |s| {
        if running(s, &name)? {
            return Ok(body::empty(StatusCode::NOT_MODIFIED));
        }
        match launch(s, &name) {
            // Started meanwhile by another client.
            Err(_) if running(s, &name)? => Ok(body::empty(StatusCode::NOT_MODIFIED)),
            Err(e) => Err(e),
            Ok(()) => no_content(),
        }
    })
    .await
}

/// `t` in seconds: None when absent (the container's stop timeout), and a negative one waits
/// for as long as it takes, as Docker's -1.
fn timeout(t: &Target) -> Result<Option<Duration>, ApiError> {
    Ok(t.query
        .number::<i64>("t")?
        .map(|secs| match u64::try_from(secs) {
            Ok(s) => Duration::from_secs(s),
            Err(_) => Duration::from_secs(u64::from(u32::MAX)),
        }))
}

/// `POST /containers/{id}/stop?t=`: 204, or 304 when it does not run.
async fn stop(shared: &Arc<Shared>, name: &str, t: &Target) -> Handled {
    let (name, timeout) = (name.to_string(), timeout(t)?);
    blocking(shared, move |s| {
        if !running(s, &name)? {
            return Ok(body::empty(StatusCode::NOT_MODIFIED));
        }
        s.engine
            .stop(&name, timeout)
            .map_err(|e| ApiError::container(&name, e))?;
        no_content()
    })
    .await
}

/// `POST /containers/{id}/restart?t=`: stop, then start under a new monitor (as `hull restart`).
async fn restart(shared: &Arc<Shared>, name: &str, t: &Target) -> Handled {
    let (name, timeout) = (name.to_string(), timeout(t)?);
    blocking(shared, move |s| {
        s.engine
            .stop(&name, timeout)
            .map_err(|e| ApiError::container(&name, e))?;
        launch(s, &name)?;
        no_content()
    })
    .await
}

/// `POST /containers/{id}/kill?signal=`: 204; 409 when it does not run.
async fn kill(shared: &Arc<Shared>, name: &str, t: &Target) -> Handled {
    let name = name.to_string();
    let signal = match t.query.get("signal").filter(|s| !s.is_empty()) {
        Some(s) => hull_engine::run::parse_signal(s)
            .map_err(|e| ApiError::bad(format!("invalid value for signal: {e}")))?,
        None => libc::SIGKILL,
    };
    blocking(shared, move |s| {
        let r = s.resolve_container(&name)?;
        if !running(s, &r.id)? {
            return Err(ApiError::conflict(format!(
                "Container {} is not running",
                r.id
            )));
        }
        s.engine
            .kill(&r.id, signal)
            .map_err(|e| ApiError::container(&name, e))?;
        no_content()
    })
    .await
}

/// `POST /containers/{id}/pause` and `unpause`.
async fn pause(shared: &Arc<Shared>, name: &str, freeze: bool) -> Handled {
    let name = name.to_string();
    blocking(shared, move |s| {
        let done = if freeze {
            s.engine.pause(&name)
        } else {
            s.engine.unpause(&name)
        };
        done.map_err(|e| ApiError::container(&name, e))?;
        no_content()
    })
    .await
}

/// `POST /containers/{id}/wait?condition=`: 200 `{"StatusCode", "Error"}` once the condition
/// holds. As Docker, the status and headers go out at once (the docker CLI starts a container
/// only once its wait has begun) and the document when the wait ends. The wait looks every
/// 20 ms without holding a thread, and ends with the client.
async fn wait(shared: &Arc<Shared>, name: &str, t: &Target) -> Handled {
    let cond = t.query.get("condition").unwrap_or_default();
    let condition = WaitCondition::parse(cond).ok_or_else(|| {
        ApiError::bad(format!(
            "invalid value for condition: {cond:?}: expected not-running, next-exit or removed"
        ))
    })?;
    let name = name.to_string();
    let waiter = blocking(shared, move |s| {
        s.engine
            .waiter(&name, condition)
            .map_err(|e| ApiError::container(&name, e))
    })
    .await?;
    let (tx, mut reply) = body::stream("application/json");
    *reply.status_mut() = StatusCode::OK;
    tokio::spawn(wait_until(shared.clone(), waiter, tx));
    Ok(reply)
}

/// How often a wait looks again: `docker run` waits for its container's end (or removal) this
/// way, so the poll is a part of every run's latency; a look is one record read.
const WAIT_POLL: Duration = Duration::from_millis(5);

/// Polls the wait until it ends or the client went away, then sends its document.
async fn wait_until(
    shared: Arc<Shared>,
    mut waiter: hull_engine::lifecycle::waiter::Waiter,
    tx: tokio::sync::mpsc::Sender<bytes::Bytes>,
) {
    let doc = loop {
        if tx.is_closed() {
            return;
        }
        let looked = blocking(&shared, move |s| {
            let code = s.engine.wait_check(&mut waiter);
            Ok((waiter, code))
        })
        .await;
        match looked {
            Ok((_, Some(code))) => break json!({ "StatusCode": code, "Error": null }),
            Ok((w, None)) => waiter = w,
            Err(e) => break json!({ "StatusCode": -1, "Error": { "Message": e.message } }),
        }
        tokio::time::sleep(WAIT_POLL).await;
    };
    let _ = tx.send(body::json_line(&doc).into()).await;
}

/// `DELETE /containers/{id}?force=&v=`: 204; 409 for a running container without force.
async fn remove(shared: &Arc<Shared>, name: &str, t: &Target) -> Handled {
    let force = t.query.flag("force", false)?;
    let volumes = t.query.flag("v", false)?;
    let name = name.to_string();
    blocking(shared, move |s| {
        let r = s.resolve_container(&name)?;
        match s.engine.remove_with_volumes(&r.id, force, volumes) {
            Ok(_) => no_content(),
            Err(EngineError::RemoveRunning(_)) => Err(ApiError::conflict(format!(
                "You cannot remove a running container {}. Stop the container before \
                 attempting removal or force remove",
                r.id
            ))),
            Err(e) => Err(ApiError::container(&name, e)),
        }
    })
    .await
}

/// `POST /containers/{id}/rename?name=`.
async fn rename(shared: &Arc<Shared>, name: &str, t: &Target) -> Handled {
    let new_name = t
        .query
        .get("name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad("invalid value for name: a new name is required"))?
        .trim_start_matches('/')
        .to_string();
    let name = name.to_string();
    blocking(shared, move |s| {
        s.engine
            .rename(&name, &new_name)
            .map_err(|e| ApiError::container(&name, e))?;
        no_content()
    })
    .await
}

/// `POST /containers/{id}/update`: resources and restart policy; 200 `{"Warnings": []}`.
async fn update(shared: &Arc<Shared>, req: Request<Incoming>, name: &str) -> Handled {
    let bytes = body::read_all(req.into_body()).await?;
    let doc: Value = body::parse_json(&bytes)?;
    let (limits, restart) = hostconfig::update(&doc)?;
    let name = name.to_string();
    blocking(shared, move |s| {
        s.engine
            .update(&name, &limits, restart)
            .map_err(|e| ApiError::container(&name, e))
    })
    .await?;
    Ok(body::json(StatusCode::OK, &json!({ "Warnings": [] })))
}

/// `POST /containers/prune?filters=`: `until` and `label` (`label!=`).
async fn prune(shared: &Arc<Shared>, t: &Target) -> Handled {
    let filter = super::prune::PruneFilter::parse(&t.query.filters()?)?;
    let pruned = blocking(shared, move |s| {
        s.engine
            .prune_where(|r| filter.matches(r))
            .map_err(|e| ApiError::internal(crate::error::one_line(&e)))
    })
    .await?;
    let ids: Vec<&str> = pruned.iter().map(|p| p.id.as_str()).collect();
    let reclaimed: u64 = pruned.iter().map(|p| p.reclaimed).sum();
    Ok(body::json(
        StatusCode::OK,
        &json!({
            "ContainersDeleted": if ids.is_empty() { Value::Null } else { json!(ids) },
            "SpaceReclaimed": reclaimed,
        }),
    ))
}
