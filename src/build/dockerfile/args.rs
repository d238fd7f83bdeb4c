//! One instruction's arguments as docker reads them: leading `--flags`, exec (JSON) or shell
//! form, `key=value` lists with quotes kept for substitution, and each instruction's checks.

use super::ast::*;

fn err(line: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        line,
        message: message.into(),
    }
}

/// Leading `--name[=value]` words, checked against `known`; returns them and the rest.
pub fn flags<'a>(
    text: &'a str,
    known: &[&str],
    line: usize,
) -> Result<(Flags, &'a str), ParseError> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while let Some(f) = rest.strip_prefix("--") {
        let end = f.find(char::is_whitespace).unwrap_or(f.len());
        let word = &f[..end];
        let (k, v) = match word.split_once('=') {
            Some((k, v)) => (k, v),
            None => (word, "true"),
        };
        if k.is_empty() {
            break;
        }
        if !known.contains(&k) {
            return Err(err(line, format!("unknown flag: --{k}")));
        }
        out.push((k.to_string(), v.to_string()));
        rest = f[end..].trim_start();
    }
    Ok((out, rest))
}

/// `image [AS name]`.
pub fn from(text: &str, line: usize) -> Result<(String, Option<String>), ParseError> {
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        [image] => Ok((image.to_string(), None)),
        [image, kw, name] if kw.eq_ignore_ascii_case("as") => {
            let name = name.to_ascii_lowercase();
            let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
            if !ok {
                return Err(err(line, format!("invalid name for build stage: \"{name}\", name can't start with a number or contain symbols")));
            }
            Ok((image.to_string(), Some(name)))
        }
        _ => Err(err(line, "FROM requires either one or three arguments")),
    }
}

/// Exec form when the text is a JSON array of strings, else shell form.
fn command(text: &str) -> Command {
    if text.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(text) {
            return Command::Exec(v);
        }
    }
    Command::Shell(text.to_string())
}

/// Words split on whitespace outside quotes, quotes and escapes kept as written.
pub fn words(text: &str, escape: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == escape && q == '"' {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None if c == escape => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                cur.push(c);
            }
            None if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            None => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// ENV and LABEL: `k=v ...`, or the legacy `KEY value with spaces`.
fn pairs(keyword: &str, text: &str, line: usize) -> Result<Vec<(String, String)>, ParseError> {
    let ws = words(text, '\\');
    let Some(first) = ws.first() else {
        return Err(err(
            line,
            format!("{keyword} requires at least one argument"),
        ));
    };
    if !first.contains('=') {
        let (k, v) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        if v.trim().is_empty() {
            return Err(err(line, format!("{keyword} must have two arguments")));
        }
        return Ok(vec![(k.to_string(), v.trim().to_string())]);
    }
    ws.iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(err(
                line,
                format!("Syntax error - can't find = in \"{w}\". Must be of the form: name=value"),
            )),
        })
        .collect()
}

fn list_or_words(text: &str) -> Vec<String> {
    if text.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(text) {
            return v;
        }
    }
    text.split_whitespace().map(str::to_string).collect()
}

fn one_arg(keyword: &str, text: &str, line: usize) -> Result<String, ParseError> {
    if text.is_empty() {
        return Err(err(
            line,
            format!("{keyword} requires exactly one argument"),
        ));
    }
    Ok(text.to_string())
}

