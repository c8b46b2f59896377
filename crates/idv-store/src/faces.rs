//! Face libraries in SQLite: groups, records, and embeddings sealed under each record's own data key.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::sqlite::{SqliteStore, dek_context};
use crate::{AddFace, FaceGroup, FaceRecord, FaceRecordFilter, NewFaceRecord, Result, StoreError};
use idv_crypto::Key;

/// An embedding is 128 floats (SFace); anything else is refused before it is sealed.
pub const FACE_EMBEDDING_DIM: usize = 128;
/// Longest group code, name, description and merchant user id accepted.
pub const MAX_FACE_TEXT: usize = 128;
/// Most rows one page may return.
pub const MAX_FACE_PAGE: i64 = 500;

pub(crate) fn check_text(what: &str, v: &str) -> Result<()> {
    if v.is_empty() || v.len() > MAX_FACE_TEXT || v.chars().any(char::is_control) {
        return Err(StoreError::InvalidInput(format!("{what} must be 1-{MAX_FACE_TEXT} printable characters")));
    }
    Ok(())
}

pub(crate) fn check_page(offset: i64, limit: i64) -> Result<()> {
    if offset < 0 || !(1..=MAX_FACE_PAGE).contains(&limit) {
        return Err(StoreError::InvalidInput(format!("a page is 1-{MAX_FACE_PAGE} rows from offset 0 on")));
    }
    Ok(())
}

pub(crate) fn embedding_context(face_id: &str) -> Vec<u8> {
    idv_crypto::context(&[b"face-embedding", face_id.as_bytes()])
}

fn group_of(r: &SqliteRow) -> Result<FaceGroup> {
    Ok(FaceGroup {
        id: r.try_get("id")?,
        merchant_id: r.try_get("merchant_id")?,
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        created_at: r.try_get("created_at")?,
    })
}

fn record_of(r: &SqliteRow) -> Result<FaceRecord> {
    Ok(FaceRecord {
        id: r.try_get("id")?,
        group_id: r.try_get("group_id")?,
        group_code: r.try_get("code")?,
        face_id: r.try_get("face_id")?,
        merchant_user_id: r.try_get("merchant_user_id")?,
        registration_type: r.try_get("registration_type")?,
        created_at: r.try_get("created_at")?,
        retain_until: r.try_get("retain_until")?,
    })
}

pub(crate) const RECORD_COLUMNS: &str = "f.id, f.group_id, g.code, f.face_id, f.merchant_user_id, f.registration_type, \
     f.created_at, f.retain_until";

impl SqliteStore {
    pub(crate) async fn face_group_impl(
        &self,
        merchant_id: &str,
        code: &str,
        create_at: Option<i64>,
    ) -> Result<Option<FaceGroup>> {
        check_text("a face group code", code)?;
        if let Some(now) = create_at {
            sqlx::query(
                "INSERT INTO face_groups (merchant_id, code, name, created_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (merchant_id, code) DO NOTHING",
            )
            .bind(merchant_id)
            .bind(code)
            .bind(code)
            .bind(now)
            .execute(&self.writer)
            .await?;
        }
        let row = sqlx::query("SELECT * FROM face_groups WHERE merchant_id = ? AND code = ?")
            .bind(merchant_id)
            .bind(code)
            .fetch_optional(if create_at.is_some() { &self.writer } else { &self.reader })
            .await?;
        row.as_ref().map(group_of).transpose()
    }

