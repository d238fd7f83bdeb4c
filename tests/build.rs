//! build: Dockerfiles built as docker builds them, observed as a user observes them — the
//! step lines, what the built image holds (files, owners, modes) and says (`image inspect`),
//! what it runs, cache hits and misses, multi-stage builds, and one clear line for each
//! mistake with nothing tagged.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use std::path::PathBuf;

use common::{Cove, Who};

/// A context directory with these files, owned by the user.
fn context(c: &Cove, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = c.dir.join(name);
    for (path, content) in files {
        c.write(&dir.join(path), content);
    }
    // The user's files, readable as a context is (0600 from `write` is fine for the owner).
    dir
}

fn build(c: &Cove, args: &[&str]) -> common::Out {
    let mut all = vec!["build"];
    all.extend_from_slice(args);
    c.run(&all)
}

fn inspect(c: &Cove, image: &str, fmt: &str) -> String {
    c.ok(&["image", "inspect", "--format", fmt, image])
        .stdout
        .trim()
        .to_string()
}

both!(
    instructions_make_the_image_docker_makes,
    cache_hits_and_misses,
    multi_stage_builds_only_what_the_target_needs,
    bad_input_is_one_line_and_tags_nothing,
    healthcheck_shell_and_onbuild_are_kept,
    secrets_and_cache_mounts_stay_out_of_layers,
    contexts_from_stdin_and_dockerignore,
    add_unpacks_archives_and_fetches_urls,
    dockerfile_syntax_as_docker_reads_it,
    copy_keeps_what_the_image_has,
    debug_on_fail_opens_the_failed_step,
    other_platforms_say_why_they_cannot_run,
    cache_travels_through_a_directory
);

