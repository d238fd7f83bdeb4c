//! login and logout: credentials checked against the registry (`GET /v2/` answered with them)
//! before they are saved, then written where podman and docker read them, 0600 and atomically,
//! or handed to the credential helper the file names; logout removes them from every file.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use super::auth::{base64_encode, Credentials};
use super::authfile::{self, canonical_host, normalize_key};
use super::transport::{Body, Op};
use super::{credhelper, Error, ErrorKind, RegistriesConf};
use crate::paths::Paths;

/// The registry a login is for: "https://index.docker.io/v1/", "docker.io" and no argument
/// all mean Docker Hub; a scheme and a path are dropped.
pub fn server_host(input: Option<&str>) -> String {
    let Some(raw) = input.filter(|s| !s.is_empty()) else {
        return "docker.io".into();
    };
    let s = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
        .unwrap_or(raw);
    canonical_host(s.split('/').next().unwrap_or(s)).to_string()
}

/// Ask the registry whether these credentials are good.
pub fn verify(
    paths: &Paths,
    conf: &RegistriesConf,
    host: &str,
    creds: &Credentials,
    tls_verify: Option<bool>,
) -> Result<(), Error> {
    let connect = if host == "docker.io" {
        "registry-1.docker.io"
    } else {
        host
    };
    let t = super::search::host_transport_with(
        paths,
        conf,
        host,
        connect,
        tls_verify,
        Some(creds.clone()),
    )?;
    let ep = &t.endpoints[0];
    t.send(ep, "GET", "/v2/", &[], Body::Empty)
        .map(|_| ())
        .map_err(|f| t.describe(f, ep, Op::Login))
}

/// The files a login writes: the `--authfile`, else containers' auth.json, plus docker's
/// config when docker is in use (`$DOCKER_CONFIG` set or the file exists).
pub fn targets(paths: &Paths) -> Vec<PathBuf> {
    if let Some(f) = &paths.auth_file {
        return vec![f.clone()];
    }
    let mut out = Vec::new();
    match (&paths.runtime_dir, &paths.home) {
        (Some(run), _) => out.push(run.join("containers/auth.json")),
        (None, Some(home)) => out.push(home.join(".config/containers/auth.json")),
        (None, None) => out.push(paths.own_config_dir().join("auth.json")),
    }
    if let Some(docker) = authfile::docker_config(paths) {
        if std::env::var_os("DOCKER_CONFIG").is_some() || docker.is_file() {
            out.push(docker);
        }
    }
    out
}

/// Save the credentials; returns the files written. Any other file already holding an entry
/// for the host gets the new one too, so no stale entry is read before it.
pub fn save(paths: &Paths, host: &str, creds: &Credentials) -> Result<Vec<PathBuf>, Error> {
    let mut files = targets(paths);
    for f in authfile::read_order(paths) {
        if !files.contains(&f) && has_entry(&f, host) {
            files.push(f);
        }
    }
    for f in &files {
        let docker_style = Some(f) == authfile::docker_config(paths).as_ref();
        let key = if docker_style {
            credhelper::server_name(host)
        } else {
            host.to_string()
        };
        let entry = match authfile::helper_for(f, host) {
            Some(helper) => {
                credhelper::store(&helper, host, creds)?;
                json!({})
            }
            None => {
                let raw = format!("{}:{}", creds.username, creds.password);
                json!({ "auth": base64_encode(raw.as_bytes()) })
            }
        };
        edit(f, |auths| {
            auths.retain(|k, _| normalize_key(k) != host);
            auths.insert(key.clone(), entry.clone());
        })?;
    }
    Ok(files)
}

/// Remove the host's credentials from every file read; false when there were none.
pub fn remove(paths: &Paths, host: &str) -> Result<bool, Error> {
    let mut removed = false;
    for f in all_files(paths) {
        if let Some(helper) = authfile::helper_for(&f, host) {
            removed |= credhelper::erase(&helper, host)?;
        }
        if has_entry(&f, host) {
            edit(&f, |auths| auths.retain(|k, _| normalize_key(k) != host))?;
            removed = true;
        }
    }
    Ok(removed)
}

/// podman's `logout --all`: every entry of every file.
pub fn remove_all(paths: &Paths) -> Result<(), Error> {
    for f in all_files(paths) {
        if f.is_file() {
            edit(&f, Map::clear)?;
        }
    }
    Ok(())
}

