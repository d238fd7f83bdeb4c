//! Image references, parsed and normalised by docker's rules (distribution/reference).

use std::fmt;

use sha2::{Digest, Sha256};

use super::{Error, ErrorKind, RegistriesConf};

pub const DOCKER_DOMAIN: &str = "docker.io";
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    /// Registry host, with port when one was given: "docker.io", "localhost:5000".
    pub domain: String,
    /// Repository path inside the registry: "library/busybox".
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

fn invalid(detail: &str) -> Error {
    if detail.is_empty() {
        Error::new(ErrorKind::InvalidReference, "invalid reference format")
    } else {
        Error::new(
            ErrorKind::InvalidReference,
            format!("invalid reference format: {detail}"),
        )
    }
}

impl Reference {
    /// Parse `input` the way `docker pull` does. Short names take the first
    /// `unqualified-search-registries` entry of `conf` as their domain.
    pub fn parse(input: &str, conf: &RegistriesConf) -> Result<Reference, Error> {
        if input.is_empty() {
            return Err(invalid(""));
        }
        if input.len() == 64 && input.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::new(
                ErrorKind::InvalidReference,
                format!(
                    "invalid repository name ({input}), cannot specify 64-byte hexadecimal strings"
                ),
            ));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((rest, digest)) => {
                if !is_valid_digest(digest) {
                    return Err(invalid(if digest.starts_with("sha256:") {
                        "invalid digest format"
                    } else {
                        ""
                    }));
                }
                (rest, Some(digest.to_string()))
            }
            None => (input, None),
        };
        // A ':' after the last '/' starts the tag; an earlier one belongs to host:port.
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].find(':') {
            Some(i) => {
                let at = last_slash + i;
                (&rest[..at], Some(&rest[at + 1..]))
            }
            None => (rest, None),
        };
        if let Some(tag) = tag {
            if !valid_tag(tag) {
                return Err(invalid(""));
            }
        }
        if name.is_empty() {
            return Err(invalid(""));
        }
        let (domain, path) = split_domain(name, conf)?;
        for component in path.split('/') {
            if !valid_path_component(component) {
                if valid_path_component(&component.to_ascii_lowercase()) {
                    return Err(invalid("repository name must be lowercase"));
                }
                return Err(invalid(""));
            }
        }
        if domain.len() + 1 + path.len() > MAX_NAME_LEN {
            return Err(invalid(
                "repository name must not be more than 255 characters",
            ));
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, None) => Some("latest".to_string()),
            (None, Some(_)) => None,
        };
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// The fully qualified repository name: "docker.io/library/busybox".
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The name with its tag, "latest" when none was given: "docker.io/library/busybox:latest",
    /// as image records keep their tags.
    pub fn tagged_name(&self) -> String {
        format!(
            "{}:{}",
            self.name(),
            self.tag.as_deref().unwrap_or("latest")
        )
    }

    /// The short name docker prints: "busybox", "user/app", or the full name elsewhere.
    pub fn familiar_name(&self) -> String {
        if self.domain == DOCKER_DOMAIN {
            match self.path.strip_prefix("library/") {
                Some(short) if !short.contains('/') => short.to_string(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    /// The familiar name with its tag or digest, as docker prints it in messages.
    pub fn familiar_string(&self) -> String {
        format!("{}{}", self.familiar_name(), self.suffix())
    }

    /// What goes in `/manifests/<here>`: the digest when there is one, else the tag.
    pub fn tag_or_digest(&self) -> String {
        self.digest
            .clone()
            .or_else(|| self.tag.clone())
            .unwrap_or_else(|| "latest".to_string())
    }

    fn suffix(&self) -> String {
        let mut s = String::new();
        if let Some(tag) = &self.tag {
            s.push(':');
            s.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            s.push('@');
            s.push_str(digest);
        }
        s
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.name(), self.suffix())
    }
}

/// docker's splitDockerDomain: the first component is a registry host only when it looks like
/// one (has '.' or ':', is "localhost", or has capitals, which a repository path never does).
fn split_domain(name: &str, conf: &RegistriesConf) -> Result<(String, String), Error> {
    let (domain, mut path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            if !valid_domain(first) {
                return Err(invalid(""));
            }
            (first.to_string(), rest.to_string())
        }
        _ => (
            conf.unqualified_search_registries()
                .first()
                .cloned()
                .unwrap_or_else(|| DOCKER_DOMAIN.to_string()),
            name.to_string(),
        ),
    };
    let domain = if domain == "index.docker.io" {
        DOCKER_DOMAIN.to_string()
    } else {
        domain
    };
    if domain == DOCKER_DOMAIN && !path.contains('/') {
        path = format!("library/{path}");
    }
    Ok((domain, path))
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_path_component(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &s[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// host[:port], where host is dotted labels of `[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?` or a
/// bracketed IPv6 address.
fn valid_domain(s: &str) -> bool {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.is_empty() || !v6.bytes().all(|c| c.is_ascii_hexdigit() || c == b':') {
            return false;
        }
        match after {
            "" => return true,
            _ => match after.strip_prefix(':') {
                Some(p) => ("x", Some(p)),
                None => return false,
            },
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
            return false;
        }
    }
    host.split('.').all(|label| {
        let b = label.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    })
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`
fn valid_tag(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_TAG_LEN
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// True for "sha256:" followed by 64 lowercase hex digits, the only digest cove accepts.
pub fn is_valid_digest(s: &str) -> bool {
    match s.strip_prefix("sha256:") {
        Some(hex) => {
            hex.len() == 64
                && hex
                    .bytes()
                    .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        }
        None => false,
    }
}

/// "sha256:<hex>" of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    hex_digest(&Sha256::digest(bytes))
}

pub(crate) fn hex_digest(hash: &[u8]) -> String {
    let mut s = String::with_capacity(7 + hash.len() * 2);
    s.push_str("sha256:");
    for b in hash {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// "sha256:abcdef012345…" for messages: enough to recognise, short enough to read.
pub(crate) fn short_digest(d: &str) -> String {
    match d.char_indices().nth(19) {
        Some((i, _)) => format!("{}…", &d[..i]),
        None => d.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn parse(s: &str) -> Result<Reference, Error> {
        Reference::parse(s, &RegistriesConf::default())
    }

    #[test]
    fn valid_references() {
        let d = D;
        let cases: Vec<(String, &str)> = vec![
            ("busybox".into(), "docker.io/library/busybox:latest"),
            ("busybox:1.36".into(), "docker.io/library/busybox:1.36"),
            ("library/busybox".into(), "docker.io/library/busybox:latest"),
            ("docker.io/busybox".into(), "docker.io/library/busybox:latest"),
            ("index.docker.io/busybox".into(), "docker.io/library/busybox:latest"),
            ("user/app:v1".into(), "docker.io/user/app:v1"),
            ("quay.io/a/b/c:x".into(), "quay.io/a/b/c:x"),
            ("localhost/foo".into(), "localhost/foo:latest"),
            ("localhost:5000/foo/bar:tag".into(), "localhost:5000/foo/bar:tag"),
            ("127.0.0.1:5000/x".into(), "127.0.0.1:5000/x:latest"),
            ("[::1]:5000/x".into(), "[::1]:5000/x:latest"),
            ("localhost:5000".into(), "docker.io/library/localhost:5000"),
            ("a.b-c/e_f.g-h__i".into(), "a.b-c/e_f.g-h__i:latest"),
            ("foo--bar".into(), "docker.io/library/foo--bar:latest"),
            ("Foo.com/bar".into(), "Foo.com/bar:latest"),
            (format!("busybox@{d}"), "docker.io/library/busybox@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            (format!("busybox:1@{d}"), "docker.io/library/busybox:1@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("x:_Tag.1-a".into(), "docker.io/library/x:_Tag.1-a"),
        ];
        for (input, want) in cases {
            let r = parse(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.to_string(), want, "{input}");
        }
    }

    #[test]
    fn invalid_references() {
        let long = "a".repeat(256);
        let cases: Vec<(String, &str)> = vec![
            ("".into(), "invalid reference format"),
            ("Busybox".into(), "invalid reference format: repository name must be lowercase"),
            ("user/App".into(), "invalid reference format: repository name must be lowercase"),
            ("busybox:".into(), "invalid reference format"),
            ("busybox:-x".into(), "invalid reference format"),
            (format!("busybox:{}", "t".repeat(129)), "invalid reference format"),
            ("busybox@sha256:abc".into(), "invalid reference format: invalid digest format"),
            ("busybox@md5:abc".into(), "invalid reference format"),
            ("-busybox".into(), "invalid reference format"),
            ("a/".into(), "invalid reference format"),
            ("a//b".into(), "invalid reference format"),
            ("a._b".into(), "invalid reference format"),
            ("a___b".into(), "invalid reference format"),
            ("-host.com/x".into(), "invalid reference format"),
            ("host.com:x/y".into(), "invalid reference format"),
            ("with space".into(), "invalid reference format"),
            (format!("h.io/{long}"), "invalid reference format: repository name must not be more than 255 characters"),
            ("a".repeat(64), "invalid repository name (aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa), cannot specify 64-byte hexadecimal strings"),
        ];
        for (input, want) in cases {
            match parse(&input) {
                Ok(r) => panic!("{input:?} parsed as {r}"),
                Err(e) => {
                    assert_eq!(e.to_string(), want, "{input:?}");
                    assert_eq!(e.kind(), ErrorKind::InvalidReference);
                }
            }
        }
    }

    #[test]
    fn names() {
        let r = parse("busybox").unwrap();
        assert_eq!(r.name(), "docker.io/library/busybox");
        assert_eq!(r.familiar_name(), "busybox");
        assert_eq!(r.tag_or_digest(), "latest");
        assert_eq!(parse("docker.io/u/x").unwrap().familiar_name(), "u/x");
        assert_eq!(
            parse("docker.io/library/a/b").unwrap().familiar_name(),
            "library/a/b"
        );
        assert_eq!(parse("quay.io/u/x").unwrap().familiar_name(), "quay.io/u/x");
        let r = parse(&format!("busybox:1@{D}")).unwrap();
        assert_eq!(r.tag_or_digest(), D);
        assert_eq!(r.familiar_string(), format!("busybox:1@{D}"));
    }

    #[test]
    fn search_registries() {
        let conf = RegistriesConf::from_toml(
            "unqualified-search-registries = [\"quay.io\", \"docker.io\"]\n",
        )
        .unwrap();
        let r = Reference::parse("busybox", &conf).unwrap();
        assert_eq!(r.to_string(), "quay.io/busybox:latest");
        let r = Reference::parse("docker.io/busybox", &conf).unwrap();
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
    }

    #[test]
    fn digests() {
        assert!(is_valid_digest(D));
        assert!(!is_valid_digest(&D.to_uppercase()));
        assert!(!is_valid_digest(&D[..70]));
        assert!(!is_valid_digest("sha512:abc"));
        assert_eq!(sha256_digest(b""), D);
        assert_eq!(short_digest(D), "sha256:e3b0c44298fc…");
    }
}
