//! cove inside a container (a CI runner's job container): a `--privileged` container started
//! by cove runs cove, which pulls and runs an image, with its store on the container's own
//! root and on a bind-mounted directory. Root and rootless on the host side; rootless podman
//! as the outer engine too.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use common::cove::cove_bin;
use common::{Cove, Who};

both!(
    cove_runs_cove,
    narrower_flags_and_the_hint,
    a_user_inside,
    subuid_inside
);

/// A plain user inside a container whose image has newuidmap and an /etc/subuid range for it:
/// cove uses that range (the inner container's map has it), as on a host.
fn subuid_inside(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let bin = bin_mount();
    let env = format!("IMG={img}");
    c.ok(&[
        "run",
        "-d",
        "--privileged",
        "--name",
        "job",
        "-v",
        &bin,
        "-e",
        &env,
        &img,
        "sleep",
        "600",
    ]);
    let lib = "/lib/x86_64-linux-gnu";
    c.ok(&["exec", "job", "mkdir", "-p", "/usr/bin", lib, "/lib64"]);
    // newuidmap and what it links, owned by the container's root once copied in (cp's rule).
    let mut files = vec![
        "/usr/bin/newuidmap".to_string(),
        "/usr/bin/newgidmap".to_string(),
        "/lib64/ld-linux-x86-64.so.2".to_string(),
    ];
    for l in [
        "libaudit.so.1",
        "libc.so.6",
        "libcap-ng.so.0",
        "libpcre2-8.so.0",
        "libselinux.so.1",
    ] {
        files.push(format!("{lib}/{l}"));
    }
    for f in &files {
        let real = std::fs::canonicalize(f).unwrap();
        c.ok(&["cp", real.to_str().unwrap(), &format!("job:{f}")]);
    }
    let setup = "chmod 4755 /usr/bin/newuidmap /usr/bin/newgidmap && \
        echo 'u:x:1000:1000::/tmp/home:/bin/sh' >> /etc/passwd && echo 'u:x:1000:' >> /etc/group && \
        echo 'u:2000:3000' > /etc/subuid && echo 'u:2000:3000' > /etc/subgid";
    c.ok(&["exec", "job", "sh", "-c", setup]);
    let inner = "set -e; mkdir -p /tmp/run /tmp/home; \
        cove pull -q --tls-verify=false \"$IMG\" >/dev/null; \
        cove run --rm \"$IMG\" cat /proc/self/uid_map";
    let out = c.run(&[
        "exec",
        "-u",
        "1000",
        "-e",
        "HOME=/tmp/home",
        "-e",
        "XDG_RUNTIME_DIR=/tmp/run",
        "job",
        "sh",
        "-c",
        inner,
    ]);
    let maps: Vec<Vec<String>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect();
    assert_eq!(maps, [["0", "1000", "1"], ["1", "2000", "3000"]], "{out}");
    assert!(!out.stderr.contains("no subuid range"), "{out}");
    out.assert_ok();
    c.rm_f(&["job"]);
}