fn instructions_make_the_image_docker_makes(who: Who) {
    let c = Cove::new(who);
    let base = c.busybox();
    let dockerfile = format!(
        "FROM {base}\n\
         ARG WHO=world\n\
         ENV GREETING=hello\n\
         LABEL org.cove.kind=test version=1\n\
         MAINTAINER someone@example.com\n\
         WORKDIR /app\n\
         WORKDIR sub\n\
         COPY src/ ./src/\n\
         COPY *.txt notes/\n\
         COPY --chmod=0751 run.sh /usr/local/bin/run.sh\n\
         COPY --chown=1234:2345 owned.dat /data/owned.dat\n\
         RUN echo \"$GREETING $WHO\" > greet && mkdir -p /var/made && touch /var/made/x\n\
         EXPOSE 8080 53/udp\n\
         VOLUME /data\n\
         STOPSIGNAL SIGUSR1\n\
         USER 1234\n\
         ENTRYPOINT [\"/bin/sh\", \"-c\"]\n\
         CMD [\"cat /app/sub/greet\"]\n"
    );
    let ctx = context(
        &c,
        "ctx",
        &[
            ("Dockerfile", &dockerfile),
            ("src/a/one.txt", "one\n"),
            ("src/two", "two\n"),
            ("x.txt", "x\n"),
            ("y.txt", "y\n"),
            ("run.sh", "#!/bin/sh\necho ran\n"),
            ("owned.dat", "data\n"),
        ],
    );
    let out = build(
        &c,
        &[
            "-t",
            "built:1",
            "--build-arg",
            "WHO=you",
            ctx.to_str().unwrap(),
        ],
    );
    out.assert_ok();
    assert!(
        out.stdout
            .starts_with(&format!("Step 1/18 : FROM {base}\n")),
        "{out}"
    );
    assert!(out.stdout.contains("Step 12/18 : RUN echo"), "{out}");
    assert!(out.stdout.contains(" ---> Running in "), "{out}");
    assert!(
        out.stdout.contains("Successfully tagged built:1\n"),
        "{out}"
    );
    let short = out
        .lines()
        .iter()
        .find_map(|l| l.strip_prefix("Successfully built "))
        .unwrap()
        .to_string();
    assert_eq!(inspect(&c, "built:1", "{{.Id}}")[7..19], short);

    assert_eq!(c.ok(&["run", "--rm", "built:1"]).stdout, "hello you\n");
    // ENV adds to the base's environment; ARG is not kept.
    let env = |image: &str| -> Vec<String> {
        serde_json::from_str(&inspect(&c, image, "{{json .Config.Env}}")).unwrap_or_default()
    };
    let mut want = env(&base);
    want.push("GREETING=hello".into());
    assert_eq!(env("built:1"), want);
    assert_eq!(inspect(&c, "built:1", "{{.Config.WorkingDir}}"), "/app/sub");
    assert_eq!(inspect(&c, "built:1", "{{.Config.User}}"), "1234");
    assert_eq!(
        inspect(&c, "built:1", "{{json .Config.Labels}}"),
        r#"{"org.cove.kind":"test","org.cove.test":"busybox","version":"1"}"#,
        "the base's labels and the new ones"
    );
    assert_eq!(
        inspect(&c, "built:1", "{{json .Config.ExposedPorts}}"),
        r#"{"53/udp":{},"8080/tcp":{}}"#
    );
    assert_eq!(
        inspect(&c, "built:1", "{{json .Config.Volumes}}"),
        r#"{"/data":{}}"#
    );
    assert_eq!(inspect(&c, "built:1", "{{.Config.StopSignal}}"), "SIGUSR1");
    assert_eq!(
        inspect(
            &c,
            "built:1",
            "{{json .Config.Entrypoint}} {{json .Config.Cmd}}"
        ),
        r#"["/bin/sh","-c"] ["cat /app/sub/greet"]"#
    );
    assert_eq!(inspect(&c, "built:1", "{{.Author}}"), "someone@example.com");

    // Files: directory contents, globs into a new directory, modes and owners.
    let ls = c.ok(&[
        "run",
        "--rm",
        "--user",
        "0",
        "--entrypoint",
        "",
        "built:1",
        "sh",
        "-c",
        "cat src/a/one.txt src/two notes/x.txt notes/y.txt; \
         stat -c '%a %u:%g %n' /usr/local/bin/run.sh /data/owned.dat src/two /var/made/x; \
         /usr/local/bin/run.sh",
    ]);
    assert_eq!(
        ls.stdout,
        "one\ntwo\nx\ny\n751 0:0 /usr/local/bin/run.sh\n600 1234:2345 /data/owned.dat\n\
         600 0:0 src/two\n644 0:0 /var/made/x\nran\n",
        "{ls}"
    );
    // History: one entry per instruction, the config-only ones empty.
    let history = c.ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}",
        "built:1",
    ]);
    assert!(history.lines()[0].starts_with("CMD"), "{history}");
    assert!(
        history.stdout.contains("RUN |1 WHO=you /bin/sh -c echo"),
        "{history}"
    );
}

