//! Registry authentication: WWW-Authenticate challenges, credentials from auth files (read only,
//! never written), and base64 for Basic auth.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::paths::Paths;

const MAX_AUTH_FILE: u64 = 1 << 20;

/// One challenge from a WWW-Authenticate header: scheme lowercased, parameter names lowercased.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: HashMap<String, String>,
}

/// Parse every challenge in the WWW-Authenticate values (RFC 7235: quoted strings may hold
/// commas and escapes; several challenges may share one header).
pub fn parse_challenges(headers: &[&str]) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    for header in headers {
        let mut p = Parser {
            s: header.as_bytes(),
            i: 0,
        };
        loop {
            p.skip(|c| c == b' ' || c == b'\t' || c == b',');
            let token = p.token();
            if token.is_empty() {
                break;
            }
            p.skip(|c| c == b' ' || c == b'\t');
            if p.peek() == Some(b'=') && !out.is_empty() {
                p.i += 1;
                p.skip(|c| c == b' ' || c == b'\t');
                let value = if p.peek() == Some(b'"') {
                    p.quoted()
                } else {
                    p.token()
                };
                if let Some(last) = out.last_mut() {
                    last.params.insert(token.to_ascii_lowercase(), value);
                }
            } else if p.peek() == Some(b'=') {
                // A parameter before any scheme: malformed, skip its value.
                p.i += 1;
                let _ = if p.peek() == Some(b'"') {
                    p.quoted()
                } else {
                    p.token()
                };
            } else {
                out.push(Challenge {
                    scheme: token.to_ascii_lowercase(),
                    params: HashMap::new(),
                });
            }
        }
    }
    out
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn skip(&mut self, f: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
    }
    fn token(&mut self) -> String {
        let start = self.i;
        self.skip(|c| !matches!(c, b' ' | b'\t' | b',' | b'=' | b'"'));
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }
    fn quoted(&mut self) -> String {
        self.i += 1;
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    if let Some(n) = self.peek() {
                        out.push(n);
                        self.i += 1;
                    }
                }
                _ => out.push(c),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64, padding optional, whitespace ignored. None on any other character.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut padding = 0;
    for c in text.bytes() {
        if c.is_ascii_whitespace() {
            continue;
        }
        if c == b'=' {
            padding += 1;
            continue;
        }
        if padding > 0 {
            return None;
        }
        let v = u32::try_from(B64.iter().position(|&x| x == c)?).ok()?;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
            acc &= (1 << bits) - 1;
        }
    }
    // A lone 6-bit remainder cannot come from whole bytes; more than 2 pad chars never can.
    if bits >= 6 || padding > 2 {
        return None;
    }
    Some(out)
}

/// A username and password for one registry. Debug never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <hidden>)", self.username)
    }
}

impl Credentials {
    pub fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!("Basic {}", base64_encode(raw.as_bytes()))
    }

    /// Look `host` (and `repo`, for namespace-scoped entries) up in cove's auth file, then
    /// containers' `$XDG_RUNTIME_DIR/containers/auth.json`, then `~/.docker/config.json`.
    pub fn lookup(paths: &Paths, host: &str, repo: &str) -> Option<Credentials> {
        auth_files(paths)
            .iter()
            .find_map(|f| lookup_in_file(f, host, repo))
    }
}

fn auth_files(paths: &Paths) -> Vec<PathBuf> {
    let mut files = vec![paths.own_config_dir().join("auth.json")];
    if let Some(run) = &paths.runtime_dir {
        files.push(run.join("containers/auth.json"));
    }
    if let Some(home) = &paths.home {
        files.push(home.join(".docker/config.json"));
    }
    files
}

#[derive(Deserialize, Default)]
struct AuthFile {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// docker.io is known under several names in auth files.
fn canonical_host(host: &str) -> &str {
    match host {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io"
        }
        other => other,
    }
}

/// "https://index.docker.io/v1/" -> "docker.io"; "host/ns/repo" stays a namespace key.
fn normalize_key(key: &str) -> String {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let k = k.trim_end_matches('/');
    let (host, rest) = k.split_once('/').unwrap_or((k, ""));
    let host = canonical_host(host);
    // docker's legacy keys carry an API version path, which is not a namespace.
    if rest.is_empty() || rest == "v1" || rest == "v2" {
        host.to_string()
    } else {
        format!("{host}/{rest}")
    }
}

