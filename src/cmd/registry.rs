//! Registry commands: push, login, logout (flags and printing; the work is in image::push and
//! registry::login).

use clap::Args;

use super::grammar::GoBool;
use super::progress::PushDisplay;
use super::Context;
use crate::error::{Error, Result};
use crate::image::lookup::split_tag;
use crate::image::push::{self, Format, PushRequest};
use crate::image::ImageStore;
use crate::registry::{Reference, RegistriesConf};

#[derive(Args, Debug)]
pub struct PushArgs {
    /// Push all tags of the image's repository
    #[arg(short = 'a', long)]
    pub all_tags: bool,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// Write the digest of the pushed manifest to FILE (podman)
    #[arg(long, value_name = "FILE")]
    pub digestfile: Option<std::path::PathBuf>,
    /// Manifest format: docker (v2 schema 2, the default) or oci (podman)
    #[arg(short = 'f', long, value_name = "FORMAT", value_parser = ["docker", "oci", "v2s2"])]
    pub format: Option<String>,
    /// Require HTTPS and verify certificates when contacting registries
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = GoBool)]
    pub tls_verify: Option<bool>,
    /// Read credentials from FILE only (podman; also $REGISTRY_AUTH_FILE)
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<std::path::PathBuf>,
    /// Skip image signing (accepted for compatibility)
    #[arg(long, hide = true, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = GoBool)]
    pub disable_content_trust: Option<bool>,
    /// Image to push: NAME[:TAG], or an image ID with a DESTINATION
    #[arg(value_name = "NAME[:TAG]")]
    pub name: String,
    /// Where to push it, when not to the image's own name (podman)
    #[arg(value_name = "DESTINATION")]
    pub destination: Option<String>,
}

pub fn push(ctx: &Context, args: PushArgs) -> Result<i32> {
    let mut paths = ctx.paths()?;
    if args.authfile.is_some() {
        paths.auth_file = args.authfile.clone();
    }
    let conf = RegistriesConf::load(&paths)?;
    // Plain layers get their gzip copy written into the store, which belongs to the user's
    // namespace when rootless.
    super::join_userns(&paths)?;
    let format = match args.format.as_deref() {
        Some("oci") => Format::Oci,
        _ => Format::Docker,
    };
    let targets = if args.all_tags {
        all_local_tags(&paths, &conf, &args)?
    } else {
        vec![(args.name.clone(), args.destination.clone())]
    };
    let mut last = None;
    for (source, destination) in targets {
        let shown = destination.clone().unwrap_or_else(|| source.clone());
        let display = PushDisplay::new(args.quiet, &shown);
        let req = PushRequest {
            source,
            destination,
            format,
            tls_verify: args.tls_verify,
        };
        let outcome = push::push(&paths, &conf, &req, &display)?;
        display.finish(&outcome);
        last = Some(outcome.digest);
    }
    if let (Some(file), Some(digest)) = (&args.digestfile, last) {
        std::fs::write(file, &digest)
            .map_err(|e| Error::msg(format!("cannot write {}: {e}", file.display())))?;
    }
    Ok(0)
}

/// `push -a NAME`: every local tag of NAME's repository, in name order.
fn all_local_tags(
    paths: &crate::paths::Paths,
    conf: &RegistriesConf,
    args: &PushArgs,
) -> Result<Vec<(String, Option<String>)>> {
    let r = Reference::parse(&args.name, conf)?;
    let last = args.name.rsplit('/').next().unwrap_or(&args.name);
    if r.digest.is_some() || last.contains(':') || args.destination.is_some() {
        return Err(Error::msg("tag can't be used with --all-tags/-a"));
    }
    let name = r.name();
    let images = ImageStore::open(&paths.root).load()?;
    let mut tags: Vec<String> = images
        .iter()
        .flat_map(|i| i.repo_tags.iter())
        .filter(|t| split_tag(t).0 == name)
        .cloned()
        .collect();
    tags.sort();
    if tags.is_empty() {
        return Err(Error::msg(format!(
            "An image does not exist locally with the tag: {}",
            r.familiar_name()
        )));
    }
    Ok(tags.into_iter().map(|t| (t, None)).collect())
}

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Username
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password (prefer --password-stdin: a password on the command line is visible to others)
    #[arg(short, long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
    /// Print the username stored for the registry and exit (podman)
    #[arg(long)]
    pub get_login: bool,
    /// Read and write credentials in FILE only (podman; also $REGISTRY_AUTH_FILE)
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<std::path::PathBuf>,
    /// Require HTTPS and verify certificates when contacting registries
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = GoBool)]
    pub tls_verify: Option<bool>,
    /// Say which files were written (podman)
    #[arg(short, long)]
    pub verbose: bool,
    /// Registry to log in to (Docker Hub when omitted)
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

