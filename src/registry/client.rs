//! The registry client for one repository: manifests (with platform choice), config blobs,
//! small blobs and tag lists. Cheap to clone and shared by the download threads (the
//! transport, with its token cache, sits behind an `Arc`).

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use super::auth::Credentials;
use super::blob::BlobReader;
use super::config::location_host;
use super::manifest::{
    effective_media_type, parse_manifest, ImageManifest, ParsedManifest, RawManifest,
    MANIFEST_ACCEPT,
};
use super::reference::{is_valid_digest, sha256_digest, short_digest, DOCKER_DOMAIN};
use super::transport::{io_detail, Endpoint, EndpointSpec, Op, Transport};
use super::{Error, ErrorKind, Platform, Reference, RegistriesConf};
use crate::paths::Paths;

pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;
pub const MAX_CONFIG_BYTES: u64 = 8 << 20;
const MAX_TAG_PAGES: usize = 10_000;

#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// None: https, except loopback and `insecure` hosts. Some(false): plain http first for
    /// every host. Some(true): https only, even on loopback.
    pub tls_verify: Option<bool>,
    pub platform: Platform,
    pub user_agent: String,
    /// For a push: no mirrors, and tokens that allow pushing (plus pulling from these other
    /// repositories of the registry, for cross-repository mounts).
    pub push: Option<Vec<String>>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            tls_verify: None,
            platform: Platform::host(),
            user_agent: format!("cove/{}", env!("CARGO_PKG_VERSION")),
            push: None,
        }
    }
}

/// An image's manifest for the chosen platform, with its config blob, all digest-checked.
#[derive(Clone, Debug)]
pub struct ResolvedImage {
    /// The index or manifest list the tag pointed at, when it was one.
    pub index: Option<RawManifest>,
    pub manifest: RawManifest,
    pub parsed: ImageManifest,
    pub config: Vec<u8>,
    pub config_digest: String,
}

#[derive(Clone)]
pub struct Client {
    pub(super) transport: Arc<Transport>,
    platform: Platform,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Client({})", self.transport.reference.name())
    }
}

