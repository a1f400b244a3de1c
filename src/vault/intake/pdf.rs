//! Removes a PDF's metadata while it streams:
//!
//! * the document information dictionary (title, author, producer, dates
//!   and any custom entry, where phone apps put a location);
//! * XMP metadata streams (`/Type /Metadata`), the document's and any page's
//!   or image's;
//! * the EXIF, XMP and comment segments of JPEG images embedded in the PDF
//!   (a phone scan is often the camera's JPEG, GPS included, wrapped in a
//!   page), kept as intake keeps them in a JPEG upload: only JFIF, ICC and
//!   Adobe segments stay.
//!
//! Every removal overwrites bytes with blanks of the same length (spaces in
//! dictionaries, an empty XMP packet padded with spaces, zeros inside a JPEG
//! segment), so no offset moves: the cross-reference table stays valid, and
//! memory stays bounded whatever the file size. What was there is gone from
//! the stored bytes, not just unreferenced.
//!
//! The information dictionary is found by what it holds (entries such as
//! `/Author` or `/Producer`, none of the entries of outlines, annotations or
//! pages), because the trailer that names it comes at the end of the file,
//! after the bytes have passed. [`PdfCleaner::finish`] then checks every
//! trailer and cross-reference stream: if one names an information
//! dictionary that was not blanked (one kept compressed inside an object
//! stream, or of an unusual shape), or the file is encrypted (its strings
//! cannot be read), the document is refused with how to convert it, never
//! stored with the metadata in it.
//!
//! Not touched: files attached inside the PDF, page thumbnails, fonts, and
//! an information dictionary of an earlier revision that a later revision
//! replaced with one of another shape.
//!
//! Written by hand: the PDF crates (lopdf, pdf) load a whole document into
//! memory and write it anew; documents here go up to the size limit and
//! must stream through the sealing pass.

use std::collections::HashSet;

use memchr::memmem;

use super::{jpeg_metadata, IntakeError};
use crate::domain::MediaType;

/// Bytes held back between objects, so that an object header or `trailer`
/// split across two chunks is still seen whole.
const HOLD: usize = 48;
/// The largest object (without its stream data) examined; a larger one
/// passes unexamined (and is refused at the end if a trailer names it).
const MAX_OBJECT: usize = 1 << 20;
/// Nesting depth of arrays and dictionaries examined.
const MAX_DEPTH: usize = 64;
/// Bounds the sets kept for the final check.
const MAX_TRACKED: usize = 1 << 20;

/// An empty XMP packet: what an XMP stream holds after cleaning (then spaces).
const EMPTY_XMP: &[u8] = b"<?xpacket begin=\"\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\
<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"/><?xpacket end=\"w\"?>";

/// Entries of the document information dictionary.
const INFO_KEYS: [&[u8]; 9] = [
    b"Title",
    b"Author",
    b"Subject",
    b"Keywords",
    b"Creator",
    b"Producer",
    b"CreationDate",
    b"ModDate",
    b"Trapped",
];
/// Entries that make a dictionary something else (outline item, annotation,
/// page tree node, typed object), never an information dictionary.
const STRUCTURAL_KEYS: [&[u8]; 10] = [
    b"Type", b"Parent", b"Kids", b"Subtype", b"Rect", b"Dest", b"First", b"Last", b"Next", b"Prev",
];

/// An object number and generation.
type Id = (u32, u16);

/// The streaming cleaner: feed it with [`push`](Self::push), end with
/// [`finish`](Self::finish).
#[derive(Default)]
pub struct PdfCleaner {
    /// Input not yet handed out; everything before `pos` is decided.
    buf: Vec<u8>,
    pos: usize,
    mode: Mode,
    /// Information-like dictionaries blanked, whose latest definition so far
    /// is the blanked one.
    blanked: HashSet<Id>,
    /// Information dictionaries named by trailers and cross-reference streams.
    info_refs: HashSet<Id>,
    /// More objects or trailers than the sets above may hold.
    overflow: bool,
    encrypted: bool,
    changed: bool,
}

#[derive(Default)]
enum Mode {
    /// Between objects: looking for `N G obj` or `trailer`.
    #[default]
    Top,
    /// The value of an indirect object starts at `pos`.
    Object(Id),
    /// The trailer dictionary starts at `pos`.
    Trailer,
    /// Stream data starts at `pos`; `left` is its declared length, if direct.
    Stream { left: Option<u64>, action: Action },
}

/// What happens to the data of a stream.
enum Action {
    Pass,
    /// XMP: replaced by an empty packet and spaces; `at` counts the bytes done.
    Blank {
        at: u64,
        len: Option<u64>,
    },
    /// A JPEG image: metadata segments are zeroed.
    Jpeg(JpegScrub),
}

