//! `save`/`load` between cove and podman: rootless podman (runc, as on this host; its own
//! --root and --runroot) loads what cove saves and runs it, and cove loads and runs what
//! podman saves, in both of podman's formats.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use std::path::Path;

use common::podman::Podman;
use common::tarball::assert_records_complete;
use common::{fixtures, Cove, Who};

fn lines(out: &common::Out) -> Vec<String> {
    out.lines().iter().map(|s| s.to_string()).collect()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Both ways, both of podman's formats.
#[test]
fn podman_interop() {
    let f = fixtures();
    let c = Cove::new(Who::Rootless);
    let pm = Podman::new(&c);
    let podman = |args: &[&str]| pm.run(args);
    let (bb, ly) = (f.reference("busybox:latest"), f.reference("layered:latest"));

    // cove -> podman: docker-archive (two images) and oci-archive.
    c.pull(&bb);
    c.pull(&ly);
    let docker = c.home.join("cove.tar");
    let oci = c.home.join("cove-oci.tar");
    c.ok(&["save", "-o", path(&docker), &bb, &ly]);
    c.ok(&["save", "--format", "oci-archive", "-o", path(&oci), &ly]);
    let out = podman(&["load", "-i", path(&docker)]);
    out.assert_ok();
    assert!(out.stdout.contains(&format!("Loaded image: {bb}")), "{out}");
    assert!(out.stdout.contains(&format!("Loaded image: {ly}")), "{out}");
    let run = podman(&[
        "run",
        "--rm",
        "--network",
        "host",
        &ly,
        "sh",
        "-c",
        "ls /data /opq",
    ]);
    assert_eq!(
        run.stdout, "/data:\na.txt\nb.txt\n\n/opq:\nnew.txt\n",
        "{run}"
    );
    podman(&["rmi", "-f", &ly]).assert_ok();
    let out = podman(&["load", "-i", path(&oci)]);
    assert!(out.stdout.contains(&format!("Loaded image: {ly}")), "{out}");
    let run = podman(&[
        "run",
        "--rm",
        "--network",
        "host",
        &ly,
        "cat",
        "/data/b.txt",
    ]);
    assert_eq!(run.stdout, "b\n", "{run}");

    // podman -> cove: both of its formats.
    c.ok(&["rmi", &bb, &ly]);
    let pd = c.home.join("podman.tar");
    let po = c.home.join("podman-oci.tar");
    podman(&["save", "-o", path(&pd), &bb]).assert_ok();
    podman(&["save", "--format", "oci-archive", "-o", path(&po), &ly]).assert_ok();
    let out = c.ok(&["load", "-i", path(&pd)]);
    assert_eq!(lines(&out), [format!("Loaded image: {bb}")]);
    let out = c.ok(&["load", "-i", path(&po)]);
    assert_eq!(lines(&out), [format!("Loaded image: {ly}")]);
    assert_eq!(
        c.ok(&["run", "--rm", &bb, "echo", "from podman"]).stdout,
        "from podman\n"
    );
    let run = c.ok(&[
        "run",
        "--rm",
        &ly,
        "sh",
        "-c",
        "cat /opq/new.txt; test -e /gone.txt || echo gone",
    ]);
    assert_eq!(run.stdout, "new\ngone\n");
    assert_records_complete(&c);
}
