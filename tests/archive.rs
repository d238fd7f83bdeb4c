//! `save` and `load` (docker-archive, oci-archive, compressed, several images and tags, stdout
//! and stdin), archives of podman, skopeo and docker 25, the directory formats, and `import`
//! of a root file system tarball from a file, stdin or a URL. Root and rootless.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use std::path::Path;

use common::tarball::{self, assert_records_complete, json, member, members, snapshot};
use common::{fixtures, sha256_hex, Cove, Who};

both!(
    save_load_round_trip,
    oci_archive_through_stdout_and_stdin,
    all_tags_of_a_name_and_ids,
    save_failures,
    directory_formats,
    skopeo_archives_load,
    docker25_archives_load,
    import_tarballs,
    big_layers_bounded_memory,
);

fn lines(out: &common::Out) -> Vec<String> {
    out.lines().iter().map(|s| s.to_string()).collect()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn save_load_round_trip(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    let (bb, ly) = (f.reference("busybox:latest"), f.reference("layered:latest"));
    c.pull(&bb);
    c.pull(&ly);
    let file = c.home.join("two.tar");
    let out = c.ok(&["save", "-o", path(&file), &bb, &ly]);
    assert_eq!(out.stdout, "");

    // docker save's layout: manifest.json, repositories, configs, plain layer tars whose
    // digests are the diff_ids.
    let ms = members(&std::fs::read(&file).unwrap());
    let manifest = json(&ms, "manifest.json");
    let entries = manifest.as_array().unwrap();
    assert_eq!(entries.len(), 2, "{manifest}");
    for (entry, img) in entries.iter().zip([&f.busybox, &f.layered]) {
        assert_eq!(entry["Config"], format!("{}.json", img.id()));
        let tag = format!("{}:{}", f.reference(&img.repo), img.tag);
        assert_eq!(entry["RepoTags"], serde_json::json!([tag]));
        let layers = entry["Layers"].as_array().unwrap();
        assert_eq!(layers.len(), img.layers.len());
        for (l, want) in layers.iter().zip(&img.layers) {
            let data = &member(&ms, l.as_str().unwrap()).data;
            assert_eq!(format!("sha256:{}", sha256_hex(data)), want.diff_id);
        }
    }
    let repos = json(&ms, "repositories");
    assert!(
        repos[f.reference("layered")]["latest"].is_string(),
        "{repos}"
    );
    assert!(c.home.read_dir().unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains(".tmp-")));

    c.ok(&["rmi", &bb, &ly]);
    assert!(c.layer_dirs().is_empty());
    let out = c.ok(&["load", "-i", path(&file)]);
    assert_eq!(
        lines(&out),
        [format!("Loaded image: {bb}"), format!("Loaded image: {ly}")]
    );
    let ids = c.ok(&["images", "--no-trunc", "--format", "{{.ID}}"]);
    assert!(ids.stdout.contains(&f.busybox.config_digest), "{ids}");
    assert!(ids.stdout.contains(&f.layered.config_digest), "{ids}");
    // The layers are whole again: a whiteout, an opaque dir and three layers' files.
    let run = c.ok(&[
        "run",
        "--rm",
        &ly,
        "sh",
        "-c",
        "ls /data /opq; test -e /gone.txt || echo gone",
    ]);
    assert_eq!(
        run.stdout, "/data:\na.txt\nb.txt\n\n/opq:\nnew.txt\ngone\n",
        "{run}"
    );
    assert_records_complete(&c);

    // Loading what is there already changes nothing but says what it loaded.
    let before = snapshot(&c);
    let again = c.ok(&["load", "-q", "-i", path(&file)]);
    assert_eq!(lines(&again), lines(&out));
    assert_eq!(snapshot(&c), before);
    // The store's checker finds nothing left over.
    c.ok(&["system", "check"]);
    // --platform loads only what is for it.
    c.run(&["load", "--platform", "linux/arm64", "-i", path(&file)])
        .assert_err_line("no image for linux/arm64");
    assert_eq!(snapshot(&c), before);
    c.ok(&["load", "--platform", "linux/amd64", "-i", path(&file)]);
}

