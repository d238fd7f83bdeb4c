//! `cove build`: a Dockerfile's stages built into images of the store. Each step becomes an
//! (untagged, cached) image as docker's classic builder makes them: RUN runs in a container of
//! the previous step and its upper directory becomes the layer; COPY/ADD unpack into such a
//! container's root; the other instructions change the config only. A step whose parent,
//! instruction and sources are unchanged is taken from the cache.

pub mod dockerfile;
pub mod ignore;

mod add;
mod cache;
mod config;
mod context;
mod copy;
mod files;
mod glob;
mod output;
mod run;
mod runstep;
mod scope;
mod stages;
mod state;
mod step;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use context::ContextSource;
pub use output::Output;

use crate::image::policy::PullPolicy;

/// What to build and how, from the CLI.
pub struct BuildRequest {
    pub context: ContextSource,
    /// `-f`: a path (relative to the current directory), or `-` for stdin; None for
    /// `Dockerfile` in the context.
    pub dockerfile: Option<PathBuf>,
    /// Full names to tag the result with.
    pub tags: Vec<String>,
    /// `--build-arg K=V`, or `K` alone (its value from the environment, unset when absent).
    pub build_args: BTreeMap<String, Option<String>>,
    pub target: Option<String>,
    pub no_cache: bool,
    pub pull: PullPolicy,
    pub labels: BTreeMap<String, String>,
    /// `--network` for RUN steps ("" for the run default).
    pub network: String,
    pub platform: Option<String>,
    /// `--secret id=ID,src=PATH`.
    pub secrets: BTreeMap<String, PathBuf>,
    pub tls_verify: Option<bool>,
    /// `--debug-on-fail`: the command run in a failed RUN step's file system.
    pub debug_on_fail: Option<String>,
    /// `--cache-from` / `--cache-to` as given (`type=local,src=DIR`, `type=local,dest=DIR`).
    pub cache_from: Vec<String>,
    pub cache_to: Option<String>,
}

/// Why a build stopped.
#[derive(Debug)]
pub enum BuildError {
    /// The Dockerfile or a flag is wrong (a line number where there is one).
    Input(String),
    /// A RUN step's command failed (docker's words, with its exit code).
    StepFailed(String),
    /// Anything else (store, registry, sandbox).
    Engine(String),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::Input(m) | BuildError::Engine(m) | BuildError::StepFailed(m) => {
                f.write_str(m)
            }
        }
    }
}

impl From<crate::image::Error> for BuildError {
    fn from(e: crate::image::Error) -> Self {
        BuildError::Engine(e.to_string())
    }
}

impl From<crate::container::Error> for BuildError {
    fn from(e: crate::container::Error) -> Self {
        BuildError::Engine(e.to_string())
    }
}

impl From<crate::overlay::Error> for BuildError {
    fn from(e: crate::overlay::Error) -> Self {
        BuildError::Engine(e.to_string())
    }
}

impl From<crate::registry::Error> for BuildError {
    fn from(e: crate::registry::Error) -> Self {
        BuildError::Engine(e.to_string())
    }
}

pub type Result<T, E = BuildError> = std::result::Result<T, E>;

/// The built image's ID (`sha256:...`).
pub struct BuildOutcome {
    pub id: String,
}

pub use step::build;
