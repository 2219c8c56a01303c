//! LinkedIn URNs: the channel's author, and the post URNs LinkedIn gives back.

use std::fmt;

/// The prefixes of the two kinds of author crieur posts as.
const PERSON: &str = "urn:li:person:";
const ORGANIZATION: &str = "urn:li:organization:";

/// The kinds of post URN LinkedIn names in `x-restli-id` and in `DUPLICATE_POST` messages.
const POST_KINDS: [&str; 3] = ["urn:li:share:", "urn:li:ugcPost:", "urn:li:activity:"];

/// Longest id accepted after a URN prefix (LinkedIn's are 19 digits, person ids about 10
/// characters).
const MAX_ID_LEN: usize = 64;

/// Who posts on a LinkedIn channel: a member or an organization (a company Page).
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Author {
    /// `urn:li:person:{id}`: posts as the member; needs the `w_member_social` scope.
    Person(String),
    /// `urn:li:organization:{number}`: posts as the Page; needs `w_organization_social` and an
    /// administrator or content-admin role on the Page.
    Organization(String),
}

impl fmt::Debug for Author {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Author({self})")
    }
}

impl fmt::Display for Author {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Author::Person(id) => write!(f, "{PERSON}{id}"),
            Author::Organization(id) => write!(f, "{ORGANIZATION}{id}"),
        }
    }
}

/// An `author` that is not a person or organization URN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "author {given:?} is not a LinkedIn author URN: write `urn:li:person:ID` (posting as a \
     member; `crieur auth` prints the ID) or `urn:li:organization:NUMBER` (posting as a company \
     Page; NUMBER is in the Page's admin URL, linkedin.com/company/NUMBER/admin/)"
)]
pub struct InvalidAuthor {
    /// The value as written (cut at 100 characters).
    pub given: String,
}

impl Author {
    /// Parses `urn:li:person:ID` (ID of letters, digits, `-` and `_`) or
    /// `urn:li:organization:NUMBER`. Surrounding whitespace is ignored.
    ///
    /// # Errors
    /// [`InvalidAuthor`] for anything else, saying what to write.
    pub fn parse(value: &str) -> Result<Self, InvalidAuthor> {
        let v = value.trim();
        let bad = || InvalidAuthor { given: value.chars().take(100).collect() };
        if let Some(id) = v.strip_prefix(PERSON) {
            let ok = !id.is_empty()
                && id.len() <= MAX_ID_LEN
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            return if ok { Ok(Author::Person(id.to_owned())) } else { Err(bad()) };
        }
        if let Some(id) = v.strip_prefix(ORGANIZATION) {
            let ok = !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit());
            return if ok { Ok(Author::Organization(id.to_owned())) } else { Err(bad()) };
        }
        Err(bad())
    }

    /// The scope a token needs to post as this author.
    pub fn write_scope(&self) -> &'static str {
        match self {
            Author::Person(_) => "w_member_social",
            Author::Organization(_) => "w_organization_social",
        }
    }
}

/// The post URN in an `x-restli-id` value, when it is one: `urn:li:` then printable ASCII without
/// spaces, at most 200 bytes.
pub(crate) fn post_urn_header(value: &str) -> Option<String> {
    let v = value.trim();
    let ok = v.starts_with("urn:li:")
        && v.len() <= 200
        && v.len() > "urn:li:".len()
        && v.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
    ok.then(|| v.to_owned())
}

/// The first `urn:li:share:N`, `urn:li:ugcPost:N` or `urn:li:activity:N` (N digits) in `text`,
/// wherever it starts: LinkedIn's `DUPLICATE_POST` message reads "Content is a duplicate of
/// urn:li:share:7012345678901234567".
///
/// Hand-written rather than a regex dependency: three fixed prefixes and a run of digits.
pub(crate) fn find_post_urn(text: &str) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    for kind in POST_KINDS {
        let mut from = 0;
        while let Some(found) = text[from..].find(kind) {
            let start = from + found;
            let digits_start = start + kind.len();
            let digits = text[digits_start..].bytes().take_while(u8::is_ascii_digit).count();
            if (1..=MAX_ID_LEN).contains(&digits) {
                if best.as_ref().is_none_or(|(at, _)| start < *at) {
                    best = Some((start, text[start..digits_start + digits].to_owned()));
                }
                break;
            }
            from = digits_start;
        }
    }
    best.map(|(_, urn)| urn)
}

/// `https://www.linkedin.com/feed/update/{urn}/`, the public address of a post.
pub(crate) fn post_url(urn: &str) -> String {
    format!("https://www.linkedin.com/feed/update/{urn}/")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn authors() {
        assert_eq!(
            Author::parse("urn:li:organization:2414183").unwrap(),
            Author::Organization("2414183".into())
        );
        let p = Author::parse(" urn:li:person:aB3-x_9 ").unwrap();
        assert_eq!(p, Author::Person("aB3-x_9".into()));
        assert_eq!(p.to_string(), "urn:li:person:aB3-x_9");
        assert_eq!(p.write_scope(), "w_member_social");
        assert_eq!(
            Author::parse("urn:li:organization:1").unwrap().write_scope(),
            "w_organization_social"
        );
        for bad in [
            "",
            "2414183",
            "urn:li:organization:",
            "urn:li:organization:24x",
            "urn:li:person:",
            "urn:li:person:a b",
            "urn:li:company:2414183",
            "URN:LI:PERSON:abc",
        ] {
            let err = Author::parse(bad).unwrap_err();
            assert!(err.to_string().contains("urn:li:organization:NUMBER"), "{bad}: {err}");
        }
        let long = format!("urn:li:person:{}", "a".repeat(500));
        assert_eq!(Author::parse(&long).unwrap_err().given.chars().count(), 100);
    }

    #[test]
    fn finds_the_first_post_urn_of_any_kind() {
        let m =
            "ERROR :: /commentary :: Content is a duplicate of urn:li:share:7012345678901234567";
        assert_eq!(find_post_urn(m).unwrap(), "urn:li:share:7012345678901234567");
        assert_eq!(
            find_post_urn("duplicate of urn:li:ugcPost:123, see urn:li:share:9").unwrap(),
            "urn:li:ugcPost:123"
        );
        assert_eq!(find_post_urn("urn:li:activity:55.").unwrap(), "urn:li:activity:55");
        // A prefix without digits is skipped, a later one is found.
        assert_eq!(find_post_urn("urn:li:share:x urn:li:share:42").unwrap(), "urn:li:share:42");
        for none in ["", "duplicate", "urn:li:share:", "urn:li:organization:2414183", "ﬁ urn:li:"]
        {
            assert_eq!(find_post_urn(none), None, "{none}");
        }
        assert_eq!(find_post_urn(&format!("urn:li:share:{}", "1".repeat(65))), None);
    }

    #[test]
    fn header_urns() {
        assert_eq!(
            post_urn_header(" urn:li:share:6844785523593134080 ").unwrap(),
            "urn:li:share:6844785523593134080"
        );
        assert_eq!(post_urn_header("urn:li:ugcPost:1").unwrap(), "urn:li:ugcPost:1");
        for bad in ["", "urn:li:", "share:1", "urn:li:share:1 2", "urn:li:share:\"1"] {
            assert_eq!(post_urn_header(bad), None, "{bad}");
        }
        assert_eq!(
            post_url("urn:li:share:1"),
            "https://www.linkedin.com/feed/update/urn:li:share:1/"
        );
    }
}
