//! Fixture images built from Debian's static `/bin/busybox`, written as an OCI layout and pushed
//! to the test registry with skopeo (digests preserved, so what tests expect is what is served).
//!
//! - `busybox:latest` (and `busybox:v1`, the same manifest): one gzip layer.
//! - `layered:latest`: the busybox layer (same blob) + a zstd layer + an uncompressed layer
//!   with a whiteout (`.wh.gone.txt`) and an opaque dir (`opq/.wh..wh..opq`).
//! - `multi:latest`: an index, linux/amd64 -> busybox, linux/arm64/v8 -> a marker image.
//! - `hostile:<trick>`: one single-layer image per path trick (see `HOSTILE`).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{json, Value};

use super::layout::{self, chain_ids, descriptor, layer, Compression, LayerBlob, Layout, Tar};

#[derive(Clone, Debug)]
pub struct Layer {
    pub digest: String,
    pub diff_id: String,
    pub media_type: String,
    pub size: u64,
}

#[derive(Clone, Debug)]
pub struct Image {
    /// Repository path in the registry, e.g. `busybox`.
    pub repo: String,
    pub tag: String,
    pub manifest: Vec<u8>,
    /// `sha256:` of the manifest (what RepoDigests and `--digests` show).
    pub manifest_digest: String,
    pub config: Value,
    /// `sha256:` of the config: the image ID.
    pub config_digest: String,
    pub layers: Vec<Layer>,
    /// Hex chain IDs: the names of the unpacked layer dirs under `<root>/overlay/layers`.
    pub chain_ids: Vec<String>,
}

impl Image {
    /// 64 hex chars of the image ID.
    pub fn id(&self) -> &str {
        self.config_digest.trim_start_matches("sha256:")
    }
    pub fn short_id(&self) -> &str {
        &self.id()[..12]
    }
    pub fn diff_ids(&self) -> Vec<String> {
        self.layers.iter().map(|l| l.diff_id.clone()).collect()
    }
}

pub struct Hostile {
    pub trick: &'static str,
    /// Whether a correct unpacker accepts it (an absolute name lands inside the layer).
    pub ok: bool,
    pub image: Image,
}

pub struct Fixtures {
    /// `127.0.0.1:PORT` of the registry the fixtures were pushed to.
    pub registry: String,
    pub busybox: Image,
    pub layered: Image,
    /// `sha256:` of the `multi:latest` index.
    pub multi_digest: String,
    pub multi_index: Vec<u8>,
    /// The linux/arm64/v8 image of `multi:latest` (linux/amd64 is `busybox`).
    pub arm64: Image,
    pub hostile: Vec<Hostile>,
    /// A 0777 directory outside every store holding `target` (content `SENTINEL`); hostile
    /// layers aim at it. It must stay exactly as it is.
    pub sentinel: PathBuf,
}

pub const SENTINEL: &str = "sentinel: must not change\n";
pub const APPLETS: &[&str] = &[
    "sh",
    "ls",
    "cat",
    "echo",
    "true",
    "false",
    "id",
    "sleep",
    "env",
    "mkdir",
    "rm",
    "touch",
    "pwd",
    "stat",
    "wc",
    "test",
    "hostname",
    "grep",
    "head",
    "readlink",
    "stty",
    "tty",
    "tr",
    "kill",
    "ps",
    "printf",
    "cut",
    "sha256sum",
];

impl Fixtures {
    /// `127.0.0.1:PORT/<name_tag>` on the registry itself.
    pub fn reference(&self, name_tag: &str) -> String {
        format!("{}/{name_tag}", self.registry)
    }
    pub fn hostile(&self, trick: &str) -> &Hostile {
        self.hostile.iter().find(|h| h.trick == trick).unwrap()
    }
}

/// Builds and pushes the fixtures once per test binary.
pub fn fixtures() -> &'static Fixtures {
    static FIX: OnceLock<Fixtures> = OnceLock::new();
    FIX.get_or_init(build)
}

fn busybox_tar() -> Vec<u8> {
    let bin = std::fs::read("/bin/busybox")
        .expect("/bin/busybox is missing: install busybox-static (scripts/test.sh does)");
    let mut t = Tar::new();
    t.dir("bin/", 0o755).file("bin/busybox", 0o755, &bin);
    for a in APPLETS {
        t.symlink(&format!("bin/{a}"), "busybox");
    }
    t.dir("etc/", 0o755)
        .file(
            "etc/passwd",
            0o644,
            b"root:x:0:0:root:/root:/bin/sh\nuser:x:500:500:user:/home/user:/bin/sh\n",
        )
        .file("etc/group", 0o644, b"root:x:0:\nuser:x:500:\n")
        .dir("home/", 0o755)
        .dir_owned("home/user/", 0o755, 500, 500)
        .dir("root/", 0o700)
        .dir("tmp/", 0o1777);
    t.finish()
}

