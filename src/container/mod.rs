//! Containers as nouns: the record (config + persisted state), the status machine and its
//! guards, the on-disk store with name/ID-prefix lookup and locks, run-state probing, logs.

mod create;
mod error;
mod layout;
pub mod logs;
pub mod mounts;
mod names;
mod parse;
mod record;
mod runstate;
pub mod signal;
mod spec;
mod state;
mod store;
#[cfg(test)]
mod store_tests;
pub mod time;
mod userdata;

pub use create::{check, create, CreateRequest};
pub use error::{Error, Result};
pub use layout::{attach_socket, log_path, merged_dir, upper_dir, userdata_dir, work_dir};
pub use names::validate_name;
pub use parse::{parse_extra_host, parse_log_opt};
pub use record::{ContainerConfig, ContainerRecord, HostConfig, MountArg, RestartPolicy, Ulimit};
pub use runstate::{
    pid_start_time, read_exit, read_run_state, write_exit, write_run_state, ExitInfo, RunState,
};
pub use signal::parse_signal;
pub use spec::to_spec;
pub use state::{status_text, State, Status};
pub use store::ContainerStore;
pub use userdata::create_userdata;
