//! Auth files: which ones are read (cove's, containers' `auth.json`, docker's `config.json`, or
//! only `--authfile`/`$REGISTRY_AUTH_FILE`), their entries (`auth` base64 or user/password,
//! host or namespace keys), and credential helpers named by `credHelpers`/`credsStore`.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::auth::{base64_decode, Credentials};
use crate::paths::Paths;

const MAX_AUTH_FILE: u64 = 1 << 20;

/// The files read, in order. `--authfile` (or `$REGISTRY_AUTH_FILE`) replaces all of them.
pub fn read_order(paths: &Paths) -> Vec<PathBuf> {
    if let Some(f) = &paths.auth_file {
        return vec![f.clone()];
    }
    let mut files = vec![paths.own_config_dir().join("auth.json")];
    if let Some(run) = &paths.runtime_dir {
        files.push(run.join("containers/auth.json"));
    }
    if let Some(home) = &paths.home {
        files.push(home.join(".config/containers/auth.json"));
    }
    files.extend(docker_config(paths));
    files
}

/// docker's config file: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn docker_config(paths: &Paths) -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir).join("config.json")),
        None => paths.home.as_ref().map(|h| h.join(".docker/config.json")),
    }
}

#[derive(Deserialize, Default)]
struct AuthFile {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: HashMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
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
pub fn canonical_host(host: &str) -> &str {
    match host {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io"
        }
        other => other,
    }
}

/// "https://index.docker.io/v1/" -> "docker.io"; "host/ns/repo" stays a namespace key.
pub fn normalize_key(key: &str) -> String {
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

/// The first credentials for `host` (and `repo`) in the files read, helpers included.
pub fn lookup(paths: &Paths, host: &str, repo: &str) -> Option<Credentials> {
    read_order(paths)
        .iter()
        .find_map(|f| lookup_in_file(f, host, repo))
}

fn read_file(path: &Path) -> Option<AuthFile> {
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_AUTH_FILE)
        .read_to_string(&mut text)
        .ok()?;
    match serde_json::from_str(&text) {
        Ok(f) => Some(f),
        Err(e) => {
            crate::warn!("ignoring {}: {e}", path.display());
            None
        }
    }
}

/// The credential helper `path` names for `host`, if any.
pub fn helper_for(path: &Path, host: &str) -> Option<String> {
    let file = read_file(path)?;
    let host = canonical_host(host);
    file.cred_helpers
        .iter()
        .find(|(k, _)| normalize_key(k) == host)
        .map(|(_, v)| v.clone())
        .or(file.creds_store)
        .filter(|h| !h.is_empty())
}

fn lookup_in_file(path: &Path, host: &str, repo: &str) -> Option<Credentials> {
    let file = read_file(path)?;
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
    if let Some(c) = candidates
        .iter()
        .filter_map(|c| keys.get(c))
        .find_map(|e| entry_credentials(e))
    {
        return Some(c);
    }
    let helper = file
        .cred_helpers
        .iter()
        .find(|(k, _)| normalize_key(k) == host)
        .map(|(_, v)| v.clone())
        .or(file.creds_store)?;
    super::credhelper::get(&helper, host)
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
    use crate::registry::auth::base64_encode;

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