fn config(
    arch: &str,
    variant: Option<&str>,
    created: &str,
    label: &str,
    layers: &[&LayerBlob],
    history: Value,
) -> Value {
    let mut c = json!({
        "architecture": arch,
        "os": "linux",
        "created": created,
        "config": {
            "Cmd": ["sh"],
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Labels": { "org.cove.test": label },
            "WorkingDir": "/",
        },
        "rootfs": { "type": "layers", "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>() },
        "history": history,
    });
    if let Some(v) = variant {
        c["variant"] = json!(v);
    }
    c
}

/// Stores config, layers and manifest in the layout; returns the image (not yet tagged).
fn image(lay: &Layout, repo: &str, tag: &str, config: Value, layers: &[&LayerBlob]) -> Image {
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let config_digest = lay.blob(&config_bytes);
    for l in layers {
        lay.blob(&l.blob);
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": layout::MT_MANIFEST,
        "config": descriptor(layout::MT_CONFIG, &config_bytes),
        "layers": layers.iter().map(|l| descriptor(l.media_type, &l.blob)).collect::<Vec<_>>(),
    });
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let manifest_digest = lay.blob(&manifest);
    let diff_ids: Vec<String> = layers.iter().map(|l| l.diff_id.clone()).collect();
    Image {
        repo: repo.to_string(),
        tag: tag.to_string(),
        manifest,
        manifest_digest,
        config,
        config_digest,
        layers: layers
            .iter()
            .map(|l| Layer {
                digest: l.digest.clone(),
                diff_id: l.diff_id.clone(),
                media_type: l.media_type.to_string(),
                size: l.blob.len() as u64,
            })
            .collect(),
        chain_ids: chain_ids(&diff_ids),
    }
}

fn history(entries: &[(&str, &str, bool)]) -> Value {
    Value::Array(
        entries
            .iter()
            .map(|(created, by, empty)| {
                let mut h =
                    json!({ "created": created, "created_by": by, "comment": "cove test fixture" });
                if *empty {
                    h["empty_layer"] = json!(true);
                }
                h
            })
            .collect(),
    )
}

