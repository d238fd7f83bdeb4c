//! Command-line usage errors as docker and podman report them: one line naming the flag or the
//! mistake, with a pointer to --help, and exit 125; `--help` and `--version` exit 0.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::Command;

use crate::exit;

/// Print what clap found wrong the way docker does, and return the process's exit code.
/// `original` is the command as declared: help is rendered from it, not from the parser's
/// copy whose switches were widened to docker's `--flag=BOOL` forms.
pub fn report(err: &clap::Error, original: fn() -> Command) -> i32 {
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let rendered = err.render().to_string();
            match help_for(&command_path(&rendered), original) {
                Some(help) => print!("{help}"),
                None => {
                    let _ = err.print();
                }
            }
            return 0;
        }
        ErrorKind::DisplayVersion => {
            let _ = err.print();
            return 0;
        }
        _ => {}
    }
    let rendered = err.render().to_string();
    let path = match err.get(ContextKind::Usage) {
        Some(ContextValue::String(path)) => path.clone(),
        _ => command_path(&rendered),
    };
    eprintln!("Error: {}. See '{path} --help'.", message(err, &rendered));
    exit::ENGINE
}

/// The long help of the command at `path` ("cove container ls"), as declared.
fn help_for(path: &str, original: fn() -> Command) -> Option<String> {
    let mut cmd = original();
    cmd.build();
    let mut at = &mut cmd;
    for name in path.split_whitespace().skip(1) {
        at = at.find_subcommand_mut(name)?;
    }
    // As clap decides: the long form only where some text has one.
    let long =
        at.get_long_about().is_some() || at.get_arguments().any(|a| a.get_long_help().is_some());
    Some(
        if long {
            at.render_long_help()
        } else {
            at.render_help()
        }
        .to_string(),
    )
}

/// docker's wording where it has one (`unknown flag: --foo`), else clap's first line.
fn message(err: &clap::Error, rendered: &str) -> String {
    let invalid = match err.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    match (err.kind(), invalid) {
        (ErrorKind::UnknownArgument, Some(arg)) if arg.starts_with('-') => {
            let flag = arg.split('=').next().unwrap_or(&arg);
            match flag.strip_prefix('-').and_then(|f| f.chars().next()) {
                Some(letter) if !flag.starts_with("--") => {
                    format!("unknown shorthand flag: '{letter}' in {flag}")
                }
                _ => format!("unknown flag: {flag}"),
            }
        }
        _ => first_line(rendered),
    }
}

/// clap's first line, with the indented lines that complete it ("...not provided:\n  <IMAGE>").
fn first_line(rendered: &str) -> String {
    let mut lines = rendered.lines();
    let first = lines.next().unwrap_or("invalid arguments");
    let mut line = first.strip_prefix("error: ").unwrap_or(first).to_string();
    if line.ends_with(':') {
        let more: Vec<&str> = lines
            .take_while(|l| l.starts_with("  "))
            .map(str::trim)
            .collect();
        line = format!("{line} {}", more.join(", "));
    }
    line.trim_end_matches('.').to_string()
}

/// `cove run` from clap's "Usage: cove run [OPTIONS] IMAGE ..." line.
fn command_path(rendered: &str) -> String {
    rendered
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("Usage: "))
        .map(|usage| {
            usage
                .split_whitespace()
                .take_while(|w| {
                    !w.starts_with(['[', '<', '-']) && w.chars().all(char::is_lowercase)
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "cove".to_string())
}

#[cfg(test)]
mod tests {
    use clap::{Parser, Subcommand};

    use super::*;

    #[derive(Parser, Debug)]
    #[command(name = "cove")]
    struct Cli {
        #[command(subcommand)]
        cmd: Cmd,
    }

    #[derive(Subcommand, Debug)]
    enum Cmd {
        Run {
            #[arg(short, long)]
            detach: bool,
            #[arg(long)]
            name: Option<String>,
            image: String,
        },
    }

    fn err(args: &[&str]) -> clap::Error {
        Cli::try_parse_from(args).unwrap_err()
    }

    #[test]
    fn unknown_flags_read_like_docker() {
        let e = err(&["cove", "run", "--bogus", "img"]);
        let r = e.render().to_string();
        assert_eq!(message(&e, &r), "unknown flag: --bogus");
        assert_eq!(command_path(&r), "cove run");
        let e = err(&["cove", "run", "--bogus=1", "img"]);
        assert_eq!(
            message(&e, &e.render().to_string()),
            "unknown flag: --bogus"
        );
        let e = err(&["cove", "run", "-dz", "img"]);
        assert_eq!(
            message(&e, &e.render().to_string()),
            "unknown shorthand flag: 'z' in -z"
        );
        let e = err(&["cove", "run"]);
        assert_eq!(
            message(&e, &e.render().to_string()),
            "the following required arguments were not provided: <IMAGE>"
        );
        assert_eq!(
            report(
                &err(&["cove", "run", "--bogus", "img"]),
                <Cli as clap::CommandFactory>::command
            ),
            125
        );
        assert_eq!(
            report(
                &err(&["cove", "run"]),
                <Cli as clap::CommandFactory>::command
            ),
            125
        );
        assert_eq!(
            report(
                &err(&["cove", "run", "--help"]),
                <Cli as clap::CommandFactory>::command
            ),
            0
        );
    }
}
