//! `system check`: what a crash or a full disk left in the store, found and, when asked,
//! repaired. Each check lists findings, each finding carries the repair it needs (or why
//! there is none) as data; the repairs run afterwards, every one under the lock the rest
//! of cove takes to change the same thing, and never on what a running container uses or
//! an intact image needs.

mod containers;
mod images;
mod mounts;

use std::path::PathBuf;
use std::time::Duration;

use crate::container::ContainerStore;
use crate::error::Result;
use crate::image::ImageStore;
use crate::overlay::LayerStore;
use crate::paths::Paths;

/// What to look at and what to do.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Fix what is found.
    pub repair: bool,
    /// Skip re-hashing every blob (the slow part).
    pub quick: bool,
    /// Also remove containers (not running) that use a damaged image (podman's `--force`).
    pub force: bool,
    /// podman's `--max`: layers and blobs no image uses count as debris only when older.
    pub max_age: Option<Duration>,
}

/// One problem, in plain words, and what became of it.
#[derive(Debug)]
pub struct Finding {
    pub problem: String,
    pub outcome: Outcome,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Only looked at (no `--repair`).
    Found,
    /// What the repair did.
    Repaired(String),
    /// Why it was left as it is.
    Left(String),
}

impl Finding {
    pub fn damaged(&self) -> bool {
        !matches!(self.outcome, Outcome::Repaired(_))
    }
}

/// A problem before the repair phase: the repair, or the reason there is none.
pub(crate) struct Problem<F> {
    pub what: String,
    pub fix: std::result::Result<F, String>,
}

/// Check the store of `paths` (the caller is in the user's namespace already).
pub fn run(paths: &Paths, userxattr: bool, opts: Options) -> Result<Vec<Finding>> {
    let store = ContainerStore::open(paths)?;
    let images = ImageStore::open(&paths.root);
    let layers = LayerStore::open(paths.overlay_root(), userxattr);
    let mut out = containers::check(&store, &images, opts)?;
    out.extend(mounts::check(&store, opts)?);
    out.extend(images::check(&store, &images, &layers, opts)?);
    Ok(out)
}

/// Run one repair (or not) and word its outcome.
pub(crate) fn settle<F>(
    opts: Options,
    problem: Problem<F>,
    repair: impl FnOnce(F) -> std::result::Result<String, String>,
) -> Finding {
    let outcome = match (opts.repair, problem.fix) {
        (false, _) => Outcome::Found,
        (true, Err(why)) => Outcome::Left(why),
        (true, Ok(fix)) => match repair(fix) {
            Ok(done) => Outcome::Repaired(done),
            Err(why) => Outcome::Left(why),
        },
    };
    Finding {
        problem: problem.what,
        outcome,
    }
}

/// `path` as shown in a finding.
pub(crate) fn shown(path: &std::path::Path) -> String {
    path.display().to_string()
}

/// Seconds since `path` last changed (None when it cannot be read).
pub(crate) fn age(path: &std::path::Path) -> Option<Duration> {
    std::fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
}

/// Files named `.x.tmp-PID-N` directly in `dir` whose process is gone.
pub(crate) fn dead_temps(dir: &std::path::Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = read
        .flatten()
        .filter(|e| {
            crate::fsutil::temp_owner(&e.file_name().to_string_lossy())
                .is_some_and(|pid| !crate::fsutil::pid_exists(pid))
        })
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// Remove one leftover file.
pub(crate) fn remove_file(path: &std::path::Path) -> std::result::Result<String, String> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(format!("removed {}", shown(path))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(format!("removed {}", shown(path)))
        }
        Err(e) => Err(format!("cannot remove {}: {e}", shown(path))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(fix: std::result::Result<u8, String>) -> Problem<u8> {
        Problem {
            what: "x is broken".into(),
            fix,
        }
    }

    #[test]
    fn outcomes_follow_the_options_and_the_repair() {
        let look = Options::default();
        let fix = Options {
            repair: true,
            ..Options::default()
        };
        let never = |_: u8| -> std::result::Result<String, String> { panic!("not asked") };
        let found = settle(look, problem(Ok(1)), never);
        assert_eq!(
            (found.outcome, found.problem.as_str()),
            (Outcome::Found, "x is broken")
        );
        let left = settle(fix, problem(Err("it runs".into())), never);
        assert_eq!(left.outcome, Outcome::Left("it runs".into()));
        assert!(left.damaged());
        let done = settle(fix, problem(Ok(2)), |n| Ok(format!("fixed {n}")));
        assert_eq!(done.outcome, Outcome::Repaired("fixed 2".into()));
        assert!(!done.damaged());
        let failed = settle(fix, problem(Ok(3)), |_| Err("EIO".into()));
        assert!(failed.damaged());
    }
}