impl PdfCleaner {
    /// Takes the next input bytes; appends the bytes decided so far to `out`.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.buf.extend_from_slice(input);
        while self.step(false) {}
        self.hand_out(out);
    }

    /// Ends the input: appends the rest to `out`, and refuses a PDF whose
    /// metadata could not be removed. `Ok(true)` if anything was blanked.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<bool, IntakeError> {
        while self.step(true) {}
        self.pos = self.buf.len();
        self.hand_out(out);
        let advice = |why: &'static str| IntakeError::CannotClean {
            media: MediaType::Pdf,
            advice: why,
        };
        if self.encrypted {
            return Err(advice(
                "it is password-protected; open it, print it to a new PDF \
                 (Print, then Save as PDF) and upload that",
            ));
        }
        if self.overflow || self.info_refs.iter().any(|r| !self.blanked.contains(r)) {
            return Err(advice(
                "its document information (author, title, dates) is stored in a form \
                 that cannot be removed here; open it, print it to a new PDF \
                 (Print, then Save as PDF) and upload that",
            ));
        }
        Ok(self.changed)
    }

    fn hand_out(&mut self, out: &mut Vec<u8>) {
        out.extend(self.buf.drain(..self.pos));
        self.pos = 0;
    }

    /// Makes one decision; false when more input is needed.
    fn step(&mut self, eof: bool) -> bool {
        match std::mem::take(&mut self.mode) {
            Mode::Top => self.top(eof),
            Mode::Object(id) => self.object(id, eof),
            Mode::Trailer => self.trailer(eof),
            Mode::Stream { left, action } => self.stream(left, action, eof),
        }
    }

    fn top(&mut self, eof: bool) -> bool {
        let after = |s: &Self, from: usize, word: &[u8]| {
            memmem::find(&s.buf[s.pos + from..], word).map(|k| from + k)
        };
        let mut next_trailer = after(self, 0, b"trailer");
        let mut from = 0;
        while let Some(k) = after(self, from, b"obj") {
            if let Some(t) = next_trailer.filter(|&t| t < k) {
                match self.trailer_at(t, eof) {
                    Some(true) => return true,
                    Some(false) => {
                        next_trailer = after(self, t + 1, b"trailer");
                        continue;
                    }
                    None => break,
                }
            }
            let hay = &self.buf[self.pos..];
            match hay.get(k + 3) {
                None if !eof => break,
                Some(&c) if !is_delimiter_or_space(c) => {}
                _ => {
                    if let Some(id) = header_before(&hay[..k]) {
                        self.pos += k + 3;
                        self.mode = Mode::Object(id);
                        return true;
                    }
                }
            }
            from = k + 1;
        }
        while let Some(t) = next_trailer {
            match self.trailer_at(t, eof) {
                Some(true) => return true,
                Some(false) => next_trailer = after(self, t + 1, b"trailer"),
                None => break,
            }
        }
        let keep = if eof { 0 } else { HOLD };
        let decided = (self.buf.len().saturating_sub(keep)).max(self.pos);
        let progress = decided > self.pos && eof;
        self.pos = decided;
        progress
    }

    /// `trailer` at `pos + t`: `Some(true)` if it starts a trailer
    /// dictionary, `None` if the next byte has not arrived.
    fn trailer_at(&mut self, t: usize, eof: bool) -> Option<bool> {
        let hay = &self.buf[self.pos..];
        if t > 0 && !is_delimiter_or_space(hay[t - 1]) {
            return Some(false);
        }
        match hay.get(t + 7) {
            None if !eof => None,
            Some(&c) if !(is_space(c) || c == b'<') => Some(false),
            _ => {
                self.pos += t + 7;
                self.mode = Mode::Trailer;
                Some(true)
            }
        }
    }

    /// Waits for more of an object, or gives up on one too large (or cut
    /// off by the end of the file): it passes unexamined.
    fn wait(&mut self, mode: Mode, eof: bool) -> bool {
        if eof || self.buf.len() - self.pos > MAX_OBJECT {
            self.mode = Mode::Top;
            true
        } else {
            self.mode = mode;
            false
        }
    }

    fn object(&mut self, id: Id, eof: bool) -> bool {
        let mut p = Parser::new(&self.buf, self.pos, eof);
        let value = match p.value(0) {
            Ok(v) => v,
            Err(Parse::More) => return self.wait(Mode::Object(id), eof),
            Err(Parse::Bad) => {
                self.forget(id);
                return true;
            }
        };
        let after = p.keyword_after();
        self.forget(id);
        match after {
            Err(Parse::More) => self.wait(Mode::Object(id), eof),
            Err(Parse::Bad) => true,
            Ok(Keyword::Stream(data_start)) => {
                let (left, action) = match value {
                    Val::Dict(entries, _) => self.stream_action(&entries),
                    _ => (None, Action::Pass),
                };
                self.pos = data_start;
                self.mode = Mode::Stream { left, action };
                true
            }
            Ok(Keyword::End(end)) => {
                if let Val::Dict(entries, span) = value {
                    if info_like(&entries) {
                        self.blank(span.0 + 2, span.1 - 2);
                        self.track_blanked(id);
                    }
                }
                self.pos = end;
                true
            }
        }
    }

    fn trailer(&mut self, eof: bool) -> bool {
        let parsed = {
            let mut p = Parser::new(&self.buf, self.pos, eof);
            p.value(0).map(|v| (v, p.i))
        };
        match parsed {
            Ok((Val::Dict(entries, _), end)) => {
                self.note_trailer(&entries);
                self.pos = end;
                true
            }
            Ok(_) | Err(Parse::Bad) => true,
            Err(Parse::More) => self.wait(Mode::Trailer, eof),
        }
    }

    fn stream(&mut self, left: Option<u64>, mut action: Action, eof: bool) -> bool {
        const END: &[u8] = b"endstream";
        let hay_len = self.buf.len() - self.pos;
        let (avail, ends) = match left {
            Some(l) => {
                let a = (l.min(hay_len as u64)) as usize;
                (a, l <= hay_len as u64 || eof)
            }
            None => match memmem::find(&self.buf[self.pos..], END) {
                Some(i) => (i, true),
                None if eof => (hay_len, true),
                None => (hay_len.saturating_sub(END.len()), false),
            },
        };
        let data = &mut self.buf[self.pos..self.pos + avail];
        let done = match &mut action {
            Action::Pass => avail,
            Action::Blank { at, len } => {
                for b in data.iter_mut() {
                    let want = match *len {
                        Some(l) if l >= EMPTY_XMP.len() as u64 && *at < EMPTY_XMP.len() as u64 => {
                            EMPTY_XMP[*at as usize]
                        }
                        _ => b' ',
                    };
                    self.changed |= *b != want;
                    *b = want;
                    *at += 1;
                }
                avail
            }
            Action::Jpeg(j) => {
                let n = j.scrub(data, ends);
                self.changed |= std::mem::take(&mut j.changed);
                n
            }
        };
        self.pos += done;
        let left = left.map(|l| l - done as u64);
        if ends && done == avail {
            self.mode = Mode::Top;
            return true;
        }
        self.mode = Mode::Stream { left, action };
        done > 0
    }

    /// Decides what happens to a stream's data from its dictionary (still
    /// undecided, so entries can be blanked), and notes a cross-reference
    /// stream's trailer entries.
    fn stream_action(&mut self, entries: &[Entry]) -> (Option<u64>, Action) {
        let left = match get(entries, b"Length") {
            Some(Val::Int(n)) if *n >= 0 => Some(*n as u64),
            _ => None,
        };
        let is =
            |key: &[u8], name: &[u8]| matches!(get(entries, key), Some(Val::Name(n)) if n == name);
        if is(b"Type", b"XRef") {
            self.note_trailer(entries);
        }
        if is(b"Type", b"Metadata") || is(b"Subtype", b"XML") {
            // The data becomes plain text: its filters go.
            for e in entries {
                if matches!(&e.key[..], b"Filter" | b"DecodeParms" | b"DL") {
                    self.blank(e.span.0, e.span.1);
                }
            }
            return (left, Action::Blank { at: 0, len: left });
        }
        let dct = match get(entries, b"Filter") {
            Some(Val::Name(n)) => n == b"DCTDecode",
            Some(Val::Array(items)) => {
                matches!(&items[..], [Val::Name(n)] if n == b"DCTDecode")
            }
            _ => false,
        };
        if dct {
            (left, Action::Jpeg(JpegScrub::default()))
        } else {
            (left, Action::Pass)
        }
    }

    /// A trailer (or cross-reference stream) dictionary.
    fn note_trailer(&mut self, entries: &[Entry]) {
        if get(entries, b"Encrypt").is_some() {
            self.encrypted = true;
        }
        for e in entries.iter().filter(|e| e.key == b"Info") {
            match e.val {
                Val::Ref(id) => {
                    if self.info_refs.len() < MAX_TRACKED {
                        self.info_refs.insert(id);
                    } else {
                        self.overflow = true;
                    }
                }
                // Written in place (against the standard): the entry goes.
                Val::Dict(..) => self.blank(e.span.0, e.span.1),
                _ => {}
            }
        }
    }

    fn track_blanked(&mut self, id: Id) {
        if self.blanked.len() < MAX_TRACKED {
            self.blanked.insert(id);
        } else {
            self.overflow = true;
        }
    }

    /// A later definition of `id` that was not blanked replaces a blanked one.
    fn forget(&mut self, id: Id) {
        self.blanked.remove(&id);
    }

    /// Overwrites `buf[from..to]` with spaces.
    fn blank(&mut self, from: usize, to: usize) {
        for b in &mut self.buf[from..to] {
            self.changed |= *b != b' ';
            *b = b' ';
        }
    }
}

