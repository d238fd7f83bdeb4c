//! Registry failures worded the way docker words them: HTTP statuses per operation, the
//! registry's own `{"errors":[...]}` message, and short causes for connection failures.

use std::io::Read;

use serde::Deserialize;

use super::transport::{Endpoint, Failure, Op};
use super::{Error, ErrorKind, Reference};

const MAX_ERROR_BODY: u64 = 64 << 10;

/// Turn a failure into the message docker would print.
pub(crate) fn describe(f: Failure, ep: &Endpoint, op: Op, r: &Reference) -> Error {
    match f {
        Failure::Worded(e) => e,
        Failure::Transport(detail) if super::tls::is_unknown_authority(&detail) => Error::new(
            ErrorKind::Network,
            format!(
                "cannot reach registry {}: x509: certificate signed by unknown authority \
                 (to trust it, put the registry's CA certificate in {})",
                ep.host,
                ep.ca_hint.display()
            ),
        ),
        Failure::Transport(detail) if detail.contains("CaUsedAsEndEntity") => Error::new(
            ErrorKind::Network,
            format!(
                "cannot reach registry {}: its certificate is a CA certificate used as a \
                 server certificate; give the registry a certificate signed by that CA",
                ep.host
            ),
        ),
        Failure::Transport(detail) => Error::new(
            ErrorKind::Network,
            format!("cannot reach registry {}: {detail}", ep.host),
        ),
        Failure::Status {
            code,
            text,
            registry_msg,
        } => {
            let extra = registry_msg
                .as_ref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
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
                (401 | 403, Op::Push) => Error::new(
                    ErrorKind::Denied,
                    match registry_msg {
                        Some(m) => format!("push to {} refused: {m}", r.familiar_name()),
                        None => format!(
                            "denied: requested access to the resource is denied \
                             (push to {}; log in with 'cove login {}')",
                            r.familiar_name(),
                            r.domain
                        ),
                    },
                ),
                (401 | 403, Op::Login) => Error::new(
                    ErrorKind::Denied,
                    format!(
                        "unauthorized: incorrect username or password for {}{extra}",
                        ep.host
                    ),
                ),
                (401 | 403, Op::Search) => Error::new(
                    ErrorKind::Denied,
                    format!(
                        "unauthorized: registry {} refused the search (log in with 'cove login {}'){extra}",
                        ep.host, r.domain
                    ),
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
                (_, Op::Push) => Error::new(
                    ErrorKind::Other,
                    format!(
                        "push to {} failed: registry {} answered {code} {text}{extra}",
                        r.familiar_name(),
                        ep.host
                    ),
                ),
                _ => Error::new(
                    ErrorKind::Other,
                    format!("registry {} answered {code} {text}{extra}", ep.host),
                ),
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

pub(crate) fn status_failure(code: u16, resp: ureq::Response) -> Failure {
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
