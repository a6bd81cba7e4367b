//! The `[backend]` table of drctl.toml and `--backend` URLs: where state,
//! journal and lock live when they are shared (S3) rather than local.

use std::fmt;

/// `s3://BUCKET/PREFIX`, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    /// Without leading or trailing `/`; empty for the bucket's root.
    pub prefix: String,
}

impl fmt::Display for S3Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

/// A shared state backend as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendSettings {
    pub url: S3Url,
    /// The bucket's region; the environment's primary region when absent.
    pub region: Option<String>,
}

/// The keys of the `[backend]` table.
pub const BACKEND_KEYS: &[&str] = &["url", "region"];

/// Parses `s3://BUCKET/PREFIX`; the error says what is wrong and what a
/// valid URL looks like.
pub fn parse_s3_url(text: &str) -> Result<S3Url, String> {
    const EXAMPLE: &str = "a URL like \"s3://my-team-drctl-state/payments\"";
    let Some(rest) = text.strip_prefix("s3://") else {
        return Err(format!(
            "`{text}` is not an S3 URL; the only shared backend is S3: use {EXAMPLE}"
        ));
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    // The rules for general purpose buckets (S3 User Guide, "Bucket naming rules").
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !bucket.contains("..");
    if !bucket_ok {
        return Err(format!(
            "`{bucket}` is not a valid S3 bucket name (3-63 characters of a-z, 0-9, `-` and `.`, starting and ending with a letter or digit); use {EXAMPLE}"
        ));
    }
    let prefix = prefix.trim_end_matches('/');
    if prefix.split('/').any(|s| s.is_empty()) && !prefix.is_empty() {
        return Err(format!(
            "the key prefix `{prefix}` of `{text}` has an empty path segment; use {EXAMPLE}"
        ));
    }
    // S3's "safe characters" for keys (S3 User Guide, "Naming Amazon S3
    // objects"): they need no encoding anywhere, e.g. in CopyObject's source.
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_.!*'()/".contains(c);
    if !prefix.chars().all(safe) || prefix.len() > 512 {
        return Err(format!(
            "the key prefix of `{text}` may only hold up to 512 of a-z, A-Z, 0-9 and -_.!*'()/; use {EXAMPLE}"
        ));
    }
    Ok(S3Url {
        bucket: bucket.to_owned(),
        prefix: prefix.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert_eq!(
            parse_s3_url("s3://team-state/payments/").unwrap(),
            S3Url {
                bucket: "team-state".into(),
                prefix: "payments".into()
            }
        );
        assert_eq!(parse_s3_url("s3://team-state").unwrap().prefix, "");
        for bad in [
            "team-state",
            "https://team-state",
            "s3://",
            "s3://Team_State",
            "s3://ab",
            "s3://team-state//x",
            "s3://-team",
            "s3://team-state/with space",
        ] {
            let err = parse_s3_url(bad).unwrap_err();
            assert!(err.contains("s3://my-team-drctl-state"), "{bad}: {err}");
        }
    }
}