#[derive(Args, Debug)]
pub struct LogoutArgs {
    /// Remove the credentials of every registry (podman)
    #[arg(short, long)]
    pub all: bool,
    /// Read and write credentials in FILE only (podman; also $REGISTRY_AUTH_FILE)
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<std::path::PathBuf>,
    /// Registry to log out from (Docker Hub when omitted)
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

pub fn login(ctx: &Context, args: LoginArgs) -> Result<i32> {
    use crate::registry::{login, Credentials};
    let mut paths = ctx.paths()?;
    if args.authfile.is_some() {
        paths.auth_file = args.authfile.clone();
    }
    let conf = RegistriesConf::load(&paths)?;
    let host = login::server_host(args.server.as_deref());
    if args.get_login {
        return match Credentials::lookup(&paths, &host, "") {
            Some(c) => {
                println!("{}", c.username);
                Ok(0)
            }
            None => Err(Error::msg(format!("not logged into {host}"))),
        };
    }
    if args.password_stdin && args.password.is_some() {
        return Err(Error::msg(
            "--password and --password-stdin are mutually exclusive",
        ));
    }
    if args.password_stdin && args.username.is_none() {
        return Err(Error::msg("Must provide --username with --password-stdin"));
    }
    if args.password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    let password = if args.password_stdin {
        Some(read_stdin_password()?)
    } else {
        args.password.clone()
    };
    let creds = match (args.username.clone(), password) {
        (Some(u), Some(p)) => Credentials {
            username: u,
            password: p,
        },
        (user, pass) => match (user.is_none() && pass.is_none())
            .then(|| Credentials::lookup(&paths, &host, ""))
            .flatten()
        {
            // docker reuses stored credentials when it is given none.
            Some(stored) => {
                println!("Authenticating with existing credentials...");
                stored
            }
            None => prompt(user, pass)?,
        },
    };
    if creds.username.is_empty() {
        return Err(Error::msg("Non-null Username Required"));
    }
    login::verify(&paths, &conf, &host, &creds, args.tls_verify)?;
    let written = login::save(&paths, &host, &creds)?;
    if args.verbose {
        for f in &written {
            println!("Used: {}", f.display());
        }
    }
    println!("Login Succeeded");
    Ok(0)
}

pub fn logout(ctx: &Context, args: LogoutArgs) -> Result<i32> {
    use crate::registry::login;
    let mut paths = ctx.paths()?;
    if args.authfile.is_some() {
        paths.auth_file = args.authfile.clone();
    }
    if args.all {
        login::remove_all(&paths)?;
        println!("Removed login credentials for all registries");
        return Ok(0);
    }
    let host = login::server_host(args.server.as_deref());
    let shown = if host == "docker.io" {
        "https://index.docker.io/v1/".to_string()
    } else {
        host.clone()
    };
    if login::remove(&paths, &host)? {
        println!("Removing login credentials for {shown}");
    } else {
        println!("Not logged in to {shown}");
    }
    Ok(0)
}

fn read_stdin_password() -> Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::io::stdin()
        .take(64 << 10)
        .read_to_string(&mut text)
        .map_err(|e| Error::msg(format!("cannot read the password from stdin: {e}")))?;
    let pass = text.trim_end_matches(['\n', '\r']).to_string();
    if pass.is_empty() {
        return Err(Error::msg("password is required"));
    }
    Ok(pass)
}

/// Ask on the terminal: "Username: " (echoed) and "Password: " (not echoed).
fn prompt(user: Option<String>, pass: Option<String>) -> Result<crate::registry::Credentials> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Err(Error::msg(
            "Cannot perform an interactive login from a non TTY device",
        ));
    }
    let read_line = || -> Result<String> {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Error::msg(format!("cannot read answer: {e}")))?;
        Ok(line.trim_end_matches(['\n', '\r']).to_string())
    };
    let username = match user {
        Some(u) => u,
        None => {
            print!("Username: ");
            let _ = std::io::stdout().flush();
            read_line()?.trim().to_string()
        }
    };
    let password = match pass {
        Some(p) => p,
        None => {
            print!("Password: ");
            let _ = std::io::stdout().flush();
            let echo = crate::console::EchoOff::new();
            let p = read_line();
            drop(echo);
            println!();
            p?
        }
    };
    Ok(crate::registry::Credentials { username, password })
}
