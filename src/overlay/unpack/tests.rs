//! Unpacking ordinary layers: what goes in comes out with its modes, owners, times and xattrs.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

use tar::EntryType;

use crate::fsutil::lgetxattr;
use crate::overlay::testkit::{self, Fixture, Tar, E};
use crate::overlay::LayerStore;

mod hostile;
mod rootless;

#[test]
fn files_dirs_links_keep_their_metadata() {
    let fx = Fixture::new("meta");
    let tar = Tar::new()
        .add(E {
            kind: EntryType::Directory,
            path: "./",
            mode: 0o755,
            mtime: 1_000,
            ..E::default()
        })
        .add(E {
            kind: EntryType::Directory,
            path: "./etc/",
            mode: 0o750,
            uid: 12,
            gid: 34,
            mtime: 2_000,
            ..E::default()
        })
        .add(E {
            path: "./etc/app.conf",
            data: b"hello",
            mode: 0o640,
            uid: 1000,
            gid: 100,
            mtime: 3_000,
            ..E::default()
        })
        .add(E {
            path: "usr/bin/su",
            data: b"#!",
            mode: 0o4755,
            uid: 0,
            gid: 0,
            mtime: 4_000,
            ..E::default()
        })
        .add(E {
            kind: EntryType::Symlink,
            path: "etc/link",
            link: "/nowhere/at/all",
            uid: 5,
            gid: 6,
            mtime: 5_000,
            ..E::default()
        })
        .add(E {
            kind: EntryType::Link,
            path: "etc/hard",
            link: "./etc/app.conf",
            ..E::default()
        })
        .add(E {
            path: "x/attr",
            data: b"abc",
            pax: vec![
                ("SCHILY.xattr.user.note".into(), b"v1".to_vec()),
                ("SCHILY.xattr.trusted.overlay.opaque".into(), b"y".to_vec()),
                ("mtime".into(), b"1700000000.25".to_vec()),
                ("uid".into(), b"3000000".to_vec()),
            ],
            ..E::default()
        })
        .finish();
    let info = fx.unpack(&tar).unwrap();
    let d = fx.store.diff_dir(&info.chain_id);
    assert!(fx.store.exists(&info.chain_id));
    assert_eq!(info.size, 5 + 2 + 3);
    assert!(!info.squashed_ids);

    let etc = fs::metadata(d.join("etc")).unwrap();
    assert_eq!(etc.permissions().mode() & 0o7777, 0o750);
    assert_eq!((etc.uid(), etc.gid(), etc.mtime()), (12, 34, 2_000));
    let conf = fs::metadata(d.join("etc/app.conf")).unwrap();
    assert_eq!(conf.permissions().mode() & 0o7777, 0o640);
    assert_eq!((conf.uid(), conf.gid(), conf.mtime()), (1000, 100, 3_000));
    assert_eq!(conf.nlink(), 2);
    assert_eq!(fs::metadata(d.join("etc/hard")).unwrap().ino(), conf.ino());
    let su = fs::metadata(d.join("usr/bin/su")).unwrap();
    assert_eq!(su.permissions().mode() & 0o7777, 0o4755);
    // Implicit parents get 0755.
    assert_eq!(
        fs::metadata(d.join("usr")).unwrap().permissions().mode() & 0o7777,
        0o755
    );
    let link = fs::symlink_metadata(d.join("etc/link")).unwrap();
    assert!(link.file_type().is_symlink());
    assert_eq!((link.uid(), link.gid(), link.mtime()), (5, 6, 5_000));
    assert_eq!(
        fs::read_link(d.join("etc/link")).unwrap().to_str(),
        Some("/nowhere/at/all")
    );
    assert_eq!(fs::metadata(&d).unwrap().mtime(), 1_000);

    let attr = fs::metadata(d.join("x/attr")).unwrap();
    assert_eq!(
        (attr.mtime(), attr.mtime_nsec()),
        (1_700_000_000, 250_000_000)
    );
    assert_eq!(attr.uid(), 3_000_000);
    assert_eq!(
        lgetxattr(&d.join("x/attr"), "user.note").unwrap(),
        Some(b"v1".to_vec())
    );
    // A layer may not forge overlayfs attributes.
    assert_eq!(
        lgetxattr(&d.join("x/attr"), "trusted.overlay.opaque").unwrap(),
        None
    );
    assert!(info
        .skipped
        .iter()
        .any(|s| s.contains("trusted.overlay.opaque")));

    assert_eq!(fx.store.info(&info.chain_id).unwrap(), info);
    assert_eq!(fx.store.list().unwrap(), vec![info.chain_id.clone()]);
    fx.assert_outside_untouched();
}

