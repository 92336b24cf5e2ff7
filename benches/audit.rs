//! Journal append cost per record: the writer's throughput with
//! `fsync = "interval"` (many appends in flight, group commit), and with
//! `fsync = "per_record"` both in flight (group commit) and one at a time
//! (one fdatasync per record: the latency floor).
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use scim_gateway::audit::{AuditRecord, AuditSettings, FsyncPolicy, Journal};
use std::time::{Duration, Instant};

const IN_FLIGHT: u64 = 256;

fn record(i: u64) -> AuditRecord {
    let mut r = AuditRecord::write(&format!("req-{i}"), "PATCH", [10, 0, 0, 1].into());
    r.tenant = Some("acme".into());
    r.resource_type = Some("User".into());
    r.resource_id = Some(format!("user-{i}"));
    r.attributes = vec!["active", "emails"].into();
    r.outcome.status = 200;
    r.outcome.upstream_status = Some(200);
    r
}

fn event(i: u64) -> serde_json::Value {
    serde_json::json!({"specversion": "1.0", "id": format!("ev-{i}"), "type": "scim.user.updated",
        "source": "/tenants/acme", "subject": format!("user-{i}"), "data": {"active": false}})
}

fn journal(rt: &tokio::runtime::Runtime, name: &str, fsync: FsyncPolicy) -> Option<Journal> {
    let dir = std::env::temp_dir().join(format!("scim-audit-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _guard = rt.enter();
    Journal::open(AuditSettings {
        dir,
        fsync,
        ..AuditSettings::default()
    })
    .ok()
}

fn append(c: &mut Criterion) {
    let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    else {
        return;
    };
    let mut group = c.benchmark_group("audit_append");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3));
    for (name, policy, in_flight) in [
        ("interval_in_flight", FsyncPolicy::Interval, IN_FLIGHT),
        ("per_record_in_flight", FsyncPolicy::PerRecord, IN_FLIGHT),
        ("per_record_one_at_a_time", FsyncPolicy::PerRecord, 1),
    ] {
        let Some(j) = journal(&rt, name, policy) else {
            return;
        };
        group.throughput(Throughput::Elements(in_flight));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                rt.block_on(async {
                    for it in 0..iters {
                        let acks: Vec<_> = (0..in_flight)
                            .map(|i| j.append(record(it * in_flight + i), Some(event(i).into())))
                            .collect();
                        for ack in acks {
                            let _ = ack.await;
                        }
                    }
                });
                start.elapsed()
            });
        });
        let _ = rt.block_on(j.shutdown());
    }
    group.finish();
}

criterion_group!(benches, append);
criterion_main!(benches);
