//! The status machine. Only `created` and `exited` are ever trusted from disk: running and
//! restarting are confirmed from the run state (see runstate.rs) each time.

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use crate::time::parse_rfc3339;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Restarting,
    Exited,
}

/// The persisted status part of a record (docker's `State`, minus what is derived).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct State {
    pub status: Status,
    pub pid: i32,
    pub exit_code: i32,
    /// RFC3339Nano; empty when never started.
    pub started_at: String,
    /// RFC3339Nano; empty when never finished.
    pub finished_at: String,
    pub error: String,
    /// Set by `stop` (so also by `restart` and `rm -f`): restart policies leave the container
    /// stopped. `kill` only sends its signal and does not set it; the next `start` clears it.
    pub stopped_by_user: bool,
    /// Derived from the run state: a running container whose processes `pause` stopped.
    pub paused: bool,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Restarting => "restarting",
            Status::Exited => "exited",
        }
    }

    /// A process exists (or is about to, between restarts).
    pub fn is_active(self) -> bool {
        matches!(self, Status::Running | Status::Restarting)
    }

    pub fn can_start(self) -> bool {
        matches!(self, Status::Created | Status::Exited)
    }

    pub fn can_stop(self) -> bool {
        self.is_active()
    }

    pub fn can_kill(self) -> bool {
        self.is_active()
    }

    pub fn can_attach(self) -> bool {
        matches!(self, Status::Running | Status::Restarting)
    }

    pub fn can_remove(self, force: bool) -> bool {
        !self.is_active() || force
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The guards with docker's refusal messages; `name` is without '/', `id` the full ID.
impl Status {
    pub fn check_kill(self, name: &str, id: &str) -> Result<()> {
        if self.can_kill() {
            return Ok(());
        }
        Err(Error::Other(format!(
            "cannot kill container: {name}: container {id} is not running"
        )))
    }

    pub fn check_exec(self, id: &str) -> Result<()> {
        match self {
            Status::Running => Ok(()),
            _ => Err(Error::Other(format!("container {id} is not running"))),
        }
    }

    pub fn check_attach(self) -> Result<()> {
        match self {
            s if s.can_attach() => Ok(()),
            _ => Err(Error::Other(
                "You cannot attach to a stopped container, start it first".into(),
            )),
        }
    }

    pub fn check_remove(self, name: &str, force: bool) -> Result<()> {
        match self {
            s if s.can_remove(force) => Ok(()),
            _ => Err(Error::Other(format!(
                "cannot remove container \"/{name}\": container is running: stop the container \
                 before removing or force remove"
            ))),
        }
    }
}

fn secs(rfc: &str) -> Option<i64> {
    parse_rfc3339(rfc).map(|(s, _)| s)
}

/// docker's `State.String()` as `ps` prints it: "Up 5 minutes", "Exited (0) 2 hours ago".
/// `now` is unix seconds; `human_duration` is go-units' HumanDuration (cmd::format has one).
pub fn status_text(state: &State, now: i64, human_duration: fn(i64) -> String) -> String {
    let since = |t: &str| human_duration(secs(t).map_or(0, |t| now - t));
    match state.status {
        Status::Running if state.paused => format!("Up {} (Paused)", since(&state.started_at)),
        Status::Running => format!("Up {}", since(&state.started_at)),
        Status::Restarting => {
            format!(
                "Restarting ({}) {} ago",
                state.exit_code,
                since(&state.finished_at)
            )
        }
        Status::Created => "Created".into(),
        Status::Exited if state.started_at.is_empty() => "Created".into(),
        Status::Exited => {
            let end = if state.finished_at.is_empty() {
                &state.started_at
            } else {
                &state.finished_at
            };
            format!("Exited ({}) {} ago", state.exit_code, since(end))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hd(secs: i64) -> String {
        match secs {
            s if s < 1 => "Less than a second".into(),
            s if s < 60 => format!("{s} seconds"),
            s if s < 3600 => format!("{} minutes", s / 60),
            s => format!("{} hours", (s + 1800) / 3600),
        }
    }

    const T0: &str = "2023-11-14T22:13:20Z"; // 1_700_000_000

    #[test]
    fn status_text_reads_like_docker() {
        let mut s = State {
            status: Status::Running,
            started_at: T0.into(),
            ..State::default()
        };
        assert_eq!(status_text(&s, 1_700_000_300, hd), "Up 5 minutes");
        assert_eq!(status_text(&s, 1_700_000_000, hd), "Up Less than a second");
        s.status = Status::Exited;
        s.finished_at = T0.into();
        assert_eq!(status_text(&s, 1_700_007_200, hd), "Exited (0) 2 hours ago");
        s.status = Status::Restarting;
        s.exit_code = 1;
        assert_eq!(
            status_text(&s, 1_700_000_003, hd),
            "Restarting (1) 3 seconds ago"
        );
        let created = State::default();
        assert_eq!(status_text(&created, 1_700_000_000, hd), "Created");
    }

    #[test]
    fn guards() {
        assert!(Status::Created.can_start() && Status::Exited.can_start());
        assert!(!Status::Running.can_start());
        assert!(Status::Running.can_kill() && !Status::Exited.can_kill());
        assert!(Status::Exited.can_remove(false) && !Status::Running.can_remove(false));
        assert!(Status::Running.can_remove(true));
        assert_eq!(
            Status::Running.check_remove("bob", false).unwrap_err().to_string(),
            "cannot remove container \"/bob\": container is running: stop the container before removing or force remove"
        );
        assert_eq!(
            Status::Exited.check_exec("abc").unwrap_err().to_string(),
            "container abc is not running"
        );
        assert!(Status::Exited.check_attach().is_err() && Status::Running.check_attach().is_ok());
    }

    #[test]
    fn state_json_uses_dockers_names() {
        let s = State {
            status: Status::Exited,
            stopped_by_user: true,
            ..State::default()
        };
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("\"Status\":\"exited\""), "{json}");
        assert!(json.contains("\"StoppedByUser\":true"), "{json}");
        // Records written when State had OOMKilled (never true) still load.
        let old: State =
            serde_json::from_str("{\"Status\":\"exited\",\"OOMKilled\":false}").unwrap();
        assert_eq!(old.status, Status::Exited);
        let back: State = serde_json::from_str("{\"Status\":\"running\"}").unwrap();
        assert_eq!(back.status, Status::Running);
    }
}
