//! Manifest and index documents (OCI and Docker v2), their media types, and telling them apart.
//! Lenient on unknown fields, strict on digests and sizes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::reference::is_valid_digest;
use super::{Error, ErrorKind};

pub const MEDIA_TYPE_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_TYPE_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
#[cfg(test)]
pub const MEDIA_TYPE_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MEDIA_TYPE_OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const MEDIA_TYPE_OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MEDIA_TYPE_OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const MEDIA_TYPE_OCI_LAYER_NONDIST_GZIP: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
pub const MEDIA_TYPE_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const MEDIA_TYPE_DOCKER_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
#[cfg(test)]
pub const MEDIA_TYPE_DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const MEDIA_TYPE_DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub const MEDIA_TYPE_DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const MEDIA_TYPE_DOCKER_LAYER_ZSTD: &str = "application/vnd.docker.image.rootfs.diff.tar.zstd";
pub const MEDIA_TYPE_DOCKER_FOREIGN_LAYER_GZIP: &str =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
pub const MEDIA_TYPE_DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED: &str =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// The Accept header of a manifest request: everything cove can use.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// How a layer blob is compressed, from its media type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// The compression of a layer media type, or None when it is not a layer type cove knows.
pub fn layer_compression(media_type: &str) -> Option<Compression> {
    match media_type {
        MEDIA_TYPE_OCI_LAYER | MEDIA_TYPE_DOCKER_LAYER => Some(Compression::None),
        MEDIA_TYPE_OCI_LAYER_GZIP
        | MEDIA_TYPE_OCI_LAYER_NONDIST_GZIP
        | MEDIA_TYPE_DOCKER_LAYER_GZIP
        | MEDIA_TYPE_DOCKER_FOREIGN_LAYER_GZIP => Some(Compression::Gzip),
        MEDIA_TYPE_OCI_LAYER_ZSTD | MEDIA_TYPE_DOCKER_LAYER_ZSTD => Some(Compression::Zstd),
        _ => None,
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct DescriptorPlatform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_features: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<DescriptorPlatform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// A manifest as the registry sent it: the exact bytes matter, since the digest is theirs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawManifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: String,
}

/// A parsed manifest document of either kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParsedManifest {
    Image(Box<ImageManifest>),
    Index(ImageIndex),
}

/// Only what tells the kinds apart.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    #[serde(default)]
    schema_version: Option<u32>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<serde_json::Value>,
    #[serde(default)]
    config: Option<serde_json::Value>,
    #[serde(default)]
    fs_layers: Option<serde_json::Value>,
}

fn invalid(what: &str, why: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::InvalidData,
        format!("invalid manifest for {what}: {why}"),
    )
}

/// Parse `bytes` by its `mediaType` field, falling back to the Content-Type the registry sent
/// and then to the shape of the document. `what` names the image in messages.
pub fn parse_manifest(
    bytes: &[u8],
    content_type: &str,
    what: &str,
) -> Result<ParsedManifest, Error> {
    let probe: Probe = serde_json::from_slice(bytes).map_err(|e| invalid(what, e))?;
    let media_type = probe
        .media_type
        .clone()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| content_type.to_string());
    let schema1 = probe.schema_version == Some(1)
        || probe.fs_layers.is_some()
        || media_type == MEDIA_TYPE_DOCKER_SCHEMA1
        || media_type == MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED;
    if schema1 {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "unsupported manifest format for {what}: image manifest schema 1 is deprecated \
                 and not supported; push the image again with a current client"
            ),
        ));
    }
    let is_index = match media_type.as_str() {
        MEDIA_TYPE_OCI_INDEX | MEDIA_TYPE_DOCKER_LIST => true,
        MEDIA_TYPE_OCI_MANIFEST | MEDIA_TYPE_DOCKER_MANIFEST => false,
        _ => probe.manifests.is_some() && probe.config.is_none(),
    };
    if probe.schema_version != Some(2) {
        return Err(invalid(what, "schemaVersion is not 2"));
    }
    if is_index {
        let index: ImageIndex = serde_json::from_slice(bytes).map_err(|e| invalid(what, e))?;
        for d in &index.manifests {
            check_descriptor(d, what)?;
        }
        Ok(ParsedManifest::Index(index))
    } else {
        let m: ImageManifest = serde_json::from_slice(bytes).map_err(|e| invalid(what, e))?;
        check_descriptor(&m.config, what)?;
        for d in &m.layers {
            check_descriptor(d, what)?;
        }
        Ok(ParsedManifest::Image(Box::new(m)))
    }
}

