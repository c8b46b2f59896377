//! The 1:N search indexes of the merchants' face libraries, in memory. The store holds the sealed embeddings; a
//! group's index is built from them on its first search and kept current as faces are added and deleted (every
//! change goes through this server's handlers, which update the store first and the index second, under one lock,
//! so a search never sees a face the store does not hold for longer than the handler takes).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use idv_face::index::{ExactIndex, FaceIndex, Hit};
use idv_store::{FaceGroup, FaceRecord};

use crate::AppState;
use crate::error::ServerError;

/// A registered face as the search reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Face {
    pub face_id: String,
    pub merchant_user_id: String,
    pub group_code: String,
}

#[derive(Default)]
pub(crate) struct GroupIndex {
    index: ExactIndex,
    faces: HashMap<u64, Face>,
}

impl GroupIndex {
    pub(crate) fn search(&self, probe: &[f32], k: usize, min_cosine: f32) -> Vec<(Hit, Face)> {
        self.index
            .search(probe, k, min_cosine)
            .into_iter()
            .filter_map(|h| self.faces.get(&h.id).map(|f| (h, f.clone())))
            .collect()
    }

    fn add(&mut self, r: &FaceRecord, embedding: &[f32]) {
        // One face per user and group: a replaced face (deleted by the store) leaves the index too.
        let old: Vec<u64> =
            self.faces.iter().filter(|(_, f)| f.merchant_user_id == r.merchant_user_id).map(|(&id, _)| id).collect();
        for id in old {
            self.remove(id as i64);
        }
        let id = r.id as u64;
        if self.index.insert(id, embedding) {
            self.faces.insert(
                id,
                Face {
                    face_id: r.face_id.clone(),
                    merchant_user_id: r.merchant_user_id.clone(),
                    group_code: r.group_code.clone(),
                },
            );
        }
    }

    fn remove(&mut self, id: i64) {
        self.index.remove(id as u64);
        self.faces.remove(&(id as u64));
    }
}

/// A group's index and the group version (`Store::face_group_state`) it holds the faces of.
struct Entry {
    ix: Arc<RwLock<GroupIndex>>,
    version: i64,
}

#[derive(Default)]
pub(crate) struct Libraries {
    groups: tokio::sync::Mutex<HashMap<i64, Entry>>,
}

fn poisoned() -> ServerError {
    ServerError::internal("a face index lock was poisoned by a panic")
}

impl Libraries {
    /// The group's index, built from the store on first use and rebuilt when the group's version shows a change
    /// this instance did not make (another instance on the same database added or deleted a face).
    pub(crate) async fn index(
        &self,
        state: &AppState,
        group: &FaceGroup,
    ) -> Result<Arc<RwLock<GroupIndex>>, ServerError> {
        let mut groups = self.groups.lock().await;
        // The version is read before the faces: a change between the two reads leaves the index at an older
        // version than its faces, and the next search rebuilds again, which is wasted work but never a miss.
        let Some(version) = state.store.face_group_state(&group.merchant_id, group.id).await? else {
            groups.remove(&group.id);
            return Ok(Arc::new(RwLock::new(GroupIndex::default())));
        };
        if let Some(e) = groups.get(&group.id)
            && e.version == version
        {
            return Ok(e.ix.clone());
        }
        let mut ix = GroupIndex::default();
        for (r, e) in state.store.face_embeddings(&group.merchant_id, group.id).await? {
            ix.add(&r, &e);
        }
        let ix = Arc::new(RwLock::new(ix));
        groups.insert(group.id, Entry { ix: ix.clone(), version });
        Ok(ix)
    }

    /// After the store registered `r` (replacing the user's earlier face in the group, if any).
    pub(crate) async fn added(
        &self,
        state: &AppState,
        merchant_id: &str,
        r: &FaceRecord,
        embedding: &[f32],
    ) -> Result<(), ServerError> {
        let mut groups = self.groups.lock().await;
        if let Some(e) = groups.get_mut(&r.group_id) {
            e.ix.write().map_err(|_| poisoned())?.add(r, embedding);
            self.advance(state, merchant_id, r.group_id, e, 1).await?;
        }
        Ok(())
    }

