//! The host's numbers for the owners this process sees: in the rootless user namespace a
//! file's owner reads as the namespace's id, and `cp -a` must write what the host shows
//! (`ls -ln`), as the docker client does.

/// One direction of a user namespace's id map (`/proc/self/uid_map` or `gid_map`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IdMap {
    /// (first id inside, first id outside, count)
    ranges: Vec<(u64, u64, u64)>,
}

/// What the kernel shows for an owner with no id in this namespace.
const OVERFLOW_ID: u32 = 65534;

impl IdMap {
    /// Parse the map text (the kernel's, so never malformed; an unreadable one maps nothing).
    pub fn parse(text: &str) -> IdMap {
        IdMap {
            ranges: crate::idmap::parse(text).unwrap_or_default(),
        }
    }

    /// The host's number for `id` as seen here. The overflow id stays as it is: it is what
    /// the kernel shows for every owner the namespace cannot name (host root's files), so it
    /// cannot be told back.
    pub fn to_host(&self, id: u32) -> u64 {
        let id64 = u64::from(id);
        if id == OVERFLOW_ID {
            return id64;
        }
        self.ranges
            .iter()
            .find(|&&(inside, _, count)| id64 >= inside && id64 - inside < count)
            .map_or(id64, |&(inside, outside, _)| outside + (id64 - inside))
    }
}

/// Both maps of this process.
#[derive(Debug, Default, Clone)]
pub struct HostIds {
    pub uids: IdMap,
    pub gids: IdMap,
}

impl HostIds {
    /// This process's maps; identity when they cannot be read (no user namespace support).
    pub fn current() -> HostIds {
        let read = |f: &str| IdMap::parse(&std::fs::read_to_string(f).unwrap_or_default());
        HostIds {
            uids: read("/proc/self/uid_map"),
            gids: read("/proc/self/gid_map"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_ids_become_host_ids() {
        let m =
            IdMap::parse("         0       1000          1\n         1     100000      65536\n");
        assert_eq!(m.to_host(0), 1000);
        assert_eq!(m.to_host(1), 100_000);
        assert_eq!(m.to_host(500), 100_499);
        assert_eq!(
            m.to_host(65534),
            65534,
            "unmapped owners cannot be told back"
        );
        assert_eq!(m.to_host(70000), 70000);
        let initial = IdMap::parse("0 0 4294967295\n");
        assert_eq!(initial.to_host(1234), 1234);
    }
}
