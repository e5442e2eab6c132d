//! `fw-helper dropin`: how a package's init script hands fw-helper what it needs, in one line.
//!
//! ```text
//! fw-helper dropin NAME TYPE [OPTION=VALUE...]   the drop-in is one section 'config TYPE'
//! fw-helper dropin NAME < text                   the drop-in is the UCI text on stdin
//! fw-helper dropin -r NAME                       delete the drop-in
//! ```
//!
//! An `OPTION` given once is written as `option`, one given several times as a `list`; an
//! empty `VALUE` leaves the option out, as `uci set` with an empty value deletes it (so that a
//! script can pass `lan_zone="$lan_zone"` whether or not it is set). The values are quoted here,
//! so no shell quoting ends up in the file.
//!
//! This module parses the command line and writes the text; `main.rs` checks the result with
//! everything else fw-helper reads (config, model, `nft -c`), and only then replaces the old
//! drop-in (atomically, by a rename) and applies.

use std::ffi::OsString;

/// What to write for a drop-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// UCI text from stdin.
    Stdin,
    /// One section: `config KIND` and its options in the order given.
    Section {
        kind: String,
        options: Vec<(String, String)>,
    },
}

/// A parsed `dropin` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Write { name: String, source: Source },
    Remove { name: String },
}

impl Request {
    pub fn name(&self) -> &str {
        match self {
            Request::Write { name, .. } | Request::Remove { name } => name,
        }
    }
}

/// Takes `-r`/`--remove` out of the command line (before a `--`), since the shared parser
/// knows only the common options; returns whether it was there.
pub fn take_remove_flag(args: Vec<OsString>) -> (bool, Vec<OsString>) {
    let mut remove = false;
    let mut options_done = false;
    let mut rest = Vec::with_capacity(args.len());
    for a in args {
        if !options_done && (a == "-r" || a == "--remove") {
            remove = true;
            continue;
        }
        options_done |= a == "--";
        rest.push(a);
    }
    (remove, rest)
}

/// A drop-in's file name: letters, digits, '.', '_' and '-', not starting with '.' (fw-helper
/// skips hidden files, and its temporary files are hidden); at most 64 characters.
pub fn valid_name(name: &str) -> bool {
    name.len() <= 64
        && !name.starts_with('.')
        && !name.ends_with('~')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && !name.is_empty()
}

/// A section type (`fw-helper`, `nat64`) or option name, as UCI allows it.
fn valid_word(s: &str, dash: bool) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || (dash && c == '-'))
}

/// Parses the words after `dropin`.
pub fn parse(args: &[String], remove: bool) -> Result<Request, String> {
    let Some((name, rest)) = args.split_first() else {
        return Err("dropin needs a NAME".into());
    };
    if !valid_name(name) {
        return Err(format!(
            "dropin: '{name}' is not a drop-in name (letters, digits, '.', '_', '-'; not starting with '.')"
        ));
    }
    let name = name.clone();
    if remove {
        if !rest.is_empty() {
            return Err("dropin -r takes a NAME only".into());
        }
        return Ok(Request::Remove { name });
    }
    let Some((kind, assignments)) = rest.split_first() else {
        return Ok(Request::Write {
            name,
            source: Source::Stdin,
        });
    };
    if !valid_word(kind, true) {
        return Err(format!(
            "dropin: '{kind}' is not a section type (letters, digits, '_', '-')"
        ));
    }
    let mut options = Vec::new();
    for a in assignments {
        let Some((option, value)) = a.split_once('=') else {
            return Err(format!("dropin: '{a}' is not OPTION=VALUE"));
        };
        if !valid_word(option, false) {
            return Err(format!(
                "dropin: '{option}' is not an option name (letters, digits, '_')"
            ));
        }
        if value.chars().any(|c| c == '\'' || c.is_control()) {
            return Err(format!(
                "dropin: the value of {option} holds a quote or a control character"
            ));
        }
        if !value.is_empty() {
            options.push((option.to_string(), value.to_string()));
        }
    }
    Ok(Request::Write {
        name,
        source: Source::Section {
            kind: kind.clone(),
            options,
        },
    })
}

