//! `cove manifest`'s flags (docker's and podman's spellings); the commands are in manifest.rs.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};

use super::grammar::GoBool;
use crate::error::{Error, Result};
use crate::image::list::add::Overrides;

#[derive(Subcommand, Debug)]
pub enum ManifestCommand {
    /// Create a local manifest list for annotating and pushing to a registry
    Create(CreateArgs),
    /// Add an image (local or in a registry) to a manifest list (podman)
    Add(AddArgs),
    /// Add platform information and annotations to an entry of a manifest list
    Annotate(AnnotateArgs),
    /// Display a local manifest list, or an image manifest or list from a registry
    Inspect(InspectArgs),
    /// Push a manifest list, and the images it names, to a registry
    Push(PushArgs),
    /// Delete one or more local manifest lists
    Rm(RmArgs),
    /// Remove an entry from a manifest list (podman)
    Remove(RemoveArgs),
    /// Exit 0 when a local manifest list exists, 1 when not (podman)
    Exists(ExistsArgs),
}

#[derive(Args, Debug, Default)]
pub struct TlsArgs {
    /// Allow communication with an insecure registry
    #[arg(long)]
    pub insecure: bool,
    /// Require HTTPS and verify certificates when contacting registries
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = GoBool)]
    pub tls_verify: Option<bool>,
    /// Read credentials from FILE only (podman; also $REGISTRY_AUTH_FILE)
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<std::path::PathBuf>,
}

impl TlsArgs {
    pub fn tls(&self) -> Option<bool> {
        if self.insecure {
            Some(false)
        } else {
            self.tls_verify
        }
    }
}

#[derive(Args, Debug)]
pub struct PlatformArgs {
    /// Set the architecture
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// Set the operating system
    #[arg(long, value_name = "OS")]
    pub os: Option<String>,
    /// Set the architecture variant
    #[arg(long, value_name = "VARIANT")]
    pub variant: Option<String>,
    /// Set the operating system version
    #[arg(long, value_name = "VERSION")]
    pub os_version: Option<String>,
    /// Set the operating system features
    #[arg(
        long,
        alias = "features",
        value_name = "FEATURE",
        value_delimiter = ','
    )]
    pub os_features: Vec<String>,
    /// Set an annotation on the entry: KEY=VALUE
    #[arg(long, value_name = "KEY=VALUE")]
    pub annotation: Vec<String>,
}

impl PlatformArgs {
    pub fn overrides(&self) -> Result<Overrides> {
        Ok(Overrides {
            arch: self.arch.clone(),
            os: self.os.clone(),
            variant: self.variant.clone(),
            os_version: self.os_version.clone(),
            os_features: self.os_features.clone(),
            annotations: annotations(&self.annotation)?,
        })
    }
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Amend an existing manifest list
    #[arg(short, long)]
    pub amend: bool,
    /// Add every platform of a list named below, not just this host's (podman)
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// The new list's name, then the images to put in it
    #[arg(value_name = "MANIFEST_LIST", required = true)]
    pub list: String,
    #[arg(value_name = "MANIFEST")]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct AddArgs {
    /// Add every platform of a list, not just this host's
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub platform: PlatformArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[arg(value_name = "LIST")]
    pub list: String,
    /// A local image, or an image in a registry (docker://REF for a registry only)
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

#[derive(Args, Debug)]
pub struct AnnotateArgs {
    #[command(flatten)]
    pub platform: PlatformArgs,
    /// Annotate the list itself rather than an entry (podman)
    #[arg(long)]
    pub index: bool,
    #[arg(value_name = "MANIFEST_LIST")]
    pub list: String,
    /// The entry: the image reference it was added as, or its manifest digest
    #[arg(value_name = "MANIFEST")]
    pub entry: Option<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Output additional info (accepted; the document is shown in full)
    #[arg(short, long)]
    pub verbose: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// A local manifest list or an image reference; with two, the entry of the list
    #[arg(value_name = "MANIFEST_LIST] [MANIFEST", required = true, num_args = 1..=2)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PushArgs {
    /// Push the images the list names too (always done; accepted for podman)
    #[arg(long, hide = true, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = GoBool)]
    pub all: Option<bool>,
    /// Manifest format: docker (manifest list, the default) or oci (index)
    #[arg(short = 'f', long, value_name = "FORMAT", value_parser = ["docker", "oci", "v2s2"])]
    pub format: Option<String>,
    /// Remove the local list after a successful push
    #[arg(short = 'p', long = "purge", alias = "rm")]
    pub purge: bool,
    /// Write the list's digest to FILE (podman)
    #[arg(long, value_name = "FILE")]
    pub digestfile: Option<std::path::PathBuf>,
    /// Print only the list's digest
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[arg(value_name = "MANIFEST_LIST")]
    pub list: String,
    /// Where to push, when not to the list's own name (podman)
    #[arg(value_name = "DESTINATION")]
    pub destination: Option<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    #[arg(value_name = "MANIFEST_LIST", required = true)]
    pub lists: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RemoveArgs {
    #[arg(value_name = "LIST")]
    pub list: String,
    /// The entry's manifest digest
    #[arg(value_name = "DIGEST")]
    pub digest: String,
}

#[derive(Args, Debug)]
pub struct ExistsArgs {
    #[arg(value_name = "LIST")]
    pub list: String,
}

fn annotations(args: &[String]) -> Result<BTreeMap<String, String>> {
    args.iter()
        .map(|a| match a.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(Error::msg(format!(
                "invalid annotation {a:?}: expected KEY=VALUE"
            ))),
        })
        .collect()
}
