//! Container lifecycle commands: run, create, start, stop, restart, kill, rm, wait, rename,
//! prune, attach, exec.

use std::io::{BufRead, IsTerminal};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::container_args::*;
use super::image::enter_store;
use super::run::{CreateArgs, CreateFlags, RunArgs};
use super::Context;
use crate::container::{self, ContainerRecord, ContainerStore, CreateRequest};
use crate::error::{Error, Result};
use crate::image::lookup;
use crate::image::pull::{self as image_pull, PullRequest};
use crate::image::ImageStore;
use crate::paths::Paths;
use crate::registry::RegistriesConf;
use crate::sandbox;
use crate::supervisor::{self, AttachEnd, AttachOpts};

/// Opened once per command: paths, and the user namespace joined (rootless).
pub struct Session {
    pub paths: Paths,
    pub store: ContainerStore,
}

impl Session {
    pub fn open(ctx: &Context) -> Result<Session> {
        let paths = ctx.paths()?;
        enter_store(&paths)?;
        let store = ContainerStore::open(&paths)?;
        Ok(Session { paths, store })
    }
}

pub fn run(ctx: &Context, args: RunArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    let flags = &args.flags;
    if args.detach && flags.rm && flags.tty && flags.interactive {
        // fine: docker allows -dit --rm
    }
    let rec = create_container(&s, flags)?;
    let id = rec.id.clone();
    if args.detach {
        supervisor::start_monitor(&s.paths, &id, false)?;
        println!("{id}");
        return Ok(0);
    }
    if flags.tty || flags.interactive {
        supervisor::start_monitor(&s.paths, &id, true)?;
        return attach_until_end(
            &s,
            &rec,
            flags.interactive,
            flags.sig_proxy,
            flags.detach_keys.as_deref(),
            true,
        );
    }
    let code = supervisor::run_foreground(&s.paths, &id, flags.sig_proxy)?;
    Ok(code)
}

pub fn create(ctx: &Context, args: CreateArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    let rec = create_container(&s, &args.flags)?;
    println!("{}", rec.id);
    Ok(0)
}

fn attach_until_end(
    s: &Session,
    rec: &ContainerRecord,
    stdin: bool,
    sig_proxy: bool,
    keys: Option<&str>,
    close_stdin: bool,
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
    };
    match supervisor::attach(&s.paths, &rec.id, &opts)? {
        AttachEnd::Detached => Ok(0),
        AttachEnd::Exited(code) => Ok(code),
    }
}

/// Find or pull the image, then create the container record.
fn create_container(s: &Session, f: &CreateFlags) -> Result<ContainerRecord> {
    let conf = RegistriesConf::load(&s.paths)?;
    // A malformed reference or bad flag fails before anything is looked up or pulled.
    let req = request(f)?;
    let host = container::check(&req)?;
    if lookup::find_by_id_only(&f.image).is_none() {
        crate::registry::Reference::parse(&f.image, &conf)?;
    }
    let images = ImageStore::open(&s.paths.root);
    let local = images.load()?;
    let found = match f.pull.as_str() {
        "always" => None,
        "missing" | "never" => lookup::find(&local, &f.image, &conf).ok(),
        other => {
            return Err(Error::msg(format!(
                "invalid pull policy {other:?}: use always, missing or never"
            )))
        }
    };
    let image = match found {
        Some(found) => local[found.index].clone(),
        None if f.pull == "never" => {
            return Err(Error::msg(format!("No such image: {}", f.image)));
        }
        None => {
            if f.pull != "always" {
                eprintln!("Unable to find image '{}' locally", f.image);
            }
            let display = super::progress::PullDisplay::to_stderr(&f.image);
            let req = PullRequest {
                reference: f.image.clone(),
                platform: f.platform.clone(),
                tls_verify: None,
            };
            let userxattr = s.paths.rootless;
            let outcome = image_pull::pull(&s.paths, &conf, userxattr, &req, &display)?;
            display.finish(&outcome);
            let all = images.load()?;
            let found = lookup::find(&all, &outcome.reference.to_string(), &conf)?;
            all[found.index].clone()
        }
    };
    let config = images.config(&image)?;
    Ok(container::create(&s.store, &req, host, &image, &config)?)
}

