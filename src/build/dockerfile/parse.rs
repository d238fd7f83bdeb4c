//! Dockerfile text to stages: parser directives at the top (`# escape=`, `# syntax=`),
//! comments (also inside continuations), line continuations with the escape character,
//! heredocs after RUN/COPY/ADD, and each instruction's arguments (see `args.rs`).

use super::args;
use super::ast::*;

/// Larger Dockerfiles are refused.
pub const MAX_SIZE: usize = 4 << 20;

fn err(line: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        line,
        message: message.into(),
    }
}

pub fn parse(text: &[u8]) -> Result<Dockerfile, ParseError> {
    if text.len() > MAX_SIZE {
        return Err(err(1, "the Dockerfile is larger than 4 MiB"));
    }
    let text = std::str::from_utf8(text)
        .ok()
        .filter(|t| !t.contains('\0'))
        .ok_or_else(|| err(1, "the Dockerfile is not a text file"))?;
    let lines: Vec<&str> = text.lines().collect();
    let (escape, syntax, first) = directives(&lines)?;
    let mut df = Dockerfile {
        escape,
        syntax,
        global_args: Vec::new(),
        stages: Vec::new(),
    };
    let mut i = first;
    let mut any = false;
    while i < lines.len() {
        let t = lines[i].trim();
        if t.is_empty() || t.starts_with('#') {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut joined = String::new();
        loop {
            let raw = lines[i];
            let trimmed = raw.trim_end();
            i += 1;
            match trimmed.strip_suffix(escape) {
                Some(body) if !ends_escaped(body, escape) => {
                    joined.push_str(body);
                    // Comment and blank lines inside a continuation are dropped.
                    while i < lines.len() {
                        let n = lines[i].trim();
                        if n.is_empty() || n.starts_with('#') {
                            i += 1;
                        } else {
                            break;
                        }
                    }
                    if i >= lines.len() {
                        break;
                    }
                }
                _ => {
                    joined.push_str(trimmed);
                    break;
                }
            }
        }
        any = true;
        let joined = joined.trim();
        let (word, rest) = split_keyword(joined);
        let keyword = word.to_ascii_uppercase();
        let heredocs = if matches!(keyword.as_str(), "RUN" | "COPY" | "ADD") {
            read_heredocs(rest, &lines, &mut i, start)?
        } else {
            Vec::new()
        };
        let original = if rest.is_empty() {
            keyword.clone()
        } else {
            format!("{keyword} {rest}")
        };
        if keyword == "FROM" {
            let (flags, rest) = args::flags(rest, &["platform"], start)?;
            let (base, name) = args::from(rest, start)?;
            df.stages.push(Stage {
                index: df.stages.len(),
                name,
                base,
                platform: flags
                    .into_iter()
                    .find(|(k, _)| k == "platform")
                    .map(|(_, v)| v),
                line: start,
                original,
                instructions: Vec::new(),
            });
            continue;
        }
        let kind = args::instruction(&keyword, rest, heredocs, start)?;
        let ins = Instruction {
            line: start,
            original,
            kind,
        };
        match df.stages.last_mut() {
            Some(s) => s.instructions.push(ins),
            None if matches!(ins.kind, Kind::Arg(_)) => df.global_args.push(ins),
            None => return Err(err(start, "no build stage in current context")),
        }
    }
    if !any {
        return Err(err(
            1,
            "the Dockerfile has no instructions (file with no instructions)",
        ));
    }
    if df.stages.is_empty() {
        return Err(err(lines.len().max(1), "no build stage in current context"));
    }
    Ok(df)
}

/// True when `body` itself ends in an escaped escape character (`\\` at the end of a line is
/// a literal backslash, not a continuation).
fn ends_escaped(body: &str, escape: char) -> bool {
    let n = body.chars().rev().take_while(|&c| c == escape).count();
    n % 2 == 1
}

fn split_keyword(line: &str) -> (&str, &str) {
    match line.find(char::is_whitespace) {
        Some(i) => (&line[..i], line[i..].trim()),
        None => (line, ""),
    }
}

/// The parser directives at the top: (escape, syntax, index of the first line after them).
fn directives(lines: &[&str]) -> Result<(char, Option<String>, usize), ParseError> {
    let mut escape = '\\';
    let mut syntax = None;
    let mut seen = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(body) = line.trim().strip_prefix('#') else {
            return Ok((escape, syntax, i));
        };
        let Some((key, value)) = body.split_once('=') else {
            return Ok((escape, syntax, i));
        };
        let key = key.trim().to_ascii_lowercase();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric()) || key.contains(' ') {
            return Ok((escape, syntax, i));
        }
        let value = value.trim();
        if seen.contains(&key) {
            return Err(err(
                i + 1,
                format!("only one {key} parser directive can be used"),
            ));
        }
        match key.as_str() {
            "escape" => {
                escape = match value {
                    "\\" => '\\',
                    "`" => '`',
                    _ => {
                        return Err(err(
                            i + 1,
                            format!("invalid escape token '{value}' does not match ` or \\"),
                        ))
                    }
                }
            }
            "syntax" => syntax = Some(value.to_string()),
            // `check` and unknown directives are comments to us.
            _ => {}
        }
        seen.push(key);
    }
    Ok((escape, syntax, lines.len()))
}

