//! Platforms ("linux/arm64/v8") and picking the matching manifest out of an index, with
//! containerd's normalisation of architecture names and variants.

use std::fmt;

use super::manifest::Descriptor;
use super::{Error, ErrorKind};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// The platform cove itself runs on.
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "x86" => "386",
            "aarch64" => "arm64",
            "arm" => "arm",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            "powerpc64" => "ppc64",
            "loongarch64" => "loong64",
            other => other,
        };
        Platform::normalized("linux", arch, None)
    }

    /// "linux/arm64/v8", "linux/amd64", or just an architecture ("arm64"; os linux).
    pub fn parse(s: &str) -> Result<Platform, Error> {
        let bad = || {
            Error::new(
                ErrorKind::InvalidReference,
                format!("invalid platform {s:?}: expected os/arch[/variant]"),
            )
        };
        let parts: Vec<&str> = s.trim().split('/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        let (os, arch, variant) = match parts[..] {
            [arch] => ("linux", arch, None),
            [os, arch] => (os, arch, None),
            [os, arch, variant] => (os, arch, Some(variant)),
            _ => return Err(bad()),
        };
        Ok(Platform::normalized(
            &os.to_ascii_lowercase(),
            &arch.to_ascii_lowercase(),
            variant.map(|v| v.to_ascii_lowercase()),
        ))
    }

    fn normalized(os: &str, arch: &str, variant: Option<String>) -> Platform {
        let (arch, variant) = normalize_arch(arch, variant);
        Platform {
            os: if os == "macos" {
                "darwin".into()
            } else {
                os.into()
            },
            architecture: arch,
            variant,
        }
    }

    /// How well a descriptor's platform serves this one: None when it cannot run here,
    /// lower is better. Like containerd, arm64 without a variant means v8, and a 32-bit arm
    /// host also runs older variants (v7 runs v6 and v5) when nothing better is there.
    fn rank(&self, os: &str, arch: &str, variant: Option<&str>) -> Option<u32> {
        let candidate = Platform::normalized(os, arch, variant.map(str::to_string));
        if candidate.os != self.os || candidate.architecture != self.architecture {
            return None;
        }
        let want = self.variant.as_deref();
        let have = candidate.variant.as_deref();
        if want == have {
            return Some(0);
        }
        match (want, have) {
            (None, _) => Some(1),
            (Some(_), None) => Some(2),
            (Some(w), Some(h)) if self.architecture == "arm" => {
                let (w, h) = (arm_level(w)?, arm_level(h)?);
                (h < w).then(|| 3 + (w - h))
            }
            _ => None,
        }
    }

    /// The best manifest for this platform among an index's entries.
    pub fn select<'a>(&self, manifests: &'a [Descriptor]) -> Option<&'a Descriptor> {
        manifests
            .iter()
            .enumerate()
            .filter_map(|(i, d)| {
                let p = d.platform.as_ref()?;
                let rank = self.rank(&p.os, &p.architecture, p.variant.as_deref())?;
                Some(((rank, i), d))
            })
            .min_by_key(|(key, _)| *key)
            .map(|(_, d)| d)
    }
}

fn arm_level(v: &str) -> Option<u32> {
    v.strip_prefix('v')?.parse().ok()
}

