//! `-u user[:group]` to numeric ids, read from the container's own /etc/passwd and /etc/group
//! with docker's rules (moby/sys/user `GetExecUser`).

use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::libc;

use super::Error;

/// passwd and group files larger than this are not account databases.
const MAX_FILE: u64 = 4 << 20;

/// (uid, gid, supplementary gids) for `user` ("", "500", "bob", "bob:staff", "1:2"), looked
/// up in `rootfs_etc`/passwd and `rootfs_etc`/group. A numeric user absent from passwd gets gid 0,
/// as in docker; a name that is absent is an error.
#[cfg(test)]
pub fn resolve_user(rootfs_etc: &Path, user: &str) -> Result<(u32, u32, Vec<u32>), Error> {
    let passwd = read_db(&rootfs_etc.join("passwd"));
    let group = read_db(&rootfs_etc.join("group"));
    resolve_in(&passwd, &group, user)
}

/// Like `resolve_user`, for a root file system that is not mounted: each file is taken from the
/// first of `dirs` (upper dir, then the layers top first) whose `etc/` holds it.
pub fn resolve_user_in_layers(dirs: &[PathBuf], user: &str) -> Result<(u32, u32, Vec<u32>), Error> {
    resolve_in(
        &db_in_layers(dirs, "passwd"),
        &db_in_layers(dirs, "group"),
        user,
    )
}

/// The text of `/etc/NAME` as the container sees it: from the first of `dirs` (upper dir, then
/// the layers top first) that has one; empty when none has (or it is no plain file).
pub fn db_in_layers(dirs: &[PathBuf], name: &str) -> String {
    dirs.iter()
        .map(|d| d.join("etc").join(name))
        .find(|p| fs::symlink_metadata(p).is_ok())
        .map(|p| read_db(&p))
        .unwrap_or_default()
}

/// The home directory of `uid` in the first passwd file found in `dirs` (upper dir, then the
/// layers top first), for a container's `HOME`.
pub fn home_in_layers(dirs: &[PathBuf], uid: u32) -> Option<String> {
    let passwd = dirs
        .iter()
        .map(|d| d.join("etc").join("passwd"))
        .find(|p| fs::symlink_metadata(p).is_ok())
        .map(|p| read_db(&p))?;
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 6 && !line.starts_with('#') && f[2].trim().parse::<u32>().ok() == Some(uid))
            .then(|| f[5].to_string())
            .filter(|h| h.starts_with('/'))
    })
}

/// The file's text, or empty when it is missing, unreadable, too big or reached through a
/// symlink: the image is hostile until proven otherwise, and its symlinks point into the host.
fn read_db(path: &Path) -> String {
    let parent_is_dir = path
        .parent()
        .and_then(|p| fs::symlink_metadata(p).ok())
        .is_some_and(|m| m.is_dir());
    if !parent_is_dir {
        return String::new();
    }
    let Ok(file) = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    else {
        return String::new();
    };
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return String::new();
    }
    let mut text = String::new();
    let _ = file.take(MAX_FILE).read_to_string(&mut text);
    text
}

struct Entry<'a> {
    name: &'a str,
    id: u32,
    /// passwd: the primary gid; group: unused.
    gid: u32,
    /// group: the member list.
    members: Vec<&'a str>,
}

/// `name:x:uid:gid:...` lines; malformed ones are skipped like libc does.
fn passwd_entries(text: &str) -> impl Iterator<Item = Entry<'_>> {
    text.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if line.starts_with('#') || f.len() < 4 {
            return None;
        }
        Some(Entry {
            name: f[0],
            id: f[2].trim().parse().ok()?,
            gid: f[3].trim().parse().ok()?,
            members: Vec::new(),
        })
    })
}

/// `name:x:gid:member,member` lines.
fn group_entries(text: &str) -> impl Iterator<Item = Entry<'_>> {
    text.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if line.starts_with('#') || f.len() < 3 {
            return None;
        }
        let members = f.get(3).map_or_else(Vec::new, |m| {
            m.split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .collect()
        });
        Some(Entry {
            name: f[0],
            id: f[2].trim().parse().ok()?,
            gid: 0,
            members,
        })
    })
}

/// The highest uid or gid docker accepts: the kernel reads -1 (u32::MAX) as "unchanged", so an
/// id beyond i32's range must never reach setresuid.
const MAX_ID: u32 = 2_147_483_647;

/// A numeric user or group argument: Some(id), None for a name, an error for a number out of
/// docker's range.
fn numeric_id(arg: &str) -> Result<Option<u32>, Error> {
    if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    match arg.parse::<u32>() {
        Ok(id) if id <= MAX_ID => Ok(Some(id)),
        _ => Err(Error::new(format!(
            "invalid user {arg}: uids and gids must be in range 0-{MAX_ID}"
        ))),
    }
}

