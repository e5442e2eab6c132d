//! `/etc/config/mesh-monitor`: one main section; `load` reads and checks it (every error named
//! as `file:line: mesh-monitor.main.option`).
//!
//! ```text
//! config mesh-monitor 'main'
//!     option enabled '1'
//!     option interval '10'                 # seconds between polls
//!     list interface 'mesh0'               # none: every mesh point interface
//!     option metric_threshold '50'         # percent above the best metric seen (0: off)
//!     option metric_max '5000'             # and/or an absolute limit
//!     option event_ring '64'
//!     option prometheus_file '/var/prometheus/mesh-monitor.prom'
//!     option topology_file '/tmp/mesh-topology.json'   # .dot: Graphviz
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use v6only_common::daemon::{Errors, Refused};
use v6only_common::uci::{Package, SectionRef};
use v6only_common::validate::Device;

use crate::monitor::Settings;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `enabled '0'`: the init script does not start the daemon.
    pub enabled: bool,
    /// Between two polls (nl80211 station events bring one sooner).
    pub interval: Duration,
    /// The mesh interfaces watched, by device name (empty: every mesh point).
    pub interfaces: Vec<String>,
    pub monitor: Settings,
    /// Written after each poll for prometheus-node-exporter-lua's textfile collector.
    pub prometheus_file: Option<PathBuf>,
    /// Written after each poll: Graphviz DOT when the name ends in `.dot`, else JSON.
    pub topology_file: Option<PathBuf>,
    pub control_socket: PathBuf,
    pub warnings: Vec<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            enabled: true,
            interval: Duration::from_secs(10),
            interfaces: Vec::new(),
            monitor: Settings::default(),
            prometheus_file: None,
            topology_file: None,
            control_socket: v6only_common::control::default_path("mesh-monitor"),
            warnings: Vec::new(),
        }
    }
}

/// The options of `config mesh-monitor 'main'` (tests/packages/test_init_options.py compares
/// them with the init script's validation).
pub const KNOWN: [&str; 9] = [
    "enabled",
    "interval",
    "interface",
    "metric_threshold",
    "metric_max",
    "event_ring",
    "prometheus_file",
    "topology_file",
    "control_socket",
];

const SECTION_TYPE: &str = "mesh-monitor";

pub fn load(path: &Path) -> Result<Config, Refused> {
    let package = Package::load(path).map_err(|e| e.to_string())?;
    from_package(&package)
}

pub fn parse(path: &Path, text: &str) -> Result<Config, Refused> {
    let package = Package::parse(path, text).map_err(|e| e.to_string())?;
    from_package(&package)
}

fn from_package(package: &Package) -> Result<Config, Refused> {
    let mut errors = Errors::default();
    let mut warnings = Vec::new();
    let main = package.main(SECTION_TYPE);
    for sec in &package.sections {
        let s = SectionRef {
            package,
            section: sec,
        };
        if sec.kind != SECTION_TYPE {
            warnings.push(format!(
                "{}:{}: unknown section type '{}' ignored",
                package.path.display(),
                sec.line,
                sec.kind
            ));
        } else if !main.is_some_and(|m| std::ptr::eq(m.section, sec)) {
            warnings.push(format!(
                "{}:{}: second 'config {SECTION_TYPE}' section {} ignored",
                package.path.display(),
                sec.line,
                s.label()
            ));
        }
    }
    let mut config = Config::default();
    // No main section: the defaults (every mesh interface, every 10 s).
    if let Some(main) = main {
        for entry in main.unknown_options(&KNOWN) {
            warnings.push(format!(
                "{}:{}: unknown option '{}.{}' ignored",
                package.path.display(),
                entry.line,
                main.label(),
                entry.name
            ));
        }
        read_main(&main, &mut config, &mut errors);
    }
    warnings.sort_by_key(|w| warning_line(w, &package.path));
    config.warnings = errors.finish(warnings)?;
    Ok(config)
}

