//! A real Alertmanager (Debian's `prometheus-alertmanager`, started here on 127.0.0.1)
//! receives the alert, lists it as active, and drops it from the active list once resolved.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tallyho_rules::{
    Clock, ManagerOptions, ManualClock, NotifierOptions, Notifiers, RuleManager, Rules, SystemClock,
};

use crate::common::{free_port, temp_dir, tool, wait_for, MemStore};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_alertmanager() -> (Killed, String) {
    let dir = temp_dir("am");
    let config = dir.join("am.yml");
    std::fs::write(
        &config,
        "route:\n  receiver: \"null\"\nreceivers:\n  - name: \"null\"\n",
    )
    .unwrap();
    let port = free_port();
    let child = Command::new(tool("prometheus-alertmanager"))
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start alertmanager");
    let guard = Killed(child);
    let url = format!("http://127.0.0.1:{port}");
    let ready = wait_for(Duration::from_secs(20), || {
        ureq::get(&format!("{url}/-/ready")).call().is_ok()
    });
    assert!(ready, "alertmanager did not become ready on {url}");
    (guard, url)
}

fn active_alerts(url: &str) -> Vec<serde_json::Value> {
    let body = ureq::get(&format!("{url}/api/v2/alerts"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    serde_json::from_str::<Vec<serde_json::Value>>(&body).unwrap()
}

#[test]
fn alertmanager_shows_the_alert_active_then_resolved() {
    let (_am, url) = start_alertmanager();
    let n = Notifiers::new();
    n.alertmanager(&url, NotifierOptions::default()).unwrap();
    let yaml = "groups:\n  - name: g\n    rules:\n      - alert: DiskFull\n        expr: disk_free_ratio < 0.1\n        labels: {severity: critical}\n        annotations: {summary: '{{ $labels.mount }} has {{ $value | humanizePercentage }} free'}\n";
    // Alertmanager judges startsAt/endsAt by its own wall clock, so evaluate at real times:
    // firing two minutes ago, resolved a second ago.
    let now = SystemClock.now_ms();
    let (t1, t2) = (now - 120_000, now - 1_000);
    let store = MemStore::new();
    store.put(r#"disk_free_ratio{mount="/data"}"#, t1 - 10_000, 0.05);
    store.put(r#"disk_free_ratio{mount="/data"}"#, t2 - 10_000, 0.5);
    let opts = ManagerOptions {
        external_labels: tallyho_query::Labels::new([("site".to_string(), "test".to_string())]),
        ..ManagerOptions::default()
    };
    let m = RuleManager::new(
        Rules::from_text("am.yml", yaml).unwrap(),
        store.clone(),
        store.clone(),
        n.clone(),
        Arc::new(ManualClock::new(t1)),
        opts,
    );

    m.evaluate_at(t1);
    assert!(n.flush(Duration::from_secs(10)));
    assert_eq!(n.stats()[0].sent, 1, "{:?}", n.stats());
    let alerts = active_alerts(&url);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let a = &alerts[0];
    assert_eq!(a["status"]["state"], "active");
    assert_eq!(a["labels"]["alertname"], "DiskFull");
    assert_eq!(a["labels"]["mount"], "/data");
    assert_eq!(a["labels"]["severity"], "critical");
    assert_eq!(a["labels"]["site"], "test");
    assert_eq!(a["annotations"]["summary"], "/data has 5% free");
    assert!(a["generatorURL"]
        .as_str()
        .unwrap()
        .ends_with("/graph?g0.expr=disk_free_ratio+%3C+0.1&g0.tab=1"));

    m.evaluate_at(t2);
    assert!(n.flush(Duration::from_secs(10)));
    assert_eq!(n.stats()[0].sent, 2);
    let gone = wait_for(Duration::from_secs(10), || active_alerts(&url).is_empty());
    assert!(
        gone,
        "still active after resolve: {:?}",
        active_alerts(&url)
    );
    n.stop(Duration::from_secs(1));
}
