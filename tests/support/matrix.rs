//! The conformance matrix's combinations (docs/conformance.md): what a
//! gateway tenant is built from (upstream, schema, dialect, extras), the
//! all-pairs set of them that tests/it/matrix.rs runs, and a running rig
//! (upstream, gateway, webhook receiver) for one combination.
use super::gateway::{token_for, TestGateway};
use super::pairwise;
use super::peers::{self, PythonServer};
use super::store::TestStore;
use super::webhook::{secret, WebhookReceiver};
use scim_gateway::scim::schema::SchemaRegistry;
use scim_gateway::store::StoreConfig;
use std::path::{Path, PathBuf};

/// The backend's own extension of tests/fixtures/mapping.
pub const LEGACY: &str = "urn:example:legacy:2.0:User";

/// Where the tenant's requests go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upstream {
    /// `kind = "builtin"`: the store in the gateway's process.
    Builtin,
    /// The built-in store over HTTP (everything native).
    Store,
    /// The legacy backend: the store over HTTP without PATCH (501,
    /// so the gateway emulates it) holding the legacy extension.
    StoreNoPatch,
    /// The store over HTTP holding the legacy extension, with PATCH.
    StoreLegacy,
    /// The third-party Python scim2-server.
    Scim2Server,
}

impl Upstream {
    pub const ALL: [Upstream; 5] = [
        Upstream::Builtin,
        Upstream::Store,
        Upstream::StoreNoPatch,
        Upstream::StoreLegacy,
        Upstream::Scim2Server,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Upstream::Builtin => "builtin",
            Upstream::Store => "store",
            Upstream::StoreNoPatch => "store-no-patch",
            Upstream::StoreLegacy => "store-legacy",
            Upstream::Scim2Server => "scim2-server",
        }
    }

    /// Whether it holds `urn:example:legacy:2.0:User`, which the legacy
    /// mapping table maps into.
    pub fn holds_legacy_extension(self) -> bool {
        matches!(self, Upstream::StoreNoPatch | Upstream::StoreLegacy)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    None,
    Entra,
    Okta,
}

impl Dialect {
    pub const ALL: [Dialect; 3] = [Dialect::None, Dialect::Entra, Dialect::Okta];

    pub fn name(self) -> &'static str {
        match self {
            Dialect::None => "none",
            Dialect::Entra => "entra",
            Dialect::Okta => "okta",
        }
    }
}

/// One tenant of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Combo {
    pub upstream: Upstream,
    /// `[tenants.schema] mapping = tests/fixtures/mapping/store-legacy.toml`.
    pub legacy_schema: bool,
    pub dialect: Dialect,
    /// `[tenants.cache]`.
    pub cache: bool,
    /// The audit journal with a `[[tenants.webhooks]]` sink; off is
    /// `[audit] enabled = false`.
    pub audit: bool,
    /// Tenant and upstream rate and concurrency limits, never reached.
    pub limits: bool,
}

/// The dimensions, in row order: (name, value names).
pub const DIMENSIONS: [(&str, &[&str]); 6] = [
    (
        "upstream",
        &[
            "builtin",
            "store",
            "store-no-patch",
            "store-legacy",
            "scim2-server",
        ],
    ),
    ("schema", &["none", "legacy"]),
    ("dialect", &["none", "entra", "okta"]),
    ("cache", &["off", "on"]),
    ("audit", &["off", "on"]),
    ("limits", &["off", "on"]),
];

pub fn sizes() -> Vec<usize> {
    DIMENSIONS.iter().map(|(_, values)| values.len()).collect()
}

/// The legacy mapping table only where the upstream holds the extension.
pub fn valid(row: &[usize]) -> bool {
    row[1] == 0 || Upstream::ALL[row[0]].holds_legacy_extension()
}

/// Rows run whatever the generator picks: the mapped, PATCH-less
/// legacy tenant, with and without the Entra dialect.
pub fn seeds() -> Vec<Vec<usize>> {
    vec![vec![2, 1, 0, 0, 0, 0], vec![2, 1, 1, 1, 1, 1]]
}

