//! docker's restart policies as one pure decision: restart after a delay, or stay stopped.

use std::time::Duration;

/// What the monitor does after the container exits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Restart { delay: Duration },
    Stop,
}

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(60);
/// A run at least this long resets the backoff, as docker's does.
const STABLE_RUN: Duration = Duration::from_secs(10);

/// Decide on a restart. `policy` is "no", "always", "unless-stopped" or "on-failure" (with
/// `max_retry`, 0 = unlimited); `restart_count` counts the restarts already done;
/// `stopped_by_user` is set by `stop` (not by `kill`), after which no policy restarts. The
/// delay starts at 100 ms and doubles while runs stay short, capped at one minute.
pub fn next_action(
    policy: &str,
    max_retry: u32,
    exit_code: i32,
    restart_count: u32,
    stopped_by_user: bool,
    last_delay: Option<Duration>,
    ran_for: Duration,
) -> Next {
    let policy = crate::container::RestartPolicy {
        name: policy.to_string(),
        max_retry,
    };
    if !policy.should_restart(exit_code, restart_count, stopped_by_user) {
        return Next::Stop;
    }
    let delay = match last_delay {
        Some(d) if ran_for < STABLE_RUN => (d * 2).min(MAX_DELAY),
        _ => FIRST_DELAY,
    };
    Next::Restart { delay }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHORT: Duration = Duration::from_millis(5);

    fn decide(policy: &str, max: u32, code: i32, count: u32, stopped: bool) -> Next {
        next_action(policy, max, code, count, stopped, None, SHORT)
    }

    #[test]
    fn policies_follow_docker() {
        let first = Next::Restart { delay: FIRST_DELAY };
        assert_eq!(decide("no", 0, 1, 0, false), Next::Stop);
        assert_eq!(decide("", 0, 1, 0, false), Next::Stop);
        assert_eq!(decide("always", 0, 0, 7, false), first);
        assert_eq!(decide("always", 0, 0, 0, true), Next::Stop);
        assert_eq!(decide("unless-stopped", 0, 137, 0, false), first);
        assert_eq!(decide("unless-stopped", 0, 143, 0, true), Next::Stop);
        assert_eq!(decide("on-failure", 0, 0, 0, false), Next::Stop);
        assert_eq!(decide("on-failure", 0, 1, 50, false), first);
        // on-failure:2 restarts twice, then stays down.
        assert_eq!(decide("on-failure", 2, 3, 0, false), first);
        assert_eq!(decide("on-failure", 2, 3, 1, false), first);
        assert_eq!(decide("on-failure", 2, 3, 2, false), Next::Stop);
        assert_eq!(decide("on-failure", 2, 3, 0, true), Next::Stop);
    }

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let next = |last: Option<u64>, ran: Duration| match next_action(
            "always",
            0,
            1,
            0,
            false,
            last.map(Duration::from_millis),
            ran,
        ) {
            Next::Restart { delay } => delay.as_millis() as u64,
            Next::Stop => 0,
        };
        assert_eq!(next(None, SHORT), 100);
        assert_eq!(next(Some(100), SHORT), 200);
        assert_eq!(next(Some(200), SHORT), 400);
        assert_eq!(next(Some(40_000), SHORT), 60_000);
        assert_eq!(next(Some(60_000), SHORT), 60_000);
        assert_eq!(next(Some(60_000), Duration::from_secs(11)), 100);
    }
}
