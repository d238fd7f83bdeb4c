//! Uploads against a small in-memory registry: HEAD skips, mounts, monolithic and chunked
//! uploads, a chunk resumed after a dropped connection, a refused blob, manifests.

#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]

use std::collections::{HashMap, HashSet};
use std::io::{Cursor, Read};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use super::*;
use crate::paths::Paths;
use crate::registry::reference::sha256_digest;
use crate::registry::testserver::{Reply, Request, TestServer};
use crate::registry::{ClientOptions, Reference, RegistriesConf};

#[derive(Default)]
struct Fake {
    /// (repo, digest) the registry has.
    blobs: HashSet<(String, String)>,
    /// Upload session -> bytes received.
    uploads: HashMap<u32, Vec<u8>>,
    next: u32,
    /// Hang up on this many PATCH requests after reading them (the chunk is lost).
    drop_patches: u32,
    refuse: bool,
    manifests: HashMap<String, Vec<u8>>,
}

fn repo_of(path: &str) -> String {
    let rest = path.trim_start_matches("/v2/");
    let end = rest.find("/blobs/").or(rest.find("/manifests/")).unwrap();
    rest[..end].to_string()
}

fn query<'a>(path: &'a str, key: &str) -> Option<&'a str> {
    path.split_once('?')?
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
}

fn handle(st: &Mutex<Fake>, r: &Request) -> Reply {
    let mut f = st.lock().unwrap();
    let repo = repo_of(&r.path);
    let session =
        |p: &str| -> Option<u32> { p.split('?').next()?.rsplit('/').next()?.parse().ok() };
    match r.method.as_str() {
        "HEAD" => {
            let d = r.path.rsplit('/').next().unwrap().to_string();
            Reply::new(
                if f.blobs.contains(&(repo, d)) {
                    200
                } else {
                    404
                },
                "",
            )
        }
        "POST" => {
            if let (Some(d), Some(from)) = (query(&r.path, "mount"), query(&r.path, "from")) {
                if f.blobs.contains(&(from.to_string(), d.to_string())) {
                    f.blobs.insert((repo, d.to_string()));
                    return Reply::new(201, "");
                }
            }
            f.next += 1;
            let id = f.next;
            f.uploads.insert(id, Vec::new());
            Reply::new(202, "").header("Location", &format!("/v2/{repo}/blobs/uploads/{id}"))
        }
        "PATCH" => {
            if f.drop_patches > 0 {
                f.drop_patches -= 1;
                return Reply::new(0, "");
            }
            let id = session(&r.path).unwrap();
            let buf = f.uploads.get_mut(&id).unwrap();
            let start: usize = r
                .header("content-range")
                .unwrap()
                .split('-')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(start, buf.len(), "chunks must come in order");
            buf.extend_from_slice(&r.body);
            let end = buf.len() - 1;
            Reply::new(202, "")
                .header("Location", &format!("/v2/{repo}/blobs/uploads/{id}"))
                .header("Range", &format!("0-{end}"))
        }
        "GET" => {
            let id = session(&r.path).unwrap();
            let have = f.uploads[&id].len();
            Reply::new(204, "")
                .header("Location", &format!("/v2/{repo}/blobs/uploads/{id}"))
                .header("Range", &format!("0-{}", have.saturating_sub(1)))
        }
        "PUT" if r.path.contains("/manifests/") => {
            let name = r.path.rsplit('/').next().unwrap().to_string();
            f.manifests.insert(name, r.body.clone());
            Reply::new(201, "").header("Docker-Content-Digest", &sha256_digest(&r.body))
        }
        "PUT" => {
            if f.refuse {
                return Reply::new(
                    400,
                    r#"{"errors":[{"code":"BLOB_UPLOAD_INVALID","message":"blob upload invalid"}]}"#,
                );
            }
            let id = session(&r.path).unwrap();
            let mut data = f.uploads.remove(&id).unwrap();
            data.extend_from_slice(&r.body);
            let d = query(&r.path, "digest").unwrap().to_string();
            if sha256_digest(&data) != d {
                return Reply::new(
                    400,
                    r#"{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"}]}"#,
                );
            }
            f.blobs.insert((repo, d));
            Reply::new(201, "")
        }
        _ => Reply::new(405, ""),
    }
}