/// The heredocs the instruction text names, read from the lines after it.
fn read_heredocs(
    text: &str,
    lines: &[&str],
    i: &mut usize,
    start: usize,
) -> Result<Vec<Heredoc>, ParseError> {
    if text.trim_start().starts_with('[') {
        return Ok(Vec::new());
    }
    let mut docs = Vec::new();
    for (name, quoted, strip_tabs) in heredoc_markers(text) {
        let mut content = String::new();
        loop {
            let Some(line) = lines.get(*i) else {
                return Err(err(start, format!("unterminated heredoc {name}")));
            };
            *i += 1;
            let line = if strip_tabs {
                line.trim_start_matches('\t')
            } else {
                line
            };
            if line == name {
                break;
            }
            content.push_str(line);
            content.push('\n');
        }
        docs.push(Heredoc {
            name,
            content,
            quoted,
            strip_tabs,
        });
    }
    Ok(docs)
}

/// `<<NAME`, `<<-NAME`, `<<"NAME"`, `<<'NAME'` outside quotes (not `<<<`): (name, quoted,
/// strip tabs), in order.
fn heredoc_markers(text: &str) -> Vec<(String, bool, bool)> {
    let c: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut quote: Option<char> = None;
    let mut k = 0;
    while k < c.len() {
        let ch = c[k];
        if let Some(q) = quote {
            if ch == q {
                quote = None;
            }
            k += 1;
            continue;
        }
        if ch == '\'' || ch == '"' {
            quote = Some(ch);
            k += 1;
            continue;
        }
        if ch == '<'
            && c.get(k + 1) == Some(&'<')
            && c.get(k + 2) != Some(&'<')
            && (k == 0 || c[k - 1] != '<')
        {
            let mut j = k + 2;
            let strip = c.get(j) == Some(&'-');
            if strip {
                j += 1;
            }
            let q = match c.get(j) {
                Some(&q @ ('"' | '\'')) => {
                    j += 1;
                    Some(q)
                }
                _ => None,
            };
            let name_start = j;
            while j < c.len()
                && (c[j].is_ascii_alphanumeric() || c[j] == '_' || c[j] == '-' || c[j] == '.')
            {
                j += 1;
            }
            let name: String = c[name_start..j].iter().collect();
            if let Some(q) = q {
                if c.get(j) != Some(&q) {
                    k += 2;
                    continue;
                }
                j += 1;
            }
            if !name.is_empty() {
                out.push((name, q.is_some(), strip));
            }
            k = j;
            continue;
        }
        k += 1;
    }
    out
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
