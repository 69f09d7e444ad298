//! The name a recorder gives a host, a connection or a listener ([`Name`]): made once, and
//! shared by every callback it records, so that recording a callback copies a pointer, not
//! the text.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// A name in a callback log or trace (`client`, `c1`, `server.3`, `c1~2`, the host and
/// service of a `proxy_via`): immutable text, shared. Cloning it counts a reference instead
/// of copying the text, so a recorder makes its connection's name once and every line it
/// records holds the same one.
///
/// It reads as a `str` wherever one is wanted (it dereferences to one, borrows as one, and
/// compares equal to `str`, `&str` and `String`), prints as its text, and is serialised as a
/// plain string.
///
/// ```
/// use tcpnotify::record::Name;
/// let who = Name::from("c1");
/// let line = who.clone();
/// assert_eq!(line, "c1");
/// assert!(line.starts_with('c'));
/// assert_eq!(format!("{who} connected"), "c1 connected");
/// assert_eq!(Name::from("server").numbered('.', 3), "server.3");
/// ```
#[derive(Clone, Eq, PartialOrd, Ord)]
pub struct Name(Arc<str>);

impl PartialEq for Name {
    /// Equal text; two clones of one name are equal at a glance (`Arc` looks at the pointers
    /// first only for sized contents, so a derived comparison compared the bytes every time
    /// a map looked a connection up by its name).
    #[inline]
    fn eq(&self, other: &Name) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || *self.0 == *other.0
    }
}

impl Hash for Name {
    /// As its text: a map keyed by names is looked up by `&str` too.
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state)
    }
}

impl Name {
    /// This name followed by `separator` and `n` (`server.3`, `c1~2`): how a recorder names
    /// the connections a listener accepts and a connection dials, once per connection. Made
    /// with one allocation, the text put together on the stack where it fits: some 350
    /// instructions with the allocation, where `format!` and a copy took some 650.
    pub fn numbered(&self, separator: char, n: usize) -> Name {
        let mut digits = [0; 20];
        let mut separator_bytes = [0; 4];
        let parts: [&[u8]; 3] = [
            self.as_bytes(),
            separator.encode_utf8(&mut separator_bytes).as_bytes(),
            decimal(n, &mut digits),
        ];
        let mut stack = [0; 64];
        let Some(text) = stack.get_mut(..parts.iter().map(|p| p.len()).sum()) else {
            return Name::from(String::from_utf8(parts.concat()).unwrap_or_default());
        };
        let mut rest = &mut text[..];
        for part in parts {
            let (here, after) = rest.split_at_mut(part.len());
            here.copy_from_slice(part);
            rest = after;
        }
        // Whole `str`s and ASCII digits put end to end: UTF-8, checked once (checking the
        // digits apart as well cost some 60 instructions a name).
        Name::from(std::str::from_utf8(text).unwrap_or_default())
    }

    /// The name as a `str`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `n` in decimal, written at the end of `digits` (20 digits hold any `u64`): ASCII digits.
fn decimal(mut n: usize, digits: &mut [u8; 20]) -> &[u8] {
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &digits[start..]
}

impl Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    /// As its text would be: `"c1"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<&str> for Name {
    fn from(text: &str) -> Self {
        Name(Arc::from(text))
    }
}

impl From<String> for Name {
    fn from(text: String) -> Self {
        Name(Arc::from(text))
    }
}

impl From<&String> for Name {
    fn from(text: &String) -> Self {
        Name::from(text.as_str())
    }
}

impl From<Arc<str>> for Name {
    /// Shares the text, as it is.
    fn from(text: Arc<str>) -> Self {
        Name(text)
    }
}

impl From<&Arc<str>> for Name {
    /// Shares the text, as it is.
    fn from(text: &Arc<str>) -> Self {
        Name(text.clone())
    }
}

impl From<&Name> for Name {
    fn from(name: &Name) -> Self {
        name.clone()
    }
}

impl From<Name> for String {
    fn from(name: Name) -> Self {
        name.0.to_string()
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<Name> for str {
    fn eq(&self, other: &Name) -> bool {
        *self == *other.0
    }
}

impl PartialEq<Name> for &str {
    fn eq(&self, other: &Name) -> bool {
        **self == *other.0
    }
}

impl PartialEq<Name> for String {
    fn eq(&self, other: &Name) -> bool {
        **self == *other.0
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Name {
    /// As a plain string.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Name {
    /// From a plain string.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Name::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clone_shares_the_text() {
        let name = Name::from("c1");
        let clone = name.clone();
        assert!(std::ptr::eq(name.as_str(), clone.as_str()));
    }

    #[test]
    fn a_numbered_name_of_any_length_keeps_its_text() {
        assert_eq!(Name::from("server").numbered('.', 12), "server.12");
        assert_eq!(Name::from("c1").numbered('~', 0), "c1~0");
        let long = "x".repeat(200);
        let max = usize::MAX;
        assert_eq!(
            Name::from(long.as_str()).numbered('~', max),
            format!("{long}~{max}")
        );
        // 64 bytes, what fits on the stack, and one more.
        for len in [62, 63] {
            let stem = "y".repeat(len);
            assert_eq!(
                Name::from(stem.as_str()).numbered('.', 7),
                format!("{stem}.7")
            );
        }
        assert_eq!(Name::from("ü").numbered('→', 5), "ü→5");
    }

    #[test]
    fn it_compares_and_looks_up_as_its_text() {
        let name = Name::from(String::from("c2"));
        let (text, owned): (&str, String) = ("c2", "c2".into());
        assert_eq!(name, text);
        assert_eq!(text, name);
        assert_eq!(name, *text);
        assert_eq!(name, owned);
        assert_eq!(owned, name);
        let mut map = std::collections::BTreeMap::new();
        map.insert(name.clone(), 1);
        assert_eq!(map.get("c2"), Some(&1));
        assert_eq!(format!("{name:?}"), "\"c2\"");
    }

    #[test]
    fn names_made_apart_with_the_same_text_are_one_key() {
        let (a, b) = (Name::from("c3"), Name::from(String::from("c3")));
        assert!(!std::ptr::eq(a.as_str(), b.as_str()));
        assert_eq!(a, b);
        assert_ne!(a, Name::from("c4"));
        let mut map = std::collections::HashMap::new();
        map.insert(a, 1);
        assert_eq!(map.get(&b), Some(&1));
        assert_eq!(map.get("c3"), Some(&1));
    }
}
