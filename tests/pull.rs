//! `cove pull`: references, platforms, layer formats, sharing, and failures that must leave
//! the store as it was. Each case runs as root and as the rootless test user.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use common::fsx::{is_whiteout, subuid_start, xattr};
use common::{fixtures, Cove, Mode, Proxy, Who};

fn images_q(c: &Cove) -> Vec<String> {
    let out = c.run(&["images", "-q"]);
    out.assert_ok();
    out.lines().iter().map(|s| s.to_string()).collect()
}

fn inspect_id(c: &Cove, reference: &str) -> String {
    let out = c.run(&["image", "inspect", "--format", "{{.Id}}", reference]);
    out.assert_ok();
    out.stdout.trim().to_string()
}

both!(
    by_tag_then_up_to_date,
    quiet,
    progress_on_terminal,
    short_name,
    by_digest,
    name_tag_and_digest,
    all_tags,
    platform,
    layer_formats,
    shared_layers_unpacked_once,
    corrupt_blob,
    cut_transfer_resumes,
    killed_then_repeated,
    concurrent_pulls,
    missing_image,
);

fn by_tag_then_up_to_date(who: Who) {
    let f = fixtures();
    let p = Proxy::start(Mode::Plain);
    let c = Cove::new(who);
    let r = p.reference("busybox:latest");
    let out = c.pull(&r);
    assert_eq!(out.last_line(), r, "{out}");
    assert_eq!(c.layer_dirs(), vec![f.busybox.chain_ids[0].clone()]);
    let layer = c.layer_content(&f.busybox.chain_ids[0]);
    let bin = std::fs::metadata(layer.join("bin/busybox")).unwrap();
    assert_eq!(bin.len(), std::fs::metadata("/bin/busybox").unwrap().len());
    assert_eq!(
        std::fs::read_link(layer.join("bin/sh")).unwrap().to_str(),
        Some("busybox")
    );
    let user_dir = std::fs::metadata(layer.join("home/user")).unwrap();
    match who {
        Who::Root => assert_eq!((bin.uid(), user_dir.uid()), (0, 500)),
        _ => {
            let start = subuid_start("covetest").unwrap();
            assert_eq!(
                (bin.uid(), user_dir.uid()),
                (c.uid, start + 499),
                "container 0 -> user, 500 -> subuid start + 499"
            );
        }
    }
    assert_eq!(images_q(&c), vec![f.busybox.short_id().to_string()]);
    assert!(c.temp_leftovers().is_empty());

    p.clear();
    let again = c.pull(&r);
    assert!(again.stdout.contains("Image is up to date"), "{again}");
    assert_eq!(again.last_line(), r);
    assert!(
        p.blob_gets().is_empty(),
        "a re-pull fetched blobs: {:?}",
        p.blob_gets()
    );
    assert_eq!(images_q(&c).len(), 1);
}

fn quiet(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    let r = f.reference("busybox:latest");
    let out = c.run(&["pull", "-q", "--tls-verify=false", &r]);
    out.assert_ok();
    assert_eq!(out.stdout, format!("{r}\n"));
}

/// On a terminal, layers get docker's progress lines redrawn in place (cursor-up escapes);
/// without one (every other test) only plain status lines are printed.
fn progress_on_terminal(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    let r = f.reference("layered:latest");
    let out = c.cmd(&["pull", "--tls-verify=false", &r]).in_pty().run();
    out.assert_ok();
    assert!(out.stdout.contains("\x1b[2K"), "no in-place redraw: {out}");
    assert!(out.stdout.contains("\x1b["), "no cursor movement: {out}");
    assert!(out.stdout.contains("Pull complete"), "{out}");
    assert!(
        out.stdout.contains("Status: Downloaded newer image for"),
        "{out}"
    );
    let plain = c.run(&["pull", "--tls-verify=false", &r]);
    assert!(
        !plain.stdout.contains('\x1b'),
        "escape codes without a terminal: {plain}"
    );
}

