//! `commit` (and `container commit`): docker's flags, podman's accepted, turned into a
//! `CommitRequest`.

use clap::Args;

use super::grammar::GoBool;
use super::{join_userns, Context};
use crate::container::{self, CommitRequest, ContainerStore};
use crate::error::Result;
use crate::image::local::tag_name;
use crate::registry::RegistriesConf;

#[derive(Args, Debug)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short, long, value_name = "AUTHOR")]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long, value_name = "INSTRUCTION")]
    pub change: Vec<String>,
    /// Commit message
    #[arg(short, long, value_name = "MESSAGE")]
    pub message: Option<String>,
    /// Pause container during commit
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = GoBool)]
    pub pause: bool,
    /// Squash the image's layers and the container's changes into one layer (podman)
    #[arg(short, long)]
    pub squash: bool,
    /// Format of the image manifest and metadata: oci or docker (podman; cove writes OCI)
    #[arg(short, long, value_name = "FORMAT", value_parser = ["oci", "docker"])]
    pub format: Option<String>,
    /// Print only the image ID (podman)
    #[arg(short, long)]
    pub quiet: bool,
    /// Include the container's volumes in the image (podman; accepted, volumes are not committed)
    #[arg(long)]
    pub include_volumes: bool,
    /// The container to commit
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Name of the new image
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub name: Option<String>,
}

pub fn commit(ctx: &Context, args: CommitArgs) -> Result<i32> {
    let paths = ctx.paths()?;
    let conf = RegistriesConf::load(&paths)?;
    // A bad name fails before any work.
    let tag = args
        .name
        .as_deref()
        .map(|n| tag_name(n, &conf))
        .transpose()?;
    let userxattr = join_userns(&paths)?;
    let store = ContainerStore::open(&paths)?;
    let rec = store.find(&args.container)?;
    let req = CommitRequest {
        tag,
        message: args.message,
        author: args.author,
        changes: args.change,
        pause: args.pause,
        squash: args.squash,
    };
    let id = container::commit(&store, &paths, userxattr, &rec, &req)?;
    println!("{id}");
    Ok(0)
}
