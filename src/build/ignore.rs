//! TEMPORARY stand-in for .dockerignore rules (replaced by the real one).

#[derive(Debug, Default, Clone)]
pub struct IgnoreRules {
    rules: Vec<(bool, String)>,
}

pub fn parse(text: &str) -> IgnoreRules {
    IgnoreRules {
        rules: text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| match l.strip_prefix('!') {
                Some(p) => (true, p.trim_start_matches('/').to_string()),
                None => (false, l.trim_start_matches('/').to_string()),
            })
            .collect(),
    }
}

impl IgnoreRules {
    pub fn is_excluded(&self, rel: &str) -> bool {
        let mut excluded = false;
        for (exception, pat) in &self.rules {
            if rel == pat || rel.starts_with(&format!("{pat}/")) {
                excluded = !exception;
            }
        }
        excluded
    }

    pub fn may_include_below(&self, _dir: &str) -> bool {
        self.rules.iter().any(|(e, _)| *e)
    }
}
