//! A connection's bytes under a deadline: once a frame has begun to arrive, the rest must
//! arrive in time. The WebSocket layer buffers a frame until it is whole and tells nothing
//! of one half read, so the deadline sits under it, where the bytes are.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep, sleep};

/// An IO whose reads fail with [`io::ErrorKind::TimedOut`] once `limit` has passed since the
/// first byte read after the last [`Deadline::frame_done`].
pub(super) struct Deadline<T> {
    io: T,
    limit: Duration,
    /// Armed by the first byte of a frame, disarmed when the frame is whole.
    timer: Option<Pin<Box<Sleep>>>,
}

impl<T> Deadline<T> {
    pub fn new(io: T, limit: Duration) -> Self {
        Deadline {
            io,
            limit,
            timer: None,
        }
    }

    /// The frame (a whole message) has arrived: the next byte begins the next one's time.
    ///
    /// Bytes of the next frame that came in the same read as the end of this one start no
    /// timer of their own; they are at most one read's worth, and an idle connection is
    /// closed anyway.
    pub fn frame_done(&mut self) {
        self.timer = None;
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Deadline<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() > before => match &this.timer {
                // Bytes that keep coming, slowly, do not put the deadline off.
                Some(timer) if Instant::now() >= timer.deadline() => Poll::Ready(Err(late())),
                Some(_) => Poll::Ready(Ok(())),
                None => {
                    this.timer = Some(Box::pin(sleep(this.limit)));
                    Poll::Ready(Ok(()))
                }
            },
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => match &mut this.timer {
                // Polled here, so that the deadline wakes the reader even if no byte comes.
                Some(timer) => {
                    ready!(timer.as_mut().poll(cx));
                    Poll::Ready(Err(late()))
                }
                None => Poll::Pending,
            },
        }
    }
}

/// The error of a frame that missed its deadline.
fn late() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "a frame not finished in time")
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Deadline<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