fn all_files(paths: &Paths) -> Vec<PathBuf> {
    let mut files = authfile::read_order(paths);
    for t in targets(paths) {
        if !files.contains(&t) {
            files.push(t);
        }
    }
    files
}

fn has_entry(path: &Path, host: &str) -> bool {
    read_json(path)
        .ok()
        .flatten()
        .and_then(|v| v.get("auths").and_then(Value::as_object).cloned())
        .is_some_and(|a| a.keys().any(|k| normalize_key(k) == host))
}

fn read_json(path: &Path) -> Result<Option<Value>, Error> {
    match fs::read(path) {
        Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Ok(None),
        Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("cannot update {}: not valid JSON: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error("cannot read", path, &e)),
    }
}

/// Change the `auths` object of an auth file, keeping everything else in it; written 0600
/// through a temporary file and a rename.
fn edit(path: &Path, change: impl FnOnce(&mut Map<String, Value>)) -> Result<(), Error> {
    let mut doc = read_json(path)?.unwrap_or_else(|| json!({}));
    let Some(obj) = doc.as_object_mut() else {
        return Err(Error::new(
            ErrorKind::Config,
            format!("cannot update {}: not a JSON object", path.display()),
        ));
    };
    let auths = obj.entry("auths").or_insert_with(|| json!({}));
    if !auths.is_object() {
        *auths = json!({});
    }
    if let Some(a) = auths.as_object_mut() {
        change(a);
    }
    let mut text = serde_json::to_vec_pretty(&doc)
        .map_err(|e| Error::new(ErrorKind::Config, format!("{}: {e}", path.display())))?;
    text.push(b'\n');
    if let Some(dir) = path.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| io_error("cannot create", dir, &e))?;
    }
    let temp = crate::fsutil::temp_sibling(path);
    let written = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        f.write_all(&text)?;
        f.sync_all()?;
        fs::rename(&temp, path)
    })();
    written.map_err(|e| {
        let _ = fs::remove_file(&temp);
        io_error("cannot write", path, &e)
    })
}

fn io_error(what: &str, path: &Path, e: &std::io::Error) -> Error {
    Error::new(ErrorKind::Config, format!("{what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn server_names() {
        assert_eq!(server_host(None), "docker.io");
        assert_eq!(
            server_host(Some("https://index.docker.io/v1/")),
            "docker.io"
        );
        assert_eq!(server_host(Some("localhost:5000")), "localhost:5000");
        assert_eq!(
            server_host(Some("https://reg.example:8443/v2/")),
            "reg.example:8443"
        );
    }

    #[test]
    fn save_keeps_other_fields_and_remove_takes_only_the_host() {
        let dir = std::env::temp_dir().join(format!("cove-login-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let file = dir.join("auth.json");
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            &file,
            r#"{"auths":{"other:1":{"auth":"eDp5"},"http://reg:5000/":{"auth":"b2xkOm9sZA=="}},"HttpHeaders":{"X":"1"}}"#,
        )
        .unwrap();
        let paths = Paths {
            auth_file: Some(file.clone()),
            ..Paths::under(&dir)
        };
        let creds = Credentials {
            username: "u".into(),
            password: "p:w".into(),
        };
        assert_eq!(
            save(&paths, "reg:5000", &creds).unwrap(),
            vec![file.clone()]
        );
        let v: Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
        assert_eq!(v["HttpHeaders"]["X"], "1");
        assert_eq!(v["auths"]["reg:5000"]["auth"], base64_encode(b"u:p:w"));
        assert!(v["auths"].get("http://reg:5000/").is_none());
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(Credentials::lookup(&paths, "reg:5000", "a/b"), Some(creds));

        assert!(remove(&paths, "reg:5000").unwrap());
        assert!(!remove(&paths, "reg:5000").unwrap());
        let v: Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
        assert_eq!(v["auths"]["other:1"]["auth"], "eDp5");

        fs::write(&file, "{not json").unwrap();
        let e = save(
            &paths,
            "reg:5000",
            &Credentials {
                username: "u".into(),
                password: "p".into(),
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("not valid JSON"), "{e}");
        assert_eq!(fs::read_to_string(&file).unwrap(), "{not json");
        fs::remove_dir_all(&dir).unwrap();
    }
}
