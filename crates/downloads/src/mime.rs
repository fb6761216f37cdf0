//! MIME type → file extensions: Chromium's built-in mappings (on Linux the
//! platform adds none for this direction).

/// `(type, extensions)`, the first extension preferred: Chromium's primary
/// mappings, which win, then its secondary ones.
const MAPPINGS: &[(&str, &[&str])] = &[
    // Primary.
    ("video/webm", &["webm"]),
    ("audio/mpeg", &["mp3"]),
    ("application/wasm", &["wasm"]),
    ("application/x-chrome-extension", &["crx"]),
    ("application/xhtml+xml", &["xhtml", "xht", "xhtm"]),
    ("audio/flac", &["flac"]),
    ("audio/mp3", &["mp3"]),
    ("audio/ogg", &["ogg", "oga", "opus"]),
    ("audio/wav", &["wav"]),
    ("audio/webm", &["webm"]),
    ("audio/x-m4a", &["m4a"]),
    ("image/avif", &["avif"]),
    ("image/gif", &["gif"]),
    ("image/jpeg", &["jpeg", "jpg"]),
    ("image/png", &["png"]),
    ("image/apng", &["png", "apng"]),
    ("image/svg+xml", &["svg", "svgz"]),
    ("image/webp", &["webp"]),
    ("multipart/related", &["mht", "mhtml"]),
    ("text/css", &["css"]),
    ("text/html", &["html", "htm", "shtml", "shtm"]),
    ("text/javascript", &["js", "mjs"]),
    ("text/xml", &["xml"]),
    ("video/mp4", &["mp4", "m4v"]),
    ("video/ogg", &["ogv", "ogm"]),
    ("text/csv", &["csv"]),
    // Secondary.
    ("image/x-icon", &["ico"]),
    ("application/epub+zip", &["epub"]),
    ("application/font-woff", &["woff"]),
    ("application/gzip", &["gz", "tgz"]),
    ("application/javascript", &["js"]),
    ("application/json", &["json"]),
    ("application/msword", &["doc", "dot"]),
    ("application/octet-stream", &["bin", "exe", "com"]),
    ("application/pdf", &["pdf"]),
    ("application/pkcs7-mime", &["p7m", "p7c", "p7z"]),
    ("application/pkcs7-signature", &["p7s"]),
    ("application/postscript", &["ps", "eps", "ai"]),
    ("application/rdf+xml", &["rdf"]),
    ("application/rss+xml", &["rss"]),
    ("application/rtf", &["rtf"]),
    ("application/vnd.android.package-archive", &["apk"]),
    ("application/vnd.mozilla.xul+xml", &["xul"]),
    ("application/vnd.ms-excel", &["xls"]),
    ("application/vnd.ms-powerpoint", &["ppt"]),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        &["pptx"],
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &["xlsx"],
    ),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        &["docx"],
    ),
    ("application/x-gzip", &["gz", "tgz"]),
    ("application/x-mpegurl", &["m3u8"]),
    ("application/x-shockwave-flash", &["swf", "swl"]),
    ("application/x-tar", &["tar"]),
    ("application/x-x509-ca-cert", &["cer", "crt"]),
    ("application/zip", &["zip"]),
    ("audio/webm", &["weba"]),
    ("image/bmp", &["bmp"]),
    ("image/jpeg", &["jfif", "pjpeg", "pjp"]),
    ("image/tiff", &["tiff", "tif"]),
    ("image/vnd.microsoft.icon", &["ico"]),
    ("image/x-png", &["png"]),
    ("image/x-xbitmap", &["xbm"]),
    ("message/rfc822", &["eml"]),
    ("text/calendar", &["ics"]),
    ("text/html", &["ehtml"]),
    ("text/plain", &["txt", "text"]),
    ("text/vtt", &["vtt"]),
    ("text/x-sh", &["sh"]),
    ("text/xml", &["xsl", "xbl", "xslt"]),
    ("video/mpeg", &["mpeg", "mpg"]),
];

/// The extension a file of `mime_type` gets (without the dot); none for
/// `application/octet-stream`, which says nothing about the content.
pub fn preferred_extension(mime_type: &str) -> Option<&'static str> {
    if mime_type == "application/octet-stream" {
        return None;
    }
    MAPPINGS
        .iter()
        .find(|(t, _)| *t == mime_type)
        .and_then(|(_, exts)| exts.first().copied())
}

/// Every extension known for `mime_type`.
pub fn extensions_for(mime_type: &str) -> Vec<&'static str> {
    MAPPINGS
        .iter()
        .filter(|(t, _)| *t == mime_type)
        .flat_map(|(_, exts)| exts.iter().copied())
        .collect()
}
