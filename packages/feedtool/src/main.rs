//! feedtool: host-side packaging for the v6only OpenWrt feed. Turns cross-built binaries into
//! `.ipk` packages from the packages' own OpenWrt Makefiles, indexes a package directory and
//! signs the index with usign-compatible Ed25519 keys. Never cross-built, never on a router.

mod adb;
mod apk;
mod eckey;
mod index;
mod ipk;
mod makefile;
mod tar;
mod usign;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
usage:
  feedtool ipk --makefile FEED/PKG/Makefile --arch ARCH --bin-dir DIR --out-dir DIR
               [--package NAME] [--feed NAME] [--source TEXT] [--release N]
      Build <name>_<version>_<arch>.ipk from the Makefile's package define and install
      recipe ($(PKG_INSTALL_DIR)/bin/NAME is NAME in --bin-dir). Member mtimes are
      PKG_SOURCE_DATE_EPOCH or SOURCE_DATE_EPOCH from the environment, else 1704067200.
      Source: defaults to feeds/<feed>/<makefile dir name>, feed defaulting to v6only.
      --release N overrides PKG_RELEASE (a newer build of the same package).
  feedtool apk --makefile FEED/PKG/Makefile --arch ARCH --bin-dir DIR --out-dir DIR
               [--package NAME] [--feed NAME] [--source TEXT] [--release N]
      Build <name>-<version>.apk (apk v3, OpenWrt 25.12) from the same Makefile and files.
  feedtool apk-index --key PRIVATE.pem DIR
      Write DIR/packages.adb for the *.apk in DIR, signed with the EC P-256 key.
  feedtool apk-keygen --secret PRIVATE.pem [--public PUBLIC.pem]
      Create an EC P-256 key unless PRIVATE.pem exists (SEC1 PEM as `openssl ecparam
      -genkey -noout` writes; PKCS#8 is read too); write its SPKI public key to PUBLIC.pem.
  feedtool apk-verify --public PUBLIC.pem packages.adb
      Check the index signature.
  feedtool index DIR
      Write DIR/Packages.manifest, DIR/Packages and DIR/Packages.gz for the *.ipk in DIR
      (and removes a now stale DIR/Packages.sig).
  feedtool keygen --secret FILE --public FILE [--comment TEXT]
      Create a usign key pair unless both files exist (an error if only one does).
  feedtool sign --secret FILE [--sig OUT] FILE
      Sign FILE's bytes; writes FILE.sig (or OUT).
  feedtool verify --public FILE [--sig SIG] FILE
      Check FILE.sig (or SIG) against FILE.
  feedtool fingerprint FILE
      Print the key id of a public key, secret key or signature as usign -F does
      (the file name opkg expects under /etc/opkg/keys/).
";

struct Args {
    words: Vec<String>,
    opts: Vec<(String, String)>,
}

fn parse(args: &[String], with_value: &[&str]) -> Result<Args, String> {
    let mut words = Vec::new();
    let mut opts = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if let Some(name) = a.strip_prefix("--") {
            let (k, v) = match name.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => {
                    if !with_value.contains(&name) {
                        return Err(format!("unknown option --{name}"));
                    }
                    i += 1;
                    let v = args
                        .get(i)
                        .ok_or_else(|| format!("--{name} needs a value"))?;
                    (name.to_string(), v.clone())
                }
            };
            if !with_value.contains(&k.as_str()) {
                return Err(format!("unknown option --{k}"));
            }
            if opts.iter().any(|(o, _)| *o == k) {
                return Err(format!("--{k} given twice"));
            }
            opts.push((k, v));
        } else {
            words.push(a.clone());
        }
        i += 1;
    }
    Ok(Args { words, opts })
}

impl Args {
    fn get(&self, k: &str) -> Option<String> {
        self.opts
            .iter()
            .find(|(o, _)| o == k)
            .map(|(_, v)| v.clone())
    }
    fn need(&self, k: &str) -> Result<String, String> {
        self.get(k).ok_or_else(|| format!("--{k} is required"))
    }
    fn one_word(&self, what: &str) -> Result<String, String> {
        match self.words.as_slice() {
            [w] => Ok(w.clone()),
            _ => Err(format!("expected exactly one {what}")),
        }
    }
    fn no_words(&self) -> Result<(), String> {
        if self.words.is_empty() {
            Ok(())
        } else {
            Err(format!("unexpected argument {}", self.words[0]))
        }
    }
}

fn read(p: &Path) -> Result<String, String> {
    fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))
}

