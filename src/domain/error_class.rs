//! How a refusal or failure is reported to whoever asked, whatever the
//! face: the command line turns it into an exit code, the API into the
//! family of its HTTP status.

/// How a failure is reported to a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Bad input or refused: exit code 1.
    Refused,
    /// Corrupt or tampered data: exit code 2.
    Integrity,
    /// Anything else: exit code 3.
    Internal,
}
