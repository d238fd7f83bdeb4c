//! Container logs in docker's json-file format: one `{"log","stream","time"}` object a line,
//! rotated at max-size into ctr.log.1 .. ctr.log.<max-file - 1>.

mod reader;
mod writer;

use serde::{Deserialize, Serialize};

pub use reader::{read, LogOptions};
pub use writer::LogWriter;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One decoded log line.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    pub stream: Stream,
    /// The text as the container wrote it, with its '\n' (none for a trailing partial line).
    pub log: String,
    /// Unix seconds and nanoseconds.
    pub time: (i64, u32),
}

impl LogEntry {
    /// The line as `logs` prints it; `-t` prefixes docker's fixed-width time stamp.
    pub fn render(&self, timestamps: bool) -> String {
        if timestamps {
            format!(
                "{} {}",
                crate::time::rfc3339_fixed(self.time.0, self.time.1),
                self.log
            )
        } else {
            self.log.clone()
        }
    }
}

/// The on-disk line.
#[derive(Serialize, Deserialize)]
struct JsonLine<'a> {
    #[serde(borrow)]
    log: std::borrow::Cow<'a, str>,
    stream: std::borrow::Cow<'a, str>,
    time: std::borrow::Cow<'a, str>,
}

#[cfg(test)]
mod tests;
