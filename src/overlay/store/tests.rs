//! The store protocol: digest checks, temp-and-rename, locks, removal and stale clean-up.

use std::fs;
use std::io::{self, BufReader, Cursor, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};

use crate::overlay::testkit::{digest, Fixture, Tar};
use crate::overlay::{chain_ids, decompress, LayerStore};

fn layer_names(fx: &Fixture) -> Vec<String> {
    let layers = fx.tmp.path().join("store/overlay/layers");
    let mut names: Vec<String> = fs::read_dir(layers)
        .map(|r| {
            r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn wrong_diff_id_leaves_nothing() {
    let fx = Fixture::new("badsum");
    let tar = Tar::new().file("a", b"data").finish();
    let wrong = digest(b"something else");
    let err = fx
        .store
        .unpack(&wrong, &wrong, None, &mut &tar[..])
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not match its digest"), "{err}");
    assert!(!fx.store.exists(&wrong));
    assert!(layer_names(&fx).is_empty(), "{:?}", layer_names(&fx));
}

#[test]
fn digest_covers_padding_after_the_archive() {
    let fx = Fixture::new("pad");
    let mut tar = Tar::new().file("a", b"data").finish();
    tar.extend(vec![0u8; 10240]);
    let info = fx.unpack(&tar).unwrap();
    assert_eq!(info.diff_id, digest(&tar));
    assert_eq!(
        layer_names(&fx),
        vec![info.diff_id.trim_start_matches("sha256:").to_string()]
    );
}

#[test]
fn layers_stack_by_chain_id_and_existing_ones_read_nothing() {
    let fx = Fixture::new("chain");
    let l0 = Tar::new().file("a", b"0").finish();
    let l1 = Tar::new().file("b", b"11").finish();
    let diffs = vec![digest(&l0), digest(&l1)];
    let chains = chain_ids(&diffs);
    fx.store
        .unpack(&chains[0], &diffs[0], None, &mut &l0[..])
        .unwrap();
    let info = fx
        .store
        .unpack(&chains[1], &diffs[1], Some(&chains[0]), &mut &l1[..])
        .unwrap();
    assert_eq!(info.parent.as_deref(), Some(chains[0].as_str()));
    assert_eq!(info.size, 2);
    assert!(fs::read(fx.store.diff_dir(&chains[1]).join("a")).is_err());

    struct Untouchable;
    impl Read for Untouchable {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            panic!("an existing layer must not be read again");
        }
    }
    let again = fx
        .store
        .unpack(&chains[1], &diffs[1], Some(&chains[0]), &mut Untouchable)
        .unwrap();
    assert_eq!(again, info);
    let mut want = chains.clone();
    want.sort();
    assert_eq!(fx.store.list().unwrap(), want);
}

#[test]
fn two_threads_unpack_one_layer_once() {
    let fx = Fixture::new("race");
    let tar = Arc::new(Tar::new().file("big", &vec![7u8; 1 << 20]).finish());
    let id = digest(&tar);
    let store = Arc::new(LayerStore::open(fx.tmp.path().join("store/overlay"), false));
    let readers = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(Barrier::new(2));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (tar, id, store, readers, barrier) = (
                tar.clone(),
                id.clone(),
                store.clone(),
                readers.clone(),
                barrier.clone(),
            );
            std::thread::spawn(move || {
                struct Counting<'a>(&'a [u8], bool, Arc<AtomicU64>);
                impl Read for Counting<'_> {
                    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                        if !self.1 {
                            self.1 = true;
                            self.2.fetch_add(1, Ordering::SeqCst);
                        }
                        self.0.read(buf)
                    }
                }
                barrier.wait();
                store
                    .unpack(&id, &id, None, &mut Counting(&tar, false, readers))
                    .unwrap()
            })
        })
        .collect();
    let infos: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(infos[0], infos[1]);
    assert_eq!(readers.load(Ordering::SeqCst), 1);
    assert_eq!(
        layer_names(&fx),
        vec![id.trim_start_matches("sha256:").to_string()]
    );
}

#[test]
fn compressed_blobs_unpack_through_decompress() {
    let fx = Fixture::new("gz");
    let tar = Tar::new().file("etc/os-release", b"ID=cove\n").finish();
    let id = digest(&tar);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let blobs = [
        gz.finish().unwrap(),
        zstd::encode_all(&tar[..], 3).unwrap(),
        tar.clone(),
    ];
    for blob in blobs {
        let mut r = decompress(Box::new(BufReader::new(Cursor::new(blob)))).unwrap();
        fx.store.unpack(&id, &id, None, &mut r).unwrap();
        let release = fs::read(fx.store.diff_dir(&id).join("etc/os-release")).unwrap();
        assert_eq!(release, b"ID=cove\n");
        fx.store.remove(&id).unwrap();
    }
}

#[test]
fn remove_and_clean_stale() {
    let fx = Fixture::new("rm");
    let tar = Tar::new().dir("ro").file("ro/f", b"x").finish();
    let info = fx.unpack(&tar).unwrap();
    fx.store.remove(&info.chain_id).unwrap();
    assert!(!fx.store.exists(&info.chain_id));
    fx.store.remove(&info.chain_id).unwrap();
    assert!(fx
        .store
        .info(&info.chain_id)
        .unwrap_err()
        .to_string()
        .contains("no such layer"));

    // Leftovers of a dead process go; those of a process working on its layer (it holds
    // the layer's lock) stay, whatever pid they name.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let layers = fx.tmp.path().join("store/overlay/layers");
    let hex = "ab".repeat(32);
    for name in [format!(".tmp-{hex}-{dead}"), format!(".trash-{hex}-{dead}")] {
        fs::create_dir_all(layers.join(&name).join("diff/sub")).unwrap();
    }
    let busy = "cd".repeat(32);
    let mine = format!(".tmp-{busy}-{dead}");
    fs::create_dir_all(layers.join(&mine)).unwrap();
    let lock = fx
        .tmp
        .path()
        .join(format!("store/overlay/locks/{busy}.lock"));
    let held = crate::fsutil::Lock::exclusive(&lock).unwrap();
    fx.store.clean_stale().unwrap();
    assert_eq!(layer_names(&fx), vec![mine]);
    drop(held);
    fx.store.clean_stale().unwrap();
    assert!(layer_names(&fx).is_empty());
}

#[test]
fn invalid_ids_are_refused() {
    let fx = Fixture::new("ids");
    let tar = Tar::new().finish();
    let err = fx
        .store
        .unpack("sha256:../../x", &digest(&tar), None, &mut &tar[..]);
    assert!(err.unwrap_err().to_string().contains("invalid layer id"));
    assert!(!fx.store.exists("../.."));
    assert!(fx.store.remove("nope").is_err());
}
