//! TLS for registries: the system's trusted roots plus, per registry host, the CA certificates
//! and client key pairs of its `certs.d` directory (containers' and docker's layout), as one
//! rustls configuration per host.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use super::{Error, ErrorKind};
use crate::paths::Paths;

/// Debian's bundle of the system's trusted roots (ca-certificates).
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The `certs.d/HOST` directories that exist for `host`, most specific first.
pub fn cert_dirs(paths: &Paths, host: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = paths
        .config_dirs
        .iter()
        .map(|d| d.join("certs.d").join(host))
        .collect();
    // podman's documented rootless place, whatever XDG_CONFIG_HOME says.
    if let (Some(home), true) = (&paths.home, paths.rootless) {
        dirs.push(home.join(".config/containers/certs.d").join(host));
    }
    dirs.push(Path::new("/etc/docker/certs.d").join(host));
    dirs.dedup();
    dirs.retain(|d| d.is_dir());
    dirs
}

/// Where a user is told to put a registry's CA certificate: the containers directory podman
/// reads too (the user's own when rootless).
pub fn ca_hint(paths: &Paths, host: &str) -> PathBuf {
    let base = match (&paths.home, paths.rootless) {
        (Some(home), true) => home.join(".config/containers"),
        _ => PathBuf::from("/etc/containers"),
    };
    base.join("certs.d").join(host).join("ca.crt")
}

/// The rustls configuration for `host`: system roots, then every `*.crt` in its certs.d
/// directories as an extra CA, and the first `NAME.cert` with its `NAME.key` as the client
/// certificate.
pub fn config_for(paths: &Paths, host: &str) -> Result<Arc<ClientConfig>, Error> {
    let dirs = cert_dirs(paths, host);
    if dirs.is_empty() {
        return default_config();
    }
    let mut roots = system_roots().clone();
    let mut client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> = None;
    for dir in &dirs {
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| config_error(format!("cannot read {}: {e}", dir.display())))?
            .flatten()
            .map(|e| e.path())
            .collect();
        names.sort();
        for path in names {
            match path.extension().and_then(|e| e.to_str()) {
                Some("crt") => {
                    for cert in read_certs(&path)? {
                        roots.add(cert).map_err(|e| {
                            config_error(format!("cannot use {}: {e}", path.display()))
                        })?;
                    }
                }
                Some("cert") if client.is_none() => {
                    let key = path.with_extension("key");
                    if !key.is_file() {
                        return Err(config_error(format!(
                            "client certificate {} has no key: create {}",
                            path.display(),
                            key.display()
                        )));
                    }
                    let k = PrivateKeyDer::from_pem_file(&key)
                        .map_err(|e| config_error(format!("cannot use {}: {e}", key.display())))?;
                    client = Some((read_certs(&path)?, k));
                }
                Some("key") if !path.with_extension("cert").is_file() => {
                    return Err(config_error(format!(
                        "client key {} has no certificate: create {}",
                        path.display(),
                        path.with_extension("cert").display()
                    )));
                }
                _ => {}
            }
        }
    }
    let builder = builder()?.with_root_certificates(roots);
    let config = match client {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| config_error(format!("client certificate for {host}: {e}")))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let iter = CertificateDer::pem_file_iter(path)
        .map_err(|e| config_error(format!("cannot read {}: {e}", path.display())))?;
    let certs: Vec<CertificateDer<'static>> = iter
        .collect::<Result<_, _>>()
        .map_err(|e| config_error(format!("cannot use {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(config_error(format!(
            "cannot use {}: no PEM certificate in it",
            path.display()
        )));
    }
    Ok(certs)
}

fn config_error(message: String) -> Error {
    Error::new(ErrorKind::Config, message)
}

type Builder = rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>;

fn builder() -> Result<Builder, Error> {
    ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .map_err(|e| config_error(format!("cannot set up TLS: {e}")))
}

/// The configuration of hosts without a certs.d directory, built once per process.
fn default_config() -> Result<Arc<ClientConfig>, Error> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if let Some(c) = CONFIG.get() {
        return Ok(c.clone());
    }
    let config = Arc::new(
        builder()?
            .with_root_certificates(system_roots().clone())
            .with_no_client_auth(),
    );
    Ok(CONFIG.get_or_init(|| config).clone())
}

/// The system bundle when it has certificates, else the Mozilla roots compiled in.
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut store = RootCertStore::empty();
        if let Ok(iter) = CertificateDer::pem_file_iter(SYSTEM_BUNDLE) {
            store.add_parsable_certificates(iter.flatten());
        }
        if store.is_empty() {
            store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        store
    })
}

/// True when a connection failure's detail says the server's certificate is not trusted.
pub fn is_unknown_authority(detail: &str) -> bool {
    detail.contains("UnknownIssuer") || detail.contains("unknown issuer")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certs_d_files_are_checked() {
        let dir = std::env::temp_dir().join(format!("cove-tls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let host_dir = dir.join("cove/certs.d/reg.test:5000");
        std::fs::create_dir_all(&host_dir).unwrap();
        let paths = Paths::under(&dir);
        assert_eq!(cert_dirs(&paths, "reg.test:5000"), vec![host_dir.clone()]);
        assert!(cert_dirs(&paths, "other:5000").is_empty());
        assert!(config_for(&paths, "other:5000").is_ok());

        std::fs::write(host_dir.join("ca.crt"), "not a certificate\n").unwrap();
        let e = config_for(&paths, "reg.test:5000").unwrap_err().to_string();
        assert!(e.contains("ca.crt: no PEM certificate in it"), "{e}");
        std::fs::remove_file(host_dir.join("ca.crt")).unwrap();

        std::fs::write(host_dir.join("client.key"), "x").unwrap();
        let e = config_for(&paths, "reg.test:5000").unwrap_err().to_string();
        assert!(e.contains("has no certificate: create"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_authority_is_recognised() {
        assert!(is_unknown_authority(
            "invalid peer certificate: UnknownIssuer"
        ));
        assert!(!is_unknown_authority("connection refused"));
    }
}
