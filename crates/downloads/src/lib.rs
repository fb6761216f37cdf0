//! Downloads for sesh, Electron's `DownloadItem` world: the name a download
//! is saved under, exactly as Chromium picks it, and the parts a download
//! manager is built from: the `.crdownload` file, Chromium's resume rules
//! and its speed estimate.
//!
//! A server decides much of a download's name (`Content-Disposition`, the
//! URL, the `Content-Type`), so the name is both a compatibility question
//! (apps and users expect the name Chrome would give) and a safety one (a
//! hostile header must never escape the download directory).
//! [`generate_file_name`] answers both, as Chromium's `GenerateFileName`
//! does for an Electron download, and [`unique_path`] finds a free
//! `name (1).ext` beside an existing file.
//!
//! [`PartialFile`] writes the bytes beside the target and gives them the
//! final name only when complete, never over another file.
//! [`Validators`], [`resume_headers`] and [`check_response`] decide how an
//! interrupted download continues (`Range` with `If-Range`; 206 appends,
//! 200 starts over) and map failures to Chromium's [`InterruptReason`]s;
//! [`RateEstimator`] is `getCurrentBytesPerSecond()`'s moving window.
//!
//! [`DownloadItem`] puts them together: Electron's item (state, `updated` and
//! `done` events, pause, resume, cancel, every getter) driving a transfer
//! through a [`Transport`], which sesh-core provides with the session's
//! network service.
//!
//! ```
//! use sesh_downloads::generate_file_name;
//! use url::Url;
//!
//! let url = Url::parse("https://example.com/files/get?id=3").unwrap();
//! let cd = b"attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf";
//! assert_eq!(generate_file_name(&url, Some(cd), None), "\u{20ac} rates.pdf");
//! assert_eq!(generate_file_name(&url, None, Some("text/html; charset=utf-8")), "get.html");
//! ```

mod disposition;
mod filename;
mod item;
mod mime;
mod partial;
mod resume;
mod speed;
mod unique;

pub use disposition::content_disposition_filename;
pub use filename::{DEFAULT_FILE_NAME, generate_file_name};
pub use item::{
    Body, BoxFuture, DownloadEvent, DownloadItem, DownloadOptions, DownloadState, FetchRequest,
    FetchResponse, InterruptedDownload, InterruptedDownloadError, PROGRESS_PERIOD, SaveTo,
    Transport, WeakDownloadItem, WillDownload, WillDownloadHandler,
};
pub use mime::{extensions_for, preferred_extension};
pub use partial::{PartialFile, partial_path};
pub use resume::{BodyStart, InterruptReason, Validators, check_response, resume_headers};
pub use speed::RateEstimator;
pub use unique::{MAX_NAME_BYTES, PARTIAL_SUFFIX, unique_path};
