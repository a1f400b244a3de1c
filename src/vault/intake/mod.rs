//! What the vault accepts as a document, decided from the bytes, never the
//! file name: the media type, the size limit, completeness (a truncated
//! upload is refused), and removal of EXIF/XMP metadata (GPS above all) from
//! JPEG/PNG/WebP scans without re-encoding the image, and from PDFs as they
//! stream ([`pdf`]).
//!
//! [`prepare`] turns a raw source into a reader of exactly the bytes to store;
//! checks that need the whole stream fail from inside that reader, as an
//! `io::Error` wrapping an [`IntakeError`].

mod pdf;

use std::io::{self, Cursor, Read};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bytes::Bytes;

use crate::domain::{DocKind, MediaType};

/// Bytes examined to recognise the media type.
const SNIFF_BYTES: usize = 64 * 1024;
/// Bytes kept from the end of the stream for the completeness check.
const TAIL_BYTES: usize = 1024;

/// Why a document was refused.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("the file is empty")]
    Empty,
    #[error("the file's content is {0}, which is not an accepted document type (accepted: PDF, JPEG, PNG, TIFF, WebP, HEIC; plain text only for kind `other`)")]
    Unsupported(String),
    #[error("plain text is accepted only for kind `other`; scans must be PDF, JPEG, PNG, TIFF, WebP or HEIC")]
    TextNotAllowed,
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error(
        "{media} scans are accepted up to {limit} bytes (their metadata is removed in memory)"
    )]
    ImageTooLarge { media: MediaType, limit: u64 },
    #[error("the {0} file is incomplete ({1}); was the upload cut off?")]
    Truncated(MediaType, &'static str),
    #[error("the input ended after {received} of its {declared} bytes; was it cut off?")]
    SizeMismatch { declared: u64, received: u64 },
    #[error("the text is not valid UTF-8 plain text")]
    NotText,
    /// Markup (HTML, SVG, XML, script) passed off as plain text.
    #[error("the text holds markup or script (HTML, SVG, XML); only plain text is accepted for kind `other`: save it as PDF")]
    Markup,
    #[error("the {0} file is malformed: {1}")]
    Malformed(MediaType, String),
    #[error("the content is {found}, not the {declared} declared for it")]
    MediaMismatch {
        declared: MediaType,
        found: MediaType,
    },
    /// A format whose metadata (GPS included) intake cannot remove safely.
    #[error(
        "{media} files cannot be cleaned of their metadata (location included) here: {advice}"
    )]
    CannotClean {
        media: MediaType,
        advice: &'static str,
    },
    #[error("the {0} scan still carries metadata (EXIF, XMP, IPTC, text or comments) that intake removes")]
    Metadata(MediaType),
}

impl IntakeError {
    /// Carries this refusal through an `io::Error` (for checks inside readers).
    pub fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }

    /// Recovers an intake refusal carried inside an `io::Error`.
    pub fn from_io(e: io::Error) -> Result<IntakeError, io::Error> {
        if e.get_ref().is_some_and(|i| i.is::<IntakeError>()) {
            let inner = e.into_inner().expect("checked above");
            Ok(*inner.downcast::<IntakeError>().expect("checked above"))
        } else {
            Err(e)
        }
    }
}

/// Size limits, from the settings.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: u64,
    pub max_image_bytes: u64,
}

/// A source ready to be stored.
pub struct Prepared {
    pub media: MediaType,
    /// Yields exactly the bytes to store; fails if the rest of the input breaks a rule.
    pub reader: Box<dyn Read + Send>,
    /// Once `reader` has ended: whether metadata (EXIF, GPS, XMP, a PDF's
    /// document information…) was removed from the file.
    pub metadata_removed: Arc<AtomicBool>,
}

