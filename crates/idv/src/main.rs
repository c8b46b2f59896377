//! The `idv` command. It only wires the crates together: parsing flags, opening the store, starting the server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use idv_store::{SqliteStore, Store};
use std::sync::Arc;

mod bench;
mod bench_load;
mod console_cli;
mod device_sim;
mod doc_cli;
mod face_cli;
mod liveness_cli;
mod merchant_demo;
mod specimen_cli;
mod video_cli;

#[derive(Parser)]
#[command(name = "idv", version, about = "Self-hosted identity verification (cloudauth-intl 2022-08-09 compatible)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the largest variant (the server's flags) costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Administration on a data directory (works while the server runs).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The face engine: compare two pictures, evaluate the threshold on a labelled folder.
    Face {
        #[command(subcommand)]
        command: face_cli::FaceCommand,
    },
    /// The liveness engine: synthetic evaluation (BPCER, APCER per attack kind).
    Liveness {
        #[command(subcommand)]
        command: liveness_cli::LivenessCommand,
    },
    /// Phone simulator: runs a whole verification against a merchant server, with images from files.
    Device(device_sim::DeviceArgs),
    /// The example merchant server (the code to copy): app endpoints in front of Initialize and CheckResult.
    MerchantDemo(merchant_demo::MerchantDemoArgs),
    /// The document engine: read a picture, evaluate on synthetic documents.
    Doc {
        #[command(subcommand)]
        command: doc_cli::DocCommand,
    },
    /// Render synthetic identity documents (passport page, ID card) with ground truth.
    Specimen(specimen_cli::SpecimenArgs),
    /// Test videos (y4m) for a browser's fake camera: a document, a synthetic person performing a challenge.
    Video {
        #[command(subcommand)]
        command: video_cli::VideoCommand,
    },
    /// Benchmarks (figures, not pass/fail).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Merchant API throughput and latency on loopback, next to a bare axum handler.
    Rpc {
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
    /// The bare axum baseline server used by `bench rpc` (prints its address, serves until killed).
    #[command(hide = true)]
    BareServer,
    /// One or two instances on one PostgreSQL database behind a round-robin balancer, under Initialize,
    /// CheckResult and whole eKYC flows; optionally SIGKILLs one mid-load and checks nothing acknowledged was lost.
    Load {
        /// The PostgreSQL database every instance uses (`scripts/pg.sh start` prints a test cluster's).
        #[arg(long, env = "IDV_DATABASE_URL")]
        database_url: String,
        /// Blobs in a bucket (s3://bucket/prefix, credentials from AWS_* variables) instead of each instance's
        /// directory.
        #[arg(long, env = "IDV_BLOB_URL")]
        blob_url: Option<String>,
        #[arg(long, default_value_t = 2)]
        instances: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Merchant calls at most, whatever the time.
        #[arg(long, default_value_t = 20_000)]
        max_requests: usize,
        /// Concurrent merchant-call workers.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Whole eKYC flows, run one after another during the load.
        #[arg(long, default_value_t = 3)]
        flows: usize,
        /// SIGKILL the first instance this many seconds in (needs --instances 2).
        #[arg(long)]
        kill_one_after: Option<f64>,
        #[arg(long, env = "IDV_ASSETS_DIR", default_value = ".")]
        assets: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct DataArgs {
    /// Data directory (SQLite database, blobs, master key); created on first use. With --database-url it holds
    /// only what is local: master.key if the key is not given otherwise, and blobs/ and keys/ without --blob-url.
    #[arg(long, env = "IDV_DATA")]
    data: PathBuf,
    /// File holding the master key (64 hex characters). Default: DIR/master.key, or IDV_MASTER_KEY if set.
    #[arg(long)]
    master_key_file: Option<PathBuf>,
    /// PostgreSQL instead of the embedded SQLite (postgres://user:password@host:port/db): the backend for several
    /// instances behind a load balancer (docs/deployment.md). Every instance needs the same master key.
    #[arg(long, env = "IDV_DATABASE_URL")]
    database_url: Option<String>,
    /// Where the PostgreSQL backend keeps sealed images and key epochs: s3://bucket/prefix (credentials and
    /// endpoint from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT, AWS_ALLOW_HTTP) or a
    /// directory every instance mounts. Default: the data directory.
    #[arg(long, env = "IDV_BLOB_URL")]
    blob_url: Option<String>,
    /// Database connections per instance (PostgreSQL backend).
    #[arg(long, default_value_t = idv_store::DEFAULT_PG_POOL)]
    db_pool: u32,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port. The chosen address is printed as the first line of stdout.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    data: DataArgs,
    /// Base URL devices use to reach this server (default: http://<listen address>).
    #[arg(long)]
    public_url: Option<String>,
    /// Requests per second allowed per AccessKey.
    #[arg(long, default_value_t = 50.0)]
    rate_limit: f64,
    /// Burst allowed per AccessKey above the steady rate.
    #[arg(long, default_value_t = 100.0)]
    rate_burst: f64,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 12 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Lifetime of a transaction on the device side, in seconds.
    #[arg(long, default_value_t = 1800)]
    transaction_ttl: u64,
    /// How long finished transactions keep their evidence when their merchant set no retention (`30d`, `12h`,
    /// `90s`; seconds if no unit). Then all of it but the decision is deleted (docs/data-protection.md).
    #[arg(long, default_value = "30d")]
    retention: String,
    /// How long a face registered in a face library is kept before the retention sweep deletes it (`365d`).
    #[arg(long, default_value = "365d")]
    face_retention: String,
    /// Span of one key epoch: a deletion holds in old copies of the database at most this long after it was due.
    #[arg(long, default_value = "1d")]
    key_epoch: String,
    /// Wait before a failed callback's first retry (each next one doubles, at most an hour apart), e.g. `10s`.
    #[arg(long, default_value = "10s")]
    callback_retry: String,
    /// A callback still undelivered this long after its transaction began is given up (a dead letter).
    #[arg(long, default_value = "1d")]
    callback_give_up: String,
    /// How often the housekeeping sweep runs (expiry, retention, purges), e.g. `30s`.
    #[arg(long, default_value = "30s")]
    sweep_interval: String,
    /// Seconds a client has to send a request's headers (also the keep-alive idle limit between requests).
    #[arg(long, default_value_t = 30.0)]
    header_timeout: f64,
    /// Seconds a client has to send a whole request body.
    #[arg(long, default_value_t = 120.0)]
    body_timeout: f64,
    /// Seconds without a byte in either direction after which a connection is closed.
    #[arg(long, default_value_t = 180.0)]
    idle_timeout: f64,
    /// Connections served at once; more wait in the listen backlog.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Requests per second per client address that fail authentication (over it: 429 Throttling.User).
    #[arg(long, default_value_t = 2.0)]
    unauth_rate_limit: f64,
    /// Burst of failing requests allowed per client address above the steady rate.
    #[arg(long, default_value_t = 20.0)]
    unauth_rate_burst: f64,
    /// Device API calls per second per client address (over it: 429 Throttled). Behind a reverse proxy every
    /// device shares the proxy's address: raise it there.
    #[arg(long, default_value_t = 50.0)]
    device_rate_per_address: f64,
    /// Burst of device API calls allowed per client address above the steady rate.
    #[arg(long, default_value_t = 200.0)]
    device_burst_per_address: f64,
    /// Bearer token GET /metrics requires (at least 16 characters); without it /metrics answers 404.
    #[arg(long, env = "IDV_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Folder holding `models/` as fetched by scripts/fetch-assets.sh (the repository root in development).
    #[arg(long, env = "IDV_ASSETS_DIR", default_value = ".")]
    assets: PathBuf,
    /// Threads for CPU-heavy verification work (default: one per core).
    #[arg(long)]
    workers: Option<usize>,
    /// Test mode: accept captures the device declares as read from files (`idv device`, the demo, tests).
    /// Never in production.
    #[arg(long)]
    test_mode: bool,
    /// Let CallbackUrl reach loopback, private and other special addresses (a merchant server on this machine or
    /// network: the demo, tests). Off by default: a CallbackUrl could otherwise probe the server's own network.
    #[arg(long)]
    allow_private_callbacks: bool,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Merchants (tenants).
    Merchant {
        #[command(subcommand)]
        command: MerchantCommand,
    },
    /// AccessKey pairs merchants sign their API calls with.
    Accesskey {
        #[command(subcommand)]
        command: AccessKeyCommand,
    },
    /// Applies the database migrations this binary knows (under a lock, so instances starting meanwhile wait)
    /// and exits: the first step of an upgrade (docs/deployment.md).
    Migrate {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        json: bool,
    },
    /// The CallbackUrl outbox: every owed callback with its delivery attempts; `--state dead` shows the
    /// dead letters (given up).
    Callbacks {
        #[command(flatten)]
        data: DataArgs,
        /// pending, delivered or dead.
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// The audit log (ARCHITECTURE.md, "Audit log").
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Users of the merchant console at /console/ (docs/console.md).
    User {
        #[command(subcommand)]
        command: console_cli::UserCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walks the hash chain from the first entry and names the first broken one; exit code 1 if it is broken.
    /// Appends nothing.
    Verify {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum MerchantCommand {
    Create {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        name: String,
        #[arg(long)]
        json: bool,
    },
    List {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        json: bool,
    },
    /// The key this merchant's callbacks are signed with (created on first use): the merchant checks the
    /// `x-idv-signature` header of each callback with it (docs/data-protection.md, "Callbacks").
    CallbackSecret {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        merchant: String,
        #[arg(long)]
        json: bool,
    },
    /// How long this merchant's finished transactions keep their evidence (`7d`, `12h`, `90s`), or `default` for
    /// the server's `--retention`. Applies to its existing transactions too.
    SetRetention {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        merchant: String,
        #[arg(long)]
        retention: String,
        #[arg(long)]
        json: bool,
    },
    /// Which finished transactions the console's review queue holds (docs/console.md): face scores within
    /// `--face-band` points of the threshold, soft failures, and/or every failure.
    SetReview {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        merchant: String,
        #[arg(long, default_value_t = 5.0)]
        face_band: f64,
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        soft_failures: bool,
        #[arg(long, default_value_t = false, action = clap::ArgAction::Set)]
        all_failures: bool,
        #[arg(long)]
        json: bool,
    },
}

/// A duration as the flags take it: a whole number with an optional unit s, m, h or d (seconds by default).
fn parse_duration(flag: &str, s: &str) -> Result<Duration> {
    let s = s.trim();
    let (num, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: u64 = num.parse().map_err(|_| anyhow::anyhow!("--{flag} {s:?}: expected a number with s, m, h or d"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => bail!("--{flag} {s:?}: the unit must be s, m, h or d"),
    };
    n.checked_mul(mult).map(Duration::from_secs).ok_or_else(|| anyhow::anyhow!("--{flag} {s:?} is too long"))
}

#[derive(Subcommand)]
enum AccessKeyCommand {
    /// Creates a key; the secret is printed this once and cannot be shown again.
    Create {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        merchant: String,
        #[arg(long)]
        json: bool,
    },
    List {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        merchant: Option<String>,
        #[arg(long)]
        json: bool,
    },
    Disable {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        id: String,
        #[arg(long)]
        json: bool,
    },
    Enable {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        id: String,
        #[arg(long)]
        json: bool,
    },
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("IDV_LOG").unwrap_or_else(|_| "info,sqlx=warn".into());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).init();
}

async fn open_store(args: &DataArgs) -> Result<(Arc<dyn Store>, idv_crypto::Key)> {
    open_store_with(args, idv_store::DEFAULT_KEY_EPOCH_S).await
}

async fn open_store_with(args: &DataArgs, key_epoch_s: i64) -> Result<(Arc<dyn Store>, idv_crypto::Key)> {
    let env_key = std::env::var("IDV_MASTER_KEY").ok();
    if args.database_url.is_some()
        && env_key.is_none()
        && args.master_key_file.is_none()
        && !args.data.join("master.key").exists()
    {
        // A key made up here would differ from every other instance's: the database would refuse all but one.
        bail!("with --database-url every instance needs the same master key: set IDV_MASTER_KEY or --master-key-file");
    }
    if args.blob_url.is_some() && args.database_url.is_none() {
        bail!("--blob-url needs --database-url: the embedded SQLite backend keeps its blobs in the data directory");
    }
    // A key file on another disk gets the same permission check as DIR/master.key.
    let (key, source) = match &args.master_key_file {
        Some(p) => (idv_store::read_master_key_file(p)?, idv_store::MasterKeySource::File),
        None => idv_store::load_master_key(&args.data, env_key.as_deref())?,
    };
    tracing::debug!(?source, "master key loaded");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if let Some(url) = &args.database_url {
        let blobs = match args.blob_url.as_deref() {
            Some(u) if u.starts_with("s3://") => {
                let (backend, prefix) = idv_s3::open(u)?;
                idv_store::BlobLocation::Object { backend: Arc::new(backend), prefix }
            }
            Some(u) if u.contains("://") && !u.starts_with("file://") => {
                bail!("--blob-url {u}: use s3://bucket/prefix or a directory")
            }
            Some(u) => idv_store::BlobLocation::Dir(u.trim_start_matches("file://").into()),
            None => idv_store::BlobLocation::Dir(args.data.clone()),
        };
        // The URL may carry a password: it is never printed.
        let store = idv_store::PgStore::open(url, blobs, &key, now, key_epoch_s, args.db_pool)
            .await
            .context("opening the PostgreSQL database")?;
        return Ok((Arc::new(store), key));
    }
    let store = SqliteStore::open_with_key_epochs(&args.data, &key, now, key_epoch_s)
        .await
        .with_context(|| format!("opening data directory {}", args.data.display()))?;
    Ok((Arc::new(store), key))
}

async fn serve(args: ServeArgs) -> Result<()> {
    let workers = args.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    if workers == 0 || workers > 256 {
        bail!("--workers must be 1-256");
    }
    // Flags are checked before anything slow happens; the public URL is final once the port is known.
    let mut config = idv_server::ServerConfig::for_address(args.listen);
    if let Some(url) = &args.public_url {
        config.public_url = url.clone();
    }
    config.rate_limit_per_second = args.rate_limit;
    config.rate_limit_burst = args.rate_burst;
    config.max_body_bytes = args.max_body_bytes;
    config.transaction_ttl = Duration::from_secs(args.transaction_ttl);
    config.retention = parse_duration("retention", &args.retention)?;
    config.face_retention = parse_duration("face-retention", &args.face_retention)?;
    config.sweep_interval = parse_duration("sweep-interval", &args.sweep_interval)?;
    config.callback_retry_base = parse_duration("callback-retry", &args.callback_retry)?;
    config.callback_give_up_after = parse_duration("callback-give-up", &args.callback_give_up)?;
    let key_epoch = parse_duration("key-epoch", &args.key_epoch)?;
    if key_epoch < Duration::from_secs(1) || key_epoch > Duration::from_secs(31 * 86_400) {
        bail!("--key-epoch must be between 1 second and 31 days");
    }
    let secs = |flag: &str, v: f64| {
        Duration::try_from_secs_f64(v).map_err(|_| anyhow::anyhow!("--{flag} must be a number of seconds"))
    };
    config.header_read_timeout = secs("header-timeout", args.header_timeout)?;
    config.body_read_timeout = secs("body-timeout", args.body_timeout)?;
    config.idle_timeout = secs("idle-timeout", args.idle_timeout)?;
    config.max_connections = args.max_connections;
    config.unauth_rate_per_second = args.unauth_rate_limit;
    config.unauth_burst = args.unauth_rate_burst;
    config.device_rate_per_address = args.device_rate_per_address;
    config.device_burst_per_address = args.device_burst_per_address;
    config.metrics_token = args.metrics_token.clone();
    config.test_mode = args.test_mode;
    config.allow_private_callbacks = args.allow_private_callbacks;
    config.shared_limits = args.data.database_url.is_some();
    if args.test_mode {
        tracing::warn!("test mode: captures read from files are accepted as camera captures");
    }
    config.validate()?;
    // Models next: a server without its models must not start and answer as if it could verify.
    let assets = idv_vision::Assets::new(&args.assets);
    let engines = tokio::task::spawn_blocking(move || idv_server::Engines::load(&assets, workers)).await??;
    let (store, key) = open_store_with(&args.data, key_epoch.as_secs() as i64).await?;
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    if args.public_url.is_none() {
        config.public_url = format!("http://{addr}");
    }
    // The first stdout line is the contract with scripts and tests that start the server on port 0.
    println!("{addr}");
    tracing::info!(%addr, data = %args.data.data.display(), public_url = %config.public_url, "idv server listening");
    let state = idv_server::AppState::new(store, &key, config, engines);
    idv_server::serve(listener, state, shutdown_signal()).await?;
    tracing::info!("idv server stopped");
    Ok(())
}

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
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

fn print(json: bool, value: serde_json::Value, text: String) {
    if json {
        println!("{value}");
    } else {
        println!("{text}");
    }
}

async fn admin(cmd: AdminCommand) -> Result<()> {
    match cmd {
        AdminCommand::Merchant { command } => match command {
            MerchantCommand::Create { data, name, json } => {
                let name = name.trim();
                if name.is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
                    bail!("--name must be 1-128 characters without control characters");
                }
                let (store, _) = open_store(&data).await?;
                let m = store.create_merchant(name, time::OffsetDateTime::now_utc().unix_timestamp()).await?;
                print(
                    json,
                    serde_json::json!({"MerchantId": m.id, "Name": m.name}),
                    format!("merchant {} created ({})", m.id, m.name),
                );
                admin_audit(&*store, "merchant.created", &m.id, serde_json::json!({})).await;
            }
            MerchantCommand::List { data, json } => {
                let (store, _) = open_store(&data).await?;
                let ms = store.list_merchants().await?;
                let v: Vec<_> = ms
                    .iter()
                    .map(|m| serde_json::json!({"MerchantId": m.id, "Name": m.name, "Enabled": m.enabled}))
                    .collect();
                let text = ms
                    .iter()
                    .map(|m| format!("{}\t{}\t{}", m.id, if m.enabled { "enabled" } else { "disabled" }, m.name))
                    .collect::<Vec<_>>()
                    .join("\n");
                print(json, serde_json::json!({"Merchants": v}), text);
            }
            MerchantCommand::CallbackSecret { data, merchant, json } => {
                let (store, _) = open_store(&data).await?;
                let Some(secret) = store.merchant_callback_secret(&merchant).await? else {
                    bail!("no merchant {merchant}");
                };
                print(
                    json,
                    serde_json::json!({"MerchantId": merchant, "CallbackSecret": secret.as_str()}),
                    secret.to_string(),
                );
            }
            MerchantCommand::SetRetention { data, merchant, retention, json } => {
                let secs = match retention.as_str() {
                    "default" => None,
                    r => {
                        let d = parse_duration("retention", r)?;
                        if d < Duration::from_secs(1) || d > Duration::from_secs(10 * 365 * 86_400) {
                            bail!("--retention must be between 1 second and 10 years");
                        }
                        Some(d.as_secs() as i64)
                    }
                };
                let (store, _) = open_store(&data).await?;
                if !store.set_merchant_retention(&merchant, secs).await? {
                    bail!("no merchant {merchant}");
                }
                let shown = secs.map_or("default".to_owned(), |s| format!("{s} s"));
                print(
                    json,
                    serde_json::json!({"MerchantId": merchant, "RetentionSeconds": secs}),
                    format!("{merchant}\tretention {shown}"),
                );
            }
            MerchantCommand::SetReview { data, merchant, face_band, soft_failures, all_failures, json } => {
                console_cli::set_review(&data, &merchant, face_band, soft_failures, all_failures, json).await?
            }
        },
        AdminCommand::Accesskey { command } => {
            match command {
                AccessKeyCommand::Create { data, merchant, json } => {
                    let (store, _) = open_store(&data).await?;
                    let now = time::OffsetDateTime::now_utc().unix_timestamp();
                    let (k, secret) = store.create_access_key(&merchant, now).await?;
                    admin_audit(&*store, "accesskey.created", &k.merchant_id, serde_json::json!({"accessKeyId": k.id}))
                        .await;
                    print(
                        json,
                        serde_json::json!({"AccessKeyId": k.id, "AccessKeySecret": &*secret, "MerchantId": k.merchant_id}),
                        format!(
                            "AccessKeyId:     {}\nAccessKeySecret: {}\n(the secret is shown only this once)",
                            k.id, &*secret
                        ),
                    );
                }
                AccessKeyCommand::List { data, merchant, json } => {
                    let (store, _) = open_store(&data).await?;
                    let ks = store.list_access_keys(merchant.as_deref()).await?;
                    let v: Vec<_> = ks.iter().map(|k| serde_json::json!({"AccessKeyId": k.id, "MerchantId": k.merchant_id, "Enabled": k.enabled})).collect();
                    let text = ks
                        .iter()
                        .map(|k| {
                            format!("{}\t{}\t{}", k.id, k.merchant_id, if k.enabled { "enabled" } else { "disabled" })
                        })
                        .collect::<Vec<_>>()
                        .join("\n");
                    print(json, serde_json::json!({"AccessKeys": v}), text);
                }
                AccessKeyCommand::Disable { data, id, json } => set_key(&data, &id, false, json).await?,
                AccessKeyCommand::Enable { data, id, json } => set_key(&data, &id, true, json).await?,
            }
        }
        AdminCommand::Audit { command: AuditCommand::Verify { data, json } } => audit_verify(&data, json).await?,
        AdminCommand::User { command } => console_cli::user(command).await?,
        AdminCommand::Migrate { data, json } => {
            // Opening the store is what migrates; it also checks the master key against the database.
            let (store, _) = open_store(&data).await?;
            store.ping().await?;
            let backend = if data.database_url.is_some() { "postgres" } else { "sqlite" };
            print(
                json,
                serde_json::json!({"Backend": backend, "Migrated": true}),
                format!("{backend} database is at this binary's schema version"),
            );
        }
        AdminCommand::Callbacks { data, state, limit, json } => {
            if state.as_deref().is_some_and(|s| !["pending", "delivered", "dead"].contains(&s)) {
                bail!("--state must be pending, delivered or dead");
            }
            if !(1..=10_000).contains(&limit) {
                bail!("--limit must be 1-10000");
            }
            let (store, _) = open_store(&data).await?;
            let all = store.list_callbacks(state.as_deref(), limit).await?;
            let v: Vec<_> = all
                .iter()
                .map(|c| {
                    let log: Vec<_> = c
                        .log
                        .iter()
                        .map(|a| serde_json::json!({"Attempt": a.attempt, "At": a.at, "Status": a.status, "Error": a.error}))
                        .collect();
                    serde_json::json!({"TransactionId": c.transaction_id, "MerchantId": c.merchant_id, "State": c.state,
                        "Attempts": c.attempts, "NextAttemptAt": c.next_attempt_at, "Log": log})
                })
                .collect();
            let text = all
                .iter()
                .map(|c| {
                    let last = c.log.last().map_or(String::new(), |a| {
                        a.status.map_or_else(|| a.error.clone().unwrap_or_default(), |st| format!("HTTP {st}"))
                    });
                    format!("{}\t{}\t{}\t{} attempts\t{last}", c.transaction_id, c.merchant_id, c.state, c.attempts)
                })
                .collect::<Vec<_>>()
                .join("\n");
            print(json, serde_json::json!({"Callbacks": v}), text);
        }
    }
    Ok(())
}

/// Appends an `admin` entry to the audit log. The change it records is already committed, so a failed append is
/// reported and the command still succeeds (as in the server, `idv_server`'s audit module).
async fn admin_audit(store: &dyn Store, action: &str, merchant_id: &str, detail: serde_json::Value) {
    let detail = detail.to_string();
    let entry = idv_store::NewAuditEntry {
        at: time::OffsetDateTime::now_utc().unix_timestamp(),
        actor: "admin",
        action,
        transaction_id: None,
        merchant_id: Some(merchant_id),
        detail: &detail,
    };
    if let Err(e) = store.append_audit(entry).await {
        tracing::error!(action, merchant_id, error = %e, "audit log append failed");
    }
}

/// `idv admin audit verify`: the whole chain, a page of 1000 entries at a time.
async fn audit_verify(data: &DataArgs, json: bool) -> Result<()> {
    let (store, _) = open_store(data).await?;
    let mut verifier = idv_store::ChainVerifier::default();
    let mut after = 0;
    loop {
        let page = store.audit_entries(after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in &page {
            if let Err(b) = verifier.push(e) {
                print(
                    json,
                    serde_json::json!({"Intact": false, "Entries": verifier.count(), "BrokenSeq": b.seq, "Why": b.why}),
                    format!("chain broken at entry {}: {}", b.seq, b.why),
                );
                bail!("the audit chain is broken at entry {}", b.seq);
            }
        }
    }
    let n = verifier.count();
    print(json, serde_json::json!({"Intact": true, "Entries": n}), format!("{n} entries, chain intact"));
    Ok(())
}

async fn set_key(data: &DataArgs, id: &str, enabled: bool, json: bool) -> Result<()> {
    let (store, _) = open_store(data).await?;
    if !store.set_access_key_enabled(id, enabled, time::OffsetDateTime::now_utc().unix_timestamp()).await? {
        bail!("no access key {id}");
    }
    let state = if enabled { "enabled" } else { "disabled" };
    if let Some(key) = store.list_access_keys(None).await?.into_iter().find(|k| k.id == id) {
        let action = if enabled { "accesskey.enabled" } else { "accesskey.disabled" };
        admin_audit(&*store, action, &key.merchant_id, serde_json::json!({"accessKeyId": id})).await;
    }
    print(json, serde_json::json!({"AccessKeyId": id, "Enabled": enabled}), format!("access key {id} {state}"));
    Ok(())
}

/// glibc's malloc raises its mmap threshold every time a large block is freed, up to 32 MiB; past that, the
/// decoded frames and request bodies of every face round (tens of MiB) are carved from the heap, whose fragments
/// it keeps. Measured with `bench/flow.sh 20 release`: resident memory grew by about 11 MiB per eKYC transaction
/// (331 MiB after the warm-up flow, 557 MiB after twenty more); with the threshold fixed at 256 KiB it stays
/// flat at about 215 MiB, every large block going back to the system when freed. The price, measured with the same
/// benchmark: about 0.5 s more kernel time per transaction (fresh pages for every large block, 3.6 times the page
/// faults); mimalloc as the global allocator stayed near 400 MiB. Reusing the frames' buffers is the way to win
/// both back.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    // SAFETY: mallopt only sets allocator parameters; it is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1024 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

fn main() -> std::process::ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    init_logging();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("idv: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::Admin { command } => admin(command).await,
            Command::Device(args) => device_sim::run(args).await,
            Command::MerchantDemo(args) => merchant_demo::run(args, shutdown_signal()).await,
            Command::Doc { command } => tokio::task::spawn_blocking(move || doc_cli::run(command)).await?,
            Command::Specimen(args) => tokio::task::spawn_blocking(move || specimen_cli::run(args)).await?,
            Command::Video { command } => tokio::task::spawn_blocking(move || video_cli::run(command)).await?,
            Command::Face { command } => tokio::task::spawn_blocking(move || face_cli::run(command)).await?,
            Command::Liveness { command } => tokio::task::spawn_blocking(move || liveness_cli::run(command)).await?,
            Command::Bench { command: BenchCommand::Rpc { seconds, concurrency } } => {
                if seconds == 0 || concurrency == 0 || concurrency > 1024 {
                    bail!("--seconds must be positive and --concurrency 1-1024");
                }
                bench::rpc(bench::RpcBenchArgs { seconds, concurrency }).await
            }
            Command::Bench { command: BenchCommand::BareServer } => bench::bare_server().await,
            Command::Bench {
                command:
                    BenchCommand::Load {
                        database_url,
                        blob_url,
                        instances,
                        seconds,
                        max_requests,
                        concurrency,
                        flows,
                        kill_one_after,
                        assets,
                        json,
                    },
            } => {
                bench_load::load(bench_load::LoadArgs {
                    database_url,
                    blob_url,
                    instances,
                    seconds,
                    max_requests,
                    concurrency,
                    flows,
                    kill_one_after,
                    assets,
                    json,
                })
                .await
            }
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("idv: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
