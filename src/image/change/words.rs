//! Dockerfile words as the builder reads them: split on blanks outside quotes, then quotes
//! and backslashes removed and `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR:+alt}` expanded
//! from the environment built so far.

/// Split `s` on whitespace outside quotes; quotes and backslashes stay in the words.
pub fn split(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    let mut in_word = false;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
                continue;
            }
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (Some('\''), _) => {}
            (_, '\\') => {
                cur.push(c);
                match chars.next() {
                    Some(n) => cur.push(n),
                    None => break,
                }
                in_word = true;
                continue;
            }
            _ => {}
        }
        cur.push(c);
        in_word = true;
    }
    if quote.is_some() {
        return Err(format!(
            "unexpected end of statement while looking for matching quote in {s:?}"
        ));
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// One word with its quotes and escapes removed and variables expanded from `env`
/// (`NAME=VALUE` entries, the last one of a name winning).
pub fn process(word: &str, env: &[String]) -> Result<String, String> {
    let mut out = String::new();
    let chars: Vec<char> = word.chars().collect();
    let mut i = 0;
    let mut quote: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => out.push(c),
            (Some(_), '\\') => match chars.get(i) {
                // Inside double quotes only these lose their backslash, as in a shell.
                Some(&n @ ('"' | '\\' | '$')) => {
                    out.push(n);
                    i += 1;
                }
                _ => out.push('\\'),
            },
            (None, '\\') => {
                if let Some(&n) = chars.get(i) {
                    out.push(n);
                    i += 1;
                }
            }
            (_, '$') => i = expand(&chars, i, env, &mut out)?,
            (_, c) => out.push(c),
        }
    }
    if quote.is_some() {
        return Err(format!(
            "unexpected end of statement while looking for matching quote in {word:?}"
        ));
    }
    Ok(out)
}

/// Expand the variable whose name starts at `chars[i]` (just after the `$`); returns where
/// the text after it starts.
fn expand(chars: &[char], mut i: usize, env: &[String], out: &mut String) -> Result<usize, String> {
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if chars.get(i) == Some(&'{') {
        let close = chars[i..]
            .iter()
            .position(|&c| c == '}')
            .ok_or_else(|| "missing '}' in a ${...} variable".to_string())?;
        let inner: String = chars[i + 1..i + close].iter().collect();
        let (name, op, arg) = match inner.find(":-").or_else(|| inner.find(":+")) {
            Some(at) => (&inner[..at], &inner[at..at + 2], &inner[at + 2..]),
            None => (inner.as_str(), "", ""),
        };
        if name.is_empty() || !name.chars().all(name_char) {
            return Err(format!("bad substitution: ${{{inner}}}"));
        }
        let value = lookup(env, name);
        let arg = process(arg, env)?;
        match (op, value) {
            (":-", Some(v)) if !v.is_empty() => out.push_str(v),
            (":-", _) => out.push_str(&arg),
            (":+", Some(v)) if !v.is_empty() => out.push_str(&arg),
            (":+", _) => {}
            (_, v) => out.push_str(v.unwrap_or("")),
        }
        return Ok(i + close + 1);
    }
    let start = i;
    while i < chars.len() && name_char(chars[i]) {
        i += 1;
    }
    if i == start {
        out.push('$');
        return Ok(i);
    }
    let name: String = chars[start..i].iter().collect();
    out.push_str(lookup(env, &name).unwrap_or(""));
    Ok(i)
}

fn lookup<'e>(env: &'e [String], name: &str) -> Option<&'e str> {
    env.iter().rev().find_map(|e| {
        let (k, v) = e.split_once('=')?;
        (k == name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_outside_quotes() {
        assert_eq!(
            split(r#"A=1 B="two words" C='x y' D=a\ b"#).unwrap(),
            [r#"A=1"#, r#"B="two words""#, "C='x y'", r"D=a\ b"]
        );
        assert!(split(r#"A="open"#).is_err());
        assert_eq!(split("  ").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn quotes_escapes_and_variables() {
        let env = vec!["HOME=/root".to_string(), "E=".to_string()];
        let p = |w: &str| process(w, &env).unwrap();
        assert_eq!(p(r#""two words""#), "two words");
        assert_eq!(p("'$HOME'"), "$HOME");
        assert_eq!(p("$HOME/x"), "/root/x");
        assert_eq!(p("${HOME}x"), "/rootx");
        assert_eq!(p("${NOPE:-dflt}"), "dflt");
        assert_eq!(p("${E:-dflt}"), "dflt");
        assert_eq!(p("${HOME:+set}"), "set");
        assert_eq!(p("${NOPE:+set}"), "");
        assert_eq!(p(r"a\ b\$HOME"), "a b$HOME");
        assert_eq!(p(r#""say \"hi\" \n""#), r#"say "hi" \n"#);
        assert_eq!(p("cost$"), "cost$");
        assert!(process("${HOME", &env).is_err());
    }
}
