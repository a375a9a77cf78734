//! Line numbers of CSV records. The csv crate's own `Position` is wrong for CRLF files (it
//! points at the `\n` of the previous record's terminator, and blank lines are not counted),
//! so this reader sits under it, keeps the bytes not yet accounted for, and turns the byte
//! offset csv reports into the line where the record really starts. A line ends with `\n`,
//! `\r\n` or a lone `\r` (old Mac files), as csv's records do. The kept bytes also let the
//! reader go back to the line after an unclosed quote (`Seek`) and read on from there.

use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom};

pub struct LineTracker<R> {
    inner: R,
    /// Bytes read from `inner` from absolute offset `base` on.
    window: VecDeque<u8>,
    base: u64,
    /// `\n` bytes before `base`.
    newlines: u64,
    /// Absolute offset of the next byte `read` hands out: the end of the window, or before
    /// it after a [`Seek`] back (those bytes are handed out again from the window).
    pos: u64,
}

impl<R: Read> LineTracker<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            window: VecDeque::new(),
            base: 0,
            newlines: 0,
            pos: 0,
        }
    }

    /// The 1-based line of the record csv says starts at byte `at`; forgets what lies before.
    /// Offsets must not go backwards.
    pub fn line_at(&mut self, at: u64) -> u64 {
        let rel = usize::try_from(at.saturating_sub(self.base))
            .unwrap_or(usize::MAX)
            .min(self.window.len());
        // one byte past `rel` says whether a `\r` just before it is a line break of its own
        let before = breaks(self.window.range(..(rel + 1).min(self.window.len())))
            .take_while(|&(i, _)| i < rel)
            .count() as u64;
        // csv's offset may point at line breaks (CRLF, blank lines) ahead of the record
        let run = self
            .window
            .range(rel..)
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        let skipped = breaks(
            self.window
                .range(rel..(rel + run + 1).min(self.window.len())),
        )
        .take_while(|&(i, _)| i < run)
        .count() as u64;
        self.window.drain(..rel);
        self.base += rel as u64;
        self.newlines += before;
        self.newlines + skipped + 1
    }

    /// The bytes from absolute offset `from` to `to` that are still in the window.
    pub fn bytes(&self, from: u64, to: u64) -> impl Iterator<Item = u8> + '_ {
        let rel = |at: u64| {
            usize::try_from(at.saturating_sub(self.base))
                .unwrap_or(usize::MAX)
                .min(self.window.len())
        };
        self.window
            .range(rel(from)..rel(to).max(rel(from)))
            .copied()
    }
}

/// `(index, byte)` of each line break: `\n`, and a `\r` not followed by `\n` (old Mac
/// files end lines with `\r` alone, which csv also takes as the end of a record). The last
/// byte only says whether the one before it is a lone `\r`.
fn breaks<'a>(bytes: impl Iterator<Item = &'a u8>) -> impl Iterator<Item = (usize, u8)> {
    let mut bytes = bytes.copied().enumerate().peekable();
    std::iter::from_fn(move || {
        while let Some((i, b)) = bytes.next() {
            let lone_cr = b == b'\r' && bytes.peek().is_none_or(|&(_, n)| n != b'\n');
            if b == b'\n' || lone_cr {
                return Some((i, b));
            }
        }
        None
    })
}

impl<R: Read> Read for LineTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let end = self.base + self.window.len() as u64;
        if self.pos < end {
            // after a seek back: the bytes again, from the window
            let start = (self.pos - self.base) as usize;
            let n = buf.len().min(self.window.len() - start);
            for (dst, src) in buf[..n].iter_mut().zip(self.window.range(start..start + n)) {
                *dst = *src;
            }
            self.pos += n as u64;
            return Ok(n);
        }
        let n = self.inner.read(buf)?;
        self.window.extend(&buf[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

/// Only back to a byte still in the window (not yet given up by [`LineTracker::line_at`]),
/// and only with `SeekFrom::Start`: the reader uses it to read the lines an unclosed quote
/// swallowed again, as records of their own.
impl<R: Read> Seek for LineTracker<R> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let end = self.base + self.window.len() as u64;
        match to {
            SeekFrom::Start(at) if (self.base..=end).contains(&at) => {
                self.pos = at;
                Ok(at)
            }
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek outside the bytes kept for line numbers",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LineTracker;

    fn lines(text: &str) -> Vec<(String, u64)> {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(4)
            .from_reader(LineTracker::new(text.as_bytes()));
        let mut rec = csv::ByteRecord::new();
        let mut out = Vec::new();
        while r.read_byte_record(&mut rec).unwrap() {
            let at = rec.position().unwrap().byte();
            let line = r.get_mut().line_at(at);
            out.push((String::from_utf8_lossy(&rec[0]).into_owned(), line));
        }
        out
    }

    #[test]
    fn lf_crlf_blank_lines_and_quoted_breaks() {
        let want = |v: &[(&str, u64)]| -> Vec<(String, u64)> {
            v.iter().map(|(s, l)| (s.to_string(), *l)).collect()
        };
        assert_eq!(
            lines("a,b\n1,2\n3,4\n"),
            want(&[("a", 1), ("1", 2), ("3", 3)])
        );
        assert_eq!(
            lines("a,b\r\n1,2\r\n3,4\r\n"),
            want(&[("a", 1), ("1", 2), ("3", 3)])
        );
        assert_eq!(
            lines("\r\na,b\r\n\r\n\r\n1,2\r\n\r\n3,4"),
            want(&[("a", 2), ("1", 5), ("3", 7)])
        );
        assert_eq!(
            lines("a,b\r\n\"x\r\ny\",2\r\n3,4\n\n5"),
            want(&[("a", 1), ("x\r\ny", 2), ("3", 4), ("5", 6)])
        );
        // old Mac files: a lone CR ends a line
        assert_eq!(
            lines("a,b\r1,2\r\r3,4\r\"x\ry\",5\r6"),
            want(&[("a", 1), ("1", 2), ("3", 4), ("x\ry", 5), ("6", 7)])
        );
    }
}