fn cache_hits_and_misses(who: Who) {
    let c = Cove::new(who);
    let base = c.busybox();
    let dockerfile = format!(
        "FROM {base}\nCOPY a.txt /a.txt\nRUN cat /a.txt > /b.txt\nCMD [\"cat\", \"/b.txt\"]\n"
    );
    let ctx = context(
        &c,
        "ctx",
        &[("Dockerfile", &dockerfile), ("a.txt", "first\n")],
    );
    let dir = ctx.to_str().unwrap();
    let first = build(&c, &["-q", "-t", "cached", dir]);
    first.assert_ok();
    let id = first.stdout.trim().to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{first}");

    // Unchanged: every step from the cache, no RUN, the same image.
    let again = build(&c, &["-t", "cached", dir]);
    again.assert_ok();
    assert_eq!(
        again.stdout.matches(" ---> Using cache").count(),
        3,
        "{again}"
    );
    assert!(!again.stdout.contains("Running in"), "{again}");
    assert_eq!(inspect(&c, "cached", "{{.Id}}"), id);

    // A touch changes no content: still cached.
    let a = ctx.join("a.txt");
    let f = std::fs::File::options().append(true).open(&a).unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
        .unwrap();
    assert_eq!(build(&c, &["-q", dir]).stdout.trim(), id);

    // New content: COPY and everything after it run again.
    c.write(&a, "second\n");
    let changed = build(&c, &["-t", "cached", dir]);
    changed.assert_ok();
    assert_eq!(
        changed.stdout.matches(" ---> Using cache").count(),
        0,
        "{changed}"
    );
    assert!(changed.stdout.contains("Running in"), "{changed}");
    assert_eq!(c.ok(&["run", "--rm", "cached"]).stdout, "second\n");

    // --no-cache (also as --no-cache=true) runs everything.
    let fresh = build(&c, &["--no-cache=true", "-t", "cached", dir]);
    fresh.assert_ok();
    assert!(!fresh.stdout.contains("Using cache"), "{fresh}");

    // The cache is not listed by `images`, only with -a; builder prune removes it.
    let listed = c.ok(&["images", "-q"]);
    assert_eq!(listed.lines().len(), 2, "busybox and cached only: {listed}");
    assert!(c.ok(&["images", "-a", "-q"]).lines().len() > 2);
    let pruned = c.ok(&["builder", "prune", "-f"]);
    assert!(pruned.stdout.contains("Total reclaimed space"), "{pruned}");
    assert_eq!(c.ok(&["images", "-a", "-q"]).lines().len(), 2);
    assert_eq!(c.ok(&["run", "--rm", "cached"]).stdout, "second\n");
}

fn multi_stage_builds_only_what_the_target_needs(who: Who) {
    let c = Cove::new(who);
    let base = c.busybox();
    let dockerfile = format!(
        "FROM {base} AS build\n\
         RUN mkdir -p /out /junk && echo binary > /out/app && echo junk > /junk/file\n\
         FROM {base} AS broken\n\
         RUN exit 1\n\
         FROM build AS test\n\
         RUN test -f /out/app\n\
         FROM {base}\n\
         COPY --from=build /out/app /usr/bin/app\n\
         COPY --from=0 /out /copied\n\
         CMD [\"cat\", \"/usr/bin/app\"]\n"
    );
    let ctx = context(&c, "ctx", &[("Dockerfile", &dockerfile)]);
    let dir = ctx.to_str().unwrap();
    let out = build(&c, &["-t", "multi", dir]);
    out.assert_ok();
    assert!(
        !out.stdout.contains("exit 1"),
        "the broken stage is not built: {out}"
    );
    assert!(!out.stdout.contains("test -f"), "nor the test stage: {out}");
    assert_eq!(c.ok(&["run", "--rm", "multi"]).stdout, "binary\n");
    let files = c.ok(&[
        "run",
        "--rm",
        "multi",
        "sh",
        "-c",
        "ls /copied; test -e /junk || echo clean",
    ]);
    assert_eq!(files.stdout, "app\nclean\n");

    let t = build(&c, &["--target", "test", "-t", "tested", dir]);
    t.assert_ok();
    assert!(t.stdout.contains("test -f"), "{t}");
    assert!(!t.stdout.contains("exit 1"), "{t}");
    let bad = build(&c, &["--target", "broken", dir]);
    bad.assert_code(1);
    assert!(bad.stderr.contains("returned a non-zero code: 1"), "{bad}");
}

