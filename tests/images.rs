//! Local image commands: images (table, -q, --digests, --no-trunc, filters, formats), image
//! inspect, history, tag, rmi, image prune, manifest inspect. Each runs as root and rootless.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use common::{fixtures, Cove, Who};

fn lines(c: &Cove, args: &[&str]) -> Vec<String> {
    let out = c.run(args);
    out.assert_ok();
    out.lines().iter().map(|s| s.to_string()).collect()
}

fn pulled(who: Who, names: &[&str]) -> Cove {
    let f = fixtures();
    let c = Cove::new(who);
    for n in names {
        c.pull(&f.reference(n));
    }
    c
}

both!(
    table_columns,
    quiet_digests_no_trunc,
    filters,
    formats,
    inspect,
    history,
    tag,
    rmi,
    rmi_multiple_tags_needs_force,
    rmi_frees_only_unused_layers,
    rmi_deep_layer,
    prune,
    manifest_inspect,
    empty_store,
);

fn table_columns(who: Who) {
    let f = fixtures();
    let c = pulled(who, &["busybox:latest"]);
    let out = c.run(&["images"]);
    out.assert_ok();
    let t = out.table();
    assert_eq!(
        t[0],
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
        "{out}"
    );
    assert_eq!(t.len(), 2, "{out}");
    assert_eq!(t[1][0], f.reference("busybox"));
    assert_eq!(t[1][1], "latest");
    assert_eq!(t[1][2], f.busybox.short_id());
    assert_eq!(t[1].len(), 5, "{out}");
    // The header's columns line up with the row's.
    let header = out.lines()[0];
    let row = out.lines()[1];
    assert_eq!(header.find("TAG"), row.find("latest"), "{out}");
    assert_eq!(
        header.find("IMAGE ID"),
        row.find(f.busybox.short_id()),
        "{out}"
    );
}

fn quiet_digests_no_trunc(who: Who) {
    let f = fixtures();
    let c = pulled(who, &["busybox:latest"]);
    assert_eq!(lines(&c, &["images", "-q"]), [f.busybox.short_id()]);
    let nt = c.run(&["images", "--no-trunc"]);
    nt.assert_ok();
    assert_eq!(nt.table()[1][2], f.busybox.config_digest, "{nt}");
    assert_eq!(
        lines(&c, &["images", "-q", "--no-trunc"]),
        [f.busybox.config_digest.as_str()]
    );
    let d = c.run(&["images", "--digests"]);
    d.assert_ok();
    let t = d.table();
    assert_eq!(
        t[0],
        ["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"],
        "{d}"
    );
    assert_eq!(t[1][2], f.busybox.manifest_digest, "{d}");
}

fn filters(who: Who) {
    let f = fixtures();
    let c = pulled(who, &["busybox:latest", "layered:latest"]);
    let (bb, ly) = (f.busybox.short_id(), f.layered.short_id());
    assert_eq!(
        lines(&c, &["images", "-q", "--filter", "reference=busybox*"]),
        [bb]
    );
    let r = format!("reference={}", f.reference("lay*"));
    assert_eq!(lines(&c, &["images", "-q", "--filter", &r]), [ly]);
    assert_eq!(
        lines(
            &c,
            &["images", "-q", "--filter", "label=org.cove.test=layered"]
        ),
        [ly]
    );
    assert_eq!(
        lines(&c, &["images", "-q", "--filter", "label=org.cove.test"]).len(),
        2
    );
    let before = format!("before={}", f.reference("layered:latest"));
    assert_eq!(lines(&c, &["images", "-q", "--filter", &before]), [bb]);
    let since = format!("since={}", f.reference("busybox:latest"));
    assert_eq!(lines(&c, &["images", "-q", "--filter", &since]), [ly]);
    assert!(lines(&c, &["images", "-q", "--filter", "dangling=true"]).is_empty());
    // Moving the only tag of busybox onto layered leaves busybox dangling.
    c.run(&[
        "tag",
        &f.reference("layered:latest"),
        &f.reference("busybox:latest"),
    ])
    .assert_ok();
    assert_eq!(
        lines(&c, &["images", "-q", "--filter", "dangling=true"]),
        [bb]
    );
    let all = lines(&c, &["images", "-q", "--filter", "dangling=false"]);
    assert!(all.iter().all(|id| id == ly) && !all.is_empty(), "{all:?}");
    c.run(&["images", "--filter", "bogus=1"])
        .assert_err_line("");
}