/// Recognises `source`'s media type and wraps it in the checks for that type.
/// `Err(Ok(refusal))` is a refused document; `Err(Err(io))` failed to read.
pub fn prepare(
    mut source: Box<dyn Read + Send>,
    kind: DocKind,
    limits: Limits,
) -> Result<Prepared, Result<IntakeError, io::Error>> {
    let head = read_up_to(&mut source, SNIFF_BYTES).map_err(IntakeError::from_io)?;
    if head.is_empty() {
        return Err(Ok(IntakeError::Empty));
    }
    let media = check_head(&head, kind, None, limits).map_err(Ok)?;
    let rest = Cursor::new(head).chain(source);
    match media {
        MediaType::Jpeg | MediaType::Png | MediaType::Webp => {
            let cap = limits.max_image_bytes.min(limits.max_bytes);
            let mut all = Vec::new();
            rest.take(cap + 1)
                .read_to_end(&mut all)
                .map_err(IntakeError::from_io)?;
            if all.len() as u64 > cap {
                return Err(Ok(if cap == limits.max_bytes {
                    IntakeError::TooLarge { limit: cap }
                } else {
                    IntakeError::ImageTooLarge { media, limit: cap }
                }));
            }
            let received = all.len();
            let stripped = strip_image_metadata(media, Bytes::from(all)).map_err(Ok)?;
            Ok(Prepared {
                media,
                metadata_removed: Arc::new(AtomicBool::new(stripped.len() != received)),
                reader: Box::new(Cursor::new(stripped)),
            })
        }
        _ => {
            let guarded = Guarded {
                inner: rest,
                seen: 0,
                limit: limits.max_bytes,
                check: Completeness::for_media(media),
            };
            let metadata_removed = Arc::new(AtomicBool::new(false));
            let reader: Box<dyn Read + Send> = if media == MediaType::Pdf {
                Box::new(pdf::Cleaned::new(guarded, metadata_removed.clone()))
            } else {
                Box::new(guarded)
            };
            Ok(Prepared {
                media,
                reader,
                metadata_removed,
            })
        }
    }
}

/// Bytes a file's head must hold for [`check_head`] to decide (fewer only
/// when the whole file is shorter).
pub const HEAD_BYTES: usize = SNIFF_BYTES;

/// The checks that the first [`HEAD_BYTES`] of a file decide: its media
/// type, whether it is accepted for `kind`, and (when the whole length is
/// known in advance) the size limit of its type. Run by [`prepare`] on
/// every document, and early on a resumable upload.
pub fn check_head(
    head: &[u8],
    kind: DocKind,
    length: Option<u64>,
    limits: Limits,
) -> Result<MediaType, IntakeError> {
    if head.is_empty() {
        return Err(IntakeError::Empty);
    }
    let head = &head[..head.len().min(SNIFF_BYTES)];
    let media = sniff(head)?;
    // TIFF keeps GPS and XMP in IFDs anywhere in the file, HEIC in boxes
    // this node cannot rewrite: refused, with how to convert, rather than
    // stored with the child's location in them.
    match media {
        MediaType::Tiff => {
            return Err(IntakeError::CannotClean {
                media,
                advice: "save or export the scan as PDF (or JPEG or PNG) and upload that",
            })
        }
        MediaType::Heic => {
            return Err(IntakeError::CannotClean {
                media,
                advice: "on an iPhone choose Settings > Camera > Formats > Most Compatible, \
                         or share the photo as JPEG, and upload that",
            })
        }
        _ => {}
    }
    if media == MediaType::Text && kind != DocKind::Other {
        return Err(IntakeError::TextNotAllowed);
    }
    if let Some(length) = length {
        let image = matches!(media, MediaType::Jpeg | MediaType::Png | MediaType::Webp);
        let cap = if image {
            limits.max_image_bytes.min(limits.max_bytes)
        } else {
            limits.max_bytes
        };
        if length > cap {
            return Err(if cap == limits.max_bytes {
                IntakeError::TooLarge { limit: cap }
            } else {
                IntakeError::ImageTooLarge { media, limit: cap }
            });
        }
    }
    Ok(media)
}

fn read_up_to(r: &mut dyn Read, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(n);
    r.take(n as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// The accepted media type of a file starting with `head`.
pub fn sniff(head: &[u8]) -> Result<MediaType, IntakeError> {
    let found = infer::get(head);
    let media = match found.map(|t| t.mime_type()) {
        Some("application/pdf") => MediaType::Pdf,
        Some("image/jpeg") => MediaType::Jpeg,
        Some("image/png") => MediaType::Png,
        Some("image/tiff") => MediaType::Tiff,
        Some("image/webp") => MediaType::Webp,
        Some("image/heif") => MediaType::Heic,
        Some(other) => return Err(IntakeError::Unsupported(other.to_string())),
        None if looks_like_text(head) => MediaType::Text,
        None => return Err(IntakeError::Unsupported("unrecognised binary data".into())),
    };
    Ok(media)
}

fn looks_like_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        // A multi-byte character cut by the sniff window is fine.
        Err(e) => e.error_len().is_none(),
    };
    valid && head.iter().all(|&b| !is_binary_control(b))
}

