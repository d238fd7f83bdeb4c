//! `cove search`: docker's table of repositories (NAME DESCRIPTION STARS OFFICIAL), its
//! filters and --format; podman's --list-tags. The lookup is in registry::search.

use clap::Args;
use serde_json::{json, Value};

use super::format;
use super::grammar::GoBool;
use super::Context;
use crate::error::{Error, Result};
use crate::registry::search::{self, Hit, MAX_LIMIT};
use crate::registry::{Client, ClientOptions, Reference, RegistriesConf};

/// Docker's description width in the table without --no-trunc.
const DESCRIPTION_WIDTH: usize = 45;
const DEFAULT_LIMIT: usize = 25;

#[derive(Args, Debug)]
pub struct SearchArgs {
    /// Filter output: stars=N, is-official=BOOL, is-automated=BOOL
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format output with a Go template, "table TEMPLATE" or "json"
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Max number of search results (1 to 100; default 25, also for 0)
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// List the tags of the repository TERM names (podman)
    #[arg(long)]
    pub list_tags: bool,
    /// Require HTTPS and verify certificates when contacting registries
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = GoBool)]
    pub tls_verify: Option<bool>,
    /// Read credentials from FILE only (podman; also $REGISTRY_AUTH_FILE)
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<std::path::PathBuf>,
    /// Docker's columns (accepted for podman compatibility; they are the default)
    #[arg(long, hide = true)]
    pub compatible: bool,
    /// What to search for: TERM, or REGISTRY/TERM for a registry other than Docker Hub
    #[arg(value_name = "TERM")]
    pub term: String,
}

/// Filters docker's search takes.
#[derive(Debug, Default, PartialEq)]
struct Filters {
    stars: u64,
    official: Option<bool>,
    automated: Option<bool>,
}

impl Filters {
    fn parse(args: &[String]) -> std::result::Result<Filters, String> {
        let mut f = Filters::default();
        let boolean = |k: &str, v: &str| match v {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(format!("invalid filter '{k}={v}': expected true or false")),
        };
        for (k, v) in format::parse_filters(args)? {
            match k.as_str() {
                "stars" => {
                    f.stars = v
                        .parse()
                        .map_err(|_| format!("invalid filter 'stars={v}': not a number"))?
                }
                "is-official" => f.official = Some(boolean(&k, &v)?),
                "is-automated" => f.automated = Some(boolean(&k, &v)?),
                other => return Err(format!("invalid filter '{other}'")),
            }
        }
        Ok(f)
    }

    fn keep(&self, h: &Hit) -> bool {
        h.stars >= self.stars
            && self.official.is_none_or(|o| o == h.official)
            && self.automated.is_none_or(|a| a == h.automated)
    }
}

pub fn search(ctx: &Context, args: SearchArgs) -> Result<i32> {
    // docker's 0 is "the registry's default".
    let limit = args.limit.filter(|&l| l != 0).unwrap_or(DEFAULT_LIMIT);
    if limit > MAX_LIMIT {
        return Err(Error::msg(format!(
            "limit {limit} is outside the range of [1, {MAX_LIMIT}]"
        )));
    }
    let filters = Filters::parse(&args.filter).map_err(Error::msg)?;
    let fmt = format::parse_format(args.format.as_deref()).map_err(Error::msg)?;
    let mut paths = ctx.paths()?;
    if args.authfile.is_some() {
        paths.auth_file = args.authfile.clone();
    }
    let conf = RegistriesConf::load(&paths)?;
    let (host, term) = search::split_term(&args.term);
    let rows: Vec<Value> = if args.list_tags {
        tag_rows(&paths, &conf, &args, limit)?
    } else {
        // Filters apply to what the registry returns, as docker's do.
        search::search(&paths, &conf, &host, &term, limit, args.tls_verify)?
            .iter()
            .filter(|h| filters.keep(h))
            .map(|h| hit_row(h, args.no_trunc))
            .collect()
    };
    let default = if args.list_tags {
        "table {{.Name}}\t{{.Tag}}"
    } else {
        "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}"
    };
    let mut out = std::io::stdout().lock();
    format::write_rows(&fmt, &rows, &header, default, true, &mut out).map_err(Error::msg)?;
    Ok(0)
}

/// podman's `--list-tags`: the tags of one repository, named in full.
fn tag_rows(
    paths: &crate::paths::Paths,
    conf: &RegistriesConf,
    args: &SearchArgs,
    limit: usize,
) -> Result<Vec<Value>> {
    let reference = Reference::parse(&args.term, conf)?;
    let last = args.term.rsplit('/').next().unwrap_or_default();
    if last.contains(':') || args.term.contains('@') {
        return Err(Error::msg(format!(
            "{}: --list-tags takes a repository name without a tag or digest",
            args.term
        )));
    }
    let opts = ClientOptions {
        tls_verify: args.tls_verify,
        ..ClientOptions::default()
    };
    let client = Client::new(paths, conf, &reference, opts)?;
    let name = reference.name();
    Ok(client
        .tags()?
        .into_iter()
        .take(limit)
        .map(|t| json!({ "Name": name, "Tag": t }))
        .collect())
}

/// A row with docker's field names and podman's.
fn hit_row(h: &Hit, no_trunc: bool) -> Value {
    let one_line = h.description.replace(['\n', '\r'], " ");
    let description = if no_trunc {
        one_line
    } else {
        ellipsis(&one_line, DESCRIPTION_WIDTH)
    };
    let ok = |b: bool| if b { "[OK]" } else { "" };
    json!({
        "Index": h.index,
        "Name": h.name,
        "Description": description,
        "StarCount": h.stars,
        "Stars": h.stars,
        "IsOfficial": ok(h.official),
        "Official": ok(h.official),
        "IsAutomated": ok(h.automated),
        "Automated": ok(h.automated),
    })
}

/// At most `width` characters, the last one "…" when cut (docker's formatter.Ellipsis).
fn ellipsis(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}

fn header(field: &str) -> String {
    match field {
        "StarCount" | "Stars" => "STARS".into(),
        "IsOfficial" | "Official" => "OFFICIAL".into(),
        "IsAutomated" | "Automated" => "AUTOMATED".into(),
        other => other.to_uppercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(stars: u64, official: bool) -> Hit {
        Hit {
            index: "docker.io".into(),
            name: "x".into(),
            description: String::new(),
            stars,
            official,
            automated: false,
        }
    }

    #[test]
    fn filters_as_docker() {
        let f = Filters::parse(&["stars=10".into(), "is-official=true".into()]).unwrap();
        assert!(f.keep(&hit(10, true)));
        assert!(!f.keep(&hit(9, true)));
        assert!(!f.keep(&hit(100, false)));
        assert!(Filters::parse(&["stars=many".into()]).is_err());
        assert!(Filters::parse(&["is-official=maybe".into()]).is_err());
        assert_eq!(
            Filters::parse(&["color=red".into()]).unwrap_err(),
            "invalid filter 'color'"
        );
    }

    #[test]
    fn long_descriptions_are_cut() {
        let long = "a".repeat(60);
        let cut = ellipsis(&long, 45);
        assert_eq!(cut.chars().count(), 45);
        assert!(cut.ends_with('…'));
        assert_eq!(ellipsis("short", 45), "short");
    }
}