#[test]
fn whiteouts_and_opaque_dirs() {
    let fx = Fixture::new("wh");
    let tar = Tar::new()
        .file("a/gone", b"x")
        .file("a/.wh.gone", b"")
        .file("a/.wh.lower", b"")
        .dir("b")
        .file("b/.wh..wh..opq", b"")
        .file("b/kept", b"k")
        .file(".wh..wh.plnk", b"")
        .finish();
    let info = fx.unpack(&tar).unwrap();
    let d = fx.store.diff_dir(&info.chain_id);
    for name in ["a/gone", "a/lower"] {
        let m = fs::symlink_metadata(d.join(name)).unwrap();
        assert!(m.file_type().is_char_device(), "{name}");
        assert_eq!(m.rdev(), 0);
    }
    assert!(!d.join("a/.wh.gone").exists());
    assert_eq!(
        lgetxattr(&d.join("b"), "trusted.overlay.opaque").unwrap(),
        Some(b"y".to_vec())
    );
    assert!(!d.join("b/.wh..wh..opq").exists());
    assert_eq!(fs::read(d.join("b/kept")).unwrap(), b"k");
    assert!(!d.join(".wh..wh.plnk").exists());
}

#[test]
fn rootless_stores_use_user_xattrs() {
    let fx = Fixture::new("userx");
    let store = LayerStore::open(fx.tmp.path().join("store/user"), true);
    let tar = Tar::new().dir("b").file("b/.wh..wh..opq", b"").finish();
    let id = testkit::digest(&tar);
    store.unpack(&id, &id, None, &mut &tar[..]).unwrap();
    let b = store.diff_dir(&id).join("b");
    assert_eq!(
        lgetxattr(&b, "user.overlay.opaque").unwrap(),
        Some(b"y".to_vec())
    );
    assert_eq!(lgetxattr(&b, "trusted.overlay.opaque").unwrap(), None);
}

#[test]
fn later_entries_replace_earlier_ones() {
    let fx = Fixture::new("replace");
    let tar = Tar::new()
        .file("f", b"one")
        .symlink("f", "/etc/passwd")
        .file("f", b"two")
        .dir("d")
        .file("d/child", b"c")
        .add(E {
            kind: EntryType::Directory,
            path: "d",
            mode: 0o700,
            ..E::default()
        })
        .file("gone-dir/x", b"")
        .file("gone-dir", b"now a file")
        .finish();
    let info = fx.unpack(&tar).unwrap();
    let d = fx.store.diff_dir(&info.chain_id);
    assert_eq!(fs::read(d.join("f")).unwrap(), b"two");
    // An existing directory stays (with its children) and takes the new mode.
    assert_eq!(fs::read(d.join("d/child")).unwrap(), b"c");
    assert_eq!(
        fs::metadata(d.join("d")).unwrap().permissions().mode() & 0o7777,
        0o700
    );
    assert_eq!(fs::read(d.join("gone-dir")).unwrap(), b"now a file");
}

#[test]
fn device_nodes_and_fifos() {
    let fx = Fixture::new("dev");
    let tar = Tar::new()
        .add(E {
            kind: EntryType::Char,
            path: "dev/null",
            mode: 0o666,
            dev: (1, 3),
            ..E::default()
        })
        .add(E {
            kind: EntryType::Fifo,
            path: "run/fifo",
            mode: 0o600,
            ..E::default()
        })
        .finish();
    let info = fx.unpack(&tar).unwrap();
    let d = fx.store.diff_dir(&info.chain_id);
    // As real root mknod works; rootless it is skipped and listed (see Unpacker::node).
    let null = fs::symlink_metadata(d.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), nix::sys::stat::makedev(1, 3));
    assert_eq!(null.permissions().mode() & 0o7777, 0o666);
    assert!(fs::symlink_metadata(d.join("run/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    assert!(info.skipped.is_empty());
}

#[test]
fn long_names_and_bad_owners() {
    let fx = Fixture::new("long");
    let long = format!("{}/{}", "d".repeat(120), "f".repeat(120));
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(2);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, &long, &b"ok"[..]).unwrap();
    let tar = b.into_inner().unwrap();
    let info = fx.unpack(&tar).unwrap();
    assert_eq!(
        fs::read(fx.store.diff_dir(&info.chain_id).join(&long)).unwrap(),
        b"ok"
    );

    let pax = vec![("uid".to_string(), b"4294967295".to_vec())];
    let tar = Tar::new()
        .add(E {
            path: "f",
            pax,
            ..E::default()
        })
        .finish();
    let err = fx.unpack(&tar).unwrap_err().to_string();
    assert!(
        err.contains(r#"entry "f": owner 4294967295:0 is out of range"#),
        "{err}"
    );
}