fn bad_input_is_one_line_and_tags_nothing(who: Who) {
    let c = Cove::new(who);
    let base = c.busybox();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "failing-run",
            format!("FROM {base}\nRUN echo before\nRUN exit 3\n"),
            "Dockerfile:3: the command '/bin/sh -c exit 3' returned a non-zero code: 3",
        ),
        (
            "unknown",
            format!("FROM {base}\nFORM x\n"),
            "Dockerfile:2: unknown instruction: FORM",
        ),
        ("empty", "# nothing\n".to_string(), "Dockerfile:"),
        ("no-from", "RUN true\n".to_string(), "no build stage"),
        (
            "missing-source",
            format!("FROM {base}\nCOPY nothere /x\n"),
            "nothere",
        ),
        (
            "outside",
            format!("FROM {base}\nCOPY ../secret /x\n"),
            "outside the build context",
        ),
        (
            "many-to-file",
            format!("FROM {base}\nCOPY a b /file\n"),
            "must be a directory and end with a /",
        ),
        (
            "bad-target",
            format!("FROM {base} AS one\n"),
            "target stage \"nope\" could not be found",
        ),
        (
            "bad-chmod",
            format!("FROM {base}\nCOPY --chmod=9x a /a\n"),
            "invalid chmod",
        ),
    ];
    for (name, dockerfile, message) in cases {
        let ctx = context(
            &c,
            name,
            &[("Dockerfile", &dockerfile), ("a", "a"), ("b", "b")],
        );
        let mut args = vec!["-t", "never:tagged"];
        if name == "bad-target" {
            args.extend(["--target", "nope"]);
        }
        args.push(ctx.to_str().unwrap());
        let out = build(&c, &args);
        out.assert_code(1);
        let errors: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("Error: "))
            .collect();
        assert_eq!(errors.len(), 1, "{name}: {out}");
        assert!(
            errors[0].contains(message),
            "{name}: expected {message:?}: {out}"
        );
        c.run(&["image", "inspect", "never:tagged"])
            .assert_code(125);
    }
    // No context at all.
    let out = build(&c, &[c.dir.join("nowhere").to_str().unwrap()]);
    out.assert_code(1);
    assert!(out.stderr.contains("not found"), "{out}");
    // Nothing is left running or half-made: no containers, no temp files.
    assert_eq!(c.ok(&["ps", "-a", "-q"]).stdout, "");
}

fn healthcheck_shell_and_onbuild_are_kept(who: Who) {
    let c = Cove::new(who);
    let base = c.busybox();
    let parent = format!(
        "FROM {base}\n\
         SHELL [\"/bin/sh\", \"-ec\"]\n\
         HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD echo ok\n\
         ONBUILD RUN echo triggered > /onbuild.txt\n\
         RUN echo shell-ok\n"
    );
    let ctx = context(&c, "parent", &[("Dockerfile", &parent)]);
    let out = build(&c, &["-t", "parent", ctx.to_str().unwrap()]);
    out.assert_ok();
    assert!(out.stdout.contains("shell-ok"), "{out}");
    assert_eq!(
        inspect(&c, "parent", "{{json .Config.Healthcheck}}"),
        r#"{"Interval":30000000000,"Retries":3,"Test":["CMD-SHELL","echo ok"],"Timeout":5000000000}"#
    );
    assert_eq!(
        inspect(&c, "parent", "{{json .Config.Shell}}"),
        r#"["/bin/sh","-ec"]"#
    );
    assert_eq!(
        inspect(&c, "parent", "{{json .Config.OnBuild}}"),
        r#"["RUN echo triggered > /onbuild.txt"]"#
    );
    // The trigger runs in a build FROM it, and is not passed on.
    let child = context(
        &c,
        "child",
        &[(
            "Dockerfile",
            "FROM parent\nCMD [\"cat\", \"/onbuild.txt\"]\n",
        )],
    );
    let out = build(&c, &["-t", "child", child.to_str().unwrap()]);
    out.assert_ok();
    assert_eq!(c.ok(&["run", "--rm", "child"]).stdout, "triggered\n");
    assert_eq!(inspect(&c, "child", "{{json .Config.OnBuild}}"), "null");
    // HEALTHCHECK NONE clears it.
    let none = context(
        &c,
        "none",
        &[("Dockerfile", "FROM parent\nHEALTHCHECK NONE\n")],
    );
    build(&c, &["-t", "nohealth", none.to_str().unwrap()]).assert_ok();
    assert_eq!(
        inspect(&c, "nohealth", "{{json .Config.Healthcheck}}"),
        r#"{"Test":["NONE"]}"#
    );
}

