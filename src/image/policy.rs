//! The pull policy of `run`/`create` (`--pull always|missing|never|newer`): whether the image a
//! container is created from is taken from the store or pulled first.

use super::lookup;
use super::pull::{self, Progress, PullOutcome, PullRequest};
use super::{Error, ImageRecord, ImageStore};
use crate::paths::Paths;
use crate::registry::RegistriesConf;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PullPolicy {
    Always,
    Missing,
    Never,
    /// podman's: pull when the registry has a different image, else (or when the registry
    /// cannot be reached) use the stored one.
    Newer,
}

impl PullPolicy {
    pub fn parse(s: &str) -> Result<PullPolicy, Error> {
        match s {
            "always" => Ok(PullPolicy::Always),
            "missing" => Ok(PullPolicy::Missing),
            "never" => Ok(PullPolicy::Never),
            "newer" => Ok(PullPolicy::Newer),
            other => Err(Error::Other(format!(
                "invalid pull policy {other:?}: use always, missing, never or newer"
            ))),
        }
    }
}

/// The stored image `reference` names when the policy lets it be used; None when it must be
/// pulled; an error when it is missing and the policy is `never`.
pub fn local_image(
    paths: &Paths,
    conf: &RegistriesConf,
    reference: &str,
    policy: PullPolicy,
) -> Result<Option<ImageRecord>, Error> {
    if policy == PullPolicy::Always {
        return Ok(None);
    }
    let images = ImageStore::open(&paths.root).load()?;
    match lookup::find(&images, reference, conf) {
        Ok(found) => Ok(images.into_iter().nth(found.index)),
        Err(_) if policy == PullPolicy::Never => Err(Error::NoSuchImage(reference.to_string())),
        Err(_) => Ok(None),
    }
}

/// Pull the image and return its record as now stored, with the pull's outcome.
pub fn pull_image(
    paths: &Paths,
    conf: &RegistriesConf,
    req: &PullRequest,
    progress: &dyn Progress,
) -> Result<(ImageRecord, PullOutcome), Error> {
    let outcome = pull::pull(paths, conf, paths.rootless, req, progress)?;
    let images = ImageStore::open(&paths.root).load()?;
    let found = lookup::find(&images, &outcome.reference.to_string(), conf)?;
    let image = images.into_iter().nth(found.index).ok_or_else(|| {
        Error::Other(format!(
            "{}: pulled but not in the store",
            outcome.reference
        ))
    })?;
    Ok((image, outcome))
}
