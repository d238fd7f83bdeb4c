//! docker's word processing for the instructions it substitutes in (ADD, COPY, ENV, EXPOSE,
//! FROM, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR, ARG, ONBUILD's trigger when it runs):
//! quotes removed (`'...'` literal, `"..."` with variables), the escape character making the
//! next one literal, and `$V`, `${V}`, `${V:-w}`, `${V-w}`, `${V:+w}`, `${V+w}`, `${V:?m}`,
//! `${V#p}`, `${V##p}`, `${V%p}`, `${V%%p}`. Unset variables are empty.

/// Nested `${...}` deeper than this is refused (a bound on recursion).
const MAX_DEPTH: usize = 16;

pub fn expand(
    word: &str,
    escape: char,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let chars: Vec<char> = word.chars().collect();
    let mut lx = Lexer {
        c: &chars,
        i: 0,
        escape,
        vars,
    };
    lx.word(None, 0)
}

struct Lexer<'a> {
    c: &'a [char],
    i: usize,
    escape: char,
    vars: &'a dyn Fn(&str) -> Option<String>,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.c.get(self.i).copied()
    }

    /// Read until the end, or (inside `${...}`) the closing `}`.
    fn word(&mut self, stop: Option<char>, depth: usize) -> Result<String, String> {
        let mut out = String::new();
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                return Ok(out);
            }
            self.i += 1;
            match ch {
                c if c == self.escape => match self.peek() {
                    Some(n) => {
                        self.i += 1;
                        out.push(n);
                    }
                    None => out.push(c),
                },
                '\'' => loop {
                    match self.peek() {
                        None => {
                            return Err("unexpected end of statement while looking for \
                                        matching single-quote"
                                .into())
                        }
                        Some('\'') => {
                            self.i += 1;
                            break;
                        }
                        Some(c) => {
                            self.i += 1;
                            out.push(c);
                        }
                    }
                },
                '"' => out.push_str(&self.double_quoted(depth)?),
                '$' => out.push_str(&self.dollar(depth)?),
                c => out.push(c),
            }
        }
        match stop {
            Some(_) => Err("missing '}' in a variable substitution".into()),
            None => Ok(out),
        }
    }

    fn double_quoted(&mut self, depth: usize) -> Result<String, String> {
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    )
                }
                Some('"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(c) if c == self.escape => {
                    self.i += 1;
                    match self.peek() {
                        Some(n) if n == '"' || n == '$' || n == self.escape => {
                            self.i += 1;
                            out.push(n);
                        }
                        _ => out.push(c),
                    }
                }
                Some('$') => {
                    self.i += 1;
                    out.push_str(&self.dollar(depth)?);
                }
                Some(c) => {
                    self.i += 1;
                    out.push(c);
                }
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                self.i += 1;
            } else {
                break;
            }
        }
        name
    }

    /// After a `$`.
    fn dollar(&mut self, depth: usize) -> Result<String, String> {
        match self.peek() {
            Some('{') => {
                self.i += 1;
                if depth >= MAX_DEPTH {
                    return Err("variable substitutions nested too deeply".into());
                }
                self.braced(depth + 1)
            }
            Some(c) if c.is_ascii_alphanumeric() || c == '_' => {
                let name = self.name();
                Ok((self.vars)(&name).unwrap_or_default())
            }
            _ => Ok("$".into()),
        }
    }

    /// After `${`.
    fn braced(&mut self, depth: usize) -> Result<String, String> {
        let name = self.name();
        if name.is_empty() {
            return Err("bad substitution: a variable name is expected after ${".into());
        }
        let value = (self.vars)(&name);
        let op: String = match self.peek() {
            Some('}') => {
                self.i += 1;
                return Ok(value.unwrap_or_default());
            }
            Some(':') => {
                self.i += 1;
                match self.peek() {
                    Some(c @ ('-' | '+' | '?')) => {
                        self.i += 1;
                        format!(":{c}")
                    }
                    _ => return Err(format!("unsupported modifier in ${{{name}:...}}")),
                }
            }
            Some(c @ ('-' | '+' | '?')) => {
                self.i += 1;
                c.to_string()
            }
            Some(c @ ('#' | '%')) => {
                self.i += 1;
                if self.peek() == Some(c) {
                    self.i += 1;
                    format!("{c}{c}")
                } else {
                    c.to_string()
                }
            }
            _ => return Err(format!("bad substitution in ${{{name}...}}")),
        };
        let word = self.word(Some('}'), depth)?;
        self.i += 1; // the `}`
        let set = value.is_some();
        let non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
        let v = value.clone().unwrap_or_default();
        Ok(match op.as_str() {
            ":-" => {
                if non_empty {
                    v
                } else {
                    word
                }
            }
            "-" => {
                if set {
                    v
                } else {
                    word
                }
            }
            ":+" => {
                if non_empty {
                    word
                } else {
                    String::new()
                }
            }
            "+" => {
                if set {
                    word
                } else {
                    String::new()
                }
            }
            ":?" | "?" => {
                let ok = if op == ":?" { non_empty } else { set };
                if !ok {
                    return Err(if word.is_empty() {
                        format!("{name}: is not allowed to be unset")
                    } else {
                        format!("{name}: {word}")
                    });
                }
                v
            }
            "#" => strip_prefix(&v, &word, false),
            "##" => strip_prefix(&v, &word, true),
            "%" => strip_suffix(&v, &word, false),
            _ => strip_suffix(&v, &word, true),
        })
    }
}

