//! `GET /containers/{id}/logs`: the engine's log reader, its two writers framing stdout and
//! stderr into Docker's multiplexed stream (raw with a TTY) on a chunked body. A follow ends
//! when the container stops, or when the client goes away (a failed send, or the closed channel
//! seen between reads), so a gone client holds no thread or file.

use std::sync::Arc;

use hull_engine::lifecycle::logs::{LogRequest, Window};
use hull_engine::run::LogDriver;
use hyper::StatusCode;

use crate::body;
use crate::error::ApiError;
use crate::mux::{self, FrameWriter};
use crate::query::Query;
use crate::route::{blocking, Handled, Shared};

/// The query's parameters as the engine's request, and which streams are wanted.
fn request(q: &Query) -> Result<(LogRequest, bool, bool), ApiError> {
    let stdout = q.flag("stdout", false)?;
    let stderr = q.flag("stderr", false)?;
    if !stdout && !stderr {
        return Err(ApiError::bad(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    // Docker reads a tail that is not a count (`all`, negative) as everything.
    let tail = match q.get("tail") {
        None | Some("" | "all") => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) => usize::try_from(n).ok(),
            Err(_) => {
                return Err(ApiError::bad(format!(
                    "invalid value for tail: {v:?} is not a number or \"all\""
                )))
            }
        },
    };
    // 0 is Docker's "not given", for both ends.
    let given = |k: &str| q.get(k).filter(|v| !v.is_empty() && *v != "0");
    let window = Window::for_logs(given("since"), given("until"), ("since", "until"))
        .map_err(|e| ApiError::bad(e.to_string()))?;
    let req = LogRequest {
        window,
        tail,
        timestamps: q.flag("timestamps", false)?,
        follow: q.flag("follow", false)?,
    };
    Ok((req, stdout, stderr))
}

pub async fn logs(shared: &Arc<Shared>, name: &str, q: &Query) -> Handled {
    let (req, stdout, stderr) = request(q)?;
    let name = name.to_string();
    let record = blocking(shared, move |s| s.resolve_container(&name)).await?;
    if record.config.log.driver == LogDriver::None {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "configured logging driver does not support reading",
        ));
    }
    let tty = record.config.tty;
    let (tx, reply) = body::stream(mux::content_type(tty));
    let shared = shared.clone();
    crate::mux::spawn_producer("logs", move || {
        let out = FrameWriter::new(tx.clone(), 1, tty, stdout);
        let err = FrameWriter::new(tx.clone(), 2, tty, stderr);
        let gone = || tx.is_closed();
        // Headers are out: a failure can only end the stream (Docker does the same).
        if let Err(e) = shared.engine.read_logs(&record, &req, out, err, &gone) {
            if !gone() {
                eprintln!("hull: logs of {}: {e}", record.id);
            }
        }
    });
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_read_as_dockers() {
        let q = Query::parse(Some("stdout=1&tail=2&since=0&until=0&timestamps=1"));
        let (req, out, err) = request(&q).unwrap();
        assert!(out && !err && req.timestamps && !req.follow);
        assert_eq!(req.tail, Some(2));
        assert!(req.window.since.is_none() && req.window.until.is_none());
        let (req, ..) = request(&Query::parse(Some("stderr=1&tail=all&since=1700000000"))).unwrap();
        assert_eq!(req.tail, None);
        assert_eq!(req.window.since, Some(1_700_000_000_000_000_000));
        assert!(request(&Query::parse(Some("tail=1"))).is_err());
        let e = request(&Query::parse(Some("stdout=1&tail=x"))).unwrap_err();
        assert!(e.message.contains("tail"));
        let e = request(&Query::parse(Some("stdout=1&since=soon"))).unwrap_err();
        assert!(e.message.contains("since"));
    }
}
