//! Every flag of the container commands (run, create, start, stop, ps, logs, exec, ...), with
//! docker's names and short letters; the commands turn them into requests.

use std::path::PathBuf;

use clap::{ArgAction, Args, Subcommand};

use super::grammar::{GoBool, GoInt, GoUint, StdStream};

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short, long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short, long)]
    pub interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Start every container that is not running (podman)
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub targets: Targets,
}

/// Which containers a command acts on: names or IDs, or the IDs in podman's `--cidfile`s.
#[derive(Args, Debug)]
pub struct Targets {
    /// Read the container ID from FILE (podman)
    #[arg(long, value_name = "FILE")]
    pub cidfile: Vec<PathBuf>,
    #[arg(value_name = "CONTAINER", required_unless_present_any = ["all", "cidfile"])]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "time", alias = "timeout", value_name = "SECONDS", value_parser = GoInt, allow_negative_numbers = true)]
    pub time: Option<i64>,
    /// Signal to send to the container
    #[arg(short, long, value_name = "SIGNAL")]
    pub signal: Option<String>,
    /// Act on every running container (podman)
    #[arg(short, long)]
    pub all: bool,
    /// Ignore containers that do not exist (podman)
    #[arg(short, long)]
    pub ignore: bool,
    #[command(flatten)]
    pub targets: Targets,
}

/// `pause` and `unpause`.
#[derive(Args, Debug)]
pub struct PauseArgs {
    /// Pause (or unpause) every running container (podman)
    #[arg(short, long)]
    pub all: bool,
    #[command(flatten)]
    pub targets: Targets,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short, long, value_name = "SIGNAL", default_value = "KILL")]
    pub signal: String,
    /// Signal every running container (podman)
    #[arg(short, long)]
    pub all: bool,
    /// Ignore containers that do not exist (podman)
    #[arg(short, long)]
    pub ignore: bool,
    #[command(flatten)]
    pub targets: Targets,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    pub volumes: bool,
    /// Remove every container (podman)
    #[arg(short, long)]
    pub all: bool,
    /// Ignore containers that do not exist (podman)
    #[arg(short, long)]
    pub ignore: bool,
    /// With --force, seconds to wait for a running container to stop before killing it (podman)
    #[arg(short = 't', long = "time", value_name = "SECONDS", value_parser = GoInt, allow_negative_numbers = true)]
    pub time: Option<i64>,
    #[command(flatten)]
    pub targets: Targets,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Show the latest created container (includes all states)
    #[arg(short, long)]
    pub latest: bool,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last", value_name = "N", value_parser = GoInt, allow_negative_numbers = true)]
    pub last: Option<i64>,
    /// Display total file sizes
    #[arg(short, long)]
    pub size: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter output: status=, name=, id=, label=, ancestor=, exited=
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format output with a Go template, "table TEMPLATE" or "json"
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Do not print the header row (podman)
    #[arg(long)]
    pub noheading: bool,
    /// Sort by created, id, image, names, runningfor, size or status (podman)
    #[arg(long, value_name = "KEY", value_parser = ["created", "id", "image", "names", "runningfor", "size", "status"])]
    pub sort: Option<String>,
    /// Also list containers of other engines (podman; cove has none to list)
    #[arg(long)]
    pub external: bool,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Number of lines to show from the end of the logs ("all" for every line)
    #[arg(short = 'n', long, value_name = "N", default_value = "all")]
    pub tail: String,
    /// Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Show logs before a timestamp or relative time
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct ExecArgs {
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Detached mode: run command in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long, value_name = "USER")]
    pub user: Option<String>,
    /// Set environment variables
    #[arg(short, long = "env", value_name = "NAME[=VALUE]")]
    pub env: Vec<String>,
    /// Working directory inside the container
    #[arg(short, long = "workdir", value_name = "DIR")]
    pub workdir: Option<String>,
    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,
    /// Override the key sequence for detaching
    #[arg(long = "detach-keys", value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Print usage
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(
        value_name = "COMMAND",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long = "sig-proxy", value_name = "BOOL", default_value_t = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = GoBool)]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "KEYS")]
    pub detach_keys: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Args, Debug)]
