//! search: repositories a registry offers. Docker Hub (and any registry that answers it) has
//! the v1 search API with descriptions and stars; a plain v2 registry is searched through its
//! `_catalog`, filtered by the term here, as podman does.

use std::io::Read;

use serde::Deserialize;

use super::auth::Credentials;
use super::reference::DOCKER_DOMAIN;
use super::transport::{Body, Endpoint, EndpointSpec, Failure, Op, Transport};
use super::{Error, ErrorKind, Reference, RegistriesConf};
use crate::paths::Paths;

/// Pages of `_catalog` followed at most (each up to `CATALOG_PAGE` names).
const MAX_CATALOG_PAGES: usize = 1000;
const CATALOG_PAGE: usize = 1000;
const MAX_BODY: u64 = 8 << 20;
/// Docker Hub's search answers at most this many results per request.
pub const MAX_LIMIT: usize = 100;

/// One repository found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The registry searched ("docker.io", "localhost:5000").
    pub index: String,
    /// As docker shows it: Hub names bare ("nginx", "bitnami/redis"), others with their host.
    pub name: String,
    pub description: String,
    pub stars: u64,
    pub official: bool,
    pub automated: bool,
}

/// Split a search term into the registry and the words: "localhost:5000/busy" searches
/// localhost:5000 for "busy"; a term without a registry part searches Docker Hub.
pub fn split_term(term: &str) -> (String, String) {
    if let Some((first, rest)) = term.split_once('/') {
        if first.contains('.') || first.contains(':') || first == "localhost" {
            let host = if first == "index.docker.io" || first == "registry-1.docker.io" {
                DOCKER_DOMAIN.to_string()
            } else {
                first.to_string()
            };
            return (host, rest.to_string());
        }
    }
    (DOCKER_DOMAIN.to_string(), term.to_string())
}

/// Search `host` for repositories matching `term`, at most `limit` of them.
pub fn search(
    paths: &Paths,
    conf: &RegistriesConf,
    host: &str,
    term: &str,
    limit: usize,
    tls_verify: Option<bool>,
) -> Result<Vec<Hit>, Error> {
    let connect = if host == DOCKER_DOMAIN {
        "index.docker.io"
    } else {
        host
    };
    let t = host_transport(paths, conf, host, connect, tls_verify)?;
    let ep = &t.endpoints[0];
    let query = format!(
        "/v1/search?q={}&n={}",
        percent_encode(term),
        limit.min(MAX_LIMIT)
    );
    match t.send(ep, "GET", &query, &[], Body::Empty) {
        Ok(resp) => {
            if let Ok(hits) = parse_v1(&read_body(resp, "search results")?, host) {
                return Ok(hits.into_iter().take(limit).collect());
            }
            if host == DOCKER_DOMAIN {
                return Err(Error::new(
                    ErrorKind::InvalidData,
                    format!("invalid search results from {connect}"),
                ));
            }
        }
        Err(f) if host == DOCKER_DOMAIN => return Err(t.describe(f, ep, Op::Search)),
        // A v2-only registry has no v1 search: 404 (distribution), 401 or 405 elsewhere.
        Err(Failure::Status { .. }) => {}
        Err(f) => return Err(t.describe(f, ep, Op::Search)),
    }
    let repos = catalog(&t, ep)?;
    let needle = term.to_lowercase();
    Ok(repos
        .into_iter()
        .filter(|r| r.to_lowercase().contains(&needle))
        .take(limit)
        .map(|r| Hit {
            index: host.to_string(),
            name: format!("{host}/{r}"),
            description: String::new(),
            stars: 0,
            official: false,
            automated: false,
        })
        .collect())
}

/// A transport to the registry itself, with no repository (search, login).
pub(crate) fn host_transport(
    paths: &Paths,
    conf: &RegistriesConf,
    host: &str,
    connect: &str,
    tls_verify: Option<bool>,
) -> Result<Transport, Error> {
    host_transport_with(paths, conf, host, connect, tls_verify, None)
}

/// `host_transport` with these credentials instead of the saved ones.
pub(crate) fn host_transport_with(
    paths: &Paths,
    conf: &RegistriesConf,
    host: &str,
    connect: &str,
    tls_verify: Option<bool>,
    creds: Option<Credentials>,
) -> Result<Transport, Error> {
    let insecure = match tls_verify {
        Some(verify) => !verify,
        None => conf.is_insecure(host),
    };
    let agent = super::client::agent_for(
        paths,
        connect,
        &format!("cove/{}", env!("CARGO_PKG_VERSION")),
    )?;
    let ep = Endpoint::new(EndpointSpec {
        host: connect.to_string(),
        repo: String::new(),
        insecure,
        mirror: false,
        creds: creds.or_else(|| Credentials::lookup(paths, host, "")),
        agent,
        ca_hint: super::tls::ca_hint(paths, host),
    });
    // The reference only words errors, which name the host.
    let reference = Reference::parse(&format!("{host}/search"), conf)?;
    Ok(Transport::new(vec![ep], reference))
}