fn oci_archive_through_stdout_and_stdin(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    let ly = f.reference("layered:latest");
    c.pull(&ly);
    let out = c.ok(&["image", "save", "--format", "oci-archive", &ly]);
    let archive = out.raw_stdout.clone();
    let ms = members(&archive);
    assert_eq!(
        member(&ms, "oci-layout").data,
        br#"{"imageLayoutVersion":"1.0.0"}"#
    );
    let index = json(&ms, "index.json");
    let desc = &index["manifests"][0];
    assert_eq!(
        desc["annotations"]["org.opencontainers.image.ref.name"],
        ly.as_str()
    );
    // The stored blobs, byte for byte: the manifest as pulled.
    assert_eq!(desc["digest"], f.layered.manifest_digest.as_str());
    for l in &f.layered.layers {
        let name = format!("blobs/sha256/{}", l.digest.trim_start_matches("sha256:"));
        assert_eq!(member(&ms, &name).data.len() as u64, l.size);
    }

    c.ok(&["rmi", &ly]);
    let out = c.cmd(&["load"]).input_bytes(tarball::gzip(&archive)).run();
    out.assert_ok();
    assert_eq!(lines(&out), [format!("Loaded image: {ly}")]);
    assert_records_complete(&c);
    let run = c.ok(&["run", "--rm", &ly, "cat", "/data/b.txt"]);
    assert_eq!(run.stdout, "b\n");

    // A zstd-compressed docker-archive from stdout, loaded from a file.
    let docker = c.ok(&["save", &ly]).raw_stdout;
    let file = c.home.join("ly.tar.zst");
    std::fs::write(&file, tarball::zstd(&docker)).unwrap();
    c.ok(&["rmi", &ly]);
    let out = c.ok(&["image", "load", "--input", path(&file)]);
    assert_eq!(lines(&out), [format!("Loaded image: {ly}")]);
    assert_records_complete(&c);
}

fn all_tags_of_a_name_and_ids(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    let (latest, v1) = (f.reference("busybox:latest"), f.reference("busybox:v1"));
    c.pull(&latest);
    c.pull(&v1);
    c.ok(&["tag", &latest, "mine:1"]);
    // A name without a tag saves every tag of it: one image, two tags.
    let file = c.home.join("bb.tar");
    c.ok(&["save", "-o", path(&file), &f.reference("busybox"), "mine:1"]);
    let manifest = json(&members(&std::fs::read(&file).unwrap()), "manifest.json");
    assert_eq!(manifest.as_array().unwrap().len(), 1, "{manifest}");
    assert_eq!(
        manifest[0]["RepoTags"],
        serde_json::json!([latest, v1, "mine:1"])
    );
    let other = Cove::new(who);
    let out = other.ok(&["load", "-i", path(&file)]);
    assert_eq!(
        lines(&out),
        [
            format!("Loaded image: {latest}"),
            format!("Loaded image: {v1}"),
            "Loaded image: mine:1".into()
        ]
    );
    let tags = other.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(tags.lines().len(), 3, "{tags}");

    // By ID: no tags in the archive, and loaded untagged.
    let by_id = c.ok(&["save", f.busybox.short_id()]).raw_stdout;
    let manifest = json(&members(&by_id), "manifest.json");
    assert!(manifest[0]["RepoTags"].is_null(), "{manifest}");
    let third = Cove::new(who);
    let out = third.cmd(&["load"]).input_bytes(by_id).run();
    out.assert_ok();
    assert_eq!(
        lines(&out),
        [format!("Loaded image ID: {}", f.busybox.config_digest)]
    );
    let none = third.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(none.stdout, "<none>:<none>\n");
}

