//! Linux capabilities of a container: docker's default set, --cap-add/--cap-drop/--privileged
//! resolution, and applying the final set to the container's init process.

use std::collections::BTreeSet;
use std::str::FromStr;

use caps::{CapSet, Capability, CapsHashSet};

use super::Error;

/// Docker's default capability set: what a container gets without --cap-add or --privileged.
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_AUDIT_WRITE",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_MKNOD",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// "chown", "Cap_Chown" and "CAP_CHOWN" all name CAP_CHOWN, as in docker; "all" names every cap.
fn canonical(name: &str) -> Result<String, Error> {
    let name = name.trim();
    if name.eq_ignore_ascii_case("all") {
        return Ok("ALL".to_string());
    }
    let full = caps::to_canonical(name);
    Capability::from_str(&full).map_err(|_| Error::new(format!("invalid capability: {full}")))?;
    Ok(full)
}

/// Every capability the running kernel knows (probed through the bounding set), falling back to
/// every capability this build knows when probing is impossible.
fn all_caps() -> BTreeSet<String> {
    let mut known = caps::runtime::thread_all_supported();
    if known.is_empty() {
        known = caps::all();
    }
    known.iter().map(|c| c.to_string()).collect()
}

/// Every capability this process may pass on ("ALL", --privileged): one the host's bounding
/// set lacks cannot be given, and is left out rather than failing the container.
fn grantable() -> BTreeSet<String> {
    let bounding = caps::read(None, CapSet::Bounding).unwrap_or_default();
    all_caps()
        .into_iter()
        .filter(|c| {
            c.parse::<Capability>()
                .is_ok_and(|cap| bounding.contains(&cap))
        })
        .collect()
}

/// The final capability set of a container, with docker's rules: --privileged gets everything;
/// "ALL" in `add` starts from everything minus `drop`; "ALL" in `drop` keeps only `add`;
/// otherwise the defaults minus `drop` plus `add`. Sorted, without duplicates.
pub fn resolve(add: &[String], drop: &[String], privileged: bool) -> Result<Vec<String>, Error> {
    let add = add
        .iter()
        .map(|n| canonical(n))
        .collect::<Result<BTreeSet<_>, _>>()?;
    let drop = drop
        .iter()
        .map(|n| canonical(n))
        .collect::<Result<BTreeSet<_>, _>>()?;
    if privileged {
        return Ok(grantable().into_iter().collect());
    }
    let set: BTreeSet<String> = if add.contains("ALL") {
        grantable()
            .into_iter()
            .filter(|c| !drop.contains(c))
            .collect()
    } else if drop.contains("ALL") {
        add
    } else {
        DEFAULT_CAPS
            .iter()
            .map(|c| c.to_string())
            .filter(|c| !drop.contains(c))
            .chain(add)
            .collect()
    };
    Ok(set.into_iter().collect())
}

fn parse_set(names: &[String]) -> Result<CapsHashSet, Error> {
    names
        .iter()
        .map(|n| {
            Capability::from_str(&caps::to_canonical(n))
                .map_err(|_| Error::new(format!("invalid capability: {n}")))
        })
        .collect()
}

fn failed(what: &str) -> impl Fn(caps::errors::CapsError) -> Error + '_ {
    move |e| Error::because(format!("setting capabilities: {what}"), None, e)
}

