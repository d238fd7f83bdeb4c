//! Step containers: a RUN command run in the foreground in a container of the step's parent
//! image (the build's environment, user, working directory and mounts), and containers that
//! are never started, whose root COPY and WORKDIR write into.

use super::output::Output;
use super::state::State;
use super::{BuildError, Result};
use crate::container::{
    self, Attach, ContainerRecord, ContainerStore, CreateRequest, Launch, RemoveRequest,
};
use crate::image::config::ImageConfig;
use crate::image::{ImageRecord, ImageStore};
use crate::paths::Paths;
use crate::supervisor;

/// What one RUN needs besides the state.
pub struct RunSpec {
    pub argv: Vec<String>,
    /// Extra environment (build args), after the image's.
    pub env: Vec<String>,
    pub network: String,
    /// `-v` style binds (cache and bind mounts, secrets).
    pub volumes: Vec<String>,
    pub tmpfs: Vec<String>,
}

/// A container that is removed when dropped.
pub struct StepContainer<'a> {
    pub store: &'a ContainerStore,
    pub rec: ContainerRecord,
}

impl Drop for StepContainer<'_> {
    fn drop(&mut self) {
        if let Err(e) = container::remove(self.store, &self.rec, RemoveRequest { force: true }) {
            crate::warn!("cannot remove build container {}: {e}", self.rec.id);
        }
    }
}

pub fn image_of(paths: &Paths, state: &State) -> Result<(ImageRecord, ImageConfig)> {
    let Some(id) = &state.image else {
        return Err(BuildError::Input(
            "this step needs a file system, and the stage has none yet (FROM scratch)".into(),
        ));
    };
    let images = ImageStore::open(&paths.root);
    let rec = images
        .load()?
        .into_iter()
        .find(|i| i.id == *id)
        .ok_or_else(|| BuildError::Engine(format!("the image {id} of the last step is gone")))?;
    let config = ImageConfig::parse(&images.read_blob(id)?)
        .map_err(|e| BuildError::Engine(format!("image {id}: {e}")))?;
    Ok((rec, config))
}

/// A container of the state's image, not started, for writing into its root.
pub fn idle<'a>(
    paths: &Paths,
    store: &'a ContainerStore,
    state: &State,
) -> Result<StepContainer<'a>> {
    let (image, config) = image_of(paths, state)?;
    let req = CreateRequest {
        image_name: "cove-build".into(),
        command: vec!["true".into()],
        entrypoint: Some(String::new()),
        launch: Launch::Later,
        log_driver: "none".into(),
        ..CreateRequest::default()
    };
    let host = container::check(&req)?;
    let rec = container::create(store, &req, host, &image, &config)?;
    Ok(StepContainer { store, rec })
}

/// Run a RUN step; returns its (stopped) container and the command's exit code.
pub fn run<'a>(
    paths: &Paths,
    store: &'a ContainerStore,
    state: &State,
    spec: &RunSpec,
    out: &Output,
) -> Result<(StepContainer<'a>, i32)> {
    run_with(paths, store, state, spec, out, false)
}

/// `--debug-on-fail`: the command on the caller's stdin (and terminal, when there is one).
pub fn debug(
    paths: &Paths,
    store: &ContainerStore,
    state: &State,
    spec: &RunSpec,
    out: &Output,
) -> Result<i32> {
    run_with(paths, store, state, spec, out, true).map(|(_, code)| code)
}

fn run_with<'a>(
    paths: &Paths,
    store: &'a ContainerStore,
    state: &State,
    spec: &RunSpec,
    out: &Output,
    interactive: bool,
) -> Result<(StepContainer<'a>, i32)> {
    use std::io::IsTerminal;
    let tty = interactive && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let (image, config) = image_of(paths, state)?;
    let mut env = state.env();
    env.extend(spec.env.iter().cloned());
    let user = state.user();
    let req = CreateRequest {
        image_name: "cove-build".into(),
        command: spec.argv.clone(),
        entrypoint: Some(String::new()),
        env,
        workdir: Some(state.workdir()),
        user: (!user.is_empty()).then_some(user),
        volumes: spec.volumes.clone(),
        tmpfs: spec.tmpfs.clone(),
        network: spec.network.clone(),
        launch: Launch::Foreground,
        log_driver: "none".into(),
        attach: Some(Attach {
            stdin: interactive,
            stdout: !out.quiet || interactive,
            stderr: !out.quiet || interactive,
        }),
        interactive,
        tty,
        ..CreateRequest::default()
    };
    let host = container::check(&req)?;
    let rec = container::create(store, &req, host, &image, &config)?;
    let ctr = StepContainer { store, rec };
    if !interactive {
        out.running_in(&ctr.rec.id);
    }
    let here = supervisor::Foreground {
        sig_proxy: true,
        preserve_fds: 0,
    };
    let code = supervisor::run_foreground(paths, &ctr.rec.id, &here)
        .map_err(|e| BuildError::Engine(e.to_string()))?;
    Ok((ctr, code))
}
