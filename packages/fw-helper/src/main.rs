//! fw-helper: the v6only bundle's firewall needs in one place. The core (config -> rule
//! model -> nft text, fw4 snippet planning) is the library; this file does the file and
//! process I/O.
//!
//! Overrides for tests (environment):
//!   FW_HELPER_DROPIN_DIRS  ':'-separated drop-in directories, `dropin` writes to the last
//!                          (default /usr/share/v6only/fw.d:/var/run/v6only/fw.d)
//!   FW_HELPER_FW4_ROOT     fw4 include root (default /usr/share/nftables.d)
//!   FW_HELPER_FW4          the fw4 program (default /sbin/fw4; its presence selects fw4 in auto)
//!   FW_HELPER_NFT          the nft program (default nft from PATH)
//!   FW_HELPER_LOCK         lock file serialising apply/remove (default /var/run/fw-helper.lock)

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use fw_helper::config::{self, Backend, Config};
use fw_helper::dropin::{self, Request, Source};
use fw_helper::fw4;
use fw_helper::model::{self, Ruleset};
use fw_helper::render;
use v6only_common::daemon::{self, Refused};
use v6only_common::{cli, log as vlog, uci::Package};

const PROGRAM: cli::Program = cli::Program {
    name: "fw-helper",
    version: env!("CARGO_PKG_VERSION"),
    default_config: "/etc/config/fw-helper",
    about: "Installs the firewall rules the v6only daemons declare (fw4 snippets or an own nftables table).",
    commands: "  check   validate the config and the rendered rules, change nothing\n\
               \x20 apply   install the rules (atomically; unchanged rules are not rewritten)\n\
               \x20 remove  remove what apply installed\n\
               \x20 show    print the rules apply would install, as nft text\n\
               \x20 dropin NAME TYPE [OPTION=VALUE...]\n\
               \x20         write drop-in NAME, one section TYPE (an OPTION given twice is a list,\n\
               \x20         an empty VALUE leaves it out; without TYPE the UCI text on stdin),\n\
               \x20         check it with the rest, then apply\n\
               \x20 dropin -r NAME\n\
               \x20         delete drop-in NAME, then apply\n",
};

const DEFAULT_DROPINS: &str = "/usr/share/v6only/fw.d:/var/run/v6only/fw.d";

struct Env {
    /// `check` collects the warnings to print them with its verdict; the other commands log
    /// them as they come.
    warnings: Option<std::cell::RefCell<Vec<String>>>,
    config: PathBuf,
    dropins: Vec<PathBuf>,
    fw4_root: PathBuf,
    fw4: PathBuf,
    nft: String,
    lock: PathBuf,
}

impl Env {
    fn new(config: PathBuf) -> Env {
        let var = |k: &str, d: &str| {
            std::env::var(k)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| d.to_string())
        };
        Env {
            warnings: None,
            config,
            dropins: var("FW_HELPER_DROPIN_DIRS", DEFAULT_DROPINS)
                .split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .collect(),
            fw4_root: var("FW_HELPER_FW4_ROOT", fw4::DEFAULT_ROOT).into(),
            fw4: var("FW_HELPER_FW4", "/sbin/fw4").into(),
            nft: var("FW_HELPER_NFT", "nft"),
            lock: var("FW_HELPER_LOCK", "/var/run/fw-helper.lock").into(),
        }
    }

    fn warn(&self, warning: String) {
        match &self.warnings {
            Some(collected) => collected.borrow_mut().push(warning),
            None => log::warn!("{warning}"),
        }
    }
}

