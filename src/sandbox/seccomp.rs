//! Seccomp: --security-opt parsing, and compiling docker-format JSON profiles (our default one is
//! the data file seccomp_default.json) into a libseccomp filter for the container process.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use libseccomp::error::SeccompErrno;
use libseccomp::ScmpSyscall;
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext};
use serde::{Deserialize, Deserializer, Serialize};

use super::Error;

/// The profile shipped in the binary: an allowlist in docker's format (policy is data).
const DEFAULT_PROFILE: &str = include_str!("seccomp_default.json");

/// A hostile or mistaken path must not make us read gigabytes; real profiles are ~30 KB.
const MAX_PROFILE_BYTES: u64 = 4 << 20;

const EPERM: u32 = 1;

/// Which filter a container gets.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub enum Seccomp {
    Default,
    Unconfined,
    /// A user profile's JSON text, read when the container was created.
    Profile(String),
}

/// Reads --security-opt values: the seccomp profile and no-new-privileges. SELinux labels and
/// AppArmor profiles are accepted and ignored (cove applies neither), as docker does on hosts
/// without them.
pub fn parse_security_opts(opts: &[String]) -> Result<(Seccomp, bool), Error> {
    let mut seccomp = Seccomp::Default;
    let mut no_new_privs = false;
    for opt in opts {
        if unmasked(std::slice::from_ref(opt)).is_some() {
            continue;
        }
        let bad = || Error::new(format!("invalid --security-opt: {opt}"));
        if opt == "no-new-privileges" {
            no_new_privs = true;
            continue;
        }
        // "key=value", or docker's older "key:value".
        let (key, value) = opt
            .split_once('=')
            .or_else(|| opt.split_once(':'))
            .ok_or_else(bad)?;
        match key {
            "seccomp" if value == "unconfined" => seccomp = Seccomp::Unconfined,
            "seccomp" if !value.is_empty() => seccomp = Seccomp::Profile(read_profile(value)?),
            "no-new-privileges" => no_new_privs = parse_bool(value).ok_or_else(bad)?,
            "label" | "apparmor" if !value.is_empty() => {}
            _ => return Err(bad()),
        }
    }
    Ok((seccomp, no_new_privs))
}

/// The /proc and /sys paths `--security-opt` leaves unmasked: docker's
/// `systempaths=unconfined` and podman's `unmask=ALL` all of them, podman's `unmask=P1:P2`
/// those named. None when no option says so. What a container needs to run containers itself
/// (a new proc mount is refused while parts of /proc are covered).
pub fn unmasked(opts: &[String]) -> Option<Vec<String>> {
    let mut out: Option<Vec<String>> = None;
    for opt in opts {
        let Some((key, value)) = opt.split_once('=').or_else(|| opt.split_once(':')) else {
            continue;
        };
        let paths: Vec<String> = match (key, value) {
            ("systempaths", "unconfined") => vec!["ALL".into()],
            ("unmask", v) if !v.is_empty() => v.split(':').map(str::to_string).collect(),
            _ => continue,
        };
        out.get_or_insert_with(Vec::new).extend(paths);
    }
    out
}

