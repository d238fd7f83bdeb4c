//! Unit tests of the message codec: round trips, splitting, and hostile or broken input.

use super::codec::MAX_FRAME;
use super::*;

fn every_message() -> Vec<Message> {
    vec![
        Message::ChildPid(-7),
        Message::ChildPid(4242),
        Message::RootfsMode("overlay".into()),
        Message::RootfsMode(String::new()),
        Message::SpawnFailed {
            code: 127,
            message: "exec: \"nosuch\": executable file not found in $PATH".into(),
        },
        Message::SpawnFailed {
            code: 126,
            message: "é\n".into(),
        },
        Message::UsernsCreated { pid: u32::MAX },
        Message::IdsMapped,
        Message::MountNsReady,
        Message::PauseFailed { stage: 2, errno: 1 },
        Message::Started,
        Message::StartFailed {
            code: 125,
            message: "cannot re-execute /proc/self/exe".into(),
        },
        Message::Stdout(b"hello".to_vec()),
        Message::Stdout(Vec::new()),
        Message::Stderr(vec![0, 255, 10]),
        Message::Exit(-1),
        Message::Exit(137),
        Message::Stdin(b"ls\n".to_vec()),
        Message::Resize {
            rows: 40,
            cols: 132,
        },
        Message::StdinEof,
        Message::Signal(15),
    ]
}

fn wire(msgs: &[Message]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in msgs {
        encode(m, &mut out);
    }
    out
}

fn drain(d: &mut Decoder) -> Vec<Message> {
    let mut got = Vec::new();
    while let Some(m) = d.next().unwrap() {
        got.push(m);
    }
    got
}

#[test]
fn every_variant_round_trips_fed_byte_by_byte() {
    let msgs = every_message();
    let bytes = wire(&msgs);
    let mut d = Decoder::default();
    let mut got = Vec::new();
    for b in &bytes {
        d.feed(std::slice::from_ref(b));
        got.extend(drain(&mut d));
    }
    assert_eq!(got, msgs);
    // The same through the other decoders.
    let all: Result<Vec<_>, _> = decode_all(&bytes).collect();
    assert_eq!(all.unwrap(), msgs);
    let mut r = &bytes[..];
    for m in &msgs {
        assert_eq!(&read_message(&mut r).unwrap(), m);
    }
    assert_eq!(
        read_message(&mut r),
        Err(Error::Io(std::io::ErrorKind::UnexpectedEof))
    );
}

#[test]
fn every_tag_is_distinct() {
    let mut tags: Vec<u8> = every_message().iter().map(Message::tag).collect();
    tags.dedup();
    tags.sort();
    tags.dedup();
    assert_eq!(tags.len(), 16);
}

#[test]
fn encode_into_matches_encode_and_needs_no_buffer() {
    for m in every_message() {
        let mut buf = [0u8; 128];
        let n = encode_into(&m, &mut buf).unwrap();
        assert_eq!(buf[..n], wire(std::slice::from_ref(&m)), "{m:?}");
        assert_eq!(encode_into(&m, &mut buf[..n - 1]), None);
    }
    assert_eq!(
        encode_into(&Message::Stdout(vec![1; MAX_FRAME + 1]), &mut [0; 64]),
        None
    );
}

