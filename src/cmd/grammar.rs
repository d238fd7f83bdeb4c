//! docker's flag grammar on top of clap's: every boolean flag also takes `=true`/`=false`
//! (`--rm=false`, `-d=true`, `-t=false`, combined `-itd` unchanged), and numbers parse with Go's
//! rules and Go's error texts, so scripts written for docker behave the same.

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Arg, ArgAction, Command};

/// Turn every plain switch of `cmd` and its subcommands into docker's optional-value boolean.
/// The help shown to users is rendered from the unchanged command (see `usage`), so it reads
/// `-d, --detach` rather than `--detach[=<BOOL>]`.
pub fn docker_booleans(cmd: Command) -> Command {
    cmd.mut_args(|arg| {
        if matches!(arg.get_action(), ArgAction::SetTrue) {
            optional_bool(arg, false)
        } else if matches!(arg.get_action(), ArgAction::SetFalse) {
            optional_bool(arg, true)
        } else {
            arg
        }
    })
    .mut_subcommands(docker_booleans)
}

fn optional_bool(arg: Arg, default: bool) -> Arg {
    arg.action(ArgAction::Set)
        .num_args(0..=1)
        // `-d busybox` must not read the image as the flag's value: only `-d=VALUE` does.
        .require_equals(true)
        .default_missing_value(if default { "false" } else { "true" })
        .default_value(if default { "true" } else { "false" })
        .value_parser(GoBool)
}

/// Go's `strconv.ParseBool`: what docker's flags accept.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseInt(s, 10, 64)`, with its error text.
pub fn parse_int(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.ParseInt: parsing \"{s}\": invalid syntax"));
    }
    s.parse::<i64>()
        .map_err(|_| format!("strconv.ParseInt: parsing \"{s}\": value out of range"))
}

/// Go's `strconv.ParseUint(s, 10, 64)`, with its error text.
pub fn parse_uint(s: &str) -> Result<u64, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.ParseUint: parsing \"{s}\": invalid syntax"
        ));
    }
    s.parse::<u64>()
        .map_err(|_| format!("strconv.ParseUint: parsing \"{s}\": value out of range"))
}

/// A boolean flag's value, parsed as docker does.
#[derive(Clone, Copy)]
pub struct GoBool;

impl TypedValueParser for GoBool {
    type Value = bool;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<bool, clap::Error> {
        let text = value.to_string_lossy();
        parse_bool(&text).ok_or_else(|| {
            invalid(
                cmd,
                arg,
                &text,
                &format!("strconv.ParseBool: parsing \"{text}\": invalid syntax"),
            )
        })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        None
    }
}

/// A 64-bit integer flag's value, parsed as docker does (`-t`, `--stop-timeout`, `-n`).
#[derive(Clone, Copy)]
pub struct GoInt;

impl TypedValueParser for GoInt {
    type Value = i64;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<i64, clap::Error> {
        let text = value.to_string_lossy();
        parse_int(&text).map_err(|why| invalid(cmd, arg, &text, &why))
    }
}

/// An unsigned flag's value, parsed as podman does (`--timeout`, `--preserve-fds`).
#[derive(Clone, Copy)]
pub struct GoUint;

impl TypedValueParser for GoUint {
    type Value = u64;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<u64, clap::Error> {
        let text = value.to_string_lossy();
        parse_uint(&text).map_err(|why| invalid(cmd, arg, &text, &why))
    }
}

/// One `-a` stream, in any case as docker takes it: "stdin", "stdout" or "stderr".
#[derive(Clone, Copy)]
pub struct StdStream;

impl TypedValueParser for StdStream {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        let text = value.to_string_lossy();
        let lower = text.to_lowercase();
        if matches!(lower.as_str(), "stdin" | "stdout" | "stderr") {
            return Ok(lower);
        }
        let why = "valid streams are STDIN, STDOUT and STDERR";
        Err(invalid(cmd, arg, &text, why))
    }
}

/// docker's `invalid argument "x" for "-t, --time" flag: ...`, carried as a clap error whose
/// rendered first line is exactly that (see `usage::report`).
fn invalid(cmd: &Command, arg: Option<&Arg>, value: &str, why: &str) -> clap::Error {
    let flag = arg.map(flag_names).unwrap_or_default();
    let mut err = clap::Error::raw(
        clap::error::ErrorKind::ValueValidation,
        format!("invalid argument \"{value}\" for \"{flag}\" flag: {why}\n"),
    );
    // Which command's `--help` the one-line error points to ("cove run").
    let path = cmd.get_bin_name().unwrap_or(cmd.get_name()).to_string();
    err.insert(
        clap::error::ContextKind::Usage,
        clap::error::ContextValue::String(path),
    );
    err
}

/// `-t, --time` as docker names a flag in its errors.
fn flag_names(arg: &Arg) -> String {
    match (arg.get_short(), arg.get_long()) {
        (Some(s), Some(l)) => format!("-{s}, --{l}"),
        (Some(s), None) => format!("-{s}"),
        (None, Some(l)) => format!("--{l}"),
        (None, None) => arg.get_id().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_booleans() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        for bad in ["", "yes", "tRUE", "maybe", " true"] {
            assert_eq!(parse_bool(bad), None, "{bad}");
        }
    }

    #[test]
    fn go_integers() {
        assert_eq!(parse_int("10"), Ok(10));
        assert_eq!(parse_int("-1"), Ok(-1));
        assert_eq!(parse_int("+7"), Ok(7));
        assert_eq!(parse_int("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(
            parse_int("9223372036854775808"),
            Err("strconv.ParseInt: parsing \"9223372036854775808\": value out of range".into())
        );
        assert_eq!(
            parse_int("ten"),
            Err("strconv.ParseInt: parsing \"ten\": invalid syntax".into())
        );
        assert!(parse_int("1.5").is_err());
        assert!(parse_int("-").is_err());
        assert!(parse_int("").is_err());
    }

    #[test]
    fn go_unsigned() {
        assert_eq!(parse_uint("0"), Ok(0));
        assert_eq!(parse_uint("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            parse_uint("-1"),
            Err("strconv.ParseUint: parsing \"-1\": invalid syntax".into())
        );
        assert_eq!(
            parse_uint("18446744073709551616"),
            Err("strconv.ParseUint: parsing \"18446744073709551616\": value out of range".into())
        );
        assert!(parse_uint("+1").is_err());
        assert!(parse_uint("").is_err());
    }
}