fn secrets_and_cache_mounts_stay_out_of_layers(who: Who) {
    let c = Cove::new(who);
    let base = c.busybox();
    let secret = c.write(&c.dir.join("token"), "s3cret-value");
    let dockerfile = format!(
        "FROM {base}\n\
         RUN --mount=type=secret,id=tok echo secret-bytes=$(wc -c < /run/secrets/tok)\n\
         RUN --mount=type=cache,target=/cache echo x >> /cache/log && echo runs=$(wc -l < /cache/log)\n"
    );
    let ctx = context(&c, "ctx", &[("Dockerfile", &dockerfile)]);
    let dir = ctx.to_str().unwrap();
    let spec = format!("id=tok,src={}", secret.display());
    let first = build(&c, &["--secret", &spec, "-t", "mounts", dir]);
    first.assert_ok();
    assert!(first.stdout.contains("secret-bytes=12"), "{first}");
    assert!(first.stdout.contains("runs=1"), "{first}");
    let second = build(&c, &["--no-cache", "--secret", &spec, "-t", "mounts", dir]);
    second.assert_ok();
    assert!(
        second.stdout.contains("runs=2"),
        "the cache mount keeps its content: {second}"
    );
    let look = c.ok(&[
        "run",
        "--rm",
        "mounts",
        "sh",
        "-c",
        "ls /run/secrets 2>/dev/null; ls /cache 2>/dev/null; echo end",
    ]);
    assert_eq!(look.stdout, "end\n", "{look}");
    // Not in any layer, nor in the history.
    let tar = c.dir.join("mounts.tar");
    c.ok(&["save", "-o", tar.to_str().unwrap(), "mounts"]);
    let bytes = std::fs::read(&tar).unwrap();
    assert!(
        !bytes.windows(12).any(|w| w == b"s3cret-value"),
        "the secret is in the archive"
    );
    let history = c.ok(&["history", "--no-trunc", "mounts"]);
    assert!(!history.stdout.contains("s3cret"), "{history}");
    // A required secret that is not given fails.
    let need = context(
        &c,
        "need",
        &[(
            "Dockerfile",
            &format!("FROM {base}\nRUN --mount=type=secret,id=missing,required=true true\n"),
        )],
    );
    let out = build(&c, &[need.to_str().unwrap()]);
    out.assert_code(1);
    assert!(out.stderr.contains("secret missing not found"), "{out}");
}

fn contexts_from_stdin_and_dockerignore(who: Who) {
    let c = Cove::new(who);
    let base = c.busybox();
    // A Dockerfile alone on stdin: an empty context.
    let out = c
        .cmd(&["build", "-t", "fromstdin", "-"])
        .input(&format!(
            "FROM {base}\nRUN echo piped > /p\nCMD [\"cat\", \"/p\"]\n"
        ))
        .run();
    out.assert_ok();
    assert_eq!(c.ok(&["run", "--rm", "fromstdin"]).stdout, "piped\n");

    // -f - with a context directory.
    let ctx = context(
        &c,
        "ctx",
        &[
            (".dockerignore", "*.log\nsecret/\n!keep.log\n"),
            ("a.log", "no"),
            ("keep.log", "yes"),
            ("secret/key", "no"),
            ("ok.txt", "ok"),
        ],
    );
    let out = c
        .cmd(&["build", "-f", "-", "-t", "ignored", ctx.to_str().unwrap()])
        .input(&format!(
            "FROM {base}\nCOPY . /ctx/\nCMD [\"ls\", \"-A\", \"/ctx\"]\n"
        ))
        .run();
    out.assert_ok();
    assert_eq!(
        c.ok(&["run", "--rm", "ignored"]).stdout,
        ".dockerignore\nkeep.log\nok.txt\n"
    );

    // A .dockerignore that leaves nothing to copy.
    let all = context(&c, "all", &[(".dockerignore", "*\n"), ("f", "x")]);
    let out = c
        .cmd(&["build", "-f", "-", all.to_str().unwrap()])
        .input(&format!("FROM {base}\nCOPY . /ctx/\n"))
        .run();
    out.assert_code(1);
    assert!(
        out.stderr
            .contains("everything in the build context is excluded"),
        "{out}"
    );

    // A tar of the context on stdin.
    let dir = context(
        &c,
        "tarred",
        &[
            (
                "Dockerfile",
                &format!("FROM {base}\nCOPY hello /hello\nCMD [\"cat\", \"/hello\"]\n"),
            ),
            ("hello", "from a tar\n"),
        ],
    );
    let tar = std::process::Command::new("tar")
        .args(["-C", dir.to_str().unwrap(), "-cf", "-", "."])
        .output()
        .unwrap();
    assert!(tar.status.success());
    let out = c
        .cmd(&["build", "-t", "tarred", "-"])
        .input_bytes(tar.stdout)
        .run();
    out.assert_ok();
    assert_eq!(c.ok(&["run", "--rm", "tarred"]).stdout, "from a tar\n");
}

