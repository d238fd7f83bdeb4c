//! The command line itself: help, version, completion, man pages, the static binary, and
//! errors that happen before any work (bad references, no runtime dir).

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use std::path::Path;

use common::{Cove, Who};

const VERSION: &str = env!("CARGO_PKG_VERSION");

#[test]
fn help() {
    let c = Cove::new(Who::Caller);
    let out = c.run(&["--help"]);
    out.assert_ok();
    for word in [
        "Usage: cove",
        "pull",
        "images",
        "rmi",
        "tag",
        "history",
        "manifest",
        "info",
    ] {
        assert!(out.stdout.contains(word), "--help lacks {word}: {out}");
    }
    assert!(
        !out.stdout.contains("__man"),
        "hidden commands stay hidden: {out}"
    );
    let pull = c.run(&["pull", "--help"]);
    pull.assert_ok();
    for flag in ["--platform", "--tls-verify", "--all-tags", "--quiet"] {
        assert!(
            pull.stdout.contains(flag),
            "pull --help lacks {flag}: {pull}"
        );
    }
    let bad = c.run(&["frobnicate"]);
    assert_ne!(bad.code(), 0, "{bad}");
    assert!(bad.stderr.contains("frobnicate"), "{bad}");
    assert_ne!(c.run(&["images", "--bogus"]).code(), 0);
}

#[test]
fn version() {
    let c = Cove::new(Who::Caller);
    let out = c.run(&["--version"]);
    assert_eq!(out.assert_ok().stdout, format!("cove {VERSION}\n"));
    let long = c.run(&["version"]);
    assert!(long.assert_ok().stdout.contains(VERSION), "{long}");
    assert!(long.stdout.contains("linux/amd64"), "{long}");
}

#[test]
fn completion() {
    let c = Cove::new(Who::Caller);
    let bash = c.run(&["completion", "bash"]);
    assert!(
        bash.assert_ok().stdout.contains("_cove") && bash.stdout.contains("complete "),
        "{bash}"
    );
    let zsh = c.run(&["completion", "zsh"]);
    assert!(zsh.assert_ok().stdout.starts_with("#compdef cove"), "{zsh}");
    let fish = c.run(&["completion", "fish"]);
    assert!(
        fish.assert_ok().stdout.contains("complete -c cove"),
        "{fish}"
    );
    for out in [&bash, &zsh, &fish] {
        assert!(
            out.stdout.contains("pull") && out.stdout.contains("images"),
            "{out}"
        );
    }
    assert_ne!(c.run(&["completion", "tcsh"]).code(), 0);
}

/// The committed man pages in `man/` are what `cove __man` generates now.
#[test]
fn man_pages_fresh() {
    let c = Cove::new(Who::Caller);
    let dir = c.dir.join("man");
    let out = c.run(&["__man", dir.to_str().unwrap()]);
    out.assert_ok();
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let list = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let fresh = list(&dir);
    assert!(
        fresh.contains(&"cove.1".to_string()) && fresh.contains(&"cove-pull.1".to_string()),
        "{fresh:?}"
    );
    assert_eq!(
        list(&committed),
        fresh,
        "man/ is stale: regenerate with `cove __man man`"
    );
    for name in &fresh {
        assert!(
            std::fs::read(dir.join(name)).unwrap() == std::fs::read(committed.join(name)).unwrap(),
            "man/{name} is stale: regenerate with `cove __man man`"
        );
    }
}

