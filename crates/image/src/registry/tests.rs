//! The client against the in-process fake registry.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use hull_oci::image::media;
use hull_oci::Digest;

use super::fake::{raw_server, FakeAuth, FakeRegistry};
use super::*;

const REPO: &str = "library/busybox";
const MANIFEST: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#;
const BLOB: &[u8] = b"layer bytes, pretend this is gzip";

fn blob_digest() -> Digest {
    Digest::sha256_of(BLOB)
}

/// A fake holding one manifest (tag `latest`) and one blob.
fn fake_with_content() -> FakeRegistry {
    let fake = FakeRegistry::start();
    {
        let mut state = fake.state();
        state.manifests.insert(
            format!("{REPO}/latest"),
            (media::OCI_MANIFEST.to_string(), MANIFEST.to_vec()),
        );
        state.blobs.insert(blob_digest().to_string(), BLOB.to_vec());
    }
    fake
}

fn registry_for(domain: &str, creds: Option<(&str, &str)>) -> Registry {
    let credentials = creds.map(|(user, pass)| {
        let mut config = DockerConfig::default();
        config.set(domain, user, pass);
        config
    });
    let config = RegistryConfig {
        certs_dirs: Vec::new(),
        credentials,
        max_attempts: 3,
        ..RegistryConfig::default()
    };
    Registry::new(domain, &config)
        .unwrap()
        .with_retry_delay(Duration::from_millis(1))
}

fn read_all(blob: BlobStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut reader = blob.reader;
    reader.read_to_end(&mut bytes).unwrap();
    bytes
}

fn bearer_auth(token: &str, creds: Option<(&str, &str)>) -> FakeAuth {
    FakeAuth::Bearer {
        creds: creds.map(|(u, p)| (u.to_string(), p.to_string())),
        token: token.to_string(),
    }
}

#[test]
fn registry_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Registry>();
}

#[test]
fn endpoints_follow_the_domain() {
    assert_eq!(registry_for("docker.io", None).host, "registry-1.docker.io");
    assert!(!registry_for("docker.io", None).http_allowed);
    assert!(!registry_for("quay.io", None).http_allowed);
    let local = registry_for("localhost:5000", None);
    assert_eq!(local.host, "localhost:5000");
    assert!(local.http_allowed);
    let config = RegistryConfig {
        insecure: vec!["reg.lan:5000".into()],
        ..RegistryConfig::default()
    };
    assert!(Registry::new("reg.lan:5000", &config).unwrap().http_allowed);
    assert!(!Registry::new("reg.lan:5001", &config).unwrap().http_allowed);
    assert!(Registry::new("a/b", &config).is_err());
}

#[test]
fn loopback_registry_without_tls_falls_back_to_http() {
    // Every other test's fake registry is plain HTTP on 127.0.0.1; here we check the decision.
    let fake = FakeRegistry::start();
    let registry = registry_for(&fake.addr, None);
    registry.fetch_manifest("library/x", "latest").ok();
    assert!(registry.base.get().unwrap().starts_with("http://"));
}

#[test]
fn anonymous_manifest_and_blob_fetch() {
    let fake = fake_with_content();
    let registry = registry_for(&fake.addr, None);

    let manifest = registry.fetch_manifest(REPO, "latest").unwrap();
    assert_eq!(manifest.bytes, MANIFEST);
    assert_eq!(manifest.media_type, media::OCI_MANIFEST);
    assert_eq!(manifest.digest, None);

    let blob = registry.fetch_blob(REPO, &blob_digest()).unwrap();
    assert_eq!(blob.length, Some(BLOB.len() as u64));
    assert_eq!(read_all(blob), BLOB);

    let state = fake.state();
    let accept = state.log[0].accept.clone().unwrap();
    for media_type in media::ACCEPTED_MANIFESTS {
        assert!(accept.contains(media_type), "{accept}");
    }
    assert!(state.log.iter().all(|seen| seen.authorization.is_none()));
}

#[test]
fn manifest_digest_header_is_returned_and_checked() {
    let fake = fake_with_content();
    let registry = registry_for(&fake.addr, None);
    let right = Digest::sha256_of(MANIFEST);
    fake.state().digest_header = Some(right.to_string());
    assert_eq!(
        registry.fetch_manifest(REPO, "latest").unwrap().digest,
        Some(right)
    );

    fake.state().digest_header = Some(blob_digest().to_string());
    let err = registry.fetch_manifest(REPO, "latest").unwrap_err();
    assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{err}");
}