fn build() -> Fixtures {
    let reg = super::registry();
    let run = super::run_dir();
    let lay_dir = run.join("oci-layout");
    let _ = std::fs::remove_dir_all(&lay_dir);
    let mut lay = Layout::create(&lay_dir);

    let base = layer(&busybox_tar(), Compression::Gzip);
    let t1 = "2024-01-01T00:00:00Z";
    let busybox = image(
        &lay,
        "busybox",
        "latest",
        config(
            "amd64",
            None,
            t1,
            "busybox",
            &[&base],
            history(&[(t1, "ADD busybox /", false), (t1, "CMD [\"sh\"]", true)]),
        ),
        &[&base],
    );

    let mut t = Tar::new();
    t.dir("data/", 0o755)
        .file("data/a.txt", 0o644, b"a\n")
        .file("gone.txt", 0o644, b"gone\n")
        .dir("opq/", 0o755)
        .file("opq/old.txt", 0o644, b"old\n");
    let zst = layer(&t.finish(), Compression::Zstd);
    let mut t = Tar::new();
    t.file(".wh.gone.txt", 0o644, b"")
        .dir("opq/", 0o755)
        .file("opq/.wh..wh..opq", 0o644, b"")
        .file("opq/new.txt", 0o644, b"new\n")
        .dir("data/", 0o755)
        .file("data/b.txt", 0o644, b"b\n");
    let plain = layer(&t.finish(), Compression::None);
    let t2 = "2024-02-01T00:00:00Z";
    let layered = image(
        &lay,
        "layered",
        "latest",
        config(
            "amd64",
            None,
            t2,
            "layered",
            &[&base, &zst, &plain],
            history(&[
                (t1, "ADD busybox /", false),
                (t2, "ADD data /", false),
                (t2, "RUN rm gone.txt", false),
            ]),
        ),
        &[&base, &zst, &plain],
    );

    let mut t = Tar::new();
    t.file("marker-arm64", 0o644, b"arm64\n").dir("etc/", 0o755);
    let arm_layer = layer(&t.finish(), Compression::Gzip);
    let t3 = "2024-03-01T00:00:00Z";
    let arm64 = image(
        &lay,
        "multi",
        "latest",
        config(
            "arm64",
            Some("v8"),
            t3,
            "arm64",
            &[&arm_layer],
            history(&[(t3, "ADD marker /", false)]),
        ),
        &[&arm_layer],
    );
    let mut amd_desc = descriptor(layout::MT_MANIFEST, &busybox.manifest);
    amd_desc["platform"] = json!({ "architecture": "amd64", "os": "linux" });
    let mut arm_desc = descriptor(layout::MT_MANIFEST, &arm64.manifest);
    arm_desc["platform"] = json!({ "architecture": "arm64", "os": "linux", "variant": "v8" });
    let multi_index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": layout::MT_INDEX,
        "manifests": [amd_desc, arm_desc],
    }))
    .unwrap();
    let multi_digest = format!("sha256:{}", super::sha256_hex(&multi_index));

    let sentinel = run.join("sentinel");
    std::fs::create_dir_all(&sentinel).unwrap();
    std::fs::write(sentinel.join("target"), SENTINEL).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&sentinel, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::set_permissions(
        sentinel.join("target"),
        std::fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    let hostile = hostile_images(&lay, &sentinel);

    lay.add_ref("busybox", layout::MT_MANIFEST, &busybox.manifest);
    lay.add_ref("layered", layout::MT_MANIFEST, &layered.manifest);
    lay.add_ref("multi", layout::MT_INDEX, &multi_index);
    for h in &hostile {
        lay.add_ref(
            &format!("hostile-{}", h.trick),
            layout::MT_MANIFEST,
            &h.image.manifest,
        );
    }

    let mut pushes: Vec<(String, String, bool)> = vec![
        ("busybox".into(), "busybox:latest".into(), false),
        ("busybox".into(), "busybox:v1".into(), false),
        ("layered".into(), "layered:latest".into(), false),
        ("multi".into(), "multi:latest".into(), true),
    ];
    for h in &hostile {
        pushes.push((
            format!("hostile-{}", h.trick),
            format!("hostile:{}", h.trick),
            false,
        ));
    }
    // Tags of one source go one after the other: the registry can fail a manifest pushed
    // while another push of the same blobs to that repository is still in flight.
    let mut sources: Vec<&str> = pushes.iter().map(|(src, _, _)| src.as_str()).collect();
    sources.dedup();
    std::thread::scope(|s| {
        for src in sources {
            let (lay_dir, addr, pushes) = (&lay_dir, &reg.addr, &pushes);
            s.spawn(move || {
                for (_, dst, all) in pushes.iter().filter(|(s, _, _)| s == src) {
                    push(lay_dir, src, &format!("{addr}/{dst}"), *all);
                }
            });
        }
    });

    Fixtures {
        registry: reg.addr.clone(),
        busybox,
        layered,
        multi_digest,
        multi_index,
        arm64,
        hostile,
        sentinel,
    }
}

/// `deep:latest` on the test registry: one layer holding `deep/` and below it a chain of 1100
/// directories `d/d/...` (deeper than the usual descriptor limit) with a file at the bottom.
/// Built and pushed on first use only.
pub fn deep_image() -> &'static Image {
    static DEEP: OnceLock<Image> = OnceLock::new();
    DEEP.get_or_init(|| {
        let reg = super::registry();
        let lay_dir = super::run_dir().join("oci-deep");
        let _ = std::fs::remove_dir_all(&lay_dir);
        let mut lay = Layout::create(&lay_dir);
        let mut t = Tar::new();
        let mut name = String::from("deep/");
        t.dir(&name, 0o755);
        for _ in 0..1100 {
            name.push_str("d/");
            t.dir_long(&name, 0o755);
        }
        t.file_long(&format!("{name}bottom"), 0o644, b"bottom\n");
        let l = layer(&t.finish(), Compression::Gzip);
        let created = "2024-05-01T00:00:00Z";
        let cfg = config(
            "amd64",
            None,
            created,
            "deep",
            &[&l],
            history(&[(created, "ADD deep /", false)]),
        );
        let img = image(&lay, "deep", "latest", cfg, &[&l]);
        lay.add_ref("deep", layout::MT_MANIFEST, &img.manifest);
        push(
            &lay_dir,
            "deep",
            &format!("{}/deep:latest", reg.addr),
            false,
        );
        img
    })
}

