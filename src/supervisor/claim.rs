//! The one supervisor of a container: the monitor, or a foreground `run`, holds the claim lock
//! `<runroot>/container-locks/<id>.monitor` for its life, so that two racing starts never give
//! one container two runs (and two sets of processes, one of them unrecorded).

use std::time::{Duration, Instant};

use crate::container;
use crate::fsutil::Lock;
use crate::paths::Paths;
use crate::sandbox::SpawnError;

/// How long a new supervisor waits for the previous one to finish.
const CLAIM_WAIT: Duration = Duration::from_secs(10);

/// A monitor's claim on its container; the lock file goes with it.
pub(super) struct Claim(Lock);

impl Drop for Claim {
    fn drop(&mut self) {
        let _ = self.0.remove();
    }
}

/// The claim of the container's one monitor, held for the monitor's life. Another live
/// monitor means the container runs or is about to (a racing `start`: refused), or that one is
/// on its way out after the container ended (milliseconds: waited for).
pub(super) fn claim(paths: &Paths, id: &str) -> Result<Claim, SpawnError> {
    let path = container::monitor_lock_path(paths, id);
    let fail =
        |e: std::io::Error| SpawnError::engine(format!("cannot lock {}: {e}", path.display()));
    let deadline = Instant::now() + CLAIM_WAIT;
    loop {
        if let Some(claim) = Lock::try_exclusive(&path).map_err(fail)? {
            return Ok(Claim(claim));
        }
        let running = container::read_run_state(paths, id).is_some_and(|run| run.process_running());
        if running || Instant::now() >= deadline {
            return Err(SpawnError::engine(format!(
                "container {id} is already running"
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