fn resolve_in(passwd: &str, group: &str, spec: &str) -> Result<(u32, u32, Vec<u32>), Error> {
    let (user_arg, group_arg) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user_arg = if user_arg.is_empty() { "0" } else { user_arg };
    let numeric_user = numeric_id(user_arg)?;
    // A numeric argument is always a uid, never a name (as in docker).
    let found = passwd_entries(passwd).find(|e| match numeric_user {
        Some(uid) => e.id == uid,
        None => e.name == user_arg,
    });
    let (uid, mut gid, name) = match (found, numeric_user) {
        (Some(e), _) => (e.id, e.gid, Some(e.name)),
        (None, Some(uid)) => (uid, 0, None),
        (None, None) => {
            return Err(Error::new(format!(
                "unable to find user {user_arg}: no matching entries in passwd file"
            )))
        }
    };
    let mut supplementary = Vec::new();
    match group_arg.filter(|g| !g.is_empty()) {
        Some(g) => {
            let numeric = numeric_id(g)?;
            let found = group_entries(group).find(|e| match numeric {
                Some(gid) => e.id == gid,
                None => e.name == g,
            });
            gid = match (found, numeric) {
                (Some(e), _) => e.id,
                (None, Some(n)) => n,
                (None, None) => {
                    return Err(Error::new(format!(
                        "unable to find group {g}: no matching entries in group file"
                    )))
                }
            };
        }
        // Supplementary groups only come with the implicit form, from the user's name.
        None => {
            if let Some(name) = name {
                for e in group_entries(group).filter(|e| e.members.contains(&name)) {
                    if !supplementary.contains(&e.id) {
                        supplementary.push(e.id);
                    }
                }
            }
        }
    }
    // A name can map to an id out of range too (the image's passwd is hostile until proven not).
    if uid > MAX_ID || gid > MAX_ID || supplementary.iter().any(|g| *g > MAX_ID) {
        return Err(Error::new(format!(
            "invalid user {spec}: uids and gids must be in range 0-{MAX_ID}"
        )));
    }
    Ok((uid, gid, supplementary))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
        # comment\n\
        bob:x:1000:1000:Bob:/home/bob:/bin/sh\n\
        broken:x:nope:1:\n\
        500:x:1500:1500::/:/bin/sh\n";
    const GROUP: &str = "root:x:0:\n\
        daemon:x:1:\n\
        wheel:x:10:root,bob\n\
        staff:x:50:\n\
        audio:x:29:bob\n\
        bob:x:1000:\n";

    fn r(spec: &str) -> Result<(u32, u32, Vec<u32>), String> {
        resolve_in(PASSWD, GROUP, spec).map_err(|e| e.to_string())
    }

    #[test]
    fn names_and_numbers() {
        assert_eq!(r(""), Ok((0, 0, vec![10])));
        assert_eq!(r("root"), Ok((0, 0, vec![10])));
        assert_eq!(r("bob"), Ok((1000, 1000, vec![10, 29])));
        assert_eq!(r("1000"), Ok((1000, 1000, vec![10, 29])));
        // Numeric and unknown: gid 0, no groups.
        assert_eq!(r("4242"), Ok((4242, 0, vec![])));
        // A numeric argument is a uid even when a user is named like it.
        assert_eq!(r("500"), Ok((500, 0, vec![])));
    }

    #[test]
    fn ids_beyond_dockers_range_are_refused() {
        let range = "uids and gids must be in range 0-2147483647";
        assert_eq!(r("2147483647"), Ok((2_147_483_647, 0, vec![])));
        // -1 as a u32 would mean "leave the id unchanged": root.
        assert_eq!(
            r("4294967295"),
            Err(format!("invalid user 4294967295: {range}"))
        );
        assert_eq!(
            r("99999999999"),
            Err(format!("invalid user 99999999999: {range}"))
        );
        assert_eq!(
            r("0:4294967295"),
            Err(format!("invalid user 4294967295: {range}"))
        );
        let passwd = "big:x:4294967295:0::/:/bin/sh\n";
        let err = resolve_in(passwd, GROUP, "big").map_err(|e| e.to_string());
        assert_eq!(err, Err(format!("invalid user big: {range}")));
    }

    #[test]
    fn explicit_group_replaces_supplementary_ones() {
        assert_eq!(r("bob:staff"), Ok((1000, 50, vec![])));
        assert_eq!(r("bob:7"), Ok((1000, 7, vec![])));
        assert_eq!(r("1:2"), Ok((1, 2, vec![])));
        assert_eq!(r("daemon:audio"), Ok((1, 29, vec![])));
        assert_eq!(r(":staff"), Ok((0, 50, vec![])));
    }

    #[test]
    fn unknown_names_are_errors_worded_like_docker() {
        assert_eq!(
            r("nobody"),
            Err("unable to find user nobody: no matching entries in passwd file".to_string())
        );
        assert_eq!(
            r("bob:nogroup"),
            Err("unable to find group nogroup: no matching entries in group file".to_string())
        );
        assert_eq!(
            resolve_in("", "", "5:6").map_err(|e| e.to_string()),
            Ok((5, 6, vec![]))
        );
    }

    #[test]
    fn files_come_from_the_first_layer_that_has_them() {
        let dir = std::env::temp_dir().join(format!("cove-user-test-{}", std::process::id()));
        let (top, bottom) = (dir.join("top"), dir.join("bottom"));
        for d in [&top, &bottom] {
            fs::create_dir_all(d.join("etc")).unwrap();
        }
        fs::write(top.join("etc/passwd"), "eve:x:7:8::/:/bin/sh\n").unwrap();
        fs::write(bottom.join("etc/passwd"), "eve:x:1:1::/:/bin/sh\n").unwrap();
        fs::write(bottom.join("etc/group"), "g:x:9:eve\n").unwrap();
        // A symlink to a host file is not followed.
        std::os::unix::fs::symlink("/etc/passwd", dir.join("top/etc/group")).unwrap();
        let got = resolve_user_in_layers(&[top.clone(), bottom.clone()], "eve").unwrap();
        assert_eq!(got, (7, 8, vec![]));
        assert_eq!(
            resolve_user(&bottom.join("etc"), "eve").unwrap(),
            (1, 1, vec![9])
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
