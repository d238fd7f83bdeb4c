//! manifest: lists made from local images and registry manifests, annotated, inspected,
//! pushed (entries first, blobs mounted from where they already are) and pulled back for each
//! platform on a clean store; and the failures a user can run into, each one clear line.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use common::{fixtures, remote_digests, Cove, Mode, Proxy, Who};

/// A repository name no other test uses.
fn repo(who: Who, what: &str) -> String {
    format!(
        "lists/{}-{}-{what}",
        format!("{who:?}").to_lowercase(),
        std::process::id()
    )
}

both!(
    list_of_local_images_pushed_and_pulled_per_platform,
    list_of_registry_manifests_copied_as_oci_index,
    list_failures_are_clear
);

/// Two local images (pulled for amd64 and arm64) in one list: inspect shows both platforms and
/// the annotation; push sends the entries by digest, mounting their blobs from the
/// repositories they were pulled from, then the list; a clean store pulls each platform's
/// image from it and runs the host's.
fn list_of_local_images_pushed_and_pulled_per_platform(who: Who) {
    let f = fixtures();
    let p = Proxy::start(Mode::Plain);
    let c = Cove::new(who);
    let amd = p.reference(&format!("{}:amd64", repo(who, "app")));
    let arm = p.reference(&format!("{}:arm64", repo(who, "app")));
    let list = p.reference(&format!("{}:v1", repo(who, "app")));
    c.pull(&p.reference("busybox:latest")).assert_ok();
    c.run(&["tag", &p.reference("busybox:latest"), &amd])
        .assert_ok();
    c.run(&[
        "pull",
        "--platform",
        "linux/arm64",
        &p.reference("multi:latest"),
    ])
    .assert_ok();
    c.run(&["tag", &p.reference("multi:latest"), &arm])
        .assert_ok();

    let out = c.run(&["manifest", "create", &list, &amd, &arm]);
    out.assert_ok();
    assert_eq!(out.stdout.trim(), format!("Created manifest list {list}"));
    c.run(&[
        "manifest",
        "annotate",
        "--annotation",
        "org.cove.test=arm",
        "--os-version",
        "1.0",
        &list,
        &arm,
    ])
    .assert_ok();

    let shown = c.run(&["manifest", "inspect", &list]);
    shown.assert_ok();
    let doc = shown.json();
    assert_eq!(
        doc["mediaType"],
        "application/vnd.docker.distribution.manifest.list.v2+json"
    );
    let entries = doc["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{shown}");
    assert_eq!(entries[0]["platform"]["architecture"], "amd64");
    assert_eq!(entries[1]["platform"]["architecture"], "arm64");
    assert_eq!(entries[1]["platform"]["os.version"], "1.0");
    assert_eq!(entries[1]["annotations"]["org.cove.test"], "arm");
    // The fixtures are OCI images; in a docker list their entries are docker manifests
    // (same config and layers).
    for e in entries {
        assert_eq!(
            e["mediaType"],
            "application/vnd.docker.distribution.manifest.v2+json"
        );
    }
    let arm_digest = entries[1]["digest"].as_str().unwrap();

    p.clear();
    let out = c.run(&["manifest", "push", &list]);
    out.assert_ok();
    let digest = out.last_line().to_string();
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{out}");
    let name = list.rsplit_once(':').unwrap().0;
    assert!(
        out.stdout.contains(&format!(
            "Pushed ref {name}@{arm_digest} with digest: {arm_digest}"
        )),
        "{out}"
    );
    let seen = p.requests();
    assert!(
        seen.iter()
            .any(|s| s.method == "POST" && s.path.contains("mount=") && s.status == 201),
        "blobs should be mounted from busybox and multi: {seen:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|s| s.method == "PATCH" || (s.method == "PUT" && s.path.contains("/blobs/"))),
        "no blob should be uploaded: {seen:?}"
    );

    // What the registry holds: the list under the tag, each entry by digest.
    let remote = remote_digests(&list);
    assert_eq!(remote.digest, digest);
    assert_eq!(remote.raw, doc, "the pushed list is what inspect showed");
    for e in entries {
        let child = remote_digests(&format!("{name}@{}", e["digest"].as_str().unwrap()));
        assert_eq!(child.digest, e["digest"].as_str().unwrap());
        assert_eq!(child.media_type, e["mediaType"].as_str().unwrap());
    }

    // A clean store gets each platform's image from the list.
    let fresh = Cove::new(who);
    fresh
        .run(&["pull", "--platform", "linux/arm64", &list])
        .assert_ok();
    let id = fresh.ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Id}} {{.Architecture}}",
        &list,
    ]);
    assert_eq!(id.stdout.trim(), format!("{} arm64", f.arm64.config_digest));
    let fresh = Cove::new(who);
    fresh.run(&["pull", &list]).assert_ok();
    let id = fresh.ok(&["image", "inspect", "--format", "{{.Id}}", &list]);
    assert_eq!(id.stdout.trim(), f.busybox.config_digest);
    let out = fresh.ok(&["run", "--rm", &list, "echo", "from the list"]);
    assert_eq!(out.stdout, "from the list\n");
}