/// A job that runs as a plain user inside its container: cove is rootless there, on the IDs
/// the container's user namespace gives that user (no /etc/subuid in the image: its own).
fn a_user_inside(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let bin = bin_mount();
    let script = "set -e; mkdir -p /tmp/run /tmp/home; \
        cove pull -q --tls-verify=false \"$IMG\" >/dev/null; \
        cove run --rm \"$IMG\" sh -c 'echo in-$(id -u)'; \
        cove images --format '{{.Repository}}'";
    let env = format!("IMG={img}");
    let out = c.run(&[
        "run",
        "--rm",
        "--privileged",
        "-u",
        "1000:1000",
        "-v",
        &bin,
        "-e",
        &env,
        "-e",
        "HOME=/tmp/home",
        "-e",
        "XDG_RUNTIME_DIR=/tmp/run",
        &img,
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(
        out.stdout,
        format!("in-0\n{}\n", img.rsplit_once(':').unwrap().0),
        "{out}"
    );
    out.assert_ok();
}

/// Rootless podman (runc, as on this host) starts the container cove runs in.
#[test]
fn podman_runs_cove() {
    let c = Cove::new(Who::Rootless);
    let img = c.busybox();
    let pm = common::podman::Podman::new(&c);
    let podman = |args: &[&str]| pm.run(args);
    podman(&["pull", "--tls-verify=false", &img]).assert_ok();
    let bin = bin_mount();
    let (env_img, env_store) = (format!("IMG={img}"), "STORE=/var/lib/inner".to_string());
    let out = podman(&[
        "run",
        "--rm",
        "--privileged",
        "--network",
        "host",
        "-v",
        &bin,
        "-e",
        &env_img,
        "-e",
        &env_store,
        &img,
        "sh",
        "-c",
        INNER,
    ]);
    assert_eq!(out.stdout, inner_output(&img), "{out}");
    out.assert_ok();
}

/// The script the outer container runs: pull, run (exit code passed through), and the
/// inner container sees itself as root.
const INNER: &str = r#"set -e
cove --root "$STORE" pull -q --tls-verify=false "$IMG" >/dev/null
cove --root "$STORE" run --rm "$IMG" sh -c 'echo nested-$(id -u); exit 3' || echo "code=$?"
cove --root "$STORE" images --format '{{.Repository}}'
"#;

fn cove_runs_cove(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let bin = bin_mount();
    let vol = c.dir.join("inner-store");
    std::fs::create_dir_all(&vol).unwrap();
    nix::unistd::chown(&vol, Some(c.uid.into()), Some(c.gid.into())).unwrap();
    let vol_mount = format!("{}:/vol", vol.display());
    for store in ["/var/lib/inner", "/vol/store"] {
        let out = c.run(&[
            "run",
            "--rm",
            "--privileged",
            "-v",
            &bin,
            "-v",
            &vol_mount,
            "-e",
            &format!("IMG={img}"),
            "-e",
            &format!("STORE={store}"),
            &img,
            "sh",
            "-c",
            INNER,
        ]);
        assert_eq!(out.stdout, inner_output(&img), "store {store}: {out}");
        out.assert_ok();
    }
}

/// What INNER prints: the inner container's uid, its exit code, the pulled repository.
fn inner_output(img: &str) -> String {
    format!("nested-0\ncode=3\n{}\n", img.rsplit_once(':').unwrap().0)
}

fn bin_mount() -> String {
    format!("{}:/usr/local/bin/cove:ro", cove_bin().display())
}

/// Without `--privileged`, the flags the error names are enough; with none of them, the
/// inner `run` fails with one line that names them.
fn narrower_flags_and_the_hint(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let bin = bin_mount();
    let narrower = [
        "--cap-add",
        "SYS_ADMIN",
        "--security-opt",
        "seccomp=unconfined",
        "--security-opt",
        "systempaths=unconfined",
    ];
    let script = INNER.replace("$STORE", "/var/lib/inner");
    let env = format!("IMG={img}");
    let mut args = vec!["run", "--rm", "-v", &bin, "-e", &env];
    args.extend(narrower);
    args.extend([img.as_str(), "sh", "-c", &script]);
    let out = c.run(&args);
    assert_eq!(out.stdout, inner_output(&img), "{out}");

    let run = "cove pull -q --tls-verify=false \"$IMG\" >/dev/null && cove run --rm \"$IMG\" true";
    let out = c.run(&["run", "--rm", "-v", &bin, "-e", &env, &img, "sh", "-c", run]);
    assert_eq!(out.code(), 125, "{out}");
    let err = out.stderr.trim_end();
    assert_eq!(err.lines().count(), 1, "{out}");
    assert!(
        err.contains("start that container --privileged, or with --cap-add SYS_ADMIN"),
        "{out}"
    );
}
