//! `cove images` / `cove image ls`: the table, filters and --format.

use serde_json::{json, Value};

use super::format;
use super::image_flags::*;
use super::Context;
use crate::error::{Error, Result};
use crate::fsutil::{human_size, short_id};
use crate::image::lookup::{self, familiar, split_tag};
use crate::image::{ImageRecord, ImageStore};
use crate::registry::RegistriesConf;
use crate::time;

/// One line of the listing, before formatting.
struct Row<'a> {
    image: &'a ImageRecord,
    repository: String,
    tag: String,
    digest: String,
}

pub fn list(ctx: &Context, args: ListArgs) -> Result<i32> {
    let paths = ctx.paths()?;
    let store = ImageStore::open(&paths.root);
    let mut images = store.load()?;
    images.sort_by(|a, b| {
        created(b)
            .cmp(&created(a))
            .then(b.stored_at.cmp(&a.stored_at))
    });
    let filters = Filters::parse(&args.filter, &images, &paths)?;
    let fmt = format::parse_format(args.format.as_deref()).map_err(Error::msg)?;

    let mut rows = Vec::new();
    for img in &images {
        // The build cache, like docker's intermediate images, only with -a.
        if (img.is_build_cache() && !args.all) || !filters.keep_image(img, &store)? {
            continue;
        }
        for row in rows_of(img) {
            if filters.keep_row(&row) && matches_repository(&row, args.repository.as_deref()) {
                rows.push(row);
            }
        }
    }
    match args.sort.as_deref() {
        Some("id") => rows.sort_by(|a, b| a.image.id.cmp(&b.image.id)),
        Some("repository") => rows.sort_by(|a, b| a.repository.cmp(&b.repository)),
        Some("tag") => rows.sort_by(|a, b| a.tag.cmp(&b.tag)),
        Some("size") => rows.sort_by_key(|r| r.image.size),
        // Newest first, as listed without --sort.
        _ => {}
    }
    if args.quiet {
        let mut seen = std::collections::HashSet::new();
        for r in &rows {
            let id = show_id(&r.image.id, args.no_trunc);
            if seen.insert(id.clone()) {
                println!("{id}");
            }
        }
        return Ok(0);
    }
    let now = time::now().0;
    let values: Vec<Value> = rows
        .iter()
        .map(|r| row_value(r, args.no_trunc, now))
        .collect();
    let default = if args.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    let mut out = std::io::stdout().lock();
    format::write_rows(&fmt, &values, &header, default, !args.noheading, &mut out)
        .map_err(Error::msg)?;
    Ok(0)
}

fn header(field: &str) -> String {
    match field {
        "ID" => "IMAGE ID".into(),
        "CreatedSince" => "CREATED".into(),
        "CreatedAt" => "CREATED AT".into(),
        other => other.to_ascii_uppercase(),
    }
}

fn rows_of(img: &ImageRecord) -> Vec<Row<'_>> {
    let digest_for = |repo: &str| {
        img.repo_digests
            .iter()
            .find(|d| d.split_once('@').map(|(r, _)| r) == Some(repo))
            .and_then(|d| d.split_once('@').map(|(_, dg)| dg.to_string()))
            .unwrap_or_else(|| "<none>".into())
    };
    if img.repo_tags.is_empty() {
        let (repo, digest) = match img.repo_digests.first().and_then(|d| d.split_once('@')) {
            Some((r, d)) => (familiar(r), d.to_string()),
            None => ("<none>".into(), "<none>".into()),
        };
        return vec![Row {
            image: img,
            repository: repo,
            tag: "<none>".into(),
            digest,
        }];
    }
    img.repo_tags
        .iter()
        .map(|t| {
            let (repo, tag) = split_tag(t);
            Row {
                image: img,
                repository: familiar(repo),
                tag: tag.to_string(),
                digest: digest_for(repo),
            }
        })
        .collect()
}

fn row_value(r: &Row, no_trunc: bool, now: i64) -> Value {
    let created = created(r.image);
    json!({
        "Containers": "N/A",
        "CreatedAt": format::docker_created_at(created),
        "CreatedSince": format::time_ago(created, now),
        "Digest": r.digest,
        "ID": show_id(&r.image.id, no_trunc),
        "Repository": r.repository,
        "SharedSize": "N/A",
        "Size": human_size(r.image.size),
        "Tag": r.tag,
        "UniqueSize": "N/A",
        "VirtualSize": human_size(r.image.size),
    })
}

