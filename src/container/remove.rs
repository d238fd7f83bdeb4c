//! Removing containers, for any front end: `rm` (with `-f`, which kills a running one first)
//! and `container prune`. The state is checked again under the container's lock, so a start
//! that raced the removal is refused rather than left running without a record.

use super::stop::{stop, StopRequest};
use super::{ContainerRecord, ContainerStore, Error, Result};

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
    let st = store.live_state(rec);
    st.status.check_remove(&rec.name, req.force)?;
    if st.status.is_active() {
        stop(store, rec, &StopRequest::kill_now())?;
    }
    let lock = store.lock(&rec.id)?;
    let st = store.live_state(rec);
    if st.status.is_active() {
        return Err(Error::Other(format!(
            "cannot remove container \"/{}\": it was started again while being removed",
            rec.name
        )));
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
