//! Text chosen by a remote server, made safe to print on a terminal or in a log line.
//!
//! Okta, its token endpoint and the intake choose the strings of their answers: error codes and
//! summaries, OAuth `error` / `error_description`, statuses outside Okta's list, ids, response
//! bodies. Printed raw, a control character steers the terminal (an ESC sequence retitles the
//! window, clears the screen or colours the text), a CR or LF starts a line that looks like one
//! of the connector's own log lines, and a bidirectional override reorders what is shown. A
//! summary of ten kilobytes buries the message it is part of.
//!
//! So every such string goes through [`remote`] where it is parsed, before it is stored in an
//! error or counted in a summary: each character that could steer a display becomes a visible
//! escape (`\x1b`, `\n`, `\u{202e}`), and the text is cut after a fixed number of characters (on
//! a character boundary, never inside an escape), with `…` marking the cut. The printers
//! ([`crate::sync::Summary`], the `check` report, the warnings of a cycle) escape again with
//! [`escape_controls`] as a second line of defence: escaping is idempotent, since an escape is
//! made of printable characters only.
//!
//! Event payloads are not touched: they are JSON, where every control character is escaped by
//! the encoder, and the values stay exactly what Okta holds.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Cap for short tokens: error codes, statuses, ids, request ids.
pub const WORD: usize = 100;
/// Cap for messages: error summaries and descriptions, quoted response bodies.
pub const MESSAGE: usize = 500;
/// Cap for a whole line the connector composes around remote text (a warning, a check reason).
pub const LINE: usize = 4000;

/// `text` with every character that could steer a display escaped, cut after `max_chars`
/// characters (escapes count with their visible length) with `…` appended when cut.
pub fn remote(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars.saturating_mul(4)));
    let mut shown = 0usize;
    let mut piece = String::new();
    for c in text.chars() {
        piece.clear();
        push_shown(&mut piece, c);
        let width = piece.chars().count();
        if shown + width > max_chars {
            out.push('…');
            return out;
        }
        shown += width;
        out.push_str(&piece);
    }
    out
}

/// `text` with every character that could steer a display escaped; borrowed when there is none.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(steers_display) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        push_shown(&mut out, c);
    }
    Cow::Owned(out)
}

/// True for characters a terminal or a log viewer acts on instead of showing: the C0 controls
/// (ESC, CR, LF, BEL, ...), DEL, the C1 controls (U+009B is a one-character CSI for some
/// terminals), the line and paragraph separators, and the bidirectional marks, embeddings,
/// overrides and isolates that reorder text.
pub fn steers_display(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

fn push_shown(out: &mut String, c: char) {
    if !steers_display(c) {
        out.push(c);
        return;
    }
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x100 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible_escapes() {
        assert_eq!(
            remote("a\u{1b}]0;pwned\u{7}b\r\nc\td\u{7f}\u{9b}2J", 100),
            "a\\x1b]0;pwned\\x07b\\r\\nc\\td\\x7f\\x9b2J"
        );
        assert_eq!(
            remote("x\u{202e}gnp.exe\u{2066}\u{2028}", 100),
            "x\\u{202e}gnp.exe\\u{2066}\\u{2028}"
        );
        // Printable text, unicode included, is kept as is.
        assert_eq!(remote("Ünïcødé 名前 \\x1b", 100), "Ünïcødé 名前 \\x1b");
    }

    #[test]
    fn the_cap_cuts_on_a_character_boundary_and_never_inside_an_escape() {
        assert_eq!(remote("abcdef", 6), "abcdef");
        assert_eq!(remote("abcdefg", 6), "abcdef…");
        assert_eq!(remote("ééééé", 3), "ééé…");
        // "ab" + "\x1b" (4 shown characters) does not fit in 5: the escape is left out whole.
        assert_eq!(remote("ab\u{1b}cd", 5), "ab…");
        let long = "é".repeat(10_000);
        let capped = remote(&long, MESSAGE);
        assert_eq!(capped.chars().count(), MESSAGE + 1);
        assert!(capped.ends_with('…'));
    }

    #[test]
    fn escaping_is_idempotent_and_borrows_clean_text() {
        let once = remote("a\u{1b}[31mred\r\n", 100);
        assert_eq!(escape_controls(&once), once.as_str());
        assert!(matches!(escape_controls(&once), Cow::Borrowed(_)));
        assert_eq!(escape_controls("a\nb"), "a\\nb");
    }
}
