//! HTTP to the registry: endpoint order (mirrors first), scheme choice (https, or http first for
//! insecure hosts), the 401 -> token -> retry dance without a /v2/ ping, and docker-like errors.

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde::Deserialize;

use super::auth::{parse_challenges, Challenge, Credentials};
use super::token::fetch_token;
use super::{Error, ErrorKind, Reference};

/// Redirects followed per request, as Go's HTTP client (and so docker) allows.
pub(crate) const MAX_REDIRECTS: u32 = 10;

const MAX_ERROR_BODY: u64 = 64 << 10;

/// One place the repository can be fetched from: a mirror or the registry itself.
pub(crate) struct Endpoint {
    /// "host[:port]" to connect to.
    pub host: String,
    /// The repository path at this endpoint.
    pub repo: String,
    /// Schemes to try in order: ["https"], or ["http", "https"] for insecure hosts.
    pub schemes: Vec<&'static str>,
    pub mirror: bool,
    pub creds: Option<Credentials>,
    /// Index into `schemes` of the one that last worked, so later requests go straight there.
    preferred: AtomicUsize,
    /// A mirror that could not be reached is not tried again by this client.
    dead: AtomicBool,
}

impl Endpoint {
    pub fn new(
        host: String,
        repo: String,
        insecure: bool,
        mirror: bool,
        creds: Option<Credentials>,
    ) -> Endpoint {
        Endpoint {
            host,
            repo,
            schemes: if insecure {
                vec!["http", "https"]
            } else {
                vec!["https"]
            },
            mirror,
            creds,
            preferred: AtomicUsize::new(0),
            dead: AtomicBool::new(false),
        }
    }
}