fn formats(who: Who) {
    let f = fixtures();
    let c = pulled(who, &["busybox:latest"]);
    let names = lines(&c, &["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(names, [f.reference("busybox:latest")]);
    let js = lines(&c, &["images", "--format", "{{json .}}"]);
    assert_eq!(js.len(), 1);
    let v: serde_json::Value = serde_json::from_str(&js[0]).unwrap();
    assert_eq!(v["Repository"], f.reference("busybox"));
    assert_eq!(v["Tag"], "latest");
    let id = v["ID"].as_str().unwrap().trim_start_matches("sha256:");
    assert!(id.starts_with(f.busybox.short_id()), "{v}");
    let out = c.run(&["images", "--format", "table {{.ID}}\t{{.Size}}"]);
    out.assert_ok();
    let t = out.table();
    assert_eq!(t[0], ["IMAGE ID", "SIZE"], "{out}");
    assert_eq!(t[1][0], f.busybox.short_id());
    c.run(&["images", "--format", "{{.Nope"])
        .assert_err_line("");
}

fn inspect(who: Who) {
    let f = fixtures();
    let c = pulled(who, &["busybox:latest"]);
    let r = f.reference("busybox:latest");
    let v = c.run(&["image", "inspect", &r]).assert_ok().json();
    let i = &v[0];
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(i["Id"], f.busybox.config_digest);
    assert_eq!(i["RepoTags"], serde_json::json!([r]));
    let rd = format!("{}@{}", f.reference("busybox"), f.busybox.manifest_digest);
    assert_eq!(i["RepoDigests"], serde_json::json!([rd]));
    assert!(
        i["Created"]
            .as_str()
            .unwrap()
            .starts_with("2024-01-01T00:00:00"),
        "{i}"
    );
    assert_eq!(i["Architecture"], "amd64");
    assert_eq!(i["Os"], "linux");
    assert!(i["Size"].as_u64().unwrap() > 1_000_000, "{i}");
    assert_eq!(i["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(i["Config"]["Labels"]["org.cove.test"], "busybox");
    assert!(i["Config"]["Env"][0].as_str().unwrap().starts_with("PATH="));
    assert_eq!(i["RootFS"]["Type"], "layers");
    assert_eq!(
        i["RootFS"]["Layers"],
        serde_json::json!(f.busybox.diff_ids())
    );
    // By ID prefix, and with --format; `cove inspect` is the same for an image.
    let by_id = c.run(&[
        "image",
        "inspect",
        "--format",
        "{{.Os}}",
        f.busybox.short_id(),
    ]);
    assert_eq!(by_id.assert_ok().stdout, "linux\n");
    let top = c.run(&["inspect", "--format", "{{.Id}}", &r]);
    assert_eq!(top.assert_ok().stdout.trim(), f.busybox.config_digest);
    c.run(&["image", "inspect", "nope:latest"])
        .assert_err_line("not found|no such");
}

fn history(who: Who) {
    let f = fixtures();
    let c = pulled(who, &["busybox:latest", "layered:latest"]);
    let out = c.run(&["history", &f.reference("busybox:latest")]);
    out.assert_ok();
    let t = out.table();
    assert_eq!(
        t[0],
        ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
        "{out}"
    );
    assert_eq!(t.len(), 3, "one row per history entry: {out}");
    assert_eq!(
        t[1][0],
        f.busybox.short_id(),
        "newest row carries the image ID: {out}"
    );
    assert!(
        out.stdout.contains("ADD busybox /") && out.stdout.contains("cove test fixture"),
        "{out}"
    );
    let ly = c.run(&["history", "-q", &f.reference("layered:latest")]);
    assert_eq!(ly.assert_ok().lines().len(), 3, "{ly}");
    c.run(&["history", "nope"])
        .assert_err_line("not found|no such");
}

fn tag(who: Who) {
    let f = fixtures();
    let c = pulled(who, &["busybox:latest"]);
    let mine = f.reference("mine:v1");
    let out = c.run(&["tag", &f.reference("busybox:latest"), &mine]);
    assert_eq!(out.assert_ok().stdout, "");
    let other = f.reference("other:x");
    c.run(&["tag", f.busybox.short_id(), &other]).assert_ok();
    let mut names = lines(
        &c,
        &["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"],
    );
    names.sort();
    let id = f.busybox.short_id();
    let mut want = vec![
        format!("{} {id}", f.reference("busybox:latest")),
        format!("{mine} {id}"),
        format!("{other} {id}"),
    ];
    want.sort();
    assert_eq!(names, want);
    c.run(&["tag", "nope:latest", &mine])
        .assert_err_line("not found|no such");
    c.run(&["tag", &mine, "Bad:Name"])
        .assert_err_line("invalid reference format");
}

fn rmi(who: Who) {
    let f = fixtures();
    let c = pulled(who, &["busybox:latest"]);
    let mine = f.reference("mine:v1");
    c.run(&["tag", &f.reference("busybox:latest"), &mine])
        .assert_ok();
    let out = c.run(&["rmi", &mine]);
    assert_eq!(out.assert_ok().stdout, format!("Untagged: {mine}\n"));
    assert_eq!(c.layer_dirs().len(), 1);
    let out = c.run(&["rmi", &f.reference("busybox:latest")]);
    out.assert_ok();
    assert!(
        out.lines()
            .contains(&format!("Untagged: {}", f.reference("busybox:latest")).as_str()),
        "{out}"
    );
    assert_eq!(
        out.last_line(),
        format!("Deleted: {}", f.busybox.config_digest),
        "{out}"
    );
    assert!(lines(&c, &["images", "-q"]).is_empty());
    assert!(c.layer_dirs().is_empty(), "{:?}", c.layer_dirs());
    c.run(&["rmi", &f.reference("busybox:latest")])
        .assert_err_line("not found|no such");
}

fn rmi_multiple_tags_needs_force(who: Who) {
    let f = fixtures();
    let c = pulled(who, &["busybox:latest"]);
    c.run(&[
        "tag",
        &f.reference("busybox:latest"),
        &f.reference("mine:v1"),
    ])
    .assert_ok();
    c.run(&["rmi", f.busybox.short_id()]).assert_err_line("");
    assert_eq!(lines(&c, &["images", "--format", "{{.Tag}}"]).len(), 2);
    let out = c.run(&["rmi", "-f", f.busybox.short_id()]);
    out.assert_ok();
    let untagged = out
        .lines()
        .iter()
        .filter(|l| l.starts_with("Untagged: "))
        .count();
    assert!(untagged >= 2, "{out}");
    assert!(
        out.stdout
            .contains(&format!("Deleted: {}", f.busybox.config_digest)),
        "{out}"
    );
    assert!(lines(&c, &["images", "-q"]).is_empty());
}

fn rmi_frees_only_unused_layers(who: Who) {
    let f = fixtures();
    let c = pulled(who, &["busybox:latest", "layered:latest"]);
    assert_eq!(c.layer_dirs().len(), 3);
    c.run(&["rmi", &f.reference("layered:latest")]).assert_ok();
    assert_eq!(c.layer_dirs(), [f.busybox.chain_ids[0].clone()]);
    c.run(&["image", "inspect", &f.reference("busybox:latest")])
        .assert_ok();
    c.pull(&f.reference("layered:latest"));
    c.run(&["rmi", &f.reference("busybox:latest")]).assert_ok();
    assert_eq!(c.layer_dirs().len(), 3, "layered still uses the base layer");
    c.run(&["rmi", &f.reference("layered:latest")]).assert_ok();
    assert!(c.layer_dirs().is_empty());
}

/// A layer holding a tree deeper than the descriptor limit is removed whole by `rmi` (issue 7,
/// defect 2): it used to fail with "Too many open files" and leave the layer on disk. cove runs
/// with 256 descriptors so the test means the same on a machine with a high limit.
fn rmi_deep_layer(who: Who) {
    let img = common::fixtures::deep_image();
    let c = Cove::new(who);
    let reference = format!("{}/deep:latest", common::registry().addr);
    c.pull(&reference);
    assert_eq!(c.layer_dirs(), img.chain_ids, "the deep layer is unpacked");
    let out = c.cmd(&["rmi", &reference]).nofile(256).run();
    out.assert_ok();
    assert_eq!(
        out.last_line(),
        format!("Deleted: {}", img.config_digest),
        "{out}"
    );
    assert!(lines(&c, &["images", "-q"]).is_empty());
    let left: Vec<String> = std::fs::read_dir(c.layers_dir())
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "left under the layer store: {left:?}");
}

fn prune(who: Who) {
    let f = fixtures();
    let c = pulled(who, &["busybox:latest", "layered:latest"]);
    c.run(&[
        "tag",
        &f.reference("layered:latest"),
        &f.reference("busybox:latest"),
    ])
    .assert_ok();
    let out = c.run(&["image", "prune", "-f"]);
    out.assert_ok();
    assert!(
        out.stdout.contains(f.busybox.id()),
        "prune names what it deleted: {out}"
    );
    let mut left = lines(&c, &["images", "-q"]);
    left.dedup();
    assert_eq!(left, [f.layered.short_id()]);
    assert_eq!(c.layer_dirs().len(), 3, "layered keeps its layers");
    let again = c.run(&["image", "prune", "-f"]);
    again.assert_ok();
    assert!(!again.stdout.contains("sha256:"), "{again}");
    c.run(&["image", "prune", "-a", "-f"]).assert_ok();
    assert!(lines(&c, &["images", "-q"]).is_empty());
    assert!(c.layer_dirs().is_empty(), "{:?}", c.layer_dirs());
}

fn manifest_inspect(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    let out = c.run(&[
        "manifest",
        "inspect",
        "--tls-verify=false",
        &f.reference("multi:latest"),
    ]);
    let v = out.assert_ok().json();
    assert_eq!(v["mediaType"], common::layout::MT_INDEX);
    let archs: Vec<&str> = v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(archs, ["amd64", "arm64"]);
    let one = c.run(&[
        "manifest",
        "inspect",
        "--tls-verify=false",
        &f.reference("busybox:latest"),
    ]);
    let v = one.assert_ok().json();
    assert_eq!(v["layers"][0]["digest"], f.busybox.layers[0].digest);
    assert!(
        lines(&c, &["images", "-q"]).is_empty(),
        "manifest inspect stores nothing"
    );
}

fn empty_store(who: Who) {
    let c = Cove::new(who);
    let out = c.run(&["images"]);
    assert_eq!(out.assert_ok().lines().len(), 1, "header only: {out}");
    assert!(lines(&c, &["images", "-q"]).is_empty());
}

/// Root's images are invisible to another user, whose own store is separate.
#[test]
fn other_user_does_not_see_root_images() {
    let f = fixtures();
    let root = pulled(Who::Root, &["busybox:latest"]);
    let user = Cove::new(Who::Rootless);
    let out = user.cmd(&["images", "-q"]).default_store().run();
    assert_eq!(out.assert_ok().stdout, "");
    let root_dir = root.root.display().to_string();
    let peek = user.cmd(&["--root", &root_dir, "images", "-q"]).run();
    assert_ne!(peek.code(), 0, "{peek}");
    assert!(!peek.stdout.contains(f.busybox.short_id()), "{peek}");
}
