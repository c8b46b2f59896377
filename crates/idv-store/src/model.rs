use zeroize::Zeroizing;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merchant {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    pub created_at: i64,
    /// How long a finished transaction's evidence is kept, seconds; `None`: the server's default.
    pub retention_s: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub id: String,
    pub merchant_id: String,
    pub enabled: bool,
    pub created_at: i64,
}

/// What request authentication needs in one read.
pub struct AuthKey {
    pub key: AccessKey,
    pub merchant: Merchant,
    pub secret: Zeroizing<String>,
}

impl std::fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthKey").field("key", &self.key).field("merchant", &self.merchant).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxState {
    Initialized,
    InProgress,
    Completed,
    Failed,
    Expired,
    Cancelled,
}

impl TxState {
    pub fn as_str(self) -> &'static str {
        match self {
            TxState::Initialized => "initialized",
            TxState::InProgress => "in_progress",
            TxState::Completed => "completed",
            TxState::Failed => "failed",
            TxState::Expired => "expired",
            TxState::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<TxState> {
        Some(match s {
            "initialized" => TxState::Initialized,
            "in_progress" => TxState::InProgress,
            "completed" => TxState::Completed,
            "failed" => TxState::Failed,
            "expired" => TxState::Expired,
            "cancelled" => TxState::Cancelled,
            _ => return None,
        })
    }
    /// A final state holds a verdict and never changes again.
    pub fn is_final(self) -> bool {
        !matches!(self, TxState::Initialized | TxState::InProgress)
    }
}

pub struct NewTransaction {
    pub id: String,
    pub merchant_id: String,
    pub merchant_biz_id: String,
    pub product: String,
    /// Serialised options (sealed by the store).
    pub options: Vec<u8>,
    /// The device credential (sealed by the store).
    pub device_secret: Zeroizing<Vec<u8>>,
    pub created_at: i64,
    pub expires_at: i64,
    /// The earliest its evidence can be due for deletion (creation plus the retention in force): picks the key
    /// epoch whose key wraps the data key. An epoch's key is destroyed once the epoch has ended and none of its
    /// data keys is still live, so a transaction that finishes later keeps it until it is deleted itself.
    pub retain_until: i64,
}

/// What a deletion removes of a transaction's evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Evidence {
    /// The images (blobs); the text stays.
    Images,
    /// Everything sealed but the images: options, verdict, flow state, rounds, device credential.
    Text,
    /// Everything: the data key is destroyed, the images deleted, the sealed text dropped.
    All,
}

impl Evidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::Images => "images",
            Evidence::Text => "text",
            Evidence::All => "all",
        }
    }
    pub fn parse(s: &str) -> Option<Evidence> {
        Some(match s {
            "images" => Evidence::Images,
            "text" => Evidence::Text,
            "all" => Evidence::All,
            _ => return None,
        })
    }
    /// Both deletions together: images and text make all.
    pub fn union(self, other: Evidence) -> Evidence {
        if self == other { self } else { Evidence::All }
    }
}

/// The minimal decision record kept in the clear when a transaction's evidence is deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub passed: bool,
    pub sub_code: String,
}

pub struct Transaction {
    pub id: String,
    pub merchant_id: String,
    pub merchant_biz_id: String,
    pub product: String,
    pub state: TxState,
    /// `None` once the transaction has been shredded.
    pub options: Option<Zeroizing<Vec<u8>>>,
    pub device_secret: Option<Zeroizing<Vec<u8>>>,
    pub verdict: Option<Zeroizing<Vec<u8>>>,
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: i64,
    pub finished_at: Option<i64>,
    /// What of its evidence was deleted (by retention or on request), and when.
    pub deleted: Option<(Evidence, i64)>,
    /// The decision kept in the clear once evidence was deleted.
    pub decision: Option<Decision>,
    /// A deletion to perform after the next CheckResult (DeleteAfterQuery).
    pub delete_after_query: Option<Evidence>,
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("id", &self.id)
            .field("merchant_id", &self.merchant_id)
            .field("product", &self.product)
            .field("state", &self.state)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A transaction's device session.
pub struct DeviceSession {
    pub session_id: String,
    /// Serialised flow state (opened).
    pub state: Zeroizing<Vec<u8>>,
    pub version: i64,
    pub last_request_hash: Option<String>,
    pub last_response: Option<Zeroizing<Vec<u8>>>,
    pub updated_at: i64,
}

/// A callback claimed for delivery.
pub struct CallbackDue {
    pub transaction_id: String,
    pub merchant_id: String,
    /// What to send, as enqueued (opened).
    pub request: Zeroizing<Vec<u8>>,
    /// Attempts made so far.
    pub attempts: u32,
    pub created_at: i64,
}

/// One delivery attempt: its number (from 1), time, and the merchant's HTTP status or why there was none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackAttempt {
    pub attempt: u32,
    pub at: i64,
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackOutcome {
    Delivered,
    Retry {
        next_attempt_at: i64,
    },
    /// Given up: the dead-letter state, for the operator.
    Dead,
}

/// A callback in the outbox, for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackRecord {
    pub transaction_id: String,
    pub merchant_id: String,
    /// `pending`, `delivered`, `dead`.
    pub state: String,
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub created_at: i64,
    pub log: Vec<CallbackAttempt>,
}

