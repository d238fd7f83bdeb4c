//! Pull and push progress as docker shows it: per-layer bars redrawn in place on a terminal, plain
//! status lines otherwise (CI logs stay readable), nothing but the name with `-q`.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::fsutil::human_size;
use crate::image::lookup::familiar;
use crate::image::pull::{LayerEvent, Progress, PullOutcome};
use crate::image::push::{BlobEvent, Progress as PushProgress, PushOutcome};
use crate::registry::Reference;

pub struct PullDisplay {
    mode: Mode,
    /// `run` pulls with its progress on stderr, keeping stdout for the container.
    stderr: bool,
    state: Mutex<State>,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Quiet,
    Lines,
    Terminal,
}

#[derive(Default)]
struct State {
    /// (short digest, status text) in manifest order.
    layers: Vec<(String, String)>,
    /// Lines currently drawn below the header (terminal mode).
    drawn: usize,
    last_draw: Option<Instant>,
}

impl PullDisplay {
    pub fn new(quiet: bool, input: &str) -> PullDisplay {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stdout().is_terminal() {
            Mode::Terminal
        } else {
            Mode::Lines
        };
        PullDisplay::with(mode, false, input)
    }

    /// The display `build` uses for its base images: plain lines, no default-tag note.
    pub fn for_build(quiet: bool) -> PullDisplay {
        PullDisplay {
            mode: if quiet { Mode::Quiet } else { Mode::Lines },
            stderr: false,
            state: Mutex::new(State::default()),
        }
    }

    /// The display `run` uses when it pulls: plain lines on stderr.
    pub fn to_stderr(input: &str) -> PullDisplay {
        PullDisplay::with(Mode::Lines, true, input)
    }

    fn with(mode: Mode, stderr: bool, input: &str) -> PullDisplay {
        let d = PullDisplay {
            mode,
            stderr,
            state: Mutex::new(State::default()),
        };
        let last = input.rsplit('/').next().unwrap_or(input);
        if mode != Mode::Quiet && !last.contains(':') && !last.contains('@') {
            d.line("Using default tag: latest");
        }
        d
    }

