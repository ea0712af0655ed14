//! The test data the repository carries, read from `fixtures/`: GitHub's
//! published descriptions are gzipped there (`fixtures/github/README.md`
//! says what each is, where it comes from and how to refresh it).

use std::io::Read;
use std::path::PathBuf;

/// `relative` under the crate's root.
pub fn path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The bytes of a gzipped file under the crate's root, decompressed.
pub fn gunzip(relative: &str) -> Vec<u8> {
    let file = path(relative);
    let compressed =
        std::fs::read(&file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(compressed.as_slice())
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("{} is not gzip: {e}", file.display()));
    out
}

/// A gzipped JSON file under the crate's root.
pub fn gzipped_json(relative: &str) -> serde_json::Value {
    serde_json::from_slice(&gunzip(relative))
        .unwrap_or_else(|e| panic!("{relative} is not JSON: {e}"))
}

/// A gzipped UTF-8 text file under the crate's root.
pub fn gzipped_text(relative: &str) -> String {
    String::from_utf8(gunzip(relative)).unwrap_or_else(|e| panic!("{relative} is not UTF-8: {e}"))
}
