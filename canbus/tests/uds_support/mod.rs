//! A recording Secondary and a bus to run it on, shared by the UDS tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::thread;
use std::time::Duration;

use canbus::uds::{
    AbortReason, ClientConfig, EcuAddress, EcuHandler, Identifier, Nrc, ServerLimits, Stop,
    UdsClient, UdsServer,
};
use canbus::{BusTiming, FaultPlan, Filter, Hub, HubConfig, IsoTpSocket, Node, Timestamp};

/// What the handler saw, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    BeginFile(String, u64),
    BeginImage(u64),
    /// A completed file or image: its name ("image" for the image) and bytes.
    Completed(String, Vec<u8>),
    Aborted(AbortReason, Timestamp),
    Attestation(Vec<u8>),
    Verified,
    Activated,
    Reset,
}

/// A Secondary that keeps everything it is given and answers predictably.
#[derive(Debug)]
pub struct Ecu {
    pub hub: Hub,
    pub events: Vec<Event>,
    /// Bytes of the open transfer: its name and data so far.
    pub open: Option<(String, Vec<u8>)>,
    /// Chunks written, for checking repeats were not written twice.
    pub writes: usize,
    /// begin_image refuses larger images (the slot size).
    pub slot_size: u64,
    /// `write` fails with 0x72 once this many bytes are in (a flash error).
    pub fail_write_at: Option<usize>,
}

impl Ecu {
    pub fn new(hub: &Hub) -> Self {
        Self {
            hub: hub.clone(),
            events: Vec::new(),
            open: None,
            writes: 0,
            slot_size: 32 << 20,
            fail_write_at: None,
        }
    }

    pub fn completed(&self, name: &str) -> Option<&[u8]> {
        self.events.iter().rev().find_map(|event| match event {
            Event::Completed(done, data) if done == name => Some(data.as_slice()),
            _ => None,
        })
    }

    pub fn aborts(&self) -> Vec<AbortReason> {
        self.events
            .iter()
            .filter_map(|event| match event {
                Event::Aborted(reason, _) => Some(*reason),
                _ => None,
            })
            .collect()
    }
}

pub const SERIAL: &[u8] = b"ECU-SERIAL-1";
pub const HARDWARE_ID: &[u8] = b"brake-controller-v2";
pub const PUBLIC_KEY: [u8; 32] = [0x5A; 32];

impl EcuHandler for Ecu {
    fn read_identifier(&mut self, id: Identifier) -> Result<Vec<u8>, Nrc> {
        match id {
            Identifier::EcuSerial => Ok(SERIAL.to_vec()),
            Identifier::HardwareId => Ok(HARDWARE_ID.to_vec()),
            Identifier::PublicKey => Ok(PUBLIC_KEY.to_vec()),
            Identifier::TimeAttestation => Err(Nrc::REQUEST_OUT_OF_RANGE),
        }
    }

    fn version_report(&mut self, nonce: &[u8]) -> Result<Vec<u8>, Nrc> {
        // Long enough to need a segmented response.
        let mut report = b"signed report over nonce ".to_vec();
        report.extend_from_slice(nonce);
        report.extend_from_slice(&[0xEE; 200]);
        Ok(report)
    }

    fn time_attestation(&mut self, attestation: &[u8]) -> Result<(), Nrc> {
        if attestation.starts_with(b"bad") {
            return Err(Nrc::CONDITIONS_NOT_CORRECT);
        }
        self.events.push(Event::Attestation(attestation.to_vec()));
        Ok(())
    }

    fn begin_file(&mut self, name: &str, size: u64) -> Result<(), Nrc> {
        if !name.starts_with("director/") && !name.starts_with("image/") {
            return Err(Nrc::UPLOAD_DOWNLOAD_NOT_ACCEPTED);
        }
        self.events.push(Event::BeginFile(name.into(), size));
        self.open = Some((name.into(), Vec::new()));
        Ok(())
    }

    fn begin_image(&mut self, size: u64) -> Result<(), Nrc> {
        if size > self.slot_size {
            return Err(Nrc::UPLOAD_DOWNLOAD_NOT_ACCEPTED);
        }
        self.events.push(Event::BeginImage(size));
        self.open = Some(("image".into(), Vec::new()));
        Ok(())
    }

    fn write(&mut self, chunk: &[u8]) -> Result<(), Nrc> {
        let (_, data) = self.open.as_mut().ok_or(Nrc::REQUEST_SEQUENCE_ERROR)?;
        if self.fail_write_at.is_some_and(|at| data.len() + chunk.len() > at) {
            self.open = None;
            return Err(Nrc::GENERAL_PROGRAMMING_FAILURE);
        }
        data.extend_from_slice(chunk);
        self.writes += 1;
        Ok(())
    }

