//! Batching: serialized events into batches capped by item count and by body size.

use super::envelope::Format;

/// A batch of serialized events, in the order they were pushed.
///
/// Each item is one JSON object on a single line (compact `serde_json` output), as produced by
/// the mapper; the batch never parses them.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Batch {
    /// The serialized events.
    pub items: Vec<Vec<u8>>,
    /// Sum of the items' lengths.
    item_bytes: usize,
}

impl std::fmt::Debug for Batch {
    // Events are user records: a batch's Debug says how big it is, not what it holds.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("items", &self.items.len())
            .field("item_bytes", &self.item_bytes)
            .finish()
    }
}

impl Batch {
    /// A batch holding exactly `items` (no caps applied).
    pub fn from_items(items: Vec<Vec<u8>>) -> Batch {
        let item_bytes = items.iter().map(Vec::len).sum();
        Batch { items, item_bytes }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The request body for `format` (see [`Format::body`]).
    pub fn body(&self, format: Format) -> Vec<u8> {
        format.body(&self.items)
    }

    /// Exact length of [`Batch::body`] for `format`, without building it.
    pub fn body_len(&self, format: Format) -> usize {
        format.body_len(self.items.len(), self.item_bytes)
    }

    /// The `Content-Type` of [`Batch::body`].
    pub fn content_type(&self, format: Format) -> &'static str {
        format.content_type()
    }

    /// Splits into two halves (first half first, order kept); the answer to a 413.
    pub fn split(mut self) -> (Batch, Batch) {
        let tail = self.items.split_off(self.items.len() / 2);
        (Batch::from_items(self.items), Batch::from_items(tail))
    }

    fn push(&mut self, item: Vec<u8>) {
        self.item_bytes += item.len();
        self.items.push(item);
    }
}

/// Accumulates serialized events into batches of at most `batch_size` items and at most
/// `max_batch_bytes` of (uncompressed) body.
///
/// An event that alone makes a body larger than `max_batch_bytes` goes in a batch of its own:
/// the intake then decides (a 413 on a single event is reported as
/// [`IntakeError::TooLarge`](super::IntakeError::TooLarge), never split forever).
#[derive(Debug)]
pub struct Batcher {
    format: Format,
    batch_size: usize,
    max_batch_bytes: usize,
    current: Batch,
}

impl Batcher {
    /// `batch_size` and `max_batch_bytes` of 0 are treated as 1 (one event per batch).
    pub fn new(format: Format, batch_size: usize, max_batch_bytes: usize) -> Batcher {
        Batcher {
            format,
            batch_size: batch_size.max(1),
            max_batch_bytes: max_batch_bytes.max(1),
            current: Batch::default(),
        }
    }

    /// Adds one serialized event. Returns the batch in progress when adding `event` would exceed a
    /// cap; `event` then starts the next batch.
    pub fn push(&mut self, event: Vec<u8>) -> Option<Batch> {
        debug_assert!(
            !event.contains(&b'\n'),
            "events must be single-line JSON (NDJSON framing)"
        );
        let full = !self.current.is_empty()
            && (self.current.len() + 1 > self.batch_size
                || self.format.body_len(
                    self.current.len() + 1,
                    self.current.item_bytes + event.len(),
                ) > self.max_batch_bytes);
        let ready = full.then(|| std::mem::take(&mut self.current));
        self.current.push(event);
        // A batch that reached the count cap goes out now rather than waiting for the next push.
        if ready.is_none() && self.current.len() >= self.batch_size {
            return Some(std::mem::take(&mut self.current));
        }
        ready
    }

    /// Events waiting in the batch in progress.
    pub fn pending(&self) -> usize {
        self.current.len()
    }

    /// Takes the batch in progress, if any (e.g. at the end of a page the caller wants flushed).
    pub fn flush(&mut self) -> Option<Batch> {
        (!self.current.is_empty()).then(|| std::mem::take(&mut self.current))
    }

