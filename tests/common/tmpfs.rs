//! A small tmpfs to stand in for a full disk: mounted under a test's dir, owned by the user
//! cove runs as, filled on demand, grown with a remount, unmounted on drop (even on panic).

use std::io::Write;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::Cove;

pub struct Tmpfs {
    pub dir: PathBuf,
}

impl Tmpfs {
    /// A tmpfs of `kib` KiB at `<test dir>/<name>`, owned (0700) by `c`'s user.
    pub fn mount(c: &Cove, name: &str, kib: u64) -> Tmpfs {
        let dir = c.dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        super::sh(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={kib}k,mode=0700"),
                "tmpfs",
                dir.to_str().unwrap(),
            ],
        );
        let fs = Tmpfs { dir };
        chown(&fs.dir, Some(c.uid), Some(c.gid)).unwrap();
        fs
    }

    /// A directory on it, owned (0700) by `c`'s user: a `--root` or `--runroot`.
    pub fn subdir(&self, c: &Cove, name: &str) -> PathBuf {
        let d = self.dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        chown(&d, Some(c.uid), Some(c.gid)).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        d
    }

    /// Writes zeros to `fill` until the file system is full.
    pub fn fill(&self) {
        let mut f = std::fs::File::create(self.fill_path()).unwrap();
        let chunk = vec![0u8; 4096];
        while f.write_all(&chunk).is_ok() {}
        // The last partial page: one byte at a time.
        while f.write_all(&[0]).is_ok() {}
        let _ = f.flush();
    }

    /// Writes zeros to `fill` until only `kib` KiB are free.
    pub fn fill_leaving(&self, kib: u64) {
        let free = self.free_kib();
        assert!(free >= kib, "only {free} KiB free, {kib} KiB wanted");
        let mut f = std::fs::File::create(self.fill_path()).unwrap();
        let chunk = vec![0u8; 1024];
        for _ in 0..free - kib {
            f.write_all(&chunk).unwrap();
        }
        f.sync_all().unwrap();
        assert_eq!(self.free_kib(), kib, "tmpfs counts in pages");
    }

    /// Removes what `fill` wrote.
    pub fn unfill(&self) {
        let _ = std::fs::remove_file(self.fill_path());
    }

    fn fill_path(&self) -> PathBuf {
        self.dir.join("fill")
    }

    /// Grows (or shrinks) it to `kib` KiB, keeping what is on it.
    pub fn resize(&self, kib: u64) {
        super::sh(
            "mount",
            &[
                "-o",
                &format!("remount,size={kib}k"),
                self.dir.to_str().unwrap(),
            ],
        );
    }

    /// KiB used.
    pub fn used_kib(&self) -> u64 {
        let st = nix::sys::statvfs::statvfs(&self.dir).unwrap();
        (st.blocks() - st.blocks_free()) * st.fragment_size() / 1024
    }

    /// KiB free.
    pub fn free_kib(&self) -> u64 {
        let st = nix::sys::statvfs::statvfs(&self.dir).unwrap();
        st.blocks_available() * st.fragment_size() / 1024
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Monitors of containers stored here (a --root or --runroot on it) would keep it
        // busy, and a pause process named only by a pid file here would outlive the test.
        for m in super::ctr::monitors(&self.dir.display().to_string()) {
            let tree = super::ctr::descendants(m);
            for p in std::iter::once(m).chain(tree) {
                let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
            }
        }
        for e in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            super::cove::kill_pause(&e.path().join("pause.pid"));
        }
        let dir = self.dir.to_string_lossy().into_owned();
        let ok = Command::new("umount")
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").args(["-l", &dir]).status();
        }
    }
}