/// Makes the bounding, inheritable, permitted, effective and ambient sets exactly `names`.
/// Runs in the container child after setresuid (with PR_SET_KEEPCAPS set before it, so the
/// permitted set survived the uid change) and before exec; the ambient set is what carries the
/// capabilities across exec for a non-root user.
pub fn apply(names: &[String]) -> Result<(), Error> {
    let want = parse_set(names)?;
    // setresuid away from 0 cleared the effective set; PR_CAPBSET_DROP needs CAP_SETPCAP in it.
    let permitted = caps::read(None, CapSet::Permitted).map_err(failed("reading permitted"))?;
    caps::set(None, CapSet::Effective, &permitted).map_err(failed("raising effective"))?;
    for cap in caps::runtime::thread_all_supported() {
        if !want.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap).map_err(failed("bounding set"))?;
        }
    }
    if let Some(missing) = want.iter().find(|c| !permitted.contains(c)) {
        return Err(Error::new(format!(
            "setting capabilities: {missing} is not in the permitted set of the sandbox"
        )));
    }
    // Inheritable and ambient stay empty, as docker leaves them (CVE-2022-24769): across exec a
    // root user keeps the set (its permitted set is refilled from the bounding set), while any
    // other user starts with no capabilities, exactly as under docker.
    let none = caps::CapsHashSet::new();
    caps::set(None, CapSet::Inheritable, &none).map_err(failed("inheritable set"))?;
    if caps::runtime::ambient_set_supported().is_ok() {
        caps::clear(None, CapSet::Ambient).map_err(failed("ambient set"))?;
    }
    // Effective before permitted: effective must stay a subset of permitted at every step.
    caps::set(None, CapSet::Effective, &want).map_err(failed("effective set"))?;
    caps::set(None, CapSet::Permitted, &want).map_err(failed("permitted set"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn defaults() -> Vec<String> {
        strings(DEFAULT_CAPS)
    }

    #[test]
    fn defaults_are_sorted_and_known() {
        let mut sorted = defaults();
        sorted.sort();
        assert_eq!(sorted, defaults());
        assert_eq!(DEFAULT_CAPS.len(), 14);
        assert_eq!(resolve(&[], &[], false).unwrap(), defaults());
    }

    #[test]
    fn add_and_drop_follow_docker() {
        let r = |add: &[&str], drop: &[&str]| resolve(&strings(add), &strings(drop), false);
        let got = r(&["sys_admin"], &["CAP_CHOWN", "net_raw"]).unwrap();
        assert!(got.contains(&"CAP_SYS_ADMIN".to_string()));
        assert!(!got.contains(&"CAP_CHOWN".to_string()));
        assert!(!got.contains(&"CAP_NET_RAW".to_string()));
        assert_eq!(got.len(), DEFAULT_CAPS.len() - 1);

        // Mixed case, with or without the prefix, duplicates collapse.
        let got = r(&["Cap_Sys_Ptrace", "SYS_PTRACE"], &[]).unwrap();
        assert_eq!(got.len(), DEFAULT_CAPS.len() + 1);
        assert!(got.contains(&"CAP_SYS_PTRACE".to_string()));

        // An add of a cap that is also dropped wins, as in docker.
        assert!(r(&["chown"], &["chown"])
            .unwrap()
            .contains(&"CAP_CHOWN".to_string()));
    }

    #[test]
    fn all_in_add_or_drop() {
        let r = |add: &[&str], drop: &[&str]| resolve(&strings(add), &strings(drop), false);
        assert_eq!(r(&[], &["ALL"]).unwrap(), Vec::<String>::new());
        assert_eq!(
            r(&["chown", "kill"], &["all"]).unwrap(),
            strings(&["CAP_CHOWN", "CAP_KILL"])
        );
        let everything = r(&["all"], &[]).unwrap();
        assert!(everything.len() > DEFAULT_CAPS.len());
        assert!(everything.contains(&"CAP_SYS_ADMIN".to_string()));
        let most = r(&["ALL"], &["sys_admin"]).unwrap();
        assert_eq!(most.len(), everything.len() - 1);
        assert!(!most.contains(&"CAP_SYS_ADMIN".to_string()));
        assert_eq!(resolve(&[], &strings(&["all"]), true).unwrap(), everything);
    }

    #[test]
    fn unknown_names_are_refused() {
        let err = resolve(&strings(&["foo"]), &[], false).unwrap_err();
        assert_eq!(err.to_string(), "invalid capability: CAP_FOO");
        let err = resolve(&[], &strings(&["CAP_NOPE"]), true).unwrap_err();
        assert_eq!(err.to_string(), "invalid capability: CAP_NOPE");
    }

    /// Applies CAP_CHOWN + CAP_KILL in a forked child, optionally after becoming `uid` the way
    /// the sandbox does (PR_SET_KEEPCAPS, then setresuid), and checks all five sets.
    fn apply_in_child(uid: Option<u32>) {
        let permitted = caps::read(None, CapSet::Permitted).unwrap();
        let needed = [
            Capability::CAP_SETPCAP,
            Capability::CAP_SETUID,
            Capability::CAP_CHOWN,
            Capability::CAP_KILL,
        ];
        if !needed.iter().all(|c| permitted.contains(c)) {
            eprintln!("skipped: the test process lacks the capabilities to change its own");
            return;
        }
        let want = strings(&["CAP_CHOWN", "CAP_KILL"]);
        let code = super::super::seccomp::tests::in_child(|| {
            let err = |e: nix::Error| Error::new(e.to_string());
            if let Some(uid) = uid {
                nix::sys::prctl::set_keepcaps(true).map_err(err)?;
                let uid = nix::unistd::Uid::from_raw(uid);
                nix::unistd::setresuid(uid, uid, uid).map_err(err)?;
            }
            apply(&want)?;
            let expect: CapsHashSet = [Capability::CAP_CHOWN, Capability::CAP_KILL].into();
            for (set, want) in [
                (CapSet::Bounding, expect.clone()),
                (CapSet::Inheritable, CapsHashSet::new()),
                (CapSet::Permitted, expect.clone()),
                (CapSet::Effective, expect.clone()),
                (CapSet::Ambient, CapsHashSet::new()),
            ] {
                let got = caps::read(None, set).map_err(|e| Error::new(e.to_string()))?;
                if got != want {
                    return Err(Error::new(format!("{set:?} is {got:?}")));
                }
            }
            Ok(())
        });
        assert_eq!(code, 0);
    }

    #[test]
    fn apply_sets_bounding_permitted_effective_and_clears_the_rest() {
        apply_in_child(None);
    }

    #[test]
    fn apply_works_after_becoming_another_user() {
        apply_in_child(Some(1000));
    }
}
