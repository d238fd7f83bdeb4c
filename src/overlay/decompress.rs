//! Choose the decompressor of a layer blob from its first bytes, as registries do not always say.

use std::io::{BufRead, Cursor, Read};

use super::Error;

const GZIP: &[u8] = &[0x1f, 0x8b];
const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// How a layer blob is compressed, as its first bytes say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// What the first bytes of a blob say (at least 4 of them, unless the blob is shorter).
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(ZSTD) {
            Compression::Zstd
        } else if head.starts_with(GZIP) {
            Compression::Gzip
        } else {
            Compression::None
        }
    }

    /// The OCI media type of a layer blob compressed this way.
    pub fn oci_media_type(self) -> &'static str {
        match self {
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
}

/// Wrap a blob stream so that it reads as the uncompressed tar: gzip, zstd, or already plain.
/// Streams: nothing is buffered beyond the decompressors' own windows.
pub fn decompress<'a>(r: Box<dyn BufRead + Send + 'a>) -> Result<Box<dyn Read + Send + 'a>, Error> {
    decompress_kind(r).map(|(_, r)| -> Box<dyn Read + Send + 'a> { Box::new(r) })
}

/// A blob stream read as its uncompressed tar.
pub enum Decoded<R: BufRead> {
    Plain(std::io::Chain<Cursor<Vec<u8>>, R>),
    Gzip(Box<flate2::read::MultiGzDecoder<std::io::Chain<Cursor<Vec<u8>>, R>>>),
    Zstd(
        zstd::stream::read::Decoder<
            'static,
            std::io::BufReader<std::io::Chain<Cursor<Vec<u8>>, R>>,
        >,
    ),
}

impl<R: BufRead> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Decoded::Plain(r) => r.read(buf),
            Decoded::Gzip(r) => r.read(buf),
            Decoded::Zstd(r) => r.read(buf),
        }
    }
}

/// `decompress` for any stream (one that stays on this thread too), also saying which
/// compression it found.
pub fn decompress_kind<R: BufRead>(mut r: R) -> Result<(Compression, Decoded<R>), Error> {
    // A short read may return fewer bytes than the magic numbers need: read until 4 or EOF.
    let mut magic = [0u8; 4];
    let mut have = 0;
    while have < magic.len() {
        match r.read(&mut magic[have..]) {
            Ok(0) => break,
            Ok(n) => have += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("reading layer", None, &e)),
        }
    }
    let head = magic[..have].to_vec();
    let kind = Compression::sniff(&head);
    let whole = Cursor::new(head).chain(r);
    let reader = match kind {
        Compression::Zstd => Decoded::Zstd(
            zstd::stream::read::Decoder::new(whole)
                .map_err(|e| Error::io("starting zstd decompression", None, &e))?,
        ),
        Compression::Gzip => Decoded::Gzip(Box::new(flate2::read::MultiGzDecoder::new(whole))),
        Compression::None => Decoded::Plain(whole),
    };
    Ok((kind, reader))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Write};

    fn roundtrip(blob: Vec<u8>) -> Vec<u8> {
        let r: Box<dyn BufRead + Send> = Box::new(BufReader::new(Cursor::new(blob)));
        let mut out = Vec::new();
        decompress(r).unwrap().read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn detects_gzip_zstd_and_plain() {
        let data = b"ustar-ish payload that is long enough to matter".repeat(100);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&data).unwrap();
        assert_eq!(roundtrip(gz.finish().unwrap()), data);
        assert_eq!(roundtrip(zstd::encode_all(&data[..], 3).unwrap()), data);
        assert_eq!(roundtrip(data.clone()), data);
        assert_eq!(roundtrip(b"ab".to_vec()), b"ab");
        assert_eq!(roundtrip(Vec::new()), b"");
    }

    /// A one-byte-at-a-time stream must still be recognised.
    #[test]
    fn detects_through_short_reads() {
        struct Dribble(Cursor<Vec<u8>>);
        impl Read for Dribble {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(1);
                self.0.read(&mut buf[..n])
            }
        }
        let data = b"hello".repeat(50);
        let blob = zstd::encode_all(&data[..], 3).unwrap();
        let r: Box<dyn BufRead + Send> =
            Box::new(BufReader::with_capacity(1, Dribble(Cursor::new(blob))));
        let mut out = Vec::new();
        decompress(r).unwrap().read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }
}
