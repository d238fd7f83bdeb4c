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

/// `ps` over the container's processes (`-f` unless `ps_args` say otherwise): its header and
/// the rows of the container's processes only, whatever the options select (`-e` included), as
/// docker filters them by the PID column.
pub fn top(store: &ContainerStore, rec: &ContainerRecord, ps_args: &[String]) -> Result<String> {
    let pids = container_pids(store, rec)?;
    let mut cmd = std::process::Command::new("ps");
    if ps_args.is_empty() {
        cmd.arg("-f");
    } else {
        cmd.args(ps_args);
    }
    let selects = ps_args.iter().any(|a| selects_processes(a));
    if !selects {
        cmd.arg("-p").arg(pids.join(","));
    }
    let out = cmd
        .output()
        .map_err(|e| Error::Other(format!("cannot run ps: {e}")))?;
    if !out.status.success() {
        // ps prints its whole usage for a bad option: its first line says what was wrong.
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().map(str::trim).find(|l| !l.is_empty());
        return Err(Error::Other(format!(
            "ps failed: {}",
            first.unwrap_or("exit status without a message")
        )));
    }
    filter_rows(&String::from_utf8_lossy(&out.stdout), &pids)
}

/// Whether a ps option chooses processes itself, so that `-p` would not narrow it down.
fn selects_processes(arg: &str) -> bool {
    match arg.strip_prefix('-') {
        Some(opts) if !opts.starts_with('-') => opts.contains(['e', 'A', 'a', 'x']),
        Some(_) => false,
        // BSD-style options without a dash: `aux`.
        None => arg.contains(['a', 'x']),
    }
}

/// The header and the rows whose PID column is one of `pids`.
fn filter_rows(output: &str, pids: &[String]) -> Result<String> {
    let mut lines = output.lines();
    let header = lines.next().unwrap_or_default();
    let column = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| Error::Other("Couldn't find PID field in ps output".into()))?;
    let mut out = format!("{}\n", header.replace('\t', " "));
    for line in lines {
        if line
            .split_whitespace()
            .nth(column)
            .is_some_and(|pid| pids.iter().any(|p| p == pid))
        {
            out.push_str(&line.replace('\t', " "));
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_containers_rows_are_kept() {
        let ps = "  PID TTY      TIME CMD\n    1 ?    00:00:00 systemd\n  42 ?    00:00:00 sh\n";
        let pids = vec!["42".to_string()];
        assert_eq!(
            filter_rows(ps, &pids).unwrap(),
            "  PID TTY      TIME CMD\n  42 ?    00:00:00 sh\n"
        );
        assert!(filter_rows("USER CMD\n", &pids).is_err());
        assert!(selects_processes("-e") && selects_processes("aux") && selects_processes("-ef"));
        assert!(!selects_processes("-o") && !selects_processes("--forest"));
    }
}
