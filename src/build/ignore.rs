//! `.dockerignore`: docker's pattern rules. Each line a pattern (`#` comments, blank lines
//! skipped), cleaned, its leading `/` dropped; `*`, `?`, `[...]` within a path component, `**`
//! across any number of them, `!` for an exception. The last rule that matches a path — or
//! one of its parent directories — decides. The builder still reads the Dockerfile and the
//! ignore file themselves when they are excluded; they are only not copied.

use super::glob::glob_match;

#[derive(Debug, Default, Clone)]
pub struct IgnoreRules {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    exception: bool,
    parts: Vec<String>,
}

pub fn parse(text: &str) -> IgnoreRules {
    let mut rules = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (exception, pat) = match line.strip_prefix('!') {
            Some(p) => (true, p.trim()),
            None => (false, line),
        };
        let parts = clean(pat);
        if parts.is_empty() {
            continue;
        }
        rules.push(Rule { exception, parts });
    }
    IgnoreRules { rules }
}

/// Go's `filepath.Clean` of a pattern, as components without the leading `/`.
fn clean(pat: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in pat.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            p => out.push(p.to_string()),
        }
    }
    out
}

/// Whether pattern components match path components; `**` matches any number of them.
fn matches(pat: &[String], path: &[&str]) -> bool {
    // can[i][j]: pat[i..] matches path[j..]. Filled from the end: O(len(pat) * len(path)).
    let (np, nq) = (pat.len(), path.len());
    let mut can = vec![vec![false; nq + 1]; np + 1];
    can[np][nq] = true;
    for i in (0..np).rev() {
        for j in (0..=nq).rev() {
            can[i][j] = if pat[i] == "**" {
                can[i + 1][j] || (j < nq && can[i][j + 1])
            } else {
                j < nq && glob_match(&pat[i], path[j]) && can[i + 1][j + 1]
            };
        }
    }
    can[0][0]
}

impl IgnoreRules {
    /// Whether the context path `rel` (relative, `/`-separated) is left out.
    pub fn is_excluded(&self, rel: &str) -> bool {
        let path: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
        let mut excluded = false;
        for r in &self.rules {
            // The path itself, or a parent directory of it.
            let hit = (1..=path.len()).any(|n| matches(&r.parts, &path[..n]));
            if hit {
                excluded = !r.exception;
            }
        }
        excluded
    }

    /// Whether something below the excluded directory `dir` may be let back in by an
    /// exception, so a walk cannot skip it whole.
    pub fn may_include_below(&self, dir: &str) -> bool {
        let path: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
        self.rules.iter().filter(|r| r.exception).any(|r| {
            // The exception's pattern could reach below `dir` if its leading components
            // can match `dir`'s (a `**` can match anything).
            r.parts.iter().any(|p| p == "**")
                || (r.parts.len() > path.len() && matches(&r.parts[..path.len()], &path))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_examples() {
        let r = parse("# comment\n*/temp*\n*/*/temp*\ntemp?\n");
        assert!(r.is_excluded("somedir/temporary.txt"));
        assert!(r.is_excluded("somedir/temp"));
        assert!(r.is_excluded("somedir/subdir/temporary.txt"));
        assert!(r.is_excluded("tempa"));
        assert!(r.is_excluded("tempb/inside"));
        assert!(!r.is_excluded("temp"));
        assert!(!r.is_excluded("a/b/c/temp"));
    }

    #[test]
    fn double_star_and_exceptions() {
        let r = parse("**/*.go\n");
        assert!(r.is_excluded("main.go"));
        assert!(r.is_excluded("a/b/c.go"));
        assert!(!r.is_excluded("a/b/c.rs"));
        let r = parse("*.md\n!README*.md\nREADME-secret.md\n");
        assert!(r.is_excluded("notes.md"));
        assert!(!r.is_excluded("README.md"));
        assert!(r.is_excluded("README-secret.md"));
        let r = parse("/secret/\n./build/../out\n");
        assert!(r.is_excluded("secret"));
        assert!(r.is_excluded("secret/key"));
        assert!(r.is_excluded("out/x"));
        assert!(!r.is_excluded("build"));
    }

    #[test]
    fn walks_may_prune_only_without_exceptions_below() {
        let r = parse("node_modules\n");
        assert!(!r.may_include_below("node_modules"));
        let r = parse("node_modules\n!node_modules/keep\n");
        assert!(r.may_include_below("node_modules"));
        assert!(!r.may_include_below("other"));
        let r = parse("*\n!**/keep\n");
        assert!(r.may_include_below("any/dir"));
    }

    #[test]
    fn everything_excluded() {
        let r = parse("*\n");
        assert!(r.is_excluded("Dockerfile"));
        assert!(r.is_excluded("a/b"));
    }
}
