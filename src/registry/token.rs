//! Bearer tokens: the GET to a challenge's realm, with Basic credentials when we have them
//! and may send them, and the reply's token and lifetime.

use std::io::Read;
use std::time::Duration;

use serde::Deserialize;

use super::auth::Challenge;
use super::config::is_loopback;
use super::transport::{denied_status, Endpoint, Failure};
use super::wording::transport_detail;
use super::{Error, ErrorKind};

const MAX_TOKEN_BYTES: u64 = 1 << 20;
/// Tokens without `expires_in` live 60 s (the distribution spec's default and minimum).
const MIN_TOKEN_LIFE: u64 = 60;

pub(crate) fn fetch_token(ep: &Endpoint, ch: &Challenge) -> Result<(String, Duration), Failure> {
    let realm = ch.params.get("realm").map(String::as_str).unwrap_or("");
    let realm_host = realm
        .strip_prefix("https://")
        .or_else(|| realm.strip_prefix("http://"))
        .map(|r| r.split(['/', '?']).next().unwrap_or(r));
    let Some(realm_host) = realm_host.filter(|h| !h.is_empty()) else {
        return Err(Failure::Worded(Error::new(
            ErrorKind::Denied,
            format!(
                "registry {} sent an unusable auth challenge (realm {realm:?})",
                ep.host
            ),
        )));
    };
    // A login asks /v2/ itself: no repository, so no scope.
    let scope = ch
        .params
        .get("scope")
        .cloned()
        .or_else(|| (!ep.repo.is_empty()).then(|| format!("repository:{}:pull", ep.repo)))
        .unwrap_or_default();
    let mut req = ep.agent.get(realm);
    if !scope.is_empty() {
        req = req.query("scope", &scope);
    }
    // One token for everything this client will do (push, mounts from other repositories).
    for extra in ep.scopes.iter().filter(|s| **s != scope) {
        req = req.query("scope", extra);
    }
    if let Some(service) = ch.params.get("service") {
        req = req.query("service", service);
    }
    // Credentials go over TLS, or over plain HTTP only to the registry itself or loopback.
    let may_send_creds =
        realm.starts_with("https://") || realm_host == ep.host || is_loopback(realm_host);
    let creds = ep.creds.as_ref().filter(|_| may_send_creds);
    if let Some(c) = creds {
        req = req.set("Authorization", &c.basic_header());
    }
    let resp = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(401 | 403, _)) if creds.is_some() => {
            return Err(Failure::Worded(Error::new(
                ErrorKind::Denied,
                format!(
                    "unauthorized: incorrect username or password for {}",
                    ep.host
                ),
            )));
        }
        Err(ureq::Error::Status(401 | 403, _)) => return Err(denied_status()),
        Err(ureq::Error::Status(code, resp)) => {
            return Err(Failure::Worded(Error::new(
                ErrorKind::Other,
                format!(
                    "cannot get a token from {realm_host}: {code} {}",
                    resp.status_text()
                ),
            )))
        }
        Err(ureq::Error::Transport(t)) => {
            return Err(Failure::Worded(Error::new(
                ErrorKind::Network,
                format!(
                    "cannot reach auth server {realm_host}: {}",
                    transport_detail(&t)
                ),
            )))
        }
    };
    #[derive(Deserialize)]
    struct TokenReply {
        #[serde(default)]
        token: Option<String>,
        #[serde(default)]
        access_token: Option<String>,
        #[serde(default)]
        expires_in: Option<u64>,
    }
    let bad = |why: &str| {
        Failure::Worded(Error::new(
            ErrorKind::InvalidData,
            format!("auth server {realm_host} sent an unusable token reply: {why}"),
        ))
    };
    let mut body = Vec::new();
    resp.into_reader()
        .take(MAX_TOKEN_BYTES + 1)
        .read_to_end(&mut body)
        .map_err(|e| bad(&e.to_string()))?;
    if body.len() as u64 > MAX_TOKEN_BYTES {
        return Err(bad("larger than 1 MiB"));
    }
    let reply: TokenReply = serde_json::from_slice(&body).map_err(|e| bad(&e.to_string()))?;
    let token = reply
        .token
        .filter(|t| !t.is_empty())
        .or(reply.access_token.filter(|t| !t.is_empty()))
        .ok_or_else(|| bad("no token in it"))?;
    let life = reply
        .expires_in
        .unwrap_or(MIN_TOKEN_LIFE)
        .max(MIN_TOKEN_LIFE);
    // Renew a little early so a token does not expire in flight.
    Ok((format!("Bearer {token}"), Duration::from_secs(life - 5)))
}
