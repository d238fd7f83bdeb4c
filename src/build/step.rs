//! The build itself: stages in dependency order, each instruction a step whose result is
//! looked up in the cache by its key (parent, instruction, sources) or made and stored as an
//! untagged image carrying that key; the target's last image is tagged.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use sha2::{Digest, Sha256};

use super::config;
use super::context::Context;
use super::dockerfile::{self, expand::expand, Dockerfile, Instruction, Kind};
use super::output::Output;
use super::run;
use super::stages;
use super::state::State;
use super::{BuildError, BuildOutcome, BuildRequest, Result};
use crate::container::{self, ContainerStore};
use crate::image::local::{Adding, NewLayer};
use crate::image::policy::{self, PullPolicy};
use crate::image::pull::{Progress, PullRequest};
use crate::image::{ImageRecord, ImageStore};
use crate::overlay::LayerStore;
use crate::paths::Paths;
use crate::registry::{Platform, RegistriesConf};

pub struct Builder<'a> {
    pub paths: &'a Paths,
    pub conf: &'a RegistriesConf,
    pub userxattr: bool,
    pub req: &'a BuildRequest,
    pub out: &'a Output,
    pull_progress: &'a dyn Progress,
    pub ctx: Context,
    pub df: Dockerfile,
    pub images: ImageStore,
    pub layers: LayerStore,
    pub store: ContainerStore,
    /// Cache key -> image ID, from the store's build-cache images.
    cache: RefCell<HashMap<String, String>>,
    /// Finished stages.
    pub done: BTreeMap<usize, State>,
    /// The image of every step taken or made, for --cache-to.
    steps: RefCell<Vec<String>>,
    pub(super) globals: BTreeMap<String, Option<String>>,
    pub(super) used_args: BTreeSet<String>,
    step: usize,
    total: usize,
    pub(super) platform: Platform,
}

/// Build what `req` asks for; pulls report to `pull_progress`.
pub fn build(
    paths: &Paths,
    conf: &RegistriesConf,
    userxattr: bool,
    req: &BuildRequest,
    out: &Output,
    pull_progress: &dyn Progress,
) -> Result<BuildOutcome> {
    let scratch = paths.runroot.join("build");
    std::fs::create_dir_all(&scratch)
        .map_err(|e| BuildError::Engine(format!("cannot create {}: {e}", scratch.display())))?;
    let ctx = Context::open(&req.context, req.dockerfile.as_deref(), &scratch)?;
    let df = dockerfile::parse(&ctx.dockerfile).map_err(|e| {
        BuildError::Input(format!("{}:{}: {}", ctx.dockerfile_name, e.line, e.message))
    })?;
    let platform = match &req.platform {
        Some(p) => Platform::parse(p)?,
        None => Platform::host(),
    };
    for spec in &req.cache_from {
        super::cache::import(paths, userxattr, &super::cache::parse_dir(spec, "src")?)?;
    }
    let cache_to = match &req.cache_to {
        Some(spec) => Some(super::cache::parse_dir(spec, "dest")?),
        None => None,
    };
    let images = ImageStore::open(&paths.root);
    let cache = images
        .load()?
        .into_iter()
        .filter_map(|i| i.build_key.map(|k| (k, i.id)))
        .collect::<HashMap<_, _>>();
    let mut b = Builder {
        paths,
        conf,
        userxattr,
        req,
        out,
        pull_progress,
        ctx,
        df,
        images,
        layers: LayerStore::open(paths.overlay_root(), userxattr).with_deferred_sync(),
        store: ContainerStore::open(paths)?,
        cache: RefCell::new(cache),
        done: BTreeMap::new(),
        steps: RefCell::new(Vec::new()),
        globals: BTreeMap::new(),
        used_args: BTreeSet::new(),
        step: 0,
        total: 0,
        platform,
    };
    b.global_args()?;
    let df = b.df.clone();
    let base_of = |i: usize| b.base_of(&df, i).unwrap_or_default();
    let order = stages::plan(&df, req.target.as_deref(), &base_of)?;
    b.total = order
        .iter()
        .map(|&i| 1 + df.stages[i].instructions.len())
        .sum();
    for &i in &order {
        let state = b.stage(&df, i)?;
        b.done.insert(i, state);
    }
    let goal = *order
        .last()
        .ok_or_else(|| BuildError::Input("nothing to build".into()))?;
    let mut last = b
        .done
        .remove(&goal)
        .ok_or_else(|| BuildError::Engine("the target stage did not finish".into()))?;
    if !req.labels.is_empty() {
        let key = key_of(&last.key, &format!("LABEL {:?}", req.labels), "");
        if !b.try_cache(&mut last, &key)? {
            let mut map = last
                .run_config()
                .get("Labels")
                .and_then(serde_json::Value::as_object)
                .cloned()
                .unwrap_or_default();
            for (k, v) in &req.labels {
                map.insert(k.clone(), serde_json::json!(v));
            }
            last.run_config()
                .insert("Labels".into(), serde_json::Value::Object(map));
            b.finish(&mut last, key, Made::default())?;
        }
    }
    let id = match &last.image {
        Some(id) => id.clone(),
        None => {
            let key = last.key.clone();
            b.finish(&mut last, key, Made::default())?
        }
    };
    let unused: Vec<&String> = req
        .build_args
        .keys()
        .filter(|k| !b.used_args.contains(*k) && !super::scope::is_predefined(k))
        .collect();
    if !unused.is_empty() {
        b.out.note(&format!(
            "[Warning] One or more build-args {unused:?} were not consumed"
        ));
    }
    // The steps' layers were not flushed one by one: once, before the result gets its name.
    b.layers.sync();
    if !req.tags.is_empty() {
        let adding = Adding::begin(&b.images, &b.layers)?;
        adding.record(Vec::new(), vec![(id.clone(), req.tags.clone())])?;
    }
    if let Some(dir) = &cache_to {
        let steps = b.steps.borrow().clone();
        super::cache::export(paths, dir, &steps)?;
    }
    out.built(&id, &req.tags);
    Ok(BuildOutcome { id })
}

