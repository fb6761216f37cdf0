//! A free name in the download directory: `name (1).ext`, as Chromium
//! picks it.

use std::io;
use std::path::{Path, PathBuf};

use crate::filename::extension_dot;

/// The longest file name, in bytes, on Linux file systems.
pub const MAX_NAME_BYTES: usize = 255;

/// The suffix of a download in progress (`report.pdf.crdownload`).
pub const PARTIAL_SUFFIX: &str = ".crdownload";

/// The highest `(N)` tried before giving up, as in Chromium.
const MAX_UNIQUIFIER: u32 = 100;

/// A path in `dir` for `name` that no file takes yet: `name` itself, else
/// `name (1).ext` … `name (100).ext` (the number goes before the extension,
/// `.tar.gz` kept whole). A name also counts as taken when its
/// [`PARTIAL_SUFFIX`] file exists, since a download is writing to it. Names
/// are shortened, keeping their extension, so that the partial file's name
/// fits in [`MAX_NAME_BYTES`].
///
/// `name` must be a single file name, as
/// [`generate_file_name`](crate::generate_file_name) returns. The check is
/// not atomic: the caller creates the file with `create_new` and asks again
/// if it lost a race.
///
/// # Errors
///
/// `InvalidInput` when `name` is empty, `.`/`..` or holds a separator;
/// `AlreadyExists` when all hundred numbers are taken.
///
/// ```
/// use sesh_downloads::unique_path;
///
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("a.tar.gz"), b"").unwrap();
/// let path = unique_path(dir.path(), "a.tar.gz").unwrap();
/// assert_eq!(path, dir.path().join("a (1).tar.gz"));
/// ```
pub fn unique_path(dir: &Path, name: &str) -> io::Result<PathBuf> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not a single file name"),
        ));
    }
    let limit = MAX_NAME_BYTES - PARTIAL_SUFFIX.len();
    let first = truncate(name, limit);
    if !taken(dir, &first) {
        return Ok(dir.join(first));
    }
    for n in 1..=MAX_UNIQUIFIER {
        let suffix = format!(" ({n})");
        let base = truncate(name, limit - suffix.len());
        let candidate = match extension_dot(&base) {
            Some(dot) if dot > 0 => format!("{}{suffix}{}", &base[..dot], &base[dot..]),
            _ => format!("{base}{suffix}"),
        };
        if !taken(dir, &candidate) {
            return Ok(dir.join(candidate));
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "{name:?} and its numbered variants up to ({MAX_UNIQUIFIER}) are all taken in {}",
            dir.display()
        ),
    ))
}

fn taken(dir: &Path, name: &str) -> bool {
    dir.join(name).symlink_metadata().is_ok()
        || dir
            .join(format!("{name}{PARTIAL_SUFFIX}"))
            .symlink_metadata()
            .is_ok()
}

/// `name` cut to at most `limit` bytes at a character boundary, its
/// extension kept when it leaves room for some of the stem.
fn truncate(name: &str, limit: usize) -> String {
    if name.len() <= limit {
        return name.to_owned();
    }
    let (stem, ext) = match extension_dot(name) {
        Some(dot) if dot > 0 && name.len() - dot < limit => name.split_at(dot),
        _ => (name, ""),
    };
    let mut end = limit - ext.len();
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ext}", &stem[..end])
}
