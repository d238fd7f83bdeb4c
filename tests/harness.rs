//! Checks the test harness itself (registry, fixtures, proxy modes) without running cove, so
//! that a failing e2e test can be blamed on cove and not on its fixtures.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use common::http::get;
use common::layout::{MT_GZIP, MT_INDEX, MT_MANIFEST, MT_TAR, MT_ZSTD};
use common::{fixtures, remote_digests, sha256_hex, Mode, Proxy};

const ACCEPT: (&str, &str) = (
    "Accept",
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json",
);

#[test]
fn registry_answers() {
    let r = common::registry();
    let resp = get(&r.addr, "/v2/", &[]).unwrap();
    assert_eq!(resp.status(), 200);
    let pid = std::fs::read_to_string(common::run_dir().join("registry.pid")).unwrap();
    assert!(pid.starts_with(&r.pid.to_string()));
}

#[test]
fn fixtures_pushed_with_digests_and_media_types_kept() {
    let f = fixtures();
    let bb = remote_digests(&f.reference("busybox:latest"));
    assert_eq!(bb.digest, f.busybox.manifest_digest);
    assert_eq!(bb.media_type, MT_MANIFEST);
    assert_eq!(bb.layers, vec![f.busybox.layers[0].digest.clone()]);
    assert_eq!(bb.raw["layers"][0]["mediaType"], MT_GZIP);
    assert_eq!(
        remote_digests(&f.reference("busybox:v1")).digest,
        f.busybox.manifest_digest
    );

    let l = remote_digests(&f.reference("layered:latest"));
    assert_eq!(l.digest, f.layered.manifest_digest);
    let types: Vec<&str> = l.raw["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["mediaType"].as_str().unwrap())
        .collect();
    assert_eq!(types, [MT_GZIP, MT_ZSTD, MT_TAR]);
    assert_eq!(l.layers[0], bb.layers[0], "the base layer is shared");
    assert_eq!(f.layered.chain_ids[0], f.busybox.chain_ids[0]);

    let m = remote_digests(&f.reference("multi:latest"));
    assert_eq!(m.digest, f.multi_digest);
    assert_eq!(m.media_type, MT_INDEX);
    let arm = remote_digests(&f.reference(&format!("multi@{}", f.arm64.manifest_digest)));
    assert_eq!(arm.layers, vec![f.arm64.layers[0].digest.clone()]);
    let amd = remote_digests(&f.reference(&format!("multi@{}", f.busybox.manifest_digest)));
    assert_eq!(amd.digest, f.busybox.manifest_digest);

    for h in &f.hostile {
        let r = remote_digests(&f.reference(&format!("hostile:{}", h.trick)));
        assert_eq!(r.digest, h.image.manifest_digest, "hostile:{}", h.trick);
    }
}

#[test]
fn skopeo_reads_fixture_config() {
    let f = fixtures();
    let out = common::sh(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            &format!("docker://{}", f.reference("layered:latest")),
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Architecture"], "amd64");
    assert_eq!(v["Labels"]["org.cove.test"], "layered");
    assert_eq!(v["Layers"].as_array().unwrap().len(), 3);
    let raw_cfg = common::sh(
        "skopeo",
        &[
            "inspect",
            "--config",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{}", f.reference("layered:latest")),
        ],
    );
    assert_eq!(
        format!("sha256:{}", sha256_hex(raw_cfg.as_bytes())),
        f.layered.config_digest
    );
}

#[test]
fn fixture_layers_hold_what_tests_expect() {
    let f = fixtures();
    let names = |digest: &str| -> Vec<String> {
        let resp = get(&f.registry, &format!("/v2/layered/blobs/{digest}"), &[]).unwrap();
        assert_eq!(format!("sha256:{}", sha256_hex(&resp.body)), digest);
        let tar: Vec<u8> = match digest {
            d if d == f.layered.layers[0].digest => {
                let mut v = Vec::new();
                std::io::Read::read_to_end(
                    &mut flate2::read::GzDecoder::new(&resp.body[..]),
                    &mut v,
                )
                .unwrap();
                v
            }
            d if d == f.layered.layers[1].digest => zstd::decode_all(&resp.body[..]).unwrap(),
            _ => resp.body.clone(),
        };
        tar::Archive::new(&tar[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect()
    };
    let base = names(&f.layered.layers[0].digest);
    assert!(base.contains(&"bin/busybox".to_string()) && base.contains(&"bin/sh".to_string()));
    assert!(names(&f.layered.layers[1].digest).contains(&"gone.txt".to_string()));
    let top = names(&f.layered.layers[2].digest);
    assert!(
        top.contains(&".wh.gone.txt".to_string()) && top.contains(&"opq/.wh..wh..opq".to_string())
    );
}

fn manifest_path(name: &str) -> String {
    format!("/v2/{name}/manifests/latest")
}

#[test]
fn proxy_plain_forwards_and_records() {
    let f = fixtures();
    let p = Proxy::start(Mode::Plain);
    let r = get(&p.addr, &manifest_path("busybox"), &[ACCEPT]).unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        format!("sha256:{}", sha256_hex(&r.body)),
        f.busybox.manifest_digest
    );
    let d = &f.busybox.layers[0].digest;
    let r = get(
        &p.addr,
        &format!("/v2/busybox/blobs/{d}"),
        &[("Range", "bytes=10-")],
    )
    .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.body.len() as u64, f.busybox.layers[0].size - 10);
    let seen = p.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].range.as_deref(), Some("bytes=10-"));
    assert!(seen[1].is_blob_get() && seen[1].status == 206);
    assert_eq!(p.blob_gets().len(), 1);
}

