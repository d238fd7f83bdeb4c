//! The client and BlobReader against the loopback test server: blobs (good, corrupt, cut,
//! resumed), the token flow, manifests and platform choice, tags, errors and mirrors.

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::*;
use crate::paths::Paths;
use crate::registry::auth::{base64_encode, Credentials};
use crate::registry::blob::BlobReader;
use crate::registry::manifest::*;
use crate::registry::reference::sha256_digest;
use crate::registry::testserver::{Reply, TestServer};
use crate::registry::*;

fn temp_paths(tag: &str) -> (Paths, std::path::PathBuf) {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("cove-regc-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("cove")).unwrap();
    let paths = Paths::under(&dir);
    (paths, dir)
}

fn client_with(host: &str, conf: &RegistriesConf, paths: &Paths) -> Client {
    let r = Reference::parse(&format!("{host}/test/img:latest"), conf).unwrap();
    let opts = ClientOptions {
        platform: Platform::parse("linux/amd64").unwrap(),
        ..ClientOptions::default()
    };
    Client::new(paths, conf, &r, opts).unwrap()
}

fn client(server: &TestServer) -> Client {
    let (paths, _) = temp_paths("c");
    client_with(&server.host(), &RegistriesConf::default(), &paths)
}

fn blob_data() -> (Vec<u8>, String) {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let digest = sha256_digest(&data);
    (data, digest)
}

fn serve_blob(data: Vec<u8>) -> TestServer {
    TestServer::start(move |_| Reply::new(200, data.clone()))
}

#[test]
fn blob_good_with_progress() {
    let (data, digest) = blob_data();
    let server = serve_blob(data.clone());
    let seen = Arc::new(Mutex::new(0u64));
    let seen2 = seen.clone();
    let mut r = client(&server)
        .blob_reader(&digest, data.len() as u64)
        .unwrap()
        .with_progress(Box::new(move |n| *seen2.lock().unwrap() = n));
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    assert_eq!(out, data);
    assert_eq!(r.bytes_read(), data.len() as u64);
    assert_eq!(*seen.lock().unwrap(), data.len() as u64);
    assert_eq!(
        server.requests()[0].path,
        format!("/v2/test/img/blobs/{digest}")
    );
    assert!(server.requests().iter().all(|r| r.method == "GET"));
}

#[test]
fn blob_digest_mismatch() {
    let (mut data, digest) = blob_data();
    data[500] ^= 1;
    let server = serve_blob(data.clone());
    let mut r = client(&server)
        .blob_reader(&digest, data.len() as u64)
        .unwrap();
    let err = r.read_to_end(&mut Vec::new()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("digest mismatch"), "{err}");
    assert!(err.to_string().starts_with("blob sha256:"), "{err}");
}

#[test]
fn blob_larger_than_size() {
    let (data, digest) = blob_data();
    let server = serve_blob(data.clone());
    let c = client(&server);
    // Content-Length already says too much: refused before reading.
    let err = c.blob_reader(&digest, 10).unwrap_err();
    assert!(
        err.to_string()
            .contains("larger than its expected 10 bytes"),
        "{err}"
    );
}

#[test]
fn blob_truncated_after_retries() {
    let (data, digest) = blob_data();
    let server = TestServer::start(move |_| Reply::new(200, data.clone()).cut(1000));
    let mut r = client(&server).blob_reader(&digest, 100_000).unwrap();
    let err = r.read_to_end(&mut Vec::new()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(
        err.to_string()
            .contains("truncated: got 1000 of 100000 bytes"),
        "{err}"
    );
    assert_eq!(server.requests().len(), 6);
}

#[test]
fn blob_resumes_with_range() {
    let (data, digest) = blob_data();
    let d2 = data.clone();
    let server = TestServer::start(move |req| match req.header("range") {
        None => Reply::new(200, d2.clone()).cut(30_000),
        Some(range) => {
            let start: usize = range["bytes=".len()..range.len() - 1].parse().unwrap();
            let reply = Reply::new(206, d2[start..].to_vec()).header(
                "Content-Range",
                &format!("bytes {start}-{}/{}", d2.len() - 1, d2.len()),
            );
            // Cut the first resume too, to resume twice.
            if start == 30_000 {
                reply.cut(20_000)
            } else {
                reply
            }
        }
    });
    let mut r = client(&server)
        .blob_reader(&digest, data.len() as u64)
        .unwrap();
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    assert_eq!(out, data);
    let ranges: Vec<Option<String>> = server
        .requests()
        .iter()
        .map(|q| q.header("range").map(str::to_string))
        .collect();
    assert_eq!(
        ranges,
        [
            None,
            Some("bytes=30000-".into()),
            Some("bytes=50000-".into())
        ]
    );
}

#[test]
fn blob_resume_when_range_ignored() {
    let (data, digest) = blob_data();
    let d2 = data.clone();
    let count = AtomicUsize::new(0);
    let server = TestServer::start(move |_| {
        if count.fetch_add(1, Ordering::Relaxed) == 0 {
            Reply::new(200, d2.clone()).cut(12_345)
        } else {
            Reply::new(200, d2.clone())
        }
    });
    let mut r = client(&server)
        .blob_reader(&digest, data.len() as u64)
        .unwrap();
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    assert_eq!(out, data);
}

fn manifest_json(config: &[u8], layer: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_OCI_MANIFEST,
        "config": {"mediaType": MEDIA_TYPE_OCI_CONFIG, "digest": sha256_digest(config), "size": config.len()},
        "layers": [{"mediaType": MEDIA_TYPE_OCI_LAYER_GZIP, "digest": sha256_digest(layer), "size": layer.len()}],
    }))
    .unwrap()
}