/// Go's strconv.ParseBool, which docker uses for these flags.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Read now, at create time, so that editing or deleting the file later changes nothing.
fn read_profile(path: &str) -> Result<String, Error> {
    let op = || format!("opening seccomp profile ({path}) failed");
    let failed = |e: std::io::Error| Error::io(op(), Some(Path::new(path)), &e);
    let file = std::fs::File::open(path).map_err(failed)?;
    let mut text = String::new();
    file.take(MAX_PROFILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(failed)?;
    if text.len() as u64 > MAX_PROFILE_BYTES {
        return Err(Error::because(
            op(),
            Some(Path::new(path)),
            "larger than 4 MiB",
        ));
    }
    Ok(text)
}

/// Checks that a profile parses and compiles, without loading it: `run` fails with a clear
/// error before anything starts. Compiled twice so rules behind includes.caps and behind
/// excludes.caps are both checked.
pub fn validate(profile: &Seccomp) -> Result<(), Error> {
    let every_cap: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    for held in [&every_cap[..], &[]] {
        compile(profile, held)?;
    }
    Ok(())
}

/// Compiles the profile for a process holding `caps` and loads it into the calling thread.
/// Without no-new-privileges the kernel wants CAP_SYS_ADMIN for this, so the caller loads
/// before dropping capabilities in that case (as runc does).
pub fn load(profile: &Seccomp, caps: &[String]) -> Result<(), Error> {
    if let Some(ctx) = compile(profile, caps)? {
        ctx.load().map_err(|e| {
            Error::new(format!(
                "seccomp profile: loading the filter: {e} (needs no-new-privileges or CAP_SYS_ADMIN)"
            ))
        })?;
    }
    Ok(())
}

/// The default profile compiled for a process holding `caps`, as BPF. Compiling the whole
/// allowlist with libseccomp costs tens of milliseconds, so the program is kept in `cache_dir`
/// (on the run root's tmpfs) under a key of everything it depends on.
pub fn default_bpf(cache_dir: &Path, caps: &[String]) -> Result<Vec<u8>, Error> {
    use sha2::{Digest, Sha256};
    let mut sorted: Vec<String> = caps.iter().map(|c| caps::to_canonical(c)).collect();
    sorted.sort();
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION"));
    h.update(DEFAULT_PROFILE);
    h.update(sorted.join(","));
    h.update(format!("{:?} {:?}", native_arch_names(), kernel_version()));
    let key: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let path = cache_dir.join(format!("{key}.bpf"));
    if let Ok(bpf) = std::fs::read(&path) {
        if !bpf.is_empty() && bpf.len() % 8 == 0 {
            return Ok(bpf);
        }
    }
    let ctx = compile(&Seccomp::Default, caps)?
        .ok_or_else(|| fail("the default profile compiled to nothing"))?;
    std::fs::create_dir_all(cache_dir).map_err(|e| io_fail(cache_dir, &e))?;
    let temp = crate::fsutil::temp_sibling(&path);
    let mut file = std::fs::File::create(&temp).map_err(|e| io_fail(&temp, &e))?;
    let exported = ctx.export_bpf(&mut file).map_err(fail);
    drop(file);
    let bpf = exported.and_then(|_| std::fs::read(&temp).map_err(|e| io_fail(&temp, &e)));
    match bpf {
        Ok(bpf) => {
            let _ = std::fs::rename(&temp, &path);
            Ok(bpf)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}

/// Load a program made by `default_bpf` into the calling thread.
pub fn load_bpf(bpf: &[u8]) -> Result<(), Error> {
    super::sys::seccomp_set_filter(bpf).map_err(|e| {
        Error::new(format!(
            "seccomp profile: loading the filter: {e} (needs no-new-privileges or CAP_SYS_ADMIN)"
        ))
        .with_errno(e)
    })
}

fn fail(what: impl std::fmt::Display) -> Error {
    Error::new(format!("seccomp profile: {what}"))
}

/// `seccomp profile: {e}` for the BPF cache, keeping the file and the errno.
fn io_fail(path: &Path, e: &std::io::Error) -> Error {
    Error::io("seccomp profile", Some(path), e)
}

/// Docker's JSON profile format (fields we do not act on, like "comment", are ignored).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: String,
    default_errno_ret: Option<u32>,
    #[serde(default, deserialize_with = "nullable")]
    architectures: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    arch_map: Vec<ArchMap>,
    #[serde(default, deserialize_with = "nullable")]
    syscalls: Vec<Rule>,
    #[serde(default, deserialize_with = "nullable")]
    flags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: String,
    #[serde(default, deserialize_with = "nullable")]
    sub_architectures: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    #[serde(default, deserialize_with = "nullable")]
    names: Vec<String>,
    /// The pre-2016 format: one syscall per rule.
    name: Option<String>,
    action: String,
    errno_ret: Option<u32>,
    #[serde(default, deserialize_with = "nullable")]
    args: Vec<Arg>,
    #[serde(default, deserialize_with = "nullable")]
    includes: Filter,
    #[serde(default, deserialize_with = "nullable")]
    excludes: Filter,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Arg {
    index: u32,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default, deserialize_with = "nullable")]
    caps: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    arches: Vec<String>,
    min_kernel: Option<String>,
}

/// Profiles written by Go tools say `null` for empty lists.
fn nullable<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// What decides whether a rule is in the filter: the process's caps, the machine, the kernel.
struct Host<'a> {
    caps: BTreeSet<String>,
    arch_names: &'a [&'a str],
    kernel: Option<(u32, u32)>,
}