fn is_binary_control(b: u8) -> bool {
    b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c)
}

/// Removes EXIF, XMP, IPTC and comments; image data is copied as is.
fn strip_image_metadata(media: MediaType, data: Bytes) -> Result<Bytes, IntakeError> {
    use img_parts::jpeg::Jpeg;
    use img_parts::png::Png;
    use img_parts::webp::WebP;
    use img_parts::ImageEXIF;

    let bad = |e: img_parts::Error| IntakeError::Malformed(media, e.to_string());
    match media {
        MediaType::Jpeg => {
            if !jpeg_complete(&data) {
                return Err(IntakeError::Truncated(media, "no end-of-image marker"));
            }
            let mut jpeg = Jpeg::from_bytes(data).map_err(bad)?;
            jpeg.segments_mut()
                .retain(|s| !jpeg_metadata(s.marker(), &s.contents()[..]));
            Ok(jpeg.encoder().bytes())
        }
        MediaType::Png => {
            if !png_complete(&data) {
                return Err(IntakeError::Truncated(media, "no IEND chunk at the end"));
            }
            let mut png = Png::from_bytes(data).map_err(bad)?;
            png.chunks_mut().retain(|c| !png_metadata(&c.kind()));
            Ok(png.encoder().bytes())
        }
        MediaType::Webp => {
            if !riff_complete(&data) {
                return Err(IntakeError::Truncated(
                    media,
                    "shorter than its RIFF header says",
                ));
            }
            let mut webp = WebP::from_bytes(data).map_err(bad)?;
            webp.remove_chunks_by_id(*b"XMP ");
            // Also clears the VP8X flags for what was removed.
            webp.set_exif(None);
            Ok(webp.encoder().bytes())
        }
        _ => Ok(data),
    }
}

/// JPEG segments intake removes: EXIF/XMP (APP1), APP12, IPTC (APP13), comments.
fn jpeg_metadata(marker: u8, contents: &[u8]) -> bool {
    use img_parts::jpeg::markers;
    match marker {
        // What decoding needs: JFIF (APP0), the ICC colour profile (APP2
        // `ICC_PROFILE`) and Adobe's colour transform (APP14).
        markers::APP0 | markers::APP14 => false,
        markers::APP2 => !contents.starts_with(b"ICC_PROFILE\0"),
        // Every other application segment (EXIF, XMP, IPTC, FlashPix,
        // vendor notes in APP3-APP15) and comments.
        0xE1..=0xEF | markers::COM => true,
        _ => false,
    }
}

/// PNG chunks intake removes: every chunk but the critical ones,
/// transparency and colour information (so EXIF, text, time and private
/// chunks all go).
fn png_metadata(kind: &[u8; 4]) -> bool {
    !matches!(
        kind,
        b"IHDR"
            | b"PLTE"
            | b"IDAT"
            | b"IEND"
            | b"tRNS"
            | b"cHRM"
            | b"gAMA"
            | b"iCCP"
            | b"sBIT"
            | b"sRGB"
            | b"cICP"
            | b"mDCv"
            | b"cLLi"
    )
}

/// WebP chunks intake removes: XMP and EXIF.
const WEBP_METADATA: [[u8; 4]; 2] = [*b"XMP ", *b"EXIF"];