fn request(f: &CreateFlags) -> Result<CreateRequest> {
    let mut env = Vec::new();
    for file in &f.env_file {
        let text = std::fs::read(file)
            .map_err(|e| Error::msg(format!("cannot read env file {}: {e}", file.display())))?;
        for line in text.lines() {
            let line = line.map_err(|e| Error::msg(format!("env file {}: {e}", file.display())))?;
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
        log_opts: f.log_opt.clone(),
        detach_keys: f.detach_keys.clone(),
        network: f.network.clone(),
        tty: f.tty,
        interactive: f.interactive,
        auto_remove: f.rm,
    })
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

/// Run `each` over the named containers; report failures docker's way (one line each) and
/// fail at the end if any failed.
fn for_each(names: &[String], mut each: impl FnMut(&str) -> Result<()>) -> Result<i32> {
    let mut failed = false;
    for name in names {
        if let Err(e) = each(name) {
            if let Some(m) = e.message() {
                eprintln!("Error: {m}");
            }
            failed = true;
        }
    }
    if failed {
        Err(Error::Exit(crate::error::EXIT_ENGINE))
    } else {
        Ok(0)
    }
}

pub fn start(ctx: &Context, args: StartArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    if args.attach || args.interactive {
        let [name] = args.containers.as_slice() else {
            return Err(Error::msg(
                "you cannot start and attach multiple containers at once",
            ));
        };
        let rec = s.store.find(name)?;
        let status = s.store.live_state(&rec).status;
        status.check_start()?;
        if status.can_start() {
            supervisor::start_monitor(&s.paths, &rec.id, true)?;
        }
        return attach_until_end(
            &s,
            &rec,
            args.interactive,
            true,
            args.detach_keys.as_deref(),
            false,
        );
    }
    for_each(&args.containers, |name| {
        let rec = s.store.find(name)?;
        let status = s.store.live_state(&rec).status;
        status.check_start()?;
        if status.can_start() {
            supervisor::start_monitor(&s.paths, &rec.id, false)?;
        }
        println!("{name}");
        Ok(())
    })
}

/// Stop one container: mark it stopped by the user (restart policies honour that), send
/// the stop signal, wait up to the timeout, then SIGKILL.
fn stop_one(
    s: &Session,
    rec: &ContainerRecord,
    time: Option<i64>,
    signal: Option<&str>,
) -> Result<()> {
    {
        let _lock = s.store.lock(&rec.id)?;
        let mut fresh = s.store.load(&rec.id)?;
        fresh.state.stopped_by_user = true;
        s.store.save(&fresh)?;
    }
    let state = s.store.live_state(rec);
    if !state.status.can_stop() {
        return Ok(());
    }
    let sig_name = signal
        .map(str::to_string)
        .or_else(|| Some(rec.config.stop_signal.clone()).filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "SIGTERM".into());
    let sig = container::parse_signal(&sig_name)?;
    let timeout = time.or(rec.config.stop_timeout).unwrap_or(10).max(0) as u64;
    let pid = Pid::from_raw(state.pid);
    if state.pid > 0 {
        let _ = kill(pid, sig);
    }
    if wait_stopped(s, rec, Duration::from_secs(timeout)) {
        return Ok(());
    }
    if state.pid > 0 {
        let _ = kill(pid, Signal::SIGKILL);
    }
    wait_stopped(s, rec, Duration::from_secs(10));
    Ok(())
}

fn wait_stopped(s: &Session, rec: &ContainerRecord, limit: Duration) -> bool {
    let start = Instant::now();
    loop {
        if !s.store.live_state(rec).status.is_active() {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn stop(ctx: &Context, args: StopArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    for_each(&args.containers, |name| {
        let rec = s.store.find(name)?;
        stop_one(&s, &rec, args.time, args.signal.as_deref())?;
        println!("{name}");
        Ok(())
    })
}

pub fn restart(ctx: &Context, args: StopArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    for_each(&args.containers, |name| {
        let rec = s.store.find(name)?;
        stop_one(&s, &rec, args.time, args.signal.as_deref())?;
        supervisor::start_monitor(&s.paths, &rec.id, false)?;
        println!("{name}");
        Ok(())
    })
}

pub fn kill_cmd(ctx: &Context, args: KillArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    let sig = container::parse_signal(&args.signal)?;
    for_each(&args.containers, |name| {
        let rec = s.store.find(name)?;
        let st = s.store.live_state(&rec);
        st.status.check_kill(name, &rec.id)?;
        kill(Pid::from_raw(st.pid), sig)
            .map_err(|e| Error::msg(format!("cannot kill container {name}: {e}")))?;
        println!("{name}");
        Ok(())
    })
}

pub fn rm(ctx: &Context, args: RmArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    for_each(&args.containers, |name| {
        let rec = s.store.find(name)?;
        remove_one(&s, &rec, args.force)?;
        println!("{name}");
        Ok(())
    })
}

fn remove_one(s: &Session, rec: &ContainerRecord, force: bool) -> Result<()> {
    let st = s.store.live_state(rec);
    st.status.check_remove(&rec.name, force)?;
    if st.status.is_active() {
        stop_one(s, rec, Some(0), Some("KILL"))?;
    }
    let _lock = s.store.lock(&rec.id)?;
    s.store.remove(&rec.id)?;
    Ok(())
}

pub fn wait(ctx: &Context, args: WaitArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    for_each(&args.containers, |name| {
        let rec = s.store.find(name)?;
        loop {
            let st = s.store.live_state(&rec);
            if !st.status.is_active() {
                println!("{}", st.exit_code);
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })
}

pub fn rename(ctx: &Context, args: RenameArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    let rec = s.store.find(&args.container)?;
    let _lock = s.store.lock(&rec.id)?;
    s.store.rename(&rec.id, &args.new_name)?;
    Ok(0)
}

pub fn prune(ctx: &Context, args: PruneArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    if !args.force {
        print!("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ");
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let mut line = String::new();
        if !std::io::stdin().is_terminal()
            || std::io::stdin().lock().read_line(&mut line).is_err()
            || !matches!(line.trim(), "y" | "Y" | "yes")
        {
            println!();
            return Ok(0);
        }
    }
    let mut deleted = Vec::new();
    for rec in s.store.list()? {
        if s.store.live_state(&rec).status.is_active() {
            continue;
        }
        let _lock = s.store.lock(&rec.id)?;
        s.store.remove(&rec.id)?;
        deleted.push(rec.id);
    }
    if !deleted.is_empty() {
        println!("Deleted Containers:");
        for d in &deleted {
            println!("{d}");
        }
        println!();
    }
    println!("Total reclaimed space: 0B");
    Ok(0)
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
    )
}

pub fn exec(ctx: &Context, args: ExecArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    let rec = s.store.find(&args.container)?;
    let st = s.store.live_state(&rec);
    st.status.check_exec(&rec.id)?;
    let mut spec = container::to_spec(&s.paths, &rec)?;
    let p = &mut spec.process;
    p.args = args.command.clone();
    p.terminal = args.tty;
    for e in &args.env {
        let kv = expand_env(e)?;
        let key = kv.split('=').next().unwrap_or(&kv).to_string();
        p.env.retain(|x| x.split('=').next() != Some(key.as_str()));
        p.env.push(kv);
    }
    if let Some(w) = &args.workdir {
        p.cwd = w.clone();
    }
    if let Some(u) = &args.user {
        let dirs = vec![format!("/proc/{}/root", st.pid).into()];
        let (uid, gid, groups) =
            sandbox::resolve_user_in_layers(&dirs, u).map_err(|e| Error::msg(e.to_string()))?;
        p.uid = uid;
        p.gid = gid;
        p.additional_gids = groups;
    }
    if args.privileged {
        p.caps = sandbox::caps::resolve(&[], &[], true).map_err(|e| Error::msg(e.to_string()))?;
        p.seccomp = sandbox::seccomp::Seccomp::Unconfined;
        p.seccomp_bpf = None;
    }
    if args.tty && !p.env.iter().any(|e| e.starts_with("TERM=")) {
        p.env.push("TERM=xterm".into());
    }
    if args.tty && !args.detach {
        return Ok(supervisor::run_exec_tty(st.pid, p, args.interactive)?);
    }
    let stdio = if args.detach {
        null_stdio()?
    } else {
        let stdin = if args.interactive {
            dup(std::io::stdin().as_fd())?
        } else {
            open_null()?
        };
        sandbox::Stdio {
            stdin,
            stdout: dup(std::io::stdout().as_fd())?,
            stderr: dup(std::io::stderr().as_fd())?,
        }
    };
    let pid = sandbox::exec_in(st.pid, p, stdio)?;
    if args.detach {
        return Ok(0);
    }
    Ok(wait_exit(pid))
}

/// Reap `pid`; a death by signal N is 128 + N, as shells and docker report it.
fn wait_exit(pid: i32) -> i32 {
    use nix::sys::wait::{waitpid, WaitStatus};
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return crate::error::EXIT_ENGINE,
        }
    }
}

fn dup(fd: std::os::fd::BorrowedFd<'_>) -> Result<OwnedFd> {
    fd.try_clone_to_owned()
        .map_err(|e| Error::msg(format!("cannot duplicate stdio: {e}")))
}

fn open_null() -> Result<OwnedFd> {
    std::fs::File::open("/dev/null")
        .map(OwnedFd::from)
        .map_err(|e| Error::msg(format!("cannot open /dev/null: {e}")))
}

fn null_stdio() -> Result<sandbox::Stdio> {
    Ok(sandbox::Stdio {
        stdin: open_null()?,
        stdout: std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .map(OwnedFd::from)
            .map_err(|e| Error::msg(format!("cannot open /dev/null: {e}")))?,
        stderr: std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .map(OwnedFd::from)
            .map_err(|e| Error::msg(format!("cannot open /dev/null: {e}")))?,
    })
}

/// The hidden `__monitor ID` command: supervise a detached container until it is done.
pub fn monitor(ctx: &Context, id: &str) -> Result<i32> {
    let s = Session::open(ctx)?;
    Ok(supervisor::run_monitor(&s.paths, id))
}