/// Whether a dictionary is (or may be) a document information dictionary.
fn info_like(entries: &[Entry]) -> bool {
    let has = |keys: &[&[u8]]| entries.iter().any(|e| keys.contains(&&e.key[..]));
    entries.is_empty() || (has(&INFO_KEYS) && !has(&STRUCTURAL_KEYS))
}

fn get<'a>(entries: &'a [Entry], key: &[u8]) -> Option<&'a Val> {
    entries.iter().find(|e| e.key == key).map(|e| &e.val)
}

/// `N G ` right before `obj` (at the end of `before`), preceded by a
/// delimiter or the start.
fn header_before(before: &[u8]) -> Option<Id> {
    let mut k = before.len();
    let spaces = |k: &mut usize| {
        let end = *k;
        while *k > 0 && is_space(before[*k - 1]) {
            *k -= 1;
        }
        *k < end
    };
    let digits = |k: &mut usize| {
        let end = *k;
        while *k > 0 && before[*k - 1].is_ascii_digit() && end - *k < 10 {
            *k -= 1;
        }
        (*k < end)
            .then(|| std::str::from_utf8(&before[*k..end]).ok())
            .flatten()
    };
    if !spaces(&mut k) {
        return None;
    }
    let gen: u16 = digits(&mut k)?.parse().ok()?;
    if !spaces(&mut k) {
        return None;
    }
    let num: u32 = digits(&mut k)?.parse().ok()?;
    if k > 0 && !is_delimiter_or_space(before[k - 1]) {
        return None;
    }
    Some((num, gen))
}

