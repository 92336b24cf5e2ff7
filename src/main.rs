//! The `scim-gateway` command line: start-up only.
use clap::{Parser, Subcommand};
use scim_gateway::authn::static_token;
use scim_gateway::config::{self, ConfigHandle};
use scim_gateway::scim::schema::SchemaRegistry;
use scim_gateway::store::{self, Store, StoreConfig};
use scim_gateway::telemetry::{self, LogFormat};
use scim_gateway::tls;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// mimalloc: the request path allocates many small, short-lived buffers,
/// where it measurably beats glibc malloc (see benches/load). Its 2.x line
/// (the crate's `v2` feature): 0.7 to 0.8 µs less CPU per proxied POST
/// than 3.x in two A/B runs (`benches/load/ab.sh`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `--version`: the crate version, the git commit and the build date
/// (from src/build.rs; "unknown" outside a git checkout).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SCIM_GATEWAY_COMMIT"),
    ", built ",
    env!("SCIM_GATEWAY_BUILD_DATE"),
    ")"
);

/// Exit status for a config that does not load (EX_CONFIG in sysexits.h):
/// `run` and `check-config`. A supervisor can tell it from a crash (1) and
/// need not restart in a loop. Usage errors exit 2 (clap).
const EX_CONFIG: u8 = 78;

/// The default of every `--config`, overridden by `SCIM_GATEWAY_CONFIG`.
const DEFAULT_CONFIG: &str = "config/gateway.toml";

