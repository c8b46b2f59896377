//! `idv admin user …` and `idv admin merchant set-review`: the merchant console's users and review rule
//! (`docs/console.md`). Passwords are hashed by the server crate (Argon2id); this only wires the flags.

use std::io::Read;

use anyhow::{Result, bail};
use clap::Subcommand;
use idv_store::{ConsoleRole, ReviewRule};

use crate::{DataArgs, open_store, print};

#[derive(Subcommand)]
pub(crate) enum UserCommand {
    /// Creates a console user of a merchant. The password is read from standard input with `--password-stdin`
    /// (never from a flag: it would show in the process list); without it a random one is made and printed
    /// this once.
    Create {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        merchant: String,
        /// 3-64 letters, digits or . _ @ -; unique across merchants.
        #[arg(long)]
        username: String,
        /// viewer (sees the transactions) or reviewer (also decides the review queue and deletes results).
        #[arg(long, default_value = "viewer")]
        role: String,
        #[arg(long)]
        password_stdin: bool,
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
}

pub(crate) async fn user(cmd: UserCommand) -> Result<()> {
    match cmd {
        UserCommand::Create { data, merchant, username, role, password_stdin, json } => {
            let Some(role) = ConsoleRole::parse(&role) else { bail!("--role must be viewer or reviewer") };
            let (password, generated) = if password_stdin {
                let mut s = String::new();
                std::io::stdin().take(1024).read_to_string(&mut s)?;
                (s.trim_end_matches(['\r', '\n']).to_owned(), false)
            } else {
                (idv_crypto::random_alnum(20), true)
            };
            let (store, _) = open_store(&data).await?;
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let u = idv_server::create_console_user(&*store, &merchant, &username, &password, role, now).await?;
            crate::admin_audit(
                &*store,
                "console.user_created",
                &u.merchant_id,
                serde_json::json!({"userId": u.id, "role": role.as_str()}),
            )
            .await;
            let mut out = serde_json::json!({"UserId": u.id, "Username": u.username, "MerchantId": u.merchant_id, "Role": role.as_str()});
            let mut text = format!("user {} ({}) created for {} as {}", u.username, u.id, u.merchant_id, role.as_str());
            if generated {
                out["Password"] = password.clone().into();
                text.push_str(&format!("\npassword: {password}\n(shown only this once)"));
            }
            print(json, out, text);
        }
        UserCommand::List { data, merchant, json } => {
            let (store, _) = open_store(&data).await?;
            let users = store.list_console_users(merchant.as_deref()).await?;
            let v: Vec<_> = users
                .iter()
                .map(|u| serde_json::json!({"UserId": u.id, "Username": u.username, "MerchantId": u.merchant_id, "Role": u.role.as_str()}))
                .collect();
            let text = users
                .iter()
                .map(|u| format!("{}\t{}\t{}\t{}", u.id, u.merchant_id, u.role.as_str(), u.username))
                .collect::<Vec<_>>()
                .join("\n");
            print(json, serde_json::json!({"Users": v}), text);
        }
    }
    Ok(())
}

/// `idv admin merchant set-review`.
pub(crate) async fn set_review(
    data: &DataArgs,
    merchant: &str,
    face_band: f64,
    soft_failures: bool,
    all_failures: bool,
    json: bool,
) -> Result<()> {
    if !(face_band.is_finite() && (0.0..=100.0).contains(&face_band)) {
        bail!("--face-band must be 0-100 score points");
    }
    let (store, _) = open_store(data).await?;
    let rule = ReviewRule { face_band, soft_failures, all_failures };
    if !store.set_review_rule(merchant, Some(rule)).await? {
        bail!("no merchant {merchant}");
    }
    print(
        json,
        serde_json::json!({"MerchantId": merchant, "FaceBand": face_band, "SoftFailures": soft_failures, "AllFailures": all_failures}),
        format!(
            "{merchant}\treview: face band {face_band}, soft failures {soft_failures}, all failures {all_failures}"
        ),
    );
    Ok(())
}
