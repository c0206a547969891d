//! Server-sent events: an incremental decoder that takes its input split at any byte, and a
//! [`Stream`] adapter over a byte stream.
//!
//! The decoder follows the parts of the WHATWG `text/event-stream` rules a client needs: lines
//! end with `\r\n`, `\n` or `\r`; a line starting with `:` is a comment; `field: value` sets a
//! field (one space after the colon is dropped); several `data:` lines join with `\n`; a blank
//! line dispatches the event, unless it has no data. A leading byte-order mark is skipped.
//! Input that ends mid-event is discarded, as the standard says.
//!
//! What the decoder holds is capped: an event — its unfinished line and the data of its
//! earlier lines together — larger than [`SseDecoder::max_event`] (1 MiB by default) is an
//! [`SseError::TooLarge`], after which the decoder reads nothing more: a server cannot make a
//! client buffer without bound by never ending a line or an event. Nor by repeating one: the
//! last event ID, which every later event carries, is shared by them, not copied into each.
//!
//! ```
//! use plan_tools::sse::SseDecoder;
//!
//! let mut decoder = SseDecoder::new();
//! // A chunk boundary may fall anywhere: inside a field name, a `\r\n`, a UTF-8 character.
//! let body = "data: h\u{e9}llo\r\ndata: world\r\n\r\n: a comment\nevent: done\ndata: [DONE]\n\n";
//! let (a, b) = body.as_bytes().split_at(8);
//! let mut events = decoder.feed(a)?;
//! events.extend(decoder.feed(b)?);
//! assert_eq!(events.len(), 2);
//! assert_eq!(events[0].data, "h\u{e9}llo\nworld");
//! assert_eq!(events[0].event, "message");
//! assert_eq!((events[1].event.as_str(), events[1].data.as_str()), ("done", "[DONE]"));
//! # Ok::<(), plan_tools::sse::SseError>(())
//! ```

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;

/// One dispatched server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The event type: the last `event:` field, or `"message"` when there was none.
    pub event: String,
    /// The `data:` lines, joined by `\n`.
    pub data: String,
    /// The last event ID seen so far on the stream (`id:` fields persist across events).
    /// Shared, not copied, by the events that carry it: a long ID followed by many small
    /// events costs its length once.
    pub id: Option<Arc<str>>,
    /// A reconnection time the server asked for (`retry:`) since the previous event.
    pub retry: Option<Duration>,
}

/// The largest event a decoder holds by default: 1 MiB.
///
/// ```
/// use plan_tools::sse::{DEFAULT_MAX_EVENT, SseDecoder};
///
/// let line = format!("data: {}\n\n", "x".repeat(DEFAULT_MAX_EVENT - 6));
/// assert_eq!(SseDecoder::new().feed(line.as_bytes()).unwrap().len(), 1);
/// ```
pub const DEFAULT_MAX_EVENT: usize = 1 << 20;

/// Why a stream of events cannot be read on.
///
/// ```
/// use plan_tools::sse::{SseDecoder, SseError};
///
/// let err = SseDecoder::new().max_event(4).feed(b"data: 12345").unwrap_err();
/// assert_eq!(err, SseError::TooLarge { limit: 4 });
/// assert_eq!(
///     err.to_string(),
///     "a server-sent event is larger than the 4-byte cap (raise it with SseDecoder::max_event)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SseError {
    /// An event (its data and its unfinished line) grew past the decoder's cap.
    #[error(
        "a server-sent event is larger than the {limit}-byte cap (raise it with SseDecoder::max_event)"
    )]
    TooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
}

/// For streams of `io::Result`s: an [`SseError`] as an `InvalidData` I/O error.
impl From<SseError> for std::io::Error {
    fn from(err: SseError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, err)
    }
}

/// An incremental `text/event-stream` decoder: feed it chunks as they arrive, it returns the
/// events they complete. It keeps only the unfinished line and the unfinished event, up to
/// [`SseDecoder::max_event`] bytes.
#[derive(Debug, Clone)]
pub struct SseDecoder {
    /// The bytes of the line not yet ended. Kept as bytes, not text, so that a UTF-8
    /// character split between chunks is decoded whole once its line is complete (line ends
    /// are ASCII and never occur inside a multi-byte character).
    line: Vec<u8>,
    /// The previous chunk ended with `\r`: a `\n` starting the next one belongs to that line end.
    after_cr: bool,
    /// Past the first bytes, where a byte-order mark may appear.
    started: bool,
    data: String,
    has_data: bool,
    event: Option<String>,
    id: Option<Arc<str>>,
    retry: Option<Duration>,
    max_event: usize,
    /// The cap was passed: nothing more is read.
    failed: bool,
}

