//! Rootless unpacking, reproduced with a single-ID user namespace (`unshare --map-root-user`):
//! foreign owners are squashed, device nodes skipped, whiteouts and user.overlay.* still work.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::process::Command;

use tar::EntryType;

use crate::fsutil::lgetxattr;
use crate::overlay::testkit::{digest, Tar, TempDir, E};
use crate::overlay::LayerStore;

const INNER: &str = "overlay::unpack::tests::rootless::inside_user_namespace";
const ENV: &str = "COVE_TEST_IN_USERNS";

#[test]
fn single_id_user_namespace() {
    let probe = Command::new("unshare")
        .args(["--user", "--map-root-user", "true"])
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("skipped: cannot create a user namespace here");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args(["--user", "--map-root-user"])
        .arg(exe)
        .args([
            INNER,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ENV, "1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "{text}");
}

#[test]
#[ignore = "run by single_id_user_namespace inside a user namespace"]
fn inside_user_namespace() {
    if std::env::var_os(ENV).is_none() {
        return;
    }
    let tmp = TempDir::new("userns");
    let store = LayerStore::open(tmp.path().join("overlay"), true);
    let tar = Tar::new()
        .add(E {
            path: "home/u/file",
            data: b"mine",
            uid: 1000,
            gid: 1000,
            mode: 0o600,
            ..E::default()
        })
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
        .add(E {
            path: "x",
            pax: vec![
                ("SCHILY.xattr.trusted.foo".into(), b"1".to_vec()),
                ("SCHILY.xattr.user.bar".into(), b"2".to_vec()),
            ],
            ..E::default()
        })
        .file("etc/.wh.passwd", b"")
        .dir("opt")
        .file("opt/.wh..wh..opq", b"")
        .finish();
    let id = digest(&tar);
    let info = store.unpack(&id, &id, None, &mut &tar[..]).unwrap();
    let d = store.diff_dir(&id);
    assert!(info.squashed_ids);
    let file = fs::metadata(d.join("home/u/file")).unwrap();
    assert_eq!((file.uid(), file.mode() & 0o7777), (0, 0o600));
    assert!(
        info.skipped.contains(&"dev/null: device node".to_string()),
        "{:?}",
        info.skipped
    );
    assert!(!d.join("dev/null").exists());
    assert!(
        info.skipped
            .iter()
            .any(|s| s.starts_with("x: xattr trusted.foo")),
        "{:?}",
        info.skipped
    );
    assert_eq!(
        lgetxattr(&d.join("x"), "user.bar").unwrap(),
        Some(b"2".to_vec())
    );
    assert!(fs::symlink_metadata(d.join("run/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    let wh = fs::symlink_metadata(d.join("etc/passwd")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);
    assert_eq!(
        lgetxattr(&d.join("opt"), "user.overlay.opaque").unwrap(),
        Some(b"y".to_vec())
    );
    store.remove(&id).unwrap();
}
