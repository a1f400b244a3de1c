//! Streaming age encryption and decryption with the plaintext's SHA-256
//! computed in the same pass. A pass that runs alone is a three-stage
//! pipeline over a few recycled buffers: the calling thread reads (and
//! decrypts), a second thread writes (and encrypts), a third hashes. On two
//! cores the digest and the output copy overlap the rest instead of adding
//! to it; memory stays at [`BUFFERS`] × [`BUF`] whatever the size. Passes a
//! caller already runs side by side ([`Threads::Calling`]) stay on its thread.

use std::io::{self, Read, Write};
use std::sync::{mpsc, Mutex};

use sha2::{Digest, Sha256};

use super::head::{take_head, HeadCheck, Recording, SealedHead};

/// Read size: a multiple of age's 64 KiB chunk.
const BUF: usize = 256 * 1024;
/// Buffers queued between two stages at most.
const QUEUED: usize = 4;
/// Buffers in the pipeline at most.
const BUFFERS: usize = 2 * QUEUED + 3;

/// What one sealing pass produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// Plaintext bytes read.
    pub size: u64,
    /// SHA-256 of the plaintext.
    pub sha256: [u8; 32],
}

/// What one opening pass produced.
pub type Opened = Sealed;

/// A failure of a streaming pass, by side.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Reading the source failed (or a validator in the source refused it).
    #[error("reading input: {0}")]
    Input(#[source] io::Error),
    /// Writing the destination failed.
    #[error("writing output: {0}")]
    Output(#[source] io::Error),
    /// The ciphertext is not a valid age file for this identity, or fails authentication.
    #[error("ciphertext does not decrypt: {0}")]
    Integrity(String),
    /// The file decrypts, but does not begin with the head recorded when
    /// this node sealed it: it is some other file.
    #[error("the file is not the one recorded: its head differs")]
    NotRecorded,
}

/// Encrypts `input` to `recipient` into `output`, hashing the plaintext on the way.
pub fn seal(
    recipient: &dyn age::Recipient,
    input: impl Read,
    output: impl Write + Send,
) -> Result<Sealed, StreamError> {
    seal_with_head(recipient, input, output).map(|(sealed, _)| sealed)
}

/// [`seal`], also returning the head of the file it wrote (see [`SealedHead`]).
pub fn seal_with_head(
    recipient: &dyn age::Recipient,
    mut input: impl Read,
    output: impl Write + Send,
) -> Result<(Sealed, SealedHead), StreamError> {
    let seen = Mutex::new(Some(Vec::new()));
    let (mut writer, head) = begin(recipient, output, &seen)?;
    let sealed = pipeline(Threads::Pipelined, true, &mut input, &mut writer)
        .map_err(|e| e.map(StreamError::Input, StreamError::Output))?;
    let mut inner = writer.finish().map_err(StreamError::Output)?;
    inner.flush().map_err(StreamError::Output)?;
    Ok((sealed, head))
}

/// [`seal`], with the threads it may use: [`Threads::Calling`] for many
/// small files in a row (a resumable upload's segments), where starting
/// two threads per file costs more than it saves.
pub fn seal_with(
    threads: Threads,
    recipient: &dyn age::Recipient,
    mut input: impl Read,
    output: impl Write + Send,
) -> Result<Sealed, StreamError> {
    let seen = Mutex::new(Some(Vec::new()));
    let (mut writer, _) = begin(recipient, output, &seen)?;
    let sealed = pipeline(threads, true, &mut input, &mut writer)
        .map_err(|e| e.map(StreamError::Input, StreamError::Output))?;
    let mut inner = writer.finish().map_err(StreamError::Output)?;
    inner.flush().map_err(StreamError::Output)?;
    Ok(sealed)
}

/// A reader of the plaintext of the age file `input`: every byte it
/// yields has passed age's chunk authentication, and a file that does not
/// authenticate fails the read (as an `InvalidData` error). The caller
/// hashes what it reads if it needs the digest.
pub fn decrypting_reader<R: Read>(
    identity: &dyn age::Identity,
    input: R,
) -> Result<age::stream::StreamReader<io::BufReader<R>>, StreamError> {
    let input = io::BufReader::with_capacity(BUF, input);
    let decryptor = age::Decryptor::new_buffered(input).map_err(classify_decrypt)?;
    decryptor
        .decrypt(std::iter::once(identity))
        .map_err(classify_decrypt)
}

/// Starts an age file to `recipient` on `output`: writes its head (header
/// and payload nonce, recorded through `seen`) and returns the writer for
/// the payload, and the head.
fn begin<'a, W: Write>(
    recipient: &dyn age::Recipient,
    output: W,
    seen: &'a Mutex<Option<Vec<u8>>>,
) -> Result<(age::stream::StreamWriter<Recording<'a, W>>, SealedHead), StreamError> {
    let encryptor = age::Encryptor::with_recipients(std::iter::once(recipient))
        .map_err(|e| StreamError::Output(io::Error::other(e.to_string())))?;
    let writer = encryptor
        .wrap_output(Recording {
            inner: output,
            seen,
        })
        .map_err(StreamError::Output)?;
    // wrap_output has written the header and the payload nonce: the head.
    Ok((writer, take_head(seen)))
}

