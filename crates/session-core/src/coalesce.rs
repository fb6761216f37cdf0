//! The client's last handshake flight, held until the session's verdict on
//! the certificate and, when asked, joined to the next write.
//!
//! sesh judges a server's certificate after the TLS handshake, and a
//! certificate the session rejects must never get the client's `Finished`
//! (as in Chromium, whose check runs inside the handshake, before
//! `Finished` is sent). tokio-rustls writes and flushes `Finished` on its
//! own as the handshake ends, so [`Coalesce`] sits under the TLS layer and
//! holds what the handshake writes after it has heard from the server
//! (`Finished`, and on the way a TLS 1.2 key exchange or a second
//! ClientHello) until the next write joins it, the connection reads, shuts
//! down or flushes a second time, or [`Coalesce::release`] is called.
//!
//! The network service releases a target's `Finished` as soon as the
//! verdict accepts the certificate, as Chromium sends it; TLS to an HTTPS
//! proxy lets it join the CONNECT that follows, in one write.
//!
//! Once the first flight it has held has gone out, the wrapper only passes
//! bytes through.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// An I/O stream whose first writes after a read wait to go out with the
/// next one (see the module's documentation).
#[derive(Debug)]
pub(crate) struct Coalesce<T> {
    io: T,
    /// Bytes written but not sent yet.
    held: Vec<u8>,
    /// A read brought bytes since the last write: the next write is held.
    heard: bool,
    /// The flush right after bytes were held returns without sending them
    /// (tokio-rustls flushes as its handshake ends).
    skip_flush: bool,
    /// The handshake is over: once what is held has gone, everything
    /// passes through.
    handshake_done: bool,
    /// Pass-through from now on.
    done: bool,
}

/// The room a held flight's buffer is made with: enough for what follows
/// it (a CONNECT, a usual request head) to join it without the buffer
/// growing.
const ROOM: usize = 1024;

impl<T> Coalesce<T> {
    /// `io`, holding nothing yet.
    pub(crate) fn new(io: T) -> Self {
        Coalesce {
            io,
            held: Vec::new(),
            heard: false,
            skip_flush: false,
            handshake_done: false,
            done: false,
        }
    }

    /// The handshake is over: what is held goes with the next write (or
    /// read, flush, shutdown), and nothing is held after it.
    pub(crate) fn handshake_done(&mut self) {
        self.handshake_done = true;
        if self.held.is_empty() {
            self.done = true;
        }
    }
}