fn is_space(c: u8) -> bool {
    matches!(c, 0 | b'\t' | b'\n' | 0x0c | b'\r' | b' ')
}

fn is_delimiter_or_space(c: u8) -> bool {
    is_space(c)
        || matches!(
            c,
            b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
        )
}

/// A parsed value: only what the cleaner looks at is kept.
#[derive(Debug)]
enum Val {
    /// Entries, and the span from `<<` to past `>>`.
    Dict(Vec<Entry>, (usize, usize)),
    Array(Vec<Val>),
    Name(Vec<u8>),
    Int(i64),
    Ref(Id),
    Other,
}

/// A dictionary entry, with the span of key and value.
#[derive(Debug)]
struct Entry {
    key: Vec<u8>,
    val: Val,
    span: (usize, usize),
}

/// Why parsing stopped.
#[derive(Debug)]
enum Parse {
    /// The value runs past the input so far.
    More,
    /// Not a PDF value.
    Bad,
}

/// What follows an object's value.
enum Keyword {
    /// `stream` and its end of line; the data starts here.
    Stream(usize),
    /// `endobj` (or anything else: a missing `endobj`); the object ends here.
    End(usize),
}

/// A parser of PDF values over buffered bytes.
struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    eof: bool,
}

impl<'a> Parser<'a> {
    fn new(b: &'a [u8], i: usize, eof: bool) -> Parser<'a> {
        Parser { b, i, eof }
    }

    fn short(&self) -> Parse {
        if self.eof {
            Parse::Bad
        } else {
            Parse::More
        }
    }

    fn peek(&self) -> Result<u8, Parse> {
        self.b.get(self.i).copied().ok_or_else(|| self.short())
    }

    /// Skips white space and comments.
    fn space(&mut self) -> Result<(), Parse> {
        while let Some(&c) = self.b.get(self.i) {
            if is_space(c) {
                self.i += 1;
            } else if c == b'%' {
                match self.b[self.i..]
                    .iter()
                    .position(|&c| c == b'\n' || c == b'\r')
                {
                    Some(n) => self.i += n,
                    None => return Err(self.short()),
                }
            } else {
                return Ok(());
            }
        }
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<Val, Parse> {
        if depth > MAX_DEPTH {
            return Err(Parse::Bad);
        }
        self.space()?;
        match self.peek()? {
            b'<' => {
                if self.b.get(self.i + 1).ok_or_else(|| self.short())? == &b'<' {
                    self.dict(depth)
                } else {
                    let n = self.b[self.i..].iter().position(|&c| c == b'>');
                    self.i += n.ok_or_else(|| self.short())? + 1;
                    Ok(Val::Other)
                }
            }
            b'(' => self.string(),
            b'/' => Ok(Val::Name(self.name()?)),
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.space()?;
                    if self.peek()? == b']' {
                        self.i += 1;
                        return Ok(Val::Array(items));
                    }
                    items.push(self.value(depth + 1)?);
                }
            }
            c if is_delimiter_or_space(c) => Err(Parse::Bad),
            _ => {
                let token = self.token()?;
                let Some(n) = as_int(token) else {
                    return match token {
                        b"true" | b"false" | b"null" => Ok(Val::Other),
                        t if t
                            .first()
                            .is_some_and(|c| matches!(c, b'+' | b'-' | b'.' | b'0'..=b'9')) =>
                        {
                            Ok(Val::Other)
                        }
                        _ => Err(Parse::Bad),
                    };
                };
                // `N G R`?
                let save = self.i;
                match self.reference(n) {
                    Ok(Some(id)) => Ok(Val::Ref(id)),
                    Ok(None) | Err(Parse::Bad) => {
                        self.i = save;
                        Ok(Val::Int(n))
                    }
                    Err(Parse::More) => Err(Parse::More),
                }
            }
        }
    }