/// One recorded round, without its sealed detail (the drop-off log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundSummary {
    pub round: u32,
    pub step: String,
    /// `next`, `retake:<reason code>`, `done`, `exhausted`.
    pub outcome: String,
    pub at: i64,
}

/// What one round changes.
pub struct RoundUpdate<'a> {
    pub state: &'a [u8],
    pub round: u32,
    pub step: &'a str,
    pub outcome: &'a str,
    pub detail: &'a [u8],
    pub request_hash: &'a str,
    pub response: &'a [u8],
    /// When the round ends the flow: the final state ([`TxState::Completed`] or [`TxState::Failed`]; the store
    /// refuses an open one) and the verdict.
    pub finish: Option<(TxState, &'a [u8])>,
    pub now: i64,
}

/// One audit log entry as stored: who did what, when, to which transaction and merchant (ids only, never
/// personal data), chained to the entry before it by [`crate::audit_hash`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: i64,
    /// An AccessKey id, or `admin`, `device`, `web`, `system`.
    pub actor: String,
    /// e.g. `transaction.created`, `result.read`.
    pub action: String,
    pub transaction_id: Option<String>,
    pub merchant_id: Option<String>,
    /// A JSON object with ids, states and flags only.
    pub detail: String,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// An audit log entry to append; the store assigns its seq and hashes.
#[derive(Debug, Clone, Copy)]
pub struct NewAuditEntry<'a> {
    pub at: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub transaction_id: Option<&'a str>,
    pub merchant_id: Option<&'a str>,
    pub detail: &'a str,
}

impl AuditEntry {
    /// The fields the hash covers, as appended.
    pub fn as_new(&self) -> NewAuditEntry<'_> {
        NewAuditEntry {
            at: self.at,
            actor: &self.actor,
            action: &self.action,
            transaction_id: self.transaction_id.as_deref(),
            merchant_id: self.merchant_id.as_deref(),
            detail: &self.detail,
        }
    }
}

/// A face library of one merchant (`FaceGroupCode`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaceGroup {
    pub id: i64,
    pub merchant_id: String,
    pub code: String,
    pub name: String,
    pub description: String,
    pub created_at: i64,
}

/// A registered face, without its embedding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaceRecord {
    pub id: i64,
    pub group_id: i64,
    pub group_code: String,
    /// 32 hex characters, the API's `faceId`.
    pub face_id: String,
    pub merchant_user_id: String,
    /// `MANUAL` (AddFaceRecord) or `AUTO` (registered by a duplicate check).
    pub registration_type: String,
    pub created_at: i64,
    pub retain_until: i64,
}

/// A face to register. `replace`: an existing face of the same user in the group is replaced, otherwise refused.
#[derive(Debug, Clone)]
pub struct NewFaceRecord<'a> {
    pub merchant_id: &'a str,
    pub group_code: &'a str,
    pub merchant_user_id: &'a str,
    pub registration_type: &'a str,
    pub embedding: &'a [f32],
    pub replace: bool,
    pub now: i64,
    pub retain_until: i64,
}

/// Which records a query returns (all given conditions hold).
#[derive(Debug, Clone, Default)]
pub struct FaceRecordFilter {
    pub face_id: Option<String>,
    pub merchant_user_id: Option<String>,
    pub registration_type: Option<String>,
}

/// Why a face could not be registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddFace {
    Added(FaceRecord),
    /// The user already has a face in the group and `replace` was not asked for.
    UserExists(FaceRecord),
}
