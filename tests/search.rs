//! search: a registry's catalog filtered by the term (the harness registry holds the
//! fixtures), tags with --list-tags, the v1 search API (Docker Hub's; here a small server on
//! loopback that answers it) with docker's columns, truncation and filters, and the errors.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::{fixtures, Cove, Who};

both!(
    catalog_search_and_tags,
    v1_search_columns_and_filters,
    search_errors
);

fn catalog_search_and_tags(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    let out = c.ok(&["search", &f.reference("busy")]);
    let rows = out.table();
    assert_eq!(
        rows[0],
        ["NAME", "DESCRIPTION", "STARS", "OFFICIAL"],
        "{out}"
    );
    let names: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert!(names.contains(&f.reference("busybox").as_str()), "{out}");
    assert!(
        names.iter().all(|n| n.contains("busy")),
        "only matching repositories: {out}"
    );

    // An empty term lists the catalog; --limit caps it; --format picks fields.
    let all = c.ok(&[
        "search",
        "--format",
        "{{.Name}}",
        &format!("{}/", f.registry),
    ]);
    assert!(
        all.lines().contains(&f.reference("layered").as_str()),
        "{all}"
    );
    assert!(all.lines().len() > 2, "{all}");
    let one = c.ok(&[
        "search",
        "--limit",
        "1",
        "--format",
        "{{.Name}}",
        &format!("{}/", f.registry),
    ]);
    assert_eq!(one.lines().len(), 1, "{one}");
    let json = c.ok(&["search", "--format", "json", &f.reference("layered")]);
    let row: serde_json::Value = serde_json::from_str(json.lines()[0]).unwrap();
    assert_eq!(row["Name"], f.reference("layered").as_str());
    assert_eq!(row["Index"], f.registry.as_str());

    let tags = c.ok(&["search", "--list-tags", &f.reference("busybox")]);
    let rows = tags.table();
    assert_eq!(rows[0], ["NAME", "TAG"]);
    let mut got: Vec<&str> = rows[1..].iter().map(|r| r[1].as_str()).collect();
    got.sort_unstable();
    assert_eq!(got, ["latest", "v1"], "{tags}");
    assert!(rows[1..].iter().all(|r| r[0] == f.reference("busybox")));
}

/// A server answering every request with the v1 search results; records the request lines.
fn v1_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let body = serde_json::json!({
        "num_results": 3,
        "query": "web",
        "results": [
            {"name": "web", "description": "The official web server image, with a description much longer than forty-five characters", "star_count": 2000, "is_official": true, "is_automated": false},
            {"name": "someone/web", "description": "a web\nserver", "star_count": 12, "is_official": false, "is_automated": true},
            {"name": "other/web", "description": "", "star_count": 1, "is_official": false, "is_automated": false}
        ]
    })
    .to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut r = BufReader::new(conn.try_clone().unwrap());
            if let Ok(Some(head)) = common::http::read_head(&mut r) {
                log.lock().unwrap().push(head.line.clone());
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(reply.as_bytes());
            }
        }
    });
    (addr, seen)
}

fn v1_search_columns_and_filters(who: Who) {
    let (addr, seen) = v1_server();
    let c = Cove::new(who);
    let out = c.ok(&["search", &format!("{addr}/web")]);
    let rows = out.table();
    assert_eq!(
        rows[0],
        ["NAME", "DESCRIPTION", "STARS", "OFFICIAL"],
        "{out}"
    );
    assert_eq!(rows[1][0], format!("{addr}/web"));
    assert_eq!(rows[1][1].chars().count(), 45, "cut as docker does: {out}");
    assert!(rows[1][1].ends_with('…'), "{out}");
    assert_eq!(rows[1][2], "2000");
    assert_eq!(rows[1][3], "[OK]");
    assert_eq!(rows[2][1], "a web server", "newlines become spaces: {out}");
    let line = seen.lock().unwrap()[0].clone();
    assert!(line.starts_with("GET /v1/search?q=web&n=25 "), "{line}");

    let full = c.ok(&[
        "search",
        "--no-trunc",
        "--format",
        "{{.Description}}",
        &format!("{addr}/web"),
    ]);
    assert!(full.lines()[0].ends_with("forty-five characters"), "{full}");
    let starred = c.ok(&[
        "search",
        "--filter",
        "stars=10",
        "--format",
        "{{.Name}}",
        &format!("{addr}/web"),
    ]);
    assert_eq!(
        starred.lines(),
        [format!("{addr}/web"), format!("{addr}/someone/web")]
    );
    let official = c.ok(&[
        "search",
        "-f",
        "is-official=true",
        "--format",
        "{{.Name}}",
        &format!("{addr}/web"),
    ]);
    assert_eq!(official.lines(), [format!("{addr}/web")]);
    let automated = c.ok(&[
        "search",
        "--filter=is-automated=true",
        "--format",
        "{{.Name}}\t{{.IsAutomated}}",
        &format!("{addr}/web"),
    ]);
    assert_eq!(automated.lines(), [format!("{addr}/someone/web\t[OK]")]);
    let limited = c.ok(&[
        "search",
        "--limit",
        "2",
        "--format",
        "{{.StarCount}}",
        &format!("{addr}/web"),
    ]);
    assert_eq!(limited.lines(), ["2000", "12"]);
}

fn search_errors(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    c.run(&["search", "--limit", "101", &f.reference("busy")])
        .assert_err_line("limit 101 is outside the range of [1, 100]");
    c.run(&["search", "--filter", "colour=red", &f.reference("busy")])
        .assert_err_line("invalid filter 'colour'");
    c.run(&["search", "--filter", "stars=lots", &f.reference("busy")])
        .assert_err_line("not a number");
    c.run(&["search", "--format", "{{.Name", &f.reference("busy")])
        .assert_err_line("template");
    let port = common::registry::free_port();
    c.run(&["search", &format!("127.0.0.1:{port}/x")])
        .assert_err_line("cannot reach registry");
    c.run(&["search", "--list-tags", &f.reference("busybox:latest")])
        .assert_err_line("without a tag or digest");
    c.run(&["search", "--list-tags", &f.reference("nosuchrepo")])
        .assert_err_line("not found");
}