fn check_descriptor(d: &Descriptor, what: &str) -> Result<(), Error> {
    if !is_valid_digest(&d.digest) {
        return Err(invalid(
            what,
            format!("unsupported or malformed digest {:?}", d.digest),
        ));
    }
    Ok(())
}

/// The media type a parsed manifest goes by: its own field, else the kind's OCI type.
pub fn effective_media_type(raw_content_type: &str, parsed: &ParsedManifest) -> String {
    let own = match parsed {
        ParsedManifest::Image(m) => m.media_type.clone(),
        ParsedManifest::Index(i) => i.media_type.clone(),
    };
    own.filter(|m| !m.is_empty())
        .or_else(|| {
            let ct = raw_content_type.trim();
            let known = [
                MEDIA_TYPE_OCI_INDEX,
                MEDIA_TYPE_OCI_MANIFEST,
                MEDIA_TYPE_DOCKER_LIST,
                MEDIA_TYPE_DOCKER_MANIFEST,
            ];
            known.contains(&ct).then(|| ct.to_string())
        })
        .unwrap_or_else(|| match parsed {
            ParsedManifest::Image(_) => MEDIA_TYPE_OCI_MANIFEST.to_string(),
            ParsedManifest::Index(_) => MEDIA_TYPE_OCI_INDEX.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_kinds() {
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{MEDIA_TYPE_DOCKER_MANIFEST}","config":{{"mediaType":"{MEDIA_TYPE_DOCKER_CONFIG}","digest":"{D}","size":7}},"layers":[{{"mediaType":"{MEDIA_TYPE_DOCKER_LAYER_GZIP}","digest":"{D}","size":9,"x":1}}],"extra":true}}"#
        );
        match parse_manifest(m.as_bytes(), "", "x").unwrap() {
            ParsedManifest::Image(m) => {
                assert_eq!(m.layers[0].size, 9);
                assert_eq!(
                    layer_compression(&m.layers[0].media_type),
                    Some(Compression::Gzip)
                );
            }
            other => panic!("{other:?}"),
        }
        // No mediaType field: the Content-Type decides.
        let i = format!(r#"{{"schemaVersion":2,"manifests":[{{"digest":"{D}","size":1}}]}}"#);
        let parsed = parse_manifest(i.as_bytes(), MEDIA_TYPE_DOCKER_LIST, "x").unwrap();
        assert!(matches!(parsed, ParsedManifest::Index(_)));
        assert_eq!(
            effective_media_type(MEDIA_TYPE_DOCKER_LIST, &parsed),
            MEDIA_TYPE_DOCKER_LIST
        );
        assert_eq!(
            effective_media_type("text/plain", &parsed),
            MEDIA_TYPE_OCI_INDEX
        );
    }

    #[test]
    fn rejects_bad_documents() {
        let s1 = r#"{"schemaVersion":1,"name":"x","fsLayers":[]}"#;
        let e = parse_manifest(s1.as_bytes(), MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED, "x:1").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.to_string().contains("schema 1"), "{e}");
        let bad_digest =
            r#"{"schemaVersion":2,"config":{"digest":"sha256:AB","size":1},"layers":[]}"#;
        let e = parse_manifest(bad_digest.as_bytes(), MEDIA_TYPE_OCI_MANIFEST, "x").unwrap_err();
        assert!(e.to_string().contains("malformed digest"), "{e}");
        let neg = format!(r#"{{"schemaVersion":2,"config":{{"digest":"{D}","size":-1}}}}"#);
        assert!(parse_manifest(neg.as_bytes(), MEDIA_TYPE_OCI_MANIFEST, "x").is_err());
        assert!(parse_manifest(b"not json", "", "x").is_err());
    }
}
