//! What a line of text a person typed may hold: a child's name, a title,
//! a place, a file name. No control characters, no bidirectional overrides
//! or isolates (which make a name read differently from what it holds),
//! and not only invisible characters. Devanagari and every other script
//! pass; the joiners they need (ZWJ, ZWNJ) are allowed inside text.

/// Bidirectional embedding, override and isolate controls.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{061C}')
}

/// Characters that show nothing by themselves.
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}' | '\u{034F}'
                | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}'
        )
}

/// Why a line of text is refused, if it is.
pub fn line_rule(s: &str) -> Result<(), &'static str> {
    if s.chars().any(|c| c.is_control()) {
        return Err("it holds a control character");
    }
    if s.chars().any(is_bidi_control) {
        return Err("it holds a bidirectional override or isolate character");
    }
    if s.chars().all(is_invisible) {
        return Err("it is blank or only invisible characters");
    }
    Ok(())
}

/// The same for longer text (notes): line feeds and tabs are allowed.
pub fn text_rule(s: &str) -> Result<(), &'static str> {
    if s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err("it holds a control character");
    }
    if s.chars().any(is_bidi_control) {
        return Err("it holds a bidirectional override or isolate character");
    }
    Ok(())
}

/// `s` with every control character shown as `\u{…}`, for a terminal:
/// text from a record never moves the cursor or changes colours.
pub fn escape_for_terminal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || is_bidi_control(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Longest part of an id, name or version from outside (a request, a
/// bundle, a card) that an error message repeats.
pub const OUTSIDE_ID_CHARS: usize = 64;

/// An id from outside, cut to [`OUTSIDE_ID_CHARS`] for an error message: a
/// hostile megabyte-long "id" is not echoed whole.
pub fn outside_id(s: &str) -> String {
    s.chars().take(OUTSIDE_ID_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_refuse_controls_overrides_and_invisible_only() {
        assert!(line_rule("सीता कुमारी").is_ok());
        assert!(line_rule("क्‍ष").is_ok(), "ZWJ inside a word");
        assert!(line_rule("Asha\u{1b}[2J").is_err());
        assert!(line_rule("Asha\u{202E}gpj.exe").is_err());
        assert!(line_rule("\u{2067}x").is_err());
        assert!(line_rule("\u{200B}\u{200B}").is_err());
        assert!(line_rule("   ").is_err());
        assert!(line_rule("\u{3164}").is_err());
        assert!(text_rule("line one\nline two").is_ok());
        assert!(text_rule("bell\u{7}").is_err());
        assert_eq!(escape_for_terminal("a\u{1b}[31mb"), "a\\u{1b}[31mb");
    }
}