impl Client {
    pub fn new(
        paths: &Paths,
        conf: &RegistriesConf,
        reference: &Reference,
        opts: ClientOptions,
    ) -> Result<Client, Error> {
        let name = reference.name();
        if conf.is_blocked(&name) {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "registry {} is blocked in registries.conf",
                    reference.domain
                ),
            ));
        }
        let insecure = |host: &str, flag: bool| match opts.tls_verify {
            Some(verify) => !verify,
            None => flag || conf.is_insecure(host),
        };
        // `rest` is the part of the name below the matching registries.conf prefix; a mirror
        // or a rewritten location serves it under its own path.
        // A missing location means the prefix itself; a wildcard prefix covers whole hosts, so
        // its mirrors serve what follows the host (its location is not applied).
        let entry = conf.find(&name);
        let (prefix_len, location) = match entry {
            Some(r) => {
                let p = r.prefix.as_deref().unwrap_or(&r.location);
                if p.starts_with("*.") {
                    (location_host(&name).len(), None)
                } else if r.location.is_empty() || r.location == p {
                    (p.len(), None)
                } else {
                    (p.len(), Some(r.location.as_str()))
                }
            }
            None => (0, None),
        };
        let rest = &name[prefix_len.min(name.len())..];
        let split = |full: &str| -> (String, String) {
            let host = location_host(full).to_string();
            let repo = full[host.len()..].trim_start_matches('/').to_string();
            (host, repo)
        };
        let agent = |host: &str| agent_for(paths, host, &opts.user_agent);
        let spec = |host: String, repo: String, insecure: bool, mirror: bool| {
            Ok::<_, Error>(EndpointSpec {
                creds: Credentials::lookup(paths, &host, &repo),
                agent: agent(&host)?,
                ca_hint: super::tls::ca_hint(paths, &host),
                host,
                repo,
                insecure,
                mirror,
            })
        };
        let mut endpoints = Vec::new();
        if let Some(r) = entry.filter(|_| prefix_len > 0 && opts.push.is_none()) {
            for m in &r.mirror {
                let (host, repo) = split(&format!("{}{rest}", m.location.trim_end_matches('/')));
                if host.is_empty() || repo.is_empty() {
                    continue;
                }
                let flag = insecure(&host, m.insecure);
                endpoints.push(Endpoint::new(spec(host, repo, flag, true)?));
            }
        }
        let (host, repo) = match location {
            Some(loc) => split(&format!("{}{rest}", loc.trim_end_matches('/'))),
            None => (reference.domain.clone(), reference.path.clone()),
        };
        if host.is_empty() || repo.is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                format!("registries.conf rewrites {name} to an invalid location"),
            ));
        }
        let flag = insecure(&host, false);
        // Credentials are looked up under the registry's name; Docker Hub's API lives on
        // another host than its name.
        let mut origin = spec(host.clone(), repo, flag, false)?;
        if host == DOCKER_DOMAIN {
            origin.host = "registry-1.docker.io".to_string();
        }
        let mut origin = Endpoint::new(origin);
        if let Some(sources) = &opts.push {
            origin
                .scopes
                .push(format!("repository:{}:pull,push", origin.repo));
            for s in sources.iter().filter(|s| **s != origin.repo) {
                origin.scopes.push(format!("repository:{s}:pull"));
            }
        }
        endpoints.push(origin);
        Ok(Client {
            transport: Arc::new(Transport::new(endpoints, reference.clone())),
            platform: opts.platform,
        })
    }

    fn what(&self, tag_or_digest: &str) -> String {
        let sep = if tag_or_digest.contains(':') {
            '@'
        } else {
            ':'
        };
        format!(
            "{}{sep}{tag_or_digest}",
            self.transport.reference.familiar_name()
        )
    }

    /// Fetch a manifest or index by tag or digest, exactly as the registry stores it.
    pub fn manifest(&self, tag_or_digest: &str) -> Result<RawManifest, Error> {
        let what = self.what(tag_or_digest);
        let by_digest = tag_or_digest.contains(':');
        if by_digest && !is_valid_digest(tag_or_digest) {
            return Err(Error::new(
                ErrorKind::InvalidReference,
                format!("invalid digest {tag_or_digest:?}"),
            ));
        }
        let (resp, _) = self.transport.get(
            &format!("manifests/{tag_or_digest}"),
            &[("Accept", MANIFEST_ACCEPT)],
            Op::Manifest(tag_or_digest),
        )?;
        let content_type = resp.header("content-type").unwrap_or("").to_string();
        let content_type = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let bytes = read_capped(resp, MAX_MANIFEST_BYTES, &format!("manifest for {what}"))?;
        let digest = sha256_digest(&bytes);
        if by_digest && digest != tag_or_digest {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!("manifest for {what} does not match its digest: got {digest}"),
            ));
        }
        let media_type = match parse_manifest(&bytes, &content_type, &what) {
            Ok(parsed) => effective_media_type(&content_type, &parsed),
            Err(_) => content_type,
        };
        Ok(RawManifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// The image manifest for this client's platform, and its config blob.
    #[cfg(test)]
    pub fn resolve(&self, tag_or_digest: &str) -> Result<ResolvedImage, Error> {
        self.resolve_cached(tag_or_digest, &|_| None)
    }

    /// `resolve`, but the config is taken from `cached` when it has a copy whose digest checks
    /// out, so a re-pull of a present image fetches manifests only.
    pub fn resolve_cached(
        &self,
        tag_or_digest: &str,
        cached: &dyn Fn(&str) -> Option<Vec<u8>>,
    ) -> Result<ResolvedImage, Error> {
        let what = self.what(tag_or_digest);
        let top = self.manifest(tag_or_digest)?;
        let (index, manifest, parsed) = match parse_manifest(&top.bytes, &top.media_type, &what)? {
            ParsedManifest::Image(m) => (None, top, *m),
            ParsedManifest::Index(idx) => {
                let Some(d) = self.platform.select(&idx.manifests) else {
                    return Err(Error::new(
                        ErrorKind::Unsupported,
                        format!(
                            "no matching manifest for {} in the manifest list entries of {what}",
                            self.platform
                        ),
                    ));
                };
                let child = self.manifest(&d.digest)?;
                if child.bytes.len() as u64 != d.size {
                    return Err(Error::new(
                        ErrorKind::InvalidData,
                        format!(
                            "manifest {} of {what} is {} bytes, its index says {}",
                            short_digest(&d.digest),
                            child.bytes.len(),
                            d.size
                        ),
                    ));
                }
                match parse_manifest(&child.bytes, &child.media_type, &what)? {
                    ParsedManifest::Image(m) => (Some(top), child, *m),
                    ParsedManifest::Index(_) => {
                        return Err(Error::new(
                            ErrorKind::Unsupported,
                            format!("{what}: an index inside an index is not supported"),
                        ))
                    }
                }
            }
        };
        let config_digest = parsed.config.digest.clone();
        if parsed.config.size > MAX_CONFIG_BYTES {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!("image config of {what} is larger than 8 MiB"),
            ));
        }
        let config = match cached(&config_digest) {
            Some(bytes) if sha256_digest(&bytes) == config_digest => bytes,
            _ => self.blob_bytes(&config_digest, MAX_CONFIG_BYTES)?,
        };
        if config.len() as u64 != parsed.config.size {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "image config of {what} is {} bytes, its manifest says {}",
                    config.len(),
                    parsed.config.size
                ),
            ));
        }
        Ok(ResolvedImage {
            index,
            manifest,
            parsed,
            config,
            config_digest,
        })
    }

    /// Stream a blob: digest- and size-checked while read, resumed when the connection drops.
    pub fn blob_reader(&self, digest: &str, size: u64) -> Result<BlobReader, Error> {
        BlobReader::open(self.transport.clone(), digest, size)
    }

    /// A whole small blob in memory (configs), refused past `max` bytes, digest-checked.
    pub fn blob_bytes(&self, digest: &str, max: u64) -> Result<Vec<u8>, Error> {
        if !is_valid_digest(digest) {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!("invalid blob digest {digest:?}"),
            ));
        }
        let (resp, _) = self
            .transport
            .get(&format!("blobs/{digest}"), &[], Op::Blob(digest))?;
        let what = format!("blob {}", short_digest(digest));
        let bytes = read_capped(resp, max, &what)?;
        let got = sha256_digest(&bytes);
        if got != digest {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!("{what} digest mismatch: got {}", short_digest(&got)),
            ));
        }
        Ok(bytes)
    }

    /// Every tag of the repository, following `Link: <...>; rel="next"` pages.
    pub fn tags(&self) -> Result<Vec<String>, Error> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let (mut resp, ep) = self.transport.get("tags/list", &[], Op::Tags)?;
        let mut tags = Vec::new();
        for _ in 0..MAX_TAG_PAGES {
            let next = resp.header("link").and_then(next_link);
            let body = read_capped(resp, MAX_MANIFEST_BYTES, "tag list")?;
            let page: Page = serde_json::from_slice(&body).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidData,
                    format!("invalid tag list from {}: {e}", ep.host),
                )
            })?;
            tags.extend(page.tags.unwrap_or_default());
            let Some(next) = next else {
                return Ok(tags);
            };
            // Follow only links on the same endpoint; the credentials belong to it.
            let path = match next.split_once("://") {
                Some((_, rest)) if location_host(rest) == ep.host => {
                    rest[ep.host.len()..].to_string()
                }
                Some(_) => return Ok(tags),
                None => next,
            };
            if !path.starts_with('/') {
                return Ok(tags);
            }
            resp = self.transport.get_path(ep, &path, Op::Tags)?;
        }
        Ok(tags)
    }
}