fn setup() -> (TestServer, Arc<Mutex<Fake>>, Client) {
    let st = Arc::new(Mutex::new(Fake::default()));
    let st2 = st.clone();
    let server = TestServer::start(move |r| handle(&st2, r));
    let dir = std::env::temp_dir().join(format!("cove-upload-{}", std::process::id()));
    let paths = Paths::under(&dir);
    let conf = RegistriesConf::default();
    let r = Reference::parse(&format!("{}/team/app:1", server.host()), &conf).unwrap();
    let opts = ClientOptions {
        push: Some(vec!["team/base".into()]),
        ..ClientOptions::default()
    };
    let client = Client::new(&paths, &conf, &r, opts).unwrap();
    (server, st, client)
}

fn data(n: usize) -> (Vec<u8>, String) {
    let d: Vec<u8> = (0..n).map(|i| (i * 31 % 253) as u8).collect();
    let digest = sha256_digest(&d);
    (d, digest)
}

fn opener(d: &[u8]) -> impl Fn(u64) -> std::io::Result<Box<dyn Read + Send>> + Sync + '_ {
    move |off| Ok(Box::new(Cursor::new(d[off as usize..].to_vec())))
}

const SMALL: UploadPolicy = UploadPolicy {
    monolithic_max: 1000,
    chunk: 4000,
    retries: 2,
};

#[test]
fn monolithic_then_skipped() {
    let (server, st, client) = setup();
    let (d, digest) = data(900);
    let last = AtomicU32::new(0);
    let progress = |n: u64| last.store(n as u32, Ordering::SeqCst);
    let got = client
        .push_blob(&digest, 900, &[], &opener(&d), SMALL, &progress)
        .unwrap();
    assert_eq!(got, BlobPush::Uploaded);
    assert_eq!(last.load(Ordering::SeqCst), 900);
    assert!(st
        .lock()
        .unwrap()
        .blobs
        .contains(&("team/app".into(), digest.clone())));
    let methods: Vec<String> = server.requests().iter().map(|r| r.method.clone()).collect();
    assert_eq!(methods, ["HEAD", "POST", "PUT"]);

    let again = client
        .push_blob(&digest, 900, &[], &opener(&d), SMALL, &|_| {})
        .unwrap();
    assert_eq!(again, BlobPush::Exists);
    assert_eq!(server.requests().len(), 4, "only a HEAD the second time");
}

#[test]
fn chunked_and_resumed_after_a_dropped_chunk() {
    let (server, st, client) = setup();
    let (d, digest) = data(10_000);
    st.lock().unwrap().drop_patches = 1;
    let got = client
        .push_blob(&digest, 10_000, &[], &opener(&d), SMALL, &|_| {})
        .unwrap();
    assert_eq!(got, BlobPush::Uploaded);
    let reqs = server.requests();
    let patches: Vec<&str> = reqs
        .iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| r.header("content-range").unwrap())
        .collect();
    // The first chunk was lost, asked about (GET), and sent again.
    assert_eq!(patches, ["0-3999", "0-3999", "4000-7999", "8000-9999"]);
    assert!(reqs.iter().any(|r| r.method == "GET"));
    assert!(st
        .lock()
        .unwrap()
        .blobs
        .contains(&("team/app".into(), digest)));
}

#[test]
fn mounted_from_another_repository() {
    let (server, st, client) = setup();
    let (d, digest) = data(500);
    st.lock()
        .unwrap()
        .blobs
        .insert(("team/base".into(), digest.clone()));
    let got = client
        .push_blob(
            &digest,
            500,
            &["team/base".into()],
            &opener(&d),
            SMALL,
            &|_| {},
        )
        .unwrap();
    assert_eq!(
        got,
        BlobPush::Mounted {
            from: "team/base".into()
        }
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert!(reqs[1].path.contains("mount=sha256:") && reqs[1].path.contains("from=team/base"));
}

#[test]
fn refused_blob_is_one_clear_error() {
    let (_server, st, client) = setup();
    let (d, digest) = data(100);
    st.lock().unwrap().refuse = true;
    let e = client
        .push_blob(&digest, 100, &[], &opener(&d), SMALL, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("push to"), "{e}");
    assert!(
        e.contains("blob_upload_invalid: blob upload invalid"),
        "{e}"
    );
    assert!(!e.contains('\n'));
}

#[test]
fn manifest_is_stored_under_its_tag() {
    let (_server, st, client) = setup();
    let body = br#"{"schemaVersion":2}"#;
    let digest = client
        .put_manifest("1", "application/vnd.oci.image.manifest.v1+json", body)
        .unwrap();
    assert_eq!(digest, sha256_digest(body));
    assert_eq!(st.lock().unwrap().manifests["1"], body);
}