/// Every repository name in the registry's catalog, following `Link` pages.
fn catalog(t: &Transport, ep: &Endpoint) -> Result<Vec<String>, Error> {
    #[derive(Deserialize)]
    struct Page {
        #[serde(default)]
        repositories: Option<Vec<String>>,
    }
    let mut path = format!("/v2/_catalog?n={CATALOG_PAGE}");
    let mut out = Vec::new();
    for _ in 0..MAX_CATALOG_PAGES {
        let resp = t
            .send(ep, "GET", &path, &[], Body::Empty)
            .map_err(|f| t.describe(f, ep, Op::Search))?;
        let next = resp.header("link").and_then(super::client::next_link);
        let body = read_body(resp, "catalog")?;
        let page: Page = serde_json::from_slice(&body).map_err(|e| {
            Error::new(
                ErrorKind::InvalidData,
                format!("invalid catalog from {}: {e}", ep.host),
            )
        })?;
        let names = page.repositories.unwrap_or_default();
        let empty = names.is_empty();
        out.extend(names);
        match next.and_then(|n| same_host_path(&n, &ep.host)) {
            Some(p) if !empty => path = p,
            _ => return Ok(out),
        }
    }
    Ok(out)
}

/// The path of a `Link` target when it is on `host` (credentials belong to it), else None.
fn same_host_path(link: &str, host: &str) -> Option<String> {
    match link.split_once("://") {
        Some((_, rest)) => rest
            .strip_prefix(host)
            .filter(|p| p.starts_with('/'))
            .map(str::to_string),
        None => link.starts_with('/').then(|| link.to_string()),
    }
}

fn read_body(resp: ureq::Response, what: &str) -> Result<Vec<u8>, Error> {
    let mut body = Vec::new();
    resp.into_reader()
        .take(MAX_BODY + 1)
        .read_to_end(&mut body)
        .map_err(|e| Error::new(ErrorKind::Network, format!("reading {what}: {e}")))?;
    if body.len() as u64 > MAX_BODY {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("{what} larger than {MAX_BODY} bytes"),
        ));
    }
    Ok(body)
}

/// The v1 search answer: `{"results": [{"name", "description", "star_count", ...}]}`.
fn parse_v1(body: &[u8], host: &str) -> Result<Vec<Hit>, serde_json::Error> {
    #[derive(Deserialize)]
    struct Answer {
        results: Vec<Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        name: String,
        #[serde(default)]
        description: Option<String>,
        #[serde(default)]
        star_count: u64,
        #[serde(default)]
        is_official: bool,
        #[serde(default)]
        is_automated: bool,
    }
    let a: Answer = serde_json::from_slice(body)?;
    Ok(a.results
        .into_iter()
        .map(|e| Hit {
            index: host.to_string(),
            name: if host == DOCKER_DOMAIN {
                e.name
            } else {
                format!("{host}/{}", e.name)
            },
            description: e.description.unwrap_or_default(),
            stars: e.star_count,
            official: e.is_official,
            automated: e.is_automated,
        })
        .collect())
}

/// A query-string value: unreserved characters as they are, everything else %XX.
fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_name_their_registry() {
        assert_eq!(split_term("nginx"), ("docker.io".into(), "nginx".into()));
        assert_eq!(
            split_term("bitnami/redis"),
            ("docker.io".into(), "bitnami/redis".into())
        );
        assert_eq!(
            split_term("localhost:5000/busy"),
            ("localhost:5000".into(), "busy".into())
        );
        assert_eq!(split_term("quay.io/"), ("quay.io".into(), String::new()));
        assert_eq!(
            split_term("index.docker.io/nginx"),
            ("docker.io".into(), "nginx".into())
        );
    }

    #[test]
    fn v1_answers_parse() {
        let body = br#"{"num_results":2,"query":"x","results":[
            {"name":"nginx","description":"Official build","star_count":20000,"is_official":true,"is_automated":false},
            {"name":"me/x","description":null,"star_count":3}]}"#;
        let hits = parse_v1(body, "docker.io").unwrap();
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].name, "nginx");
        assert!(hits[0].official);
        assert_eq!(hits[1].description, "");
        assert_eq!(hits[1].stars, 3);
        let hits = parse_v1(body, "r.example:5000").unwrap();
        assert_eq!(hits[1].name, "r.example:5000/me/x");
        assert!(parse_v1(b"{\"repositories\":[]}", "docker.io").is_err());
    }

    #[test]
    fn catalog_links_stay_on_the_host() {
        assert_eq!(
            same_host_path("/v2/_catalog?last=b&n=2", "h:1").as_deref(),
            Some("/v2/_catalog?last=b&n=2")
        );
        assert_eq!(
            same_host_path("http://h:1/v2/_catalog?last=b", "h:1").as_deref(),
            Some("/v2/_catalog?last=b")
        );
        assert_eq!(same_host_path("http://evil/v2/_catalog", "h:1"), None);
        assert_eq!(same_host_path("http://h:10/v2/_catalog", "h:1"), None);
    }

    #[test]
    fn queries_are_encoded() {
        assert_eq!(percent_encode("a b&c/d"), "a%20b%26c%2Fd");
    }
}
