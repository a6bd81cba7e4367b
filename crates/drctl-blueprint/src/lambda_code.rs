//! The Lambda handlers' deployment packages, built deterministically from
//! the sources embedded at compile time: the same sources always give the
//! same zip bytes, so the same `code_sha256`, so an unchanged handler never
//! plans a code update.

use std::io::{Cursor, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// The handlers: name and the files of its package, sorted by path.
const HANDLERS: &[(&str, &[(&str, &str)])] = &[
    (
        "payment-validation",
        &[(
            "index.py",
            include_str!("../lambda/payment-validation/index.py"),
        )],
    ),
    (
        "transaction-processing",
        &[(
            "index.py",
            include_str!("../lambda/transaction-processing/index.py"),
        )],
    ),
    (
        "notification",
        &[("index.py", include_str!("../lambda/notification/index.py"))],
    ),
    (
        "failover",
        &[("index.py", include_str!("../lambda/failover/index.py"))],
    ),
    (
        "health-monitor",
        &[(
            "index.py",
            include_str!("../lambda/health-monitor/index.py"),
        )],
    ),
];

/// The handler names, for the blueprint.
pub fn names() -> impl Iterator<Item = &'static str> {
    HANDLERS.iter().map(|(name, _)| *name)
}

/// A deployment package as the `lambda.function` kind takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LambdaCode {
    /// The zip file, base64-encoded (`code_zip_base64`).
    pub zip_base64: String,
    /// Base64 of the zip's SHA-256, as Lambda reports `CodeSha256`.
    pub sha256_base64: String,
}

impl LambdaCode {
    /// The zip file itself.
    pub fn zip_bytes(&self) -> Vec<u8> {
        STANDARD
            .decode(&self.zip_base64)
            .expect("a package's base64 is always valid")
    }
}

/// The package of handler `name`.
///
/// # Panics
/// On a name that is not one of [`names`]: the blueprint asks only for its
/// own handlers, so that is a programming error.
pub fn package(name: &str) -> LambdaCode {
    let files = HANDLERS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, files)| *files)
        .unwrap_or_else(|| panic!("no Lambda handler named `{name}`"));
    let bytes = zip_files(files);
    LambdaCode {
        zip_base64: STANDARD.encode(&bytes),
        sha256_base64: STANDARD.encode(Sha256::digest(&bytes)),
    }
}

/// Zips `files` with everything that could vary between builds fixed:
/// order, timestamps (1980-01-01 00:00, the zip epoch) and permissions.
fn zip_files(files: &[(&str, &str)]) -> Vec<u8> {
    let mut sorted = files.to_vec();
    sorted.sort_by_key(|(path, _)| *path);
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::default())
        .unix_permissions(0o644);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (path, source) in sorted {
        // Writing to memory cannot fail but for a bug in the zip crate.
        zip.start_file(path, options).expect("zip entry");
        zip.write_all(source.as_bytes()).expect("zip write");
    }
    zip.finish().expect("zip finish").into_inner()
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn unzip(code: &LambdaCode) -> zip::ZipArchive<Cursor<Vec<u8>>> {
        zip::ZipArchive::new(Cursor::new(code.zip_bytes())).unwrap()
    }

    #[test]
    fn packaging_is_deterministic() {
        for name in names() {
            assert_eq!(package(name), package(name), "{name}");
        }
    }

    #[test]
    fn each_package_holds_its_embedded_source() {
        for (name, files) in HANDLERS {
            let mut archive = unzip(&package(name));
            assert_eq!(archive.len(), 1, "{name}");
            let mut entry = archive.by_name("index.py").unwrap();
            assert_eq!(entry.compression(), CompressionMethod::Deflated);
            assert_eq!(entry.unix_mode(), Some(0o100644));
            assert_eq!(entry.last_modified(), Some(DateTime::default()));
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            assert_eq!(text, files[0].1, "{name}");
            assert!(text.contains("def handler(event, context):"), "{name}");
            assert!(text.contains("ENVIRONMENT_SUFFIX"), "{name}");
            assert!(text.contains("DR_ROLE"), "{name}");
        }
    }

    #[test]
    fn sha256_is_base64_of_the_digest_of_the_zip() {
        let code = package("failover");
        let bytes = STANDARD.decode(&code.zip_base64).unwrap();
        let digest = Sha256::digest(&bytes);
        assert_eq!(STANDARD.decode(&code.sha256_base64).unwrap(), digest[..]);
        assert_eq!(code.sha256_base64.len(), 44);
    }

    #[test]
    fn different_handlers_give_different_packages() {
        let all: std::collections::BTreeSet<String> =
            names().map(|n| package(n).sha256_base64).collect();
        assert_eq!(all.len(), HANDLERS.len());
    }

    #[test]
    #[should_panic(expected = "no Lambda handler named `nope`")]
    fn unknown_handler_is_a_programming_error() {
        package("nope");
    }
}