    pub(crate) async fn face_groups_impl(
        &self,
        merchant_id: &str,
        code: Option<&str>,
        name: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<FaceGroup>, i64)> {
        check_page(offset, limit)?;
        let filter = "merchant_id = ? AND (? IS NULL OR code = ?) AND (? IS NULL OR name = ?)";
        let total: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM face_groups WHERE {filter}")))
                .bind(merchant_id)
                .bind(code)
                .bind(code)
                .bind(name)
                .bind(name)
                .fetch_one(&self.reader)
                .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM face_groups WHERE {filter} ORDER BY id LIMIT ? OFFSET ?"
        )))
        .bind(merchant_id)
        .bind(code)
        .bind(code)
        .bind(name)
        .bind(name)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.reader)
        .await?;
        Ok((rows.iter().map(group_of).collect::<Result<_>>()?, total))
    }

    pub(crate) async fn modify_face_group_impl(
        &self,
        merchant_id: &str,
        id: i64,
        name: &str,
        description: Option<&str>,
    ) -> Result<bool> {
        check_text("a face group name", name)?;
        if let Some(d) = description
            && d.len() > MAX_FACE_TEXT
        {
            return Err(StoreError::InvalidInput(format!("a description is at most {MAX_FACE_TEXT} bytes")));
        }
        let r = sqlx::query(
            "UPDATE face_groups SET name = ?, description = coalesce(?, description) WHERE id = ? AND merchant_id = ?",
        )
        .bind(name)
        .bind(description)
        .bind(id)
        .bind(merchant_id)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub(crate) async fn delete_face_group_impl(&self, merchant_id: &str, id: i64) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM face_records WHERE group_id = ? AND merchant_id = ?")
            .bind(id)
            .bind(merchant_id)
            .execute(&mut *tx)
            .await?;
        let r = sqlx::query("DELETE FROM face_groups WHERE id = ? AND merchant_id = ?")
            .bind(id)
            .bind(merchant_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.checkpoint().await?;
        Ok(r.rows_affected() == 1)
    }

    pub(crate) async fn add_face_record_impl(&self, n: NewFaceRecord<'_>) -> Result<AddFace> {
        check_text("a merchant user id", n.merchant_user_id)?;
        if n.embedding.len() != FACE_EMBEDDING_DIM || n.embedding.iter().any(|v| !v.is_finite()) {
            return Err(StoreError::InvalidInput(format!("an embedding is {FACE_EMBEDDING_DIM} finite floats")));
        }
        if !matches!(n.registration_type, "MANUAL" | "AUTO") {
            return Err(StoreError::InvalidInput("registration type is MANUAL or AUTO".into()));
        }
        let Some(group) = self.face_group_impl(n.merchant_id, n.group_code, Some(n.now)).await? else {
            return Err(StoreError::NotFound(format!("face group {}", n.group_code)));
        };
        let face_id = idv_crypto::random_hex(16);
        let dek = Key::random();
        let (epoch, epoch_key) = self.epochs.for_deadline(n.retain_until)?;
        let bytes: Vec<u8> = n.embedding.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut tx = self.writer.begin().await?;
        let existing = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RECORD_COLUMNS} FROM face_records f JOIN face_groups g ON g.id = f.group_id \
             WHERE f.group_id = ? AND f.merchant_user_id = ?"
        )))
        .bind(group.id)
        .bind(n.merchant_user_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = existing {
            let old = record_of(&row)?;
            if !n.replace {
                return Ok(AddFace::UserExists(old));
            }
            sqlx::query("DELETE FROM face_records WHERE id = ?").bind(old.id).execute(&mut *tx).await?;
        }
        sqlx::query("UPDATE face_groups SET version = version + 1 WHERE id = ?")
            .bind(group.id)
            .execute(&mut *tx)
            .await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO face_records (merchant_id, group_id, face_id, merchant_user_id, registration_type, \
             dek_wrapped, key_epoch, embedding_sealed, created_at, retain_until) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(n.merchant_id)
        .bind(group.id)
        .bind(&face_id)
        .bind(n.merchant_user_id)
        .bind(n.registration_type)
        .bind(epoch_key.seal(dek.as_bytes(), &dek_context(&face_id, n.merchant_id)))
        .bind(&epoch)
        .bind(dek.seal(&bytes, &embedding_context(&face_id)))
        .bind(n.now)
        .bind(n.retain_until)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(AddFace::Added(FaceRecord {
            id,
            group_id: group.id,
            group_code: group.code,
            face_id,
            merchant_user_id: n.merchant_user_id.to_owned(),
            registration_type: n.registration_type.to_owned(),
            created_at: n.now,
            retain_until: n.retain_until,
        }))
    }

    pub(crate) async fn face_records_impl(
        &self,
        merchant_id: &str,
        group_id: i64,
        f: &FaceRecordFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<FaceRecord>, i64)> {
        check_page(offset, limit)?;
        let filter = "f.merchant_id = ? AND f.group_id = ? AND (? IS NULL OR f.face_id = ?) \
             AND (? IS NULL OR f.merchant_user_id = ?) AND (? IS NULL OR f.registration_type = ?)";
        let from = "face_records f JOIN face_groups g ON g.id = f.group_id";
        macro_rules! binds {
            ($q:expr) => {
                $q.bind(merchant_id)
                    .bind(group_id)
                    .bind(&f.face_id)
                    .bind(&f.face_id)
                    .bind(&f.merchant_user_id)
                    .bind(&f.merchant_user_id)
                    .bind(&f.registration_type)
                    .bind(&f.registration_type)
            };
        }
        let total: i64 =
            binds!(sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {from} WHERE {filter}"))))
                .fetch_one(&self.reader)
                .await?;
        let rows = binds!(sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RECORD_COLUMNS} FROM {from} WHERE {filter} ORDER BY f.id LIMIT ? OFFSET ?"
        ))))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.reader)
        .await?;
        Ok((rows.iter().map(record_of).collect::<Result<_>>()?, total))
    }

    pub(crate) async fn face_embeddings_impl(
        &self,
        merchant_id: &str,
        group_id: i64,
    ) -> Result<Vec<(FaceRecord, Vec<f32>)>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RECORD_COLUMNS}, f.dek_wrapped, f.key_epoch, f.embedding_sealed \
             FROM face_records f JOIN face_groups g ON g.id = f.group_id WHERE f.merchant_id = ? AND f.group_id = ?"
        )))
        .bind(merchant_id)
        .bind(group_id)
        .fetch_all(&self.reader)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let rec = record_of(r)?;
            let wrapped: Vec<u8> = r.try_get("dek_wrapped")?;
            let epoch: Option<String> = r.try_get("key_epoch")?;
            // A destroyed epoch means the face was shredded: it no longer exists for the search.
            let Some(dek) = self.unwrap_dek(&rec.face_id, merchant_id, &wrapped, epoch.as_deref())? else { continue };
            let sealed: Vec<u8> = r.try_get("embedding_sealed")?;
            let bytes = dek.open(&sealed, &embedding_context(&rec.face_id))?;
            let v: Vec<f32> = bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            out.push((rec, v));
        }
        Ok(out)
    }

    async fn delete_records_where(&self, clause: &str, binds: &[&str]) -> Result<Vec<FaceRecord>> {
        let mut tx = self.writer.begin().await?;
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RECORD_COLUMNS} FROM face_records f JOIN face_groups g ON g.id = f.group_id WHERE {clause}"
        )));
        for b in binds {
            q = q.bind(*b);
        }
        let gone: Vec<FaceRecord> = q.fetch_all(&mut *tx).await?.iter().map(record_of).collect::<Result<_>>()?;
        for r in &gone {
            sqlx::query("DELETE FROM face_records WHERE id = ?").bind(r.id).execute(&mut *tx).await?;
            sqlx::query("UPDATE face_groups SET version = version + 1 WHERE id = ?")
                .bind(r.group_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        if !gone.is_empty() {
            self.checkpoint().await?;
        }
        Ok(gone)
    }

    pub(crate) async fn delete_face_record_impl(&self, merchant_id: &str, id: i64) -> Result<Option<FaceRecord>> {
        let id = id.to_string();
        Ok(self.delete_records_where("f.merchant_id = ? AND f.id = ?", &[merchant_id, &id]).await?.pop())
    }

    pub(crate) async fn delete_user_faces_impl(
        &self,
        merchant_id: &str,
        group_code: Option<&str>,
        merchant_user_id: &str,
    ) -> Result<Vec<FaceRecord>> {
        match group_code {
            Some(code) => {
                self.delete_records_where(
                    "f.merchant_id = ? AND g.code = ? AND f.merchant_user_id = ?",
                    &[merchant_id, code, merchant_user_id],
                )
                .await
            }
            None => {
                self.delete_records_where(
                    "f.merchant_id = ? AND f.merchant_user_id = ?",
                    &[merchant_id, merchant_user_id],
                )
                .await
            }
        }
    }

    pub(crate) async fn delete_expired_faces_impl(&self, now: i64, limit: i64) -> Result<Vec<FaceRecord>> {
        let (now, limit) = (now.to_string(), limit.clamp(1, MAX_FACE_PAGE).to_string());
        self.delete_records_where(
            "f.id IN (SELECT id FROM face_records WHERE retain_until <= CAST(? AS INTEGER) ORDER BY retain_until \
             LIMIT CAST(? AS INTEGER))",
            &[&now, &limit],
        )
        .await
    }
}
