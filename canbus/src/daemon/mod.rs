//! The hub daemon: one bus shared by processes over a Unix domain socket.
//!
//! Secondary ECUs simulated as separate programs join the bus by connecting to the daemon's
//! socket; each connection is one node. Frames travel in SocketCAN's `struct can_frame` /
//! `struct canfd_frame` layout ([`crate::wire`]). Since the nodes live in other processes the
//! bus cannot wait for them, so the daemon's hub runs in [`ClockMode::RealTime`]: frames take
//! their real bit time and timestamps follow the wall clock.
//!
//! Each connection gets two threads: one reads the client's frames and transmits them one at a
//! time, answering each with a confirmation (or failure) record, the other forwards every frame
//! the node receives. A client that disconnects is detached; the others carry on.

mod client;

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use crate::Error;
use crate::hub::{ClockMode, Hub, HubConfig, Node};
use crate::wire::{self, Record, RecordBuffer, RecordKind};

pub use client::HubClient;

/// How long the daemon tries to get one client frame onto the bus (the usual N_As).
const TRANSMIT_TIMEOUT: Duration = Duration::from_secs(1);
/// How often a forwarding thread checks whether its connection ended.
const POLL: Duration = Duration::from_millis(100);

/// A listening daemon.
#[derive(Debug)]
pub struct HubServer {
    listener: UnixListener,
    hub: Hub,
    path: PathBuf,
}

impl HubServer {
    /// Creates the bus and listens on `path`. A stale socket file left by a daemon that died is
    /// replaced; a live one is an error. The clock mode is forced to real time.
    pub fn bind(path: impl AsRef<Path>, config: HubConfig) -> Result<Self, Error> {
        let path = path.as_ref().to_path_buf();
        if let Ok(meta) = fs::symlink_metadata(&path)
            && meta.file_type().is_socket()
        {
            if UnixStream::connect(&path).is_ok() {
                return Err(Error::Io {
                    context: "another hub daemon is listening on this socket",
                    source: ErrorKind::AddrInUse.into(),
                });
            }
            fs::remove_file(&path)
                .map_err(|source| Error::Io { context: "removing a stale socket", source })?;
        }
        let listener = UnixListener::bind(&path)
            .map_err(|source| Error::Io { context: "binding the hub socket", source })?;
        let hub = Hub::new(HubConfig { clock: ClockMode::RealTime, ..config })?;
        Ok(Self { listener, hub, path })
    }

    /// The bus, for attaching in-process nodes beside the remote ones.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts clients until the listener fails. Each client is served on its own threads.
    pub fn run(&self) -> Result<(), Error> {
        for stream in self.listener.incoming() {
            let stream =
                stream.map_err(|source| Error::Io { context: "accepting a client", source })?;
            let node = self.hub.attach()?;
            thread::Builder::new()
                .name("canbus-client".into())
                .spawn(move || serve(stream, node))
                .map_err(|source| Error::Io { context: "starting a client thread", source })?;
        }
        Ok(())
    }
}

/// Serves one client until it disconnects; errors just end the connection.
fn serve(stream: UnixStream, node: Node) {
    let Ok(write_half) = stream.try_clone() else { return };
    let writer = Arc::new(Mutex::new(write_half));
    let node = Arc::new(node);
    let done = Arc::new(AtomicBool::new(false));
    let forward = {
        let (writer, node, done) = (Arc::clone(&writer), Arc::clone(&node), Arc::clone(&done));
        thread::spawn(move || forward_received(&writer, &node, &done))
    };
    transmit_sent(stream, &writer, &node);
    done.store(true, Ordering::Relaxed);
    let _ = forward.join();
}

fn write_record(writer: &Mutex<UnixStream>, record: &Record) -> bool {
    let (bytes, size) = wire::encode(record);
    let mut stream = writer.lock().unwrap_or_else(PoisonError::into_inner);
    stream.write_all(&bytes[..size]).is_ok()
}

/// Client to bus: transmit each frame, then confirm it.
fn transmit_sent(mut stream: UnixStream, writer: &Mutex<UnixStream>, node: &Node) {
    let mut buffer = RecordBuffer::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        buffer.extend(&chunk[..read]);
        loop {
            let record = match buffer.next_record() {
                Ok(Some(record)) => record,
                Ok(None) => break,
                Err(_) => return, // a client that sends garbage is dropped
            };
            let kind = match node.transmit(&record.frame, TRANSMIT_TIMEOUT) {
                Ok(_) => RecordKind::Sent,
                Err(Error::Closed) => return,
                Err(_) => RecordKind::Failed,
            };
            if !write_record(writer, &Record { kind, frame: record.frame }) {
                return;
            }
        }
    }
}

/// Bus to client: forward every frame the node receives.
fn forward_received(writer: &Mutex<UnixStream>, node: &Node, done: &AtomicBool) {
    while !done.load(Ordering::Relaxed) {
        match node.recv(Some(node.now() + POLL)) {
            Ok(Some(received)) => {
                let record = Record { kind: RecordKind::Frame, frame: received.frame };
                if !write_record(writer, &record) {
                    return;
                }
            }
            Ok(None) => {}
            Err(_) => return,
        }
    }
}
