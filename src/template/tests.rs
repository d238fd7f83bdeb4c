//! Tests of the template engine against what Go's text/template and docker print.

use serde_json::{json, Value};

use super::Template;

fn render(src: &str, data: &Value) -> String {
    Template::parse(src).unwrap().render(data).unwrap()
}

fn render_err(src: &str, data: &Value) -> String {
    match Template::parse(src) {
        Ok(t) => t.render(data).unwrap_err(),
        Err(e) => e,
    }
}

fn image() -> Value {
    json!({
        "Id": "sha256:a416a98b71e2",
        "RepoTags": ["busybox:latest", "busybox:1.36"],
        "Size": 4261550,
        "Ratio": 0.5,
        "Big": 1234567.0,
        "Ok": true,
        "Nothing": null,
        "Config": {"Cmd": ["sh", "-c", "echo hi"], "Env": [], "Labels": {"b": "2", "a": "1"}, "Healthcheck": null},
    })
}

#[test]
fn fields_and_go_printing() {
    let d = image();
    assert_eq!(render("{{.Id}}", &d), "sha256:a416a98b71e2");
    assert_eq!(render("{{.Config.Cmd}}", &d), "[sh -c echo hi]");
    assert_eq!(render("{{.Config.Labels}}", &d), "map[a:1 b:2]");
    assert_eq!(
        render("{{.Config.Env}} {{.Size}} {{.Ratio}} {{.Big}} {{.Ok}}", &d),
        "[] 4261550 0.5 1.234567e+06 true"
    );
    assert_eq!(
        render("{{.Missing}}|{{.Nothing}}|{{.Missing.Deeper}}", &d),
        "<no value>|<no value>|<no value>"
    );
    assert_eq!(render("{{.}}", &json!([1, null, "a"])), "[1 <nil> a]");
    assert_eq!(
        render(r#"{{"literal"}} {{`raw\n`}} {{3}} {{-2}}"#, &d),
        "literal raw\\n 3 -2"
    );
    assert_eq!(render("{{.Config.Labels.a}}", &d), "1");
}

#[test]
fn json_index_len_and_docker_functions() {
    let d = image();
    assert_eq!(
        render("{{json .}}", &json!({"b": [1, "<x>"], "a": null})),
        r#"{"a":null,"b":[1,"<x>"]}"#
    );
    assert_eq!(
        render(
            "{{json .Config.Cmd}} {{.Config.Cmd | json}} {{json .Missing}}",
            &d
        ),
        r#"["sh","-c","echo hi"] ["sh","-c","echo hi"] null"#
    );
    assert_eq!(
        render(
            r#"{{index .Config.Labels "b"}} {{index .RepoTags 1}} {{index .Config.Labels "zz"}}"#,
            &d
        ),
        "2 busybox:1.36 <no value>"
    );
    assert_eq!(
        render("{{len .RepoTags}} {{len .Config.Labels}} {{len .Id}}", &d),
        "2 2 19"
    );
    assert_eq!(
        render(
            r#"{{upper .Id}} {{lower "ABC"}} {{title "hello big-world"}}"#,
            &d
        ),
        "SHA256:A416A98B71E2 abc Hello Big-World"
    );
    assert_eq!(
        render(
            r#"{{join .Config.Cmd ","}} {{join (split "a:b:c" ":") "/"}}"#,
            &d
        ),
        "sh,-c,echo hi a/b/c"
    );
    assert_eq!(
        render(
            r#"[{{pad "x" 1 2}}][{{pad "" 1 2}}] {{truncate .Id 6}} {{truncate "ab" 5}}"#,
            &d
        ),
        "[ x  ][] sha256 ab"
    );
    assert_eq!(
        render(r#"{{println "a" 1}}{{print "a" 1 2 "b"}}"#, &d),
        "a 1\na1 2b"
    );
    assert_eq!(
        render(
            r#"{{printf "%-6s|%5d|%05.1f|%q|%v|%x" "ab" 42 3.14159 "q" .Ok 255}}"#,
            &d
        ),
        "ab    |   42|003.1|\"q\"|true|ff"
    );
    assert_eq!(
        render(r#"{{printf "%d"}} {{printf "%d" "s"}}"#, &d),
        "%!d(MISSING) %!d(string=s)"
    );
    assert_eq!(
        render(r#"{{.Id | upper | printf "<%s>"}}"#, &d),
        "<SHA256:A416A98B71E2>"
    );
}

#[test]
fn control_flow() {
    let d = image();
    assert_eq!(
        render("{{range .RepoTags}}[{{.}}]{{end}}", &d),
        "[busybox:latest][busybox:1.36]"
    );
    assert_eq!(
        render("{{range $i, $t := .RepoTags}}{{$i}}={{$t}} {{end}}", &d),
        "0=busybox:latest 1=busybox:1.36 "
    );
    assert_eq!(
        render(
            "{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}},{{end}}",
            &d
        ),
        "a:1,b:2,"
    );
    assert_eq!(
        render("{{range .Config.Env}}x{{else}}empty{{end}}", &d),
        "empty"
    );
    assert_eq!(render("{{range .Missing}}x{{else}}none{{end}}", &d), "none");
    assert_eq!(
        render("{{range $t := .RepoTags}}{{$t}}{{break}}{{end}}", &d),
        "busybox:latest"
    );
    assert_eq!(
        render(
            "{{range .RepoTags}}{{if eq . \"busybox:latest\"}}{{continue}}{{end}}{{.}}{{end}}",
            &d
        ),
        "busybox:1.36"
    );
    assert_eq!(
        render("{{range .RepoTags}}{{$.Size}} {{end}}", &d),
        "4261550 4261550 "
    );
    assert_eq!(
        render(
            "{{if .Ok}}yes{{else}}no{{end}} {{if .Nothing}}yes{{else}}no{{end}}",
            &d
        ),
        "yes no"
    );
    assert_eq!(
        render(
            "{{if .Missing}}a{{else if .Config.Env}}b{{else if .Size}}c{{else}}d{{end}}",
            &d
        ),
        "c"
    );
    assert_eq!(
        render(
            "{{with .Config}}{{.Cmd}}{{end}}{{with .Missing}}x{{else}}-{{end}}",
            &d
        ),
        "[sh -c echo hi]-"
    );
    assert_eq!(
        render("{{$x := .Size}}{{$x}} {{$x = 1}}{{$x}}", &d),
        "4261550 1"
    );
    assert_eq!(
        render(
            "{{if and .Config.Cmd (index .Config.Cmd 0)}}first={{index .Config.Cmd 0}}{{end}}",
            &d
        ),
        "first=sh"
    );
    assert_eq!(
        render(
            "{{and .Missing (index .Missing 0)}} {{or .Nothing \"dflt\"}} {{not .Ok}}",
            &d
        ),
        "<no value> dflt false"
    );
    assert_eq!(
        render(
            "{{if gt .Size 1000}}big{{end}} {{lt 1 2}} {{ne \"a\" \"b\"}} {{eq 2 1 2}}",
            &d
        ),
        "big true true true"
    );
    assert_eq!(render("{{range 3}}{{.}}{{end}}", &d), "012");
    assert_eq!(render("{{range 0}}x{{else}}none{{end}}", &d), "none");
    assert_eq!(render("{{range -2}}x{{else}}none{{end}}", &d), "none");
    assert_eq!(
        render(
            "{{range $i := 4}}{{if eq $i 2}}{{break}}{{end}}{{$i}}{{end}}",
            &d
        ),
        "01"
    );
    assert_eq!(
        render("{{/* a comment */}}x{{- /* trimmed */ -}} y", &d),
        "xy"
    );
}

#[test]
fn whitespace_trim_and_escapes() {
    let d = json!({"A": "a", "B": "b"});
    assert_eq!(render("{{.A}}  \n {{- .B}}", &d), "ab");
    assert_eq!(render("{{.A -}} \n\t x", &d), "ax");
    assert_eq!(render("{{.A}}\\t{{.B}}\\n", &d), "a\tb\n");
    assert_eq!(render("{{-3}}", &d), "-3");
    assert_eq!(render(r#"{{"a\tb\u00e9"}}"#, &d), "a\tbé");
}

#[test]
fn parse_errors_read_like_go() {
    let d = json!({});
    assert_eq!(
        render_err("{{foo}}", &d),
        r#"template: :1: function "foo" not defined"#
    );
    assert_eq!(render_err("a\n{{.A", &d), "template: :2: unclosed action");
    assert_eq!(render_err("{{if .A}}x", &d), "template: :1: unexpected EOF");
    assert_eq!(
        render_err("{{end}}", &d),
        "template: :1: unexpected {{end}}"
    );
    assert_eq!(
        render_err("{{else}}", &d),
        "template: :1: unexpected {{else}}"
    );
    assert_eq!(
        render_err("{{$x}}", &d),
        r#"template: :1: undefined variable "$x""#
    );
    assert_eq!(
        render_err("{{}}", &d),
        "template: :1: missing value for command"
    );
    assert_eq!(
        render_err("{{if}}{{end}}", &d),
        "template: :1: missing value for if"
    );
    assert_eq!(
        render_err(r#"{{"abc}}"#, &d),
        "template: :1: unterminated quoted string"
    );
    assert_eq!(
        render_err("{{.A @}}", &d),
        "template: :1: unrecognized character in action: U+0040 '@'"
    );
    assert_eq!(
        render_err("{{break}}", &d),
        "template: :1: {{break}} outside {{range}}"
    );
    assert_eq!(
        render_err("{{if 1}}{{else}}{{else}}{{end}}", &d),
        "template: :1: expected end; found {{else}}"
    );
    assert_eq!(
        render_err("{{.A | 3}}", &d),
        "template: :1: non executable command in pipeline stage 2"
    );
    assert_eq!(
        render_err("{{(.A}}", &d),
        r#"template: :1: unexpected "}}" in operand"#
    );
    assert!(render_err("{{define \"x\"}}{{end}}", &d).contains("not supported"));
}

#[test]
fn exec_errors_read_like_go() {
    let d = json!({"State": {"Health": null}, "L": [1], "S": "s"});
    assert_eq!(
        render_err("{{.State.Health.Status}}", &d),
        r#"template: :1:8: executing "" at <.State.Health.Status>: nil pointer evaluating interface {}.Status"#
    );
    assert_eq!(
        render_err("{{index .L 5}}", &d),
        r#"template: :1:2: executing "" at <index .L 5>: error calling index: index out of range: 5"#
    );
    assert_eq!(
        render_err("{{upper .L}}", &d),
        r#"template: :1:2: executing "" at <upper .L>: wrong type for value; expected string; got []interface {}"#
    );
    assert_eq!(
        render_err("{{upper 1 2}}", &d),
        r#"template: :1:2: executing "" at <upper 1 2>: wrong number of args for upper: want 1 got 2"#
    );
    assert_eq!(
        render_err("{{.S.X}}", &d),
        r#"template: :1:4: executing "" at <.S.X>: can't evaluate field X in type string"#
    );
    assert_eq!(
        render_err("{{range .S}}{{end}}", &d),
        r#"template: :1:8: executing "" at <.S>: range can't iterate over s"#
    );
    assert!(render_err("{{len .Missing}}", &d).ends_with("error calling len: len of nil pointer"));
    assert!(render_err("{{.L 1}}", &d).ends_with("L is not a method but has arguments"));
}

#[test]
fn chains_on_variables_and_parens() {
    let d = json!({"L": [{"Name": "a"}, {"Name": "b"}], "M": {"k": {"v": 1}}});
    assert_eq!(
        render("{{(index .L 1).Name}} {{$x := index .L 0}}{{$x.Name}}", &d),
        "b a"
    );
    assert_eq!(
        render(
            r#"{{(index .M "k").v}} {{range .L}}{{$.M.k.v}}{{.Name}}{{end}}"#,
            &d
        ),
        "1 1a1b"
    );
    assert_eq!(render("{{len .L | printf \"%d items\"}}", &d), "2 items");
    assert_eq!(
        render_err("{{é}}", &d),
        r#"template: :1: function "é" not defined"#
    );
    assert_eq!(
        render_err("{{.A ☃}}", &d),
        "template: :1: unrecognized character in action: U+2603 '☃'"
    );
    assert_eq!(render("ü{{.L | len}}ü", &d), "ü2ü");
}

#[test]
fn header_mode_names_columns() {
    let t = Template::parse(
        "{{.Repository}}\t{{upper .Tag}}\t{{json .Config.Cmd}}\t{{$.ID}}\t{{pad .Size 1 1}}",
    )
    .unwrap();
    let h = t.render_header(&|f: &str| f.to_uppercase()).unwrap();
    assert_eq!(h, "REPOSITORY\tTAG\tCMD\tID\t SIZE ");
}

#[test]
fn raw_newline_in_string_is_accepted() {
    let d = json!({"L": ["a", "b"]});
    assert_eq!(render("{{join .L \"\n\"}}", &d), "a\nb");
    assert_eq!(render(r#"{{join .L "\n"}}"#, &d), "a\nb");
}

/// Output reaches the writer in pieces as it is made, and a writer that fails stops the run
/// with its error instead of the output piling up.
#[test]
fn output_is_streamed_to_the_writer() {
    struct Counting(usize, usize);
    impl std::io::Write for Counting {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            self.1 += 1;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let t = Template::parse("{{range 1000000}}ab{{end}}").unwrap();
    let mut w = Counting(0, 0);
    t.render_to(&serde_json::json!({}), &mut w).unwrap();
    assert_eq!(w.0, 2_000_000);
    assert!(w.1 > 10, "written in pieces, not once: {} writes", w.1);

    struct Broken;
    impl std::io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let err = t
        .render_to(&serde_json::json!({}), &mut Broken)
        .unwrap_err();
    assert!(err.contains("writing the output"), "{err}");
}