/// The all-pairs rows of the matrix.
pub fn rows() -> Vec<Vec<usize>> {
    pairwise::all_pairs(&sizes(), &valid, &seeds())
}

pub fn combos() -> Vec<Combo> {
    rows().iter().map(|r| Combo::from_row(r)).collect()
}

impl Combo {
    pub fn from_row(row: &[usize]) -> Combo {
        Combo {
            upstream: Upstream::ALL[row[0]],
            legacy_schema: row[1] == 1,
            dialect: Dialect::ALL[row[2]],
            cache: row[3] == 1,
            audit: row[4] == 1,
            limits: row[5] == 1,
        }
    }

    /// Value names in dimension order, for the table.
    pub fn cells(&self) -> [&'static str; 6] {
        let on = |b: bool| if b { "on" } else { "off" };
        [
            self.upstream.name(),
            if self.legacy_schema { "legacy" } else { "none" },
            self.dialect.name(),
            on(self.cache),
            on(self.audit),
            on(self.limits),
        ]
    }

    pub fn label(&self) -> String {
        let [u, s, d, c, a, l] = self.cells();
        format!("upstream={u} schema={s} dialect={d} cache={c} audit={a} limits={l}")
    }
}

fn mapping_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mapping")
}

/// The built-in store's schemas plus the legacy extension on User, as
/// `store --schemas tests/fixtures/mapping --extend User=<LEGACY>` has them.
fn legacy_registry() -> SchemaRegistry {
    let mut registry = SchemaRegistry::builtin();
    registry.load_schema_dir(&mapping_dir()).unwrap();
    registry
        .extend_resource_type("User", LEGACY, false)
        .unwrap();
    registry
}

/// Starts one upstream of the matrix: what keeps it alive, and its base
/// URL (`None`: the in-process store, no URL).
pub fn spawn_upstream(kind: Upstream) -> (Held, Option<String>) {
    match kind {
        Upstream::Builtin => (Held::InProcess, None),
        Upstream::Store => {
            let s = TestStore::spawn();
            let url = s.base_url();
            (Held::Store(s), Some(url))
        }
        Upstream::StoreNoPatch => {
            let config = StoreConfig {
                patch: false,
                ..StoreConfig::default()
            };
            let s = TestStore::spawn_with_config_and_registry(config, legacy_registry());
            let url = s.base_url();
            (Held::Store(s), Some(url))
        }
        Upstream::StoreLegacy => {
            let s = TestStore::spawn_with_registry(legacy_registry());
            let url = s.base_url();
            (Held::Store(s), Some(url))
        }
        Upstream::Scim2Server => {
            let s = peers::spawn_scim2_server();
            let url = s.base_url();
            (Held::Python(s), Some(url))
        }
    }
}

/// What keeps the upstream alive.
pub enum Held {
    InProcess,
    Store(TestStore),
    Python(PythonServer),
}

/// A running combination: its upstream, a plaintext gateway with the one
/// path-routed tenant `matrix-N`, and the webhook receiver of its audit
/// sink. The tenant id is new per rig: the metrics registry is one per
/// process, and its `tenant` label tells the rows apart.
pub struct Rig {
    pub gateway: TestGateway,
    pub tenant: String,
    /// `http://127.0.0.1:PORT/tenants/matrix-N/scim/v2`
    pub base: String,
    /// `Bearer ...` for the tenant.
    pub auth: String,
    pub webhook: Option<WebhookReceiver>,
    dir: PathBuf,
    upstream: Held,
}

