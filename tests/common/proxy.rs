//! A front proxy in front of the test registry that injects what real registries do to
//! clients: token and basic auth, corrupt and cut blob bodies, slow links. It records every
//! request so tests can assert what cove fetched (e.g. no blob on a re-pull, a Range on resume).
//! One request per connection: the proxy always answers `Connection: close`.

use std::collections::HashSet;
use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::http::{read_head, Head};

#[derive(Clone, Debug)]
pub enum Mode {
    /// Forward everything unchanged.
    Plain,
    /// Registry token auth: 401 with a Bearer challenge; `/token` issues tokens only to the
    /// right Basic credentials; `Authorization: Bearer <token>` is then accepted.
    TokenAuth { user: String, pass: String },
    /// 401 with a Bearer challenge whose token endpoint refuses connections.
    TokenServerDown,
    /// 401 with a Basic challenge unless the right Basic credentials come with the request.
    BasicAuth { user: String, pass: String },
    /// Flip a byte in the body of this blob (`sha256:...`) each time it is served.
    CorruptBlob(String),
    /// Close blob GET connections after `bytes` body bytes, the first `times` times.
    CutAfter { bytes: u64, times: u32 },
    /// Serve blob bodies at about this rate.
    Throttle { bytes_per_sec: u64 },
    /// Hang up on upload requests (PATCH, PUT with a body) after reading `bytes` of their
    /// body, the first `times` times.
    CutUpload { bytes: u64, times: u32 },
    /// Answer every blob upload's final PUT with 400 (a registry refusing the blob).
    RefuseBlob,
}

/// One request as the proxy saw it and answered it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub range: Option<String>,
    pub authorization: Option<String>,
}

impl Seen {
    pub fn is_blob_get(&self) -> bool {
        self.method == "GET" && self.path.contains("/blobs/sha256:")
    }
}

struct State {
    upstream: String,
    addr: String,
    mode: Mutex<Mode>,
    seen: Mutex<Vec<Seen>>,
    tokens: Mutex<HashSet<String>>,
    cuts: AtomicU32,
    blob_bytes: AtomicU64,
    stop: AtomicBool,
}

pub struct Proxy {
    /// `127.0.0.1:PORT`; use it as the registry host in references.
    pub addr: String,
    state: Arc<State>,
}

impl Proxy {
    /// Starts a proxy in front of the test registry.
    pub fn start(mode: Mode) -> Proxy {
        Proxy::start_to(&super::registry().addr, mode)
    }

    pub fn start_to(upstream: &str, mode: Mode) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let state = Arc::new(State {
            upstream: upstream.to_string(),
            addr: addr.clone(),
            mode: Mutex::new(mode),
            seen: Mutex::new(Vec::new()),
            tokens: Mutex::new(HashSet::new()),
            cuts: AtomicU32::new(0),
            blob_bytes: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = handle(&st, conn);
                });
            }
        });
        Proxy { addr, state }
    }

    /// `127.0.0.1:PROXYPORT/<name_tag>`
    pub fn reference(&self, name_tag: &str) -> String {
        format!("{}/{name_tag}", self.addr)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    pub fn blob_gets(&self) -> Vec<Seen> {
        self.requests()
            .into_iter()
            .filter(|s| s.is_blob_get())
            .collect()
    }

    pub fn clear(&self) {
        self.state.seen.lock().unwrap().clear();
    }

    /// Blob body bytes sent to clients so far.
    pub fn blob_bytes(&self) -> u64 {
        self.state.blob_bytes.load(Ordering::SeqCst)
    }

    /// How many connections `CutAfter` has cut.
    pub fn cuts(&self) -> u32 {
        self.state.cuts.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

fn record(st: &State, req: &Head, method: &str, path: &str, status: u16) {
    st.seen.lock().unwrap().push(Seen {
        method: method.to_string(),
        path: path.to_string(),
        status,
        range: req.header("range").map(str::to_string),
        authorization: req.header("authorization").map(str::to_string),
    });
}

fn basic_ok(req: &Head, user: &str, pass: &str) -> bool {
    req.header("authorization")
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| super::base64_decode(b.trim()))
        .is_some_and(|d| d == format!("{user}:{pass}").as_bytes())
}

fn respond(c: &mut TcpStream, status: u16, extra: &[(&str, String)], body: &str) {
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        _ => "Error",
    };
    let mut s = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in extra {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    s.push_str("\r\n");
    s.push_str(body);
    let _ = c.write_all(s.as_bytes());
}

const UNAUTHORIZED: &str =
    r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}"#;

/// The scope a registry names in its challenge for a `/v2/<name>/...` path: pull for reads,
/// pull,push for writes.
fn scope(method: &str, path: &str) -> Option<String> {
    let rest = path.strip_prefix("/v2/")?;
    let actions = if method == "GET" || method == "HEAD" {
        "pull"
    } else {
        "pull,push"
    };
    ["/manifests/", "/blobs/", "/tags/"].iter().find_map(|m| {
        rest.find(m)
            .map(|i| format!("repository:{}:{actions}", &rest[..i]))
    })
}

