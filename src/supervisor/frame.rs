//! The attach protocol between a monitor and its clients. Every message in both directions is
//! a frame: `[kind u8][len u32 LE][len bytes]`, len at most [`MAX_FRAME`]. Framing is used for
//! tty containers too, so that the exit status arrives in-band after the last output byte and
//! a resize is never mistaken for input.

use super::Error;

/// Largest payload a frame may carry; a peer that announces more is cut off.
pub const MAX_FRAME: usize = 32 * 1024;
const HEADER: usize = 5;

/// What a frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// monitor -> client: container output.
    Stdout = 1,
    Stderr = 2,
    /// monitor -> client: the container ended; payload i32 LE exit code. Last frame sent.
    Exit = 3,
    /// client -> monitor: bytes for the container's stdin.
    Stdin = 16,
    /// client -> monitor: the client's terminal size; payload rows u16 LE, cols u16 LE.
    Resize = 17,
    /// client -> monitor: the client's stdin ended; close the container's (pipes only).
    StdinEof = 18,
    /// client -> monitor: deliver this signal (payload i32 LE) to the container (--sig-proxy).
    Signal = 19,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Kind> {
        use Kind::*;
        [Stdout, Stderr, Exit, Stdin, Resize, StdinEof, Signal]
            .into_iter()
            .find(|k| *k as u8 == b)
    }
}

/// Append one frame to `out`. Payloads longer than MAX_FRAME are split into several frames.
pub fn encode(kind: Kind, payload: &[u8], out: &mut Vec<u8>) {
    let mut chunks = payload.chunks(MAX_FRAME).peekable();
    if chunks.peek().is_none() {
        out.push(kind as u8);
        out.extend_from_slice(&0u32.to_le_bytes());
        return;
    }
    for chunk in chunks {
        out.push(kind as u8);
        out.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
        out.extend_from_slice(chunk);
    }
}

/// Incremental frame decoder: feed it whatever the socket gave, take whole frames out.
#[derive(Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame, None when more bytes are needed, or an error for a peer that
    /// does not speak the protocol (unknown kind, oversized frame).
    pub fn next_frame(&mut self) -> Result<Option<(Kind, Vec<u8>)>, Error> {
        if self.buf.len() < HEADER {
            return Ok(None);
        }
        let kind = Kind::from_byte(self.buf[0]).ok_or_else(|| {
            Error(format!(
                "attach protocol: unknown frame kind {}",
                self.buf[0]
            ))
        })?;
        let mut len = [0u8; 4];
        len.copy_from_slice(&self.buf[1..HEADER]);
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_FRAME {
            return Err(Error(format!(
                "attach protocol: frame of {len} bytes is too large"
            )));
        }
        if self.buf.len() < HEADER + len {
            return Ok(None);
        }
        let payload = self.buf[HEADER..HEADER + len].to_vec();
        self.buf.drain(..HEADER + len);
        if self.buf.is_empty() && self.buf.capacity() > 2 * MAX_FRAME {
            self.buf = Vec::new();
        }
        Ok(Some((kind, payload)))
    }
}

/// The i32 carried by Exit and Signal frames.
pub fn payload_i32(payload: &[u8]) -> Option<i32> {
    Some(i32::from_le_bytes(payload.get(..4)?.try_into().ok()?))
}

/// The (rows, cols) carried by a Resize frame.
pub fn payload_size(payload: &[u8]) -> Option<(u16, u16)> {
    let rows = u16::from_le_bytes(payload.get(..2)?.try_into().ok()?);
    let cols = u16::from_le_bytes(payload.get(2..4)?.try_into().ok()?);
    Some((rows, cols))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_in_pieces() {
        let mut wire = Vec::new();
        encode(Kind::Stdout, b"hello", &mut wire);
        encode(Kind::Stderr, b"", &mut wire);
        encode(Kind::Exit, &3i32.to_le_bytes(), &mut wire);
        let mut d = Decoder::default();
        let mut got = Vec::new();
        for byte in wire.chunks(3) {
            d.feed(byte);
            while let Some(f) = d.next_frame().unwrap() {
                got.push(f);
            }
        }
        assert_eq!(got[0], (Kind::Stdout, b"hello".to_vec()));
        assert_eq!(got[1], (Kind::Stderr, vec![]));
        assert_eq!(got[2].0, Kind::Exit);
        assert_eq!(payload_i32(&got[2].1), Some(3));
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn large_payloads_split_and_hostile_frames_fail() {
        let mut wire = Vec::new();
        encode(Kind::Stdin, &vec![7u8; MAX_FRAME + 10], &mut wire);
        let mut d = Decoder::default();
        d.feed(&wire);
        assert_eq!(d.next_frame().unwrap().unwrap().1.len(), MAX_FRAME);
        assert_eq!(d.next_frame().unwrap().unwrap().1.len(), 10);
        assert!(d.next_frame().unwrap().is_none());

        let mut d = Decoder::default();
        d.feed(&[Kind::Stdout as u8, 0xff, 0xff, 0xff, 0x7f]);
        assert!(d.next_frame().is_err());
        let mut d = Decoder::default();
        d.feed(&[99, 0, 0, 0, 0]);
        assert!(d.next_frame().is_err());
    }

    #[test]
    fn resize_payload() {
        let mut p = 40u16.to_le_bytes().to_vec();
        p.extend_from_slice(&132u16.to_le_bytes());
        assert_eq!(payload_size(&p), Some((40, 132)));
        assert_eq!(payload_size(&p[..3]), None);
    }
}
