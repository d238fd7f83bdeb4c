//! The layer store's errors (their errno and path, and the one line they always printed), chain
//! IDs and digest checks.

use std::fs;
use std::io;
use std::path::Path;

use nix::errno::Errno;

use super::testkit::{digest, Fixture, Tar, TempDir};
use super::unpack::unpack_tree;
use super::{chain_ids, digest_hex, hex, ContainerRoot, Error, LayerStore};
use sha2::{Digest, Sha256};

#[test]
fn display_is_the_operation_then_the_cause() {
    let enospc = io::Error::from_raw_os_error(Errno::ENOSPC as i32);
    let e = Error::io("creating /x/y", Some(Path::new("/x/y")), &enospc);
    assert_eq!(
        e.to_string(),
        "creating /x/y: No space left on device (os error 28)"
    );
    assert_eq!(e.op(), "creating /x/y");
    assert_eq!(e.errno(), Some(Errno::ENOSPC));
    assert_eq!(e.path(), Some(Path::new("/x/y")));

    let e = Error::sys(
        "cannot open directory \"a\"",
        Some(Path::new("a")),
        Errno::EACCES,
    )
    .within("layer sha256:0123456789ab");
    assert_eq!(
        e.to_string(),
        "layer sha256:0123456789ab: cannot open directory \"a\": Permission denied"
    );
    assert_eq!(e.errno(), Some(Errno::EACCES));
    assert_eq!(e.path(), Some(Path::new("a")));

    let e = Error::new("no such layer: sha256:x");
    assert_eq!(e.to_string(), "no such layer: sha256:x");
    assert_eq!((e.errno(), e.path()), (None, None));

    // An io::Error that is no OS error keeps its own text, and has no errno.
    let eof = io::Error::new(io::ErrorKind::UnexpectedEof, "failed to fill whole buffer");
    let e = Error::io("reading layer tar", None, &eof);
    assert_eq!(
        e.to_string(),
        "reading layer tar: failed to fill whole buffer"
    );
    assert_eq!(e.errno(), None);
}

#[test]
fn unpacking_into_a_missing_dir_is_enoent_with_the_path() {
    let t = TempDir::new("err-missing");
    let dest = t.path().join("nope");
    let tar = Tar::new().file("a", b"x").finish();
    let err = unpack_tree(&dest, &mut &tar[..], "user.overlay.opaque").unwrap_err();
    assert_eq!(err.errno(), Some(Errno::ENOENT));
    assert_eq!(err.path(), Some(dest.as_path()));
    assert_eq!(
        err.to_string(),
        format!("cannot open {}: No such file or directory", dest.display())
    );
}

#[test]
fn a_store_below_a_file_is_enotdir_with_the_path() {
    let t = TempDir::new("err-file");
    let file = t.path().join("file");
    fs::write(&file, b"").unwrap();
    let store = LayerStore::open(file.join("overlay"), true);
    let tar = Tar::new().file("a", b"x").finish();
    let id = digest(&tar);
    let err = store.unpack(&id, &id, None, &mut &tar[..]).unwrap_err();
    let lock = file
        .join("overlay/locks")
        .join(format!("{}.lock", &id["sha256:".len()..]));
    assert_eq!(err.errno(), Some(Errno::ENOTDIR), "{err}");
    assert_eq!(err.path(), Some(lock.as_path()));
    assert_eq!(
        err.to_string(),
        format!("locking {}: Not a directory (os error 20)", lock.display())
    );
}

#[test]
fn entry_errors_keep_the_entry_and_errno() {
    let fx = Fixture::new("err-link");
    let tar = Tar::new().hardlink("h", "missing").finish();
    let err = fx.unpack(&tar).unwrap_err();
    let short = &digest(&tar)["sha256:".len()..][..12];
    assert_eq!(
        err.to_string(),
        format!(
            "layer sha256:{short}: entry \"h\": hard link target \"missing\" is not in this layer"
        )
    );
    assert_eq!(err.errno(), Some(Errno::ENOENT));
    assert_eq!(err.path(), Some(Path::new("h")));
}

#[test]
fn a_missing_layer_is_enoent() {
    let fx = Fixture::new("err-info");
    let id = format!("sha256:{}", "a".repeat(64));
    let err = fx.store.info(&id).unwrap_err();
    assert_eq!(err.to_string(), format!("no such layer: {id}"));
    assert_eq!(err.errno(), Some(Errno::ENOENT));
}

#[test]
fn a_path_missing_in_a_container_is_enoent_with_the_path() {
    let t = TempDir::new("err-root");
    let root = ContainerRoot::open(t.path()).unwrap();
    let err = root
        .archive("/nope", false, Path::new("nope"), &mut io::sink())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Could not find the file /nope in container"
    );
    assert_eq!(err.errno(), Some(Errno::ENOENT));
    assert_eq!(err.path(), Some(Path::new("/nope")));

    let gone = t.path().join("gone");
    let err = ContainerRoot::open(&gone).err().unwrap();
    assert_eq!(err.errno(), Some(Errno::ENOENT));
    assert_eq!(err.path(), Some(gone.as_path()));
    assert_eq!(
        err.to_string(),
        format!(
            "cannot open the container's root {}: No such file or directory (os error 2)",
            gone.display()
        )
    );
}

#[test]
fn chain_ids_follow_the_oci_rule() {
    let a = format!("sha256:{}", "a".repeat(64));
    let b = format!("sha256:{}", "b".repeat(64));
    let ids = chain_ids(&[a.clone(), b.clone()]);
    assert_eq!(ids[0], a);
    let want = hex(&Sha256::digest(format!("{a} {b}").as_bytes()));
    assert_eq!(ids[1], format!("sha256:{want}"));
    assert!(chain_ids(&[]).is_empty());
}

#[test]
fn digests_are_validated() {
    assert!(digest_hex(&format!("sha256:{}", "0".repeat(64))).is_some());
    assert!(digest_hex("sha256:../../etc").is_none());
    assert!(digest_hex(&format!("sha256:{}", "A".repeat(64))).is_none());
    assert!(digest_hex(&"0".repeat(64)).is_none());
}