/// A multi-tenant SCIM 2.0 gateway and reverse proxy.
///
/// Exit status: 0 success, 1 a failure at run time (a port in use, an audit
/// log that cannot open, a failed command), 2 a usage error, 78 a config
/// that does not load (`run`, `check-config`).
#[derive(Debug, Parser)]
#[command(name = "scim-gateway", version = VERSION, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway.
    Run {
        /// The config file.
        #[arg(long, value_name = "PATH", env = "SCIM_GATEWAY_CONFIG", default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// Log as text instead of JSON lines.
        #[arg(long)]
        text_logs: bool,
        /// Threads serving requests (default: one per CPU). With 1 the
        /// gateway runs a single-threaded event loop, like one nginx worker;
        /// run one process per core on one port (`[server] reuse_port =
        /// true`, SO_REUSEPORT) or behind a balancer.
        #[arg(long)]
        worker_threads: Option<usize>,
    },
    /// Check a config file and print every problem with its location
    /// (exit status 78 if there is any).
    CheckConfig {
        /// The config file.
        #[arg(long, value_name = "PATH", env = "SCIM_GATEWAY_CONFIG", default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// The config file, as a positional argument (the older form;
        /// wins over --config).
        #[arg(value_name = "PATH")]
        path: Option<PathBuf>,
    },
    /// Read a token on stdin and print the hash to put in the config.
    HashToken {
        /// Make a fresh random token and print it with its hash.
        #[arg(long)]
        generate: bool,
    },
    /// Make a throwaway development CA, a server certificate for localhost
    /// and the given hosts, and client certificates. Development only.
    DevCerts {
        /// Directory to write into.
        dir: PathBuf,
        /// Extra server host names (repeatable).
        #[arg(long = "host")]
        hosts: Vec<String>,
        /// Client certificate names (repeatable).
        #[arg(long = "client")]
        clients: Vec<String>,
    },
    /// Compare a tenant's upstream with what the gateway wrote to it: a
    /// drift run in the running gateway (its admin API), listing resources
    /// changed, created or deleted outside the gateway (docs/safety.md).
    /// Exit status 0: no drift (or, without --wait, the run started); 3:
    /// drift found; 1: an error or a failed run.
    Drift(scim_gateway::run::drift_cli::DriftArgs),
    /// The tamper-evident audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Run the built-in in-memory SCIM 2.0 store on its own (for demos,
    /// tests and benchmarks). Plain HTTP: keep it on loopback.
    Store {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: SocketAddr,
        /// Most Users plus Groups held at once.
        #[arg(long, default_value_t = StoreConfig::default().max_resources)]
        max_resources: usize,
        /// Answer PATCH with 501 and advertise `patch.supported: false`,
        /// like a legacy backend (the gateway then emulates PATCH).
        #[arg(long)]
        no_patch: bool,
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
    /// Probe an upstream SCIM server: a conformance scorecard (each check,
    /// its result, and what the gateway does about it: pass through,
    /// emulate, normalize, refuse) and the `[upstreams.NAME.capabilities]`
    /// block that fits it.
    ///
    /// The probe creates two Users and a few Groups named with a unique
    /// prefix (`scimprobe` and 8 hex digits), exercises discovery, create,
    /// read, replace, delete, every PATCH form, every filter operator,
    /// sorting, paging, ETags, Bulk and error answers on them, and deletes
    /// them at the end whatever happened (a failed check, the time limit,
    /// Ctrl-C). Only resources it made are touched. Exit status: 0 when the
    /// run completed and nothing was left behind (failed checks are
    /// findings, not errors), 1 otherwise (also when the upstream never
    /// answered).
    #[command(verbatim_doc_comment)]
    Probe {
        /// The upstream's SCIM base URL, e.g. `https://hr.internal/scim/v2`
        /// (not with --config).
        #[arg(required_unless_present = "config")]
        url: Option<String>,
        /// Send `Authorization: Bearer <the file's content>`.
        #[arg(long, value_name = "FILE", conflicts_with = "basic")]
        bearer_file: Option<PathBuf>,
        /// Send HTTP Basic credentials: the user name, and a file holding
        /// the password.
        #[arg(long, value_name = "USER:FILE")]
        basic: Option<String>,
        /// Trust only the CAs of this PEM file for an https URL (default:
        /// the public web roots).
        #[arg(long, value_name = "FILE")]
        ca_file: Option<PathBuf>,
        /// Probe a named upstream of this gateway config instead of a URL:
        /// its URL, TLS settings and credential (OAuth 2.0 included), as
        /// the gateway uses them. Needs --upstream.
        #[arg(long, value_name = "FILE", requires = "upstream",
              conflicts_with_all = ["url", "bearer_file", "basic", "ca_file"])]
        config: Option<PathBuf>,
        /// The upstream's name in --config (also the NAME of the printed
        /// block).
        #[arg(long, value_name = "NAME", requires = "config")]
        upstream: Option<String>,
        /// The upstream name used in the printed block (default: --upstream,
        /// else `NAME`).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Print the scorecard as JSON (for machines) instead of a table.
        #[arg(long)]
        json: bool,
        /// List the requests the probe would send, without sending any.
        #[arg(long)]
        dry_run: bool,
        /// Bound of each request.
        #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
        timeout: std::time::Duration,
        /// Bound of all checks together; the cleanup runs after it in any
        /// case (each of its requests bounded by --timeout).
        #[arg(long, default_value = "2m", value_parser = humantime::parse_duration)]
        max_time: std::time::Duration,
    },
    /// The deprovisioning guardrail of a running gateway: list, show,
    /// release or drop held operations (through the admin API).
    Guardrail {
        #[command(subcommand)]
        command: scim_gateway::run::guardrail_cli::GuardrailCommand,
    },
    /// A tenant's shadow upstream on a running gateway: the comparison
    /// summary, or a backfill (through the admin API). `status` exits 3
    /// when answers differed.
    Shadow {
        #[command(subcommand)]
        command: scim_gateway::run::shadow_cli::ShadowCommand,
    },
    /// Change events: replay dead letters, show delivery progress.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Print a shell completion script, e.g.
    /// `scim-gateway completions bash > /etc/bash_completion.d/scim-gateway`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `scim-gateway man > scim-gateway.1`,
    /// or a command's own page: `scim-gateway man run > scim-gateway-run.1`.
    Man {
        /// The command whose page to print (default: the overview).
        command: Option<String>,
    },
    /// Print a JSON Schema of the config file, for editors (e.g. a TOML
    /// language server) and CI checks.
    ConfigSchema,
}