pub struct NamesArgs {
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct TopArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// ps options
    #[arg(
        value_name = "PS_OPTIONS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub ps_args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PortArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// PRIVATE_PORT[/PROTO]
    #[arg(value_name = "PORT")]
    pub port: Option<String>,
}

#[derive(Args, Debug)]
pub struct CpArgs {
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// Archive mode (copy all uid/gid information)
    #[arg(short, long)]
    pub archive: bool,
    /// CONTAINER:SRC_PATH, SRC_PATH or - (a tar archive on stdin)
    #[arg(value_name = "SRC")]
    pub src: String,
    /// CONTAINER:DEST_PATH, DEST_PATH or - (a tar archive on stdout)
    #[arg(value_name = "DEST")]
    pub dest: String,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Args, Debug)]
pub struct RenameArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "NEW_NAME")]
    pub new_name: String,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. until=24h, label=k=v)
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
}

#[derive(Args, Debug)]
pub struct WaitArgs {
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

/// `cove container ...`: the same commands under docker's management group.
#[derive(Subcommand, Debug)]
pub enum ContainerCommand {
    /// Create and run a new container from an image
    Run(RunArgs),
    /// Create a new container
    Create(CreateArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Restart one or more containers
    Restart(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Pause all processes within one or more containers
    Pause(PauseArgs),
    /// Unpause all processes within one or more containers
    Unpause(PauseArgs),
    /// Remove one or more containers
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// List containers
    #[command(visible_alias = "list", visible_alias = "ps")]
    Ls(PsArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// Display detailed information on one or more containers
    Inspect(super::image_flags::InspectArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(WaitArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(NamesArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Remove all stopped containers
    Prune(PruneArgs),
    /// Exit 0 when the container exists, 1 when not (podman)
    Exists(ExistsArgs),
    /// Create a new image from a container's changes
    Commit(super::commit::CommitArgs),
}

#[derive(Args, Debug)]
pub struct ExistsArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

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
    #[arg(long = "stop-timeout", value_name = "SECONDS", value_parser = GoInt, allow_negative_numbers = true)]
    pub stop_timeout: Option<i64>,
    /// Restart policy to apply when a container exits (no, always, unless-stopped, on-failure[:N])
    #[arg(long, value_name = "POLICY", default_value = "no")]
    pub restart: String,
    /// Attach to STDIN, STDOUT or STDERR (repeatable; a foreground run shows only these)
    #[arg(short, long, value_name = "STREAM", value_parser = StdStream)]
    pub attach: Vec<String>,
    /// Logging driver: json-file (default), k8s-file, none, passthrough or passthrough-tty
    #[arg(long = "log-driver", value_name = "DRIVER")]
    pub log_driver: Option<String>,
    /// Log driver options (max-size=SIZE, max-file=N, path=FILE)
    #[arg(long = "log-opt", value_name = "OPT")]
    pub log_opt: Vec<String>,
    /// Kill the container after this many seconds; 0 for no limit (podman)
    #[arg(long, value_name = "SECONDS", value_parser = GoUint, default_value_t = 0, allow_negative_numbers = true)]
    pub timeout: u64,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Proxy received signals to the process
    #[arg(long = "sig-proxy", value_name = "BOOL", default_value_t = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = GoBool)]
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
    /// Write the container ID to the file
    #[arg(long, value_name = "FILE")]
    pub cidfile: Option<PathBuf>,
    /// Remove a container of the same name first (podman)
    #[arg(long)]
    pub replace: bool,
    /// /etc/passwd entry for a user the image lacks: $USERNAME, $UID, $GID, $NAME, $HOME
    /// are replaced (podman)
    #[arg(long = "passwd-entry", value_name = "ENTRY")]
    pub passwd_entry: Option<String>,
    /// Timezone of the container: a zone name such as Asia/Tokyo, or local (podman)
    #[arg(long, value_name = "TIMEZONE")]
    pub tz: Option<String>,
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
    /// Pass cove's descriptors 3 to 3+N-1 into the container, at the same numbers (podman)
    #[arg(long = "preserve-fds", value_name = "N", value_parser = GoUint, default_value_t = 0, allow_negative_numbers = true)]
    pub preserve_fds: u64,
    #[command(flatten)]
    pub flags: CreateFlags,
}

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    #[command(flatten)]
    pub flags: CreateFlags,
}
