//! Environment lists (`NAME=VALUE` strings) as docker merges them: a later value of a name
//! replaces the earlier one, which leaves its place.

use std::collections::HashMap;

/// `base` with every entry of `over` set on top, in linear time (an `--env-file` may hold tens
/// of thousands of lines).
pub fn merge(base: Vec<String>, over: &[String]) -> Vec<String> {
    let all: Vec<String> = base.into_iter().chain(over.iter().cloned()).collect();
    let mut last: HashMap<&str, usize> = HashMap::with_capacity(all.len());
    for (i, kv) in all.iter().enumerate() {
        last.insert(key(kv), i);
    }
    let keep: Vec<bool> = all
        .iter()
        .enumerate()
        .map(|(i, kv)| last.get(key(kv)) == Some(&i))
        .collect();
    all.into_iter()
        .zip(keep)
        .filter_map(|(kv, keep)| keep.then_some(kv))
        .collect()
}

fn key(kv: &str) -> &str {
    kv.split('=').next().unwrap_or(kv)
}

#[cfg(test)]
mod tests {
    use super::merge;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn later_values_win() {
        let env = merge(
            strings(&["A=1", "B=2"]),
            &strings(&["A=3", "C", "B=4", "A=5"]),
        );
        assert_eq!(env, ["C", "B=4", "A=5"]);
    }

    #[test]
    fn fifty_thousand_lines_merge_at_once() {
        let over: Vec<String> = (0..50_000).map(|i| format!("V{}={i}", i % 1000)).collect();
        let started = std::time::Instant::now();
        let env = merge(strings(&["PATH=/bin"]), &over);
        assert_eq!(env.len(), 1001);
        assert!(started.elapsed().as_secs() < 2, "quadratic merge");
    }
}