impl Default for SseDecoder {
    fn default() -> Self {
        SseDecoder {
            line: Vec::new(),
            after_cr: false,
            started: false,
            data: String::new(),
            has_data: false,
            event: None,
            id: None,
            retry: None,
            max_event: DEFAULT_MAX_EVENT,
            failed: false,
        }
    }
}

impl SseDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// The largest event held, in bytes: its unfinished line and its data so far together
    /// ([`DEFAULT_MAX_EVENT`] unless set). A larger one is [`SseError::TooLarge`].
    ///
    /// ```
    /// use plan_tools::sse::{SseDecoder, SseError};
    ///
    /// let mut decoder = SseDecoder::new().max_event(16);
    /// assert_eq!(decoder.feed(b"data: 1234\n\n").unwrap()[0].data, "1234");
    /// let too_long = decoder.feed(b"data: 0123456789ab");
    /// assert_eq!(too_long, Err(SseError::TooLarge { limit: 16 }));
    /// // The stream is not read on.
    /// assert!(decoder.feed(b"\n\ndata: 1\n\n").is_err());
    /// ```
    pub fn max_event(mut self, bytes: usize) -> Self {
        self.max_event = bytes;
        self
    }

    /// Decodes `chunk`, the next bytes of the stream; returns the events it completes, in
    /// order, or the error that stops the stream.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        let mut events = Vec::new();
        self.feed_into(chunk, &mut events)?;
        Ok(events)
    }

    /// As [`SseDecoder::feed`], appending the events to `out` (those before an error too).
    pub fn feed_into(
        &mut self,
        mut chunk: &[u8],
        out: &mut impl Extend<SseEvent>,
    ) -> Result<(), SseError> {
        if self.failed {
            return Err(self.too_large());
        }
        if self.after_cr && !chunk.is_empty() {
            self.after_cr = false;
            if chunk[0] == b'\n' {
                chunk = &chunk[1..];
            }
        }
        while !chunk.is_empty() {
            match chunk.iter().position(|&b| b == b'\n' || b == b'\r') {
                None => {
                    self.hold(chunk)?;
                    break;
                }
                Some(end) => {
                    self.hold(&chunk[..end])?;
                    let cr = chunk[end] == b'\r';
                    chunk = &chunk[end + 1..];
                    if cr {
                        match chunk.first() {
                            Some(b'\n') => chunk = &chunk[1..],
                            // The `\n` of a `\r\n` may be the next chunk's first byte.
                            None => self.after_cr = true,
                            Some(_) => {}
                        }
                    }
                    let line = std::mem::take(&mut self.line);
                    if let Some(event) = self.line_done(&line)? {
                        out.extend(Some(event));
                    }
                    // Reuse the allocation for the next line.
                    self.line = line;
                    self.line.clear();
                }
            }
        }
        Ok(())
    }

    /// Appends `bytes` to the unfinished line, unless the event would pass the cap.
    fn hold(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        if self.line.len() + self.data.len() + bytes.len() > self.max_event {
            return Err(self.fail());
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    /// Lets go of what is held and reads nothing more: the stream ends here.
    fn fail(&mut self) -> SseError {
        self.failed = true;
        self.line = Vec::new();
        self.data = String::new();
        self.event = None;
        self.id = None;
        self.too_large()
    }

    fn too_large(&self) -> SseError {
        SseError::TooLarge {
            limit: self.max_event,
        }
    }

    /// Handles one complete line; returns the event a blank line dispatches.
    fn line_done(&mut self, raw: &[u8]) -> Result<Option<SseEvent>, SseError> {
        let mut line = String::from_utf8_lossy(raw);
        // Decoded, a line can be longer than its bytes (an invalid byte becomes a 3-byte
        // U+FFFD): the cap holds for what is kept.
        if line.len() + self.data.len() > self.max_event {
            return Err(self.fail());
        }
        if !self.started {
            self.started = true;
            if let Some(rest) = line.strip_prefix('\u{feff}') {
                line = rest.to_owned().into();
            }
        }
        if line.is_empty() {
            return Ok(self.dispatch());
        }
        if line.starts_with(':') {
            return Ok(None);
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (&*line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_owned()),
            // The standard ignores an ID containing NUL.
            "id" if !value.contains('\0') => self.id = Some(value.into()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                if let Ok(ms) = value.parse() {
                    self.retry = Some(Duration::from_millis(ms));
                }
            }
            _ => {}
        }
        Ok(None)
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        if !self.has_data {
            // An event without data is not dispatched; its type is forgotten with it.
            return None;
        }
        self.has_data = false;
        Some(SseEvent {
            event: event.unwrap_or_else(|| "message".to_owned()),
            data: std::mem::take(&mut self.data),
            id: self.id.clone(),
            retry: self.retry.take(),
        })
    }
}

pin_project_lite::pin_project! {
    /// The events of a byte stream (a response body), decoded as they arrive: wraps any
    /// `Stream<Item = Result<Bytes, E>>` and yields `Result<SseEvent, E>`. A transport error
    /// is passed through as it comes; the stream ends when the byte stream does, or after an
    /// [`SseError`] (as an `E`: `E: From<SseError>`).
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use plan_tools::sse::SseStream;
    ///
    /// let chunks = ["da", "ta: {\"a\"", ":1}\n", "\ndata: [DONE]\n\n"]
    ///     .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::from(c)));
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let events: Vec<_> = rt.block_on(SseStream::new(stream::iter(chunks)).collect());
    /// let data: Vec<_> = events.into_iter().map(|e| e.unwrap().data).collect();
    /// assert_eq!(data, ["{\"a\":1}", "[DONE]"]);
    /// ```
    pub struct SseStream<S> {
        #[pin]
        inner: S,
        decoder: SseDecoder,
        ready: VecDeque<SseEvent>,
        pending_error: Option<SseError>,
        done: bool,
    }
}

impl<S> SseStream<S> {
    /// Decodes the events of `inner`.
    pub fn new(inner: S) -> Self {
        SseStream::with_decoder(inner, SseDecoder::new())
    }

    /// Decodes the events of `inner` with `decoder` (a decoder with another
    /// [cap](SseDecoder::max_event)).
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use plan_tools::sse::{SseDecoder, SseStream};
    ///
    /// let chunks = ["data: a long event\n\n"].map(|c| Ok::<_, std::io::Error>(c.as_bytes()));
    /// let decoder = SseDecoder::new().max_event(4);
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let events: Vec<_> = rt.block_on(SseStream::with_decoder(stream::iter(chunks), decoder).collect());
    /// assert_eq!(events.len(), 1);
    /// assert!(events[0].as_ref().unwrap_err().to_string().contains("4-byte cap"));
    /// ```
    pub fn with_decoder(inner: S, decoder: SseDecoder) -> Self {
        SseStream {
            inner,
            decoder,
            ready: VecDeque::new(),
            pending_error: None,
            done: false,
        }
    }
}

impl<S, B, E> Stream for SseStream<S>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
    E: From<SseError>,
{
    type Item = Result<SseEvent, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            if let Some(event) = this.ready.pop_front() {
                return Poll::Ready(Some(Ok(event)));
            }
            if let Some(err) = this.pending_error.take() {
                return Poll::Ready(Some(Err(err.into())));
            }
            if *this.done {
                return Poll::Ready(None);
            }
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => *this.done = true,
                Poll::Ready(Some(Err(err))) => return Poll::Ready(Some(Err(err))),
                Poll::Ready(Some(Ok(chunk))) => {
                    if let Err(err) = this.decoder.feed_into(chunk.as_ref(), &mut *this.ready) {
                        // The events before it first, then the error; then nothing more.
                        *this.done = true;
                        this.pending_error.replace(err);
                    }
                }
            }
        }
    }
}