/// The tricks: a name, whether it is acceptable, and the layer's entries.
fn hostile_images(lay: &Layout, sentinel: &std::path::Path) -> Vec<Hostile> {
    let s = sentinel.to_str().unwrap();
    let s_rel = s.trim_start_matches('/');
    let deep = "../".repeat(16);
    let mut out = Vec::new();
    let mut add = |trick: &'static str, ok: bool, t: Tar| {
        let l = layer(&t.finish(), Compression::Gzip);
        let created = "2024-04-01T00:00:00Z";
        let cfg = config(
            "amd64",
            None,
            created,
            trick,
            &[&l],
            history(&[(created, trick, false)]),
        );
        let image = image(lay, "hostile", trick, cfg, &[&l]);
        out.push(Hostile { trick, ok, image });
    };
    let mut t = Tar::new();
    t.file("ok.txt", 0o644, b"ok\n")
        .file("../../escape", 0o644, b"evil\n");
    add("dotdot", false, t);
    let mut t = Tar::new();
    t.file(&format!("{deep}{s_rel}/evil"), 0o644, b"evil\n");
    add("dotdot-deep", false, t);
    let mut t = Tar::new();
    t.file("/abs-file", 0o644, b"inside\n");
    add("abs", true, t);
    let mut t = Tar::new();
    t.symlink("link", s).file("link/evil", 0o644, b"evil\n");
    add("symlink-dir", false, t);
    let mut t = Tar::new();
    t.hardlink("hl", &format!("{deep}{s_rel}/target"));
    add("hardlink-out", false, t);
    let mut t = Tar::new();
    t.symlink("sl", s).hardlink("hl", "sl/target");
    add("hardlink-via-symlink", false, t);
    let mut t = Tar::new();
    t.symlink("up", deep.trim_end_matches('/'))
        .file(&format!("up/{s_rel}/evil"), 0o644, b"evil\n");
    add("symlink-up", false, t);
    out
}

fn push(lay_dir: &std::path::Path, src_ref: &str, dst: &str, all: bool) {
    let mut c = Command::new("skopeo");
    // No signature policy matters for our own fixtures on a loopback registry.
    c.args([
        "--insecure-policy",
        "copy",
        "--quiet",
        "--preserve-digests",
        "--dest-tls-verify=false",
    ]);
    if all {
        c.arg("--all");
    }
    c.arg(format!("oci:{}:{src_ref}", lay_dir.display()))
        .arg(format!("docker://{dst}"));
    let out = c
        .output()
        .expect("cannot run skopeo: install it (scripts/test.sh does)");
    assert!(
        out.status.success(),
        "skopeo copy to {dst} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What the registry serves for `reference` (`host:port/name:tag`): the manifest (or index)
/// digest, its media type, and its layer digests (empty for an index).
#[derive(Debug)]
pub struct Remote {
    pub digest: String,
    pub media_type: String,
    pub layers: Vec<String>,
    pub raw: Value,
}

pub fn remote_digests(reference: &str) -> Remote {
    let raw = super::sh(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{reference}"),
        ],
    );
    let v: Value = serde_json::from_str(&raw).unwrap();
    let layers = v["layers"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|l| l["digest"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    Remote {
        digest: format!("sha256:{}", super::sha256_hex(raw.as_bytes())),
        media_type: v["mediaType"].as_str().unwrap_or("").to_string(),
        layers,
        raw: v,
    }
}

/// `big:latest` on the test registry: the busybox layer, then a layer stored plain (an
/// uncompressed tar, as commit and load keep layers) holding `/big.bin`, 40 MiB of
/// pseudo-random bytes: a push must compress it first and sends it in several chunks. Returns
/// the image and the sha256 hex of `big.bin`. Built and pushed on first use only.
pub fn big_image() -> &'static (Image, String) {
    static BIG: OnceLock<(Image, String)> = OnceLock::new();
    BIG.get_or_init(|| {
        let reg = super::registry();
        let lay_dir = super::run_dir().join("oci-big");
        let _ = std::fs::remove_dir_all(&lay_dir);
        let mut lay = Layout::create(&lay_dir);
        let base = layer(&busybox_tar(), Compression::Gzip);
        let mut data = vec![0u8; 40 << 20];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for chunk in data.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        let sum = super::sha256_hex(&data);
        let mut t = Tar::new();
        t.file("big.bin", 0o644, &data);
        let big = layer(&t.finish(), Compression::None);
        let created = "2024-06-01T00:00:00Z";
        let cfg = config(
            "amd64",
            None,
            created,
            "big",
            &[&base, &big],
            history(&[
                (created, "ADD busybox /", false),
                (created, "ADD big.bin /", false),
            ]),
        );
        let img = image(&lay, "big", "latest", cfg, &[&base, &big]);
        lay.add_ref("big", layout::MT_MANIFEST, &img.manifest);
        push(&lay_dir, "big", &format!("{}/big:latest", reg.addr), false);
        (img, sum)
    })
}
