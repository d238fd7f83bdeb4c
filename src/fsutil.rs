//! Small helpers shared by every store and process: atomic writes, advisory locks, extended
//! attributes, /dev/null, tree walks and removal of any depth, and the short form of IDs and
//! sizes as docker prints them.

mod sys;
pub mod tree;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg, OFlag};
use nix::sys::stat::Mode;

pub use sys::{fsetxattr, lgetxattr, llistxattr, lsetxattr};

/// Write `data` to `path` so that readers see either the old file or the whole new one:
/// a temporary file in the same directory, fsync, then rename over the target.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let tmp = temp_sibling(path);
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Serialize `value` as pretty JSON and write it atomically.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let data = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    write_atomic(path, &data)
}

/// A name beside `path` for a temporary file: `.name.tmp-PID-N`.
pub fn temp_sibling(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// The pid in a name made by `temp_sibling` (`.name.tmp-PID-N`); None for other names.
pub fn temp_owner(name: &str) -> Option<u32> {
    let (_, rest) = name.rsplit_once(".tmp-")?;
    let (pid, n) = rest.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// True while a process with this pid exists (a zombie counts).
pub fn pid_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// An exclusive advisory lock (flock) held until dropped.
pub struct Lock {
    _flock: Flock<File>,
    path: PathBuf,
}

impl Lock {
    /// Block until the lock file at `path` is ours; the file is created when missing. The
    /// lock held is always the one on the file the path names now: a lock file unlinked by
    /// its holder (`remove`) while we waited is let go of, and the new one taken.
    pub fn exclusive(path: &Path) -> io::Result<Lock> {
        Self::take(path, FlockArg::LockExclusive)?
            .ok_or_else(|| io::Error::from(io::ErrorKind::WouldBlock))
    }

    /// Block until a shared hold on `path` is ours (many holders at once, none exclusive).
    pub fn shared(path: &Path) -> io::Result<Lock> {
        Self::take(path, FlockArg::LockShared)?
            .ok_or_else(|| io::Error::from(io::ErrorKind::WouldBlock))
    }

    /// `exclusive` without waiting: None while someone else holds it.
    pub fn try_exclusive(path: &Path) -> io::Result<Option<Lock>> {
        Self::take(path, FlockArg::LockExclusiveNonblock)
    }

    fn take(path: &Path, arg: FlockArg) -> io::Result<Option<Lock>> {
        use std::os::unix::fs::MetadataExt;
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        loop {
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .read(true)
                .open(path)?;
            let flock = match Flock::lock(file, arg) {
                Ok(flock) => flock,
                Err((_, nix::errno::Errno::EWOULDBLOCK)) => return Ok(None),
                Err((_, errno)) => return Err(io::Error::from(errno)),
            };
            let held = flock.metadata()?;
            match fs::metadata(path) {
                Ok(now) if (now.dev(), now.ino()) == (held.dev(), held.ino()) => {
                    return Ok(Some(Lock {
                        _flock: flock,
                        path: path.to_path_buf(),
                    }))
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Unlink the lock file while holding it: whoever waits on it then takes a new one, and
    /// finds that what it guarded is gone.
    pub fn remove(&self) -> io::Result<()> {
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// /dev/null for reading (a stdin) or for writing (a stdout or stderr), close-on-exec.
pub fn open_null(write: bool) -> io::Result<OwnedFd> {
    OpenOptions::new()
        .read(!write)
        .write(write)
        .open("/dev/null")
        .map(OwnedFd::from)
}

/// Point descriptors 0, 1 and 2 at /dev/null (left as they are if it cannot be opened). No
/// allocation, so a forked child may call it before exec.
pub fn stdio_to_null() {
    let Ok(null) = nix::fcntl::open("/dev/null", OFlag::O_RDWR, Mode::empty()) else {
        return;
    };
    for target in 0..=2 {
        if null != target {
            let _ = nix::unistd::dup2(null, target);
        }
    }
    if null > 2 {
        let _ = nix::unistd::close(null);
    }
}

/// docker's `stringid.TruncateID`: drop an `algo:` prefix, keep 12 characters.
pub fn short_id(id: &str) -> &str {
    let hex = id.split_once(':').map_or(id, |(_, h)| h);
    hex.char_indices().nth(12).map_or(hex, |(i, _)| &hex[..i])
}

/// Human-readable size as docker prints it: decimal units, 3 significant digits ("4.2MB").
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    // docker uses %.3g: 3 significant digits, trailing zeros dropped.
    let digits = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    let mut s = format!("{value:.digits$}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    format!("{s}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_removed_by_its_holder_is_not_held_by_a_waiter() {
        let dir = std::env::temp_dir().join(format!("cove-lock-test-{}", std::process::id()));
        let path = dir.join("l");
        let held = Lock::exclusive(&path).unwrap();
        assert!(Lock::try_exclusive(&path).unwrap().is_none(), "held");
        let waiter = {
            let path = path.clone();
            std::thread::spawn(move || Lock::exclusive(&path).map(|_| ()))
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        held.remove().unwrap();
        // The waiter wakes on the unlinked file, lets go of it and takes a new one.
        drop(held);
        waiter.join().unwrap().unwrap();
        assert!(path.exists(), "the waiter's own lock file");
        let again = Lock::try_exclusive(&path).unwrap();
        assert!(again.is_some(), "free once the waiter let go");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ids_are_cut_like_dockers() {
        let digest = "sha256:a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824";
        assert_eq!(short_id(digest), "a416a98b71e2");
        assert_eq!(short_id("a416a98b71e224a3"), "a416a98b71e2");
        assert_eq!(short_id("abc"), "abc");
    }

    #[test]
    fn sizes_look_like_dockers() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(4_200_000), "4.2MB");
        assert_eq!(human_size(1_234_567), "1.23MB");
        assert_eq!(human_size(77_800_000), "77.8MB");
        assert_eq!(human_size(123_456_789), "123MB");
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = std::env::temp_dir().join(format!("cove-fsutil-{}", std::process::id()));
        let path = dir.join("x.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn temp_names_carry_their_pid() {
        let t = temp_sibling(Path::new("/x/config.json"));
        let name = t.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(temp_owner(&name), Some(std::process::id()));
        assert_eq!(temp_owner(".abc.tmp-123-0"), Some(123));
        assert_eq!(temp_owner("abcdef"), None);
        assert_eq!(temp_owner(".a.tmp-1"), None);
    }

    #[test]
    fn try_exclusive_fails_while_shared_is_held() {
        let dir = std::env::temp_dir().join(format!("cove-lock-{}", std::process::id()));
        let path = dir.join("l.lock");
        let a = Lock::shared(&path).unwrap();
        let b = Lock::shared(&path).unwrap();
        assert!(Lock::try_exclusive(&path).unwrap().is_none());
        drop((a, b));
        let held = Lock::try_exclusive(&path).unwrap();
        assert!(held.is_some());
        assert!(Lock::try_exclusive(&path).unwrap().is_none());
        drop(held);
        fs::remove_dir_all(&dir).unwrap();
    }
}
