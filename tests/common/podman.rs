//! Rootless podman as a peer for interop tests: runc (crun refuses this host's cgroups), its
//! own root and run root in the test's dirs, the test's registries.conf and auth files.

use std::path::{Path, PathBuf};

use super::{Cove, Out};

pub struct Podman<'a> {
    c: &'a Cove,
    root: String,
    runroot: String,
    short: PathBuf,
}

impl Podman<'_> {
    /// podman for the user of `c` (which should be rootless).
    pub fn new(c: &Cove) -> Podman<'_> {
        c.write_config(
            "containers/containers.conf",
            "[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
        );
        c.write_config(
            "containers/storage.conf",
            "[storage]\ndriver = \"overlay\"\n",
        );
        // podman refuses a run root longer than 50 characters: a short one of its own.
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let short = PathBuf::from(format!("/tmp/cove-pr-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&short).unwrap();
        std::os::unix::fs::chown(&short, Some(c.uid), Some(c.gid)).unwrap();
        Podman {
            c,
            root: c.dir.join("podman-root").display().to_string(),
            runroot: short.display().to_string(),
            short,
        }
    }

    pub fn run(&self, args: &[&str]) -> Out {
        let mut all = vec!["--root", &self.root, "--runroot", &self.runroot];
        all.extend_from_slice(args);
        self.c
            .cmd(&all)
            .bin(Path::new("/usr/bin/podman"))
            .default_store()
            .run()
    }
}

impl Drop for Podman<'_> {
    fn drop(&mut self) {
        let _ = self.run(&["system", "reset", "-f"]);
        let _ = std::fs::remove_dir_all(&self.short);
    }
}
