//! `load` of archives that are broken or hostile: each fails with one line and exit 125, and
//! the store is exactly as before (images, layer dirs, blobs, locks: no half of anything).
//! Root and rootless.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use common::tarball::{self, build, members, snapshot, Member};
use common::{fixtures, Cove, Who};
use tar::EntryType;

both!(docker_archives, oci_archives, not_archives);

/// Load each (name, archive, expected error) into `c` and check nothing changed.
fn refuse_all(c: &Cove, cases: Vec<(&str, Vec<u8>, &str)>) {
    let before = snapshot(c);
    for (what, archive, error) in cases {
        let out = c.cmd(&["load"]).input_bytes(archive).run();
        assert!(out.code() == 125, "{what}: {out}");
        out.assert_err_line(error);
        assert_eq!(snapshot(c), before, "{what} left something behind");
    }
    assert!(c.temp_leftovers().is_empty());
    c.ok(&["system", "check"]);
}

fn with(ms: &[Member], f: impl Fn(&mut Member) -> bool) -> Vec<u8> {
    let mut out = Vec::new();
    for m in ms {
        let mut m = m.clone();
        if f(&mut m) {
            out.push(m);
        }
    }
    build(&out)
}

fn is_layer(m: &Member) -> bool {
    m.name.ends_with("/layer.tar")
}

/// The busybox image saved by cove, in a store that also holds `layered` (which must stay).
fn setup(who: Who, format: &str) -> (Cove, Vec<Member>, Vec<u8>) {
    let f = fixtures();
    let c = Cove::new(who);
    let bb = f.reference("busybox:latest");
    c.pull(&bb);
    let archive = c.ok(&["save", "--format", format, &bb]).raw_stdout;
    c.ok(&["rmi", &bb]);
    c.pull(&f.reference("layered:latest"));
    (c, members(&archive), archive)
}

fn docker_archives(who: Who) {
    let (c, ms, good) = setup(who, "docker-archive");
    let flip_layer = with(&ms, |m| {
        if is_layer(m) {
            // Inside busybox's binary, not a header.
            let at = m.data.len() / 2;
            m.data[at] ^= 0xff;
        }
        true
    });
    let mut bad_gzip = tarball::gzip(&good);
    let mid = bad_gzip.len() / 2;
    for b in &mut bad_gzip[mid..mid + 64] {
        *b ^= 0x5a;
    }
    let mut bad_crc = tarball::gzip(&good);
    let at = bad_crc.len() - 6;
    bad_crc[at] ^= 1;
    let gz = tarball::gzip(&good);
    let cases = vec![
        ("truncated", good[..good.len() / 2].to_vec(), "truncated"),
        ("truncated gzip", gz[..gz.len() / 2].to_vec(), "truncated"),
        ("corrupt gzip", bad_gzip, "deflate|damaged|checksum"),
        ("gzip checksum", bad_crc, "checksum"),
        (
            "dotdot",
            with(&ms, |m| {
                if m.name == "manifest.json" {
                    m.name = "../manifest.json".into();
                }
                true
            }),
            "outside the archive",
        ),
        (
            "absolute",
            with(&ms, |m| {
                if is_layer(m) {
                    m.name = format!("/{}", m.name);
                }
                true
            }),
            "outside the archive",
        ),
        (
            "symlink out",
            with(&ms, |m| {
                if m.name == "manifest.json" {
                    m.kind = EntryType::Symlink;
                    m.link = "../../etc/passwd".into();
                    m.data.clear();
                }
                true
            }),
            "links outside the archive",
        ),
        (
            "absolute symlink",
            with(&ms, |m| {
                if is_layer(m) {
                    m.kind = EntryType::Symlink;
                    m.link = "/etc/shadow".into();
                    m.data.clear();
                }
                true
            }),
            "links outside the archive",
        ),
        ("wrong layer", flip_layer, "does not match"),
        (
            "missing layer",
            with(&ms, |m| !is_layer(m)),
            "not in the archive",
        ),
        (
            "missing config",
            with(&ms, |m| {
                !m.name.ends_with(".json") || m.name == "manifest.json"
            }),
            "not in the archive",
        ),
        (
            "bad manifest",
            with(&ms, |m| {
                if m.name == "manifest.json" {
                    m.data = b"{not json".to_vec();
                }
                true
            }),
            "manifest.json",
        ),
    ];
    refuse_all(&c, cases);
    // And the good one still loads.
    let out = c.cmd(&["load"]).input_bytes(good).run();
    out.assert_ok();
}

fn oci_archives(who: Who) {
    let f = fixtures();
    let (c, ms, _) = setup(who, "oci-archive");
    let layer = format!(
        "blobs/sha256/{}",
        f.busybox.layers[0].digest.trim_start_matches("sha256:")
    );
    let config = format!("blobs/sha256/{}", f.busybox.id());
    let cases = vec![
        (
            "layer digest",
            with(&ms, |m| {
                if m.name == layer {
                    let at = m.data.len() / 2;
                    m.data[at] ^= 1;
                }
                true
            }),
            "does not match its digest|deflate|checksum",
        ),
        (
            "config digest",
            with(&ms, |m| {
                if m.name == config {
                    m.data.push(b' ');
                }
                true
            }),
            "does not match its digest",
        ),
        (
            "missing layer",
            with(&ms, |m| m.name != layer),
            "not in the archive",
        ),
        (
            "dotdot blob",
            with(&ms, |m| {
                if m.name == layer {
                    m.name = format!("blobs/../../{layer}");
                }
                true
            }),
            "outside the archive",
        ),
        (
            "hard link out",
            with(&ms, |m| {
                if m.name == layer {
                    m.kind = EntryType::Link;
                    m.link = "../outside".into();
                    m.data.clear();
                }
                true
            }),
            "links outside the archive",
        ),
    ];
    refuse_all(&c, cases);
}

fn not_archives(who: Who) {
    let c = Cove::new(who);
    c.pull(&fixtures().reference("busybox:latest"));
    let mut rootfs = common::layout::Tar::new();
    rootfs.dir("bin/", 0o755).file("bin/sh", 0o755, b"#!").file(
        "etc/passwd",
        0o644,
        b"root:x:0:0::/:/bin/sh\n",
    );
    let cases = vec![
        (
            "a root file system",
            rootfs.finish(),
            "does not look like a docker or OCI",
        ),
        ("nothing", Vec::new(), "does not look like a docker or OCI"),
        ("noise", vec![0x17u8; 3000], "damaged|truncated"),
    ];
    refuse_all(&c, cases);
    // No input at all, and an input that is not there.
    let out = c.run(&["load", "-i", "/nonexistent/x.tar"]);
    out.assert_err_line("cannot open /nonexistent/x.tar");
}
