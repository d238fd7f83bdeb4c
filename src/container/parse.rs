//! Run-flag values that belong to the record: `--restart`, `--ulimit`, `--log-opt`,
//! `--add-host`, with docker's error texts.

use super::error::{Error, Result};
use super::record::{HostConfig, RestartPolicy, Ulimit};

impl RestartPolicy {
    /// `no`, `always`, `unless-stopped`, `on-failure[:N]` (docker's ParseRestartPolicy followed
    /// by the daemon's validation, with its messages).
    pub fn parse(value: &str) -> Result<RestartPolicy> {
        let (name, count) = match value.split_once(':') {
            Some(("", _)) => {
                return Err(Error::invalid(
                    "invalid restart policy format: no policy provided before colon",
                ))
            }
            Some((_, "")) => {
                return Err(Error::invalid(
                    "invalid restart policy format: maximum retry count must be an integer",
                ))
            }
            Some((name, count)) => (name, count),
            None => (value, ""),
        };
        let max: i64 = if count.is_empty() {
            0
        } else {
            count.parse().map_err(|_| {
                Error::invalid(
                    "invalid restart policy format: maximum retry count must be an integer",
                )
            })?
        };
        match name {
            "" | "no" | "always" | "unless-stopped" => {
                if max != 0 {
                    let mut msg = String::from(
                        "invalid restart policy: maximum retry count can only be used with 'on-failure'",
                    );
                    if max < 0 {
                        msg.push_str(" and cannot be negative");
                    }
                    return Err(Error::Other(msg));
                }
                let name = if name.is_empty() { "no" } else { name };
                Ok(RestartPolicy {
                    name: name.into(),
                    max_retry: 0,
                })
            }
            "on-failure" => {
                let max_retry = u32::try_from(max).map_err(|_| {
                    Error::invalid("invalid restart policy: maximum retry count cannot be negative")
                })?;
                Ok(RestartPolicy {
                    name: name.into(),
                    max_retry,
                })
            }
            other => Err(Error::Other(format!(
                "invalid restart policy: unknown policy '{other}'; use one of 'no', 'always', \
                 'on-failure', or 'unless-stopped'"
            ))),
        }
    }

    /// Whether a container that just exited with `exit_code` is started again, given how
    /// often it was restarted already and whether a `stop` by the user ended it.
    pub fn should_restart(
        &self,
        exit_code: i32,
        restart_count: u32,
        stopped_by_user: bool,
    ) -> bool {
        if stopped_by_user {
            return false;
        }
        match self.name.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => {
                exit_code != 0 && (self.max_retry == 0 || restart_count < self.max_retry)
            }
            _ => false,
        }
    }
}