/// Checks an image that arrived already sealed: complete, well formed, and
/// free of the metadata intake removes (it is refused, not changed).
fn check_clean_image(media: MediaType, data: Bytes) -> Result<(), IntakeError> {
    use img_parts::jpeg::Jpeg;
    use img_parts::png::Png;
    use img_parts::webp::WebP;

    let bad = |e: img_parts::Error| IntakeError::Malformed(media, e.to_string());
    let carries = match media {
        MediaType::Jpeg => {
            if !jpeg_complete(&data) {
                return Err(IntakeError::Truncated(media, "no end-of-image marker"));
            }
            let jpeg = Jpeg::from_bytes(data).map_err(bad)?;
            jpeg.segments()
                .iter()
                .any(|s| jpeg_metadata(s.marker(), &s.contents()[..]))
        }
        MediaType::Png => {
            if !png_complete(&data) {
                return Err(IntakeError::Truncated(media, "no IEND chunk at the end"));
            }
            let png = Png::from_bytes(data).map_err(bad)?;
            png.chunks().iter().any(|c| png_metadata(&c.kind()))
        }
        MediaType::Webp => {
            if !riff_complete(&data) {
                return Err(IntakeError::Truncated(
                    media,
                    "shorter than its RIFF header says",
                ));
            }
            let webp = WebP::from_bytes(data).map_err(bad)?;
            WEBP_METADATA
                .iter()
                .any(|id| webp.chunk_by_id(*id).is_some())
        }
        _ => false,
    };
    if carries {
        Err(IntakeError::Metadata(media))
    } else {
        Ok(())
    }
}

/// Checks a document's plaintext as it is written through it, by the rules
/// of intake and against the media type its manifest declares. For a
/// document that arrives already sealed (in a bundle): it is checked, never
/// changed, so an image that still carries metadata is refused.
pub struct Inspection {
    kind: DocKind,
    declared: MediaType,
    limits: Limits,
    seen: u64,
    stage: Stage,
}

enum Stage {
    /// Collecting the first bytes to recognise the type.
    Sniffing(Vec<u8>),
    /// A streamed type, checked as it passes.
    Streaming(Completeness),
    /// An image, kept (up to the image limit) to check at the end.
    Image(MediaType, Vec<u8>),
}

impl Inspection {
    pub fn new(kind: DocKind, declared: MediaType, limits: Limits) -> Inspection {
        Inspection {
            kind,
            declared,
            limits,
            seen: 0,
            stage: Stage::Sniffing(Vec::new()),
        }
    }

    fn image_cap(&self) -> u64 {
        self.limits.max_image_bytes.min(self.limits.max_bytes)
    }

    /// Recognises the type from the first bytes and starts its checks.
    fn recognise(&mut self) -> Result<(), IntakeError> {
        let Stage::Sniffing(head) = &mut self.stage else {
            return Ok(());
        };
        let head = std::mem::take(head);
        let media = sniff(&head)?;
        if media != self.declared {
            return Err(IntakeError::MediaMismatch {
                declared: self.declared,
                found: media,
            });
        }
        if media == MediaType::Text && self.kind != DocKind::Other {
            return Err(IntakeError::TextNotAllowed);
        }
        self.stage = match media {
            MediaType::Jpeg | MediaType::Png | MediaType::Webp => Stage::Image(media, head),
            _ => {
                let mut check = Completeness::for_media(media);
                check.update(&head)?;
                Stage::Streaming(check)
            }
        };
        self.check_image_size()
    }

    fn check_image_size(&self) -> Result<(), IntakeError> {
        let cap = self.image_cap();
        match &self.stage {
            Stage::Image(media, all) if all.len() as u64 > cap => {
                Err(if cap == self.limits.max_bytes {
                    IntakeError::TooLarge { limit: cap }
                } else {
                    IntakeError::ImageTooLarge {
                        media: *media,
                        limit: cap,
                    }
                })
            }
            _ => Ok(()),
        }
    }

    fn take(&mut self, buf: &[u8]) -> Result<(), IntakeError> {
        self.seen += buf.len() as u64;
        if self.seen > self.limits.max_bytes {
            return Err(IntakeError::TooLarge {
                limit: self.limits.max_bytes,
            });
        }
        match &mut self.stage {
            Stage::Sniffing(head) => {
                head.extend_from_slice(buf);
                if head.len() >= SNIFF_BYTES {
                    self.recognise()?;
                }
                Ok(())
            }
            Stage::Streaming(check) => check.update(buf),
            Stage::Image(_, all) => {
                all.extend_from_slice(buf);
                self.check_image_size()
            }
        }
    }

    /// The checks that need the whole document.
    pub fn finish(mut self) -> Result<(), IntakeError> {
        if self.seen == 0 {
            return Err(IntakeError::Empty);
        }
        self.recognise()?;
        match self.stage {
            Stage::Streaming(check) => check.finish(),
            Stage::Image(media, all) => check_clean_image(media, Bytes::from(all)),
            Stage::Sniffing(_) => unreachable!("recognised above"),
        }
    }
}

