//! `GET /events`: the store's events journal as a chunked stream of JSON lines, Docker's
//! `since`, `until` and `filters` applied. Past events are replayed when `since` or `until` is
//! given; the stream then follows the journal (polling it) until `until` passes, or forever.
//! The producer runs on the blocking pool and ends as soon as the client is gone (a failed
//! send, or a closed channel seen while it waits), so a dropped connection leaks nothing.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hull_engine::events::{time, EventFilter, Reader, Window};
use hyper::body::Incoming;
use hyper::{Method, Request};
use tokio::sync::mpsc::Sender;

use crate::body;
use crate::error::ApiError;
use crate::route::{blocking, not_served, Handled, Shared, Target};

/// How often a follower looks for new events (and whether its client is still there).
const POLL: Duration = Duration::from_millis(100);

pub async fn route(shared: Arc<Shared>, req: Request<Incoming>, t: Target) -> Handled {
    let segs: Vec<&str> = t.segments.iter().map(String::as_str).collect();
    match (req.method(), segs.as_slice()) {
        (&Method::GET, ["events"]) => events(shared, &t).await,
        _ => Err(not_served(req.method(), &t)),
    }
}

async fn events(shared: Arc<Shared>, t: &Target) -> Handled {
    let (since, until) = (t.query.get("since"), t.query.get("until"));
    let window =
        Window::for_events(since, until, time::now()).map_err(|e| ApiError::bad(e.to_string()))?;
    let filter = EventFilter::new(&t.query.filters()?).map_err(|e| ApiError::bad(e.to_string()))?;
    let reader = blocking(&shared, move |s| {
        let journal = s.engine.journal();
        match window.replays() {
            true => journal.reader(),
            false => journal.tail_reader(),
        }
        .map_err(|e| ApiError::internal(e.to_string()))
    })
    .await?;
    let (tx, reply) = body::stream("application/json");
    tokio::task::spawn_blocking(move || produce(reader, window, filter, tx));
    Ok(reply)
}

/// Sends each event in the window that passes the filter, one JSON line per chunk, until
/// `until` passes or the client goes away.
fn produce(mut reader: Reader, window: Window, filter: EventFilter, tx: Sender<Bytes>) {
    loop {
        match reader.next_event() {
            Ok(Some(e)) if window.contains(&e) && filter.matches(&e) => {
                let mut line = serde_json::to_vec(&e).expect("events serialize");
                line.push(b'\n');
                if tx.blocking_send(Bytes::from(line)).is_err() {
                    return;
                }
            }
            Ok(Some(_)) => {}
            Ok(None) if window.ended(time::now()) || tx.is_closed() => return,
            Ok(None) => std::thread::sleep(POLL),
            Err(e) => {
                eprintln!("hull: events: {e}");
                return;
            }
        }
    }
}
