//! Captures nl80211 replies for the test fixtures (tests/fixtures/README.md): run inside the
//! hwsim lab's guest, in a mesh node's network namespace. Prints one line per netlink message,
//! `CAPTURE <phase> <what> <hex>`, each with a single write so that lines of processes
//! sharing the console do not mix.
//!
//!   nl80211_capture dump PHASE     family, interfaces, and for each mesh point its station,
//!                                  mpath, mpp and mesh config replies
//!   nl80211_capture events PHASE   the event socket's datagrams, as they come, until killed
//!   nl80211_capture show WHAT [--json]   what `mesh-monitor WHAT` prints (stations, mpath,
//!                                  mpp, config), for comparing with iw in the guest

use std::io::Write;
use std::time::Duration;

use mesh_monitor::nl80211::{self, Nl80211};
use mesh_monitor::show::{self, Dump};

fn emit(phase: &str, what: &str, bytes: &[u8]) {
    // One line per netlink message: the length is in the first 4 bytes (host order).
    let mut at = 0;
    while at + 4 <= bytes.len() {
        let len = u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let end = (at + len).min(bytes.len());
        let mut line = format!("CAPTURE {phase} {what} ");
        for b in &bytes[at..end] {
            line.push_str(&format!("{b:02x}"));
        }
        line.push('\n');
        let _ = std::io::stdout().lock().write_all(line.as_bytes());
        at += len.next_multiple_of(4).max(4);
    }
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (mode, phase) = match args.as_slice() {
        [_, mode, phase, ..] => (mode.as_str(), phase.as_str()),
        _ => {
            eprintln!("usage: nl80211_capture dump|events PHASE | show WHAT [--json]");
            std::process::exit(2);
        }
    };
    let mut nl = Nl80211::open()?;
    match mode {
        "dump" => {
            emit(phase, "family", &nl.raw_family()?);
            emit(
                phase,
                "interfaces",
                &nl.raw(nl80211::NL80211_CMD_GET_INTERFACE, None, true)?,
            );
            for ifc in nl.interfaces()? {
                println!("PARSED {phase} {ifc:?}");
                let i = Some(ifc.ifindex);
                emit(
                    phase,
                    "stations",
                    &nl.raw(nl80211::NL80211_CMD_GET_STATION, i, true)?,
                );
                emit(
                    phase,
                    "mpaths",
                    &nl.raw(nl80211::NL80211_CMD_GET_MPATH, i, true)?,
                );
                emit(
                    phase,
                    "mpps",
                    &nl.raw(nl80211::NL80211_CMD_GET_MPP, i, true)?,
                );
                let config = nl.raw(nl80211::NL80211_CMD_GET_MESH_CONFIG, i, false)?;
                emit(phase, "config", &config);
                for s in nl.stations(&ifc)? {
                    println!("PARSED {phase} {s:?}");
                }
                for p in nl.mpaths(&ifc)? {
                    println!("PARSED {phase} {p:?}");
                }
                for p in nl.mpps(&ifc)? {
                    println!("PARSED {phase} {p:?}");
                }
                println!("PARSED {phase} {:?}", nl.mesh_config(&ifc)?);
            }
        }
        "show" => {
            let Some(what) = Dump::from_command(phase) else {
                eprintln!("show stations|mpath|mpp|config [--json]");
                std::process::exit(2);
            };
            let json = args.iter().any(|a| a == "--json");
            print!("{}", show::dump(&mut nl, what, None, json)?);
            if json {
                println!();
            }
        }
        "events" => {
            let mut events = nl.events()?;
            let (mut buf, mut raw) = (Vec::new(), Vec::new());
            loop {
                raw.clear();
                events.read_raw(&mut buf, &mut raw)?;
                for d in &raw {
                    emit(phase, "event", d);
                    let mut parsed = Vec::new();
                    match nl80211::parse_events(d, &mut parsed) {
                        Ok(()) => println!("PARSED {phase} {parsed:?}"),
                        Err(e) => println!("PARSED {phase} error {e}"),
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        _ => {
            eprintln!("usage: nl80211_capture dump|events PHASE");
            std::process::exit(2);
        }
    }
    Ok(())
}
