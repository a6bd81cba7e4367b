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
    /// A copy of state and journal in another bucket, which an unplanned
    /// failover uses when the primary bucket's region is down.
    pub replica_url: Option<S3Url>,
    /// The replica bucket's region; the environment's region other than
    /// the primary bucket's when absent.
    pub replica_region: Option<String>,
}

/// The keys of the `[backend]` table.
pub const BACKEND_KEYS: &[&str] = &["url", "region", "replica_url", "replica_region"];

/// One bucket of a resolved backend: where, and in which region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketAt {
    pub url: S3Url,
    pub region: String,
}

/// The buckets an environment's state lives in, regions resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedBackend {
    pub primary: BucketAt,
    pub replica: Option<BucketAt>,
}

impl BackendSettings {
    /// The buckets for an environment whose regions are `regions`
    /// (primary first): the bucket's region defaults to the primary's, the
    /// replica's to the environment's other region. A replica in the
    /// primary bucket's region is refused: one regional outage would take
    /// both copies.
    pub fn resolve(&self, regions: [&str; 2]) -> Result<ResolvedBackend, String> {
        let region = self.region.clone().unwrap_or_else(|| regions[0].to_owned());
        let replica = match &self.replica_url {
            None => None,
            Some(url) => {
                let replica_region = match &self.replica_region {
                    Some(r) => r.clone(),
                    None if regions.contains(&region.as_str()) => regions
                        .iter()
                        .find(|r| **r != region)
                        .map(|r| (*r).to_owned())
                        .unwrap_or_default(),
                    None => {
                        return Err(format!(
                            "`replica_region`: the state bucket is in {region}, neither of the environment's regions ({} and {}), so the replica's region cannot be inferred; set `replica_region`",
                            regions[0], regions[1]
                        ));
                    }
                };
                if replica_region == region {
                    return Err(format!(
                        "`replica_region`: the replica {url} would be in {region}, the primary bucket's region: an outage of {region} would take both copies. Put the replica in the environment's other region ({})",
                        regions
                            .iter()
                            .find(|r| **r != region)
                            .unwrap_or(&regions[1])
                    ));
                }
                Some(BucketAt {
                    url: url.clone(),
                    region: replica_region,
                })
            }
        };
        Ok(ResolvedBackend {
            primary: BucketAt {
                url: self.url.clone(),
                region,
            },
            replica,
        })
    }
}

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

    fn settings(replica_region: Option<&str>, region: Option<&str>) -> BackendSettings {
        BackendSettings {
            url: parse_s3_url("s3://team-state/p").unwrap(),
            region: region.map(str::to_owned),
            replica_url: Some(parse_s3_url("s3://team-state-east-2/p").unwrap()),
            replica_region: replica_region.map(str::to_owned),
        }
    }

    #[test]
    fn the_replica_goes_to_the_other_region_and_never_the_same() {
        let regions = ["us-east-1", "us-east-2"];
        let r = settings(None, None).resolve(regions).unwrap();
        assert_eq!(r.primary.region, "us-east-1");
        assert_eq!(r.replica.unwrap().region, "us-east-2");
        // The bucket in the secondary region: the replica in the primary's.
        let r = settings(None, Some("us-east-2")).resolve(regions).unwrap();
        assert_eq!(r.replica.unwrap().region, "us-east-1");
        let err = settings(Some("us-east-1"), None)
            .resolve(regions)
            .unwrap_err();
        assert!(err.contains("the primary bucket's region"), "{err}");
        assert!(err.contains("us-east-2"), "{err}");
        let err = settings(None, Some("eu-west-1"))
            .resolve(regions)
            .unwrap_err();
        assert!(err.contains("set `replica_region`"), "{err}");
        let none = BackendSettings {
            replica_url: None,
            ..settings(None, None)
        };
        assert_eq!(none.resolve(regions).unwrap().replica, None);
    }

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
