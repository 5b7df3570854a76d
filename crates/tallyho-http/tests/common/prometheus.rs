//! A real Prometheus (Debian package `prometheus`; scripts/test.sh installs it) on
//! 127.0.0.1, a free port and a temporary directory, killed and removed when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running Prometheus.
pub struct Prometheus {
    child: Child,
    pub dir: PathBuf,
    pub port: u16,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `prometheus` with `config` and `extra` flags; does not wait for it.
pub fn start(config: &str, extra: &[&str]) -> Prometheus {
    let dir = std::env::temp_dir().join(format!(
        "tallyho-prom-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let config_path = dir.join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(extra)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("prometheus not found: run scripts/test.sh, which installs Debian's prometheus");
    Prometheus { child, dir, port }
}

impl Prometheus {
    /// Polls `ok` until it holds, for up to 90 s; panics with Prometheus' log otherwise.
    pub fn wait_for(&self, what: &str, mut ok: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            if ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let log = std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default();
        panic!("timed out waiting for {what}; prometheus log:\n{log}");
    }

    /// Waits until `/-/ready` answers 200.
    pub fn wait_ready(&self) {
        let url = format!("http://127.0.0.1:{}/-/ready", self.port);
        self.wait_for("Prometheus to be ready", || {
            ureq::get(&url).call().is_ok_and(|r| r.status() == 200)
        });
    }
}