/// `add --all` of a registry index copies its entries; pushed as OCI to another repository,
/// the entries' manifests and blobs are copied there (blobs mounted), the index names them
/// by their original digests; `remove` drops one entry, `rm` the list.
fn list_of_registry_manifests_copied_as_oci_index(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    let list = f.reference(&format!("{}:v1", repo(who, "copy")));
    let out = c.run(&["manifest", "create", &list]);
    out.assert_ok();
    let out = c.run(&[
        "manifest",
        "add",
        "--all",
        &list,
        &format!("docker://{}", f.reference("multi:latest")),
    ]);
    out.assert_ok();
    let id = out.stdout.trim().to_string();
    assert_eq!(id.len(), 64, "podman prints the list's ID: {out}");
    let index: serde_json::Value = serde_json::from_slice(&f.multi_index).unwrap();
    let want: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap())
        .collect();
    let doc = c.ok(&["manifest", "inspect", &list]).json();
    let got: Vec<&str> = doc["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap())
        .collect();
    assert_eq!(got, want);

    let out = c.run(&["manifest", "push", "--format", "oci", &list]);
    out.assert_ok();
    let remote = remote_digests(&list);
    assert_eq!(remote.digest, out.last_line());
    assert_eq!(remote.media_type, "application/vnd.oci.image.index.v1+json");
    let name = list.rsplit_once(':').unwrap().0;
    let arm = remote_digests(&format!("{name}@{}", f.arm64.manifest_digest));
    assert_eq!(arm.layers, vec![f.arm64.layers[0].digest.clone()]);

    // podman's remove takes the entry's digest (a prefix will do).
    let short = &f.arm64.manifest_digest["sha256:".len()..][..12];
    let out = c.run(&["manifest", "remove", &list, short]);
    out.assert_ok();
    assert_eq!(out.stdout.trim(), id);
    let doc = c.ok(&["manifest", "inspect", &list]).json();
    assert_eq!(doc["manifests"].as_array().unwrap().len(), 1);

    c.run(&["manifest", "exists", &list]).assert_ok();
    c.run(&["manifest", "rm", &list]).assert_ok();
    c.run(&["manifest", "exists", &list]).assert_code(1);
    // Gone locally: inspect asks the registry, which has the pushed index.
    let doc = c.ok(&["manifest", "inspect", &list]).json();
    assert_eq!(doc["manifests"].as_array().unwrap().len(), 2);
}

/// Each mistake gets one line and a non-zero exit, and leaves the lists as they were.
fn list_failures_are_clear(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    let list = f.reference(&format!("{}:v1", repo(who, "bad")));
    c.run(&["manifest", "create", &list]).assert_ok();
    c.run(&["manifest", "create", &list])
        .assert_err_line("refusing to amend an existing manifest list with no --amend flag");
    c.run(&["manifest", "create", "--amend", &list]).assert_ok();

    c.run(&["manifest", "push", &list])
        .assert_err_line("has no entries to push");
    c.run(&["manifest", "add", &list, &f.reference("nosuch:latest")])
        .assert_err_line("manifest unknown");
    c.run(&[
        "manifest",
        "add",
        "--annotation",
        "novalue",
        &list,
        &f.reference("busybox"),
    ])
    .assert_err_line("expected KEY=VALUE");
    c.run(&["manifest", "add", "nolist:v1", &f.reference("busybox")])
        .assert_err_line("No such manifest: nolist:v1");
    c.run(&[
        "manifest",
        "annotate",
        "--arch",
        "s390x",
        &list,
        "sha256:abcdef0123",
    ])
    .assert_err_line("does not exist in");
    c.run(&["manifest", "remove", &list, "abcdef0123"])
        .assert_err_line("no entry abcdef0123");
    let doc = c.ok(&["manifest", "inspect", &list]).json();
    assert_eq!(doc["manifests"].as_array().unwrap().len(), 0);

    // A list whose create fails on an image is not left behind.
    let other = f.reference(&format!("{}:v2", repo(who, "bad")));
    c.run(&["manifest", "create", &other, &f.reference("nosuch:latest")])
        .assert_err_line("manifest unknown");
    c.run(&["manifest", "exists", &other]).assert_code(1);

    // A local entry whose image is removed before the push.
    let local = f.reference(&format!("{}:local", repo(who, "bad")));
    c.pull(&f.reference("busybox:latest")).assert_ok();
    c.run(&["tag", &f.reference("busybox:latest"), &local])
        .assert_ok();
    c.run(&["manifest", "add", &list, &local]).assert_ok();
    c.run(&["rmi", &local, &f.reference("busybox:latest")])
        .assert_ok();
    c.run(&["manifest", "push", &list])
        .assert_err_line("no longer exists locally");

    let out = c.run(&["manifest", "rm", "nolist:v1"]);
    out.assert_code(1);
    assert!(out.stderr.contains("No such manifest: nolist:v1"), "{out}");
    c.run(&[
        "manifest",
        "push",
        &list,
        &format!("{list}@{}", f.busybox.manifest_digest),
    ])
    .assert_err_line("pushed to a tag, not a digest");
}