fn short_name(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    c.registries_conf(&format!(
        "unqualified-search-registries = [\"{0}\"]\n\n[[registry]]\nlocation = \"{0}\"\ninsecure = true\n",
        f.registry
    ));
    let out = c.run(&["pull", "--tls-verify=false", "busybox"]);
    out.assert_ok();
    assert_eq!(out.last_line(), f.reference("busybox:latest"));
    let names = c.run(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    names.assert_ok();
    assert_eq!(names.stdout, format!("{}\n", f.reference("busybox:latest")));
}

fn by_digest(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    let r = f.reference(&format!("busybox@{}", f.busybox.manifest_digest));
    let out = c.pull(&r);
    assert_eq!(out.last_line(), r);
    assert_eq!(inspect_id(&c, &r), f.busybox.config_digest);
    let v = c.run(&["image", "inspect", &r]).assert_ok().json();
    let digests = v[0]["RepoDigests"].as_array().unwrap();
    assert!(
        digests.iter().any(|d| d == &r),
        "RepoDigests {digests:?} lacks {r}"
    );
}

fn name_tag_and_digest(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    let r = f.reference(&format!("busybox:latest@{}", f.busybox.manifest_digest));
    c.pull(&r);
    let plain = f.reference(&format!("busybox@{}", f.busybox.manifest_digest));
    assert_eq!(inspect_id(&c, &plain), f.busybox.config_digest);
    // A digest that does not match what the tag names is the digest's image, or an error:
    // never the tag's image under the wrong digest.
    let wrong = f.reference(&format!("busybox:latest@{}", f.layered.manifest_digest));
    let out = c.run(&["pull", "--tls-verify=false", &wrong]);
    if out.code() == 0 {
        let id = inspect_id(
            &c,
            &f.reference(&format!("busybox@{}", f.layered.manifest_digest)),
        );
        assert_ne!(id, f.busybox.config_digest);
    }
}

fn all_tags(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    let out = c.run(&["pull", "-a", "--tls-verify=false", &f.reference("busybox")]);
    out.assert_ok();
    let names = c.run(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    names.assert_ok();
    let mut got: Vec<&str> = names.lines();
    got.sort();
    let want = [f.reference("busybox:latest"), f.reference("busybox:v1")];
    assert_eq!(got, want.iter().map(String::as_str).collect::<Vec<_>>());
}

fn platform(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    let r = f.reference("multi:latest");
    c.pull(&r);
    assert_eq!(
        inspect_id(&c, &r),
        f.busybox.config_digest,
        "linux/amd64 is the default here"
    );
    let out = c.run(&[
        "pull",
        "--tls-verify=false",
        "--platform",
        "linux/arm64",
        &r,
    ]);
    out.assert_ok();
    assert_eq!(inspect_id(&c, &r), f.arm64.config_digest);
    let arch = c.run(&["image", "inspect", "--format", "{{.Architecture}}", &r]);
    assert_eq!(arch.assert_ok().stdout.trim(), "arm64");
    let layer = c.layer_content(&f.arm64.chain_ids[0]);
    assert_eq!(
        std::fs::read_to_string(layer.join("marker-arm64")).unwrap(),
        "arm64\n"
    );
    let bad = c.run(&[
        "pull",
        "--tls-verify=false",
        "--platform",
        "linux/s390x",
        &r,
    ]);
    bad.assert_err_line("");
}

fn layer_formats(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    c.pull(&f.reference("layered:latest"));
    let ids = &f.layered.chain_ids;
    let mut want = ids.clone();
    want.sort();
    assert_eq!(c.layer_dirs(), want);

    let zst = c.layer_content(&ids[1]);
    assert_eq!(
        std::fs::read_to_string(zst.join("data/a.txt")).unwrap(),
        "a\n"
    );
    assert_eq!(
        std::fs::read_to_string(zst.join("gone.txt")).unwrap(),
        "gone\n"
    );
    assert!(zst.join("opq/old.txt").is_file());

    let top = c.layer_content(&ids[2]);
    assert!(
        is_whiteout(&top.join("gone.txt")),
        "gone.txt is not a 0:0 char device"
    );
    let opaque = if who == Who::Root {
        "trusted.overlay.opaque"
    } else {
        "user.overlay.opaque"
    };
    assert_eq!(
        xattr(&top.join("opq"), opaque).as_deref(),
        Some(&b"y"[..]),
        "{opaque} on opq"
    );
    assert_eq!(
        std::fs::read_to_string(top.join("opq/new.txt")).unwrap(),
        "new\n"
    );
    assert_eq!(
        std::fs::read_to_string(top.join("data/b.txt")).unwrap(),
        "b\n"
    );
    let wh = common::fsx::find_named(&top, &[".wh.gone.txt", ".wh..wh..opq"]);
    assert!(wh.is_empty(), "whiteout markers kept as files: {wh:?}");
}

fn shared_layers_unpacked_once(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    c.pull(&f.reference("busybox:latest"));
    c.pull(&f.reference("layered:latest"));
    assert_eq!(
        c.layer_dirs().len(),
        3,
        "base layer shared: {:?}",
        c.layer_dirs()
    );
    assert!(c.layer_dirs().contains(&f.busybox.chain_ids[0]));
    assert_eq!(images_q(&c).len(), 2);
}

fn corrupt_blob(who: Who) {
    let f = fixtures();
    let digest = f.busybox.layers[0].digest.clone();
    let p = Proxy::start(Mode::CorruptBlob(digest.clone()));
    let c = Cove::new(who);
    let out = c.run(&["pull", "--tls-verify=false", &p.reference("busybox:latest")]);
    let hex = digest.trim_start_matches("sha256:");
    out.assert_err_line(&hex[..12]);
    c.assert_store_empty();
}

fn cut_transfer_resumes(who: Who) {
    let f = fixtures();
    let p = Proxy::start(Mode::CutAfter {
        bytes: 300_000,
        times: 1,
    });
    let c = Cove::new(who);
    let r = p.reference("busybox:latest");
    c.pull(&r);
    assert_eq!(p.cuts(), 1);
    let ranged: Vec<_> = p
        .blob_gets()
        .into_iter()
        .filter(|s| s.range.is_some())
        .collect();
    assert!(
        !ranged.is_empty(),
        "no Range request after the cut: {:?}",
        p.requests()
    );
    assert_eq!(images_q(&c), vec![f.busybox.short_id().to_string()]);
    let bin = c.layer_content(&f.busybox.chain_ids[0]).join("bin/busybox");
    assert_eq!(
        std::fs::read(bin).unwrap(),
        std::fs::read("/bin/busybox").unwrap()
    );
}

fn killed_then_repeated(who: Who) {
    let f = fixtures();
    let size = f.busybox.layers[0].size;
    let p = Proxy::start(Mode::Throttle {
        bytes_per_sec: size / 8,
    });
    let c = Cove::new(who);
    let r = p.reference("busybox:latest");
    let mut child = c.cmd(&["pull", "--tls-verify=false", &r]).spawn();
    let deadline = Instant::now() + Duration::from_secs(60);
    while p.blob_bytes() < size / 4 {
        assert!(
            Instant::now() < deadline,
            "the pull never got going: {:?}",
            p.requests()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill();
    let killed = child.wait();
    assert_eq!(killed.code(), -9, "{killed}");

    p.set_mode(Mode::Plain);
    let out = c.pull(&r);
    assert_eq!(out.last_line(), r);
    assert_eq!(images_q(&c), vec![f.busybox.short_id().to_string()]);
    assert!(c.temp_leftovers().is_empty(), "{:?}", c.temp_leftovers());
    let bin = c.layer_content(&f.busybox.chain_ids[0]).join("bin/busybox");
    assert_eq!(
        std::fs::read(bin).unwrap(),
        std::fs::read("/bin/busybox").unwrap()
    );
}

fn concurrent_pulls(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    let a = c
        .cmd(&["pull", "--tls-verify=false", &f.reference("busybox:latest")])
        .spawn();
    let b = c
        .cmd(&["pull", "--tls-verify=false", &f.reference("layered:latest")])
        .spawn();
    a.wait().assert_ok();
    b.wait().assert_ok();
    assert_eq!(c.layer_dirs().len(), 3, "{:?}", c.layer_dirs());
    assert_eq!(images_q(&c).len(), 2);
    assert!(c.temp_leftovers().is_empty());
}

fn missing_image(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    let out = c.run(&["pull", "--tls-verify=false", &f.reference("nope:latest")]);
    out.assert_err_line("not found|unknown");
    c.assert_store_empty();
    let tag = c.run(&["pull", "--tls-verify=false", &f.reference("busybox:nope")]);
    tag.assert_err_line("not found|unknown");
}

/// A user without an /etc/subuid range still pulls, warned once that IDs collapse to one.
#[test]
fn without_subuid_range() {
    let f = fixtures();
    let c = Cove::new(Who::NoSubuid);
    let r = f.reference("busybox:latest");
    let out = c.run(&["pull", "--tls-verify=false", &r]);
    out.assert_ok();
    assert_eq!(out.last_line(), r);
    let warn: Vec<&str> = out.stderr.lines().collect();
    assert!(
        warn.len() == 1 && warn[0].contains("subuid"),
        "want one warning line naming subuid: {out}"
    );
    let layer = c.layer_content(&f.busybox.chain_ids[0]);
    assert!(layer.join("bin/busybox").is_file());
    assert_eq!(images_q(&c), vec![f.busybox.short_id().to_string()]);
}

/// A registry that redirects in circles is reported as that, in one line, and not as the TLS
/// failure of the next scheme tried.
#[test]
fn redirect_loop_is_named() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                b"HTTP/1.1 302 Found\r\nLocation: /v2/loop\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let c = Cove::new(Who::Caller);
    let out = c.run(&[
        "pull",
        "--tls-verify=false",
        &format!("127.0.0.1:{port}/loop:latest"),
    ]);
    out.assert_err_line("stopped after 10 redirects");
    assert!(!out.stderr.to_lowercase().contains("tls"), "{out}");
    c.assert_store_empty();
}
