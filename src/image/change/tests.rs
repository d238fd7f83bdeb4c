//! The change instructions, as docker's builder reads them.

use serde_json::{json, Value};

use super::{apply, validate};

fn changed(base: Value, changes: &[&str]) -> Value {
    let mut c = base;
    let changes: Vec<String> = changes.iter().map(|s| s.to_string()).collect();
    apply(&changes, &mut c).unwrap();
    c
}

fn error(changes: &[&str]) -> String {
    let changes: Vec<String> = changes.iter().map(|s| s.to_string()).collect();
    validate(&changes).unwrap_err().to_string()
}

#[test]
fn cmd_and_entrypoint_take_both_forms() {
    let c = changed(json!({"Cmd": ["sh"]}), &[r#"CMD ["echo", "hi"]"#]);
    assert_eq!(c["Cmd"], json!(["echo", "hi"]));
    let c = changed(json!({}), &["cmd echo $HOME"]);
    assert_eq!(c["Cmd"], json!(["/bin/sh", "-c", "echo $HOME"]));
    let c = changed(json!({"Shell": ["/bin/bash", "-xc"]}), &["CMD true"]);
    assert_eq!(c["Cmd"], json!(["/bin/bash", "-xc", "true"]));
    // Not an array of strings: the shell form.
    let c = changed(json!({}), &["CMD [1, 2]"]);
    assert_eq!(c["Cmd"], json!(["/bin/sh", "-c", "[1, 2]"]));
    // A new entrypoint drops the inherited command, not one set by these changes.
    let c = changed(json!({"Cmd": ["sh"]}), &[r#"ENTRYPOINT ["/bin/app"]"#]);
    assert_eq!(
        (c["Entrypoint"].clone(), c["Cmd"].clone()),
        (json!(["/bin/app"]), Value::Null)
    );
    let c = changed(
        json!({"Cmd": ["sh"]}),
        &["CMD x", r#"ENTRYPOINT ["/bin/app"]"#],
    );
    assert_eq!(c["Cmd"], json!(["/bin/sh", "-c", "x"]));
}

#[test]
fn env_and_labels() {
    let base = json!({"Env": ["PATH=/bin", "A=old"]});
    let c = changed(
        base,
        &[r#"ENV A=new B="two words" C=$PATH:/x"#, "ENV D the rest"],
    );
    assert_eq!(
        c["Env"],
        json!([
            "PATH=/bin",
            "A=new",
            "B=two words",
            "C=/bin:/x",
            "D=the rest"
        ])
    );
    let c = changed(json!({}), &["ENV X=1 Y=$X"]);
    assert_eq!(c["Env"], json!(["X=1", "Y=1"]));
    let c = changed(
        json!({"Labels": {"a": "1"}}),
        &[r#"LABEL b="2 3" c=4"#, "label d e"],
    );
    assert_eq!(
        c["Labels"],
        json!({"a": "1", "b": "2 3", "c": "4", "d": "e"})
    );
}

#[test]
fn expose_volume_user_workdir_stopsignal() {
    let c = changed(
        json!({"WorkingDir": "/app"}),
        &[
            "EXPOSE 80 53/udp 8000-8001",
            r#"VOLUME ["/data"]"#,
            "VOLUME /a /b",
            "USER 1000:1000",
            "WORKDIR sub/../src",
            "STOPSIGNAL SIGTERM",
        ],
    );
    assert_eq!(
        c["ExposedPorts"],
        json!({"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}})
    );
    assert_eq!(c["Volumes"], json!({"/data": {}, "/a": {}, "/b": {}}));
    assert_eq!(c["User"], "1000:1000");
    assert_eq!(c["WorkingDir"], "/app/src");
    assert_eq!(c["StopSignal"], "SIGTERM");
    let c = changed(json!({}), &["WORKDIR /abs"]);
    assert_eq!(c["WorkingDir"], "/abs");
}

#[test]
fn onbuild_and_healthcheck() {
    let c = changed(json!({}), &["ONBUILD RUN echo hi", "onbuild COPY . /app"]);
    assert_eq!(c["OnBuild"], json!(["RUN echo hi", "COPY . /app"]));
    let c = changed(
        json!({}),
        &["HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://x/"],
    );
    assert_eq!(
        c["Healthcheck"],
        json!({"Interval": 5_000_000_000_i64, "Retries": 3, "Test": ["CMD-SHELL", "curl -f http://x/"]})
    );
    let c = changed(json!({}), &[r#"HEALTHCHECK CMD ["true"]"#]);
    assert_eq!(c["Healthcheck"]["Test"], json!(["CMD", "true"]));
    let c = changed(json!({}), &["HEALTHCHECK NONE"]);
    assert_eq!(c["Healthcheck"]["Test"], json!(["NONE"]));
}

#[test]
fn bad_changes_are_one_line_errors() {
    assert_eq!(error(&["RUN echo hi"]), "RUN is not a valid change command");
    assert_eq!(error(&["FROM x"]), "FROM is not a valid change command");
    assert!(error(&["EXPOSE 80/bogus"]).contains("invalid proto"));
    assert!(error(&["EXPOSE abc"]).contains("invalid containerPort"));
    assert!(error(&["ENV"]).contains("at least one argument"));
    assert!(error(&["ENV A=\"open"]).contains("matching quote"));
    assert!(error(&["ONBUILD ONBUILD RUN x"]).contains("Chaining"));
    assert!(error(&["HEALTHCHECK --bogus=1 CMD x"]).contains("unknown flag"));
    assert!(error(&["USER a b"]).contains("exactly one"));
    assert!(error(&["STOPSIGNAL bad!"]).contains("invalid signal"));
    // Blank changes are no changes.
    assert!(validate(&[String::new()]).is_ok());
}