    fn end_transfer(&mut self) -> Result<(), Nrc> {
        let (name, data) = self.open.take().ok_or(Nrc::REQUEST_SEQUENCE_ERROR)?;
        self.events.push(Event::Completed(name, data));
        Ok(())
    }

    fn verify_metadata(&mut self) -> Result<Vec<u8>, Nrc> {
        let files = self
            .events
            .iter()
            .filter(|event| matches!(event, Event::Completed(name, _) if name != "image"))
            .count();
        if files == 0 {
            return Err(Nrc::CONDITIONS_NOT_CORRECT);
        }
        self.events.push(Event::Verified);
        Ok(vec![files as u8])
    }

    fn activate(&mut self) -> Result<Vec<u8>, Nrc> {
        if self.completed("image").is_none() {
            return Err(Nrc::CONDITIONS_NOT_CORRECT);
        }
        self.events.push(Event::Activated);
        Ok(b"slot B".to_vec())
    }

    fn reset(&mut self) -> Result<(), Nrc> {
        self.events.push(Event::Reset);
        Ok(())
    }

    fn transfer_aborted(&mut self, reason: AbortReason) {
        self.open = None;
        self.events.push(Event::Aborted(reason, self.hub.now()));
    }
}

pub fn classic_timing() -> BusTiming {
    BusTiming::classic(500_000).expect("timing")
}

pub fn fd_timing() -> BusTiming {
    BusTiming::fd(500_000, 2_000_000).expect("timing")
}

/// One test bus: timing, faults, limits and the client's configuration.
#[derive(Clone, Debug)]
pub struct Setup {
    pub timing: BusTiming,
    pub fd: bool,
    pub faults: FaultPlan,
    pub limits: ServerLimits,
    pub client: ClientConfig,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            timing: classic_timing(),
            fd: false,
            faults: FaultPlan::default(),
            limits: ServerLimits::default(),
            client: ClientConfig::default(),
        }
    }
}

pub fn address() -> EcuAddress {
    EcuAddress::standard(0).expect("address")
}

fn node(hub: &Hub, rx: canbus::id::Id) -> Node {
    let node = hub.attach().expect("attach");
    node.set_filters(vec![Filter::exact(rx)]).expect("filters");
    node
}

/// Runs a server with a fresh [`Ecu`] on its own thread and `script` as the Primary; then
/// closes the bus. Returns what the script returned, the handler, and why the server stopped.
pub fn run<T>(
    setup: Setup,
    configure: impl FnOnce(&mut Ecu),
    script: impl FnOnce(&mut UdsClient<Node>) -> T,
) -> (T, Ecu, Stop) {
    let hub = Hub::new(HubConfig {
        faults: setup.faults.clone(),
        ..HubConfig::with_timing(setup.timing)
    })
    .expect("hub");
    let address = address();
    let server_node = node(&hub, address.request);
    server_node.hold();
    let socket = IsoTpSocket::new(server_node, address.server_config(setup.fd)).expect("socket");
    let mut server = UdsServer::new(socket, setup.limits).expect("server");
    let mut ecu = Ecu::new(&hub);
    configure(&mut ecu);
    let handle = thread::spawn(move || {
        let stop = server.serve(&mut ecu).expect("serve");
        (ecu, stop)
    });
    let client_socket =
        IsoTpSocket::new(node(&hub, address.response), address.client_config(setup.fd))
            .expect("socket");
    let mut client = UdsClient::new(client_socket, setup.client);
    let result = script(&mut client);
    hub.close();
    let (ecu, stop) = handle.join().expect("server thread");
    (result, ecu, stop)
}

/// Sends raw bytes as a request and returns the next message (for malformed requests).
pub fn raw(client: &mut UdsClient<Node>, request: &[u8]) -> Vec<u8> {
    let socket = client.socket_mut();
    let sent = socket.send(request).expect("send");
    socket.recv(Some(sent + Duration::from_secs(1))).expect("recv").expect("a response")
}

/// Bytes with enough variety to catch reordering.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(131) ^ (i >> 10)) as u8).collect()
}

/// Sleeps the client's node until `at` on the bus clock.
pub fn sleep_until(client: &mut UdsClient<Node>, at: Timestamp) {
    client.socket().link().sleep_until(at).expect("sleep");
}

/// The bus clock, read through the client's node.
pub fn now(client: &UdsClient<Node>) -> Timestamp {
    client.socket().link().now()
}
