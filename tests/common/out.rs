//! What one cove run printed and how it exited, with the assertions tests make on it.

use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use serde_json::Value;

use super::cove::Who;

/// What one cove run did.
pub struct Out {
    pub args: Vec<String>,
    pub who: Who,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// stdout as it was written (an archive).
    pub raw_stdout: Vec<u8>,
}

impl fmt::Display for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cove {:?} as {:?}: exit {}\n--- stdout\n{}--- stderr\n{}---",
            self.args,
            self.who,
            self.code(),
            self.stdout,
            self.stderr
        )
    }
}

impl Out {
    /// The exit code, or minus the signal that killed it.
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| -self.status.signal().unwrap_or(0))
    }

    pub fn assert_ok(&self) -> &Self {
        assert_eq!(self.code(), 0, "expected success: {self}");
        self
    }

    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code(), code, "expected exit {code}: {self}");
        self
    }

    /// Exit 125 and stderr exactly one line `Error: ...` containing `fragment` (any case;
    /// `a|b` accepts either alternative, `""` anything).
    pub fn assert_err_line(&self, fragment: &str) -> &Self {
        self.assert_code(125);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert!(
            lines.len() == 1 && lines[0].starts_with("Error: "),
            "expected one `Error: ` line on stderr: {self}"
        );
        let line = lines[0].to_lowercase();
        assert!(
            fragment
                .split('|')
                .any(|f| line.contains(&f.to_lowercase())),
            "expected the error to mention {fragment:?}: {self}"
        );
        self
    }

    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    pub fn last_line(&self) -> &str {
        self.stdout.lines().last().unwrap_or("")
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self}"))
    }

    /// Rows of a table as whitespace-split columns (header included).
    pub fn table(&self) -> Vec<Vec<String>> {
        self.stdout.lines().map(split_columns).collect()
    }
}

/// Splits a docker-style table row on runs of two or more spaces (cells may hold one space,
/// as in `IMAGE ID` or `2 years ago`).
pub fn split_columns(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}
