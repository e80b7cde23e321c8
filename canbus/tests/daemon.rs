//! The hub daemon with nodes in separate processes, and the client API against it.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test run

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use canbus::{CanFrame, CanLink, Error, FdFlags, HubClient, HubConfig, HubServer, id};
use common::pattern;

/// A `canbus-hub` child process, killed on drop.
struct Daemon {
    child: Child,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Daemon {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("can0.sock");
        let child = Command::new(env!("CARGO_BIN_EXE_canbus-hub"))
            .args(["--socket", path.to_str().unwrap(), "--bitrate", "1000000"])
            .args(["--data-bitrate", "5000000"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while UnixStream::connect(&path).is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "daemon did not start");
            thread::sleep(Duration::from_millis(10));
        }
        Self { child, path, _dir: dir }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn isotp_process(socket: &Path, mode: &str, tx: &str, rx: &str, fd: bool) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_canbus-isotp"));
    command.args([mode, "--socket", socket.to_str().unwrap(), "--tx", tx, "--rx", rx]);
    if fd {
        command.arg("--fd");
    }
    command
}

fn transfer_between_processes(fd: bool, len: usize) {
    let daemon = Daemon::start();
    let mut receiver = isotp_process(&daemon.path, "recv", "7E8", "7E0", fd)
        .args(["--block-size", "8"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(receiver.stderr.take().unwrap()).read_line(&mut ready).unwrap();
    assert_eq!(ready.trim(), "ready");

    let message = pattern(len);
    let mut sender = isotp_process(&daemon.path, "send", "7E0", "7E8", fd)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    sender.stdin.take().unwrap().write_all(&message).unwrap();
    assert!(sender.wait().unwrap().success());
    let output = receiver.wait_with_output().unwrap();
    assert!(output.status.success());
    assert!(output.stdout == message, "received {} bytes", output.stdout.len());
}

#[test]
fn isotp_classic_between_processes() {
    transfer_between_processes(false, 20_000);
}

#[test]
fn isotp_fd_between_processes() {
    transfer_between_processes(true, 100_000);
}

#[test]
fn clients_get_confirmations_and_each_others_frames() {
    let daemon = Daemon::start();
    let mut a = HubClient::connect(&daemon.path).unwrap();
    let mut b = HubClient::connect(&daemon.path).unwrap();
    let frames = [
        CanFrame::classic(id::standard(0x123).unwrap(), &[1, 2, 3]).unwrap(),
        CanFrame::classic(id::extended(0x18DA_F110).unwrap(), &[4; 8]).unwrap(),
        CanFrame::remote(id::standard(0x7FF).unwrap(), 2).unwrap(),
        CanFrame::fd(id::standard(0x42).unwrap(), &[5; 40], FdFlags { brs: true, esi: false }, 0)
            .unwrap(),
    ];
    let receiver = thread::spawn(move || {
        let deadline = b.now() + Duration::from_secs(10);
        (0..4).map(|_| b.recv(Some(deadline)).unwrap().unwrap().frame).collect::<Vec<_>>()
    });
    let start = a.now();
    for frame in &frames {
        a.send(frame, Duration::ZERO, Duration::from_secs(1)).unwrap();
    }
    let sent = a.flush(Duration::from_secs(1)).unwrap();
    assert!(sent > start);
    assert_eq!(receiver.join().unwrap(), frames);
    // A 2 ms gap between two frames is kept on the wall clock.
    let first = a.transmit(&frames[0], Duration::from_secs(1)).unwrap();
    a.send(&frames[0], Duration::from_millis(2), Duration::from_secs(1)).unwrap();
    let second = a.flush(Duration::from_secs(1)).unwrap();
    assert!(second.saturating_duration_since(first) >= Duration::from_millis(2));
    // embedded-can view of the same client.
    embedded_can::blocking::Can::transmit(&mut a, &frames[1]).unwrap();
}

#[test]
fn a_live_socket_is_not_taken_over() {
    let daemon = Daemon::start();
    let result = HubServer::bind(&daemon.path, HubConfig::default());
    assert!(matches!(result, Err(Error::Io { .. })), "{result:?}");
}

#[test]
fn in_process_server_serves_clients() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bus.sock");
    let server = HubServer::bind(&path, HubConfig::default()).unwrap();
    let local = server.hub().attach().unwrap();
    thread::spawn(move || server.run());
    let mut client = HubClient::connect(&path).unwrap();
    let frame = CanFrame::classic(id::standard(0x10).unwrap(), &[9]).unwrap();
    client.transmit(&frame, Duration::from_secs(1)).unwrap();
    let received = local.recv(Some(local.now() + Duration::from_secs(5))).unwrap().unwrap();
    assert_eq!(received.frame, frame);
}
