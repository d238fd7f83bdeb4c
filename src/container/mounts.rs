//! Parsing `-v`, `--mount`, `--tmpfs` and `--device` as docker does, into host-checked values.

use std::path::{Path, PathBuf};

use super::{Error, MountArg, Result};

/// One bind from `-v SRC:DST[:OPTS]` or `--mount type=bind,...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bind {
    pub source: PathBuf,
    pub target: String,
    pub read_only: bool,
}

/// `-v /host:/ctr[:ro|rw|z|Z|...]`. The host side must be absolute (cove has no named
/// volumes); a missing host directory is created, as docker does for `-v`.
pub fn parse_volume(spec: &str) -> Result<Bind> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        [s, d] => (*s, *d, ""),
        [s, d, o] => (*s, *d, *o),
        _ => {
            return Err(Error::invalid(format!(
                "invalid volume specification: '{spec}'"
            )))
        }
    };
    if !src.starts_with('/') {
        return Err(Error::invalid(format!(
            "invalid volume specification: '{spec}': named volumes are not supported yet, use an absolute host path"
        )));
    }
    if !dst.starts_with('/') {
        return Err(Error::invalid(format!(
            "invalid volume specification: '{spec}': mount path must be absolute"
        )));
    }
    refuse_proc(dst)?;
    let mut read_only = false;
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => read_only = true,
            "rw" => read_only = false,
            "z" | "Z" | "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave"
            | "nocopy" | "consistent" | "cached" | "delegated" => {}
            other => {
                return Err(Error::invalid(format!(
                    "invalid mode: {other} in volume specification '{spec}'"
                )))
            }
        }
    }
    Ok(Bind {
        source: PathBuf::from(src),
        target: dst.to_string(),
        read_only,
    })
}

/// `--mount type=bind,source=/a,target=/b[,readonly]` or `type=tmpfs,target=/t[,tmpfs-size=N]`.
pub fn parse_mount(spec: &str) -> Result<MountArg> {
    let mut m = MountArg {
        kind: "volume".into(),
        ..Default::default()
    };
    for field in spec.split(',') {
        let (k, v) = field.split_once('=').unwrap_or((field, ""));
        match k {
            "type" => m.kind = v.to_string(),
            "source" | "src" => m.source = v.to_string(),
            "target" | "destination" | "dst" => m.target = v.to_string(),
            "readonly" | "ro" => {
                m.read_only = match v {
                    "" | "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
                    "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
                    _ => return Err(Error::invalid(format!("invalid value for {k}: {v}"))),
                }
            }
            "bind-propagation" => match v {
                "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" => {}
                _ => return Err(Error::invalid(format!("invalid propagation mode: {v}"))),
            },
            "consistency" => {}
            "tmpfs-size" => m.options.push(format!("size={v}")),
            "tmpfs-mode" => m.options.push(format!("mode={v}")),
            _ => {
                return Err(Error::invalid(format!(
                    "invalid field '{k}' in --mount {spec}"
                )))
            }
        }
    }
    if m.target.is_empty() || !m.target.starts_with('/') {
        return Err(Error::invalid(format!(
            "invalid mount config: target must be an absolute path: {spec}"
        )));
    }
    refuse_proc(&m.target)?;
    match m.kind.as_str() {
        "bind" => {
            if !m.source.starts_with('/') {
                return Err(Error::invalid(format!(
                    "invalid mount config for type \"bind\": source must be an absolute path: {spec}"
                )));
            }
            if !Path::new(&m.source).exists() {
                return Err(Error::invalid(format!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {}",
                    m.source
                )));
            }
        }
        "tmpfs" => {}
        other => {
            return Err(Error::invalid(format!(
                "mount type \"{other}\" is not supported yet (bind and tmpfs are)"
            )))
        }
    }
    Ok(m)
}

/// Nothing may be mounted over the container's /proc (docker's daemon refuses it too): it would
/// hide the masks on /proc's sensitive files.
fn refuse_proc(target: &str) -> Result<()> {
    let mut clean = PathBuf::from("/");
    for part in Path::new(target).components() {
        match part {
            std::path::Component::Normal(p) => clean.push(p),
            std::path::Component::ParentDir => {
                clean.pop();
            }
            _ => {}
        }
    }
    if clean.starts_with("/proc") {
        return Err(Error::invalid(format!(
            "invalid mount config: \"{target}\" cannot be mounted because it is located inside \"/proc\""
        )));
    }
    Ok(())
}

