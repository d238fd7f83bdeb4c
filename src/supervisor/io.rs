//! Small I/O helpers of the supervisor and its clients: writing to a reader that may leave,
//! and unix socket paths longer than `sun_path` allows.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Write all of `data` to a blocking writer, treating a closed reader as done.
pub fn write_out(w: &mut dyn Write, data: &[u8]) -> io::Result<()> {
    match w.write_all(data).and_then(|_| w.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Call `f` with a path to `path` short enough for a unix socket address.
pub fn with_short_path<T>(path: &Path, f: impl FnOnce(&Path) -> io::Result<T>) -> io::Result<T> {
    if path.as_os_str().len() < 100 {
        return f(path);
    }
    let dir = File::open(path.parent().unwrap_or(Path::new("/")))?;
    let name = path.file_name().unwrap_or_default();
    f(&PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd())).join(name))
}
