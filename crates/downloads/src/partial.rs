//! The file a download writes: `NAME.crdownload` beside the target,
//! renamed to `NAME` only when complete.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::resume::InterruptReason;
use crate::unique::PARTIAL_SUFFIX;

/// Bytes buffered before a write reaches the file.
const BUFFER: usize = 1 << 20;

/// Bytes written to the file between two starts of its writeback to disk
/// (Linux): by the final fdatasync most of the file is on disk already.
#[cfg(target_os = "linux")]
const WRITEBACK: u64 = 8 << 20;

/// A download's bytes on disk, in `target` + [`PARTIAL_SUFFIX`]. A crash
/// leaves at most that partial file: nothing ever appears under the final
/// name until [`PartialFile::finish`].
#[derive(Debug)]
pub struct PartialFile {
    target: PathBuf,
    partial: PathBuf,
    file: BufWriter<File>,
    received: u64,
    /// Where the file's writeback was last started from.
    #[cfg(target_os = "linux")]
    written_back: u64,
}

/// The partial file's path for `target`.
pub fn partial_path(target: &Path) -> PathBuf {
    let mut name = target.as_os_str().to_owned();
    name.push(PARTIAL_SUFFIX);
    PathBuf::from(name)
}

impl PartialFile {
    /// Starts a download of `target`: creates its partial file, which must
    /// not exist yet.
    ///
    /// # Errors
    ///
    /// The I/O error; `AlreadyExists` when the partial file exists (another
    /// download is writing it).
    pub fn create(target: &Path) -> io::Result<Self> {
        let partial = partial_path(target);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial)?;
        Ok(Self::with(target, partial, file, 0))
    }

    /// Opens the partial file of an interrupted download of `target` to
    /// continue after `offset` bytes; anything beyond them is cut off.
    ///
    /// # Errors
    ///
    /// [`InterruptReason::FileTooShort`] when the file is missing or holds
    /// fewer than `offset` bytes (the download must start again from
    /// zero); [`InterruptReason::FileFailed`] for other I/O errors.
    pub fn reopen(target: &Path, offset: u64) -> Result<Self, InterruptReason> {
        let partial = partial_path(target);
        let mut file = match OpenOptions::new().write(true).open(&partial) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(InterruptReason::FileTooShort);
            }
            Err(_) => return Err(InterruptReason::FileFailed),
        };
        let len = file
            .metadata()
            .map_err(|_| InterruptReason::FileFailed)?
            .len();
        if len < offset {
            return Err(InterruptReason::FileTooShort);
        }
        file.set_len(offset)
            .and_then(|()| file.seek(SeekFrom::Start(offset)))
            .map_err(|_| InterruptReason::FileFailed)?;
        Ok(Self::with(target, partial, file, offset))
    }

    fn with(target: &Path, partial: PathBuf, file: File, received: u64) -> Self {
        PartialFile {
            target: target.to_owned(),
            partial,
            file: BufWriter::with_capacity(BUFFER, file),
            received,
            #[cfg(target_os = "linux")]
            written_back: received,
        }
    }

    /// Appends `bytes`.
    ///
    /// # Errors
    ///
    /// The I/O error (the disk is full…).
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.received += bytes.len() as u64;
        #[cfg(target_os = "linux")]
        self.start_writeback();
        Ok(())
    }

    /// Starts writing what reached the file since the last start out to
    /// disk, without waiting (POSIX_FADV_DONTNEED writes dirty pages back
    /// asynchronously, then lets the clean ones go: a download does not
    /// fill the page cache). Only a hint: a failure changes nothing.
    #[cfg(target_os = "linux")]
    fn start_writeback(&mut self) {
        let on_file = self.received - self.file.buffer().len() as u64;
        if on_file < self.written_back + WRITEBACK {
            return;
        }
        let len = std::num::NonZeroU64::new(on_file - self.written_back);
        let _ = rustix::fs::fadvise(
            self.file.get_ref(),
            self.written_back,
            len,
            rustix::fs::Advice::DontNeed,
        );
        self.written_back = on_file;
    }

    /// Throws away what was received, to start again from zero (the server
    /// answered a resume with the whole resource).
    ///
    /// # Errors
    ///
    /// The I/O error.
    pub fn restart(&mut self) -> io::Result<()> {
        self.file.flush()?;
        let file = self.file.get_mut();
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        self.received = 0;
        #[cfg(target_os = "linux")]
        {
            self.written_back = 0;
        }
        Ok(())
    }

    /// The bytes received so far (buffered ones included).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Where the bytes go until the download completes.
    pub fn partial_path(&self) -> &Path {
        &self.partial
    }

    /// Where the file goes when complete.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Writes the buffer out and makes the bytes durable, so that an
    /// interruption recorded now can resume from [`PartialFile::received`].
    ///
    /// # Errors
    ///
    /// The I/O error.
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().sync_data()
    }

    /// Completes the download: the bytes become durable and the partial
    /// file takes the target's name, never replacing a file that appeared
    /// there meanwhile.
    ///
    /// # Errors
    ///
    /// `AlreadyExists` when the target exists (the partial file is kept, so
    /// that the caller can pick another name); other I/O errors.
    pub fn finish(mut self) -> io::Result<PathBuf> {
        self.sync()?;
        // A hard link fails if the target exists: no window in which another
        // file could be replaced. File systems without hard links get a
        // rename after a check.
        match std::fs::hard_link(&self.partial, &self.target) {
            Ok(()) => std::fs::remove_file(&self.partial)?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(e),
            Err(_) => {
                if self.target.symlink_metadata().is_ok() {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{} exists", self.target.display()),
                    ));
                }
                std::fs::rename(&self.partial, &self.target)?;
            }
        }
        if let Some(dir) = self.target.parent()
            && let Ok(dir) = File::open(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            })
        {
            // Make the new name durable too; a failure here loses nothing
            // that a crash would not.
            let _ = dir.sync_all();
        }
        Ok(self.target)
    }

    /// Cancels: removes the partial file.
    ///
    /// # Errors
    ///
    /// The I/O error, except that a partial file already gone is fine.
    pub fn discard(self) -> io::Result<()> {
        drop(self.file);
        match std::fs::remove_file(&self.partial) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn writeback_starts_as_the_file_grows_and_the_bytes_stay_whole() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("big.bin");
        let mut file = PartialFile::create(&target).unwrap();
        let chunk: Vec<u8> = (0..=255u8).cycle().take(64 * 1024).collect();
        let mut starts = Vec::new();
        for _ in 0..(20 << 20) / chunk.len() {
            file.write(&chunk).unwrap();
            if starts.last() != Some(&file.written_back) {
                starts.push(file.written_back);
            }
        }
        // Started every 8 MiB of bytes on the file, from where it last was.
        assert_eq!(starts.len(), 3, "{starts:?}");
        assert!(
            starts[1] >= WRITEBACK && starts[2] >= 2 * WRITEBACK,
            "{starts:?}"
        );
        assert!(file.received() - starts[2] < WRITEBACK + BUFFER as u64);
        let done = file.finish().unwrap();
        let bytes = std::fs::read(done).unwrap();
        assert_eq!(bytes.len(), 20 << 20);
        assert!(bytes.chunks(chunk.len()).all(|c| c == chunk.as_slice()));
    }
}
