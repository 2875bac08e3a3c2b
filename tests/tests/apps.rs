//! Real applications, as users run them: PostgreSQL with its data in a named volume, nginx
//! behind a published port, Redis with its `VOLUME /data`, and a `--restart always` service
//! after a simulated reboot. The images are Debian's own packages (scripts/fixtures-apps:
//! postgresql-15, nginx-light and redis-server, installed by mmdebstrap, made into images by
//! buildah) in the plain fixture registry. psql is Debian's postgresql-client on the host.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::{Command, Output};
use std::time::Duration;

use hull_tests::reboot::simulate_reboot;
use hull_tests::{container_id_of, fixture, free_port, poll, require_root, wait_until, Hull};

const PASSWORD: &str = "hull-secret";

/// The fixture image `apps/NAME:TAG`, pulled into `h`'s store.
fn app(h: &Hull, name_tag: &str) -> String {
    let image = format!("{}/apps/{name_tag}", fixture("HULL_TEST_REGISTRY"));
    let out = h.run(&["pull", "-q", &image]);
    assert!(
        out.status.success(),
        "pull {image} failed (the application images come from scripts/fixtures-apps, which \
         scripts/fixtures start runs): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    image
}

fn health_status(h: &Hull, name: &str) -> String {
    h.inspect(name)["State"]["Health"]["Status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// `psql -tA -c SQL` as the superuser, over TCP to the published port.
fn psql(port: u16, sql: &str) -> Output {
    Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
        .args(["-d", "postgres", "-v", "ON_ERROR_STOP=1", "-tA", "-c", sql])
        .env("PGPASSWORD", PASSWORD)
        .env("PGCONNECT_TIMEOUT", "5")
        .output()
        .expect("run psql (Debian's postgresql-client; scripts/deps installs it)")
}

fn psql_ok(port: u16, sql: &str) -> String {
    let out = psql(port, sql);
    assert!(
        out.status.success(),
        "psql {sql:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Starts postgres with its data in the named volume and waits until psql gets in.
fn start_postgres(h: &Hull, image: &str, name: &str, volume: &str, port: u16) {
    let env = format!("POSTGRES_PASSWORD={PASSWORD}");
    let mount = format!("{volume}:/var/lib/postgresql/data");
    let publish = format!("{port}:5432");
    h.ok(&[
        "run", "-d", "--name", name, "-e", &env, "-v", &mount, "-p", &publish, image,
    ]);
    if !poll(90, || psql(port, "select 1").status.success()) {
        let (out, err) = logs(h, name);
        panic!("postgres never accepted psql on port {port}; its log:\n{out}{err}");
    }
}

/// The combined output of `hull logs NAME`: (stdout, stderr).
fn logs(h: &Hull, name: &str) -> (String, String) {
    let out = h.run(&["logs", name]);
    assert!(out.status.success(), "logs {name}: {out:?}");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn postgres_keeps_its_rows_in_a_named_volume_across_containers() {
    require_root!();
    let h = Hull::new();
    let image = app(&h, "postgres:15");
    let port = free_port();
    start_postgres(&h, &image, "pg-one", "pgdata", port);
    psql_ok(port, "create table notes (id int primary key, body text)");
    psql_ok(port, "insert into notes values (1, 'kept by the volume')");

    h.ok(&["stop", "pg-one"]);
    // SIGINT (the image's STOPSIGNAL) is PostgreSQL's fast shutdown; SIGTERM would be "smart".
    let (_, err) = logs(&h, "pg-one");
    assert!(err.contains("received fast shutdown request"), "{err}");
    assert!(err.contains("database system is shut down"), "{err}");
    let state = &h.inspect("pg-one")["State"];
    assert_eq!(state["ExitCode"], 0, "{state}");
    h.ok(&["rm", "pg-one"]);
    assert!(h.ok(&["volume", "ls", "-q"]).lines().any(|l| l == "pgdata"));

    let port = free_port();
    start_postgres(&h, &image, "pg-two", "pgdata", port);
    assert_eq!(
        psql_ok(port, "select body from notes where id = 1"),
        "kept by the volume"
    );
    // The volume held a cleanly shut down cluster: no new initdb, no crash recovery.
    let (out, err) = logs(&h, "pg-two");
    assert!(
        !out.contains("creating subdirectories"),
        "initdb ran again:\n{out}"
    );
    assert!(err.contains("database system was shut down at"), "{err}");
    assert!(!err.contains("automatic recovery"), "{err}");
}

#[test]
fn postgres_health_check_goes_from_starting_to_healthy() {
    require_root!();
    let h = Hull::new();
    let image = app(&h, "postgres:15");
    let env = format!("POSTGRES_PASSWORD={PASSWORD}");
    h.ok(&["run", "-d", "--name", "pg-health", "-e", &env, &image]);
    // The image's HEALTHCHECK (pg_isready every second) and no success yet: initdb runs first.
    assert_eq!(health_status(&h, "pg-health"), "starting");
    assert!(h.ok(&["ps"]).contains("(health: starting)"));
    let healthy = poll(90, || health_status(&h, "pg-health") == "healthy");
    assert!(
        healthy,
        "never healthy: {}",
        h.inspect("pg-health")["State"]
    );

    let health = h.inspect("pg-health")["State"]["Health"].clone();
    assert_eq!(health["FailingStreak"], 0, "{health}");
    let last = health["Log"].as_array().and_then(|l| l.last()).cloned();
    assert_eq!(last.expect("a probe result")["ExitCode"], 0, "{health}");
    assert!(h.ok(&["ps"]).contains("(healthy)"));
    let selected = h.ok(&["ps", "--filter", "health=healthy", "--format", "{{.Names}}"]);
    assert_eq!(selected.trim(), "pg-health");
    // The database the check called ready answers queries.
    let out = h.ok(&[
        "exec",
        "pg-health",
        "psql",
        "-U",
        "postgres",
        "-tAc",
        "select 6*7",
    ]);
    assert_eq!(out.trim(), "42");
}

/// `GET PATH` on the published port: (status code, body), or None while nothing answers.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut v = String::new();
    s.read_to_string(&mut v).ok()?;
    let code = v.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, v.split("\r\n\r\n").nth(1).unwrap_or("").to_string()))
}

#[test]
fn nginx_serves_a_published_port_and_logs_to_hull_logs() {
    require_root!();
    let h = Hull::new();
    let image = app(&h, "nginx:1.22");
    let port = free_port();
    let publish = format!("{port}:80");
    h.ok(&["run", "-d", "--name", "web", "-p", &publish, &image]);
    wait_until("nginx to answer", || http_get(port, "/").is_some());
    let (code, body) = http_get(port, "/").unwrap();
    assert_eq!(code, 200);
    assert!(body.contains("served by Debian's nginx"), "{body}");
    assert_eq!(http_get(port, "/missing-page").map(|r| r.0), Some(404));
    assert_eq!(http_get(port, "/forbidden").map(|r| r.0), Some(403));

    // The access log goes to stdout, errors to stderr, each in its own stream of `hull logs`.
    wait_until("the access log in hull logs", || {
        logs(&h, "web")
            .0
            .contains("\"GET /forbidden HTTP/1.0\" 403")
    });
    let (out, err) = logs(&h, "web");
    assert!(out.contains("\"GET / HTTP/1.0\" 200"), "{out}");
    assert!(out.contains("\"GET /missing-page HTTP/1.0\" 404"), "{out}");
    assert!(err.contains("access forbidden by rule"), "{err}");
    assert!(!err.contains("GET / HTTP"), "{err}");

    // SIGQUIT, the image's STOPSIGNAL, is nginx's graceful shutdown: it exits 0 on its own.
    h.ok(&["stop", "web"]);
    assert_eq!(h.inspect("web")["State"]["ExitCode"], 0);
}

fn redis_cli(h: &Hull, name: &str, args: &[&str]) -> String {
    let mut argv = vec!["exec", name, "redis-cli"];
    argv.extend_from_slice(args);
    h.ok(&argv).trim().to_string()
}

/// The host directory of the container's volume at `target`, from `inspect`'s Mounts.
fn volume_source(h: &Hull, name: &str, target: &str) -> (String, std::path::PathBuf) {
    let mounts = h.inspect(name)["Mounts"].clone();
    let m = mounts
        .as_array()
        .and_then(|a| a.iter().find(|m| m["Destination"] == target))
        .unwrap_or_else(|| panic!("no mount at {target}: {mounts}"))
        .clone();
    assert_eq!(m["Type"], "volume", "{m}");
    let source = m["Source"].as_str().expect("Source").into();
    (m["Name"].as_str().expect("Name").to_string(), source)
}

/// Runs redis, sets `k`, and SAVEs: the dump lands in the volume at /data, which the image's
/// redis user owns (the new volume was filled from the image, owner kept).
fn redis_with_saved_key(h: &Hull, image: &str, name: &str, flags: &[&str]) -> std::path::PathBuf {
    let mut argv = vec!["run", "-d", "--name", name];
    argv.extend_from_slice(flags);
    argv.push(image);
    h.ok(&argv);
    wait_until("redis to answer", || {
        h.run(&["exec", name, "redis-cli", "PING"]).stdout == b"PONG\n"
    });
    assert_eq!(redis_cli(h, name, &["SET", "k", "saved"]), "OK");
    assert_eq!(redis_cli(h, name, &["SAVE"]), "OK");
    let (_, source) = volume_source(h, name, "/data");
    let dump = source.join("dump.rdb");
    assert!(dump.is_file(), "{} missing", dump.display());
    let uid = h.ok(&["exec", name, "id", "-u", "redis"]);
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&source).unwrap());
    assert_eq!(
        owner.to_string(),
        uid.trim(),
        "owner of {}",
        source.display()
    );
    source
}

#[test]
fn redis_data_goes_with_an_anonymous_volume_and_stays_in_a_named_one() {
    require_root!();
    let h = Hull::new();
    let image = app(&h, "redis:7");

    // The image's VOLUME /data: an anonymous volume per container.
    let first = redis_with_saved_key(&h, &image, "redis-anon", &[]);
    h.ok(&["rm", "-f", "redis-anon"]);
    // `rm` without -v keeps the anonymous volume, as Docker does, but no new container sees it.
    assert!(first.join("dump.rdb").is_file());
    h.ok(&["run", "-d", "--name", "redis-next", &image]);
    wait_until("redis to answer", || {
        h.run(&["exec", "redis-next", "redis-cli", "PING"]).stdout == b"PONG\n"
    });
    assert_eq!(redis_cli(&h, "redis-next", &["GET", "k"]), "");
    let (_, next) = volume_source(&h, "redis-next", "/data");
    assert_ne!(next, first);
    h.ok(&["rm", "-f", "-v", "redis-next"]);
    assert!(!next.exists(), "rm -v left {}", next.display());

    // A named volume outlives its container and carries the data to the next one.
    redis_with_saved_key(&h, &image, "redis-named", &["-v", "redisdata:/data"]);
    h.ok(&["rm", "-f", "-v", "redis-named"]);
    assert!(h
        .ok(&["volume", "ls", "-q"])
        .lines()
        .any(|l| l == "redisdata"));
    h.ok(&[
        "run",
        "-d",
        "--name",
        "redis-again",
        "-v",
        "redisdata:/data",
        &image,
    ]);
    wait_until("the saved key to load", || {
        h.run(&["exec", "redis-again", "redis-cli", "GET", "k"])
            .stdout
            == b"saved\n"
    });
}

#[test]
fn a_restart_always_service_comes_back_after_a_reboot() {
    require_root!();
    let h = Hull::new();
    let web = app(&h, "nginx:1.22");
    let redis = app(&h, "redis:7");
    let port = free_port();
    let publish = format!("{port}:80");
    h.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--restart",
        "always",
        "-p",
        &publish,
        &web,
    ]);
    h.ok(&["run", "-d", "--name", "cache", &redis]);
    wait_until("nginx to answer", || http_get(port, "/").is_some());
    let ids = [container_id_of(&h, "web"), container_id_of(&h, "cache")];

    simulate_reboot(&h, &ids);
    assert!(
        http_get(port, "/").is_none(),
        "nginx answered after the reboot"
    );
    h.ok(&["system", "boot"]);

    wait_until("nginx to answer after boot", || {
        http_get(port, "/").is_some_and(|(code, _)| code == 200)
    });
    assert_eq!(h.inspect("web")["State"]["Running"], true);
    // No restart policy: it stays down, its death recorded.
    let cache = h.inspect("cache")["State"].clone();
    assert_eq!(cache["Running"], false, "{cache}");
    assert_eq!(
        h.ok(&["ps", "--format", "{{.Names}}"]).trim(),
        "web",
        "exactly the restart-always service runs"
    );
}
