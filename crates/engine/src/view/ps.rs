//! `ps` rows: one container as `docker ps --format json` has it, every value a string, with
//! Docker's STATUS text (`Up 2 minutes`, `Exited (0) 3 seconds ago`).

use serde_json::{json, Value};

use super::human::human_duration;
use crate::run::labels;
use crate::state::health::HealthStatus;
use crate::state::listing::state_name;
use crate::state::{Record, Status};
use crate::Engine;

/// Docker truncates COMMAND to 20 characters before quoting it.
const COMMAND_WIDTH: usize = 20;

/// One container as `docker ps --format json` prints it (every value a string). `now` is the
/// moment the ages are counted to, in seconds since the epoch; `trunc` cuts the ID to 12
/// characters and the command to 20.
pub fn row(r: &Record, now: i64, trunc: bool) -> Value {
    json!({
        "Command": quote_command(&r.command.join(" "), trunc),
        "CreatedAt": docker_time(&r.created),
        "ID": if trunc { r.short_id() } else { &r.id },
        "Image": r.image,
        "Labels": labels::display(&r.config.labels),
        "LocalVolumes": "0",
        "Mounts": "",
        "Names": r.name,
        "Networks": "",
        "Ports": super::ports::ps_ports(r),
        "RunningFor": ago(Some(&r.created), now),
        "Size": "0B",
        "State": state_name(r),
        "Status": status(r, now),
    })
}

/// Adds the image's exposed ports to the `--expose` list of each running record with a
/// network (in memory, for `ps`): Docker's PORTS shows them too.
pub fn add_image_exposed_ports(engine: &Engine, records: &mut [Record]) {
    for r in records.iter_mut() {
        if r.state.network.is_none() || r.state.status != Status::Running {
            continue;
        }
        let image = super::container::image_config(engine, r);
        for port in image.exposed_ports.iter().flat_map(|m| m.keys()) {
            if !r.config.expose.contains(port) {
                r.config.expose.push(port.clone());
            }
        }
    }
}

/// `2024-01-02 15:04:05 +0000 UTC`, Go's default time format that Docker prints.
pub(super) fn docker_time(rfc3339: &str) -> String {
    match secs(Some(rfc3339)) {
        Some(t) => {
            let s = hull_image::time::format_rfc3339(t, 0);
            format!("{} {} +0000 UTC", &s[..10], &s[11..19])
        }
        None => rfc3339.to_string(),
    }
}

fn quote_command(cmd: &str, trunc: bool) -> String {
    let shown = if trunc && cmd.chars().count() > COMMAND_WIDTH {
        let head: String = cmd.chars().take(COMMAND_WIDTH - 1).collect();
        format!("{head}…")
    } else {
        cmd.to_string()
    };
    format!("{shown:?}")
}

fn secs(t: Option<&str>) -> Option<i64> {
    t.and_then(hull_image::time::parse_rfc3339)
}

fn ago(t: Option<&str>, now: i64) -> String {
    match secs(t) {
        Some(s) => format!("{} ago", human_duration(now - s)),
        None => "N/A".into(),
    }
}

/// "Up 2 seconds", "Exited (0) 3 seconds ago", "Created".
pub fn status(r: &Record, now: i64) -> String {
    let s = &r.state;
    match s.status {
        Status::Created => "Created".into(),
        Status::Running => {
            let up = match secs(s.started_at.as_deref()) {
                Some(t) => format!("Up {}", human_duration(now - t)),
                None => "Up".into(),
            };
            match (s.paused, &s.health) {
                (true, _) => format!("{up} (Paused)"),
                (false, Some(h)) if h.status == HealthStatus::Starting => {
                    format!("{up} (health: starting)")
                }
                (false, Some(h)) => format!("{up} ({})", h.status.as_str()),
                (false, None) => up,
            }
        }
        Status::Restarting => format!(
            "Restarting ({}) {}",
            s.exit_code.unwrap_or(0),
            ago(s.finished_at.as_deref(), now)
        ),
        Status::Exited => match secs(s.finished_at.as_deref()) {
            Some(_) => format!(
                "Exited ({}) {}",
                s.exit_code.unwrap_or(0),
                ago(s.finished_at.as_deref(), now)
            ),
            None => format!("Exited ({})", s.exit_code.unwrap_or(0)),
        },
        Status::Dead => "Dead".into(),
    }
}

#[cfg(test)]
mod tests {
    use crate::run::RunOptions;
    use crate::state::record::test_record;
    use crate::state::State;

    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn at(secs_before: i64) -> String {
        hull_image::time::format_rfc3339(NOW - secs_before, 0)
    }

    fn record(status: Status, exit: Option<i32>) -> Record {
        Record {
            name: "happy_turing".into(),
            created: at(120),
            command: vec!["sh".into(), "-c".into(), "echo hello; sleep 100".into()],
            state: State {
                status,
                exit_code: exit,
                started_at: Some(at(60)),
                finished_at: Some(at(3)),
                ..State::default()
            },
            ..test_record(RunOptions::default())
        }
    }

    #[test]
    fn statuses_read_like_docker() {
        assert_eq!(status(&record(Status::Created, None), NOW), "Created");
        assert_eq!(
            status(&record(Status::Running, None), NOW),
            "Up About a minute"
        );
        assert_eq!(
            status(&record(Status::Exited, Some(3)), NOW),
            "Exited (3) 3 seconds ago"
        );
    }

    #[test]
    fn paused_containers_say_so() {
        let mut r = record(Status::Running, None);
        r.state.paused = true;
        assert_eq!(status(&r, NOW), "Up About a minute (Paused)");
        assert_eq!(row(&r, NOW, true)["State"], "paused");
        assert_eq!(row(&r, NOW, true)["Labels"], "");
    }

    #[test]
    fn health_follows_up_time_as_in_docker() {
        use crate::state::health::Health;
        let mut r = record(Status::Running, None);
        for (h, text) in [
            (
                HealthStatus::Starting,
                "Up About a minute (health: starting)",
            ),
            (HealthStatus::Healthy, "Up About a minute (healthy)"),
            (HealthStatus::Unhealthy, "Up About a minute (unhealthy)"),
        ] {
            r.state.health = Some(Health {
                status: h,
                ..Health::default()
            });
            assert_eq!(status(&r, NOW), text);
        }
        r.state.status = Status::Exited;
        r.state.exit_code = Some(0);
        assert_eq!(status(&r, NOW), "Exited (0) 3 seconds ago");
    }

    #[test]
    fn a_row_has_every_field_as_a_string() {
        let v = row(&record(Status::Exited, Some(2)), NOW, false);
        let fields: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            [
                "Command",
                "CreatedAt",
                "ID",
                "Image",
                "Labels",
                "LocalVolumes",
                "Mounts",
                "Names",
                "Networks",
                "Ports",
                "RunningFor",
                "Size",
                "State",
                "Status"
            ]
        );
        assert!(v.as_object().unwrap().values().all(Value::is_string), "{v}");
        assert_eq!(v["ID"].as_str().unwrap().len(), 64);
        assert_eq!(v["Command"], "\"sh -c echo hello; sleep 100\"");
    }
}