fn save_failures(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    let bb = f.reference("busybox:latest");
    c.pull(&bb);
    c.run(&["save", "-o", path(&c.home.join("x.tar")), "nosuch:1"])
        .assert_err_line("No such image: nosuch:1");
    // stdout a terminal: refused, as docker does.
    let out = c.cmd(&["save", &bb]).in_pty().run();
    assert_eq!(out.code(), 125, "{out}");
    assert!(
        out.stdout
            .contains("cowardly refusing to save to a terminal"),
        "{out}"
    );
    // A damaged store: no archive, not even half of one.
    let blob = c
        .root
        .join("blobs/sha256")
        .join(f.busybox.layers[0].digest.trim_start_matches("sha256:"));
    let mut data = std::fs::read(&blob).unwrap();
    let mid = data.len() / 2;
    data.truncate(mid);
    std::fs::write(&blob, &data).unwrap();
    let target = c.home.join("broken.tar");
    let out = c.run(&["save", "-o", path(&target), &bb]);
    out.assert_err_line("in the store is damaged");
    assert!(!target.exists());
    let left: Vec<String> = c
        .home
        .read_dir()
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("broken"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

fn directory_formats(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    let ly = f.reference("layered:latest");
    c.pull(&ly);
    let oci = c.home.join("oci");
    c.ok(&["save", "--format", "oci-dir", "-o", path(&oci), &ly]);
    let dir = c.home.join("dir");
    c.ok(&["save", "--format", "docker-dir", "-o", path(&dir), &ly]);
    // skopeo reads both as its oci: and dir: transports.
    for src in [format!("oci:{}", path(&oci)), format!("dir:{}", path(&dir))] {
        let out = std::process::Command::new("skopeo")
            .args(["inspect", "--raw", &src])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{src}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            m["config"]["digest"],
            f.layered.config_digest.as_str(),
            "{src}"
        );
    }
    c.run(&["save", "--format", "oci-dir", "-o", path(&oci), &ly])
        .assert_err_line("already exists");
    c.run(&["save", "--format", "oci-dir", &ly])
        .assert_err_line("-o DIR");
}

fn skopeo(args: &[&str]) {
    let out = std::process::Command::new("skopeo")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// skopeo writes docker-archive as docker save does, and oci-archive with a name or a bare tag.
fn skopeo_archives_load(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    let src = format!("docker://{}", f.reference("layered:latest"));
    let (docker, oci, bare) = (
        c.home.join("d.tar"),
        c.home.join("o.tar"),
        c.home.join("b.tar"),
    );
    let tls = "--src-tls-verify=false";
    // (docker-archive cannot hold layered's zstd layer: busybox there.)
    let bb = format!("docker://{}", f.reference("busybox:latest"));
    skopeo(&[
        "copy",
        "-q",
        tls,
        &bb,
        &format!("docker-archive:{}:skopeo/bb:v9", path(&docker)),
    ]);
    skopeo(&[
        "copy",
        "-q",
        tls,
        &src,
        &format!("oci-archive:{}:lay:oci", path(&oci)),
    ]);
    skopeo(&[
        "copy",
        "-q",
        tls,
        &src,
        &format!("oci-archive:{}:latest", path(&bare)),
    ]);
    for p in [&docker, &oci, &bare] {
        std::os::unix::fs::chown(p, Some(c.uid), Some(c.gid)).unwrap();
    }
    let out = c.ok(&["load", "-i", path(&docker)]);
    assert_eq!(lines(&out), ["Loaded image: skopeo/bb:v9"]);
    let out = c.ok(&["load", "-i", path(&oci)]);
    assert_eq!(lines(&out), ["Loaded image: lay:oci"]);
    // A bare tag names no image.
    let out = c.ok(&["load", "-i", path(&bare)]);
    assert_eq!(
        lines(&out),
        [format!("Loaded image ID: {}", f.layered.config_digest)]
    );
    let run = c.ok(&["run", "--rm", "lay:oci", "cat", "/opq/new.txt"]);
    assert_eq!(run.stdout, "new\n");
    let run = c.ok(&["run", "--rm", "skopeo/bb:v9", "echo", "ran"]);
    assert_eq!(run.stdout, "ran\n");
    assert_records_complete(&c);
}

/// docker 25 writes an OCI layout with docker's manifest.json beside it.
fn docker25_archives_load(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    let bb = f.reference("busybox:latest");
    c.pull(&bb);
    let mut ms = members(&c.ok(&["save", "--format", "oci-archive", &bb]).raw_stdout);
    let blob = |d: &str| format!("blobs/sha256/{}", d.trim_start_matches("sha256:"));
    let manifest = serde_json::json!([{
        "Config": blob(&f.busybox.config_digest),
        "RepoTags": ["docker25:latest"],
        "Layers": f.busybox.layers.iter().map(|l| blob(&l.digest)).collect::<Vec<_>>(),
    }]);
    ms.push(tarball::Member {
        name: "manifest.json".into(),
        kind: tar::EntryType::Regular,
        link: String::new(),
        data: manifest.to_string().into_bytes(),
    });
    let archive = tarball::build(&ms);
    let other = Cove::new(who);
    let out = other.cmd(&["load"]).input_bytes(archive).run();
    out.assert_ok();
    assert_eq!(lines(&out), ["Loaded image: docker25:latest"]);
    let run = other.ok(&["run", "--rm", "docker25", "echo", "ran"]);
    assert_eq!(run.stdout, "ran\n");
}

fn rootfs_tar() -> Vec<u8> {
    let mut t = common::layout::Tar::new();
    t.dir("bin/", 0o755)
        .file(
            "bin/busybox",
            0o755,
            &std::fs::read("/bin/busybox").unwrap(),
        )
        .symlink("bin/sh", "busybox")
        .symlink("bin/echo", "busybox")
        .symlink("bin/cat", "busybox")
        .dir("etc/", 0o755)
        .file("etc/motd", 0o644, b"imported\n");
    t.finish()
}

fn import_tarballs(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    let file = c.home.join("rootfs.tgz");
    std::fs::write(&file, tarball::gzip(&rootfs_tar())).unwrap();
    std::os::unix::fs::chown(&file, Some(c.uid), Some(c.gid)).unwrap();
    let out = c.ok(&[
        "import",
        "-c",
        r#"CMD ["cat", "/etc/motd"]"#,
        "-c",
        "ENV A=1",
        path(&file),
        "imp:1",
    ]);
    let id = out.stdout.trim().to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{out}");
    assert_eq!(c.ok(&["run", "--rm", "imp:1"]).stdout, "imported\n");
    assert_eq!(
        c.ok(&["run", "--rm", "imp:1", "sh", "-c", "echo $A"])
            .stdout,
        "1\n"
    );
    let comment = c.ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Comment}} {{len .RootFS.Layers}} {{.Os}}",
        "imp:1",
    ]);
    assert_eq!(
        comment.stdout.trim(),
        format!("Imported from {} 1 linux", path(&file))
    );

    // From stdin, plain, with a message; untagged.
    let out = c
        .cmd(&["image", "import", "-m", "from stdin", "-"])
        .input_bytes(rootfs_tar())
        .run();
    out.assert_ok();
    let id2 = out.stdout.trim().to_string();
    let hist = c.ok(&["history", "--format", "{{.Comment}}", &id2]);
    assert_eq!(hist.stdout, "from stdin\n");
    assert_eq!(
        c.ok(&["run", "--rm", &id2, "cat", "/etc/motd"]).stdout,
        "imported\n"
    );

    // From a URL: the registry serves the busybox layer blob (a gzip tarball).
    let url = format!(
        "http://{}/v2/busybox/blobs/{}",
        f.registry, f.busybox.layers[0].digest
    );
    let out = c.ok(&["import", "-c", "CMD echo via url", &url, "fromurl"]);
    assert!(out.stdout.starts_with("sha256:"), "{out}");
    assert_eq!(c.ok(&["run", "--rm", "fromurl"]).stdout, "via url\n");
    assert_records_complete(&c);

    // What is not a tarball, or escapes it, adds nothing.
    let before = tarball::snapshot(&c);
    let junk = c.home.join("junk");
    std::fs::write(&junk, vec![0x42u8; 5000]).unwrap();
    std::os::unix::fs::chown(&junk, Some(c.uid), Some(c.gid)).unwrap();
    c.run(&["import", path(&junk), "junk"])
        .assert_err_line("importing");
    let mut t = common::layout::Tar::new();
    t.file("../escape", 0o644, b"x");
    c.cmd(&["import", "-", "bad"])
        .input_bytes(t.finish())
        .run()
        .assert_err_line("escapes");
    c.run(&[
        "import",
        &format!(
            "http://{}/v2/nosuch/blobs/sha256:{}",
            f.registry,
            "0".repeat(64)
        ),
    ])
    .assert_err_line("404");
    c.run(&["import", "-c", "RUN x", path(&file)])
        .assert_err_line("RUN is not a valid change command");
    assert_eq!(tarball::snapshot(&c), before);
}