impl Rig {
    pub fn spawn(combo: &Combo) -> Rig {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("scimgw-matrix-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let id = format!("matrix-{n}");

        let (upstream, url) = spawn_upstream(combo.upstream);

        let mut upstream_toml = match &url {
            None => "[upstreams.up]\nkind = \"builtin\"\n".to_string(),
            Some(url) => format!(
                "[upstreams.up]\nkind = \"http\"\nurl = \"{url}\"\nrequest_timeout = \"10s\"\n"
            ),
        };
        let mut tenant = String::new();
        if combo.legacy_schema {
            tenant += &format!(
                "[tenants.schema]\nmapping = \"{}\"\n",
                mapping_dir().join("store-legacy.toml").display()
            );
        }
        if combo.dialect != Dialect::None {
            tenant += &format!(
                "[tenants.dialect]\nprofile = \"{}\"\n",
                combo.dialect.name()
            );
        }
        if combo.cache {
            tenant += "[tenants.cache]\nttl = \"30s\"\n";
        }
        if combo.limits {
            // Far above what scim2-tester and the replays send: on, never reached.
            tenant += "[tenants.limits]\nrate = 10000\nburst = 10000\nprincipal_rate = 10000\nmax_concurrent = 64\n";
            upstream_toml +=
                "[upstreams.up.limits]\nrate = 10000\nburst = 10000\nmax_concurrent = 64\n";
        }
        let mut webhook = None;
        if combo.audit {
            let key = secret(17);
            let receiver = WebhookReceiver::spawn(&[&key]);
            let secret_file = dir.join("hook.secret");
            std::fs::write(&secret_file, &key).unwrap();
            tenant += &format!(
                "[[tenants.webhooks]]\nname = \"matrix\"\nurl = \"{}\"\nsecret_file = [\"{}\"]\ninitial_backoff = \"50ms\"\nmax_backoff = \"200ms\"\n",
                receiver.url(),
                secret_file.display()
            );
            upstream_toml += "[events]\npoll_interval = \"20ms\"\n";
            webhook = Some(receiver);
        } else {
            upstream_toml += "[audit]\nenabled = false\n";
        }

        let gateway = TestGateway::builder()
            .plaintext()
            .raw_upstream(&upstream_toml)
            .tenant_with(&id, &[], "up", &tenant)
            .spawn();
        let base = format!("http://{}/tenants/{id}/scim/v2", gateway.bound.public);
        Rig {
            gateway,
            base,
            auth: format!("Bearer {}", token_for(&id)),
            tenant: id,
            webhook,
            dir,
            upstream,
        }
    }

    /// The upstream's own log (scim2-server's access log), for reports.
    pub fn upstream_log(&self) -> Option<String> {
        match &self.upstream {
            Held::Python(p) => Some(p.log()),
            Held::Store(_) | Held::InProcess => None,
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The matrix covers every pair of values of any two dimensions that
    /// some valid combination holds, and runs no invalid combination.
    #[test]
    fn the_matrix_covers_every_pair_of_options() {
        let rows = rows();
        let open = pairwise::uncovered(&sizes(), &valid, &rows);
        assert!(open.is_empty(), "uncovered pairs: {open:?}");
        assert!(rows.iter().all(|r| valid(r)), "{rows:?}");
        for seed in seeds() {
            assert!(rows.contains(&seed), "seed {seed:?} not run");
        }
        // Every value of every dimension is in some row, and each pair
        // of dimensions is checked by value names, not indices only.
        for (i, (_, a_values)) in DIMENSIONS.iter().enumerate() {
            for (j, (_, b_values)) in DIMENSIONS.iter().enumerate().skip(i + 1) {
                for a in 0..a_values.len() {
                    for b in 0..b_values.len() {
                        let possible =
                            pairwise::required_pairs(&sizes(), &valid).contains(&((i, a), (j, b)));
                        let held = rows.iter().any(|r| r[i] == a && r[j] == b);
                        assert_eq!(
                            held, possible,
                            "{}={} with {}={}",
                            DIMENSIONS[i].0, a_values[a], DIMENSIONS[j].0, b_values[b]
                        );
                    }
                }
            }
        }
        // The full product is 168 valid rows; all-pairs keeps the matrix
        // inside its CI budget.
        let product = pairwise::product(&sizes(), &valid).len();
        assert_eq!(product, 168);
        assert!(rows.len() <= 24, "{} rows", rows.len());
    }

    #[test]
    fn the_legacy_schema_is_only_combined_with_upstreams_holding_the_extension() {
        for combo in combos() {
            assert!(
                !combo.legacy_schema || combo.upstream.holds_legacy_extension(),
                "{}",
                combo.label()
            );
        }
    }
}
