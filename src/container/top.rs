//! `top`, for any front end: the processes of a running container (those in its pid
//! namespace), as `ps` prints them.

use super::{ContainerRecord, ContainerStore, Error, Result, Status};

/// The pids, as the host sees them, of every process in the container's pid namespace.
pub fn container_pids(store: &ContainerStore, rec: &ContainerRecord) -> Result<Vec<String>> {
    let st = store.live_state(rec);
    if st.status != Status::Running {
        return Err(Error::Other(format!("container {} is not running", rec.id)));
    }
    let ns = std::fs::read_link(format!("/proc/{}/ns/pid", st.pid))
        .map_err(|e| Error::Other(format!("cannot read the container's pid namespace: {e}")))?;
    let pids = std::fs::read_dir("/proc")
        .map_err(|e| Error::io("cannot list", "/proc", e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        .filter(|p| {
            std::fs::read_link(format!("/proc/{p}/ns/pid"))
                .ok()
                .as_ref()
                == Some(&ns)
        })
        .collect();
    Ok(pids)
}

/// `ps` run over the container's processes (`-f` unless `ps_args` say otherwise); its output.
pub fn top(store: &ContainerStore, rec: &ContainerRecord, ps_args: &[String]) -> Result<String> {
    let pids = container_pids(store, rec)?;
    let mut cmd = std::process::Command::new("ps");
    if ps_args.is_empty() {
        cmd.arg("-f");
    } else {
        cmd.args(ps_args);
    }
    cmd.arg("-p").arg(pids.join(","));
    let out = cmd
        .output()
        .map_err(|e| Error::Other(format!("cannot run ps: {e}")))?;
    if !out.status.success() {
        return Err(Error::Other(format!(
            "ps failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).replace('\t', " "))
}
