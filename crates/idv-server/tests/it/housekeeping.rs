//! Housekeeping: transactions that outlive their expiry.

use idv_api::SubCode;
use idv_store::{NewTransaction, TxState};
use zeroize::Zeroizing;

use crate::helpers::{call, start};

#[tokio::test]
async fn an_expired_transaction_reports_a_timeout() {
    let s = start().await;
    let a = s.merchant("A").await;
    let tid = idv_crypto::random_hex(16);
    s.store
        .create_transaction(NewTransaction {
            id: tid.clone(),
            merchant_id: a.id.clone(),
            merchant_biz_id: "biz0001".into(),
            product: "eKYC".into(),
            options: b"{}".to_vec(),
            device_secret: Zeroizing::new(vec![1; 32]),
            created_at: 0,
            expires_at: 1,
            retain_until: 1,
        })
        .await
        .unwrap();
    let r = call(&s, &a, "CheckResult", &[("MerchantBizId", "biz0001"), ("TransactionId", &tid)]).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["Result"]["Passed"], "N");
    assert_eq!(r.json["Result"]["SubCode"], SubCode::TimedOut.code());
    assert_eq!(s.store.get_transaction(&a.id, &tid).await.unwrap().unwrap().state, TxState::Expired);
    s.stop().await;
}
