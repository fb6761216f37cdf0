//! Resuming a download as Chromium does: which validators to keep, the
//! `Range` request, and what a response to it means.

use std::fmt;

use http::header::{
    ACCEPT_RANGES, CONTENT_RANGE, DATE, ETAG, HeaderMap, HeaderValue, IF_RANGE, LAST_MODIFIED,
    RANGE,
};
use http::{StatusCode, Version};

/// Why a download stopped: Chromium's download interrupt reasons, with
/// their stable values. Electron shows only the state `interrupted`; the
/// reason decides whether and how the item can resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InterruptReason {
    /// A generic file error.
    FileFailed,
    /// The file could not be written for lack of permission.
    FileAccessDenied,
    /// The disk is full.
    FileNoSpace,
    /// The file name is too long.
    FileNameTooLong,
    /// The file is too large for the file system.
    FileTooLarge,
    /// A passing file error (too many open files, out of memory).
    FileTransientError,
    /// The partial file is shorter than the offset to resume from.
    FileTooShort,
    /// A generic network error.
    NetworkFailed,
    /// The network timed out.
    NetworkTimeout,
    /// The connection was lost.
    NetworkDisconnected,
    /// The server could not be reached.
    NetworkServerDown,
    /// The URL (or a redirect's) is bad, unsupported or blocked.
    NetworkInvalidRequest,
    /// A generic server error.
    ServerFailed,
    /// The server cannot serve the range asked for: start again from zero.
    ServerNoRange,
    /// The server does not have the data (404, 204, a wrong range…).
    ServerBadContent,
    /// The server asked for credentials.
    ServerUnauthorized,
    /// The server's certificate was refused.
    ServerCertProblem,
    /// The server refused access.
    ServerForbidden,
    /// Fewer bytes than `Content-Length` arrived.
    ServerContentLengthMismatch,
    /// The user cancelled.
    UserCanceled,
    /// The application shut down during the download.
    UserShutdown,
    /// The application crashed during the download.
    Crash,
}

impl InterruptReason {
    /// Chromium's value (`DOWNLOAD_INTERRUPT_REASON_*`), stable on disk.
    pub fn value(self) -> u32 {
        use InterruptReason::*;
        match self {
            FileFailed => 1,
            FileAccessDenied => 2,
            FileNoSpace => 3,
            FileNameTooLong => 5,
            FileTooLarge => 6,
            FileTransientError => 10,
            FileTooShort => 13,
            NetworkFailed => 20,
            NetworkTimeout => 21,
            NetworkDisconnected => 22,
            NetworkServerDown => 23,
            NetworkInvalidRequest => 24,
            ServerFailed => 30,
            ServerNoRange => 31,
            ServerBadContent => 33,
            ServerUnauthorized => 34,
            ServerCertProblem => 35,
            ServerForbidden => 36,
            ServerContentLengthMismatch => 38,
            UserCanceled => 40,
            UserShutdown => 41,
            Crash => 50,
        }
    }

    /// Chromium's name, e.g. `SERVER_NO_RANGE`.
    pub fn name(self) -> &'static str {
        use InterruptReason::*;
        match self {
            FileFailed => "FILE_FAILED",
            FileAccessDenied => "FILE_ACCESS_DENIED",
            FileNoSpace => "FILE_NO_SPACE",
            FileNameTooLong => "FILE_NAME_TOO_LONG",
            FileTooLarge => "FILE_TOO_LARGE",
            FileTransientError => "FILE_TRANSIENT_ERROR",
            FileTooShort => "FILE_TOO_SHORT",
            NetworkFailed => "NETWORK_FAILED",
            NetworkTimeout => "NETWORK_TIMEOUT",
            NetworkDisconnected => "NETWORK_DISCONNECTED",
            NetworkServerDown => "NETWORK_SERVER_DOWN",
            NetworkInvalidRequest => "NETWORK_INVALID_REQUEST",
            ServerFailed => "SERVER_FAILED",
            ServerNoRange => "SERVER_NO_RANGE",
            ServerBadContent => "SERVER_BAD_CONTENT",
            ServerUnauthorized => "SERVER_UNAUTHORIZED",
            ServerCertProblem => "SERVER_CERT_PROBLEM",
            ServerForbidden => "SERVER_FORBIDDEN",
            ServerContentLengthMismatch => "SERVER_CONTENT_LENGTH_MISMATCH",
            UserCanceled => "USER_CANCELED",
            UserShutdown => "USER_SHUTDOWN",
            Crash => "CRASH",
        }
    }

    /// Whether resuming throws the partial file away and starts from zero
    /// (the server cannot give the missing range, or the partial file is
    /// not what it should be).
    pub fn restarts_from_zero(self) -> bool {
        matches!(
            self,
            InterruptReason::ServerNoRange | InterruptReason::FileTooShort
        )
    }
}

impl fmt::Display for InterruptReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::error::Error for InterruptReason {}

/// What a response said about resuming: its validators (kept only when
/// strong, as Chromium keeps them) and whether it accepts byte ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// The `ETag` header (`""` when absent or not strong).
    pub etag: String,
    /// The `Last-Modified` header (`""` when absent or not strong).
    pub last_modified: String,
    /// `Accept-Ranges: bytes`, or a 206 with `Content-Range`.
    pub accept_ranges: bool,
}

