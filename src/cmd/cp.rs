//! `cp` between a container and the host (or a tar stream with `-`), and `export`.

use std::fs::File;
use std::io;
use std::path::Path;

use super::container::Session;
use super::container_flags::{CpArgs, ExportArgs};
use super::Context;
use crate::container::{self, CopyRequest};
use crate::error::{Error, Result};
use crate::overlay::ArchiveReport;

/// `NAME:PATH` names a container path; a plain path (or one with a `/` before the colon)
/// is on the host, as docker decides.
fn split_container(arg: &str) -> Option<(&str, &str)> {
    let (name, path) = arg.split_once(':')?;
    (!name.is_empty() && !name.contains('/')).then_some((name, path))
}

pub fn cp(ctx: &Context, args: CpArgs) -> Result<i32> {
    let req = CopyRequest {
        follow_link: args.follow_link,
        archive: args.archive,
    };
    let (name, path, out) = match (split_container(&args.src), split_container(&args.dest)) {
        (Some((name, path)), None) => (name, path, true),
        (None, Some((name, path))) => (name, path, false),
        (Some(_), Some(_)) => {
            return Err(Error::msg("copying between containers is not supported"))
        }
        (None, None) => {
            return Err(Error::msg(
                "must specify at least one container source: use CONTAINER:PATH",
            ))
        }
    };
    let s = Session::open(ctx)?;
    let rec = s.store.find(name)?;
    let root = container::open_root(&s.store, &s.paths, &rec)?;
    let report = match (out, args.src.as_str(), args.dest.as_str()) {
        (true, _, "-") => container::copy_out_tar(&root, path, &mut io::stdout().lock(), req)?,
        (true, _, dest) => container::copy_out(&root, path, Path::new(dest), req)?,
        (false, "-", _) => {
            container::copy_in_tar(&root, &mut io::stdin().lock(), path, req)?;
            ArchiveReport::default()
        }
        (false, src, _) => container::copy_in(&root, Path::new(src), path, req)?,
    };
    warn_skipped(&report);
    Ok(0)
}

fn warn_skipped(report: &ArchiveReport) {
    for what in &report.skipped {
        crate::warn!("not copied (a tar archive cannot hold it): {what}");
    }
}

pub fn export(ctx: &Context, args: ExportArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    let rec = s.store.find(&args.container)?;
    let root = container::open_root(&s.store, &s.paths, &rec)?;
    let report = match &args.output {
        Some(path) => {
            let mut f = File::create(path)
                .map_err(|e| Error::msg(format!("cannot create {}: {e}", path.display())))?;
            container::export(&root, &mut f)?
        }
        None => {
            if io::IsTerminal::is_terminal(&io::stdout()) {
                return Err(Error::msg(
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect",
                ));
            }
            container::export(&root, &mut io::stdout().lock())?
        }
    };
    warn_skipped(&report);
    Ok(0)
}