#[test]
fn large_data_splits_and_long_text_is_cut() {
    let bytes = wire(&[Message::Stdin(vec![7u8; 2 * MAX_FRAME + 10])]);
    let mut d = Decoder::default();
    d.feed(&bytes);
    let lens: Vec<usize> = drain(&mut d)
        .into_iter()
        .map(|m| match m {
            Message::Stdin(data) => data.len(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(lens, [MAX_FRAME, MAX_FRAME, 10]);

    // Two-byte characters: the cut lands on a boundary, below the frame limit.
    let long = "é".repeat(MAX_FRAME);
    let msg = Message::SpawnFailed {
        code: 125,
        message: long.clone(),
    };
    match decode_all(&wire(&[msg])).next() {
        Some(Ok(Message::SpawnFailed { code: 125, message })) => {
            assert!(long.starts_with(&message) && message.len() == MAX_FRAME - 2);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(clip("aé", 2), "a");
    assert_eq!(clip("abc", 9), "abc");
}

#[test]
fn unknown_tags_and_oversized_frames_are_errors() {
    let mut d = Decoder::default();
    d.feed(&[99]);
    assert_eq!(d.next(), Err(Error::UnknownTag(99)));
    // Final: the same again.
    assert_eq!(d.next(), Err(Error::UnknownTag(99)));
    assert_eq!(
        read_message(&[0u8, 0, 0, 0, 0][..]),
        Err(Error::UnknownTag(0))
    );

    let huge = [1u8, 0xff, 0xff, 0xff, 0x7f];
    let mut d = Decoder::default();
    d.feed(&huge);
    assert_eq!(d.next(), Err(Error::Oversized(0x7fff_ffff)));
    assert_eq!(read_message(&huge[..]), Err(Error::Oversized(0x7fff_ffff)));
    let just_over = (MAX_FRAME as u32 + 1).to_le_bytes();
    let frame = [&[1u8][..], &just_over].concat();
    assert_eq!(
        decode_all(&frame).next(),
        Some(Err(Error::Oversized(MAX_FRAME + 1)))
    );
}

#[test]
fn truncated_frames_wait_or_fail_at_end_of_file() {
    let bytes = wire(&[Message::ChildPid(5), Message::RootfsMode("native".into())]);
    for cut in 1..bytes.len() {
        let part = &bytes[..cut];
        let mut d = Decoder::default();
        d.feed(part);
        let got = drain(&mut d);
        assert!(got.len() <= 1);
        // What came whole still arrives, then the error, then nothing.
        let all: Vec<_> = decode_all(part).collect();
        if cut == 9 {
            // Between the two frames: nothing is missing.
            assert_eq!(all, [Ok(Message::ChildPid(5))]);
            continue;
        }
        assert_eq!(all.last(), Some(&Err(Error::Truncated)), "cut at {cut}");
        assert_eq!(all.len(), got.len() + 1);
    }
    let long = wire(&[Message::Stdout(vec![1; 10])]);
    assert_eq!(read_message(&long[..8]), Err(Error::Truncated));
    assert!(decode_all(&[]).next().is_none());
}

fn frame(tag: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![tag];
    f.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    f.extend_from_slice(payload);
    f
}

#[test]
fn malformed_payloads_are_errors() {
    let cases: [(u8, &[u8], &str); 14] = [
        (17, &[1, 2, 3], "Resize"),
        (17, &[1, 2, 3, 4, 5], "Resize"),
        (3, &[], "Exit"),
        (19, &[1, 2], "Signal"),
        (32, &[1, 2, 3], "ChildPid"),
        (48, &[1, 2, 3, 4, 5], "UsernsCreated"),
        (51, &[1, 2, 3, 4], "PauseFailed"),
        (34, &[], "SpawnFailed"),
        (34, b"\x01exec", "SpawnFailed"),
        (65, b"\x80x", "StartFailed"),
        (34, b"\x7f\xff\xfe", "SpawnFailed"),
        (33, b"\xc3", "RootfsMode"),
        (18, b"x", "StdinEof"),
        (64, b"OK", "Started"),
    ];
    for (tag, payload, name) in cases {
        let f = frame(tag, payload);
        let mut d = Decoder::default();
        d.feed(&f);
        assert_eq!(d.next(), Err(Error::Malformed(name)), "{f:?}");
        assert_eq!(read_message(&f[..]), Err(Error::Malformed(name)));
        assert_eq!(decode_all(&f).next(), Some(Err(Error::Malformed(name))));
        assert_eq!(
            Error::Malformed(name).to_string(),
            format!("malformed {name} message")
        );
    }
    assert_eq!(Error::UnknownTag(9).to_string(), "unknown frame kind 9");
}

#[test]
fn random_bytes_never_panic() {
    // xorshift: the same cases every run, no dependency.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let valid = wire(&every_message());
    for round in 0..20_000 {
        let len = (rand() % 24) as usize;
        let mut bytes: Vec<u8> = match round % 3 {
            // Pure noise, mostly short.
            0 => (0..len).map(|_| rand() as u8).collect(),
            // Known tags with random lengths and payloads.
            1 => {
                let tags = [1, 2, 3, 16, 17, 18, 19, 32, 33, 34, 48, 49, 50, 51, 64, 65];
                let mut b = vec![tags[(rand() % 16) as usize]];
                b.extend_from_slice(&((rand() % 8) as u32).to_le_bytes());
                b.extend((0..len).map(|_| rand() as u8));
                b
            }
            // A valid stream with one byte flipped, cut short.
            _ => {
                let mut b = valid.clone();
                let i = (rand() as usize) % b.len();
                b[i] ^= 1 << (rand() % 8);
                b.truncate((rand() as usize) % (b.len() + 1));
                b
            }
        };
        let _ = decode_all(&bytes).count();
        let _ = read_message(&bytes[..]);
        let mut d = Decoder::default();
        for chunk in bytes.chunks(1 + (rand() % 7) as usize) {
            d.feed(chunk);
            while let Ok(Some(_)) = d.next() {}
        }
        bytes.clear();
    }
}
