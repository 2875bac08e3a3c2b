//! `~/.docker/config.json`: the credentials `hull login` saves and pulls use.
//!
//! The file is kept as a raw JSON object so that everything we do not manage (credsStore,
//! credHelpers, proxies, per-entry fields such as `email`) survives a load → set → save cycle
//! untouched.
//!
//! ```no_run
//! # use hull_image::registry::DockerConfig;
//! let path = DockerConfig::default_path();
//! let mut config = DockerConfig::load(&path)?;
//! config.set("localhost:5000", "user", "secret");
//! config.save(&path)?;
//! assert_eq!(config.get("localhost:5000"), Some(("user".into(), "secret".into())));
//! # Ok::<(), hull_image::registry::RegistryError>(())
//! ```

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::{Map, Value};

use super::endpoint::is_docker_hub;
use super::error::RegistryError;

/// The key Docker uses for the Hub in `auths`, a relic of the v1 API.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DockerConfig {
    raw: Map<String, Value>,
}

impl DockerConfig {
    /// Reads `path`; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<DockerConfig, RegistryError> {
        let text = match fs::read(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(RegistryError::ReadCredentials {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        Self::parse(&text).map_err(|source| RegistryError::ParseCredentials {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Parses the file's contents; an empty file is an empty config.
    pub fn parse(text: &[u8]) -> Result<DockerConfig, serde_json::Error> {
        if text.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        Ok(DockerConfig {
            raw: serde_json::from_slice(text)?,
        })
    }

    /// `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
    pub fn default_path() -> PathBuf {
        path_from_env(std::env::var_os("DOCKER_CONFIG"), std::env::var_os("HOME"))
    }

    /// Username and password for `domain`: from its credential helper (`credHelpers`, then
    /// `credsStore`) when one answers, else from `auths`.
    pub fn get(&self, domain: &str) -> Option<(String, String)> {
        if let Some(helper) = self.helper_for(domain) {
            let program = Command::new(format!("docker-credential-{helper}"));
            if let Some(found) = run_helper(program, &server_url(domain)) {
                return Some(found);
            }
        }
        self.get_inline(domain)
    }

    /// Credentials stored in the file itself, under any key form that names `domain`.
    pub fn get_inline(&self, domain: &str) -> Option<(String, String)> {
        let auths = self.raw.get("auths")?.as_object()?;
        let wanted = canonical_host(domain);
        let exact = auths.get(&server_url(domain));
        let by_host = || {
            auths
                .iter()
                .find(|(key, _)| canonical_host(key_host(key)) == wanted)
                .map(|(_, v)| v)
        };
        exact.or_else(by_host).and_then(entry_credentials)
    }

    /// Stores credentials inline under `domain`'s canonical key, replacing other keys that name
    /// the same registry.
    pub fn set(&mut self, domain: &str, user: &str, pass: &str) {
        self.remove(domain);
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        let entry = serde_json::json!({ "auth": auth });
        let auths = self
            .raw
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            *auths = Value::Object(Map::new());
        }
        if let Some(auths) = auths.as_object_mut() {
            auths.insert(server_url(domain), entry);
        }
    }

    /// Removes every `auths` key naming `domain`; true if there was one.
    pub fn remove(&mut self, domain: &str) -> bool {
        let Some(auths) = self.raw.get_mut("auths").and_then(Value::as_object_mut) else {
            return false;
        };
        let wanted = canonical_host(domain);
        let before = auths.len();
        auths.retain(|key, _| canonical_host(key_host(key)) != wanted);
        auths.len() != before
    }

    /// Writes atomically: a 0600 temp file beside `path`, fsync, rename, fsync the directory.
    pub fn save(&self, path: &Path) -> Result<(), RegistryError> {
        let err = |source| RegistryError::WriteCredentials {
            path: path.to_path_buf(),
            source,
        };
        let mut text = serde_json::to_vec_pretty(&self.raw).map_err(|e| err(e.into()))?;
        text.push(b'\n');
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(err)?;
        write_atomically(dir, path, &text).map_err(err)
    }

    /// The helper named for `domain` by `credHelpers`, else `credsStore`.
    fn helper_for(&self, domain: &str) -> Option<String> {
        let helpers = self.raw.get("credHelpers").and_then(Value::as_object);
        let wanted = canonical_host(domain);
        let specific = helpers.and_then(|h| {
            h.iter()
                .find(|(key, _)| canonical_host(key_host(key)) == wanted)
                .and_then(|(_, v)| v.as_str())
        });
        let store = || self.raw.get("credsStore").and_then(Value::as_str);
        specific
            .or_else(store)
            .filter(|name| !name.is_empty())
            .map(str::to_string)
    }
}

/// The config path from the values of `DOCKER_CONFIG` and `HOME`.
pub(crate) fn path_from_env(docker_config: Option<OsString>, home: Option<OsString>) -> PathBuf {
    match (docker_config, home) {
        (Some(dir), _) if !dir.is_empty() => PathBuf::from(dir).join("config.json"),
        (_, Some(home)) => PathBuf::from(home).join(".docker/config.json"),
        _ => PathBuf::from(".docker/config.json"),
    }
}

/// The key Docker writes for `domain`: the Hub's legacy URL, else the bare `host[:port]`.
fn server_url(domain: &str) -> String {
    if is_docker_hub(domain) {
        DOCKER_HUB_KEY.to_string()
    } else {
        domain.to_string()
    }
}

/// The host part of a key, whatever form it has: `https://host/v1/`, `http://host`, `host/v1/`.
fn key_host(key: &str) -> &str {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    rest.split('/').next().unwrap_or(rest)
}

/// Lowercase host with every Hub alias folded into one name.
fn canonical_host(host: &str) -> String {
    if is_docker_hub(host) {
        "docker.io".to_string()
    } else {
        host.to_ascii_lowercase()
    }
}

/// `auth` (base64 of `user:pass`) wins; else `username` + `password`.
fn entry_credentials(entry: &Value) -> Option<(String, String)> {
    let field = |name| {
        entry
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    if let Some(auth) = field("auth") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, pass) = text.split_once(':')?;
        return Some((user.to_string(), pass.to_string()));
    }
    Some((
        field("username")?.to_string(),
        field("password")?.to_string(),
    ))
}

/// Runs `<program> get` with the server URL on stdin, as the docker-credential-helpers protocol
/// says, and reads `{"Username":..,"Secret":..}`. Any failure (no such helper, no entry) is `None`.
pub(crate) fn run_helper(mut helper: Command, server: &str) -> Option<(String, String)> {
    let mut child = helper
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    // The helper reads stdin to EOF; dropping our end after writing signals it.
    let wrote = child.stdin.take()?.write_all(server.as_bytes());
    let output = child.wait_with_output().ok()?;
    if wrote.is_err() || !output.status.success() {
        return None;
    }
    let reply: Value = serde_json::from_slice(&output.stdout).ok()?;
    let user = reply.get("Username")?.as_str()?;
    let secret = reply.get("Secret")?.as_str()?;
    (!secret.is_empty()).then(|| (user.to_string(), secret.to_string()))
}

fn write_atomically(dir: &Path, path: &Path, text: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(text)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    const SAMPLE: &str = r#"{
        "auths": {
            "https://index.docker.io/v1/": {"auth": "aHViOmh1YnBhc3M="},
            "https://quay.io": {"username": "q", "password": "qp", "email": "q@example"},
            "http://insecure.lan:5000/v1/": {"auth": "aTpwOnc="},
            "localhost:5000": {}
        },
        "credsStore": "",
        "credHelpers": {"gcr.io": "gcloud"},
        "proxies": {"default": {"httpProxy": "http://p:3128"}},
        "HttpHeaders": {"X-Meta": "1"}
    }"#;

    fn sample() -> DockerConfig {
        DockerConfig::parse(SAMPLE.as_bytes()).unwrap()
    }

    fn pair(user: &str, pass: &str) -> Option<(String, String)> {
        Some((user.to_string(), pass.to_string()))
    }

    #[test]
    fn get_handles_key_forms_and_hub_aliases() {
        let c = sample();
        for hub in ["docker.io", "index.docker.io", "registry-1.docker.io"] {
            assert_eq!(c.get_inline(hub), pair("hub", "hubpass"), "{hub}");
        }
        assert_eq!(c.get_inline("quay.io"), pair("q", "qp"));
        assert_eq!(c.get_inline("insecure.lan:5000"), pair("i", "p:w"));
        assert_eq!(c.get_inline("insecure.lan"), None);
        assert_eq!(c.get_inline("localhost:5000"), None, "empty entry");
        assert_eq!(c.get_inline("nowhere.lan"), None);
    }

    #[test]
    fn set_remove_save_round_trip_preserves_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.json");
        let mut c = sample();
        c.set("docker.io", "new", "pw");
        c.set("localhost:5001", "u", "p");
        assert!(c.remove("quay.io"));
        assert!(!c.remove("quay.io"));
        c.save(&path).unwrap();

        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let loaded = DockerConfig::load(&path).unwrap();
        assert_eq!(loaded, c);
        assert_eq!(loaded.get_inline("index.docker.io"), pair("new", "pw"));
        assert_eq!(loaded.get_inline("localhost:5001"), pair("u", "p"));
        assert_eq!(loaded.get_inline("quay.io"), None);
        let raw: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(raw["auths"][DOCKER_HUB_KEY]["auth"], "bmV3OnB3");
        assert_eq!(raw["credHelpers"]["gcr.io"], "gcloud");
        assert_eq!(raw["proxies"]["default"]["httpProxy"], "http://p:3128");
        assert_eq!(raw["HttpHeaders"]["X-Meta"], "1");
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temp file left behind");
    }

    #[test]
    fn missing_or_empty_file_is_empty_config() {
        let dir = tempfile::tempdir().unwrap();
        let missing = DockerConfig::load(&dir.path().join("nope.json")).unwrap();
        assert_eq!(missing, DockerConfig::default());
        let empty = dir.path().join("empty.json");
        fs::write(&empty, "\n").unwrap();
        assert_eq!(DockerConfig::load(&empty).unwrap(), DockerConfig::default());
        fs::write(&empty, "{not json").unwrap();
        let err = DockerConfig::load(&empty).unwrap_err();
        assert!(
            err.to_string().starts_with("parse credentials file"),
            "{err}"
        );
    }

    #[test]
    fn set_on_empty_config_creates_auths() {
        let mut c = DockerConfig::default();
        c.set("quay.io", "a", "b");
        assert_eq!(c.get("quay.io"), pair("a", "b"));
    }

    #[test]
    fn config_path_from_env() {
        let path = |dc: Option<&str>, home: Option<&str>| {
            path_from_env(dc.map(Into::into), home.map(Into::into))
        };
        assert_eq!(
            path(Some("/etc/dc"), Some("/root")),
            PathBuf::from("/etc/dc/config.json")
        );
        assert_eq!(
            path(None, Some("/home/u")),
            PathBuf::from("/home/u/.docker/config.json")
        );
        assert_eq!(
            path(Some(""), Some("/home/u")),
            PathBuf::from("/home/u/.docker/config.json")
        );
    }

    #[test]
    fn helper_selection() {
        let mut c = sample();
        assert_eq!(c.helper_for("gcr.io").as_deref(), Some("gcloud"));
        assert_eq!(c.helper_for("quay.io"), None, "empty credsStore");
        c.raw.insert("credsStore".into(), "pass".into());
        assert_eq!(c.helper_for("quay.io").as_deref(), Some("pass"));
        assert_eq!(c.helper_for("gcr.io").as_deref(), Some("gcloud"));
    }

    #[test]
    fn credential_helper_protocol() {
        let dir = tempfile::tempdir().unwrap();
        let helper = dir.path().join("docker-credential-fake");
        let script = "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread -r url\n\
            [ \"$url\" = reg.lan ] || { echo 'credentials not found'; exit 1; }\n\
            printf '{\"ServerURL\":\"%s\",\"Username\":\"hu\",\"Secret\":\"hs\"}' \"$url\"\n";
        fs::write(&helper, script).unwrap();
        // Run through sh rather than exec'ing the fresh file: a concurrent test's fork may still
        // hold it open for writing, which makes exec fail with ETXTBSY.
        let sh = || {
            let mut c = Command::new("/bin/sh");
            c.arg(&helper);
            c
        };
        assert_eq!(run_helper(sh(), "reg.lan"), pair("hu", "hs"));
        assert_eq!(run_helper(sh(), "other.lan"), None);
        let missing = Command::new(dir.path().join("docker-credential-missing"));
        assert_eq!(run_helper(missing, "reg.lan"), None);
    }
}
