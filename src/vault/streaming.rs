//! A document's plaintext as a stream of chunks, for a face that answers
//! before the bytes flow (an HTTP response): access is decided and
//! audited first, then the face picks which bytes it wants from the
//! document's metadata, and gets them on a channel while the vault
//! decrypts and checks the digest on its own thread. If the digest fails
//! at the end, the stream ends with an error, so a complete wrong file is
//! never handed on.

use std::io::{self, Write};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::{Vault, VaultError};
use crate::domain::{Document, DocumentId, Principal};

/// Chunks in flight between the vault and the face.
const CHUNKS: usize = 8;

/// The chunks of an open document stream.
pub type Chunks = mpsc::Receiver<io::Result<Bytes>>;

impl Vault {
    /// Opens `id` for `actor`. `choose` sees the document and returns
    /// what the caller makes of it (`W`) and the byte range `[start, end)`
    /// to send (`(0, 0)`: nothing). Returns once access is decided.
    pub async fn open_document_stream<W: Send + 'static>(
        self: &Arc<Self>,
        actor: Principal,
        id: DocumentId,
        choose: impl FnOnce(&Document) -> (W, u64, u64) + Send + 'static,
    ) -> Result<(Document, W, Chunks), VaultError> {
        let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(CHUNKS);
        let (head_tx, head_rx) = oneshot::channel::<(Document, W)>();
        let vault = self.clone();
        let body_tx = tx.clone();
        let task = tokio::spawn(async move {
            let result = vault
                .stream_document(&actor, id, move |doc| {
                    let (chosen, start, end) = choose(doc);
                    let _ = head_tx.send((doc.clone(), chosen));
                    Box::new(ChannelSink {
                        tx: body_tx,
                        start,
                        end,
                        at: 0,
                    })
                })
                .await;
            if let Err(e) = &result {
                tracing::warn!(error = %e, "document stream stopped");
                let _ = tx
                    .send(Err(io::Error::other("the document failed verification")))
                    .await;
            }
            result
        });
        match head_rx.await {
            Ok((doc, chosen)) => Ok((doc, chosen, rx)),
            Err(_) => match task.await {
                Ok(Err(e)) => Err(e),
                Ok(Ok(_)) => Err(VaultError::Io(io::Error::other(
                    "the document stream ended early",
                ))),
                Err(e) => Err(e.into()),
            },
        }
    }
}

/// Sends the bytes in `[start, end)` of what is written to a channel, and
/// swallows the rest (still decrypted and hashed, so the digest is checked).
struct ChannelSink {
    tx: mpsc::Sender<io::Result<Bytes>>,
    start: u64,
    end: u64,
    at: u64,
}

impl Write for ChannelSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (from, to) = (self.at, self.at + buf.len() as u64);
        self.at = to;
        let lo = from.max(self.start);
        let hi = to.min(self.end);
        if lo < hi {
            let part = &buf[(lo - from) as usize..(hi - from) as usize];
            self.tx
                .blocking_send(Ok(Bytes::copy_from_slice(part)))
                .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))?;
        } else if from >= self.end && self.tx.is_closed() {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the client went away",
            ));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
