//! The commands that act on many containers by name (start, stop, restart, kill, rm, wait,
//! rename, prune), with podman's `--all` and `--ignore` beside docker's flags.

use super::container::{attach_until_end, Session};
use super::container_flags::*;
use super::Context;
use crate::container::{self, ContainerRecord, Status, StopRequest};
use crate::error::{Error, Result};
use crate::supervisor;

/// The containers a command acts on, as the user named them: the names and IDs given, the IDs
/// in `--cidfile`s, or with podman's `--all` the ID of every container `all_of` keeps.
fn targets(
    s: &Session,
    t: &Targets,
    all: bool,
    ignore: bool,
    all_of: impl Fn(&ContainerRecord, Status) -> bool,
) -> Result<Vec<String>> {
    if all {
        if !t.containers.is_empty() || !t.cidfile.is_empty() {
            return Err(Error::msg(
                "when using the --all switch, you may not pass any containers names or IDs",
            ));
        }
        let mut ids = Vec::new();
        for rec in s.store.list()? {
            if all_of(&rec, s.store.live_state(&rec).status) {
                ids.push(rec.id);
            }
        }
        return Ok(ids);
    }
    let mut names = t.containers.clone();
    for file in &t.cidfile {
        match std::fs::read_to_string(file) {
            Ok(id) if !id.trim().is_empty() => names.push(id.trim().to_string()),
            Err(e) if ignore && e.kind() == std::io::ErrorKind::NotFound => {}
            Ok(_) => {
                return Err(Error::msg(format!(
                    "reading CIDFile {}: the file is empty",
                    file.display()
                )))
            }
            Err(e) => {
                return Err(Error::msg(format!(
                    "reading CIDFile {}: {e}",
                    file.display()
                )))
            }
        }
    }
    Ok(names)
}

/// Run `each` over the named containers; report failures docker's way (one line each) and
/// fail at the end if any failed. With `ignore` (podman), a container that does not exist is
/// skipped without a word.
fn for_each(
    s: &Session,
    names: &[String],
    ignore: bool,
    mut each: impl FnMut(&str, ContainerRecord) -> Result<()>,
) -> Result<i32> {
    let mut failed = false;
    for name in names {
        let result = match s.store.find(name) {
            Ok(rec) => each(name, rec),
            Err(container::Error::NoSuchContainer(_)) if ignore => Ok(()),
            Err(e) => Err(e.into()),
        };
        if let Err(e) = result {
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
    let names = targets(&s, &args.targets, args.all, false, |_, st| st.can_start())?;
    if args.attach || args.interactive {
        let [name] = names.as_slice() else {
            return Err(Error::msg(
                "you cannot start and attach multiple containers at once",
            ));
        };
        let rec = s.store.find(name)?;
        let status = s.store.live_state(&rec).status;
        if status.can_start() {
            start_monitor(&s, &rec, true)?;
        }
        return attach_until_end(
            &s,
            &rec,
            args.interactive,
            true,
            args.detach_keys.as_deref(),
            false,
            [true, true],
        );
    }
    for_each(&s, &names, false, |name, rec| {
        let status = s.store.live_state(&rec).status;
        if status.can_start() {
            start_monitor(&s, &rec, false)?;
        }
        println!("{name}");
        Ok(())
    })
}

/// Start the container's monitor. Another `start` that got there first is as good: docker's
/// start of a running container succeeds.
fn start_monitor(s: &Session, rec: &ContainerRecord, hold_output: bool) -> Result<()> {
    match supervisor::start_monitor(&s.paths, &rec.id, hold_output) {
        Err(_) if s.store.live_state(rec).status == Status::Running => Ok(()),
        r => Ok(r?),
    }
}

pub fn stop(ctx: &Context, args: StopArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    let names = targets(&s, &args.targets, args.all, args.ignore, |_, st| {
        st.can_stop()
    })?;
    for_each(&s, &names, args.ignore, |name, rec| {
        container::stop(&s.store, &rec, &stop_request(&args))?;
        println!("{name}");
        Ok(())
    })
}

fn stop_request(args: &StopArgs) -> StopRequest {
    StopRequest {
        timeout: args.time,
        signal: args.signal.clone(),
    }
}

pub fn restart(ctx: &Context, args: StopArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    let names = targets(&s, &args.targets, args.all, args.ignore, |_, _| true)?;
    for_each(&s, &names, args.ignore, |name, rec| {
        container::stop(&s.store, &rec, &stop_request(&args))?;
        start_monitor(&s, &rec, false)?;
        println!("{name}");
        Ok(())
    })
}

/// `pause`/`unpause`; with `-a` every running container that is not (or is) paused.
pub fn pause(ctx: &Context, args: PauseArgs, paused: bool) -> Result<i32> {
    let s = Session::open(ctx)?;
    let names = targets(&s, &args.targets, args.all, false, |rec, st| {
        st == Status::Running && s.store.live_state(rec).paused != paused
    })?;
    for_each(&s, &names, false, |name, rec| {
        if paused {
            container::pause(&s.store, &rec)?;
        } else {
            container::unpause(&s.store, &rec)?;
        }
        println!("{name}");
        Ok(())
    })
}

pub fn kill_cmd(ctx: &Context, args: KillArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    let sig = container::parse_signal(&args.signal)?;
    let running = |_: &ContainerRecord, st: Status| st == Status::Running;
    let names = targets(&s, &args.targets, args.all, args.ignore, running)?;
    for_each(&s, &names, args.ignore, |name, rec| {
        container::kill(&s.store, &rec, sig)?;
        println!("{name}");
        Ok(())
    })
}

pub fn rm(ctx: &Context, args: RmArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    let names = targets(&s, &args.targets, args.all, args.ignore, |_, _| true)?;
    for_each(&s, &names, args.ignore, |name, rec| {
        if args.force && args.time.is_some() {
            // podman's `rm -f -t N`: a chance to stop cleanly before the kill.
            let req = StopRequest {
                timeout: args.time,
                signal: None,
            };
            container::stop(&s.store, &rec, &req)?;
        }
        let req = container::RemoveRequest { force: args.force };
        match container::remove(&s.store, &rec, req) {
            // Gone meanwhile (its own --rm, another rm): what --ignore asked for.
            Err(container::Error::NoSuchContainer(_)) if args.ignore => return Ok(()),
            other => other?,
        }
        println!("{name}");
        Ok(())
    })
}

pub fn wait(ctx: &Context, args: WaitArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    for_each(&s, &args.containers, false, |_, rec| {
        println!("{}", container::wait(&s.store, &rec));
        Ok(())
    })
}

pub fn rename(ctx: &Context, args: RenameArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    let rec = s.store.find(&args.container)?;
    let lock = s.store.lock_record(&rec)?;
    s.store.rename(&lock, &args.new_name)?;
    Ok(0)
}

pub fn prune(ctx: &Context, args: PruneArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    if !args.force && !super::confirm("all stopped containers")? {
        return Ok(0);
    }
    let deleted = container::prune(&s.store)?.deleted;
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

/// podman's `container exists`: the answer is the exit code, nothing is printed.
pub fn exists(ctx: &Context, args: ExistsArgs) -> Result<i32> {
    let paths = ctx.paths()?;
    match container::ContainerStore::open(&paths)?.find(&args.container) {
        Ok(_) => Ok(0),
        Err(container::Error::NoSuchContainer(_)) => Ok(1),
        Err(e) => Err(e.into()),
    }
}
