//! The caller's subordinate id ranges (/etc/subuid, /etc/subgid) and user name (/etc/passwd),
//! read by hand: the binary is static glibc, so NSS functions must not be used.

/// One `name:start:count` entry of /etc/subuid or /etc/subgid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubIdRange {
    pub start: u32,
    pub count: u32,
}

/// The user name of `uid` in an /etc/passwd text.
pub fn user_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let _password = fields.next()?;
        let id = fields.next()?.trim().parse::<u32>().ok()?;
        (id == uid && !name.is_empty() && !line.starts_with('#')).then(|| name.to_string())
    })
}

/// The ranges that an /etc/subuid or /etc/subgid text grants to the user, who may be named by
/// `name` or by the numeric `id`, in file order. Malformed and empty ranges are skipped.
pub fn ranges(text: &str, name: Option<&str>, id: u32) -> Vec<SubIdRange> {
    let id_text = id.to_string();
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let mut fields = line.split(':');
            let owner = fields.next()?;
            let start = fields.next()?.trim().parse::<u32>().ok()?;
            let count = fields.next()?.trim().parse::<u32>().ok()?;
            if fields.next().is_some() || count == 0 || start.checked_add(count).is_none() {
                return None;
            }
            (owner == id_text || Some(owner) == name).then_some(SubIdRange { start, count })
        })
        .collect()
}

/// The caller's user name from /etc/passwd, if listed.
pub fn lookup_user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    user_name(&passwd, uid)
}

/// The ranges granted to `id` (named `name`) by the file at `path`; none when it is unreadable.
pub fn lookup_ranges(path: &str, name: Option<&str>, id: u32) -> Vec<SubIdRange> {
    match std::fs::read_to_string(path) {
        Ok(text) => ranges(&text, name, id),
        Err(_) => Vec::new(),
    }
}

/// newuidmap/newgidmap arguments after the pid: the caller as 0, then the ranges from 1 up.
pub fn map_args(own: u32, ranges: &[SubIdRange]) -> Vec<String> {
    let mut args = vec!["0".to_string(), own.to_string(), "1".to_string()];
    let mut inside: u64 = 1;
    for r in ranges {
        // The namespace has 2^32-1 ids; stop before the inside ids would wrap.
        if inside + u64::from(r.count) > u64::from(u32::MAX) {
            break;
        }
        args.extend([inside.to_string(), r.start.to_string(), r.count.to_string()]);
        inside += u64::from(r.count);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
        # a comment:x:1000:\n\
        alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n\
        bob:x:1001:1001::/home/bob:/bin/sh\n\
        broken:x:notanumber:1:\n";

    #[test]
    fn passwd_finds_names_by_uid() {
        assert_eq!(user_name(PASSWD, 0).as_deref(), Some("root"));
        assert_eq!(user_name(PASSWD, 1000).as_deref(), Some("alice"));
        assert_eq!(user_name(PASSWD, 1001).as_deref(), Some("bob"));
        assert_eq!(user_name(PASSWD, 4242), None);
        assert_eq!(user_name("", 0), None);
    }

    const SUBUID: &str = "alice:100000:65536\n\
        # comment\n\
        \n\
        1001:165536:65536\n\
        bob:300000:1000\n\
        carol:bad:65536\n\
        dave:200000:0\n\
        erin:4294967295:10\n\
        frank:1:2:3\n";

    #[test]
    fn subid_matches_by_name_or_uid() {
        let r = |start, count| SubIdRange { start, count };
        assert_eq!(ranges(SUBUID, Some("alice"), 1000), vec![r(100000, 65536)]);
        assert_eq!(
            ranges(SUBUID, Some("bob"), 1001),
            vec![r(165536, 65536), r(300000, 1000)]
        );
        assert_eq!(ranges(SUBUID, None, 1001), vec![r(165536, 65536)]);
        assert_eq!(ranges(SUBUID, Some("nobody"), 65534), vec![]);
    }

    #[test]
    fn subid_skips_malformed_lines() {
        for name in ["carol", "dave", "erin", "frank"] {
            assert_eq!(ranges(SUBUID, Some(name), 5000), vec![], "{name}");
        }
    }

    #[test]
    fn map_args_put_the_caller_at_zero() {
        let one = [SubIdRange {
            start: 100000,
            count: 65536,
        }];
        assert_eq!(
            map_args(1000, &one),
            ["0", "1000", "1", "1", "100000", "65536"]
        );
        let two = [
            one[0],
            SubIdRange {
                start: 300000,
                count: 10,
            },
        ];
        assert_eq!(
            map_args(1000, &two),
            ["0", "1000", "1", "1", "100000", "65536", "65537", "300000", "10"]
        );
        assert_eq!(map_args(7, &[]), ["0", "7", "1"]);
    }
}
