//! A fixture vehicle brought to life: its Secondaries (`secondary-client` ECUs, full or
//! partial verification) serving the ECU protocol on their own in-process CAN bus, and its
//! Primary (`primary-client`) provisioned with the fleet credential, as a factory would.

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use canbus::uds::{ClientConfig, UdsClient};
use canbus::{BusTiming, ClockMode, Hub, HubConfig, IsoTpSocket, Node};
use chrono::Utc;
use fixtures::vehicle::{Vehicle as Fixture, Verification as FixtureVerification};
use primary_client::can::CanSecondary;
use primary_client::config::{Config as PrimaryConfig, SecondaryConfig};
use primary_client::cycle::{CycleReport, Primary};
use primary_client::progress::Progress;
use primary_client::provision::{EcuRegistration, ProvisionRequest, provision};
use primary_client::secondary::Secondary;
use primary_client::setup;
use secondary_client::Ecu;
use secondary_client::bus::{BusEcu, server};
use secondary_client::config::{BusConfig, Config, FactoryImage, Identity, Limits, Mode};
use uptane::crypto::{KeyType, PrivateKey, Signer};
use uptane::repository::{MemStore, Rules, Store, Updater};

use crate::ceremony::text;
use crate::system::System;

/// The vehicle's CAN bus: classic CAN at 500 kbit/s, or CAN FD at 500 kbit/s and 2 Mbit/s in
/// the data phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusKind {
    Classic,
    Fd,
}

impl BusKind {
    fn timing(self) -> Result<BusTiming> {
        Ok(match self {
            BusKind::Classic => BusTiming::classic(500_000)?,
            BusKind::Fd => BusTiming::fd(500_000, 2_000_000)?,
        })
    }

    pub fn describe(self) -> &'static str {
        match self {
            BusKind::Classic => "classic CAN 500 kbit/s",
            BusKind::Fd => "CAN FD 500 kbit/s + 2 Mbit/s",
        }
    }
}

/// A vehicle on the road.
#[derive(Debug)]
pub struct Vehicle {
    pub fixture: Fixture,
    pub bus: BusKind,
    pub primary: Primary,
    clock: ClockMode,
    configs: Vec<Config>,
    channels: Vec<SecondaryConfig>,
    /// Powered up at the first cycle: a paced bus clock counts from its hub's creation, so a
    /// bus idle since the factory would run its first transfers ahead of its bit rate.
    running: Option<Bus>,
}

/// The bus with every Secondary serving on it, and the Primary's channel to each.
#[derive(Debug)]
struct Bus {
    hub: Hub,
    servers: Vec<JoinHandle<Ecu>>,
    channels: Vec<CanSecondary<Node>>,
}

impl Vehicle {
    /// Builds the vehicle under `dir`: keys and factory images, the Primary's configuration
    /// file, provisioning with the Director, and every Secondary on the bus.
    pub fn build(
        fixture: Fixture,
        bus: BusKind,
        clock: ClockMode,
        system: &System,
        dir: &Path,
        progress: Progress,
    ) -> Result<Vehicle> {
        std::fs::create_dir_all(dir)?;
        let configs = secondary_configs(&fixture, bus, dir)?;
        let primary_config = write_primary_config(&fixture, bus, system, dir)?;
        let primary_key = PrivateKey::read(&primary_config.primary_key)?;
        let mut ecus = vec![EcuRegistration {
            serial: fixture.primary.serial.clone(),
            hardware_id: fixture.primary.hardware_id.clone(),
            public_key: primary_key.public_key().clone(),
        }];
        for config in &configs {
            ecus.push(EcuRegistration {
                serial: config.identity.serial.clone(),
                hardware_id: config.identity.hardware_id.clone(),
                public_key: PrivateKey::read(&config.key)?.public_key().clone(),
            });
        }
        let request = ProvisionRequest {
            vin: fixture.vin.clone(),
            primary: fixture.primary.serial.clone(),
            ecus,
            csr: String::new(),
        };
        let issued = provision(
            &setup::http_client(&primary_config, false)?,
            &primary_config.director_url,
            &system.fleet_credential,
            request,
            &primary_config.client_cert_path(),
            &primary_config.client_key_path(),
        )
        .with_context(|| format!("provisioning {}", fixture.vin))?;
        let primary = setup::primary(&primary_config, progress)?;
        println!(
            "   {:<8} {}  {} Secondaries on {}: provisioned ({}), mTLS client certificate issued",
            fixture.name,
            fixture.vin,
            configs.len(),
            bus.describe(),
            issued.outcome
        );
        install_factory_metadata(&primary, system, &configs)?;
        let channels = primary_config.secondaries;
        Ok(Vehicle { fixture, bus, primary, clock, configs, channels, running: None })
    }

