//! Registry authentication: bearer tokens obtained with credentials from each auth file cove
//! reads, basic auth, and refusals without (or with wrong) credentials.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use common::{base64, fixtures, Cove, Mode, Proxy, Who};

const USER: &str = "alice";
const PASS: &str = "s3cret";

/// `{"auths": {host: {"auth": base64(user:pass)}}}`, the format of every auth file read.
fn auth_json(host: &str, user: &str, pass: &str) -> String {
    let auth = base64(format!("{user}:{pass}").as_bytes());
    format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#)
}

#[derive(Clone, Copy, Debug)]
enum AuthFile {
    /// `$XDG_CONFIG_HOME/cove/auth.json` (cove's own, rootless).
    CoveConfig,
    /// `$XDG_RUNTIME_DIR/containers/auth.json` (podman's).
    Runtime,
    /// `$HOME/.docker/config.json` (docker's).
    Docker,
}

fn write_auth(c: &Cove, which: AuthFile, content: &str) {
    let path = match which {
        AuthFile::CoveConfig => c.config_home.join("cove/auth.json"),
        AuthFile::Runtime => c.runtime_dir.join("containers/auth.json"),
        AuthFile::Docker => c.home.join(".docker/config.json"),
    };
    c.write(&path, content);
}

fn files_for(who: Who) -> Vec<AuthFile> {
    match who {
        Who::Root => vec![AuthFile::Runtime, AuthFile::Docker],
        _ => vec![AuthFile::CoveConfig, AuthFile::Runtime, AuthFile::Docker],
    }
}

both!(
    token_auth_with_each_auth_file,
    token_auth_denied,
    basic_auth
);

fn token_auth_with_each_auth_file(who: Who) {
    let f = fixtures();
    for which in files_for(who) {
        let p = Proxy::start(Mode::TokenAuth {
            user: USER.into(),
            pass: PASS.into(),
        });
        let c = Cove::new(who);
        write_auth(&c, which, &auth_json(&p.addr, USER, PASS));
        let r = p.reference("busybox:latest");
        let out = c.run(&["pull", "--tls-verify=false", &r]);
        assert_eq!(out.code(), 0, "credentials in {which:?}: {out}");
        assert_eq!(out.last_line(), r);
        let seen = p.requests();
        assert!(
            seen.iter()
                .any(|s| s.path.starts_with("/token") && s.status == 200),
            "no token was obtained ({which:?}): {seen:?}"
        );
        assert!(
            seen.iter().any(|s| s.is_blob_get()
                && s.status == 200
                && s.authorization
                    .as_deref()
                    .is_some_and(|a| a.starts_with("Bearer "))),
            "blobs not fetched with the token: {seen:?}"
        );
        let id = c.run(&["images", "-q"]);
        assert_eq!(id.assert_ok().stdout.trim(), f.busybox.short_id());
    }
}

fn token_auth_denied(who: Who) {
    let p = Proxy::start(Mode::TokenAuth {
        user: USER.into(),
        pass: PASS.into(),
    });
    let r = p.reference("busybox:latest");
    let c = Cove::new(who);
    let out = c.run(&["pull", "--tls-verify=false", &r]);
    out.assert_err_line("auth|denied");
    c.assert_store_empty();

    let c = Cove::new(who);
    write_auth(&c, AuthFile::Docker, &auth_json(&p.addr, USER, "wrong"));
    let out = c.run(&["pull", "--tls-verify=false", &r]);
    out.assert_err_line("auth|denied");
    c.assert_store_empty();
    // Credentials for another registry are not sent here.
    let c = Cove::new(who);
    write_auth(&c, AuthFile::Docker, &auth_json("127.0.0.1:1", USER, PASS));
    c.run(&["pull", "--tls-verify=false", &r])
        .assert_err_line("auth|denied");
    assert!(p
        .requests()
        .iter()
        .all(|s| s.status != 200 || !s.path.starts_with("/token")));
}

fn basic_auth(who: Who) {
    let f = fixtures();
    let p = Proxy::start(Mode::BasicAuth {
        user: USER.into(),
        pass: PASS.into(),
    });
    let r = p.reference("busybox:latest");
    let denied = Cove::new(who);
    denied
        .run(&["pull", "--tls-verify=false", &r])
        .assert_err_line("auth|denied");
    denied.assert_store_empty();

    let c = Cove::new(who);
    write_auth(&c, AuthFile::Docker, &auth_json(&p.addr, USER, PASS));
    let out = c.pull(&r);
    assert_eq!(out.last_line(), r);
    assert_eq!(
        c.run(&["images", "-q"]).assert_ok().stdout.trim(),
        f.busybox.short_id()
    );
    assert!(p.blob_gets().iter().all(|s| s
        .authorization
        .as_deref()
        .is_some_and(|a| a.starts_with("Basic "))));
}
