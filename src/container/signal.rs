//! Signal names as docker and podman take them: "SIGTERM", "TERM", "term", "15", and the
//! real-time ones the kernel knows ("RTMIN+3", "SIGRTMAX-1", "64"), none of which nix's
//! `Signal` enum can hold.

use std::str::FromStr;

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::{Error, Result};

/// glibc's SIGRTMIN (the kernel's 32 and 33 are the C library's own) and the kernel's SIGRTMAX.
const RTMIN: i32 = 34;
const RTMAX: i32 = 64;

/// A signal number the kernel accepts, 1 to 64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sig(i32);

impl Sig {
    pub const KILL: Sig = Sig(Signal::SIGKILL as i32);
    pub const STOP: Sig = Sig(Signal::SIGSTOP as i32);
    pub const CONT: Sig = Sig(Signal::SIGCONT as i32);

    /// Send it to `pid`.
    pub fn send(self, pid: Pid) -> nix::Result<()> {
        super::sys::kill(pid, self.0)
    }
}

impl From<Signal> for Sig {
    fn from(s: Signal) -> Sig {
        Sig(s as i32)
    }
}

pub fn parse_signal(value: &str) -> Result<Sig> {
    let bad = || Error::Other(format!("invalid signal: {value}"));
    if let Ok(n) = value.parse::<i32>() {
        return (1..=RTMAX).contains(&n).then_some(Sig(n)).ok_or_else(bad);
    }
    let upper = value.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(rt) = realtime(name) {
        return rt.ok_or_else(bad);
    }
    Signal::from_str(&format!("SIG{name}"))
        .map(Sig::from)
        .map_err(|_| bad())
}

/// `RTMIN`, `RTMIN+N`, `RTMAX`, `RTMAX-N`: Some(None) when it is such a name out of range.
fn realtime(name: &str) -> Option<Option<Sig>> {
    let in_range = |n: i32| (RTMIN..=RTMAX).contains(&n).then_some(Sig(n));
    let offset = |s: &str| s.parse::<i32>().ok();
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return Some(match rest.strip_prefix('+') {
            None if rest.is_empty() => in_range(RTMIN),
            Some(n) => offset(n).and_then(|n| in_range(RTMIN + n)),
            None => None,
        });
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return Some(match rest.strip_prefix('-') {
            None if rest.is_empty() => in_range(RTMAX),
            Some(n) => offset(n).and_then(|n| in_range(RTMAX - n)),
            None => None,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_spellings() {
        let n = |s: &str| parse_signal(s).unwrap().0;
        assert_eq!(n("SIGTERM"), 15);
        assert_eq!(n("kill"), 9);
        assert_eq!(n("9"), 9);
        assert_eq!(n("HUP"), 1);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("99").is_err());
        assert!(parse_signal("0").is_err());
    }

    #[test]
    fn real_time_signals() {
        let n = |s: &str| parse_signal(s).unwrap().0;
        assert_eq!(n("64"), 64);
        assert_eq!(n("34"), 34);
        assert_eq!(n("SIGRTMIN"), 34);
        assert_eq!(n("RTMIN+3"), 37);
        assert_eq!(n("sigrtmin+3"), 37);
        assert_eq!(n("SIGRTMAX"), 64);
        assert_eq!(n("RTMAX-2"), 62);
        assert!(parse_signal("RTMIN+31").is_err());
        assert!(parse_signal("RTMAX-40").is_err());
        assert!(parse_signal("RTMINX").is_err());
        assert!(parse_signal("65").is_err());
    }
}