#[test]
fn bearer_flow_fetches_one_token_for_many_requests() {
    let fake = fake_with_content();
    fake.state().auth = bearer_auth("tok", None);
    let registry = registry_for(&fake.addr, None);

    registry.fetch_manifest(REPO, "latest").unwrap();
    for _ in 0..3 {
        assert_eq!(
            read_all(registry.fetch_blob(REPO, &blob_digest()).unwrap()),
            BLOB
        );
    }

    let state = fake.state();
    assert_eq!(state.token_hits, 1);
    let token_request = state
        .log
        .iter()
        .find(|s| s.url.starts_with("/token"))
        .unwrap();
    assert_eq!(
        token_request.url,
        "/token?service=fake&scope=repository%3Alibrary%2Fbusybox%3Apull"
    );
    // One anonymous 401, then the token on everything after it.
    let resource: Vec<_> = state
        .log
        .iter()
        .filter(|s| s.url.starts_with("/v2/"))
        .collect();
    assert_eq!(resource.len(), 5);
    assert_eq!(resource[0].authorization, None);
    for seen in &resource[1..] {
        assert_eq!(seen.authorization.as_deref(), Some("Bearer tok"));
    }
}

#[test]
fn bearer_token_is_shared_across_threads() {
    let fake = fake_with_content();
    fake.state().auth = bearer_auth("tok", None);
    let registry = Arc::new(registry_for(&fake.addr, None));
    registry.fetch_manifest(REPO, "latest").unwrap();

    let threads: Vec<_> = (0..4)
        .map(|_| {
            let registry = registry.clone();
            std::thread::spawn(move || read_all(registry.fetch_blob(REPO, &blob_digest()).unwrap()))
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap(), BLOB);
    }
    assert_eq!(fake.state().token_hits, 1);
}

#[test]
fn rejected_cached_token_is_refreshed_once() {
    let fake = fake_with_content();
    fake.state().auth = bearer_auth("first", None);
    let registry = registry_for(&fake.addr, None);
    registry.fetch_manifest(REPO, "latest").unwrap();

    fake.state().auth = bearer_auth("second", None);
    registry.fetch_manifest(REPO, "latest").unwrap();
    let state = fake.state();
    assert_eq!(state.token_hits, 2);
    assert_eq!(
        state.log.last().unwrap().authorization.as_deref(),
        Some("Bearer second")
    );
}

#[test]
fn bearer_with_credentials() {
    let fake = fake_with_content();
    fake.state().auth = bearer_auth("tok", Some(("alice", "pw")));

    let good = registry_for(&fake.addr, Some(("alice", "pw")));
    assert_eq!(good.fetch_manifest(REPO, "latest").unwrap().bytes, MANIFEST);

    let bad = registry_for(&fake.addr, Some(("alice", "wrong")));
    let err = bad.fetch_manifest(REPO, "latest").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(
        err.to_string(),
        format!(
            "authenticate to {}: 401 incorrect username or password",
            fake.addr
        )
    );

    let anonymous = registry_for(&fake.addr, None);
    let err = anonymous.fetch_manifest(REPO, "latest").unwrap_err();
    assert!(matches!(err, RegistryError::AuthRequired { .. }), "{err}");
}

#[test]
fn basic_auth_with_right_and_wrong_credentials() {
    let fake = fake_with_content();
    fake.state().auth = FakeAuth::Basic {
        user: "bob".into(),
        pass: "secret".into(),
    };

    let good = registry_for(&fake.addr, Some(("bob", "secret")));
    good.fetch_manifest(REPO, "latest").unwrap();
    good.fetch_blob(REPO, &blob_digest()).unwrap();
    // The challenge is remembered: only the very first request went out anonymously.
    let anonymous = fake
        .state()
        .log
        .iter()
        .filter(|s| s.authorization.is_none())
        .count();
    assert_eq!(anonymous, 1);

    let bad = registry_for(&fake.addr, Some(("bob", "nope")));
    let err = bad.fetch_manifest(REPO, "latest").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(
        err.to_string(),
        format!(
            "authenticate to {}: 401 unauthorized: invalid username or password",
            fake.addr
        )
    );
}

#[test]
fn unauthorized_without_credentials_says_to_log_in() {
    let fake = fake_with_content();
    fake.state().auth = FakeAuth::Basic {
        user: "bob".into(),
        pass: "secret".into(),
    };
    let registry = registry_for(&fake.addr, None);
    let err = registry.fetch_manifest(REPO, "latest").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(
        err.to_string(),
        format!(
            "fetch manifest {0}/{REPO}:latest: authentication required: run `hull login {0}`",
            fake.addr
        )
    );
}

