//! Images against their layers and blobs: blobs whose content is not their digest, images
//! missing a layer or their config or manifest, and what interrupted pulls left (staging
//! dirs and files, layers and blobs no image uses). The pull lock is held exclusively from
//! the scan to the last repair, so no pull starts meanwhile and none was running.

use std::collections::{HashMap, HashSet};

use super::{age, dead_temps, remove_file, settle, shown, Finding, Options, Problem};
use crate::container::ContainerStore;
use crate::error::Result;
use crate::fsutil::short_id;
use crate::image::debris::{self, Piece};
use crate::image::{remove, BlobFile, ImageStore};
use crate::overlay::{LayerStore, Leftover};

enum Fix {
    Piece(Piece),
    BadBlob(String),
    /// Remove the damaged image, after the containers (not running) that use it.
    Image {
        id: String,
        containers: Vec<String>,
    },
    TempFile(std::path::PathBuf),
}

pub fn check(
    store: &ContainerStore,
    images: &ImageStore,
    layers: &LayerStore,
    opts: Options,
) -> Result<Vec<Finding>> {
    let found = debris::scan(images, layers)?;
    let mut problems = Vec::new();
    let mut partial = HashSet::new();
    for piece in &found.pieces {
        if let Piece::Layer(Leftover::Partial { hex, .. }) = piece {
            partial.insert(format!("sha256:{hex}"));
        }
        if let Some(problem) = describe(images, layers, piece, opts) {
            problems.push(problem);
        }
    }
    let unused: HashSet<&str> = found
        .pieces
        .iter()
        .filter_map(|p| match p {
            Piece::UnusedBlob(d) => Some(d.as_str()),
            _ => None,
        })
        .collect();
    let mut bad = HashSet::new();
    if !opts.quick {
        for blob in images.blob_files() {
            let BlobFile::Blob { digest, path } = blob else {
                continue;
            };
            if unused.contains(digest.as_str()) || images.verify_blob(&digest)? {
                continue;
            }
            problems.push(Problem {
                what: format!(
                    "blob {} does not match its digest: {}",
                    short_id(&digest),
                    shown(&path)
                ),
                fix: Ok(Fix::BadBlob(digest.clone())),
            });
            bad.insert(digest);
        }
    }
    let users = users(store)?;
    for img in images.load()? {
        let mut missing: Vec<String> = img
            .layers
            .iter()
            .filter(|c| !layers.exists(c) || partial.contains(*c))
            .map(|c| format!("layer {}", short_id(c)))
            .collect();
        for (what, digest) in [("config", &img.id), ("manifest", &img.manifest_digest)] {
            if !images.has_blob(digest) || bad.contains(digest) {
                missing.push(format!("{what} {}", short_id(digest)));
            }
        }
        if missing.is_empty() {
            continue;
        }
        let name = img
            .repo_tags
            .first()
            .map(|t| crate::image::lookup::familiar(t))
            .unwrap_or_else(|| short_id(&img.id).to_string());
        let using = users.get(&img.id).cloned().unwrap_or_default();
        let running: Vec<&(String, bool)> = using.iter().filter(|(_, r)| *r).collect();
        let fix = if !running.is_empty() {
            Err(format!(
                "container {} uses it and runs",
                short_id(&running[0].0)
            ))
        } else if !using.is_empty() && !opts.force {
            Err(format!(
                "container {} uses it; remove that container, or pass --force",
                short_id(&using[0].0)
            ))
        } else {
            Ok(Fix::Image {
                id: img.id.clone(),
                containers: using.into_iter().map(|(id, _)| id).collect(),
            })
        };
        problems.push(Problem {
            what: format!("image {name} is damaged: missing {}", missing.join(", ")),
            fix,
        });
    }
    for temp in dead_temps(&images.dir().join("images")) {
        problems.push(Problem {
            what: format!(
                "leftover temp file of an interrupted write: {}",
                shown(&temp)
            ),
            fix: Ok(Fix::TempFile(temp)),
        });
    }
    if found.pull_running && opts.repair {
        crate::info!("a pull is running: layers and blobs no image uses yet were not looked at");
    }
    // Damaged images go first: what only they used becomes debris that their removal frees.
    problems.sort_by_key(|p| !matches!(p.fix, Ok(Fix::Image { .. })));
    let out = problems
        .into_iter()
        .map(|p| settle(opts, p, |fix| apply(store, images, layers, fix)))
        .collect();
    drop(found);
    Ok(out)
}