/// The UCI text of one section: an option named once is an `option`, one named several times
/// a `list` (its items in the order given, where its first item was).
pub fn section_text(kind: &str, options: &[(String, String)]) -> String {
    let mut text = format!("config {kind}\n");
    for (i, (option, value)) in options.iter().enumerate() {
        let count = options.iter().filter(|(o, _)| o == option).count();
        if count == 1 {
            text.push_str(&format!("\toption {option} '{value}'\n"));
        } else if !options[..i].iter().any(|(o, _)| o == option) {
            for (_, v) in options.iter().filter(|(o, _)| o == option) {
                text.push_str(&format!("\tlist {option} '{v}'\n"));
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn remove_flag_anywhere_before_double_dash() {
        let os = |s: &str| s.split(' ').map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            take_remove_flag(os("dropin -r dns64")),
            (true, os("dropin dns64"))
        );
        assert_eq!(
            take_remove_flag(os("-v dropin dns64 --remove")),
            (true, os("-v dropin dns64"))
        );
        assert_eq!(
            take_remove_flag(os("dropin dns64 dns")),
            (false, os("dropin dns64 dns"))
        );
        assert_eq!(
            take_remove_flag(os("dropin -- -r")),
            (false, os("dropin -- -r"))
        );
    }

    #[test]
    fn parses_the_three_forms() {
        assert_eq!(
            parse(&words("dns64 dns zone=lan port=53"), false),
            Ok(Request::Write {
                name: "dns64".into(),
                source: Source::Section {
                    kind: "dns".into(),
                    options: vec![("zone".into(), "lan".into()), ("port".into(), "53".into())],
                },
            })
        );
        assert_eq!(
            parse(&words("nat64"), false),
            Ok(Request::Write {
                name: "nat64".into(),
                source: Source::Stdin,
            })
        );
        let r = parse(&words("option108-dhcpd"), true).unwrap();
        assert_eq!(
            r,
            Request::Remove {
                name: "option108-dhcpd".into()
            }
        );
        assert_eq!(r.name(), "option108-dhcpd");
    }

    #[test]
    fn empty_values_leave_the_option_out() {
        let Ok(Request::Write {
            source: Source::Section { options, .. },
            ..
        }) = parse(&words("nat64 nat64 tun_device=nat64 lan_zone="), false)
        else {
            panic!()
        };
        assert_eq!(options, [("tun_device".to_string(), "nat64".to_string())]);
    }

    #[test]
    fn refuses() {
        for (args, remove, why) in [
            ("", false, "needs a NAME"),
            ("", true, "needs a NAME"),
            ("../x dns", false, "not a drop-in name"),
            (".hidden dns", false, "not a drop-in name"),
            ("x~ dns", false, "not a drop-in name"),
            ("x dns zone=lan", true, "NAME only"),
            ("x dns zone", false, "not OPTION=VALUE"),
            ("x dns =lan", false, "not an option name"),
            ("x dns zo-ne=lan", false, "not an option name"),
            ("x d.ns zone=lan", false, "not a section type"),
            ("x dns zone=l'an", false, "quote"),
        ] {
            let e = parse(&words(args), remove).unwrap_err();
            assert!(e.contains(why), "{args}: {e}");
        }
        let e = parse(&["x".into(), "dns".into(), "zone=a\nb".into()], false).unwrap_err();
        assert!(e.contains("control"), "{e}");
        assert!(valid_name("option108-dhcpd") && valid_name("10-bundle.conf"));
        assert!(!valid_name(&"x".repeat(65)) && !valid_name("a/b") && !valid_name("a b"));
    }

    #[test]
    fn text_options_and_lists() {
        let opts = |s: &str| -> Vec<(String, String)> {
            s.split(' ')
                .map(|a| {
                    let (o, v) = a.split_once('=').unwrap();
                    (o.into(), v.into())
                })
                .collect()
        };
        assert_eq!(
            section_text("dns", &opts("zone=lan port=53")),
            "config dns\n\toption zone 'lan'\n\toption port '53'\n"
        );
        assert_eq!(
            section_text(
                "nat64",
                &opts("tun_device=nat64 masquerade=10.0.0.0/8 mss_clamp=1 masquerade=192.0.2.1/32")
            ),
            "config nat64\n\toption tun_device 'nat64'\n\tlist masquerade '10.0.0.0/8'\n\
             \tlist masquerade '192.0.2.1/32'\n\toption mss_clamp '1'\n"
        );
        assert_eq!(section_text("dhcp", &[]), "config dhcp\n");
    }

    /// What the init scripts write reads back as they meant it.
    #[test]
    fn text_reads_back() {
        use crate::config::from_packages;
        use v6only_common::uci::Package;
        let args = words(
            "nat64 nat64 tun_device=nat64 prefix=2001:db8:64::/96 wan_zone=wan lan_zone= \
             mss_clamp=0 masquerade=192.168.255.0/30 static=tcp:192.168.255.1:80 \
             static=icmp:192.168.255.2",
        );
        let Ok(Request::Write {
            source: Source::Section { kind, options },
            ..
        }) = parse(&args, false)
        else {
            panic!()
        };
        let path = std::path::Path::new("/var/run/v6only/fw.d/nat64");
        let d = Package::parse(path, &section_text(&kind, &options)).unwrap();
        let main = Package::parse(std::path::Path::new("/etc/config/fw-helper"), "").unwrap();
        let c = from_packages(&main, &[d]).unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let n = &c.nat64[0];
        assert_eq!(n.prefix.to_string(), "2001:db8:64::/96");
        assert!(n.lan.is_empty() && !n.mss_clamp);
        assert_eq!((n.masquerade.len(), n.statics.len()), (1, 2));
    }
}