#[test]
fn check_login_validates_credentials() {
    let basic = fake_with_content();
    basic.state().auth = FakeAuth::Basic {
        user: "bob".into(),
        pass: "secret".into(),
    };
    let registry = registry_for(&basic.addr, None);
    registry.check_login("bob", "secret").unwrap();
    let err = registry.check_login("bob", "bad").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);

    let bearer = fake_with_content();
    bearer.state().auth = bearer_auth("tok", Some(("alice", "pw")));
    let registry = registry_for(&bearer.addr, None);
    registry.check_login("alice", "pw").unwrap();
    let err = registry.check_login("alice", "bad").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    // Login checks use their own credentials and do not touch the pull token cache.
    assert!(registry.auth.cached_token("").is_none());
}

#[test]
fn cross_host_blob_redirect_drops_authorization() {
    let cdn = FakeRegistry::start();
    cdn.state()
        .blobs
        .insert(blob_digest().to_string(), BLOB.to_vec());
    let fake = fake_with_content();
    fake.state().auth = bearer_auth("tok", None);
    fake.state().blob_redirect = Some(cdn.url());

    let registry = registry_for(&fake.addr, None);
    assert_eq!(
        read_all(registry.fetch_blob(REPO, &blob_digest()).unwrap()),
        BLOB
    );

    let cdn_seen = cdn.state().log.clone();
    assert_eq!(cdn_seen.len(), 1);
    assert!(cdn_seen[0].url.ends_with("?redirected=1"));
    assert_eq!(cdn_seen[0].authorization, None);
    let last_registry_request = fake.state().log.last().cloned().unwrap();
    assert_eq!(
        last_registry_request.authorization.as_deref(),
        Some("Bearer tok")
    );
}

#[test]
fn same_host_blob_redirect_keeps_authorization() {
    let fake = fake_with_content();
    fake.state().auth = bearer_auth("tok", None);
    fake.state().blob_redirect = Some(String::new());

    let registry = registry_for(&fake.addr, None);
    assert_eq!(
        read_all(registry.fetch_blob(REPO, &blob_digest()).unwrap()),
        BLOB
    );

    let state = fake.state();
    let redirected = state
        .log
        .iter()
        .find(|s| s.url.ends_with("?redirected=1"))
        .unwrap();
    assert_eq!(redirected.authorization.as_deref(), Some("Bearer tok"));
}

#[test]
fn not_found_carries_the_registry_message() {
    let fake = fake_with_content();
    let registry = registry_for(&fake.addr, None);
    let err = registry.fetch_manifest(REPO, "nope").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(!err.is_transient());
    assert_eq!(
        err.to_string(),
        format!(
            "fetch manifest {}/{REPO}:nope: 404 manifest unknown",
            fake.addr
        )
    );
    let missing = Digest::sha256_of(b"missing");
    let err = registry.fetch_blob(REPO, &missing).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(
        err.to_string()
            .ends_with("404 blob unknown: blob unknown to registry"),
        "{err}"
    );
    assert_eq!(fake.state().log.len(), 2, "4xx is not retried");
}

#[test]
fn transient_server_errors_are_retried() {
    let fake = fake_with_content();
    fake.state().fail_first = 2;
    let registry = registry_for(&fake.addr, None);
    registry.fetch_manifest(REPO, "latest").unwrap();
    assert_eq!(fake.state().log.len(), 3);

    fake.state().fail_first = 2;
    assert_eq!(
        read_all(registry.fetch_blob(REPO, &blob_digest()).unwrap()),
        BLOB
    );
    assert_eq!(fake.state().log.len(), 6);
}

#[test]
fn persistent_server_errors_fail_after_max_attempts() {
    let fake = fake_with_content();
    fake.state().always_status = Some(503);
    let registry = registry_for(&fake.addr, None);
    let err = registry.fetch_manifest(REPO, "latest").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert!(err.is_transient());
    assert!(
        err.to_string().ends_with("503 unavailable: always failing"),
        "{err}"
    );
    assert_eq!(fake.state().log.len(), 3);

    fake.state().always_status = Some(400);
    let before = fake.state().log.len();
    registry.fetch_manifest(REPO, "latest").unwrap_err();
    assert_eq!(fake.state().log.len(), before + 1, "400 is not retried");
}

