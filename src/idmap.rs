//! The kernel's id map text (`/proc/PID/uid_map`, `gid_map`): `inside outside count` lines.
//! A leaf: the sandbox builds keep-id's maps from it, the overlay maps owners back to the host.

/// (inside, outside, count) for each line; a line that is not three numbers is an error.
pub fn parse(map: &str) -> Result<Vec<(u64, u64, u64)>, String> {
    map.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<u64> = line
                .split_whitespace()
                .map(|n| n.parse::<u64>())
                .collect::<Result<_, _>>()
                .map_err(|_| format!("malformed line {line:?}"))?;
            match f[..] {
                [inside, outside, count] => Ok((inside, outside, count)),
                _ => Err(format!("malformed line {line:?}")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_three_numbers() {
        let text = "         0       1000          1\n         1     100000      65536\n";
        assert_eq!(parse(text).unwrap(), [(0, 1000, 1), (1, 100_000, 65536)]);
        assert!(parse("0 1000\n").is_err());
        assert!(parse("0 x 1\n").is_err());
        assert_eq!(parse("").unwrap(), []);
    }
}
