//! `demo`: the whole system up on embedded defaults, one release rolled out to a fleet of
//! two fixture vehicles, and one attack stopped.
//!
//! Both repository services run in this process on loopback HTTPS (SQLite, generated keys and
//! certificates); the release is signed offline with keytool and pushed to the Image
//! repository; the Director assigns it through campaigns; each vehicle's Primary
//! (`primary-client`) runs its update cycle over mutual TLS and hands the images to its
//! Secondaries (`secondary-client`) over a simulated CAN bus at a real bit rate; the Director
//! confirms the installations from the next manifests. Then a compromised Director signs an
//! image the Image repository never released and the Primary refuses it. Everything is
//! stopped and joined at the end, and the directory removed unless `--dir` was given.

pub mod attack;
pub mod campaign;
pub mod release;
pub mod table;
pub mod vehicle;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use canbus::ClockMode;
use fixtures::vehicle::Vehicle as Fixture;
use primary_client::cycle::{CycleReport, Outcome};
use primary_client::progress::Progress;

use self::vehicle::{BusKind, Vehicle};
use crate::ceremony::Keytool;
use crate::system::{Ports, System};

/// How the demo runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Keep every file here (it must be empty or absent) instead of a removed temporary
    /// directory.
    pub dir: Option<PathBuf>,
    /// `Paced`: the buses run at their bit rate in real time; `Virtual`: as fast as the CPU
    /// allows, same frames and order.
    pub clock: ClockMode,
    /// Progress bars on stderr (when it is a terminal).
    pub progress: bool,
}

/// What the demo ended with.
#[derive(Debug)]
pub struct Summary {
    pub release: release::Release,
    pub fleet: Vec<table::Row>,
    pub attack: attack::Stopped,
    /// The services' URLs (stopped by the time the demo returns).
    pub services: Vec<String>,
}

/// The fleet: the compact car on classic CAN, the premium car on CAN FD.
const FLEET: [(&str, BusKind); 2] = [("compact", BusKind::Classic), ("premium", BusKind::Fd)];

pub fn run(options: &Options) -> Result<Summary> {
    let started = Instant::now();
    let scratch = tempfile::tempdir().context("creating a temporary directory")?;
    let root = match &options.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            ensure!(
                std::fs::read_dir(dir)?.next().is_none(),
                "{} is not empty: the demo starts from nothing",
                dir.display()
            );
            std::path::absolute(dir)?
        }
        None => scratch.path().to_path_buf(),
    };
    let keytool = Keytool { base: root.clone() };
    println!("== 1. The Image repository and the Director, on loopback HTTPS ({})", root.display());
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let system = System::start(&root, Ports { image: loopback, director: loopback }, &keytool)?;
    println!(
        "   image-repo {}   director-repo {} (vehicles: mutual TLS)",
        system.image.url, system.director.url
    );
    let services = vec![system.image.url.clone(), system.director.url.clone()];
    let result = with_services(&system, &keytool, options);
    let stopped = system.stop();
    let summary = Summary { services, ..result? };
    stopped?;
    drop(scratch);
    let kept =
        options.dir.as_ref().map_or("removed".into(), |d| format!("kept in {}", d.display()));
    println!(
        "\nEverything stopped (servers, buses, ECUs); files {kept}. {:.1} s.",
        started.elapsed().as_secs_f64()
    );
    Ok(summary)
}

fn with_services(system: &System, keytool: &Keytool, options: &Options) -> Result<Summary> {
    let fleet: Vec<Fixture> =
        FLEET.iter().map(|(name, _)| Fixture::built_in(name)).collect::<Result<_, _>>()?;
    println!("\n== 2. Release 2.0, signed offline with keytool and pushed to the Image repository");
    let release = release::publish(system, keytool, &fleet)?;

    println!("\n== 3. Two vehicles leave the factory and provision with the Director");
    let progress = if options.progress { Progress::new(true) } else { Progress::hidden() };
    let mut vehicles = Vec::new();
    let mut built = Ok(());
    for (fixture, (_, bus)) in fleet.iter().zip(FLEET) {
        let dir = system.dir.join("vehicles").join(&fixture.name);
        match Vehicle::build(fixture.clone(), bus, options.clock, system, &dir, progress.clone()) {
            Ok(vehicle) => vehicles.push(vehicle),
            Err(e) => {
                built = Err(e);
                break;
            }
        }
    }
    let result = built.and_then(|()| rollout(system, &fleet, &release, &mut vehicles));
    for vehicle in vehicles {
        vehicle.stop()?;
    }
    result
}

fn rollout(
    system: &System,
    fleet: &[Fixture],
    release: &release::Release,
    vehicles: &mut [Vehicle],
) -> Result<Summary> {
    let operator = system.operator()?;
    println!("\n== 4. The operator launches one campaign per hardware type");
    let campaigns = campaign::launch(&operator, release, fleet)?;
    campaign::show(&operator, &campaigns)?;

    println!("\n== 5. Over the air: each Primary verifies both repositories, downloads, and");
    println!("      hands every Secondary its metadata and image over the CAN bus");
    let reports = cycle_all(vehicles)?;
    for (vehicle, report) in vehicles.iter().zip(reports) {
        describe(vehicle, &report);
        ensure!(report.result == Outcome::Updated, "{} was not updated", vehicle.fixture.name);
        ensure!(
            report.secondary_errors.is_empty(),
            "a Secondary of {} failed",
            vehicle.fixture.name
        );
    }
    campaign::show(&operator, &campaigns)?;

    println!("\n== 6. The next manifests carry each ECU's signed report; the Director confirms");
    let reports = cycle_all(vehicles)?;
    for (vehicle, report) in vehicles.iter().zip(reports) {
        describe(vehicle, &report);
    }
    campaign::show(&operator, &campaigns)?;
    ensure!(campaign::all_done(&operator, &campaigns)?, "the campaigns did not complete");

    println!("\n== 7. Attack: a compromised Director");
    let Some(target) = vehicles.first_mut() else { bail!("no vehicle") };
    let attack = attack::compromised_director(system, target)?;

    println!("\n== 8. The fleet, as the Director knows it");
    let rows = table::fleet(&operator, fleet)?;
    print!("{}", table::render(&rows));
    Ok(Summary { release: release.clone(), fleet: rows, attack, services: Vec::new() })
}

/// One cycle of every vehicle, in turn, on this thread (see [`Vehicle::cycle`]).
fn cycle_all(vehicles: &mut [Vehicle]) -> Result<Vec<CycleReport>> {
    vehicles.iter_mut().map(Vehicle::cycle).collect()
}

fn describe(vehicle: &Vehicle, report: &CycleReport) {
    let name = &vehicle.fixture.name;
    match report.result {
        Outcome::Updated => {
            println!("   {name:<8} updated {} ECUs:", report.updated.len());
            for (ecu, path) in &report.updated {
                println!("            {ecu:<12} {path}");
            }
        }
        Outcome::NoUpdate => {
            let receipt = report.manifest.as_ref();
            let completed = receipt.and_then(|m| m["completed"].as_array()).map_or(0, Vec::len);
            println!("   {name:<8} nothing new; the manifest completed {completed} assignments");
        }
        Outcome::Rejected => println!(
            "   {name:<8} rejected at {:?}: {}",
            report.step,
            report.error.as_deref().unwrap_or_default()
        ),
    }
    for (ecu, error) in &report.secondary_errors {
        println!("            {ecu}: {error}");
    }
}