#[test]
fn proxy_token_auth() {
    let p = Proxy::start(Mode::TokenAuth {
        user: "alice".into(),
        pass: "s3cret".into(),
    });
    let r = get(&p.addr, &manifest_path("busybox"), &[ACCEPT]).unwrap();
    assert_eq!(r.status(), 401);
    let chal = r.header("www-authenticate").unwrap();
    assert_eq!(
        chal,
        format!(
            r#"Bearer realm="http://{}/token",service="cove-test",scope="repository:busybox:pull""#,
            p.addr
        )
    );
    let q = "/token?service=cove-test&scope=repository:busybox:pull";
    assert_eq!(get(&p.addr, q, &[]).unwrap().status(), 401);
    let bad = format!("Basic {}", common::base64(b"alice:wrong"));
    assert_eq!(
        get(&p.addr, q, &[("Authorization", &bad)])
            .unwrap()
            .status(),
        401
    );
    let good = format!("Basic {}", common::base64(b"alice:s3cret"));
    let t = get(&p.addr, q, &[("Authorization", &good)]).unwrap();
    assert_eq!(t.status(), 200);
    let tok: serde_json::Value = serde_json::from_slice(&t.body).unwrap();
    let bearer = format!("Bearer {}", tok["token"].as_str().unwrap());
    let r = get(
        &p.addr,
        &manifest_path("busybox"),
        &[ACCEPT, ("Authorization", &bearer)],
    )
    .unwrap();
    assert_eq!(r.status(), 200);
    let r = get(
        &p.addr,
        &manifest_path("busybox"),
        &[ACCEPT, ("Authorization", "Bearer forged")],
    )
    .unwrap();
    assert_eq!(r.status(), 401);
}

#[test]
fn proxy_basic_auth() {
    let p = Proxy::start(Mode::BasicAuth {
        user: "bob".into(),
        pass: "pw".into(),
    });
    let r = get(&p.addr, "/v2/", &[]).unwrap();
    assert_eq!(r.status(), 401);
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .starts_with("Basic realm="));
    let good = format!("Basic {}", common::base64(b"bob:pw"));
    assert_eq!(
        get(&p.addr, "/v2/", &[("Authorization", &good)])
            .unwrap()
            .status(),
        200
    );
}

#[test]
fn proxy_corrupts_one_blob() {
    let f = fixtures();
    let d = f.busybox.layers[0].digest.clone();
    let p = Proxy::start(Mode::CorruptBlob(d.clone()));
    let r = get(&p.addr, &format!("/v2/busybox/blobs/{d}"), &[]).unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.body.len() as u64, f.busybox.layers[0].size);
    assert_ne!(format!("sha256:{}", sha256_hex(&r.body)), d);
    let c = &f.layered.layers[1].digest;
    let r = get(&p.addr, &format!("/v2/layered/blobs/{c}"), &[]).unwrap();
    assert_eq!(format!("sha256:{}", sha256_hex(&r.body)), *c);
}