/// How a streaming pass uses threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// Reads, writes and hashes on three threads: the fastest for a stream
    /// that runs alone.
    Pipelined,
    /// All on the calling thread: for streams the caller already runs side
    /// by side on every core, where more threads only add switching.
    Calling,
}

/// Decrypts `input` with `identity` into `output`, hashing the plaintext on the way.
/// Every byte written has passed age's chunk authentication; the caller
/// compares the digest before it trusts the whole.
pub fn open(
    identity: &dyn age::Identity,
    input: impl Read,
    output: impl Write + Send,
) -> Result<Opened, StreamError> {
    open_with(Threads::Pipelined, identity, input, output)
}

/// [`open`], with the threads it may use.
pub fn open_with(
    threads: Threads,
    identity: &dyn age::Identity,
    input: impl Read,
    output: impl Write + Send,
) -> Result<Opened, StreamError> {
    decrypt(threads, true, identity, input, output)
}

/// Decrypts, and hashes the plaintext if `hash` (else its digest is zero).
fn decrypt(
    threads: Threads,
    hash: bool,
    identity: &dyn age::Identity,
    input: impl Read,
    mut output: impl Write + Send,
) -> Result<Opened, StreamError> {
    let input = io::BufReader::with_capacity(BUF, input);
    let decryptor = age::Decryptor::new_buffered(input).map_err(classify_decrypt)?;
    let mut reader = decryptor
        .decrypt(std::iter::once(identity))
        .map_err(classify_decrypt)?;
    let opened = pipeline(threads, hash, &mut reader, &mut output)
        .map_err(|e| e.map(classify_read, StreamError::Output))?;
    output.flush().map_err(StreamError::Output)?;
    Ok(opened)
}

/// How [`reseal_sized`] runs and what it checks of the file it reads.
#[derive(Debug, Clone)]
pub struct ResealPlan {
    pub threads: Threads,
    /// The plaintext's length as recorded; the ciphertext's length is
    /// told from it (the caller compares the size returned).
    pub plaintext_len: u64,
    pub check: InputCheck,
}

/// What [`reseal_sized`] checks of the file it reads.
#[derive(Debug, Clone)]
pub enum InputCheck {
    /// Hash the plaintext, for the caller to compare with its record.
    PlaintextDigest,
    /// The file must begin with this head, recorded when this node sealed
    /// it: then it is that file (see [`SealedHead`]), and the plaintext is
    /// not hashed.
    Head(SealedHead),
}

/// What [`reseal_sized`] read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resealed {
    /// Plaintext bytes.
    pub size: u64,
    /// SHA-256 of the plaintext, under [`InputCheck::PlaintextDigest`].
    pub sha256: Option<[u8; 32]>,
}

