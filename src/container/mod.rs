//! Containers as nouns: the record (config + persisted state), the status machine and its
//! guards, the on-disk store with name/ID-prefix lookup and locks, run-state probing, logs, and
//! the operations any front end calls (create, stop, kill, wait, remove, prune, exec, top, diff,
//! cp, export).

mod commit;
mod copy;
mod create;
mod diff;
mod env;
mod error;
mod exec;
mod layout;
pub mod logs;
pub mod mounts;
mod names;
mod parse;
mod passwd;
mod pause;
mod record;
mod remove;
pub mod repair;
mod runstate;
pub mod signal;
mod spec;
mod state;
mod stdio;
mod stop;
mod store;
mod sys;
mod timezone;
mod top;
mod userdata;

pub use commit::{base_layers, changes_layer, commit, CommitRequest};
pub use copy::{copy_in, copy_in_tar, copy_out, copy_out_tar, export, open_root, CopyRequest};
pub use create::{check, create, CreateRequest};
pub use diff::diff;
pub use error::{Error, Result};
pub use exec::{prepare_exec, ExecRequest};
pub use layout::{
    attach_socket, data_dir, lock_path, merged_dir, monitor_lock_path, overlay_dir, run_dir,
    state_path, upper_dir, userdata_dir, work_dir,
};
pub use names::validate_name;
pub use parse::{parse_extra_host, parse_log_opt};
pub use pause::{pause, unpause};
pub use record::{ContainerConfig, ContainerRecord, HostConfig, MountArg, RestartPolicy, Ulimit};
pub use remove::{prune, remove, RemoveRequest};
pub use runstate::{
    boot_id, from_previous_boot, pid_start_time, read_any_boot, read_exit, read_run_state,
    write_exit, write_run_state, ExitInfo, RunState,
};
pub use signal::{parse_signal, Sig};
pub use spec::to_spec;
pub use state::{status_text, State, Status};
pub use stdio::{log_file, Attach, Launch};
pub use stop::{kill, stop, wait, StopRequest};
pub use store::{ContainerLock, ContainerStore};
pub use top::top;
pub use userdata::create_userdata;