fn compile(profile: &Seccomp, caps: &[String]) -> Result<Option<ScmpFilterContext>, Error> {
    let text = match profile {
        Seccomp::Unconfined => return Ok(None),
        Seccomp::Default => DEFAULT_PROFILE,
        Seccomp::Profile(text) => text,
    };
    let profile: Profile = serde_json::from_str(text).map_err(fail)?;
    let host = Host {
        caps: caps.iter().map(|c| caps::to_canonical(c)).collect(),
        arch_names: native_arch_names(),
        kernel: kernel_version(),
    };
    build(&profile, &host).map(Some)
}

fn build(profile: &Profile, host: &Host) -> Result<ScmpFilterContext, Error> {
    let default_errno = profile.default_errno_ret.unwrap_or(EPERM);
    let default = action(&profile.default_action, Some(default_errno))?;
    let mut ctx = ScmpFilterContext::new_filter(default).map_err(fail)?;
    // no_new_privs is the caller's choice (--security-opt no-new-privileges), not libseccomp's.
    ctx.set_ctl_nnp(false).map_err(fail)?;
    for arch in arches(profile)? {
        ctx.add_arch(arch)
            .map_err(|e| fail(format_args!("architecture {arch:?}: {e}")))?;
    }
    for flag in &profile.flags {
        match flag.as_str() {
            "SECCOMP_FILTER_FLAG_TSYNC" => Ok(()),
            "SECCOMP_FILTER_FLAG_LOG" => ctx.set_ctl_log(true),
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => ctx.set_ctl_ssb(true),
            other => return Err(fail(format_args!("unknown flag \"{other}\""))),
        }
        .map_err(|e| fail(format_args!("flag {flag}: {e}")))?;
    }
    for rule in &profile.syscalls {
        if !applies(rule, host)? {
            continue;
        }
        let act = action(&rule.action, rule.errno_ret)?;
        if act == default {
            // libseccomp refuses rules that repeat the default action; they change nothing.
            continue;
        }
        let conds = rule
            .args
            .iter()
            .map(|a| Ok((a.index, compare(a)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        for name in rule.names.iter().chain(&rule.name) {
            // Names this libseccomp does not know are skipped: profiles list syscalls of newer
            // kernels and other architectures.
            let Ok(syscall) = ScmpSyscall::from_name(name) else {
                continue;
            };
            add_rule(&mut ctx, act, syscall, &conds)
                .map_err(|e| fail(format_args!("syscall {name}: {e}")))?;
        }
    }
    Ok(ctx)
}

/// Conditions on distinct arguments must all hold (one rule); several on the same argument
/// mean "any of these values" (one rule each), as docker's runtime reads profiles.
fn add_rule(
    ctx: &mut ScmpFilterContext,
    act: ScmpAction,
    syscall: ScmpSyscall,
    conds: &[(u32, ScmpArgCompare)],
) -> Result<(), libseccomp::error::SeccompError> {
    let indexes: BTreeSet<u32> = conds.iter().map(|(index, _)| *index).collect();
    let result = if indexes.len() < conds.len() {
        conds
            .iter()
            .try_for_each(|(_, c)| ctx.add_rule_conditional(act, syscall, &[*c]))
    } else {
        let all: Vec<ScmpArgCompare> = conds.iter().map(|(_, c)| *c).collect();
        ctx.add_rule_conditional(act, syscall, &all)
    };
    match result {
        Err(e) if e.errno() == Some(SeccompErrno::EEXIST) => Ok(()),
        other => other,
    }
}

fn action(name: &str, errno: Option<u32>) -> Result<ScmpAction, Error> {
    let errno = errno.unwrap_or(EPERM);
    // The kernel passes at most MAX_ERRNO (4095) through SECCOMP_RET_ERRNO.
    if errno > 4095 {
        return Err(fail(format_args!("errnoRet {errno} is out of range")));
    }
    Ok(match name {
        "SCMP_ACT_ALLOW" => ScmpAction::Allow,
        "SCMP_ACT_ERRNO" => ScmpAction::Errno(i32::try_from(errno).unwrap_or(4095)),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => ScmpAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => ScmpAction::KillProcess,
        "SCMP_ACT_TRAP" => ScmpAction::Trap,
        "SCMP_ACT_LOG" => ScmpAction::Log,
        "SCMP_ACT_TRACE" => ScmpAction::Trace(u16::try_from(errno).unwrap_or(0)),
        "SCMP_ACT_NOTIFY" => return Err(fail("SCMP_ACT_NOTIFY is not supported")),
        other => return Err(fail(format_args!("unknown action \"{other}\""))),
    })
}

fn compare(arg: &Arg) -> Result<ScmpArgCompare, Error> {
    if arg.index > 5 {
        return Err(fail(format_args!(
            "argument index {} is out of range",
            arg.index
        )));
    }
    let (op, datum) = match arg.op.as_str() {
        "SCMP_CMP_EQ" => (ScmpCompareOp::Equal, arg.value),
        "SCMP_CMP_NE" => (ScmpCompareOp::NotEqual, arg.value),
        "SCMP_CMP_LT" => (ScmpCompareOp::Less, arg.value),
        "SCMP_CMP_LE" => (ScmpCompareOp::LessOrEqual, arg.value),
        "SCMP_CMP_GT" => (ScmpCompareOp::Greater, arg.value),
        "SCMP_CMP_GE" => (ScmpCompareOp::GreaterEqual, arg.value),
        // Docker's profiles put the mask in "value" and the expected result in "valueTwo".
        "SCMP_CMP_MASKED_EQ" => (ScmpCompareOp::MaskedEqual(arg.value), arg.value_two),
        other => return Err(fail(format_args!("unknown operator \"{other}\""))),
    };
    Ok(ScmpArgCompare::new(arg.index, op, datum))
}

/// The architectures besides the native one: "architectures" as listed, plus the sub-arches of
/// the native entry of "archMap" (so 32-bit binaries are filtered, not killed, on x86_64).
fn arches(profile: &Profile) -> Result<Vec<ScmpArch>, Error> {
    let parse = |s: &String| {
        s.parse::<ScmpArch>()
            .map_err(|_| fail(format_args!("unknown architecture \"{s}\"")))
    };
    let native = ScmpArch::native();
    let mut out = Vec::new();
    for name in &profile.architectures {
        out.push(parse(name)?);
    }
    for entry in &profile.arch_map {
        if parse(&entry.architecture)? == native {
            out.push(native);
            for sub in &entry.sub_architectures {
                out.push(parse(sub)?);
            }
        }
    }
    out.retain(|a| *a != native);
    Ok(out)
}

/// includes: every listed cap held, the native arch listed, the kernel at least minKernel.
/// excludes: no listed cap held, the native arch not listed.
fn applies(rule: &Rule, host: &Host) -> Result<bool, Error> {
    let inc = &rule.includes;
    let exc = &rule.excludes;
    let on_arch = |list: &[String]| list.iter().any(|a| host.arch_names.contains(&a.as_str()));
    if !inc
        .caps
        .iter()
        .all(|c| host.caps.contains(&caps::to_canonical(c)))
        || (!inc.arches.is_empty() && !on_arch(&inc.arches))
        || exc
            .caps
            .iter()
            .any(|c| host.caps.contains(&caps::to_canonical(c)))
        || on_arch(&exc.arches)
    {
        return Ok(false);
    }
    if let Some(min) = &inc.min_kernel {
        let wanted =
            parse_kernel(min).ok_or_else(|| fail(format_args!("invalid minKernel \"{min}\"")))?;
        // An unknown running kernel counts as new enough: such rules only allow newer calls.
        return Ok(host.kernel.is_none_or(|k| k >= wanted));
    }
    Ok(true)
}

/// "6.1.0-13-amd64" -> (6, 1).
fn parse_kernel(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(['.', '-', '+']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

fn kernel_version() -> Option<(u32, u32)> {
    parse_kernel(
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()?
            .trim(),
    )
}

/// The names profiles use for this machine in includes/excludes "arches" (Go's and the kernel's).
fn native_arch_names() -> &'static [&'static str] {
    match std::env::consts::ARCH {
        "x86_64" => &["amd64", "x86_64"],
        "x86" => &["386", "x86"],
        "aarch64" => &["arm64", "aarch64"],
        "arm" => &["arm"],
        "powerpc64" => &["ppc64le", "ppc64"],
        "s390x" => &["s390x"],
        "riscv64" => &["riscv64"],
        _ => &[],
    }
}

#[cfg(test)]
pub(super) mod tests;
