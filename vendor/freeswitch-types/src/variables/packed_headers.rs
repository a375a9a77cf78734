//! The parse-time form of [`EslHeaders`](super::EslHeaders): every canonical key
//! and decoded value of an event back to back in one `String`, with one small
//! index entry per header. A parsed event costs two allocations instead of two
//! per header plus a hash-map insert; the `IndexMap` view is built only if asked.

use indexmap::IndexMap;

#[derive(Debug, Clone, Copy)]
struct Entry {
    key_start: u32,
    key_len: u32,
    value_len: u32,
}

/// Headers in wire order; a key seen twice keeps its first position and its
/// last value, as sequential `IndexMap::insert`s would.
#[derive(Debug, Clone, Default)]
pub(crate) struct PackedHeaders {
    text: String,
    entries: Vec<Entry>,
}

impl PackedHeaders {
    pub(crate) fn with_capacity(headers: usize, text: usize) -> Self {
        Self {
            text: String::with_capacity(text),
            entries: Vec::with_capacity(headers),
        }
    }

    /// Appends one header; `key` must already be canonical.
    pub(crate) fn push(&mut self, key: &str, value: &str) {
        let key_start = self
            .text
            .len();
        self.text
            .push_str(key);
        self.text
            .push_str(value);
        self.entries
            .push(Entry {
                key_start: key_start as u32,
                key_len: key.len() as u32,
                value_len: value.len() as u32,
            });
    }

    /// Whether another `push` of these lengths still fits the `u32` offsets.
    pub(crate) fn fits(&self, key: &str, value: &str) -> bool {
        self.text
            .len()
            + key.len()
            + value.len()
            <= u32::MAX as usize
    }

    fn key(&self, e: &Entry) -> &str {
        let s = e.key_start as usize;
        &self.text[s..s + e.key_len as usize]
    }

    fn value(&self, e: &Entry) -> &str {
        let s = (e.key_start + e.key_len) as usize;
        &self.text[s..s + e.value_len as usize]
    }

    /// The last value stored under exactly `key`. The length is the filter: a
    /// name hash per header cost the parser more than these compares save.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.key_len as usize == key.len() && self.key(e) == key)
            .map(|e| self.value(e))
    }

    /// Every header in wire order; a repeated key appears each time.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.entries
            .iter()
            .map(|e| (self.key(e), self.value(e)))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries
            .is_empty()
    }

    pub(crate) fn to_map(&self) -> IndexMap<String, String> {
        let mut map = IndexMap::with_capacity(
            self.entries
                .len(),
        );
        for e in &self.entries {
            map.insert(
                self.key(e)
                    .to_string(),
                self.value(e)
                    .to_string(),
            );
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_value_first_position() {
        let mut p = PackedHeaders::default();
        p.push("Event-Name", "CHANNEL_CREATE");
        p.push("Unique-ID", "a");
        p.push("Event-Name", "CHANNEL_ANSWER");
        assert_eq!(p.get("Event-Name"), Some("CHANNEL_ANSWER"));
        assert_eq!(p.get("Unique-ID"), Some("a"));
        assert_eq!(p.get("unique-id"), None);
        assert_eq!(p.get("Missing"), None);
        let map = p.to_map();
        let keys: Vec<&str> = map
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["Event-Name", "Unique-ID"]);
        assert_eq!(map["Event-Name"], "CHANNEL_ANSWER");
    }

    #[test]
    fn empty_values_and_keys_are_kept() {
        let mut p = PackedHeaders::default();
        p.push("A", "");
        p.push("B", "x");
        assert_eq!(p.get("A"), Some(""));
        assert_eq!(p.get("B"), Some("x"));
    }
}
