//! Attachments: their file names made safe, and a CSV gzip-compressed above [`GZIP_ABOVE`]
//! (reports and digests attach theirs the same way).

use lettre::message::header::ContentType;
use lettre::message::{Attachment, SinglePart};

/// An attachment's file name: control characters, `/`, `\` and `"` become `_`.
pub fn file_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | '"' | '\u{2028}' | '\u{2029}') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// A CSV attachment as it is, or gzip-compressed as `NAME.gz` above [`GZIP_ABOVE`].
pub(super) fn csv_attachment(name: String, data: Vec<u8>) -> SinglePart {
    let name = file_name(&name);
    if data.len() > GZIP_ABOVE {
        let gz = ContentType::parse("application/gzip").expect("a valid literal content type");
        Attachment::new(format!("{name}.gz")).body(gzip(&data), gz)
    } else {
        let csv =
            ContentType::parse("text/csv; charset=utf-8").expect("a valid literal content type");
        Attachment::new(name).body(data, csv)
    }
}

/// Attachments above this are sent gzip-compressed: a 200,000-subscriber CSV is ~20 MB
/// (~27 MB encoded), more than many SMTP servers accept; compressed it is a few MB.
pub const GZIP_ABOVE: usize = 1024 * 1024;

pub(super) fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    enc.write_all(data).expect("gzip into memory");
    enc.finish().expect("gzip into memory")
}
