//! Which stages a build needs: the target (`--target`, else the last stage) and, depth first,
//! every stage it names in `FROM` or `--from` (COPY, RUN --mount), each once, dependencies
//! first; a stage that names itself through others is a cycle.

use super::dockerfile::{Dockerfile, Kind};
use super::BuildError;

/// A stage reference: a stage name (any case) or its index.
pub fn find_stage(df: &Dockerfile, name: &str) -> Option<usize> {
    let lower = name.to_lowercase();
    df.stages
        .iter()
        .position(|s| s.name.as_deref() == Some(lower.as_str()))
        .or_else(|| name.parse::<usize>().ok().filter(|&i| i < df.stages.len()))
}

/// The stages `stage` depends on, given its expanded base.
fn deps(df: &Dockerfile, stage: usize, base: &str) -> Vec<usize> {
    let s = &df.stages[stage];
    let mut out = Vec::new();
    if let Some(i) = df
        .stages
        .iter()
        .position(|o| o.index < stage && o.name.as_deref() == Some(base.to_lowercase().as_str()))
    {
        out.push(i);
    }
    for ins in &s.instructions {
        let flags = match &ins.kind {
            Kind::Copy { flags, .. } | Kind::Add { flags, .. } => flags
                .iter()
                .filter(|(k, _)| k == "from")
                .map(|(_, v)| v.clone())
                .collect::<Vec<_>>(),
            Kind::Run { flags, .. } => flags
                .iter()
                .filter(|(k, _)| k == "mount")
                .filter_map(|(_, v)| {
                    v.split(',')
                        .find_map(|kv| kv.strip_prefix("from="))
                        .map(str::to_string)
                })
                .collect(),
            _ => Vec::new(),
        };
        for f in flags {
            if let Some(i) = find_stage(df, &f) {
                if !out.contains(&i) {
                    out.push(i);
                }
            }
        }
    }
    out
}

/// The stages to build for `target`, in build order; `base_of` gives a stage's expanded base.
pub fn plan(
    df: &Dockerfile,
    target: Option<&str>,
    base_of: &dyn Fn(usize) -> String,
) -> Result<Vec<usize>, BuildError> {
    let last = df.stages.len().saturating_sub(1);
    let goal = match target {
        Some(t) => df
            .stages
            .iter()
            .position(|s| s.name.as_deref() == Some(t.to_lowercase().as_str()))
            .ok_or_else(|| BuildError::Input(format!("target stage \"{t}\" could not be found")))?,
        None => last,
    };
    let mut order = Vec::new();
    let mut visiting = Vec::new();
    visit(df, goal, base_of, &mut visiting, &mut order)?;
    Ok(order)
}

fn visit(
    df: &Dockerfile,
    stage: usize,
    base_of: &dyn Fn(usize) -> String,
    visiting: &mut Vec<usize>,
    order: &mut Vec<usize>,
) -> Result<(), BuildError> {
    if order.contains(&stage) {
        return Ok(());
    }
    if visiting.contains(&stage) {
        let s = &df.stages[stage];
        return Err(BuildError::Input(format!(
            "Dockerfile:{}: circular dependency detected on stage: {}",
            s.line,
            s.name.clone().unwrap_or_else(|| stage.to_string())
        )));
    }
    // Stages reference each other at most once each: depth is bounded by the stage count.
    visiting.push(stage);
    for d in deps(df, stage, &base_of(stage)) {
        visit(df, d, base_of, visiting, order)?;
    }
    visiting.pop();
    order.push(stage);
    Ok(())
}