#[test]
fn proxy_cuts_then_serves_ranges() {
    let f = fixtures();
    let d = &f.busybox.layers[0].digest;
    let p = Proxy::start(Mode::CutAfter {
        bytes: 100_000,
        times: 1,
    });
    let path = format!("/v2/busybox/blobs/{d}");
    let r = get(&p.addr, &path, &[]).unwrap();
    assert_eq!(r.body.len(), 100_000);
    assert_eq!(p.cuts(), 1);
    let rest = get(&p.addr, &path, &[("Range", "bytes=100000-")]).unwrap();
    assert_eq!(rest.status(), 206);
    let mut all = r.body;
    all.extend_from_slice(&rest.body);
    assert_eq!(format!("sha256:{}", sha256_hex(&all)), *d);
    assert_eq!(p.cuts(), 1);
}

#[test]
fn proxy_throttles_and_switches_mode() {
    let f = fixtures();
    let d = &f.layered.layers[1].digest;
    let size = f.layered.layers[1].size;
    let p = Proxy::start(Mode::Throttle {
        bytes_per_sec: size * 4,
    });
    let t = std::time::Instant::now();
    let r = get(&p.addr, &format!("/v2/layered/blobs/{d}"), &[]).unwrap();
    assert_eq!(r.body.len() as u64, size);
    assert!(
        t.elapsed() >= std::time::Duration::from_millis(200),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(p.blob_bytes(), size);
    p.set_mode(Mode::Plain);
    p.clear();
    get(&p.addr, "/v2/", &[]).unwrap();
    assert_eq!(p.requests().len(), 1);
}

#[test]
fn hostile_fixtures_carry_raw_names() {
    let f = fixtures();
    let raw_names = |trick: &str| -> Vec<(String, String)> {
        let h = f.hostile(trick);
        let d = &h.image.layers[0].digest;
        let resp = get(&f.registry, &format!("/v2/hostile/blobs/{d}"), &[]).unwrap();
        let mut tar = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&resp.body[..]), &mut tar)
            .unwrap();
        tar::Archive::new(&tar[..])
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let link = e
                    .link_name_bytes()
                    .map(|l| String::from_utf8_lossy(&l).into_owned());
                (
                    String::from_utf8_lossy(&e.path_bytes()).into_owned(),
                    link.unwrap_or_default(),
                )
            })
            .collect()
    };
    let s = f.sentinel.display().to_string();
    assert!(raw_names("dotdot").iter().any(|(n, _)| n == "../../escape"));
    assert_eq!(raw_names("abs")[0].0, "/abs-file");
    assert_eq!(raw_names("symlink-dir")[0], ("link".to_string(), s.clone()));
    assert!(raw_names("hardlink-out")[0]
        .1
        .ends_with(&format!("{s}/target")));
    assert_eq!(raw_names("hardlink-via-symlink")[1].1, "sl/target");
    assert!(raw_names("symlink-up")[1].0.starts_with("up/"));
    assert_eq!(
        std::fs::read_to_string(f.sentinel.join("target")).unwrap(),
        common::fixtures::SENTINEL
    );
}

/// Needs root: creates the test users and runs the binary through the runner.
#[test]
fn users_and_runner() {
    let u = common::test_user();
    assert!(std::fs::read_to_string("/etc/subuid")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("covetest:")));
    let n = common::nosub_user();
    assert!(!std::fs::read_to_string("/etc/subuid")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("covenosub:")));
    assert_ne!(u.uid, n.uid);
    for who in [
        common::Who::Root,
        common::Who::Rootless,
        common::Who::NoSubuid,
    ] {
        let c = common::Cove::new(who);
        let out = c.run(&["--version"]);
        out.assert_ok();
        assert!(out.stdout.contains(env!("CARGO_PKG_VERSION")), "{out}");
        let meta = std::fs::metadata(&c.root).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(meta.uid(), c.uid);
        let dir = c.dir.clone();
        drop(c);
        assert!(!dir.exists());
    }
}
