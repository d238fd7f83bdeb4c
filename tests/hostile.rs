//! Hostile layers: each path trick must fail the pull (except an absolute name, and a path
//! through a symlink that resolves inside the layer, which land inside it), touch nothing outside
//! the store, and leave no half-written store.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use std::os::unix::fs::MetadataExt;

use common::fixtures::SENTINEL;
use common::fsx::find_named;
use common::{fixtures, Cove, Who};

/// The sentinel dir holds exactly its one file, unchanged and not linked from anywhere.
fn assert_sentinel_untouched() {
    let f = fixtures();
    let names: Vec<String> = std::fs::read_dir(&f.sentinel)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["target"],
        "something was written next to the sentinel"
    );
    let t = f.sentinel.join("target");
    assert_eq!(std::fs::read_to_string(&t).unwrap(), SENTINEL);
    assert_eq!(
        std::fs::metadata(&t).unwrap().nlink(),
        1,
        "the sentinel was hard-linked"
    );
}

fn check(who: Who, trick: &str) {
    let f = fixtures();
    let h = f.hostile(trick);
    let c = Cove::new(who);
    let r = f.reference(&format!("hostile:{trick}"));
    let abs_before = std::path::Path::new("/abs-file").exists();
    let out = c.run(&["pull", "--tls-verify=false", &r]);
    assert_sentinel_untouched();
    // Inside the store a layer may hold such names (checked below); anywhere else is an escape.
    let layers = c.layers_dir();
    let strays: Vec<_> = find_named(&c.dir, &["escape", "evil"])
        .into_iter()
        .filter(|p| !p.starts_with(&layers))
        .collect();
    assert!(
        strays.is_empty(),
        "{trick}: files written outside the layer: {strays:?}"
    );
    let outside = find_named(common::run_dir(), &["escape"]);
    assert!(
        outside.is_empty(),
        "{trick}: files written outside the layer: {outside:?}"
    );
    if h.ok {
        out.assert_ok();
        let layer = c.layer_content(&h.image.chain_ids[0]);
        assert_eq!(
            std::fs::read_to_string(layer.join("abs-file")).unwrap(),
            "inside\n"
        );
        assert_eq!(std::path::Path::new("/abs-file").exists(), abs_before);
        return;
    }
    if trick == "symlink-up" && out.code() == 0 {
        // `up -> ../../..` resolves to the layer's own root (as docker's FollowSymlinkInScope
        // does), so `up/<sentinel path>/evil` lands inside the layer: harmless, and allowed.
        let layer = c.layer_content(&h.image.chain_ids[0]);
        assert!(
            !find_named(&layer, &["evil"]).is_empty(),
            "symlink-up: evil is neither refused nor inside the layer"
        );
        return;
    }
    match trick {
        "dotdot" | "dotdot-deep" | "hardlink-out" => out.assert_err_line("escape"),
        _ => out.assert_err_line(""),
    };
    c.assert_store_empty();
}

fn dotdot(who: Who) {
    check(who, "dotdot")
}
fn dotdot_deep(who: Who) {
    check(who, "dotdot-deep")
}
fn absolute(who: Who) {
    check(who, "abs")
}
fn symlink_dir(who: Who) {
    check(who, "symlink-dir")
}
fn hardlink_out(who: Who) {
    check(who, "hardlink-out")
}
fn hardlink_via_symlink(who: Who) {
    check(who, "hardlink-via-symlink")
}
fn symlink_up(who: Who) {
    check(who, "symlink-up")
}

both!(
    dotdot,
    dotdot_deep,
    absolute,
    symlink_dir,
    hardlink_out,
    hardlink_via_symlink,
    symlink_up,
);

/// A failed hostile pull does not disturb images already in the store.
#[test]
fn failure_keeps_existing_images() {
    let f = fixtures();
    let c = Cove::new(Who::Rootless);
    c.pull(&f.reference("busybox:latest"));
    let r = f.reference("hostile:dotdot");
    c.run(&["pull", "--tls-verify=false", &r])
        .assert_err_line("");
    let ids = c.run(&["images", "-q"]);
    assert_eq!(ids.assert_ok().stdout.trim(), f.busybox.short_id());
    assert_eq!(c.layer_dirs(), [f.busybox.chain_ids[0].clone()]);
    assert!(c.temp_leftovers().is_empty());
}
