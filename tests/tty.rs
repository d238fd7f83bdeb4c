//! Terminal flows on a real PTY: `run -it` with the tutorial's detach (Ctrl-P Ctrl-Q), window
//! sizes and resizes, `attach` with default and custom detach keys, `exec -it`, signals typed
//! on the terminal, and the terminal given back as it was. Root and rootless.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use std::time::Duration;

use common::ctr::wait_until;
use common::{Cove, Who};

both!(
    tutorial_bob,
    terminal_inside,
    window_size,
    resize_while_running,
    exit_code_and_ctrl_c,
    attach_and_detach,
    exec_it,
    start_ai,
);

const T: Duration = Duration::from_secs(20);
const DETACH: &[u8] = b"\x10\x11";

/// `run --name bob -it` writes a file, detaches with Ctrl-P Ctrl-Q; bob keeps running, is
/// stopped, started again, and `exec` sees the file.
fn tutorial_bob(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let mut p = c
        .cmd(&["run", "--name", "bob", "-it", &img, "sh"])
        .pty(24, 80);
    p.expect("# ", T);
    p.send(b"echo hello > /file; echo $((40+2))ok\r");
    p.expect("42ok", T);
    p.send(DETACH);
    let code = p.wait(T);
    assert_eq!(
        code,
        0,
        "detaching ends the client with 0: {:?}",
        p.transcript()
    );
    assert!(
        p.cooked(),
        "the terminal is back in cooked mode after detaching"
    );
    assert!(
        p.reached_eof(),
        "nothing but the client held the caller's terminal (the monitor let go of it)"
    );
    let ps = c.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(
        ps.stdout.starts_with("bob Up"),
        "bob is still running: {ps}"
    );
    c.ok(&["stop", "-t", "1", "bob"]);
    assert_eq!(c.status_of("bob"), "exited");
    assert_eq!(c.ok(&["start", "bob"]).stdout, "bob\n");
    assert!(wait_until(T, || c.status_of("bob") == "running"));
    let out = c.ok(&["exec", "bob", "cat", "/file"]);
    assert_eq!(out.stdout, "hello\n");
    c.rm_f(&["bob"]);
}

/// With -t the container sees a terminal on its stdio, TERM is set, output lines end in CRLF
/// (the container's terminal does the translation); -t without -i too.
fn terminal_inside(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let script = "tty; echo TERM=$TERM; test -t 0 && echo in-tty; test -t 1 && echo out-tty";
    let mut p = c
        .cmd(&["run", "--rm", "-it", &img, "sh", "-c", script])
        .pty(24, 80);
    assert_eq!(p.wait(T), 0, "{:?}", p.transcript());
    let t = p.transcript();
    // As docker's: the pty comes from the container's own devpts, the first one there.
    assert!(t.starts_with("/dev/pts/0\r\n"), "{t:?}");
    assert!(t.contains("TERM=xterm\r\n"), "{t:?}");
    assert!(t.contains("in-tty\r\nout-tty\r\n"), "{t:?}");
    assert!(p.cooked(), "terminal restored");

    let mut p = c
        .cmd(&[
            "run",
            "--rm",
            "-t",
            &img,
            "sh",
            "-c",
            "test -t 1 && echo out-tty",
        ])
        .pty(24, 80);
    assert_eq!(p.wait(T), 0, "{:?}", p.transcript());
    assert!(
        p.transcript().contains("out-tty\r\n"),
        "{:?}",
        p.transcript()
    );
    c.assert_no_containers();
}

/// `start -ai` of a created `-it` container, twice: each run gets a pty from the container's
/// own devpts of the caller's size, and the client exits with the container's code. `start -i`
/// without a terminal feeds stdin and shows the output, as docker's does.
fn start_ai(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    c.ok(&["create", "--name", "sai", "-it", &img, "sh"]);
    for (rows, cols, code) in [(31, 97, 3), (27, 101, 4)] {
        let mut p = c.cmd(&["start", "-ai", "sai"]).pty(rows, cols);
        p.expect("# ", T);
        p.send(b"tty; stty size\r");
        p.expect(&format!("{rows} {cols}"), T);
        p.send(format!("exit {code}\r").as_bytes());
        assert_eq!(p.wait(T), code, "{:?}", p.transcript());
        let t = p.transcript();
        assert!(t.contains("/dev/pts/0\r\n"), "{t:?}");
        assert!(p.cooked(), "terminal restored");
    }
    c.ok(&[
        "create",
        "--name",
        "si",
        "-i",
        &img,
        "sh",
        "-c",
        "read x; echo got-$x",
    ]);
    let out = c
        .cmd(&["start", "-i", "si"])
        .input("hello\n")
        .timeout(T)
        .run();
    assert_eq!(
        (out.code(), out.stdout.as_str()),
        (0, "got-hello\n"),
        "{out}"
    );
    c.rm_f(&["sai", "si"]);
}

/// The container's terminal starts with the caller's size.
fn window_size(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let mut p = c
        .cmd(&["run", "--rm", "-it", &img, "stty", "size"])
        .pty(33, 111);
    assert_eq!(p.wait(T), 0, "{:?}", p.transcript());
    assert!(p.transcript().contains("33 111"), "{:?}", p.transcript());
}

