//! Every flag of the image commands (pull, images, rmi, tag, history, inspect, image prune,
//! manifest), with docker's names and short letters; the commands turn them into requests.

use clap::{Args, Subcommand};

use super::grammar::GoBool;

#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// List images
    #[command(visible_alias = "list")]
    Ls(ListArgs),
    /// Remove one or more images
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(super::registry::PushArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Display detailed information on one or more images
    Inspect(InspectArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Remove unused images
    Prune(PruneArgs),
    /// Remove names from an image (podman)
    Untag(UntagArgs),
    /// Exit 0 when the image is in local storage, 1 when not (podman)
    Exists(ExistsArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(super::archive::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(super::archive::LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(super::archive::ImportArgs),
    /// Build an image from a Dockerfile
    Build(Box<super::build::BuildArgs>),
}

#[derive(Args, Debug)]
pub struct PullArgs {
    /// Download all tagged images in the repository
    #[arg(short = 'a', long)]
    pub all_tags: bool,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// Set platform if server is multi-platform capable (os/arch[/variant])
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Require HTTPS and verify certificates when contacting registries
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = GoBool)]
    pub tls_verify: Option<bool>,
    /// Image to pull: NAME[:TAG|@DIGEST]
    #[arg(value_name = "NAME[:TAG|@DIGEST]")]
    pub name: String,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force removal of the image
    #[arg(short, long)]
    pub force: bool,
    /// Do not delete untagged parents (accepted for compatibility)
    #[arg(long)]
    pub no_prune: bool,
    /// Remove every image (podman)
    #[arg(short, long)]
    pub all: bool,
    /// Ignore images that do not exist (podman)
    #[arg(short, long)]
    pub ignore: bool,
    /// Images to remove: name, name:tag, name@digest or ID (any unique prefix)
    #[arg(value_name = "IMAGE", required_unless_present = "all")]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct UntagArgs {
    /// The image: name[:tag], name@digest or ID
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// Tags to remove (every tag of the image when none is given)
    #[arg(value_name = "NAME[:TAG]")]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ExistsArgs {
    /// The image: name[:tag], name@digest or ID
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

#[derive(Args, Debug)]
pub struct TagArgs {
    /// Existing image: name[:tag], name@digest or ID
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    pub source: String,
    /// New name: name[:tag]
    #[arg(value_name = "TARGET_IMAGE[:TAG]")]
    pub target: String,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short, long)]
    pub all: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter output: reference=, dangling=, label=, before=, since=
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format output with a Go template, "table TEMPLATE" or "json"
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Do not print the header row (podman)
    #[arg(short = 'n', long)]
    pub noheading: bool,
    /// Sort by created, id, repository, size or tag (podman)
    #[arg(long, value_name = "KEY", value_parser = ["created", "id", "repository", "size", "tag"])]
    pub sort: Option<String>,
    /// Only images of this repository (and tag)
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub repository: Option<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output with a Go template
    #[arg(short, long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Only inspect objects of this type
    #[arg(long = "type", value_name = "TYPE", value_parser = ["image", "container"])]
    pub kind: Option<String>,
    /// Containers or images to inspect
    #[arg(value_name = "NAME", required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = GoBool)]
    pub human: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Format output with a Go template, "table TEMPLATE" or "json"
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Image
    #[arg(value_name = "IMAGE")]
    pub image: String,
}
