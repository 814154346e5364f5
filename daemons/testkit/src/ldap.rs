//! A real OpenLDAP server for tests: Debian's `slapd` with a throwaway MDB database under
//! `dc=example,dc=test`, changed with the `ldapmodify` client (Debian: slapd, ldap-utils).

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The directory's suffix, administrator and its password.
pub const SUFFIX: &str = "dc=example,dc=test";
pub const ADMIN_DN: &str = "cn=admin,dc=example,dc=test";
pub const ADMIN_PASSWORD: &str = "slapd admin secret";

/// A running `slapd` on loopback; stopped when dropped.
pub struct Slapd {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

fn found(program: &str) -> bool {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(program).exists())
}

impl Slapd {
    /// Starts slapd with `ldif` loaded (entries under [`SUFFIX`], which itself exists).
    /// `None` when slapd or ldap-utils are missing, unless the environment demands the real
    /// tools (`NEXUS_TEST_REQUIRE_TOOLS=1`): then that is an error.
    pub async fn start(ldif: &str) -> Result<Option<Self>> {
        if !found("slapd") || !found("ldapmodify") {
            if std::env::var("NEXUS_TEST_REQUIRE_TOOLS").is_ok_and(|v| v == "1") {
                bail!("slapd is missing: apt-get install slapd ldap-utils");
            }
            eprintln!("skipping: slapd is missing (apt-get install slapd ldap-utils)");
            return Ok(None);
        }
        let dir = tempfile::Builder::new().prefix("nexus-slapd-").tempdir()?;
        let data = dir.path().join("data");
        std::fs::create_dir(&data)?;
        let conf = dir.path().join("slapd.conf");
        std::fs::write(
            &conf,
            format!(
                "include /etc/ldap/schema/core.schema\n\
                 include /etc/ldap/schema/cosine.schema\n\
                 include /etc/ldap/schema/inetorgperson.schema\n\
                 include /etc/ldap/schema/nis.schema\n\
                 modulepath /usr/lib/ldap\n\
                 moduleload back_mdb\n\
                 pidfile {pid}\n\
                 database mdb\n\
                 maxsize 10485760\n\
                 suffix \"{SUFFIX}\"\n\
                 rootdn \"{ADMIN_DN}\"\n\
                 rootpw \"{ADMIN_PASSWORD}\"\n\
                 directory {data}\n",
                pid = dir.path().join("slapd.pid").display(),
                data = data.display(),
            ),
        )?;
        // Loaded offline before the server starts: nothing to wait for.
        let base = format!(
            "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n{ldif}"
        );
        let ldif_path = dir.path().join("seed.ldif");
        std::fs::write(&ldif_path, base)?;
        let out = Command::new("slapadd")
            .arg("-f")
            .arg(&conf)
            .arg("-l")
            .arg(&ldif_path)
            .output()
            .context("cannot run slapadd")?;
        if !out.status.success() {
            bail!("slapadd failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        // `-d 0` keeps slapd in the foreground, so the test owns the process.
        let child = Command::new("slapd")
            .arg("-f")
            .arg(&conf)
            .arg("-h")
            .arg(format!("ldap://127.0.0.1:{port}/"))
            .args(["-d", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start slapd")?;
        let slapd = Self {
            port,
            child,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                bail!("slapd did not listen on port {port} within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Some(slapd))
    }

    /// `ldap://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// Applies an LDIF change (add, modify, delete records) as the administrator, with the
    /// real `ldapmodify` client.
    pub fn modify(&self, ldif: &str) -> Result<()> {
        let mut child = Command::new("ldapmodify")
            .args([
                "-x",
                "-H",
                &self.url(),
                "-D",
                ADMIN_DN,
                "-w",
                ADMIN_PASSWORD,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot run ldapmodify")?;
        child
            .stdin
            .take()
            .context("no stdin for ldapmodify")?
            .write_all(ldif.as_bytes())?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "ldapmodify failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