#[test]
fn connection_refused_is_transient_and_names_the_host() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let domain = format!("127.0.0.1:{port}");
    let err = registry_for(&domain, None)
        .fetch_manifest(REPO, "latest")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert!(err.is_transient());
    let text = err.to_string();
    assert!(text.contains(&format!("connect to {domain}")), "{text}");
}

#[test]
fn manifest_by_digest_is_verified() {
    let fake = fake_with_content();
    let wanted = Digest::sha256_of(b"what we asked for");
    fake.state().manifests.insert(
        format!("{REPO}/{wanted}"),
        (media::OCI_MANIFEST.into(), MANIFEST.to_vec()),
    );
    let right = Digest::sha256_of(MANIFEST);
    fake.state().manifests.insert(
        format!("{REPO}/{right}"),
        (media::OCI_MANIFEST.into(), MANIFEST.to_vec()),
    );
    let registry = registry_for(&fake.addr, None);

    let ok = registry.fetch_manifest(REPO, &right.to_string()).unwrap();
    assert_eq!(ok.bytes, MANIFEST);
    let err = registry
        .fetch_manifest(REPO, &wanted.to_string())
        .unwrap_err();
    let text = err.to_string();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(text.contains(&format!("{REPO}@{wanted}")), "{text}");
    assert!(
        text.contains(&format!("expected {wanted}, got {right}")),
        "{text}"
    );
}

#[test]
fn schema1_manifest_is_refused() {
    let fake = fake_with_content();
    fake.state().manifests.insert(
        format!("{REPO}/old"),
        (
            media::DOCKER_MANIFEST_V1_SIGNED.into(),
            br#"{"schemaVersion":1,"fsLayers":[]}"#.to_vec(),
        ),
    );
    let err = registry_for(&fake.addr, None)
        .fetch_manifest(REPO, "old")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "manifest {}/{REPO}:old uses docker schema 1, which is obsolete and not supported",
            fake.addr
        )
    );
}

#[test]
fn giant_manifest_is_refused() {
    let fake = fake_with_content();
    let giant = vec![b' '; MAX_MANIFEST_BYTES as usize + 1];
    fake.state()
        .manifests
        .insert(format!("{REPO}/giant"), (media::OCI_MANIFEST.into(), giant));
    let err = registry_for(&fake.addr, None)
        .fetch_manifest(REPO, "giant")
        .unwrap_err();
    assert!(matches!(err, RegistryError::TooLarge { .. }), "{err}");
}

#[test]
fn truncated_blob_with_content_length_fails_the_read() {
    let mut response = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".to_vec();
    response.extend_from_slice(&[7u8; 10]);
    let (addr, server) = raw_server(response);
    let blob = registry_for(&addr, None)
        .fetch_blob(REPO, &blob_digest())
        .unwrap();
    assert_eq!(blob.length, Some(100));
    let mut reader = blob.reader;
    let mut bytes = Vec::new();
    let err = reader.read_to_end(&mut bytes).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    server.join().unwrap();
}

#[test]
fn truncated_blob_without_length_is_a_short_read() {
    let mut response = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
    response.extend_from_slice(&[7u8; 10]);
    let (addr, server) = raw_server(response);
    let blob = registry_for(&addr, None)
        .fetch_blob(REPO, &blob_digest())
        .unwrap();
    assert_eq!(blob.length, None);
    // Nothing in the response says it is short: the caller's size/digest check must catch it.
    assert_eq!(read_all(blob).len(), 10);
    server.join().unwrap();
}

#[test]
fn malformed_names_are_refused_before_any_request() {
    let fake = fake_with_content();
    let registry = registry_for(&fake.addr, None);
    for (repo, reference) in [
        ("../etc", "latest"),
        ("Library/x", "latest"),
        ("a//b", "latest"),
        (REPO, "a/b"),
        (REPO, "sha256:short"),
        (REPO, ".hidden"),
    ] {
        let err = registry.fetch_manifest(repo, reference).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{repo} {reference}");
    }
    assert!(fake.state().log.is_empty());
}

#[test]
fn credentials_never_go_to_a_cleartext_realm_of_a_tls_registry() {
    let cases = [
        ("https://reg.example", "https://auth.example/token", true),
        ("https://reg.example", "http://auth.example/token", false),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000/token", true),
        ("http://127.0.0.1:5000", "https://auth.example/token", true),
    ];
    for (base, realm, want) in cases {
        assert_eq!(
            may_send_credentials(base.starts_with("http://"), realm),
            want,
            "{base} {realm}"
        );
    }
}