/// Decodes a whole body at once: what [`SseDecoder::feed`] returns for it in one chunk.
///
/// ```
/// let events = plan_tools::sse::decode_all(b"data: a\n\ndata: b\n\n")?;
/// assert_eq!(events.len(), 2);
/// # Ok::<(), plan_tools::sse::SseError>(())
/// ```
pub fn decode_all(body: &[u8]) -> Result<Vec<SseEvent>, SseError> {
    SseDecoder::new().feed(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn data(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn line_ends_comments_and_fields() {
        let events = decode_all(
            b"data:a\r\rdata: b\n: note\ndata\n\nevent: x\nid: 7\nretry: 30\ndata:  c\r\n\r\n",
        )
        .unwrap();
        assert_eq!(data(&events), ["a", "b\n", " c"]);
        assert_eq!(events[2].event, "x");
        assert_eq!(events[2].id.as_deref(), Some("7"));
        assert_eq!(events[2].retry, Some(Duration::from_millis(30)));
        assert_eq!(events[0].event, "message");
    }

    #[test]
    fn events_without_data_and_unfinished_events_are_not_dispatched() {
        let events = decode_all(b"event: ping\n\ndata: kept\n\ndata: cut off\n").unwrap();
        assert_eq!(data(&events), ["kept"]);
        // The discarded event's type does not leak into the next one.
        assert_eq!(events[0].event, "message");
    }

    #[test]
    fn an_id_is_shared_by_its_events_not_copied() {
        // A long ID, then many small events: each carries the one ID, so that what a body
        // decodes to is about its size, not the ID's length times the events'.
        let id = "i".repeat(DEFAULT_MAX_EVENT / 2);
        let body = format!("id: {id}\n{}", "data\n\n".repeat(1000));
        let events = decode_all(body.as_bytes()).unwrap();
        assert_eq!(events.len(), 1000);
        let first = events[0].id.as_ref().unwrap();
        assert_eq!(first.len(), id.len());
        assert!(
            events
                .iter()
                .all(|e| Arc::ptr_eq(e.id.as_ref().unwrap(), first))
        );
    }

    #[test]
    fn bom_and_crlf_split_between_chunks() {
        let mut d = SseDecoder::new();
        let mut events = d.feed(b"\xEF\xBB").unwrap();
        events.extend(d.feed(b"\xBFdata: x\r").unwrap());
        events.extend(d.feed(b"\n").unwrap());
        events.extend(d.feed(b"\r\n").unwrap());
        assert_eq!(data(&events), ["x"]);
    }

    /// Events as a server might write them, from parts proptest picks.
    fn arb_body() -> impl Strategy<Value = Vec<u8>> {
        let text = "[a-z{}\":,é☃😀 \\[\\]]{0,12}";
        let line_end = prop_oneof![Just("\n"), Just("\r\n"), Just("\r")];
        let line = prop_oneof![
            (text, line_end.clone()).prop_map(|(t, e)| format!("data: {t}{e}")),
            (text, line_end.clone()).prop_map(|(t, e)| format!("data:{t}{e}")),
            (text, line_end.clone()).prop_map(|(t, e)| format!(": {t}{e}")),
            ("[a-z]{1,6}", line_end.clone()).prop_map(|(t, e)| format!("event: {t}{e}")),
            ("[0-9]{1,4}", line_end.clone()).prop_map(|(t, e)| format!("id: {t}{e}")),
            ("[0-9]{1,4}", line_end.clone()).prop_map(|(t, e)| format!("retry: {t}{e}")),
            line_end.prop_map(str::to_owned),
        ];
        proptest::collection::vec(line, 0..24).prop_map(|lines| lines.concat().into_bytes())
    }

    proptest! {
        #[test]
        fn any_split_decodes_as_unsplit(body in arb_body(), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..10)) {
            let whole = decode_all(&body).unwrap();
            let mut positions: Vec<usize> = cuts.iter().map(|i| i.index(body.len() + 1)).collect();
            positions.sort_unstable();
            let mut decoder = SseDecoder::new();
            let mut split = Vec::new();
            let mut start = 0;
            for end in positions.into_iter().chain([body.len()]) {
                split.extend(decoder.feed(&body[start..end]).unwrap());
                start = end;
            }
            prop_assert_eq!(split, whole);
        }

        #[test]
        fn one_byte_at_a_time_decodes_as_unsplit(body in arb_body()) {
            let whole = decode_all(&body).unwrap();
            let mut decoder = SseDecoder::new();
            let split: Vec<_> = body.iter().flat_map(|b| decoder.feed(std::slice::from_ref(b)).unwrap()).collect();
            prop_assert_eq!(split, whole);
        }
    }
}
