//! The name Chromium gives a download: its `GenerateFileName` as Electron
//! calls it (no referrer charset, no suggested name, default `download`).

use percent_encoding::percent_decode_str;
use unicode_general_category::{GeneralCategory, get_general_category};
use url::Url;

use crate::disposition::content_disposition_filename;

/// The name used when nothing better is found.
pub const DEFAULT_FILE_NAME: &str = "download";

/// The file name under which a download of `url` is saved, as Chromium
/// chooses it for an Electron download on Linux.
///
/// 1. The `Content-Disposition` header's name (see
///    [`content_disposition_filename`]), else the URL's last path segment
///    (without `;params`, percent-decoded), else [`DEFAULT_FILE_NAME`].
/// 2. Leading and trailing dots are trimmed and `/` `\` become `_`; a name
///    left with nothing but `-` and `_` becomes [`DEFAULT_FILE_NAME`].
/// 3. Characters no file name should hold become `_`: `"~*:<>?|`, control
///    and invisible formatting characters (RLO, soft hyphen, zero-width
///    space, BOM…), non-characters, and whitespace or a dot at either end.
/// 4. A name that did not come from the header gets the extension of
///    `mime_type` (the `Content-Type` value) when it has none, or when the
///    URL has a query (its extension is then unreliable) and the extension
///    is not one of the type's.
///
/// The result is a single, non-empty path component: never `.` or `..`,
/// never a separator, so it cannot leave the directory it is joined to.
///
/// ```
/// use sesh_downloads::generate_file_name;
/// use url::Url;
///
/// let url = Url::parse("https://example.com/report.php?id=7").unwrap();
/// assert_eq!(generate_file_name(&url, None, Some("application/pdf")), "report.pdf");
/// let evil = b"attachment; filename=\"../../.bashrc\"";
/// assert_eq!(generate_file_name(&url, Some(evil), None), "_.._.bashrc");
/// ```
pub fn generate_file_name(
    url: &Url,
    content_disposition: Option<&[u8]>,
    mime_type: Option<&str>,
) -> String {
    let mut overwrite_extension = false;
    let mut from_header = false;
    let mut name = String::new();
    if let Some(header) = content_disposition
        && let Some(from_cd) = content_disposition_filename(header)
    {
        name = from_cd;
        from_header = true;
    }
    if name.is_empty() {
        name = file_name_from_url(url);
        overwrite_extension = !name.is_empty() && url.query().is_some();
    }

    let mut name = sanitize(&name);
    if name.chars().all(|c| c == '-' || c == '_') {
        name = DEFAULT_FILE_NAME.to_owned();
        overwrite_extension = false;
    }
    let name = replace_illegal_characters(&name);
    if from_header {
        name
    } else {
        ensure_extension(
            &name,
            mime_type.map(essence).unwrap_or_default().as_str(),
            overwrite_extension,
        )
    }
}

/// The last segment of `url`'s path, without `;params`, percent-decoded;
/// empty for `data:` and `about:` URLs and when the bytes are not UTF-8.
fn file_name_from_url(url: &Url) -> String {
    if matches!(url.scheme(), "data" | "about") {
        return String::new();
    }
    let path = url.path();
    let segment = path.rsplit('/').next().unwrap_or_default();
    let segment = segment.split(';').next().unwrap_or_default();
    percent_decode_str(segment)
        .decode_utf8()
        .map(|s| s.into_owned())
        .unwrap_or_default()
}

/// Trims dots at both ends and turns path separators into `_`.
fn sanitize(name: &str) -> String {
    name.trim_matches('.').replace(['/', '\\'], "_")
}

fn illegal_anywhere(c: char) -> bool {
    let cp = u32::from(c);
    "\"~*/:<>?\\|".contains(c)
        || c.is_control()
        || get_general_category(c) == GeneralCategory::Format
        || (0xFDD0..=0xFDEF).contains(&cp)
        || cp & 0xFFFE == 0xFFFE
}

fn illegal_at_ends(c: char) -> bool {
    c.is_whitespace() || c == '.'
}

/// Replaces each character that must not appear in a file name (or at
/// either end of one) with `_`.
fn replace_illegal_characters(name: &str) -> String {
    let count = name.chars().count();
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            let at_end = i == 0 || i + 1 == count;
            if illegal_anywhere(c) || (at_end && illegal_at_ends(c)) {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// The MIME type without parameters, lower-cased.
fn essence(mime_type: &str) -> String {
    mime_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Double extensions Chromium keeps together (`.tar.gz`).
const DOUBLE_EXTENSION_SUFFIXES: [&str; 5] = ["gz", "xz", "bz2", "z", "bz"];

/// Where the extension starts (the dot), as Chromium's `FilePath` finds it:
/// the last dot, or the one before when the name ends in `.tar.gz` style.
pub(crate) fn extension_dot(name: &str) -> Option<usize> {
    if name == "." || name == ".." {
        return None;
    }
    let last = name.rfind('.')?;
    if last == 0 {
        return Some(last);
    }
    let Some(penultimate) = name[..last].rfind('.') else {
        return Some(last);
    };
    if name[penultimate + 1..].eq_ignore_ascii_case("user.js") {
        return Some(penultimate);
    }
    let final_ext = &name[last + 1..];
    if DOUBLE_EXTENSION_SUFFIXES
        .iter()
        .any(|s| s.eq_ignore_ascii_case(final_ext))
        && (2..=5).contains(&(last - penultimate))
    {
        return Some(penultimate);
    }
    Some(last)
}

/// Chromium's `EnsureSafeExtension` on Linux.
fn ensure_extension(name: &str, mime_type: &str, overwrite: bool) -> String {
    let dot = extension_dot(name);
    let mut extension = dot.map(|d| &name[d + 1..]).unwrap_or_default();
    if (overwrite || extension.is_empty()) && !mime_type.is_empty() {
        let known = crate::mime::extensions_for(mime_type);
        if !known.contains(&extension)
            && let Some(preferred) = crate::mime::preferred_extension(mime_type)
        {
            extension = preferred;
        }
    }
    let stem = dot.map(|d| &name[..d]).unwrap_or(name);
    if extension.is_empty() {
        return stem.to_owned();
    }
    if stem.ends_with('.') {
        format!("{stem}{extension}")
    } else {
        format!("{stem}.{extension}")
    }
}