fn normalize_arch(arch: &str, variant: Option<String>) -> (String, Option<String>) {
    let variant = variant.filter(|v| !v.is_empty());
    match arch {
        "i386" => ("386".into(), None),
        "x86_64" | "x86-64" | "amd64" => {
            // amd64 variants (v2, v3) are levels, not a different ABI; "v1" is the baseline.
            ("amd64".into(), variant.filter(|v| v != "v1"))
        }
        "aarch64" | "arm64" => {
            let v = match variant.as_deref() {
                None | Some("8") | Some("v8") => "v8".to_string(),
                Some(other) => other.to_string(),
            };
            ("arm64".into(), Some(v))
        }
        "armhf" => ("arm".into(), Some("v7".into())),
        "armel" => ("arm".into(), Some("v6".into())),
        "arm" => {
            let v = match variant.as_deref() {
                None | Some("7") => "v7".to_string(),
                Some("5") | Some("6") | Some("8") => format!("v{}", variant.unwrap_or_default()),
                Some(other) => other.to_string(),
            };
            ("arm".into(), Some(v))
        }
        other => (other.into(), variant),
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::manifest::{ImageIndex, MEDIA_TYPE_OCI_MANIFEST};

    fn p(s: &str) -> Platform {
        Platform::parse(s).unwrap()
    }

    #[test]
    fn parse_and_normalise() {
        assert_eq!(p("linux/arm64/v8"), p("arm64"));
        assert_eq!(p("aarch64").to_string(), "linux/arm64/v8");
        assert_eq!(p("linux/amd64").to_string(), "linux/amd64");
        assert_eq!(p("x86_64").to_string(), "linux/amd64");
        assert_eq!(p("linux/arm").to_string(), "linux/arm/v7");
        assert_eq!(p("armel").to_string(), "linux/arm/v6");
        assert!(Platform::parse("linux//x").is_err());
        assert!(Platform::parse("a/b/c/d").is_err());
        let host = Platform::host();
        assert_eq!(host.os, "linux");
        if cfg!(target_arch = "x86_64") {
            assert_eq!(host.to_string(), "linux/amd64");
        }
    }

    fn index(entries: &[(&str, &str, Option<&str>)]) -> ImageIndex {
        let manifests: Vec<serde_json::Value> = entries
            .iter()
            .enumerate()
            .map(|(i, (os, arch, variant))| {
                let mut plat = serde_json::json!({"os": os, "architecture": arch});
                if let Some(v) = variant {
                    plat["variant"] = serde_json::json!(v);
                }
                serde_json::json!({
                    "mediaType": MEDIA_TYPE_OCI_MANIFEST,
                    "digest": format!("sha256:{:064x}", i),
                    "size": 100 + i,
                    "platform": plat,
                })
            })
            .collect();
        serde_json::from_value(serde_json::json!({"schemaVersion": 2, "manifests": manifests}))
            .unwrap()
    }

    fn pick(platform: &str, idx: &ImageIndex) -> Option<u64> {
        p(platform).select(&idx.manifests).map(|d| d.size - 100)
    }

    #[test]
    fn selects_from_index() {
        let idx = index(&[
            ("linux", "amd64", None),
            ("linux", "arm", Some("v6")),
            ("linux", "arm", Some("v7")),
            ("linux", "arm64", Some("v8")),
            ("unknown", "unknown", None),
            ("windows", "amd64", None),
        ]);
        assert_eq!(pick("linux/amd64", &idx), Some(0));
        assert_eq!(pick("linux/arm64", &idx), Some(3));
        assert_eq!(pick("linux/arm/v7", &idx), Some(2));
        assert_eq!(pick("linux/arm/v6", &idx), Some(1));
        assert_eq!(pick("linux/arm/v5", &idx), None);
        assert_eq!(pick("windows/amd64", &idx), Some(5));
        assert_eq!(pick("linux/s390x", &idx), None);

        // arm64 without a variant is v8; a v8 host prefers it over a later exact duplicate.
        let idx = index(&[("linux", "arm64", None), ("linux", "arm", None)]);
        assert_eq!(pick("linux/arm64/v8", &idx), Some(0));
        assert_eq!(pick("linux/arm/v8", &idx), Some(1));
        // A v7 host falls back to v6 when that is all there is.
        let idx = index(&[("linux", "arm", Some("v6")), ("linux", "amd64", Some("v3"))]);
        assert_eq!(pick("linux/arm/v7", &idx), Some(0));
        assert_eq!(pick("linux/amd64", &idx), Some(1));
    }
}
