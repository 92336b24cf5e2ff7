//! The `scim-gateway` command line: start-up only.
use clap::{Parser, Subcommand};
use scim_gateway::scim::schema::SchemaRegistry;
use scim_gateway::store::{self, Store, StoreConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// A multi-tenant SCIM 2.0 gateway and reverse proxy.
#[derive(Debug, Parser)]
#[command(name = "scim-gateway", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the built-in in-memory SCIM 2.0 store on its own (for demos,
    /// tests and benchmarks). Plain HTTP: keep it on loopback.
    Store {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: SocketAddr,
        /// Most Users plus Groups held at once.
        #[arg(long, default_value_t = StoreConfig::default().max_resources)]
        max_resources: usize,
        /// A directory of extra schema files (RFC 7643 §7 JSON) to load,
        /// e.g. `config/schemas`.
        #[arg(long)]
        schemas: Option<PathBuf>,
        /// Adds a loaded extension schema to a resource type:
        /// `User=urn:example:params:scim:schemas:extension:acme:2.0:User`
        /// (repeatable).
        #[arg(long = "extend", value_name = "TYPE=URN")]
        extend: Vec<String>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("scim-gateway: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("scim-gateway: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Store {
            listen,
            max_resources,
            schemas,
            extend,
        } => {
            let mut registry = SchemaRegistry::builtin();
            if let Some(dir) = schemas {
                let loaded = registry.load_schema_dir(&dir).map_err(|e| {
                    format!("loading schemas from {}: {}", dir.display(), e.detail())
                })?;
                tracing::info!(schemas = ?loaded, "extension schemas loaded");
            }
            for spec in &extend {
                let (rt, urn) = spec
                    .split_once('=')
                    .ok_or_else(|| format!("--extend {spec}: expected TYPE=URN"))?;
                registry
                    .extend_resource_type(rt, urn, false)
                    .map_err(|e| format!("--extend {spec}: {}", e.detail()))?;
            }
            let config = StoreConfig {
                max_resources,
                ..StoreConfig::default()
            };
            let store = Arc::new(Store::with_registry(config, registry));
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
            tracing::info!(address = %listen, "built-in SCIM store listening (base URL http://{listen}/scim/v2)");
            store::server::serve(listener, store, shutdown_signal())
                .await
                .map_err(|e| format!("serving: {e}"))
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
