//! Go's text/template for `--format`: a subset run over JSON values, with docker's functions.
//!
//! `lex` turns the source into tokens, `parse` builds the tree, `exec` walks it, `funcs` holds
//! the functions a template may call and `print` Go's fmt rules. Error texts copy Go's so scripts
//! that match on them keep working.

use serde_json::Value;

mod exec;
mod funcs;
mod lex;
mod parse;
mod print;

#[cfg(test)]
mod tests;

/// A value, or Go's "invalid" value (a missing map key), which prints as `<no value>`.
type V = Option<Value>;

/// A parsed `--format` template.
#[derive(Debug, Clone)]
pub struct Template {
    src: String,
    nodes: Vec<parse::Node>,
}

/// The 1-based line of byte `pos` in `src`, as Go's errors give it.
fn line_of(src: &str, pos: usize) -> usize {
    1 + src[..pos.min(src.len())].matches('\n').count()
}

impl Template {
    /// Parses a Go template; errors read like Go's: `template: :1: function "foo" not defined`.
    pub fn parse(src: &str) -> Result<Template, String> {
        Ok(Template {
            src: src.to_string(),
            nodes: parse::parse(src)?,
        })
    }

    /// Evaluates the template with `data` as dot.
    pub fn render(&self, data: &Value) -> Result<String, String> {
        let mut out = Vec::new();
        exec::run(self, data, None, &mut out)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// Evaluates the template with `data` as dot into `out`, a piece at a time (what came
    /// before an error is written, as Go's Execute does).
    pub fn render_to(&self, data: &Value, out: &mut dyn std::io::Write) -> Result<(), String> {
        exec::run(self, data, None, out)
    }

    /// Renders a table header: every field reads as `headers(name)`, and the functions that
    /// would change a value (json, upper, join...) pass it through, as docker does.
    pub fn render_header(&self, headers: &dyn Fn(&str) -> String) -> Result<String, String> {
        let mut out = Vec::new();
        exec::run(
            self,
            &Value::Object(Default::default()),
            Some(headers),
            &mut out,
        )?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}