    fn line(&self, text: &str) {
        if self.stderr {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }

    pub fn finish(&self, outcome: &PullOutcome) {
        let r = &outcome.reference;
        if self.mode != Mode::Quiet {
            let shown = familiar(&r.to_string());
            self.line(&format!("Digest: {}", outcome.digest));
            if outcome.up_to_date {
                self.line(&format!("Status: Image is up to date for {shown}"));
            } else {
                self.line(&format!("Status: Downloaded newer image for {shown}"));
            }
        }
        self.line(&r.to_string());
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Progress for PullDisplay {
    fn start(&self, reference: &Reference, layers: &[String]) {
        if self.mode == Mode::Quiet {
            return;
        }
        let path = familiar(&reference.name());
        let path = path
            .split_once('/')
            .filter(|(host, _)| host.contains(['.', ':']) || *host == "localhost")
            .map(|(_, p)| p.to_string())
            .unwrap_or(path);
        let what = reference
            .tag
            .clone()
            .or_else(|| reference.digest.clone())
            .unwrap_or_else(|| "latest".into());
        self.line(&format!("{what}: Pulling from {path}"));
        let mut st = self.state();
        st.layers = layers.iter().map(|l| (l.clone(), String::new())).collect();
    }

    fn layer(&self, layer: &str, event: LayerEvent) {
        let status = match event {
            LayerEvent::Waiting => "Pulling fs layer".to_string(),
            LayerEvent::AlreadyExists => "Already exists".to_string(),
            LayerEvent::Downloading { done, total } if done >= total => "Download complete".into(),
            LayerEvent::Downloading { done, total } => {
                if self.mode != Mode::Terminal {
                    return;
                }
                bar(done, total)
            }
            LayerEvent::Extracting => "Extracting".to_string(),
            LayerEvent::Complete => "Pull complete".to_string(),
        };
        self.show(layer, status);
    }
}

impl PullDisplay {
    /// Set a layer's status: a new line when its kind changes (plain mode), or a redraw at
    /// most every 100 ms (terminal).
    fn show(&self, layer: &str, status: String) {
        let mut st = self.state();
        let changed = match st.layers.iter_mut().find(|(id, _)| id == layer) {
            Some((_, s)) if *s == status => false,
            Some((_, s)) => {
                let kind_changed = s.split(' ').next() != status.split(' ').next();
                *s = status.clone();
                kind_changed
            }
            None => {
                st.layers.push((layer.to_string(), status.clone()));
                true
            }
        };
        match self.mode {
            Mode::Quiet => {}
            Mode::Lines => {
                if changed {
                    self.line(&format!("{layer}: {status}"));
                }
            }
            Mode::Terminal => {
                let due = st
                    .last_draw
                    .is_none_or(|t| t.elapsed() >= Duration::from_millis(100));
                if changed || due {
                    redraw(&mut st);
                }
            }
        }
    }
}

/// Push progress as docker shows it, on the same board as pull's.
pub struct PushDisplay(PullDisplay);

impl PushDisplay {
    pub fn new(quiet: bool, input: &str) -> PushDisplay {
        PushDisplay(PullDisplay::new(quiet, input))
    }

    pub fn finish(&self, outcome: &PushOutcome) {
        let r = &outcome.reference;
        if self.0.mode == Mode::Quiet {
            self.0.line(&r.to_string());
            return;
        }
        let what = r.tag.clone().unwrap_or_else(|| "latest".into());
        let what = if r.tag.is_none() && r.digest.is_some() {
            "digest".to_string()
        } else {
            what
        };
        self.0.line(&format!(
            "{what}: digest: {} size: {}",
            outcome.digest, outcome.size
        ));
    }
}

impl PushProgress for PushDisplay {
    fn start(&self, destination: &Reference) {
        if self.0.mode != Mode::Quiet {
            self.0.line(&format!(
                "The push refers to repository [{}]",
                familiar(&destination.name())
            ));
        }
    }

    fn layer(&self, layer: &str, event: BlobEvent) {
        let status = match event {
            BlobEvent::Preparing => "Preparing".to_string(),
            BlobEvent::Waiting => "Waiting".to_string(),
            BlobEvent::Pushing { done, total } => {
                if self.0.mode != Mode::Terminal {
                    return;
                }
                bar_of("Pushing", done, total)
            }
            BlobEvent::Pushed => "Pushed".to_string(),
            BlobEvent::Exists => "Layer already exists".to_string(),
            BlobEvent::Mounted { from } => format!("Mounted from {}", familiar(&from)),
        };
        self.0.show(layer, status);
    }
}

/// Redraw every layer line in place: cursor up over what was drawn, then each line cleared.
fn redraw(st: &mut State) {
    let mut out = std::io::stdout().lock();
    let mut text = String::new();
    if st.drawn > 0 {
        text.push_str(&format!("\x1b[{}A", st.drawn));
    }
    for (id, status) in &st.layers {
        text.push_str(&format!("\x1b[2K{id}: {status}\n"));
    }
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    st.drawn = st.layers.len();
    st.last_draw = Some(Instant::now());
}

/// `Downloading [=========>        ]  1.2MB/4.5MB`, 50 columns like docker's.
fn bar(done: u64, total: u64) -> String {
    bar_of("Downloading", done, total)
}

/// `VERB [=========>        ]  1.2MB/4.5MB`.
fn bar_of(verb: &str, done: u64, total: u64) -> String {
    const WIDTH: usize = 50;
    let share = done.saturating_mul(WIDTH as u64) / total.max(1);
    let filled = usize::try_from(share).unwrap_or(WIDTH).min(WIDTH);
    let mut b = "=".repeat(filled);
    if filled < WIDTH {
        b.push('>');
        b.push_str(&" ".repeat(WIDTH - filled - 1));
    }
    format!("{verb} [{b}]  {}/{}", human_size(done), human_size(total))
}

#[cfg(test)]
mod tests {
    use super::bar;

    #[test]
    fn bars_are_fifty_wide() {
        let b = bar(50, 100);
        assert!(b.starts_with("Downloading [=========================>"));
        assert!(b.matches(['=', '>', ' ']).count() >= 50);
        assert!(b.ends_with("50B/100B"));
    }
}
