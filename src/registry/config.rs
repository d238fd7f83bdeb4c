//! registries.conf (containers' TOML v2 format): search registries, insecure and blocked
//! registries, and mirrors. Unknown keys are ignored so podman's files load unchanged.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Error, ErrorKind};
use crate::paths::Paths;

const CONF_NAME: &str = "registries.conf";
const MAX_CONF_BYTES: u64 = 1 << 20;

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct Mirror {
    /// "host[:port][/path]": the mirror's repository path replaces the registry's prefix.
    pub location: String,
    #[serde(default)]
    pub insecure: bool,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct Registry {
    /// What image names this entry applies to; defaults to `location`. May start with "*.".
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub insecure: bool,
    #[serde(default)]
    pub blocked: bool,
    #[serde(default)]
    pub mirror: Vec<Mirror>,
}

impl Registry {
    fn prefix(&self) -> &str {
        self.prefix.as_deref().unwrap_or(&self.location)
    }

    /// Whether this entry covers `name` ("host/path"), and how specific the match is.
    fn matches(&self, name: &str) -> Option<usize> {
        let prefix = self.prefix();
        if let Some(suffix) = prefix.strip_prefix("*.") {
            let host = name.split('/').next().unwrap_or(name);
            return host
                .ends_with(&format!(".{suffix}"))
                .then_some(prefix.len());
        }
        if prefix.is_empty() {
            return None;
        }
        let covered = name == prefix
            || name
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'));
        covered.then_some(prefix.len())
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
struct ConfFile {
    #[serde(default)]
    unqualified_search_registries: Option<Vec<String>>,
    #[serde(default)]
    registry: Vec<Registry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistriesConf {
    search: Vec<String>,
    registries: Vec<Registry>,
}

impl Default for RegistriesConf {
    fn default() -> Self {
        RegistriesConf {
            search: vec!["docker.io".to_string()],
            registries: Vec::new(),
        }
    }
}

impl RegistriesConf {
    /// The first registries.conf found in the config directories, plus the drop-ins in its
    /// `registries.conf.d/` (in name order, later ones win). No file means the defaults.
    pub fn load(paths: &Paths) -> Result<RegistriesConf, Error> {
        let mut conf = RegistriesConf::default();
        // Like podman, CONTAINERS_REGISTRIES_CONF names the file outright.
        let named = std::env::var_os("CONTAINERS_REGISTRIES_CONF")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let Some(main) = named.or_else(|| paths.config_file(CONF_NAME)) else {
            return Ok(conf);
        };
        conf.merge(parse_file(&main)?);
        let dropin_dir = main.with_file_name("registries.conf.d");
        let mut dropins: Vec<PathBuf> = match std::fs::read_dir(&dropin_dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "conf") && p.is_file())
                .collect(),
            Err(_) => Vec::new(),
        };
        dropins.sort();
        for path in dropins {
            conf.merge(parse_file(&path)?);
        }
        Ok(conf)
    }

    #[cfg(test)]
    pub fn from_toml(text: &str) -> Result<RegistriesConf, Error> {
        let mut conf = RegistriesConf::default();
        conf.merge(parse_text(text, "registries.conf")?);
        Ok(conf)
    }

    fn merge(&mut self, file: ConfFile) {
        if let Some(search) = file.unqualified_search_registries {
            self.search = search;
        }
        for reg in file.registry {
            self.registries.retain(|r| r.prefix() != reg.prefix());
            self.registries.push(reg);
        }
    }

    /// Registries tried for short names, in order; the first one is used.
    pub fn unqualified_search_registries(&self) -> &[String] {
        &self.search
    }

    /// The most specific `[[registry]]` entry covering `name` ("host/path" or just "host").
    pub fn find(&self, name: &str) -> Option<&Registry> {
        self.registries
            .iter()
            .filter_map(|r| r.matches(name).map(|n| (n, r)))
            .max_by_key(|(n, _)| *n)
            .map(|(_, r)| r)
    }

    /// Whether `host` ("host[:port]") may be reached over plain HTTP: loopback always, else
    /// when an entry (or a mirror entry) for it says `insecure = true`.
    pub fn is_insecure(&self, host: &str) -> bool {
        if is_loopback(host) {
            return true;
        }
        if self.find(host).is_some_and(|r| r.insecure) {
            return true;
        }
        self.registries
            .iter()
            .flat_map(|r| r.mirror.iter())
            .any(|m| m.insecure && location_host(&m.location) == host)
    }

    pub fn is_blocked(&self, name: &str) -> bool {
        self.find(name).is_some_and(|r| r.blocked)
    }

    /// Mirrors to try, in order, before the registry itself. The client takes them from
    /// the entry `find` returns for the whole name, which is more specific than a host.
    #[cfg(test)]
    pub fn mirrors(&self, host: &str) -> Vec<Mirror> {
        self.find(host)
            .map(|r| r.mirror.clone())
            .unwrap_or_default()
    }
}

/// The "host[:port]" part of a registries.conf location.
pub(crate) fn location_host(location: &str) -> &str {
    location.split('/').next().unwrap_or(location)
}

/// localhost, 127.0.0.0/8 and ::1, with or without a port, bracketed or not.
pub(crate) fn is_loopback(host: &str) -> bool {
    let bare = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else if host.matches(':').count() == 1 {
        host.split(':').next().unwrap_or(host)
    } else {
        host
    };
    if bare.eq_ignore_ascii_case("localhost") {
        return true;
    }
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn parse_file(path: &Path) -> Result<ConfFile, Error> {
    use std::io::Read;
    let mut text = String::new();
    let read =
        std::fs::File::open(path).and_then(|f| f.take(MAX_CONF_BYTES).read_to_string(&mut text));
    if let Err(e) = read {
        return Err(Error::new(
            ErrorKind::Config,
            format!("cannot read {}: {e}", path.display()),
        ));
    }
    parse_text(&text, &path.display().to_string())
}

fn parse_text(text: &str, what: &str) -> Result<ConfFile, Error> {
    toml::from_str::<ConfFile>(text).map_err(|e| {
        let msg = e.message().to_string();
        Error::new(ErrorKind::Config, format!("cannot parse {what}: {msg}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
unqualified-search-registries = ["registry.example.com", "docker.io"]
short-name-mode = "enforcing"

[[registry]]
location = "docker.io"
[[registry.mirror]]
location = "mirror.example.com:5000/hub"
insecure = true
[[registry.mirror]]
location = "mirror2.example.com"

[[registry]]
location = "plain.example.com:8080"
insecure = true

[[registry]]
prefix = "*.blocked.org"
location = "nothing"
blocked = true

[aliases]
"foo" = "quay.io/foo"
"#;

    #[test]
    fn parses_sample() {
        let c = RegistriesConf::from_toml(SAMPLE).unwrap();
        assert_eq!(
            c.unqualified_search_registries(),
            ["registry.example.com", "docker.io"]
        );
        let m = c.mirrors("docker.io");
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].location, "mirror.example.com:5000/hub");
        assert!(m[0].insecure && !m[1].insecure);
        assert!(c.mirrors("quay.io").is_empty());
        assert!(c.is_insecure("plain.example.com:8080"));
        assert!(!c.is_insecure("plain.example.com"));
        assert!(c.is_insecure("mirror.example.com:5000"));
        assert!(!c.is_insecure("docker.io"));
        assert!(c.is_blocked("x.blocked.org/a/b"));
        assert!(!c.is_blocked("blocked.org/a"));
    }

    #[test]
    fn defaults_and_errors() {
        let c = RegistriesConf::from_toml("").unwrap();
        assert_eq!(c, RegistriesConf::default());
        assert_eq!(c.unqualified_search_registries(), ["docker.io"]);
        let e = RegistriesConf::from_toml("unqualified-search-registries = 3").unwrap_err();
        assert!(
            e.to_string().starts_with("cannot parse registries.conf: "),
            "{e}"
        );
    }

    #[test]
    fn loopback() {
        for h in [
            "localhost",
            "localhost:5000",
            "127.0.0.1",
            "127.1.2.3:80",
            "::1",
            "[::1]:5000",
        ] {
            assert!(is_loopback(h), "{h}");
            assert!(RegistriesConf::default().is_insecure(h), "{h}");
        }
        for h in [
            "docker.io",
            "10.0.0.1:5000",
            "localhost.example.com",
            "[::2]:1",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn loads_dropins() {
        let dir = std::env::temp_dir().join(format!("cove-regconf-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("registries.conf.d")).unwrap();
        std::fs::write(dir.join("registries.conf"), SAMPLE).unwrap();
        std::fs::write(
            dir.join("registries.conf.d/50-x.conf"),
            "unqualified-search-registries = [\"quay.io\"]\n[[registry]]\nlocation = \"docker.io\"\nblocked = true\n",
        )
        .unwrap();
        let paths = Paths {
            config_dirs: vec![dir.join("missing"), dir.clone()],
            ..Paths::under(&dir)
        };
        let c = RegistriesConf::load(&paths).unwrap();
        assert_eq!(c.unqualified_search_registries(), ["quay.io"]);
        assert!(c.is_blocked("docker.io/library/busybox"));
        assert!(c.mirrors("docker.io").is_empty());
        assert!(c.is_insecure("plain.example.com:8080"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
