//! `cp`'s archive and untar: special files become entries of their kind and are never read,
//! symlinks are never followed below the top, and a copy replaces nothing by something of
//! another kind.

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::Path;

use nix::sys::stat::Mode;
use tar::EntryType;

use super::testkit::{Tar, TempDir};
use super::{extract_host, ContainerRoot, Owners};

fn entries(data: &[u8]) -> Vec<(String, EntryType)> {
    let mut a = tar::Archive::new(data);
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.path().unwrap().display().to_string(),
                e.header().entry_type(),
            )
        })
        .collect()
}

#[test]
fn a_tree_keeps_links_and_fifos_as_entries() {
    let t = TempDir::new("cp-special");
    let top = t.path().join("d");
    fs::create_dir_all(top.join("sub")).unwrap();
    fs::write(top.join("sub/f"), "data").unwrap();
    symlink("/dev/zero", top.join("zero")).unwrap();
    // Would lead a walk that follows links to the host's /etc.
    symlink("/etc", top.join("sub/etc")).unwrap();
    nix::unistd::mkfifo(&top.join("fifo"), Mode::from_bits_truncate(0o644)).unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(top.join("sock")).unwrap();
    let root = ContainerRoot::open(t.path()).unwrap();
    let mut out = Vec::new();
    let report = root.archive("/d", false, Path::new("d"), &mut out).unwrap();
    assert_eq!(
        report.skipped,
        ["d/sock: socket"],
        "tar has no socket entry"
    );
    assert_eq!(
        entries(&out),
        [
            ("d".to_string(), EntryType::Directory),
            ("d/fifo".to_string(), EntryType::Fifo),
            ("d/sub".to_string(), EntryType::Directory),
            ("d/sub/etc".to_string(), EntryType::Symlink),
            ("d/sub/f".to_string(), EntryType::Regular),
            ("d/zero".to_string(), EntryType::Symlink),
        ]
    );
    // The link named as the source is the link; followed, it resolves inside the root.
    let mut out = Vec::new();
    root.archive("/d/zero", false, Path::new("z"), &mut out)
        .unwrap();
    assert_eq!(entries(&out), [("z".to_string(), EntryType::Symlink)]);
    let err = root
        .archive("/d/zero", true, Path::new("z"), &mut Vec::new())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Could not find the file /d/zero in container"
    );
}

#[test]
fn a_copy_never_replaces_a_directory_and_keeps_wh_names() {
    let t = TempDir::new("cp-untar");
    let dest = t.path().join("dest");
    fs::create_dir_all(dest.join("keep")).unwrap();
    fs::write(dest.join("keep/precious"), "x").unwrap();
    fs::write(dest.join("gone"), "still here").unwrap();
    let tar = Tar::new().file("keep", b"file").finish();
    let err = extract_host(&dest, &mut &tar[..]).unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot overwrite a directory with a non-directory"),
        "{err}"
    );
    assert!(dest.join("keep/precious").exists());
    // A layer's whiteout is an ordinary name to cp.
    let tar = Tar::new().file(".wh.gone", b"").finish();
    extract_host(&dest, &mut &tar[..]).unwrap();
    assert!(dest.join(".wh.gone").is_file());
    assert_eq!(fs::read_to_string(dest.join("gone")).unwrap(), "still here");
}

#[test]
fn a_copy_into_a_container_sets_the_owners_asked_for() {
    let t = TempDir::new("cp-owners");
    fs::create_dir(t.path().join("tmp")).unwrap();
    let root = ContainerRoot::open(t.path()).unwrap();
    let mut b = Tar::new();
    b.add(super::testkit::E {
        path: "f",
        data: b"x",
        mode: 0o644,
        uid: 4321,
        gid: 8765,
        ..Default::default()
    });
    let tar = b.finish();
    root.extract("/tmp", &mut &tar[..], Owners::Fixed(0, 0))
        .unwrap();
    let meta = fs::metadata(t.path().join("tmp/f")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (0, 0));
    fs::remove_file(t.path().join("tmp/f")).unwrap();
    root.extract("/tmp", &mut &tar[..], Owners::FromTar)
        .unwrap();
    let meta = fs::metadata(t.path().join("tmp/f")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (4321, 8765));
}

#[test]
fn a_cut_copy_leaves_the_old_file_and_no_temp() {
    let t = TempDir::new("cp-cut");
    let dest = t.path().join("dest");
    fs::create_dir_all(&dest).unwrap();
    fs::write(dest.join("f"), "old").unwrap();
    let data = vec![b'n'; 64 * 1024];
    let tar = Tar::new().file("f", &data).finish();
    // The stream ends inside the file's data, as a full disk or a killed source ends it.
    let cut = &tar[..8 * 1024];
    assert!(extract_host(&dest, &mut &cut[..]).is_err());
    assert_eq!(fs::read_to_string(dest.join("f")).unwrap(), "old");
    let names: Vec<_> = fs::read_dir(&dest)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, ["f"], "a temp file is left");
    extract_host(&dest, &mut &tar[..]).unwrap();
    assert_eq!(fs::read(dest.join("f")).unwrap(), data);
}