/// A resize of the caller's terminal reaches the container (SIGWINCH passed through).
fn resize_while_running(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    // The starting size is window_size's business; this one checks only the change.
    let mut p = c.cmd(&["run", "--rm", "-it", &img, "sh"]).pty(30, 90);
    p.expect("# ", T);
    p.resize(50, 132);
    std::thread::sleep(Duration::from_millis(300));
    p.send(b"stty size\r");
    p.expect("50 132", T);
    p.send(b"exit 7\r");
    assert_eq!(p.wait(T), 7, "{:?}", p.transcript());
}

/// The client exits with the container's code; Ctrl-C typed on the terminal reaches the
/// container as SIGINT (raw mode passes the byte through).
fn exit_code_and_ctrl_c(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let mut p = c
        .cmd(&["run", "--rm", "-it", &img, "sh", "-c", "exit 3"])
        .pty(24, 80);
    assert_eq!(p.wait(T), 3);
    let script = "trap 'echo got-int; exit 130' INT; echo ready; while :; do sleep 0.1; done";
    let mut p = c
        .cmd(&["run", "--rm", "-it", &img, "sh", "-c", script])
        .pty(24, 80);
    p.expect("ready", T);
    p.send(b"\x03");
    assert_eq!(p.wait(T), 130, "{:?}", p.transcript());
    assert!(p.transcript().contains("got-int"), "{:?}", p.transcript());
    assert!(p.cooked(), "terminal restored");
    c.assert_no_containers();
}

/// `attach` to a detached `-it` container, type, detach with Ctrl-P Ctrl-Q and with custom
/// keys; an `exit` typed through attach ends the container and the client with its code.
fn attach_and_detach(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    c.ok(&["run", "-dit", "--name", "att", &img, "sh"]);
    let mut p = c.cmd(&["attach", "att"]).pty(24, 80);
    std::thread::sleep(Duration::from_millis(300));
    p.send(b"echo $((6*7))x\r");
    p.expect("42x", T);
    p.send(DETACH);
    assert_eq!(p.wait(T), 0, "{:?}", p.transcript());
    assert!(p.cooked(), "terminal restored after attach");
    assert_eq!(c.status_of("att"), "running", "detaching leaves it running");

    let mut p = c
        .cmd(&["attach", "--detach-keys", "ctrl-a,d", "att"])
        .pty(24, 80);
    std::thread::sleep(Duration::from_millis(300));
    p.send(b"echo $((6*8))y\r");
    p.expect("48y", T);
    p.send(b"\x01d");
    assert_eq!(p.wait(T), 0, "{:?}", p.transcript());
    assert_eq!(c.status_of("att"), "running");

    let mut p = c.cmd(&["attach", "att"]).pty(24, 80);
    std::thread::sleep(Duration::from_millis(300));
    p.send(b"exit 5\r");
    assert_eq!(
        p.wait(T),
        5,
        "attach returns the container's code: {:?}",
        p.transcript()
    );
    assert!(wait_until(T, || c.status_of("att") == "exited"));
    assert_eq!(c.inspect_fmt("att", "{{.State.ExitCode}}"), "5");

    // --detach-keys given to run applies to that run's terminal.
    let mut p = c
        .cmd(&[
            "run",
            "-it",
            "--name",
            "att2",
            "--detach-keys",
            "ctrl-x,x",
            &img,
            "sh",
        ])
        .pty(24, 80);
    p.expect("# ", T);
    p.send(b"\x18x");
    assert_eq!(p.wait(T), 0, "{:?}", p.transcript());
    assert_eq!(c.status_of("att2"), "running");
    c.rm_f(&["att", "att2"]);
}

fn exec_it(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    c.ok(&["run", "-d", "--name", "xt", &img, "sleep", "100"]);
    let mut p = c
        .cmd(&[
            "exec",
            "-it",
            "xt",
            "sh",
            "-c",
            "stty size; tty; echo TERM=$TERM",
        ])
        .pty(40, 100);
    assert_eq!(p.wait(T), 0, "{:?}", p.transcript());
    let t = p.transcript();
    assert!(t.contains("40 100"), "{t:?}");
    // A pty of the container's own devpts, as docker's exec gives.
    assert!(t.contains("\r\n/dev/pts/0\r\n"), "{t:?}");
    assert!(t.contains("TERM=xterm"), "{t:?}");
    assert!(p.cooked(), "terminal restored after exec -it");

    let mut p = c.cmd(&["exec", "-it", "xt", "sh"]).pty(24, 80);
    p.expect("# ", T);
    p.send(b"echo $((5*5))z\r");
    p.expect("25z", T);
    p.send(b"exit 3\r");
    assert_eq!(p.wait(T), 3, "{:?}", p.transcript());
    assert_eq!(
        c.status_of("xt"),
        "running",
        "the exec's end is not the container's"
    );
    c.rm_f(&["xt"]);
}

/// The PTY driver itself: the size set on the master is what a program on the slave sees.
#[test]
fn pty_driver_sets_size() {
    let mut cmd = std::process::Command::new("stty");
    cmd.arg("size");
    let mut p = common::pty::Pty::spawn(cmd, 0, 0, 33, 111, "host stty size".into());
    assert_eq!(p.wait(T), 0, "{:?}", p.transcript());
    assert_eq!(p.transcript(), "33 111\r\n");
}
