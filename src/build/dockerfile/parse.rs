//! TEMPORARY stand-in parser (replaced by the real one): one instruction per line,
//! continuations joined, exec/shell forms.

use super::ast::*;

pub fn parse(text: &[u8]) -> Result<Dockerfile, ParseError> {
    let err = |line: usize, m: &str| ParseError {
        line,
        message: m.to_string(),
    };
    let text = std::str::from_utf8(text).map_err(|_| err(1, "not a text file"))?;
    let mut logical: Vec<(usize, String)> = Vec::new();
    let mut cur: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let t = raw.trim();
        if t.starts_with('#') || (t.is_empty() && cur.is_none()) {
            continue;
        }
        let (start, mut acc) = cur.take().unwrap_or((i + 1, String::new()));
        if let Some(stripped) = t.strip_suffix('\\') {
            acc.push_str(stripped);
            cur = Some((start, acc));
        } else {
            acc.push_str(t);
            logical.push((start, acc));
        }
    }
    if let Some(c) = cur {
        logical.push(c);
    }
    let mut df = Dockerfile {
        escape: '\\',
        syntax: None,
        global_args: Vec::new(),
        stages: Vec::new(),
    };
    for (line, l) in logical {
        let (kw, rest) = l.split_once(char::is_whitespace).unwrap_or((&l, ""));
        let kw = kw.to_uppercase();
        let rest = rest.trim().to_string();
        let (flags, rest) = flags_of(&rest);
        let original = format!("{kw} {}", l[kw.len()..].trim());
        let command = || match serde_json::from_str::<Vec<String>>(&rest) {
            Ok(v) => Command::Exec(v),
            Err(_) => Command::Shell(rest.clone()),
        };
        let pairs = || -> Vec<(String, String)> {
            if !rest.contains('=') {
                let (k, v) = rest.split_once(' ').unwrap_or((&rest, ""));
                return vec![(k.to_string(), v.trim().to_string())];
            }
            rest.split_whitespace()
                .filter_map(|w| {
                    w.split_once('=')
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                })
                .collect()
        };
        let kind = match kw.as_str() {
            "FROM" => {
                let words: Vec<&str> = rest.split_whitespace().collect();
                let name = if words.len() == 3 {
                    Some(words[2].to_lowercase())
                } else {
                    None
                };
                let base = words
                    .first()
                    .map(|s| s.to_string())
                    .ok_or_else(|| err(line, "FROM requires an argument"))?;
                let platform = flags
                    .iter()
                    .find(|(k, _)| k == "platform")
                    .map(|(_, v)| v.clone());
                df.stages.push(Stage {
                    index: df.stages.len(),
                    name,
                    base,
                    platform,
                    line,
                    original,
                    instructions: Vec::new(),
                });
                continue;
            }
            "RUN" => Kind::Run {
                flags,
                command: command(),
                heredocs: Vec::new(),
            },
            "CMD" => Kind::Cmd(command()),
            "ENTRYPOINT" => Kind::Entrypoint(command()),
            "ENV" => Kind::Env(pairs()),
            "LABEL" => Kind::Label(pairs()),
            "ARG" => Kind::Arg(
                rest.split_whitespace()
                    .map(|w| match w.split_once('=') {
                        Some((k, v)) => (k.to_string(), Some(v.to_string())),
                        None => (w.to_string(), None),
                    })
                    .collect(),
            ),
            "COPY" | "ADD" => {
                let words = match serde_json::from_str::<Vec<String>>(&rest) {
                    Ok(v) => v,
                    Err(_) => rest.split_whitespace().map(str::to_string).collect(),
                };
                if kw == "COPY" {
                    Kind::Copy {
                        flags,
                        words,
                        heredocs: Vec::new(),
                    }
                } else {
                    Kind::Add {
                        flags,
                        words,
                        heredocs: Vec::new(),
                    }
                }
            }
            "WORKDIR" => Kind::Workdir(rest),
            "USER" => Kind::User(rest),
            "STOPSIGNAL" => Kind::StopSignal(rest),
            "MAINTAINER" => Kind::Maintainer(rest),
            "EXPOSE" => Kind::Expose(rest.split_whitespace().map(str::to_string).collect()),
            "VOLUME" => Kind::Volume(match serde_json::from_str::<Vec<String>>(&rest) {
                Ok(v) => v,
                Err(_) => rest.split_whitespace().map(str::to_string).collect(),
            }),
            "SHELL" => Kind::Shell(
                serde_json::from_str(&rest)
                    .map_err(|_| err(line, "SHELL requires the arguments to be in JSON form"))?,
            ),
            "ONBUILD" => Kind::Onbuild(rest),
            "HEALTHCHECK" => Kind::Healthcheck(Healthcheck {
                flags,
                command: if rest.eq_ignore_ascii_case("none") {
                    None
                } else {
                    Some(match command() {
                        Command::Shell(s) => {
                            Command::Shell(s.trim_start_matches("CMD ").to_string())
                        }
                        c => c,
                    })
                },
            }),
            other => return Err(err(line, &format!("unknown instruction: {other}"))),
        };
        let ins = Instruction {
            line,
            original,
            kind,
        };
        match df.stages.last_mut() {
            Some(s) => s.instructions.push(ins),
            None if matches!(ins.kind, Kind::Arg(_)) => df.global_args.push(ins),
            None => return Err(err(line, "no build stage in current context")),
        }
    }
    if df.stages.is_empty() {
        return Err(err(1, "file with no instructions"));
    }
    Ok(df)
}

fn flags_of(rest: &str) -> (Flags, String) {
    let mut flags = Vec::new();
    let mut s = rest.trim_start();
    while let Some(f) = s.strip_prefix("--") {
        let (word, tail) = f.split_once(char::is_whitespace).unwrap_or((f, ""));
        match word.split_once('=') {
            Some((k, v)) => flags.push((k.to_string(), v.to_string())),
            None => flags.push((word.to_string(), "true".to_string())),
        }
        s = tail.trim_start();
    }
    (flags, s.to_string())
}