fn main() -> ExitCode {
    // `-r` is dropin's own option: the shared parser would refuse it.
    let (remove_flag, argv) = dropin::take_remove_flag(std::env::args_os().skip(1).collect());
    let args = match cli::parse(&PROGRAM, argv) {
        Ok(cli::Parsed::Run(args)) => args,
        Ok(cli::Parsed::Print(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => usage(&msg),
    };
    let sink = vlog::init(PROGRAM.name, args.verbose);
    let mut request = None;
    let cmd = match args.rest.as_slice() {
        [c, rest @ ..] if c == "dropin" => {
            request = Some(dropin::parse(rest, remove_flag).unwrap_or_else(|e| usage(&e)));
            c.clone()
        }
        _ if remove_flag => usage("-r/--remove is an option of dropin"),
        [c] if ["check", "apply", "remove", "show"].contains(&c.as_str()) => c.clone(),
        [] => usage("missing command (check, apply, remove, show or dropin)"),
        [c] => usage(&format!("unknown command '{c}'")),
        _ => usage("too many arguments"),
    };
    let mut env = Env::new(args.config);
    if cmd == "check" {
        // The daemons' check output: warnings, then the verdict, on the terminal.
        env.warnings = Some(Default::default());
        let result = check(&env);
        let warnings = env.warnings.take().unwrap_or_default().into_inner();
        let errors: Vec<String> = match &result {
            Ok(()) => Vec::new(),
            Err(e) => e.lines().map(String::from).collect(),
        };
        return daemon::report(&PROGRAM, &env.config, &warnings, &errors);
    }
    // Daemons' init scripts may reload us concurrently: one apply/remove at a time.
    let _lock = match cmd.as_str() {
        "apply" | "remove" | "dropin" => Some(lock(&env.lock)),
        _ => None,
    };
    let res = match (cmd.as_str(), &request) {
        ("apply", _) => apply(&env),
        ("remove", _) => remove(&env),
        ("dropin", Some(r)) => write_dropin(&mut env, r),
        _ => show(&env),
    };
    if let Err(msg) = res {
        // One line each: a refused config's errors, nft's messages.
        for line in msg.lines() {
            log::error!("{cmd}: {line}");
            if sink != vlog::Sink::Stderr {
                eprintln!("{}: {cmd}: {line}", PROGRAM.name);
            }
        }
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// An exclusive flock on `path`, held until the returned file is dropped. Without a usable
/// lock file (read-only or missing directory) we go on unlocked, with a warning.
fn lock(path: &Path) -> Option<std::fs::File> {
    use std::os::fd::AsRawFd;
    let f = match std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) => {
            log::warn!("lock {}: {e}; going on without", path.display());
            return None;
        }
    };
    // SAFETY: flock on a file descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        log::warn!(
            "lock {}: {}; going on without",
            path.display(),
            io::Error::last_os_error()
        );
    }
    Some(f)
}

fn usage(msg: &str) -> ! {
    eprintln!("{}: {msg}\nTry '{} --help'.", PROGRAM.name, PROGRAM.name);
    std::process::exit(2)
}

// ---------------------------------------------------------------- config

/// The config, its warnings passed on (those of a refused one too).
fn load_config(env: &Env) -> Result<Config, String> {
    let read = read_config(env, None);
    let warnings = match &read {
        Ok(cfg) => &cfg.warnings,
        Err(refused) => &refused.warnings,
    };
    for w in warnings {
        env.warn(w.clone());
    }
    Ok(read?)
}

/// The config from the files, with `replace` (a drop-in's path and its new text, parsed) in
/// place of that file, where it would sort. Warnings are left in the config (or in the
/// refusal, with every error).
fn read_config(env: &Env, replace: Option<(&Path, &Package)>) -> Result<Config, Refused> {
    let main = Package::load(&env.config).map_err(|e| e.to_string())?;
    let mut dropins = Vec::new();
    for dir in &env.dropins {
        let new = replace.filter(|(p, _)| p.parent() == Some(dir.as_path()));
        let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok())
                .filter(|e| {
                    let n = e.file_name();
                    let n = n.to_string_lossy();
                    !n.starts_with('.') && !n.ends_with('~') && e.path().is_file()
                })
                .map(|e| e.path())
                .collect(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(format!("{}: {e}", dir.display()).into()),
        };
        if let Some((p, _)) = new {
            if !files.iter().any(|f| f == p) {
                files.push(p.to_path_buf());
            }
        }
        files.sort();
        for f in files {
            match new {
                Some((p, pkg)) if p == f => dropins.push(pkg.clone()),
                _ => dropins.push(Package::load(&f).map_err(|e| e.to_string())?),
            }
        }
    }
    config::from_packages(&main, &dropins)
}

fn backend(env: &Env, cfg: &Config) -> Backend {
    match cfg.backend {
        Backend::Auto if env.fw4.exists() => Backend::Fw4,
        Backend::Auto => Backend::Nft,
        b => b,
    }
}