/// Decrypts `input` with `identity` and encrypts the plaintext to
/// `recipient` into `output`, in one pass: re-encryption for another
/// department without the plaintext touching the disk. Tells `sized` the
/// ciphertext's whole length as soon as it is known: once the header is
/// written, before any payload. Lets a writer place the next file while
/// this one is still being made; age's headers vary in length, so it cannot
/// be known earlier. A head that differs from the plan's is an integrity error.
pub fn reseal_sized<W: Write + Send>(
    plan: ResealPlan,
    identity: &dyn age::Identity,
    recipient: &dyn age::Recipient,
    input: impl Read,
    output: W,
    sized: impl FnOnce(u64) -> io::Result<()>,
) -> Result<(Resealed, W), StreamError> {
    let seen = Mutex::new(Some(Vec::new()));
    let (mut writer, head) = begin(recipient, output, &seen)?;
    // What follows the head is the payload's chunks, each with its tag (an
    // empty plaintext is one empty chunk).
    let started = head.len;
    let chunks = plan.plaintext_len.div_ceil(CHUNK_LEN).max(1);
    sized(started + plan.plaintext_len + chunks * TAG_LEN).map_err(StreamError::Output)?;
    let resealed = match plan.check {
        InputCheck::PlaintextDigest => {
            let opened = decrypt(plan.threads, true, identity, input, &mut writer)?;
            Resealed {
                size: opened.size,
                sha256: Some(opened.sha256),
            }
        }
        InputCheck::Head(head) => {
            let mut checked = HeadCheck::new(input, head);
            let opened = decrypt(plan.threads, false, identity, &mut checked, &mut writer)?;
            if !checked.holds() {
                return Err(StreamError::NotRecorded);
            }
            Resealed {
                size: opened.size,
                sha256: None,
            }
        }
    };
    let inner = writer.finish().map_err(StreamError::Output)?;
    Ok((resealed, inner.inner))
}

/// age's payload: chunks of up to 64 KiB of plaintext, each with a 16-byte tag.
const CHUNK_LEN: u64 = 64 * 1024;
const TAG_LEN: u64 = 16;

/// Which side of a pipeline failed.
enum Side {
    Read(io::Error),
    Write(io::Error),
}

impl Side {
    fn map(
        self,
        read: impl FnOnce(io::Error) -> StreamError,
        write: impl FnOnce(io::Error) -> StreamError,
    ) -> StreamError {
        match self {
            Side::Read(e) => read(e),
            Side::Write(e) => write(e),
        }
    }
}

/// A buffer and how many of its bytes count.
type Filled = (Vec<u8>, usize);

/// Copies `input` to `sink` and, if `hash`, hashes what passed (else the
/// digest is left zero). Pipelined: reads on this thread, writes on a
/// second, hashes on a third; buffers go read → write → hash and back to
/// the reader.
fn pipeline(
    threads: Threads,
    hash: bool,
    input: &mut dyn Read,
    sink: &mut (dyn Write + Send),
) -> Result<Sealed, Side> {
    if threads == Threads::Calling {
        return in_turn(hash, input, sink);
    }
    std::thread::scope(|scope| {
        let (to_sink, for_sink) = mpsc::sync_channel::<Filled>(QUEUED);
        let (to_hash, for_hash) = mpsc::sync_channel::<Filled>(QUEUED);
        let (give_back, spare) = mpsc::sync_channel::<Vec<u8>>(BUFFERS);

        let writer = scope.spawn(move || -> io::Result<()> {
            for (buf, n) in for_sink {
                sink.write_all(&buf[..n])?;
                // The hasher outlives this loop; a failed send cannot happen.
                let _ = to_hash.send((buf, n));
            }
            Ok(())
        });
        let hasher = scope.spawn(move || {
            let mut h = Sha256::new();
            let mut size = 0u64;
            for (buf, n) in for_hash {
                if hash {
                    h.update(&buf[..n]);
                }
                size += n as u64;
                let _ = give_back.try_send(buf);
            }
            Sealed {
                size,
                sha256: if hash { h.finalize().into() } else { [0; 32] },
            }
        });

        let mut allocated = 0;
        let read_result = loop {
            let mut buf = match spare.try_recv() {
                Ok(b) => b,
                Err(_) if allocated < BUFFERS => {
                    allocated += 1;
                    vec![0u8; BUF]
                }
                // All buffers in flight: wait for one (or for a stage to end).
                Err(_) => match spare.recv() {
                    Ok(b) => b,
                    Err(_) => break Ok(()),
                },
            };
            let n = match input.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(e),
            };
            if to_sink.send((buf, n)).is_err() {
                break Ok(()); // the writer failed; its error is reported below
            }
        };
        drop(to_sink);
        let write_result = writer.join().expect("the writing thread does not panic");
        let sealed = hasher.join().expect("the hashing thread does not panic");
        read_result.map_err(Side::Read)?;
        write_result.map_err(Side::Write)?;
        Ok(sealed)
    })
}

