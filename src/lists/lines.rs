//! Line numbers of CSV records. The csv crate's own `Position` is wrong for CRLF files (it
//! points at the `\n` of the previous record's terminator, and blank lines are not counted),
//! so this reader sits under it, keeps the bytes not yet accounted for, and turns the byte
//! offset csv reports into the line where the record really starts.

use std::collections::VecDeque;
use std::io::Read;

pub struct LineTracker<R> {
    inner: R,
    /// Bytes read from `inner` from absolute offset `base` on.
    window: VecDeque<u8>,
    base: u64,
    /// `\n` bytes before `base`.
    newlines: u64,
}

impl<R: Read> LineTracker<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            window: VecDeque::new(),
            base: 0,
            newlines: 0,
        }
    }

    /// The 1-based line of the record csv says starts at byte `at`; forgets what lies before.
    /// Offsets must not go backwards.
    pub fn line_at(&mut self, at: u64) -> u64 {
        let rel = usize::try_from(at.saturating_sub(self.base))
            .unwrap_or(usize::MAX)
            .min(self.window.len());
        let before = self.window.range(..rel).filter(|&&b| b == b'\n').count() as u64;
        // csv's offset may point at line breaks (CRLF, blank lines) ahead of the record
        let skipped = self
            .window
            .range(rel..)
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .filter(|&&b| b == b'\n')
            .count() as u64;
        self.window.drain(..rel);
        self.base += rel as u64;
        self.newlines += before;
        self.newlines + skipped + 1
    }
}

impl<R: Read> Read for LineTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.window.extend(&buf[..n]);
        Ok(n)
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
    }
}
