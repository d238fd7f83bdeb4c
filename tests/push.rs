//! push: what a user sees (docker's lines and final digest), what the registry receives (HEADs
//! that spare re-uploads, cross-repository mounts, chunked uploads resumed after a cut), and
//! that what was pushed pulls and runs again, under cove, skopeo and rootless podman.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use std::process::Command;

use common::fixtures::big_image;
use common::podman::Podman;
use common::{fixtures, remote_digests, Cove, Mode, Proxy, Who};

/// A repository name no other test uses.
fn repo(who: Who, what: &str) -> String {
    format!(
        "pushed/{}-{}-{what}",
        format!("{who:?}").to_lowercase(),
        std::process::id()
    )
}

/// The digest from docker's last line `TAG: digest: sha256:... size: N`.
fn final_digest(out: &common::Out, tag: &str) -> String {
    let last = out.last_line();
    let rest = last
        .strip_prefix(&format!("{tag}: digest: "))
        .unwrap_or_else(|| panic!("no final digest line: {out}"));
    let (digest, size) = rest.split_once(" size: ").unwrap();
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{out}");
    assert!(size.parse::<u32>().unwrap() > 100, "{out}");
    digest.to_string()
}

fn skopeo_inspect(reference: &str, raw: bool) -> serde_json::Value {
    let mut c = Command::new("skopeo");
    c.args(["inspect", "--tls-verify=false"]);
    if raw {
        c.arg("--raw");
    }
    let out = c.arg(format!("docker://{reference}")).output().unwrap();
    assert!(
        out.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

both!(
    push_mounts_then_skips,
    push_compresses_chunks_and_resumes,
    push_failures_are_clean
);

/// Pulled through the proxy, pushed to another repository of the same registry: the layer is
/// mounted, not uploaded; a second push only asks (HEAD) and sends the manifest; the pushed
/// image has the fixture's layers and config and pulls and runs from a clean store.
fn push_mounts_then_skips(who: Who) {
    let f = fixtures();
    let p = Proxy::start(Mode::Plain);
    let c = Cove::new(who);
    let src = p.reference("busybox:latest");
    c.pull(&src).assert_ok();
    let dest = p.reference(&format!("{}:v1", repo(who, "bb")));
    c.run(&["tag", &src, &dest]).assert_ok();
    p.clear();
    let out = c.run(&["push", &dest]);
    out.assert_ok();
    let layer = &f.busybox.layers[0];
    let short = &layer.diff_id["sha256:".len()..][..12];
    let name = dest.rsplit_once(':').unwrap().0;
    assert_eq!(
        out.lines()[0],
        format!("The push refers to repository [{name}]"),
        "{out}"
    );
    assert!(
        out.lines()
            .contains(&format!("{short}: Mounted from busybox").as_str()),
        "{out}"
    );
    let digest = final_digest(&out, "v1");
    let seen = p.requests();
    assert!(
        seen.iter()
            .any(|s| s.method == "POST" && s.path.contains("mount=") && s.status == 201),
        "{seen:?}"
    );
    assert!(!seen.iter().any(|s| s.method == "PATCH"), "{seen:?}");

    // What the registry holds: docker schema 2 by default, the fixture's layer and config.
    let remote = remote_digests(&dest);
    assert_eq!(remote.digest, digest);
    assert_eq!(
        remote.media_type,
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(remote.layers, vec![layer.digest.clone()]);
    let info = skopeo_inspect(&dest, false);
    assert_eq!(info["Labels"]["org.cove.test"], "busybox");
    assert_eq!(info["Layers"][0], layer.digest.as_str());

    // Again: HEADs only, then the manifest.
    p.clear();
    let out = c.run(&["push", &dest]);
    out.assert_ok();
    assert!(
        out.lines()
            .contains(&format!("{short}: Layer already exists").as_str()),
        "{out}"
    );
    assert_eq!(final_digest(&out, "v1"), digest);
    let seen = p.requests();
    assert!(
        seen.iter().all(|s| s.method == "HEAD" || s.method == "PUT"),
        "{seen:?}"
    );
    assert!(seen
        .iter()
        .filter(|s| s.method == "PUT")
        .all(|s| s.path.contains("/manifests/")));

    // `inspect` shows the pushed digest; -q prints the name only.
    let digests = c.run(&["inspect", "--format", "{{json .RepoDigests}}", &dest]);
    assert!(digests.stdout.contains(&format!("@{digest}")), "{digests}");
    let q = c.run(&["push", "-q", &dest]);
    assert_eq!(q.assert_ok().stdout.trim(), dest);

    // A clean store pulls it back and runs it.
    let c2 = Cove::new(who);
    c2.pull(&dest).assert_ok();
    let run = c2.run(&["run", "--rm", &dest, "cat", "/etc/group"]);
    assert!(run.assert_ok().stdout.contains("root:x:0:"), "{run}");
}

/// A layer stored plain is compressed once, uploaded in chunks, and an upload cut twice
/// midway is resumed; the result is bit-identical after a pull into a clean store.
fn push_compresses_chunks_and_resumes(who: Who) {
    let (img, sum) = big_image();
    let c = Cove::new(who);
    let src = fixtures().reference("big:latest");
    c.pull(&src).assert_ok();
    // Through the proxy the registry is another host: no mount source, so a real upload.
    let p = Proxy::start(Mode::CutUpload {
        bytes: 3 << 20,
        times: 2,
    });
    let dest = p.reference(&format!("{}:1", repo(who, "big")));
    let out = c.run(&["push", "--tls-verify=false", &src, &dest]);
    out.assert_ok();
    let digest = final_digest(&out, "1");
    assert_eq!(p.cuts(), 2);
    let seen = p.requests();
    let patches = seen.iter().filter(|s| s.method == "PATCH").count();
    assert!(patches >= 4, "40 MiB should go in several chunks: {seen:?}");
    assert!(seen.iter().any(|s| s.status == 0), "{seen:?}");
    let remote = remote_digests(&dest);
    assert_eq!(remote.digest, digest);
    assert_eq!(remote.layers[0], img.layers[0].digest);
    // The plain layer went out gzip-compressed, as docker pushes it.
    let raw = skopeo_inspect(&dest, true);
    assert_eq!(
        raw["layers"][1]["mediaType"],
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    );
    assert_ne!(remote.layers[1], img.layers[1].digest);

    // The second push finds the compressed copy and everything on the registry.
    p.set_mode(Mode::Plain);
    p.clear();
    let again = c.run(&["push", "--tls-verify=false", &src, &dest]);
    assert_eq!(final_digest(again.assert_ok(), "1"), digest);
    assert!(p
        .requests()
        .iter()
        .all(|s| s.method == "HEAD" || s.path.contains("/manifests/")));

    let c2 = Cove::new(who);
    c2.pull(&dest).assert_ok();
    let run = c2.run(&["run", "--rm", &dest, "sha256sum", "/big.bin"]);
    assert!(run.assert_ok().stdout.starts_with(sum.as_str()), "{run}");

    // rmi frees the compressed copy with the image.
    c.run(&["rmi", &src]).assert_ok();
    c.assert_store_empty();
}

/// A refused blob, a missing image, an ID without a destination, an unreachable registry:
/// one line each, exit 125, and no tag on the registry.
fn push_failures_are_clean(who: Who) {
    let c = Cove::new(who);
    let src = c.busybox();
    let p = Proxy::start(Mode::RefuseBlob);
    let dest = p.reference(&format!("{}:x", repo(who, "refused")));
    c.run(&["push", &src, &dest])
        .assert_err_line("blob upload invalid");
    let tags = common::http::get(
        &p.addr,
        &format!("/v2/{}/tags/list", repo(who, "refused")),
        &[],
    );
    assert_ne!(
        tags.unwrap().status(),
        200,
        "no tag may exist after a refused push"
    );

    c.run(&["push", "127.0.0.1:1/none/such:1"])
        .assert_err_line("does not exist locally");
    let id = fixtures().busybox.short_id().to_string();
    c.run(&["push", &id]).assert_err_line("destination");
    c.run(&["push", &src, "127.0.0.1:1/x/y:1"])
        .assert_err_line("cannot reach registry 127.0.0.1:1");
    c.run(&["push", "-a", &src])
        .assert_err_line("tag can't be used");
}

/// What cove pushed, rootless podman pulls and runs.
#[test]
fn podman_pulls_what_cove_pushed() {
    let c = Cove::new(Who::Rootless);
    let src = c.busybox();
    let dest = fixtures().reference(&format!("{}:p", repo(Who::Rootless, "podman")));
    c.run(&["push", "--format", "oci", &src, &dest]).assert_ok();
    let podman = Podman::new(&c);
    podman
        .run(&["pull", "--tls-verify=false", &dest])
        .assert_ok();
    let out = podman.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        &dest,
        "sh",
        "-c",
        "echo from-podman",
    ]);
    assert_eq!(out.assert_ok().stdout.trim(), "from-podman");
    assert_eq!(
        remote_digests(&dest).media_type,
        "application/vnd.oci.image.manifest.v1+json"
    );
}
