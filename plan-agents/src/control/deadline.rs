//! A connection's bytes under a deadline: once a message has begun to arrive, the rest must
//! arrive in time. The WebSocket layer buffers a message until it is whole and tells nothing
//! of one half read, nor of bytes it holds past the message it gave, so the deadline sits
//! under it, where the bytes are, and follows the client's frames itself ([`Frames`]).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep, sleep};

/// An IO whose reads fail with [`io::ErrorKind::TimedOut`] once `limit` has passed since the
/// first byte of a message that has not all arrived was read (or, for one that began in the
/// same read as another ended, since the server read again after handling that one).
pub(super) struct Deadline<T> {
    io: T,
    limit: Duration,
    /// Where the client's bytes are: between messages or in one.
    frames: Frames,
    /// Armed by the first byte of a message, disarmed when the message is whole.
    timer: Option<Pin<Box<Sleep>>>,
}

impl<T> Deadline<T> {
    pub fn new(io: T, limit: Duration) -> Self {
        Deadline {
            io,
            limit,
            frames: Frames::default(),
            timer: None,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Deadline<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.timer.is_none() && !this.frames.between_messages() {
            // A message begun in the read that ended the one before: its time runs from now,
            // when that one is handled and the server reads again, not while it is handled.
            this.timer = Some(Box::pin(sleep(this.limit)));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                // Bytes that keep coming, slowly, do not put the deadline off.
                if this
                    .timer
                    .as_ref()
                    .is_some_and(|timer| Instant::now() >= timer.deadline())
                {
                    return Poll::Ready(Err(late()));
                }
                let ended = this.frames.read(&buf.filled()[before..]);
                if this.frames.between_messages() || ended {
                    this.timer = None;
                } else if this.timer.is_none() {
                    this.timer = Some(Box::pin(sleep(this.limit)));
                }
                Poll::Ready(Ok(()))
            }
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

/// Where a client's bytes are in its WebSocket frames (RFC 6455, section 5.2), read as they
/// pass: only the headers, to know where each frame ends and whether it ends a message. A
/// message ends with a data frame with FIN; control frames (a ping) may come between the
/// fragments of a message and do not end it. What is not a valid frame is the WebSocket
/// layer's to refuse: here it only moves the boundaries, and nothing panics or grows.
#[derive(Default)]
struct Frames {
    /// The header of the frame being read, as far as it came.
    header: [u8; 14],
    /// Bytes of `header` read: 0 between frames.
    have: usize,
    /// Bytes of the frame's payload still to come.
    payload: u64,
    /// A data frame without FIN began a message that no frame has ended yet.
    fragmented: bool,
}

impl Frames {
    /// Follows `bytes`; true if a message ended in them.
    fn read(&mut self, mut bytes: &[u8]) -> bool {
        let mut ended = false;
        while let Some((&byte, rest)) = bytes.split_first() {
            if self.payload > 0 {
                let skip = self
                    .payload
                    .min(u64::try_from(bytes.len()).unwrap_or(u64::MAX));
                self.payload -= skip;
                // At most `bytes.len()`, so it fits.
                bytes = &bytes[usize::try_from(skip).unwrap_or(bytes.len())..];
                if self.payload == 0 {
                    ended |= self.frame_end();
                }
                continue;
            }
            self.header[self.have] = byte;
            self.have += 1;
            bytes = rest;
            if let Some(payload) = self.payload_len() {
                self.payload = payload;
                if payload == 0 {
                    ended |= self.frame_end();
                }
            }
        }
        ended
    }

    /// The payload's length once the header is whole, else `None`.
    fn payload_len(&self) -> Option<u64> {
        let header = &self.header[..self.have];
        let second = *header.get(1)?;
        let (extended, short) = match second & 0x7f {
            126 => (2, None),
            127 => (8, None),
            len => (0, Some(u64::from(len))),
        };
        let mask = if second & 0x80 != 0 { 4 } else { 0 };
        if header.len() < 2 + extended + mask {
            return None;
        }
        Some(short.unwrap_or_else(|| {
            header[2..2 + extended]
                .iter()
                .fold(0, |len, &byte| (len << 8) | u64::from(byte))
        }))
    }

    /// The frame whose header is in `header` is whole; true if it ended a message.
    fn frame_end(&mut self) -> bool {
        let first = self.header[0];
        self.have = 0;
        // Control frames (opcodes 8 and up) are whole messages of their own, and may come
        // inside a fragmented one.
        if first & 0x08 == 0 {
            self.fragmented = first & 0x80 == 0;
        }
        !self.fragmented
    }

    /// Whether no message has begun that has not ended.
    fn between_messages(&self) -> bool {
        self.have == 0 && self.payload == 0 && !self.fragmented
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

#[cfg(test)]
mod tests {
    use std::io;
    use std::time::Duration;

    use proptest::prelude::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::time::{Instant, sleep};
    use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};

    use super::{Deadline, Frames};

    /// One frame as a client sends it: its header (written by tungstenite) and a payload of
    /// `len` bytes.
    fn frame(opcode: OpCode, is_final: bool, len: usize) -> Vec<u8> {
        let header = FrameHeader {
            is_final,
            opcode,
            mask: Some([1, 2, 3, 4]),
            ..FrameHeader::default()
        };
        let mut bytes = Vec::new();
        header.format(len as u64, &mut bytes).unwrap();
        bytes.resize(bytes.len() + len, b'x');
        bytes
    }

    /// Messages of fragments (with pings between them), as bytes, and the offsets at which
    /// each message ends.
    fn messages() -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
        // Lengths of each kind of frame header: 7 bits, 16 and 64.
        let len = prop_oneof![0..126usize, 126..300usize, Just(70_000usize)];
        let fragment = (len, any::<bool>());
        prop::collection::vec(prop::collection::vec(fragment, 1..4), 0..5).prop_map(|messages| {
            let (mut bytes, mut ends) = (Vec::new(), Vec::new());
            for fragments in messages {
                let last = fragments.len() - 1;
                for (i, (len, ping_after)) in fragments.into_iter().enumerate() {
                    let opcode = if i == 0 { Data::Text } else { Data::Continue };
                    bytes.extend(frame(OpCode::Data(opcode), i == last, len));
                    if ping_after && i < last {
                        bytes.extend(frame(OpCode::Control(Control::Ping), true, 4));
                    }
                }
                ends.push(bytes.len());
            }
            (bytes, ends)
        })
    }

    /// A text frame's bytes, reading `{}` (two bytes of payload).
    fn text() -> Vec<u8> {
        let mut bytes = frame(OpCode::Data(Data::Text), true, 0);
        bytes[1] |= 2;
        bytes.extend(b"{}".iter().zip([1, 2]).map(|(b, m)| b ^ m));
        bytes
    }

    /// A message begun in the same read as the end of another has its time, counted from
    /// when the server reads again: not while it handled the first, and not never.
    #[tokio::test(start_paused = true)]
    async fn a_message_begun_with_the_end_of_another_is_timed_from_the_next_read() {
        let limit = Duration::from_secs(1);
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let mut server = Deadline::new(server, limit);
        let mut buf = vec![0; 1 << 16];
        let second = text();
        let mut bytes = text();
        bytes.extend_from_slice(&second[..3]);
        client.write_all(&bytes).await.unwrap();
        assert_eq!(server.read(&mut buf).await.unwrap(), bytes.len());
        // The server handles the first message for longer than the limit, while the rest of
        // the second comes at once.
        sleep(limit * 2).await;
        client.write_all(&second[3..]).await.unwrap();
        assert_eq!(server.read(&mut buf).await.unwrap(), second.len() - 3);

        // A message whose rest never comes: the read fails once the limit has passed.
        client.write_all(&bytes).await.unwrap();
        assert_eq!(server.read(&mut buf).await.unwrap(), bytes.len());
        let start = Instant::now();
        let error = server.read(&mut buf).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(start.elapsed(), limit);
    }

    #[test]
    fn a_ping_between_fragments_does_not_end_the_message() {
        let mut frames = Frames::default();
        assert!(!frames.read(&frame(OpCode::Data(Data::Text), false, 3)));
        assert!(!frames.read(&frame(OpCode::Control(Control::Ping), true, 0)));
        assert!(!frames.between_messages());
        assert!(frames.read(&frame(OpCode::Data(Data::Continue), true, 3)));
        assert!(frames.between_messages());
    }

    /// Property tests, run long with the crate's other fuzzing (`--lib fuzz`).
    mod fuzz {
        use proptest::prelude::*;

        use super::super::Frames;
        use super::messages;

        proptest! {
            /// However the bytes are cut into reads, a message is ended exactly where it ends,
            /// and only there is the connection between messages.
            #[test]
            fn follows_messages_however_they_are_read(
                (bytes, ends) in messages(),
                cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
            ) {
                let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut.index(bytes.len() + 1)).collect();
                cuts.push(bytes.len());
                cuts.sort_unstable();
                let mut frames = Frames::default();
                let mut at = 0;
                for cut in cuts {
                    let ended = frames.read(&bytes[at..cut]);
                    prop_assert_eq!(ended, ends.iter().any(|&end| at < end && end <= cut));
                    prop_assert_eq!(frames.between_messages(), cut == 0 || ends.contains(&cut));
                    at = cut;
                }
            }

            /// Bytes that are not frames do not make it panic.
            #[test]
            fn any_bytes(reads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..8)) {
                let mut frames = Frames::default();
                for bytes in reads {
                    frames.read(&bytes);
                }
            }
        }
    }
}