/// An HTTP agent for `host`: cove's timeouts and redirect rules, the host's TLS configuration.
pub(super) fn agent_for(paths: &Paths, host: &str, user_agent: &str) -> Result<ureq::Agent, Error> {
    Ok(ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(10))
        .timeout_read(Duration::from_secs(60))
        .timeout_write(Duration::from_secs(60))
        .redirects(super::transport::MAX_REDIRECTS)
        .redirect_auth_headers(ureq::RedirectAuthHeaders::SameHost)
        .user_agent(user_agent)
        .tls_config(super::tls::config_for(paths, host)?)
        .build())
}

/// The target of the `rel="next"` entry of a Link header.
pub(super) fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"" || p.trim() == "rel=next");
        is_next.then(|| target.to_string())
    })
}

/// Read a response body of at most `max` bytes.
fn read_capped(resp: ureq::Response, max: u64, what: &str) -> Result<Vec<u8>, Error> {
    let too_big = || {
        Error::new(
            ErrorKind::InvalidData,
            format!("{what} is larger than the {max}-byte limit"),
        )
    };
    if let Some(len) = resp
        .header("content-length")
        .and_then(|l| l.parse::<u64>().ok())
    {
        if len > max {
            return Err(too_big());
        }
    }
    let mut bytes = Vec::new();
    resp.into_reader()
        .take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            Error::new(
                ErrorKind::Network,
                format!("reading {what}: {}", io_detail(&e)),
            )
        })?;
    if bytes.len() as u64 > max {
        return Err(too_big());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests;