/// A server on loopback that answers every GET with `body`.
fn file_server(body: &'static str) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    addr
}

fn add_unpacks_archives_and_fetches_urls(who: Who) {
    let c = Cove::new(who);
    let base = c.busybox();
    let addr = file_server("fetched\n");
    let ctx = context(&c, "ctx", &[("inner/a.txt", "in the archive\n")]);
    let tgz = ctx.join("files.tar.gz");
    let made = std::process::Command::new("tar")
        .args([
            "-C",
            ctx.join("inner").to_str().unwrap(),
            "-czf",
            tgz.to_str().unwrap(),
            ".",
        ])
        .status()
        .unwrap();
    assert!(made.success());
    nix::unistd::chown(&tgz, Some(c.uid.into()), Some(c.gid.into())).unwrap();
    let dockerfile = format!(
        "FROM {base}\n\
         ADD files.tar.gz /unpacked/\n\
         COPY files.tar.gz /copied/\n\
         ADD http://{addr}/dl/hello.txt /web/\n\
         CMD [\"sh\", \"-c\", \"cat /unpacked/a.txt /web/hello.txt; stat -c %a /web/hello.txt; ls /copied\"]\n"
    );
    c.write(&ctx.join("Dockerfile"), &dockerfile);
    let out = build(&c, &["-t", "added", ctx.to_str().unwrap()]);
    out.assert_ok();
    assert_eq!(
        c.ok(&["run", "--rm", "added"]).stdout,
        "in the archive\nfetched\n600\nfiles.tar.gz\n"
    );
    // A URL that cannot be fetched fails the build.
    let port = common::registry::free_port();
    c.write(
        &ctx.join("Dockerfile"),
        &format!("FROM {base}\nADD http://127.0.0.1:{port}/x /x\n"),
    );
    let out = build(&c, &[ctx.to_str().unwrap()]);
    out.assert_code(1);
    assert!(out.stderr.contains("ADD http://127.0.0.1"), "{out}");
}

