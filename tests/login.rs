//! login, logout and a private registry: TLS with a certificate of its own (trusted through
//! certs.d, refused with a hint without it), htpasswd auth, credentials checked before they are
//! saved, written 0600 where podman and docker read them, credential helpers, and the full
//! round trip login -> push -> pull on a clean store -> logout.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use common::registry::secure_registry;
use common::{Cove, Mode, Proxy, Who};

/// The root tests trust the CA in /etc/docker/certs.d, which every user reads: the tests of
/// this file take turns.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where the test puts the secure registry's CA: the user's containers certs.d when
/// rootless, docker's /etc/docker/certs.d as root (removed by the guard).
struct TrustedCa(PathBuf);

impl TrustedCa {
    fn install(c: &Cove, who: Who) -> TrustedCa {
        let reg = secure_registry();
        let dir = match who {
            Who::Root => PathBuf::from("/etc/docker/certs.d").join(&reg.reg.addr),
            _ => c
                .home
                .join(".config/containers/certs.d")
                .join(&reg.reg.addr),
        };
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(&reg.ca, dir.join("ca.crt")).unwrap();
        if who != Who::Root {
            for d in [c.home.join(".config"), c.home.join(".config/containers")] {
                std::fs::create_dir_all(&d).unwrap();
            }
            let chown = |p: &std::path::Path| {
                nix::unistd::chown(p, Some(c.uid.into()), Some(c.gid.into())).unwrap()
            };
            for e in walkdir::WalkDir::new(c.home.join(".config")) {
                chown(e.unwrap().path());
            }
        }
        TrustedCa(dir)
    }
}

impl Drop for TrustedCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn login(c: &Cove, addr: &str, user: &str, pass: &str) -> common::Out {
    c.cmd(&["login", "-u", user, "--password-stdin", addr])
        .input(&format!("{pass}\n"))
        .run()
}

both!(
    tls_registry_round_trip,
    wrong_password_saves_nothing,
    docker_config_and_credential_helper
);

/// Without the CA: a one-line error naming the file to create. With it: login, push, pull
/// back into a clean store, run; logout; then the registry refuses again.
fn tls_registry_round_trip(who: Who) {
    let _turn = one_at_a_time();
    let reg = secure_registry();
    let addr = &reg.reg.addr;
    let c = Cove::new(who);
    let src = c.busybox();
    let dest = format!(
        "{addr}/private/{}-{}:1",
        format!("{who:?}").to_lowercase(),
        std::process::id()
    );
    c.run(&["tag", &src, &dest]).assert_ok();

    let hint = match who {
        Who::Root => format!("/etc/containers/certs.d/{addr}/ca.crt"),
        _ => format!(
            "{}/.config/containers/certs.d/{addr}/ca.crt",
            c.home.display()
        ),
    };
    let out = login(&c, addr, reg.user, reg.password);
    out.assert_err_line("certificate signed by unknown authority");
    assert!(out.stderr.contains(&hint), "{out}");
    c.run(&["push", &dest]).assert_err_line("unknown authority");

    let _ca = TrustedCa::install(&c, who);
    // Not logged in: the push and a search of the catalog are refused, and say how to log in.
    c.run(&["push", &dest]).assert_err_line("denied|login");
    c.run(&["search", &format!("{addr}/private")])
        .assert_err_line(&format!("cove login {addr}"));
    let out = login(&c, addr, reg.user, reg.password);
    assert_eq!(out.assert_ok().stdout.trim(), "Login Succeeded");
    assert!(!out.stdout.contains(reg.password) && !out.stderr.contains(reg.password));
    let file = c.runtime_dir.join("containers/auth.json");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(saved["auths"][addr.as_str()]["auth"].is_string(), "{saved}");
    let got = c.run(&["login", "--get-login", addr]);
    assert_eq!(got.assert_ok().stdout.trim(), reg.user);

    let out = c.run(&["push", &dest]);
    assert!(
        out.assert_ok()
            .last_line()
            .starts_with("1: digest: sha256:"),
        "{out}"
    );
    // Logged in, the catalog answers: the pushed repository is found.
    let found = c.ok(&[
        "search",
        "--format",
        "{{.Name}}",
        &format!("{addr}/private"),
    ]);
    let repo = dest.rsplit_once(':').unwrap().0;
    assert!(found.lines().contains(&repo), "{found}");
    c.run(&["rmi", &src, &dest]).assert_ok();
    c.run(&["pull", &dest]).assert_ok();
    let run = c.run(&["run", "--rm", &dest, "echo", "private-ok"]);
    assert_eq!(run.assert_ok().stdout.trim(), "private-ok");

    let out = c.run(&["logout", addr]);
    assert_eq!(
        out.assert_ok().stdout.trim(),
        format!("Removing login credentials for {addr}")
    );
    let out = c.run(&["logout", addr]);
    assert_eq!(
        out.assert_ok().stdout.trim(),
        format!("Not logged in to {addr}")
    );
    c.run(&["login", "--get-login", addr])
        .assert_err_line("not logged into");
    c.run(&["rmi", &dest]).assert_ok();
    c.run(&["pull", &dest]).assert_err_line("denied|auth");
    c.assert_store_empty();
}

