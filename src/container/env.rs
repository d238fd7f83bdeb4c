//! Environment lists (`NAME=VALUE` strings) as docker merges them: a later value of a name
//! replaces the earlier one, in place of order.

/// Set `kv` (`NAME=VALUE`, or a bare `NAME`) in `env`, dropping any earlier entry of the name.
pub fn set(env: &mut Vec<String>, kv: &str) {
    let key = kv.split('=').next().unwrap_or(kv);
    env.retain(|e| e.split('=').next() != Some(key));
    env.push(kv.to_string());
}

#[cfg(test)]
mod tests {
    #[test]
    fn later_values_win() {
        let mut env = vec!["A=1".to_string(), "B=2".to_string()];
        super::set(&mut env, "A=3");
        super::set(&mut env, "C");
        assert_eq!(env, ["B=2", "A=3", "C"]);
    }
}
