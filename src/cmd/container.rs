//! Container lifecycle commands: run, create, start, stop, restart, kill, rm, wait, rename,
//! prune, attach, exec.

use std::os::fd::{AsFd, OwnedFd};

use super::container_flags::*;
use super::{join_userns, Context};
use crate::container::{self, Attach, ContainerRecord, ContainerStore, CreateRequest, Launch};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::image::lookup;
use crate::image::policy::{self, PullPolicy};
use crate::image::pull::PullRequest;
use crate::image::{ImageRecord, ImageStore};
use crate::paths::Paths;
use crate::registry::RegistriesConf;
use crate::sandbox;
use crate::supervisor::{self, AttachEnd, AttachOpts};

/// What a container command works on: the paths, the user namespace joined (rootless), the
/// container store.
pub struct Session {
    pub paths: Paths,
    pub store: ContainerStore,
}

impl Session {
    pub fn open(ctx: &Context) -> Result<Session> {
        let paths = ctx.paths()?;
        join_userns(&paths)?;
        let store = ContainerStore::open(&paths)?;
        Ok(Session { paths, store })
    }
}

pub fn run(ctx: &Context, args: RunArgs) -> Result<i32> {
    // Descriptors cove was given, checked before it opens any of its own (which would be
    // refused anyway: they close on exec).
    let preserve_fds = supervisor::check_preserve_fds(args.preserve_fds, args.detach)?;
    let s = Session::open(ctx)?;
    let flags = &args.flags;
    let launch = if args.detach {
        Launch::Detached
    } else {
        Launch::Foreground
    };
    let rec = create_container(&s, flags, launch)?;
    let id = rec.id.clone();
    if args.detach {
        supervisor::start_monitor(&s.paths, &id, false)?;
        println!("{id}");
        return Ok(0);
    }
    let here = supervisor::Foreground {
        sig_proxy: flags.sig_proxy,
        preserve_fds,
    };
    if (rec.config.tty || rec.config.open_stdin) && !here.needed_for(&rec) {
        supervisor::start_monitor(&s.paths, &id, true)?;
        return attach_until_end(
            &s,
            &rec,
            rec.config.open_stdin,
            flags.sig_proxy,
            flags.detach_keys.as_deref(),
            true,
            [rec.config.attach_stdout, rec.config.attach_stderr],
        );
    }
    let code = supervisor::run_foreground(&s.paths, &id, &here)?;
    Ok(code)
}

pub fn create(ctx: &Context, args: CreateArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    let rec = create_container(&s, &args.flags, Launch::Later)?;
    println!("{}", rec.id);
    Ok(0)
}

/// Attach to `rec`'s monitor until the container ends or the user detaches; `show` says
/// which of stdout and stderr are written out (`run -a`).
pub(super) fn attach_until_end(
    s: &Session,
    rec: &ContainerRecord,
    stdin: bool,
    sig_proxy: bool,
    keys: Option<&str>,
    close_stdin: bool,
    show: [bool; 2],
) -> Result<i32> {
    let keys = keys
        .or(rec.host.detach_keys.as_deref())
        .unwrap_or("ctrl-p,ctrl-q");
    let opts = AttachOpts {
        stdin,
        tty: rec.config.tty,
        detach_keys: supervisor::parse_detach_keys(keys)?,
        sig_proxy,
        stdin_once: close_stdin,
        show,
    };
    match supervisor::attach(&s.paths, &rec.id, &opts)? {
        AttachEnd::Detached => Ok(0),
        AttachEnd::Exited(code) => Ok(code),
    }
}