/// A wrong password, an unreachable token server and a registry with no such host: one line
/// each, and no auth file is written.
fn wrong_password_saves_nothing(who: Who) {
    let _turn = one_at_a_time();
    let reg = secure_registry();
    let c = Cove::new(who);
    let _ca = TrustedCa::install(&c, who);
    login(&c, &reg.reg.addr, reg.user, "wrong").assert_err_line("incorrect username or password");
    login(&c, &reg.reg.addr, "nobody", reg.password)
        .assert_err_line("incorrect username or password");
    let p = Proxy::start(Mode::TokenServerDown);
    login(&c, &p.addr, "u", "p").assert_err_line("cannot reach auth server 127.0.0.1:1");
    login(&c, "127.0.0.1:1", "u", "p").assert_err_line("cannot reach registry 127.0.0.1:1");
    assert!(!c.runtime_dir.join("containers/auth.json").exists());
    // No terminal and no password: docker's refusal, nothing asked.
    c.run(&["login", "-u", "x", &reg.reg.addr])
        .assert_err_line("non TTY");
    c.cmd(&["login", "-u", "x", "--password-stdin", &reg.reg.addr])
        .input("")
        .run()
        .assert_err_line("password");
}

/// docker in use (a ~/.docker/config.json): login writes there too, under the host key; with
/// `credsStore` the secret goes to the helper, and pulls get it back from there.
fn docker_config_and_credential_helper(who: Who) {
    let _turn = one_at_a_time();
    let reg = secure_registry();
    let addr = &reg.reg.addr;
    let c = Cove::new(who);
    let _ca = TrustedCa::install(&c, who);
    let docker = c.home.join(".docker/config.json");
    c.write(&docker, "{\"HttpHeaders\":{\"X-Keep\":\"1\"}}\n");
    login(&c, addr, reg.user, reg.password).assert_ok();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&docker).unwrap()).unwrap();
    assert!(v["auths"][addr.as_str()]["auth"].is_string(), "{v}");
    assert_eq!(v["HttpHeaders"]["X-Keep"], "1");
    c.run(&["logout", addr]).assert_ok();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&docker).unwrap()).unwrap();
    assert!(v["auths"].get(addr.as_str()).is_none(), "{v}");

    // A helper that keeps secrets in a file of its own.
    let bin = c.dir.join("bin");
    let store = c.dir.join("helper-store");
    let script = format!(
        "#!/bin/sh\nset -e\nf={}\ncase \"$1\" in\n\
         store) cat > \"$f\" ;;\n\
         get) read -r s || true; [ -s \"$f\" ] || {{ echo 'credentials not found in native keychain'; exit 1; }}; cat \"$f\" ;;\n\
         erase) read -r s || true; [ -s \"$f\" ] || {{ echo 'credentials not found in native keychain'; exit 1; }}; rm -f \"$f\" ;;\n\
         esac\n",
        store.display()
    );
    c.write(&bin.join("docker-credential-covetest"), &script);
    std::fs::set_permissions(
        bin.join("docker-credential-covetest"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    c.write(&docker, "{\"credsStore\":\"covetest\"}\n");
    let path = format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", bin.display());
    let out = c
        .cmd(&["login", "-u", reg.user, "--password-stdin", addr])
        .input(&format!("{}\n", reg.password))
        .env("PATH", &path)
        .run();
    out.assert_ok();
    let kept = std::fs::read_to_string(&store).unwrap();
    assert!(
        kept.contains(reg.password) && kept.contains(addr.as_str()),
        "{kept}"
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&docker).unwrap()).unwrap();
    assert!(!v.to_string().contains(reg.password), "{v}");
    // Only the helper knows the secret: a push through it works once the podman file is gone.
    std::fs::remove_file(c.runtime_dir.join("containers/auth.json")).unwrap();
    let src = c.busybox();
    let dest = format!(
        "{addr}/helper/{}-{}:1",
        format!("{who:?}").to_lowercase(),
        std::process::id()
    );
    c.run(&["tag", &src, &dest]).assert_ok();
    c.cmd(&["push", "-q", &dest])
        .env("PATH", &path)
        .run()
        .assert_ok();
    c.cmd(&["logout", addr])
        .env("PATH", &path)
        .run()
        .assert_ok();
    assert!(!store.exists());
}
