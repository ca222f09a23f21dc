//! Outputs written while their photos are restored: the restore thread hands each band of
//! finished rows to the encoder thread as soon as it is made, and the encoder writes it
//! (`photo::save_bands`). The hand-over is a rendezvous, so at most two bands of output exist
//! at a time — the one being written and the next, waiting — however large the photo.

use crate::photo::{Band, Bands, Header, OutputFormat, Photo};
use crate::pipeline::walk::Job;
use anyhow::Result;
use std::fmt;
use std::sync::mpsc::{self, Receiver, SyncSender};

/// One output for the encoder thread: where it goes, what it looks like, and its bands.
pub struct Output<'j> {
    pub job: &'j Job,
    pub header: Header,
    pub format: OutputFormat,
    /// Megapixels of input behind it (for the summary).
    pub megapixels: f64,
    pub bands: Received,
}

/// A new output's two ends: the restore thread's [`Sender`] and the encoder's [`Received`].
pub fn channel() -> (Sender, Received) {
    let (tx, rx) = mpsc::sync_channel(0);
    (
        Sender(tx),
        Received {
            rx,
            band: None,
            cut_short: false,
        },
    )
}

/// The restore thread's end of an output.
pub struct Sender(SyncSender<Band>);

impl Sender {
    /// Hands `band` to the encoder, waiting until it takes it; fails with [`WriteStopped`] once
    /// the encoder has given up on the output.
    pub fn send(&self, band: Band) -> Result<()> {
        self.0
            .send(band)
            .map_err(|_| anyhow::Error::new(WriteStopped))
    }
}

/// The encoder thread's end of an output: the bands as the restore thread sends them.
pub struct Received {
    rx: Receiver<Band>,
    band: Option<Band>,
    cut_short: bool,
}

impl Received {
    /// Whether the restore thread stopped sending before the last band (its restoration failed
    /// or was interrupted, which it reports itself): the output was abandoned, not failed.
    pub fn cut_short(&self) -> bool {
        self.cut_short
    }
}

impl Bands for Received {
    fn advance(&mut self) -> Result<bool> {
        self.band = self.rx.recv().ok();
        self.cut_short = self.band.is_none();
        Ok(!self.cut_short)
    }

    fn current(&self) -> (usize, &Photo) {
        let band = self.band.as_ref().expect("advance() returned true");
        (band.y0, &band.rows)
    }
}

/// The encoder stopped taking bands: the output could not be written (the encoder thread
/// reports why), so the restoration stops too.
#[derive(Debug)]
pub struct WriteStopped;

impl fmt::Display for WriteStopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the output could not be written")
    }
}

impl std::error::Error for WriteStopped {}
