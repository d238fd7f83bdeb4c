//! Signal names as docker takes them: "SIGTERM", "TERM", "term" or "15".

use std::str::FromStr;

use nix::sys::signal::Signal;

use super::{Error, Result};

pub fn parse_signal(value: &str) -> Result<Signal> {
    let bad = || Error::Other(format!("invalid signal: {value}"));
    if let Ok(n) = value.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad());
    }
    let upper = value.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_spellings() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("kill").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("HUP").unwrap(), Signal::SIGHUP);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("99").is_err());
    }
}