    /// One update cycle of the Primary with every Secondary on the bus. Always call it from
    /// the same thread: the bus's lockstep clock waits for the thread that last used one of
    /// its nodes to block on it again (canbus::hub).
    pub fn cycle(&mut self) -> Result<CycleReport> {
        if self.running.is_none() {
            self.running = Some(self.power_up()?);
        }
        let Some(bus) = self.running.as_mut() else { anyhow::bail!("the bus is down") };
        let mut boxed: Vec<Box<dyn Secondary + '_>> =
            bus.channels.iter_mut().map(|c| Box::new(c) as Box<dyn Secondary + '_>).collect();
        Ok(self.primary.run_cycle(&mut boxed, &mut |_| Ok(())))
    }

    fn power_up(&self) -> Result<Bus> {
        let hub = Hub::new(HubConfig {
            clock: self.clock,
            ..HubConfig::with_timing(self.bus.timing()?)
        })?;
        let mut servers = Vec::new();
        let mut channels = Vec::new();
        for (config, secondary) in self.configs.iter().zip(&self.channels) {
            let ecu = Ecu::open(config.clone())?;
            let node = hub.attach()?;
            node.hold();
            let mut uds = server(node, config)?;
            servers.push(std::thread::spawn(move || {
                let mut handler = BusEcu::new(ecu);
                let _ = uds.serve(&mut handler);
                handler.into_ecu()
            }));
            channels.push(channel(&hub, config, secondary.clone())?);
        }
        Ok(Bus { hub, servers, channels })
    }

    /// Closes the bus and joins every ECU's thread.
    pub fn stop(self) -> Result<()> {
        let Some(bus) = self.running else { return Ok(()) };
        drop(bus.channels);
        bus.hub.close();
        for server in bus.servers {
            server.join().map_err(|_| anyhow::anyhow!("an ECU thread panicked"))?;
        }
        Ok(())
    }
}

/// The Primary's channel to one Secondary: the ECU's identifiers mirrored.
fn channel(hub: &Hub, config: &Config, secondary: SecondaryConfig) -> Result<CanSecondary<Node>> {
    let mirrored = BusConfig {
        request_id: config.bus.response_id,
        response_id: config.bus.request_id,
        ..config.bus.clone()
    };
    let limits = Limits { max_message_bytes: 1 << 20, ..Limits::default() };
    let iso = secondary_client::bus::isotp_config(&mirrored, &limits)?;
    let timers = ClientConfig { p2: Duration::from_secs(2), ..ClientConfig::default() };
    let client = UdsClient::new(IsoTpSocket::new(hub.attach()?, iso)?, timers);
    Ok(CanSecondary::new(secondary, client))
}

fn new_key(path: &Path) -> Result<()> {
    let key = PrivateKey::generate(KeyType::Ed25519)?;
    director_repo::keys::write_private(path, key.to_pem().as_bytes())?;
    Ok(())
}

/// Each Secondary's configuration, key and factory image (release counter 0).
fn secondary_configs(fixture: &Fixture, bus: BusKind, dir: &Path) -> Result<Vec<Config>> {
    let mut configs = Vec::new();
    for (n, ecu) in (1u32..).zip(&fixture.secondaries) {
        let base = dir.join(ecu.serial.as_str());
        std::fs::create_dir_all(&base)?;
        new_key(&base.join("ecu.pem"))?;
        let factory = base.join("factory.bin");
        std::fs::write(&factory, format!("factory image of {}", ecu.serial))?;
        let mode = match ecu.verification {
            Some(FixtureVerification::Partial) => Mode::Partial,
            _ => Mode::Full,
        };
        configs.push(Config {
            identity: Identity {
                serial: ecu.serial.clone(),
                hardware_id: ecu.hardware_id.clone(),
                vin: fixture.vin.clone(),
            },
            key: base.join("ecu.pem"),
            mode,
            provisioned: base.join("provisioned"),
            storage: base.join("storage"),
            provisioned_time: Utc::now() - chrono::Duration::hours(1),
            factory_image: FactoryImage {
                path: factory,
                target: format!("factory/{}.bin", ecu.serial),
                release_counter: 0,
            },
            bus: BusConfig {
                request_id: 0x7E0 + n,
                response_id: 0x7E8 + n,
                fd: bus == BusKind::Fd,
                ..BusConfig::default()
            },
            limits: Limits::default(),
        });
    }
    Ok(configs)
}

/// `primary.toml`, the file `primary-client run --config` reads (kept with `--dir`).
fn write_primary_config(
    fixture: &Fixture,
    bus: BusKind,
    system: &System,
    dir: &Path,
) -> Result<PrimaryConfig> {
    new_key(&dir.join("primary.pem"))?;
    let mut secondaries = String::new();
    for (n, ecu) in (1u32..).zip(&fixture.secondaries) {
        let mode = match ecu.verification {
            Some(FixtureVerification::Partial) => "partial",
            _ => "full",
        };
        secondaries.push_str(&format!(
            "\n[[secondary]]\nserial = \"{}\"\nhardware_id = \"{}\"\nmode = \"{mode}\"\n\
             request_id = {}\nresponse_id = {}\n",
            ecu.serial,
            ecu.hardware_id,
            0x7E0 + n,
            0x7E8 + n
        ));
    }
    let quoted = |p: &PathBuf| format!("{:?}", text(p));
    let config = format!(
        "vin = \"{}\"\nprimary_serial = \"{}\"\nhardware_id = \"{}\"\nprimary_key = \"primary.pem\"\n\
         director_url = \"{}\"\nimage_url = \"{}\"\nca = [{}, {}]\nstate_dir = \"state\"\n\
         director_root = {}\nimage_root = {}\nprovisioning_credential = {}\ncan_fd = {}\n{secondaries}",
        fixture.vin,
        fixture.primary.serial,
        fixture.primary.hardware_id,
        system.director.url,
        system.image.url,
        quoted(&system.director.ca),
        quoted(&system.image.ca),
        quoted(&system.director_root),
        quoted(&system.image_root),
        quoted(&system.dir.join("fleet-credential")),
        bus == BusKind::Fd,
    );
    let path = dir.join("primary.toml");
    std::fs::write(&path, config)?;
    Ok(PrimaryConfig::load(Some(&path), toml::Table::new())?)
}

/// What the factory flashes into each Secondary: the Director root (and the Image root for
/// full verification), and the vehicle's current Director metadata, which a partial
/// Secondary needs to start from.
fn install_factory_metadata(primary: &Primary, system: &System, configs: &[Config]) -> Result<()> {
    let director_root = std::fs::read(&system.director_root)?;
    let mut store = MemStore::default();
    store.save("root.json", &director_root)?;
    let mut director =
        Updater::new(primary.director.metadata(), store, Utc::now(), Rules::uptane())?;
    director.refresh()?;
    let image_root = std::fs::read(&system.image_root)?;
    for config in configs {
        let (director_dir, image_dir) =
            (config.provisioned.join("director"), config.provisioned.join("image"));
        std::fs::create_dir_all(&director_dir)?;
        std::fs::create_dir_all(&image_dir)?;
        std::fs::write(director_dir.join("root.json"), &director_root)?;
        std::fs::write(image_dir.join("root.json"), &image_root)?;
        for role in ["timestamp.json", "snapshot.json", "targets.json"] {
            let bytes = director.store().load(role)?.context("no Director metadata")?;
            std::fs::write(director_dir.join(role), bytes)?;
        }
    }
    Ok(())
}
