#!/usr/bin/env python3
"""Write a one-layer OCI image layout around a gzip-compressed rootfs tar.

usage: mklayout.py LAYER_TAR LAYER_TAR_GZ OUT_DIR

LAYER_TAR is the uncompressed tar (its sha256 is the config's diff_id);
LAYER_TAR_GZ is the same tar gzip-compressed (the blob that is pushed).
The layout is written to OUT_DIR with the ref name "latest".
"""
import hashlib
import json
import os
import shutil
import sys


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def put_blob(blobs, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + digest, "size": len(data)}


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def main(argv):
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    tar, gz, out = argv[1:]
    shutil.rmtree(out, ignore_errors=True)
    blobs = os.path.join(out, "blobs", "sha256")
    os.makedirs(blobs)

    diff_id = "sha256:" + sha256_file(tar)
    layer_digest = sha256_file(gz)
    shutil.copyfile(gz, os.path.join(blobs, layer_digest))
    layer = {
        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
        "digest": "sha256:" + layer_digest,
        "size": os.path.getsize(gz),
    }

    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2025-01-01T00:00:00Z",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["bash"],
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [
            {
                "created": "2025-01-01T00:00:00Z",
                "created_by": "debootstrap --variant=minbase bookworm",
            }
        ],
    }
    config_desc = put_blob(blobs, canonical(config))
    config_desc["mediaType"] = "application/vnd.oci.image.config.v1+json"

    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_desc,
        "layers": [layer],
    }
    manifest_desc = put_blob(blobs, canonical(manifest))
    manifest_desc["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
    manifest_desc["annotations"] = {"org.opencontainers.image.ref.name": "latest"}

    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [manifest_desc],
    }
    with open(os.path.join(out, "index.json"), "wb") as f:
        f.write(canonical(index))
    with open(os.path.join(out, "oci-layout"), "wb") as f:
        f.write(canonical({"imageLayoutVersion": "1.0.0"}))
    print(layer["digest"], layer["size"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
