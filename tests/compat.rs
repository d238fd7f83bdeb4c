//! Drop-in use: scripts written for docker (its flag grammar, numbers and errors) and for podman
//! (its own spellings) run unchanged. Each case runs as root and rootless.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use common::{Cove, Who};

both!(boolean_forms, number_forms, format_output_streams);

/// A `--format` that prints far more than its input (`{{range N}}`) is written as it is
/// made, in bounded memory: docker's Go template streams too (issue 7, defect 8).
fn format_output_streams(who: Who) {
    const N: usize = 20_000_000;
    const LIMIT_KIB: u64 = 50 << 10;
    let c = Cove::new(who);
    let img = c.busybox();
    let template = format!("{{{{range {N}}}}}x{{{{end}}}}");
    for args in [
        vec!["image", "inspect", "-f", &template, &img],
        vec!["images", "--format", &template],
    ] {
        let (out, peak) = c.cmd(&args).spawn().wait_peak_rss();
        assert_eq!(out.assert_ok().stdout.len(), N + 1, "{args:?}");
        assert!(peak > 0, "no memory reading of cove {args:?}");
        assert!(peak < LIMIT_KIB, "cove {args:?} peaked at {peak} KiB");
    }
}

/// `--rm`, `--rm=true`, `--rm=false`, `-d=true`, `-t=false`, `--privileged=true`,
/// `--sig-proxy=false`, combined short flags and `--name=x` each mean what docker means.
fn boolean_forms(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    c.run(&["run", "--rm=true", &img, "true"]).assert_ok();
    c.assert_no_containers();
    c.run(&["run", "--rm=false", "--name=kept", &img, "true"])
        .assert_ok();
    let ps = c.run(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(ps.assert_ok().stdout, "kept\n", "--rm=false keeps it: {ps}");
    c.run(&["rm", "kept"]).assert_ok();
    // -d=true detaches and prints the ID; -d=false runs in the foreground.
    let d = c.run(&["run", "-d=true", "--rm", &img, "sleep", "30"]);
    assert_eq!(d.assert_ok().stdout.trim().len(), 64, "{d}");
    c.run(&["rm", "-f", d.stdout.trim()]).assert_ok();
    let fg = c.run(&["run", "-d=false", "--rm", &img, "echo", "here"]);
    assert_eq!(fg.assert_ok().stdout, "here\n");
    // -t=false: no terminal; -i=true keeps stdin.
    let t = c
        .cmd(&[
            "run",
            "--rm",
            "-t=false",
            "-i=true",
            &img,
            "sh",
            "-c",
            "test -t 0 || cat",
        ])
        .input("piped\n")
        .run();
    assert_eq!(t.assert_ok().stdout, "piped\n", "{t}");
    // --privileged=true gives CAP_SYS_ADMIN (bit 21), =false the default set without it.
    let sys_admin = |flag: &str| {
        let out = c.run(&[
            "run",
            "--rm",
            flag,
            &img,
            "grep",
            "CapEff",
            "/proc/self/status",
        ]);
        let hex = out
            .assert_ok()
            .stdout
            .trim()
            .trim_start_matches("CapEff:")
            .trim();
        u64::from_str_radix(hex, 16).unwrap() & (1 << 21) != 0
    };
    assert!(sys_admin("--privileged=true"));
    assert!(!sys_admin("--privileged=false"));
    c.run(&["run", "--rm", "--sig-proxy=false", &img, "true"])
        .assert_ok();
    c.run(&["run", "--rm", "--sig-proxy", &img, "true"])
        .assert_ok();
    // Combined short flags, with and without the detach letter.
    let dit = c.run(&["run", "-dit", "--name", "combo", &img, "sh"]);
    assert_eq!(dit.assert_ok().stdout.trim().len(), 64, "{dit}");
    let tty = c.run(&[
        "inspect",
        "--format",
        "{{.Config.Tty}} {{.Config.OpenStdin}}",
        "combo",
    ]);
    assert_eq!(tty.assert_ok().stdout, "true true\n");
    c.run(&["rm", "-f=true", "combo"]).assert_ok();
    c.assert_no_containers();
    // A value that is no boolean is docker's error, before anything runs.
    c.run(&["run", "--rm=maybe", &img, "true"]).assert_err_line(
        "invalid argument \"maybe\" for \"--rm\" flag: strconv.ParseBool: parsing \"maybe\": \
         invalid syntax. See 'cove run --help'",
    );
    c.run(&["ps", "-a=yes"])
        .assert_err_line("invalid argument \"yes\" for \"-a, --all\" flag");
    // The image after a switch is never read as the switch's value.
    c.run(&["run", "--rm", "-t", &img, "true"]).assert_ok();
    c.assert_no_containers();
}

/// `-t`/`--time`, `--stop-timeout` and `-n` take Go's integers with docker's errors.
fn number_forms(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    c.run(&["stop", "-t", "ten", "x"]).assert_err_line(
        "invalid argument \"ten\" for \"-t, --time\" flag: strconv.ParseInt: parsing \"ten\": \
         invalid syntax",
    );
    c.run(&["restart", "--time=99999999999999999999", "x"])
        .assert_err_line("parsing \"99999999999999999999\": value out of range");
    c.run(&["create", "--stop-timeout", "1.5", &img])
        .assert_err_line("for \"--stop-timeout\" flag: strconv.ParseInt");
    c.assert_no_containers();
    let id = c.run(&["run", "-d", "--stop-timeout=-1", &img, "sleep", "60"]);
    let id = id.assert_ok().stdout.trim().to_string();
    // An explicit -t=0 kills at once whatever the container's own timeout says.
    c.run(&["stop", "-t=0", &id]).assert_ok();
    let st = c.run(&["inspect", "--format", "{{.State.Status}}", &id]);
    assert_eq!(st.assert_ok().stdout, "exited\n");
    // -n -1 is docker's default (running only), -n 1 the last one in any state.
    let ps = c.run(&["ps", "-n", "-1", "-q"]);
    assert_eq!(ps.assert_ok().stdout, "");
    let ps = c.run(&["ps", "-n=1", "-q"]);
    assert_eq!(ps.assert_ok().stdout.trim(), &id[..12]);
    c.run(&["rm", &id]).assert_ok();
}

both!(
    podman_teardown_and_all,
    podman_listing,
    podman_exists_and_untag
);

/// The lines podman scripts and generated units use to tear down: `--all`, `--ignore`,
/// `-t/--time`, `--cidfile`.
fn podman_teardown_and_all(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    for n in ["a1", "a2", "a3"] {
        c.run(&["run", "-d", "--name", n, &img, "sleep", "60"])
            .assert_ok();
    }
    c.run(&["create", "--name", "a4", &img, "true"]).assert_ok();
    // stop --all stops the three running ones; start --all starts them all again.
    let stopped = c.run(&["stop", "-t", "0", "--all"]);
    assert_eq!(stopped.assert_ok().stdout.lines().count(), 3, "{stopped}");
    assert_eq!(c.run(&["ps", "-q"]).assert_ok().stdout, "");
    c.run(&["start", "--all"]).assert_ok();
    c.run(&["kill", "-a"]).assert_ok();
    c.run(&["restart", "-a", "-t", "0"]).assert_ok();
    let running = c.run(&["ps", "-q"]);
    assert!(running.assert_ok().stdout.lines().count() >= 3, "{running}");
    // --all with names is refused, as podman does.
    c.run(&["rm", "-a", "a1"]).assert_err_line("--all");
    // Missing containers are no error with --ignore; the others still go.
    c.run(&["stop", "--ignore", "nosuch"]).assert_ok();
    c.run(&["stop", "nosuch"])
        .assert_err_line("no such container");
    let cid = c.dir.join("a1.cid");
    let id = c.run(&["inspect", "--format", "{{.Id}}", "a1"]);
    std::fs::write(&cid, id.assert_ok().stdout.trim()).unwrap();
    let cidfile = format!("--cidfile={}", cid.display());
    c.run(&["stop", "--ignore", &cidfile, "-t", "0"])
        .assert_ok();
    let st = c.run(&["inspect", "--format", "{{.State.Status}}", "a1"]);
    assert_eq!(st.assert_ok().stdout, "exited\n");
    c.run(&["rm", "-f", "--ignore", "--cidfile", "/nonexistent/x.cid"])
        .assert_ok();
    c.run(&["rm", "-f", "--cidfile", "/nonexistent/x.cid"])
        .assert_err_line("cidfile");
    c.run(&["rm", "-t", "0", "--all", "--force", "--ignore"])
        .assert_ok();
    c.assert_no_containers();
    c.run(&["rmi", "--ignore", "nosuch"]).assert_ok();
    c.run(&["rmi", "nosuch"]).assert_code(125);
}

/// `ps --noheading/--sort/--external`, `images --noheading/--sort`.
fn podman_listing(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    for n in ["zeta", "alpha", "mid"] {
        c.run(&["create", "--name", n, &img, "true"]).assert_ok();
    }
    let names = |args: &[&str]| {
        let mut all = vec!["ps", "-a", "--format", "{{.Names}}"];
        all.extend_from_slice(args);
        c.run(&all).assert_ok().stdout.clone()
    };
    assert_eq!(names(&["--sort", "names"]), "alpha\nmid\nzeta\n");
    assert_eq!(names(&["--sort=created"]), "mid\nalpha\nzeta\n");
    assert_eq!(names(&["--external"]), "mid\nalpha\nzeta\n");
    c.run(&["ps", "--sort", "bogus"]).assert_code(125);
    let table = c.run(&["ps", "-a", "--noheading"]);
    assert_eq!(table.assert_ok().stdout.lines().count(), 3, "{table}");
    assert!(!table.stdout.contains("CONTAINER ID"), "{table}");
    let imgs = c.run(&["images", "--noheading"]);
    assert!(!imgs.assert_ok().stdout.contains("REPOSITORY"), "{imgs}");
    assert_eq!(imgs.stdout.lines().count(), 1, "{imgs}");
    c.run(&["images", "-n", "--sort", "repository"]).assert_ok();
    c.run(&["rm", "-a"]).assert_ok();
}

/// `container exists` / `image exists` answer with the exit code; `untag` removes names.
fn podman_exists_and_untag(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    c.run(&["create", "--name", "here", &img, "true"])
        .assert_ok();
    assert_eq!(c.run(&["container", "exists", "here"]).code(), 0);
    let no = c.run(&["container", "exists", "gone"]);
    assert_eq!(
        (no.code(), no.stdout.as_str(), no.stderr.as_str()),
        (1, "", "")
    );
    assert_eq!(c.run(&["image", "exists", &img]).code(), 0);
    assert_eq!(c.run(&["image", "exists", "nosuch:tag"]).code(), 1);
    c.run(&["rm", "here"]).assert_ok();
    c.run(&["tag", &img, "extra:one"]).assert_ok();
    c.run(&["tag", &img, "extra:two"]).assert_ok();
    c.run(&["untag", &img, "extra:one"]).assert_ok();
    assert_eq!(c.run(&["image", "exists", "extra:one"]).code(), 1);
    assert_eq!(c.run(&["image", "exists", "extra:two"]).code(), 0);
    c.run(&["untag", &img, "extra:nope"])
        .assert_err_line("tag not known");
    c.run(&["image", "untag", "extra:two"]).assert_ok();
    let dangling = c.run(&["images", "--filter", "dangling=true", "-q"]);
    assert_eq!(dangling.assert_ok().stdout.lines().count(), 1, "{dangling}");
}

both!(
    podman_create_flags,
    pull_newer,
    real_time_signals,
    containerenv,
    system_reset_and_migrate
);

/// `--cidfile`, `--replace` and `--tz` on run and create.
fn podman_create_flags(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let cid = c.dir.join("web.cid");
    let cidfile = format!("--cidfile={}", cid.display());
    let id = c.run(&["create", "--name", "web", &cidfile, &img, "sleep", "60"]);
    let id = id.assert_ok().stdout.trim().to_string();
    assert_eq!(std::fs::read_to_string(&cid).unwrap(), id);
    // docker refuses a cidfile that holds an ID, before creating anything.
    c.run(&["create", &cidfile, &img, "true"])
        .assert_err_line("container ID file found");
    c.run(&["start", "web"]).assert_ok();
    c.run(&["create", "--name", "web", &img, "true"])
        .assert_err_line("already in use");
    // A --replace whose image cannot be had leaves the old container alone.
    let gone = "127.0.0.1:1/offline/none:latest";
    c.run(&["run", "-d", "--replace", "--name", "web", gone, "true"])
        .assert_code(125);
    assert_eq!(c.run(&["container", "exists", &id]).code(), 0);
    // --replace: the running container of that name goes and the new one takes the name.
    let new = c.run(&[
        "run",
        "-d",
        "--replace",
        "--name",
        "web",
        &img,
        "sleep",
        "60",
    ]);
    let new = new.assert_ok().stdout.trim().to_string();
    assert_ne!(new, id);
    assert_eq!(c.run(&["container", "exists", &id]).code(), 1);
    let ps = c.run(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(ps.assert_ok().stdout, "web\n");
    c.run(&["rm", "-f", "web"]).assert_ok();
    // --replace with no container of that name is a plain run.
    c.run(&["run", "--rm", "--replace", "--name", "fresh", &img, "true"])
        .assert_ok();
    // --tz: the container's /etc/localtime is the zone's file.
    let zone = "/usr/share/zoneinfo/Asia/Tokyo";
    let want = common::sha256_hex(&std::fs::read(zone).unwrap());
    let sum = c.run(&[
        "run",
        "--rm",
        "--tz",
        "Asia/Tokyo",
        &img,
        "sha256sum",
        "/etc/localtime",
    ]);
    assert!(sum.assert_ok().stdout.starts_with(&want), "{sum}");
    let tz = c.run(&["create", "--tz=local", &img, "true"]);
    let tz_id = tz.assert_ok().stdout.trim().to_string();
    let shown = c.run(&["inspect", "--format", "{{.Config.Timezone}}", &tz_id]);
    assert_eq!(shown.assert_ok().stdout, "local\n");
    c.run(&["rm", &tz_id]).assert_ok();
    for bad in ["Nowhere/City", "../../etc/shadow"] {
        c.run(&["run", "--rm", "--tz", bad, &img, "true"])
            .assert_err_line("unknown time zone");
    }
    c.assert_no_containers();
}

/// `--pull newer`: the registry's image when it can be asked, else the stored one with a
/// warning; `--pull always` has no such fallback.
fn pull_newer(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    c.run(&["run", "--rm", "--pull", "newer", &img, "echo", "ok"])
        .assert_ok();
    let dead = "127.0.0.1:1/offline/busybox:latest";
    c.run(&["tag", &img, dead]).assert_ok();
    let out = c.run(&["run", "--rm", "--pull=newer", dead, "echo", "local"]);
    assert_eq!(out.assert_ok().stdout, "local\n", "{out}");
    assert!(out.stderr.contains("using the local image"), "{out}");
    c.run(&["run", "--rm", "--pull", "always", dead, "true"])
        .assert_code(125);
    c.run(&["run", "--rm", "--pull", "sometimes", &img, "true"])
        .assert_err_line("invalid pull policy");
    c.assert_no_containers();
}

/// `kill -s` takes real-time signals by number and by name.
fn real_time_signals(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    for (sig, number) in [("64", 64), ("SIGRTMIN+3", 37), ("RTMAX-2", 62)] {
        // Not pid 1 (--pid host): the signal's default action ends the process.
        let id = c.run(&["run", "-d", "--pid", "host", &img, "sleep", "60"]);
        let id = id.assert_ok().stdout.trim().to_string();
        c.run(&["kill", "-s", sig, &id]).assert_ok();
        let code = c.run(&["wait", &id]);
        assert_eq!(code.assert_ok().stdout.trim(), (128 + number).to_string());
        c.run(&["rm", &id]).assert_ok();
    }
    c.run(&["kill", "-s", "65", "x"])
        .assert_err_line("invalid signal");
    c.run(&["kill", "-s", "RTMIN+31", "x"])
        .assert_err_line("invalid signal");
}

/// Every container has podman's /run/.containerenv; a privileged one says what it is.
fn containerenv(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let plain = c.run(&["run", "--rm", &img, "cat", "/run/.containerenv"]);
    assert_eq!(plain.assert_ok().stdout, "");
    let out = c.run(&[
        "run",
        "--rm",
        "--privileged",
        "--name",
        "priv",
        &img,
        "cat",
        "/run/.containerenv",
    ]);
    let text = out.assert_ok().stdout.clone();
    assert!(text.starts_with("engine=\"cove-"), "{out}");
    assert!(text.contains("name=\"priv\"\n"), "{out}");
    let rootless = if who == Who::Rootless { 1 } else { 0 };
    assert!(text.contains(&format!("rootless={rootless}\n")), "{out}");
}

/// `system migrate` stops containers and the user namespace; `system reset -f` empties the
/// store; without -f and a terminal it removes nothing.
fn system_reset_and_migrate(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let id = c.run(&["run", "-d", &img, "sleep", "60"]);
    let id = id.assert_ok().stdout.trim().to_string();
    c.run(&["system", "migrate"]).assert_ok();
    let st = c.run(&["inspect", "--format", "{{.State.Status}}", &id]);
    assert_eq!(st.assert_ok().stdout, "exited\n");
    c.run(&["start", &id]).assert_ok();
    let no = c.run(&["system", "reset"]);
    no.assert_ok();
    assert_eq!(c.run(&["ps", "-q"]).assert_ok().stdout.lines().count(), 1);
    c.run(&["system", "reset", "-f"]).assert_ok();
    let left: Vec<_> = std::fs::read_dir(&c.root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "store left: {left:?}");
    assert_eq!(c.run(&["ps", "-aq"]).assert_ok().stdout, "");
    assert_eq!(c.run(&["images", "-q"]).assert_ok().stdout, "");
    // The store works again afterwards.
    c.busybox();
    c.run(&["run", "--rm", &img, "true"]).assert_ok();
}

both!(noout);

/// podman's global `--noout`: cove's own output goes, the container's stays.
fn noout(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let id = c.run(&[
        "--noout", "run", "-d", "--name", "quiet", &img, "sleep", "60",
    ]);
    assert_eq!(id.assert_ok().stdout, "", "{id}");
    assert_eq!(c.run(&["ps", "--noout"]).assert_ok().stdout, "");
    assert_eq!(
        c.run(&["--noout", "rm", "-f", "quiet"]).assert_ok().stdout,
        ""
    );
    let run = c.run(&["--noout", "run", "--rm", &img, "echo", "shown"]);
    assert_eq!(run.assert_ok().stdout, "shown\n");
    let exec_id = c.run(&["run", "-d", &img, "sleep", "60"]);
    let exec_id = exec_id.assert_ok().stdout.trim().to_string();
    let exec = c.run(&["--noout", "exec", &exec_id, "echo", "also"]);
    assert_eq!(exec.assert_ok().stdout, "also\n");
    c.run(&["rm", "-f", &exec_id]).assert_ok();
    // Errors still reach stderr.
    c.run(&["--noout", "rm", "nosuch"])
        .assert_err_line("no such container");
}

both!(passwd_entries);

/// `--passwd-entry` gives a user the image lacks a name and home; keep-id adds the caller.
fn passwd_entries(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let out = c.run(&[
        "run",
        "--rm",
        "-u",
        "4321:4321",
        "--passwd-entry",
        "me:*:$UID:$GID:Me:/home/me:/bin/sh",
        &img,
        "sh",
        "-c",
        "id -un; echo $HOME; grep -c . /etc/passwd",
    ]);
    let lines: Vec<&str> = out.assert_ok().stdout.lines().collect();
    assert_eq!(lines[..2], ["me", "/home/me"], "{out}");
    // Without the flag the image's passwd is untouched.
    let plain = c.run(&[
        "run",
        "--rm",
        "-u",
        "4321",
        &img,
        "grep",
        "-c",
        "4321",
        "/etc/passwd",
    ]);
    assert_eq!(plain.stdout.trim(), "0", "{plain}");
    if who == Who::Rootless {
        let user = c.user.as_ref().unwrap();
        let out = c.run(&[
            "run",
            "--rm",
            "--userns",
            "keep-id",
            &img,
            "sh",
            "-c",
            "id -un; id -gn",
        ]);
        let want = format!("{}\n{}\n", user.name, user.name);
        assert_eq!(out.assert_ok().stdout, want, "{out}");
    }
}