fn handle(st: &State, client: TcpStream) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut client = client;
    let Some(req) = read_head(&mut reader)? else {
        return Ok(());
    };
    let mut parts = req.line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mode = st.mode.lock().unwrap().clone();
    let len = req.content_length().unwrap_or(0);
    if let Mode::CutUpload { bytes, times } = &mode {
        if (method == "PATCH" || method == "PUT")
            && len > *bytes
            && st.cuts.load(Ordering::SeqCst) < *times
        {
            st.cuts.fetch_add(1, Ordering::SeqCst);
            let mut part = vec![0u8; *bytes as usize];
            reader.read_exact(&mut part)?;
            record(st, &req, &method, &path, 0);
            let _ = client.shutdown(Shutdown::Both);
            return Ok(());
        }
    }
    let mut body = vec![0u8; len as usize];
    reader.read_exact(&mut body)?;
    if matches!(mode, Mode::RefuseBlob)
        && method == "PUT"
        && path.contains("/blobs/uploads/")
        && path.contains("digest=")
    {
        record(st, &req, &method, &path, 400);
        respond(
            &mut client,
            400,
            &[],
            r#"{"errors":[{"code":"BLOB_UPLOAD_INVALID","message":"blob upload invalid"}]}"#,
        );
        return Ok(());
    }

    match &mode {
        Mode::TokenAuth { user, pass } => {
            if path.starts_with("/token") {
                if basic_ok(&req, user, pass) {
                    let tok = format!(
                        "tok-{}-{}",
                        std::process::id(),
                        st.seen.lock().unwrap().len()
                    );
                    st.tokens.lock().unwrap().insert(tok.clone());
                    record(st, &req, &method, &path, 200);
                    let b =
                        format!(r#"{{"token":"{tok}","access_token":"{tok}","expires_in":300}}"#);
                    respond(&mut client, 200, &[], &b);
                } else {
                    record(st, &req, &method, &path, 401);
                    respond(&mut client, 401, &[], UNAUTHORIZED);
                }
                return Ok(());
            }
            let ok = req
                .header("authorization")
                .and_then(|v| v.strip_prefix("Bearer "))
                .is_some_and(|t| st.tokens.lock().unwrap().contains(t.trim()));
            if !ok {
                let mut chal = format!(
                    r#"Bearer realm="http://{}/token",service="cove-test""#,
                    st.addr
                );
                if let Some(s) = scope(&method, &path) {
                    chal.push_str(&format!(r#",scope="{s}""#));
                }
                record(st, &req, &method, &path, 401);
                respond(
                    &mut client,
                    401,
                    &[("WWW-Authenticate", chal)],
                    UNAUTHORIZED,
                );
                return Ok(());
            }
        }
        Mode::TokenServerDown => {
            record(st, &req, &method, &path, 401);
            let chal = r#"Bearer realm="http://127.0.0.1:1/token",service="cove-test""#;
            respond(
                &mut client,
                401,
                &[("WWW-Authenticate", chal.to_string())],
                UNAUTHORIZED,
            );
            return Ok(());
        }
        Mode::BasicAuth { user, pass } if !basic_ok(&req, user, pass) => {
            record(st, &req, &method, &path, 401);
            let chal = r#"Basic realm="cove-test""#.to_string();
            respond(
                &mut client,
                401,
                &[("WWW-Authenticate", chal)],
                UNAUTHORIZED,
            );
            return Ok(());
        }
        _ => {}
    }
    forward(st, &mode, &req, &method, &path, &body, client)
}

fn forward(
    st: &State,
    mode: &Mode,
    req: &Head,
    method: &str,
    path: &str,
    body: &[u8],
    mut client: TcpStream,
) -> std::io::Result<()> {
    let mut up = TcpStream::connect(&st.upstream)?;
    // The registry builds upload locations from Host: they come back through the proxy.
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", st.addr);
    for (k, v) in &req.headers {
        let skip = [
            "host",
            "connection",
            "keep-alive",
            "proxy-connection",
            "authorization",
        ];
        if !skip.iter().any(|s| k.eq_ignore_ascii_case(s)) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    up.write_all(head.as_bytes())?;
    up.write_all(body)?;
    let mut upr = BufReader::new(up);
    let Some(resp) = read_head(&mut upr)? else {
        return Ok(());
    };
    let status = resp.status();
    record(st, req, method, path, status);

    let mut out = format!("{}\r\n", resp.line);
    for (k, v) in &resp.headers {
        if !k.eq_ignore_ascii_case("connection") {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    client.write_all(out.as_bytes())?;
    if method == "HEAD" || status == 204 || status == 304 {
        return Ok(());
    }

    let is_blob =
        method == "GET" && path.contains("/blobs/sha256:") && (status == 200 || status == 206);
    let len = resp.content_length();
    let corrupt_at = match mode {
        Mode::CorruptBlob(d) if is_blob && path.ends_with(d.as_str()) => Some(len.unwrap_or(2) / 2),
        _ => None,
    };
    let cut_at = match mode {
        Mode::CutAfter { bytes, times }
            if is_blob
                && len.is_some_and(|l| l > *bytes)
                && st.cuts.load(Ordering::SeqCst) < *times =>
        {
            st.cuts.fetch_add(1, Ordering::SeqCst);
            Some(*bytes)
        }
        _ => None,
    };
    let rate = match mode {
        Mode::Throttle { bytes_per_sec } if is_blob => Some(*bytes_per_sec),
        _ => None,
    };

    let mut sent: u64 = 0;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let mut want = buf.len();
        if let Some(r) = rate {
            want = want.min((r / 10).max(1) as usize);
        }
        if let Some(c) = cut_at {
            want = want.min((c - sent) as usize);
            if want == 0 {
                let _ = client.shutdown(Shutdown::Both);
                return Ok(());
            }
        }
        let n = upr.read(&mut buf[..want])?;
        if n == 0 {
            return Ok(());
        }
        if let Some(at) = corrupt_at {
            if at >= sent && at < sent + n as u64 {
                buf[(at - sent) as usize] ^= 0xff;
            }
        }
        client.write_all(&buf[..n])?;
        sent += n as u64;
        if is_blob {
            st.blob_bytes.fetch_add(n as u64, Ordering::SeqCst);
        }
        if let Some(r) = rate {
            std::thread::sleep(Duration::from_secs_f64(n as f64 / r as f64));
        }
    }
}
