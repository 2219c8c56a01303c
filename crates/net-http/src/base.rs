//! The root URL an adapter joins its API paths to.

use reqwest::Url;

/// Reads an adapter's API root (`api_base`, Mastodon's `instance`, Bluesky's `service`): an
/// http(s) URL that can be a base, returned with a trailing `/` so that joining `api/v1/...`
/// keeps its path.
///
/// # Errors
/// What is wrong with it, to put in the adapter's own error beside the channel and the value.
pub fn api_base(raw: &str) -> Result<Url, String> {
    let mut base = Url::parse(raw.trim()).map_err(|e| e.to_string())?;
    if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
        return Err("http or https expected".into());
    }
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_keeps_its_path_and_gains_a_trailing_slash() {
        let base = api_base(" https://social.example/prefix ").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(base.as_str(), "https://social.example/prefix/");
        assert_eq!(
            base.join("api/v1/statuses").map(String::from).ok().as_deref(),
            Some("https://social.example/prefix/api/v1/statuses")
        );
    }

    #[test]
    fn other_schemes_and_non_urls_are_refused() {
        assert_eq!(api_base("ftp://example.com").err().as_deref(), Some("http or https expected"));
        assert_eq!(
            api_base("mailto:a@example.com").err().as_deref(),
            Some("http or https expected")
        );
        assert!(api_base("not a url").is_err());
    }
}
