//! Registry authentication: `WWW-Authenticate` challenges, Basic headers, and the bearer-token
//! cache shared by every thread pulling from one registry.
//!
//! Lifecycle: the first request goes out anonymously. A 401 carries a [`Challenge`], which
//! [`AuthState`] remembers, so later requests for a new scope fetch their token up front instead
//! of paying another 401 round trip. A 401 on a request that carried a cached token drops that
//! token and fetches a new one, once.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    Basic,
    Bearer(BearerParams),
}

/// Where and how to ask for a bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BearerParams {
    pub realm: String,
    pub service: Option<String>,
    pub scope: Option<String>,
}

/// Parses one `WWW-Authenticate` value. Unknown schemes, and Bearer without a realm, give `None`.
pub(crate) fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header
        .split_once(char::is_whitespace)
        .unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = parse_params(rest);
    let take = |name: &str| params.get(name).cloned();
    Some(Challenge::Bearer(BearerParams {
        realm: take("realm").filter(|r| !r.is_empty())?,
        service: take("service"),
        scope: take("scope"),
    }))
}

/// Parses `key=value, key="quoted, \"value\""` into a map with lowercase keys.
fn parse_params(input: &str) -> HashMap<String, String> {
    let mut params = HashMap::new();
    let mut rest = input.trim_start();
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq]
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let (value, after) = parse_value(rest[eq + 1..].trim_start());
        params.insert(key, value);
        rest = after.trim_start().trim_start_matches(',').trim_start();
    }
    params
}

/// Reads one parameter value, quoted or token, returning it and the unparsed remainder.
fn parse_value(input: &str) -> (String, &str) {
    let Some(quoted) = input.strip_prefix('"') else {
        let end = input.find(',').unwrap_or(input.len());
        return (input[..end].trim().to_string(), &input[end..]);
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => value.extend(chars.next().map(|(_, c)| c)),
            '"' => return (value, &quoted[i + 1..]),
            c => value.push(c),
        }
    }
    (value, "")
}

/// The `Authorization` value for HTTP Basic.
pub(crate) fn basic_header(user: &str, pass: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    format!("Basic {encoded}")
}

/// The token from a token-service answer: `token`, or the OAuth2 name `access_token`.
pub(crate) fn token_from_json(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct TokenResponse {
        token: Option<String>,
        access_token: Option<String>,
    }
    let parsed: TokenResponse = serde_json::from_slice(body).ok()?;
    parsed
        .token
        .filter(|t| !t.is_empty())
        .or(parsed.access_token)
        .filter(|t| !t.is_empty())
}

/// Username and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <redacted>)", self.username)
    }
}

/// Per-registry authentication state, shared across threads.
#[derive(Debug, Default)]
pub(crate) struct AuthState {
    pub credentials: Option<Credentials>,
    /// The last challenge the registry sent; tells which scheme to use up front.
    challenge: Mutex<Option<Challenge>>,
    /// Bearer tokens by scope ("" when the request had none).
    tokens: Mutex<HashMap<String, String>>,
    /// Held while fetching a token so concurrent threads wait for one fetch instead of each
    /// asking the token service.
    pub fetch_lock: Mutex<()>,
}

impl AuthState {
    pub fn new(credentials: Option<Credentials>) -> AuthState {
        AuthState {
            credentials,
            ..AuthState::default()
        }
    }

    pub fn challenge(&self) -> Option<Challenge> {
        lock(&self.challenge).clone()
    }

    pub fn remember_challenge(&self, challenge: Challenge) {
        *lock(&self.challenge) = Some(challenge);
    }

    pub fn cached_token(&self, scope: &str) -> Option<String> {
        lock(&self.tokens).get(scope).cloned()
    }

    pub fn store_token(&self, scope: &str, token: String) {
        lock(&self.tokens).insert(scope.to_string(), token);
    }

    pub fn basic(&self) -> Option<String> {
        let c = self.credentials.as_ref()?;
        Some(basic_header(&c.username, &c.password))
    }
}

/// Locks a mutex, recovering from poisoning: every critical section is a single clone or insert,
/// so a thread that panicked elsewhere cannot have left the data half-written.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(realm: &str, service: Option<&str>, scope: Option<&str>) -> Option<Challenge> {
        Some(Challenge::Bearer(BearerParams {
            realm: realm.into(),
            service: service.map(Into::into),
            scope: scope.map(Into::into),
        }))
    }

    #[test]
    fn www_authenticate_table() {
        let cases = [
            (
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
                bearer(
                    "https://auth.docker.io/token",
                    Some("registry.docker.io"),
                    Some("repository:library/busybox:pull"),
                ),
            ),
            (
                r#"Bearer realm="http://127.0.0.1:1/token",scope="repository:a/b:pull,push""#,
                bearer(
                    "http://127.0.0.1:1/token",
                    None,
                    Some("repository:a/b:pull,push"),
                ),
            ),
            (
                r#"bearer  Realm = "http://x/t" , Service="svc""#,
                bearer("http://x/t", Some("svc"), None),
            ),
            (
                r#"Bearer realm=http://x/t,service=svc"#,
                bearer("http://x/t", Some("svc"), None),
            ),
            (
                r#"Bearer realm="http://x/t",error="invalid_token",error_description="a \"quoted\", thing""#,
                bearer("http://x/t", None, None),
            ),
            (r#"Basic realm="Registry Realm""#, Some(Challenge::Basic)),
            ("basic", Some(Challenge::Basic)),
            (r#"Bearer service="svc""#, None),
            (r#"Bearer realm="""#, None),
            (r#"Digest realm="x""#, None),
            ("", None),
        ];
        for (header, want) in cases {
            assert_eq!(parse_challenge(header), want, "{header}");
        }
    }

    #[test]
    fn escaped_quotes_and_commas_in_values() {
        let params = parse_params(r#"a="x, \"y\"", b=z"#);
        assert_eq!(params["a"], r#"x, "y""#);
        assert_eq!(params["b"], "z");
    }

    #[test]
    fn token_json_forms() {
        assert_eq!(token_from_json(br#"{"token":"t1"}"#).as_deref(), Some("t1"));
        assert_eq!(
            token_from_json(br#"{"access_token":"t2"}"#).as_deref(),
            Some("t2")
        );
        assert_eq!(
            token_from_json(br#"{"token":"","access_token":"t3"}"#).as_deref(),
            Some("t3")
        );
        assert_eq!(token_from_json(br#"{"expires_in":60}"#), None);
        assert_eq!(token_from_json(b"not json"), None);
    }

    #[test]
    fn basic_header_encoding() {
        assert_eq!(basic_header("user", "pa:ss"), "Basic dXNlcjpwYTpzcw==");
    }

    #[test]
    fn credentials_debug_redacts_password() {
        let c = Credentials {
            username: "u".into(),
            password: "secret".into(),
        };
        assert!(!format!("{c:?}").contains("secret"));
    }
}