impl Validators {
    /// The validators of a response. `ETag` and `Last-Modified` are kept
    /// only when the response has strong validators (RFC 7232 §2: an HTTP/1.1
    /// response with a strong ETag, or a `Last-Modified` at least 60 seconds
    /// before its `Date`); weak ones cannot safely join two halves of a file.
    pub fn from_response(status: StatusCode, version: Version, headers: &HeaderMap) -> Self {
        let text = |name| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let (etag, last_modified) = if has_strong_validators(version, headers) {
            (text(ETAG), text(LAST_MODIFIED))
        } else {
            (String::new(), String::new())
        };
        let accept_ranges = headers
            .get_all(ACCEPT_RANGES)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|v| v.trim().eq_ignore_ascii_case("bytes"))
            || (status == StatusCode::PARTIAL_CONTENT && headers.contains_key(CONTENT_RANGE));
        Validators {
            etag,
            last_modified,
            accept_ranges,
        }
    }

    /// Whether a resumed request can ask for only the missing bytes: there
    /// is a validator to send in `If-Range`.
    pub fn can_continue(&self) -> bool {
        !self.etag.is_empty() || !self.last_modified.is_empty()
    }
}

fn has_strong_validators(version: Version, headers: &HeaderMap) -> bool {
    if version < Version::HTTP_11 {
        return false;
    }
    let get = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(etag) = get(ETAG).filter(|e| !e.is_empty()) {
        match etag.find('/') {
            None | Some(0) => return true,
            Some(slash) => {
                if !etag[..slash].trim().eq_ignore_ascii_case("w") {
                    return true;
                }
            }
        }
    }
    let (Some(last_modified), Some(date)) = (get(LAST_MODIFIED), get(DATE)) else {
        return false;
    };
    match (
        httpdate::parse_http_date(last_modified),
        httpdate::parse_http_date(date),
    ) {
        (Ok(modified), Ok(date)) => date
            .duration_since(modified)
            .is_ok_and(|age| age.as_secs() >= 60),
        _ => false,
    }
}

/// The headers of a request that resumes at `offset`: `Range: bytes=N-`
/// and `If-Range` with the ETag (else `Last-Modified`), so that a changed
/// resource comes back whole (200) instead of as a mismatched tail. Empty
/// when there is nothing to resume or no validator to guard it.
pub fn resume_headers(offset: u64, validators: &Validators) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if offset == 0 || !validators.can_continue() {
        return headers;
    }
    let guard = if validators.etag.is_empty() {
        &validators.last_modified
    } else {
        &validators.etag
    };
    // A validator that is not a valid header value cannot guard the range.
    if let (Ok(guard), Ok(range)) = (
        HeaderValue::from_str(guard),
        HeaderValue::try_from(format!("bytes={offset}-")),
    ) {
        headers.insert(RANGE, range);
        headers.insert(IF_RANGE, guard);
    }
    headers
}

/// Where the body of an accepted response goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyStart {
    /// At the start of the file: a fresh download, or a resume the server
    /// answered with the whole resource (the partial file is truncated).
    FromZero,
    /// After the bytes already received: the server sent the missing range.
    Append,
}

/// What the response to a download request means, as Chromium's
/// `HandleSuccessfulServerResponse` decides: where its body goes, or why
/// the download is interrupted. `offset` is where the request asked to
/// resume (0 for a fresh request).
///
/// # Errors
///
/// 204, 205 and 404 are [`InterruptReason::ServerBadContent`]; 416
/// [`InterruptReason::ServerNoRange`] (resume from zero); 401 and 407
/// [`InterruptReason::ServerUnauthorized`]; 403
/// [`InterruptReason::ServerForbidden`]; other non-2xx
/// [`InterruptReason::ServerFailed`]; a 206 to a fresh request, or one
/// whose `Content-Range` does not start at `offset`,
/// [`InterruptReason::ServerBadContent`].
pub fn check_response(
    status: StatusCode,
    headers: &HeaderMap,
    offset: u64,
) -> Result<BodyStart, InterruptReason> {
    match status.as_u16() {
        200 | 201 | 202 | 203 | 206 => {}
        204 | 205 | 404 => return Err(InterruptReason::ServerBadContent),
        416 => return Err(InterruptReason::ServerNoRange),
        401 | 407 => return Err(InterruptReason::ServerUnauthorized),
        403 => return Err(InterruptReason::ServerForbidden),
        _ => return Err(InterruptReason::ServerFailed),
    }
    let partial = status == StatusCode::PARTIAL_CONTENT;
    if offset == 0 {
        return if partial {
            Err(InterruptReason::ServerBadContent)
        } else {
            Ok(BodyStart::FromZero)
        };
    }
    if !partial {
        return Ok(BodyStart::FromZero);
    }
    let range = headers
        .get(CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_content_range)
        .ok_or(InterruptReason::ServerBadContent)?;
    if range.0 != offset {
        return Err(InterruptReason::ServerBadContent);
    }
    Ok(BodyStart::Append)
}

/// `bytes first-last/length` (length may be `*`) → `(first, last, length)`.
fn parse_content_range(value: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = value.trim();
    let (unit, rest) = rest.split_once(char::is_whitespace)?;
    if !unit.eq_ignore_ascii_case("bytes") {
        return None;
    }
    let (range, length) = rest.trim().split_once('/')?;
    let (first, last) = range.trim().split_once('-')?;
    let first: u64 = first.trim().parse().ok()?;
    let last: u64 = last.trim().parse().ok()?;
    let length = match length.trim() {
        "*" => None,
        n => Some(n.parse::<u64>().ok()?),
    };
    if first > last || length.is_some_and(|n| last >= n) {
        return None;
    }
    Some((first, last, length))
}