/// Find or pull the image (as `--pull` says), then create the container record.
fn create_container(s: &Session, f: &CreateFlags, launch: Launch) -> Result<ContainerRecord> {
    let conf = RegistriesConf::load(&s.paths)?;
    // A malformed reference or bad flag fails before anything is looked up or pulled.
    let req = request(f, launch)?;
    let host = container::check(&req)?;
    if lookup::find_by_id_only(&f.image).is_none() {
        crate::registry::Reference::parse(&f.image, &conf)?;
    }
    if let Some(file) = &f.cidfile {
        check_cidfile(file)?;
    }
    let image = resolve_image(s, &conf, f)?;
    if let (true, Some(name)) = (f.replace, &f.name) {
        // podman's --replace: the old container of that name goes, running or not; only once
        // the new one's image is there, so a failed pull leaves the old one in place.
        match s.store.find(name) {
            Ok(old) => container::remove(&s.store, &old, container::RemoveRequest { force: true })?,
            Err(container::Error::NoSuchContainer(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let config = ImageStore::open(&s.paths.root).config(&image)?;
    let rec = container::create(&s.store, &req, host, &image, &config)?;
    if let Some(file) = &f.cidfile {
        if let Err(e) = std::fs::write(file, &rec.id) {
            if let Ok(lock) = s.store.lock(&rec.id) {
                let _ = s.store.remove(&lock);
            }
            return Err(Error::msg(format!(
                "failed to create the container ID file: {e}"
            )));
        }
    }
    Ok(rec)
}

/// The image to create from, found or pulled as `--pull` says.
fn resolve_image(s: &Session, conf: &RegistriesConf, f: &CreateFlags) -> Result<ImageRecord> {
    let policy = PullPolicy::parse(&f.pull)?;
    let local = policy::local_image(&s.paths, conf, &f.image, policy)?;
    if let (Some(image), false) = (&local, policy == PullPolicy::Newer) {
        return Ok(image.clone());
    }
    if local.is_none() && policy != PullPolicy::Always {
        eprintln!("Unable to find image '{}' locally", f.image);
    }
    let req = PullRequest {
        reference: f.image.clone(),
        platform: f.platform.clone(),
        tls_verify: None,
    };
    let display = super::progress::PullDisplay::to_stderr(&f.image);
    match (policy::pull_image(&s.paths, conf, &req, &display), local) {
        (Ok((image, outcome)), _) => {
            display.finish(&outcome);
            Ok(image)
        }
        // `newer` with a registry that cannot answer: the stored image will do.
        (Err(e), Some(image)) => {
            crate::warn!("{}: using the local image: {e}", f.image);
            Ok(image)
        }
        (Err(e), None) => Err(e.into()),
    }
}

/// docker refuses a `--cidfile` that already holds an ID (another container may own it).
fn check_cidfile(file: &std::path::Path) -> Result<()> {
    match std::fs::metadata(file) {
        Ok(m) if m.len() > 0 => Err(Error::msg(format!(
            "container ID file found, make sure the other container isn't running or delete {}",
            file.display()
        ))),
        _ => Ok(()),
    }
}

fn request(f: &CreateFlags, launch: Launch) -> Result<CreateRequest> {
    let mut env = Vec::new();
    for file in &f.env_file {
        for line in read_env_file(file)?.lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            env.push(expand_env(line)?);
        }
    }
    for e in &f.env {
        env.push(expand_env(e)?);
    }
    Ok(CreateRequest {
        image_name: f.image.clone(),
        name: f.name.clone(),
        command: f.command.clone(),
        entrypoint: f.entrypoint.clone(),
        env,
        workdir: f.workdir.clone(),
        user: f.user.clone(),
        group_add: f.group_add.clone(),
        hostname: f.hostname.clone(),
        add_hosts: f.add_host.clone(),
        volumes: f.volume.clone(),
        mounts: f.mount.clone(),
        tmpfs: f.tmpfs.clone(),
        read_only: f.read_only,
        cap_add: f.cap_add.clone(),
        cap_drop: f.cap_drop.clone(),
        privileged: f.privileged,
        security_opt: f.security_opt.clone(),
        ulimits: f.ulimit.clone(),
        init: f.init,
        pid: f.pid.clone(),
        ipc: f.ipc.clone(),
        uts: f.uts.clone(),
        userns: f.userns.clone(),
        devices: f.device.clone(),
        labels: f.label.clone(),
        stop_signal: f.stop_signal.clone(),
        stop_timeout: f.stop_timeout,
        restart: f.restart.clone(),
        log_driver: f.log_driver.clone().unwrap_or_default(),
        log_opts: f.log_opt.clone(),
        // The parser took only these three names, in lower case.
        attach: (!f.attach.is_empty()).then(|| Attach {
            stdin: f.attach.iter().any(|a| a == "stdin"),
            stdout: f.attach.iter().any(|a| a == "stdout"),
            stderr: f.attach.iter().any(|a| a == "stderr"),
        }),
        timeout: f.timeout,
        launch,
        detach_keys: f.detach_keys.clone(),
        network: f.network.clone(),
        tty: f.tty,
        interactive: f.interactive,
        auto_remove: f.rm,
        timezone: f.tz.clone(),
        passwd_entry: f.passwd_entry.clone(),
    })
}

/// Largest `--env-file` read, as for a seccomp profile: enough for any real one.
const MAX_ENV_FILE: u64 = 4 << 20;

/// An `--env-file`: a regular file of at most MAX_ENV_FILE bytes, as UTF-8 text.
fn read_env_file(path: &std::path::Path) -> Result<String> {
    use std::io::Read;
    let fail = |what: &dyn std::fmt::Display| {
        Error::msg(format!("cannot read env file {}: {what}", path.display()))
    };
    let file = std::fs::File::open(path).map_err(|e| fail(&e))?;
    let meta = file.metadata().map_err(|e| fail(&e))?;
    if !meta.is_file() {
        return Err(fail(&"not a regular file"));
    }
    let mut text = String::new();
    file.take(MAX_ENV_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| fail(&e))?;
    if text.len() as u64 > MAX_ENV_FILE {
        return Err(fail(&format_args!(
            "larger than {} MiB",
            MAX_ENV_FILE >> 20
        )));
    }
    Ok(text)
}

/// `NAME=VALUE` as is; a bare `NAME` takes cove's own value, or is dropped when unset.
fn expand_env(e: &str) -> Result<String> {
    if e.starts_with('=') || e.is_empty() {
        return Err(Error::msg(format!("invalid environment variable: {e}")));
    }
    if e.contains('=') {
        return Ok(e.to_string());
    }
    Ok(match std::env::var(e) {
        Ok(v) => format!("{e}={v}"),
        Err(_) => e.to_string(),
    })
}

pub fn attach(ctx: &Context, args: AttachArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    let rec = s.store.find(&args.container)?;
    s.store.live_state(&rec).status.check_attach()?;
    attach_until_end(
        &s,
        &rec,
        !args.no_stdin && rec.config.open_stdin,
        args.sig_proxy,
        args.detach_keys.as_deref(),
        false,
        [true, true],
    )
}

pub fn exec(ctx: &Context, args: ExecArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    let rec = s.store.find(&args.container)?;
    let req = container::ExecRequest {
        command: args.command.clone(),
        env: args
            .env
            .iter()
            .map(|e| expand_env(e))
            .collect::<Result<_>>()?,
        workdir: args.workdir.clone(),
        user: args.user.clone(),
        privileged: args.privileged,
        tty: args.tty,
    };
    let prepared = container::prepare_exec(&s.store, &rec, &req)?;
    let (pid, p) = (prepared.target_pid, &prepared.process);
    if args.tty && !args.detach {
        return Ok(supervisor::run_exec_tty(pid, p, args.interactive)?);
    }
    let stdio = if args.detach {
        null_stdio()?
    } else {
        let stdin = if args.interactive {
            dup(std::io::stdin().as_fd())?
        } else {
            open_null(false)?
        };
        sandbox::Stdio {
            stdin,
            stdout: crate::console::container_stdout()
                .map_err(|e| Error::msg(format!("cannot duplicate stdio: {e}")))?
                .into(),
            stderr: dup(std::io::stderr().as_fd())?,
            console: None,
        }
    };
    let child = sandbox::exec_in(pid, p, stdio)?;
    if args.detach {
        return Ok(0);
    }
    Ok(wait_exit(child))
}

/// Reap `pid`; a death by signal N is 128 + N, as shells and docker report it.
fn wait_exit(pid: i32) -> i32 {
    match crate::exit::wait(pid, false) {
        Ok(Some((_, code))) => code,
        Ok(None) | Err(_) => crate::error::EXIT_ENGINE,
    }
}

fn dup(fd: std::os::fd::BorrowedFd<'_>) -> Result<OwnedFd> {
    fd.try_clone_to_owned()
        .map_err(|e| Error::msg(format!("cannot duplicate stdio: {e}")))
}

fn open_null(write: bool) -> Result<OwnedFd> {
    fsutil::open_null(write).map_err(|e| Error::msg(format!("cannot open /dev/null: {e}")))
}

fn null_stdio() -> Result<sandbox::Stdio> {
    Ok(sandbox::Stdio {
        stdin: open_null(false)?,
        stdout: open_null(true)?,
        stderr: open_null(true)?,
        console: None,
    })
}

/// The hidden `__monitor ID` command: supervise a detached container until it is done.
pub fn monitor(ctx: &Context, id: &str) -> Result<i32> {
    let s = Session::open(ctx)?;
    Ok(supervisor::run_monitor(&s.paths, id))
}
