//! `cove run` and `cove create`: docker's flags, turned into a plain `CreateRequest`.

use std::path::PathBuf;

use clap::{ArgAction, Args};

/// The flags `run` and `create` share (docker's names and short letters).
#[derive(Args, Debug, Clone)]
pub struct CreateFlags {
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Assign a name to the container
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Set environment variables (NAME=VALUE, or NAME to copy it from cove's environment)
    #[arg(short, long = "env", value_name = "NAME[=VALUE]")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short, long = "workdir", value_name = "DIR")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long, value_name = "USER")]
    pub user: Option<String>,
    /// Add additional groups to join
    #[arg(long = "group-add", value_name = "GROUP")]
    pub group_add: Vec<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long, value_name = "COMMAND")]
    pub entrypoint: Option<String>,
    /// Container host name
    #[arg(short = 'h', long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host", value_name = "HOST:IP")]
    pub add_host: Vec<String>,
    /// Bind mount a volume (HOST-DIR:CONTAINER-DIR[:ro|rw|z|Z])
    #[arg(short, long, value_name = "HOST:CONTAINER[:OPTS]")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount (type=bind,source=,target=[,readonly] or type=tmpfs,target=)
    #[arg(long, value_name = "MOUNT")]
    pub mount: Vec<String>,
    /// Mount a tmpfs directory (DIR[:OPTIONS])
    #[arg(long, value_name = "DIR[:OPTS]")]
    pub tmpfs: Vec<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Add Linux capabilities
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Security options (seccomp=FILE|unconfined, no-new-privileges)
    #[arg(long = "security-opt", value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// Ulimit options (NAME=SOFT[:HARD])
    #[arg(long, value_name = "ULIMIT")]
    pub ulimit: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// PID namespace to use (host)
    #[arg(long, value_name = "MODE")]
    pub pid: Option<String>,
    /// IPC mode to use (host, private)
    #[arg(long, value_name = "MODE")]
    pub ipc: Option<String>,
    /// UTS namespace to use (host)
    #[arg(long, value_name = "MODE")]
    pub uts: Option<String>,
    /// User namespace to use (keep-id)
    #[arg(long, value_name = "MODE")]
    pub userns: Option<String>,
    /// Add a host device to the container (HOST[:CONTAINER[:PERMS]])
    #[arg(long, value_name = "DEVICE")]
    pub device: Vec<String>,
    /// Set meta data on a container (KEY=VALUE)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Signal to stop the container
    #[arg(long = "stop-signal", value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long = "stop-timeout", value_name = "SECONDS")]
    pub stop_timeout: Option<i64>,
    /// Restart policy to apply when a container exits (no, always, unless-stopped, on-failure[:N])
    #[arg(long, value_name = "POLICY", default_value = "no")]
    pub restart: String,
    /// Log driver options (max-size=SIZE, max-file=N)
    #[arg(long = "log-opt", value_name = "OPT")]
    pub log_opt: Vec<String>,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Proxy received signals to the process
    #[arg(long = "sig-proxy", value_name = "BOOL", default_value_t = true, action = ArgAction::Set)]
    pub sig_proxy: bool,
    /// Pull image before running (always, missing, never)
    #[arg(long, value_name = "POLICY", default_value = "missing")]
    pub pull: String,
    /// Network mode: host (the default until rootless networks land) or none
    #[arg(long, alias = "net", value_name = "MODE", default_value = "host")]
    pub network: String,
    /// Set platform if the image is pulled (os/arch[/variant])
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Print usage
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
    /// The image to run
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// The command and its arguments
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Run the container in the background and print its ID
    #[arg(short, long)]
    pub detach: bool,
    #[command(flatten)]
    pub flags: CreateFlags,
}

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    #[command(flatten)]
    pub flags: CreateFlags,
}
