//! `GET /containers/{id}/top?ps_args` and `GET /containers/{id}/stats?stream&one-shot`: the
//! engine's process list (or the host's `ps` kept to the container's processes) and its
//! usage samples, in Docker's documents (`view::stats::document`).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hull_engine::lifecycle::stats::Sample;
use hull_engine::lifecycle::top::{filter_ps, COLUMNS};
use hull_engine::state::Record;
use hull_engine::view;
use hyper::StatusCode;
use serde_json::{json, Value};

use crate::body;
use crate::error::ApiError;
use crate::query::Query;
use crate::route::{blocking, Handled, Shared};

/// Between the two samples of a CPU figure, and between streamed documents.
const INTERVAL: Duration = Duration::from_secs(1);

/// `GET /containers/{id}/top`.
pub async fn top(shared: &Arc<Shared>, name: &str, q: &Query) -> Handled {
    let name = name.to_string();
    let ps_args: Vec<String> = q
        .get("ps_args")
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect();
    let doc = blocking(shared, move |s| {
        let engine_err = |e| ApiError::container(&name, e);
        if ps_args.is_empty() {
            let procs = s.engine.top(&name).map_err(engine_err)?;
            let rows: Vec<Vec<String>> = procs.iter().map(|p| p.row()).collect();
            return Ok(json!({ "Titles": COLUMNS, "Processes": rows }));
        }
        let (_, pids) = s.engine.container_pids(&name).map_err(engine_err)?;
        with_ps(&ps_args, &pids)
    })
    .await?;
    Ok(body::json(StatusCode::OK, &doc))
}

/// Docker's way with `ps_args`: the host's `ps` run with them, its rows kept to the container's
/// pids and split into the header's columns (the last one keeps its spaces).
fn with_ps(args: &[String], pids: &[i32]) -> Result<Value, ApiError> {
    let out = std::process::Command::new("ps")
        .args(args)
        .output()
        .map_err(|e| ApiError::internal(format!("run ps: {e}")))?;
    if !out.status.success() {
        return Err(ApiError::internal(format!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let (header, lines) = filter_ps(&text, pids)
        .ok_or_else(|| ApiError::internal("Couldn't find PID field in ps output"))?;
    let titles: Vec<&str> = header.split_whitespace().collect();
    let rows: Vec<Vec<String>> = lines.iter().map(|l| columns(l, titles.len())).collect();
    Ok(json!({ "Titles": titles, "Processes": rows }))
}

/// `line` split at whitespace into `n` fields, the last taking the rest of the line.
fn columns(line: &str, n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    let mut rest = line.trim_start();
    while out.len() + 1 < n {
        let Some(end) = rest.find(char::is_whitespace) else {
            break;
        };
        out.push(rest[..end].to_string());
        rest = rest[end..].trim_start();
    }
    out.push(rest.to_string());
    out
}

fn now_rfc3339() -> String {
    let d = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    hull_oci::time::format_rfc3339(d.as_secs() as i64, d.subsec_nanos())
}

/// Docker's zero time, the `preread` of a document without a previous sample.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn sample(s: &Shared, r: &Record) -> Result<(Sample, String), ApiError> {
    let sample = s
        .engine
        .stats_sample(r)
        .map_err(|e| ApiError::container(&r.name, e))?;
    Ok((sample, now_rfc3339()))
}

/// `GET /containers/{id}/stats`.
pub async fn stats(shared: &Arc<Shared>, name: &str, q: &Query) -> Handled {
    let stream = q.flag("stream", true)?;
    let one_shot = q.flag("one-shot", false)?;
    let n = name.to_string();
    let record = blocking(shared, move |s| s.resolve_container(&n)).await?;
    if !stream {
        let r = record.clone();
        let prev = match one_shot {
            true => (Sample::default(), ZERO_TIME.to_string()),
            false => {
                let p = blocking(shared, move |s| sample(s, &r)).await?;
                // Waited here, not on the blocking pool.
                tokio::time::sleep(INTERVAL).await;
                p
            }
        };
        let r = record.clone();
        let cur = blocking(shared, move |s| sample(s, &r)).await?;
        let doc = view::stats::document(&record, &prev.0, &cur.0, &cur.1, &prev.1);
        return Ok(body::json(StatusCode::OK, &doc));
    }
    let (tx, reply) = body::stream("application/json");
    let shared = shared.clone();
    // One document a second until the client goes away (the send fails) or the container is
    // removed.
    crate::mux::spawn_producer("stats", move || {
        let Ok(mut prev) = sample(&shared, &record) else {
            return;
        };
        loop {
            std::thread::sleep(INTERVAL);
            if shared.engine.containers.load(&record.id).is_err() {
                return;
            }
            let Ok(cur) = sample(&shared, &record) else {
                return;
            };
            let doc = view::stats::document(&record, &prev.0, &cur.0, &cur.1, &prev.1);
            if tx.blocking_send(body::json_line(&doc).into()).is_err() {
                return;
            }
            prev = cur;
        }
    });
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_lines_split_into_the_headers_columns() {
        assert_eq!(
            columns("  root  42  0 sleep 1000", 4),
            ["root", "42", "0", "sleep 1000"]
        );
        assert_eq!(columns("a", 3), ["a"]);
    }
}
