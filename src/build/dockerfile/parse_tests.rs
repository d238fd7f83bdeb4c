use super::*;

fn p(text: &str) -> Dockerfile {
    parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn fails(text: &str) -> ParseError {
    parse(text.as_bytes()).unwrap_err()
}

fn kinds(df: &Dockerfile) -> Vec<Kind> {
    df.stages[0]
        .instructions
        .iter()
        .map(|i| i.kind.clone())
        .collect()
}

#[test]
fn stages_args_and_lines() {
    let df = p("ARG TAG=1\n# c\nFROM busybox:${TAG} AS Build\nRUN true\n\nfrom build\ncopy --from=build /a /b\n");
    assert_eq!(df.global_args.len(), 1);
    assert_eq!(df.stages.len(), 2);
    assert_eq!(df.stages[0].name.as_deref(), Some("build"));
    assert_eq!(df.stages[0].base, "busybox:${TAG}");
    assert_eq!(df.stages[0].line, 3);
    assert_eq!(df.stages[1].instructions[0].line, 7);
    assert_eq!(
        df.stages[1].instructions[0].original,
        "COPY --from=build /a /b"
    );
}

#[test]
fn continuations_and_comments_inside_them() {
    let df = p("FROM x\nRUN echo a \\\n# inside\n\n    && echo b\nRUN echo \\\\\n");
    let k = kinds(&df);
    assert_eq!(
        k[0],
        Kind::Run {
            flags: vec![],
            command: Command::Shell("echo a     && echo b".into()),
            heredocs: vec![]
        }
    );
    assert_eq!(
        k[1],
        Kind::Run {
            flags: vec![],
            command: Command::Shell("echo \\\\".into()),
            heredocs: vec![]
        }
    );
    assert_eq!(df.stages[0].instructions[1].line, 6);
}

#[test]
fn escape_directive() {
    let df = p("# escape=`\nFROM x\nCOPY a `\n  c:\\dir\\\n");
    assert_eq!(df.escape, '`');
    assert_eq!(
        kinds(&df)[0],
        Kind::Copy {
            flags: vec![],
            words: vec!["a".into(), "c:\\dir\\".into()],
            heredocs: vec![]
        }
    );
    // After a comment line it is only a comment.
    let df = p("# hello\n# escape=`\nFROM x\n");
    assert_eq!(df.escape, '\\');
    assert!(fails("# escape=x\nFROM a\n")
        .message
        .contains("invalid escape"));
    let df = p("# syntax=docker/dockerfile:1\nFROM x\n");
    assert_eq!(df.syntax.as_deref(), Some("docker/dockerfile:1"));
}

#[test]
fn exec_and_shell_forms() {
    let df =
        p("FROM x\nCMD [\"a\", \"b c\"]\nENTRYPOINT [bad json\nSHELL [\"/bin/bash\", \"-c\"]\n");
    let k = kinds(&df);
    assert_eq!(
        k[0],
        Kind::Cmd(Command::Exec(vec!["a".into(), "b c".into()]))
    );
    assert_eq!(k[1], Kind::Entrypoint(Command::Shell("[bad json".into())));
    assert_eq!(k[2], Kind::Shell(vec!["/bin/bash".into(), "-c".into()]));
    assert!(fails("FROM x\nSHELL /bin/sh\n").message.contains("JSON"));
}

#[test]
fn env_label_arg_pairs() {
    let df = p("FROM x\nENV A=\"x y\" B=z\nENV OLD value with spaces\nLABEL \"k.1\"=v a=b\\ c\nARG N\nARG M=1 O=2\n");
    let k = kinds(&df);
    assert_eq!(
        k[0],
        Kind::Env(vec![
            ("A".into(), "\"x y\"".into()),
            ("B".into(), "z".into())
        ])
    );
    assert_eq!(
        k[1],
        Kind::Env(vec![("OLD".into(), "value with spaces".into())])
    );
    assert_eq!(
        k[2],
        Kind::Label(vec![
            ("\"k.1\"".into(), "v".into()),
            ("a".into(), "b\\ c".into())
        ])
    );
    assert_eq!(k[3], Kind::Arg(vec![("N".into(), None)]));
    assert_eq!(
        k[4],
        Kind::Arg(vec![
            ("M".into(), Some("1".into())),
            ("O".into(), Some("2".into()))
        ])
    );
    assert!(fails("FROM x\nENV ONLY\n")
        .message
        .contains("two arguments"));
    assert!(fails("FROM x\nENV A=1 B\n")
        .message
        .contains("can't find ="));
}

#[test]
fn heredocs() {
    let df = p("FROM x\nRUN <<EOF\necho one\necho two\nEOF\nCOPY <<A <<-\"B\" /dest/\naaa\nA\n\tbbb $X\n\tB\nRUN python3 <<'PY'\nprint(1)\nPY\n");
    let k = kinds(&df);
    let Kind::Run {
        command, heredocs, ..
    } = &k[0]
    else {
        panic!()
    };
    assert_eq!(command, &Command::Shell("<<EOF".into()));
    assert_eq!(heredocs[0].content, "echo one\necho two\n");
    let Kind::Copy {
        words, heredocs, ..
    } = &k[1]
    else {
        panic!()
    };
    assert_eq!(words, &["<<A", "<<-\"B\"", "/dest/"]);
    assert_eq!(heredocs[0].content, "aaa\n");
    assert_eq!(heredocs[1].content, "bbb $X\n");
    assert!(heredocs[1].quoted && heredocs[1].strip_tabs);
    let Kind::Run { heredocs, .. } = &k[2] else {
        panic!()
    };
    assert!(heredocs[0].quoted);
    assert_eq!(df.stages[0].instructions[2].line, 11);
    assert!(fails("FROM x\nRUN <<EOF\necho\n")
        .message
        .contains("unterminated heredoc"));
    // A here-string and quoted text are not heredocs.
    let df = p("FROM x\nRUN cat <<<word && echo \"<<NO\"\n");
    let Kind::Run { heredocs, .. } = &kinds(&df)[0] else {
        panic!()
    };
    assert!(heredocs.is_empty());
}

#[test]
fn healthcheck_onbuild_and_others() {
    let df = p("FROM x\nHEALTHCHECK --interval=5s CMD curl -f x\nHEALTHCHECK NONE\nONBUILD run echo hi\nEXPOSE 80 53/udp\nVOLUME [\"/a\", \"/b\"]\nVOLUME /c /d\n");
    let k = kinds(&df);
    assert_eq!(
        k[0],
        Kind::Healthcheck(Healthcheck {
            flags: vec![("interval".into(), "5s".into())],
            command: Some(Command::Shell("curl -f x".into()))
        })
    );
    assert_eq!(
        k[1],
        Kind::Healthcheck(Healthcheck {
            flags: vec![],
            command: None
        })
    );
    assert_eq!(k[2], Kind::Onbuild("RUN echo hi".into()));
    assert_eq!(k[3], Kind::Expose(vec!["80".into(), "53/udp".into()]));
    assert_eq!(k[4], Kind::Volume(vec!["/a".into(), "/b".into()]));
    assert_eq!(k[5], Kind::Volume(vec!["/c".into(), "/d".into()]));
    assert!(fails("FROM x\nONBUILD ONBUILD RUN x\n")
        .message
        .contains("isn't allowed"));
    assert!(fails("FROM x\nONBUILD FROM y\n")
        .message
        .contains("isn't allowed"));
    assert!(fails("FROM x\nHEALTHCHECK --bogus=1 CMD x\n")
        .message
        .contains("unknown flag"));
    assert!(fails("FROM x\nHEALTHCHECK RUN x\n")
        .message
        .contains("try CMD"));
}

#[test]
fn bad_input() {
    assert_eq!(
        fails("FROM x\nFORM y\n"),
        ParseError {
            line: 2,
            message: "unknown instruction: FORM".into()
        }
    );
    assert!(fails("").message.contains("no instructions"));
    assert!(fails("# only a comment\n\n")
        .message
        .contains("no instructions"));
    assert!(fails("RUN true\n").message.contains("no build stage"));
    assert!(fails("FROM a AS\n").message.contains("one or three"));
    assert!(fails("FROM a b c\n").message.contains("one or three"));
    assert!(fails("FROM x\nWORKDIR\n")
        .message
        .contains("exactly one argument"));
    assert!(fails("FROM x\nCOPY onlyone\n")
        .message
        .contains("at least two"));
    assert!(fails("FROM x\nRUN --nope true\n")
        .message
        .contains("unknown flag: --nope"));
    assert!(parse(b"FROM x\0\n")
        .unwrap_err()
        .message
        .contains("not a text file"));
    assert!(parse(&[0xff, 0xfe, 0x00])
        .unwrap_err()
        .message
        .contains("not a text file"));
    let huge = vec![b'#'; MAX_SIZE + 1];
    assert!(parse(&huge)
        .unwrap_err()
        .message
        .contains("larger than 4 MiB"));
}

#[test]
fn pathological_input_is_quick() {
    let start = std::time::Instant::now();
    let mut s = String::from("FROM x\nRUN ");
    s.push_str(&"\\\n".repeat(200_000));
    s.push_str("true\n");
    assert!(parse(s.as_bytes()).is_ok());
    let mut s = String::from("FROM x\nRUN ");
    s.push_str(&"<<".repeat(200_000));
    let _ = parse(s.as_bytes());
    let dollars = "${".repeat(100_000);
    let _ = super::super::expand::expand(&dollars, '\\', &|_| None);
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}
