//! ARG scoping as docker does it: the predefined platform args, the global ARGs before the
//! first FROM (for FROM lines, and for a stage that declares them again without a value), and
//! a stage's own ARGs from --build-arg or their defaults; ENV of the same name wins.

use super::dockerfile::expand::expand;
use super::dockerfile::Kind;
use super::state::State;
use super::step::{key_of, Builder};
use super::Result;
use crate::registry::Platform;

/// Build args every build has without an ARG declaring them (proxies; BuildKit's platforms).
pub fn is_predefined(name: &str) -> bool {
    const NAMES: [&str; 8] = [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "FTP_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
        "TARGETPLATFORM",
        "TARGETARCH",
        "TARGETOS",
    ];
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

impl Builder<'_> {
    /// The build's predefined args and the ARGs before the first FROM.
    pub(super) fn global_args(&mut self) -> Result<()> {
        let p = &self.platform;
        let mut platform = format!("{}/{}", p.os, p.architecture);
        if let Some(v) = &p.variant {
            platform.push('/');
            platform.push_str(v);
        }
        let host = Platform::host();
        let predefined = [
            ("TARGETPLATFORM", platform.clone()),
            ("TARGETOS", p.os.clone()),
            ("TARGETARCH", p.architecture.clone()),
            ("TARGETVARIANT", p.variant.clone().unwrap_or_default()),
            (
                "BUILDPLATFORM",
                format!("{}/{}", host.os, host.architecture),
            ),
            ("BUILDOS", host.os.clone()),
            ("BUILDARCH", host.architecture.clone()),
            ("BUILDVARIANT", host.variant.clone().unwrap_or_default()),
        ];
        for (k, v) in predefined {
            self.globals.insert(k.to_string(), Some(v));
        }
        let args = self.df.global_args.clone();
        for ins in &args {
            if let Kind::Arg(list) = &ins.kind {
                for (name, default) in list {
                    let value = self.arg_value(
                        name,
                        default.as_deref(),
                        &|n| self.globals.get(n).cloned().flatten(),
                        ins.line,
                    )?;
                    self.globals.insert(name.clone(), value);
                }
            }
        }
        Ok(())
    }

    /// An ARG's value: the build arg, else its default expanded, else nothing.
    fn arg_value(
        &self,
        name: &str,
        default: Option<&str>,
        vars: &dyn Fn(&str) -> Option<String>,
        line: usize,
    ) -> Result<Option<String>> {
        match self.req.build_args.get(name) {
            Some(Some(v)) => Ok(Some(v.clone())),
            Some(None) => Ok(std::env::var(name).ok()),
            None => match default {
                Some(d) => expand(d, self.df.escape, vars)
                    .map(Some)
                    .map_err(|e| self.input(line, e)),
                None => Ok(None),
            },
        }
    }

    /// `ARG name[=default] ...` in a stage.
    pub(super) fn arg(
        &mut self,
        state: &mut State,
        list: &[(String, Option<String>)],
        line: usize,
    ) -> Result<()> {
        for (name, default) in list {
            self.used_args.insert(name.clone());
            let global = self.globals.get(name).cloned().flatten();
            let value =
                match self.arg_value(name, default.as_deref(), &|n| state.lookup(n), line)? {
                    Some(v) => Some(v),
                    None if default.is_none() => global,
                    None => None,
                };
            state.args.insert(name.clone(), value.clone());
            state.key = key_of(&state.key, &format!("ARG {name}={value:?}"), "");
        }
        Ok(())
    }
}