    /// The last, partial batch, if any.
    pub fn finish(mut self) -> Option<Batch> {
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(n: usize, len: usize) -> Vec<u8> {
        // {"n":N,"p":"xxx"} padded to `len` bytes when possible.
        let head = format!("{{\"n\":{n},\"p\":\"");
        let pad = len.saturating_sub(head.len() + 2);
        let mut e = head.into_bytes();
        e.extend(std::iter::repeat_n(b'x', pad));
        e.extend_from_slice(b"\"}");
        e
    }

    fn run(format: Format, size: usize, bytes: usize, events: &[Vec<u8>]) -> Vec<Batch> {
        let mut batcher = Batcher::new(format, size, bytes);
        let mut out: Vec<Batch> = events
            .iter()
            .filter_map(|e| batcher.push(e.clone()))
            .collect();
        out.extend(batcher.finish());
        out
    }

    #[test]
    fn count_cap_emits_full_batches_eagerly() {
        let events: Vec<_> = (0..7).map(|n| event(n, 20)).collect();
        let mut batcher = Batcher::new(Format::Sekoia, 3, 1 << 20);
        let emitted: Vec<_> = events
            .iter()
            .map(|e| batcher.push(e.clone()).map(|b| b.len()))
            .collect();
        assert_eq!(emitted, [None, None, Some(3), None, None, Some(3), None]);
        assert_eq!(batcher.finish().map(|b| b.len()), Some(1));
    }

    #[test]
    fn byte_cap_is_exact_for_both_formats() {
        for format in [Format::Sekoia, Format::Ocsf] {
            let events: Vec<_> = (0..10).map(|n| event(n, 100)).collect();
            // Room for exactly three events.
            let cap = format.body_len(3, 300);
            let batches = run(format, 100, cap, &events);
            let sizes: Vec<_> = batches.iter().map(Batch::len).collect();
            assert_eq!(sizes, [3, 3, 3, 1], "{format}");
            for b in &batches {
                assert_eq!(b.body(format).len(), b.body_len(format));
                assert!(b.body_len(format) <= cap);
            }
        }
    }

    #[test]
    fn oversized_event_travels_alone() {
        let events = vec![event(0, 50), event(1, 5000), event(2, 50)];
        let batches = run(Format::Sekoia, 100, 1000, &events);
        let sizes: Vec<_> = batches.iter().map(Batch::len).collect();
        assert_eq!(sizes, [1, 1, 1]);
        assert_eq!(batches[1].items[0], events[1]);
    }

    #[test]
    fn split_keeps_order_and_halves() {
        let b = Batch::from_items((0..5).map(|n| event(n, 10)).collect());
        let (a, c) = b.clone().split();
        assert_eq!((a.len(), c.len()), (2, 3));
        assert_eq!([a.items, c.items].concat(), b.items);
    }

    #[test]
    fn debug_does_not_show_events() {
        let b = Batch::from_items(vec![br#"{"secret":"alice@example.com"}"#.to_vec()]);
        assert!(!format!("{b:?}").contains("alice"));
    }

    proptest! {
        #[test]
        fn batches_respect_both_caps_and_keep_every_event_in_order(
            sizes in prop::collection::vec(8usize..400, 0..200),
            batch_size in 1usize..20,
            max_bytes in 30usize..2000,
            ocsf in any::<bool>(),
        ) {
            let format = if ocsf { Format::Ocsf } else { Format::Sekoia };
            let events: Vec<_> = sizes.iter().enumerate().map(|(n, &len)| event(n, len)).collect();
            let batches = run(format, batch_size, max_bytes, &events);
            for b in &batches {
                prop_assert!(!b.is_empty());
                prop_assert!(b.len() <= batch_size);
                prop_assert_eq!(b.body(format).len(), b.body_len(format));
                prop_assert!(b.body_len(format) <= max_bytes || b.len() == 1,
                    "batch of {} items is {} bytes > {}", b.len(), b.body_len(format), max_bytes);
            }
            let flat: Vec<Vec<u8>> = batches.into_iter().flat_map(|b| b.items).collect();
            prop_assert_eq!(flat, events);
        }

        #[test]
        fn batches_are_not_cut_early(
            sizes in prop::collection::vec(8usize..400, 1..100),
            batch_size in 1usize..20,
            max_bytes in 30usize..2000,
        ) {
            // Each batch but the last was closed because the next event would not fit.
            let format = Format::Sekoia;
            let events: Vec<_> = sizes.iter().enumerate().map(|(n, &len)| event(n, len)).collect();
            let batches = run(format, batch_size, max_bytes, &events);
            for pair in batches.windows(2) {
                let (b, next) = (&pair[0], &pair[1]);
                let with_next = format.body_len(b.len() + 1, b.item_bytes + next.items[0].len());
                prop_assert!(b.len() == batch_size || with_next > max_bytes);
            }
        }
    }
}