/// The containers using each image: (ID, running).
fn users(store: &ContainerStore) -> Result<HashMap<String, Vec<(String, bool)>>> {
    let mut out: HashMap<String, Vec<(String, bool)>> = HashMap::new();
    for rec in store.list()? {
        let running = store.live_state(&rec).status.is_active();
        out.entry(rec.image.clone())
            .or_default()
            .push((rec.id, running));
    }
    Ok(out)
}

fn describe(
    images: &ImageStore,
    layers: &LayerStore,
    piece: &Piece,
    opts: Options,
) -> Option<Problem<Fix>> {
    let young = |path: &std::path::Path| match (opts.max_age, age(path)) {
        (Some(max), Some(a)) => a < max,
        _ => false,
    };
    let what = match piece {
        Piece::Layer(Leftover::Partial { hex, path }) => format!(
            "layer {} is incomplete (no layer.json): {}",
            short_id(hex),
            shown(path)
        ),
        Piece::Layer(Leftover::Staging { path, .. }) => {
            format!(
                "an interrupted layer unpack or removal left {}",
                shown(path)
            )
        }
        Piece::BlobTemp(path) => format!("an interrupted download left {}", shown(path)),
        Piece::UnusedLayer(chain) => {
            let path = layers.diff_dir(chain);
            let dir = path.parent().unwrap_or(&path).to_path_buf();
            if young(&dir) {
                return None;
            }
            format!(
                "layer {} is used by no image (an interrupted pull?): {}",
                short_id(chain),
                shown(&dir)
            )
        }
        Piece::UnusedBlob(digest) => {
            let path = images.blob_path(digest);
            if young(&path) {
                return None;
            }
            format!(
                "blob {} is used by no image (an interrupted pull?): {}",
                short_id(digest),
                shown(&path)
            )
        }
    };
    Some(Problem {
        what,
        fix: Ok(Fix::Piece(piece.clone())),
    })
}

fn apply(
    store: &ContainerStore,
    images: &ImageStore,
    layers: &LayerStore,
    fix: Fix,
) -> std::result::Result<String, String> {
    match fix {
        Fix::Piece(piece) => {
            let what = match &piece {
                Piece::Layer(l) => shown(l.path()),
                Piece::BlobTemp(p) => shown(p),
                Piece::UnusedLayer(c) => format!("layer {}", short_id(c)),
                Piece::UnusedBlob(d) => format!("blob {}", short_id(d)),
            };
            debris::remove_piece(images, layers, &piece)
                .map(|_| format!("removed {what}"))
                .map_err(|e| e.to_string())
        }
        Fix::BadBlob(digest) => images
            .remove_blob(&digest)
            .map(|()| format!("removed blob {}", short_id(&digest)))
            .map_err(|e| e.to_string()),
        Fix::Image { id, containers } => {
            for cid in &containers {
                let rec = store.load(cid).map_err(|e| e.to_string())?;
                crate::container::remove(store, &rec, crate::container::RemoveRequest::default())
                    .map_err(|e| e.to_string())?;
            }
            remove::remove_records(images, layers, std::slice::from_ref(&id))
                .map(|_| format!("removed image {}", short_id(&id)))
                .map_err(|e| e.to_string())
        }
        Fix::TempFile(path) => remove_file(&path),
    }
}