/// 64 MiB of bytes no compressor shrinks.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A 64 MiB layer goes through load and save without cove holding it in memory.
fn big_layers_bounded_memory(who: Who) {
    let c = Cove::new(who);
    let mut t = common::layout::Tar::new();
    t.file("big.bin", 0o644, &noise(64 << 20));
    let layer = t.finish();
    let diff_id = format!("sha256:{}", sha256_hex(&layer));
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": { "Cmd": ["sh"] },
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
    })
    .to_string();
    let config_hex = sha256_hex(config.as_bytes());
    let manifest = serde_json::json!([{
        "Config": format!("{config_hex}.json"), "RepoTags": ["big:1"], "Layers": ["l/layer.tar"],
    }])
    .to_string();
    let mut a = common::layout::Tar::new();
    a.file(&format!("{config_hex}.json"), 0o644, config.as_bytes())
        .file("l/layer.tar", 0o644, &layer)
        .file("manifest.json", 0o644, manifest.as_bytes());
    let file = c.home.join("big.tar");
    std::fs::write(&file, a.finish()).unwrap();
    std::os::unix::fs::chown(&file, Some(c.uid), Some(c.gid)).unwrap();
    let (out, peak) = c.cmd(&["load", "-i", path(&file)]).spawn().wait_peak_rss();
    out.assert_ok();
    assert_eq!(lines(&out), ["Loaded image: big:1"]);
    assert!(peak < 40 * 1024, "load peaked at {peak} KiB");
    let saved = c.home.join("again.tar");
    let (out, peak) = c
        .cmd(&["save", "-o", path(&saved), "big:1"])
        .spawn()
        .wait_peak_rss();
    out.assert_ok();
    assert!(peak < 40 * 1024, "save peaked at {peak} KiB");
    let ms = members(&std::fs::read(&saved).unwrap());
    let l = json(&ms, "manifest.json")[0]["Layers"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        format!("sha256:{}", sha256_hex(&member(&ms, &l).data)),
        diff_id
    );
}
