//! Finding a local image from what a user typed: a name with tag or digest, a short name,
//! or an ID (any unique prefix), as docker does.

use super::{Error, ImageRecord};
use crate::registry::{Reference, RegistriesConf};

/// What a lookup matched: the image's index, and the full tag when it matched by tag.
pub struct Found {
    pub index: usize,
    pub tag: Option<String>,
}

/// Docker's short form of a full name: `docker.io/library/busybox:latest` -> `busybox:latest`.
pub fn familiar(full: &str) -> String {
    if let Some(rest) = full.strip_prefix("docker.io/") {
        rest.strip_prefix("library/").unwrap_or(rest).to_string()
    } else {
        full.to_string()
    }
}

/// Split `name:tag` (the tag is after the last ':' that follows the last '/').
pub fn split_tag(full: &str) -> (&str, &str) {
    let slash = full.rfind('/').map(|i| i + 1).unwrap_or(0);
    match full[slash..].rfind(':') {
        Some(i) => (&full[..slash + i], &full[slash + i + 1..]),
        None => (full, ""),
    }
}

/// True when the first path component of `input` names a registry (docker's rule).
fn has_domain(input: &str) -> bool {
    match input.split_once('/') {
        Some((first, _)) => first.contains('.') || first.contains(':') || first == "localhost",
        None => false,
    }
}

pub fn find(images: &[ImageRecord], input: &str, conf: &RegistriesConf) -> Result<Found, Error> {
    if let Some(found) = find_by_name(images, input, conf)? {
        return Ok(found);
    }
    if let Some(index) = find_by_id(images, input)? {
        return Ok(Found { index, tag: None });
    }
    Err(Error::NoSuchImage(input.to_string()))
}

fn find_by_name(
    images: &[ImageRecord],
    input: &str,
    conf: &RegistriesConf,
) -> Result<Option<Found>, Error> {
    let Ok(reference) = Reference::parse(input, conf) else {
        return Ok(None);
    };
    let name = reference.name();
    if let Some(digest) = &reference.digest {
        let wanted = format!("{name}@{digest}");
        let index = images.iter().position(|img| {
            img.repo_digests.iter().any(|d| d == &wanted)
                || (img.manifest_digest == *digest
                    && img.repo_tags.iter().any(|t| split_tag(t).0 == name))
        });
        return Ok(index.map(|index| Found { index, tag: None }));
    }
    let tag = reference.tag.clone().unwrap_or_else(|| "latest".into());
    let full = format!("{name}:{tag}");
    if let Some(index) = images.iter().position(|i| i.repo_tags.contains(&full)) {
        return Ok(Some(Found {
            index,
            tag: Some(full),
        }));
    }
    if has_domain(input) {
        return Ok(None);
    }
    // A short name also matches the same path in any registry, as podman does.
    let path = input.split(['@']).next().unwrap_or(input);
    let (path, _) = split_tag(path);
    let mut hits = Vec::new();
    for (index, img) in images.iter().enumerate() {
        for t in &img.repo_tags {
            let (repo, t_tag) = split_tag(t);
            let repo_path = repo.split_once('/').map(|(_, p)| p).unwrap_or(repo);
            let matches_path = repo_path == path
                || repo_path.strip_prefix("library/") == Some(path)
                || repo_path.ends_with(&format!("/{path}"));
            if matches_path && t_tag == tag {
                hits.push((index, t.clone()));
            }
        }
    }
    match hits.len() {
        0 => Ok(None),
        1 => {
            let (index, t) = hits.remove(0);
            Ok(Some(Found {
                index,
                tag: Some(t),
            }))
        }
        _ => Err(Error::Ambiguous(input.to_string())),
    }
}

/// Some(hex) when `input` can only be an image ID (a `sha256:` prefix, or 64 hex digits).
pub fn find_by_id_only(input: &str) -> Option<&str> {
    match input.strip_prefix("sha256:") {
        Some(hex) => Some(hex),
        None => {
            (input.len() == 64 && input.bytes().all(|b| b.is_ascii_hexdigit())).then_some(input)
        }
    }
}

fn find_by_id(images: &[ImageRecord], input: &str) -> Result<Option<usize>, Error> {
    let hex = input.strip_prefix("sha256:").unwrap_or(input);
    if hex.is_empty() || hex.len() > 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let hex = hex.to_ascii_lowercase();
    let hits: Vec<usize> = images
        .iter()
        .enumerate()
        .filter(|(_, img)| {
            img.id
                .strip_prefix("sha256:")
                .unwrap_or(&img.id)
                .starts_with(&hex)
        })
        .map(|(i, _)| i)
        .collect();
    match hits.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        _ => Err(Error::Ambiguous(input.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn familiar_names() {
        assert_eq!(
            familiar("docker.io/library/busybox:latest"),
            "busybox:latest"
        );
        assert_eq!(familiar("docker.io/me/app:1"), "me/app:1");
        assert_eq!(
            familiar("127.0.0.1:5000/busybox:latest"),
            "127.0.0.1:5000/busybox:latest"
        );
    }

    #[test]
    fn tags_split_after_the_last_slash() {
        assert_eq!(
            split_tag("127.0.0.1:5000/busybox:1.2"),
            ("127.0.0.1:5000/busybox", "1.2")
        );
        assert_eq!(
            split_tag("127.0.0.1:5000/busybox"),
            ("127.0.0.1:5000/busybox", "")
        );
    }
}