    fn reference(&mut self, num: i64) -> Result<Option<Id>, Parse> {
        self.space()?;
        if !self.peek()?.is_ascii_digit() {
            return Ok(None);
        }
        let Some(gen) = as_int(self.token()?) else {
            return Ok(None);
        };
        self.space()?;
        if self.peek()? != b'R' {
            return Ok(None);
        }
        match self.b.get(self.i + 1) {
            None if !self.eof => return Err(Parse::More),
            Some(&c) if !is_delimiter_or_space(c) => return Ok(None),
            _ => {}
        }
        self.i += 1;
        match (u32::try_from(num), u16::try_from(gen)) {
            (Ok(n), Ok(g)) => Ok(Some((n, g))),
            _ => Ok(None),
        }
    }

    /// A run of regular characters; one that reaches the end may go on.
    fn token(&mut self) -> Result<&'a [u8], Parse> {
        let start = self.i;
        let n = self.b[start..]
            .iter()
            .position(|&c| is_delimiter_or_space(c));
        match n {
            Some(n) => {
                self.i += n;
                Ok(&self.b[start..start + n])
            }
            None if self.eof => {
                self.i = self.b.len();
                Ok(&self.b[start..])
            }
            None => Err(Parse::More),
        }
    }

    fn name(&mut self) -> Result<Vec<u8>, Parse> {
        self.i += 1; // '/'
        let raw = self.token()?;
        let mut out = Vec::with_capacity(raw.len());
        let mut k = 0;
        while k < raw.len() {
            let hex = raw
                .get(k + 1..k + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match (raw[k], hex) {
                (b'#', Some(c)) => {
                    out.push(c);
                    k += 3;
                }
                (c, _) => {
                    out.push(c);
                    k += 1;
                }
            }
        }
        Ok(out)
    }

    fn string(&mut self) -> Result<Val, Parse> {
        let mut depth = 0usize;
        while let Some(&c) = self.b.get(self.i) {
            self.i += 1;
            match c {
                b'\\' => self.i += 1,
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(Val::Other);
                    }
                }
                _ => {}
            }
        }
        Err(self.short())
    }

    fn dict(&mut self, depth: usize) -> Result<Val, Parse> {
        let start = self.i;
        self.i += 2;
        let mut entries = Vec::new();
        loop {
            self.space()?;
            match self.peek()? {
                b'>' => {
                    if self.b.get(self.i + 1).ok_or_else(|| self.short())? != &b'>' {
                        return Err(Parse::Bad);
                    }
                    self.i += 2;
                    return Ok(Val::Dict(entries, (start, self.i)));
                }
                b'/' => {
                    let from = self.i;
                    let key = self.name()?;
                    let val = self.value(depth + 1)?;
                    entries.push(Entry {
                        key,
                        val,
                        span: (from, self.i),
                    });
                }
                _ => return Err(Parse::Bad),
            }
        }
    }

    /// After an object's value: `stream` (and where its data starts) or the end.
    fn keyword_after(&mut self) -> Result<Keyword, Parse> {
        self.space()?;
        let rest = &self.b[self.i..];
        for word in [&b"stream"[..], b"endobj"] {
            if rest.len() < word.len() && word.starts_with(rest) && !self.eof {
                return Err(Parse::More);
            }
        }
        if rest.starts_with(b"endobj") {
            return Ok(Keyword::End(self.i + 6));
        }
        if !rest.starts_with(b"stream") {
            return Ok(Keyword::End(self.i));
        }
        let at = self.i + 6;
        match (self.b.get(at), self.b.get(at + 1)) {
            (Some(b'\r'), Some(b'\n')) => Ok(Keyword::Stream(at + 2)),
            (Some(b'\r'), None) if !self.eof => Err(Parse::More),
            (Some(b'\r' | b'\n'), _) => Ok(Keyword::Stream(at + 1)),
            (None, _) if !self.eof => Err(Parse::More),
            _ => Ok(Keyword::Stream(at)),
        }
    }
}

