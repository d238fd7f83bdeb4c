//! `commit`: a container's changes become an image that `run` sees (files added, changed,
//! deleted, a deleted directory replaced), with its config and history as docker writes
//! them; running containers, tags, squash, and the failures. Root and rootless.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use std::time::Duration;

use common::{fixtures, Cove, Who};

both!(
    commit_changes,
    commit_running,
    commit_untagged_and_unchanged,
    commit_squash,
    commit_failures,
);

/// `sha256:<64 hex>` on a line of its own, as docker prints it.
fn printed_id(out: &common::Out) -> String {
    let line = out.stdout.trim();
    let hex = line
        .strip_prefix("sha256:")
        .unwrap_or_else(|| panic!("no sha256: id: {out}"));
    assert!(
        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "{out}"
    );
    assert_eq!(out.lines().len(), 1, "{out}");
    line.to_string()
}

const CHANGES: &str = "echo new > /new.txt; echo extra >> /etc/passwd; rm /etc/group; \
     rm -rf /home; mkdir /home; echo fresh > /home/fresh; ln /new.txt /hard.txt; \
     echo o > /owned; chown 500:500 /owned";

fn commit_changes(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    let img = c.busybox();
    c.ok(&[
        "run", "--name", "src", "-e", "RUNENV=1", &img, "sh", "-c", CHANGES,
    ]);
    let out = c.ok(&[
        "commit",
        "-m",
        "my message",
        "-a",
        "Jane <jane@example.com>",
        "-c",
        r#"CMD ["cat", "/new.txt"]"#,
        "-c",
        "ENV FOO=bar",
        "src",
        "mynew:1",
    ]);
    let id = printed_id(&out);
    let listed = c.ok(&[
        "images",
        "--no-trunc",
        "--format",
        "{{.Repository}}:{{.Tag}} {{.ID}}",
    ]);
    assert!(listed.stdout.contains(&format!("mynew:1 {id}")), "{listed}");

    // The new command runs by default; the files are as the container left them.
    assert_eq!(c.ok(&["run", "--rm", "mynew:1"]).stdout, "new\n");
    let out = c.ok(&[
        "run",
        "--rm",
        "mynew:1",
        "sh",
        "-c",
        "tail -1 /etc/passwd; test -e /etc/group || echo no-group; ls /home; \
         echo $FOO $RUNENV; cat /hard.txt; stat -c %h /new.txt; stat -c %u:%g /owned /new.txt",
    ]);
    assert_eq!(
        out.stdout, "extra\nno-group\nfresh\nbar 1\nnew\n2\n500:500\n0:0\n",
        "{out}"
    );
    assert!(c.temp_leftovers().is_empty());
    let blobs = std::fs::read_dir(c.root.join("blobs/sha256")).unwrap();
    let temps: Vec<String> = blobs
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(temps.is_empty(), "{temps:?}");

    let cfg = c.ok(&["image", "inspect", "mynew:1"]).json()[0].clone();
    assert_eq!(cfg["Id"], id.as_str());
    assert_eq!(cfg["Author"], "Jane <jane@example.com>");
    assert_eq!(cfg["Comment"], "my message");
    assert_eq!(cfg["Config"]["Cmd"], serde_json::json!(["cat", "/new.txt"]));
    let env: Vec<&str> = cfg["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        env.contains(&"FOO=bar") && env.contains(&"RUNENV=1"),
        "{env:?}"
    );
    assert!(env.iter().any(|e| e.starts_with("PATH=")), "{env:?}");
    assert_eq!(cfg["Config"]["Labels"]["org.cove.test"], "busybox");
    let layers = cfg["RootFS"]["Layers"].as_array().unwrap();
    assert_eq!(layers.len(), f.busybox.layers.len() + 1, "{cfg}");
    assert_eq!(layers[0], f.busybox.layers[0].diff_id.as_str());

    // History: the new entry on top, with the container's command, the message and size.
    let hist = c.ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}|{{.Comment}}",
        "mynew:1",
    ]);
    let first = hist.lines()[0].to_string();
    assert_eq!(first, format!("sh -c {CHANGES}|my message"), "{hist}");
    assert_eq!(hist.lines().len(), 3, "{hist}");

    // The base image is untouched.
    let base = c.ok(&[
        "run",
        "--rm",
        &img,
        "sh",
        "-c",
        "test -e /new.txt || ls /home",
    ]);
    assert_eq!(base.stdout, "user\n");
}

