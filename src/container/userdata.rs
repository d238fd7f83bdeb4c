//! The per-container /etc/hosts, /etc/hostname and /etc/resolv.conf, written at create into
//! `<root>/containers/<id>/userdata/` and bind-mounted by the sandbox.

use std::fs;
use std::path::Path;

use super::error::{Error, Result};
use super::layout::userdata_dir;
use super::parse::parse_extra_host;
use super::record::ContainerRecord;
use crate::fsutil::write_atomic;
use crate::paths::Paths;

/// The file mounted on /run/.containerenv.
pub const CONTAINERENV: &str = "containerenv";

const HOST_RESOLV: &str = "/etc/resolv.conf";
const RESOLVED_UPSTREAM: &str = "/run/systemd/resolve/resolv.conf";

/// The hostname the container sees: `--hostname`, else the short ID, as docker does.
pub fn hostname(rec: &ContainerRecord) -> String {
    if rec.config.hostname.is_empty() {
        rec.short_id().to_string()
    } else {
        rec.config.hostname.clone()
    }
}

/// Writes hosts, hostname and resolv.conf for `rec`.
pub fn create_userdata(paths: &Paths, rec: &ContainerRecord) -> Result<()> {
    let dir = userdata_dir(paths, &rec.id);
    fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create userdata directory", &dir, e))?;
    let hosts = render_hosts(&hostname(rec), &rec.host.extra_hosts)?;
    write(&dir.join("hosts"), hosts.as_bytes())?;
    write(
        &dir.join("hostname"),
        format!("{}\n", hostname(rec)).as_bytes(),
    )?;
    let host_conf = fs::read_to_string(HOST_RESOLV).unwrap_or_default();
    let upstream = Path::new(RESOLVED_UPSTREAM);
    let mut resolv = pick_resolv(&host_conf, || fs::read_to_string(upstream).ok());
    let h = &rec.host;
    if !h.dns.is_empty() || !h.dns_search.is_empty() || !h.dns_options.is_empty() {
        resolv = override_resolv(&resolv, &h.dns, &h.dns_search, &h.dns_options);
    }
    write(&dir.join("resolv.conf"), resolv.as_bytes())?;
    write(&dir.join(CONTAINERENV), containerenv(paths, rec).as_bytes())
}

/// podman's /run/.containerenv: what the container is, for a privileged one; empty otherwise.
fn containerenv(paths: &Paths, rec: &ContainerRecord) -> String {
    if !rec.host.privileged {
        return String::new();
    }
    format!(
        "engine=\"cove-{}\"\nname={:?}\nid={:?}\nimage={:?}\nimageid={:?}\nrootless={}\n",
        env!("CARGO_PKG_VERSION"),
        rec.name,
        rec.id,
        rec.image_name,
        rec.image.trim_start_matches("sha256:"),
        u8::from(paths.rootless),
    )
}

fn write(path: &Path, data: &[u8]) -> Result<()> {
    write_atomic(path, data).map_err(|e| Error::io("cannot write", path, e))
}

/// docker's default hosts file; the container's own name resolves to loopback because the
/// network is the host's (or none) until the networking issue gives it an address.
pub fn render_hosts(hostname: &str, extra_hosts: &[String]) -> Result<String> {
    let mut out = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
         ff02::2\tip6-allrouters\n",
    );
    for entry in extra_hosts {
        let (name, ip) = parse_extra_host(entry)?;
        out.push_str(&format!("{ip}\t{name}\n"));
    }
    out.push_str(&format!("127.0.0.1\t{hostname}\n"));
    Ok(out)
}

/// The host's resolv.conf; when it only names systemd-resolved's stub (127.0.0.53), the
/// upstream file that resolved itself uses, when there is one.
pub fn pick_resolv(host_conf: &str, upstream: impl FnOnce() -> Option<String>) -> String {
    let servers: Vec<&str> = host_conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .map(str::trim)
        .collect();
    if !servers.is_empty() && servers.iter().all(|s| *s == "127.0.0.53") {
        if let Some(up) = upstream() {
            return up;
        }
    }
    host_conf.to_string()
}

/// `--dns`, `--dns-search`, `--dns-option` replace the matching lines of the base file.
fn override_resolv(base: &str, dns: &[String], search: &[String], options: &[String]) -> String {
    let mut out = String::new();
    for line in base.lines() {
        let key = line.split_whitespace().next().unwrap_or("");
        let replaced = (key == "nameserver" && !dns.is_empty())
            || ((key == "search" || key == "domain") && !search.is_empty())
            || (key == "options" && !options.is_empty());
        if !replaced {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    for server in dns {
        out.push_str(&format!("nameserver {server}\n"));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_file() {
        let hosts = render_hosts("web", &["db:10.0.0.2".into(), "v6:::1".into()]).unwrap();
        assert!(
            hosts.starts_with("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
        );
        assert!(hosts.contains("10.0.0.2\tdb\n") && hosts.contains("::1\tv6\n"));
        assert!(hosts.ends_with("127.0.0.1\tweb\n"));
        assert!(render_hosts("web", &["broken".into()]).is_err());
    }

    #[test]
    fn resolved_stub_is_replaced_by_its_upstream() {
        let stub = "# managed\nnameserver 127.0.0.53\noptions edns0\n";
        let up = || Some("nameserver 10.1.1.1\n".to_string());
        assert_eq!(pick_resolv(stub, up), "nameserver 10.1.1.1\n");
        assert_eq!(pick_resolv(stub, || None), stub);
        let plain = "nameserver 1.1.1.1\n";
        assert_eq!(pick_resolv(plain, up), plain);
    }

    #[test]
    fn dns_flags_override() {
        let base = "search lan\nnameserver 1.1.1.1\noptions ndots:2\n";
        let out = override_resolv(base, &["9.9.9.9".into()], &[], &[]);
        assert_eq!(out, "search lan\noptions ndots:2\nnameserver 9.9.9.9\n");
    }

    #[test]
    fn files_written() {
        let root = std::env::temp_dir().join(format!("cove-userdata-{}", std::process::id()));
        let paths = Paths::under(&root);
        let mut rec = ContainerRecord {
            id: "ab".repeat(32),
            ..ContainerRecord::default()
        };
        rec.host.extra_hosts = vec!["db:10.0.0.2".into()];
        create_userdata(&paths, &rec).unwrap();
        let dir = userdata_dir(&paths, &rec.id);
        assert_eq!(
            fs::read_to_string(dir.join("hostname")).unwrap(),
            "abababababab\n"
        );
        assert!(fs::read_to_string(dir.join("hosts"))
            .unwrap()
            .contains("10.0.0.2\tdb"));
        assert!(dir.join("resolv.conf").is_file());
        fs::remove_dir_all(&root).unwrap();
    }
}