fn dockerfile_syntax_as_docker_reads_it(who: Who) {
    let c = Cove::new(who);
    let base = c.busybox();
    let dockerfile = format!(
        "# syntax=docker/dockerfile:1\n\
         # escape=\\\n\
         from {base}\n\
         ARG UNSET\n\
         ENV A=\"two words\" B=plain \\\n\
         # a comment inside a continuation\n\
             C=${{UNSET:-fallback}} D=\\$A\n\
         RUN <<EOF\n\
         echo \"script $A\" > /script.out\n\
         echo line2 >> /script.out\n\
         EOF\n\
         COPY <<-NOTE /note.txt\n\
         \tB is $B\n\
         \tNOTE\n\
         RUN <<SCRIPT\n\
         #!/bin/sh -e\n\
         echo \"from a script: $0\" | grep -q cove-heredoc && echo scripted > /scripted\n\
         SCRIPT\n\
         RUN cat <<'RAW' > /raw.txt\n\
         $A stays\n\
         RAW\n\
         CMD [\"sh\", \"-c\", \"cat /script.out /note.txt /raw.txt /scripted; echo $C $D\"]\n"
    );
    let ctx = context(&c, "ctx", &[("Dockerfile", &dockerfile)]);
    let out = build(&c, &["-t", "syntax", ctx.to_str().unwrap()]);
    out.assert_ok();
    assert_eq!(
        c.ok(&["run", "--rm", "syntax"]).stdout,
        "script two words\nline2\nB is plain\n$A stays\nscripted\nfallback $A\n"
    );
    let env = inspect(&c, "syntax", "{{json .Config.Env}}");
    assert!(env.contains("\"A=two words\""), "{env}");

    // The escape directive: ` continues lines and \\ is an ordinary character.
    let win = format!(
        "# escape=`\nFROM {base}\nRUN printf '%s\\n' 'c:\\dir' `\n    > /w.txt\nCMD [\"cat\", \"/w.txt\"]\n"
    );
    let ctx = context(&c, "win", &[("Dockerfile", &win)]);
    build(&c, &["-t", "win", ctx.to_str().unwrap()]).assert_ok();
    assert_eq!(c.ok(&["run", "--rm", "win"]).stdout, "c:\\dir\n");

    // Errors name the file and line.
    for (df, want) in [
        (format!("FROM {base}\nRUN <<EOF\necho never ends\n"), "Dockerfile:2: unterminated heredoc EOF"),
        (format!("FROM {base}\nCOPY --bogus=1 a /\n"), "Dockerfile:2: unknown flag: --bogus"),
        (format!("FROM {base}\nENV A=\"open\nRUN true\n"), "Dockerfile:2:"),
        (format!("FROM {base} AS a\nFROM a AS b\nCOPY --from=c /x /x\nFROM b AS c\nCOPY --from=b /x /x\n"), "circular dependency"),
    ] {
        let ctx = context(&c, "bad", &[("Dockerfile", &df)]);
        let out = build(&c, &[ctx.to_str().unwrap()]);
        assert_ne!(out.code(), 0, "{out}");
        assert!(out.stderr.contains(want), "want {want:?}: {out}");
    }
    // A binary file is not a Dockerfile.
    let ctx = context(&c, "binary", &[]);
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), [0u8, 1, 2, 0xff]).unwrap();
    nix::unistd::chown(
        &ctx.join("Dockerfile"),
        Some(c.uid.into()),
        Some(c.gid.into()),
    )
    .unwrap();
    nix::unistd::chown(&ctx, Some(c.uid.into()), Some(c.gid.into())).unwrap();
    let out = build(&c, &[ctx.to_str().unwrap()]);
    out.assert_code(1);
    assert!(out.stderr.contains("not a text file"), "{out}");
}

/// COPY into directories the image has keeps their owner and mode, and follows a symlink on
/// the way inside the image.
fn copy_keeps_what_the_image_has(who: Who) {
    let c = Cove::new(who);
    let base = c.busybox();
    let dockerfile = format!(
        "FROM {base}\n\
         RUN mkdir -p /home/app /srv/real && chown 1000:1000 /home/app && chmod 700 /home/app \\\n\
             && ln -s /srv/real /linked\n\
         COPY a.txt /home/app/\n\
         COPY a.txt /linked/\n\
         COPY dir /home/app/dir\n\
         CMD [\"sh\", \"-c\", \"stat -c '%a %u:%g' /home/app /home/app/a.txt; cat /srv/real/a.txt /home/app/dir/b; test -L /linked && echo link\"]\n"
    );
    let ctx = context(
        &c,
        "ctx",
        &[
            ("Dockerfile", &dockerfile),
            ("a.txt", "a\n"),
            ("dir/b", "b\n"),
        ],
    );
    build(&c, &["-t", "kept", ctx.to_str().unwrap()]).assert_ok();
    assert_eq!(
        c.ok(&["run", "--rm", "kept"]).stdout,
        "700 1000:1000\n600 0:0\na\nb\nlink\n"
    );
}