/// A registry that wants a bearer token and serves an index with amd64 and arm64 images.
fn token_registry(expect_basic: Option<String>) -> TestServer {
    let cfg_amd = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let cfg_arm = br#"{"architecture":"arm64","os":"linux"}"#.to_vec();
    let m_amd = manifest_json(&cfg_amd, b"layer-amd");
    let m_arm = manifest_json(&cfg_arm, b"layer-arm");
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_OCI_INDEX,
        "manifests": [
            {"mediaType": MEDIA_TYPE_OCI_MANIFEST, "digest": sha256_digest(&m_arm), "size": m_arm.len(),
             "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {"mediaType": MEDIA_TYPE_OCI_MANIFEST, "digest": sha256_digest(&m_amd), "size": m_amd.len(),
             "platform": {"os": "linux", "architecture": "amd64"}},
        ],
    }))
    .unwrap();
    let port = Arc::new(Mutex::new(0u16));
    let port2 = port.clone();
    let server = TestServer::start(move |req| {
        if req.path.starts_with("/token?") {
            if let Some(b) = &expect_basic {
                if req.header("authorization") != Some(b.as_str()) {
                    return Reply::new(401, "");
                }
            }
            return Reply::new(200, r#"{"access_token":"tok123","expires_in":300}"#);
        }
        if req.header("authorization") != Some("Bearer tok123") {
            let p = *port2.lock().unwrap();
            return Reply::new(401, r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#)
                .header(
                    "WWW-Authenticate",
                    &format!(r#"Bearer realm="http://127.0.0.1:{p}/token",service="test,svc",scope="repository:test/img:pull""#),
                );
        }
        let body_for =
            |b: &Vec<u8>, mt: &str| Reply::new(200, b.clone()).header("Content-Type", mt);
        match req.path.as_str() {
            "/v2/test/img/manifests/latest" => body_for(&index, MEDIA_TYPE_OCI_INDEX),
            p if p == format!("/v2/test/img/manifests/{}", sha256_digest(&m_amd)) => {
                body_for(&m_amd, MEDIA_TYPE_OCI_MANIFEST)
            }
            p if p == format!("/v2/test/img/manifests/{}", sha256_digest(&m_arm)) => {
                body_for(&m_arm, MEDIA_TYPE_OCI_MANIFEST)
            }
            p if p == format!("/v2/test/img/blobs/{}", sha256_digest(&cfg_amd)) => {
                Reply::new(200, cfg_amd.clone())
            }
            p if p == format!("/v2/test/img/blobs/{}", sha256_digest(&cfg_arm)) => {
                Reply::new(200, cfg_arm.clone())
            }
            _ => Reply::new(
                404,
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
            ),
        }
    });
    *port.lock().unwrap() = server.addr.port();
    server
}

#[test]
fn token_flow_and_resolve() {
    let server = token_registry(None);
    let c = client(&server);
    let img = c.resolve("latest").unwrap();
    assert!(img.index.is_some());
    assert_eq!(img.manifest.media_type, MEDIA_TYPE_OCI_MANIFEST);
    assert_eq!(img.config, br#"{"architecture":"amd64","os":"linux"}"#);
    assert_eq!(img.config_digest, img.parsed.config.digest);
    assert_eq!(img.manifest.digest, sha256_digest(&img.manifest.bytes));
    let reqs = server.requests();
    let tokens: Vec<_> = reqs
        .iter()
        .filter(|r| r.path.starts_with("/token"))
        .collect();
    assert_eq!(tokens.len(), 1, "token cached: {reqs:?}");
    assert!(
        tokens[0].path.contains("service=test%2Csvc"),
        "{}",
        tokens[0].path
    );
    assert!(
        tokens[0]
            .path
            .contains("scope=repository%3Atest%2Fimg%3Apull"),
        "{}",
        tokens[0].path
    );
    // 401, token, retry, then the child manifest and config straight with the cached token.
    assert_eq!(reqs.len(), 5, "{reqs:?}");

    // The arm64 client picks the other manifest.
    let (paths, _) = temp_paths("arm");
    let conf = RegistriesConf::default();
    let r = Reference::parse(&format!("{}/test/img", server.host()), &conf).unwrap();
    let opts = ClientOptions {
        platform: Platform::parse("arm64").unwrap(),
        ..ClientOptions::default()
    };
    let img = Client::new(&paths, &conf, &r, opts)
        .unwrap()
        .resolve("latest")
        .unwrap();
    assert_eq!(img.config, br#"{"architecture":"arm64","os":"linux"}"#);

    let opts = ClientOptions {
        platform: Platform::parse("linux/s390x").unwrap(),
        ..ClientOptions::default()
    };
    let err = Client::new(&paths, &conf, &r, opts)
        .unwrap()
        .resolve("latest")
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("no matching manifest for linux/s390x"),
        "{err}"
    );
}

#[test]
fn token_with_credentials_and_errors() {
    let (paths, _) = temp_paths("creds");
    let basic = Credentials {
        username: "me".into(),
        password: "pw".into(),
    }
    .basic_header();
    let server = token_registry(Some(basic));
    let conf = RegistriesConf::default();
    let host = server.host();
    std::fs::write(
        paths.own_config_dir().join("auth.json"),
        format!(
            r#"{{"auths":{{"{host}":{{"auth":"{}"}}}}}}"#,
            base64_encode(b"me:pw")
        ),
    )
    .unwrap();
    let c = client_with(&host, &conf, &paths);
    let m = c.manifest("latest").unwrap();
    assert_eq!(m.media_type, MEDIA_TYPE_OCI_INDEX);
    let err = c.manifest("nope").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(
        err.to_string(),
        format!("manifest unknown: manifest for {host}/test/img:nope not found")
    );

    // Wrong password: the token server refuses.
    std::fs::write(
        paths.own_config_dir().join("auth.json"),
        format!(
            r#"{{"auths":{{"{host}":{{"auth":"{}"}}}}}}"#,
            base64_encode(b"me:bad")
        ),
    )
    .unwrap();
    let err = client_with(&host, &conf, &paths)
        .manifest("latest")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Denied);
    assert!(!err.to_string().contains("bad"), "{err}");
}

#[test]
fn denied_after_token() {
    let server = TestServer::start(|req| {
        if req.path.starts_with("/token") {
            return Reply::new(200, r#"{"token":"t"}"#);
        }
        Reply::new(401, r#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#)
            .header("WWW-Authenticate", r#"Bearer realm="http://127.0.0.1:1/token""#)
    });
    // The realm points at a closed port: the token server cannot be reached.
    let err = client(&server).manifest("latest").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert!(
        err.to_string()
            .starts_with("cannot reach auth server 127.0.0.1:1: "),
        "{err}"
    );

    let port = Arc::new(Mutex::new(0u16));
    let p2 = port.clone();
    let server = TestServer::start(move |req| {
        if req.path.starts_with("/token") {
            return Reply::new(200, r#"{"token":"t"}"#);
        }
        let realm = format!(
            r#"Bearer realm="http://127.0.0.1:{}/token""#,
            p2.lock().unwrap()
        );
        Reply::new(401, r#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#)
            .header("WWW-Authenticate", &realm)
    });
    *port.lock().unwrap() = server.addr.port();
    let err = client(&server).manifest("latest").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "pull access denied for {}/test/img, repository does not exist or may require \
             authentication: denied: requested access to the resource is denied",
            server.host()
        )
    );
}

#[test]
fn basic_auth_and_tags() {
    let (paths, _) = temp_paths("basic");
    let server = TestServer::start(|req| {
        if req.header("authorization") != Some("Basic dTpw") {
            return Reply::new(401, "").header("WWW-Authenticate", r#"Basic realm="r""#);
        }
        match req.path.as_str() {
            "/v2/test/img/tags/list" => Reply::new(200, r#"{"name":"test/img","tags":["a","b"]}"#)
                .header("Link", r#"</v2/test/img/tags/list?n=2&last=b>; rel="next""#),
            "/v2/test/img/tags/list?n=2&last=b" => {
                Reply::new(200, r#"{"name":"test/img","tags":["c"]}"#)
            }
            _ => Reply::new(404, ""),
        }
    });
    let host = server.host();
    std::fs::write(
        paths.own_config_dir().join("auth.json"),
        format!(r#"{{"auths":{{"{host}":{{"username":"u","password":"p"}}}}}}"#),
    )
    .unwrap();
    let c = client_with(&host, &RegistriesConf::default(), &paths);
    assert_eq!(c.tags().unwrap(), ["a", "b", "c"]);
    // Without credentials a Basic challenge is a denial.
    let err = client(&server).tags().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Denied);
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn unreachable_and_mirrors() {
    let (paths, _) = temp_paths("net");
    let port = closed_port();
    let host = format!("127.0.0.1:{port}");
    let err = client_with(&host, &RegistriesConf::default(), &paths)
        .manifest("latest")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert_eq!(
        err.to_string(),
        format!("cannot reach registry {host}: connection refused")
    );

    // A dead mirror first, then a good one under a path prefix, then the registry itself.
    let (data, digest) = blob_data();
    let mirror = serve_blob(data.clone());
    let conf = RegistriesConf::from_toml(&format!(
        "[[registry]]\nlocation = \"{host}\"\n[[registry.mirror]]\nlocation = \"127.0.0.1:{}\"\n\
         [[registry.mirror]]\nlocation = \"{}/cache\"\n",
        closed_port(),
        mirror.host()
    ))
    .unwrap();
    let c = client_with(&host, &conf, &paths);
    assert_eq!(c.blob_bytes(&digest, 1 << 20).unwrap(), data);
    assert_eq!(
        mirror.requests()[0].path,
        format!("/v2/cache/test/img/blobs/{digest}")
    );
    let err = c.blob_bytes(&digest, 1000).unwrap_err();
    assert!(
        err.to_string().contains("larger than the 1000-byte limit"),
        "{err}"
    );

    let blocked = RegistriesConf::from_toml(&format!(
        "[[registry]]\nlocation = \"{host}\"\nblocked = true\n"
    ))
    .unwrap();
    let r = Reference::parse(&format!("{host}/x"), &blocked).unwrap();
    let err = Client::new(&paths, &blocked, &r, ClientOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("registry {host} is blocked in registries.conf")
    );
}

/// Mirrors also apply to an entry with only a prefix (its location is the prefix) and to a
/// wildcard entry (the mirror serves what follows the host).
#[test]
fn mirrors_of_prefix_and_wildcard_entries() {
    let (paths, _) = temp_paths("mirror");
    let (data, digest) = blob_data();
    let dead = format!("127.0.0.1:{}", closed_port());
    for (prefix, registry, expect) in [
        (format!("{dead}/test"), dead.clone(), "/v2/cache/img/blobs/"),
        // The registry itself is never reached: the mirror answers.
        (
            "*.localhost".to_string(),
            "reg.localhost".to_string(),
            "/v2/cache/test/img/blobs/",
        ),
    ] {
        let mirror = serve_blob(data.clone());
        let conf = RegistriesConf::from_toml(&format!(
            "[[registry]]\nprefix = \"{prefix}\"\n[[registry.mirror]]\nlocation = \"{}/cache\"\n",
            mirror.host()
        ))
        .unwrap();
        let c = client_with(&registry, &conf, &paths);
        assert_eq!(c.blob_bytes(&digest, 1 << 20).unwrap(), data, "{prefix}");
        assert_eq!(
            mirror.requests()[0].path,
            format!("{expect}{digest}"),
            "{prefix}"
        );
    }
}

#[test]
fn manifest_by_digest_is_checked() {
    let body = manifest_json(b"{}", b"l");
    let b2 = body.clone();
    let server = TestServer::start(move |_| {
        Reply::new(200, b2.clone()).header("Content-Type", MEDIA_TYPE_OCI_MANIFEST)
    });
    let c = client(&server);
    let good = sha256_digest(&body);
    assert_eq!(c.manifest(&good).unwrap().bytes, body);
    let other = sha256_digest(b"other");
    let err = c.manifest(&other).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    assert!(
        err.to_string().contains("does not match its digest"),
        "{err}"
    );
}

#[test]
fn shareable_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Client>();
    send::<BlobReader>();
}

#[test]
fn link_header() {
    assert_eq!(
        next_link(r#"</v2/x/tags/list?n=2&last=b>; rel="next""#).as_deref(),
        Some("/v2/x/tags/list?n=2&last=b")
    );
    assert_eq!(
        next_link(r#"<http://h/a>; rel="prev", <http://h/b>; rel=next"#).as_deref(),
        Some("http://h/b")
    );
    assert_eq!(next_link("garbage"), None);
}