pub fn instruction(
    keyword: &str,
    text: &str,
    heredocs: Vec<Heredoc>,
    line: usize,
) -> Result<Kind, ParseError> {
    Ok(match keyword {
        "RUN" => {
            let (flags, rest) = flags(text, &["mount", "network", "security"], line)?;
            if rest.is_empty() {
                return Err(err(line, "RUN requires at least one argument"));
            }
            Kind::Run {
                flags,
                command: command(rest),
                heredocs,
            }
        }
        "CMD" => Kind::Cmd(command(text)),
        "ENTRYPOINT" => Kind::Entrypoint(command(text)),
        "ENV" => Kind::Env(pairs("ENV", text, line)?),
        "LABEL" => Kind::Label(pairs("LABEL", text, line)?),
        "ARG" => {
            let ws = words(text, '\\');
            if ws.is_empty() {
                return Err(err(line, "ARG requires at least one argument"));
            }
            Kind::Arg(
                ws.into_iter()
                    .map(|w| match w.split_once('=') {
                        Some((k, v)) => (k.to_string(), Some(v.to_string())),
                        None => (w, None),
                    })
                    .collect(),
            )
        }
        "COPY" | "ADD" => {
            let known: &[&str] = if keyword == "COPY" {
                &["from", "chown", "chmod", "link", "parents", "exclude"]
            } else {
                &[
                    "chown",
                    "chmod",
                    "link",
                    "checksum",
                    "keep-git-dir",
                    "exclude",
                ]
            };
            let (flags, rest) = flags(text, known, line)?;
            let words = list_or_words(rest);
            if words.len() < 2 {
                return Err(err(line, format!("{keyword} requires at least two arguments, but only one was provided. Destination could not be determined")));
            }
            if keyword == "COPY" {
                Kind::Copy {
                    flags,
                    words,
                    heredocs,
                }
            } else {
                Kind::Add {
                    flags,
                    words,
                    heredocs,
                }
            }
        }
        "WORKDIR" => Kind::Workdir(one_arg(keyword, text, line)?),
        "USER" => Kind::User(one_arg(keyword, text, line)?),
        "STOPSIGNAL" => Kind::StopSignal(one_arg(keyword, text, line)?),
        "MAINTAINER" => Kind::Maintainer(one_arg(keyword, text, line)?),
        "EXPOSE" => {
            let ws: Vec<String> = text.split_whitespace().map(str::to_string).collect();
            if ws.is_empty() {
                return Err(err(line, "EXPOSE requires at least one argument"));
            }
            Kind::Expose(ws)
        }
        "VOLUME" => {
            let ws = list_or_words(text);
            if ws.is_empty() {
                return Err(err(line, "VOLUME requires at least one argument"));
            }
            Kind::Volume(ws)
        }
        "SHELL" => match serde_json::from_str::<Vec<String>>(text) {
            Ok(v) if !v.is_empty() => Kind::Shell(v),
            _ => return Err(err(line, "SHELL requires the arguments to be in JSON form")),
        },
        "HEALTHCHECK" => {
            let (flags, rest) = flags(
                text,
                &[
                    "interval",
                    "timeout",
                    "start-period",
                    "start-interval",
                    "retries",
                ],
                line,
            )?;
            let (kw, cmd) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            match kw.to_ascii_uppercase().as_str() {
                "NONE" if cmd.trim().is_empty() && flags.is_empty() => {
                    Kind::Healthcheck(Healthcheck {
                        flags,
                        command: None,
                    })
                }
                "NONE" => return Err(err(line, "HEALTHCHECK NONE takes no arguments")),
                "CMD" if !cmd.trim().is_empty() => Kind::Healthcheck(Healthcheck {
                    flags,
                    command: Some(command(cmd.trim())),
                }),
                "CMD" => return Err(err(line, "HEALTHCHECK CMD requires a command")),
                other => {
                    return Err(err(
                        line,
                        format!("Unknown type \"{other}\" in HEALTHCHECK (try CMD)"),
                    ))
                }
            }
        }
        "ONBUILD" => {
            let (kw, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
            let kw = kw.to_ascii_uppercase();
            match kw.as_str() {
                "" => return Err(err(line, "ONBUILD requires at least one argument")),
                "ONBUILD" => {
                    return Err(err(
                        line,
                        "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
                    ))
                }
                "FROM" | "MAINTAINER" => {
                    return Err(err(
                        line,
                        format!("{kw} isn't allowed as an ONBUILD trigger"),
                    ))
                }
                _ => {}
            }
            // The trigger must itself parse.
            instruction(&kw, rest.trim(), Vec::new(), line)?;
            Kind::Onbuild(format!("{kw} {}", rest.trim()).trim_end().to_string())
        }
        other => return Err(err(line, format!("unknown instruction: {other}"))),
    })
}