impl<T: AsyncWrite + Unpin> Coalesce<T> {
    /// Sends what is held, all of it, before anything else.
    fn poll_send_held(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.held.is_empty() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.held))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.held.drain(..n);
        }
        self.skip_flush = false;
        if self.handshake_done {
            self.done = true;
        }
        Poll::Ready(Ok(()))
    }

    /// Sends what is held now (a connection that waits for no request,
    /// such as a preconnected one, must finish its handshake).
    pub(crate) async fn release(&mut self) -> io::Result<()> {
        self.handshake_done();
        std::future::poll_fn(|cx| self.poll_send_held(cx)).await?;
        std::future::poll_fn(|cx| Pin::new(&mut self.io).poll_flush(cx)).await
    }

    /// A write of `bufs`: held, joined to what is held, or passed through.
    fn poll_write_bufs(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        if self.done {
            return Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        }
        if !self.held.is_empty() {
            // The next flight joins the one held, and both go at once.
            for buf in bufs {
                self.held.extend_from_slice(buf);
            }
            if let Poll::Ready(Err(e)) = self.poll_send_held(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(len));
        }
        if self.heard && !self.handshake_done {
            // The first write since the server was heard: held, with room
            // for a request head to join it without growing the buffer.
            // (1 KiB in all for a short flight: an allocation the allocator
            // serves from its per-thread cache.)
            self.held.reserve(ROOM.max(len + ROOM / 2));
            for buf in bufs {
                self.held.extend_from_slice(buf);
            }
            self.heard = false;
            self.skip_flush = true;
            return Poll::Ready(Ok(len));
        }
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for Coalesce<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.held.is_empty() {
            // Whoever reads waits for an answer to what is held.
            ready!(this.poll_send_held(cx))?;
            ready!(Pin::new(&mut this.io).poll_flush(cx))?;
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        if !this.done && buf.filled().len() > before {
            this.heard = true;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Coalesce<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_bufs(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_bufs(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.held.is_empty() {
            if this.skip_flush {
                this.skip_flush = false;
                return Poll::Ready(Ok(()));
            }
            ready!(this.poll_send_held(cx))?;
        }
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_held(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An I/O end that records each write it is given, and reads from a
    /// script.
    #[derive(Default)]
    struct Recorder {
        writes: Vec<Vec<u8>>,
        flushes: usize,
        to_read: Vec<u8>,
        /// The most bytes a write takes (`None`: all).
        limit: Option<usize>,
    }

    impl AsyncRead for Recorder {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let n = self.to_read.len().min(buf.remaining());
            let bytes: Vec<u8> = self.to_read.drain(..n).collect();
            buf.put_slice(&bytes);
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = self.limit.unwrap_or(buf.len()).min(buf.len());
            self.writes.push(buf[..n].to_vec());
            Poll::Ready(Ok(n))
        }
        fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.flushes += 1;
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn with_reply(reply: &[u8]) -> Coalesce<Recorder> {
        Coalesce::new(Recorder {
            to_read: reply.to_vec(),
            ..Recorder::default()
        })
    }

    /// A stream that has read the server's flight and holds `finished`,
    /// as tokio-rustls leaves it when a TLS 1.3 handshake ends.
    async fn holding_finished() -> Coalesce<Recorder> {
        let mut io = with_reply(b"flight");
        let mut buf = [0u8; 6];
        io.read_exact(&mut buf).await.unwrap();
        io.write_all(b"finished").await.unwrap();
        io.flush().await.unwrap();
        io
    }

    /// A TLS 1.3 handshake as tokio-rustls drives it: hello, the server's
    /// flight read, `Finished` written and flushed; then the request.
    #[tokio::test]
    async fn finished_goes_out_with_the_first_request() {
        let mut io = with_reply(b"server flight");
        io.write_all(b"hello").await.unwrap();
        io.flush().await.unwrap();
        let mut buf = [0u8; 13];
        io.read_exact(&mut buf).await.unwrap();
        io.write_all(b"finished").await.unwrap();
        io.flush().await.unwrap();
        assert_eq!(io.io.writes, vec![b"hello".to_vec()], "finished is held");
        io.handshake_done();
        io.write_all(b"GET /").await.unwrap();
        io.flush().await.unwrap();
        assert_eq!(
            io.io.writes,
            vec![b"hello".to_vec(), b"finishedGET /".to_vec()],
            "one write for both"
        );
        // From then on, bytes pass through as they come.
        io.write_all(b"more").await.unwrap();
        assert_eq!(io.io.writes.last().unwrap(), b"more");
        io.io.to_read = b"answer".to_vec();
        let mut answer = [0u8; 6];
        io.read_exact(&mut answer).await.unwrap();
        io.write_all(b"next").await.unwrap();
        assert_eq!(
            io.io.writes.last().unwrap(),
            b"next",
            "nothing held any more"
        );
    }

    /// A second ClientHello (after a HelloRetryRequest), or TLS 1.2's key
    /// exchange, waits for an answer: reading sends it first.
    #[tokio::test]
    async fn a_read_sends_what_is_held() {
        let mut io = with_reply(b"retry");
        io.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 5];
        io.read_exact(&mut buf).await.unwrap();
        io.write_all(b"hello again").await.unwrap();
        io.flush().await.unwrap();
        assert_eq!(io.io.writes.len(), 1);
        io.io.to_read = b"server hello".to_vec();
        let mut buf = [0u8; 12];
        io.read_exact(&mut buf).await.unwrap();
        assert_eq!(io.io.writes[1], b"hello again");
        assert!(io.io.flushes >= 1);
    }

    /// After the handshake, a read sends what is held at once (nothing waits
    /// for a write that may never come).
    #[tokio::test]
    async fn a_read_after_the_handshake_sends_what_is_held() {
        let mut io = holding_finished().await;
        io.handshake_done();
        io.io.to_read = b"ticket".to_vec();
        let mut buf = [0u8; 6];
        io.read_exact(&mut buf).await.unwrap();
        assert_eq!(io.io.writes, vec![b"finished".to_vec()]);
        assert_eq!(&buf, b"ticket");
    }

    /// A socket that takes part of the joined flight: the rest goes on the
    /// flush that follows, at once and in order.
    #[tokio::test]
    async fn a_short_write_leaves_the_rest_for_the_flush() {
        let mut io = holding_finished().await;
        io.handshake_done();
        io.io.limit = Some(5);
        io.write_all(b"GET / HTTP/1.1").await.unwrap();
        io.flush().await.unwrap();
        assert_eq!(io.io.writes.concat(), b"finishedGET / HTTP/1.1");
        assert!(io.held.is_empty());
    }

    /// A second flush, a shutdown, or `release` send what is held.
    #[tokio::test]
    async fn flush_shutdown_and_release_send_what_is_held() {
        for how in ["flush", "shutdown", "release"] {
            let mut io = holding_finished().await;
            assert!(io.io.writes.is_empty(), "{how}");
            match how {
                "flush" => io.flush().await.unwrap(),
                "shutdown" => io.shutdown().await.unwrap(),
                _ => io.release().await.unwrap(),
            }
            assert_eq!(io.io.writes, vec![b"finished".to_vec()], "{how}");
        }
    }

    /// Writes before anything was read (a ClientHello, a plain request)
    /// are never held.
    #[tokio::test]
    async fn writes_before_a_read_pass_through() {
        let mut io = with_reply(b"");
        io.write_all(b"one").await.unwrap();
        io.write_all(b"two").await.unwrap();
        assert_eq!(io.io.writes, vec![b"one".to_vec(), b"two".to_vec()]);
    }
}
