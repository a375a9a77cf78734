//! The `sip_multipart` channel variable, which is not a SIP multipart body.
//!
//! `sofia_handle_sip_i_invite` does not hand the RFC 2046 body over. It pushes
//! one `<content-type>:<payload>` entry per part onto a stacked channel
//! variable, which is the switch's `ARRAY::` encoding, and carries nothing else
//! from the MIME headers; a part missing either half is dropped there and never
//! reaches this parser. What this module reads is that transport encoding, so
//! the `sip_*` name it lives under is the variable's, not a standard's.

use super::{EslArray, EslArrayError};
use std::borrow::Cow;
use std::fmt;

/// Errors from [`MultipartBody::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MultipartBodyError {
    /// The `ARRAY::` wrapper could not be parsed.
    Array(EslArrayError),
    /// An entry had no `:` between its MIME type and its body.
    MissingSeparator {
        /// Zero-based position of the entry within the ARRAY.
        index: usize,
        /// Byte length of the entry.
        len: usize,
    },
}

impl fmt::Display for MultipartBodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Array(e) => write!(f, "{e}"),
            Self::MissingSeparator { index, len } => write!(
                f,
                "malformed multipart entry {index} ({len} bytes): no ':' between MIME type and body"
            ),
        }
    }
}

impl std::error::Error for MultipartBodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Array(e) => Some(e),
            Self::MissingSeparator { .. } => None,
        }
    }
}

impl From<EslArrayError> for MultipartBodyError {
    fn from(e: EslArrayError) -> Self {
        Self::Array(e)
    }
}

/// A single part from a SIP multipart body
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct MultipartItem {
    /// MIME type (e.g. `application/sdp`).
    pub mime_type: String,
    /// Body content for this part.
    pub data: String,
}

impl MultipartItem {
    /// Create a new multipart item.
    pub fn new(mime_type: impl Into<String>, data: impl Into<String>) -> Self {
        Self {
            mime_type: mime_type.into(),
            data: data.into(),
        }
    }

    /// MIME type with parameters stripped and lowercased, e.g.
    /// `application/sdp` from `Application/SDP; charset=utf-8`. Use this to
    /// dispatch on the type rather than matching [`mime_type`](Self::mime_type)
    /// directly.
    pub fn media_type(&self) -> Cow<'_, str> {
        let bare = match self
            .mime_type
            .find(';')
        {
            Some(i) => &self.mime_type[..i],
            None => &self.mime_type,
        }
        .trim();

        if bare
            .bytes()
            .any(|b| b.is_ascii_uppercase())
        {
            Cow::Owned(bare.to_ascii_lowercase())
        } else {
            Cow::Borrowed(bare)
        }
    }
}

/// Parses `variable_sip_multipart` ARRAY:: format.
///
/// Each ARRAY element is `"mime/type:body_data"`, split on the first `:`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MultipartBody(Vec<MultipartItem>);

impl MultipartBody {
    /// Parse a `variable_sip_multipart` value.
    ///
    /// Returns `Ok(None)` if the input is not `ARRAY::` formatted.
    /// Returns `Err` if an ARRAY entry is malformed (missing `:`
    /// separator between MIME type and body).
    pub fn parse(s: &str) -> Result<Option<Self>, MultipartBodyError> {
        let array = match EslArray::parse(s) {
            Ok(a) => a,
            Err(EslArrayError::MissingPrefix) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut items = Vec::with_capacity(
            array
                .items()
                .len(),
        );
        for (index, entry) in array
            .items()
            .iter()
            .enumerate()
        {
            let (mime_type, data) = entry
                .split_once(':')
                .ok_or(MultipartBodyError::MissingSeparator {
                    index,
                    len: entry.len(),
                })?;
            items.push(MultipartItem {
                mime_type: mime_type.to_string(),
                data: data.to_string(),
            });
        }
        Ok(Some(Self(items)))
    }

    /// All parsed parts.
    pub fn items(&self) -> &[MultipartItem] {
        &self.0
    }

    /// Number of parts.
    pub fn len(&self) -> usize {
        self.0
            .len()
    }

    /// Whether the body contains no parts.
    pub fn is_empty(&self) -> bool {
        self.0
            .is_empty()
    }

    /// Collect body data for all parts whose MIME type matches exactly,
    /// parameters included. Use [`by_media_type`](Self::by_media_type) to match
    /// `application/sdp` against a part typed `application/sdp;charset=utf-8`.
    pub fn by_mime_type(&self, mime: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|item| item.mime_type == mime)
            .map(|item| {
                item.data
                    .as_str()
            })
            .collect()
    }