/// `--debug-on-fail`: a shell in the failed step's file system, with its changes so far and
/// its environment; the build still fails afterwards.
fn debug_on_fail_opens_the_failed_step(who: Who) {
    let c = Cove::new(who);
    let base = c.busybox();
    let dockerfile = format!(
        "FROM {base}\nENV STAGE=testing\nWORKDIR /work\nRUN echo partial > /work/made && exit 4\n"
    );
    let ctx = context(&c, "ctx", &[("Dockerfile", &dockerfile)]);
    let out = c
        .cmd(&[
            "build",
            "--debug-on-fail",
            "-t",
            "never",
            ctx.to_str().unwrap(),
        ])
        .input("cat made; echo \"in $(pwd) as $STAGE\"\n")
        .run();
    out.assert_code(1);
    assert!(
        out.stdout.contains("partial\nin /work as testing\n"),
        "{out}"
    );
    assert!(out.stderr.contains("returned a non-zero code: 4"), "{out}");
    c.run(&["image", "inspect", "never"]).assert_code(125);
    // With a command of its own.
    let out = build(&c, &["--debug-on-fail=ls /work", ctx.to_str().unwrap()]);
    out.assert_code(1);
    assert!(out.stdout.contains("made\n"), "{out}");
    assert_eq!(c.ok(&["ps", "-a", "-q"]).stdout, "");
}

/// `--platform` of another architecture: the base's image for it is used; a RUN that cannot
/// execute says why.
fn other_platforms_say_why_they_cannot_run(who: Who) {
    let c = Cove::new(who);
    let multi = common::fixtures().reference("multi:latest");
    let dockerfile = format!("FROM {multi}\nARG TARGETARCH\nLABEL arch=$TARGETARCH\n");
    let ctx = context(&c, "ctx", &[("Dockerfile", &dockerfile)]);
    let out = build(
        &c,
        &[
            "--platform",
            "linux/arm64",
            "-t",
            "armed",
            ctx.to_str().unwrap(),
        ],
    );
    out.assert_ok();
    assert_eq!(
        inspect(&c, "armed", "{{.Architecture}} {{.Config.Labels.arch}}"),
        "arm64 arm64"
    );
    c.write(
        &ctx.join("Dockerfile"),
        &format!("FROM {multi}\nRUN true\n"),
    );
    let out = build(&c, &["--platform", "linux/arm64", ctx.to_str().unwrap()]);
    out.assert_code(1);
    assert!(
        out.stderr
            .contains("this machine runs linux/amd64 programs only"),
        "{out}"
    );
}

/// `--cache-to` a directory, then `--cache-from` it in a clean store: every step from the
/// cache, the same image.
fn cache_travels_through_a_directory(who: Who) {
    let c = Cove::new(who);
    let base = c.busybox();
    let dockerfile =
        format!("FROM {base}\nRUN echo cached > /c\nCOPY f /f\nCMD [\"cat\", \"/c\"]\n");
    let ctx = context(&c, "ctx", &[("Dockerfile", &dockerfile), ("f", "f")]);
    let dir = c.dir.join("cachedir");
    let to = format!("type=local,dest={}", dir.display());
    let first = build(&c, &["-q", "--cache-to", &to, ctx.to_str().unwrap()]);
    first.assert_ok();
    assert!(dir.join("cache.tar").is_file());
    let fresh = Cove::new(who);
    fresh.busybox();
    let from = format!("type=local,src={}", dir.display());
    let again = fresh.run(&[
        "build",
        "--cache-from",
        &from,
        "-t",
        "fromcache",
        ctx.to_str().unwrap(),
    ]);
    again.assert_ok();
    assert_eq!(again.stdout.matches("Using cache").count(), 3, "{again}");
    assert!(!again.stdout.contains("Running in"), "{again}");
    assert_eq!(inspect(&fresh, "fromcache", "{{.Id}}"), first.stdout.trim());
    assert_eq!(fresh.ok(&["run", "--rm", "fromcache"]).stdout, "cached\n");
    // The cache's own names are not left behind.
    assert!(!fresh
        .ok(&["images", "-a"])
        .stdout
        .contains("cove-build-cache"));
    fresh
        .run(&[
            "build",
            "--cache-to",
            "type=registry,ref=x",
            ctx.to_str().unwrap(),
        ])
        .assert_code(1);
}
