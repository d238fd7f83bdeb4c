//! Removing containers, for any front end: `rm` (with `-f`, which kills a running one first)
//! and `container prune`. Check, kill and removal happen under the container's lock, which a
//! start holds from its own check to its recorded state: whatever raced the removal either
//! ran before it (and is killed) or finds the container gone (and starts nothing).

use super::stop::kill_under_lock;
use super::{ContainerRecord, ContainerStore, Result};

/// `rm`: refused while the container runs, unless `force`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RemoveRequest {
    pub force: bool,
}

/// What `container prune` removed.
#[derive(Debug, Default)]
pub struct PruneReport {
    pub deleted: Vec<String>,
}

/// Remove one container and everything it owns (overlay dirs, run state, logs, name).
pub fn remove(store: &ContainerStore, rec: &ContainerRecord, req: RemoveRequest) -> Result<()> {
    store
        .live_state(rec)
        .status
        .check_remove(&rec.name, req.force)?;
    let lock = store.lock_record(rec)?;
    let st = store.live_state(rec);
    st.status.check_remove(&rec.name, req.force)?;
    if st.status.is_active() {
        kill_under_lock(&lock, store, rec)?;
    }
    store.remove(&lock)
}

/// Remove every container that is not running.
pub fn prune(store: &ContainerStore) -> Result<PruneReport> {
    let mut report = PruneReport::default();
    for rec in store.list()? {
        let lock = store.lock(&rec.id)?;
        if store.live_state(&rec).status.is_active() {
            continue;
        }
        store.remove(&lock)?;
        report.deleted.push(rec.id);
    }
    Ok(report)
}