    /// Collect body data for all parts with the given media type, ignoring MIME
    /// parameters and case.
    pub fn by_media_type(&self, media: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|item| {
                item.media_type()
                    .eq_ignore_ascii_case(media)
            })
            .map(|item| {
                item.data
                    .as_str()
            })
            .collect()
    }
}

impl IntoIterator for MultipartBody {
    type Item = MultipartItem;
    type IntoIter = std::vec::IntoIter<MultipartItem>;

    fn into_iter(self) -> Self::IntoIter {
        self.0
            .into_iter()
    }
}

impl<'a> IntoIterator for &'a MultipartBody {
    type Item = &'a MultipartItem;
    type IntoIter = std::slice::Iter<'a, MultipartItem>;

    fn into_iter(self) -> Self::IntoIter {
        self.0
            .iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_multipart_body() {
        let input =
            "ARRAY::application/sdp:v=0\r\no=...|:application/pidf+xml:<presence>...</presence>";
        let body = MultipartBody::parse(input)
            .unwrap()
            .unwrap();
        assert_eq!(
            body.items()
                .len(),
            2
        );
        assert_eq!(body.items()[0].mime_type, "application/sdp");
        assert_eq!(body.items()[0].data, "v=0\r\no=...");
        assert_eq!(body.items()[1].mime_type, "application/pidf+xml");
        assert_eq!(body.items()[1].data, "<presence>...</presence>");
    }

    #[test]
    fn by_mime_type_filtering() {
        let input = "ARRAY::text/plain:hello|:application/pidf+xml:<pidf/>|:text/plain:world";
        let body = MultipartBody::parse(input)
            .unwrap()
            .unwrap();

        let pidf = body.by_mime_type("application/pidf+xml");
        assert_eq!(pidf, vec!["<pidf/>"]);

        let texts = body.by_mime_type("text/plain");
        assert_eq!(texts, vec!["hello", "world"]);

        let none = body.by_mime_type("application/json");
        assert!(none.is_empty());
    }

    #[test]
    fn media_type_strips_parameters() {
        let item = MultipartItem::new("application/sdp;charset=utf-8", "v=0");
        assert_eq!(item.media_type(), "application/sdp");
        let plain = MultipartItem::new("text/plain", "hello");
        assert_eq!(plain.media_type(), "text/plain");
    }

    /// The wire spells this however the far end felt like, and a consumer that
    /// also reads the sofia trace parser dispatches on one lowercased value from
    /// both sides or silently takes a different branch per source.
    #[test]
    fn media_type_lowercases() {
        let item = MultipartItem::new("Application/SDP; charset=utf-8", "v=0");
        assert_eq!(item.media_type(), "application/sdp");
        let shouty = MultipartItem::new("APPLICATION/PIDF+XML", "<pidf/>");
        assert_eq!(shouty.media_type(), "application/pidf+xml");
    }

    /// A part already spelled in canonical form is borrowed, so dispatching over
    /// a whole body allocates only for the parts the far end spelled otherwise.
    #[test]
    fn media_type_borrows_when_already_normalised() {
        let item = MultipartItem::new("application/sdp", "v=0");
        assert!(matches!(item.media_type(), Cow::Borrowed(_)));
        let upper = MultipartItem::new("Application/SDP", "v=0");
        assert!(matches!(upper.media_type(), Cow::Owned(_)));
    }

    #[test]
    fn by_media_type_ignores_parameters_and_case() {
        let input = "ARRAY::application/sdp;charset=utf-8:v=0|:Application/PIDF+XML:<pidf/>";
        let body = MultipartBody::parse(input)
            .unwrap()
            .unwrap();

        assert_eq!(body.by_media_type("application/sdp"), vec!["v=0"]);
        assert_eq!(body.by_media_type("application/pidf+xml"), vec!["<pidf/>"]);
        assert!(body
            .by_mime_type("application/sdp")
            .is_empty());
    }

    #[test]
    fn non_array_returns_none() {
        assert!(MultipartBody::parse("not an array")
            .unwrap()
            .is_none());
    }

    /// A part with no `:` is often a civic address or an SDP body, so the error
    /// names where it was and how long it was, never what it held.
    #[test]
    fn malformed_entry_error_names_position_not_content() {
        let input = "ARRAY::application/sdp:v=0|:123 Example St|:text/plain:ok";
        let msg = MultipartBody::parse(input)
            .unwrap_err()
            .to_string();
        assert!(
            !msg.contains("123 Example St"),
            "error quoted its input: {msg}"
        );
        assert!(
            msg.contains("entry 1"),
            "error does not name the entry: {msg}"
        );
    }
}