/// `--tmpfs /dir[:opts]` -> (target, options).
pub fn parse_tmpfs(spec: &str) -> Result<(String, String)> {
    let (dir, opts) = spec.split_once(':').unwrap_or((spec, ""));
    if !dir.starts_with('/') {
        return Err(Error::invalid(format!(
            "invalid tmpfs specification: '{spec}': mount path must be absolute"
        )));
    }
    refuse_proc(dir)?;
    Ok((dir.to_string(), opts.to_string()))
}

/// `--device /dev/x[:/dev/y[:rwm]]` -> (host, container, permissions).
pub fn parse_device(spec: &str) -> Result<(PathBuf, String, String)> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (host, ctr, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, c] if c.starts_with('/') => (*h, *c, "rwm"),
        [h, p] => (*h, *h, *p),
        [h, c, p] => (*h, *c, *p),
        _ => {
            return Err(Error::invalid(format!(
                "invalid device specification: {spec}"
            )))
        }
    };
    if !host.starts_with('/') || !ctr.starts_with('/') {
        return Err(Error::invalid(format!(
            "invalid device specification: {spec}"
        )));
    }
    if perms.is_empty() || !perms.chars().all(|c| "rwm".contains(c)) {
        return Err(Error::invalid(format!("invalid device mode: {perms}")));
    }
    if !Path::new(host).exists() {
        return Err(Error::invalid(format!(
            "error gathering device information while adding custom device \"{host}\": no such file or directory"
        )));
    }
    Ok((PathBuf::from(host), ctr.to_string(), perms.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_values_are_refused_not_ignored() {
        let err = |spec: &str| parse_mount(spec).unwrap_err().to_string();
        assert_eq!(
            err("type=bind,src=/tmp,dst=/x,ro=maybe"),
            "invalid value for ro: maybe"
        );
        assert!(
            !parse_mount("type=bind,src=/tmp,dst=/x,readonly=false")
                .unwrap()
                .read_only
        );
        assert!(
            parse_mount("type=bind,src=/tmp,dst=/x,readonly")
                .unwrap()
                .read_only
        );
        assert_eq!(
            err("type=bind,src=/tmp,dst=/x,bind-propagation=zz"),
            "invalid propagation mode: zz"
        );
        assert!(parse_mount("type=bind,src=/tmp,dst=/x,bind-propagation=rslave").is_ok());
        let proc = "invalid mount config: \"/proc\" cannot be mounted because it is located inside \"/proc\"";
        assert_eq!(parse_volume("/tmp:/proc").unwrap_err().to_string(), proc);
        assert!(parse_volume("/tmp:/proc/sys/x").is_err());
        assert!(parse_volume("/tmp:/x/../proc").is_err());
        assert!(parse_volume("/tmp:/proc/../data").is_ok());
        assert!(parse_volume("/tmp:/process").is_ok());
        assert!(parse_mount("type=tmpfs,dst=/proc/x").is_err());
        assert!(parse_tmpfs("/proc").is_err());
    }

    #[test]
    fn volumes() {
        let b = parse_volume("/tmp:/data:ro").unwrap();
        assert_eq!((b.target.as_str(), b.read_only), ("/data", true));
        assert!(!parse_volume("/tmp:/data:z").unwrap().read_only);
        assert!(parse_volume("name:/data").is_err());
        assert!(parse_volume("/tmp:data").is_err());
        assert!(parse_volume("/tmp:/d:bogus").is_err());
    }

    #[test]
    fn mounts_and_tmpfs() {
        let m = parse_mount("type=bind,source=/tmp,target=/t,readonly").unwrap();
        assert!(m.read_only && m.kind == "bind");
        assert!(parse_mount("type=bind,source=/nonexistent-x,target=/t").is_err());
        assert!(parse_mount("type=tmpfs,target=/t,tmpfs-size=1m").is_ok());
        assert_eq!(parse_tmpfs("/run:size=1m").unwrap().1, "size=1m");
        assert!(parse_tmpfs("run").is_err());
    }

    #[test]
    fn devices() {
        assert_eq!(parse_device("/dev/null").unwrap().1, "/dev/null");
        assert_eq!(parse_device("/dev/null:/dev/x:r").unwrap().2, "r");
        assert!(parse_device("/dev/null:q").is_err());
    }
}
