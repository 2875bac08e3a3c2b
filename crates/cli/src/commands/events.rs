//! `hull events`: the store's events journal, in Docker's line format or a template. Past
//! events in the `--since`/`--until` window first, then new ones as they are appended, until
//! `--until` passes (forever without it); a closed stdout ends it quietly.

use std::io::{self, Write};
use std::time::Duration;

use anyhow::{Context, Result};
use hull_engine::events::{time, Event, EventFilter, Window};
use hull_engine::Engine;

use super::Ctx;
use crate::cli_events::EventsArgs;
use crate::output::{render_template, OutputFormat};

/// How often a follower looks for new events.
const POLL: Duration = Duration::from_millis(100);

pub fn events(ctx: &Ctx, args: EventsArgs) -> Result<u8> {
    let window = Window::for_events(args.since.as_deref(), args.until.as_deref(), time::now())?;
    let filter = EventFilter::parse_words(&args.filters)?;
    let format = OutputFormat::parse(args.format.as_deref());
    let journal = Engine::open(&ctx.root)
        .context("open hull store")?
        .journal();
    let mut reader = match window.replays() {
        true => journal.reader()?,
        false => journal.tail_reader()?,
    };
    let mut out = io::stdout().lock();
    loop {
        match reader.next_event()? {
            Some(e) if window.contains(&e) && filter.matches(&e) => {
                let line = render(&format, &e)?;
                if let Err(err) = writeln!(out, "{line}").and_then(|()| out.flush()) {
                    if err.kind() == io::ErrorKind::BrokenPipe {
                        return Ok(0);
                    }
                    return Err(err).context("write events");
                }
            }
            Some(_) => {}
            None if window.ended(time::now()) => return Ok(0),
            None => std::thread::sleep(POLL),
        }
    }
}

/// One event as printed: Docker's line, its JSON, or a template over its JSON.
fn render(format: &OutputFormat, e: &Event) -> Result<String> {
    let value = serde_json::to_value(e)?;
    Ok(match format {
        OutputFormat::Table => docker_line(e),
        OutputFormat::Json => value.to_string(),
        OutputFormat::Template { text, .. } => {
            render_template(text, &value).map_err(|m| anyhow::anyhow!("--format: {m}"))?
        }
    })
}

/// `2024-01-02T15:04:05.000000000Z container start ID (image=busybox, name=web)`: the time in
/// UTC with nine digits, the type, action and actor, its attributes sorted by key.
fn docker_line(e: &Event) -> String {
    let secs = e.time_nano.div_euclid(1_000_000_000);
    let nanos = e.time_nano.rem_euclid(1_000_000_000) as u32;
    let mut line = format!(
        "{} {} {} {}",
        hull_oci::time::format_rfc3339(secs, nanos),
        e.kind.as_str(),
        e.action,
        e.actor.id
    );
    if !e.actor.attributes.is_empty() {
        let attrs: Vec<String> = (e.actor.attributes.iter())
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        line.push_str(&format!(" ({})", attrs.join(", ")));
    }
    line
}

/// Runs `f` on the store's engine to record events of a change the command made through the
/// image store directly; a store that cannot be opened costs the events, with a warning.
pub(crate) fn emit(ctx: &Ctx, f: impl FnOnce(&Engine)) {
    match Engine::open(&ctx.root) {
        Ok(engine) => f(&engine),
        Err(e) => eprintln!("hull: warning: record events: open hull store: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hull_engine::events::Kind;

    #[test]
    fn the_default_line_is_dockers() {
        let attrs = [("name", "web"), ("image", "busybox")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let e = Event::at(
            1_700_000_000_000_000_005,
            Kind::Container,
            "start",
            "abc",
            attrs,
        );
        assert_eq!(
            docker_line(&e),
            "2023-11-14T22:13:20.000000005Z container start abc (image=busybox, name=web)"
        );
        let bare = Event::at(0, Kind::Volume, "destroy", "v", Default::default());
        assert_eq!(
            docker_line(&bare),
            "1970-01-01T00:00:00.000000000Z volume destroy v"
        );
    }

    #[test]
    fn templates_and_json_render_the_event() {
        let e = Event::at(0, Kind::Network, "create", "n1", Default::default());
        let t = OutputFormat::parse(Some("{{.Type}} {{.Action}} {{.Actor.ID}}"));
        assert_eq!(render(&t, &e).unwrap(), "network create n1");
        let j = render(&OutputFormat::parse(Some("json")), &e).unwrap();
        assert_eq!(serde_json::from_str::<Event>(&j).unwrap(), e);
    }
}