fn as_int(token: &[u8]) -> Option<i64> {
    std::str::from_utf8(token).ok()?.parse().ok()
}

/// Zeroes the metadata segments of a JPEG as it streams, up to the start of
/// the image data.
#[derive(Default)]
struct JpegScrub {
    state: Jpeg,
    changed: bool,
}

#[derive(Default)]
enum Jpeg {
    /// Bytes of the start-of-image marker seen.
    #[default]
    Start,
    StartSecond,
    /// Expecting `0xFF`.
    Marker,
    /// Expecting the marker code.
    Code,
    /// The segment length: none of its two bytes yet, or the first.
    Length(u8, Option<u8>),
    /// An APP2 segment, whose first bytes say whether it is ICC.
    Head(u8, usize),
    /// Segment contents left; zeroed or kept.
    Body(usize, bool),
    /// Image data (or not a JPEG): passes.
    Done,
}

impl JpegScrub {
    /// Scrubs `data` in place; returns how many bytes are decided (fewer
    /// than all only when a segment's first bytes are needed and `ends` is
    /// false).
    fn scrub(&mut self, data: &mut [u8], ends: bool) -> usize {
        let mut i = 0;
        while i < data.len() {
            let c = data[i];
            self.state = match std::mem::take(&mut self.state) {
                Jpeg::Done => return data.len(),
                Jpeg::Start if c == 0xFF => Jpeg::StartSecond,
                Jpeg::StartSecond if c == 0xD8 => Jpeg::Marker,
                Jpeg::Start | Jpeg::StartSecond => Jpeg::Done,
                Jpeg::Marker if c == 0xFF => Jpeg::Code,
                Jpeg::Marker => Jpeg::Done,
                Jpeg::Code => match c {
                    0xFF => Jpeg::Code,
                    0x01 | 0xD0..=0xD8 => Jpeg::Marker,
                    // End of image, or the start of scan: image data follows.
                    0xD9 | 0xDA => Jpeg::Done,
                    m => Jpeg::Length(m, None),
                },
                Jpeg::Length(m, None) => Jpeg::Length(m, Some(c)),
                Jpeg::Length(m, Some(hi)) => {
                    let len = usize::from(hi) << 8 | usize::from(c);
                    match len.checked_sub(2) {
                        None => Jpeg::Done,
                        Some(0) => Jpeg::Marker,
                        Some(left) if m == 0xE2 => Jpeg::Head(m, left),
                        Some(left) => Jpeg::Body(left, jpeg_metadata(m, &[])),
                    }
                }
                Jpeg::Head(m, left) => {
                    let want = left.min(12);
                    if data.len() - i < want && !ends {
                        self.state = Jpeg::Head(m, left);
                        return i;
                    }
                    let head = &data[i..(i + want).min(data.len())];
                    self.state = Jpeg::Body(left, jpeg_metadata(m, head));
                    continue;
                }
                Jpeg::Body(left, zero) => {
                    let n = left.min(data.len() - i);
                    if zero {
                        for b in &mut data[i..i + n] {
                            self.changed |= *b != 0;
                            *b = 0;
                        }
                    }
                    i += n;
                    self.state = if n == left {
                        Jpeg::Marker
                    } else {
                        Jpeg::Body(left - n, zero)
                    };
                    continue;
                }
            };
            i += 1;
        }
        i
    }
}