/// What a request is for, so a failure can be worded the way docker words it.
#[derive(Clone, Copy)]
pub(crate) enum Op<'a> {
    Manifest(&'a str),
    Blob(&'a str),
    Tags,
}

enum CachedAuth {
    Bearer { header: String, until: Instant },
    Basic(String),
}

pub(crate) enum Failure {
    /// The registry answered with an error status.
    Status {
        code: u16,
        text: String,
        registry_msg: Option<String>,
    },
    /// No HTTP answer: refused, reset, DNS, TLS, timeout.
    Transport(String),
    /// Already worded (token endpoint problems, bad challenges).
    Worded(Error),
}

pub(crate) struct Transport {
    pub agent: ureq::Agent,
    pub endpoints: Vec<Endpoint>,
    pub reference: Reference,
    auth: Mutex<HashMap<String, CachedAuth>>,
}

impl Transport {
    pub fn new(agent: ureq::Agent, endpoints: Vec<Endpoint>, reference: Reference) -> Transport {
        Transport {
            agent,
            endpoints,
            reference,
            auth: Mutex::new(HashMap::new()),
        }
    }

    /// GET `/v2/<repo>/<suffix>` from the first endpoint that answers successfully.
    pub fn get(
        &self,
        suffix: &str,
        headers: &[(&str, &str)],
        op: Op,
    ) -> Result<(ureq::Response, &Endpoint), Error> {
        let mut last = None;
        for ep in self.endpoints.iter() {
            if ep.dead.load(Ordering::Relaxed) {
                continue;
            }
            let path = format!("/v2/{}/{}", ep.repo, suffix);
            match self.send(ep, &path, headers) {
                Ok(resp) => return Ok((resp, ep)),
                Err(f) => {
                    let err = self.describe(f, ep, op);
                    if ep.mirror {
                        crate::debug!("mirror {} failed, trying the next source: {err}", ep.host);
                        if err.kind() == ErrorKind::Network {
                            ep.dead.store(true, Ordering::Relaxed);
                        }
                    }
                    last = Some(err);
                }
            }
        }
        Err(last
            .unwrap_or_else(|| Error::new(ErrorKind::Network, "no registry endpoint left to try")))
    }

    /// GET an absolute path (with query) on one endpoint, e.g. a `Link` from a tag list.
    pub fn get_path(&self, ep: &Endpoint, path: &str, op: Op) -> Result<ureq::Response, Error> {
        self.send(ep, path, &[])
            .map_err(|f| self.describe(f, ep, op))
    }

    fn send(
        &self,
        ep: &Endpoint,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<ureq::Response, Failure> {
        let first = ep
            .preferred
            .load(Ordering::Relaxed)
            .min(ep.schemes.len() - 1);
        let mut failure = None;
        for (i, scheme) in ep.schemes.iter().enumerate().skip(first) {
            let url = format!("{scheme}://{}{path}", ep.host);
            match self.send_authed(ep, &url, headers) {
                Err(Failure::Transport(msg)) => {
                    crate::debug!("{url}: {msg}");
                    failure = Some(Failure::Transport(msg));
                }
                // A TLS-only server answers plain HTTP with 400 ("Client sent an HTTP request
                // to an HTTPS server"): that is a cue to switch to https, not a registry error.
                Err(f @ Failure::Status { code: 400, .. })
                    if *scheme == "http" && i + 1 < ep.schemes.len() =>
                {
                    crate::debug!("{url}: 400 over plain http, trying https");
                    failure = Some(f);
                }
                other => {
                    ep.preferred.store(i, Ordering::Relaxed);
                    return other;
                }
            }
        }
        Err(failure.unwrap_or_else(|| Failure::Transport("no scheme to try".into())))
    }

    fn send_authed(
        &self,
        ep: &Endpoint,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<ureq::Response, Failure> {
        let mut retried = false;
        loop {
            let mut req = self.agent.get(url);
            for (k, v) in headers {
                req = req.set(k, v);
            }
            if let Some(h) = self.cached_auth(&ep.host) {
                req = req.set("Authorization", &h);
            }
            match req.call() {
                Ok(resp) => return Ok(resp),
                Err(ureq::Error::Status(401, resp)) if !retried => {
                    let values: Vec<String> = resp
                        .all("www-authenticate")
                        .iter()
                        .map(|s| s.to_string())
                        .collect();
                    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
                    self.authenticate(ep, &parse_challenges(&refs))?;
                    retried = true;
                }
                Err(ureq::Error::Status(code, resp)) => return Err(status_failure(code, resp)),
                // The server answered, in circles: that is its error, not a cue to try
                // another scheme (whose failure, a TLS one say, would hide it).
                Err(ureq::Error::Transport(t)) if t.kind() == ureq::ErrorKind::TooManyRedirects => {
                    return Err(Failure::Worded(Error::new(
                        ErrorKind::Network,
                        format!(
                            "cannot reach registry {}: stopped after {MAX_REDIRECTS} redirects",
                            ep.host
                        ),
                    )))
                }
                Err(ureq::Error::Transport(t)) => {
                    return Err(Failure::Transport(transport_detail(&t)))
                }
            }
        }
    }

    fn cached_auth(&self, host: &str) -> Option<String> {
        let mut cache = self.auth.lock().unwrap_or_else(|p| p.into_inner());
        match cache.get(host) {
            Some(CachedAuth::Bearer { header, until }) if Instant::now() < *until => {
                Some(header.clone())
            }
            Some(CachedAuth::Bearer { .. }) => {
                cache.remove(host);
                None
            }
            Some(CachedAuth::Basic(h)) => Some(h.clone()),
            None => None,
        }
    }

    /// Answer a 401's challenges: fetch a bearer token, or use Basic credentials.
    fn authenticate(&self, ep: &Endpoint, challenges: &[Challenge]) -> Result<(), Failure> {
        let bearer = challenges.iter().find(|c| c.scheme == "bearer");
        let basic = challenges.iter().find(|c| c.scheme == "basic");
        let entry = if let Some(ch) = bearer {
            let (header, life) = fetch_token(&self.agent, ep, ch)?;
            CachedAuth::Bearer {
                header,
                until: Instant::now() + life,
            }
        } else if basic.is_some() {
            match &ep.creds {
                Some(c) => CachedAuth::Basic(c.basic_header()),
                None => return Err(denied_status()),
            }
        } else {
            return Err(denied_status());
        };
        let mut cache = self.auth.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(ep.host.clone(), entry);
        Ok(())
    }

    /// Turn a failure into the message docker would print.
    fn describe(&self, f: Failure, ep: &Endpoint, op: Op) -> Error {
        let r = &self.reference;
        match f {
            Failure::Worded(e) => e,
            Failure::Transport(detail) => Error::new(
                ErrorKind::Network,
                format!("cannot reach registry {}: {detail}", ep.host),
            ),
            Failure::Status {
                code,
                text,
                registry_msg,
            } => {
                let extra = registry_msg.map(|m| format!(": {m}")).unwrap_or_default();
                match (code, op) {
                    (404, Op::Manifest(t)) => {
                        let sep = if t.starts_with("sha256:") { '@' } else { ':' };
                        Error::new(
                            ErrorKind::NotFound,
                            format!(
                                "manifest unknown: manifest for {}{sep}{t} not found",
                                r.familiar_name()
                            ),
                        )
                    }
                    (404, Op::Blob(d)) => Error::new(
                        ErrorKind::NotFound,
                        format!("blob unknown: blob {d} not found in {}", r.familiar_name()),
                    ),
                    (404, Op::Tags) => Error::new(
                        ErrorKind::NotFound,
                        format!("name unknown: repository {} not found", r.familiar_name()),
                    ),
                    (401 | 403, _) => Error::new(
                        ErrorKind::Denied,
                        format!(
                            "pull access denied for {}, repository does not exist or may \
                             require authentication{extra}",
                            r.familiar_name()
                        ),
                    ),
                    (429, _) => Error::new(
                        ErrorKind::Other,
                        format!("toomanyrequests: too many requests to {}{extra}", ep.host),
                    ),
                    _ => Error::new(
                        ErrorKind::Other,
                        format!("registry {} answered {code} {text}{extra}", ep.host),
                    ),
                }
            }
        }
    }
}

pub(crate) fn denied_status() -> Failure {
    Failure::Status {
        code: 401,
        text: "Unauthorized".into(),
        registry_msg: None,
    }
}

fn status_failure(code: u16, resp: ureq::Response) -> Failure {
    let text = resp.status_text().to_string();
    let mut body = Vec::new();
    let _ = resp
        .into_reader()
        .take(MAX_ERROR_BODY)
        .read_to_end(&mut body);
    Failure::Status {
        code,
        text,
        registry_msg: registry_message(&body),
    }
}

/// "denied: requested access to the resource is denied" from `{"errors":[{code,message}]}`.
pub(crate) fn registry_message(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let parsed: Errors = serde_json::from_slice(body).ok()?;
    let parts: Vec<String> = parsed
        .errors
        .iter()
        .map(|e| {
            let msg: String = e
                .message
                .chars()
                .filter(|c| !c.is_control())
                .take(300)
                .collect();
            match (e.code.is_empty(), msg.is_empty()) {
                (false, false) => format!("{}: {msg}", e.code.to_lowercase()),
                (false, true) => e.code.to_lowercase(),
                _ => msg,
            }
        })
        .filter(|s| !s.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// A short cause for a connection failure: "connection refused", "no such host", ...
pub(crate) fn transport_detail(t: &ureq::Transport) -> String {
    use std::error::Error as _;
    if t.kind() == ureq::ErrorKind::Dns {
        return "no such host".into();
    }
    let mut source = t.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return io_detail(io);
        }
        source = s.source();
    }
    match t.message() {
        Some(m) => format!("{}: {m}", t.kind()),
        None => t.kind().to_string(),
    }
}

pub(crate) fn io_detail(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => "connection refused".into(),
        K::ConnectionReset => "connection reset by peer".into(),
        K::TimedOut | K::WouldBlock => "timed out".into(),
        K::UnexpectedEof => "connection closed early".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_messages() {
        let body = br#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied","detail":null}]}"#;
        assert_eq!(
            registry_message(body).as_deref(),
            Some("denied: requested access to the resource is denied")
        );
        assert_eq!(registry_message(b"<html>"), None);
        assert_eq!(registry_message(br#"{"errors":[]}"#), None);
    }
}