/// The model for a backend; a disabled config has no rules. Under fw4 the zones are fw4's as
/// it renders them now; a zone it lacks or that has no devices leaves its rules out (warned).
fn ruleset(env: &Env, cfg: &Config, b: Backend) -> Result<Ruleset, String> {
    if !cfg.enabled {
        return Ok(Ruleset::default());
    }
    if b != Backend::Fw4 {
        return model::build(cfg, &cfg.zones, true).map_err(|e| e.to_string());
    }
    let zones = fw4::zones(&run_fw4(env, &["-q", "print"])?);
    for w in fw4::unresolved_zones(cfg, &zones) {
        env.warn(w);
    }
    model::build(cfg, &zones, false).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------- processes

/// Runs an nft script (`nft -f -`: one transaction, all or nothing); `check` only validates
/// it (`nft -c`), changing nothing.
fn run_nft(env: &Env, check: bool, script: &str) -> Result<(), String> {
    log::debug!("nft{} -f -:\n{script}", if check { " -c" } else { "" });
    let mut cmd = Command::new(&env.nft);
    if check {
        cmd.arg("-c");
    }
    let mut child = cmd
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", env.nft))?;
    let written = child
        .stdin
        .take()
        .map(|mut i| i.write_all(script.as_bytes()));
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{}: {e}", env.nft))?;
    if out.status.success() {
        if let Some(Err(e)) = written {
            return Err(format!("writing to {}: {e}", env.nft));
        }
        return Ok(());
    }
    // nft names its input /dev/stdin (or -); the positions are in the script, not a file.
    let msg: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .trim()
        .lines()
        .map(
            |l| match l.strip_prefix("/dev/stdin:").or(l.strip_prefix("-:")) {
                Some(rest) => format!("rules:{rest}"),
                None => l.to_string(),
            },
        )
        .collect();
    let msg = msg.join("\n");
    Err(format!(
        "nft {} the ruleset ({}): {}",
        if check { "rejects" } else { "did not apply" },
        out.status,
        if msg.is_empty() { "no message" } else { &msg }
    ))
}

fn run_fw4(env: &Env, args: &[&str]) -> Result<String, String> {
    let out = Command::new(&env.fw4)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", env.fw4.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "{} {} failed ({}): {}",
            env.fw4.display(),
            args.join(" "),
            out.status,
            text.trim()
        ))
    }
}

// ---------------------------------------------------------------- files

fn read_opt(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok()
}

fn write_file(p: &Path, content: &str) -> Result<(), String> {
    let err = |e: io::Error| format!("{}: {e}", p.display());
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).map_err(err)?;
    }
    let tmp = p.with_extension("nft.tmp");
    std::fs::write(&tmp, content).map_err(err)?;
    std::fs::rename(&tmp, p).map_err(err)
}

fn delete_file(p: &Path) -> Result<(), String> {
    match std::fs::remove_file(p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(format!("{}: {e}", p.display())),
        _ => Ok(()),
    }
}

fn restore(old: &[(PathBuf, Option<String>)]) {
    for (p, c) in old {
        let r = match c {
            Some(c) => write_file(p, c),
            None => delete_file(p),
        };
        if let Err(e) = r {
            log::error!("restoring {}: {e}", p.display());
        }
    }
}