impl io::Write for Inspection {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.take(buf).map_err(IntakeError::into_io)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Trailing bytes some scanners pad a file with.
fn trim_padding(data: &[u8]) -> &[u8] {
    let end = data
        .iter()
        .rposition(|&b| !matches!(b, 0 | b'\n' | b'\r' | b' '))
        .map_or(0, |i| i + 1);
    &data[..end]
}

fn jpeg_complete(data: &[u8]) -> bool {
    trim_padding(data).ends_with(&[0xFF, 0xD9])
}

fn png_complete(data: &[u8]) -> bool {
    trim_padding(data).ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82])
}

fn riff_complete(data: &[u8]) -> bool {
    data.len() >= 8 && {
        let size = u32::from_le_bytes([data[4], data[5], data[6], data[7]]) as usize;
        data.len() >= size + 8
    }
}

/// Counts bytes against the limit and checks completeness at the end.
struct Guarded<R> {
    inner: R,
    seen: u64,
    limit: u64,
    check: Completeness,
}

impl<R: Read> Read for Guarded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.check.finish().map_err(IntakeError::into_io)?;
            return Ok(0);
        }
        self.seen += n as u64;
        if self.seen > self.limit {
            return Err(IntakeError::TooLarge { limit: self.limit }.into_io());
        }
        self.check.update(&buf[..n]).map_err(IntakeError::into_io)?;
        Ok(n)
    }
}

/// Streaming completeness and well-formedness checks, per media type.
enum Completeness {
    /// PDF: the trailer's `%%EOF` must be near the end.
    PdfTail(Tail),
    /// HEIC: top-level ISO-BMFF boxes must add up to the file length.
    Boxes(BoxWalker),
    /// Plain text: valid UTF-8 without binary control bytes.
    Text(Utf8Check),
    /// TIFF: offsets point anywhere, so completeness is not checkable in a stream.
    Unchecked,
}

impl Completeness {
    fn for_media(media: MediaType) -> Completeness {
        match media {
            MediaType::Pdf => Completeness::PdfTail(Tail::default()),
            MediaType::Heic => Completeness::Boxes(BoxWalker::default()),
            MediaType::Text => Completeness::Text(Utf8Check::default()),
            _ => Completeness::Unchecked,
        }
    }

    fn update(&mut self, chunk: &[u8]) -> Result<(), IntakeError> {
        match self {
            Completeness::PdfTail(t) => {
                t.push(chunk);
                Ok(())
            }
            Completeness::Boxes(w) => w.push(chunk),
            Completeness::Text(u) => u.push(chunk),
            Completeness::Unchecked => Ok(()),
        }
    }

    fn finish(&self) -> Result<(), IntakeError> {
        match self {
            Completeness::PdfTail(t) if !t.contains(b"%%EOF") => Err(IntakeError::Truncated(
                MediaType::Pdf,
                "no %%EOF trailer at the end",
            )),
            Completeness::Boxes(w) => w.finish(),
            Completeness::Text(u) => u.finish(),
            _ => Ok(()),
        }
    }
}

/// The last [`TAIL_BYTES`] of a stream.
#[derive(Default)]
struct Tail(Vec<u8>);

impl Tail {
    fn push(&mut self, chunk: &[u8]) {
        let keep = TAIL_BYTES.min(chunk.len());
        self.0.extend_from_slice(&chunk[chunk.len() - keep..]);
        if self.0.len() > TAIL_BYTES {
            self.0.drain(..self.0.len() - TAIL_BYTES);
        }
    }
    fn contains(&self, needle: &[u8]) -> bool {
        self.0.windows(needle.len()).any(|w| w == needle)
    }
}

/// Walks top-level ISO-BMFF boxes (size, type[, largesize]) in a stream.
#[derive(Default)]
struct BoxWalker {
    /// Offset of the stream.
    pos: u64,
    /// Offset where the next box header starts.
    next: u64,
    /// Header bytes of the next box collected so far.
    header: Vec<u8>,
    /// The last box runs to the end of the file (size 0).
    to_end: bool,
}

