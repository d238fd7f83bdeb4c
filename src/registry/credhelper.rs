//! docker's credential helpers: `docker-credential-NAME get|store|erase`, the server on stdin
//! (a JSON record for store), the record on stdout. A helper that is missing or fails for a
//! lookup means "no credentials"; for store and erase it is an error.

use std::io::Write;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::auth::Credentials;
use super::{Error, ErrorKind};

const MAX_OUTPUT: usize = 1 << 20;

#[derive(Serialize, Deserialize)]
struct Record {
    #[serde(rename = "ServerURL", default)]
    server_url: String,
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// The server name a helper is asked about: docker's legacy URL for Docker Hub.
pub fn server_name(host: &str) -> String {
    if super::authfile::canonical_host(host) == "docker.io" {
        "https://index.docker.io/v1/".into()
    } else {
        host.to_string()
    }
}

fn call(helper: &str, action: &str, input: &[u8]) -> Result<Vec<u8>, String> {
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading its input is judged by its exit status.
        let _ = stdin.write_all(input);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{program} {action}: {e}"))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stdout);
        let said = said.lines().next().unwrap_or("").trim().to_string();
        return Err(format!("{program} {action} failed: {said}"));
    }
    if out.stdout.len() > MAX_OUTPUT {
        return Err(format!("{program} {action}: answer larger than 1 MiB"));
    }
    Ok(out.stdout)
}

/// The helper's credentials for `host`, None when it has none (or cannot be run).
pub fn get(helper: &str, host: &str) -> Option<Credentials> {
    let out = match call(helper, "get", server_name(host).as_bytes()) {
        Ok(o) => o,
        Err(e) => {
            crate::debug!("{e}");
            return None;
        }
    };
    let r: Record = serde_json::from_slice(&out).ok()?;
    // "<token>" marks an identity token, which only Docker Hub's own flow uses.
    if r.username.is_empty() || r.username == "<token>" {
        return None;
    }
    Some(Credentials {
        username: r.username,
        password: r.secret,
    })
}

pub fn store(helper: &str, host: &str, creds: &Credentials) -> Result<(), Error> {
    let record = Record {
        server_url: server_name(host),
        username: creds.username.clone(),
        secret: creds.password.clone(),
    };
    let input = serde_json::to_vec(&record)
        .map_err(|e| Error::new(ErrorKind::Config, format!("credential helper: {e}")))?;
    call(helper, "store", &input)
        .map(|_| ())
        .map_err(|e| Error::new(ErrorKind::Config, e))
}

/// Erase the helper's entry; false when it had none.
pub fn erase(helper: &str, host: &str) -> Result<bool, Error> {
    match call(helper, "erase", server_name(host).as_bytes()) {
        Ok(_) => Ok(true),
        Err(e) if e.contains("not found") => Ok(false),
        Err(e) => Err(Error::new(ErrorKind::Config, e)),
    }
}
