//! build with real peers: an image cove builds, pushed to the loopback registry, is what
//! `skopeo inspect` describes and what rootless podman pulls and runs; an image `podman build`
//! made runs under cove.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use std::process::Command;

use common::podman::Podman;
use common::{fixtures, Cove, Who};

fn repo(what: &str) -> String {
    fixtures().reference(&format!("built/{what}-{}:1", std::process::id()))
}

#[test]
fn podman_and_skopeo_take_what_cove_built() {
    let c = Cove::new(Who::Rootless);
    let base = c.busybox();
    let ctx = c.dir.join("ctx");
    c.write(&ctx.join("msg"), "built by cove\n");
    c.write(
        &ctx.join("Dockerfile"),
        &format!(
            "FROM {base}\nCOPY msg /msg\nRUN cp /msg /msg2\nENV MODE=built\nLABEL org.cove.built=yes\n\
             CMD [\"sh\", \"-c\", \"cat /msg2; echo $MODE\"]\n"
        ),
    );
    let dest = repo("cove");
    c.ok(&["build", "-t", &dest, ctx.to_str().unwrap()]);
    c.ok(&["push", &dest]);

    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", &format!("docker://{dest}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["Labels"]["org.cove.built"], "yes");
    assert!(
        info["Env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "MODE=built"),
        "{info}"
    );
    let base_layers = fixtures().busybox.layers.len();
    assert_eq!(
        info["Layers"].as_array().unwrap().len(),
        base_layers + 2,
        "{info}"
    );

    let podman = Podman::new(&c);
    podman
        .run(&["pull", "--tls-verify=false", &dest])
        .assert_ok();
    let run = podman.run(&["run", "--rm", "--network", "none", &dest]);
    assert_eq!(run.assert_ok().stdout, "built by cove\nbuilt\n");
}

#[test]
fn cove_runs_what_podman_built() {
    let c = Cove::new(Who::Rootless);
    let base = fixtures().reference("busybox:latest");
    let ctx = c.dir.join("pctx");
    c.write(
        &ctx.join("Containerfile"),
        &format!("FROM {base}\nRUN echo built by podman > /from-podman\nCMD [\"cat\", \"/from-podman\"]\n"),
    );
    let dest = repo("podman");
    let podman = Podman::new(&c);
    let built = podman.run(&[
        "build",
        "--tls-verify=false",
        "--isolation",
        "chroot",
        "-t",
        &dest,
        ctx.to_str().unwrap(),
    ]);
    built.assert_ok();
    podman
        .run(&["push", "--tls-verify=false", &dest])
        .assert_ok();
    c.pull(&dest);
    assert_eq!(c.ok(&["run", "--rm", &dest]).stdout, "built by podman\n");
}