fn pkg_options(a: &Args) -> Result<ipk::Options, String> {
    a.no_words()?;
    Ok(ipk::Options {
        makefile: PathBuf::from(a.need("makefile")?),
        arch: a.need("arch")?,
        bin_dir: PathBuf::from(a.need("bin-dir")?),
        out_dir: PathBuf::from(a.need("out-dir")?),
        package: a.get("package"),
        feed: a.get("feed").unwrap_or_else(|| "v6only".into()),
        source: a.get("source"),
        epoch: ipk::epoch_from_env()?,
        release: a.get("release"),
    })
}

fn cmd_ipk(a: &Args) -> Result<(), String> {
    for b in ipk::build(&pkg_options(a)?)? {
        println!("{}", b.path.display());
    }
    Ok(())
}

fn cmd_apk(a: &Args) -> Result<(), String> {
    for p in apk::build(&pkg_options(a)?)? {
        println!("{}", p.display());
    }
    Ok(())
}

fn read_secret_pem(p: &Path) -> Result<p256::SecretKey, String> {
    eckey::secret_from_pem(&read(p)?).map_err(|e| format!("{}: {e}", p.display()))
}

fn cmd_apk_index(a: &Args) -> Result<(), String> {
    let dir = PathBuf::from(a.one_word("package directory")?);
    let key = read_secret_pem(Path::new(&a.need("key")?))?;
    let n = apk::write_index(&dir, &key)?;
    eprintln!(
        "feedtool: {} package(s) in {}/packages.adb, signed by key {}",
        n,
        dir.display(),
        hex(&eckey::key_id(&key.public_key()))
    );
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn cmd_apk_keygen(a: &Args) -> Result<(), String> {
    a.no_words()?;
    let sec = PathBuf::from(a.need("secret")?);
    let key = if sec.exists() {
        read_secret_pem(&sec)?
    } else {
        if let Some(d) = sec.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        let k = eckey::generate()?;
        ipk::write_atomic(&sec, eckey::secret_to_pem(&k)?.as_bytes(), 0o600)?;
        eprintln!("feedtool: new apk signing key {}", sec.display());
        k
    };
    if let Some(public) = a.get("public").map(PathBuf::from) {
        if let Some(d) = public.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        let pem = eckey::public_to_pem(&key.public_key())?;
        ipk::write_atomic(&public, pem.as_bytes(), 0o644)?;
    }
    println!("{}", hex(&eckey::key_id(&key.public_key())));
    Ok(())
}

fn cmd_apk_verify(a: &Args) -> Result<(), String> {
    let file = PathBuf::from(a.one_word("index file")?);
    let public = PathBuf::from(a.need("public")?);
    let pk = eckey::public_from_pem(&read(&public)?)
        .map_err(|e| format!("{}: {e}", public.display()))?;
    let bytes = fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    apk::verify_index(&bytes, &pk).map_err(|e| format!("{}: {e}", file.display()))?;
    eprintln!("OK");
    Ok(())
}

fn cmd_index(a: &Args) -> Result<(), String> {
    let dir = PathBuf::from(a.one_word("package directory")?);
    let idx = index::write(&dir)?;
    eprintln!(
        "feedtool: indexed {} package(s) in {}",
        idx.names.len(),
        dir.display()
    );
    Ok(())
}

fn cmd_keygen(a: &Args) -> Result<(), String> {
    a.no_words()?;
    let sec = PathBuf::from(a.need("secret")?);
    let public = PathBuf::from(a.need("public")?);
    match (sec.exists(), public.exists()) {
        (true, true) => {
            let s = usign::keyid_of_file(&read(&sec)?)
                .map_err(|e| format!("{}: {e}", sec.display()))?;
            let p = usign::keyid_of_file(&read(&public)?)
                .map_err(|e| format!("{}: {e}", public.display()))?;
            if s != p {
                return Err(format!(
                    "{} and {} are not one key pair",
                    sec.display(),
                    public.display()
                ));
            }
            eprintln!("feedtool: keeping existing key {}", usign::keyid_hex(&s));
            return Ok(());
        }
        (false, false) => {}
        _ => {
            return Err(format!(
                "only one of {} and {} exists; refusing to overwrite",
                sec.display(),
                public.display()
            ))
        }
    }
    let comment = a.get("comment");
    let k = usign::SecretKey::generate()?;
    let id = usign::keyid_hex(&k.keyid);
    for p in [&sec, &public] {
        if let Some(d) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
    }
    let sec_text = usign::encode_file(
        &comment
            .clone()
            .unwrap_or_else(|| format!("private key {id}")),
        &k.to_bytes(),
    )?;
    let pub_text = usign::encode_file(
        &comment.unwrap_or_else(|| format!("public key {id}")),
        &k.public().to_bytes(),
    )?;
    ipk::write_atomic(&sec, sec_text.as_bytes(), 0o600)?;
    ipk::write_atomic(&public, pub_text.as_bytes(), 0o644)?;
    println!("{id}");
    Ok(())
}

fn sig_path(a: &Args, msg: &Path) -> PathBuf {
    a.get("sig").map(PathBuf::from).unwrap_or_else(|| {
        let mut s = msg.as_os_str().to_owned();
        s.push(".sig");
        PathBuf::from(s)
    })
}

fn cmd_sign(a: &Args) -> Result<(), String> {
    let msg = PathBuf::from(a.one_word("file to sign")?);
    let sec = PathBuf::from(a.need("secret")?);
    let (_, rec) =
        usign::decode_file(&read(&sec)?).map_err(|e| format!("{}: {e}", sec.display()))?;
    let k = usign::SecretKey::from_bytes(&rec).map_err(|e| format!("{}: {e}", sec.display()))?;
    let data = fs::read(&msg).map_err(|e| format!("{}: {e}", msg.display()))?;
    let sig = k.sign(&data);
    let text = usign::encode_file(
        &format!("signed by key {}", usign::keyid_hex(&k.keyid)),
        &sig.to_bytes(),
    )?;
    ipk::write_atomic(&sig_path(a, &msg), text.as_bytes(), 0o644)
}

fn cmd_verify(a: &Args) -> Result<(), String> {
    let msg = PathBuf::from(a.one_word("file to verify")?);
    let public = PathBuf::from(a.need("public")?);
    let sigp = sig_path(a, &msg);
    let (_, prec) =
        usign::decode_file(&read(&public)?).map_err(|e| format!("{}: {e}", public.display()))?;
    let pk =
        usign::PublicKey::from_bytes(&prec).map_err(|e| format!("{}: {e}", public.display()))?;
    let (_, srec) =
        usign::decode_file(&read(&sigp)?).map_err(|e| format!("{}: {e}", sigp.display()))?;
    let sig =
        usign::Signature::from_bytes(&srec).map_err(|e| format!("{}: {e}", sigp.display()))?;
    let data = fs::read(&msg).map_err(|e| format!("{}: {e}", msg.display()))?;
    pk.verify(&data, &sig)
        .map_err(|e| format!("{}: {e}", msg.display()))?;
    eprintln!("OK");
    Ok(())
}

fn cmd_fingerprint(a: &Args) -> Result<(), String> {
    let p = PathBuf::from(a.one_word("key or signature file")?);
    let id = usign::keyid_of_file(&read(&p)?).map_err(|e| format!("{}: {e}", p.display()))?;
    println!("{}", usign::keyid_hex(&id));
    Ok(())
}

const PKG_OPTS: &[&str] = &[
    "makefile", "arch", "bin-dir", "out-dir", "package", "feed", "source", "release",
];

fn run(args: &[String]) -> Result<(), String> {
    let (cmd, rest) = args.split_first().ok_or("no command given")?;
    match cmd.as_str() {
        "ipk" => cmd_ipk(&parse(rest, PKG_OPTS)?),
        "apk" => cmd_apk(&parse(rest, PKG_OPTS)?),
        "apk-index" => cmd_apk_index(&parse(rest, &["key"])?),
        "apk-keygen" => cmd_apk_keygen(&parse(rest, &["secret", "public"])?),
        "apk-verify" => cmd_apk_verify(&parse(rest, &["public"])?),
        "index" => cmd_index(&parse(rest, &[])?),
        "keygen" => cmd_keygen(&parse(rest, &["secret", "public", "comment"])?),
        "sign" => cmd_sign(&parse(rest, &["secret", "sig"])?),
        "verify" => cmd_verify(&parse(rest, &["public", "sig"])?),
        "fingerprint" => cmd_fingerprint(&parse(rest, &[])?),
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            Ok(())
        }
        "-V" | "--version" => {
            println!("feedtool {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        other => Err(format!("unknown command {other}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("feedtool: {e}");
            if e.starts_with("unknown")
                || e.starts_with("no command")
                || e.contains("is required")
                || e.starts_with("expected")
            {
                eprint!("{USAGE}");
                return ExitCode::from(2);
            }
            ExitCode::FAILURE
        }
    }
}