fn commit_running(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    c.ok(&[
        "run",
        "-d",
        "--name",
        "live",
        &img,
        "sh",
        "-c",
        "echo live > /live.txt; mkdir -p /var/x; sleep 1000",
    ]);
    let ready = common::ctr::wait_until(Duration::from_secs(20), || {
        c.run(&["exec", "live", "cat", "/live.txt"]).stdout == "live\n"
    });
    assert!(ready, "the container did not write its file");
    let out = c.ok(&["container", "commit", "live", "snap"]);
    let id = printed_id(&out);
    // Paused during the commit only: it runs on, unpaused.
    assert_eq!(
        c.inspect_fmt("live", "{{.State.Status}} {{.State.Paused}}"),
        "running false"
    );
    c.ok(&["exec", "live", "true"]);
    let out = c.ok(&["run", "--rm", "snap", "cat", "/live.txt"]);
    assert_eq!(out.stdout, "live\n");
    // Not pausing works as well.
    let out = c.ok(&["commit", "--pause=false", "live", "snap:2"]);
    printed_id(&out);
    let q = c.ok(&["images", "-q", "--no-trunc", "snap:latest"]);
    assert_eq!(q.stdout.trim(), id);
    // The container's command, not the image's, is the new image's.
    let cmd = c.ok(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config.Cmd}}",
        "snap",
    ]);
    assert_eq!(
        cmd.stdout.trim(),
        r#"["sh","-c","echo live > /live.txt; mkdir -p /var/x; sleep 1000"]"#
    );
    c.rm_f(&["live"]);
}

fn commit_untagged_and_unchanged(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    let img = c.busybox();
    // Created, never started: nothing changed, so no new layer, only a history entry.
    c.ok(&["create", "--name", "idle", &img, "true"]);
    let out = c.ok(&["commit", "idle"]);
    let id = printed_id(&out);
    let all = c.ok(&["images", "-q", "--no-trunc"]);
    assert_eq!(all.lines().len(), 2, "{all}");
    assert!(all.stdout.contains(&id), "{all}");
    let none = c.ok(&[
        "images",
        "--filter",
        "dangling=true",
        "--format",
        "{{.Repository}} {{.Tag}}",
    ]);
    assert_eq!(none.stdout, "<none> <none>\n");
    let layers = c.ok(&[
        "image",
        "inspect",
        "--format",
        "{{len .RootFS.Layers}}",
        &id,
    ]);
    assert_eq!(layers.stdout.trim(), f.busybox.layers.len().to_string());
    // A name can be given to it later, and moves from another image when reused.
    c.ok(&["tag", &id, "idle:v1"]);
    c.ok(&["run", "--name", "wr", &img, "touch", "/w"]);
    let second = printed_id(&c.ok(&["commit", "wr", "idle:v1"]));
    let q = c.ok(&["images", "-q", "--no-trunc", "idle:v1"]);
    assert_eq!(q.stdout.trim(), second);
}

fn commit_squash(who: Who) {
    let c = Cove::new(who);
    let img = fixtures().reference("layered:latest");
    c.pull(&img);
    c.ok(&[
        "run",
        "--name",
        "sq",
        &img,
        "sh",
        "-c",
        "echo s > /data/s.txt; rm /data/a.txt",
    ]);
    let out = c.ok(&["commit", "--squash", "sq", "flat"]);
    printed_id(&out);
    let layers = c.ok(&[
        "image",
        "inspect",
        "--format",
        "{{len .RootFS.Layers}}",
        "flat",
    ]);
    assert_eq!(layers.stdout.trim(), "1");
    let out = c.ok(&[
        "run",
        "--rm",
        "flat",
        "sh",
        "-c",
        "ls /data; ls /opq; test -e /gone.txt || echo gone",
    ]);
    assert_eq!(out.stdout, "b.txt\ns.txt\nnew.txt\ngone\n", "{out}");
}

fn commit_failures(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let before = c.ok(&["images", "-q"]).stdout;
    let layers = c.layer_dirs();
    c.run(&["commit", "nosuch", "x"])
        .assert_err_line("No such container: nosuch");
    c.ok(&["run", "--name", "bad", &img, "touch", "/x"]);
    c.run(&["commit", "-c", "RUN echo hi", "bad"])
        .assert_err_line("RUN is not a valid change command");
    c.run(&["commit", "-c", "EXPOSE 80/bogus", "bad"])
        .assert_err_line("invalid proto");
    c.run(&["commit", "bad", "Bad:Name"])
        .assert_err_line("invalid reference format");
    c.run(&[
        "commit",
        "bad",
        "x@sha256:0000000000000000000000000000000000000000000000000000000000000000",
    ])
    .assert_err_line("digest");
    // Nothing was added by any of them.
    assert_eq!(c.ok(&["images", "-q"]).stdout, before);
    assert_eq!(c.layer_dirs(), layers);
    assert!(c.temp_leftovers().is_empty());
}