/// A reader of the cleaned PDF.
pub(super) struct Cleaned<R> {
    inner: R,
    cleaner: Option<PdfCleaner>,
    out: Vec<u8>,
    at: usize,
    chunk: Vec<u8>,
    /// Set at the end of the input when anything was blanked.
    removed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl<R> Cleaned<R> {
    /// Cleans `inner`; `removed` is set at its end if metadata was removed.
    pub(super) fn new(
        inner: R,
        removed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> Cleaned<R> {
        Cleaned {
            inner,
            cleaner: Some(PdfCleaner::default()),
            out: Vec::new(),
            at: 0,
            chunk: vec![0; 64 * 1024],
            removed,
        }
    }
}

impl<R: std::io::Read> std::io::Read for Cleaned<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.out.len() {
            let Some(cleaner) = self.cleaner.as_mut() else {
                return Ok(0);
            };
            self.out.clear();
            self.at = 0;
            let n = self.inner.read(&mut self.chunk)?;
            if n == 0 {
                let cleaner = self.cleaner.take().expect("checked above");
                let changed = cleaner
                    .finish(&mut self.out)
                    .map_err(IntakeError::into_io)?;
                self.removed
                    .store(changed, std::sync::atomic::Ordering::Relaxed);
            } else {
                cleaner.push(&self.chunk[..n], &mut self.out);
            }
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic JPEG: JFIF, EXIF with a marker, ICC, a comment, image data.
    fn jpeg() -> Vec<u8> {
        let seg = |m: u8, body: &[u8]| {
            let mut s = vec![0xFF, m];
            s.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
            s.extend_from_slice(body);
            s
        };
        let mut j = vec![0xFF, 0xD8];
        j.extend(seg(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"));
        j.extend(seg(0xE1, b"Exif\0\0ZqExifMarker GPS 26.9N"));
        j.extend(seg(0xE2, b"ICC_PROFILE\0\x01\x01ZqIccKept"));
        j.extend(seg(0xFE, b"ZqCommentMarker"));
        j.extend(seg(0xDB, &[0; 65]));
        j.extend(seg(0xDA, &[1, 1, 0, 0, 63, 0]));
        j.extend_from_slice(b"ZqEntropyKept\xFF\x00");
        j.extend_from_slice(&[0xFF, 0xD9]);
        j
    }

    /// A PDF with an information dictionary, document XMP, an outline item
    /// and an embedded JPEG, with a valid cross-reference table.
    fn sample(extra: &[&[u8]], trailer: &str) -> Vec<u8> {
        let xmp = b"<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?><x:xmpmeta xmlns:x='adobe:ns:meta/'>\
<rdf:RDF><rdf:Description exif:GPSLatitude='26,54.7N'>ZqXmpMarker</rdf:Description></rdf:RDF></x:xmpmeta>\
<?xpacket end='w'?>";
        let img = jpeg();
        let mut objs: Vec<Vec<u8>> = vec![
            b"<< /Type /Catalog /Pages 2 0 R /Metadata 5 0 R /Outlines 6 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 64 48] /Resources << /XObject << /Im0 4 0 R >> >> >>".to_vec(),
            [
                format!("<< /Type /XObject /Subtype /Image /Width 64 /Height 48 /Filter [/DCTDecode] /Length {} >>\nstream\n", img.len()).as_bytes(),
                &img,
                b"\nendstream",
            ]
            .concat(),
            [
                format!("<< /Type /Metadata /Subtype /XML /Length {} >>\nstream\r\n", xmp.len()).as_bytes(),
                &xmp[..],
                b"\nendstream",
            ]
            .concat(),
            b"<< /Title (ZqKeepTitle) /Parent 1 0 R >>".to_vec(),
            b"<</Author(ZqChildName)/Title(ZqTitle \\) with (nested) parens)/GPSPosition (26.8N)/Custom 42 /When [1 2]>>".to_vec(),
        ];
        objs.extend(extra.iter().map(|o| o.to_vec()));
        let mut pdf = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = Vec::new();
        for (i, o) in objs.iter().enumerate() {
            offsets.push(pdf.len());
            pdf.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
            pdf.extend_from_slice(o);
            pdf.extend_from_slice(b"\nendobj\n");
        }
        let xref = pdf.len();
        pdf.extend_from_slice(
            format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1).as_bytes(),
        );
        for o in offsets {
            pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
        }
        pdf.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R {trailer} >>\nstartxref\n{xref}\n%%EOF\n",
                objs.len() + 1
            )
            .as_bytes(),
        );
        pdf
    }

    fn clean(pdf: &[u8], chunk: usize) -> Result<(Vec<u8>, bool), IntakeError> {
        let mut c = PdfCleaner::default();
        let mut out = Vec::new();
        for part in pdf.chunks(chunk) {
            c.push(part, &mut out);
        }
        let changed = c.finish(&mut out)?;
        Ok((out, changed))
    }

    fn has(hay: &[u8], needle: &str) -> bool {
        memmem::find(hay, needle.as_bytes()).is_some()
    }

    #[test]
    fn information_xmp_and_jpeg_metadata_are_blanked_in_place() {
        let pdf = sample(&[], "/Info 7 0 R");
        for needle in [
            "ZqChildName",
            "ZqXmpMarker",
            "ZqExifMarker",
            "ZqCommentMarker",
        ] {
            assert!(has(&pdf, needle));
        }
        let (first, changed) = clean(&pdf, 1 << 16).unwrap();
        assert!(changed);
        assert_eq!(first.len(), pdf.len(), "no offset moves");
        for needle in [
            "ZqChildName",
            "ZqTitle",
            "26.8N",
            "ZqXmpMarker",
            "ZqExifMarker",
            "ZqCommentMarker",
        ] {
            assert!(!has(&first, needle), "{needle} survived");
        }
        for kept in [
            "ZqKeepTitle",
            "ZqIccKept",
            "ZqEntropyKept",
            "JFIF",
            "/Type /Catalog",
            "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"/>",
        ] {
            assert!(has(&first, kept), "{kept} lost");
        }
        let xref = memmem::find(&pdf, b"xref\n0").unwrap();
        assert_eq!(first[xref..], pdf[xref..], "cross-references unchanged");
        // Whatever the chunk size, the same bytes; cleaning again changes nothing.
        for chunk in [1, 2, 3, 7, 50, 333, 4096] {
            assert_eq!(clean(&pdf, chunk).unwrap().0, first, "chunks of {chunk}");
        }
        assert_eq!(clean(&first, 5).unwrap(), (first.clone(), false));
    }

    #[test]
    fn a_pdf_without_metadata_passes_unchanged() {
        let pdf = sample(&[], "");
        let pdf = String::from_utf8_lossy(&pdf)
            .replace("/Metadata 5 0 R", "               ")
            .into_bytes();
        let mut c = PdfCleaner::default();
        let mut out = Vec::new();
        let plain =
            b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";
        c.push(plain, &mut out);
        assert!(!c.finish(&mut out).unwrap());
        assert_eq!(out, plain);
        // The sample less its information dictionary still has XMP and EXIF.
        assert!(clean(&pdf, 100).unwrap().1);
    }

    #[test]
    fn xmp_with_an_indirect_length_and_a_filter_is_blanked_to_its_end() {
        let obj: &[u8] = b"<< /Type /Metadata /Filter /FlateDecode /Length 10 0 R >>\nstream\nx\x9cZqCompressedXmp\nendstream";
        let pdf = sample(&[obj, b"17"], "/Info 7 0 R");
        let (out, _) = clean(&pdf, 9).unwrap();
        assert_eq!(out.len(), pdf.len());
        assert!(!has(&out, "ZqCompressedXmp"));
        assert!(!has(&out, "FlateDecode"), "the filter goes with the data");
        assert!(has(&out, "endstream\nendobj\n9 0 obj\n17"));
    }

    #[test]
    fn what_cannot_be_cleaned_is_refused() {
        // The information dictionary is inside an object stream: never seen.
        let err = clean(&sample(&[], "/Info 12 0 R"), 4096).unwrap_err();
        assert!(err.to_string().contains("Save as PDF"), "{err}");
        // Encrypted.
        let err = clean(&sample(&[], "/Info 7 0 R /Encrypt 5 0 R"), 4096).unwrap_err();
        assert!(err.to_string().contains("password"), "{err}");
        // A later revision redefines the information dictionary in a shape
        // that is not blanked.
        let mut pdf = sample(&[], "/Info 7 0 R");
        pdf.extend_from_slice(b"7 0 obj\n<< /Author (ZqLater) /Parent 1 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R /Info 7 0 R >>\n%%EOF\n");
        assert!(clean(&pdf, 4096).is_err());
    }

    #[test]
    fn a_cross_reference_stream_names_the_information_dictionary_too() {
        let xref: &[u8] = b"<< /Type /XRef /Size 9 /Root 1 0 R /Info 9 0 R /W [1 2 1] /Length 4 >>\nstream\n\x01\x02\x03\x04\nendstream";
        // Object 8 is the cross-reference stream; 9 is defined nowhere.
        assert!(clean(&sample(&[xref], ""), 4096).is_err());
        let xref: &[u8] = b"<< /Type /XRef /Size 9 /Root 1 0 R /Info 7 0 R /W [1 2 1] /Length 4 >>\nstream\n\x01\x02\x03\x04\nendstream";
        assert!(clean(&sample(&[xref], ""), 4096).is_ok());
    }

    #[test]
    fn hostile_nesting_and_huge_objects_pass_through_bounded() {
        let deep = [b"<< /A ".repeat(200), b">>".repeat(200)].concat();
        let big = [
            &b"<< /Author ("[..],
            &vec![b'a'; MAX_OBJECT + 100_000],
            b") >>",
        ]
        .concat();
        let pdf = sample(&[&deep, &big], "");
        let (out, _) = clean(&pdf, 1 << 16).unwrap();
        assert_eq!(out.len(), pdf.len());
        // The huge one was not examined, so a trailer naming it is refused.
        let pdf = sample(&[&big], "/Info 8 0 R");
        assert!(clean(&pdf, 1 << 16).is_err());
    }
}