pub fn show_id(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        short_id(id).to_string()
    }
}

/// The image's creation time in unix seconds (its config's, else when it was stored).
pub fn created(img: &ImageRecord) -> i64 {
    img.created
        .as_deref()
        .and_then(format::parse_rfc3339)
        .map(|(s, _)| s)
        .unwrap_or(img.stored_at)
}

fn matches_repository(row: &Row, wanted: Option<&str>) -> bool {
    let Some(wanted) = wanted else { return true };
    let (repo, tag) = split_tag(wanted);
    (row.repository == repo || familiar(&row.repository) == familiar(repo))
        && (tag.is_empty() || row.tag == tag)
}

/// Parsed `--filter` values.
#[derive(Default)]
struct Filters {
    references: Vec<String>,
    dangling: Option<bool>,
    labels: Vec<(String, Option<String>)>,
    before: Option<i64>,
    since: Option<i64>,
}

impl Filters {
    fn parse(
        args: &[String],
        images: &[ImageRecord],
        paths: &crate::paths::Paths,
    ) -> Result<Filters> {
        let mut f = Filters::default();
        let pairs = format::parse_filters(args).map_err(Error::msg)?;
        let mut conf = None;
        for (key, value) in pairs {
            match key.as_str() {
                "reference" => f.references.push(value),
                "dangling" => match value.as_str() {
                    "true" | "1" => f.dangling = Some(true),
                    "false" | "0" => f.dangling = Some(false),
                    _ => {
                        return Err(Error::msg(format!(
                            "invalid filter 'dangling={value}': use true or false"
                        )))
                    }
                },
                "label" => f.labels.push(match value.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (value, None),
                }),
                "before" | "since" => {
                    let conf = match &conf {
                        Some(c) => c,
                        None => conf.insert(RegistriesConf::load(paths)?),
                    };
                    let found = lookup::find(images, &value, conf)?;
                    let t = created(&images[found.index]);
                    if key == "before" {
                        f.before = Some(t);
                    } else {
                        f.since = Some(t);
                    }
                }
                other => return Err(Error::msg(format!("invalid filter '{other}'"))),
            }
        }
        Ok(f)
    }

    fn keep_image(&self, img: &ImageRecord, store: &ImageStore) -> Result<bool> {
        let t = created(img);
        if self.dangling.is_some_and(|d| d != img.repo_tags.is_empty())
            || self.before.is_some_and(|b| t >= b)
            || self.since.is_some_and(|s| t <= s)
        {
            return Ok(false);
        }
        if !self.labels.is_empty() {
            let labels = store.config(img)?.labels();
            let all = self.labels.iter().all(|(k, v)| match v {
                Some(v) => labels.get(k) == Some(v),
                None => labels.contains_key(k),
            });
            if !all {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn keep_row(&self, row: &Row) -> bool {
        self.references.is_empty()
            || self.references.iter().any(|pat| {
                // Like docker, the pattern is matched against the short name with and without
                // the tag; like podman, also against the path without the registry.
                let path = row
                    .repository
                    .split_once('/')
                    .filter(|(host, _)| host.contains(['.', ':']) || *host == "localhost")
                    .map(|(_, p)| p);
                [Some(row.repository.as_str()), path]
                    .into_iter()
                    .flatten()
                    .any(|r| glob(pat, r) || glob(pat, &format!("{r}:{}", row.tag)))
            })
    }
}

/// Go's path.Match subset docker uses for reference filters: `*` and `?` within a path
/// component.
pub fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && t[0] != b'/' && go(p, &t[1..])),
            (Some(b'?'), Some(c)) if *c != b'/' => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs_stop_at_slashes() {
        assert!(glob("busy*", "busybox"));
        assert!(glob("busybox:*", "busybox:latest"));
        assert!(!glob("*", "library/busybox"));
        assert!(glob("*/busybox", "127.0.0.1:5000/busybox"));
        assert!(glob("b?sybox", "busybox"));
    }
}
