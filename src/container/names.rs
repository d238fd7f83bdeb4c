//! Container IDs (64 random hex digits) and names (docker-style "adjective_surname").

use std::io::Read;

use super::error::{Error, Result};

const ADJECTIVES: [&str; 50] = [
    "agile", "amber", "ancient", "bold", "brave", "bright", "calm", "clever", "cosmic", "crisp",
    "curious", "daring", "eager", "elegant", "fancy", "fearless", "festive", "gentle", "gifted",
    "glad", "golden", "happy", "hardy", "humble", "jolly", "keen", "kind", "lively", "lucid",
    "merry", "mighty", "nimble", "noble", "patient", "plucky", "polite", "proud", "quiet",
    "quirky", "rapid", "serene", "sharp", "silent", "steady", "sunny", "swift", "tender", "upbeat",
    "vivid", "witty",
];

/// Scientists and engineers, as docker's list honours them.
const SURNAMES: [&str; 50] = [
    "agnesi",
    "archimedes",
    "babbage",
    "bardeen",
    "bohr",
    "boole",
    "cannon",
    "carson",
    "curie",
    "darwin",
    "dijkstra",
    "einstein",
    "euler",
    "faraday",
    "fermi",
    "feynman",
    "franklin",
    "galileo",
    "gauss",
    "goodall",
    "hamilton",
    "hopper",
    "hypatia",
    "johnson",
    "kepler",
    "knuth",
    "lamarr",
    "leavitt",
    "lovelace",
    "maxwell",
    "meitner",
    "mendel",
    "newton",
    "noether",
    "pascal",
    "pasteur",
    "planck",
    "ritchie",
    "sagan",
    "shannon",
    "somerville",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "volta",
    "wiles",
    "wozniak",
    "wu",
    "yalow",
];

/// Fills `buf` from the kernel's CSPRNG; falls back to a hash of time, pid and a counter,
/// which is unique enough for names and IDs if /dev/urandom is unreadable (a bare chroot).
fn random_bytes(buf: &mut [u8]) {
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .is_ok()
    {
        return;
    }
    use sha2::{Digest, Sha256};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    for chunk in buf.chunks_mut(32) {
        let (s, n) = crate::time::now();
        let mut h = Sha256::new();
        h.update(s.to_le_bytes());
        h.update(n.to_le_bytes());
        h.update(std::process::id().to_le_bytes());
        h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        let digest = h.finalize();
        chunk.copy_from_slice(&digest[..chunk.len()]);
    }
}

/// A new container ID. Like docker's stringid, an ID whose 12-character short form is all
/// digits is drawn again, so a short ID never reads as a number.
pub fn generate_id() -> String {
    loop {
        let mut bytes = [0u8; 32];
        random_bytes(&mut bytes);
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        if !id[..12].bytes().all(|c| c.is_ascii_digit()) {
            return id;
        }
    }
}

/// A docker-style name not `taken`. After a few collisions a digit is appended, as docker
/// does, so the search ends even when most combinations are in use.
pub fn generate_name(taken: &dyn Fn(&str) -> bool) -> String {
    let mut retry = 0u32;
    loop {
        let mut r = [0u8; 4];
        random_bytes(&mut r);
        let adjective = ADJECTIVES[usize::from(r[0]) % ADJECTIVES.len()];
        let surname = SURNAMES[usize::from(r[1]) % SURNAMES.len()];
        let mut name = format!("{adjective}_{surname}");
        if retry >= 3 {
            let n = u32::from(u16::from_le_bytes([r[2], r[3]]));
            name.push_str(&(n % (10 * retry)).to_string());
        }
        if !taken(&name) {
            return name;
        }
        retry = (retry + 1).min(6000);
    }
}

/// docker's rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, a leading '/' allowed and dropped.
/// Returns the name without the slash.
pub fn validate_name(name: &str) -> Result<String> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let mut chars = bare.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok && bare.len() >= 2 {
        Ok(bare.to_string())
    } else {
        Err(Error::Other(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_64_hex_and_differ() {
        let a = generate_id();
        let b = generate_id();
        assert_eq!(a.len(), 64);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }

    #[test]
    fn names_look_like_dockers_and_avoid_taken_ones() {
        let name = generate_name(&|_| false);
        let (adj, sur) = name.split_once('_').unwrap();
        assert!(
            ADJECTIVES.contains(&adj) && SURNAMES.contains(&sur),
            "{name}"
        );
        assert!(validate_name(&name).is_ok());
        // Every plain combination taken: a digit must be appended, and it must still end.
        let plain: HashSet<String> = ADJECTIVES
            .iter()
            .flat_map(|a| SURNAMES.iter().map(move |s| format!("{a}_{s}")))
            .collect();
        let name = generate_name(&|n| plain.contains(n));
        assert!(!plain.contains(&name));
        assert!(name.ends_with(|c: char| c.is_ascii_digit()), "{name}");
    }

    #[test]
    fn name_rules() {
        assert_eq!(validate_name("/bob").unwrap(), "bob");
        assert_eq!(validate_name("web-1.a_b").unwrap(), "web-1.a_b");
        for bad in ["", "a", "-x", "bad name", "a/b", "..", "ü1"] {
            assert_eq!(
                validate_name(bad).unwrap_err().to_string(),
                format!(
                    "Invalid container name ({bad}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )
            );
        }
    }
}