fn lookup_in_file(path: &Path, host: &str, repo: &str) -> Option<Credentials> {
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_AUTH_FILE)
        .read_to_string(&mut text)
        .ok()?;
    let file: AuthFile = match serde_json::from_str(&text) {
        Ok(f) => f,
        Err(e) => {
            crate::warn!("ignoring {}: {e}", path.display());
            return None;
        }
    };
    let keys: HashMap<String, &AuthEntry> = file
        .auths
        .iter()
        .map(|(k, v)| (normalize_key(k), v))
        .collect();
    // Most specific first: host/a/b/c, host/a/b, host/a, host.
    let host = canonical_host(host);
    let mut candidates = Vec::new();
    let mut scope = format!("{host}/{repo}");
    loop {
        candidates.push(scope.clone());
        match scope.rsplit_once('/') {
            Some((shorter, _)) => scope = shorter.to_string(),
            None => break,
        }
    }
    candidates
        .iter()
        .filter_map(|c| keys.get(c))
        .find_map(|e| entry_credentials(e))
}

fn entry_credentials(e: &AuthEntry) -> Option<Credentials> {
    if let Some(auth) = e.auth.as_deref().filter(|a| !a.is_empty()) {
        let decoded = String::from_utf8(base64_decode(auth)?).ok()?;
        let (user, pass) = decoded.split_once(':')?;
        return Some(Credentials {
            username: user.to_string(),
            password: pass.to_string(),
        });
    }
    match (&e.username, &e.password) {
        (Some(u), Some(p)) if !u.is_empty() => Some(Credentials {
            username: u.clone(),
            password: p.clone(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("user:p@ss:w0rd", "dXNlcjpwQHNzOncwcmQ="),
        ];
        for (plain, enc) in cases {
            assert_eq!(base64_encode(plain.as_bytes()), *enc);
            assert_eq!(base64_decode(enc).unwrap(), plain.as_bytes());
        }
        assert_eq!(base64_decode("Zm8").unwrap(), b"fo");
        assert_eq!(base64_decode("Zm9v\nYg==").unwrap(), b"foob");
        assert_eq!(base64_decode("Zm9v!"), None);
        assert_eq!(base64_decode("Z"), None);
        assert_eq!(base64_decode("Zg==Zg"), None);
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(base64_decode(&base64_encode(&all)).unwrap(), all);
    }

    #[test]
    fn challenges() {
        let h = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#;
        let c = parse_challenges(&[h]);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].params["realm"], "https://auth.docker.io/token");
        assert_eq!(c[0].params["service"], "registry.docker.io");
        assert_eq!(c[0].params["scope"], "repository:library/busybox:pull,push");

        let c = parse_challenges(&[
            r#"Basic realm="Registry \"R\"", Bearer Realm=http://x/t , error="insufficient_scope""#,
        ]);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].params["realm"], "Registry \"R\"");
        assert_eq!(c[1].params["realm"], "http://x/t");
        assert_eq!(c[1].params["error"], "insufficient_scope");

        let c = parse_challenges(&["Basic", "BEARER realm=\"r\""]);
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].scheme, "bearer");
        assert!(parse_challenges(&[""]).is_empty());
        assert!(parse_challenges(&["=x"]).is_empty());
    }

    #[test]
    fn credentials_from_files() {
        let dir = std::env::temp_dir().join(format!("cove-auth-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("cove")).unwrap();
        std::fs::create_dir_all(dir.join("home/.docker")).unwrap();
        std::fs::write(
            dir.join("cove/auth.json"),
            format!(
                r#"{{"auths":{{"quay.io/team":{{"auth":"{}"}}}}}}"#,
                base64_encode(b"team:t")
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("home/.docker/config.json"),
            format!(
                r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{}"}},"quay.io":{{"auth":"{}"}},"localhost:5000":{{"username":"u","password":"p"}}}},"credsStore":"desktop"}}"#,
                base64_encode(b"hub:secret"),
                base64_encode(b"q:x")
            ),
        )
        .unwrap();
        let paths = Paths {
            home: Some(dir.join("home")),
            ..Paths::under(&dir)
        };
        let get = |h: &str, r: &str| Credentials::lookup(&paths, h, r).map(|c| c.username);
        assert_eq!(get("docker.io", "library/busybox").as_deref(), Some("hub"));
        assert_eq!(get("registry-1.docker.io", "x/y").as_deref(), Some("hub"));
        assert_eq!(get("quay.io", "team/app").as_deref(), Some("team"));
        assert_eq!(get("quay.io", "other/app").as_deref(), Some("q"));
        assert_eq!(get("localhost:5000", "a").as_deref(), Some("u"));
        assert_eq!(get("localhost", "a"), None);
        let c = Credentials::lookup(&paths, "docker.io", "a/b").unwrap();
        assert_eq!(c.password, "secret");
        assert!(!format!("{c:?}").contains("secret"));
        assert_eq!(
            c.basic_header(),
            format!("Basic {}", base64_encode(b"hub:secret"))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