/// What a step made: a layer placed by `adding` (which the step's image is recorded with).
#[derive(Default)]
pub struct Made<'a> {
    pub adding: Option<Adding<'a>>,
    pub layer: Option<NewLayer>,
}

pub fn key_of(parent: &str, text: &str, extra: &str) -> String {
    let mut h = Sha256::new();
    h.update(parent.as_bytes());
    h.update(b"\n");
    h.update(text.as_bytes());
    h.update(b"\n");
    h.update(extra.as_bytes());
    format!("sha256:{:x}", h.finalize())
}

impl Builder<'_> {
    pub(super) fn input(&self, line: usize, msg: impl std::fmt::Display) -> BuildError {
        BuildError::Input(format!("{}:{line}: {msg}", self.ctx.dockerfile_name))
    }

    fn base_of(&self, df: &Dockerfile, i: usize) -> Result<String> {
        let s = &df.stages[i];
        expand(&s.base, df.escape, &|n| {
            self.globals.get(n).cloned().flatten()
        })
        .map_err(|e| self.input(s.line, e))
    }

    /// Build stage `i` from its FROM to its last instruction.
    fn stage(&mut self, df: &Dockerfile, i: usize) -> Result<State> {
        let s = &df.stages[i];
        self.step += 1;
        self.out.step(self.step, self.total, &s.original);
        let base = self.base_of(df, i)?;
        let mut state = self.from(df, i, &base)?;
        if let Some(id) = &state.image {
            self.out.image(id);
        }
        for ins in &s.instructions {
            self.step += 1;
            self.out.step(self.step, self.total, &ins.original);
            self.instruction(&mut state, ins)?;
        }
        Ok(state)
    }

    fn from(&mut self, df: &Dockerfile, i: usize, base: &str) -> Result<State> {
        if base.eq_ignore_ascii_case("scratch") {
            let p = &self.platform;
            return Ok(State::scratch(&p.os, &p.architecture, p.variant.as_deref()));
        }
        if let Some(dep) = df
            .stages
            .iter()
            .position(|o| o.index < i && o.name.as_deref() == Some(base.to_lowercase().as_str()))
        {
            let mut st =
                self.done.get(&dep).cloned().ok_or_else(|| {
                    self.input(df.stages[i].line, format!("stage {base} not built"))
                })?;
            st.args.clear();
            st.cmd_set = false;
            return Ok(st);
        }
        let image = self.image(base, df.stages[i].line)?;
        let mut st = self.state_of(&image)?;
        st.key = image.id.clone();
        self.onbuild(&mut st)?;
        Ok(st)
    }

    /// A base image as the pull policy says: from the store, or pulled.
    pub fn image(&self, name: &str, line: usize) -> Result<ImageRecord> {
        if name.is_empty() {
            return Err(self.input(line, "base name (FROM) should not be blank"));
        }
        let policy = self.req.pull;
        if let Some(rec) = policy::local_image(self.paths, self.conf, name, policy)? {
            return Ok(rec);
        }
        if policy == PullPolicy::Never {
            return Err(BuildError::Input(format!("No such image: {name}")));
        }
        let req = PullRequest {
            reference: name.to_string(),
            platform: self.req.platform.clone(),
            tls_verify: self.req.tls_verify,
        };
        let (rec, _) = policy::pull_image(self.paths, self.conf, &req, self.pull_progress)?;
        Ok(rec)
    }

    /// The state of a stored image: its layers and config.
    pub fn state_of(&self, image: &ImageRecord) -> Result<State> {
        let layers = container::base_layers(&self.images, &self.layers, image)?;
        let config: serde_json::Value = serde_json::from_slice(&self.images.read_blob(&image.id)?)
            .map_err(|e| BuildError::Engine(format!("image config of {}: {e}", image.id)))?;
        Ok(State {
            image: Some(image.id.clone()),
            layers,
            config,
            key: image.id.clone(),
            args: BTreeMap::new(),
            cmd_set: false,
        })
    }

    /// Run the base image's ONBUILD triggers, as docker does right after FROM.
    fn onbuild(&mut self, st: &mut State) -> Result<()> {
        let triggers = super::state::strings(&st.config["config"]["OnBuild"]);
        if triggers.is_empty() {
            return Ok(());
        }
        st.run_config().remove("OnBuild");
        self.out
            .note(&format!("# Executing {} build trigger(s)", triggers.len()));
        for t in triggers {
            let df = dockerfile::parse(format!("FROM scratch\n{t}\n").as_bytes())
                .map_err(|e| BuildError::Input(format!("ONBUILD trigger {t:?}: {}", e.message)))?;
            for ins in df.stages.into_iter().flat_map(|s| s.instructions) {
                self.instruction(st, &ins)?;
            }
        }
        Ok(())
    }

    fn instruction(&mut self, state: &mut State, ins: &Instruction) -> Result<()> {
        match &ins.kind {
            Kind::Arg(list) => self.arg(state, list, ins.line),
            Kind::Run { .. } => super::runstep::run(self, state, ins),
            Kind::Copy { .. } | Kind::Add { .. } => super::copy::copy(self, state, ins),
            kind => {
                let mut trial = state.clone();
                let shown = config::apply(&mut trial, self.df.escape, kind)
                    .map_err(|e| self.input(ins.line, e))?
                    .ok_or_else(|| self.input(ins.line, "unsupported instruction"))?;
                let key = key_of(&state.key, &shown, "");
                let cmd_set = trial.cmd_set;
                if !self.try_cache(state, &key)? {
                    *state = trial;
                    state.history(&shown, true);
                    let made = match kind {
                        Kind::Workdir(_) => {
                            let dir = state.workdir();
                            super::copy::make_dir(self, state, &dir)?
                        }
                        _ => Made::default(),
                    };
                    self.finish(state, key, made)?;
                }
                state.cmd_set = cmd_set;
                Ok(())
            }
        }
    }

    /// Take the step `key` from the cache (unless --no-cache): true when it was there.
    pub fn try_cache(&self, state: &mut State, key: &str) -> Result<bool> {
        if self.req.no_cache {
            return Ok(false);
        }
        let Some(id) = self.cache.borrow().get(key).cloned() else {
            return Ok(false);
        };
        let Some(hit) = self.images.load()?.into_iter().find(|i| i.id == id) else {
            return Ok(false);
        };
        let mut st = self.state_of(&hit)?;
        st.args = std::mem::take(&mut state.args);
        st.cmd_set = state.cmd_set;
        st.key = key.to_string();
        *state = st;
        self.out.cached();
        self.out.image(&hit.id);
        self.steps.borrow_mut().push(hit.id);
        Ok(true)
    }

    /// Store the step's result as an image carrying its cache key (with the layer `made`
    /// placed, if any); returns the image ID.
    pub fn finish(&self, state: &mut State, key: String, made: Made<'_>) -> Result<String> {
        let Made { adding, layer } = made;
        let mut adding = match adding {
            Some(a) => a,
            None => Adding::begin(&self.images, &self.layers)?,
        };
        if let Some(l) = layer {
            state.layers.push(l);
        }
        state.key = key;
        let config = state.finished_config();
        let mut rec = adding.image(&config, &state.layers, Vec::new())?;
        rec.build_key = Some(state.key.clone());
        let id = rec.id.clone();
        adding.record(vec![rec], Vec::new())?;
        self.cache
            .borrow_mut()
            .insert(state.key.clone(), id.clone());
        state.config = config;
        state.image = Some(id.clone());
        self.steps.borrow_mut().push(id.clone());
        self.out.image(&id);
        Ok(id)
    }

    /// A stopped step container's changes as a layer on the state's, placed by a new
    /// addition that the step's image is then recorded with.
    pub fn container_layer(
        &self,
        state: &State,
        rec: &container::ContainerRecord,
        skip: &[String],
    ) -> Result<Made<'_>> {
        let mut adding = Adding::begin(&self.images, &self.layers)?;
        let parent = state.layers.last().map(|l| l.chain_id.clone());
        let layer = container::changes_layer(
            self.paths,
            self.userxattr,
            rec,
            &mut adding,
            parent.as_deref(),
            skip,
        )?;
        Ok(Made {
            adding: Some(adding),
            layer,
        })
    }

    pub fn step_run<'s>(
        &'s self,
        state: &State,
        spec: &run::RunSpec,
    ) -> Result<(run::StepContainer<'s>, i32)> {
        run::run(self.paths, &self.store, state, spec, self.out)
    }
}