fn read_main(main: &SectionRef<'_>, config: &mut Config, errors: &mut Errors) {
    config.enabled = errors.get(main, "enabled").unwrap_or(true);
    if let Some(s) = errors.range(main, "interval", 1, 3600) {
        config.interval = Duration::from_secs(s);
    }
    let mut interfaces: Vec<String> = Vec::new();
    for d in errors.list::<Device>(main, "interface") {
        if interfaces.contains(&d.0) {
            let mut e = main.error("interface", "an interface not listed before");
            e.value = Some(d.0);
            errors.push(e);
        } else {
            interfaces.push(d.0);
        }
    }
    config.interfaces = interfaces;
    let m = &mut config.monitor;
    if let Some(p) = errors.range(main, "metric_threshold", 0, 10_000) {
        m.metric_percent = p as u32;
    }
    // 0 is "off", as for metric_threshold.
    m.metric_max = errors
        .range(main, "metric_max", 0, u64::from(u32::MAX))
        .filter(|v| *v > 0)
        .map(|v| v as u32);
    if let Some(n) = errors.range(main, "event_ring", 0, 4096) {
        m.ring = n as usize;
    }
    config.prometheus_file = file(main, "prometheus_file", errors);
    config.topology_file = file(main, "topology_file", errors);
    config.control_socket = errors
        .get::<String>(main, "control_socket")
        .map_or_else(|| config.control_socket.clone(), Into::into);
}

const FILE_EXPECTED: &str = "an absolute path of a file (e.g. /var/prometheus/mesh-monitor.prom)";

/// An output file: absolute, naming a file (the daemon runs from `/`, and writes next to it
/// before renaming).
fn file(main: &SectionRef<'_>, option: &str, errors: &mut Errors) -> Option<PathBuf> {
    let raw = errors.get::<String>(main, option)?;
    let ok = raw.starts_with('/')
        && !raw.ends_with('/')
        && !raw.split('/').any(|c| c == "." || c == "..");
    if !ok {
        errors.push(main.error(option, FILE_EXPECTED));
        return None;
    }
    Some(PathBuf::from(raw))
}