impl Ulimit {
    /// "nofile=1024:2048", "nproc=512" (hard = soft when one value), as go-units' ParseUlimit.
    pub fn parse(value: &str) -> Result<Ulimit> {
        let Some((name, limits)) = value.split_once('=') else {
            return Err(Error::Other(format!("invalid ulimit argument: {value}")));
        };
        if !crate::sandbox::is_known_rlimit(name) {
            return Err(Error::Other(format!("invalid ulimit type: {name}")));
        }
        let num = |s: &str| {
            s.parse::<i64>().map_err(|_| {
                Error::Other(format!("strconv.ParseInt: parsing {s:?}: invalid syntax"))
            })
        };
        let parts: Vec<&str> = limits.split(':').collect();
        let (soft, hard) = match parts.as_slice() {
            [soft] => (num(soft)?, num(soft)?),
            [soft, hard] => (num(soft)?, num(hard)?),
            _ => {
                return Err(Error::Other(format!(
                "too many limit value arguments - {limits}, can only have up to two, `soft[:hard]`"
            )))
            }
        };
        if hard != -1 && soft > hard {
            return Err(Error::Other(format!(
                "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            )));
        }
        Ok(Ulimit {
            name: name.into(),
            soft,
            hard,
        })
    }
}

/// docker's RAMInBytes: "10m" = 10 MiB; "512", "1.5g", "64kb", "2MiB" too.
pub fn parse_size(value: &str) -> Result<u64> {
    let bad = || Error::Other(format!("invalid size: '{value}'"));
    let s = value.trim();
    let n = s
        .bytes()
        .take_while(|c| c.is_ascii_digit() || *c == b'.')
        .count();
    let number: f64 = s[..n].parse().map_err(|_| bad())?;
    let unit = s[n..].trim_start_matches(' ').to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mult: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return Err(bad()),
    };
    let bytes = number * mult as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(bad());
    }
    // Non-negative (digits and dots only) and below u64::MAX: the cast only drops the fraction.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(bytes as u64)
}

/// One `--log-opt key=value` (max-size, max-file; podman's path of the log file), parsed
/// into `host` and kept as typed for inspect. The driver must be set first.
pub fn parse_log_opt(host: &mut HostConfig, opt: &str) -> Result<()> {
    let Some((key, value)) = opt.split_once('=') else {
        return Err(Error::Other(format!("invalid log opt format: {opt}")));
    };
    match key {
        "path" => {
            // The monitor runs in "/", and a relative name would be read from wherever `logs`
            // is run: only an absolute path means one file.
            if !value.starts_with('/') {
                return Err(Error::invalid(format!(
                    "log-opt path must be an absolute path: {value:?}"
                )));
            }
        }
        "max-size" => {
            let size = parse_size(value)?;
            if size == 0 {
                return Err(Error::invalid("max-size must be a positive number"));
            }
            host.log_max_size = size;
        }
        "max-file" => match value.parse::<i64>() {
            Ok(n) if n >= 1 => host.log_max_file = u32::try_from(n).unwrap_or(u32::MAX),
            Ok(_) => return Err(Error::invalid("max-file cannot be less than 1")),
            Err(_) => {
                return Err(Error::Other(format!(
                    "strconv.Atoi: parsing {value:?}: invalid syntax"
                )))
            }
        },
        _ => {
            return Err(Error::Other(format!(
                "unknown log opt '{key}' for {} log driver",
                host.log_config.driver.as_str()
            )))
        }
    }
    host.log_config
        .config
        .insert(key.to_string(), value.to_string());
    Ok(())
}

/// `--add-host name:ip` (also `name=ip`) -> (name, ip); the IP may be IPv6, hence the first
/// separator splits. Brackets around an IPv6 address are accepted.
pub fn parse_extra_host(value: &str) -> Result<(String, String)> {
    let sep = value.find(['=', ':']);
    let Some(i) = sep.filter(|&i| i > 0) else {
        return Err(Error::Other(format!("bad format for add-host: {value:?}")));
    };
    let (name, ip) = (&value[..i], &value[i + 1..]);
    let ip = ip
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(ip);
    if ip.parse::<std::net::IpAddr>().is_err() {
        return Err(Error::Other(format!(
            "invalid IP address in add-host: {ip:?}"
        )));
    }
    Ok((name.to_string(), ip.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err<T: std::fmt::Debug>(r: Result<T>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn restart_policies() {
        assert_eq!(RestartPolicy::parse("no").unwrap().name, "no");
        assert_eq!(RestartPolicy::parse("always").unwrap().name, "always");
        assert_eq!(
            RestartPolicy::parse("unless-stopped").unwrap().name,
            "unless-stopped"
        );
        let p = RestartPolicy::parse("on-failure:2").unwrap();
        assert_eq!((p.name.as_str(), p.max_retry), ("on-failure", 2));
        assert_eq!(RestartPolicy::parse("on-failure").unwrap().max_retry, 0);
        assert_eq!(
            RestartPolicy::parse("on-failure:").unwrap_err().to_string(),
            "invalid restart policy format: maximum retry count must be an integer"
        );
        assert_eq!(
            err(RestartPolicy::parse("sometimes")),
            "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
        );
        assert_eq!(
            err(RestartPolicy::parse("always:3")),
            "invalid restart policy: maximum retry count can only be used with 'on-failure'"
        );
        assert_eq!(
            err(RestartPolicy::parse("on-failure:x")),
            "invalid restart policy format: maximum retry count must be an integer"
        );
        assert_eq!(
            err(RestartPolicy::parse("on-failure:-1")),
            "invalid restart policy: maximum retry count cannot be negative"
        );
        assert_eq!(
            err(RestartPolicy::parse(":1")),
            "invalid restart policy format: no policy provided before colon"
        );
    }

    #[test]
    fn restart_decisions() {
        let on_failure = RestartPolicy::parse("on-failure:2").unwrap();
        assert!(on_failure.should_restart(1, 0, false));
        assert!(on_failure.should_restart(1, 1, false));
        assert!(!on_failure.should_restart(1, 2, false));
        assert!(!on_failure.should_restart(0, 0, false));
        let always = RestartPolicy::parse("always").unwrap();
        assert!(always.should_restart(0, 99, false));
        assert!(!always.should_restart(0, 0, true));
        assert!(!RestartPolicy::default().should_restart(1, 0, false));
    }

    #[test]
    fn ulimits() {
        assert_eq!(
            Ulimit::parse("nofile=1024:2048").unwrap(),
            Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 2048
            }
        );
        assert_eq!(
            Ulimit::parse("nproc=512").unwrap(),
            Ulimit {
                name: "nproc".into(),
                soft: 512,
                hard: 512
            }
        );
        assert_eq!(Ulimit::parse("core=-1").unwrap().hard, -1);
        assert_eq!(
            err(Ulimit::parse("nofile")),
            "invalid ulimit argument: nofile"
        );
        assert_eq!(err(Ulimit::parse("files=1")), "invalid ulimit type: files");
        assert_eq!(
            err(Ulimit::parse("nofile=2048:1024")),
            "ulimit soft limit must be less than or equal to hard limit: 2048 > 1024"
        );
        assert_eq!(
            err(Ulimit::parse("nofile=x")),
            "strconv.ParseInt: parsing \"x\": invalid syntax"
        );
        assert!(err(Ulimit::parse("nofile=1:2:3")).starts_with("too many limit value arguments"));
    }

    #[test]
    fn log_opts_and_sizes() {
        assert_eq!(parse_size("10m").unwrap(), 10 << 20);
        assert_eq!(parse_size("512").unwrap(), 512);
        assert_eq!(parse_size("1.5k").unwrap(), 1536);
        assert_eq!(parse_size("2MiB").unwrap(), 2 << 20);
        assert_eq!(parse_size("64kb").unwrap(), 64 << 10);
        assert_eq!(err(parse_size("lots")), "invalid size: 'lots'");
        let mut host = HostConfig::default();
        assert_eq!((host.log_max_size, host.log_max_file), (10 << 20, 3));
        parse_log_opt(&mut host, "max-size=1k").unwrap();
        parse_log_opt(&mut host, "max-file=5").unwrap();
        assert_eq!((host.log_max_size, host.log_max_file), (1024, 5));
        assert_eq!(
            err(parse_log_opt(&mut host, "max-file=0")),
            "max-file cannot be less than 1"
        );
        assert_eq!(
            err(parse_log_opt(&mut host, "mode=blocking")),
            "unknown log opt 'mode' for json-file log driver"
        );
        assert_eq!(
            err(parse_log_opt(&mut host, "path=ctr.log")),
            "log-opt path must be an absolute path: \"ctr.log\""
        );
        parse_log_opt(&mut host, "path=/var/log/web.log").unwrap();
        let typed: Vec<_> = host.log_config.config.iter().collect();
        let (size, file, path) = (
            "1k".to_string(),
            "5".to_string(),
            "/var/log/web.log".to_string(),
        );
        assert_eq!(
            typed,
            [
                (&"max-file".to_string(), &file),
                (&"max-size".to_string(), &size),
                (&"path".to_string(), &path)
            ]
        );
    }

    #[test]
    fn extra_hosts() {
        let p = |s| parse_extra_host(s).unwrap();
        assert_eq!(p("db:10.0.0.2"), ("db".into(), "10.0.0.2".into()));
        assert_eq!(p("db=10.0.0.2"), ("db".into(), "10.0.0.2".into()));
        assert_eq!(p("v6:::1"), ("v6".into(), "::1".into()));
        assert_eq!(p("v6:[fe80::1]"), ("v6".into(), "fe80::1".into()));
        assert_eq!(
            err(parse_extra_host("nohost")),
            "bad format for add-host: \"nohost\""
        );
        assert_eq!(
            err(parse_extra_host("db:notanip")),
            "invalid IP address in add-host: \"notanip\""
        );
    }
}