/// True when the ELF file has no PT_INTERP program header (needs no dynamic loader).
fn elf_is_static(bin: &[u8]) -> bool {
    assert_eq!(&bin[..4], b"\x7fELF");
    assert_eq!(bin[4], 2, "64-bit ELF");
    let u16_at = |o: usize| u16::from_le_bytes([bin[o], bin[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(bin[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    (0..phnum).all(|i| {
        let o = phoff + i * phentsize;
        u32::from_le_bytes(bin[o..o + 4].try_into().unwrap()) != 3
    })
}

/// One static binary: it runs in an empty chroot (no libc, no NSS, no /etc).
#[test]
fn static_binary_runs_in_empty_chroot() {
    let bin = common::cove::cove_bin();
    assert!(
        elf_is_static(&std::fs::read(bin).unwrap()),
        "cove has a dynamic loader (PT_INTERP)"
    );
    common::require_root("chroot");
    let jail = common::unique_dir("chroot");
    std::fs::copy(bin, jail.join("cove")).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new("/usr/sbin/chroot")
            .arg(&jail)
            .arg("/cove")
            .args(args)
            .env_clear()
            .output()
            .unwrap()
    };
    let v = run(&["--version"]);
    assert!(v.status.success(), "{v:?}");
    assert_eq!(
        String::from_utf8_lossy(&v.stdout),
        format!("cove {VERSION}\n")
    );
    let i = run(&["--root", "/store", "--runroot", "/run-cove", "images", "-q"]);
    assert!(i.status.success(), "images in an empty chroot: {i:?}");
    let _ = std::fs::remove_dir_all(&jail);
}

both!(bad_reference, info);

fn bad_reference(who: Who) {
    let c = Cove::new(who);
    for r in [
        "Busybox",
        "busybox:",
        "a b",
        "busybox@sha256:123",
        "-x",
        "a//b",
    ] {
        let out = c.run(&["pull", "--tls-verify=false", "--", r]);
        out.assert_err_line("invalid reference format");
    }
    c.assert_store_empty();
}

fn info(who: Who) {
    let c = Cove::new(who);
    let out = c.run(&["info"]);
    out.assert_ok();
    assert!(
        out.stdout.contains(c.root.to_str().unwrap()),
        "info shows the store root: {out}"
    );
}

/// Rootless cove needs a runtime dir of its own, and says so in one line.
#[test]
fn xdg_runtime_dir_missing_or_foreign() {
    let c = Cove::new(Who::Rootless);
    let out = c
        .cmd(&["images"])
        .default_store()
        .env_remove("XDG_RUNTIME_DIR")
        .run();
    out.assert_err_line("XDG_RUNTIME_DIR");
    let foreign = c
        .cmd(&["images"])
        .default_store()
        .env("XDG_RUNTIME_DIR", "/tmp")
        .run();
    foreign.assert_err_line("XDG_RUNTIME_DIR");
    // An explicit --runroot needs no runtime dir.
    c.cmd(&["images"])
        .env_remove("XDG_RUNTIME_DIR")
        .run()
        .assert_ok();
}

/// docker and podman agree: a flag the command does not know is exit 125 with a line naming
/// it; `--help` of every command and subcommand is exit 0.
#[test]
fn usage_errors_exit_125_and_help_exits_0() {
    let c = Cove::new(Who::Caller);
    c.run(&["run", "--bogus", "img"])
        .assert_err_line("unknown flag: --bogus. See 'cove run --help'");
    c.run(&["images", "--bogus=1"])
        .assert_err_line("unknown flag: --bogus");
    c.run(&["ps", "-Z"])
        .assert_err_line("unknown shorthand flag: 'Z' in -Z");
    c.run(&["container", "rm"])
        .assert_err_line("required arguments were not provided: <CONTAINER>");
    c.run(&["frobnicate"]).assert_err_line("frobnicate");
    let top = "run create start stop restart kill rm ps logs exec attach wait top port diff \
               rename cp export container pull images rmi tag history inspect image manifest \
               info version system completion";
    let subs = [
        (
            "container",
            "run create start stop restart kill rm ls logs exec attach inspect wait top port \
             cp diff export rename prune",
        ),
        ("image", "ls rm pull tag inspect history prune"),
        ("manifest", "inspect"),
        ("system", "info"),
    ];
    let mut commands: Vec<Vec<&str>> = top.split_whitespace().map(|c| vec![c]).collect();
    for (group, names) in subs {
        commands.extend(names.split_whitespace().map(|n| vec![group, n]));
    }
    for mut args in commands {
        args.push("--help");
        let out = c.run(&args);
        out.assert_ok();
        assert!(out.stdout.contains("Usage: cove"), "{out}");
    }
}
