//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::thread;

use canbus::id::{self, Id};
use canbus::{BusTiming, Error, Filter, Hub, HubConfig, IsoTpConfig, IsoTpSocket, Node, Timestamp};

pub fn tester() -> Id {
    id::standard(0x7E0).expect("valid id")
}

pub fn ecu() -> Id {
    id::standard(0x7E8).expect("valid id")
}

pub fn hub_with(timing: BusTiming) -> Hub {
    Hub::new(HubConfig::with_timing(timing)).expect("hub")
}

pub fn classic_hub() -> Hub {
    hub_with(BusTiming::classic(500_000).expect("timing"))
}

pub fn fd_hub() -> Hub {
    hub_with(BusTiming::fd(500_000, 2_000_000).expect("timing"))
}

/// A node that only hears `rx`.
pub fn node_for(hub: &Hub, rx: Id) -> Node {
    let node = hub.attach().expect("attach");
    node.set_filters(vec![Filter::exact(rx)]).expect("filters");
    node
}

/// Sender (tester to ECU) and receiver (ECU) sockets with the given configurations.
pub fn sockets(
    hub: &Hub,
    sender: IsoTpConfig,
    receiver: IsoTpConfig,
) -> (IsoTpSocket<Node>, IsoTpSocket<Node>) {
    let a = IsoTpSocket::new(node_for(hub, sender.rx_id), sender).expect("sender");
    let b = IsoTpSocket::new(node_for(hub, receiver.rx_id), receiver).expect("receiver");
    (a, b)
}

pub fn classic_pair(hub: &Hub) -> (IsoTpSocket<Node>, IsoTpSocket<Node>) {
    sockets(hub, IsoTpConfig::classic(tester(), ecu()), IsoTpConfig::classic(ecu(), tester()))
}

pub fn fd_pair(hub: &Hub) -> (IsoTpSocket<Node>, IsoTpSocket<Node>) {
    sockets(hub, IsoTpConfig::fd(tester(), ecu()), IsoTpConfig::fd(ecu(), tester()))
}

/// Bytes with enough variety to exercise bit stuffing and sequence numbers.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(37) ^ (i >> 8)) as u8).collect()
}

pub type Outcome = (Result<Timestamp, Error>, Result<Option<Vec<u8>>, Error>);

/// One message from `sender` to `receiver`, the receiver on its own thread that stops
/// listening at `deadline`.
///
/// The receiver's node is held before its thread starts, so the first frame cannot go out
/// before it listens, and released when the thread stops listening (the sender may still be
/// sending after a failed reception). The sender's node is released before joining, so the
/// receiver can still wait on the clock (say for a lost frame's N_Cr).
pub fn exchange_until(
    sender: &mut IsoTpSocket<Node>,
    receiver: &mut IsoTpSocket<Node>,
    message: &[u8],
    deadline: Option<Timestamp>,
) -> Outcome {
    receiver.link().hold();
    thread::scope(|scope| {
        let handle = scope.spawn(|| {
            let received = receiver.recv(deadline);
            receiver.link().release();
            received
        });
        let sent = sender.send(message);
        sender.link().release();
        (sent, handle.join().expect("receiver thread"))
    })
}

/// [`exchange_until`] with a receiver that waits for a message however long it takes.
pub fn exchange(
    sender: &mut IsoTpSocket<Node>,
    receiver: &mut IsoTpSocket<Node>,
    message: &[u8],
) -> Outcome {
    exchange_until(sender, receiver, message, None)
}

/// Asserts a clean round trip and returns when the sender finished.
pub fn round_trip(
    sender: &mut IsoTpSocket<Node>,
    receiver: &mut IsoTpSocket<Node>,
    message: &[u8],
) -> Timestamp {
    let (sent, received) = exchange(sender, receiver, message);
    let received = received.expect("receive").expect("a message");
    assert_eq!(received.len(), message.len());
    assert!(received == message, "payload differs");
    sent.expect("send")
}