impl BoxWalker {
    fn push(&mut self, mut chunk: &[u8]) -> Result<(), IntakeError> {
        while !chunk.is_empty() && !self.to_end {
            if self.pos < self.next {
                let skip = ((self.next - self.pos) as usize).min(chunk.len());
                self.pos += skip as u64;
                chunk = &chunk[skip..];
                continue;
            }
            let want = if self.header.len() >= 8 && read_u32(&self.header) == 1 {
                16
            } else {
                8
            };
            let take = (want - self.header.len()).min(chunk.len());
            self.header.extend_from_slice(&chunk[..take]);
            self.pos += take as u64;
            chunk = &chunk[take..];
            if self.header.len() < want {
                continue;
            }
            let size = match read_u32(&self.header) {
                0 => {
                    self.to_end = true;
                    continue;
                }
                1 if want == 8 => continue, // need the 64-bit size
                1 => u64::from_be_bytes(self.header[8..16].try_into().expect("16 bytes")),
                n => u64::from(n),
            };
            if size < want as u64 {
                return Err(IntakeError::Malformed(
                    MediaType::Heic,
                    "box size below its header".into(),
                ));
            }
            self.next += size;
            self.header.clear();
        }
        Ok(())
    }

    fn finish(&self) -> Result<(), IntakeError> {
        if self.to_end || (self.header.is_empty() && self.pos == self.next) {
            Ok(())
        } else {
            Err(IntakeError::Truncated(
                MediaType::Heic,
                "its last box is cut short",
            ))
        }
    }
}

fn read_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Openings of markup that a browser or viewer would run or render,
/// lower-case. Plain text never needs them.
const MARKUP: [&[u8]; 14] = [
    b"<script",
    b"<svg",
    b"<html",
    b"<!doctype",
    b"<?xml",
    b"<iframe",
    b"<object",
    b"<embed",
    b"<body",
    b"<img",
    b"<meta",
    b"<link",
    b"javascript:",
    b"<style",
];
/// The longest of them, less one: the tail kept between chunks.
const MARKUP_TAIL: usize = 10;

/// Validates UTF-8 across chunk boundaries, and refuses markup.
#[derive(Default)]
struct Utf8Check {
    carry: Vec<u8>,
    /// The last bytes of the previous chunk, lower-cased.
    tail: Vec<u8>,
}

