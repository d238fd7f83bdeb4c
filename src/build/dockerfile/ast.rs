//! What a parsed Dockerfile is: stages of instructions, each with its line and its arguments
//! as written. Variables are not substituted here: that needs the build's ARG and ENV state,
//! so the builder calls `expand` on the words docker substitutes in.

/// A whole Dockerfile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dockerfile {
    /// The escape character (`# escape=` directive): `\` or `` ` ``.
    pub escape: char,
    /// `# syntax=` as given (accepted and ignored).
    pub syntax: Option<String>,
    /// `ARG` instructions before the first `FROM` (their values may be used in `FROM` lines).
    pub global_args: Vec<Instruction>,
    /// At least one stage; a Dockerfile without `FROM` is an error.
    pub stages: Vec<Stage>,
}

/// One `FROM` and the instructions after it up to the next `FROM`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage {
    /// Index among the stages, from 0.
    pub index: usize,
    /// The `AS name`, lowercased as docker does; None when unnamed.
    pub name: Option<String>,
    /// The base as written (`busybox:${TAG}`, `scratch`, another stage's name), unexpanded.
    pub base: String,
    /// `FROM --platform=...` as written, unexpanded.
    pub platform: Option<String>,
    /// 1-based line of the `FROM`.
    pub line: usize,
    /// The `FROM` line's text as written (continuations joined), for step lines.
    pub original: String,
    pub instructions: Vec<Instruction>,
}

/// One instruction after `FROM`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instruction {
    /// 1-based line where the instruction starts.
    pub line: usize,
    /// The instruction as written, on one line (continuations joined with nothing between, as
    /// docker shows them in `Step N/M : ...`; heredoc bodies left out), keyword uppercased.
    pub original: String,
    pub kind: Kind,
}

/// An instruction's `--name=value` flags (`--from=build`, `--chown=1:1`, `--mount=...`), in
/// order; a flag given without `=value` has the value "true"... exactly as docker's
/// BFlags: `--link` is `("link", "true")`. Values are raw (unexpanded).
pub type Flags = Vec<(String, String)>;

/// A command in exec form (a JSON array of strings) or shell form (the rest of the line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Exec(Vec<String>),
    Shell(String),
}

/// A heredoc attached to an instruction (`RUN <<EOF`, `COPY <<A <<B /dest/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heredoc {
    /// The word after `<<` / `<<-`, without its quotes.
    pub name: String,
    /// The body, each line ending with `\n`; with `<<-`, leading tabs stripped from each line.
    pub content: String,
    /// True when the name was quoted (`<<"EOF"` or `<<'EOF'`): no variable expansion in the
    /// body.
    pub quoted: bool,
    /// `<<-`.
    pub strip_tabs: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Healthcheck {
    /// `--interval=30s` etc., raw.
    pub flags: Flags,
    /// None for `HEALTHCHECK NONE`.
    pub command: Option<Command>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `RUN [flags] command`; heredocs after `<<` in the command belong to it.
    Run {
        flags: Flags,
        command: Command,
        heredocs: Vec<Heredoc>,
    },
    Cmd(Command),
    Entrypoint(Command),
    /// `ENV k=v ...` (or the old `ENV k v w` form: one pair, value "v w"). Values raw: quotes
    /// and `$` still in them, for `expand`.
    Env(Vec<(String, String)>),
    /// `ARG name[=default] ...`; default raw.
    Arg(Vec<(String, Option<String>)>),
    /// `LABEL k=v ...`, keys and values raw (quotes still in them).
    Label(Vec<(String, String)>),
    /// `COPY [flags] src... dest`, JSON or whitespace-separated words, raw. With heredocs,
    /// a source word `<<NAME` names the heredoc of that name.
    Copy {
        flags: Flags,
        words: Vec<String>,
        heredocs: Vec<Heredoc>,
    },
    /// As `Copy`.
    Add {
        flags: Flags,
        words: Vec<String>,
        heredocs: Vec<Heredoc>,
    },
    /// The rest of the line, raw.
    Workdir(String),
    User(String),
    StopSignal(String),
    Maintainer(String),
    /// Words, raw.
    Expose(Vec<String>),
    /// JSON array or words, raw.
    Volume(Vec<String>),
    /// Must be a JSON array.
    Shell(Vec<String>),
    Healthcheck(Healthcheck),
    /// The trigger instruction as written (`RUN echo hi`), kept for the image config.
    Onbuild(String),
}

/// Where a parse failed: 1-based line and the message (`unknown instruction: FORM`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}