fn strip_prefix(v: &str, pat: &str, longest: bool) -> String {
    let cuts: Vec<usize> = v.char_indices().map(|(i, _)| i).chain([v.len()]).collect();
    let mut order = cuts.clone();
    if longest {
        order.reverse();
    }
    for i in order {
        if glob(pat, &v[..i]) {
            return v[i..].to_string();
        }
    }
    v.to_string()
}

fn strip_suffix(v: &str, pat: &str, longest: bool) -> String {
    let mut cuts: Vec<usize> = v.char_indices().map(|(i, _)| i).chain([v.len()]).collect();
    if !longest {
        cuts.reverse();
    }
    for i in cuts {
        if glob(pat, &v[i..]) {
            return v[..i].to_string();
        }
    }
    v.to_string()
}

/// `*` and `?` patterns, matched without backtracking blow-up.
fn glob(pat: &str, s: &str) -> bool {
    let p: Vec<char> = pat.chars().collect();
    let t: Vec<char> = s.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) && p[pi] != '*' {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x(word: &str) -> Result<String, String> {
        let vars = |n: &str| match n {
            "A" => Some("apple".to_string()),
            "E" => Some(String::new()),
            "P" => Some("/usr/local/bin/tool.tar.gz".to_string()),
            _ => None,
        };
        expand(word, '\\', &vars)
    }

    #[test]
    fn docker_reference_examples() {
        assert_eq!(x("$A").unwrap(), "apple");
        assert_eq!(x("${A}_x").unwrap(), "apple_x");
        assert_eq!(x("${U:-word}").unwrap(), "word");
        assert_eq!(x("${E:-word}").unwrap(), "word");
        assert_eq!(x("${E-word}").unwrap(), "");
        assert_eq!(x("${A:+word}").unwrap(), "word");
        assert_eq!(x("${U:+word}").unwrap(), "");
        assert_eq!(x("\\$A").unwrap(), "$A");
        assert_eq!(x("'$A'").unwrap(), "$A");
        assert_eq!(x("\"$A b\"").unwrap(), "apple b");
        assert_eq!(x("\"\\\"q\\\"\"").unwrap(), "\"q\"");
        assert_eq!(x("$U").unwrap(), "");
        assert_eq!(x("a$").unwrap(), "a$");
        assert_eq!(x("${U:-${A}}").unwrap(), "apple");
    }

    #[test]
    fn pattern_removal() {
        assert_eq!(x("${P#*/}").unwrap(), "usr/local/bin/tool.tar.gz");
        assert_eq!(x("${P##*/}").unwrap(), "tool.tar.gz");
        assert_eq!(x("${P%.*}").unwrap(), "/usr/local/bin/tool.tar");
        assert_eq!(x("${P%%.*}").unwrap(), "/usr/local/bin/tool");
    }

    #[test]
    fn errors_are_words() {
        assert!(x("'open").unwrap_err().contains("single-quote"));
        assert!(x("\"open").unwrap_err().contains("double-quote"));
        assert!(x("${A").is_err());
        assert!(x("${U:?must be set}").unwrap_err().contains("must be set"));
        assert!(x("${}").is_err());
        let deep = "${A:-".repeat(100) + &"}".repeat(100);
        assert!(x(&deep).is_err());
    }

    #[test]
    fn backtick_escape() {
        let vars = |_: &str| Some("v".to_string());
        assert_eq!(expand("`$X c:\\path", '`', &vars).unwrap(), "$X c:\\path");
    }
}