fn warning_line(warning: &str, path: &Path) -> usize {
    let prefix = format!("{}:", path.display());
    warning
        .strip_prefix(&prefix)
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "/etc/config/mesh-monitor";

    fn load_text(text: &str) -> Result<Config, Refused> {
        parse(Path::new(FILE), text)
    }
    fn error(text: &str) -> String {
        let r = load_text(text).expect_err("should be refused");
        assert_eq!(r.errors.len(), 1, "{r}");
        r.errors[0].clone()
    }

    #[test]
    fn defaults_and_no_main_section() {
        let c = load_text("config mesh-monitor 'main'\n").unwrap();
        assert_eq!(c, Config::default());
        assert!(c.enabled && c.interfaces.is_empty());
        assert_eq!(c.interval, Duration::from_secs(10));
        assert_eq!(c.monitor.metric_percent, 50);
        assert_eq!(c.monitor.ring, 64);
        assert_eq!(c.control_socket, Path::new("/var/run/mesh-monitor.sock"));
        assert_eq!(load_text("").unwrap(), Config::default());
    }

    #[test]
    fn every_option() {
        let c = load_text(
            "config mesh-monitor 'main'\n\
             \toption enabled '0'\n\
             \toption interval '3600'\n\
             \tlist interface 'mesh0'\n\
             \tlist interface 'phy1-mesh0'\n\
             \toption metric_threshold '0'\n\
             \toption metric_max '4294967295'\n\
             \toption event_ring '0'\n\
             \toption prometheus_file '/var/prometheus/mesh-monitor.prom'\n\
             \toption topology_file '/tmp/mesh.dot'\n\
             \toption control_socket '/tmp/m.sock'\n",
        )
        .unwrap();
        assert_eq!(
            c,
            Config {
                enabled: false,
                interval: Duration::from_secs(3600),
                interfaces: vec!["mesh0".into(), "phy1-mesh0".into()],
                monitor: Settings {
                    metric_percent: 0,
                    metric_max: Some(u32::MAX),
                    ring: 0,
                    ..Settings::default()
                },
                prometheus_file: Some("/var/prometheus/mesh-monitor.prom".into()),
                topology_file: Some("/tmp/mesh.dot".into()),
                control_socket: "/tmp/m.sock".into(),
                warnings: Vec::new(),
            }
        );
        // A space-separated option is a list too (as uci_load_validate reads it).
        let c = load_text(
            "config mesh-monitor\n\toption interface 'mesh0 mesh1'\n\toption metric_max '0'\n",
        )
        .unwrap();
        assert_eq!(c.interfaces, ["mesh0", "mesh1"]);
        assert_eq!(c.monitor.metric_max, None, "0 is off");
    }

    #[test]
    fn errors_name_the_option() {
        let main = |opt: &str| format!("config mesh-monitor 'main'\n\t{opt}\n");
        let cases = [
            (
                "option enabled 'maybe'",
                "mesh-monitor.main.enabled: 'maybe' is not a valid boolean",
            ),
            (
                "option interval '0'",
                "mesh-monitor.main.interval: '0' is not a valid integer (1-3600)",
            ),
            (
                "option interval '3601'",
                "mesh-monitor.main.interval: '3601'",
            ),
            (
                "list interface 'a/b'",
                "mesh-monitor.main.interface: 'a/b' is not a valid network device name",
            ),
            (
                "list interface 'abcdefghijklmnop'",
                "mesh-monitor.main.interface",
            ),
            (
                "list interface 'mesh0'\n\tlist interface 'mesh0'",
                "mesh-monitor.main.interface: 'mesh0' is not an interface not listed before",
            ),
            (
                "option metric_threshold '10001'",
                "mesh-monitor.main.metric_threshold: '10001' is not a valid integer (0-10000)",
            ),
            (
                "option metric_threshold '-1'",
                "mesh-monitor.main.metric_threshold",
            ),
            (
                "option metric_max '4294967296'",
                "mesh-monitor.main.metric_max",
            ),
            (
                "option event_ring '4097'",
                "mesh-monitor.main.event_ring: '4097' is not a valid integer (0-4096)",
            ),
            (
                "option prometheus_file 'mesh.prom'",
                "mesh-monitor.main.prometheus_file: 'mesh.prom' is not an absolute path of a file",
            ),
            (
                "option prometheus_file '/var/prometheus/'",
                "mesh-monitor.main.prometheus_file",
            ),
            (
                "option topology_file '/tmp/../etc/x'",
                "mesh-monitor.main.topology_file: '/tmp/../etc/x'",
            ),
        ];
        for (opt, needle) in cases {
            let text = main(opt);
            let e = error(&text);
            assert!(e.contains(needle), "{text:?}:\n{e}\n{needle}");
            assert!(e.starts_with("/etc/config/mesh-monitor:"), "{e}");
        }
    }

    #[test]
    fn every_error_and_warning_at_once() {
        let r = load_text(
            "config mesh-monitor 'main'\n\
             \toption interval 'x'\n\
             \toption colour 'blue'\n\
             \toption event_ring '-2'\n\
             config mesh-monitor 'other'\n\
             config station\n",
        )
        .unwrap_err();
        assert_eq!(r.errors.len(), 2, "{r}");
        assert!(r.errors[0].starts_with("/etc/config/mesh-monitor:2: mesh-monitor.main.interval"));
        assert!(r.errors[1].starts_with("/etc/config/mesh-monitor:4: mesh-monitor.main.event_ring"));
        assert_eq!(
            r.warnings,
            [
                "/etc/config/mesh-monitor:3: unknown option 'mesh-monitor.main.colour' ignored",
                "/etc/config/mesh-monitor:5: second 'config mesh-monitor' section mesh-monitor.other ignored",
                "/etc/config/mesh-monitor:6: unknown section type 'station' ignored",
            ]
        );
    }

    #[test]
    fn known_options_are_all_read() {
        // Each is accepted without a warning, and a bad value of each (but control_socket,
        // which takes any) is an error naming it.
        let mut text = "config mesh-monitor 'main'\n".to_string();
        for o in KNOWN {
            text += &format!("\toption {o} 'a b/'\n");
        }
        let r = load_text(&text).unwrap_err();
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        for o in KNOWN.iter().filter(|o| **o != "control_socket") {
            let needle = format!("mesh-monitor.main.{o}: ");
            assert!(
                r.errors.iter().any(|e| e.contains(&needle)),
                "{needle} not in\n{r}"
            );
        }
    }

    #[test]
    fn files_that_cannot_be_read_or_parsed() {
        let r = load(Path::new("/nonexistent/mesh-monitor")).unwrap_err();
        assert!(
            r.errors[0].starts_with("/nonexistent/mesh-monitor: "),
            "{r}"
        );
        let r = load_text("config mesh-monitor 'main'\n\toption enabled '1\n").unwrap_err();
        assert!(r.errors[0].contains(":2: unterminated"), "{r}");
    }
}
