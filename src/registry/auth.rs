//! Registry authentication: WWW-Authenticate challenges, credentials (found by `authfile`),
//! and base64 for Basic auth.

use std::collections::HashMap;

use crate::paths::Paths;

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

    /// Look `host` (and `repo`, for namespace-scoped entries) up in the auth files and
    /// credential helpers (see `authfile`).
    pub fn lookup(paths: &Paths, host: &str, repo: &str) -> Option<Credentials> {
        super::authfile::lookup(paths, host, repo)
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
}