/// [`pipeline`] on the calling thread alone.
fn in_turn(
    hash: bool,
    input: &mut dyn Read,
    sink: &mut (dyn Write + Send),
) -> Result<Sealed, Side> {
    let mut h = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; BUF];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Side::Read(e)),
        };
        sink.write_all(&buf[..n]).map_err(Side::Write)?;
        if hash {
            h.update(&buf[..n]);
        }
        size += n as u64;
    }
    Ok(Sealed {
        size,
        sha256: if hash { h.finalize().into() } else { [0; 32] },
    })
}

fn classify_decrypt(e: age::DecryptError) -> StreamError {
    match e {
        age::DecryptError::Io(io) => classify_read(io),
        other => StreamError::Integrity(other.to_string()),
    }
}

/// age reports authentication failures and truncation as InvalidData /
/// UnexpectedEof; anything else is the underlying source failing.
fn classify_read(e: io::Error) -> StreamError {
    match e.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
            StreamError::Integrity(e.to_string())
        }
        _ => StreamError::Input(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn seal_then_open_round_trips_and_hashes_plaintext() {
        let id = age::x25519::Identity::generate();
        for len in [0, 1, 65_535, 65_536, 65_537, 700_001] {
            let data = sample(len);
            let mut ct = Vec::new();
            let sealed = seal(&id.to_public(), &data[..], &mut ct).unwrap();
            assert_eq!(sealed.size, len as u64);
            assert_eq!(sealed.sha256, <[u8; 32]>::from(Sha256::digest(&data)));
            for threads in [Threads::Pipelined, Threads::Calling] {
                let mut pt = Vec::new();
                let opened = open_with(threads, &id, &ct[..], &mut pt).unwrap();
                assert_eq!(pt, data);
                assert_eq!(opened, sealed);
            }
        }
    }

    #[test]
    fn reseal_sized_tells_the_exact_length_before_the_payload() {
        let from = age::x25519::Identity::generate();
        let to = age::x25519::Identity::generate().to_public();
        for len in [0, 1, 65_535, 65_536, 65_537, 131_072, 700_001] {
            let mut sealed = Vec::new();
            seal(&from.to_public(), &sample(len)[..], &mut sealed).unwrap();
            let mut told = None;
            let threads = if len % 2 == 0 {
                Threads::Calling
            } else {
                Threads::Pipelined
            };
            let plan = ResealPlan {
                threads,
                plaintext_len: len as u64,
                check: InputCheck::PlaintextDigest,
            };
            let (opened, out) = reseal_sized(plan, &from, &to, &sealed[..], Vec::new(), |n| {
                told = Some(n);
                Ok(())
            })
            .unwrap();
            assert_eq!(opened.size, len as u64);
            assert_eq!(told, Some(out.len() as u64), "{len}");
        }
    }

    #[test]
    fn flipped_byte_and_wrong_key_are_integrity_errors() {
        let id = age::x25519::Identity::generate();
        let data = sample(200_000);
        let mut ct = Vec::new();
        seal(&id.to_public(), &data[..], &mut ct).unwrap();
        let mut bad = ct.clone();
        let at = bad.len() - 100;
        bad[at] ^= 1;
        for threads in [Threads::Pipelined, Threads::Calling] {
            assert!(matches!(
                open_with(threads, &id, &bad[..], io::sink()),
                Err(StreamError::Integrity(_))
            ));
        }
        let other = age::x25519::Identity::generate();
        assert!(matches!(
            open(&other, &ct[..], io::sink()),
            Err(StreamError::Integrity(_))
        ));
        let truncated = &ct[..ct.len() / 2];
        assert!(matches!(
            open(&id, truncated, io::sink()),
            Err(StreamError::Integrity(_))
        ));
    }

    #[test]
    fn reseal_moves_a_file_to_another_recipient() {
        let a = age::x25519::Identity::generate();
        let b = age::x25519::Identity::generate();
        let data = sample(300_000);
        let mut for_a = Vec::new();
        let sealed = seal(&a.to_public(), &data[..], &mut for_a).unwrap();
        let plan = ResealPlan {
            threads: Threads::Pipelined,
            plaintext_len: data.len() as u64,
            check: InputCheck::PlaintextDigest,
        };
        let (resealed, for_b) =
            reseal_sized(plan, &a, &b.to_public(), &for_a[..], Vec::new(), |_| Ok(())).unwrap();
        assert_eq!(resealed.size, sealed.size);
        assert_eq!(resealed.sha256, Some(sealed.sha256));
        let mut back = Vec::new();
        open(&b, &for_b[..], &mut back).unwrap();
        assert_eq!(back, data);
        assert!(matches!(
            open(&a, &for_b[..], io::sink()),
            Err(StreamError::Integrity(_))
        ));
    }

    #[test]
    fn a_file_is_checked_by_the_head_it_was_sealed_with() {
        let node = age::x25519::Identity::generate();
        let other = age::x25519::Identity::generate().to_public();
        let data = sample(200_000);
        let mut stored = Vec::new();
        let (sealed, head) = seal_with_head(&node.to_public(), &data[..], &mut stored).unwrap();
        assert_eq!(sealed.size, data.len() as u64);
        assert_eq!(
            head.sha256,
            <[u8; 32]>::from(Sha256::digest(&stored[..head.len as usize]))
        );
        let reseal_with = |file: &[u8], head: &SealedHead| {
            let plan = ResealPlan {
                threads: Threads::Calling,
                plaintext_len: data.len() as u64,
                check: InputCheck::Head(head.clone()),
            };
            reseal_sized(plan, &node, &other, file, Vec::new(), |_| Ok(()))
        };

        let (resealed, _) = reseal_with(&stored, &head).unwrap();
        assert_eq!(resealed.size, data.len() as u64);
        assert_eq!(resealed.sha256, None, "the plaintext is not hashed");

        // The same plaintext sealed again to the same node: valid age, but
        // not the recorded file.
        let mut again = Vec::new();
        seal(&node.to_public(), &data[..], &mut again).unwrap();
        assert!(matches!(
            reseal_with(&again, &head),
            Err(StreamError::NotRecorded)
        ));
        // A flipped payload byte under the recorded head fails authentication.
        let mut flipped = stored.clone();
        let at = flipped.len() - 50;
        flipped[at] ^= 1;
        assert!(matches!(
            reseal_with(&flipped, &head),
            Err(StreamError::Integrity(_))
        ));
        // A flipped head byte: refused too (the header's MAC or the head digest).
        let mut bad_head = stored.clone();
        bad_head[head.len as usize - 1] ^= 1;
        assert!(reseal_with(&bad_head, &head).is_err());
    }

    #[test]
    fn failing_sides_are_told_apart() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("source gone"))
            }
        }
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let id = age::x25519::Identity::generate();
        assert!(matches!(
            seal(&id.to_public(), Broken, io::sink()),
            Err(StreamError::Input(_))
        ));
        assert!(matches!(
            seal(&id.to_public(), &sample(10)[..], Broken),
            Err(StreamError::Output(_))
        ));
        let mut ct = Vec::new();
        seal(&id.to_public(), &sample(100_000)[..], &mut ct).unwrap();
        assert!(matches!(
            open(&id, &ct[..], Broken),
            Err(StreamError::Output(_))
        ));
    }
}
