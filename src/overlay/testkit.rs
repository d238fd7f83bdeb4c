//! Test helpers: in-memory layer tars (hostile names included) and throwaway directories.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

use super::{hex, Error, LayerInfo, LayerStore};

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("cove-ov-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub fn digest(data: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(data)))
}

/// Builds tars entry by entry, writing names raw so that `..` and absolute names get through.
pub struct Tar {
    b: tar::Builder<Vec<u8>>,
}

pub struct E<'a> {
    pub kind: EntryType,
    pub path: &'a str,
    pub link: &'a str,
    pub data: &'a [u8],
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub dev: (u32, u32),
    pub pax: Vec<(String, Vec<u8>)>,
}

impl Default for E<'_> {
    fn default() -> Self {
        E {
            kind: EntryType::Regular,
            path: "",
            link: "",
            data: b"",
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 1_600_000_000,
            dev: (0, 0),
            pax: Vec::new(),
        }
    }
}

fn raw_name(field: &mut [u8], s: &str) {
    assert!(s.len() < field.len(), "test name too long: {s}");
    field.fill(0);
    field[..s.len()].copy_from_slice(s.as_bytes());
}

impl Tar {
    pub fn new() -> Tar {
        Tar {
            b: tar::Builder::new(Vec::new()),
        }
    }

    pub fn add(&mut self, e: E) -> &mut Tar {
        if !e.pax.is_empty() {
            let mut body = Vec::new();
            for (k, v) in &e.pax {
                body.extend(pax_record(k, v));
            }
            let mut h = Header::new_ustar();
            h.set_entry_type(EntryType::XHeader);
            raw_name(&mut h.as_old_mut().name, "PaxHeaders/x");
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            self.b.append(&h, &body[..]).unwrap();
        }
        let mut h = Header::new_ustar();
        h.set_entry_type(e.kind);
        raw_name(&mut h.as_old_mut().name, e.path);
        raw_name(&mut h.as_old_mut().linkname, e.link);
        h.set_mode(e.mode);
        h.set_uid(e.uid);
        h.set_gid(e.gid);
        h.set_mtime(e.mtime);
        h.set_size(e.data.len() as u64);
        h.set_device_major(e.dev.0).unwrap();
        h.set_device_minor(e.dev.1).unwrap();
        h.set_cksum();
        self.b.append(&h, e.data).unwrap();
        self
    }

    pub fn file(&mut self, path: &str, data: &[u8]) -> &mut Tar {
        self.add(E {
            path,
            data,
            ..E::default()
        })
    }

    pub fn dir(&mut self, path: &str) -> &mut Tar {
        self.add(E {
            kind: EntryType::Directory,
            path,
            mode: 0o755,
            ..E::default()
        })
    }

    pub fn symlink(&mut self, path: &str, link: &str) -> &mut Tar {
        self.add(E {
            kind: EntryType::Symlink,
            path,
            link,
            mode: 0o777,
            ..E::default()
        })
    }

    pub fn hardlink(&mut self, path: &str, link: &str) -> &mut Tar {
        self.add(E {
            kind: EntryType::Link,
            path,
            link,
            ..E::default()
        })
    }

    pub fn finish(&mut self) -> Vec<u8> {
        let b = std::mem::replace(&mut self.b, tar::Builder::new(Vec::new()));
        b.into_inner().unwrap()
    }
}

fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    // "<len> <key>=<value>\n" where len counts itself.
    let rest = key.len() + value.len() + 3;
    let mut len = rest + 1;
    while format!("{len}").len() + rest != len {
        len += 1;
    }
    let mut out = format!("{len} {key}=").into_bytes();
    out.extend_from_slice(value);
    out.push(b'\n');
    out
}

/// A store in a fresh temp dir, plus a sentinel directory beside it that no layer may touch.
pub struct Fixture {
    pub tmp: TempDir,
    pub store: LayerStore,
}

impl Fixture {
    pub fn new(tag: &str) -> Fixture {
        let tmp = TempDir::new(tag);
        let sentinel = tmp.path().join("outside");
        fs::create_dir_all(&sentinel).unwrap();
        fs::write(sentinel.join("secret"), b"keep").unwrap();
        let store = LayerStore::open(tmp.path().join("store/overlay"), false);
        Fixture { tmp, store }
    }

    pub fn outside(&self) -> PathBuf {
        self.tmp.path().join("outside")
    }

    /// Unpack `tar` as a single-layer image (chain ID = diff ID).
    pub fn unpack(&self, tar: &[u8]) -> Result<LayerInfo, Error> {
        let id = digest(tar);
        self.store.unpack(&id, &id, None, &mut &tar[..])
    }

    /// Everything outside the store: the sentinel must still hold exactly its one file.
    pub fn assert_outside_untouched(&self) {
        let names: Vec<_> = fs::read_dir(self.outside())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("secret")]);
        assert_eq!(fs::read(self.outside().join("secret")).unwrap(), b"keep");
        let top: Vec<_> = fs::read_dir(self.tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let mut top = top;
        top.sort();
        assert_eq!(top, vec!["outside".to_string(), "store".to_string()]);
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            fs::metadata(self.outside().join("secret")).unwrap().nlink(),
            1
        );
    }
}
