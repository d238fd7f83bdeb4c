//! The /etc/passwd and /etc/group a container gets when the image has no entry for the user it
//! runs as and one is asked for: `--userns keep-id` (the caller, as podman adds it) or podman's
//! `--passwd-entry` template. Written into the container's userdata at each start and
//! bind-mounted; the image's own files are never changed.

use std::path::PathBuf;

use super::layout::userdata_dir;
use super::record::ContainerRecord;
use crate::fsutil::write_atomic;
use crate::paths::Paths;
use crate::sandbox::{db_in_layers, SpawnError};

/// The generated files, by their names under /etc.
pub const FILES: [&str; 2] = ["passwd", "group"];

/// podman's default template.
const DEFAULT_ENTRY: &str = "$USERNAME:*:$UID:$GID:$NAME:$HOME:/bin/sh";

/// Write (or clear) the generated files for this start; the home of the added user, if one was.
pub fn write_entries(
    paths: &Paths,
    rec: &ContainerRecord,
    dirs: &[PathBuf],
    uid: u32,
    gid: u32,
) -> Result<Option<String>, SpawnError> {
    // Both settings are fixed at create: a container without either never has the files.
    let keep_id = rec.host.userns_mode == "keep-id";
    if !keep_id && rec.config.passwd_entry.is_empty() {
        return Ok(None);
    }
    let dir = userdata_dir(paths, &rec.id);
    for name in FILES {
        let _ = std::fs::remove_file(dir.join(name));
    }
    let (name, home) = if keep_id {
        host_account(paths.uid)
    } else {
        (uid.to_string(), "/".to_string())
    };
    let mut added_home = None;
    let passwd = db_in_layers(dirs, "passwd");
    if !has_id(&passwd, uid) {
        let template = if rec.config.passwd_entry.is_empty() {
            DEFAULT_ENTRY
        } else {
            &rec.config.passwd_entry
        };
        let line = template
            .replace("$USERNAME", &name)
            .replace("$UID", &uid.to_string())
            .replace("$GID", &gid.to_string())
            .replace("$NAME", &name)
            .replace("$HOME", &home);
        if line.contains('\n') {
            return Err(SpawnError::engine("--passwd-entry: one line only"));
        }
        write(&dir, "passwd", &with_line(&passwd, &line))?;
        added_home = line.split(':').nth(5).map(str::to_string);
    }
    let group = db_in_layers(dirs, "group");
    if keep_id && !has_id(&group, gid) {
        write(
            &dir,
            "group",
            &with_line(&group, &format!("{name}:x:{gid}:")),
        )?;
    }
    Ok(added_home.filter(|h| h.starts_with('/')))
}

/// Whether a passwd or group text has an entry with this numeric id (third field).
fn has_id(db: &str, id: u32) -> bool {
    db.lines().filter(|l| !l.starts_with('#')).any(|l| {
        l.split(':')
            .nth(2)
            .and_then(|f| f.trim().parse::<u32>().ok())
            == Some(id)
    })
}

fn with_line(db: &str, line: &str) -> String {
    let mut out = db.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(line);
    out.push('\n');
    out
}

/// The caller's name and home from the host's /etc/passwd (the uid as name when absent).
fn host_account(uid: u32) -> (String, String) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid))
        .map(|f| (f[0].to_string(), f[5].to_string()))
        .unwrap_or_else(|| (uid.to_string(), "/".to_string()))
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> Result<(), SpawnError> {
    let path = dir.join(name);
    write_atomic(&path, text.as_bytes())
        .map_err(|e| SpawnError::engine(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_lines() {
        let db = "root:x:0:0:root:/root:/bin/sh\n# 1000 comment\nbin:x:1:1::/:/bin/false";
        assert!(has_id(db, 0) && has_id(db, 1));
        assert!(!has_id(db, 1000));
        assert_eq!(
            with_line(db, "u:*:1000:1000:u:/home/u:/bin/sh")
                .lines()
                .count(),
            4
        );
        assert_eq!(with_line("", "x"), "x\n");
    }
}
