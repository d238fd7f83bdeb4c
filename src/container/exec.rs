//! `exec`, for any front end: the process to run in a running container, built from the
//! container's own first process and the request's changes (command, env, user, workdir).

use super::{env, to_spec, ContainerRecord, ContainerStore, Error, Result};
use crate::sandbox::{self, Process};

/// What to run, already split into plain values by the front end.
#[derive(Clone, Debug, Default)]
pub struct ExecRequest {
    pub command: Vec<String>,
    /// `NAME=VALUE` entries, set over the container's environment in order.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    /// `user[:group]`, names resolved in the container's own /etc/passwd and /etc/group.
    pub user: Option<String>,
    pub privileged: bool,
    pub tty: bool,
}

/// A process ready for `sandbox::exec_in`, and the container process whose namespaces it
/// joins.
pub struct PreparedExec {
    pub target_pid: i32,
    pub process: Process,
}

/// Check that the container runs and build its exec process.
pub fn prepare_exec(
    store: &ContainerStore,
    rec: &ContainerRecord,
    req: &ExecRequest,
) -> Result<PreparedExec> {
    let st = store.live_state(rec);
    st.status.check_exec(&rec.id)?;
    if st.paused {
        return Err(Error::Other(format!(
            "Container {} is paused, unpause the container before exec",
            rec.id
        )));
    }
    let spec = to_spec(store.paths(), rec).map_err(Error::Spawn)?;
    let mut p = spec.process;
    p.args = req.command.clone();
    p.terminal = req.tty;
    p.env = env::merge(std::mem::take(&mut p.env), &req.env);
    if let Some(w) = &req.workdir {
        p.cwd = w.clone();
    }
    if let Some(u) = &req.user {
        let dirs = vec![format!("/proc/{}/root", st.pid).into()];
        let (uid, gid, groups) =
            sandbox::resolve_user_in_layers(&dirs, u).map_err(Error::Sandbox)?;
        p.uid = uid;
        p.gid = gid;
        p.additional_gids = groups;
    }
    if req.privileged {
        p.caps = sandbox::caps::resolve(&[], &[], true).map_err(Error::Sandbox)?;
        p.seccomp = sandbox::seccomp::Seccomp::Unconfined;
        p.seccomp_bpf = None;
    }
    if req.tty && !p.env.iter().any(|e| e.starts_with("TERM=")) {
        p.env.push("TERM=xterm".into());
    }
    Ok(PreparedExec {
        target_pid: st.pid,
        process: p,
    })
}