#[derive(Debug, Subcommand)]
enum EventsCommand {
    /// Move dead-lettered events back so the running gateway delivers them
    /// again (before newer events), and print how many per sink.
    Redeliver {
        /// The events directory (holds `outbox/` and `deadletter/`).
        #[arg(long)]
        dir: PathBuf,
        /// Only this sink (e.g. `webhook.acme.hr`).
        #[arg(long)]
        sink: Option<String>,
        /// Only this tenant's events.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Print the outbox's highest sequence number and, per sink, its
    /// cursor, how far behind it is, and its dead letters.
    Status {
        /// The events directory.
        #[arg(long)]
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the hash chain of audit files (files or directories, taken in
    /// name order) and name the first bad record.
    Verify {
        /// Audit files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Accept a log whose first record is not seq 1 (an archive).
        #[arg(long)]
        partial: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = match &cli.command {
        Command::Run {
            text_logs: false, ..
        } => LogFormat::Json,
        _ => LogFormat::Text,
    };
    if matches!(cli.command, Command::Probe { .. }) {
        // The probe's output is stdout (a table, or JSON for machines):
        // its logs go to stderr, errors only unless RUST_LOG says more
        // (a failed upstream call is a finding in the table, not a log).
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    } else {
        telemetry::init_logging(format);
    }
    if let Some(outcome) = offline(&cli.command) {
        return exit(outcome);
    }
    let mut builder = match &cli.command {
        Command::Run {
            worker_threads: Some(1),
            ..
        } => tokio::runtime::Builder::new_current_thread(),
        Command::Run {
            worker_threads: Some(n),
            ..
        } => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads((*n).max(1));
            b
        }
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("scim-gateway: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Command::Drift(args) = cli.command {
        // Its own exit statuses (3: drift found).
        let code = runtime.block_on(scim_gateway::run::drift_cli::command(args));
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    if let Command::Shadow { command } = cli.command {
        // Its own exit statuses (3: answers differed).
        let code = runtime.block_on(scim_gateway::run::shadow_cli::command(command));
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    exit(runtime.block_on(run(cli.command)))
}

/// Why a command failed, which decides the exit status.
enum Failed {
    /// The config does not load: [`EX_CONFIG`].
    Config(String),
    /// Anything else: 1.
    Other(String),
}

impl From<String> for Failed {
    fn from(message: String) -> Failed {
        Failed::Other(message)
    }
}

/// Prints a failure and turns an outcome into the exit status.
fn exit(outcome: Result<(), Failed>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failed::Config(message)) => {
            eprintln!("scim-gateway: {message}");
            ExitCode::from(EX_CONFIG)
        }
        Err(Failed::Other(message)) => {
            eprintln!("scim-gateway: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The commands that need no async runtime.
fn offline(command: &Command) -> Option<Result<(), Failed>> {
    let done = |r: Result<(), String>| Some(r.map_err(Failed::from));
    match command {
        Command::CheckConfig { config, path } => {
            Some(check_config(path.as_ref().unwrap_or(config)))
        }
        Command::HashToken { generate } => done(hash_token(*generate)),
        Command::DevCerts {
            dir,
            hosts,
            clients,
        } => {
            let clients: Vec<&str> = clients.iter().map(String::as_str).collect();
            done(tls::dev::make_dev_pki(dir, hosts, &clients).map(|pki| {
                for f in &pki.files {
                    println!("wrote {}", f.display());
                }
                eprintln!(
                    "These certificates are for development only: never use them in production."
                );
            }))
        }
        Command::Events { command } => done(events(command)),
        // Rendered whole, then written: a closed pipe (`| head`) is an
        // error message, not a panic.
        Command::Completions { shell } => {
            let mut out = Vec::new();
            let mut cli = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut cli, "scim-gateway", &mut out);
            done(write_stdout(&out))
        }
        Command::Man { command } => done(man_page(command.as_deref())),
        Command::ConfigSchema => done(
            serde_json::to_string_pretty(&config::json_schema())
                .map_err(|e| format!("the schema: {e}"))
                .and_then(|text| write_stdout(format!("{text}\n").as_bytes())),
        ),
        Command::Audit {
            command: AuditCommand::Verify { paths, partial },
        } => done(audit_verify(paths, *partial)),
        _ => None,
    }
}

/// The overview page, or `scim-gateway-COMMAND(1)` for one command.
fn man_page(command: Option<&str>) -> Result<(), String> {
    let root = <Cli as clap::CommandFactory>::command();
    let (page, title) = match command {
        None => (root, "scim-gateway".to_string()),
        Some(name) => {
            let Some(sub) = root.find_subcommand(name) else {
                let names: Vec<&str> = root.get_subcommands().map(|c| c.get_name()).collect();
                return Err(format!("no command {name:?}; one of {}", names.join(", ")));
            };
            (
                sub.clone()
                    .name(format!("scim-gateway-{name}"))
                    .bin_name(format!("scim-gateway {name}"))
                    .version(VERSION),
                format!("scim-gateway-{name}"),
            )
        }
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .title(title)
        .render(&mut out)
        .map_err(|e| format!("the man page: {e}"))?;
    write_stdout(&out)
}

fn write_stdout(bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| format!("writing to stdout: {e}"))
}

fn events(command: &EventsCommand) -> Result<(), String> {
    use scim_gateway::events::admin;
    let text = match command {
        EventsCommand::Redeliver { dir, sink, tenant } => {
            admin::redeliver(dir, sink.as_deref(), tenant.as_deref())?
        }
        EventsCommand::Status { dir } => admin::status(dir)?,
    };
    print!("{text}");
    Ok(())
}

fn audit_verify(paths: &[PathBuf], partial: bool) -> Result<(), String> {
    use scim_gateway::audit::{verify_paths, VerifyOptions};
    match verify_paths(paths, VerifyOptions { partial }) {
        Ok(r) => {
            println!(
                "ok: {} records in {} files, seq {}..{}, head {}{}",
                r.records,
                r.files,
                r.first_seq,
                r.last_seq,
                r.head,
                if r.torn_tail {
                    " (the newest file ends in an incomplete line: a write in progress or a crash)"
                } else {
                    ""
                }
            );
            Ok(())
        }
        Err(failure) => Err(format!("audit verify failed: {failure}")),
    }
}

fn check_config(path: &Path) -> Result<(), Failed> {
    // Building upstream clients needs a runtime context.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let _guard = rt.enter();
    match config::check(path) {
        Ok(s) => {
            for warning in &s.warnings {
                println!("warning: {warning}");
            }
            println!(
                "ok: {} tenants, {} upstreams{}",
                s.tenants.len(),
                s.upstreams.len(),
                match s.warnings.len() {
                    0 => String::new(),
                    n => format!(", {n} warning(s)"),
                }
            );
            Ok(())
        }
        Err(errors) => {
            for e in &errors.0 {
                println!("{e}");
            }
            Err(Failed::Config(format!(
                "{} problem(s) in {}",
                errors.0.len(),
                path.display()
            )))
        }
    }
}

/// Tokens are high-entropy random strings, so SHA-256 is the right hash;
/// it would be the wrong one for passwords.
fn hash_token(generate: bool) -> Result<(), String> {
    use base64::Engine;
    use std::io::Read;
    if generate {
        let mut bytes = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        println!("token: {token}");
        println!("hash:  {}", static_token::hash_token_hex(&token));
        return Ok(());
    }
    let mut input = String::new();
    std::io::stdin()
        .take(64 * 1024)
        .read_to_string(&mut input)
        .map_err(|e| format!("cannot read the token from stdin: {e}"))?;
    let token = input.trim_end_matches(['\n', '\r']);
    if token.chars().count() < 24 {
        return Err("the token is shorter than 24 characters; use a long random token (hash-token --generate makes one)".into());
    }
    if token.chars().any(char::is_whitespace) {
        return Err("the token contains whitespace".into());
    }
    println!("{}", static_token::hash_token_hex(token));
    Ok(())
}

async fn run(command: Command) -> Result<(), Failed> {
    match command {
        Command::Run { config, .. } => {
            let handle = ConfigHandle::new(&config).map_err(|e| {
                Failed::Config(format!(
                    "the config {} has problems:\n{e}",
                    config.display()
                ))
            })?;
            scim_gateway::run::run(Arc::new(handle), shutdown_signal(), |_| {})
                .await
                .map_err(|e| Failed::Other(format!("serving: {e}")))
        }
        Command::CheckConfig { .. }
        | Command::HashToken { .. }
        | Command::DevCerts { .. }
        | Command::Events { .. }
        | Command::Completions { .. }
        | Command::Man { .. }
        | Command::ConfigSchema
        | Command::Audit { .. }
        | Command::Drift(_)
        | Command::Shadow { .. } => Ok(()),
        Command::Guardrail { command } => scim_gateway::run::guardrail_cli::main(command)
            .await
            .map_err(Failed::from),
        Command::Probe {
            url,
            bearer_file,
            basic,
            ca_file,
            config,
            upstream,
            name,
            json,
            dry_run,
            timeout,
            max_time,
        } => scim_gateway::probe::cli::main(scim_gateway::probe::cli::Args {
            url,
            bearer_file,
            basic,
            ca_file,
            config,
            upstream,
            name,
            json,
            dry_run,
            timeout,
            max_time,
        })
        .await
        .map_err(Failed::from),
        Command::Store {
            listen,
            max_resources,
            no_patch,
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
                patch: !no_patch,
                ..StoreConfig::default()
            };
            let store = Arc::new(Store::with_registry(config, registry));
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
            tracing::info!(address = %listen, "built-in SCIM store listening (base URL http://{listen}/scim/v2)");
            store::server::serve(listener, store, shutdown_signal())
                .await
                .map_err(|e| Failed::Other(format!("serving: {e}")))
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
