//! Hostile layers: every trick must leave the sentinel directory beside the store untouched and
//! create nothing outside the layer; a refused layer leaves no trace in the store.

use std::fs;
use std::path::Path;

use crate::fsutil::lgetxattr;
use crate::overlay::testkit::{Fixture, Tar};

fn store_is_empty(fx: &Fixture) {
    let layers = fx.tmp.path().join("store/overlay/layers");
    let left: Vec<_> = fs::read_dir(&layers)
        .map(|r| r.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in the store: {left:?}");
}

fn refused(fx: &Fixture, tar: &[u8], want: &str) {
    let err = fx.unpack(tar).unwrap_err().to_string();
    assert!(err.starts_with("layer sha256:"), "{err}");
    assert!(err.contains(want), "{err:?} should contain {want:?}");
    store_is_empty(fx);
    fx.assert_outside_untouched();
}

#[test]
fn dotdot_names_are_refused() {
    let fx = Fixture::new("dotdot");
    let tar = Tar::new().file("ok", b"").file("../../x", b"evil").finish();
    refused(&fx, &tar, r#"entry "../../x" escapes the layer"#);
    let tar = Tar::new().file("a/../../outside/secret", b"evil").finish();
    refused(&fx, &tar, "escapes the layer");
    let tar = Tar::new().file(".wh...", b"").finish();
    refused(&fx, &tar, "escapes the layer");
}

#[test]
fn absolute_names_land_inside() {
    let fx = Fixture::new("abs");
    let outside = fx.outside().join("new");
    let name = outside.to_str().unwrap().to_string();
    let tar = Tar::new()
        .file("/abs/path", b"1")
        .file(&name, b"2")
        .finish();
    let info = fx.unpack(&tar).unwrap();
    let d = fx.store.diff_dir(&info.chain_id);
    assert_eq!(fs::read(d.join("abs/path")).unwrap(), b"1");
    assert_eq!(
        fs::read(d.join(name.trim_start_matches('/'))).unwrap(),
        b"2"
    );
    fx.assert_outside_untouched();
}

#[test]
fn symlinks_to_outside_are_not_written_through() {
    let fx = Fixture::new("symw");
    let out = fx.outside();
    let abs = out.to_str().unwrap();
    let rel = format!("../../../../../../../../..{abs}");
    for target in [abs, rel.as_str()] {
        // A new file through the link's directory.
        // (The link resolves inside the layer, where its target is missing: docker refuses too.)
        let tar = Tar::new()
            .symlink("link", target)
            .file("link/evil", b"x")
            .finish();
        refused(&fx, &tar, "a dangling symlink is in the way");
        // Overwriting a file the link points at.
        let secret = format!("{target}/secret");
        let tar = Tar::new()
            .symlink("f", &secret)
            .file("f", b"overwritten")
            .finish();
        let info = fx.unpack(&tar).unwrap();
        assert_eq!(
            fs::read(fx.store.diff_dir(&info.chain_id).join("f")).unwrap(),
            b"overwritten"
        );
        fx.store.remove(&info.chain_id).unwrap();
        // A directory entry, a whiteout and an opaque marker through the link.
        let tar = Tar::new().symlink("d", target).dir("d").finish();
        let info = fx.unpack(&tar).unwrap();
        assert!(fx.store.diff_dir(&info.chain_id).join("d").is_dir());
        fx.store.remove(&info.chain_id).unwrap();
        let tar = Tar::new()
            .symlink("w", target)
            .file("w/.wh.secret", b"")
            .finish();
        refused(&fx, &tar, "a dangling symlink is in the way");
        let tar = Tar::new()
            .symlink("o", target)
            .file("o/.wh..wh..opq", b"")
            .finish();
        refused(&fx, &tar, "a dangling symlink is in the way");

        fx.assert_outside_untouched();
        assert_eq!(lgetxattr(&out, "trusted.overlay.opaque").unwrap(), None);
    }
}

#[test]
fn symlink_to_root_stays_in_the_layer() {
    let fx = Fixture::new("symroot");
    let evil = format!("cove-evil-{}", std::process::id());
    let tar = Tar::new()
        .symlink("a", "/")
        .file(&format!("a/tmp/{evil}"), b"x")
        .finish();
    let info = fx.unpack(&tar).unwrap();
    assert!(!Path::new("/tmp").join(&evil).exists());
    let d = fx.store.diff_dir(&info.chain_id);
    assert_eq!(fs::read(d.join("tmp").join(&evil)).unwrap(), b"x");
    assert_eq!(fs::read_link(d.join("a")).unwrap().to_str(), Some("/"));
    fx.assert_outside_untouched();
}

#[test]
fn hardlinks_cannot_reach_outside() {
    let fx = Fixture::new("hard");
    let tar = Tar::new().hardlink("h", "../../../etc/passwd").finish();
    refused(
        &fx,
        &tar,
        r#"hard link target "../../../etc/passwd" escapes the layer"#,
    );

    let abs = fx.outside().to_str().unwrap().to_string();
    let rel = format!("../../../../../../../../..{abs}");
    for target in [abs.as_str(), rel.as_str()] {
        // Through a symlinked directory.
        let tar = Tar::new()
            .symlink("s", target)
            .hardlink("h", "s/secret")
            .finish();
        refused(&fx, &tar, "is not in this layer");
        // Straight at an absolute outside path: resolves inside the layer, where it is missing.
        let tar = Tar::new().hardlink("h", &format!("{abs}/secret")).finish();
        refused(&fx, &tar, "is not in this layer");
        // At a symlink that points outside: links the symlink itself, not what it points to.
        let secret = format!("{target}/secret");
        let tar = Tar::new().symlink("s", &secret).hardlink("h", "s").finish();
        let info = fx.unpack(&tar).unwrap();
        let h = fx.store.diff_dir(&info.chain_id).join("h");
        assert_eq!(fs::read_link(h).unwrap().to_str(), Some(secret.as_str()));
        fx.store.remove(&info.chain_id).unwrap();
        fx.assert_outside_untouched();
    }
}

#[test]
fn hardlink_to_a_directory_is_refused() {
    let fx = Fixture::new("harddir");
    let tar = Tar::new().dir("d").hardlink("h", "d").finish();
    refused(&fx, &tar, "is a directory");
}