impl Utf8Check {
    fn push(&mut self, chunk: &[u8]) -> Result<(), IntakeError> {
        if chunk.iter().any(|&b| is_binary_control(b)) {
            return Err(IntakeError::NotText);
        }
        let mut window = std::mem::take(&mut self.tail);
        window.extend(chunk.iter().map(u8::to_ascii_lowercase));
        if MARKUP
            .iter()
            .any(|m| window.windows(m.len()).any(|w| w == *m))
        {
            return Err(IntakeError::Markup);
        }
        self.tail = window[window.len().saturating_sub(MARKUP_TAIL)..].to_vec();
        let mut buf = std::mem::take(&mut self.carry);
        buf.extend_from_slice(chunk);
        match std::str::from_utf8(&buf) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                self.carry = buf[e.valid_up_to()..].to_vec();
                Ok(())
            }
            Err(_) => Err(IntakeError::NotText),
        }
    }
    fn finish(&self) -> Result<(), IntakeError> {
        if self.carry.is_empty() {
            Ok(())
        } else {
            Err(IntakeError::NotText)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_passed_off_as_text_is_refused_even_across_chunks() {
        for text in [
            &b"<svg onload=alert(1)>"[..],
            b"hello <SCRIPT>x</script>",
            b"<!DOCTYPE html><p>",
            b"<?xml version='1.0'?>",
            b"click javascript:alert(1)",
        ] {
            let mut c = Utf8Check::default();
            assert!(matches!(c.push(text), Err(IntakeError::Markup)), "{text:?}");
        }
        let mut c = Utf8Check::default();
        c.push(b"a note, then <scr").unwrap();
        assert!(matches!(c.push(b"ipt>"), Err(IntakeError::Markup)));
        let mut c = Utf8Check::default();
        c.push("a < b and x > y, राम".as_bytes()).unwrap();
        c.finish().unwrap();
    }

    const LIMITS: Limits = Limits {
        max_bytes: 1 << 20,
        max_image_bytes: 1 << 20,
    };

    fn run(bytes: &[u8], kind: DocKind, limits: Limits) -> Result<(MediaType, Vec<u8>), String> {
        let prepared = prepare(Box::new(Cursor::new(bytes.to_vec())), kind, limits)
            .map_err(|e| e.map_or_else(|io| io.to_string(), |i| i.to_string()))?;
        let mut out = Vec::new();
        let mut reader = prepared.reader;
        reader.read_to_end(&mut out).map_err(|e| {
            IntakeError::from_io(e).map_or_else(|io| io.to_string(), |i| i.to_string())
        })?;
        Ok((prepared.media, out))
    }

    fn pdf(body_len: usize) -> Vec<u8> {
        let mut v = b"%PDF-1.7\n".to_vec();
        v.extend(std::iter::repeat_n(b'x', body_len));
        v.extend_from_slice(b"\n%%EOF\n");
        v
    }

    #[test]
    fn pdf_passes_and_truncated_pdf_is_refused() {
        let doc = pdf(200_000);
        assert_eq!(
            run(&doc, DocKind::Fir, LIMITS).unwrap(),
            (MediaType::Pdf, doc.clone())
        );
        let err = run(&doc[..100_000], DocKind::Fir, LIMITS).unwrap_err();
        assert!(err.contains("incomplete"), "{err}");
    }

    #[test]
    fn limits_count_every_byte() {
        let doc = pdf(2_000);
        let small = Limits {
            max_bytes: 1_000,
            max_image_bytes: 1_000,
        };
        assert!(run(&doc, DocKind::Fir, small)
            .unwrap_err()
            .contains("larger than the limit"));
        let exact = Limits {
            max_bytes: doc.len() as u64,
            max_image_bytes: 10,
        };
        assert!(run(&doc, DocKind::Fir, exact).is_ok());
    }

    #[test]
    fn executables_text_and_empty() {
        let elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0>\0".to_vec();
        assert!(run(&elf, DocKind::Fir, LIMITS)
            .unwrap_err()
            .contains("not an accepted"));
        assert!(run(b"", DocKind::Other, LIMITS)
            .unwrap_err()
            .contains("empty"));
        let text = "नमस्ते, plain note\n".repeat(10_000);
        assert_eq!(
            run(text.as_bytes(), DocKind::Other, LIMITS).unwrap().0,
            MediaType::Text
        );
        assert!(run(text.as_bytes(), DocKind::Fir, LIMITS)
            .unwrap_err()
            .contains("only for kind"));
        let mut bad = text.into_bytes();
        bad.extend_from_slice(&[0xff, 0xfe, 0x00]);
        assert!(run(&bad, DocKind::Other, LIMITS)
            .unwrap_err()
            .contains("UTF-8"));
    }

    #[test]
    fn heic_boxes_must_add_up() {
        let mut heic = Vec::new();
        heic.extend_from_slice(&24u32.to_be_bytes());
        heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
        heic.extend_from_slice(&(8u32 + 100_000).to_be_bytes());
        heic.extend_from_slice(b"mdat");
        heic.extend(std::iter::repeat_n(7u8, 100_000));
        // Uploads refuse HEIC (its metadata cannot be removed here), with
        // how to convert.
        let err = run(&heic, DocKind::Identity, LIMITS).unwrap_err();
        assert!(err.contains("Most Compatible"), "{err}");
        let mut tiff = b"II*\0\x08\0\0\0".to_vec();
        tiff.extend(std::iter::repeat_n(0u8, 100));
        let err = run(&tiff, DocKind::Identity, LIMITS).unwrap_err();
        assert!(err.contains("as PDF"), "{err}");
        // In a bundle, a HEIC's boxes must still add up.
        let mut check = Completeness::for_media(MediaType::Heic);
        check.update(&heic[..50_000]).unwrap();
        assert!(check.finish().is_err());
    }

    #[test]
    fn tail_keeps_the_last_bytes() {
        let mut t = Tail::default();
        for chunk in [&b"abc"[..], &[b'z'; 5000][..], b"%%EO", b"F"] {
            t.push(chunk);
        }
        assert!(t.contains(b"%%EOF"));
        assert_eq!(t.0.len(), TAIL_BYTES);
    }
}
