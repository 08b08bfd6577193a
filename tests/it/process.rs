//! `huiqian serve` as its own process, for what an in-process server cannot show: being
//! killed, two servers on one database, what the server writes to its log.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (for a server that must come back on the same address).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// What a server process is started with: the test's database, data folder and key.
#[derive(Clone)]
pub struct Deployment {
    pub data: PathBuf,
    pub db_url: String,
    pub secret_key: String,
    /// Extra `huiqian.toml` lines (the test configuration turns second factors off).
    pub config: String,
}

impl Deployment {
    pub fn of(cfg: &huiqian::config::Config) -> Deployment {
        Deployment {
            data: cfg.data.clone(),
            db_url: cfg.database_url.clone(),
            secret_key: cfg.secret_key.clone(),
            config: String::new(),
        }
    }

    /// The binary: the one cargo built for these tests, or `HUIQIAN_SERVER_BIN` (a
    /// release build, for the soak).
    pub fn command(&self, args: &[&str]) -> Command {
        let bin = std::env::var("HUIQIAN_SERVER_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_huiqian").to_string());
        let mut c = Command::new(bin);
        c.args(args)
            .env("HUIQIAN_DATA", &self.data)
            .env("HUIQIAN_DATABASE_URL", &self.db_url)
            .env("HUIQIAN_SECRET_KEY", &self.secret_key)
            .env_remove("HUIQIAN_CONFIG")
            .env_remove("HUIQIAN_LOG_FORMAT");
        c
    }
}

pub struct Server {
    pub child: Child,
    pub base: String,
    pub log: PathBuf,
}

impl Server {
    /// Start `huiqian serve` on `port`, its standard error appended to `log`, and wait
    /// until it is ready.
    pub async fn start(d: &Deployment, port: u16, log: &Path, env: &[(&str, &str)]) -> Server {
        let toml = format!("[auth]\nrequire_totp_roles = []\n{}", d.config);
        std::fs::write(d.data.join("huiqian.toml"), toml).unwrap();
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let listen = format!("127.0.0.1:{port}");
        let mut cmd = d.command(&["serve", "--listen", &listen]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.stdout(Stdio::null()).stderr(out).spawn().unwrap();
        let base = format!("http://{listen}");
        let mut s = Server { child, base, log: log.to_path_buf() };
        s.wait_ready().await;
        s
    }

    async fn wait_ready(&mut self) {
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{}/readyz", self.base)).send().await
                && r.status() == 200
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the server exited ({status}); log:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            assert!(started.elapsed() < Duration::from_secs(60), "the server did not get ready within a minute");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, and wait for the server to finish its requests and stop.
    pub fn terminate(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
