//! HTTP to the registry: endpoint order (mirrors first), scheme choice (https, or http first for
//! insecure hosts), any method with a body, and the 401 -> token -> retry dance without a
//! /v2/ ping.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use super::auth::{parse_challenges, Challenge, Credentials};
use super::token::fetch_token;
use super::wording::{describe, status_failure, transport_detail};
use super::{Error, ErrorKind, Reference};

/// Redirects followed per request, as Go's HTTP client (and so docker) allows.
pub(crate) const MAX_REDIRECTS: u32 = 10;

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
    /// The HTTP agent, with this host's TLS configuration (certs.d).
    pub agent: ureq::Agent,
    /// Where the user is told to put this host's CA certificate.
    pub ca_hint: PathBuf,
    /// Token scopes asked for besides the challenge's (push: pull,push; mount sources).
    pub scopes: Vec<String>,
    /// Index into `schemes` of the one that last worked, so later requests go straight there.
    preferred: AtomicUsize,
    /// A mirror that could not be reached is not tried again by this client.
    dead: AtomicBool,
}

pub(crate) struct EndpointSpec {
    pub host: String,
    pub repo: String,
    pub insecure: bool,
    pub mirror: bool,
    pub creds: Option<Credentials>,
    pub agent: ureq::Agent,
    pub ca_hint: PathBuf,
}

impl Endpoint {
    pub fn new(s: EndpointSpec) -> Endpoint {
        Endpoint {
            host: s.host,
            repo: s.repo,
            schemes: if s.insecure {
                vec!["http", "https"]
            } else {
                vec!["https"]
            },
            mirror: s.mirror,
            creds: s.creds,
            agent: s.agent,
            ca_hint: s.ca_hint,
            scopes: Vec::new(),
            preferred: AtomicUsize::new(0),
            dead: AtomicBool::new(false),
        }
    }

    /// `scheme://host` of the scheme that last worked.
    pub fn base_url(&self) -> String {
        let i = self
            .preferred
            .load(Ordering::Relaxed)
            .min(self.schemes.len() - 1);
        format!("{}://{}", self.schemes[i], self.host)
    }

    /// An absolute URL for a `Location` header, which may be a path on this endpoint.
    pub fn resolve(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else if location.starts_with('/') {
            format!("{}{location}", self.base_url())
        } else {
            format!("{}/{location}", self.base_url())
        }
    }
}

/// What a request is for, so a failure can be worded the way docker words it.
#[derive(Clone, Copy)]
pub(crate) enum Op<'a> {
    Manifest(&'a str),
    Blob(&'a str),
    Tags,
    Push,
    Login,
    Search,
}

/// A request body: none, bytes in memory, or a stream that can be opened again (a 401 on the
/// first try sends it once more with a token).
#[derive(Clone, Copy)]
pub(crate) enum Body<'a> {
    Empty,
    Bytes(&'a [u8]),
    Stream {
        len: u64,
        open: &'a dyn Fn() -> std::io::Result<Box<dyn Read + Send + 'a>>,
    },
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
    pub endpoints: Vec<Endpoint>,
    pub reference: Reference,
    auth: Mutex<HashMap<String, CachedAuth>>,
}

impl Transport {
    pub fn new(endpoints: Vec<Endpoint>, reference: Reference) -> Transport {
        Transport {
            endpoints,
            reference,
            auth: Mutex::new(HashMap::new()),
        }
    }

    /// The registry itself (never a mirror): where pushes go.
    pub fn origin(&self) -> Result<&Endpoint, Error> {
        self.endpoints
            .iter()
            .find(|e| !e.mirror)
            .ok_or_else(|| Error::new(ErrorKind::Config, "no registry endpoint to push to"))
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
            match self.send(ep, "GET", &path, headers, Body::Empty) {
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
        self.send(ep, "GET", path, &[], Body::Empty)
            .map_err(|f| self.describe(f, ep, op))
    }

    /// Any request to a path on `ep`, trying its schemes in order (the first request of a
    /// push finds the scheme; later ones go straight to it).
    pub fn send(
        &self,
        ep: &Endpoint,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> Result<ureq::Response, Failure> {
        let first = ep
            .preferred
            .load(Ordering::Relaxed)
            .min(ep.schemes.len() - 1);
        let mut failure = None;
        for (i, scheme) in ep.schemes.iter().enumerate().skip(first) {
            let url = format!("{scheme}://{}{path}", ep.host);
            match self.send_url(ep, method, &url, headers, body) {
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

    /// One request to an absolute URL, authenticated (a 401 fetches a token and retries once).
    pub fn send_url(
        &self,
        ep: &Endpoint,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> Result<ureq::Response, Failure> {
        let mut retried = false;
        loop {
            let mut req = ep.agent.request(method, url);
            for (k, v) in headers {
                req = req.set(k, v);
            }
            if let Some(h) = self.cached_auth(&ep.host) {
                req = req.set("Authorization", &h);
            }
            let sent = match body {
                Body::Empty if method == "GET" || method == "HEAD" => req.call(),
                Body::Empty => req.set("Content-Length", "0").send_bytes(&[]),
                Body::Bytes(b) => req.send_bytes(b),
                Body::Stream { len, open } => {
                    let reader = open().map_err(|e| Failure::Transport(e.to_string()))?;
                    req.set("Content-Length", &len.to_string()).send(reader)
                }
            };
            match sent {
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
            let (header, life) = fetch_token(ep, ch)?;
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
    pub fn describe(&self, f: Failure, ep: &Endpoint, op: Op) -> Error {
        describe(f, ep, op, &self.reference)
    }
}

pub(crate) use super::wording::{denied_status, io_detail};