/// Whether fw4's table is loaded; when it is not (firewall stopped), there is nothing to
/// reload: the snippets take effect when fw4 starts.
fn fw4_loaded(env: &Env) -> bool {
    Command::new(&env.nft)
        .args(["list", "table", "inet", "fw4"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn fw4_reload(env: &Env) -> Result<(), String> {
    if !fw4_loaded(env) {
        log::info!("fw4 is not running; its snippets take effect when it starts");
        return Ok(());
    }
    run_fw4(env, &["-q", "reload"]).map(|_| ())
}

/// Deletes our snippets; returns whether any existed.
fn delete_snippets(env: &Env) -> Result<bool, String> {
    let mut any = false;
    for c in model::Chain::ALL {
        let p = fw4::snippet_path(&env.fw4_root, c.name());
        if p.exists() {
            delete_file(&p)?;
            log::info!("removed {}", p.display());
            any = true;
        }
    }
    Ok(any)
}

// ---------------------------------------------------------------- commands

fn show(env: &Env) -> Result<(), String> {
    let cfg = load_config(env)?;
    let b = backend(env, &cfg);
    let rs = ruleset(env, &cfg, b)?;
    let mut out = String::new();
    if rs.is_empty() {
        out.push_str(if cfg.enabled {
            "# no rules requested\n"
        } else {
            "# disabled\n"
        });
    } else if b == Backend::Fw4 {
        for (chain, text) in render::fw4_snippets(&rs) {
            out.push_str(&format!(
                "# {}\n{text}\n",
                fw4::snippet_path(&env.fw4_root, chain).display()
            ));
        }
    } else {
        out = render::own_table(&rs, &cfg.table);
    }
    print!("{out}");
    Ok(())
}

fn check(env: &Env) -> Result<(), String> {
    let cfg = load_config(env)?;
    let b = backend(env, &cfg);
    let rs = ruleset(env, &cfg, b)?;
    // The snippets hold literal devices only: nft checks the same rules as a table of ours.
    run_nft(env, true, &render::apply_script(&rs, &cfg.table))?;
    log::info!(
        "configuration and rules are valid ({} rules, backend {})",
        rs.rules.len(),
        name(b)
    );
    Ok(())
}

fn name(b: Backend) -> &'static str {
    match b {
        Backend::Fw4 => "fw4",
        _ => "nft",
    }
}

fn apply(env: &Env) -> Result<(), String> {
    let cfg = load_config(env)?;
    let b = backend(env, &cfg);
    let rs = ruleset(env, &cfg, b)?;
    if b == Backend::Nft {
        run_nft(env, false, &render::apply_script(&rs, &cfg.table))?;
        log::info!(
            "table inet {} installed ({} rules)",
            cfg.table,
            rs.rules.len()
        );
        // Switched from fw4: take our snippets away.
        if delete_snippets(env)? && env.fw4.exists() {
            fw4_reload(env)?;
        }
        return Ok(());
    }
    let plan = fw4::plan(&env.fw4_root, &render::fw4_snippets(&rs), read_opt);
    if !plan.is_empty() {
        let mut res = Ok(());
        for (p, c) in &plan.writes {
            res = res.and_then(|_| write_file(p, c));
        }
        for p in &plan.deletes {
            res = res.and_then(|_| delete_file(p));
        }
        res = res.and_then(|_| run_fw4(env, &["check"]).map(|_| ()));
        if let Err(e) = res {
            restore(&plan.old);
            return Err(format!("{e}; previous snippets restored"));
        }
        if let Err(e) = fw4_reload(env) {
            restore(&plan.old);
            let again = fw4_reload(env)
                .err()
                .map(|e| format!("; reload after restoring failed too: {e}"));
            return Err(format!(
                "{e}; previous snippets restored{}",
                again.unwrap_or_default()
            ));
        }
        log::info!(
            "fw4 snippets updated ({} written, {} removed)",
            plan.writes.len(),
            plan.deletes.len()
        );
    } else {
        log::info!("fw4 snippets unchanged");
    }
    // Switched from the nft backend: take our own table away.
    run_nft(env, false, &render::remove_script(&cfg.table))
}

fn remove(env: &Env) -> Result<(), String> {
    let table = match load_config(env) {
        Ok(c) => c.table,
        Err(e) => {
            log::warn!("{e}; removing table inet {}", config::DEFAULT_TABLE);
            config::DEFAULT_TABLE.to_string()
        }
    };
    let mut errs = Vec::new();
    match delete_snippets(env) {
        Ok(true) if env.fw4.exists() => {
            if let Err(e) = fw4_reload(env) {
                errs.push(e);
            }
        }
        Ok(_) => {}
        Err(e) => errs.push(e),
    }
    if let Err(e) = run_nft(env, false, &render::remove_script(&table)) {
        errs.push(e);
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.join("; "))
    }
}

/// `dropin`: a package's needs into the runtime drop-in directory (the last of the drop-in
/// directories), then applied. A new text is checked first with everything else (config,
/// model, `nft -c`), and replaces the old file only when it passes, by a rename; an apply
/// that fails after that (fw4 or the kernel, not the text) leaves the new file for the next
/// apply to pick up. Removing a drop-in that does not exist changes nothing.
fn write_dropin(env: &mut Env, request: &Request) -> Result<(), String> {
    let dir = env
        .dropins
        .last()
        .ok_or("no drop-in directory (FW_HELPER_DROPIN_DIRS is empty)")?;
    let path = dir.join(request.name());
    let source = match request {
        Request::Remove { .. } => {
            if !path.exists() {
                log::info!("no drop-in {}, nothing to remove", path.display());
                return Ok(());
            }
            delete_file(&path)?;
            log::info!("removed drop-in {}", path.display());
            return apply(env);
        }
        Request::Write { source, .. } => source,
    };
    let text = match source {
        Source::Section { kind, options } => dropin::section_text(kind, options),
        Source::Stdin => {
            let mut text = String::new();
            io::stdin()
                .take(1 << 20)
                .read_to_string(&mut text)
                .map_err(|e| format!("reading the drop-in from stdin: {e}"))?;
            text
        }
    };
    let pkg = Package::parse(&path, &text).map_err(|e| e.to_string())?;
    if pkg.sections.is_empty() {
        return Err(format!(
            "{}: no section given (to delete the drop-in: dropin -r {})",
            path.display(),
            request.name()
        ));
    }
    // The apply below logs the warnings; the check keeps them to itself.
    env.warnings = Some(Default::default());
    let checked = read_config(env, Some((&path, &pkg)))
        .map_err(String::from)
        .and_then(|cfg| {
            let b = backend(env, &cfg);
            let rs = ruleset(env, &cfg, b)?;
            run_nft(env, true, &render::apply_script(&rs, &cfg.table))
        });
    env.warnings = None;
    checked?;
    if read_opt(&path).as_deref() == Some(text.as_str()) {
        log::info!("drop-in {} unchanged", path.display());
    } else {
        let err = |e: io::Error| format!("{}: {e}", path.display());
        std::fs::create_dir_all(dir).map_err(err)?;
        // Hidden, so that no reader takes it for a drop-in.
        let tmp = dir.join(format!(".{}.tmp", request.name()));
        std::fs::write(&tmp, &text).map_err(err)?;
        std::fs::rename(&tmp, &path).map_err(err)?;
        log::info!("wrote drop-in {}", path.display());
    }
    apply(env)
}
