//! A built-in store on an ephemeral loopback port, in a runtime of its own
//! (so sync tests and async tests alike can use it), stopped on drop.
use scim_gateway::scim::schema::SchemaRegistry;
use scim_gateway::store::{server, Store, StoreConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;

pub struct TestStore {
    addr: SocketAddr,
    store: Arc<Store>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestStore {
    /// A store with the default configuration.
    pub fn spawn() -> TestStore {
        TestStore::spawn_with(StoreConfig::default())
    }

    pub fn spawn_with(config: StoreConfig) -> TestStore {
        TestStore::spawn_store(Store::new(config))
    }

    /// A store serving `registry` (extension schemas).
    pub fn spawn_with_registry(registry: SchemaRegistry) -> TestStore {
        TestStore::spawn_with_config_and_registry(StoreConfig::default(), registry)
    }

    /// A store with `config` serving `registry` (what `scim-gateway store
    /// --no-patch --schemas DIR --extend User=URN` runs).
    pub fn spawn_with_config_and_registry(
        config: StoreConfig,
        registry: SchemaRegistry,
    ) -> TestStore {
        TestStore::spawn_store(Store::with_registry(config, registry))
    }

    fn spawn_store(store: Store) -> TestStore {
        let store = Arc::new(store);
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let served = store.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                addr_tx
                    .send(listener.local_addr().expect("addr"))
                    .expect("send");
                server::serve(listener, served, async {
                    let _ = stop_rx.await;
                })
                .await
                .expect("serve");
            });
        });
        let addr = addr_rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("store did not start");
        TestStore {
            addr,
            store,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT/scim/v2`
    pub fn base_url(&self) -> String {
        format!("http://{}/scim/v2", self.addr)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