    /// After the store deleted these faces of `merchant_id`.
    pub(crate) async fn removed(
        &self,
        state: &AppState,
        merchant_id: &str,
        gone: &[FaceRecord],
    ) -> Result<(), ServerError> {
        let mut groups = self.groups.lock().await;
        let mut per_group: HashMap<i64, i64> = HashMap::new();
        for r in gone {
            if let Some(e) = groups.get(&r.group_id) {
                e.ix.write().map_err(|_| poisoned())?.remove(r.id);
                *per_group.entry(r.group_id).or_default() += 1;
            }
        }
        for (group_id, n) in per_group {
            if let Some(e) = groups.get_mut(&group_id) {
                self.advance(state, merchant_id, group_id, e, n).await?;
            }
        }
        Ok(())
    }

    /// The index now holds this instance's `n` changes: it is current at the new version only if those were
    /// the only changes since it was built. Otherwise its version stays, and the next search rebuilds it.
    async fn advance(
        &self,
        state: &AppState,
        merchant_id: &str,
        group_id: i64,
        e: &mut Entry,
        n: i64,
    ) -> Result<(), ServerError> {
        if state.store.face_group_state(merchant_id, group_id).await? == Some(e.version + n) {
            e.version += n;
        }
        Ok(())
    }

    /// After the store deleted the whole group.
    pub(crate) async fn forget(&self, group_id: i64) {
        self.groups.lock().await.remove(&group_id);
    }
}

/// The faces of the named groups of `merchant_id` that match `embedding` at `threshold` (FaceComparisonScore),
/// best first, at most 20 per group. An unknown group holds no one (a search does not create it).
pub(crate) async fn search(
    state: &AppState,
    merchant_id: &str,
    groups: &[String],
    embedding: &[f32],
    threshold: f32,
) -> Result<Vec<idv_api::face_library::DuplicateFace>, ServerError> {
    let decision_cosine = state.engines.face().config().decision_cosine;
    let mut found = Vec::new();
    for code in groups {
        let Some(group) = state.store.face_group(merchant_id, code, None).await? else { continue };
        let ix = state.face_libraries.index(state, &group).await?;
        let hits = ix.read().map_err(|_| poisoned())?.search(embedding, 20, 0.0);
        for (hit, face) in hits {
            let score = (idv_face::comparison_score(hit.cosine, decision_cosine) * 100.0).round() / 100.0;
            if score >= threshold {
                found.push(idv_api::face_library::DuplicateFace {
                    face_group_code: face.group_code,
                    face_id: face.face_id,
                    merchant_user_id: face.merchant_user_id,
                    score,
                });
            }
        }
    }
    found.sort_by(|x, y| y.score.total_cmp(&x.score));
    Ok(found)
}

/// Registers `embedding` for `user` in `group_code` (created on first use) and keeps the index current;
/// `Ok(None)`: the user already has a face there and `replace` is off. `actor` goes to the audit log.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn register(
    state: &AppState,
    merchant_id: &str,
    actor: &str,
    group_code: &str,
    user: &str,
    registration_type: &str,
    embedding: &[f32],
    replace: bool,
) -> Result<Option<FaceRecord>, ServerError> {
    let now = state.now();
    let added = state
        .store
        .add_face_record(idv_store::NewFaceRecord {
            merchant_id,
            group_code,
            merchant_user_id: user,
            registration_type,
            embedding,
            replace,
            now,
            retain_until: now + state.config.face_retention.as_secs() as i64,
        })
        .await?;
    match added {
        idv_store::AddFace::UserExists(_) => Ok(None),
        idv_store::AddFace::Added(r) => {
            state.face_libraries.added(state, merchant_id, &r, embedding).await?;
            let detail = serde_json::json!({"kind": "face.registered", "group": group_code, "type": registration_type});
            crate::audit::audit(state, actor, "face.registered", Some(&r.face_id), Some(merchant_id), detail).await;
            Ok(Some(r))
        }
    }
}
