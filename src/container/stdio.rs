//! A container's stdio as `create` sets it up: the log driver and the file it keeps, the
//! streams a foreground run shows (`-a`), and the combinations of them that cannot work.

use std::io::IsTerminal;
use std::path::PathBuf;

use super::error::{Error, Result};
use super::record::{ContainerRecord, HostConfig, LogDriver};
use super::{layout, CreateRequest};
use crate::paths::Paths;

/// What the caller does with the container right after `create`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Launch {
    /// Nothing yet (`create`): it is started later, by a monitor.
    #[default]
    Later,
    /// `run -d`: a monitor starts it, with no stdio of the caller's.
    Detached,
    /// `run`: the caller supervises it on its own stdio.
    Foreground,
}

/// `-a`/`--attach`: the streams a foreground run connects; None in the request means docker's
/// default, stdout and stderr (and stdin with `-i`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attach {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

/// The log driver of `req`, or the one-line refusal of a name cove does not know.
pub fn log_driver(req: &CreateRequest) -> Result<LogDriver> {
    LogDriver::parse(&req.log_driver).ok_or_else(|| {
        Error::invalid(format!(
            "invalid log driver {:?}: use json-file, k8s-file, none, passthrough or passthrough-tty",
            req.log_driver
        ))
    })
}

/// Refuse what cannot work together: -a with -d (docker's words), and a passthrough driver
/// anywhere but in the foreground of a caller whose stdio is no terminal (podman's rules).
pub fn check(req: &CreateRequest, host: &HostConfig) -> Result<()> {
    if req.attach.is_some() && req.launch == Launch::Detached {
        return Err(Error::invalid(
            "conflicting options: cannot specify both --attach and --detach",
        ));
    }
    let driver = host.log_config.driver;
    if !driver.is_passthrough() {
        return Ok(());
    }
    let refuse = |why: &str| {
        Err(Error::invalid(format!(
            "--log-driver {} {why}",
            driver.as_str()
        )))
    };
    if req.attach.is_some() {
        return refuse("cannot be used with --attach: the container takes all of cove's stdio");
    }
    if req.tty {
        return refuse("cannot be used with --tty: the container takes cove's stdio as it is");
    }
    if req.launch == Launch::Detached {
        return refuse("cannot be used with --detach: only a foreground run has stdio to give");
    }
    let terminal = std::io::stdin().is_terminal()
        || std::io::stdout().is_terminal()
        || std::io::stderr().is_terminal();
    // A process holding a terminal can push input into it (TIOCSTI): podman allows that only
    // when asked for by name.
    if req.launch == Launch::Foreground && terminal && driver == LogDriver::Passthrough {
        return refuse(
            "cannot be used on a terminal, which the container could type into: \
             use passthrough-tty to allow it",
        );
    }
    Ok(())
}

/// The file `rec`'s output is logged to: `--log-opt path=`, else `ctr.log` in its directory.
/// None when its driver keeps no file.
pub fn log_file(paths: &Paths, rec: &ContainerRecord) -> Option<PathBuf> {
    if !rec.host.log_config.driver.keeps_file() {
        return None;
    }
    Some(match rec.host.log_config.config.get("path") {
        Some(path) => PathBuf::from(path),
        None => layout::log_path(paths, &rec.id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(driver: &str) -> CreateRequest {
        CreateRequest {
            log_driver: driver.into(),
            launch: Launch::Later,
            ..Default::default()
        }
    }

    fn checked(req: &CreateRequest) -> std::result::Result<(), String> {
        let mut host = HostConfig::default();
        host.log_config.driver = log_driver(req).map_err(|e| e.to_string())?;
        check(req, &host).map_err(|e| e.to_string())
    }

    #[test]
    fn drivers_and_their_conflicts() {
        for ok in [
            "",
            "json-file",
            "k8s-file",
            "none",
            "passthrough",
            "passthrough-tty",
        ] {
            assert_eq!(checked(&req(ok)), Ok(()), "{ok}");
        }
        let e = checked(&req("journald")).unwrap_err();
        assert!(
            e.starts_with("invalid log driver \"journald\": use json-file"),
            "{e}"
        );
        let mut r = req("passthrough");
        r.launch = Launch::Detached;
        assert!(checked(&r)
            .unwrap_err()
            .contains("cannot be used with --detach"));
        r.launch = Launch::Later;
        r.tty = true;
        assert!(checked(&r)
            .unwrap_err()
            .contains("cannot be used with --tty"));
        r.tty = false;
        r.attach = Some(Attach::default());
        assert!(checked(&r)
            .unwrap_err()
            .contains("cannot be used with --attach"));
        let mut r = req("json-file");
        r.attach = Some(Attach::default());
        assert_eq!(checked(&r), Ok(()));
        r.launch = Launch::Detached;
        assert_eq!(
            checked(&r).unwrap_err(),
            "conflicting options: cannot specify both --attach and --detach"
        );
    }

    #[test]
    fn log_file_follows_the_driver_and_path() {
        let paths = Paths::under(std::path::Path::new("/r"));
        let mut rec = ContainerRecord {
            id: "abc".into(),
            ..Default::default()
        };
        assert_eq!(
            log_file(&paths, &rec).unwrap(),
            layout::log_path(&paths, "abc")
        );
        rec.host
            .log_config
            .config
            .insert("path".into(), "/var/log/x.json".into());
        assert_eq!(
            log_file(&paths, &rec).unwrap(),
            PathBuf::from("/var/log/x.json")
        );
        rec.host.log_config.driver = LogDriver::None;
        assert_eq!(log_file(&paths, &rec), None);
    }
}
