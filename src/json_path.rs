//! Paths in JSON output (`--json`). serde refuses paths that are not valid UTF-8 (possible on
//! Unix), which used to fail the whole summary after the work was done; such names are written
//! with U+FFFD in place of the bytes that do not decode.

use serde::Serializer;
use std::path::{Path, PathBuf};

/// `#[serde(serialize_with = "crate::json_path::one")]` for a path field.
pub fn one<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

/// `#[serde(serialize_with = "crate::json_path::many")]` for a list of paths.
pub fn many<S: Serializer>(paths: &[PathBuf], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(paths.iter().map(|p| p.to_string_lossy()))
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::ffi::OsStrExt;

    #[derive(serde::Serialize)]
    struct T {
        #[serde(serialize_with = "super::one")]
        one: std::path::PathBuf,
        #[serde(serialize_with = "super::many")]
        many: Vec<std::path::PathBuf>,
    }

    #[test]
    fn non_utf8_names_are_written_lossily() {
        let bad = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(b"a\xffb.png"));
        let t = T {
            one: bad.clone(),
            many: vec![bad, "ok.png".into()],
        };
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"one":"a�b.png","many":["a�b.png","ok.png"]}"#
        );
    }
}
